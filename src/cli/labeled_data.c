/*
 * labeled_data.c - labeled JSON lines shared by `train` and `eval`.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli/labeled_data.h"
#include "common/mhg_limits.h"

static int level_label(const char *s) {
    mhg_level lv;
    if (mhg_level_parse(s, &lv) == MHG_OK) return lv >= MHG_LEVEL_MODERATE;
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes")) return 1;
    if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no")) return 0;
    return -1;
}

static int value_label(json_t *v) {
    if (!v || json_is_null(v)) return -1;
    if (json_is_true(v)) return 1;
    if (json_is_false(v)) return 0;
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    if (json_is_real(v)) return json_real_value(v) >= 0.5;
    if (json_is_string(v)) return level_label(json_string_value(v));
    return -1;
}

int mhgc_row_label(json_t *row, const char *field) {
    int l = value_label(json_object_get(row, field));
    if (l >= 0) return l;
    json_t *labels = json_object_get(row, "labels");
    if (json_is_object(labels)) return value_label(json_object_get(labels, field));
    return -1;
}

const char *mhgc_row_str(json_t *row, const char *field) {
    json_t *v = json_object_get(row, field);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *mhgc_read_row(FILE *f, char **buf, size_t *cap, size_t *lineno, int *eof, char *err,
                      size_t errlen) {
    *eof = 0;
    ssize_t n = getline(buf, cap, f);
    if (n < 0) {
        *eof = 1;
        return NULL;
    }
    (*lineno)++;
    if ((size_t)n > MHG_MAX_LINE_BYTES) {
        snprintf(err, errlen, "line %zu: longer than %u bytes", *lineno, MHG_MAX_LINE_BYTES);
        return NULL;
    }
    while (n > 0 && ((*buf)[n - 1] == '\n' || (*buf)[n - 1] == '\r')) n--;
    if (n == 0) {
        snprintf(err, errlen, "line %zu: empty", *lineno);
        return NULL;
    }
    json_error_t je;
    json_t *row = json_loadb(*buf, (size_t)n, 0, &je);
    if (!row || !json_is_object(row)) {
        snprintf(err, errlen, "line %zu: not a JSON object (%s)", *lineno, row ? "" : je.text);
        json_decref(row);
        return NULL;
    }
    json_t *t = json_object_get(row, "text");
    if (!json_is_string(t)) {
        snprintf(err, errlen, "line %zu: no \"text\" string", *lineno);
        json_decref(row);
        return NULL;
    }
    return row;
}

int mhgc_sha256_file(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char b[65536];
    size_t n;
    while ((n = fread(b, 1, sizeof b, f)) > 0) crypto_hash_sha256_update(&st, b, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return -1;
    unsigned char out[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, out);
    sodium_bin2hex(hex, 65, out, sizeof out);
    return 0;
}
