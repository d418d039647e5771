/*
 * server.c - the gateway's HTTP side: start-up (policy, engine, store,
 * privacy key), the libmicrohttpd daemon, and what every request goes
 * through before its route handler runs: body limit, authentication, role
 * check, rate limit. Route handlers live in chat.c and screen_api.c; the
 * safety path they share is gate.c.
 *
 * Threading: libmicrohttpd runs one thread per connection. A proxied chat
 * call blocks on the upstream for seconds, and a streamed reply is produced
 * by pulling from the upstream inside the response callback; both need a
 * thread that may block, which a small epoll pool would not give.
 * Per-request engine scratch and curl handles come from a pool of workers
 * (one per concurrently active request), so nothing is allocated per
 * request on the hot path once the pool is warm.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server_int.h"

#define DEFAULT_MAX_CONNECTIONS 512u
#define UPSTREAM_DEFAULT_TIMEOUT_MS 60000L
#define UPSTREAM_CONNECT_TIMEOUT_MS 5000L

double mhgi_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mhgi_log(mhg_server *s, const char *level, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (s) pthread_mutex_lock(&s->log_lock);
    fprintf(stderr, "%s mhguard %s: %s\n", ts, level, line);
    fflush(stderr);
    if (s) pthread_mutex_unlock(&s->log_lock);
}

/* ---- workers ---------------------------------------------------------------- */

mhgi_worker *mhgi_worker_get(mhgi_req *r) {
    if (r->worker) return r->worker;
    mhg_server *s = r->srv;
    pthread_mutex_lock(&s->pool_lock);
    mhgi_worker *w = s->pool;
    if (w) s->pool = w->next;
    pthread_mutex_unlock(&s->pool_lock);
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) return NULL;
        mhg_verdict_init(&w->verdict);
        mhg_verdict_init(&w->verdict2);
        if (mhg_scratch_new(s->engine, &w->scratch) != MHG_OK) {
            free(w);
            return NULL;
        }
        pthread_mutex_lock(&s->pool_lock);
        s->workers++;
        pthread_mutex_unlock(&s->pool_lock);
    }
    w->next = NULL;
    r->worker = w;
    return w;
}

void mhgi_worker_put(mhg_server *s, mhgi_worker *w) {
    if (!w) return;
    pthread_mutex_lock(&s->pool_lock);
    w->next = s->pool;
    s->pool = w;
    pthread_mutex_unlock(&s->pool_lock);
}

static void worker_free(mhgi_worker *w) {
    mhg_scratch_free(w->scratch);
    mhg_verdict_free(&w->verdict);
    mhg_verdict_free(&w->verdict2);
    if (w->easy) curl_easy_cleanup(w->easy);
    if (w->multi) curl_multi_cleanup(w->multi);
    free(w);
}

/* ---- responses ---------------------------------------------------------------- */

const char *mhgi_header(mhgi_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void mhgi_add_headers(mhgi_req *r, struct MHD_Response *resp) {
    MHD_add_response_header(resp, "x-request-id", r->request_id);
    if (r->risk_name) MHD_add_response_header(resp, "x-mhguard-risk", r->risk_name);
    if (r->action_name) MHD_add_response_header(resp, "x-mhguard-action", r->action_name);
    if (r->decision_id[0])
        MHD_add_response_header(resp, "x-mhguard-decision-id", r->decision_id);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
}

enum MHD_Result mhgi_send(mhgi_req *r, unsigned status, const char *content_type,
                          const char *body, size_t len) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", content_type);
    mhgi_add_headers(r, resp);
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    r->status = (int)status;
    r->responded = 1;
    return ret;
}

enum MHD_Result mhgi_send_json(mhgi_req *r, unsigned status, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return mhgi_send_error(r, 500, MHGI_E_INTERNAL, "out of memory");
    enum MHD_Result ret = mhgi_send(r, status, "application/json", s, strlen(s));
    free(s);
    return ret;
}

static const char *error_type(unsigned status) {
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 502:
    case 504: return "upstream_error";
    case 503: return "service_unavailable";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

enum MHD_Result mhgi_send_error(mhgi_req *r, unsigned status, int code, const char *message) {
    mhgi_metrics_error(&r->srv->metrics, code);
    /* OpenAI's error shape, so official clients raise their usual errors */
    json_t *j = json_pack("{s:{s:s,s:s,s:s,s:n}}", "error", "message", message, "type",
                          error_type(status), "code", mhgi_err_code_name(code), "param");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    static const char oom[] =
        "{\"error\":{\"message\":\"out of memory\",\"type\":\"api_error\",\"code\":"
        "\"internal_error\",\"param\":null}}";
    enum MHD_Result ret = s ? mhgi_send(r, status, "application/json", s, strlen(s))
                            : mhgi_send(r, status, "application/json", oom, sizeof oom - 1);
    free(s);
    return ret;
}

json_t *mhgi_parse_body(mhgi_req *r, int *sent, enum MHD_Result *ret) {
    *sent = 0;
    const char *body = r->body.data ? r->body.data : "";
    if (!mhg_utf8_valid(body, r->body.len)) {
        *sent = 1;
        *ret = mhgi_send_error(r, 400, MHGI_E_INVALID_UTF8, "the request body is not valid UTF-8");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(body, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        char msg[256];
        /* jansson reports escaped lone surrogates (\ud800) as invalid Unicode */
        int utf = strstr(jerr.text, "nicode") != NULL;
        snprintf(msg, sizeof msg, "malformed JSON at line %d column %d: %s", jerr.line,
                 jerr.column, jerr.text);
        *sent = 1;
        *ret = mhgi_send_error(r, 400, utf ? MHGI_E_INVALID_UTF8 : MHGI_E_INVALID_JSON, msg);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        *sent = 1;
        *ret = mhgi_send_error(r, 400, MHGI_E_INVALID_JSON, "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* ---- routing and access ---------------------------------------------------- */

static int route_of(const char *url, const char *method, int *method_ok) {
    *method_ok = 1;
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int post = !strcmp(method, "POST");
    if (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions")) {
        *method_ok = post;
        return MHGI_ROUTE_CHAT;
    }
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/models")) {
        *method_ok = get;
        return MHGI_ROUTE_MODELS;
    }
    if (!strcmp(url, "/v1/screen")) {
        *method_ok = post;
        return MHGI_ROUTE_SCREEN;
    }
    if (!strcmp(url, "/v1/screen/batch")) {
        *method_ok = post;
        return MHGI_ROUTE_SCREEN_BATCH;
    }
    if (!strcmp(url, "/v1/review/queue")) {
        *method_ok = get;
        return MHGI_ROUTE_REVIEW_QUEUE;
    }
    if (!strncmp(url, "/v1/review/", 11)) {
        const char *slash = strchr(url + 11, '/');
        if (slash && (!strcmp(slash, "/resolve") || !strcmp(slash, "/claim"))) {
            *method_ok = post;
            return MHGI_ROUTE_REVIEW_RESOLVE;
        }
    }
    if (!strcmp(url, "/metrics")) {
        *method_ok = get;
        return MHGI_ROUTE_METRICS;
    }
    if (!strcmp(url, "/healthz")) {
        *method_ok = get;
        return MHGI_ROUTE_HEALTHZ;
    }
    if (!strcmp(url, "/readyz")) {
        *method_ok = get;
        return MHGI_ROUTE_READYZ;
    }
    return MHGI_ROUTE_NOT_FOUND;
}

static int role_allowed(const mhg_server *s, int route, mhg_role role) {
    if (role == MHG_ROLE_ADMIN) return 1;
    switch (route) {
    case MHGI_ROUTE_CHAT:
    case MHGI_ROUTE_MODELS:
    case MHGI_ROUTE_SCREEN:
    case MHGI_ROUTE_SCREEN_BATCH:
        /* ASL-MH level 4: users must authenticate as licensed professionals */
        if (s->pi->clinician_auth) return role == MHG_ROLE_CLINICIAN;
        return role == MHG_ROLE_APP || role == MHG_ROLE_CLINICIAN;
    case MHGI_ROUTE_REVIEW_QUEUE:
    case MHGI_ROUTE_REVIEW_RESOLVE: return role == MHG_ROLE_REVIEWER;
    case MHGI_ROUTE_METRICS: return role == MHG_ROLE_AUDITOR;
    default: return 0;
    }
}

static int client_is_loopback(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return 1;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

static int ct_equal(const char *a, size_t alen, const char *b, size_t blen) {
    /* constant time in the key bytes; the length of the env key is not secret */
    volatile unsigned char d = (unsigned char)(alen != blen);
    size_t n = alen < blen ? alen : blen;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* 1: authenticated; 0: no or bad key; -1: the key store failed. */
static int authenticate(mhgi_req *r) {
    mhg_server *s = r->srv;
    const char *auth = mhgi_header(r, "Authorization");
    if (!auth || strncasecmp(auth, "Bearer ", 7)) return 0;
    const char *key = auth + 7;
    while (*key == ' ') key++;
    size_t len = strlen(key);
    if (len == 0 || len >= MHG_STORE_KEY_MAX) return 0;
    if (s->env_key_len && ct_equal(key, len, s->env_key, s->env_key_len)) {
        r->role = MHG_ROLE_APP;
        snprintf(r->actor, sizeof r->actor, "api_key:env");
        return 1;
    }
    mhg_role role;
    int64_t id;
    mhg_status st = mhg_store_key_lookup(s->store, key, len, &role, &id);
    if (st == MHG_OK) {
        r->role = role;
        snprintf(r->actor, sizeof r->actor, "api_key:%lld", (long long)id);
        return 1;
    }
    if (st == MHG_ERR_AUTH) return 0;
    mhgi_log(s, "error", "request %s: key lookup failed: %s", r->request_id,
             mhg_store_errmsg(s->store));
    return -1;
}

/* ---- small routes -------------------------------------------------------------- */

static void label_safe(char *dst, size_t cap, const char *src) {
    size_t o = 0;
    for (; src && *src && o + 1 < cap; src++)
        dst[o++] = (*src == '"' || *src == '\\' || *src == '\n') ? '_' : *src;
    dst[o] = '\0';
}

static enum MHD_Result handle_metrics(mhgi_req *r) {
    mhg_server *s = r->srv;
    mhgi_gauges g;
    memset(&g, 0, sizeof g);
    int64_t open = -1;
    if (mhg_store_review_count_open(s->store, mhg_store_now_ms(), &open, NULL) != MHG_OK)
        open = -1;
    g.review_queue_depth = open;
    mhgi_drift_get(&s->drift, &g.drift_share, &g.drift_window, &g.drift_alarm);
    g.drift_threshold = s->drift.threshold;
    g.asl_level = s->pi->asl_level;
    g.engine_version = s->label_versions[0];
    g.lexicon_version = s->label_versions[1];
    g.model_version = s->label_versions[2];
    g.policy_version = s->label_versions[3];
    mhgi_sbuf out;
    mhgi_sbuf_init(&out, 4u * 1024u * 1024u);
    enum MHD_Result ret;
    if (mhgi_metrics_render(&s->metrics, &g, &out) != MHG_OK)
        ret = mhgi_send_error(r, 500, MHGI_E_INTERNAL, "metrics too large");
    else
        ret = mhgi_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    mhgi_sbuf_free(&out);
    return ret;
}

static enum MHD_Result handle_readyz(mhgi_req *r) {
    mhg_server *s = r->srv;
    const char *why = NULL;
    if (s->stopping) why = "shutting down";
    else if (mhg_store_ping(s->store) != MHG_OK) why = "store unavailable";
    if (why)
        return mhgi_send_json(r, 503, json_pack("{s:s,s:s}", "status", "not_ready", "reason", why));
    return mhgi_send_json(r, 200,
                          json_pack("{s:s,s:i,s:s,s:s}", "status", "ready", "asl_level",
                                    s->pi->asl_level, "policy", s->pi->version, "store",
                                    mhg_store_backend(s->store)));
}

/* ---- the access handler ------------------------------------------------------ */

static mhgi_req *req_new(mhg_server *s, struct MHD_Connection *c, const char *url,
                         const char *method) {
    mhgi_req *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->srv = s;
    r->conn = c;
    r->url = url;
    r->method = method;
    r->t_start = mhgi_now();
    /* request ids need to be unique, not secret: a counter plus a random
     * per-process prefix would do; the store's random id is simpler */
    if (mhg_store_random_id("req", r->request_id, sizeof r->request_id) != MHG_OK)
        snprintf(r->request_id, sizeof r->request_id, "req_%llu",
                 (unsigned long long)atomic_fetch_add(&s->req_counter, 1));
    mhgi_sbuf_init(&r->body, s->body_limit);
    atomic_fetch_add(&s->metrics.in_flight, 1);
    return r;
}

static enum MHD_Result dispatch(mhgi_req *r) {
    mhg_server *s = r->srv;
    int method_ok;
    r->route = route_of(r->url, r->method, &method_ok);
    if (r->route == MHGI_ROUTE_NOT_FOUND)
        return mhgi_send_error(r, 404, MHGI_E_NOT_FOUND, "no such endpoint");
    if (!method_ok) return mhgi_send_error(r, 405, MHGI_E_METHOD, "method not allowed here");
    if (r->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "the request body exceeds the limit of %zu bytes",
                 s->body_limit);
        return mhgi_send_error(r, 413, MHGI_E_TOO_LARGE, msg);
    }
    if (r->route == MHGI_ROUTE_HEALTHZ)
        return mhgi_send_json(r, 200, json_pack("{s:s}", "status", "ok"));
    if (r->route == MHGI_ROUTE_READYZ) return handle_readyz(r);

    int open_metrics = r->route == MHGI_ROUTE_METRICS && s->opts.metrics_loopback &&
                       client_is_loopback(r->conn);
    if (!open_metrics) {
        int a = authenticate(r);
        if (a < 0) {
            if (r->route == MHGI_ROUTE_CHAT) {
                /* the key store is down: we cannot tell who asks, but a person
                 * may be in crisis behind the app - answer safely, never forward */
                r->authed = 0;
                return mhgi_handle_chat(r);
            }
            mhgi_metrics_inc(&s->metrics.fail_closed);
            return mhgi_send_error(r, 503, MHGI_E_FAIL_CLOSED,
                                   "the key store is unavailable; request refused (fail closed)");
        }
        if (a == 0)
            return mhgi_send_error(r, 401, MHGI_E_UNAUTHORIZED,
                                   "missing or invalid API key (Authorization: Bearer <key>)");
        r->authed = 1;
        if (!role_allowed(s, r->route, r->role)) {
            char msg[160];
            snprintf(msg, sizeof msg, "the %s role may not call %s", mhg_role_name(r->role),
                     r->url);
            return mhgi_send_error(r, 403, MHGI_E_FORBIDDEN, msg);
        }
        double retry = 0;
        if (!mhgi_rate_take(&s->rate, r->actor, mhgi_now(), &retry)) {
            char msg[128];
            snprintf(msg, sizeof msg, "rate limit exceeded; retry in %.1f s", retry);
            enum MHD_Result ret = mhgi_send_error(r, 429, MHGI_E_RATE_LIMITED, msg);
            return ret;
        }
    }
    switch (r->route) {
    case MHGI_ROUTE_CHAT: return mhgi_handle_chat(r);
    case MHGI_ROUTE_MODELS: return mhgi_handle_models(r);
    case MHGI_ROUTE_SCREEN: return mhgi_handle_screen(r);
    case MHGI_ROUTE_SCREEN_BATCH: return mhgi_handle_screen_batch(r);
    case MHGI_ROUTE_REVIEW_QUEUE: return mhgi_handle_review_queue(r);
    case MHGI_ROUTE_REVIEW_RESOLVE: {
        const char *id = r->url + 11;
        const char *slash = strchr(id, '/');
        char idbuf[32];
        size_t n = slash ? (size_t)(slash - id) : 0;
        if (n == 0 || n >= sizeof idbuf)
            return mhgi_send_error(r, 404, MHGI_E_NOT_FOUND, "no such review item");
        memcpy(idbuf, id, n);
        idbuf[n] = '\0';
        return mhgi_handle_review_resolve(r, idbuf, !strcmp(slash, "/claim"));
    }
    case MHGI_ROUTE_METRICS: return handle_metrics(r);
    default: return mhgi_send_error(r, 404, MHGI_E_NOT_FOUND, "no such endpoint");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    (void)version;
    mhg_server *s = cls;
    mhgi_req *r = *con_cls;
    if (!r) {
        r = req_new(s, c, url, method);
        if (!r) return MHD_NO;
        *con_cls = r;
        /* refuse an announced oversized body before reading any of it */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > s->body_limit) {
                r->too_big = 1;
                int ok;
                r->route = route_of(url, method, &ok);
                char msg[128];
                snprintf(msg, sizeof msg, "the request body exceeds the limit of %zu bytes",
                         s->body_limit);
                return mhgi_send_error(r, 413, MHGI_E_TOO_LARGE, msg);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && !r->responded &&
            mhgi_sbuf_add(&r->body, upload, *upload_size) != MHG_OK) {
            /* keep reading (and dropping) so the 413 reaches the client */
            r->too_big = 1;
            mhgi_sbuf_free(&r->body);
            mhgi_sbuf_init(&r->body, s->body_limit);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->responded) return MHD_YES;
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    mhg_server *s = cls;
    mhgi_req *r = *con_cls;
    *con_cls = NULL;
    if (!r) return;
    double total = mhgi_now() - r->t_start;
    int status = r->status ? r->status : (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 200 : 499);
    mhgi_metrics_request(&s->metrics, r->route, status);
    /* streams observe their own total when the last byte is out */
    if (!r->stream) mhgi_metrics_observe(&s->metrics, MHGI_HIST_TOTAL, total);
    if (s->opts.access_log)
        mhgi_log(s, "access", "%s %s %s %d %.1fms risk=%s action=%s decision=%s%s",
                 r->request_id, r->method, mhgi_route_name(r->route), status, total * 1000,
                 r->risk_name ? r->risk_name : "-", r->action_name ? r->action_name : "-",
                 r->decision_id[0] ? r->decision_id : "-",
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
    mhgi_worker_put(s, r->worker);
    mhgi_sbuf_free(&r->body);
    atomic_fetch_sub(&s->metrics.in_flight, 1);
    free(r);
}

/* ---- open / start / stop ------------------------------------------------------ */

static int split_listen(const char *listen, char *host, size_t hcap, unsigned *port) {
    const char *colon = strrchr(listen, ':');
    if (!colon) return 0;
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hcap) return 0;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || p > 65535) return 0;
    *port = (unsigned)p;
    return 1;
}

static void err_set(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_set(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static mhg_status open_privacy(mhg_server *s, const char *data_dir, char *err, size_t errlen) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/secret.key", data_dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        err_set(err, errlen, "data directory path too long");
        return MHG_ERR_INVALID;
    }
    uint8_t key[MHG_PRIVACY_KEY_BYTES];
    int created = 0;
    char perr[512] = "";
    mhg_status st = mhg_privacy_load_or_create_key(path, key, &created, perr, sizeof perr);
    if (st != MHG_OK) {
        err_set(err, errlen, "privacy key: %s", perr[0] ? perr : mhg_strerror(st));
        return st;
    }
    st = mhg_privacy_new(key, &s->privacy);
    mhg_memzero(key, sizeof key);
    if (st != MHG_OK) {
        err_set(err, errlen, "privacy: %s", mhg_strerror(st));
        return st;
    }
    if (created) mhgi_log(s, "info", "created a new pseudonym key at %s (back it up)", path);
    return MHG_OK;
}

static mhg_status setup_upstream(mhg_server *s, char *err, size_t errlen) {
    const mhg_policy_info *pi = s->pi;
    const char *base = s->opts.upstream_url ? s->opts.upstream_url : pi->upstream_base_url;
    if (!base || !*base) {
        err_set(err, errlen, "no upstream: set upstream.base_url in the policy or --upstream URL");
        return MHG_ERR_INVALID;
    }
    if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)) {
        err_set(err, errlen, "upstream URL must start with http:// or https:// (got '%s')", base);
        return MHG_ERR_INVALID;
    }
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') bl--;
    if (bl >= sizeof s->upstream.base_url) {
        err_set(err, errlen, "upstream URL too long");
        return MHG_ERR_INVALID;
    }
    memcpy(s->upstream.base_url, base, bl);
    s->upstream.base_url[bl] = '\0';
    s->upstream.auth_header[0] = '\0';
    if (pi->upstream_api_key_env && *pi->upstream_api_key_env) {
        const char *key = getenv(pi->upstream_api_key_env);
        if (key && *key) {
            int n = snprintf(s->upstream.auth_header, sizeof s->upstream.auth_header,
                             "Authorization: Bearer %s", key);
            if (n < 0 || (size_t)n >= sizeof s->upstream.auth_header) {
                err_set(err, errlen, "the key in $%s is too long", pi->upstream_api_key_env);
                mhg_memzero(s->upstream.auth_header, sizeof s->upstream.auth_header);
                return MHG_ERR_INVALID;
            }
        } else {
            mhgi_log(s, "warning",
                     "$%s is not set: calling the upstream without an API key",
                     pi->upstream_api_key_env);
        }
    }
    long t = pi->upstream_timeout_ms ? (long)pi->upstream_timeout_ms : UPSTREAM_DEFAULT_TIMEOUT_MS;
    s->upstream.timeout_ms = t;
    s->upstream.idle_timeout_ms = t;
    s->upstream.connect_timeout_ms = t < UPSTREAM_CONNECT_TIMEOUT_MS ? t : UPSTREAM_CONNECT_TIMEOUT_MS;
    s->upstream.max_response = MHG_MAX_BODY_BYTES;
    return MHG_OK;
}

mhg_status mhg_server_open(const mhg_server_options *opts, mhg_server **out, char *err,
                           size_t errlen) {
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    if (!opts || !opts->config_path) {
        err_set(err, errlen, "no policy file given (--config FILE)");
        return MHG_ERR_INVALID;
    }
    mhg_server *s = calloc(1, sizeof *s);
    if (!s) return MHG_ERR_NOMEM;
    s->opts = *opts;
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_mutex_init(&s->log_lock, NULL);
    mhgi_metrics_init(&s->metrics);
    mhg_status st;

    /* 1. policy: validated against its ASL-MH level; refusals name each rule */
    st = mhg_policy_load(opts->config_path, &s->policy, err, errlen);
    if (st != MHG_OK) goto fail;
    int any_port = 0;
    if (opts->listen) {
        /* The policy validates the address (level 6 refuses public ones) but
         * wants a real port; port 0 ("any free port", for tests and local
         * trials) is validated as host:8080 and bound as 0 below. */
        char host[256], val[300];
        unsigned port;
        if (!split_listen(opts->listen, host, sizeof host, &port)) {
            err_set(err, errlen, "--listen %s: expected HOST:PORT", opts->listen);
            st = MHG_ERR_INVALID;
            goto fail;
        }
        any_port = port == 0;
        if (any_port)
            snprintf(val, sizeof val, strchr(host, ':') ? "[%s]:8080" : "%s:8080", host);
        else
            snprintf(val, sizeof val, "%s", opts->listen);
        char perr[1024] = "";
        st = mhg_policy_override(s->policy, "server.listen", val, perr, sizeof perr);
        if (st != MHG_OK) {
            err_set(err, errlen, "--listen %s: %s", opts->listen, perr[0] ? perr : mhg_strerror(st));
            goto fail;
        }
    }
    if (opts->upstream_url) {
        char perr[1024] = "";
        st = mhg_policy_override(s->policy, "upstream.base_url", opts->upstream_url, perr,
                                 sizeof perr);
        if (st != MHG_OK) {
            err_set(err, errlen, "--upstream %s: %s", opts->upstream_url,
                    perr[0] ? perr : mhg_strerror(st));
            goto fail;
        }
    }
    s->pi = mhg_policy_get(s->policy);

    const char *listen = s->pi->listen ? s->pi->listen : "127.0.0.1:8080";
    if (!split_listen(listen, s->listen_host, sizeof s->listen_host, &s->listen_port)) {
        err_set(err, errlen, "listen address '%s' is not HOST:PORT", listen);
        st = MHG_ERR_INVALID;
        goto fail;
    }
    if (any_port) s->listen_port = 0;
    s->body_limit = s->pi->body_limit && s->pi->body_limit < MHG_MAX_BODY_BYTES
                        ? s->pi->body_limit
                        : MHG_MAX_BODY_BYTES;
    if ((st = setup_upstream(s, err, errlen)) != MHG_OK) goto fail;

    /* 2. engine and reply screener; the data directory first, because the
     * compiled reply lexicon is cached there (compiling it at every start
     * costs seconds) */
    const char *data_dir = opts->data_dir ? opts->data_dir : mhg_store_default_data_dir();
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        err_set(err, errlen, "cannot create data directory %s: %s", data_dir, strerror(errno));
        st = MHG_ERR_IO;
        goto fail;
    }
    char cache_dir[4096];
    int cn = opts->cache_dir ? snprintf(cache_dir, sizeof cache_dir, "%s", opts->cache_dir)
                             : snprintf(cache_dir, sizeof cache_dir, "%s/cache", data_dir);
    if (cn < 0 || (size_t)cn >= sizeof cache_dir || (mkdir(cache_dir, 0700) != 0 && errno != EEXIST))
        cache_dir[0] = '\0'; /* no cache: slower start, never fatal */
    mhg_engine_options eo;
    memset(&eo, 0, sizeof eo);
    eo.data_dir = opts->engine_data;
    eo.cache_dir = opts->cache_dir; /* NULL: the engine's own default */
    st = mhg_engine_load(&eo, &s->engine, err, errlen);
    if (st != MHG_OK) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err ? err : "");
        err_set(err, errlen, "engine: %s", tmp[0] ? tmp : mhg_strerror(st));
        goto fail;
    }
    st = mhg_reply_screener_load(s->policy, NULL, cache_dir[0] ? cache_dir : NULL, &s->replies,
                                 err, errlen);
    if (st != MHG_OK) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err ? err : "");
        err_set(err, errlen, "reply screener: %s", tmp[0] ? tmp : mhg_strerror(st));
        goto fail;
    }

    /* 3. state: store and the pseudonym key */
    st = mhg_store_open(opts->store_url ? opts->store_url : data_dir, &s->store, err, errlen);
    if (st != MHG_OK) {
        char tmp[512];
        snprintf(tmp, sizeof tmp, "%s", err ? err : "");
        err_set(err, errlen, "store: %s", tmp[0] ? tmp : mhg_strerror(st));
        goto fail;
    }
    if ((st = open_privacy(s, data_dir, err, errlen)) != MHG_OK) goto fail;

    const char *envkey = getenv("MHGUARD_API_KEY");
    if (envkey && *envkey) {
        size_t n = strlen(envkey);
        if (n < 16 || n >= sizeof s->env_key) {
            err_set(err, errlen, "MHGUARD_API_KEY must be 16..%zu characters",
                    sizeof s->env_key - 1);
            st = MHG_ERR_INVALID;
            goto fail;
        }
        memcpy(s->env_key, envkey, n + 1);
        s->env_key_len = n;
    }

    /* 4. limits, monitors, paging */
    mhgi_rate_init(&s->rate, s->pi->rate_limit_rps,
                   s->pi->rate_limit_burst ? s->pi->rate_limit_burst : 2.0 * s->pi->rate_limit_rps);
    s->rate_inited = 1;
    if ((st = mhgi_drift_init(&s->drift, s->pi->drift_window, s->pi->drift_alarm_share)) != MHG_OK)
        goto fail;
    if (s->pi->oncall_webhook_url && *s->pi->oncall_webhook_url) {
        if ((st = mhgi_escalator_start(s->pi->oncall_webhook_url, &s->metrics, &s->escalator)) !=
            MHG_OK) {
            err_set(err, errlen, "cannot start the escalation worker");
            goto fail;
        }
    }
    label_safe(s->label_versions[0], sizeof s->label_versions[0], mhg_engine_version(s->engine));
    label_safe(s->label_versions[1], sizeof s->label_versions[1],
               mhg_engine_lexicon_version(s->engine));
    label_safe(s->label_versions[2], sizeof s->label_versions[2],
               mhg_engine_model_version(s->engine));
    label_safe(s->label_versions[3], sizeof s->label_versions[3], s->pi->version);

    /* the start of a serving period is itself an audited event */
    mhg_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.event = "policy_load";
    ev.engine_version = mhg_engine_version(s->engine);
    ev.lexicon_version = mhg_engine_lexicon_version(s->engine);
    ev.model_version = mhg_engine_model_version(s->engine);
    ev.policy_version = s->pi->version;
    ev.actor = "gateway";
    st = mhg_audit_append(s->store, &ev, NULL);
    if (st != MHG_OK) {
        err_set(err, errlen, "audit log: cannot append (%s): %s", mhg_strerror(st),
                mhg_store_errmsg(s->store));
        goto fail;
    }
    *out = s;
    return MHG_OK;

fail:
    mhg_server_close(s);
    return st;
}

mhg_status mhg_server_start(mhg_server *s, char *err, size_t errlen) {
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%u", s->listen_port);
    const char *host = s->listen_host[0] ? s->listen_host : NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0 || !ai) {
        err_set(err, errlen, "cannot resolve listen address '%s': %s", s->listen_host,
                gai_strerror(rc));
        return MHG_ERR_IO;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    unsigned maxc = s->opts.max_connections ? s->opts.max_connections : DEFAULT_MAX_CONNECTIONS;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_LIMIT, maxc,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                                 MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        err_set(err, errlen, "cannot listen on %s:%u (address in use or not permitted)",
                s->listen_host, s->listen_port);
        return MHG_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->bound_port = info && info->port ? info->port : s->listen_port;
    return MHG_OK;
}

unsigned mhg_server_port(const mhg_server *s) {
    return s ? s->bound_port : 0;
}

void mhg_server_stop(mhg_server *s, unsigned grace_ms) {
    if (!s || !s->daemon) return;
    s->stopping = 1;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon); /* stop accepting */
    double until = mhgi_now() + grace_ms / 1000.0;
    while (atomic_load(&s->metrics.in_flight) > 0 && mhgi_now() < until) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    s->daemon = NULL;
    if (s->escalator) {
        mhgi_escalator_stop(s->escalator);
        s->escalator = NULL;
    }
}

void mhg_server_close(mhg_server *s) {
    if (!s) return;
    mhg_server_stop(s, 0);
    if (s->escalator) mhgi_escalator_stop(s->escalator);
    while (s->pool) {
        mhgi_worker *w = s->pool;
        s->pool = w->next;
        worker_free(w);
    }
    mhgi_drift_destroy(&s->drift);
    if (s->rate_inited) mhgi_rate_destroy(&s->rate);
    mhg_reply_screener_free(s->replies);
    mhg_engine_free(s->engine);
    mhg_store_close(s->store);
    mhg_privacy_free(s->privacy);
    mhg_policy_free(s->policy);
    mhg_memzero(s->env_key, sizeof s->env_key);
    mhg_memzero(s->upstream.auth_header, sizeof s->upstream.auth_header);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_mutex_destroy(&s->log_lock);
    free(s);
}
