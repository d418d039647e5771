/*
 * cmd_train.c - `mhguard train`: build the learned risk model from labeled
 * JSON lines (the shared corpus and the project's chat set), calibrate it
 * on the dev split, pick the level thresholds on dev, and write the model
 * plus a manifest (<out>.json) that says how to rebuild it.
 *
 * Determinism: rows are read in command-line order, liblinear's primal
 * solver is deterministic, and nothing in the model depends on the clock,
 * so the same command on the same data writes the same bytes. Only the
 * manifest carries a date.
 *
 * Evaluation data never enters: rows whose split is neither --split nor
 * --dev-split (e.g. "test") are skipped and counted.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/labeled_data.h"
#include "mhguard.h"
#include "mhguard/classify.h"
#include "mhguard/eval.h"

#define MAX_FILES 64

/* Null-labelled rows of the sources named by --null-negatives count as
 * negatives, EXCEPT rows whose lower-cased text contains one of these
 * stems: such rows (a GoEmotions comment about suicide, a Dreaddit post
 * about self-harm) may well be positives, so they are left out rather than
 * taught as "safe". English and Spanish: the corpus languages. */
static const char *const EXCLUDE_STEMS[] = {
    "suicid", "kill myself", "killing myself", "kill my self", "kms", "end my life",
    "end it all", "ending it all", "want to die", "wanna die", "wish i was dead",
    "wish i were dead", "better off dead", "self harm", "self-harm", "selfharm", "cut myself",
    "cutting myself", "cutting", "hurt myself", "hurting myself", "overdose", "hang myself",
    "want to live", "reason to live", "my own life", "unalive", "not be here", "disappear forever",
    "matarme", "quiero morir", "me quiero morir", "quitarme la vida", "no quiero vivir",
    "cortarme", "die", "dying", "dead", "death", "kill"};

static void usage(FILE *f) {
    fprintf(f,
            "usage: mhguard train --data FILE.jsonl [--data FILE ...] --out MODEL\n"
            "         [--split train] [--dev-split dev] [--seed N] [--c C] [--balance]\n"
            "         [--hash-bits 18] [--word-ngrams 2] [--char-ngrams 3-5] [--weight-bits 16]\n"
            "         [--heads auto|suicide,self_harm,...] [--min-positives 40]\n"
            "         [--null-negatives SRC,SRC] [--weight SRC=K,...] [--threshold-rule f1|fprX|f1+fprX]\n"
            "         [--head-thresholds CAT=LOW:MODERATE|CAT=off,...]\n"
            "Trains on rows with split == --split, calibrates and picks thresholds on\n"
            "--dev-split; other rows (test) are never read into the model. Labels: a\n"
            "field named after the category (1/0/true/false), or labels.<category> as a\n"
            "level (moderate and above is positive). Writes MODEL and MODEL.json.\n");
}

static int contains_stem(const char *text) {
    size_t n = strlen(text);
    char *low = malloc(n + 1);
    if (!low) return 1; /* fail towards leaving the row out */
    for (size_t i = 0; i <= n; i++) {
        char c = text[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    int hit = 0;
    for (size_t k = 0; k < sizeof EXCLUDE_STEMS / sizeof *EXCLUDE_STEMS && !hit; k++)
        hit = strstr(low, EXCLUDE_STEMS[k]) != NULL;
    mhg_memzero(low, n);
    free(low);
    return hit;
}

static int in_list(const char *list, const char *item) {
    if (!list || !item) return 0;
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, item, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* --weight SRC=K[,SRC=K]: training rows of source SRC count K times
 * (liblinear 2.3 has no instance weights; copies are equivalent for the
 * loss and keep the solver deterministic). */
static int source_weight(const char *spec, const char *source) {
    if (!spec || !source) return 1;
    size_t n = strlen(source);
    for (const char *p = spec; *p;) {
        const char *eq = strchr(p, '=');
        if (!eq) break;
        int k = atoi(eq + 1);
        if ((size_t)(eq - p) == n && !strncmp(p, source, n)) return k < 1 ? 1 : k > 100 ? 100 : k;
        const char *c = strchr(eq, ',');
        if (!c) break;
        p = c + 1;
    }
    return 1;
}

/* --head-thresholds suicide=0.3:0.6,self_harm=off: thresholds fixed from a
 * dev evaluation of the fused engine (docs/model-card.md) instead of the
 * model-alone rule; "off" (2.0) means the head never sets a level by
 * itself. Returns 1 when cat is named. */
static int head_override(const char *spec, const char *cat, double *t_low, double *t_mod) {
    if (!spec) return 0;
    size_t n = strlen(cat);
    for (const char *p = spec; *p;) {
        const char *eq = strchr(p, '=');
        if (!eq) return 0;
        if ((size_t)(eq - p) == n && !strncmp(p, cat, n)) {
            if (!strncmp(eq + 1, "off", 3)) {
                *t_low = *t_mod = 2.0;
            } else {
                double a, b;
                if (sscanf(eq + 1, "%lf:%lf", &a, &b) != 2) return 0;
                *t_low = a, *t_mod = b;
            }
            return 1;
        }
        const char *c = strchr(eq, ',');
        if (!c) return 0;
        p = c + 1;
    }
    return 0;
}

typedef struct file_stats {
    const char *path;
    char sha[65];
    size_t rows, train, dev, skipped_split, bad;
} file_stats;

/* Threshold on calibrated probabilities: "f1" maximizes F1 on dev; "fprX"
 * (e.g. fpr0.05) takes the lowest threshold whose dev FPR is <= X; the
 * caller's "f1+fprX" takes the larger (stricter) of the two. */
static double pick_threshold(const int8_t *y, const double *p, size_t n, const char *rule,
                             double beta) {
    double best_t = 0.5, best = -1;
    double fpr_max = -1;
    if (rule && !strncmp(rule, "fpr", 3)) fpr_max = atof(rule + 3);
    size_t P = 0, N = 0;
    for (size_t i = 0; i < n; i++) y[i] == 1 ? P++ : N++;
    for (int k = 1; k < 1000; k++) {
        double t = k / 1000.0;
        size_t tp = 0, fp = 0;
        for (size_t i = 0; i < n; i++)
            if (p[i] >= t) y[i] == 1 ? tp++ : fp++;
        if (fpr_max >= 0 && beta == 1.0) {
            if (N && (double)fp / (double)N <= fpr_max) return t;
            continue;
        }
        double prec = tp + fp ? (double)tp / (double)(tp + fp) : 0;
        double rec = P ? (double)tp / (double)P : 0;
        double b2 = beta * beta;
        double f = prec + rec > 0 ? (1 + b2) * prec * rec / (b2 * prec + rec) : 0;
        if (f > best + 1e-12) best = f, best_t = t;
    }
    return best_t;
}

int mhg_cmd_train(int argc, char **argv) {
    const char *files[MAX_FILES];
    size_t n_files = 0;
    const char *out = NULL, *split = "train", *dev_split = "dev", *heads_arg = "auto";
    const char *null_neg = NULL, *rule = "f1", *weights = NULL, *head_thr = NULL;
    mhg_feature_config cfg;
    mhg_feature_config_default(&cfg);
    mhg_train_options topt;
    mhg_train_options_default(&topt);
    long min_pos = 40;
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},       {"out", required_argument, 0, 'o'},
        {"split", required_argument, 0, 's'},      {"dev-split", required_argument, 0, 'D'},
        {"seed", required_argument, 0, 'S'},       {"c", required_argument, 0, 'c'},
        {"balance", no_argument, 0, 'b'},          {"hash-bits", required_argument, 0, 'H'},
        {"word-ngrams", required_argument, 0, 'w'}, {"char-ngrams", required_argument, 0, 'g'},
        {"weight-bits", required_argument, 0, 'q'}, {"heads", required_argument, 0, 'h'},
        {"min-positives", required_argument, 0, 'm'}, {"null-negatives", required_argument, 0, 'n'},
        {"threshold-rule", required_argument, 0, 't'}, {"help", no_argument, 0, 'x'},
        {"weight", required_argument, 0, 'W'},
        {"head-thresholds", required_argument, 0, 'T'},
        {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (n_files == MAX_FILES) {
                fprintf(stderr, "mhguard train: at most %d --data files\n", MAX_FILES);
                return 2;
            }
            files[n_files++] = optarg;
            break;
        case 'o': out = optarg; break;
        case 's': split = optarg; break;
        case 'D': dev_split = optarg; break;
        case 'S': topt.seed = (uint32_t)strtoul(optarg, NULL, 10); cfg.seed = topt.seed; break;
        case 'c': topt.C = atof(optarg); break;
        case 'b': topt.balance = 1; break;
        case 'H': cfg.hash_bits = (uint32_t)atoi(optarg); break;
        case 'w': cfg.word_ngrams = (uint8_t)atoi(optarg); break;
        case 'g': {
            int a = 0, b = 0;
            if (sscanf(optarg, "%d-%d", &a, &b) != 2 || a < 0 || b < a || b > 8) {
                fprintf(stderr, "mhguard train: --char-ngrams wants MIN-MAX, e.g. 3-5\n");
                return 2;
            }
            cfg.char_min = (uint8_t)a, cfg.char_max = (uint8_t)b;
            break;
        }
        case 'q': topt.weight_bits = atoi(optarg); break;
        case 'h': heads_arg = optarg; break;
        case 'm': min_pos = atol(optarg); break;
        case 'n': null_neg = optarg; break;
        case 't': rule = optarg; break;
        case 'W': weights = optarg; break;
        case 'T': head_thr = optarg; break;
        case 'x': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!n_files || !out || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(rule, "f1") && strncmp(rule, "fpr", 3) && strncmp(rule, "f1+fpr", 6)) {
        fprintf(stderr, "mhguard train: --threshold-rule is f1, fprX (e.g. fpr0.05) or f1+fprX\n");
        return 2;
    }

    /* Pass 1: read every row once into memory (text normalized, labels per
     * category), so that "auto" heads can be chosen from the counts. */
    typedef struct row {
        char *norm;
        size_t len;
        int8_t lab[MHG_CAT_COUNT];
        int is_dev;
        int reps; /* training copies (--weight) */
    } row;
    row *rows = NULL;
    size_t n_rows = 0, cap_rows = 0, n_excluded = 0, n_null_neg = 0;
    file_stats fs[MAX_FILES];
    memset(fs, 0, sizeof fs);
    mhg_normalized norm;
    mhg_normalized_init(&norm);
    char *buf = NULL;
    size_t bcap = 0;
    int rc = 0;
    for (size_t fi = 0; fi < n_files; fi++) {
        fs[fi].path = files[fi];
        if (mhgc_sha256_file(files[fi], fs[fi].sha) != 0) {
            fprintf(stderr, "mhguard train: cannot read %s\n", files[fi]);
            rc = 2;
            goto done;
        }
        FILE *f = fopen(files[fi], "rb");
        if (!f) {
            fprintf(stderr, "mhguard train: cannot open %s\n", files[fi]);
            rc = 2;
            goto done;
        }
        size_t lineno = 0;
        for (;;) {
            int eof;
            char err[256];
            json_t *r = mhgc_read_row(f, &buf, &bcap, &lineno, &eof, err, sizeof err);
            if (eof) break;
            fs[fi].rows++;
            if (!r) {
                fs[fi].bad++;
                fprintf(stderr, "mhguard train: %s: %s (skipped)\n", files[fi], err);
                continue;
            }
            const char *sp = mhgc_row_str(r, "split");
            int is_dev = sp && !strcmp(sp, dev_split);
            if (!sp || (strcmp(sp, split) && !is_dev)) {
                fs[fi].skipped_split++;
                json_decref(r);
                continue;
            }
            const char *text = mhgc_row_str(r, "text");
            size_t tlen = json_string_length(json_object_get(r, "text"));
            const char *source = mhgc_row_str(r, "source");
            int null_ok = in_list(null_neg, source);
            int8_t lab[MHG_CAT_COUNT];
            int any = 0;
            for (int k = 0; k < MHG_CAT_COUNT; k++) {
                int l = mhgc_row_label(r, mhg_category_name((mhg_category)k));
                if (l < 0 && null_ok) {
                    if (contains_stem(text)) {
                        l = -1;
                    } else {
                        l = 0;
                    }
                }
                lab[k] = (int8_t)l;
                any |= l >= 0;
            }
            if (null_ok) {
                if (contains_stem(text))
                    n_excluded++;
                else
                    n_null_neg++;
            }
            if (!any) {
                json_decref(r);
                continue;
            }
            int reps = is_dev ? 1 : source_weight(weights, source);
            mhg_status st = mhg_normalize(text, tlen, MHG_NORM_TEXT, &norm);
            json_decref(r); /* text and source are dangling from here */
            if (st != MHG_OK) {
                fs[fi].bad++;
                fprintf(stderr, "mhguard train: %s line %zu: %s (skipped)\n", files[fi], lineno,
                        mhg_strerror(st));
                continue;
            }
            if (n_rows == cap_rows) {
                size_t nc = cap_rows ? cap_rows * 2 : 4096;
                row *nr = realloc(rows, nc * sizeof *nr);
                if (!nr) {
                    fclose(f);
                    rc = 2;
                    goto done;
                }
                rows = nr, cap_rows = nc;
            }
            row *rw = &rows[n_rows];
            rw->norm = malloc(norm.len + 1);
            if (!rw->norm) {
                fclose(f);
                rc = 2;
                goto done;
            }
            memcpy(rw->norm, norm.text, norm.len + 1);
            rw->len = norm.len;
            memcpy(rw->lab, lab, sizeof lab);
            rw->is_dev = is_dev;
            rw->reps = reps;
            n_rows++;
            if (is_dev)
                fs[fi].dev++;
            else
                fs[fi].train++;
        }
        fclose(f);
    }

    /* heads */
    mhg_category heads[MHG_CAT_COUNT];
    size_t n_heads = 0;
    size_t pos_count[MHG_CAT_COUNT] = {0};
    for (size_t i = 0; i < n_rows; i++)
        for (int k = 0; k < MHG_CAT_COUNT; k++) pos_count[k] += !rows[i].is_dev && rows[i].lab[k] == 1;
    if (!strcmp(heads_arg, "auto")) {
        heads[n_heads++] = MHG_CAT_SUICIDE;
        heads[n_heads++] = MHG_CAT_SELF_HARM;
        for (int k = 0; k < MHG_CAT_COUNT; k++)
            if (k != MHG_CAT_SUICIDE && k != MHG_CAT_SELF_HARM && (long)pos_count[k] >= min_pos)
                heads[n_heads++] = (mhg_category)k;
    } else {
        for (int k = 0; k < MHG_CAT_COUNT; k++)
            if (in_list(heads_arg, mhg_category_name((mhg_category)k))) heads[n_heads++] = (mhg_category)k;
        if (!n_heads) {
            fprintf(stderr, "mhguard train: --heads names no known category\n");
            rc = 2;
            goto done;
        }
    }
    mhg_trainer *tr = NULL;
    if (mhg_trainer_new(&cfg, heads, n_heads, &tr) != MHG_OK) {
        fprintf(stderr, "mhguard train: invalid feature settings\n");
        rc = 2;
        goto done;
    }
    for (size_t i = 0; i < n_rows; i++) {
        int8_t l[MHG_CAT_COUNT];
        for (size_t h = 0; h < n_heads; h++) l[h] = rows[i].lab[heads[h]];
        for (int k = 0; k < rows[i].reps; k++)
            if (mhg_trainer_add(tr, rows[i].norm, rows[i].len, l, rows[i].is_dev) != MHG_OK) {
                fprintf(stderr, "mhguard train: feature extraction failed\n");
                mhg_trainer_free(tr);
                rc = 2;
                goto done;
            }
    }
    fprintf(stderr, "mhguard train: %zu rows, %zu heads; fitting...\n", n_rows, n_heads);
    mhg_model *model = NULL;
    char err[256] = "";
    mhg_status st = mhg_trainer_fit(tr, &topt, &model, err, sizeof err);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard train: %s: %s\n", mhg_strerror(st), err);
        mhg_trainer_free(tr);
        rc = 2;
        goto done;
    }

    /* thresholds on dev, and the manifest's dev metrics */
    json_t *jheads = json_array();
    for (size_t h = 0; h < n_heads; h++) {
        const int8_t *y;
        const double *p;
        size_t n;
        mhg_trainer_dev_scores(tr, h, &y, &p, &n);
        double t_mod = 2.0, t_low = 2.0;
        if (n) {
            if (!strncmp(rule, "f1+fpr", 6)) /* the stricter of the two */
                t_mod = fmax(pick_threshold(y, p, n, "f1", 1.0), pick_threshold(y, p, n, rule + 3, 1.0));
            else
                t_mod = pick_threshold(y, p, n, rule, 1.0);
            t_low = pick_threshold(y, p, n, "f1", 2.0); /* recall-weighted */
            if (t_low > t_mod) t_low = t_mod;
        }
        const char *how = rule;
        if (head_override(head_thr, mhg_category_name(heads[h]), &t_low, &t_mod)) how = "fixed (--head-thresholds)";
        if (mhg_model_set_thresholds(model, h, t_low, t_mod) != MHG_OK) {
            rc = 2;
            break;
        }
        const mhg_model_head *hd = mhg_model_head_get(model, h);
        size_t tp, tn, dp, dn;
        mhg_trainer_counts(tr, h, &tp, &tn, &dp, &dn);
        json_t *jh = json_object();
        json_object_set_new(jh, "category", json_string(mhg_category_name(heads[h])));
        json_object_set_new(jh, "train_positives", json_integer((json_int_t)tp));
        json_object_set_new(jh, "train_negatives", json_integer((json_int_t)tn));
        json_object_set_new(jh, "dev_positives", json_integer((json_int_t)dp));
        json_object_set_new(jh, "dev_negatives", json_integer((json_int_t)dn));
        json_object_set_new(jh, "platt_a", json_real(hd->platt_a));
        json_object_set_new(jh, "platt_b", json_real(hd->platt_b));
        json_object_set_new(jh, "bias", json_real(hd->bias));
        json_object_set_new(jh, "t_low", json_real(t_low));
        json_object_set_new(jh, "t_moderate", json_real(t_mod));
        json_object_set_new(jh, "threshold_source", json_string(how));
        if (n) {
            uint8_t *pred = malloc(n);
            if (pred) {
                for (size_t i = 0; i < n; i++) pred[i] = p[i] >= t_mod;
                mhg_eval_summary sm;
                mhg_eval_options eo;
                mhg_eval_options_default(&eo);
                eo.bootstrap_reps = 0;
                if (mhg_eval_summarize(p, y, pred, n, &eo, &sm) == MHG_OK) {
                    json_t *m = json_object();
                    json_object_set_new(m, "note", json_string("model alone, pooled dev rows with a known label for this head; per-source figures: mhguard eval"));
                    json_object_set_new(m, "auprc", json_real(sm.auprc.value));
                    json_object_set_new(m, "roc_auc", json_real(sm.roc_auc.value));
                    json_object_set_new(m, "ece", json_real(sm.ece));
                    json_object_set_new(m, "precision", json_real(isnan(sm.precision.value) ? 0 : sm.precision.value));
                    json_object_set_new(m, "recall", json_real(sm.recall.value));
                    json_object_set_new(m, "fpr", json_real(sm.fpr.value));
                    json_object_set_new(m, "f1", json_real(sm.f1.value));
                    json_object_set_new(jh, "dev_metrics", m);
                    fprintf(stderr,
                            "  %-20s train %zu+/%zu-  dev %zu+/%zu-  dev AUPRC %.3f ROC %.3f ECE %.3f"
                            "  t_mod %.3f: P %.3f R %.3f FPR %.3f\n",
                            mhg_category_name(heads[h]), tp, tn, dp, dn, sm.auprc.value,
                            sm.roc_auc.value, sm.ece, t_mod, sm.precision.value, sm.recall.value,
                            sm.fpr.value);
                }
                free(pred);
            }
        }
        json_array_append_new(jheads, jh);
    }
    mhg_trainer_free(tr);
    if (rc == 0 && (st = mhg_model_save(model, out)) != MHG_OK) {
        fprintf(stderr, "mhguard train: cannot write %s: %s\n", out, mhg_strerror(st));
        rc = 2;
    }
    if (rc == 0) {
        json_t *man = json_object();
        char cmd[4096] = "mhguard";
        for (int i = 0; i < argc; i++) {
            size_t l = strlen(cmd);
            snprintf(cmd + l, sizeof cmd - l, " %s", argv[i]);
        }
        json_object_set_new(man, "command", json_string(cmd));
        json_object_set_new(man, "mhguard_version", json_string(mhg_version()));
        json_object_set_new(man, "model_version", json_string(mhg_model_version(model)));
        char msha[65];
        if (mhgc_sha256_file(out, msha) == 0) json_object_set_new(man, "model_sha256", json_string(msha));
        json_object_set_new(man, "model_bytes", json_integer((json_int_t)mhg_model_file_size(model)));
        time_t now = time(NULL);
        struct tm tmv;
        char date[32];
        gmtime_r(&now, &tmv);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
        json_object_set_new(man, "date", json_string(date));
        json_t *jd = json_array();
        for (size_t fi = 0; fi < n_files; fi++) {
            json_t *x = json_object();
            json_object_set_new(x, "path", json_string(fs[fi].path));
            json_object_set_new(x, "sha256", json_string(fs[fi].sha));
            json_object_set_new(x, "rows", json_integer((json_int_t)fs[fi].rows));
            json_object_set_new(x, "train_rows_used", json_integer((json_int_t)fs[fi].train));
            json_object_set_new(x, "dev_rows_used", json_integer((json_int_t)fs[fi].dev));
            json_object_set_new(x, "rows_other_splits_skipped", json_integer((json_int_t)fs[fi].skipped_split));
            json_object_set_new(x, "bad_rows", json_integer((json_int_t)fs[fi].bad));
            json_array_append_new(jd, x);
        }
        json_object_set_new(man, "data", jd);
        json_t *jf = json_object();
        json_object_set_new(jf, "normalization", json_string("mhg_normalize(MHG_NORM_TEXT)"));
        json_object_set_new(jf, "hash_bits", json_integer(cfg.hash_bits));
        json_object_set_new(jf, "hash_seed", json_integer(cfg.seed));
        json_object_set_new(jf, "word_ngrams", json_integer(cfg.word_ngrams));
        json_object_set_new(jf, "char_ngrams_min", json_integer(cfg.char_min));
        json_object_set_new(jf, "char_ngrams_max", json_integer(cfg.char_max));
        json_object_set_new(jf, "signed_hashing", json_true());
        json_object_set_new(man, "features", jf);
        json_t *jt = json_object();
        json_object_set_new(jt, "solver", json_string("liblinear L2R_LR (primal Newton)"));
        json_object_set_new(jt, "C", json_real(topt.C));
        json_object_set_new(jt, "eps", json_real(topt.eps));
        json_object_set_new(jt, "balance", json_boolean(topt.balance));
        json_object_set_new(jt, "weight_bits", json_integer(topt.weight_bits));
        json_object_set_new(jt, "seed", json_integer(topt.seed));
        json_object_set_new(jt, "train_split", json_string(split));
        json_object_set_new(jt, "dev_split", json_string(dev_split));
        json_object_set_new(jt, "calibration", json_string("Platt (Lin-Lin-Weng) on dev, quantized weights"));
        json_object_set_new(jt, "threshold_rule", json_string(rule));
        json_object_set_new(jt, "source_weights", json_string(weights ? weights : ""));
        json_object_set_new(jt, "t_low_rule", json_string("max F2 on dev (capped at t_moderate)"));
        json_object_set_new(man, "training", jt);
        json_t *jn = json_object();
        json_object_set_new(jn, "sources", json_string(null_neg ? null_neg : ""));
        json_object_set_new(jn, "rows_used_as_negatives", json_integer((json_int_t)n_null_neg));
        json_object_set_new(jn, "rows_excluded_by_stem", json_integer((json_int_t)n_excluded));
        json_t *stems = json_array();
        for (size_t k = 0; k < sizeof EXCLUDE_STEMS / sizeof *EXCLUDE_STEMS; k++)
            json_array_append_new(stems, json_string(EXCLUDE_STEMS[k]));
        json_object_set_new(jn, "exclusion_stems", stems);
        json_object_set_new(man, "null_label_policy", jn);
        json_object_set_new(man, "heads", jheads);
        jheads = NULL;
        char *mpath = malloc(strlen(out) + 6);
        if (mpath) {
            snprintf(mpath, strlen(out) + 6, "%s.json", out);
            if (json_dump_file(man, mpath, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0) {
                fprintf(stderr, "mhguard train: cannot write %s\n", mpath);
                rc = 2;
            }
            free(mpath);
        }
        json_decref(man);
        if (rc == 0)
            fprintf(stderr, "mhguard train: wrote %s (%zu bytes, version %s)\n", out,
                    mhg_model_file_size(model), mhg_model_version(model));
    }
    json_decref(jheads);
    mhg_model_free(model);

done:
    for (size_t i = 0; i < n_rows; i++) {
        mhg_memzero(rows[i].norm, rows[i].len);
        free(rows[i].norm);
    }
    free(rows);
    free(buf);
    mhg_normalized_free(&norm);
    return rc;
}
