/*
 * cmd_keys.c - `mhguard keys create|list|revoke`: manage the gateway's API
 * keys (stored hashed; include/mhguard/store.h). Creating and revoking a key
 * are appended to the audit log, like every other access change.
 *
 * Exit status: 0 success, 2 usage error or the store failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli_store.h"
#include "cli/commands.h"
#include "mhguard/audit.h"
#include "mhguard/store.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: mhguard keys <subcommand> [options]\n\n"
            "subcommands:\n"
            "  create --role ROLE [--label TEXT]\n"
            "           make a key; it is printed once on standard output and only its hash\n"
            "           is stored. ROLE: app, reviewer, admin, auditor, clinician\n"
            "  list     show keys (id, role, state, created, prefix, label); never secrets\n"
            "  revoke ID\n"
            "           revoke key ID (requests with it fail from then on)\n\n"
            "options:\n"
            "  --data-dir DIR  gateway data directory (default: $MHG_DATA_HOME, else\n"
            "                  ./mhguard-data; created by `keys create` if missing)\n"
            "  --store URL     store URL instead (sqlite:PATH or postgres://...)\n"
            "  --json          (list) print a JSON array\n"
            "  -h, --help      this help\n");
}

static void audit_key_event(mhg_store *store, const char *event, int64_t id, const char *outcome) {
    char target[48];
    snprintf(target, sizeof target, "key:%" PRId64, id);
    mhg_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.event = event;
    ev.actor = "cli";
    ev.target = target;
    ev.outcome = outcome;
    if (mhg_audit_append(store, &ev, NULL) != MHG_OK)
        fprintf(stderr, "mhguard keys: warning: the change was made but could not be written "
                        "to the audit log: %s\n", mhg_store_errmsg(store));
}

static int do_create(mhg_store *store, const char *role_name, const char *label) {
    mhg_role role;
    if (!role_name || mhg_role_parse(role_name, &role) != MHG_OK) {
        fprintf(stderr, "mhguard keys create: --role must be one of app, reviewer, admin, "
                        "auditor, clinician\n");
        return 2;
    }
    char key[MHG_STORE_KEY_MAX];
    int64_t id = 0;
    mhg_status st = mhg_store_key_create(store, role, label, key, &id);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard keys create: %s: %s\n", mhg_strerror(st), mhg_store_errmsg(store));
        return 2;
    }
    printf("%s\n", key);
    fflush(stdout);
    mhg_memzero(key, sizeof key);
    fprintf(stderr, "created %s key %" PRId64 "%s%s%s; it is shown only this once - store it "
                    "now\n",
            role_name, id, label ? " (" : "", label ? label : "", label ? ")" : "");
    audit_key_event(store, "key_create", id, role_name);
    return 0;
}

static void fmt_time(json_t *ms, char out[32]) {
    if (!json_is_integer(ms)) {
        snprintf(out, 32, "-");
        return;
    }
    time_t t = (time_t)(json_integer_value(ms) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int do_list(mhg_store *store, int json) {
    char *js = NULL;
    mhg_status st = mhg_store_key_list(store, &js);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard keys list: %s: %s\n", mhg_strerror(st), mhg_store_errmsg(store));
        return 2;
    }
    if (json) {
        puts(js);
        free(js);
        return 0;
    }
    json_t *a = json_loads(js, 0, NULL);
    free(js);
    printf("%-5s %-10s %-8s %-20s %-20s %s\n", "ID", "ROLE", "STATE", "CREATED", "PREFIX",
           "LABEL");
    size_t i;
    json_t *k;
    json_array_foreach(a, i, k) {
        char created[32];
        fmt_time(json_object_get(k, "created_ms"), created);
        const char *label = json_string_value(json_object_get(k, "label"));
        printf("%-5" JSON_INTEGER_FORMAT " %-10s %-8s %-20s %-20s %s\n",
               json_integer_value(json_object_get(k, "id")),
               json_string_value(json_object_get(k, "role")),
               json_is_null(json_object_get(k, "revoked_ms")) ? "active" : "revoked", created,
               json_string_value(json_object_get(k, "prefix")), label ? label : "");
    }
    json_decref(a);
    return 0;
}

static int do_revoke(mhg_store *store, const char *id_text) {
    char *end;
    long long id = id_text ? strtoll(id_text, &end, 10) : 0;
    if (!id_text || *end || id <= 0) {
        fprintf(stderr, "mhguard keys revoke: give the key id shown by `mhguard keys list`\n");
        return 2;
    }
    mhg_status st = mhg_store_key_revoke(store, id);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard keys revoke: %s: %s\n", mhg_strerror(st), mhg_store_errmsg(store));
        return 2;
    }
    fprintf(stderr, "revoked key %lld\n", id);
    audit_key_event(store, "key_revoke", id, "revoked");
    return 0;
}

int mhg_cmd_keys(int argc, char **argv) {
    static const char *const subs[] = {"create", "list", "revoke", NULL};
    static const cli_store_opt extra[] = {{"role", 'r'}, {"label", 'l'}};
    cli_store_args a;
    int rc = cli_store_parse("keys", argc, argv, subs, extra, 2, usage, &a);
    if (rc >= 0) return rc;
    const char *sub = a.sub, *role = a.extra[0], *label = a.extra[1];
    const char *arg = a.nargs > 0 ? a.args[0] : NULL;
    int want_args = !strcmp(sub, "revoke") ? 1 : 0;
    if (a.nargs != want_args) {
        fprintf(stderr, "mhguard keys %s: %s\n", sub,
                want_args ? "give exactly one key id" : "unexpected argument");
        return 2;
    }
    if (cli_store_check_source("keys", &a)) return 2;
    if (((role || label) && strcmp(sub, "create")) || (a.json && strcmp(sub, "list"))) {
        fprintf(stderr, "mhguard keys %s: option not valid for this subcommand\n", sub);
        return 2;
    }
    mhg_role parsed;
    if (!strcmp(sub, "create") && (!role || mhg_role_parse(role, &parsed) != MHG_OK)) {
        fprintf(stderr, "mhguard keys create: --role must be one of app, reviewer, admin, "
                        "auditor, clinician\n");
        return 2;
    }
    mhg_store *store;
    /* create: a first `keys create` before the first `serve` sets up the
     * data directory; list/revoke must not invent an empty one. */
    rc = cli_store_open("keys", a.data_dir, a.url,
                        !strcmp(sub, "create") ? CLI_STORE_CREATE : CLI_STORE_RW, &store);
    if (rc) return rc;
    if (!strcmp(sub, "create")) rc = do_create(store, role, label);
    else if (!strcmp(sub, "list")) rc = do_list(store, a.json);
    else rc = do_revoke(store, arg);
    mhg_store_close(store);
    return rc;
}
