/*
 * engine.c - load the engine (lexicons, optional model), versions, scratch.
 *
 * The engine is immutable after mhg_engine_load(): every table the hot path
 * needs (per-entry category/facet/weight/kind, language index, a rule-id
 * lookup for restored conversations) is built here once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mhg_config.h"
#include "risk/risk_int.h"

static int is_dir(const char *p) {
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

long mhgi_engine_find_rule(const mhg_engine *e, const char *rule_id) {
    if (!e || !rule_id || !e->rid_cap) return -1;
    size_t mask = e->rid_cap - 1;
    for (size_t i = (size_t)fnv1a(rule_id) & mask;; i = (i + 1) & mask) {
        uint32_t v = e->rid_table[i];
        if (v == 0) return -1;
        const mhg_lexicon_entry *en = mhg_lexicon_entry_get(e->lex, v - 1);
        if (!strcmp(en->rule_id, rule_id)) return (long)(v - 1);
    }
}

static mhg_status build_tables(mhg_engine *e) {
    size_t n = mhg_lexicon_entry_count(e->lex);
    size_t nl = mhg_lexicon_lang_count(e->lex);
    e->n_entries = n;
    e->info = calloc(n ? n : 1, sizeof *e->info);
    e->langs = calloc(nl ? nl : 1, sizeof *e->langs);
    size_t cap = 16;
    while (cap < 2 * n + 1) cap *= 2;
    e->rid_table = calloc(cap, sizeof *e->rid_table);
    e->rid_cap = cap;
    if (!e->info || !e->langs || !e->rid_table) return MHG_ERR_NOMEM;
    e->n_langs = nl;
    for (size_t i = 0; i < nl; i++) {
        const mhg_lexicon_lang *L = mhg_lexicon_lang_get(e->lex, i);
        snprintf(e->langs[i].code, sizeof e->langs[i].code, "%s", L->lang);
        e->langs[i].spaces = L->spaces;
    }
    for (size_t i = 0; i < n; i++) {
        const mhg_lexicon_entry *en = mhg_lexicon_entry_get(e->lex, i);
        mhgi_entry_info *x = &e->info[i];
        int li = mhg_lexicon_lang_find(e->lex, en->lang);
        x->lang = (uint16_t)(li < 0 ? 0 : li);
        x->category = (int8_t)en->category_id;
        x->kind = (uint8_t)en->kind;
        x->scope = (uint8_t)en->scope;
        x->spaces = (uint8_t)en->spaces;
        x->facet = (uint16_t)en->facet;
        x->weight = (float)en->weight;
        size_t mask = cap - 1;
        size_t j = (size_t)fnv1a(en->rule_id) & mask;
        while (e->rid_table[j]) j = (j + 1) & mask;
        e->rid_table[j] = (uint32_t)(i + 1);
    }
    return MHG_OK;
}

/* Default cache directory: next to the lexicons when writable, else
 * $XDG_CACHE_HOME/mhguard or ~/.cache/mhguard, else none. */
static void default_cache_dir(const char *lexdir, char *out, size_t outlen) {
    out[0] = '\0';
    if (access(lexdir, W_OK) == 0) {
        snprintf(out, outlen, "%s", lexdir);
        return;
    }
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && *x) {
        snprintf(out, outlen, "%s/mhguard", x);
        return;
    }
    const char *home = getenv("HOME");
    if (home && *home) snprintf(out, outlen, "%s/.cache/mhguard", home);
}

/* Score calibration (calibration.h): only with a model, and only the one
 * fitted for that model. The default file is optional and skipped when it
 * names another model (eval --compare loads other models with the same data
 * directory); a default file that is present but unreadable or corrupt is an
 * error, like an explicit path: scores would silently change meaning. */
static mhg_status load_calibration(mhg_engine *e, const mhg_engine_options *opts, const char *dd,
                                   char *err, size_t errlen) {
    const char *cp = opts->calibration_path;
    int explicit_cal = cp && *cp;
    char cpath[4096];
    if (cp && !*cp) return MHG_OK;
    if (!cp) {
        snprintf(cpath, sizeof cpath, "%s/models/engine-calibration.json", dd);
        if (!is_file(cpath)) return MHG_OK;
        cp = cpath;
    }
    if (!e->model) {
        if (!explicit_cal) return MHG_OK;
        if (err && errlen) snprintf(err, errlen, "%s: a score calibration needs a model", cp);
        return MHG_ERR_INVALID;
    }
    char cerr[512];
    mhg_calibration *cal = NULL;
    mhg_status st = mhg_calibration_load(cp, &cal, cerr, sizeof cerr);
    if (st != MHG_OK) {
        if (err && errlen) snprintf(err, errlen, "%s", cerr);
        return st;
    }
    if (strcmp(mhg_calibration_model(cal), mhg_model_version(e->model))) {
        if (explicit_cal && err && errlen)
            snprintf(err, errlen, "%s: fitted for model %s, not %s", cp, mhg_calibration_model(cal),
                     mhg_model_version(e->model));
        mhg_calibration_free(cal);
        return explicit_cal ? MHG_ERR_INVALID : MHG_OK;
    }
    e->calib = cal;
    snprintf(e->model_version, sizeof e->model_version, "%s+%s", mhg_model_version(e->model),
             mhg_calibration_version(cal));
    return MHG_OK;
}

void mhg_engine_free(mhg_engine *e) {
    if (!e) return;
    mhg_lexicon_free(e->lex);
    mhg_model_free(e->model);
    mhg_calibration_free(e->calib);
    free(e->info);
    free(e->langs);
    free(e->rid_table);
    free(e->sw_hash);
    free(e->sw_mask);
    free(e->data_dir);
    free(e);
}

mhg_status mhg_engine_load(const mhg_engine_options *opts, mhg_engine **out, char *err,
                           size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    mhg_engine_options def = {0};
    if (!opts) opts = &def;

    const char *dd = opts->data_dir;
    if (!dd || !*dd) dd = getenv("MHG_DATA_DIR");
    if (!dd || !*dd) dd = is_dir(MHG_SOURCE_DATA_DIR) ? MHG_SOURCE_DATA_DIR : MHG_INSTALL_DATA_DIR;
    if (!is_dir(dd)) {
        if (err && errlen) snprintf(err, errlen, "%s: data directory not found", dd);
        return MHG_ERR_IO;
    }
    mhg_engine *e = calloc(1, sizeof *e);
    if (!e) return MHG_ERR_NOMEM;
    e->data_dir = strdup(dd);
    if (!e->data_dir) {
        mhg_engine_free(e);
        return MHG_ERR_NOMEM;
    }
    snprintf(e->version, sizeof e->version, "%s", mhg_version());

    char lexdir[4096], cachedir[4096];
    snprintf(lexdir, sizeof lexdir, "%s/lexicons", dd);
    if (opts->cache_dir) snprintf(cachedir, sizeof cachedir, "%s", opts->cache_dir);
    else default_cache_dir(lexdir, cachedir, sizeof cachedir);
    mhg_status st = mhg_lexicon_load(lexdir, cachedir[0] ? cachedir : NULL, &e->lex, err, errlen);
    if (st != MHG_OK) {
        mhg_engine_free(e);
        return st;
    }
    snprintf(e->lexicon_version, sizeof e->lexicon_version, "%s", mhg_lexicon_version(e->lex));
    st = build_tables(e);
    if (st == MHG_OK) st = mhgi_lang_init(e);
    if (st != MHG_OK) {
        mhg_engine_free(e);
        return st;
    }

    /* Model: only when fusion uses one (a loaded but unused model would be
     * reported in every verdict without having influenced it). An explicit
     * path that fails is an error; a missing default model is not. */
    snprintf(e->model_version, sizeof e->model_version, "none");
    const char *mp = opts->model_path;
    char mpath[4096];
    int explicit_model = mp && *mp;
    if (!mp) {
        snprintf(mpath, sizeof mpath, "%s/models/mhguard.model", dd);
        mp = is_file(mpath) ? mpath : NULL;
    } else if (!*mp) {
        mp = NULL;
    }
    if (explicit_model && !is_file(mp)) {
        if (err && errlen) snprintf(err, errlen, "%s: model file not found", mp);
        mhg_engine_free(e);
        return MHG_ERR_IO;
    }
    if (mp && mhgi_fusion_wants_model()) {
        char merr[512];
        st = mhg_model_load(mp, &e->model, merr, sizeof merr);
        if (st != MHG_OK) {
            if (explicit_model) {
                if (err && errlen) snprintf(err, errlen, "%s: %s", mp, merr);
                mhg_engine_free(e);
                return st;
            }
            e->model = NULL; /* default model unreadable: rules only */
        } else {
            snprintf(e->model_version, sizeof e->model_version, "%s",
                     mhg_model_version(e->model));
        }
    }
    st = load_calibration(e, opts, dd, err, errlen);
    if (st != MHG_OK) {
        mhg_engine_free(e);
        return st;
    }
    *out = e;
    return MHG_OK;
}

const char *mhg_engine_version(const mhg_engine *e) { return e ? e->version : NULL; }
const char *mhg_engine_lexicon_version(const mhg_engine *e) {
    return e ? e->lexicon_version : NULL;
}
const char *mhg_engine_model_version(const mhg_engine *e) { return e ? e->model_version : NULL; }
const char *mhg_engine_data_dir(const mhg_engine *e) { return e ? e->data_dir : NULL; }

mhg_status mhg_scratch_new(const mhg_engine *e, mhg_scratch **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!e) return MHG_ERR_INVALID;
    mhg_scratch *s = calloc(1, sizeof *s);
    if (!s) return MHG_ERR_NOMEM;
    s->engine = e;
    mhg_normalized_init(&s->norm);
    mhg_status st = mhg_lexicon_scratch_new(e->lex, &s->ls);
    s->matches = malloc(MHG_MAX_MATCHES * sizeof *s->matches);
    s->cap_items = MHG_MAX_MATCHES + MHG_MAX_TURNS * MHGI_CONV_ITEMS_PER_TURN;
    s->items = malloc(s->cap_items * sizeof *s->items);
    s->best = malloc(2 * (e->n_entries ? e->n_entries : 1) * sizeof *s->best);
    s->best_gen_of = calloc(2 * (e->n_entries ? e->n_entries : 1), sizeof *s->best_gen_of);
    if (st == MHG_OK && e->model) st = mhg_model_scratch_new(&s->ms);
    if (st != MHG_OK || !s->matches || !s->items || !s->best || !s->best_gen_of) {
        mhg_scratch_free(s);
        return st != MHG_OK ? st : MHG_ERR_NOMEM;
    }
    *out = s;
    return MHG_OK;
}

void mhg_scratch_free(mhg_scratch *s) {
    if (!s) return;
    mhg_lexicon_scratch_free(s->ls);
    mhg_model_scratch_free(s->ms);
    mhg_normalized_free(&s->norm);
    free(s->matches);
    if (s->items) mhg_memzero(s->items, s->cap_items * sizeof *s->items);
    free(s->items);
    free(s->bounds);
    free(s->bound_kind);
    free(s->best);
    free(s->best_gen_of);
    mhgi_history_free(&s->tmp_hist);
    free(s);
}
