/*
 * test_lexicon.c - the lexicon compiler and scanner: validation errors (each
 * with file, line and id), the match mini-language, the cache (miss, hit,
 * corrupt file, unwritable directory), scan offsets and limits.
 * Every lexicon here is written by the test into a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/mhg_limits.h"
#include "mhguard/lexicon.h"
#include "mhguard/normalize.h"

static char g_tmp[256];

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/mhg_test_lexicon_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write a file under the temp dir (subdir may be NULL); returns its path. */
static const char *write_file(const char *subdir, const char *name, const char *content) {
    static char path[512];
    char dir[400];
    if (subdir) {
        snprintf(dir, sizeof dir, "%s/%s", g_tmp, subdir);
        mkdir(dir, 0755);
    } else {
        snprintf(dir, sizeof dir, "%s", g_tmp);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static const char *dir_of(const char *subdir) {
    static char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", g_tmp, subdir);
    return dir;
}

/* Load a one-file lexicon "en.yaml" with the given body after the header. */
static mhg_status load_en(const char *sub, const char *body, mhg_lexicon **lex, char *err,
                          size_t errlen) {
    char doc[16384];
    snprintf(doc, sizeof doc, "lang: en\nversion: \"t\"\nspaces: true\n%s", body);
    write_file(sub, "en.yaml", doc);
    return mhg_lexicon_load(dir_of(sub), NULL, lex, err, errlen);
}

static void expect_error(const char *sub, const char *body, mhg_status want, const char *needle1,
                         const char *needle2) {
    char err[4096];
    mhg_lexicon *lex = NULL;
    mhg_status st = load_en(sub, body, &lex, err, sizeof err);
    if (st != want || !strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("status %d (want %d), message: %s (want '%s' and '%s')", st, want, err, needle1,
                 needle2 ? needle2 : "");
    assert_null(lex);
}

/* ---- validation ----------------------------------------------------------- */

static void test_errors_name_file_line_id(void **state) {
    (void)state;
    expect_error("e1", "entries:\n  - id: a\n    match: \"x\"\n    category: suicde\n    weight: 0.5\n",
                 MHG_ERR_PARSE, "en.yaml:7: a: unknown category 'suicde'", NULL);
    expect_error("e2",
                 "entries:\n  - id: a\n    match: \"x\"\n    category: suicide\n    facet: planned\n"
                 "    weight: 0.5\n",
                 MHG_ERR_PARSE, "en.yaml:8: a: unknown facet 'planned'", NULL);
    expect_error("e3", "entries:\n  - id: a\n    match: \"x\"\n    category: suicide\n    weight: 1.5\n",
                 MHG_ERR_PARSE, "en.yaml:8: a: weight '1.5' must be a number in [0, 1]", NULL);
    expect_error("e4", "entries:\n  - id: a\n    match: \"x\"\n    category: suicide\n    weight: high\n",
                 MHG_ERR_PARSE, "a: weight 'high'", NULL);
    expect_error("e5",
                 "entries:\n  - id: a\n    match: \"x\"\n    category: suicide\n    weight: 0.5\n"
                 "    colour: red\n",
                 MHG_ERR_PARSE, "en.yaml:9: a: unknown key 'colour'", NULL);
    expect_error("e6",
                 "entries:\n  - id: a\n    match: \"x\"\n    category: suicide\n    weight: 0.5\n"
                 "  - id: a\n    match: \"y\"\n    category: suicide\n    weight: 0.5\n",
                 MHG_ERR_PARSE, "en.yaml:9: a: duplicate id (first at line 5)", NULL);
    expect_error("e7", "entries: []\ncues:\n  - id: c\n    match: \"x\"\n    kind: negative\n",
                 MHG_ERR_PARSE, "en.yaml:8: c: unknown cue kind 'negative'", NULL);
    expect_error("e8", "entries: []\ncues:\n  - id: c\n    match: \"x\"\n    kind: idiom\n    scope: after\n",
                 MHG_ERR_PARSE, "c: 'scope' applies to negation cues only", NULL);
    expect_error("e9", "entries:\n  - id: a\n    category: suicide\n    weight: 0.5\n",
                 MHG_ERR_PARSE, "en.yaml:5: a: missing 'match'", NULL);
    expect_error("e10", "entries: []\nauthor: me\n", MHG_ERR_PARSE,
                 "en.yaml:5: file: unknown top-level key 'author'", NULL);
    expect_error("e11", "entries: [\n", MHG_ERR_PARSE, "en.yaml:", "YAML error");
}

static void test_lang_must_match_file_name(void **state) {
    (void)state;
    write_file("lang", "es.yaml", "lang: en\nversion: \"t\"\nentries: []\n");
    char err[1024];
    mhg_lexicon *lex = NULL;
    assert_int_equal(mhg_lexicon_load(dir_of("lang"), NULL, &lex, err, sizeof err), MHG_ERR_PARSE);
    assert_non_null(strstr(err, "es.yaml:1: file: lang 'en' does not match the file name ('es')"));
}

static void test_all_errors_listed(void **state) {
    (void)state;
    char err[4096];
    mhg_lexicon *lex = NULL;
    mhg_status st = load_en("multi",
                            "entries:\n  - id: a\n    match: \"x\"\n    category: nope\n    weight: 0.5\n"
                            "  - id: b\n    match: \"(x\"\n    category: suicide\n    weight: 0.5\n"
                            "  - id: c\n    match: \"y\"\n    category: suicide\n    weight: 2\n",
                            &lex, err, sizeof err);
    assert_int_equal(st, MHG_ERR_PARSE);
    assert_non_null(strstr(err, "a: unknown category"));
    assert_non_null(strstr(err, "b: match: unclosed '('"));
    assert_non_null(strstr(err, "c: weight '2'"));
    /* first problem first */
    assert_true(strstr(err, "a: unknown category") < strstr(err, "c: weight"));
}

static void test_mini_language_errors(void **state) {
    (void)state;
    static const struct {
        const char *match, *msg;
    } bad[] = {
        {"(kill myself", "unclosed '('"},
        {"kill myself)", "unmatched ')'"},
        {"kill? myself", "'?' may only follow a group"},
        {"* kill", "a gap must follow a required word"},
        {"kill *", "a gap cannot end"},
        {"kill * ** me", "two gaps in a row"},
        {"(kill|) me", "empty pattern or alternative"},
        {"(kill)? (me)?", "needs at least one word that is not optional"},
        {"ki~ll", "'~' may only end a word"},
        {"kill ** (me)?", "the part after a gap needs a word that is not optional"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512], sub[16];
        snprintf(sub, sizeof sub, "m%zu", i);
        snprintf(body, sizeof body,
                 "entries:\n  - id: bad\n    match: \"%s\"\n    category: suicide\n    weight: 0.5\n",
                 bad[i].match);
        expect_error(sub, body, MHG_ERR_PARSE, "en.yaml:6: bad: match:", bad[i].msg);
    }
}

static void test_vectorscan_rejection(void **state) {
    (void)state;
    expect_error("vs",
                 "entries:\n  - id: raw\n    match: \"re:(abc\"\n    category: suicide\n    weight: 0.5\n",
                 MHG_ERR_COMPILE, "en.yaml:5: raw: pattern rejected by Vectorscan", NULL);
}

/* ---- matching ------------------------------------------------------------- */

typedef struct scan_ctx {
    mhg_lexicon *lex;
    mhg_lexicon_scratch *s;
    mhg_normalized n;
} scan_ctx;

static void open_ctx(scan_ctx *c, const char *sub, const char *body) {
    char err[4096];
    memset(c, 0, sizeof *c);
    mhg_status st = load_en(sub, body, &c->lex, err, sizeof err);
    if (st != MHG_OK) fail_msg("load: %s", err);
    assert_int_equal(mhg_lexicon_scratch_new(c->lex, &c->s), MHG_OK);
    mhg_normalized_init(&c->n);
}

static void close_ctx(scan_ctx *c) {
    mhg_normalized_free(&c->n);
    mhg_lexicon_scratch_free(c->s);
    mhg_lexicon_free(c->lex);
}

/* Ids of the entries matching text, space separated, in scan order; with
 * spans[] (original byte offsets) when given. */
static const char *matches(scan_ctx *c, const char *text, size_t *spans) {
    static char out[1024];
    size_t o = 0;
    out[0] = '\0';
    assert_int_equal(mhg_normalize(text, strlen(text), MHG_NORM_TEXT, &c->n), MHG_OK);
    mhg_lexicon_match m[64];
    size_t k = 0;
    assert_int_equal(mhg_lexicon_scan(c->lex, c->s, c->n.text, c->n.len, m, 64, &k), MHG_OK);
    for (size_t i = 0; i < k; i++) {
        const mhg_lexicon_entry *e = mhg_lexicon_entry_get(c->lex, m[i].entry);
        int w = snprintf(out + o, sizeof out - o, "%s%s", o ? " " : "", e->id);
        if (w > 0 && (size_t)w < sizeof out - o) o += (size_t)w;
        if (spans) mhg_normalized_span(&c->n, m[i].start, m[i].end, &spans[2 * i], &spans[2 * i + 1]);
    }
    return out;
}

static const char *features_lex =
    "entries:\n"
    "  - id: alt\n    match: \"(kill|end) (myself|my life)\"\n    category: suicide\n    facet: ideation\n    weight: 0.8\n"
    "  - id: opt\n    match: \"(really )?want to die\"\n    category: suicide\n    weight: 0.8\n"
    "  - id: gap1\n    match: \"pills * kill\"\n    category: overdose\n    weight: 0.6\n"
    "  - id: gap2\n    match: \"rope ** tonight\"\n    category: suicide\n    weight: 0.6\n"
    "  - id: tilde\n    match: \"cut~ arms\"\n    category: self_harm\n    weight: 0.6\n"
    "  - id: tilde_end\n    match: \"purg~\"\n    category: eating_disorder\n    weight: 0.6\n"
    "  - id: raw\n    match: \"re:\\\\btok [0-9]+ pils\\\\b\"\n    category: overdose\n    weight: 0.9\n"
    "cues:\n"
    "  - id: neg\n    match: \"never\"\n    kind: negation\n";

static void test_alternatives_optional_boundaries(void **state) {
    (void)state;
    scan_ctx c;
    open_ctx(&c, "f1", features_lex);
    assert_string_equal(matches(&c, "I want to END MY LIFE", NULL), "alt");
    assert_string_equal(matches(&c, "i really want to die", NULL), "opt");
    assert_string_equal(matches(&c, "want to die", NULL), "opt");
    /* word boundaries: "skill myself", "dies" do not match */
    assert_string_equal(matches(&c, "skill myself, want to dies", NULL), "");
    /* separators: comma, ellipsis, quotes, dash */
    assert_string_equal(matches(&c, "kill, myself", NULL), "alt");
    assert_string_equal(matches(&c, "want to... die", NULL), "opt");
    assert_string_equal(matches(&c, "\"kill\" myself", NULL), "alt");
    /* a sentence end is not a separator */
    assert_string_equal(matches(&c, "kill. myself", NULL), "");
    /* normalization: leetspeak, letter runs, spaced letters */
    assert_string_equal(matches(&c, "k1ll myseeeelf", NULL), "alt");
    assert_string_equal(matches(&c, "k i l l myself", NULL), "alt");
    assert_string_equal(matches(&c, "never", NULL), "neg");
    close_ctx(&c);
}

static void test_gaps_tilde_raw(void **state) {
    (void)state;
    scan_ctx c;
    open_ctx(&c, "f2", features_lex);
    assert_string_equal(matches(&c, "the pills will kill", NULL), "gap1");
    assert_string_equal(matches(&c, "pills one two three kill", NULL), "gap1");
    assert_string_equal(matches(&c, "pills one two three four kill", NULL), "");
    assert_string_equal(matches(&c, "pills. kill", NULL), ""); /* sentence end inside a gap */
    /* (single letters would be joined by the normalizer: use words) */
    assert_string_equal(matches(&c, "rope one two three four five six seven eight tonight", NULL),
                        "gap2");
    assert_string_equal(
        matches(&c, "rope one two three four five six seven eight nine tonight", NULL), "");
    assert_string_equal(matches(&c, "cutting arms", NULL), "tilde");
    assert_string_equal(matches(&c, "cut arms", NULL), "tilde");
    assert_string_equal(matches(&c, "i was purging again", NULL), "tilde_end");
    assert_string_equal(matches(&c, "took 30 pills", NULL), "raw");
    size_t sp[8];
    assert_string_equal(matches(&c, "I was PURGING", sp), "tilde_end");
    assert_int_equal(sp[0], 6);
    assert_int_equal(sp[1], 13);
    close_ctx(&c);
}

static void test_offsets_into_original(void **state) {
    (void)state;
    scan_ctx c;
    open_ctx(&c, "f3", features_lex);
    const char *t = "Ok so... I wanna K1LL   MYSELF now";
    size_t sp[8];
    assert_string_equal(matches(&c, t, sp), "alt");
    assert_int_equal(sp[0], strstr(t, "K1LL") - t);
    assert_int_equal(sp[1], strstr(t, "MYSELF") - t + 6);
    close_ctx(&c);
}

static void test_overlapping_matches_merge(void **state) {
    (void)state;
    scan_ctx c;
    open_ctx(&c, "f4", features_lex);
    size_t sp[8];
    /* "really want to die" and "want to die" are one match of `opt` */
    assert_string_equal(matches(&c, "i really want to die", sp), "opt");
    assert_int_equal(sp[0], 2);
    assert_int_equal(sp[1], 20);
    /* two separate occurrences stay two matches */
    assert_string_equal(matches(&c, "want to die. want to die", NULL), "opt opt");
    close_ctx(&c);
}

static void test_no_space_language(void **state) {
    (void)state;
    write_file("zh", "zh.yaml",
               "lang: zh\nversion: \"t\"\nspaces: false\nentries:\n"
               "  - id: si\n    match: \"(想死|不想活)\"\n    category: suicide\n    weight: 0.8\n"
               "  - id: two\n    match: \"吃 药\"\n    category: overdose\n    weight: 0.5\n"
               "  - id: gap\n    match: \"安眠药 * 死\"\n    category: overdose\n    weight: 0.5\n");
    char err[1024];
    scan_ctx c;
    memset(&c, 0, sizeof c);
    assert_int_equal(mhg_lexicon_load(dir_of("zh"), NULL, &c.lex, err, sizeof err), MHG_OK);
    assert_int_equal(mhg_lexicon_scratch_new(c.lex, &c.s), MHG_OK);
    mhg_normalized_init(&c.n);
    /* no word boundaries in scripts without spaces */
    assert_string_equal(matches(&c, "我真的好想死啊", NULL), "si");
    assert_string_equal(matches(&c, "吃药", NULL), "two");
    assert_string_equal(matches(&c, "吃 药", NULL), "two");
    assert_string_equal(matches(&c, "安眠药吃了会死吗", NULL), "gap");
    assert_string_equal(matches(&c, "安眠药吃了很多很多很多会死吗", NULL), "");
    close_ctx(&c);
}

static void test_custom_categories(void **state) {
    (void)state;
    write_file("pol", "en.yaml",
               "lang: en\nversion: \"p\"\nentries:\n"
               "  - id: detail\n    match: \"lethal dose\"\n    category: method_detail\n    weight: 0.9\n"
               "  - id: risky\n    match: \"suicide\"\n    category: suicide\n    weight: 0.2\n");
    const char *cats[] = {"method_detail", "encouragement", "suicide", NULL};
    mhg_lexicon_options o = {.path = dir_of("pol"), .categories = cats};
    mhg_lexicon *lex = NULL;
    char err[1024];
    assert_int_equal(mhg_lexicon_load_ex(&o, &lex, err, sizeof err), MHG_OK);
    const mhg_lexicon_entry *e = mhg_lexicon_entry_get(lex, 0);
    assert_string_equal(e->category, "method_detail");
    assert_int_equal(e->category_id, -1);
    assert_string_equal(e->rule_id, "en.detail");
    assert_int_equal(mhg_lexicon_entry_get(lex, 1)->category_id, MHG_CAT_SUICIDE);
    mhg_lexicon_free(lex);
    /* a risk category not in the list is refused */
    const char *cats2[] = {"method_detail", NULL};
    o.categories = cats2;
    assert_int_equal(mhg_lexicon_load_ex(&o, &lex, err, sizeof err), MHG_ERR_PARSE);
    assert_non_null(strstr(err, "risky: unknown category 'suicide' (one of: method_detail)"));
}

static void test_entry_metadata_and_langs(void **state) {
    (void)state;
    scan_ctx c;
    open_ctx(&c, "meta", features_lex);
    assert_int_equal(mhg_lexicon_lang_count(c.lex), 1);
    const mhg_lexicon_lang *L = mhg_lexicon_lang_get(c.lex, 0);
    assert_string_equal(L->lang, "en");
    assert_int_equal(L->n_entries, 7);
    assert_int_equal(L->n_cues, 1);
    assert_int_equal(mhg_lexicon_lang_find(c.lex, "en"), 0);
    assert_int_equal(mhg_lexicon_lang_find(c.lex, "xx"), -1);
    const mhg_lexicon_entry *e = mhg_lexicon_entry_get(c.lex, 0);
    assert_string_equal(e->rule_id, "en.alt");
    assert_int_equal(e->facet, MHG_FACET_IDEATION);
    assert_int_equal(e->line, 5);
    const mhg_lexicon_entry *neg = mhg_lexicon_entry_get(c.lex, 7);
    assert_int_equal(neg->kind, MHG_LEX_CUE_NEGATION);
    assert_int_equal(neg->scope, MHG_LEX_SCOPE_BEFORE);
    assert_null(mhg_lexicon_entry_get(c.lex, 8));
    assert_int_equal(strlen(mhg_lexicon_version(c.lex)), 16);
    close_ctx(&c);
}

static void test_scan_limits_and_utf8(void **state) {
    (void)state;
    scan_ctx c;
    open_ctx(&c, "lim", features_lex);
    mhg_lexicon_match m[4];
    size_t k = 99;
    /* invalid UTF-8 */
    assert_int_equal(mhg_lexicon_scan(c.lex, c.s, "kill \xff myself", 14, m, 4, &k), MHG_ERR_UTF8);
    assert_int_equal(k, 0);
    /* empty text */
    assert_int_equal(mhg_lexicon_scan(c.lex, c.s, "", 0, m, 4, &k), MHG_OK);
    assert_int_equal(k, 0);
    /* more matches than room: the rest are counted */
    const char *t = "never never never never never never";
    assert_int_equal(mhg_lexicon_scan(c.lex, c.s, t, strlen(t), m, 4, &k), MHG_OK);
    assert_int_equal(k, 4);
    assert_int_equal(mhg_lexicon_scratch_dropped(c.s), 2);
    /* ... but a risk entry is never crowded out by cues: it takes a cue's place */
    const char *t2 = "never never never never never never kil myself"; /* normalized form */
    assert_int_equal(mhg_lexicon_scan(c.lex, c.s, t2, strlen(t2), m, 4, &k), MHG_OK);
    assert_int_equal(k, 4);
    int found = 0;
    for (size_t i = 0; i < k; i++)
        if (!strcmp(mhg_lexicon_entry_get(c.lex, m[i].entry)->id, "alt")) {
            found = 1;
            assert_int_equal(m[i].start, strstr(t2, "kil") - t2);
        }
    assert_true(found);
    for (size_t i = 1; i < k; i++) assert_true(m[i - 1].start <= m[i].start);
    /* a scratch belongs to its lexicon */
    assert_int_equal(mhg_lexicon_scan(NULL, c.s, t, strlen(t), m, 4, &k), MHG_ERR_INVALID);
    close_ctx(&c);
}

/* ---- cache ------------------------------------------------------------------ */

static void test_cache_miss_hit_corrupt(void **state) {
    (void)state;
    write_file("cache_lex", "en.yaml",
               "lang: en\nversion: \"c\"\nentries:\n"
               "  - id: a\n    match: \"kill myself\"\n    category: suicide\n    weight: 0.8\n");
    char cdir[512], err[1024];
    snprintf(cdir, sizeof cdir, "%s/cache", g_tmp);
    mhg_lexicon *lex = NULL;
    assert_int_equal(mhg_lexicon_load(dir_of("cache_lex"), cdir, &lex, err, sizeof err), MHG_OK);
    assert_false(mhg_lexicon_from_cache(lex));
    char path[600];
    snprintf(path, sizeof path, "%s", mhg_lexicon_cache_path(lex));
    char v1[32];
    snprintf(v1, sizeof v1, "%s", mhg_lexicon_version(lex));
    mhg_lexicon_free(lex);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);

    /* second load: from the cache, and it still matches */
    assert_int_equal(mhg_lexicon_load(dir_of("cache_lex"), cdir, &lex, err, sizeof err), MHG_OK);
    assert_true(mhg_lexicon_from_cache(lex));
    mhg_lexicon_scratch *s;
    assert_int_equal(mhg_lexicon_scratch_new(lex, &s), MHG_OK);
    mhg_lexicon_match m[4];
    size_t k;
    assert_int_equal(mhg_lexicon_scan(lex, s, "i wil kil myself", 16, m, 4, &k), MHG_OK);
    assert_int_equal(k, 1);
    mhg_lexicon_scratch_free(s);
    mhg_lexicon_free(lex);

    /* corrupt the cache: recompiled, not trusted */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 80, SEEK_SET);
    fputs("garbage garbage garbage", f);
    fclose(f);
    assert_int_equal(mhg_lexicon_load(dir_of("cache_lex"), cdir, &lex, err, sizeof err), MHG_OK);
    assert_false(mhg_lexicon_from_cache(lex));
    mhg_lexicon_free(lex);
    /* ... and rewritten */
    assert_int_equal(mhg_lexicon_load(dir_of("cache_lex"), cdir, &lex, err, sizeof err), MHG_OK);
    assert_true(mhg_lexicon_from_cache(lex));
    mhg_lexicon_free(lex);

    /* truncated cache file */
    assert_int_equal(truncate(path, 20), 0);
    assert_int_equal(mhg_lexicon_load(dir_of("cache_lex"), cdir, &lex, err, sizeof err), MHG_OK);
    assert_false(mhg_lexicon_from_cache(lex));
    mhg_lexicon_free(lex);

    /* a changed lexicon gets a new version and a new cache key */
    write_file("cache_lex", "en.yaml",
               "lang: en\nversion: \"c\"\nentries:\n"
               "  - id: a\n    match: \"kill myself now\"\n    category: suicide\n    weight: 0.8\n");
    assert_int_equal(mhg_lexicon_load(dir_of("cache_lex"), cdir, &lex, err, sizeof err), MHG_OK);
    assert_false(mhg_lexicon_from_cache(lex));
    assert_string_not_equal(mhg_lexicon_version(lex), v1);
    assert_string_not_equal(mhg_lexicon_cache_path(lex), path);
    /* the stale cache of the same lexicon is gone, the new one is there */
    assert_int_not_equal(stat(path, &st), 0);
    assert_int_equal(stat(mhg_lexicon_cache_path(lex), &st), 0);
    mhg_lexicon_free(lex);
}

static void test_cache_unwritable_is_not_fatal(void **state) {
    (void)state;
    write_file("cache_ro", "en.yaml",
               "lang: en\nversion: \"c\"\nentries:\n"
               "  - id: a\n    match: \"kill myself\"\n    category: suicide\n    weight: 0.8\n");
    char err[1024];
    mhg_lexicon *lex = NULL;
    /* a cache "directory" below a regular file cannot be created */
    const char *file = write_file(NULL, "not_a_dir", "x");
    char cdir[600];
    snprintf(cdir, sizeof cdir, "%s/sub", file);
    assert_int_equal(mhg_lexicon_load(dir_of("cache_ro"), cdir, &lex, err, sizeof err), MHG_OK);
    assert_false(mhg_lexicon_from_cache(lex));
    assert_int_equal(mhg_lexicon_write_cache(lex, err, sizeof err), MHG_ERR_IO);
    assert_true(strlen(err) > 0);
    mhg_lexicon_free(lex);
    /* without a cache directory there is nothing to write */
    assert_int_equal(mhg_lexicon_load(dir_of("cache_ro"), NULL, &lex, err, sizeof err), MHG_OK);
    assert_null(mhg_lexicon_cache_path(lex));
    assert_int_equal(mhg_lexicon_write_cache(lex, err, sizeof err), MHG_ERR_INVALID);
    mhg_lexicon_free(lex);
}

static void test_missing_and_empty_dir(void **state) {
    (void)state;
    char err[1024];
    mhg_lexicon *lex = NULL;
    assert_int_equal(mhg_lexicon_load("/nonexistent/mhg/lexicons", NULL, &lex, err, sizeof err),
                     MHG_ERR_IO);
    assert_null(lex);
    char d[400];
    snprintf(d, sizeof d, "%s/empty", g_tmp);
    mkdir(d, 0755);
    assert_int_equal(mhg_lexicon_load(d, NULL, &lex, err, sizeof err), MHG_ERR_IO);
    assert_non_null(strstr(err, "no lexicon files"));
}

static void test_kind_names(void **state) {
    (void)state;
    mhg_lexicon_kind k;
    for (int i = 1; i < MHG_LEX_KIND_COUNT; i++) {
        assert_int_equal(mhg_lexicon_kind_parse(mhg_lexicon_kind_name((mhg_lexicon_kind)i), &k),
                         MHG_OK);
        assert_int_equal(k, i);
    }
    assert_int_equal(mhg_lexicon_kind_parse("entry", &k), MHG_ERR_INVALID);
    assert_null(mhg_lexicon_kind_name(MHG_LEX_KIND_COUNT));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_name_file_line_id),
        cmocka_unit_test(test_lang_must_match_file_name),
        cmocka_unit_test(test_all_errors_listed),
        cmocka_unit_test(test_mini_language_errors),
        cmocka_unit_test(test_vectorscan_rejection),
        cmocka_unit_test(test_alternatives_optional_boundaries),
        cmocka_unit_test(test_gaps_tilde_raw),
        cmocka_unit_test(test_offsets_into_original),
        cmocka_unit_test(test_overlapping_matches_merge),
        cmocka_unit_test(test_no_space_language),
        cmocka_unit_test(test_custom_categories),
        cmocka_unit_test(test_entry_metadata_and_langs),
        cmocka_unit_test(test_scan_limits_and_utf8),
        cmocka_unit_test(test_cache_miss_hit_corrupt),
        cmocka_unit_test(test_cache_unwritable_is_not_fatal),
        cmocka_unit_test(test_missing_and_empty_dir),
        cmocka_unit_test(test_kind_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
