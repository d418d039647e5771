/*
 * privacy.c - the deployment secret, keyed pseudonyms and sealing.
 * Redaction lives in redact.c. Design: docs/internals/privacy.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "mhguard/privacy.h"

/* Subkeys derived from the master secret (crypto_kdf, 8-byte context). */
#define KDF_CONTEXT "mhgpriv1"
#define SUBKEY_PSEUDONYM 1
#define SUBKEY_SEAL 2

#define SEAL_PREFIX "mhg1:"
#define SEAL_MAX_PLAIN (16u * 1024u * 1024u)

struct mhg_privacy {
    unsigned char pseudonym_key[crypto_generichash_KEYBYTES];
    unsigned char seal_key[crypto_secretbox_KEYBYTES];
};
_Static_assert(crypto_kdf_KEYBYTES == MHG_PRIVACY_KEY_BYTES, "master key size");

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the secret file ---------------------------------------------------- */

static mhg_status read_key(const char *path, uint8_t key_out[MHG_PRIVACY_KEY_BYTES], char *err,
                           size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        set_err(err, errlen, "cannot read secret key '%s': %s", path, strerror(errno));
        return MHG_ERR_IO;
    }
    struct stat sb;
    mhg_status st = MHG_OK;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        set_err(err, errlen, "secret key '%s' is not a regular file", path);
        st = MHG_ERR_INVALID;
    } else if (sb.st_mode & 077) {
        /* A readable key re-identifies every pseudonym: refuse, like ssh. */
        set_err(err, errlen, "secret key '%s' is accessible by group or others; run chmod 600 on "
                             "it", path);
        st = MHG_ERR_INVALID;
    } else if (sb.st_size != MHG_PRIVACY_KEY_BYTES) {
        set_err(err, errlen, "secret key '%s' must be exactly 32 bytes", path);
        st = MHG_ERR_INVALID;
    } else {
        size_t got = 0;
        while (got < MHG_PRIVACY_KEY_BYTES) {
            ssize_t n = read(fd, key_out + got, MHG_PRIVACY_KEY_BYTES - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                set_err(err, errlen, "cannot read secret key '%s': %s", path,
                        n < 0 ? strerror(errno) : "short read");
                st = MHG_ERR_IO;
                break;
            }
            got += (size_t)n;
        }
    }
    close(fd);
    return st;
}

/* Write a new key next to path, then link() it into place: link fails if
 * another process created the key meanwhile, and then we use theirs. */
static mhg_status create_key(const char *path, uint8_t key_out[MHG_PRIVACY_KEY_BYTES],
                             int *created, char *err, size_t errlen) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        set_err(err, errlen, "secret key path '%s' is too long", path);
        return MHG_ERR_INVALID;
    }
    mode_t old = umask(077);
    int fd = mkstemp(tmp);
    umask(old);
    if (fd < 0) {
        set_err(err, errlen, "cannot create secret key '%s': %s", path, strerror(errno));
        return MHG_ERR_IO;
    }
    randombytes_buf(key_out, MHG_PRIVACY_KEY_BYTES);
    int ok = fchmod(fd, 0600) == 0 &&
             write(fd, key_out, MHG_PRIVACY_KEY_BYTES) == (ssize_t)MHG_PRIVACY_KEY_BYTES &&
             fsync(fd) == 0;
    int saved = errno;
    close(fd);
    if (!ok) {
        unlink(tmp);
        set_err(err, errlen, "cannot write secret key '%s': %s", path, strerror(saved));
        return MHG_ERR_IO;
    }
    if (link(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        if (saved == EEXIST) return read_key(path, key_out, err, errlen); /* lost the race */
        set_err(err, errlen, "cannot create secret key '%s': %s", path, strerror(saved));
        return MHG_ERR_IO;
    }
    unlink(tmp);
    /* Make the new directory entry durable too. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        if (slash == dir) slash[1] = '\0';
        else *slash = '\0';
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    *created = 1;
    return MHG_OK;
}

mhg_status mhg_privacy_load_or_create_key(const char *path, uint8_t key_out[MHG_PRIVACY_KEY_BYTES],
                                          int *created_out, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    if (created_out) *created_out = 0;
    if (!key_out) return MHG_ERR_INVALID;
    sodium_memzero(key_out, MHG_PRIVACY_KEY_BYTES);
    if (!path || !*path) {
        set_err(err, errlen, "no secret key path given");
        return MHG_ERR_INVALID;
    }
    if (sodium_init() < 0) {
        set_err(err, errlen, "libsodium failed to initialise");
        return MHG_ERR_INTERNAL;
    }
    int created = 0;
    mhg_status st;
    struct stat sb;
    if (lstat(path, &sb) == 0) st = read_key(path, key_out, err, errlen);
    else if (errno == ENOENT) st = create_key(path, key_out, &created, err, errlen);
    else {
        set_err(err, errlen, "cannot access secret key '%s': %s", path, strerror(errno));
        st = MHG_ERR_IO;
    }
    if (st != MHG_OK) {
        sodium_memzero(key_out, MHG_PRIVACY_KEY_BYTES);
        return st;
    }
    if (created_out) *created_out = created;
    return MHG_OK;
}

/* ---- handle ------------------------------------------------------------ */

mhg_status mhg_privacy_new(const uint8_t key[MHG_PRIVACY_KEY_BYTES], mhg_privacy **out) {
    if (!out) return MHG_ERR_INVALID;
    *out = NULL;
    if (!key) return MHG_ERR_INVALID;
    if (sodium_init() < 0) return MHG_ERR_INTERNAL;
    /* Guarded pages: no swap, canaries, wiped by sodium_free. */
    mhg_privacy *p = sodium_malloc(sizeof *p);
    if (!p) return MHG_ERR_NOMEM;
    if (crypto_kdf_derive_from_key(p->pseudonym_key, sizeof p->pseudonym_key, SUBKEY_PSEUDONYM,
                                   KDF_CONTEXT, key) != 0 ||
        crypto_kdf_derive_from_key(p->seal_key, sizeof p->seal_key, SUBKEY_SEAL, KDF_CONTEXT,
                                   key) != 0) {
        sodium_free(p);
        return MHG_ERR_INTERNAL;
    }
    /* Immutable from here on, which is what makes sharing it safe. */
    sodium_mprotect_readonly(p);
    *out = p;
    return MHG_OK;
}

void mhg_privacy_free(mhg_privacy *p) {
    if (p) sodium_free(p); /* wipes */
}

/* ---- pseudonyms -------------------------------------------------------- */

mhg_status mhg_privacy_pseudonym(const mhg_privacy *p, const char *domain, const char *raw_id,
                                 size_t len, char out_hex[MHG_PRIVACY_PSEUDONYM_HEX]) {
    if (out_hex) out_hex[0] = '\0';
    if (!p || !out_hex || (!raw_id && len)) return MHG_ERR_INVALID;
    size_t dlen = domain ? strlen(domain) : 0;
    if (dlen == 0 || dlen > MHG_PRIVACY_DOMAIN_MAX) return MHG_ERR_INVALID;
    for (size_t i = 0; i < dlen; i++) {
        char c = domain[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return MHG_ERR_INVALID;
    }
    /* Input = domain || 0x00 || raw_id. The domain has no NUL, so no two
     * (domain, id) pairs share an input. */
    unsigned char h[(MHG_PRIVACY_PSEUDONYM_HEX - 1) / 2];
    crypto_generichash_state st;
    crypto_generichash_init(&st, p->pseudonym_key, sizeof p->pseudonym_key, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)domain, dlen);
    crypto_generichash_update(&st, (const unsigned char *)"", 1);
    if (len) crypto_generichash_update(&st, (const unsigned char *)raw_id, len);
    crypto_generichash_final(&st, h, sizeof h);
    sodium_memzero(&st, sizeof st);
    sodium_bin2hex(out_hex, MHG_PRIVACY_PSEUDONYM_HEX, h, sizeof h);
    return MHG_OK;
}

/* ---- sealing ----------------------------------------------------------- */

mhg_status mhg_privacy_seal(const mhg_privacy *p, const void *plain, size_t len,
                            char **sealed_out) {
    if (!sealed_out) return MHG_ERR_INVALID;
    *sealed_out = NULL;
    if (!p || (!plain && len)) return MHG_ERR_INVALID;
    if (len > SEAL_MAX_PLAIN) return MHG_ERR_TOO_BIG;
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    unsigned char *box = malloc(blen);
    if (!box) return MHG_ERR_NOMEM;
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plain ? plain : (const void *)"", len,
                          box, p->seal_key);
    size_t b64 = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = malloc(sizeof SEAL_PREFIX - 1 + b64);
    if (!out) {
        free(box);
        return MHG_ERR_NOMEM;
    }
    memcpy(out, SEAL_PREFIX, sizeof SEAL_PREFIX - 1);
    sodium_bin2base64(out + sizeof SEAL_PREFIX - 1, b64, box, blen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    free(box);
    *sealed_out = out;
    return MHG_OK;
}

mhg_status mhg_privacy_unseal(const mhg_privacy *p, const char *sealed, size_t len,
                              char **plain_out, size_t *plain_len) {
    if (plain_len) *plain_len = 0;
    if (!plain_out) return MHG_ERR_INVALID;
    *plain_out = NULL;
    if (!p || !sealed) return MHG_ERR_INVALID;
    size_t pre = sizeof SEAL_PREFIX - 1;
    if (len < pre || memcmp(sealed, SEAL_PREFIX, pre) != 0) return MHG_ERR_PARSE;
    if (len - pre > (SEAL_MAX_PLAIN + 64) / 3 * 4 + 4) return MHG_ERR_TOO_BIG;
    size_t cap = (len - pre) / 4 * 3 + 3;
    unsigned char *box = malloc(cap);
    if (!box) return MHG_ERR_NOMEM;
    size_t blen = 0;
    if (sodium_base642bin(box, cap, sealed + pre, len - pre, NULL, &blen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        free(box);
        return MHG_ERR_PARSE;
    }
    size_t mlen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *m = malloc(mlen + 1);
    if (!m) {
        free(box);
        return MHG_ERR_NOMEM;
    }
    if (crypto_secretbox_open_easy((unsigned char *)m, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, p->seal_key) != 0) {
        free(box);
        free(m);
        return MHG_ERR_AUTH;
    }
    free(box);
    m[mlen] = '\0';
    *plain_out = m;
    if (plain_len) *plain_len = mlen;
    return MHG_OK;
}
