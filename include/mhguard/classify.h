/*
 * mhguard/classify.h - the learned risk model: logistic regression heads over
 * hashed n-gram features of NORMALIZED text (see mhguard/normalize.h).
 *
 * Features (language-agnostic, no vocabulary, no tokenizer per language):
 *   - word unigrams and bigrams: a word is a run of characters that are not
 *     spaces or punctuation, so scripts without spaces give one long "word"
 *     per clause and rely on the character n-grams below;
 *   - character n-grams of char_min..char_max code points over the whole
 *     normalized text padded with one space at each end (so they cross word
 *     boundaries: "l myse" helps "kil myself").
 * Each feature string is hashed (64-bit, seeded, namespaced per kind) to one
 * of 2^hash_bits buckets and a sign (signed hashing: collisions cancel on
 * average instead of piling up). Feature values: each group (words, chars)
 * contributes sum(sign * e_bucket) / sqrt(count in group), so short and long
 * texts land on the same scale and the word group is not drowned by the far
 * more numerous character n-grams.
 *
 * One head per category (at least suicide and self_harm): a weight per bucket,
 * a bias, Platt calibration (p = 1 / (1 + exp(a * margin + b))) fitted on the
 * dev split, and the level thresholds that fusion uses (chosen on dev).
 *
 * Model file (little-endian, see docs/internals/classify.md): magic
 * "MHGMODEL", format version, version string, feature settings, per-head
 * parameters, weights laid out [bucket][head] (one cache line serves every
 * head) as float32 or int16/int8 with a per-head scale, then a 64-bit
 * checksum. The version string is derived from the content, so the same
 * training run gives the same version and any change gives a new one.
 *
 * Thread use: a loaded mhg_model is immutable and shared by all threads; an
 * mhg_model_scratch is used by one thread at a time.
 */
#ifndef MHGUARD_CLASSIFY_H
#define MHGUARD_CLASSIFY_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MHG_MODEL_MAGIC "MHGMODEL"
#define MHG_MODEL_FORMAT 1u
#define MHG_MODEL_VERSION_LEN 32u /* bytes incl. NUL */
#define MHG_MODEL_MAX_HEADS ((unsigned)MHG_CAT_COUNT)
#define MHG_MODEL_MIN_HASH_BITS 8u
#define MHG_MODEL_MAX_HASH_BITS 24u
#define MHG_MODEL_MAX_CHAR_N 8u

typedef struct mhg_feature_config {
    uint32_t hash_bits;   /* 2^hash_bits buckets */
    uint32_t seed;        /* hash seed */
    uint8_t word_ngrams;  /* 0 none, 1 unigrams, 2 uni + bigrams */
    uint8_t char_min;     /* 0: no character n-grams */
    uint8_t char_max;     /* >= char_min, <= MHG_MODEL_MAX_CHAR_N */
} mhg_feature_config;

/* The shipped settings: 2^18 buckets, word 1-2, char 3-5, seed 0x6d6867.
 * Cannot fail. */
void mhg_feature_config_default(mhg_feature_config *cfg);

enum { MHG_FEAT_WORD = 0, MHG_FEAT_BIGRAM = 1, MHG_FEAT_CHAR = 2 };

/* One feature occurrence. start/end: byte span in the normalized text
 * (clipped to it: the padding spaces are not part of any span). */
typedef struct mhg_feature {
    uint32_t bucket;
    int32_t sign; /* +1 or -1 */
    uint32_t kind; /* MHG_FEAT_* */
    uint32_t start, end;
} mhg_feature;

/* Reusable growable buffer of features (bounded by the message limit). */
typedef struct mhg_feature_buf {
    mhg_feature *items;
    size_t n, cap;
    size_t n_word, n_char; /* counts per group (bigrams count as words) */
} mhg_feature_buf;

void mhg_feature_buf_init(mhg_feature_buf *b);
void mhg_feature_buf_free(mhg_feature_buf *b); /* NULL is a no-op */

/*
 * Extract every feature of normalized text [text, text+len) into out
 * (cleared first). Errors: MHG_ERR_INVALID (bad cfg), MHG_ERR_UTF8,
 * MHG_ERR_TOO_BIG (len > MHG_MAX_MESSAGE_BYTES), MHG_ERR_NOMEM.
 * Reentrant.
 */
MHG_NODISCARD mhg_status mhg_features_extract(const mhg_feature_config *cfg, const char *text,
                                              size_t len, mhg_feature_buf *out);

/* The hash used for every feature: 64-bit, seeded. Exposed for tests and
 * tools. Cannot fail. */
uint64_t mhg_feature_hash(uint64_t seed, const void *data, size_t len);

/* ---- the model -------------------------------------------------------- */

typedef struct mhg_model mhg_model;
typedef struct mhg_model_scratch mhg_model_scratch;

/* Per-head parameters (also what the trainer fills in). */
typedef struct mhg_model_head {
    mhg_category category;
    double bias;             /* added to the margin */
    double platt_a, platt_b; /* p = 1 / (1 + exp(platt_a * margin + platt_b)) */
    /* Calibrated-probability thresholds for the model's own level (chosen on
     * dev at training time): p >= t_low -> low, p >= t_moderate -> moderate.
     * The model alone never sets high or imminent (C-SSRS facets come from
     * the rules). 2.0 disables a level. */
    double t_low, t_moderate;
} mhg_model_head;

/*
 * Load a model file (one read into memory; the weights are used in place).
 * Errors: MHG_ERR_IO (cannot open/read), MHG_ERR_PARSE (bad magic, format,
 * checksum or sizes), MHG_ERR_NOMEM. err (if errlen > 0) says which.
 * On failure *out is NULL.
 */
MHG_NODISCARD mhg_status mhg_model_load(const char *path, mhg_model **out, char *err,
                                        size_t errlen);
void mhg_model_free(mhg_model *model); /* NULL is a no-op */

/* Content-derived version, e.g. "m1-18-3fa2c0d19b7e". Owned by the model. */
const char *mhg_model_version(const mhg_model *model);
const mhg_feature_config *mhg_model_features(const mhg_model *model);
size_t mhg_model_n_heads(const mhg_model *model);
/* Head i (0 <= i < n_heads); NULL when out of range. Owned by the model. */
const mhg_model_head *mhg_model_head_get(const mhg_model *model, size_t i);
/* Index of the head for a category, or -1 when the model has none. */
int mhg_model_head_index(const mhg_model *model, mhg_category cat);

MHG_NODISCARD mhg_status mhg_model_scratch_new(mhg_model_scratch **out);
void mhg_model_scratch_free(mhg_model_scratch *s); /* wipes, NULL is a no-op */

typedef struct mhg_model_output {
    size_t n_heads;
    mhg_category category[MHG_MODEL_MAX_HEADS];
    double margin[MHG_MODEL_MAX_HEADS]; /* raw decision value (bias included) */
    double prob[MHG_MODEL_MAX_HEADS];   /* calibrated probability */
} mhg_model_output;

/*
 * Score normalized text with every head. Errors as mhg_features_extract.
 * Thread use: model shared, scratch per thread. The scratch keeps the
 * features of the last call for mhg_model_explain().
 */
MHG_NODISCARD mhg_status mhg_model_classify(const mhg_model *model, mhg_model_scratch *s,
                                            const char *text, size_t len,
                                            mhg_model_output *out);

/* One explanation unit: a word (or, in unspaced scripts, a clause) of the
 * normalized text and the sum of the logit contributions of the features
 * attributed to it (a word's own features, half of each bigram it is in,
 * and the character n-grams that start inside it or in the space before). */
typedef struct mhg_model_contrib {
    uint32_t start, end; /* span in the normalized text */
    double weight;       /* logit contribution, > 0 pushes toward the category */
} mhg_model_contrib;

/*
 * After mhg_model_classify() on the same scratch: the up to max strongest
 * positive contributions for head index `head`, strongest first, into
 * out[0..*n). Cannot fail for valid arguments (returns MHG_ERR_INVALID for a
 * bad head or a scratch with no classified text, MHG_ERR_NOMEM).
 */
MHG_NODISCARD mhg_status mhg_model_explain(const mhg_model *model, mhg_model_scratch *s,
                                           size_t head, mhg_model_contrib *out, size_t max,
                                           size_t *n);

/* ---- training (liblinear) --------------------------------------------- */

typedef struct mhg_trainer mhg_trainer;

typedef struct mhg_train_options {
    double C;            /* liblinear cost; default 1.0 */
    double eps;          /* liblinear stopping tolerance; default 0.01 */
    int balance;         /* weight classes inversely to their frequency */
    int weight_bits;     /* 32 (float), 16 or 8 (quantized); default 16 */
    uint32_t seed;       /* recorded; the primal solver itself is deterministic */
} mhg_train_options;

void mhg_train_options_default(mhg_train_options *o);

/* Label of one example for one head. */
enum { MHG_LABEL_UNKNOWN = -1, MHG_LABEL_NEG = 0, MHG_LABEL_POS = 1 };

/*
 * A trainer collects examples for the given heads (categories, in order) and
 * fits them. Errors: MHG_ERR_INVALID (no heads, duplicates, bad cfg), NOMEM.
 */
MHG_NODISCARD mhg_status mhg_trainer_new(const mhg_feature_config *cfg,
                                         const mhg_category *heads, size_t n_heads,
                                         mhg_trainer **out);
void mhg_trainer_free(mhg_trainer *tr);

/*
 * Add one example of normalized text. labels[i] is the label for head i
 * (MHG_LABEL_*); is_dev: 1 for a calibration (dev) example, 0 for training.
 * An example unknown for every head is ignored. Errors as
 * mhg_features_extract. The text is not kept.
 */
MHG_NODISCARD mhg_status mhg_trainer_add(mhg_trainer *tr, const char *text, size_t len,
                                         const int8_t *labels, int is_dev);

/* Counts of examples per head (for manifests). Cannot fail. */
void mhg_trainer_counts(const mhg_trainer *tr, size_t head, size_t *train_pos,
                        size_t *train_neg, size_t *dev_pos, size_t *dev_neg);

/*
 * Fit every head with liblinear (L2-regularized logistic regression, primal
 * Newton solver: deterministic), quantize, then fit Platt calibration on the
 * dev examples with the quantized weights. Thresholds start disabled (2.0):
 * set them with mhg_model_set_thresholds() before saving.
 * Errors: MHG_ERR_INVALID (a head lacks positives or negatives in train),
 * MHG_ERR_NOMEM, MHG_ERR_INTERNAL (liblinear failed). err explains.
 */
MHG_NODISCARD mhg_status mhg_trainer_fit(mhg_trainer *tr, const mhg_train_options *opt,
                                         mhg_model **out, char *err, size_t errlen);

/* The dev examples' labels and calibrated scores for head `head` after a
 * fit, for threshold selection: arrays owned by the trainer, *n entries. */
void mhg_trainer_dev_scores(const mhg_trainer *tr, size_t head, const int8_t **labels,
                            const double **probs, size_t *n);

/* Set head i's level thresholds (probability units). MHG_ERR_INVALID for a
 * bad head. Changes the model's version. */
MHG_NODISCARD mhg_status mhg_model_set_thresholds(mhg_model *model, size_t head, double t_low,
                                                  double t_moderate);

/*
 * Write the model file atomically (temp file + rename). Deterministic: the
 * same model gives the same bytes. Errors: MHG_ERR_IO, MHG_ERR_NOMEM.
 */
MHG_NODISCARD mhg_status mhg_model_save(const mhg_model *model, const char *path);

/* Size in bytes of the serialized model. Cannot fail. */
size_t mhg_model_file_size(const mhg_model *model);

/* Platt scaling: fit a, b so that 1/(1+exp(a*s+b)) matches the 0/1 labels
 * (Platt 1999 with Lin-Lin-Weng's Newton method and target smoothing).
 * n may be 0 (a = -1, b = 0). Cannot fail. */
void mhg_platt_fit(const double *scores, const int8_t *labels, size_t n, double *a, double *b);

#ifdef __cplusplus
}
#endif
#endif
