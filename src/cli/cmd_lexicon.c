/* cmd_lexicon.c - placeholder until `mhguard lexicon` is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int mhg_cmd_lexicon(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "mhguard lexicon: not implemented yet\n");
    return 2;
}
