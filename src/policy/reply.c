/*
 * reply.c - screening the AI's reply before the user sees it: one-shot
 * (mhg_reply_check) and streamed (mhg_reply_stream_*).
 *
 * The reply lexicon (data/lexicons/reply/<lang>.yaml) is loaded through the
 * generic lexicon API with reply categories. Cue semantics are the reply's
 * own and look only LEFT of a finding (plus a short right margin for idiom
 * overlaps), so a stream can decide a finding as soon as a few words after
 * it have arrived, and the stream and the whole-reply check agree.
 *
 * Why hold back and not just scan chunks: a phrase can be split across
 * chunks ("the lethal do" + "se of"), and a word can continue ("I am a
 * human" + "itarian"). The stream scans only up to the last whitespace and
 * releases only text that is followed by at least MHG_REPLY_STREAM_HOLD
 * bytes AND more words than the longest lexicon phrase, so no byte of a
 * match is ever released before the match was seen whole and decided.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/mhg_buf.h"
#include "common/mhg_limits.h"
#include "mhguard/lexicon.h"
#include "mhguard/normalize.h"
#include "policy/policy_int.h"

/* Classes of lexicon entries and cues, as reply.c uses them. */
enum {
    C_NONE = 0,
    C_METHOD,
    C_LETHAL,
    C_ENC,
    C_HUMAN,
    C_CLIN,
    C_MED,
    C_MENTION,
    C_CUE_NEG,
    C_CUE_INFO,
    C_CUE_HYP,
    C_CUE_IDIOM,
    C_CUE_OTHER
};

static const struct {
    const char *name;
    int cls;
} reply_categories[] = {
    {"method_detail", C_METHOD},         {"lethality_detail", C_LETHAL},
    {"encouragement", C_ENC},            {"claims_human", C_HUMAN},
    {"claims_clinician", C_CLIN},        {"claims_therapist", C_CLIN},
    {"diagnosis", C_MED},                {"dose_advice", C_MED},
    {"treatment_instruction", C_MED},    {"personalised_medical_advice", C_MED},
    {"method_mention", C_MENTION},
};
#define N_REPLY_CATEGORIES (sizeof reply_categories / sizeof reply_categories[0])

static unsigned cls_reason(int cls) {
    switch (cls) {
    case C_METHOD:
    case C_MENTION: return MHG_REPLY_METHOD_DETAIL;
    case C_LETHAL: return MHG_REPLY_LETHALITY_DETAIL;
    case C_ENC: return MHG_REPLY_ENCOURAGEMENT;
    case C_HUMAN: return MHG_REPLY_CLAIMS_HUMAN;
    case C_CLIN: return MHG_REPLY_CLAIMS_CLINICIAN;
    case C_MED: return MHG_REPLY_MEDICAL_ADVICE;
    default: return 0;
    }
}

static const char *const reason_names[MHG_REPLY_REASON_COUNT] = {
    "method_detail",      "lethality_detail",  "encouragement",
    "claims_human",       "claims_clinician",  "medical_advice",
    "missing_disclaimer", "missing_resources", "reminder"};

const char *mhg_reply_reason_name(unsigned bit) {
    if (bit == 0 || (bit & (bit - 1)) != 0) return NULL;
    int i = __builtin_ctz(bit);
    return i < MHG_REPLY_REASON_COUNT ? reason_names[i] : NULL;
}

static const char *const action_names[] = {"allow", "amend", "block"};
const char *mhg_reply_action_name(mhg_reply_action a) {
    return (unsigned)a <= MHG_REPLY_BLOCK ? action_names[a] : NULL;
}

/* Words a finding must be followed by before it is decided (an idiom cue may
 * overlap it on the right: "I am a real person" + "-centred ..."). */
#define RIGHT_MARGIN_WORDS 4
/* Cue reach, in words, to the left of a finding. */
#define NEG_WORDS 4
#define CUE_WORDS 8
/* How far back a stream rescans: longest match plus cue context. */
#define STREAM_BACK_BYTES 1024u
/* A stream rescans only after this many new stable bytes (token-sized
 * chunks would otherwise rescan the window for every word); it only delays
 * release and blocking by at most this much text. */
#define STREAM_SCAN_STEP 64u
#define POOL_MAX 16

/* Per-thread working memory for one scan. */
typedef struct work {
    mhg_lexicon_scratch *scratch;
    mhg_normalized norm;
    mhg_lexicon_match *m;
    size_t cap;
} work;

struct mhg_reply_screener {
    const mhg_policy *p;
    mhg_lexicon *lex;
    unsigned char *cls; /* per entry */
    size_t n_entries;
    unsigned hold_words; /* longest phrase in words + margin */
    pthread_mutex_t mu;
    work *pool[POOL_MAX];
    size_t n_pool;
};

/* ---------------------------------------------------------------- work */

static void work_free(work *w) {
    if (!w) return;
    mhg_lexicon_scratch_free(w->scratch);
    mhg_normalized_free(&w->norm);
    free(w->m);
    free(w);
}

static mhg_status work_new(const mhg_reply_screener *s, work **out) {
    *out = NULL;
    work *w = calloc(1, sizeof *w);
    if (!w) return MHG_ERR_NOMEM;
    mhg_normalized_init(&w->norm);
    w->cap = MHG_MAX_MATCHES;
    w->m = malloc(w->cap * sizeof *w->m);
    if (!w->m) {
        work_free(w);
        return MHG_ERR_NOMEM;
    }
    mhg_status rc = mhg_lexicon_scratch_new(s->lex, &w->scratch);
    if (rc != MHG_OK) {
        work_free(w);
        return rc;
    }
    *out = w;
    return MHG_OK;
}

static mhg_status work_get(const mhg_reply_screener *cs, work **out) {
    mhg_reply_screener *s = (mhg_reply_screener *)cs; /* the pool is internal */
    pthread_mutex_lock(&s->mu);
    work *w = s->n_pool ? s->pool[--s->n_pool] : NULL;
    pthread_mutex_unlock(&s->mu);
    if (w) {
        *out = w;
        return MHG_OK;
    }
    return work_new(s, out);
}

static void work_put(const mhg_reply_screener *cs, work *w) {
    mhg_reply_screener *s = (mhg_reply_screener *)cs;
    if (!w) return;
    /* the normalized text is a reply: wipe before it waits in the pool */
    if (w->norm.text) mhg_memzero(w->norm.text, w->norm.len);
    w->norm.len = 0;
    pthread_mutex_lock(&s->mu);
    if (s->n_pool < POOL_MAX) {
        s->pool[s->n_pool++] = w;
        w = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    work_free(w);
}

/* ------------------------------------------------- phrase length (words) */

/* Longest number of words a `match` can span: words count 1, `*` 3, `**`
 * 8, a group its longest alternative. `re:` patterns count as 16 (reply
 * regexes are bounded by review: docs/internals/policy.md). */
static unsigned seq_words(const char **ps, int depth);

static unsigned alt_words(const char **ps, int depth) {
    unsigned best = 0;
    for (;;) {
        unsigned w = seq_words(ps, depth);
        if (w > best) best = w;
        if (**ps == '|') {
            (*ps)++;
            continue;
        }
        return best;
    }
}

static unsigned seq_words(const char **ps, int depth) {
    unsigned total = 0;
    const char *s = *ps;
    while (*s && *s != '|' && *s != ')') {
        if (*s == ' ') {
            s++;
        } else if (*s == '(') {
            s++;
            if (depth < 16) total += alt_words(&s, depth + 1);
            if (*s == ')') s++;
            if (*s == '?') s++;
        } else if (*s == '*') {
            if (s[1] == '*') {
                total += 8;
                s += 2;
            } else {
                total += 3;
                s++;
            }
        } else {
            /* a word (may contain - or ' which normalize turns into spaces) */
            total++;
            while (*s && *s != ' ' && *s != '|' && *s != ')' && *s != '(') {
                if (*s == '-') total++;
                s++;
            }
        }
    }
    *ps = s;
    return total;
}

static unsigned match_words(const char *m) {
    if (!m) return 0;
    if (strncmp(m, "re:", 3) == 0) return 16;
    const char *s = m;
    return alt_words(&s, 0);
}

/* -------------------------------------------------------------- loading */

mhg_status mhg_reply_screener_load(const mhg_policy *p, const char *lexicon_dir,
                                   const char *cache_dir, mhg_reply_screener **out, char *err,
                                   size_t errlen) {
    if (out) *out = NULL;
    if (err && errlen) err[0] = '\0';
    if (!p || !out) return MHG_ERR_INVALID;
    char *dir = lexicon_dir ? mhgi_pol_strdup(lexicon_dir)
                            : mhgi_pol_path_join(mhgi_pol_default_data_dir(), "lexicons/reply");
    if (!dir) return MHG_ERR_NOMEM;
    const char *cats[N_REPLY_CATEGORIES + 1];
    for (size_t i = 0; i < N_REPLY_CATEGORIES; i++) cats[i] = reply_categories[i].name;
    cats[N_REPLY_CATEGORIES] = NULL;
    mhg_lexicon_options o = {.path = dir, .cache_dir = cache_dir, .categories = cats};
    mhg_reply_screener *s = calloc(1, sizeof *s);
    if (!s) {
        free(dir);
        return MHG_ERR_NOMEM;
    }
    s->p = p;
    mhg_status rc = mhg_lexicon_load_ex(&o, &s->lex, err, errlen);
    free(dir);
    if (rc != MHG_OK) {
        free(s);
        return rc;
    }
    s->n_entries = mhg_lexicon_entry_count(s->lex);
    s->cls = calloc(s->n_entries ? s->n_entries : 1, 1);
    if (!s->cls) {
        mhg_lexicon_free(s->lex);
        free(s);
        return MHG_ERR_NOMEM;
    }
    unsigned longest = 0;
    for (size_t i = 0; i < s->n_entries; i++) {
        const mhg_lexicon_entry *e = mhg_lexicon_entry_get(s->lex, i);
        int c = C_NONE;
        switch (e->kind) {
        case MHG_LEX_ENTRY:
            for (size_t k = 0; k < N_REPLY_CATEGORIES; k++)
                if (e->category && !strcmp(e->category, reply_categories[k].name))
                    c = reply_categories[k].cls;
            break;
        case MHG_LEX_CUE_NEGATION: c = C_CUE_NEG; break;
        case MHG_LEX_CUE_INFORMATIONAL: c = C_CUE_INFO; break;
        case MHG_LEX_CUE_HYPOTHETICAL: c = C_CUE_HYP; break;
        case MHG_LEX_CUE_IDIOM: c = C_CUE_IDIOM; break;
        default: c = C_CUE_OTHER; break;
        }
        s->cls[i] = (unsigned char)c;
        unsigned w = match_words(e->match);
        if (c < C_CUE_NEG && w > longest) longest = w;
    }
    s->hold_words = longest + RIGHT_MARGIN_WORDS + 1;
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return MHG_OK;
}

void mhg_reply_screener_free(mhg_reply_screener *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_pool; i++) work_free(s->pool[i]);
    pthread_mutex_destroy(&s->mu);
    mhg_lexicon_free(s->lex);
    free(s->cls);
    free(s);
}

const char *mhg_reply_screener_version(const mhg_reply_screener *s) {
    return s ? mhg_lexicon_version(s->lex) : "";
}

/* ------------------------------------------------------------- results */

void mhg_reply_result_init(mhg_reply_result *r) {
    if (!r) return;
    memset(r, 0, sizeof *r);
    r->action = MHG_REPLY_ALLOW;
}

void mhg_reply_result_free(mhg_reply_result *r) {
    if (!r) return;
    free(r->append);
    free(r->replacement);
    r->append = r->replacement = NULL;
    r->append_len = r->replacement_len = 0;
}

static void add_finding(mhg_reply_result *r, unsigned reason, const mhg_lexicon_entry *e,
                        size_t start, size_t end) {
    r->reasons |= reason;
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].start == start && r->findings[i].end == end &&
            r->findings[i].reason == reason)
            return;
    if (r->n_findings >= MHG_REPLY_MAX_FINDINGS) return;
    mhg_reply_finding *f = &r->findings[r->n_findings++];
    f->reason = reason;
    f->category = e->category;
    f->rule_id = e->rule_id;
    f->start = start;
    f->end = end;
}

/* ------------------------------------------------------------ analysis */

static int is_strong_end(unsigned char c) {
    return c == '.' || c == '!' || c == '?' || c == ';' || c == ':' || c == '\n';
}

/* Words in normalized text [a, b), and whether a clause ends there:
 * 2 = a sentence-level end (. ! ? ; :), 1 = a comma after some word of the
 * gap, 0 = none. A comma right after the cue ("You said, ...", "Du sagst,
 * ...") is reported as 0 with *comma_first set: reflection cues may cross
 * it (German puts that comma before every subordinate clause). */
static void gap_info(const char *t, size_t a, size_t b, unsigned *words, int *clause,
                     int *comma_first) {
    unsigned w = 0;
    int in = 0;
    *clause = 0;
    *comma_first = 0;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)t[i];
        if (is_strong_end(c)) *clause = 2;
        if (c == ',') {
            if (w == 0 && !in) *comma_first = 1;
            else if (*clause < 1) *clause = 1;
        }
        if (c == ' ' || c == ',') {
            in = 0;
        } else if (!in) {
            in = 1;
            w++;
        }
    }
    *words = w;
}

/* Words in normalized text from b to the end (for the right margin). */
static unsigned words_after(const char *t, size_t b, size_t len) {
    unsigned w = 0;
    int in = 0;
    for (size_t i = b; i < len; i++) {
        if (t[i] == ' ') {
            in = 0;
        } else if (!in) {
            in = 1;
            w++;
        }
    }
    return w;
}

typedef struct scan_ctx {
    int minor;
    int high_risk;
    int block_medical;
} scan_ctx;

static int cue_cancels(int cue, int cls, unsigned words, int clause, int comma_first) {
    if (clause) return 0;
    switch (cue) {
    case C_CUE_NEG:
        return !comma_first && words <= NEG_WORDS &&
               (cls == C_HUMAN || cls == C_CLIN || cls == C_MED || cls == C_MENTION);
    case C_CUE_INFO: return !comma_first && words <= CUE_WORDS && cls != C_ENC;
    case C_CUE_HYP: return words <= CUE_WORDS && (cls == C_ENC || cls == C_HUMAN || cls == C_CLIN);
    default: return 0;
    }
}

/*
 * Scan text[0, len) (which starts at byte `base` of the whole reply) and add
 * to r every active finding whose end (in whole-reply bytes) lies in
 * (decided_from, decided_to] -- or every finding when final. Findings
 * closer than RIGHT_MARGIN_WORDS to the end of the text are left for later
 * unless final. *settled_to receives the whole-reply offset up to which all
 * findings are now decided.
 */
static mhg_status analyse(const mhg_reply_screener *s, work *w, const char *text, size_t len,
                          size_t base, size_t decided_from, int final, const scan_ctx *sc,
                          mhg_reply_result *r, size_t *settled_to) {
    mhg_status rc = mhg_normalize(text, len, MHG_NORM_TEXT, &w->norm);
    if (rc != MHG_OK) return rc;
    const char *t = w->norm.text;
    size_t tl = w->norm.len;
    size_t n = 0;
    if (tl > 0) {
        rc = mhg_lexicon_scan(s->lex, w->scratch, t, tl, w->m, w->cap, &n);
        if (rc != MHG_OK) return rc;
        /* more matches than we can hold: we cannot say the reply is clean */
        if (mhg_lexicon_scratch_dropped(w->scratch) > 0) return MHG_ERR_TOO_BIG;
    }
    /* The decided frontier: the original offset of the normalized position
     * RIGHT_MARGIN_WORDS words before the end. */
    size_t frontier_norm = tl;
    if (!final) {
        unsigned words = 0;
        int in = 0;
        size_t i = tl;
        while (i > 0) {
            if (t[i - 1] == ' ') {
                in = 0;
            } else if (!in) {
                in = 1;
                if (++words > RIGHT_MARGIN_WORDS) break;
            }
            i--;
        }
        /* i is the end of the word just before the margin */
        frontier_norm = words > RIGHT_MARGIN_WORDS ? i : 0;
    }
    size_t frontier = base;
    if (final) {
        frontier = base + len;
    } else if (frontier_norm > 0) {
        size_t os, oe;
        mhg_normalized_span(&w->norm, frontier_norm - 1, frontier_norm, &os, &oe);
        frontier = base + oe;
    }
    if (frontier < decided_from) frontier = decided_from;

    for (size_t i = 0; i < n; i++) {
        const mhg_lexicon_match *f = &w->m[i];
        if (f->entry >= s->n_entries) continue;
        int cls = s->cls[f->entry];
        if (cls == C_NONE || cls >= C_CUE_NEG) continue;
        if (cls == C_MED && !sc->block_medical) continue;
        if (cls == C_MENTION && !sc->minor && !sc->high_risk) continue;
        size_t os, oe;
        mhg_normalized_span(&w->norm, f->start, f->end, &os, &oe);
        os += base;
        oe += base;
        if (oe <= decided_from) continue; /* decided by an earlier scan */
        if (!final && (f->end > frontier_norm || oe > frontier)) continue; /* not yet */
        if (!final && words_after(t, f->end, tl) < RIGHT_MARGIN_WORDS) continue;
        int cancelled = 0;
        for (size_t k = 0; k < n && !cancelled; k++) {
            const mhg_lexicon_match *c = &w->m[k];
            if (c->entry >= s->n_entries) continue;
            int cue = s->cls[c->entry];
            if (cue < C_CUE_NEG) continue;
            if (cue == C_CUE_IDIOM) {
                if (c->start < f->end && f->start < c->end) cancelled = 1;
                continue;
            }
            if (c->end > f->start || c->start >= f->start) continue; /* cues look left */
            unsigned words;
            int clause, comma_first;
            gap_info(t, c->end, f->start, &words, &clause, &comma_first);
            if (cue_cancels(cue, cls, words, clause, comma_first)) cancelled = 1;
        }
        if (cancelled) continue;
        add_finding(r, cls_reason(cls), mhg_lexicon_entry_get(s->lex, f->entry), os, oe);
    }
    *settled_to = frontier;
    return MHG_OK;
}

/* ------------------------------------------------------ amend and block */

static void ctx_scan(const mhg_reply_screener *s, const mhg_reply_context *ctx, scan_ctx *sc) {
    const mhg_policy_info *in = mhg_policy_get(s->p);
    sc->minor = ctx && (ctx->age_band == MHG_AGE_MINOR ||
                        (ctx->age_band == MHG_AGE_UNKNOWN &&
                         (in->unknown_as_minor || in->require_age_band)));
    sc->high_risk = ctx && ctx->user_risk >= MHG_LEVEL_HIGH;
    sc->block_medical = in->block_medical_advice;
}

static mhg_status render_add(const mhg_reply_screener *s, mhg_template t,
                             const mhg_reply_context *ctx, mhgi_pol_sbuf *b) {
    char *txt = NULL;
    size_t n = 0;
    mhg_status rc = mhg_policy_render(s->p, t, ctx ? ctx->lang : NULL, ctx ? ctx->country : NULL,
                                      ctx ? ctx->age_band : MHG_AGE_UNKNOWN, &txt, &n);
    if (rc != MHG_OK) return rc;
    mhgi_pol_sb_add(b, "\n\n", 2);
    mhgi_pol_sb_add(b, txt, n);
    free(txt);
    return MHG_OK;
}

/* Does text already contain the start of the disclaimer (the model may
 * copy it from the system message)? */
static int has_prefix_of(const char *text, size_t len, const char *needle) {
    size_t nl = strlen(needle);
    if (nl > 40) nl = 40;
    if (nl < 10 || nl > len) return 0;
    for (size_t i = 0; i + nl <= len; i++)
        if (strncasecmp(text + i, needle, nl) == 0) return 1;
    return 0;
}

/* Fill out->action, append / replacement from the findings in out. */
static mhg_status finish_result(const mhg_reply_screener *s, const char *text, size_t len,
                                const mhg_reply_context *ctx, mhg_reply_result *out) {
    const mhg_policy *p = s->p;
    const mhg_policy_info *in = mhg_policy_get(p);
    const char *lang = ctx ? ctx->lang : NULL;
    mhg_age_band age = ctx ? ctx->age_band : MHG_AGE_UNKNOWN;
    mhg_status rc = MHG_OK;
    mhgi_pol_sbuf b;
    mhgi_pol_sb_init(&b, 64u * 1024u);

    if (out->reasons & MHG_REPLY_BLOCKING) {
        out->action = MHG_REPLY_BLOCK;
        char *txt = NULL;
        size_t n = 0;
        rc = mhg_policy_render(p, MHG_TPL_BLOCKED_REPLY, lang, ctx ? ctx->country : NULL, age,
                               &txt, &n);
        if (rc != MHG_OK) return rc;
        mhgi_pol_sb_add(&b, txt, n);
        free(txt);
        if (ctx && ctx->reminder_due) {
            rc = render_add(s, MHG_TPL_REMINDER, ctx, &b);
            out->reasons |= MHG_REPLY_REMINDER;
        }
        if (rc == MHG_OK && in->disclaimer_required) rc = render_add(s, MHG_TPL_DISCLAIMER, ctx, &b);
        if (rc != MHG_OK) {
            mhgi_pol_sb_free(&b);
            return rc;
        }
        out->replacement = mhgi_pol_sb_take(&b, &out->replacement_len);
        return out->replacement ? MHG_OK : MHG_ERR_NOMEM;
    }

    int need_res = ctx && (ctx->require_resources || ctx->user_risk >= MHG_LEVEL_HIGH);
    if (need_res) {
        const mhg_country_resources *c = mhgi_pol_resources_pick_default(
            mhg_policy_resources(p), ctx->country, in->default_country, lang);
        if (c && !mhg_resources_mentioned(c, text, len)) {
            out->reasons |= MHG_REPLY_MISSING_RESOURCES;
            rc = render_add(s, MHG_TPL_RESOURCES_INTRO, ctx, &b);
            char *blk = NULL;
            size_t bl = 0;
            const char *used = "en";
            (void)mhgi_pol_templates_get(p->tpl, MHG_TPL_RESOURCES_INTRO, lang, &used);
            if (rc == MHG_OK) rc = mhg_resources_format(c, used, age == MHG_AGE_MINOR, &blk, &bl);
            if (rc == MHG_OK) {
                mhgi_pol_sb_add(&b, "\n", 1);
                mhgi_pol_sb_add(&b, blk, bl);
            }
            free(blk);
        }
    }
    if (rc == MHG_OK && ctx && ctx->reminder_due) {
        out->reasons |= MHG_REPLY_REMINDER;
        rc = render_add(s, MHG_TPL_REMINDER, ctx, &b);
    }
    if (rc == MHG_OK && in->disclaimer_required) {
        const char *d = mhgi_pol_templates_get(p->tpl, MHG_TPL_DISCLAIMER, lang, NULL);
        if (!d || !has_prefix_of(text, len, d)) {
            out->reasons |= MHG_REPLY_MISSING_DISCLAIMER;
            rc = render_add(s, MHG_TPL_DISCLAIMER, ctx, &b);
        }
    }
    if (rc != MHG_OK) {
        mhgi_pol_sb_free(&b);
        return rc;
    }
    if (b.len > 0) {
        out->action = MHG_REPLY_AMEND;
        out->append = mhgi_pol_sb_take(&b, &out->append_len);
        if (!out->append) return MHG_ERR_NOMEM;
    } else {
        mhgi_pol_sb_free(&b);
        out->action = MHG_REPLY_ALLOW;
    }
    return MHG_OK;
}

/* Fail closed: a block with whatever safe text can be produced. */
static void fail_closed(const mhg_reply_screener *s, const mhg_reply_context *ctx,
                        mhg_reply_result *out) {
    mhg_reply_result_free(out);
    out->action = MHG_REPLY_BLOCK;
    char *txt = NULL;
    size_t n = 0;
    if (s && mhg_policy_render(s->p, MHG_TPL_BLOCKED_REPLY, ctx ? ctx->lang : NULL,
                               ctx ? ctx->country : NULL,
                               ctx ? ctx->age_band : MHG_AGE_UNKNOWN, &txt, &n) == MHG_OK) {
        out->replacement = txt;
        out->replacement_len = n;
        return;
    }
    const char *st = mhg_policy_static_crisis_text();
    out->replacement = mhgi_pol_strdup(st);
    out->replacement_len = out->replacement ? strlen(st) : 0;
}

mhg_status mhg_reply_check(const mhg_reply_screener *s, const char *text, size_t len,
                           const mhg_reply_context *ctx, mhg_reply_result *out) {
    if (!out) return MHG_ERR_INVALID;
    mhg_reply_result_free(out);
    mhg_reply_result_init(out);
    mhg_status rc = MHG_OK;
    if (!s || (!text && len)) rc = MHG_ERR_INVALID;
    else if (len > MHG_MAX_MESSAGE_BYTES) rc = MHG_ERR_TOO_BIG;
    else if (!mhg_utf8_valid(text, len)) rc = MHG_ERR_UTF8;
    if (rc != MHG_OK) {
        fail_closed(s, ctx, out);
        return rc;
    }
    scan_ctx sc;
    ctx_scan(s, ctx, &sc);
    work *w = NULL;
    rc = work_get(s, &w);
    size_t settled = 0;
    if (rc == MHG_OK) rc = analyse(s, w, text ? text : "", len, 0, 0, 1, &sc, out, &settled);
    work_put(s, w);
    if (rc == MHG_OK) rc = finish_result(s, text ? text : "", len, ctx, out);
    if (rc != MHG_OK) fail_closed(s, ctx, out);
    return rc;
}

/* ------------------------------------------------------------- streams */

struct mhg_reply_stream {
    const mhg_reply_screener *s;
    mhg_reply_context ctx;
    char lang[16], country[8];
    scan_ctx sc;
    work *w;
    char *buf;
    size_t len, cap;
    size_t released; /* bytes handed to the caller */
    size_t decided;  /* findings ending at or before this are decided */
    size_t scanned;  /* stable end at the last scan */
    size_t validated; /* bytes checked to be complete, valid UTF-8 */
    int blocked;
    int failed;
    mhg_reply_result partial; /* findings so far */
};

mhg_status mhg_reply_stream_new(const mhg_reply_screener *s, const mhg_reply_context *ctx,
                                mhg_reply_stream **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!s) return MHG_ERR_INVALID;
    mhg_reply_stream *st = calloc(1, sizeof *st);
    if (!st) return MHG_ERR_NOMEM;
    st->s = s;
    if (ctx) st->ctx = *ctx;
    /* copy the strings: the caller's context may not outlive the stream */
    if (ctx && ctx->lang) {
        snprintf(st->lang, sizeof st->lang, "%s", ctx->lang);
        st->ctx.lang = st->lang;
    }
    if (ctx && ctx->country) {
        snprintf(st->country, sizeof st->country, "%s", ctx->country);
        st->ctx.country = st->country;
    }
    ctx_scan(s, &st->ctx, &st->sc);
    mhg_reply_result_init(&st->partial);
    /* scan memory comes from the screener's pool: allocating Vectorscan
     * scratch per streamed reply would cost more than the scans */
    mhg_status rc = work_get(s, &st->w);
    if (rc != MHG_OK) {
        free(st);
        return rc;
    }
    *out = st;
    return MHG_OK;
}

void mhg_reply_stream_free(mhg_reply_stream *st) {
    if (!st) return;
    if (st->buf) {
        mhg_memzero(st->buf, st->cap);
        free(st->buf);
    }
    work_put(st->s, st->w);
    mhg_reply_result_free(&st->partial);
    free(st);
}

/* End of the longest prefix of buf that is complete UTF-8 (an incomplete
 * trailing sequence waits for the next chunk). */
static size_t complete_utf8(const char *b, size_t len) {
    size_t i = len, back = 0;
    while (i > 0 && back < 4 && (((unsigned char)b[i - 1]) & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0) return len;
    unsigned char lead = (unsigned char)b[i - 1];
    size_t need = lead < 0x80 ? 1 : (lead >> 5) == 6 ? 2 : (lead >> 4) == 14 ? 3
                                                       : (lead >> 3) == 30 ? 4 : 1;
    if (need > 1 && back + 1 < need) return i - 1;
    return len;
}

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* Scan what is stable and decide what can be decided. */
static mhg_status stream_scan(mhg_reply_stream *st, int final) {
    size_t end = complete_utf8(st->buf, st->len);
    if (final && end != st->len) return MHG_ERR_UTF8;
    /* validate every chunk as it arrives, even when the scan waits */
    if (end > st->validated) {
        if (!mhg_utf8_valid(st->buf + st->validated, end - st->validated)) return MHG_ERR_UTF8;
        st->validated = end;
    }
    size_t stable = end;
    if (!final) {
        while (stable > 0 && !is_ws(st->buf[stable - 1])) stable--;
    }
    if (!final && stable < st->scanned + STREAM_SCAN_STEP) return MHG_OK;
    /* rescan from a whitespace far enough back for the longest phrase and
     * its cue context */
    size_t ws = st->decided > STREAM_BACK_BYTES ? st->decided - STREAM_BACK_BYTES : 0;
    while (ws > 0 && !is_ws(st->buf[ws - 1])) ws--;
    size_t settled = st->decided;
    mhg_status rc = analyse(st->s, st->w, st->buf + ws, stable - ws, ws, st->decided, final,
                            &st->sc, &st->partial, &settled);
    if (rc != MHG_OK) return rc;
    if (settled > st->decided) st->decided = settled;
    st->scanned = stable;
    if (st->partial.reasons & MHG_REPLY_BLOCKING) st->blocked = 1;
    return MHG_OK;
}

/* How far may text be released: HOLD bytes and hold_words words before the
 * decided frontier, at a whitespace. */
static size_t release_point(const mhg_reply_stream *st) {
    size_t d = st->decided;
    if (d < MHG_REPLY_STREAM_HOLD) return st->released;
    size_t p = d - MHG_REPLY_STREAM_HOLD;
    unsigned words = 0;
    int in = 0;
    for (size_t i = d; i > p; i--) {
        if (is_ws(st->buf[i - 1])) {
            in = 0;
        } else if (!in) {
            in = 1;
            words++;
        }
    }
    /* need more words: walk further back */
    while (p > 0 && words < st->s->hold_words) {
        if (is_ws(st->buf[p - 1])) {
            in = 0;
        } else if (!in) {
            in = 1;
            words++;
        }
        p--;
    }
    if (words < st->s->hold_words) return st->released;
    while (p > st->released && !is_ws(st->buf[p - 1])) p--;
    return p > st->released ? p : st->released;
}

mhg_status mhg_reply_stream_feed(mhg_reply_stream *st, const char *chunk, size_t len,
                                 const char **release, size_t *release_len, int *blocked) {
    if (release) *release = NULL;
    if (release_len) *release_len = 0;
    if (blocked) *blocked = 1;
    if (!st || !release || !release_len || !blocked || (!chunk && len)) return MHG_ERR_INVALID;
    if (st->blocked || st->failed) return st->failed ? MHG_ERR_INVALID : MHG_OK;
    if (st->len + len > MHG_MAX_MESSAGE_BYTES) {
        st->failed = 1;
        return MHG_ERR_TOO_BIG;
    }
    if (mhgi_buf_reserve(&st->buf, &st->cap, st->len, st->len + len + 1, 4096, SIZE_MAX) !=
        MHG_OK) {
        st->failed = 1;
        return MHG_ERR_NOMEM;
    }
    if (len) memcpy(st->buf + st->len, chunk, len);
    st->len += len;
    st->buf[st->len] = '\0';
    mhg_status rc = stream_scan(st, 0);
    if (rc != MHG_OK) {
        st->failed = 1;
        return rc;
    }
    if (st->blocked) return MHG_OK;
    size_t p = release_point(st);
    *blocked = 0;
    if (p > st->released) {
        *release = st->buf + st->released;
        *release_len = p - st->released;
        st->released = p;
    }
    return MHG_OK;
}

mhg_status mhg_reply_stream_finish(mhg_reply_stream *st, const char **release,
                                   size_t *release_len, mhg_reply_result *out) {
    if (release) *release = NULL;
    if (release_len) *release_len = 0;
    if (!out) return MHG_ERR_INVALID;
    mhg_reply_result_free(out);
    mhg_reply_result_init(out);
    if (!st || !release || !release_len) {
        fail_closed(st ? st->s : NULL, st ? &st->ctx : NULL, out);
        return MHG_ERR_INVALID;
    }
    mhg_status rc = MHG_OK;
    if (st->failed) rc = MHG_ERR_INVALID;
    if (rc == MHG_OK && !st->blocked) rc = stream_scan(st, 1);
    if (rc != MHG_OK) {
        st->failed = 1;
        fail_closed(st->s, &st->ctx, out);
        return rc;
    }
    /* carry the findings over, then decide amend/block on the whole reply */
    out->reasons = st->partial.reasons;
    out->n_findings = st->partial.n_findings;
    memcpy(out->findings, st->partial.findings, sizeof out->findings);
    rc = finish_result(st->s, st->buf ? st->buf : "", st->len, &st->ctx, out);
    if (rc != MHG_OK) {
        fail_closed(st->s, &st->ctx, out);
        return rc;
    }
    if (out->action != MHG_REPLY_BLOCK && st->len > st->released) {
        *release = st->buf + st->released;
        *release_len = st->len - st->released;
        st->released = st->len;
    }
    return MHG_OK;
}
