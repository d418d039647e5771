/* cmd_keys.c - placeholder until `mhguard keys` is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int mhg_cmd_keys(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "mhguard keys: not implemented yet\n");
    return 2;
}
