/*
 * The interleaved 8-row layouts of Q4_K and Q6_K ("Q4_Kx8", "Q6_Kx8"), shared by the scalar
 * twins and the packers (repack_kquants_ref.c) and the AVX2 kernels (repack_kquants_avx2.c).
 * Internal to src/quant. Activation rows are Q8_K (float d, 256 int8 codes, 16 int16 bsums).
 *
 * Both layouts are built around one 256-bit register per 8 rows: its 32-bit lane r holds row
 * r's data, so that a 32-bit broadcast of 4 activation bytes meets 4 consecutive codes of
 * every row, and lane r accumulates row r with no cross-lane work. Everything the block
 * formats pack into bit fields for compactness (6-bit scales and mins, element orders chosen
 * for ggml's row kernels) is rearranged at load so that the kernel only masks and shifts.
 *
 * Q4_Kx8, per 256-element super-block s, QK4X8_SB_BYTES = 1184 bytes at s * 1184 (32-byte
 * multiples, so the code vectors stay 32-byte aligned in a 64-byte aligned group):
 *     uint16 d[8], dmin[8]      fp16 factors of row r (one vcvtph2ps gives all 8)
 *     uint8  sc[8][8], mn[8][8] sub-block j's scale / min of row r at [j][r], unpacked
 *     uint8  qs[32][8][4]       vector i, lane r, byte b: low nibble = code of element
 *                               8i+b of row r, high nibble = element 8i+4+b
 * Sub-block j (32 elements) is vectors 4j..4j+3. 1184 bytes against the 8 * 144 = 1152 of
 * the original rows: the unpacked scales cost 32 bytes (3%) of decode's memory traffic, and
 * save 6-bit unpacking in the kernel.
 *
 * Q6_Kx8, per super-block s, QK6X8_SB_BYTES = 1696 bytes at s * 1696:
 *     uint16 d[8]               fp16 factor of row r
 *     int8   sc[16][8]          sub-block k's signed scale of row r at [k][r]
 *     (16 zero bytes)           so that the codes start 32-byte aligned
 *     codes, at QK6X8_OFF_CODES = 160, per sub-block k of 16 elements, 96 bytes at 160 + 96k:
 *     uint8  ql[2][8][4]        vector m, lane r, byte b: low 4 bits of element 16k+8m+b
 *                               (low nibble) and 16k+8m+4+b (high nibble)
 *     uint8  qh[8][4]           lane r, byte b: bits 2f..2f+1 = high 2 bits of element
 *                               16k+4f+b, f = 0..3
 * 1696 bytes against the 8 * 210 = 1680 of the original rows. One stream per group: a
 * layout with all the codes of a group first and the scales after them (no padding) read
 * measurably slower at one token, out of cache (two streams per group for the prefetcher;
 * ~15 against ~18.5 GMAC/s on one Zen 3 core), than this one.
 *
 * The reduction order (repack.h's contract), per output (row r, token t), super-block by
 * super-block from acc = +0.0f:
 *   Q4_K:  acc = fmaf(d[r] * dy, (float)isum, acc);
 *          acc = fmaf(-(dmin[r] * dy), (float)msum, acc);
 *          isum = sum_j sc[j][r] * sum_{e in j} q(e) * a(e)            (exact, |isum| < 2^25)
 *          msum = sum_j mn[j][r] * (bsums[2j] + bsums[2j+1])          (exact)
 *   Q6_K:  acc = fmaf(d[r] * dy, (float)isum, acc);
 *          isum = sum_k sc[k][r] * sum_{e in k} q(e) * a(e) - 32 * sum_k sc[k][r] * bsums[k]
 *          (exact: the -32 offset of the codes goes through the bsums in integers)
 * where dy is the token's Q8_K scale, q(e) the unsigned code (Q4_K 0..15, Q6_K 0..63) and
 * a(e) the activation code. Integer sums are exact whatever their grouping, so the SIMD
 * kernels and the scalar twins agree bit for bit and no result depends on how many tokens a
 * call gets or where a token sits in a register tile.
 */
#ifndef BB_QUANT_REPACK_KQUANTS_H
#define BB_QUANT_REPACK_KQUANTS_H

#include "quant/repack.h"

#define QK4X8_SB_BYTES 1184
#define QK4X8_OFF_D 0
#define QK4X8_OFF_DMIN 16
#define QK4X8_OFF_SC 32
#define QK4X8_OFF_MN 96
#define QK4X8_OFF_QS 160

#define QK6X8_SB_BYTES 1696
#define QK6X8_OFF_CODES 160
#define QK6X8_SUB_BYTES 96
#define QK6X8_META_BYTES 144 /* d and sc */
#define QK6X8_OFF_D 0
#define QK6X8_OFF_SC 16

#endif
