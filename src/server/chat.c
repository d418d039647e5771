/*
 * chat.c - POST /v1/chat/completions and GET /v1/models: the OpenAI-compatible
 * proxy.
 *
 * The request is parsed once with jansson. Unknown top-level fields are kept
 * and forwarded (OpenAI adds parameters often; a proxy that drops them breaks
 * clients); only our own "mhguard" object is removed. The user's turns are
 * screened (gate.c), then by the policy's action:
 *   allow     forward unchanged
 *   support   forward with the supportive safety system message
 *   escalate  forward with the strict system message; the reply must carry
 *             crisis resources (appended when missing)
 *   crisis    the model is NOT called; the fixed reviewed crisis reply is
 *             returned in the OpenAI shape (JSON or SSE)
 * Every reply from the model is checked before the user sees it; a stream
 * is checked as it flows (mhg_reply_stream holds back the unchecked tail),
 * and on a block the stream stops and the safe replacement is sent with
 * finish_reason "content_filter" (OpenAI's own value for filtered output).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server_int.h"

#define MAX_CHOICES 8

/* ---- small helpers ------------------------------------------------------------ */

/* Overwrite every string in j before it is freed: message text must not
 * linger in freed heap memory (style guide rule 9). */
static void wipe_json(json_t *j) {
    if (!j) return;
    if (json_is_string(j)) {
        size_t n = json_string_length(j);
        if (n) mhg_memzero((void *)json_string_value(j), n);
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++) wipe_json(json_array_get(j, i));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) wipe_json(v);
    }
}

static void drop_json(json_t *j) {
    wipe_json(j);
    json_decref(j);
}

static void free_wiped(char *s) {
    if (s) mhg_memzero(s, strlen(s));
    free(s);
}

static json_t *mhguard_field(mhgi_req *r, const mhgi_screening *sc, const char *action) {
    json_t *m = json_pack("{s:s,s:s,s:s}", "request_id", r->request_id, "action", action, "risk",
                          sc->v ? mhg_level_name(sc->v->risk) : "unknown");
    if (sc->decision_id[0]) json_object_set_new(m, "decision_id", json_string(sc->decision_id));
    if (sc->ok) {
        json_t *cats = sc->categories_json ? json_loads(sc->categories_json, 0, NULL) : NULL;
        json_object_set_new(m, "categories", cats ? cats : json_array());
        json_object_set_new(m, "review_queued", json_boolean(sc->dec.queue_review));
        json_object_set_new(m, "escalated", json_boolean(sc->dec.page_oncall));
        if (sc->unrecorded) json_object_set_new(m, "recorded", json_false());
        if (sc->dec.country[0])
            json_object_set_new(m, "resources_country", json_string(sc->dec.country));
        /* ASL-MH level 4: every output carries its explanation */
        if (r->srv->pi->explain_outputs && sc->v) {
            char *vj = NULL;
            if (mhg_verdict_to_json(r->srv->engine, sc->v, NULL, 0, &vj) == MHG_OK && vj) {
                json_t *vv = json_loads(vj, 0, NULL);
                if (vv) json_object_set_new(m, "explanation", vv);
            }
            free(vj);
        }
    } else {
        json_object_set_new(m, "fail_stage",
                            json_string(sc->fail_stage ? sc->fail_stage : "unknown"));
    }
    return m;
}

static void chat_id(mhgi_req *r, char *out, size_t cap) {
    /* "req_<hex>" -> "chatcmpl-mhg<hex>" */
    const char *hex = strchr(r->request_id, '_');
    snprintf(out, cap, "chatcmpl-mhg%s", hex ? hex + 1 : r->request_id);
}

static json_t *completion(const char *id, const char *model, const char *text, size_t len,
                          const char *finish) {
    return json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s%,s:n},s:n,s:s}],s:{s:i,s:i,s:i}}",
                     "id", id, "object", "chat.completion", "created", (json_int_t)time(NULL),
                     "model", model, "choices", "index", 0, "message", "role", "assistant",
                     "content", text, len, "refusal", "logprobs", "finish_reason", finish,
                     "usage", "prompt_tokens", 0, "completion_tokens", 0, "total_tokens", 0);
}

static mhg_status sse_add_json(mhgi_sbuf *out, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!s) return MHG_ERR_NOMEM;
    mhg_status st = mhgi_sbuf_adds(out, "data: ");
    if (st == MHG_OK) st = mhgi_sbuf_adds(out, s);
    if (st == MHG_OK) st = mhgi_sbuf_adds(out, "\n\n");
    free_wiped(s);
    return st;
}

static json_t *chunk_new(const char *id, json_int_t created, const char *model) {
    return json_pack("{s:s,s:s,s:I,s:s}", "id", id, "object", "chat.completion.chunk", "created",
                     created, "model", model);
}

static json_t *choice_delta(int idx, json_t *delta, const char *finish) {
    return json_pack("{s:i,s:o,s:n,s:s?}", "index", idx, "delta", delta, "logprobs",
                     "finish_reason", finish);
}

/* A fixed reply (crisis or fail-closed) without calling the model. */
static enum MHD_Result send_fixed_reply(mhgi_req *r, json_t *body, const mhgi_screening *sc,
                                        const char *action, const char *text) {
    mhg_server *s = r->srv;
    mhgi_metrics_inc(&s->metrics.upstream_skipped);
    char id[64];
    chat_id(r, id, sizeof id);
    const char *model = json_string_value(json_object_get(body, "model"));
    if (!model) model = "mhguard-safety";
    r->action_name = action;
    if (!r->risk_name) r->risk_name = sc->v ? mhg_level_name(sc->v->risk) : "unknown";
    int stream = json_is_true(json_object_get(body, "stream"));
    size_t len = strlen(text);
    if (!stream) {
        json_t *j = completion(id, model, text, len, "stop");
        if (j) json_object_set_new(j, "mhguard", mhguard_field(r, sc, action));
        return mhgi_send_json(r, 200, j);
    }
    int usage = json_is_true(
        json_object_get(json_object_get(body, "stream_options"), "include_usage"));
    json_int_t created = (json_int_t)time(NULL);
    mhgi_sbuf out;
    mhgi_sbuf_init(&out, MHG_MAX_BODY_BYTES);
    mhg_status st = MHG_OK;
    json_t *c = chunk_new(id, created, model);
    json_object_set_new(c, "choices",
                        json_pack("[o]", choice_delta(0, json_pack("{s:s,s:s}", "role",
                                                                   "assistant", "content", ""),
                                                      NULL)));
    st = sse_add_json(&out, c);
    json_decref(c);
    c = chunk_new(id, created, model);
    json_object_set_new(c, "choices",
                        json_pack("[o]", choice_delta(0, json_pack("{s:s%}", "content", text, len),
                                                      NULL)));
    if (st == MHG_OK) st = sse_add_json(&out, c);
    json_decref(c);
    c = chunk_new(id, created, model);
    json_object_set_new(c, "choices", json_pack("[o]", choice_delta(0, json_object(), "stop")));
    json_object_set_new(c, "mhguard", mhguard_field(r, sc, action));
    if (st == MHG_OK) st = sse_add_json(&out, c);
    json_decref(c);
    if (usage) {
        c = chunk_new(id, created, model);
        json_object_set_new(c, "choices", json_array());
        json_object_set_new(c, "usage", json_pack("{s:i,s:i,s:i}", "prompt_tokens", 0,
                                                  "completion_tokens", 0, "total_tokens", 0));
        if (st == MHG_OK) st = sse_add_json(&out, c);
        json_decref(c);
    }
    if (st == MHG_OK) st = mhgi_sbuf_adds(&out, "data: [DONE]\n\n");
    enum MHD_Result ret;
    if (st != MHG_OK)
        ret = mhgi_send_error(r, 500, MHGI_E_INTERNAL, "out of memory");
    else
        ret = mhgi_send(r, 200, "text/event-stream; charset=utf-8", out.data, out.len);
    mhgi_sbuf_free(&out);
    return ret;
}

static enum MHD_Result fail_closed_reply(mhgi_req *r, json_t *body, const mhgi_screening *sc,
                                         const mhgi_meta *meta) {
    mhgi_gate_audit_fail_closed(r, sc);
    char *owned = NULL;
    const char *text = mhgi_gate_fail_text(r, meta, &owned);
    r->risk_name = sc->v ? mhg_level_name(sc->v->risk) : "unknown";
    enum MHD_Result ret = send_fixed_reply(r, body, sc, "fail_closed", text);
    free(owned);
    return ret;
}

/* ---- request validation ----------------------------------------------------- */

/* Text of one message's content: a string, or the text parts of an array
 * (joined by newlines into *owned). 0 when there is no text. */
static int content_text(json_t *content, mhgi_sbuf *owned, const char **text, size_t *len) {
    if (json_is_string(content)) {
        *text = json_string_value(content);
        *len = json_string_length(content);
        return 1;
    }
    if (!json_is_array(content)) return 0;
    mhgi_sbuf_reset(owned);
    int any = 0;
    for (size_t i = 0; i < json_array_size(content); i++) {
        json_t *part = json_array_get(content, i);
        json_t *t = json_object_get(part, "text");
        if (!json_is_string(t)) continue;
        if ((any && mhgi_sbuf_add(owned, "\n", 1) != MHG_OK) ||
            mhgi_sbuf_add(owned, json_string_value(t), json_string_length(t)) != MHG_OK)
            return -1;
        any = 1;
    }
    *text = owned->data ? owned->data : "";
    *len = owned->len;
    return any;
}

static const char *validate(json_t *body, int *stream) {
    json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0)
        return "'messages' must be a non-empty array";
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        if (!json_is_object(m)) return "each message must be an object";
        if (!json_is_string(json_object_get(m, "role"))) return "each message needs a 'role'";
        json_t *c = json_object_get(m, "content");
        if (c && !json_is_string(c) && !json_is_array(c) && !json_is_null(c))
            return "message 'content' must be a string, an array of parts or null";
        /* what cannot be screened is not forwarded: user images, audio and
         * files could carry the very message the screener must see */
        if (json_is_array(c) && !strcmp(json_string_value(json_object_get(m, "role")), "user"))
            for (size_t k = 0; k < json_array_size(c); k++) {
                const char *type = json_string_value(json_object_get(json_array_get(c, k), "type"));
                if (!type || strcmp(type, "text"))
                    return "user message parts must be of type \"text\": mhguard cannot screen "
                           "images, audio or files, and does not forward what it cannot screen";
            }
    }
    json_t *st = json_object_get(body, "stream");
    if (st && !json_is_boolean(st) && !json_is_null(st)) return "'stream' must be a boolean";
    *stream = json_is_true(st);
    json_t *model = json_object_get(body, "model");
    if (model && !json_is_string(model)) return "'model' must be a string";
    json_t *n = json_object_get(body, "n");
    if (n && !json_is_null(n) &&
        (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > MAX_CHOICES))
        return "'n' must be an integer from 1 to 8";
    return NULL;
}

/* ---- upstream errors ------------------------------------------------------------ */

static enum MHD_Result upstream_failed(mhgi_req *r, mhgi_upcall *up) {
    if (up->client_gone) {
        /* nobody to answer: close the connection (nginx's 499 in the logs) */
        r->status = 499;
        r->responded = 1;
        return MHD_NO;
    }
    mhgi_log(r->srv, "error", "request %s: upstream: %s", r->request_id, mhgi_upcall_error(up));
    if (up->timed_out)
        return mhgi_send_error(r, 504, MHGI_E_UPSTREAM_TIMEOUT,
                               "the model provider did not answer in time");
    char msg[256];
    snprintf(msg, sizeof msg, "the model provider could not be reached: %s",
             mhgi_upcall_error(up));
    return mhgi_send_error(r, 502, MHGI_E_UPSTREAM, msg);
}

/* A non-200 answer from the model provider. Client errors (bad model name,
 * context too long, its own rate limit) go back as they are so OpenAI
 * clients show the usual message; auth and server errors are ours to own. */
static enum MHD_Result upstream_status(mhgi_req *r, mhgi_upcall *up) {
    long st = up->status;
    if (st >= 400 && st < 500 && st != 401 && st != 403 && st != 407) {
        json_t *j = json_loadb(up->resp.data ? up->resp.data : "", up->resp.len, 0, NULL);
        if (j && json_is_object(json_object_get(j, "error")))
            return mhgi_send_json(r, (unsigned)st, j);
        json_decref(j);
    }
    mhgi_log(r->srv, "error", "request %s: upstream answered HTTP %ld", r->request_id, st);
    char msg[160];
    if (st == 401 || st == 403)
        snprintf(msg, sizeof msg, "the model provider refused the gateway's credentials "
                                  "(HTTP %ld); check the upstream API key", st);
    else
        snprintf(msg, sizeof msg, "the model provider failed (HTTP %ld)", st);
    return mhgi_send_error(r, 502, MHGI_E_UPSTREAM, msg);
}

/* A person at high risk must never get a bare gateway error: when the model
 * cannot answer and the decision was escalate (crisis resources required),
 * answer with the reviewed fail-closed text, which carries the user's local
 * crisis resources (ASL-MH floor: a crisis always gets resources). Other
 * requests get the usual OpenAI-style error. */
static enum MHD_Result upstream_unavailable(mhgi_req *r, json_t *body, const mhgi_screening *sc,
                                           const mhgi_meta *meta, mhgi_upcall *up,
                                           int call_failed) {
    if (!up->client_gone && sc->dec.action >= MHG_ACTION_ESCALATE) {
        mhgi_log(r->srv, "error", "request %s: model unavailable on an escalated request (%s); "
                 "answering with crisis resources", r->request_id,
                 call_failed ? mhgi_upcall_error(up) : "upstream HTTP error");
        mhgi_metrics_inc(&r->srv->metrics.fail_closed);
        mhgi_metrics_inc(&r->srv->metrics.actions[MHGI_ACTION_FAIL_CLOSED]);
        return fail_closed_reply(r, body, sc, meta);
    }
    return call_failed ? upstream_failed(r, up) : upstream_status(r, up);
}

/* ---- non-streamed replies ------------------------------------------------- */

static int reply_action_rank(mhg_reply_action a) {
    return a == MHG_REPLY_BLOCK ? 2 : a == MHG_REPLY_AMEND ? 1 : 0;
}

static enum MHD_Result finish_plain(mhgi_req *r, json_t *body, mhgi_screening *sc,
                                    const mhgi_meta *meta, const mhg_reply_context *ctx,
                                    mhgi_upcall *up) {
    mhg_server *s = r->srv;
    if (up->status != 200) return upstream_unavailable(r, body, sc, meta, up, 0);
    json_t *resp = json_loadb(up->resp.data ? up->resp.data : "", up->resp.len, 0, NULL);
    json_t *choices = json_object_get(resp, "choices");
    if (!json_is_object(resp) || !json_is_array(choices)) {
        drop_json(resp);
        mhgi_log(s, "error", "request %s: upstream reply is not a chat completion",
                 r->request_id);
        return mhgi_send_error(r, 502, MHGI_E_UPSTREAM,
                               "the model provider returned an invalid response");
    }
    mhg_reply_result worst;
    mhg_reply_result_init(&worst);
    unsigned reasons = 0;
    int checked = 0, failed = 0;
    for (size_t i = 0; i < json_array_size(choices); i++) {
        json_t *msg = json_object_get(json_array_get(choices, i), "message");
        /* spoken replies cannot be screened here: their audio (and its
         * transcript) is not passed on */
        if (json_is_object(msg)) json_object_del(msg, "audio");
        json_t *content = json_object_get(msg, "content");
        const char *text = "";
        size_t len = 0;
        if (json_is_string(content)) {
            text = json_string_value(content);
            len = json_string_length(content);
        }
        mhg_reply_result res;
        mhg_reply_result_init(&res);
        mhg_status st = mhg_reply_check(s->replies, text, len, ctx, &res);
        checked = 1;
        if (st != MHG_OK && res.action != MHG_REPLY_BLOCK) res.action = MHG_REPLY_BLOCK;
        if (res.action == MHG_REPLY_BLOCK) {
            char *owned = NULL;
            const char *rep = res.replacement;
            size_t rlen = res.replacement_len;
            if (!rep) {
                rep = mhgi_gate_fail_text(r, meta, &owned);
                rlen = strlen(rep);
            }
            /* a fresh message: nothing of the blocked one survives (tool calls
             * built on it, audio transcripts, annotations) */
            wipe_json(msg);
            json_object_set_new(json_array_get(choices, i), "message",
                                json_pack("{s:s,s:s%,s:n}", "role", "assistant", "content", rep,
                                          rlen, "refusal"));
            json_object_set_new(json_array_get(choices, i), "finish_reason",
                                json_string("content_filter"));
            /* the token logprobs would spell out the blocked text */
            json_object_set_new(json_array_get(choices, i), "logprobs", json_null());
            free(owned);
        } else if (res.action == MHG_REPLY_AMEND && res.append) {
            mhgi_sbuf joined;
            mhgi_sbuf_init(&joined, MHG_MAX_BODY_BYTES);
            if (mhgi_sbuf_add(&joined, text, len) != MHG_OK ||
                mhgi_sbuf_add(&joined, res.append, res.append_len) != MHG_OK) {
                failed = 1;
            } else {
                wipe_json(content);
                json_object_set_new(msg, "content", json_stringn(joined.data, joined.len));
            }
            mhgi_sbuf_free(&joined);
        }
        reasons |= res.reasons;
        if (reply_action_rank(res.action) > reply_action_rank(worst.action) || i == 0) {
            mhg_reply_result_free(&worst);
            worst = res; /* take ownership */
        } else {
            mhg_reply_result_free(&res);
        }
    }
    worst.reasons = reasons;
    char reply_id[48] = "";
    mhg_status st = checked ? mhgi_gate_record_reply(r, sc, &worst, reply_id, sizeof reply_id)
                            : MHG_OK;
    int open_ok = st != MHG_OK && !failed && s->pi->fail_mode == MHG_FAIL_OPEN &&
                  sc->dec.action == MHG_ACTION_ALLOW && worst.action != MHG_REPLY_BLOCK;
    if (open_ok) {
        mhgi_metrics_inc(&s->metrics.fail_open); /* logged by the recorder */
        reply_id[0] = '\0';
    } else if (st != MHG_OK || failed) {
        /* the reply check could not be recorded: do not send an unaudited reply */
        mhg_reply_result_free(&worst);
        drop_json(resp);
        mhgi_metrics_inc(&s->metrics.fail_closed);
        mhgi_metrics_inc(&s->metrics.actions[MHGI_ACTION_FAIL_CLOSED]);
        return fail_closed_reply(r, body, sc, meta);
    }
    json_t *m = mhguard_field(r, sc, mhg_action_name(sc->dec.action));
    json_t *reply = json_pack("{s:s,s:s,s:[]}", "decision_id", reply_id, "action",
                              mhg_reply_action_name(worst.action), "reasons");
    for (unsigned b = 0; b < MHG_REPLY_REASON_COUNT; b++)
        if (reasons & (1u << b))
            json_array_append_new(json_object_get(reply, "reasons"),
                                  json_string(mhg_reply_reason_name(1u << b)));
    json_object_set_new(m, "reply", reply);
    json_object_set_new(resp, "mhguard", m);
    mhg_reply_result_free(&worst);
    char *out = json_dumps(resp, JSON_COMPACT);
    drop_json(resp);
    if (!out) return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "out of memory");
    enum MHD_Result ret = mhgi_send(r, 200, "application/json", out, strlen(out));
    free_wiped(out);
    return ret;
}

/* ---- streamed replies ---------------------------------------------------------- */

typedef struct chat_stream {
    mhgi_req *r;        /* valid until the stream ends (the reader stops first) */
    mhg_server *srv;
    mhgi_worker *worker; /* owned: returned to the pool when the response is freed */
    mhgi_upcall up;
    mhgi_sbuf ev, out;
    size_t out_off;
    int done;           /* all output produced */
    int tail_flushed;
    mhgi_screening sc;  /* owned (moved from the handler) */
    mhgi_meta meta;
    mhg_reply_context ctx;
    mhg_reply_stream *rs[MAX_CHOICES];
    int finished[MAX_CHOICES];
    mhg_reply_result worst;
    unsigned reasons;
    int blocked;
    char id[96], model[160];
    json_int_t created;
    double t_start, t_up;
} chat_stream;

static void cs_emit_chunk(chat_stream *cs, int idx, const char *text, size_t len,
                          const char *finish) {
    json_t *delta = text ? json_pack("{s:s%}", "content", text, len) : json_object();
    json_t *c = chunk_new(cs->id, cs->created, cs->model);
    json_object_set_new(c, "choices", json_pack("[o]", choice_delta(idx, delta, finish)));
    if (sse_add_json(&cs->out, c) != MHG_OK) cs->blocked = 1;
    drop_json(c);
}

static mhg_reply_stream *cs_stream(chat_stream *cs, int idx) {
    if (!cs->rs[idx] && mhg_reply_stream_new(cs->srv->replies, &cs->ctx, &cs->rs[idx]) != MHG_OK)
        cs->rs[idx] = NULL;
    return cs->rs[idx];
}

/* End one choice: release the checked tail and amendments, or the
 * replacement if it was blocked, then its finish chunk. */
static void cs_finish_choice(chat_stream *cs, int idx, const char *finish) {
    if (cs->finished[idx]) return;
    cs->finished[idx] = 1;
    mhg_reply_result res;
    mhg_reply_result_init(&res);
    const char *rel = NULL;
    size_t rel_len = 0;
    mhg_reply_stream *rs = cs_stream(cs, idx);
    mhg_status st = rs ? mhg_reply_stream_finish(rs, &rel, &rel_len, &res) : MHG_ERR_NOMEM;
    if (st != MHG_OK) res.action = MHG_REPLY_BLOCK; /* fail closed */
    if (res.action == MHG_REPLY_BLOCK) {
        char *owned = NULL;
        const char *rep = res.replacement;
        size_t rlen = res.replacement_len;
        if (!rep) {
            rep = mhgi_gate_fail_text(cs->r, &cs->meta, &owned);
            rlen = strlen(rep);
        }
        cs_emit_chunk(cs, idx, "\n\n", 2, NULL);
        cs_emit_chunk(cs, idx, rep, rlen, NULL);
        free(owned);
        finish = "content_filter";
    } else {
        if (rel_len) cs_emit_chunk(cs, idx, rel, rel_len, NULL);
        if (res.action == MHG_REPLY_AMEND && res.append)
            cs_emit_chunk(cs, idx, res.append, res.append_len, NULL);
    }
    cs_emit_chunk(cs, idx, NULL, 0, finish ? finish : "stop");
    cs->reasons |= res.reasons;
    if (reply_action_rank(res.action) > reply_action_rank(cs->worst.action)) {
        mhg_reply_result_free(&cs->worst);
        cs->worst = res;
    } else {
        mhg_reply_result_free(&res);
    }
}

/* The reply is over (normally, blocked, or the upstream failed): close
 * every open choice, record the reply check, end the SSE stream. */
static void cs_end(chat_stream *cs, const char *error_code, const char *error_msg) {
    if (cs->done) return;
    int any = 0;
    for (int i = 0; i < MAX_CHOICES; i++) any |= cs->rs[i] != NULL || cs->finished[i];
    if (!any) cs_finish_choice(cs, 0, "stop"); /* an empty reply is checked too */
    for (int i = 0; i < MAX_CHOICES; i++)
        if (cs->rs[i] && !cs->finished[i]) cs_finish_choice(cs, i, "stop");
    cs->worst.reasons = cs->reasons;
    char reply_id[48];
    /* the text is already out: a failed record is logged and counted, and
     * cannot be undone */
    if (mhgi_gate_record_reply(cs->r, &cs->sc, &cs->worst, reply_id, sizeof reply_id) != MHG_OK)
        mhgi_metrics_error(&cs->srv->metrics, MHGI_E_INTERNAL);
    if (error_code) {
        json_t *e = json_pack("{s:{s:s,s:s,s:s,s:n}}", "error", "message", error_msg, "type",
                              "upstream_error", "code", error_code, "param");
        if (sse_add_json(&cs->out, e) != MHG_OK) cs->blocked = 1;
        json_decref(e);
    } else if (mhgi_sbuf_adds(&cs->out, "data: [DONE]\n\n") != MHG_OK) {
        cs->blocked = 1;
    }
    mhgi_metrics_observe(&cs->srv->metrics, MHGI_HIST_UPSTREAM, mhgi_now() - cs->t_up);
    mhgi_upcall_end(&cs->up); /* stops the upstream when blocked early */
    cs->done = 1;
}

static void cs_template(chat_stream *cs, json_t *chunk) {
    const char *id = json_string_value(json_object_get(chunk, "id"));
    const char *model = json_string_value(json_object_get(chunk, "model"));
    json_t *created = json_object_get(chunk, "created");
    if (id) snprintf(cs->id, sizeof cs->id, "%s", id);
    if (model) snprintf(cs->model, sizeof cs->model, "%s", model);
    if (json_is_integer(created)) cs->created = json_integer_value(created);
}

/* One upstream event. */
static void cs_event(chat_stream *cs, const char *data, size_t len) {
    if (len == 6 && !memcmp(data, "[DONE]", 6)) {
        cs_end(cs, NULL, NULL);
        return;
    }
    json_t *chunk = json_loadb(data, len, 0, NULL);
    if (!json_is_object(chunk)) {
        drop_json(chunk);
        cs_end(cs, "upstream_error", "the model provider sent an invalid stream chunk");
        return;
    }
    if (json_is_object(json_object_get(chunk, "error"))) {
        drop_json(chunk);
        cs_end(cs, "upstream_error", "the model provider reported an error mid-stream");
        return;
    }
    cs_template(cs, chunk);
    json_t *choices = json_object_get(chunk, "choices");
    int finish_idx[MAX_CHOICES];
    char finish_reason[MAX_CHOICES][32];
    int n_finish = 0, block_idx = -1, emit = 0;
    if (!json_is_array(choices) || json_array_size(choices) == 0) {
        emit = 1; /* usage chunk and the like: no text */
    }
    for (size_t i = 0; json_is_array(choices) && i < json_array_size(choices); i++) {
        json_t *ch = json_array_get(choices, i);
        json_int_t idx = json_integer_value(json_object_get(ch, "index"));
        json_t *delta = json_object_get(ch, "delta");
        if (idx < 0 || idx >= MAX_CHOICES) {
            /* cannot be checked: drop its text */
            if (json_is_object(delta)) json_object_del(delta, "content");
            continue;
        }
        /* token logprobs carry the text too: never pass on what the reply
         * screener has not released */
        if (json_object_get(ch, "logprobs")) json_object_set_new(ch, "logprobs", json_null());
        if (json_is_object(delta)) json_object_del(delta, "audio"); /* cannot be screened */
        json_t *content = json_object_get(delta, "content");
        if (cs->finished[idx]) {
            if (json_is_object(delta)) json_object_del(delta, "content");
            json_object_set_new(ch, "finish_reason", json_null());
            continue;
        }
        if (json_is_string(content) && json_string_length(content) > 0) {
            mhg_reply_stream *rs = cs_stream(cs, (int)idx);
            const char *rel = NULL;
            size_t rel_len = 0;
            int blocked = 1;
            if (rs &&
                mhg_reply_stream_feed(rs, json_string_value(content), json_string_length(content),
                                      &rel, &rel_len, &blocked) != MHG_OK)
                blocked = 1;
            wipe_json(content);
            if (blocked) {
                json_object_del(delta, "content");
                block_idx = (int)idx;
            } else {
                json_object_set_new(delta, "content", json_stringn(rel ? rel : "", rel_len));
                if (rel_len) emit = 1;
            }
        } else if (json_is_object(delta) && json_object_size(delta) > 0) {
            emit = 1; /* role, tool calls */
        }
        if (json_is_object(delta)) {
            const char *k;
            json_t *v;
            json_object_foreach(delta, k, v) if (strcmp(k, "content")) emit = 1;
        }
        const char *fr = json_string_value(json_object_get(ch, "finish_reason"));
        if (fr && n_finish < MAX_CHOICES) {
            finish_idx[n_finish] = (int)idx;
            snprintf(finish_reason[n_finish], sizeof finish_reason[0], "%s", fr);
            n_finish++;
            json_object_set_new(ch, "finish_reason", json_null());
        }
    }
    if (json_is_object(json_object_get(chunk, "usage"))) emit = 1; /* usage on the last chunk */
    if (emit && block_idx < 0 && !cs->blocked) {
        if (sse_add_json(&cs->out, chunk) != MHG_OK) cs->blocked = 1;
    }
    drop_json(chunk);
    if (block_idx >= 0) {
        cs->blocked = 1;
        cs_finish_choice(cs, block_idx, "content_filter");
        cs_end(cs, NULL, NULL);
        return;
    }
    for (int k = 0; k < n_finish; k++) cs_finish_choice(cs, finish_idx[k], finish_reason[k]);
}

/* Produce more output into cs->out (or finish). */
static void cs_produce(chat_stream *cs) {
    while (!cs->done) {
        int err = 0;
        while (!cs->done && mhgi_sse_next(&cs->up.resp, &cs->ev, &err))
            cs_event(cs, cs->ev.data, cs->ev.len);
        if (cs->done) return;
        if (err) {
            cs_end(cs, "upstream_error", "the model provider sent an oversized stream event");
            return;
        }
        if (cs->out.len > cs->out_off) return; /* something to send */
        if (cs->up.done) {
            if (cs->up.resp.len > 0 && !cs->tail_flushed) {
                /* last event without its blank line */
                cs->tail_flushed = 1;
                if (mhgi_sbuf_add(&cs->up.resp, "\n\n", 2) == MHG_OK) continue;
            }
            if (cs->up.result != CURLE_OK)
                cs_end(cs, cs->up.timed_out ? "upstream_timeout" : "upstream_error",
                       mhgi_upcall_error(&cs->up));
            else
                cs_end(cs, NULL, NULL); /* ended without [DONE] */
            return;
        }
        if (mhgi_upcall_wait(&cs->up, MHGI_WAIT_DATA, &cs->srv->stopping) != MHG_OK &&
            !cs->up.done) {
            mhgi_log(cs->srv, cs->up.client_gone ? "info" : "error", "request %s: upstream stream: %s",
                     cs->r->request_id, mhgi_upcall_error(&cs->up));
            cs_end(cs, cs->up.timed_out ? "upstream_timeout" : "upstream_error",
                   cs->srv->stopping ? "the gateway is shutting down" : mhgi_upcall_error(&cs->up));
            return;
        }
    }
}

static ssize_t cs_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    chat_stream *cs = cls;
    while (cs->out.len == cs->out_off) {
        mhgi_sbuf_reset(&cs->out);
        cs->out_off = 0;
        if (cs->done) return MHD_CONTENT_READER_END_OF_STREAM;
        cs_produce(cs);
        if (cs->blocked && cs->out.len == 0 && cs->done) return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = cs->out.len - cs->out_off;
    if (n > max) n = max;
    memcpy(buf, cs->out.data + cs->out_off, n);
    cs->out_off += n;
    return (ssize_t)n;
}

void mhgi_chat_stream_free(void *cls) {
    chat_stream *cs = cls;
    if (!cs) return;
    mhgi_upcall_end(&cs->up);
    for (int i = 0; i < MAX_CHOICES; i++) mhg_reply_stream_free(cs->rs[i]);
    mhg_reply_result_free(&cs->worst);
    mhgi_screening_free(&cs->sc);
    mhgi_sbuf_free(&cs->ev);
    mhgi_sbuf_free(&cs->out);
    mhgi_metrics_observe(&cs->srv->metrics, MHGI_HIST_TOTAL, mhgi_now() - cs->t_start);
    mhgi_worker_put(cs->srv, cs->worker);
    free(cs);
}

static enum MHD_Result start_stream(mhgi_req *r, json_t *body, mhgi_screening *sc,
                                    const mhgi_meta *meta, const mhg_reply_context *ctx,
                                    mhgi_upcall *up) {
    chat_stream *cs = calloc(1, sizeof *cs);
    if (!cs) {
        mhgi_upcall_end(up);
        return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "out of memory");
    }
    cs->r = r;
    cs->srv = r->srv;
    cs->worker = r->worker;
    r->worker = NULL; /* the stream owns it now */
    cs->up = *up;     /* move: the curl callbacks point at the upcall, re-point them */
    curl_easy_setopt(cs->up.easy, CURLOPT_WRITEDATA, &cs->up);
    curl_easy_setopt(cs->up.easy, CURLOPT_HEADERDATA, &cs->up);
    mhgi_sbuf_init(&cs->ev, MHG_MAX_BODY_BYTES);
    mhgi_sbuf_init(&cs->out, MHG_MAX_BODY_BYTES);
    cs->sc = *sc; /* move */
    mhgi_screening_init(sc);
    cs->meta = *meta;
    cs->meta.lang = cs->meta.lang_buf[0] ? cs->meta.lang_buf : NULL;
    cs->meta.country = cs->meta.country_buf[0] ? cs->meta.country_buf : NULL;
    cs->meta.conversation = cs->meta.user = cs->meta.clinician = NULL; /* borrowed from body */
    cs->ctx = *ctx;
    cs->ctx.lang = cs->sc.lang;
    cs->ctx.country = cs->sc.country[0] ? cs->sc.country : NULL;
    mhg_reply_result_init(&cs->worst);
    chat_id(r, cs->id, sizeof cs->id);
    const char *model = json_string_value(json_object_get(body, "model"));
    snprintf(cs->model, sizeof cs->model, "%s", model ? model : "unknown");
    cs->created = (json_int_t)time(NULL);
    cs->t_start = r->t_start;
    cs->t_up = up->t_start;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, cs_read, cs,
                                          mhgi_chat_stream_free);
    if (!resp) {
        mhgi_chat_stream_free(cs);
        return MHD_NO;
    }
    r->stream = cs;
    MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    mhgi_add_headers(r, resp);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    r->status = 200;
    r->responded = 1;
    return ret;
}

/* ---- the handler ------------------------------------------------------------------ */

/* Insert the safety system message after the app's own leading system
 * messages: it then comes last among the instructions, closest to the
 * user's words, and the app's persona prompt cannot override it. */
static void inject_system(json_t *msgs, const char *text, size_t len) {
    size_t at = 0;
    while (at < json_array_size(msgs)) {
        const char *role = json_string_value(json_object_get(json_array_get(msgs, at), "role"));
        if (!role || (strcmp(role, "system") && strcmp(role, "developer"))) break;
        at++;
    }
    json_array_insert_new(msgs, at, json_pack("{s:s,s:s%}", "role", "system", "content", text, len));
}

enum MHD_Result mhgi_handle_chat(mhgi_req *r) {
    mhg_server *s = r->srv;
    int sent;
    enum MHD_Result ret;
    json_t *body = mhgi_parse_body(r, &sent, &ret);
    if (!body) return ret;
    int stream = 0;
    const char *bad = validate(body, &stream);
    if (bad) {
        drop_json(body);
        return mhgi_send_error(r, 400, MHGI_E_INVALID_REQUEST, bad);
    }
    mhgi_meta meta;
    if (!mhgi_meta_read(r, body, 0, &meta, &ret)) {
        drop_json(body);
        return ret;
    }
    mhgi_screening sc;
    mhgi_screening_init(&sc);
    if (!r->authed) {
        /* key store down (server.c): nothing is screened or forwarded */
        sc.fail_stage = "auth";
        mhgi_metrics_inc(&s->metrics.fail_closed);
        mhgi_metrics_inc(&s->metrics.actions[MHGI_ACTION_FAIL_CLOSED]);
        ret = fail_closed_reply(r, body, &sc, &meta);
        drop_json(body);
        return ret;
    }

    /* the user's turns, oldest first */
    json_t *msgs = json_object_get(body, "messages");
    size_t nmsg = json_array_size(msgs);
    mhg_turn *turns = calloc(nmsg, sizeof *turns);
    mhgi_sbuf *parts = calloc(nmsg, sizeof *parts);
    size_t nt = 0;
    int parts_failed = 0;
    if (!turns || !parts) {
        free(turns);
        free(parts);
        drop_json(body);
        return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < nmsg; i++) {
        json_t *m = json_array_get(msgs, i);
        if (strcmp(json_string_value(json_object_get(m, "role")), "user")) continue;
        mhgi_sbuf_init(&parts[nt], MHG_MAX_BODY_BYTES);
        const char *t = NULL;
        size_t len = 0;
        int k = content_text(json_object_get(m, "content"), &parts[nt], &t, &len);
        if (k < 0) parts_failed = 1;
        turns[nt].text = k > 0 ? t : "";
        turns[nt].len = k > 0 ? len : 0;
        nt++;
    }
    if (parts_failed) {
        sc.fail_stage = "screening";
        sc.fail_status = MHG_ERR_NOMEM;
        mhgi_metrics_inc(&s->metrics.fail_closed);
        mhgi_metrics_inc(&s->metrics.actions[MHGI_ACTION_FAIL_CLOSED]);
    } else {
        mhgi_gate_screen(r, turns, nt, &meta, &sc);
    }
    for (size_t i = 0; i < nt; i++) mhgi_sbuf_free(&parts[i]);
    free(parts);
    free(turns);

    if (!sc.ok) {
        ret = fail_closed_reply(r, body, &sc, &meta);
        mhgi_screening_free(&sc);
        drop_json(body);
        return ret;
    }
    if (!sc.dec.call_model) {
        /* imminent risk: the model is never called (ASL-MH floor) */
        char *owned = NULL;
        const char *text = sc.dec.reply_text;
        if (!text) text = mhgi_gate_fail_text(r, &meta, &owned);
        ret = send_fixed_reply(r, body, &sc, mhg_action_name(sc.dec.action), text);
        free(owned);
        mhgi_screening_free(&sc);
        drop_json(body);
        return ret;
    }

    /* forward */
    json_object_del(body, "mhguard");
    if (s->pi->upstream_model) json_object_set_new(body, "model", json_string(s->pi->upstream_model));
    if (sc.dec.system_message)
        inject_system(msgs, sc.dec.system_message, sc.dec.system_message_len);
    char *req_json = json_dumps(body, JSON_COMPACT);
    mhgi_upcall up;
    mhg_status st = req_json ? MHG_OK : MHG_ERR_NOMEM;
    mhgi_worker *w = mhgi_worker_get(r);
    if (st == MHG_OK && !w) st = MHG_ERR_NOMEM;
    if (st == MHG_OK)
        st = mhgi_upcall_start(&up, w, &s->upstream, "POST", "/chat/completions", req_json,
                               strlen(req_json), stream);
    if (st != MHG_OK) {
        free_wiped(req_json);
        mhgi_screening_free(&sc);
        drop_json(body);
        return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "cannot start the upstream call");
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) up.client_fd = ci->connect_fd;
    mhg_reply_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.user_risk = sc.v->risk;
    ctx.age_band = meta.age;
    ctx.require_resources = sc.dec.require_resources;
    ctx.reminder_due = sc.dec.reminder_due;
    ctx.lang = sc.lang;
    ctx.country = sc.country[0] ? sc.country : NULL;

    if (!stream) {
        st = mhgi_upcall_wait(&up, MHGI_WAIT_DONE, &s->stopping);
        mhgi_metrics_observe(&s->metrics, MHGI_HIST_UPSTREAM, mhgi_now() - up.t_start);
        free_wiped(req_json);
        ret = st != MHG_OK ? upstream_unavailable(r, body, &sc, &meta, &up, 1)
                           : finish_plain(r, body, &sc, &meta, &ctx, &up);
        mhgi_upcall_end(&up);
    } else {
        st = mhgi_upcall_wait(&up, MHGI_WAIT_HEADERS, &s->stopping);
        if (st == MHG_OK && up.status != 200) st = mhgi_upcall_wait(&up, MHGI_WAIT_DONE, &s->stopping);
        /* curl needs the request body until the upload is done; the headers
         * of the answer come after it */
        free_wiped(req_json);
        if (st != MHG_OK) {
            ret = upstream_unavailable(r, body, &sc, &meta, &up, 1);
            mhgi_upcall_end(&up);
        } else if (up.status != 200) {
            ret = upstream_unavailable(r, body, &sc, &meta, &up, 0);
            mhgi_upcall_end(&up);
        } else if (strncmp(up.content_type, "text/event-stream", 17)) {
            mhgi_log(s, "error", "request %s: upstream did not stream (Content-Type '%s')",
                     r->request_id, up.content_type);
            mhgi_upcall_end(&up);
            ret = mhgi_send_error(r, 502, MHGI_E_UPSTREAM,
                                  "the model provider did not answer with a stream");
        } else {
            ret = start_stream(r, body, &sc, &meta, &ctx, &up);
        }
    }
    mhgi_screening_free(&sc);
    drop_json(body);
    return ret;
}

enum MHD_Result mhgi_handle_models(mhgi_req *r) {
    mhg_server *s = r->srv;
    mhgi_worker *w = mhgi_worker_get(r);
    if (!w) return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "out of memory");
    mhgi_upcall up;
    if (mhgi_upcall_start(&up, w, &s->upstream, "GET", "/models", NULL, 0, 0) != MHG_OK)
        return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "cannot start the upstream call");
    enum MHD_Result ret;
    if (mhgi_upcall_wait(&up, MHGI_WAIT_DONE, &s->stopping) != MHG_OK)
        ret = upstream_failed(r, &up);
    else if (up.status != 200)
        ret = upstream_status(r, &up);
    else
        ret = mhgi_send(r, 200, "application/json", up.resp.data ? up.resp.data : "{}",
                        up.resp.data ? up.resp.len : 2);
    mhgi_upcall_end(&up);
    return ret;
}
