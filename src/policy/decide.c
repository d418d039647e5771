/*
 * decide.c - from a verdict to what the gateway does: action, safety system
 * message, fixed crisis reply, review queue, SLA, paging, reminders.
 *
 * The action is the strictest of: the floor (imminent -> crisis, high ->
 * escalate, moderate -> support; ASL-MH "every level" protections), the
 * configured overall thresholds, the per-category thresholds, and for minors
 * the minor thresholds plus "abuse disclosed by a minor is always escalated"
 * (issue 4, age-sensitive protections). Thresholds can only add strictness.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/policy_int.h"

/* Last-resort text for the fail-closed path: no allocation, no data files.
 * Kept short and generic on purpose; data/policy/en.yaml holds the reviewed
 * crisis reply that is used whenever it can be rendered. */
static const char static_crisis[] =
    "I'm really sorry you're going through this. Your safety matters. If you are in danger "
    "right now, please call your local emergency number (for example 911 in the US and "
    "Canada, 999 in the UK, 112 in the EU, 000 in Australia). You can find a free, "
    "confidential crisis line for your country at https://findahelpline.com. You don't have "
    "to go through this alone.";

const char *mhg_policy_static_crisis_text(void) { return static_crisis; }

void mhg_decision_init(mhg_decision *d) {
    if (!d) return;
    memset(d, 0, sizeof *d);
    d->action = MHG_ACTION_ALLOW;
    d->severity = MHG_LEVEL_NONE;
    d->reason = "none";
    d->call_model = 1;
    memcpy(d->lang, "en", 3);
}

void mhg_decision_free(mhg_decision *d) {
    if (!d) return;
    free(d->system_message);
    free(d->reply_text);
    d->system_message = d->reply_text = NULL;
    d->system_message_len = d->reply_text_len = 0;
}

static void fail_closed(mhg_decision *d) {
    mhg_decision_free(d);
    mhg_decision_init(d);
    d->action = MHG_ACTION_CRISIS;
    d->severity = MHG_LEVEL_IMMINENT;
    d->reason = "error";
    d->call_model = 0;
}

static int meets(const mhgi_pol_threshold *t, mhg_level level, double score) {
    if (!t->set) return 0;
    if (t->is_score) return score > 0.0 && score >= t->score;
    return level >= t->level;
}

/* Action a set of thresholds gives one (level, score). */
static mhg_action th_action(const mhgi_pol_thresholds *th, mhg_level level, double score) {
    if (meets(&th->t[MHGI_TH_CRISIS], level, score)) return MHG_ACTION_CRISIS;
    if (meets(&th->t[MHGI_TH_ESCALATE], level, score)) return MHG_ACTION_ESCALATE;
    if (meets(&th->t[MHGI_TH_SUPPORT], level, score)) return MHG_ACTION_SUPPORT;
    return MHG_ACTION_ALLOW;
}

typedef struct pick {
    mhg_action action;
    const char *reason;
} pick;

static void raise_to(pick *pk, mhg_action a, const char *reason) {
    if (a > pk->action) {
        pk->action = a;
        pk->reason = reason;
    }
}

static mhg_status append_text(char **dst, size_t *dlen, const char *add, size_t alen) {
    if (!*dst) {
        *dst = malloc(alen + 1);
        if (!*dst) return MHG_ERR_NOMEM;
        memcpy(*dst, add, alen);
        (*dst)[alen] = '\0';
        *dlen = alen;
        return MHG_OK;
    }
    char *n = malloc(*dlen + 2 + alen + 1);
    if (!n) return MHG_ERR_NOMEM;
    memcpy(n, *dst, *dlen);
    memcpy(n + *dlen, "\n\n", 2);
    memcpy(n + *dlen + 2, add, alen);
    n[*dlen + 2 + alen] = '\0';
    free(*dst);
    *dst = n;
    *dlen = *dlen + 2 + alen;
    return MHG_OK;
}

static mhg_status add_template(const mhg_policy *p, mhg_template t, const mhg_decision *d,
                               const char *country, mhg_age_band age, char **dst, size_t *dlen) {
    char *s = NULL;
    size_t n = 0;
    mhg_status rc = mhg_policy_render(p, t, d->lang, country, age, &s, &n);
    if (rc != MHG_OK) return rc;
    rc = append_text(dst, dlen, s, n);
    free(s);
    return rc;
}

mhg_status mhg_policy_decide(const mhg_policy *p, const mhg_verdict *v,
                             const mhg_request_info *req, mhg_decision *out) {
    if (!out) return MHG_ERR_INVALID;
    mhg_decision_free(out);
    mhg_decision_init(out);
    if (!p || !v) {
        fail_closed(out);
        return MHG_ERR_INVALID;
    }
    static const mhg_request_info none = {0};
    if (!req) req = &none;
    const mhg_policy_info *in = &p->info;

    /* Unknown age counts as minor when the policy says so, and when the band
     * is required but missing (the server should have refused; be strict). */
    int minor = req->age_band == MHG_AGE_MINOR ||
                (req->age_band == MHG_AGE_UNKNOWN && (in->unknown_as_minor || in->require_age_band));
    out->minor_rules = minor;

    pick pk = {MHG_ACTION_ALLOW, "none"};
    /* floor first, so it names the reason when thresholds agree with it */
    if (v->risk >= MHG_LEVEL_IMMINENT) raise_to(&pk, MHG_ACTION_CRISIS, "floor_imminent");
    if (v->risk >= MHG_LEVEL_HIGH) raise_to(&pk, MHG_ACTION_ESCALATE, "floor_high");
    if (v->risk >= MHG_LEVEL_MODERATE) raise_to(&pk, MHG_ACTION_SUPPORT, "floor_moderate");

    /* before the thresholds, so the audit names this rule when they agree */
    if (minor && v->categories[MHG_CAT_ABUSE].level >= MHG_LEVEL_LOW)
        raise_to(&pk, MHG_ACTION_ESCALATE, "minor_abuse_disclosure");
    raise_to(&pk, th_action(&p->adult, v->risk, v->score), "threshold");
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        const mhg_category_result *cr = &v->categories[c];
        raise_to(&pk, th_action(&p->adult, cr->level, cr->score), "threshold");
        raise_to(&pk, th_action(&p->category[c], cr->level, cr->score), "category_threshold");
        if (minor) raise_to(&pk, th_action(&p->minor, cr->level, cr->score), "minor_threshold");
    }
    if (minor) raise_to(&pk, th_action(&p->minor, v->risk, v->score), "minor_threshold");
    out->action = pk.action;
    out->reason = pk.reason;

    /* language and country of every text of this decision */
    const char *lang = req->lang && *req->lang ? req->lang
                       : (v->lang[0] && strcmp(v->lang, "und") != 0) ? v->lang
                                                                     : "en";
    const char *used = "en";
    (void)mhgi_pol_templates_get(p->tpl, MHG_TPL_CRISIS_REPLY, lang, &used);
    snprintf(out->lang, sizeof out->lang, "%s", used);
    const mhg_country_resources *cr =
        mhgi_pol_resources_pick_default(p->res, req->country, in->default_country, lang);
    snprintf(out->country, sizeof out->country, "%s", cr ? cr->country : "INT");
    /* render with the picked country so every text agrees with out->country */
    const char *country = cr ? cr->country : NULL;

    /* review and paging */
    static const mhg_level sev[MHG_ACTION_COUNT] = {MHG_LEVEL_NONE, MHG_LEVEL_MODERATE,
                                                    MHG_LEVEL_HIGH, MHG_LEVEL_IMMINENT};
    out->severity = sev[out->action];
    if (in->review_queue && out->action >= MHG_ACTION_SUPPORT) out->queue_review = 1;
    if (in->asl_level >= 5 && out->action == MHG_ACTION_ALLOW && in->review_queue) {
        /* level 5: mandatory review of everything flagged, and of a sample */
        if (v->risk >= MHG_LEVEL_LOW) {
            out->queue_review = 1;
            out->severity = MHG_LEVEL_LOW;
        } else if (mhg_policy_sampled(p, req->conversation_key)) {
            out->queue_review = 1;
            out->sampled = 1;
            out->severity = MHG_LEVEL_LOW;
        }
    }
    if (out->queue_review) {
        mhg_level s = out->severity < MHG_LEVEL_MODERATE ? MHG_LEVEL_MODERATE : out->severity;
        out->sla_minutes = in->sla_minutes[s];
    }
    out->page_oncall = in->oncall_webhook_url && out->severity >= MHG_LEVEL_MODERATE &&
                       out->severity >= in->oncall_page_on;

    out->call_model = out->action != MHG_ACTION_CRISIS;
    out->require_resources = out->action >= MHG_ACTION_ESCALATE;
    out->reminder_due = in->reminder_every > 0 && req->turn_index % in->reminder_every == 0;

    mhg_status rc = MHG_OK;
    if (out->action == MHG_ACTION_CRISIS) {
        rc = add_template(p, MHG_TPL_CRISIS_REPLY, out, country, req->age_band, &out->reply_text,
                          &out->reply_text_len);
    } else {
        if (out->action == MHG_ACTION_ESCALATE)
            rc = add_template(p, MHG_TPL_SYSTEM_STRICT, out, country, req->age_band,
                              &out->system_message, &out->system_message_len);
        else if (out->action == MHG_ACTION_SUPPORT)
            rc = add_template(p, MHG_TPL_SYSTEM_SUPPORT, out, country, req->age_band,
                              &out->system_message, &out->system_message_len);
        if (rc == MHG_OK && minor)
            rc = add_template(p, MHG_TPL_SYSTEM_MINOR, out, country, req->age_band,
                              &out->system_message, &out->system_message_len);
    }
    if (rc != MHG_OK) {
        fail_closed(out);
        return rc;
    }
    return MHG_OK;
}
