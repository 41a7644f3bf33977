/*
 * The one matrix-multiply kernel of the trainer: C[M][N] += sum_p A(i,p) B[p][j] with A read
 * through two strides, so the same kernel computes a linear layer's forward (X·W^T given a
 * transposed copy of W), its input gradient (dY·W) and its weight gradient (dY^T·X).
 *
 * The AVX2/FMA version is the classic register-blocked outer-product micro-kernel (as in
 * BLIS/GotoBLAS: Goto & van de Geijn 2008): a 6x16 block of C lives in 12 vector registers,
 * and each step over p broadcasts 6 values of A against two vectors of one row of B.
 * The scalar version is its specification and the fallback on CPUs without AVX2.
 */
#include <immintrin.h>

#include "train/tops.h"

enum { MR = 6, NR = 16 };

void tr_gemm_f32_ref(int M, int N, int P, const float *A, size_t sai, size_t sap, const float *B,
                     size_t ldb, float *C, size_t ldc) {
    for (int i = 0; i < M; i++)
        for (int p = 0; p < P; p++) {
            float a = A[i * sai + p * sap];
            const float *b = B + p * ldb;
            float *c = C + i * ldc;
            for (int j = 0; j < N; j++)
                c[j] += a * b[j];
        }
}

void tr_gemm_f64(int M, int N, int P, const double *A, size_t sai, size_t sap, const double *B,
                 size_t ldb, double *C, size_t ldc) {
    for (int i = 0; i < M; i++)
        for (int p = 0; p < P; p++) {
            double a = A[i * sai + p * sap];
            const double *b = B + p * ldb;
            double *c = C + i * ldc;
            for (int j = 0; j < N; j++)
                c[j] += a * b[j];
        }
}

/* Loads and stores of one 8-float half of a block row; `masked` (a compile-time constant after
 * inlining) selects the lanes of a partial block at the right edge of C. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256
load8(const float *p, bool masked, __m256i m) {
    return masked ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p);
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
store8(float *p, __m256 v, bool masked, __m256i m) {
    if (masked)
        _mm256_maskstore_ps(p, m, v);
    else
        _mm256_storeu_ps(p, v);
}

/* One mr x 16 block of C (mr <= 6, a compile-time constant after inlining). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
kernel_6x16(int mr, bool masked, __m256i m0, __m256i m1, int P, const float *A, size_t sai,
            size_t sap, const float *B, size_t ldb, float *C, size_t ldc) {
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        c0[r] = r < mr ? load8(C + r * ldc, masked, m0) : _mm256_setzero_ps();
        c1[r] = r < mr ? load8(C + r * ldc + 8, masked, m1) : _mm256_setzero_ps();
    }
    for (int p = 0; p < P; p++) {
        __m256 b0 = load8(B + p * ldb, masked, m0), b1 = load8(B + p * ldb + 8, masked, m1);
        const float *a = A + p * sap;
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            if (r >= mr) break;
            __m256 av = _mm256_broadcast_ss(a + r * sai);
            c0[r] = _mm256_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm256_fmadd_ps(av, b1, c1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        store8(C + r * ldc, c0[r], masked, m0);
        store8(C + r * ldc + 8, c1[r], masked, m1);
    }
}

/* All row blocks of one column block; masked when the block is cut by the edge of C. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
column_block(bool masked, __m256i m0, __m256i m1, int M, int P, const float *A, size_t sai,
             size_t sap, const float *B, size_t ldb, float *C, size_t ldc) {
    for (int i = 0; i < M; i += MR) {
        const float *a = A + i * sai;
        float *c = C + i * ldc;
        switch (M - i < MR ? M - i : MR) {
        case 1:
            kernel_6x16(1, masked, m0, m1, P, a, sai, sap, B, ldb, c, ldc);
            break;
        case 2:
            kernel_6x16(2, masked, m0, m1, P, a, sai, sap, B, ldb, c, ldc);
            break;
        case 3:
            kernel_6x16(3, masked, m0, m1, P, a, sai, sap, B, ldb, c, ldc);
            break;
        case 4:
            kernel_6x16(4, masked, m0, m1, P, a, sai, sap, B, ldb, c, ldc);
            break;
        case 5:
            kernel_6x16(5, masked, m0, m1, P, a, sai, sap, B, ldb, c, ldc);
            break;
        default:
            kernel_6x16(6, masked, m0, m1, P, a, sai, sap, B, ldb, c, ldc);
            break;
        }
    }
}

__attribute__((target("avx2,fma"))) static void gemm_avx2(int M, int N, int P, const float *A,
                                                          size_t sai, size_t sap, const float *B,
                                                          size_t ldb, float *C, size_t ldc) {
    __m256i none = _mm256_setzero_si256();
    int j = 0;
    for (; j + NR <= N; j += NR)
        column_block(false, none, none, M, P, A, sai, sap, B + j, ldb, C + j, ldc);
    if (j < N) {
        /* Lane l of half h is active when j + 8h + l < N. */
        __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(N - j), lane);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(N - j - 8), lane);
        column_block(true, m0, m1, M, P, A, sai, sap, B + j, ldb, C + j, ldc);
    }
}

static bool have_avx2(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

void tr_gemm_f32(int M, int N, int P, const float *A, size_t sai, size_t sap, const float *B,
                 size_t ldb, float *C, size_t ldc) {
    if (have_avx2())
        gemm_avx2(M, N, P, A, sai, sap, B, ldb, C, ldc);
    else
        tr_gemm_f32_ref(M, N, P, A, sai, sap, B, ldb, C, ldc);
}

const char *tr_gemm_kernel_name(void) {
    return have_avx2() ? "avx2" : "scalar";
}
