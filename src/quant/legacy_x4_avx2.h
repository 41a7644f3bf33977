/* AVX2 four-row kernel (bb_vec_dot_x4_fn, quant.h) for F16, included by legacy_avx2.c after
 * its single-row kernels, whose helpers (load_f16x8, f16_1, hsum_ps) it shares. (The block
 * types' x4 kernels are in legacy_x86_dot.h.) Each output is bit-identical to f16_vec_dot on
 * that row (batch invariance): float_dot's operations in float_dot's order per row, only the
 * weights' loads and conversions shared. */
#ifndef BB_QUANT_LEGACY_X4_AVX2_H
#define BB_QUANT_LEGACY_X4_AVX2_H

/* float_dot's accumulators a_j and a_{j+1} (elements i + 8j .. i + 8j + 15 of each step of
 * 32) for four rows. Sixteen accumulators would not fit the sixteen ymm registers, so
 * f16_vec_dot_x4 runs this twice, for j = 0 and j = 2 (each weight is still converted once);
 * each accumulator sees its terms in float_dot's order. With j = 0 it also runs float_dot's
 * 8-element tail into a_0. */
typedef struct f16_acc_pair {
    __m256 a[4][2]; /* [row][j] */
} f16_acc_pair;

static inline AVX2 __attribute__((always_inline)) int64_t
f16_dot_x4_pass(int64_t n, const void *x, const void *const y[4], int64_t j, f16_acc_pair *out) {
    __m256 r0a = _mm256_setzero_ps(), r0b = r0a, r1a = r0a, r1b = r0a;
    __m256 r2a = r0a, r2b = r0a, r3a = r0a, r3b = r0a;
    const int64_t o = 8 * j;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256 xa = load_f16x8(x, i + o), xb = load_f16x8(x, i + o + 8);
        r0a = _mm256_fmadd_ps(xa, load_f16x8(y[0], i + o), r0a);
        r0b = _mm256_fmadd_ps(xb, load_f16x8(y[0], i + o + 8), r0b);
        r1a = _mm256_fmadd_ps(xa, load_f16x8(y[1], i + o), r1a);
        r1b = _mm256_fmadd_ps(xb, load_f16x8(y[1], i + o + 8), r1b);
        r2a = _mm256_fmadd_ps(xa, load_f16x8(y[2], i + o), r2a);
        r2b = _mm256_fmadd_ps(xb, load_f16x8(y[2], i + o + 8), r2b);
        r3a = _mm256_fmadd_ps(xa, load_f16x8(y[3], i + o), r3a);
        r3b = _mm256_fmadd_ps(xb, load_f16x8(y[3], i + o + 8), r3b);
    }
    if (j == 0) {
        for (; i + 8 <= n; i += 8) {
            const __m256 xa = load_f16x8(x, i);
            r0a = _mm256_fmadd_ps(xa, load_f16x8(y[0], i), r0a);
            r1a = _mm256_fmadd_ps(xa, load_f16x8(y[1], i), r1a);
            r2a = _mm256_fmadd_ps(xa, load_f16x8(y[2], i), r2a);
            r3a = _mm256_fmadd_ps(xa, load_f16x8(y[3], i), r3a);
        }
    }
    out->a[0][0] = r0a, out->a[0][1] = r0b, out->a[1][0] = r1a, out->a[1][1] = r1b;
    out->a[2][0] = r2a, out->a[2][1] = r2b, out->a[3][0] = r3a, out->a[3][1] = r3b;
    return i;
}

static AVX2 void f16_vec_dot_x4(int64_t n, float *s, const void *x, const void *vy,
                                size_t y_stride) {
    const void *y[4];
    for (int r = 0; r < 4; r++)
        y[r] = (const uint8_t *)vy + r * y_stride;
    f16_acc_pair lo, hi;
    const int64_t tail = f16_dot_x4_pass(n, x, y, 0, &lo);
    f16_dot_x4_pass(n, x, y, 2, &hi);
    for (int r = 0; r < 4; r++) {
        float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(lo.a[r][0], lo.a[r][1]),
                                          _mm256_add_ps(hi.a[r][0], hi.a[r][1])));
        for (int64_t i = tail; i < n; i++)
            sum += f16_1(x, i) * f16_1(y[r], i);
        s[r] = sum;
    }
}

#endif
