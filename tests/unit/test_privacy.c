/*
 * test_privacy.c - the secret key file, keyed pseudonyms (stability, domain
 * and key separation, a pinned construction) and sealing.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "mhguard/privacy.h"
#include "test_util.h"

typedef struct fixture {
    char dir[256];
    char key[300];
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (mhgt_mkdtemp(f->dir, sizeof f->dir, "mhg_priv_") != 0) return -1;
    snprintf(f->key, sizeof f->key, "%s/secret.key", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    mhgt_rm_rf(f->dir);
    free(f);
    return 0;
}

static const uint8_t key_a[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t key_b[32] = {32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                                  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

/* ---- key file ---------------------------------------------------------- */

static void test_key_created_then_reloaded(void **state) {
    fixture *f = *state;
    uint8_t k1[32], k2[32];
    int created = -1;
    char err[256];
    assert_int_equal(mhg_privacy_load_or_create_key(f->key, k1, &created, err, sizeof err),
                     MHG_OK);
    assert_int_equal(created, 1);
    struct stat sb;
    assert_int_equal(stat(f->key, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 32);
    uint8_t zero[32] = {0};
    assert_memory_not_equal(k1, zero, 32);
    assert_int_equal(mhg_privacy_load_or_create_key(f->key, k2, &created, err, sizeof err),
                     MHG_OK);
    assert_int_equal(created, 0);
    assert_memory_equal(k1, k2, 32);
    /* No temporary files are left behind: the directory holds the key only. */
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) entries++;
    closedir(d);
    assert_int_equal(entries, 1);
}

static void test_key_file_checks(void **state) {
    fixture *f = *state;
    uint8_t k[32];
    char err[256];
    assert_int_equal(mhg_privacy_load_or_create_key(f->key, k, NULL, err, sizeof err), MHG_OK);
    /* Group-readable: refused, and the key buffer is wiped. */
    chmod(f->key, 0640);
    assert_int_equal(mhg_privacy_load_or_create_key(f->key, k, NULL, err, sizeof err),
                     MHG_ERR_INVALID);
    assert_non_null(strstr(err, "chmod 600"));
    uint8_t zero[32] = {0};
    assert_memory_equal(k, zero, 32);
    chmod(f->key, 0600);
    /* Wrong size. */
    FILE *fp = fopen(f->key, "ab");
    fputc('x', fp);
    fclose(fp);
    assert_int_equal(mhg_privacy_load_or_create_key(f->key, k, NULL, err, sizeof err),
                     MHG_ERR_INVALID);
    assert_non_null(strstr(err, "32 bytes"));
    /* A symlink is not followed. */
    char link_path[400];
    snprintf(link_path, sizeof link_path, "%s/link.key", f->dir);
    assert_int_equal(symlink(f->key, link_path), 0);
    assert_int_not_equal(mhg_privacy_load_or_create_key(link_path, k, NULL, err, sizeof err),
                         MHG_OK);
    /* Missing directory. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/nope/secret.key", f->dir);
    assert_int_equal(mhg_privacy_load_or_create_key(missing, k, NULL, err, sizeof err), MHG_ERR_IO);
    assert_non_null(strstr(err, missing));
    assert_int_equal(mhg_privacy_load_or_create_key(NULL, k, NULL, NULL, 0), MHG_ERR_INVALID);
}

#define RACERS 6
typedef struct racer {
    const char *path;
    uint8_t key[32];
    mhg_status st;
    int created;
} racer;

static void *race(void *arg) {
    racer *r = arg;
    r->st = mhg_privacy_load_or_create_key(r->path, r->key, &r->created, NULL, 0);
    return NULL;
}

/* Instances starting at once must end up with one key, not several. */
static void test_key_creation_race(void **state) {
    fixture *f = *state;
    pthread_t th[RACERS];
    racer r[RACERS];
    for (int i = 0; i < RACERS; i++) {
        r[i] = (racer){.path = f->key};
        pthread_create(&th[i], NULL, race, &r[i]);
    }
    int creators = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].st, MHG_OK);
        creators += r[i].created;
        assert_memory_equal(r[i].key, r[0].key, 32);
    }
    assert_int_equal(creators, 1);
}

/* ---- pseudonyms -------------------------------------------------------- */

static void test_pseudonym_stable_and_separated(void **state) {
    (void)state;
    mhg_privacy *a, *a2, *b;
    assert_int_equal(mhg_privacy_new(key_a, &a), MHG_OK);
    assert_int_equal(mhg_privacy_new(key_a, &a2), MHG_OK);
    assert_int_equal(mhg_privacy_new(key_b, &b), MHG_OK);
    char p1[MHG_PRIVACY_PSEUDONYM_HEX], p2[MHG_PRIVACY_PSEUDONYM_HEX],
        p3[MHG_PRIVACY_PSEUDONYM_HEX], p4[MHG_PRIVACY_PSEUDONYM_HEX],
        p5[MHG_PRIVACY_PSEUDONYM_HEX];
    assert_int_equal(mhg_privacy_pseudonym(a, "user", "alice@example.com", 17, p1), MHG_OK);
    assert_int_equal(strlen(p1), 32);
    assert_int_equal(strspn(p1, "0123456789abcdef"), 32);
    /* Same key (another handle), same domain, same id: same pseudonym. */
    assert_int_equal(mhg_privacy_pseudonym(a2, "user", "alice@example.com", 17, p2), MHG_OK);
    assert_string_equal(p1, p2);
    /* Other domain, other key, other id: unrelated. */
    assert_int_equal(mhg_privacy_pseudonym(a, "conversation", "alice@example.com", 17, p3),
                     MHG_OK);
    assert_string_not_equal(p1, p3);
    assert_int_equal(mhg_privacy_pseudonym(b, "user", "alice@example.com", 17, p4), MHG_OK);
    assert_string_not_equal(p1, p4);
    assert_int_equal(mhg_privacy_pseudonym(a, "user", "alice@example.co", 16, p5), MHG_OK);
    assert_string_not_equal(p1, p5);
    /* Domain/id boundary is unambiguous: ("user", "x") vs ("userx", ""). */
    assert_int_equal(mhg_privacy_pseudonym(a, "user", "x", 1, p2), MHG_OK);
    assert_int_equal(mhg_privacy_pseudonym(a, "userx", "", 0, p3), MHG_OK);
    assert_string_not_equal(p2, p3);
    /* Binary ids with NUL bytes use their length. */
    assert_int_equal(mhg_privacy_pseudonym(a, "user", "a\0b", 3, p2), MHG_OK);
    assert_int_equal(mhg_privacy_pseudonym(a, "user", "a\0c", 3, p3), MHG_OK);
    assert_string_not_equal(p2, p3);
    /* Bad domains. */
    assert_int_equal(mhg_privacy_pseudonym(a, "User", "x", 1, p2), MHG_ERR_INVALID);
    assert_int_equal(p2[0], '\0');
    assert_int_equal(mhg_privacy_pseudonym(a, "", "x", 1, p2), MHG_ERR_INVALID);
    assert_int_equal(mhg_privacy_pseudonym(a, NULL, "x", 1, p2), MHG_ERR_INVALID);
    assert_int_equal(mhg_privacy_pseudonym(a, "a_domain_name_longer_than_32_chars", "x", 1, p2),
                     MHG_ERR_INVALID);
    mhg_privacy_free(a);
    mhg_privacy_free(a2);
    mhg_privacy_free(b);
    mhg_privacy_free(NULL);
}

/* Pin the construction: pseudonyms must not change between releases, or
 * every stored id would silently stop matching. Recomputed here with
 * libsodium directly from the documented recipe. */
static void test_pseudonym_construction_pinned(void **state) {
    (void)state;
    unsigned char sub[32];
    assert_int_equal(crypto_kdf_derive_from_key(sub, 32, 1, "mhgpriv1", key_a), 0);
    unsigned char h[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, sub, 32, 16);
    crypto_generichash_update(&st, (const unsigned char *)"user\0", 5);
    crypto_generichash_update(&st, (const unsigned char *)"u-1", 3);
    crypto_generichash_final(&st, h, 16);
    char want[33];
    sodium_bin2hex(want, sizeof want, h, 16);
    mhg_privacy *p;
    assert_int_equal(mhg_privacy_new(key_a, &p), MHG_OK);
    char got[MHG_PRIVACY_PSEUDONYM_HEX];
    assert_int_equal(mhg_privacy_pseudonym(p, "user", "u-1", 3, got), MHG_OK);
    assert_string_equal(got, want);
    mhg_privacy_free(p);
}

/* ---- sealing ----------------------------------------------------------- */

static void test_seal_roundtrip(void **state) {
    (void)state;
    mhg_privacy *a, *b;
    assert_int_equal(mhg_privacy_new(key_a, &a), MHG_OK);
    assert_int_equal(mhg_privacy_new(key_b, &b), MHG_OK);
    const char *note = "called the user back; they are safe with family tonight";
    char *s1, *s2;
    assert_int_equal(mhg_privacy_seal(a, note, strlen(note), &s1), MHG_OK);
    assert_int_equal(mhg_privacy_seal(a, note, strlen(note), &s2), MHG_OK);
    assert_int_equal(strncmp(s1, "mhg1:", 5), 0);
    assert_null(strstr(s1, "family"));
    assert_string_not_equal(s1, s2); /* random nonce */
    for (const char *c = s1; *c; c++) assert_true(*c > 0x20 && *c < 0x7f);
    char *plain;
    size_t n;
    assert_int_equal(mhg_privacy_unseal(a, s1, strlen(s1), &plain, &n), MHG_OK);
    assert_int_equal(n, strlen(note));
    assert_string_equal(plain, note);
    mhg_memzero(plain, n);
    free(plain);
    /* Wrong key, tampered text, not a sealed string. */
    assert_int_equal(mhg_privacy_unseal(b, s1, strlen(s1), &plain, &n), MHG_ERR_AUTH);
    assert_null(plain);
    s1[10] = s1[10] == 'A' ? 'B' : 'A';
    assert_int_equal(mhg_privacy_unseal(a, s1, strlen(s1), &plain, &n), MHG_ERR_AUTH);
    assert_int_equal(mhg_privacy_unseal(a, "hello", 5, &plain, &n), MHG_ERR_PARSE);
    assert_int_equal(mhg_privacy_unseal(a, "mhg1:!!!", 8, &plain, &n), MHG_ERR_PARSE);
    assert_int_equal(mhg_privacy_unseal(a, "mhg1:AAAA", 9, &plain, &n), MHG_ERR_PARSE);
    free(s1);
    free(s2);
    /* Empty and binary plaintexts. */
    assert_int_equal(mhg_privacy_seal(a, "", 0, &s1), MHG_OK);
    assert_int_equal(mhg_privacy_unseal(a, s1, strlen(s1), &plain, &n), MHG_OK);
    assert_int_equal(n, 0);
    assert_string_equal(plain, "");
    free(plain);
    free(s1);
    unsigned char bin[300];
    for (int i = 0; i < 300; i++) bin[i] = (unsigned char)i;
    assert_int_equal(mhg_privacy_seal(a, bin, sizeof bin, &s1), MHG_OK);
    assert_int_equal(mhg_privacy_unseal(a, s1, strlen(s1), &plain, &n), MHG_OK);
    assert_int_equal(n, sizeof bin);
    assert_memory_equal(plain, bin, sizeof bin);
    free(plain);
    free(s1);
    mhg_privacy_free(a);
    mhg_privacy_free(b);
}

/* Sealing and pseudonyms use different subkeys of the same master. */
static void test_subkeys_independent(void **state) {
    (void)state;
    mhg_privacy *a;
    assert_int_equal(mhg_privacy_new(key_a, &a), MHG_OK);
    unsigned char seal_sub[32], pseud_sub[32];
    crypto_kdf_derive_from_key(pseud_sub, 32, 1, "mhgpriv1", key_a);
    crypto_kdf_derive_from_key(seal_sub, 32, 2, "mhgpriv1", key_a);
    assert_memory_not_equal(seal_sub, pseud_sub, 32);
    /* A box made with the pseudonym subkey does not open. */
    unsigned char box[24 + 16 + 3];
    randombytes_buf(box, 24);
    crypto_secretbox_easy(box + 24, (const unsigned char *)"abc", 3, box, pseud_sub);
    char b64[128] = "mhg1:";
    sodium_bin2base64(b64 + 5, sizeof b64 - 5, box, sizeof box,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *plain;
    size_t n;
    assert_int_equal(mhg_privacy_unseal(a, b64, strlen(b64), &plain, &n), MHG_ERR_AUTH);
    /* ... one made with the seal subkey does. */
    crypto_secretbox_easy(box + 24, (const unsigned char *)"abc", 3, box, seal_sub);
    sodium_bin2base64(b64 + 5, sizeof b64 - 5, box, sizeof box,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    assert_int_equal(mhg_privacy_unseal(a, b64, strlen(b64), &plain, &n), MHG_OK);
    assert_string_equal(plain, "abc");
    free(plain);
    mhg_privacy_free(a);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        T(test_key_created_then_reloaded),
        T(test_key_file_checks),
        T(test_key_creation_race),
        cmocka_unit_test(test_pseudonym_stable_and_separated),
        cmocka_unit_test(test_pseudonym_construction_pinned),
        cmocka_unit_test(test_seal_roundtrip),
        cmocka_unit_test(test_subkeys_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
