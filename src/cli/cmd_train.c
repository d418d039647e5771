/* cmd_train.c - placeholder until `mhguard train` is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int mhg_cmd_train(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "mhguard train: not implemented yet\n");
    return 2;
}
