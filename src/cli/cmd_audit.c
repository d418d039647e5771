/* cmd_audit.c - placeholder until `mhguard audit` is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int mhg_cmd_audit(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "mhguard audit: not implemented yet\n");
    return 2;
}
