/* Scalar reference kernels for F32, F16, BF16 and ggml's legacy block types (Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q8_1). These are the specification the SIMD kernels are tested against.
 *
 * Quantizers follow ggml's quantize_row_*_ref (ggml/src/ggml-quants.c) operation for
 * operation, so a row quantized here is byte-identical to one quantized by llama.cpp's
 * reference path: same scale formula, same reciprocal, same rounding (roundf, i.e. ties away
 * from zero, for the 8-bit types; truncation of x + 0.5 for the 4/5-bit ones). test_quant
 * checks this against the tensors llama-quantize wrote into the conformance models. Inputs
 * are expected to be finite. Dot products accumulate in float, one integer sum per block.
 *
 * Note for activations: llama.cpp's x86 CPU backend quantizes activations to Q8_0 with its
 * own SIMD quantize_row_q8_0, which scales by 127/amax and rounds ties to even; it can differ
 * from quantize_row_q8_0_ref (used here, and by our SIMD twins) by one code on exact ties or
 * when the two reciprocals differ in the last bit. */
#include "quant/blocks_legacy.h"
#include "quant/quant_impl.h"

#include <float.h>
#include <math.h>
#include <string.h>

static inline float fp16(uint16_t h) {
    return bb_fp16_to_fp32(h);
}

/* ---- F32, F16, BF16 ------------------------------------------------------------------ */

static void f32_to_float(const void *x, float *y, int64_t n) {
    memcpy(y, x, (size_t)n * 4);
}
static void f32_from_float(const float *x, void *y, int64_t n) {
    memcpy(y, x, (size_t)n * 4);
}

static void f32_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const float *x = vx, *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += x[i] * y[i];
    *s = sum;
}

static void f16_to_float(const void *vx, float *y, int64_t n) {
    const uint16_t *x = vx;
    for (int64_t i = 0; i < n; i++)
        y[i] = bb_fp16_to_fp32(x[i]);
}

static void f16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i++)
        y[i] = bb_fp32_to_fp16(x[i]);
}

static void f16_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += bb_fp16_to_fp32(x[i]) * bb_fp16_to_fp32(y[i]);
    *s = sum;
}

static void bf16_to_float(const void *vx, float *y, int64_t n) {
    const uint16_t *x = vx;
    for (int64_t i = 0; i < n; i++)
        y[i] = bb_bf16_to_fp32(x[i]);
}

static void bf16_from_float(const float *x, void *vy, int64_t n) {
    uint16_t *y = vy;
    for (int64_t i = 0; i < n; i++)
        y[i] = bb_fp32_to_bf16(x[i]);
}

static void bf16_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += bb_bf16_to_fp32(x[i]) * bb_bf16_to_fp32(y[i]);
    *s = sum;
}

/* ---- shared block helpers ------------------------------------------------------------ */

/* 1/d as ggml computes it (0 for d == 0). When d is so small that 1/d overflows, d itself
 * is 0 in fp16 and the codes are irrelevant; ggml would then convert inf or NaN to an
 * integer (undefined behaviour), so we take 0 instead. */
static float inverse_scale(float d) {
    const float id = d ? 1.0f / d : 0.0f;
    return isinf(id) ? 0.0f : id;
}

/* The element of largest magnitude, with its sign (the first one on ties), as ggml's
 * symmetric 4/5-bit quantizers pick it: the scale is max / -8 (or -16), so that value maps
 * exactly onto the code with the extra negative step. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *min, float *max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

static uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void store_qh(uint8_t qh[4], uint32_t v) {
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(v >> (8 * k));
}

/* The 5-bit code of element j (0..31) of a Q5 block. */
static int q5_code(const uint8_t *qs, uint32_t qh, int j) {
    int lo = j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
    return lo | (int)((qh >> j) & 1) << 4;
}

/* ---- Q4_0 ---------------------------------------------------------------------------- */

static void q4_0_from_float(const float *x, void *vy, int64_t n) {
    block_q4_0 *y = vy;
    for (int64_t i = 0; i < n / QK4_0; i++, x += QK4_0) {
        const float d = signed_absmax(x, QK4_0) / -8;
        const float id = inverse_scale(d);
        y[i].d = bb_fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const int8_t lo = (int8_t)(x[j] * id + 8.5f);
            const int8_t hi = (int8_t)(x[j + QK4_0 / 2] * id + 8.5f);
            y[i].qs[j] = (uint8_t)((lo < 15 ? lo : 15) | (hi < 15 ? hi : 15) << 4);
        }
    }
}

static void q4_0_to_float(const void *vx, float *y, int64_t n) {
    const block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / QK4_0; i++, y += QK4_0) {
        const float d = fp16(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + QK4_0 / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void q4_0_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q4_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            sumi += ((x[i].qs[j] & 0x0F) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK4_0 / 2];
        }
        sum += fp16(x[i].d) * fp16(y[i].d) * (float)sumi;
    }
    *s = sum;
}

/* ---- Q4_1 ---------------------------------------------------------------------------- */

static void q4_1_from_float(const float *x, void *vy, int64_t n) {
    block_q4_1 *y = vy;
    for (int64_t i = 0; i < n / QK4_1; i++, x += QK4_1) {
        float min, max;
        min_max(x, QK4_1, &min, &max);
        const float d = (max - min) / 15;
        const float id = inverse_scale(d);
        y[i].d = bb_fp32_to_fp16(d);
        y[i].m = bb_fp32_to_fp16(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            const int8_t lo = (int8_t)((x[j] - min) * id + 0.5f);
            const int8_t hi = (int8_t)((x[j + QK4_1 / 2] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((lo < 15 ? lo : 15) | (hi < 15 ? hi : 15) << 4);
        }
    }
}

static void q4_1_to_float(const void *vx, float *y, int64_t n) {
    const block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / QK4_1; i++, y += QK4_1) {
        const float d = fp16(x[i].d), m = fp16(x[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[j + QK4_1 / 2] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void q4_1_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q4_1 *x = vx;
    const block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK4_1; i++) {
        int sumi = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            sumi += (x[i].qs[j] & 0x0F) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + QK4_1 / 2];
        }
        sum += fp16(x[i].d) * fp16(y[i].d) * (float)sumi + fp16(x[i].m) * fp16(y[i].s);
    }
    *s = sum;
}

/* ---- Q5_0 ---------------------------------------------------------------------------- */

static void q5_0_from_float(const float *x, void *vy, int64_t n) {
    block_q5_0 *y = vy;
    for (int64_t i = 0; i < n / QK5_0; i++, x += QK5_0) {
        const float d = signed_absmax(x, QK5_0) / -16;
        const float id = inverse_scale(d);
        y[i].d = bb_fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int8_t lo = (int8_t)(x[j] * id + 16.5f);
            int8_t hi = (int8_t)(x[j + QK5_0 / 2] * id + 16.5f);
            lo = lo < 31 ? lo : 31;
            hi = hi < 31 ? hi : 31;
            y[i].qs[j] = (uint8_t)((lo & 0x0F) | (hi & 0x0F) << 4);
            qh |= (uint32_t)((lo >> 4) & 1) << j | (uint32_t)((hi >> 4) & 1) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

static void q5_0_to_float(const void *vx, float *y, int64_t n) {
    const block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / QK5_0; i++, y += QK5_0) {
        const float d = fp16(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK5_0; j++)
            y[j] = (float)(q5_code(x[i].qs, qh, j) - 16) * d;
    }
}

static void q5_0_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_0; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < QK5_0; j++)
            sumi += (q5_code(x[i].qs, qh, j) - 16) * y[i].qs[j];
        sum += fp16(x[i].d) * fp16(y[i].d) * (float)sumi;
    }
    *s = sum;
}

/* ---- Q5_1 ---------------------------------------------------------------------------- */

static void q5_1_from_float(const float *x, void *vy, int64_t n) {
    block_q5_1 *y = vy;
    for (int64_t i = 0; i < n / QK5_1; i++, x += QK5_1) {
        float min, max;
        min_max(x, QK5_1, &min, &max);
        const float d = (max - min) / 31;
        const float id = inverse_scale(d);
        y[i].d = bb_fp32_to_fp16(d);
        y[i].m = bb_fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            /* ggml does not clamp here: (max - min) * id stays below 31.5 */
            const uint8_t lo = (uint8_t)((x[j] - min) * id + 0.5f);
            const uint8_t hi = (uint8_t)((x[j + QK5_1 / 2] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((lo & 0x0F) | (hi & 0x0F) << 4);
            qh |= (uint32_t)((lo >> 4) & 1) << j | (uint32_t)((hi >> 4) & 1) << (j + 16);
        }
        store_qh(y[i].qh, qh);
    }
}

static void q5_1_to_float(const void *vx, float *y, int64_t n) {
    const block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / QK5_1; i++, y += QK5_1) {
        const float d = fp16(x[i].d), m = fp16(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK5_1; j++)
            y[j] = (float)q5_code(x[i].qs, qh, j) * d + m;
    }
}

static void q5_1_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q5_1 *x = vx;
    const block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK5_1; i++) {
        const uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < QK5_1; j++)
            sumi += q5_code(x[i].qs, qh, j) * y[i].qs[j];
        sum += fp16(x[i].d) * fp16(y[i].d) * (float)sumi + fp16(x[i].m) * fp16(y[i].s);
    }
    *s = sum;
}

/* ---- Q8_0, Q8_1 ---------------------------------------------------------------------- */

/* Symmetric 8-bit quantization of one block: q = roundf(x / d), d = amax / 127. Returns d. */
static float q8_block(const float *x, int8_t *q) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    const float d = amax / 127;
    const float id = inverse_scale(d);
    for (int j = 0; j < QK8_0; j++)
        q[j] = (int8_t)roundf(x[j] * id);
    return d;
}

static void q8_0_from_float(const float *x, void *vy, int64_t n) {
    block_q8_0 *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++)
        y[i].d = bb_fp32_to_fp16(q8_block(x + i * QK8_0, y[i].qs));
}

static void q8_0s_from_float(const float *x, void *vy, int64_t n) {
    block_q8_0s *y = vy;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        y[i].d = bb_fp16_to_fp32(bb_fp32_to_fp16(q8_block(x + i * QK8_0, y[i].qs)));
        int sum = 0;
        for (int j = 0; j < QK8_0; j++)
            sum += y[i].qs[j];
        y[i].s = sum;
    }
}

static void q8_0s_to_float(const void *vx, float *y, int64_t n) {
    const block_q8_0s *x = vx;
    for (int64_t i = 0; i < n / QK8_0; i++, y += QK8_0) {
        const float d = x[i].d;
        for (int j = 0; j < QK8_0; j++)
            y[j] = (float)x[i].qs[j] * d;
    }
}

static void q8_0_to_float(const void *vx, float *y, int64_t n) {
    const block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / QK8_0; i++, y += QK8_0) {
        const float d = fp16(x[i].d);
        for (int j = 0; j < QK8_0; j++)
            y[j] = (float)x[i].qs[j] * d;
    }
}

static void q8_0_vec_dot(int64_t n, float *s, const void *vx, const void *vy) {
    const block_q8_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; j++)
            sumi += x[i].qs[j] * y[i].qs[j];
        sum += fp16(x[i].d) * fp16(y[i].d) * (float)sumi;
    }
    *s = sum;
}

static void q8_1_from_float(const float *x, void *vy, int64_t n) {
    block_q8_1 *y = vy;
    for (int64_t i = 0; i < n / QK8_1; i++) {
        const float d = q8_block(x + i * QK8_1, y[i].qs);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++)
            sum += y[i].qs[j];
        y[i].d = bb_fp32_to_fp16(d);
        y[i].s = bb_fp32_to_fp16((float)sum * d);
    }
}

static void q8_1_to_float(const void *vx, float *y, int64_t n) {
    const block_q8_1 *x = vx;
    for (int64_t i = 0; i < n / QK8_1; i++, y += QK8_1) {
        const float d = fp16(x[i].d);
        for (int j = 0; j < QK8_1; j++)
            y[j] = (float)x[i].qs[j] * d;
    }
}

/* ---- the table rows ------------------------------------------------------------------ */

static void set(bb_type_traits *t, int type, const char *name, int64_t block_size, size_t type_size,
                int vec_dot_type, bb_to_float_fn to_float, bb_from_float_fn from_float,
                bb_vec_dot_fn vec_dot) {
    t[type] = (bb_type_traits){
        .name = name,
        .block_size = block_size,
        .type_size = type_size,
        .is_weight_type = vec_dot != NULL,
        .vec_dot_type = vec_dot_type,
        .to_float = to_float,
        .from_float = from_float,
        .vec_dot = vec_dot,
    };
}

void bb_quant_fill_legacy_ref(bb_type_traits *t) {
    set(t, BB_TYPE_F32, "F32", 1, 4, BB_TYPE_F32, f32_to_float, f32_from_float, f32_vec_dot);
    set(t, BB_TYPE_F16, "F16", 1, 2, BB_TYPE_F16, f16_to_float, f16_from_float, f16_vec_dot);
    set(t, BB_TYPE_BF16, "BF16", 1, 2, BB_TYPE_BF16, bf16_to_float, bf16_from_float, bf16_vec_dot);
    set(t, BB_TYPE_Q4_0, "Q4_0", QK4_0, sizeof(block_q4_0), BB_TYPE_Q8_0, q4_0_to_float,
        q4_0_from_float, q4_0_vec_dot);
    set(t, BB_TYPE_Q4_1, "Q4_1", QK4_1, sizeof(block_q4_1), BB_TYPE_Q8_1, q4_1_to_float,
        q4_1_from_float, q4_1_vec_dot);
    set(t, BB_TYPE_Q5_0, "Q5_0", QK5_0, sizeof(block_q5_0), BB_TYPE_Q8_0, q5_0_to_float,
        q5_0_from_float, q5_0_vec_dot);
    set(t, BB_TYPE_Q5_1, "Q5_1", QK5_1, sizeof(block_q5_1), BB_TYPE_Q8_1, q5_1_to_float,
        q5_1_from_float, q5_1_vec_dot);
    set(t, BB_TYPE_Q8_0, "Q8_0", QK8_0, sizeof(block_q8_0), BB_TYPE_Q8_0, q8_0_to_float,
        q8_0_from_float, q8_0_vec_dot);
    set(t, BB_TYPE_Q8_1, "Q8_1", QK8_1, sizeof(block_q8_1), BB_TYPE_Q8_1, q8_1_to_float,
        q8_1_from_float, NULL);
    set(t, BB_TYPE_Q8_0S, "Q8_0S", QK8_0, sizeof(block_q8_0s), BB_TYPE_Q8_0S, q8_0s_to_float,
        q8_0s_from_float, NULL);
}
