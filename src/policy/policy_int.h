/*
 * policy_int.h - internals of the policy module (never installed).
 *
 * Files: ydom.c (strict YAML document helpers shared by every loader here),
 * policy.c (policy file, ASL-MH rules), templates.c (reviewed texts),
 * resources.c (crisis resources), decide.c (decisions), reply.c (AI-reply
 * screening and streaming).
 */
#ifndef MHG_POLICY_INT_H
#define MHG_POLICY_INT_H

#include <stdio.h>
#include <yaml.h>

#include "mhguard/policy.h"
#include "mhguard/resources.h"

/* ---- error accumulator: one line per problem, as many as fit ---------- */
typedef struct mhgi_pol_errbuf {
    char *buf;
    size_t cap;
    size_t len;
    unsigned count; /* problems reported, including those that did not fit */
} mhgi_pol_errbuf;

void mhgi_pol_err_init(mhgi_pol_errbuf *e, char *buf, size_t cap);
/* Append one line (a newline separates lines). Truncates safely. */
void mhgi_pol_err_add(mhgi_pol_errbuf *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- strict YAML documents --------------------------------------------- */
typedef struct mhgi_pol_ydoc {
    yaml_document_t doc;
    int loaded;
    const char *path; /* for messages */
    mhgi_pol_errbuf *err;
} mhgi_pol_ydoc;

/* Parse the whole of path (at most max_bytes) into y. When sha is not NULL
 * it receives the BLAKE2b-256 of the file bytes. MHG_ERR_IO / MHG_ERR_PARSE
 * (message in y->err) / MHG_ERR_NOMEM / MHG_ERR_TOO_BIG. */
mhg_status mhgi_pol_y_load(mhgi_pol_ydoc *y, const char *path, size_t max_bytes, unsigned char sha[32]);
void mhgi_pol_y_free(mhgi_pol_ydoc *y);
yaml_node_t *mhgi_pol_y_root(mhgi_pol_ydoc *y);
yaml_node_t *mhgi_pol_y_node(mhgi_pol_ydoc *y, int id);
unsigned mhgi_pol_y_line(const yaml_node_t *n); /* 1-based */

/* Report keys of map not in known (NULL-terminated) and duplicate keys.
 * where is the dotted path of map for messages ("" for the root). Returns
 * the number of problems. Also reports when map is not a mapping. */
int mhgi_pol_y_check_keys(mhgi_pol_ydoc *y, yaml_node_t *map, const char *const *known,
                      const char *where);
/* Value node of key in map, or NULL. */
yaml_node_t *mhgi_pol_y_get(mhgi_pol_ydoc *y, yaml_node_t *map, const char *key);
/* Scalar text (NUL-terminated, owned by the document) or NULL when the node
 * is not a scalar. */
const char *mhgi_pol_y_str(const yaml_node_t *n);
/* Typed readers: report "<path>:<line>: <where>: expected ..." and return
 * -1 on a type error, 0 on success. */
int mhgi_pol_y_bool(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, int *out);
int mhgi_pol_y_uint(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, unsigned long max,
                unsigned long *out);
int mhgi_pol_y_double(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, double lo, double hi,
                  double *out);
/* strdup of a non-empty scalar; -1 on type error, -2 on NOMEM. */
int mhgi_pol_y_strdup(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, char **out);

/* ---- small helpers ------------------------------------------------------ */
char *mhgi_pol_strdup(const char *s);
/* Join dir and rel unless rel is absolute. malloc'd. */
char *mhgi_pol_path_join(const char *dir, const char *rel);
/* The *.yaml files of dir (hidden ones skipped), sorted by name, malloc'd
 * into names[cap]; *n how many (free them with mhgi_pol_names_free even on
 * error). MHG_ERR_IO after reporting "<dir>: cannot open <what> directory";
 * MHG_ERR_TOO_BIG (not reported: the caller decides) when dir holds more
 * than cap, names then holding the first cap read; MHG_ERR_NOMEM. */
mhg_status mhgi_pol_yaml_dir(const char *dir, const char *what, char **names, size_t cap,
                             size_t *n, mhgi_pol_errbuf *e);
void mhgi_pol_names_free(char **names, size_t n);
/* Calls load(ctx, dir/name, name, e) for each name in order, so that every
 * bad file is reported; returns the first error, but NOMEM wins and stops. */
typedef mhg_status (*mhgi_pol_file_loader)(void *ctx, const char *path, const char *fname,
                                           mhgi_pol_errbuf *e);
mhg_status mhgi_pol_load_each(const char *dir, char *const *names, size_t n,
                              mhgi_pol_file_loader load, void *ctx, mhgi_pol_errbuf *e);
/* Directory part of path ("." when none). malloc'd. */
char *mhgi_pol_dirname(const char *path);
/* $MHG_DATA_DIR, else the source tree's data/ when it exists, else the
 * install dir. Static or environment storage; never freed. */
const char *mhgi_pol_default_data_dir(void);
/* Levenshtein distance for "did you mean" hints (bounded inputs). */
unsigned mhgi_pol_edit_distance(const char *a, const char *b);

/* Growable bounded string buffer. */
typedef struct mhgi_pol_sbuf {
    char *s;
    size_t len, cap, max;
    int oom; /* sticky: an append failed or max was hit */
} mhgi_pol_sbuf;
void mhgi_pol_sb_init(mhgi_pol_sbuf *b, size_t max);
void mhgi_pol_sb_add(mhgi_pol_sbuf *b, const char *s, size_t n);
void mhgi_pol_sb_adds(mhgi_pol_sbuf *b, const char *s);
void mhgi_pol_sb_printf(mhgi_pol_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand over the string (NUL-terminated); NULL if oom (buffer wiped). */
char *mhgi_pol_sb_take(mhgi_pol_sbuf *b, size_t *len);
void mhgi_pol_sb_free(mhgi_pol_sbuf *b); /* wipes */

/* ---- templates ---------------------------------------------------------- */
typedef struct mhgi_pol_templates mhgi_pol_templates;
mhg_status mhgi_pol_templates_load(const char *dir, mhgi_pol_templates **out, mhgi_pol_errbuf *err);
void mhgi_pol_templates_free(mhgi_pol_templates *t);
/* Text of template t in lang, falling back to English; never NULL for a
 * loaded set (English is complete, checked at load). */
const char *mhgi_pol_templates_get(const mhgi_pol_templates *t, mhg_template id, const char *lang,
                               const char **used_lang);
const char *mhgi_pol_templates_version(const mhgi_pol_templates *t);

/* ---- the policy --------------------------------------------------------- */
enum { MHGI_TH_SUPPORT = 0, MHGI_TH_ESCALATE, MHGI_TH_CRISIS, MHGI_TH_COUNT };

typedef struct mhgi_pol_threshold {
    int set;          /* 0: unset (use the default) */
    int is_score;     /* 1: score >= score; 0: level >= level */
    mhg_level level;
    double score;
} mhgi_pol_threshold;

typedef struct mhgi_pol_thresholds {
    mhgi_pol_threshold t[MHGI_TH_COUNT];
} mhgi_pol_thresholds;

struct mhg_policy {
    mhg_policy_info info;

    /* presence of keys the level rules ask for */
    int has_sla[MHG_LEVEL_COUNT];
    int has_review_queue;
    int has_use_drift;
    int has_disclaimer_key, has_medical_key;
    int has_research;
    int content_sources_all_reviewed;
    int has_thresholds_for_minor;
    int has_public_endpoints_key;

    mhgi_pol_thresholds adult, minor;
    mhgi_pol_thresholds category[MHG_CAT_COUNT]; /* per-category overrides (adult) */

    char **owned; /* every owned string of info, freed at once */
    size_t n_owned, cap_owned;
    char **content_sources;
    char **allowed_actions;

    char *validation_record_raw; /* as written; info.validation_record is resolved */
    char *dir;                   /* the policy file's directory */
    char *resources_dir_raw, *templates_dir_raw;

    mhg_resources *res;
    mhgi_pol_templates *tpl;
};

/* Validate p against the ASL-MH rules, adding one line per broken rule.
 * Returns the number of broken rules. */
unsigned mhgi_policy_validate(const mhg_policy *p, mhgi_pol_errbuf *err);

/* Internal: country record with its labels (resources.c). */
const mhg_country_resources *mhgi_pol_resources_pick_default(const mhg_resources *res,
                                                         const char *country,
                                                         const char *default_country,
                                                         const char *lang);

#endif
