/*
 * eval_engine.c - `mhguard eval` scoring through the full engine
 * (mhg_assess: rules, context rules, model, fusion). Stateless: every row
 * is its own conversation.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/eval_scorers.h"

typedef struct engine_scorer {
    mhg_engine *engine;
    mhg_scratch *scratch;
    mhg_verdict v;
} engine_scorer;

void *mhgc_engine_open(const char *model_path, const char *calibration_path, const char *data_dir,
                       char *err, size_t errlen) {
    engine_scorer *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    mhg_engine_options o;
    memset(&o, 0, sizeof o);
    o.data_dir = data_dir;
    o.model_path = model_path; /* NULL default, "" rules only */
    o.calibration_path = calibration_path; /* NULL default, "" raw scores */
    if (mhg_engine_load(&o, &e->engine, err, errlen) != MHG_OK ||
        mhg_scratch_new(e->engine, &e->scratch) != MHG_OK) {
        mhg_engine_free(e->engine);
        free(e);
        return NULL;
    }
    mhg_verdict_init(&e->v);
    return e;
}

void mhgc_engine_close(void *p) {
    engine_scorer *e = p;
    if (!e) return;
    mhg_verdict_free(&e->v);
    mhg_scratch_free(e->scratch);
    mhg_engine_free(e->engine);
    free(e);
}

const char *mhgc_engine_versions(void *p, const char **lexicon, const char **model) {
    engine_scorer *e = p;
    *lexicon = mhg_engine_lexicon_version(e->engine);
    *model = mhg_engine_model_version(e->engine);
    return mhg_engine_version(e->engine);
}

mhg_status mhgc_engine_score(void *p, const char *text, size_t len, const char *lang,
                             double threshold, mhgc_scores *out) {
    engine_scorer *e = p;
    mhg_status st = mhg_assess(e->engine, e->scratch, text, len, lang, NULL, &e->v);
    if (st != MHG_OK) return st;
    for (int k = 0; k < MHG_CAT_COUNT; k++) {
        out->have[k] = 1;
        out->score[k] = e->v.categories[k].score;
        out->flagged[k] = threshold >= 0 ? out->score[k] >= threshold
                                         : e->v.categories[k].level >= MHG_LEVEL_MODERATE;
    }
    return MHG_OK;
}
