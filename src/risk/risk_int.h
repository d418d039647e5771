/*
 * risk_int.h - internals of the screening engine (never installed).
 *
 * Files: engine.c (load, versions, scratch), context.c (segmentation and cue
 * rules), score.c (per-category scores and levels, C-SSRS logic), fusion.c
 * (rules + model; owned by the model work), lang.c (language detection),
 * conversation.c (carried risk, save/restore), assess.c (the pipeline),
 * verdict.c (verdict lifecycle and JSON).
 */
#ifndef MHG_RISK_INT_H
#define MHG_RISK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/mhg_limits.h"
#include "mhguard/calibration.h"
#include "mhguard/classify.h"
#include "mhguard/lexicon.h"
#include "mhguard/normalize.h"
#include "mhguard/risk.h"

/* ---- tunables (docs/internals/risk.md explains each) ------------------- */

/* Weight multipliers applied by context cues. */
#define MHGI_DISCOUNT_NEGATED 0.10
#define MHGI_DISCOUNT_PAST 0.50
#define MHGI_DISCOUNT_HYPOTHETICAL 0.25
#define MHGI_DISCOUNT_INFORMATIONAL 0.25
/* Negation window: words (spaces: true) or characters (false). */
#define MHGI_NEG_WORDS 4
#define MHGI_NEG_CHARS 6
/* Level thresholds on a weight or score. */
#define MHGI_T_LOW 0.25
#define MHGI_T_MODERATE 0.50
#define MHGI_T_HIGH 0.75
#define MHGI_T_IMMINENT 0.90
/* A facet counts fully from this strength, one level lower from FACET_WEAK. */
#define MHGI_FACET_FULL 0.50
#define MHGI_FACET_WEAK 0.35
/* Modifiers: minimum strength of timing / means-at-hand to raise a level. */
#define MHGI_TIMING_MIN 0.15
#define MHGI_MEANS_MIN 0.25
/* Level of a wish to be dead alone (C-SSRS screener item 1: low risk).
 * Several case files expect moderate; see docs/internals/risk.md. */
#define MHGI_WISH_DEAD_LEVEL MHG_LEVEL_LOW
/* past_attempt this strong is a recent attempt (C-SSRS: past 3 months). */
#define MHGI_RECENT_ATTEMPT 0.80
/* A timing / means-at-hand entry this strong is evidence by itself. */
#define MHGI_MODIFIER_ALONE 0.50
/* Method/intent/plan/preparatory entries from this weight up to FACET_WEAK
 * are ambiguous alone ("I'm doing it tonight", "gave my cat away": low at
 * most, never adding up among themselves) and count as a full act next to
 * ideation, a wish to be dead or strong means at hand (score.c). */
#define MHGI_CONTEXT_ACT_MIN 0.25
/* Minor acts (MINOR_ACT_MIN..CONTEXT_ACT_MIN: "goodbye." ending a message,
 * "it wasn't your fault") give no level alone; next to ideation, a death
 * wish or strong means they count as a full act too. */
#define MHGI_MINOR_ACT_MIN 0.15
/* A timing entry this strong states an intent by itself ("今夜死ぬ"). */
#define MHGI_TIMING_INTENT 0.65
/* Conversation memory. */
#define MHGI_CONV_ITEMS_PER_TURN 8u
#define MHGI_CONV_MIN_WEIGHT 0.10
#define MHGI_CARRY_AGE_DECAY 0.97 /* per turn of age */
#define MHGI_CARRY_CALM_GRACE 6u  /* calm turns before carried risk fades */
#define MHGI_CARRY_CALM_DECAY 0.70 /* per calm turn beyond the grace */

/* ---- engine -------------------------------------------------------------- */

typedef struct mhgi_entry_info {
    uint16_t lang;     /* index into the engine's language table */
    int8_t category;   /* mhg_category, or -1 */
    uint8_t kind;      /* mhg_lexicon_kind */
    uint8_t scope;     /* mhg_lexicon_scope */
    uint8_t spaces;
    uint16_t facet;    /* MHG_FACET_* bit */
    float weight;
} mhgi_entry_info;

typedef struct mhgi_lang_info {
    char code[8];
    int spaces;
} mhgi_lang_info;

struct mhg_engine {
    mhg_lexicon *lex;
    mhgi_entry_info *info; /* one per lexicon entry */
    size_t n_entries;
    mhgi_lang_info *langs;
    size_t n_langs;
    uint32_t *rid_table; /* open addressing: rule id -> entry index + 1 */
    size_t rid_cap;      /* power of two */
    mhg_model *model;    /* NULL: rules only */
    mhg_calibration *calib; /* NULL: raw engine scores (fusion.c applies it) */
    uint64_t *sw_hash;   /* stop-word table (lang.c) */
    uint32_t *sw_mask;
    size_t sw_cap;
    char *data_dir;
    char version[16];
    char lexicon_version[32];
    char model_version[MHG_MODEL_VERSION_LEN + 8];
};

/* Entry index for a rule id ("en.suicide.kill_myself"), or -1. */
long mhgi_engine_find_rule(const mhg_engine *e, const char *rule_id);

/* ---- per-turn analysis ----------------------------------------------------- */

/* One risk match after the context rules. */
typedef struct mhgi_item {
    uint32_t entry;
    uint32_t nstart, nend;   /* span in the normalized text */
    uint32_t ostart, oend;   /* span in the original text of its turn */
    int turn;                /* 0 current, -k earlier */
    int8_t category;         /* after context (third person -> third_party_concern) */
    int8_t orig_category;    /* the entry's own category */
    uint16_t facet;          /* after context (past -> past_attempt) */
    uint16_t orig_facet;
    uint8_t flags;           /* MHG_FLAG_* */
    float weight;            /* after context */
    const char *rule_id;     /* borrowed from the lexicon */
} mhgi_item;

/* What earlier turns contribute (a conversation, or the turns passed to
 * mhg_assess_turns). Items keep category, facet, flags and weight as
 * computed in their own turn; age is counted in user turns. */
typedef struct mhgi_hist_item {
    uint32_t turn;    /* absolute turn number */
    int32_t entry;    /* engine entry, -1 if unknown (restored, lexicon changed) */
    char rule[80];
    int8_t category;
    uint16_t facet;
    uint8_t flags;
    float weight;
    uint32_t ostart, oend;
} mhgi_hist_item;

typedef struct mhgi_history {
    mhgi_hist_item *items;
    size_t n, cap;
    uint32_t turns; /* turns recorded so far */
    uint32_t calm;  /* consecutive most recent turns without personal risk */
} mhgi_history;

struct mhg_conversation {
    mhgi_history h;
};

struct mhg_scratch {
    const mhg_engine *engine;
    mhg_lexicon_scratch *ls;
    mhg_model_scratch *ms; /* NULL without a model */
    mhg_normalized norm;
    mhg_lexicon_match *matches; /* MHG_MAX_MATCHES */
    size_t n_matches;
    size_t dropped;
    mhgi_item *items; /* MHG_MAX_MATCHES + carried */
    size_t n_items, cap_items;
    const char *orig; /* the analysed turn's original text, during mhgi_analyze */
    size_t orig_len;
    uint32_t *bounds; /* sentence/clause boundaries of the normalized text */
    uint8_t *bound_kind;
    size_t n_bounds, cap_bounds;
    mhgi_history tmp_hist; /* for mhg_assess_turns */
    char lang[8];          /* language of the analysed turn (hint or detected) */
    int msg_lang;          /* its index in engine->langs, or -1 */
    float *best;           /* 2 per entry: strongest weight (score.c) */
    uint32_t *best_gen_of; /* generation each best[] slot belongs to */
    uint32_t best_gen;
};

/* Analyse one turn: normalize, scan, detect the language (or take the
 * hint), apply context rules. Fills s->norm, s->matches, s->lang and
 * s->items (turn 0). */
mhg_status mhgi_analyze(const mhg_engine *e, mhg_scratch *s, const char *text, size_t len,
                        const char *lang_hint);

/* Context rules over s->matches -> s->items (context.c). */
void mhgi_apply_context(const mhg_engine *e, mhg_scratch *s);

/* Per-category rule result (score.c). */
typedef struct mhgi_cat_state {
    double score;
    mhg_level level;
    unsigned facets;    /* personal facets present */
    double max_weight;  /* strongest item */
    int n_items;
    int n_current;      /* items from this turn (not carried) */
} mhgi_cat_state;

/* Score items[0..n) into cats[] (personal categories and third-party).
 * Uses s->best* for per-entry de-duplication. */
void mhgi_score(mhg_scratch *s, const mhgi_item *items, size_t n,
                mhgi_cat_state cats[MHG_CAT_COUNT]);

/* Language detection (lang.c): build the stop-word table at load; detect
 * the language of the analysed turn (orig: its original text). */
mhg_status mhgi_lang_init(mhg_engine *e);
void mhgi_detect_lang(const mhg_engine *e, const mhg_scratch *s, const char *orig, size_t olen,
                      char out[8]);
int mhgi_lang_hint_valid(const char *lang);

/* ---- fusion (fusion.c) --------------------------------------------------- */

typedef struct mhgi_fusion_ctx {
    const mhg_engine *engine;
    mhg_scratch *scratch;
    const mhg_normalized *norm;   /* normalized text of this turn */
    const mhgi_cat_state *rules;  /* MHG_CAT_COUNT rule results */
    const mhgi_item *items;       /* rule evidence (current and carried) */
    size_t n_items;
    mhg_verdict *verdict;         /* categories[] hold the rule results */
} mhgi_fusion_ctx;

/* Nonzero when fusion uses a learned model (the engine then loads one). */
int mhgi_fusion_wants_model(void);
/* Combine rules and model into ctx->verdict->categories (and add model
 * evidence). The rules-only version leaves the rule results as they are. */
mhg_status mhgi_fuse(mhgi_fusion_ctx *ctx);

/* ---- history (conversation.c) ------------------------------------------- */

void mhgi_history_reset(mhgi_history *h);
void mhgi_history_free(mhgi_history *h);
/* Record the strongest current-turn items (turn == 0) of a turn; calm_turn:
 * the turn had no risk of its own (it lengthens the calm streak). */
mhg_status mhgi_history_add_turn(mhgi_history *h, const mhg_engine *e, const mhgi_item *items,
                                 size_t n, int calm_turn);
/* Append carried items for the next turn to s->items (flag CARRIED). */
void mhgi_history_carry(const mhgi_history *h, const mhg_engine *e, mhg_scratch *s);

/* Add evidence (verdict.c). */
mhg_status mhgi_verdict_reserve(mhg_verdict *v, size_t n);

#endif
