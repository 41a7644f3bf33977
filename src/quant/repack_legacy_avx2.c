/*
 * AVX2 kernels of the Q4_0x8 and Q8_0x8 layouts (layouts and arithmetic: repack_legacy.c).
 *
 * SIMD lane r is weight row r throughout. Per block, a token costs 8 (Q4_0) or 8 (Q8_0)
 * vpmaddubsw against 4-byte activation groups broadcast to every lane, the integer sums
 * stay exact, and then one scale product and one fma per block: the same two roundings,
 * in the same order, as the scalar twins, so both agree bit for bit.
 *
 * Tokens are processed in tiles of up to 4 that share each block's unpacked weight codes
 * (prefill is compute-bound); a tile only changes which weight loads are shared, never an
 * output's own operations, so every T gives the same bits per output.
 *
 * Decode streams each weight byte once from DRAM; an explicit prefetch PREFETCH bytes ahead
 * keeps the loads from waiting on the hardware prefetchers (as in legacy_x86_dot.h).
 */
#include <string.h>

#include "quant/blocks_legacy.h"
#include "quant/quant.h"
#include "quant/repack.h"
#include "quant/repack_tiles.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define INL static inline AVX2 __attribute__((always_inline))
#define R BB_RP_ROWS
#define PREFETCH 2048
#define TILE 4

typedef struct {
    uint16_t d[R];
    uint8_t qs[4][4 * R];
} block_q4_0x8;

typedef struct {
    uint16_t d[R];
    int8_t qs[8][4 * R];
} block_q8_0x8;

/* Four activation codes broadcast to all 8 lanes. */
INL __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

INL void prefetch_block(const void *p, size_t bytes) {
#pragma GCC unroll 8
    for (size_t off = 0; off < bytes; off += 64)
        _mm_prefetch((const char *)p + PREFETCH + off, _MM_HINT_T0);
}

/* ---- Q4_0x8 x Q8_0S */

/* NT tokens (1..TILE, a constant after inlining) against one group. Bounds: a nibble (0..15)
 * times a code (|q| <= 127) summed in pairs is <= 3810 in magnitude, and the eight
 * vpmaddubsw results of a block add up to <= 30480 < 2^15, so the s16 sums are exact. */
INL void q4_0x8_tile(int NT, int64_t nb, const block_q4_0x8 *g, const char *y, size_t y_stride,
                     float *out, size_t out_stride) {
    const block_q8_0s *yb[TILE];
    __m256 acc[TILE];
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        yb[t] = (const block_q8_0s *)(y + (size_t)t * y_stride);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        prefetch_block(&g[b], sizeof g[b]);
        /* Chunk by chunk, each chunk's two nibble planes shared by the tile's tokens: only two
         * unpacked weight vectors are live, so the tile's sums and accumulators stay in
         * registers (holding all eight spilled them, and the reloads made the load ports the
         * bottleneck). The s16 sums are exact, so their order is free. */
        __m256i s[TILE];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)g[b].qs[c]);
            const __m256i lo = _mm256_and_si256(v, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                const int8_t *q = yb[t][b].qs;
                const __m256i p =
                    _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(q + 4 * c)),
                                     _mm256_maddubs_epi16(hi, bcast4(q + 16 + 4 * c)));
                s[t] = c ? _mm256_add_epi16(s[t], p) : p;
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g[b].d));
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const block_q8_0s *q = &yb[t][b];
            const __m256i off = _mm256_slli_epi32(_mm256_set1_epi32(q->s), 3);
            const __m256i isum = _mm256_sub_epi32(_mm256_madd_epi16(s[t], ones), off);
            const __m256 d = _mm256_mul_ps(dw, _mm256_broadcast_ss(&q->d));
            acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
        _mm256_storeu_ps(out + (size_t)t * out_stride, acc[t]);
}

RP_TILED_GEMM(q4_0x8_gemm, q4_0x8_tile, TILE, block_q4_0x8, n / QK4_0)

/* ---- Q8_0x8 x Q8_0S */

/* Signed codes against signed codes: |w| . (q * sign(w)) puts the unsigned operand first, as
 * vpmaddubsw needs. |w| <= 128 (a -128 code reads as 128 unsigned, still exact) and |q| <=
 * 127, so a pair sums to <= 32512 < 2^15; two pairs could overflow, so every vpmaddubsw is
 * widened with vpmaddwd before the chunks are added. */
INL void q8_0x8_tile(int NT, int64_t nb, const block_q8_0x8 *g, const char *y, size_t y_stride,
                     float *out, size_t out_stride) {
    const block_q8_0s *yb[TILE];
    __m256 acc[TILE];
    const __m256i ones = _mm256_set1_epi16(1);
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        yb[t] = (const block_q8_0s *)(y + (size_t)t * y_stride);
        acc[t] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        prefetch_block(&g[b], sizeof g[b]);
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g[b].d));
        __m256i isum[TILE];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++)
            isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)g[b].qs[c]);
            const __m256i a = _mm256_sign_epi8(v, v);
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                const __m256i p =
                    _mm256_maddubs_epi16(a, _mm256_sign_epi8(bcast4(yb[t][b].qs + 4 * c), v));
                isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, ones));
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const __m256 d = _mm256_mul_ps(dw, _mm256_broadcast_ss(&yb[t][b].d));
            acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum[t]), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
        _mm256_storeu_ps(out + (size_t)t * out_stride, acc[t]);
}

RP_TILED_GEMM(q8_0x8_gemm, q8_0x8_tile, TILE, block_q8_0x8, n / QK8_0)

void bb_repack_fill_legacy_avx2(bb_repack_traits *t) {
    t[BB_TYPE_Q4_0].gemm = q4_0x8_gemm;
    t[BB_TYPE_Q8_0].gemm = q8_0x8_gemm;
}

#else

void bb_repack_fill_legacy_avx2(bb_repack_traits *t) {
    (void)t;
}

#endif
