/*
 * Q4_Kx8 and Q6_Kx8 (layouts in repack_kquants.h): the packers, which every level shares,
 * and the scalar twins of the SIMD kernels. The twins spell out the documented float order
 * with fmaf; their integer sums may be grouped any way since they are exact.
 */
#include "quant/repack_kquants.h"

#include <math.h>
#include <string.h>

#include "quant/blocks_k.h"

/* ------------------------------------------------------------------------------ Q4_K */

static size_t q4_K_group_bytes(int64_t n) {
    return (size_t)(n / QK_K) * QK4X8_SB_BYTES;
}

/* The 256 unsigned codes of a Q4_K block in element order (blocks_k.h: chunk c of 64 is
 * qs[32c..32c+31], low nibbles its first 32 elements, high nibbles the next 32). */
static void q4_K_codes(const bb_block_q4_K *x, uint8_t q[QK_K]) {
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = x->qs[32 * c + l] & 0xF;
            q[64 * c + 32 + l] = x->qs[32 * c + l] >> 4;
        }
}

static void q4_K_pack(const void *rows, size_t row_bytes, int64_t n, void *group) {
    uint8_t *out = group;
    for (int64_t s = 0; s < n / QK_K; s++) {
        uint8_t *sb = out + (size_t)s * QK4X8_SB_BYTES;
        for (int r = 0; r < BB_RP_ROWS; r++) {
            const bb_block_q4_K *x =
                (const bb_block_q4_K *)((const char *)rows + (size_t)r * row_bytes) + s;
            memcpy(sb + QK4X8_OFF_D + 2 * r, &x->d, 2);
            memcpy(sb + QK4X8_OFF_DMIN + 2 * r, &x->dmin, 2);
            uint8_t sc[8], mn[8];
            bb_kq_unpack_scales_mins(x->scales, sc, mn);
            for (int j = 0; j < 8; j++) {
                sb[QK4X8_OFF_SC + 8 * j + r] = sc[j];
                sb[QK4X8_OFF_MN + 8 * j + r] = mn[j];
            }
            uint8_t q[QK_K];
            q4_K_codes(x, q);
            for (int i = 0; i < 32; i++)
                for (int b = 0; b < 4; b++)
                    sb[QK4X8_OFF_QS + 32 * i + 4 * r + b] =
                        (uint8_t)(q[8 * i + b] | q[8 * i + 4 + b] << 4);
        }
    }
}

static void q4_K_gemm_ref(int64_t n, const void *w, const void *y, size_t y_stride, int T,
                          float *out, size_t out_stride) {
    const int64_t nsb = n / QK_K;
    for (int t = 0; t < T; t++) {
        const bb_block_q8_K *a = (const bb_block_q8_K *)((const char *)y + (size_t)t * y_stride);
        for (int r = 0; r < BB_RP_ROWS; r++) {
            float acc = 0.0f;
            for (int64_t s = 0; s < nsb; s++) {
                const uint8_t *sb = (const uint8_t *)w + (size_t)s * QK4X8_SB_BYTES;
                int32_t isum = 0, msum = 0;
                for (int j = 0; j < 8; j++) {
                    int32_t sub = 0;
                    for (int i = 4 * j; i < 4 * j + 4; i++)
                        for (int b = 0; b < 4; b++) {
                            const uint8_t q = sb[QK4X8_OFF_QS + 32 * i + 4 * r + b];
                            sub +=
                                (q & 0xF) * a[s].qs[8 * i + b] + (q >> 4) * a[s].qs[8 * i + 4 + b];
                        }
                    isum += sb[QK4X8_OFF_SC + 8 * j + r] * sub;
                    msum +=
                        sb[QK4X8_OFF_MN + 8 * j + r] * (a[s].bsums[2 * j] + a[s].bsums[2 * j + 1]);
                }
                uint16_t dh, mh;
                memcpy(&dh, sb + QK4X8_OFF_D + 2 * r, 2);
                memcpy(&mh, sb + QK4X8_OFF_DMIN + 2 * r, 2);
                const float dd = bb_fp16_to_fp32(dh) * a[s].d;
                const float dm = bb_fp16_to_fp32(mh) * a[s].d;
                acc = fmaf(dd, (float)isum, acc);
                acc = fmaf(-dm, (float)msum, acc);
            }
            out[(size_t)t * out_stride + r] = acc;
        }
    }
}

/* ------------------------------------------------------------------------------ Q6_K */

static size_t q6_K_group_bytes(int64_t n) {
    return (size_t)(n / QK_K) * QK6X8_SB_BYTES;
}

/* The 256 unsigned codes (0..63, value q - 32) of a Q6_K block in element order
 * (blocks_k.h: half h of 128, part p of 32 within it). */
static void q6_K_codes(const bb_block_q6_K *x, uint8_t q[QK_K]) {
    for (int h = 0; h < 2; h++)
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++) {
                const int lo = (x->ql[64 * h + 32 * (p & 1) + l] >> (4 * (p >> 1))) & 0xF;
                const int hi = (x->qh[32 * h + l] >> (2 * p)) & 3;
                q[128 * h + 32 * p + l] = (uint8_t)(lo | hi << 4);
            }
}

static void q6_K_pack(const void *rows, size_t row_bytes, int64_t n, void *group) {
    const int64_t nsb = n / QK_K;
    uint8_t *out = group;
    for (int64_t s = 0; s < nsb; s++) {
        uint8_t *c = out + (size_t)s * QK6X8_SB_BYTES + QK6X8_OFF_CODES;
        uint8_t *m = out + (size_t)s * QK6X8_SB_BYTES;
        memset(m + QK6X8_META_BYTES, 0, QK6X8_OFF_CODES - QK6X8_META_BYTES);
        for (int r = 0; r < BB_RP_ROWS; r++) {
            const bb_block_q6_K *x =
                (const bb_block_q6_K *)((const char *)rows + (size_t)r * row_bytes) + s;
            memcpy(m + QK6X8_OFF_D + 2 * r, &x->d, 2);
            uint8_t codes_r[QK_K];
            q6_K_codes(x, codes_r);
            for (int k = 0; k < 16; k++) {
                m[QK6X8_OFF_SC + 8 * k + r] = (uint8_t)x->scales[k];
                uint8_t *sub = c + QK6X8_SUB_BYTES * k;
                for (int b = 0; b < 4; b++) {
                    const uint8_t *q = codes_r + 16 * k + b; /* q[4f]: element 16k + 4f + b */
                    sub[4 * r + b] = (uint8_t)((q[0] & 0xF) | (q[4] & 0xF) << 4);
                    sub[32 + 4 * r + b] = (uint8_t)((q[8] & 0xF) | (q[12] & 0xF) << 4);
                    sub[64 + 4 * r + b] = (uint8_t)(q[0] >> 4 | (q[4] >> 4) << 2 |
                                                    (q[8] >> 4) << 4 | (q[12] >> 4) << 6);
                }
            }
        }
    }
}

static void q6_K_gemm_ref(int64_t n, const void *w, const void *y, size_t y_stride, int T,
                          float *out, size_t out_stride) {
    const int64_t nsb = n / QK_K;
    const uint8_t *base = w;
    for (int t = 0; t < T; t++) {
        const bb_block_q8_K *a = (const bb_block_q8_K *)((const char *)y + (size_t)t * y_stride);
        for (int r = 0; r < BB_RP_ROWS; r++) {
            float acc = 0.0f;
            for (int64_t s = 0; s < nsb; s++) {
                const uint8_t *c = base + (size_t)s * QK6X8_SB_BYTES + QK6X8_OFF_CODES;
                const uint8_t *m = base + (size_t)s * QK6X8_SB_BYTES;
                int32_t isum = 0, osum = 0;
                for (int k = 0; k < 16; k++) {
                    const uint8_t *sub = c + QK6X8_SUB_BYTES * k;
                    int32_t dot = 0;
                    for (int b = 0; b < 4; b++) {
                        const uint8_t l0 = sub[4 * r + b], l1 = sub[32 + 4 * r + b];
                        const uint8_t h = sub[64 + 4 * r + b];
                        const int q[4] = {
                            (l0 & 0xF) | (h & 3) << 4, (l0 >> 4) | ((h >> 2) & 3) << 4,
                            (l1 & 0xF) | ((h >> 4) & 3) << 4, (l1 >> 4) | ((h >> 6) & 3) << 4};
                        for (int f = 0; f < 4; f++)
                            dot += q[f] * a[s].qs[16 * k + 4 * f + b];
                    }
                    const int32_t sc = (int8_t)m[QK6X8_OFF_SC + 8 * k + r];
                    isum += sc * dot;
                    osum += sc * a[s].bsums[k];
                }
                isum -= 32 * osum;
                uint16_t dh;
                memcpy(&dh, m + QK6X8_OFF_D + 2 * r, 2);
                const float dd = bb_fp16_to_fp32(dh) * a[s].d;
                acc = fmaf(dd, (float)isum, acc);
            }
            out[(size_t)t * out_stride + r] = acc;
        }
    }
}

/* ----------------------------------------------------------------------------- table */

void bb_repack_fill_kquants_ref(bb_repack_traits *t) {
    t[BB_TYPE_Q4_K] = (bb_repack_traits){.name = "Q4_Kx8",
                                         .type = BB_TYPE_Q4_K,
                                         .act_type = BB_TYPE_Q8_K,
                                         .group_bytes = q4_K_group_bytes,
                                         .pack = q4_K_pack,
                                         .gemm = q4_K_gemm_ref};
    t[BB_TYPE_Q6_K] = (bb_repack_traits){.name = "Q6_Kx8",
                                         .type = BB_TYPE_Q6_K,
                                         .act_type = BB_TYPE_Q8_K,
                                         .group_bytes = q6_K_group_bytes,
                                         .pack = q6_K_pack,
                                         .gemm = q6_K_gemm_ref};
}
