/*
 * eval_scorers.h - the systems `mhguard eval` can score with:
 *   engine[:MODEL]  the full engine (rules + model; MODEL "none" = rules only)
 *   engine-raw      the default engine without its score calibration
 *   model:PATH      the learned model alone (no rules, no context rules)
 *   scores:FILE     precomputed scores (JSON lines {"id", "score" or
 *                   "<category>": s}), e.g. from the fastText baseline
 */
#ifndef MHG_CLI_EVAL_SCORERS_H
#define MHG_CLI_EVAL_SCORERS_H

#include "mhguard.h"

typedef struct mhgc_scorer mhgc_scorer;

/* Per-category result of one message. */
typedef struct mhgc_scores {
    double score[MHG_CAT_COUNT];
    int flagged[MHG_CAT_COUNT]; /* the system's own operating point */
    int have[MHG_CAT_COUNT];    /* the system scores this category */
} mhgc_scores;

/* spec as above; data_dir may be NULL. threshold < 0: the system's own
 * operating point; else score >= threshold. Returns NULL with err set. */
mhgc_scorer *mhgc_scorer_open(const char *spec, const char *data_dir, double threshold,
                              char *err, size_t errlen);
void mhgc_scorer_close(mhgc_scorer *s);
/* Display name and version strings for the report. */
const char *mhgc_scorer_name(const mhgc_scorer *s);
void mhgc_scorer_describe(const mhgc_scorer *s, void (*kv)(void *ud, const char *k, const char *v),
                          void *ud);
/* Score one message. id may be NULL (needed by scores:FILE). Returns
 * MHG_OK, or an error (the row is then reported and skipped). */
mhg_status mhgc_scorer_score(mhgc_scorer *s, const char *id, const char *text, size_t len,
                             const char *lang, mhgc_scores *out);

/* The engine part lives in eval_engine.c (it needs libmhguard's risk
 * module); these are its hooks. */
void *mhgc_engine_open(const char *model_path, const char *calibration_path, const char *data_dir,
                       char *err, size_t errlen);
void mhgc_engine_close(void *e);
const char *mhgc_engine_versions(void *e, const char **lexicon, const char **model);
mhg_status mhgc_engine_score(void *e, const char *text, size_t len, const char *lang,
                             double threshold, mhgc_scores *out);

#endif
