/*
 * features.c - hashed word and character n-gram features of normalized text.
 *
 * No vocabulary and no per-language tokenizer: the same code serves every
 * script. Words are split at spaces and punctuation; character n-grams run
 * over code points of the whole text (padded with a space each side), which
 * is what carries Chinese, Japanese and Thai, where a "word" is a clause.
 */
#include <stdlib.h>
#include <string.h>

#include "classify/classify_int.h"
#include "common/mhg_limits.h"

#define FNV_OFFSET 14695981039346656037ull
#define FNV_PRIME 1099511628211ull

/* Namespaces keep a word "abc" and the character 3-gram "abc" apart. */
enum { NS_WORD = 1, NS_BIGRAM = 2, NS_CHAR = 3 };

void mhg_feature_config_default(mhg_feature_config *cfg) {
    cfg->hash_bits = 18;
    cfg->seed = 0x6d6867u; /* "mhg" */
    cfg->word_ngrams = 2;
    cfg->char_min = 3;
    cfg->char_max = 5;
}

/* splitmix64 finalizer: FNV-1a alone has weak low and high bits. */
static uint64_t fmix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t ns_seed(uint32_t seed, int ns) {
    return FNV_OFFSET ^ fmix64(((uint64_t)seed << 8) | (uint64_t)ns);
}

static inline uint64_t fnv_feed(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t mhg_feature_hash(uint64_t seed, const void *data, size_t len) {
    return fmix64(fnv_feed(FNV_OFFSET ^ fmix64(seed), (const unsigned char *)data, len));
}

void mhg_feature_buf_init(mhg_feature_buf *b) { memset(b, 0, sizeof *b); }

void mhg_feature_buf_free(mhg_feature_buf *b) {
    if (!b) return;
    free(b->items);
    memset(b, 0, sizeof *b);
}

static int cfg_valid(const mhg_feature_config *c) {
    if (!c) return 0;
    if (c->hash_bits < MHG_MODEL_MIN_HASH_BITS || c->hash_bits > MHG_MODEL_MAX_HASH_BITS) return 0;
    if (c->word_ngrams > 2) return 0;
    if (c->char_min > c->char_max || c->char_max > MHG_MODEL_MAX_CHAR_N) return 0;
    if (c->char_min == 0 && c->char_max != 0) return 0;
    if (c->word_ngrams == 0 && c->char_min == 0) return 0;
    return 1;
}

/* Decode one code point at p (n bytes left). Returns its length, 0 if the
 * bytes are not well-formed UTF-8. */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cp) {
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((p[0] & 0xe0) == 0xc0) {
        len = 2, c = p[0] & 0x1f, min = 0x80;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3, c = p[0] & 0x0f, min = 0x800;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4, c = p[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

/* Word separators: spaces and punctuation, ASCII and the common Unicode
 * punctuation blocks. Apostrophes stay inside words ("don't", "j'ai"). */
static int is_sep(uint32_t c) {
    if (c < 0x80) {
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 0;
        return c != '\'';
    }
    if (c == 0x2019) return 0; /* right single quote used as apostrophe */
    if (c >= 0x00a0 && c <= 0x00bf) return c != 0x00aa && c != 0x00b5 && c != 0x00ba;
    if (c == 0x00d7 || c == 0x00f7) return 1;
    if (c >= 0x2000 && c <= 0x206f) return 1;        /* general punctuation */
    if (c >= 0x3000 && c <= 0x3003) return 1;        /* ideographic space, 、。〃 */
    if (c >= 0x3008 && c <= 0x3011) return 1;        /* CJK brackets */
    if (c >= 0xff01 && c <= 0xff0f) return 1;        /* full-width punctuation */
    if (c >= 0xff1a && c <= 0xff20) return 1;
    if (c == 0x060c || c == 0x061b || c == 0x061f || c == 0x06d4) return 1; /* Arabic */
    if (c == 0x0964 || c == 0x0965) return 1;        /* danda */
    if (c == 0x0e2f || c == 0x0e5a || c == 0x0e5b) return 1; /* Thai */
    return 0;
}

/* Emoji and pictographs are words of their own ("💀", "😭" carry meaning). */
static int is_symbol_word(uint32_t c) {
    return (c >= 0x2600 && c <= 0x27bf) || (c >= 0x1f000 && c <= 0x1faff);
}

static mhg_status push(mhg_feature_buf *b, uint64_t h, unsigned bits, uint32_t kind, size_t s,
                       size_t e) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        mhg_feature *ni = realloc(b->items, nc * sizeof *ni);
        if (!ni) return MHG_ERR_NOMEM;
        b->items = ni;
        b->cap = nc;
    }
    mhg_feature *f = &b->items[b->n++];
    f->bucket = (uint32_t)(h >> (64 - bits));
    f->sign = (h & 1) ? -1 : 1;
    f->kind = kind;
    f->start = (uint32_t)s;
    f->end = (uint32_t)e;
    if (kind == MHG_FEAT_CHAR)
        b->n_char++;
    else
        b->n_word++;
    return MHG_OK;
}

/* Character n-grams over the text padded with one space each side. Code
 * point boundaries are found on the fly; a ring of the last char_max starts
 * gives each n-gram's first byte. Spans are in unpadded coordinates. */
static mhg_status char_ngrams(const mhg_feature_config *cfg, const unsigned char *t, size_t len,
                              mhg_feature_buf *out) {
    const unsigned cmin = cfg->char_min, cmax = cfg->char_max;
    uint64_t seed = ns_seed(cfg->seed, NS_CHAR);
    /* Code point starts of the padded text: -1 (pad), 0.., len (pad). We
     * walk start positions; for each, extend up to cmax code points. */
    size_t pos = 0; /* byte position in t of current start, or pad */
    int start_is_pad = 1;
    for (;;) {
        /* start at (start_is_pad ? pad-before : pos) */
        uint64_t h = seed;
        size_t s_norm = start_is_pad ? 0 : pos;
        size_t q = start_is_pad ? 0 : pos;
        int leading_pad = start_is_pad;
        unsigned nchars = 0;
        if (leading_pad) {
            static const unsigned char sp = ' ';
            h = fnv_feed(h, &sp, 1);
            nchars = 1;
            if (nchars >= cmin && cmin > 0 && len == 0) {
                /* empty text: nothing but padding; no features */
            }
        }
        while (nchars < cmax) {
            size_t e_norm;
            if (q < len) {
                uint32_t cp;
                size_t l = utf8_decode(t + q, len - q, &cp);
                if (!l) return MHG_ERR_UTF8;
                h = fnv_feed(h, t + q, l);
                q += l;
                e_norm = q;
            } else if (q == len) {
                static const unsigned char sp = ' ';
                h = fnv_feed(h, &sp, 1);
                q = len + 1; /* past the trailing pad */
                e_norm = len;
            } else {
                break;
            }
            nchars++;
            if (nchars >= cmin && e_norm > s_norm) {
                mhg_status st = push(out, fmix64(h), cfg->hash_bits, MHG_FEAT_CHAR, s_norm, e_norm);
                if (st != MHG_OK) return st;
            }
            if (q > len) break;
        }
        /* advance the start */
        if (start_is_pad) {
            start_is_pad = 0;
            pos = 0;
        } else {
            uint32_t cp;
            size_t l = utf8_decode(t + pos, len - pos, &cp);
            if (!l) return MHG_ERR_UTF8;
            pos += l;
        }
        if (pos >= len) break; /* a start at the trailing pad alone is < cmin unless cmin==1 */
    }
    return MHG_OK;
}

mhg_status mhg_features_extract(const mhg_feature_config *cfg, const char *text, size_t len,
                                 mhg_feature_buf *out) {
    if (!out) return MHG_ERR_INVALID;
    out->n = out->n_word = out->n_char = 0;
    if (!cfg_valid(cfg) || (!text && len)) return MHG_ERR_INVALID;
    if (len > MHG_MAX_MESSAGE_BYTES) return MHG_ERR_TOO_BIG;
    const unsigned char *t = (const unsigned char *)text;
    mhg_status st;

    if (cfg->word_ngrams > 0) {
        uint64_t wseed = ns_seed(cfg->seed, NS_WORD), bseed = ns_seed(cfg->seed, NS_BIGRAM);
        size_t prev_s = 0, prev_e = 0;
        int have_prev = 0;
        size_t i = 0;
        while (i < len) {
            uint32_t cp;
            size_t l = utf8_decode(t + i, len - i, &cp);
            if (!l) return MHG_ERR_UTF8;
            if (is_sep(cp)) {
                i += l;
                continue;
            }
            size_t ws = i, we;
            if (is_symbol_word(cp)) {
                we = i + l;
            } else {
                we = i + l;
                while (we < len) {
                    uint32_t c2;
                    size_t l2 = utf8_decode(t + we, len - we, &c2);
                    if (!l2) return MHG_ERR_UTF8;
                    if (is_sep(c2) || is_symbol_word(c2)) break;
                    we += l2;
                }
            }
            uint64_t h = fmix64(fnv_feed(wseed, t + ws, we - ws));
            if ((st = push(out, h, cfg->hash_bits, MHG_FEAT_WORD, ws, we)) != MHG_OK) return st;
            if (cfg->word_ngrams >= 2 && have_prev) {
                static const unsigned char zero = 0;
                uint64_t b = fnv_feed(bseed, t + prev_s, prev_e - prev_s);
                b = fnv_feed(b, &zero, 1);
                b = fmix64(fnv_feed(b, t + ws, we - ws));
                if ((st = push(out, b, cfg->hash_bits, MHG_FEAT_BIGRAM, prev_s, we)) != MHG_OK)
                    return st;
            }
            prev_s = ws, prev_e = we, have_prev = 1;
            i = we;
        }
    } else if (!mhg_utf8_valid(text, len)) {
        return MHG_ERR_UTF8;
    }
    if (cfg->char_min > 0 && len > 0) {
        if ((st = char_ngrams(cfg, t, len, out)) != MHG_OK) return st;
    }
    return MHG_OK;
}
