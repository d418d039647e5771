/*
 * mhguard/types.h - status codes, the risk taxonomy and small helpers shared
 * by every module.
 *
 * The taxonomy (categories, levels, C-SSRS facets, context flags, actions) is
 * part of the stable API: names returned by the *_name() functions appear in
 * JSON output, the audit log and metrics, so they never change once shipped.
 */
#ifndef MHGUARD_TYPES_H
#define MHGUARD_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MHG_NODISCARD __attribute__((warn_unused_result))
#else
#define MHG_NODISCARD
#endif

#define MHG_VERSION_MAJOR 0
#define MHG_VERSION_MINOR 1
#define MHG_VERSION_PATCH 0

/* Library version string, e.g. "0.1.0". Static; never freed. */
const char *mhg_version(void);

typedef enum mhg_status {
    MHG_OK = 0,
    MHG_ERR_NOMEM,       /* allocation failed */
    MHG_ERR_INVALID,     /* bad argument or malformed input */
    MHG_ERR_UTF8,        /* input is not valid UTF-8 */
    MHG_ERR_TOO_BIG,     /* input exceeds a limit (src/common/mhg_limits.h) */
    MHG_ERR_IO,          /* file or socket error */
    MHG_ERR_PARSE,       /* a data or config file could not be parsed */
    MHG_ERR_COMPILE,     /* a lexicon pattern failed to compile */
    MHG_ERR_STORE,       /* storage backend failed */
    MHG_ERR_UPSTREAM,    /* upstream model call failed */
    MHG_ERR_POLICY,      /* configuration breaks a policy / ASL-MH rule */
    MHG_ERR_AUTH,        /* missing or insufficient credentials */
    MHG_ERR_NOT_FOUND,   /* no such item */
    MHG_ERR_INTERNAL,    /* a bug: an invariant did not hold */
    MHG_STATUS_COUNT
} mhg_status;

/* Static English text for a status code. Never NULL, never freed. */
const char *mhg_strerror(mhg_status status);

/* Risk level of a category or of a whole verdict. Ordered: compare with <. */
typedef enum mhg_level {
    MHG_LEVEL_NONE = 0,
    MHG_LEVEL_LOW,
    MHG_LEVEL_MODERATE,
    MHG_LEVEL_HIGH,
    MHG_LEVEL_IMMINENT,
    MHG_LEVEL_COUNT
} mhg_level;

typedef enum mhg_category {
    MHG_CAT_SUICIDE = 0,
    MHG_CAT_SELF_HARM,
    MHG_CAT_HARM_TO_OTHERS,
    MHG_CAT_ABUSE,
    MHG_CAT_EATING_DISORDER,
    MHG_CAT_OVERDOSE,
    MHG_CAT_PSYCHOSIS_MANIA,
    MHG_CAT_MEDICAL_EMERGENCY,
    MHG_CAT_THIRD_PARTY_CONCERN,
    MHG_CAT_COUNT
} mhg_category;

/* C-SSRS screener facets (bit flags), plus two modifiers that raise a plan
 * to imminent: timing ("tonight") and means at hand ("the pills are here"). */
enum {
    MHG_FACET_WISH_DEAD = 1u << 0,
    MHG_FACET_IDEATION = 1u << 1,
    MHG_FACET_METHOD = 1u << 2,
    MHG_FACET_INTENT = 1u << 3,
    MHG_FACET_PLAN = 1u << 4,
    MHG_FACET_PREPARATORY = 1u << 5,
    MHG_FACET_PAST_ATTEMPT = 1u << 6,
    MHG_FACET_TIMING = 1u << 7,
    MHG_FACET_MEANS_AT_HAND = 1u << 8,
    MHG_FACET_COUNT = 9
};

/* Context flags: why a match was discounted or re-routed (bit flags). */
enum {
    MHG_FLAG_NEGATED = 1u << 0,       /* "I would never kill myself" */
    MHG_FLAG_IDIOM = 1u << 1,         /* "this deadline is killing me" */
    MHG_FLAG_THIRD_PERSON = 1u << 2,  /* "my friend wants to die" */
    MHG_FLAG_PAST = 1u << 3,          /* "I used to cut, clean six years" */
    MHG_FLAG_HYPOTHETICAL = 1u << 4,  /* "in my novel the hero..." */
    MHG_FLAG_INFORMATIONAL = 1u << 5, /* "what are the warning signs" */
    MHG_FLAG_CARRIED = 1u << 6,       /* risk carried from earlier turns */
    MHG_FLAG_COUNT = 7
};

/* What the caller should do; derived from the overall level. */
typedef enum mhg_action {
    MHG_ACTION_ALLOW = 0, /* none / low */
    MHG_ACTION_SUPPORT,   /* moderate: supportive reply, queue for review */
    MHG_ACTION_ESCALATE,  /* high: crisis resources required, escalate */
    MHG_ACTION_CRISIS,    /* imminent: fixed crisis reply, shortest SLA */
    MHG_ACTION_COUNT
} mhg_action;

/* Stable lower-case names ("moderate", "self_harm", "wish_dead", "negated",
 * "escalate"). Return NULL for an out-of-range value. Static strings. */
const char *mhg_level_name(mhg_level level);
const char *mhg_category_name(mhg_category cat);
const char *mhg_facet_name(unsigned facet_bit);
const char *mhg_flag_name(unsigned flag_bit);
const char *mhg_action_name(mhg_action action);

/* Parse a name back. Return MHG_OK or MHG_ERR_INVALID (out untouched). */
MHG_NODISCARD mhg_status mhg_level_parse(const char *name, mhg_level *out);
MHG_NODISCARD mhg_status mhg_category_parse(const char *name, mhg_category *out);
MHG_NODISCARD mhg_status mhg_facet_parse(const char *name, unsigned *out);
MHG_NODISCARD mhg_status mhg_action_parse(const char *name, mhg_action *out);

/* Default action for a level: none/low allow, moderate support, high
 * escalate, imminent crisis. Policies may map differently. Cannot fail. */
mhg_action mhg_action_for_level(mhg_level level);

/* Returns nonzero when [text, text+len) is well-formed UTF-8 (no overlongs,
 * no surrogates, nothing above U+10FFFF). NUL bytes are allowed. */
int mhg_utf8_valid(const char *text, size_t len);

/* Overwrite len bytes at p with zeros in a way the compiler cannot elide.
 * Use on buffers that held message text before freeing them. */
void mhg_memzero(void *p, size_t len);

#ifdef __cplusplus
}
#endif
#endif
