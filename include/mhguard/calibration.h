/*
 * mhguard/calibration.h - calibration of the engine's fused category scores.
 *
 * The engine decides levels on its own score scale (rules, context rules and
 * the model mapped so that 0.25/0.5/0.75/0.9 are the level floors). That
 * scale is not a probability. An engine calibration maps, per category, the
 * raw fused score to the fraction of labelled dev rows with that score that
 * were positive: isotonic regression (pool-adjacent-violators), read as a
 * monotone piecewise-linear curve through the block centroids, clamped to the
 * first/last block outside them. It is fitted with `mhguard calibrate` on the
 * dev split only (docs/model-card.md) and applied by the engine after levels
 * are decided, so it never changes a level.
 *
 * File: JSON (data/models/engine-calibration.json), see
 * docs/internals/calibration.md. It names the model version it was fitted
 * for; the engine applies it only with that model.
 */
#ifndef MHGUARD_CALIBRATION_H
#define MHGUARD_CALIBRATION_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhg_calibration mhg_calibration;

/* Version strings: "c1-" + 12 hex digits (a hash of the model version and
 * every knot), 16 bytes with the NUL. */
#define MHG_CALIBRATION_VERSION_LEN 16u
/* Most knots one category may have (a longer file is refused). */
#define MHG_CALIBRATION_MAX_KNOTS 4096u

/* Empty calibration for model_version (a model's version string, or "none"). */
MHG_NODISCARD mhg_status mhg_calibration_new(const char *model_version, mhg_calibration **out);
void mhg_calibration_free(mhg_calibration *cal);

/*
 * Fit category c by isotonic regression on n (score, label) pairs: scores in
 * [0,1] (NaN or out of range: MHG_ERR_INVALID), labels 0/1. Equal scores form
 * one block; knots are rounded to 6 decimals (blocks whose rounded scores
 * coincide are pooled). A knot's value is its block's rate shrunk by half a
 * row, (positives + 0.5) / (rows + 1), then made non-decreasing (running
 * max), so no knot is exactly 0 or 1. Replaces an earlier fit of c. Deterministic: the
 * result does not depend on the order of the pairs.
 */
MHG_NODISCARD mhg_status mhg_calibration_fit(mhg_calibration *cal, mhg_category c,
                                             const double *scores, const int *labels, size_t n);

/* 1 when category c has a mapping. */
int mhg_calibration_has(const mhg_calibration *cal, mhg_category c);

/* Calibrated probability of raw score s for category c: linear between the
 * knots, the first knot's value below it, the last one's above it; NaN maps
 * to the last knot's value (fail toward risk). Without a mapping for c (or
 * cal NULL) s is returned unchanged. The result is non-decreasing in s. */
double mhg_calibration_apply(const mhg_calibration *cal, mhg_category c, double s);

/* Knots of c (borrowed; *n 0 when none) and the fit's row counts. */
void mhg_calibration_knots(const mhg_calibration *cal, mhg_category c, const double **x,
                           const double **y, size_t *n, size_t *rows, size_t *positives);

const char *mhg_calibration_version(const mhg_calibration *cal);
const char *mhg_calibration_model(const mhg_calibration *cal);

/* Write the file. info_json: NULL or a JSON object text stored under
 * "build" (command, data hashes, lexicon version); it does not enter the
 * version. Same calibration and info -> same bytes. */
MHG_NODISCARD mhg_status mhg_calibration_save(const mhg_calibration *cal, const char *path,
                                              const char *info_json, char *err, size_t errlen);

/* Read and validate a file (format, known categories, finite knots in [0,1],
 * x strictly increasing, y non-decreasing, version matching the contents).
 * Errors: MHG_ERR_IO (cannot read), MHG_ERR_PARSE (err says what is wrong). */
MHG_NODISCARD mhg_status mhg_calibration_load(const char *path, mhg_calibration **out, char *err,
                                              size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
