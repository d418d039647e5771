/*
 * cmd_screen.c - `mhguard screen`: screen one message and print a readable
 * (or JSON) verdict, or screen JSON lines in parallel with --jsonl.
 *
 * --jsonl is a pipeline: the main thread reads stdin into batches of lines,
 * N worker threads screen whole batches (one mhg_scratch each, one shared
 * engine), and a writer thread writes the batches in input order. A bounded
 * ring of batches keeps memory bounded whatever the input size. Every input
 * line produces exactly one output line (a verdict or an error), so output
 * line N always answers input line N. Uses only the public API.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/commands.h"
#include "common/mhg_limits.h"
#include "mhguard.h"

#define MAX_THREADS 256
#define BATCH_LINES 256
#define BATCH_BYTES (4u * 1024u * 1024u)

static void usage(FILE *f) {
    fprintf(f,
            "usage: mhguard screen [options] TEXT        screen one message ('-': read stdin)\n"
            "       mhguard screen --jsonl [options] < in.jsonl > out.jsonl\n\n"
            "options:\n"
            "  --json            print the verdict as one JSON object (single message)\n"
            "  --lang XX         language hint (en, es, ...); default: detect. With --jsonl,\n"
            "                    used for lines without a \"lang\" field\n"
            "  --turn TEXT       an earlier user message, oldest first (repeatable; single\n"
            "                    message only; with --jsonl use the \"turns\" field)\n"
            "  --data-dir DIR    directory with lexicons/, models/, resources/\n"
            "                    (default: $MHG_DATA_DIR, else the built-in location)\n"
            "  --model FILE      model file; 'none' for rules only (default: DATA_DIR/models)\n"
            "  --jsonl           read JSON lines on stdin, write one JSON line per input line\n"
            "  --threads N       worker threads for --jsonl (default: all cores)\n"
            "  --progress        show progress on stderr (default: when stderr is a terminal)\n"
            "  --no-progress     never show progress\n"
            "  -h, --help        this help\n\n"
            "--jsonl input: one object per line:\n"
            "  {\"id\": any JSON value (optional), \"text\": \"...\", \"lang\": \"xx\" (optional),\n"
            "   \"turns\": [\"earlier user message\", ...] (optional, oldest first; all are\n"
            "   checked, the last %u are screened as context)}\n"
            "--jsonl output, in input order, one line per input line:\n"
            "  {\"id\": ..., \"risk\", \"score\", \"confidence\", \"action\", \"lang\", \"categories\",\n"
            "   \"evidence\", \"flags\", \"versions\"}\n"
            "  or, for a line that cannot be screened (the run goes on):\n"
            "  {\"id\": ... or null, \"line\": N, \"error\": {\"code\": \"...\", \"message\": \"...\"}}\n"
            "  error codes: invalid_json, not_object, missing_text, invalid_utf8, line_too_long\n"
            "  (over %u bytes), text_too_long (over %u bytes), bad_field (lang or turns of the\n"
            "  wrong type), empty_line, engine_error.\n"
            "  Empty (or blank) lines are reported as empty_line errors, never skipped, so\n"
            "  output line N always answers input line N. A last line without a newline\n"
            "  counts. \"\\r\\n\" line ends are accepted.\n"
            "  A summary goes to stderr at the end.\n\n"
            "exit status: 0 all screened; 1 some lines failed (or the message could not be\n"
            "screened); 2 usage or setup error (bad option, engine failed to load, output\n"
            "could not be written).\n",
            MHG_MAX_TURNS - 1, MHG_MAX_LINE_BYTES, MHG_MAX_MESSAGE_BYTES);
}

typedef struct opts {
    int json, jsonl, threads, progress; /* progress: -1 auto */
    const char *lang, *data_dir, *model, *text;
    const char *turns[MHG_MAX_TURNS];
    size_t n_turns;
} opts;

static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("mhguard screen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see mhguard screen --help)\n", stderr);
    va_end(ap);
    return 2;
}

static int valid_lang(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 7) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    o->progress = -1;
    int threads_given = 0, progress_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--jsonl")) {
            o->jsonl = 1;
        } else if (!strcmp(a, "--progress")) {
            o->progress = 1;
            progress_given = 1;
        } else if (!strcmp(a, "--no-progress")) {
            o->progress = 0;
            progress_given = 1;
        } else if (!strcmp(a, "--lang") || !strcmp(a, "--data-dir") || !strcmp(a, "--model") ||
                   !strcmp(a, "--threads") || !strcmp(a, "--turn")) {
            if (!val) return usage_error("%s needs a value", a);
            i++;
            if (!strcmp(a, "--lang")) {
                if (!valid_lang(val)) return usage_error("--lang: '%s' is not a language code", val);
                o->lang = val;
            } else if (!strcmp(a, "--data-dir")) {
                o->data_dir = val;
            } else if (!strcmp(a, "--model")) {
                o->model = !strcmp(val, "none") ? "" : val;
            } else if (!strcmp(a, "--turn")) {
                if (o->n_turns + 1 >= MHG_MAX_TURNS)
                    return usage_error("at most %u earlier turns", MHG_MAX_TURNS - 1);
                o->turns[o->n_turns++] = val;
            } else {
                char *end = NULL;
                errno = 0;
                long t = strtol(val, &end, 10);
                if (errno || !end || *end || t < 1 || t > MAX_THREADS)
                    return usage_error("--threads: expected 1..%d, got '%s'", MAX_THREADS, val);
                o->threads = (int)t;
                threads_given = 1;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error("unknown option '%s'", a);
        } else {
            if (o->text) return usage_error("one TEXT argument only (quote the message)");
            o->text = a;
        }
    }
    if (o->jsonl) {
        if (o->text) return usage_error("--jsonl reads stdin; no TEXT argument");
        if (o->json) return usage_error("--jsonl output is always JSON; drop --json");
        if (o->n_turns) return usage_error("--turn is for one message; use \"turns\" in --jsonl");
    } else {
        if (!o->text) return usage_error("no TEXT to screen (or use --jsonl)");
        if (threads_given || progress_given)
            return usage_error("--threads and --progress apply to --jsonl only");
    }
    if (o->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    return -1;
}

static mhg_engine *load_engine(const opts *o) {
    mhg_engine_options eo;
    memset(&eo, 0, sizeof eo);
    eo.data_dir = o->data_dir;
    eo.model_path = o->model;
    char err[1024] = "";
    mhg_engine *e = NULL;
    mhg_status st = mhg_engine_load(&eo, &e, err, sizeof err);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard screen: cannot load the engine: %s%s%s\n", mhg_strerror(st),
                err[0] ? ": " : "", err);
        return NULL;
    }
    return e;
}

/* ---- one message ---------------------------------------------------------- */

/* Read all of stdin, at most limit+1 bytes (so "too big" is detectable). */
static char *read_stdin_all(size_t limit, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            if (cap > limit) break;
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            free(buf);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *len = n;
    return buf;
}

/* Print bytes for a terminal: controls escaped, cut after max bytes at a
 * character boundary. */
static void print_snippet(const char *s, size_t len, size_t max) {
    size_t n = len;
    int cut = 0;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
        cut = 1;
    }
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '"') fputs("\\\"", stdout);
        else if (c == '\\') fputs("\\\\", stdout);
        else if (c < 0x20 || c == 0x7F) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('"');
    if (cut) fputs("...", stdout);
}

static void print_flags(unsigned flags) {
    int first = 1;
    for (unsigned b = 0; b < MHG_FLAG_COUNT; b++) {
        if (!(flags & (1u << b))) continue;
        printf("%s%s", first ? "" : ", ", mhg_flag_name(1u << b));
        first = 0;
    }
    if (first) fputs("none", stdout);
}

static const char *action_text(mhg_action a) {
    switch (a) {
    case MHG_ACTION_ALLOW: return "no intervention needed";
    case MHG_ACTION_SUPPORT: return "supportive reply; queue for human review";
    case MHG_ACTION_ESCALATE: return "crisis resources required; escalate";
    case MHG_ACTION_CRISIS: return "fixed crisis reply; shortest response time";
    default: return "";
    }
}

static void print_verdict(const mhg_engine *e, const mhg_verdict *v, const mhg_turn *turns,
                          size_t n_turns) {
    char up[16];
    const char *lv = mhg_level_name(v->risk);
    size_t k = 0;
    for (; lv && lv[k] && k + 1 < sizeof up; k++)
        up[k] = (char)(lv[k] >= 'a' && lv[k] <= 'z' ? lv[k] - 32 : lv[k]);
    up[k] = '\0';
    printf("Risk:        %s  (score %.2f, confidence %.2f)\n", up, v->score, v->confidence);
    printf("Action:      %s - %s\n", mhg_action_name(v->action), action_text(v->action));
    printf("Language:    %s\n", v->lang[0] ? v->lang : "und");
    printf("Categories:");
    int any = 0;
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        const mhg_category_result *r = &v->categories[c];
        if (r->level == MHG_LEVEL_NONE) continue;
        printf("\n  %-20s %-9s %.2f", mhg_category_name((mhg_category)c), mhg_level_name(r->level),
               r->score);
        int first = 1;
        for (unsigned b = 0; b < MHG_FACET_COUNT; b++) {
            if (!(r->facets & (1u << b))) continue;
            printf("%s%s", first ? "  facets: " : ", ", mhg_facet_name(1u << b));
            first = 0;
        }
        any = 1;
    }
    printf("%s\n", any ? "" : " none");
    if (v->n_evidence) printf("Evidence (strongest first):\n");
    for (size_t i = 0; i < v->n_evidence; i++) {
        const mhg_evidence *ev = &v->evidence[i];
        printf("  %zu. %s", i + 1, mhg_category_name(ev->category) ? mhg_category_name(ev->category) : "?");
        if (ev->facet && mhg_facet_name(ev->facet)) printf("/%s", mhg_facet_name(ev->facet));
        printf("  weight %.2f  %s %s\n", ev->weight, ev->source == 'm' ? "model feature" : "rule",
               ev->rule_id ? ev->rule_id : "?");
        /* turn 0 is this message, -k the k-th earlier one. */
        const mhg_turn *t = NULL;
        if (ev->turn <= 0 && (size_t)(-ev->turn) < n_turns) t = &turns[n_turns - 1 - (size_t)(-ev->turn)];
        if (ev->source != 'm' || ev->end > ev->start) {
            if (ev->turn == 0) printf("     bytes %zu-%zu: ", ev->start, ev->end);
            else printf("     turn %d, bytes %zu-%zu: ", ev->turn, ev->start, ev->end);
            if (t && ev->start <= ev->end && ev->end <= t->len)
                print_snippet(t->text + ev->start, ev->end - ev->start, 120);
            else
                fputs("(span not available)", stdout);
            putchar('\n');
        }
        if (ev->flags) {
            fputs("     context: ", stdout);
            print_flags(ev->flags);
            putchar('\n');
        }
    }
    fputs("Context:     ", stdout);
    print_flags(v->flags);
    printf("\nVersions:    engine %s, lexicon %s, model %s\n", mhg_engine_version(e),
           mhg_engine_lexicon_version(e), mhg_engine_model_version(e));
}

static int screen_one(const opts *o) {
    size_t len = 0;
    char *owned = NULL;
    const char *text = o->text;
    if (!strcmp(text, "-")) {
        owned = read_stdin_all(MHG_MAX_MESSAGE_BYTES, &len);
        if (!owned) {
            fprintf(stderr, "mhguard screen: cannot read stdin: %s\n", strerror(errno));
            return 2;
        }
        text = owned;
    } else {
        len = strlen(text);
    }
    mhg_engine *e = load_engine(o);
    if (!e) {
        free(owned);
        return 2;
    }
    int rc = 0;
    mhg_scratch *s = NULL;
    mhg_verdict v;
    mhg_verdict_init(&v);
    mhg_turn turns[MHG_MAX_TURNS];
    size_t n = 0;
    for (size_t i = 0; i < o->n_turns; i++, n++) {
        turns[n].text = o->turns[i];
        turns[n].len = strlen(o->turns[i]);
    }
    turns[n].text = text;
    turns[n].len = len;
    n++;
    mhg_status st = mhg_scratch_new(e, &s);
    if (st == MHG_OK)
        st = n > 1 ? mhg_assess_turns(e, s, turns, n, o->lang, &v)
                   : mhg_assess(e, s, text, len, o->lang, NULL, &v);
    if (st != MHG_OK) {
        /* Fail closed: say plainly that this message was NOT screened. */
        const char *code = st == MHG_ERR_UTF8 ? "invalid_utf8"
                           : st == MHG_ERR_TOO_BIG ? "text_too_long" : "engine_error";
        if (o->json)
            printf("{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", code, mhg_strerror(st));
        fprintf(stderr, "mhguard screen: the message was not screened: %s\n", mhg_strerror(st));
        rc = 1;
    } else if (o->json) {
        char *js = NULL;
        st = mhg_verdict_to_json(e, &v, text, len, &js);
        if (st != MHG_OK) {
            fprintf(stderr, "mhguard screen: cannot encode the verdict: %s\n", mhg_strerror(st));
            rc = 1;
        } else {
            puts(js);
        }
        free(js);
    } else {
        print_verdict(e, &v, turns, n);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mhguard screen: cannot write output: %s\n", strerror(errno));
        rc = 2;
    }
    mhg_verdict_free(&v);
    mhg_scratch_free(s);
    mhg_engine_free(e);
    if (owned) {
        mhg_memzero(owned, len);
        free(owned);
    }
    return rc;
}

/* ---- JSON lines ----------------------------------------------------------- */

typedef struct item {
    size_t line_no; /* 1-based */
    size_t off;     /* bytes kept in batch->in (at most MHG_MAX_LINE_BYTES) */
    size_t len;
    size_t total;   /* real length of the line, without its newline */
} item;

enum { B_FREE = 0, B_QUEUED, B_WORKING, B_DONE };

typedef struct batch {
    size_t seq;
    int state;
    char *in;
    size_t in_len, in_cap;
    item items[BATCH_LINES];
    size_t n;
    char *out;
    size_t out_len, out_cap;
    int out_failed; /* ran out of memory building output */
    size_t failed;
} batch;

typedef struct pipeline {
    const mhg_engine *engine;
    const opts *o;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done, cv_free;
    batch *ring;
    size_t nring;
    size_t next_fill, next_work, next_write; /* batch sequence numbers */
    int eof;
    /* writer results */
    size_t lines, failed;
    int write_error;
    int show_progress, progress_shown;
    double t0, last_progress;
} pipeline;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    char *nb = realloc(*buf, c);
    if (!nb) return -1;
    *buf = nb;
    *cap = c;
    return 0;
}

static void out_add(batch *b, const char *s, size_t n) {
    if (b->out_failed) return;
    if (grow(&b->out, &b->out_cap, b->out_len + n + 1) != 0) {
        b->out_failed = 1;
        return;
    }
    memcpy(b->out + b->out_len, s, n);
    b->out_len += n;
}

static void out_adds(batch *b, const char *s) { out_add(b, s, strlen(s)); }

/* {"id": <id>, "line": N, "error": {"code": ..., "message": ...}} */
static void out_error(batch *b, const item *it, json_t *id, const char *code, const char *fmt,
                      ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o = json_object();
    json_t *e = json_object();
    char *s = NULL;
    if (o && e) {
        json_object_set(o, "id", id ? id : json_null());
        json_object_set_new(o, "line", json_integer((json_int_t)it->line_no));
        json_object_set_new(e, "code", json_string(code));
        /* vsnprintf may cut a multi-byte character; jansson rejects that. */
        json_t *m = json_string(msg);
        json_object_set_new(e, "message", m ? m : json_string("(message not encodable)"));
        json_object_set(o, "error", e);
        s = json_dumps(o, JSON_COMPACT);
    }
    if (s) {
        out_adds(b, s);
    } else {
        /* Last resort, still one well-formed line. */
        char fb[128];
        snprintf(fb, sizeof fb, "{\"id\":null,\"line\":%zu,\"error\":{\"code\":\"%s\"}}",
                 it->line_no, code);
        out_adds(b, fb);
    }
    out_add(b, "\n", 1);
    free(s);
    json_decref(e);
    json_decref(o);
    b->failed++;
}

typedef struct worker {
    pipeline *p;
    pthread_t tid;
    mhg_scratch *scratch;
    mhg_verdict v;
    int started;
} worker;

static int all_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 0;
    return 1;
}

static void screen_item(worker *w, batch *b, const item *it) {
    const opts *o = w->p->o;
    const char *line = b->in + it->off;
    size_t len = it->len;
    if (it->total > MHG_MAX_LINE_BYTES) {
        out_error(b, it, NULL, "line_too_long", "line is %zu bytes; the limit is %u", it->total,
                  MHG_MAX_LINE_BYTES);
        return;
    }
    if (len && line[len - 1] == '\r') len--;
    if (all_blank(line, len)) {
        out_error(b, it, NULL, "empty_line", "empty line; expected a JSON object");
        return;
    }
    if (!mhg_utf8_valid(line, len)) {
        out_error(b, it, NULL, "invalid_utf8", "line is not valid UTF-8");
        return;
    }
    json_error_t je;
    json_t *root = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                              &je);
    if (!root) {
        /* An escaped lone surrogate ("\ud800") is invalid UTF-8 in the text. */
        int bad_unicode = json_error_code(&je) == json_error_invalid_utf8 ||
                          strstr(je.text, "Unicode") != NULL;
        out_error(b, it, NULL, bad_unicode ? "invalid_utf8" : "invalid_json", "%s (column %d)",
                  je.text, je.column);
        return;
    }
    if (!json_is_object(root)) {
        out_error(b, it, NULL, "not_object", "expected a JSON object, got %s",
                  json_is_array(root) ? "an array" : json_is_string(root) ? "a string"
                                     : json_is_null(root) ? "null" : "a number or boolean");
        json_decref(root);
        return;
    }
    json_t *id = json_object_get(root, "id");
    json_t *text = json_object_get(root, "text");
    json_t *lang = json_object_get(root, "lang");
    json_t *jturns = json_object_get(root, "turns");
    const char *lang_s = o->lang;
    mhg_turn turns[MHG_MAX_TURNS];
    size_t n = 0;
    if (!text) {
        out_error(b, it, id, "missing_text", "no \"text\" field");
        goto done;
    }
    if (!json_is_string(text)) {
        out_error(b, it, id, "missing_text", "\"text\" must be a string");
        goto done;
    }
    if (json_string_length(text) > MHG_MAX_MESSAGE_BYTES) {
        out_error(b, it, id, "text_too_long", "text is %zu bytes; the limit is %u",
                  json_string_length(text), MHG_MAX_MESSAGE_BYTES);
        goto done;
    }
    if (lang && !json_is_null(lang)) {
        if (!json_is_string(lang) || !valid_lang(json_string_value(lang))) {
            out_error(b, it, id, "bad_field", "\"lang\" must be a language code such as \"en\"");
            goto done;
        }
        lang_s = json_string_value(lang);
    }
    if (jturns && !json_is_null(jturns)) {
        if (!json_is_array(jturns)) {
            out_error(b, it, id, "bad_field", "\"turns\" must be an array of strings");
            goto done;
        }
        size_t nt = json_array_size(jturns);
        /* The engine looks at the last MHG_MAX_TURNS messages; older ones
         * are checked but not passed. */
        size_t first = nt + 1 > MHG_MAX_TURNS ? nt + 1 - MHG_MAX_TURNS : 0;
        for (size_t i = 0; i < nt; i++) {
            json_t *t = json_array_get(jturns, i);
            if (!json_is_string(t)) {
                out_error(b, it, id, "bad_field", "\"turns\"[%zu] must be a string", i);
                goto done;
            }
            if (json_string_length(t) > MHG_MAX_MESSAGE_BYTES) {
                out_error(b, it, id, "text_too_long", "\"turns\"[%zu] is %zu bytes; the limit is %u",
                          i, json_string_length(t), MHG_MAX_MESSAGE_BYTES);
                goto done;
            }
            if (i >= first) {
                turns[n].text = json_string_value(t);
                turns[n].len = json_string_length(t);
                n++;
            }
        }
    }
    turns[n].text = json_string_value(text);
    turns[n].len = json_string_length(text);
    n++;
    mhg_status st = n > 1 ? mhg_assess_turns(w->p->engine, w->scratch, turns, n, lang_s, &w->v)
                          : mhg_assess(w->p->engine, w->scratch, turns[0].text, turns[0].len,
                                       lang_s, NULL, &w->v);
    if (st != MHG_OK) {
        const char *code = st == MHG_ERR_UTF8 ? "invalid_utf8"
                           : st == MHG_ERR_TOO_BIG ? "text_too_long" : "engine_error";
        out_error(b, it, id, code, "not screened: %s", mhg_strerror(st));
        goto done;
    }
    char *vj = NULL;
    st = mhg_verdict_to_json(w->p->engine, &w->v, turns[n - 1].text, turns[n - 1].len, &vj);
    if (st != MHG_OK || !vj || vj[0] != '{' || strchr(vj, '\n')) {
        out_error(b, it, id, "engine_error", "cannot encode the verdict: %s",
                  st != MHG_OK ? mhg_strerror(st) : "not a one-line JSON object");
        free(vj);
        goto done;
    }
    /* {"id":<id>, then the verdict's own fields. */
    char *ids = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (id && !ids) {
        out_error(b, it, NULL, "engine_error", "out of memory");
        free(vj);
        goto done;
    }
    out_adds(b, "{\"id\":");
    out_adds(b, ids ? ids : "null");
    size_t vl = strlen(vj);
    if (vl > 2) {
        out_add(b, ",", 1);
        out_add(b, vj + 1, vl - 1);
    } else {
        out_add(b, "}", 1);
    }
    out_add(b, "\n", 1);
    free(ids);
    free(vj);
done:
    json_decref(root);
}

static void process_batch(worker *w, batch *b) {
    b->out_len = 0;
    b->out_failed = 0;
    b->failed = 0;
    for (size_t i = 0; i < b->n; i++) screen_item(w, b, &b->items[i]);
    /* The input held messages: do not leave them lying in the heap. */
    if (b->in_len) mhg_memzero(b->in, b->in_len);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    pipeline *p = w->p;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->next_work == p->next_fill && !p->eof) pthread_cond_wait(&p->cv_work, &p->mu);
        if (p->next_work == p->next_fill) { /* eof and nothing queued */
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        batch *b = &p->ring[p->next_work % p->nring];
        p->next_work++;
        b->state = B_WORKING;
        pthread_mutex_unlock(&p->mu);
        process_batch(w, b);
        pthread_mutex_lock(&p->mu);
        b->state = B_DONE;
        pthread_cond_broadcast(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
    }
}

static void progress(pipeline *p, int final) {
    if (!p->show_progress) return;
    double t = now_s();
    if (!final && t - p->last_progress < 0.25) return;
    p->last_progress = t;
    double el = t - p->t0;
    fprintf(stderr, "\rmhguard screen: %zu lines, %zu failed, %.0f lines/s   ", p->lines, p->failed,
            el > 0 ? (double)p->lines / el : 0.0);
    if (final) fputc('\n', stderr);
    p->progress_shown = 1;
}

static void *writer_main(void *arg) {
    pipeline *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        batch *b = &p->ring[p->next_write % p->nring];
        while (!(p->next_write < p->next_fill && b->state == B_DONE) &&
               !(p->eof && p->next_write == p->next_fill))
            pthread_cond_wait(&p->cv_done, &p->mu);
        if (p->next_write == p->next_fill) { /* eof: all written */
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        pthread_mutex_unlock(&p->mu);
        if (b->out_failed) {
            /* Could not build this batch's output (out of memory): write one
             * error line per input line rather than lose any. */
            for (size_t i = 0; i < b->n; i++)
                if (printf("{\"id\":null,\"line\":%zu,\"error\":{\"code\":\"engine_error\","
                           "\"message\":\"out of memory\"}}\n",
                           b->items[i].line_no) < 0)
                    p->write_error = errno ? errno : EIO;
            b->failed = b->n;
        } else if (!p->write_error && b->out_len &&
                   fwrite(b->out, 1, b->out_len, stdout) != b->out_len) {
            p->write_error = errno ? errno : EIO;
        }
        if (!p->write_error && fflush(stdout) != 0) p->write_error = errno ? errno : EIO;
        p->lines += b->n;
        p->failed += b->failed;
        progress(p, 0);
        pthread_mutex_lock(&p->mu);
        b->state = B_FREE;
        p->next_write++;
        pthread_cond_broadcast(&p->cv_free);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Bounded line reader on a file descriptor: lines longer than the limit are
 * kept only up to the limit (and reported), never buffered whole. */
typedef struct reader {
    int fd;
    char buf[1 << 16];
    size_t pos, len;
    int eof, err;
} reader;

/* Nonzero when input is ready (or the state is unknown) without blocking. */
static int input_ready(const reader *r) {
    if (r->pos < r->len || r->eof) return 1;
    struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
    return poll(&pfd, 1, 0) != 0;
}

static int fill(reader *r) {
    for (;;) {
        ssize_t n = read(r->fd, r->buf, sizeof r->buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            r->err = errno;
            r->eof = 1;
            return 0;
        }
        r->pos = 0;
        r->len = (size_t)n;
        if (n == 0) r->eof = 1;
        return n > 0;
    }
}

/* Read the next line into b as item it. Returns 1 for a line, 0 at end of
 * input, -1 when out of memory. */
static int read_line(reader *r, batch *b, item *it) {
    it->off = b->in_len;
    it->len = it->total = 0;
    int got = 0;
    for (;;) {
        if (r->pos == r->len && (r->eof || !fill(r))) return got;
        got = 1;
        char *start = r->buf + r->pos;
        char *nl = memchr(start, '\n', r->len - r->pos);
        size_t chunk = nl ? (size_t)(nl - start) : r->len - r->pos;
        size_t room = it->total < MHG_MAX_LINE_BYTES ? MHG_MAX_LINE_BYTES - it->total : 0;
        size_t take = chunk < room ? chunk : room;
        if (take) {
            if (grow(&b->in, &b->in_cap, b->in_len + take + 1) != 0) return -1;
            memcpy(b->in + b->in_len, start, take);
            b->in_len += take;
            it->len += take;
        }
        it->total += chunk;
        r->pos += chunk;
        if (nl) {
            r->pos++;
            return 1;
        }
    }
}

static int screen_jsonl(const opts *o) {
    mhg_engine *e = load_engine(o);
    if (!e) return 2;
    json_object_seed(0); /* before any thread creates objects */
    pipeline p;
    memset(&p, 0, sizeof p);
    p.engine = e;
    p.o = o;
    p.nring = (size_t)o->threads * 2 + 2;
    p.ring = calloc(p.nring, sizeof *p.ring);
    worker *ws = calloc((size_t)o->threads, sizeof *ws);
    reader *rd = calloc(1, sizeof *rd);
    int rc = 0;
    if (!p.ring || !ws || !rd) {
        fprintf(stderr, "mhguard screen: out of memory\n");
        free(p.ring);
        free(ws);
        free(rd);
        mhg_engine_free(e);
        return 2;
    }
    p.show_progress = o->progress == 1 || (o->progress == -1 && isatty(STDERR_FILENO));
    p.t0 = now_s();
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv_work, NULL);
    pthread_cond_init(&p.cv_done, NULL);
    pthread_cond_init(&p.cv_free, NULL);
    int nstarted = 0;
    for (int i = 0; i < o->threads; i++) {
        ws[i].p = &p;
        mhg_verdict_init(&ws[i].v);
        mhg_status st = mhg_scratch_new(e, &ws[i].scratch);
        if (st != MHG_OK) {
            fprintf(stderr, "mhguard screen: cannot create scratch: %s\n", mhg_strerror(st));
            rc = 2;
            break;
        }
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            fprintf(stderr, "mhguard screen: cannot start thread %d\n", i);
            rc = 2;
            break;
        }
        ws[i].started = 1;
        nstarted++;
    }
    pthread_t wtid;
    int writer_started = 0;
    if (rc == 0) {
        if (pthread_create(&wtid, NULL, writer_main, &p) != 0) {
            fprintf(stderr, "mhguard screen: cannot start the writer thread\n");
            rc = 2;
        } else {
            writer_started = 1;
        }
    }
    rd->fd = STDIN_FILENO;
    size_t line_no = 0;
    int oom = 0;
    while (rc == 0) {
        pthread_mutex_lock(&p.mu);
        while (p.next_fill - p.next_write >= p.nring) pthread_cond_wait(&p.cv_free, &p.mu);
        batch *b = &p.ring[p.next_fill % p.nring];
        pthread_mutex_unlock(&p.mu);
        b->n = 0;
        b->in_len = 0;
        int more = 1;
        while (b->n < BATCH_LINES && b->in_len < BATCH_BYTES) {
            /* Streaming input: hand over what we have instead of blocking. */
            if (b->n > 0 && !input_ready(rd)) break;
            item *it = &b->items[b->n];
            int r = read_line(rd, b, it);
            if (r < 0) {
                oom = 1;
                more = 0;
                break;
            }
            if (r == 0) {
                more = 0;
                break;
            }
            it->line_no = ++line_no;
            b->n++;
        }
        pthread_mutex_lock(&p.mu);
        if (b->n > 0) {
            b->seq = p.next_fill;
            b->state = B_QUEUED;
            p.next_fill++;
            pthread_cond_signal(&p.cv_work);
        }
        if (!more) {
            p.eof = 1;
            pthread_cond_broadcast(&p.cv_work);
            pthread_cond_broadcast(&p.cv_done);
        }
        pthread_mutex_unlock(&p.mu);
        if (!more) break;
    }
    if (rc != 0) { /* setup failed: let started threads drain and stop */
        pthread_mutex_lock(&p.mu);
        p.eof = 1;
        pthread_cond_broadcast(&p.cv_work);
        pthread_cond_broadcast(&p.cv_done);
        pthread_mutex_unlock(&p.mu);
    }
    for (int i = 0; i < o->threads; i++)
        if (ws[i].started) pthread_join(ws[i].tid, NULL);
    if (writer_started) pthread_join(wtid, NULL);
    if (writer_started) {
        progress(&p, 1);
        double el = now_s() - p.t0;
        fprintf(stderr, "mhguard screen: %zu lines: %zu screened, %zu failed (%.2f s, %.0f lines/s, %d threads)\n",
                p.lines, p.lines - p.failed, p.failed, el, el > 0 ? (double)p.lines / el : 0.0,
                nstarted);
    }
    if (rc == 0 && rd->err) {
        fprintf(stderr, "mhguard screen: error reading stdin after line %zu: %s\n", line_no,
                strerror(rd->err));
        rc = 2;
    }
    if (rc == 0 && oom) {
        fprintf(stderr, "mhguard screen: out of memory reading line %zu\n", line_no + 1);
        rc = 2;
    }
    if (rc == 0 && p.write_error) {
        fprintf(stderr, "mhguard screen: cannot write output: %s\n", strerror(p.write_error));
        rc = 2;
    }
    if (rc == 0 && p.failed > 0) rc = 1;
    for (size_t i = 0; i < p.nring; i++) {
        if (p.ring[i].in) mhg_memzero(p.ring[i].in, p.ring[i].in_cap);
        if (p.ring[i].out) mhg_memzero(p.ring[i].out, p.ring[i].out_cap);
        free(p.ring[i].in);
        free(p.ring[i].out);
    }
    for (int i = 0; i < o->threads; i++) {
        mhg_verdict_free(&ws[i].v);
        mhg_scratch_free(ws[i].scratch);
    }
    pthread_cond_destroy(&p.cv_free);
    pthread_cond_destroy(&p.cv_done);
    pthread_cond_destroy(&p.cv_work);
    pthread_mutex_destroy(&p.mu);
    free(p.ring);
    free(ws);
    free(rd);
    mhg_engine_free(e);
    return rc;
}

int mhg_cmd_screen(int argc, char **argv) {
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    return o.jsonl ? screen_jsonl(&o) : screen_one(&o);
}
