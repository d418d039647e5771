/*
 * mhguard/policy.h - the deployment's ASL-MH policy: load and validate the
 * policy file, decide what to do with a screened message, and screen the
 * AI's reply (whole or streamed) before the user sees it.
 *
 *   mhg_policy          immutable after load (except mhg_policy_override
 *                       before serving); share one across all threads.
 *   mhg_reply_screener  immutable after load; thread-safe (it keeps a small
 *                       internal pool of scan memory).
 *   mhg_reply_stream    one per streamed reply; one thread at a time.
 *
 * Levels and their rules: docs/asl-mh.md and ../shared/design/asl-mh.md.
 * Policy file format: docs/internals/policy.md and examples/level*.yaml.
 *
 * Floor protections hold at every level and cannot be configured away:
 * imminent risk never reaches the model (fixed reviewed crisis reply); high
 * risk always escalates with crisis resources; replies never carry method or
 * lethality detail, encouragement of self-harm, or claims to be human or a
 * licensed clinician.
 */
#ifndef MHGUARD_POLICY_H
#define MHGUARD_POLICY_H

#include "types.h"
#include "risk.h"
#include "resources.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhg_policy mhg_policy;

/* ------------------------------------------------------------------------
 * Age bands
 * ------------------------------------------------------------------------ */
typedef enum mhg_age_band {
    MHG_AGE_UNKNOWN = 0,
    MHG_AGE_MINOR,
    MHG_AGE_ADULT,
    MHG_AGE_COUNT
} mhg_age_band;

/* "unknown", "minor", "adult"; NULL when out of range. Static strings. */
const char *mhg_age_band_name(mhg_age_band band);
/* Accepts "minor", "adult", "unknown" (also "" and NULL -> unknown).
 * MHG_OK or MHG_ERR_INVALID (out untouched). */
MHG_NODISCARD mhg_status mhg_age_band_parse(const char *name, mhg_age_band *out);

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

/*
 * Read, parse and validate a policy file (YAML). Unknown keys are errors (a
 * typo must not silently disable a protection). Relative paths in the file
 * (resources.dir, templates.dir, validation_record) are resolved against the
 * file's directory. Omitted resources.dir / templates.dir default to
 * <data>/resources and <data>/policy, where <data> is $MHG_DATA_DIR, else the
 * source tree's data/, else the installed share/mhguard.
 *
 * The resources directory and the templates are loaded too, so a policy that
 * loads can always produce a crisis reply.
 *
 * Errors:
 *   MHG_ERR_IO      file missing or unreadable (err names the path)
 *   MHG_ERR_PARSE   not YAML, wrong shape, unknown key, bad value type
 *                   (err: "policy.yaml:12: unknown key 'reveiw_queue'")
 *   MHG_ERR_POLICY  the file parses but breaks ASL-MH rules; err holds one
 *                   line per broken rule, each naming it, e.g.
 *                   "rule L3.oversight: level 3 requires review_queue.enabled,
 *                    oncall.webhook_url and sla (policy.yaml)"
 *   MHG_ERR_NOMEM
 * On failure *out is NULL. err (if errlen > 0) is always NUL-terminated.
 */
MHG_NODISCARD mhg_status mhg_policy_load(const char *path, mhg_policy **out, char *err,
                                         size_t errlen);
void mhg_policy_free(mhg_policy *p); /* NULL is a no-op */

/*
 * Override one value after load (command-line flags beat the file) and
 * re-validate the whole policy. Keys: "server.listen", "upstream.base_url",
 * "upstream.model", "upstream.timeout_ms", "resources.default_country".
 * Errors: MHG_ERR_INVALID (unknown key or bad value), MHG_ERR_POLICY (the
 * result breaks a rule, e.g. a public listen address at level 6; the policy
 * keeps its old value), MHG_ERR_NOMEM. Not thread-safe: call before serving.
 */
MHG_NODISCARD mhg_status mhg_policy_override(mhg_policy *p, const char *key, const char *value,
                                             char *err, size_t errlen);

/* ------------------------------------------------------------------------
 * Read-only view of the settings (stable struct; every string is owned by
 * the policy and lives as long as it; optional strings are NULL when unset)
 * ------------------------------------------------------------------------ */
typedef enum mhg_fail_mode {
    MHG_FAIL_CLOSED = 0, /* any screener/store failure: safe reply, 503 for the API */
    MHG_FAIL_OPEN        /* level 1 only: a store/audit failure on an ALLOW decision
                            may still forward (counted); screener failures and
                            every action >= support stay closed */
} mhg_fail_mode;

typedef struct mhg_policy_info {
    int asl_level;            /* 1..6 */
    const char *setting;      /* general, education, peer_support, clinical,
                                 high_acuity, research */
    const char *path;         /* the file as loaded */
    const char *version;      /* "b2:<64 hex>": BLAKE2b-256 of the file bytes;
                                 goes into every audit record */
    mhg_fail_mode fail_mode;

    /* review and on-call */
    int review_queue;         /* review_queue.enabled */
    unsigned sla_minutes[MHG_LEVEL_COUNT]; /* by severity (moderate, high,
                                 imminent); 0 = not configured */
    const char *oncall_webhook_url;
    mhg_level oncall_page_on; /* page at this severity and above (default imminent) */

    /* upstream model */
    const char *upstream_base_url;  /* "http://127.0.0.1:8088/v1" */
    const char *upstream_api_key_env; /* name of the env variable, never the key */
    const char *upstream_model;     /* NULL: pass the client's model through */
    unsigned upstream_timeout_ms;

    /* server */
    const char *listen;       /* "127.0.0.1:8080" */
    size_t body_limit;        /* bytes, <= MHG_MAX_BODY_BYTES */
    unsigned rate_limit_rps;  /* per API key; 0 = unlimited */
    unsigned rate_limit_burst;

    /* resources */
    const char *default_country; /* NULL: none (language map, then international) */
    const char *resources_dir;
    const char *templates_dir;

    /* age */
    int require_age_band;     /* requests without a band are refused (400) */
    int unknown_as_minor;     /* an unknown band gets minor thresholds */

    /* replies */
    unsigned reminder_every;  /* "I am an AI, not a therapist" every N user turns; 0 = off */
    int disclaimer_required;  /* level 2+: medical disclaimer on every reply */
    int block_medical_advice; /* personalised diagnosis / dose / treatment advice
                                 is blocked (forced on at levels 2-3) */
    int patient_facing;       /* 0 at level 4: replies go to clinicians only */
    int explain_outputs;      /* level 4: every output carries its explanation
                                 (the verdict JSON with evidence) */

    /* level 1 */
    unsigned drift_window;    /* conversations in the sliding window */
    double drift_alarm_share; /* alarm when the MH share passes this, (0,1] */

    /* level 2+ */
    size_t n_content_sources;
    const char *const *content_sources; /* names; all expert_reviewed */

    /* level 4 */
    int clinician_auth;       /* users must authenticate with the clinician role */
    const char *validation_record; /* resolved path of the eval report JSON */

    /* level 5 */
    int responsible_clinician_required; /* each request must name its clinician */
    double review_sample_rate;  /* share of unflagged conversations sampled for review */
    size_t n_allowed_actions;
    const char *const *allowed_actions; /* action_allow_list */
    int dependency_monitoring;  /* dependency_monitoring.enabled */
    unsigned dependency_max_turns_per_day;  /* signal threshold; 0 = unset */
    unsigned dependency_max_session_minutes;

    /* level 6 */
    const char *ethics_approval_id;
    int enrolled_only;          /* only enrolled consenting participants */
    int public_endpoints;       /* always 0 at level 6 (validated) */
} mhg_policy_info;

/* The settings view. Borrowed; valid until mhg_policy_free or override.
 * Cannot fail for a loaded policy. */
const mhg_policy_info *mhg_policy_get(const mhg_policy *p);

/* Resources loaded from resources.dir. Borrowed. */
const mhg_resources *mhg_policy_resources(const mhg_policy *p);

/* Nonzero when action (e.g. "send_message", "schedule_checkin") is on the
 * level-5 action_allow_list. Without an allow list (levels 1-4, 6) every
 * action is allowed. Cannot fail. */
int mhg_policy_action_allowed(const mhg_policy *p, const char *action);

/* Whether a review sample should include a conversation, given a stable
 * per-conversation key (e.g. a hash of the pseudonymous id): deterministic,
 * so one conversation is either in the sample or not. Cannot fail. */
int mhg_policy_sampled(const mhg_policy *p, uint64_t conversation_key);

/* ------------------------------------------------------------------------
 * Reviewed text templates (data/policy/<lang>.yaml)
 * ------------------------------------------------------------------------ */
typedef enum mhg_template {
    MHG_TPL_CRISIS_REPLY = 0,   /* fixed reply for imminent risk; has {resources} */
    MHG_TPL_SYSTEM_SUPPORT,     /* safety system message, moderate risk */
    MHG_TPL_SYSTEM_STRICT,      /* safety system message, high risk; has {resources} */
    MHG_TPL_SYSTEM_MINOR,       /* added for minors at any flagged level */
    MHG_TPL_DISCLAIMER,         /* medical disclaimer appended to replies (level 2+) */
    MHG_TPL_REMINDER,           /* "I am an AI, not a therapist" */
    MHG_TPL_BLOCKED_REPLY,      /* replacement for a blocked reply; has {resources} */
    MHG_TPL_RESOURCES_INTRO,    /* one line before an appended resource block */
    MHG_TPL_COUNT
} mhg_template;

/* "crisis_reply", "system_support", ... ; NULL when out of range. */
const char *mhg_template_name(mhg_template t);

/*
 * Render a template in lang (falls back to English when no translation),
 * with {resources} replaced by mhg_resources_format() for the picked
 * country (country NULL -> resources.default_country -> language map ->
 * international) and {emergency} by the emergency number.
 * *out is malloc'd (free() it). Errors: MHG_ERR_INVALID, MHG_ERR_NOMEM.
 */
MHG_NODISCARD mhg_status mhg_policy_render(const mhg_policy *p, mhg_template t, const char *lang,
                                           const char *country, mhg_age_band age, char **out,
                                           size_t *outlen);

/* ------------------------------------------------------------------------
 * Decision for one screened user message
 * ------------------------------------------------------------------------ */

/* What the caller knows about the request besides the verdict. */
typedef struct mhg_request_info {
    mhg_age_band age_band;
    unsigned turn_index;      /* 0-based index of this user turn in the conversation */
    const char *country;      /* ISO 3166-1 alpha-2 or NULL */
    const char *lang;         /* ISO 639-1 or NULL: the verdict's language, else "en" */
    uint64_t conversation_key; /* stable key for review sampling (level 5); 0 ok */
} mhg_request_info;

typedef struct mhg_decision {
    mhg_action action;        /* allow / support / escalate / crisis */
    mhg_level severity;       /* review severity; NONE when not queued */
    const char *reason;       /* static: the rule that decided: "floor_imminent",
                                 "floor_high", "floor_moderate", "minor_abuse_disclosure",
                                 "threshold", "category_threshold", "minor_threshold",
                                 "none", or "error" (fail-closed reset) */
    int call_model;           /* 0: do not call the upstream; send reply_text */
    int require_resources;    /* the model's reply must carry crisis resources */
    int queue_review;         /* put the conversation in the review queue */
    unsigned sla_minutes;     /* review SLA for severity; 0 when not queued */
    int page_oncall;          /* POST to the on-call webhook now */
    int reminder_due;         /* append the AI-not-a-therapist reminder */
    int sampled;              /* queued only because of the level-5 sample */
    int minor_rules;          /* minor thresholds were applied */
    char lang[8];             /* language of the texts below */
    char country[4];          /* country of the resources used ("INT" fallback) */
    /* Owned by the decision (mhg_decision_free); NULL when not applicable. */
    char *system_message;     /* inject as a system message before the user's */
    size_t system_message_len;
    char *reply_text;         /* the fixed crisis reply when call_model == 0 */
    size_t reply_text_len;
} mhg_decision;

void mhg_decision_init(mhg_decision *d);
void mhg_decision_free(mhg_decision *d); /* frees texts; d reusable after init */

/*
 * Decide what to do with a screened message:
 *  - action from the thresholds (per category, overall, minors stricter),
 *    never below the floor: imminent -> crisis, high -> escalate; an abuse
 *    disclosure by a minor (abuse >= low) is always escalated;
 *  - crisis: call_model = 0 and reply_text = the reviewed crisis reply with
 *    local resources;
 *  - escalate: strict system message with resources, require_resources;
 *  - support: supportive system message;
 *  - review queue severity + SLA, on-call paging, reminders due, level-5
 *    review sampling.
 * Errors: MHG_ERR_INVALID (NULL args), MHG_ERR_NOMEM. On error *out is reset
 * with action CRISIS, call_model 0 and reply_text NULL: the caller must fail
 * closed (send its static fallback crisis text).
 * Thread use: p shared; out owned by the caller.
 */
MHG_NODISCARD mhg_status mhg_policy_decide(const mhg_policy *p, const mhg_verdict *v,
                                           const mhg_request_info *req, mhg_decision *out);

/* A static English crisis text with international resources, for the
 * fail-closed path when nothing else can be produced (no allocation). */
const char *mhg_policy_static_crisis_text(void);

/* ------------------------------------------------------------------------
 * AI-reply screening
 * ------------------------------------------------------------------------ */
typedef struct mhg_reply_screener mhg_reply_screener;

/*
 * Load the reply lexicon (lexicon_dir, or <data>/lexicons/reply when NULL;
 * format docs/internals/lexicon-format.md with reply categories) for p.
 * cache_dir as for mhg_lexicon_options (NULL: never cache). p is borrowed
 * and must outlive the screener.
 * Errors: those of mhg_lexicon_load_ex; on failure *out is NULL.
 */
MHG_NODISCARD mhg_status mhg_reply_screener_load(const mhg_policy *p, const char *lexicon_dir,
                                                 const char *cache_dir,
                                                 mhg_reply_screener **out, char *err,
                                                 size_t errlen);
void mhg_reply_screener_free(mhg_reply_screener *s); /* NULL is a no-op */
/* Content hash of the reply lexicon, for audit records. Owned by s. */
const char *mhg_reply_screener_version(const mhg_reply_screener *s);

/* Why a reply was blocked or amended (bit flags). */
enum {
    MHG_REPLY_METHOD_DETAIL = 1u << 0,    /* how to: means, ways, instructions */
    MHG_REPLY_LETHALITY_DETAIL = 1u << 1, /* lethal doses, what is deadly */
    MHG_REPLY_ENCOURAGEMENT = 1u << 2,    /* encouraging self-harm or suicide */
    MHG_REPLY_CLAIMS_HUMAN = 1u << 3,     /* "I am a real person" */
    MHG_REPLY_CLAIMS_CLINICIAN = 1u << 4, /* "as your therapist" */
    MHG_REPLY_MEDICAL_ADVICE = 1u << 5,   /* diagnosis / dose / treatment (levels 2-3) */
    MHG_REPLY_MISSING_DISCLAIMER = 1u << 6, /* amend: disclaimer appended */
    MHG_REPLY_MISSING_RESOURCES = 1u << 7,  /* amend: crisis resources appended */
    MHG_REPLY_REMINDER = 1u << 8,           /* amend: reminder appended */
    MHG_REPLY_REASON_COUNT = 9
};
/* Bits that block (the rest only amend). */
#define MHG_REPLY_BLOCKING                                                              \
    (MHG_REPLY_METHOD_DETAIL | MHG_REPLY_LETHALITY_DETAIL | MHG_REPLY_ENCOURAGEMENT |   \
     MHG_REPLY_CLAIMS_HUMAN | MHG_REPLY_CLAIMS_CLINICIAN | MHG_REPLY_MEDICAL_ADVICE)

/* "method_detail", "lethality_detail", "encouragement", "claims_human",
 * "claims_clinician", "medical_advice", "missing_disclaimer",
 * "missing_resources", "reminder"; NULL unless exactly one known bit. */
const char *mhg_reply_reason_name(unsigned bit);

typedef enum mhg_reply_action {
    MHG_REPLY_ALLOW = 0, /* send as is */
    MHG_REPLY_AMEND,     /* send, then append `append` */
    MHG_REPLY_BLOCK      /* do not send; send `replacement` instead */
} mhg_reply_action;
/* "allow", "amend", "block"; NULL when out of range. */
const char *mhg_reply_action_name(mhg_reply_action a);

/* Context of the reply: from the user message's verdict and decision. */
typedef struct mhg_reply_context {
    mhg_level user_risk;     /* verdict risk of the user's message */
    mhg_age_band age_band;   /* minors: stricter (any method talk blocks) */
    int require_resources;   /* decision.require_resources */
    int reminder_due;        /* decision.reminder_due */
    const char *lang;        /* language for appended text; NULL: "en" */
    const char *country;     /* for resources; NULL: policy default */
} mhg_reply_context;

#define MHG_REPLY_MAX_FINDINGS 16u

typedef struct mhg_reply_finding {
    unsigned reason;       /* one MHG_REPLY_* bit */
    const char *category;  /* lexicon category: "method_detail", "dose_advice", ... */
    const char *rule_id;   /* borrowed from the screener: "en.method.most_effective" */
    size_t start, end;     /* byte span in the reply as given */
} mhg_reply_finding;

typedef struct mhg_reply_result {
    mhg_reply_action action;
    unsigned reasons;      /* MHG_REPLY_* bits, blocking and amending */
    mhg_reply_finding findings[MHG_REPLY_MAX_FINDINGS];
    size_t n_findings;     /* blocking findings kept (first ones) */
    /* Owned (mhg_reply_result_free); NULL when not applicable. */
    char *append;          /* AMEND: text to append (starts with a blank line) */
    size_t append_len;
    char *replacement;     /* BLOCK: the safe reply to send instead */
    size_t replacement_len;
} mhg_reply_result;

void mhg_reply_result_init(mhg_reply_result *r);
void mhg_reply_result_free(mhg_reply_result *r); /* frees texts; reusable after init */

/*
 * Screen a complete reply. text must be UTF-8 (else MHG_ERR_UTF8) and at
 * most MHG_MAX_MESSAGE_BYTES (else MHG_ERR_TOO_BIG).
 * On any error out->action is BLOCK with a replacement when one could be
 * made (fail closed): the caller must not send the original reply.
 * Thread use: s shared; out owned by the caller.
 */
MHG_NODISCARD mhg_status mhg_reply_check(const mhg_reply_screener *s, const char *text,
                                         size_t len, const mhg_reply_context *ctx,
                                         mhg_reply_result *out);

/* ------------------------------------------------------------------------
 * Streaming replies
 *
 * The stream keeps the reply so far and releases only text that has been
 * checked with enough right context: the last MHG_REPLY_STREAM_HOLD bytes
 * (at least twice the longest reply-lexicon match) are held back, so a
 * pattern split across chunks is always seen whole before any byte of it is
 * released. Release points fall on whitespace (never inside a UTF-8
 * character or a word).
 * ------------------------------------------------------------------------ */
#define MHG_REPLY_STREAM_HOLD 512u

typedef struct mhg_reply_stream mhg_reply_stream;

MHG_NODISCARD mhg_status mhg_reply_stream_new(const mhg_reply_screener *s,
                                              const mhg_reply_context *ctx,
                                              mhg_reply_stream **out);
/* Wipes the held text and frees. NULL is a no-op. */
void mhg_reply_stream_free(mhg_reply_stream *st);

/*
 * Add a chunk (any byte split, even inside a UTF-8 character). On return
 * [*release, *release + *release_len) may be sent now (borrowed; valid until
 * the next call on st; *release is NULL when *release_len is 0); it follows
 * directly on what earlier calls released.
 * *blocked becomes 1 as soon as a blocking violation is seen: release_len is
 * then 0, the caller stops the upstream stream and calls finish to get the
 * replacement. Once blocked, feed keeps returning blocked.
 * Errors: MHG_ERR_TOO_BIG (reply over MHG_MAX_MESSAGE_BYTES), MHG_ERR_UTF8,
 * MHG_ERR_NOMEM: treat as blocked (fail closed).
 */
MHG_NODISCARD mhg_status mhg_reply_stream_feed(mhg_reply_stream *st, const char *chunk,
                                               size_t len, const char **release,
                                               size_t *release_len, int *blocked);
/*
 * End of the upstream reply: checks the held tail and the whole reply.
 * If not blocked, [*release, +*release_len) is the rest to send, then
 * out->append (when AMEND). If BLOCK, release_len is 0 and out->replacement
 * is to be sent after whatever was already released (that text was checked
 * and clean). Errors as for mhg_reply_check (fail closed).
 */
MHG_NODISCARD mhg_status mhg_reply_stream_finish(mhg_reply_stream *st, const char **release,
                                                 size_t *release_len, mhg_reply_result *out);

#ifdef __cplusplus
}
#endif
#endif
