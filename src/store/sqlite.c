/*
 * sqlite.c - SQLite backend of the store (the embedded default).
 *
 * One sqlite3 connection per pooled connection (SQLITE_OPEN_NOMUTEX: the
 * pool guarantees one thread at a time), WAL journal so readers never block
 * the writer, a busy timeout for other processes (the CLI while the server
 * runs), prepared statements cached per connection, and numbered schema
 * migrations recorded in schema_version.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store_int.h"

/* ---- schema ------------------------------------------------------------ */

/* Migration N brings the schema from version N-1 to N. Never edit a
 * shipped entry: add a new one (databases in the field have run the old). */
static const char *const migrations[] = {
    /* 1: initial schema */
    "CREATE TABLE decisions("
    "  decision_id TEXT PRIMARY KEY,"
    "  request_id TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
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
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  decision_id TEXT NOT NULL,"
    "  level TEXT NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','claimed','resolved')),"
    "  created_ms INTEGER NOT NULL,"
    "  sla_due_ms INTEGER NOT NULL,"
    "  reason TEXT,"
    "  reviewer TEXT, claimed_ms INTEGER,"
    "  outcome TEXT, note TEXT, resolved_ms INTEGER);"
    "CREATE INDEX review_queue_work ON review_queue(state, sla_due_ms, id);"
    "CREATE TABLE api_keys("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  key_hash BLOB NOT NULL UNIQUE,"
    "  role TEXT NOT NULL,"
    "  label TEXT,"
    "  prefix TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  revoked_ms INTEGER);"
    "CREATE TABLE conversations("
    "  conversation_id TEXT PRIMARY KEY,"
    "  state TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL);"
    "CREATE INDEX conversations_updated ON conversations(updated_ms);"
    "CREATE TABLE audit_log("
    "  seq INTEGER PRIMARY KEY,"
    "  prev_hash TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  record TEXT NOT NULL);",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == MHG_STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* ---- statements -------------------------------------------------------- */

enum {
    Q_BEGIN_W,
    Q_BEGIN_R,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_VERSION,
    Q_DEC_INSERT,
    Q_DEC_GET,
    Q_DEC_COUNT,
    Q_REV_INSERT,
    Q_REV_LIST_WORK,
    Q_REV_LIST_STATE,
    Q_REV_GET,
    Q_REV_STATE,
    Q_REV_CLAIM,
    Q_REV_RESOLVE,
    Q_REV_COUNT,
    Q_KEY_INSERT,
    Q_KEY_FIND,
    Q_KEY_REVOKE,
    Q_KEY_EXISTS,
    Q_KEY_LIST,
    Q_CONV_GET,
    Q_CONV_PUT,
    Q_CONV_DELETE,
    Q_CONV_PURGE,
    Q_AUDIT_HEAD,
    Q_AUDIT_INSERT,
    Q_AUDIT_ITER,
    Q_COUNT
};

#define REVIEW_COLS                                                                       \
    "id, decision_id, level, state, created_ms, sla_due_ms, reason, reviewer, claimed_ms, " \
    "outcome, note, resolved_ms"

static const char *const sql_text[Q_COUNT] = {
    [Q_BEGIN_W] = "BEGIN IMMEDIATE",
    [Q_BEGIN_R] = "BEGIN",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_version",
    [Q_DEC_INSERT] = "INSERT INTO decisions(decision_id, request_id, time_ms, user_id, "
                     "conversation_id, kind, risk, action, categories, evidence, engine_version, "
                     "lexicon_version, model_version, policy_version, actor) "
                     "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [Q_DEC_GET] = "SELECT decision_id, request_id, time_ms, user_id, conversation_id, kind, risk, "
                  "action, categories, evidence, engine_version, lexicon_version, model_version, "
                  "policy_version, actor FROM decisions WHERE decision_id = ?",
    [Q_DEC_COUNT] = "SELECT count(*) FROM decisions",
    [Q_REV_INSERT] = "INSERT INTO review_queue(decision_id, level, state, created_ms, sla_due_ms, "
                     "reason) VALUES(?,?,'open',?,?,?)",
    [Q_REV_LIST_WORK] = "SELECT " REVIEW_COLS " FROM review_queue WHERE state IN "
                        "('open','claimed') ORDER BY sla_due_ms, id LIMIT ?",
    [Q_REV_LIST_STATE] = "SELECT " REVIEW_COLS " FROM review_queue WHERE state = ? "
                         "ORDER BY sla_due_ms, id LIMIT ?",
    [Q_REV_GET] = "SELECT " REVIEW_COLS " FROM review_queue WHERE id = ?",
    [Q_REV_STATE] = "SELECT state, reviewer FROM review_queue WHERE id = ?",
    [Q_REV_CLAIM] = "UPDATE review_queue SET state = 'claimed', reviewer = ?, claimed_ms = ? "
                    "WHERE id = ?",
    [Q_REV_RESOLVE] = "UPDATE review_queue SET state = 'resolved', reviewer = ?, outcome = ?, "
                      "note = ?, resolved_ms = ? WHERE id = ?",
    [Q_REV_COUNT] = "SELECT count(*), coalesce(sum(sla_due_ms < ?), 0) FROM review_queue "
                    "WHERE state IN ('open','claimed')",
    [Q_KEY_INSERT] = "INSERT INTO api_keys(key_hash, role, label, prefix, created_ms) "
                     "VALUES(?,?,?,?,?)",
    [Q_KEY_FIND] = "SELECT id, key_hash, role, revoked_ms FROM api_keys WHERE key_hash = ?",
    [Q_KEY_REVOKE] = "UPDATE api_keys SET revoked_ms = coalesce(revoked_ms, ?) WHERE id = ?",
    [Q_KEY_EXISTS] = "SELECT 1 FROM api_keys WHERE id = ?",
    [Q_KEY_LIST] = "SELECT id, role, label, created_ms, revoked_ms, prefix FROM api_keys "
                   "ORDER BY id",
    [Q_CONV_GET] = "SELECT state FROM conversations WHERE conversation_id = ?",
    [Q_CONV_PUT] = "INSERT INTO conversations(conversation_id, state, updated_ms) VALUES(?,?,?) "
                   "ON CONFLICT(conversation_id) DO UPDATE SET state = excluded.state, "
                   "updated_ms = excluded.updated_ms",
    [Q_CONV_DELETE] = "DELETE FROM conversations WHERE conversation_id = ?",
    [Q_CONV_PURGE] = "DELETE FROM conversations WHERE updated_ms < ?",
    [Q_AUDIT_HEAD] = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit_log(seq, prev_hash, hash, record) VALUES(?,?,?,?)",
    [Q_AUDIT_ITER] = "SELECT seq, prev_hash, hash, record FROM audit_log WHERE seq >= ? "
                     "ORDER BY seq",
};

typedef struct sq_conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[Q_COUNT];
    char *path;  /* database file, to notice it being deleted or replaced */
    dev_t dev;
    ino_t ino;
} sq_conn;

/* Report the connection's last error as MHG_ERR_STORE with context. */
static mhg_status sq_fail(sq_conn *c, const char *what) {
    int ext = sqlite3_extended_errcode(c->db);
    const char *hint = "";
    if (ext == SQLITE_READONLY_DBMOVED)
        hint = " (the database file was moved or deleted while open)";
    else if ((ext & 0xff) == SQLITE_FULL)
        hint = " (disk or database size limit reached)";
    else if ((ext & 0xff) == SQLITE_BUSY)
        hint = " (another process holds the write lock; raise busy_ms?)";
    else if ((ext & 0xff) == SQLITE_CORRUPT || (ext & 0xff) == SQLITE_NOTADB)
        hint = " (the database file is damaged or not a database)";
    mhgi_store_error("sqlite: %s: %s%s", what, sqlite3_errmsg(c->db), hint);
    return MHG_ERR_STORE;
}

static sqlite3_stmt *q(sq_conn *c, int which) {
    if (!c->stmt[which]) {
        if (sqlite3_prepare_v3(c->db, sql_text[which], -1, SQLITE_PREPARE_PERSISTENT,
                               &c->stmt[which], NULL) != SQLITE_OK) {
            sq_fail(c, "prepare");
            c->stmt[which] = NULL;
            return NULL;
        }
    }
    return c->stmt[which];
}

static void done(sqlite3_stmt *s) {
    if (s) {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, i);
}

/* Run a statement with no result rows. */
static mhg_status step_done(sq_conn *c, sqlite3_stmt *s, const char *what) {
    int rc = sqlite3_step(s);
    mhg_status st = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? MHG_OK : sq_fail(c, what);
    done(s);
    return st;
}

static mhg_status run(sq_conn *c, int which, const char *what) {
    sqlite3_stmt *s = q(c, which);
    if (!s) return MHG_ERR_STORE;
    return step_done(c, s, what);
}

static mhg_status begin_write(sq_conn *c) { return run(c, Q_BEGIN_W, "begin write transaction"); }

static mhg_status commit(sq_conn *c) {
    mhg_status st = run(c, Q_COMMIT, "commit");
    if (st != MHG_OK && !sqlite3_get_autocommit(c->db)) {
        char keep[512];
        snprintf(keep, sizeof keep, "%s", mhg_store_errmsg(NULL));
        run(c, Q_ROLLBACK, "rollback");
        mhgi_store_error("%s", keep);
    }
    return st;
}

static void rollback(sq_conn *c) {
    if (sqlite3_get_autocommit(c->db)) return; /* SQLite already rolled back */
    char keep[512];
    snprintf(keep, sizeof keep, "%s", mhg_store_errmsg(NULL));
    (void)run(c, Q_ROLLBACK, "rollback");
    mhgi_store_error("%s", keep); /* the first error is the one worth reporting */
}

static const char *col_text(sqlite3_stmt *s, int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? (const char *)t : NULL;
}

static json_t *col_json_text(sqlite3_stmt *s, int i) { return mhgi_json_str_or_null(col_text(s, i)); }

static json_t *col_json_int(sqlite3_stmt *s, int i) {
    if (sqlite3_column_type(s, i) == SQLITE_NULL) return json_null();
    return json_integer(sqlite3_column_int64(s, i));
}

/* A stored JSON array column back as JSON (an unparsable value - only
 * possible if the file was edited by hand - comes back as a string). */
static json_t *col_json_array(sqlite3_stmt *s, int i) {
    const char *t = col_text(s, i);
    if (!t) return json_array();
    json_t *j = json_loads(t, 0, NULL);
    return j ? j : json_string(t);
}

/* ---- connect / migrate ------------------------------------------------- */

static void sq_disconnect(void *conn) {
    sq_conn *c = conn;
    if (!c) return;
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(c->stmt[i]);
    sqlite3_close_v2(c->db);
    free(c->path);
    free(c);
}

static mhg_status exec_sql(sq_conn *c, const char *sql, const char *what) {
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        mhg_status st = sq_fail(c, what);
        sqlite3_free(msg);
        return st;
    }
    return MHG_OK;
}

static mhg_status sq_connect(const mhgi_store_cfg *cfg, void **conn_out) {
    *conn_out = NULL;
    const char *path = cfg->target;
    int flags = SQLITE_OPEN_NOMUTEX;
    if (cfg->mode == MHGI_STORE_RO) flags |= SQLITE_OPEN_READONLY;
    else flags |= SQLITE_OPEN_READWRITE | (cfg->mode == MHGI_STORE_RWC ? SQLITE_OPEN_CREATE : 0);

    /* A clearer message than sqlite's "unable to open database file". */
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (cfg->mode != MHGI_STORE_RWC) {
            mhgi_store_error("sqlite: no database at '%s'", path);
            return MHG_ERR_STORE;
        }
        const char *slash = strrchr(path, '/');
        if (slash && slash != path) {
            char dir[MHG_STORE_URL_MAX];
            size_t n = (size_t)(slash - path);
            if (n < sizeof dir) {
                memcpy(dir, path, n);
                dir[n] = '\0';
                if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                    mhgi_store_error("sqlite: cannot create '%s': directory '%s' does not exist",
                                     path, dir);
                    return MHG_ERR_STORE;
                }
            }
        }
    } else if (S_ISDIR(sb.st_mode)) {
        mhgi_store_error("sqlite: '%s' is a directory, not a database file", path);
        return MHG_ERR_STORE;
    }

    if (cfg->mode == MHGI_STORE_RWC) {
        /* Create the file ourselves, owner-only: it holds pseudonyms and the
         * review queue. SQLite gives its -wal/-shm files the same mode. */
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    }
    sq_conn *c = calloc(1, sizeof *c);
    if (!c) return MHG_ERR_NOMEM;
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (c->db) mhgi_store_error("sqlite: cannot open '%s': %s", path, sqlite3_errmsg(c->db));
        else mhgi_store_error("sqlite: cannot open '%s': out of memory", path);
        sq_disconnect(c);
        return MHG_ERR_STORE;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, cfg->busy_ms);
    mhg_status st = MHG_OK;
    if (cfg->mode != MHGI_STORE_RO && sqlite3_db_readonly(c->db, "main") == 1) {
        mhgi_store_error("sqlite: database '%s' is read-only (file permissions?); open it with "
                         "?mode=ro to read it",
                         path);
        st = MHG_ERR_STORE;
    }
    /* Touch the file: a file that is not a database fails here, not later. */
    if (st == MHG_OK)
        st = exec_sql(c, "SELECT count(*) FROM sqlite_master", "read schema");
    if (st == MHG_OK && cfg->mode != MHGI_STORE_RO) {
        /* WAL: readers do not block the writer, one fsync per commit at most. */
        st = exec_sql(c, "PRAGMA journal_mode=WAL", "enable WAL");
        if (st == MHG_OK)
            st = exec_sql(c, cfg->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                          "set synchronous");
    }
    if (st == MHG_OK && cfg->max_pages > 0) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA max_page_count=%ld", cfg->max_pages);
        st = exec_sql(c, sql, "set max_page_count");
    }
    if (st == MHG_OK) {
        if (stat(path, &sb) != 0 || !(c->path = strdup(path))) {
            mhgi_store_error("sqlite: cannot stat '%s' after opening it", path);
            st = MHG_ERR_STORE;
        } else {
            c->dev = sb.st_dev;
            c->ino = sb.st_ino;
        }
    }
    if (st != MHG_OK) {
        sq_disconnect(c);
        return st;
    }
    *conn_out = c;
    return MHG_OK;
}

/* In WAL mode SQLite keeps writing into a database file that was unlinked
 * (its directory removed, the file replaced): every decision recorded after
 * that would be lost without an error. One stat() per write turns that into
 * a clean MHG_ERR_STORE, and the gateway fails closed. */
static mhg_status sq_writable(void *conn) {
    sq_conn *c = conn;
    struct stat sb;
    if (stat(c->path, &sb) != 0 || sb.st_dev != c->dev || sb.st_ino != c->ino) {
        mhgi_store_error("sqlite: database file '%s' was moved or deleted while open; refusing "
                         "to write (restart with a valid data directory)",
                         c->path);
        return MHG_ERR_STORE;
    }
    return MHG_OK;
}

static int sq_usable(void *conn) {
    (void)conn;
    return 1; /* a sqlite3 handle stays valid after any error */
}

static mhg_status has_version_table(sq_conn *c, int *yes) {
    sqlite3_stmt *s;
    *yes = 0;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'",
                           -1, &s, NULL) != SQLITE_OK)
        return sq_fail(c, "read schema");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *yes = 1;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sq_fail(c, "read schema");
    return MHG_OK;
}

static mhg_status read_version(sq_conn *c, int *v) {
    int yes;
    mhg_status st = has_version_table(c, &yes);
    *v = 0;
    if (st != MHG_OK || !yes) return st;
    sqlite3_stmt *s = q(c, Q_VERSION);
    if (!s) return MHG_ERR_STORE;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int(s, 0);
    else st = sq_fail(c, "read schema version");
    done(s);
    return st;
}

static mhg_status sq_schema_version(void *conn, int *out) { return read_version(conn, out); }

static mhg_status sq_migrate(void *conn, const mhgi_store_cfg *cfg) {
    sq_conn *c = conn;
    int v = 0;
    mhg_status st = read_version(c, &v);
    if (st != MHG_OK) return st;
    if (v > MHG_STORE_SCHEMA_VERSION) {
        mhgi_store_error("sqlite: database '%s' has schema version %d, newer than this mhguard "
                         "understands (%d); upgrade mhguard",
                         cfg->target, v, MHG_STORE_SCHEMA_VERSION);
        return MHG_ERR_STORE;
    }
    if (v == MHG_STORE_SCHEMA_VERSION) return MHG_OK; /* idempotent: no write at all */
    if (cfg->mode == MHGI_STORE_RO) {
        int yes = 0;
        (void)has_version_table(c, &yes);
        if (!yes)
            mhgi_store_error("sqlite: '%s' is not an mhguard database (no schema_version table)",
                             cfg->target);
        else
            mhgi_store_error("sqlite: database '%s' has schema version %d, this mhguard needs "
                             "%d: open it read-write once to migrate",
                             cfg->target, v, MHG_STORE_SCHEMA_VERSION);
        return MHG_ERR_STORE;
    }
    st = begin_write(c);
    if (st != MHG_OK) return st;
    /* Re-read inside the write lock: another process may have migrated. */
    st = exec_sql(c, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, "
                     "applied_ms INTEGER NOT NULL)",
                  "create schema_version");
    if (st == MHG_OK) st = read_version(c, &v);
    for (int i = v; st == MHG_OK && i < MHG_STORE_SCHEMA_VERSION; i++) {
        char what[64];
        snprintf(what, sizeof what, "migration %d", i + 1);
        st = exec_sql(c, migrations[i], what);
        if (st == MHG_OK) {
            char sql[128];
            snprintf(sql, sizeof sql,
                     "INSERT INTO schema_version(version, applied_ms) VALUES(%d, %lld)", i + 1,
                     (long long)mhg_store_now_ms());
            st = exec_sql(c, sql, what);
        }
    }
    if (st == MHG_OK) st = commit(c);
    else rollback(c);
    return st;
}

/* ---- decisions --------------------------------------------------------- */

static mhg_status insert_decision(sq_conn *c, const mhg_store_decision *d, const char *cats,
                                  const char *evid) {
    sqlite3_stmt *s = q(c, Q_DEC_INSERT);
    if (!s) return MHG_ERR_STORE;
    bind_text(s, 1, d->decision_id);
    bind_text(s, 2, d->request_id);
    sqlite3_bind_int64(s, 3, d->time_ms);
    bind_text(s, 4, d->user);
    bind_text(s, 5, d->conversation);
    bind_text(s, 6, d->kind);
    bind_text(s, 7, d->risk);
    bind_text(s, 8, d->action);
    bind_text(s, 9, cats);
    bind_text(s, 10, evid);
    bind_text(s, 11, d->engine_version);
    bind_text(s, 12, d->lexicon_version);
    bind_text(s, 13, d->model_version);
    bind_text(s, 14, d->policy_version);
    bind_text(s, 15, d->actor);
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        mhgi_store_error("decision '%s' already exists", d->decision_id);
        st = MHG_ERR_INVALID;
    } else if (rc != SQLITE_DONE) {
        st = sq_fail(c, "insert decision");
    }
    done(s);
    return st;
}

static mhg_status sq_decision_insert(void *conn, const mhg_store_decision *d, const char *cats,
                                     const char *evid) {
    return insert_decision(conn, d, cats, evid);
}

static mhg_status sq_decision_get(void *conn, const char *id, json_t **out) {
    sq_conn *c = conn;
    *out = NULL;
    sqlite3_stmt *s = q(c, Q_DEC_GET);
    if (!s) return MHG_ERR_STORE;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_ROW) {
        json_t *j = json_object();
        json_object_set_new(j, "decision_id", col_json_text(s, 0));
        json_object_set_new(j, "request_id", col_json_text(s, 1));
        json_object_set_new(j, "time_ms", col_json_int(s, 2));
        json_object_set_new(j, "user", col_json_text(s, 3));
        json_object_set_new(j, "conversation", col_json_text(s, 4));
        json_object_set_new(j, "kind", col_json_text(s, 5));
        json_object_set_new(j, "risk", col_json_text(s, 6));
        json_object_set_new(j, "action", col_json_text(s, 7));
        json_object_set_new(j, "categories", col_json_array(s, 8));
        json_object_set_new(j, "evidence", col_json_array(s, 9));
        json_object_set_new(j, "engine_version", col_json_text(s, 10));
        json_object_set_new(j, "lexicon_version", col_json_text(s, 11));
        json_object_set_new(j, "model_version", col_json_text(s, 12));
        json_object_set_new(j, "policy_version", col_json_text(s, 13));
        json_object_set_new(j, "actor", col_json_text(s, 14));
        *out = j;
    } else if (rc == SQLITE_DONE) {
        mhgi_store_error("no decision '%s'", id);
        st = MHG_ERR_NOT_FOUND;
    } else {
        st = sq_fail(c, "read decision");
    }
    done(s);
    return st;
}

static mhg_status count_query(sq_conn *c, int which, int64_t *out, const char *what) {
    sqlite3_stmt *s = q(c, which);
    if (!s) return MHG_ERR_STORE;
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(s, 0);
    else st = sq_fail(c, what);
    done(s);
    return st;
}

static mhg_status sq_decision_count(void *conn, int64_t *out) {
    return count_query(conn, Q_DEC_COUNT, out, "count decisions");
}

/* ---- review queue ------------------------------------------------------ */

static mhg_status sq_review_enqueue(void *conn, const mhg_store_review_item *it, int64_t now,
                                    int64_t *id_out) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_REV_INSERT);
    if (!s) return MHG_ERR_STORE;
    bind_text(s, 1, it->decision_id);
    bind_text(s, 2, it->level);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, it->sla_due_ms);
    bind_text(s, 5, it->reason);
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_DONE) *id_out = sqlite3_last_insert_rowid(c->db);
    else st = sq_fail(c, "enqueue review item");
    done(s);
    return st;
}

static json_t *review_row(sqlite3_stmt *s) {
    static const char *const names[] = {"id",       "decision_id", "level",      "state",
                                        "created_ms", "sla_due_ms", "reason",     "reviewer",
                                        "claimed_ms", "outcome",    "note",       "resolved_ms"};
    json_t *j = json_object();
    for (int i = 0; i < 12; i++) {
        int is_int = i == 0 || i == 4 || i == 5 || i == 8 || i == 11;
        json_object_set_new(j, names[i], is_int ? col_json_int(s, i) : col_json_text(s, i));
    }
    return j;
}

static mhg_status sq_review_list(void *conn, const char *state, size_t limit, int64_t id,
                                 json_t **out) {
    sq_conn *c = conn;
    *out = NULL;
    sqlite3_stmt *s;
    if (id > 0) {
        if (!(s = q(c, Q_REV_GET))) return MHG_ERR_STORE;
        sqlite3_bind_int64(s, 1, id);
    } else if (state) {
        if (!(s = q(c, Q_REV_LIST_STATE))) return MHG_ERR_STORE;
        bind_text(s, 1, state);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)limit);
    } else {
        if (!(s = q(c, Q_REV_LIST_WORK))) return MHG_ERR_STORE;
        sqlite3_bind_int64(s, 1, (sqlite3_int64)limit);
    }
    json_t *a = json_array();
    int rc = sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) json_array_append_new(a, review_row(s));
    mhg_status st = MHG_OK;
    if (rc != SQLITE_DONE) {
        st = sq_fail(c, "list review items");
        json_decref(a);
        a = NULL;
    }
    done(s);
    *out = a;
    return st;
}

/* Read an item's state and reviewer inside the current transaction. */
static mhg_status review_state(sq_conn *c, int64_t id, char state[16], char who[MHG_STORE_FIELD_MAX + 1]) {
    sqlite3_stmt *s = q(c, Q_REV_STATE);
    if (!s) return MHG_ERR_STORE;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_ROW) {
        snprintf(state, 16, "%s", col_text(s, 0) ? col_text(s, 0) : "");
        snprintf(who, MHG_STORE_FIELD_MAX + 1, "%s", col_text(s, 1) ? col_text(s, 1) : "");
    } else if (rc == SQLITE_DONE) {
        mhgi_store_error("no review item %lld", (long long)id);
        st = MHG_ERR_NOT_FOUND;
    } else {
        st = sq_fail(c, "read review item");
    }
    done(s);
    return st;
}

/* Shared rule for claim and resolve (see store.h). */
static mhg_status review_may_act(int64_t id, const char *state, const char *who,
                                 const char *reviewer) {
    if (!strcmp(state, "resolved")) {
        mhgi_store_error("review item %lld is already resolved", (long long)id);
        return MHG_ERR_NOT_FOUND;
    }
    if (!strcmp(state, "claimed") && strcmp(who, reviewer)) {
        mhgi_store_error("review item %lld is claimed by %s", (long long)id, who);
        return MHG_ERR_INVALID;
    }
    return MHG_OK;
}

/* Claim (resolve = 0) or resolve a review item: one write transaction that
 * first checks the item's state and that this reviewer may act on it. */
static mhg_status review_act(sq_conn *c, int64_t id, const char *reviewer, int resolve,
                             const char *outcome, const char *note, int64_t now) {
    char state[16], who[MHG_STORE_FIELD_MAX + 1];
    mhg_status st = begin_write(c);
    if (st != MHG_OK) return st;
    st = review_state(c, id, state, who);
    if (st == MHG_OK) st = review_may_act(id, state, who, reviewer);
    if (st == MHG_OK) {
        sqlite3_stmt *s = q(c, resolve ? Q_REV_RESOLVE : Q_REV_CLAIM);
        if (!s) st = MHG_ERR_STORE;
        else {
            int k = 1;
            bind_text(s, k++, reviewer);
            if (resolve) {
                bind_text(s, k++, outcome);
                bind_text(s, k++, note);
            }
            sqlite3_bind_int64(s, k++, now);
            sqlite3_bind_int64(s, k, id);
            st = step_done(c, s, resolve ? "resolve review item" : "claim review item");
        }
    }
    if (st == MHG_OK) st = commit(c);
    else rollback(c);
    return st;
}

static mhg_status sq_review_claim(void *conn, int64_t id, const char *reviewer, int64_t now) {
    return review_act(conn, id, reviewer, 0, NULL, NULL, now);
}

static mhg_status sq_review_resolve(void *conn, int64_t id, const char *reviewer,
                                    const char *outcome, const char *note, int64_t now) {
    return review_act(conn, id, reviewer, 1, outcome, note, now);
}

static mhg_status sq_review_count(void *conn, int64_t now, int64_t *open_out,
                                  int64_t *overdue_out) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_REV_COUNT);
    if (!s) return MHG_ERR_STORE;
    sqlite3_bind_int64(s, 1, now);
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_ROW) {
        *open_out = sqlite3_column_int64(s, 0);
        *overdue_out = sqlite3_column_int64(s, 1);
    } else {
        st = sq_fail(c, "count review items");
    }
    done(s);
    return st;
}

/* ---- API keys ---------------------------------------------------------- */

static mhg_status sq_key_find(void *conn, const uint8_t hash[32], uint8_t stored[32],
                              char role[32], int64_t *id, int *revoked) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_KEY_FIND);
    if (!s) return MHG_ERR_STORE;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        const void *b = sqlite3_column_blob(s, 1);
        if (b && sqlite3_column_bytes(s, 1) == 32) memcpy(stored, b, 32);
        else memset(stored, 0, 32);
        snprintf(role, 32, "%s", col_text(s, 2) ? col_text(s, 2) : "");
        *revoked = sqlite3_column_type(s, 3) != SQLITE_NULL;
    } else if (rc == SQLITE_DONE) {
        st = MHG_ERR_NOT_FOUND;
    } else {
        st = sq_fail(c, "look up API key");
    }
    done(s);
    return st;
}

static mhg_status sq_key_insert(void *conn, const uint8_t hash[32], const char *role,
                                const char *label, const char *prefix, int64_t now,
                                int64_t *id_out, int *revoked_out) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_KEY_INSERT);
    if (!s) return MHG_ERR_STORE;
    sqlite3_bind_blob(s, 1, hash, 32, SQLITE_STATIC);
    bind_text(s, 2, role);
    bind_text(s, 3, label);
    bind_text(s, 4, prefix);
    sqlite3_bind_int64(s, 5, now);
    int rc = sqlite3_step(s);
    done(s);
    if (rc == SQLITE_DONE) {
        *id_out = sqlite3_last_insert_rowid(c->db);
        return MHG_OK;
    }
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        uint8_t stored[32];
        char r[32];
        mhg_status st = sq_key_find(c, hash, stored, r, id_out, revoked_out);
        if (st != MHG_OK) return st;
        mhgi_store_error("this API key is already registered (id %lld)", (long long)*id_out);
        return MHG_ERR_INVALID;
    }
    return sq_fail(c, "insert API key");
}

static mhg_status sq_key_revoke(void *conn, int64_t id, int64_t now) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_KEY_REVOKE);
    if (!s) return MHG_ERR_STORE;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, id);
    mhg_status st = step_done(c, s, "revoke API key");
    if (st == MHG_OK && sqlite3_changes(c->db) == 0) {
        mhgi_store_error("no API key with id %lld", (long long)id);
        st = MHG_ERR_NOT_FOUND;
    }
    return st;
}

static mhg_status sq_key_list(void *conn, json_t **out) {
    sq_conn *c = conn;
    *out = NULL;
    sqlite3_stmt *s = q(c, Q_KEY_LIST);
    if (!s) return MHG_ERR_STORE;
    json_t *a = json_array();
    int rc = sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        json_t *j = json_object();
        json_object_set_new(j, "id", col_json_int(s, 0));
        json_object_set_new(j, "role", col_json_text(s, 1));
        json_object_set_new(j, "label", col_json_text(s, 2));
        json_object_set_new(j, "created_ms", col_json_int(s, 3));
        json_object_set_new(j, "revoked_ms", col_json_int(s, 4));
        json_object_set_new(j, "prefix", col_json_text(s, 5));
        json_array_append_new(a, j);
    }
    mhg_status st = MHG_OK;
    if (rc != SQLITE_DONE) {
        st = sq_fail(c, "list API keys");
        json_decref(a);
        a = NULL;
    }
    done(s);
    *out = a;
    return st;
}

/* ---- conversation state ------------------------------------------------ */

static mhg_status sq_conv_get(void *conn, const char *conv, char **json_out, size_t *len_out) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_CONV_GET);
    if (!s) return MHG_ERR_STORE;
    bind_text(s, 1, conv);
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_ROW) {
        const char *t = col_text(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        char *copy = malloc(n + 1);
        if (!copy) st = MHG_ERR_NOMEM;
        else {
            if (n) memcpy(copy, t, n);
            copy[n] = '\0';
            *json_out = copy;
            *len_out = n;
        }
    } else if (rc == SQLITE_DONE) {
        mhgi_store_error("no state for conversation '%s'", conv);
        st = MHG_ERR_NOT_FOUND;
    } else {
        st = sq_fail(c, "read conversation state");
    }
    done(s);
    return st;
}

static mhg_status sq_conv_put(void *conn, const char *conv, const char *json, size_t len,
                              int64_t now) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_CONV_PUT);
    if (!s) return MHG_ERR_STORE;
    bind_text(s, 1, conv);
    sqlite3_bind_text(s, 2, json, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    return step_done(c, s, "write conversation state");
}

static mhg_status sq_conv_delete(void *conn, const char *conv) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_CONV_DELETE);
    if (!s) return MHG_ERR_STORE;
    bind_text(s, 1, conv);
    return step_done(c, s, "delete conversation state");
}

static mhg_status sq_conv_purge(void *conn, int64_t before, int64_t *deleted) {
    sq_conn *c = conn;
    sqlite3_stmt *s = q(c, Q_CONV_PURGE);
    if (!s) return MHG_ERR_STORE;
    sqlite3_bind_int64(s, 1, before);
    mhg_status st = step_done(c, s, "purge conversation state");
    if (st == MHG_OK) *deleted = sqlite3_changes(c->db);
    return st;
}

/* ---- audit chain ------------------------------------------------------- */

static mhg_status read_head(sq_conn *c, int64_t *seq, char hash[MHG_STORE_HASH_HEX]) {
    sqlite3_stmt *s = q(c, Q_AUDIT_HEAD);
    if (!s) return MHG_ERR_STORE;
    int rc = sqlite3_step(s);
    mhg_status st = MHG_OK;
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(s, 0);
        snprintf(hash, MHG_STORE_HASH_HEX, "%s", col_text(s, 1) ? col_text(s, 1) : "");
    } else if (rc == SQLITE_DONE) {
        *seq = 0;
        memcpy(hash, mhgi_store_zero_hash, MHG_STORE_HASH_HEX);
    } else {
        st = sq_fail(c, "read audit head");
    }
    done(s);
    return st;
}

static mhg_status sq_audit_head(void *conn, int64_t *seq, char hash[MHG_STORE_HASH_HEX]) {
    return read_head(conn, seq, hash);
}

static mhg_status sq_audit_append(void *conn, const mhg_store_decision *d, const char *cats,
                                  const char *evid, mhg_store_audit_build_fn build, void *ctx,
                                  int64_t *seq_out) {
    sq_conn *c = conn;
    /* BEGIN IMMEDIATE takes the database write lock before the head is read,
     * so no other connection or process can append between our read and our
     * insert: the chain cannot fork. */
    mhg_status st = begin_write(c);
    if (st != MHG_OK) return st;
    if (d) st = insert_decision(c, d, cats, evid);
    int64_t head = 0;
    char prev[MHG_STORE_HASH_HEX];
    if (st == MHG_OK) st = read_head(c, &head, prev);
    char *record = NULL;
    char hash[MHG_STORE_HASH_HEX] = "";
    if (st == MHG_OK) st = build(ctx, head + 1, prev, &record, hash);
    if (st == MHG_OK && !record) st = MHG_ERR_INTERNAL;
    if (st == MHG_OK) {
        sqlite3_stmt *s = q(c, Q_AUDIT_INSERT);
        if (!s) st = MHG_ERR_STORE;
        else {
            sqlite3_bind_int64(s, 1, head + 1);
            bind_text(s, 2, prev);
            bind_text(s, 3, hash);
            bind_text(s, 4, record);
            st = step_done(c, s, "append audit record");
        }
    }
    free(record);
    if (st == MHG_OK) st = commit(c);
    else rollback(c);
    if (st == MHG_OK) *seq_out = head + 1;
    return st;
}

static mhg_status sq_audit_iterate(void *conn, int64_t from, mhg_store_audit_row_fn fn,
                                   void *ctx) {
    sq_conn *c = conn;
    /* One read transaction: a consistent snapshot even while appends go on. */
    mhg_status st = run(c, Q_BEGIN_R, "begin read transaction");
    if (st != MHG_OK) return st;
    sqlite3_stmt *s = q(c, Q_AUDIT_ITER);
    if (!s) {
        rollback(c);
        return MHG_ERR_STORE;
    }
    sqlite3_bind_int64(s, 1, from);
    int rc = sqlite3_step(s);
    for (; rc == SQLITE_ROW; rc = sqlite3_step(s)) {
        mhg_store_audit_row row;
        row.seq = sqlite3_column_int64(s, 0);
        row.prev_hash = col_text(s, 1) ? col_text(s, 1) : "";
        row.hash = col_text(s, 2) ? col_text(s, 2) : "";
        row.record = col_text(s, 3) ? col_text(s, 3) : "";
        row.record_len = (size_t)sqlite3_column_bytes(s, 3);
        if (fn(ctx, &row)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) st = sq_fail(c, "read audit log");
    done(s);
    if (st == MHG_OK) st = commit(c);
    else rollback(c);
    return st;
}

const struct mhg_store_ops mhgi_store_sqlite_ops = {
    .zName = "sqlite",
    .xConnect = sq_connect,
    .xDisconnect = sq_disconnect,
    .xUsable = sq_usable,
    .xWritable = sq_writable,
    .xMigrate = sq_migrate,
    .xSchemaVersion = sq_schema_version,
    .xDecisionInsert = sq_decision_insert,
    .xDecisionGet = sq_decision_get,
    .xDecisionCount = sq_decision_count,
    .xReviewEnqueue = sq_review_enqueue,
    .xReviewList = sq_review_list,
    .xReviewClaim = sq_review_claim,
    .xReviewResolve = sq_review_resolve,
    .xReviewCount = sq_review_count,
    .xKeyInsert = sq_key_insert,
    .xKeyFind = sq_key_find,
    .xKeyRevoke = sq_key_revoke,
    .xKeyList = sq_key_list,
    .xConvGet = sq_conv_get,
    .xConvPut = sq_conv_put,
    .xConvDelete = sq_conv_delete,
    .xConvPurge = sq_conv_purge,
    .xAuditAppend = sq_audit_append,
    .xAuditIterate = sq_audit_iterate,
    .xAuditHead = sq_audit_head,
};
