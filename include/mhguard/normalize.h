/*
 * mhguard/normalize.h - turn untrusted user text into the canonical form the
 * lexicon and the model read, keeping a map back to the original bytes.
 *
 * Text mode (MHG_NORM_TEXT) applies, in order: UTF-8 validation; NFKC;
 * Unicode case folding; removal of zero-width and format characters and of
 * combining marks on Latin/Greek/Cyrillic letters (marks that carry meaning in
 * Indic, Thai, Hebrew and kana scripts and Arabic hamza are kept; the optional
 * Arabic vowel signs, harakat, are removed); homoglyph folding
 * (Cyrillic/Greek look-alikes inside Latin words, full-width forms);
 * leetspeak inside words that mix letters and digits/symbols ("k1ll mys3lf");
 * joining of spaced or dotted single letters ("k i l l", "k.i.l.l");
 * collapsing runs of the same letter to one ("diiiie" -> "die", and also
 * "kill" -> "kil": the lexicon compiler normalizes its phrases the same way,
 * so both sides agree); and whitespace runs to one ASCII space.
 * Also, in both modes: typographic quotes and dashes fold to ASCII; an
 * apostrophe between letters is dropped ("don't" -> "dont"); hyphens and
 * underscores become spaces ("self-harm" -> "self harm"); the output never
 * starts or ends with a space. docs/internals/normalize.md has the details.
 *
 * Pattern mode (MHG_NORM_PATTERN) is what the lexicon compiler applies to the
 * literal words of its phrases: the same folding, leetspeak and letter-run
 * collapsing, but no letter joining. Leetspeak is folded in both modes so a
 * word a lexicon writes with digits ends up as the text's does: Arabizi
 * "3ayez" and "sa7bi" compile to "eayez" and "satbi", what a user's "3ayez"
 * becomes; pure numbers, "500mg" and "b12" stay as they are in both.
 *
 * Thread use: mhg_normalize() is reentrant; one mhg_normalized buffer is
 * used by one thread at a time.
 */
#ifndef MHGUARD_NORMALIZE_H
#define MHGUARD_NORMALIZE_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mhg_norm_mode {
    MHG_NORM_TEXT = 0,
    MHG_NORM_PATTERN = 1
} mhg_norm_mode;

/*
 * Normalized text with its offset map. A reusable buffer: initialise once
 * with mhg_normalized_init(), pass to mhg_normalize() any number of times
 * (capacity grows, never shrinks), release with mhg_normalized_free().
 *
 * For every byte i of text, [src_start[i], src_end[i]) is the span of the
 * original input that produced it, so a match [s, e) in the normalized text
 * maps to [src_start[s], src_end[e-1]) in the caller's bytes.
 */
typedef struct mhg_normalized {
    char *text;          /* normalized UTF-8, NUL-terminated; owned */
    size_t len;          /* bytes in text, excluding the NUL */
    uint32_t *src_start; /* len entries; owned */
    uint32_t *src_end;   /* len entries; owned */
    size_t cap;          /* allocated entries (internal) */
    struct mhg_norm_work *work; /* internal scratch, reused across calls; owned */
} mhg_normalized;

void mhg_normalized_init(mhg_normalized *n);

/* Wipes the text (it may be a disclosure) and frees. NULL is a no-op. */
void mhg_normalized_free(mhg_normalized *n);

/*
 * Normalize len bytes at text into out.
 * Errors: MHG_ERR_UTF8 (invalid UTF-8; out->len is 0), MHG_ERR_TOO_BIG
 * (len > MHG_MAX_MESSAGE_BYTES), MHG_ERR_NOMEM. On error out is empty but
 * still valid and must still be freed.
 */
MHG_NODISCARD mhg_status mhg_normalize(const char *text, size_t len, mhg_norm_mode mode,
                                       mhg_normalized *out);

/* Map a normalized span [nstart, nend) back to original byte offsets.
 * Requires nstart < nend <= n->len. Cannot fail. */
void mhg_normalized_span(const mhg_normalized *n, size_t nstart, size_t nend, size_t *ostart,
                         size_t *oend);

#ifdef __cplusplus
}
#endif
#endif
