/*
 * escalate.c - pages the on-call webhook for high and imminent risk.
 *
 * A page must never delay the reply to the person in crisis, so requests
 * only enqueue a JSON payload; one worker thread delivers them with a short
 * timeout and one retry. The queue is bounded (a stuck webhook must not
 * grow memory): when full, the page is dropped and counted, and the review
 * queue (which the store keeps durably) remains the record of the case.
 * Payloads hold pseudonymous ids and levels only, never message text.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/server_int.h"

#define ESC_QUEUE_MAX 256
#define ESC_TIMEOUT_MS 3000L

struct mhgi_escalator {
    char *url;
    mhgi_metrics *metrics;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *queue[ESC_QUEUE_MAX];
    size_t qhead, qlen;
    int stop;
    double stop_deadline; /* after stop: pages still queued past this are dropped */
};

static size_t discard(char *p, size_t s, size_t n, void *u) {
    (void)p;
    (void)u;
    return s * n;
}

static int deliver(CURL *e, const char *url, const char *json) {
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ESC_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return rc == CURLE_OK && status >= 200 && status < 300;
}

static void *run(void *arg) {
    mhgi_escalator *e = arg;
    CURL *curl = curl_easy_init();
    pthread_mutex_lock(&e->lock);
    for (;;) {
        while (!e->qlen && !e->stop) pthread_cond_wait(&e->cond, &e->lock);
        if (!e->qlen && e->stop) break;
        char *json = e->queue[e->qhead];
        e->qhead = (e->qhead + 1) % ESC_QUEUE_MAX;
        e->qlen--;
        int late = e->stop && mhgi_now() > e->stop_deadline;
        pthread_mutex_unlock(&e->lock);
        if (late) {
            /* shutting down with a dead webhook: do not hang the exit */
            mhgi_metrics_inc(&e->metrics->escalations_dropped);
            free(json);
            pthread_mutex_lock(&e->lock);
            continue;
        }
        int ok = curl && (deliver(curl, e->url, json) || deliver(curl, e->url, json));
        mhgi_metrics_inc(ok ? &e->metrics->escalations_sent : &e->metrics->escalations_failed);
        free(json);
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    if (curl) curl_easy_cleanup(curl);
    return NULL;
}

mhg_status mhgi_escalator_start(const char *webhook_url, mhgi_metrics *metrics,
                                mhgi_escalator **out) {
    *out = NULL;
    mhgi_escalator *e = calloc(1, sizeof *e);
    if (!e) return MHG_ERR_NOMEM;
    e->url = strdup(webhook_url);
    e->metrics = metrics;
    if (!e->url) {
        free(e);
        return MHG_ERR_NOMEM;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->cond, NULL);
    if (pthread_create(&e->thread, NULL, run, e) != 0) {
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->cond);
        free(e->url);
        free(e);
        return MHG_ERR_INTERNAL;
    }
    *out = e;
    return MHG_OK;
}

void mhgi_escalator_post(mhgi_escalator *e, const char *json, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy) {
        mhgi_metrics_inc(&e->metrics->escalations_dropped);
        return;
    }
    memcpy(copy, json, len);
    copy[len] = '\0';
    pthread_mutex_lock(&e->lock);
    if (e->qlen == ESC_QUEUE_MAX || e->stop) {
        pthread_mutex_unlock(&e->lock);
        free(copy);
        mhgi_metrics_inc(&e->metrics->escalations_dropped);
        return;
    }
    e->queue[(e->qhead + e->qlen) % ESC_QUEUE_MAX] = copy;
    e->qlen++;
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

void mhgi_escalator_stop(mhgi_escalator *e) {
    if (!e) return;
    pthread_mutex_lock(&e->lock);
    e->stop = 1;
    e->stop_deadline = mhgi_now() + 5.0;
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->lock);
    /* the worker drains the queue first; each page is bounded by its timeout */
    pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    free(e->url);
    free(e);
}
