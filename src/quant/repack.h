/*
 * Interleaved row groups: a weight matrix repacked at load into groups of BB_RP_ROWS (8)
 * consecutive rows whose blocks are interleaved, so that one kernel call computes the 8
 * outputs of a group for a tile of activation rows with each weight byte loaded once.
 *
 * Why: with one row per vec_dot call, every block pays its scale conversion and every row a
 * horizontal sum, and a row's partial sums must be reduced across SIMD lanes. With 8 rows
 * interleaved, SIMD lane r holds row r: the 8 block scales convert with one instruction,
 * lane r accumulates row r's blocks in order, and no horizontal reduction is left.
 *
 * The reduction order (the batch-invariance contract, DESIGN.md): for every output element
 * (row r, activation row t) the kernel computes, block by block in row order,
 *     acc = fma(dw[r][b] * dy[t][b], (float)isum(r, t, b), acc)
 * or the type's documented equivalent, where isum is the block's exact integer dot product.
 * The same sequence of float operations runs whatever T is and wherever t sits in the tile,
 * so a token's outputs are bit-identical alone, in a prefill batch or beside other
 * sequences. The scalar twins spell that order out with fmaf and agree with the SIMD
 * kernels bit for bit (tests/test_repack.c).
 */
#ifndef BB_QUANT_REPACK_H
#define BB_QUANT_REPACK_H

#include <stddef.h>
#include <stdint.h>

#define BB_RP_ROWS 8

/* out[t * out_stride + r] = dot(row r of the group w, activation row y + t * y_stride) for
 * r < BB_RP_ROWS and t < T. The activation rows are of the layout's act_type. */
typedef void (*bb_rp_gemm_fn)(int64_t n, const void *w, const void *y, size_t y_stride, int T,
                              float *out, size_t out_stride);

typedef struct bb_repack_traits {
    const char *name; /* "Q4_0x8" */
    int type;         /* the GGUF weight type this layout repacks */
    int act_type;     /* type the activation rows are quantized to (bb_type_get(act_type)) */
    /* bytes of one group of BB_RP_ROWS rows of n elements (n a multiple of the block size) */
    size_t (*group_bytes)(int64_t n);
    /* BB_RP_ROWS rows of the original type, row r at rows + r * row_bytes -> one group */
    void (*pack)(const void *rows, size_t row_bytes, int64_t n, void *group);
    bb_rp_gemm_fn gemm;
} bb_repack_traits;

/* The layout and kernel for weights of `type` at the CPU's level (BB_CPU caps it, as for
 * bb_type_get); NULL when the type is not repacked at that level, or BB_REPACK=0 is set. */
const bb_repack_traits *bb_repack_get(int type);
/* The same at a named level ("scalar", "avx2", "avx512"), for tests; NULL where that level
 * (or this CPU) has none. Ignores BB_REPACK. */
const bb_repack_traits *bb_repack_get_level(int type, const char *level);

/* Internal to src/quant: each family fills the entries it implements, indexed by type. */
void bb_repack_fill_legacy_ref(bb_repack_traits *t);
void bb_repack_fill_legacy_avx2(bb_repack_traits *t);
void bb_repack_fill_float_ref(bb_repack_traits *t);
void bb_repack_fill_float_avx2(bb_repack_traits *t);
void bb_repack_fill_kquants_ref(bb_repack_traits *t);
void bb_repack_fill_kquants_avx2(bb_repack_traits *t);

#endif
