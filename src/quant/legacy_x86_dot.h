/* Block dot products of the legacy types on x86, written once and compiled twice: by
 * legacy_avx2.c with vpmaddubsw + vpmaddwd, and by legacy_avx512.c with AVX512-VNNI's
 * vpdpbusd on 256-bit vectors. Before including this file, define:
 *   LX_TARGET                   the function attribute naming the target ISA
 *   lx_dot(u, s)                u8 x s8 products of 32 bytes summed into 8 s32 lanes
 *   lx_dot_off(u, s, off)       (u - off) . s likewise, for codes u and offset off <= 31
 *   lx_high_bits(qh)            the 32 bits of a Q5 qh as bytes 0x10 (set) or 0 (clear)
 * It defines static q4_0_vec_dot, q4_1_vec_dot, q5_0_vec_dot, q5_1_vec_dot, q8_0_vec_dot.
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

/* The integer dot product of one weight block with 32 activation codes, in 8 lanes. */
LX_INLINE __m256i lx_block_isum(enum lx_kind k, const uint8_t *xb, const int8_t *yqs) {
    const __m256i qy = _mm256_loadu_si256((const __m256i *)yqs);
    switch (k) {
    case LX_Q4_0:
        return lx_dot_off(lx_nibbles(((const block_q4_0 *)xb)->qs), qy, _mm256_set1_epi8(8));
    case LX_Q4_1:
        return lx_dot(lx_nibbles(((const block_q4_1 *)xb)->qs), qy);
    case LX_Q5_0: {
        const block_q5_0 *b = (const block_q5_0 *)xb;
        const __m256i q = _mm256_or_si256(lx_nibbles(b->qs), lx_high_bits(b->qh));
        return lx_dot_off(q, qy, _mm256_set1_epi8(16));
    }
    case LX_Q5_1: {
        const block_q5_1 *b = (const block_q5_1 *)xb;
        return lx_dot(_mm256_or_si256(lx_nibbles(b->qs), lx_high_bits(b->qh)), qy);
    }
    case LX_Q8_0:
    default: {
        const __m256i qx = _mm256_loadu_si256((const __m256i *)((const block_q8_0 *)xb)->qs);
        return lx_dot(_mm256_sign_epi8(qx, qx), _mm256_sign_epi8(qy, qx));
    }
    }
}

/* sum over blocks of dx * dy * isum (+ mx * sy for the types with a min). The scale (d) of
 * every block type and of Q8_0/Q8_1 is at offset 0, the min (m) and Q8_1's s at offset 2. */
_Static_assert(offsetof(block_q4_1, m) == 2 && offsetof(block_q5_1, m) == 2 &&
                   offsetof(block_q8_1, s) == 2,
               "lx_vec_dot reads m and s at offset 2");
LX_INLINE float lx_vec_dot(enum lx_kind k, int64_t n, const void *vx, const void *vy) {
    const uint8_t *x = vx, *y = vy;
    const size_t xs = lx_x_size(k);
    const size_t ys = lx_has_min(k) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t yq = lx_has_min(k) ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs);
    const int64_t nb = n / 32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), mins = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= nb; i += 8) {
        const uint8_t *xb = x + i * xs, *yb = y + i * ys;
        for (size_t off = 0; off < 8 * xs; off += 64)
            _mm_prefetch((const char *)xb + LX_PREFETCH + off, _MM_HINT_T0);
        float scale[8];
        _mm256_storeu_ps(scale, _mm256_mul_ps(lx_halves8(xb, xs), lx_halves8(yb, ys)));
        if (lx_has_min(k))
            mins = _mm256_fmadd_ps(lx_halves8(xb + 2, xs), lx_halves8(yb + 2, ys), mins);
        for (int b = 0; b < 8; b += 2) { /* two chains: one fma's latency > a block's work */
            const __m256i p0 = lx_block_isum(k, xb + b * xs, (const int8_t *)(yb + b * ys + yq));
            acc0 = _mm256_fmadd_ps(_mm256_broadcast_ss(scale + b), _mm256_cvtepi32_ps(p0), acc0);
            const __m256i p1 =
                lx_block_isum(k, xb + (b + 1) * xs, (const int8_t *)(yb + (b + 1) * ys + yq));
            acc1 =
                _mm256_fmadd_ps(_mm256_broadcast_ss(scale + b + 1), _mm256_cvtepi32_ps(p1), acc1);
        }
    }
    float tail_mins = 0.0f;
    for (; i < nb; i++) {
        const uint8_t *xb = x + i * xs, *yb = y + i * ys;
        const __m256i p = lx_block_isum(k, xb, (const int8_t *)(yb + yq));
        acc0 =
            _mm256_fmadd_ps(_mm256_set1_ps(lx_half(xb) * lx_half(yb)), _mm256_cvtepi32_ps(p), acc0);
        if (lx_has_min(k)) tail_mins += lx_half(xb + 2) * lx_half(yb + 2);
    }
    return lx_hsum(_mm256_add_ps(acc0, acc1)) + lx_hsum(mins) + tail_mins;
}

static LX_TARGET void q4_0_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = lx_vec_dot(LX_Q4_0, n, x, y);
}
static LX_TARGET void q4_1_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = lx_vec_dot(LX_Q4_1, n, x, y);
}
static LX_TARGET void q5_0_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = lx_vec_dot(LX_Q5_0, n, x, y);
}
static LX_TARGET void q5_1_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = lx_vec_dot(LX_Q5_1, n, x, y);
}
static LX_TARGET void q8_0_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = lx_vec_dot(LX_Q8_0, n, x, y);
}

#endif
