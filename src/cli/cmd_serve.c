/* cmd_serve.c - placeholder until `mhguard serve` is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int mhg_cmd_serve(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "mhguard serve: not implemented yet\n");
    return 2;
}
