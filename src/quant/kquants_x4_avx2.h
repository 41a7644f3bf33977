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

#define KQ_X4_INLINE KQ_AVX2 static inline __attribute__((always_inline))

/* Ends an integer add chain: an empty asm that the value must pass through as is. Integer
 * sums are exact in any order, and GCC reassociates the four rows' chains into trees whose
 * 32 live products spill; this keeps each row's sum a running total. */
#define KQ_X4_PIN(v) __asm__("" : "+x"(v))

/* The four activation rows of a vec_dot_x4 call. */
KQ_X4_INLINE void kq_rows4(const void *vy, size_t stride, const bb_block_q8_K *y[4]) {
    for (int r = 0; r < 4; r++)
        y[r] = (const bb_block_q8_K *)((const uint8_t *)vy + r * stride);
}

/* One row's share of a Q4_K/Q5_K chunk of 64 weights: sumi += lo . q8 * s0 + hi . q8' * s1 */
KQ_X4_INLINE void q45_row_chunk(__m256i *sumi, __m256i lo, __m256i hi, const int8_t *q8, __m256i s0,
                                __m256i s1) {
    __m256i v = _mm256_add_epi32(*sumi, dot_scaled(lo, q8, s0));
    KQ_X4_PIN(v);
    v = _mm256_add_epi32(v, dot_scaled(hi, q8 + 32, s1));
    KQ_X4_PIN(v);
    *sumi = v;
}

/* One row's float step of a super-block, as in the single kernels. */
KQ_X4_INLINE void kq_row_fma(__m256 *acc, float yd, float xd, __m256i sumi) {
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(yd * xd), _mm256_cvtepi32_ps(sumi), *acc);
}

/* Q4_K and Q5_K: vec_dot_q4_K / vec_dot_q5_K for four rows. Accumulators are separate
 * variables (GCC keeps arrays of vectors in memory). */
KQ_X4_INLINE void dot_x4_q45_K(int64_t n, float *s, const void *vx, const void *vy, size_t stride,
                               bool q5) {
    const bb_block_q4_K *x4 = vx; /* q5 is a constant, so only one of these is used */
    const bb_block_q5_K *x5 = vx;
    const bb_block_q8_K *y[4];
    kq_rows4(vy, stride, y);
    const __m256i m4 = _mm256_set1_epi8(0xF), bit4 = _mm256_set1_epi8(0x10);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    __m256 accm0 = acc0, accm1 = acc0, accm2 = acc0, accm3 = acc0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float xd = half_to_float(q5 ? x5[i].d : x4[i].d);
        const float xdmin = half_to_float(q5 ? x5[i].dmin : x4[i].dmin);
        const __m128i sm = unpack_scales_mins(q5 ? x5[i].scales : x4[i].scales);
        accm0 = mins_term(sm, y[0][i].bsums, -y[0][i].d * xdmin, accm0);
        accm1 = mins_term(sm, y[1][i].bsums, -y[1][i].d * xdmin, accm1);
        accm2 = mins_term(sm, y[2][i].bsums, -y[2][i].d * xdmin, accm2);
        accm3 = mins_term(sm, y[3][i].bsums, -y[3][i].d * xdmin, accm3);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        const uint8_t *q = q5 ? x5[i].qs : x4[i].qs;
        __m256i hb = q5 ? _mm256_loadu_si256((const __m256i *)x5[i].qh) : m4;
        __m256i sumi0 = _mm256_setzero_si256(), sumi1 = sumi0, sumi2 = sumi0, sumi3 = sumi0;
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
            q45_row_chunk(&sumi0, lo, hi, y[0][i].qs + 64 * j, s0, s1);
            q45_row_chunk(&sumi1, lo, hi, y[1][i].qs + 64 * j, s0, s1);
            q45_row_chunk(&sumi2, lo, hi, y[2][i].qs + 64 * j, s0, s1);
            q45_row_chunk(&sumi3, lo, hi, y[3][i].qs + 64 * j, s0, s1);
        }
        kq_row_fma(&acc0, y[0][i].d, xd, sumi0);
        kq_row_fma(&acc1, y[1][i].d, xd, sumi1);
        kq_row_fma(&acc2, y[2][i].d, xd, sumi2);
        kq_row_fma(&acc3, y[3][i].d, xd, sumi3);
    }
    s[0] = hsum_ps(_mm256_add_ps(acc0, accm0));
    s[1] = hsum_ps(_mm256_add_ps(acc1, accm1));
    s[2] = hsum_ps(_mm256_add_ps(acc2, accm2));
    s[3] = hsum_ps(_mm256_add_ps(acc3, accm3));
}

KQ_AVX2 static void vec_dot_x4_q4_K(int64_t n, float *s, const void *x, const void *y,
                                    size_t stride) {
    dot_x4_q45_K(n, s, x, y, stride, false);
}

KQ_AVX2 static void vec_dot_x4_q5_K(int64_t n, float *s, const void *x, const void *y,
                                    size_t stride) {
    dot_x4_q45_K(n, s, x, y, stride, true);
}

/* Q3_K/Q6_K: a super-block's integer sum starts at -(2^log2_offset) * sum_g scale_g * bsum_g
 * (quants are stored + 4 / + 32). */
KQ_X4_INLINE __m256i kq_row_offset(__m256i sc16, const int16_t *bsums, int log2_offset) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)bsums);
    return _mm256_sub_epi32(_mm256_setzero_si256(),
                            _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), log2_offset));
}

/* Q2_K: one row's mins term, acc_m + dmin * (mins . bsums) with dmin = -y.d * x.dmin. */
KQ_X4_INLINE __m256 q2_row_mins(__m256i mins16, const bb_block_q8_K *y, float xdmin, __m256 acc_m) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)y->bsums);
    return _mm256_fmadd_ps(_mm256_set1_ps(-y->d * xdmin),
                           _mm256_cvtepi32_ps(_mm256_madd_epi16(mins16, bs)), acc_m);
}

/* One row's share of 32 weights: sumi += q . q8 * scale */
KQ_X4_INLINE void kq_row_chunk(__m256i *sumi, __m256i q, const int8_t *q8, __m256i scale) {
    __m256i v = _mm256_add_epi32(*sumi, dot_scaled(q, q8, scale));
    KQ_X4_PIN(v);
    *sumi = v;
}

/* Q6_K: vec_dot_q6_K for four rows. */
KQ_AVX2 static void vec_dot_x4_q6_K(int64_t n, float *s, const void *vx, const void *vy,
                                    size_t stride) {
    const bb_block_q6_K *x = vx;
    const bb_block_q8_K *y[4];
    kq_rows4(vy, stride, y);
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(0x30);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float xd = half_to_float(x[i].d);
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m256i sumi0 = kq_row_offset(sc16, y[0][i].bsums, 5);
        __m256i sumi1 = kq_row_offset(sc16, y[1][i].bsums, 5);
        __m256i sumi2 = kq_row_offset(sc16, y[2][i].bsums, 5);
        __m256i sumi3 = kq_row_offset(sc16, y[3][i].bsums, 5);
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
                const int o = 128 * h + 32 * c;
                kq_row_chunk(&sumi0, q6, y[0][i].qs + o, scale);
                kq_row_chunk(&sumi1, q6, y[1][i].qs + o, scale);
                kq_row_chunk(&sumi2, q6, y[2][i].qs + o, scale);
                kq_row_chunk(&sumi3, q6, y[3][i].qs + o, scale);
            }
        }
        kq_row_fma(&acc0, y[0][i].d, xd, sumi0);
        kq_row_fma(&acc1, y[1][i].d, xd, sumi1);
        kq_row_fma(&acc2, y[2][i].d, xd, sumi2);
        kq_row_fma(&acc3, y[3][i].d, xd, sumi3);
    }
    s[0] = hsum_ps(acc0);
    s[1] = hsum_ps(acc1);
    s[2] = hsum_ps(acc2);
    s[3] = hsum_ps(acc3);
}

/* Q2_K and Q3_K: vec_dot_q2_K / vec_dot_q3_K for four rows. Both hold per half of 128
 * weights 32 bytes of 2-bit quants (chunk k at bits 2k), scaled per 16 weights; Q3_K adds a
 * third bit from hmask and an offset of -4 (through bsums), Q2_K mins (through bsums). */
KQ_X4_INLINE void dot_x4_q23_K(int64_t n, float *s, const void *vx, const void *vy, size_t stride,
                               bool q3) {
    const bb_block_q2_K *x2 = vx; /* q3 is a constant, so only one of these is used */
    const bb_block_q3_K *x3 = vx;
    const bb_block_q8_K *y[4];
    kq_rows4(vy, stride, y);
    const __m128i m4 = _mm_set1_epi8(0xF);
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    __m256 accm0 = acc0, accm1 = acc0, accm2 = acc0, accm3 = acc0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float xd = half_to_float(q3 ? x3[i].d : x2[i].d);
        __m256i sc16, sumi0, sumi1, sumi2, sumi3;
        if (q3) {
            /* quants are coded as q + 4 with the third bit in hmask: start at -4 * sc . bs */
            sc16 = _mm256_cvtepi8_epi16(unpack_q3_scales(x3[i].scales));
            sumi0 = kq_row_offset(sc16, y[0][i].bsums, 2);
            sumi1 = kq_row_offset(sc16, y[1][i].bsums, 2);
            sumi2 = kq_row_offset(sc16, y[2][i].bsums, 2);
            sumi3 = kq_row_offset(sc16, y[3][i].bsums, 2);
        } else {
            const float xdmin = half_to_float(x2[i].dmin);
            const __m128i sv = _mm_loadu_si128((const __m128i *)x2[i].scales);
            sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sv, m4));
            const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sv, 4), m4));
            accm0 = q2_row_mins(mins16, &y[0][i], xdmin, accm0);
            accm1 = q2_row_mins(mins16, &y[1][i], xdmin, accm1);
            accm2 = q2_row_mins(mins16, &y[2][i], xdmin, accm2);
            accm3 = q2_row_mins(mins16, &y[3][i], xdmin, accm3);
            sumi0 = sumi1 = sumi2 = sumi3 = _mm256_setzero_si256();
        }
        const uint8_t *q = q3 ? x3[i].qs : x2[i].qs;
        __m256i hb = q3 ? _mm256_loadu_si256((const __m256i *)x3[i].hmask) : m3;
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++, q += 32) {
            const __m256i sc = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)
                                 : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const __m256i q2 = _mm256_loadu_si256((const __m256i *)q);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * k), m3);
                if (q3) {
                    /* bit 0 of each hmask byte belongs to this chunk; then shift the next in */
                    v = _mm256_or_si256(v, _mm256_slli_epi16(_mm256_and_si256(hb, one), 2));
                    hb = _mm256_srli_epi16(hb, 1);
                }
                const __m256i scale = scale_pair(sc, k);
                const int o = 128 * h + 32 * k;
                kq_row_chunk(&sumi0, v, y[0][i].qs + o, scale);
                kq_row_chunk(&sumi1, v, y[1][i].qs + o, scale);
                kq_row_chunk(&sumi2, v, y[2][i].qs + o, scale);
                kq_row_chunk(&sumi3, v, y[3][i].qs + o, scale);
            }
        }
        kq_row_fma(&acc0, y[0][i].d, xd, sumi0);
        kq_row_fma(&acc1, y[1][i].d, xd, sumi1);
        kq_row_fma(&acc2, y[2][i].d, xd, sumi2);
        kq_row_fma(&acc3, y[3][i].d, xd, sumi3);
    }
    if (q3) {
        s[0] = hsum_ps(acc0), s[1] = hsum_ps(acc1), s[2] = hsum_ps(acc2), s[3] = hsum_ps(acc3);
    } else {
        s[0] = hsum_ps(_mm256_add_ps(acc0, accm0));
        s[1] = hsum_ps(_mm256_add_ps(acc1, accm1));
        s[2] = hsum_ps(_mm256_add_ps(acc2, accm2));
        s[3] = hsum_ps(_mm256_add_ps(acc3, accm3));
    }
}

KQ_AVX2 static void vec_dot_x4_q2_K(int64_t n, float *s, const void *x, const void *y,
                                    size_t stride) {
    dot_x4_q23_K(n, s, x, y, stride, false);
}

KQ_AVX2 static void vec_dot_x4_q3_K(int64_t n, float *s, const void *x, const void *y,
                                    size_t stride) {
    dot_x4_q23_K(n, s, x, y, stride, true);
}

#endif
