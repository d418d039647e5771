/*
 * test_eval.c - metrics against hand-computed values, intervals, summaries
 * and the three report formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mhguard/eval.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

/* scores 0.9(+) 0.8(-) 0.7(+) 0.6(+) 0.5(-) 0.4(-) */
static const double S6[6] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4};
static const int8_t Y6[6] = {1, 0, 1, 1, 0, 0};

static void test_roc_auc_by_hand(void **state) {
    (void)state;
    /* pairs (pos > neg): 0.9 beats 3 negs; 0.7 beats 0.5,0.4; 0.6 beats
     * 0.5,0.4 -> 7 of 9 */
    NEAR(mhg_metric_roc_auc(S6, Y6, 6), 7.0 / 9.0);
    /* ties count one half: one pos and one neg at the same score */
    double s[2] = {0.5, 0.5};
    int8_t y[2] = {1, 0};
    NEAR(mhg_metric_roc_auc(s, y, 2), 0.5);
    /* unlabelled items are ignored */
    double s3[3] = {0.9, 0.1, 0.95};
    int8_t y3[3] = {1, 0, -1};
    NEAR(mhg_metric_roc_auc(s3, y3, 3), 1.0);
    /* one class only: undefined */
    int8_t yp[2] = {1, 1};
    assert_true(isnan(mhg_metric_roc_auc(s, yp, 2)));
}

static void test_auprc_by_hand(void **state) {
    (void)state;
    /* positives at ranks 1, 3, 4: AP = (1/3)(1/1 + 2/3 + 3/4) = 0.80555... */
    NEAR(mhg_metric_auprc(S6, Y6, 6), (1.0 + 2.0 / 3.0 + 3.0 / 4.0) / 3.0);
    /* all tied: AP equals prevalence */
    double s[4] = {0.3, 0.3, 0.3, 0.3};
    int8_t y[4] = {1, 0, 0, 0};
    NEAR(mhg_metric_auprc(s, y, 4), 0.25);
    int8_t yn[4] = {0, 0, 0, 0};
    assert_true(isnan(mhg_metric_auprc(s, yn, 4)));
}

static void test_ece_by_hand(void **state) {
    (void)state;
    /* bin [0.9,1.0]: scores 0.9, 0.9, 1.0 (clamped 1.2) labels 1,1,0:
     *   mean score 0.9333, frac 0.6667 -> gap 0.2667
     * bin [0.1,0.2): 0.1, 0.1 labels 0,0: gap 0.1
     * ECE = 3/5*0.26667 + 2/5*0.1 = 0.2 */
    double s[5] = {0.9, 0.9, 1.2, 0.1, 0.1};
    int8_t y[5] = {1, 1, 0, 0, 0};
    mhg_reliability_bin t[10];
    NEAR(mhg_metric_ece(s, y, 5, 10, t), 0.2);
    assert_int_equal(t[9].n, 3);
    assert_int_equal(t[1].n, 2);
    assert_int_equal(t[5].n, 0);
    assert_true(isnan(t[5].mean_score));
    NEAR(t[9].frac_pos, 2.0 / 3.0);
    /* perfectly calibrated bins give 0 */
    double s2[4] = {0.25, 0.25, 0.25, 0.25};
    int8_t y2[4] = {1, 0, 0, 0};
    NEAR(mhg_metric_ece(s2, y2, 4, 10, NULL), 0.0);
}

static void test_wilson_by_hand(void **state) {
    (void)state;
    double lo, hi;
    /* k=8, n=10, z=1.96: published value [0.4902, 0.9433] */
    mhg_wilson_ci(8, 10, 1.96, &lo, &hi);
    assert_true(fabs(lo - 0.4902) < 5e-4);
    assert_true(fabs(hi - 0.9433) < 5e-4);
    mhg_wilson_ci(0, 20, 1.96, &lo, &hi); /* k=0: lower bound 0, upper 0.161 */
    NEAR(lo, 0.0);
    assert_true(fabs(hi - 0.1611) < 5e-4);
    mhg_wilson_ci(0, 0, 1.96, &lo, &hi);
    NEAR(lo, 0.0);
    NEAR(hi, 1.0);
}

static void test_bootstrap_deterministic_and_brackets(void **state) {
    (void)state;
    enum { N = 400 };
    double s[N];
    int8_t y[N];
    for (int i = 0; i < N; i++) { /* overlapping classes */
        y[i] = (int8_t)(i % 3 == 0);
        s[i] = (double)((i * 37) % 100) / 100.0 + (y[i] ? 0.3 : 0.0);
    }
    double a, b, c, d, a2, b2, c2, d2;
    assert_int_equal(mhg_bootstrap_auc(s, y, N, 300, 42, 0.05, &a, &b, &c, &d), MHG_OK);
    assert_int_equal(mhg_bootstrap_auc(s, y, N, 300, 42, 0.05, &a2, &b2, &c2, &d2), MHG_OK);
    assert_true(a == a2 && b == b2 && c == c2 && d == d2); /* fixed seed */
    double roc = mhg_metric_roc_auc(s, y, N), pr = mhg_metric_auprc(s, y, N);
    assert_true(a < roc && roc < b);
    assert_true(c < pr && pr < d);
    assert_true(b - a < 0.2 && b - a > 0.005);
}

static void test_summary_counts_and_sweep(void **state) {
    (void)state;
    double s[8] = {0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.95, 0.1};
    int8_t y[8] = {1, 0, 1, 1, 0, 0, -1, -1};
    uint8_t p[8] = {1, 1, 1, 0, 0, 0, 1, 0};
    mhg_eval_summary m;
    mhg_eval_options o;
    mhg_eval_options_default(&o);
    assert_int_equal(mhg_eval_summarize(s, y, p, 8, &o, &m), MHG_OK);
    assert_int_equal(m.n, 6);
    assert_int_equal(m.n_unlabelled, 2);
    assert_int_equal(m.n_unlabelled_flagged, 1);
    assert_int_equal(m.tp, 2);
    assert_int_equal(m.fp, 1);
    assert_int_equal(m.fn, 1);
    assert_int_equal(m.tn, 2);
    NEAR(m.precision.value, 2.0 / 3.0);
    NEAR(m.recall.value, 2.0 / 3.0);
    NEAR(m.fpr.value, 1.0 / 3.0);
    NEAR(m.f1.value, 2.0 / 3.0);
    NEAR(m.roc_auc.value, 7.0 / 9.0);
    assert_true(m.precision.lo < m.precision.value && m.precision.value < m.precision.hi);
    /* sweep at 0.65 (index 12): flagged 0.9, 0.8, 0.7 -> tp 2 fp 1 */
    assert_true(fabs(m.sweep[12].threshold - 0.65) < 1e-9);
    assert_int_equal(m.sweep[12].tp, 2);
    assert_int_equal(m.sweep[12].fp, 1);
    /* at 0.5 (index 9): 0.9..0.5 -> tp 3 fp 2 */
    assert_int_equal(m.sweep[9].tp, 3);
    assert_int_equal(m.sweep[9].fp, 2);
}

static mhg_eval_set *make_set(void) {
    const char *sys[2] = {"engine", "other <b>"};
    const char *tasks[1] = {"suicide"};
    const char *fields[2] = {"lang", "source"};
    mhg_eval_set *set = NULL;
    assert_int_equal(mhg_eval_set_new(2, sys, 1, tasks, 2, fields, &set), MHG_OK);
    assert_int_equal(mhg_eval_set_info(set, -1, "data", "fixture.jsonl"), MHG_OK);
    assert_int_equal(mhg_eval_set_info(set, 0, "model", "m1-test"), MHG_OK);
    for (int i = 0; i < 60; i++) {
        const char *g[2] = {i % 2 ? "en" : "es", i % 3 ? "a" : "b"};
        int8_t y = (int8_t)(i % 4 == 0);
        double sc = y ? 0.6 + 0.005 * i : 0.01 * (i % 70);
        assert_int_equal(mhg_eval_set_add(set, 0, 0, y, sc, sc >= 0.5, g), MHG_OK);
        assert_int_equal(mhg_eval_set_add(set, 1, 0, y, 1.0 - sc, sc < 0.5, g), MHG_OK);
    }
    const char *g[2] = {"en", "null-src"};
    assert_int_equal(mhg_eval_set_add(set, 0, 0, -1, 0.9, 1, g), MHG_OK);
    assert_int_equal(mhg_eval_set_add(set, 1, 0, -1, 0.9, 0, g), MHG_OK);
    assert_int_equal(mhg_eval_set_add(set, 2, 0, 1, 0.9, 0, g), MHG_ERR_INVALID);
    assert_int_equal(mhg_eval_set_compute(set, NULL), MHG_OK);
    return set;
}

static void test_set_reports(void **state) {
    (void)state;
    mhg_eval_set *set = make_set();
    const mhg_eval_summary *o = mhg_eval_set_summary(set, 0, 0);
    assert_non_null(o);
    assert_int_equal(o->n, 60);
    assert_int_equal(o->n_pos, 15);
    assert_int_equal(o->n_unlabelled, 1);
    NEAR(o->roc_auc.value, 1.0);
    const mhg_eval_summary *o2 = mhg_eval_set_summary(set, 1, 0);
    NEAR(o2->roc_auc.value, 0.0);
    assert_null(mhg_eval_set_summary(set, 3, 0));

    char *json = NULL;
    assert_int_equal(mhg_eval_report_json(set, &json), MHG_OK);
    assert_non_null(strstr(json, "\"roc_auc\""));
    assert_non_null(strstr(json, "\"null-src\""));
    assert_non_null(strstr(json, "\"m1-test\""));
    /* per-group ROC curves, for recall at equal FPR per source */
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    assert_non_null(root);
    json_t *roc = json_object_get(
        json_object_get(json_object_get(json_object_get(json_object_get(
                            json_object_get(json_array_get(json_object_get(root, "systems"), 0),
                                            "tasks"),
                            "suicide"), "groups"), "lang"), "es"),
        "roc");
    assert_true(json_is_array(roc) && json_array_size(roc) >= 2);
    json_decref(root);
    assert_int_equal(mhg_eval_set_compute(set, NULL), MHG_ERR_INVALID); /* once only */
    free(json);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(mhg_eval_report_text(set, f), MHG_OK);
    fclose(f);
    assert_non_null(strstr(buf, "lang=es"));
    assert_non_null(strstr(buf, "source=null-src"));
    free(buf);

    f = open_memstream(&buf, &len);
    assert_int_equal(mhg_eval_report_html(set, f), MHG_OK);
    fclose(f);
    assert_true(!strncmp(buf, "<!DOCTYPE html>", 15));
    assert_non_null(strstr(buf, "</html>"));
    /* three charts per task, drawn as SVG with curves */
    int svgs = 0;
    for (const char *p = buf; (p = strstr(p, "<svg")); p++) svgs++;
    assert_int_equal(svgs, 3);
    assert_non_null(strstr(buf, "<polyline"));
    assert_non_null(strstr(buf, "Precision-recall"));
    assert_non_null(strstr(buf, "Calibration"));
    /* names are escaped, nothing is loaded from outside */
    assert_non_null(strstr(buf, "other &lt;b&gt;"));
    assert_null(strstr(buf, "other <b>"));
    assert_null(strstr(buf, "<script"));
    assert_null(strstr(buf, "src=\"http"));
    free(buf);
    mhg_eval_set_free(set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roc_auc_by_hand),
        cmocka_unit_test(test_auprc_by_hand),
        cmocka_unit_test(test_ece_by_hand),
        cmocka_unit_test(test_wilson_by_hand),
        cmocka_unit_test(test_bootstrap_deterministic_and_brackets),
        cmocka_unit_test(test_summary_counts_and_sweep),
        cmocka_unit_test(test_set_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
