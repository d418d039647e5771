/*
 * metrics.c - Prometheus counters and histograms, lock-free on the hot path.
 *
 * Every series has a fixed slot known at compile time (labels are enums:
 * risk, category, action, language from a closed list, route, status class),
 * so recording is one atomic add and no label from a request can grow the
 * metric set without bound (an attacker choosing "lang" values must not be
 * able to blow up /metrics). Unknown languages are counted as "other".
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "server/server_int.h"

/* Languages with lexicons (issue 2) plus "und" (undetected) and "other". */
static const char *const lang_names[MHGI_LANG_COUNT] = {
    "en", "es", "fr", "de", "pt", "it", "nl", "pl", "ru", "tr", "ar", "hi",
    "bn", "zh", "ja", "ko", "vi", "th", "id", "sw", "und", "other"};
_Static_assert(sizeof lang_names / sizeof lang_names[0] == MHGI_LANG_COUNT, "lang table");

static const char *const route_names[MHGI_ROUTE_COUNT] = {
    "not_found", "chat", "models", "screen", "screen_batch", "review_queue", "review_resolve",
    "metrics", "healthz", "readyz"};
_Static_assert(sizeof route_names / sizeof route_names[0] == MHGI_ROUTE_COUNT, "route table");

static const char *const hist_names[MHGI_HIST_COUNT] = {"screening", "upstream", "total"};
static const char *const hist_help[MHGI_HIST_COUNT] = {
    "Time spent screening one request (engine + policy), seconds.",
    "Time spent waiting for the upstream model (to the last byte), seconds.",
    "Time from request start to response complete, seconds."};

/* Seconds. Screening is sub-millisecond, upstream is seconds: one ladder covers both. */
static const double hist_bounds[MHGI_HIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10,    30};

const char *mhgi_route_name(int route) {
    return route >= 0 && route < MHGI_ROUTE_COUNT ? route_names[route] : "unknown";
}

int mhgi_lang_index(const char *lang) {
    if (!lang || !*lang) return MHGI_LANG_UND;
    for (int i = 0; i < MHGI_LANG_OTHER; i++)
        if (!strcmp(lang, lang_names[i])) return i;
    return MHGI_LANG_OTHER;
}

void mhgi_metrics_init(mhgi_metrics *m) {
    memset(m, 0, sizeof *m);
}

static int status_class(int status) {
    if (status < 200 || status > 599) return 0;
    return status / 100 - 1; /* 2xx -> 1 ... 5xx -> 4; 0 for oddities */
}

void mhgi_metrics_request(mhgi_metrics *m, int route, int status) {
    if (route < 0 || route >= MHGI_ROUTE_COUNT) route = MHGI_ROUTE_NOT_FOUND;
    atomic_fetch_add_explicit(&m->requests[route][status_class(status)], 1,
                              memory_order_relaxed);
}

void mhgi_metrics_error(mhgi_metrics *m, int code) {
    if (code < 0 || code >= MHGI_ERR_COUNT) return;
    atomic_fetch_add_explicit(&m->errors[code], 1, memory_order_relaxed);
}

void mhgi_metrics_verdict(mhgi_metrics *m, int source, const mhg_verdict *v, int action,
                          const char *lang) {
    if (source < 0 || source > 1) source = 0;
    atomic_fetch_add_explicit(&m->verdicts_risk[source][v->risk], 1, memory_order_relaxed);
    for (int c = 0; c < MHG_CAT_COUNT; c++)
        if (v->categories[c].level > MHG_LEVEL_NONE)
            atomic_fetch_add_explicit(&m->verdicts_cat[c][v->categories[c].level], 1,
                                      memory_order_relaxed);
    if (action >= 0 && action < MHGI_ACTION_COUNT)
        atomic_fetch_add_explicit(&m->actions[action], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->verdicts_lang[mhgi_lang_index(lang)], 1, memory_order_relaxed);
}

void mhgi_metrics_observe(mhgi_metrics *m, int hist, double seconds) {
    if (hist < 0 || hist >= MHGI_HIST_COUNT || !(seconds >= 0)) return;
    mhgi_hist *h = &m->hist[hist];
    int b = 0;
    while (b < MHGI_HIST_BUCKETS && seconds > hist_bounds[b]) b++;
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    /* sum in microseconds: integer atomics are portable, doubles are not */
    atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)(seconds * 1e6 + 0.5),
                              memory_order_relaxed);
}

void mhgi_metrics_inc(_Atomic unsigned long long *counter) {
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static unsigned long long ld(_Atomic unsigned long long *p) {
    return atomic_load_explicit(p, memory_order_relaxed);
}

static const char *const err_names[MHGI_ERR_COUNT] = {
    "invalid_json", "invalid_utf8", "invalid_request", "unauthorized", "forbidden",
    "not_found", "method_not_allowed", "body_too_large", "rate_limited", "upstream_error",
    "upstream_timeout", "fail_closed", "internal_error", "age_band_required"};
_Static_assert(sizeof err_names / sizeof err_names[0] == MHGI_ERR_COUNT, "error table");

const char *mhgi_err_code_name(int code) {
    return code >= 0 && code < MHGI_ERR_COUNT ? err_names[code] : "internal_error";
}

static const char *action_label(int a) {
    if (a == MHGI_ACTION_FAIL_CLOSED) return "fail_closed";
    return mhg_action_name((mhg_action)a);
}

mhg_status mhgi_metrics_render(mhgi_metrics *m, const mhgi_gauges *g, mhgi_sbuf *out) {
    static const char *const status_names[5] = {"other", "2xx", "3xx", "4xx", "5xx"};
    static const char *const source_names[2] = {"user", "reply"};
    mhg_status st = MHG_OK;
#define ADDF(...)                                                                              \
    do {                                                                                       \
        if (st == MHG_OK) st = mhgi_sbuf_addf(out, __VA_ARGS__);                               \
    } while (0)

    ADDF("# HELP mhguard_requests_total HTTP requests by route and status class.\n"
         "# TYPE mhguard_requests_total counter\n");
    for (int r = 0; r < MHGI_ROUTE_COUNT; r++)
        for (int s = 0; s < 5; s++)
            if (ld(&m->requests[r][s]) || (s == 1 && r != MHGI_ROUTE_NOT_FOUND))
                ADDF("mhguard_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                     route_names[r], status_names[s], ld(&m->requests[r][s]));

    ADDF("# HELP mhguard_verdicts_total Screening verdicts by overall risk; source=user for "
         "user messages, reply for model replies.\n# TYPE mhguard_verdicts_total counter\n");
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < MHG_LEVEL_COUNT; l++)
            ADDF("mhguard_verdicts_total{source=\"%s\",risk=\"%s\"} %llu\n", source_names[s],
                 mhg_level_name((mhg_level)l), ld(&m->verdicts_risk[s][l]));

    ADDF("# HELP mhguard_category_verdicts_total Verdicts in which a category reached a level "
         "above none.\n# TYPE mhguard_category_verdicts_total counter\n");
    for (int c = 0; c < MHG_CAT_COUNT; c++)
        for (int l = 1; l < MHG_LEVEL_COUNT; l++)
            if (ld(&m->verdicts_cat[c][l]))
                ADDF("mhguard_category_verdicts_total{category=\"%s\",level=\"%s\"} %llu\n",
                     mhg_category_name((mhg_category)c), mhg_level_name((mhg_level)l),
                     ld(&m->verdicts_cat[c][l]));

    ADDF("# HELP mhguard_actions_total Actions taken on user messages.\n"
         "# TYPE mhguard_actions_total counter\n");
    for (int a = 0; a < MHGI_ACTION_COUNT; a++)
        ADDF("mhguard_actions_total{action=\"%s\"} %llu\n", action_label(a), ld(&m->actions[a]));

    ADDF("# HELP mhguard_verdicts_by_language_total Verdicts by message language.\n"
         "# TYPE mhguard_verdicts_by_language_total counter\n");
    for (int i = 0; i < MHGI_LANG_COUNT; i++)
        if (ld(&m->verdicts_lang[i]))
            ADDF("mhguard_verdicts_by_language_total{lang=\"%s\"} %llu\n", lang_names[i],
                 ld(&m->verdicts_lang[i]));

    ADDF("# HELP mhguard_replies_checked_total Model replies checked against the policy.\n"
         "# TYPE mhguard_replies_checked_total counter\n"
         "mhguard_replies_checked_total %llu\n",
         ld(&m->replies_checked));
    ADDF("# HELP mhguard_replies_blocked_total Model replies blocked and replaced.\n"
         "# TYPE mhguard_replies_blocked_total counter\n"
         "mhguard_replies_blocked_total %llu\n",
         ld(&m->replies_blocked));
    ADDF("# HELP mhguard_replies_amended_total Model replies amended (resources or "
         "disclaimer added).\n# TYPE mhguard_replies_amended_total counter\n"
         "mhguard_replies_amended_total %llu\n",
         ld(&m->replies_amended));
    ADDF("# HELP mhguard_fail_closed_total Requests answered fail-closed because screening, "
         "policy or storage failed.\n# TYPE mhguard_fail_closed_total counter\n"
         "mhguard_fail_closed_total %llu\n",
         ld(&m->fail_closed));
    ADDF("# HELP mhguard_fail_open_total Allowed requests forwarded although their decision "
         "could not be recorded (fail_mode open, ASL-MH level 1 only).\n"
         "# TYPE mhguard_fail_open_total counter\nmhguard_fail_open_total %llu\n",
         ld(&m->fail_open));
    ADDF("# HELP mhguard_upstream_calls_skipped_total Chat requests answered without calling "
         "the model (crisis or fail-closed).\n"
         "# TYPE mhguard_upstream_calls_skipped_total counter\n"
         "mhguard_upstream_calls_skipped_total %llu\n",
         ld(&m->upstream_skipped));
    ADDF("# HELP mhguard_escalations_total On-call escalations by outcome.\n"
         "# TYPE mhguard_escalations_total counter\n"
         "mhguard_escalations_total{outcome=\"sent\"} %llu\n"
         "mhguard_escalations_total{outcome=\"failed\"} %llu\n"
         "mhguard_escalations_total{outcome=\"dropped\"} %llu\n"
         "mhguard_escalations_total{outcome=\"not_configured\"} %llu\n",
         ld(&m->escalations_sent), ld(&m->escalations_failed), ld(&m->escalations_dropped),
         ld(&m->escalations_unconfigured));

    ADDF("# HELP mhguard_errors_total Error responses by code.\n"
         "# TYPE mhguard_errors_total counter\n");
    for (int e = 0; e < MHGI_ERR_COUNT; e++)
        ADDF("mhguard_errors_total{code=\"%s\"} %llu\n", err_names[e], ld(&m->errors[e]));

    for (int h = 0; h < MHGI_HIST_COUNT; h++) {
        mhgi_hist *hp = &m->hist[h];
        ADDF("# HELP mhguard_%s_seconds %s\n# TYPE mhguard_%s_seconds histogram\n",
             hist_names[h], hist_help[h], hist_names[h]);
        unsigned long long cum = 0;
        for (int b = 0; b < MHGI_HIST_BUCKETS; b++) {
            cum += ld(&hp->buckets[b]);
            ADDF("mhguard_%s_seconds_bucket{le=\"%g\"} %llu\n", hist_names[h], hist_bounds[b],
                 cum);
        }
        cum += ld(&hp->buckets[MHGI_HIST_BUCKETS]);
        ADDF("mhguard_%s_seconds_bucket{le=\"+Inf\"} %llu\n", hist_names[h], cum);
        ADDF("mhguard_%s_seconds_sum %.6f\n", hist_names[h], (double)ld(&hp->sum_us) / 1e6);
        ADDF("mhguard_%s_seconds_count %llu\n", hist_names[h], ld(&hp->count));
    }

    ADDF("# HELP mhguard_review_queue_depth Open items in the human review queue (-1: "
         "unknown).\n# TYPE mhguard_review_queue_depth gauge\nmhguard_review_queue_depth %lld\n",
         g->review_queue_depth);
    ADDF("# HELP mhguard_use_drift_share Share of recent conversations with mental-health "
         "content (ASL-MH level 1 use-drift).\n# TYPE mhguard_use_drift_share gauge\n"
         "mhguard_use_drift_share %.6f\n",
         g->drift_share);
    ADDF("# HELP mhguard_use_drift_conversations Conversations in the use-drift window.\n"
         "# TYPE mhguard_use_drift_conversations gauge\nmhguard_use_drift_conversations %zu\n",
         g->drift_window);
    ADDF("# HELP mhguard_use_drift_threshold Configured alarm share (0: no alarm).\n"
         "# TYPE mhguard_use_drift_threshold gauge\nmhguard_use_drift_threshold %.6f\n",
         g->drift_threshold);
    ADDF("# HELP mhguard_use_drift_alarm 1 while the use-drift share is above the threshold.\n"
         "# TYPE mhguard_use_drift_alarm gauge\nmhguard_use_drift_alarm %d\n",
         g->drift_alarm);
    ADDF("# HELP mhguard_asl_mh_level ASL-MH level declared by the policy.\n"
         "# TYPE mhguard_asl_mh_level gauge\nmhguard_asl_mh_level %d\n",
         g->asl_level);
    ADDF("# HELP mhguard_build_info Versions of the engine, lexicon, model and policy.\n"
         "# TYPE mhguard_build_info gauge\nmhguard_build_info{engine=\"%s\",lexicon=\"%s\","
         "model=\"%s\",policy=\"%s\"} 1\n",
         g->engine_version, g->lexicon_version, g->model_version, g->policy_version);
    ADDF("# HELP mhguard_in_flight_requests Requests being handled now.\n"
         "# TYPE mhguard_in_flight_requests gauge\nmhguard_in_flight_requests %lld\n",
         (long long)atomic_load(&m->in_flight));
#undef ADDF
    return st;
}
