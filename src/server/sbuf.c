/*
 * sbuf.c - a growable byte buffer with a hard maximum (after curl's dynbuf).
 * Every buffer in the server that holds request or response bytes is one of
 * these, so no input can make the process allocate without bound.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mhg_buf.h"
#include "server/server_int.h"

void mhgi_sbuf_init(mhgi_sbuf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void mhgi_sbuf_free(mhgi_sbuf *b) {
    if (!b) return;
    /* Buffers hold message text (requests, model replies): wipe before free. */
    if (b->data) mhg_memzero(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void mhgi_sbuf_reset(mhgi_sbuf *b) {
    if (b->data) mhg_memzero(b->data, b->len);
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

mhg_status mhgi_sbuf_add(mhgi_sbuf *b, const void *p, size_t n) {
    if (n > b->max || b->len > b->max - n) return MHG_ERR_TOO_BIG;
    mhg_status st = mhgi_buf_reserve(&b->data, &b->cap, b->len, b->len + n + 1, 256, b->max + 1);
    if (st != MHG_OK) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MHG_OK;
}

mhg_status mhgi_sbuf_adds(mhgi_sbuf *b, const char *s) {
    return mhgi_sbuf_add(b, s, strlen(s));
}

mhg_status mhgi_sbuf_addf(mhgi_sbuf *b, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return MHG_ERR_INVALID;
    if ((size_t)n < sizeof small) return mhgi_sbuf_add(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return MHG_ERR_NOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    mhg_status st = mhgi_sbuf_add(b, big, (size_t)n);
    free(big);
    return st;
}

void mhgi_sbuf_consume(mhgi_sbuf *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) b->data[b->len] = '\0';
}
