/*
 * evalset.c - an evaluation run (systems x tasks x groups), its summaries,
 * the JSON report and the terminal table.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_int.h"

static char *dupstr(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

mhg_status mhg_eval_set_new(size_t n_systems, const char *const *system_names, size_t n_tasks,
                            const char *const *task_names, size_t n_fields,
                            const char *const *field_names, mhg_eval_set **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (n_systems == 0 || n_tasks == 0 || n_systems > MHGI_EVAL_MAX_DIM ||
        n_tasks > MHGI_EVAL_MAX_DIM || n_fields > MHGI_EVAL_MAX_DIM || !system_names ||
        !task_names || (n_fields && !field_names))
        return MHG_ERR_INVALID;
    mhg_eval_set *s = calloc(1, sizeof *s);
    if (!s) return MHG_ERR_NOMEM;
    s->n_systems = n_systems, s->n_tasks = n_tasks, s->n_fields = n_fields;
    int ok = 1;
    for (size_t i = 0; i < n_systems; i++) ok &= (s->systems[i] = dupstr(system_names[i])) != NULL;
    for (size_t i = 0; i < n_tasks; i++) ok &= (s->tasks[i] = dupstr(task_names[i])) != NULL;
    for (size_t i = 0; i < n_fields; i++) ok &= (s->fields[i] = dupstr(field_names[i])) != NULL;
    if (!ok) {
        mhg_eval_set_free(s);
        return MHG_ERR_NOMEM;
    }
    *out = s;
    return MHG_OK;
}

void mhg_eval_set_free(mhg_eval_set *s) {
    if (!s) return;
    for (size_t i = 0; i < MHGI_EVAL_MAX_DIM; i++) {
        free(s->systems[i]);
        free(s->tasks[i]);
        free(s->fields[i]);
        for (size_t v = 0; v < s->n_values[i]; v++) free(s->values[i][v]);
        free(s->values[i]);
    }
    for (size_t a = 0; a < MHGI_EVAL_MAX_DIM; a++)
        for (size_t b = 0; b < MHGI_EVAL_MAX_DIM; b++) {
            mhgi_eval_cell *c = &s->cells[a][b];
            free(c->items);
            for (size_t f = 0; f < MHGI_EVAL_MAX_DIM; f++) {
                free(c->by_group[f]);
                if (c->group_roc[f])
                    for (size_t v = 0; v < s->n_values[f]; v++)
                        free(c->group_roc[f][v].x), free(c->group_roc[f][v].y);
                free(c->group_roc[f]);
            }
            free(c->roc.x), free(c->roc.y), free(c->pr.x), free(c->pr.y);
        }
    for (size_t i = 0; i < s->n_info; i++) free(s->info[i].key), free(s->info[i].value);
    free(s->info);
    free(s);
}

mhg_status mhg_eval_set_info(mhg_eval_set *s, int system, const char *key, const char *value) {
    if (!s || !key || !value || system >= (int)s->n_systems) return MHG_ERR_INVALID;
    if (s->n_info == s->cap_info) {
        size_t nc = s->cap_info ? s->cap_info * 2 : 16;
        mhgi_kv *ni = realloc(s->info, nc * sizeof *ni);
        if (!ni) return MHG_ERR_NOMEM;
        s->info = ni, s->cap_info = nc;
    }
    mhgi_kv *kv = &s->info[s->n_info];
    kv->system = system < 0 ? -1 : system;
    kv->key = dupstr(key);
    kv->value = dupstr(value);
    if (!kv->key || !kv->value) {
        free(kv->key), free(kv->value);
        return MHG_ERR_NOMEM;
    }
    s->n_info++;
    return MHG_OK;
}

static int intern(mhg_eval_set *s, size_t f, const char *v, uint16_t *id) {
    if (!v) v = "?";
    for (size_t i = 0; i < s->n_values[f]; i++)
        if (!strcmp(s->values[f][i], v)) {
            *id = (uint16_t)i;
            return 1;
        }
    if (s->n_values[f] >= 65535) return 0;
    if (s->n_values[f] == s->cap_values[f]) {
        size_t nc = s->cap_values[f] ? s->cap_values[f] * 2 : 16;
        char **nv = realloc(s->values[f], nc * sizeof *nv);
        if (!nv) return 0;
        s->values[f] = nv, s->cap_values[f] = nc;
    }
    char *d = dupstr(v);
    if (!d) return 0;
    s->values[f][s->n_values[f]] = d;
    *id = (uint16_t)s->n_values[f]++;
    return 1;
}

mhg_status mhg_eval_set_add(mhg_eval_set *s, size_t system, size_t task, int8_t label,
                            double score, int pred, const char *const *groups) {
    if (!s || system >= s->n_systems || task >= s->n_tasks || s->computed) return MHG_ERR_INVALID;
    if (s->n_fields && !groups) return MHG_ERR_INVALID;
    mhgi_eval_cell *c = &s->cells[system][task];
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 1024;
        mhgi_eval_item *ni = realloc(c->items, nc * sizeof *ni);
        if (!ni) return MHG_ERR_NOMEM;
        c->items = ni, c->cap = nc;
    }
    mhgi_eval_item *it = &c->items[c->n];
    memset(it, 0, sizeof *it);
    it->score = isnan(score) ? 0.0 : score;
    it->label = (label == 0 || label == 1) ? label : -1;
    it->pred = pred ? 1 : 0;
    for (size_t f = 0; f < s->n_fields; f++)
        if (!intern(s, f, groups[f], &it->group[f])) return MHG_ERR_NOMEM;
    c->n++;
    return MHG_OK;
}

static mhg_status summarize_items(const mhgi_eval_item *items, size_t n, const size_t *idx,
                                  size_t m, const mhg_eval_options *opt, mhg_eval_summary *out) {
    size_t k = idx ? m : n;
    double *sc = malloc((k ? k : 1) * sizeof *sc);
    int8_t *lb = malloc(k ? k : 1);
    uint8_t *pr = malloc(k ? k : 1);
    if (!sc || !lb || !pr) {
        free(sc), free(lb), free(pr);
        return MHG_ERR_NOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        const mhgi_eval_item *it = &items[idx ? idx[i] : i];
        sc[i] = it->score, lb[i] = it->label, pr[i] = it->pred;
    }
    mhg_status st = mhg_eval_summarize(sc, lb, pr, k, opt, out);
    free(sc), free(lb), free(pr);
    return st;
}

typedef struct sp {
    double s;
    int8_t y;
} sp;
static int cmp_sp(const void *a, const void *b) {
    const sp *x = a, *y = b;
    return (x->s < y->s) - (x->s > y->s);
}

/* ROC and PR curves of the cell's items (or of idx[0..m) when idx is not
 * NULL), at most MHGI_EVAL_CURVE_POINTS points each. pr may be NULL. */
static mhg_status curves_of(const mhgi_eval_cell *c, const size_t *idx, size_t mi,
                            mhgi_curve *roc, mhgi_curve *pr) {
    size_t m = 0, k = idx ? mi : c->n;
    sp *v = malloc((k ? k : 1) * sizeof *v);
    if (!v) return MHG_ERR_NOMEM;
    double P = 0, N = 0;
    for (size_t j = 0; j < k; j++) {
        const mhgi_eval_item *it = &c->items[idx ? idx[j] : j];
        if (it->label >= 0) {
            v[m].s = it->score, v[m].y = it->label;
            P += v[m].y, N += !v[m].y;
            m++;
        }
    }
    qsort(v, m, sizeof *v, cmp_sp);
    size_t cap = MHGI_EVAL_CURVE_POINTS + 2;
    mhgi_curve dummy = {0};
    if (!pr) pr = &dummy;
    roc->x = malloc(cap * sizeof(double)), roc->y = malloc(cap * sizeof(double));
    pr->x = malloc(cap * sizeof(double)), pr->y = malloc(cap * sizeof(double));
    if (!roc->x || !roc->y || !pr->x || !pr->y) {
        free(v);
        free(dummy.x), free(dummy.y);
        return MHG_ERR_NOMEM;
    }
    roc->n = pr->n = 0;
    if (P == 0 || N == 0) {
        free(v);
        free(dummy.x), free(dummy.y);
        return MHG_OK;
    }
    /* count distinct thresholds to pick a stride */
    size_t groups = 0;
    for (size_t i = 0; i < m; i++)
        if (i == 0 || v[i].s != v[i - 1].s) groups++;
    size_t stride = groups / MHGI_EVAL_CURVE_POINTS + 1;
    roc->x[0] = 0, roc->y[0] = 0, roc->n = 1;
    double tp = 0, fp = 0;
    size_t g = 0, i = 0;
    while (i < m) {
        size_t j = i;
        while (j < m && v[j].s == v[i].s) tp += v[j].y, fp += !v[j].y, j++;
        g++;
        if (g % stride == 0 || j == m) {
            if (roc->n < cap) {
                roc->x[roc->n] = fp / N, roc->y[roc->n] = tp / P, roc->n++;
            }
            if (pr->n < cap && tp + fp > 0) {
                pr->x[pr->n] = tp / P, pr->y[pr->n] = tp / (tp + fp), pr->n++;
            }
        }
        i = j;
    }
    free(v);
    free(dummy.x), free(dummy.y);
    return MHG_OK;
}

static mhg_status curves(mhgi_eval_cell *c) { return curves_of(c, NULL, 0, &c->roc, &c->pr); }

mhg_status mhg_eval_set_compute(mhg_eval_set *s, const mhg_eval_options *opt_in) {
    if (!s || s->computed) return MHG_ERR_INVALID; /* once: results are final */
    mhg_eval_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        mhg_eval_options_default(&opt);
    size_t *idx = NULL;
    for (size_t a = 0; a < s->n_systems; a++)
        for (size_t t = 0; t < s->n_tasks; t++) {
            mhgi_eval_cell *c = &s->cells[a][t];
            mhg_status st = summarize_items(c->items, c->n, NULL, 0, &opt, &c->overall);
            if (st == MHG_OK) st = curves(c);
            if (st != MHG_OK) {
                free(idx);
                return st;
            }
            free(idx);
            idx = malloc((c->n ? c->n : 1) * sizeof *idx);
            if (!idx) return MHG_ERR_NOMEM;
            for (size_t f = 0; f < s->n_fields; f++) {
                free(c->by_group[f]);
                c->by_group[f] = calloc(s->n_values[f] ? s->n_values[f] : 1, sizeof(mhg_eval_summary));
                if (!c->by_group[f]) {
                    free(idx);
                    return MHG_ERR_NOMEM;
                }
                c->group_roc[f] = calloc(s->n_values[f] ? s->n_values[f] : 1, sizeof(mhgi_curve));
                if (!c->group_roc[f]) {
                    free(idx);
                    return MHG_ERR_NOMEM;
                }
                for (size_t v = 0; v < s->n_values[f]; v++) {
                    size_t m = 0;
                    for (size_t i = 0; i < c->n; i++)
                        if (c->items[i].group[f] == v) idx[m++] = i;
                    st = summarize_items(c->items, c->n, idx, m, &opt, &c->by_group[f][v]);
                    if (st == MHG_OK) st = curves_of(c, idx, m, &c->group_roc[f][v], NULL);
                    if (st != MHG_OK) {
                        free(idx);
                        return st;
                    }
                }
            }
        }
    free(idx);
    s->computed = 1;
    return MHG_OK;
}

const mhg_eval_summary *mhg_eval_set_summary(const mhg_eval_set *s, size_t system, size_t task) {
    if (!s || !s->computed || system >= s->n_systems || task >= s->n_tasks) return NULL;
    return &s->cells[system][task].overall;
}

/* ---- JSON ---- */

static json_t *num(double v) { return isnan(v) || isinf(v) ? json_null() : json_real(v); }

static json_t *ci_json(const mhg_eval_ci *c) {
    json_t *o = json_object();
    json_object_set_new(o, "value", num(c->value));
    json_object_set_new(o, "lo", num(c->lo));
    json_object_set_new(o, "hi", num(c->hi));
    return o;
}

static json_t *summary_json(const mhg_eval_summary *m, int full) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)m->n));
    json_object_set_new(o, "positives", json_integer((json_int_t)m->n_pos));
    json_object_set_new(o, "negatives", json_integer((json_int_t)m->n_neg));
    json_object_set_new(o, "unlabelled", json_integer((json_int_t)m->n_unlabelled));
    json_object_set_new(o, "unlabelled_flagged", json_integer((json_int_t)m->n_unlabelled_flagged));
    json_object_set_new(o, "unlabelled_flag_rate", ci_json(&m->flag_rate_unlabelled));
    json_object_set_new(o, "precision", ci_json(&m->precision));
    json_object_set_new(o, "recall", ci_json(&m->recall));
    json_object_set_new(o, "fpr", ci_json(&m->fpr));
    json_object_set_new(o, "f1", num(m->f1.value));
    json_object_set_new(o, "accuracy", ci_json(&m->accuracy));
    json_object_set_new(o, "roc_auc", ci_json(&m->roc_auc));
    json_object_set_new(o, "auprc", ci_json(&m->auprc));
    json_object_set_new(o, "ece", num(m->ece));
    json_t *cm = json_object();
    json_object_set_new(cm, "tp", json_integer((json_int_t)m->tp));
    json_object_set_new(cm, "fp", json_integer((json_int_t)m->fp));
    json_object_set_new(cm, "tn", json_integer((json_int_t)m->tn));
    json_object_set_new(cm, "fn", json_integer((json_int_t)m->fn));
    json_object_set_new(o, "confusion", cm);
    if (full) {
        json_t *rel = json_array();
        for (size_t b = 0; b < MHG_EVAL_BINS; b++) {
            const mhg_reliability_bin *r = &m->reliability[b];
            json_t *x = json_object();
            json_object_set_new(x, "lo", json_real(r->lo));
            json_object_set_new(x, "hi", json_real(r->hi));
            json_object_set_new(x, "n", json_integer((json_int_t)r->n));
            json_object_set_new(x, "mean_score", num(r->mean_score));
            json_object_set_new(x, "frac_pos", num(r->frac_pos));
            json_array_append_new(rel, x);
        }
        json_object_set_new(o, "reliability", rel);
        json_t *sw = json_array();
        for (size_t t = 0; t < MHG_EVAL_SWEEP; t++) {
            const mhg_eval_sweep_row *r = &m->sweep[t];
            json_t *x = json_object();
            json_object_set_new(x, "threshold", json_real(r->threshold));
            json_object_set_new(x, "tp", json_integer((json_int_t)r->tp));
            json_object_set_new(x, "fp", json_integer((json_int_t)r->fp));
            json_object_set_new(x, "tn", json_integer((json_int_t)r->tn));
            json_object_set_new(x, "fn", json_integer((json_int_t)r->fn));
            json_object_set_new(x, "precision", num(r->precision));
            json_object_set_new(x, "recall", num(r->recall));
            json_object_set_new(x, "fpr", num(r->fpr));
            json_object_set_new(x, "f1", num(r->f1));
            json_array_append_new(sw, x);
        }
        json_object_set_new(o, "sweep", sw);
    }
    return o;
}

static json_t *curve_json(const mhgi_curve *c) {
    json_t *a = json_array();
    for (size_t i = 0; i < c->n; i++) {
        json_t *p = json_array();
        json_array_append_new(p, json_real(c->x[i]));
        json_array_append_new(p, json_real(c->y[i]));
        json_array_append_new(a, p);
    }
    return a;
}

mhg_status mhg_eval_report_json(const mhg_eval_set *s, char **json_out) {
    if (!json_out) return MHG_ERR_INVALID;
    *json_out = NULL;
    if (!s || !s->computed) return MHG_ERR_INVALID;
    json_t *root = json_object();
    json_t *info = json_object();
    for (size_t i = 0; i < s->n_info; i++)
        if (s->info[i].system < 0) json_object_set_new(info, s->info[i].key, json_string(s->info[i].value));
    json_object_set_new(root, "info", info);
    json_t *systems = json_array();
    for (size_t a = 0; a < s->n_systems; a++) {
        json_t *sys = json_object();
        json_object_set_new(sys, "name", json_string(s->systems[a]));
        json_t *si = json_object();
        for (size_t i = 0; i < s->n_info; i++)
            if (s->info[i].system == (int)a)
                json_object_set_new(si, s->info[i].key, json_string(s->info[i].value));
        json_object_set_new(sys, "info", si);
        json_t *tasks = json_object();
        for (size_t t = 0; t < s->n_tasks; t++) {
            const mhgi_eval_cell *c = &s->cells[a][t];
            json_t *tk = json_object();
            json_object_set_new(tk, "overall", summary_json(&c->overall, 1));
            json_t *curves_o = json_object();
            json_object_set_new(curves_o, "roc", curve_json(&c->roc));
            json_object_set_new(curves_o, "pr", curve_json(&c->pr));
            json_object_set_new(tk, "curves", curves_o);
            json_t *groups = json_object();
            for (size_t f = 0; f < s->n_fields; f++) {
                json_t *g = json_object();
                for (size_t v = 0; v < s->n_values[f]; v++) {
                    json_t *gs = summary_json(&c->by_group[f][v], 0);
                    json_object_set_new(gs, "roc", curve_json(&c->group_roc[f][v]));
                    json_object_set_new(g, s->values[f][v], gs);
                }
                json_object_set_new(groups, s->fields[f], g);
            }
            json_object_set_new(tk, "groups", groups);
            json_object_set_new(tasks, s->tasks[t], tk);
        }
        json_object_set_new(sys, "tasks", tasks);
        json_array_append_new(systems, sys);
    }
    json_object_set_new(root, "systems", systems);
    char *txt = json_dumps(root, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    json_decref(root);
    if (!txt) return MHG_ERR_NOMEM;
    *json_out = txt;
    return MHG_OK;
}

/* ---- terminal table ---- */

static void pf(FILE *f, double v) {
    if (isnan(v))
        fprintf(f, "   -  ");
    else
        fprintf(f, " %5.3f", v);
}

static void pci(FILE *f, const mhg_eval_ci *c) {
    if (isnan(c->value)) {
        fprintf(f, "        -        ");
        return;
    }
    if (isnan(c->lo))
        fprintf(f, " %5.3f           ", c->value);
    else
        fprintf(f, " %5.3f [%4.2f-%4.2f]", c->value, c->lo, c->hi);
}

static void row(FILE *f, const char *name, const mhg_eval_summary *m) {
    fprintf(f, "  %-22.22s %6zu %5zu", name, m->n, m->n_pos);
    pci(f, &m->precision);
    pci(f, &m->recall);
    pci(f, &m->fpr);
    pf(f, m->f1.value);
    pci(f, &m->auprc);
    pci(f, &m->roc_auc);
    pf(f, m->ece);
    if (m->n_unlabelled)
        fprintf(f, "  unlab %zu flag %.3f", m->n_unlabelled, m->flag_rate_unlabelled.value);
    fputc('\n', f);
}

mhg_status mhg_eval_report_text(const mhg_eval_set *s, FILE *f) {
    if (!s || !f || !s->computed) return MHG_ERR_INVALID;
    for (size_t i = 0; i < s->n_info; i++)
        if (s->info[i].system < 0) fprintf(f, "%s: %s\n", s->info[i].key, s->info[i].value);
    for (size_t a = 0; a < s->n_systems; a++) {
        fprintf(f, "\n== system %s", s->systems[a]);
        for (size_t i = 0; i < s->n_info; i++)
            if (s->info[i].system == (int)a) fprintf(f, "  %s=%s", s->info[i].key, s->info[i].value);
        fputc('\n', f);
        for (size_t t = 0; t < s->n_tasks; t++) {
            const mhgi_eval_cell *c = &s->cells[a][t];
            const mhg_eval_summary *o = &c->overall;
            fprintf(f, "\n-- task %s: n=%zu positives=%zu  confusion tp=%zu fp=%zu tn=%zu fn=%zu\n",
                    s->tasks[t], o->n, o->n_pos, o->tp, o->fp, o->tn, o->fn);
            fprintf(f, "  %-22s %6s %5s %-17s %-17s %-17s %6s %-17s %-17s %6s\n", "slice", "n", "pos",
                    " precision", " recall", " FPR", "  F1", " AUPRC", " ROC-AUC", "  ECE");
            row(f, "ALL", o);
            for (size_t fi = 0; fi < s->n_fields; fi++)
                for (size_t v = 0; v < s->n_values[fi]; v++) {
                    char name[64];
                    snprintf(name, sizeof name, "%s=%s", s->fields[fi], s->values[fi][v]);
                    row(f, name, &c->by_group[fi][v]);
                }
            fprintf(f, "  threshold sweep (score >= t): t  prec  recall  FPR  F1\n");
            for (size_t k = 1; k < MHG_EVAL_SWEEP; k += 2) {
                const mhg_eval_sweep_row *r = &o->sweep[k];
                fprintf(f, "    %.2f", r->threshold);
                pf(f, r->precision), pf(f, r->recall), pf(f, r->fpr), pf(f, r->f1);
                fputc('\n', f);
            }
        }
    }
    return MHG_OK;
}
