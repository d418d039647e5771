/*
 * test_policy_resources.c - crisis resources: the shipped data loads and is
 * complete (30+ countries, international fallback, every entry dated and
 * sourced), pick + fallback for several countries and languages, formatting
 * (localized labels, youth lines first for minors, adults without youth-only
 * lines), mention detection, and strict validation of bad files.
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

#include "mhguard/resources.h"

static mhg_resources *res;

static int setup(void **state) {
    (void)state;
    const char *d = getenv("MHG_DATA_DIR");
    char dir[1024], err[4096];
    snprintf(dir, sizeof dir, "%s/resources", d ? d : "data");
    if (mhg_resources_load(dir, &res, err, sizeof err) != MHG_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    mhg_resources_free(res);
    return 0;
}

static void test_shipped_data_complete(void **state) {
    (void)state;
    static const char *const required[] = {
        "US", "CA", "MX", "BR", "AR", "CL", "CO", "GB", "IE", "FR", "DE", "AT", "CH", "ES", "PT",
        "IT", "NL", "BE", "PL", "TR", "IN", "BD", "PK", "CN", "HK", "TW", "JP", "KR", "VN", "TH",
        "ID", "PH", "MY", "SG", "AU", "NZ", "ZA", "KE", "NG", "EG", "SA", "AE", "IL", "INT"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        const mhg_country_resources *c = mhg_resources_find(res, required[i]);
        if (!c) fail_msg("no resources for %s", required[i]);
        assert_string_equal(c->country, required[i]);
    }
    size_t n = mhg_resources_count(res);
    assert_true(n >= 31);
    for (size_t i = 0; i < n; i++) {
        const mhg_country_resources *c = mhg_resources_get(res, i);
        assert_non_null(c->name);
        assert_non_null(c->source_url);
        assert_int_equal(strncmp(c->source_url, "https://", 8), 0);
        assert_int_equal(strlen(c->last_verified), 10);
        /* honest about how the data was checked */
        assert_non_null(c->verified_by);
        assert_true(c->n_lines > 0);
        if (strcmp(c->country, "INT") != 0) assert_non_null(c->emergency);
        for (size_t k = 0; k < c->n_lines; k++) {
            const mhg_crisis_line *l = &c->lines[k];
            assert_non_null(l->name);
            assert_true(l->phone || l->sms || l->chat_url || l->url);
            assert_non_null(l->hours);
            assert_true(l->n_languages > 0);
        }
        if (i > 0) assert_true(strcmp(mhg_resources_get(res, i - 1)->country, c->country) < 0);
    }
    assert_null(mhg_resources_get(res, n));
}

static void test_find_and_pick(void **state) {
    (void)state;
    assert_string_equal(mhg_resources_find(res, "us")->country, "US");
    assert_string_equal(mhg_resources_find(res, "UK")->country, "GB"); /* common alias */
    assert_null(mhg_resources_find(res, "XX"));
    assert_null(mhg_resources_find(res, ""));
    assert_null(mhg_resources_find(res, NULL));
    assert_null(mhg_resources_find(res, "TOOLONG"));

    /* the country wins over the language */
    assert_string_equal(mhg_resources_pick(res, "MX", "en", 0)->country, "MX");
    assert_string_equal(mhg_resources_pick(res, "de", "fr", 0)->country, "DE");
    /* a region subtag in the language names the country */
    assert_string_equal(mhg_resources_pick(res, NULL, "pt-BR", 0)->country, "BR");
    assert_string_equal(mhg_resources_pick(res, NULL, "es_AR", 0)->country, "AR");
    /* unambiguous languages map to their country */
    assert_string_equal(mhg_resources_pick(res, NULL, "ja", 0)->country, "JP");
    assert_string_equal(mhg_resources_pick(res, "ZZ", "ko", 1)->country, "KR");
    assert_string_equal(mhg_resources_pick(res, NULL, "he", 0)->country, "IL");
    /* ambiguous languages (en, es, fr, ar, zh) fall back to international */
    assert_string_equal(mhg_resources_pick(res, NULL, "es", 0)->country, "INT");
    assert_string_equal(mhg_resources_pick(res, NULL, "en", 0)->country, "INT");
    assert_string_equal(mhg_resources_pick(res, NULL, "zh", 0)->country, "INT");
    assert_string_equal(mhg_resources_pick(res, NULL, NULL, 0)->country, "INT");
    assert_string_equal(mhg_resources_pick(res, "XX", "xx", 0)->country, "INT");
}

static char *fmt(const char *cc, const char *lang, int minor) {
    char *s = NULL;
    size_t n = 0;
    assert_int_equal(mhg_resources_format(mhg_resources_find(res, cc), lang, minor, &s, &n),
                     MHG_OK);
    assert_int_equal(strlen(s), n);
    assert_true(n > 0 && s[n - 1] != '\n');
    return s;
}

static void test_format(void **state) {
    (void)state;
    char *s = fmt("US", "en", 0);
    assert_non_null(strstr(s, "Emergency services: 911"));
    assert_non_null(strstr(s, "988 Suicide & Crisis Lifeline: call 988, text 988, chat "
                              "https://988lifeline.org/chat (24/7)"));
    assert_non_null(strstr(s, "Crisis Text Line: text HOME to 741741 (24/7)"));
    /* adults do not get youth-only services when adult ones exist */
    assert_null(strstr(s, "Trevor"));
    free(s);

    s = fmt("US", "en", 1);
    const char *youth = strstr(s, "Trevor");
    assert_non_null(youth);
    assert_true(youth < strstr(s, "988 Suicide"));
    assert_non_null(strstr(s, "(for young people)"));
    free(s);

    /* labels in the user's language */
    s = fmt("ES", "es", 0);
    assert_non_null(strstr(s, "Emergencias: 112"));
    assert_non_null(strstr(s, "llama al 024"));
    free(s);
    s = fmt("DE", "de", 1);
    assert_non_null(strstr(s, "Notruf: 112"));
    assert_non_null(strstr(s, "116 111"));
    free(s);
    /* no translation of the labels: English */
    s = fmt("JP", "ja", 0);
    assert_non_null(strstr(s, "Emergency services: 119"));
    free(s);

    /* Belgium: the French line comes first for a French speaker */
    s = fmt("BE", "fr", 0);
    assert_true(strstr(s, "Centre de Prévention") < strstr(s, "Zelfmoordlijn"));
    free(s);
    s = fmt("BE", "nl", 0);
    assert_true(strstr(s, "Zelfmoordlijn") < strstr(s, "Centre de Prévention"));
    free(s);

    /* international: no emergency number, directories */
    s = fmt("INT", "en", 0);
    assert_non_null(strstr(s, "local emergency number"));
    assert_non_null(strstr(s, "https://findahelpline.com"));
    free(s);

    char *out = (char *)1;
    size_t n = 5;
    assert_int_equal(mhg_resources_format(NULL, "en", 0, &out, &n), MHG_ERR_INVALID);
    assert_null(out);
    assert_int_equal(n, 0);
}

static void test_mentioned(void **state) {
    (void)state;
    static const struct {
        const char *cc;
        const char *text;
        int want;
    } cases[] = {
        {"US", "Please call or text 988 right now.", 1},
        {"US", "You can text HOME to 741741.", 1},
        {"US", "Call 1 (866) 488-7386 any time.", 1},
        {"US", "Visit https://988lifeline.org/chat", 1},
        {"US", "In 1988 I read a book.", 0},
        {"US", "It was 9888 steps.", 0},
        {"US", "Please take care of yourself.", 0},
        {"GB", "Samaritans are on 116 123, free.", 1},
        {"GB", "Call +44 116 123.", 1},
        {"GB", "Call 999 in an emergency.", 1},
        {"AU", "About 1000 people joined.", 0}, /* 000 only as a whole number */
        {"AU", "Call 000 or Lifeline on 13 11 14.", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = mhg_resources_mentioned(mhg_resources_find(res, cases[i].cc), cases[i].text,
                                          strlen(cases[i].text));
        if (got != cases[i].want) fail_msg("case %zu '%s': got %d", i, cases[i].text, got);
    }
    assert_false(mhg_resources_mentioned(NULL, "988", 3));
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *intl_ok =
    "country: INT\nname: International\nlanguages: [en]\nsource_url: https://x.org\n"
    "last_verified: '2026-01-01'\nverified_by: test\n"
    "lines:\n  - name: Directory\n    url: https://x.org\n    languages: [en]\n";

static void test_bad_files(void **state) {
    (void)state;
    static const struct {
        const char *name, *yaml, *msg;
    } bad[] = {
        {"US.yaml",
         "country: US\nname: U\nemergency: '911'\nlanguages: [en]\nsource_url: https://x\n"
         "last_verified: '2026-01-01'\nverified_by: t\nlines:\n  - name: L\n    languages: [en]\n",
         "has no phone, sms, chat_url or url"},
        {"FR.yaml",
         "country: US\nname: U\nemergency: '911'\nlanguages: [en]\nsource_url: https://x\n"
         "last_verified: '2026-01-01'\nverified_by: t\nlines:\n  - name: L\n    phone: '1'\n"
         "    languages: [en]\n",
         "does not match the file name"},
        {"DE.yaml",
         "country: DE\nname: D\nemergency: '112'\nlanguages: [de]\nsource_url: https://x\n"
         "last_verified: 'yesterday'\nverified_by: t\nlines:\n  - name: L\n    phone: '1'\n"
         "    languages: [de]\n",
         "last_verified: expected YYYY-MM-DD"},
        {"IT.yaml",
         "country: IT\nname: I\nemergency: '112'\nlanguages: [it]\nsource_url: https://x\n"
         "last_verified: '2026-01-01'\nverified_by: t\nlines:\n  - name: L\n    phone: '1'\n"
         "    languages: [it]\n    hotline: '2'\n",
         "unknown key 'lines[].hotline'"},
        {"ES.yaml",
         "country: ES\nname: E\nlanguages: [es]\nsource_url: https://x\n"
         "last_verified: '2026-01-01'\nverified_by: t\nlines:\n  - name: L\n    phone: '1'\n"
         "    languages: [es]\n",
         "missing 'emergency'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[] = "/tmp/mhg_res_XXXXXX";
        assert_non_null(mkdtemp(dir));
        write_file(dir, "international.yaml", intl_ok);
        write_file(dir, bad[i].name, bad[i].yaml);
        mhg_resources *r = (mhg_resources *)1;
        char err[2048];
        mhg_status rc = mhg_resources_load(dir, &r, err, sizeof err);
        if (rc != MHG_ERR_PARSE) fail_msg("case %zu: %s %s", i, mhg_strerror(rc), err);
        assert_null(r);
        if (!strstr(err, bad[i].msg)) fail_msg("case %zu: want '%s' in: %s", i, bad[i].msg, err);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, bad[i].name);
        unlink(path);
        snprintf(path, sizeof path, "%s/international.yaml", dir);
        unlink(path);
        rmdir(dir);
    }
    /* the international fallback is required */
    char dir[] = "/tmp/mhg_res_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_file(dir, "US.yaml",
               "country: US\nname: U\nemergency: '911'\nlanguages: [en]\nsource_url: https://x\n"
               "last_verified: '2026-01-01'\nverified_by: t\nlines:\n  - name: L\n    phone: '988'\n"
               "    languages: [en]\n");
    mhg_resources *r = NULL;
    char err[1024];
    assert_int_equal(mhg_resources_load(dir, &r, err, sizeof err), MHG_ERR_PARSE);
    assert_non_null(strstr(err, "international.yaml is required"));
    write_file(dir, "international.yaml", intl_ok);
    assert_int_equal(mhg_resources_load(dir, &r, err, sizeof err), MHG_OK);
    assert_int_equal(mhg_resources_count(r), 2);
    assert_string_equal(mhg_resources_pick(r, "FR", "fr", 0)->country, "INT");
    mhg_resources_free(r);
    char path[512];
    snprintf(path, sizeof path, "%s/US.yaml", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/international.yaml", dir);
    unlink(path);
    rmdir(dir);
    assert_int_equal(mhg_resources_load("/nonexistent/resources", &r, err, sizeof err), MHG_ERR_IO);
    assert_null(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_data_complete),
        cmocka_unit_test(test_find_and_pick),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_mentioned),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
