/* Block dot products of the legacy types on x86, written once and compiled twice: by
 * legacy_avx2.c with vpmaddubsw + vpmaddwd, and by legacy_avx512.c with AVX512-VNNI's
 * vpdpbusd on 256-bit vectors. Before including this file, define:
 *   LX_TARGET                   the function attribute naming the target ISA
 *   lx_dot(u, s)                u8 x s8 products of 32 bytes summed into 8 s32 lanes
 *   lx_dot_off(u, s, off)       (u - off) . s likewise, for codes u and offset off <= 31
 *   lx_high_bits(qh)            the 32 bits of a Q5 qh as bytes 0x10 (set) or 0 (clear)
 * It defines static NAME_vec_dot and NAME_vec_dot_x4 for NAME = q4_0, q4_1, q5_0, q5_1, q8_0.
 *
 * As in ggml, each block's sum of products is exact in integers and only the block total is
 * scaled in float, so results differ from the scalar reference only in the order of float
 * additions. Q4/Q5 codes are unsigned and go in the u8 operand as they are; their offset is
 * removed as off * sum(y). Q8_0 x Q8_0 uses |x| . (y * sign(x)), exact for codes in
 * -127..127, the range the quantizers produce.
 *
 * Decode streams every weight once, so two things matter beyond the integer work:
 * - Scales: converting each block's two fp16 scales on its own (vcvtph2ps, multiply,
 *   broadcast) costs as much as the integer work of a Q4_0 block. We convert eight blocks'
 *   scales with one vcvtph2ps per operand and broadcast them from memory, which uses only
 *   the load ports.
 * - Prefetch: with rows streamed from DRAM, the hardware prefetchers alone left Q4_0 at a
 *   third of its in-cache speed on our test machine; an explicit prefetch LX_PREFETCH bytes
 *   ahead (into the next row, which matrix products read next) restores it. */
#ifndef BB_QUANT_LEGACY_X86_DOT_H
#define BB_QUANT_LEGACY_X86_DOT_H

#include "quant/blocks_legacy.h"

#include <immintrin.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define LX_PREFETCH 2048
#define LX_INLINE static inline LX_TARGET __attribute__((always_inline))

enum lx_kind { LX_Q4_0, LX_Q4_1, LX_Q5_0, LX_Q5_1, LX_Q8_0 };

LX_INLINE float lx_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 16 packed bytes -> 32 codes in block order: low nibbles (elements 0..15), then high. The
 * broadcast load and the per-lane shift keep this off the shuffle port. */
LX_INLINE __m256i lx_nibbles(const uint8_t *qs) {
    const __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    return _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4)),
                            _mm256_set1_epi8(0x0F));
}

/* Eight fp16 values `stride` bytes apart, as floats. */
LX_INLINE __m256 lx_halves8(const uint8_t *p, size_t stride) {
    uint16_t h[8];
    for (int k = 0; k < 8; k++)
        memcpy(&h[k], p + k * stride, 2);
    return _mm256_cvtph_ps(_mm_setr_epi16((short)h[0], (short)h[1], (short)h[2], (short)h[3],
                                          (short)h[4], (short)h[5], (short)h[6], (short)h[7]));
}

LX_INLINE float lx_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline size_t lx_x_size(enum lx_kind k) {
    static const size_t size[] = {sizeof(block_q4_0), sizeof(block_q4_1), sizeof(block_q5_0),
                                  sizeof(block_q5_1), sizeof(block_q8_0)};
    return size[k];
}

static inline bool lx_has_min(enum lx_kind k) {
    return k == LX_Q4_1 || k == LX_Q5_1;
}

/* One weight block's 32 codes, unpacked once for every activation row it meets. With
 * `centered` (the x4 kernels), Q4_0/Q5_0 codes come back minus their offset, as signed
 * bytes w, so that each row then costs one product |w| . (y * sign(w)) as Q8_0 does instead
 * of two (u . y and off . y). The s32 lanes are the same exact integers either way (for
 * activation codes in -127..127, see above), so single and x4 kernels still agree bit for
 * bit; the single kernels keep the form that is cheaper for one row. */
LX_INLINE __m256i lx_unpack(enum lx_kind k, const uint8_t *xb, bool centered) {
    switch (k) {
    case LX_Q4_0: {
        const __m256i q = lx_nibbles(((const block_q4_0 *)xb)->qs);
        return centered ? _mm256_sub_epi8(q, _mm256_set1_epi8(8)) : q;
    }
    case LX_Q4_1:
        return lx_nibbles(((const block_q4_1 *)xb)->qs);
    case LX_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)xb;
        const __m256i q = _mm256_or_si256(lx_nibbles(b->qs), lx_high_bits(b->qh));
        return centered ? _mm256_sub_epi8(q, _mm256_set1_epi8(16)) : q;
    }
    case LX_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)xb;
        return _mm256_or_si256(lx_nibbles(b->qs), lx_high_bits(b->qh));
    }
    case LX_Q8_0:
    default:
        return _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)xb)->qs);
    }
}

/* The integer dot product of unpacked weight codes q with 32 activation codes, in 8 lanes. */
LX_INLINE __m256i lx_isum(enum lx_kind k, __m256i q, const uint8_t *yqs, bool centered) {
    const __m256i qy = _mm256_loadu_si256((const __m256i *)yqs);
    switch (k) {
    case LX_Q4_0:
    case LX_Q5_0:
        if (centered) return lx_dot(_mm256_sign_epi8(q, q), _mm256_sign_epi8(qy, q));
        return lx_dot_off(q, qy, _mm256_set1_epi8(k == LX_Q4_0 ? 8 : 16));
    case LX_Q4_1:
    case LX_Q5_1:
        return lx_dot(q, qy);
    case LX_Q8_0:
    default:
        return lx_dot(_mm256_sign_epi8(q, q), _mm256_sign_epi8(qy, q));
    }
}

/* (The loops over r are unrolled so that the accumulator arrays live in registers.) */
/* s[r] = sum over blocks of dx * dy_r * isum (+ mx * sy_r for the types with a min), for R
 * activation rows y + r * y_stride (R = 1 or 4, a constant after inlining). Every row goes
 * through the same operations in the same order whatever R is, so vec_dot_x4 gives the
 * same bits as four vec_dot calls. The scale (d) of every block type and of Q8_0/Q8_1 is at
 * offset 0, the min (m) and Q8_1's s at offset 2. */
_Static_assert(offsetof(block_q4_1, m) == 2 && offsetof(block_q5_1, m) == 2 &&
                   offsetof(block_q8_1, s) == 2,
               "lx_dot_rows reads m and s at offset 2");
LX_INLINE void lx_dot_rows(enum lx_kind k, int R, int64_t n, const void *vx, const void *vy,
                           size_t y_stride, float *s) {
    const uint8_t *x = vx;
    const size_t xs = lx_x_size(k);
    const size_t ys = lx_has_min(k) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yq = lx_has_min(k) ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const int64_t nb = n / 32;
    const bool centered = R > 1;
    const uint8_t *y[4];
    __m256 acc0[4], acc1[4], mins[4];
    __m128 tail_mins[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        y[r] = (const uint8_t *)vy + r * y_stride;
        acc0[r] = acc1[r] = mins[r] = _mm256_setzero_ps();
        tail_mins[r] = _mm_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        const uint8_t *xb = x + i * xs;
        for (size_t off = 0; off < 8 * xs; off += 64)
            _mm_prefetch((const char *)xb + LX_PREFETCH + off, _MM_HINT_T0);
        const __m256 dx = lx_halves8(xb, xs);
        const __m256 mx = lx_has_min(k) ? lx_halves8(xb + 2, xs) : _mm256_setzero_ps();
        float scale[4][8];
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *yb = y[r] + i * ys;
            _mm256_storeu_ps(scale[r], _mm256_mul_ps(dx, lx_halves8(yb, ys)));
            if (lx_has_min(k)) mins[r] = _mm256_fmadd_ps(mx, lx_halves8(yb + 2, ys), mins[r]);
        }
        for (int b = 0; b < 8; b += 2) { /* two chains: one fma's latency > a block's work */
            const __m256i q0 = lx_unpack(k, xb + b * xs, centered);
            const __m256i q1 = lx_unpack(k, xb + (b + 1) * xs, centered);
#pragma GCC unroll 4
            for (int r = 0; r < R; r++) {
                const uint8_t *yb = y[r] + (i + b) * ys + yq;
                const __m256 p0 = _mm256_cvtepi32_ps(lx_isum(k, q0, yb, centered));
                acc0[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r][b]), p0, acc0[r]);
                const __m256 p1 = _mm256_cvtepi32_ps(lx_isum(k, q1, yb + ys, centered));
                acc1[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(&scale[r][b + 1]), p1, acc1[r]);
            }
        }
    }
    for (; i < nb; i++) {
        const uint8_t *xb = x + i * xs;
        const __m256i q = lx_unpack(k, xb, centered);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const uint8_t *yb = y[r] + i * ys;
            const __m256 p = _mm256_cvtepi32_ps(lx_isum(k, q, yb + yq, centered));
            acc0[r] = _mm256_fmadd_ps(_mm256_set1_ps(lx_half(xb) * lx_half(yb)), p, acc0[r]);
            if (lx_has_min(k))
                tail_mins[r] = _mm_fmadd_ss(_mm_set_ss(lx_half(xb + 2)),
                                            _mm_set_ss(lx_half(yb + 2)), tail_mins[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        s[r] = lx_hsum(_mm256_add_ps(acc0[r], acc1[r])) + lx_hsum(mins[r]) +
               _mm_cvtss_f32(tail_mins[r]);
}

#define LX_KERNELS(name, kind)                                                                     \
    static LX_TARGET void name##_vec_dot(int64_t n, float *s, const void *x, const void *y) {      \
        lx_dot_rows(kind, 1, n, x, y, 0, s);                                                       \
    }                                                                                              \
    static LX_TARGET void name##_vec_dot_x4(int64_t n, float *s, const void *x, const void *y,     \
                                            size_t y_stride) {                                     \
        lx_dot_rows(kind, 4, n, x, y, y_stride, s);                                                \
    }

LX_KERNELS(q4_0, LX_Q4_0)
LX_KERNELS(q4_1, LX_Q4_1)
LX_KERNELS(q5_0, LX_Q5_0)
LX_KERNELS(q5_1, LX_Q5_1)
LX_KERNELS(q8_0, LX_Q8_0)

#endif
