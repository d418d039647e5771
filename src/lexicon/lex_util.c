/*
 * lex_util.c - small helpers of the lexicon compiler: string buffer, string
 * arena, error collector, UTF-8 decoding and the word-character test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "lexicon/lexicon_int.h"

void mhgi_sb_init(mhgi_strbuf *b) { memset(b, 0, sizeof *b); }

void mhgi_sb_free(mhgi_strbuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

void mhgi_sb_add(mhgi_strbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + n + 1) nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mhgi_sb_adds(mhgi_strbuf *b, const char *s) { mhgi_sb_add(b, s, strlen(s)); }

struct mhgi_arena_chunk {
    mhgi_arena_chunk *next;
    size_t used, cap;
    char data[];
};

char *mhgi_arena_strndup(mhgi_arena *a, const char *s, size_t n) {
    mhgi_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n + 1) {
        size_t cap = n + 1 > 16384 ? n + 1 : 16384;
        c = malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    char *p = c->data + c->used;
    memcpy(p, s, n);
    p[n] = '\0';
    c->used += n + 1;
    return p;
}

char *mhgi_arena_strdup(mhgi_arena *a, const char *s) {
    return mhgi_arena_strndup(a, s, strlen(s));
}

void mhgi_arena_free(mhgi_arena *a) {
    mhgi_arena_chunk *c = a->head;
    while (c) {
        mhgi_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}

void mhgi_errs_init(mhgi_errs *e, char *buf, size_t cap) {
    e->buf = buf;
    e->cap = cap;
    e->len = 0;
    e->count = 0;
    if (buf && cap) buf[0] = '\0';
}

void mhgi_errs_add(mhgi_errs *e, const char *fmt, ...) {
    e->count++;
    if (!e->buf || e->cap == 0) return;
    /* Keep whole lines only: a truncated last line would be misleading,
     * except for the first error, which is always shown (cut if needed). */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t ln = strlen(line);
    size_t need = ln + (e->len ? 1 : 0);
    if (e->len + need + 1 > e->cap) {
        if (e->len == 0) {
            size_t k = ln < e->cap - 1 ? ln : e->cap - 1;
            memcpy(e->buf, line, k);
            e->buf[k] = '\0';
            e->len = k;
        }
        return;
    }
    if (e->len) e->buf[e->len++] = '\n';
    memcpy(e->buf + e->len, line, ln + 1);
    e->len += ln;
}

uint32_t mhgi_utf8_decode(const unsigned char *s, size_t len, size_t i, size_t *n) {
    unsigned char c = s[i];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    size_t k;
    uint32_t cp;
    if (c >= 0xF0) {
        k = 3;
        cp = c & 0x07;
    } else if (c >= 0xE0) {
        k = 2;
        cp = c & 0x0F;
    } else {
        k = 1;
        cp = c & 0x1F;
    }
    if (i + k >= len) {
        /* truncated sequence (cannot happen on validated text) */
        *n = 1;
        return 0xFFFD;
    }
    for (size_t j = 1; j <= k; j++) cp = (cp << 6) | (s[i + j] & 0x3F);
    *n = k + 1;
    return cp;
}

int mhgi_is_word_cp(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
               cp == '_';
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

/* Byte length of the separator character at t[i], or 0. */
static size_t sep_at(const unsigned char *t, size_t len, size_t i) {
    unsigned char c = t[i];
    switch (c) {
    case ' ': case '\t': case '\n': case '\r': case ',': case ':': case '"': case '\'':
    case '(': case ')': case '-': case '/':
        return 1;
    case '.': /* two or more dots: an ellipsis */
        if ((i + 1 < len && t[i + 1] == '.') || (i > 0 && t[i - 1] == '.')) return 1;
        return 0;
    case 0xC2: /* « » · */
        if (i + 1 < len && (t[i + 1] == 0xAB || t[i + 1] == 0xBB || t[i + 1] == 0xB7)) return 2;
        return 0;
    case 0xE2: /* – — ‘ ’ “ ” „ … */
        if (i + 2 < len && t[i + 1] == 0x80 &&
            (t[i + 2] == 0x93 || t[i + 2] == 0x94 || t[i + 2] == 0x98 || t[i + 2] == 0x99 ||
             t[i + 2] == 0x9C || t[i + 2] == 0x9D || t[i + 2] == 0x9E || t[i + 2] == 0xA6))
            return 3;
        return 0;
    default:
        return 0;
    }
}

size_t mhgi_squeeze(const char *text, size_t len, char *out, uint32_t *map) {
    const unsigned char *t = (const unsigned char *)text;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n = sep_at(t, len, i);
        if (n) {
            size_t run = i;
            for (;;) {
                n = i < len ? sep_at(t, len, i) : 0;
                if (!n) break;
                i += n;
            }
            if (o > 0 && i < len) {
                out[o] = ' ';
                if (map) map[o] = (uint32_t)run;
                o++;
            }
            continue;
        }
        out[o] = (char)t[i];
        if (map) map[o] = (uint32_t)i;
        o++;
        i++;
    }
    out[o] = '\0';
    return o;
}
