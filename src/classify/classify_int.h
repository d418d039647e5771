/*
 * classify_int.h - internals of the classify module (never installed).
 */
#ifndef MHG_CLASSIFY_INT_H
#define MHG_CLASSIFY_INT_H

#include <stdint.h>

#include "mhguard/classify.h"

/* Header layout of the model file; see docs/internals/classify.md. */
#define MHGI_MODEL_FIXED_BYTES 64u
#define MHGI_MODEL_HEAD_BYTES 64u
#define MHGI_MODEL_ALIGN 64u

struct mhg_model {
    mhg_feature_config cfg;
    char version[MHG_MODEL_VERSION_LEN];
    size_t n_heads;
    mhg_model_head heads[MHG_MODEL_MAX_HEADS];
    double scale[MHG_MODEL_MAX_HEADS]; /* weight = stored value * scale */
    int weight_bits;                    /* 32, 16 or 8 */
    const void *weights;                /* [bucket][head] */
    void *owned;                        /* buffer that holds weights (freed) */
    size_t owned_len;
};

struct mhg_model_scratch {
    mhg_feature_buf feats;
    size_t text_len;   /* length of the last classified text */
    int have;          /* features of a classified text are present */
    /* explanation work area */
    uint32_t *tok_start, *tok_end;
    double *tok_w;
    size_t tok_cap;
};

/* Margins of every head for extracted features (the one scoring path shared
 * by inference and calibration, so both see the same numbers). */
void mhgi_model_margins(const mhg_model *m, const mhg_feature_buf *f, double *margin);

/* Allocate an empty in-memory model with zeroed weights. */
mhg_status mhgi_model_alloc(const mhg_feature_config *cfg, const mhg_category *heads,
                            size_t n_heads, int weight_bits, mhg_model **out);

/* Recompute the content-derived version string (after any change). */
void mhgi_model_update_version(mhg_model *m);

double mhgi_sigmoid_platt(const mhg_model_head *h, double margin);

#endif
