/*
 * cmd_eval.c - `mhguard eval`: score labeled JSON lines with one or more
 * systems and report precision, recall, F1, FPR, AUPRC, ROC-AUC, ECE with
 * a reliability table, the confusion matrix at the operating point and a
 * threshold sweep, overall and per group with 95 % intervals, as a
 * terminal table, JSON (--json) and a self-contained HTML page (--html).
 *
 * Null labels are not negatives: such rows enter no metric, and the report
 * shows how many of them each system flags (per source), which is what the
 * null-labelled corpus sources (counsel-chat, dreaddit, goemotions) are for.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/eval_scorers.h"
#include "cli/labeled_data.h"
#include "mhguard.h"
#include "mhguard/classify.h"
#include "mhguard/eval.h"

#define MAX_SYS 8
#define MAX_TASKS 8
#define MAX_FILES 32

/* ---- scorers ---- */

typedef struct id_scores {
    char *id;
    double score[MHG_CAT_COUNT];
    int have[MHG_CAT_COUNT];
} id_scores;

struct mhgc_scorer {
    int kind; /* 0 engine, 1 model, 2 scores */
    char name[256];
    double threshold;
    void *engine;
    mhg_model *model;
    mhg_model_scratch *mscratch;
    mhg_normalized norm;
    id_scores *tab; /* sorted by id */
    size_t n_tab;
    double cpu_seconds;
    size_t n_scored;
};

static int cmp_ids(const void *a, const void *b) {
    return strcmp(((const id_scores *)a)->id, ((const id_scores *)b)->id);
}

static int load_scores(mhgc_scorer *s, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open scores file %s", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, n_alloc = 0, lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_error_t je;
        json_t *r = json_loadb(line, (size_t)n, 0, &je);
        json_t *id = json_object_get(r, "id");
        if (!json_is_object(r) || !json_is_string(id)) {
            snprintf(err, errlen, "%s line %zu: want {\"id\": ..., \"score\": ...}", path, lineno);
            json_decref(r);
            free(line);
            fclose(f);
            return -1;
        }
        if (s->n_tab == n_alloc) {
            n_alloc = n_alloc ? n_alloc * 2 : 4096;
            id_scores *nt = realloc(s->tab, n_alloc * sizeof *nt);
            if (!nt) {
                json_decref(r);
                break;
            }
            s->tab = nt;
        }
        id_scores *e = &s->tab[s->n_tab];
        memset(e, 0, sizeof *e);
        e->id = strdup(json_string_value(id));
        if (!e->id) {
            snprintf(err, errlen, "out of memory reading %s", path);
            json_decref(r);
            free(line);
            fclose(f);
            return -1;
        }
        json_t *all = json_object_get(r, "score");
        for (int k = 0; k < MHG_CAT_COUNT; k++) {
            json_t *v = json_object_get(r, mhg_category_name((mhg_category)k));
            if (!json_is_number(v)) v = all;
            if (json_is_number(v)) {
                e->score[k] = json_number_value(v);
                e->have[k] = 1;
            }
        }
        s->n_tab++;
        json_decref(r);
    }
    free(line);
    fclose(f);
    qsort(s->tab, s->n_tab, sizeof *s->tab, cmp_ids);
    return 0;
}

mhgc_scorer *mhgc_scorer_open(const char *spec, const char *data_dir, double threshold, char *err,
                              size_t errlen) {
    mhgc_scorer *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->threshold = threshold;
    mhg_normalized_init(&s->norm);
    snprintf(s->name, sizeof s->name, "%s", spec);
    if (!strncmp(spec, "model:", 6)) {
        s->kind = 1;
        if (mhg_model_load(spec + 6, &s->model, err, errlen) != MHG_OK ||
            mhg_model_scratch_new(&s->mscratch) != MHG_OK) {
            mhgc_scorer_close(s);
            return NULL;
        }
    } else if (!strncmp(spec, "scores:", 7)) {
        s->kind = 2;
        if (load_scores(s, spec + 7, err, errlen) != 0) {
            mhgc_scorer_close(s);
            return NULL;
        }
    } else if (!strcmp(spec, "engine") || !strncmp(spec, "engine:", 7) || !strcmp(spec, "rules") ||
               !strcmp(spec, "engine-raw")) {
        const char *mp = NULL;
        if (!strcmp(spec, "rules") || !strcmp(spec, "engine:none"))
            mp = "";
        else if (!strncmp(spec, "engine:", 7))
            mp = spec + 7;
        s->kind = 0;
        /* engine-raw: the default engine without its score calibration
         * (the engine's own scale; levels are the same) */
        s->engine = mhgc_engine_open(mp, !strcmp(spec, "engine-raw") ? "" : NULL, data_dir, err,
                                     errlen);
        if (!s->engine) {
            mhgc_scorer_close(s);
            return NULL;
        }
    } else {
        snprintf(err, errlen, "unknown system '%s' (engine[:MODEL|none], engine-raw, rules, model:PATH, scores:FILE)", spec);
        mhgc_scorer_close(s);
        return NULL;
    }
    return s;
}

void mhgc_scorer_close(mhgc_scorer *s) {
    if (!s) return;
    if (s->engine) mhgc_engine_close(s->engine);
    mhg_model_free(s->model);
    mhg_model_scratch_free(s->mscratch);
    mhg_normalized_free(&s->norm);
    for (size_t i = 0; i < s->n_tab; i++) free(s->tab[i].id);
    free(s->tab);
    free(s);
}

const char *mhgc_scorer_name(const mhgc_scorer *s) { return s->name; }

void mhgc_scorer_describe(const mhgc_scorer *s, void (*kv)(void *, const char *, const char *),
                          void *ud) {
    char buf[128];
    if (s->kind == 0) {
        const char *lex, *mod;
        const char *eng = mhgc_engine_versions(s->engine, &lex, &mod);
        kv(ud, "engine", eng);
        kv(ud, "lexicon", lex);
        kv(ud, "model", mod);
    } else if (s->kind == 1) {
        kv(ud, "model", mhg_model_version(s->model));
        kv(ud, "mode", "model alone (no rules, no context rules)");
    } else {
        kv(ud, "mode", "precomputed scores");
    }
    if (s->threshold >= 0) {
        snprintf(buf, sizeof buf, "score >= %.3f", s->threshold);
        kv(ud, "operating_point", buf);
    } else {
        kv(ud, "operating_point", s->kind == 0 ? "level >= moderate"
                                  : s->kind == 1 ? "calibrated p >= head t_moderate"
                                                 : "score >= 0.5");
    }
    if (s->kind != 2 && s->n_scored && s->cpu_seconds > 0) {
        snprintf(buf, sizeof buf, "%.0f (one core, CPU time, %zu messages)",
                 (double)s->n_scored / s->cpu_seconds, s->n_scored);
        kv(ud, "messages_per_second", buf);
    }
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

mhg_status mhgc_scorer_score(mhgc_scorer *s, const char *id, const char *text, size_t len,
                             const char *lang, mhgc_scores *out) {
    memset(out, 0, sizeof *out);
    mhg_status st = MHG_OK;
    double t0 = cpu_now();
    if (s->kind == 0) {
        st = mhgc_engine_score(s->engine, text, len, lang, s->threshold, out);
    } else if (s->kind == 1) {
        st = mhg_normalize(text, len, MHG_NORM_TEXT, &s->norm);
        mhg_model_output o;
        if (st == MHG_OK) st = mhg_model_classify(s->model, s->mscratch, s->norm.text, s->norm.len, &o);
        if (st == MHG_OK)
            for (size_t h = 0; h < o.n_heads; h++) {
                int k = (int)o.category[h];
                out->have[k] = 1;
                out->score[k] = o.prob[h];
                double t = s->threshold >= 0 ? s->threshold : mhg_model_head_get(s->model, h)->t_moderate;
                out->flagged[k] = o.prob[h] >= t;
            }
    } else {
        if (!id) return MHG_ERR_NOT_FOUND;
        id_scores key = {.id = (char *)id};
        id_scores *e = bsearch(&key, s->tab, s->n_tab, sizeof *s->tab, cmp_ids);
        if (!e) return MHG_ERR_NOT_FOUND;
        double t = s->threshold >= 0 ? s->threshold : 0.5;
        for (int k = 0; k < MHG_CAT_COUNT; k++) {
            out->have[k] = e->have[k];
            out->score[k] = e->score[k];
            out->flagged[k] = e->have[k] && e->score[k] >= t;
        }
    }
    s->cpu_seconds += cpu_now() - t0;
    if (st == MHG_OK) s->n_scored++;
    return st;
}

/* ---- tasks ---- */

typedef struct task {
    char name[64];
    char field[64];  /* label field in the data */
    unsigned cats;   /* categories whose max score is the task's score */
    int overall;     /* max over the other tasks */
} task;

static int parse_tasks(const char *arg, task *t, size_t *n) {
    *n = 0;
    char *dup = strdup(arg), *save = NULL;
    if (!dup) return -1;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_TASKS - 1) break;
        task *x = &t[(*n)++];
        memset(x, 0, sizeof *x);
        char *colon = strchr(tok, ':');
        if (colon) *colon = '\0';
        snprintf(x->field, sizeof x->field, "%s", tok);
        snprintf(x->name, sizeof x->name, "%s", tok);
        const char *cats = colon ? colon + 1 : tok;
        char *cd = strdup(cats), *s2 = NULL;
        for (char *c = strtok_r(cd, "+", &s2); c; c = strtok_r(NULL, "+", &s2)) {
            mhg_category k;
            if (!strcmp(c, "self_directed")) {
                x->cats |= 1u << MHG_CAT_SUICIDE | 1u << MHG_CAT_SELF_HARM;
            } else if (mhg_category_parse(c, &k) == MHG_OK) {
                x->cats |= 1u << k;
            } else {
                fprintf(stderr, "mhguard eval: '%s' is not a category; use FIELD:cat+cat\n", c);
                free(cd);
                free(dup);
                return -1;
            }
        }
        free(cd);
    }
    free(dup);
    if (*n > 1) {
        task *x = &t[(*n)++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "overall");
        x->overall = 1;
    }
    return *n ? 0 : -1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: mhguard eval --data FILE.jsonl [--data ...] [--split test]\n"
            "         [--label-field suicide[,self_harm|FIELD:cat+cat]] [--group-field lang,source]\n"
            "         [--system SPEC] [--compare SPEC|MODEL] [--model MODEL|none] [--threshold X]\n"
            "         [--json out.json] [--html report.html] [--bootstrap N] [--data-dir DIR]\n"
            "systems: engine (default: rules + shipped model), engine:MODEL, rules,\n"
            "         model:MODEL (model alone), scores:FILE (JSON lines {id, score|<category>})\n"
            "Rows whose label is null are in no metric; how many each system flags is\n"
            "reported. Exit 0 when every row was scored, 1 when some failed, 2 on usage.\n");
}

typedef struct kvctx {
    mhg_eval_set *set;
    int sys;
} kvctx;
/* Report metadata; a failure (out of memory) only loses a report line. */
static void set_info(mhg_eval_set *set, int sys, const char *k, const char *v) {
    if (mhg_eval_set_info(set, sys, k, v) != MHG_OK)
        fprintf(stderr, "mhguard eval: could not record %s\n", k);
}

static void add_kv(void *ud, const char *k, const char *v) {
    kvctx *c = ud;
    set_info(c->set, c->sys, k, v);
}

int mhg_cmd_eval(int argc, char **argv) {
    const char *files[MAX_FILES];
    size_t n_files = 0;
    const char *split = NULL, *labels_arg = "suicide", *groups_arg = "lang,source";
    const char *json_out = NULL, *html_out = NULL, *data_dir = NULL;
    const char *specs[MAX_SYS];
    size_t n_specs = 0;
    char model_spec[1024] = "";
    double threshold = -1;
    mhg_eval_options eo;
    mhg_eval_options_default(&eo);
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},        {"split", required_argument, 0, 's'},
        {"label-field", required_argument, 0, 'l'}, {"group-field", required_argument, 0, 'g'},
        {"json", required_argument, 0, 'j'},        {"html", required_argument, 0, 'H'},
        {"compare", required_argument, 0, 'c'},     {"system", required_argument, 0, 'S'},
        {"model", required_argument, 0, 'm'},       {"threshold", required_argument, 0, 't'},
        {"bootstrap", required_argument, 0, 'b'},   {"data-dir", required_argument, 0, 'D'},
        {"help", no_argument, 0, 'x'},              {0, 0, 0, 0}};
    static char compare_buf[MAX_SYS][1024];
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (n_files < MAX_FILES) files[n_files++] = optarg;
            break;
        case 's': split = optarg; break;
        case 'l': labels_arg = optarg; break;
        case 'g': groups_arg = optarg; break;
        case 'j': json_out = optarg; break;
        case 'H': html_out = optarg; break;
        case 'S':
            if (n_specs < MAX_SYS) specs[n_specs++] = optarg;
            break;
        case 'c':
            if (n_specs < MAX_SYS) {
                /* a bare path is another model for the engine */
                if (strchr(optarg, ':') || !strcmp(optarg, "rules") || !strcmp(optarg, "engine") ||
                    !strcmp(optarg, "engine-raw"))
                    snprintf(compare_buf[n_specs], sizeof compare_buf[0], "%s", optarg);
                else
                    snprintf(compare_buf[n_specs], sizeof compare_buf[0], "engine:%s", optarg);
                specs[n_specs] = compare_buf[n_specs];
                n_specs++;
            }
            break;
        case 'm': snprintf(model_spec, sizeof model_spec, "engine:%s", optarg); break;
        case 't': threshold = atof(optarg); break;
        case 'b': eo.bootstrap_reps = (unsigned)atoi(optarg); break;
        case 'D': data_dir = optarg; break;
        case 'x': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!n_files || optind < argc) {
        usage(stderr);
        return 2;
    }
    /* the primary system: --model, else the first --system, else engine */
    const char *sys_specs[MAX_SYS];
    size_t n_sys = 0;
    int explicit_system = 0;
    for (size_t i = 0; i < n_specs; i++) explicit_system |= specs[i] != compare_buf[i];
    if (model_spec[0])
        sys_specs[n_sys++] = model_spec;
    else if (!explicit_system)
        sys_specs[n_sys++] = "engine";
    for (size_t i = 0; i < n_specs && n_sys < MAX_SYS; i++) sys_specs[n_sys++] = specs[i];

    task tasks[MAX_TASKS];
    size_t n_tasks;
    if (parse_tasks(labels_arg, tasks, &n_tasks) != 0) return 2;
    const char *fields[8];
    size_t n_fields = 0;
    char *gdup = strdup(groups_arg), *gs = NULL;
    for (char *g = strtok_r(gdup, ",", &gs); g && n_fields < 8; g = strtok_r(NULL, ",", &gs))
        if (*g) fields[n_fields++] = g;

    mhgc_scorer *sc[MAX_SYS] = {0};
    const char *names[MAX_SYS];
    int rc = 0;
    for (size_t i = 0; i < n_sys; i++) {
        char err[512] = "";
        sc[i] = mhgc_scorer_open(sys_specs[i], data_dir, threshold, err, sizeof err);
        if (!sc[i]) {
            fprintf(stderr, "mhguard eval: %s: %s\n", sys_specs[i], err);
            rc = 2;
            goto out;
        }
        names[i] = mhgc_scorer_name(sc[i]);
    }
    const char *tnames[MAX_TASKS];
    for (size_t t = 0; t < n_tasks; t++) tnames[t] = tasks[t].name;
    mhg_eval_set *set = NULL;
    if (mhg_eval_set_new(n_sys, names, n_tasks, tnames, n_fields, fields, &set) != MHG_OK) {
        rc = 2;
        goto out;
    }
    char *line = NULL;
    size_t cap = 0, n_rows = 0, n_bad = 0, n_failed = 0;
    for (size_t fi = 0; fi < n_files; fi++) {
        FILE *f = fopen(files[fi], "rb");
        if (!f) {
            fprintf(stderr, "mhguard eval: cannot open %s\n", files[fi]);
            rc = 2;
            break;
        }
        size_t lineno = 0;
        for (;;) {
            int eof;
            char err[256];
            json_t *r = mhgc_read_row(f, &line, &cap, &lineno, &eof, err, sizeof err);
            if (eof) break;
            if (!r) {
                n_bad++;
                fprintf(stderr, "mhguard eval: %s: %s\n", files[fi], err);
                continue;
            }
            const char *sp = mhgc_row_str(r, "split");
            if (split && (!sp || strcmp(sp, split))) {
                json_decref(r);
                continue;
            }
            const char *text = mhgc_row_str(r, "text");
            size_t tlen = json_string_length(json_object_get(r, "text"));
            const char *id = mhgc_row_str(r, "id");
            const char *lang = mhgc_row_str(r, "lang");
            const char *gv[8];
            for (size_t g = 0; g < n_fields; g++) {
                json_t *v = json_object_get(r, fields[g]);
                gv[g] = json_is_string(v) ? json_string_value(v) : NULL;
            }
            int lab[MAX_TASKS];
            for (size_t t = 0; t < n_tasks; t++) {
                if (tasks[t].overall) {
                    /* over the fields this row labels: the corpus labels
                     * suicide only, and its rows still count */
                    int any1 = 0, any0 = 0;
                    for (size_t u = 0; u < t; u++) {
                        any1 |= lab[u] == 1;
                        any0 |= lab[u] == 0;
                    }
                    lab[t] = any1 ? 1 : any0 ? 0 : -1;
                } else {
                    lab[t] = mhgc_row_label(r, tasks[t].field);
                }
            }
            n_rows++;
            for (size_t i = 0; i < n_sys; i++) {
                mhgc_scores s;
                mhg_status st = mhgc_scorer_score(sc[i], id, text, tlen, lang, &s);
                if (st != MHG_OK) {
                    n_failed++;
                    fprintf(stderr, "mhguard eval: %s line %zu (%s): %s: %s\n", files[fi], lineno,
                            id ? id : "-", names[i], mhg_strerror(st));
                    continue;
                }
                double tscore[MAX_TASKS];
                int tflag[MAX_TASKS];
                for (size_t t = 0; t < n_tasks; t++) {
                    double best = 0;
                    int fl = 0;
                    if (tasks[t].overall) {
                        for (size_t u = 0; u < t; u++) {
                            if (tscore[u] > best) best = tscore[u];
                            fl |= tflag[u];
                        }
                    } else {
                        for (int k = 0; k < MHG_CAT_COUNT; k++)
                            if ((tasks[t].cats >> k) & 1u) {
                                if (s.have[k] && s.score[k] > best) best = s.score[k];
                                fl |= s.have[k] && s.flagged[k];
                            }
                    }
                    tscore[t] = best, tflag[t] = fl;
                    if (mhg_eval_set_add(set, i, t, (int8_t)lab[t], best, fl, gv) != MHG_OK) {
                        rc = 2;
                    }
                }
            }
            json_decref(r);
        }
        fclose(f);
    }
    free(line);
    if (rc == 0) {
        char buf[4096];
        size_t pos = 0;
        buf[0] = '\0';
        for (size_t fi = 0; fi < n_files; fi++)
            pos += (size_t)snprintf(buf + pos, pos < sizeof buf ? sizeof buf - pos : 0, "%s%s",
                                    fi ? ", " : "", files[fi]);
        set_info(set, -1, "data", buf);
        for (size_t fi = 0; fi < n_files; fi++) {
            char sha[65], key[48];
            if (mhgc_sha256_file(files[fi], sha) == 0) {
                snprintf(key, sizeof key, "data_sha256[%zu]", fi);
                set_info(set, -1, key, sha);
            }
        }
        set_info(set, -1, "split", split ? split : "(all rows)");
        set_info(set, -1, "label_fields", labels_arg);
        snprintf(buf, sizeof buf, "%zu (%zu unreadable, %zu scoring failures)", n_rows, n_bad, n_failed);
        set_info(set, -1, "rows", buf);
        set_info(set, -1, "mhguard", mhg_version());
        time_t now = time(NULL);
        struct tm tmv;
        gmtime_r(&now, &tmv);
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tmv);
        set_info(set, -1, "date", buf);
        for (size_t i = 0; i < n_sys; i++) {
            kvctx k = {set, (int)i};
            mhgc_scorer_describe(sc[i], add_kv, &k);
        }
        if (mhg_eval_set_compute(set, &eo) != MHG_OK) rc = 2;
    }
    if (rc == 0) {
        if (mhg_eval_report_text(set, stdout) != MHG_OK) rc = 2;
        if (json_out) {
            char *js = NULL;
            FILE *f = fopen(json_out, "wb");
            if (!f || mhg_eval_report_json(set, &js) != MHG_OK || fputs(js, f) < 0) rc = 2;
            free(js);
            if (f && fclose(f) != 0) rc = 2;
            if (rc) fprintf(stderr, "mhguard eval: cannot write %s\n", json_out);
        }
        if (html_out) {
            FILE *f = fopen(html_out, "wb");
            if (!f || mhg_eval_report_html(set, f) != MHG_OK) rc = 2;
            if (f && fclose(f) != 0) rc = 2;
            if (rc) fprintf(stderr, "mhguard eval: cannot write %s\n", html_out);
        }
        if (rc == 0 && (n_bad || n_failed)) rc = 1;
        fprintf(stderr, "mhguard eval: %zu rows, %zu unreadable, %zu scoring failures\n", n_rows,
                n_bad, n_failed);
    }
    mhg_eval_set_free(set);
out:
    for (size_t i = 0; i < n_sys; i++) mhgc_scorer_close(sc[i]);
    free(gdup);
    return rc;
}
