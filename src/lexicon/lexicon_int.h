/*
 * lexicon_int.h - internals of the lexicon module (never installed).
 */
#ifndef MHG_LEXICON_INT_H
#define MHG_LEXICON_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <hs.h>

#include "mhguard/lexicon.h"

/* Growable string used while building regexes. oom sticks once set. */
typedef struct mhgi_strbuf {
    char *p;
    size_t len, cap;
    int oom;
} mhgi_strbuf;

void mhgi_sb_init(mhgi_strbuf *b);
void mhgi_sb_free(mhgi_strbuf *b);
void mhgi_sb_add(mhgi_strbuf *b, const char *s, size_t n);
void mhgi_sb_adds(mhgi_strbuf *b, const char *s);

/* Chunked string arena: every string of a lexicon lives here and is freed
 * at once with the lexicon. */
typedef struct mhgi_arena_chunk mhgi_arena_chunk;
typedef struct mhgi_arena {
    mhgi_arena_chunk *head;
} mhgi_arena;
char *mhgi_arena_strndup(mhgi_arena *a, const char *s, size_t n); /* NULL on OOM */
char *mhgi_arena_strdup(mhgi_arena *a, const char *s);
void mhgi_arena_free(mhgi_arena *a);

/* Collects error lines ("file:line: id: message") into a caller buffer. */
typedef struct mhgi_errs {
    char *buf;
    size_t cap, len;
    unsigned count;
} mhgi_errs;
void mhgi_errs_init(mhgi_errs *e, char *buf, size_t cap);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void mhgi_errs_add(mhgi_errs *e, const char *fmt, ...);

/* Per-entry compile data kept beside the public entry. */
typedef struct mhgi_entry_extra {
    char *regex;         /* generated Vectorscan expression (arena) */
    unsigned char raw;   /* `re:` pattern: no word-boundary handling */
    unsigned char bound; /* check word boundaries in the match callback */
    unsigned char lead_opt; /* may start with an optional item */
} mhgi_entry_extra;

struct mhg_lexicon {
    mhgi_arena arena;
    mhg_lexicon_entry *entries;
    mhgi_entry_extra *extra;
    size_t n_entries, cap_entries;
    mhg_lexicon_lang *langs;
    size_t n_langs, cap_langs;
    hs_database_t *db;
    int from_cache;
    char version[17];
    unsigned char cache_key[32];
    char *cache_path; /* arena; NULL without cache_dir */
    char *cache_dir;  /* arena */
};

struct mhg_lexicon_scratch {
    const mhg_lexicon *lex;
    hs_scratch_t *hs;
    /* last stored match index per entry, valid when last_gen[e] == gen */
    uint32_t *last_idx;
    uint32_t *last_gen;
    uint32_t gen;
    /* state of the scan in progress */
    const unsigned char *text;
    size_t len;
    mhg_lexicon_match *out;
    size_t cap, n, dropped;
};

/*
 * Translate the `match` mini-language into a Vectorscan expression appended
 * to out. spaces selects word (spaces: true) or character (false) semantics.
 * *raw is set for `re:` patterns, *lead_opt when the expression may start
 * with an optional item (the scanner then retries the start boundary at the
 * next word). On a syntax error returns MHG_ERR_PARSE and writes a reason to
 * why.
 */
mhg_status mhgi_pattern_compile(const char *match, int spaces, mhgi_strbuf *out, int *raw,
                                int *lead_opt, char *why, size_t whylen);

/* Load one YAML file (its bytes) into lex (entries, langs); problems go to
 * errs. path is used for messages and the language check. */
mhg_status mhgi_yaml_load_buf(mhg_lexicon *lex, const char *path, const unsigned char *buf,
                              size_t len, const char *const *categories, mhgi_errs *errs);

/* UTF-8 code point at s[i] (s valid UTF-8, i < len); *n = its length. */
uint32_t mhgi_utf8_decode(const unsigned char *s, size_t len, size_t i, size_t *n);
/* Letter, mark, number or '_' (what a word is made of). */
int mhgi_is_word_cp(uint32_t cp);

#endif
