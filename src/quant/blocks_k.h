/*
 * The K-quant block formats, byte for byte as ggml lays them out (ggml-common.h,
 * "super-blocks" of QK_K = 256 weights, introduced in llama.cpp PR #1684).
 *
 * Every weight type splits its super-block into sub-blocks of 16 or 32 weights, each with
 * its own small integer scale (and for the "with min" types Q2_K, Q4_K, Q5_K, an integer
 * min); the sub-block scales are themselves scaled by the fp16 super-block factors d (and
 * dmin). Weight w of sub-block j decodes as
 *     Q2_K, Q4_K, Q5_K:  d * scale_j * q - dmin * min_j     (q unsigned)
 *     Q3_K, Q6_K:        d * scale_j * q                    (q signed, scale_j signed)
 * Q8_K is the activation type the others are multiplied with: a float scale, 256 int8 values
 * in [-127, 127] and the sums of each group of 16 (which turn the "min" and "offset" parts
 * of the weight formats into one multiply per group).
 *
 * Element order inside a super-block (e = 0..255), as the dequantizers in kquants_ref.c
 * spell out:
 *  - Q4_K, Q5_K: qs holds 4 chunks of 64 weights in 32 bytes each; byte l of chunk c has
 *    weight 64c+l in its low nibble and weight 64c+32+l in its high nibble. Q5_K's fifth
 *    bit of weight 64c+l is bit 2c of qh[l], of weight 64c+32+l bit 2c+1.
 *  - Q2_K, Q3_K: qs holds 2 halves of 128 weights in 32 bytes each; bits 2s..2s+1 of byte l
 *    of half h hold weight 128h+32s+l. Q3_K's third bit of weight e is bit e/32 of
 *    hmask[e%32], and *clear* means subtract 4.
 *  - Q6_K: per half h of 128 weights, ql[64h+l] holds weights 128h+l (low nibble) and
 *    128h+64+l (high nibble), ql[64h+32+l] weights 128h+32+l and 128h+96+l; qh[32h+l] holds
 *    the two high bits of weights 128h+l, +32, +64, +96 in bit pairs 0, 2, 4, 6. q - 32 is
 *    the signed value.
 *
 * Alignment: the structs need 2-byte alignment (Q8_K: 4), which GGUF tensor data (aligned
 * to general.alignment, 32 by default) and malloc'd buffers satisfy.
 */
#ifndef BB_QUANT_BLOCKS_K_H
#define BB_QUANT_BLOCKS_K_H

#include "quant/quant.h"

#define BB_K_SCALE_SIZE 12 /* 8 six-bit scales + 8 six-bit mins, packed (Q4_K, Q5_K) */

typedef struct {
    uint8_t scales[QK_K / 16]; /* per 16 weights: scale in the low nibble, min in the high */
    uint8_t qs[QK_K / 4];      /* 2-bit quants */
    uint16_t d;                /* fp16 factor of the scales */
    uint16_t dmin;             /* fp16 factor of the mins */
} bb_block_q2_K;

typedef struct {
    uint8_t hmask[QK_K / 8]; /* third bit of each quant */
    uint8_t qs[QK_K / 4];    /* low 2 bits */
    uint8_t scales[12];      /* 16 six-bit scales, stored + 32 */
    uint16_t d;              /* fp16 factor of the scales */
} bb_block_q3_K;

typedef struct {
    uint16_t d;                      /* fp16 factor of the scales */
    uint16_t dmin;                   /* fp16 factor of the mins */
    uint8_t scales[BB_K_SCALE_SIZE]; /* per 32 weights, 6 bits each */
    uint8_t qs[QK_K / 2];            /* 4-bit quants */
} bb_block_q4_K;

typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[BB_K_SCALE_SIZE];
    uint8_t qh[QK_K / 8]; /* fifth bit of each quant */
    uint8_t qs[QK_K / 2]; /* low 4 bits */
} bb_block_q5_K;

typedef struct {
    uint8_t ql[QK_K / 2];     /* low 4 bits */
    uint8_t qh[QK_K / 4];     /* high 2 bits */
    int8_t scales[QK_K / 16]; /* per 16 weights, signed 8-bit */
    uint16_t d;               /* fp16 factor of the scales */
} bb_block_q6_K;

typedef struct {
    float d;                  /* value = d * q */
    int8_t qs[QK_K];          /* in [-127, 127] */
    int16_t bsums[QK_K / 16]; /* sum of each 16 consecutive qs */
} bb_block_q8_K;

_Static_assert(sizeof(bb_block_q2_K) == 84, "Q2_K block is 84 bytes");
_Static_assert(sizeof(bb_block_q3_K) == 110, "Q3_K block is 110 bytes");
_Static_assert(sizeof(bb_block_q4_K) == 144, "Q4_K block is 144 bytes");
_Static_assert(sizeof(bb_block_q5_K) == 176, "Q5_K block is 176 bytes");
_Static_assert(sizeof(bb_block_q6_K) == 210, "Q6_K block is 210 bytes");
_Static_assert(sizeof(bb_block_q8_K) == 292, "Q8_K block is 292 bytes");

/* Unpacks the 8 six-bit scales and 8 six-bit mins of a Q4_K/Q5_K block. Layout: bytes 0-3
 * hold scales 0-3 in their low 6 bits, bytes 4-7 mins 0-3; bytes 8-11 hold the low 4 bits of
 * scale 4+k (low nibble) and min 4+k (high nibble); the top 2 bits of bytes 0-3 are the high
 * bits of scales 4-7, those of bytes 4-7 the high bits of mins 4-7. */
static inline void bb_kq_unpack_scales_mins(const uint8_t *s, uint8_t scales[8], uint8_t mins[8]) {
    for (int j = 0; j < 4; j++) {
        scales[j] = s[j] & 63;
        mins[j] = s[j + 4] & 63;
        scales[j + 4] = (uint8_t)((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
        mins[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* Unpacks the 16 signed scales of a Q3_K block (stored as 6-bit values + 32): low 4 bits of
 * scale j in byte j (j < 8, low nibble) or byte j-8 (high nibble); high 2 bits in bits
 * 2*(j/4) of byte 8 + j%4. */
static inline void bb_kq_unpack_q3_scales(const uint8_t *s, int8_t scales[16]) {
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
        int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        scales[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

/* Reference quantizers (kquants_quantize.c), the algorithms of ggml's quantize_row_*_ref so
 * that `beanbag quantize` writes the bytes llama-quantize writes without an importance
 * matrix. n is a multiple of QK_K. */
void bb_kq_quantize_q2_K(const float *x, void *y, int64_t n);
void bb_kq_quantize_q3_K(const float *x, void *y, int64_t n);
void bb_kq_quantize_q4_K(const float *x, void *y, int64_t n);
void bb_kq_quantize_q5_K(const float *x, void *y, int64_t n);
void bb_kq_quantize_q6_K(const float *x, void *y, int64_t n);
void bb_kq_quantize_q8_K(const float *x, void *y, int64_t n);

/* For tests: the AVX-512 dot-product kernels of a weight type without and with AVX512_VNNI,
 * so that both are checked on a CPU that has VNNI (the traits table holds only the one it
 * picked). NULL where there is no such kernel or this CPU cannot run it. */
void bb_kq_avx512_variants(int type, bb_vec_dot_fn *plain, bb_vec_dot_fn *vnni);

#endif
