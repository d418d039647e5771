/*
 * train.c - fit the heads with liblinear and calibrate them (Platt) on dev.
 *
 * Examples are stored as compact feature codes (bucket, sign, group), not
 * text. Training vectors are built once (buckets summed and sorted) and the
 * per-head problems share them; dev examples are scored through the same
 * mhgi_model_margins() as inference, after quantization, so calibration
 * describes exactly the weights that ship.
 */
#include <linear.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/classify_int.h"

typedef struct example {
    uint32_t *codes; /* bucket << 2 | (sign < 0) << 1 | is_char */
    uint32_t n;
    uint32_t n_word, n_char;
    int8_t labels[MHG_MODEL_MAX_HEADS];
    int is_dev;
} example;

struct mhg_trainer {
    mhg_feature_config cfg;
    size_t n_heads;
    mhg_category heads[MHG_MODEL_MAX_HEADS];
    example *ex;
    size_t n_ex, cap_ex;
    mhg_feature_buf buf;
    /* after fit: dev labels and calibrated scores per head */
    int8_t *dev_labels[MHG_MODEL_MAX_HEADS];
    double *dev_probs[MHG_MODEL_MAX_HEADS];
    size_t n_dev[MHG_MODEL_MAX_HEADS];
};

void mhg_train_options_default(mhg_train_options *o) {
    o->C = 1.0;
    o->eps = 0.01;
    o->balance = 0;
    o->weight_bits = 16;
    o->seed = 1;
}

mhg_status mhg_trainer_new(const mhg_feature_config *cfg, const mhg_category *heads,
                           size_t n_heads, mhg_trainer **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!cfg || !heads || n_heads == 0 || n_heads > MHG_MODEL_MAX_HEADS) return MHG_ERR_INVALID;
    for (size_t i = 0; i < n_heads; i++) {
        if ((unsigned)heads[i] >= MHG_CAT_COUNT) return MHG_ERR_INVALID;
        for (size_t j = 0; j < i; j++)
            if (heads[i] == heads[j]) return MHG_ERR_INVALID;
    }
    mhg_feature_buf probe;
    mhg_feature_buf_init(&probe);
    mhg_status st = mhg_features_extract(cfg, "", 0, &probe);
    mhg_feature_buf_free(&probe);
    if (st != MHG_OK) return MHG_ERR_INVALID;
    mhg_trainer *tr = calloc(1, sizeof *tr);
    if (!tr) return MHG_ERR_NOMEM;
    tr->cfg = *cfg;
    tr->n_heads = n_heads;
    memcpy(tr->heads, heads, n_heads * sizeof *heads);
    mhg_feature_buf_init(&tr->buf);
    *out = tr;
    return MHG_OK;
}

void mhg_trainer_free(mhg_trainer *tr) {
    if (!tr) return;
    for (size_t i = 0; i < tr->n_ex; i++) free(tr->ex[i].codes);
    free(tr->ex);
    mhg_feature_buf_free(&tr->buf);
    for (size_t h = 0; h < MHG_MODEL_MAX_HEADS; h++) {
        free(tr->dev_labels[h]);
        free(tr->dev_probs[h]);
    }
    free(tr);
}

mhg_status mhg_trainer_add(mhg_trainer *tr, const char *text, size_t len, const int8_t *labels,
                           int is_dev) {
    if (!tr || !labels) return MHG_ERR_INVALID;
    int any = 0;
    for (size_t h = 0; h < tr->n_heads; h++) {
        if (labels[h] != MHG_LABEL_UNKNOWN && labels[h] != MHG_LABEL_NEG &&
            labels[h] != MHG_LABEL_POS)
            return MHG_ERR_INVALID;
        any |= labels[h] != MHG_LABEL_UNKNOWN;
    }
    if (!any) return MHG_OK;
    mhg_status st = mhg_features_extract(&tr->cfg, text, len, &tr->buf);
    if (st != MHG_OK) return st;
    if (tr->n_ex == tr->cap_ex) {
        size_t nc = tr->cap_ex ? tr->cap_ex * 2 : 1024;
        example *ne = realloc(tr->ex, nc * sizeof *ne);
        if (!ne) return MHG_ERR_NOMEM;
        tr->ex = ne;
        tr->cap_ex = nc;
    }
    example *e = &tr->ex[tr->n_ex];
    memset(e, 0, sizeof *e);
    e->codes = malloc((tr->buf.n ? tr->buf.n : 1) * sizeof *e->codes);
    if (!e->codes) return MHG_ERR_NOMEM;
    for (size_t k = 0; k < tr->buf.n; k++) {
        const mhg_feature *f = &tr->buf.items[k];
        e->codes[k] = (f->bucket << 2) | ((uint32_t)(f->sign < 0) << 1) |
                      (uint32_t)(f->kind == MHG_FEAT_CHAR);
    }
    e->n = (uint32_t)tr->buf.n;
    e->n_word = (uint32_t)tr->buf.n_word;
    e->n_char = (uint32_t)tr->buf.n_char;
    for (size_t h = 0; h < tr->n_heads; h++) e->labels[h] = labels[h];
    e->is_dev = is_dev ? 1 : 0;
    tr->n_ex++;
    return MHG_OK;
}

void mhg_trainer_counts(const mhg_trainer *tr, size_t head, size_t *tp, size_t *tn, size_t *dp,
                        size_t *dn) {
    size_t c[4] = {0};
    if (tr && head < tr->n_heads)
        for (size_t i = 0; i < tr->n_ex; i++) {
            int8_t l = tr->ex[i].labels[head];
            if (l == MHG_LABEL_UNKNOWN) continue;
            c[(tr->ex[i].is_dev ? 2 : 0) + (l == MHG_LABEL_POS ? 0 : 1)]++;
        }
    if (tp) *tp = c[0];
    if (tn) *tn = c[1];
    if (dp) *dp = c[2];
    if (dn) *dn = c[3];
}

void mhg_trainer_dev_scores(const mhg_trainer *tr, size_t head, const int8_t **labels,
                            const double **probs, size_t *n) {
    if (head >= MHG_MODEL_MAX_HEADS || !tr) {
        *labels = NULL, *probs = NULL, *n = 0;
        return;
    }
    *labels = tr->dev_labels[head];
    *probs = tr->dev_probs[head];
    *n = tr->n_dev[head];
}

static void quiet(const char *s) { (void)s; }

static int cmp_node(const void *a, const void *b) {
    const struct feature_node *x = a, *y = b;
    return (x->index > y->index) - (x->index < y->index);
}

/* One example as a liblinear row: buckets summed per group scale, sorted,
 * zeros dropped, bias node, terminator. */
static struct feature_node *make_row(const example *e, int n_features) {
    struct feature_node *r = malloc((e->n + 2) * sizeof *r);
    if (!r) return NULL;
    double nw = e->n_word ? 1.0 / sqrt((double)e->n_word) : 0.0;
    double nc = e->n_char ? 1.0 / sqrt((double)e->n_char) : 0.0;
    for (uint32_t k = 0; k < e->n; k++) {
        uint32_t c = e->codes[k];
        r[k].index = (int)(c >> 2) + 1;
        r[k].value = ((c & 2) ? -1.0 : 1.0) * ((c & 1) ? nc : nw);
    }
    qsort(r, e->n, sizeof *r, cmp_node);
    uint32_t o = 0;
    for (uint32_t k = 0; k < e->n;) {
        int idx = r[k].index;
        double v = 0;
        while (k < e->n && r[k].index == idx) v += r[k++].value;
        if (v != 0.0) {
            r[o].index = idx;
            r[o].value = v;
            o++;
        }
    }
    r[o].index = n_features + 1; /* bias feature (prob.bias = 1) */
    r[o].value = 1.0;
    r[o + 1].index = -1;
    return r;
}

static void build_feature_buf(const mhg_trainer *tr, const example *e, mhg_feature_buf *b) {
    /* reuse items array: caller ensured capacity */
    b->n = e->n;
    b->n_word = e->n_word;
    b->n_char = e->n_char;
    for (uint32_t k = 0; k < e->n; k++) {
        uint32_t c = e->codes[k];
        b->items[k].bucket = c >> 2;
        b->items[k].sign = (c & 2) ? -1 : 1;
        b->items[k].kind = (c & 1) ? MHG_FEAT_CHAR : MHG_FEAT_WORD;
        b->items[k].start = b->items[k].end = 0;
    }
    (void)tr;
}

void mhg_platt_fit(const double *s, const int8_t *y, size_t n, double *A, double *B) {
    /* Lin, Lin & Weng (2007), "A note on Platt's probabilistic outputs". */
    double prior1 = 0, prior0 = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == MHG_LABEL_POS)
            prior1++;
        else
            prior0++;
    }
    *A = -1.0, *B = 0.0;
    if (n == 0 || prior1 == 0 || prior0 == 0) return;
    const int max_iter = 100;
    const double min_step = 1e-10, sigma = 1e-12, eps = 1e-5;
    double hi = (prior1 + 1.0) / (prior1 + 2.0), lo = 1.0 / (prior0 + 2.0);
    double a = 0.0, b = log((prior0 + 1.0) / (prior1 + 1.0)), fval = 0.0;
    for (size_t i = 0; i < n; i++) {
        double t = y[i] == MHG_LABEL_POS ? hi : lo;
        double f = s[i] * a + b;
        fval += f >= 0 ? t * f + log1p(exp(-f)) : (t - 1) * f + log1p(exp(f));
    }
    for (int it = 0; it < max_iter; it++) {
        double h11 = sigma, h22 = sigma, h21 = 0, g1 = 0, g2 = 0;
        for (size_t i = 0; i < n; i++) {
            double f = s[i] * a + b, p, q;
            if (f >= 0) {
                p = exp(-f) / (1.0 + exp(-f));
                q = 1.0 / (1.0 + exp(-f));
            } else {
                p = 1.0 / (1.0 + exp(f));
                q = exp(f) / (1.0 + exp(f));
            }
            double t = y[i] == MHG_LABEL_POS ? hi : lo;
            double d2 = p * q;
            h11 += s[i] * s[i] * d2;
            h22 += d2;
            h21 += s[i] * d2;
            double d1 = t - p;
            g1 += s[i] * d1;
            g2 += d1;
        }
        if (fabs(g1) < eps && fabs(g2) < eps) break;
        double det = h11 * h22 - h21 * h21;
        double da = -(h22 * g1 - h21 * g2) / det, db = -(-h21 * g1 + h11 * g2) / det;
        double gd = g1 * da + g2 * db, step = 1.0;
        while (step >= min_step) {
            double na = a + step * da, nb = b + step * db, nf = 0;
            for (size_t i = 0; i < n; i++) {
                double t = y[i] == MHG_LABEL_POS ? hi : lo;
                double f = s[i] * na + nb;
                nf += f >= 0 ? t * f + log1p(exp(-f)) : (t - 1) * f + log1p(exp(f));
            }
            if (nf < fval + 0.0001 * step * gd) {
                a = na, b = nb, fval = nf;
                break;
            }
            step /= 2.0;
        }
        if (step < min_step) break;
    }
    *A = a, *B = b;
}

static void seterr(char *err, size_t errlen, const char *msg, const char *cat) {
    if (err && errlen) snprintf(err, errlen, msg, cat);
}

mhg_status mhg_trainer_fit(mhg_trainer *tr, const mhg_train_options *opt_in, mhg_model **out,
                           char *err, size_t errlen) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!tr) return MHG_ERR_INVALID;
    mhg_train_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        mhg_train_options_default(&opt);
    if (!(opt.C > 0) || !(opt.eps > 0)) return MHG_ERR_INVALID;
    for (size_t h = 0; h < tr->n_heads; h++) {
        size_t tp, tn;
        mhg_trainer_counts(tr, h, &tp, &tn, NULL, NULL);
        if (tp == 0 || tn == 0) {
            seterr(err, errlen, "head %s needs positive and negative training examples",
                   mhg_category_name(tr->heads[h]));
            return MHG_ERR_INVALID;
        }
    }
    const size_t nb = (size_t)1 << tr->cfg.hash_bits;
    const int n_features = (int)nb;
    mhg_model *m = NULL;
    mhg_status st = mhgi_model_alloc(&tr->cfg, tr->heads, tr->n_heads, opt.weight_bits, &m);
    if (st != MHG_OK) return st;

    size_t n_train = 0;
    for (size_t i = 0; i < tr->n_ex; i++) n_train += !tr->ex[i].is_dev;
    struct feature_node **rows = calloc(n_train ? n_train : 1, sizeof *rows);
    size_t *row_ex = calloc(n_train ? n_train : 1, sizeof *row_ex);
    struct feature_node **x = calloc(n_train ? n_train : 1, sizeof *x);
    double *y = calloc(n_train ? n_train : 1, sizeof *y);
    double *w = calloc(nb + 1, sizeof *w);
    double *wall = calloc(nb * tr->n_heads, sizeof *wall);
    if (!rows || !row_ex || !x || !y || !w || !wall) {
        st = MHG_ERR_NOMEM;
        goto done;
    }
    size_t r = 0;
    for (size_t i = 0; i < tr->n_ex; i++) {
        if (tr->ex[i].is_dev) continue;
        rows[r] = make_row(&tr->ex[i], n_features);
        if (!rows[r]) {
            st = MHG_ERR_NOMEM;
            goto done;
        }
        row_ex[r++] = i;
    }
    set_print_string_function(quiet);
    for (size_t h = 0; h < tr->n_heads; h++) {
        int l = 0;
        double npos = 0, nneg = 0;
        for (size_t k = 0; k < n_train; k++) {
            int8_t lab = tr->ex[row_ex[k]].labels[h];
            if (lab == MHG_LABEL_UNKNOWN) continue;
            x[l] = rows[k];
            y[l] = lab == MHG_LABEL_POS ? 1.0 : -1.0;
            if (lab == MHG_LABEL_POS)
                npos++;
            else
                nneg++;
            l++;
        }
        struct problem prob = {.l = l, .n = n_features + 1, .y = y, .x = x, .bias = 1.0};
        int wl[2] = {1, -1};
        double wv[2] = {1.0, 1.0};
        if (opt.balance) {
            wv[0] = (npos + nneg) / (2.0 * npos);
            wv[1] = (npos + nneg) / (2.0 * nneg);
        }
        struct parameter param = {.solver_type = L2R_LR, .eps = opt.eps, .C = opt.C,
                                  .nr_weight = 2, .weight_label = wl, .weight = wv};
        const char *perr = check_parameter(&prob, &param);
        if (perr) {
            seterr(err, errlen, "liblinear: %s", perr);
            st = MHG_ERR_INTERNAL;
            goto done;
        }
        struct model *lm = train(&prob, &param);
        if (!lm) {
            seterr(err, errlen, "liblinear failed on head %s", mhg_category_name(tr->heads[h]));
            st = MHG_ERR_INTERNAL;
            goto done;
        }
        /* liblinear orders classes by first appearance: w scores label[0]. */
        double sgn = lm->label[0] == 1 ? 1.0 : -1.0;
        for (size_t b = 0; b < nb; b++) wall[b * tr->n_heads + h] = sgn * lm->w[b];
        m->heads[h].bias = sgn * lm->w[nb] * prob.bias;
        free_and_destroy_model(&lm);
    }
    /* quantize with a per-head scale */
    for (size_t h = 0; h < tr->n_heads; h++) {
        double maxabs = 0;
        for (size_t b = 0; b < nb; b++) {
            double v = fabs(wall[b * tr->n_heads + h]);
            if (v > maxabs) maxabs = v;
        }
        double qmax = opt.weight_bits == 16 ? 32767.0 : opt.weight_bits == 8 ? 127.0 : 0.0;
        m->scale[h] = (qmax > 0 && maxabs > 0) ? maxabs / qmax : 1.0;
    }
    for (size_t b = 0; b < nb; b++)
        for (size_t h = 0; h < tr->n_heads; h++) {
            size_t idx = b * tr->n_heads + h;
            double v = wall[idx];
            if (opt.weight_bits == 16)
                ((int16_t *)m->owned)[idx] = (int16_t)lround(v / m->scale[h]);
            else if (opt.weight_bits == 8)
                ((int8_t *)m->owned)[idx] = (int8_t)lround(v / m->scale[h]);
            else
                ((float *)m->owned)[idx] = (float)v;
        }
    /* calibrate on dev with the quantized weights */
    {
        size_t maxn = 1;
        for (size_t i = 0; i < tr->n_ex; i++)
            if (tr->ex[i].n > maxn) maxn = tr->ex[i].n;
        mhg_feature_buf fb;
        mhg_feature_buf_init(&fb);
        fb.items = malloc(maxn * sizeof *fb.items);
        fb.cap = maxn;
        double *marg = malloc((tr->n_ex ? tr->n_ex : 1) * tr->n_heads * sizeof *marg);
        if (!fb.items || !marg) {
            free(fb.items);
            free(marg);
            st = MHG_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 0; i < tr->n_ex; i++)
            if (tr->ex[i].is_dev) {
                build_feature_buf(tr, &tr->ex[i], &fb);
                mhgi_model_margins(m, &fb, marg + i * tr->n_heads);
            }
        for (size_t h = 0; h < tr->n_heads && st == MHG_OK; h++) {
            size_t n = 0;
            for (size_t i = 0; i < tr->n_ex; i++)
                n += tr->ex[i].is_dev && tr->ex[i].labels[h] != MHG_LABEL_UNKNOWN;
            free(tr->dev_labels[h]);
            free(tr->dev_probs[h]);
            tr->dev_labels[h] = malloc((n ? n : 1) * sizeof(int8_t));
            tr->dev_probs[h] = malloc((n ? n : 1) * sizeof(double));
            double *sc = malloc((n ? n : 1) * sizeof(double));
            if (!tr->dev_labels[h] || !tr->dev_probs[h] || !sc) {
                free(sc);
                st = MHG_ERR_NOMEM;
                break;
            }
            size_t k = 0;
            for (size_t i = 0; i < tr->n_ex; i++)
                if (tr->ex[i].is_dev && tr->ex[i].labels[h] != MHG_LABEL_UNKNOWN) {
                    sc[k] = marg[i * tr->n_heads + h];
                    tr->dev_labels[h][k] = tr->ex[i].labels[h];
                    k++;
                }
            double a, b;
            mhg_platt_fit(sc, tr->dev_labels[h], n, &a, &b);
            m->heads[h].platt_a = a;
            m->heads[h].platt_b = b;
            for (size_t j = 0; j < n; j++) tr->dev_probs[h][j] = mhgi_sigmoid_platt(&m->heads[h], sc[j]);
            tr->n_dev[h] = n;
            free(sc);
        }
        free(fb.items);
        free(marg);
    }
    if (st == MHG_OK) mhgi_model_update_version(m);

done:
    if (rows)
        for (size_t k = 0; k < n_train; k++) free(rows[k]);
    free(rows);
    free(row_ex);
    free(x);
    free(y);
    free(w);
    free(wall);
    if (st != MHG_OK) {
        mhg_model_free(m);
        return st;
    }
    *out = m;
    return MHG_OK;
}
