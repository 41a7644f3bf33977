/*
 * Helpers shared by the x86 K-quant kernels (kquants_avx2.c, kquants_avx512.c). They are
 * compiled for AVX2 + FMA + F16C, a subset of the AVX-512 kernels' target, so both files'
 * kernels inline them. Internal to src/quant.
 */
#ifndef BB_QUANT_KQUANTS_X86_H
#define BB_QUANT_KQUANTS_X86_H

#include "quant/blocks_k.h"

#include <immintrin.h>
#include <string.h>

#define KQ_AVX2 __attribute__((target("avx2,fma,f16c")))

KQ_AVX2 static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

KQ_AVX2 static inline float half_to_float(uint16_t h) {
    return _cvtsh_ss(h);
}

/* Q4_K/Q5_K: the 8 six-bit scales and 8 mins as 16 bytes [scales | mins] (layout in
 * bb_kq_unpack_scales_mins). Loads 16 bytes; the 4 past the scales are the block's first
 * quants and drop out. */
KQ_AVX2 static inline __m128i unpack_scales_mins(const uint8_t *s) {
    const __m128i v = _mm_loadu_si128((const __m128i *)s);
    /* bytes 0-3: scales 0-3; 4-7: low bits of scales 4-7; 8-11: mins 0-3; 12-15: low bits
     * of mins 4-7 (high nibbles of bytes 8-11) */
    const __m128i a =
        _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m128i lo = _mm_and_si128(a, _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0));
    const __m128i hi_nib = _mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi32(0, 0, 0, 0x0f0f0f0f));
    /* high 2 bits of scales 4-7 / mins 4-7: top bits of bytes 0-3 / 4-7, moved to bits 4-5 */
    const __m128i b =
        _mm_shuffle_epi8(v, _mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m128i top = _mm_srli_epi16(_mm_and_si128(b, _mm_set1_epi8((char)0xC0)), 2);
    return _mm_or_si128(_mm_or_si128(lo, hi_nib), top);
}

/* Q4_K/Q5_K mins: acc + dmin * sum_j min_j * (bsum_2j + bsum_2j+1), with each min paired
 * with its two bsums groups so one vpmaddwd does it. */
KQ_AVX2 static inline __m256 mins_term(__m128i sm, const int16_t *bsums, float dmin, __m256 acc) {
    const __m128i pairs = _mm_shuffle_epi8(
        sm, _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15));
    const __m256i bs = _mm256_loadu_si256((const __m256i *)bsums);
    const __m256i prod = _mm256_madd_epi16(_mm256_cvtepu8_epi16(pairs), bs);
    return _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(prod), acc);
}

/* Q3_K: the 16 scales as signed bytes in [-32, 31] (layout in bb_kq_unpack_q3_scales). Loads
 * exactly the 12 bytes: a full 16-byte load could run past the last block of a row. */
KQ_AVX2 static inline __m128i unpack_q3_scales(const uint8_t *s) {
    int32_t w2;
    memcpy(&w2, s + 8, 4);
    const __m128i v = _mm_insert_epi32(_mm_loadl_epi64((const __m128i *)s), w2, 2);
    /* low 4 bits: low nibbles of bytes 0-7 for scales 0-7, high nibbles for 8-15 */
    const __m128i a =
        _mm_shuffle_epi8(v, _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7));
    const __m128i lo = _mm_or_si128(
        _mm_and_si128(a, _mm_setr_epi32(0x0f0f0f0f, 0x0f0f0f0f, 0, 0)),
        _mm_and_si128(_mm_srli_epi16(a, 4), _mm_setr_epi32(0, 0, 0x0f0f0f0f, 0x0f0f0f0f)));
    /* high 2 bits: bits 2g..2g+1 of bytes 8-11 for scales 4g..4g+3, moved to bits 4-5 by a
     * per-32-bit-lane shift */
    const __m128i h = _mm_shuffle_epi32(_mm_srli_si128(v, 8), 0);
    const __m128i hi =
        _mm_srlv_epi32(_mm_sllv_epi32(h, _mm_setr_epi32(4, 2, 0, 0)), _mm_setr_epi32(0, 0, 0, 2));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_and_si128(hi, _mm_set1_epi8(0x30))),
                        _mm_set1_epi8(32));
}

#endif
