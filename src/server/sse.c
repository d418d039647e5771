/*
 * sse.c - split a Server-Sent Events byte stream into events.
 *
 * Only what the OpenAI stream uses: "data:" fields (joined with "\n" when an
 * event has several), comment lines (":" keep-alives) and blank-line event
 * ends, with LF or CRLF line endings. Other fields (event:, id:, retry:) are
 * read and ignored. Bytes of an unfinished event stay in the input buffer
 * until more arrive.
 */
#include <string.h>

#include "server/server_int.h"

int mhgi_sse_next(mhgi_sbuf *in, mhgi_sbuf *data, int *err) {
    *err = 0;
    size_t pos = 0;
    int have_data = 0;
    mhgi_sbuf_reset(data);
    while (pos < in->len) {
        const char *line = in->data + pos;
        const char *nl = memchr(line, '\n', in->len - pos);
        if (!nl) break; /* incomplete line: wait for more bytes */
        size_t llen = (size_t)(nl - line);
        size_t next = pos + llen + 1;
        if (llen > 0 && line[llen - 1] == '\r') llen--;
        if (llen == 0) {
            /* end of event */
            mhgi_sbuf_consume(in, next);
            if (have_data) return 1;
            pos = 0;
            continue;
        }
        if (llen >= 5 && !memcmp(line, "data:", 5)) {
            size_t k = 5;
            if (k < llen && line[k] == ' ') k++;
            if (have_data && mhgi_sbuf_add(data, "\n", 1) != MHG_OK) {
                *err = 1;
                return 0;
            }
            if (mhgi_sbuf_add(data, line + k, llen - k) != MHG_OK) {
                *err = 1;
                return 0;
            }
            have_data = 1;
        }
        pos = next;
    }
    /* no complete event yet; the partial one is re-parsed next time */
    mhgi_sbuf_reset(data);
    return 0;
}
