/*
 * templates.c - reviewed reply texts (data/policy/<lang>.yaml) and their
 * rendering with local crisis resources.
 *
 * English must be complete: it is the fallback for every other language, so
 * a crisis reply can always be produced. Other languages may translate a
 * subset; a missing template falls back to English per template.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

#define TPL_MAX_FILE_BYTES (64u * 1024u)
#define TPL_MAX_LANGS 32
#define TPL_MAX_RENDER_BYTES (32u * 1024u)

static const char *const tpl_names[MHG_TPL_COUNT] = {
    "crisis_reply", "system_support", "system_strict", "system_minor",
    "disclaimer",   "reminder",       "blocked_reply", "resources_intro"};
_Static_assert(sizeof tpl_names / sizeof tpl_names[0] == MHG_TPL_COUNT,
               "tpl_names must name every template");

const char *mhg_template_name(mhg_template t) {
    return (unsigned)t < MHG_TPL_COUNT ? tpl_names[t] : NULL;
}

typedef struct tpl_lang {
    char lang[8];
    char *version;
    char *text[MHG_TPL_COUNT];
} tpl_lang;

struct mhgi_pol_templates {
    tpl_lang langs[TPL_MAX_LANGS];
    size_t n;
    char version[128];
};

void mhgi_pol_templates_free(mhgi_pol_templates *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->langs[i].version);
        for (int k = 0; k < MHG_TPL_COUNT; k++) free(t->langs[i].text[k]);
    }
    free(t);
}

static mhg_status load_one(mhgi_pol_templates *t, const char *path, const char *fname,
                           mhgi_pol_errbuf *e) {
    static const char *const top[] = {"lang", "version", "review_status", "templates", NULL};
    mhgi_pol_ydoc y = {.err = e};
    mhg_status rc = mhgi_pol_y_load(&y, path, TPL_MAX_FILE_BYTES, NULL);
    if (rc != MHG_OK) {
        mhgi_pol_y_free(&y);
        return rc;
    }
    unsigned before = e->count;
    yaml_node_t *root = mhgi_pol_y_root(&y);
    if (mhgi_pol_y_check_keys(&y, root, top, "") == 0) {
        const char *lang = mhgi_pol_y_str(mhgi_pol_y_get(&y, root, "lang"));
        const char *ver = mhgi_pol_y_str(mhgi_pol_y_get(&y, root, "version"));
        const char *rs = mhgi_pol_y_str(mhgi_pol_y_get(&y, root, "review_status"));
        yaml_node_t *tn = mhgi_pol_y_get(&y, root, "templates");
        size_t ll = lang ? strlen(lang) : 0;
        if (!lang || ll < 2 || ll > 7 || strncmp(fname, lang, ll) != 0 ||
            strcmp(fname + ll, ".yaml") != 0)
            mhgi_pol_err_add(e, "%s: lang must be set and match the file name", path);
        if (!ver || !*ver) mhgi_pol_err_add(e, "%s: missing 'version'", path);
        if (!rs || !*rs)
            mhgi_pol_err_add(e, "%s: missing 'review_status' (who reviewed this text, or that it "
                         "still needs review)", path);
        if (!tn) mhgi_pol_err_add(e, "%s: missing 'templates'", path);
        if (e->count == before && t->n >= TPL_MAX_LANGS) {
            mhgi_pol_err_add(e, "%s: more than %d template languages", path, TPL_MAX_LANGS);
        }
        if (e->count == before && mhgi_pol_y_check_keys(&y, tn, tpl_names, "templates") == 0) {
            tpl_lang *L = &t->langs[t->n];
            memset(L, 0, sizeof *L);
            snprintf(L->lang, sizeof L->lang, "%s", lang);
            L->version = mhgi_pol_strdup(ver);
            int oom = !L->version;
            for (int k = 0; k < MHG_TPL_COUNT && !oom; k++) {
                yaml_node_t *v = mhgi_pol_y_get(&y, tn, tpl_names[k]);
                if (!v) continue;
                const char *s = mhgi_pol_y_str(v);
                if (!s || !*s) {
                    mhgi_pol_err_add(e, "%s:%u: templates.%s: expected text", path, mhgi_pol_y_line(v),
                                 tpl_names[k]);
                    continue;
                }
                size_t sl = strlen(s);
                /* block scalars end with a newline; the caller decides spacing */
                while (sl > 0 && (s[sl - 1] == '\n' || s[sl - 1] == ' ')) sl--;
                L->text[k] = malloc(sl + 1);
                if (!L->text[k]) {
                    oom = 1;
                    break;
                }
                memcpy(L->text[k], s, sl);
                L->text[k][sl] = '\0';
            }
            if (oom) {
                free(L->version);
                for (int k = 0; k < MHG_TPL_COUNT; k++) free(L->text[k]);
                mhgi_pol_y_free(&y);
                return MHG_ERR_NOMEM;
            }
            if (e->count == before) t->n++;
            else {
                free(L->version);
                for (int k = 0; k < MHG_TPL_COUNT; k++) free(L->text[k]);
            }
        }
    }
    mhgi_pol_y_free(&y);
    return e->count == before ? MHG_OK : MHG_ERR_PARSE;
}

static mhg_status load_one_cb(void *t, const char *path, const char *fname,
                              mhgi_pol_errbuf *e) {
    return load_one(t, path, fname, e);
}

mhg_status mhgi_pol_templates_load(const char *dir, mhgi_pol_templates **out, mhgi_pol_errbuf *e) {
    *out = NULL;
    /* One name more than fits: load_one reports "more than N template
     * languages" for it; files past that are not read. */
    char *names[TPL_MAX_LANGS + 1];
    size_t nn;
    mhg_status rc = mhgi_pol_yaml_dir(dir, "templates", names, TPL_MAX_LANGS + 1, &nn, e);
    if (rc == MHG_ERR_IO) return rc;
    if (rc == MHG_ERR_TOO_BIG) rc = MHG_OK;
    mhgi_pol_templates *t = rc == MHG_OK ? calloc(1, sizeof *t) : NULL;
    if (!t && rc == MHG_OK) rc = MHG_ERR_NOMEM;
    if (t) rc = mhgi_pol_load_each(dir, names, nn, load_one_cb, t, e);
    mhgi_pol_names_free(names, nn);
    if (rc == MHG_OK) {
        const tpl_lang *en = NULL;
        for (size_t i = 0; i < t->n; i++)
            if (!strcmp(t->langs[i].lang, "en")) en = &t->langs[i];
        if (!en) {
            mhgi_pol_err_add(e, "%s: en.yaml is required (English is the fallback for every "
                         "template)", dir);
            rc = nn ? MHG_ERR_PARSE : MHG_ERR_IO;
        } else {
            for (int k = 0; k < MHG_TPL_COUNT; k++)
                if (!en->text[k]) {
                    mhgi_pol_err_add(e, "%s/en.yaml: templates.%s is required", dir, tpl_names[k]);
                    rc = MHG_ERR_PARSE;
                }
            /* The reviewed crisis texts must carry the resources. */
            static const mhg_template need[] = {MHG_TPL_CRISIS_REPLY, MHG_TPL_SYSTEM_STRICT,
                                                MHG_TPL_BLOCKED_REPLY};
            for (size_t i = 0; i < t->n; i++)
                for (size_t k = 0; k < sizeof need / sizeof need[0]; k++) {
                    const char *s = t->langs[i].text[need[k]];
                    if (s && !strstr(s, "{resources}")) {
                        mhgi_pol_err_add(e, "%s/%s.yaml: templates.%s must contain {resources}", dir,
                                     t->langs[i].lang, tpl_names[need[k]]);
                        rc = MHG_ERR_PARSE;
                    }
                }
            size_t o = 0;
            for (size_t i = 0; i < t->n && o + 1 < sizeof t->version; i++) {
                int w = snprintf(t->version + o, sizeof t->version - o, "%s%s:%s", i ? "," : "",
                                 t->langs[i].lang, t->langs[i].version);
                if (w < 0) break;
                o += (size_t)w;
                if (o >= sizeof t->version) o = sizeof t->version - 1;
            }
        }
    }
    if (rc != MHG_OK) {
        mhgi_pol_templates_free(t);
        return rc;
    }
    *out = t;
    return MHG_OK;
}

const char *mhgi_pol_templates_get(const mhgi_pol_templates *t, mhg_template id, const char *lang,
                               const char **used_lang) {
    if (!t || (unsigned)id >= MHG_TPL_COUNT) return NULL;
    char bl[8] = "";
    size_t i = 0;
    for (; lang && lang[i] && lang[i] != '-' && lang[i] != '_' && i < 7; i++)
        bl[i] = (char)(lang[i] | 0x20);
    bl[i] = '\0';
    const tpl_lang *en = NULL;
    for (size_t k = 0; k < t->n; k++) {
        if (!strcmp(t->langs[k].lang, bl) && t->langs[k].text[id]) {
            if (used_lang) *used_lang = t->langs[k].lang;
            return t->langs[k].text[id];
        }
        if (!strcmp(t->langs[k].lang, "en")) en = &t->langs[k];
    }
    if (used_lang) *used_lang = "en";
    return en ? en->text[id] : NULL;
}

const char *mhgi_pol_templates_version(const mhgi_pol_templates *t) { return t ? t->version : ""; }

mhg_status mhg_policy_render(const mhg_policy *p, mhg_template id, const char *lang,
                             const char *country, mhg_age_band age, char **out, size_t *outlen) {
    if (out) *out = NULL;
    if (outlen) *outlen = 0;
    if (!p || !out || (unsigned)id >= MHG_TPL_COUNT) return MHG_ERR_INVALID;
    const char *used = "en";
    const char *s = mhgi_pol_templates_get(p->tpl, id, lang, &used);
    if (!s) return MHG_ERR_INVALID;
    int minor = age == MHG_AGE_MINOR || (age == MHG_AGE_UNKNOWN && p->info.unknown_as_minor);
    const mhg_country_resources *c =
        mhgi_pol_resources_pick_default(p->res, country, p->info.default_country, lang);
    char *block = NULL;
    size_t blen = 0;
    mhgi_pol_sbuf b;
    mhgi_pol_sb_init(&b, TPL_MAX_RENDER_BYTES);
    while (*s) {
        const char *q = strchr(s, '{');
        if (!q) {
            mhgi_pol_sb_adds(&b, s);
            break;
        }
        mhgi_pol_sb_add(&b, s, (size_t)(q - s));
        if (!strncmp(q, "{resources}", 11)) {
            if (!block && c) {
                /* the resources are formatted in the template's language so
                 * labels and text agree */
                mhg_status rc = mhg_resources_format(c, used, minor, &block, &blen);
                if (rc != MHG_OK) {
                    mhgi_pol_sb_free(&b);
                    return rc;
                }
            }
            if (block) mhgi_pol_sb_add(&b, block, blen);
            s = q + 11;
        } else if (!strncmp(q, "{emergency}", 11)) {
            mhgi_pol_sb_adds(&b, c && c->emergency ? c->emergency : "112 / 911");
            s = q + 11;
        } else {
            mhgi_pol_sb_add(&b, q, 1);
            s = q + 1;
        }
    }
    free(block);
    *out = mhgi_pol_sb_take(&b, outlen);
    return *out ? MHG_OK : MHG_ERR_NOMEM;
}
