/* Allocation-failure injection for test builds (CMake -DBB_ALLOC_FAIL=ON), after SQLite's
 * malloc fault injection (https://www.sqlite.org/testing.html#oom): the build force-includes
 * this header into every source, so that each malloc/calloc/realloc/strdup/posix_memalign
 * of beanbag's own code goes through a counter that can make the N-th one fail, and each
 * free is counted too, so that a test can tell that a failed operation released everything.
 * Libraries beanbag calls (cJSON through cJSON_InitHooks aside) allocate on their own.
 * In other builds this header declares nothing. */
#ifndef BB_COMMON_ALLOC_FAIL_H
#define BB_COMMON_ALLOC_FAIL_H

#ifdef BB_ALLOC_FAIL
/* Included before anything else, so the system headers are read here first: with the GNU
 * extensions some sources ask for (memmem, POLLRDHUP), as they would have been. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *bb_af_malloc(size_t n);
void *bb_af_calloc(size_t n, size_t size);
void *bb_af_realloc(void *p, size_t n);
void bb_af_free(void *p);
char *bb_af_strdup(const char *s);
char *bb_af_strndup(const char *s, size_t n);
int bb_af_posix_memalign(void **p, size_t align, size_t n);
void *bb_af_aligned_alloc(size_t align, size_t n);

/* Makes the n-th allocation from now fail (n >= 1), once; 0: none fails. Resets the count. */
void bb_alloc_fail_at(int64_t n);
/* Allocations attempted since the last bb_alloc_fail_at (the failed one included). */
int64_t bb_alloc_count(void);
/* Whether the planned failure has happened. */
int bb_alloc_failed(void);
/* Blocks allocated through the counter and not freed yet. */
int64_t bb_alloc_live(void);

#define malloc(n) bb_af_malloc(n)
#define calloc(n, s) bb_af_calloc(n, s)
#define realloc(p, n) bb_af_realloc(p, n)
#define free(p) bb_af_free(p)
#define strdup(s) bb_af_strdup(s)
#define strndup(s, n) bb_af_strndup(s, n)
#define posix_memalign(p, a, n) bb_af_posix_memalign(p, a, n)
#define aligned_alloc(a, n) bb_af_aligned_alloc(a, n)
#endif

#endif
