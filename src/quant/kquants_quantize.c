/*
 * Reference quantizers for the K-quants: the algorithms of ggml's quantize_row_{q2..q6,q8}_K_ref
 * (ggml-quants.c), written out again so that a tensor quantized here has the same bytes as
 * one quantized by llama-quantize without an importance matrix. Bit-exactness depends on
 * doing the same float operations in the same order, so the arithmetic below keeps ggml's
 * evaluation order even where another would read more naturally.
 *
 * The scheme, per super-block of 256 weights:
 *  1. fit each sub-block (16 or 32 weights) on its own: a float scale (and for Q2/Q4/Q5_K a
 *     float min) chosen by a small search that minimises weighted squared (or absolute)
 *     error, see fit_scale_min() and fit_scale_signed();
 *  2. quantize those float scales (and mins) to 4, 6 or 8 bits against one fp16 factor;
 *  3. requantize every weight with the scale it will actually be decoded with.
 */
#include "quant/blocks_k.h"

#include <math.h>
#include <string.h>

/* Values below this are "all zero" (GROUP_MAX_EPS in ggml). */
#define KQ_GROUP_MAX_EPS 1e-15f

static inline int imin(int a, int b) {
    return a < b ? a : b;
}
static inline int imax(int a, int b) {
    return a > b ? a : b;
}

/* Round to the nearest integer, ties to even, for |v| < 2^22: adding 1.5 * 2^23 leaves the
 * integer in the low mantissa bits (the rounding is the FPU's). ggml quantizes with exactly
 * this, and it is also what cvtps2dq does, which keeps SIMD quantizers bit-identical. */
static inline int kq_round(float v) {
    float t = v + 12582912.f;
    int32_t i;
    memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/*
 * Asymmetric fit for the "with min" types: find scale s >= 0 and min m <= 0 so that
 * x ~= s * L + m with L in [0, nmax], minimising sum w * err (err = |diff| with use_mad,
 * diff^2 otherwise). Starts from the min/max grid, then tries nstep+1 grids
 * (nmax + rmin + rdelta * is) / (max - min), solving weighted least squares for s and m on
 * each assignment and keeping the best. Returns s, stores -m in *neg_min. (ggml's
 * make_qkx2_quants.)
 */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                           float *neg_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                           bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = kq_round(iscale * (x[i] - min));
        L[i] = (uint8_t)imax(0, imin(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += w[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(0, imin(nmax, kq_round(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float cur_error = 0;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * Laux[i] + this_min - x[i];
            diff = use_mad ? fabsf(diff) : diff * diff;
            cur_error += w[i] * diff;
        }
        if (cur_error < best_error) {
            memcpy(L, Laux, (size_t)n);
            best_error = cur_error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

/*
 * Symmetric fit with weights x^2 (Q6_K): L in [0, 2*nmax) codes l - nmax, and the element of
 * largest magnitude maps to -nmax so the asymmetric range [-nmax, nmax-1] is used fully.
 * Tries 19 grids around nmax and keeps the one with the best weighted least-squares scale
 * (maximal sumlx^2 / suml2). Returns the scale. (ggml's make_qx_quants, rmse_type 1.)
 */
static float fit_scale_signed(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < KQ_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = imax(-nmax, imin(nmax - 1, kq_round(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = imax(-nmax, imin(nmax - 1, kq_round(iscale * x[i])));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = kq_round(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/*
 * Symmetric fit for Q3_K (weights x^2): start from the max-magnitude grid, then up to five
 * rounds of coordinate descent, moving one L[i] at a time to the value optimal for the
 * current least-squares scale when that improves sumlx^2 / suml2. Returns the scale; L holds
 * l + nmax. (ggml's make_q3_quants with do_rmse.)
 */
static float fit_scale_q3(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < KQ_GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = imax(-nmax, imin(nmax - 1, kq_round(iscale * x[i])));
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (!(slx > 0)) continue;
            float sl2 = suml2 - w * L[i] * L[i];
            int new_l = imax(-nmax, imin(nmax - 1, kq_round(x[i] * sl2 / slx)));
            if (new_l == L[i]) continue;
            slx += w * x[i] * new_l;
            sl2 += w * new_l * new_l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)new_l;
                sumlx = slx;
                suml2 = sl2;
                n_changed++;
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

/* Packs 256 2-bit values in the Q2_K/Q3_K order (see blocks_k.h). */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
}

/* ------------------------------------------------------------------------------ Q2_K */

static void quantize_block_q2_K(const float *x, bb_block_q2_K *y) {
    const float q4scale = 15.f;
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    float max_scale = 0, max_min = 0; /* mins are subtracted, so scales are >= 0 */
    for (int j = 0; j < QK_K / 16; j++) {
        for (int l = 0; l < 16; l++)
            weights[l] = fabsf(x[16 * j + l]);
        scales[j] = fit_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                  0.1f, 15, true);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    memset(y->scales, 0, sizeof y->scales);
    if (max_scale > 0) {
        float iscale = q4scale / max_scale;
        for (int j = 0; j < QK_K / 16; j++)
            y->scales[j] = (uint8_t)kq_round(iscale * scales[j]);
        y->d = bb_fp32_to_fp16(max_scale / q4scale);
    } else {
        y->d = bb_fp32_to_fp16(0.f);
    }
    if (max_min > 0) {
        float iscale = q4scale / max_min;
        for (int j = 0; j < QK_K / 16; j++)
            y->scales[j] |= (uint8_t)((unsigned)kq_round(iscale * mins[j]) << 4);
        y->dmin = bb_fp32_to_fp16(max_min / q4scale);
    } else {
        y->dmin = bb_fp32_to_fp16(0.f);
    }
    const float dd = bb_fp16_to_fp32(y->d), dm = bb_fp16_to_fp32(y->dmin);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = dd * (y->scales[j] & 0xF);
        if (!d) continue;
        const float m = dm * (y->scales[j] >> 4);
        for (int ii = 0; ii < 16; ii++) {
            int l = kq_round((x[16 * j + ii] + m) / d);
            L[16 * j + ii] = (uint8_t)imax(0, imin(3, l));
        }
    }
    pack_2bit(L, y->qs);
}

void bb_kq_quantize_q2_K(const float *x, void *vy, int64_t n) {
    bb_block_q2_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++)
        quantize_block_q2_K(x + i * QK_K, y + i);
}

/* ------------------------------------------------------------------------------ Q3_K */

static void quantize_block_q3_K(const float *x, bb_block_q3_K *y) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < QK_K / 16; j++) {
        scales[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
        float a = fabsf(scales[j]);
        if (a > amax) {
            amax = a;
            max_scale = scales[j];
        }
    }
    memset(y->scales, 0, sizeof y->scales);
    if (max_scale) {
        float iscale = -32.f / max_scale;
        for (int j = 0; j < QK_K / 16; j++) {
            int l = imax(-32, imin(31, kq_round(iscale * scales[j]))) + 32;
            if (j < 8)
                y->scales[j] = (uint8_t)(l & 0xF);
            else
                y->scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
            y->scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
        y->d = bb_fp32_to_fp16(1 / iscale);
    } else {
        y->d = bb_fp32_to_fp16(0.f);
    }
    int8_t sc[16];
    bb_kq_unpack_q3_scales(y->scales, sc);
    const float dd = bb_fp16_to_fp32(y->d);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = dd * sc[j];
        if (!d) continue;
        for (int ii = 0; ii < 16; ii++) {
            int l = kq_round(x[16 * j + ii] / d);
            L[16 * j + ii] = (int8_t)(imax(-4, imin(3, l)) + 4);
        }
    }
    /* bit 2 of the value goes to hmask (bit e/32 of byte e%32), the low 2 bits to qs */
    uint8_t low[QK_K];
    memset(y->hmask, 0, sizeof y->hmask);
    for (int e = 0; e < QK_K; e++) {
        if (L[e] > 3) y->hmask[e % 32] |= (uint8_t)(1 << (e / 32));
        low[e] = (uint8_t)(L[e] & 3);
    }
    pack_2bit(low, y->qs);
}

void bb_kq_quantize_q3_K(const float *x, void *vy, int64_t n) {
    bb_block_q3_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++)
        quantize_block_q3_K(x + i * QK_K, y + i);
}

/* -------------------------------------------------------------------- Q4_K and Q5_K */

/* Packs 6-bit scales and mins into the 12 bytes that bb_kq_unpack_scales_mins reads. */
static void pack_scales_mins(const uint8_t ls[8], const uint8_t lm[8], uint8_t *s) {
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(ls[j] | ((ls[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)(lm[j] | ((lm[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
    }
}

/* Steps 1-3 shared by Q4_K and Q5_K: fit 8 sub-blocks of 32 with nmax levels, store d, dmin
 * and the 6-bit scales/mins, and leave the final quants (0..nmax) in L. */
static void quantize_scales_mins_32(const float *x, int nmax, float rmin, int nstep,
                                    uint16_t *d_out, uint16_t *dmin_out, uint8_t *packed,
                                    uint8_t *L) {
    uint8_t Laux[32];
    float weights[32], mins[QK_K / 32], scales[QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        /* weight the error by |x| plus the sub-block's rms, so large weights matter more */
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = fit_scale_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                                  0.1f, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < QK_K / 32; j++) {
        ls[j] = (uint8_t)kq_round(inv_scale * scales[j]);
        lm[j] = (uint8_t)kq_round(inv_min * mins[j]);
        if (ls[j] > 63) ls[j] = 63;
        if (lm[j] > 63) lm[j] = 63;
    }
    pack_scales_mins(ls, lm, packed);
    *d_out = bb_fp32_to_fp16(max_scale / 63.f);
    *dmin_out = bb_fp32_to_fp16(max_min / 63.f);

    uint8_t sc[8], m[8];
    bb_kq_unpack_scales_mins(packed, sc, m);
    const float dd = bb_fp16_to_fp32(*d_out), dm = bb_fp16_to_fp32(*dmin_out);
    for (int j = 0; j < QK_K / 32; j++) {
        const float d = dd * sc[j];
        if (!d) continue;
        const float mm = dm * m[j];
        for (int ii = 0; ii < 32; ii++) {
            int l = kq_round((x[32 * j + ii] + mm) / d);
            L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
        }
    }
}

void bb_kq_quantize_q4_K(const float *x, void *vy, int64_t n) {
    bb_block_q4_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        quantize_scales_mins_32(x, 15, -1.f, 20, &y[i].d, &y[i].dmin, y[i].scales, L);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++)
                q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

void bb_kq_quantize_q5_K(const float *x, void *vy, int64_t n) {
    bb_block_q5_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        uint8_t L[QK_K];
        quantize_scales_mins_32(x, 31, -0.5f, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        uint8_t *qh = y[i].qh, *ql = y[i].qs;
        memset(qh, 0, QK_K / 8);
        for (int c = 0; c < QK_K / 64; c++, ql += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[64 * c + j], l2 = L[64 * c + j + 32];
                if (l1 > 15) qh[j] |= (uint8_t)(1 << (2 * c));
                if (l2 > 15) qh[j] |= (uint8_t)(2 << (2 * c));
                ql[j] = (uint8_t)((l1 & 0xF) | ((l2 & 0xF) << 4));
            }
        }
    }
}

/* ------------------------------------------------------------------------------ Q6_K */

static void quantize_block_q6_K(const float *x, bb_block_q6_K *y) {
    int8_t L[QK_K];
    float scales[QK_K / 16];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ib++) {
        scales[ib] = fit_scale_signed(16, 32, x + 16 * ib, L + 16 * ib);
        float a = fabsf(scales[ib]);
        if (a > max_abs_scale) {
            max_abs_scale = a;
            max_scale = scales[ib];
        }
    }
    if (max_abs_scale < KQ_GROUP_MAX_EPS) {
        memset(y, 0, sizeof *y);
        return;
    }
    float iscale = -128.f / max_scale;
    y->d = bb_fp32_to_fp16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ib++)
        y->scales[ib] = (int8_t)imin(127, kq_round(iscale * scales[ib]));
    const float dd = bb_fp16_to_fp32(y->d);
    for (int j = 0; j < QK_K / 16; j++) {
        const float d = dd * y->scales[j];
        if (!d) continue;
        for (int ii = 0; ii < 16; ii++) {
            int l = kq_round(x[16 * j + ii] / d);
            L[16 * j + ii] = (int8_t)(imax(-32, imin(31, l)) + 32);
        }
    }
    uint8_t *ql = y->ql, *qh = y->qh;
    for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
        for (int l = 0; l < 32; l++) {
            const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
            ql[l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
            ql[l + 32] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
            qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
    }
}

void bb_kq_quantize_q6_K(const float *x, void *vy, int64_t n) {
    bb_block_q6_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++)
        quantize_block_q6_K(x + i * QK_K, y + i);
}

/* ------------------------------------------------------------------------------ Q8_K */

/* Scale so that the element of largest magnitude maps to -127 (ggml chose -127 over -128 so
 * that products of two quants fit the AVX2 tricks); bsums are the sums of each 16 quants.
 * An all-zero block gets d = 0 and zero quants and sums (ggml leaves its bsums unset). */
void bb_kq_quantize_q8_K(const float *x, void *vy, int64_t n) {
    bb_block_q8_K *y = vy;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++)
            y[i].qs[j] = (int8_t)imin(127, kq_round(iscale * x[j]));
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int ii = 0; ii < 16; ii++)
                sum += y[i].qs[j * 16 + ii];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}
