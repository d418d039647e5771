/*
 * test_util.h - helpers shared by unit tests that work in a temporary
 * directory (tests/ is on every unit test's include path). Header-only so
 * each test keeps linking just its own module; everything is static inline,
 * so a test that does not use a helper gets no unused-function warning.
 */
#ifndef MHG_TEST_UTIL_H
#define MHG_TEST_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "mhguard/store.h"

static inline int mhgt_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* Delete dir and everything under it (not following symlinks). */
static inline void mhgt_rm_rf(const char *dir) {
    nftw(dir, mhgt_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Make a fresh directory /tmp/<prefix>XXXXXX in dir[n]; 0 or -1. */
static inline int mhgt_mkdtemp(char *dir, size_t n, const char *prefix) {
    snprintf(dir, n, "/tmp/%sXXXXXX", prefix);
    return mkdtemp(dir) ? 0 : -1;
}

/* A store opened on a fresh temporary data directory; db is its file. */
typedef struct mhgt_store_fixture {
    char dir[256];
    char db[300];
    mhg_store *store;
} mhgt_store_fixture;

/* cmocka setup for a mhgt_store_fixture in *state, directory /tmp/<prefix>XXXXXX. */
static inline int mhgt_store_fixture_setup(void **state, const char *prefix) {
    mhgt_store_fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    if (mhgt_mkdtemp(f->dir, sizeof f->dir, prefix) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/mhguard.db", f->dir);
    char err[256];
    if (mhg_store_open(f->dir, &f->store, err, sizeof err) != MHG_OK) {
        fprintf(stderr, "open: %s\n", err);
        mhgt_rm_rf(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static inline int mhgt_store_fixture_teardown(void **state) {
    mhgt_store_fixture *f = *state;
    mhg_store_close(f->store);
    mhgt_rm_rf(f->dir);
    free(f);
    return 0;
}

#endif
