/* cmd_eval.c - placeholder until `mhguard eval` is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int mhg_cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "mhguard eval: not implemented yet\n");
    return 2;
}
