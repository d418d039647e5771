/*
 * mhguard/store.h - persistent state of the gateway: decisions, the review
 * queue, API keys, conversation memory and the audit chain rows.
 *
 *   mhg_store   one handle per process; opened from a URL, closed once.
 *
 * Backends sit behind an ops table (src/store/store_int.h), chosen by the
 * URL at mhg_store_open:
 *   sqlite:/path/to/mhguard.db      SQLite file (WAL journal)
 *   /path/to/dir  or  dir           a data directory: <dir>/mhguard.db,
 *                                   the directory is created (0700) if missing
 *   postgres://... postgresql://... PostgreSQL through libpq (when built with it)
 * SQLite URLs take options after '?', separated by '&':
 *   mode=rwc (default: create if missing) | rw (must exist) | ro (read-only,
 *   no migrations; fails if the file is missing)
 *   pool=N   connections kept (1..64, default 8)
 *   busy_ms=N  how long to wait for another process's write lock (default 5000)
 *
 * Thread use: a mhg_store may be shared by any number of threads; every
 * function below may be called concurrently (the gateway calls it from the
 * libmicrohttpd thread pool). The handle keeps a small pool of connections;
 * each call borrows one for its duration. Writes inside one process are
 * serialized by a mutex (so threads queue fairly instead of spinning on the
 * database lock); writes from other processes (the CLI while the server
 * runs) wait up to busy_ms. Reads run in parallel (WAL).
 *
 * Errors: a dead database, a full disk, a read-only file or a missing
 * directory gives MHG_ERR_STORE with a message in mhg_store_errmsg(); no
 * call aborts the process. Callers on the request path must fail closed
 * on any error (issue 4: "if the store fails on a request, fail closed").
 *
 * Privacy: the store never receives message text. Ids are pseudonyms from
 * mhg_privacy_pseudonym(); free text (review notes) should be sealed with
 * mhg_privacy_seal() by the caller before it is passed here.
 *
 * Ownership: strings returned through char ** out-params are malloc'd and
 * released with free(). Input strings are copied; the caller keeps them.
 */
#ifndef MHGUARD_STORE_H
#define MHGUARD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhg_store mhg_store;

/* Bounds on what the store accepts (longer input gives MHG_ERR_TOO_BIG). */
#define MHG_STORE_FIELD_MAX 256u                 /* ids, names, versions, labels */
#define MHG_STORE_JSON_MAX (64u * 1024u)         /* categories / evidence JSON */
#define MHG_STORE_NOTE_MAX (64u * 1024u)         /* sealed review note */
#define MHG_STORE_BLOB_MAX (1024u * 1024u)       /* one conversation state */
#define MHG_STORE_KEY_MAX 96u                    /* API key text incl. NUL */
#define MHG_STORE_HASH_HEX 65u                   /* 64 hex digits + NUL */
#define MHG_STORE_URL_MAX 4096u

/* Current schema version written by migrations (table schema_version). */
#define MHG_STORE_SCHEMA_VERSION 1

/*
 * Open (and for writable SQLite, create and migrate) the store at url.
 * Migrations are idempotent: opening an up-to-date database changes nothing.
 * On failure *out is NULL and err (if errlen > 0) holds a message naming the
 * path and the cause. Errors: MHG_ERR_INVALID (bad URL or option),
 * MHG_ERR_STORE (cannot open / migrate), MHG_ERR_NOMEM.
 */
MHG_NODISCARD mhg_status mhg_store_open(const char *url, mhg_store **out, char *err,
                                        size_t errlen);
/* Close all connections. mhg_store_close(NULL) is a no-op. No call on the
 * handle may be running or follow. */
void mhg_store_close(mhg_store *store);

/* Detail of the last failed call made on this handle BY THE CALLING THREAD
 * (thread-local, so concurrent failures do not overwrite each other).
 * Owned by the library, valid until that thread's next call. Never NULL. */
const char *mhg_store_errmsg(const mhg_store *store);

/* "sqlite" or "postgres". Static. */
const char *mhg_store_backend(const mhg_store *store);

/* Cheap liveness check for /readyz: reads the schema version. */
MHG_NODISCARD mhg_status mhg_store_ping(mhg_store *store);

/* Schema version of the open database. */
MHG_NODISCARD mhg_status mhg_store_schema_version(mhg_store *store, int *version_out);

/* Where gateway state lives when no --data-dir/--store is given:
 * $MHG_DATA_HOME if set and non-empty, else "./mhguard-data".
 * (Not MHG_DATA_DIR, which is the engine's read-only lexicon/model data.)
 * Returns a pointer into the environment or a static string. */
const char *mhg_store_default_data_dir(void);

/* Wall clock in milliseconds since the Unix epoch. Cannot fail. */
int64_t mhg_store_now_ms(void);

/* A fresh random identifier "<prefix>_<32 hex>" (e.g. "dec_9f...").
 * Errors: MHG_ERR_TOO_BIG when outlen is too small (prefix + 34 bytes). */
MHG_NODISCARD mhg_status mhg_store_random_id(const char *prefix, char *out, size_t outlen);

/* ---- decisions --------------------------------------------------------- */

/* One screening decision. Every string is NUL-terminated, at most
 * MHG_STORE_FIELD_MAX bytes unless noted; NULL means "not applicable".
 * No field may hold message text. */
typedef struct mhg_store_decision {
    const char *decision_id;     /* required, unique (mhg_store_random_id("dec")) */
    const char *request_id;      /* required */
    int64_t time_ms;             /* required, Unix epoch ms */
    const char *user;            /* pseudonymous user id, or NULL */
    const char *conversation;    /* pseudonymous conversation id, or NULL */
    const char *kind;            /* required: "user_message" | "ai_reply" */
    const char *risk;            /* required: mhg_level_name() */
    const char *action;          /* required: mhg_action_name() or a policy action
                                    ("block", "replace", "forward", ...) */
    const char *categories_json; /* JSON array of category names, NULL = [] */
    const char *evidence_json;   /* JSON array of rule ids (no text), NULL = [] */
    const char *engine_version;
    const char *lexicon_version;
    const char *model_version;
    const char *policy_version;
    const char *actor;           /* who asked: "api_key:<id>", "cli", ... */
} mhg_store_decision;

/* Insert a decision. Errors: MHG_ERR_INVALID (missing required field, JSON
 * that is not an array of strings, duplicate decision_id), MHG_ERR_TOO_BIG,
 * MHG_ERR_STORE. Prefer mhg_audit_record_decision(), which also appends the
 * audit record in the same transaction. */
MHG_NODISCARD mhg_status mhg_store_decision_insert(mhg_store *store, const mhg_store_decision *d);

/* The decision as a JSON object with the fields above (categories and
 * evidence as arrays, time as "time_ms"). MHG_ERR_NOT_FOUND if absent.
 * *json_out is malloc'd; free() it. */
MHG_NODISCARD mhg_status mhg_store_decision_get(mhg_store *store, const char *decision_id,
                                                char **json_out);

/* Number of decision rows. */
MHG_NODISCARD mhg_status mhg_store_decision_count(mhg_store *store, int64_t *count_out);

/* ---- review queue ------------------------------------------------------ */

/* States of a review item: open -> claimed -> resolved. */
typedef struct mhg_store_review_item {
    const char *decision_id; /* required */
    const char *level;       /* required: severity, mhg_level_name() */
    int64_t created_ms;      /* 0: now */
    int64_t sla_due_ms;      /* required: when a human must have looked */
    const char *reason;      /* short code, e.g. "moderate_risk" (no text) */
} mhg_store_review_item;

/* Queue a decision for human review. *id_out is the item id (> 0).
 * Errors: MHG_ERR_INVALID, MHG_ERR_TOO_BIG, MHG_ERR_STORE. */
MHG_NODISCARD mhg_status mhg_store_review_enqueue(mhg_store *store,
                                                  const mhg_store_review_item *item,
                                                  int64_t *id_out);

/*
 * Items as a JSON array, ordered by sla_due_ms then id (most urgent first):
 *   [{"id","decision_id","level","state","created_ms","sla_due_ms","reason",
 *     "reviewer","claimed_ms","outcome","note","resolved_ms"}]
 * state: "open", "claimed", "resolved", or NULL for open + claimed (the
 * working queue). limit 0 means 100; at most 1000. *json_out: free().
 */
MHG_NODISCARD mhg_status mhg_store_review_list(mhg_store *store, const char *state, size_t limit,
                                               char **json_out);

/* One item as a JSON object (same fields). MHG_ERR_NOT_FOUND if absent. */
MHG_NODISCARD mhg_status mhg_store_review_get(mhg_store *store, int64_t id, char **json_out);

/* Claim an open item for reviewer. Claiming an item one already holds
 * succeeds again. Errors: MHG_ERR_NOT_FOUND (no such item, or resolved),
 * MHG_ERR_INVALID (claimed by another reviewer; errmsg names them). */
MHG_NODISCARD mhg_status mhg_store_review_claim(mhg_store *store, int64_t id,
                                                const char *reviewer);

/* Resolve an open or claimed item. outcome is a short code ("followed_up",
 * "false_positive", "escalated", ...); note may be NULL and should be a
 * mhg_privacy_seal() string (stored as given, at most MHG_STORE_NOTE_MAX).
 * An item claimed by someone else cannot be resolved (MHG_ERR_INVALID).
 * Errors: MHG_ERR_NOT_FOUND (no such item or already resolved). */
MHG_NODISCARD mhg_status mhg_store_review_resolve(mhg_store *store, int64_t id,
                                                  const char *reviewer, const char *outcome,
                                                  const char *note);

/* Queue depth for /metrics: items not resolved, and of those the ones whose
 * sla_due_ms < now_ms (overdue_out may be NULL). */
MHG_NODISCARD mhg_status mhg_store_review_count_open(mhg_store *store, int64_t now_ms,
                                                     int64_t *open_out, int64_t *overdue_out);

/* ---- API keys ---------------------------------------------------------- */

typedef enum mhg_role {
    MHG_ROLE_APP = 0,   /* screening and proxy endpoints */
    MHG_ROLE_REVIEWER,  /* review queue */
    MHG_ROLE_ADMIN,     /* keys, configuration */
    MHG_ROLE_AUDITOR,   /* audit export / verify, read-only */
    MHG_ROLE_CLINICIAN, /* ASL-MH level 4: licensed professional users */
    MHG_ROLE_COUNT
} mhg_role;

/* "app", "reviewer", "admin", "auditor", "clinician"; NULL if out of range. */
const char *mhg_role_name(mhg_role role);
/* Parse a role name. MHG_ERR_INVALID (out untouched) if unknown. */
MHG_NODISCARD mhg_status mhg_role_parse(const char *name, mhg_role *out);

/*
 * Create a key for role. key_out receives the plaintext key
 * "mhg_<role>_<43 base64url chars>" (256 random bits) - shown once, never
 * stored: the store keeps only its BLAKE2b-256 hash. label may be NULL.
 * *id_out (may be NULL) is the key id used by list/revoke.
 * The caller should mhg_memzero(key_out) once it has been shown.
 */
MHG_NODISCARD mhg_status mhg_store_key_create(mhg_store *store, mhg_role role, const char *label,
                                              char key_out[MHG_STORE_KEY_MAX], int64_t *id_out);

/* Register an externally supplied key (e.g. $MHGUARD_API_KEY for a local
 * trial). It must be 16..MHG_STORE_KEY_MAX-1 printable ASCII bytes. If the
 * same key is already registered and not revoked, returns its id. */
MHG_NODISCARD mhg_status mhg_store_key_import(mhg_store *store, mhg_role role, const char *label,
                                              const char *key, size_t len, int64_t *id_out);

/*
 * Verify a presented key (per request; one indexed read). The hash is
 * compared in constant time. MHG_ERR_AUTH if unknown or revoked (no detail
 * on which, to avoid an oracle). role_out and id_out may be NULL.
 */
MHG_NODISCARD mhg_status mhg_store_key_lookup(mhg_store *store, const char *key, size_t len,
                                              mhg_role *role_out, int64_t *id_out);

/* Revoke a key by id. Revoking twice succeeds. MHG_ERR_NOT_FOUND if no such id. */
MHG_NODISCARD mhg_status mhg_store_key_revoke(mhg_store *store, int64_t id);

/* All keys as a JSON array (never hashes or keys):
 *   [{"id","role","label","created_ms","revoked_ms" (null if active),"prefix"}]
 * "prefix" is the first 12 characters of the key, to recognise it. */
MHG_NODISCARD mhg_status mhg_store_key_list(mhg_store *store, char **json_out);

/* ---- conversation state ------------------------------------------------ */

/* The engine's mhg_conversation_save() JSON for one pseudonymous
 * conversation id. Last writer wins. get: MHG_ERR_NOT_FOUND if none;
 * *json_out malloc'd and NUL-terminated, *len_out (may be NULL) its length. */
MHG_NODISCARD mhg_status mhg_store_conv_get(mhg_store *store, const char *conversation,
                                            char **json_out, size_t *len_out);
MHG_NODISCARD mhg_status mhg_store_conv_put(mhg_store *store, const char *conversation,
                                            const char *json, size_t len);
/* Delete one conversation's state (erasure request). Deleting a missing one
 * succeeds. */
MHG_NODISCARD mhg_status mhg_store_conv_delete(mhg_store *store, const char *conversation);
/* Retention: delete states not updated since before_ms; *deleted_out may be NULL. */
MHG_NODISCARD mhg_status mhg_store_conv_purge(mhg_store *store, int64_t before_ms,
                                              int64_t *deleted_out);

/* ---- audit chain rows (used by the audit module) ------------------------ */

/* One stored audit row. Pointers are owned by the store and valid only
 * during the callback. */
typedef struct mhg_store_audit_row {
    int64_t seq;          /* 1, 2, 3, ... as stored */
    const char *prev_hash; /* 64 hex */
    const char *hash;      /* 64 hex */
    const char *record;    /* canonical JSON as stored */
    size_t record_len;
} mhg_store_audit_row;

/*
 * Builder called inside the append transaction with the next sequence
 * number and the current head hash (64 hex zeros for the first record).
 * It sets *record_out (malloc'd; the store frees it) and hash_out. A non-OK
 * return aborts the append with that status.
 */
typedef mhg_status (*mhg_store_audit_build_fn)(void *ctx, int64_t seq, const char *prev_hash,
                                                char **record_out,
                                                char hash_out[MHG_STORE_HASH_HEX]);

/*
 * Append one record atomically: read the head, call build, insert - in one
 * write transaction, so concurrent appends (threads or processes) never fork
 * the chain. If decision is not NULL it is inserted in the same transaction
 * (both or neither). seq_out may be NULL.
 */
MHG_NODISCARD mhg_status mhg_store_audit_append(mhg_store *store,
                                                const mhg_store_decision *decision,
                                                mhg_store_audit_build_fn build, void *ctx,
                                                int64_t *seq_out);

/* Visit rows with seq >= from_seq in seq order, inside one read transaction
 * (a consistent snapshot). The callback returns 0 to go on, nonzero to stop
 * (not an error). */
typedef int (*mhg_store_audit_row_fn)(void *ctx, const mhg_store_audit_row *row);
MHG_NODISCARD mhg_status mhg_store_audit_iterate(mhg_store *store, int64_t from_seq,
                                                 mhg_store_audit_row_fn fn, void *ctx);

/* Head of the chain: highest seq and its hash; (0, 64 zeros) when empty. */
MHG_NODISCARD mhg_status mhg_store_audit_head(mhg_store *store, int64_t *seq_out,
                                              char hash_out[MHG_STORE_HASH_HEX]);

/*
 * TODO(consent/retention): a consent table (participant enrolment for
 * ASL-MH level 6, purpose, expiry) and retention purges of decisions are
 * not implemented yet; only conversation state has a purge. Audit rows are
 * never purged by the store (that would break the chain by design).
 */

#ifdef __cplusplus
}
#endif
#endif
