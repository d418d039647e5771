/* cmd_screen.c - placeholder until `mhguard screen` is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int mhg_cmd_screen(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "mhguard screen: not implemented yet\n");
    return 2;
}
