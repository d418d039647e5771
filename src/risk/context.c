/*
 * context.c - sentence/clause segmentation and the context rules that turn
 * raw lexicon matches into evidence items.
 *
 * Languages: every lexicon is scanned (code-switching works), but a cue acts
 * only on matches of its own language or of the message's language (the
 * hint, or the detected one). A short cue word of one language is often an
 * ordinary word of another (Portuguese "no" = "in the"): letting an English
 * negation cue act on a Portuguese message would silence a crisis. And a
 * foreign-language entry that overlaps an entry of the message's language
 * in the same category is dropped: Italian "suicidar~" matching Spanish
 * "suicidarse" says nothing the Spanish entry (with the Spanish cues) does
 * not say better.
 *
 * Rules (cue table in docs/internals/lexicon-format.md):
 *   idiom          a cue overlapping the match cancels it (weight 0)
 *   negation       cue within 4 words (6 characters without spaces) before
 *                  the match (or after, for scope: after), same clause, and
 *                  no first-person cue between the cue and the end of the
 *                  match ("I don't know why but I want to die" stays a
 *                  disclosure; the "I" may open the matched phrase)
 *   third_person   cue earlier in the same sentence, no first-person cue
 *                  between it and the end of the match: the match moves to
 *                  third_party_concern. Entries of category
 *                  third_party_concern carry the flag by construction.
 *                  Not for abuse (the abuser is the third person, the user
 *                  the victim) or medical emergencies (urgent for anyone).
 *   past           cue in the same clause, or after the match in the same
 *                  sentence ("I used to cut, clean for six years"): weight
 *                  x0.5, suicide facets become past_attempt. A past cue in
 *                  an earlier clause does not reach ("I used to be happy,
 *                  now I want to die")
 *   attempt        a suicide method/intent/plan/ideation match inside a
 *                  past_attempt match ("I tried to hang myself") describes
 *                  the attempt: its facet becomes past_attempt
 *   hypothetical,  cue in the same sentence: weight x0.25
 *   informational
 *
 * A cue never spans a clause break: the scanner lets ", : ( )" separate the
 * words of a phrase, so "pengen mati, aku..." matched the idiom "mati aku"
 * and cancelled a real wish to die. A cue whose words are split by a comma,
 * a sentence end or a line break is dropped before the rules run (a cue
 * with a gap may cross a comma inside its gap, not a sentence end).
 * A subordinator cue ("that", "que", "że", "что", "कि") between a negation
 * and a match ends the negation's reach: "rodzice nie wiedzą że tnę się"
 * (my parents don't know that I cut) is a disclosure.
 */
#include <stdlib.h>
#include <string.h>

#include "risk/risk_int.h"
#include "common/mhg_utf8.h"

/* Sentence ends: . ! ? ; and their CJK / Devanagari / Arabic forms.
 * Clause breaks: , : and CJK commas. Returns 2 sentence, 1 clause, 0. */
static int boundary_kind(uint32_t cp) {
    switch (cp) {
    case '.': case '!': case '?': case ';':
    case 0x3002: case 0xFF01: case 0xFF1F: case 0xFF1B: /* 。！？； */
    case 0x0964: case 0x0965:                         /* । ॥ */
    case 0x061F: case 0x06D4: case 0x061B:            /* ؟ ۔ ؛ */
    case 0x0E5A: case 0x0E5B:                         /* Thai ๚ ๛ */
    case 0x2026:                                      /* … */
        return 2;
    case ',': case ':':
    case 0xFF0C: case 0x3001: case 0xFF1A: case 0x060C: /* ，、：، */
        return 1;
    default:
        return 0;
    }
}

static int grow_bounds(mhg_scratch *s) {
    size_t nc = s->cap_bounds ? s->cap_bounds * 2 : 64;
    uint32_t *b = realloc(s->bounds, nc * sizeof *b);
    if (!b) return 0;
    s->bounds = b;
    uint8_t *k = realloc(s->bound_kind, nc);
    if (!k) return 0;
    s->bound_kind = k;
    s->cap_bounds = nc;
    return 1;
}

/* Normalization makes every whitespace run one space; a run that held a
 * line break ends a sentence (chat messages often use a line break instead
 * of a full stop: "my brother is so annoying\nwant to kill myself"). */
static int line_break(const mhg_scratch *s, size_t i) {
    if (!s->orig) return 0;
    size_t a = s->norm.src_start[i], b = s->norm.src_end[i];
    if (b > s->orig_len) b = s->orig_len;
    for (size_t j = a; j < b; j++)
        if (s->orig[j] == '\n' || s->orig[j] == '\r') return 1;
    return 0;
}

/* Positions of clause and sentence breaks, ascending. If the list cannot
 * grow, n_bounds becomes SIZE_MAX and same_span() then says "different
 * sentence" for everything: no cue reaches any match, so nothing is
 * discounted (failing toward reporting risk, never toward hiding it). */
static void segment(mhg_scratch *s) {
    const unsigned char *t = (const unsigned char *)s->norm.text;
    size_t len = s->norm.len;
    s->n_bounds = 0;
    for (size_t i = 0; i < len;) {
        size_t n;
        uint32_t cp = mhgi_utf8_decode(t, len, i, &n);
        int k = boundary_kind(cp);
        if (cp == ' ' && line_break(s, i)) k = 2;
        if (k) {
            /* "3.5" and "e.g." are not sentence ends: a dot between two
             * non-space characters is ignored. An ellipsis is one break. */
            if (cp == '.' && i > 0 && i + 1 < len && t[i - 1] != ' ' && t[i + 1] != ' ' &&
                t[i - 1] != '.' && t[i + 1] != '.')
                k = 0;
        }
        if (k) {
            if (s->n_bounds == s->cap_bounds && !grow_bounds(s)) {
                s->n_bounds = SIZE_MAX; /* fail safe: see same_span() */
                return;
            }
            s->bounds[s->n_bounds] = (uint32_t)i;
            s->bound_kind[s->n_bounds] = (uint8_t)k;
            s->n_bounds++;
        }
        i += n;
    }
}

/* Is there no break of at least kind `kind` in [a, b)? */
static int same_span(const mhg_scratch *s, size_t a, size_t b, int kind) {
    if (a > b) {
        size_t t = a;
        a = b;
        b = t;
    }
    if (s->n_bounds == SIZE_MAX) return 0; /* no segmentation: cues do not reach */
    /* first boundary >= a */
    size_t lo = 0, hi = s->n_bounds;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->bounds[mid] < a) lo = mid + 1;
        else hi = mid;
    }
    for (size_t i = lo; i < s->n_bounds && s->bounds[i] < b; i++)
        if (s->bound_kind[i] >= kind) return 0;
    return 1;
}

/* Words in [a, b) of the normalized text (runs of non-space characters
 * that are not pure punctuation). */
static unsigned count_words(const mhg_scratch *s, size_t a, size_t b) {
    const unsigned char *t = (const unsigned char *)s->norm.text;
    unsigned n = 0;
    int in = 0;
    for (size_t i = a; i < b; i++) {
        unsigned char c = t[i];
        int wordch = c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     (c >= 'A' && c <= 'Z');
        if (c == ' ') in = 0;
        else if (wordch && !in) {
            in = 1;
            n++;
        }
    }
    return n;
}

/* Code points in [a, b) that are not spaces. */
static unsigned count_chars(const mhg_scratch *s, size_t a, size_t b) {
    const unsigned char *t = (const unsigned char *)s->norm.text;
    unsigned n = 0;
    for (size_t i = a; i < b; i++)
        if ((t[i] & 0xC0) != 0x80 && t[i] != ' ') n++;
    return n;
}

static int within_window(const mhg_scratch *s, size_t a, size_t b, int spaces) {
    if (a >= b) return 1;
    return spaces ? count_words(s, a, b) <= MHGI_NEG_WORDS : count_chars(s, a, b) <= MHGI_NEG_CHARS;
}

/* Does a cue of language cl act on a match of language ml? */
static int cue_reaches(const mhg_scratch *s, uint16_t cl, uint16_t ml) {
    return cl == ml || (s->msg_lang >= 0 && cl == (uint16_t)s->msg_lang);
}

/* A first-person cue reaching language lang, starting in [a, b)? */
static int first_person_between(const mhg_engine *e, const mhg_scratch *s, uint16_t lang,
                                size_t a, size_t b) {
    for (size_t i = 0; i < s->n_matches; i++) {
        const mhg_lexicon_match *c = &s->matches[i];
        if (c->start >= b) break; /* matches are sorted by start */
        const mhgi_entry_info *ci = &e->info[c->entry];
        if (ci->kind == MHG_LEX_CUE_FIRST_PERSON && cue_reaches(s, ci->lang, lang) &&
            c->start >= a)
            return 1;
    }
    return 0;
}

/* A subordinator cue reaching language lang lying inside [a, b)? It opens
 * a clause that a negation before it does not reach ("nie wiedzą że tnę
 * się": they don't know that I cut). A subordinator inside the negation cue
 * itself ("no es que") is not between. */
static int subordinator_between(const mhg_engine *e, const mhg_scratch *s, uint16_t lang,
                                size_t a, size_t b) {
    for (size_t i = 0; i < s->n_matches; i++) {
        const mhg_lexicon_match *c = &s->matches[i];
        if (c->start >= b) break;
        const mhgi_entry_info *ci = &e->info[c->entry];
        if (ci->kind == MHG_LEX_CUE_SUBORDINATOR && c->start >= a && c->end <= b &&
            cue_reaches(s, ci->lang, lang))
            return 1;
    }
    return 0;
}

/* A foreign-language entry overlapping an entry of the message's language
 * in the same category: the latter speaks for both, when it is at least as
 * strong or the foreign match lies inside it (same words: the message's
 * language judges them). A stronger foreign phrase that says more stays:
 * Hinglish "suicide kar lunga" (intent 0.85) on a message taken for English
 * must not give way to the English "suicide" (0.30) inside it. */
static int shadowed(const mhg_engine *e, const mhg_scratch *s, const mhg_lexicon_match *m,
                    const mhgi_entry_info *x) {
    if (s->msg_lang < 0 || x->lang == (uint16_t)s->msg_lang) return 0;
    for (size_t i = 0; i < s->n_matches; i++) {
        const mhg_lexicon_match *o = &s->matches[i];
        if (o->start >= m->end) break;
        const mhgi_entry_info *oi = &e->info[o->entry];
        if (oi->kind == MHG_LEX_ENTRY && oi->lang == (uint16_t)s->msg_lang &&
            oi->category == x->category && o->end > m->start &&
            (oi->weight >= x->weight || (o->start <= m->start && o->end >= m->end)))
            return 1;
    }
    return 0;
}

static unsigned context_flags(const mhg_engine *e, const mhg_scratch *s,
                              const mhg_lexicon_match *m, const mhgi_entry_info *x) {
    unsigned flags = 0;
    for (size_t i = 0; i < s->n_matches; i++) {
        const mhg_lexicon_match *c = &s->matches[i];
        const mhgi_entry_info *ci = &e->info[c->entry];
        if (ci->kind == MHG_LEX_ENTRY || !cue_reaches(s, ci->lang, x->lang)) continue;
        switch ((mhg_lexicon_kind)ci->kind) {
        case MHG_LEX_CUE_IDIOM:
            if (c->start < m->end && c->end > m->start) flags |= MHG_FLAG_IDIOM;
            break;
        case MHG_LEX_CUE_NEGATION:
            if (flags & MHG_FLAG_NEGATED) break;
            if ((ci->scope & MHG_LEX_SCOPE_BEFORE) && c->start < m->start && c->end <= m->end &&
                same_span(s, c->start, m->start, 1) &&
                within_window(s, c->end, m->start, x->spaces) &&
                !first_person_between(e, s, x->lang, c->end, m->end) &&
                !subordinator_between(e, s, x->lang, c->end, m->start))
                flags |= MHG_FLAG_NEGATED;
            else if ((ci->scope & MHG_LEX_SCOPE_AFTER) && c->end > m->end && c->start > m->start &&
                     same_span(s, m->end, c->start, 1) &&
                     within_window(s, m->end, c->start, x->spaces) &&
                     !(m->end < c->start &&
                       first_person_between(e, s, x->lang, m->end, c->start)) &&
                     !subordinator_between(e, s, x->lang, m->end, c->start))
                flags |= MHG_FLAG_NEGATED;
            break;
        case MHG_LEX_CUE_THIRD_PERSON:
            if (c->start < m->start && same_span(s, c->start, m->start, 2) &&
                !first_person_between(e, s, x->lang, c->end, m->end))
                flags |= MHG_FLAG_THIRD_PERSON;
            break;
        case MHG_LEX_CUE_PAST:
            /* same clause, or later in the same sentence ("I used to cut,
             * clean for six years"); an earlier clause does not reach:
             * "I used to be happy, now I want to die" */
            if (same_span(s, c->start, m->start, 1) ||
                (c->start >= m->end && same_span(s, m->start, c->start, 2)))
                flags |= MHG_FLAG_PAST;
            break;
        case MHG_LEX_CUE_HYPOTHETICAL:
            if (same_span(s, c->start, m->start, 2)) flags |= MHG_FLAG_HYPOTHETICAL;
            break;
        case MHG_LEX_CUE_INFORMATIONAL:
            if (same_span(s, c->start, m->start, 2)) flags |= MHG_FLAG_INFORMATIONAL;
            break;
        default:
            break;
        }
    }
    return flags;
}

#define CORE_SUICIDE_FACETS                                                                    \
    (MHG_FACET_WISH_DEAD | MHG_FACET_IDEATION | MHG_FACET_METHOD | MHG_FACET_INTENT |          \
     MHG_FACET_PLAN | MHG_FACET_PREPARATORY | MHG_FACET_PAST_ATTEMPT)

/* A method / intent / plan / ideation match inside an attempt ("I tried to
 * hang myself") describes that attempt, not a current plan. */
static void attempt_overlap(mhg_scratch *s) {
    const unsigned describes = MHG_FACET_METHOD | MHG_FACET_INTENT | MHG_FACET_PLAN |
                               MHG_FACET_IDEATION;
    for (size_t i = 0; i < s->n_items; i++) {
        mhgi_item *a = &s->items[i];
        if (a->orig_category != MHG_CAT_SUICIDE || a->category != MHG_CAT_SUICIDE ||
            a->facet != MHG_FACET_PAST_ATTEMPT || (a->flags & MHG_FLAG_NEGATED))
            continue;
        for (size_t j = 0; j < s->n_items; j++) {
            mhgi_item *b = &s->items[j];
            if (j == i || b->category != MHG_CAT_SUICIDE || !(b->facet & describes)) continue;
            if (b->nstart >= a->nstart && b->nend <= a->nend) b->facet = MHG_FACET_PAST_ATTEMPT;
        }
    }
}

/* Does the cue's own entry have a gap (`*`, `**`)? Only asked for the rare
 * cue that spans a comma, so it reads the pattern text. */
static int cue_has_gap(const mhg_engine *e, uint32_t entry) {
    const char *p = mhg_lexicon_entry_get(e->lex, entry)->match;
    return p && strncmp(p, "re:", 3) != 0 && strchr(p, '*') != NULL;
}

/* Drop the cues whose words a clause break separates (see the top of the
 * file): "pengen mati, aku" is not the idiom "mati aku". A cue with a gap
 * may cross a comma (its gap allows any words of the sentence), never a
 * sentence end. Matches stay sorted. */
static void drop_split_cues(const mhg_engine *e, mhg_scratch *s) {
    size_t k = 0;
    for (size_t i = 0; i < s->n_matches; i++) {
        const mhg_lexicon_match *c = &s->matches[i];
        if (e->info[c->entry].kind != MHG_LEX_ENTRY && !same_span(s, c->start, c->end, 1) &&
            (!same_span(s, c->start, c->end, 2) || !cue_has_gap(e, c->entry)))
            continue;
        s->matches[k++] = *c;
    }
    s->n_matches = k;
}

void mhgi_apply_context(const mhg_engine *e, mhg_scratch *s) {
    segment(s);
    drop_split_cues(e, s);
    s->n_items = 0;
    for (size_t i = 0; i < s->n_matches; i++) {
        const mhg_lexicon_match *m = &s->matches[i];
        const mhgi_entry_info *x = &e->info[m->entry];
        if (x->kind != MHG_LEX_ENTRY || x->category < 0) continue;
        if (shadowed(e, s, m, x)) continue;
        unsigned flags = context_flags(e, s, m, x);
        double w = x->weight;
        int cat = x->category;
        unsigned facet = x->facet;
        if (flags & MHG_FLAG_IDIOM) w = 0.0;
        if (flags & MHG_FLAG_NEGATED) w *= MHGI_DISCOUNT_NEGATED;
        if (flags & MHG_FLAG_PAST) {
            w *= MHGI_DISCOUNT_PAST;
            if (x->category == MHG_CAT_SUICIDE && (facet & CORE_SUICIDE_FACETS))
                facet = MHG_FACET_PAST_ATTEMPT;
        }
        if (flags & MHG_FLAG_HYPOTHETICAL) w *= MHGI_DISCOUNT_HYPOTHETICAL;
        if (flags & MHG_FLAG_INFORMATIONAL) w *= MHGI_DISCOUNT_INFORMATIONAL;
        /* Abuse names a third person by nature ("my stepdad hits me"): the
         * user is the one at risk. A medical emergency is one whoever has
         * it. Neither moves to third_party_concern. */
        if (cat == MHG_CAT_ABUSE || cat == MHG_CAT_MEDICAL_EMERGENCY)
            flags &= ~(unsigned)MHG_FLAG_THIRD_PERSON;
        if (cat == MHG_CAT_THIRD_PARTY_CONCERN || (flags & MHG_FLAG_THIRD_PERSON)) {
            cat = MHG_CAT_THIRD_PARTY_CONCERN;
            flags |= MHG_FLAG_THIRD_PERSON;
        }
        if (s->n_items >= s->cap_items) break;
        mhgi_item *it = &s->items[s->n_items++];
        it->entry = m->entry;
        it->nstart = m->start;
        it->nend = m->end;
        size_t os, oe;
        mhg_normalized_span(&s->norm, m->start, m->end, &os, &oe);
        it->ostart = (uint32_t)os;
        it->oend = (uint32_t)oe;
        it->turn = 0;
        it->category = (int8_t)cat;
        it->orig_category = x->category;
        it->facet = (uint16_t)facet;
        it->orig_facet = x->facet;
        it->flags = (uint8_t)flags;
        it->weight = (float)w;
        it->rule_id = mhg_lexicon_entry_get(e->lex, m->entry)->rule_id;
    }
    attempt_overlap(s);
}
