/*
 * lexicon.c - load lexicon files, compile them into one Vectorscan database
 * (or load it from the cache), and scan normalized text.
 *
 * Cache: the key is a BLAKE2b hash of every generated expression with its
 * flags and id, plus the Vectorscan version. Hashing the *generated*
 * expressions (not only the YAML bytes) means a change in the normalizer or
 * in the pattern translator also invalidates the cache, so a stale database
 * can never be used. Reading and hashing the YAML is cheap (milliseconds);
 * the compile that the cache saves is the expensive part.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/mhg_limits.h"
#include "lexicon/lexicon_int.h"

#define HS_FLAGS (HS_FLAG_UTF8 | HS_FLAG_UCP | HS_FLAG_SOM_LEFTMOST)
/* `re:` expressions without UCP: authors write \b and \w, which Vectorscan
 * rejects in UCP mode; without UCP they have ASCII meaning. */
#define HS_FLAGS_RAW (HS_FLAG_UTF8 | HS_FLAG_SOM_LEFTMOST)

static unsigned expr_flags(const mhg_lexicon *lex, size_t i) {
    return lex->exprs[i].raw ? HS_FLAGS_RAW : HS_FLAGS;
}
#define MAX_FILE_BYTES (16u * 1024u * 1024u)
#define CACHE_MAGIC "MHGLEXDB"
#define CACHE_FORMAT 2u
#define CACHE_HEADER (8 + 4 + 4 + 32 + 8 + 8)

static const char *const kind_names[MHG_LEX_KIND_COUNT] = {
    "entry", "negation", "idiom", "third_person", "past", "hypothetical", "informational",
    "first_person", "subordinator"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == MHG_LEX_KIND_COUNT,
               "kind_names must name every kind");

const char *mhg_lexicon_kind_name(mhg_lexicon_kind kind) {
    return (unsigned)kind < MHG_LEX_KIND_COUNT ? kind_names[kind] : NULL;
}

mhg_status mhg_lexicon_kind_parse(const char *name, mhg_lexicon_kind *out) {
    if (!name) return MHG_ERR_INVALID;
    for (int i = 1; i < MHG_LEX_KIND_COUNT; i++)
        if (!strcmp(kind_names[i], name)) {
            *out = (mhg_lexicon_kind)i;
            return MHG_OK;
        }
    return MHG_ERR_INVALID;
}

static int has_yaml_ext(const char *name) {
    size_t n = strlen(name);
    return name[0] != '.' && ((n > 5 && !strcmp(name + n - 5, ".yaml")) ||
                              (n > 4 && !strcmp(name + n - 4, ".yml")));
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Sorted list of lexicon files: the directory's .yaml and .yml files, or the
 * one file given. */
static mhg_status list_files(const char *path, char ***out, size_t *n_out, mhgi_errs *errs) {
    struct stat st;
    *out = NULL;
    *n_out = 0;
    if (stat(path, &st) != 0) {
        mhgi_errs_add(errs, "%s: %s", path, strerror(errno));
        return MHG_ERR_IO;
    }
    if (!S_ISDIR(st.st_mode)) {
        char **names = malloc(sizeof *names);
        if (names) names[0] = strdup(path);
        if (!names || !names[0]) {
            free(names);
            return MHG_ERR_NOMEM;
        }
        *out = names;
        *n_out = 1;
        return MHG_OK;
    }
    DIR *d = opendir(path);
    if (!d) {
        mhgi_errs_add(errs, "%s: %s", path, strerror(errno));
        return MHG_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    mhg_status rc = MHG_OK;
    for (;;) {
        de = readdir(d);
        if (!de) break;
        if (!has_yaml_ext(de->d_name)) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = MHG_ERR_NOMEM;
                break;
            }
            names = nn;
        }
        size_t need = strlen(path) + 1 + strlen(de->d_name) + 1;
        char *full = malloc(need);
        if (!full) {
            rc = MHG_ERR_NOMEM;
            break;
        }
        snprintf(full, need, "%s/%s", path, de->d_name);
        names[n++] = full;
    }
    closedir(d);
    if (rc != MHG_OK) {
        free_names(names, n);
        return rc;
    }
    if (n == 0) {
        free(names);
        mhgi_errs_add(errs, "%s: no lexicon files (*.yaml) in this directory", path);
        return MHG_ERR_IO;
    }
    qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *n_out = n;
    return MHG_OK;
}

static mhg_status read_file(const char *path, unsigned char **buf, size_t *len, mhgi_errs *errs) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        mhgi_errs_add(errs, "%s: cannot open: %s", path, strerror(errno));
        return MHG_ERR_IO;
    }
    size_t cap = 65536, n = 0;
    unsigned char *b = malloc(cap);
    if (!b) {
        fclose(f);
        return MHG_ERR_NOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_FILE_BYTES) {
                free(b);
                fclose(f);
                mhgi_errs_add(errs, "%s: file larger than %u bytes", path, MAX_FILE_BYTES);
                return MHG_ERR_TOO_BIG;
            }
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                fclose(f);
                return MHG_ERR_NOMEM;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        mhgi_errs_add(errs, "%s: read error", path);
        return MHG_ERR_IO;
    }
    *buf = b;
    *len = n;
    return MHG_OK;
}

static void hex(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void compute_cache_key(mhg_lexicon *lex) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof lex->cache_key);
    static const char tag[] = "mhg-lexicon-cache-v1";
    crypto_generichash_update(&st, (const unsigned char *)tag, sizeof tag);
    const char *hv = hs_version();
    crypto_generichash_update(&st, (const unsigned char *)hv, strlen(hv) + 1);
    for (size_t i = 0; i < lex->n_exprs; i++) {
        const mhgi_expr *x = &lex->exprs[i];
        unsigned fl = expr_flags(lex, i);
        unsigned char meta[16] = {(unsigned char)(i >> 24),        (unsigned char)(i >> 16),
                                  (unsigned char)(i >> 8),         (unsigned char)i,
                                  (unsigned char)(fl >> 8),        (unsigned char)fl,
                                  x->bound,                        x->raw,
                                  (unsigned char)(x->entry >> 24), (unsigned char)(x->entry >> 16),
                                  (unsigned char)(x->entry >> 8),  (unsigned char)x->entry,
                                  (unsigned char)x->seg,           (unsigned char)x->gap,
                                  x->lead_opt,                     x->last};
        crypto_generichash_update(&st, meta, sizeof meta);
        crypto_generichash_update(&st, &x->literal, 1);
        crypto_generichash_update(&st, (const unsigned char *)x->regex, strlen(x->regex) + 1);
    }
    for (size_t i = 0; i < lex->n_lits; i++) {
        const mhgi_lit *l = &lex->lits[i];
        unsigned char meta[5] = {(unsigned char)(l->expr >> 24), (unsigned char)(l->expr >> 16),
                                 (unsigned char)(l->expr >> 8), (unsigned char)l->expr, l->tilde};
        crypto_generichash_update(&st, meta, sizeof meta);
        crypto_generichash_update(&st, (const unsigned char *)l->s, (size_t)l->len + 1);
    }
    crypto_generichash_final(&st, lex->cache_key, sizeof lex->cache_key);
}

/* Report every expression Vectorscan rejects (only on the error path). */
static void report_compile_errors(const mhg_lexicon *lex, const hs_compile_error_t *first,
                                  mhgi_errs *errs) {
    unsigned before = errs->count;
    for (size_t i = 0; i < lex->n_exprs; i++) {
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *ce = NULL;
        if (hs_expression_info(lex->exprs[i].regex, expr_flags(lex, i), &info, &ce) !=
            HS_SUCCESS) {
            const mhg_lexicon_entry *e = &lex->entries[lex->exprs[i].entry];
            mhgi_errs_add(errs, "%s:%u: %s: pattern rejected by Vectorscan: %s", e->file, e->line,
                          e->id, ce && ce->message ? ce->message : "unknown error");
            hs_free_compile_error(ce);
        } else {
            free(info);
        }
    }
    if (errs->count != before) return;
    if (first && first->expression >= 0 && (size_t)first->expression < lex->n_exprs) {
        const mhg_lexicon_entry *e = &lex->entries[lex->exprs[first->expression].entry];
        mhgi_errs_add(errs, "%s:%u: %s: pattern rejected by Vectorscan: %s%s", e->file, e->line,
                      e->id, first->message,
                      strstr(first->message, "too large")
                          ? " (simplify it: fewer or smaller gaps inside groups, fewer "
                            "alternatives, or split it into two entries)"
                          : "");
    } else {
        mhgi_errs_add(errs, "lexicon: Vectorscan could not build the database: %s",
                      first && first->message ? first->message : "unknown error");
    }
}

static mhg_status compile_db(mhg_lexicon *lex, mhgi_errs *errs) {
    size_t nr = 0;
    for (size_t i = 0; i < lex->n_exprs; i++) nr += !lex->exprs[i].literal;
    const char **exprs = malloc((nr ? nr : 1) * sizeof *exprs);
    unsigned *flags = malloc((nr ? nr : 1) * sizeof *flags);
    unsigned *ids = malloc((nr ? nr : 1) * sizeof *ids);
    if (!exprs || !flags || !ids) {
        free(exprs);
        free(flags);
        free(ids);
        return MHG_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < lex->n_exprs; i++) {
        if (lex->exprs[i].literal) continue;
        exprs[k] = lex->exprs[i].regex;
        flags[k] = expr_flags(lex, i);
        ids[k] = (unsigned)i;
        k++;
    }
    hs_compile_error_t *ce = NULL;
    hs_error_t rc = HS_SUCCESS;
    if (nr) rc = hs_compile_multi(exprs, flags, ids, (unsigned)nr, HS_MODE_BLOCK, NULL, &lex->db, &ce);
    free(exprs);
    free(flags);
    free(ids);
    if (rc != HS_SUCCESS) {
        report_compile_errors(lex, ce, errs);
        hs_free_compile_error(ce);
        lex->db = NULL;
        return MHG_ERR_COMPILE;
    }
    if (lex->n_lits == 0) return MHG_OK;
    const char **ls = malloc(lex->n_lits * sizeof *ls);
    size_t *lens = malloc(lex->n_lits * sizeof *lens);
    unsigned *lflags = calloc(lex->n_lits, sizeof *lflags);
    unsigned *lids = malloc(lex->n_lits * sizeof *lids);
    if (!ls || !lens || !lflags || !lids) {
        free(ls);
        free(lens);
        free(lflags);
        free(lids);
        return MHG_ERR_NOMEM;
    }
    for (size_t i = 0; i < lex->n_lits; i++) {
        ls[i] = lex->lits[i].s;
        lens[i] = lex->lits[i].len;
        lids[i] = (unsigned)i;
    }
    rc = hs_compile_lit_multi(ls, lflags, lids, lens, (unsigned)lex->n_lits, HS_MODE_BLOCK, NULL,
                              &lex->ldb, &ce);
    free(ls);
    free(lens);
    free(lflags);
    free(lids);
    if (rc != HS_SUCCESS) {
        if (ce && ce->expression >= 0 && (size_t)ce->expression < lex->n_lits) {
            const mhg_lexicon_entry *e =
                &lex->entries[lex->exprs[lex->lits[ce->expression].expr].entry];
            mhgi_errs_add(errs, "%s:%u: %s: literal rejected by Vectorscan: %s", e->file, e->line,
                          e->id, ce->message);
        } else {
            mhgi_errs_add(errs, "lexicon: Vectorscan could not build the literal database: %s",
                          ce && ce->message ? ce->message : "unknown error");
        }
        hs_free_compile_error(ce);
        lex->ldb = NULL;
        return MHG_ERR_COMPILE;
    }
    return MHG_OK;
}

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Read n bytes of a serialized database and deserialize it (n == 0: no
 * database). */
static int read_db(FILE *f, uint64_t n, hs_database_t **db) {
    *db = NULL;
    if (n == 0) return 1;
    if (n >= (1ull << 31)) return 0;
    char *payload = malloc(n);
    if (!payload) return 0;
    int ok = fread(payload, 1, n, f) == n && hs_deserialize_database(payload, n, db) == HS_SUCCESS;
    free(payload);
    return ok;
}

/* Load the databases from the cache file; any problem means "no cache". */
static int cache_try_load(mhg_lexicon *lex) {
    if (!lex->cache_path || (lex->n_exprs == 0 && lex->n_lits == 0)) return 0;
    FILE *f = fopen(lex->cache_path, "rb");
    if (!f) return 0;
    unsigned char hdr[CACHE_HEADER];
    int ok = 0;
    hs_database_t *db = NULL, *ldb = NULL;
    if (fread(hdr, 1, sizeof hdr, f) == sizeof hdr && !memcmp(hdr, CACHE_MAGIC, 8) &&
        get_u32(hdr + 8) == CACHE_FORMAT && !memcmp(hdr + 16, lex->cache_key, 32)) {
        uint64_t n1 = get_u64(hdr + 48), n2 = get_u64(hdr + 56);
        size_t nr = 0;
        for (size_t i = 0; i < lex->n_exprs; i++) nr += !lex->exprs[i].literal;
        ok = (n1 != 0) == (nr != 0) && (n2 != 0) == (lex->n_lits != 0) && read_db(f, n1, &db) &&
             read_db(f, n2, &ldb) && fgetc(f) == EOF;
    }
    fclose(f);
    if (!ok) {
        if (db) hs_free_database(db);
        if (ldb) hs_free_database(ldb);
        return 0;
    }
    lex->db = db;
    lex->ldb = ldb;
    return 1;
}

/* Remove older caches of the same lexicon (same path hash, other key):
 * each one is tens of megabytes and would pile up with every edit. A
 * process still using one has already read it. */
static void prune_cache(const mhg_lexicon *lex) {
    const char *base = strrchr(lex->cache_path, '/');
    base = base ? base + 1 : lex->cache_path;
    /* "lex-" + 16 hex + "-" */
    if (strlen(base) < 21) return;
    DIR *d = opendir(lex->cache_dir);
    if (!d) return;
    for (;;) {
        struct dirent *de = readdir(d);
        if (!de) break;
        size_t n = strlen(de->d_name);
        /* also the format-1 names, "lex-<32 hex>.hsdb", which nothing reads */
        int legacy = n == 41 && !strncmp(de->d_name, "lex-", 4) &&
                     strspn(de->d_name + 4, "0123456789abcdef") == 32;
        if (!legacy && (n < 26 || strncmp(de->d_name, base, 21) != 0 ||
                        strcmp(de->d_name, base) == 0 || strcmp(de->d_name + n - 5, ".hsdb") != 0))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", lex->cache_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

mhg_status mhg_lexicon_write_cache(const mhg_lexicon *lex, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!lex || !lex->cache_path) {
        if (err && errlen) snprintf(err, errlen, "lexicon was loaded without a cache directory");
        return MHG_ERR_INVALID;
    }
    if (!lex->db && !lex->ldb) return MHG_OK; /* empty lexicon: nothing to cache */
    if (mkdir(lex->cache_dir, 0755) != 0 && errno != EEXIST) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot create: %s", lex->cache_dir, strerror(errno));
        return MHG_ERR_IO;
    }
    char *bytes = NULL, *lbytes = NULL;
    size_t n = 0, ln = 0;
    if ((lex->db && hs_serialize_database(lex->db, &bytes, &n) != HS_SUCCESS) ||
        (lex->ldb && hs_serialize_database(lex->ldb, &lbytes, &ln) != HS_SUCCESS)) {
        free(bytes);
        free(lbytes);
        if (err && errlen) snprintf(err, errlen, "Vectorscan could not serialize the database");
        return MHG_ERR_INTERNAL;
    }
    unsigned char hdr[CACHE_HEADER];
    memcpy(hdr, CACHE_MAGIC, 8);
    put_u32(hdr + 8, CACHE_FORMAT);
    put_u32(hdr + 12, 0);
    memcpy(hdr + 16, lex->cache_key, 32);
    put_u64(hdr + 48, n);
    put_u64(hdr + 56, ln);
    size_t plen = strlen(lex->cache_path) + 32;
    char *tmp = malloc(plen);
    if (!tmp) {
        free(bytes);
        free(lbytes);
        return MHG_ERR_NOMEM;
    }
    /* Write a temporary file and rename it, so that a reader never sees a
     * half-written cache (several processes may start at once). */
    snprintf(tmp, plen, "%s.%ld.tmp", lex->cache_path, (long)getpid());
    mhg_status rc = MHG_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f || fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr || (n && fwrite(bytes, 1, n, f) != n) ||
        (ln && fwrite(lbytes, 1, ln, f) != ln)) {
        rc = MHG_ERR_IO;
    }
    if (f && fclose(f) != 0) rc = MHG_ERR_IO;
    if (rc == MHG_OK && rename(tmp, lex->cache_path) != 0) rc = MHG_ERR_IO;
    if (rc == MHG_OK) prune_cache(lex);
    if (rc != MHG_OK) {
        if (err && errlen) snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    free(bytes);
    free(lbytes);
    return rc;
}

const char *mhg_lexicon_cache_path(const mhg_lexicon *lex) { return lex ? lex->cache_path : NULL; }

void mhg_lexicon_free(mhg_lexicon *lex) {
    if (!lex) return;
    if (lex->db) hs_free_database(lex->db);
    if (lex->ldb) hs_free_database(lex->ldb);
    free(lex->lits);
    free(lex->entries);
    free(lex->extra);
    free(lex->exprs);
    free(lex->langs);
    mhgi_arena_free(&lex->arena);
    free(lex);
}

mhg_status mhg_lexicon_load_ex(const mhg_lexicon_options *opts, mhg_lexicon **out, char *err,
                               size_t errlen) {
    mhgi_errs errs;
    mhgi_errs_init(&errs, err, errlen);
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!opts || !opts->path || !*opts->path) {
        mhgi_errs_add(&errs, "lexicon: no path given");
        return MHG_ERR_INVALID;
    }
    if (sodium_init() < 0) return MHG_ERR_INTERNAL;
    mhg_lexicon *lex = calloc(1, sizeof *lex);
    if (!lex) return MHG_ERR_NOMEM;

    char **files = NULL;
    size_t n_files = 0;
    mhg_status rc = list_files(opts->path, &files, &n_files, &errs);
    if (rc != MHG_OK) {
        mhg_lexicon_free(lex);
        return rc;
    }
    crypto_generichash_state vh;
    crypto_generichash_init(&vh, NULL, 0, 8);
    mhg_status worst = MHG_OK;
    for (size_t i = 0; i < n_files; i++) {
        unsigned char *buf;
        size_t len;
        rc = read_file(files[i], &buf, &len, &errs);
        if (rc == MHG_OK) {
            const char *b = strrchr(files[i], '/');
            b = b ? b + 1 : files[i];
            unsigned char lenb[8];
            put_u64(lenb, len);
            crypto_generichash_update(&vh, (const unsigned char *)b, strlen(b) + 1);
            crypto_generichash_update(&vh, lenb, sizeof lenb);
            crypto_generichash_update(&vh, buf, len);
            rc = mhgi_yaml_load_buf(lex, files[i], buf, len, opts->categories, &errs);
            free(buf);
        }
        if (rc == MHG_ERR_NOMEM) {
            free_names(files, n_files);
            mhg_lexicon_free(lex);
            return rc;
        }
        if (rc != MHG_OK && worst == MHG_OK) worst = rc;
    }
    free_names(files, n_files);
    if (worst != MHG_OK) {
        mhg_lexicon_free(lex);
        return worst;
    }
    unsigned char vbin[8];
    crypto_generichash_final(&vh, vbin, sizeof vbin);
    hex(vbin, sizeof vbin, lex->version);

    compute_cache_key(lex);
    if (opts->cache_dir && *opts->cache_dir) {
        /* lex-<lexicon path hash>-<content key>.hsdb: the path part lets a
         * new cache replace the stale ones of the same lexicon (see
         * prune_cache) without touching other lexicons' caches. */
        char keyhex[33], pathhex[17], *rp = realpath(opts->path, NULL);
        unsigned char ph[8];
        const char *pp = rp ? rp : opts->path;
        crypto_generichash(ph, sizeof ph, (const unsigned char *)pp, strlen(pp), NULL, 0);
        free(rp);
        hex(ph, sizeof ph, pathhex);
        hex(lex->cache_key, 16, keyhex);
        size_t need = strlen(opts->cache_dir) + 64;
        char *p = malloc(need);
        if (!p) {
            mhg_lexicon_free(lex);
            return MHG_ERR_NOMEM;
        }
        snprintf(p, need, "%s/lex-%s-%s.hsdb", opts->cache_dir, pathhex, keyhex);
        lex->cache_path = mhgi_arena_strdup(&lex->arena, p);
        lex->cache_dir = mhgi_arena_strdup(&lex->arena, opts->cache_dir);
        free(p);
        if (!lex->cache_path || !lex->cache_dir) {
            mhg_lexicon_free(lex);
            return MHG_ERR_NOMEM;
        }
    }
    if (cache_try_load(lex)) {
        lex->from_cache = 1;
    } else {
        rc = compile_db(lex, &errs);
        if (rc != MHG_OK) {
            mhg_lexicon_free(lex);
            return rc;
        }
        /* A cache that cannot be written only costs start-up time. */
        if (lex->cache_path && mhg_lexicon_write_cache(lex, NULL, 0) != MHG_OK) {
            /* ignored on purpose */
        }
    }
    *out = lex;
    return MHG_OK;
}

mhg_status mhg_lexicon_load(const char *dir_or_file, const char *cache_dir, mhg_lexicon **out,
                            char *err, size_t errlen) {
    mhg_lexicon_options o = {.path = dir_or_file, .cache_dir = cache_dir, .categories = NULL};
    return mhg_lexicon_load_ex(&o, out, err, errlen);
}

const char *mhg_lexicon_version(const mhg_lexicon *lex) { return lex ? lex->version : NULL; }
int mhg_lexicon_from_cache(const mhg_lexicon *lex) { return lex ? lex->from_cache : 0; }
size_t mhg_lexicon_entry_count(const mhg_lexicon *lex) { return lex ? lex->n_entries : 0; }

const mhg_lexicon_entry *mhg_lexicon_entry_get(const mhg_lexicon *lex, size_t i) {
    return lex && i < lex->n_entries ? &lex->entries[i] : NULL;
}

size_t mhg_lexicon_lang_count(const mhg_lexicon *lex) { return lex ? lex->n_langs : 0; }

const mhg_lexicon_lang *mhg_lexicon_lang_get(const mhg_lexicon *lex, size_t i) {
    return lex && i < lex->n_langs ? &lex->langs[i] : NULL;
}

int mhg_lexicon_lang_find(const mhg_lexicon *lex, const char *lang) {
    if (!lex || !lang) return -1;
    for (size_t i = 0; i < lex->n_langs; i++)
        if (!strcmp(lex->langs[i].lang, lang)) return (int)i;
    return -1;
}

/* ---- scanning ------------------------------------------------------------ */

mhg_status mhg_lexicon_scratch_new(const mhg_lexicon *lex, mhg_lexicon_scratch **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!lex) return MHG_ERR_INVALID;
    mhg_lexicon_scratch *s = calloc(1, sizeof *s);
    if (!s) return MHG_ERR_NOMEM;
    s->lex = lex;
    size_t n = lex->n_entries ? lex->n_entries : 1;
    s->last_idx = calloc(n, sizeof *s->last_idx);
    s->last_gen = calloc(n, sizeof *s->last_gen);
    s->segs = malloc(MHG_MAX_MATCHES * sizeof *s->segs);
    s->chain = malloc(MHG_MAX_MATCHES * sizeof *s->chain);
    if (!s->last_idx || !s->last_gen || !s->segs || !s->chain) {
        mhg_lexicon_scratch_free(s);
        return MHG_ERR_NOMEM;
    }
    /* one Vectorscan scratch sized for both databases */
    if ((lex->db && hs_alloc_scratch(lex->db, &s->hs) != HS_SUCCESS) ||
        (lex->ldb && hs_alloc_scratch(lex->ldb, &s->hs) != HS_SUCCESS)) {
        mhg_lexicon_scratch_free(s);
        return MHG_ERR_NOMEM;
    }
    *out = s;
    return MHG_OK;
}

void mhg_lexicon_scratch_free(mhg_lexicon_scratch *s) {
    if (!s) return;
    if (s->hs) hs_free_scratch(s->hs);
    free(s->last_idx);
    free(s->last_gen);
    free(s->segs);
    free(s->chain);
    if (s->sq) mhg_memzero(s->sq, s->sqcap);
    free(s->sq);
    free(s->sqmap);
    free(s);
}

size_t mhg_lexicon_scratch_dropped(const mhg_lexicon_scratch *s) { return s ? s->dropped : 0; }

/* Code point that ends just before byte i (i > 0, text valid UTF-8). */
static uint32_t prev_cp(const unsigned char *t, size_t i) {
    size_t j = i - 1;
    while (j > 0 && (t[j] & 0xC0) == 0x80 && i - j < 4) j--;
    size_t n;
    return mhgi_utf8_decode(t, i, j, &n);
}

/* Store a match of entry e, merging it into the previous match of the same
 * entry when they overlap. */
static void add_match(mhg_lexicon_scratch *s, uint32_t e, size_t st, size_t en) {
    if (s->last_gen[e] == s->gen && s->last_idx[e] < s->n && s->out[s->last_idx[e]].entry == e) {
        mhg_lexicon_match *m = &s->out[s->last_idx[e]];
        if (st < m->end && en > m->start) {
            if (st < m->start) m->start = (uint32_t)st;
            if (en > m->end) m->end = (uint32_t)en;
            return;
        }
    }
    size_t slot = s->n;
    if (s->n >= s->cap) {
        s->dropped++;
        /* Full (a very long text): a risk entry takes the place of a cue, so
         * that frequent cue words ("I", "not") cannot crowd out the matches
         * that carry the risk. */
        if (s->cap == 0 || s->lex->entries[e].kind != MHG_LEX_ENTRY) return;
        while (s->evict < s->n && s->lex->entries[s->out[s->evict].entry].kind == MHG_LEX_ENTRY)
            s->evict++;
        if (s->evict >= s->n) return;
        slot = s->evict++;
    } else {
        s->n++;
    }
    s->out[slot] = (mhg_lexicon_match){.entry = e, .start = (uint32_t)st, .end = (uint32_t)en};
    s->last_idx[e] = (uint32_t)slot;
    s->last_gen[e] = s->gen;
}

/* A match of expression id at [st, en) of the squeezed text: check word
 * boundaries, then store it (whole entry) or keep it for the gap join
 * (segment of a gapped entry). */
static void accept(mhg_lexicon_scratch *s, unsigned id, size_t st, size_t en) {
    const mhgi_expr *x = &s->lex->exprs[id];
    if (x->bound) {
        size_t n;
        /* End boundary: the next character must not continue a word. */
        if (en < s->len && mhgi_is_word_cp(mhgi_utf8_decode(s->text, s->len, en, &n))) return;
        /* Start boundary: the previous character must not be part of a word. */
        if (st > 0 && mhgi_is_word_cp(prev_cp(s->text, st))) {
            if (!x->lead_opt || x->literal) return;
            /* Leftmost start fell inside a word through a leading optional
             * item ("Juan overdosed" for "(an)? overdose~"): retry at the
             * next word start inside the match. */
            size_t i = st;
            while (i < en && mhgi_is_word_cp(mhgi_utf8_decode(s->text, s->len, i, &n))) i += n;
            while (i < en && !mhgi_is_word_cp(mhgi_utf8_decode(s->text, s->len, i, &n))) i += n;
            if (i >= en) return;
            st = i;
        }
    }
    if (st >= en) return;
    if (s->lex->extra[x->entry].n_segs == 1) {
        add_match(s, x->entry, st, en);
    } else if (s->n_segs < MHG_MAX_MATCHES) {
        s->segs[s->n_segs++] =
            (mhg_lexicon_match){.entry = id, .start = (uint32_t)st, .end = (uint32_t)en};
    } else {
        s->dropped++;
    }
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx) {
    (void)flags;
    accept(ctx, id, (size_t)from, (size_t)to);
    return 0;
}

/* Literal database: the start is the end minus the literal's length; a
 * final `~` word runs on to the end of the word (up to 4 letters in
 * languages written without spaces). */
static int on_literal(unsigned int id, unsigned long long from, unsigned long long to,
                      unsigned int flags, void *ctx) {
    (void)from;
    (void)flags;
    mhg_lexicon_scratch *s = ctx;
    const mhgi_lit *l = &s->lex->lits[id];
    size_t en = (size_t)to, st = en - l->len;
    if (l->tilde) {
        const int spaces = s->lex->entries[s->lex->exprs[l->expr].entry].spaces;
        size_t n;
        for (int k = 0; en < s->len && (spaces || k < 4); k++) {
            if (!mhgi_is_word_cp(mhgi_utf8_decode(s->text, s->len, en, &n))) break;
            en += n;
        }
    }
    accept(s, l->expr, st, en);
    return 0;
}

static int is_sentence_end(uint32_t cp) {
    return cp == '.' || cp == '!' || cp == '?' || cp == ';' || cp == 0x3002 || cp == 0xFF01 ||
           cp == 0xFF1F;
}

/* Does the text between two segments fit a gap of at most `gap` words
 * (spaces) or characters (no spaces) without crossing a sentence end? A
 * run of two or more dots is an ellipsis, not a sentence end. */
static int gap_ok(const mhg_lexicon_scratch *s, size_t a, size_t b, unsigned gap, int spaces) {
    unsigned words = 0, chars = 0;
    int in_word = 0;
    for (size_t i = a; i < b;) {
        size_t n;
        uint32_t cp = mhgi_utf8_decode(s->text, s->len, i, &n);
        if (cp == '.' && ((i + 1 < b && s->text[i + 1] == '.') || (i > a && s->text[i - 1] == '.'))) {
            /* ellipsis */
        } else if (is_sentence_end(cp)) {
            return 0;
        }
        if (spaces) {
            if (cp == ' ') {
                in_word = 0;
            } else if (!in_word && mhgi_is_word_cp(cp)) {
                in_word = 1;
                if (++words > gap) return 0;
            }
        } else if (cp != ' ' && ++chars > gap) {
            return 0;
        }
        i += n;
    }
    return 1;
}

static int cmp_seg(const void *a, const void *b) {
    const mhg_lexicon_match *x = a, *y = b;
    if (x->entry != y->entry) return x->entry < y->entry ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/*
 * Join segment matches of gapped entries. segs is sorted by expression
 * index, and an entry's segments have consecutive indexes, so each entry's
 * matches form one run with its segments in order. A chain is a match of
 * every segment, each after the previous one within the gap; its span runs
 * from the first segment's start to the last one's end. For each match of a
 * segment we keep the latest chain start that reaches it (the tightest
 * span), in the parallel array s->chain.
 */
static void join_segments(mhg_lexicon_scratch *s) {
    if (s->n_segs == 0) return;
    qsort(s->segs, s->n_segs, sizeof *s->segs, cmp_seg);
    const mhg_lexicon *lex = s->lex;
    size_t i = 0;
    /* chain start per segment match; UINT32_MAX = unreachable */
    uint32_t *cs = s->chain;
    while (i < s->n_segs) {
        uint32_t entry = lex->exprs[s->segs[i].entry].entry;
        size_t j = i;
        while (j < s->n_segs && lex->exprs[s->segs[j].entry].entry == entry) j++;
        /* run [i, j): sub-runs per segment, in segment order */
        const mhgi_entry_extra *ex = &lex->extra[entry];
        const int spaces = lex->entries[entry].spaces;
        size_t prev_a = 0, prev_b = 0; /* previous segment's sub-run */
        uint32_t want = ex->first_expr;
        size_t k = i;
        int alive = 1;
        for (uint16_t seg = 0; seg < ex->n_segs && alive; seg++, want++) {
            size_t a = k;
            while (k < j && s->segs[k].entry == want) k++;
            size_t b = k;
            if (a == b) {
                alive = 0;
                break;
            }
            int any = 0;
            for (size_t m = a; m < b; m++) {
                cs[m] = UINT32_MAX;
                if (seg == 0) {
                    cs[m] = s->segs[m].start;
                    any = 1;
                    continue;
                }
                for (size_t q = prev_a; q < prev_b; q++) {
                    if (cs[q] == UINT32_MAX || s->segs[q].end > s->segs[m].start) continue;
                    if (!gap_ok(s, s->segs[q].end, s->segs[m].start, lex->exprs[want].gap, spaces))
                        continue;
                    if (cs[m] == UINT32_MAX || cs[q] > cs[m]) cs[m] = cs[q];
                }
                if (cs[m] != UINT32_MAX) any = 1;
            }
            if (!any) alive = 0;
            prev_a = a;
            prev_b = b;
            if (alive && seg + 1 == ex->n_segs)
                for (size_t m = a; m < b; m++)
                    if (cs[m] != UINT32_MAX) add_match(s, entry, cs[m], s->segs[m].end);
        }
        i = j;
    }
}

static int cmp_match(const void *a, const void *b) {
    const mhg_lexicon_match *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

mhg_status mhg_lexicon_scan(const mhg_lexicon *lex, mhg_lexicon_scratch *scratch,
                            const char *text, size_t len, mhg_lexicon_match *out, size_t cap,
                            size_t *n_out) {
    if (n_out) *n_out = 0;
    if (!lex || !scratch || scratch->lex != lex || (!text && len) || (!out && cap) || !n_out)
        return MHG_ERR_INVALID;
    scratch->dropped = 0;
    if (len >= UINT32_MAX) return MHG_ERR_TOO_BIG;
    if (!mhg_utf8_valid(text, len)) return MHG_ERR_UTF8;
    if ((!lex->db && !lex->ldb) || len == 0) return MHG_OK;
    if (scratch->sqcap < len + 1) {
        size_t nc = len + 1 > 256 ? len + 1 : 256;
        char *sq = malloc(nc);
        uint32_t *map = malloc(nc * sizeof *map);
        if (!sq || !map) {
            free(sq);
            free(map);
            return MHG_ERR_NOMEM;
        }
        if (scratch->sq) mhg_memzero(scratch->sq, scratch->sqcap);
        free(scratch->sq);
        free(scratch->sqmap);
        scratch->sq = sq;
        scratch->sqmap = map;
        scratch->sqcap = nc;
    }
    size_t sqlen = mhgi_squeeze(text, len, scratch->sq, scratch->sqmap);
    if (sqlen == 0) return MHG_OK;
    if (++scratch->gen == 0) {
        /* generation counter wrapped: forget every stale index */
        memset(scratch->last_gen, 0, lex->n_entries * sizeof *scratch->last_gen);
        scratch->gen = 1;
    }
    scratch->text = (const unsigned char *)scratch->sq;
    scratch->len = sqlen;
    scratch->out = out;
    scratch->cap = cap < MHG_MAX_MATCHES ? cap : MHG_MAX_MATCHES;
    scratch->n = 0;
    scratch->evict = 0;
    scratch->n_segs = 0;
    hs_error_t rc = HS_SUCCESS;
    if (lex->db) rc = hs_scan(lex->db, scratch->sq, (unsigned)sqlen, 0, scratch->hs, on_match, scratch);
    if (rc == HS_SUCCESS && lex->ldb)
        rc = hs_scan(lex->ldb, scratch->sq, (unsigned)sqlen, 0, scratch->hs, on_literal, scratch);
    if (rc == HS_SUCCESS) join_segments(scratch);
    scratch->text = NULL;
    scratch->out = NULL;
    if (rc != HS_SUCCESS) return MHG_ERR_INTERNAL;
    /* back to offsets in the caller's (normalized) text */
    for (size_t i = 0; i < scratch->n; i++) {
        out[i].start = scratch->sqmap[out[i].start];
        out[i].end = scratch->sqmap[out[i].end - 1] + 1;
    }
    if (scratch->n > 1) qsort(out, scratch->n, sizeof *out, cmp_match);
    *n_out = scratch->n;
    return MHG_OK;
}
