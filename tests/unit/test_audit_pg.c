/*
 * test_audit_pg.c - the store's PostgreSQL backend and the audit chain on
 * it. Runs only when MHG_TEST_PG_URL names a database the test may create
 * schemas in (e.g. postgresql:///postgres?host=/tmp&port=5432&user=postgres);
 * otherwise every test is skipped. Each run works in a fresh schema that is
 * dropped at the end.
 */
#include <inttypes.h>
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

#include "mhguard/audit.h"

#if defined(__has_include)
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#define HAVE_PQ 1
#endif
#endif

#ifdef HAVE_PQ

static const char *base_url;
static char schema[64];
static char url[2048];

/* Run SQL through a separate libpq connection (admin / tamperer). */
static int admin_sql(const char *fmt, ...) {
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGconn *c = PQconnectdb(base_url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "admin connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    char sp[128];
    snprintf(sp, sizeof sp, "SET client_min_messages = warning; SET search_path = %s", schema);
    PQclear(PQexec(c, sp));
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) fprintf(stderr, "admin SQL failed: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static int group_setup(void **state) {
    (void)state;
    base_url = getenv("MHG_TEST_PG_URL");
    if (!base_url || !*base_url) {
        /* CI (scripts/test.sh) starts PostgreSQL and sets MHG_REQUIRE_PG:
         * there a missing URL is a failure, not a skip. */
        const char *req = getenv("MHG_REQUIRE_PG");
        if (req && *req && strcmp(req, "0") != 0) {
            fprintf(stderr, "MHG_REQUIRE_PG is set but MHG_TEST_PG_URL is not\n");
            return -1;
        }
        return 0;
    }
    snprintf(schema, sizeof schema, "mhg_test_%ld", (long)getpid());
    if (admin_sql("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema) != 0)
        return -1;
    /* application_name lets the connection-loss test kill only our own
     * connections, not those of another run sharing the database. */
    snprintf(url, sizeof url, "%s%soptions=-csearch_path%%3D%s&application_name=%s", base_url,
             strchr(base_url, '?') ? "&" : "?", schema, schema);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    if (base_url && *base_url) admin_sql("DROP SCHEMA IF EXISTS %s CASCADE", schema);
    return 0;
}

/* Fresh tables for each test. */
static int setup(void **state) {
    if (!base_url || !*base_url) {
        *state = NULL;
        return 0;
    }
    admin_sql("DROP TABLE IF EXISTS schema_version, decisions, review_queue, api_keys, "
              "conversations, audit_log CASCADE");
    mhg_store *s = NULL;
    char err[512];
    if (mhg_store_open(url, &s, err, sizeof err) != MHG_OK) {
        fprintf(stderr, "open %s: %s\n", url, err);
        return -1;
    }
    *state = s;
    return 0;
}

static int teardown(void **state) {
    mhg_store_close(*state);
    return 0;
}

#define NEED_PG(state)                                           \
    mhg_store *store = *(state);                                 \
    if (!store) skip();

static void test_pg_open_and_migrate(void **state) {
    NEED_PG(state);
    assert_string_equal(mhg_store_backend(store), "postgres");
    int v = 0;
    assert_int_equal(mhg_store_schema_version(store, &v), MHG_OK);
    assert_int_equal(v, MHG_STORE_SCHEMA_VERSION);
    char err[512];
    for (int i = 0; i < 2; i++) { /* idempotent */
        mhg_store *again = NULL;
        assert_int_equal(mhg_store_open(url, &again, err, sizeof err), MHG_OK);
        mhg_store_close(again);
    }
    assert_int_equal(mhg_store_ping(store), MHG_OK);
    /* An unreachable server is a clean MHG_ERR_STORE. */
    mhg_store *bad = NULL;
    assert_int_equal(mhg_store_open("postgresql://127.0.0.1:1/none?connect_timeout=2", &bad, err,
                                    sizeof err),
                     MHG_ERR_STORE);
    assert_null(bad);
    assert_non_null(strstr(err, "postgres"));
}

static void test_pg_decisions_reviews_keys_conv(void **state) {
    NEED_PG(state);
    mhg_store_decision d = {.decision_id = "dec_1", .request_id = "r1", .time_ms = 42,
                            .kind = "ai_reply", .risk = "high", .action = "block",
                            .categories_json = "[\"method_detail\"]", .actor = "api_key:1"};
    assert_int_equal(mhg_store_decision_insert(store, &d), MHG_OK);
    assert_int_equal(mhg_store_decision_insert(store, &d), MHG_ERR_INVALID);
    char *json;
    assert_int_equal(mhg_store_decision_get(store, "dec_1", &json), MHG_OK);
    json_t *j = json_loads(json, 0, NULL);
    free(json);
    assert_int_equal(json_integer_value(json_object_get(j, "time_ms")), 42);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "categories"), 0)),
                        "method_detail");
    json_decref(j);
    assert_int_equal(mhg_store_decision_get(store, "nope", &json), MHG_ERR_NOT_FOUND);

    int64_t a, b;
    mhg_store_review_item it = {.decision_id = "dec_1", .level = "high", .sla_due_ms = 500};
    assert_int_equal(mhg_store_review_enqueue(store, &it, &a), MHG_OK);
    it.sla_due_ms = 100;
    assert_int_equal(mhg_store_review_enqueue(store, &it, &b), MHG_OK);
    assert_int_equal(mhg_store_review_list(store, NULL, 0, &json), MHG_OK);
    j = json_loads(json, 0, NULL);
    free(json);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "id")), b);
    json_decref(j);
    assert_int_equal(mhg_store_review_claim(store, a, "alice"), MHG_OK);
    assert_int_equal(mhg_store_review_claim(store, a, "bob"), MHG_ERR_INVALID);
    assert_int_equal(mhg_store_review_resolve(store, a, "alice", "followed_up", "mhg1:x"), MHG_OK);
    assert_int_equal(mhg_store_review_resolve(store, a, "alice", "followed_up", NULL),
                     MHG_ERR_NOT_FOUND);
    int64_t open = 0, overdue = 0;
    assert_int_equal(mhg_store_review_count_open(store, 200, &open, &overdue), MHG_OK);
    assert_int_equal(open, 1);
    assert_int_equal(overdue, 1);

    char key[MHG_STORE_KEY_MAX];
    int64_t id;
    mhg_role role;
    assert_int_equal(mhg_store_key_create(store, MHG_ROLE_AUDITOR, "pg", key, &id), MHG_OK);
    assert_int_equal(mhg_store_key_lookup(store, key, strlen(key), &role, NULL), MHG_OK);
    assert_int_equal(role, MHG_ROLE_AUDITOR);
    assert_int_equal(mhg_store_key_import(store, MHG_ROLE_APP, NULL, "0123456789abcdefXYZ", 19,
                                          &id),
                     MHG_OK);
    int64_t id2;
    assert_int_equal(mhg_store_key_import(store, MHG_ROLE_APP, NULL, "0123456789abcdefXYZ", 19,
                                          &id2),
                     MHG_OK);
    assert_int_equal(id, id2);
    assert_int_equal(mhg_store_key_revoke(store, id), MHG_OK);
    assert_int_equal(mhg_store_key_lookup(store, "0123456789abcdefXYZ", 19, NULL, NULL),
                     MHG_ERR_AUTH);
    assert_int_equal(mhg_store_key_revoke(store, 9999), MHG_ERR_NOT_FOUND);
    assert_int_equal(mhg_store_key_list(store, &json), MHG_OK);
    assert_null(strstr(json, key + 12));
    free(json);

    size_t n;
    assert_int_equal(mhg_store_conv_put(store, "c", "{\"t\":1}", 7), MHG_OK);
    assert_int_equal(mhg_store_conv_put(store, "c", "{\"t\":2}", 7), MHG_OK);
    assert_int_equal(mhg_store_conv_get(store, "c", &json, &n), MHG_OK);
    assert_string_equal(json, "{\"t\":2}");
    free(json);
    int64_t del;
    assert_int_equal(mhg_store_conv_purge(store, mhg_store_now_ms() + 1000, &del), MHG_OK);
    assert_int_equal(del, 1);
    assert_int_equal(mhg_store_conv_get(store, "c", &json, &n), MHG_ERR_NOT_FOUND);
}

static void test_pg_audit_chain_and_tamper(void **state) {
    NEED_PG(state);
    for (int i = 0; i < 6; i++) {
        mhg_audit_event ev = {.event = "decision", .risk = "low", .action = "allow"};
        assert_int_equal(mhg_audit_append(store, &ev, NULL), MHG_OK);
    }
    mhg_store_decision d = {.decision_id = "dec_x", .request_id = "r", .time_ms = 1,
                            .kind = "user_message", .risk = "none", .action = "allow"};
    assert_int_equal(mhg_audit_record_decision(store, &d, NULL), MHG_OK);
    assert_int_equal(mhg_audit_record_decision(store, &d, NULL), MHG_ERR_INVALID); /* atomic */
    mhg_audit_report r;
    assert_int_equal(mhg_audit_verify(store, &r), MHG_OK);
    assert_int_equal(r.fault, MHG_AUDIT_OK);
    assert_int_equal(r.records, 7);
    assert_int_equal(admin_sql("UPDATE audit_log SET record = replace(record, 'low', 'none') "
                               "WHERE seq = 3"),
                     0);
    assert_int_equal(mhg_audit_verify(store, &r), MHG_OK);
    assert_int_equal(r.fault, MHG_AUDIT_HASH_MISMATCH);
    assert_int_equal(r.bad_seq, 3);
    assert_int_equal(admin_sql("DELETE FROM audit_log WHERE seq = 2"), 0);
    assert_int_equal(mhg_audit_verify(store, &r), MHG_OK);
    assert_int_equal(r.fault, MHG_AUDIT_SEQ_GAP);
    assert_int_equal(r.bad_seq, 2);
}

#define THREADS 6
#define PER_THREAD 25

static void *appender(void *arg) {
    int *failures = arg;
    mhg_store *s = NULL;
    char err[512];
    if (mhg_store_open(url, &s, err, sizeof err) != MHG_OK) {
        *failures = PER_THREAD;
        return NULL;
    }
    for (int i = 0; i < PER_THREAD; i++) {
        mhg_audit_event ev = {.event = "decision"};
        if (mhg_audit_append(s, &ev, NULL) != MHG_OK) (*failures)++;
    }
    mhg_store_close(s);
    return NULL;
}

/* Separate handles = separate connections, like separate gateway
 * processes: the table lock must keep the chain linear. */
static void test_pg_concurrent_appends(void **state) {
    NEED_PG(state);
    pthread_t th[THREADS];
    int failures[THREADS] = {0};
    for (int i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, appender, &failures[i]);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(failures[i], 0);
    }
    mhg_audit_report r;
    assert_int_equal(mhg_audit_verify(store, &r), MHG_OK);
    assert_int_equal(r.fault, MHG_AUDIT_OK);
    assert_int_equal(r.records, THREADS * PER_THREAD);
}

/* The server kills our connections: one call fails cleanly, the pool drops
 * the dead connection, and the next call reconnects. */
static void test_pg_connection_loss(void **state) {
    NEED_PG(state);
    assert_int_equal(mhg_store_ping(store), MHG_OK);
    /* the timeout argument makes the call wait until the backend is gone */
    assert_int_equal(admin_sql("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                               "WHERE application_name = '%s' AND pid <> pg_backend_pid()",
                               schema),
                     0);
    int failed = 0;
    for (int i = 0; i < 10; i++) {
        mhg_status st = mhg_store_ping(store);
        if (st != MHG_OK) {
            assert_int_equal(st, MHG_ERR_STORE);
            failed++;
        }
    }
    assert_int_equal(failed, 1); /* the one pooled connection was dead */
    assert_int_equal(mhg_store_ping(store), MHG_OK);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    const struct CMUnitTest tests[] = {
        T(test_pg_open_and_migrate),       T(test_pg_decisions_reviews_keys_conv),
        T(test_pg_audit_chain_and_tamper), T(test_pg_concurrent_appends),
        T(test_pg_connection_loss),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#else /* built without libpq */

static void test_pg_unavailable(void **state) {
    (void)state;
    skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_pg_unavailable)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
