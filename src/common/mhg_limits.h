/*
 * mhg_limits.h - every size limit in one place (after sqliteLimit.h).
 * Configuration may lower these, never raise them. Hitting a limit returns
 * MHG_ERR_TOO_BIG and the request fails closed.
 */
#ifndef MHG_LIMITS_H
#define MHG_LIMITS_H

/* One message. Long forum posts (the corpus has ~40 KB ones) must fit. */
#define MHG_MAX_MESSAGE_BYTES (256u * 1024u)
/* Raw pattern matches kept per scan; more are counted, not stored. */
#define MHG_MAX_MATCHES 4096u
/* Evidence items reported in one verdict (strongest first). */
#define MHG_MAX_EVIDENCE 64u
/* Previous turns considered for conversation context. */
#define MHG_MAX_TURNS 64u
/* One HTTP request body (a chat completion with its history). */
#define MHG_MAX_BODY_BYTES (4u * 1024u * 1024u)
/* One JSON line in `mhguard screen --jsonl` and batch requests. */
#define MHG_MAX_LINE_BYTES (1024u * 1024u)
/* Items in one /v1/screen/batch request. */
#define MHG_MAX_BATCH_ITEMS 1000u

#endif
