/* Fuzz targets: each fuzz_<name>.c defines libFuzzer's entry points
 * (https://llvm.org/docs/LibFuzzer.html). Built with BB_FUZZ (clang) they are libFuzzer
 * programs; otherwise replay.c gives them a main() that runs files and folders of inputs, so
 * any compiler (and ctest) can replay the corpora in fuzz/corpus/. */
#ifndef BB_FUZZ_H
#define BB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A file of the conformance data (BB_TESTDATA, else the folder configured at build time)
 * read whole and NUL-terminated (free with free()), or NULL when absent. */
char *fuzz_read_testdata(const char *rel, size_t *size);

/* A property every input must keep; a failure is a finding (abort, so libFuzzer saves it). */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
