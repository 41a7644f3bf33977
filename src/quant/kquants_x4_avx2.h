/*
 * AVX2 four-row K-quant kernels (bb_vec_dot_x4_fn, quant.h): one weight row against four
 * Q8_K rows, each super-block's quants and scales unpacked once. Included by kquants_avx2.c
 * after its single-row kernels, whose helpers (scale_same, scale_pair, dot_scaled) they use.
 *
 * Batch invariance: output r must be bit-identical to the single kernel on row r. The float
 * steps per row are the single kernel's (d and dmin formed as y.d * x.d and -y.d * x.dmin,
 * one FMA per super-block into acc, mins_term into acc_m, the same final reduction); the
 * integer sums per lane are exact, so the order in which we add them does not matter.
 */
#ifndef BB_QUANT_KQUANTS_X4_AVX2_H
#define BB_QUANT_KQUANTS_X4_AVX2_H

#include "quant/kquants_x86.h"

/* The four activation rows of a vec_dot_x4 call. */
KQ_AVX2 static inline void kq_rows4(const void *vy, size_t stride, const bb_block_q8_K *y[4]) {
    for (int r = 0; r < 4; r++)
        y[r] = (const bb_block_q8_K *)((const uint8_t *)vy + r * stride);
}

/* Q4_K and Q5_K: vec_dot_q4_K / vec_dot_q5_K for four rows. */
KQ_AVX2 static inline __attribute__((always_inline)) void
dot_x4_q45_K(int64_t n, float *s, const void *vx, const void *vy, size_t stride, bool q5) {
    const bb_block_q4_K *x4 = vx; /* q5 is a constant, so only one of these is used */
    const bb_block_q5_K *x5 = vx;
    const bb_block_q8_K *y[4];
    kq_rows4(vy, stride, y);
    const __m256i m4 = _mm256_set1_epi8(0xF), bit4 = _mm256_set1_epi8(0x10);
    __m256 acc[4], acc_m[4];
    for (int r = 0; r < 4; r++)
        acc[r] = acc_m[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float xd = half_to_float(q5 ? x5[i].d : x4[i].d);
        const float xdmin = half_to_float(q5 ? x5[i].dmin : x4[i].dmin);
        const __m128i sm = unpack_scales_mins(q5 ? x5[i].scales : x4[i].scales);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
            acc_m[r] = mins_term(sm, y[r][i].bsums, -y[r][i].d * xdmin, acc_m[r]);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        const uint8_t *q = q5 ? x5[i].qs : x4[i].qs;
        __m256i hb = q5 ? _mm256_loadu_si256((const __m256i *)x5[i].qh) : m4;
        __m256i sumi[4];
        for (int r = 0; r < 4; r++)
            sumi[r] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int j = 0; j < QK_K / 64; j++, q += 32) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(q4, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            if (q5) {
                lo = _mm256_or_si256(lo, _mm256_and_si256(_mm256_slli_epi16(hb, 4), bit4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(_mm256_slli_epi16(hb, 3), bit4));
                hb = _mm256_srli_epi16(hb, 2);
            }
            const __m256i s0 = scale_same(sc, 2 * j);
            const __m256i s1 = scale_same(sc, 2 * j + 1);
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                const int8_t *q8 = y[r][i].qs + 64 * j;
                sumi[r] = _mm256_add_epi32(sumi[r], dot_scaled(lo, q8, s0));
                sumi[r] = _mm256_add_epi32(sumi[r], dot_scaled(hi, q8 + 32, s1));
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(y[r][i].d * xd), _mm256_cvtepi32_ps(sumi[r]),
                                     acc[r]);
    }
    for (int r = 0; r < 4; r++)
        s[r] = hsum_ps(_mm256_add_ps(acc[r], acc_m[r]));
}

KQ_AVX2 static void vec_dot_x4_q4_K(int64_t n, float *s, const void *x, const void *y,
                                    size_t stride) {
    dot_x4_q45_K(n, s, x, y, stride, false);
}

KQ_AVX2 static void vec_dot_x4_q5_K(int64_t n, float *s, const void *x, const void *y,
                                    size_t stride) {
    dot_x4_q45_K(n, s, x, y, stride, true);
}

/* Q6_K: vec_dot_q6_K for four rows. */
KQ_AVX2 static void vec_dot_x4_q6_K(int64_t n, float *s, const void *vx, const void *vy,
                                    size_t stride) {
    const bb_block_q6_K *x = vx;
    const bb_block_q8_K *y[4];
    kq_rows4(vy, stride, y);
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(0x30);
    __m256 acc[4];
    for (int r = 0; r < 4; r++)
        acc[r] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float xd = half_to_float(x[i].d);
        /* quants are stored + 32: subtract 32 * sum_g scale_g * bsum_g */
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m256i sumi[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++) {
            const __m256i bs = _mm256_loadu_si256((const __m256i *)y[r][i].bsums);
            sumi[r] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                       _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5));
        }
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++, ql += 64, qh += 32) {
            const __m256i sc = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)
                                 : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const __m256i la = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i lb = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i hv = _mm256_loadu_si256((const __m256i *)qh);
            /* the four 32-weight chunks of this half, one at a time to keep registers free */
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++) {
                const __m256i l = c % 2 ? lb : la;
                const __m256i low = c < 2 ? l : _mm256_srli_epi16(l, 4);
                const __m256i high = c == 0   ? _mm256_slli_epi16(hv, 4)
                                     : c == 1 ? _mm256_slli_epi16(hv, 2)
                                     : c == 2 ? hv
                                              : _mm256_srli_epi16(hv, 2);
                const __m256i q6 =
                    _mm256_or_si256(_mm256_and_si256(low, m4), _mm256_and_si256(high, m2));
                const __m256i scale = scale_pair(sc, c);
#pragma GCC unroll 4
                for (int r = 0; r < 4; r++)
                    sumi[r] = _mm256_add_epi32(
                        sumi[r], dot_scaled(q6, y[r][i].qs + 128 * h + 32 * c, scale));
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(y[r][i].d * xd), _mm256_cvtepi32_ps(sumi[r]),
                                     acc[r]);
    }
    for (int r = 0; r < 4; r++)
        s[r] = hsum_ps(acc[r]);
}

#endif
