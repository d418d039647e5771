/*
 * test_policy_decide.c - mhg_policy_decide for every level x action path,
 * minors (stricter thresholds, abuse always escalated), per-category and
 * score thresholds, reminders, review queue / SLA / paging, level-5 review
 * of flagged and sampled conversations, language and country of the texts.
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

static mhg_policy *levels[7];

static mhg_policy *load_path(const char *path) {
    char err[4096];
    mhg_policy *p = NULL;
    if (mhg_policy_load(path, &p, err, sizeof err) != MHG_OK) fail_msg("%s: %s", path, err);
    return p;
}

static int setup(void **state) {
    (void)state;
    const char *t = getenv("MHG_TEST_DIR");
    if (!t) t = "tests";
    for (int i = 1; i <= 6; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fixtures/policy/good-level%d.yaml", t, i);
        levels[i] = load_path(path);
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 1; i <= 6; i++) mhg_policy_free(levels[i]);
    return 0;
}

/* A verdict with one category at a level. */
static mhg_verdict verdict(mhg_category cat, mhg_level level, double score) {
    mhg_verdict v;
    memset(&v, 0, sizeof v);
    v.categories[cat].level = level;
    v.categories[cat].score = score;
    v.risk = level;
    v.score = score;
    v.action = mhg_action_for_level(level);
    memcpy(v.lang, "en", 3);
    return v;
}

static mhg_decision decide(mhg_policy *p, const mhg_verdict *v, mhg_age_band age, unsigned turn,
                           const char *country, const char *lang) {
    mhg_request_info req = {.age_band = age, .turn_index = turn, .country = country,
                            .lang = lang, .conversation_key = 0};
    mhg_decision d;
    mhg_decision_init(&d);
    assert_int_equal(mhg_policy_decide(p, v, &req, &d), MHG_OK);
    return d;
}

/* The floor at every level: imminent never reaches the model, high always
 * escalates with resources, moderate gets the supportive message. */
static void test_floor_every_level(void **state) {
    (void)state;
    for (int L = 1; L <= 6; L++) {
        mhg_policy *p = levels[L];
        const mhg_policy_info *in = mhg_policy_get(p);

        mhg_verdict v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_IMMINENT, 0.97);
        mhg_decision d = decide(p, &v, MHG_AGE_ADULT, 1, "US", "en");
        assert_int_equal(d.action, MHG_ACTION_CRISIS);
        assert_false(d.call_model);
        assert_non_null(d.reply_text);
        assert_null(d.system_message);
        assert_non_null(strstr(d.reply_text, "988"));  /* US resources */
        assert_non_null(strstr(d.reply_text, "911"));
        assert_null(strstr(d.reply_text, "{resources}"));
        assert_int_equal(d.severity, MHG_LEVEL_IMMINENT);
        assert_int_equal(d.queue_review, in->review_queue);
        if (d.queue_review) assert_int_equal(d.sla_minutes, in->sla_minutes[MHG_LEVEL_IMMINENT]);
        assert_int_equal(d.page_oncall, in->oncall_webhook_url != NULL);
        assert_string_equal(d.reason, "floor_imminent");
        mhg_decision_free(&d);

        v = verdict(MHG_CAT_SELF_HARM, MHG_LEVEL_HIGH, 0.8);
        d = decide(p, &v, MHG_AGE_ADULT, 1, "US", "en");
        assert_int_equal(d.action, MHG_ACTION_ESCALATE);
        assert_string_equal(d.reason, "floor_high");
        assert_true(d.call_model);
        assert_true(d.require_resources);
        assert_non_null(d.system_message);
        assert_non_null(strstr(d.system_message, "988"));
        assert_null(d.reply_text);
        assert_int_equal(d.severity, MHG_LEVEL_HIGH);
        assert_int_equal(d.page_oncall,
                         in->oncall_webhook_url != NULL && in->oncall_page_on <= MHG_LEVEL_HIGH);
        mhg_decision_free(&d);

        v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_NONE, 0.0);
        d = decide(p, &v, MHG_AGE_ADULT, 1, "US", "en");
        assert_int_equal(d.action, MHG_ACTION_ALLOW);
        assert_true(d.call_model);
        assert_false(d.require_resources);
        assert_null(d.system_message);
        assert_int_equal(d.severity, MHG_LEVEL_NONE);
        assert_false(d.page_oncall);
        assert_string_equal(d.reason, "none");
        mhg_decision_free(&d);
    }
}

/* Moderate: support at levels with default thresholds, escalate where the
 * level demands high sensitivity (3, 5, 6). Low: allow, or support there. */
static void test_moderate_and_low_by_level(void **state) {
    (void)state;
    for (int L = 1; L <= 6; L++) {
        int sensitive = L == 3 || L == 5 || L == 6;
        mhg_verdict v = verdict(MHG_CAT_EATING_DISORDER, MHG_LEVEL_MODERATE, 0.5);
        mhg_decision d = decide(levels[L], &v, MHG_AGE_ADULT, 1, "GB", "en");
        assert_int_equal(d.action, sensitive ? MHG_ACTION_ESCALATE : MHG_ACTION_SUPPORT);
        assert_non_null(d.system_message);
        if (sensitive) {
            assert_non_null(strstr(d.system_message, "116 123")); /* GB Samaritans */
            assert_string_equal(d.reason, "threshold");
        } else {
            assert_null(strstr(d.system_message, "116 123"));
            assert_string_equal(d.reason, "floor_moderate");
            assert_false(d.require_resources);
        }
        assert_string_equal(d.country, "GB");
        mhg_decision_free(&d);

        v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_LOW, 0.2);
        d = decide(levels[L], &v, MHG_AGE_ADULT, 1, "GB", "en");
        assert_int_equal(d.action, sensitive ? MHG_ACTION_SUPPORT : MHG_ACTION_ALLOW);
        if (L >= 5) {
            /* level 5+: every flagged conversation is reviewed */
            assert_true(d.queue_review);
            assert_int_equal(d.severity, MHG_LEVEL_MODERATE);
        } else if (L == 4 || L <= 2) {
            assert_false(d.queue_review);
        }
        if (!sensitive) assert_null(d.system_message);
        mhg_decision_free(&d);
    }
}

static void test_minors(void **state) {
    (void)state;
    /* level 1: minors get one level more sensitive thresholds */
    mhg_verdict v = verdict(MHG_CAT_SELF_HARM, MHG_LEVEL_LOW, 0.2);
    mhg_decision d = decide(levels[1], &v, MHG_AGE_MINOR, 1, "US", "en");
    assert_int_equal(d.action, MHG_ACTION_SUPPORT);
    assert_true(d.minor_rules);
    assert_string_equal(d.reason, "minor_threshold");
    /* the minor system message is added */
    assert_non_null(strstr(d.system_message, "child or teenager"));
    mhg_decision_free(&d);

    d = decide(levels[1], &v, MHG_AGE_ADULT, 1, "US", "en");
    assert_int_equal(d.action, MHG_ACTION_ALLOW);
    assert_false(d.minor_rules);
    mhg_decision_free(&d);

    v = verdict(MHG_CAT_SELF_HARM, MHG_LEVEL_MODERATE, 0.5);
    d = decide(levels[1], &v, MHG_AGE_MINOR, 1, "US", "en");
    assert_int_equal(d.action, MHG_ACTION_ESCALATE);
    /* youth lines come first for minors */
    const char *trevor = strstr(d.system_message, "Trevor");
    const char *lifeline = strstr(d.system_message, "988 Suicide");
    assert_non_null(trevor);
    assert_non_null(lifeline);
    assert_true(trevor < lifeline);
    mhg_decision_free(&d);

    /* level 3 configures minor crisis at high: no model for a high-risk minor */
    v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_HIGH, 0.8);
    d = decide(levels[3], &v, MHG_AGE_MINOR, 1, "US", "en");
    assert_int_equal(d.action, MHG_ACTION_CRISIS);
    assert_false(d.call_model);
    assert_non_null(d.reply_text);
    mhg_decision_free(&d);
    /* and unknown age counts as minor there (age.unknown_as_minor) */
    d = decide(levels[3], &v, MHG_AGE_UNKNOWN, 1, "US", "en");
    assert_int_equal(d.action, MHG_ACTION_CRISIS);
    mhg_decision_free(&d);
    d = decide(levels[3], &v, MHG_AGE_ADULT, 1, "US", "en");
    assert_int_equal(d.action, MHG_ACTION_ESCALATE);
    mhg_decision_free(&d);
}

static void test_minor_abuse_always_escalated(void **state) {
    (void)state;
    for (int L = 1; L <= 6; L++) {
        mhg_verdict v = verdict(MHG_CAT_ABUSE, MHG_LEVEL_LOW, 0.15);
        mhg_decision d = decide(levels[L], &v, MHG_AGE_MINOR, 1, "US", "en");
        assert_true(d.action >= MHG_ACTION_ESCALATE);
        assert_string_equal(d.reason, "minor_abuse_disclosure");
        assert_true(d.require_resources);
        /* Childhelp (abuse hotline, youth) is in the block for a minor */
        assert_non_null(strstr(d.system_message, "Childhelp"));
        mhg_decision_free(&d);
        /* an adult's low abuse signal is not escalated by this rule */
        d = decide(levels[L], &v, MHG_AGE_ADULT, 1, "US", "en");
        assert_true(d.action < MHG_ACTION_ESCALATE);
        mhg_decision_free(&d);
    }
}

static void test_reminders(void **state) {
    (void)state;
    mhg_verdict v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_NONE, 0.0);
    unsigned every = mhg_policy_get(levels[3])->reminder_every;
    assert_int_equal(every, 5);
    int due = 0;
    for (unsigned t = 0; t < 20; t++) {
        mhg_decision d = decide(levels[3], &v, MHG_AGE_ADULT, t, "US", "en");
        assert_int_equal(d.reminder_due, t % every == 0);
        due += d.reminder_due;
        mhg_decision_free(&d);
    }
    assert_int_equal(due, 4);
    /* level 1 has no reminders */
    mhg_decision d = decide(levels[1], &v, MHG_AGE_ADULT, 0, "US", "en");
    assert_false(d.reminder_due);
    mhg_decision_free(&d);
}

static void test_level5_sampling(void **state) {
    (void)state;
    mhg_verdict v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_NONE, 0.0);
    unsigned sampled = 0;
    for (uint64_t k = 1; k <= 2000; k++) {
        mhg_request_info req = {.age_band = MHG_AGE_ADULT, .turn_index = 1,
                                .conversation_key = k};
        mhg_decision d;
        mhg_decision_init(&d);
        assert_int_equal(mhg_policy_decide(levels[5], &v, &req, &d), MHG_OK);
        assert_int_equal(d.action, MHG_ACTION_ALLOW);
        assert_int_equal(d.sampled, mhg_policy_sampled(levels[5], k));
        if (d.sampled) {
            assert_true(d.queue_review);
            assert_int_equal(d.sla_minutes, mhg_policy_get(levels[5])->sla_minutes[MHG_LEVEL_MODERATE]);
        }
        sampled += (unsigned)d.sampled;
        mhg_decision_free(&d);
    }
    assert_true(sampled > 40 && sampled < 160); /* rate 0.05 */
    /* level 3 never samples */
    mhg_request_info req = {.age_band = MHG_AGE_ADULT, .conversation_key = 7};
    mhg_decision d;
    mhg_decision_init(&d);
    assert_int_equal(mhg_policy_decide(levels[3], &v, &req, &d), MHG_OK);
    assert_false(d.sampled);
    assert_false(d.queue_review);
    mhg_decision_free(&d);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Per-category and score thresholds can only add strictness. */
static void test_category_and_score_thresholds(void **state) {
    (void)state;
    char dir[] = "/tmp/mhg_decide_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[4096];
    snprintf(path, sizeof path, "%s/p.yaml", dir);
    write_file(path,
               "asl_level: 1\nsetting: general\nuse_drift: {window: 100, alarm_share: 0.1}\n"
               "thresholds:\n  support: 0.3\n  categories:\n    eating_disorder: {escalate: low}\n");
    mhg_policy *p = NULL;
    if (mhg_policy_load(path, &p, err, sizeof err) != MHG_OK) fail_msg("%s", err);

    mhg_verdict v = verdict(MHG_CAT_EATING_DISORDER, MHG_LEVEL_LOW, 0.2);
    mhg_decision d = decide(p, &v, MHG_AGE_ADULT, 1, NULL, NULL);
    assert_int_equal(d.action, MHG_ACTION_ESCALATE);
    assert_string_equal(d.reason, "category_threshold");
    /* no country, no default: international fallback */
    assert_string_equal(d.country, "INT");
    assert_non_null(strstr(d.system_message, "findahelpline.com"));
    mhg_decision_free(&d);

    v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_LOW, 0.35);
    d = decide(p, &v, MHG_AGE_ADULT, 1, NULL, NULL);
    assert_int_equal(d.action, MHG_ACTION_SUPPORT);
    assert_string_equal(d.reason, "threshold");
    mhg_decision_free(&d);

    v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_LOW, 0.25);
    d = decide(p, &v, MHG_AGE_ADULT, 1, NULL, NULL);
    assert_int_equal(d.action, MHG_ACTION_ALLOW);
    mhg_decision_free(&d);

    /* the score threshold never lowers the floor */
    v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_IMMINENT, 0.1);
    d = decide(p, &v, MHG_AGE_ADULT, 1, NULL, NULL);
    assert_int_equal(d.action, MHG_ACTION_CRISIS);
    mhg_decision_free(&d);
    mhg_policy_free(p);
    unlink(path);
    rmdir(dir);
}

static void test_language_and_country(void **state) {
    (void)state;
    mhg_verdict v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_IMMINENT, 0.95);
    /* Spanish speaker in Spain */
    mhg_decision d = decide(levels[2], &v, MHG_AGE_ADULT, 0, "ES", "es");
    assert_string_equal(d.lang, "es");
    assert_string_equal(d.country, "ES");
    assert_non_null(strstr(d.reply_text, "024"));
    assert_non_null(strstr(d.reply_text, "Emergencias: 112"));
    assert_non_null(strstr(d.reply_text, "Soy una IA"));
    mhg_decision_free(&d);
    /* the verdict's language is used when the request has none */
    memcpy(v.lang, "fr", 3);
    d = decide(levels[2], &v, MHG_AGE_ADULT, 0, "FR", NULL);
    assert_string_equal(d.lang, "fr");
    assert_non_null(strstr(d.reply_text, "3114"));
    mhg_decision_free(&d);
    /* a language without templates falls back to English, resources stay local */
    memcpy(v.lang, "ja", 3);
    d = decide(levels[2], &v, MHG_AGE_ADULT, 0, "JP", NULL);
    assert_string_equal(d.lang, "en");
    assert_string_equal(d.country, "JP");
    assert_non_null(strstr(d.reply_text, "0120-279-338"));
    mhg_decision_free(&d);
    /* unknown country: the policy's default country (US) */
    memcpy(v.lang, "en", 3);
    d = decide(levels[2], &v, MHG_AGE_ADULT, 0, "ZZ", NULL);
    assert_string_equal(d.country, "US");
    mhg_decision_free(&d);
}

static void test_errors_fail_closed(void **state) {
    (void)state;
    mhg_decision d;
    mhg_decision_init(&d);
    assert_int_equal(mhg_policy_decide(levels[1], NULL, NULL, &d), MHG_ERR_INVALID);
    assert_int_equal(d.action, MHG_ACTION_CRISIS);
    assert_false(d.call_model);
    mhg_decision_free(&d);
    assert_int_equal(mhg_policy_decide(levels[1], NULL, NULL, NULL), MHG_ERR_INVALID);
    const char *s = mhg_policy_static_crisis_text();
    assert_non_null(strstr(s, "findahelpline.com"));
    /* a NULL request is allowed (unknown age, turn 0) */
    mhg_verdict v = verdict(MHG_CAT_SUICIDE, MHG_LEVEL_HIGH, 0.8);
    assert_int_equal(mhg_policy_decide(levels[1], &v, NULL, &d), MHG_OK);
    assert_int_equal(d.action, MHG_ACTION_ESCALATE);
    mhg_decision_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_floor_every_level),
        cmocka_unit_test(test_moderate_and_low_by_level),
        cmocka_unit_test(test_minors),
        cmocka_unit_test(test_minor_abuse_always_escalated),
        cmocka_unit_test(test_reminders),
        cmocka_unit_test(test_level5_sampling),
        cmocka_unit_test(test_category_and_score_thresholds),
        cmocka_unit_test(test_language_and_country),
        cmocka_unit_test(test_errors_fail_closed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
