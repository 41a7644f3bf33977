/*
 * Scalar reference kernels of the K-quants: dequantization (the float expressions of ggml's
 * dequantize_row_*_K, so results are bit-identical to llama.cpp's) and dot products of a
 * weight row with a Q8_K activation row. These are the specification the SIMD kernels are
 * tested against.
 *
 * Dot products: within a super-block everything is integer (exact); per block the float
 * result is d_x * d_y * sum(scale_j * q . y) minus, for the "with min" types,
 * dmin_x * d_y * sum(min_j * bsum_j), accumulated over blocks in order. SIMD kernels compute
 * the same integers but group the float accumulation differently, so they agree with these up
 * to float summation order (see tests/test_kquants.c for the bound).
 */
#include "quant/blocks_k.h"
#include "quant/quant_impl.h"

/* ------------------------------------------------------------------- dequantization */

static void dequant_q2_K(const void *vx, float *y, int64_t n) {
    const bb_block_q2_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = bb_fp16_to_fp32(x[i].d), min = bb_fp16_to_fp32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int h = 0; h < QK_K; h += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 32; half += 16) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *y++ = dl * ((q[half + l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

static void dequant_q3_K(const void *vx, float *y, int64_t n) {
    const bb_block_q3_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d_all = bb_fp16_to_fp32(x[i].d);
        int8_t scales[16];
        bb_kq_unpack_q3_scales(x[i].scales, scales);
        const uint8_t *q = x[i].qs;
        int is = 0, bit = 0;
        for (int h = 0; h < QK_K; h += 128, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, bit++) {
                for (int half = 0; half < 32; half += 16) {
                    const float dl = d_all * scales[is++];
                    for (int l = 0; l < 16; l++) {
                        int v = (q[half + l] >> shift) & 3;
                        if (!((x[i].hmask[half + l] >> bit) & 1)) v -= 4;
                        *y++ = dl * v;
                    }
                }
            }
        }
    }
}

static void dequant_q4_K(const void *vx, float *y, int64_t n) {
    const bb_block_q4_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = bb_fp16_to_fp32(x[i].d), min = bb_fp16_to_fp32(x[i].dmin);
        uint8_t sc[8], m[8];
        bb_kq_unpack_scales_mins(x[i].scales, sc, m);
        const uint8_t *q = x[i].qs;
        for (int j = 0; j < 8; j += 2, q += 32) {
            const float d1 = d * sc[j], m1 = min * m[j];
            const float d2 = d * sc[j + 1], m2 = min * m[j + 1];
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void dequant_q5_K(const void *vx, float *y, int64_t n) {
    const bb_block_q5_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = bb_fp16_to_fp32(x[i].d), min = bb_fp16_to_fp32(x[i].dmin);
        uint8_t sc[8], m[8];
        bb_kq_unpack_scales_mins(x[i].scales, sc, m);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        for (int j = 0; j < 8; j += 2, ql += 32) {
            const float d1 = d * sc[j], m1 = min * m[j];
            const float d2 = d * sc[j + 1], m2 = min * m[j + 1];
            for (int l = 0; l < 32; l++)
                *y++ = d1 * ((ql[l] & 0xF) + (((qh[l] >> j) & 1) << 4)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * ((ql[l] >> 4) + (((qh[l] >> (j + 1)) & 1) << 4)) - m2;
        }
    }
}

static void dequant_q6_K(const void *vx, float *y, int64_t n) {
    const bb_block_q6_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = bb_fp16_to_fp32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int h = 0; h < QK_K; h += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

static void dequant_q8_K(const void *vx, float *y, int64_t n) {
    const bb_block_q8_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++)
        for (int j = 0; j < QK_K; j++)
            *y++ = x[i].d * x[i].qs[j];
}

/* ------------------------------------------------------------------------ dot products */

/* sum over the 16-weight groups g of coef[g] * bsums[g] */
static int32_t group_bsum_dot(const int16_t *bsums, const int32_t *coef) {
    int32_t s = 0;
    for (int g = 0; g < QK_K / 16; g++)
        s += coef[g] * bsums[g];
    return s;
}

/* Q2_K and Q3_K: weights 128h+32k+16g2+l (l < 16) are bits 2k..2k+1 of qs[32h+16g2+l], in
 * group 8h+2k+g2. Returns sum_groups scale * (q . y) for one block. */
static int32_t dot_q2_K_block(const bb_block_q2_K *x, const int8_t *a) {
    int32_t isum = 0;
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++)
            for (int g2 = 0; g2 < 2; g2++) {
                const uint8_t *q = x->qs + 32 * h + 16 * g2;
                const int8_t *y = a + 128 * h + 32 * k + 16 * g2;
                int32_t s = 0;
                for (int l = 0; l < 16; l++)
                    s += ((q[l] >> (2 * k)) & 3) * y[l];
                isum += (x->scales[8 * h + 2 * k + g2] & 0xF) * s;
            }
    return isum;
}

static void vec_dot_q2_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q2_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t mins[16];
        for (int g = 0; g < 16; g++)
            mins[g] = x[i].scales[g] >> 4;
        const float d = bb_fp16_to_fp32(x[i].d) * y[i].d;
        const float dmin = bb_fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf += d * (float)dot_q2_K_block(&x[i], y[i].qs) -
                dmin * (float)group_bsum_dot(y[i].bsums, mins);
    }
    *s = sumf;
}

/* The third bit of weight 128h+32k+m is bit 4h+k of hmask[m]; clear means subtract 4. */
static int32_t dot_q3_K_block(const bb_block_q3_K *x, const int8_t *a) {
    int8_t sc[16];
    bb_kq_unpack_q3_scales(x->scales, sc);
    int32_t isum = 0;
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < 4; k++)
            for (int g2 = 0; g2 < 2; g2++) {
                const uint8_t *q = x->qs + 32 * h + 16 * g2, *hm = x->hmask + 16 * g2;
                const int8_t *y = a + 128 * h + 32 * k + 16 * g2;
                int32_t s = 0;
                for (int l = 0; l < 16; l++) {
                    const int high = (hm[l] >> (4 * h + k)) & 1;
                    s += (((q[l] >> (2 * k)) & 3) - 4 + 4 * high) * y[l];
                }
                isum += sc[8 * h + 2 * k + g2] * s;
            }
    return isum;
}

static void vec_dot_q3_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q3_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++)
        sumf += bb_fp16_to_fp32(x[i].d) * y[i].d * (float)dot_q3_K_block(&x[i], y[i].qs);
    *s = sumf;
}

/* Q4_K and Q5_K: chunk c of 64 weights is qs[32c..32c+31], low nibbles weights 64c+l
 * (sub-block 2c), high nibbles 64c+32+l (sub-block 2c+1); Q5_K adds bit 2c / 2c+1 of qh[l]
 * as the fifth bit (qh NULL for Q4_K). */
static int32_t dot_q45_K_block(const uint8_t *qs, const uint8_t *qh, const uint8_t *sc,
                               const int8_t *a) {
    int32_t isum = 0;
    for (int c = 0; c < 4; c++) {
        const uint8_t *q = qs + 32 * c;
        const int8_t *y = a + 64 * c;
        int32_t lo = 0, hi = 0;
        for (int l = 0; l < 32; l++) {
            lo += (q[l] & 0xF) * y[l];
            hi += (q[l] >> 4) * y[l + 32];
        }
        for (int l = 0; qh && l < 32; l++) {
            lo += (((qh[l] >> (2 * c)) & 1) << 4) * y[l];
            hi += (((qh[l] >> (2 * c + 1)) & 1) << 4) * y[l + 32];
        }
        isum += sc[2 * c] * lo + sc[2 * c + 1] * hi;
    }
    return isum;
}

static float dot_q45_K(const uint8_t *qs, const uint8_t *qh, const uint8_t *packed_scales,
                       uint16_t dh, uint16_t dminh, const bb_block_q8_K *y) {
    uint8_t sc[8], m[8];
    bb_kq_unpack_scales_mins(packed_scales, sc, m);
    int32_t mins[16];
    for (int g = 0; g < 16; g++)
        mins[g] = m[g / 2];
    const float d = bb_fp16_to_fp32(dh) * y->d;
    const float dmin = bb_fp16_to_fp32(dminh) * y->d;
    return d * (float)dot_q45_K_block(qs, qh, sc, y->qs) -
           dmin * (float)group_bsum_dot(y->bsums, mins);
}

static void vec_dot_q4_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q4_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++)
        sumf += dot_q45_K(x[i].qs, NULL, x[i].scales, x[i].d, x[i].dmin, &y[i]);
    *s = sumf;
}

static void vec_dot_q5_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q5_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++)
        sumf += dot_q45_K(x[i].qs, x[i].qh, x[i].scales, x[i].d, x[i].dmin, &y[i]);
    *s = sumf;
}

/* Q6_K, per half h of 128 weights: part p (0..3) is weights 128h+32p+l, low 4 bits from
 * ql[64h + 32(p&1) + l] (low nibble for p < 2, high for p >= 2), high 2 bits from bits
 * 2p..2p+1 of qh[32h+l]; stored + 32. */
static int32_t dot_q6_K_block(const bb_block_q6_K *x, const int8_t *a) {
    int32_t isum = 0;
    for (int h = 0; h < 2; h++)
        for (int p = 0; p < 4; p++)
            for (int g2 = 0; g2 < 2; g2++) {
                const uint8_t *ql = x->ql + 64 * h + 32 * (p & 1) + 16 * g2;
                const uint8_t *qh = x->qh + 32 * h + 16 * g2;
                const int8_t *y = a + 128 * h + 32 * p + 16 * g2;
                int32_t s = 0;
                for (int l = 0; l < 16; l++) {
                    const int q =
                        ((ql[l] >> (4 * (p >> 1))) & 0xF) | (((qh[l] >> (2 * p)) & 3) << 4);
                    s += (q - 32) * y[l];
                }
                isum += x->scales[8 * h + 2 * p + g2] * s;
            }
    return isum;
}

static void vec_dot_q6_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q6_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++)
        sumf += bb_fp16_to_fp32(x[i].d) * y[i].d * (float)dot_q6_K_block(&x[i], y[i].qs);
    *s = sumf;
}

/* ----------------------------------------------------------------------------- table */

static bb_type_traits weight_type(const char *name, size_t type_size, bb_to_float_fn to_float,
                                  bb_from_float_fn from_float, bb_vec_dot_fn vec_dot) {
    return (bb_type_traits){.name = name,
                            .block_size = QK_K,
                            .type_size = type_size,
                            .is_weight_type = true,
                            .vec_dot_type = BB_TYPE_Q8_K,
                            .to_float = to_float,
                            .from_float = from_float,
                            .vec_dot = vec_dot};
}

void bb_quant_fill_kquants_ref(bb_type_traits *t) {
    t[BB_TYPE_Q2_K] =
        weight_type("Q2_K", sizeof(bb_block_q2_K), dequant_q2_K, bb_kq_quantize_q2_K, vec_dot_q2_K);
    t[BB_TYPE_Q3_K] =
        weight_type("Q3_K", sizeof(bb_block_q3_K), dequant_q3_K, bb_kq_quantize_q3_K, vec_dot_q3_K);
    t[BB_TYPE_Q4_K] =
        weight_type("Q4_K", sizeof(bb_block_q4_K), dequant_q4_K, bb_kq_quantize_q4_K, vec_dot_q4_K);
    t[BB_TYPE_Q5_K] =
        weight_type("Q5_K", sizeof(bb_block_q5_K), dequant_q5_K, bb_kq_quantize_q5_K, vec_dot_q5_K);
    t[BB_TYPE_Q6_K] =
        weight_type("Q6_K", sizeof(bb_block_q6_K), dequant_q6_K, bb_kq_quantize_q6_K, vec_dot_q6_K);
    /* activation-only: rows of it are only ever the right-hand side of a dot product */
    t[BB_TYPE_Q8_K] =
        weight_type("Q8_K", sizeof(bb_block_q8_K), dequant_q8_K, bb_kq_quantize_q8_K, NULL);
    t[BB_TYPE_Q8_K].is_weight_type = false;
}
