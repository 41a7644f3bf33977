#include "common/bigalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/mman.h>
#define BIG_MMAP 1
#endif

#define HUGE_PAGE ((size_t)2 << 20)

static int want_huge(void) {
    const char *e = getenv("BB_HUGEPAGES");
    return !(e && strcmp(e, "0") == 0);
}

/* Rounds up to a whole number of huge pages; 0 on overflow. */
static size_t round_huge(size_t bytes) {
    if (bytes > SIZE_MAX - HUGE_PAGE) return 0;
    return (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

#ifdef BIG_MMAP
void *bb_big_alloc(size_t bytes) {
    size_t len = round_huge(bytes);
    if (bytes == 0 || len == 0 || len > SIZE_MAX - HUGE_PAGE) return NULL;
    /* map one huge page more than needed and trim both ends to a 2 MiB-aligned window: the
     * kernel backs only aligned 2 MiB ranges with huge pages */
    size_t span = len + HUGE_PAGE;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    uintptr_t start = ((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    char *p = (char *)start;
    size_t head = (size_t)(p - raw), tail = span - head - len;
    if (head) munmap(raw, head);
    if (tail) munmap(p + len, tail);
#ifdef MADV_HUGEPAGE
    if (want_huge()) madvise(p, len, MADV_HUGEPAGE); /* advice only: failure changes nothing */
#endif
    return p;
}

void bb_big_free(void *p, size_t bytes) {
    if (p) munmap(p, round_huge(bytes));
}
#else
void *bb_big_alloc(size_t bytes) {
    size_t len = round_huge(bytes);
    if (bytes == 0 || len == 0) return NULL;
    void *p = aligned_alloc(HUGE_PAGE, len);
    if (p) memset(p, 0, len);
    (void)want_huge;
    return p;
}

void bb_big_free(void *p, size_t bytes) {
    (void)bytes;
    free(p);
}
#endif
