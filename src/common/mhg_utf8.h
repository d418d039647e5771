/*
 * mhg_utf8.h - decode one code point of text already known to be valid
 * UTF-8 (normalized text, or input that passed mhg_utf8_valid). Internal.
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

#endif
