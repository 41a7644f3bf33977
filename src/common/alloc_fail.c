/* The counter behind allocation-failure injection (see alloc_fail.h); empty in other
 * builds. Counts are atomic: the thread pool and the server allocate from several threads. */
#include "common/alloc_fail.h"

#ifdef BB_ALLOC_FAIL
#include <stdatomic.h>

/* the real allocator from here on (the build force-included the header's macros) */
#undef malloc
#undef calloc
#undef realloc
#undef free
#undef strdup
#undef strndup
#undef posix_memalign
#undef aligned_alloc

static atomic_int_fast64_t fail_at;  /* 0: none */
static atomic_int_fast64_t attempts; /* since bb_alloc_fail_at */
static atomic_int failed;
static atomic_int_fast64_t live;

void bb_alloc_fail_at(int64_t n) {
    atomic_store(&attempts, 0);
    atomic_store(&failed, 0);
    atomic_store(&fail_at, n);
}

int64_t bb_alloc_count(void) {
    return atomic_load(&attempts);
}

int bb_alloc_failed(void) {
    return atomic_load(&failed);
}

int64_t bb_alloc_live(void) {
    return atomic_load(&live);
}

/* Whether this allocation is the one to fail. */
static int should_fail(void) {
    int64_t n = atomic_fetch_add(&attempts, 1) + 1;
    if (n != atomic_load(&fail_at)) return 0;
    atomic_store(&failed, 1);
    return 1;
}

static void *counted(void *p) {
    if (p) atomic_fetch_add(&live, 1);
    return p;
}

void *bb_af_malloc(size_t n) {
    return should_fail() ? NULL : counted(malloc(n));
}

void *bb_af_calloc(size_t n, size_t size) {
    return should_fail() ? NULL : counted(calloc(n, size));
}

void *bb_af_realloc(void *p, size_t n) {
    if (!p) return bb_af_malloc(n);
    if (should_fail()) return NULL;
    return realloc(p, n); /* on failure p stays allocated: the count is right either way */
}

void bb_af_free(void *p) {
    if (p) atomic_fetch_sub(&live, 1);
    free(p);
}

char *bb_af_strdup(const char *s) {
    return should_fail() ? NULL : counted(strdup(s));
}

char *bb_af_strndup(const char *s, size_t n) {
    return should_fail() ? NULL : counted(strndup(s, n));
}

int bb_af_posix_memalign(void **p, size_t align, size_t n) {
    if (should_fail()) return 12; /* ENOMEM */
    int rc = posix_memalign(p, align, n);
    if (rc == 0) counted(*p);
    return rc;
}

void *bb_af_aligned_alloc(size_t align, size_t n) {
    return should_fail() ? NULL : counted(aligned_alloc(align, n));
}
#endif
