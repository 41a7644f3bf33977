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

/* ---- AVX-512: the same kernel with 16-float vectors, a 6 x 32 block. Each element of C
 * still sees the same fused multiply-adds in the same order (p = 0, 1, ...), so results are
 * bit-identical to the AVX2 kernel and a model trains the same on either CPU. */

enum { NR512 = 32 };

__attribute__((target("avx512f"), always_inline)) static inline void
kernel_6x32(int mr, __mmask16 m0, __mmask16 m1, int P, const float *A, size_t sai, size_t sap,
            const float *B, size_t ldb, float *C, size_t ldc) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        c0[r] = r < mr ? _mm512_maskz_loadu_ps(m0, C + r * ldc) : _mm512_setzero_ps();
        c1[r] = r < mr ? _mm512_maskz_loadu_ps(m1, C + r * ldc + 16) : _mm512_setzero_ps();
    }
    for (int p = 0; p < P; p++) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, B + p * ldb);
        __m512 b1 = _mm512_maskz_loadu_ps(m1, B + p * ldb + 16);
        const float *a = A + p * sap;
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            if (r >= mr) break;
            __m512 av = _mm512_set1_ps(a[r * sai]);
            c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        if (r >= mr) break;
        _mm512_mask_storeu_ps(C + r * ldc, m0, c0[r]);
        _mm512_mask_storeu_ps(C + r * ldc + 16, m1, c1[r]);
    }
}

__attribute__((target("avx512f"))) static void gemm_avx512(int M, int N, int P, const float *A,
                                                           size_t sai, size_t sap, const float *B,
                                                           size_t ldb, float *C, size_t ldc) {
    for (int j = 0; j < N; j += NR512) {
        int w = N - j < NR512 ? N - j : NR512;
        __mmask16 m0 = (__mmask16)(w >= 16 ? 0xffff : (1u << w) - 1);
        __mmask16 m1 = (__mmask16)(w >= 32 ? 0xffff : w > 16 ? (1u << (w - 16)) - 1 : 0);
        for (int i = 0; i < M; i += MR) {
            const float *a = A + i * sai;
            float *c = C + i * ldc + j;
            switch (M - i < MR ? M - i : MR) {
            case 1:
                kernel_6x32(1, m0, m1, P, a, sai, sap, B + j, ldb, c, ldc);
                break;
            case 2:
                kernel_6x32(2, m0, m1, P, a, sai, sap, B + j, ldb, c, ldc);
                break;
            case 3:
                kernel_6x32(3, m0, m1, P, a, sai, sap, B + j, ldb, c, ldc);
                break;
            case 4:
                kernel_6x32(4, m0, m1, P, a, sai, sap, B + j, ldb, c, ldc);
                break;
            case 5:
                kernel_6x32(5, m0, m1, P, a, sai, sap, B + j, ldb, c, ldc);
                break;
            default:
                kernel_6x32(6, m0, m1, P, a, sai, sap, B + j, ldb, c, ldc);
                break;
            }
        }
    }
}

static bool available(tr_gemm_kernel k) {
    switch (k) {
    case TR_GEMM_SCALAR:
        return true;
    case TR_GEMM_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case TR_GEMM_AVX512:
        return __builtin_cpu_supports("avx512f");
    }
    return false;
}

bool tr_gemm_kernel_available(tr_gemm_kernel k) {
    return available(k);
}

static tr_gemm_kernel best_kernel(void) {
    return available(TR_GEMM_AVX512) ? TR_GEMM_AVX512
           : available(TR_GEMM_AVX2) ? TR_GEMM_AVX2
                                     : TR_GEMM_SCALAR;
}

void tr_gemm_f32_with(tr_gemm_kernel k, int M, int N, int P, const float *A, size_t sai, size_t sap,
                      const float *B, size_t ldb, float *C, size_t ldc) {
    switch (k) {
    case TR_GEMM_AVX512:
        gemm_avx512(M, N, P, A, sai, sap, B, ldb, C, ldc);
        break;
    case TR_GEMM_AVX2:
        gemm_avx2(M, N, P, A, sai, sap, B, ldb, C, ldc);
        break;
    default:
        tr_gemm_f32_ref(M, N, P, A, sai, sap, B, ldb, C, ldc);
        break;
    }
}

void tr_gemm_f32(int M, int N, int P, const float *A, size_t sai, size_t sap, const float *B,
                 size_t ldb, float *C, size_t ldc) {
    tr_gemm_f32_with(best_kernel(), M, N, P, A, sai, sap, B, ldb, C, ldc);
}

const char *tr_gemm_kernel_name(void) {
    static const char *const names[] = {"scalar", "avx2", "avx512"};
    return names[best_kernel()];
}
