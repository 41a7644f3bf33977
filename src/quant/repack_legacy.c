/*
 * Interleaved 8-row layouts of Q4_0 and Q8_0 (repack.h), their packers, and the scalar
 * kernels that define their arithmetic; repack_legacy_avx2.c computes the same bits.
 *
 * Q4_0x8, per 32-element block index b of the 8 rows (144 bytes, as 8 Q4_0 blocks):
 *   d[8]      the rows' fp16 scales, row r at d[r]
 *   qs[4][32] chunk c holds, for row r, bytes 4c..4c+3 of that row's qs at qs[c][4r..4r+3]
 * so one 32-byte load is a vector whose 32-bit lane r is row r: low nibbles are its
 * elements 4c..4c+3, high nibbles its elements 16+4c..16+4c+3.
 *
 * Q8_0x8, per block index (272 bytes, as 8 Q8_0 blocks):
 *   d[8]      fp16 scales
 *   qs[8][32] chunk c holds codes 4c..4c+3 of row r at qs[c][4r..4r+3]
 *
 * Arithmetic of one output (row r, activation row y), blocks in order b = 0, 1, ...:
 *   isum = sum_j w[r][b][j] * q[b][j]         exact in int32 (|isum| <= 32 * 128 * 127)
 *   acc  = fmaf(fp16(dw[r][b]) * dy[b], (float)isum, acc)
 * with the activations in block_q8_0s (Q8_0's codes and fp16 scale, widened to float).
 * where w is the signed weight code (Q4_0: nibble - 8, applied as sum(nibble * q) - 8 *
 * sum(q) with the activation's integer code sum from block_q8_0s). isum is exact in float
 * too (< 2^24), so the only roundings are the scale product and the fma: any kernel that
 * does those two per block in this order gives these bits.
 */
#include <math.h>
#include <string.h>

#include "quant/blocks_legacy.h"
#include "quant/quant.h"
#include "quant/repack.h"

#define R BB_RP_ROWS

/* ---- Q4_0x8 */

typedef struct {
    uint16_t d[R];
    uint8_t qs[4][4 * R];
} block_q4_0x8;
_Static_assert(sizeof(block_q4_0x8) == R * sizeof(block_q4_0), "Q4_0x8 is 8 Q4_0 blocks");

static size_t q4_0x8_group_bytes(int64_t n) {
    return n % QK4_0 ? 0 : (size_t)(n / QK4_0) * sizeof(block_q4_0x8);
}

static void q4_0x8_pack(const void *rows, size_t row_bytes, int64_t n, void *group) {
    block_q4_0x8 *out = group;
    for (int64_t b = 0; b < n / QK4_0; b++)
        for (int r = 0; r < R; r++) {
            const block_q4_0 *x = (const block_q4_0 *)((const char *)rows + r * row_bytes) + b;
            out[b].d[r] = x->d;
            for (int c = 0; c < 4; c++)
                memcpy(&out[b].qs[c][4 * r], &x->qs[4 * c], 4);
        }
}

static void q4_0x8_gemm(int64_t n, const void *w, const void *y, size_t y_stride, int T, float *out,
                        size_t out_stride) {
    const block_q4_0x8 *g = w;
    const int64_t nb = n / QK4_0;
    for (int t = 0; t < T; t++) {
        const block_q8_0s *yb = (const block_q8_0s *)((const char *)y + (size_t)t * y_stride);
        for (int r = 0; r < R; r++) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int isum = 0;
                for (int c = 0; c < 4; c++)
                    for (int k = 0; k < 4; k++) {
                        const uint8_t v = g[b].qs[c][4 * r + k];
                        isum +=
                            (v & 0x0F) * yb[b].qs[4 * c + k] + (v >> 4) * yb[b].qs[16 + 4 * c + k];
                    }
                isum -= 8 * yb[b].s;
                const float d = bb_fp16_to_fp32(g[b].d[r]) * yb[b].d;
                acc = fmaf(d, (float)isum, acc);
            }
            out[(size_t)t * out_stride + r] = acc;
        }
    }
}

/* ---- Q8_0x8 */

typedef struct {
    uint16_t d[R];
    int8_t qs[8][4 * R];
} block_q8_0x8;
_Static_assert(sizeof(block_q8_0x8) == R * sizeof(block_q8_0), "Q8_0x8 is 8 Q8_0 blocks");

static size_t q8_0x8_group_bytes(int64_t n) {
    return n % QK8_0 ? 0 : (size_t)(n / QK8_0) * sizeof(block_q8_0x8);
}

static void q8_0x8_pack(const void *rows, size_t row_bytes, int64_t n, void *group) {
    block_q8_0x8 *out = group;
    for (int64_t b = 0; b < n / QK8_0; b++)
        for (int r = 0; r < R; r++) {
            const block_q8_0 *x = (const block_q8_0 *)((const char *)rows + r * row_bytes) + b;
            out[b].d[r] = x->d;
            for (int c = 0; c < 8; c++)
                memcpy(&out[b].qs[c][4 * r], &x->qs[4 * c], 4);
        }
}

static void q8_0x8_gemm(int64_t n, const void *w, const void *y, size_t y_stride, int T, float *out,
                        size_t out_stride) {
    const block_q8_0x8 *g = w;
    const int64_t nb = n / QK8_0;
    for (int t = 0; t < T; t++) {
        const block_q8_0s *yb = (const block_q8_0s *)((const char *)y + (size_t)t * y_stride);
        for (int r = 0; r < R; r++) {
            float acc = 0.0f;
            for (int64_t b = 0; b < nb; b++) {
                int isum = 0;
                for (int c = 0; c < 8; c++)
                    for (int k = 0; k < 4; k++)
                        isum += g[b].qs[c][4 * r + k] * yb[b].qs[4 * c + k];
                const float d = bb_fp16_to_fp32(g[b].d[r]) * yb[b].d;
                acc = fmaf(d, (float)isum, acc);
            }
            out[(size_t)t * out_stride + r] = acc;
        }
    }
}

void bb_repack_fill_legacy_ref(bb_repack_traits *t) {
    t[BB_TYPE_Q4_0] = (bb_repack_traits){"Q4_0x8",           BB_TYPE_Q4_0, BB_TYPE_Q8_0S,
                                         q4_0x8_group_bytes, q4_0x8_pack,  q4_0x8_gemm};
    t[BB_TYPE_Q8_0] = (bb_repack_traits){"Q8_0x8",           BB_TYPE_Q8_0, BB_TYPE_Q8_0S,
                                         q8_0x8_group_bytes, q8_0x8_pack,  q8_0x8_gemm};
}
