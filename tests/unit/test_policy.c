/*
 * test_policy.c - policy file loading and the ASL-MH start-up rules: every
 * example loads, every rule refuses a fixture that breaks it with a message
 * naming the rule, parse errors (unknown key, wrong type, malformed YAML,
 * duplicate key, missing file), version hash, overrides, accessors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mhguard/policy.h"

static char fixture_dir[1024];
static char examples_dir[1024];

static void paths(void) {
    const char *t = getenv("MHG_TEST_DIR");
    if (!t) t = "tests";
    snprintf(fixture_dir, sizeof fixture_dir, "%s/fixtures/policy", t);
    snprintf(examples_dir, sizeof examples_dir, "%s/../examples", t);
}

static mhg_status load_fixture(const char *name, mhg_policy **p, char *err, size_t errlen) {
    char path[1400];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", fixture_dir, name) >= sizeof path)
        return MHG_ERR_TOO_BIG;
    return mhg_policy_load(path, p, err, errlen);
}

static void test_examples_load(void **state) {
    (void)state;
    for (int i = 1; i <= 6; i++) {
        char path[1400], err[4096];
        snprintf(path, sizeof path, "%s/level%d.yaml", examples_dir, i);
        mhg_policy *p = NULL;
        mhg_status rc = mhg_policy_load(path, &p, err, sizeof err);
        if (rc != MHG_OK) fail_msg("%s: %s", path, err);
        const mhg_policy_info *in = mhg_policy_get(p);
        assert_int_equal(in->asl_level, i);
        assert_non_null(in->version);
        assert_int_equal(strncmp(in->version, "b2:", 3), 0);
        assert_int_equal(strlen(in->version), 3 + 64);
        assert_non_null(mhg_policy_resources(p));
        assert_string_equal(in->upstream_base_url, "http://127.0.0.1:8088/v1");
        assert_string_equal(in->upstream_api_key_env, "OPENAI_API_KEY");
        /* level-dependent derived settings */
        assert_int_equal(in->disclaimer_required, i >= 2);
        assert_int_equal(in->block_medical_advice, i == 2 || i == 3);
        assert_int_equal(in->patient_facing, i != 4);
        assert_int_equal(in->explain_outputs, i == 4);
        assert_int_equal(in->fail_mode, MHG_FAIL_CLOSED);
        mhg_policy_free(p);

        snprintf(path, sizeof path, "good-level%d.yaml", i);
        rc = load_fixture(path, &p, err, sizeof err);
        if (rc != MHG_OK) fail_msg("%s: %s", path, err);
        mhg_policy_free(p);
    }
}

/* Every start-up rule, one fixture each. */
static const struct {
    const char *file;
    mhg_status want;
    const char *rule; /* must appear in the message */
} cases[] = {
    {"bad-floor-thresholds.yaml", MHG_ERR_POLICY, "rule floor.thresholds:"},
    {"bad-floor-thresholds-order.yaml", MHG_ERR_POLICY, "rule floor.thresholds_order:"},
    {"bad-minor-thresholds.yaml", MHG_ERR_POLICY, "rule age.minor_thresholds:"},
    {"bad-floor-fail-mode.yaml", MHG_ERR_POLICY, "rule floor.fail_mode:"},
    {"bad-floor-resources.yaml", MHG_ERR_POLICY, "rule floor.resources:"},
    {"bad-L1-use-drift.yaml", MHG_ERR_POLICY, "rule L1.use_drift:"},
    {"bad-L1-setting.yaml", MHG_ERR_POLICY, "rule L1.setting:"},
    {"bad-L2-disclaimer.yaml", MHG_ERR_POLICY, "rule L2.disclaimer:"},
    {"bad-L2-medical-advice.yaml", MHG_ERR_POLICY, "rule L2.medical_advice:"},
    {"bad-L2-content-sources.yaml", MHG_ERR_POLICY, "rule L2.content_sources:"},
    {"bad-L2-setting.yaml", MHG_ERR_POLICY, "rule L2.setting: setting high_acuity is refused at level 2"},
    {"bad-L3-setting.yaml", MHG_ERR_POLICY, "rule L3.setting: setting high_acuity is refused at level 3"},
    {"bad-L3-oversight.yaml", MHG_ERR_POLICY,
     "rule L3.oversight: level 3 requires review_queue.enabled, oncall.webhook_url and sla"},
    {"bad-L3-thresholds.yaml", MHG_ERR_POLICY, "rule L3.thresholds:"},
    {"bad-L3-reminders.yaml", MHG_ERR_POLICY, "rule L3.reminders:"},
    {"bad-L4-setting.yaml", MHG_ERR_POLICY, "rule L4.setting:"},
    {"bad-L4-clinician-auth.yaml", MHG_ERR_POLICY, "rule L4.clinician_auth:"},
    {"bad-L4-validation-record.yaml", MHG_ERR_POLICY, "rule L4.validation_record:"},
    {"bad-L4-validation-metrics.yaml", MHG_ERR_POLICY, "holds no metrics"},
    {"bad-L5-setting.yaml", MHG_ERR_POLICY, "rule L5.setting:"},
    {"bad-L5-care-team.yaml", MHG_ERR_POLICY, "rule L5.care_team:"},
    {"bad-L5-review-sample.yaml", MHG_ERR_POLICY, "rule L5.review_sample:"},
    {"bad-L5-allow-list.yaml", MHG_ERR_POLICY, "rule L5.allow_list:"},
    {"bad-L5-dependency.yaml", MHG_ERR_POLICY, "rule L5.dependency:"},
    {"bad-L6-setting.yaml", MHG_ERR_POLICY, "rule L6.setting:"},
    {"bad-L6-research.yaml", MHG_ERR_POLICY, "rule L6.research:"},
    {"bad-L6-listen.yaml", MHG_ERR_POLICY, "rule L6.listen:"},
    {"bad-unknown-key.yaml", MHG_ERR_PARSE, "unknown key 'reveiw_queue' (did you mean 'review_queue'?)"},
    {"bad-type.yaml", MHG_ERR_PARSE, "asl_level: expected a whole number"},
    {"bad-api-key.yaml", MHG_ERR_PARSE, "upstream.api_key_env: expected the NAME"},
    {"bad-malformed.yaml", MHG_ERR_PARSE, "YAML error"},
    {"bad-duplicate-key.yaml", MHG_ERR_PARSE, "duplicate key 'asl_level'"},
};

static void test_rules_refuse(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[4096];
        mhg_policy *p = (mhg_policy *)1;
        mhg_status rc = load_fixture(cases[i].file, &p, err, sizeof err);
        if (rc != cases[i].want)
            fail_msg("%s: got %s (%s), want %s", cases[i].file, mhg_strerror(rc), err,
                     mhg_strerror(cases[i].want));
        assert_null(p);
        if (!strstr(err, cases[i].rule))
            fail_msg("%s: message does not name '%s':\n%s", cases[i].file, cases[i].rule, err);
        /* the message names the file */
        if (!strstr(err, cases[i].file)) fail_msg("%s: message lacks the path: %s", cases[i].file, err);
        /* rule fixtures break exactly one rule */
        if (cases[i].want == MHG_ERR_POLICY && strstr(strstr(err, "rule ") + 5, "\nrule "))
            fail_msg("%s: more than one rule broken:\n%s", cases[i].file, err);
    }
}

static void test_multiple_rules_each_named(void **state) {
    (void)state;
    char err[4096];
    mhg_policy *p = NULL;
    assert_int_equal(load_fixture("bad-multi.yaml", &p, err, sizeof err), MHG_ERR_POLICY);
    assert_null(p);
    assert_non_null(strstr(err, "rule L3.setting:"));
    assert_non_null(strstr(err, "rule L3.oversight:"));
    assert_non_null(strstr(err, "missing: oncall.webhook_url"));
    assert_non_null(strstr(err, "rule L3.reminders:"));
}

static void test_missing_file(void **state) {
    (void)state;
    char err[512];
    mhg_policy *p = (mhg_policy *)1;
    assert_int_equal(mhg_policy_load("/nonexistent/dir/policy.yaml", &p, err, sizeof err),
                     MHG_ERR_IO);
    assert_null(p);
    assert_non_null(strstr(err, "/nonexistent/dir/policy.yaml"));
    /* tiny error buffers stay NUL-terminated */
    char tiny[8];
    assert_int_equal(mhg_policy_load("/nonexistent/x.yaml", &p, tiny, sizeof tiny), MHG_ERR_IO);
    assert_true(strlen(tiny) < sizeof tiny);
    assert_int_equal(mhg_policy_load(NULL, &p, err, sizeof err), MHG_ERR_INVALID);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *minimal_l1 =
    "asl_level: 1\nsetting: general\nuse_drift: {window: 100, alarm_share: 0.1}\n";

static void test_version_and_defaults(void **state) {
    (void)state;
    char dir[] = "/tmp/mhg_policy_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[256], b[256], err[2048];
    snprintf(a, sizeof a, "%s/a.yaml", dir);
    snprintf(b, sizeof b, "%s/b.yaml", dir);
    write_file(a, minimal_l1);
    write_file(b, "# a comment changes the bytes, so the version\n");
    FILE *f = fopen(b, "a");
    fputs(minimal_l1, f);
    fclose(f);
    mhg_policy *pa = NULL, *pb = NULL;
    if (mhg_policy_load(a, &pa, err, sizeof err) != MHG_OK) fail_msg("%s", err);
    if (mhg_policy_load(b, &pb, err, sizeof err) != MHG_OK) fail_msg("%s", err);
    const mhg_policy_info *ia = mhg_policy_get(pa), *ib = mhg_policy_get(pb);
    assert_string_not_equal(ia->version, ib->version);
    /* defaults */
    assert_string_equal(ia->listen, "127.0.0.1:8080");
    assert_int_equal(ia->upstream_timeout_ms, 30000);
    assert_int_equal(ia->oncall_page_on, MHG_LEVEL_IMMINENT);
    assert_int_equal(ia->review_queue, 0);
    assert_null(ia->upstream_base_url);
    assert_null(ia->default_country);
    assert_int_equal(ia->drift_window, 100);
    assert_true(ia->drift_alarm_share > 0.09 && ia->drift_alarm_share < 0.11);
    /* same bytes, same version */
    mhg_policy *pa2 = NULL;
    assert_int_equal(mhg_policy_load(a, &pa2, err, sizeof err), MHG_OK);
    assert_string_equal(mhg_policy_get(pa2)->version, ia->version);
    mhg_policy_free(pa);
    mhg_policy_free(pa2);
    mhg_policy_free(pb);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

static void test_parse_errors_inline(void **state) {
    (void)state;
    char dir[] = "/tmp/mhg_policy_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[4096];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    static const struct {
        const char *yaml;
        const char *msg;
    } bad[] = {
        {"setting: general\n", "missing required key 'asl_level'"},
        {"asl_level: 7\nsetting: general\n", "asl_level: expected a whole number from 0 to 6"},
        {"asl_level: 1\nsetting: hospital\n", "setting: expected one of"},
        {"asl_level: 1\nsetting: general\nthresholds: {support: medium}\n",
         "thresholds.support: expected a risk level"},
        {"asl_level: 1\nsetting: general\nthresholds: {categories: {suicid: {support: low}}}\n",
         "unknown category 'suicid'"},
        {"asl_level: 1\nsetting: general\nreview_queue: {enabled: \"true\"}\n",
         "review_queue.enabled: expected true or false"},
        {"asl_level: 1\nsetting: general\nserver: {body_limit: 999999999}\n",
         "server.body_limit: expected a whole number"},
        {"asl_level: 1\nsetting: general\nupstream: {base_url: ftp://x}\n",
         "upstream.base_url: expected an http(s) URL"},
        {"asl_level: 1\nsetting: general\nresources: {default_country: USA}\n",
         "resources.default_country: expected an ISO 3166-1"},
        {"asl_level: 1\nsetting: general\nage: {requre_band: true}\n",
         "unknown key 'age.requre_band' (did you mean 'require_band'?)"},
        {"- just\n- a list\n", "document: expected a mapping"},
        {"", "empty document"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file(path, bad[i].yaml);
        mhg_policy *p = (mhg_policy *)1;
        mhg_status rc = mhg_policy_load(path, &p, err, sizeof err);
        if (rc != MHG_ERR_PARSE) fail_msg("case %zu: got %s: %s", i, mhg_strerror(rc), err);
        assert_null(p);
        if (!strstr(err, bad[i].msg)) fail_msg("case %zu: want '%s' in:\n%s", i, bad[i].msg, err);
    }
    unlink(path);
    rmdir(dir);
}

static void test_override(void **state) {
    (void)state;
    char err[2048];
    mhg_policy *p = NULL;
    if (load_fixture("good-level6.yaml", &p, err, sizeof err) != MHG_OK) fail_msg("%s", err);
    /* a private address is fine at level 6, a public one is refused and the
     * old value is kept */
    assert_int_equal(mhg_policy_override(p, "server.listen", "10.1.2.3:9000", err, sizeof err),
                     MHG_OK);
    assert_string_equal(mhg_policy_get(p)->listen, "10.1.2.3:9000");
    assert_int_equal(mhg_policy_override(p, "server.listen", "0.0.0.0:9000", err, sizeof err),
                     MHG_ERR_POLICY);
    assert_non_null(strstr(err, "rule L6.listen:"));
    assert_string_equal(mhg_policy_get(p)->listen, "10.1.2.3:9000");
    assert_int_equal(mhg_policy_override(p, "server.listen", "nonsense", err, sizeof err),
                     MHG_ERR_INVALID);
    assert_int_equal(mhg_policy_override(p, "upstream.base_url", "http://127.0.0.1:9/v1", err,
                                         sizeof err),
                     MHG_OK);
    assert_string_equal(mhg_policy_get(p)->upstream_base_url, "http://127.0.0.1:9/v1");
    assert_int_equal(mhg_policy_override(p, "upstream.timeout_ms", "1500", err, sizeof err), MHG_OK);
    assert_int_equal(mhg_policy_get(p)->upstream_timeout_ms, 1500);
    assert_int_equal(mhg_policy_override(p, "resources.default_country", "XX", err, sizeof err),
                     MHG_ERR_POLICY);
    assert_non_null(strstr(err, "rule floor.resources:"));
    assert_string_equal(mhg_policy_get(p)->default_country, "US");
    assert_int_equal(mhg_policy_override(p, "asl_level", "1", err, sizeof err), MHG_ERR_INVALID);
    mhg_policy_free(p);
}

static void test_level5_accessors(void **state) {
    (void)state;
    char err[2048];
    mhg_policy *p = NULL;
    if (load_fixture("good-level5.yaml", &p, err, sizeof err) != MHG_OK) fail_msg("%s", err);
    const mhg_policy_info *in = mhg_policy_get(p);
    assert_true(in->responsible_clinician_required);
    assert_true(in->dependency_monitoring);
    assert_int_equal(in->dependency_max_turns_per_day, 200);
    assert_int_equal(in->n_allowed_actions, 4);
    assert_true(mhg_policy_action_allowed(p, "schedule_checkin"));
    assert_false(mhg_policy_action_allowed(p, "send_money"));
    assert_false(mhg_policy_action_allowed(p, NULL));
    /* sampling is deterministic and close to the configured rate */
    unsigned hits = 0;
    for (uint64_t k = 0; k < 20000; k++) {
        int s = mhg_policy_sampled(p, k);
        assert_int_equal(s, mhg_policy_sampled(p, k));
        hits += (unsigned)s;
    }
    assert_true(hits > 20000 * 0.03 && hits < 20000 * 0.07);
    mhg_policy_free(p);

    if (load_fixture("good-level1.yaml", &p, err, sizeof err) != MHG_OK) fail_msg("%s", err);
    assert_true(mhg_policy_action_allowed(p, "anything")); /* no allow-list below level 5 */
    assert_false(mhg_policy_sampled(p, 42));
    mhg_policy_free(p);
}

static void test_age_band_names(void **state) {
    (void)state;
    mhg_age_band b = MHG_AGE_ADULT;
    assert_int_equal(mhg_age_band_parse("minor", &b), MHG_OK);
    assert_int_equal(b, MHG_AGE_MINOR);
    assert_int_equal(mhg_age_band_parse("ADULT", &b), MHG_OK);
    assert_int_equal(b, MHG_AGE_ADULT);
    assert_int_equal(mhg_age_band_parse(NULL, &b), MHG_OK);
    assert_int_equal(b, MHG_AGE_UNKNOWN);
    assert_int_equal(mhg_age_band_parse("teen", &b), MHG_ERR_INVALID);
    assert_int_equal(b, MHG_AGE_UNKNOWN);
    assert_string_equal(mhg_age_band_name(MHG_AGE_MINOR), "minor");
    assert_null(mhg_age_band_name(MHG_AGE_COUNT));
    assert_string_equal(mhg_template_name(MHG_TPL_CRISIS_REPLY), "crisis_reply");
    assert_null(mhg_template_name(MHG_TPL_COUNT));
}

int main(void) {
    paths();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_rules_refuse),
        cmocka_unit_test(test_multiple_rules_each_named),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_version_and_defaults),
        cmocka_unit_test(test_parse_errors_inline),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_level5_accessors),
        cmocka_unit_test(test_age_band_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
