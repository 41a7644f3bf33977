/*
 * Large buffers that kernels stream through: repacked weights and the KV cache.
 *
 * Why not malloc: glibc serves large requests with 4 KiB-page mappings, and on a kernel whose
 * transparent huge pages are in "madvise" mode (Debian's default) they stay 4 KiB pages.
 * Streaming gigabytes through them then takes a TLB miss every 4 KiB and, worse, the CPU's
 * stream prefetchers stop at every 4 KiB boundary; measured on the project's Zen 3 machine,
 * one thread read repacked Q8_0 weights at 2-4 GB/s from 4 KiB pages and ~20 GB/s from
 * 2 MiB pages. So these buffers are anonymous mappings aligned to 2 MiB and advised
 * MADV_HUGEPAGE (where the system has it; elsewhere the advice is skipped and the buffer
 * still works). BB_HUGEPAGES=0 in the environment turns the advice off, to measure it.
 */
#ifndef BB_COMMON_BIGALLOC_H
#define BB_COMMON_BIGALLOC_H

#include <stddef.h>

/* A zeroed buffer of `bytes` (> 0), 2 MiB-aligned; NULL when out of memory. */
void *bb_big_alloc(size_t bytes);
/* Frees a bb_big_alloc buffer; `bytes` is the size it was allocated with. NULL is a no-op. */
void bb_big_free(void *p, size_t bytes);

#endif
