/*
 * mhguard/risk.h - the screening engine: one call turns a user message (and
 * optionally the conversation so far) into an explained verdict.
 *
 *   mhg_engine   immutable after load; share one across all threads.
 *   mhg_scratch  per-thread working memory; one thread at a time.
 *   mhg_verdict  caller-owned result, reusable across calls.
 *   mhg_conversation  per-conversation memory of earlier turns, so that risk
 *                 spread over several messages accumulates and a later
 *                 "I'm fine now" does not silently erase it.
 *
 * Pipeline: normalize -> lexicon scan (Vectorscan, all languages at once)
 * -> context rules (negation, idiom, third person, past, hypothetical,
 * informational) -> learned model (when one is loaded) -> fusion into
 * per-category scores and levels (C-SSRS logic for suicide) -> action.
 */
#ifndef MHGUARD_RISK_H
#define MHGUARD_RISK_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhg_engine mhg_engine;
typedef struct mhg_scratch mhg_scratch;
typedef struct mhg_conversation mhg_conversation;

typedef struct mhg_engine_options {
    /* Directory holding lexicons/, models/, resources/. NULL: $MHG_DATA_DIR,
     * else the source tree's data/, else the installed share/mhguard. */
    const char *data_dir;
    /* Model file. NULL: data_dir/models/mhguard.model if present. "" (empty
     * string): rules only, no model. */
    const char *model_path;
    /* Where to keep the serialized Vectorscan database. NULL: next to the
     * lexicons if writable, else $XDG_CACHE_HOME/mhguard; never fatal. */
    const char *cache_dir;
    /* Engine score calibration (include/mhguard/calibration.h). NULL:
     * data_dir/models/engine-calibration.json when present and fitted for
     * the loaded model (else none); "" : none (raw engine scale). An
     * explicit path that cannot be read or names another model is an error.
     * Without a model there is never a calibration. */
    const char *calibration_path;
} mhg_engine_options;

/*
 * Load lexicons (compiling or loading the cached Vectorscan database) and
 * the model. opts may be NULL for defaults. On failure *out is NULL and err
 * (if errlen > 0) holds a message naming the file and line or entry at fault.
 */
MHG_NODISCARD mhg_status mhg_engine_load(const mhg_engine_options *opts, mhg_engine **out,
                                         char *err, size_t errlen);
void mhg_engine_free(mhg_engine *engine);

/* Versions reported in every verdict and audit record. Owned by the engine.
 * model is "none" when no model is loaded; with a score calibration it is
 * "<model>+<calibration>", e.g. "m1-18-506c91bcc81a+c1-0123456789ab". */
const char *mhg_engine_version(const mhg_engine *engine);  /* "0.1.0" */
const char *mhg_engine_lexicon_version(const mhg_engine *engine);
const char *mhg_engine_model_version(const mhg_engine *engine);
/* Directory the engine loaded its data from. Owned by the engine. */
const char *mhg_engine_data_dir(const mhg_engine *engine);

MHG_NODISCARD mhg_status mhg_scratch_new(const mhg_engine *engine, mhg_scratch **out);
void mhg_scratch_free(mhg_scratch *scratch);

/* One piece of evidence. Offsets point into the caller's original bytes. */
typedef struct mhg_evidence {
    size_t start, end;     /* byte span in the original text of this turn */
    int turn;              /* 0: this message; -k: k user turns earlier */
    mhg_category category; /* category the match counts toward (after context) */
    unsigned facet;        /* one MHG_FACET_* bit, or 0 */
    unsigned flags;        /* MHG_FLAG_* context flags applied to this match */
    double weight;         /* contribution after context, in [0,1] */
    char source;           /* 'r' lexicon rule, 'm' model feature */
    const char *rule_id;   /* borrowed from the engine: "en.suicide.kill_myself",
                              or for 'm' the model feature, e.g. "w:kil myself" */
} mhg_evidence;

typedef struct mhg_category_result {
    mhg_level level;
    /* In [0,1]. With a score calibration loaded (the default when
     * data/models/engine-calibration.json matches the model) and one for
     * this category: the dev-fitted probability that the category is
     * present, given the engine's raw fused score (isotonic; suicide and
     * self_harm in the shipped file). Otherwise the raw engine scale, on
     * which 0.25/0.5/0.75/0.9 are the low/moderate/high/imminent floors.
     * Calibration is applied after levels are decided: `level` never
     * depends on it, and a calibrated score need not agree with the level
     * floors (a moderate suicide verdict may have score 0.4). */
    double score;
    unsigned facets; /* MHG_FACET_* bits (suicide; others may use them too) */
} mhg_category_result;

typedef struct mhg_verdict {
    mhg_level risk;   /* highest category level */
    double score;     /* score of the highest category (see category score) */
    mhg_action action;
    double confidence; /* how sure the engine is of `risk`, in [0,1] */
    mhg_category_result categories[MHG_CAT_COUNT];
    unsigned flags;    /* union of context flags applied */
    char lang[8];      /* the hint, or the detected language ("und" if unknown) */
    mhg_evidence *evidence; /* strongest first; owned by the verdict */
    size_t n_evidence;
    size_t cap_evidence;    /* internal */
} mhg_verdict;

void mhg_verdict_init(mhg_verdict *v);
void mhg_verdict_free(mhg_verdict *v); /* NULL is a no-op */

/*
 * Screen one message. lang is a hint ("en", "es", ...) or NULL to detect.
 * conv may be NULL (stateless); when given, earlier turns raise this verdict
 * (flag MHG_FLAG_CARRIED on carried evidence) and this turn is added to it.
 * Errors: MHG_ERR_UTF8, MHG_ERR_TOO_BIG, MHG_ERR_NOMEM; on error the verdict
 * is reset and the caller must fail closed.
 * Thread use: engine shared; scratch, conv and out owned by the calling thread.
 */
MHG_NODISCARD mhg_status mhg_assess(const mhg_engine *engine, mhg_scratch *scratch,
                                    const char *text, size_t len, const char *lang,
                                    mhg_conversation *conv, mhg_verdict *out);

/* Stateless form for callers that hold the history themselves (the gateway
 * passes the messages of a chat completion): turns[0..n-1] are the user's
 * messages oldest first; the verdict is for turns[n-1]. */
typedef struct mhg_turn {
    const char *text;
    size_t len;
} mhg_turn;
MHG_NODISCARD mhg_status mhg_assess_turns(const mhg_engine *engine, mhg_scratch *scratch,
                                          const mhg_turn *turns, size_t n, const char *lang,
                                          mhg_verdict *out);

MHG_NODISCARD mhg_status mhg_conversation_new(mhg_conversation **out);
void mhg_conversation_free(mhg_conversation *conv);
/* Serialize / restore conversation memory (no message text is kept in it,
 * only levels, facets, rule ids and turn counts) so a server can store it.
 * *json_out is malloc'd; free() it. */
MHG_NODISCARD mhg_status mhg_conversation_save(const mhg_conversation *conv, char **json_out);
MHG_NODISCARD mhg_status mhg_conversation_restore(const char *json, size_t len,
                                                  mhg_conversation **out);

/*
 * The verdict as one JSON object (compact, one line):
 *   {"risk","score","confidence","action","lang","categories":{name:{"level","score",
 *    "facets":[...]}}, "evidence":[{"start","end","text","turn","category","facet",
 *    "rule","source","weight","flags":[...]}], "flags":[...],
 *    "versions":{"engine","lexicon","model"}}
 * categories lists only those above none. text/len is the original message,
 * used for the "text" of each evidence item (turn 0 only); may be NULL.
 * *json_out is malloc'd; free() it.
 */
MHG_NODISCARD mhg_status mhg_verdict_to_json(const mhg_engine *engine, const mhg_verdict *v,
                                             const char *text, size_t len, char **json_out);

#ifdef __cplusplus
}
#endif
#endif
