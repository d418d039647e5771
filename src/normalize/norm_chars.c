/*
 * norm_chars.c - character tables of the normalizer: scripts, marks that are
 * always stripped, NFC "composes as second" lookup, homoglyph and leetspeak
 * maps. Tables are small on purpose: each entry is a decision a reviewer can
 * check (docs/internals/normalize.md explains every group).
 */
#include <pthread.h>
#include <string.h>

#include <utf8proc.h>

#include "normalize/normalize_int.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

typedef struct range {
    uint32_t lo, hi;
} range;

static int in_ranges(uint32_t cp, const range *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi) return 1;
    return 0;
}

static const range latin_ranges[] = {
    {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00AA, 0x00AA}, {0x00BA, 0x00BA},
    {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x02AF}, {0x1D00, 0x1DBF},
    {0x1E00, 0x1EFF}, {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C},
    {0x2C60, 0x2C7F}, {0xA720, 0xA7FF}, {0xAB30, 0xAB6F}, {0xFF21, 0xFF3A},
    {0xFF41, 0xFF5A},
};
static const range greek_ranges[] = {{0x0370, 0x03FF}, {0x1F00, 0x1FFF}};
static const range cyrillic_ranges[] = {
    {0x0400, 0x052F}, {0x1C80, 0x1C8F}, {0x2DE0, 0x2DFF}, {0xA640, 0xA69F}};
static const range arabic_ranges[] = {
    {0x0600, 0x06FF}, {0x0750, 0x077F}, {0x08A0, 0x08FF}, {0xFB50, 0xFDFF}, {0xFE70, 0xFEFF}};

int mhgi_norm_script(uint32_t cp) {
    if (cp < 0x80) {
        return ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') ? MHGI_S_LATIN : MHGI_S_NONE;
    }
    /* Hot path first: the blocks chat text lives in, by comparison only. */
    if (cp < 0x0300) return in_ranges(cp, latin_ranges, 7) ? MHGI_S_LATIN : MHGI_S_NONE;
    if (cp < 0x0370) return MHGI_S_NONE; /* generic combining marks: the base's script */
    if (cp < 0x0400) return MHGI_S_GREEK;
    if (cp < 0x0530) return MHGI_S_CYRILLIC;
    if (cp < 0x0600) return MHGI_S_OTHER; /* Armenian, Hebrew */
    if (cp < 0x0900) {
        return (cp < 0x0700 || (cp >= 0x0750 && cp < 0x0780) || cp >= 0x08A0) ? MHGI_S_ARABIC
                                                                            : MHGI_S_OTHER;
    }
    if (cp < 0x1C80) return MHGI_S_OTHER; /* Indic, Thai, Georgian, Hangul jamo... */
    if (cp >= 0x3000 && cp < 0xA640) return MHGI_S_OTHER; /* CJK, kana, Hangul */
    if (cp >= 0xAC00 && cp < 0xD800) return MHGI_S_OTHER; /* Hangul syllables */
    if (in_ranges(cp, cyrillic_ranges, NELEM(cyrillic_ranges))) return MHGI_S_CYRILLIC;
    if (in_ranges(cp, greek_ranges, NELEM(greek_ranges))) return MHGI_S_GREEK;
    if (in_ranges(cp, latin_ranges, NELEM(latin_ranges))) return MHGI_S_LATIN;
    if (in_ranges(cp, arabic_ranges, NELEM(arabic_ranges))) return MHGI_S_ARABIC;
    return MHGI_S_OTHER;
}

static const range always_stripped_marks[] = {
    /* Generic combining diacritics: accents on Latin/Greek/Cyrillic letters
     * (stripped by the base rule anyway) and the stacks of "Zalgo" text,
     * which can sit on any base, including spaces and punctuation. */
    {0x0300, 0x036F},
    {0x1AB0, 0x1AFF},
    {0x1DC0, 0x1DFF},
    {0x20D0, 0x20FF},
    {0xFE20, 0xFE2F},
    /* Arabic harakat and Quranic annotation marks: optional vowel signs that
     * chat users rarely type and lexicon authors do not write, so keeping
     * them would only make the same word match or not at random. The hamza
     * and madda marks U+0653..0655 are NOT here: they compose into letters
     * (alef + hamza above = U+0623) and are part of the spelling. */
    {0x064B, 0x0652},
    {0x0656, 0x065F},
    {0x0670, 0x0670},
    {0x06D6, 0x06DC},
    {0x06DF, 0x06E4},
    {0x06E7, 0x06E8},
    {0x06EA, 0x06ED},
    {0x08D3, 0x08E1},
    {0x08E3, 0x08FF},
};

int mhgi_norm_mark_always_stripped(uint32_t cp) {
    if (cp < 0x0300) return 0;
    if (cp <= 0x036F) return 1;
    if (cp < 0x064B || (cp > 0x08FF && cp < 0x1AB0)) return 0; /* Indic, Thai... */
    return in_ranges(cp, always_stripped_marks, NELEM(always_stripped_marks));
}

/* Code points below 0x20000 that appear after the first position of some
 * canonical decomposition. Computed once from the linked utf8proc so it can
 * never disagree with the composition it guards. */
#define SECOND_LIMIT 0x20000u
static uint8_t second_bits[SECOND_LIMIT / 8];
static pthread_once_t second_once = PTHREAD_ONCE_INIT;

static void build_second_bits(void) {
    utf8proc_int32_t buf[16];
    int bc = 0;
    for (uint32_t cp = 0x80; cp < SECOND_LIMIT; cp++) {
        if (cp >= 0xAC00 && cp <= 0xD7A3) continue; /* Hangul: handled apart */
        if (cp >= 0xD800 && cp <= 0xDFFF) continue;
        const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
        if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0) continue;
        utf8proc_ssize_t n =
            utf8proc_decompose_char((utf8proc_int32_t)cp, buf, 16, UTF8PROC_DECOMPOSE, &bc);
        if (n < 2 || n > 16) continue;
        for (utf8proc_ssize_t k = 1; k < n; k++) {
            uint32_t c = (uint32_t)buf[k];
            if (c < SECOND_LIMIT) second_bits[c >> 3] |= (uint8_t)(1u << (c & 7));
        }
    }
}

int mhgi_norm_composes_second(uint32_t cp) {
    if (mhgi_norm_hangul_vt(cp)) return 1;
    if (cp >= SECOND_LIMIT) return 1; /* rare: let utf8proc decide */
    pthread_once(&second_once, build_second_bits);
    return (second_bits[cp >> 3] >> (cp & 7)) & 1;
}

/*
 * Homoglyphs. Input is already case folded, so the tables also list letters
 * that only look alike in upper case (Cyrillic В Н М Т К): "КILL" typed with
 * a Cyrillic К arrives here as "кill".
 */
uint32_t mhgi_norm_cyrillic_to_latin(uint32_t cp) {
    switch (cp) {
    case 0x0430: return 'a'; /* а */
    case 0x0432: return 'b'; /* в (upper case В) */
    case 0x0435: return 'e'; /* е */
    case 0x0456: return 'i'; /* і */
    case 0x0458: return 'j'; /* ј */
    case 0x043A: return 'k'; /* к */
    case 0x043C: return 'm'; /* м (upper case М) */
    case 0x043D: return 'h'; /* н (upper case Н) */
    case 0x043E: return 'o'; /* о */
    case 0x0440: return 'p'; /* р */
    case 0x0441: return 'c'; /* с */
    case 0x0442: return 't'; /* т (upper case Т) */
    case 0x0443: return 'y'; /* у */
    case 0x0445: return 'x'; /* х */
    case 0x0455: return 's'; /* ѕ */
    case 0x04AF: return 'y'; /* ү */
    case 0x04BB: return 'h'; /* һ */
    case 0x04CF: return 'l'; /* ӏ */
    case 0x0501: return 'd'; /* ԁ */
    case 0x051B: return 'q'; /* ԛ */
    case 0x051D: return 'w'; /* ԝ */
    default: return 0;
    }
}

uint32_t mhgi_norm_greek_to_latin(uint32_t cp) {
    switch (cp) {
    case 0x03B1: return 'a'; /* α */
    case 0x03B2: return 'b'; /* β */
    case 0x03B3: return 'y'; /* γ */
    case 0x03B5: return 'e'; /* ε */
    case 0x03B7: return 'n'; /* η */
    case 0x03B9: return 'i'; /* ι */
    case 0x03BA: return 'k'; /* κ */
    case 0x03BD: return 'v'; /* ν */
    case 0x03BF: return 'o'; /* ο */
    case 0x03C1: return 'p'; /* ρ */
    case 0x03C4: return 't'; /* τ */
    case 0x03C5: return 'u'; /* υ */
    case 0x03C7: return 'x'; /* χ */
    case 0x03C9: return 'w'; /* ω */
    case 0x03F2: return 'c'; /* ϲ lunate sigma */
    case 0x03F3: return 'j'; /* ϳ */
    default: return 0;
    }
}

/* Latin letters a Russian typist mixes in (keyboard layout slips, or evasion:
 * "cмерть" with a Latin c). Only letters that look like the Cyrillic one. */
uint32_t mhgi_norm_latin_to_cyrillic(uint32_t cp) {
    switch (cp) {
    case 'a': return 0x0430;
    case 'b': return 0x0432;
    case 'c': return 0x0441;
    case 'e': return 0x0435;
    case 'h': return 0x043D;
    case 'k': return 0x043A;
    case 'm': return 0x043C;
    case 'o': return 0x043E;
    case 'p': return 0x0440;
    case 't': return 0x0442;
    case 'x': return 0x0445;
    case 'y': return 0x0443;
    default: return 0;
    }
}

uint32_t mhgi_norm_leet_latin(uint32_t c) {
    switch (c) {
    case '0': return 'o';
    case '1': return 'i';
    case '3': return 'e';
    case '4': return 'a';
    case '5': return 's';
    case '7': return 't';
    case '8': return 'b';
    case '@': return 'a';
    case '$': return 's';
    case '!': return 'i';
    case '|': return 'l';
    default: return 0;
    }
}

/* Russian "leet" is mostly digits shaped like letters: 0=о 3=з 4=ч 6=б. */
uint32_t mhgi_norm_leet_cyrillic(uint32_t c) {
    switch (c) {
    case '0': return 0x043E;
    case '3': return 0x0437;
    case '4': return 0x0447;
    case '6': return 0x0431;
    case '@': return 0x0430;
    default: return 0;
    }
}
