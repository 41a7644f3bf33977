/*
 * Training ops: forward and backward of every layer of a llama block, per sequence.
 *
 * Every op exists twice with the same source text (tops_impl.h instantiated by
 * tops_f32.c and tops_f64.c): `_f32` is what the trainer runs, `_f64` is what the
 * gradient-check tests run against finite differences, so the code that is checked is
 * the code that trains. Matrices are row-major; a linear layer y = W x stores W as
 * [n_out][n_in] (GGUF ne = [n_in, n_out]). Backward functions ACCUMULATE (+=) into
 * their gradient outputs; callers zero them.
 */
#ifndef BB_TRAIN_TOPS_H
#define BB_TRAIN_TOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* C[M][N] += sum_p A[i*sai + p*sap] * B[p*ldb + j]. The two A strides let one kernel do
 * both A·B (sai = lda, sap = 1) and A^T·B (sai = 1, sap = lda). */
void tr_gemm_f32(int M, int N, int P, const float *A, size_t sai, size_t sap, const float *B,
                 size_t ldb, float *C, size_t ldc);
/* The scalar twin of tr_gemm_f32 (the specification the SIMD kernel is tested against). */
void tr_gemm_f32_ref(int M, int N, int P, const float *A, size_t sai, size_t sap, const float *B,
                     size_t ldb, float *C, size_t ldc);
void tr_gemm_f64(int M, int N, int P, const double *A, size_t sai, size_t sap, const double *B,
                 size_t ldb, double *C, size_t ldc);
/* Name of the kernel tr_gemm_f32 uses on this CPU ("avx512", "avx2" or "scalar"). */
const char *tr_gemm_kernel_name(void);

/* A specific kernel, for tests; the SIMD ones give bit-identical results to each other. */
typedef enum tr_gemm_kernel { TR_GEMM_SCALAR, TR_GEMM_AVX2, TR_GEMM_AVX512 } tr_gemm_kernel;
bool tr_gemm_kernel_available(tr_gemm_kernel k);
void tr_gemm_f32_with(tr_gemm_kernel k, int M, int N, int P, const float *A, size_t sai, size_t sap,
                      const float *B, size_t ldb, float *C, size_t ldc);

#define R float
#define TR(name) tr_##name##_f32
#include "train/tops_api.h"
#undef R
#undef TR

#define R double
#define TR(name) tr_##name##_f64
#include "train/tops_api.h"
#undef R
#undef TR

#endif
