/*
 * lex_pattern.c - the `match` mini-language (docs/internals/lexicon-format.md)
 * translated into Vectorscan expressions.
 *
 *   match := seq ('|' seq)*          (top level is an implicit group)
 *   seq   := item (' ' item)*
 *   item  := WORD['~'] | '(' seq ('|' seq)* ')' ['?'] | '*' | '**'
 *
 * Words are normalized with mhg_normalize(MHG_NORM_PATTERN) so that a phrase
 * written in ordinary spelling matches the normalized text the scanner sees
 * (case folded, letter runs collapsed, marks stripped...).
 *
 * Separators: for `spaces: true` files words are separated by one or more
 * characters that are neither word characters nor sentence ends (so
 * "kill, myself" and "kill 💀 myself" match, "kill. Myself" does not; an
 * ellipsis "want to... die" is allowed because people write hesitation that
 * way). For `spaces: false` files an optional single space.
 * A gap `*` / `**` is up to 3 / 8 words (6 / 16 characters without spaces)
 * that do not cross a sentence end.
 *
 * Literal sets: most patterns are alternations of fixed words. Each
 * segment whose expansion (every path through its groups and optional
 * items) has at most MHGI_MAX_LITERALS strings, with a `~` only on its last
 * word, is matched as plain literals (Vectorscan's literal matcher, several
 * times faster than the regex engines with start-of-match tracking); the
 * start of a literal match is its end minus its length, and a final `~`
 * word is extended to the end of the word by the scanner. Other segments
 * (bigger expansions, `~` inside, gaps inside groups, `re:`) are compiled
 * as regular expressions. Both run on the same squeezed text.
 *
 * Gaps at the top level of a pattern (the usual "(a|b) ** (c|d)") are not
 * compiled into the expression: the pattern is split into segments, each
 * segment becomes its own Vectorscan expression, and the scanner joins the
 * segment matches in C, checking the gap. A bounded gap inside a
 * start-of-match (SOM) expression makes Vectorscan build huge automata
 * ("Pattern is too large" for two `**` over CJK text); joining in C costs
 * almost nothing. Gaps inside groups, or in a pattern with a top-level '|',
 * stay in the expression (small ones only).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lexicon/lexicon_int.h"
#include "mhguard/normalize.h"

/*
 * Vectorscan turns Unicode property classes (\p{L}, or \w with UCP) into
 * very large automata ("Pattern is too large" for a two-word phrase with a
 * boundary), so the generated expressions use only small explicit classes:
 * separators are listed characters, gap words are "anything but a space or a
 * sentence end", and word boundaries are checked by the scanner in C
 * (lexicon.c, on_match) instead of in the expression.
 */
/* Separator between two words: one space. The scanner squeezes every run
 * of separator characters in the text (spaces, commas, colons, quotes,
 * brackets, dashes, an ellipsis) into one space before matching
 * (mhgi_squeeze), so "kill, myself", "want to... die" and "\"kill\" myself"
 * all reach the expressions as "kil myself" / "want to die". */
#define SEP_SPACES " "
#define SEP_NOSPACE " ?"
/* One word of a gap: a space, then anything up to the next space, comma or
 * sentence end (so a gap stays inside its clause). */
#define GAP_WORD " [^ .!?;\\x{3002}\\x{ff01}\\x{ff1f}]+"
#define GAP_CHAR "[^.!?;\\x{3002}\\x{ff01}\\x{ff1f}]"
/* `word~`: more letters. ASCII letters/digits or any non-ASCII character;
 * the scanner's end-boundary check picks the end where the word stops. */
#define TILDE_SPACES "[^\\x00-\\x2f\\x3a-\\x60\\x7b-\\x7f]*"
#define TILDE_NOSPACE "[^\\x00-\\x40\\x5b-\\x60\\x7b-\\x7f\\x{3001}\\x{3002}\\x{ff01}\\x{ff0c}\\x{ff1f}]{0,4}"

enum tok { T_END, T_LP, T_RP, T_PIPE, T_Q, T_GAP1, T_GAP2, T_WORD };

typedef struct parser {
    const char *s;
    size_t pos, len;
    int spaces;
    /* current token */
    enum tok t;
    size_t tstart, tlen; /* word text */
    int tilde;
    char *why;
    size_t whylen;
    int failed;
    int depth;
    int segmode;      /* split at top-level gaps */
    mhgi_pattern *pat;
    int cur;          /* current segment */
} parser;

static void fail(parser *p, const char *msg, size_t at) {
    if (p->failed) return;
    p->failed = 1;
    snprintf(p->why, p->whylen, "match: %s (at column %zu)", msg, at + 1);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_special(char c) {
    return c == '(' || c == ')' || c == '|' || c == '?' || c == '*';
}

static void next(parser *p) {
    while (p->pos < p->len && is_ws(p->s[p->pos])) p->pos++;
    p->tstart = p->pos;
    p->tilde = 0;
    if (p->pos >= p->len) {
        p->t = T_END;
        return;
    }
    char c = p->s[p->pos];
    switch (c) {
    case '(': p->t = T_LP; p->pos++; return;
    case ')': p->t = T_RP; p->pos++; return;
    case '|': p->t = T_PIPE; p->pos++; return;
    case '?': p->t = T_Q; p->pos++; return;
    case '*':
        if (p->pos + 1 < p->len && p->s[p->pos + 1] == '*') {
            p->t = T_GAP2;
            p->pos += 2;
            if (p->pos < p->len && p->s[p->pos] == '*') fail(p, "'***' is not a gap", p->pos);
        } else {
            p->t = T_GAP1;
            p->pos++;
        }
        return;
    default: break;
    }
    size_t st = p->pos;
    while (p->pos < p->len && !is_ws(p->s[p->pos]) && !is_special(p->s[p->pos])) p->pos++;
    p->t = T_WORD;
    p->tstart = st;
    p->tlen = p->pos - st;
    const char *tl = memchr(p->s + st, '~', p->tlen);
    if (tl) {
        if ((size_t)(tl - (p->s + st)) != p->tlen - 1) {
            fail(p, "'~' may only end a word", (size_t)(tl - p->s));
            return;
        }
        p->tilde = 1;
        p->tlen--;
        if (p->tlen == 0) fail(p, "'~' needs a word before it", st);
    }
}

/* Append the normalized, escaped literal word. */
static void emit_word(parser *p, mhgi_strbuf *out) {
    mhg_normalized n;
    mhg_normalized_init(&n);
    mhg_status st = mhg_normalize(p->s + p->tstart, p->tlen, MHG_NORM_PATTERN, &n);
    if (st != MHG_OK) {
        fail(p, st == MHG_ERR_UTF8 ? "word is not valid UTF-8" : "word cannot be normalized",
             p->tstart);
        mhg_normalized_free(&n);
        return;
    }
    /* Trim spaces the normalizer may leave at the ends. */
    size_t a = 0, b = n.len;
    while (a < b && n.text[a] == ' ') a++;
    while (b > a && n.text[b - 1] == ' ') b--;
    if (a == b) {
        fail(p, "word normalizes to nothing", p->tstart);
        mhg_normalized_free(&n);
        return;
    }
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)n.text[i];
        if (c == ' ') {
            while (i + 1 < b && n.text[i + 1] == ' ') i++;
            mhgi_sb_adds(out, p->spaces ? SEP_SPACES : SEP_NOSPACE);
        } else if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                 (c >= '0' && c <= '9'))) {
            char esc[2] = {'\\', (char)c};
            if (c < 0x20) {
                char hx[8];
                snprintf(hx, sizeof hx, "\\x%02x", c);
                mhgi_sb_adds(out, hx);
            } else {
                mhgi_sb_add(out, esc, 2);
            }
        } else {
            mhgi_sb_add(out, (const char *)&c, 1);
        }
    }
    if (p->tilde) mhgi_sb_adds(out, p->spaces ? TILDE_SPACES : TILDE_NOSPACE);
    mhg_normalized_free(&n);
}

static int gap_size(int spaces, int gap) {
    if (spaces) return gap == 1 ? MHGI_GAP1_WORDS : MHGI_GAP2_WORDS;
    return gap == 1 ? MHGI_GAP1_CHARS : MHGI_GAP2_CHARS;
}

static void emit_gap(parser *p, mhgi_strbuf *out, int gap) {
    char buf[160];
    if (p->spaces)
        snprintf(buf, sizeof buf, "(?:" GAP_WORD "){0,%d}", gap_size(1, gap));
    else
        snprintf(buf, sizeof buf, GAP_CHAR "{0,%d}", gap_size(0, gap));
    mhgi_sb_adds(out, buf);
}

static void parse_seq(parser *p, mhgi_strbuf *out);

/* Current token starts an item: parse it into item; *optional if '?'. */
static void parse_item(parser *p, mhgi_strbuf *item, int *optional) {
    *optional = 0;
    if (p->t == T_WORD) {
        emit_word(p, item);
        next(p);
        if (p->t == T_Q && !p->failed) fail(p, "'?' may only follow a group: write (word)?", p->tstart);
        return;
    }
    /* T_LP */
    size_t open_at = p->tstart;
    if (++p->depth > 16) {
        fail(p, "groups nested too deeply", open_at);
        return;
    }
    next(p);
    mhgi_sb_adds(item, "(?:");
    for (;;) {
        if (p->failed) return;
        parse_seq(p, item);
        if (p->failed) return;
        if (p->t == T_PIPE) {
            mhgi_sb_adds(item, "|");
            next(p);
            continue;
        }
        if (p->t == T_RP) break;
        fail(p, "unclosed '('", open_at);
        return;
    }
    mhgi_sb_adds(item, ")");
    p->depth--;
    next(p);
    if (p->t == T_Q) {
        *optional = 1;
        next(p);
    }
}

/* seq: stops at ')', '|' or end. Separators go between items; optional
 * items carry their separator inside the optional group so that leaving
 * them out leaves exactly one separator. In segment mode a gap at the top
 * level closes the current segment and starts the next one. */
static void parse_seq(parser *p, mhgi_strbuf *out) {
    int have_required = 0, pending_gap = 0, n_items = 0;
    const int split = p->segmode && p->depth == 0;
    if (split) out = &p->pat->seg[p->cur];
    const char *sep = p->spaces ? SEP_SPACES : SEP_NOSPACE;
    for (;;) {
        if (p->failed) return;
        if (p->t == T_END || p->t == T_RP || p->t == T_PIPE) break;
        if (p->t == T_Q) {
            fail(p, "'?' may only follow a group", p->tstart);
            return;
        }
        if (p->t == T_GAP1 || p->t == T_GAP2) {
            if (!have_required) {
                fail(p,
                     split && p->cur > 0 && n_items == 0 ? "two gaps in a row"
                                                         : "a gap must follow a required word",
                     p->tstart);
                return;
            }
            if (pending_gap) {
                fail(p, "two gaps in a row", p->tstart);
                return;
            }
            pending_gap = p->t == T_GAP1 ? 1 : 2;
            if (split) {
                if (p->cur + 1 >= MHGI_MAX_SEGS) {
                    fail(p, "too many gaps (at most 7)", p->tstart);
                    return;
                }
                p->cur++;
                p->pat->n_segs = p->cur + 1;
                p->pat->gap[p->cur] = gap_size(p->spaces, pending_gap);
                out = &p->pat->seg[p->cur];
                pending_gap = 0;
                have_required = 0;
                n_items = 0;
            }
            next(p);
            continue;
        }
        mhgi_strbuf item;
        mhgi_sb_init(&item);
        int optional;
        parse_item(p, &item, &optional);
        if (p->failed || item.oom) {
            if (item.oom) fail(p, "out of memory", 0);
            mhgi_sb_free(&item);
            return;
        }
        n_items++;
        if (optional) {
            if (!have_required) {
                p->pat->lead_opt[p->cur] = 1;
                mhgi_sb_adds(out, "(?:");
                mhgi_sb_add(out, item.p, item.len);
                mhgi_sb_adds(out, sep);
                mhgi_sb_adds(out, ")?");
            } else {
                if (pending_gap) emit_gap(p, out, pending_gap);
                pending_gap = 0;
                mhgi_sb_adds(out, "(?:");
                mhgi_sb_adds(out, sep);
                mhgi_sb_add(out, item.p, item.len);
                mhgi_sb_adds(out, ")?");
            }
        } else {
            if (have_required) {
                if (pending_gap) emit_gap(p, out, pending_gap);
                pending_gap = 0;
                mhgi_sb_adds(out, sep);
            }
            mhgi_sb_add(out, item.p, item.len);
            have_required = 1;
        }
        mhgi_sb_free(&item);
    }
    if (pending_gap) {
        fail(p, "a gap cannot end a pattern or alternative", p->tstart);
        return;
    }
    if (n_items == 0) {
        fail(p, split && p->cur > 0 ? "a gap cannot end a pattern" : "empty pattern or alternative",
             p->tstart);
        return;
    }
    if (!have_required)
        fail(p,
             split && p->cur > 0 ? "the part after a gap needs a word that is not optional"
                                 : "needs at least one word that is not optional",
             p->tstart);
}

/* Nonzero when match has a '|' outside every group. */
static int top_level_pipe(const char *s) {
    int depth = 0;
    for (; *s; s++) {
        if (*s == '(') depth++;
        else if (*s == ')') depth--;
        else if (*s == '|' && depth == 0) return 1;
    }
    return 0;
}

/* ---- literal expansion --------------------------------------------------- */

typedef struct litset {
    char **v;
    unsigned char *tl; /* the string ends with a `~` word */
    size_t n, cap;
} litset;

static void ls_free(litset *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    free(l->tl);
    memset(l, 0, sizeof *l);
}

/* Add a copy of s[0..n); 0 on allocation failure or over the limit. */
static int ls_add(litset *l, const char *s, size_t n, int tilde) {
    if (l->n >= MHGI_MAX_LITERALS) return 0;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, nc * sizeof *v);
        if (!v) return 0;
        l->v = v;
        unsigned char *t = realloc(l->tl, nc);
        if (!t) return 0;
        l->tl = t;
        l->cap = nc;
    }
    char *c = malloc(n + 1);
    if (!c) return 0;
    memcpy(c, s, n);
    c[n] = '\0';
    l->v[l->n] = c;
    l->tl[l->n] = (unsigned char)tilde;
    l->n++;
    return 1;
}

/* The current word, normalized and squeezed, into a litset of one. */
static int word_lit(parser *p, litset *out) {
    mhg_normalized n;
    mhg_normalized_init(&n);
    int ok = 0;
    if (mhg_normalize(p->s + p->tstart, p->tlen, MHG_NORM_PATTERN, &n) == MHG_OK) {
        char *buf = malloc(n.len + 1);
        if (buf) {
            size_t k = mhgi_squeeze(n.text, n.len, buf, NULL);
            ok = k > 0 && ls_add(out, buf, k, p->tilde);
            free(buf);
        }
    }
    mhg_normalized_free(&n);
    return ok;
}

/* out = a x b (every a followed by every b). Separators: one space, or for
 * `spaces: false` both nothing and one space. A `~` word cannot be followed
 * by another word in a literal: fail (the segment stays a regex). */
static int ls_product(parser *p, litset *a, litset *b, litset *out) {
    for (size_t i = 0; i < a->n; i++) {
        for (size_t j = 0; j < b->n; j++) {
            size_t la = strlen(a->v[i]), lb = strlen(b->v[j]);
            if (la == 0 || lb == 0) {
                if (!ls_add(out, la ? a->v[i] : b->v[j], la ? la : lb, la ? a->tl[i] : b->tl[j]))
                    return 0;
                continue;
            }
            if (a->tl[i]) return 0;
            char *buf = malloc(la + lb + 2);
            if (!buf) return 0;
            memcpy(buf, a->v[i], la);
            int ok = 1;
            if (!p->spaces) {
                memcpy(buf + la, b->v[j], lb);
                ok = ls_add(out, buf, la + lb, b->tl[j]);
            }
            if (ok) {
                buf[la] = ' ';
                memcpy(buf + la + 1, b->v[j], lb);
                ok = ls_add(out, buf, la + lb + 1, b->tl[j]);
            }
            free(buf);
            if (!ok) return 0;
        }
    }
    return 1;
}

static int expand_alts(parser *p, litset *out);

/* One sequence; stops at ')', '|' or the end. Returns 0 when the sequence
 * cannot be literals. */
static int expand_seq(parser *p, litset *out) {
    litset cur = {0};
    if (!ls_add(&cur, "", 0, 0)) return 0;
    int ok = 1;
    while (ok && p->t != T_END && p->t != T_RP && p->t != T_PIPE) {
        litset item = {0}, next_set = {0};
        if (p->t == T_GAP1 || p->t == T_GAP2) {
            ok = 0; /* a gap inside a group (top-level gaps split segments) */
        } else if (p->t == T_WORD) {
            ok = word_lit(p, &item);
            next(p);
        } else if (p->t == T_LP) {
            p->depth++;
            next(p);
            ok = expand_alts(p, &item);
            p->depth--;
            if (ok && p->t == T_RP) {
                next(p);
                if (p->t == T_Q) {
                    ok = ls_add(&item, "", 0, 0);
                    next(p);
                }
            } else {
                ok = 0;
            }
        } else {
            ok = 0;
        }
        if (ok) ok = ls_product(p, &cur, &item, &next_set);
        ls_free(&item);
        ls_free(&cur);
        cur = next_set;
    }
    if (ok) {
        for (size_t i = 0; i < cur.n && ok; i++) ok = ls_add(out, cur.v[i], strlen(cur.v[i]), cur.tl[i]);
    }
    ls_free(&cur);
    return ok && !p->failed;
}

static int expand_alts(parser *p, litset *out) {
    for (;;) {
        if (!expand_seq(p, out)) return 0;
        if (p->t != T_PIPE) return 1;
        next(p);
    }
}

/* Fill pat->lits[i] for every segment that can be matched as literals.
 * Segments are the parts between top-level gaps (when the pattern has no
 * top-level '|'), each expanded with a fresh parser over its own text. */
static void expand_pattern(const char *match, int spaces, mhgi_pattern *pat) {
    size_t len = strlen(match), starts[MHGI_MAX_SEGS + 1], ends[MHGI_MAX_SEGS + 1];
    int nseg = 0, depth = 0;
    int segmode = !top_level_pipe(match);
    starts[0] = 0;
    for (size_t i = 0; i < len; i++) {
        char c = match[i];
        if (c == '(') depth++;
        else if (c == ')') depth--;
        else if (c == '*' && depth == 0 && segmode) {
            if (nseg + 1 >= MHGI_MAX_SEGS) return;
            ends[nseg++] = i;
            while (i + 1 < len && match[i + 1] == '*') i++;
            starts[nseg] = i + 1;
        }
    }
    ends[nseg++] = len;
    if (nseg != pat->n_segs) return; /* cannot happen: the regex pass agreed */
    for (int seg = 0; seg < nseg; seg++) {
        char why[8];
        parser p = {.s = match + starts[seg], .len = ends[seg] - starts[seg], .spaces = spaces,
                    .why = why, .whylen = sizeof why, .pat = pat, .segmode = 0};
        next(&p);
        litset l = {0};
        int ok = expand_alts(&p, &l) && p.t == T_END && l.n > 0;
        for (size_t i = 0; ok && i < l.n; i++)
            if (!l.v[i][0]) ok = 0; /* an empty string would match everywhere */
        if (ok) {
            pat->lit_ok[seg] = 1;
            pat->lits[seg] = l.v;
            pat->lit_tilde[seg] = l.tl;
            pat->n_lits[seg] = l.n;
        } else {
            ls_free(&l);
        }
    }
}

void mhgi_pattern_init(mhgi_pattern *pat) {
    memset(pat, 0, sizeof *pat);
    for (int i = 0; i < MHGI_MAX_SEGS; i++) mhgi_sb_init(&pat->seg[i]);
}

void mhgi_pattern_free(mhgi_pattern *pat) {
    for (int i = 0; i < MHGI_MAX_SEGS; i++) {
        mhgi_sb_free(&pat->seg[i]);
        for (size_t k = 0; k < pat->n_lits[i]; k++) free(pat->lits[i][k]);
        free(pat->lits[i]);
        free(pat->lit_tilde[i]);
    }
    memset(pat, 0, sizeof *pat);
}

mhg_status mhgi_pattern_compile(const char *match, int spaces, mhgi_pattern *pat, char *why,
                                size_t whylen) {
    if (why && whylen) why[0] = '\0';
    pat->n_segs = 1;
    size_t len = strlen(match);
    if (len >= 3 && memcmp(match, "re:", 3) == 0) {
        const char *r = match + 3;
        while (*r == ' ') r++;
        if (!*r) {
            snprintf(why, whylen, "match: empty re: pattern");
            return MHG_ERR_PARSE;
        }
        pat->raw = 1;
        mhgi_sb_adds(&pat->seg[0], r);
        return pat->seg[0].oom ? MHG_ERR_NOMEM : MHG_OK;
    }
    parser p = {.s = match, .len = len, .spaces = spaces, .why = why, .whylen = whylen,
                .pat = pat, .segmode = !top_level_pipe(match)};
    next(&p);
    if (!p.failed) {
        if (p.segmode) {
            parse_seq(&p, NULL);
        } else {
            /* The top level is an implicit group: "a b|c" means (a b|c). */
            mhgi_strbuf *out = &pat->seg[0];
            mhgi_sb_adds(out, "(?:");
            for (;;) {
                parse_seq(&p, out);
                if (p.failed || p.t != T_PIPE) break;
                mhgi_sb_adds(out, "|");
                next(&p);
            }
            mhgi_sb_adds(out, ")");
        }
        if (!p.failed && p.t != T_END)
            fail(&p, p.t == T_RP ? "unmatched ')'" : "'|' outside a group", p.tstart);
    }
    for (int i = 0; i < pat->n_segs; i++)
        if (pat->seg[i].oom) return MHG_ERR_NOMEM;
    if (p.failed) return MHG_ERR_PARSE;
    expand_pattern(match, spaces, pat);
    return MHG_OK;
}
