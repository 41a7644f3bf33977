/* Four-row versions (bb_vec_dot_x4_fn, quant.h) of legacy_x86_dot.h's block dot products:
 * one weight row against four activation rows, each weight block loaded and unpacked once.
 * Included after legacy_x86_dot.h by legacy_avx2.c and legacy_avx512.c, so both levels'
 * x4 kernels use that level's lx_dot, lx_nibbles, lx_high_bits and scale helpers.
 *
 * Batch invariance: output k must be bit-identical to lx_vec_dot on activation row k. The
 * float work is therefore lx_vec_dot's, step for step, with one set of accumulators per row:
 * the same scale products dx * dy per group of eight blocks, the same two FMA chains (even
 * and odd blocks), the same tail and the same final reduction. Only the integer block sums
 * are formed differently, and they are exact: the s32 lane j of a block's sum is
 * sum_{4 bytes of lane j} w * y whichever way it is computed, so every lane feeds the same
 * value into the same float steps.
 *
 * The integer saving: for Q4_0/Q5_0 the single kernel computes u . y - off . y (two u8 x s8
 * products per block); here the weights become signed codes w = u - off once per block, and
 * each row costs |w| . (y * sign(w)), one vpsignb and one product, as the Q8_0 kernel already
 * does. This is exact for activation codes in -127..127, the range the Q8_0 quantizers
 * produce (as the single Q8_0 kernel also requires): sign() cannot negate -128. */
#ifndef BB_QUANT_LEGACY_X86_DOT_X4_H
#define BB_QUANT_LEGACY_X86_DOT_X4_H

#include "quant/legacy_x86_dot.h"

/* A weight block as the u8 operand of lx_dot: |w| for the signed kinds, the codes u for
 * the kinds with a min; *w gets the signed codes whose signs are moved onto y. */
LX_INLINE __m256i lx_block_weights(enum lx_kind k, const uint8_t *xb, __m256i *w) {
    switch (k) {
    case LX_Q4_0:
        *w = _mm256_sub_epi8(lx_nibbles(((const block_q4_0 *)xb)->qs), _mm256_set1_epi8(8));
        return _mm256_sign_epi8(*w, *w);
    case LX_Q4_1:
        return lx_nibbles(((const block_q4_1 *)xb)->qs);
    case LX_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)xb;
        const __m256i q = _mm256_or_si256(lx_nibbles(b->qs), lx_high_bits(b->qh));
        *w = _mm256_sub_epi8(q, _mm256_set1_epi8(16));
        return _mm256_sign_epi8(*w, *w);
    }
    case LX_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)xb;
        return _mm256_or_si256(lx_nibbles(b->qs), lx_high_bits(b->qh));
    }
    case LX_Q8_0:
    default:
        *w = _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)xb)->qs);
        return _mm256_sign_epi8(*w, *w);
    }
}

/* The block's integer sums against one activation block: lanes equal lx_block_isum's. */
LX_INLINE __m256i lx_block_isum_w(enum lx_kind k, __m256i uw, __m256i w, const int8_t *yqs) {
    const __m256i qy = _mm256_loadu_si256((const __m256i *)yqs);
    if (lx_has_min(k)) return lx_dot(uw, qy);
    return lx_dot(uw, _mm256_sign_epi8(qy, w));
}

/* Per row, lx_vec_dot's scale products of a group of eight blocks (and the mins FMA). */
LX_INLINE void lx_scales8(enum lx_kind k, const uint8_t *yb, __m256 dx, __m256 mx, float *scale,
                          __m256 *mins) {
    const size_t ys = lx_has_min(k) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    _mm256_storeu_ps(scale, _mm256_mul_ps(dx, lx_halves8(yb, ys)));
    if (lx_has_min(k)) *mins = _mm256_fmadd_ps(mx, lx_halves8(yb + 2, ys), *mins);
}

/* Per row, one block of lx_vec_dot's main loop: acc += scale * isum. */
LX_INLINE void lx_fma_block(enum lx_kind k, __m256i uw, __m256i w, const uint8_t *yqs,
                            const float *scale, __m256 *acc) {
    const __m256i p = lx_block_isum_w(k, uw, w, (const int8_t *)yqs);
    *acc = _mm256_fmadd_ps(_mm256_broadcast_ss(scale), _mm256_cvtepi32_ps(p), *acc);
}

/* Per row, one block of lx_vec_dot's tail loop. */
LX_INLINE void lx_tail_block(enum lx_kind k, __m256i uw, __m256i w, const uint8_t *xb,
                             const uint8_t *yb, __m256 *acc0, float *tail_mins) {
    const size_t yq = lx_has_min(k) ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const __m256i p = lx_block_isum_w(k, uw, w, (const int8_t *)(yb + yq));
    *acc0 =
        _mm256_fmadd_ps(_mm256_set1_ps(lx_half(xb) * lx_half(yb)), _mm256_cvtepi32_ps(p), *acc0);
    if (lx_has_min(k)) *tail_mins += lx_half(xb + 2) * lx_half(yb + 2);
}

/* lx_vec_dot for rows y0..y3. The accumulators are separate variables rather than arrays,
 * which GCC would keep in memory. */
LX_INLINE void lx_vec_dot_x4(enum lx_kind k, int64_t n, float *s, const void *vx, const void *vy,
                             size_t y_stride) {
    const uint8_t *x = vx;
    const uint8_t *y0 = vy, *y1 = y0 + y_stride, *y2 = y1 + y_stride, *y3 = y2 + y_stride;
    const size_t xs = lx_x_size(k);
    const size_t ys = lx_has_min(k) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yq = lx_has_min(k) ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const int64_t nb = n / 32;
    const __m256 zero = _mm256_setzero_ps();
    __m256 a00 = zero, a01 = zero, a02 = zero, a03 = zero; /* acc0 of rows 0..3 */
    __m256 a10 = zero, a11 = zero, a12 = zero, a13 = zero; /* acc1 */
    __m256 m0 = zero, m1 = zero, m2 = zero, m3 = zero;     /* mins */
    float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;      /* tail_mins */
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        const uint8_t *xb = x + i * xs;
        for (size_t off = 0; off < 8 * xs; off += 64)
            _mm_prefetch((const char *)xb + LX_PREFETCH + off, _MM_HINT_T0);
        const __m256 dx = lx_halves8(xb, xs);
        const __m256 mx = lx_has_min(k) ? lx_halves8(xb + 2, xs) : dx;
        float scale[4][8] __attribute__((aligned(32)));
        lx_scales8(k, y0 + i * ys, dx, mx, scale[0], &m0);
        lx_scales8(k, y1 + i * ys, dx, mx, scale[1], &m1);
        lx_scales8(k, y2 + i * ys, dx, mx, scale[2], &m2);
        lx_scales8(k, y3 + i * ys, dx, mx, scale[3], &m3);
        /* GCC otherwise hoists the 32 addresses &scale[r][b] out of the loop and spills
         * them, a pointer reload before every broadcast; through an opaque base each is
         * base + constant */
        const float *sp = &scale[0][0];
        __asm__("" : "+r"(sp) : : "memory");
#pragma GCC unroll 4
        for (int b = 0; b < 8; b += 2) { /* even blocks into acc0, odd into acc1 */
            __m256i w = _mm256_setzero_si256();
            __m256i uw = lx_block_weights(k, xb + b * xs, &w);
            size_t o = (size_t)(i + b) * ys + yq;
            lx_fma_block(k, uw, w, y0 + o, sp + b, &a00);
            lx_fma_block(k, uw, w, y1 + o, sp + 8 + b, &a01);
            lx_fma_block(k, uw, w, y2 + o, sp + 16 + b, &a02);
            lx_fma_block(k, uw, w, y3 + o, sp + 24 + b, &a03);
            uw = lx_block_weights(k, xb + (b + 1) * xs, &w);
            o += ys;
            lx_fma_block(k, uw, w, y0 + o, sp + b + 1, &a10);
            lx_fma_block(k, uw, w, y1 + o, sp + 8 + b + 1, &a11);
            lx_fma_block(k, uw, w, y2 + o, sp + 16 + b + 1, &a12);
            lx_fma_block(k, uw, w, y3 + o, sp + 24 + b + 1, &a13);
        }
    }
    for (; i < nb; i++) {
        const uint8_t *xb = x + i * xs;
        __m256i w = _mm256_setzero_si256();
        const __m256i uw = lx_block_weights(k, xb, &w);
        lx_tail_block(k, uw, w, xb, y0 + i * ys, &a00, &t0);
        lx_tail_block(k, uw, w, xb, y1 + i * ys, &a01, &t1);
        lx_tail_block(k, uw, w, xb, y2 + i * ys, &a02, &t2);
        lx_tail_block(k, uw, w, xb, y3 + i * ys, &a03, &t3);
    }
    s[0] = lx_hsum(_mm256_add_ps(a00, a10)) + lx_hsum(m0) + t0;
    s[1] = lx_hsum(_mm256_add_ps(a01, a11)) + lx_hsum(m1) + t1;
    s[2] = lx_hsum(_mm256_add_ps(a02, a12)) + lx_hsum(m2) + t2;
    s[3] = lx_hsum(_mm256_add_ps(a03, a13)) + lx_hsum(m3) + t3;
}

static LX_TARGET void q4_0_vec_dot_x4(int64_t n, float *s, const void *x, const void *y,
                                      size_t y_stride) {
    lx_vec_dot_x4(LX_Q4_0, n, s, x, y, y_stride);
}
static LX_TARGET void q4_1_vec_dot_x4(int64_t n, float *s, const void *x, const void *y,
                                      size_t y_stride) {
    lx_vec_dot_x4(LX_Q4_1, n, s, x, y, y_stride);
}
static LX_TARGET void q5_0_vec_dot_x4(int64_t n, float *s, const void *x, const void *y,
                                      size_t y_stride) {
    lx_vec_dot_x4(LX_Q5_0, n, s, x, y, y_stride);
}
static LX_TARGET void q5_1_vec_dot_x4(int64_t n, float *s, const void *x, const void *y,
                                      size_t y_stride) {
    lx_vec_dot_x4(LX_Q5_1, n, s, x, y, y_stride);
}
static LX_TARGET void q8_0_vec_dot_x4(int64_t n, float *s, const void *x, const void *y,
                                      size_t y_stride) {
    lx_vec_dot_x4(LX_Q8_0, n, s, x, y, y_stride);
}

#endif
