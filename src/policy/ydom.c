/*
 * ydom.c - strict helpers over libyaml documents, shared by the policy,
 * templates and resources loaders, plus small string/path utilities.
 *
 * Why a document (DOM) and not events: every file here is small (a policy
 * is a few KB), and checking "unknown key", "duplicate key" and "wrong type"
 * with the line number is simplest on a tree.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "mhg_config.h"
#include "policy/policy_int.h"

void mhgi_pol_err_init(mhgi_pol_errbuf *e, char *buf, size_t cap) {
    e->buf = buf;
    e->cap = cap;
    e->len = 0;
    e->count = 0;
    if (buf && cap) buf[0] = '\0';
}

void mhgi_pol_err_add(mhgi_pol_errbuf *e, const char *fmt, ...) {
    e->count++;
    if (!e->buf || e->cap == 0 || e->len + 1 >= e->cap) return;
    if (e->len > 0) {
        e->buf[e->len++] = '\n';
        e->buf[e->len] = '\0';
        if (e->len + 1 >= e->cap) return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        e->buf[e->len] = '\0';
        return;
    }
    e->len += (size_t)n;
    if (e->len >= e->cap) e->len = e->cap - 1;
}

/* ---------------------------------------------------------------- files */

static mhg_status read_file(const char *path, size_t max, unsigned char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return MHG_ERR_IO;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return MHG_ERR_IO;
    }
    if ((unsigned long long)st.st_size > max) {
        fclose(f);
        return MHG_ERR_TOO_BIG;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return MHG_ERR_NOMEM;
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (bad || got != n) {
        free(buf);
        return MHG_ERR_IO;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return MHG_OK;
}

mhg_status mhgi_pol_y_load(mhgi_pol_ydoc *y, const char *path, size_t max_bytes, unsigned char sha[32]) {
    y->loaded = 0;
    y->path = path;
    unsigned char *data = NULL;
    size_t len = 0;
    mhg_status rc = read_file(path, max_bytes, &data, &len);
    if (rc == MHG_ERR_IO) {
        mhgi_pol_err_add(y->err, "%s: cannot read file: %s", path, strerror(errno ? errno : ENOENT));
        return rc;
    }
    if (rc == MHG_ERR_TOO_BIG) {
        mhgi_pol_err_add(y->err, "%s: file is larger than %zu bytes", path, max_bytes);
        return rc;
    }
    if (rc != MHG_OK) return rc;
    if (sha) crypto_generichash(sha, 32, data, len, NULL, 0);
    if (!mhg_utf8_valid((const char *)data, len)) {
        mhgi_pol_err_add(y->err, "%s: not valid UTF-8", path);
        free(data);
        return MHG_ERR_PARSE;
    }
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        free(data);
        return MHG_ERR_NOMEM;
    }
    yaml_parser_set_input_string(&parser, data, len);
    if (!yaml_parser_load(&parser, &y->doc)) {
        mhgi_pol_err_add(y->err, "%s:%lu: YAML error: %s%s%s", path,
                     (unsigned long)parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "malformed",
                     parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        free(data);
        return MHG_ERR_PARSE;
    }
    yaml_parser_delete(&parser);
    free(data);
    y->loaded = 1;
    if (!yaml_document_get_root_node(&y->doc)) {
        mhgi_pol_err_add(y->err, "%s: empty document", path);
        return MHG_ERR_PARSE;
    }
    return MHG_OK;
}

void mhgi_pol_y_free(mhgi_pol_ydoc *y) {
    if (y && y->loaded) yaml_document_delete(&y->doc);
    if (y) y->loaded = 0;
}

yaml_node_t *mhgi_pol_y_root(mhgi_pol_ydoc *y) {
    return y->loaded ? yaml_document_get_root_node(&y->doc) : NULL;
}

yaml_node_t *mhgi_pol_y_node(mhgi_pol_ydoc *y, int id) { return yaml_document_get_node(&y->doc, id); }

unsigned mhgi_pol_y_line(const yaml_node_t *n) { return n ? (unsigned)n->start_mark.line + 1 : 0; }

const char *mhgi_pol_y_str(const yaml_node_t *n) {
    if (!n || n->type != YAML_SCALAR_NODE) return NULL;
    return (const char *)n->data.scalar.value;
}

yaml_node_t *mhgi_pol_y_get(mhgi_pol_ydoc *y, yaml_node_t *map, const char *key) {
    if (!map || map->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *k = mhgi_pol_y_str(mhgi_pol_y_node(y, p->key));
        if (k && strcmp(k, key) == 0) return mhgi_pol_y_node(y, p->value);
    }
    return NULL;
}

int mhgi_pol_y_check_keys(mhgi_pol_ydoc *y, yaml_node_t *map, const char *const *known,
                      const char *where) {
    if (!map || map->type != YAML_MAPPING_NODE) {
        mhgi_pol_err_add(y->err, "%s:%u: %s: expected a mapping", y->path, mhgi_pol_y_line(map),
                     *where ? where : "document");
        return 1;
    }
    int bad = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = mhgi_pol_y_node(y, p->key);
        const char *k = mhgi_pol_y_str(kn);
        if (!k) {
            mhgi_pol_err_add(y->err, "%s:%u: %s: keys must be plain strings", y->path,
                         mhgi_pol_y_line(kn), *where ? where : "document");
            bad++;
            continue;
        }
        int found = 0;
        const char *best = NULL;
        unsigned best_d = UINT_MAX;
        for (const char *const *q = known; *q; q++) {
            if (strcmp(*q, k) == 0) {
                found = 1;
                break;
            }
            unsigned d = mhgi_pol_edit_distance(*q, k);
            if (d < best_d) {
                best_d = d;
                best = *q;
            }
        }
        if (!found) {
            /* A typo must not silently disable a protection: refuse. */
            if (best && best_d <= 3)
                mhgi_pol_err_add(y->err, "%s:%u: unknown key '%s%s%s' (did you mean '%s'?)", y->path,
                             mhgi_pol_y_line(kn), where, *where ? "." : "", k, best);
            else
                mhgi_pol_err_add(y->err, "%s:%u: unknown key '%s%s%s'", y->path, mhgi_pol_y_line(kn),
                             where, *where ? "." : "", k);
            bad++;
            continue;
        }
        for (yaml_node_pair_t *r = map->data.mapping.pairs.start; r < p; r++) {
            const char *k2 = mhgi_pol_y_str(mhgi_pol_y_node(y, r->key));
            if (k2 && strcmp(k2, k) == 0) {
                mhgi_pol_err_add(y->err, "%s:%u: duplicate key '%s%s%s'", y->path, mhgi_pol_y_line(kn),
                             where, *where ? "." : "", k);
                bad++;
                break;
            }
        }
    }
    return bad;
}

static void type_error(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, const char *what) {
    mhgi_pol_err_add(y->err, "%s:%u: %s: expected %s", y->path, mhgi_pol_y_line(n), where, what);
}

/* Scalars written with quotes are strings, never booleans or numbers. */
static int plain(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

int mhgi_pol_y_bool(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, int *out) {
    const char *s = mhgi_pol_y_str(n);
    if (s && plain(n)) {
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "yes")) {
            *out = 1;
            return 0;
        }
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE") ||
            !strcmp(s, "no")) {
            *out = 0;
            return 0;
        }
    }
    type_error(y, n, where, "true or false");
    return -1;
}

int mhgi_pol_y_uint(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, unsigned long max,
                unsigned long *out) {
    const char *s = mhgi_pol_y_str(n);
    if (s && plain(n) && *s >= '0' && *s <= '9') {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno == 0 && end && *end == '\0' && v <= max) {
            *out = v;
            return 0;
        }
    }
    char what[64];
    snprintf(what, sizeof what, "a whole number from 0 to %lu", max);
    type_error(y, n, where, what);
    return -1;
}

int mhgi_pol_y_double(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, double lo, double hi,
                  double *out) {
    const char *s = mhgi_pol_y_str(n);
    if (s && plain(n) && *s) {
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno == 0 && end && *end == '\0' && isfinite(v) && v >= lo && v <= hi) {
            *out = v;
            return 0;
        }
    }
    char what[80];
    snprintf(what, sizeof what, "a number from %g to %g", lo, hi);
    type_error(y, n, where, what);
    return -1;
}

int mhgi_pol_y_strdup(mhgi_pol_ydoc *y, yaml_node_t *n, const char *where, char **out) {
    const char *s = mhgi_pol_y_str(n);
    if (!s || !*s) {
        type_error(y, n, where, "a non-empty string");
        return -1;
    }
    *out = mhgi_pol_strdup(s);
    return *out ? 0 : -2;
}

/* -------------------------------------------------------------- helpers */

char *mhgi_pol_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

char *mhgi_pol_path_join(const char *dir, const char *rel) {
    if (!rel) return NULL;
    if (rel[0] == '/' || !dir || !*dir) return mhgi_pol_strdup(rel);
    size_t a = strlen(dir), b = strlen(rel);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, rel, b + 1);
    return s;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

mhg_status mhgi_pol_yaml_dir(const char *dir, const char *what, char **names, size_t cap,
                             size_t *n, mhgi_pol_errbuf *e) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        mhgi_pol_err_add(e, "%s: cannot open %s directory", dir, what);
        return MHG_ERR_IO;
    }
    size_t nn = 0;
    struct dirent *de;
    mhg_status rc = MHG_OK;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0 || de->d_name[0] == '.') continue;
        if (nn == cap) {
            rc = MHG_ERR_TOO_BIG;
            break;
        }
        names[nn] = mhgi_pol_strdup(de->d_name);
        if (!names[nn]) {
            rc = MHG_ERR_NOMEM;
            break;
        }
        nn++;
    }
    closedir(d);
    /* readdir order is arbitrary: load in a fixed order so errors and
     * versions come out the same on every machine */
    qsort(names, nn, sizeof names[0], cmp_name);
    *n = nn;
    return rc;
}

void mhgi_pol_names_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
}

mhg_status mhgi_pol_load_each(const char *dir, char *const *names, size_t n,
                              mhgi_pol_file_loader load, void *ctx, mhgi_pol_errbuf *e) {
    mhg_status rc = MHG_OK;
    for (size_t i = 0; i < n && rc != MHG_ERR_NOMEM; i++) {
        char *path = mhgi_pol_path_join(dir, names[i]);
        mhg_status r = path ? load(ctx, path, names[i], e) : MHG_ERR_NOMEM;
        if (r != MHG_OK && (rc == MHG_OK || r == MHG_ERR_NOMEM)) rc = r;
        free(path);
    }
    return rc;
}

char *mhgi_pol_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return mhgi_pol_strdup(".");
    if (slash == path) return mhgi_pol_strdup("/");
    size_t n = (size_t)(slash - path);
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, path, n);
    s[n] = '\0';
    return s;
}

const char *mhgi_pol_default_data_dir(void) {
    const char *env = getenv("MHG_DATA_DIR");
    if (env && *env) return env;
    struct stat st;
    if (stat(MHG_SOURCE_DATA_DIR, &st) == 0 && S_ISDIR(st.st_mode)) return MHG_SOURCE_DATA_DIR;
    return MHG_INSTALL_DATA_DIR;
}

unsigned mhgi_pol_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return UINT_MAX;
    unsigned prev[65], cur[65];
    for (size_t j = 0; j <= lb; j++) prev[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            unsigned del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, sizeof(unsigned) * (lb + 1));
    }
    return prev[lb];
}

/* --------------------------------------------------------------- sbuf */

void mhgi_pol_sb_init(mhgi_pol_sbuf *b, size_t max) {
    b->s = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->oom = 0;
}

void mhgi_pol_sb_add(mhgi_pol_sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->max) {
        b->oom = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->len + n + 1) nc *= 2;
        if (nc > b->max) nc = b->max;
        char *ns = malloc(nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        /* copy-and-wipe rather than realloc: the text may be a reply */
        if (b->s) {
            memcpy(ns, b->s, b->len);
            mhg_memzero(b->s, b->cap);
            free(b->s);
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void mhgi_pol_sb_adds(mhgi_pol_sbuf *b, const char *s) { mhgi_pol_sb_add(b, s, strlen(s)); }

void mhgi_pol_sb_printf(mhgi_pol_sbuf *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = 1;
        return;
    }
    mhgi_pol_sb_add(b, tmp, (size_t)n);
}

char *mhgi_pol_sb_take(mhgi_pol_sbuf *b, size_t *len) {
    if (b->oom) {
        mhgi_pol_sb_free(b);
        if (len) *len = 0;
        return NULL;
    }
    if (!b->s) mhgi_pol_sb_add(b, "", 0);
    if (b->oom) return NULL;
    char *s = b->s;
    if (len) *len = b->len;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void mhgi_pol_sb_free(mhgi_pol_sbuf *b) {
    if (b->s) {
        mhg_memzero(b->s, b->cap);
        free(b->s);
    }
    b->s = NULL;
    b->len = b->cap = 0;
}
