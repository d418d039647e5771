/*
 * calibration.c - isotonic calibration of the engine's fused category
 * scores (include/mhguard/calibration.h, docs/internals/calibration.md).
 *
 * Why isotonic and not Platt: the engine score is a mix of noisy-OR rule
 * weights, level floors (0.25/0.5/0.75/0.9) and the model's rescaled
 * probability; its relation to the positive rate is monotone but not
 * logistic (large spikes at the floors). PAV fits any monotone shape; the
 * dev set is large enough for suicide (about 1,700 labelled rows).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhguard/calibration.h"

typedef struct cal_map {
    double *x, *y;
    size_t n;
    size_t rows, positives;
} cal_map;

struct mhg_calibration {
    char model[64];
    char version[MHG_CALIBRATION_VERSION_LEN];
    cal_map map[MHG_CAT_COUNT];
};

static double round6(double v) { return floor(v * 1e6 + 0.5) / 1e6; }

static void fnv(uint64_t *h, const char *s) {
    for (; *s; s++) {
        *h ^= (unsigned char)*s;
        *h *= 1099511628211ull;
    }
}

/* Version = hash of what changes the mapping: the model and every knot
 * (printed at the precision the file keeps). */
static void update_version(mhg_calibration *cal) {
    uint64_t h = 1469598103934665603ull;
    char buf[64];
    fnv(&h, cal->model);
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        const cal_map *m = &cal->map[c];
        if (!m->n) continue;
        fnv(&h, "\n");
        fnv(&h, mhg_category_name((mhg_category)c));
        for (size_t k = 0; k < m->n; k++) {
            snprintf(buf, sizeof buf, " %.6f:%.6f", m->x[k], m->y[k]);
            fnv(&h, buf);
        }
    }
    h ^= h >> 31; /* splitmix finish so all 48 bits mix */
    h *= 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    snprintf(cal->version, sizeof cal->version, "c1-%012llx",
             (unsigned long long)(h & 0xffffffffffffull));
}

mhg_status mhg_calibration_new(const char *model_version, mhg_calibration **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!model_version || !*model_version || strlen(model_version) >= 64) return MHG_ERR_INVALID;
    mhg_calibration *cal = calloc(1, sizeof *cal);
    if (!cal) return MHG_ERR_NOMEM;
    snprintf(cal->model, sizeof cal->model, "%s", model_version);
    update_version(cal);
    *out = cal;
    return MHG_OK;
}

static void map_clear(cal_map *m) {
    free(m->x);
    free(m->y);
    memset(m, 0, sizeof *m);
}

void mhg_calibration_free(mhg_calibration *cal) {
    if (!cal) return;
    for (int c = 0; c < MHG_CAT_COUNT; c++) map_clear(&cal->map[c]);
    free(cal);
}

typedef struct pair {
    double s;
    int l;
} pair;

static int cmp_pair(const void *a, const void *b) {
    const pair *p = a, *q = b;
    if (p->s != q->s) return p->s < q->s ? -1 : 1;
    return p->l - q->l;
}

typedef struct block {
    double sx, sy, n; /* sums of score and label, row count */
} block;

mhg_status mhg_calibration_fit(mhg_calibration *cal, mhg_category c, const double *scores,
                               const int *labels, size_t n) {
    if (!cal || (unsigned)c >= MHG_CAT_COUNT || !scores || !labels || n == 0)
        return MHG_ERR_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!(scores[i] >= 0.0 && scores[i] <= 1.0) || (labels[i] != 0 && labels[i] != 1))
            return MHG_ERR_INVALID;
    pair *p = malloc(n * sizeof *p);
    block *b = malloc(n * sizeof *b);
    if (!p || !b) {
        free(p);
        free(b);
        return MHG_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) p[i] = (pair){scores[i], labels[i]};
    qsort(p, n, sizeof *p, cmp_pair);
    /* PAV over groups of equal score: push a group, then pool with the
     * block before it while that block's mean is >= its own (pooling equal
     * means too keeps the knots strictly increasing in y). */
    size_t nb = 0, pos = 0;
    for (size_t i = 0; i < n;) {
        block cur = {0, 0, 0};
        size_t j = i;
        for (; j < n && p[j].s == p[i].s; j++) {
            cur.sx += p[j].s;
            cur.sy += p[j].l;
            cur.n += 1;
        }
        pos += (size_t)cur.sy;
        i = j;
        while (nb > 0 && b[nb - 1].sy * cur.n >= cur.sy * b[nb - 1].n) {
            cur.sx += b[nb - 1].sx;
            cur.sy += b[nb - 1].sy;
            cur.n += b[nb - 1].n;
            nb--;
        }
        b[nb++] = cur;
    }
    /* knots at the block centroids, rounded to what the file keeps; blocks
     * whose rounded centroids coincide are pooled (y stays monotone: a pool
     * of increasing means lies between them) */
    size_t k = 0;
    for (size_t i = 0; i < nb; i++) {
        if (k > 0 && round6(b[k - 1].sx / b[k - 1].n) >= round6(b[i].sx / b[i].n)) {
            b[k - 1].sx += b[i].sx;
            b[k - 1].sy += b[i].sy;
            b[k - 1].n += b[i].n;
        } else {
            b[k++] = b[i];
        }
    }
    free(p);
    if (k > MHG_CALIBRATION_MAX_KNOTS) {
        free(b);
        return MHG_ERR_TOO_BIG;
    }
    double *x = malloc(k * sizeof *x), *y = malloc(k * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        free(b);
        return MHG_ERR_NOMEM;
    }
    /* A block's rate is shrunk toward 1/2 by half a row each way,
     * (pos + 0.5) / (n + 1): a block of 12 negatives says "about 4 %", not
     * "never", and the top block never claims certainty. The running max
     * keeps the curve monotone (a small block can shrink more than its
     * larger neighbour). */
    for (size_t i = 0; i < k; i++) {
        x[i] = round6(b[i].sx / b[i].n);
        y[i] = round6((b[i].sy + 0.5) / (b[i].n + 1.0));
        if (i > 0 && y[i] < y[i - 1]) y[i] = y[i - 1];
    }
    free(b);
    cal_map *m = &cal->map[c];
    map_clear(m);
    m->x = x;
    m->y = y;
    m->n = k;
    m->rows = n;
    m->positives = pos;
    update_version(cal);
    return MHG_OK;
}

int mhg_calibration_has(const mhg_calibration *cal, mhg_category c) {
    return cal && (unsigned)c < MHG_CAT_COUNT && cal->map[c].n > 0;
}

double mhg_calibration_apply(const mhg_calibration *cal, mhg_category c, double s) {
    if (!mhg_calibration_has(cal, c)) return s;
    const cal_map *m = &cal->map[c];
    if (isnan(s)) return m->y[m->n - 1];
    if (s <= m->x[0]) return m->y[0];
    if (s >= m->x[m->n - 1]) return m->y[m->n - 1];
    size_t lo = 0, hi = m->n - 1; /* x[lo] < s < x[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->x[mid] <= s) lo = mid;
        else hi = mid;
    }
    double t = (s - m->x[lo]) / (m->x[hi] - m->x[lo]);
    double v = m->y[lo] + t * (m->y[hi] - m->y[lo]);
    return v < m->y[lo] ? m->y[lo] : v > m->y[hi] ? m->y[hi] : v;
}

void mhg_calibration_knots(const mhg_calibration *cal, mhg_category c, const double **x,
                           const double **y, size_t *n, size_t *rows, size_t *positives) {
    const cal_map *m = cal && (unsigned)c < MHG_CAT_COUNT ? &cal->map[c] : NULL;
    if (x) *x = m ? m->x : NULL;
    if (y) *y = m ? m->y : NULL;
    if (n) *n = m ? m->n : 0;
    if (rows) *rows = m ? m->rows : 0;
    if (positives) *positives = m ? m->positives : 0;
}

const char *mhg_calibration_version(const mhg_calibration *cal) { return cal ? cal->version : NULL; }
const char *mhg_calibration_model(const mhg_calibration *cal) { return cal ? cal->model : NULL; }

#define FORMAT_NAME "mhguard-engine-calibration"
#define METHOD_NAME "isotonic-pav-linear"

mhg_status mhg_calibration_save(const mhg_calibration *cal, const char *path,
                                const char *info_json, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!cal || !path) return MHG_ERR_INVALID;
    json_t *info = NULL;
    if (info_json) {
        json_error_t je;
        info = json_loads(info_json, 0, &je);
        if (!json_is_object(info)) {
            if (err && errlen) snprintf(err, errlen, "build info is not a JSON object");
            json_decref(info);
            return MHG_ERR_INVALID;
        }
    }
    json_t *root = json_object();
    json_t *cats = json_object();
    if (!root || !cats) {
        json_decref(root);
        json_decref(cats);
        json_decref(info);
        return MHG_ERR_NOMEM;
    }
    json_object_set_new(root, "format", json_string(FORMAT_NAME));
    json_object_set_new(root, "format_version", json_integer(1));
    json_object_set_new(root, "version", json_string(cal->version));
    json_object_set_new(root, "method", json_string(METHOD_NAME));
    json_object_set_new(root, "model", json_string(cal->model));
    for (int c = 0; c < MHG_CAT_COUNT; c++) {
        const cal_map *m = &cal->map[c];
        if (!m->n) continue;
        json_t *o = json_object(), *xa = json_array(), *ya = json_array();
        for (size_t k = 0; k < m->n; k++) {
            json_array_append_new(xa, json_real(m->x[k]));
            json_array_append_new(ya, json_real(m->y[k]));
        }
        json_object_set_new(o, "rows", json_integer((json_int_t)m->rows));
        json_object_set_new(o, "positives", json_integer((json_int_t)m->positives));
        json_object_set_new(o, "x", xa);
        json_object_set_new(o, "y", ya);
        json_object_set_new(cats, mhg_category_name((mhg_category)c), o);
    }
    json_object_set_new(root, "categories", cats);
    if (info) json_object_set_new(root, "build", info);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_PRESERVE_ORDER |
                                            JSON_REAL_PRECISION(8));
    json_decref(root);
    if (rc != 0) {
        if (err && errlen) snprintf(err, errlen, "%s: cannot write", path);
        return MHG_ERR_IO;
    }
    return MHG_OK;
}

static mhg_status bad(mhg_calibration *cal, json_t *root, char *err, size_t errlen,
                      const char *path, const char *what) {
    if (err && errlen) snprintf(err, errlen, "%s: %s", path, what);
    mhg_calibration_free(cal);
    json_decref(root);
    return MHG_ERR_PARSE;
}

mhg_status mhg_calibration_load(const char *path, mhg_calibration **out, char *err,
                                size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!path) return MHG_ERR_INVALID;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen) snprintf(err, errlen, "%s: cannot open", path);
        return MHG_ERR_IO;
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root) {
        if (err && errlen)
            snprintf(err, errlen, "%s:%d: not JSON: %s", path, je.line, je.text);
        return MHG_ERR_PARSE;
    }
    if (!json_is_object(root) ||
        !json_is_string(json_object_get(root, "format")) ||
        strcmp(json_string_value(json_object_get(root, "format")), FORMAT_NAME))
        return bad(NULL, root, err, errlen, path, "not an engine calibration (format)");
    if (json_integer_value(json_object_get(root, "format_version")) != 1)
        return bad(NULL, root, err, errlen, path, "unsupported format_version (want 1)");
    json_t *meth = json_object_get(root, "method");
    if (!json_is_string(meth) || strcmp(json_string_value(meth), METHOD_NAME))
        return bad(NULL, root, err, errlen, path, "unknown method (want " METHOD_NAME ")");
    json_t *model = json_object_get(root, "model");
    json_t *ver = json_object_get(root, "version");
    json_t *cats = json_object_get(root, "categories");
    if (!json_is_string(model) || !json_is_string(ver) || !json_is_object(cats))
        return bad(NULL, root, err, errlen, path, "missing model, version or categories");
    mhg_calibration *cal = NULL;
    if (mhg_calibration_new(json_string_value(model), &cal) != MHG_OK)
        return bad(NULL, root, err, errlen, path, "bad model version string");
    const char *key;
    json_t *o;
    char what[256];
    json_object_foreach(cats, key, o) {
        mhg_category c;
        if (mhg_category_parse(key, &c) != MHG_OK) {
            snprintf(what, sizeof what, "unknown category '%.64s'", key);
            return bad(cal, root, err, errlen, path, what);
        }
        json_t *xa = json_object_get(o, "x"), *ya = json_object_get(o, "y");
        size_t n = json_array_size(xa);
        if (!json_is_array(xa) || !json_is_array(ya) || n == 0 || n != json_array_size(ya) ||
            n > MHG_CALIBRATION_MAX_KNOTS) {
            snprintf(what, sizeof what, "%.64s: x and y must be arrays of the same length 1..%u",
                     key, MHG_CALIBRATION_MAX_KNOTS);
            return bad(cal, root, err, errlen, path, what);
        }
        cal_map *m = &cal->map[c];
        m->x = malloc(n * sizeof *m->x);
        m->y = malloc(n * sizeof *m->y);
        if (!m->x || !m->y) {
            mhg_calibration_free(cal);
            json_decref(root);
            return MHG_ERR_NOMEM;
        }
        m->n = n;
        for (size_t k = 0; k < n; k++) {
            json_t *xv = json_array_get(xa, k), *yv = json_array_get(ya, k);
            double x = json_number_value(xv), y = json_number_value(yv);
            if (!json_is_number(xv) || !json_is_number(yv) || !(x >= 0.0 && x <= 1.0) ||
                !(y >= 0.0 && y <= 1.0)) {
                snprintf(what, sizeof what, "%.64s: knot %zu is not a number in [0,1]", key, k);
                return bad(cal, root, err, errlen, path, what);
            }
            if (k > 0 && (x <= m->x[k - 1] || y < m->y[k - 1])) {
                snprintf(what, sizeof what,
                         "%.64s: knot %zu: x must increase and y must not decrease", key, k);
                return bad(cal, root, err, errlen, path, what);
            }
            m->x[k] = x;
            m->y[k] = y;
        }
        json_int_t rows = json_integer_value(json_object_get(o, "rows"));
        json_int_t pos = json_integer_value(json_object_get(o, "positives"));
        m->rows = rows > 0 ? (size_t)rows : 0;
        m->positives = pos > 0 ? (size_t)pos : 0;
    }
    update_version(cal);
    if (strcmp(cal->version, json_string_value(ver))) {
        snprintf(what, sizeof what, "version %.20s does not match its contents (%s): edited by hand?",
                 json_string_value(ver), cal->version);
        return bad(cal, root, err, errlen, path, what);
    }
    json_decref(root);
    *out = cal;
    return MHG_OK;
}
