/*
 * AVX-512 four-row K-quant kernels (bb_vec_dot_x4_fn, quant.h): one weight row against four
 * Q8_K rows, each super-block's quants and scales unpacked once. Included by
 * kquants_avx512.c after its single-row kernels, whose helpers (scale_chunk, scale_quad,
 * load_both_halves, dot_acc, offset_start, reduce_with) they use; like those, each comes in
 * a plain and a VNNI build.
 *
 * Batch invariance: output r must be bit-identical to the single kernel on row r. The float
 * steps per row are the single kernel's (d and dmin formed as y.d * x.d and -y.d * x.dmin,
 * one FMA per super-block, mins_term, reduce_with); the integer sums per lane are exact, so
 * the order in which we add them does not matter.
 */
#ifndef BB_QUANT_KQUANTS_X4_AVX512_H
#define BB_QUANT_KQUANTS_X4_AVX512_H

#include "quant/kquants_x86.h"
#include "quant/quant_x4.h"

KQ_INLINE void kq512_rows4(const void *vy, size_t stride, const bb_block_q8_K *y[4]) {
    for (int r = 0; r < 4; r++)
        y[r] = (const bb_block_q8_K *)((const uint8_t *)vy + r * stride);
}

/* One row's dot_acc, its running total kept as such: integer sums are exact in any order,
 * and GCC would otherwise reassociate the four rows' add chains into trees whose live
 * products spill. */
KQ_INLINE void kq512_row_acc(__m512i *sumi, __m512i q, const int8_t *q8, __m512i scale, bool vnni) {
    __m512i v = dot_acc(*sumi, q, q8, scale, vnni);
    __asm__("" : "+v"(v));
    *sumi = v;
}

/* One row's float step of a super-block, as in the single kernels. */
KQ_INLINE void kq512_row_fma(__m512 *acc, float yd, float xd, __m512i sumi) {
    *acc = _mm512_fmadd_ps(_mm512_set1_ps(yd * xd), _mm512_cvtepi32_ps(sumi), *acc);
}

/* dot_q45_K for four rows. Accumulators are separate variables (GCC keeps arrays of vectors
 * in memory). */
KQ_INLINE void dot_x4_q45_K(int64_t n, float *s, const void *vx, const void *vy, size_t stride,
                            bool q5, bool vnni) {
    const __m512i m4 = _mm512_set1_epi8(0xF), bit4 = _mm512_set1_epi8(0x10);
    const __m512i nib_shift = concat256(_mm256_setzero_si256(), _mm256_set1_epi16(4));
    const __m512i to_bit4 = concat256(_mm256_set1_epi16(4), _mm256_set1_epi16(3));
    const bb_block_q4_K *x4 = vx; /* q5 is a constant, so only one of these is used */
    const bb_block_q5_K *x5 = vx;
    const bb_block_q8_K *y[4];
    kq512_rows4(vy, stride, y);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    __m256 accm0 = _mm256_setzero_ps(), accm1 = accm0, accm2 = accm0, accm3 = accm0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *qs = q5 ? x5[i].qs : x4[i].qs;
        const float xd = half_to_float(q5 ? x5[i].d : x4[i].d);
        const float xdmin = half_to_float(q5 ? x5[i].dmin : x4[i].dmin);
        const __m128i sm = unpack_scales_mins(q5 ? x5[i].scales : x4[i].scales);
        accm0 = mins_term(sm, y[0][i].bsums, -y[0][i].d * xdmin, accm0);
        accm1 = mins_term(sm, y[1][i].bsums, -y[1][i].d * xdmin, accm1);
        accm2 = mins_term(sm, y[2][i].bsums, -y[2][i].d * xdmin, accm2);
        accm3 = mins_term(sm, y[3][i].bsums, -y[3][i].d * xdmin, accm3);
        const __m512i sc = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sm));
        __m512i hb = q5 ? load_both_halves(x5[i].qh) : m4;
        __m512i sumi0 = _mm512_setzero_si512(), sumi1 = sumi0, sumi2 = sumi0, sumi3 = sumi0;
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m512i q =
                _mm512_and_si512(_mm512_srlv_epi16(load_both_halves(qs + 32 * j), nib_shift), m4);
            if (q5) {
                q = _mm512_or_si512(q, _mm512_and_si512(_mm512_sllv_epi16(hb, to_bit4), bit4));
                hb = _mm512_srli_epi16(hb, 2);
            }
            const __m512i scale = scale_chunk(sc, j);
            kq512_row_acc(&sumi0, q, y[0][i].qs + 64 * j, scale, vnni);
            kq512_row_acc(&sumi1, q, y[1][i].qs + 64 * j, scale, vnni);
            kq512_row_acc(&sumi2, q, y[2][i].qs + 64 * j, scale, vnni);
            kq512_row_acc(&sumi3, q, y[3][i].qs + 64 * j, scale, vnni);
        }
        kq512_row_fma(&acc0, y[0][i].d, xd, sumi0);
        kq512_row_fma(&acc1, y[1][i].d, xd, sumi1);
        kq512_row_fma(&acc2, y[2][i].d, xd, sumi2);
        kq512_row_fma(&acc3, y[3][i].d, xd, sumi3);
    }
    s[0] = reduce_with(acc0, accm0);
    s[1] = reduce_with(acc1, accm1);
    s[2] = reduce_with(acc2, accm2);
    s[3] = reduce_with(acc3, accm3);
}

KQ_AVX512 static void vec_dot_x4_q4_K(int64_t n, float *s, const void *x, const void *y,
                                      size_t stride) {
    dot_x4_q45_K(n, s, x, y, stride, false, false);
}

KQ_AVX512 static void vec_dot_x4_q5_K(int64_t n, float *s, const void *x, const void *y,
                                      size_t stride) {
    dot_x4_q45_K(n, s, x, y, stride, true, false);
}

KQ_AVX512 static void vec_dot_x4_q4_K_vnni(int64_t n, float *s, const void *x, const void *y,
                                           size_t stride) {
    dot_x4_q45_K(n, s, x, y, stride, false, true);
}

KQ_AVX512 static void vec_dot_x4_q5_K_vnni(int64_t n, float *s, const void *x, const void *y,
                                           size_t stride) {
    dot_x4_q45_K(n, s, x, y, stride, true, true);
}

/* dot_q6_K for four rows */
KQ_INLINE void dot_x4_q6_K(int64_t n, float *s, const bb_block_q6_K *x, const void *vy,
                           size_t stride, bool vnni) {
    const __m512i m4 = _mm512_set1_epi8(0xF), m2 = _mm512_set1_epi8(0x30);
    const __m512i shl_a = concat256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    const __m512i shr_b = concat256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const bb_block_q8_K *y[4];
    kq512_rows4(vy, stride, y);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float xd = half_to_float(x[i].d);
        /* quants are stored + 32 */
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m512i sumi0 = offset_start(sc16, y[0][i].bsums, 5);
        __m512i sumi1 = offset_start(sc16, y[1][i].bsums, 5);
        __m512i sumi2 = offset_start(sc16, y[2][i].bsums, 5);
        __m512i sumi3 = offset_start(sc16, y[3][i].bsums, 5);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i sc = _mm512_broadcast_i32x4(h ? _mm256_extracti128_si256(sc16, 1)
                                                        : _mm256_castsi256_si128(sc16));
            const __m512i ql = _mm512_loadu_si512((const void *)(x[i].ql + 64 * h));
            const __m512i hv = load_both_halves(x[i].qh + 32 * h);
            const __m512i qa = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                               _mm512_and_si512(_mm512_sllv_epi16(hv, shl_a), m2));
            const __m512i qb = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                               _mm512_and_si512(_mm512_srlv_epi16(hv, shr_b), m2));
            const __m512i sa = scale_quad(sc, 0), sb = scale_quad(sc, 1);
            const int o = 128 * h;
            kq512_row_acc(&sumi0, qa, y[0][i].qs + o, sa, vnni);
            kq512_row_acc(&sumi1, qa, y[1][i].qs + o, sa, vnni);
            kq512_row_acc(&sumi2, qa, y[2][i].qs + o, sa, vnni);
            kq512_row_acc(&sumi3, qa, y[3][i].qs + o, sa, vnni);
            kq512_row_acc(&sumi0, qb, y[0][i].qs + o + 64, sb, vnni);
            kq512_row_acc(&sumi1, qb, y[1][i].qs + o + 64, sb, vnni);
            kq512_row_acc(&sumi2, qb, y[2][i].qs + o + 64, sb, vnni);
            kq512_row_acc(&sumi3, qb, y[3][i].qs + o + 64, sb, vnni);
        }
        kq512_row_fma(&acc0, y[0][i].d, xd, sumi0);
        kq512_row_fma(&acc1, y[1][i].d, xd, sumi1);
        kq512_row_fma(&acc2, y[2][i].d, xd, sumi2);
        kq512_row_fma(&acc3, y[3][i].d, xd, sumi3);
    }
    const __m256 zero = _mm256_setzero_ps();
    s[0] = reduce_with(acc0, zero);
    s[1] = reduce_with(acc1, zero);
    s[2] = reduce_with(acc2, zero);
    s[3] = reduce_with(acc3, zero);
}

KQ_AVX512 static void vec_dot_x4_q6_K(int64_t n, float *s, const void *x, const void *y,
                                      size_t stride) {
    dot_x4_q6_K(n, s, x, y, stride, false);
}

KQ_AVX512 static void vec_dot_x4_q6_K_vnni(int64_t n, float *s, const void *x, const void *y,
                                           size_t stride) {
    dot_x4_q6_K(n, s, x, y, stride, true);
}

/* dot_q3_K for four rows */
KQ_INLINE void dot_x4_q3_K(int64_t n, float *s, const bb_block_q3_K *x, const void *vy,
                           size_t stride, bool vnni) {
    const __m512i m3 = _mm512_set1_epi8(3), bit2 = _mm512_set1_epi8(4);
    const __m512i sh_a = concat256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh_b = concat256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    const __m512i hsh_a = concat256(_mm256_set1_epi16(2), _mm256_set1_epi16(1));
    const bb_block_q8_K *y[4];
    kq512_rows4(vy, stride, y);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float xd = half_to_float(x[i].d);
        const __m256i sc16 = _mm256_cvtepi8_epi16(unpack_q3_scales(x[i].scales));
        /* quants are coded as q + 4 */
        __m512i sumi0 = offset_start(sc16, y[0][i].bsums, 2);
        __m512i sumi1 = offset_start(sc16, y[1][i].bsums, 2);
        __m512i sumi2 = offset_start(sc16, y[2][i].bsums, 2);
        __m512i sumi3 = offset_start(sc16, y[3][i].bsums, 2);
        __m512i hb = load_both_halves(x[i].hmask);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m512i sc = _mm512_broadcast_i32x4(h ? _mm256_extracti128_si256(sc16, 1)
                                                        : _mm256_castsi256_si128(sc16));
            const __m512i q2 = load_both_halves(x[i].qs + 32 * h);
            const __m512i ha = _mm512_and_si512(_mm512_sllv_epi16(hb, hsh_a), bit2);
            const __m512i hc =
                _mm512_and_si512(_mm512_sllv_epi16(_mm512_srli_epi16(hb, 2), hsh_a), bit2);
            hb = _mm512_srli_epi16(hb, 4);
            const __m512i qa =
                _mm512_or_si512(_mm512_and_si512(_mm512_srlv_epi16(q2, sh_a), m3), ha);
            const __m512i qb =
                _mm512_or_si512(_mm512_and_si512(_mm512_srlv_epi16(q2, sh_b), m3), hc);
            const __m512i sa = scale_quad(sc, 0), sb = scale_quad(sc, 1);
            const int o = 128 * h;
            kq512_row_acc(&sumi0, qa, y[0][i].qs + o, sa, vnni);
            kq512_row_acc(&sumi1, qa, y[1][i].qs + o, sa, vnni);
            kq512_row_acc(&sumi2, qa, y[2][i].qs + o, sa, vnni);
            kq512_row_acc(&sumi3, qa, y[3][i].qs + o, sa, vnni);
            kq512_row_acc(&sumi0, qb, y[0][i].qs + o + 64, sb, vnni);
            kq512_row_acc(&sumi1, qb, y[1][i].qs + o + 64, sb, vnni);
            kq512_row_acc(&sumi2, qb, y[2][i].qs + o + 64, sb, vnni);
            kq512_row_acc(&sumi3, qb, y[3][i].qs + o + 64, sb, vnni);
        }
        kq512_row_fma(&acc0, y[0][i].d, xd, sumi0);
        kq512_row_fma(&acc1, y[1][i].d, xd, sumi1);
        kq512_row_fma(&acc2, y[2][i].d, xd, sumi2);
        kq512_row_fma(&acc3, y[3][i].d, xd, sumi3);
    }
    const __m256 zero = _mm256_setzero_ps();
    s[0] = reduce_with(acc0, zero);
    s[1] = reduce_with(acc1, zero);
    s[2] = reduce_with(acc2, zero);
    s[3] = reduce_with(acc3, zero);
}

KQ_AVX512 static void vec_dot_x4_q3_K(int64_t n, float *s, const void *x, const void *y,
                                      size_t stride) {
    dot_x4_q3_K(n, s, x, y, stride, false);
}

KQ_AVX512 static void vec_dot_x4_q3_K_vnni(int64_t n, float *s, const void *x, const void *y,
                                           size_t stride) {
    dot_x4_q3_K(n, s, x, y, stride, true);
}

/* The x4 twins of bb_kq_avx512_variants's kernels, available exactly where those are. */
void bb_kq_avx512_x4_variants(int type, bb_vec_dot_x4_fn *plain, bb_vec_dot_x4_fn *vnni) {
    bb_vec_dot_fn p1, v1;
    bb_kq_avx512_variants(type, &p1, &v1);
    *plain = *vnni = NULL;
    switch (type) {
    case BB_TYPE_Q3_K:
        *plain = vec_dot_x4_q3_K, *vnni = vec_dot_x4_q3_K_vnni;
        break;
    case BB_TYPE_Q4_K:
        *plain = vec_dot_x4_q4_K, *vnni = vec_dot_x4_q4_K_vnni;
        break;
    case BB_TYPE_Q5_K:
        *plain = vec_dot_x4_q5_K, *vnni = vec_dot_x4_q5_K_vnni;
        break;
    case BB_TYPE_Q6_K:
        *plain = vec_dot_x4_q6_K, *vnni = vec_dot_x4_q6_K_vnni;
        break;
    default:
        break;
    }
    if (!p1) *plain = NULL;
    if (!v1) *vnni = NULL;
}

#endif
