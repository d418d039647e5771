/*
 * test_normalize.c - mhg_normalize(): API contract, errors, limits, buffer
 * reuse and invariants that must hold for any input (offset map inside the
 * original, on character boundaries, monotone; output valid UTF-8).
 * Transformations per script are in test_normalize_transforms.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/mhg_limits.h"
#include "mhguard/normalize.h"
#include "common/mhg_utf8.h"

static mhg_status norm(const char *s, size_t len, mhg_norm_mode mode, mhg_normalized *n) {
    return mhg_normalize(s, len, mode, n);
}

static void test_empty_and_args(void **state) {
    (void)state;
    mhg_normalized n;
    mhg_normalized_init(&n);
    assert_int_equal(norm("", 0, MHG_NORM_TEXT, &n), MHG_OK);
    assert_int_equal(n.len, 0);
    assert_string_equal(n.text, "");
    assert_int_equal(norm(NULL, 0, MHG_NORM_TEXT, &n), MHG_OK);
    assert_int_equal(n.len, 0);
    assert_int_equal(norm(NULL, 3, MHG_NORM_TEXT, &n), MHG_ERR_INVALID);
    assert_int_equal(norm("abc", 3, (mhg_norm_mode)7, &n), MHG_ERR_INVALID);
    assert_int_equal(norm("abc", 3, MHG_NORM_TEXT, NULL), MHG_ERR_INVALID);
    /* Only whitespace, zero-width and control characters: nothing left. */
    const char *blank = " \t\n\xc2\xa0\xe2\x80\x8b\xef\xbb\xbf\x01 \r\n";
    assert_int_equal(norm(blank, strlen(blank), MHG_NORM_TEXT, &n), MHG_OK);
    assert_int_equal(n.len, 0);
    assert_string_equal(n.text, "");
    mhg_normalized_free(&n);
    mhg_normalized_free(&n); /* freeing twice is harmless: free resets */
    mhg_normalized_free(NULL);
}

static void test_not_nul_terminated(void **state) {
    (void)state;
    mhg_normalized n;
    mhg_normalized_init(&n);
    const char buf[] = {'K', 'I', 'L', 'L', 'X', 'Y'};
    assert_int_equal(norm(buf, 4, MHG_NORM_TEXT, &n), MHG_OK);
    assert_string_equal(n.text, "kil");
    /* Embedded NUL bytes are valid UTF-8; they are dropped like controls. */
    const char nul[] = {'a', 'b', '\0', 'c'};
    assert_int_equal(norm(nul, 4, MHG_NORM_TEXT, &n), MHG_OK);
    assert_string_equal(n.text, "abc");
    assert_int_equal(n.len, 3);
    mhg_normalized_free(&n);
}

typedef struct bad_utf8 {
    const char *why;
    const char *bytes;
    size_t len;
} bad_utf8;

static void test_invalid_utf8(void **state) {
    (void)state;
    static const bad_utf8 cases[] = {
        {"overlong 2-byte slash", "ok \xc0\xaf", 5},
        {"overlong 2-byte C1", "\xc1\xbf", 2},
        {"overlong 3-byte", "\xe0\x80\xaf", 3},
        {"overlong 4-byte", "\xf0\x80\x80\xaf", 4},
        {"surrogate high", "a\xed\xa0\x80z", 5},
        {"surrogate low", "\xed\xbf\xbf", 3},
        {"above U+10FFFF", "\xf4\x90\x80\x80", 4},
        {"F5 lead byte", "\xf5\x80\x80\x80", 4},
        {"FF byte", "ab\xff", 3},
        {"lone continuation", "x\x80y", 3},
        {"truncated 2-byte at end", "kill \xc3", 6},
        {"truncated 3-byte at end", "\xe2\x82", 2},
        {"truncated 4-byte at end", "\xf0\x9f\x98", 3},
        {"truncated 3-byte mid", "\xe2\x82 x", 4},
        {"bad continuation", "\xc3\x28", 2},
    };
    mhg_normalized n;
    mhg_normalized_init(&n);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Fill the buffer first: an error must leave it empty. */
        assert_int_equal(norm("previous text", 13, MHG_NORM_TEXT, &n), MHG_OK);
        mhg_status st = norm(cases[i].bytes, cases[i].len, MHG_NORM_TEXT, &n);
        if (st != MHG_ERR_UTF8) fail_msg("%s: got status %d", cases[i].why, (int)st);
        assert_int_equal(n.len, 0);
        assert_string_equal(n.text, "");
        assert_int_equal(norm(cases[i].bytes, cases[i].len, MHG_NORM_PATTERN, &n), MHG_ERR_UTF8);
        assert_false(mhg_utf8_valid(cases[i].bytes, cases[i].len));
    }
    /* The boundaries themselves are valid. */
    const char *edges = "\xc2\x80 \xdf\xbf \xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf "
                        "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf";
    assert_int_equal(norm(edges, strlen(edges), MHG_NORM_TEXT, &n), MHG_OK);
    mhg_normalized_free(&n);
}

static void test_limits(void **state) {
    (void)state;
    size_t max = MHG_MAX_MESSAGE_BYTES;
    char *big = malloc(max + 1);
    assert_non_null(big);
    for (size_t i = 0; i < max + 1; i++) big[i] = (i % 7 == 6) ? ' ' : (char)('a' + i % 5);
    mhg_normalized n;
    mhg_normalized_init(&n);
    assert_int_equal(norm(big, max + 1, MHG_NORM_TEXT, &n), MHG_ERR_TOO_BIG);
    assert_int_equal(n.len, 0);
    assert_int_equal(norm(big, max, MHG_NORM_TEXT, &n), MHG_OK);
    assert_true(n.len > 0 && n.len <= max);
    assert_int_equal(n.src_end[n.len - 1] <= max, 1);
    /* A maximal message of the widest NFKC expansion (U+FDFA, 3 bytes -> 18
     * code points) still works: the output is bounded by the input. */
    size_t reps = max / 3;
    for (size_t i = 0; i < reps; i++) memcpy(big + 3 * i, "\xef\xb7\xba", 3);
    assert_int_equal(norm(big, reps * 3, MHG_NORM_TEXT, &n), MHG_OK);
    assert_true(n.len > reps * 3);
    assert_int_equal(n.src_end[n.len - 1], reps * 3);
    mhg_normalized_free(&n);
    free(big);
}

static void test_buffer_reuse(void **state) {
    (void)state;
    mhg_normalized n;
    mhg_normalized_init(&n);
    char longmsg[4000];
    for (size_t i = 0; i < sizeof longmsg; i++) longmsg[i] = (i % 9 == 8) ? ' ' : 'x';
    assert_int_equal(norm(longmsg, sizeof longmsg, MHG_NORM_TEXT, &n), MHG_OK);
    char *text = n.text;
    uint32_t *ss = n.src_start, *se = n.src_end;
    size_t cap = n.cap;
    struct mhg_norm_work *work = n.work;
    const char *msgs[] = {"I want to d1e", "Я хочу умереть", "k i l l me", "ｋｉｌｌ",
                          "死にたい", "मैं मरना चाहता हूँ", ""};
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
            assert_int_equal(norm(msgs[i], strlen(msgs[i]), round % 2, &n), MHG_OK);
            /* No reallocation once the buffer has grown. */
            assert_ptr_equal(n.text, text);
            assert_ptr_equal(n.src_start, ss);
            assert_ptr_equal(n.src_end, se);
            assert_ptr_equal(n.work, work);
            assert_int_equal(n.cap, cap);
        }
    }
    /* Results do not depend on what the buffer held before. */
    mhg_normalized fresh;
    mhg_normalized_init(&fresh);
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
        assert_int_equal(norm(msgs[i], strlen(msgs[i]), MHG_NORM_TEXT, &n), MHG_OK);
        assert_int_equal(norm(msgs[i], strlen(msgs[i]), MHG_NORM_TEXT, &fresh), MHG_OK);
        assert_string_equal(n.text, fresh.text);
        assert_memory_equal(n.src_start, fresh.src_start, n.len * sizeof(uint32_t));
        assert_memory_equal(n.src_end, fresh.src_end, n.len * sizeof(uint32_t));
        mhg_normalized_free(&fresh);
        mhg_normalized_init(&fresh);
    }
    mhg_normalized_free(&fresh);
    mhg_normalized_free(&n);
}

static void test_span_api(void **state) {
    (void)state;
    mhg_normalized n;
    mhg_normalized_init(&n);
    const char *s = "  Hello   WORLD ";
    assert_int_equal(norm(s, strlen(s), MHG_NORM_TEXT, &n), MHG_OK);
    assert_string_equal(n.text, "helo world");
    size_t a, b;
    mhg_normalized_span(&n, 5, 10, &a, &b);
    assert_int_equal(a, 10);
    assert_int_equal(b, 15);
    /* The single space stands for the whole whitespace run. */
    mhg_normalized_span(&n, 4, 5, &a, &b);
    assert_int_equal(a, 7);
    assert_int_equal(b, 10);
    /* Out-of-contract calls answer an empty span, never read outside. */
    mhg_normalized_span(&n, 3, 3, &a, &b);
    assert_int_equal(a, b);
    mhg_normalized_span(&n, 20, 30, &a, &b);
    assert_int_equal(a, b);
    mhg_normalized_free(&n);
    mhg_normalized_init(&n);
    mhg_normalized_span(&n, 0, 1, &a, &b);
    assert_int_equal(a, 0);
    assert_int_equal(b, 0);
}

/* ---- invariants on generated input -------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Code points that exercise every pass. */
static const uint32_t pool[] = {
    'a', 'k', 'i', 'l', 'L', 'E', ' ', ' ', ' ', '.', '-', '_', '*', '1', '3', '0', '@', '$',
    '!', '|', '\'', '\n', '\t', 0, 0x7F, 0xA0, 0xAD, 0xDF, 0xE9, 0x0301, 0x0308, 0x0327,
    0x0130, 0x0142, 0x0153, 0x03A3, 0x03C2, 0x03BF, 0x03AC, 0x0430, 0x0435, 0x0456, 0x0439,
    0x0431, 0x0419, 0x0627, 0x0654, 0x064E, 0x0640, 0x0915, 0x093C, 0x093E, 0x0958, 0x09C7,
    0x09BE, 0x0E01, 0x0E34, 0x0E48, 0x304B, 0x3099, 0x309A, 0x30AB, 0xFF76, 0xFF9E, 0x1100,
    0x1161, 0x11A8, 0x314B, 0xAC00, 0x200B, 0x200D, 0x2019, 0x201C, 0x2013, 0xFB01, 0xFDFA,
    0xFE0F, 0xFF2B, 0xFF11, 0x1D400, 0x1F600, 0x1F3FB, 0xE0100, 0x2800, 0x3000, 0x4E00,
};

static int is_boundary(const char *s, size_t len, size_t off) {
    return off == len || ((unsigned char)s[off] & 0xC0) != 0x80;
}

static void check_invariants(const char *in, size_t len, const mhg_normalized *n) {
    assert_true(mhg_utf8_valid(n->text, n->len));
    assert_int_equal(strlen(n->text), n->len); /* no NUL inside */
    if (n->len == 0) return;
    assert_true(n->text[0] != ' ');
    assert_true(n->text[n->len - 1] != ' ');
    assert_null(strstr(n->text, "  "));
    for (size_t i = 0; i < n->len; i++) {
        assert_true(n->src_start[i] < n->src_end[i]);
        assert_true(n->src_end[i] <= len);
        assert_true(is_boundary(in, len, n->src_start[i]));
        assert_true(is_boundary(in, len, n->src_end[i]));
        if (i > 0) assert_true(n->src_start[i] >= n->src_start[i - 1]);
        /* Every byte of one character maps to the same span. */
        if (((unsigned char)n->text[i] & 0xC0) == 0x80) {
            assert_int_equal(n->src_start[i], n->src_start[i - 1]);
            assert_int_equal(n->src_end[i], n->src_end[i - 1]);
        }
    }
}

static void test_invariants_random_valid(void **state) {
    (void)state;
    mhg_normalized n;
    mhg_normalized_init(&n);
    char buf[512];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = 0, ncp = rnd() % 40;
        for (size_t k = 0; k < ncp; k++) {
            uint32_t cp = pool[rnd() % (sizeof pool / sizeof pool[0])];
            len += mhgi_utf8_encode(buf + len, cp);
        }
        for (int mode = 0; mode < 2; mode++) {
            mhg_status st = norm(buf, len, (mhg_norm_mode)mode, &n);
            assert_int_equal(st, MHG_OK);
            check_invariants(buf, len, &n);
        }
    }
    mhg_normalized_free(&n);
}

/* Random bytes: normalize agrees with mhg_utf8_valid and never misbehaves. */
static void test_random_bytes(void **state) {
    (void)state;
    mhg_normalized n;
    mhg_normalized_init(&n);
    unsigned char buf[64];
    int valid = 0;
    for (int iter = 0; iter < 50000; iter++) {
        size_t len = rnd() % sizeof buf;
        for (size_t k = 0; k < len; k++) {
            uint32_t r = rnd();
            /* Mostly ASCII and lead/continuation bytes around the edges. */
            static const unsigned char pick[] = {0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xED, 0xEF,
                                                 0xF0, 0xF4, 0xF5, 0xA0, 0x9F, 0x90, 0x8F};
            buf[k] = (r & 3) ? (unsigned char)(0x20 + (r >> 2) % 95)
                             : pick[(r >> 2) % sizeof pick];
        }
        mhg_status st = norm((const char *)buf, len, MHG_NORM_TEXT, &n);
        int ok = mhg_utf8_valid((const char *)buf, len);
        assert_int_equal(st, ok ? MHG_OK : MHG_ERR_UTF8);
        if (ok) {
            valid++;
            check_invariants((const char *)buf, len, &n);
        } else {
            assert_int_equal(n.len, 0);
        }
    }
    assert_true(valid > 100); /* the generator does produce valid strings */
    mhg_normalized_free(&n);
}

/* The ASCII path skips the joining and leetspeak passes when a cheap scan
 * says they have nothing to do. A leading zero-width space (dropped, but
 * non-ASCII) forces every pass: the output must be the same. */
static void test_ascii_shortcuts_agree(void **state) {
    (void)state;
    static const char alphabet[] = "kilmyseabcdIKL   .-_*!!@$|0134578 2'?,\x01";
    mhg_normalized a, b;
    mhg_normalized_init(&a);
    mhg_normalized_init(&b);
    char s[64], z[70];
    for (int iter = 0; iter < 100000; iter++) {
        size_t len = 1 + rnd() % 24;
        for (size_t k = 0; k < len; k++) s[k] = alphabet[rnd() % (sizeof alphabet - 1)];
        memcpy(z, "\xe2\x80\x8b", 3);
        memcpy(z + 3, s, len);
        assert_int_equal(norm(s, len, MHG_NORM_TEXT, &a), MHG_OK);
        assert_int_equal(norm(z, len + 3, MHG_NORM_TEXT, &b), MHG_OK);
        if (strcmp(a.text, b.text) != 0)
            fail_msg("[%.*s]: fast path [%s], all passes [%s]", (int)len, s, a.text, b.text);
        for (size_t i = 0; i < a.len; i++) {
            assert_int_equal(a.src_start[i] + 3, b.src_start[i]);
            assert_int_equal(a.src_end[i] + 3, b.src_end[i]);
        }
    }
    mhg_normalized_free(&a);
    mhg_normalized_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_args),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_buffer_reuse),
        cmocka_unit_test(test_span_api),
        cmocka_unit_test(test_invariants_random_valid),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_ascii_shortcuts_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
