#include <stdio.h>

#include "cli/commands.h"

int cmd_tokenize(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "beanbag %s: not built yet\n", argv[0]);
    return 1;
}
