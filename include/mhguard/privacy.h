/*
 * mhguard/privacy.h - what keeps identities and disclosures out of storage:
 * keyed pseudonyms, PII redaction and sealing (encryption at rest).
 *
 *   mhg_privacy  holds the deployment's secret (in guarded memory); immutable
 *                after mhg_privacy_new, so one handle may be shared by all
 *                threads.
 *
 * One 32-byte master secret per deployment (<data_dir>/secret.key, mode
 * 0600) is split with a KDF into independent subkeys for pseudonyms and for
 * sealing, so neither use can leak the other. Losing the secret makes old
 * pseudonyms unlinkable to new ones and sealed notes unreadable; back it up
 * with the database.
 */
#ifndef MHGUARD_PRIVACY_H
#define MHGUARD_PRIVACY_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mhg_privacy mhg_privacy;

#define MHG_PRIVACY_KEY_BYTES 32u
/* A pseudonym: 32 lower-case hex digits (128 bits) + NUL. */
#define MHG_PRIVACY_PSEUDONYM_HEX 33u
/* Longest domain name accepted by mhg_privacy_pseudonym. */
#define MHG_PRIVACY_DOMAIN_MAX 32u

/*
 * Read the 32-byte secret from path, or - if the file does not exist -
 * generate one from the OS CSPRNG and write it there atomically with mode
 * 0600 (the parent directory must exist). *created_out (may be NULL) is 1
 * when a new key was written. Refuses a key file that is not exactly 32
 * bytes or that group/others can read (MHG_ERR_IO / MHG_ERR_INVALID with err
 * naming the path), because a leaked key re-identifies every pseudonym.
 * err may be NULL when errlen is 0. On failure key_out is zeroed.
 */
MHG_NODISCARD mhg_status mhg_privacy_load_or_create_key(const char *path,
                                                        uint8_t key_out[MHG_PRIVACY_KEY_BYTES],
                                                        int *created_out, char *err,
                                                        size_t errlen);

/* Build a handle from the master secret (copied; the caller should
 * mhg_memzero its copy). Errors: MHG_ERR_NOMEM, MHG_ERR_INTERNAL (libsodium
 * failed to initialise). */
MHG_NODISCARD mhg_status mhg_privacy_new(const uint8_t key[MHG_PRIVACY_KEY_BYTES],
                                         mhg_privacy **out);
/* Wipe and free. mhg_privacy_free(NULL) is a no-op. */
void mhg_privacy_free(mhg_privacy *p);

/*
 * Keyed pseudonym of raw_id within a domain ("user", "conversation",
 * "reviewer", ...): BLAKE2b-128 under the pseudonym subkey of
 * (domain, raw_id), so the same raw id gives unrelated pseudonyms in
 * different domains or deployments, and the same pseudonym for the same
 * (key, domain, id) forever. domain: 1..MHG_PRIVACY_DOMAIN_MAX chars of
 * [a-z0-9_]. raw_id may hold any bytes (len 0 is allowed).
 * Errors: MHG_ERR_INVALID (bad domain). Thread-safe.
 */
MHG_NODISCARD mhg_status mhg_privacy_pseudonym(const mhg_privacy *p, const char *domain,
                                               const char *raw_id, size_t len,
                                               char out_hex[MHG_PRIVACY_PSEUDONYM_HEX]);

/* Kinds of PII recognised by mhg_privacy_redact (bit flags). */
enum {
    MHG_PII_EMAIL = 1u << 0,  /* -> [email]  */
    MHG_PII_PHONE = 1u << 1,  /* -> [phone]  international and national formats */
    MHG_PII_URL = 1u << 2,    /* -> [url]    scheme:// or www. */
    MHG_PII_IP = 1u << 3,     /* -> [ip]     IPv4 and IPv6 */
    MHG_PII_CARD = 1u << 4,   /* -> [card]   13-19 digits passing the Luhn check */
    MHG_PII_HANDLE = 1u << 5, /* -> [handle] @name */
    MHG_PII_NUMBER = 1u << 6, /* -> [number] 16+ digit runs (account / ID numbers) */
    MHG_PII_ALL = (1u << 7) - 1
};

/*
 * Copy text with PII replaced by bracketed placeholders ("[email]", ...).
 * Used before anything derived from a message is stored or logged.
 * Matching is deliberately conservative-to-redact: a long digit run that is
 * probably not a phone number is still replaced. Bytes that are not PII are
 * copied unchanged (invalid UTF-8 is rejected: MHG_ERR_UTF8).
 * *out is malloc'd, NUL-terminated, free() it (mhg_memzero first if it may
 * still hold sensitive text); *out_len (may be NULL) is its length.
 * *found_out (may be NULL) gets the MHG_PII_* kinds that were replaced.
 * Errors: MHG_ERR_TOO_BIG (len > MHG_MAX_MESSAGE_BYTES), MHG_ERR_UTF8,
 * MHG_ERR_NOMEM. Thread-safe, no handle needed.
 */
MHG_NODISCARD mhg_status mhg_privacy_redact(const char *text, size_t len, char **out,
                                            size_t *out_len, unsigned *found_out);

/*
 * Encrypt a blob for storage (XSalsa20-Poly1305, crypto_secretbox, random
 * nonce) under the sealing subkey. *sealed_out is a NUL-terminated ASCII
 * string "mhg1:<base64url(nonce || ciphertext)>" safe for any text column;
 * free() it. Errors: MHG_ERR_TOO_BIG (len > 16 MiB), MHG_ERR_NOMEM.
 */
MHG_NODISCARD mhg_status mhg_privacy_seal(const mhg_privacy *p, const void *plain, size_t len,
                                          char **sealed_out);

/*
 * Decrypt a mhg_privacy_seal string. *plain_out is malloc'd with a NUL after
 * the *plain_len bytes; wipe with mhg_memzero and free() it.
 * Errors: MHG_ERR_PARSE (not a sealed string), MHG_ERR_AUTH (wrong key or
 * tampered ciphertext), MHG_ERR_NOMEM. Nothing is returned on failure.
 */
MHG_NODISCARD mhg_status mhg_privacy_unseal(const mhg_privacy *p, const char *sealed, size_t len,
                                            char **plain_out, size_t *plain_len);

#ifdef __cplusplus
}
#endif
#endif
