/*
 * cli_store.c - shared front end of the store-backed subcommands
 * (`mhguard audit`, `mhguard keys`); see cli_store.h.
 */
#include "cli/cli_store.h"

#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

int cli_store_parse(const char *cmd, int argc, char **argv, const char *const *subs,
                    const cli_store_opt *extra, int n_extra, void (*usage)(FILE *),
                    cli_store_args *out) {
    memset(out, 0, sizeof *out);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        usage(stdout);
        return 0;
    }
    const char *const *s = subs;
    while (*s && strcmp(sub, *s)) s++;
    if (!*s) {
        fprintf(stderr, "mhguard %s: unknown subcommand '%s'\n\n", cmd, sub);
        usage(stderr);
        return 2;
    }
    out->sub = sub;
    if (n_extra < 0 || n_extra > CLI_STORE_EXTRA_MAX) return 2; /* programming error */
    /* data-dir, store, the command's own, json, help, terminator */
    struct option opts[2 + CLI_STORE_EXTRA_MAX + 3];
    int n = 0;
    opts[n++] = (struct option){"data-dir", required_argument, NULL, 'd'};
    opts[n++] = (struct option){"store", required_argument, NULL, 's'};
    for (int i = 0; i < n_extra; i++)
        opts[n++] = (struct option){extra[i].name, required_argument, NULL, extra[i].code};
    opts[n++] = (struct option){"json", no_argument, NULL, 'j'};
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){NULL, 0, NULL, 0};
    optind = 1;
    opterr = 1;
    for (;;) {
        int c = getopt_long(argc - 1, argv + 1, "h", opts, NULL);
        if (c == -1) break;
        switch (c) {
        case 'd': out->data_dir = optarg; continue;
        case 's': out->url = optarg; continue;
        case 'j': out->json = 1; continue;
        case 'h': usage(stdout); return 0;
        default: break;
        }
        int i = 0;
        while (i < n_extra && extra[i].code != c) i++;
        if (i == n_extra) {
            usage(stderr);
            return 2;
        }
        out->extra[i] = optarg;
    }
    out->nargs = argc - 1 - optind;
    out->args = argv + optind + 1;
    return -1;
}

int cli_store_check_source(const char *cmd, const cli_store_args *a) {
    if (a->data_dir && a->url) {
        fprintf(stderr, "mhguard %s: give --data-dir or --store, not both\n", cmd);
        return 2;
    }
    return 0;
}

int cli_store_open(const char *cmd, const char *data_dir, const char *url, cli_store_mode mode,
                   mhg_store **out) {
    char buf[MHG_STORE_URL_MAX], err[512];
    *out = NULL;
    if (url) {
        snprintf(buf, sizeof buf, "%s", url);
    } else {
        const char *dir = data_dir ? data_dir : mhg_store_default_data_dir();
        if (mode == CLI_STORE_RO) {
            /* Check first: a read-only open of a missing directory would only
             * say the database cannot be opened; name the directory instead. */
            struct stat sb;
            if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                fprintf(stderr, "mhguard %s: no data directory '%s' (use --data-dir or "
                                "MHG_DATA_HOME)\n", cmd, dir);
                return 2;
            }
            snprintf(buf, sizeof buf, "sqlite:%s/mhguard.db?mode=ro", dir);
        } else {
            /* The directory form: the store creates it only in the default
             * rwc mode, so CLI_STORE_RW cannot invent an empty one. */
            snprintf(buf, sizeof buf, "%s%s", dir, mode == CLI_STORE_CREATE ? "" : "?mode=rw");
        }
    }
    mhg_status st = mhg_store_open(buf, out, err, sizeof err);
    if (st != MHG_OK) {
        fprintf(stderr, "mhguard %s: cannot open the store: %s\n", cmd, err);
        return 2;
    }
    return 0;
}
