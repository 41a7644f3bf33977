/*
 * AVX2 kernels for the K-quants: dot products of Q2_K..Q6_K rows with Q8_K rows, and Q8_K
 * quantization. Each function carries its own target attribute so the rest of the program
 * stays runnable on CPUs without AVX2; types.c installs them only when the CPU has AVX2,
 * FMA and F16C.
 *
 * Dot products follow the structure ggml's x86 kernels made standard: per super-block,
 * unpack the quants to bytes, multiply with the int8 activations by vpmaddubsw (unsigned x
 * signed bytes -> pairs summed to int16; quants are at most 63 and activations at least
 * -128, so no pair sum saturates), multiply the int16 sums by the sub-block scales with
 * vpmaddwd (-> int32), and only then go to float, once per super-block. Offsets (the Q2/Q4/
 * Q5_K mins, Q3_K's -4, Q6_K's -32) never touch the quants: they are sums over groups of 16
 * activations, which Q8_K carries precomputed (bsums). All integer parts are exact, so
 * results differ from the scalar reference only in float summation order.
 */
#include "quant/blocks_k.h"
#include "quant/quant_impl.h"

#if defined(__x86_64__) || defined(__i386__)

#include "quant/kquants_x86.h"

#include <math.h>
#include <string.h>

/* vpshufb controls over a vector whose two 128-bit lanes hold the same 8 int16 scales:
 * k_same[e] broadcasts element e to both lanes, k_pair[k] element 2k to the low lane and 2k+1
 * to the high lane. Tables (rather than computed constants) keep them one memory operand
 * each instead of values the compiler rebuilds in the loop for lack of registers. */
#define KQ_E(e) (2 * (e)), (2 * (e) + 1)
#define KQ_LANE(e) KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e)
static const uint8_t k_same[8][32] __attribute__((aligned(32))) = {
    {KQ_LANE(0), KQ_LANE(0)}, {KQ_LANE(1), KQ_LANE(1)}, {KQ_LANE(2), KQ_LANE(2)},
    {KQ_LANE(3), KQ_LANE(3)}, {KQ_LANE(4), KQ_LANE(4)}, {KQ_LANE(5), KQ_LANE(5)},
    {KQ_LANE(6), KQ_LANE(6)}, {KQ_LANE(7), KQ_LANE(7)}};
static const uint8_t k_pair[4][32] __attribute__((aligned(32))) = {{KQ_LANE(0), KQ_LANE(1)},
                                                                   {KQ_LANE(2), KQ_LANE(3)},
                                                                   {KQ_LANE(4), KQ_LANE(5)},
                                                                   {KQ_LANE(6), KQ_LANE(7)}};
#undef KQ_LANE
#undef KQ_E

KQ_AVX2 static inline __m256i scale_same(__m256i sc, int e) {
    return _mm256_shuffle_epi8(sc, _mm256_load_si256((const __m256i *)k_same[e]));
}

KQ_AVX2 static inline __m256i scale_pair(__m256i sc, int k) {
    return _mm256_shuffle_epi8(sc, _mm256_load_si256((const __m256i *)k_pair[k]));
}

/* sum of 16 lanes-of-pairs products, scaled: madd(maddubs(q, y), scale) */
KQ_AVX2 static inline __m256i dot_scaled(__m256i q, const int8_t *y, __m256i scale) {
    __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)y));
    return _mm256_madd_epi16(p, scale);
}

/* ------------------------------------------------------------------------------ Q4_K */

KQ_AVX2 static void vec_dot_q4_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q4_K *x = vx;
    const bb_block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps();
    __m256 acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * half_to_float(x[i].d);
        const float dmin = -y[i].d * half_to_float(x[i].dmin);
        const __m128i sm = unpack_scales_mins(x[i].scales);

        acc_m = mins_term(sm, y[i].bsums, dmin, acc_m);

        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        const uint8_t *q = x[i].qs;
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int j = 0; j < QK_K / 64; j++, q += 32, q8 += 64) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)q);
            const __m256i lo = _mm256_and_si256(q4, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            const __m256i s0 = scale_same(sc, 2 * j);
            const __m256i s1 = scale_same(sc, 2 * j + 1);
            sumi = _mm256_add_epi32(sumi, dot_scaled(lo, q8, s0));
            sumi = _mm256_add_epi32(sumi, dot_scaled(hi, q8 + 32, s1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_ps(_mm256_add_ps(acc, acc_m));
}

/* ------------------------------------------------------------------------------ Q5_K */

KQ_AVX2 static void vec_dot_q5_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q5_K *x = vx;
    const bb_block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF), bit4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    __m256 acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * half_to_float(x[i].d);
        const float dmin = -y[i].d * half_to_float(x[i].dmin);
        const __m128i sm = unpack_scales_mins(x[i].scales);

        acc_m = mins_term(sm, y[i].bsums, dmin, acc_m);

        const __m256i sc = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm));
        const uint8_t *q = x[i].qs;
        const int8_t *q8 = y[i].qs;
        /* chunk j's fifth bits are bits 2j (low nibbles) and 2j+1 (high) of qh: shift them
         * down by 2 per chunk and move bits 0 and 1 to bit 4 */
        __m256i hb = _mm256_loadu_si256((const __m256i *)x[i].qh);
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int j = 0; j < QK_K / 64; j++, q += 32, q8 += 64) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)q);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(q4, m4),
                                               _mm256_and_si256(_mm256_slli_epi16(hb, 4), bit4));
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q4, 4), m4),
                                               _mm256_and_si256(_mm256_slli_epi16(hb, 3), bit4));
            hb = _mm256_srli_epi16(hb, 2);
            const __m256i s0 = scale_same(sc, 2 * j);
            const __m256i s1 = scale_same(sc, 2 * j + 1);
            sumi = _mm256_add_epi32(sumi, dot_scaled(lo, q8, s0));
            sumi = _mm256_add_epi32(sumi, dot_scaled(hi, q8 + 32, s1));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_ps(_mm256_add_ps(acc, acc_m));
}

/* ------------------------------------------------------------------------------ Q6_K */

KQ_AVX2 static void vec_dot_q6_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q6_K *x = vx;
    const bb_block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * half_to_float(x[i].d);
        /* quants are stored + 32: subtract 32 * sum_g scale_g * bsum_g at the end */
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        const __m256i bs = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 5));
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs;
#pragma GCC unroll 8
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128) {
            const __m256i sc = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)
                                 : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const __m256i la = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i lb = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i hv = _mm256_loadu_si256((const __m256i *)qh);
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(la, m4),
                                               _mm256_and_si256(_mm256_slli_epi16(hv, 4), m2));
            const __m256i q2 = _mm256_or_si256(_mm256_and_si256(lb, m4),
                                               _mm256_and_si256(_mm256_slli_epi16(hv, 2), m2));
            const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), m4),
                                               _mm256_and_si256(hv, m2));
            const __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), m4),
                                               _mm256_and_si256(_mm256_srli_epi16(hv, 2), m2));
            sumi = _mm256_add_epi32(sumi, dot_scaled(q1, q8, scale_pair(sc, 0)));
            sumi = _mm256_add_epi32(sumi, dot_scaled(q2, q8 + 32, scale_pair(sc, 1)));
            sumi = _mm256_add_epi32(sumi, dot_scaled(q3, q8 + 64, scale_pair(sc, 2)));
            sumi = _mm256_add_epi32(sumi, dot_scaled(q4, q8 + 96, scale_pair(sc, 3)));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_ps(acc);
}

/* ------------------------------------------------------------------------------ Q3_K */

KQ_AVX2 static void vec_dot_q3_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q3_K *x = vx;
    const bb_block_q8_K *y = vy;
    const __m256i m3 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * half_to_float(x[i].d);
        /* quants are coded as q + 4 with the third bit in hmask: subtract 4 * scale * bsum */
        const __m256i sc16 = _mm256_cvtepi8_epi16(unpack_q3_scales(x[i].scales));
        const __m256i bs = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_slli_epi32(_mm256_madd_epi16(sc16, bs), 2));
        __m256i hb = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        const uint8_t *q = x[i].qs;
        const int8_t *q8 = y[i].qs;
#pragma GCC unroll 8
        for (int h = 0; h < 2; h++, q += 32) {
            const __m256i sc = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)
                                 : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const __m256i q2 = _mm256_loadu_si256((const __m256i *)q);
#pragma GCC unroll 8
            for (int k = 0; k < 4; k++, q8 += 32) {
                /* bit 0 of each hmask byte belongs to this chunk; then shift the next in */
                const __m256i high = _mm256_slli_epi16(_mm256_and_si256(hb, one), 2);
                hb = _mm256_srli_epi16(hb, 1);
                const __m256i q3 =
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q2, 2 * k), m3), high);
                const __m256i scale = scale_pair(sc, k);
                sumi = _mm256_add_epi32(sumi, dot_scaled(q3, q8, scale));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_ps(acc);
}

/* ------------------------------------------------------------------------------ Q2_K */

KQ_AVX2 static void vec_dot_q2_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q2_K *x = vx;
    const bb_block_q8_K *y = vy;
    const __m128i m4 = _mm_set1_epi8(0xF);
    const __m256i m3 = _mm256_set1_epi8(3);
    __m256 acc = _mm256_setzero_ps(), acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * half_to_float(x[i].d);
        const float dmin = -y[i].d * half_to_float(x[i].dmin);
        const __m128i sv = _mm_loadu_si128((const __m128i *)x[i].scales);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sv, m4));
        const __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sv, 4), m4));
        const __m256i bs = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        acc_m = _mm256_fmadd_ps(_mm256_set1_ps(dmin),
                                _mm256_cvtepi32_ps(_mm256_madd_epi16(mins16, bs)), acc_m);
        const uint8_t *q = x[i].qs;
        const int8_t *q8 = y[i].qs;
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 8
        for (int h = 0; h < 2; h++, q += 32) {
            const __m256i sc = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)
                                 : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const __m256i q2 = _mm256_loadu_si256((const __m256i *)q);
#pragma GCC unroll 8
            for (int k = 0; k < 4; k++, q8 += 32) {
                const __m256i v = _mm256_and_si256(_mm256_srli_epi16(q2, 2 * k), m3);
                const __m256i scale = scale_pair(sc, k);
                sumi = _mm256_add_epi32(sumi, dot_scaled(v, q8, scale));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_ps(_mm256_add_ps(acc, acc_m));
}

/* ------------------------------------------------------------------------------ Q8_K */

/* Bit-identical to bb_kq_quantize_q8_K for finite input: the same scale (from the first
 * element of largest magnitude), the same product iscale * x, and vcvtps2dq rounds to nearest
 * even exactly as the reference's magic-number rounding does. */
KQ_AVX2 static void quantize_q8_K(const float *x, void *vy, int64_t n) {
    bb_block_q8_K *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        /* max(|x|, acc) keeps acc when x is NaN, as the reference's `>` does */
        __m256 vmax = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8)
            vmax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), vmax);
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const __m256 vamax = _mm256_set1_ps(amax);
        int first = 0;
        for (int j = 0; j < QK_K; j += 8) {
            __m256 ax = _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j));
            int mask = _mm256_movemask_ps(_mm256_cmp_ps(ax, vamax, _CMP_EQ_OQ));
            if (mask) {
                first = j + __builtin_ctz((unsigned)mask);
                break;
            }
        }
        const float iscale = -127.f / x[first];
        if (isinf(iscale)) {
            /* amax below 127 / FLT_MAX: the reference's rounding of inf and NaN products is
             * its own, so let it do this (tiny, never seen in practice) block */
            bb_kq_quantize_q8_K(x, &y[i], QK_K);
            continue;
        }
        const __m256 mul = _mm256_set1_ps(iscale);
        __m256i sums[4]; /* per 32 quants: 4 partial sums for each group of 16 */
#pragma GCC unroll 8
        for (int j = 0; j < QK_K; j += 32) {
            __m256i v0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j), mul));
            __m256i v1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 8), mul));
            __m256i v2 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 16), mul));
            __m256i v3 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + j + 24), mul));
            /* saturating packs clamp like the reference's MIN(127, v); the permute undoes
             * their per-lane interleave */
            __m256i q = _mm256_packs_epi16(_mm256_packs_epi32(v0, v1), _mm256_packs_epi32(v2, v3));
            q = _mm256_permutevar8x32_epi32(q, order);
            _mm256_storeu_si256((__m256i *)(y[i].qs + j), q);
            sums[(j / 32) % 4] = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
            if ((j / 32) % 4 == 3) {
                /* lanes of sums[c]: group 2c partials low, group 2c+1 high; two hadds and a
                 * permute give the 8 group sums in order */
                __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(sums[0], sums[1]),
                                              _mm256_hadd_epi32(sums[2], sums[3]));
                h = _mm256_permutevar8x32_epi32(h, order);
                __m128i s16 =
                    _mm_packs_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
                _mm_storeu_si128((__m128i *)(y[i].bsums + (j / 128) * 8), s16);
            }
        }
        y[i].d = 1 / iscale;
    }
}

#include "quant/kquants_x4_avx2.h"

void bb_quant_fill_kquants_avx2(bb_type_traits *t) {
    t[BB_TYPE_Q2_K].vec_dot = vec_dot_q2_K;
    t[BB_TYPE_Q3_K].vec_dot = vec_dot_q3_K;
    t[BB_TYPE_Q4_K].vec_dot = vec_dot_q4_K;
    t[BB_TYPE_Q5_K].vec_dot = vec_dot_q5_K;
    t[BB_TYPE_Q6_K].vec_dot = vec_dot_q6_K;
    t[BB_TYPE_Q8_K].from_float = quantize_q8_K;
    t[BB_TYPE_Q2_K].vec_dot_x4 = vec_dot_x4_q2_K;
    t[BB_TYPE_Q3_K].vec_dot_x4 = vec_dot_x4_q3_K;
    t[BB_TYPE_Q4_K].vec_dot_x4 = vec_dot_x4_q4_K;
    t[BB_TYPE_Q5_K].vec_dot_x4 = vec_dot_x4_q5_K;
    t[BB_TYPE_Q6_K].vec_dot_x4 = vec_dot_x4_q6_K;
}

#else

void bb_quant_fill_kquants_avx2(bb_type_traits *t) {
    (void)t;
}

#endif
