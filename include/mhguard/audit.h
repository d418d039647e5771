/*
 * mhguard/audit.h - the tamper-evident audit log: every decision appended to
 * a hash chain kept in the store.
 *
 * Record: canonical JSON (keys sorted, no whitespace, ASCII only with \uXXXX
 * escapes in upper-case hex, integers only) holding the event fields below plus "seq" and
 * "v" (format version). No message content is ever part of a record.
 * Chain: hash[n] = BLAKE2b-256(prev_hash[n] (32 raw bytes) || record[n]),
 * prev_hash[n] = hash[n-1], prev_hash[1] = 32 zero bytes. Hashes are shown
 * as 64 lower-case hex digits. Because each record embeds its own seq, an
 * edit, a deletion, an insertion or a reordering breaks the chain at the
 * first affected seq. Dropping the newest records leaves a valid shorter
 * chain: publish the head (mhg_audit_head) somewhere else and check it with
 * mhg_audit_verify_anchor to catch that too.
 *
 * The hash is unkeyed on purpose: an auditor can verify an export without
 * any secret. It proves integrity relative to a published head, not
 * authorship.
 *
 * Thread use: all functions may be called concurrently on a shared store;
 * appends are serialized by the store's write transaction (also across
 * processes), so the chain never forks.
 */
#ifndef MHGUARD_AUDIT_H
#define MHGUARD_AUDIT_H

#include <stdio.h>

#include "store.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MHG_AUDIT_HASH_HEX MHG_STORE_HASH_HEX /* 64 hex digits + NUL */
#define MHG_AUDIT_FORMAT_VERSION 1

/* One audit event. Strings are NUL-terminated (each at most
 * MHG_STORE_FIELD_MAX bytes); NULL fields are left out of the record. */
typedef struct mhg_audit_event {
    const char *event;       /* required: "decision", "review_claim",
                                "review_resolve", "key_create", "key_revoke",
                                "policy_load", "fail_closed", ... */
    int64_t time_ms;         /* 0: now */
    const char *request_id;
    const char *decision_id;
    const char *user;         /* pseudonym */
    const char *conversation; /* pseudonym */
    const char *kind;         /* "user_message" | "ai_reply" */
    const char *risk;
    const char *action;
    const char *categories_json; /* JSON array of strings, or NULL */
    const char *evidence_json;   /* JSON array of rule ids, or NULL */
    const char *engine_version;
    const char *lexicon_version;
    const char *model_version;
    const char *policy_version;
    const char *actor;   /* "api_key:<id>", "cli", "gateway" */
    const char *target;  /* what a non-decision event acted on: "review:12", "key:3" */
    const char *outcome; /* short code for review/admin events */
} mhg_audit_event;

/*
 * Append ev to the chain. hash_hex_out (may be NULL) receives the new
 * record's hash. Errors: MHG_ERR_INVALID (missing event, JSON field that is
 * not an array of short strings), MHG_ERR_TOO_BIG, MHG_ERR_UTF8 - these are
 * caller bugs found before the store is touched, so mhg_store_errmsg() has
 * no detail for them - and MHG_ERR_STORE (message in mhg_store_errmsg();
 * the caller must fail closed: nothing was recorded). The chain is never
 * extended from a malformed (tampered) head.
 */
MHG_NODISCARD mhg_status mhg_audit_append(mhg_store *store, const mhg_audit_event *ev,
                                          char hash_hex_out[MHG_AUDIT_HASH_HEX]);

/*
 * Record a decision: insert it into the decisions table AND append its
 * audit record (event "decision") in one transaction - both or neither.
 * This is what the gateway calls once per screened message or reply.
 * hash_hex_out may be NULL.
 */
MHG_NODISCARD mhg_status mhg_audit_record_decision(mhg_store *store, const mhg_store_decision *d,
                                                   char hash_hex_out[MHG_AUDIT_HASH_HEX]);

/* What verify found at the first bad record. */
typedef enum mhg_audit_fault {
    MHG_AUDIT_OK = 0,
    MHG_AUDIT_HASH_MISMATCH,  /* record or hash edited: hash != H(prev||record) */
    MHG_AUDIT_PREV_MISMATCH,  /* prev_hash != previous record's hash (a record
                                 before it was removed, inserted or edited) */
    MHG_AUDIT_SEQ_GAP,        /* a seq number is missing (deletion) */
    MHG_AUDIT_SEQ_MISMATCH,   /* the record's embedded seq differs from its
                                 position (reordering / renumbering) */
    MHG_AUDIT_BAD_RECORD,     /* not a JSON object with an integer seq */
    MHG_AUDIT_ANCHOR_MISMATCH,/* the published head is missing or differs */
    MHG_AUDIT_FAULT_COUNT
} mhg_audit_fault;

/* Stable names: "ok", "hash_mismatch", "prev_mismatch", "seq_gap",
 * "seq_mismatch", "bad_record", "anchor_mismatch". NULL if out of range. */
const char *mhg_audit_fault_name(mhg_audit_fault fault);

typedef struct mhg_audit_report {
    int64_t records;       /* records read (all of them, even after a fault) */
    int64_t head_seq;      /* last seq read, 0 if empty */
    char head_hash[MHG_AUDIT_HASH_HEX]; /* stored hash of that record */
    mhg_audit_fault fault; /* MHG_AUDIT_OK when the chain is intact */
    int64_t bad_seq;       /* seq (position) of the first bad record, 0 if none */
    char detail[256];      /* human-readable: what and where */
} mhg_audit_report;

/*
 * Walk the whole chain and check every link. Returns MHG_OK when the check
 * ran (report->fault says whether the chain is intact); MHG_ERR_STORE when it
 * could not be read. report is always filled.
 */
MHG_NODISCARD mhg_status mhg_audit_verify(mhg_store *store, mhg_audit_report *report);

/* As mhg_audit_verify, then also require that record anchor_seq exists and
 * has hash anchor_hash (a previously published head), catching truncation
 * and whole-tail rewrites after the anchor. */
MHG_NODISCARD mhg_status mhg_audit_verify_anchor(mhg_store *store, int64_t anchor_seq,
                                                 const char *anchor_hash,
                                                 mhg_audit_report *report);

/* Current head (seq 0 and 64 zeros when empty), for publishing as an anchor. */
MHG_NODISCARD mhg_status mhg_audit_head(mhg_store *store, int64_t *seq_out,
                                        char hash_hex_out[MHG_AUDIT_HASH_HEX]);

/*
 * Write the chain as JSON lines, one per record, in seq order:
 *   {"seq":N,"prev_hash":"..","hash":"..","record":{..verbatim..}}
 * "record" is the stored canonical JSON byte for byte, so a third party can
 * recompute each hash. *count_out (may be NULL) = lines written.
 * Errors: MHG_ERR_STORE, MHG_ERR_IO (write failed).
 */
MHG_NODISCARD mhg_status mhg_audit_export(mhg_store *store, FILE *out, int64_t *count_out);

#ifdef __cplusplus
}
#endif
#endif
