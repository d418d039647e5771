/*
 * score.c - per-category scores and levels from evidence items.
 *
 * Score: noisy-OR of the item weights, 1 - prod(1 - w), counting each
 * lexicon entry once (its strongest occurrence), so that independent
 * signals accumulate but a phrase repeated three times does not.
 *
 * Level, suicide (and any category whose entries carry C-SSRS facets):
 * a facet's strength is the noisy-OR of its items. A facet at full strength
 * (>= 0.5) gives its screener level, a weak one (>= 0.35) one level less:
 *   wish_dead -> low; ideation -> moderate; past_attempt -> moderate
 *   (low when the past cue says it was long ago); method, intent, plan,
 *   preparatory ("acts") -> high. The acts add up across facets (noisy-OR):
 *   two weak farewell signs are one clear act. An ambiguous act (entry
 *   weight 0.25-0.35: "I'm doing it tonight", "gave my cat away") does not
 *   add up with other ambiguous or minor ones; it strengthens a weak act,
 *   and counts as a full act next to ideation, a wish to be dead or the
 *   means said plainly (this turn or carried). Escalations: an act with
 *   timing or means at hand -> imminent, and so is ideation with both a
 *   time and the means at hand; a weak act (0.35-0.5: "this is goodbye")
 *   at the means -> high, imminent with strong means or a time ("I'm on
 *   the bridge right now, this is goodbye"); ideation or wish_dead with
 *   timing or means at hand, and a recent attempt (past_attempt with
 *   timing) -> high. A timing entry strong enough to state an intent by itself
 *   ("今夜死ぬ", weight >= 0.65) counts as intent. Weak timing and
 *   means-at-hand items (< 0.5: "tonight") never raise a level or a score
 *   alone: they only modify other evidence. Strong ones ("the pills are
 *   right here", >= 0.5) also count as evidence by themselves (moderate
 *   through the score).
 * Level, other categories: from the strongest item (>= 0.25 low, >= 0.5
 * moderate, >= 0.75 high; overdose >= 0.9 imminent, an ingestion in
 * progress); overdose or harm_to_others at high with a timing item ->
 * imminent. medical_emergency stops at high (the reply is "call emergency
 * services", the same as high).
 * Everywhere: the noisy-OR score alone can lift a category to moderate
 * (two or more weak signals together), never higher, and only signals
 * without a context flag count for that; discounted ones lift it to low at
 * most. One signal alone gets the level of its facet or weight.
 * Recent attempt: a past_attempt item of weight >= 0.8 (the lexicon's way
 * of saying "within the past three months", C-SSRS) -> high.
 * third_party_concern: matches moved there by a third-person cue are scored
 * as if personal, in their own category, and the concern takes the highest
 * of those levels, capped at high; direct concern entries ("my friend is
 * suicidal") count from 0.35 as moderate.
 * Carried items (earlier turns) count like current ones, but imminent needs
 * something in the current turn: carried evidence alone stops at high.
 */
#include <math.h>
#include <string.h>

#include "risk/risk_int.h"

#define CORE_FACETS                                                                            \
    (MHG_FACET_WISH_DEAD | MHG_FACET_IDEATION | MHG_FACET_METHOD | MHG_FACET_INTENT |          \
     MHG_FACET_PLAN | MHG_FACET_PREPARATORY | MHG_FACET_PAST_ATTEMPT)
#define MOD_FACETS (MHG_FACET_TIMING | MHG_FACET_MEANS_AT_HAND)
#define ACT_FACETS (MHG_FACET_METHOD | MHG_FACET_INTENT | MHG_FACET_PLAN | MHG_FACET_PREPARATORY)

typedef struct acc {
    double core_keep;              /* prod(1 - w) over core and plain items */
    double clean_keep;             /* the same over items without a context flag */
    int n_clean;                   /* items without a context flag */
    double mod_keep;               /* prod(1 - w) over modifier items */
    double facet_keep[MHG_FACET_COUNT];
    double past_flag_keep;         /* past_attempt items from a past cue */
    double max_plain;              /* strongest item without a facet */
    double max_core;               /* strongest core item */
    double max_attempt;            /* strongest attempt entry, no past cue */
    /* Acts (method, intent, plan, preparatory items) by strength: clear
     * (>= FACET_WEAK), ambiguous (CONTEXT_ACT_MIN..FACET_WEAK) and minor */
    double act_keep, act_ctx_keep, act_minor_keep;
    double max_ctx_act;            /* strongest undiscounted ambiguous or
                                    * minor act (>= MINOR_ACT_MIN) */
    unsigned ctx_facets;           /* their facets */
    double max_any;
    int n, n_current, n_core;
    unsigned facets_seen;
} acc;

static void acc_init(acc *a) {
    memset(a, 0, sizeof *a);
    a->core_keep = a->clean_keep = a->mod_keep = a->past_flag_keep = 1.0;
    a->act_keep = a->act_ctx_keep = a->act_minor_keep = 1.0;
    for (int i = 0; i < MHG_FACET_COUNT; i++) a->facet_keep[i] = 1.0;
}

static void acc_add(acc *a, const mhgi_item *it) {
    /* weights are stored as float: round back to the 4 decimals of the
     * lexicon so that 0.9 compares as 0.9 against the thresholds */
    double w = floor((double)it->weight * 10000.0 + 0.5) / 10000.0;
    if (w <= 0) return;
    a->n++;
    if (!(it->flags & MHG_FLAG_CARRIED)) a->n_current++;
    if (w > a->max_any) a->max_any = w;
    unsigned f = it->facet;
    if (f & MOD_FACETS) {
        a->facet_keep[__builtin_ctz(f)] *= 1.0 - w;
        /* A strong modifier is a signal by itself ("the pills are right
         * here"): it counts like other evidence. A weak one ("tonight")
         * only modifies. */
        if (w < MHGI_MODIFIER_ALONE) {
            a->mod_keep *= 1.0 - w;
            return;
        }
        a->core_keep *= 1.0 - w;
        if (!(it->flags & (MHG_FLAG_NEGATED | MHG_FLAG_IDIOM | MHG_FLAG_PAST |
                           MHG_FLAG_HYPOTHETICAL | MHG_FLAG_INFORMATIONAL))) {
            a->clean_keep *= 1.0 - w;
            a->n_clean++;
        }
        a->n_core++;
        return;
    }
    a->core_keep *= 1.0 - w;
    if (!(it->flags & (MHG_FLAG_NEGATED | MHG_FLAG_IDIOM | MHG_FLAG_PAST | MHG_FLAG_HYPOTHETICAL |
                       MHG_FLAG_INFORMATIONAL))) {
        a->clean_keep *= 1.0 - w;
        a->n_clean++;
    }
    a->n_core++;
    if (f) {
        if (f == MHG_FACET_PAST_ATTEMPT && (it->flags & MHG_FLAG_PAST))
            a->past_flag_keep *= 1.0 - w;
        else
            a->facet_keep[__builtin_ctz(f)] *= 1.0 - w;
        if (f & ACT_FACETS) {
            if (w >= MHGI_FACET_WEAK) {
                a->act_keep *= 1.0 - w;
            } else {
                /* ambiguous ("I'm doing it tonight", "gave my cat away")
                 * or minor ("goodbye." ending a message): clear next to
                 * ideation or the means (finish()) */
                if (w >= MHGI_CONTEXT_ACT_MIN) a->act_ctx_keep *= 1.0 - w;
                else a->act_minor_keep *= 1.0 - w;
                if (w >= MHGI_MINOR_ACT_MIN &&
                    !(it->flags & (MHG_FLAG_NEGATED | MHG_FLAG_IDIOM | MHG_FLAG_PAST |
                                   MHG_FLAG_HYPOTHETICAL | MHG_FLAG_INFORMATIONAL)) &&
                    w > a->max_ctx_act) {
                    a->max_ctx_act = w;
                    a->ctx_facets |= f;
                }
            }
        }
        if (f == MHG_FACET_PAST_ATTEMPT && it->orig_facet == MHG_FACET_PAST_ATTEMPT &&
            !(it->flags & MHG_FLAG_PAST) && w > a->max_attempt)
            a->max_attempt = w;
        if (w > a->max_core) a->max_core = w;
    } else if (w > a->max_plain) {
        a->max_plain = w;
    }
}

static mhg_level level_of_weight(double w, mhg_category c) {
    if (c == MHG_CAT_THIRD_PARTY_CONCERN) {
        if (w >= MHGI_T_HIGH) return MHG_LEVEL_HIGH;
        if (w >= 0.35) return MHG_LEVEL_MODERATE;
        return w >= MHGI_T_LOW ? MHG_LEVEL_LOW : MHG_LEVEL_NONE;
    }
    if (c == MHG_CAT_OVERDOSE && w >= MHGI_T_IMMINENT) return MHG_LEVEL_IMMINENT;
    if (w >= MHGI_T_HIGH) return MHG_LEVEL_HIGH;
    if (w >= MHGI_T_MODERATE) return MHG_LEVEL_MODERATE;
    if (w >= MHGI_T_LOW) return MHG_LEVEL_LOW;
    return MHG_LEVEL_NONE;
}

static mhg_level maxl(mhg_level a, mhg_level b) { return a > b ? a : b; }

/* Level of a facet from its strength: full, one lower, or none. */
static mhg_level facet_level(double s, mhg_level full) {
    if (s >= MHGI_FACET_FULL) return full;
    if (s >= MHGI_FACET_WEAK && full > MHG_LEVEL_NONE) return (mhg_level)(full - 1);
    return MHG_LEVEL_NONE;
}

static const double level_floor[MHG_LEVEL_COUNT] = {0.0, MHGI_T_LOW, MHGI_T_MODERATE, MHGI_T_HIGH,
                                                    MHGI_T_IMMINENT};

/* Turn an accumulator into a category state. timing_any: strongest timing
 * strength over every category (a time given anywhere in the message). */
static void finish(const acc *a, mhg_category c, double timing_any, mhgi_cat_state *out) {
    memset(out, 0, sizeof *out);
    out->n_items = a->n;
    out->n_current = a->n_current;
    out->max_weight = a->max_any;
    double S[MHG_FACET_COUNT];
    for (int i = 0; i < MHG_FACET_COUNT; i++) S[i] = 1.0 - a->facet_keep[i];
    double past_flag = 1.0 - a->past_flag_keep;
    const int iw = __builtin_ctz(MHG_FACET_WISH_DEAD), ii = __builtin_ctz(MHG_FACET_IDEATION),
              in = __builtin_ctz(MHG_FACET_INTENT), ia = __builtin_ctz(MHG_FACET_PAST_ATTEMPT), it = __builtin_ctz(MHG_FACET_TIMING),
              ih = __builtin_ctz(MHG_FACET_MEANS_AT_HAND);
    /* A strong timing entry states an intent by itself. */
    int timing_intent = S[it] >= MHGI_TIMING_INTENT;
    if (timing_intent && S[it] > S[in]) S[in] = S[it];

    double core = 1.0 - a->core_keep;
    int has_core = a->n_core > 0 || timing_intent;
    double score = has_core ? 1.0 - a->core_keep * a->mod_keep : 0.0;
    if (timing_intent && score < S[it]) score = S[it];

    mhg_level lv = MHG_LEVEL_NONE;
    /* noisy-OR of several signals: at most moderate, and only signals no
     * context cue discounted lift it past low ("five years ago I tried to
     * kill myself, I'm doing well" stays low however it is phrased) */
    double clean = 1.0 - a->clean_keep;
    if (clean >= MHGI_T_MODERATE && a->n_clean >= 2) lv = MHG_LEVEL_MODERATE;
    else if (core >= MHGI_T_LOW) lv = MHG_LEVEL_LOW;
    /* items without a facet */
    mhg_level plain = level_of_weight(a->max_plain, c);
    int facet_cat = (a->facets_seen & CORE_FACETS) != 0 || c == MHG_CAT_SUICIDE;
    if (facet_cat && plain > MHG_LEVEL_MODERATE) plain = MHG_LEVEL_MODERATE;
    lv = maxl(lv, plain);

    /* C-SSRS screener logic over the facets */
    double timing = S[it] > timing_any ? S[it] : timing_any;
    int has_timing = timing >= MHGI_TIMING_MIN, has_means = S[ih] >= MHGI_MEANS_MIN;
    lv = maxl(lv, facet_level(S[iw], MHGI_WISH_DEAD_LEVEL));
    lv = maxl(lv, facet_level(S[ii], MHG_LEVEL_MODERATE));
    lv = maxl(lv, facet_level(S[ia], MHG_LEVEL_MODERATE));
    if (past_flag >= 0.2) lv = maxl(lv, MHG_LEVEL_LOW);
    /* Acts (method, intent, plan, preparatory) add up across facets like
     * the items of one facet: "this is goodbye" and "I won't be around
     * anymore" are each weak, together a farewell. Ambiguous and minor
     * acts ("goodbye." ending a message) never add up among themselves ("I've got it all planned out,
     * I'm doing it tonight" may be a proposal); they strengthen a clear
     * act, and an ambiguous one counts fully next to ideation, a death
     * wish, an attempt (not one a past cue puts long ago) or the means
     * said plainly (this message or carried): "I want
     * to die. I'm doing it tonight", "the gun is loaded. I'm done after
     * this." */
    unsigned promoted = 0; /* facets of ambiguous acts that now count */
    double act_keep = a->act_keep * (timing_intent ? 1.0 - S[it] : 1.0);
    double act = 1.0 - act_keep;
    if (act >= MHGI_FACET_WEAK) act = 1.0 - act_keep * a->act_ctx_keep * a->act_minor_keep;
    if (a->max_ctx_act > 0 && act < MHGI_FACET_FULL &&
        (S[ii] >= MHGI_FACET_FULL || S[iw] >= MHGI_FACET_FULL || S[ih] >= MHGI_MODIFIER_ALONE ||
         S[ia] >= MHGI_FACET_FULL)) {
        act = MHGI_FACET_FULL;
        promoted = a->ctx_facets;
    }
    lv = maxl(lv, facet_level(act, MHG_LEVEL_HIGH));
    if (act >= MHGI_FACET_FULL && (has_timing || has_means)) lv = maxl(lv, MHG_LEVEL_IMMINENT);
    /* A weak act at the means: a farewell on the bridge, "I'm going to
     * jump" on the roof. Strong means (or means with a time) -> imminent,
     * weak means -> high. */
    if (act >= MHGI_FACET_WEAK && has_means) {
        if (S[ih] >= MHGI_MODIFIER_ALONE || has_timing) lv = maxl(lv, MHG_LEVEL_IMMINENT);
        else lv = maxl(lv, MHG_LEVEL_HIGH);
    }
    if ((S[ii] >= MHGI_FACET_FULL || S[iw] >= MHGI_FACET_FULL) &&
        (has_timing || S[ih] >= MHGI_FACET_FULL))
        lv = maxl(lv, MHG_LEVEL_HIGH);
    /* active ideation at the means, even the ambiguous ones ("I want to
     * die. I'm on the bridge", "...the rope is ready") */
    if (S[ii] >= MHGI_FACET_FULL && has_means) lv = maxl(lv, MHG_LEVEL_HIGH);
    /* the means at hand, said plainly ("the pills are right here") */
    if (S[ih] >= MHGI_MODIFIER_ALONE) lv = maxl(lv, MHG_LEVEL_MODERATE);
    /* "I want to kill myself tonight, the pills are right here" */
    if (S[ii] >= MHGI_FACET_FULL && has_timing && has_means) lv = maxl(lv, MHG_LEVEL_IMMINENT);
    if (S[ia] >= MHGI_FACET_FULL && has_timing) lv = maxl(lv, MHG_LEVEL_HIGH);
    /* a recent attempt (the lexicon marks one with weight >= 0.8) */
    if (a->max_attempt >= MHGI_RECENT_ATTEMPT) lv = maxl(lv, MHG_LEVEL_HIGH);

    /* other categories: an ingestion in progress, a threat with a time */
    if ((c == MHG_CAT_OVERDOSE || c == MHG_CAT_HARM_TO_OTHERS) && lv >= MHG_LEVEL_HIGH &&
        timing_any >= MHGI_TIMING_MIN)
        lv = MHG_LEVEL_IMMINENT;
    if (c == MHG_CAT_MEDICAL_EMERGENCY && lv > MHG_LEVEL_HIGH) lv = MHG_LEVEL_HIGH;
    /* carried evidence alone never makes imminent */
    if (lv == MHG_LEVEL_IMMINENT && a->n_current == 0) lv = MHG_LEVEL_HIGH;
    if (!has_core && lv == MHG_LEVEL_NONE) score = 0.0;

    unsigned facets = 0;
    for (int i = 0; i < MHG_FACET_COUNT; i++) {
        unsigned bit = 1u << i;
        double min = bit == MHG_FACET_TIMING ? MHGI_TIMING_MIN
                     : bit == MHG_FACET_MEANS_AT_HAND ? MHGI_MEANS_MIN
                                                     : 0.2;
        if (S[i] >= min) facets |= bit;
    }
    if (past_flag >= 0.2) facets |= MHG_FACET_PAST_ATTEMPT;
    facets |= promoted;
    if (!has_core) facets &= ~(unsigned)MOD_FACETS;
    if (score < level_floor[lv]) score = level_floor[lv];
    if (score > 1.0) score = 1.0;
    out->score = score;
    out->level = lv;
    out->facets = lv > MHG_LEVEL_NONE ? facets : 0;
}

void mhgi_score(mhg_scratch *s, const mhgi_item *items, size_t n,
                mhgi_cat_state cats[MHG_CAT_COUNT]) {
    acc own[MHG_CAT_COUNT], moved[MHG_CAT_COUNT];
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        acc_init(&own[c]);
        acc_init(&moved[c]);
    }
    /* Each entry counts once per (entry, personal or moved): keep its
     * strongest occurrence. best[] is indexed 2*entry + moved. */
    if (++s->best_gen == 0) {
        memset(s->best_gen_of, 0, 2 * s->engine->n_entries * sizeof *s->best_gen_of);
        s->best_gen = 1;
    }
    for (size_t i = 0; i < n; i++) {
        const mhgi_item *it = &items[i];
        if (it->entry == UINT32_MAX) continue;
        size_t k = 2 * (size_t)it->entry + ((it->flags & MHG_FLAG_THIRD_PERSON) != 0);
        if (s->best_gen_of[k] != s->best_gen || it->weight > s->best[k]) {
            s->best[k] = it->weight;
            s->best_gen_of[k] = s->best_gen;
        }
    }
    double timing_any = 0;
    for (size_t i = 0; i < n; i++) {
        const mhgi_item *it = &items[i];
        if (it->entry != UINT32_MAX) {
            size_t k = 2 * (size_t)it->entry + ((it->flags & MHG_FLAG_THIRD_PERSON) != 0);
            if (s->best_gen_of[k] != s->best_gen || it->weight != s->best[k]) continue;
            s->best_gen_of[k] = 0; /* counted: later duplicates are skipped */
        }
        if (it->category < 0 || it->category >= MHG_CAT_COUNT) continue;
        if (it->flags & MHG_FLAG_THIRD_PERSON) {
            int oc = it->orig_category >= 0 ? it->orig_category : it->category;
            acc_add(&moved[oc], it);
            moved[oc].facets_seen |= it->orig_facet;
        } else {
            acc_add(&own[it->category], it);
            own[it->category].facets_seen |= it->facet;
            if (it->facet == MHG_FACET_TIMING && it->weight > timing_any) timing_any = it->weight;
        }
    }
    for (int c = 0; c < MHG_CAT_COUNT; c++) finish(&own[c], (mhg_category)c, timing_any, &cats[c]);
    /* Third-party concern: the highest level the moved matches would have
     * had as personal risk, capped at high. */
    mhgi_cat_state *tp = &cats[MHG_CAT_THIRD_PARTY_CONCERN];
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        if (moved[c].n == 0) continue;
        mhgi_cat_state sh;
        finish(&moved[c], (mhg_category)c, 0.0, &sh);
        if (sh.level > MHG_LEVEL_HIGH) sh.level = MHG_LEVEL_HIGH;
        /* someone else's risk disclosed by the user: at least moderate when
         * it would have been moderate or more, to get them support */
        if (sh.level > tp->level) tp->level = sh.level;
        if (sh.score > tp->score) tp->score = sh.score;
        if (sh.max_weight > tp->max_weight) tp->max_weight = sh.max_weight;
        tp->n_items += sh.n_items;
        tp->n_current += sh.n_current;
    }
    if (tp->level > MHG_LEVEL_HIGH) tp->level = MHG_LEVEL_HIGH;
    tp->facets = 0;
    if (tp->score < level_floor[tp->level]) tp->score = level_floor[tp->level];
}
