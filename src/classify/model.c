/*
 * model.c - the model file (load, save, version) and scoring.
 *
 * The file is read with one read() into one buffer and the weights are used
 * in place: loading a few MB takes a millisecond, and the engine, which is
 * immutable after load, can share the model across threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "classify/classify_int.h"
#include "common/mhg_limits.h"

#define MAX_MODEL_BYTES (512u * 1024u * 1024u)

static void seterr(char *err, size_t errlen, const char *fmt, const char *a) {
    if (err && errlen) snprintf(err, errlen, fmt, a);
}

static size_t weight_size(int bits) { return (size_t)bits / 8u; }

static size_t weights_offset(size_t n_heads) {
    size_t off = MHGI_MODEL_FIXED_BYTES + MHGI_MODEL_HEAD_BYTES * n_heads;
    return (off + MHGI_MODEL_ALIGN - 1) / MHGI_MODEL_ALIGN * MHGI_MODEL_ALIGN;
}

static size_t weights_bytes(const mhg_model *m) {
    return ((size_t)1 << m->cfg.hash_bits) * m->n_heads * weight_size(m->weight_bits);
}

size_t mhg_model_file_size(const mhg_model *m) {
    return weights_offset(m->n_heads) + weights_bytes(m) + 8u;
}

static int little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* ---- serialization helpers (little-endian hosts only, checked) ---- */
static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_f64(unsigned char *p, double v) { memcpy(p, &v, 8); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static double get_f64(const unsigned char *p) {
    double v;
    memcpy(&v, p, 8);
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Header and heads (everything before the weights) into buf. */
static void write_header(const mhg_model *m, unsigned char *buf) {
    size_t off = weights_offset(m->n_heads);
    memset(buf, 0, off);
    memcpy(buf, MHG_MODEL_MAGIC, 8);
    put_u32(buf + 8, MHG_MODEL_FORMAT);
    put_u32(buf + 12, (uint32_t)off);
    memcpy(buf + 16, m->version, MHG_MODEL_VERSION_LEN);
    put_u32(buf + 48, m->cfg.hash_bits);
    put_u32(buf + 52, m->cfg.seed);
    buf[56] = m->cfg.word_ngrams;
    buf[57] = m->cfg.char_min;
    buf[58] = m->cfg.char_max;
    buf[59] = (unsigned char)m->weight_bits;
    put_u32(buf + 60, (uint32_t)m->n_heads);
    for (size_t i = 0; i < m->n_heads; i++) {
        unsigned char *h = buf + MHGI_MODEL_FIXED_BYTES + i * MHGI_MODEL_HEAD_BYTES;
        const mhg_model_head *hd = &m->heads[i];
        put_u32(h, (uint32_t)hd->category);
        put_f64(h + 8, hd->bias);
        put_f64(h + 16, m->scale[i]);
        put_f64(h + 24, hd->platt_a);
        put_f64(h + 32, hd->platt_b);
        put_f64(h + 40, hd->t_low);
        put_f64(h + 48, hd->t_moderate);
    }
}

/* Hash of the content that defines the model (header with an empty version
 * field, and the weights). */
static uint64_t content_hash(const mhg_model *m) {
    size_t off = weights_offset(m->n_heads);
    unsigned char *hdr = calloc(1, off);
    if (!hdr) return 0;
    mhg_model tmp = *m;
    memset(tmp.version, 0, sizeof tmp.version);
    write_header(&tmp, hdr);
    uint64_t h1 = mhg_feature_hash(1, hdr, off);
    uint64_t h2 = mhg_feature_hash(h1, m->weights, weights_bytes(m));
    free(hdr);
    return h2;
}

void mhgi_model_update_version(mhg_model *m) {
    uint64_t h = content_hash(m);
    snprintf(m->version, sizeof m->version, "m%u-%u-%012llx", MHG_MODEL_FORMAT, m->cfg.hash_bits,
             (unsigned long long)(h >> 16));
}

mhg_status mhgi_model_alloc(const mhg_feature_config *cfg, const mhg_category *heads,
                            size_t n_heads, int weight_bits, mhg_model **out) {
    *out = NULL;
    if (!cfg || !heads || n_heads == 0 || n_heads > MHG_MODEL_MAX_HEADS) return MHG_ERR_INVALID;
    if (weight_bits != 32 && weight_bits != 16 && weight_bits != 8) return MHG_ERR_INVALID;
    mhg_model *m = calloc(1, sizeof *m);
    if (!m) return MHG_ERR_NOMEM;
    m->cfg = *cfg;
    m->n_heads = n_heads;
    m->weight_bits = weight_bits;
    for (size_t i = 0; i < n_heads; i++) {
        m->heads[i].category = heads[i];
        m->heads[i].platt_a = -1.0;
        m->heads[i].platt_b = 0.0;
        m->heads[i].t_low = 2.0;
        m->heads[i].t_moderate = 2.0;
        m->scale[i] = 1.0;
    }
    m->owned_len = weights_bytes(m);
    m->owned = calloc(1, m->owned_len ? m->owned_len : 1);
    if (!m->owned) {
        free(m);
        return MHG_ERR_NOMEM;
    }
    m->weights = m->owned;
    mhgi_model_update_version(m);
    *out = m;
    return MHG_OK;
}

void mhg_model_free(mhg_model *m) {
    if (!m) return;
    free(m->owned);
    free(m);
}

const char *mhg_model_version(const mhg_model *m) { return m ? m->version : "none"; }
const mhg_feature_config *mhg_model_features(const mhg_model *m) { return &m->cfg; }
size_t mhg_model_n_heads(const mhg_model *m) { return m ? m->n_heads : 0; }

const mhg_model_head *mhg_model_head_get(const mhg_model *m, size_t i) {
    return (m && i < m->n_heads) ? &m->heads[i] : NULL;
}

int mhg_model_head_index(const mhg_model *m, mhg_category cat) {
    if (!m) return -1;
    for (size_t i = 0; i < m->n_heads; i++)
        if (m->heads[i].category == cat) return (int)i;
    return -1;
}

mhg_status mhg_model_set_thresholds(mhg_model *m, size_t head, double t_low, double t_moderate) {
    if (!m || head >= m->n_heads || !(t_low >= 0.0) || !(t_moderate >= 0.0)) return MHG_ERR_INVALID;
    m->heads[head].t_low = t_low;
    m->heads[head].t_moderate = t_moderate;
    mhgi_model_update_version(m);
    return MHG_OK;
}

mhg_status mhg_model_save(const mhg_model *m, const char *path) {
    if (!m || !path) return MHG_ERR_INVALID;
    size_t off = weights_offset(m->n_heads), wb = weights_bytes(m);
    size_t total = off + wb + 8;
    unsigned char *buf = malloc(total);
    if (!buf) return MHG_ERR_NOMEM;
    write_header(m, buf);
    memcpy(buf + off, m->weights, wb);
    put_u64(buf + off + wb, mhg_feature_hash(0, buf, off + wb));

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        free(buf);
        return MHG_ERR_NOMEM;
    }
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
    mhg_status st = MHG_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = MHG_ERR_IO;
    } else {
        if (fwrite(buf, 1, total, f) != total) st = MHG_ERR_IO;
        if (fclose(f) != 0) st = MHG_ERR_IO;
        if (st == MHG_OK && rename(tmp, path) != 0) st = MHG_ERR_IO;
        if (st != MHG_OK) remove(tmp);
    }
    free(tmp);
    free(buf);
    return st;
}

mhg_status mhg_model_load(const char *path, mhg_model **out, char *err, size_t errlen) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!path) return MHG_ERR_INVALID;
    if (!little_endian()) {
        seterr(err, errlen, "%s: model files need a little-endian host", path);
        return MHG_ERR_PARSE;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (err && errlen) snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return MHG_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0 ||
        (uint64_t)sb.st_size > MAX_MODEL_BYTES) {
        close(fd);
        seterr(err, errlen, "%s: not a regular file of a sane size", path);
        return MHG_ERR_IO;
    }
    size_t len = (size_t)sb.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        close(fd);
        return MHG_ERR_NOMEM;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != len) {
        free(buf);
        seterr(err, errlen, "%s: short read", path);
        return MHG_ERR_IO;
    }
    const char *why = NULL;
    mhg_model *m = NULL;
    if (len < MHGI_MODEL_FIXED_BYTES + 8 || memcmp(buf, MHG_MODEL_MAGIC, 8) != 0) {
        why = "%s: not an mhguard model (bad magic)";
    } else if (get_u32(buf + 8) != MHG_MODEL_FORMAT) {
        why = "%s: unsupported model format version";
    } else {
        m = calloc(1, sizeof *m);
        if (!m) {
            free(buf);
            return MHG_ERR_NOMEM;
        }
        m->cfg.hash_bits = get_u32(buf + 48);
        m->cfg.seed = get_u32(buf + 52);
        m->cfg.word_ngrams = buf[56];
        m->cfg.char_min = buf[57];
        m->cfg.char_max = buf[58];
        m->weight_bits = buf[59];
        m->n_heads = get_u32(buf + 60);
        mhg_feature_buf probe;
        mhg_feature_buf_init(&probe);
        if (m->n_heads == 0 || m->n_heads > MHG_MODEL_MAX_HEADS ||
            (m->weight_bits != 32 && m->weight_bits != 16 && m->weight_bits != 8) ||
            mhg_features_extract(&m->cfg, "", 0, &probe) != MHG_OK) {
            why = "%s: invalid feature settings or head count";
        } else if (get_u32(buf + 12) != weights_offset(m->n_heads) ||
                   len != weights_offset(m->n_heads) + weights_bytes(m) + 8) {
            why = "%s: file size does not match its header (truncated?)";
        } else if (get_u64(buf + len - 8) != mhg_feature_hash(0, buf, len - 8)) {
            why = "%s: checksum mismatch (corrupt file)";
        } else {
            memcpy(m->version, buf + 16, MHG_MODEL_VERSION_LEN);
            m->version[MHG_MODEL_VERSION_LEN - 1] = '\0';
            for (size_t i = 0; i < m->n_heads && !why; i++) {
                const unsigned char *h = buf + MHGI_MODEL_FIXED_BYTES + i * MHGI_MODEL_HEAD_BYTES;
                uint32_t cat = get_u32(h);
                if (cat >= MHG_CAT_COUNT) why = "%s: unknown head category";
                m->heads[i].category = (mhg_category)cat;
                m->heads[i].bias = get_f64(h + 8);
                m->scale[i] = get_f64(h + 16);
                m->heads[i].platt_a = get_f64(h + 24);
                m->heads[i].platt_b = get_f64(h + 32);
                m->heads[i].t_low = get_f64(h + 40);
                m->heads[i].t_moderate = get_f64(h + 48);
                if (!isfinite(m->heads[i].bias) || !isfinite(m->scale[i]) ||
                    !isfinite(m->heads[i].platt_a) || !isfinite(m->heads[i].platt_b))
                    why = "%s: non-finite head parameter";
            }
        }
        mhg_feature_buf_free(&probe);
    }
    if (why) {
        seterr(err, errlen, why, path);
        free(m);
        free(buf);
        return MHG_ERR_PARSE;
    }
    m->owned = buf;
    m->owned_len = len;
    m->weights = buf + weights_offset(m->n_heads);
    *out = m;
    return MHG_OK;
}

/* ---- scoring ---- */

double mhgi_sigmoid_platt(const mhg_model_head *h, double margin) {
    double z = h->platt_a * margin + h->platt_b;
    /* 1/(1+e^z) without overflow */
    if (z >= 0) {
        double e = exp(-z);
        return e / (1.0 + e);
    }
    return 1.0 / (1.0 + exp(z));
}

void mhgi_model_margins(const mhg_model *m, const mhg_feature_buf *f, double *margin) {
    const size_t H = m->n_heads;
    /* Integer sums for quantized weights: exact, so the margin of a text is
     * the same number whatever the order of its features. */
    int64_t iw[MHG_MODEL_MAX_HEADS] = {0}, ic[MHG_MODEL_MAX_HEADS] = {0};
    double dw[MHG_MODEL_MAX_HEADS] = {0}, dc[MHG_MODEL_MAX_HEADS] = {0};
    for (size_t k = 0; k < f->n; k++) {
        const mhg_feature *ft = &f->items[k];
        size_t base = (size_t)ft->bucket * H;
        int is_char = ft->kind == MHG_FEAT_CHAR;
        if (m->weight_bits == 16) {
            const int16_t *w = (const int16_t *)m->weights + base;
            int64_t *acc = is_char ? ic : iw;
            for (size_t h = 0; h < H; h++) acc[h] += ft->sign * (int64_t)w[h];
        } else if (m->weight_bits == 8) {
            const int8_t *w = (const int8_t *)m->weights + base;
            int64_t *acc = is_char ? ic : iw;
            for (size_t h = 0; h < H; h++) acc[h] += ft->sign * (int64_t)w[h];
        } else {
            const float *w = (const float *)m->weights + base;
            double *acc = is_char ? dc : dw;
            for (size_t h = 0; h < H; h++) acc[h] += ft->sign * (double)w[h];
        }
    }
    double nw = f->n_word ? 1.0 / sqrt((double)f->n_word) : 0.0;
    double nc = f->n_char ? 1.0 / sqrt((double)f->n_char) : 0.0;
    for (size_t h = 0; h < H; h++) {
        double sw = m->weight_bits == 32 ? dw[h] : (double)iw[h];
        double sc = m->weight_bits == 32 ? dc[h] : (double)ic[h];
        margin[h] = m->heads[h].bias + m->scale[h] * (sw * nw + sc * nc);
    }
}

mhg_status mhg_model_scratch_new(mhg_model_scratch **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = calloc(1, sizeof **out);
    if (!*out) return MHG_ERR_NOMEM;
    mhg_feature_buf_init(&(*out)->feats);
    return MHG_OK;
}

void mhg_model_scratch_free(mhg_model_scratch *s) {
    if (!s) return;
    /* Spans and buckets of features say little, but they are derived from a
     * message: wipe them like the text itself. */
    if (s->feats.items) mhg_memzero(s->feats.items, s->feats.cap * sizeof *s->feats.items);
    mhg_feature_buf_free(&s->feats);
    free(s->tok_start);
    free(s->tok_end);
    free(s->tok_w);
    free(s);
}

mhg_status mhg_model_classify(const mhg_model *m, mhg_model_scratch *s, const char *text,
                              size_t len, mhg_model_output *out) {
    if (!m || !s || !out) return MHG_ERR_INVALID;
    memset(out, 0, sizeof *out);
    s->have = 0;
    mhg_status st = mhg_features_extract(&m->cfg, text, len, &s->feats);
    if (st != MHG_OK) return st;
    s->have = 1;
    s->text_len = len;
    out->n_heads = m->n_heads;
    mhgi_model_margins(m, &s->feats, out->margin);
    for (size_t h = 0; h < m->n_heads; h++) {
        out->category[h] = m->heads[h].category;
        out->prob[h] = mhgi_sigmoid_platt(&m->heads[h], out->margin[h]);
    }
    return MHG_OK;
}

static double feat_weight(const mhg_model *m, const mhg_feature *ft, size_t head) {
    size_t idx = (size_t)ft->bucket * m->n_heads + head;
    double w;
    if (m->weight_bits == 16)
        w = ((const int16_t *)m->weights)[idx];
    else if (m->weight_bits == 8)
        w = ((const int8_t *)m->weights)[idx];
    else
        w = ((const float *)m->weights)[idx];
    return ft->sign * w * m->scale[head];
}

mhg_status mhg_model_explain(const mhg_model *m, mhg_model_scratch *s, size_t head,
                             mhg_model_contrib *out, size_t max, size_t *n) {
    if (n) *n = 0;
    if (!m || !s || !n || head >= m->n_heads || !s->have || (max && !out)) return MHG_ERR_INVALID;
    const mhg_feature_buf *f = &s->feats;
    /* Tokens are the word features (in text order). */
    size_t nt = 0;
    for (size_t k = 0; k < f->n; k++) nt += f->items[k].kind == MHG_FEAT_WORD;
    if (nt == 0) return MHG_OK;
    if (nt > s->tok_cap) {
        uint32_t *a = realloc(s->tok_start, nt * sizeof *a);
        if (!a) return MHG_ERR_NOMEM;
        s->tok_start = a;
        uint32_t *b = realloc(s->tok_end, nt * sizeof *b);
        if (!b) return MHG_ERR_NOMEM;
        s->tok_end = b;
        double *c = realloc(s->tok_w, nt * sizeof *c);
        if (!c) return MHG_ERR_NOMEM;
        s->tok_w = c;
        s->tok_cap = nt;
    }
    size_t t = 0;
    for (size_t k = 0; k < f->n; k++)
        if (f->items[k].kind == MHG_FEAT_WORD) {
            s->tok_start[t] = f->items[k].start;
            s->tok_end[t] = f->items[k].end;
            s->tok_w[t] = 0.0;
            t++;
        }
    double nw = f->n_word ? 1.0 / sqrt((double)f->n_word) : 0.0;
    double nc = f->n_char ? 1.0 / sqrt((double)f->n_char) : 0.0;
    for (size_t k = 0; k < f->n; k++) {
        const mhg_feature *ft = &f->items[k];
        double c = feat_weight(m, ft, head) * (ft->kind == MHG_FEAT_CHAR ? nc : nw);
        /* token whose span contains (or follows) the feature start */
        size_t lo = 0, hi = nt;
        while (lo < hi) { /* first token with end > start */
            size_t mid = (lo + hi) / 2;
            if (s->tok_end[mid] <= ft->start)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= nt) lo = nt - 1;
        if (ft->kind == MHG_FEAT_BIGRAM) {
            s->tok_w[lo] += c / 2;
            if (lo + 1 < nt) s->tok_w[lo + 1] += c / 2;
        } else {
            s->tok_w[lo] += c;
        }
    }
    /* top `max` positive tokens, strongest first (selection: max is small) */
    size_t got = 0;
    while (got < max) {
        size_t best = nt;
        for (size_t i = 0; i < nt; i++)
            if (s->tok_w[i] > 0 && (best == nt || s->tok_w[i] > s->tok_w[best])) best = i;
        if (best == nt) break;
        out[got].start = s->tok_start[best];
        out[got].end = s->tok_end[best];
        out[got].weight = s->tok_w[best];
        s->tok_w[best] = 0;
        got++;
    }
    *n = got;
    return MHG_OK;
}
