/*
 * resources.c - crisis resources: strict loader for data/resources/<CC>.yaml,
 * the pick/fallback order and the text block that goes into replies.
 *
 * Why the labels ("call", "text", "chat") live in international.yaml and not
 * in C: they end up in crisis replies, so translators and reviewers must be
 * able to change them without touching code (style guide, rule 13).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

#define RES_MAX_FILE_BYTES (64u * 1024u)
#define RES_MAX_FILES 256
#define RES_MAX_FORMAT_BYTES (16u * 1024u)

enum { LB_EMERGENCY, LB_NO_EMERGENCY, LB_CALL, LB_TEXT, LB_CHAT, LB_WEB, LB_YOUTH, LB_COUNT };
static const char *const label_keys[LB_COUNT] = {"emergency", "no_emergency", "call", "text",
                                                 "chat",      "web",          "youth"};
static const char *const label_en[LB_COUNT] = {
    "Emergency services", "If you are in danger now, call your local emergency number",
    "call", "text", "chat", "web", "for young people"};

typedef struct labels {
    char lang[8];
    char *text[LB_COUNT];
} labels;

typedef struct country_int {
    mhg_country_resources pub; /* first: the public pointer is this struct */
    const struct mhg_resources *owner;
    char **strings;            /* owned strings */
    size_t n_strings, cap_strings;
    mhg_crisis_line *lines;
    const char **lang_arrays;  /* one block for every languages list */
} country_int;

struct mhg_resources {
    country_int **countries; /* sorted by code */
    size_t n;
    const country_int *intl;
    labels *labels;
    size_t n_labels;
    struct {
        char lang[8];
        char country[4];
    } langmap[64];
    size_t n_langmap;
};

static char *keep(country_int *c, const char *s) {
    if (!s) return NULL;
    if (c->n_strings == c->cap_strings) {
        size_t nc = c->cap_strings ? c->cap_strings * 2 : 32;
        char **n = realloc(c->strings, nc * sizeof *n);
        if (!n) return NULL;
        c->strings = n;
        c->cap_strings = nc;
    }
    char *d = mhgi_pol_strdup(s);
    if (d) c->strings[c->n_strings++] = d;
    return d;
}

static void country_free(country_int *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n_strings; i++) free(c->strings[i]);
    free(c->strings);
    free(c->lines);
    free(c->lang_arrays);
    free(c);
}

void mhg_resources_free(mhg_resources *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) country_free(r->countries[i]);
    free(r->countries);
    for (size_t i = 0; i < r->n_labels; i++)
        for (int k = 0; k < LB_COUNT; k++) free(r->labels[i].text[k]);
    free(r->labels);
    free(r);
}

static int valid_date(const char *s) {
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i])) return 0;
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int valid_lang(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 2 || n > 3) return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i])) return 0;
    return 1;
}

/* A string field: optional or required. -1 error (reported), 0 absent, 1 ok. */
static int str_field(mhgi_pol_ydoc *y, country_int *c, yaml_node_t *map, const char *key,
                     const char *where, int required, const char **out, int *oom) {
    yaml_node_t *n = mhgi_pol_y_get(y, map, key);
    if (!n) {
        if (required)
            mhgi_pol_err_add(y->err, "%s:%u: %s: missing '%s'", y->path, mhgi_pol_y_line(map), where, key);
        return required ? -1 : 0;
    }
    const char *s = mhgi_pol_y_str(n);
    if (!s || !*s) {
        mhgi_pol_err_add(y->err, "%s:%u: %s.%s: expected a non-empty string", y->path,
                     mhgi_pol_y_line(n), where, key);
        return -1;
    }
    *out = keep(c, s);
    if (!*out) {
        *oom = 1;
        return -1;
    }
    return 1;
}

/* Count languages lists in a file first so one block can hold them all. */
static int lang_list(mhgi_pol_ydoc *y, country_int *c, yaml_node_t *n, const char *where,
                     const char ***pool, size_t *pool_used, size_t pool_cap,
                     const char *const **out, size_t *count, int *oom) {
    if (!n || n->type != YAML_SEQUENCE_NODE) {
        mhgi_pol_err_add(y->err, "%s:%u: %s: expected a list of language codes", y->path,
                     mhgi_pol_y_line(n), where);
        return -1;
    }
    size_t start = *pool_used;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        const char *s = mhgi_pol_y_str(mhgi_pol_y_node(y, *it));
        if (!valid_lang(s)) {
            mhgi_pol_err_add(y->err, "%s:%u: %s: '%s' is not an ISO 639-1 code", y->path,
                         mhgi_pol_y_line(n), where, s ? s : "?");
            return -1;
        }
        if (*pool_used >= pool_cap) return -1;
        const char *k = keep(c, s);
        if (!k) {
            *oom = 1;
            return -1;
        }
        (*pool)[(*pool_used)++] = k;
    }
    *out = *pool + start;
    *count = *pool_used - start;
    return 0;
}

static size_t count_items(mhgi_pol_ydoc *y, yaml_node_t *lines) {
    size_t total = 0;
    if (!lines || lines->type != YAML_SEQUENCE_NODE) return 0;
    for (yaml_node_item_t *it = lines->data.sequence.items.start;
         it < lines->data.sequence.items.top; it++) {
        yaml_node_t *l = mhgi_pol_y_get(y, mhgi_pol_y_node(y, *it), "languages");
        if (l && l->type == YAML_SEQUENCE_NODE)
            total += (size_t)(l->data.sequence.items.top - l->data.sequence.items.start);
    }
    return total;
}

static mhg_status load_labels(mhg_resources *r, mhgi_pol_ydoc *y, yaml_node_t *n) {
    if (n->type != YAML_MAPPING_NODE) {
        mhgi_pol_err_add(y->err, "%s:%u: labels: expected a mapping of language -> labels", y->path,
                     mhgi_pol_y_line(n));
        return MHG_ERR_PARSE;
    }
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    r->labels = calloc(cnt ? cnt : 1, sizeof *r->labels);
    if (!r->labels) return MHG_ERR_NOMEM;
    mhg_status rc = MHG_OK;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *lang = mhgi_pol_y_str(mhgi_pol_y_node(y, p->key));
        yaml_node_t *v = mhgi_pol_y_node(y, p->value);
        if (!valid_lang(lang)) {
            mhgi_pol_err_add(y->err, "%s:%u: labels: '%s' is not a language code", y->path,
                         mhgi_pol_y_line(v), lang ? lang : "?");
            rc = MHG_ERR_PARSE;
            continue;
        }
        if (mhgi_pol_y_check_keys(y, v, label_keys, "labels.<lang>")) {
            rc = MHG_ERR_PARSE;
            continue;
        }
        labels *lb = &r->labels[r->n_labels++];
        snprintf(lb->lang, sizeof lb->lang, "%s", lang);
        for (int k = 0; k < LB_COUNT; k++) {
            const char *s = mhgi_pol_y_str(mhgi_pol_y_get(y, v, label_keys[k]));
            if (s && *s) {
                lb->text[k] = mhgi_pol_strdup(s);
                if (!lb->text[k]) return MHG_ERR_NOMEM;
            }
        }
    }
    return rc;
}

static mhg_status load_langmap(mhg_resources *r, mhgi_pol_ydoc *y, yaml_node_t *n) {
    if (n->type != YAML_MAPPING_NODE) {
        mhgi_pol_err_add(y->err, "%s:%u: language_countries: expected a mapping", y->path,
                     mhgi_pol_y_line(n));
        return MHG_ERR_PARSE;
    }
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *lang = mhgi_pol_y_str(mhgi_pol_y_node(y, p->key));
        const char *cc = mhgi_pol_y_str(mhgi_pol_y_node(y, p->value));
        if (!valid_lang(lang) || !cc || strlen(cc) != 2 ||
            r->n_langmap >= sizeof r->langmap / sizeof r->langmap[0]) {
            mhgi_pol_err_add(y->err, "%s:%u: language_countries: expected lang: CC pairs (at most 64)",
                         y->path, mhgi_pol_y_line(n));
            return MHG_ERR_PARSE;
        }
        snprintf(r->langmap[r->n_langmap].lang, 8, "%s", lang);
        snprintf(r->langmap[r->n_langmap].country, 4, "%s", cc);
        r->n_langmap++;
    }
    return MHG_OK;
}

static mhg_status load_file(mhg_resources *r, const char *path, const char *fname,
                            mhgi_pol_errbuf *e) {
    static const char *const top[] = {"country",       "name",        "emergency",
                                      "languages",     "lines",       "source_url",
                                      "last_verified", "verified_by", "notes",
                                      "language_countries", "labels", NULL};
    static const char *const line_keys[] = {"name", "phone", "sms", "chat_url", "url",
                                            "hours", "languages", "youth", "notes", NULL};
    mhgi_pol_ydoc y = {.err = e};
    mhg_status rc = mhgi_pol_y_load(&y, path, RES_MAX_FILE_BYTES, NULL);
    if (rc != MHG_OK) {
        mhgi_pol_y_free(&y);
        return rc;
    }
    unsigned before = e->count;
    int oom = 0;
    country_int *c = calloc(1, sizeof *c);
    if (!c) {
        mhgi_pol_y_free(&y);
        return MHG_ERR_NOMEM;
    }
    c->owner = r;
    yaml_node_t *root = mhgi_pol_y_root(&y);
    if (mhgi_pol_y_check_keys(&y, root, top, "")) goto done;
    mhg_country_resources *pub = &c->pub;
    str_field(&y, c, root, "country", "file", 1, &pub->country, &oom);
    str_field(&y, c, root, "name", "file", 1, &pub->name, &oom);
    str_field(&y, c, root, "source_url", "file", 1, &pub->source_url, &oom);
    str_field(&y, c, root, "last_verified", "file", 1, &pub->last_verified, &oom);
    str_field(&y, c, root, "verified_by", "file", 1, &pub->verified_by, &oom);
    const char *notes = NULL;
    str_field(&y, c, root, "notes", "file", 0, &notes, &oom);
    int is_int = pub->country && strcmp(pub->country, "INT") == 0;
    str_field(&y, c, root, "emergency", "file", !is_int, &pub->emergency, &oom);
    if (pub->last_verified && !valid_date(pub->last_verified))
        mhgi_pol_err_add(e, "%s: last_verified: expected YYYY-MM-DD", path);
    if (pub->country) {
        /* the file name must say which country it is for */
        size_t cl = strlen(pub->country);
        int match = strncmp(fname, pub->country, cl) == 0 && strcmp(fname + cl, ".yaml") == 0;
        if (is_int) match = strcmp(fname, "international.yaml") == 0;
        if (!match)
            mhgi_pol_err_add(e, "%s: country %s does not match the file name (expected %s.yaml)",
                         path, pub->country, pub->country);
        for (const char *q = pub->country; *q; q++)
            if (!isupper((unsigned char)*q)) {
                mhgi_pol_err_add(e, "%s: country: expected an upper-case code", path);
                break;
            }
    }
    if (!is_int && (mhgi_pol_y_get(&y, root, "language_countries") || mhgi_pol_y_get(&y, root, "labels")))
        mhgi_pol_err_add(e, "%s: language_countries and labels belong in international.yaml", path);

    yaml_node_t *lines = mhgi_pol_y_get(&y, root, "lines");
    yaml_node_t *langs = mhgi_pol_y_get(&y, root, "languages");
    size_t pool_cap = count_items(&y, lines) +
                      (langs && langs->type == YAML_SEQUENCE_NODE
                           ? (size_t)(langs->data.sequence.items.top -
                                      langs->data.sequence.items.start)
                           : 0);
    c->lang_arrays = calloc(pool_cap + 1, sizeof *c->lang_arrays);
    if (!c->lang_arrays) {
        oom = 1;
        goto done;
    }
    size_t pool_used = 0;
    if (!langs)
        mhgi_pol_err_add(e, "%s: missing 'languages'", path);
    else
        lang_list(&y, c, langs, "languages", &c->lang_arrays, &pool_used, pool_cap,
                  &pub->languages, &pub->n_languages, &oom);

    if (!lines || lines->type != YAML_SEQUENCE_NODE ||
        lines->data.sequence.items.top == lines->data.sequence.items.start) {
        mhgi_pol_err_add(e, "%s: lines: expected a non-empty list of crisis lines", path);
        goto done;
    }
    size_t nl = (size_t)(lines->data.sequence.items.top - lines->data.sequence.items.start);
    c->lines = calloc(nl, sizeof *c->lines);
    if (!c->lines) {
        oom = 1;
        goto done;
    }
    pub->lines = c->lines;
    for (yaml_node_item_t *it = lines->data.sequence.items.start;
         it < lines->data.sequence.items.top; it++) {
        yaml_node_t *ln = mhgi_pol_y_node(&y, *it);
        if (mhgi_pol_y_check_keys(&y, ln, line_keys, "lines[]")) continue;
        mhg_crisis_line *l = &c->lines[pub->n_lines];
        const char *lnotes = NULL;
        str_field(&y, c, ln, "name", "lines[]", 1, &l->name, &oom);
        str_field(&y, c, ln, "phone", "lines[]", 0, &l->phone, &oom);
        str_field(&y, c, ln, "sms", "lines[]", 0, &l->sms, &oom);
        str_field(&y, c, ln, "chat_url", "lines[]", 0, &l->chat_url, &oom);
        str_field(&y, c, ln, "url", "lines[]", 0, &l->url, &oom);
        str_field(&y, c, ln, "notes", "lines[]", 0, &lnotes, &oom);
        if (str_field(&y, c, ln, "hours", "lines[]", 0, &l->hours, &oom) == 0) l->hours = "unknown";
        yaml_node_t *yl = mhgi_pol_y_get(&y, ln, "youth");
        if (yl) mhgi_pol_y_bool(&y, yl, "lines[].youth", &l->youth);
        yaml_node_t *ll = mhgi_pol_y_get(&y, ln, "languages");
        if (!ll)
            mhgi_pol_err_add(e, "%s:%u: lines[]: missing 'languages'", path, mhgi_pol_y_line(ln));
        else
            lang_list(&y, c, ll, "lines[].languages", &c->lang_arrays, &pool_used, pool_cap,
                      &l->languages, &l->n_languages, &oom);
        if (!l->phone && !l->sms && !l->chat_url && !l->url)
            mhgi_pol_err_add(e, "%s:%u: lines[]: %s has no phone, sms, chat_url or url", path,
                         mhgi_pol_y_line(ln), l->name ? l->name : "a line");
        if (l->name) pub->n_lines++;
    }
    if (is_int) {
        yaml_node_t *lb = mhgi_pol_y_get(&y, root, "labels");
        if (lb && load_labels(r, &y, lb) == MHG_ERR_NOMEM) oom = 1;
        yaml_node_t *lm = mhgi_pol_y_get(&y, root, "language_countries");
        if (lm) load_langmap(r, &y, lm);
    }

done:
    mhgi_pol_y_free(&y);
    if (oom) {
        country_free(c);
        return MHG_ERR_NOMEM;
    }
    if (e->count != before) {
        country_free(c);
        return MHG_ERR_PARSE;
    }
    country_int **nc = realloc(r->countries, (r->n + 1) * sizeof *nc);
    if (!nc) {
        country_free(c);
        return MHG_ERR_NOMEM;
    }
    r->countries = nc;
    r->countries[r->n++] = c;
    return MHG_OK;
}

static int cmp_country(const void *a, const void *b) {
    const country_int *x = *(country_int *const *)a, *y = *(country_int *const *)b;
    return strcmp(x->pub.country, y->pub.country);
}

static mhg_status load_file_cb(void *r, const char *path, const char *fname,
                               mhgi_pol_errbuf *e) {
    return load_file(r, path, fname, e);
}

mhg_status mhg_resources_load(const char *dir, mhg_resources **out, char *err, size_t errlen) {
    mhgi_pol_errbuf e;
    mhgi_pol_err_init(&e, err, errlen);
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!dir) return MHG_ERR_INVALID;
    char *names[RES_MAX_FILES];
    size_t nn;
    mhg_status rc = mhgi_pol_yaml_dir(dir, "resources", names, RES_MAX_FILES, &nn, &e);
    if (rc == MHG_ERR_IO) return rc;
    if (rc == MHG_ERR_TOO_BIG)
        mhgi_pol_err_add(&e, "%s: more than %d resource files", dir, RES_MAX_FILES);
    mhg_resources *r = rc == MHG_OK ? calloc(1, sizeof *r) : NULL;
    if (!r && rc == MHG_OK) rc = MHG_ERR_NOMEM;
    if (r) rc = mhgi_pol_load_each(dir, names, nn, load_file_cb, r, &e);
    mhgi_pol_names_free(names, nn);
    if (rc == MHG_OK) {
        qsort(r->countries, r->n, sizeof *r->countries, cmp_country);
        for (size_t i = 0; i < r->n; i++) {
            if (i > 0 && !strcmp(r->countries[i]->pub.country, r->countries[i - 1]->pub.country)) {
                mhgi_pol_err_add(&e, "%s: country %s appears twice", dir, r->countries[i]->pub.country);
                rc = MHG_ERR_PARSE;
            }
            if (!strcmp(r->countries[i]->pub.country, "INT")) r->intl = r->countries[i];
        }
        if (!r->intl && rc == MHG_OK) {
            /* the fallback guarantees every crisis gets some resource */
            mhgi_pol_err_add(&e, "%s: international.yaml is required (the fallback)", dir);
            rc = nn ? MHG_ERR_PARSE : MHG_ERR_IO;
        }
        for (size_t i = 0; rc == MHG_OK && i < r->n_langmap; i++) {
            if (!mhg_resources_find(r, r->langmap[i].country)) {
                mhgi_pol_err_add(&e, "%s: language_countries: %s -> %s, but %s.yaml is missing", dir,
                             r->langmap[i].lang, r->langmap[i].country, r->langmap[i].country);
                rc = MHG_ERR_PARSE;
            }
        }
    }
    if (rc != MHG_OK) {
        mhg_resources_free(r);
        return rc;
    }
    *out = r;
    return MHG_OK;
}

size_t mhg_resources_count(const mhg_resources *res) { return res ? res->n : 0; }

const mhg_country_resources *mhg_resources_get(const mhg_resources *res, size_t i) {
    return res && i < res->n ? &res->countries[i]->pub : NULL;
}

const mhg_country_resources *mhg_resources_find(const mhg_resources *res, const char *country) {
    if (!res || !country || !*country || strlen(country) > 3) return NULL;
    char cc[4];
    size_t i = 0;
    for (; country[i] && i < 3; i++) cc[i] = (char)toupper((unsigned char)country[i]);
    cc[i] = '\0';
    if (!strcmp(cc, "UK")) memcpy(cc, "GB", 3);
    size_t lo = 0, hi = res->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(res->countries[mid]->pub.country, cc);
        if (c == 0) return &res->countries[mid]->pub;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* "pt-BR" / "pt_BR" -> "pt"; lower case. */
static void base_lang(const char *lang, char out[8]) {
    size_t i = 0;
    if (lang)
        for (; lang[i] && lang[i] != '-' && lang[i] != '_' && i < 7; i++)
            out[i] = (char)tolower((unsigned char)lang[i]);
    out[i] = '\0';
}

/* A region tag in the language ("pt-BR") names the country too. */
static const mhg_country_resources *region_of(const mhg_resources *res, const char *lang) {
    if (!lang) return NULL;
    const char *sep = strpbrk(lang, "-_");
    if (!sep || strlen(sep + 1) != 2) return NULL;
    return mhg_resources_find(res, sep + 1);
}

const mhg_country_resources *mhgi_pol_resources_pick_default(const mhg_resources *res,
                                                         const char *country,
                                                         const char *default_country,
                                                         const char *lang) {
    if (!res) return NULL;
    const mhg_country_resources *c = mhg_resources_find(res, country);
    if (c) return c;
    c = region_of(res, lang);
    if (c) return c;
    c = mhg_resources_find(res, default_country);
    if (c) return c;
    char bl[8];
    base_lang(lang, bl);
    for (size_t i = 0; bl[0] && i < res->n_langmap; i++)
        if (!strcmp(res->langmap[i].lang, bl)) {
            c = mhg_resources_find(res, res->langmap[i].country);
            if (c) return c;
        }
    return res->intl ? &res->intl->pub : NULL;
}

const mhg_country_resources *mhg_resources_pick(const mhg_resources *res, const char *country,
                                                const char *lang, int minor) {
    (void)minor;
    return mhgi_pol_resources_pick_default(res, country, NULL, lang);
}

static const char *label(const country_int *c, const char *lang, int k) {
    const mhg_resources *r = c->owner;
    char bl[8];
    base_lang(lang, bl);
    for (int pass = 0; pass < 2; pass++) {
        const char *want = pass == 0 ? bl : "en";
        for (size_t i = 0; r && i < r->n_labels; i++)
            if (!strcmp(r->labels[i].lang, want) && r->labels[i].text[k])
                return r->labels[i].text[k];
    }
    return label_en[k];
}

static int speaks(const mhg_crisis_line *l, const char *bl) {
    for (size_t i = 0; i < l->n_languages; i++)
        if (!strcmp(l->languages[i], bl)) return 1;
    return 0;
}

mhg_status mhg_resources_format(const mhg_country_resources *cpub, const char *lang, int minor,
                                char **out, size_t *outlen) {
    if (out) *out = NULL;
    if (outlen) *outlen = 0;
    if (!cpub || !out) return MHG_ERR_INVALID;
    const country_int *c = (const country_int *)cpub;
    char bl[8];
    base_lang(lang, bl);
    if (!bl[0]) memcpy(bl, "en", 3);

    /* Order: youth lines first for minors; then lines speaking the user's
     * language; data order otherwise. Adults do not get youth-only lines
     * unless nothing else exists (those services may turn adults away). */
    int has_adult = 0;
    for (size_t i = 0; i < cpub->n_lines; i++)
        if (!cpub->lines[i].youth) has_adult = 1;
    size_t order[64];
    size_t n = 0;
    for (int pass = 0; pass < 4; pass++) {
        for (size_t i = 0; i < cpub->n_lines && n < 64; i++) {
            const mhg_crisis_line *l = &cpub->lines[i];
            if (!minor && l->youth && has_adult) continue;
            int y = minor ? l->youth : 0;
            int s = speaks(l, bl);
            int want_y = pass < 2, want_s = (pass % 2) == 0;
            if (minor) {
                if (y != want_y || s != want_s) continue;
            } else {
                if (pass >= 2 || s != want_s) continue;
            }
            order[n++] = i;
        }
    }

    mhgi_pol_sbuf b;
    mhgi_pol_sb_init(&b, RES_MAX_FORMAT_BYTES);
    if (cpub->emergency)
        mhgi_pol_sb_printf(&b, "%s: %s", label(c, bl, LB_EMERGENCY), cpub->emergency);
    else
        mhgi_pol_sb_printf(&b, "%s.", label(c, bl, LB_NO_EMERGENCY));
    for (size_t k = 0; k < n; k++) {
        const mhg_crisis_line *l = &cpub->lines[order[k]];
        mhgi_pol_sb_printf(&b, "\n- %s", l->name);
        if (l->youth) mhgi_pol_sb_printf(&b, " (%s)", label(c, bl, LB_YOUTH));
        const char *sep = ": ";
        if (l->phone) {
            mhgi_pol_sb_printf(&b, "%s%s %s", sep, label(c, bl, LB_CALL), l->phone);
            sep = ", ";
        }
        if (l->sms) {
            mhgi_pol_sb_printf(&b, "%s%s %s", sep, label(c, bl, LB_TEXT), l->sms);
            sep = ", ";
        }
        if (l->chat_url) {
            mhgi_pol_sb_printf(&b, "%s%s %s", sep, label(c, bl, LB_CHAT), l->chat_url);
            sep = ", ";
        }
        if (l->url && !l->chat_url && !l->phone && !l->sms)
            mhgi_pol_sb_printf(&b, "%s%s %s", sep, label(c, bl, LB_WEB), l->url);
        if (l->hours && strcmp(l->hours, "unknown") != 0) mhgi_pol_sb_printf(&b, " (%s)", l->hours);
    }
    *out = mhgi_pol_sb_take(&b, outlen);
    return *out ? MHG_OK : MHG_ERR_NOMEM;
}

/* Digits of s (spaces, dashes, dots, parentheses, a leading + ignored). */
static size_t digits_of(const char *s, char *out, size_t cap) {
    size_t n = 0;
    for (; s && *s && n + 1 < cap; s++)
        if (isdigit((unsigned char)*s)) out[n++] = *s;
    out[n] = '\0';
    return n;
}

static int is_num_sep(char c) {
    return c == ' ' || c == '-' || c == '.' || c == ')' || c == '(' || c == '/';
}

/* Does text contain the digit string want as a whole number, allowing
 * single separators (space - . ( ) /) between digits? */
static int has_number(const char *text, size_t len, const char *want) {
    size_t wl = strlen(want);
    if (wl < 3) return 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)text[i])) continue;
        if (i > 0 && isdigit((unsigned char)text[i - 1])) continue;
        char num[64];
        size_t k = 0, j = i;
        while (j < len && k + 1 < sizeof num) {
            if (isdigit((unsigned char)text[j])) {
                num[k++] = text[j++];
            } else if (is_num_sep(text[j]) && j + 1 < len &&
                       (isdigit((unsigned char)text[j + 1]) ||
                        (is_num_sep(text[j + 1]) && j + 2 < len &&
                         isdigit((unsigned char)text[j + 2])))) {
                /* "1 (866) 488-7386": up to two separators between digits */
                j += isdigit((unsigned char)text[j + 1]) ? 1 : 2;
            } else {
                break;
            }
        }
        num[k] = '\0';
        /* exact, or the number with a country prefix (+44 116 123) */
        if (k == wl && strcmp(num, want) == 0) return 1;
        if (wl >= 6 && k > wl && k <= wl + 3 && strcmp(num + (k - wl), want) == 0) return 1;
    }
    return 0;
}

static int has_host(const char *text, size_t len, const char *url) {
    if (!url) return 0;
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    if (!strncmp(h, "www.", 4)) h += 4;
    size_t hl = strcspn(h, "/?#");
    if (hl < 4 || hl > len) return 0;
    for (size_t i = 0; i + hl <= len; i++)
        if (strncasecmp(text + i, h, hl) == 0) return 1;
    return 0;
}

int mhg_resources_mentioned(const mhg_country_resources *c, const char *text, size_t len) {
    if (!c || !text) return 0;
    char d[32];
    if (c->emergency && digits_of(c->emergency, d, sizeof d) && has_number(text, len, d))
        return 1;
    for (size_t i = 0; i < c->n_lines; i++) {
        const mhg_crisis_line *l = &c->lines[i];
        if (l->phone && digits_of(l->phone, d, sizeof d) && has_number(text, len, d)) return 1;
        if (l->sms && digits_of(l->sms, d, sizeof d) && has_number(text, len, d)) return 1;
        if (has_host(text, len, l->chat_url) || has_host(text, len, l->url)) return 1;
    }
    return 0;
}
