/*
 * labeled_data.h - reading labeled JSON lines for `mhguard train` and
 * `mhguard eval`: one object per line with "text" and labels in any of
 * three forms (the corpus and the chat set use all of them):
 *   "suicide": 1 | 0 | true | false | null      (binary per category)
 *   "labels": {"suicide": "high", ...}            (level; >= moderate is 1)
 *   any other field named on the command line (e.g. "self_harm_request").
 */
#ifndef MHG_CLI_LABELED_DATA_H
#define MHG_CLI_LABELED_DATA_H

#include <jansson.h>
#include <stdio.h>

#include "mhguard.h"

/* Label of one field of a row: 1, 0 or -1 (absent, null, unparseable).
 * Checks the top-level field first, then "labels".{field}. */
int mhgc_row_label(json_t *row, const char *field);

/* String field or NULL (borrowed from row). */
const char *mhgc_row_str(json_t *row, const char *field);

/* Reads lines of at most MHG_MAX_LINE_BYTES; returns the parsed object, or
 * NULL at EOF (*eof = 1) or for a bad line (*eof = 0, err says why).
 * *lineno counts lines. Caller json_decref()s the row. */
json_t *mhgc_read_row(FILE *f, char **buf, size_t *cap, size_t *lineno, int *eof, char *err,
                      size_t errlen);

/* SHA-256 of a file as 64 hex chars + NUL into hex[65]. 0 on success. */
int mhgc_sha256_file(const char *path, char hex[65]);

#endif
