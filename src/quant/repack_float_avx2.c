/*
 * AVX2 kernel of the F16x8 layout (layout and arithmetic: repack_float.c).
 *
 * Lane r is row r. Per element: one vcvtph2ps of the 8 rows' weights, shared by a tile of
 * up to 6 tokens (12 accumulators: enough independent fmas to keep both FMA pipes busy), and per
 * token one broadcast activation and one fma into the chain of the element's parity. A tile changes
 * only which weight conversions are shared, never an output's own operations, so every T gives the
 * scalar twin's bits.
 */
#include <string.h>

#include "quant/quant.h"
#include "quant/repack.h"
#include "quant/repack_tiles.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INL static inline AVX2 __attribute__((always_inline))
#define R BB_RP_ROWS
#define TILE 6
#define PREFETCH 1024

INL __m256 load_w(const uint16_t *g, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(g + i * R)));
}

/* NT tokens (1..TILE, a constant after inlining) against one group. */
INL void f16x8_tile(int NT, int64_t n, const uint16_t *g, const char *y, size_t y_stride,
                    float *out, size_t out_stride) {
    const float *yt[TILE];
    __m256 acc0[TILE], acc1[TILE];
#pragma GCC unroll 6
    for (int t = 0; t < NT; t++) {
        yt[t] = (const float *)(y + (size_t)t * y_stride);
        acc0[t] = acc1[t] = _mm256_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        _mm_prefetch((const char *)(g + i * R) + PREFETCH, _MM_HINT_T0);
        const __m256 w0 = load_w(g, i), w1 = load_w(g, i + 1);
#pragma GCC unroll 6
        for (int t = 0; t < NT; t++) {
            acc0[t] = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(yt[t] + i), acc0[t]);
            acc1[t] = _mm256_fmadd_ps(w1, _mm256_broadcast_ss(yt[t] + i + 1), acc1[t]);
        }
    }
    if (i < n) {
        const __m256 w0 = load_w(g, i);
#pragma GCC unroll 6
        for (int t = 0; t < NT; t++)
            acc0[t] = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(yt[t] + i), acc0[t]);
    }
#pragma GCC unroll 6
    for (int t = 0; t < NT; t++)
        _mm256_storeu_ps(out + (size_t)t * out_stride, _mm256_add_ps(acc0[t], acc1[t]));
}

RP_TILED_GEMM(f16x8_gemm, f16x8_tile, TILE, uint16_t, n)

void bb_repack_fill_float_avx2(bb_repack_traits *t) {
    t[BB_TYPE_F16].gemm = f16x8_gemm;
}

#else

void bb_repack_fill_float_avx2(bb_repack_traits *t) {
    (void)t;
}

#endif
