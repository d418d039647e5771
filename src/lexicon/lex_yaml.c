/*
 * lex_yaml.c - read one lexicon YAML file with strict validation.
 *
 * Every problem is reported as "path:line: id: message" and loading goes on
 * to the next entry, so that one `mhguard lexicon check` run lists all the
 * problems of a file, not only the first.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "lexicon/lexicon_int.h"

typedef struct ctx {
    mhg_lexicon *lex;
    const char *path; /* arena copy */
    mhgi_errs *errs;
    yaml_document_t *doc;
    const char *const *categories;
    const char *lang;    /* arena copy */
    int spaces;
    size_t first_entry;  /* index of this file's first entry */
} ctx;

static unsigned line_of(const yaml_node_t *n) { return (unsigned)n->start_mark.line + 1; }

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int grow_entries(mhg_lexicon *lex) {
    if (lex->n_entries < lex->cap_entries) return 1;
    size_t nc = lex->cap_entries ? lex->cap_entries * 2 : 256;
    mhg_lexicon_entry *e = realloc(lex->entries, nc * sizeof *e);
    if (!e) return 0;
    lex->entries = e;
    mhgi_entry_extra *x = realloc(lex->extra, nc * sizeof *x);
    if (!x) return 0;
    lex->extra = x;
    lex->cap_entries = nc;
    return 1;
}

static int grow_exprs(mhg_lexicon *lex, size_t more) {
    if (lex->n_exprs + more <= lex->cap_exprs) return 1;
    size_t nc = lex->cap_exprs ? lex->cap_exprs * 2 : 256;
    while (nc < lex->n_exprs + more) nc *= 2;
    mhgi_expr *e = realloc(lex->exprs, nc * sizeof *e);
    if (!e) return 0;
    lex->exprs = e;
    lex->cap_exprs = nc;
    return 1;
}

static int grow_lits(mhg_lexicon *lex, size_t more) {
    if (lex->n_lits + more <= lex->cap_lits) return 1;
    size_t nc = lex->cap_lits ? lex->cap_lits * 2 : 1024;
    while (nc < lex->n_lits + more) nc *= 2;
    mhgi_lit *l = realloc(lex->lits, nc * sizeof *l);
    if (!l) return 0;
    lex->lits = l;
    lex->cap_lits = nc;
    return 1;
}

/* File name without directory and .yaml/.yml extension. */
static void base_lang(const char *path, char *out, size_t outlen) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".yaml") == 0) n -= 5;
    else if (n > 4 && strcmp(b + n - 4, ".yml") == 0) n -= 4;
    if (n >= outlen) n = outlen - 1;
    memcpy(out, b, n);
    out[n] = '\0';
}

static int valid_lang(const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n && s[i] >= 'a' && s[i] <= 'z') i++;
    if (i < 2 || i > 3) return 0;
    if (i == n) return 1;
    if (s[i] != '-' || n - i < 3 || n > 7) return 0;
    for (i++; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

static int valid_id(const char *s) {
    if (!*s || strlen(s) > 96) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
              *s == '-'))
            return 0;
    return 1;
}

static int parse_bool(const char *s, int *out) {
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes")) {
        *out = 1;
        return 1;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no")) {
        *out = 0;
        return 1;
    }
    return 0;
}

static int category_allowed(const ctx *c, const char *name, int *risk_id) {
    mhg_category cat;
    *risk_id = mhg_category_parse(name, &cat) == MHG_OK ? (int)cat : -1;
    if (!c->categories) return *risk_id >= 0;
    for (const char *const *p = c->categories; *p; p++)
        if (!strcmp(*p, name)) return 1;
    return 0;
}

static void list_categories(const ctx *c, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    if (c->categories) {
        for (const char *const *p = c->categories; *p && off + 2 < len; p++) {
            int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", *p);
            if (n < 0) break;
            off += (size_t)n;
        }
    } else {
        for (int i = 0; i < MHG_CAT_COUNT && off + 2 < len; i++) {
            int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
                             mhg_category_name((mhg_category)i));
            if (n < 0) break;
            off += (size_t)n;
        }
    }
}

/* Duplicate-key check for a mapping; reports each repeated key once. */
static int check_dup_keys(ctx *c, yaml_node_t *map, const char *what, const char *id) {
    int bad = 0;
    for (yaml_node_pair_t *a = map->data.mapping.pairs.start; a < map->data.mapping.pairs.top; a++) {
        const char *ka = scalar(yaml_document_get_node(c->doc, a->key));
        if (!ka) continue;
        for (yaml_node_pair_t *b = map->data.mapping.pairs.start; b < a; b++) {
            const char *kb = scalar(yaml_document_get_node(c->doc, b->key));
            if (kb && !strcmp(ka, kb)) {
                mhgi_errs_add(c->errs, "%s:%u: %s: duplicate key '%s' in %s", c->path,
                              line_of(yaml_document_get_node(c->doc, a->key)), id, ka, what);
                bad = 1;
                break;
            }
        }
    }
    return bad;
}

/* One item of `entries:` (is_cue 0) or `cues:` (is_cue 1). */
static void load_item(ctx *c, yaml_node_t *node, int is_cue, size_t index) {
    const char *list = is_cue ? "cues" : "entries";
    unsigned line = line_of(node);
    char idbuf[64];
    snprintf(idbuf, sizeof idbuf, "%s[%zu]", list, index);
    if (node->type != YAML_MAPPING_NODE) {
        mhgi_errs_add(c->errs, "%s:%u: %s: each item must be a mapping (id, match, ...)",
                      c->path, line, idbuf);
        return;
    }
    const char *id = NULL, *match = NULL, *category = NULL, *facet = NULL, *weight = NULL,
               *kind = NULL, *scope = NULL;
    unsigned id_line = line, match_line = line, cat_line = line, facet_line = line,
             weight_line = line, kind_line = line, scope_line = line;
    /* First pass: find the id so that every later message can name it. */
    for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top;
         pr++) {
        const char *k = scalar(yaml_document_get_node(c->doc, pr->key));
        if (k && !strcmp(k, "id")) {
            yaml_node_t *v = yaml_document_get_node(c->doc, pr->value);
            id = scalar(v);
            id_line = line_of(v);
        }
    }
    const char *name = id && *id ? id : idbuf;
    int bad = check_dup_keys(c, node, list, name);
    for (yaml_node_pair_t *pr = node->data.mapping.pairs.start; pr < node->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
        const char *k = scalar(kn);
        if (!k) {
            mhgi_errs_add(c->errs, "%s:%u: %s: keys must be plain strings", c->path, line_of(kn),
                          name);
            bad = 1;
            continue;
        }
        const char *v = scalar(vn);
        unsigned vl = line_of(vn);
        if (!v) {
            mhgi_errs_add(c->errs, "%s:%u: %s: '%s' must be a single value, not a list or mapping",
                          c->path, vl, name, k);
            bad = 1;
            continue;
        }
        if (!strcmp(k, "id")) {
            /* seen in the first pass */
        } else if (!strcmp(k, "match")) {
            match = v;
            match_line = vl;
        } else if (!strcmp(k, "note")) {
            /* reviewer note: kept in the file only */
        } else if (!is_cue && !strcmp(k, "category")) {
            category = v;
            cat_line = vl;
        } else if (!is_cue && !strcmp(k, "facet")) {
            facet = v;
            facet_line = vl;
        } else if (!is_cue && !strcmp(k, "weight")) {
            weight = v;
            weight_line = vl;
        } else if (is_cue && !strcmp(k, "kind")) {
            kind = v;
            kind_line = vl;
        } else if (is_cue && !strcmp(k, "scope")) {
            scope = v;
            scope_line = vl;
        } else {
            mhgi_errs_add(c->errs, "%s:%u: %s: unknown key '%s' in %s (allowed: %s)", c->path,
                          line_of(kn), name, k, list,
                          is_cue ? "id, match, kind, scope, note"
                                 : "id, match, category, facet, weight, note");
            bad = 1;
        }
    }
    if (!id || !*id) {
        mhgi_errs_add(c->errs, "%s:%u: %s: missing 'id'", c->path, line, name);
        bad = 1;
    } else if (!valid_id(id)) {
        mhgi_errs_add(c->errs,
                      "%s:%u: %s: bad id (use lower-case a-z, 0-9, '_', '.', '-'; at most 96)",
                      c->path, id_line, id);
        bad = 1;
    } else {
        for (size_t i = c->first_entry; i < c->lex->n_entries; i++)
            if (!strcmp(c->lex->entries[i].id, id)) {
                mhgi_errs_add(c->errs, "%s:%u: %s: duplicate id (first at line %u)", c->path,
                              id_line, id, c->lex->entries[i].line);
                bad = 1;
                break;
            }
    }
    if (!match || !*match) {
        mhgi_errs_add(c->errs, "%s:%u: %s: missing 'match'", c->path, line, name);
        bad = 1;
    }
    int cat_id = -1;
    unsigned facet_bit = 0;
    double w = 0;
    mhg_lexicon_kind k = MHG_LEX_ENTRY;
    mhg_lexicon_scope sc = MHG_LEX_SCOPE_NONE;
    if (!is_cue) {
        if (!category) {
            mhgi_errs_add(c->errs, "%s:%u: %s: missing 'category'", c->path, line, name);
            bad = 1;
        } else if (!category_allowed(c, category, &cat_id)) {
            char all[512];
            list_categories(c, all, sizeof all);
            mhgi_errs_add(c->errs, "%s:%u: %s: unknown category '%s' (one of: %s)", c->path,
                          cat_line, name, category, all);
            bad = 1;
        }
        if (facet && mhg_facet_parse(facet, &facet_bit) != MHG_OK) {
            mhgi_errs_add(c->errs,
                          "%s:%u: %s: unknown facet '%s' (one of: wish_dead, ideation, method, "
                          "intent, plan, preparatory, past_attempt, timing, means_at_hand)",
                          c->path, facet_line, name, facet);
            bad = 1;
        }
        if (!weight) {
            mhgi_errs_add(c->errs, "%s:%u: %s: missing 'weight'", c->path, line, name);
            bad = 1;
        } else {
            char *end;
            errno = 0;
            w = strtod(weight, &end);
            if (end == weight || *end || errno || !isfinite(w) || w < 0.0 || w > 1.0) {
                mhgi_errs_add(c->errs, "%s:%u: %s: weight '%s' must be a number in [0, 1]",
                              c->path, weight_line, name, weight);
                bad = 1;
            }
        }
    } else {
        if (!kind) {
            mhgi_errs_add(c->errs, "%s:%u: %s: missing 'kind'", c->path, line, name);
            bad = 1;
        } else if (mhg_lexicon_kind_parse(kind, &k) != MHG_OK) {
            mhgi_errs_add(c->errs,
                          "%s:%u: %s: unknown cue kind '%s' (one of: negation, idiom, "
                          "third_person, past, hypothetical, informational, first_person, "
                          "subordinator)",
                          c->path, kind_line, name, kind);
            bad = 1;
        }
        if (scope) {
            if (k != MHG_LEX_CUE_NEGATION) {
                mhgi_errs_add(c->errs, "%s:%u: %s: 'scope' applies to negation cues only",
                              c->path, scope_line, name);
                bad = 1;
            } else if (!strcmp(scope, "before")) {
                sc = MHG_LEX_SCOPE_BEFORE;
            } else if (!strcmp(scope, "after")) {
                sc = MHG_LEX_SCOPE_AFTER;
            } else if (!strcmp(scope, "both")) {
                sc = MHG_LEX_SCOPE_BOTH;
            } else {
                mhgi_errs_add(c->errs, "%s:%u: %s: scope '%s' must be before, after or both",
                              c->path, scope_line, name, scope);
                bad = 1;
            }
        } else if (k == MHG_LEX_CUE_NEGATION) {
            sc = MHG_LEX_SCOPE_BEFORE;
        }
    }
    if (bad) return;

    mhg_lexicon *lex = c->lex;
    if (!grow_entries(lex)) {
        mhgi_errs_add(c->errs, "%s:%u: %s: out of memory", c->path, line, name);
        return;
    }
    mhg_lexicon_entry *e = &lex->entries[lex->n_entries];
    mhgi_entry_extra *x = &lex->extra[lex->n_entries];
    memset(e, 0, sizeof *e);
    memset(x, 0, sizeof *x);
    size_t ridlen = strlen(c->lang) + 1 + strlen(id);
    /* build "<lang>.<id>" first: copying ridlen bytes from c->lang would
     * read past its end (ASan: memcpy-param-overlap in the arena) */
    char *rid = NULL, *tmp = malloc(ridlen + 1);
    if (tmp) {
        snprintf(tmp, ridlen + 1, "%s.%s", c->lang, id);
        rid = mhgi_arena_strndup(&lex->arena, tmp, ridlen);
        free(tmp);
    }
    e->id = rid ? rid + strlen(c->lang) + 1 : NULL;
    e->rule_id = rid;
    e->lang = c->lang;
    e->category = category ? mhgi_arena_strdup(&lex->arena, category) : NULL;
    e->category_id = cat_id;
    e->facet = facet_bit;
    e->weight = w;
    e->kind = k;
    e->scope = sc;
    e->spaces = c->spaces;
    e->match = mhgi_arena_strdup(&lex->arena, match);
    e->file = c->path;
    e->line = line;
    if (!e->rule_id || !e->match || (category && !e->category)) {
        mhgi_errs_add(c->errs, "%s:%u: %s: out of memory", c->path, line, name);
        return;
    }
    /* Translate the pattern now so its errors carry file and line. */
    mhgi_pattern pat;
    mhgi_pattern_init(&pat);
    char why[256];
    mhg_status st = mhgi_pattern_compile(match, c->spaces, &pat, why, sizeof why);
    if (st != MHG_OK) {
        mhgi_errs_add(c->errs, "%s:%u: %s: %s", c->path, match_line, name,
                      st == MHG_ERR_NOMEM ? "out of memory" : why);
        mhgi_pattern_free(&pat);
        return;
    }
    if (!grow_exprs(lex, (size_t)pat.n_segs)) {
        mhgi_pattern_free(&pat);
        mhgi_errs_add(c->errs, "%s:%u: %s: out of memory", c->path, line, name);
        return;
    }
    x->first_expr = (uint32_t)lex->n_exprs;
    x->n_segs = (uint16_t)pat.n_segs;
    for (int i = 0; i < pat.n_segs; i++) {
        mhgi_expr *ex = &lex->exprs[lex->n_exprs + (size_t)i];
        memset(ex, 0, sizeof *ex);
        ex->regex = mhgi_arena_strndup(&lex->arena, pat.seg[i].p, pat.seg[i].len);
        ex->entry = (uint32_t)lex->n_entries;
        ex->seg = (uint16_t)i;
        ex->gap = (uint16_t)pat.gap[i];
        ex->raw = (unsigned char)pat.raw;
        ex->bound = (unsigned char)(c->spaces && !pat.raw);
        ex->lead_opt = (unsigned char)pat.lead_opt[i];
        ex->last = (unsigned char)(i == pat.n_segs - 1);
        ex->literal = (unsigned char)pat.lit_ok[i];
        if (ex->regex && pat.lit_ok[i]) {
            if (!grow_lits(lex, pat.n_lits[i])) {
                ex->regex = NULL;
            } else {
                for (size_t k = 0; k < pat.n_lits[i]; k++) {
                    mhgi_lit *L = &lex->lits[lex->n_lits];
                    size_t ln = strlen(pat.lits[i][k]);
                    L->s = mhgi_arena_strndup(&lex->arena, pat.lits[i][k], ln);
                    L->len = (uint32_t)ln;
                    L->expr = (uint32_t)(lex->n_exprs + (size_t)i);
                    L->tilde = pat.lit_tilde[i][k];
                    if (!L->s) {
                        ex->regex = NULL;
                        break;
                    }
                    lex->n_lits++;
                }
            }
        }
        if (!ex->regex) {
            mhgi_pattern_free(&pat);
            mhgi_errs_add(c->errs, "%s:%u: %s: out of memory", c->path, line, name);
            return;
        }
    }
    mhgi_pattern_free(&pat);
    lex->n_exprs += (size_t)x->n_segs;
    lex->n_entries++;
}

static void load_list(ctx *c, yaml_node_t *v, int is_cue, const char *key) {
    if (v->type != YAML_SEQUENCE_NODE) {
        /* An empty `cues:` parses as a null scalar: allow it. */
        const char *s = scalar(v);
        if (s && (!*s || !strcmp(s, "~") || !strcmp(s, "null"))) return;
        mhgi_errs_add(c->errs, "%s:%u: %s: must be a list", c->path, line_of(v), key);
        return;
    }
    size_t i = 0;
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
         it++, i++)
        load_item(c, yaml_document_get_node(c->doc, *it), is_cue, i);
}

static int grow_langs(mhg_lexicon *lex) {
    if (lex->n_langs < lex->cap_langs) return 1;
    size_t nc = lex->cap_langs ? lex->cap_langs * 2 : 32;
    mhg_lexicon_lang *l = realloc(lex->langs, nc * sizeof *l);
    if (!l) return 0;
    lex->langs = l;
    lex->cap_langs = nc;
    return 1;
}

static void load_doc(ctx *c, yaml_node_t *root) {
    if (!root || root->type != YAML_MAPPING_NODE) {
        mhgi_errs_add(c->errs, "%s:1: file: top level must be a mapping (lang, version, spaces, "
                               "entries, cues)",
                      c->path);
        return;
    }
    check_dup_keys(c, root, "the top level", "file");
    yaml_node_t *lang = NULL, *version = NULL, *spaces = NULL, *entries = NULL, *cues = NULL;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *kn = yaml_document_get_node(c->doc, pr->key);
        yaml_node_t *vn = yaml_document_get_node(c->doc, pr->value);
        const char *k = scalar(kn);
        if (!k) {
            mhgi_errs_add(c->errs, "%s:%u: file: keys must be plain strings", c->path,
                          line_of(kn));
        } else if (!strcmp(k, "lang")) {
            lang = vn;
        } else if (!strcmp(k, "version")) {
            version = vn;
        } else if (!strcmp(k, "spaces")) {
            spaces = vn;
        } else if (!strcmp(k, "entries")) {
            entries = vn;
        } else if (!strcmp(k, "cues")) {
            cues = vn;
        } else {
            mhgi_errs_add(c->errs,
                          "%s:%u: file: unknown top-level key '%s' (allowed: lang, version, "
                          "spaces, entries, cues)",
                          c->path, line_of(kn), k);
        }
    }
    char want[64];
    base_lang(c->path, want, sizeof want);
    const char *ls = scalar(lang);
    unsigned before = c->errs->count;
    if (!lang) {
        mhgi_errs_add(c->errs, "%s:1: file: missing 'lang'", c->path);
    } else if (!ls || !valid_lang(ls)) {
        mhgi_errs_add(c->errs, "%s:%u: file: lang must be an ISO 639-1 code such as 'en'",
                      c->path, line_of(lang));
    } else if (strcmp(ls, want) != 0) {
        mhgi_errs_add(c->errs, "%s:%u: file: lang '%s' does not match the file name ('%s')",
                      c->path, line_of(lang), ls, want);
    }
    const char *vs = scalar(version);
    if (!version) {
        mhgi_errs_add(c->errs, "%s:1: file: missing 'version'", c->path);
    } else if (!vs || !*vs) {
        mhgi_errs_add(c->errs, "%s:%u: file: version must be a string", c->path,
                      line_of(version));
    }
    c->spaces = 1;
    if (spaces) {
        const char *ss = scalar(spaces);
        if (!ss || !parse_bool(ss, &c->spaces))
            mhgi_errs_add(c->errs, "%s:%u: file: spaces must be true or false", c->path,
                          line_of(spaces));
    }
    if (!entries) mhgi_errs_add(c->errs, "%s:1: file: missing 'entries'", c->path);
    if (c->errs->count != before) return;
    for (size_t i = 0; i < c->lex->n_langs; i++)
        if (!strcmp(c->lex->langs[i].lang, ls)) {
            mhgi_errs_add(c->errs, "%s:%u: file: language '%s' already loaded from %s", c->path,
                          line_of(lang), ls, c->lex->langs[i].file);
            return;
        }
    c->lang = mhgi_arena_strdup(&c->lex->arena, ls);
    const char *ver = mhgi_arena_strdup(&c->lex->arena, vs);
    if (!c->lang || !ver || !grow_langs(c->lex)) {
        mhgi_errs_add(c->errs, "%s:1: file: out of memory", c->path);
        return;
    }
    c->first_entry = c->lex->n_entries;
    load_list(c, entries, 0, "entries");
    if (cues) load_list(c, cues, 1, "cues");
    mhg_lexicon_lang *L = &c->lex->langs[c->lex->n_langs++];
    L->lang = c->lang;
    L->version = ver;
    L->file = c->path;
    L->spaces = c->spaces;
    L->n_entries = L->n_cues = 0;
    for (size_t i = c->first_entry; i < c->lex->n_entries; i++) {
        if (c->lex->entries[i].kind == MHG_LEX_ENTRY) L->n_entries++;
        else L->n_cues++;
    }
}

mhg_status mhgi_yaml_load_buf(mhg_lexicon *lex, const char *path, const unsigned char *buf,
                              size_t len, const char *const *categories, mhgi_errs *errs) {
    ctx c = {.lex = lex, .errs = errs, .categories = categories};
    c.path = mhgi_arena_strdup(&lex->arena, path);
    if (!c.path) return MHG_ERR_NOMEM;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return MHG_ERR_NOMEM;
    yaml_parser_set_input_string(&parser, buf, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    unsigned before = errs->count;
    if (!yaml_parser_load(&parser, &doc)) {
        mhgi_errs_add(errs, "%s:%zu: file: YAML error: %s%s%s", path,
                      (size_t)parser.problem_mark.line + 1,
                      parser.problem ? parser.problem : "parse error",
                      parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return MHG_ERR_PARSE;
    }
    c.doc = &doc;
    load_doc(&c, yaml_document_get_root_node(&doc));
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return errs->count == before ? MHG_OK : MHG_ERR_PARSE;
}
