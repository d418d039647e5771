/*
 * store_int.h - the store's backend interface (never installed).
 *
 * store.c owns everything backend-neutral: URL parsing, input validation,
 * the connection pool, the in-process write lock, key hashing and the
 * thread-local error message. A backend (sqlite.c, pg.c) only turns each
 * operation into SQL on one connection it is lent; it never sees another
 * thread's connection and never includes another backend (style guide
 * rule 11). Adding a backend = one new file + one line in store.c.
 *
 * Contract for every x-method:
 *   - conn was produced by this backend's xConnect and is used by one thread.
 *   - inputs were already validated by store.c (required fields present,
 *     lengths bounded, JSON arrays canonicalised).
 *   - on failure call mhgi_store_error() with a message and return the code;
 *     out-params are left for store.c to reset.
 *   - write methods run under the store's write lock and open their own
 *     transaction (so they stay atomic against other processes too).
 */
#ifndef MHG_STORE_INT_H
#define MHG_STORE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mhguard/store.h"

/* PostgreSQL backend when libpq is available (CMake links it when found). */
#if defined(__has_include)
#if __has_include(<libpq-fe.h>)
#define MHG_HAVE_LIBPQ 1
#endif
#endif

typedef enum mhgi_store_mode {
    MHGI_STORE_RWC = 0, /* read-write, create if missing, migrate */
    MHGI_STORE_RW,      /* read-write, must exist, migrate */
    MHGI_STORE_RO       /* read-only, no migration */
} mhgi_store_mode;

/* Parsed configuration handed to the backend. */
typedef struct mhgi_store_cfg {
    char *target;       /* sqlite: file path; postgres: libpq conninfo/URL */
    mhgi_store_mode mode;
    int pool;           /* max connections */
    int busy_ms;        /* sqlite busy timeout / pg lock_timeout */
    long max_pages;     /* sqlite: PRAGMA max_page_count (0 = default); tests */
    int sync_full;      /* sqlite: synchronous=FULL instead of NORMAL */
} mhgi_store_cfg;

struct mhg_store_ops {
    const char *zName; /* "sqlite", "postgres" */

    /* Connections. xUsable returns 0 when the connection should be dropped
     * rather than returned to the pool (lost server connection). */
    mhg_status (*xConnect)(const mhgi_store_cfg *cfg, void **conn_out);
    void (*xDisconnect)(void *conn);
    int (*xUsable)(void *conn);
    /* Optional, called before every write: refuse to write when the
     * database is known to be gone (e.g. its file was deleted while open,
     * where SQLite in WAL mode would otherwise write into the void). */
    mhg_status (*xWritable)(void *conn);

    /* Schema: bring the database to MHG_STORE_SCHEMA_VERSION (idempotent),
     * or in read-only mode check it is already there. */
    mhg_status (*xMigrate)(void *conn, const mhgi_store_cfg *cfg);
    mhg_status (*xSchemaVersion)(void *conn, int *version_out);

    /* Decisions. categories/evidence are canonical JSON arrays (non-NULL). */
    mhg_status (*xDecisionInsert)(void *conn, const mhg_store_decision *d,
                                  const char *categories, const char *evidence);
    mhg_status (*xDecisionGet)(void *conn, const char *decision_id, json_t **out);
    mhg_status (*xDecisionCount)(void *conn, int64_t *count_out);

    /* Review queue. xReviewList: id > 0 selects one item (state ignored). */
    mhg_status (*xReviewEnqueue)(void *conn, const mhg_store_review_item *item, int64_t now_ms,
                                 int64_t *id_out);
    mhg_status (*xReviewList)(void *conn, const char *state, size_t limit, int64_t id,
                              json_t **out);
    mhg_status (*xReviewClaim)(void *conn, int64_t id, const char *reviewer, int64_t now_ms);
    mhg_status (*xReviewResolve)(void *conn, int64_t id, const char *reviewer,
                                 const char *outcome, const char *note, int64_t now_ms);
    mhg_status (*xReviewCount)(void *conn, int64_t now_ms, int64_t *open_out,
                               int64_t *overdue_out);

    /* API keys: only hashes reach the backend. xKeyInsert returns
     * MHG_ERR_INVALID (and the existing id in *id_out, revoked flag in
     * *revoked_out) when the hash is already present. xKeyFind:
     * MHG_ERR_NOT_FOUND when absent; revoked_out = 1 if revoked. */
    mhg_status (*xKeyInsert)(void *conn, const uint8_t hash[32], const char *role,
                             const char *label, const char *prefix, int64_t now_ms,
                             int64_t *id_out, int *revoked_out);
    mhg_status (*xKeyFind)(void *conn, const uint8_t hash[32], uint8_t stored_out[32],
                           char role_out[32], int64_t *id_out, int *revoked_out);
    mhg_status (*xKeyRevoke)(void *conn, int64_t id, int64_t now_ms);
    mhg_status (*xKeyList)(void *conn, json_t **out);

    /* Conversation state. */
    mhg_status (*xConvGet)(void *conn, const char *conv, char **json_out, size_t *len_out);
    mhg_status (*xConvPut)(void *conn, const char *conv, const char *json, size_t len,
                           int64_t now_ms);
    mhg_status (*xConvDelete)(void *conn, const char *conv);
    mhg_status (*xConvPurge)(void *conn, int64_t before_ms, int64_t *deleted_out);

    /* Audit chain. xAuditAppend: one transaction that inserts the decision
     * (if not NULL; categories/evidence as for xDecisionInsert), reads the
     * head, calls build and inserts the row. */
    mhg_status (*xAuditAppend)(void *conn, const mhg_store_decision *d, const char *categories,
                               const char *evidence, mhg_store_audit_build_fn build, void *ctx,
                               int64_t *seq_out);
    mhg_status (*xAuditIterate)(void *conn, int64_t from_seq, mhg_store_audit_row_fn fn,
                                void *ctx);
    mhg_status (*xAuditHead)(void *conn, int64_t *seq_out, char hash_out[MHG_STORE_HASH_HEX]);
};

extern const struct mhg_store_ops mhgi_store_sqlite_ops;
#ifdef MHG_HAVE_LIBPQ
extern const struct mhg_store_ops mhgi_store_pg_ops;
#endif

/* Set the calling thread's store error message (printf-style). */
void mhgi_store_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 64 hex zeros: prev_hash of the first audit record. */
extern const char mhgi_store_zero_hash[MHG_STORE_HASH_HEX];

/* JSON helpers shared by backends: a string or null. */
json_t *mhgi_json_str_or_null(const char *s);

#endif
