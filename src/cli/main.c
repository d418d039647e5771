/*
 * main.c - `mhguard <command>`: dispatch to the subcommands in cmd_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "mhguard.h"
#include "cli/commands.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"screen", mhg_cmd_screen, "screen a message, or JSON lines with --jsonl"},
    {"serve", mhg_cmd_serve, "run the gateway (OpenAI-compatible proxy and screening API)"},
    {"train", mhg_cmd_train, "train the learned risk model from labeled JSON lines"},
    {"eval", mhg_cmd_eval, "evaluate the engine on labeled JSON lines"},
    {"calibrate", mhg_cmd_calibrate, "fit the engine's score calibration on dev rows"},
    {"lexicon", mhg_cmd_lexicon, "check or compile the lexicons"},
    {"audit", mhg_cmd_audit, "verify or export the audit log"},
    {"keys", mhg_cmd_keys, "create, list or revoke API keys"},
};

static void usage(FILE *f) {
    fprintf(f,
            "mhguard %s - mental-health safety screening for AI chat\n\n"
            "usage: mhguard <command> [options]   (mhguard <command> --help for details)\n\n"
            "commands:\n",
            mhg_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nenvironment:\n"
               "  MHG_DATA_DIR   directory with lexicons/, models/, resources/ "
               "(default: built-in)\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("mhguard %s\n", mhg_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mhguard: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
