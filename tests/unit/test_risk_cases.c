/*
 * test_risk_cases.c - data-driven screening cases: every line of every
 * tests/cases/screen/<lang>.jsonl runs against the real engine and the real
 * shipped lexicons (format: tests/cases/README.md).
 *
 * One cmocka test per file. Every failing case is reported with file:line,
 * what was expected and what the engine said; the test fails if any case
 * fails. Environment:
 *   MHG_CASES=es,fr        run only these files (by language / base name)
 *   MHG_CASES_VERBOSE=1    print every case, not only failures
 *   MHG_CASES_MODEL=none   rules only (no learned model), to tell rule
 *                          failures from model (fusion) failures
 *   MHG_CASES_NO_HINT=1    ignore the cases' "lang" hints: the engine has to
 *                          detect the language itself (what a gateway without
 *                          a language header sees)
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mhguard.h"

static mhg_engine *g_engine;
static char g_err[8192];
static int g_no_hint; /* MHG_CASES_NO_HINT: run without the cases' lang hints */

static const char *env_or(const char *k, const char *d) {
    const char *v = getenv(k);
    return v && *v ? v : d;
}

static int setup_engine(void **state) {
    (void)state;
    char cache[4096];
    snprintf(cache, sizeof cache, "%s/lexicon-cache", env_or("MHG_BUILD_DIR", "."));
    mhg_engine_options o = {.data_dir = env_or("MHG_DATA_DIR", NULL), .cache_dir = cache};
    const char *model = getenv("MHG_CASES_MODEL");
    if (model) o.model_path = strcmp(model, "none") ? model : "";
    mhg_status st = mhg_engine_load(&o, &g_engine, g_err, sizeof g_err);
    if (st != MHG_OK) {
        fprintf(stderr, "cannot load the engine: %s: %s\n", mhg_strerror(st), g_err);
        return -1;
    }
    return 0;
}

static int teardown_engine(void **state) {
    (void)state;
    mhg_engine_free(g_engine);
    g_engine = NULL;
    return 0;
}

/* "none" / ">=moderate" / "<=low" -> bounds. Returns 0 on a bad spec. */
static int parse_bound(const char *spec, mhg_level *lo, mhg_level *hi) {
    mhg_level l;
    if (!strncmp(spec, ">=", 2)) {
        if (mhg_level_parse(spec + 2, &l) != MHG_OK) return 0;
        *lo = l;
        *hi = MHG_LEVEL_IMMINENT;
    } else if (!strncmp(spec, "<=", 2)) {
        if (mhg_level_parse(spec + 2, &l) != MHG_OK) return 0;
        *lo = MHG_LEVEL_NONE;
        *hi = l;
    } else {
        if (mhg_level_parse(spec, &l) != MHG_OK) return 0;
        *lo = *hi = l;
    }
    return 1;
}

typedef struct report {
    char buf[4096];
    size_t len;
} report;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void addf(report *r, const char *fmt, ...) {
    if (r->len >= sizeof r->buf - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
    va_end(ap);
    if (n > 0) r->len += (size_t)n < sizeof r->buf - r->len ? (size_t)n : sizeof r->buf - r->len - 1;
}

static void describe(report *r, const mhg_verdict *v) {
    addf(r, "      got: risk=%s", mhg_level_name(v->risk));
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        const mhg_category_result *cr = &v->categories[c];
        if (cr->level == MHG_LEVEL_NONE) continue;
        addf(r, " %s=%s", mhg_category_name((mhg_category)c), mhg_level_name(cr->level));
        if (cr->facets) {
            addf(r, "[");
            int first = 1;
            for (unsigned b = 1; b < (1u << MHG_FACET_COUNT); b <<= 1)
                if (cr->facets & b) {
                    addf(r, "%s%s", first ? "" : ",", mhg_facet_name(b));
                    first = 0;
                }
            addf(r, "]");
        }
    }
    addf(r, " flags=");
    int first = 1;
    for (unsigned b = 1; b < (1u << MHG_FLAG_COUNT); b <<= 1)
        if (v->flags & b) {
            addf(r, "%s%s", first ? "" : ",", mhg_flag_name(b));
            first = 0;
        }
    if (first) addf(r, "-");
    addf(r, "\n      evidence:");
    for (size_t i = 0; i < v->n_evidence && i < 6; i++)
        addf(r, " %s(%.2f%s%s)", v->evidence[i].rule_id, v->evidence[i].weight,
             v->evidence[i].flags ? "," : "",
             v->evidence[i].flags ? mhg_flag_name(v->evidence[i].flags & -v->evidence[i].flags)
                                  : "");
    if (v->n_evidence == 0) addf(r, " none");
    addf(r, "\n");
}

static const char *const known_keys[] = {"text", "lang",  "turns", "risk",  "min_risk",
                                         "max_risk", "categories", "facets", "flags", "note",
                                         "id", NULL};

/* Run one case; returns 1 when it passes. Problems go to r. */
static int run_case(mhg_scratch *s, mhg_verdict *v, json_t *c, report *r) {
    const char *key;
    json_t *val;
    json_object_foreach(c, key, val) {
        int ok = 0;
        for (const char *const *k = known_keys; *k; k++)
            if (!strcmp(*k, key)) ok = 1;
        if (!ok) {
            addf(r, "      bad case: unknown key '%s'\n", key);
            return 0;
        }
    }
    json_t *text = json_object_get(c, "text");
    if (!json_is_string(text)) {
        addf(r, "      bad case: 'text' must be a string\n");
        return 0;
    }
    json_t *lang = json_object_get(c, "lang");
    const char *lang_s = json_is_string(lang) ? json_string_value(lang) : NULL;
    if (g_no_hint) lang_s = NULL;
    json_t *turns = json_object_get(c, "turns");
    mhg_status st;
    if (turns) {
        if (!json_is_array(turns)) {
            addf(r, "      bad case: 'turns' must be an array of strings\n");
            return 0;
        }
        size_t n = json_array_size(turns);
        mhg_turn *t = calloc(n + 1, sizeof *t);
        if (!t) return 0;
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_array_get(turns, i);
            if (!json_is_string(x)) {
                free(t);
                addf(r, "      bad case: 'turns' must be an array of strings\n");
                return 0;
            }
            t[i].text = json_string_value(x);
            t[i].len = json_string_length(x);
        }
        t[n].text = json_string_value(text);
        t[n].len = json_string_length(text);
        st = mhg_assess_turns(g_engine, s, t, n + 1, lang_s, v);
        free(t);
    } else {
        st = mhg_assess(g_engine, s, json_string_value(text), json_string_length(text), lang_s,
                        NULL, v);
    }
    if (st != MHG_OK) {
        addf(r, "      engine error: %s\n", mhg_strerror(st));
        return 0;
    }
    int ok = 1;
    /* overall risk */
    mhg_level lo = MHG_LEVEL_NONE, hi = MHG_LEVEL_IMMINENT, l;
    json_t *x;
    if ((x = json_object_get(c, "risk"))) {
        if (!json_is_string(x) || mhg_level_parse(json_string_value(x), &l) != MHG_OK) {
            addf(r, "      bad case: risk must be a level name\n");
            return 0;
        }
        lo = hi = l;
    }
    if ((x = json_object_get(c, "min_risk"))) {
        if (!json_is_string(x) || mhg_level_parse(json_string_value(x), &l) != MHG_OK) {
            addf(r, "      bad case: min_risk must be a level name\n");
            return 0;
        }
        lo = l;
    }
    if ((x = json_object_get(c, "max_risk"))) {
        if (!json_is_string(x) || mhg_level_parse(json_string_value(x), &l) != MHG_OK) {
            addf(r, "      bad case: max_risk must be a level name\n");
            return 0;
        }
        hi = l;
    }
    if (v->risk < lo || v->risk > hi) {
        addf(r, "      expected risk %s%s%s, got %s\n", mhg_level_name(lo), lo == hi ? "" : "..",
             lo == hi ? "" : mhg_level_name(hi), mhg_level_name(v->risk));
        ok = 0;
    }
    /* categories */
    if ((x = json_object_get(c, "categories"))) {
        if (!json_is_object(x)) {
            addf(r, "      bad case: categories must be an object\n");
            return 0;
        }
        json_object_foreach(x, key, val) {
            mhg_category cat;
            mhg_level clo, chi;
            if (mhg_category_parse(key, &cat) != MHG_OK || !json_is_string(val) ||
                !parse_bound(json_string_value(val), &clo, &chi)) {
                addf(r, "      bad case: categories.%s\n", key);
                return 0;
            }
            mhg_level got = v->categories[cat].level;
            if (got < clo || got > chi) {
                addf(r, "      expected %s %s, got %s\n", key, json_string_value(val),
                     mhg_level_name(got));
                ok = 0;
            }
        }
    }
    /* facets: present in some category */
    unsigned all_facets = 0;
    for (int k = 0; k < MHG_CAT_COUNT; k++) all_facets |= v->categories[k].facets;
    if ((x = json_object_get(c, "facets"))) {
        size_t i;
        json_array_foreach(x, i, val) {
            unsigned fb;
            if (!json_is_string(val) || mhg_facet_parse(json_string_value(val), &fb) != MHG_OK) {
                addf(r, "      bad case: unknown facet\n");
                return 0;
            }
            if (!(all_facets & fb)) {
                addf(r, "      expected facet %s\n", json_string_value(val));
                ok = 0;
            }
        }
    }
    if ((x = json_object_get(c, "flags"))) {
        size_t i;
        json_array_foreach(x, i, val) {
            unsigned b, found = 0;
            if (!json_is_string(val)) {
                addf(r, "      bad case: flags must be strings\n");
                return 0;
            }
            for (b = 1; b < (1u << MHG_FLAG_COUNT); b <<= 1)
                if (!strcmp(mhg_flag_name(b), json_string_value(val))) found = b;
            if (!found) {
                addf(r, "      bad case: unknown flag '%s'\n", json_string_value(val));
                return 0;
            }
            if (!(v->flags & found)) {
                addf(r, "      expected flag %s\n", json_string_value(val));
                ok = 0;
            }
        }
    }
    return ok;
}

static void run_file(void **state) {
    const char *path = *state;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    mhg_scratch *s = NULL;
    assert_int_equal(mhg_scratch_new(g_engine, &s), MHG_OK);
    mhg_verdict v;
    mhg_verdict_init(&v);
    int verbose = getenv("MHG_CASES_VERBOSE") != NULL;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0, total = 0, failed = 0;
    for (;;) {
        n = getline(&line, &cap, f);
        if (n <= 0) break;
        lineno++;
        size_t k = 0;
        while (k < (size_t)n && (line[k] == ' ' || line[k] == '\t' || line[k] == '\n')) k++;
        if (k == (size_t)n) continue; /* blank line */
        total++;
        json_error_t je;
        json_t *c = json_loadb(line, (size_t)n, 0, &je);
        report r = {.len = 0};
        r.buf[0] = '\0';
        int ok;
        if (!json_is_object(c)) {
            addf(&r, "      not a JSON object: %s\n", je.text);
            ok = 0;
        } else {
            ok = run_case(s, &v, c, &r);
            if (!ok || verbose) describe(&r, &v);
        }
        if (!ok || verbose) {
            json_t *t = c ? json_object_get(c, "text") : NULL;
            json_t *note = c ? json_object_get(c, "note") : NULL;
            fprintf(stderr, "%s %s:%u: %s%s%s%s\n%s", ok ? "ok  " : "FAIL", path, lineno,
                    json_is_string(t) ? json_string_value(t) : "?", json_is_string(note) ? "  [" : "",
                    json_is_string(note) ? json_string_value(note) : "",
                    json_is_string(note) ? "]" : "", r.buf);
        }
        if (!ok) failed++;
        json_decref(c);
    }
    free(line);
    fclose(f);
    mhg_verdict_free(&v);
    mhg_scratch_free(s);
    fprintf(stderr, "%s: %u/%u cases pass\n", path, total - failed, total);
    if (failed) fail_msg("%u of %u cases failed in %s", failed, total, path);
}

static int wanted(const char *name, const char *filter) {
    if (!filter || !*filter) return 1;
    size_t nl = strcspn(name, ".");
    for (const char *p = filter; *p;) {
        size_t k = strcspn(p, ",");
        if (k == nl && !strncmp(p, name, k)) return 1;
        p += k;
        if (*p == ',') p++;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cases/screen", env_or("MHG_TEST_DIR", "tests"));
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open the case directory\n", dir);
        return 1;
    }
    char *paths[256];
    size_t n = 0;
    struct dirent *de;
    const char *filter = getenv("MHG_CASES");
    g_no_hint = env_or("MHG_CASES_NO_HINT", "0")[0] != '0';
    while (n < 256) {
        de = readdir(d);
        if (!de) break;
        size_t l = strlen(de->d_name);
        if (l < 7 || strcmp(de->d_name + l - 6, ".jsonl") || de->d_name[0] == '.') continue;
        if (!wanted(de->d_name, filter)) continue;
        size_t need = strlen(dir) + l + 2;
        paths[n] = malloc(need);
        if (!paths[n]) break;
        snprintf(paths[n], need, "%s/%s", dir, de->d_name);
        n++;
    }
    closedir(d);
    if (n == 0) {
        fprintf(stderr, "%s: no case files\n", dir);
        return 1;
    }
    qsort(paths, n, sizeof *paths, cmp_str);
    struct CMUnitTest *tests = calloc(n, sizeof *tests);
    if (!tests) return 1;
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(paths[i], '/');
        tests[i].name = base ? base + 1 : paths[i];
        tests[i].test_func = run_file;
        tests[i].initial_state = paths[i];
    }
    int rc = _cmocka_run_group_tests("risk_cases", tests, n, setup_engine, teardown_engine);
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(tests);
    return rc;
}
