/*
 * gate.c - the safety path every screened user message goes through, for
 * the chat proxy and the screening API alike:
 *
 *   pseudonyms -> assess (all user turns, plus the stored conversation
 *   memory when the app names the conversation) -> policy decision ->
 *   decision row + audit record (one transaction) -> review queue ->
 *   on-call page -> metrics and use-drift.
 *
 * Any failure on this path leaves sc->ok = 0 and the caller fails closed
 * (issue 4: "if the screener or the store fails on a request, fail closed
 * ... never forward unscreened text silently"). A decision that could not
 * be recorded counts as a failure: an unaudited decision is not allowed.
 *
 * No message text leaves this file: the store and the audit log get
 * pseudonymous ids, levels, category names and rule ids only.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

#define META_ID_MAX 256u

void mhgi_screening_init(mhgi_screening *sc) {
    memset(sc, 0, sizeof *sc);
    mhg_decision_init(&sc->dec);
    sc->action_index = MHGI_ACTION_FAIL_CLOSED;
}

void mhgi_screening_free(mhgi_screening *sc) {
    mhg_decision_free(&sc->dec);
    free(sc->categories_json);
    sc->categories_json = NULL;
}

/* ---- request metadata ------------------------------------------------------ */

static const char *body_str(json_t *obj, const char *key) {
    return json_string_value(json_object_get(obj, key));
}

/* "pt-BR" -> "pt"; letters only, 2..3 of them. 0 if malformed. */
static int norm_lang(const char *in, char out[8]) {
    size_t n = 0;
    while (in[n] && in[n] != '-' && in[n] != '_') {
        if (!isalpha((unsigned char)in[n]) || n >= 3) return 0;
        out[n] = (char)tolower((unsigned char)in[n]);
        n++;
    }
    if (n < 2) return 0;
    out[n] = '\0';
    return 1;
}

static int norm_country(const char *in, char out[4]) {
    if (strlen(in) != 2 || !isalpha((unsigned char)in[0]) || !isalpha((unsigned char)in[1]))
        return 0;
    out[0] = (char)toupper((unsigned char)in[0]);
    out[1] = (char)toupper((unsigned char)in[1]);
    out[2] = '\0';
    return 1;
}

static int id_ok(const char *id) {
    return id && *id && strlen(id) <= META_ID_MAX;
}

const char *mhgi_meta_parse(mhgi_req *r, json_t *body, int toplevel, mhgi_meta *meta,
                            int *code) {
    memset(meta, 0, sizeof *meta);
    *code = MHGI_E_INVALID_REQUEST;
    json_t *mo = toplevel ? body : json_object_get(body, "mhguard");
    if (mo && !json_is_object(mo)) return "'mhguard' must be an object";
    const char *conv = mhgi_header(r, "x-mhguard-conversation");
    if (!conv) conv = body_str(mo, "conversation_id");
    const char *user = mhgi_header(r, "x-mhguard-user");
    if (!user) user = body_str(mo, "user");
    if (!user && !toplevel) user = body_str(body, "user"); /* OpenAI's end-user id */
    if (!conv) conv = user; /* one conversation per end user when nothing finer is given */
    const char *lang = mhgi_header(r, "x-mhguard-lang");
    if (!lang) lang = body_str(mo, "lang");
    const char *country = mhgi_header(r, "x-mhguard-country");
    if (!country) country = body_str(mo, "country");
    const char *age = mhgi_header(r, "x-mhguard-age-band");
    if (!age) age = body_str(mo, "age_band");
    const char *clin = mhgi_header(r, "x-mhguard-clinician");
    if (!clin) clin = body_str(mo, "clinician");

    if (conv && !id_ok(conv)) return "conversation id must be 1..256 bytes";
    if (user && !id_ok(user)) return "user id must be 1..256 bytes";
    if (clin && !id_ok(clin)) return "clinician id must be 1..256 bytes";
    if (lang && *lang && !norm_lang(lang, meta->lang_buf))
        return "lang must be an ISO 639-1 code such as \"en\" or \"pt-BR\"";
    if (country && *country && !norm_country(country, meta->country_buf))
        return "country must be an ISO 3166-1 alpha-2 code such as \"US\"";
    if (mhg_age_band_parse(age, &meta->age) != MHG_OK)
        return "age_band must be \"minor\", \"adult\" or \"unknown\"";
    const mhg_policy_info *pi = r->srv->pi;
    if (pi->require_age_band && meta->age == MHG_AGE_UNKNOWN) {
        *code = MHGI_E_AGE_BAND_REQUIRED;
        return "this deployment requires an age band: send the header "
               "x-mhguard-age-band: minor|adult (or the field age_band)";
    }
    /* ASL-MH level 5: every user is linked to a responsible clinician */
    if (pi->responsible_clinician_required && !clin)
        return "this deployment (ASL-MH level 5) requires the responsible clinician: send "
               "the header x-mhguard-clinician";
    meta->conversation = conv;
    meta->user = user;
    meta->clinician = clin;
    meta->lang = meta->lang_buf[0] ? meta->lang_buf : NULL;
    meta->country = meta->country_buf[0] ? meta->country_buf : NULL;
    return NULL;
}

int mhgi_meta_read(mhgi_req *r, json_t *body, int toplevel, mhgi_meta *meta,
                   enum MHD_Result *ret) {
    int code;
    const char *bad = mhgi_meta_parse(r, body, toplevel, meta, &code);
    if (!bad) return 1;
    *ret = mhgi_send_error(r, 400, code, bad);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t key_from_hex(const char *hex) {
    uint64_t k = 0;
    for (int i = 0; i < 16 && hex[i]; i++) {
        char c = hex[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0;
        k = (k << 4) | (uint64_t)v;
    }
    return k;
}

static char *categories_json(const mhg_verdict *v) {
    json_t *a = json_array();
    for (int c = 0; c < MHG_CAT_COUNT; c++)
        if (v->categories[c].level > MHG_LEVEL_NONE)
            json_array_append_new(a, json_string(mhg_category_name((mhg_category)c)));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* Rule ids only (never the matched text), de-duplicated, at most 32. */
static char *evidence_json(const mhg_verdict *v) {
    json_t *a = json_array();
    for (size_t i = 0; i < v->n_evidence && json_array_size(a) < 32; i++) {
        const char *id = v->evidence[i].rule_id;
        if (!id || strlen(id) >= MHG_STORE_FIELD_MAX) continue;
        int dup = 0;
        for (size_t k = 0; k < json_array_size(a) && !dup; k++)
            dup = !strcmp(json_string_value(json_array_get(a, k)), id);
        if (!dup) json_array_append_new(a, json_string(id));
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static void fail(mhgi_req *r, mhgi_screening *sc, const char *stage, mhg_status st,
                 const char *detail) {
    mhg_server *s = r->srv;
    sc->ok = 0;
    sc->fail_stage = stage;
    sc->fail_status = st;
    sc->action_index = MHGI_ACTION_FAIL_CLOSED;
    mhgi_metrics_inc(&s->metrics.fail_closed);
    mhgi_metrics_inc(&s->metrics.actions[MHGI_ACTION_FAIL_CLOSED]);
    mhgi_log(s, "error", "request %s: fail closed at %s: %s%s%s", r->request_id, stage,
             mhg_strerror(st), detail ? ": " : "", detail ? detail : "");
}

static void page_oncall(mhgi_req *r, const mhgi_screening *sc, int64_t now_ms) {
    mhg_server *s = r->srv;
    if (!s->escalator) {
        mhgi_metrics_inc(&s->metrics.escalations_unconfigured);
        mhgi_log(s, "warning", "request %s: decision %s asks to page on-call but no webhook "
                 "is configured", r->request_id, sc->decision_id);
        return;
    }
    const mhg_decision *d = &sc->dec;
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:I,s:s?,s:s?,s:s,s:s,s:s,s:s,s:o?}", "event",
        "mhguard.escalation", "decision_id", sc->decision_id, "request_id", r->request_id,
        "risk", mhg_level_name(sc->v->risk), "action", mhg_action_name(d->action), "severity",
        mhg_level_name(d->severity), "time_ms", (json_int_t)now_ms, "sla_minutes",
        (int)d->sla_minutes, "due_ms", (json_int_t)(now_ms + (int64_t)d->sla_minutes * 60000),
        "conversation", sc->conv_ps[0] ? sc->conv_ps : NULL, "user",
        sc->user_ps[0] ? sc->user_ps : NULL, "lang", d->lang, "country", d->country,
        "age_band", mhg_age_band_name(sc->age), "policy_version", s->pi->version,
        "categories", sc->categories_json ? json_loads(sc->categories_json, 0, NULL) : NULL);
    char *js = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (js) {
        mhgi_escalator_post(s->escalator, js, strlen(js));
        free(js);
    } else {
        mhgi_metrics_inc(&s->metrics.escalations_dropped);
    }
}

/* ---- the path ------------------------------------------------------------------ */

void mhgi_gate_screen(mhgi_req *r, const mhg_turn *turns, size_t n, const mhgi_meta *meta,
                      mhgi_screening *sc) {
    mhg_server *s = r->srv;
    double t0 = mhgi_now();
    sc->age = meta->age;
    mhgi_worker *w = mhgi_worker_get(r);
    if (!w) {
        fail(r, sc, "screening", MHG_ERR_NOMEM, "no scratch memory");
        return;
    }
    mhg_status st;
    if (meta->user) {
        st = mhg_privacy_pseudonym(s->privacy, "user", meta->user, strlen(meta->user),
                                   sc->user_ps);
        if (st != MHG_OK) { fail(r, sc, "privacy", st, NULL); return; }
    }
    if (meta->conversation) {
        st = mhg_privacy_pseudonym(s->privacy, "conversation", meta->conversation,
                                   strlen(meta->conversation), sc->conv_ps);
        if (st != MHG_OK) { fail(r, sc, "privacy", st, NULL); return; }
    }

    /* 1. assess: the latest user message with every user turn before it */
    static const mhg_turn empty = {"", 0};
    if (n == 0) {
        turns = &empty;
        n = 1;
    }
    if (n > MHG_MAX_TURNS) {
        turns += n - MHG_MAX_TURNS;
        n = MHG_MAX_TURNS;
    }
    st = mhg_assess_turns(s->engine, w->scratch, turns, n, meta->lang, &w->verdict);
    if (st != MHG_OK) { fail(r, sc, "screening", st, NULL); return; }
    sc->v = &w->verdict;

    /* plus the stored memory of this conversation: apps that send only the
     * newest message (or trim history) must not erase earlier risk */
    if (sc->conv_ps[0]) {
        char *js = NULL;
        size_t jlen = 0;
        mhg_conversation *conv = NULL;
        st = mhg_store_conv_get(s->store, sc->conv_ps, &js, &jlen);
        if (st == MHG_OK) {
            st = mhg_conversation_restore(js, jlen, &conv);
            free(js);
            if (st != MHG_OK) {
                /* unreadable memory: start again rather than refuse the person */
                mhgi_log(s, "warning", "request %s: stored conversation state unreadable (%s); "
                         "starting a new one", r->request_id, mhg_strerror(st));
                conv = NULL;
            }
        } else if (st != MHG_ERR_NOT_FOUND) {
            { fail(r, sc, "store", st, mhg_store_errmsg(s->store)); return; }
        }
        if (!conv && (st = mhg_conversation_new(&conv)) != MHG_OK)
            { fail(r, sc, "screening", st, NULL); return; }
        const mhg_turn *last = &turns[n - 1];
        st = mhg_assess(s->engine, w->scratch, last->text, last->len, meta->lang, conv,
                        &w->verdict2);
        if (st != MHG_OK) {
            mhg_conversation_free(conv);
            { fail(r, sc, "screening", st, NULL); return; }
        }
        if (w->verdict2.risk > w->verdict.risk ||
            (w->verdict2.risk == w->verdict.risk && w->verdict2.score > w->verdict.score))
            sc->v = &w->verdict2;
        char *saved = NULL;
        st = mhg_conversation_save(conv, &saved);
        mhg_conversation_free(conv);
        if (st != MHG_OK) { fail(r, sc, "screening", st, NULL); return; }
        st = mhg_store_conv_put(s->store, sc->conv_ps, saved, strlen(saved));
        free(saved);
        if (st != MHG_OK) { fail(r, sc, "store", st, mhg_store_errmsg(s->store)); return; }
    }
    const mhg_verdict *v = sc->v;

    /* 2. decide */
    const char *lang = meta->lang;
    if (!lang && strcmp(v->lang, "und") && v->lang[0]) lang = v->lang;
    mhg_request_info ri;
    memset(&ri, 0, sizeof ri);
    ri.age_band = meta->age;
    ri.turn_index = (unsigned)(n - 1);
    ri.country = meta->country;
    ri.lang = lang;
    ri.conversation_key = sc->conv_ps[0] ? key_from_hex(sc->conv_ps) : 0;
    st = mhg_policy_decide(s->policy, v, &ri, &sc->dec);
    if (st != MHG_OK) { fail(r, sc, "policy", st, NULL); return; }
    snprintf(sc->lang, sizeof sc->lang, "%s", sc->dec.lang[0] ? sc->dec.lang : (lang ? lang : "en"));
    snprintf(sc->country, sizeof sc->country, "%s",
             sc->dec.country[0] ? sc->dec.country : (meta->country ? meta->country : ""));
    mhgi_metrics_observe(&s->metrics, MHGI_HIST_SCREEN, mhgi_now() - t0);

    /* 3. record: decision row + audit record, both or neither */
    st = mhg_store_random_id("dec", sc->decision_id, sizeof sc->decision_id);
    if (st != MHG_OK) { fail(r, sc, "store", st, NULL); return; }
    sc->categories_json = categories_json(v);
    char *ev = evidence_json(v);
    if (!sc->categories_json || !ev) {
        free(ev);
        { fail(r, sc, "audit", MHG_ERR_NOMEM, NULL); return; }
    }
    int64_t now_ms = mhg_store_now_ms();
    mhg_store_decision d;
    memset(&d, 0, sizeof d);
    d.decision_id = sc->decision_id;
    d.request_id = r->request_id;
    d.time_ms = now_ms;
    d.user = sc->user_ps[0] ? sc->user_ps : NULL;
    d.conversation = sc->conv_ps[0] ? sc->conv_ps : NULL;
    d.kind = "user_message";
    d.risk = mhg_level_name(v->risk);
    d.action = mhg_action_name(sc->dec.action);
    d.categories_json = sc->categories_json;
    d.evidence_json = ev;
    d.engine_version = mhg_engine_version(s->engine);
    d.lexicon_version = mhg_engine_lexicon_version(s->engine);
    d.model_version = mhg_engine_model_version(s->engine);
    d.policy_version = s->pi->version;
    d.actor = r->actor[0] ? r->actor : "anonymous";
    st = mhg_audit_record_decision(s->store, &d, NULL);
    free(ev);
    if (st != MHG_OK) {
        /* fail_mode: open (ASL-MH level 1 only, validated by the policy): an
         * ALLOW decision may go ahead unrecorded, counted and logged; the
         * screener ran, so nothing unscreened is forwarded, and every action
         * above allow still fails closed. */
        if (s->pi->fail_mode == MHG_FAIL_OPEN && sc->dec.action == MHG_ACTION_ALLOW) {
            mhgi_metrics_inc(&s->metrics.fail_open);
            mhgi_log(s, "error", "request %s: decision not recorded (%s: %s); forwarded anyway "
                     "(fail_mode open, action allow)", r->request_id, mhg_strerror(st),
                     mhg_store_errmsg(s->store));
            sc->unrecorded = 1;
        } else {
            fail(r, sc, "audit", st, mhg_store_errmsg(s->store));
            return;
        }
    }

    /* 4. human review (levels 3+: oversight; the store keeps it durably) */
    if (sc->dec.queue_review) {
        mhg_store_review_item it;
        memset(&it, 0, sizeof it);
        it.decision_id = sc->decision_id;
        it.level = mhg_level_name(sc->dec.severity > MHG_LEVEL_NONE ? sc->dec.severity : v->risk);
        it.created_ms = now_ms;
        it.sla_due_ms = now_ms + (int64_t)(sc->dec.sla_minutes ? sc->dec.sla_minutes : 24 * 60) *
                                     60000;
        it.reason = sc->dec.reason ? sc->dec.reason : "policy";
        int64_t item_id;
        st = mhg_store_review_enqueue(s->store, &it, &item_id);
        /* a flagged case that no human will see is a lost safety net */
        if (st != MHG_OK) { fail(r, sc, "store", st, mhg_store_errmsg(s->store)); return; }
    }

    /* 5. page on-call (asynchronous; never delays the reply) */
    if (sc->dec.page_oncall) page_oncall(r, sc, now_ms);

    /* 6. metrics and use-drift */
    sc->ok = 1;
    sc->action_index = (int)sc->dec.action;
    mhgi_metrics_verdict(&s->metrics, 0, v, sc->action_index, v->lang);
    uint64_t dkey = sc->conv_ps[0] ? key_from_hex(sc->conv_ps) : key_from_hex(sc->decision_id + 4);
    double share;
    size_t window;
    if (mhgi_drift_observe(&s->drift, dkey, v->risk > MHG_LEVEL_NONE, &share, &window))
        mhgi_log(s, "ALARM",
                 "use-drift: %.1f%% of the last %zu conversations had mental-health content "
                 "(threshold %.1f%%); this ASL-MH level %d deployment is drifting into health "
                 "use and should be reviewed for reclassification",
                 share * 100, window, s->drift.threshold * 100, s->pi->asl_level);
    snprintf(r->decision_id, sizeof r->decision_id, "%s", sc->decision_id);
    r->risk_name = mhg_level_name(v->risk);
    r->action_name = mhg_action_name(sc->dec.action);
}

mhg_status mhgi_gate_record_reply(mhgi_req *r, const mhgi_screening *sc,
                                  const mhg_reply_result *res, char *id_out, size_t id_cap) {
    mhg_server *s = r->srv;
    mhgi_metrics_inc(&s->metrics.replies_checked);
    if (res->action == MHG_REPLY_BLOCK) mhgi_metrics_inc(&s->metrics.replies_blocked);
    if (res->action == MHG_REPLY_AMEND) mhgi_metrics_inc(&s->metrics.replies_amended);
    mhg_status st = mhg_store_random_id("dec", id_out, id_cap);
    if (st != MHG_OK) return st;
    json_t *reasons = json_array(), *rules = json_array();
    for (unsigned b = 0; b < MHG_REPLY_REASON_COUNT; b++)
        if (res->reasons & (1u << b))
            json_array_append_new(reasons, json_string(mhg_reply_reason_name(1u << b)));
    for (size_t i = 0; i < res->n_findings && i < 32; i++)
        if (res->findings[i].rule_id && strlen(res->findings[i].rule_id) < MHG_STORE_FIELD_MAX)
            json_array_append_new(rules, json_string(res->findings[i].rule_id));
    char *cj = json_dumps(reasons, JSON_COMPACT), *ej = json_dumps(rules, JSON_COMPACT);
    json_decref(reasons);
    json_decref(rules);
    mhg_store_decision d;
    memset(&d, 0, sizeof d);
    d.decision_id = id_out;
    d.request_id = r->request_id;
    d.time_ms = mhg_store_now_ms();
    d.user = sc->user_ps[0] ? sc->user_ps : NULL;
    d.conversation = sc->conv_ps[0] ? sc->conv_ps : NULL;
    d.kind = "ai_reply";
    d.risk = mhg_level_name(sc->v ? sc->v->risk : MHG_LEVEL_NONE);
    d.action = mhg_reply_action_name(res->action);
    d.categories_json = cj;
    d.evidence_json = ej;
    d.engine_version = mhg_engine_version(s->engine);
    d.lexicon_version = mhg_reply_screener_version(s->replies);
    d.model_version = mhg_engine_model_version(s->engine);
    d.policy_version = s->pi->version;
    d.actor = r->actor[0] ? r->actor : "anonymous";
    st = (cj && ej) ? mhg_audit_record_decision(s->store, &d, NULL) : MHG_ERR_NOMEM;
    free(cj);
    free(ej);
    if (st != MHG_OK)
        mhgi_log(s, "error", "request %s: cannot record the reply check: %s: %s", r->request_id,
                 mhg_strerror(st), mhg_store_errmsg(s->store));
    return st;
}

void mhgi_gate_audit_fail_closed(mhgi_req *r, const mhgi_screening *sc) {
    mhg_server *s = r->srv;
    mhg_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.event = "fail_closed";
    ev.request_id = r->request_id;
    ev.user = sc && sc->user_ps[0] ? sc->user_ps : NULL;
    ev.conversation = sc && sc->conv_ps[0] ? sc->conv_ps : NULL;
    ev.action = "fail_closed";
    ev.outcome = sc && sc->fail_stage ? sc->fail_stage : "unknown";
    ev.engine_version = s->engine ? mhg_engine_version(s->engine) : NULL;
    ev.policy_version = s->pi->version;
    ev.actor = r->actor[0] ? r->actor : "anonymous";
    /* best effort: the store may be the thing that failed */
    if (mhg_audit_append(s->store, &ev, NULL) != MHG_OK)
        mhgi_log(s, "error", "request %s: fail-closed event not audited (store down?)",
                 r->request_id);
}

const char *mhgi_gate_fail_text(mhgi_req *r, const mhgi_meta *meta, char **owned) {
    *owned = NULL;
    char *text = NULL;
    size_t len = 0;
    if (mhg_policy_render(r->srv->policy, MHG_TPL_CRISIS_REPLY, meta ? meta->lang : NULL,
                          meta ? meta->country : NULL, meta ? meta->age : MHG_AGE_UNKNOWN, &text,
                          &len) == MHG_OK &&
        text) {
        *owned = text;
        return text;
    }
    free(text);
    return mhg_policy_static_crisis_text();
}
