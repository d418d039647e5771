/*
 * mhguard/resources.h - crisis resources as reviewed data.
 *
 * One YAML file per country in data/resources/ (<CC>.yaml, ISO 3166-1
 * alpha-2, upper case) plus international.yaml, the fallback. Each file lists
 * crisis lines (voice, text, chat), the emergency number, a source URL and
 * the date the entry was last verified. Format: docs/internals/policy.md.
 *
 *   mhg_resources   immutable after load; share one across all threads.
 *
 * The text blocks produced here go into crisis replies and into replies that
 * must carry resources, so they are built from data only (no free text from
 * the model or the user ever enters them).
 */
#ifndef MHGUARD_RESOURCES_H
#define MHGUARD_RESOURCES_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhg_resources mhg_resources;

/* One crisis service. All strings are owned by the mhg_resources handle;
 * optional ones are NULL when absent. At least one of phone, sms, chat_url,
 * url is set (international.yaml lists directories that have only a url). This struct is a stable, read-only view. */
typedef struct mhg_crisis_line {
    const char *name;      /* "988 Suicide & Crisis Lifeline" */
    const char *phone;     /* "988"; NULL if no voice line */
    const char *sms;       /* "HOME to 741741" (after the label "text"); NULL if none */
    const char *chat_url;  /* "https://988lifeline.org/chat"; NULL if none */
    const char *url;       /* the service's web page; NULL if none */
    const char *hours;     /* "24/7" or "Mon-Fri 9-17"; never NULL ("unknown") */
    const char *const *languages; /* ISO 639-1 codes, n_languages of them */
    size_t n_languages;
    int youth;             /* nonzero: a service for children and young people */
} mhg_crisis_line;

/* One country (or the international fallback, country "INT"). */
typedef struct mhg_country_resources {
    const char *country;       /* "US"; "INT" for international.yaml */
    const char *name;          /* "United States" */
    const char *emergency;     /* "911"; NULL for INT */
    const char *const *languages; /* main languages, first = default */
    size_t n_languages;
    const mhg_crisis_line *lines;
    size_t n_lines;
    const char *source_url;    /* where the numbers were checked */
    const char *last_verified; /* "YYYY-MM-DD" */
    const char *verified_by;   /* who / how; e.g. "desk research, needs human re-verification" */
} mhg_country_resources;

/*
 * Load every *.yaml file of dir. international.yaml is required (it is the
 * fallback that guarantees a crisis always gets some resource). Validation
 * is strict: unknown keys, a file name that does not match `country`, a line
 * with no contact, a bad date are errors. err (if errlen > 0) names the file
 * and key at fault.
 * Errors: MHG_ERR_IO, MHG_ERR_PARSE, MHG_ERR_NOMEM. On failure *out is NULL.
 */
MHG_NODISCARD mhg_status mhg_resources_load(const char *dir, mhg_resources **out, char *err,
                                            size_t errlen);
void mhg_resources_free(mhg_resources *res); /* NULL is a no-op */

/* Number of countries loaded (international included) and access by index
 * (sorted by country code). Borrowed; NULL when out of range. */
size_t mhg_resources_count(const mhg_resources *res);
const mhg_country_resources *mhg_resources_get(const mhg_resources *res, size_t i);
/* Exact lookup by country code (case-insensitive; "UK" is taken as "GB").
 * NULL when not present. */
const mhg_country_resources *mhg_resources_find(const mhg_resources *res, const char *country);

/*
 * Pick the resources for a user. Order: the country if it is loaded; else,
 * when lang belongs mainly to one country (the `language_countries:` map of
 * international.yaml, e.g. ja -> JP), that country; else international.
 * country and lang may be NULL. minor only matters to the formatter, but is
 * accepted here so that a future youth-specific file can be preferred.
 * Never returns NULL for a handle that loaded successfully. Cannot fail.
 */
const mhg_country_resources *mhg_resources_pick(const mhg_resources *res, const char *country,
                                                const char *lang, int minor);

/*
 * Format a text block listing the emergency number and crisis lines of c,
 * in lang when a translation of the labels exists (en, es, fr, de, pt, it,
 * nl; else English). Lines speaking lang come first; for minors youth lines
 * come first. Plain text, one item per line, no trailing newline.
 * *out is malloc'd (free() it); *outlen excludes the NUL.
 * Errors: MHG_ERR_INVALID, MHG_ERR_NOMEM (then *out is NULL, *outlen 0).
 */
MHG_NODISCARD mhg_status mhg_resources_format(const mhg_country_resources *c, const char *lang,
                                              int minor, char **out, size_t *outlen);

/* Returns nonzero when text (any bytes) mentions a phone number, SMS
 * number or chat URL of c or its emergency number, so a reply that already
 * carries resources is not amended twice. Digits are compared ignoring
 * spaces, dashes and dots. Cannot fail. */
int mhg_resources_mentioned(const mhg_country_resources *c, const char *text, size_t len);

#ifdef __cplusplus
}
#endif
#endif
