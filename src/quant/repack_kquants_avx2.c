/*
 * AVX2 kernels of Q4_Kx8 and Q6_Kx8 (layouts and the reduction order in repack_kquants.h).
 * Lane r of every vector is row r: a weight vector holds 4 codes of each of the 8 rows, a
 * 32-bit broadcast puts the matching 4 activation codes in every lane, vpmaddubsw (unsigned
 * codes x signed activations) sums them in pairs to int16, int16 sums of one sub-block are
 * added up to where they could overflow, vpmaddwd multiplies them by the sub-block scales
 * into int32, and each super-block ends in the documented float steps, one per lane.
 *
 * Tokens go in register tiles of 4 (then 3, 2 or 1 for the rest): a tile reuses each weight
 * vector's unpacked codes and the expanded scales for 4 tokens. Every output gets the same
 * integer sums (exact) and the same float operations whatever the tile, which keeps a
 * token's outputs bit-identical alone or in a batch, and equal to the scalar twins.
 *
 * Each function carries its own target attribute so the library stays runnable without
 * AVX2; repack.c installs these only when the CPU has AVX2, FMA and F16C.
 */
#include "quant/repack_kquants.h"

#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include "quant/blocks_k.h"

#define RP_AVX2 __attribute__((target("avx2,fma,f16c")))
#define RP_INLINE RP_AVX2 static inline __attribute__((always_inline))

#define MAX_TILE 4

/* vpshufb controls over a vector whose two 128-bit halves both hold 16 bytes b[0..15] = the
 * bytes of rows 0-7 of two consecutive sub-blocks. Lane r (bytes 4r..4r+3, in the low half
 * for r < 4, the high half for r >= 4, so index r reaches b[r] in either) gets:
 *   U(o):  int16 pair (b[o+r], b[o+r])  zero-extended          (unsigned scales, mins)
 *   S(o):  int16 pair (b[o+r] << 8, same)  -> vpsraw 8 sign-extends (signed scales)
 *   P:     int16 pair (b[r] << 8, b[8+r] << 8) -> vpsraw 8 gives the two sub-blocks' scales
 */
#define Z -128 /* vpshufb: top bit set writes zero */
#define U_LANE(o, r) (o) + (r), Z, (o) + (r), Z
#define S_LANE(o, r) Z, (o) + (r), Z, (o) + (r)
#define P_LANE(r) Z, (r), Z, 8 + (r)
#define ALL_LANES(M, ...)                                                                          \
    M(__VA_ARGS__ 0), M(__VA_ARGS__ 1), M(__VA_ARGS__ 2), M(__VA_ARGS__ 3), M(__VA_ARGS__ 4),      \
        M(__VA_ARGS__ 5), M(__VA_ARGS__ 6), M(__VA_ARGS__ 7)
static const int8_t k_dup_u[2][32]
    __attribute__((aligned(32))) = {{ALL_LANES(U_LANE, 0, )}, {ALL_LANES(U_LANE, 8, )}};
static const int8_t k_dup_s[2][32]
    __attribute__((aligned(32))) = {{ALL_LANES(S_LANE, 0, )}, {ALL_LANES(S_LANE, 8, )}};
static const int8_t k_pair_s[32] __attribute__((aligned(32))) = {ALL_LANES(P_LANE, )};
#undef ALL_LANES
#undef P_LANE
#undef S_LANE
#undef U_LANE
#undef Z

RP_INLINE __m256i ctrl(const int8_t *c) {
    return _mm256_load_si256((const __m256i *)c);
}

/* 16 bytes at p into both 128-bit halves */
RP_INLINE __m256i bcast16(const uint8_t *p) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)p));
}

/* 4 activation codes (or 2 int16 bsums) at p in every 32-bit lane. Through the float
 * broadcast, which copies the bits unchanged: on Zen 3 it measured faster than vpbroadcastd
 * for one token (decode) and the same for tiles of 4. */
RP_INLINE __m256i bcast4(const void *p) {
    return _mm256_castps_si256(_mm256_broadcast_ss((const float *)p));
}

RP_INLINE __m256i load(const uint8_t *p) {
    return _mm256_loadu_si256((const __m256i *)p);
}

/* ------------------------------------------------------------------------------ Q4_K */

/*
 * Bounds: codes are 0..15 and Q8_K codes -127..127 (128 at worst), so one vpmaddubsw int16
 * is at most 2 * 15 * 128 = 3840 in magnitude and never saturates; a sub-block's 8 of them
 * (4 vectors, low and high nibbles) add to at most 30720 < 32767 in int16. vpmaddwd by the
 * scale (<= 63) and 8 sub-blocks stay below 2^25 in int32; the mins part, below
 * 8 * 63 * 2 * 16 * 128 (~2^21).
 */

/* Sub-block j (32 elements, vectors 4j..4j+3) of super-block s for nt tokens: isum[t] +=
 * scale * (the exact integer dot product of its codes with token t's) in every lane. */
RP_INLINE void q4_K_sub(const uint8_t *sb, int j, const bb_block_q8_K *const *a, int64_t s, int nt,
                        __m256i *isum) {
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    const __m256i sc =
        _mm256_shuffle_epi8(bcast16(sb + QK4X8_OFF_SC + 8 * (j & ~1)), ctrl(k_dup_u[j & 1]));
    __m256i s16[MAX_TILE];
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        s16[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int i = 4 * j; i < 4 * j + 4; i++) {
        const __m256i v = load(sb + QK4X8_OFF_QS + 32 * i);
        const __m256i lo = _mm256_and_si256(v, m4);
        const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            const int8_t *q = a[t][s].qs + 8 * i;
            s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(lo, bcast4(q)));
            s16[t] = _mm256_add_epi16(s16[t], _mm256_maddubs_epi16(hi, bcast4(q + 4)));
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(s16[t], sc));
}

RP_INLINE void q4_K_tile(int64_t nsb, const uint8_t *w, const bb_block_q8_K *const *a, int nt,
                         float *out, size_t out_stride) {
    __m256 acc[MAX_TILE];
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *sb = w + (size_t)s * QK4X8_SB_BYTES;
        __m256i isum[MAX_TILE], msum[MAX_TILE];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            isum[t] = msum[t] = _mm256_setzero_si256();
        /* one token (decode) unrolls the whole super-block; tiles of 4 only 2 sub-blocks,
         * the most that stays in registers */
        if (nt == 1) {
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++)
                q4_K_sub(sb, j, a, s, nt, isum);
        } else {
#pragma GCC unroll 2
            for (int j = 0; j < 8; j++)
                q4_K_sub(sb, j, a, s, nt, isum);
        }
        /* mins: lane r = (mn[j][r], mn[j][r]) against (bsums[2j], bsums[2j+1]) */
#pragma GCC unroll 8
        for (int j = 0; j < 8; j++) {
            const __m256i mn = _mm256_shuffle_epi8(bcast16(sb + QK4X8_OFF_MN + 8 * (j & ~1)),
                                                   ctrl(k_dup_u[j & 1]));
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                msum[t] =
                    _mm256_add_epi32(msum[t], _mm256_madd_epi16(mn, bcast4(a[t][s].bsums + 2 * j)));
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sb + QK4X8_OFF_D)));
        const __m256 mw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(sb + QK4X8_OFF_DMIN)));
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            const __m256 dy = _mm256_set1_ps(a[t][s].d);
            /* acc = fmaf(d * dy, isum, acc), then fmaf(-(dmin * dy), msum, acc): vfnmadd
             * negates the exact product, the same as fmaf with the negated factor */
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dy), _mm256_cvtepi32_ps(isum[t]), acc[t]);
            acc[t] = _mm256_fnmadd_ps(_mm256_mul_ps(mw, dy), _mm256_cvtepi32_ps(msum[t]), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(out + (size_t)t * out_stride, acc[t]);
}

/* ------------------------------------------------------------------------------ Q6_K */

/*
 * Bounds: codes are 0..63 unsigned (the -32 offset goes through the bsums), so one
 * vpmaddubsw int16 is at most 2 * 63 * 128 = 16128 and two of them 32256 < 32767: a
 * sub-block's 4 vectors make two int16 partial sums, each multiplied by the scale with its
 * own vpmaddwd. |scale| <= 128: a sub-block adds at most 128 * 4 * 32256 (~2^24) to the
 * int32 sum, 16 sub-blocks stay below 2^28; the offset 32 * sum_k sc * bsums[k] below
 * 32 * 16 * 128 * (16 * 128) = 2^27, so the difference fits int32 too.
 */

/* Sub-block k (16 elements, 96 bytes) of super-block s for nt tokens: isum[t] += scale *
 * (the exact integer dot product of its unsigned codes with token t's) in every lane. */
RP_INLINE void q6_K_sub(const uint8_t *c, const uint8_t *m, int k, const bb_block_q8_K *const *a,
                        int64_t s, int nt, __m256i *isum) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    const __m256i sc = _mm256_srai_epi16(
        _mm256_shuffle_epi8(bcast16(m + QK6X8_OFF_SC + 8 * (k & ~1)), ctrl(k_dup_s[k & 1])), 8);
    const uint8_t *sub = c + QK6X8_SUB_BYTES * k;
    const __m256i l0 = load(sub), l1 = load(sub + 32), h = load(sub + 64);
    /* 16-bit shifts move bits across byte boundaries; the masks keep only each
     * byte's own field */
    const __m256i q0 =
        _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30));
    const __m256i q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                       _mm256_and_si256(_mm256_slli_epi16(h, 2), m30));
    const __m256i q2 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(h, m30));
    const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_and_si256(_mm256_srli_epi16(h, 2), m30));
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++) {
        const int8_t *q = a[t][s].qs + 16 * k;
        const __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(q0, bcast4(q)),
                                             _mm256_maddubs_epi16(q1, bcast4(q + 4)));
        const __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(q2, bcast4(q + 8)),
                                             _mm256_maddubs_epi16(q3, bcast4(q + 12)));
        isum[t] = _mm256_add_epi32(
            isum[t], _mm256_add_epi32(_mm256_madd_epi16(p01, sc), _mm256_madd_epi16(p23, sc)));
    }
}

RP_INLINE void q6_K_tile(int64_t nsb, const uint8_t *w, const bb_block_q8_K *const *a, int nt,
                         float *out, size_t out_stride) {
    __m256 acc[MAX_TILE];
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t s = 0; s < nsb; s++) {
        const uint8_t *c = w + (size_t)s * QK6X8_SB_BYTES + QK6X8_OFF_CODES;
        const uint8_t *m = w + (size_t)s * QK6X8_SB_BYTES;
        __m256i isum[MAX_TILE], osum[MAX_TILE];
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++)
            isum[t] = osum[t] = _mm256_setzero_si256();
        /* as for Q4_K: one token unrolls the whole super-block, tiles of 4 two sub-blocks */
        if (nt == 1) {
#pragma GCC unroll 16
            for (int k = 0; k < 16; k++)
                q6_K_sub(c, m, k, a, s, nt, isum);
        } else {
#pragma GCC unroll 2
            for (int k = 0; k < 16; k++)
                q6_K_sub(c, m, k, a, s, nt, isum);
        }
        /* the offset: lane r = (sc[2k][r], sc[2k+1][r]) against (bsums[2k], bsums[2k+1]) */
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            const __m256i sp = _mm256_srai_epi16(
                _mm256_shuffle_epi8(bcast16(m + QK6X8_OFF_SC + 16 * k), ctrl(k_pair_s)), 8);
#pragma GCC unroll 4
            for (int t = 0; t < nt; t++)
                osum[t] =
                    _mm256_add_epi32(osum[t], _mm256_madd_epi16(sp, bcast4(a[t][s].bsums + 2 * k)));
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(m + QK6X8_OFF_D)));
#pragma GCC unroll 4
        for (int t = 0; t < nt; t++) {
            const __m256i is = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(osum[t], 5));
            const __m256 dy = _mm256_set1_ps(a[t][s].d);
            acc[t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, dy), _mm256_cvtepi32_ps(is), acc[t]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++)
        _mm256_storeu_ps(out + (size_t)t * out_stride, acc[t]);
}

/* ------------------------------------------------------------------------------ gemm */

/* One instance per tile size, so that each has its token loops unrolled and accumulators in
 * registers; tiles of 4 while 4 tokens remain, then one tile of the rest. */
#define TILE_FNS(type)                                                                             \
    RP_AVX2 static void type##_tile1(int64_t nsb, const uint8_t *w, const bb_block_q8_K *const *a, \
                                     float *out, size_t os) {                                      \
        type##_tile(nsb, w, a, 1, out, os);                                                        \
    }                                                                                              \
    RP_AVX2 static void type##_tile2(int64_t nsb, const uint8_t *w, const bb_block_q8_K *const *a, \
                                     float *out, size_t os) {                                      \
        type##_tile(nsb, w, a, 2, out, os);                                                        \
    }                                                                                              \
    RP_AVX2 static void type##_tile3(int64_t nsb, const uint8_t *w, const bb_block_q8_K *const *a, \
                                     float *out, size_t os) {                                      \
        type##_tile(nsb, w, a, 3, out, os);                                                        \
    }                                                                                              \
    RP_AVX2 static void type##_tile4(int64_t nsb, const uint8_t *w, const bb_block_q8_K *const *a, \
                                     float *out, size_t os) {                                      \
        type##_tile(nsb, w, a, 4, out, os);                                                        \
    }                                                                                              \
    RP_AVX2 static void type##_gemm_avx2(int64_t n, const void *w, const void *y, size_t y_stride, \
                                         int T, float *out, size_t out_stride) {                   \
        typedef void (*tile_fn)(int64_t, const uint8_t *, const bb_block_q8_K *const *, float *,   \
                                size_t);                                                           \
        static const tile_fn tiles[MAX_TILE + 1] = {NULL, type##_tile1, type##_tile2,              \
                                                    type##_tile3, type##_tile4};                   \
        for (int t0 = 0; t0 < T; t0 += MAX_TILE) {                                                 \
            const int nt = T - t0 < MAX_TILE ? T - t0 : MAX_TILE;                                  \
            const bb_block_q8_K *a[MAX_TILE];                                                      \
            for (int t = 0; t < nt; t++)                                                           \
                a[t] = (const bb_block_q8_K *)((const char *)y + (size_t)(t0 + t) * y_stride);     \
            tiles[nt](n / QK_K, w, a, out + (size_t)t0 * out_stride, out_stride);                  \
        }                                                                                          \
    }

TILE_FNS(q4_K)
TILE_FNS(q6_K)

void bb_repack_fill_kquants_avx2(bb_repack_traits *t) {
    /* the scalar level's entries (layout, packer) are already here: only the kernel differs */
    if (t[BB_TYPE_Q4_K].pack) t[BB_TYPE_Q4_K].gemm = q4_K_gemm_avx2;
    if (t[BB_TYPE_Q6_K].pack) t[BB_TYPE_Q6_K].gemm = q6_K_gemm_avx2;
}

#else

void bb_repack_fill_kquants_avx2(bb_repack_traits *t) {
    (void)t;
}

#endif
