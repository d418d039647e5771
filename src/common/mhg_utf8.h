/*
 * mhg_utf8.h - decode one code point of text already known to be valid
 * UTF-8 (normalized text, or input that passed mhg_utf8_valid), and encode
 * one. Internal.
 */
#ifndef MHG_UTF8_H
#define MHG_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The code point starting at s[i]; *n gets its length in bytes. A sequence
 * cut short by len decodes as U+FFFD with length 1, so callers always advance.
 * This function can't fail. */
static inline uint32_t mhgi_utf8_decode(const unsigned char *s, size_t len, size_t i,
                                        size_t *n) {
    unsigned char c = s[i];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    size_t k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    if (i + k >= len) {
        *n = 1;
        return 0xFFFD;
    }
    uint32_t cp = c & (k == 3 ? 0x07 : k == 2 ? 0x0F : 0x1F);
    for (size_t j = 1; j <= k; j++) cp = (cp << 6) | (s[i + j] & 0x3F);
    *n = k + 1;
    return cp;
}

/* Write cp (at most U+10FFFF, not a surrogate) as UTF-8 at o, which must have
 * room for 4 bytes; returns the bytes written. This function can't fail. */
static inline size_t mhgi_utf8_encode(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

#endif
