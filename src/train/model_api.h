/* The per-sequence model pass for one precision; included by model.h with R and TR(name)
 * defined. No include guard on purpose. */

/* Weights as the pass reads them: the parameter vector, a transposed copy of every matrix
 * (so the forward is one kind of matrix multiply, see tgemm.c) and the RoPE table. */
typedef struct TR(weights) {
    const tr_layout *L;
    const R *p; /* borrowed: the caller's parameter vector */
    R *wt;      /* owned: same layout as p, matrices stored transposed */
    R *rope;    /* owned: [n_ctx][head_dim/2] (cos, sin) */
} TR(weights);

bb_status TR(weights_init)(TR(weights) * w, const tr_layout *L, const R *params, bb_error *err);
/* Re-derives the transposed copies after the parameters changed; tensors [t0, t1) only, so
 * threads can split the work. */
void TR(weights_refresh)(TR(weights) * w, int t0, int t1);
void TR(weights_free)(TR(weights) * w);

/* Saved activations and backward scratch of a pack of sequences of up to t_max tokens in
 * all. Packing several sequences into one pass makes every matrix multiply taller, so the
 * weights and their gradients are streamed once per pack instead of once per sequence. */
typedef struct TR(acts) TR(acts);
TR(acts) * TR(acts_new)(const tr_layout *L, int t_max); /* NULL when out of memory */
void TR(acts_free)(TR(acts) * a);

/* Forward over n_seq sequences packed in tok: sequence s is rows [start[s], start[s+1]),
 * attends only within itself and has positions 0, 1, ... (each at most n_ctx long,
 * start[n_seq] <= t_max). Computes the logits of rows sel[0..n_sel) (increasing) only,
 * since a loss rarely needs every row. */
void TR(forward)(const TR(weights) * w, TR(acts) * a, const int32_t *tok, const int32_t *start,
                 int n_seq, const int32_t *sel, int n_sel);
/* The logits of the last forward: n_sel rows of n_vocab. */
R *TR(acts_logits)(TR(acts) * a);
/* Summed cross-entropy of the selected rows against tgt[0..n_sel); replaces the logits by
 * scale * d(loss)/d(logits), ready for TR(backward). */
double TR(loss)(TR(acts) * a, const int32_t *tgt, R scale);
/* Accumulates d(scale * loss)/d(params) into grad (same layout as the parameters). */
void TR(backward)(const TR(weights) * w, TR(acts) * a, R *grad);

/* GPT-2 style initialisation (Radford et al. 2019): N(0, 0.02) for matrices, scaled by
 * 1/sqrt(2 n_layer) for the two projections into the residual stream; norms 1. */
void TR(init_params)(R *params, const tr_layout *L, uint64_t seed);
