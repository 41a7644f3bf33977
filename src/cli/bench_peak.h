/* Machine limits for `beanbag bench`: memory read bandwidth, int8 multiply-add and FP32 FMA
 * throughput, each measured with every thread of a pool, so a model's speed at that thread
 * count can be stated as a fraction of what the machine can do at all. */
#ifndef BB_CLI_BENCH_PEAK_H
#define BB_CLI_BENCH_PEAK_H

#include "ops/threadpool.h"

typedef struct bench_peaks {
    double mem_read_gbs; /* best pass summing a buffer far larger than the last-level cache */
    double int8_gops;    /* vpmaddubsw multiply-adds, 2 ops each */
    double fp32_gflops;  /* vfmadd231ps, 2 flops per lane */
} bench_peaks;

/* "avx2" when the loops run AVX2/FMA code, "scalar" otherwise (no AVX2, or BB_CPU=scalar). */
const char *bench_peak_isa(void);
/* Runs the three loops (about 0.25 s each) on all threads of the pool. Returns false when the
 * bandwidth buffer cannot be allocated (the other two are still filled in). */
bool bench_measure_peaks(bb_pool *pool, bench_peaks *out);
double bench_now_s(void);

struct bb_model;
/* FLOPs per token of a model's matrix products (2 per weight), and per key attended (QK and AV
 * over all heads and layers); cmd_bench.c. */
double bench_matmul_flops(const struct bb_model *m);
double bench_attn_flops_per_key(const struct bb_model *m);

#endif
