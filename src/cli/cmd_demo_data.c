#include <stdio.h>

#include "cli/commands.h"

int cmd_demo_data(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "beanbag %s: not built yet\n", argv[0]);
    return 1;
}
