/* Machine-limit loops for `beanbag bench`.
 *
 * Every loop runs on all threads of the caller's pool for a fixed wall time (PEAK_SECONDS):
 * each thread repeats a block of work until a shared deadline, so a thread that starts late
 * or is preempted does less work instead of stretching the measurement, and the rate is the
 * total work over the time until the last thread stopped.
 *
 * The int8 and FP32 blocks keep independent dependency chains in separately named register
 * variables (not an array, which GCC may keep in memory): enough chains to cover the
 * instructions' latency, so the rate is bound by the multiply units' throughput. Each chain
 * feeds its result back into its next instruction, so nothing can be hoisted out of the loop.
 * The AVX2 bodies carry their own target attribute (the program is built for baseline
 * x86-64) and are chosen at run time from bb_cpu_level(); other CPUs, or BB_CPU=scalar, get
 * plain C loops that measure what baseline code reaches. */
#include "cli/bench_peak.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/bigalloc.h"
#include "quant/quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#define AVX2 __attribute__((target("avx2,fma")))
#else
#define HAVE_X86 0
#endif

#define PEAK_SECONDS 0.25
#define PEAK_WINDOWS 5
#define BLOCK_ITERS 8192      /* one block is ~10-50 us: the clock is read rarely */
#define BW_BYTES (512u << 20) /* far larger than any last-level cache */
#define BW_CHUNK (1u << 20)
#define PAD 8 /* per-thread slots 64 bytes apart: no false sharing */

double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- compute blocks: each runs BLOCK_ITERS steps and returns a value that depends on all
 * chains, so none is dead code ---------------------------------------------------------- */

typedef uint64_t (*block_fn)(uint64_t seed);

#if HAVE_X86
/* 8 chains of vpmaddubsw (u8 x s8 -> s16 pairs) then vpmaddwd by ones (-> s32), the
 * quantized dot-product idiom. A step's latency is about 3 + 3 cycles and two multiply pipes
 * take the 16 instructions in 8, so 8 chains are throughput-bound (10 made GCC spill).
 * 64 ops per step and chain (32 byte pairs, a multiply and an add each). */
#define INT8_CHAINS 8
static AVX2 __attribute__((noinline)) uint64_t int8_block_avx2(uint64_t seed) {
    const __m256i b = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_set1_epi32((int)seed), a1 = _mm256_set1_epi32((int)seed + 1);
    __m256i a2 = _mm256_set1_epi32((int)seed + 2), a3 = _mm256_set1_epi32((int)seed + 3);
    __m256i a4 = _mm256_set1_epi32((int)seed + 4), a5 = _mm256_set1_epi32((int)seed + 5);
    __m256i a6 = _mm256_set1_epi32((int)seed + 6), a7 = _mm256_set1_epi32((int)seed + 7);
    for (int i = 0; i < BLOCK_ITERS; i++) {
        a0 = _mm256_madd_epi16(_mm256_maddubs_epi16(a0, b), ones);
        a1 = _mm256_madd_epi16(_mm256_maddubs_epi16(a1, b), ones);
        a2 = _mm256_madd_epi16(_mm256_maddubs_epi16(a2, b), ones);
        a3 = _mm256_madd_epi16(_mm256_maddubs_epi16(a3, b), ones);
        a4 = _mm256_madd_epi16(_mm256_maddubs_epi16(a4, b), ones);
        a5 = _mm256_madd_epi16(_mm256_maddubs_epi16(a5, b), ones);
        a6 = _mm256_madd_epi16(_mm256_maddubs_epi16(a6, b), ones);
        a7 = _mm256_madd_epi16(_mm256_maddubs_epi16(a7, b), ones);
        /* pins the chains to registers: without it GCC 12 stores two of them every step */
        __asm__(""
                : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7));
    }
    __m256i x = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a0, a1), a2),
                                 _mm256_xor_si256(_mm256_xor_si256(a3, a4), a5));
    x = _mm256_xor_si256(x, _mm256_xor_si256(a6, a7));
    return (uint64_t)_mm256_extract_epi64(x, 0) ^ (uint64_t)_mm256_extract_epi64(x, 3);
}

/* 12 chains of acc += a * b (vfmadd231ps): FMA latency 4-5 cycles at two per cycle needs at
 * least 10 in flight. a * b is tiny, so the sums stay normal and finite. 16 flops per step
 * and chain. */
#define FMA_CHAINS 12
static AVX2 __attribute__((noinline)) uint64_t fma_block_avx2(uint64_t seed) {
    const __m256 a = _mm256_set1_ps(1e-3f), b = _mm256_set1_ps(1e-4f + (float)(seed & 7) * 1e-6f);
    __m256 c0 = _mm256_set1_ps(0.0f), c1 = _mm256_set1_ps(1.0f), c2 = _mm256_set1_ps(2.0f);
    __m256 c3 = _mm256_set1_ps(3.0f), c4 = _mm256_set1_ps(4.0f), c5 = _mm256_set1_ps(5.0f);
    __m256 c6 = _mm256_set1_ps(6.0f), c7 = _mm256_set1_ps(7.0f), c8 = _mm256_set1_ps(8.0f);
    __m256 c9 = _mm256_set1_ps(9.0f), c10 = _mm256_set1_ps(10.0f), c11 = _mm256_set1_ps(11.0f);
    for (int i = 0; i < BLOCK_ITERS; i++) {
        c0 = _mm256_fmadd_ps(a, b, c0);
        c1 = _mm256_fmadd_ps(a, b, c1);
        c2 = _mm256_fmadd_ps(a, b, c2);
        c3 = _mm256_fmadd_ps(a, b, c3);
        c4 = _mm256_fmadd_ps(a, b, c4);
        c5 = _mm256_fmadd_ps(a, b, c5);
        c6 = _mm256_fmadd_ps(a, b, c6);
        c7 = _mm256_fmadd_ps(a, b, c7);
        c8 = _mm256_fmadd_ps(a, b, c8);
        c9 = _mm256_fmadd_ps(a, b, c9);
        c10 = _mm256_fmadd_ps(a, b, c10);
        c11 = _mm256_fmadd_ps(a, b, c11);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float f = _mm_cvtss_f32(_mm256_castps256_ps128(s));
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
#endif

/* Baseline fallbacks: 8 chains of a multiply and an add (2 ops each) in integers and in
 * floats. The compiler may pack them into SSE2; either way this is what plain code gets. */
#define SCALAR_CHAINS 8
static __attribute__((noinline)) uint64_t int8_block_scalar(uint64_t seed) {
    uint32_t s0 = (uint32_t)seed, s1 = s0 + 1, s2 = s0 + 2, s3 = s0 + 3;
    uint32_t s4 = s0 + 4, s5 = s0 + 5, s6 = s0 + 6, s7 = s0 + 7;
    for (int i = 0; i < BLOCK_ITERS; i++) {
        s0 = s0 * 2654435761u + 1;
        s1 = s1 * 2654435761u + 1;
        s2 = s2 * 2654435761u + 1;
        s3 = s3 * 2654435761u + 1;
        s4 = s4 * 2654435761u + 1;
        s5 = s5 * 2654435761u + 1;
        s6 = s6 * 2654435761u + 1;
        s7 = s7 * 2654435761u + 1;
    }
    return (uint64_t)(s0 ^ s1 ^ s2 ^ s3 ^ s4 ^ s5 ^ s6 ^ s7);
}

static __attribute__((noinline)) uint64_t fma_block_scalar(uint64_t seed) {
    const float m = 0.999f, c = 1e-3f + (float)(seed & 7) * 1e-6f;
    float f0 = 0, f1 = 1, f2 = 2, f3 = 3, f4 = 4, f5 = 5, f6 = 6, f7 = 7;
    for (int i = 0; i < BLOCK_ITERS; i++) {
        f0 = f0 * m + c;
        f1 = f1 * m + c;
        f2 = f2 * m + c;
        f3 = f3 * m + c;
        f4 = f4 * m + c;
        f5 = f5 * m + c;
        f6 = f6 * m + c;
        f7 = f7 * m + c;
    }
    float f = ((f0 + f1) + (f2 + f3)) + ((f4 + f5) + (f6 + f7));
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

const char *bench_peak_isa(void) {
    const char *level = bb_cpu_level();
    return HAVE_X86 && strcmp(level, "scalar") != 0 ? "avx2" : "scalar";
}

typedef struct compute_job {
    block_fn fn;
    double t_end;
    uint64_t *blocks; /* per task, PAD apart */
    double *finish;
    uint64_t *sink;
} compute_job;

static void compute_task(void *arg, int task, int thread) {
    compute_job *j = arg;
    uint64_t n = 0, s = (uint64_t)task;
    do {
        s += j->fn(s);
        n++;
    } while (bench_now_s() < j->t_end);
    j->blocks[task * PAD] = n;
    j->finish[task * PAD] = bench_now_s();
    j->sink[task * PAD] = s;
}

/* Operations per second (x 1e-9) of fn on every pool thread over one window. */
static double compute_window(bb_pool *pool, compute_job *j, double ops_per_block, double secs) {
    int nt = bb_pool_n_threads(pool);
    double t0 = bench_now_s();
    j->t_end = t0 + secs;
    bb_pool_run(pool, compute_task, j, nt);
    double total = 0, last = t0;
    for (int t = 0; t < nt; t++) {
        total += (double)j->blocks[t * PAD];
        if (j->finish[t * PAD] > last) last = j->finish[t * PAD];
    }
    return last > t0 ? total * ops_per_block / (last - t0) / 1e9 : 0;
}

/* The best of PEAK_WINDOWS windows sharing PEAK_SECONDS: like the best bandwidth pass, a
 * window can only be slowed down (by other processes on the cores), never sped up. 0 on
 * allocation failure. */
static double measure_compute(bb_pool *pool, block_fn fn, double ops_per_block) {
    int nt = bb_pool_n_threads(pool);
    compute_job j = {fn, 0, calloc((size_t)nt * PAD, sizeof(uint64_t)),
                     calloc((size_t)nt * PAD, sizeof(double)),
                     calloc((size_t)nt * PAD, sizeof(uint64_t))};
    double best = 0;
    if (j.blocks && j.finish && j.sink) {
        fn(1); /* page in the code, wake the core up */
        for (int w = 0; w < PEAK_WINDOWS; w++) {
            double rate = compute_window(pool, &j, ops_per_block, PEAK_SECONDS / PEAK_WINDOWS);
            if (rate > best) best = rate;
        }
    }
    free(j.blocks);
    free(j.finish);
    free(j.sink);
    return best;
}

/* ---- memory read bandwidth ------------------------------------------------------------ */

typedef struct bw_job {
    uint64_t *buf;
    uint64_t *sums; /* per thread, PAD apart */
} bw_job;

static void bw_fill_task(void *arg, int task, int thread) {
    bw_job *j = arg;
    uint64_t *p = j->buf + (size_t)task * (BW_CHUNK / 8);
    for (size_t i = 0; i < BW_CHUNK / 8; i++)
        p[i] = (uint64_t)task * BW_CHUNK + i;
}

static void bw_sum_task(void *arg, int task, int thread) {
    bw_job *j = arg;
    const uint64_t *p = j->buf + (size_t)task * (BW_CHUNK / 8);
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < BW_CHUNK / 8; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    j->sums[thread * PAD] += s0 + s1 + s2 + s3;
}

/* Best of the passes that fit in PEAK_SECONDS (at least 3) summing 512 MiB with all pool
 * threads: the best, because a pass can only be slowed down by other work, never sped up. */
static double measure_read_gbs(bb_pool *pool) {
    uint64_t *buf = bb_big_alloc(BW_BYTES); /* the memory kind weights are streamed from */
    uint64_t *sums = calloc((size_t)bb_pool_n_threads(pool) * PAD, sizeof *sums);
    double best = 0;
    if (buf && sums) {
        bw_job j = {buf, sums};
        bb_pool_run(pool, bw_fill_task, &j, BW_BYTES / BW_CHUNK); /* first touch, in parallel */
        double start = bench_now_s();
        for (int pass = 0; pass < 3 || bench_now_s() - start < PEAK_SECONDS; pass++) {
            double t0 = bench_now_s();
            bb_pool_run(pool, bw_sum_task, &j, BW_BYTES / BW_CHUNK);
            double gbs = BW_BYTES / (bench_now_s() - t0) / 1e9;
            if (gbs > best) best = gbs;
        }
        /* keep the sums observable so the loads are not dropped */
        __asm__ volatile("" : : "r"(sums[0]) : "memory");
    }
    bb_big_free(buf, BW_BYTES);
    free(sums);
    return best;
}

bool bench_measure_peaks(bb_pool *pool, bench_peaks *out) {
    bool avx2 = !strcmp(bench_peak_isa(), "avx2");
    (void)avx2; /* unused where there are no AVX2 loops */
    block_fn int8 = int8_block_scalar, fma = fma_block_scalar;
    double int8_ops = (double)BLOCK_ITERS * SCALAR_CHAINS * 2;
    double fma_ops = (double)BLOCK_ITERS * SCALAR_CHAINS * 2;
#if HAVE_X86
    if (avx2) {
        int8 = int8_block_avx2;
        fma = fma_block_avx2;
        int8_ops = (double)BLOCK_ITERS * INT8_CHAINS * 64;
        fma_ops = (double)BLOCK_ITERS * FMA_CHAINS * 16;
    }
#endif
    out->int8_gops = measure_compute(pool, int8, int8_ops);
    out->fp32_gflops = measure_compute(pool, fma, fma_ops);
    out->mem_read_gbs = measure_read_gbs(pool);
    return out->mem_read_gbs > 0;
}
