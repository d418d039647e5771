/*
 * conversation.c - memory of earlier turns, so risk spread over several
 * messages accumulates and a later "I'm fine now" does not erase it.
 *
 * What is kept per turn: its strongest evidence items (at most 8, weight
 * after context >= 0.1): rule id, category, facet, flags, weight and the
 * byte span in that turn. Never any text.
 *
 * How it is carried: every later turn re-adds these items with the flag
 * `carried`, their weight multiplied by
 *     0.97^age                         (age: user turns since)
 *   x 0.70^(calm - 6)  when calm > 6   (calm: consecutive recent turns with
 *                                        no risk of their own)
 * so a disclosure keeps its full weight through six calm turns ("I'm fine
 * now", "never mind", small talk) and then fades over the next few. Items
 * older than MHG_MAX_TURNS turns are dropped. Carried evidence counts in
 * the scores like current evidence, except that it cannot make a category
 * imminent by itself (score.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "risk/risk_int.h"

void mhgi_history_reset(mhgi_history *h) {
    if (h->items) mhg_memzero(h->items, h->cap * sizeof *h->items);
    h->n = 0;
    h->turns = 0;
    h->calm = 0;
}

void mhgi_history_free(mhgi_history *h) {
    if (h->items) mhg_memzero(h->items, h->cap * sizeof *h->items);
    free(h->items);
    memset(h, 0, sizeof *h);
}

static int reserve(mhgi_history *h, size_t n) {
    if (n <= h->cap) return 1;
    size_t nc = h->cap ? h->cap * 2 : 32;
    while (nc < n) nc *= 2;
    mhgi_hist_item *p = realloc(h->items, nc * sizeof *p);
    if (!p) return 0;
    h->items = p;
    h->cap = nc;
    return 1;
}

/* Drop items older than MHG_MAX_TURNS turns. */
static void expire(mhgi_history *h) {
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++)
        if (h->turns - h->items[i].turn <= MHG_MAX_TURNS) h->items[k++] = h->items[i];
    h->n = k;
}

mhg_status mhgi_history_add_turn(mhgi_history *h, const mhg_engine *e, const mhgi_item *items,
                                 size_t n, int calm_turn) {
    (void)e;
    /* pick the strongest current-turn items, at most ITEMS_PER_TURN */
    size_t pick[MHGI_CONV_ITEMS_PER_TURN];
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        const mhgi_item *it = &items[i];
        if (it->turn != 0 || it->weight < MHGI_CONV_MIN_WEIGHT || !it->rule_id) continue;
        if (np < MHGI_CONV_ITEMS_PER_TURN) {
            pick[np++] = i;
            continue;
        }
        size_t weakest = 0;
        for (size_t j = 1; j < np; j++)
            if (items[pick[j]].weight < items[pick[weakest]].weight) weakest = j;
        if (it->weight > items[pick[weakest]].weight) pick[weakest] = i;
    }
    if (!reserve(h, h->n + np)) return MHG_ERR_NOMEM;
    for (size_t j = 0; j < np; j++) {
        const mhgi_item *it = &items[pick[j]];
        mhgi_hist_item *d = &h->items[h->n++];
        memset(d, 0, sizeof *d);
        d->turn = h->turns;
        d->entry = -1;
        size_t rl = strlen(it->rule_id);
        if (rl >= sizeof d->rule) rl = sizeof d->rule - 1;
        memcpy(d->rule, it->rule_id, rl);
        d->category = it->category;
        d->facet = it->facet;
        d->flags = (uint8_t)(it->flags & ~MHG_FLAG_CARRIED);
        d->weight = it->weight;
        d->ostart = it->ostart;
        d->oend = it->oend;
    }
    h->turns++;
    h->calm = calm_turn ? h->calm + 1 : 0;
    expire(h);
    return MHG_OK;
}

static const char unknown_rule[] = "carried.unknown";

void mhgi_history_carry(const mhgi_history *h, const mhg_engine *e, mhg_scratch *s) {
    double calm_f = 1.0;
    if (h->calm > MHGI_CARRY_CALM_GRACE)
        calm_f = pow(MHGI_CARRY_CALM_DECAY, (double)(h->calm - MHGI_CARRY_CALM_GRACE));
    for (size_t i = 0; i < h->n && s->n_items < s->cap_items; i++) {
        const mhgi_hist_item *d = &h->items[i];
        uint32_t age = h->turns - d->turn;
        double w = d->weight * pow(MHGI_CARRY_AGE_DECAY, (double)age) * calm_f;
        if (w < 0.05) continue;
        long ent = mhgi_engine_find_rule(e, d->rule);
        mhgi_item *it = &s->items[s->n_items++];
        memset(it, 0, sizeof *it);
        it->entry = ent >= 0 ? (uint32_t)ent : UINT32_MAX;
        it->ostart = d->ostart;
        it->oend = d->oend;
        it->turn = -(int)age;
        it->category = d->category;
        it->orig_category = ent >= 0 && e->info[ent].category >= 0 ? e->info[ent].category
                                                                   : d->category;
        it->facet = d->facet;
        it->orig_facet = ent >= 0 ? e->info[ent].facet : d->facet;
        it->flags = (uint8_t)(d->flags | MHG_FLAG_CARRIED);
        it->weight = (float)w;
        it->rule_id = ent >= 0 ? mhg_lexicon_entry_get(e->lex, (size_t)ent)->rule_id
                               : unknown_rule;
    }
}

/* ---- public conversation API -------------------------------------------- */

mhg_status mhg_conversation_new(mhg_conversation **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = calloc(1, sizeof **out);
    return *out ? MHG_OK : MHG_ERR_NOMEM;
}

void mhg_conversation_free(mhg_conversation *conv) {
    if (!conv) return;
    mhgi_history_free(&conv->h);
    free(conv);
}

static json_t *flags_json(unsigned flags) {
    json_t *a = json_array();
    for (unsigned b = 1; a && b < (1u << MHG_FLAG_COUNT); b <<= 1)
        if (flags & b) json_array_append_new(a, json_string(mhg_flag_name(b)));
    return a;
}

mhg_status mhg_conversation_save(const mhg_conversation *conv, char **json_out) {
    if (!json_out) return MHG_ERR_INVALID;
    *json_out = NULL;
    if (!conv) return MHG_ERR_INVALID;
    const mhgi_history *h = &conv->h;
    json_t *root = json_object(), *items = json_array();
    if (!root || !items) {
        json_decref(root);
        json_decref(items);
        return MHG_ERR_NOMEM;
    }
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "turns", json_integer(h->turns));
    json_object_set_new(root, "calm", json_integer(h->calm));
    for (size_t i = 0; i < h->n; i++) {
        const mhgi_hist_item *d = &h->items[i];
        json_t *o = json_object();
        if (!o) break;
        json_object_set_new(o, "turn", json_integer(d->turn));
        json_object_set_new(o, "rule", json_string(d->rule));
        json_object_set_new(o, "category", json_string(mhg_category_name((mhg_category)d->category)));
        json_object_set_new(o, "facet", d->facet ? json_string(mhg_facet_name(d->facet)) : json_null());
        json_object_set_new(o, "weight", json_real(round(d->weight * 10000.0) / 10000.0));
        json_object_set_new(o, "flags", flags_json(d->flags));
        json_object_set_new(o, "start", json_integer(d->ostart));
        json_object_set_new(o, "end", json_integer(d->oend));
        json_array_append_new(items, o);
    }
    json_object_set_new(root, "items", items);
    char *s = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(root);
    if (!s) return MHG_ERR_NOMEM;
    *json_out = s;
    return MHG_OK;
}

static int get_uint(json_t *o, const char *k, uint32_t max, uint32_t *out) {
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < 0 || (uint64_t)x > max) return 0;
    *out = (uint32_t)x;
    return 1;
}

mhg_status mhg_conversation_restore(const char *json, size_t len, mhg_conversation **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!json) return MHG_ERR_INVALID;
    if (len > MHG_MAX_BODY_BYTES) return MHG_ERR_TOO_BIG;
    if (!mhg_utf8_valid(json, len)) return MHG_ERR_UTF8;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return MHG_ERR_PARSE;
    mhg_status rc = MHG_ERR_PARSE;
    mhg_conversation *c = calloc(1, sizeof *c);
    if (!c) {
        json_decref(root);
        return MHG_ERR_NOMEM;
    }
    uint32_t version, turns, calm;
    json_t *items = json_object_get(root, "items");
    if (!json_is_object(root) || !get_uint(root, "version", 1, &version) || version != 1 ||
        !get_uint(root, "turns", UINT32_MAX, &turns) || !get_uint(root, "calm", turns, &calm) ||
        !json_is_array(items) ||
        json_array_size(items) > (size_t)MHG_MAX_TURNS * MHGI_CONV_ITEMS_PER_TURN)
        goto out;
    c->h.turns = turns;
    c->h.calm = calm;
    if (!reserve(&c->h, json_array_size(items) ? json_array_size(items) : 1)) {
        rc = MHG_ERR_NOMEM;
        goto out;
    }
    size_t i;
    json_t *o;
    json_array_foreach(items, i, o) {
        mhgi_hist_item *d = &c->h.items[c->h.n];
        memset(d, 0, sizeof *d);
        d->entry = -1;
        json_t *rule = json_object_get(o, "rule"), *cat = json_object_get(o, "category"),
               *facet = json_object_get(o, "facet"), *weight = json_object_get(o, "weight"),
               *flags = json_object_get(o, "flags");
        mhg_category cv;
        if (!json_is_object(o) || !get_uint(o, "turn", turns ? turns - 1 : 0, &d->turn) ||
            d->turn >= turns || !json_is_string(rule) ||
            json_string_length(rule) >= sizeof d->rule || !json_is_string(cat) ||
            mhg_category_parse(json_string_value(cat), &cv) != MHG_OK ||
            !json_is_number(weight) || !json_is_array(flags) ||
            !get_uint(o, "start", UINT32_MAX, &d->ostart) ||
            !get_uint(o, "end", UINT32_MAX, &d->oend) || d->oend < d->ostart)
            goto out;
        double w = json_number_value(weight);
        if (!(w >= 0.0 && w <= 1.0)) goto out;
        d->weight = (float)w;
        d->category = (int8_t)cv;
        memcpy(d->rule, json_string_value(rule), json_string_length(rule));
        if (json_is_string(facet)) {
            unsigned fb;
            if (mhg_facet_parse(json_string_value(facet), &fb) != MHG_OK) goto out;
            d->facet = (uint16_t)fb;
        } else if (!json_is_null(facet) && facet != NULL) {
            goto out;
        }
        size_t j;
        json_t *f;
        json_array_foreach(flags, j, f) {
            if (!json_is_string(f)) goto out;
            unsigned b;
            for (b = 1; b < (1u << MHG_FLAG_COUNT); b <<= 1)
                if (!strcmp(mhg_flag_name(b), json_string_value(f))) break;
            if (b >= (1u << MHG_FLAG_COUNT)) goto out;
            d->flags |= (uint8_t)b;
        }
        c->h.n++;
    }
    rc = MHG_OK;
out:
    json_decref(root);
    if (rc != MHG_OK) {
        mhg_conversation_free(c);
        return rc;
    }
    *out = c;
    return MHG_OK;
}
