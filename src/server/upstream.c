/*
 * upstream.c - calls to the model provider with libcurl.
 *
 * One easy handle + multi handle pair lives in each worker and is reused, so
 * connections to the upstream are kept alive across requests (a new TLS
 * handshake per chat message would dominate the added latency).
 *
 * The multi interface is used even for plain calls because streaming needs
 * pull semantics: libmicrohttpd asks "give me the next bytes" and we drive
 * curl until some arrive. Timeouts are checked here, not only by curl, so
 * that a stream gets a first-byte deadline and an idle deadline instead of
 * a total one (a long answer that keeps flowing must not be cut off).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server_int.h"

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    mhgi_upcall *c = userdata;
    size_t n = size * nmemb;
    c->last_data = mhgi_now();
    c->received += n;
    if (mhgi_sbuf_add(&c->resp, ptr, n) != MHG_OK) {
        c->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
    mhgi_upcall *c = userdata;
    size_t n = size * nmemb;
    c->last_data = mhgi_now();
    if (n >= 5 && !strncmp(ptr, "HTTP/", 5)) {
        /* a new response (after a 100 Continue, or a redirect): restart */
        c->got_headers = 0;
        c->content_type[0] = '\0';
        const char *sp = memchr(ptr, ' ', n);
        c->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    } else if (n <= 2 && (ptr[0] == '\r' || ptr[0] == '\n')) {
        if (c->status >= 200) c->got_headers = 1;
    } else if (n > 13 && !strncasecmp(ptr, "content-type:", 13)) {
        size_t k = 13;
        while (k < n && (ptr[k] == ' ' || ptr[k] == '\t')) k++;
        size_t e = n;
        while (e > k && (ptr[e - 1] == '\r' || ptr[e - 1] == '\n' || ptr[e - 1] == ' ')) e--;
        size_t len = e - k < sizeof c->content_type - 1 ? e - k : sizeof c->content_type - 1;
        memcpy(c->content_type, ptr + k, len);
        c->content_type[len] = '\0';
    }
    return n;
}

mhg_status mhgi_worker_curl(mhgi_worker *w) {
    if (w->easy) return MHG_OK;
    w->easy = curl_easy_init();
    w->multi = curl_multi_init();
    if (!w->easy || !w->multi) {
        if (w->easy) curl_easy_cleanup(w->easy);
        if (w->multi) curl_multi_cleanup(w->multi);
        w->easy = NULL;
        w->multi = NULL;
        return MHG_ERR_NOMEM;
    }
    return MHG_OK;
}

mhg_status mhgi_upcall_start(mhgi_upcall *c, mhgi_worker *w, const mhgi_upstream *conf,
                             const char *method, const char *path, const char *body, size_t len,
                             int stream) {
    memset(c, 0, sizeof *c);
    c->client_fd = -1;
    mhgi_sbuf_init(&c->resp, conf->max_response);
    c->conf = conf;
    c->stream = stream;
    c->t_start = c->last_data = mhgi_now();
    mhg_status st = mhgi_worker_curl(w);
    if (st != MHG_OK) return st;
    c->easy = w->easy;
    c->multi = w->multi;

    char url[MHGI_URL_MAX + 64];
    int n = snprintf(url, sizeof url, "%s%s", conf->base_url, path);
    if (n < 0 || (size_t)n >= sizeof url) return MHG_ERR_INVALID;

    CURL *e = c->easy;
    curl_easy_reset(e); /* keeps the connection cache */
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, conf->connect_timeout_ms);
    if (!stream) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, conf->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");

    struct curl_slist *h = NULL;
    if (conf->auth_header[0]) h = curl_slist_append(h, conf->auth_header);
    if (!strcmp(method, "POST")) {
        h = curl_slist_append(h, "Content-Type: application/json");
        h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    h = curl_slist_append(h, stream ? "Accept: text/event-stream" : "Accept: application/json");
    c->hdrs = h;
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        curl_slist_free_all(c->hdrs);
        c->hdrs = NULL;
        return MHG_ERR_INTERNAL;
    }
    c->added = 1;
    return MHG_OK;
}

/* One round of curl work, waiting at most wait_ms for the sockets. */
static void step(mhgi_upcall *c, int wait_ms) {
    int running = 0;
    curl_multi_perform(c->multi, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == c->easy) {
            c->done = 1;
            c->result = msg->data.result;
        }
    }
    if (!c->done && running && wait_ms > 0) curl_multi_poll(c->multi, NULL, 0, wait_ms, NULL);
    if (!c->done && !running) {
        /* finished but the DONE message was already consumed: cannot happen
         * with one handle per multi, but never spin forever */
        c->done = 1;
    }
}

mhg_status mhgi_upcall_wait(mhgi_upcall *c, int what, volatile int *stop) {
    unsigned long long had = c->received;
    for (;;) {
        if (what == MHGI_WAIT_HEADERS && c->got_headers) return MHG_OK;
        if (what == MHGI_WAIT_DATA && c->received > had) return MHG_OK;
        if (c->done) break;
        double now = mhgi_now();
        /* Streams: headers within timeout_ms, then no silence longer than
         * idle_timeout_ms. Plain calls: curl's total timeout plus ours. */
        if (!c->got_headers && now - c->t_start > c->conf->timeout_ms / 1000.0) {
            c->timed_out = 1;
            return MHG_ERR_UPSTREAM;
        }
        if (c->stream && c->got_headers && now - c->last_data > c->conf->idle_timeout_ms / 1000.0) {
            c->timed_out = 1;
            return MHG_ERR_UPSTREAM;
        }
        if (!c->stream && now - c->t_start > c->conf->timeout_ms / 1000.0 + 0.5) {
            c->timed_out = 1;
            return MHG_ERR_UPSTREAM;
        }
        if (stop && *stop) return MHG_ERR_UPSTREAM;
        if (c->client_fd >= 0) {
            /* nobody is waiting for this answer any more: free the thread
             * and the upstream connection instead of waiting out the timeout */
            struct pollfd pfd = {c->client_fd, POLLRDHUP, 0};
            if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                c->client_gone = 1;
                return MHG_ERR_UPSTREAM;
            }
        }
        step(c, 50);
    }
    if (c->result == CURLE_OPERATION_TIMEDOUT) c->timed_out = 1;
    if (c->result != CURLE_OK) {
        /* bytes that did arrive before an error are still handed out */
        if (what == MHGI_WAIT_DATA && c->received > had) return MHG_OK;
        return MHG_ERR_UPSTREAM;
    }
    if (what == MHGI_WAIT_HEADERS && !c->got_headers) return MHG_ERR_UPSTREAM;
    return MHG_OK;
}

const char *mhgi_upcall_error(const mhgi_upcall *c) {
    if (c->client_gone) return "the client disconnected before the model answered";
    if (c->timed_out) return "the model provider did not answer in time";
    if (c->too_big) return "the model provider's response exceeded the size limit";
    if (c->done && c->result != CURLE_OK) return curl_easy_strerror(c->result);
    return "the model provider failed";
}

void mhgi_upcall_end(mhgi_upcall *c) {
    if (c->added) {
        curl_multi_remove_handle(c->multi, c->easy);
        c->added = 0;
    }
    if (c->hdrs) curl_slist_free_all(c->hdrs);
    c->hdrs = NULL;
    mhgi_sbuf_free(&c->resp);
}
