/* Matrix products of quantized weights with float activations.
 *
 * y[t][r] = dot(W[r], x[t]) for every token row t and weight row r. The activation rows are
 * quantized once to the weight type's vec_dot_type (bb_acts caches that per type, so the Q, K
 * and V projections of one input share it), then each output element is one vec_dot call of
 * the same kernel whatever the batch size: a token's result never depends on its neighbours
 * in the batch, which is what makes batched serving reproducible. */
#ifndef BB_OPS_MATMUL_H
#define BB_OPS_MATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"
#include "ops/threadpool.h"
#include "quant/quant.h"
#include "quant/repack.h"

typedef struct bb_weight {
    const void *data; /* n_out rows of n_in elements, each row_bytes long */
    int type;
    int64_t n_in;
    int64_t n_out;
    size_t row_bytes;
    const bb_type_traits *tt;
    /* The matrix repacked into interleaved row groups (quant/repack.h), or NULL: then
     * matmul runs vec_dot over `data`. `data` stays valid either way (embedding lookups
     * read it). */
    void *packed;
    const bb_repack_traits *rp;
    size_t group_bytes;
} bb_weight;

#define BB_ACTS_SLOTS 4

typedef struct bb_acts_slot {
    int type; /* -1: unused */
    void *data;
    size_t cap;
} bb_acts_slot;

/* T activation rows of n floats plus their cached quantizations. */
typedef struct bb_acts {
    const float *x;
    int T;
    int64_t n;
    bb_acts_slot slots[BB_ACTS_SLOTS];
} bb_acts;

void bb_acts_init(bb_acts *a);
void bb_acts_release(bb_acts *a);
/* Points the activations at new rows; forgets cached quantizations. */
void bb_acts_set(bb_acts *a, const float *x, int T, int64_t n);

/* y (T x w->n_out floats) = x W^T. Fails only for allocation. */
bb_status bb_matmul(bb_pool *pool, const bb_weight *w, bb_acts *a, float *y, bb_error *err);

/* ys[k] = x ws[k]^T for k < n (n <= 4), matrices that multiply the same activations (the
 * Q/K/V projections, gate and up), as one parallel region: one wake-up of the pool instead
 * of n, and the threads balance over all the rows together. Each output element is
 * computed exactly as bb_matmul computes it. */
bb_status bb_matmul_n(bb_pool *pool, const bb_weight *const *ws, float *const *ys, int n,
                      bb_acts *a, bb_error *err);

/* Bytes w takes repacked for its type's interleaved layout where this CPU level has one (and
 * n_out is a whole number of row groups); 0 when w stays as it is, SIZE_MAX when the size
 * overflows. */
size_t bb_weight_packed_bytes(const bb_weight *w);
/* Repacks w into dst (bb_weight_packed_bytes(w) bytes, 64-byte aligned, owned by the
 * caller); w->packed then points into dst. Only for a w whose packed size is > 0. */
void bb_weight_repack_into(bb_weight *w, void *dst);
/* The same into a buffer of its own (the caller frees w->packed); leaves w as it is where it
 * is not repacked. Fails only for allocation or a size that overflows. */
bb_status bb_weight_repack(bb_weight *w, bb_error *err);

/* Dequantizes row r of a weight (an embedding lookup). */
void bb_weight_row(const bb_weight *w, int64_t r, float *out);

#endif
