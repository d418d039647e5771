/*
 * mhguard/server.h - the gateway: an OpenAI-compatible proxy and a
 * screening API in front of a language model, enforcing an ASL-MH policy.
 *
 *   mhg_server  one per process; opened from a policy file, started, stopped
 *               (from a signal handler's flag), closed.
 *
 * Routes (docs/internals/server.md has the details):
 *   POST /v1/chat/completions   proxy, plain and streamed (SSE)        app
 *   GET  /v1/models             proxy                                  app
 *   POST /v1/screen             screen one message                     app
 *   POST /v1/screen/batch       screen many (JSON lines or {"items"})  app
 *   GET  /v1/review/queue       open review items                      reviewer
 *   POST /v1/review/{id}/claim | /resolve                              reviewer
 *   GET  /metrics               Prometheus text                        auditor
 *   GET  /healthz, /readyz      liveness, readiness                    none
 * admin may call everything; at ASL-MH level 4 the chat and screening
 * routes take the clinician role instead of app.
 *
 * Thread use: mhg_server_open/start/close from one thread; requests are
 * served by libmicrohttpd threads (one per connection); mhg_server_stop may
 * be called from any thread.
 */
#ifndef MHGUARD_SERVER_H
#define MHGUARD_SERVER_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhg_server mhg_server;

typedef struct mhg_server_options {
    const char *config_path;  /* policy YAML (required) */
    const char *listen;       /* "HOST:PORT" (port 0: pick a free one); NULL: policy */
    const char *data_dir;     /* state: store + secret key; NULL: mhg_store_default_data_dir() */
    const char *store_url;    /* NULL: <data_dir> (SQLite); e.g. "postgres://..." */
    const char *upstream_url; /* NULL: policy upstream.base_url */
    const char *engine_data;  /* lexicons/models/resources; NULL: engine default */
    const char *cache_dir;    /* compiled lexicons; NULL: <data_dir>/cache for the reply
                                 lexicon, the engine's default for its own */
    int metrics_loopback;     /* serve /metrics without a key to loopback clients */
    int access_log;           /* one line per request on stderr (no message text) */
    unsigned max_connections; /* 0: 512 */
} mhg_server_options;

/*
 * Load the policy (validating it against its ASL-MH level), the engine, the
 * reply screener, open the store and the privacy key. Nothing listens yet.
 * On failure *out is NULL, err holds the reason (for a policy that breaks
 * ASL-MH rules, one line per broken rule) and the status says which stage:
 * MHG_ERR_POLICY / MHG_ERR_PARSE (policy), MHG_ERR_IO, MHG_ERR_STORE, ...
 */
MHG_NODISCARD mhg_status mhg_server_open(const mhg_server_options *opts, mhg_server **out,
                                         char *err, size_t errlen);

/* Bind and start serving. Errors: MHG_ERR_IO (cannot bind; err says why). */
MHG_NODISCARD mhg_status mhg_server_start(mhg_server *s, char *err, size_t errlen);

/* The bound port (after start), useful with port 0. */
unsigned mhg_server_port(const mhg_server *s);

/* Stop accepting, let in-flight requests finish (up to grace_ms), deliver
 * queued escalations, stop. Idempotent. */
void mhg_server_stop(mhg_server *s, unsigned grace_ms);

/* Free everything. NULL is a no-op. Stops first if still running. */
void mhg_server_close(mhg_server *s);

#ifdef __cplusplus
}
#endif
#endif
