/*
 * assess.c - the screening pipeline: normalize -> scan -> context rules ->
 * carried evidence -> category scores and levels -> fusion -> verdict.
 *
 * No allocation on the hot path once the scratch and the verdict have grown
 * to their working sizes (normalize buffer, evidence array).
 */
#include <stdlib.h>
#include <string.h>

#include "risk/risk_int.h"

mhg_status mhgi_analyze(const mhg_engine *e, mhg_scratch *s, const char *text, size_t len,
                        const char *lang_hint) {
    s->n_matches = 0;
    s->n_items = 0;
    s->dropped = 0;
    if (!text && len) return MHG_ERR_INVALID;
    if (len > MHG_MAX_MESSAGE_BYTES) return MHG_ERR_TOO_BIG;
    mhg_status st = mhg_normalize(text ? text : "", len, MHG_NORM_TEXT, &s->norm);
    if (st != MHG_OK) return st;
    st = mhg_lexicon_scan(e->lex, s->ls, s->norm.text, s->norm.len, s->matches, MHG_MAX_MATCHES,
                          &s->n_matches);
    if (st != MHG_OK) return st;
    s->dropped = mhg_lexicon_scratch_dropped(s->ls);
    /* The message language decides which cues reach foreign-language
     * matches (context.c), so it is known before the context rules. */
    if (lang_hint && mhgi_lang_hint_valid(lang_hint))
        memcpy(s->lang, lang_hint, strlen(lang_hint) + 1);
    else
        mhgi_detect_lang(e, s, text, len, s->lang);
    s->msg_lang = -1;
    for (size_t i = 0; i < e->n_langs; i++) {
        size_t n = strlen(e->langs[i].code);
        /* "pt-BR" uses the "pt" lexicon */
        if (!strncmp(e->langs[i].code, s->lang, n) && (s->lang[n] == '\0' || s->lang[n] == '-')) {
            s->msg_lang = (int)i;
            break;
        }
    }
    s->orig = text; /* line breaks end sentences (context.c) */
    s->orig_len = len;
    mhgi_apply_context(e, s);
    s->orig = NULL;
    return MHG_OK;
}

/* A turn is calm when none of its own items is risk by itself. */
static int turn_is_calm(const mhg_scratch *s) {
    for (size_t i = 0; i < s->n_items; i++) {
        const mhgi_item *it = &s->items[i];
        if (it->turn == 0 && it->weight >= MHGI_T_LOW &&
            !(it->facet & (MHG_FACET_TIMING | MHG_FACET_MEANS_AT_HAND)))
            return 0;
    }
    return 1;
}

static int cmp_items(const void *a, const void *b) {
    const mhgi_item *x = a, *y = b;
    if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
    if (x->turn != y->turn) return x->turn > y->turn ? -1 : 1; /* current first */
    if (x->ostart != y->ostart) return x->ostart < y->ostart ? -1 : 1;
    return x->entry < y->entry ? -1 : x->entry > y->entry;
}

static void verdict_reset(mhg_verdict *v) {
    mhg_evidence *ev = v->evidence;
    size_t cap = v->cap_evidence;
    memset(v, 0, sizeof *v);
    v->evidence = ev;
    v->cap_evidence = cap;
    memcpy(v->lang, "und", 4);
}

static double confidence(const mhg_verdict *v, const mhgi_cat_state *cats, size_t n_items,
                         size_t dropped) {
    double c;
    if (v->risk == MHG_LEVEL_NONE) {
        /* nothing matched: the rules are fairly sure, but they can miss
         * paraphrases; discounted matches make it less sure */
        c = n_items ? 0.65 : 0.8;
    } else {
        double mw = 0;
        for (int k = 0; k < MHG_CAT_COUNT; k++)
            if (v->categories[k].level == v->risk && cats[k].max_weight > mw)
                mw = cats[k].max_weight;
        c = 0.55 + 0.4 * mw;
        int current = 0;
        for (int k = 0; k < MHG_CAT_COUNT; k++)
            if (v->categories[k].level == v->risk && cats[k].n_current > 0) current = 1;
        if (!current) c *= 0.9; /* carried evidence only */
    }
    if (dropped) c *= 0.8; /* some matches were not stored */
    if (c > 0.95) c = 0.95;
    return c;
}

/* A weak time or means item ("tonight", "today") with no other plain
 * evidence in its category (this turn or carried; discounted evidence such
 * as "I would never kill myself tonight" does not count) is not evidence of
 * anything: drop it, so that "what time does the pharmacy close tonight"
 * has no evidence and fusion does not take it for a plain risk signal. */
static void drop_lone_modifiers(mhg_scratch *s) {
    unsigned has_core = 0; /* bit per category */
    for (size_t i = 0; i < s->n_items; i++) {
        const mhgi_item *it = &s->items[i];
        int mod = (it->facet & (MHG_FACET_TIMING | MHG_FACET_MEANS_AT_HAND)) &&
                  it->weight < MHGI_MODIFIER_ALONE;
        const unsigned discount = MHG_FLAG_NEGATED | MHG_FLAG_IDIOM | MHG_FLAG_PAST |
                                  MHG_FLAG_HYPOTHETICAL | MHG_FLAG_INFORMATIONAL;
        if (!mod && it->weight > 0 && it->category >= 0 && !(it->flags & discount))
            has_core |= 1u << it->category;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n_items; i++) {
        const mhgi_item *it = &s->items[i];
        int mod = (it->facet & (MHG_FACET_TIMING | MHG_FACET_MEANS_AT_HAND)) &&
                  it->weight < MHGI_MODIFIER_ALONE;
        /* a time counts for overdose and harm_to_others too (score.c) */
        unsigned reach = 1u << (it->category >= 0 ? it->category : 0);
        if (it->facet & MHG_FACET_TIMING)
            reach |= (1u << MHG_CAT_OVERDOSE) | (1u << MHG_CAT_HARM_TO_OTHERS);
        if (mod && !(has_core & reach)) continue;
        s->items[k++] = *it;
    }
    s->n_items = k;
}

/* Score s->items (current + carried) into the verdict. */
static mhg_status finish(const mhg_engine *e, mhg_scratch *s, mhg_verdict *out) {
    mhgi_cat_state cats[MHG_CAT_COUNT];
    drop_lone_modifiers(s);
    mhgi_score(s, s->items, s->n_items, cats);
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        out->categories[c].level = cats[c].level;
        out->categories[c].score = cats[c].score;
        out->categories[c].facets = cats[c].facets;
    }
    /* evidence: strongest first, capped */
    qsort(s->items, s->n_items, sizeof *s->items, cmp_items);
    unsigned flags = 0;
    for (size_t i = 0; i < s->n_items; i++) flags |= s->items[i].flags;
    out->flags = flags;
    size_t ne = s->n_items < MHG_MAX_EVIDENCE ? s->n_items : MHG_MAX_EVIDENCE;
    mhg_status st = mhgi_verdict_reserve(out, ne);
    if (st != MHG_OK) return st;
    for (size_t i = 0; i < ne; i++) {
        const mhgi_item *it = &s->items[i];
        mhg_evidence *ev = &out->evidence[i];
        ev->start = it->ostart;
        ev->end = it->oend;
        ev->turn = it->turn;
        ev->category = (mhg_category)it->category;
        ev->facet = it->facet;
        ev->flags = it->flags;
        ev->weight = it->weight;
        ev->source = 'r';
        ev->rule_id = it->rule_id;
    }
    out->n_evidence = ne;

    mhgi_fusion_ctx fx = {.engine = e, .scratch = s, .norm = &s->norm, .rules = cats,
                          .items = s->items, .n_items = s->n_items, .verdict = out};
    st = mhgi_fuse(&fx);
    if (st != MHG_OK) return st;

    out->risk = MHG_LEVEL_NONE;
    out->score = 0.0;
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        const mhg_category_result *r = &out->categories[c];
        if (r->level > out->risk || (r->level == out->risk && r->score > out->score)) {
            out->risk = r->level;
            out->score = r->score;
        }
    }
    out->action = mhg_action_for_level(out->risk);
    out->confidence = confidence(out, cats, s->n_items, s->dropped);
    memcpy(out->lang, s->lang, sizeof out->lang);
    return MHG_OK;
}

mhg_status mhg_assess(const mhg_engine *engine, mhg_scratch *scratch, const char *text,
                      size_t len, const char *lang, mhg_conversation *conv, mhg_verdict *out) {
    if (!out) return MHG_ERR_INVALID;
    verdict_reset(out);
    if (!engine || !scratch || scratch->engine != engine) return MHG_ERR_INVALID;
    mhg_status st = mhgi_analyze(engine, scratch, text, len, lang);
    int calm = st == MHG_OK && turn_is_calm(scratch);
    if (st == MHG_OK && conv) mhgi_history_carry(&conv->h, engine, scratch);
    if (st == MHG_OK) st = finish(engine, scratch, out);
    if (st == MHG_OK && conv)
        st = mhgi_history_add_turn(&conv->h, engine, scratch->items, scratch->n_items, calm);
    if (st != MHG_OK) verdict_reset(out);
    return st;
}

mhg_status mhg_assess_turns(const mhg_engine *engine, mhg_scratch *scratch, const mhg_turn *turns,
                            size_t n, const char *lang, mhg_verdict *out) {
    if (!out) return MHG_ERR_INVALID;
    verdict_reset(out);
    if (!engine || !scratch || scratch->engine != engine || !turns || n == 0)
        return MHG_ERR_INVALID;
    mhgi_history *h = &scratch->tmp_hist;
    mhgi_history_reset(h);
    size_t first = n - 1 > MHG_MAX_TURNS ? n - 1 - MHG_MAX_TURNS : 0;
    mhg_status st = MHG_OK;
    for (size_t i = first; i + 1 < n && st == MHG_OK; i++) {
        st = mhgi_analyze(engine, scratch, turns[i].text, turns[i].len, lang);
        if (st == MHG_OK)
            st = mhgi_history_add_turn(h, engine, scratch->items, scratch->n_items,
                                       turn_is_calm(scratch));
    }
    if (st == MHG_OK)
        st = mhgi_analyze(engine, scratch, turns[n - 1].text, turns[n - 1].len, lang);
    if (st == MHG_OK) {
        mhgi_history_carry(h, engine, scratch);
        st = finish(engine, scratch, out);
    }
    mhgi_history_reset(h);
    if (st != MHG_OK) verdict_reset(out);
    return st;
}
