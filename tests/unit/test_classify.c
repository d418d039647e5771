/*
 * test_classify.c - hashed features, model training, save/load, determinism,
 * calibration and explanations of the classify module.
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
#include <unistd.h>

#include "mhguard/classify.h"

static mhg_feature_config cfg_small(void) {
    mhg_feature_config c;
    mhg_feature_config_default(&c);
    c.hash_bits = 12;
    return c;
}

static size_t count_kind(const mhg_feature_buf *b, uint32_t kind) {
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) n += b->items[i].kind == kind;
    return n;
}

static void test_hash_stable_and_seeded(void **state) {
    (void)state;
    /* Golden value: a changed hash silently breaks every shipped model, so
     * the function is pinned (computed once from this implementation). */
    uint64_t h = mhg_feature_hash(0, "abc", 3);
    assert_true(h == 0x0dd490490804b508ull);
    assert_true(h != mhg_feature_hash(1, "abc", 3));
    assert_true(h != mhg_feature_hash(0, "abd", 3));
    assert_true(mhg_feature_hash(0, "", 0) != mhg_feature_hash(0, "a", 1));
    /* spread: 4096 distinct keys over 256 buckets, no bucket hugely overfull */
    unsigned counts[256] = {0};
    char key[32];
    for (int i = 0; i < 4096; i++) {
        int n = snprintf(key, sizeof key, "w%d", i);
        counts[mhg_feature_hash(7, key, (size_t)n) >> 56]++;
    }
    for (int b = 0; b < 256; b++) assert_true(counts[b] < 48); /* mean 16 */
}

static void test_features_words_and_chars(void **state) {
    (void)state;
    mhg_feature_config c = cfg_small();
    mhg_feature_buf b;
    mhg_feature_buf_init(&b);
    const char *t = "i want to die";
    assert_int_equal(mhg_features_extract(&c, t, strlen(t), &b), MHG_OK);
    assert_int_equal(count_kind(&b, MHG_FEAT_WORD), 4);
    assert_int_equal(count_kind(&b, MHG_FEAT_BIGRAM), 3);
    /* padded length 15 code points: 3-grams 13, 4-grams 12, 5-grams 11 */
    assert_int_equal(count_kind(&b, MHG_FEAT_CHAR), 13 + 12 + 11);
    assert_int_equal(b.n_word, 7);
    assert_int_equal(b.n_char, 36);
    for (size_t i = 0; i < b.n; i++) {
        assert_true(b.items[i].start < b.items[i].end);
        assert_true(b.items[i].end <= strlen(t));
        assert_true(b.items[i].bucket < (1u << c.hash_bits));
        assert_true(b.items[i].sign == 1 || b.items[i].sign == -1);
    }
    /* the word "die" spans [10,13) */
    int found = 0;
    for (size_t i = 0; i < b.n; i++)
        if (b.items[i].kind == MHG_FEAT_WORD && b.items[i].start == 10 && b.items[i].end == 13)
            found = 1;
    assert_true(found);
    /* the same word hashes the same wherever it occurs, punctuation splits */
    mhg_feature_buf b2;
    mhg_feature_buf_init(&b2);
    assert_int_equal(mhg_features_extract(&c, "die, i want", 11, &b2), MHG_OK);
    assert_int_equal(count_kind(&b2, MHG_FEAT_WORD), 3);
    uint32_t die1 = 0, die2 = 1;
    for (size_t i = 0; i < b.n; i++)
        if (b.items[i].kind == MHG_FEAT_WORD && b.items[i].start == 10) die1 = b.items[i].bucket;
    for (size_t i = 0; i < b2.n; i++)
        if (b2.items[i].kind == MHG_FEAT_WORD && b2.items[i].start == 0) die2 = b2.items[i].bucket;
    assert_int_equal(die1, die2);
    mhg_feature_buf_free(&b2);
    mhg_feature_buf_free(&b);
}

static void test_features_unspaced_script_and_errors(void **state) {
    (void)state;
    mhg_feature_config c = cfg_small();
    mhg_feature_buf b;
    mhg_feature_buf_init(&b);
    const char *zh = "我不想活了"; /* 5 code points, 15 bytes */
    assert_int_equal(mhg_features_extract(&c, zh, strlen(zh), &b), MHG_OK);
    assert_int_equal(count_kind(&b, MHG_FEAT_WORD), 1); /* one clause */
    /* padded: 7 code points -> 5 + 4 + 3 char n-grams */
    assert_int_equal(count_kind(&b, MHG_FEAT_CHAR), 12);
    for (size_t i = 0; i < b.n; i++) { /* spans on code point boundaries */
        assert_true(b.items[i].start % 3 == 0);
        assert_true(b.items[i].end % 3 == 0);
    }
    assert_int_equal(mhg_features_extract(&c, "ab\xff", 3, &b), MHG_ERR_UTF8);
    assert_int_equal(mhg_features_extract(&c, "", 0, &b), MHG_OK);
    assert_int_equal(b.n, 0);
    mhg_feature_config bad = c;
    bad.hash_bits = 40;
    assert_int_equal(mhg_features_extract(&bad, "x", 1, &b), MHG_ERR_INVALID);
    bad = c;
    bad.char_min = 6;
    bad.char_max = 3;
    assert_int_equal(mhg_features_extract(&bad, "x", 1, &b), MHG_ERR_INVALID);
    mhg_feature_buf_free(&b);
}

/* A small synthetic task: positives mention dying / ending it, negatives
 * are everyday sentences. Enough for the model to separate. */
static const char *POS[] = {"i want to die", "i want to end it all tonight", "i wish i could die",
                            "nothing matters i want to die", "i am going to end my life",
                            "i want to die so badly", "end it all now", "i wish i were dead",
                            "i want to end my life", "please let me die"};
static const char *NEG[] = {"i want pizza tonight", "the meeting is at noon", "i love my dog",
                            "what time is it", "this song is great", "i want to go home",
                            "let me know when you arrive", "the weather is nice",
                            "i wish i had more time", "can you help with my homework"};
#define NPN 10

static mhg_trainer *make_trainer(void) {
    mhg_feature_config c = cfg_small();
    mhg_category heads[2] = {MHG_CAT_SUICIDE, MHG_CAT_SELF_HARM};
    mhg_trainer *tr = NULL;
    assert_int_equal(mhg_trainer_new(&c, heads, 2, &tr), MHG_OK);
    for (int i = 0; i < NPN; i++) {
        /* self_harm: unknown for half the rows, to test per-head subsets */
        int8_t lp[2] = {MHG_LABEL_POS, (int8_t)(i % 2 ? MHG_LABEL_UNKNOWN : MHG_LABEL_POS)};
        int8_t ln[2] = {MHG_LABEL_NEG, MHG_LABEL_NEG};
        int dev = i >= 7; /* 3 of each for calibration */
        assert_int_equal(mhg_trainer_add(tr, POS[i], strlen(POS[i]), lp, dev), MHG_OK);
        assert_int_equal(mhg_trainer_add(tr, NEG[i], strlen(NEG[i]), ln, dev), MHG_OK);
    }
    return tr;
}

static mhg_model *train_model(int bits) {
    mhg_trainer *tr = make_trainer();
    mhg_train_options o;
    mhg_train_options_default(&o);
    o.weight_bits = bits;
    o.C = 10;
    mhg_model *m = NULL;
    char err[256] = "";
    assert_int_equal(mhg_trainer_fit(tr, &o, &m, err, sizeof err), MHG_OK);
    size_t tp, tn, dp, dn;
    mhg_trainer_counts(tr, 0, &tp, &tn, &dp, &dn);
    assert_int_equal(tp, 7);
    assert_int_equal(tn, 7);
    assert_int_equal(dp, 3);
    assert_int_equal(dn, 3);
    mhg_trainer_counts(tr, 1, &tp, &tn, &dp, &dn);
    assert_int_equal(tp, 4); /* i = 0,2,4,6 */
    mhg_trainer_free(tr);
    return m;
}

static double score(const mhg_model *m, mhg_model_scratch *s, const char *t, size_t head) {
    mhg_model_output o;
    assert_int_equal(mhg_model_classify(m, s, t, strlen(t), &o), MHG_OK);
    assert_int_equal(o.n_heads, 2);
    return o.margin[head];
}

static void test_train_separates(void **state) {
    (void)state;
    mhg_model *m = train_model(16);
    mhg_model_scratch *s = NULL;
    assert_int_equal(mhg_model_scratch_new(&s), MHG_OK);
    assert_true(score(m, s, "i really want to die", 0) > score(m, s, "i really want pizza", 0));
    assert_true(score(m, s, "end it all", 0) > score(m, s, "the song is nice", 0));
    assert_int_equal(mhg_model_head_index(m, MHG_CAT_SELF_HARM), 1);
    assert_int_equal(mhg_model_head_index(m, MHG_CAT_ABUSE), -1);
    /* calibrated probability is monotone in the margin (a < 0) */
    const mhg_model_head *h = mhg_model_head_get(m, 0);
    assert_non_null(h);
    assert_true(h->platt_a < 0);
    mhg_model_output o1, o2;
    assert_int_equal(mhg_model_classify(m, s, "i want to die", 13, &o1), MHG_OK);
    assert_int_equal(mhg_model_classify(m, s, "i love my dog", 13, &o2), MHG_OK);
    assert_true(o1.prob[0] > o2.prob[0]);
    assert_true(o1.prob[0] > 0 && o1.prob[0] < 1);
    mhg_model_scratch_free(s);
    mhg_model_free(m);
}

static void test_explain_points_at_the_word(void **state) {
    (void)state;
    mhg_model *m = train_model(16);
    mhg_model_scratch *s = NULL;
    assert_int_equal(mhg_model_scratch_new(&s), MHG_OK);
    mhg_model_contrib c[3];
    size_t n = 99;
    /* before any classify: invalid */
    assert_int_equal(mhg_model_explain(m, s, 0, c, 3, &n), MHG_ERR_INVALID);
    const char *t = "honestly i just want to die";
    mhg_model_output o;
    assert_int_equal(mhg_model_classify(m, s, t, strlen(t), &o), MHG_OK);
    assert_int_equal(mhg_model_explain(m, s, 0, c, 3, &n), MHG_OK);
    assert_true(n >= 1 && n <= 3);
    for (size_t i = 1; i < n; i++) assert_true(c[i - 1].weight >= c[i].weight);
    int has_die = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(c[i].weight > 0);
        assert_true(c[i].end <= strlen(t));
        if (c[i].end - c[i].start == 3 && !memcmp(t + c[i].start, "die", 3)) has_die = 1;
    }
    assert_true(has_die);
    assert_int_equal(mhg_model_explain(m, s, 5, c, 3, &n), MHG_ERR_INVALID);
    mhg_model_scratch_free(s);
    mhg_model_free(m);
}

static char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    const char *dir = getenv("MHG_BUILD_DIR");
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/test_classify_%ld_%s", dir ? dir : "/tmp", (long)getpid(), name);
    return p;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void test_save_load_round_trip_and_determinism(void **state) {
    (void)state;
    int bits[3] = {16, 8, 32};
    for (int bi = 0; bi < 3; bi++) {
        mhg_model *m1 = train_model(bits[bi]);
        mhg_model *m2 = train_model(bits[bi]);
        const char *p1 = tmp_path("a.model"), *p2 = tmp_path("b.model");
        assert_int_equal(mhg_model_save(m1, p1), MHG_OK);
        assert_int_equal(mhg_model_save(m2, p2), MHG_OK);
        size_t l1, l2;
        unsigned char *b1 = slurp(p1, &l1), *b2 = slurp(p2, &l2);
        assert_int_equal(l1, l2);
        assert_int_equal(l1, mhg_model_file_size(m1));
        assert_memory_equal(b1, b2, l1); /* same data -> same bytes */
        assert_string_equal(mhg_model_version(m1), mhg_model_version(m2));

        mhg_model *ld = NULL;
        char err[256];
        assert_int_equal(mhg_model_load(p1, &ld, err, sizeof err), MHG_OK);
        assert_string_equal(mhg_model_version(ld), mhg_model_version(m1));
        assert_int_equal(mhg_model_n_heads(ld), 2);
        mhg_model_scratch *s = NULL;
        assert_int_equal(mhg_model_scratch_new(&s), MHG_OK);
        const char *texts[3] = {"i want to die", "pizza tonight?", "end it"};
        for (int i = 0; i < 3; i++) {
            mhg_model_output a, b;
            assert_int_equal(mhg_model_classify(m1, s, texts[i], strlen(texts[i]), &a), MHG_OK);
            assert_int_equal(mhg_model_classify(ld, s, texts[i], strlen(texts[i]), &b), MHG_OK);
            for (int h = 0; h < 2; h++) {
                assert_true(a.margin[h] == b.margin[h]);
                assert_true(a.prob[h] == b.prob[h]);
            }
        }
        /* thresholds change the version and survive the round trip */
        char v0[64];
        snprintf(v0, sizeof v0, "%s", mhg_model_version(m1));
        assert_int_equal(mhg_model_set_thresholds(m1, 0, 0.2, 0.6), MHG_OK);
        assert_string_not_equal(v0, mhg_model_version(m1));
        assert_int_equal(mhg_model_set_thresholds(m1, 9, 0.2, 0.6), MHG_ERR_INVALID);
        assert_int_equal(mhg_model_save(m1, p2), MHG_OK);
        mhg_model *ld2 = NULL;
        assert_int_equal(mhg_model_load(p2, &ld2, err, sizeof err), MHG_OK);
        assert_true(mhg_model_head_get(ld2, 0)->t_moderate == 0.6);
        assert_true(mhg_model_head_get(ld2, 0)->t_low == 0.2);
        assert_string_equal(mhg_model_version(ld2), mhg_model_version(m1));

        /* corruption: a flipped weight byte, a truncated file, a bad magic */
        FILE *f = fopen(p1, "wb");
        b1[l1 / 2] ^= 0x40;
        assert_int_equal(fwrite(b1, 1, l1, f), l1);
        fclose(f);
        mhg_model *bad = (mhg_model *)1;
        assert_int_equal(mhg_model_load(p1, &bad, err, sizeof err), MHG_ERR_PARSE);
        assert_null(bad);
        assert_non_null(strstr(err, "checksum"));
        f = fopen(p1, "wb");
        assert_int_equal(fwrite(b2, 1, l2 - 100, f), l2 - 100);
        fclose(f);
        assert_int_equal(mhg_model_load(p1, &bad, err, sizeof err), MHG_ERR_PARSE);
        f = fopen(p1, "wb");
        assert_int_equal(fwrite("NOTMODEL0000000000000000000000000000000000000000000000000000000000000000000", 1, 72, f), 72);
        fclose(f);
        assert_int_equal(mhg_model_load(p1, &bad, err, sizeof err), MHG_ERR_PARSE);
        assert_int_equal(mhg_model_load("/nonexistent/x.model", &bad, err, sizeof err),
                         MHG_ERR_IO);
        remove(p1);
        remove(p2);
        free(b1);
        free(b2);
        mhg_model_scratch_free(s);
        mhg_model_free(ld);
        mhg_model_free(ld2);
        mhg_model_free(m1);
        mhg_model_free(m2);
    }
}

static void test_trainer_rejects(void **state) {
    (void)state;
    mhg_feature_config c = cfg_small();
    mhg_category dup[2] = {MHG_CAT_SUICIDE, MHG_CAT_SUICIDE};
    mhg_trainer *tr = NULL;
    assert_int_equal(mhg_trainer_new(&c, dup, 2, &tr), MHG_ERR_INVALID);
    assert_null(tr);
    mhg_category one[1] = {MHG_CAT_SUICIDE};
    assert_int_equal(mhg_trainer_new(&c, one, 1, &tr), MHG_OK);
    int8_t pos[1] = {MHG_LABEL_POS}, bad[1] = {5};
    assert_int_equal(mhg_trainer_add(tr, "x", 1, bad, 0), MHG_ERR_INVALID);
    assert_int_equal(mhg_trainer_add(tr, "i want to die", 13, pos, 0), MHG_OK);
    mhg_model *m = (mhg_model *)1;
    char err[256] = "";
    /* no negatives: a clear error, no model */
    assert_int_equal(mhg_trainer_fit(tr, NULL, &m, err, sizeof err), MHG_ERR_INVALID);
    assert_null(m);
    assert_non_null(strstr(err, "suicide"));
    mhg_trainer_free(tr);
}

static void test_platt_recovers_sigmoid(void **state) {
    (void)state;
    /* labels drawn deterministically from p = 1/(1+exp(-2s+1)): for each
     * score, a fraction p of 200 copies is positive. */
    size_t n = 0;
    double *s = malloc(21 * 200 * sizeof *s);
    int8_t *y = malloc(21 * 200);
    for (int i = 0; i <= 20; i++) {
        double sc = -3.0 + 0.3 * i;
        double p = 1.0 / (1.0 + exp(-2.0 * sc + 1.0));
        int npos = (int)lround(p * 200);
        for (int k = 0; k < 200; k++) {
            s[n] = sc;
            y[n] = k < npos ? MHG_LABEL_POS : MHG_LABEL_NEG;
            n++;
        }
    }
    double a, b;
    mhg_platt_fit(s, y, n, &a, &b);
    assert_true(fabs(a - (-2.0)) < 0.1);
    assert_true(fabs(b - 1.0) < 0.1);
    mhg_platt_fit(s, y, 0, &a, &b);
    assert_true(a == -1.0 && b == 0.0);
    free(s);
    free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_stable_and_seeded),
        cmocka_unit_test(test_features_words_and_chars),
        cmocka_unit_test(test_features_unspaced_script_and_errors),
        cmocka_unit_test(test_train_separates),
        cmocka_unit_test(test_explain_points_at_the_word),
        cmocka_unit_test(test_save_load_round_trip_and_determinism),
        cmocka_unit_test(test_trainer_rejects),
        cmocka_unit_test(test_platt_recovers_sigmoid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
