/*
 * normalize.c - the public entry points, the UTF-8 decoder with per-code-
 * point folding (NFKC + case folding through utf8proc, with an ASCII fast
 * path), and the encoder that writes the normalized text and its offset map.
 *
 * Pipeline (docs/internals/normalize.md has the reasons):
 *   decode+fold -> marks (strip / NFC compose) -> [text] join spaced letters
 *   -> homoglyphs -> leetspeak -> encode (apostrophes, hyphens, letter runs,
 *   whitespace).
 */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "common/mhg_limits.h"
#include "normalize/normalize_int.h"
#include "common/mhg_utf8.h"

/* ---- buffers ------------------------------------------------------------ */

void mhg_normalized_init(mhg_normalized *n) {
    if (!n) return;
    memset(n, 0, sizeof *n);
}

void mhg_normalized_free(mhg_normalized *n) {
    if (!n) return;
    if (n->text) {
        mhg_memzero(n->text, n->cap);
        free(n->text);
    }
    free(n->src_start);
    free(n->src_end);
    if (n->work) {
        /* Units hold the message's code points: wipe them like the text. */
        if (n->work->u) mhg_memzero(n->work->u, n->work->cap * sizeof *n->work->u);
        free(n->work->u);
        free(n->work);
    }
    memset(n, 0, sizeof *n);
}

/* Grow the output arrays to hold at least need bytes (+ NUL). */
static mhg_status out_reserve(mhg_normalized *n, size_t need) {
    if (need + 1 <= n->cap && n->text) return MHG_OK;
    size_t cap = n->cap ? n->cap : 64;
    while (cap < need + 1) cap *= 2;
    char *t = malloc(cap);
    uint32_t *ss = malloc(cap * sizeof *ss);
    uint32_t *se = malloc(cap * sizeof *se);
    if (!t || !ss || !se) {
        free(t);
        free(ss);
        free(se);
        return MHG_ERR_NOMEM;
    }
    if (n->text) {
        mhg_memzero(n->text, n->cap);
        free(n->text);
    }
    free(n->src_start);
    free(n->src_end);
    n->text = t;
    n->src_start = ss;
    n->src_end = se;
    n->cap = cap;
    n->text[0] = '\0';
    return MHG_OK;
}

static mhg_status work_reserve(struct mhg_norm_work *w, size_t need) {
    if (need <= w->cap) return MHG_OK;
    size_t cap = w->cap ? w->cap : 64;
    while (cap < need) cap *= 2;
    mhgi_unit *u = malloc(cap * sizeof *u);
    if (!u) return MHG_ERR_NOMEM;
    if (w->u) {
        memcpy(u, w->u, w->n * sizeof *u);
        mhg_memzero(w->u, w->cap * sizeof *w->u);
        free(w->u);
    }
    w->u = u;
    w->cap = cap;
    return MHG_OK;
}

/* ---- classification ----------------------------------------------------- */

/* ASCII: class of each byte. A_DROP: control characters (removed). */
enum { A_DROP = 0xFF };
#define X A_DROP
#define S MHGI_C_SPACE
#define L MHGI_C_LETTER
#define D MHGI_C_DIGIT
#define O MHGI_C_OTHER
static const uint8_t ascii_cls[128] = {
    X, X, X, X, X, X, X, X, X, S, S, S, S, S, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, S, S, S, S,
    S, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O,
    D, D, D, D, D, D, D, D, D, D, O, O, O, O, O, O,
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O,
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, X,
};
#undef X
#undef S
#undef L
#undef D
#undef O

static inline uint8_t ascii_class(unsigned c) { return ascii_cls[c & 0x7F]; }

/* Word shape of ASCII bytes, for the cheap "is there anything to join or
 * any leetspeak" checks of the ASCII path. */
enum { AF_LETTER = 1, AF_DIGIT = 2, AF_SYM = 4 /* @ $ | */, AF_BANG = 8 };
static const uint8_t ascii_af[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 8, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0,
    4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 4, 0, 0, 0,
};

/* Running state of those checks over the ASCII bytes. */
typedef struct shape {
    unsigned alnum_run; /* length of the current run of letters/digits */
    unsigned mask;      /* AF_* seen in the current run of word characters */
    unsigned bang;      /* previous byte was '!' inside that run */
    unsigned leet;      /* some word mixes letters with digits/symbols */
    size_t isolated;    /* one-character elements seen (joining candidates) */
} shape;

static inline void shape_end_word(shape *sh) {
    /* letters mixed with digits or @ $ |: "k1ll", "$uicide" (not "2024") */
    if ((sh->mask & AF_LETTER) && (sh->mask & (AF_DIGIT | AF_SYM))) sh->leet = 1;
    sh->mask = 0;
    sh->bang = 0;
}

static inline void shape_end_alnum(shape *sh) {
    if (sh->alnum_run == 1) sh->isolated++; /* a one-character word: "k i l l" */
    sh->alnum_run = 0;
}

static inline void shape_byte(shape *sh, unsigned c) {
    unsigned f = ascii_af[c];
    if (f & (AF_LETTER | AF_DIGIT)) {
        sh->alnum_run++;
    } else {
        shape_end_alnum(sh);
        if (c == '@' || c == '$') sh->isolated++; /* may be an element: "$ u i" */
    }
    if (f) {
        if ((f & AF_LETTER) && sh->bang) sh->leet = 1; /* "k!ll" */
        sh->bang = f & AF_BANG;
        sh->mask |= f;
    } else {
        shape_end_word(sh);
    }
}

static inline void shape_finish(shape *sh) {
    shape_end_alnum(sh);
    shape_end_word(sh);
}

/* Code points replaced before utf8proc sees them (or after it produced them):
 * typographic quotes and dashes become ASCII, exotic spaces become spaces. */
enum { SP_NONE = 0, SP_DROP = 1, SP_SPACE = 2 };
static uint32_t special_map(uint32_t cp) {
    if (cp < 0xA0) {
        if (cp == 0x85) return SP_SPACE; /* NEL */
        if (cp >= 0x80) return SP_DROP;  /* C1 controls */
        return SP_NONE;
    }
    switch (cp) {
    /* apostrophes: ’ ‘ ‚ ‛ ′ ‵ ʼ ʹ ʻ and the acute accent typed for one */
    case 0x2018: case 0x2019: case 0x201A: case 0x201B: case 0x2032: case 0x2035:
    case 0x02BC: case 0x02B9: case 0x02BB: case 0x00B4:
        return '\'';
    /* double quotes: “ ” „ ‟ ″ ‶ « » ‹ › */
    case 0x201C: case 0x201D: case 0x201E: case 0x201F: case 0x2033: case 0x2036:
    case 0x00AB: case 0x00BB: case 0x2039: case 0x203A:
        return '"';
    /* dashes: ‐ ‑ ‒ – — ― − ⁃ ﹘ ﹣ － ⸺ ⸻ */
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015:
    case 0x2212: case 0x2043: case 0xFE58: case 0xFE63: case 0xFF0D: case 0x2E3A:
    case 0x2E3B:
        return '-';
    /* Arabic tatweel stretches a word ("مـــوت") without changing it. */
    case 0x0640:
        return SP_DROP;
    /* Braille blank: an "invisible" space used to defeat word matching. */
    case 0x2800:
        return SP_SPACE;
    default:
        return SP_NONE;
    }
}

/* Latin letters with no Unicode decomposition that chat users type without
 * the stroke (Polish ł, Vietnamese/Croatian đ, Turkish ı...). Writes up to 2
 * code points; returns how many, 0 when cp is not folded. */
static int latin_fold(uint32_t cp, uint32_t out[2]) {
    switch (cp) {
    case 0x0142: out[0] = 'l'; return 1; /* ł */
    case 0x0111: out[0] = 'd'; return 1; /* đ */
    case 0x00F8: out[0] = 'o'; return 1; /* ø */
    case 0x0131: out[0] = 'i'; return 1; /* ı */
    case 0x0127: out[0] = 'h'; return 1; /* ħ */
    case 0x0167: out[0] = 't'; return 1; /* ŧ */
    case 0x0180: out[0] = 'b'; return 1; /* ƀ */
    case 0x0268: out[0] = 'i'; return 1; /* ɨ */
    case 0x0153: out[0] = 'o'; out[1] = 'e'; return 2; /* œ */
    case 0x00E6: out[0] = 'a'; out[1] = 'e'; return 2; /* æ */
    default: return 0;
    }
}

/* Class, script and combining class of a non-ASCII code point from its
 * properties. Returns 0 when the code point is to be dropped. */
static int classify_prop(uint32_t cp, const utf8proc_property_t *p, mhgi_unit *x) {
    x->ccc = (uint8_t)p->combining_class;
    x->script = MHGI_S_NONE;
    switch (p->category) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        if (p->ignorable) return 0; /* Hangul fillers */
        x->cls = MHGI_C_LETTER;
        x->script = (uint8_t)mhgi_norm_script(cp);
        return 1;
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
        if (p->ignorable) return 0; /* variation selectors, CGJ */
        x->cls = MHGI_C_MARK;
        x->script = (uint8_t)mhgi_norm_script(cp);
        return 1;
    case UTF8PROC_CATEGORY_ND:
        x->cls = MHGI_C_DIGIT;
        return 1;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
        x->cls = MHGI_C_SPACE;
        return 1;
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
        return 0;
    default:
        if (p->ignorable) return 0;
        x->cls = MHGI_C_OTHER;
        return 1;
    }
}

static int classify_cp(uint32_t cp, mhgi_unit *x) {
    return classify_prop(cp, utf8proc_get_property((utf8proc_int32_t)cp), x);
}

void mhgi_norm_set_class(mhgi_unit *x) {
    if (x->cp < 0x80) {
        uint8_t c = ascii_class(x->cp);
        x->cls = c == A_DROP ? MHGI_C_OTHER : c;
        x->script = c == MHGI_C_LETTER ? MHGI_S_LATIN : MHGI_S_NONE;
        x->ccc = 0;
        return;
    }
    if (!classify_cp(x->cp, x)) x->cls = MHGI_C_OTHER;
}

/* ---- decoding ----------------------------------------------------------- */

static inline void push(struct mhg_norm_work *w, uint32_t cp, uint32_t s, uint32_t e,
                        uint8_t cls, uint8_t script, uint8_t ccc) {
    mhgi_unit *x = &w->u[w->n++];
    x->cp = cp;
    x->s = s;
    x->e = e;
    x->cls = cls;
    x->script = script;
    x->ccc = ccc;
    x->flags = 0;
}

static inline void push_ascii(struct mhg_norm_work *w, unsigned c, uint32_t s, uint32_t e) {
    uint8_t cls = ascii_class(c);
    if (cls == MHGI_C_LETTER) {
        push(w, c | 0x20u, s, e, MHGI_C_LETTER, MHGI_S_LATIN, 0);
        w->seen |= MHGI_SEEN_LATIN;
        return;
    }
    if (cls == A_DROP) {
        /* A removed control character changes who neighbours whom, so the
         * cheap byte-level checks no longer hold: run every pass. */
        w->seen |= MHGI_SEEN_NONASCII;
        return;
    }
    /* A backtick is typed for an apostrophe ("don`t"). */
    if (c == '`') c = '\'';
    push(w, c, s, e, cls, MHGI_S_NONE, 0);
}

/* An ASCII character that came out of folding a non-ASCII one (full-width
 * digits...): its neighbours are unknown here, so flag the passes
 * conservatively. */
static inline void push_ascii_folded(struct mhg_norm_work *w, unsigned c, uint32_t s,
                                     uint32_t e) {
    uint8_t cls = ascii_class(c);
    if (cls == MHGI_C_DIGIT || c == '@' || c == '$' || c == '!' || c == '|')
        w->seen |= MHGI_SEEN_LEET;
    push_ascii(w, c, s, e);
}


/* A non-ASCII code point that needs no (more) folding, with its properties
 * (special_map() already applied). */
static void push_classified(struct mhg_norm_work *w, uint32_t cp, const utf8proc_property_t *p,
                            uint32_t s, uint32_t e) {
    uint32_t lf[2];
    int nlf = latin_fold(cp, lf);
    if (nlf > 0) {
        for (int k = 0; k < nlf; k++) push(w, lf[k], s, e, MHGI_C_LETTER, MHGI_S_LATIN, 0);
        w->seen |= MHGI_SEEN_LATIN;
        return;
    }
    mhgi_unit x;
    if (!classify_prop(cp, p, &x)) return;
    if (x.cls == MHGI_C_SPACE) {
        push(w, ' ', s, e, MHGI_C_SPACE, MHGI_S_NONE, 0);
        return;
    }
    if (x.cls == MHGI_C_MARK || mhgi_norm_hangul_vt(cp)) w->seen |= MHGI_SEEN_MARK;
    if (x.cls == MHGI_C_LETTER) {
        if (x.script == MHGI_S_CYRILLIC || x.script == MHGI_S_GREEK) w->seen |= MHGI_SEEN_CYRGRK;
        else if (x.script == MHGI_S_LATIN) w->seen |= MHGI_SEEN_LATIN;
    }
    push(w, cp, s, e, x.cls, x.script, x.ccc);
}

/* One code point that came out of folding. */
static void push_folded(struct mhg_norm_work *w, uint32_t cp, uint32_t s, uint32_t e) {
    if (cp < 0x80) {
        push_ascii_folded(w, cp, s, e);
        return;
    }
    uint32_t m = special_map(cp);
    if (m == SP_DROP) return;
    if (m == SP_SPACE) {
        push(w, ' ', s, e, MHGI_C_SPACE, MHGI_S_NONE, 0);
        return;
    }
    if (m != SP_NONE) {
        push_ascii_folded(w, m, s, e);
        return;
    }
    push_classified(w, cp, utf8proc_get_property((utf8proc_int32_t)cp), s, e);
}

/* Non-ASCII source code point: NFKC + case fold it through utf8proc unless
 * it is known to be stable. */
static mhg_status push_source(struct mhg_norm_work *w, uint32_t cp, uint32_t s, uint32_t e) {
    /* Non-ASCII text: the cheap ASCII checks do not apply; run every pass. */
    w->seen |= MHGI_SEEN_NONASCII;
    /* Precomposed Hangul syllables are their own NFKC form. */
    if (cp >= 0xAC00 && cp <= 0xD7A3) {
        push(w, cp, s, e, MHGI_C_LETTER, MHGI_S_OTHER, 0);
        return MHG_OK;
    }
    uint32_t m = special_map(cp);
    if (m != SP_NONE) {
        push_folded(w, cp, s, e);
        return MHG_OK;
    }
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    if (p->decomp_seqindex == UINT16_MAX && p->casefold_seqindex == UINT16_MAX) {
        push_classified(w, cp, p, s, e); /* nothing for NFKC or case folding to do */
        return MHG_OK;
    }
    utf8proc_int32_t buf[32];
    int bc = 0;
    utf8proc_ssize_t k = utf8proc_decompose_char(
        (utf8proc_int32_t)cp, buf, 32, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD,
        &bc);
    if (k < 0 || k > 32) return MHG_ERR_INTERNAL; /* longest NFKC expansion is 18 */
    for (utf8proc_ssize_t i = 0; i < k; i++) push_folded(w, (uint32_t)buf[i], s, e);
    return MHG_OK;
}

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF),
 * folding as it goes. Units per source code point: at most 32. */
static mhg_status decode(const unsigned char *t, size_t len, struct mhg_norm_work *w) {
    size_t i = 0;
    shape sh = {0, 0, 0, 0, 0};
    w->n = 0;
    w->seen = 0;
    w->isolated = 0;
    while (i < len) {
        if (w->n + 40 > w->cap) {
            mhg_status st = work_reserve(w, w->n + 40 + (len - i));
            if (st != MHG_OK) return st;
        }
        unsigned c = t[i];
        if (c < 0x80) {
            /* ASCII fast path: no utf8proc call. Stay in this loop while the
             * capacity check above still holds. */
            size_t stop = len;
            if (stop - i > w->cap - w->n - 1) stop = i + (w->cap - w->n - 1);
            while (i < stop && t[i] < 0x80) {
                shape_byte(&sh, t[i]);
                push_ascii(w, t[i], (uint32_t)i, (uint32_t)i + 1);
                i++;
            }
            continue;
        }
        uint32_t cp;
        size_t n;
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= len || (t[i + 1] & 0xC0) != 0x80) return MHG_ERR_UTF8;
            cp = ((c & 0x1Fu) << 6) | (t[i + 1] & 0x3Fu);
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= len) return MHG_ERR_UTF8;
            unsigned c1 = t[i + 1], c2 = t[i + 2];
            unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            if (c1 < lo || c1 > hi || (c2 & 0xC0) != 0x80) return MHG_ERR_UTF8;
            cp = ((c & 0x0Fu) << 12) | ((c1 & 0x3Fu) << 6) | (c2 & 0x3Fu);
            n = 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= len) return MHG_ERR_UTF8;
            unsigned c1 = t[i + 1], c2 = t[i + 2], c3 = t[i + 3];
            unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            if (c1 < lo || c1 > hi || (c2 & 0xC0) != 0x80 || (c3 & 0xC0) != 0x80)
                return MHG_ERR_UTF8;
            cp = ((c & 0x07u) << 18) | ((c1 & 0x3Fu) << 12) | ((c2 & 0x3Fu) << 6) | (c3 & 0x3Fu);
            n = 4;
        } else {
            return MHG_ERR_UTF8; /* continuation byte, overlong lead, > U+10FFFF */
        }
        mhg_status st = push_source(w, cp, (uint32_t)i, (uint32_t)(i + n));
        if (st != MHG_OK) return st;
        i += n;
    }
    shape_finish(&sh);
    if (sh.leet) w->seen |= MHGI_SEEN_LEET;
    w->isolated = sh.isolated;
    return MHG_OK;
}

/* ---- encoding ----------------------------------------------------------- */

static inline size_t utf8_len(uint32_t cp) {
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

static inline int is_space_like(const mhgi_unit *x) {
    return x->cls == MHGI_C_SPACE ||
           (x->cls == MHGI_C_OTHER && (x->cp == '-' || x->cp == '_'));
}

/* Final pass: hyphens/underscores and whitespace runs -> one space (trimmed),
 * apostrophes inside words dropped, runs of one letter collapsed to one. */
static mhg_status encode(const struct mhg_norm_work *w, mhg_normalized *out) {
    const mhgi_unit *u = w->u;
    size_t n = w->n, need = n;
    if (w->seen & MHGI_SEEN_NONASCII) {
        need = 0;
        for (size_t i = 0; i < n; i++) need += utf8_len(u[i].cp);
    }
    mhg_status st = out_reserve(out, need);
    if (st != MHG_OK) return st;
    char *t = out->text;
    uint32_t *ss = out->src_start, *se = out->src_end;
    size_t o = 0, last_start = 0;
    int pending = 0;
    uint32_t ps = 0, pe = 0, last_letter = 0;
    for (size_t i = 0; i < n; i++) {
        const mhgi_unit *x = &u[i];
        if (is_space_like(x)) {
            if (!pending) {
                pending = 1;
                ps = x->s;
                pe = x->e;
            } else if (x->e > pe) {
                pe = x->e;
            }
            last_letter = 0;
            continue;
        }
        if (x->cp == '\'' && x->cls == MHGI_C_OTHER && i > 0 && i + 1 < n &&
            (u[i - 1].cls == MHGI_C_LETTER || u[i - 1].cls == MHGI_C_MARK) &&
            u[i + 1].cls == MHGI_C_LETTER) {
            continue; /* "don't" -> "dont": chat users type both */
        }
        if (pending) {
            if (o > 0) {
                t[o] = ' ';
                ss[o] = ps;
                se[o] = pe;
                o++;
            }
            pending = 0;
        }
        if (x->cls == MHGI_C_LETTER && x->cp == last_letter) {
            for (size_t b = last_start; b < o; b++)
                if (x->e > se[b]) se[b] = x->e;
            continue;
        }
        last_start = o;
        if (x->cp < 0x80) {
            t[o] = (char)x->cp;
            ss[o] = x->s;
            se[o] = x->e;
            o++;
        } else {
            size_t k = mhgi_utf8_encode(t + o, x->cp);
            for (size_t b = 0; b < k; b++) {
                ss[o + b] = x->s;
                se[o + b] = x->e;
            }
            o += k;
        }
        last_letter = x->cls == MHGI_C_LETTER ? x->cp : 0;
    }
    t[o] = '\0';
    out->len = o;
    return MHG_OK;
}

/* ---- API ---------------------------------------------------------------- */

mhg_status mhg_normalize(const char *text, size_t len, mhg_norm_mode mode,
                         mhg_normalized *out) {
    if (!out) return MHG_ERR_INVALID;
    out->len = 0;
    if (out->text) out->text[0] = '\0';
    if ((!text && len > 0) || (mode != MHG_NORM_TEXT && mode != MHG_NORM_PATTERN))
        return MHG_ERR_INVALID;
    if (len > MHG_MAX_MESSAGE_BYTES) return MHG_ERR_TOO_BIG;
    mhg_status st = out_reserve(out, len);
    if (st != MHG_OK) return st;
    if (!out->work) {
        out->work = calloc(1, sizeof *out->work);
        if (!out->work) return MHG_ERR_NOMEM;
    }
    struct mhg_norm_work *w = out->work;
    st = work_reserve(w, len + 64);
    if (st == MHG_OK) st = decode((const unsigned char *)text, len, w);
    if (st == MHG_OK && (w->seen & MHGI_SEEN_MARK)) st = mhgi_norm_marks(w);
    if (st == MHG_OK) {
        /* Joining needs 3+ isolated one-character elements; leetspeak that
         * joining creates ("k 1 l l") must still be undone. */
        if (mode == MHG_NORM_TEXT && ((w->seen & MHGI_SEEN_NONASCII) || w->isolated >= 3) &&
            mhgi_norm_join(w))
            w->seen |= MHGI_SEEN_LEET;
        /* Homoglyph folding only ever maps between Latin and Cyrillic/Greek:
         * text without both has nothing to fold. */
        if ((w->seen & MHGI_SEEN_CYRGRK) && (w->seen & MHGI_SEEN_LATIN)) mhgi_norm_homoglyphs(w);
        /* Both modes: a lexicon word with digits must compile to what the
         * same word becomes in a message (Arabizi "3ayez" -> "eayez"). */
        if (w->seen & (MHGI_SEEN_LEET | MHGI_SEEN_NONASCII)) mhgi_norm_leet(w);
        st = encode(w, out);
    }
    /* The units still hold the message, like out->text does until the next
     * call; mhg_normalized_free() wipes both. */
    if (st != MHG_OK) {
        out->len = 0;
        if (out->text) out->text[0] = '\0';
    }
    return st;
}

void mhg_normalized_span(const mhg_normalized *n, size_t nstart, size_t nend, size_t *ostart,
                         size_t *oend) {
    size_t a = 0, b = 0;
    if (n && n->len > 0) {
        if (nend > n->len) nend = n->len;
        if (nstart >= nend) {
            /* Contract violation; answer an empty span rather than read out
             * of bounds. */
            size_t i = nstart < n->len ? nstart : n->len - 1;
            a = b = n->src_start[i];
        } else {
            a = n->src_start[nstart];
            b = n->src_end[nend - 1];
        }
    }
    if (ostart) *ostart = a;
    if (oend) *oend = b;
}
