/*
 * screen_api.c - the screening API for apps that do not proxy, and the
 * review queue endpoints for human reviewers.
 *
 *   POST /v1/screen        {"text", "id"?, "conversation_id"?, "user"?, "lang"?,
 *                           "country"?, "age_band"?, "history"?: [earlier user turns]}
 *   POST /v1/screen/batch  JSON lines (one item per line, like `mhguard screen
 *                           --jsonl`) or {"items": [...]}
 *
 * A result is the verdict JSON of mhg_verdict_to_json() (the same fields as
 * `mhguard screen --jsonl`) plus "id", with "action" set to what the policy
 * decided (which can be stricter than the engine's default, e.g. for
 * minors) and a "decision" object: its id, the reason, review and paging,
 * and the texts a non-proxying app should use (the safety system message,
 * the fixed crisis reply).
 *
 * Failing closed here means 503: the app gets no verdict it could mistake
 * for "safe".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_int.h"

static json_t *decision_json(const mhgi_screening *sc) {
    const mhg_decision *d = &sc->dec;
    json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:s,s:s}", "id", sc->decision_id, "action",
                          mhg_action_name(d->action), "reason", d->reason ? d->reason : "none",
                          "call_model", d->call_model, "review_queued", d->queue_review,
                          "escalated", d->page_oncall, "lang", sc->lang, "resources_country",
                          sc->country);
    if (d->queue_review) json_object_set_new(j, "sla_minutes", json_integer(d->sla_minutes));
    if (d->system_message)
        json_object_set_new(j, "system_message",
                            json_stringn(d->system_message, d->system_message_len));
    if (d->reply_text)
        json_object_set_new(j, "crisis_reply", json_stringn(d->reply_text, d->reply_text_len));
    json_object_set_new(j, "require_resources", json_boolean(d->require_resources));
    json_object_set_new(j, "minor_rules", json_boolean(d->minor_rules));
    return j;
}

/* Screen one item. Returns the result object, or NULL with *err / *code
 * set (code MHGI_E_FAIL_CLOSED when the safety path failed). */
static json_t *screen_item(mhgi_req *r, json_t *item, const char **err, int *code) {
    mhg_server *s = r->srv;
    json_t *text = json_object_get(item, "text");
    if (!json_is_string(text)) {
        *err = "'text' (a string) is required";
        *code = MHGI_E_INVALID_REQUEST;
        return NULL;
    }
    if (json_string_length(text) > MHG_MAX_MESSAGE_BYTES) {
        *err = "'text' exceeds the message size limit";
        *code = MHGI_E_TOO_LARGE;
        return NULL;
    }
    json_t *hist = json_object_get(item, "history");
    if (hist && !json_is_array(hist)) {
        *err = "'history' must be an array of earlier user messages (strings)";
        *code = MHGI_E_INVALID_REQUEST;
        return NULL;
    }
    mhgi_meta meta;
    const char *bad = mhgi_meta_parse(r, item, 1, &meta, code);
    if (bad) {
        *err = bad;
        return NULL;
    }
    size_t nh = json_array_size(hist);
    if (nh > MHG_MAX_TURNS - 1) nh = MHG_MAX_TURNS - 1;
    mhg_turn turns[MHG_MAX_TURNS];
    size_t n = 0;
    for (size_t i = json_array_size(hist) - nh; i < json_array_size(hist); i++) {
        json_t *h = json_array_get(hist, i);
        if (!json_is_string(h)) {
            *err = "'history' must be an array of strings";
            *code = MHGI_E_INVALID_REQUEST;
            return NULL;
        }
        turns[n].text = json_string_value(h);
        turns[n].len = json_string_length(h);
        n++;
    }
    turns[n].text = json_string_value(text);
    turns[n].len = json_string_length(text);
    n++;

    mhgi_screening sc;
    mhgi_screening_init(&sc);
    mhgi_gate_screen(r, turns, n, &meta, &sc);
    if (!sc.ok) {
        mhgi_gate_audit_fail_closed(r, &sc);
        mhgi_screening_free(&sc);
        *err = "screening failed; no verdict (fail closed)";
        *code = MHGI_E_FAIL_CLOSED;
        return NULL;
    }
    char *vj = NULL;
    json_t *res = NULL;
    if (mhg_verdict_to_json(s->engine, sc.v, turns[n - 1].text, turns[n - 1].len, &vj) ==
        MHG_OK)
        res = json_loads(vj, 0, NULL);
    if (vj) {
        mhg_memzero(vj, strlen(vj));
        free(vj);
    }
    if (!res) {
        mhgi_screening_free(&sc);
        *err = "cannot serialize the verdict (fail closed)";
        *code = MHGI_E_FAIL_CLOSED;
        mhgi_metrics_inc(&s->metrics.fail_closed);
        return NULL;
    }
    json_object_set_new(res, "engine_action", json_string(mhg_action_name(sc.v->action)));
    json_object_set_new(res, "action", json_string(mhg_action_name(sc.dec.action)));
    json_object_set_new(res, "decision", decision_json(&sc));
    mhgi_screening_free(&sc);
    return res;
}

static void put_id(json_t *res, json_t *item) {
    json_t *id = json_object_get(item, "id");
    json_object_set(res, "id", id ? id : json_null());
}

enum MHD_Result mhgi_handle_screen(mhgi_req *r) {
    int sent;
    enum MHD_Result ret;
    json_t *body = mhgi_parse_body(r, &sent, &ret);
    if (!body) return ret;
    const char *err = NULL;
    int code = 0;
    json_t *res = screen_item(r, body, &err, &code);
    if (!res) {
        unsigned status = code == MHGI_E_FAIL_CLOSED ? 503 : code == MHGI_E_TOO_LARGE ? 413 : 400;
        r->action_name = code == MHGI_E_FAIL_CLOSED ? "fail_closed" : NULL;
        json_decref(body);
        return mhgi_send_error(r, status, code, err);
    }
    put_id(res, body);
    json_decref(body);
    return mhgi_send_json(r, 200, res);
}

/* One JSON-lines item or an error result for it. */
static json_t *batch_one(mhgi_req *r, json_t *item, int *fail_closed) {
    const char *err = NULL;
    int code = 0;
    json_t *res = json_is_object(item) ? screen_item(r, item, &err, &code) : NULL;
    if (!json_is_object(item)) {
        err = "each item must be a JSON object";
        code = MHGI_E_INVALID_REQUEST;
    }
    if (!res) {
        if (code == MHGI_E_FAIL_CLOSED) *fail_closed = 1;
        res = json_pack("{s:s,s:s}", "error", err, "code", mhgi_err_code_name(code));
    }
    put_id(res, item);
    return res;
}

enum MHD_Result mhgi_handle_screen_batch(mhgi_req *r) {
    const char *body = r->body.data ? r->body.data : "";
    size_t blen = r->body.len;
    if (!mhg_utf8_valid(body, blen))
        return mhgi_send_error(r, 400, MHGI_E_INVALID_UTF8, "the request body is not valid UTF-8");
    json_t *whole = json_loadb(body, blen, JSON_REJECT_DUPLICATES, NULL);
    json_t *items = json_object_get(whole, "items");
    int fail_closed = 0, failed = 0;
    size_t total = 0;
    enum MHD_Result ret;
    if (json_is_array(items)) {
        if (json_array_size(items) > MHG_MAX_BATCH_ITEMS) {
            json_decref(whole);
            return mhgi_send_error(r, 413, MHGI_E_TOO_LARGE,
                                   "too many items in one batch (limit 1000)");
        }
        json_t *results = json_array();
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *res = batch_one(r, json_array_get(items, i), &fail_closed);
            if (json_object_get(res, "error")) failed++;
            json_array_append_new(results, res);
            total++;
        }
        json_decref(whole);
        json_t *out = json_pack("{s:o,s:{s:I,s:I}}", "results", results, "summary", "total",
                                (json_int_t)total, "failed", (json_int_t)failed);
        if (fail_closed) {
            json_object_set_new(out, "error",
                                json_pack("{s:s,s:s,s:s,s:n}", "message",
                                          "some items could not be screened (fail closed)",
                                          "type", "service_unavailable", "code", "fail_closed",
                                          "param"));
            mhgi_metrics_error(&r->srv->metrics, MHGI_E_FAIL_CLOSED);
        }
        return mhgi_send_json(r, fail_closed ? 503 : 200, out);
    }
    json_decref(whole);

    /* JSON lines: one result line per input line, in order; a bad line gets
     * an error line and the batch goes on (as `mhguard screen --jsonl`) */
    mhgi_sbuf out;
    mhgi_sbuf_init(&out, 64u * 1024u * 1024u);
    size_t pos = 0, lines = 0;
    mhg_status st = MHG_OK;
    while (pos < blen && st == MHG_OK) {
        const char *line = body + pos;
        const char *nl = memchr(line, '\n', blen - pos);
        size_t len = nl ? (size_t)(nl - line) : blen - pos;
        pos += len + (nl ? 1 : 0);
        if (len && line[len - 1] == '\r') len--;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
        if (k == len) continue; /* blank line */
        if (++lines > MHG_MAX_BATCH_ITEMS) {
            mhgi_sbuf_free(&out);
            return mhgi_send_error(r, 413, MHGI_E_TOO_LARGE,
                                   "too many items in one batch (limit 1000)");
        }
        json_t *res;
        if (len > MHG_MAX_LINE_BYTES) {
            res = json_pack("{s:n,s:s,s:s}", "id", "error", "line exceeds the size limit", "code",
                            mhgi_err_code_name(MHGI_E_TOO_LARGE));
        } else {
            json_error_t jerr;
            json_t *item = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
            if (!item) {
                char msg[200];
                snprintf(msg, sizeof msg, "line %zu: malformed JSON: %s", lines, jerr.text);
                res = json_pack("{s:n,s:s,s:s}", "id", "error", msg, "code",
                                mhgi_err_code_name(MHGI_E_INVALID_JSON));
            } else {
                res = batch_one(r, item, &fail_closed);
                json_decref(item);
            }
        }
        if (json_object_get(res, "error")) failed++;
        total++;
        char *s = json_dumps(res, JSON_COMPACT);
        json_decref(res);
        st = s ? mhgi_sbuf_adds(&out, s) : MHG_ERR_NOMEM;
        if (st == MHG_OK) st = mhgi_sbuf_add(&out, "\n", 1);
        free(s);
    }
    if (st != MHG_OK) {
        mhgi_sbuf_free(&out);
        return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "batch output too large");
    }
    if (total == 0) {
        mhgi_sbuf_free(&out);
        return mhgi_send_error(r, 400, MHGI_E_INVALID_REQUEST,
                               "empty batch: send JSON lines or {\"items\": [...]}");
    }
    if (fail_closed) mhgi_metrics_error(&r->srv->metrics, MHGI_E_FAIL_CLOSED);
    ret = mhgi_send(r, fail_closed ? 503 : 200, "application/x-ndjson", out.data ? out.data : "",
                    out.len);
    mhgi_sbuf_free(&out);
    return ret;
}

/* ---- review queue ------------------------------------------------------------ */

enum MHD_Result mhgi_handle_review_queue(mhgi_req *r) {
    mhg_server *s = r->srv;
    const char *state = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "state");
    const char *limit_s = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "limit");
    if (state && strcmp(state, "open") && strcmp(state, "claimed") && strcmp(state, "resolved"))
        return mhgi_send_error(r, 400, MHGI_E_INVALID_REQUEST,
                               "state must be open, claimed or resolved");
    size_t limit = 0;
    if (limit_s) {
        char *end;
        unsigned long v = strtoul(limit_s, &end, 10);
        if (*end || v > 1000)
            return mhgi_send_error(r, 400, MHGI_E_INVALID_REQUEST, "limit must be 0..1000");
        limit = v;
    }
    char *js = NULL;
    mhg_status st = mhg_store_review_list(s->store, state, limit, &js);
    if (st != MHG_OK)
        return mhgi_send_error(r, 503, MHGI_E_FAIL_CLOSED, "the review store is unavailable");
    json_t *items = json_loads(js, 0, NULL);
    free(js);
    if (!items) return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "bad review list");
    return mhgi_send_json(r, 200, json_pack("{s:o}", "items", items));
}

/* Append a reviewer's action on item id to the audit log; the change is
 * already made, so a failure is logged, not returned. */
static void audit_review(mhgi_req *r, const char *event, long long id, const char *outcome,
                         const char *what) {
    mhg_server *s = r->srv;
    mhg_audit_event ev;
    memset(&ev, 0, sizeof ev);
    char target[48];
    snprintf(target, sizeof target, "review:%lld", id);
    ev.event = event;
    ev.request_id = r->request_id;
    ev.actor = r->actor;
    ev.target = target;
    ev.outcome = outcome;
    ev.policy_version = s->pi->version;
    if (mhg_audit_append(s->store, &ev, NULL) != MHG_OK)
        mhgi_log(s, "error", "request %s: review %s not audited", r->request_id, what);
}

enum MHD_Result mhgi_handle_review_resolve(mhgi_req *r, const char *id_text, int claim) {
    mhg_server *s = r->srv;
    char *end;
    long long id = strtoll(id_text, &end, 10);
    if (*end || id <= 0) return mhgi_send_error(r, 404, MHGI_E_NOT_FOUND, "no such review item");
    mhg_status st;
    const char *outcome = NULL;
    char *sealed = NULL;
    if (claim) {
        st = mhg_store_review_claim(s->store, id, r->actor);
    } else {
        int sent;
        enum MHD_Result ret;
        json_t *body = mhgi_parse_body(r, &sent, &ret);
        if (!body) return ret;
        outcome = json_string_value(json_object_get(body, "outcome"));
        json_t *note = json_object_get(body, "note");
        if (!outcome || !*outcome || strlen(outcome) > 64 || (note && !json_is_string(note))) {
            json_decref(body);
            return mhgi_send_error(r, 400, MHGI_E_INVALID_REQUEST,
                                   "send {\"outcome\": \"followed_up\"|\"false_positive\"|"
                                   "\"escalated\"|..., \"note\"?: \"...\"}");
        }
        /* a reviewer's note may hold clinical detail: sealed at rest */
        if (note && json_string_length(note) > 0 &&
            mhg_privacy_seal(s->privacy, json_string_value(note), json_string_length(note),
                             &sealed) != MHG_OK) {
            json_decref(body);
            return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "cannot seal the note");
        }
        char outcome_copy[65];
        snprintf(outcome_copy, sizeof outcome_copy, "%s", outcome);
        json_decref(body);
        outcome = NULL;
        st = mhg_store_review_resolve(s->store, id, r->actor, outcome_copy, sealed);
        free(sealed);
        if (st == MHG_OK) {
            audit_review(r, "review_resolve", id, outcome_copy, "resolution");
        }
    }
    if (st == MHG_ERR_NOT_FOUND)
        return mhgi_send_error(r, 404, MHGI_E_NOT_FOUND, "no such open review item");
    if (st == MHG_ERR_INVALID)
        return mhgi_send_error(r, 409, MHGI_E_INVALID_REQUEST, mhg_store_errmsg(s->store));
    if (st != MHG_OK)
        return mhgi_send_error(r, 503, MHGI_E_FAIL_CLOSED, "the review store is unavailable");
    if (claim) {
        audit_review(r, "review_claim", id, NULL, "claim");
    }
    char *js = NULL;
    if (mhg_store_review_get(s->store, id, &js) != MHG_OK)
        return mhgi_send_json(r, 200, json_pack("{s:I}", "id", (json_int_t)id));
    json_t *j = json_loads(js, 0, NULL);
    free(js);
    return mhgi_send_json(r, 200, j ? j : json_pack("{s:I}", "id", (json_int_t)id));
}
