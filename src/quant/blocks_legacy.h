/* Block layouts of ggml's "legacy" quantization types, byte for byte as in ggml-common.h
 * (and hence as stored in GGUF files). Every block covers 32 consecutive elements of a row;
 * the scale d (and min m) are IEEE binary16.
 *
 * Nibble order: byte qs[j] holds element j in its low nibble and element j + 16 in its high
 * nibble. For the 5-bit types, bit j of the little-endian 32-bit qh is the fifth bit of
 * element j. */
#ifndef BB_QUANT_BLOCKS_LEGACY_H
#define BB_QUANT_BLOCKS_LEGACY_H

#include <stdint.h>

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32

/* x = d * (q - 8), q in 0..15 */
typedef struct {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;

/* x = d * q + m, q in 0..15 */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;

/* x = d * (q - 16), q in 0..31 */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;

/* x = d * q + m, q in 0..31 */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;

/* x = d * q, q in -127..127 (the quantizer never produces -128) */
typedef struct {
    uint16_t d;
    int8_t qs[QK8_0];
} block_q8_0;

/* As Q8_0, plus s = fp16(d * sum(q)) so that a Q4_1/Q5_1 dot product can apply the weight
 * block's min with one multiply. Activation-only. */
typedef struct {
    uint16_t d;
    uint16_t s;
    int8_t qs[QK8_1];
} block_q8_1;

/* Q8_0's codes and scale (d is Q8_0's fp16 scale, widened: the same value), plus s =
 * sum(q) as an exact integer, so that the repacked Q4_0 kernels remove Q4_0's offset of 8
 * in integers: sum((w - 8) * q) = sum(w * q) - 8 s. Both fields are 4 bytes so a kernel
 * broadcasts them straight from memory. Activation-only, beanbag's own (not a GGUF type). */
typedef struct {
    float d;
    int32_t s;
    int8_t qs[QK8_0];
} block_q8_0s;

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 layout");
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 layout");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 layout");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 layout");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 layout");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 layout");

#endif
