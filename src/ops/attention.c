/*
 * Attention over an F16 KV cache: the scalar specification and its AVX2 twin (attention.h).
 *
 * Both walk the positions in tiles of BB_ATTN_TILE rows. Per tile: the K and V rows are
 * widened to float once (F16C's vcvtph2ps in the AVX2 kernel) into small tile buffers that
 * every query head of the group then reads from L1; each head's scores for the tile are
 * computed, folded into its running maximum m and sum l (online softmax, Milakov &
 * Gimelshein 2018), and its accumulator is rescaled by exp(m_old - m_new) before the tile's
 * p * v terms are added (FlashAttention's tiling, Dao et al. 2022). The output is acc / l.
 *
 * The order of every float operation is fixed, and the same in both kernels, so they agree
 * bit for bit:
 *  - q.k: eight lanes, lane i summing q[8c+i] * k[8c+i] over c with fma, then the tree
 *    ((l0+l2) + (l1+l3)) + ((l4+l6) + (l5+l7)) (what reduce4's unpacks and shuffles give);
 *    the score is that times scale. Positions past n_pos in the last tile score -inf.
 *  - the tile's sum of p: u[i] = ((p[i] + p[i+8]) + p[i+16]) + ... left to right, then
 *    ((u0+u4) + (u2+u6)) + ((u1+u5) + (u3+u7));
 *    l = fma(l, alpha, sum).
 *  - acc[i] = acc[i] * alpha, then acc[i] = fma(p[j], v[j][i], acc[i]) for j in order.
 *  - exp is our own polynomial built only from correctly rounded operations (below), so
 *    vector and scalar give the same bits; libm's expf would not match a vector exp.
 *  - soft-capping (softcap c > 0): s = c * tanh(s * (1/c)) on the scaled score, tanh from
 *    that exp as tanh|x| = (1 - e) / (1 + e), e = exp(-2|x|), with x's sign put back.
 *  - a sink (gpt-oss) is folded in once after the last tile: m' = max(m, sink), alpha =
 *    exp(m - m'), l = fma(l, alpha, exp(sink - m')), out[i] = (acc[i] * alpha) / l.
 *  - a sliding window masks the positions before the token's first visible one to -inf,
 *    like the positions past n_pos; tiles wholly before it are skipped by that token, so
 *    its arithmetic never depends on the other tokens of the pass.
 * The file is compiled with -ffp-contract=off (CMakeLists.txt): the compiler must not fuse
 * a multiply and an add on its own in one kernel and not in the other.
 */
#include "ops/attention.h"

#include <math.h>
#include <string.h>

#include "quant/quant.h"

#if defined(__x86_64__) || defined(__i386__)
#define BB_ATTN_X86 1
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define AVX2_INLINE __attribute__((target("avx2,fma,f16c"), always_inline)) inline
#endif

#define TILE BB_ATTN_TILE
#define MAXD BB_ATTN_MAX_HEAD_DIM
#define GROUP 8 /* query heads of one token per pass: bounds the per-token arrays below */
#define ROWS BB_ATTN_ROWS

/* Per-pass scratch: the pass's rounded queries (row u * nh + h for token u, head h), one tile
 * of widened K and V rows, the accumulators, and the tile's scores (overwritten by their
 * probabilities). Strides are the real head dims, so for head_dim 64 and 32 rows the working
 * set is ~26 KiB, within L1. */
typedef struct scratch {
    _Alignas(32) float q[ROWS * MAXD];
    _Alignas(32) float kt[TILE * MAXD];
    _Alignas(32) float vt[TILE * MAXD];
    _Alignas(32) float acc[ROWS * MAXD];
    _Alignas(32) float s[ROWS * TILE];
    _Alignas(32) float alpha[ROWS + GROUP]; /* a token's exp8 stores 8 */
    float m[ROWS], l[ROWS];
} scratch;

/* Tokens per pass for groups of nh heads. */
static inline int pass_tokens(int nh) {
    return nh >= ROWS ? 1 : ROWS / nh;
}

/* Head dims are padded with zeros to whole 8-lane chunks in the tile buffers: the extra
 * products are +0 and change no sum, in either kernel. */
static inline int pad8(int n) {
    return (n + 7) & ~7;
}

/* The cache cells of positions t0..t0+n-1, with one division per tile (an idiv per row
 * cost as much as widening the row). */
static inline void tile_cells(const bb_attn_kv *kv, int32_t t0, int n, size_t *cells) {
    if (!kv->blocks) {
        for (int j = 0; j < n; j++)
            cells[j] = (size_t)(t0 + j);
        return;
    }
    int32_t b = t0 / kv->block_len, o = t0 % kv->block_len;
    for (int j = 0; j < n; j++) {
        cells[j] = (size_t)kv->blocks[b] * (size_t)kv->block_len + (size_t)o;
        if (++o == kv->block_len) {
            o = 0;
            b++;
        }
    }
}

/* ---- exp(x) for x <= 0 ----------------------------------------------------------------
 * Cody & Waite range reduction x = n ln2 + r, |r| <= ln2/2, with ln2 split in a short high
 * part (exact n * LN2_HI) and a low part; exp(r) by its degree-7 Taylor polynomial in Horner
 * form with fma (truncation error r^8/8! < 6e-9 relative); times 2^n built in the exponent
 * field. Below EXP_LO (where 2^n would leave the normal range) the result is 0: such a
 * term is < 2^-125 of the tile's largest, which is 1. */
#define EXP_LO (-87.0f)
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f
#define LN2_LO (-2.12194440e-4f)
#define EXP_C7 (1.0f / 5040.0f)
#define EXP_C6 (1.0f / 720.0f)
#define EXP_C5 (1.0f / 120.0f)
#define EXP_C4 (1.0f / 24.0f)
#define EXP_C3 (1.0f / 6.0f)
#define EXP_C2 0.5f

static inline float exp_ref(float x) {
    if (x < EXP_LO) return 0.0f;
    if (x != x) return x;
    float n = rintf(x * LOG2E);
    float r = fmaf(n, -LN2_HI, x);
    r = fmaf(n, -LN2_LO, r);
    float p = EXP_C7;
    p = fmaf(p, r, EXP_C6);
    p = fmaf(p, r, EXP_C5);
    p = fmaf(p, r, EXP_C4);
    p = fmaf(p, r, EXP_C3);
    p = fmaf(p, r, EXP_C2);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return p * two_n;
}

/* tanh for soft-capping (file comment): exact to a few ulps of 1, which is what the
 * capped score needs (|error| <= c * 1e-7). */
static inline float tanh_ref(float x) {
    float e = exp_ref(-2.0f * fabsf(x));
    return copysignf((1.0f - e) / (1.0f + e), x);
}

/* Folds head's sink logit into its sum (file comment); returns the accumulator's factor. */
static inline float sink_fold(float sink, float m, float *l) {
    float mn = sink > m ? sink : m;
    float alpha = exp_ref(m - mn);
    *l = fmaf(*l, alpha, exp_ref(sink - mn));
    return alpha;
}

/* A token with n_pos np sees positions from this one on. */
static inline int32_t window_lo(const bb_attn_args *a, int32_t np) {
    return a->window > 0 && np > a->window ? np - a->window : 0;
}

/* A head's running maximum m meets its next tile's maximum: returns alpha =
 * exp(m_old - m_new), the factor its sum and accumulator must be rescaled by (0 on the first
 * tile, where m_old = -inf; exp_ref(0) is exactly 1, which the AVX2 kernel relies on when it
 * computes all alphas with one exp8 and no test). */
static inline float online_update(float *m, float tmax) {
    float mn = tmax > *m ? tmax : *m;
    float alpha = exp_ref(*m - mn);
    *m = mn;
    return alpha;
}

/* ---- the scalar specification --------------------------------------------------------- */

static float dot_ref(const float *q, const float *k, int n) {
    float lane[8] = {0};
    for (int c = 0; c < n; c += 8)
        for (int i = 0; i < 8; i++)
            lane[i] = fmaf(q[c + i], k[c + i], lane[i]);
    return ((lane[0] + lane[2]) + (lane[1] + lane[3])) +
           ((lane[4] + lane[6]) + (lane[5] + lane[7]));
}

/* One pass: tokens u0..u0+nu-1 of the call, heads h0..h0+nh-1; query row r = u * nh + h.
 * Each tile of K and V rows is widened once for every row; a token stops at its own last
 * tile, so its arithmetic is exactly what a call with that token alone would do. */
static void ref_pass(const bb_attn_args *a, int h0, int nh, int u0, int nu, scratch *w) {
    int dk = pad8(a->head_dim_k), dv = pad8(a->head_dim_v);
    for (int u = 0; u < nu; u++)
        for (int h = 0; h < nh; h++) {
            int r = u * nh + h;
            const float *q =
                a->q + (size_t)(u0 + u) * a->q_tok_stride + (size_t)(h0 + h) * a->q_stride;
            for (int d = 0; d < dk; d++)
                w->q[r * dk + d] =
                    d < a->head_dim_k ? bb_fp16_to_fp32(bb_fp32_to_fp16(q[d])) : 0.0f;
            w->m[r] = -INFINITY;
            w->l[r] = 0.0f;
        }
    memset(w->acc, 0, (size_t)(nu * nh) * (size_t)dv * sizeof *w->acc);
    int32_t n_end = a->n_pos + u0 + nu - 1; /* the last token's n_pos, the longest */
    float cap = a->softcap, inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
    int32_t first = window_lo(a, a->n_pos + u0) / TILE * TILE; /* the first token's lo */
    for (int32_t t0 = first; t0 < n_end; t0 += TILE) {
        int nw = n_end - t0 < TILE ? (int)(n_end - t0) : TILE;
        size_t cells[TILE];
        tile_cells(&a->kv, t0, nw, cells);
        for (int j = 0; j < nw; j++) {
            const uint16_t *kr = a->kv.k + cells[j] * a->kv.k_stride;
            const uint16_t *vr = a->kv.v + cells[j] * a->kv.v_stride;
            for (int d = 0; d < dk; d++)
                w->kt[j * dk + d] = d < a->head_dim_k ? bb_fp16_to_fp32(kr[d]) : 0.0f;
            for (int d = 0; d < dv; d++)
                w->vt[j * dv + d] = d < a->head_dim_v ? bb_fp16_to_fp32(vr[d]) : 0.0f;
        }
        for (int u = 0; u < nu; u++) {
            int32_t np = a->n_pos + u0 + u, lo = window_lo(a, np);
            if (t0 >= np || t0 + TILE <= lo) continue;
            int nv = np - t0 < TILE ? (int)(np - t0) : TILE;
            int j0 = lo > t0 ? (int)(lo - t0) : 0;
            for (int h = 0; h < nh; h++) {
                int r = u * nh + h;
                float *s = w->s + r * TILE;
                for (int j = 0; j < TILE; j++) {
                    s[j] = -INFINITY;
                    if (j < j0 || j >= nv) continue;
                    s[j] = dot_ref(w->q + r * dk, w->kt + j * dk, dk) * a->scale;
                    if (cap > 0.0f) s[j] = cap * tanh_ref(s[j] * inv_cap);
                }
                float tmax = s[0];
                for (int j = 1; j < TILE; j++)
                    if (s[j] > tmax) tmax = s[j];
                float alpha = online_update(&w->m[r], tmax);
                for (int j = 0; j < TILE; j++)
                    s[j] = exp_ref(s[j] - w->m[r]);
                float v8[8];
                for (int i = 0; i < 8; i++)
                    v8[i] = s[i];
                for (int k = 8; k < TILE; k += 8)
                    for (int i = 0; i < 8; i++)
                        v8[i] = v8[i] + s[k + i];
                float tsum =
                    ((v8[0] + v8[4]) + (v8[2] + v8[6])) + ((v8[1] + v8[5]) + (v8[3] + v8[7]));
                w->l[r] = fmaf(w->l[r], alpha, tsum);
                float *acc = w->acc + r * dv;
                for (int i = 0; i < dv; i++)
                    acc[i] = acc[i] * alpha;
                for (int j = 0; j < nv; j++)
                    for (int i = 0; i < dv; i++)
                        acc[i] = fmaf(s[j], w->vt[j * dv + i], acc[i]);
            }
        }
    }
    for (int u = 0; u < nu; u++)
        for (int h = 0; h < nh; h++) {
            int r = u * nh + h;
            float *out =
                a->out + (size_t)(u0 + u) * a->out_tok_stride + (size_t)(h0 + h) * a->out_stride;
            if (a->sinks) {
                float alpha = sink_fold(a->sinks[h0 + h], w->m[r], &w->l[r]);
                for (int i = 0; i < a->head_dim_v; i++)
                    out[i] = (w->acc[r * dv + i] * alpha) / w->l[r];
                continue;
            }
            for (int i = 0; i < a->head_dim_v; i++)
                out[i] = w->acc[r * dv + i] / w->l[r];
        }
}

/* ---- AVX2 + FMA + F16C ------------------------------------------------------------------ */
#ifdef BB_ATTN_X86

static AVX2_INLINE __m256 exp8(__m256 x) {
    __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_LO), _CMP_LT_OQ);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_HI), x);
    r = _mm256_fmadd_ps(n, _mm256_set1_ps(-LN2_LO), r);
    __m256 p = _mm256_set1_ps(EXP_C7);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C5));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

/* Four 8-lane dot accumulators to their four sums, each by dot_ref's tree: unpack and
 * shuffle (one uop each) rather than vhaddps (several on Zen 3). */
static AVX2_INLINE __m128 reduce4(__m256 a, __m256 b, __m256 c, __m256 d) {
    /* [a0+a2, b0+b2, a1+a3, b1+b3 | a4+a6, b4+b6, a5+a7, b5+b7], likewise c, d */
    __m256 ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    __m256 cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
    /* [(a0+a2) + (a1+a3), b.., c.., d.. | (a4+a6) + (a5+a7), ...] */
    __m256 s = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

/* Scores of nh (1 or 2) heads against four consecutive tile rows k[0..3]: two heads share
 * each K load (8 accumulators, 6 loads per 8 fma). */
static AVX2_INLINE void qk_x4(const float *q0, const float *q1, const float *k, int dk, float scale,
                              float *s0, float *s1, int nh) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    for (int c = 0; c < dk; c += 8) {
        __m256 k0 = _mm256_load_ps(k + c), k1 = _mm256_load_ps(k + dk + c);
        __m256 k2 = _mm256_load_ps(k + 2 * dk + c), k3 = _mm256_load_ps(k + 3 * dk + c);
        __m256 x = _mm256_load_ps(q0 + c);
        a0 = _mm256_fmadd_ps(x, k0, a0);
        a1 = _mm256_fmadd_ps(x, k1, a1);
        a2 = _mm256_fmadd_ps(x, k2, a2);
        a3 = _mm256_fmadd_ps(x, k3, a3);
        if (nh > 1) {
            __m256 y = _mm256_load_ps(q1 + c);
            b0 = _mm256_fmadd_ps(y, k0, b0);
            b1 = _mm256_fmadd_ps(y, k1, b1);
            b2 = _mm256_fmadd_ps(y, k2, b2);
            b3 = _mm256_fmadd_ps(y, k3, b3);
        }
    }
    __m128 sc = _mm_set1_ps(scale);
    _mm_store_ps(s0, _mm_mul_ps(reduce4(a0, a1, a2, a3), sc));
    if (nh > 1) _mm_store_ps(s1, _mm_mul_ps(reduce4(b0, b1, b2, b3), sc));
}

/* acc = acc * alpha + sum_j p[j] v[j] over the tile's nv rows, for nh (1..4) heads and nc
 * (1 or 2) 8-float chunks of the V row from column c: the V loads are shared by the heads,
 * the accumulators stay in registers across the tile. */
static AVX2_INLINE void pv_block(float *acc, int dv, const float *vt, const float *p,
                                 const float *alpha, int c, int nv, int nh, int nc) {
    __m256 r[4][2];
#pragma GCC unroll 4
    for (int h = 0; h < 4; h++) {
        if (h >= nh) break;
        __m256 al = _mm256_set1_ps(alpha[h]);
        r[h][0] = _mm256_mul_ps(_mm256_load_ps(acc + h * dv + c), al);
        r[h][1] = nc > 1 ? _mm256_mul_ps(_mm256_load_ps(acc + h * dv + c + 8), al) : al;
    }
    for (int j = 0; j < nv; j++) {
        __m256 v0 = _mm256_load_ps(vt + j * dv + c);
        __m256 v1 = nc > 1 ? _mm256_load_ps(vt + j * dv + c + 8) : v0;
#pragma GCC unroll 4
        for (int h = 0; h < 4; h++) {
            if (h >= nh) break;
            __m256 pb = _mm256_broadcast_ss(p + h * TILE + j);
            r[h][0] = _mm256_fmadd_ps(pb, v0, r[h][0]);
            if (nc > 1) r[h][1] = _mm256_fmadd_ps(pb, v1, r[h][1]);
        }
    }
#pragma GCC unroll 4
    for (int h = 0; h < 4; h++) {
        if (h >= nh) break;
        _mm256_store_ps(acc + h * dv + c, r[h][0]);
        if (nc > 1) _mm256_store_ps(acc + h * dv + c + 8, r[h][1]);
    }
}

/* The constant-argument instances of pv_block, so that its arrays live in registers. */
static AVX2 void pv_dispatch(float *acc, int dv, const float *vt, const float *p,
                             const float *alpha, int c, int nv, int nh, int nc) {
    if (nc > 1) {
        switch (nh) {
        case 4:
            pv_block(acc, dv, vt, p, alpha, c, nv, 4, 2);
            break;
        case 3:
            pv_block(acc, dv, vt, p, alpha, c, nv, 3, 2);
            break;
        case 2:
            pv_block(acc, dv, vt, p, alpha, c, nv, 2, 2);
            break;
        default:
            pv_block(acc, dv, vt, p, alpha, c, nv, 1, 2);
            break;
        }
    } else {
        switch (nh) {
        case 4:
            pv_block(acc, dv, vt, p, alpha, c, nv, 4, 1);
            break;
        case 3:
            pv_block(acc, dv, vt, p, alpha, c, nv, 3, 1);
            break;
        case 2:
            pv_block(acc, dv, vt, p, alpha, c, nv, 2, 1);
            break;
        default:
            pv_block(acc, dv, vt, p, alpha, c, nv, 1, 1);
            break;
        }
    }
}

static AVX2_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static AVX2_INLINE float hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* n (< 8) floats or halves, zero-extended to a full chunk. */
static AVX2_INLINE __m256 load_tail_ps(const float *x, int n) {
    float t[8] = {0};
    memcpy(t, x, (size_t)n * sizeof *x);
    return _mm256_loadu_ps(t);
}
static AVX2_INLINE __m256 load_tail_ph(const uint16_t *x, int n) {
    uint16_t t[8] = {0};
    memcpy(t, x, (size_t)n * sizeof *x);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)t));
}

/* One K or V row widened into the tile (n halves, padded to pad8(n) floats). */
static AVX2_INLINE void widen_row(float *dst, const uint16_t *src, int n) {
    int d = 0;
    for (; d + 8 <= n; d += 8)
        _mm256_store_ps(dst + d, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + d))));
    if (d < n) _mm256_store_ps(dst + d, load_tail_ph(src + d, n - d));
}

static AVX2_INLINE __m256 tanh8(__m256 x) {
    __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    __m256 e = exp8(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(sign, x)));
    __m256 y = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    return _mm256_or_ps(y, _mm256_and_ps(sign, x));
}

/* One token's tile: nh heads in rows r0..r0+nh-1 against widened rows j0..nv-1 (rows up to
 * nv rounded up to 4 are finite, so the 4-row score blocks may read them; rows before j0
 * are outside the sliding window). */
static AVX2_INLINE void avx2_token_tile(const bb_attn_args *a, int nh, int r0, int j0, int nv,
                                        int dk, int dv, scratch *w) {
    int n4 = (nv + 3) & ~3;
    float *S = w->s + r0 * TILE;
    const float *Q = w->q + r0 * dk;
    for (int jb = 0; jb < n4; jb += 4) {
        const float *k = w->kt + jb * dk;
        int h = 0;
        for (; h + 2 <= nh; h += 2)
            qk_x4(Q + h * dk, Q + (h + 1) * dk, k, dk, a->scale, S + h * TILE + jb,
                  S + (h + 1) * TILE + jb, 2);
        if (h < nh) qk_x4(Q + h * dk, NULL, k, dk, a->scale, S + h * TILE + jb, NULL, 1);
    }
    if (a->softcap > 0.0f) {
        __m256 cap = _mm256_set1_ps(a->softcap), inv = _mm256_set1_ps(1.0f / a->softcap);
        for (int h = 0; h < nh; h++)
            for (int j = 0; j < n4; j += 8) {
                float *s = S + h * TILE + j;
                _mm256_store_ps(s,
                                _mm256_mul_ps(cap, tanh8(_mm256_mul_ps(_mm256_load_ps(s), inv))));
            }
    }
    for (int h = 0; h < nh; h++) {
        for (int j = 0; j < j0; j++)
            S[h * TILE + j] = -INFINITY;
        for (int j = nv; j < TILE; j++)
            S[h * TILE + j] = -INFINITY;
    }
    /* the token's new maxima, then all its alphas in one exp8 (lanes past nh: exp(0)) */
    _Alignas(32) float m_old[GROUP] = {0}, m_new[GROUP] = {0};
    float *M = w->m + r0, *L = w->l + r0, *A = w->alpha + r0;
    for (int h = 0; h < nh; h++) {
        const float *s = S + h * TILE;
        __m256 mx = _mm256_load_ps(s);
        for (int k = 8; k < TILE; k += 8)
            mx = _mm256_max_ps(mx, _mm256_load_ps(s + k));
        float tmax = hmax8(mx);
        m_old[h] = M[h];
        m_new[h] = M[h] = tmax > M[h] ? tmax : M[h];
    }
    _mm256_storeu_ps(A, exp8(_mm256_sub_ps(_mm256_load_ps(m_old), _mm256_load_ps(m_new))));
    for (int h = 0; h < nh; h++) {
        float *s = S + h * TILE;
        __m256 mn = _mm256_set1_ps(m_new[h]);
        __m256 sum = _mm256_setzero_ps();
        for (int k = 0; k < TILE; k += 8) {
            __m256 p = exp8(_mm256_sub_ps(_mm256_load_ps(s + k), mn));
            _mm256_store_ps(s + k, p);
            sum = k ? _mm256_add_ps(sum, p) : p;
        }
        L[h] = fmaf(L[h], A[h], hsum8(sum));
    }
    float *acc = w->acc + r0 * dv;
    for (int c = 0; c < dv; c += 16) {
        int nc = dv - c >= 16 ? 2 : 1;
        for (int hb = 0; hb < nh; hb += 4)
            pv_dispatch(acc + hb * dv, dv, w->vt, S + hb * TILE, A + hb, c, nv,
                        nh - hb < 4 ? nh - hb : 4, nc);
    }
}

/* Asks for the K and V rows of the tile at t0 while this one is computed: in decode at depth
 * the rows come from DRAM (a KV head's rows are a few cache lines in every cell, and a
 * paged cache's blocks are scattered), and waiting for each row in turn stalls the pass. */
static AVX2_INLINE void prefetch_tile(const bb_attn_args *a, int32_t t0, int32_t n_end) {
    int n = n_end - t0 < TILE ? (int)(n_end - t0) : TILE;
    size_t cells[TILE];
    tile_cells(&a->kv, t0, n, cells);
    size_t kb = (size_t)a->head_dim_k * sizeof(uint16_t),
           vb = (size_t)a->head_dim_v * sizeof(uint16_t);
    for (int j = 0; j < n; j++) {
        const char *kr = (const char *)(a->kv.k + cells[j] * a->kv.k_stride);
        const char *vr = (const char *)(a->kv.v + cells[j] * a->kv.v_stride);
        for (size_t o = 0; o < kb; o += 64)
            _mm_prefetch(kr + o, _MM_HINT_T0);
        for (size_t o = 0; o < vb; o += 64)
            _mm_prefetch(vr + o, _MM_HINT_T0);
    }
}

/* The AVX2 pass: ref_pass's operations, vectorized (see the file comment for the order). */
static AVX2 void avx2_pass(const bb_attn_args *a, int h0, int nh, int u0, int nu, scratch *w) {
    int dk = pad8(a->head_dim_k), dv = pad8(a->head_dim_v);
    for (int u = 0; u < nu; u++)
        for (int h = 0; h < nh; h++) {
            int r = u * nh + h;
            const float *q =
                a->q + (size_t)(u0 + u) * a->q_tok_stride + (size_t)(h0 + h) * a->q_stride;
            for (int d = 0; d < dk; d += 8) {
                __m256 x = d + 8 <= a->head_dim_k ? _mm256_loadu_ps(q + d)
                                                  : load_tail_ps(q + d, a->head_dim_k - d);
                __m128i qh = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT);
                _mm256_store_ps(w->q + r * dk + d, _mm256_cvtph_ps(qh));
            }
            w->m[r] = -INFINITY;
            w->l[r] = 0.0f;
        }
    memset(w->acc, 0, (size_t)(nu * nh) * (size_t)dv * sizeof *w->acc);
    int32_t n_end = a->n_pos + u0 + nu - 1;
    int32_t first = window_lo(a, a->n_pos + u0) / TILE * TILE;
    for (int32_t t0 = first; t0 < n_end; t0 += TILE) {
        int nw = n_end - t0 < TILE ? (int)(n_end - t0) : TILE;
        size_t cells[TILE];
        tile_cells(&a->kv, t0, nw, cells);
        for (int j = 0; j < nw; j++) {
            const uint16_t *kr = a->kv.k + cells[j] * a->kv.k_stride;
            const uint16_t *vr = a->kv.v + cells[j] * a->kv.v_stride;
            widen_row(w->kt + j * dk, kr, a->head_dim_k);
            widen_row(w->vt + j * dv, vr, a->head_dim_v);
        }
        /* rows past the widened ones in the last group of four are scored (then masked):
         * keep them finite */
        int n4w = (nw + 3) & ~3;
        if (n4w > nw) memset(w->kt + nw * dk, 0, (size_t)(n4w - nw) * (size_t)dk * sizeof *w->kt);
        if (t0 + TILE < n_end) prefetch_tile(a, t0 + TILE, n_end);
        for (int u = 0; u < nu; u++) {
            int32_t np = a->n_pos + u0 + u, lo = window_lo(a, np);
            if (t0 >= np || t0 + TILE <= lo) continue;
            int nv = np - t0 < TILE ? (int)(np - t0) : TILE;
            avx2_token_tile(a, nh, u * nh, lo > t0 ? (int)(lo - t0) : 0, nv, dk, dv, w);
        }
    }
    for (int u = 0; u < nu; u++)
        for (int h = 0; h < nh; h++) {
            int r = u * nh + h;
            float *out =
                a->out + (size_t)(u0 + u) * a->out_tok_stride + (size_t)(h0 + h) * a->out_stride;
            if (a->sinks) {
                float alpha = sink_fold(a->sinks[h0 + h], w->m[r], &w->l[r]);
                __m256 al = _mm256_set1_ps(alpha), lv = _mm256_set1_ps(w->l[r]);
                int i = 0;
                for (; i + 8 <= a->head_dim_v; i += 8)
                    _mm256_storeu_ps(
                        out + i,
                        _mm256_div_ps(_mm256_mul_ps(_mm256_load_ps(w->acc + r * dv + i), al), lv));
                for (; i < a->head_dim_v; i++)
                    out[i] = (w->acc[r * dv + i] * alpha) / w->l[r];
                continue;
            }
            __m256 il = _mm256_set1_ps(w->l[r]);
            int i = 0;
            for (; i + 8 <= a->head_dim_v; i += 8)
                _mm256_storeu_ps(out + i, _mm256_div_ps(_mm256_load_ps(w->acc + r * dv + i), il));
            for (; i < a->head_dim_v; i++)
                out[i] = w->acc[r * dv + i] / w->l[r];
        }
}

static void attention_avx2(const bb_attn_args *a) {
    scratch w;
    for (int h0 = 0; h0 < a->n_head; h0 += GROUP) {
        int nh = a->n_head - h0 < GROUP ? a->n_head - h0 : GROUP, per = pass_tokens(nh);
        for (int u0 = 0; u0 < a->n_tok; u0 += per)
            avx2_pass(a, h0, nh, u0, a->n_tok - u0 < per ? a->n_tok - u0 : per, &w);
    }
}
#endif

void bb_attention_ref(const bb_attn_args *a) {
    scratch w;
    for (int h0 = 0; h0 < a->n_head; h0 += GROUP) {
        int nh = a->n_head - h0 < GROUP ? a->n_head - h0 : GROUP, per = pass_tokens(nh);
        for (int u0 = 0; u0 < a->n_tok; u0 += per)
            ref_pass(a, h0, nh, u0, a->n_tok - u0 < per ? a->n_tok - u0 : per, &w);
    }
}

bb_attention_fn bb_attention_get(const char *level) {
    if (!level) level = bb_cpu_level();
    if (strcmp(level, "scalar") == 0) return bb_attention_ref;
#ifdef BB_ATTN_X86
    /* the quant tables know what this CPU runs; AVX-512 CPUs get the AVX2 kernel */
    if ((strcmp(level, "avx2") == 0 || strcmp(level, "avx512") == 0) &&
        bb_type_get_level(BB_TYPE_F16, level) != NULL)
        return attention_avx2;
#endif
    return NULL;
}
