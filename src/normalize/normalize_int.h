/*
 * normalize_int.h - internals of the normalize module (never installed).
 *
 * The normalizer works on an array of "units": one Unicode code point each,
 * carrying the byte span [s, e) of the caller's original text it came from.
 * Every pass (marks, joining, homoglyphs, leetspeak) rewrites or removes
 * units in place, so spans survive every transformation and the final
 * encoder can write the per-byte offset map. See docs/internals/normalize.md.
 */
#ifndef MHG_NORMALIZE_INT_H
#define MHG_NORMALIZE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mhguard/normalize.h"

/* Unit classes. */
enum {
    MHGI_C_SPACE = 0, /* any whitespace; becomes one ASCII space */
    MHGI_C_LETTER,    /* Unicode L* (and leet-mapped characters) */
    MHGI_C_MARK,      /* Unicode M* that survived mark stripping */
    MHGI_C_DIGIT,     /* Unicode Nd */
    MHGI_C_OTHER      /* punctuation, symbols, emoji, anything else */
};

/* Scripts that the homoglyph and leetspeak passes care about. */
enum {
    MHGI_S_NONE = 0,
    MHGI_S_LATIN,
    MHGI_S_GREEK,
    MHGI_S_CYRILLIC,
    MHGI_S_ARABIC,
    MHGI_S_OTHER
};

typedef struct mhgi_unit {
    uint32_t cp;     /* code point after folding */
    uint32_t s, e;   /* source byte span in the caller's text */
    uint8_t cls;     /* MHGI_C_* */
    uint8_t script;  /* MHGI_S_* (letters and marks) */
    uint8_t ccc;     /* canonical combining class */
    uint8_t flags;   /* pass-local scratch bits */
} mhgi_unit;

/* What the decoder saw, so passes with nothing to do are skipped. */
enum {
    MHGI_SEEN_MARK = 1u << 0,    /* a mark or a Hangul V/T jamo */
    MHGI_SEEN_CYRGRK = 1u << 1,  /* a Cyrillic or Greek letter */
    MHGI_SEEN_LEET = 1u << 2,    /* an ASCII digit or @ $ ! | */
    MHGI_SEEN_LATIN = 1u << 3,   /* a Latin letter */
    MHGI_SEEN_NONASCII = 1u << 4 /* non-ASCII (or control) input: run every pass */
};

struct mhg_norm_work {
    mhgi_unit *u;
    size_t n, cap;
    unsigned seen;
    size_t isolated; /* ASCII one-character elements (joining candidates) */
};

/* ---- norm_chars.c: character tables ---------------------------------- */

/* Script of a (folded) letter or mark. */
int mhgi_norm_script(uint32_t cp);

/* Combining marks stripped whatever their base: the generic diacritic blocks
 * (U+0300..036F and friends, which also carry "Zalgo" text) and Arabic
 * harakat (optional vowel signs; see docs/internals/normalize.md). */
int mhgi_norm_mark_always_stripped(uint32_t cp);

/* Nonzero when cp can be the second element of a canonical composition, so a
 * sequence containing it must go through NFC composition. Thread-safe. */
int mhgi_norm_composes_second(uint32_t cp);

/* Hangul conjoining vowel or trailing consonant (composes with the previous
 * jamo although its combining class is 0). */
static inline int mhgi_norm_hangul_vt(uint32_t cp) {
    return (cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2);
}

/* Homoglyph tables (folded, lower-case). 0 when cp has no look-alike. */
uint32_t mhgi_norm_cyrillic_to_latin(uint32_t cp);
uint32_t mhgi_norm_greek_to_latin(uint32_t cp);
uint32_t mhgi_norm_latin_to_cyrillic(uint32_t cp);

/* Leetspeak tables: the letter an ASCII digit or symbol stands for inside a
 * word of the given script, or 0. */
uint32_t mhgi_norm_leet_latin(uint32_t c);
uint32_t mhgi_norm_leet_cyrillic(uint32_t c);

/* ---- normalize.c ------------------------------------------------------ */

/* Recompute cls/script/ccc of a unit whose cp was rewritten. */
void mhgi_norm_set_class(mhgi_unit *x);

/* ---- norm_passes.c: the word-level passes ----------------------------- */

/* Marks: strip marks on Latin/Greek/Cyrillic bases and the always-stripped
 * ones (extending the base's span over them), canonically order and NFC-
 * compose what is kept. Returns MHG_OK or MHG_ERR_INTERNAL. */
mhg_status mhgi_norm_marks(struct mhg_norm_work *w);

/* Text mode: join runs of 3+ single letters ("k i l l", "k.i.l.l").
 * Returns nonzero when something was joined. */
int mhgi_norm_join(struct mhg_norm_work *w);

/* Both modes: homoglyph folding inside mixed-script words. */
void mhgi_norm_homoglyphs(struct mhg_norm_work *w);

/* Both modes: leetspeak inside tokens that mix letters with digits/symbols. */
void mhgi_norm_leet(struct mhg_norm_work *w);

/* Unit helpers shared by the passes. */
static inline int mhgi_is_leet_symbol(uint32_t cp) {
    return cp == '@' || cp == '$' || cp == '!' || cp == '|';
}
static inline int mhgi_unit_wordish(const mhgi_unit *u) {
    return u->cls == MHGI_C_LETTER || u->cls == MHGI_C_MARK || u->cls == MHGI_C_DIGIT ||
           (u->cls == MHGI_C_OTHER && mhgi_is_leet_symbol(u->cp));
}

#endif
