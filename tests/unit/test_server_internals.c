/*
 * test_server_internals.c - unit tests for the gateway's building blocks
 * that need no network: the bounded buffer, the SSE parser (every byte
 * split), the token bucket, the use-drift window and the metrics text.
 * The HTTP paths are covered end to end by tests/e2e/test_gateway*.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/server_int.h"

static void test_sbuf_limit(void **state) {
    (void)state;
    mhgi_sbuf b;
    mhgi_sbuf_init(&b, 10);
    assert_int_equal(mhgi_sbuf_adds(&b, "hello"), MHG_OK);
    assert_int_equal(mhgi_sbuf_adds(&b, "world"), MHG_OK);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "helloworld");
    /* one byte over the maximum is refused and changes nothing */
    assert_int_equal(mhgi_sbuf_add(&b, "!", 1), MHG_ERR_TOO_BIG);
    assert_string_equal(b.data, "helloworld");
    mhgi_sbuf_consume(&b, 5);
    assert_string_equal(b.data, "world");
    assert_int_equal(mhgi_sbuf_addf(&b, "%d", 42), MHG_OK);
    assert_string_equal(b.data, "world42");
    mhgi_sbuf_free(&b);
    assert_null(b.data);
}

static void test_sbuf_addf_long(void **state) {
    (void)state;
    mhgi_sbuf b;
    mhgi_sbuf_init(&b, 4096);
    char big[1500];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(mhgi_sbuf_addf(&b, "<%s>", big), MHG_OK);
    assert_int_equal(b.len, sizeof big - 1 + 2);
    assert_int_equal(b.data[0], '<');
    assert_int_equal(b.data[b.len - 1], '>');
    mhgi_sbuf_free(&b);
}

/* Feed an SSE stream split at position `cut` and collect the events. */
static size_t parse_split(const char *stream, size_t cut, char out[][64], size_t max) {
    mhgi_sbuf in, data;
    mhgi_sbuf_init(&in, 4096);
    mhgi_sbuf_init(&data, 4096);
    size_t n = 0, len = strlen(stream);
    int err = 0;
    const size_t parts[2][2] = {{0, cut}, {cut, len - cut}};
    for (int p = 0; p < 2; p++) {
        assert_int_equal(mhgi_sbuf_add(&in, stream + parts[p][0], parts[p][1]), MHG_OK);
        while (mhgi_sse_next(&in, &data, &err)) {
            assert_true(n < max);
            snprintf(out[n++], 64, "%s", data.data);
        }
        assert_int_equal(err, 0);
    }
    mhgi_sbuf_free(&in);
    mhgi_sbuf_free(&data);
    return n;
}

static void test_sse_every_split(void **state) {
    (void)state;
    const char *stream = ": keep-alive\n\n"
                         "data: {\"a\":1}\n\n"
                         "event: x\r\ndata: line1\r\ndata: line2\r\n\r\n"
                         "id: 7\ndata:{\"b\":2}\n\n"
                         "data: [DONE]\n\n";
    for (size_t cut = 0; cut <= strlen(stream); cut++) {
        char ev[8][64];
        size_t n = parse_split(stream, cut, ev, 8);
        assert_int_equal(n, 4);
        assert_string_equal(ev[0], "{\"a\":1}");
        assert_string_equal(ev[1], "line1\nline2");
        assert_string_equal(ev[2], "{\"b\":2}");
        assert_string_equal(ev[3], "[DONE]");
    }
}

static void test_sse_incomplete(void **state) {
    (void)state;
    mhgi_sbuf in, data;
    mhgi_sbuf_init(&in, 4096);
    mhgi_sbuf_init(&data, 4096);
    int err = 0;
    assert_int_equal(mhgi_sbuf_adds(&in, "data: {\"partial\":"), MHG_OK);
    assert_int_equal(mhgi_sse_next(&in, &data, &err), 0);
    /* nothing is consumed until the event is complete */
    assert_int_equal(in.len, strlen("data: {\"partial\":"));
    assert_int_equal(mhgi_sbuf_adds(&in, "1}\n\n"), MHG_OK);
    assert_int_equal(mhgi_sse_next(&in, &data, &err), 1);
    assert_string_equal(data.data, "{\"partial\":1}");
    assert_int_equal(in.len, 0);
    mhgi_sbuf_free(&in);
    mhgi_sbuf_free(&data);
}

static void test_sse_oversized_event(void **state) {
    (void)state;
    mhgi_sbuf in, data;
    mhgi_sbuf_init(&in, 4096);
    mhgi_sbuf_init(&data, 16);
    int err = 0;
    assert_int_equal(mhgi_sbuf_adds(&in, "data: 0123456789abcdefXYZ\n\n"), MHG_OK);
    assert_int_equal(mhgi_sse_next(&in, &data, &err), 0);
    assert_int_equal(err, 1);
    mhgi_sbuf_free(&in);
    mhgi_sbuf_free(&data);
}

static void test_rate_bucket(void **state) {
    (void)state;
    mhgi_rate r;
    mhgi_rate_init(&r, 2.0, 3.0); /* 2/s, burst 3 */
    double retry = 0;
    double t = 1000.0;
    assert_true(mhgi_rate_take(&r, "k1", t, &retry));
    assert_true(mhgi_rate_take(&r, "k1", t, &retry));
    assert_true(mhgi_rate_take(&r, "k1", t, &retry));
    assert_false(mhgi_rate_take(&r, "k1", t, &retry));
    assert_true(retry > 0.0 && retry <= 0.5);
    /* another key has its own bucket */
    assert_true(mhgi_rate_take(&r, "k2", t, &retry));
    /* half a second later one token has come back (2/s) */
    assert_true(mhgi_rate_take(&r, "k1", t + 0.5, &retry));
    assert_false(mhgi_rate_take(&r, "k1", t + 0.5, &retry));
    /* never more than the burst, however long the pause */
    for (int i = 0; i < 3; i++) assert_true(mhgi_rate_take(&r, "k1", t + 100, &retry));
    assert_false(mhgi_rate_take(&r, "k1", t + 100, &retry));
    mhgi_rate_destroy(&r);

    mhgi_rate_init(&r, 0, 0); /* unlimited */
    for (int i = 0; i < 1000; i++) assert_true(mhgi_rate_take(&r, "k", t, NULL));
    mhgi_rate_destroy(&r);
}

static void test_drift_window(void **state) {
    (void)state;
    mhgi_drift d;
    assert_int_equal(mhgi_drift_init(&d, 10, 0.3), MHG_OK);
    double share;
    size_t win;
    int raised = 0;
    /* 6 plain conversations, then 4 with mental-health content */
    for (uint64_t k = 1; k <= 6; k++) raised += mhgi_drift_observe(&d, k, 0, &share, &win);
    for (uint64_t k = 7; k <= 9; k++) raised += mhgi_drift_observe(&d, k, 1, &share, &win);
    assert_int_equal(raised, 0); /* fewer than min(window, 20) = 10 conversations */
    assert_int_equal(mhgi_drift_observe(&d, 10, 1, &share, &win), 1); /* 4/10 > 0.3 */
    assert_int_equal(win, 10);
    assert_true(share > 0.39 && share < 0.41);
    /* the same conversation again does not count twice, and no second alarm */
    assert_int_equal(mhgi_drift_observe(&d, 10, 1, &share, &win), 0);
    assert_int_equal(win, 10);
    /* a plain conversation that was already flagged stays flagged */
    assert_int_equal(mhgi_drift_observe(&d, 7, 0, &share, &win), 0);
    assert_true(share > 0.39 && share < 0.41);
    /* new plain conversations push the flagged ones out of the window */
    for (uint64_t k = 11; k <= 20; k++) mhgi_drift_observe(&d, k, 0, &share, &win);
    int alarm;
    mhgi_drift_get(&d, &share, &win, &alarm);
    assert_int_equal(win, 10);
    assert_true(share < 0.01);
    assert_int_equal(alarm, 0);
    /* and a new crossing raises the alarm again */
    raised = 0;
    for (uint64_t k = 21; k <= 25; k++) raised += mhgi_drift_observe(&d, k, 1, &share, &win);
    assert_int_equal(raised, 1);
    mhgi_drift_destroy(&d);
}

static void test_metrics_render(void **state) {
    (void)state;
    mhgi_metrics m;
    mhgi_metrics_init(&m);
    mhgi_metrics_request(&m, MHGI_ROUTE_CHAT, 200);
    mhgi_metrics_request(&m, MHGI_ROUTE_CHAT, 200);
    mhgi_metrics_request(&m, MHGI_ROUTE_CHAT, 503);
    mhgi_metrics_error(&m, MHGI_E_FAIL_CLOSED);
    mhg_verdict v;
    mhg_verdict_init(&v);
    v.risk = MHG_LEVEL_HIGH;
    v.categories[MHG_CAT_SUICIDE].level = MHG_LEVEL_HIGH;
    mhgi_metrics_verdict(&m, 0, &v, MHG_ACTION_ESCALATE, "en");
    mhgi_metrics_verdict(&m, 0, &v, MHG_ACTION_ESCALATE, "xx-attacker-chosen");
    mhgi_metrics_observe(&m, MHGI_HIST_SCREEN, 0.0003);
    mhgi_metrics_observe(&m, MHGI_HIST_SCREEN, 100.0);
    mhgi_gauges g;
    memset(&g, 0, sizeof g);
    g.review_queue_depth = 3;
    g.drift_share = 0.25;
    g.asl_level = 3;
    g.engine_version = g.lexicon_version = g.model_version = g.policy_version = "v";
    mhgi_sbuf out;
    mhgi_sbuf_init(&out, 1u << 20);
    assert_int_equal(mhgi_metrics_render(&m, &g, &out), MHG_OK);
    const char *t = out.data;
    assert_non_null(strstr(t, "mhguard_requests_total{route=\"chat\",status=\"2xx\"} 2\n"));
    assert_non_null(strstr(t, "mhguard_requests_total{route=\"chat\",status=\"5xx\"} 1\n"));
    assert_non_null(strstr(t, "mhguard_verdicts_total{source=\"user\",risk=\"high\"} 2\n"));
    assert_non_null(strstr(t, "mhguard_category_verdicts_total{category=\"suicide\",level=\"high\"} 2\n"));
    assert_non_null(strstr(t, "mhguard_actions_total{action=\"escalate\"} 2\n"));
    assert_non_null(strstr(t, "mhguard_verdicts_by_language_total{lang=\"en\"} 1\n"));
    /* unknown languages never become new series */
    assert_non_null(strstr(t, "mhguard_verdicts_by_language_total{lang=\"other\"} 1\n"));
    assert_null(strstr(t, "attacker"));
    assert_non_null(strstr(t, "mhguard_errors_total{code=\"fail_closed\"} 1\n"));
    /* histogram: cumulative buckets, +Inf holds everything */
    assert_non_null(strstr(t, "mhguard_screening_seconds_bucket{le=\"0.00025\"} 0\n"));
    assert_non_null(strstr(t, "mhguard_screening_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(t, "mhguard_screening_seconds_bucket{le=\"30\"} 1\n"));
    assert_non_null(strstr(t, "mhguard_screening_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(t, "mhguard_screening_seconds_count 2\n"));
    assert_non_null(strstr(t, "mhguard_review_queue_depth 3\n"));
    assert_non_null(strstr(t, "mhguard_use_drift_share 0.250000\n"));
    assert_non_null(strstr(t, "mhguard_asl_mh_level 3\n"));
    /* every sample line is "name{labels} value" or "name value" */
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (*p != '#') {
            const char *sp = memchr(p, ' ', (size_t)(nl - p));
            assert_non_null(sp);
            assert_true(sp + 1 < nl);
        }
        p = nl + 1;
    }
    mhgi_sbuf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbuf_limit),       cmocka_unit_test(test_sbuf_addf_long),
        cmocka_unit_test(test_sse_every_split),  cmocka_unit_test(test_sse_incomplete),
        cmocka_unit_test(test_sse_oversized_event), cmocka_unit_test(test_rate_bucket),
        cmocka_unit_test(test_drift_window),     cmocka_unit_test(test_metrics_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
