/*
 * The interleaved 8-row layout of F16 weights (repack.h), its packer and the scalar kernel
 * that defines its arithmetic; repack_float_avx2.c computes the same bits.
 *
 * F16x8: element i of the 8 rows is stored together, w[i][r] at group[8 i + r], so one
 * 16-byte load widened by vcvtph2ps is a vector whose lane r is row r's element i.
 *
 * The activations stay float (act_type F32): there is no quantization step, and each
 * product is exact before its rounding in the fma.
 *
 * Arithmetic of one output (row r, activation row y): two partial sums over the even and
 * the odd elements, each a chain of fmas in element order, then their sum:
 *   acc[i % 2] = fmaf(w[i][r], y[i], acc[i % 2])   for i = 0, 1, ..., n - 1
 *   out = acc[0] + acc[1]
 * Two chains (rather than one) let a single token's kernel overlap two fmas' latencies;
 * the order is fixed per output, whatever the number of tokens computed together.
 */
#include <math.h>

#include "quant/quant.h"
#include "quant/repack.h"

#define R BB_RP_ROWS

static size_t f16x8_group_bytes(int64_t n) {
    return n > 0 ? (size_t)n * R * sizeof(uint16_t) : 0;
}

static void f16x8_pack(const void *rows, size_t row_bytes, int64_t n, void *group) {
    uint16_t *out = group;
    for (int r = 0; r < R; r++) {
        const uint16_t *x = (const uint16_t *)((const char *)rows + r * row_bytes);
        for (int64_t i = 0; i < n; i++)
            out[i * R + r] = x[i];
    }
}

static void f16x8_gemm(int64_t n, const void *w, const void *y, size_t y_stride, int T, float *out,
                       size_t out_stride) {
    const uint16_t *g = w;
    for (int t = 0; t < T; t++) {
        const float *yt = (const float *)((const char *)y + (size_t)t * y_stride);
        for (int r = 0; r < R; r++) {
            float acc[2] = {0.0f, 0.0f};
            for (int64_t i = 0; i < n; i++)
                acc[i % 2] = fmaf(bb_fp16_to_fp32(g[i * R + r]), yt[i], acc[i % 2]);
            out[(size_t)t * out_stride + r] = acc[0] + acc[1];
        }
    }
}

void bb_repack_fill_float_ref(bb_repack_traits *t) {
    t[BB_TYPE_F16] = (bb_repack_traits){"F16x8",           BB_TYPE_F16, BB_TYPE_F32,
                                        f16x8_group_bytes, f16x8_pack,  f16x8_gemm};
}
