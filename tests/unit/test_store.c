/*
 * test_store.c - the store against real SQLite files in temporary
 * directories: every operation, migrations, bad input, dead / full /
 * read-only databases, and concurrent use from many threads.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "mhguard/store.h"
#include "test_util.h"

/* ---- helpers ----------------------------------------------------------- */

typedef mhgt_store_fixture fixture;

static int setup(void **state) { return mhgt_store_fixture_setup(state, "mhg_store_"); }

static int teardown(void **state) { return mhgt_store_fixture_teardown(state); }

static mhg_store_decision sample_decision(const char *id) {
    mhg_store_decision d = {
        .decision_id = id,
        .request_id = "req_1",
        .time_ms = 1700000000123,
        .user = "u_abc",
        .conversation = "c_def",
        .kind = "user_message",
        .risk = "moderate",
        .action = "support",
        .categories_json = "[\"suicide\", \"self_harm\"]",
        .evidence_json = "[\"en.suicide.ideation.001\"]",
        .engine_version = "0.1.0",
        .lexicon_version = "lex-1",
        .model_version = "none",
        .policy_version = "pol-3",
        .actor = "api_key:1",
    };
    return d;
}

/* Run one SQL statement on the database file directly (a second connection,
 * as a tamperer or an operator would). Returns the first column of the first
 * row as an integer, or -1. */
static long long sql_int(const char *db, const char *sql) {
    sqlite3 *h;
    long long v = -1;
    if (sqlite3_open(db, &h) != SQLITE_OK) return -1;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK) {
        if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return v;
}

/* ---- open / migrations -------------------------------------------------- */

static void test_open_directory_creates_db(void **state) {
    fixture *f = *state;
    struct stat sb;
    assert_int_equal(stat(f->db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600); /* pseudonyms: owner only */
    assert_string_equal(mhg_store_backend(f->store), "sqlite");
    int v = 0;
    assert_int_equal(mhg_store_schema_version(f->store, &v), MHG_OK);
    assert_int_equal(v, MHG_STORE_SCHEMA_VERSION);
    assert_int_equal(mhg_store_ping(f->store), MHG_OK);
    /* WAL journal was enabled. */
    sqlite3 *h;
    assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(h);
}

static void test_nested_data_dir_created_0700(void **state) {
    fixture *f = *state;
    char dir[400], err[256];
    snprintf(dir, sizeof dir, "%s/a/b/data", f->dir);
    mhg_store *s = NULL;
    assert_int_equal(mhg_store_open(dir, &s, err, sizeof err), MHG_OK);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    mhg_store_close(s);
}

static void test_migrations_idempotent(void **state) {
    fixture *f = *state;
    char url[400], err[256];
    snprintf(url, sizeof url, "sqlite:%s", f->db);
    for (int i = 0; i < 3; i++) {
        mhg_store *s = NULL;
        assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_OK);
        mhg_store_close(s);
    }
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM schema_version"),
                     MHG_STORE_SCHEMA_VERSION);
    assert_int_equal(sql_int(f->db, "SELECT max(version) FROM schema_version"),
                     MHG_STORE_SCHEMA_VERSION);
    /* Data survives reopening. */
    mhg_store_decision d = sample_decision("dec_keep");
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_OK);
    mhg_store *s = NULL;
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_OK);
    int64_t n = 0;
    assert_int_equal(mhg_store_decision_count(s, &n), MHG_OK);
    assert_int_equal(n, 1);
    mhg_store_close(s);
}

static void test_newer_schema_refused(void **state) {
    fixture *f = *state;
    sql_int(f->db, "INSERT INTO schema_version(version, applied_ms) VALUES(99, 0)");
    char err[256];
    mhg_store *s = (mhg_store *)&err; /* must be reset to NULL */
    assert_int_equal(mhg_store_open(f->dir, &s, err, sizeof err), MHG_ERR_STORE);
    assert_null(s);
    assert_non_null(strstr(err, "newer"));
}

static void test_bad_urls(void **state) {
    fixture *f = *state;
    char url[400], err[256];
    mhg_store *s = NULL;
    assert_int_equal(mhg_store_open("", &s, err, sizeof err), MHG_ERR_INVALID);
    assert_int_equal(mhg_store_open("mysql://x", &s, err, sizeof err), MHG_ERR_INVALID);
    assert_non_null(strstr(err, "unsupported"));
    snprintf(url, sizeof url, "sqlite:%s?pool=0", f->db);
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_ERR_INVALID);
    assert_non_null(strstr(err, "pool"));
    snprintf(url, sizeof url, "sqlite:%s?colour=blue", f->db);
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_ERR_INVALID);
    assert_non_null(strstr(err, "colour"));
    snprintf(url, sizeof url, "sqlite:%s?mode=rwx", f->db);
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_ERR_INVALID);
    assert_null(s);
}

static void test_missing_parent_directory(void **state) {
    fixture *f = *state;
    char url[400], err[256];
    snprintf(url, sizeof url, "sqlite:%s/no/such/dir/x.db", f->dir);
    mhg_store *s = NULL;
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_ERR_STORE);
    assert_null(s);
    assert_non_null(strstr(err, "does not exist"));
}

static void test_not_a_database(void **state) {
    fixture *f = *state;
    char path[400], url[420], err[256];
    snprintf(path, sizeof path, "%s/garbage.db", f->dir);
    FILE *fp = fopen(path, "w");
    for (int i = 0; i < 200; i++) fputs("this is not an sqlite database file\n", fp);
    fclose(fp);
    snprintf(url, sizeof url, "sqlite:%s", path);
    mhg_store *s = NULL;
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_ERR_STORE);
    assert_null(s);
    assert_non_null(strstr(err, "not a database"));
}

static void test_read_only_mode(void **state) {
    fixture *f = *state;
    mhg_store_decision d = sample_decision("dec_ro");
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_OK);
    char url[400], err[256];
    snprintf(url, sizeof url, "sqlite:%s?mode=ro", f->db);
    mhg_store *s = NULL;
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_OK);
    int64_t n = 0;
    assert_int_equal(mhg_store_decision_count(s, &n), MHG_OK);
    assert_int_equal(n, 1);
    d.decision_id = "dec_ro2";
    assert_int_equal(mhg_store_decision_insert(s, &d), MHG_ERR_STORE);
    assert_non_null(strstr(mhg_store_errmsg(s), "read-only"));
    mhg_store_close(s);
    /* mode=ro and mode=rw never create a database. */
    snprintf(url, sizeof url, "sqlite:%s/absent.db?mode=ro", f->dir);
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_ERR_STORE);
    assert_non_null(strstr(err, "no database"));
    snprintf(url, sizeof url, "sqlite:%s/absent.db?mode=rw", f->dir);
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_ERR_STORE);
    char absent[400];
    snprintf(absent, sizeof absent, "%s/absent.db", f->dir);
    struct stat sb;
    assert_int_not_equal(stat(absent, &sb), 0);
}

static void test_read_only_file(void **state) {
    fixture *f = *state;
    mhg_store_close(f->store);
    f->store = NULL;
    chmod(f->db, 0444);
    if (access(f->db, W_OK) == 0) {
        chmod(f->db, 0644);
        skip(); /* running with privileges that ignore file modes */
    }
    char err[256];
    mhg_store *s = NULL;
    mhg_status st = mhg_store_open(f->dir, &s, err, sizeof err);
    chmod(f->db, 0644);
    assert_int_equal(st, MHG_ERR_STORE);
    assert_non_null(strstr(err, "read-only"));
}

/* SQLITE_FULL, as on a full disk: cap the database size in pages. */
static void test_full_database(void **state) {
    fixture *f = *state;
    int64_t pages = sql_int(f->db, "PRAGMA page_count");
    assert_true(pages > 0);
    char url[400], err[256];
    snprintf(url, sizeof url, "sqlite:%s?max_pages=%lld", f->db, (long long)pages + 2);
    mhg_store *s = NULL;
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_OK);
    char big[60000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char conv[64];
    mhg_status st = MHG_OK;
    for (int i = 0; i < 50 && st == MHG_OK; i++) {
        snprintf(conv, sizeof conv, "c%d", i);
        st = mhg_store_conv_put(s, conv, big, strlen(big));
    }
    assert_int_equal(st, MHG_ERR_STORE);
    assert_non_null(strstr(mhg_store_errmsg(s), "full"));
    /* The store is still usable for reads after the failure. */
    int v = 0;
    assert_int_equal(mhg_store_schema_version(s, &v), MHG_OK);
    mhg_store_close(s);
}

/* The data directory is deleted while the store is open. */
static void test_directory_removed(void **state) {
    fixture *f = *state;
    mhg_store_decision d = sample_decision("dec_before");
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_OK);
    mhgt_rm_rf(f->dir);
    d.decision_id = "dec_after";
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_STORE);
    assert_non_null(strstr(mhg_store_errmsg(f->store), "moved or deleted"));
    /* Reopening reports the missing directory (mode=rw must not recreate). */
    char url[400], err[256];
    snprintf(url, sizeof url, "%s?mode=rw", f->dir);
    mhg_store *s = NULL;
    assert_int_equal(mhg_store_open(url, &s, err, sizeof err), MHG_ERR_STORE);
    assert_non_null(strstr(err, "does not exist"));
    mkdir(f->dir, 0700); /* for teardown */
}

/* ---- decisions --------------------------------------------------------- */

static void test_decision_roundtrip(void **state) {
    fixture *f = *state;
    mhg_store_decision d = sample_decision("dec_1");
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_OK);
    char *json = NULL;
    assert_int_equal(mhg_store_decision_get(f->store, "dec_1", &json), MHG_OK);
    json_t *j = json_loads(json, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "req_1");
    assert_int_equal(json_integer_value(json_object_get(j, "time_ms")), 1700000000123);
    assert_string_equal(json_string_value(json_object_get(j, "risk")), "moderate");
    assert_string_equal(json_string_value(json_object_get(j, "policy_version")), "pol-3");
    json_t *cats = json_object_get(j, "categories");
    assert_int_equal(json_array_size(cats), 2);
    assert_string_equal(json_string_value(json_array_get(cats, 1)), "self_harm");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "evidence"), 0)),
                        "en.suicide.ideation.001");
    json_decref(j);
    free(json);
    /* NULL optional fields and NULL arrays. */
    mhg_store_decision e = {.decision_id = "dec_2", .request_id = "r2", .time_ms = 5,
                            .kind = "ai_reply", .risk = "none", .action = "allow"};
    assert_int_equal(mhg_store_decision_insert(f->store, &e), MHG_OK);
    assert_int_equal(mhg_store_decision_get(f->store, "dec_2", &json), MHG_OK);
    j = json_loads(json, 0, NULL);
    assert_true(json_is_null(json_object_get(j, "user")));
    assert_int_equal(json_array_size(json_object_get(j, "categories")), 0);
    json_decref(j);
    free(json);
    int64_t n = 0;
    assert_int_equal(mhg_store_decision_count(f->store, &n), MHG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(mhg_store_decision_get(f->store, "dec_404", &json), MHG_ERR_NOT_FOUND);
    assert_null(json);
}

static void test_decision_rejects_bad_input(void **state) {
    fixture *f = *state;
    mhg_store_decision d = sample_decision("dec_x");
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_OK);
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_INVALID); /* duplicate */
    assert_non_null(strstr(mhg_store_errmsg(f->store), "already exists"));

    d = sample_decision("dec_y");
    d.kind = "assistant";
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_INVALID);
    assert_non_null(strstr(mhg_store_errmsg(f->store), "kind"));
    d = sample_decision("dec_y");
    d.risk = "severe";
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_INVALID);
    d = sample_decision("dec_y");
    d.request_id = NULL;
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_INVALID);
    assert_non_null(strstr(mhg_store_errmsg(f->store), "request_id"));
    d = sample_decision("dec_y");
    d.categories_json = "{\"suicide\":1}";
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_INVALID);
    d = sample_decision("dec_y");
    d.evidence_json = "[1,2]";
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_INVALID);
    d = sample_decision("dec_y");
    d.action = "Forward the message!";
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_INVALID);
    char longv[MHG_STORE_FIELD_MAX + 10];
    memset(longv, 'a', sizeof longv - 1);
    longv[sizeof longv - 1] = '\0';
    d = sample_decision("dec_y");
    d.user = longv;
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_TOO_BIG);
    d = sample_decision("dec_y");
    d.actor = "\xff\xfe";
    assert_int_equal(mhg_store_decision_insert(f->store, &d), MHG_ERR_UTF8);
    int64_t n = 0;
    assert_int_equal(mhg_store_decision_count(f->store, &n), MHG_OK);
    assert_int_equal(n, 1);
}

/* ---- review queue ------------------------------------------------------ */

static void test_review_queue(void **state) {
    fixture *f = *state;
    int64_t a, b, c;
    mhg_store_review_item it = {.decision_id = "dec_a", .level = "moderate", .created_ms = 1000,
                                .sla_due_ms = 9000, .reason = "moderate_risk"};
    assert_int_equal(mhg_store_review_enqueue(f->store, &it, &a), MHG_OK);
    it.decision_id = "dec_b";
    it.level = "imminent";
    it.sla_due_ms = 2000;
    assert_int_equal(mhg_store_review_enqueue(f->store, &it, &b), MHG_OK);
    it.decision_id = "dec_c";
    it.level = "high";
    it.sla_due_ms = 5000;
    assert_int_equal(mhg_store_review_enqueue(f->store, &it, &c), MHG_OK);
    assert_true(a > 0 && b > a && c > b);

    char *json;
    assert_int_equal(mhg_store_review_list(f->store, NULL, 0, &json), MHG_OK);
    json_t *l = json_loads(json, 0, NULL);
    free(json);
    assert_int_equal(json_array_size(l), 3);
    /* Most urgent first. */
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "decision_id")),
                        "dec_b");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 1), "decision_id")),
                        "dec_c");
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 2), "state")), "open");
    json_decref(l);

    int64_t open = 0, overdue = 0;
    assert_int_equal(mhg_store_review_count_open(f->store, 6000, &open, &overdue), MHG_OK);
    assert_int_equal(open, 3);
    assert_int_equal(overdue, 2);

    assert_int_equal(mhg_store_review_claim(f->store, b, "rev_alice"), MHG_OK);
    assert_int_equal(mhg_store_review_claim(f->store, b, "rev_alice"), MHG_OK); /* again */
    assert_int_equal(mhg_store_review_claim(f->store, b, "rev_bob"), MHG_ERR_INVALID);
    assert_non_null(strstr(mhg_store_errmsg(f->store), "rev_alice"));
    assert_int_equal(mhg_store_review_resolve(f->store, b, "rev_bob", "followed_up", NULL),
                     MHG_ERR_INVALID);
    assert_int_equal(
        mhg_store_review_resolve(f->store, b, "rev_alice", "followed_up", "mhg1:sealednote"),
        MHG_OK);
    assert_int_equal(mhg_store_review_resolve(f->store, b, "rev_alice", "followed_up", NULL),
                     MHG_ERR_NOT_FOUND);
    assert_int_equal(mhg_store_review_claim(f->store, b, "rev_alice"), MHG_ERR_NOT_FOUND);
    assert_int_equal(mhg_store_review_claim(f->store, 9999, "rev_alice"), MHG_ERR_NOT_FOUND);
    /* An open item may be resolved directly. */
    assert_int_equal(mhg_store_review_resolve(f->store, a, "rev_bob", "false_positive", NULL),
                     MHG_OK);
    assert_int_equal(mhg_store_review_resolve(f->store, c, "rev_bob", "Bad Outcome", NULL),
                     MHG_ERR_INVALID);

    assert_int_equal(mhg_store_review_get(f->store, b, &json), MHG_OK);
    json_t *j = json_loads(json, 0, NULL);
    free(json);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "resolved");
    assert_string_equal(json_string_value(json_object_get(j, "reviewer")), "rev_alice");
    assert_string_equal(json_string_value(json_object_get(j, "outcome")), "followed_up");
    assert_string_equal(json_string_value(json_object_get(j, "note")), "mhg1:sealednote");
    assert_true(json_integer_value(json_object_get(j, "resolved_ms")) > 0);
    assert_true(json_integer_value(json_object_get(j, "claimed_ms")) > 0);
    json_decref(j);
    assert_int_equal(mhg_store_review_get(f->store, 424242, &json), MHG_ERR_NOT_FOUND);

    assert_int_equal(mhg_store_review_list(f->store, "resolved", 10, &json), MHG_OK);
    l = json_loads(json, 0, NULL);
    free(json);
    assert_int_equal(json_array_size(l), 2);
    json_decref(l);
    assert_int_equal(mhg_store_review_list(f->store, NULL, 10, &json), MHG_OK);
    l = json_loads(json, 0, NULL);
    free(json);
    assert_int_equal(json_array_size(l), 1);
    json_decref(l);
    assert_int_equal(mhg_store_review_list(f->store, "pending", 10, &json), MHG_ERR_INVALID);

    assert_int_equal(mhg_store_review_count_open(f->store, 6000, &open, NULL), MHG_OK);
    assert_int_equal(open, 1);

    mhg_store_review_item bad = {.decision_id = "d", .level = "urgent", .sla_due_ms = 1};
    assert_int_equal(mhg_store_review_enqueue(f->store, &bad, &a), MHG_ERR_INVALID);
    bad.level = "high";
    bad.sla_due_ms = 0;
    assert_int_equal(mhg_store_review_enqueue(f->store, &bad, &a), MHG_ERR_INVALID);
}

/* ---- API keys ---------------------------------------------------------- */

static void test_keys(void **state) {
    fixture *f = *state;
    char app[MHG_STORE_KEY_MAX], rev[MHG_STORE_KEY_MAX];
    int64_t app_id = 0, rev_id = 0;
    assert_int_equal(mhg_store_key_create(f->store, MHG_ROLE_APP, "web app", app, &app_id), MHG_OK);
    assert_int_equal(mhg_store_key_create(f->store, MHG_ROLE_REVIEWER, NULL, rev, &rev_id), MHG_OK);
    assert_true(app_id > 0 && rev_id > app_id);
    assert_int_equal(strncmp(app, "mhg_app_", 8), 0);
    assert_int_equal(strlen(app), 8 + 43);
    assert_int_equal(strncmp(rev, "mhg_reviewer_", 13), 0);
    assert_string_not_equal(app + 8, rev + 13);

    mhg_role role = MHG_ROLE_COUNT;
    int64_t id = 0;
    assert_int_equal(mhg_store_key_lookup(f->store, app, strlen(app), &role, &id), MHG_OK);
    assert_int_equal(role, MHG_ROLE_APP);
    assert_int_equal(id, app_id);
    assert_int_equal(mhg_store_key_lookup(f->store, rev, strlen(rev), &role, &id), MHG_OK);
    assert_int_equal(role, MHG_ROLE_REVIEWER);

    /* Wrong, truncated or altered keys fail with AUTH. */
    char bad[MHG_STORE_KEY_MAX];
    snprintf(bad, sizeof bad, "%s", app);
    bad[20] = bad[20] == 'A' ? 'B' : 'A';
    assert_int_equal(mhg_store_key_lookup(f->store, bad, strlen(bad), &role, &id), MHG_ERR_AUTH);
    assert_int_equal(id, 0);
    assert_int_equal(mhg_store_key_lookup(f->store, app, strlen(app) - 1, NULL, NULL),
                     MHG_ERR_AUTH);
    assert_int_equal(mhg_store_key_lookup(f->store, "", 0, NULL, NULL), MHG_ERR_AUTH);

    /* Only hashes are stored: the key text appears nowhere in the file. */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM api_keys WHERE instr(CAST(key_hash AS TEXT), "
                              "'%s') > 0 OR instr(prefix, '%s') > 0 OR instr(label, '%s') > 0",
             app + 8, app + 8, app + 8);
    assert_int_equal(sql_int(f->db, sql), 0);
    assert_int_equal(sql_int(f->db, "SELECT length(key_hash) FROM api_keys LIMIT 1"), 32);

    char *json;
    assert_int_equal(mhg_store_key_list(f->store, &json), MHG_OK);
    assert_null(strstr(json, app + 8));
    json_t *l = json_loads(json, 0, NULL);
    free(json);
    assert_int_equal(json_array_size(l), 2);
    json_t *k0 = json_array_get(l, 0);
    assert_string_equal(json_string_value(json_object_get(k0, "role")), "app");
    assert_string_equal(json_string_value(json_object_get(k0, "label")), "web app");
    assert_true(json_is_null(json_object_get(k0, "revoked_ms")));
    assert_int_equal(strncmp(json_string_value(json_object_get(k0, "prefix")), app, 14), 0);
    assert_null(json_object_get(k0, "key_hash"));
    json_decref(l);

    assert_int_equal(mhg_store_key_revoke(f->store, app_id), MHG_OK);
    assert_int_equal(mhg_store_key_revoke(f->store, app_id), MHG_OK); /* twice is fine */
    assert_int_equal(mhg_store_key_lookup(f->store, app, strlen(app), &role, &id), MHG_ERR_AUTH);
    assert_int_equal(mhg_store_key_lookup(f->store, rev, strlen(rev), &role, &id), MHG_OK);
    assert_int_equal(mhg_store_key_revoke(f->store, 777), MHG_ERR_NOT_FOUND);

    assert_int_equal(mhg_store_key_create(f->store, MHG_ROLE_COUNT, NULL, app, &id),
                     MHG_ERR_INVALID);
    assert_int_equal(mhg_store_key_create(f->store, MHG_ROLE_APP, "bad\nlabel", app, &id),
                     MHG_ERR_INVALID);
}

static void test_key_import(void **state) {
    fixture *f = *state;
    const char *k = "local-trial-key-0123456789";
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(mhg_store_key_import(f->store, MHG_ROLE_APP, "env", k, strlen(k), &id1),
                     MHG_OK);
    assert_int_equal(mhg_store_key_import(f->store, MHG_ROLE_APP, "env", k, strlen(k), &id2),
                     MHG_OK);
    assert_int_equal(id1, id2); /* idempotent */
    mhg_role r;
    assert_int_equal(mhg_store_key_lookup(f->store, k, strlen(k), &r, NULL), MHG_OK);
    assert_int_equal(r, MHG_ROLE_APP);
    assert_int_equal(mhg_store_key_revoke(f->store, id1), MHG_OK);
    assert_int_equal(mhg_store_key_import(f->store, MHG_ROLE_APP, "env", k, strlen(k), &id2),
                     MHG_ERR_INVALID);
    assert_int_equal(mhg_store_key_import(f->store, MHG_ROLE_APP, NULL, "short", 5, &id2),
                     MHG_ERR_INVALID);
    assert_int_equal(
        mhg_store_key_import(f->store, MHG_ROLE_APP, NULL, "has a space in it!!", 19, &id2),
        MHG_ERR_INVALID);
}

static void test_roles(void **state) {
    (void)state;
    for (int i = 0; i < MHG_ROLE_COUNT; i++) {
        mhg_role r;
        assert_int_equal(mhg_role_parse(mhg_role_name((mhg_role)i), &r), MHG_OK);
        assert_int_equal(r, i);
    }
    mhg_role r = MHG_ROLE_ADMIN;
    assert_int_equal(mhg_role_parse("root", &r), MHG_ERR_INVALID);
    assert_int_equal(r, MHG_ROLE_ADMIN);
    assert_null(mhg_role_name(MHG_ROLE_COUNT));
    assert_string_equal(mhg_role_name(MHG_ROLE_CLINICIAN), "clinician");
}

/* ---- conversation state ------------------------------------------------ */

static void test_conversation_state(void **state) {
    fixture *f = *state;
    char *json = (char *)"sentinel";
    size_t n = 99;
    assert_int_equal(mhg_store_conv_get(f->store, "c1", &json, &n), MHG_ERR_NOT_FOUND);
    assert_null(json);
    assert_int_equal(n, 0);
    const char *s1 = "{\"turns\":1,\"level\":\"low\"}";
    assert_int_equal(mhg_store_conv_put(f->store, "c1", s1, strlen(s1)), MHG_OK);
    assert_int_equal(mhg_store_conv_get(f->store, "c1", &json, &n), MHG_OK);
    assert_string_equal(json, s1);
    assert_int_equal(n, strlen(s1));
    free(json);
    const char *s2 = "{\"turns\":2,\"level\":\"high\"}";
    assert_int_equal(mhg_store_conv_put(f->store, "c1", s2, strlen(s2)), MHG_OK);
    assert_int_equal(mhg_store_conv_get(f->store, "c1", &json, NULL), MHG_OK);
    assert_string_equal(json, s2);
    free(json);
    /* Length is honoured (no NUL terminator needed). */
    assert_int_equal(mhg_store_conv_put(f->store, "c2", "{}xyz", 2), MHG_OK);
    assert_int_equal(mhg_store_conv_get(f->store, "c2", &json, &n), MHG_OK);
    assert_string_equal(json, "{}");
    free(json);
    assert_int_equal(mhg_store_conv_put(f->store, "c3", "a\0b", 3), MHG_ERR_UTF8);
    assert_int_equal(mhg_store_conv_delete(f->store, "c1"), MHG_OK);
    assert_int_equal(mhg_store_conv_delete(f->store, "c1"), MHG_OK);
    assert_int_equal(mhg_store_conv_get(f->store, "c1", &json, NULL), MHG_ERR_NOT_FOUND);
    int64_t del = -1;
    assert_int_equal(mhg_store_conv_purge(f->store, 1, &del), MHG_OK);
    assert_int_equal(del, 0);
    assert_int_equal(mhg_store_conv_purge(f->store, mhg_store_now_ms() + 60000, &del), MHG_OK);
    assert_int_equal(del, 1);
    assert_int_equal(mhg_store_conv_get(f->store, "c2", &json, NULL), MHG_ERR_NOT_FOUND);
}

/* ---- audit rows -------------------------------------------------------- */

typedef struct build_ctx {
    int fail;
    char seen_prev[MHG_STORE_HASH_HEX];
    int64_t seen_seq;
} build_ctx;

static mhg_status test_build(void *ctx, int64_t seq, const char *prev, char **record_out,
                             char hash_out[MHG_STORE_HASH_HEX]) {
    build_ctx *b = ctx;
    b->seen_seq = seq;
    snprintf(b->seen_prev, sizeof b->seen_prev, "%s", prev);
    if (b->fail) return MHG_ERR_INVALID;
    char rec[64];
    snprintf(rec, sizeof rec, "{\"seq\":%lld}", (long long)seq);
    *record_out = strdup(rec);
    snprintf(hash_out, MHG_STORE_HASH_HEX, "%064llx", (unsigned long long)seq);
    return MHG_OK;
}

typedef struct iter_ctx {
    int64_t seqs[16];
    int n;
    int stop_after;
} iter_ctx;

static int collect(void *ctx, const mhg_store_audit_row *row) {
    iter_ctx *it = ctx;
    if (it->n < 16) it->seqs[it->n++] = row->seq;
    assert_int_equal(row->record_len, strlen(row->record));
    return it->stop_after && it->n >= it->stop_after;
}

static void test_audit_rows(void **state) {
    fixture *f = *state;
    int64_t seq = 0;
    char head[MHG_STORE_HASH_HEX];
    assert_int_equal(mhg_store_audit_head(f->store, &seq, head), MHG_OK);
    assert_int_equal(seq, 0);
    assert_string_equal(head, "0000000000000000000000000000000000000000000000000000000000000000");
    build_ctx b = {0};
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(mhg_store_audit_append(f->store, NULL, test_build, &b, &seq), MHG_OK);
        assert_int_equal(seq, i);
    }
    char expect[MHG_STORE_HASH_HEX];
    snprintf(expect, sizeof expect, "%064llx", 2ULL);
    assert_string_equal(b.seen_prev, expect);
    assert_int_equal(mhg_store_audit_head(f->store, &seq, head), MHG_OK);
    assert_int_equal(seq, 3);
    iter_ctx it = {0};
    assert_int_equal(mhg_store_audit_iterate(f->store, 2, collect, &it), MHG_OK);
    assert_int_equal(it.n, 2);
    assert_int_equal(it.seqs[0], 2);
    assert_int_equal(it.seqs[1], 3);
    iter_ctx stop = {.stop_after = 1};
    assert_int_equal(mhg_store_audit_iterate(f->store, 1, collect, &stop), MHG_OK);
    assert_int_equal(stop.n, 1);

    /* Decision + audit row are atomic: a failing builder inserts neither. */
    mhg_store_decision d = sample_decision("dec_atomic");
    b.fail = 1;
    assert_int_equal(mhg_store_audit_append(f->store, &d, test_build, &b, &seq), MHG_ERR_INVALID);
    assert_int_equal(seq, 0);
    char *json = NULL;
    assert_int_equal(mhg_store_decision_get(f->store, "dec_atomic", &json), MHG_ERR_NOT_FOUND);
    b.fail = 0;
    assert_int_equal(mhg_store_audit_append(f->store, &d, test_build, &b, &seq), MHG_OK);
    assert_int_equal(seq, 4);
    assert_int_equal(mhg_store_decision_get(f->store, "dec_atomic", &json), MHG_OK);
    free(json);
    /* A duplicate decision aborts the audit append too. */
    assert_int_equal(mhg_store_audit_append(f->store, &d, test_build, &b, &seq), MHG_ERR_INVALID);
    assert_int_equal(mhg_store_audit_head(f->store, &seq, head), MHG_OK);
    assert_int_equal(seq, 4);
}

/* ---- helpers ----------------------------------------------------------- */

static void test_helpers(void **state) {
    (void)state;
    char id[64], id2[64];
    assert_int_equal(mhg_store_random_id("dec", id, sizeof id), MHG_OK);
    assert_int_equal(mhg_store_random_id("dec", id2, sizeof id2), MHG_OK);
    assert_int_equal(strlen(id), 4 + 32);
    assert_int_equal(strncmp(id, "dec_", 4), 0);
    assert_string_not_equal(id, id2);
    char small[10];
    assert_int_equal(mhg_store_random_id("dec", small, sizeof small), MHG_ERR_TOO_BIG);
    assert_true(mhg_store_now_ms() > 1600000000000LL);
    setenv("MHG_DATA_HOME", "/srv/mhg", 1);
    assert_string_equal(mhg_store_default_data_dir(), "/srv/mhg");
    setenv("MHG_DATA_HOME", "", 1);
    assert_string_equal(mhg_store_default_data_dir(), "./mhguard-data");
    unsetenv("MHG_DATA_HOME");
    assert_string_equal(mhg_store_default_data_dir(), "./mhguard-data");
}

/* ---- concurrency ------------------------------------------------------- */

#define THREADS 8
#define PER_THREAD 60

typedef struct worker {
    mhg_store *store;
    int n;
    const char *key;
    int failures;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char id[64];
        if (mhg_store_random_id("dec", id, sizeof id) != MHG_OK) w->failures++;
        mhg_store_decision d = sample_decision(id);
        if (mhg_store_decision_insert(w->store, &d) != MHG_OK) w->failures++;
        mhg_role r;
        if (mhg_store_key_lookup(w->store, w->key, strlen(w->key), &r, NULL) != MHG_OK)
            w->failures++;
        char conv[32];
        snprintf(conv, sizeof conv, "t%d", w->n);
        if (mhg_store_conv_put(w->store, conv, "{}", 2) != MHG_OK) w->failures++;
        mhg_store_review_item it = {.decision_id = id, .level = "moderate", .sla_due_ms = 1};
        int64_t rid;
        if (mhg_store_review_enqueue(w->store, &it, &rid) != MHG_OK) w->failures++;
        /* An expected failure: its message must be this thread's own. */
        if (mhg_store_decision_insert(w->store, &d) != MHG_ERR_INVALID ||
            !strstr(mhg_store_errmsg(w->store), id))
            w->failures++;
    }
    return NULL;
}

static void test_concurrent_use(void **state) {
    fixture *f = *state;
    char key[MHG_STORE_KEY_MAX];
    assert_int_equal(mhg_store_key_create(f->store, MHG_ROLE_APP, NULL, key, NULL), MHG_OK);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.store = f->store, .n = i, .key = key};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    int64_t n = 0, open = 0;
    assert_int_equal(mhg_store_decision_count(f->store, &n), MHG_OK);
    assert_int_equal(n, THREADS * PER_THREAD);
    assert_int_equal(mhg_store_review_count_open(f->store, 0, &open, NULL), MHG_OK);
    assert_int_equal(open, THREADS * PER_THREAD);
}

/* Two handles on one file (as the CLI and the server): writes from both land. */
static void test_two_handles(void **state) {
    fixture *f = *state;
    char err[256];
    mhg_store *other = NULL;
    assert_int_equal(mhg_store_open(f->dir, &other, err, sizeof err), MHG_OK);
    char key[MHG_STORE_KEY_MAX];
    int64_t id;
    assert_int_equal(mhg_store_key_create(other, MHG_ROLE_ADMIN, "cli", key, &id), MHG_OK);
    mhg_role r;
    assert_int_equal(mhg_store_key_lookup(f->store, key, strlen(key), &r, NULL), MHG_OK);
    assert_int_equal(r, MHG_ROLE_ADMIN);
    assert_int_equal(mhg_store_key_revoke(f->store, id), MHG_OK);
    assert_int_equal(mhg_store_key_lookup(other, key, strlen(key), &r, NULL), MHG_ERR_AUTH);
    mhg_store_close(other);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_open_directory_creates_db),
        T(test_nested_data_dir_created_0700),
        T(test_migrations_idempotent),
        T(test_newer_schema_refused),
        T(test_bad_urls),
        T(test_missing_parent_directory),
        T(test_not_a_database),
        T(test_read_only_mode),
        T(test_read_only_file),
        T(test_full_database),
        T(test_directory_removed),
        T(test_decision_roundtrip),
        T(test_decision_rejects_bad_input),
        T(test_review_queue),
        T(test_keys),
        T(test_key_import),
        T(test_roles),
        T(test_conversation_state),
        T(test_audit_rows),
        T(test_helpers),
        T(test_concurrent_use),
        T(test_two_handles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
