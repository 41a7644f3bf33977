/*
 * AVX-512 kernels for the K-quants (AVX512F + BW + VL): the scheme of kquants_avx2.c
 * (unpack quants to bytes, vpmaddubsw with the int8 activations, vpmaddwd with the
 * sub-block scales, offsets through Q8_K's bsums, one float FMA per super-block) on 64-byte
 * vectors. Each 64-byte vector of quants is built to match 64 *contiguous* activations, so
 * the activation side is one plain load; the shuffling happens on the (smaller) weight side,
 * mostly as a 32-byte broadcast load plus per-half variable shifts.
 *
 * Where the CPU also has AVX512_VNNI (checked with __builtin_cpu_supports, as the baseline
 * AVX-512 level does not imply it), vpdpwssd fuses the scale multiply with the accumulation.
 * The kernels are written once (an always-inline body taking a constant `vnni` flag) and
 * instantiated twice; the one VNNI instruction is emitted with inline assembly so that the
 * shared body compiles for the plain AVX-512 target.
 *
 * Q2_K stays on the AVX2 kernel: on the Sapphire Rapids we measured, 512-bit integer
 * multiplies issue on one port instead of two, and Q2_K has too little unpacking work per
 * multiply for the wider vectors to win it back (see tests/test_kquants.c BB_QUANT_BENCH).
 * Q8_K quantization stays AVX2 likewise (same speed; it is a small part of a matmul).
 */
#include "quant/blocks_k.h"
#include "quant/quant_impl.h"
#include "quant/quant_x4.h"

#if defined(__x86_64__) || defined(__i386__)

#include "quant/kquants_x86.h"

/* no avx512dq: types.c enables this level on F + BW + VL, and the compiler would otherwise
 * pick DQ-only forms (vextracti64x2) for plain intrinsics */
#define KQ_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define KQ_INLINE KQ_AVX512 static inline __attribute__((always_inline))

/* vpshufb controls over a vector whose four 128-bit lanes each hold the same 8 int16
 * scales: k_chunk[j] gives element 2j to lanes 0-1 and 2j+1 to lanes 2-3 (Q4_K/Q5_K chunks
 * of 64 weights); k_quad[h] gives elements 4h..4h+3 to lanes 0..3 (four 16-weight groups).
 * Tables keep them memory operands (see kquants_avx2.c). */
#define KQ_E(e) (2 * (e)), (2 * (e) + 1)
#define KQ_LANE(e) KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e), KQ_E(e)
static const uint8_t k_chunk[4][64]
    __attribute__((aligned(64))) = {{KQ_LANE(0), KQ_LANE(0), KQ_LANE(1), KQ_LANE(1)},
                                    {KQ_LANE(2), KQ_LANE(2), KQ_LANE(3), KQ_LANE(3)},
                                    {KQ_LANE(4), KQ_LANE(4), KQ_LANE(5), KQ_LANE(5)},
                                    {KQ_LANE(6), KQ_LANE(6), KQ_LANE(7), KQ_LANE(7)}};
static const uint8_t k_quad[2][64]
    __attribute__((aligned(64))) = {{KQ_LANE(0), KQ_LANE(1), KQ_LANE(2), KQ_LANE(3)},
                                    {KQ_LANE(4), KQ_LANE(5), KQ_LANE(6), KQ_LANE(7)}};
#undef KQ_LANE
#undef KQ_E

KQ_INLINE __m512i scale_chunk(__m512i sc, int j) {
    return _mm512_shuffle_epi8(sc, _mm512_load_si512((const void *)k_chunk[j]));
}

KQ_INLINE __m512i scale_quad(__m512i sc, int h) {
    return _mm512_shuffle_epi8(sc, _mm512_load_si512((const void *)k_quad[h]));
}

/* [lo | hi] as one 64-byte vector */
KQ_INLINE __m512i concat256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* 32 bytes in both halves of a vector (a load-port broadcast, no shuffle) */
KQ_INLINE __m512i load_both_halves(const uint8_t *p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

/* acc + madd(maddubs(q, y), scale) over 64 quants; y is loaded here */
KQ_INLINE __m512i dot_acc(__m512i acc, __m512i q, const int8_t *y, __m512i scale, bool vnni) {
    const __m512i p = _mm512_maddubs_epi16(q, _mm512_loadu_si512((const void *)y));
    if (vnni) {
        __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(p), "v"(scale));
        return acc;
    }
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p, scale));
}

/* Q3_K/Q6_K: the integer sum starts at -(offset) * sum_g scale_g * bsum_g */
KQ_INLINE __m512i offset_start(__m256i sc16, const int16_t *bsums, int log2_offset) {
    const __m256i bs = _mm256_loadu_si256((const __m256i *)bsums);
    const __m256i off =
        _mm256_sll_epi32(_mm256_madd_epi16(sc16, bs), _mm_cvtsi32_si128(log2_offset));
    return concat256(_mm256_sub_epi32(_mm256_setzero_si256(), off), _mm256_setzero_si256());
}

KQ_INLINE float reduce_with(__m512 acc, __m256 acc_m) {
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1));
    return hsum_ps(_mm256_add_ps(_mm256_add_ps(_mm512_castps512_ps256(acc), hi), acc_m));
}

/* ------------------------------------------------------------------------ Q4_K, Q5_K */

/* Chunk j (64 weights, 32 bytes of qs) with qs in both halves, the high half shifted down 4,
 * is [low nibbles | high nibbles] = weights 64j..64j+63 in order. Q5_K's fifth bits of
 * chunk j are bits 2j (low half) and 2j+1 (high half) of qh: with qh in both halves,
 * shifted down 2j as we go, move bit 0 / bit 1 to bit 4. */
KQ_INLINE float dot_q45_K(int64_t n, const void *vx, const bb_block_q8_K *y, bool q5, bool vnni) {
    const __m512i m4 = _mm512_set1_epi8(0xF), bit4 = _mm512_set1_epi8(0x10);
    const __m512i nib_shift = concat256(_mm256_setzero_si256(), _mm256_set1_epi16(4));
    const __m512i to_bit4 = concat256(_mm256_set1_epi16(4), _mm256_set1_epi16(3));
    const bb_block_q4_K *x4 = vx; /* q5 is a constant, so only one of these is used */
    const bb_block_q5_K *x5 = vx;
    __m512 acc = _mm512_setzero_ps();
    __m256 acc_m = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const uint8_t *qs = q5 ? x5[i].qs : x4[i].qs;
        const float d = y[i].d * half_to_float(q5 ? x5[i].d : x4[i].d);
        const float dmin = -y[i].d * half_to_float(q5 ? x5[i].dmin : x4[i].dmin);
        const __m128i sm = unpack_scales_mins(q5 ? x5[i].scales : x4[i].scales);
        acc_m = mins_term(sm, y[i].bsums, dmin, acc_m);
        const __m512i sc = _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(sm));
        __m512i hb = q5 ? load_both_halves(x5[i].qh) : m4;
        __m512i sumi = _mm512_setzero_si512();
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
            __m512i q =
                _mm512_and_si512(_mm512_srlv_epi16(load_both_halves(qs + 32 * j), nib_shift), m4);
            if (q5) {
                q = _mm512_or_si512(q, _mm512_and_si512(_mm512_sllv_epi16(hb, to_bit4), bit4));
                hb = _mm512_srli_epi16(hb, 2);
            }
            sumi = dot_acc(sumi, q, y[i].qs + 64 * j, scale_chunk(sc, j), vnni);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return reduce_with(acc, acc_m);
}

KQ_AVX512 static void vec_dot_q4_K(int64_t n, float *s, const void *x, const void *y) {
    *s = dot_q45_K(n, x, y, false, false);
}

KQ_AVX512 static void vec_dot_q5_K(int64_t n, float *s, const void *x, const void *y) {
    *s = dot_q45_K(n, x, y, true, false);
}

KQ_AVX512 static void vec_dot_q4_K_vnni(int64_t n, float *s, const void *x, const void *y) {
    *s = dot_q45_K(n, x, y, false, true);
}

KQ_AVX512 static void vec_dot_q5_K_vnni(int64_t n, float *s, const void *x, const void *y) {
    *s = dot_q45_K(n, x, y, true, true);
}

/* ------------------------------------------------------------------------------ Q6_K */

/* Per half of 128 weights, ql's 64 bytes are already [weights 0-31 | 32-63] in their low
 * nibbles and [64-95 | 96-127] in their high nibbles; qh in both 32-byte halves supplies the
 * high bit pairs (bits 0-1 / 2-3 for the first vector, 4-5 / 6-7 for the second). */
KQ_INLINE float dot_q6_K(int64_t n, const bb_block_q6_K *x, const bb_block_q8_K *y, bool vnni) {
    const __m512i m4 = _mm512_set1_epi8(0xF), m2 = _mm512_set1_epi8(0x30);
    const __m512i shl_a = concat256(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    const __m512i shr_b = concat256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * half_to_float(x[i].d);
        /* quants are stored + 32 */
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m512i sumi = offset_start(sc16, y[i].bsums, 5);
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
            const int8_t *q8 = y[i].qs + 128 * h;
            sumi = dot_acc(sumi, qa, q8, scale_quad(sc, 0), vnni);
            sumi = dot_acc(sumi, qb, q8 + 64, scale_quad(sc, 1), vnni);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return reduce_with(acc, _mm256_setzero_ps());
}

KQ_AVX512 static void vec_dot_q6_K(int64_t n, float *s, const void *x, const void *y) {
    *s = dot_q6_K(n, x, y, false);
}

KQ_AVX512 static void vec_dot_q6_K_vnni(int64_t n, float *s, const void *x, const void *y) {
    *s = dot_q6_K(n, x, y, true);
}

/* ------------------------------------------------------------------------------ Q3_K */

/* Per half of 128 weights, the 32 bytes of qs hold four 32-weight chunks at bit offsets 0,
 * 2, 4, 6: with qs in both halves of a vector, shifting by [0 | 2] and [4 | 6] gives weights
 * 0-63 and 64-127 in order. The third bit of chunk c (0..7 over the block) is bit c of
 * hmask; with hmask in both halves and shifted down 4 per half, bits 0/1 (first vector) and
 * 2/3 (second) go to bit 2. */
KQ_INLINE float dot_q3_K(int64_t n, const bb_block_q3_K *x, const bb_block_q8_K *y, bool vnni) {
    const __m512i m3 = _mm512_set1_epi8(3), bit2 = _mm512_set1_epi8(4);
    const __m512i sh_a = concat256(_mm256_set1_epi16(0), _mm256_set1_epi16(2));
    const __m512i sh_b = concat256(_mm256_set1_epi16(4), _mm256_set1_epi16(6));
    const __m512i hsh_a = concat256(_mm256_set1_epi16(2), _mm256_set1_epi16(1));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = y[i].d * half_to_float(x[i].d);
        const __m256i sc16 = _mm256_cvtepi8_epi16(unpack_q3_scales(x[i].scales));
        /* quants are coded as q + 4 */
        __m512i sumi = offset_start(sc16, y[i].bsums, 2);
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
            const int8_t *q8 = y[i].qs + 128 * h;
            sumi = dot_acc(sumi, qa, q8, scale_quad(sc, 0), vnni);
            sumi = dot_acc(sumi, qb, q8 + 64, scale_quad(sc, 1), vnni);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    return reduce_with(acc, _mm256_setzero_ps());
}

KQ_AVX512 static void vec_dot_q3_K(int64_t n, float *s, const void *x, const void *y) {
    *s = dot_q3_K(n, x, y, false);
}

KQ_AVX512 static void vec_dot_q3_K_vnni(int64_t n, float *s, const void *x, const void *y) {
    *s = dot_q3_K(n, x, y, true);
}

static bool cpu_has_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vnni");
}

void bb_kq_avx512_variants(int type, bb_vec_dot_fn *plain, bb_vec_dot_fn *vnni) {
    *plain = *vnni = NULL;
    switch (type) {
    case BB_TYPE_Q3_K:
        *plain = vec_dot_q3_K, *vnni = vec_dot_q3_K_vnni;
        break;
    case BB_TYPE_Q4_K:
        *plain = vec_dot_q4_K, *vnni = vec_dot_q4_K_vnni;
        break;
    case BB_TYPE_Q5_K:
        *plain = vec_dot_q5_K, *vnni = vec_dot_q5_K_vnni;
        break;
    case BB_TYPE_Q6_K:
        *plain = vec_dot_q6_K, *vnni = vec_dot_q6_K_vnni;
        break;
    default:
        break;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl"))
        *plain = *vnni = NULL;
    else if (!cpu_has_vnni())
        *vnni = NULL;
}

#include "quant/kquants_x4_avx512.h"

void bb_quant_fill_kquants_avx512(bb_type_traits *t) {
    static const int types[] = {BB_TYPE_Q3_K, BB_TYPE_Q4_K, BB_TYPE_Q5_K, BB_TYPE_Q6_K};
    const bool vnni = cpu_has_vnni();
    for (int k = 0; k < 4; k++) {
        bb_vec_dot_fn plain, fused;
        bb_kq_avx512_variants(types[k], &plain, &fused);
        t[types[k]].vec_dot = vnni ? fused : plain;
        bb_vec_dot_x4_fn plain4, fused4;
        bb_kq_avx512_x4_variants(types[k], &plain4, &fused4);
        t[types[k]].vec_dot_x4 = vnni ? fused4 : plain4;
    }
}

#else

void bb_quant_fill_kquants_avx512(bb_type_traits *t) {
    (void)t;
}

void bb_kq_avx512_variants(int type, bb_vec_dot_fn *plain, bb_vec_dot_fn *vnni) {
    (void)type;
    *plain = *vnni = NULL;
}

void bb_kq_avx512_x4_variants(int type, bb_vec_dot_x4_fn *plain, bb_vec_dot_x4_fn *vnni) {
    (void)type;
    *plain = *vnni = NULL;
}

#endif
