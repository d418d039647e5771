/*
 * test_audit.c - the audit hash chain on a real SQLite store: appending,
 * canonical records without message content, verification after each kind
 * of tampering (done through a second SQLite connection, as an attacker
 * with file access would), anchors, export, and concurrent appends.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "mhguard/audit.h"
#include "test_util.h"

typedef mhgt_store_fixture fixture;

static int setup(void **state) { return mhgt_store_fixture_setup(state, "mhg_audit_"); }

static int teardown(void **state) { return mhgt_store_fixture_teardown(state); }

/* Run SQL on the file through a separate connection (the tamperer). */
static void tamper(const char *db, const char *fmt, ...) {
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(h, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) fprintf(stderr, "tamper SQL failed: %s\n", err);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(h);
}

/* Read one text column of one row. Caller frees. */
static char *sql_text(const char *db, const char *sql) {
    sqlite3 *h;
    char *out = NULL;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        out = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
}

/* The test's own implementation of the chain hash (audit.h format). */
static void ref_hash(const char *prev_hex, const char *rec, size_t len, char out[65]) {
    unsigned char prev[32], h[32];
    size_t n = 0;
    assert_int_equal(sodium_hex2bin(prev, 32, prev_hex, 64, NULL, &n, NULL), 0);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, prev, 32);
    crypto_generichash_update(&st, (const unsigned char *)rec, len);
    crypto_generichash_final(&st, h, 32);
    sodium_bin2hex(out, 65, h, 32);
}

/* Re-hash rows from seq `from` to the end, as a careful attacker would
 * after editing a record. */
static void rehash_from(const char *db, int64_t from) {
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char prev[65];
    if (from == 1) {
        memset(prev, '0', 64);
        prev[64] = '\0';
    } else {
        sqlite3_stmt *s;
        sqlite3_prepare_v2(h, "SELECT hash FROM audit_log WHERE seq = ?", -1, &s, NULL);
        sqlite3_bind_int64(s, 1, from - 1);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        snprintf(prev, sizeof prev, "%s", sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
    }
    sqlite3_stmt *sel, *upd;
    sqlite3_prepare_v2(h, "SELECT seq, record FROM audit_log WHERE seq >= ? ORDER BY seq", -1,
                       &sel, NULL);
    sqlite3_prepare_v2(h, "UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", -1, &upd,
                       NULL);
    sqlite3_bind_int64(sel, 1, from);
    typedef struct { int64_t seq; char *rec; } row;
    row rows[256];
    int n = 0;
    while (sqlite3_step(sel) == SQLITE_ROW && n < 256) {
        rows[n].seq = sqlite3_column_int64(sel, 0);
        rows[n].rec = strdup((const char *)sqlite3_column_text(sel, 1));
        n++;
    }
    sqlite3_finalize(sel);
    for (int i = 0; i < n; i++) {
        char hh[65];
        ref_hash(prev, rows[i].rec, strlen(rows[i].rec), hh);
        sqlite3_bind_text(upd, 1, prev, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(upd, 2, hh, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(upd, 3, rows[i].seq);
        assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
        sqlite3_reset(upd);
        memcpy(prev, hh, 65);
        free(rows[i].rec);
    }
    sqlite3_finalize(upd);
    sqlite3_close(h);
}

static void append_n(mhg_store *s, int n) {
    for (int i = 0; i < n; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "req_%d", i);
        mhg_audit_event ev = {.event = "decision", .request_id = rid, .risk = "low",
                              .action = "allow", .categories_json = "[\"suicide\"]",
                              .evidence_json = "[\"rule.1\"]", .actor = "test"};
        assert_int_equal(mhg_audit_append(s, &ev, NULL), MHG_OK);
    }
}

static mhg_audit_report verify_now(mhg_store *s) {
    mhg_audit_report r;
    assert_int_equal(mhg_audit_verify(s, &r), MHG_OK);
    return r;
}

/* ---- appending --------------------------------------------------------- */

static void test_empty_chain_verifies(void **state) {
    fixture *f = *state;
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_OK);
    assert_int_equal(r.records, 0);
    assert_int_equal(r.head_seq, 0);
    int64_t seq = -1;
    char head[MHG_AUDIT_HASH_HEX];
    assert_int_equal(mhg_audit_head(f->store, &seq, head), MHG_OK);
    assert_int_equal(seq, 0);
    assert_int_equal(strspn(head, "0"), 64);
}

static void test_append_and_chain_format(void **state) {
    fixture *f = *state;
    char h1[MHG_AUDIT_HASH_HEX], h2[MHG_AUDIT_HASH_HEX];
    mhg_audit_event ev = {.event = "key_create", .time_ms = 1700000000007, .actor = "cli",
                          .target = "key:1", .outcome = "created"};
    assert_int_equal(mhg_audit_append(f->store, &ev, h1), MHG_OK);
    assert_int_equal(strlen(h1), 64);
    ev.target = "key:2";
    assert_int_equal(mhg_audit_append(f->store, &ev, h2), MHG_OK);
    assert_string_not_equal(h1, h2);

    /* Record 1 chains from 64 zeros; stored hash = BLAKE2b-256(prev || record). */
    char *prev1 = sql_text(f->db, "SELECT prev_hash FROM audit_log WHERE seq = 1");
    char *rec1 = sql_text(f->db, "SELECT record FROM audit_log WHERE seq = 1");
    char *prev2 = sql_text(f->db, "SELECT prev_hash FROM audit_log WHERE seq = 2");
    assert_int_equal(strspn(prev1, "0"), 64);
    char expect[65];
    ref_hash(prev1, rec1, strlen(rec1), expect);
    assert_string_equal(expect, h1);
    assert_string_equal(prev2, h1);
    /* Canonical: sorted keys, compact, seq and format version embedded. */
    assert_string_equal(rec1, "{\"actor\":\"cli\",\"event\":\"key_create\",\"outcome\":\"created\","
                              "\"seq\":1,\"target\":\"key:1\",\"time\":\"2023-11-14T22:13:20.007Z\","
                              "\"v\":1}");
    free(prev1);
    free(rec1);
    free(prev2);

    int64_t seq;
    char head[MHG_AUDIT_HASH_HEX];
    assert_int_equal(mhg_audit_head(f->store, &seq, head), MHG_OK);
    assert_int_equal(seq, 2);
    assert_string_equal(head, h2);
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_OK);
    assert_int_equal(r.records, 2);
    assert_string_equal(r.head_hash, h2);
}

static void test_record_decision_has_no_text(void **state) {
    fixture *f = *state;
    mhg_store_decision d = {
        .decision_id = "dec_1", .request_id = "req_1", .time_ms = 1700000000000,
        .user = "u_1", .conversation = "c_1", .kind = "user_message", .risk = "high",
        .action = "escalate", .categories_json = "[\"suicide\"]",
        .evidence_json = "[\"en.suicide.plan.003\"]", .engine_version = "0.1.0",
        .lexicon_version = "lex-7", .model_version = "none", .policy_version = "level3-v2",
        .actor = "api_key:4"};
    char h[MHG_AUDIT_HASH_HEX];
    assert_int_equal(mhg_audit_record_decision(f->store, &d, h), MHG_OK);
    char *json;
    assert_int_equal(mhg_store_decision_get(f->store, "dec_1", &json), MHG_OK);
    free(json);
    char *rec = sql_text(f->db, "SELECT record FROM audit_log WHERE seq = 1");
    json_t *j = json_loads(rec, 0, NULL);
    free(rec);
    assert_non_null(j);
    static const char *const allowed[] = {"v", "seq", "time", "event", "request_id",
                                          "decision_id", "user", "conversation", "kind", "risk",
                                          "action", "categories", "evidence", "actor", "versions",
                                          "target", "outcome"};
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val) {
        int ok = 0;
        for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
            if (!strcmp(key, allowed[i])) ok = 1;
        assert_true(ok);
    }
    assert_string_equal(json_string_value(json_object_get(j, "event")), "decision");
    assert_string_equal(json_string_value(json_object_get(j, "risk")), "high");
    json_t *v = json_object_get(j, "versions");
    assert_string_equal(json_string_value(json_object_get(v, "policy")), "level3-v2");
    assert_string_equal(json_string_value(json_object_get(v, "lexicon")), "lex-7");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "evidence"), 0)),
                        "en.suicide.plan.003");
    json_decref(j);
    /* Both or neither: a duplicate decision adds no audit record. */
    assert_int_equal(mhg_audit_record_decision(f->store, &d, h), MHG_ERR_INVALID);
    assert_int_equal(h[0], '\0');
    int64_t seq;
    assert_int_equal(mhg_audit_head(f->store, &seq, NULL), MHG_OK);
    assert_int_equal(seq, 1);
}

static void test_append_rejects_bad_events(void **state) {
    fixture *f = *state;
    mhg_audit_event ev = {0};
    assert_int_equal(mhg_audit_append(f->store, &ev, NULL), MHG_ERR_INVALID);
    assert_int_equal(mhg_audit_append(f->store, NULL, NULL), MHG_ERR_INVALID);
    ev.event = "decision";
    ev.categories_json = "\"suicide\"";
    assert_int_equal(mhg_audit_append(f->store, &ev, NULL), MHG_ERR_INVALID);
    ev.categories_json = NULL;
    ev.evidence_json = "[{\"text\":\"message content\"}]";
    assert_int_equal(mhg_audit_append(f->store, &ev, NULL), MHG_ERR_INVALID);
    ev.evidence_json = NULL;
    ev.actor = "\xc3\x28";
    assert_int_equal(mhg_audit_append(f->store, &ev, NULL), MHG_ERR_UTF8);
    int64_t seq;
    assert_int_equal(mhg_audit_head(f->store, &seq, NULL), MHG_OK);
    assert_int_equal(seq, 0);
}

/* ---- tampering --------------------------------------------------------- */

static void test_edit_record_detected(void **state) {
    fixture *f = *state;
    append_n(f->store, 6);
    tamper(f->db, "UPDATE audit_log SET record = replace(record, '\"low\"', '\"none\"') "
                  "WHERE seq = 3");
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_HASH_MISMATCH);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.detail, "record 3"));
    assert_int_equal(r.records, 6);
}

static void test_delete_detected(void **state) {
    fixture *f = *state;
    append_n(f->store, 6);
    tamper(f->db, "DELETE FROM audit_log WHERE seq = 4");
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_SEQ_GAP);
    assert_int_equal(r.bad_seq, 4);
    assert_non_null(strstr(r.detail, "missing"));
    assert_int_equal(r.records, 5);
}

static void test_delete_first_detected(void **state) {
    fixture *f = *state;
    append_n(f->store, 3);
    tamper(f->db, "DELETE FROM audit_log WHERE seq = 1");
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_SEQ_GAP);
    assert_int_equal(r.bad_seq, 1);
    /* ... and renumbering the rest down does not hide it. */
    tamper(f->db, "UPDATE audit_log SET seq = seq - 1");
    r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_SEQ_MISMATCH);
    assert_int_equal(r.bad_seq, 1);
}

static void test_swap_detected(void **state) {
    fixture *f = *state;
    append_n(f->store, 6);
    tamper(f->db, "UPDATE audit_log SET seq = -1 WHERE seq = 3;"
                  "UPDATE audit_log SET seq = 3 WHERE seq = 4;"
                  "UPDATE audit_log SET seq = 4 WHERE seq = -1;");
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_SEQ_MISMATCH);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.detail, "reordered"));
}

static void test_changed_hash_detected(void **state) {
    fixture *f = *state;
    append_n(f->store, 5);
    tamper(f->db, "UPDATE audit_log SET hash = '%064d' WHERE seq = 5", 7);
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_HASH_MISMATCH);
    assert_int_equal(r.bad_seq, 5);
}

/* An attacker edits record 2 and fixes its hash: record 3's link breaks. */
static void test_rehashed_edit_detected_at_next(void **state) {
    fixture *f = *state;
    append_n(f->store, 5);
    tamper(f->db, "UPDATE audit_log SET record = replace(record, 'allow', 'block') WHERE seq = 2");
    char *prev = sql_text(f->db, "SELECT prev_hash FROM audit_log WHERE seq = 2");
    char *rec = sql_text(f->db, "SELECT record FROM audit_log WHERE seq = 2");
    char h[65];
    ref_hash(prev, rec, strlen(rec), h);
    tamper(f->db, "UPDATE audit_log SET hash = '%s' WHERE seq = 2", h);
    free(prev);
    free(rec);
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_PREV_MISMATCH);
    assert_int_equal(r.bad_seq, 3);
    assert_non_null(strstr(r.detail, "record 2"));
}

/* A forged record inserted in the middle, with valid hashes for itself. */
static void test_insertion_detected(void **state) {
    fixture *f = *state;
    append_n(f->store, 5);
    tamper(f->db, "UPDATE audit_log SET seq = -seq WHERE seq >= 3;"
                  "UPDATE audit_log SET seq = -seq + 1 WHERE seq < 0;");
    char *prev = sql_text(f->db, "SELECT hash FROM audit_log WHERE seq = 2");
    const char *forged = "{\"action\":\"allow\",\"event\":\"decision\",\"seq\":3,\"v\":1}";
    char h[65];
    ref_hash(prev, forged, strlen(forged), h);
    tamper(f->db, "INSERT INTO audit_log(seq, prev_hash, hash, record) VALUES(3, '%s', '%s', '%s')",
           prev, h, forged);
    free(prev);
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_SEQ_MISMATCH);
    assert_int_equal(r.bad_seq, 4);
    assert_int_equal(r.records, 6);
}

static void test_garbage_record_detected(void **state) {
    fixture *f = *state;
    append_n(f->store, 3);
    tamper(f->db, "UPDATE audit_log SET record = 'not json' WHERE seq = 2");
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_BAD_RECORD);
    assert_int_equal(r.bad_seq, 2);
    assert_string_equal(mhg_audit_fault_name(r.fault), "bad_record");
}

/* Truncation and whole-history rewrites need a published anchor. */
static void test_anchor(void **state) {
    fixture *f = *state;
    append_n(f->store, 6);
    int64_t aseq;
    char ahash[MHG_AUDIT_HASH_HEX];
    assert_int_equal(mhg_audit_head(f->store, &aseq, ahash), MHG_OK);
    mhg_audit_report r;
    assert_int_equal(mhg_audit_verify_anchor(f->store, aseq, ahash, &r), MHG_OK);
    assert_int_equal(r.fault, MHG_AUDIT_OK);
    append_n(f->store, 2); /* growth after the anchor is fine */
    assert_int_equal(mhg_audit_verify_anchor(f->store, aseq, ahash, &r), MHG_OK);
    assert_int_equal(r.fault, MHG_AUDIT_OK);

    /* Rewrite history from record 2 on, re-hashing everything: the plain
     * verify passes, the anchor does not. */
    tamper(f->db, "UPDATE audit_log SET record = replace(record, 'low', 'none') WHERE seq = 2");
    rehash_from(f->db, 2);
    r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_OK);
    assert_int_equal(mhg_audit_verify_anchor(f->store, aseq, ahash, &r), MHG_OK);
    assert_int_equal(r.fault, MHG_AUDIT_ANCHOR_MISMATCH);
    assert_int_equal(r.bad_seq, aseq);

    /* Truncation below the anchor. */
    tamper(f->db, "DELETE FROM audit_log WHERE seq >= 4");
    r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_OK);
    assert_int_equal(mhg_audit_verify_anchor(f->store, aseq, ahash, &r), MHG_OK);
    assert_int_equal(r.fault, MHG_AUDIT_ANCHOR_MISMATCH);
    assert_non_null(strstr(r.detail, "removed from the end"));
    assert_int_equal(mhg_audit_verify_anchor(f->store, 0, ahash, &r), MHG_ERR_INVALID);
}

/* A tampered head is never extended. */
static void test_append_refuses_malformed_head(void **state) {
    fixture *f = *state;
    append_n(f->store, 2);
    tamper(f->db, "UPDATE audit_log SET hash = 'zz' WHERE seq = 2");
    mhg_audit_event ev = {.event = "decision"};
    assert_int_equal(mhg_audit_append(f->store, &ev, NULL), MHG_ERR_STORE);
    assert_non_null(strstr(mhg_store_errmsg(f->store), "after record 2"));
    int64_t seq;
    assert_int_equal(mhg_audit_head(f->store, &seq, NULL), MHG_OK);
    assert_int_equal(seq, 2);
}

/* ---- export ------------------------------------------------------------ */

static void test_export(void **state) {
    fixture *f = *state;
    append_n(f->store, 4);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    int64_t n = 0;
    assert_int_equal(mhg_audit_export(f->store, mem, &n), MHG_OK);
    fclose(mem);
    assert_int_equal(n, 4);
    /* Each line: the record verbatim; recomputing its hash from the line
     * alone (no database) gives the exported hash. */
    char prev[65];
    memset(prev, '0', 64);
    prev[64] = '\0';
    int lines = 0;
    for (char *line = buf, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        lines++;
        assert_int_equal(json_integer_value(json_object_get(j, "seq")), lines);
        assert_string_equal(json_string_value(json_object_get(j, "prev_hash")), prev);
        const char *start = strstr(line, "\"record\":") + 9;
        size_t rlen = strlen(start) - 1; /* drop the closing brace */
        char h[65];
        ref_hash(prev, start, rlen, h);
        assert_string_equal(json_string_value(json_object_get(j, "hash")), h);
        memcpy(prev, h, 65);
        json_decref(j);
    }
    assert_int_equal(lines, 4);
    free(buf);
}

static void test_export_write_error(void **state) {
    fixture *f = *state;
    append_n(f->store, 2);
    FILE *full = fopen("/dev/full", "w");
    if (!full) skip();
    setvbuf(full, NULL, _IONBF, 0);
    assert_int_equal(mhg_audit_export(f->store, full, NULL), MHG_ERR_IO);
    fclose(full);
}

static void test_store_failure_is_reported(void **state) {
    fixture *f = *state;
    char url[400], err[256];
    snprintf(url, sizeof url, "sqlite:%s?mode=ro", f->db);
    mhg_store *ro = NULL;
    assert_int_equal(mhg_store_open(url, &ro, err, sizeof err), MHG_OK);
    mhg_audit_event ev = {.event = "decision"};
    char h[MHG_AUDIT_HASH_HEX] = "x";
    assert_int_equal(mhg_audit_append(ro, &ev, h), MHG_ERR_STORE);
    assert_int_equal(h[0], '\0');
    mhg_audit_report r;
    assert_int_equal(mhg_audit_verify(ro, &r), MHG_OK); /* reading still works */
    mhg_store_close(ro);
}

/* ---- concurrency ------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 40

typedef struct worker {
    mhg_store *store; /* shared handle, or NULL: open a private one */
    const char *dir;
    int n;
    int failures;
} worker;

static void *appender(void *arg) {
    worker *w = arg;
    mhg_store *s = w->store;
    char err[256];
    if (!s && mhg_store_open(w->dir, &s, err, sizeof err) != MHG_OK) {
        w->failures = PER_THREAD;
        return NULL;
    }
    for (int i = 0; i < PER_THREAD; i++) {
        char id[64];
        if (mhg_store_random_id("dec", id, sizeof id) != MHG_OK) w->failures++;
        mhg_store_decision d = {.decision_id = id, .request_id = id, .time_ms = 1 + i,
                                .kind = "user_message", .risk = "low", .action = "allow"};
        if (i % 2) {
            if (mhg_audit_record_decision(s, &d, NULL) != MHG_OK) w->failures++;
        } else {
            mhg_audit_event ev = {.event = "decision", .request_id = id};
            if (mhg_audit_append(s, &ev, NULL) != MHG_OK) w->failures++;
        }
    }
    if (!w->store) mhg_store_close(s);
    return NULL;
}

/* Threads on one handle and threads with their own handles (like separate
 * processes sharing the file) all append at once; the chain must not fork. */
static void test_concurrent_appends(void **state) {
    fixture *f = *state;
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.store = i % 2 ? f->store : NULL, .dir = f->dir, .n = i};
        assert_int_equal(pthread_create(&th[i], NULL, appender, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    mhg_audit_report r = verify_now(f->store);
    assert_int_equal(r.fault, MHG_AUDIT_OK);
    assert_int_equal(r.records, THREADS * PER_THREAD);
    assert_int_equal(r.head_seq, THREADS * PER_THREAD);
    int64_t decisions = 0;
    assert_int_equal(mhg_store_decision_count(f->store, &decisions), MHG_OK);
    assert_int_equal(decisions, THREADS * PER_THREAD / 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        T(test_empty_chain_verifies),
        T(test_append_and_chain_format),
        T(test_record_decision_has_no_text),
        T(test_append_rejects_bad_events),
        T(test_edit_record_detected),
        T(test_delete_detected),
        T(test_delete_first_detected),
        T(test_swap_detected),
        T(test_changed_hash_detected),
        T(test_rehashed_edit_detected_at_next),
        T(test_insertion_detected),
        T(test_garbage_record_detected),
        T(test_anchor),
        T(test_append_refuses_malformed_head),
        T(test_export),
        T(test_export_write_error),
        T(test_store_failure_is_reported),
        T(test_concurrent_appends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
