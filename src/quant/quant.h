/*
 * Weight types (ggml block formats) and the kernels over them.
 *
 * Each type has a scalar reference (to_float, from_float, vec_dot) that is the
 * specification, and SIMD versions (AVX2, AVX-512) picked once at start-up by CPU features.
 * Matrix products quantize the activation row once to the weight type's vec_dot_type
 * (as ggml does: Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants, F16 for
 * F16, BF16 for BF16, F32 for F32) and then call vec_dot per weight row.
 */
#ifndef BB_QUANT_H
#define BB_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bb_type {
    BB_TYPE_F32 = 0,
    BB_TYPE_F16 = 1,
    BB_TYPE_Q4_0 = 2,
    BB_TYPE_Q4_1 = 3,
    BB_TYPE_Q5_0 = 6,
    BB_TYPE_Q5_1 = 7,
    BB_TYPE_Q8_0 = 8,
    BB_TYPE_Q8_1 = 9,
    BB_TYPE_Q2_K = 10,
    BB_TYPE_Q3_K = 11,
    BB_TYPE_Q4_K = 12,
    BB_TYPE_Q5_K = 13,
    BB_TYPE_Q6_K = 14,
    BB_TYPE_Q8_K = 15,
    BB_TYPE_BF16 = 30,
    BB_TYPE_MXFP4 = 39, /* OCP microscaling FP4 (gpt-oss experts), Q8_0 activations */
    /* beanbag's own activation type, past ggml's ids: Q8_0 plus each block's integer code
     * sum (block_q8_0s), read by the repacked Q4_0 and Q8_0 kernels (repack.h) */
    BB_TYPE_Q8_0S = 40,
    BB_TYPE_COUNT = 48
};

#define QK_K 256

typedef void (*bb_to_float_fn)(const void *x, float *y, int64_t n);
typedef void (*bb_from_float_fn)(const float *x, void *y, int64_t n);
/* s = dot(x, y) over n elements: x is a row of the weight type, y a row of vec_dot_type. */
typedef void (*bb_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);

/* s[k] = dot(x, y + k * y_stride) for k = 0..3: one weight row against four activation rows,
 * unpacking the weights once (prompt processing is compute-bound). Each s[k] must be
 * bit-identical to vec_dot(n, &s[k], x, y + k * y_stride) of the same level, so a token's
 * result never depends on whether it was computed in a group (batch invariance). */
typedef void (*bb_vec_dot_x4_fn)(int64_t n, float *s, const void *x, const void *y,
                                 size_t y_stride);

typedef struct bb_type_traits {
    const char *name;    /* "Q4_K", as llama.cpp prints it */
    int64_t block_size;  /* elements per block */
    size_t type_size;    /* bytes per block */
    bool is_weight_type; /* we can load and run weights of this type */
    int vec_dot_type;    /* type the activation row is quantized to */
    bb_to_float_fn to_float;
    bb_from_float_fn from_float; /* reference quantization; NULL where we have none */
    bb_vec_dot_fn vec_dot;       /* NULL for activation-only types */
    bb_vec_dot_x4_fn vec_dot_x4; /* optional; NULL: matmul calls vec_dot four times */
} bb_type_traits;

/* Best kernels for this CPU (resolved once, thread-safe); NULL for an unknown type id. */
const bb_type_traits *bb_type_get(int type);
/* The scalar reference kernels, always available. */
const bb_type_traits *bb_type_get_ref(int type);
/* Kernels of one SIMD level ("scalar", "avx2", "avx512"), for tests; falls back to the
 * reference for types that level does not cover. NULL if this CPU lacks the level. */
const bb_type_traits *bb_type_get_level(int type, const char *level);
/* The level bb_type_get uses: "avx512", "avx2" or "scalar". BB_CPU=avx2|scalar in the
 * environment caps it. */
const char *bb_cpu_level(void);

/* Bytes of a row of n elements; 0 when n is not a multiple of the block size or overflows. */
size_t bb_row_size(int type, int64_t n);

/* Half-precision conversions (IEEE binary16 and bfloat16, round to nearest even). */
float bb_fp16_to_fp32(uint16_t h);
uint16_t bb_fp32_to_fp16(float f);
float bb_bf16_to_fp32(uint16_t h);
uint16_t bb_fp32_to_bf16(float f);

#endif
