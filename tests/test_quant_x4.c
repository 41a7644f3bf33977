/*
 * Four-row dot products (bb_type_traits.vec_dot_x4): for every type and SIMD level that has
 * one, each of the four outputs must be bit-identical (memcmp) to the same level's vec_dot
 * on that activation row, since the server promises batch invariance: a token's logits do
 * not depend on whether matmul computed it in a group of four or alone.
 *
 * Rows: random weights with realistic and extreme block scales (zero, subnormal, the largest
 * fp16, negative), codes at their extremes (all-zero and all-ones bytes), activations
 * quantized by the level's own quantizer from random, constant-magnitude (codes +-127),
 * spiky, all-zero and tiny inputs; several lengths, so that every kernel's main loop, tail
 * and masked tail run; activation rows at a packed and at a padded stride. Also: both
 * AVX-512 K-quant builds (plain and VNNI) against their single twins, and that no level
 * pairs its own vec_dot with a lower level's vec_dot_x4.
 *
 * BB_QUANT_BENCH=1 adds a micro-benchmark: GMAC/s of four single vec_dots per weight row
 * against one vec_dot_x4, rows of 2048, a 64-row weight matrix (in cache), one thread, best
 * of interleaved trials in thread CPU time.
 */
#include "quant/blocks_k.h"
#include "quant/blocks_legacy.h"
#include "quant/quant.h"
#include "quant/quant_x4.h"
#include "testutil.h"

#include <math.h>
#include <stddef.h>
#include <time.h>

static const int x4_types[] = {BB_TYPE_F16,  BB_TYPE_Q4_0, BB_TYPE_Q4_1, BB_TYPE_Q5_0,
                               BB_TYPE_Q5_1, BB_TYPE_Q8_0, BB_TYPE_Q2_K, BB_TYPE_Q3_K,
                               BB_TYPE_Q4_K, BB_TYPE_Q5_K, BB_TYPE_Q6_K};
#define N_X4_TYPES ((int)(sizeof x4_types / sizeof x4_types[0]))
static const char *const levels[] = {"scalar", "avx2", "avx512"};
#define N_LEVELS 3
#define N_VARIANTS 6

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---------------------------------------------------------------------- fixtures */

/* fp16 block scales: ordinary magnitudes, and in the edge variant also 0, the smallest
 * subnormal, the largest finite half and negative values. */
static uint16_t rand_scale(uint64_t *st, bool edge) {
    static const uint16_t extremes[] = {0x0000, 0x0001, 0x03ff, 0x7bff, 0xfbff, 0x8000};
    if (edge && tu_rand_u64(st) % 4 == 0) return extremes[tu_rand_u64(st) % 6];
    const float v = ldexpf(1.0f + 0.5f * tu_rand_uniform(st), -(int)(tu_rand_u64(st) % 12));
    return bb_fp32_to_fp16(tu_rand_u64(st) % 8 == 0 ? -v : v);
}

static void put_half(uint8_t *p, uint16_t h) {
    memcpy(p, &h, 2);
}

/* Byte offsets of a block's fp16 scale(s) (-1: none). */
static void scale_offsets(int type, int *d, int *m) {
    *d = 0, *m = -1;
    switch (type) {
    case BB_TYPE_Q4_1:
    case BB_TYPE_Q5_1:
        *m = 2;
        break;
    case BB_TYPE_Q2_K:
        *d = offsetof(bb_block_q2_K, d), *m = offsetof(bb_block_q2_K, dmin);
        break;
    case BB_TYPE_Q3_K:
        *d = offsetof(bb_block_q3_K, d);
        break;
    case BB_TYPE_Q4_K:
        *m = offsetof(bb_block_q4_K, dmin);
        break;
    case BB_TYPE_Q5_K:
        *m = offsetof(bb_block_q5_K, dmin);
        break;
    case BB_TYPE_Q6_K:
        *d = offsetof(bb_block_q6_K, d);
        break;
    default:
        break;
    }
}

/* A weight row: every byte random (all codes and sub-block scales are valid), then the
 * fp16 scales set; in the edge variants some blocks are all-zero or all-ones bytes. */
static void fill_weights(int type, uint8_t *row, int64_t n, uint64_t *st, bool edge) {
    if (type == BB_TYPE_F16) {
        uint16_t *h = (uint16_t *)row;
        for (int64_t i = 0; i < n; i++) {
            float v = tu_rand_uniform(st);
            if (edge && i % 7 == 3) v = (i % 2 ? 6.0e-8f : -60000.0f) * v; /* subnormal, huge */
            h[i] = bb_fp32_to_fp16(v);
        }
        return;
    }
    const bb_type_traits *t = bb_type_get_ref(type);
    const int64_t nb = n / t->block_size;
    int d_off, m_off;
    scale_offsets(type, &d_off, &m_off);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *blk = row + b * t->type_size;
        const uint64_t pick = tu_rand_u64(st) % 8;
        for (size_t k = 0; k < t->type_size; k++)
            blk[k] = edge && pick == 0 ? 0x00 : edge && pick == 1 ? 0xFF : (uint8_t)tu_rand_u64(st);
        put_half(blk + d_off, rand_scale(st, edge));
        if (m_off >= 0) put_half(blk + m_off, rand_scale(st, edge));
    }
}

/* Activation floats, per variant: 0 random, 1 random with per-block magnitude changes,
 * 2 +-1 (codes +-127), 3 one spike per 32, 4 zero blocks among random ones, 5 tiny. */
static void fill_act_floats(float *x, int64_t n, uint64_t *st, int variant) {
    for (int64_t i = 0; i < n; i++) {
        const float u = tu_rand_uniform(st);
        switch (variant) {
        case 1:
            x[i] = u * ldexpf(1.0f, (int)((i / 32) % 9) - 4);
            break;
        case 2:
            x[i] = u < 0 ? -1.0f : 1.0f;
            break;
        case 3:
            x[i] = i % 32 == (i / 32) % 32 ? 8.0f * u : 0.01f * u;
            break;
        case 4:
            x[i] = (i / 32) % 3 == 1 ? 0.0f : u;
            break;
        case 5:
            x[i] = 1e-6f * u;
            break;
        default:
            x[i] = u;
        }
    }
}

/* ------------------------------------------------------------------------- checks */

static int64_t lengths(int type, int64_t out[8]) {
    static const int64_t f16[] = {1, 7, 8, 33, 64, 100, 1000, 2056};
    static const int64_t legacy[] = {32, 96, 256, 288, 480, 2048, 4128};
    static const int64_t kq[] = {256, 512, 2304, 4096};
    const int64_t *src = type == BB_TYPE_F16                       ? f16
                         : bb_type_get_ref(type)->block_size == 32 ? legacy
                                                                   : kq;
    const int64_t count = type == BB_TYPE_F16 ? 8 : src == legacy ? 7 : 4;
    memcpy(out, src, (size_t)count * sizeof *out);
    return count;
}

/* Checks dot4 against dot on every length and variant; returns the number of mismatches. */
static int check_kernel(const char *level, int type, bb_vec_dot_fn dot, bb_vec_dot_x4_fn dot4,
                        const char *what) {
    const bb_type_traits *t = bb_type_get_level(type, level);
    const bb_type_traits *vt = bb_type_get_level(t->vec_dot_type, level);
    uint64_t st = 0x9E3779B97F4A7C15ull ^ (uint64_t)type;
    int64_t lens[8];
    const int64_t nl = lengths(type, lens);
    int bad = 0;
    for (int64_t l = 0; l < nl; l++) {
        const int64_t n = lens[l];
        const size_t wbytes = bb_row_size(type, n), ybytes = bb_row_size(t->vec_dot_type, n);
        uint8_t *w = xmalloc(wbytes);
        float *xf = xmalloc((size_t)n * sizeof(float));
        for (int v = 0; v < N_VARIANTS; v++) {
            const size_t stride = v % 2 ? ybytes : ybytes + 64 + 2 * (size_t)v; /* packed, padded */
            uint8_t *y = xmalloc(4 * stride);
            fill_weights(type, w, n, &st, v % 2 == 1);
            for (int r = 0; r < 4; r++) {
                fill_act_floats(xf, n, &st, (v + r) % N_VARIANTS);
                vt->from_float(xf, y + r * stride, n);
            }
            float s4[4];
            dot4(n, s4, w, y, stride);
            for (int r = 0; r < 4; r++) {
                float s1;
                dot(n, &s1, w, y + r * stride);
                const bool same = memcmp(&s1, &s4[r], sizeof s1) == 0;
                bad += !same;
                CHECKF(same, "%s %s%s n=%lld variant %d row %d: vec_dot %.9g, vec_dot_x4 %.9g",
                       level, t->name, what, (long long)n, v, r, s1, s4[r]);
            }
            free(y);
        }
        free(w);
        free(xf);
    }
    return bad;
}

static void test_level(const char *level) {
    if (!bb_type_get_level(BB_TYPE_F32, level)) {
        printf("%s: not supported by this CPU, skipped\n", level);
        return;
    }
    int kernels = 0;
    for (int k = 0; k < N_X4_TYPES; k++) {
        const bb_type_traits *t = bb_type_get_level(x4_types[k], level);
        CHECK(t != NULL);
        if (!t || !t->vec_dot_x4) continue;
        CHECK(t->vec_dot != NULL);
        check_kernel(level, x4_types[k], t->vec_dot, t->vec_dot_x4, "");
        kernels++;
    }
    printf("%s: %d vec_dot_x4 kernels checked bitwise against vec_dot\n", level, kernels);
}

/* The AVX-512 K-quant kernels come in a plain and a VNNI build and the table holds only one:
 * check both pairs. */
static void test_kq_avx512_variants(void) {
    static const int types[] = {BB_TYPE_Q3_K, BB_TYPE_Q4_K, BB_TYPE_Q5_K, BB_TYPE_Q6_K};
    if (!bb_type_get_level(BB_TYPE_F32, "avx512")) return;
    int pairs = 0;
    for (int k = 0; k < 4; k++) {
        bb_vec_dot_fn plain, vnni;
        bb_vec_dot_x4_fn plain4, vnni4;
        bb_kq_avx512_variants(types[k], &plain, &vnni);
        bb_kq_avx512_x4_variants(types[k], &plain4, &vnni4);
        CHECK(!plain4 || plain);
        CHECK(!vnni4 || vnni);
        if (plain && plain4) pairs++, check_kernel("avx512", types[k], plain, plain4, " (plain)");
        if (vnni && vnni4) pairs++, check_kernel("avx512", types[k], vnni, vnni4, " (vnni)");
    }
    printf("avx512: %d K-quant plain/VNNI x4 kernels checked\n", pairs);
}

/* The table never pairs an x4 kernel with a single kernel of another level: where a level
 * replaces vec_dot it replaces vec_dot_x4 too (or clears it). */
static void test_table_pairs(void) {
    for (int k = 0; k < N_X4_TYPES; k++) {
        for (int l = 1; l < N_LEVELS; l++) {
            const bb_type_traits *lo = bb_type_get_level(x4_types[k], levels[l - 1]);
            const bb_type_traits *hi = bb_type_get_level(x4_types[k], levels[l]);
            if (!lo || !hi) continue;
            if (hi->vec_dot != lo->vec_dot)
                CHECKF(hi->vec_dot_x4 == NULL || hi->vec_dot_x4 != lo->vec_dot_x4,
                       "%s %s keeps %s's vec_dot_x4 with its own vec_dot", levels[l], hi->name,
                       levels[l - 1]);
        }
    }
}

/* ---------------------------------------------------------------------- benchmark */

/* thread CPU time: time the (shared) machine gives to other work does not count */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float bench_sink;

/* GMAC/s over a 64 x 2048 weight matrix and four activation rows, both ways. */
static void bench_type(const char *level, int type) {
    const bb_type_traits *t = bb_type_get_level(type, level);
    if (!t || !t->vec_dot_x4) return;
    const bb_type_traits *vt = bb_type_get_level(t->vec_dot_type, level);
    const int64_t n = 2048, rows = 64;
    const size_t wbytes = bb_row_size(type, n), ybytes = bb_row_size(t->vec_dot_type, n);
    uint64_t st = 12345;
    uint8_t *w = xmalloc(wbytes * rows);
    for (int64_t r = 0; r < rows; r++)
        fill_weights(type, w + r * wbytes, n, &st, false);
    uint8_t *y = xmalloc(4 * ybytes);
    float *xf = xmalloc((size_t)n * sizeof(float));
    for (int r = 0; r < 4; r++) {
        fill_act_floats(xf, n, &st, 0);
        vt->from_float(xf, y + r * ybytes, n);
    }
    /* best of interleaved trials: the machine may be shared */
    double gmacs[2] = {0, 0};
    for (int trial = 0; trial < 8; trial++) {
        for (int mode = 0; mode < 2; mode++) {
            int reps = 0;
            const double t0 = now_s();
            double t1;
            do {
                for (int64_t r = 0; r < rows; r++) {
                    float s[4];
                    if (mode == 0)
                        for (int k = 0; k < 4; k++)
                            t->vec_dot(n, &s[k], w + r * wbytes, y + k * ybytes);
                    else
                        t->vec_dot_x4(n, s, w + r * wbytes, y, ybytes);
                    bench_sink = s[0] + s[3];
                }
                reps++;
                t1 = now_s();
            } while (t1 - t0 < 0.05);
            const double g = (double)n * rows * 4 * reps / (t1 - t0) / 1e9;
            if (g > gmacs[mode]) gmacs[mode] = g;
        }
    }
    printf("bench %-6s %-4s  4 x vec_dot %6.2f GMAC/s   vec_dot_x4 %6.2f GMAC/s   x%.2f\n", level,
           t->name, gmacs[0], gmacs[1], gmacs[1] / gmacs[0]);
    free(w);
    free(y);
    free(xf);
}

int main(void) {
    for (int l = 0; l < N_LEVELS; l++)
        test_level(levels[l]);
    test_kq_avx512_variants();
    test_table_pairs();
    const char *bench = getenv("BB_QUANT_BENCH");
    if (bench && strcmp(bench, "1") == 0) {
        for (int l = 0; l < N_LEVELS; l++)
            for (int k = 0; k < N_X4_TYPES; k++)
                bench_type(levels[l], x4_types[k]);
    }
    return tu_finish("test_quant_x4");
}
