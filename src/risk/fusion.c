/*
 * fusion.c - combine the rule results with the learned model.
 *
 * Follows the contract the engine set for this file (rules-only version in
 * 3efcc20): mhgi_fusion_wants_model() is nonzero so the engine loads the
 * model; fused scores and levels go into ctx->verdict->categories; model
 * evidence is appended with source 'm'; assess.c recomputes risk, score,
 * action and confidence afterwards. Without a model (rules-only engine,
 * or engine options with model_path ""), mhgi_fuse leaves the rules as they
 * are.
 *
 * Principles (docs/internals/classify.md, docs/model-card.md):
 *  1. The model can raise a category, never lower it: a rule verdict stands
 *     (fail closed on crisis paths).
 *  2. The model alone reaches at most `moderate`. High and imminent need the
 *     C-SSRS facets (method, intent, plan, timing, means) that only the rules
 *     establish.
 *  3. Context flags still apply. When the rules saw this category in the
 *     current message only under a discounting context (negated, idiom, past,
 *     hypothetical, informational, third person) and never plainly, the
 *     model's score is halved and its level capped at `low`: a negated or
 *     idiomatic message is not pushed up by the model alone. When the
 *     discounting context is third person, the model's level goes to
 *     third_party_concern instead (a friend at risk is a concern to act on).
 *  4. Scores share the engine's scale. The head's calibrated probability p
 *     (Platt, fitted on dev) is mapped piecewise-linearly onto the rule scale
 *     so that the head's dev-chosen thresholds land on the engine's level
 *     thresholds: p = t_low -> MHGI_T_LOW, p = t_moderate -> MHGI_T_MODERATE,
 *     p = 1 -> MHGI_T_HIGH (exclusive). A category's score is the larger of
 *     the rule score and this model score, and its level follows.
 *  5. The calibrated probability itself is reported as the weight of the
 *     model's evidence items (source 'm'), which point at the words that
 *     contributed most (mhg_model_explain), mapped to the caller's bytes.
 *  6. Last, once every level is final, the engine's score calibration
 *     (calibration.h, when loaded) maps each category's fused score to a
 *     dev-fitted probability. Levels are never recomputed from it.
 */
#include <math.h>
#include <string.h>

#include "risk/risk_int.h"

#define FUSION_TOP_FEATURES 3u
#define FUSION_CAPPED_FACTOR 0.5
#define DISCOUNT_FLAGS                                                                    \
    (MHG_FLAG_NEGATED | MHG_FLAG_IDIOM | MHG_FLAG_PAST | MHG_FLAG_HYPOTHETICAL |          \
     MHG_FLAG_INFORMATIONAL | MHG_FLAG_THIRD_PERSON)

/* Static rule ids for model evidence, one per category (the evidence
 * borrows rule_id from the engine; these live as long as the program). */
static const char *const MODEL_RULE_ID[MHG_CAT_COUNT] = {
    "model.suicide",         "model.self_harm",       "model.harm_to_others",
    "model.abuse",           "model.eating_disorder", "model.overdose",
    "model.psychosis_mania", "model.medical_emergency", "model.third_party_concern"};
_Static_assert(sizeof MODEL_RULE_ID / sizeof *MODEL_RULE_ID == MHG_CAT_COUNT,
               "one model rule id per category");

int mhgi_fusion_wants_model(void) { return 1; }

/* Model probability -> engine score scale (principle 4). */
static double model_to_scale(double p, const mhg_model_head *h) {
    double tl = h->t_low, tm = h->t_moderate;
    if (!(tm > 0.0) || tm >= 1.0) tm = 1.0; /* disabled: never moderate */
    if (!(tl > 0.0) || tl > tm) tl = tm;
    if (p <= 0.0) return 0.0;
    if (p < tl) return MHGI_T_LOW * (p / tl);
    if (p < tm) return MHGI_T_LOW + (MHGI_T_MODERATE - MHGI_T_LOW) * (p - tl) / (tm - tl);
    if (tm >= 1.0) return MHGI_T_MODERATE - 1e-6;
    double s = MHGI_T_MODERATE + (MHGI_T_HIGH - MHGI_T_MODERATE) * (p - tm) / (1.0 - tm);
    return s < MHGI_T_HIGH ? s : MHGI_T_HIGH - 1e-6; /* model alone: below high */
}

static mhg_level scale_level(double s) {
    if (s >= MHGI_T_MODERATE) return MHG_LEVEL_MODERATE;
    if (s >= MHGI_T_LOW) return MHG_LEVEL_LOW;
    return MHG_LEVEL_NONE;
}

/* How the rules saw category c in the current turn: *plain = some
 * undiscounted personal item; *flags = discount flags of items about c
 * (by the entry's own category, so third-person items count too). */
static void rule_context(const mhgi_fusion_ctx *ctx, mhg_category c, int *plain, unsigned *flags) {
    *plain = 0;
    *flags = 0;
    for (size_t i = 0; i < ctx->n_items; i++) {
        const mhgi_item *it = &ctx->items[i];
        if (it->turn != 0) continue; /* carried risk is handled by the rules */
        /* a message about someone else at risk ("my friend wants to end
         * it") is third person for the self-directed categories, whatever
         * entry matched */
        if (it->category == (int8_t)MHG_CAT_THIRD_PARTY_CONCERN &&
            (c == MHG_CAT_SUICIDE || c == MHG_CAT_SELF_HARM))
            *flags |= MHG_FLAG_THIRD_PERSON;
        if (it->orig_category != (int8_t)c && it->category != (int8_t)c) continue;
        unsigned f = it->flags & DISCOUNT_FLAGS;
        /* re-routed by the context rules (someone else at risk) */
        if (it->orig_category == (int8_t)c && it->category != (int8_t)c &&
            it->category == (int8_t)MHG_CAT_THIRD_PARTY_CONCERN)
            f |= MHG_FLAG_THIRD_PERSON;
        if (f)
            *flags |= f;
        else if (it->category == (int8_t)c)
            *plain = 1;
    }
}

static mhg_status add_model_evidence(mhgi_fusion_ctx *ctx, size_t head, mhg_category c, double p,
                                     unsigned flags) {
    mhg_model_contrib top[FUSION_TOP_FEATURES];
    size_t n = 0;
    mhg_status st = mhg_model_explain(ctx->engine->model, ctx->scratch->ms, head, top,
                                      FUSION_TOP_FEATURES, &n);
    if (st != MHG_OK || n == 0) return st;
    mhg_verdict *v = ctx->verdict;
    for (size_t k = 0; k < n; k++) {
        if (v->n_evidence >= MHG_MAX_EVIDENCE) break;
        if (top[k].end <= top[k].start || top[k].end > ctx->norm->len) continue;
        if ((st = mhgi_verdict_reserve(v, v->n_evidence + 1)) != MHG_OK) return st;
        size_t os, oe;
        mhg_normalized_span(ctx->norm, top[k].start, top[k].end, &os, &oe);
        mhg_evidence *ev = &v->evidence[v->n_evidence++];
        memset(ev, 0, sizeof *ev);
        ev->start = os;
        ev->end = oe;
        ev->turn = 0;
        ev->category = c;
        ev->facet = 0;
        ev->flags = flags;
        /* strongest word carries the calibrated probability, the others
         * their share of it */
        ev->weight = k == 0 ? p : p * (top[k].weight / top[0].weight);
        ev->source = 'm';
        ev->rule_id = MODEL_RULE_ID[c];
    }
    return MHG_OK;
}

/* Keep the evidence strongest first after appending model items (stable
 * insertion sort: at most MHG_MAX_EVIDENCE items). */
static void sort_evidence(mhg_verdict *v) {
    for (size_t i = 1; i < v->n_evidence; i++) {
        mhg_evidence x = v->evidence[i];
        size_t j = i;
        while (j > 0 && v->evidence[j - 1].weight < x.weight) {
            v->evidence[j] = v->evidence[j - 1];
            j--;
        }
        v->evidence[j] = x;
    }
}

mhg_status mhgi_fuse(mhgi_fusion_ctx *ctx) {
    if (!ctx || !ctx->verdict) return MHG_ERR_INVALID;
    const mhg_engine *e = ctx->engine;
    if (!e || !e->model || !ctx->scratch || !ctx->scratch->ms || !ctx->norm) return MHG_OK;
    const mhg_model *m = e->model;
    mhg_model_output out;
    mhg_status st = mhg_model_classify(m, ctx->scratch->ms, ctx->norm->text, ctx->norm->len, &out);
    if (st != MHG_OK) return st;
    mhg_verdict *v = ctx->verdict;
    for (size_t h = 0; h < out.n_heads; h++) {
        mhg_category c = out.category[h];
        if ((unsigned)c >= MHG_CAT_COUNT) continue;
        const mhg_model_head *hd = mhg_model_head_get(m, h);
        double p = out.prob[h];
        double s = model_to_scale(p, hd);
        int plain;
        unsigned flags;
        rule_context(ctx, c, &plain, &flags);
        int capped = !plain && flags != 0;
        mhg_category target = c;
        if (capped) {
            s *= FUSION_CAPPED_FACTOR;
            if (s >= MHGI_T_MODERATE) s = MHGI_T_MODERATE - 1e-6;
        }
        mhg_level lm = scale_level(s);
        /* third person: the model's unreduced level is a concern about
         * someone else (principle 3) */
        if (capped && (flags & MHG_FLAG_THIRD_PERSON) &&
            (c == MHG_CAT_SUICIDE || c == MHG_CAT_SELF_HARM)) {
            target = MHG_CAT_THIRD_PARTY_CONCERN;
            double s3 = model_to_scale(p, hd);
            mhg_category_result *r3 = &v->categories[target];
            if (s3 > r3->score) r3->score = s3;
            mhg_level l3 = scale_level(s3);
            if (l3 > r3->level) r3->level = l3;
        }
        mhg_category_result *r = &v->categories[c];
        int raised = 0;
        if (s > r->score) r->score = s;
        if (lm > r->level) {
            r->level = lm;
            raised = 1;
        }
        if (capped) v->flags |= flags;
        /* evidence when the model matters for this verdict: it raised the
         * level, or it is at least at its own low threshold */
        if (raised || lm >= MHG_LEVEL_LOW) {
            st = add_model_evidence(ctx, h, target, p, capped ? flags : 0);
            if (st != MHG_OK) return st;
        }
    }
    sort_evidence(v);
    /* principle 6: after the levels, never before */
    if (e->calib)
        for (int c = 0; c < MHG_CAT_COUNT; c++)
            v->categories[c].score =
                mhg_calibration_apply(e->calib, (mhg_category)c, v->categories[c].score);
    return MHG_OK;
}
