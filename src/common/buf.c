/*
 * buf.c - see mhg_buf.h.
 */
#include "common/mhg_buf.h"

#include <stdlib.h>
#include <string.h>

mhg_status mhgi_buf_reserve(char **buf, size_t *cap, size_t len, size_t need, size_t first_cap,
                            size_t max_cap) {
    if (need <= *cap) return MHG_OK;
    size_t c = *cap ? *cap : first_cap;
    while (c < need) c *= 2;
    if (c > max_cap) c = max_cap;
    char *nb = malloc(c);
    if (!nb) return MHG_ERR_NOMEM;
    if (*buf) {
        memcpy(nb, *buf, len);
        /* The old block held message text: wipe before freeing. */
        mhg_memzero(*buf, *cap);
        free(*buf);
    }
    *buf = nb;
    *cap = c;
    return MHG_OK;
}
