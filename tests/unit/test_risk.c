/*
 * test_risk.c - the screening engine: context rules, levels, conversation
 * memory, the JSON verdict, errors and thread safety.
 *
 * Most tests use a small lexicon written by the test (so that they pin the
 * engine's rules, not the shipped word lists); a few use the shipped data
 * (language detection, threads, JSON on real lexicons).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/mhg_limits.h"
#include "mhguard.h"

static char g_tmp[256];
static mhg_engine *g_eng;   /* test lexicon, rules only */
static mhg_engine *g_real;  /* shipped data (and model, if shipped) */
static mhg_scratch *g_s;

static const char *test_lexicon =
    "lang: en\nversion: \"t\"\nspaces: true\nentries:\n"
    "  - id: wish\n    match: \"wish i was dead\"\n    category: suicide\n    facet: wish_dead\n    weight: 0.65\n"
    "  - id: ideation\n    match: \"(kill|killing) myself\"\n    category: suicide\n    facet: ideation\n    weight: 0.8\n"
    "  - id: want_die\n    match: \"want~ to die\"\n    category: suicide\n    facet: ideation\n    weight: 0.8\n"
    "  - id: method\n    match: \"jump off (a|the) bridge\"\n    category: suicide\n    facet: method\n    weight: 0.8\n"
    "  - id: intent\n    match: \"(im|i am) going to (kill|end) (myself|it)\"\n    category: suicide\n    facet: intent\n    weight: 0.9\n"
    "  - id: plan\n    match: \"i have a plan\"\n    category: suicide\n    facet: plan\n    weight: 0.85\n"
    "  - id: prep_weak\n    match: \"gave away my (cat|dog)\"\n    category: suicide\n    facet: preparatory\n    weight: 0.3\n"
    "  - id: prep_bye\n    match: \"goodbye everyone\"\n    category: suicide\n    facet: preparatory\n    weight: 0.45\n"
    "  - id: attempt\n    match: \"tried to kill myself\"\n    category: suicide\n    facet: past_attempt\n    weight: 0.65\n"
    "  - id: attempt_recent\n    match: \"tried to kill myself last week\"\n    category: suicide\n    facet: past_attempt\n    weight: 0.85\n"
    "  - id: timing\n    match: \"(tonight|right now)\"\n    category: suicide\n    facet: timing\n    weight: 0.2\n"
    "  - id: means\n    match: \"pills (are )?right here\"\n    category: suicide\n    facet: means_at_hand\n    weight: 0.6\n"
    "  - id: cut\n    match: \"cut~ myself\"\n    category: self_harm\n    weight: 0.7\n"
    "  - id: cut_deep\n    match: \"cut too deep\"\n    category: self_harm\n    weight: 0.85\n"
    "  - id: od\n    match: \"took a whole bottle of pills\"\n    category: overdose\n    weight: 0.95\n"
    "  - id: od_many\n    match: \"took too many pills\"\n    category: overdose\n    weight: 0.8\n"
    "  - id: hits\n    match: \"(he|she|my (dad|stepdad)) hits me\"\n    category: abuse\n    weight: 0.7\n"
    "  - id: breathe\n    match: \"cant breathe\"\n    category: medical_emergency\n    weight: 0.8\n"
    "  - id: harm\n    match: \"going to shoot (him|them)\"\n    category: harm_to_others\n    weight: 0.8\n"
    "  - id: weak1\n    match: \"hopeless\"\n    category: suicide\n    weight: 0.3\n"
    "  - id: weak2\n    match: \"no way out\"\n    category: suicide\n    weight: 0.3\n"
    "  - id: suicide_word\n    match: \"suicide\"\n    category: suicide\n    weight: 0.3\n"
    "cues:\n"
    "  - id: neg\n    match: \"(never|not|dont)\"\n    kind: negation\n"
    "  - id: idiom\n    match: \"killing myself laughing\"\n    kind: idiom\n"
    "  - id: third\n    match: \"(my friend|my stepdad) (says|said|told me)\"\n    kind: third_person\n"
    "  - id: first\n    match: \"(i|im)\"\n    kind: first_person\n"
    "  - id: past\n    match: \"(used to|years ago)\"\n    kind: past\n"
    "  - id: hyp\n    match: \"in my novel\"\n    kind: hypothetical\n"
    "  - id: info\n    match: \"warning signs\"\n    kind: informational\n"
    "  - id: sub\n    match: \"(that|why)\"\n    kind: subordinator\n"
    "  - id: idiom_lol\n    match: \"die lol\"\n    kind: idiom\n"
    "  - id: idiom_game\n    match: \"game ** die\"\n    kind: idiom\n";

/* A second language written with spaces: a stronger, longer phrase around
 * the English "suicide", and a bare word as strong as the phrase's start. */
static const char *yy_lexicon =
    "lang: yy\nversion: \"t\"\nspaces: true\nentries:\n"
    "  - id: intent\n    match: \"suicide kar lunga\"\n    category: suicide\n    facet: intent\n    weight: 0.85\n"
    "  - id: bare\n    match: \"suicide\"\n    category: suicide\n    facet: ideation\n    weight: 0.35\n"
    "cues:\n"
    "  - id: neg\n    match: \"nahi karunga\"\n    kind: negation\n    scope: after\n";

static const char *xx_lexicon =
    "lang: xx\nversion: \"t\"\nspaces: false\nentries:\n"
    "  - id: die\n    match: \"死にたい\"\n    category: suicide\n    facet: ideation\n    weight: 0.8\n"
    "cues:\n"
    "  - id: neg_after\n    match: \"わけじゃない\"\n    kind: negation\n    scope: after\n";

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/mhg_test_risk_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    char p[512];
    snprintf(p, sizeof p, "%s/lexicons", g_tmp);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/lexicons/en.yaml", g_tmp);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fputs(test_lexicon, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/lexicons/xx.yaml", g_tmp);
    f = fopen(p, "w");
    if (!f) return -1;
    fputs(xx_lexicon, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/lexicons/yy.yaml", g_tmp);
    f = fopen(p, "w");
    if (!f) return -1;
    fputs(yy_lexicon, f);
    fclose(f);
    char err[2048], cache[512];
    snprintf(cache, sizeof cache, "%s/cache", g_tmp);
    mhg_engine_options o = {.data_dir = g_tmp, .model_path = "", .cache_dir = cache};
    if (mhg_engine_load(&o, &g_eng, err, sizeof err) != MHG_OK) {
        fprintf(stderr, "engine: %s\n", err);
        return -1;
    }
    if (mhg_scratch_new(g_eng, &g_s) != MHG_OK) return -1;
    /* the shipped lexicons (compiled once into the build directory) */
    const char *bd = getenv("MHG_BUILD_DIR");
    snprintf(cache, sizeof cache, "%s/lexicon-cache", bd && *bd ? bd : g_tmp);
    /* with the shipped model when there is one: threads then cover fusion */
    mhg_engine_options r = {.data_dir = getenv("MHG_DATA_DIR"), .cache_dir = cache};
    if (mhg_engine_load(&r, &g_real, err, sizeof err) != MHG_OK) {
        fprintf(stderr, "engine (shipped data): %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mhg_scratch_free(g_s);
    mhg_engine_free(g_eng);
    mhg_engine_free(g_real);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static mhg_verdict g_v;

static const mhg_verdict *screen(const char *text) {
    mhg_status st = mhg_assess(g_eng, g_s, text, strlen(text), "en", NULL, &g_v);
    if (st != MHG_OK) fail_msg("assess '%s': %s", text, mhg_strerror(st));
    return &g_v;
}

static mhg_level cat(const mhg_verdict *v, mhg_category c) { return v->categories[c].level; }

/* ---- levels ---------------------------------------------------------------- */

static void test_cssrs_levels(void **state) {
    (void)state;
    assert_int_equal(screen("can you recommend a book")->risk, MHG_LEVEL_NONE);
    assert_int_equal(screen("i wish i was dead")->risk, MHG_LEVEL_LOW);
    assert_true(g_v.categories[MHG_CAT_SUICIDE].facets & MHG_FACET_WISH_DEAD);
    assert_int_equal(screen("i want to die")->risk, MHG_LEVEL_MODERATE);
    assert_int_equal(screen("i could jump off the bridge")->risk, MHG_LEVEL_HIGH);
    assert_int_equal(screen("im going to kill myself")->risk, MHG_LEVEL_HIGH);
    assert_int_equal(screen("i have a plan")->risk, MHG_LEVEL_HIGH);
    /* plan/intent/method + timing or means at hand */
    assert_int_equal(screen("im going to kill myself tonight")->risk, MHG_LEVEL_IMMINENT);
    assert_int_equal(screen("i have a plan and the pills are right here")->risk,
                     MHG_LEVEL_IMMINENT);
    /* ideation with a time: high; with a time and the means: imminent */
    assert_int_equal(screen("i want to die tonight")->risk, MHG_LEVEL_HIGH);
    assert_int_equal(screen("i want to die tonight, the pills are right here")->risk,
                     MHG_LEVEL_IMMINENT);
    assert_int_equal(g_v.action, MHG_ACTION_CRISIS);
    /* a time alone is nothing; strong means alone is moderate */
    assert_int_equal(screen("dinner tonight?")->risk, MHG_LEVEL_NONE);
    assert_int_equal(screen("the pills are right here")->risk, MHG_LEVEL_MODERATE);
    /* attempts: lifetime moderate, recent high */
    assert_int_equal(screen("i tried to kill myself")->risk, MHG_LEVEL_MODERATE);
    assert_int_equal(screen("i tried to kill myself last week")->risk, MHG_LEVEL_HIGH);
    assert_true(g_v.categories[MHG_CAT_SUICIDE].facets & MHG_FACET_PAST_ATTEMPT);
}

static void test_other_categories(void **state) {
    (void)state;
    assert_int_equal(cat(screen("i cut myself again"), MHG_CAT_SELF_HARM), MHG_LEVEL_MODERATE);
    assert_int_equal(cat(screen("i cut too deep"), MHG_CAT_SELF_HARM), MHG_LEVEL_HIGH);
    assert_int_equal(cat(screen("i took too many pills"), MHG_CAT_OVERDOSE), MHG_LEVEL_HIGH);
    /* an ingestion in progress */
    assert_int_equal(cat(screen("i took a whole bottle of pills"), MHG_CAT_OVERDOSE),
                     MHG_LEVEL_IMMINENT);
    assert_int_equal(g_v.risk, MHG_LEVEL_IMMINENT);
    assert_int_equal(cat(screen("i took too many pills right now"), MHG_CAT_OVERDOSE),
                     MHG_LEVEL_IMMINENT);
    assert_int_equal(cat(screen("my dad hits me"), MHG_CAT_ABUSE), MHG_LEVEL_MODERATE);
    assert_int_equal(cat(screen("i cant breathe"), MHG_CAT_MEDICAL_EMERGENCY), MHG_LEVEL_HIGH);
    assert_int_equal(cat(screen("im going to shoot him"), MHG_CAT_HARM_TO_OTHERS),
                     MHG_LEVEL_HIGH);
    assert_int_equal(cat(screen("im going to shoot him tonight"), MHG_CAT_HARM_TO_OTHERS),
                     MHG_LEVEL_IMMINENT);
    /* several weak signals together reach moderate; one alone stays low */
    assert_int_equal(cat(screen("hopeless"), MHG_CAT_SUICIDE), MHG_LEVEL_LOW);
    assert_int_equal(cat(screen("hopeless, so hopeless"), MHG_CAT_SUICIDE),
                     MHG_LEVEL_LOW); /* the same entry twice counts once */
    assert_int_equal(cat(screen("so hopeless and there is no way out"), MHG_CAT_SUICIDE),
                     MHG_LEVEL_MODERATE);
    /* overall = highest category; score within [0,1] */
    screen("i want to die and my dad hits me");
    assert_int_equal(g_v.risk, MHG_LEVEL_MODERATE);
    assert_true(g_v.score >= 0.5 && g_v.score <= 1.0);
    assert_int_equal(g_v.action, MHG_ACTION_SUPPORT);
}

/* ---- context rules ---------------------------------------------------------- */

static void test_negation(void **state) {
    (void)state;
    screen("i would never kill myself");
    assert_int_equal(g_v.risk, MHG_LEVEL_NONE);
    assert_true(g_v.flags & MHG_FLAG_NEGATED);
    assert_true(g_v.n_evidence >= 1 && (g_v.evidence[0].flags & MHG_FLAG_NEGATED));
    /* a first person between the negation and the match keeps it */
    screen("dont know why but i want to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
    assert_false(g_v.flags & MHG_FLAG_NEGATED);
    /* too far away (more than 4 words) or in another clause */
    assert_int_equal(cat(screen("not one two three four five want to die"), MHG_CAT_SUICIDE),
                     MHG_LEVEL_MODERATE);
    assert_int_equal(cat(screen("not today, want to die"), MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
    /* scope: after (languages that negate after the verb) */
    assert_int_equal(mhg_assess(g_eng, g_s, "死にたいわけじゃない", strlen("死にたいわけじゃない"),
                                "xx", NULL, &g_v),
                     MHG_OK);
    assert_int_equal(g_v.risk, MHG_LEVEL_NONE);
    assert_true(g_v.flags & MHG_FLAG_NEGATED);
    assert_int_equal(
        mhg_assess(g_eng, g_s, "死にたい", strlen("死にたい"), "xx", NULL, &g_v), MHG_OK);
    assert_int_equal(g_v.risk, MHG_LEVEL_MODERATE);
}

static void test_idiom_third_past_hyp_info(void **state) {
    (void)state;
    screen("i was killing myself laughing");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_NONE);
    assert_true(g_v.flags & MHG_FLAG_IDIOM);

    screen("my friend told me she wants to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_NONE);
    assert_int_equal(cat(&g_v, MHG_CAT_THIRD_PARTY_CONCERN), MHG_LEVEL_MODERATE);
    assert_true(g_v.flags & MHG_FLAG_THIRD_PERSON);
    assert_int_equal(g_v.evidence[0].category, MHG_CAT_THIRD_PARTY_CONCERN);
    /* the user's own risk stays personal */
    screen("my friend said i want to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
    /* abuse names a third person by nature: not moved */
    screen("my stepdad told me he hits me");
    assert_int_equal(cat(&g_v, MHG_CAT_ABUSE), MHG_LEVEL_MODERATE);

    screen("i used to cut myself");
    assert_true(cat(&g_v, MHG_CAT_SELF_HARM) <= MHG_LEVEL_LOW);
    assert_true(g_v.flags & MHG_FLAG_PAST);
    screen("years ago i tried to kill myself");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_LOW);
    assert_true(g_v.categories[MHG_CAT_SUICIDE].facets & MHG_FACET_PAST_ATTEMPT);
    /* a past cue in an earlier clause does not reach */
    screen("i used to be happy, now i want to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);

    screen("in my novel the hero wants to die");
    assert_int_equal(g_v.risk, MHG_LEVEL_NONE);
    assert_true(g_v.flags & MHG_FLAG_HYPOTHETICAL);
    screen("what are the warning signs that someone wants to die?");
    assert_int_equal(g_v.risk, MHG_LEVEL_NONE);
    assert_true(g_v.flags & MHG_FLAG_INFORMATIONAL);
    /* a cue in another sentence does not reach */
    screen("in my novel nobody dies. i want to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
}

/* A cue whose words a clause break separates is no cue: "want to die, lol"
 * is a disclosure followed by a nervous laugh, not the idiom "die lol". A
 * cue with a gap may cross a comma in its gap, never a sentence end (here an
 * ellipsis, which the scanner lets a gap cross). */
static void test_cue_clause_breaks(void **state) {
    (void)state;
    screen("i want to die lol");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_NONE);
    assert_true(g_v.flags & MHG_FLAG_IDIOM);
    screen("i want to die, lol");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
    assert_false(g_v.flags & MHG_FLAG_IDIOM);
    screen("in this game, every time i want to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_NONE);
    assert_true(g_v.flags & MHG_FLAG_IDIOM);
    screen("lost the game\xe2\x80\xa6 i want to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
    /* a line break ends a sentence: the third-person cue does not reach */
    screen("my friend told me she wants to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_NONE);
    screen("my friend told me\nwant to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
    assert_false(g_v.flags & MHG_FLAG_THIRD_PERSON);
    screen("my friend told me \r\n want to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
    /* two spaces are not a line break */
    screen("my friend told me  she wants to die");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_NONE);
}

/* A subordinator between a negation and the match ends the negation's
 * reach; before or after the pair it does not matter. */
static void test_subordinator(void **state) {
    (void)state;
    screen("not sure want to die");
    assert_true(g_v.flags & MHG_FLAG_NEGATED);
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_NONE);
    screen("not sure why want to die");
    assert_false(g_v.flags & MHG_FLAG_NEGATED);
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_MODERATE);
    screen("why not kill myself");
    assert_true(g_v.flags & MHG_FLAG_NEGATED);
    screen("never cut myself, thats why");
    assert_true(g_v.flags & MHG_FLAG_NEGATED);
    assert_int_equal(cat(&g_v, MHG_CAT_SELF_HARM), MHG_LEVEL_NONE);
}

/* A foreign entry overlapping one of the message's language in the same
 * category is dropped when it says no more (same words) or is not stronger;
 * a stronger phrase around the message-language word stays, with its own
 * language's cues. */
static void test_shadowing(void **state) {
    (void)state;
    /* taken for English: yy "suicide kar lunga" (intent) is not shadowed by
     * en "suicide" (0.30) */
    screen("suicide kar lunga");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_HIGH);
    assert_true(g_v.categories[MHG_CAT_SUICIDE].facets & MHG_FACET_INTENT);
    /* same words, stronger foreign weight: English judges "suicide" */
    screen("suicide");
    assert_int_equal(cat(&g_v, MHG_CAT_SUICIDE), MHG_LEVEL_LOW);
    assert_false(g_v.categories[MHG_CAT_SUICIDE].facets & MHG_FACET_IDEATION);
    for (size_t i = 0; i < g_v.n_evidence; i++)
        assert_string_not_equal(g_v.evidence[i].rule_id, "yy.bare");
    /* in its own language the foreign phrase gets its own cues */
    assert_int_equal(mhg_assess(g_eng, g_s, "suicide nahi karunga", strlen("suicide nahi karunga"),
                                "yy", NULL, &g_v),
                     MHG_OK);
    assert_int_equal(g_v.risk, MHG_LEVEL_NONE);
    assert_true(g_v.flags & MHG_FLAG_NEGATED);
}

/* ---- conversation ---------------------------------------------------------- */

static void test_conversation_accumulates(void **state) {
    (void)state;
    mhg_conversation *c = NULL;
    assert_int_equal(mhg_conversation_new(&c), MHG_OK);
    const char *t1 = "gave away my cat", *t2 = "goodbye everyone";
    assert_int_equal(mhg_assess(g_eng, g_s, t1, strlen(t1), "en", c, &g_v), MHG_OK);
    assert_true(g_v.risk <= MHG_LEVEL_LOW);
    /* alone "goodbye everyone" is moderate; after the first message, high */
    assert_int_equal(screen(t2)->risk, MHG_LEVEL_MODERATE);
    assert_int_equal(mhg_assess(g_eng, g_s, t2, strlen(t2), "en", c, &g_v), MHG_OK);
    assert_int_equal(g_v.risk, MHG_LEVEL_HIGH);
    assert_true(g_v.flags & MHG_FLAG_CARRIED);
    int carried = 0;
    for (size_t i = 0; i < g_v.n_evidence; i++)
        if (g_v.evidence[i].turn == -1 && (g_v.evidence[i].flags & MHG_FLAG_CARRIED)) carried = 1;
    assert_true(carried);

    /* the same through mhg_assess_turns */
    mhg_turn turns[2] = {{t1, strlen(t1)}, {t2, strlen(t2)}};
    assert_int_equal(mhg_assess_turns(g_eng, g_s, turns, 2, "en", &g_v), MHG_OK);
    assert_int_equal(g_v.risk, MHG_LEVEL_HIGH);
    mhg_conversation_free(c);
}

static void test_fine_now_does_not_erase(void **state) {
    (void)state;
    mhg_conversation *c = NULL;
    assert_int_equal(mhg_conversation_new(&c), MHG_OK);
    const char *t1 = "im going to kill myself", *calm = "im fine now, never mind";
    assert_int_equal(mhg_assess(g_eng, g_s, t1, strlen(t1), "en", c, &g_v), MHG_OK);
    assert_int_equal(g_v.risk, MHG_LEVEL_HIGH);
    mhg_level seen[20];
    for (int i = 0; i < 20; i++) {
        assert_int_equal(mhg_assess(g_eng, g_s, calm, strlen(calm), "en", c, &g_v), MHG_OK);
        seen[i] = g_v.risk;
    }
    /* six calm turns keep the full level, then it fades, and it ends */
    for (int i = 0; i < 6; i++) assert_int_equal(seen[i], MHG_LEVEL_HIGH);
    assert_true(seen[19] < MHG_LEVEL_HIGH);
    for (int i = 1; i < 20; i++) assert_true(seen[i] <= seen[i - 1]);
    /* carried evidence alone never makes imminent */
    mhg_conversation *c2 = NULL;
    assert_int_equal(mhg_conversation_new(&c2), MHG_OK);
    const char *t3 = "im going to kill myself tonight";
    assert_int_equal(mhg_assess(g_eng, g_s, t3, strlen(t3), "en", c2, &g_v), MHG_OK);
    assert_int_equal(g_v.risk, MHG_LEVEL_IMMINENT);
    assert_int_equal(mhg_assess(g_eng, g_s, "ok", 2, "en", c2, &g_v), MHG_OK);
    assert_int_equal(g_v.risk, MHG_LEVEL_HIGH);
    mhg_conversation_free(c2);
    mhg_conversation_free(c);
}

static void test_conversation_save_restore(void **state) {
    (void)state;
    mhg_conversation *c = NULL, *r = NULL;
    assert_int_equal(mhg_conversation_new(&c), MHG_OK);
    const char *t1 = "gave away my dog", *t2 = "i want to die";
    assert_int_equal(mhg_assess(g_eng, g_s, t1, strlen(t1), "en", c, &g_v), MHG_OK);
    assert_int_equal(mhg_assess(g_eng, g_s, t2, strlen(t2), "en", c, &g_v), MHG_OK);
    char *json = NULL;
    assert_int_equal(mhg_conversation_save(c, &json), MHG_OK);
    /* no message text in it */
    assert_null(strstr(json, "want to die"));
    assert_null(strstr(json, "dog"));
    assert_non_null(strstr(json, "\"rule\":\"en.want_die\""));
    assert_int_equal(mhg_conversation_restore(json, strlen(json), &r), MHG_OK);
    const char *t3 = "goodbye everyone";
    mhg_verdict v2;
    mhg_verdict_init(&v2);
    assert_int_equal(mhg_assess(g_eng, g_s, t3, strlen(t3), "en", c, &g_v), MHG_OK);
    assert_int_equal(mhg_assess(g_eng, g_s, t3, strlen(t3), "en", r, &v2), MHG_OK);
    assert_int_equal(g_v.risk, v2.risk);
    assert_true(g_v.score == v2.score);
    assert_int_equal(g_v.n_evidence, v2.n_evidence);
    mhg_verdict_free(&v2);
    free(json);
    mhg_conversation_free(r);
    mhg_conversation_free(c);
    /* malformed input is refused */
    static const char *bad[] = {
        "", "{", "[]", "{\"version\":2,\"turns\":0,\"calm\":0,\"items\":[]}",
        "{\"version\":1,\"turns\":1,\"calm\":0,\"items\":[{\"turn\":5,\"rule\":\"x\","
        "\"category\":\"suicide\",\"facet\":null,\"weight\":0.5,\"flags\":[],\"start\":0,\"end\":1}]}",
        "{\"version\":1,\"turns\":1,\"calm\":0,\"items\":[{\"turn\":0,\"rule\":\"x\","
        "\"category\":\"nope\",\"facet\":null,\"weight\":0.5,\"flags\":[],\"start\":0,\"end\":1}]}",
        "{\"version\":1,\"turns\":1,\"calm\":0,\"items\":[{\"turn\":0,\"rule\":\"x\","
        "\"category\":\"suicide\",\"facet\":null,\"weight\":1.5,\"flags\":[],\"start\":0,\"end\":1}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = (mhg_conversation *)&r;
        assert_int_not_equal(mhg_conversation_restore(bad[i], strlen(bad[i]), &r), MHG_OK);
        assert_null(r);
    }
    assert_int_equal(mhg_conversation_restore("{\xff}", 3, &r), MHG_ERR_UTF8);
}

/* ---- verdict JSON ------------------------------------------------------------- */

static void test_json_shape(void **state) {
    (void)state;
    const char *t = "Honestly, I want to DIE tonight";
    assert_int_equal(mhg_assess(g_eng, g_s, t, strlen(t), NULL, NULL, &g_v), MHG_OK);
    char *s = NULL;
    assert_int_equal(mhg_verdict_to_json(g_eng, &g_v, t, strlen(t), &s), MHG_OK);
    assert_null(strchr(s, '\n'));
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    assert_non_null(j);
    static const char *keys[] = {"risk", "score", "confidence", "action", "lang",
                                 "categories", "evidence", "flags", "versions"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(j, keys[i]));
    assert_string_equal(json_string_value(json_object_get(j, "risk")), "high");
    assert_string_equal(json_string_value(json_object_get(j, "action")), "escalate");
    json_t *cats = json_object_get(j, "categories");
    assert_int_equal(json_object_size(cats), 1); /* only categories above none */
    json_t *su = json_object_get(cats, "suicide");
    assert_string_equal(json_string_value(json_object_get(su, "level")), "high");
    assert_true(json_is_array(json_object_get(su, "facets")));
    json_t *ev = json_object_get(j, "evidence");
    assert_true(json_array_size(ev) >= 2);
    json_t *e0 = json_array_get(ev, 0);
    /* strongest first; the text is the caller's original bytes */
    assert_string_equal(json_string_value(json_object_get(e0, "text")), "want to DIE");
    assert_int_equal(json_integer_value(json_object_get(e0, "start")), strstr(t, "want") - t);
    assert_string_equal(json_string_value(json_object_get(e0, "rule")), "en.want_die");
    assert_string_equal(json_string_value(json_object_get(e0, "source")), "rule");
    assert_string_equal(json_string_value(json_object_get(e0, "facet")), "ideation");
    assert_string_equal(json_string_value(json_object_get(e0, "category")), "suicide");
    assert_true(json_is_array(json_object_get(e0, "flags")));
    for (size_t i = 1; i < json_array_size(ev); i++)
        assert_true(json_real_value(json_object_get(json_array_get(ev, i - 1), "weight")) >=
                    json_real_value(json_object_get(json_array_get(ev, i), "weight")));
    json_t *ver = json_object_get(j, "versions");
    assert_string_equal(json_string_value(json_object_get(ver, "engine")), mhg_version());
    assert_string_equal(json_string_value(json_object_get(ver, "lexicon")),
                        mhg_engine_lexicon_version(g_eng));
    assert_string_equal(json_string_value(json_object_get(ver, "model")), "none");
    json_decref(j);
    free(s);

    /* risk none: no categories, empty evidence */
    assert_int_equal(mhg_assess(g_eng, g_s, "hello", 5, NULL, NULL, &g_v), MHG_OK);
    assert_int_equal(mhg_verdict_to_json(g_eng, &g_v, "hello", 5, &s), MHG_OK);
    j = json_loads(s, 0, &je);
    assert_int_equal(json_object_size(json_object_get(j, "categories")), 0);
    assert_int_equal(json_array_size(json_object_get(j, "evidence")), 0);
    assert_string_equal(json_string_value(json_object_get(j, "action")), "allow");
    json_decref(j);
    free(s);
}

/* ---- errors ------------------------------------------------------------------ */

static void test_bad_input_fails_closed(void **state) {
    (void)state;
    screen("i want to die");
    assert_int_equal(mhg_assess(g_eng, g_s, "bad \xc3\x28 utf8", 11, NULL, NULL, &g_v),
                     MHG_ERR_UTF8);
    /* the verdict is reset, not left with the previous result */
    assert_int_equal(g_v.risk, MHG_LEVEL_NONE);
    assert_int_equal(g_v.n_evidence, 0);
    size_t big = MHG_MAX_MESSAGE_BYTES + 1;
    char *t = malloc(big);
    assert_non_null(t);
    memset(t, 'a', big);
    assert_int_equal(mhg_assess(g_eng, g_s, t, big, NULL, NULL, &g_v), MHG_ERR_TOO_BIG);
    free(t);
    /* an invalid earlier turn fails the whole call */
    mhg_turn turns[2] = {{"\xff", 1}, {"hi", 2}};
    assert_int_equal(mhg_assess_turns(g_eng, g_s, turns, 2, NULL, &g_v), MHG_ERR_UTF8);
    assert_int_equal(mhg_assess_turns(g_eng, g_s, turns, 0, NULL, &g_v), MHG_ERR_INVALID);
    /* a scratch belongs to its engine */
    assert_int_equal(mhg_assess(g_real, g_s, "hi", 2, NULL, NULL, &g_v), MHG_ERR_INVALID);
    /* an explicit model that does not exist is an error */
    mhg_engine *e = NULL;
    char err[512];
    mhg_engine_options o = {.data_dir = g_tmp, .model_path = "/nonexistent.model"};
    assert_int_not_equal(mhg_engine_load(&o, &e, err, sizeof err), MHG_OK);
    assert_null(e);
    mhg_engine_options o2 = {.data_dir = "/nonexistent/data"};
    assert_int_equal(mhg_engine_load(&o2, &e, err, sizeof err), MHG_ERR_IO);
}

/* ---- language ------------------------------------------------------------------ */

static void test_language(void **state) {
    (void)state;
    mhg_scratch *s = NULL;
    assert_int_equal(mhg_scratch_new(g_real, &s), MHG_OK);
    static const struct {
        const char *text, *lang;
    } cases[] = {
        {"I don't know what to do with my life anymore", "en"},
        {"no sé qué hacer con mi vida, estoy muy cansada", "es"},
        {"je ne sais pas quoi faire, je suis très fatiguée", "fr"},
        {"ich weiß nicht mehr weiter, ich bin so müde", "de"},
        {"我不知道该怎么办", "zh"},
        {"どうしたらいいかわからない", "ja"},
        {"어떻게 해야 할지 모르겠어요", "ko"},
        {"я не знаю, что мне делать", "ru"},
        /* romanized Hindi, Bengali and Arabic */
        {"yaar sach mein bahut pareshan hu, kuch samajh nahi aa raha", "hi"},
        {"main kabhi suicide nahi karunga, bas thoda pareshan hu", "hi"},
        {"ami ar parchi na, kichu valo lage na", "bn"},
        {"ana mesh 3ayez a3ish khalas, ta3bt awi", "ar"},
        {"the main thing is that I can't sleep", "en"},
        {"12345", "und"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(
            mhg_assess(g_real, s, cases[i].text, strlen(cases[i].text), NULL, NULL, &g_v), MHG_OK);
        if (strcmp(g_v.lang, cases[i].lang))
            fail_msg("'%s': detected %s, want %s", cases[i].text, g_v.lang, cases[i].lang);
    }
    /* a hint wins */
    assert_int_equal(mhg_assess(g_real, s, "hola", 4, "pt-BR", NULL, &g_v), MHG_OK);
    assert_string_equal(g_v.lang, "pt-BR");
    mhg_scratch_free(s);
}

/* ---- threads -------------------------------------------------------------------- */

static const char *thread_msgs[] = {
    "i want to kill myself tonight, i have the pills right here",
    "this deadline is killing me lol",
    "my friend told me she wants to kill herself",
    "I used to cut myself but I've been clean for six years",
    "Quiero matarme esta noche",
    "我不想活了",
    "can you help me with my homework?",
    "I cut myself shaving",
};
#define N_MSG (sizeof thread_msgs / sizeof thread_msgs[0])
static char *g_ref[N_MSG];

static void *worker(void *arg) {
    int *bad = arg;
    mhg_scratch *s = NULL;
    if (mhg_scratch_new(g_real, &s) != MHG_OK) {
        *bad = 1;
        return NULL;
    }
    mhg_verdict v;
    mhg_verdict_init(&v);
    for (int round = 0; round < 200; round++) {
        size_t i = (size_t)round % N_MSG;
        char *js = NULL;
        if (mhg_assess(g_real, s, thread_msgs[i], strlen(thread_msgs[i]), NULL, NULL, &v) !=
                MHG_OK ||
            mhg_verdict_to_json(g_real, &v, thread_msgs[i], strlen(thread_msgs[i]), &js) !=
                MHG_OK ||
            strcmp(js, g_ref[i]) != 0)
            *bad = 1;
        free(js);
    }
    mhg_verdict_free(&v);
    mhg_scratch_free(s);
    return NULL;
}

static void test_threads_identical(void **state) {
    (void)state;
    mhg_scratch *s = NULL;
    assert_int_equal(mhg_scratch_new(g_real, &s), MHG_OK);
    for (size_t i = 0; i < N_MSG; i++) {
        assert_int_equal(
            mhg_assess(g_real, s, thread_msgs[i], strlen(thread_msgs[i]), NULL, NULL, &g_v),
            MHG_OK);
        assert_int_equal(
            mhg_verdict_to_json(g_real, &g_v, thread_msgs[i], strlen(thread_msgs[i]), &g_ref[i]),
            MHG_OK);
    }
    mhg_scratch_free(s);
    pthread_t th[4];
    int bad[4] = {0};
    for (int t = 0; t < 4; t++) assert_int_equal(pthread_create(&th[t], NULL, worker, &bad[t]), 0);
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < 4; t++) assert_int_equal(bad[t], 0);
    for (size_t i = 0; i < N_MSG; i++) free(g_ref[i]);
}

int main(void) {
    mhg_verdict_init(&g_v);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cssrs_levels),
        cmocka_unit_test(test_other_categories),
        cmocka_unit_test(test_negation),
        cmocka_unit_test(test_idiom_third_past_hyp_info),
        cmocka_unit_test(test_cue_clause_breaks),
        cmocka_unit_test(test_subordinator),
        cmocka_unit_test(test_shadowing),
        cmocka_unit_test(test_conversation_accumulates),
        cmocka_unit_test(test_fine_now_does_not_erase),
        cmocka_unit_test(test_conversation_save_restore),
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_bad_input_fails_closed),
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_threads_identical),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    mhg_verdict_free(&g_v);
    return rc;
}
