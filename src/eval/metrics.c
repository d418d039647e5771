/*
 * metrics.c - ROC-AUC, average precision, ECE, Wilson intervals, bootstrap
 * and per-slice summaries.
 *
 * Everything ranks by score once (descending, ties grouped) and then walks
 * the ranking with per-item weights; the bootstrap reuses the same walk
 * with multinomial resample counts, so a resample costs O(n), not a sort.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mhguard/eval.h"

typedef struct ranked {
    double s;
    int8_t y;
} ranked;

static int cmp_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->s > y->s) return -1;
    if (x->s < y->s) return 1;
    return (x->y < y->y) - (x->y > y->y); /* stable enough: ties are grouped anyway */
}

/* Labeled items sorted by descending score. *m = count. NULL on NOMEM. */
static ranked *rank_items(const double *s, const int8_t *y, size_t n, size_t *m) {
    ranked *r = malloc((n ? n : 1) * sizeof *r);
    if (!r) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (y[i] == 0 || y[i] == 1) {
            r[k].s = isnan(s[i]) ? 0.0 : s[i];
            r[k].y = y[i];
            k++;
        }
    qsort(r, k, sizeof *r, cmp_desc);
    *m = k;
    return r;
}

/* Walk ranked items with weights w (NULL = all 1). */
static void walk(const ranked *r, size_t m, const double *w, double *roc, double *ap) {
    double P = 0, N = 0;
    for (size_t i = 0; i < m; i++) {
        double wi = w ? w[i] : 1.0;
        if (r[i].y)
            P += wi;
        else
            N += wi;
    }
    double cumP = 0, cumN = 0, auc = 0, apsum = 0;
    size_t i = 0;
    while (i < m) {
        size_t j = i;
        double wp = 0, wn = 0;
        while (j < m && r[j].s == r[i].s) {
            double wj = w ? w[j] : 1.0;
            if (r[j].y)
                wp += wj;
            else
                wn += wj;
            j++;
        }
        auc += wn * (cumP + 0.5 * wp);
        cumP += wp;
        cumN += wn;
        if (wp > 0 && cumP + cumN > 0) apsum += wp * (cumP / (cumP + cumN));
        i = j;
    }
    if (roc) *roc = (P > 0 && N > 0) ? auc / (P * N) : NAN;
    if (ap) *ap = P > 0 ? apsum / P : NAN;
}

double mhg_metric_roc_auc(const double *scores, const int8_t *labels, size_t n) {
    size_t m;
    ranked *r = rank_items(scores, labels, n, &m);
    if (!r) return NAN;
    double v;
    walk(r, m, NULL, &v, NULL);
    free(r);
    return v;
}

double mhg_metric_auprc(const double *scores, const int8_t *labels, size_t n) {
    size_t m;
    ranked *r = rank_items(scores, labels, n, &m);
    if (!r) return NAN;
    double v;
    walk(r, m, NULL, NULL, &v);
    free(r);
    return v;
}

double mhg_metric_ece(const double *scores, const int8_t *labels, size_t n, size_t bins,
                      mhg_reliability_bin *table) {
    if (bins == 0) return NAN;
    double *ss = calloc(bins, sizeof *ss), *sy = calloc(bins, sizeof *sy);
    size_t *cnt = calloc(bins, sizeof *cnt);
    if (!ss || !sy || !cnt) {
        free(ss), free(sy), free(cnt);
        return NAN;
    }
    size_t N = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1) continue;
        double s = scores[i];
        if (!(s >= 0)) s = 0; /* NaN and negatives */
        if (s > 1) s = 1;
        size_t b = (size_t)(s * (double)bins);
        if (b >= bins) b = bins - 1;
        ss[b] += s;
        sy[b] += labels[i];
        cnt[b]++;
        N++;
    }
    double ece = 0;
    for (size_t b = 0; b < bins; b++) {
        if (table) {
            table[b].lo = (double)b / (double)bins;
            table[b].hi = (double)(b + 1) / (double)bins;
            table[b].n = cnt[b];
            table[b].mean_score = cnt[b] ? ss[b] / (double)cnt[b] : NAN;
            table[b].frac_pos = cnt[b] ? sy[b] / (double)cnt[b] : NAN;
        }
        if (cnt[b] && N)
            ece += ((double)cnt[b] / (double)N) * fabs(sy[b] / (double)cnt[b] - ss[b] / (double)cnt[b]);
    }
    free(ss), free(sy), free(cnt);
    return N ? ece : NAN;
}

void mhg_wilson_ci(size_t k, size_t n, double z, double *lo, double *hi) {
    if (n == 0) {
        *lo = 0.0, *hi = 1.0;
        return;
    }
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double den = 1.0 + z2 / nn;
    double center = (p + z2 / (2 * nn)) / den;
    double half = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / den;
    *lo = center - half < 0 ? 0 : center - half;
    *hi = center + half > 1 ? 1 : center + half;
}

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* percentile of sorted finite values */
static double pct(const double *v, size_t n, double q) {
    if (n == 0) return NAN;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

mhg_status mhg_bootstrap_auc(const double *scores, const int8_t *labels, size_t n, unsigned reps,
                             uint64_t seed, double alpha, double *roc_lo, double *roc_hi,
                             double *pr_lo, double *pr_hi) {
    if (roc_lo) *roc_lo = NAN;
    if (roc_hi) *roc_hi = NAN;
    if (pr_lo) *pr_lo = NAN;
    if (pr_hi) *pr_hi = NAN;
    size_t m;
    ranked *r = rank_items(scores, labels, n, &m);
    if (!r) return MHG_ERR_NOMEM;
    if (m == 0 || reps == 0) {
        free(r);
        return MHG_OK;
    }
    double *w = malloc(m * sizeof *w), *rv = malloc(reps * sizeof *rv), *pv = malloc(reps * sizeof *pv);
    if (!w || !rv || !pv) {
        free(r), free(w), free(rv), free(pv);
        return MHG_ERR_NOMEM;
    }
    uint64_t st = seed;
    size_t nr = 0, np = 0;
    for (unsigned b = 0; b < reps; b++) {
        memset(w, 0, m * sizeof *w);
        for (size_t i = 0; i < m; i++) w[splitmix(&st) % m] += 1.0;
        double roc, ap;
        walk(r, m, w, &roc, &ap);
        if (!isnan(roc)) rv[nr++] = roc;
        if (!isnan(ap)) pv[np++] = ap;
    }
    qsort(rv, nr, sizeof *rv, cmp_double);
    qsort(pv, np, sizeof *pv, cmp_double);
    /* only report an interval when (nearly) every resample had both classes */
    if (nr * 10 >= (size_t)reps * 9) {
        if (roc_lo) *roc_lo = pct(rv, nr, alpha / 2);
        if (roc_hi) *roc_hi = pct(rv, nr, 1 - alpha / 2);
    }
    if (np * 10 >= (size_t)reps * 9) {
        if (pr_lo) *pr_lo = pct(pv, np, alpha / 2);
        if (pr_hi) *pr_hi = pct(pv, np, 1 - alpha / 2);
    }
    free(r), free(w), free(rv), free(pv);
    return MHG_OK;
}

void mhg_eval_options_default(mhg_eval_options *o) {
    o->bootstrap_reps = 200;
    o->seed = 20240601u;
    o->z = 1.959963984540054;
}

static mhg_eval_ci prop(size_t k, size_t n, double z) {
    mhg_eval_ci c;
    if (n == 0) {
        c.value = c.lo = c.hi = NAN;
        return c;
    }
    c.value = (double)k / (double)n;
    mhg_wilson_ci(k, n, z, &c.lo, &c.hi);
    return c;
}

static double f1_of(size_t tp, size_t fp, size_t fn) {
    return tp ? 2.0 * (double)tp / (2.0 * (double)tp + (double)fp + (double)fn) : 0.0;
}

mhg_status mhg_eval_summarize(const double *scores, const int8_t *labels, const uint8_t *pred,
                              size_t n, const mhg_eval_options *opt_in, mhg_eval_summary *out) {
    if (!out || (n && (!scores || !labels || !pred))) return MHG_ERR_INVALID;
    mhg_eval_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        mhg_eval_options_default(&opt);
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (labels[i] == 1 || labels[i] == 0) {
            out->n++;
            if (labels[i]) {
                out->n_pos++;
                if (pred[i])
                    out->tp++;
                else
                    out->fn++;
            } else {
                out->n_neg++;
                if (pred[i])
                    out->fp++;
                else
                    out->tn++;
            }
        } else {
            out->n_unlabelled++;
            out->n_unlabelled_flagged += pred[i] ? 1 : 0;
        }
    }
    out->precision = prop(out->tp, out->tp + out->fp, opt.z);
    out->recall = prop(out->tp, out->n_pos, opt.z);
    out->fpr = prop(out->fp, out->n_neg, opt.z);
    out->accuracy = prop(out->tp + out->tn, out->n, opt.z);
    out->flag_rate_unlabelled = prop(out->n_unlabelled_flagged, out->n_unlabelled, opt.z);
    out->f1.value = out->n_pos ? f1_of(out->tp, out->fp, out->fn) : NAN;
    out->f1.lo = out->f1.hi = NAN;
    out->roc_auc.value = mhg_metric_roc_auc(scores, labels, n);
    out->auprc.value = mhg_metric_auprc(scores, labels, n);
    mhg_status st = mhg_bootstrap_auc(scores, labels, n, opt.bootstrap_reps, opt.seed, 0.05,
                                      &out->roc_auc.lo, &out->roc_auc.hi, &out->auprc.lo,
                                      &out->auprc.hi);
    if (st != MHG_OK) return st;
    out->ece = mhg_metric_ece(scores, labels, n, MHG_EVAL_BINS, out->reliability);
    for (size_t t = 0; t < MHG_EVAL_SWEEP; t++) {
        mhg_eval_sweep_row *row = &out->sweep[t];
        row->threshold = 0.05 * (double)(t + 1);
        for (size_t i = 0; i < n; i++) {
            if (labels[i] != 0 && labels[i] != 1) continue;
            int p = scores[i] >= row->threshold - 1e-12;
            if (labels[i])
                p ? row->tp++ : row->fn++;
            else
                p ? row->fp++ : row->tn++;
        }
        row->precision = row->tp + row->fp ? (double)row->tp / (double)(row->tp + row->fp) : NAN;
        row->recall = out->n_pos ? (double)row->tp / (double)out->n_pos : NAN;
        row->fpr = out->n_neg ? (double)row->fp / (double)out->n_neg : NAN;
        row->f1 = out->n_pos ? f1_of(row->tp, row->fp, row->fn) : NAN;
    }
    return MHG_OK;
}
