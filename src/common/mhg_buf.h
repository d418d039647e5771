/*
 * mhg_buf.h - internal (not installed): growing a heap buffer that holds
 * message text. Several modules keep such buffers (server/sbuf.c,
 * privacy/redact.c, policy/reply.c); they grow them through this one
 * function so that every copy wipes the old block before freeing it.
 */
#ifndef MHG_COMMON_BUF_H
#define MHG_COMMON_BUF_H

#include <stddef.h>

#include "mhguard/types.h"

/* Ensure *cap >= need. When it is not, allocate a new block of *cap (or
 * first_cap for an empty buffer) doubled until it holds need, clamped to
 * max_cap (the caller guarantees need <= max_cap), copy the first len bytes,
 * wipe and free the old block. MHG_OK, or MHG_ERR_NOMEM with *buf unchanged. */
mhg_status mhgi_buf_reserve(char **buf, size_t *cap, size_t len, size_t need, size_t first_cap,
                            size_t max_cap);

#endif
