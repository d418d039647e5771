/*
 * pg.c - PostgreSQL backend of the store (libpq), for deployments that run
 * several gateway instances against one database.
 *
 * Same tables and semantics as sqlite.c. Differences that matter:
 *   - the audit append takes LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE
 *     MODE inside its transaction, which serializes appends across every
 *     gateway process (readers are not blocked), so the chain cannot fork;
 *   - migrations hold a transaction-scoped advisory lock so that instances
 *     starting together migrate once;
 *   - a connection whose server went away is dropped from the pool
 *     (xUsable) and the next call reconnects;
 *   - the audit walk uses single-row mode so a long chain is not loaded
 *     into memory at once.
 * Built only when libpq is available (MHG_HAVE_LIBPQ, see store_int.h).
 */
#include "store/store_int.h"

#ifdef MHG_HAVE_LIBPQ

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

/* Same schema as sqlite.c, in PostgreSQL types. key_hash is hex text. */
static const char *const pg_migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE decisions("
    "  decision_id TEXT PRIMARY KEY,"
    "  request_id TEXT NOT NULL,"
    "  time_ms BIGINT NOT NULL,"
    "  user_id TEXT,"
    "  conversation_id TEXT,"
    "  kind TEXT NOT NULL CHECK (kind IN ('user_message','ai_reply')),"
    "  risk TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  categories TEXT NOT NULL,"
    "  evidence TEXT NOT NULL,"
    "  engine_version TEXT, lexicon_version TEXT, model_version TEXT, policy_version TEXT,"
    "  actor TEXT);"
    "CREATE INDEX decisions_time ON decisions(time_ms);"
    "CREATE INDEX decisions_conversation ON decisions(conversation_id);"
    "CREATE TABLE review_queue("
    "  id BIGSERIAL PRIMARY KEY,"
    "  decision_id TEXT NOT NULL,"
    "  level TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','claimed','resolved')),"
    "  created_ms BIGINT NOT NULL,"
    "  sla_due_ms BIGINT NOT NULL,"
    "  reason TEXT,"
    "  reviewer TEXT, claimed_ms BIGINT,"
    "  outcome TEXT, note TEXT, resolved_ms BIGINT);"
    "CREATE INDEX review_queue_work ON review_queue(state, sla_due_ms, id);"
    "CREATE TABLE api_keys("
    "  id BIGSERIAL PRIMARY KEY,"
    "  key_hash TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL,"
    "  label TEXT,"
    "  prefix TEXT NOT NULL,"
    "  created_ms BIGINT NOT NULL,"
    "  revoked_ms BIGINT);"
    "CREATE TABLE conversations("
    "  conversation_id TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  updated_ms BIGINT NOT NULL);"
    "CREATE INDEX conversations_updated ON conversations(updated_ms);"
    "CREATE TABLE audit_log("
    "  seq BIGINT PRIMARY KEY,"
    "  prev_hash TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  record TEXT NOT NULL);",
};
_Static_assert(sizeof pg_migrations / sizeof pg_migrations[0] == MHG_STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* Arbitrary constant naming mhguard's migration advisory lock. */
#define PG_MIGRATION_LOCK 0x6d686775617264LL

typedef struct pg_conn {
    PGconn *pg;
} pg_conn;

static mhg_status pg_fail(pg_conn *c, PGresult *r, const char *what) {
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    if (!msg || !*msg) msg = PQerrorMessage(c->pg);
    char clean[400];
    snprintf(clean, sizeof clean, "%s", msg ? msg : "unknown error");
    size_t n = strlen(clean);
    while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' ')) clean[--n] = '\0';
    mhgi_store_error("postgres: %s: %s", what, clean);
    return MHG_ERR_STORE;
}

static int is_unique_violation(PGresult *r) {
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return state && !strcmp(state, "23505");
}

/* Run a query with text parameters; *res_out (may be NULL) keeps the result. */
static mhg_status pq(pg_conn *c, const char *sql, int n, const char *const *params,
                     PGresult **res_out, const char *what) {
    if (res_out) *res_out = NULL;
    PGresult *r = PQexecParams(c->pg, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK) {
        mhg_status st = pg_fail(c, r, what);
        if (res_out && r && is_unique_violation(r)) {
            *res_out = r; /* the caller inspects the constraint violation */
            return MHG_ERR_INVALID;
        }
        PQclear(r);
        return st;
    }
    if (res_out) *res_out = r;
    else PQclear(r);
    return MHG_OK;
}

/* Parameterless SQL, possibly several statements (migrations): PQexec,
 * because the extended protocol behind PQexecParams allows only one. */
static mhg_status exec_simple(pg_conn *c, const char *sql, const char *what) {
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    mhg_status st = (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) ? MHG_OK : pg_fail(c, r, what);
    PQclear(r);
    return st;
}

static void rollback(pg_conn *c) {
    char keep[512];
    snprintf(keep, sizeof keep, "%s", mhg_store_errmsg(NULL));
    PGresult *r = PQexec(c->pg, "ROLLBACK");
    PQclear(r);
    mhgi_store_error("%s", keep);
}

static mhg_status finish(pg_conn *c, mhg_status st) {
    if (st == MHG_OK) return exec_simple(c, "COMMIT", "commit");
    rollback(c);
    return st;
}

static const char *cell(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t cell_i64(PGresult *r, int row, int col) {
    const char *v = cell(r, row, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static json_t *cell_json_int(PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col) ? json_null() : json_integer(cell_i64(r, row, col));
}

static json_t *cell_json_text(PGresult *r, int row, int col) {
    return mhgi_json_str_or_null(cell(r, row, col));
}

static json_t *cell_json_array(PGresult *r, int row, int col) {
    const char *t = cell(r, row, col);
    if (!t) return json_array();
    json_t *j = json_loads(t, 0, NULL);
    return j ? j : json_string(t);
}

#define I64(buf, v) (snprintf((buf), sizeof(buf), "%" PRId64, (int64_t)(v)), (buf))

/* ---- connect / migrate ------------------------------------------------- */

static void pg_disconnect(void *conn) {
    pg_conn *c = conn;
    if (!c) return;
    PQfinish(c->pg);
    free(c);
}

static mhg_status pg_connect(const mhgi_store_cfg *cfg, void **conn_out) {
    *conn_out = NULL;
    pg_conn *c = calloc(1, sizeof *c);
    if (!c) return MHG_ERR_NOMEM;
    c->pg = PQconnectdb(cfg->target);
    if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
        if (c->pg) pg_fail(c, NULL, "connect");
        else mhgi_store_error("postgres: connect: out of memory");
        pg_disconnect(c);
        return MHG_ERR_STORE;
    }
    char sql[96];
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", cfg->busy_ms);
    mhg_status st = exec_simple(c, sql, "set lock_timeout");
    if (st == MHG_OK) st = exec_simple(c, "SET client_min_messages = warning", "set messages");
    if (st == MHG_OK && cfg->mode == MHGI_STORE_RO)
        st = exec_simple(c, "SET default_transaction_read_only = on", "set read-only");
    if (st != MHG_OK) {
        pg_disconnect(c);
        return st;
    }
    *conn_out = c;
    return MHG_OK;
}

static int pg_usable(void *conn) {
    pg_conn *c = conn;
    return PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE;
}

static mhg_status read_version(pg_conn *c, int *v) {
    *v = 0;
    PGresult *r;
    mhg_status st = pq(c, "SELECT to_regclass('schema_version') IS NOT NULL", 0, NULL, &r,
                       "read schema");
    if (st != MHG_OK) return st;
    int exists = cell(r, 0, 0) && cell(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!exists) return MHG_OK;
    st = pq(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, &r,
            "read schema version");
    if (st != MHG_OK) return st;
    *v = (int)cell_i64(r, 0, 0);
    PQclear(r);
    return MHG_OK;
}

static mhg_status pg_schema_version(void *conn, int *out) { return read_version(conn, out); }

static mhg_status pg_migrate(void *conn, const mhgi_store_cfg *cfg) {
    pg_conn *c = conn;
    int v = 0;
    mhg_status st = read_version(c, &v);
    if (st != MHG_OK) return st;
    if (v > MHG_STORE_SCHEMA_VERSION) {
        mhgi_store_error("postgres: database schema version %d is newer than this mhguard "
                         "understands (%d); upgrade mhguard",
                         v, MHG_STORE_SCHEMA_VERSION);
        return MHG_ERR_STORE;
    }
    if (v == MHG_STORE_SCHEMA_VERSION) return MHG_OK;
    if (cfg->mode == MHGI_STORE_RO) {
        mhgi_store_error("postgres: database schema is version %d, this mhguard needs %d: open "
                         "it read-write once to migrate",
                         v, MHG_STORE_SCHEMA_VERSION);
        return MHG_ERR_STORE;
    }
    st = exec_simple(c, "BEGIN", "begin");
    if (st != MHG_OK) return st;
    char lock[96];
    snprintf(lock, sizeof lock, "SELECT pg_advisory_xact_lock(%lld)", (long long)PG_MIGRATION_LOCK);
    st = exec_simple(c, lock, "take migration lock");
    if (st == MHG_OK)
        st = exec_simple(c, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY "
                            "KEY, applied_ms BIGINT NOT NULL)",
                         "create schema_version");
    if (st == MHG_OK) st = read_version(c, &v);
    for (int i = v; st == MHG_OK && i < MHG_STORE_SCHEMA_VERSION; i++) {
        char what[64];
        snprintf(what, sizeof what, "migration %d", i + 1);
        st = exec_simple(c, pg_migrations[i], what);
        if (st == MHG_OK) {
            char sql[128];
            snprintf(sql, sizeof sql,
                     "INSERT INTO schema_version(version, applied_ms) VALUES(%d, %lld)", i + 1,
                     (long long)mhg_store_now_ms());
            st = exec_simple(c, sql, what);
        }
    }
    return finish(c, st);
}

/* ---- decisions --------------------------------------------------------- */

static mhg_status insert_decision(pg_conn *c, const mhg_store_decision *d, const char *cats,
                                  const char *evid) {
    char t[32];
    const char *p[15] = {d->decision_id,     d->request_id,    I64(t, d->time_ms),
                         d->user,            d->conversation,  d->kind,
                         d->risk,            d->action,        cats,
                         evid,               d->engine_version, d->lexicon_version,
                         d->model_version,   d->policy_version, d->actor};
    PGresult *r = NULL;
    mhg_status st = pq(c,
                       "INSERT INTO decisions(decision_id, request_id, time_ms, user_id, "
                       "conversation_id, kind, risk, action, categories, evidence, engine_version, "
                       "lexicon_version, model_version, policy_version, actor) "
                       "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)",
                       15, p, &r, "insert decision");
    if (st == MHG_ERR_INVALID) mhgi_store_error("decision '%s' already exists", d->decision_id);
    PQclear(r);
    return st;
}

static mhg_status pg_decision_insert(void *conn, const mhg_store_decision *d, const char *cats,
                                     const char *evid) {
    return insert_decision(conn, d, cats, evid);
}

static mhg_status pg_decision_get(void *conn, const char *id, json_t **out) {
    pg_conn *c = conn;
    *out = NULL;
    PGresult *r;
    const char *p[1] = {id};
    mhg_status st = pq(c,
                       "SELECT decision_id, request_id, time_ms, user_id, conversation_id, kind, "
                       "risk, action, categories, evidence, engine_version, lexicon_version, "
                       "model_version, policy_version, actor FROM decisions WHERE decision_id = $1",
                       1, p, &r, "read decision");
    if (st != MHG_OK) return st;
    if (PQntuples(r) == 0) {
        PQclear(r);
        mhgi_store_error("no decision '%s'", id);
        return MHG_ERR_NOT_FOUND;
    }
    json_t *j = json_object();
    json_object_set_new(j, "decision_id", cell_json_text(r, 0, 0));
    json_object_set_new(j, "request_id", cell_json_text(r, 0, 1));
    json_object_set_new(j, "time_ms", cell_json_int(r, 0, 2));
    json_object_set_new(j, "user", cell_json_text(r, 0, 3));
    json_object_set_new(j, "conversation", cell_json_text(r, 0, 4));
    json_object_set_new(j, "kind", cell_json_text(r, 0, 5));
    json_object_set_new(j, "risk", cell_json_text(r, 0, 6));
    json_object_set_new(j, "action", cell_json_text(r, 0, 7));
    json_object_set_new(j, "categories", cell_json_array(r, 0, 8));
    json_object_set_new(j, "evidence", cell_json_array(r, 0, 9));
    json_object_set_new(j, "engine_version", cell_json_text(r, 0, 10));
    json_object_set_new(j, "lexicon_version", cell_json_text(r, 0, 11));
    json_object_set_new(j, "model_version", cell_json_text(r, 0, 12));
    json_object_set_new(j, "policy_version", cell_json_text(r, 0, 13));
    json_object_set_new(j, "actor", cell_json_text(r, 0, 14));
    PQclear(r);
    *out = j;
    return MHG_OK;
}

static mhg_status pg_decision_count(void *conn, int64_t *out) {
    PGresult *r;
    mhg_status st = pq(conn, "SELECT count(*) FROM decisions", 0, NULL, &r, "count decisions");
    if (st != MHG_OK) return st;
    *out = cell_i64(r, 0, 0);
    PQclear(r);
    return MHG_OK;
}

/* ---- review queue ------------------------------------------------------ */

#define PG_REVIEW_COLS                                                                    \
    "id, decision_id, level, state, created_ms, sla_due_ms, reason, reviewer, claimed_ms, " \
    "outcome, note, resolved_ms"

static mhg_status pg_review_enqueue(void *conn, const mhg_store_review_item *it, int64_t now,
                                    int64_t *id_out) {
    char a[32], b[32];
    const char *p[5] = {it->decision_id, it->level, I64(a, now), I64(b, it->sla_due_ms),
                        it->reason};
    PGresult *r;
    mhg_status st = pq(conn,
                       "INSERT INTO review_queue(decision_id, level, state, created_ms, "
                       "sla_due_ms, reason) VALUES($1,$2,'open',$3,$4,$5) RETURNING id",
                       5, p, &r, "enqueue review item");
    if (st != MHG_OK) {
        PQclear(r);
        return st;
    }
    *id_out = cell_i64(r, 0, 0);
    PQclear(r);
    return MHG_OK;
}

static mhg_status pg_review_list(void *conn, const char *state, size_t limit, int64_t id,
                                 json_t **out) {
    *out = NULL;
    char a[32], b[32];
    PGresult *r;
    mhg_status st;
    if (id > 0) {
        const char *p[1] = {I64(a, id)};
        st = pq(conn, "SELECT " PG_REVIEW_COLS " FROM review_queue WHERE id = $1", 1, p, &r,
                "read review item");
    } else if (state) {
        const char *p[2] = {state, I64(b, limit)};
        st = pq(conn,
                "SELECT " PG_REVIEW_COLS " FROM review_queue WHERE state = $1 "
                "ORDER BY sla_due_ms, id LIMIT $2",
                2, p, &r, "list review items");
    } else {
        const char *p[1] = {I64(b, limit)};
        st = pq(conn,
                "SELECT " PG_REVIEW_COLS " FROM review_queue WHERE state IN ('open','claimed') "
                "ORDER BY sla_due_ms, id LIMIT $1",
                1, p, &r, "list review items");
    }
    if (st != MHG_OK) return st;
    static const char *const names[] = {"id",         "decision_id", "level",   "state",
                                        "created_ms", "sla_due_ms",  "reason",  "reviewer",
                                        "claimed_ms", "outcome",     "note",    "resolved_ms"};
    json_t *arr = json_array();
    for (int row = 0; row < PQntuples(r); row++) {
        json_t *j = json_object();
        for (int i = 0; i < 12; i++) {
            int is_int = i == 0 || i == 4 || i == 5 || i == 8 || i == 11;
            json_object_set_new(j, names[i],
                                is_int ? cell_json_int(r, row, i) : cell_json_text(r, row, i));
        }
        json_array_append_new(arr, j);
    }
    PQclear(r);
    *out = arr;
    return MHG_OK;
}

/* Lock the item row and apply the rule shared with sqlite.c (store.h). */
static mhg_status lock_review(pg_conn *c, int64_t id, const char *reviewer) {
    char a[32];
    const char *p[1] = {I64(a, id)};
    PGresult *r;
    mhg_status st = pq(c, "SELECT state, reviewer FROM review_queue WHERE id = $1 FOR UPDATE", 1,
                       p, &r, "read review item");
    if (st != MHG_OK) return st;
    if (PQntuples(r) == 0) {
        PQclear(r);
        mhgi_store_error("no review item %lld", (long long)id);
        return MHG_ERR_NOT_FOUND;
    }
    const char *state = cell(r, 0, 0) ? cell(r, 0, 0) : "";
    const char *who = cell(r, 0, 1) ? cell(r, 0, 1) : "";
    if (!strcmp(state, "resolved")) {
        mhgi_store_error("review item %lld is already resolved", (long long)id);
        st = MHG_ERR_NOT_FOUND;
    } else if (!strcmp(state, "claimed") && strcmp(who, reviewer)) {
        mhgi_store_error("review item %lld is claimed by %s", (long long)id, who);
        st = MHG_ERR_INVALID;
    }
    PQclear(r);
    return st;
}

static mhg_status pg_review_claim(void *conn, int64_t id, const char *reviewer, int64_t now) {
    pg_conn *c = conn;
    mhg_status st = exec_simple(c, "BEGIN", "begin");
    if (st != MHG_OK) return st;
    st = lock_review(c, id, reviewer);
    if (st == MHG_OK) {
        char a[32], b[32];
        const char *p[3] = {reviewer, I64(a, now), I64(b, id)};
        st = pq(c, "UPDATE review_queue SET state = 'claimed', reviewer = $1, claimed_ms = $2 "
                   "WHERE id = $3",
                3, p, NULL, "claim review item");
    }
    return finish(c, st);
}

static mhg_status pg_review_resolve(void *conn, int64_t id, const char *reviewer,
                                    const char *outcome, const char *note, int64_t now) {
    pg_conn *c = conn;
    mhg_status st = exec_simple(c, "BEGIN", "begin");
    if (st != MHG_OK) return st;
    st = lock_review(c, id, reviewer);
    if (st == MHG_OK) {
        char a[32], b[32];
        const char *p[5] = {reviewer, outcome, note, I64(a, now), I64(b, id)};
        st = pq(c, "UPDATE review_queue SET state = 'resolved', reviewer = $1, outcome = $2, "
                   "note = $3, resolved_ms = $4 WHERE id = $5",
                5, p, NULL, "resolve review item");
    }
    return finish(c, st);
}

static mhg_status pg_review_count(void *conn, int64_t now, int64_t *open_out,
                                  int64_t *overdue_out) {
    char a[32];
    const char *p[1] = {I64(a, now)};
    PGresult *r;
    mhg_status st = pq(conn,
                       "SELECT count(*), count(*) FILTER (WHERE sla_due_ms < $1) FROM "
                       "review_queue WHERE state IN ('open','claimed')",
                       1, p, &r, "count review items");
    if (st != MHG_OK) return st;
    *open_out = cell_i64(r, 0, 0);
    *overdue_out = cell_i64(r, 0, 1);
    PQclear(r);
    return MHG_OK;
}

/* ---- API keys ---------------------------------------------------------- */

static mhg_status pg_key_find(void *conn, const uint8_t hash[32], uint8_t stored[32],
                              char role[32], int64_t *id, int *revoked) {
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, hash, 32);
    const char *p[1] = {hex};
    PGresult *r;
    mhg_status st = pq(conn, "SELECT id, key_hash, role, revoked_ms FROM api_keys WHERE "
                             "key_hash = $1",
                       1, p, &r, "look up API key");
    if (st != MHG_OK) return st;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return MHG_ERR_NOT_FOUND;
    }
    *id = cell_i64(r, 0, 0);
    const char *h = cell(r, 0, 1);
    size_t bin_len = 0;
    if (!h || sodium_hex2bin(stored, 32, h, strlen(h), NULL, &bin_len, NULL) != 0 || bin_len != 32)
        memset(stored, 0, 32);
    snprintf(role, 32, "%s", cell(r, 0, 2) ? cell(r, 0, 2) : "");
    *revoked = !PQgetisnull(r, 0, 3);
    PQclear(r);
    return MHG_OK;
}

static mhg_status pg_key_insert(void *conn, const uint8_t hash[32], const char *role,
                                const char *label, const char *prefix, int64_t now,
                                int64_t *id_out, int *revoked_out) {
    char hex[65], t[32];
    sodium_bin2hex(hex, sizeof hex, hash, 32);
    const char *p[5] = {hex, role, label, prefix, I64(t, now)};
    PGresult *r;
    mhg_status st = pq(conn,
                       "INSERT INTO api_keys(key_hash, role, label, prefix, created_ms) "
                       "VALUES($1,$2,$3,$4,$5) RETURNING id",
                       5, p, &r, "insert API key");
    if (st == MHG_ERR_INVALID) {
        PQclear(r);
        uint8_t stored[32];
        char rl[32];
        st = pg_key_find(conn, hash, stored, rl, id_out, revoked_out);
        if (st != MHG_OK) return st;
        mhgi_store_error("this API key is already registered (id %lld)", (long long)*id_out);
        return MHG_ERR_INVALID;
    }
    if (st != MHG_OK) return st;
    *id_out = cell_i64(r, 0, 0);
    PQclear(r);
    return MHG_OK;
}

static mhg_status pg_key_revoke(void *conn, int64_t id, int64_t now) {
    char a[32], b[32];
    const char *p[2] = {I64(a, now), I64(b, id)};
    PGresult *r;
    mhg_status st = pq(conn, "UPDATE api_keys SET revoked_ms = coalesce(revoked_ms, $1) WHERE "
                             "id = $2",
                       2, p, &r, "revoke API key");
    if (st != MHG_OK) return st;
    long long n = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    if (n == 0) {
        mhgi_store_error("no API key with id %lld", (long long)id);
        return MHG_ERR_NOT_FOUND;
    }
    return MHG_OK;
}

static mhg_status pg_key_list(void *conn, json_t **out) {
    *out = NULL;
    PGresult *r;
    mhg_status st = pq(conn, "SELECT id, role, label, created_ms, revoked_ms, prefix FROM "
                             "api_keys ORDER BY id",
                       0, NULL, &r, "list API keys");
    if (st != MHG_OK) return st;
    json_t *a = json_array();
    for (int row = 0; row < PQntuples(r); row++) {
        json_t *j = json_object();
        json_object_set_new(j, "id", cell_json_int(r, row, 0));
        json_object_set_new(j, "role", cell_json_text(r, row, 1));
        json_object_set_new(j, "label", cell_json_text(r, row, 2));
        json_object_set_new(j, "created_ms", cell_json_int(r, row, 3));
        json_object_set_new(j, "revoked_ms", cell_json_int(r, row, 4));
        json_object_set_new(j, "prefix", cell_json_text(r, row, 5));
        json_array_append_new(a, j);
    }
    PQclear(r);
    *out = a;
    return MHG_OK;
}

/* ---- conversation state ------------------------------------------------ */

static mhg_status pg_conv_get(void *conn, const char *conv, char **json_out, size_t *len_out) {
    const char *p[1] = {conv};
    PGresult *r;
    mhg_status st = pq(conn, "SELECT state FROM conversations WHERE conversation_id = $1", 1, p,
                       &r, "read conversation state");
    if (st != MHG_OK) return st;
    if (PQntuples(r) == 0) {
        PQclear(r);
        mhgi_store_error("no state for conversation '%s'", conv);
        return MHG_ERR_NOT_FOUND;
    }
    size_t n = (size_t)PQgetlength(r, 0, 0);
    char *copy = malloc(n + 1);
    if (!copy) {
        PQclear(r);
        return MHG_ERR_NOMEM;
    }
    memcpy(copy, PQgetvalue(r, 0, 0), n);
    copy[n] = '\0';
    PQclear(r);
    *json_out = copy;
    *len_out = n;
    return MHG_OK;
}

static mhg_status pg_conv_put(void *conn, const char *conv, const char *json, size_t len,
                              int64_t now) {
    /* libpq text parameters are NUL-terminated; store.c refused NUL bytes. */
    char *copy = malloc(len + 1);
    if (!copy) return MHG_ERR_NOMEM;
    memcpy(copy, json, len);
    copy[len] = '\0';
    char t[32];
    const char *p[3] = {conv, copy, I64(t, now)};
    mhg_status st = pq(conn,
                       "INSERT INTO conversations(conversation_id, state, updated_ms) "
                       "VALUES($1,$2,$3) ON CONFLICT(conversation_id) DO UPDATE SET state = "
                       "excluded.state, updated_ms = excluded.updated_ms",
                       3, p, NULL, "write conversation state");
    free(copy);
    return st;
}

static mhg_status pg_conv_delete(void *conn, const char *conv) {
    const char *p[1] = {conv};
    return pq(conn, "DELETE FROM conversations WHERE conversation_id = $1", 1, p, NULL,
              "delete conversation state");
}

static mhg_status pg_conv_purge(void *conn, int64_t before, int64_t *deleted) {
    char t[32];
    const char *p[1] = {I64(t, before)};
    PGresult *r;
    mhg_status st = pq(conn, "DELETE FROM conversations WHERE updated_ms < $1", 1, p, &r,
                       "purge conversation state");
    if (st != MHG_OK) return st;
    *deleted = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return MHG_OK;
}

/* ---- audit chain ------------------------------------------------------- */

static mhg_status read_head(pg_conn *c, int64_t *seq, char hash[MHG_STORE_HASH_HEX]) {
    PGresult *r;
    mhg_status st = pq(c, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", 0, NULL,
                       &r, "read audit head");
    if (st != MHG_OK) return st;
    if (PQntuples(r) == 0) {
        *seq = 0;
        memcpy(hash, mhgi_store_zero_hash, MHG_STORE_HASH_HEX);
    } else {
        *seq = cell_i64(r, 0, 0);
        snprintf(hash, MHG_STORE_HASH_HEX, "%s", cell(r, 0, 1) ? cell(r, 0, 1) : "");
    }
    PQclear(r);
    return MHG_OK;
}

static mhg_status pg_audit_head(void *conn, int64_t *seq, char hash[MHG_STORE_HASH_HEX]) {
    return read_head(conn, seq, hash);
}

static mhg_status pg_audit_append(void *conn, const mhg_store_decision *d, const char *cats,
                                  const char *evid, mhg_store_audit_build_fn build, void *ctx,
                                  int64_t *seq_out) {
    pg_conn *c = conn;
    mhg_status st = exec_simple(c, "BEGIN", "begin");
    if (st != MHG_OK) return st;
    /* Serializes appends across all processes; plain reads still proceed. */
    st = exec_simple(c, "LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE", "lock audit log");
    if (st == MHG_OK && d) st = insert_decision(c, d, cats, evid);
    int64_t head = 0;
    char prev[MHG_STORE_HASH_HEX];
    if (st == MHG_OK) st = read_head(c, &head, prev);
    char *record = NULL;
    char hash[MHG_STORE_HASH_HEX] = "";
    if (st == MHG_OK) st = build(ctx, head + 1, prev, &record, hash);
    if (st == MHG_OK && !record) st = MHG_ERR_INTERNAL;
    if (st == MHG_OK) {
        char t[32];
        const char *p[4] = {I64(t, head + 1), prev, hash, record};
        st = pq(c, "INSERT INTO audit_log(seq, prev_hash, hash, record) VALUES($1,$2,$3,$4)", 4,
                p, NULL, "append audit record");
    }
    free(record);
    st = finish(c, st);
    if (st == MHG_OK) *seq_out = head + 1;
    return st;
}

static mhg_status pg_audit_iterate(void *conn, int64_t from, mhg_store_audit_row_fn fn,
                                   void *ctx) {
    pg_conn *c = conn;
    mhg_status st = exec_simple(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin");
    if (st != MHG_OK) return st;
    char t[32];
    const char *p[1] = {I64(t, from)};
    if (!PQsendQueryParams(c->pg,
                           "SELECT seq, prev_hash, hash, record FROM audit_log WHERE seq >= $1 "
                           "ORDER BY seq",
                           1, NULL, p, NULL, NULL, 0)) {
        st = pg_fail(c, NULL, "read audit log");
        rollback(c);
        return st;
    }
    PQsetSingleRowMode(c->pg);
    int stopped = 0;
    PGresult *r;
    for (r = PQgetResult(c->pg); r; r = PQgetResult(c->pg)) {
        ExecStatusType es = PQresultStatus(r);
        if (es == PGRES_SINGLE_TUPLE && !stopped && st == MHG_OK) {
            mhg_store_audit_row row;
            row.seq = cell_i64(r, 0, 0);
            row.prev_hash = cell(r, 0, 1) ? cell(r, 0, 1) : "";
            row.hash = cell(r, 0, 2) ? cell(r, 0, 2) : "";
            row.record = cell(r, 0, 3) ? cell(r, 0, 3) : "";
            row.record_len = (size_t)PQgetlength(r, 0, 3);
            /* libpq has no way to abandon a query early short of cancel;
             * the remaining rows are drained and ignored. */
            if (fn(ctx, &row)) stopped = 1;
        } else if (es != PGRES_SINGLE_TUPLE && es != PGRES_TUPLES_OK && st == MHG_OK) {
            st = pg_fail(c, r, "read audit log");
        }
        PQclear(r);
    }
    return finish(c, st);
}

const struct mhg_store_ops mhgi_store_pg_ops = {
    .zName = "postgres",
    .xConnect = pg_connect,
    .xDisconnect = pg_disconnect,
    .xUsable = pg_usable,
    .xWritable = NULL,
    .xMigrate = pg_migrate,
    .xSchemaVersion = pg_schema_version,
    .xDecisionInsert = pg_decision_insert,
    .xDecisionGet = pg_decision_get,
    .xDecisionCount = pg_decision_count,
    .xReviewEnqueue = pg_review_enqueue,
    .xReviewList = pg_review_list,
    .xReviewClaim = pg_review_claim,
    .xReviewResolve = pg_review_resolve,
    .xReviewCount = pg_review_count,
    .xKeyInsert = pg_key_insert,
    .xKeyFind = pg_key_find,
    .xKeyRevoke = pg_key_revoke,
    .xKeyList = pg_key_list,
    .xConvGet = pg_conv_get,
    .xConvPut = pg_conv_put,
    .xConvDelete = pg_conv_delete,
    .xConvPurge = pg_conv_purge,
    .xAuditAppend = pg_audit_append,
    .xAuditIterate = pg_audit_iterate,
    .xAuditHead = pg_audit_head,
};

#else
/* Built without libpq: store.c rejects postgres:// URLs with a message.
 * ISO C forbids an empty translation unit. */
typedef int mhgi_store_pg_unused;
#endif
