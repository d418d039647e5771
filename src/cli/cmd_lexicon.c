/*
 * cmd_lexicon.c - `mhguard lexicon check|compile|scan`: the tool lexicon
 * authors run. check validates and compiles every file (always a fresh
 * compile, never the cache) and prints counts per language and category;
 * compile writes the serialized database to the cache directory; scan shows
 * what the lexicon matches in a text (normalized form, rule ids, spans).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/commands.h"
#include "mhg_config.h"
#include "mhguard.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mhguard lexicon check   [--dir DIR] [--categories a,b,...] [--quiet]\n"
            "       mhguard lexicon compile [--dir DIR] [--cache-dir DIR]\n"
            "       mhguard lexicon scan    [--dir DIR] TEXT\n\n"
            "  check    validate and compile every lexicon file; print entries per language\n"
            "           and category, and every problem as file:line: id: message\n"
            "  compile  compile and write the serialized database to the cache directory\n"
            "  scan     show the normalized text and every entry and cue that matches\n\n"
            "  --dir DIR         lexicon directory or one file (default: DATA_DIR/lexicons)\n"
            "  --cache-dir DIR   where compile writes the cache (default: the lexicon dir)\n"
            "  --categories L    allowed category names (default: the risk taxonomy);\n"
            "                    for other lexicons such as the reply-policy ones\n");
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Same resolution as the engine: $MHG_DATA_DIR, the source tree, the
 * install prefix. */
static const char *default_data_dir(void) {
    const char *e = getenv("MHG_DATA_DIR");
    if (e && *e) return e;
    if (is_dir(MHG_SOURCE_DATA_DIR)) return MHG_SOURCE_DATA_DIR;
    return MHG_INSTALL_DATA_DIR;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Split "a,b,c" into a NULL-terminated list; *copy owns the strings. */
static char **split_list(const char *s, char **copy_out) {
    size_t n = 1;
    for (const char *p = s; *p; p++) n += *p == ',';
    char **v = calloc(n + 1, sizeof *v);
    char *copy = strdup(s);
    if (!v || !copy) {
        free(v);
        free(copy);
        return NULL;
    }
    size_t i = 0;
    for (char *tok = copy, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        if (*tok) v[i++] = tok;
    }
    *copy_out = copy;
    return v;
}

static void print_counts(const mhg_lexicon *lex, const char *const *cats) {
    size_t nl = mhg_lexicon_lang_count(lex), ne = mhg_lexicon_entry_count(lex);
    /* Column set: the risk taxonomy or the given categories. */
    const char *cols[64];
    size_t nc = 0;
    if (cats) {
        for (; cats[nc] && nc < 64; nc++) cols[nc] = cats[nc];
    } else {
        for (int c = 0; c < MHG_CAT_COUNT; c++) cols[nc++] = mhg_category_name((mhg_category)c);
    }
    printf("%-6s %-16s %6s %7s %5s", "lang", "version", "spaces", "entries", "cues");
    for (size_t c = 0; c < nc; c++) {
        char shortn[8];
        snprintf(shortn, sizeof shortn, "%.6s", cols[c]);
        printf(" %6s", shortn);
    }
    printf("  cue kinds (neg idiom 3rd past hyp info 1st sub)\n");
    size_t missing_cues = 0;
    for (size_t l = 0; l < nl; l++) {
        const mhg_lexicon_lang *L = mhg_lexicon_lang_get(lex, l);
        size_t per_cat[64] = {0}, per_kind[MHG_LEX_KIND_COUNT] = {0};
        for (size_t i = 0; i < ne; i++) {
            const mhg_lexicon_entry *e = mhg_lexicon_entry_get(lex, i);
            if (strcmp(e->lang, L->lang) != 0) continue;
            per_kind[e->kind]++;
            if (e->kind != MHG_LEX_ENTRY) continue;
            for (size_t c = 0; c < nc; c++)
                if (!strcmp(cols[c], e->category)) per_cat[c]++;
        }
        printf("%-6s %-16.16s %6s %7zu %5zu", L->lang, L->version, L->spaces ? "yes" : "no",
               L->n_entries, L->n_cues);
        for (size_t c = 0; c < nc; c++) printf(" %6zu", per_cat[c]);
        printf("  ");
        for (int k = 1; k < MHG_LEX_KIND_COUNT; k++) printf(" %zu", per_kind[k]);
        printf("\n");
        if (!cats)
            for (int k = 1; k < MHG_LEX_CUE_FIRST_PERSON; k++)
                if (per_kind[k] == 0) missing_cues++;
    }
    if (missing_cues)
        printf("note: %zu language/cue-kind pairs have no cue; every language should have "
               "cues of every kind (docs/internals/lexicon-format.md)\n",
               missing_cues);
}

static int cmd_scan(const mhg_lexicon *lex, const char *text) {
    mhg_lexicon_scratch *s = NULL;
    if (mhg_lexicon_scratch_new(lex, &s) != MHG_OK) {
        fprintf(stderr, "mhguard lexicon: out of memory\n");
        return 2;
    }
    mhg_normalized n;
    mhg_normalized_init(&n);
    mhg_status st = mhg_normalize(text, strlen(text), MHG_NORM_TEXT, &n);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard lexicon: cannot normalize the text: %s\n", mhg_strerror(st));
        mhg_normalized_free(&n);
        mhg_lexicon_scratch_free(s);
        return 1;
    }
    static mhg_lexicon_match m[4096];
    size_t k = 0;
    st = mhg_lexicon_scan(lex, s, n.text, n.len, m, sizeof m / sizeof m[0], &k);
    printf("normalized: %s\n", n.text);
    if (st != MHG_OK) fprintf(stderr, "scan failed: %s\n", mhg_strerror(st));
    for (size_t i = 0; i < k; i++) {
        const mhg_lexicon_entry *e = mhg_lexicon_entry_get(lex, m[i].entry);
        size_t os, oe;
        mhg_normalized_span(&n, m[i].start, m[i].end, &os, &oe);
        if (e->kind == MHG_LEX_ENTRY) {
            const char *facet = e->facet ? mhg_facet_name(e->facet) : "";
            printf("  %-40s %-18s %-12s w=%.2f  [%zu,%zu) \"%.*s\"\n", e->rule_id, e->category,
                   facet, e->weight, os, oe, (int)(oe - os), text + os);
        } else {
            printf("  %-40s cue:%-14s %-12s         [%zu,%zu) \"%.*s\"\n", e->rule_id,
                   mhg_lexicon_kind_name(e->kind), "", os, oe, (int)(oe - os), text + os);
        }
    }
    if (k == 0) printf("  (no match)\n");
    mhg_normalized_free(&n);
    mhg_lexicon_scratch_free(s);
    return 0;
}

int mhg_cmd_lexicon(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "check") && strcmp(sub, "compile") && strcmp(sub, "scan")) {
        fprintf(stderr, "mhguard lexicon: unknown subcommand '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    const char *dir = NULL, *cache_dir = NULL, *cats_arg = NULL, *text = NULL;
    int quiet = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--cache-dir") && i + 1 < argc) cache_dir = argv[++i];
        else if (!strcmp(argv[i], "--categories") && i + 1 < argc) cats_arg = argv[++i];
        else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) quiet = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !strcmp(sub, "scan") && !text) text = argv[i];
        else {
            fprintf(stderr, "mhguard lexicon: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!strcmp(sub, "scan") && !text) {
        fprintf(stderr, "mhguard lexicon scan: give the text to scan\n");
        return 2;
    }
    char dirbuf[4096];
    if (!dir) {
        snprintf(dirbuf, sizeof dirbuf, "%s/lexicons", default_data_dir());
        dir = dirbuf;
    }
    char **cats = NULL, *cats_copy = NULL;
    if (cats_arg) {
        cats = split_list(cats_arg, &cats_copy);
        if (!cats) {
            fprintf(stderr, "mhguard lexicon: out of memory\n");
            return 2;
        }
    }
    char cachebuf[4096];
    if (!strcmp(sub, "compile") && !cache_dir) {
        if (is_dir(dir)) snprintf(cachebuf, sizeof cachebuf, "%s", dir);
        else {
            snprintf(cachebuf, sizeof cachebuf, "%s", dir);
            char *slash = strrchr(cachebuf, '/');
            if (slash) *slash = '\0';
            else snprintf(cachebuf, sizeof cachebuf, ".");
        }
        cache_dir = cachebuf;
    }
    mhg_lexicon_options o = {.path = dir,
                             .cache_dir = !strcmp(sub, "compile") ? cache_dir : NULL,
                             .categories = (const char *const *)cats};
    static char err[65536];
    mhg_lexicon *lex = NULL;
    double t0 = now_s();
    mhg_status st = mhg_lexicon_load_ex(&o, &lex, err, sizeof err);
    double dt = now_s() - t0;
    int rc = 0;
    if (st != MHG_OK) {
        fprintf(stderr, "%s\n", err);
        fprintf(stderr, "mhguard lexicon: %s: %s\n", dir, mhg_strerror(st));
        rc = st == MHG_ERR_PARSE || st == MHG_ERR_COMPILE ? 1 : 2;
    } else if (!strcmp(sub, "scan")) {
        rc = cmd_scan(lex, text);
    } else {
        if (!quiet) {
            printf("lexicon %s: %zu files, %zu entries and cues, version %s, %s in %.2f s\n", dir,
                   mhg_lexicon_lang_count(lex), mhg_lexicon_entry_count(lex),
                   mhg_lexicon_version(lex), mhg_lexicon_from_cache(lex) ? "loaded" : "compiled",
                   dt);
            print_counts(lex, (const char *const *)cats);
        }
        if (!strcmp(sub, "compile")) {
            char werr[512];
            st = mhg_lexicon_write_cache(lex, werr, sizeof werr);
            if (st != MHG_OK) {
                fprintf(stderr, "mhguard lexicon: cannot write the cache: %s\n", werr);
                rc = 1;
            } else {
                printf("cache: %s\n", mhg_lexicon_cache_path(lex));
            }
        } else if (!quiet) {
            printf("ok\n");
        }
    }
    mhg_lexicon_free(lex);
    free(cats_copy);
    free(cats);
    return rc;
}
