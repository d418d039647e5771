/*
 * store.c - backend-neutral half of the store: URL parsing, validation,
 * connection pool, write lock, API key hashing and error text.
 * See docs/internals/store.md for the design.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "store/store_int.h"

#define MHGI_POOL_MAX 64
#define MHGI_POOL_DEFAULT 8

struct mhg_store {
    const struct mhg_store_ops *ops;
    mhgi_store_cfg cfg;
    pthread_mutex_t lock; /* guards idle/n_idle/n_open */
    pthread_cond_t cond;  /* signalled when a connection is returned */
    void *idle[MHGI_POOL_MAX];
    int n_idle;
    int n_open;
    /* Serializes writes inside this process. SQLite allows one writer at a
     * time anyway; queueing on a mutex is fair and cheap, while contending
     * on the database lock means sleeping in the busy handler. */
    pthread_mutex_t wlock;
};

const char mhgi_store_zero_hash[MHG_STORE_HASH_HEX] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* ---- errors ------------------------------------------------------------ */

/* Thread-local so that concurrent requests failing at once each read their
 * own message (the handle is shared by the whole thread pool). */
static _Thread_local char tl_errmsg[512];

void mhgi_store_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_errmsg, sizeof tl_errmsg, fmt, ap);
    va_end(ap);
}

const char *mhg_store_errmsg(const mhg_store *store) {
    (void)store;
    return tl_errmsg[0] ? tl_errmsg : "no error";
}

static void clear_error(void) { tl_errmsg[0] = '\0'; }

json_t *mhgi_json_str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

/* ---- small helpers ----------------------------------------------------- */

int64_t mhg_store_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *mhg_store_default_data_dir(void) {
    const char *e = getenv("MHG_DATA_HOME");
    return (e && *e) ? e : "./mhguard-data";
}

mhg_status mhg_store_random_id(const char *prefix, char *out, size_t outlen) {
    if (!out || outlen == 0) return MHG_ERR_INVALID;
    out[0] = '\0';
    if (!prefix) prefix = "";
    size_t plen = strlen(prefix);
    if (outlen < plen + 1 + 32 + 1) return MHG_ERR_TOO_BIG;
    if (sodium_init() < 0) return MHG_ERR_INTERNAL;
    unsigned char r[16];
    randombytes_buf(r, sizeof r);
    memcpy(out, prefix, plen);
    out[plen] = '_';
    sodium_bin2hex(out + plen + 1, 33, r, sizeof r);
    return MHG_OK;
}

static const char *const role_names[MHG_ROLE_COUNT] = {"app", "reviewer", "admin", "auditor",
                                                       "clinician"};
_Static_assert(sizeof role_names / sizeof role_names[0] == MHG_ROLE_COUNT,
               "role_names must name every role");

const char *mhg_role_name(mhg_role role) {
    return (unsigned)role < MHG_ROLE_COUNT ? role_names[role] : NULL;
}

mhg_status mhg_role_parse(const char *name, mhg_role *out) {
    if (!name || !out) return MHG_ERR_INVALID;
    for (int i = 0; i < MHG_ROLE_COUNT; i++)
        if (!strcmp(name, role_names[i])) {
            *out = (mhg_role)i;
            return MHG_OK;
        }
    return MHG_ERR_INVALID;
}

/* A required (or optional when !required) bounded UTF-8 field. */
static mhg_status check_field(const char *name, const char *v, int required) {
    if (!v) {
        if (!required) return MHG_OK;
        mhgi_store_error("missing required field '%s'", name);
        return MHG_ERR_INVALID;
    }
    size_t n = strlen(v);
    if (required && n == 0) {
        mhgi_store_error("required field '%s' is empty", name);
        return MHG_ERR_INVALID;
    }
    if (n > MHG_STORE_FIELD_MAX) {
        mhgi_store_error("field '%s' is %zu bytes (max %u)", name, n, MHG_STORE_FIELD_MAX);
        return MHG_ERR_TOO_BIG;
    }
    if (!mhg_utf8_valid(v, n)) {
        mhgi_store_error("field '%s' is not valid UTF-8", name);
        return MHG_ERR_UTF8;
    }
    return MHG_OK;
}

/* A short machine code: [a-z0-9_.:-], 1..64 chars. Codes (actions, outcomes,
 * reasons) end up in metrics labels, so free text is refused. */
static mhg_status check_code(const char *name, const char *v, int required) {
    if (!v) {
        if (!required) return MHG_OK;
        mhgi_store_error("missing required field '%s'", name);
        return MHG_ERR_INVALID;
    }
    size_t n = strlen(v);
    if (n == 0 || n > 64) {
        mhgi_store_error("field '%s' must be 1..64 characters", name);
        return MHG_ERR_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.' || c == ':')) {
            mhgi_store_error("field '%s' must be a short code of [a-z0-9_.:-]", name);
            return MHG_ERR_INVALID;
        }
    }
    return MHG_OK;
}

/* Parse a JSON array of short strings and return it re-serialized compactly
 * (malloc'd). NULL input gives "[]". */
static mhg_status canon_array(const char *name, const char *in, char **out) {
    *out = NULL;
    if (!in) {
        *out = strdup("[]");
        return *out ? MHG_OK : MHG_ERR_NOMEM;
    }
    size_t n = strlen(in);
    if (n > MHG_STORE_JSON_MAX) {
        mhgi_store_error("field '%s' is %zu bytes (max %u)", name, n, MHG_STORE_JSON_MAX);
        return MHG_ERR_TOO_BIG;
    }
    json_error_t jerr;
    json_t *a = json_loadb(in, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        mhgi_store_error("field '%s' must be a JSON array of strings", name);
        return MHG_ERR_INVALID;
    }
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) > MHG_STORE_FIELD_MAX) {
            json_decref(a);
            mhgi_store_error("field '%s' item %zu must be a string of at most %u bytes", name, i,
                             MHG_STORE_FIELD_MAX);
            return MHG_ERR_INVALID;
        }
    }
    *out = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(a);
    return *out ? MHG_OK : MHG_ERR_NOMEM;
}

static mhg_status check_decision(const mhg_store_decision *d, char **cats, char **evid) {
    mhg_status st;
    *cats = *evid = NULL;
    if (!d) {
        mhgi_store_error("decision is NULL");
        return MHG_ERR_INVALID;
    }
    st = check_field("decision_id", d->decision_id, 1);
    if (st != MHG_OK) return st;
    st = check_field("request_id", d->request_id, 1);
    if (st != MHG_OK) return st;
    st = check_field("user", d->user, 0);
    if (st != MHG_OK) return st;
    st = check_field("conversation", d->conversation, 0);
    if (st != MHG_OK) return st;
    st = check_field("engine_version", d->engine_version, 0);
    if (st != MHG_OK) return st;
    st = check_field("lexicon_version", d->lexicon_version, 0);
    if (st != MHG_OK) return st;
    st = check_field("model_version", d->model_version, 0);
    if (st != MHG_OK) return st;
    st = check_field("policy_version", d->policy_version, 0);
    if (st != MHG_OK) return st;
    st = check_field("actor", d->actor, 0);
    if (st != MHG_OK) return st;
    if (!d->kind || (strcmp(d->kind, "user_message") && strcmp(d->kind, "ai_reply"))) {
        mhgi_store_error("field 'kind' must be \"user_message\" or \"ai_reply\"");
        return MHG_ERR_INVALID;
    }
    mhg_level lv;
    if (!d->risk || mhg_level_parse(d->risk, &lv) != MHG_OK) {
        mhgi_store_error("field 'risk' must be a risk level name (none..imminent)");
        return MHG_ERR_INVALID;
    }
    st = check_code("action", d->action, 1);
    if (st != MHG_OK) return st;
    if (d->time_ms <= 0) {
        mhgi_store_error("field 'time_ms' must be a positive epoch time in ms");
        return MHG_ERR_INVALID;
    }
    st = canon_array("categories_json", d->categories_json, cats);
    if (st != MHG_OK) return st;
    st = canon_array("evidence_json", d->evidence_json, evid);
    if (st != MHG_OK) {
        free(*cats);
        *cats = NULL;
        return st;
    }
    return MHG_OK;
}

/* ---- URL parsing ------------------------------------------------------- */

static mhg_status parse_int_opt(const char *key, const char *v, long lo, long hi, long *out,
                                char *err, size_t errlen) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        snprintf(err, errlen, "store URL option %s=%s must be an integer in %ld..%ld", key, v, lo,
                 hi);
        return MHG_ERR_INVALID;
    }
    *out = x;
    return MHG_OK;
}

/* mkdir -p with mode 0700 for the components that do not exist yet. */
static int mkdir_p(const char *path) {
    char buf[MHG_STORE_URL_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return -1;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
            buf[i] = c;
        }
    }
    struct stat sb;
    return (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) ? 0 : -1;
}

static mhg_status parse_url(const char *url, mhgi_store_cfg *cfg,
                            const struct mhg_store_ops **ops, char *err, size_t errlen) {
    memset(cfg, 0, sizeof *cfg);
    cfg->pool = MHGI_POOL_DEFAULT;
    cfg->busy_ms = 5000;
    if (!url || !*url) {
        snprintf(err, errlen, "empty store URL");
        return MHG_ERR_INVALID;
    }
    if (strlen(url) >= MHG_STORE_URL_MAX) {
        snprintf(err, errlen, "store URL too long");
        return MHG_ERR_TOO_BIG;
    }
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
#ifdef MHG_HAVE_LIBPQ
        *ops = &mhgi_store_pg_ops;
        cfg->target = strdup(url);
        return cfg->target ? MHG_OK : MHG_ERR_NOMEM;
#else
        snprintf(err, errlen, "this mhguard was built without PostgreSQL support (libpq)");
        return MHG_ERR_INVALID;
#endif
    }
    *ops = &mhgi_store_sqlite_ops;
    int is_dir_form = 1;
    const char *rest = url;
    if (!strncmp(url, "sqlite:", 7)) {
        rest = url + 7;
        is_dir_form = 0;
        if (!strncmp(rest, "//", 2)) rest += 2; /* sqlite:///abs/path */
    } else if (strstr(url, "://")) {
        snprintf(err, errlen, "unsupported store URL scheme in '%s' (use sqlite:PATH, a "
                              "directory, or postgres://...)", url);
        return MHG_ERR_INVALID;
    }
    char *copy = strdup(rest);
    if (!copy) return MHG_ERR_NOMEM;
    char *q = strchr(copy, '?');
    if (q) *q++ = '\0';
    mhg_status st = MHG_OK;
    while (q && *q && st == MHG_OK) {
        char *amp = strchr(q, '&');
        if (amp) *amp++ = '\0';
        char *eq = strchr(q, '=');
        if (!eq) {
            snprintf(err, errlen, "store URL option '%s' needs a value", q);
            st = MHG_ERR_INVALID;
            break;
        }
        *eq++ = '\0';
        long v = 0;
        if (!strcmp(q, "mode")) {
            if (!strcmp(eq, "rwc")) cfg->mode = MHGI_STORE_RWC;
            else if (!strcmp(eq, "rw")) cfg->mode = MHGI_STORE_RW;
            else if (!strcmp(eq, "ro")) cfg->mode = MHGI_STORE_RO;
            else {
                snprintf(err, errlen, "store URL option mode=%s must be rwc, rw or ro", eq);
                st = MHG_ERR_INVALID;
            }
        } else if (!strcmp(q, "pool")) {
            st = parse_int_opt(q, eq, 1, MHGI_POOL_MAX, &v, err, errlen);
            if (st == MHG_OK)
                cfg->pool = (int)v;
        } else if (!strcmp(q, "busy_ms")) {
            st = parse_int_opt(q, eq, 0, 600000, &v, err, errlen);
            if (st == MHG_OK)
                cfg->busy_ms = (int)v;
        } else if (!strcmp(q, "max_pages")) {
            st = parse_int_opt(q, eq, 1, LONG_MAX, &v, err, errlen);
            if (st == MHG_OK)
                cfg->max_pages = v;
        } else if (!strcmp(q, "sync")) {
            if (!strcmp(eq, "full")) cfg->sync_full = 1;
            else if (!strcmp(eq, "normal")) cfg->sync_full = 0;
            else {
                snprintf(err, errlen, "store URL option sync=%s must be normal or full", eq);
                st = MHG_ERR_INVALID;
            }
        } else {
            snprintf(err, errlen, "unknown store URL option '%s' (mode, pool, busy_ms, sync, "
                                  "max_pages)", q);
            st = MHG_ERR_INVALID;
        }
        q = amp;
    }
    if (st != MHG_OK) {
        free(copy);
        return st;
    }
    if (!*copy) {
        free(copy);
        snprintf(err, errlen, "store URL has no path");
        return MHG_ERR_INVALID;
    }
    struct stat sb;
    int exists_dir = stat(copy, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (is_dir_form || exists_dir) {
        /* A data directory: the database is <dir>/mhguard.db. */
        if (!exists_dir) {
            if (cfg->mode != MHGI_STORE_RWC) {
                snprintf(err, errlen, "data directory '%s' does not exist", copy);
                free(copy);
                return MHG_ERR_STORE;
            }
            if (mkdir_p(copy) != 0) {
                snprintf(err, errlen, "cannot create data directory '%s': %s", copy,
                         strerror(errno));
                free(copy);
                return MHG_ERR_STORE;
            }
        }
        size_t n = strlen(copy) + sizeof "/mhguard.db";
        cfg->target = malloc(n);
        if (!cfg->target) {
            free(copy);
            return MHG_ERR_NOMEM;
        }
        snprintf(cfg->target, n, "%s/mhguard.db", copy);
        free(copy);
    } else {
        cfg->target = copy;
    }
    return MHG_OK;
}

/* ---- pool -------------------------------------------------------------- */

static mhg_status borrow(mhg_store *s, void **conn) {
    *conn = NULL;
    pthread_mutex_lock(&s->lock);
    while (s->n_idle == 0 && s->n_open >= s->cfg.pool) pthread_cond_wait(&s->cond, &s->lock);
    if (s->n_idle > 0) {
        *conn = s->idle[--s->n_idle];
        pthread_mutex_unlock(&s->lock);
        return MHG_OK;
    }
    s->n_open++;
    pthread_mutex_unlock(&s->lock);
    /* Connect outside the lock: it may take a while (network, migration). */
    mhg_status st = s->ops->xConnect(&s->cfg, conn);
    if (st != MHG_OK) {
        *conn = NULL;
        pthread_mutex_lock(&s->lock);
        s->n_open--;
        pthread_cond_signal(&s->cond);
        pthread_mutex_unlock(&s->lock);
    }
    return st;
}

static void give_back(mhg_store *s, void *conn) {
    if (!conn) return;
    int usable = s->ops->xUsable(conn);
    if (!usable) s->ops->xDisconnect(conn);
    pthread_mutex_lock(&s->lock);
    if (usable) s->idle[s->n_idle++] = conn;
    else s->n_open--;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static mhg_status check_writable(mhg_store *s) {
    if (s->cfg.mode == MHGI_STORE_RO) {
        mhgi_store_error("store was opened read-only (mode=ro)");
        return MHG_ERR_STORE;
    }
    return MHG_OK;
}

/* Borrow a connection (taking the write lock first for writes). */
static mhg_status begin_op(mhg_store *s, int write, void **conn) {
    *conn = NULL;
    clear_error();
    if (!s) {
        mhgi_store_error("store handle is NULL");
        return MHG_ERR_INVALID;
    }
    if (write) {
        mhg_status st = check_writable(s);
        if (st != MHG_OK) return st;
        pthread_mutex_lock(&s->wlock);
    }
    mhg_status st = borrow(s, conn);
    if (st == MHG_OK && write && s->ops->xWritable && (st = s->ops->xWritable(*conn)) != MHG_OK) {
        give_back(s, *conn);
        *conn = NULL;
    }
    if (st != MHG_OK && write) pthread_mutex_unlock(&s->wlock);
    return st;
}

static void end_op(mhg_store *s, int write, void *conn) {
    give_back(s, conn);
    if (write) pthread_mutex_unlock(&s->wlock);
}

/* ---- open / close ------------------------------------------------------ */

mhg_status mhg_store_open(const char *url, mhg_store **out, char *err, size_t errlen) {
    char dummy[1];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    clear_error();
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return MHG_ERR_INTERNAL;
    }
    mhg_store *s = calloc(1, sizeof *s);
    if (!s) return MHG_ERR_NOMEM;
    mhg_status st = parse_url(url, &s->cfg, &s->ops, err, errlen);
    if (st != MHG_OK) {
        free(s->cfg.target);
        free(s);
        return st;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_init(&s->wlock, NULL);

    /* First connection: migrate (or check the schema when read-only). */
    void *conn = NULL;
    st = s->ops->xConnect(&s->cfg, &conn);
    if (st == MHG_OK) st = s->ops->xMigrate(conn, &s->cfg);
    if (st != MHG_OK) {
        snprintf(err, errlen, "%s", mhg_store_errmsg(s));
        if (conn) s->ops->xDisconnect(conn);
        mhg_store_close(s);
        return st;
    }
    s->idle[s->n_idle++] = conn;
    s->n_open = 1;
    *out = s;
    return MHG_OK;
}

void mhg_store_close(mhg_store *store) {
    if (!store) return;
    for (int i = 0; i < store->n_idle; i++) store->ops->xDisconnect(store->idle[i]);
    pthread_mutex_destroy(&store->lock);
    pthread_cond_destroy(&store->cond);
    pthread_mutex_destroy(&store->wlock);
    free(store->cfg.target);
    free(store);
}

const char *mhg_store_backend(const mhg_store *store) {
    return store ? store->ops->zName : "none";
}

mhg_status mhg_store_ping(mhg_store *store) {
    int v = 0;
    return mhg_store_schema_version(store, &v);
}

mhg_status mhg_store_schema_version(mhg_store *store, int *version_out) {
    if (!version_out) return MHG_ERR_INVALID;
    *version_out = 0;
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    st = store->ops->xSchemaVersion(c, version_out);
    end_op(store, 0, c);
    if (st != MHG_OK) *version_out = 0;
    return st;
}

/* Turn a backend JSON value into a malloc'd string (consumes j). */
static mhg_status dump_json(json_t *j, char **out) {
    *out = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    if (!*out) {
        mhgi_store_error("out of memory serialising JSON");
        return MHG_ERR_NOMEM;
    }
    return MHG_OK;
}

/* ---- decisions --------------------------------------------------------- */

mhg_status mhg_store_decision_insert(mhg_store *store, const mhg_store_decision *d) {
    char *cats, *evid;
    clear_error();
    mhg_status st = check_decision(d, &cats, &evid);
    if (st != MHG_OK) return st;
    void *c;
    st = begin_op(store, 1, &c);
    if (st == MHG_OK) {
        st = store->ops->xDecisionInsert(c, d, cats, evid);
        end_op(store, 1, c);
    }
    free(cats);
    free(evid);
    return st;
}

mhg_status mhg_store_decision_get(mhg_store *store, const char *decision_id, char **json_out) {
    if (!json_out) return MHG_ERR_INVALID;
    *json_out = NULL;
    clear_error();
    mhg_status st = check_field("decision_id", decision_id, 1);
    if (st != MHG_OK) return st;
    void *c;
    st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    json_t *j = NULL;
    st = store->ops->xDecisionGet(c, decision_id, &j);
    end_op(store, 0, c);
    if (st != MHG_OK) return st;
    return dump_json(j, json_out);
}

mhg_status mhg_store_decision_count(mhg_store *store, int64_t *count_out) {
    if (!count_out) return MHG_ERR_INVALID;
    *count_out = 0;
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    st = store->ops->xDecisionCount(c, count_out);
    end_op(store, 0, c);
    if (st != MHG_OK) *count_out = 0;
    return st;
}

/* ---- review queue ------------------------------------------------------ */

mhg_status mhg_store_review_enqueue(mhg_store *store, const mhg_store_review_item *item,
                                    int64_t *id_out) {
    if (id_out) *id_out = 0;
    clear_error();
    if (!item) {
        mhgi_store_error("review item is NULL");
        return MHG_ERR_INVALID;
    }
    mhg_status st;
    mhg_level lv;
    st = check_field("decision_id", item->decision_id, 1);
    if (st != MHG_OK) return st;
    if (!item->level || mhg_level_parse(item->level, &lv) != MHG_OK) {
        mhgi_store_error("field 'level' must be a risk level name (none..imminent)");
        return MHG_ERR_INVALID;
    }
    st = check_code("reason", item->reason, 0);
    if (st != MHG_OK) return st;
    if (item->sla_due_ms <= 0) {
        mhgi_store_error("field 'sla_due_ms' must be a positive epoch time in ms");
        return MHG_ERR_INVALID;
    }
    int64_t now = item->created_ms > 0 ? item->created_ms : mhg_store_now_ms();
    void *c;
    st = begin_op(store, 1, &c);
    if (st != MHG_OK) return st;
    int64_t id = 0;
    st = store->ops->xReviewEnqueue(c, item, now, &id);
    end_op(store, 1, c);
    if (st == MHG_OK && id_out) *id_out = id;
    return st;
}

mhg_status mhg_store_review_list(mhg_store *store, const char *state, size_t limit,
                                 char **json_out) {
    if (!json_out) return MHG_ERR_INVALID;
    *json_out = NULL;
    clear_error();
    if (state && strcmp(state, "open") && strcmp(state, "claimed") && strcmp(state, "resolved")) {
        mhgi_store_error("review state must be open, claimed or resolved");
        return MHG_ERR_INVALID;
    }
    if (limit == 0) limit = 100;
    if (limit > 1000) limit = 1000;
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    json_t *j = NULL;
    st = store->ops->xReviewList(c, state, limit, 0, &j);
    end_op(store, 0, c);
    if (st != MHG_OK) return st;
    return dump_json(j, json_out);
}

mhg_status mhg_store_review_get(mhg_store *store, int64_t id, char **json_out) {
    if (!json_out) return MHG_ERR_INVALID;
    *json_out = NULL;
    clear_error();
    if (id <= 0) {
        mhgi_store_error("no review item %lld", (long long)id);
        return MHG_ERR_NOT_FOUND;
    }
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    json_t *j = NULL;
    st = store->ops->xReviewList(c, NULL, 1, id, &j);
    end_op(store, 0, c);
    if (st != MHG_OK) return st;
    if (json_array_size(j) == 0) {
        json_decref(j);
        mhgi_store_error("no review item %lld", (long long)id);
        return MHG_ERR_NOT_FOUND;
    }
    json_t *item = json_incref(json_array_get(j, 0));
    json_decref(j);
    return dump_json(item, json_out);
}

mhg_status mhg_store_review_claim(mhg_store *store, int64_t id, const char *reviewer) {
    clear_error();
    mhg_status st = check_field("reviewer", reviewer, 1);
    if (st != MHG_OK) return st;
    void *c;
    st = begin_op(store, 1, &c);
    if (st != MHG_OK) return st;
    st = store->ops->xReviewClaim(c, id, reviewer, mhg_store_now_ms());
    end_op(store, 1, c);
    return st;
}

mhg_status mhg_store_review_resolve(mhg_store *store, int64_t id, const char *reviewer,
                                    const char *outcome, const char *note) {
    clear_error();
    mhg_status st;
    st = check_field("reviewer", reviewer, 1);
    if (st != MHG_OK) return st;
    st = check_code("outcome", outcome, 1);
    if (st != MHG_OK) return st;
    if (note) {
        size_t n = strlen(note);
        if (n > MHG_STORE_NOTE_MAX) {
            mhgi_store_error("note is %zu bytes (max %u)", n, MHG_STORE_NOTE_MAX);
            return MHG_ERR_TOO_BIG;
        }
        if (!mhg_utf8_valid(note, n)) {
            mhgi_store_error("note is not valid UTF-8");
            return MHG_ERR_UTF8;
        }
    }
    void *c;
    st = begin_op(store, 1, &c);
    if (st != MHG_OK) return st;
    st = store->ops->xReviewResolve(c, id, reviewer, outcome, note, mhg_store_now_ms());
    end_op(store, 1, c);
    return st;
}

mhg_status mhg_store_review_count_open(mhg_store *store, int64_t now_ms, int64_t *open_out,
                                       int64_t *overdue_out) {
    if (!open_out) return MHG_ERR_INVALID;
    *open_out = 0;
    if (overdue_out) *overdue_out = 0;
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    int64_t o = 0, od = 0;
    st = store->ops->xReviewCount(c, now_ms, &o, &od);
    end_op(store, 0, c);
    if (st != MHG_OK) return st;
    *open_out = o;
    if (overdue_out) *overdue_out = od;
    return MHG_OK;
}

/* ---- API keys ---------------------------------------------------------- */

/* Keys carry 256 random bits, so a fast keyed hash is enough: there is
 * nothing to brute-force and a slow KDF (crypto_pwhash) would cost
 * milliseconds on every request. The BLAKE2b key is a fixed domain
 * separator, not a secret: tying key verification to secret.key would make
 * every API key unusable if that file were lost or rotated, for no gain
 * against 256-bit tokens. */
static const unsigned char key_domain[32] = "mhguard/api-key/v1/blake2b-256..";

static void hash_key(const char *key, size_t len, uint8_t out[32]) {
    crypto_generichash(out, 32, (const unsigned char *)key, len, key_domain, sizeof key_domain);
}

/* Prefix shown by `keys list` to recognise a key without revealing it. */
static void key_prefix(const char *key, size_t len, char out[24]) {
    size_t n = 0;
    if (len > 4 && !strncmp(key, "mhg_", 4)) {
        const char *us = memchr(key + 4, '_', len - 4);
        if (us) n = (size_t)(us - key) + 1 + 6; /* "mhg_<role>_" + 6 chars */
    }
    if (n == 0 || n > len || n > 23) n = len < 4 ? len : 4;
    memcpy(out, key, n);
    out[n] = '\0';
}

static mhg_status check_label(const char *label) {
    mhg_status st = check_field("label", label, 0);
    if (st != MHG_OK) return st;
    if (label)
        for (const char *p = label; *p; p++)
            if ((unsigned char)*p < 0x20) {
                mhgi_store_error("label must not contain control characters");
                return MHG_ERR_INVALID;
            }
    return MHG_OK;
}

static mhg_status insert_key(mhg_store *store, mhg_role role, const char *label, const char *key,
                             size_t len, int64_t *id_out, int allow_existing) {
    uint8_t h[32];
    char prefix[24];
    hash_key(key, len, h);
    key_prefix(key, len, prefix);
    void *c;
    mhg_status st = begin_op(store, 1, &c);
    if (st != MHG_OK) return st;
    int64_t id = 0;
    int revoked = 0;
    st = store->ops->xKeyInsert(c, h, mhg_role_name(role), label, prefix, mhg_store_now_ms(), &id,
                                &revoked);
    end_op(store, 1, c);
    if (st == MHG_ERR_INVALID && allow_existing && id > 0) {
        if (revoked) {
            mhgi_store_error("this key was registered before and revoked; use a new key");
            return MHG_ERR_INVALID;
        }
        st = MHG_OK; /* already registered: idempotent import */
    }
    if (st == MHG_OK && id_out) *id_out = id;
    return st;
}

mhg_status mhg_store_key_create(mhg_store *store, mhg_role role, const char *label,
                                char key_out[MHG_STORE_KEY_MAX], int64_t *id_out) {
    if (id_out) *id_out = 0;
    if (!key_out) return MHG_ERR_INVALID;
    key_out[0] = '\0';
    clear_error();
    const char *rn = mhg_role_name(role);
    if (!rn) {
        mhgi_store_error("unknown role %d", (int)role);
        return MHG_ERR_INVALID;
    }
    mhg_status st = check_label(label);
    if (st != MHG_OK) return st;
    unsigned char r[32];
    randombytes_buf(r, sizeof r);
    int n = snprintf(key_out, MHG_STORE_KEY_MAX, "mhg_%s_", rn);
    sodium_bin2base64(key_out + n, MHG_STORE_KEY_MAX - (size_t)n, r, sizeof r,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(r, sizeof r);
    st = insert_key(store, role, label, key_out, strlen(key_out), id_out, 0);
    if (st != MHG_OK) sodium_memzero(key_out, MHG_STORE_KEY_MAX);
    return st;
}

mhg_status mhg_store_key_import(mhg_store *store, mhg_role role, const char *label,
                                const char *key, size_t len, int64_t *id_out) {
    if (id_out) *id_out = 0;
    clear_error();
    if (!mhg_role_name(role)) {
        mhgi_store_error("unknown role %d", (int)role);
        return MHG_ERR_INVALID;
    }
    if (!key || len < 16 || len >= MHG_STORE_KEY_MAX) {
        mhgi_store_error("an API key must be 16..%u characters", MHG_STORE_KEY_MAX - 1);
        return MHG_ERR_INVALID;
    }
    for (size_t i = 0; i < len; i++)
        if (key[i] < 0x21 || key[i] > 0x7e) {
            mhgi_store_error("an API key must be printable ASCII without spaces");
            return MHG_ERR_INVALID;
        }
    mhg_status st = check_label(label);
    if (st != MHG_OK) return st;
    return insert_key(store, role, label, key, len, id_out, 1);
}

mhg_status mhg_store_key_lookup(mhg_store *store, const char *key, size_t len,
                                mhg_role *role_out, int64_t *id_out) {
    if (id_out) *id_out = 0;
    clear_error();
    if (!key || len == 0 || len >= MHG_STORE_KEY_MAX) {
        mhgi_store_error("invalid API key");
        return MHG_ERR_AUTH;
    }
    uint8_t h[32], stored[32];
    char role[32] = "";
    hash_key(key, len, h);
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    int64_t id = 0;
    int revoked = 1;
    st = store->ops->xKeyFind(c, h, stored, role, &id, &revoked);
    end_op(store, 0, c);
    if (st == MHG_ERR_NOT_FOUND) {
        mhgi_store_error("invalid API key");
        return MHG_ERR_AUTH;
    }
    if (st != MHG_OK) return st;
    /* Constant-time compare of what the index returned (style rule 9). */
    mhg_role r;
    if (sodium_memcmp(stored, h, 32) != 0 || revoked || mhg_role_parse(role, &r) != MHG_OK) {
        mhgi_store_error("invalid API key");
        return MHG_ERR_AUTH;
    }
    if (role_out) *role_out = r;
    if (id_out) *id_out = id;
    return MHG_OK;
}

mhg_status mhg_store_key_revoke(mhg_store *store, int64_t id) {
    void *c;
    mhg_status st = begin_op(store, 1, &c);
    if (st != MHG_OK) return st;
    st = store->ops->xKeyRevoke(c, id, mhg_store_now_ms());
    end_op(store, 1, c);
    return st;
}

mhg_status mhg_store_key_list(mhg_store *store, char **json_out) {
    if (!json_out) return MHG_ERR_INVALID;
    *json_out = NULL;
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    json_t *j = NULL;
    st = store->ops->xKeyList(c, &j);
    end_op(store, 0, c);
    if (st != MHG_OK) return st;
    return dump_json(j, json_out);
}

/* ---- conversation state ------------------------------------------------ */

mhg_status mhg_store_conv_get(mhg_store *store, const char *conversation, char **json_out,
                              size_t *len_out) {
    if (len_out) *len_out = 0;
    if (!json_out) return MHG_ERR_INVALID;
    *json_out = NULL;
    clear_error();
    mhg_status st = check_field("conversation", conversation, 1);
    if (st != MHG_OK) return st;
    void *c;
    st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    size_t n = 0;
    st = store->ops->xConvGet(c, conversation, json_out, &n);
    end_op(store, 0, c);
    if (st != MHG_OK) {
        free(*json_out);
        *json_out = NULL;
        return st;
    }
    if (len_out) *len_out = n;
    return MHG_OK;
}

mhg_status mhg_store_conv_put(mhg_store *store, const char *conversation, const char *json,
                              size_t len) {
    clear_error();
    mhg_status st = check_field("conversation", conversation, 1);
    if (st != MHG_OK) return st;
    if (!json) {
        mhgi_store_error("conversation state is NULL");
        return MHG_ERR_INVALID;
    }
    if (len > MHG_STORE_BLOB_MAX) {
        mhgi_store_error("conversation state is %zu bytes (max %u)", len, MHG_STORE_BLOB_MAX);
        return MHG_ERR_TOO_BIG;
    }
    if (!mhg_utf8_valid(json, len) || memchr(json, '\0', len)) {
        mhgi_store_error("conversation state must be UTF-8 text without NUL bytes");
        return MHG_ERR_UTF8;
    }
    void *c;
    st = begin_op(store, 1, &c);
    if (st != MHG_OK) return st;
    st = store->ops->xConvPut(c, conversation, json, len, mhg_store_now_ms());
    end_op(store, 1, c);
    return st;
}

mhg_status mhg_store_conv_delete(mhg_store *store, const char *conversation) {
    clear_error();
    mhg_status st = check_field("conversation", conversation, 1);
    if (st != MHG_OK) return st;
    void *c;
    st = begin_op(store, 1, &c);
    if (st != MHG_OK) return st;
    st = store->ops->xConvDelete(c, conversation);
    end_op(store, 1, c);
    return st;
}

mhg_status mhg_store_conv_purge(mhg_store *store, int64_t before_ms, int64_t *deleted_out) {
    if (deleted_out) *deleted_out = 0;
    void *c;
    mhg_status st = begin_op(store, 1, &c);
    if (st != MHG_OK) return st;
    int64_t n = 0;
    st = store->ops->xConvPurge(c, before_ms, &n);
    end_op(store, 1, c);
    if (st == MHG_OK && deleted_out) *deleted_out = n;
    return st;
}

/* ---- audit rows -------------------------------------------------------- */

/* Wraps the caller's builder so that its failure leaves a message too. */
typedef struct build_tramp {
    mhg_store_audit_build_fn build;
    void *ctx;
} build_tramp;

static mhg_status tramp_build(void *ctx, int64_t seq, const char *prev_hash, char **record_out,
                              char hash_out[MHG_STORE_HASH_HEX]) {
    build_tramp *t = ctx;
    mhg_status st = t->build(t->ctx, seq, prev_hash, record_out, hash_out);
    if (st == MHG_ERR_STORE)
        mhgi_store_error("cannot extend the audit chain after record %lld: its stored hash is "
                         "malformed (tampering?); run `mhguard audit verify`",
                         (long long)(seq - 1));
    else if (st != MHG_OK)
        mhgi_store_error("cannot build audit record %lld: %s", (long long)seq, mhg_strerror(st));
    return st;
}

mhg_status mhg_store_audit_append(mhg_store *store, const mhg_store_decision *decision,
                                  mhg_store_audit_build_fn build, void *ctx, int64_t *seq_out) {
    if (seq_out) *seq_out = 0;
    clear_error();
    if (!build) {
        mhgi_store_error("audit append needs a build function");
        return MHG_ERR_INVALID;
    }
    char *cats = NULL, *evid = NULL;
    mhg_status st;
    if (decision && (st = check_decision(decision, &cats, &evid)) != MHG_OK) return st;
    void *c;
    st = begin_op(store, 1, &c);
    if (st == MHG_OK) {
        int64_t seq = 0;
        build_tramp t = {build, ctx};
        st = store->ops->xAuditAppend(c, decision, cats, evid, tramp_build, &t, &seq);
        end_op(store, 1, c);
        if (st == MHG_OK && seq_out) *seq_out = seq;
    }
    free(cats);
    free(evid);
    return st;
}

mhg_status mhg_store_audit_iterate(mhg_store *store, int64_t from_seq, mhg_store_audit_row_fn fn,
                                   void *ctx) {
    clear_error();
    if (!fn) {
        mhgi_store_error("audit iterate needs a callback");
        return MHG_ERR_INVALID;
    }
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    st = store->ops->xAuditIterate(c, from_seq, fn, ctx);
    end_op(store, 0, c);
    return st;
}

mhg_status mhg_store_audit_head(mhg_store *store, int64_t *seq_out,
                                char hash_out[MHG_STORE_HASH_HEX]) {
    if (seq_out) *seq_out = 0;
    if (hash_out) memcpy(hash_out, mhgi_store_zero_hash, MHG_STORE_HASH_HEX);
    void *c;
    mhg_status st = begin_op(store, 0, &c);
    if (st != MHG_OK) return st;
    int64_t seq = 0;
    char h[MHG_STORE_HASH_HEX];
    memcpy(h, mhgi_store_zero_hash, sizeof h);
    st = store->ops->xAuditHead(c, &seq, h);
    end_op(store, 0, c);
    if (st != MHG_OK) return st;
    if (seq_out) *seq_out = seq;
    if (hash_out) memcpy(hash_out, h, MHG_STORE_HASH_HEX);
    return MHG_OK;
}
