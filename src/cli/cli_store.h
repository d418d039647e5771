/*
 * cli_store.h - what `mhguard audit` and `mhguard keys` share: the
 * `<subcommand> [options]` front end with --data-dir/--store/--json, and
 * opening the gateway store those options name. One copy, so the two
 * commands cannot drift apart in how they find and open the store.
 */
#ifndef MHG_CLI_STORE_H
#define MHG_CLI_STORE_H

#include <stdio.h>

#include "mhguard/store.h"

/* Most command-specific string options a command may add (--anchor, --out,
 * --role, --label). */
#define CLI_STORE_EXTRA_MAX 4

typedef struct {
    const char *sub;      /* argv[1], one of the command's subcommands */
    const char *data_dir; /* --data-dir, or NULL */
    const char *url;      /* --store, or NULL */
    int json;             /* --json given */
    const char *extra[CLI_STORE_EXTRA_MAX]; /* the command's own options, in table order */
    int nargs;            /* positional arguments after the options */
    char **args;          /* ...and where they start */
} cli_store_args;

/* A command's own string option: long name and its short code for getopt. */
typedef struct {
    const char *name;
    int code;
} cli_store_opt;

/* Parses `mhguard <cmd> <sub> [options] [args]`. subs is NULL-terminated;
 * extra holds n_extra command-specific options taking a value.
 * Returns -1 to go on, or the exit status to return now (0 after help,
 * 2 for a usage error, which has been reported on stderr). */
int cli_store_parse(const char *cmd, int argc, char **argv, const char *const *subs,
                    const cli_store_opt *extra, int n_extra, void (*usage)(FILE *),
                    cli_store_args *out);

/* --data-dir and --store name the store two ways: at most one may be given.
 * Returns 0, or 2 after reporting the conflict. */
int cli_store_check_source(const char *cmd, const cli_store_args *a);

typedef enum {
    /* data directory created if missing (a first `keys create` before `serve`) */
    CLI_STORE_CREATE,
    /* existing data directory only, read-write (list/revoke must not invent one) */
    CLI_STORE_RW,
    /* existing data directory only, read-only: auditing must not change it */
    CLI_STORE_RO
} cli_store_mode;

/* Opens the store named by --store URL (as given) or the data directory
 * (--data-dir, else mhg_store_default_data_dir()) in the given mode.
 * Returns 0 with *out set, or 2 after reporting why on stderr. */
int cli_store_open(const char *cmd, const char *data_dir, const char *url, cli_store_mode mode,
                   mhg_store **out);

#endif
