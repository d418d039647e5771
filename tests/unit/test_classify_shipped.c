/*
 * test_classify_shipped.c - the model shipped in data/models/ loads, matches
 * its manifest, has the heads and thresholds fusion expects, and ranks plain
 * risk statements above everyday messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhguard/classify.h"
#include "mhguard/normalize.h"

static char g_path[1024], g_manifest[1040];

static int setup(void **state) {
    (void)state;
    const char *dd = getenv("MHG_DATA_DIR");
    snprintf(g_path, sizeof g_path, "%s/models/mhguard.model", dd ? dd : "data");
    snprintf(g_manifest, sizeof g_manifest, "%s.json", g_path);
    return 0;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) == (size_t)n) b[n] = '\0';
    fclose(f);
    return b;
}

static double prob(const mhg_model *m, mhg_model_scratch *s, const char *text, mhg_category c) {
    mhg_normalized n;
    mhg_normalized_init(&n);
    assert_int_equal(mhg_normalize(text, strlen(text), MHG_NORM_TEXT, &n), MHG_OK);
    mhg_model_output o;
    assert_int_equal(mhg_model_classify(m, s, n.text, n.len, &o), MHG_OK);
    mhg_normalized_free(&n);
    int h = mhg_model_head_index(m, c);
    assert_true(h >= 0);
    return o.prob[h];
}

static void test_shipped_model(void **state) {
    (void)state;
    mhg_model *m = NULL;
    char err[512] = "";
    mhg_status st = mhg_model_load(g_path, &m, err, sizeof err);
    if (st != MHG_OK) fprintf(stderr, "%s\n", err);
    assert_int_equal(st, MHG_OK);

    /* the manifest describes this very file */
    char *man = slurp(g_manifest);
    assert_non_null(man);
    char want[96];
    snprintf(want, sizeof want, "\"model_version\": \"%s\"", mhg_model_version(m));
    assert_non_null(strstr(man, want));
    free(man);

    /* heads fusion relies on; thresholds in range (2.0 = off) */
    assert_true(mhg_model_head_index(m, MHG_CAT_SUICIDE) >= 0);
    assert_true(mhg_model_head_index(m, MHG_CAT_SELF_HARM) >= 0);
    for (size_t i = 0; i < mhg_model_n_heads(m); i++) {
        const mhg_model_head *h = mhg_model_head_get(m, i);
        assert_true(h->platt_a < 0);
        assert_true(h->t_low <= h->t_moderate);
        assert_true((h->t_moderate > 0 && h->t_moderate < 1) || h->t_moderate == 2.0);
    }
    /* a few MB at most */
    assert_true(mhg_model_file_size(m) < 4u * 1024u * 1024u);

    mhg_model_scratch *s = NULL;
    assert_int_equal(mhg_model_scratch_new(&s), MHG_OK);
    const char *risky[] = {"i want to kill myself", "i'm going to end my life tonight",
                           "quiero morirme ya no aguanto mas"};
    const char *everyday[] = {"can you help me plan a birthday party", "what time is it in tokyo",
                              "me encanta el cafe por la manana"};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            assert_true(prob(m, s, risky[i], MHG_CAT_SUICIDE) >
                        prob(m, s, everyday[j], MHG_CAT_SUICIDE));
    assert_true(prob(m, s, "i cut myself again last night", MHG_CAT_SELF_HARM) >
                prob(m, s, "can you help me plan a birthday party", MHG_CAT_SELF_HARM));
    mhg_model_scratch_free(s);
    mhg_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shipped_model)};
    return cmocka_run_group_tests(tests, setup, NULL);
}
