/* beanbag quantize in.gguf out.gguf Q4_K_M [--threads N] */
#include <stdio.h>
#include <string.h>

#include "beanbag.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "model/quantize.h"
#include "ops/threadpool.h"

int cmd_quantize(int argc, char **argv) {
    const char *pos[3] = {0};
    int n_pos = 0;
    long long threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: beanbag quantize in.gguf out.gguf TYPE [--threads N]\n"
                   "TYPE: Q8_0, Q4_0, Q4_K_M (Q4_K + Q6_K mix), Q6_K, F16, BF16\n");
            return 0;
        }
        if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) {
            const char *v = cli_value("quantize", argc, argv, &i);
            if (!v || !cli_int("quantize", "--threads", v, 1, 1024, &threads)) return 2;
        } else if (n_pos < 3) {
            pos[n_pos++] = argv[i];
        } else {
            fprintf(stderr, "beanbag quantize: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (n_pos != 3) {
        fprintf(stderr, "usage: beanbag quantize in.gguf out.gguf TYPE\n");
        return 2;
    }
    if (!strcmp(pos[0], pos[1])) {
        fprintf(stderr, "beanbag quantize: input and output are the same file\n");
        return 2;
    }
    bb_error err = {0};
    if (bb_quantize_file(pos[0], pos[1], pos[2], threads > 0 ? (int)threads : bb_cpu_count(), true,
                         &err) != BB_OK) {
        fprintf(stderr, "beanbag quantize: %s\n", err.message);
        return 1;
    }
    fprintf(stderr, "beanbag quantize: wrote %s\n", pos[1]);
    return 0;
}
