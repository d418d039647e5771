/*
 * mhguard/lexicon.h - phrase lexicons as data: YAML files compiled into one
 * Vectorscan database, scanned over normalized text.
 *
 * The API is generic: the risk engine loads data/lexicons/ (risk categories
 * from types.h plus context cues), and the policy module reuses it with its
 * own directory and its own category names (e.g. "method_detail",
 * "encouragement") by passing mhg_lexicon_options.categories.
 *
 * File format: docs/internals/lexicon-format.md. Every file of a directory is
 * compiled into ONE database (all languages at once, so code-switching works);
 * the serialized database is cached in cache_dir, keyed by a hash of the
 * compiled patterns and the Vectorscan version, so start-up is fast.
 *
 *   mhg_lexicon          immutable after load; share one across all threads.
 *   mhg_lexicon_scratch  per-thread scan memory; one thread at a time.
 */
#ifndef MHGUARD_LEXICON_H
#define MHGUARD_LEXICON_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhg_lexicon mhg_lexicon;
typedef struct mhg_lexicon_scratch mhg_lexicon_scratch;

/* What an entry is: a phrase that counts toward a category (from the
 * `entries:` list), or a context cue (from the `cues:` list). */
typedef enum mhg_lexicon_kind {
    MHG_LEX_ENTRY = 0,
    MHG_LEX_CUE_NEGATION,
    MHG_LEX_CUE_IDIOM,
    MHG_LEX_CUE_THIRD_PERSON,
    MHG_LEX_CUE_PAST,
    MHG_LEX_CUE_HYPOTHETICAL,
    MHG_LEX_CUE_INFORMATIONAL,
    MHG_LEX_CUE_FIRST_PERSON, /* "I", "me": keeps a match personal after a
                                 third-person cue ("my ex left and I want to die") */
    MHG_LEX_CUE_SUBORDINATOR, /* "that", "que", "że": opens a clause that a
                                 negation before it does not reach ("nobody
                                 knows that I cut myself") */
    MHG_LEX_KIND_COUNT
} mhg_lexicon_kind;

/* Where a negation cue must sit relative to the match it negates. */
typedef enum mhg_lexicon_scope {
    MHG_LEX_SCOPE_NONE = 0,   /* entries, and cues whose scope is fixed */
    MHG_LEX_SCOPE_BEFORE = 1, /* default: "never ... kill myself" */
    MHG_LEX_SCOPE_AFTER = 2,  /* verb-final languages: "죽고 싶지 않아" */
    MHG_LEX_SCOPE_BOTH = 3
} mhg_lexicon_scope;

/* "entry", "negation", "idiom", "third_person", "past", "hypothetical",
 * "informational", "first_person", "subordinator"; NULL when out of range.
 * Static strings. */
const char *mhg_lexicon_kind_name(mhg_lexicon_kind kind);
/* Cue kind names only ("negation" ...). MHG_OK or MHG_ERR_INVALID. */
MHG_NODISCARD mhg_status mhg_lexicon_kind_parse(const char *name, mhg_lexicon_kind *out);

/* One compiled entry or cue. All strings are owned by the lexicon and live
 * as long as it does. */
typedef struct mhg_lexicon_entry {
    const char *id;       /* as written in the file: "suicide.kill_myself" */
    const char *rule_id;  /* "<lang>.<id>": "en.suicide.kill_myself" */
    const char *lang;     /* "en" */
    const char *category; /* category name as written; NULL for cues */
    int category_id;      /* mhg_category, or -1 (cue, or not a risk category) */
    unsigned facet;       /* one MHG_FACET_* bit, or 0 */
    double weight;        /* [0,1]; 0 for cues */
    mhg_lexicon_kind kind;
    mhg_lexicon_scope scope; /* negation cues; MHG_LEX_SCOPE_NONE otherwise */
    int spaces;           /* the file's `spaces:` setting */
    const char *match;    /* the source `match` text */
    const char *file;     /* file it came from (path as loaded) */
    unsigned line;        /* 1-based line of the entry in that file */
} mhg_lexicon_entry;

/* One language file of a loaded lexicon. */
typedef struct mhg_lexicon_lang {
    const char *lang;    /* "en" */
    const char *version; /* the file's `version:` */
    const char *file;
    int spaces;
    size_t n_entries;    /* risk entries */
    size_t n_cues;       /* cues of every kind */
} mhg_lexicon_lang;

typedef struct mhg_lexicon_options {
    /* A directory (every *.yaml / *.yml in it, sorted by name) or one file. */
    const char *path;
    /* Directory for the serialized database. NULL: never cache (always
     * compile). Created if missing; a failure to read or write the cache is
     * never fatal (the database is compiled instead). */
    const char *cache_dir;
    /* Allowed category names, NULL-terminated. NULL: the risk taxonomy of
     * types.h ("suicide" ... "third_party_concern"). */
    const char *const *categories;
} mhg_lexicon_options;

/*
 * Load, validate and compile a lexicon. Validation is strict: unknown keys,
 * a bad category / facet / kind, a weight outside [0,1], a duplicate id, a
 * missing field, a `lang` that does not match the file name, or a `match`
 * that does not parse or compile is an error. err (if errlen > 0) receives
 * one line per problem ("path:line: id: message"), as many as fit; the
 * first problem always comes first.
 * Errors: MHG_ERR_IO (unreadable file or empty directory), MHG_ERR_PARSE
 * (YAML or validation), MHG_ERR_COMPILE (a pattern Vectorscan rejects),
 * MHG_ERR_NOMEM. On failure *out is NULL.
 */
MHG_NODISCARD mhg_status mhg_lexicon_load_ex(const mhg_lexicon_options *opts, mhg_lexicon **out,
                                             char *err, size_t errlen);
/* Shorthand: risk taxonomy, given path and cache directory (may be NULL). */
MHG_NODISCARD mhg_status mhg_lexicon_load(const char *dir_or_file, const char *cache_dir,
                                          mhg_lexicon **out, char *err, size_t errlen);
void mhg_lexicon_free(mhg_lexicon *lex); /* NULL is a no-op */

/* Content hash of every loaded file (names and bytes): 16 hex digits.
 * Changes whenever any lexicon byte changes. Owned by the lexicon. */
const char *mhg_lexicon_version(const mhg_lexicon *lex);
/* Nonzero when the database came from the cache rather than a compile. */
int mhg_lexicon_from_cache(const mhg_lexicon *lex);

size_t mhg_lexicon_entry_count(const mhg_lexicon *lex);
/* Entry i (0 <= i < count) or NULL when out of range. Borrowed. */
const mhg_lexicon_entry *mhg_lexicon_entry_get(const mhg_lexicon *lex, size_t i);
size_t mhg_lexicon_lang_count(const mhg_lexicon *lex);
/* Language file i, sorted by lang, or NULL when out of range. Borrowed. */
const mhg_lexicon_lang *mhg_lexicon_lang_get(const mhg_lexicon *lex, size_t i);
/* Index of lang ("en") in the language list, or -1. */
int mhg_lexicon_lang_find(const mhg_lexicon *lex, const char *lang);

/* Per-thread scan memory (Vectorscan scratch and match bookkeeping). */
MHG_NODISCARD mhg_status mhg_lexicon_scratch_new(const mhg_lexicon *lex,
                                                 mhg_lexicon_scratch **out);
void mhg_lexicon_scratch_free(mhg_lexicon_scratch *s); /* NULL is a no-op */

/* One match: entry index and byte span in the scanned (normalized) text. */
typedef struct mhg_lexicon_match {
    uint32_t entry;
    uint32_t start, end; /* [start, end) */
} mhg_lexicon_match;

/*
 * Scan len bytes of normalized text (output of mhg_normalize, MHG_NORM_TEXT).
 * Writes up to cap matches to out, sorted by start, then end; *n_out is the
 * number written. Overlapping matches of the same entry are merged into one.
 * Matches beyond cap (and beyond MHG_MAX_MATCHES) are counted, not stored:
 * see mhg_lexicon_scratch_dropped(); when the buffer is full, a match of a
 * risk entry replaces a cue match (entries are never dropped for cues).
 * Errors: MHG_ERR_TOO_BIG (len > UINT32_MAX), MHG_ERR_INVALID, MHG_ERR_INTERNAL
 * (Vectorscan failed). Thread use: lex shared, scratch owned by the caller.
 */
MHG_NODISCARD mhg_status mhg_lexicon_scan(const mhg_lexicon *lex, mhg_lexicon_scratch *scratch,
                                          const char *text, size_t len, mhg_lexicon_match *out,
                                          size_t cap, size_t *n_out);
/* Matches the last scan with this scratch could not store. */
size_t mhg_lexicon_scratch_dropped(const mhg_lexicon_scratch *s);

/*
 * Write the database to the cache directory given at load (for `mhguard
 * lexicon compile`). MHG_ERR_INVALID when the lexicon was loaded without a
 * cache_dir, MHG_ERR_IO when the file cannot be written.
 */
MHG_NODISCARD mhg_status mhg_lexicon_write_cache(const mhg_lexicon *lex, char *err,
                                                 size_t errlen);
/* Path of the cache file for this lexicon, or NULL without a cache_dir. */
const char *mhg_lexicon_cache_path(const mhg_lexicon *lex);

#ifdef __cplusplus
}
#endif
#endif
