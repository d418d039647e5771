/*
 * types.c - names of the taxonomy, status text, UTF-8 validation, memzero.
 */
#include <string.h>

#include <sodium.h>

#include "mhguard/types.h"
#include "mhg_config.h"

const char *mhg_version(void) { return MHG_VERSION_STRING; }

static const char *const status_text[MHG_STATUS_COUNT] = {
    [MHG_OK] = "ok",
    [MHG_ERR_NOMEM] = "out of memory",
    [MHG_ERR_INVALID] = "invalid argument or input",
    [MHG_ERR_UTF8] = "input is not valid UTF-8",
    [MHG_ERR_TOO_BIG] = "input exceeds a size limit",
    [MHG_ERR_IO] = "input/output error",
    [MHG_ERR_PARSE] = "could not parse data or configuration",
    [MHG_ERR_COMPILE] = "lexicon pattern failed to compile",
    [MHG_ERR_STORE] = "storage backend failed",
    [MHG_ERR_UPSTREAM] = "upstream model call failed",
    [MHG_ERR_POLICY] = "configuration breaks a policy rule",
    [MHG_ERR_AUTH] = "missing or insufficient credentials",
    [MHG_ERR_NOT_FOUND] = "not found",
    [MHG_ERR_INTERNAL] = "internal error",
};
_Static_assert(sizeof status_text / sizeof status_text[0] == MHG_STATUS_COUNT,
               "status_text must name every mhg_status");

const char *mhg_strerror(mhg_status status) {
    if ((unsigned)status >= MHG_STATUS_COUNT) return "unknown status";
    return status_text[status];
}

static const char *const level_names[MHG_LEVEL_COUNT] = {"none", "low", "moderate", "high",
                                                         "imminent"};
static const char *const category_names[MHG_CAT_COUNT] = {
    "suicide",        "self_harm",         "harm_to_others", "abuse", "eating_disorder",
    "overdose",       "psychosis_mania",   "medical_emergency", "third_party_concern"};
static const char *const facet_names[MHG_FACET_COUNT] = {
    "wish_dead", "ideation",    "method",       "intent",      "plan",
    "preparatory", "past_attempt", "timing", "means_at_hand"};
static const char *const flag_names[MHG_FLAG_COUNT] = {
    "negated", "idiom", "third_person", "past", "hypothetical", "informational", "carried"};
static const char *const action_names[MHG_ACTION_COUNT] = {"allow", "support", "escalate",
                                                           "crisis"};
_Static_assert(sizeof category_names / sizeof category_names[0] == MHG_CAT_COUNT,
               "category_names must name every category");

/* Index of the single set bit, or -1 when bit is not a power of two. */
static int bit_index(unsigned bit) {
    if (bit == 0 || (bit & (bit - 1)) != 0) return -1;
    return __builtin_ctz(bit);
}

const char *mhg_level_name(mhg_level level) {
    return (unsigned)level < MHG_LEVEL_COUNT ? level_names[level] : NULL;
}
const char *mhg_category_name(mhg_category cat) {
    return (unsigned)cat < MHG_CAT_COUNT ? category_names[cat] : NULL;
}
const char *mhg_facet_name(unsigned facet_bit) {
    int i = bit_index(facet_bit);
    return (i >= 0 && i < MHG_FACET_COUNT) ? facet_names[i] : NULL;
}
const char *mhg_flag_name(unsigned flag_bit) {
    int i = bit_index(flag_bit);
    return (i >= 0 && i < MHG_FLAG_COUNT) ? flag_names[i] : NULL;
}
const char *mhg_action_name(mhg_action action) {
    return (unsigned)action < MHG_ACTION_COUNT ? action_names[action] : NULL;
}

static int find_name(const char *const *names, int n, const char *name) {
    if (!name) return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

mhg_status mhg_level_parse(const char *name, mhg_level *out) {
    int i = find_name(level_names, MHG_LEVEL_COUNT, name);
    if (i < 0) return MHG_ERR_INVALID;
    *out = (mhg_level)i;
    return MHG_OK;
}
mhg_status mhg_category_parse(const char *name, mhg_category *out) {
    int i = find_name(category_names, MHG_CAT_COUNT, name);
    if (i < 0) return MHG_ERR_INVALID;
    *out = (mhg_category)i;
    return MHG_OK;
}
mhg_status mhg_facet_parse(const char *name, unsigned *out) {
    int i = find_name(facet_names, MHG_FACET_COUNT, name);
    if (i < 0) return MHG_ERR_INVALID;
    *out = 1u << i;
    return MHG_OK;
}
mhg_status mhg_action_parse(const char *name, mhg_action *out) {
    int i = find_name(action_names, MHG_ACTION_COUNT, name);
    if (i < 0) return MHG_ERR_INVALID;
    *out = (mhg_action)i;
    return MHG_OK;
}

mhg_action mhg_action_for_level(mhg_level level) {
    switch (level) {
    case MHG_LEVEL_MODERATE: return MHG_ACTION_SUPPORT;
    case MHG_LEVEL_HIGH: return MHG_ACTION_ESCALATE;
    case MHG_LEVEL_IMMINENT: return MHG_ACTION_CRISIS;
    default: return MHG_ACTION_ALLOW;
    }
}

int mhg_utf8_valid(const char *text, size_t len) {
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return 0;
        if (len - i <= n) return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}

void mhg_memzero(void *p, size_t len) {
    if (p && len) sodium_memzero(p, len);
}
