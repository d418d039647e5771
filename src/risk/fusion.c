/*
 * fusion.c - combine the rule results with the learned model.
 *
 * This is the one place where model scores meet rule scores. The rules-only
 * version below leaves the rule results untouched and asks the engine not to
 * load a model (a model that is loaded but not used would still be reported
 * as the model version of every verdict, which would be untrue).
 *
 * Contract for a model-based version (docs/internals/risk.md, "Fusion"):
 *   - return nonzero from mhgi_fusion_wants_model(); the engine then loads
 *     data/models/mhguard.model (or mhg_engine_options.model_path) and gives
 *     each scratch an mhg_model_scratch (ctx->scratch->ms);
 *   - score ctx->norm->text with mhg_model_classify(ctx->engine->model, ...);
 *   - write fused scores/levels into ctx->verdict->categories[c]; the rule
 *     level is a floor for high and imminent (C-SSRS facets come from the
 *     rules), and context flags in ctx->items (negated, idiom, third person,
 *     past, hypothetical, informational) must still hold the model back;
 *   - append model evidence with source 'm' after mhgi_verdict_reserve();
 *     assess.c recomputes risk, score, action and confidence afterwards.
 */
#include "risk/risk_int.h"

int mhgi_fusion_wants_model(void) { return 0; }

mhg_status mhgi_fuse(mhgi_fusion_ctx *ctx) {
    (void)ctx;
    return MHG_OK;
}
