/*
 * verdict.c - verdict lifecycle and the JSON form documented in risk.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "risk/risk_int.h"

void mhg_verdict_init(mhg_verdict *v) {
    if (!v) return;
    memset(v, 0, sizeof *v);
    memcpy(v->lang, "und", 4);
}

void mhg_verdict_free(mhg_verdict *v) {
    if (!v) return;
    free(v->evidence);
    mhg_verdict_init(v);
}

mhg_status mhgi_verdict_reserve(mhg_verdict *v, size_t n) {
    if (n <= v->cap_evidence) return MHG_OK;
    size_t nc = v->cap_evidence ? v->cap_evidence : 16;
    while (nc < n) nc *= 2;
    mhg_evidence *e = realloc(v->evidence, nc * sizeof *e);
    if (!e) return MHG_ERR_NOMEM;
    v->evidence = e;
    v->cap_evidence = nc;
    return MHG_OK;
}

/* Scores are reported with 4 decimals: enough for thresholds and ranking,
 * and stable across platforms. */
static json_t *num(double x) { return json_real(round(x * 10000.0) / 10000.0); }

static json_t *flag_list(unsigned flags) {
    json_t *a = json_array();
    for (unsigned b = 1; a && b < (1u << MHG_FLAG_COUNT); b <<= 1)
        if (flags & b) json_array_append_new(a, json_string(mhg_flag_name(b)));
    return a;
}

static json_t *facet_list(unsigned facets) {
    json_t *a = json_array();
    for (unsigned b = 1; a && b < (1u << MHG_FACET_COUNT); b <<= 1)
        if (facets & b) json_array_append_new(a, json_string(mhg_facet_name(b)));
    return a;
}

mhg_status mhg_verdict_to_json(const mhg_engine *engine, const mhg_verdict *v, const char *text,
                               size_t len, char **json_out) {
    if (!json_out) return MHG_ERR_INVALID;
    *json_out = NULL;
    if (!v) return MHG_ERR_INVALID;
    json_t *root = json_object();
    json_t *cats = json_object();
    json_t *ev = json_array();
    json_t *ver = json_object();
    if (!root || !cats || !ev || !ver) {
        json_decref(root);
        json_decref(cats);
        json_decref(ev);
        json_decref(ver);
        return MHG_ERR_NOMEM;
    }
    json_object_set_new(root, "risk", json_string(mhg_level_name(v->risk)));
    json_object_set_new(root, "score", num(v->score));
    json_object_set_new(root, "confidence", num(v->confidence));
    json_object_set_new(root, "action", json_string(mhg_action_name(v->action)));
    json_object_set_new(root, "lang", json_string(v->lang[0] ? v->lang : "und"));
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        const mhg_category_result *r = &v->categories[c];
        if (r->level == MHG_LEVEL_NONE) continue;
        json_t *o = json_object();
        if (!o) continue;
        json_object_set_new(o, "level", json_string(mhg_level_name(r->level)));
        json_object_set_new(o, "score", num(r->score));
        if (r->facets) json_object_set_new(o, "facets", facet_list(r->facets));
        json_object_set_new(cats, mhg_category_name((mhg_category)c), o);
    }
    json_object_set_new(root, "categories", cats);
    for (size_t i = 0; i < v->n_evidence; i++) {
        const mhg_evidence *e = &v->evidence[i];
        json_t *o = json_object();
        if (!o) continue;
        json_object_set_new(o, "start", json_integer((json_int_t)e->start));
        json_object_set_new(o, "end", json_integer((json_int_t)e->end));
        if (e->turn == 0 && text && e->start <= e->end && e->end <= len) {
            json_t *t = json_stringn(text + e->start, e->end - e->start);
            if (t) json_object_set_new(o, "text", t);
        }
        json_object_set_new(o, "turn", json_integer(e->turn));
        const char *cn = mhg_category_name(e->category);
        json_object_set_new(o, "category", cn ? json_string(cn) : json_null());
        const char *fn = e->facet ? mhg_facet_name(e->facet) : NULL;
        json_object_set_new(o, "facet", fn ? json_string(fn) : json_null());
        json_object_set_new(o, "rule", json_string(e->rule_id ? e->rule_id : ""));
        json_object_set_new(o, "source", json_string(e->source == 'm' ? "model" : "rule"));
        json_object_set_new(o, "weight", num(e->weight));
        json_object_set_new(o, "flags", flag_list(e->flags));
        json_array_append_new(ev, o);
    }
    json_object_set_new(root, "evidence", ev);
    json_object_set_new(root, "flags", flag_list(v->flags));
    json_object_set_new(ver, "engine", json_string(engine ? mhg_engine_version(engine) : mhg_version()));
    json_object_set_new(ver, "lexicon",
                        engine ? json_string(mhg_engine_lexicon_version(engine)) : json_null());
    json_object_set_new(ver, "model",
                        json_string(engine ? mhg_engine_model_version(engine) : "none"));
    json_object_set_new(root, "versions", ver);
    char *s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    if (!s) return MHG_ERR_NOMEM;
    *json_out = s;
    return MHG_OK;
}
