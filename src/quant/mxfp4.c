/*
 * MXFP4 (OCP Microscaling Formats v1.0, 2023; gpt-oss's expert weights), in ggml's block
 * layout (ggml-common.h block_mxfp4): 32 elements share one E8M0 scale byte e, and 16 bytes
 * hold their 4-bit E2M1 codes, element j in the low nibble of byte j and element j + 16 in
 * the high one (as Q4_0 packs them). ggml stores the E2M1 values doubled, as the integers
 * 0, 1, 2, 3, 4, 6, 8, 12 (and negated), so the block scale is 2^(e - 127) / 2 = 2^(e - 128).
 *
 * Dot products take Q8_0 activations, as ggml's do: per block the exact integer sum of
 * code value x activation code, then sum += d_act * scale * sumi in block order. The AVX2
 * kernel computes the same integer sums (vpshufb looks the codes up, vpmaddubsw/vpmaddwd
 * multiply) and the same float operations in the same order, so it is bit-identical to the
 * scalar one.
 */
#include "quant/blocks_legacy.h"
#include "quant/quant_impl.h"

#include <math.h>
#include <string.h>

#define QK_MXFP4 32

typedef struct {
    uint8_t e;
    uint8_t qs[QK_MXFP4 / 2];
} block_mxfp4;

_Static_assert(sizeof(block_mxfp4) == 17, "MXFP4 blocks are 17 bytes");

static const int8_t kvalues_mxfp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* 2^(e - 128): exact in float for every e (e = 0 and 1 are subnormal). */
static inline float e8m0_half(uint8_t e) {
    return ldexpf(1.0f, (int)e - 128);
}

static void mxfp4_to_float(const void *vx, float *y, int64_t n) {
    const block_mxfp4 *x = vx;
    for (int64_t i = 0; i < n / QK_MXFP4; i++, y += QK_MXFP4) {
        const float d = e8m0_half(x[i].e);
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            y[j] = (float)kvalues_mxfp4[x[i].qs[j] & 0x0F] * d;
            y[j + QK_MXFP4 / 2] = (float)kvalues_mxfp4[x[i].qs[j] >> 4] * d;
        }
    }
}

static void mxfp4_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const block_mxfp4 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_MXFP4; i++) {
        int sumi = 0;
        for (int j = 0; j < QK_MXFP4 / 2; j++) {
            sumi += kvalues_mxfp4[x[i].qs[j] & 0x0F] * y[i].qs[j];
            sumi += kvalues_mxfp4[x[i].qs[j] >> 4] * y[i].qs[j + QK_MXFP4 / 2];
        }
        sum += bb_fp16_to_fp32(y[i].d) * e8m0_half(x[i].e) * (float)sumi;
    }
    *s = sum;
}

void bb_quant_fill_mxfp4_ref(bb_type_traits *t) {
    t[BB_TYPE_MXFP4] = (bb_type_traits){
        .name = "MXFP4",
        .block_size = QK_MXFP4,
        .type_size = sizeof(block_mxfp4),
        .is_weight_type = true,
        .vec_dot_type = BB_TYPE_Q8_0,
        .to_float = mxfp4_to_float,
        .from_float = NULL, /* beanbag reads MXFP4 files, it does not write them yet */
        .vec_dot = mxfp4_vec_dot,
    };
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))

static AVX2 void mxfp4_vec_dot_avx2(int64_t n, float *s, const void *vx, const void *vy) {
    const block_mxfp4 *x = vx;
    const block_q8_0 *y = vy;
    const __m128i table = _mm_loadu_si128((const __m128i *)kvalues_mxfp4);
    const __m128i low = _mm_set1_epi8(0x0F);
    const __m256i ones = _mm256_set1_epi16(1);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_MXFP4; i++) {
        __m128i q = _mm_loadu_si128((const __m128i *)x[i].qs);
        __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(q, low));
        __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(q, 4), low));
        __m256i w = _mm256_set_m128i(hi, lo); /* elements 0..15, then 16..31 */
        __m256i a = _mm256_loadu_si256((const __m256i *)y[i].qs);
        /* |w| * sign(a, w): vpmaddubsw wants one unsigned operand */
        __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
        __m256i s32 = _mm256_madd_epi16(p, ones);
        __m128i r = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
        r = _mm_add_epi32(r, _mm_shuffle_epi32(r, _MM_SHUFFLE(1, 0, 3, 2)));
        r = _mm_add_epi32(r, _mm_shuffle_epi32(r, _MM_SHUFFLE(2, 3, 0, 1)));
        int sumi = _mm_cvtsi128_si32(r);
        sum += _cvtsh_ss(y[i].d) * e8m0_half(x[i].e) * (float)sumi;
    }
    *s = sum;
}

void bb_quant_fill_mxfp4_avx2(bb_type_traits *t) {
    t[BB_TYPE_MXFP4].vec_dot = mxfp4_vec_dot_avx2;
}
#else
void bb_quant_fill_mxfp4_avx2(bb_type_traits *t) {
    (void)t;
}
#endif
