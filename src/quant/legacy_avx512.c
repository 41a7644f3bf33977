/* AVX-512 kernels for F32, F16, BF16 and the legacy block types.
 *
 * Installed on top of the AVX2 table when the CPU has AVX-512 F/BW/VL/DQ (types.c); what is
 * not replaced here keeps its AVX2 kernel. The float dot products use 512-bit FMAs with
 * masked tails; the Q8 quantizers are bit-identical to the reference (see legacy_avx2.c).
 *
 * The block dot products (legacy_x86_dot.h) use AVX512-VNNI's vpdpbusd (u8 x s8, four
 * products summed into each 32-bit lane) on 256-bit vectors, so they are installed only when
 * __builtin_cpu_supports("avx512vnni") says so; without it the AVX2 kernels stay. 256 bits
 * rather than 512: a 512-bit version (two blocks per register) was slower here, its block
 * pairing and scale vectors all needing the one 512-bit shuffle port, and these kernels are
 * bound by memory, not by multiply width.
 *
 * BF16 products are formed by widening to binary32 (exact) rather than with AVX512-BF16's
 * vdpbf16ps, which treats subnormal inputs as zero and so would not be a faithful twin of
 * the reference. */
#include "quant/blocks_legacy.h"
#include "quant/quant_impl.h"

#include <immintrin.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

/* Same bits as bb_fp32_to_fp16 (round to nearest even), without the call. */
static inline AVX512 uint16_t f2h(float f) {
    return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

/* Mask of the first r (< 16 or < 32) lanes. */
static inline AVX512 __mmask16 first16(int64_t r) {
    return (__mmask16)((1u << r) - 1);
}

/* ---- F32, F16, BF16 ------------------------------------------------------------------ */

static inline AVX512 __m512 load_f16x16(const uint16_t *p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

/* bf16 is the top half of a binary32: widening is a 16-bit shift, exact. */
static inline AVX512 __m512 load_bf16x16(const uint16_t *p, __mmask16 m) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

typedef __m512 (*load16_fn)(const void *base, int64_t i, __mmask16 m);

static inline AVX512 __m512 load_f32(const void *base, int64_t i, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, (const float *)base + i);
}
static inline AVX512 __m512 load_f16(const void *base, int64_t i, __mmask16 m) {
    return load_f16x16((const uint16_t *)base + i, m);
}
static inline AVX512 __m512 load_bf16(const void *base, int64_t i, __mmask16 m) {
    return load_bf16x16((const uint16_t *)base + i, m);
}

/* One body for the three float dot products, 64 elements per step in four accumulators;
 * masked-off lanes load as zeros and add nothing. */
static inline AVX512 __attribute__((always_inline)) float float_dot(int64_t n, const void *x,
                                                                    const void *y, load16_fn load) {
    const __mmask16 all = 0xFFFF;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(load(x, i, all), load(y, i, all), a0);
        a1 = _mm512_fmadd_ps(load(x, i + 16, all), load(y, i + 16, all), a1);
        a2 = _mm512_fmadd_ps(load(x, i + 32, all), load(y, i + 32, all), a2);
        a3 = _mm512_fmadd_ps(load(x, i + 48, all), load(y, i + 48, all), a3);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? all : first16(n - i);
        a0 = _mm512_fmadd_ps(load(x, i, m), load(y, i, m), a0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static AVX512 void f32_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = float_dot(n, x, y, load_f32);
}

static AVX512 void f16_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = float_dot(n, x, y, load_f16);
}

static AVX512 void bf16_vec_dot(int64_t n, float *s, const void *x, const void *y) {
    *s = float_dot(n, x, y, load_bf16);
}

static AVX512 void f16_to_float(const void *vx, float *y, int64_t n) {
    const uint16_t *x = vx;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xFFFF : first16(n - i);
        _mm512_mask_storeu_ps(y + i, m, load_f16x16(x + i, m));
    }
}

/* vcvtps2ph with rounding mode 0 is IEEE round-to-nearest-even, as bb_fp32_to_fp16. */
static AVX512 void f16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? 0xFFFF : first16(n - i);
        const __m256i h =
            _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_mask_storeu_epi16(y + i, m, h);
    }
}

/* ---- Q8_0 / Q8_1 quantization -------------------------------------------------------- */

/* roundf (ties away from zero) of floats of magnitude below 2^23. v - trunc(v) is exact. */
static inline AVX512 __m512 round_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_or_ps(_mm512_and_ps(v, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f));
    return _mm512_mask_add_ps(t, up, t, one);
}

/* One block of 32 floats to int8 exactly as the reference; returns d and the codes' sum. */
static inline AVX512 __attribute__((always_inline)) float q8_block(const float *x, int8_t *q,
                                                                   int *sum) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127;
    float id = d ? 1.0f / d : 0.0f;
    if (id == __builtin_inff()) id = 0.0f; /* as the reference: d is 0 in fp16 anyway */
    const __m512 mul = _mm512_set1_ps(id);
    const __m512i i0 = _mm512_cvtps_epi32(round_away(_mm512_mul_ps(v0, mul)));
    const __m512i i1 = _mm512_cvtps_epi32(round_away(_mm512_mul_ps(v1, mul)));
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(i1));
    return d;
}

static AVX512 void q8_0_from_float(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sum;
        y[i].d = f2h(q8_block(x + i * QK8_0, y[i].qs, &sum));
    }
}

static AVX512 void q8_1_from_float(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        int sum;
        const float d = q8_block(x + i * QK8_1, y[i].qs, &sum);
        y[i].d = f2h(d);
        y[i].s = f2h((float)sum * d);
    }
}

/* ---- block dot products (VNNI) ------------------------------------------------------- */

static inline VNNI __m256i lx_dot(__m256i u, __m256i s) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
}

static inline VNNI __m256i lx_dot_off(__m256i u, __m256i s, __m256i off) {
    return _mm256_sub_epi32(lx_dot(u, s), lx_dot(off, s));
}

/* qh is a byte mask as it stands: one masked move makes bit j into byte j = 0x10. */
static inline VNNI __m256i lx_high_bits(const uint8_t qh[4]) {
    uint32_t bits;
    memcpy(&bits, qh, 4);
    return _mm256_maskz_mov_epi8((__mmask32)bits, _mm256_set1_epi8(0x10));
}

#define LX_TARGET VNNI
#include "quant/legacy_x86_dot.h"
#include "quant/legacy_x4_avx512.h"

void bb_quant_fill_legacy_avx512(bb_type_traits *t) {
    /* types.c checks F, BW, VL, AVX2 and FMA; these kernels also use DQ (and F16C, which
     * every AVX2 CPU has), which every CPU with AVX512BW has, but a hypervisor may hide it. */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512dq")) return;
    t[BB_TYPE_F32].vec_dot = f32_vec_dot;
    t[BB_TYPE_F16].vec_dot = f16_vec_dot;
    t[BB_TYPE_F16].vec_dot_x4 = f16_vec_dot_x4;
    t[BB_TYPE_F16].to_float = f16_to_float;
    t[BB_TYPE_F16].from_float = f16_from_float;
    t[BB_TYPE_BF16].vec_dot = bf16_vec_dot;
    t[BB_TYPE_Q8_0].from_float = q8_0_from_float;
    t[BB_TYPE_Q8_1].from_float = q8_1_from_float;
    if (__builtin_cpu_supports("avx512vnni")) {
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
    }
}
