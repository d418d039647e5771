/*
 * norm_passes.c - the passes of the normalizer that look beyond one code
 * point: combining sequences (strip or NFC-compose), joining of spaced-out
 * letters, homoglyph folding and leetspeak. Each pass rewrites the unit
 * array in place and keeps every unit's source span, so the offset map stays
 * exact (docs/internals/normalize.md).
 */
#include <string.h>

#include <utf8proc.h>

#include "normalize/normalize_int.h"

enum { F_DEL = 0x80 };

static void compact(struct mhg_norm_work *w) {
    size_t o = 0;
    for (size_t i = 0; i < w->n; i++)
        if (!(w->u[i].flags & F_DEL)) w->u[o++] = w->u[i];
    w->n = o;
}

/* ---- combining sequences ------------------------------------------------ */

static inline int is_combining(const mhgi_unit *x) {
    return x->cls == MHGI_C_MARK || mhgi_norm_hangul_vt(x->cp);
}

static inline int is_lgc(int script) {
    return script == MHGI_S_LATIN || script == MHGI_S_GREEK || script == MHGI_S_CYRILLIC;
}

/* Canonically order and NFC-compose the kept units of one combining
 * sequence; s/e is the span of the whole sequence, given to every unit when
 * units were merged or moved. Returns the new unit count, or 0 on error. */
#define MAX_COMPOSE 64
static size_t settle(mhgi_unit *q, size_t m, uint32_t s, uint32_t e) {
    int moved = 0;
    /* Canonical ordering: a mark never follows one with a higher nonzero
     * combining class (bubble sort: sequences are a few units long). */
    for (size_t pass = 1; pass < m; pass++) {
        int swapped = 0;
        for (size_t k = 1; k + pass <= m; k++) {
            if (q[k].ccc != 0 && q[k - 1].ccc > q[k].ccc) {
                mhgi_unit t = q[k];
                q[k] = q[k - 1];
                q[k - 1] = t;
                swapped = moved = 1;
            }
        }
        if (!swapped) break;
    }
    int need = 0;
    for (size_t k = 1; k < m && !need; k++) need = mhgi_norm_composes_second(q[k].cp);
    if (need && m <= MAX_COMPOSE) {
        utf8proc_int32_t buf[MAX_COMPOSE];
        for (size_t k = 0; k < m; k++) buf[k] = (utf8proc_int32_t)q[k].cp;
        utf8proc_ssize_t r = utf8proc_normalize_utf32(buf, (utf8proc_ssize_t)m, UTF8PROC_COMPOSE);
        if (r <= 0 || (size_t)r > m) return 0;
        int changed = (size_t)r != m;
        for (size_t k = 0; k < (size_t)r && !changed; k++) changed = (uint32_t)buf[k] != q[k].cp;
        if (changed) {
            for (size_t k = 0; k < (size_t)r; k++) {
                q[k].cp = (uint32_t)buf[k];
                q[k].flags = 0;
                mhgi_norm_set_class(&q[k]);
            }
            m = (size_t)r;
            moved = 1;
        }
    }
    if (moved)
        for (size_t k = 0; k < m; k++) {
            q[k].s = s;
            q[k].e = e;
        }
    return m;
}

mhg_status mhgi_norm_marks(struct mhg_norm_work *w) {
    mhgi_unit *u = w->u;
    size_t n = w->n, o = 0, i = 0;
    while (i < n) {
        size_t j = i + 1;
        while (j < n && is_combining(&u[j])) j++;
        if (j == i + 1 && u[i].cls != MHGI_C_MARK) {
            u[o++] = u[i++];
            continue;
        }
        /* Sequence [i, j): a base and what combines with it. A sequence that
         * starts with a mark has no base (start of text, after a space...). */
        int strip_all = u[i].cls == MHGI_C_LETTER && is_lgc(u[i].script);
        uint32_t seq_s = u[i].s, seq_e = u[i].e;
        size_t start = o;
        for (size_t k = i; k < j; k++) {
            mhgi_unit x = u[k];
            if (x.s < seq_s) seq_s = x.s;
            if (x.e > seq_e) seq_e = x.e;
            if (x.cls == MHGI_C_MARK && (strip_all || mhgi_norm_mark_always_stripped(x.cp))) {
                /* The base's span grows over its stripped marks, so that
                 * evidence never cuts a letter off its accent. */
                if (o > start && x.e > u[o - 1].e) u[o - 1].e = x.e;
                continue;
            }
            u[o++] = x;
        }
        if (o - start >= 2) {
            size_t m = settle(u + start, o - start, seq_s, seq_e);
            if (m == 0) return MHG_ERR_INTERNAL;
            o = start + m;
        }
        i = j;
    }
    w->n = o;
    return MHG_OK;
}

/* ---- joining spaced-out letters ----------------------------------------- */

static inline int alnum_unit(const mhgi_unit *x) {
    return x->cls == MHGI_C_LETTER || x->cls == MHGI_C_MARK || x->cls == MHGI_C_DIGIT;
}

/* Letters that can be spelled out one by one. Latin, Greek and Cyrillic
 * one-letter words are few and listed (common_single); Han and kana are
 * written without spaces, so a space between two of them is never a word
 * boundary ("我 想 死" is obfuscation or emphasis). Not the scripts whose
 * ordinary words are often one letter or syllable with its marks:
 * Devanagari and Bengali ("है कि वो", "না"), Hangul ("나 안 죽어"), Thai,
 * Arabic ("و") - joining them glued real words together. */
static inline int join_letter(const mhgi_unit *x) {
    if (x->script == MHGI_S_LATIN || x->script == MHGI_S_GREEK || x->script == MHGI_S_CYRILLIC)
        return 1;
    uint32_t c = x->cp;
    return (c >= 0x3040 && c <= 0x30FF) ||  /* hiragana, katakana */
           (c >= 0x3400 && c <= 0x4DBF) ||  /* Han extension A */
           (c >= 0x4E00 && c <= 0x9FFF) ||  /* Han */
           (c >= 0xF900 && c <= 0xFAFF) ||  /* Han compatibility */
           (c >= 0x20000 && c <= 0x3134F); /* Han extensions B.. */
}

static inline int elem_base(const mhgi_unit *x) {
    return (x->cls == MHGI_C_LETTER && join_letter(x)) ||
           (x->cls == MHGI_C_DIGIT && x->cp < 0x80) ||
           (x->cls == MHGI_C_OTHER && (x->cp == '@' || x->cp == '$'));
}

static inline int join_sep(const mhgi_unit *x) {
    return x->cls == MHGI_C_SPACE ||
           (x->cls == MHGI_C_OTHER &&
            (x->cp == '.' || x->cp == '-' || x->cp == '_' || x->cp == '*'));
}

/* One-letter words of the languages we screen (a, i, y, o, w, z, и, в, я...).
 * A space-separated run made only of these is ordinary text ("а я в шоке"),
 * not a spelled-out word, and is left alone. */
static int common_single(uint32_t cp) {
    switch (cp) {
    case 'a': case 'e': case 'i': case 'o': case 'u': case 'y': case 'w': case 'z':
    case 0x0430: case 0x0432: case 0x0438: case 0x043A: case 0x043E: case 0x0441:
    case 0x0443: case 0x044F: case 0x0456: case 0x0437: case 0x0454: case 0x0457:
    case 0x03BF: case 0x03B7: case 0x03C9:
        return 1;
    default:
        return 0;
    }
}

/* End of the isolated one-character element starting at i, or 0. */
static size_t elem_at(const mhgi_unit *u, size_t n, size_t i) {
    if (i >= n || !elem_base(&u[i])) return 0;
    if (i > 0 && alnum_unit(&u[i - 1])) return 0;
    size_t j = i + 1;
    while (j < n && u[j].cls == MHGI_C_MARK) j++;
    if (j < n && alnum_unit(&u[j])) return 0;
    return j;
}

int mhgi_norm_join(struct mhg_norm_work *w) {
    mhgi_unit *u = w->u;
    size_t n = w->n, i = 0;
    int any = 0;
    while (i < n) {
        if (alnum_unit(&u[i])) {
            /* Skip a whole word quickly when it is longer than one letter. */
            size_t j = i + 1;
            while (j < n && u[j].cls == MHGI_C_MARK) j++;
            if (j < n && alnum_unit(&u[j])) {
                while (j < n && alnum_unit(&u[j])) j++;
                i = j;
                continue;
            }
        }
        size_t k = elem_at(u, n, i);
        if (!k) {
            i++;
            continue;
        }
        size_t elems = 1, letters = 0, commons = 0;
        if (u[i].cls == MHGI_C_LETTER) {
            letters++;
            commons += (size_t)common_single(u[i].cp);
        }
        uint32_t sep = 0;
        while (k + 1 < n && join_sep(&u[k]) && (elems == 1 || u[k].cp == sep)) {
            size_t e2 = elem_at(u, n, k + 1);
            if (!e2) break;
            sep = u[k].cp;
            elems++;
            if (u[k + 1].cls == MHGI_C_LETTER) {
                letters++;
                commons += (size_t)common_single(u[k + 1].cp);
            }
            k = e2;
        }
        int sep_is_space = sep != '.' && sep != '-' && sep != '_' && sep != '*';
        int plain_words = sep_is_space && commons == letters;
        if (elems >= 3 && letters >= 2 && !plain_words) {
            for (size_t p = i; p < k; p++)
                if (join_sep(&u[p])) {
                    u[p].flags |= F_DEL;
                    any = 1;
                }
        }
        i = k;
    }
    if (any) compact(w);
    return any;
}

/* ---- homoglyphs --------------------------------------------------------- */

enum { WC_NONE = 0, WC_LAT, WC_CYR, WC_GRK, WC_AMBIG, WC_CONFLICT };

typedef struct counts {
    unsigned lat_s, lat_w, cyr_s, cyr_w, grk_s, grk_w;
} counts;

static void count_word(const mhgi_unit *u, size_t a, size_t b, counts *c) {
    memset(c, 0, sizeof *c);
    for (size_t k = a; k < b; k++) {
        if (u[k].cls != MHGI_C_LETTER) continue;
        switch (u[k].script) {
        case MHGI_S_LATIN:
            if (mhgi_norm_latin_to_cyrillic(u[k].cp)) c->lat_w++;
            else c->lat_s++;
            break;
        case MHGI_S_CYRILLIC:
            if (mhgi_norm_cyrillic_to_latin(u[k].cp)) c->cyr_w++;
            else c->cyr_s++;
            break;
        case MHGI_S_GREEK:
            if (mhgi_norm_greek_to_latin(u[k].cp)) c->grk_w++;
            else c->grk_s++;
            break;
        default: break;
        }
    }
}

/* Strong letters have no look-alike in the other scripts; they tell which
 * script a word is written in. */
static int word_class(const counts *c) {
    int strong = (c->lat_s > 0) + (c->cyr_s > 0) + (c->grk_s > 0);
    if (strong > 1) return WC_CONFLICT;
    if (c->lat_s) return WC_LAT;
    if (c->cyr_s) return WC_CYR;
    if (c->grk_s) return WC_GRK;
    if (c->lat_w + c->cyr_w + c->grk_w) return WC_AMBIG;
    return WC_NONE;
}

static void to_latin(mhgi_unit *u, size_t a, size_t b) {
    for (size_t k = a; k < b; k++) {
        if (u[k].cls != MHGI_C_LETTER) continue;
        uint32_t m = 0;
        if (u[k].script == MHGI_S_CYRILLIC) m = mhgi_norm_cyrillic_to_latin(u[k].cp);
        else if (u[k].script == MHGI_S_GREEK) m = mhgi_norm_greek_to_latin(u[k].cp);
        if (m) {
            u[k].cp = m;
            u[k].script = MHGI_S_LATIN;
        }
    }
}

static void to_cyrillic(mhgi_unit *u, size_t a, size_t b) {
    for (size_t k = a; k < b; k++) {
        if (u[k].cls != MHGI_C_LETTER || u[k].script != MHGI_S_LATIN) continue;
        uint32_t m = mhgi_norm_latin_to_cyrillic(u[k].cp);
        if (m) {
            u[k].cp = m;
            u[k].script = MHGI_S_CYRILLIC;
        }
    }
}

static inline size_t word_end(const mhgi_unit *u, size_t n, size_t a) {
    size_t b = a;
    while (b < n && mhgi_unit_wordish(&u[b])) b++;
    return b;
}

void mhgi_norm_homoglyphs(struct mhg_norm_work *w) {
    mhgi_unit *u = w->u;
    size_t n = w->n;
    counts c;
    /* A: classify each word, remember the script of the nearest word on the
     * left that has strong letters. flags of a word's first unit:
     * bits 0-2 class, 3-4 left context, 5-6 right context. */
    unsigned ctx = 0;
    for (size_t a = 0; a < n;) {
        if (!mhgi_unit_wordish(&u[a])) {
            a++;
            continue;
        }
        size_t b = word_end(u, n, a);
        count_word(u, a, b, &c);
        int wc = word_class(&c);
        u[a].flags = (uint8_t)(wc | (ctx << 3));
        if (wc == WC_LAT || wc == WC_CYR || wc == WC_GRK) ctx = (unsigned)wc;
        a = b;
    }
    /* B: the same from the right. */
    ctx = 0;
    for (size_t p = n; p-- > 0;) {
        if (!mhgi_unit_wordish(&u[p]) || (p > 0 && mhgi_unit_wordish(&u[p - 1]))) continue;
        int wc = u[p].flags & 7;
        u[p].flags = (uint8_t)(u[p].flags | (ctx << 5));
        if (wc == WC_LAT || wc == WC_CYR || wc == WC_GRK) ctx = (unsigned)wc;
    }
    /* C: decide each word. */
    for (size_t a = 0; a < n;) {
        if (!mhgi_unit_wordish(&u[a])) {
            a++;
            continue;
        }
        size_t b = word_end(u, n, a);
        int wc = u[a].flags & 7;
        unsigned left = (u[a].flags >> 3) & 3, right = (u[a].flags >> 5) & 3;
        u[a].flags = 0;
        if (wc == WC_NONE || wc == WC_CONFLICT || wc == WC_GRK) {
            a = b;
            continue;
        }
        count_word(u, a, b, &c);
        unsigned lat = c.lat_s + c.lat_w, cg = c.cyr_s + c.cyr_w + c.grk_s + c.grk_w;
        if (wc == WC_LAT) {
            if (cg) to_latin(u, a, b); /* "kіll", "mуѕеlf" */
        } else if (wc == WC_CYR) {
            if (c.lat_w && !c.grk_s) to_cyrillic(u, a, b); /* "cмерть" */
        } else { /* WC_AMBIG: only look-alike letters; the neighbours decide */
            unsigned cx = (left && right && left != right) ? 0 : (left ? left : right);
            if (cx == WC_LAT) {
                if (cg) to_latin(u, a, b);
            } else if (cx == WC_CYR) {
                if (lat && c.cyr_w) to_cyrillic(u, a, b);
            } else if (cx == 0 && lat && cg) {
                if (c.lat_w >= c.cyr_w + c.grk_w) to_latin(u, a, b);
                else if (c.cyr_w > c.lat_w) to_cyrillic(u, a, b);
            }
        }
        a = b;
    }
}

/* ---- leetspeak ---------------------------------------------------------- */

static inline int leet_char(const mhgi_unit *x) {
    return (x->cls == MHGI_C_DIGIT && x->cp < 0x80) ||
           (x->cls == MHGI_C_OTHER && mhgi_is_leet_symbol(x->cp));
}

/* URLs and e-mail addresses are not words in disguise. */
static int looks_like_address(const mhgi_unit *u, size_t a, size_t b) {
    if (b - a >= 4 && u[a].cp == 'w' && u[a + 1].cp == 'w' && u[a + 2].cp == 'w' &&
        u[a + 3].cp == '.')
        return 1;
    for (size_t k = a; k + 2 < b; k++)
        if (u[k].cp == ':' && u[k + 1].cp == '/' && u[k + 2].cp == '/') return 1;
    for (size_t k = a + 1; k < b; k++) {
        if (u[k].cp != '@' || u[k - 1].cls != MHGI_C_LETTER) continue;
        for (size_t d = k + 1; d + 1 < b; d++)
            if (u[d].cp == '.' && u[d + 1].cls == MHGI_C_LETTER) return 1;
    }
    return 0;
}

static void leet_segment(mhgi_unit *u, size_t p, size_t q) {
    int letters = 0, leets = 0;
    for (size_t k = p; k < q; k++) {
        letters += u[k].cls == MHGI_C_LETTER;
        leets += leet_char(&u[k]);
    }
    if (!letters || !leets) return;
    /* A leading "!" is punctuation ("!help"). */
    while (p < q && u[p].cp == '!' && u[p].cls == MHGI_C_OTHER) p++;
    /* A trailing run of "!" and "1" after a letter is excitement, not leet:
     * "die!!", "now!!1". A lone trailing "1" is a letter: "amm4zz4rm1"
     * (Italian -mi), "k1ll m1". */
    size_t r = q;
    int bangs = 0;
    while (r > p && (u[r - 1].cp == '!' || (u[r - 1].cp == '1' && u[r - 1].cls == MHGI_C_DIGIT))) {
        bangs += u[r - 1].cp == '!';
        r--;
    }
    if (r < q && r > p && bangs && u[r - 1].cls == MHGI_C_LETTER) q = r;
    if (p >= q) return;
    /* Number with a short unit or ordinal: "500mg", "10pm", "1st", "$100k". */
    size_t d = p;
    if (u[d].cp == '$') d++;
    size_t d0 = d;
    while (d < q && u[d].cls == MHGI_C_DIGIT) d++;
    if (d > d0) {
        size_t l = d;
        while (l < q && (u[l].cls == MHGI_C_LETTER || u[l].cls == MHGI_C_MARK)) l++;
        if (l == q && l - d <= 3) return;
    }
    /* Name with a number: "covid19", "b12" (two or more trailing digits). */
    size_t l = p;
    while (l < q && (u[l].cls == MHGI_C_LETTER || u[l].cls == MHGI_C_MARK)) l++;
    if (l > p) {
        size_t e = l;
        while (e < q && u[e].cls == MHGI_C_DIGIT) e++;
        if (e == q && e - l >= 2) return;
    }
    int lat = 0, cyr = 0;
    for (size_t k = p; k < q; k++) {
        if (u[k].cls != MHGI_C_LETTER) continue;
        lat += u[k].script == MHGI_S_LATIN;
        cyr += u[k].script == MHGI_S_CYRILLIC;
    }
    int script;
    if (lat > 0 && lat >= cyr) script = MHGI_S_LATIN;
    else if (cyr > 0) script = MHGI_S_CYRILLIC;
    else return; /* digits among CJK, Thai, Arabic...: not leetspeak */
    for (size_t k = p; k < q; k++) {
        if (!leet_char(&u[k])) continue;
        /* "!!" inside a word is punctuation without a space after it. */
        if (u[k].cp == '!' && ((k > p && u[k - 1].cp == '!') || (k + 1 < q && u[k + 1].cp == '!')))
            continue;
        uint32_t m = script == MHGI_S_LATIN ? mhgi_norm_leet_latin(u[k].cp)
                                            : mhgi_norm_leet_cyrillic(u[k].cp);
        if (!m) continue;
        u[k].cp = m;
        u[k].cls = MHGI_C_LETTER;
        u[k].script = (uint8_t)script;
        u[k].ccc = 0;
    }
}

void mhgi_norm_leet(struct mhg_norm_work *w) {
    mhgi_unit *u = w->u;
    size_t n = w->n;
    for (size_t a = 0; a < n;) {
        if (u[a].cls == MHGI_C_SPACE) {
            a++;
            continue;
        }
        size_t b = a;
        int has_leet = 0, has_letter = 0;
        while (b < n && u[b].cls != MHGI_C_SPACE) {
            has_leet |= leet_char(&u[b]);
            has_letter |= u[b].cls == MHGI_C_LETTER;
            b++;
        }
        if (has_leet && has_letter && !looks_like_address(u, a, b)) {
            for (size_t p = a; p < b;) {
                if (!mhgi_unit_wordish(&u[p])) {
                    p++;
                    continue;
                }
                size_t q = word_end(u, b, p);
                leet_segment(u, p, q);
                p = q;
            }
        }
        a = b;
    }
}
