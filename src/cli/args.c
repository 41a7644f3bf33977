#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        fprintf(stderr, "beanbag %s: %s needs a value\n", cmd, argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

bool cli_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi,
             long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) {
        fprintf(stderr, "beanbag %s: %s expects an integer, got '%s'\n", cmd, flag, s);
        return false;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "beanbag %s: %s %lld is out of range [%lld, %lld]\n", cmd, flag, v, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_float(const char *cmd, const char *flag, const char *s, double lo, double hi,
               double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) {
        fprintf(stderr, "beanbag %s: %s expects a number, got '%s'\n", cmd, flag, s);
        return false;
    }
    if (v < lo || v > hi) {
        fprintf(stderr, "beanbag %s: %s %g is out of range [%g, %g]\n", cmd, flag, v, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool cli_int_list(const char *cmd, const char *flag, const char *s, int32_t lo, int32_t hi,
                  int32_t **out, int *n) {
    int cap = 16, count = 0;
    int32_t *v = malloc((size_t)cap * sizeof *v);
    const char *p = s;
    while (v) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (errno || end == p || (*end && *end != ',') || x < lo || x > hi) {
            fprintf(stderr,
                    "beanbag %s: %s: bad entry at '%s' (integers in [%d, %d], "
                    "comma-separated)\n",
                    cmd, flag, p, lo, hi);
            free(v);
            return false;
        }
        if (count == cap) {
            int32_t *nv = cap < (1 << 24) ? realloc(v, (size_t)(cap *= 2) * sizeof *v) : NULL;
            if (!nv) break;
            v = nv;
        }
        v[count++] = (int32_t)x;
        if (!*end) {
            *out = v;
            *n = count;
            return true;
        }
        p = end + 1;
    }
    free(v);
    fprintf(stderr, "beanbag %s: %s: list too long\n", cmd, flag);
    return false;
}
