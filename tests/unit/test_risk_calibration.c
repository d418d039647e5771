/*
 * test_risk_calibration.c - the engine score calibration
 * (include/mhguard/calibration.h): PAV on a hand-computed example,
 * monotonicity, clamping, file round trip, bad files, and the engine
 * applying it after levels (shipped model, repo data only).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mhguard.h"
#include "mhguard/calibration.h"

static char tmpdir[256];

static const char *tmp_path(const char *name) {
    static char buf[512];
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/mhg-cal-test-XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
    }
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/*
 * scores 0.1 0.2 0.3 0.4, labels 0 1 0 1. PAV: (0.2:1) and (0.3:0) violate
 * order and pool into one block at x = 0.25 with rate 1/2. Blocks:
 * (0.1, 0/1), (0.25, 1/2), (0.4, 1/1); shrunk (p + .5)/(n + 1):
 * 0.25, 0.5, 0.75.
 */
static void test_pav_hand_example(void **state) {
    (void)state;
    const double s[] = {0.1, 0.2, 0.3, 0.4};
    const int l[] = {0, 1, 0, 1};
    mhg_calibration *cal = NULL;
    assert_int_equal(mhg_calibration_new("m-test", &cal), MHG_OK);
    assert_false(mhg_calibration_has(cal, MHG_CAT_SUICIDE));
    assert_true(mhg_calibration_apply(cal, MHG_CAT_SUICIDE, 0.3) == 0.3); /* no mapping */
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SUICIDE, s, l, 4), MHG_OK);
    const double *x, *y;
    size_t n, rows, pos;
    mhg_calibration_knots(cal, MHG_CAT_SUICIDE, &x, &y, &n, &rows, &pos);
    assert_int_equal(n, 3);
    assert_int_equal(rows, 4);
    assert_int_equal(pos, 2);
    assert_true(fabs(x[0] - 0.1) < 1e-12 && fabs(x[1] - 0.25) < 1e-12 && fabs(x[2] - 0.4) < 1e-12);
    assert_true(fabs(y[0] - 0.25) < 1e-12 && fabs(y[1] - 0.5) < 1e-12 && fabs(y[2] - 0.75) < 1e-12);
    /* interpolation and clamping */
    assert_true(fabs(mhg_calibration_apply(cal, MHG_CAT_SUICIDE, 0.175) - 0.375) < 1e-9);
    assert_true(fabs(mhg_calibration_apply(cal, MHG_CAT_SUICIDE, 0.325) - 0.625) < 1e-9);
    assert_true(mhg_calibration_apply(cal, MHG_CAT_SUICIDE, 0.0) == 0.25);
    assert_true(mhg_calibration_apply(cal, MHG_CAT_SUICIDE, 1.0) == 0.75);
    assert_true(mhg_calibration_apply(cal, MHG_CAT_SUICIDE, NAN) == 0.75); /* toward risk */
    /* other categories untouched */
    assert_true(mhg_calibration_apply(cal, MHG_CAT_SELF_HARM, 0.6) == 0.6);
    /* the order of the pairs does not matter */
    const double s2[] = {0.4, 0.3, 0.1, 0.2};
    const int l2[] = {1, 0, 0, 1};
    mhg_calibration *cal2 = NULL;
    assert_int_equal(mhg_calibration_new("m-test", &cal2), MHG_OK);
    assert_int_equal(mhg_calibration_fit(cal2, MHG_CAT_SUICIDE, s2, l2, 4), MHG_OK);
    assert_string_equal(mhg_calibration_version(cal), mhg_calibration_version(cal2));
    assert_string_not_equal(mhg_calibration_version(cal), "");
    mhg_calibration_free(cal2);
    mhg_calibration_free(cal);
}

static void test_ties_and_bad_input(void **state) {
    (void)state;
    mhg_calibration *cal = NULL;
    assert_int_equal(mhg_calibration_new("m-test", &cal), MHG_OK);
    /* equal scores are one block, whatever their labels */
    const double s[] = {0.5, 0.5, 0.5, 0.5};
    const int l[] = {1, 0, 0, 1};
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SUICIDE, s, l, 4), MHG_OK);
    size_t n;
    const double *y;
    mhg_calibration_knots(cal, MHG_CAT_SUICIDE, NULL, &y, &n, NULL, NULL);
    assert_int_equal(n, 1);
    assert_true(fabs(y[0] - 0.5) < 1e-12);
    const double bad_s[] = {0.2, 1.5};
    const double nan_s[] = {0.2, NAN};
    const int bad_l[] = {0, 2};
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SUICIDE, bad_s, l, 2), MHG_ERR_INVALID);
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SUICIDE, nan_s, l, 2), MHG_ERR_INVALID);
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SUICIDE, s, bad_l, 2), MHG_ERR_INVALID);
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SUICIDE, s, l, 0), MHG_ERR_INVALID);
    /* a failed fit keeps the earlier one */
    assert_true(mhg_calibration_has(cal, MHG_CAT_SUICIDE));
    assert_int_equal(mhg_calibration_new("", &(mhg_calibration *){NULL}), MHG_ERR_INVALID);
    mhg_calibration_free(cal);
}

/* Pseudo-random data (fixed LCG): the mapping is non-decreasing on a fine
 * grid, stays in [0,1] and no knot claims 0 or 1. */
static void test_monotone_random(void **state) {
    (void)state;
    enum { N = 2000 };
    static double s[N];
    static int l[N];
    uint64_t r = 12345;
    for (int i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        s[i] = (double)(r >> 11) / 9007199254740992.0;
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(r >> 11) / 9007199254740992.0;
        l[i] = u < s[i] * s[i]; /* P(1) = s^2 */
    }
    mhg_calibration *cal = NULL;
    assert_int_equal(mhg_calibration_new("m-test", &cal), MHG_OK);
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SELF_HARM, s, l, N), MHG_OK);
    const double *x, *y;
    size_t n;
    mhg_calibration_knots(cal, MHG_CAT_SELF_HARM, &x, &y, &n, NULL, NULL);
    assert_true(n > 2);
    for (size_t k = 0; k < n; k++) {
        assert_true(y[k] > 0.0 && y[k] < 1.0);
        if (k) assert_true(x[k] > x[k - 1] && y[k] >= y[k - 1]);
    }
    double prev = -1.0;
    for (int i = -10; i <= 10010; i++) {
        double v = mhg_calibration_apply(cal, MHG_CAT_SELF_HARM, i / 10000.0);
        assert_true(v >= prev && v >= 0.0 && v <= 1.0);
        prev = v;
    }
    /* it learned the shape: low scores low, high scores high */
    assert_true(mhg_calibration_apply(cal, MHG_CAT_SELF_HARM, 0.1) < 0.1);
    assert_true(mhg_calibration_apply(cal, MHG_CAT_SELF_HARM, 0.9) > 0.6);
    mhg_calibration_free(cal);
}

static void test_round_trip(void **state) {
    (void)state;
    const double s[] = {0.05, 0.1, 0.33, 0.5, 0.5, 0.76, 0.9, 0.95};
    const int l[] = {0, 0, 1, 0, 1, 1, 0, 1};
    mhg_calibration *cal = NULL, *back = NULL;
    assert_int_equal(mhg_calibration_new("m1-18-abc", &cal), MHG_OK);
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SUICIDE, s, l, 8), MHG_OK);
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SELF_HARM, s, l, 4), MHG_OK);
    char err[512];
    const char *p = tmp_path("rt.json");
    assert_int_equal(mhg_calibration_save(cal, p, "{\"note\":\"x\"}", err, sizeof err), MHG_OK);
    assert_int_equal(mhg_calibration_load(p, &back, err, sizeof err), MHG_OK);
    assert_string_equal(mhg_calibration_version(back), mhg_calibration_version(cal));
    assert_string_equal(mhg_calibration_model(back), "m1-18-abc");
    for (int i = 0; i <= 100; i++)
        for (int c = 0; c < 2; c++)
            assert_true(mhg_calibration_apply(back, (mhg_category)c, i / 100.0) ==
                        mhg_calibration_apply(cal, (mhg_category)c, i / 100.0));
    assert_false(mhg_calibration_has(back, MHG_CAT_ABUSE));
    /* build info must be an object */
    assert_int_equal(mhg_calibration_save(cal, p, "[1]", err, sizeof err), MHG_ERR_INVALID);
    mhg_calibration_free(back);
    mhg_calibration_free(cal);
}

static void expect_parse_error(const char *text, const char *needle) {
    const char *p = tmp_path("bad.json");
    write_file(p, text);
    mhg_calibration *cal = (mhg_calibration *)1;
    char err[512] = "";
    assert_int_equal(mhg_calibration_load(p, &cal, err, sizeof err), MHG_ERR_PARSE);
    assert_null(cal);
    if (!strstr(err, needle)) fail_msg("error '%s' does not mention '%s'", err, needle);
    assert_non_null(strstr(err, p)); /* names the file */
}

#define HEAD "{\"format\":\"mhguard-engine-calibration\",\"format_version\":1,"

static void test_bad_files(void **state) {
    (void)state;
    mhg_calibration *cal = NULL;
    char err[512];
    assert_int_equal(mhg_calibration_load(tmp_path("missing.json"), &cal, err, sizeof err),
                     MHG_ERR_IO);
    assert_non_null(strstr(err, "cannot open"));
    expect_parse_error("{not json", "not JSON");
    expect_parse_error("{\"format\":\"something-else\"}", "format");
    expect_parse_error(HEAD "\"method\":\"platt\",\"model\":\"m\",\"version\":\"c1-0\","
                            "\"categories\":{}}",
                       "method");
    expect_parse_error(HEAD "\"method\":\"isotonic-pav-linear\",\"model\":\"m\",\"version\":\"c1-0\","
                            "\"categories\":{\"nonsense\":{\"x\":[0.1],\"y\":[0.2]}}}",
                       "unknown category");
    expect_parse_error(HEAD "\"method\":\"isotonic-pav-linear\",\"model\":\"m\",\"version\":\"c1-0\","
                            "\"categories\":{\"suicide\":{\"x\":[0.1,0.2],\"y\":[0.5,0.4]}}}",
                       "must not decrease");
    expect_parse_error(HEAD "\"method\":\"isotonic-pav-linear\",\"model\":\"m\",\"version\":\"c1-0\","
                            "\"categories\":{\"suicide\":{\"x\":[0.1,1.2],\"y\":[0.4,0.5]}}}",
                       "not a number in [0,1]");
    expect_parse_error(HEAD "\"method\":\"isotonic-pav-linear\",\"model\":\"m\",\"version\":\"c1-0\","
                            "\"categories\":{\"suicide\":{\"x\":[0.1,0.2],\"y\":[0.4]}}}",
                       "same length");
    /* a hand-edited knot: the version no longer matches */
    expect_parse_error(HEAD "\"method\":\"isotonic-pav-linear\",\"model\":\"m\",\"version\":"
                            "\"c1-000000000000\",\"categories\":{\"suicide\":{\"x\":[0.1,0.2],"
                            "\"y\":[0.4,0.5]}}}",
                       "does not match");
}

/* The engine with the shipped model: a calibration for that model maps
 * scores and joins the version; levels do not change; one for another
 * model is an error when explicit. */
static void test_engine_applies_after_levels(void **state) {
    (void)state;
    const char *dd = getenv("MHG_DATA_DIR");
    mhg_engine_options o = {0};
    o.data_dir = dd;
    o.calibration_path = "";
    mhg_engine *raw = NULL, *calib = NULL;
    char err[1024];
    assert_int_equal(mhg_engine_load(&o, &raw, err, sizeof err), MHG_OK);
    const char *mv = mhg_engine_model_version(raw);
    if (!strcmp(mv, "none")) skip();
    assert_null(strchr(mv, '+'));
    /* map suicide to [0.1, 0.2] linearly: every calibrated score is visible */
    mhg_calibration *cal = NULL;
    const double s[] = {0.0, 1.0};
    const int l[] = {0, 1};
    assert_int_equal(mhg_calibration_new(mv, &cal), MHG_OK);
    assert_int_equal(mhg_calibration_fit(cal, MHG_CAT_SUICIDE, s, l, 2), MHG_OK);
    const char *p = tmp_path("engine.json");
    assert_int_equal(mhg_calibration_save(cal, p, NULL, err, sizeof err), MHG_OK);
    o.calibration_path = p;
    assert_int_equal(mhg_engine_load(&o, &calib, err, sizeof err), MHG_OK);
    char want[128];
    snprintf(want, sizeof want, "%s+%s", mv, mhg_calibration_version(cal));
    assert_string_equal(mhg_engine_model_version(calib), want);

    const char *msgs[] = {"I want to kill myself tonight, I have the pills", "I want to die",
                          "my cat is cute", "I cut myself again last night",
                          "this homework is killing me"};
    mhg_scratch *s1 = NULL, *s2 = NULL;
    assert_int_equal(mhg_scratch_new(raw, &s1), MHG_OK);
    assert_int_equal(mhg_scratch_new(calib, &s2), MHG_OK);
    mhg_verdict a, b;
    mhg_verdict_init(&a);
    mhg_verdict_init(&b);
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++) {
        assert_int_equal(mhg_assess(raw, s1, msgs[i], strlen(msgs[i]), "en", NULL, &a), MHG_OK);
        assert_int_equal(mhg_assess(calib, s2, msgs[i], strlen(msgs[i]), "en", NULL, &b), MHG_OK);
        assert_int_equal(a.risk, b.risk);
        assert_int_equal(a.action, b.action);
        for (int c = 0; c < MHG_CAT_COUNT; c++) {
            assert_int_equal(a.categories[c].level, b.categories[c].level);
            double want_s = mhg_calibration_apply(cal, (mhg_category)c, a.categories[c].score);
            assert_true(fabs(b.categories[c].score - want_s) < 1e-12);
        }
        double su = b.categories[MHG_CAT_SUICIDE].score;
        assert_true(su >= 0.25 - 1e-9 && su <= 0.75 + 1e-9); /* (0+.5)/2 .. (1+.5)/2 */
    }
    mhg_verdict_free(&a);
    mhg_verdict_free(&b);
    mhg_scratch_free(s1);
    mhg_scratch_free(s2);
    mhg_engine_free(calib);
    calib = NULL;

    /* fitted for another model: explicit path is an error naming both */
    mhg_calibration *other = NULL;
    assert_int_equal(mhg_calibration_new("m1-18-000000000000", &other), MHG_OK);
    assert_int_equal(mhg_calibration_fit(other, MHG_CAT_SUICIDE, s, l, 2), MHG_OK);
    assert_int_equal(mhg_calibration_save(other, p, NULL, err, sizeof err), MHG_OK);
    assert_int_not_equal(mhg_engine_load(&o, &calib, err, sizeof err), MHG_OK);
    assert_null(calib);
    assert_non_null(strstr(err, "m1-18-000000000000"));
    /* corrupt explicit file: error */
    write_file(p, "{\"format\":1}");
    assert_int_equal(mhg_engine_load(&o, &calib, err, sizeof err), MHG_ERR_PARSE);
    /* rules only (no model) + explicit calibration: error */
    o.model_path = "";
    assert_int_equal(mhg_calibration_save(cal, p, NULL, err, sizeof err), MHG_OK);
    assert_int_equal(mhg_engine_load(&o, &calib, err, sizeof err), MHG_ERR_INVALID);
    mhg_calibration_free(other);
    mhg_calibration_free(cal);
    mhg_engine_free(raw);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pav_hand_example), cmocka_unit_test(test_ties_and_bad_input),
        cmocka_unit_test(test_monotone_random),  cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_files),        cmocka_unit_test(test_engine_applies_after_levels),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) rc = rc ? rc : 1;
    }
    return rc;
}
