/* AVX-512 four-row kernel (bb_vec_dot_x4_fn, quant.h) for F16, included by legacy_avx512.c
 * after its single-row kernels, whose helpers (load_f16, first16) it shares. (The block
 * types' x4 kernels are in legacy_x86_dot.h.) Each output is bit-identical to f16_vec_dot on
 * that row (batch invariance): float_dot's operations in float_dot's order per row, only the
 * weights' loads and conversions shared. */
#ifndef BB_QUANT_LEGACY_X4_AVX512_H
#define BB_QUANT_LEGACY_X4_AVX512_H

/* float_dot's four accumulators for one row */
typedef struct f16_acc4 {
    __m512 a0, a1, a2, a3;
} f16_acc4;

static inline AVX512 __attribute__((always_inline)) void f16_fma4(f16_acc4 *acc, const __m512 x[4],
                                                                  const void *y, int64_t i) {
    const __mmask16 all = 0xFFFF;
    acc->a0 = _mm512_fmadd_ps(x[0], load_f16(y, i, all), acc->a0);
    acc->a1 = _mm512_fmadd_ps(x[1], load_f16(y, i + 16, all), acc->a1);
    acc->a2 = _mm512_fmadd_ps(x[2], load_f16(y, i + 32, all), acc->a2);
    acc->a3 = _mm512_fmadd_ps(x[3], load_f16(y, i + 48, all), acc->a3);
}

/* float_dot with load_f16 for four rows: sixteen accumulators, which the 32 zmm registers
 * hold, and each weight vector converted once. */
static AVX512 void f16_vec_dot_x4(int64_t n, float *s, const void *x, const void *vy,
                                  size_t y_stride) {
    const __mmask16 all = 0xFFFF;
    const void *y[4];
    f16_acc4 acc[4];
    for (int r = 0; r < 4; r++) {
        y[r] = (const uint8_t *)vy + r * y_stride;
        acc[r].a0 = acc[r].a1 = acc[r].a2 = acc[r].a3 = _mm512_setzero_ps();
    }
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        const __m512 xv[4] = {load_f16(x, i, all), load_f16(x, i + 16, all),
                              load_f16(x, i + 32, all), load_f16(x, i + 48, all)};
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
            f16_fma4(&acc[r], xv, y[r], i);
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? all : first16(n - i);
        const __m512 xv = load_f16(x, i, m);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
            acc[r].a0 = _mm512_fmadd_ps(xv, load_f16(y[r], i, m), acc[r].a0);
    }
    for (int r = 0; r < 4; r++)
        s[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[r].a0, acc[r].a1),
                                                  _mm512_add_ps(acc[r].a2, acc[r].a3)));
}

#endif
