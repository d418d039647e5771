/*
 * server_int.h - internals of the gateway (src/server/). Never installed.
 *
 * Files:
 *   server.c     open/close, libmicrohttpd daemon, request lifecycle,
 *                routing, authentication, limits, JSON errors
 *   gate.c       the safety path shared by chat and the screening API:
 *                assess -> decide -> record (store + audit) -> review -> page
 *   chat.c       POST /v1/chat/completions (plain and streamed), GET /v1/models
 *   screen_api.c POST /v1/screen, /v1/screen/batch; review queue endpoints
 *   upstream.c   libcurl calls to the model provider
 *   sse.c        Server-Sent Events parsing of the upstream stream
 *   escalate.c   on-call webhook worker thread
 *   drift.c      use-drift window (ASL-MH level 1)
 *   metrics.c    Prometheus counters and histograms
 *   ratelimit.c  token bucket per API key
 *   sbuf.c       bounded growable buffer
 * Cross-file names use the mhgi_ prefix; docs/internals/server.md explains
 * the design.
 */
#ifndef MHG_SERVER_INT_H
#define MHG_SERVER_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/mhg_limits.h"
#include "mhguard/audit.h"
#include "mhguard/policy.h"
#include "mhguard/privacy.h"
#include "mhguard/risk.h"
#include "mhguard/server.h"
#include "mhguard/store.h"
#include "mhguard/types.h"

/* ---- bounded buffer -------------------------------------------------------- */

typedef struct mhgi_sbuf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len, cap, max;
} mhgi_sbuf;

void mhgi_sbuf_init(mhgi_sbuf *b, size_t max);
void mhgi_sbuf_free(mhgi_sbuf *b); /* wipes, frees; reusable after init */
void mhgi_sbuf_reset(mhgi_sbuf *b); /* len = 0, keeps memory */
MHG_NODISCARD mhg_status mhgi_sbuf_add(mhgi_sbuf *b, const void *p, size_t n);
MHG_NODISCARD mhg_status mhgi_sbuf_adds(mhgi_sbuf *b, const char *s);
MHG_NODISCARD mhg_status mhgi_sbuf_addf(mhgi_sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mhgi_sbuf_consume(mhgi_sbuf *b, size_t n); /* drop the first n bytes */

/* Monotonic seconds. */
double mhgi_now(void);

/* ---- metrics --------------------------------------------------------------- */

enum {
    MHGI_ROUTE_NOT_FOUND = 0,
    MHGI_ROUTE_CHAT,
    MHGI_ROUTE_MODELS,
    MHGI_ROUTE_SCREEN,
    MHGI_ROUTE_SCREEN_BATCH,
    MHGI_ROUTE_REVIEW_QUEUE,
    MHGI_ROUTE_REVIEW_RESOLVE,
    MHGI_ROUTE_METRICS,
    MHGI_ROUTE_HEALTHZ,
    MHGI_ROUTE_READYZ,
    MHGI_ROUTE_COUNT
};

/* Error codes of JSON error bodies ("code" field) - stable names. */
enum {
    MHGI_E_INVALID_JSON = 0,
    MHGI_E_INVALID_UTF8,
    MHGI_E_INVALID_REQUEST,
    MHGI_E_UNAUTHORIZED,
    MHGI_E_FORBIDDEN,
    MHGI_E_NOT_FOUND,
    MHGI_E_METHOD,
    MHGI_E_TOO_LARGE,
    MHGI_E_RATE_LIMITED,
    MHGI_E_UPSTREAM,
    MHGI_E_UPSTREAM_TIMEOUT,
    MHGI_E_FAIL_CLOSED,
    MHGI_E_INTERNAL,
    MHGI_E_AGE_BAND_REQUIRED,
    MHGI_ERR_COUNT
};
const char *mhgi_err_code_name(int code);

/* Actions counted in metrics: the four engine actions plus fail-closed. */
#define MHGI_ACTION_FAIL_CLOSED MHG_ACTION_COUNT
#define MHGI_ACTION_COUNT (MHG_ACTION_COUNT + 1)

enum { MHGI_LANG_UND = 20, MHGI_LANG_OTHER = 21, MHGI_LANG_COUNT = 22 };
enum { MHGI_HIST_SCREEN = 0, MHGI_HIST_UPSTREAM, MHGI_HIST_TOTAL, MHGI_HIST_COUNT };
#define MHGI_HIST_BUCKETS 17

typedef _Atomic unsigned long long mhgi_counter;

typedef struct mhgi_hist {
    mhgi_counter buckets[MHGI_HIST_BUCKETS + 1]; /* last: +Inf */
    mhgi_counter count;
    mhgi_counter sum_us;
} mhgi_hist;

typedef struct mhgi_metrics {
    mhgi_counter requests[MHGI_ROUTE_COUNT][5];
    mhgi_counter verdicts_risk[2][MHG_LEVEL_COUNT]; /* [user|reply][risk] */
    mhgi_counter verdicts_cat[MHG_CAT_COUNT][MHG_LEVEL_COUNT];
    mhgi_counter verdicts_lang[MHGI_LANG_COUNT];
    mhgi_counter actions[MHGI_ACTION_COUNT];
    mhgi_counter replies_checked, replies_blocked, replies_amended;
    mhgi_counter fail_closed, fail_open, upstream_skipped;
    mhgi_counter escalations_sent, escalations_failed, escalations_dropped,
        escalations_unconfigured;
    mhgi_counter errors[MHGI_ERR_COUNT];
    mhgi_hist hist[MHGI_HIST_COUNT];
    _Atomic long long in_flight;
} mhgi_metrics;

/* Values computed at scrape time. Strings are already label-safe. */
typedef struct mhgi_gauges {
    long long review_queue_depth;
    double drift_share;
    size_t drift_window;
    double drift_threshold;
    int drift_alarm;
    int asl_level;
    const char *engine_version, *lexicon_version, *model_version, *policy_version;
} mhgi_gauges;

void mhgi_metrics_init(mhgi_metrics *m);
void mhgi_metrics_request(mhgi_metrics *m, int route, int status);
void mhgi_metrics_error(mhgi_metrics *m, int code);
/* source 0: user message, 1: model reply (reply verdicts count risk only) */
void mhgi_metrics_verdict(mhgi_metrics *m, int source, const mhg_verdict *v, int action,
                          const char *lang);
void mhgi_metrics_observe(mhgi_metrics *m, int hist, double seconds);
void mhgi_metrics_inc(mhgi_counter *counter);
MHG_NODISCARD mhg_status mhgi_metrics_render(mhgi_metrics *m, const mhgi_gauges *g,
                                             mhgi_sbuf *out);
const char *mhgi_route_name(int route);
int mhgi_lang_index(const char *lang);

/* ---- rate limiting --------------------------------------------------------- */

#define MHGI_RATE_SLOTS 1024

typedef struct mhgi_bucket {
    uint64_t key; /* hash of the key id; 0 = empty */
    double tokens, last;
} mhgi_bucket;

typedef struct mhgi_rate {
    pthread_mutex_t lock;
    double per_second, burst;
    mhgi_bucket slots[MHGI_RATE_SLOTS];
} mhgi_rate;

void mhgi_rate_init(mhgi_rate *r, double per_second, double burst);
void mhgi_rate_destroy(mhgi_rate *r);
/* 1: allowed (a token taken); 0: limited, *retry_after = seconds to wait. */
int mhgi_rate_take(mhgi_rate *r, const char *key_id, double now, double *retry_after);

/* ---- use-drift ------------------------------------------------------------- */

typedef struct mhgi_drift {
    pthread_mutex_t lock;
    size_t cap, n, head;   /* ring of the last `cap` conversations */
    uint64_t *keys;
    unsigned char *mh;     /* 1: mental-health content seen in that conversation */
    size_t mh_count;
    double threshold;      /* alarm share; 0 = no alarm */
    size_t min_window;     /* no alarm before this many conversations */
    int alarm;             /* currently above the threshold */
} mhgi_drift;

MHG_NODISCARD mhg_status mhgi_drift_init(mhgi_drift *d, size_t window, double threshold);
void mhgi_drift_destroy(mhgi_drift *d);
/* Record one screened message of conversation key; mh: it had mental-health
 * content. Returns 1 when this observation raised the alarm (rising edge),
 * so the caller logs exactly one alarm line per crossing. */
int mhgi_drift_observe(mhgi_drift *d, uint64_t key, int mh, double *share_out,
                       size_t *window_out);
void mhgi_drift_get(mhgi_drift *d, double *share, size_t *window, int *alarm);

/* ---- escalation ------------------------------------------------------------ */

typedef struct mhgi_escalator mhgi_escalator;
MHG_NODISCARD mhg_status mhgi_escalator_start(const char *webhook_url, mhgi_metrics *metrics,
                                              mhgi_escalator **out);
/* Queue a JSON payload (copied). Never blocks: a full queue drops (counted). */
void mhgi_escalator_post(mhgi_escalator *e, const char *json, size_t len);
/* Deliver what is queued (up to a few seconds), stop the thread, free. */
void mhgi_escalator_stop(mhgi_escalator *e);

/* ---- upstream -------------------------------------------------------------- */

#define MHGI_URL_MAX 2048

typedef struct mhgi_upstream {
    char base_url[MHGI_URL_MAX]; /* without trailing '/' */
    char auth_header[600];       /* "Authorization: Bearer ..." or "" */
    long connect_timeout_ms;
    long timeout_ms;      /* plain: whole call; stream: until the headers */
    long idle_timeout_ms; /* stream: longest silence between chunks */
    size_t max_response;  /* bytes buffered from the upstream at once */
} mhgi_upstream;

/* Per-thread working set, pooled: engine scratch, verdicts, curl handles. */
typedef struct mhgi_worker {
    struct mhgi_worker *next;
    mhg_scratch *scratch;
    mhg_verdict verdict, verdict2;
    CURL *easy;
    CURLM *multi;
} mhgi_worker;

MHG_NODISCARD mhg_status mhgi_worker_curl(mhgi_worker *w);

typedef struct mhgi_upcall {
    const mhgi_upstream *conf;
    CURL *easy;
    CURLM *multi;
    struct curl_slist *hdrs;
    int added, stream;
    mhgi_sbuf resp;   /* body bytes received and not consumed yet */
    long status;
    int got_headers, done, timed_out, too_big;
    unsigned long long received; /* body bytes received in total */
    int client_fd;    /* the app's socket, watched for hang-up; -1: not watched */
    int client_gone;  /* the app disconnected: stop waiting for the model */
    CURLcode result;
    char content_type[128];
    double t_start, last_data;
} mhgi_upcall;

/* HEADERS: the status line and headers are in; DATA: more body bytes than
 * when the wait began (or the end); DONE: the transfer is over. */
enum { MHGI_WAIT_HEADERS = 0, MHGI_WAIT_DATA, MHGI_WAIT_DONE };

MHG_NODISCARD mhg_status mhgi_upcall_start(mhgi_upcall *c, mhgi_worker *w,
                                           const mhgi_upstream *conf, const char *method,
                                           const char *path, const char *body, size_t len,
                                           int stream);
/* Drive the transfer until `what` holds. MHG_ERR_UPSTREAM on failure,
 * timeout (c->timed_out) or *stop. */
MHG_NODISCARD mhg_status mhgi_upcall_wait(mhgi_upcall *c, int what, volatile int *stop);
const char *mhgi_upcall_error(const mhgi_upcall *c);
void mhgi_upcall_end(mhgi_upcall *c);

/* 1 and the data of one complete event in *data; 0 when no complete event
 * is buffered yet (*err = 1 if the event exceeded data's maximum). */
int mhgi_sse_next(mhgi_sbuf *in, mhgi_sbuf *data, int *err);

/* ---- the server ------------------------------------------------------------ */

struct mhg_server {
    mhg_server_options opts;
    mhg_policy *policy;
    const mhg_policy_info *pi;
    mhg_engine *engine;
    mhg_reply_screener *replies;
    mhg_store *store;
    mhg_privacy *privacy;
    struct MHD_Daemon *daemon;
    mhgi_upstream upstream;
    char listen_host[256];
    unsigned listen_port, bound_port;
    int listen_loopback;
    size_t body_limit;
    char env_key[MHG_STORE_KEY_MAX]; /* $MHGUARD_API_KEY, "" if unset */
    size_t env_key_len;

    pthread_mutex_t pool_lock;
    mhgi_worker *pool;
    size_t workers;

    mhgi_metrics metrics;
    mhgi_rate rate;
    int rate_inited;
    mhgi_drift drift;
    mhgi_escalator *escalator;
    pthread_mutex_t log_lock;
    char label_versions[4][128]; /* label-safe engine, lexicon, model, policy */
    volatile int stopping;
    _Atomic unsigned long long req_counter;
};

/* One HTTP request. Lives from the first access-handler call until
 * libmicrohttpd reports the request complete. */
typedef struct mhgi_req {
    mhg_server *srv;
    struct MHD_Connection *conn;
    int route;
    const char *method, *url; /* borrowed from libmicrohttpd for the request */
    mhgi_sbuf body;
    int too_big, responded;
    int status;
    double t_start;
    char request_id[40];
    int authed;
    mhg_role role;
    char actor[48];   /* "api_key:<id>" or "api_key:env"; no secret */
    mhgi_worker *worker;
    /* what mhguard did, for headers and the access log */
    const char *risk_name, *action_name;
    char decision_id[48];
    void *stream; /* chat stream state while an SSE response is being sent */
} mhgi_req;

/* logging: one line on stderr, never message text */
void mhgi_log(mhg_server *s, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

mhgi_worker *mhgi_worker_get(mhgi_req *r); /* NULL: out of memory */
void mhgi_worker_put(mhg_server *s, mhgi_worker *w); /* NULL is a no-op */

/* Responses. body is copied. Each sets r->status and r->responded. */
enum MHD_Result mhgi_send(mhgi_req *r, unsigned status, const char *content_type,
                          const char *body, size_t len);
enum MHD_Result mhgi_send_json(mhgi_req *r, unsigned status, json_t *j); /* steals j */
enum MHD_Result mhgi_send_error(mhgi_req *r, unsigned status, int code, const char *message);
/* Add x-request-id and (when set on r) x-mhguard-risk/action/decision-id. */
void mhgi_add_headers(mhgi_req *r, struct MHD_Response *resp);
const char *mhgi_header(mhgi_req *r, const char *name);

/* Parse the request body as a JSON object, answering 400 itself on failure
 * (*sent = 1 and the MHD result in *ret). */
json_t *mhgi_parse_body(mhgi_req *r, int *sent, enum MHD_Result *ret);

/* ---- the safety path (gate.c) --------------------------------------------- */

/* What the request says about the person and conversation. Strings
 * borrowed from the request. */
typedef struct mhgi_meta {
    const char *conversation; /* raw id from the app; NULL if none */
    const char *user;         /* raw id from the app; NULL if none */
    const char *lang, *country; /* point into the buffers below, or NULL */
    mhg_age_band age;
    const char *clinician;    /* level 5: responsible clinician id */
    char lang_buf[8], country_buf[4];
} mhgi_meta;

/* Everything about one screened user message. */
typedef struct mhgi_screening {
    mhg_verdict *v;            /* the verdict used (points into the worker) */
    mhg_decision dec;
    int ok;                    /* 0: fail closed (screening, policy or store failed) */
    const char *fail_stage;    /* "screening", "policy", "store", "audit" */
    mhg_status fail_status;
    char decision_id[48];
    char user_ps[MHG_PRIVACY_PSEUDONYM_HEX];
    char conv_ps[MHG_PRIVACY_PSEUDONYM_HEX];
    char lang[8];
    char country[8];
    mhg_age_band age;
    int action_index;          /* mhg_action or MHGI_ACTION_FAIL_CLOSED */
    int unrecorded;            /* fail_mode open: an allow decision the store lost */
    char *categories_json;     /* for the reply record; malloc'd */
} mhgi_screening;

void mhgi_screening_init(mhgi_screening *sc);
void mhgi_screening_free(mhgi_screening *sc);

/* Screen the last of turns[0..n-1] with the conversation, decide, record,
 * queue for review and page as the policy says. Never returns an error:
 * on failure sc->ok = 0 and the caller must fail closed. kind: "chat" or
 * "screen" (for the review reason). */
void mhgi_gate_screen(mhgi_req *r, const mhg_turn *turns, size_t n, const mhgi_meta *meta,
                      mhgi_screening *sc);

/* Record a checked model reply (kind "ai_reply"). Returns MHG_OK or the
 * store/audit error (the caller fails closed when it still can). */
MHG_NODISCARD mhg_status mhgi_gate_record_reply(mhgi_req *r, const mhgi_screening *sc,
                                                const mhg_reply_result *res, char *id_out,
                                                size_t id_cap);

/* Best-effort audit of a fail-closed event (no decision row). */
void mhgi_gate_audit_fail_closed(mhgi_req *r, const mhgi_screening *sc);

/* The text to send when failing closed: the policy's crisis reply for the
 * request's country/lang, else the static crisis text. *owned is set when
 * the result must be free()d. Cannot fail. */
const char *mhgi_gate_fail_text(mhgi_req *r, const mhgi_meta *meta, char **owned);

/* Read meta from headers (x-mhguard-*) and the body: for chat the
 * "mhguard" object and OpenAI's "user"; for the screening API (toplevel)
 * the top-level fields conversation_id, user, lang, country, age_band,
 * clinician. Headers win. Returns 0 after sending a 400 on bad values
 * (invalid age band or language, a required band or clinician missing). */
int mhgi_meta_read(mhgi_req *r, json_t *body, int toplevel, mhgi_meta *meta,
                   enum MHD_Result *ret);
/* The same without sending: the error message (static) or NULL; *code is
 * the MHGI_E_* code for it. */
const char *mhgi_meta_parse(mhgi_req *r, json_t *body, int toplevel, mhgi_meta *meta,
                            int *code);

/* ---- route handlers -------------------------------------------------------- */

enum MHD_Result mhgi_handle_chat(mhgi_req *r);
enum MHD_Result mhgi_handle_models(mhgi_req *r);
enum MHD_Result mhgi_handle_screen(mhgi_req *r);
enum MHD_Result mhgi_handle_screen_batch(mhgi_req *r);
enum MHD_Result mhgi_handle_review_queue(mhgi_req *r);
enum MHD_Result mhgi_handle_review_resolve(mhgi_req *r, const char *id_text, int claim);

/* Chat stream teardown from the request-completed callback. */
void mhgi_chat_stream_free(void *stream);

#endif
