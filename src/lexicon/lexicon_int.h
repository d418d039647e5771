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

/* One Vectorscan expression: a whole entry or one segment of it. */
typedef struct mhgi_expr {
    char *regex;            /* arena */
    uint32_t entry;         /* entry it belongs to */
    uint16_t seg;           /* segment index (0 for whole entries) */
    uint16_t gap;           /* max words/chars between the previous segment and this one */
    unsigned char raw;      /* `re:` pattern: no word-boundary handling */
    unsigned char bound;    /* check word boundaries in the match callback */
    unsigned char lead_opt; /* may start with an optional item */
    unsigned char last;     /* last segment of its entry */
    unsigned char literal;  /* matched through the literal database */
} mhgi_expr;

/* One literal of the literal database (Vectorscan id = index). */
typedef struct mhgi_lit {
    const char *s;  /* arena */
    uint32_t len;
    uint32_t expr;  /* expression it stands for */
    unsigned char tilde; /* extend the match to the end of the word */
} mhgi_lit;

/* Per-entry compile data kept beside the public entry. */
typedef struct mhgi_entry_extra {
    uint32_t first_expr; /* index of its first expression */
    uint16_t n_segs;     /* 1: plain expression; >1: segments joined by gaps */
} mhgi_entry_extra;

struct mhg_lexicon {
    mhgi_arena arena;
    mhg_lexicon_entry *entries;
    mhgi_entry_extra *extra;
    size_t n_entries, cap_entries;
    mhg_lexicon_lang *langs;
    size_t n_langs, cap_langs;
    mhgi_expr *exprs; /* Vectorscan id (regex database) = index here */
    size_t n_exprs, cap_exprs;
    mhgi_lit *lits;   /* Vectorscan id (literal database) = index here */
    size_t n_lits, cap_lits;
    hs_database_t *ldb; /* literal database (NULL when there are no literals) */
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
    /* squeezed copy of the text being scanned, and its map back */
    char *sq;
    uint32_t *sqmap;
    size_t sqcap;
    /* state of the scan in progress (offsets in the squeezed text) */
    const unsigned char *text;
    size_t len;
    mhg_lexicon_match *out;
    size_t cap, n, dropped;
    size_t evict; /* next slot to check when a full buffer makes room for an entry */
    /* segment matches of gapped entries, joined after the scan */
    mhg_lexicon_match *segs; /* .entry holds the expression index */
    uint32_t *chain;         /* join_segments: chain start per segment match */
    size_t n_segs;
};

/* Gap sizes: `*` and `**` in words (spaces: true) or characters (false). */
#define MHGI_GAP1_WORDS 3
#define MHGI_GAP2_WORDS 8
#define MHGI_GAP1_CHARS 6
#define MHGI_GAP2_CHARS 16
#define MHGI_MAX_SEGS 8
/* Largest literal expansion of one segment (see lex_pattern.c). */
#define MHGI_MAX_LITERALS 256

/* A compiled `match`: one expression, or several segments joined by gaps
 * that the scanner checks (see lex_pattern.c). */
typedef struct mhgi_pattern {
    mhgi_strbuf seg[MHGI_MAX_SEGS];
    int gap[MHGI_MAX_SEGS];      /* max words/chars before seg i (i > 0) */
    int lead_opt[MHGI_MAX_SEGS]; /* seg i may start with an optional item */
    int n_segs;
    int raw;                     /* `re:` pattern: no word-boundary handling */
    /* literal expansion per segment (when lit_ok[i]) */
    int lit_ok[MHGI_MAX_SEGS];
    char **lits[MHGI_MAX_SEGS];
    unsigned char *lit_tilde[MHGI_MAX_SEGS];
    size_t n_lits[MHGI_MAX_SEGS];
} mhgi_pattern;

void mhgi_pattern_init(mhgi_pattern *pat);
void mhgi_pattern_free(mhgi_pattern *pat);

/*
 * Translate the `match` mini-language into Vectorscan expressions. spaces
 * selects word (spaces: true) or character (false) semantics. On a syntax
 * error returns MHG_ERR_PARSE and writes a reason to why.
 */
mhg_status mhgi_pattern_compile(const char *match, int spaces, mhgi_pattern *pat, char *why,
                                size_t whylen);

/* Load one YAML file (its bytes) into lex (entries, langs); problems go to
 * errs. path is used for messages and the language check. */
mhg_status mhgi_yaml_load_buf(mhg_lexicon *lex, const char *path, const unsigned char *buf,
                              size_t len, const char *const *categories, mhgi_errs *errs);

/*
 * Copy text[0..len) to out with every run of separator characters (space,
 * , : " ' ( ) - / and typographic quotes and dashes, an ellipsis of two or
 * more dots) replaced by one space, and none at the start or end. map (if
 * not NULL) receives, for each output byte, the index of the input byte it
 * came from. out and map need len + 1 entries. Returns the output length.
 */
size_t mhgi_squeeze(const char *text, size_t len, char *out, uint32_t *map);

/* UTF-8 code point at s[i] (s valid UTF-8, i < len); *n = its length. */
uint32_t mhgi_utf8_decode(const unsigned char *s, size_t len, size_t i, size_t *n);
/* Letter, mark, number or '_' (what a word is made of). */
int mhgi_is_word_cp(uint32_t cp);

#endif
