/* `beanbag demo-data`: writes the demo task's training corpus. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "train/demo_data.h"

static void usage(FILE *f) {
    fprintf(f, "usage: beanbag demo-data --out FILE [--n 200000] [--seed 1]\n"
               "Writes N ChatML dialogues of the demo task (arithmetic, unit conversions,\n"
               "comparisons; English and Chinese), separated by <|endoftext|>.\n");
}

static bool parse_i64(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

int cmd_demo_data(int argc, char **argv) {
    const char *out = NULL;
    long long n = 200000, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "beanbag demo-data: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--out") || !strcmp(a, "-o")) {
            out = v;
        } else if (!strcmp(a, "--n")) {
            if (!parse_i64(v, 1, 100000000, &n)) {
                fprintf(stderr, "beanbag demo-data: --n wants 1..100000000, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--seed")) {
            if (!parse_i64(v, 0, INT64_MAX, &seed)) {
                fprintf(stderr, "beanbag demo-data: --seed wants a non-negative integer\n");
                return 2;
            }
        } else {
            fprintf(stderr, "beanbag demo-data: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!out) {
        usage(stderr);
        return 2;
    }
    FILE *f = strcmp(out, "-") ? fopen(out, "wb") : stdout;
    if (!f) {
        fprintf(stderr, "beanbag demo-data: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    bb_error err = {0};
    bb_status s = tr_demo_write_corpus(f, n, (uint64_t)seed, &err);
    if (f != stdout && fclose(f) != 0 && s == BB_OK) {
        fprintf(stderr, "beanbag demo-data: error writing %s\n", out);
        return 1;
    }
    if (s != BB_OK) {
        fprintf(stderr, "beanbag demo-data: %s\n", err.message);
        return 1;
    }
    return 0;
}
