/*
 * mhguard/eval.h - evaluation metrics and reports for a detector's scores
 * against labels, overall and per group (language, source, ...), with 95 %
 * confidence intervals, in JSON, as a terminal table and as one
 * self-contained HTML page (SVG charts, no scripts, no external files).
 *
 * Terms. A "system" is one scorer (the engine with a model, another model,
 * fastText scores); a "task" is one label (suicide, self_harm, overall). An
 * item has a score in [0,1], a label (1, 0, or -1 unlabelled), and a binary
 * decision at the operating point (the engine's level >= moderate, or
 * score >= a threshold). Unlabelled items are not in any metric; they are
 * counted, with how many the system flags, because null-labelled sources
 * must be reported, not silently treated as negatives.
 *
 * Intervals: Wilson score intervals for proportions (precision, recall,
 * FPR, flag rate); percentile bootstrap with a fixed seed for ROC-AUC and
 * AUPRC, so a report is reproducible.
 */
#ifndef MHGUARD_EVAL_H
#define MHGUARD_EVAL_H

#include <stdio.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- metric primitives (pure functions; NaN when undefined) ---------- */

/* ROC-AUC (probability that a random positive outscores a random negative,
 * ties count one half). labels: 1 positive, 0 negative, others ignored. */
double mhg_metric_roc_auc(const double *scores, const int8_t *labels, size_t n);

/* Area under the precision-recall curve as average precision: sum over
 * distinct thresholds (descending) of (recall step) * precision, ties
 * grouped (scikit-learn's average_precision_score). */
double mhg_metric_auprc(const double *scores, const int8_t *labels, size_t n);

typedef struct mhg_reliability_bin {
    double lo, hi;      /* score range [lo, hi) (last bin includes 1) */
    size_t n;           /* labeled items in the bin */
    double mean_score;  /* mean predicted score (NaN if n == 0) */
    double frac_pos;    /* observed fraction positive (NaN if n == 0) */
} mhg_reliability_bin;

/* Expected calibration error over `bins` equal-width bins:
 * sum_b (n_b / N) * |frac_pos_b - mean_score_b|. table (bins entries) may
 * be NULL. Scores are clamped to [0,1]. */
double mhg_metric_ece(const double *scores, const int8_t *labels, size_t n, size_t bins,
                      mhg_reliability_bin *table);

/* Wilson score interval for k successes in n trials at normal quantile z
 * (1.96 for 95 %). n == 0 gives [0, 1]. Cannot fail. */
void mhg_wilson_ci(size_t k, size_t n, double z, double *lo, double *hi);

/* Percentile bootstrap (reps resamples, fixed seed) of ROC-AUC and AUPRC.
 * Any output pointer may be NULL. Errors: MHG_ERR_NOMEM. NaN bounds when a
 * class is missing. */
MHG_NODISCARD mhg_status mhg_bootstrap_auc(const double *scores, const int8_t *labels, size_t n,
                                           unsigned reps, uint64_t seed, double alpha,
                                           double *roc_lo, double *roc_hi, double *pr_lo,
                                           double *pr_hi);

/* ---- summaries -------------------------------------------------------- */

#define MHG_EVAL_BINS 10u
#define MHG_EVAL_SWEEP 19u /* thresholds 0.05, 0.10, ..., 0.95 */

typedef struct mhg_eval_ci {
    double value, lo, hi; /* NaN when undefined */
} mhg_eval_ci;

typedef struct mhg_eval_sweep_row {
    double threshold;
    size_t tp, fp, tn, fn;
    double precision, recall, fpr, f1;
} mhg_eval_sweep_row;

typedef struct mhg_eval_summary {
    size_t n, n_pos, n_neg;            /* labeled items */
    size_t n_unlabelled, n_unlabelled_flagged;
    size_t tp, fp, tn, fn;             /* at the operating point */
    mhg_eval_ci precision, recall, fpr, f1, accuracy, flag_rate_unlabelled;
    mhg_eval_ci roc_auc, auprc;
    double ece;
    mhg_reliability_bin reliability[MHG_EVAL_BINS];
    mhg_eval_sweep_row sweep[MHG_EVAL_SWEEP];
} mhg_eval_summary;

typedef struct mhg_eval_options {
    unsigned bootstrap_reps; /* 0: no AUC intervals; default 200 */
    uint64_t seed;           /* bootstrap seed; default 20240601 */
    double z;                /* 1.96 */
} mhg_eval_options;

void mhg_eval_options_default(mhg_eval_options *o);

/* Summarize n items. pred: 1 flagged at the operating point. labels as
 * above (-1 unlabelled). Errors: MHG_ERR_NOMEM, MHG_ERR_INVALID. */
MHG_NODISCARD mhg_status mhg_eval_summarize(const double *scores, const int8_t *labels,
                                            const uint8_t *pred, size_t n,
                                            const mhg_eval_options *opt, mhg_eval_summary *out);

/* ---- an evaluation run and its reports ------------------------------- */

typedef struct mhg_eval_set mhg_eval_set;

/*
 * A set of results: n_systems scorers x n_tasks labels, each item tagged
 * with one value per group field. Names are copied.
 * Errors: MHG_ERR_INVALID (zero systems or tasks, > 8 of either or of
 * group fields), MHG_ERR_NOMEM.
 */
MHG_NODISCARD mhg_status mhg_eval_set_new(size_t n_systems, const char *const *system_names,
                                          size_t n_tasks, const char *const *task_names,
                                          size_t n_group_fields,
                                          const char *const *group_field_names,
                                          mhg_eval_set **out);
void mhg_eval_set_free(mhg_eval_set *set);

/* Free-form key/value shown in reports ("data", "split", "model", ...).
 * system < 0: about the run; else about that system (versions, speed). */
MHG_NODISCARD mhg_status mhg_eval_set_info(mhg_eval_set *set, int system, const char *key,
                                           const char *value);

/* One item. group_values: n_group_fields strings (NULL counts as "?"). */
MHG_NODISCARD mhg_status mhg_eval_set_add(mhg_eval_set *set, size_t system, size_t task,
                                          int8_t label, double score, int pred,
                                          const char *const *group_values);

/* Compute every summary (overall and per group). Call once after the
 * last add and before the reports. Errors: MHG_ERR_NOMEM. */
MHG_NODISCARD mhg_status mhg_eval_set_compute(mhg_eval_set *set, const mhg_eval_options *opt);

/* Overall summary of (system, task) after compute; NULL if out of range. */
const mhg_eval_summary *mhg_eval_set_summary(const mhg_eval_set *set, size_t system,
                                             size_t task);

/* Reports (after compute). JSON: *json_out malloc'd, free() it. */
MHG_NODISCARD mhg_status mhg_eval_report_json(const mhg_eval_set *set, char **json_out);
MHG_NODISCARD mhg_status mhg_eval_report_text(const mhg_eval_set *set, FILE *out);
MHG_NODISCARD mhg_status mhg_eval_report_html(const mhg_eval_set *set, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
