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
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
}

void tr_gemm_f64(int M, int N, int P, const double *A, size_t sai, size_t sap, const double *B,
                 size_t ldb, double *C, size_t ldc) {
    for (int i = 0; i < M; i++)
        for (int p = 0; p < P; p++) {
            double a = A[i * sai + p * sap];
            const double *b = B + p * ldb;
            double *c = C + i * ldc;
            for (int j = 0; j < N; j++) c[j] += a * b[j];
        }
}

/* One mr x 16 block of C (mr <= 6, a compile-time constant after inlining). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
kernel_6x16(int mr, int P, const float *A, size_t sai, size_t sap, const float *B, size_t ldb,
            float *C, size_t ldc) {
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        c0[r] = r < mr ? _mm256_loadu_ps(C + r * ldc) : _mm256_setzero_ps();
        c1[r] = r < mr ? _mm256_loadu_ps(C + r * ldc + 8) : _mm256_setzero_ps();
    }
    for (int p = 0; p < P; p++) {
        __m256 b0 = _mm256_loadu_ps(B + p * ldb), b1 = _mm256_loadu_ps(B + p * ldb + 8);
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
        _mm256_storeu_ps(C + r * ldc, c0[r]);
        _mm256_storeu_ps(C + r * ldc + 8, c1[r]);
    }
}

__attribute__((target("avx2,fma"))) static void gemm_avx2(int M, int N, int P, const float *A,
                                                          size_t sai, size_t sap, const float *B,
                                                          size_t ldb, float *C, size_t ldc) {
    int n_full = N - N % NR;
    for (int j = 0; j < n_full; j += NR)
        for (int i = 0; i < M; i += MR) {
            const float *a = A + i * sai;
            const float *b = B + j;
            float *c = C + i * ldc + j;
            switch (M - i < MR ? M - i : MR) {
            case 1: kernel_6x16(1, P, a, sai, sap, b, ldb, c, ldc); break;
            case 2: kernel_6x16(2, P, a, sai, sap, b, ldb, c, ldc); break;
            case 3: kernel_6x16(3, P, a, sai, sap, b, ldb, c, ldc); break;
            case 4: kernel_6x16(4, P, a, sai, sap, b, ldb, c, ldc); break;
            case 5: kernel_6x16(5, P, a, sai, sap, b, ldb, c, ldc); break;
            default: kernel_6x16(6, P, a, sai, sap, b, ldb, c, ldc); break;
            }
        }
    if (n_full < N) tr_gemm_f32_ref(M, N - n_full, P, A, sai, sap, B + n_full, ldb, C + n_full, ldc);
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

const char *tr_gemm_kernel_name(void) { return have_avx2() ? "avx2" : "scalar"; }
