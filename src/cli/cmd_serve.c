/*
 * cmd_serve.c - `mhguard serve`: run the gateway until SIGINT or SIGTERM.
 *
 * Exit status: 0 after a clean shutdown; 2 when it cannot start (bad
 * flags, a policy that breaks its ASL-MH level - every broken rule is
 * printed on its own line -, a store or key problem, a port in use).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "mhguard/server.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: mhguard serve --config FILE [options]\n\n"
            "Run the gateway: an OpenAI-compatible proxy and screening API that enforces the\n"
            "policy's ASL-MH level. Flags override the policy file.\n\n"
            "  --config FILE        policy file (YAML; see examples/level*.yaml)\n"
            "  --listen HOST:PORT   address to listen on (port 0: any free port)\n"
            "  --data-dir DIR       state directory: SQLite store and pseudonym key\n"
            "                       (default $MHG_DATA_HOME or ./mhguard-data)\n"
            "  --store URL          store URL instead of DIR (e.g. postgres://...)\n"
            "  --upstream URL       model provider base URL (e.g. https://api.openai.com/v1)\n"
            "  --engine-data DIR    lexicons/models/resources (default: $MHG_DATA_DIR)\n"
            "  --cache-dir DIR      where compiled lexicons are cached (default DIR/cache)\n"
            "  --metrics-loopback   serve /metrics without a key to loopback clients\n"
            "  --access-log         log one line per request (never message text)\n"
            "  --max-connections N  concurrent connections (default 512)\n"
            "  --port-file FILE     write the bound port to FILE once listening\n\n"
            "environment:\n"
            "  MHGUARD_API_KEY      accepted as an app key (local trials)\n"
            "  <upstream.api_key_env from the policy>  the model provider's API key\n");
}

int mhg_cmd_serve(int argc, char **argv) {
    mhg_server_options o;
    memset(&o, 0, sizeof o);
    const char *port_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(flag, field)                                                                    \
    if (!strcmp(a, flag)) {                                                                  \
        if (!v) {                                                                            \
            fprintf(stderr, "mhguard serve: %s needs a value\n", flag);                     \
            return 2;                                                                        \
        }                                                                                    \
        field = v;                                                                           \
        i++;                                                                                 \
        continue;                                                                            \
    }
        TAKE("--config", o.config_path)
        TAKE("--listen", o.listen)
        TAKE("--data-dir", o.data_dir)
        TAKE("--store", o.store_url)
        TAKE("--upstream", o.upstream_url)
        TAKE("--engine-data", o.engine_data)
        TAKE("--cache-dir", o.cache_dir)
        TAKE("--port-file", port_file)
#undef TAKE
        if (!strcmp(a, "--max-connections") && v) {
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            if (*end || n == 0 || n > 100000) {
                fprintf(stderr, "mhguard serve: --max-connections must be 1..100000\n");
                return 2;
            }
            o.max_connections = (unsigned)n;
            i++;
            continue;
        }
        if (!strcmp(a, "--metrics-loopback")) {
            o.metrics_loopback = 1;
            continue;
        }
        if (!strcmp(a, "--access-log")) {
            o.access_log = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            serve_usage(stdout);
            return 0;
        }
        fprintf(stderr, "mhguard serve: unknown option '%s'\n\n", a);
        serve_usage(stderr);
        return 2;
    }
    if (!o.config_path) {
        fprintf(stderr, "mhguard serve: --config FILE is required\n\n");
        serve_usage(stderr);
        return 2;
    }

    static char err[16384];
    mhg_server *s = NULL;
    mhg_status st = mhg_server_open(&o, &s, err, sizeof err);
    if (st != MHG_OK) {
        if (st == MHG_ERR_POLICY) {
            fprintf(stderr, "mhguard serve: refusing to start: the policy %s breaks its ASL-MH "
                            "level's rules:\n",
                    o.config_path);
            /* one broken rule per line, each indented */
            const char *p = err;
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t)(nl - p) : strlen(p);
                if (n) fprintf(stderr, "  %.*s\n", (int)n, p);
                p += n + (nl ? 1 : 0);
            }
        } else {
            fprintf(stderr, "mhguard serve: cannot start: %s\n",
                    err[0] ? err : mhg_strerror(st));
        }
        return 2;
    }
    st = mhg_server_start(s, err, sizeof err);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard serve: %s\n", err[0] ? err : mhg_strerror(st));
        mhg_server_close(s);
        return 2;
    }
    unsigned port = mhg_server_port(s);
    if (port_file) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
            fprintf(stderr, "mhguard serve: cannot write %s\n", port_file);
            mhg_server_close(s);
            return 2;
        }
    }
    fprintf(stderr, "mhguard serve: listening on port %u (policy %s)\n", port, o.config_path);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!g_stop) pause();
    fprintf(stderr, "mhguard serve: shutting down (finishing requests in flight)\n");
    mhg_server_stop(s, 10000);
    mhg_server_close(s);
    fprintf(stderr, "mhguard serve: stopped\n");
    return 0;
}
