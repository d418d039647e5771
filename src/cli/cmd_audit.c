/*
 * cmd_audit.c - `mhguard audit verify|export|head`: check, export and anchor
 * the hash-chained audit log (include/mhguard/audit.h).
 *
 * Exit status: 0 success / chain intact, 1 chain tampered (verify only),
 * 2 usage error or the store could not be read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli_store.h"
#include "cli/commands.h"
#include "mhguard/audit.h"
#include "mhguard/store.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mhguard audit <subcommand> [options]\n\n"
            "subcommands:\n"
            "  verify   walk the hash chain; report the first edited, deleted, inserted or\n"
            "           reordered record (exit 0 intact, 1 tampered, 2 error)\n"
            "  export   write the chain as JSON lines (seq, prev_hash, hash, record)\n"
            "  head     print the newest record's seq and hash, to publish as an anchor\n\n"
            "options:\n"
            "  --data-dir DIR    gateway data directory (default: $MHG_DATA_HOME, else\n"
            "                    ./mhguard-data); the log is DIR/mhguard.db\n"
            "  --store URL       store URL instead (sqlite:PATH or postgres://...)\n"
            "  --anchor SEQ:HASH (verify) also require record SEQ to still have HASH, as\n"
            "                    printed earlier by `mhguard audit head`; catches\n"
            "                    truncation and whole-history rewrites\n"
            "  --out FILE        (export) write to FILE instead of standard output\n"
            "  --json            (verify, head) print the result as one JSON object\n"
            "  -h, --help        this help\n");
}

static int parse_anchor(const char *s, int64_t *seq, char hash[MHG_AUDIT_HASH_HEX]) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != ':' || v <= 0) return -1;
    const char *h = end + 1;
    if (strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64) return -1;
    *seq = v;
    memcpy(hash, h, MHG_AUDIT_HASH_HEX);
    return 0;
}

static int do_verify(mhg_store *store, const char *anchor, int json) {
    mhg_audit_report r;
    mhg_status st;
    if (anchor) {
        int64_t aseq;
        char ahash[MHG_AUDIT_HASH_HEX];
        if (parse_anchor(anchor, &aseq, ahash) != 0) {
            fprintf(stderr, "mhguard audit verify: --anchor must be SEQ:HASH (64 lower-case hex "
                            "digits), as printed by `mhguard audit head`\n");
            return 2;
        }
        st = mhg_audit_verify_anchor(store, aseq, ahash, &r);
    } else {
        st = mhg_audit_verify(store, &r);
    }
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard audit verify: %s: %s\n", mhg_strerror(st), r.detail);
        return 2;
    }
    if (json) {
        json_t *o = json_pack("{s:b, s:I, s:I, s:s, s:s, s:I, s:s}", "ok",
                              r.fault == MHG_AUDIT_OK, "records", (json_int_t)r.records,
                              "head_seq", (json_int_t)r.head_seq, "head_hash", r.head_hash,
                              "fault", mhg_audit_fault_name(r.fault), "bad_seq",
                              (json_int_t)r.bad_seq, "detail", r.detail);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s) puts(s);
        free(s);
        json_decref(o);
    } else if (r.fault == MHG_AUDIT_OK) {
        printf("audit log OK: %" PRId64 " records, head %" PRId64 " %s\n", r.records, r.head_seq,
               r.head_hash);
    } else {
        printf("audit log TAMPERED at record %" PRId64 " (%s): %s\n", r.bad_seq,
               mhg_audit_fault_name(r.fault), r.detail);
    }
    return r.fault == MHG_AUDIT_OK ? 0 : 1;
}

static int do_export(mhg_store *store, const char *path) {
    FILE *out = stdout;
    if (path) {
        out = fopen(path, "w");
        if (!out) {
            perror(path);
            return 2;
        }
    }
    int64_t n = 0;
    mhg_status st = mhg_audit_export(store, out, &n);
    if (path && fclose(out) != 0 && st == MHG_OK) st = MHG_ERR_IO;
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard audit export: %s%s%s\n", mhg_strerror(st),
                st == MHG_ERR_STORE ? ": " : "", st == MHG_ERR_STORE ? mhg_store_errmsg(store) : "");
        return 2;
    }
    fprintf(stderr, "exported %" PRId64 " records%s%s\n", n, path ? " to " : "", path ? path : "");
    return 0;
}

static int do_head(mhg_store *store, int json) {
    int64_t seq;
    char hash[MHG_AUDIT_HASH_HEX];
    mhg_status st = mhg_audit_head(store, &seq, hash);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard audit head: %s: %s\n", mhg_strerror(st), mhg_store_errmsg(store));
        return 2;
    }
    if (json) printf("{\"seq\":%" PRId64 ",\"hash\":\"%s\"}\n", seq, hash);
    else printf("%" PRId64 ":%s\n", seq, hash);
    return 0;
}

int mhg_cmd_audit(int argc, char **argv) {
    static const char *const subs[] = {"verify", "export", "head", NULL};
    static const cli_store_opt extra[] = {{"anchor", 'a'}, {"out", 'o'}};
    cli_store_args a;
    int rc = cli_store_parse("audit", argc, argv, subs, extra, 2, usage, &a);
    if (rc >= 0) return rc;
    const char *sub = a.sub, *anchor = a.extra[0], *out = a.extra[1];
    if (a.nargs > 0) {
        fprintf(stderr, "mhguard audit %s: unexpected argument '%s'\n", sub, a.args[0]);
        return 2;
    }
    if (cli_store_check_source("audit", &a)) return 2;
    if ((anchor && strcmp(sub, "verify")) || (out && strcmp(sub, "export")) ||
        (a.json && !strcmp(sub, "export"))) {
        fprintf(stderr, "mhguard audit %s: option not valid for this subcommand\n", sub);
        return 2;
    }
    mhg_store *store;
    /* Read-only: auditing must not change the log it checks. */
    rc = cli_store_open("audit", a.data_dir, a.url, CLI_STORE_RO, &store);
    if (rc) return rc;
    if (!strcmp(sub, "verify")) rc = do_verify(store, anchor, a.json);
    else if (!strcmp(sub, "export")) rc = do_export(store, out);
    else rc = do_head(store, a.json);
    mhg_store_close(store);
    return rc;
}
