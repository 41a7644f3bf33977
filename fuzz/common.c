/* Helpers shared by the fuzz targets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#ifndef BB_TESTDATA_DEFAULT
#define BB_TESTDATA_DEFAULT "../shared/testdata"
#endif

char *fuzz_read_testdata(const char *rel, size_t *size) {
    const char *dir = getenv("BB_TESTDATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : BB_TESTDATA_DEFAULT, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (size) *size = (size_t)n;
    }
    return buf;
}
