/* Declarations of the training ops for one precision; included by tops.h with R (the real
 * type) and TR(name) (the suffixing macro) defined. No include guard on purpose. */

/* y[T][n_out] (+)= x[T][n_in] · W^T, given wt = W^T stored [n_in][n_out]. */
void TR(linear_fwd)(R *y, const R *x, const R *wt, int T, int n_in, int n_out, bool accumulate);
/* dx[T][n_in] += dy · W (skipped when dx is NULL); dw[n_out][n_in] += dy^T · x. */
void TR(linear_bwd)(R *dx, R *dw, const R *dy, const R *x, const R *w, int T, int n_in, int n_out);

/* x[t] = emb[tok[t]] (rows of length d); backward scatters into the used rows. */
void TR(embed_fwd)(R *x, const R *emb, const int32_t *tok, int T, int d);
void TR(embed_bwd)(R *demb, const R *dx, const int32_t *tok, int T, int d);

/* RMSNorm (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * w; saves rstd[T]. */
void TR(rmsnorm_fwd)(R *y, R *rstd, const R *x, const R *w, int T, int d, R eps);
void TR(rmsnorm_bwd)(R *dx, R *dw, const R *dy, const R *x, const R *w, const R *rstd, int T,
                     int d);

/* RoPE (Su et al. 2021) as llama.cpp's normal mode: adjacent pairs (x[2i], x[2i+1]) of each
 * head rotate by pos * base^(-2i/head_dim). cs holds [pos][head_dim/2] (cos, sin) pairs.
 * In place over x[T][n_head * head_dim]; positions are 0..T-1. */
void TR(rope_table)(R *cs, int n_pos, int head_dim, double base);
void TR(rope_fwd)(R *x, const R *cs, int T, int n_head, int head_dim);
void TR(rope_bwd)(R *dx, const R *cs, int T, int n_head, int head_dim);

/* Causal softmax attention with grouped KV heads (query head h reads KV head
 * h / (n_head / n_head_kv)), scale 1/sqrt(head_dim). q[T][n_head*hd], k and v
 * [T][n_head_kv*hd], out[T][n_head*hd]; p[n_head][T][T] keeps the probabilities (zero
 * above the diagonal). Both directions need `scratch` of TR_ATTN_SCRATCH(T, hd) reals. */
#ifndef TR_ATTN_SCRATCH
#define TR_ATTN_SCRATCH(T, hd) ((size_t)(T) * (size_t)(T) + (size_t)(T) * (size_t)(hd))
#endif
void TR(attn_fwd)(R *out, R *p, const R *q, const R *k, const R *v, int T, int n_head,
                  int n_head_kv, int head_dim, R *scratch);
void TR(attn_bwd)(R *dq, R *dk, R *dv, const R *dout, const R *p, const R *q, const R *k,
                  const R *v, int T, int n_head, int n_head_kv, int head_dim, R *scratch);

/* SwiGLU (Shazeer 2020): m = silu(g) * u elementwise over n values. */
void TR(swiglu_fwd)(R *m, const R *g, const R *u, size_t n);
void TR(swiglu_bwd)(R *dg, R *du, const R *dm, const R *g, const R *u, size_t n);

/* Cross-entropy of rows logits[T][V] against targets tgt[T] (all valid ids). Returns the
 * summed loss (natural log) and overwrites logits with scale * d(loss)/d(logits). */
double TR(xent)(R *logits, const int32_t *tgt, int T, int V, R scale);
