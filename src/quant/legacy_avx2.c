/* AVX2 + FMA + F16C kernels for F32, F16, BF16 and the legacy block types.
 *
 * Every function carries its own target attribute: the library is built for baseline x86-64
 * and these are installed only when the CPU reports AVX2, FMA and F16C (see types.c).
 *
 * Block dot products: legacy_x86_dot.h, here with vpmaddubsw (u8 x s8 -> pairs of s16) and
 * vpmaddwd (-> s32). The float dot products keep four accumulators of 8 lanes.
 *
 * Q8_0/Q8_1 quantizers produce the reference's bytes exactly: the same amax, the same scale
 * and reciprocal computed in scalar, the same product, and roundf's ties-away rounding,
 * which AVX has no mode for, rebuilt from truncation. */
#include "quant/blocks_legacy.h"
#include "quant/quant_impl.h"

#include <immintrin.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

static inline AVX2 float h2f(uint16_t h) {
    return _cvtsh_ss(h);
}
/* Same bits as bb_fp32_to_fp16 (round to nearest even), without the call. */
static inline AVX2 uint16_t f2h(float f) {
    return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

static inline AVX2 float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline AVX2 int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/* ---- F32, F16, BF16 ------------------------------------------------------------------ */

static inline AVX2 __m256 load_f32x8(const void *p, int64_t i) {
    return _mm256_loadu_ps((const float *)p + i);
}

static inline AVX2 __m256 load_f16x8(const void *p, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
}

/* bf16 is the top half of a binary32: widening is a 16-bit shift, exact. */
static inline AVX2 __m256 load_bf16x8(const void *p, int64_t i) {
    const __m256i w =
        _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

typedef __m256 (*load8_fn)(const void *p, int64_t i);
typedef float (*load1_fn)(const void *p, int64_t i);

/* Shared body of the float dot products: `load` widens 8 elements at index i to floats,
 * `load1` one element (for the tail). Four independent accumulators cover the FMA latency.
 * (Separate variables, not an array: GCC keeps an array of vectors in memory.) */
static inline AVX2 __attribute__((always_inline)) float
float_dot(int64_t n, const void *x, const void *y, load8_fn load, load1_fn load1) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(load(x, i), load(y, i), a0);
        a1 = _mm256_fmadd_ps(load(x, i + 8), load(y, i + 8), a1);
        a2 = _mm256_fmadd_ps(load(x, i + 16), load(y, i + 16), a2);
        a3 = _mm256_fmadd_ps(load(x, i + 24), load(y, i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(load(x, i), load(y, i), a0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++)
        sum += load1(x, i) * load1(y, i);
    return sum;
}

static inline AVX2 float f32_1(const void *p, int64_t i) {
    return ((const float *)p)[i];
}
static inline AVX2 float f16_1(const void *p, int64_t i) {
    return h2f(((const uint16_t *)p)[i]);
}
static inline AVX2 float bf16_1(const void *p, int64_t i) {
    return bb_bf16_to_fp32(((const uint16_t *)p)[i]);
}

static AVX2 void f32_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = float_dot(n, x, y, load_f32x8, f32_1);
}

static AVX2 void f16_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = float_dot(n, x, y, load_f16x8, f16_1);
}

static AVX2 void bf16_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = float_dot(n, x, y, load_bf16x8, bf16_1);
}

static AVX2 void f16_to_float(const void *vx, float *y, int64_t n) {
    const uint16_t *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, load_f16x8(x, i));
    for (; i < n; i++)
        y[i] = h2f(x[i]);
}

/* vcvtps2ph with rounding mode 0 is IEEE round-to-nearest-even, as bb_fp32_to_fp16. */
static AVX2 void f16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = bb_fp32_to_fp16(x[i]);
}

static AVX2 void bf16_to_float(const void *vx, float *y, int64_t n) {
    const uint16_t *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, load_bf16x8(x, i));
    for (; i < n; i++)
        y[i] = bb_bf16_to_fp32(x[i]);
}

/* Eight floats to bf16 in 32-bit lanes, as bb_fp32_to_bf16: round to nearest even by adding
 * 0x7fff plus the lowest kept bit; NaNs are truncated and forced quiet instead. */
static inline AVX2 __m256i bf16_round8(__m256 f) {
    const __m256i u = _mm256_castps_si256(f);
    const __m256i abs = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    const __m256i nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff)));
    const __m256i quiet = _mm256_or_si256(u, _mm256_set1_epi32(64 << 16));
    return _mm256_srli_epi32(_mm256_blendv_epi8(rounded, quiet, nan), 16);
}

static AVX2 void bf16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        /* packus works per 128-bit lane: fix the quadword order afterwards */
        __m256i p = _mm256_packus_epi32(bf16_round8(_mm256_loadu_ps(x + i)),
                                        bf16_round8(_mm256_loadu_ps(x + i + 8)));
        _mm256_storeu_si256((__m256i *)(y + i),
                            _mm256_permute4x64_epi64(p, _MM_SHUFFLE(3, 1, 2, 0)));
    }
    for (; i < n; i++)
        y[i] = bb_fp32_to_bf16(x[i]);
}

/* ---- Q8_0 / Q8_1 quantization -------------------------------------------------------- */

/* roundf (ties away from zero) of floats of magnitude below 2^23. v - trunc(v) is exact. */
static inline AVX2 __m256 round_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
    const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    const __m256 one = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

/* Quantizes one block of 32 floats to int8 as the reference does; returns d, adds the sum
 * of the codes to *sum. */
static inline AVX2 __attribute__((always_inline)) float q8_block(const float *x, int8_t *q,
                                                                 int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 m =
        _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                      _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);

    const float d = amax / 127;
    float id = d ? 1.0f / d : 0.0f;
    if (id == __builtin_inff()) id = 0.0f; /* as the reference: d is 0 in fp16 anyway */
    const __m256 mul = _mm256_set1_ps(id);
    const __m256i i0 = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v0, mul)));
    const __m256i i1 = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v1, mul)));
    const __m256i i2 = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v2, mul)));
    const __m256i i3 = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v3, mul)));
    *sum += hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
    /* packs interleave 128-bit lanes: dwords come out in order 0 4 1 5 2 6 3 7 */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
    return d;
}

static AVX2 void q8_0_from_float(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sum = 0;
        y[i].d = f2h(q8_block(x + i * QK8_0, y[i].qs, &sum));
    }
}

static AVX2 void q8_0s_from_float(const float *x, void *vy, int64_t n) {
    block_q8_0s *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sum = 0;
        y[i].d = h2f(f2h(q8_block(x + i * QK8_0, y[i].qs, &sum)));
        y[i].s = sum;
    }
}

static AVX2 void q8_1_from_float(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int sum = 0;
        const float d = q8_block(x + i * QK8_1, y[i].qs, &sum);
        y[i].d = f2h(d);
        y[i].s = f2h((float)sum * d);
    }
}

/* ---- block dot products -------------------------------------------------------------- */

/* u8 x s8 products summed in pairs to s16 (no saturation for our operands: codes <= 31, or
 * |x| <= 127 against |y| <= 127) and then in 32-bit lanes. */
static inline AVX2 __m256i lx_dot(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* (u - off) . s: the offset is taken off in 16-bit lanes, before widening. */
static inline AVX2 __m256i lx_dot_off(__m256i u, __m256i s, __m256i off) {
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, s), _mm256_maddubs_epi16(off, s));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Byte j gets byte j / 8 of qh, keeps bit j % 8, and becomes 0x10 if it was set. */
static inline AVX2 __m256i lx_high_bits(const uint8_t qh[4]) {
    uint32_t bits;
    memcpy(&bits, qh, 4);
    const __m256i spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32((int)bits), _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                                         0x0202020202020202, 0x0303030303030303));
    const __m256i mask = _mm256_set1_epi64x((int64_t)0x8040201008040201ull);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, mask), mask);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

#define LX_TARGET AVX2
#include "quant/legacy_x86_dot.h"
#include "quant/legacy_x4_avx2.h"

void bb_quant_fill_legacy_avx2(bb_type_traits *t) {
    t[BB_TYPE_F32].vec_dot = f32_vec_dot;
    t[BB_TYPE_F16].vec_dot = f16_vec_dot;
    t[BB_TYPE_F16].to_float = f16_to_float;
    t[BB_TYPE_F16].from_float = f16_from_float;
    t[BB_TYPE_BF16].vec_dot = bf16_vec_dot;
    t[BB_TYPE_BF16].to_float = bf16_to_float;
    t[BB_TYPE_BF16].from_float = bf16_from_float;
    t[BB_TYPE_Q4_0].vec_dot = q4_0_vec_dot;
    t[BB_TYPE_Q4_0].vec_dot_x4 = q4_0_vec_dot_x4;
    t[BB_TYPE_Q4_1].vec_dot = q4_1_vec_dot;
    t[BB_TYPE_Q4_1].vec_dot_x4 = q4_1_vec_dot_x4;
    t[BB_TYPE_Q5_0].vec_dot = q5_0_vec_dot;
    t[BB_TYPE_Q5_0].vec_dot_x4 = q5_0_vec_dot_x4;
    t[BB_TYPE_Q5_1].vec_dot = q5_1_vec_dot;
    t[BB_TYPE_Q5_1].vec_dot_x4 = q5_1_vec_dot_x4;
    t[BB_TYPE_Q8_0].vec_dot = q8_0_vec_dot;
    t[BB_TYPE_Q8_0].vec_dot_x4 = q8_0_vec_dot_x4;
    t[BB_TYPE_Q8_0].from_float = q8_0_from_float;
    t[BB_TYPE_Q8_0S].from_float = q8_0s_from_float;
    t[BB_TYPE_Q8_1].from_float = q8_1_from_float;
    t[BB_TYPE_F16].vec_dot_x4 = f16_vec_dot_x4;
}
