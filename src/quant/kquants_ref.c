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

/* Sum over the 16-weight groups g of mins_or_offsets(g) * bsums[g]. */
static int32_t group_bsum_dot(const int16_t *bsums, const int32_t *coef) {
    int32_t s = 0;
    for (int g = 0; g < QK_K / 16; g++)
        s += coef[g] * bsums[g];
    return s;
}

static void vec_dot_q2_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q2_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t mins[16], isum = 0;
        for (int g = 0; g < 16; g++)
            mins[g] = x[i].scales[g] >> 4;
        for (int e = 0; e < QK_K; e++) {
            const int q = (x[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            isum += (x[i].scales[e / 16] & 0xF) * q * y[i].qs[e];
        }
        const float d = bb_fp16_to_fp32(x[i].d) * y[i].d;
        const float dmin = bb_fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf += d * (float)isum - dmin * (float)group_bsum_dot(y[i].bsums, mins);
    }
    *s = sumf;
}

static void vec_dot_q3_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q3_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int8_t sc[16];
        bb_kq_unpack_q3_scales(x[i].scales, sc);
        int32_t isum = 0;
        for (int e = 0; e < QK_K; e++) {
            int q = (x[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            if (!((x[i].hmask[e % 32] >> (e / 32)) & 1)) q -= 4;
            isum += sc[e / 16] * q * y[i].qs[e];
        }
        sumf += bb_fp16_to_fp32(x[i].d) * y[i].d * (float)isum;
    }
    *s = sumf;
}

/* Q4_K and Q5_K: quant e of a block, 0..15 or 0..31. */
static inline int q4k_quant(const uint8_t *qs, int e) {
    return (qs[32 * (e / 64) + e % 32] >> (4 * ((e % 64) / 32))) & 0xF;
}

static void vec_dot_q4_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q4_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], m[8];
        bb_kq_unpack_scales_mins(x[i].scales, sc, m);
        int32_t mins[16], isum = 0;
        for (int g = 0; g < 16; g++)
            mins[g] = m[g / 2];
        for (int e = 0; e < QK_K; e++)
            isum += sc[e / 32] * q4k_quant(x[i].qs, e) * y[i].qs[e];
        const float d = bb_fp16_to_fp32(x[i].d) * y[i].d;
        const float dmin = bb_fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf += d * (float)isum - dmin * (float)group_bsum_dot(y[i].bsums, mins);
    }
    *s = sumf;
}

static void vec_dot_q5_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q5_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        uint8_t sc[8], m[8];
        bb_kq_unpack_scales_mins(x[i].scales, sc, m);
        int32_t mins[16], isum = 0;
        for (int g = 0; g < 16; g++)
            mins[g] = m[g / 2];
        for (int e = 0; e < QK_K; e++) {
            const int q = q4k_quant(x[i].qs, e) | (((x[i].qh[e % 32] >> (e / 32)) & 1) << 4);
            isum += sc[e / 32] * q * y[i].qs[e];
        }
        const float d = bb_fp16_to_fp32(x[i].d) * y[i].d;
        const float dmin = bb_fp16_to_fp32(x[i].dmin) * y[i].d;
        sumf += d * (float)isum - dmin * (float)group_bsum_dot(y[i].bsums, mins);
    }
    *s = sumf;
}

static void vec_dot_q6_K(int64_t n, float *s, const void *vx, const void *vy) {
    const bb_block_q6_K *x = vx;
    const bb_block_q8_K *y = vy;
    float sumf = 0;
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t isum = 0;
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, r = e % 128; /* half, and weight within it */
            const uint8_t lo = x[i].ql[64 * h + r % 64];
            const int q = (((r < 64 ? lo : lo >> 4) & 0xF) |
                           (((x[i].qh[32 * h + r % 32] >> (2 * (r / 32))) & 3) << 4)) -
                          32;
            isum += x[i].scales[e / 16] * q * y[i].qs[e];
        }
        sumf += bb_fp16_to_fp32(x[i].d) * y[i].d * (float)isum;
    }
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
