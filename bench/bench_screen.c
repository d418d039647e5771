/*
 * bench_screen.c - single-thread throughput and per-message latency of the
 * screening engine (mhg_assess) on real text: (a) chat-length messages and
 * (b) long posts, read from the shared corpus (../shared/data/corpus.jsonl).
 *
 *   chat: every corpus text under 200 bytes, and the first sentence (at most
 *         200 bytes) of every longer one;
 *   long: every corpus text of 200 bytes or more, whole.
 *
 * Reports messages/s, MB/s, p50/p90/p99/p99.9/max latency, and the same
 * throughput for mhg_normalize() alone so the share of each stage is visible.
 * Uses only the public API. See bench/README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mhguard.h"

#define CHAT_MAX 200

typedef struct msg {
    char *text;
    size_t len;
} msg;

typedef struct set {
    const char *name;
    msg *m;
    size_t n, cap, bytes;
} set;

static int set_add(set *s, const char *t, size_t len) {
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 4096;
        msg *nm = realloc(s->m, c * sizeof *nm);
        if (!nm) return -1;
        s->m = nm;
        s->cap = c;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, t, len);
    copy[len] = '\0';
    s->m[s->n].text = copy;
    s->m[s->n].len = len;
    s->n++;
    s->bytes += len;
    return 0;
}

/* Length of the first sentence of t (through its end punctuation), at most
 * CHAT_MAX bytes, cut on a UTF-8 boundary. */
static size_t first_sentence(const char *t, size_t len) {
    size_t i = 0, lim = len < CHAT_MAX ? len : CHAT_MAX;
    for (; i < lim; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\n') break;
        if ((c == '.' || c == '!' || c == '?') && (i + 1 == len || t[i + 1] == ' ' || t[i + 1] == '\n')) {
            i++;
            break;
        }
        /* 。！？ end a sentence without a space */
        if (c == 0xE3 && i + 2 < len && (unsigned char)t[i + 1] == 0x80 && (unsigned char)t[i + 2] == 0x82) {
            i += 3;
            break;
        }
        if (c == 0xEF && i + 2 < len && (unsigned char)t[i + 1] == 0xBC &&
            ((unsigned char)t[i + 2] == 0x81 || (unsigned char)t[i + 2] == 0x9F)) {
            i += 3;
            break;
        }
    }
    if (i > lim) i = lim;
    while (i > 0 && i < len && ((unsigned char)t[i] & 0xC0) == 0x80) i--;
    return i;
}

static int is_blank(const char *t, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (t[i] != ' ' && t[i] != '\n' && t[i] != '\t' && t[i] != '\r') return 0;
    return 1;
}

static int load_corpus(const char *path, size_t max, set *chat, set *lng) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr,
                "bench_screen: cannot open %s: %s\n"
                "The benchmark reads the shared corpus (one JSON object per line with a \"text\"\n"
                "field). It lives outside the repository at ../shared/data/corpus.jsonl (see\n"
                "/work/shared/data/README.md); pass its path: bench_screen PATH/corpus.jsonl\n",
                path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, lines = 0, bad = 0;
    ssize_t r;
    while ((r = getline(&line, &cap, f)) > 0 && (max == 0 || lines < max)) {
        lines++;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)r, 0, &je);
        json_t *t = o ? json_object_get(o, "text") : NULL;
        if (!json_is_string(t)) {
            bad++;
            json_decref(o);
            continue;
        }
        const char *s = json_string_value(t);
        size_t len = json_string_length(t);
        int rc = 0;
        if (len < CHAT_MAX) {
            if (!is_blank(s, len)) rc = set_add(chat, s, len);
        } else {
            size_t fs = first_sentence(s, len);
            if (fs > 0 && !is_blank(s, fs)) rc = set_add(chat, s, fs);
            if (rc == 0) rc = set_add(lng, s, len);
        }
        json_decref(o);
        if (rc != 0) {
            fprintf(stderr, "bench_screen: out of memory\n");
            free(line);
            fclose(f);
            return -1;
        }
    }
    free(line);
    fclose(f);
    fprintf(stderr, "bench_screen: %zu corpus lines read (%zu without text)\n", lines, bad);
    return 0;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *sorted, size_t n, double p) {
    if (n == 0) return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static void cpu_name(char *out, size_t len) {
    snprintf(out, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char buf[512];
    while (fgets(buf, sizeof buf, f)) {
        if (strncmp(buf, "model name", 10) == 0) {
            char *c = strchr(buf, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = '\0';
                snprintf(out, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

typedef struct result {
    size_t msgs, bytes, failed, flagged;
    double secs, cpu_secs; /* wall clock, and CPU time of this thread */
    double *lat;
} result;

/* Screen the set repeatedly: at least one full pass and at least `seconds`. */
static int run_assess(const mhg_engine *e, const set *s, const char *lang, double seconds,
                      result *r) {
    mhg_scratch *sc = NULL;
    mhg_verdict v;
    mhg_verdict_init(&v);
    if (mhg_scratch_new(e, &sc) != MHG_OK) return -1;
    memset(r, 0, sizeof *r);
    /* Warm-up: caches, lazy tables, buffer growth. */
    for (size_t i = 0; i < s->n && i < 2000; i++)
        if (mhg_assess(e, sc, s->m[i].text, s->m[i].len, lang, NULL, &v) != MHG_OK) r->failed++;
    r->failed = 0;
    size_t lat_cap = s->n * 4, passes = 0;
    r->lat = malloc(lat_cap * sizeof *r->lat);
    if (!r->lat) return -1;
    double t0 = now_ns(), c0 = cpu_ns();
    for (;;) {
        for (size_t i = 0; i < s->n; i++) {
            double a = now_ns();
            mhg_status st = mhg_assess(e, sc, s->m[i].text, s->m[i].len, lang, NULL, &v);
            double b = now_ns();
            if (st != MHG_OK) r->failed++;
            else if (v.risk != MHG_LEVEL_NONE) r->flagged++;
            if (r->msgs == lat_cap) {
                double *nl = realloc(r->lat, lat_cap * 2 * sizeof *nl);
                if (!nl) return -1;
                r->lat = nl;
                lat_cap *= 2;
            }
            r->lat[r->msgs++] = b - a;
            r->bytes += s->m[i].len;
        }
        passes++;
        if ((now_ns() - t0) / 1e9 >= seconds) break;
    }
    r->secs = (now_ns() - t0) / 1e9;
    r->cpu_secs = (cpu_ns() - c0) / 1e9;
    (void)passes;
    qsort(r->lat, r->msgs, sizeof *r->lat, cmp_double);
    mhg_verdict_free(&v);
    mhg_scratch_free(sc);
    return 0;
}

static double run_normalize(const set *s, double seconds, size_t *msgs, size_t *bytes) {
    mhg_normalized n;
    mhg_normalized_init(&n);
    *msgs = *bytes = 0;
    double t0 = now_ns();
    do {
        for (size_t i = 0; i < s->n; i++) {
            if (mhg_normalize(s->m[i].text, s->m[i].len, MHG_NORM_TEXT, &n) != MHG_OK) continue;
            (*msgs)++;
            *bytes += s->m[i].len;
        }
    } while ((now_ns() - t0) / 1e9 < seconds);
    double secs = (now_ns() - t0) / 1e9;
    mhg_normalized_free(&n);
    return secs;
}

static void report(const set *s, const result *r, double nsecs, size_t nmsgs, size_t nbytes) {
    printf("\n[%s] %zu distinct messages, mean %.0f bytes\n", s->name, s->n,
           s->n ? (double)s->bytes / (double)s->n : 0.0);
    printf("  mhg_assess     %10.0f msg/s  %7.1f MB/s  wall clock (%zu calls in %.2f s, %zu "
           "failed, %.1f%% flagged)\n",
           (double)r->msgs / r->secs, (double)r->bytes / r->secs / 1e6, r->msgs, r->secs, r->failed,
           r->msgs ? 100.0 * (double)r->flagged / (double)r->msgs : 0.0);
    /* On a shared machine the thread is preempted; CPU time shows what one
     * core does when it is not. */
    printf("  mhg_assess     %10.0f msg/s  %7.1f MB/s  per CPU second of this thread\n",
           (double)r->msgs / r->cpu_secs, (double)r->bytes / r->cpu_secs / 1e6);
    printf("  latency (us)   p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.1f\n",
           pct(r->lat, r->msgs, 0.50) / 1e3, pct(r->lat, r->msgs, 0.90) / 1e3,
           pct(r->lat, r->msgs, 0.99) / 1e3, pct(r->lat, r->msgs, 0.999) / 1e3,
           r->msgs ? r->lat[r->msgs - 1] / 1e3 : 0.0);
    printf("  mhg_normalize  %10.0f msg/s  %7.1f MB/s  (normalization alone, for comparison)\n",
           (double)nmsgs / nsecs, (double)nbytes / nsecs / 1e6);
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_screen [--data-dir DIR] [--model FILE|none] [--lang XX]\n"
            "                    [--seconds S] [--max-lines N] [--only chat|long] CORPUS.jsonl\n"
            "  Single-thread mhg_assess throughput and latency on chat-length messages\n"
            "  and long posts from the shared corpus (../shared/data/corpus.jsonl).\n"
            "  --seconds S    minimum timed run per set (default 3)\n"
            "  --max-lines N  read only the first N corpus lines (default all)\n"
            "  --only SET     run one set: chat or long (for profiling)\n"
            "  --no-normalize skip the normalization-only comparison run (for profiling)\n"
            "  --lang XX      language hint passed to mhg_assess (default: detect)\n");
}

int main(int argc, char **argv) {
    const char *data_dir = NULL, *model = NULL, *lang = NULL, *path = NULL;
    double seconds = 3;
    size_t max = 0;
    const char *only = NULL;
    int skip_norm = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (a[0] == '-' && i + 1 >= argc && strcmp(a, "--no-normalize") != 0) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--data-dir")) data_dir = argv[++i];
        else if (!strcmp(a, "--model")) {
            model = argv[++i];
            if (!strcmp(model, "none")) model = ""; /* rules only */
        }
        else if (!strcmp(a, "--lang")) lang = argv[++i];
        else if (!strcmp(a, "--seconds")) seconds = atof(argv[++i]);
        else if (!strcmp(a, "--max-lines")) max = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--only")) only = argv[++i];
        else if (!strcmp(a, "--no-normalize")) skip_norm = 1;
        else if (a[0] == '-') {
            usage(stderr);
            return 2;
        } else path = a;
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    set chat = {.name = "chat-length (<200 B or first sentence)"};
    set lng = {.name = "long posts (>=200 B, whole)"};
    if (load_corpus(path, max, &chat, &lng) != 0) return 2;

    mhg_engine_options eo;
    memset(&eo, 0, sizeof eo);
    eo.data_dir = data_dir;
    eo.model_path = model;
    char err[1024] = "";
    mhg_engine *e = NULL;
    double tl = now_ns();
    mhg_status st = mhg_engine_load(&eo, &e, err, sizeof err);
    if (st != MHG_OK) {
        fprintf(stderr, "bench_screen: cannot load the engine: %s: %s\n", mhg_strerror(st), err);
        return 2;
    }
    double load_ms = (now_ns() - tl) / 1e6;
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    printf("mhguard %s, lexicon %s, model %s; engine load %.0f ms\n", mhg_engine_version(e),
           mhg_engine_lexicon_version(e), mhg_engine_model_version(e), load_ms);
    printf("CPU: %s; 1 thread; lang hint: %s\n", cpu, lang ? lang : "none (detect)");

    int rc = 0;
    set *sets[2] = {&chat, &lng};
    for (int k = 0; k < 2; k++) {
        if (only && strcmp(only, k == 0 ? "chat" : "long") != 0) continue;
        result r;
        if (run_assess(e, sets[k], lang, seconds, &r) != 0) {
            fprintf(stderr, "bench_screen: out of memory\n");
            rc = 2;
            break;
        }
        size_t nm = 0, nb = 0;
        double ns = skip_norm ? 1 : run_normalize(sets[k], seconds / 3, &nm, &nb);
        report(sets[k], &r, ns, nm, nb);
        free(r.lat);
    }
    mhg_engine_free(e);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sets[k]->n; i++) free(sets[k]->m[i].text);
        free(sets[k]->m);
    }
    return rc;
}
