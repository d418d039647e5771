/*
 * audit.c - the hash-chained audit log on top of the store's audit rows.
 * Format and threat model: include/mhguard/audit.h, docs/internals/audit.md.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "mhguard/audit.h"

#define HASH_BYTES 32u

static const char *const fault_names[MHG_AUDIT_FAULT_COUNT] = {
    "ok", "hash_mismatch", "prev_mismatch", "seq_gap", "seq_mismatch", "bad_record",
    "anchor_mismatch"};
_Static_assert(sizeof fault_names / sizeof fault_names[0] == MHG_AUDIT_FAULT_COUNT,
               "fault_names must name every fault");

const char *mhg_audit_fault_name(mhg_audit_fault fault) {
    return (unsigned)fault < MHG_AUDIT_FAULT_COUNT ? fault_names[fault] : NULL;
}

/* JSON dump flags that make a record canonical (see audit.h). */
#define CANON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

/* hash = BLAKE2b-256(prev (32 raw bytes) || record). prev_hex must be 64
 * hex digits; returns -1 otherwise. */
static int chain_hash(const char *prev_hex, const char *record, size_t len,
                      char out_hex[MHG_AUDIT_HASH_HEX]) {
    unsigned char prev[HASH_BYTES], h[HASH_BYTES];
    size_t n = 0;
    if (strlen(prev_hex) != 2 * HASH_BYTES ||
        sodium_hex2bin(prev, sizeof prev, prev_hex, 2 * HASH_BYTES, NULL, &n, NULL) != 0 ||
        n != HASH_BYTES)
        return -1;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASH_BYTES);
    crypto_generichash_update(&st, prev, sizeof prev);
    crypto_generichash_update(&st, (const unsigned char *)record, len);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(out_hex, MHG_AUDIT_HASH_HEX, h, sizeof h);
    return 0;
}

static void format_time(int64_t ms, char out[32]) {
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

/* ---- building records -------------------------------------------------- */

static mhg_status set_str(json_t *o, const char *key, const char *v) {
    if (!v) return MHG_OK;
    size_t n = strlen(v);
    if (n > MHG_STORE_FIELD_MAX) return MHG_ERR_TOO_BIG;
    if (!mhg_utf8_valid(v, n)) return MHG_ERR_UTF8;
    if (json_object_set_new(o, key, json_stringn(v, n)) != 0) return MHG_ERR_NOMEM;
    return MHG_OK;
}

/* A JSON array of short strings (names and rule ids - never text). */
static mhg_status set_array(json_t *o, const char *key, const char *v) {
    if (!v) return MHG_OK;
    size_t n = strlen(v);
    if (n > MHG_STORE_JSON_MAX) return MHG_ERR_TOO_BIG;
    json_t *a = json_loadb(v, n, 0, NULL);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return MHG_ERR_INVALID;
    }
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        if (!json_is_string(x) || json_string_length(x) > MHG_STORE_FIELD_MAX) {
            json_decref(a);
            return MHG_ERR_INVALID;
        }
    }
    if (json_object_set_new(o, key, a) != 0) return MHG_ERR_NOMEM;
    return MHG_OK;
}

/* The record without "seq" (added under the append lock). */
static mhg_status event_to_json(const mhg_audit_event *ev, json_t **out) {
    *out = NULL;
    if (!ev || !ev->event || !*ev->event) return MHG_ERR_INVALID;
    json_t *o = json_object();
    if (!o) return MHG_ERR_NOMEM;
    char when[32];
    format_time(ev->time_ms > 0 ? ev->time_ms : mhg_store_now_ms(), when);
    mhg_status st = MHG_OK;
    json_object_set_new(o, "v", json_integer(MHG_AUDIT_FORMAT_VERSION));
    json_object_set_new(o, "time", json_string(when));
    if (st == MHG_OK) st = set_str(o, "event", ev->event);
    if (st == MHG_OK) st = set_str(o, "request_id", ev->request_id);
    if (st == MHG_OK) st = set_str(o, "decision_id", ev->decision_id);
    if (st == MHG_OK) st = set_str(o, "user", ev->user);
    if (st == MHG_OK) st = set_str(o, "conversation", ev->conversation);
    if (st == MHG_OK) st = set_str(o, "kind", ev->kind);
    if (st == MHG_OK) st = set_str(o, "risk", ev->risk);
    if (st == MHG_OK) st = set_str(o, "action", ev->action);
    if (st == MHG_OK) st = set_array(o, "categories", ev->categories_json);
    if (st == MHG_OK) st = set_array(o, "evidence", ev->evidence_json);
    if (st == MHG_OK) st = set_str(o, "actor", ev->actor);
    if (st == MHG_OK) st = set_str(o, "target", ev->target);
    if (st == MHG_OK) st = set_str(o, "outcome", ev->outcome);
    if (st == MHG_OK && (ev->engine_version || ev->lexicon_version || ev->model_version ||
                         ev->policy_version)) {
        json_t *v = json_object();
        json_object_set_new(o, "versions", v);
        if (st == MHG_OK) st = set_str(v, "engine", ev->engine_version);
        if (st == MHG_OK) st = set_str(v, "lexicon", ev->lexicon_version);
        if (st == MHG_OK) st = set_str(v, "model", ev->model_version);
        if (st == MHG_OK) st = set_str(v, "policy", ev->policy_version);
    }
    if (st != MHG_OK) {
        json_decref(o);
        return st;
    }
    *out = o;
    return MHG_OK;
}

typedef struct build_ctx {
    json_t *record; /* without seq */
} build_ctx;

/* Called by the store inside the append transaction. */
static mhg_status build_record(void *ctx, int64_t seq, const char *prev_hash, char **record_out,
                               char hash_out[MHG_STORE_HASH_HEX]) {
    build_ctx *b = ctx;
    *record_out = NULL;
    if (json_object_set_new(b->record, "seq", json_integer(seq)) != 0) return MHG_ERR_NOMEM;
    char *rec = json_dumps(b->record, CANON_FLAGS);
    if (!rec) return MHG_ERR_NOMEM;
    /* A malformed head means the log was tampered with: refuse to extend it
     * (fail closed) rather than chain onto garbage. */
    if (chain_hash(prev_hash, rec, strlen(rec), hash_out) != 0) {
        free(rec);
        return MHG_ERR_STORE;
    }
    *record_out = rec;
    return MHG_OK;
}

/* Capture the hash computed inside build_record. */
typedef struct capture_ctx {
    build_ctx inner;
    char hash[MHG_AUDIT_HASH_HEX];
} capture_ctx;

static mhg_status build_capture(void *ctx, int64_t seq, const char *prev_hash,
                                char **record_out, char hash_out[MHG_STORE_HASH_HEX]) {
    capture_ctx *c = ctx;
    mhg_status st = build_record(&c->inner, seq, prev_hash, record_out, hash_out);
    if (st == MHG_OK) memcpy(c->hash, hash_out, MHG_AUDIT_HASH_HEX);
    return st;
}

static mhg_status append_capture(mhg_store *store, const mhg_store_decision *d, json_t *record,
                                 char hash_hex_out[MHG_AUDIT_HASH_HEX]) {
    capture_ctx c = {.inner = {record}, .hash = ""};
    mhg_status st = mhg_store_audit_append(store, d, build_capture, &c, NULL);
    if (hash_hex_out) {
        if (st == MHG_OK) memcpy(hash_hex_out, c.hash, MHG_AUDIT_HASH_HEX);
        else hash_hex_out[0] = '\0';
    }
    return st;
}

mhg_status mhg_audit_append(mhg_store *store, const mhg_audit_event *ev,
                            char hash_hex_out[MHG_AUDIT_HASH_HEX]) {
    if (hash_hex_out) hash_hex_out[0] = '\0';
    if (!store) return MHG_ERR_INVALID;
    json_t *rec;
    mhg_status st = event_to_json(ev, &rec);
    if (st != MHG_OK) return st;
    st = append_capture(store, NULL, rec, hash_hex_out);
    json_decref(rec);
    return st;
}

mhg_status mhg_audit_record_decision(mhg_store *store, const mhg_store_decision *d,
                                     char hash_hex_out[MHG_AUDIT_HASH_HEX]) {
    if (hash_hex_out) hash_hex_out[0] = '\0';
    if (!store || !d) return MHG_ERR_INVALID;
    mhg_audit_event ev = {
        .event = "decision",
        .time_ms = d->time_ms,
        .request_id = d->request_id,
        .decision_id = d->decision_id,
        .user = d->user,
        .conversation = d->conversation,
        .kind = d->kind,
        .risk = d->risk,
        .action = d->action,
        .categories_json = d->categories_json ? d->categories_json : "[]",
        .evidence_json = d->evidence_json ? d->evidence_json : "[]",
        .engine_version = d->engine_version,
        .lexicon_version = d->lexicon_version,
        .model_version = d->model_version,
        .policy_version = d->policy_version,
        .actor = d->actor,
    };
    json_t *rec;
    mhg_status st = event_to_json(&ev, &rec);
    if (st != MHG_OK) return st;
    st = append_capture(store, d, rec, hash_hex_out);
    json_decref(rec);
    return st;
}

/* ---- verification ------------------------------------------------------ */

typedef struct verify_ctx {
    mhg_audit_report *r;
    int64_t expect_seq;
    char expect_prev[MHG_AUDIT_HASH_HEX];
    int64_t anchor_seq; /* 0: none */
    char anchor_found[MHG_AUDIT_HASH_HEX];
} verify_ctx;

static void fault(verify_ctx *v, mhg_audit_fault f, int64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fault(verify_ctx *v, mhg_audit_fault f, int64_t seq, const char *fmt, ...) {
    v->r->fault = f;
    v->r->bad_seq = seq;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->r->detail, sizeof v->r->detail, fmt, ap);
    va_end(ap);
}

static void check_row(verify_ctx *v, const mhg_store_audit_row *row) {
    int64_t seq = v->expect_seq;
    if (row->seq != seq) {
        if (row->seq > seq + 1)
            fault(v, MHG_AUDIT_SEQ_GAP, seq,
                  "records %" PRId64 "..%" PRId64 " are missing (deleted); the next stored "
                  "record is %" PRId64,
                  seq, row->seq - 1, row->seq);
        else
            fault(v, MHG_AUDIT_SEQ_GAP, seq,
                  "record %" PRId64 " is missing (deleted); the next stored record is %" PRId64,
                  seq, row->seq);
        return;
    }
    json_t *j = json_loadb(row->record, row->record_len, 0, NULL);
    json_t *js = j ? json_object_get(j, "seq") : NULL;
    if (!j || !json_is_object(j) || !json_is_integer(js)) {
        json_decref(j);
        fault(v, MHG_AUDIT_BAD_RECORD, seq,
              "record %" PRId64 " is not a JSON object with a seq (edited)", seq);
        return;
    }
    int64_t inner = json_integer_value(js);
    json_decref(j);
    if (inner != seq) {
        fault(v, MHG_AUDIT_SEQ_MISMATCH, seq,
              "position %" PRId64 " holds the record written as seq %" PRId64
              " (records reordered or renumbered)",
              seq, inner);
        return;
    }
    if (strcmp(row->prev_hash, v->expect_prev) != 0) {
        if (seq == 1)
            fault(v, MHG_AUDIT_PREV_MISMATCH, seq,
                  "record 1 does not start from the genesis hash (records before it were "
                  "removed, or its prev_hash was edited)");
        else
            fault(v, MHG_AUDIT_PREV_MISMATCH, seq,
                  "prev_hash of record %" PRId64 " does not match the hash of record %" PRId64
                  " (record %" PRId64 " was altered and re-hashed, or a record was inserted or "
                  "removed)",
                  seq, seq - 1, seq - 1);
        return;
    }
    char h[MHG_AUDIT_HASH_HEX];
    if (chain_hash(row->prev_hash, row->record, row->record_len, h) != 0 ||
        strcmp(h, row->hash) != 0) {
        fault(v, MHG_AUDIT_HASH_MISMATCH, seq,
              "record %" PRId64 " does not match its hash (the record or its hash was edited)",
              seq);
        return;
    }
    snprintf(v->expect_prev, sizeof v->expect_prev, "%s", row->hash);
}

static int verify_row(void *ctx, const mhg_store_audit_row *row) {
    verify_ctx *v = ctx;
    v->r->records++;
    v->r->head_seq = row->seq;
    snprintf(v->r->head_hash, sizeof v->r->head_hash, "%s", row->hash);
    if (v->anchor_seq && row->seq == v->anchor_seq)
        snprintf(v->anchor_found, sizeof v->anchor_found, "%s", row->hash);
    if (v->r->fault == MHG_AUDIT_OK) {
        check_row(v, row);
        v->expect_seq++;
    }
    return 0; /* keep counting after a fault: the report gives the totals */
}

static mhg_status verify(mhg_store *store, int64_t anchor_seq, const char *anchor_hash,
                         mhg_audit_report *report) {
    if (!report) return MHG_ERR_INVALID;
    memset(report, 0, sizeof *report);
    snprintf(report->head_hash, sizeof report->head_hash,
             "0000000000000000000000000000000000000000000000000000000000000000");
    if (!store) return MHG_ERR_INVALID;
    verify_ctx v = {.r = report, .expect_seq = 1, .anchor_seq = anchor_seq};
    memcpy(v.expect_prev, report->head_hash, MHG_AUDIT_HASH_HEX);
    mhg_status st = mhg_store_audit_iterate(store, 1, verify_row, &v);
    if (st != MHG_OK) {
        snprintf(report->detail, sizeof report->detail, "cannot read the audit log: %s",
                 mhg_store_errmsg(store));
        return st;
    }
    if (report->fault == MHG_AUDIT_OK && anchor_seq > 0) {
        if (anchor_seq > report->head_seq)
            fault(&v, MHG_AUDIT_ANCHOR_MISMATCH, anchor_seq,
                  "the chain ends at record %" PRId64 " but the anchor is record %" PRId64
                  " (records were removed from the end)",
                  report->head_seq, anchor_seq);
        else if (strcmp(v.anchor_found, anchor_hash) != 0)
            fault(&v, MHG_AUDIT_ANCHOR_MISMATCH, anchor_seq,
                  "record %" PRId64 " no longer has the published hash (history was "
                  "rewritten up to it)",
                  anchor_seq);
    }
    if (report->fault == MHG_AUDIT_OK)
        snprintf(report->detail, sizeof report->detail,
                 "%" PRId64 " records, chain intact, head %" PRId64 " %s", report->records,
                 report->head_seq, report->head_hash);
    return MHG_OK;
}

mhg_status mhg_audit_verify(mhg_store *store, mhg_audit_report *report) {
    return verify(store, 0, NULL, report);
}

mhg_status mhg_audit_verify_anchor(mhg_store *store, int64_t anchor_seq, const char *anchor_hash,
                                   mhg_audit_report *report) {
    if (!anchor_hash || anchor_seq <= 0) {
        if (report) {
            memset(report, 0, sizeof *report);
            snprintf(report->detail, sizeof report->detail, "invalid anchor");
        }
        return MHG_ERR_INVALID;
    }
    return verify(store, anchor_seq, anchor_hash, report);
}

mhg_status mhg_audit_head(mhg_store *store, int64_t *seq_out,
                          char hash_hex_out[MHG_AUDIT_HASH_HEX]) {
    return mhg_store_audit_head(store, seq_out, hash_hex_out);
}

/* ---- export ------------------------------------------------------------ */

typedef struct export_ctx {
    FILE *out;
    int64_t n;
    int io_error;
} export_ctx;

static int export_row(void *ctx, const mhg_store_audit_row *row) {
    export_ctx *e = ctx;
    json_t *pj = json_string(row->prev_hash), *hj = json_string(row->hash);
    char *p = pj ? json_dumps(pj, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
    char *h = hj ? json_dumps(hj, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
    json_decref(pj);
    json_decref(hj);
    /* The record goes out byte for byte so hashes can be recomputed; if the
     * stored text is not JSON (tampering) it is exported as a string. */
    json_t *rj = json_loadb(row->record, row->record_len, 0, NULL);
    int verbatim = rj && json_is_object(rj) && !memchr(row->record, '\n', row->record_len);
    json_decref(rj);
    char *rec = NULL;
    if (!verbatim) {
        json_t *s = json_stringn(row->record, row->record_len);
        rec = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
        json_decref(s);
    }
    int rc = -1;
    if (p && h && (verbatim || rec)) {
        rc = fprintf(e->out, "{\"seq\":%" PRId64 ",\"prev_hash\":%s,\"hash\":%s,\"%s\":", row->seq,
                     p, h, verbatim ? "record" : "record_text");
        if (rc >= 0) {
            if (verbatim) rc = fwrite(row->record, 1, row->record_len, e->out) == row->record_len ? 0 : -1;
            else rc = fputs(rec, e->out) >= 0 ? 0 : -1;
        }
        if (rc >= 0) rc = fputs("}\n", e->out) >= 0 ? 0 : -1;
    }
    free(p);
    free(h);
    free(rec);
    if (rc < 0) {
        e->io_error = 1;
        return 1;
    }
    e->n++;
    return 0;
}

mhg_status mhg_audit_export(mhg_store *store, FILE *out, int64_t *count_out) {
    if (count_out) *count_out = 0;
    if (!store || !out) return MHG_ERR_INVALID;
    export_ctx e = {.out = out};
    mhg_status st = mhg_store_audit_iterate(store, 1, export_row, &e);
    if (st == MHG_OK && (e.io_error || fflush(out) != 0 || ferror(out))) st = MHG_ERR_IO;
    if (count_out) *count_out = e.n;
    return st;
}
