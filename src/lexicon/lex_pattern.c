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
/* Separator between two words. The normalizer leaves one ASCII space
 * between words (typographic quotes and dashes already folded, hyphens made
 * spaces), so a separator is that space, optionally preceded by a comma,
 * colon, closing quote or bracket, or an ellipsis ("want to... die"), and
 * optionally followed by an opening quote or bracket. Anything wider (a
 * class repeated with '+') makes compiling 10-20x slower. */
#define SEP_SPACES "(?:[,:\"')]|\\.\\.\\.?)? [\"'(]?"
#define SEP_NOSPACE " ?"
/* One word of a gap: a space, then anything up to the next space, comma or
 * sentence end (so a gap stays inside its clause). */
#define GAP_WORD " [^ .!?;,\\x{3002}\\x{ff01}\\x{ff1f}\\x{3001}\\x{ff0c}]+"
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
                fail(p, "a gap must follow a required word", p->tstart);
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

void mhgi_pattern_init(mhgi_pattern *pat) {
    memset(pat, 0, sizeof *pat);
    for (int i = 0; i < MHGI_MAX_SEGS; i++) mhgi_sb_init(&pat->seg[i]);
}

void mhgi_pattern_free(mhgi_pattern *pat) {
    for (int i = 0; i < MHGI_MAX_SEGS; i++) mhgi_sb_free(&pat->seg[i]);
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
    return p.failed ? MHG_ERR_PARSE : MHG_OK;
}
