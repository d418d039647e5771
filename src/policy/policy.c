/*
 * policy.c - the policy file: strict parse, defaults, ASL-MH rule checks,
 * accessors and command-line overrides.
 *
 * Two stages, two error codes: the parse stage (MHG_ERR_PARSE) rejects
 * anything that is not a well-formed policy (unknown or duplicate keys, wrong
 * types, bad names), the rule stage (MHG_ERR_POLICY) checks the well-formed
 * policy against its declared ASL-MH level and names every broken rule. Rule
 * ids ("L3.oversight") are stable: docs/asl-mh.md lists them, tests and
 * operators grep for them.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/mhg_limits.h"
#include "policy/policy_int.h"

#define POLICY_MAX_FILE_BYTES (256u * 1024u)

static const char *const settings[] = {"general",  "education",   "peer_support",
                                       "clinical", "high_acuity", "research",
                                       NULL};

/* ------------------------------------------------------------ age bands */

static const char *const age_names[MHG_AGE_COUNT] = {"unknown", "minor", "adult"};

const char *mhg_age_band_name(mhg_age_band band) {
    return (unsigned)band < MHG_AGE_COUNT ? age_names[band] : NULL;
}

mhg_status mhg_age_band_parse(const char *name, mhg_age_band *out) {
    if (!out) return MHG_ERR_INVALID;
    if (!name || !*name) {
        *out = MHG_AGE_UNKNOWN;
        return MHG_OK;
    }
    for (int i = 0; i < MHG_AGE_COUNT; i++) {
        if (strcasecmp(name, age_names[i]) == 0) {
            *out = (mhg_age_band)i;
            return MHG_OK;
        }
    }
    return MHG_ERR_INVALID;
}

/* --------------------------------------------------------- owned strings */

static char *own(mhg_policy *p, char *s) {
    if (!s) return NULL;
    if (p->n_owned == p->cap_owned) {
        size_t nc = p->cap_owned ? p->cap_owned * 2 : 32;
        char **n = realloc(p->owned, nc * sizeof *n);
        if (!n) {
            free(s);
            return NULL;
        }
        p->owned = n;
        p->cap_owned = nc;
    }
    p->owned[p->n_owned++] = s;
    return s;
}

void mhg_policy_free(mhg_policy *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_owned; i++) free(p->owned[i]);
    free(p->owned);
    free(p->content_sources);
    free(p->allowed_actions);
    mhg_resources_free(p->res);
    mhgi_pol_templates_free(p->tpl);
    free(p);
}

/* -------------------------------------------------------------- parsing */

typedef struct pctx {
    mhgi_pol_ydoc *y;
    mhg_policy *p;
    int oom;
} pctx;

/* Read a string value into an owned field. */
static void get_str(pctx *c, yaml_node_t *map, const char *key, const char *where,
                    const char **field) {
    yaml_node_t *n = mhgi_pol_y_get(c->y, map, key);
    if (!n) return;
    char *s = NULL;
    int r = mhgi_pol_y_strdup(c->y, n, where, &s);
    if (r == -2) c->oom = 1;
    if (r == 0) {
        s = own(c->p, s);
        if (!s) c->oom = 1;
        *field = s;
    }
}

static void get_bool(pctx *c, yaml_node_t *map, const char *key, const char *where, int *field,
                     int *present) {
    yaml_node_t *n = mhgi_pol_y_get(c->y, map, key);
    if (!n) return;
    int v;
    if (mhgi_pol_y_bool(c->y, n, where, &v) == 0) {
        *field = v;
        if (present) *present = 1;
    }
}

static void get_uint(pctx *c, yaml_node_t *map, const char *key, const char *where,
                     unsigned long max, unsigned *field, int *present) {
    yaml_node_t *n = mhgi_pol_y_get(c->y, map, key);
    if (!n) return;
    unsigned long v;
    if (mhgi_pol_y_uint(c->y, n, where, max, &v) == 0) {
        *field = (unsigned)v;
        if (present) *present = 1;
    }
}

static void get_double(pctx *c, yaml_node_t *map, const char *key, const char *where, double lo,
                       double hi, double *field) {
    yaml_node_t *n = mhgi_pol_y_get(c->y, map, key);
    if (!n) return;
    double v;
    if (mhgi_pol_y_double(c->y, n, where, lo, hi, &v) == 0) *field = v;
}

/* A threshold is a risk level name (low..imminent) or a score in [0,1]. */
static void get_threshold(pctx *c, yaml_node_t *map, const char *key, const char *where,
                          mhgi_pol_threshold *t) {
    yaml_node_t *n = mhgi_pol_y_get(c->y, map, key);
    if (!n) return;
    const char *s = mhgi_pol_y_str(n);
    if (s && *s) {
        char *end = NULL;
        double v = strtod(s, &end);
        if (end && *end == '\0' && (isdigit((unsigned char)s[0]) || s[0] == '.')) {
            if (v >= 0.0 && v <= 1.0) {
                t->set = 1;
                t->is_score = 1;
                t->score = v;
                return;
            }
        } else {
            mhg_level l;
            if (mhg_level_parse(s, &l) == MHG_OK && l > MHG_LEVEL_NONE) {
                t->set = 1;
                t->is_score = 0;
                t->level = l;
                return;
            }
        }
    }
    mhgi_pol_err_add(c->y->err, "%s:%u: %s: expected a risk level (low, moderate, high, imminent) "
                 "or a score from 0 to 1", c->y->path, mhgi_pol_y_line(n), where);
}

static const char *const th_keys[] = {"support", "escalate", "crisis", NULL};

static void parse_thresholds(pctx *c, yaml_node_t *n, const char *where, mhgi_pol_thresholds *th,
                             const char *const *known) {
    if (mhgi_pol_y_check_keys(c->y, n, known, where) && n->type != YAML_MAPPING_NODE) return;
    for (int i = 0; i < MHGI_TH_COUNT; i++) {
        char w[96];
        snprintf(w, sizeof w, "%s.%s", where, th_keys[i]);
        get_threshold(c, n, th_keys[i], w, &th->t[i]);
    }
}

static void parse_string_list(pctx *c, yaml_node_t *n, const char *where, char ***out,
                              size_t *count) {
    if (n->type != YAML_SEQUENCE_NODE) {
        mhgi_pol_err_add(c->y->err, "%s:%u: %s: expected a list", c->y->path, mhgi_pol_y_line(n), where);
        return;
    }
    size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **arr = calloc(len + 1, sizeof *arr);
    if (!arr) {
        c->oom = 1;
        return;
    }
    size_t k = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        char *s = NULL;
        int r = mhgi_pol_y_strdup(c->y, mhgi_pol_y_node(c->y, *it), where, &s);
        if (r == -2) c->oom = 1;
        if (r != 0) continue;
        s = own(c->p, s);
        if (!s) {
            c->oom = 1;
            continue;
        }
        arr[k++] = s;
    }
    free(*out);
    *out = arr;
    *count = k;
}

static int valid_url(const char *s) {
    return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0) &&
           strlen(s) > 8 && !strpbrk(s, " \t\r\n");
}

static int valid_env_name(const char *s) {
    if (!s || !*s || !(isupper((unsigned char)*s) || *s == '_')) return 0;
    for (const char *q = s; *q; q++)
        if (!(isupper((unsigned char)*q) || isdigit((unsigned char)*q) || *q == '_')) return 0;
    return 1;
}

/* "host:port" or "[v6]:port" with port 1..65535. */
static int valid_listen(const char *s) {
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1]) return 0;
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    return end && *end == '\0' && port > 0 && port <= 65535;
}

static int valid_country(const char *s) {
    return s && strlen(s) == 2 && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]);
}

static void parse_root(pctx *c, yaml_node_t *root) {
    static const char *const top[] = {
        "name",          "asl_level",         "setting",           "fail_mode",
        "thresholds",    "sla",               "review_queue",      "oncall",
        "upstream",      "resources",         "templates",         "age",
        "replies",       "reminders",         "content_sources",   "validation_record",
        "clinician_auth", "care_team",        "review_sample_rate", "action_allow_list",
        "dependency_monitoring", "research",  "use_drift",         "server",
        NULL};
    mhgi_pol_ydoc *y = c->y;
    mhg_policy *p = c->p;
    mhg_policy_info *in = &p->info;
    if (mhgi_pol_y_check_keys(y, root, top, "") && root->type != YAML_MAPPING_NODE) return;
    yaml_node_t *n;

    const char *name = NULL;
    get_str(c, root, "name", "name", &name);

    n = mhgi_pol_y_get(y, root, "asl_level");
    if (!n) {
        mhgi_pol_err_add(y->err, "%s: missing required key 'asl_level' (1..6)", y->path);
    } else {
        unsigned long v;
        if (mhgi_pol_y_uint(y, n, "asl_level", 6, &v) == 0) {
            if (v < 1)
                mhgi_pol_err_add(y->err, "%s:%u: asl_level: expected 1..6", y->path, mhgi_pol_y_line(n));
            else
                in->asl_level = (int)v;
        }
    }

    n = mhgi_pol_y_get(y, root, "setting");
    if (!n) {
        mhgi_pol_err_add(y->err, "%s: missing required key 'setting' (general, education, "
                     "peer_support, clinical, high_acuity, research)", y->path);
    } else {
        const char *s = mhgi_pol_y_str(n);
        int ok = 0;
        for (int i = 0; s && settings[i]; i++)
            if (strcmp(s, settings[i]) == 0) {
                in->setting = settings[i];
                ok = 1;
            }
        if (!ok)
            mhgi_pol_err_add(y->err, "%s:%u: setting: expected one of general, education, "
                         "peer_support, clinical, high_acuity, research", y->path, mhgi_pol_y_line(n));
    }

    n = mhgi_pol_y_get(y, root, "fail_mode");
    if (n) {
        const char *s = mhgi_pol_y_str(n);
        if (s && strcmp(s, "closed") == 0)
            in->fail_mode = MHG_FAIL_CLOSED;
        else if (s && strcmp(s, "open") == 0)
            in->fail_mode = MHG_FAIL_OPEN;
        else
            mhgi_pol_err_add(y->err, "%s:%u: fail_mode: expected closed or open", y->path,
                         mhgi_pol_y_line(n));
    }

    n = mhgi_pol_y_get(y, root, "thresholds");
    if (n) {
        static const char *const known[] = {"support", "escalate", "crisis", "categories", NULL};
        parse_thresholds(c, n, "thresholds", &p->adult, known);
        yaml_node_t *cats = mhgi_pol_y_get(y, n, "categories");
        if (cats) {
            if (cats->type != YAML_MAPPING_NODE) {
                mhgi_pol_err_add(y->err, "%s:%u: thresholds.categories: expected a mapping",
                             y->path, mhgi_pol_y_line(cats));
            } else {
                for (yaml_node_pair_t *pr = cats->data.mapping.pairs.start;
                     pr < cats->data.mapping.pairs.top; pr++) {
                    yaml_node_t *kn = mhgi_pol_y_node(y, pr->key);
                    const char *k = mhgi_pol_y_str(kn);
                    mhg_category cat;
                    if (!k || mhg_category_parse(k, &cat) != MHG_OK) {
                        mhgi_pol_err_add(y->err, "%s:%u: thresholds.categories: unknown category "
                                     "'%s'", y->path, mhgi_pol_y_line(kn), k ? k : "?");
                        continue;
                    }
                    char w[96];
                    snprintf(w, sizeof w, "thresholds.categories.%s", k);
                    parse_thresholds(c, mhgi_pol_y_node(y, pr->value), w, &p->category[cat],
                                     th_keys);
                }
            }
        }
    }

    n = mhgi_pol_y_get(y, root, "sla");
    if (n) {
        static const char *const known[] = {"imminent", "high", "moderate", NULL};
        mhgi_pol_y_check_keys(y, n, known, "sla");
        static const mhg_level lv[] = {MHG_LEVEL_IMMINENT, MHG_LEVEL_HIGH, MHG_LEVEL_MODERATE};
        for (int i = 0; i < 3; i++) {
            char w[32];
            snprintf(w, sizeof w, "sla.%s", known[i]);
            get_uint(c, n, known[i], w, 7u * 24u * 60u, &in->sla_minutes[lv[i]],
                     &p->has_sla[lv[i]]);
            if (p->has_sla[lv[i]] && in->sla_minutes[lv[i]] == 0) {
                mhgi_pol_err_add(y->err, "%s:%u: %s: must be at least 1 minute", y->path,
                             mhgi_pol_y_line(mhgi_pol_y_get(y, n, known[i])), w);
                p->has_sla[lv[i]] = 0;
            }
        }
    }

    n = mhgi_pol_y_get(y, root, "review_queue");
    if (n) {
        static const char *const known[] = {"enabled", NULL};
        mhgi_pol_y_check_keys(y, n, known, "review_queue");
        get_bool(c, n, "enabled", "review_queue.enabled", &in->review_queue, &p->has_review_queue);
    }

    n = mhgi_pol_y_get(y, root, "oncall");
    if (n) {
        static const char *const known[] = {"webhook_url", "page_on", NULL};
        mhgi_pol_y_check_keys(y, n, known, "oncall");
        get_str(c, n, "webhook_url", "oncall.webhook_url", &in->oncall_webhook_url);
        if (in->oncall_webhook_url && !valid_url(in->oncall_webhook_url))
            mhgi_pol_err_add(y->err, "%s:%u: oncall.webhook_url: expected an http(s) URL", y->path,
                         mhgi_pol_y_line(mhgi_pol_y_get(y, n, "webhook_url")));
        yaml_node_t *po = mhgi_pol_y_get(y, n, "page_on");
        if (po) {
            mhg_level l;
            const char *s = mhgi_pol_y_str(po);
            if (s && mhg_level_parse(s, &l) == MHG_OK && l >= MHG_LEVEL_MODERATE)
                in->oncall_page_on = l;
            else
                mhgi_pol_err_add(y->err, "%s:%u: oncall.page_on: expected moderate, high or imminent",
                             y->path, mhgi_pol_y_line(po));
        }
    }

    n = mhgi_pol_y_get(y, root, "upstream");
    if (n) {
        static const char *const known[] = {"base_url", "api_key_env", "model", "timeout_ms",
                                            NULL};
        mhgi_pol_y_check_keys(y, n, known, "upstream");
        get_str(c, n, "base_url", "upstream.base_url", &in->upstream_base_url);
        if (in->upstream_base_url && !valid_url(in->upstream_base_url))
            mhgi_pol_err_add(y->err, "%s:%u: upstream.base_url: expected an http(s) URL", y->path,
                         mhgi_pol_y_line(mhgi_pol_y_get(y, n, "base_url")));
        get_str(c, n, "api_key_env", "upstream.api_key_env", &in->upstream_api_key_env);
        /* The file names the variable; a key pasted here would end up in
         * backups and audit trails, so refuse anything that is not a name. */
        if (in->upstream_api_key_env && !valid_env_name(in->upstream_api_key_env))
            mhgi_pol_err_add(y->err, "%s:%u: upstream.api_key_env: expected the NAME of an "
                         "environment variable (A-Z, 0-9, _), never the key itself", y->path,
                         mhgi_pol_y_line(mhgi_pol_y_get(y, n, "api_key_env")));
        get_str(c, n, "model", "upstream.model", &in->upstream_model);
        get_uint(c, n, "timeout_ms", "upstream.timeout_ms", 600000, &in->upstream_timeout_ms,
                 NULL);
        if (in->upstream_timeout_ms < 100) {
            mhgi_pol_err_add(y->err, "%s: upstream.timeout_ms: must be at least 100", y->path);
            in->upstream_timeout_ms = 100;
        }
    }

    n = mhgi_pol_y_get(y, root, "resources");
    if (n) {
        static const char *const known[] = {"default_country", "dir", NULL};
        mhgi_pol_y_check_keys(y, n, known, "resources");
        get_str(c, n, "default_country", "resources.default_country", &in->default_country);
        if (in->default_country && !valid_country(in->default_country))
            mhgi_pol_err_add(y->err, "%s:%u: resources.default_country: expected an ISO 3166-1 "
                         "alpha-2 code such as US", y->path,
                         mhgi_pol_y_line(mhgi_pol_y_get(y, n, "default_country")));
        const char *d = NULL;
        get_str(c, n, "dir", "resources.dir", &d);
        p->resources_dir_raw = (char *)d;
    }

    n = mhgi_pol_y_get(y, root, "templates");
    if (n) {
        static const char *const known[] = {"dir", NULL};
        mhgi_pol_y_check_keys(y, n, known, "templates");
        const char *d = NULL;
        get_str(c, n, "dir", "templates.dir", &d);
        p->templates_dir_raw = (char *)d;
    }

    n = mhgi_pol_y_get(y, root, "age");
    if (n) {
        static const char *const known[] = {"require_band", "unknown_as_minor",
                                            "minor_thresholds", NULL};
        mhgi_pol_y_check_keys(y, n, known, "age");
        get_bool(c, n, "require_band", "age.require_band", &in->require_age_band, NULL);
        get_bool(c, n, "unknown_as_minor", "age.unknown_as_minor", &in->unknown_as_minor, NULL);
        yaml_node_t *mt = mhgi_pol_y_get(y, n, "minor_thresholds");
        if (mt) {
            parse_thresholds(c, mt, "age.minor_thresholds", &p->minor, th_keys);
            p->has_thresholds_for_minor = 1;
        }
    }

    n = mhgi_pol_y_get(y, root, "replies");
    if (n) {
        static const char *const known[] = {"disclaimer", "block_medical_advice", NULL};
        mhgi_pol_y_check_keys(y, n, known, "replies");
        get_bool(c, n, "disclaimer", "replies.disclaimer", &in->disclaimer_required,
                 &p->has_disclaimer_key);
        get_bool(c, n, "block_medical_advice", "replies.block_medical_advice",
                 &in->block_medical_advice, &p->has_medical_key);
    }

    n = mhgi_pol_y_get(y, root, "reminders");
    if (n) {
        static const char *const known[] = {"every_turns", NULL};
        mhgi_pol_y_check_keys(y, n, known, "reminders");
        get_uint(c, n, "every_turns", "reminders.every_turns", 1000, &in->reminder_every, NULL);
    }

    n = mhgi_pol_y_get(y, root, "content_sources");
    if (n) {
        if (n->type != YAML_SEQUENCE_NODE) {
            mhgi_pol_err_add(y->err, "%s:%u: content_sources: expected a list of {name, url, "
                         "expert_reviewed}", y->path, mhgi_pol_y_line(n));
        } else {
            static const char *const known[] = {"name", "url", "expert_reviewed", "reviewed_by",
                                                NULL};
            size_t len = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
            char **arr = calloc(len + 1, sizeof *arr);
            if (!arr) {
                c->oom = 1;
                return;
            }
            p->content_sources = arr;
            p->content_sources_all_reviewed = len > 0;
            size_t k = 0;
            for (yaml_node_item_t *it = n->data.sequence.items.start;
                 it < n->data.sequence.items.top; it++) {
                yaml_node_t *e = mhgi_pol_y_node(y, *it);
                if (mhgi_pol_y_check_keys(y, e, known, "content_sources[]") &&
                    e->type != YAML_MAPPING_NODE) {
                    p->content_sources_all_reviewed = 0;
                    continue;
                }
                const char *nm = NULL, *url = NULL, *rb = NULL;
                get_str(c, e, "name", "content_sources[].name", &nm);
                get_str(c, e, "url", "content_sources[].url", &url);
                get_str(c, e, "reviewed_by", "content_sources[].reviewed_by", &rb);
                int rev = 0;
                get_bool(c, e, "expert_reviewed", "content_sources[].expert_reviewed", &rev, NULL);
                if (!nm) {
                    mhgi_pol_err_add(y->err, "%s:%u: content_sources[]: missing 'name'", y->path,
                                 mhgi_pol_y_line(e));
                    p->content_sources_all_reviewed = 0;
                    continue;
                }
                if (!rev) p->content_sources_all_reviewed = 0;
                arr[k++] = (char *)nm;
            }
            in->n_content_sources = k;
            in->content_sources = (const char *const *)arr;
        }
    }

    get_str(c, root, "validation_record", "validation_record", (const char **)&p->validation_record_raw);
    get_bool(c, root, "clinician_auth", "clinician_auth", &in->clinician_auth, NULL);

    n = mhgi_pol_y_get(y, root, "care_team");
    if (n) {
        static const char *const known[] = {"responsible_clinician_required", NULL};
        mhgi_pol_y_check_keys(y, n, known, "care_team");
        get_bool(c, n, "responsible_clinician_required",
                 "care_team.responsible_clinician_required", &in->responsible_clinician_required,
                 NULL);
    }

    get_double(c, root, "review_sample_rate", "review_sample_rate", 0.0, 1.0,
               &in->review_sample_rate);

    n = mhgi_pol_y_get(y, root, "action_allow_list");
    if (n) {
        parse_string_list(c, n, "action_allow_list", &p->allowed_actions,
                          &in->n_allowed_actions);
        in->allowed_actions = (const char *const *)p->allowed_actions;
    }

    n = mhgi_pol_y_get(y, root, "dependency_monitoring");
    if (n) {
        static const char *const known[] = {"enabled", "max_turns_per_day",
                                            "max_session_minutes", NULL};
        mhgi_pol_y_check_keys(y, n, known, "dependency_monitoring");
        get_bool(c, n, "enabled", "dependency_monitoring.enabled", &in->dependency_monitoring,
                 NULL);
        get_uint(c, n, "max_turns_per_day", "dependency_monitoring.max_turns_per_day", 100000,
                 &in->dependency_max_turns_per_day, NULL);
        get_uint(c, n, "max_session_minutes", "dependency_monitoring.max_session_minutes",
                 24 * 60, &in->dependency_max_session_minutes, NULL);
    }

    n = mhgi_pol_y_get(y, root, "research");
    if (n) {
        static const char *const known[] = {"ethics_approval_id", "enrolled_only",
                                            "public_endpoints", NULL};
        mhgi_pol_y_check_keys(y, n, known, "research");
        p->has_research = 1;
        get_str(c, n, "ethics_approval_id", "research.ethics_approval_id",
                &in->ethics_approval_id);
        get_bool(c, n, "enrolled_only", "research.enrolled_only", &in->enrolled_only, NULL);
        get_bool(c, n, "public_endpoints", "research.public_endpoints", &in->public_endpoints,
                 &p->has_public_endpoints_key);
    }

    n = mhgi_pol_y_get(y, root, "use_drift");
    if (n) {
        static const char *const known[] = {"window", "alarm_share", NULL};
        mhgi_pol_y_check_keys(y, n, known, "use_drift");
        int has_w = 0;
        get_uint(c, n, "window", "use_drift.window", 10000000, &in->drift_window, &has_w);
        get_double(c, n, "alarm_share", "use_drift.alarm_share", 0.0, 1.0,
                   &in->drift_alarm_share);
        p->has_use_drift = has_w && in->drift_window > 0 && in->drift_alarm_share > 0.0;
    }

    n = mhgi_pol_y_get(y, root, "server");
    if (n) {
        static const char *const known[] = {"listen", "body_limit", "rate_limit", NULL};
        mhgi_pol_y_check_keys(y, n, known, "server");
        get_str(c, n, "listen", "server.listen", &in->listen);
        if (in->listen && !valid_listen(in->listen))
            mhgi_pol_err_add(y->err, "%s:%u: server.listen: expected HOST:PORT", y->path,
                         mhgi_pol_y_line(mhgi_pol_y_get(y, n, "listen")));
        yaml_node_t *bl = mhgi_pol_y_get(y, n, "body_limit");
        if (bl) {
            unsigned long v;
            /* config may lower limits, never raise them (mhg_limits.h) */
            if (mhgi_pol_y_uint(y, bl, "server.body_limit", MHG_MAX_BODY_BYTES, &v) == 0) {
                if (v < 1024)
                    mhgi_pol_err_add(y->err, "%s:%u: server.body_limit: must be at least 1024",
                                 y->path, mhgi_pol_y_line(bl));
                else
                    in->body_limit = v;
            }
        }
        yaml_node_t *rl = mhgi_pol_y_get(y, n, "rate_limit");
        if (rl) {
            static const char *const rk[] = {"rps", "burst", NULL};
            mhgi_pol_y_check_keys(y, rl, rk, "server.rate_limit");
            get_uint(c, rl, "rps", "server.rate_limit.rps", 1000000, &in->rate_limit_rps, NULL);
            get_uint(c, rl, "burst", "server.rate_limit.burst", 1000000, &in->rate_limit_burst,
                     NULL);
        }
    }
}

/* Defaults that depend on the level are applied after parsing. */
static void apply_defaults(mhg_policy *p) {
    mhg_policy_info *in = &p->info;
    int L = in->asl_level;
    static const mhg_level def[MHGI_TH_COUNT] = {MHG_LEVEL_MODERATE, MHG_LEVEL_HIGH,
                                                 MHG_LEVEL_IMMINENT};
    for (int i = 0; i < MHGI_TH_COUNT; i++) {
        if (!p->adult.t[i].set) {
            p->adult.t[i].set = 1;
            p->adult.t[i].is_score = 0;
            p->adult.t[i].level = def[i];
        }
    }
    /* Minors: one level more sensitive than adults unless configured
     * (never below low; a score threshold is scaled by 3/4). */
    for (int i = 0; i < MHGI_TH_COUNT; i++) {
        if (p->minor.t[i].set) continue;
        mhgi_pol_threshold t = p->adult.t[i];
        if (t.is_score)
            t.score *= 0.75;
        else if (t.level > MHG_LEVEL_LOW && i != MHGI_TH_CRISIS)
            t.level = (mhg_level)(t.level - 1);
        p->minor.t[i] = t;
    }
    if (!p->has_disclaimer_key) in->disclaimer_required = L >= 2;
    if (!p->has_medical_key) in->block_medical_advice = (L == 2 || L == 3);
    in->patient_facing = L != 4;
    in->explain_outputs = L == 4;
}

/* ---------------------------------------------------------------- rules */

static int th_le(const mhgi_pol_threshold *t, mhg_level max_level, double max_score) {
    if (!t->set) return 1;
    return t->is_score ? t->score <= max_score : t->level <= max_level;
}

/* Compare two thresholds: nonzero when a is at least as strict as b (fires
 * for everything b fires for), as far as the forms allow. */
static int th_stricter_or_equal(const mhgi_pol_threshold *a, const mhgi_pol_threshold *b) {
    if (!a->set || !b->set) return 1;
    if (a->is_score == b->is_score) return a->is_score ? a->score <= b->score : a->level <= b->level;
    return 1; /* mixed forms cannot be compared; decide() takes the stricter */
}

static int is_loopback_or_private(const char *listen) {
    if (!listen) return 1; /* default is 127.0.0.1 */
    const char *h = listen;
    if (strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost:", 10) == 0 ||
        strncmp(h, "[::1]:", 6) == 0 || strncmp(h, "10.", 3) == 0 ||
        strncmp(h, "192.168.", 8) == 0 || strncmp(h, "unix:", 5) == 0)
        return 1;
    if (strncmp(h, "172.", 4) == 0) {
        char *end = NULL;
        long b = strtol(h + 4, &end, 10);
        return end && *end == '.' && b >= 16 && b <= 31;
    }
    return 0;
}

static int setting_is(const mhg_policy *p, const char *s) {
    return p->info.setting && strcmp(p->info.setting, s) == 0;
}

/* Does the validation record hold measured metrics? Recursively looks for a
 * numeric "recall" and a numeric "precision" or "fpr" (the eval harness
 * report has them per category and overall). */
static int is_metric(json_t *v) {
    /* a plain number, or the eval report's {"value", "lo", "hi"} interval */
    return json_is_number(v) || (json_is_object(v) && json_is_number(json_object_get(v, "value")));
}

static void scan_metrics(json_t *j, int depth, int *recall, int *other) {
    if (depth > 8 || !j) return;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if (is_metric(v)) {
                if (!strcmp(k, "recall") || !strcmp(k, "sensitivity")) *recall = 1;
                if (!strcmp(k, "precision") || !strcmp(k, "fpr") ||
                    !strcmp(k, "false_positive_rate"))
                    *other = 1;
            }
            if (!json_is_number(v)) scan_metrics(v, depth + 1, recall, other);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) scan_metrics(v, depth + 1, recall, other);
    }
}

static int check_validation_record(const char *path, char *why, size_t whylen) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j) {
        snprintf(why, whylen, "cannot read %s as JSON (%s)", path, je.text);
        return 0;
    }
    int ok = json_is_object(j);
    int recall = 0, other = 0;
    if (ok) scan_metrics(j, 0, &recall, &other);
    json_decref(j);
    if (!ok || !recall || !other) {
        snprintf(why, whylen, "%s holds no metrics (needs numeric recall and precision or fpr)",
                 path);
        return 0;
    }
    return 1;
}

#define RULE(id, ...)                                                                         \
    do {                                                                                      \
        char m_[1024];                                                                         \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                 \
        mhgi_pol_err_add(err, "rule %s: %s (%s)", id, m_, path);                                  \
        broken++;                                                                             \
    } while (0)

unsigned mhgi_policy_validate(const mhg_policy *p, mhgi_pol_errbuf *err) {
    const mhg_policy_info *in = &p->info;
    const char *path = in->path ? in->path : "policy";
    int L = in->asl_level;
    unsigned broken = 0;

    /* --- floor: every level ---------------------------------------------- */
    const mhgi_pol_threshold *a = p->adult.t;
    if (!th_le(&a[MHGI_TH_SUPPORT], MHG_LEVEL_MODERATE, 1.0) ||
        !th_le(&a[MHGI_TH_ESCALATE], MHG_LEVEL_HIGH, 1.0))
        RULE("floor.thresholds", "thresholds may only be stricter than the floor: support at "
             "most moderate, escalate at most high, crisis at most imminent");
    if (!th_stricter_or_equal(&a[MHGI_TH_SUPPORT], &a[MHGI_TH_ESCALATE]) ||
        !th_stricter_or_equal(&a[MHGI_TH_ESCALATE], &a[MHGI_TH_CRISIS]))
        RULE("floor.thresholds_order", "thresholds must be ordered support <= escalate <= crisis");
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        const mhgi_pol_threshold *t = p->category[c].t;
        if (!th_le(&t[MHGI_TH_SUPPORT], MHG_LEVEL_MODERATE, 1.0) ||
            !th_le(&t[MHGI_TH_ESCALATE], MHG_LEVEL_HIGH, 1.0))
            RULE("floor.thresholds", "thresholds.categories.%s may only be stricter than the "
                 "floor", mhg_category_name((mhg_category)c));
    }
    for (int i = 0; i < MHGI_TH_COUNT; i++) {
        if (!th_stricter_or_equal(&p->minor.t[i], &a[i])) {
            RULE("age.minor_thresholds", "age.minor_thresholds.%s must be at least as strict as "
                 "thresholds.%s (minors get lower thresholds)", th_keys[i], th_keys[i]);
            break;
        }
    }
    if (in->fail_mode == MHG_FAIL_OPEN && L >= 2)
        RULE("floor.fail_mode", "fail_mode open is refused at level %d (only level 1 may forward "
             "an allowed message when the store fails; crisis paths always fail closed)", L);
    if (in->default_country && p->res && !mhg_resources_find(p->res, in->default_country))
        RULE("floor.resources", "resources.default_country %s has no file in %s",
             in->default_country, in->resources_dir);

    /* --- level 1 ----------------------------------------------------------- */
    if (L == 1) {
        if (!p->has_use_drift)
            RULE("L1.use_drift", "level 1 requires use_drift.window and use_drift.alarm_share "
                 "(monitoring that the deployment is drifting into health use)");
        if (!setting_is(p, "general") && !setting_is(p, "education"))
            RULE("L1.setting", "setting %s is refused at level 1 (no clinical relevance: "
                 "general or education only; reclassify the deployment)", in->setting);
    }

    /* --- level 2 and up ------------------------------------------------------ */
    if (L >= 2) {
        if (!in->disclaimer_required)
            RULE("L2.disclaimer", "level %d requires a medical disclaimer on every reply "
                 "(replies.disclaimer cannot be false)", L);
        if (in->n_content_sources == 0 || !p->content_sources_all_reviewed)
            RULE("L2.content_sources", "level %d requires content_sources, each with "
                 "expert_reviewed: true", L);
    }
    if ((L == 2 || L == 3) && !in->block_medical_advice)
        RULE("L2.medical_advice", "level %d forbids personalised medical advice "
             "(replies.block_medical_advice cannot be false)", L);
    if (L == 2 && setting_is(p, "high_acuity"))
        RULE("L2.setting", "setting high_acuity is refused at level 2");

    /* --- level 3 ------------------------------------------------------------- */
    if (L == 3 && setting_is(p, "high_acuity"))
        RULE("L3.setting", "setting high_acuity is refused at level 3");
    if (L >= 3) {
        int sla_ok = p->has_sla[MHG_LEVEL_IMMINENT] && p->has_sla[MHG_LEVEL_HIGH] &&
                     p->has_sla[MHG_LEVEL_MODERATE];
        if (!in->review_queue || !in->oncall_webhook_url || !sla_ok) {
            char miss[160] = "";
            size_t o = 0;
            if (!in->review_queue)
                o += (size_t)snprintf(miss + o, sizeof miss - o, " review_queue.enabled");
            if (!in->oncall_webhook_url && o < sizeof miss)
                o += (size_t)snprintf(miss + o, sizeof miss - o, " oncall.webhook_url");
            if (!sla_ok && o < sizeof miss)
                snprintf(miss + o, sizeof miss - o, " sla.imminent/high/moderate");
            RULE("L3.oversight", "level %d requires review_queue.enabled, oncall.webhook_url and "
                 "sla; missing:%s", L, miss);
        }
    }
    if (L == 3 || L == 5 || L == 6) {
        if (!th_le(&a[MHGI_TH_SUPPORT], MHG_LEVEL_LOW, 0.3) ||
            !th_le(&a[MHGI_TH_ESCALATE], MHG_LEVEL_MODERATE, 0.5))
            RULE("L3.thresholds", "level %d requires high sensitivity: thresholds.support at most "
                 "low (or score 0.3) and thresholds.escalate at most moderate (or score 0.5)", L);
        if (in->reminder_every < 1 || in->reminder_every > 20)
            RULE("L3.reminders", "level %d requires reminders.every_turns from 1 to 20 (\"I am an "
                 "AI, not a therapist\")", L);
    }

    /* --- level 4 ------------------------------------------------------------- */
    if (L == 4) {
        if (!setting_is(p, "clinical") && !setting_is(p, "high_acuity") &&
            !setting_is(p, "research"))
            RULE("L4.setting", "setting %s is refused at level 4 (clinical adjunct: clinical, "
                 "high_acuity or research)", in->setting);
        if (!in->clinician_auth)
            RULE("L4.clinician_auth", "level 4 requires clinician_auth: true (users authenticate "
                 "as licensed professionals)");
    }
    if (L == 4 || L == 5) {
        char why[400];
        if (!in->validation_record)
            RULE("L4.validation_record", "level %d requires validation_record (an evaluation "
                 "report JSON with metrics)", L);
        else if (!check_validation_record(in->validation_record, why, sizeof why))
            RULE("L4.validation_record", "level %d requires a validation record with metrics: %s",
                 L, why);
    }

    /* --- level 5 and 6 ------------------------------------------------------- */
    if (L == 5 && !setting_is(p, "clinical"))
        RULE("L5.setting", "setting %s is refused at level 5 (co-managed care: clinical only)",
             in->setting);
    if (L >= 5) {
        if (!in->responsible_clinician_required)
            RULE("L5.care_team", "level %d requires care_team.responsible_clinician_required: "
                 "true", L);
        if (!(in->review_sample_rate > 0.0))
            RULE("L5.review_sample", "level %d requires review_sample_rate above 0 (mandatory "
                 "human review of a sample of unflagged conversations)", L);
        if (in->n_allowed_actions == 0)
            RULE("L5.allow_list", "level %d requires a non-empty action_allow_list", L);
        if (!in->dependency_monitoring ||
            (!in->dependency_max_turns_per_day && !in->dependency_max_session_minutes))
            RULE("L5.dependency", "level %d requires dependency_monitoring.enabled with "
                 "max_turns_per_day or max_session_minutes", L);
    }
    if (L == 6) {
        if (!setting_is(p, "research"))
            RULE("L6.setting", "setting %s is refused at level 6 (research mode only)",
                 in->setting);
        if (!p->has_research || !in->ethics_approval_id || !in->enrolled_only ||
            !p->has_public_endpoints_key || in->public_endpoints)
            RULE("L6.research", "level 6 requires research.ethics_approval_id, "
                 "research.enrolled_only: true and research.public_endpoints: false");
        if (!is_loopback_or_private(in->listen))
            RULE("L6.listen", "server.listen %s is a public endpoint; level 6 serves only "
                 "loopback or private addresses", in->listen);
    }
    return broken;
}

/* ----------------------------------------------------------------- load */

static mhg_status load_data(mhg_policy *p, mhgi_pol_errbuf *e) {
    mhg_policy_info *in = &p->info;
    const char *data = mhgi_pol_default_data_dir();
    char *rd = p->resources_dir_raw ? mhgi_pol_path_join(p->dir, p->resources_dir_raw)
                                    : mhgi_pol_path_join(data, "resources");
    char *td = p->templates_dir_raw ? mhgi_pol_path_join(p->dir, p->templates_dir_raw)
                                    : mhgi_pol_path_join(data, "policy");
    in->resources_dir = own(p, rd);
    in->templates_dir = own(p, td);
    if (!in->resources_dir || !in->templates_dir) return MHG_ERR_NOMEM;
    if (p->validation_record_raw) {
        in->validation_record = own(p, mhgi_pol_path_join(p->dir, p->validation_record_raw));
        if (!in->validation_record) return MHG_ERR_NOMEM;
    }
    char rerr[1024];
    mhg_status rc = mhg_resources_load(in->resources_dir, &p->res, rerr, sizeof rerr);
    if (rc != MHG_OK) {
        mhgi_pol_err_add(e, "%s: resources: %s", in->path, rerr);
        return rc;
    }
    rc = mhgi_pol_templates_load(in->templates_dir, &p->tpl, e);
    return rc;
}

mhg_status mhg_policy_load(const char *path, mhg_policy **out, char *err, size_t errlen) {
    mhgi_pol_errbuf e;
    mhgi_pol_err_init(&e, err, errlen);
    if (out) *out = NULL;
    if (!path || !out) {
        mhgi_pol_err_add(&e, "mhg_policy_load: path and out are required");
        return MHG_ERR_INVALID;
    }
    mhg_policy *p = calloc(1, sizeof *p);
    if (!p) return MHG_ERR_NOMEM;
    mhg_policy_info *in = &p->info;
    in->upstream_timeout_ms = 30000;
    in->listen = "127.0.0.1:8080";
    in->body_limit = 1024u * 1024u;
    in->rate_limit_rps = 20;
    in->rate_limit_burst = 40;
    in->oncall_page_on = MHG_LEVEL_IMMINENT;
    in->path = own(p, mhgi_pol_strdup(path));
    p->dir = own(p, mhgi_pol_dirname(path));
    if (!in->path || !p->dir) {
        mhg_policy_free(p);
        return MHG_ERR_NOMEM;
    }

    mhgi_pol_ydoc y = {.err = &e};
    unsigned char sha[32];
    mhg_status rc = mhgi_pol_y_load(&y, path, POLICY_MAX_FILE_BYTES, sha);
    if (rc != MHG_OK) {
        mhgi_pol_y_free(&y);
        mhg_policy_free(p);
        return rc;
    }
    pctx c = {.y = &y, .p = p, .oom = 0};
    unsigned before = e.count;
    parse_root(&c, mhgi_pol_y_root(&y));
    mhgi_pol_y_free(&y);
    if (c.oom) {
        mhg_policy_free(p);
        return MHG_ERR_NOMEM;
    }
    if (e.count != before) {
        mhg_policy_free(p);
        return MHG_ERR_PARSE;
    }

    char ver[3 + 64 + 1] = "b2:";
    for (int i = 0; i < 32; i++) snprintf(ver + 3 + 2 * i, 3, "%02x", sha[i]);
    in->version = own(p, mhgi_pol_strdup(ver));
    if (!in->version) {
        mhg_policy_free(p);
        return MHG_ERR_NOMEM;
    }

    apply_defaults(p);
    rc = load_data(p, &e);
    if (rc != MHG_OK) {
        mhg_policy_free(p);
        return rc;
    }
    if (mhgi_policy_validate(p, &e) > 0) {
        mhg_policy_free(p);
        return MHG_ERR_POLICY;
    }
    *out = p;
    return MHG_OK;
}

const mhg_policy_info *mhg_policy_get(const mhg_policy *p) { return p ? &p->info : NULL; }

const mhg_resources *mhg_policy_resources(const mhg_policy *p) { return p ? p->res : NULL; }

int mhg_policy_action_allowed(const mhg_policy *p, const char *action) {
    if (!p || !action) return 0;
    if (p->info.n_allowed_actions == 0) return p->info.asl_level < 5;
    for (size_t i = 0; i < p->info.n_allowed_actions; i++)
        if (strcmp(p->info.allowed_actions[i], action) == 0) return 1;
    return 0;
}

int mhg_policy_sampled(const mhg_policy *p, uint64_t key) {
    if (!p || !(p->info.review_sample_rate > 0.0)) return 0;
    /* splitmix64: spreads sequential keys evenly over [0, 1) */
    uint64_t z = key + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = (double)(z >> 11) * (1.0 / 9007199254740992.0);
    return u < p->info.review_sample_rate;
}

mhg_status mhg_policy_override(mhg_policy *p, const char *key, const char *value, char *err,
                               size_t errlen) {
    mhgi_pol_errbuf e;
    mhgi_pol_err_init(&e, err, errlen);
    if (!p || !key || !value) return MHG_ERR_INVALID;
    mhg_policy_info *in = &p->info;
    const char **sfield = NULL;
    if (!strcmp(key, "server.listen")) {
        if (!valid_listen(value)) {
            mhgi_pol_err_add(&e, "server.listen: expected HOST:PORT, got '%s'", value);
            return MHG_ERR_INVALID;
        }
        sfield = &in->listen;
    } else if (!strcmp(key, "upstream.base_url")) {
        if (!valid_url(value)) {
            mhgi_pol_err_add(&e, "upstream.base_url: expected an http(s) URL, got '%s'", value);
            return MHG_ERR_INVALID;
        }
        sfield = &in->upstream_base_url;
    } else if (!strcmp(key, "upstream.model")) {
        if (!*value) return MHG_ERR_INVALID;
        sfield = &in->upstream_model;
    } else if (!strcmp(key, "resources.default_country")) {
        if (!valid_country(value)) {
            mhgi_pol_err_add(&e, "resources.default_country: expected a 2-letter code, got '%s'",
                         value);
            return MHG_ERR_INVALID;
        }
        sfield = &in->default_country;
    } else if (!strcmp(key, "upstream.timeout_ms")) {
        char *end = NULL;
        unsigned long v = strtoul(value, &end, 10);
        if (!end || *end || v < 100 || v > 600000) {
            mhgi_pol_err_add(&e, "upstream.timeout_ms: expected 100..600000, got '%s'", value);
            return MHG_ERR_INVALID;
        }
        in->upstream_timeout_ms = (unsigned)v;
        return MHG_OK;
    } else {
        mhgi_pol_err_add(&e, "cannot override '%s' (server.listen, upstream.base_url, upstream.model, "
                     "upstream.timeout_ms, resources.default_country)", key);
        return MHG_ERR_INVALID;
    }
    char *s = own(p, mhgi_pol_strdup(value));
    if (!s) return MHG_ERR_NOMEM;
    const char *old = *sfield;
    *sfield = s;
    if (mhgi_policy_validate(p, &e) > 0) {
        *sfield = old;
        return MHG_ERR_POLICY;
    }
    return MHG_OK;
}
