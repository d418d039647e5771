/*
 * cmd_calibrate.c - `mhguard calibrate`: fit the engine's score calibration
 * (include/mhguard/calibration.h) on labelled dev rows.
 *
 * Scores every row of the chosen split through the full engine exactly as
 * `mhguard eval` does (stateless, the row's "lang" as hint), with the
 * calibration switched off, and fits one isotonic mapping per category that
 * has enough labelled rows. Labels as in train/eval (labeled_data.h); null
 * labels are left out. The test split is refused: calibration is a setting,
 * and settings are chosen on dev. Same files -> same output bytes (no clock,
 * rows in command-line order, the fit does not depend on row order anyway).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/labeled_data.h"
#include "mhguard.h"
#include "mhguard/calibration.h"

#define MAX_FILES 64

typedef struct series {
    double *s;
    int *l;
    size_t n, cap, pos;
} series;

static int push(series *z, double s, int l) {
    if (z->n == z->cap) {
        size_t nc = z->cap ? z->cap * 2 : 4096;
        double *ns = realloc(z->s, nc * sizeof *ns);
        if (!ns) return -1;
        z->s = ns;
        int *nl = realloc(z->l, nc * sizeof *nl);
        if (!nl) return -1;
        z->l = nl;
        z->cap = nc;
    }
    z->s[z->n] = s;
    z->l[z->n++] = l;
    z->pos += l == 1;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: mhguard calibrate --data FILE.jsonl [--data ...] --out FILE.json\n"
            "         [--split dev] [--categories suicide,self_harm] [--min-positives 20]\n"
            "         [--model PATH] [--data-dir DIR]\n\n"
            "Fits the engine's per-category score calibration (isotonic regression of the\n"
            "label on the raw fused score) on the rows of --split (default dev; test is\n"
            "refused). A category with fewer than --min-positives positive or negative\n"
            "labelled rows gets no mapping (its score stays on the engine scale).\n");
}

int mhg_cmd_calibrate(int argc, char **argv) {
    const char *files[MAX_FILES];
    size_t n_files = 0;
    const char *out_path = NULL, *split = "dev", *cats_arg = "suicide,self_harm";
    const char *model_path = NULL, *data_dir = NULL;
    long min_pos = 20;
    static const struct option lo[] = {
        {"data", required_argument, 0, 'd'},       {"out", required_argument, 0, 'o'},
        {"split", required_argument, 0, 's'},      {"categories", required_argument, 0, 'c'},
        {"min-positives", required_argument, 0, 'p'}, {"model", required_argument, 0, 'm'},
        {"data-dir", required_argument, 0, 'D'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            if (n_files == MAX_FILES) {
                fprintf(stderr, "mhguard calibrate: at most %d --data files\n", MAX_FILES);
                return 2;
            }
            files[n_files++] = optarg;
            break;
        case 'o': out_path = optarg; break;
        case 's': split = optarg; break;
        case 'c': cats_arg = optarg; break;
        case 'm': model_path = optarg; break;
        case 'D': data_dir = optarg; break;
        case 'p': {
            char *end;
            min_pos = strtol(optarg, &end, 10);
            if (*end || min_pos < 1) {
                fprintf(stderr, "mhguard calibrate: --min-positives wants a number >= 1\n");
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!n_files || !out_path || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(split, "test")) {
        fprintf(stderr, "mhguard calibrate: refusing --split test (calibrate on dev; the test "
                        "split is for the final report only)\n");
        return 2;
    }
    int want[MHG_CAT_COUNT] = {0};
    {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", cats_arg);
        for (char *sv, *t = strtok_r(buf, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
            mhg_category c;
            if (mhg_category_parse(t, &c) != MHG_OK) {
                fprintf(stderr, "mhguard calibrate: unknown category '%s'\n", t);
                return 2;
            }
            want[c] = 1;
        }
    }
    mhg_engine_options o;
    memset(&o, 0, sizeof o);
    o.data_dir = data_dir;
    o.model_path = model_path;
    o.calibration_path = ""; /* fit on the raw engine scale */
    mhg_engine *eng = NULL;
    mhg_scratch *scr = NULL;
    char err[1024] = "";
    if (mhg_engine_load(&o, &eng, err, sizeof err) != MHG_OK) {
        fprintf(stderr, "mhguard calibrate: engine: %s\n", err);
        return 2;
    }
    if (!strcmp(mhg_engine_model_version(eng), "none")) {
        fprintf(stderr, "mhguard calibrate: no model loaded (the calibration belongs to a model)\n");
        mhg_engine_free(eng);
        return 2;
    }
    int rc = 0;
    series z[MHG_CAT_COUNT];
    memset(z, 0, sizeof z);
    mhg_verdict v;
    mhg_verdict_init(&v);
    json_t *hashes = json_array();
    char *line = NULL;
    size_t cap = 0, n_rows = 0, n_bad = 0, n_failed = 0;
    if (mhg_scratch_new(eng, &scr) != MHG_OK || !hashes) {
        fprintf(stderr, "mhguard calibrate: out of memory\n");
        rc = 2;
        goto out;
    }
    for (size_t fi = 0; fi < n_files && rc == 0; fi++) {
        char hex[65];
        FILE *f = fopen(files[fi], "rb");
        if (!f || mhgc_sha256_file(files[fi], hex) != 0) {
            fprintf(stderr, "mhguard calibrate: cannot read %s\n", files[fi]);
            if (f) fclose(f);
            rc = 2;
            break;
        }
        const char *base = strrchr(files[fi], '/');
        json_array_append_new(hashes, json_pack("{s:s,s:s}", "file", base ? base + 1 : files[fi],
                                                "sha256", hex));
        size_t lineno = 0;
        for (;;) {
            int eof;
            char rerr[256];
            json_t *r = mhgc_read_row(f, &line, &cap, &lineno, &eof, rerr, sizeof rerr);
            if (eof) break;
            if (!r) {
                n_bad++;
                fprintf(stderr, "mhguard calibrate: %s: %s\n", files[fi], rerr);
                continue;
            }
            const char *sp = mhgc_row_str(r, "split");
            const char *text = mhgc_row_str(r, "text");
            int lab[MHG_CAT_COUNT], any = 0;
            for (int c = 0; c < MHG_CAT_COUNT; c++) {
                lab[c] = want[c] ? mhgc_row_label(r, mhg_category_name((mhg_category)c)) : -1;
                any |= lab[c] >= 0;
            }
            if (!sp || strcmp(sp, split) || !text || !any) {
                json_decref(r);
                continue;
            }
            size_t tlen = json_string_length(json_object_get(r, "text"));
            mhg_status st = mhg_assess(eng, scr, text, tlen, mhgc_row_str(r, "lang"), NULL, &v);
            if (st != MHG_OK) {
                n_failed++;
                fprintf(stderr, "mhguard calibrate: %s line %zu: %s\n", files[fi], lineno,
                        mhg_strerror(st));
                json_decref(r);
                continue;
            }
            n_rows++;
            for (int c = 0; c < MHG_CAT_COUNT; c++)
                if (lab[c] >= 0 && push(&z[c], v.categories[c].score, lab[c]) != 0) {
                    fprintf(stderr, "mhguard calibrate: out of memory\n");
                    rc = 2;
                }
            json_decref(r);
            if (rc) break;
        }
        fclose(f);
    }
    if (rc) goto out;
    mhg_calibration *cal = NULL;
    if (mhg_calibration_new(mhg_engine_model_version(eng), &cal) != MHG_OK) {
        rc = 2;
        goto out;
    }
    json_t *counts = json_object();
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        if (!want[c]) continue;
        const char *name = mhg_category_name((mhg_category)c);
        size_t neg = z[c].n - z[c].pos;
        json_object_set_new(counts, name, json_pack("{s:I,s:I}", "rows", (json_int_t)z[c].n,
                                                    "positives", (json_int_t)z[c].pos));
        if (z[c].pos < (size_t)min_pos || neg < (size_t)min_pos) {
            fprintf(stderr, "mhguard calibrate: %s: %zu positives, %zu negatives (< %ld): no mapping\n",
                    name, z[c].pos, neg, min_pos);
            continue;
        }
        mhg_status st = mhg_calibration_fit(cal, (mhg_category)c, z[c].s, z[c].l, z[c].n);
        if (st != MHG_OK) {
            fprintf(stderr, "mhguard calibrate: %s: fit failed: %s\n", name, mhg_strerror(st));
            rc = 2;
            break;
        }
        size_t nk;
        mhg_calibration_knots(cal, (mhg_category)c, NULL, NULL, &nk, NULL, NULL);
        printf("%-20s rows %6zu  positives %5zu  knots %3zu\n", name, z[c].n, z[c].pos, nk);
    }
    if (rc == 0) {
        /* the command as given (paths as typed), for the file's reader */
        json_t *cmd = json_array();
        json_array_append_new(cmd, json_string("mhguard"));
        for (int i = 0; i < argc; i++) json_array_append_new(cmd, json_string(argv[i]));
        json_t *info = json_pack("{s:o,s:s,s:s,s:s,s:I,s:I,s:o,s:o}", "command", cmd, "split",
                                 split, "engine", mhg_engine_version(eng), "lexicon",
                                 mhg_engine_lexicon_version(eng), "min_positives",
                                 (json_int_t)min_pos, "rows_scored", (json_int_t)n_rows, "data",
                                 json_incref(hashes), "labelled", counts);
        counts = NULL;
        char *info_s = info ? json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(info);
        char serr[512] = "";
        if (!info_s || mhg_calibration_save(cal, out_path, info_s, serr, sizeof serr) != MHG_OK) {
            fprintf(stderr, "mhguard calibrate: %s\n", serr[0] ? serr : "out of memory");
            rc = 2;
        } else {
            printf("wrote %s (%s, model %s, lexicon %s)\n", out_path, mhg_calibration_version(cal),
                   mhg_calibration_model(cal), mhg_engine_lexicon_version(eng));
        }
        free(info_s);
    }
    json_decref(counts);
    mhg_calibration_free(cal);
    if (rc == 0 && (n_bad || n_failed)) rc = 1;
out:
    free(line);
    json_decref(hashes);
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        free(z[c].s);
        free(z[c].l);
    }
    mhg_verdict_free(&v);
    mhg_scratch_free(scr);
    mhg_engine_free(eng);
    return rc;
}
