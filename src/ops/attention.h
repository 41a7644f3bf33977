/*
 * Causal attention of a run of consecutive query positions of one sequence over a cache of
 * half-precision keys and values, for a group of query heads that share one KV head
 * (grouped-query attention, Ainslie et al. 2023): every K and V row is read and widened once
 * for all the heads and positions of the call (in prefill, a run of a few tokens shares each
 * widened tile, which is most of the kernel's non-FMA work).
 *
 * The positions are walked in tiles of BB_ATTN_TILE with an online softmax (Milakov &
 * Gimelshein 2018; the tiling of FlashAttention, Dao et al. 2022): a running maximum and
 * sum per head, the accumulator rescaled when the maximum grows, so no score buffer of the
 * context's size is ever written. Tile boundaries are fixed by position (tile i covers
 * positions [16 i, 16 i + 16)), and every head's arithmetic is its own chain in a fixed
 * order, so a (token, head) result depends only on its q, its n_pos and the cached rows
 * 0..n_pos-1: never on the other heads or tokens of the call, the batch, the thread or the
 * task split (batch invariance).
 *
 * Numerics: q is rounded to half precision first, as llama.cpp's KQ product over an F16
 * cache does, which makes every q*k product exact in float; the scores, the softmax and the
 * V sum are float. The scalar kernel is the specification: the AVX2 kernel performs the
 * identical float operations in the identical order (the same 8-lane partition of the dot
 * products, the same reduction trees, the same exp polynomial), so the two agree bit for bit.
 */
#ifndef BB_OPS_ATTENTION_H
#define BB_OPS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#define BB_ATTN_TILE 16
#define BB_ATTN_MAX_HEAD_DIM 256 /* head_dim_k and head_dim_v: 1 to this */

/* Where one KV head's rows live: the row of position p starts at k + cell(p) * k_stride
 * (halves), with cell(p) = blocks[p / block_len] * block_len + p % block_len (a paged cache's
 * block table; blocks = NULL means cell(p) = p, a contiguous cache). Likewise v. */
typedef struct bb_attn_kv {
    const uint16_t *k;
    const uint16_t *v;
    size_t k_stride;
    size_t v_stride;
    const int32_t *blocks;
    int block_len;
} bb_attn_kv;

typedef struct bb_attn_args {
    int n_head;     /* query heads in the group, all attending to this KV head */
    int head_dim_k; /* q and k length */
    int head_dim_v; /* v and output length */
    int n_tok;      /* consecutive query positions (tokens), >= 1 */
    int32_t n_pos;  /* token u attends to positions 0..n_pos+u-1 (n_pos >= 1) */
    float scale;    /* applied to q.k, usually 1/sqrt(head_dim_k) */
    /* > 0: sliding-window attention (Mistral, Gemma 2/3 local layers): token u sees only the
     * last `window` of its positions, max(0, n_pos+u-window)..n_pos+u-1; 0: all of them */
    int32_t window;
    /* > 0: each score s becomes softcap * tanh(s / softcap) before the mask and the softmax
     * (Gemma 2's attn_logit_softcapping); 0: scores as they are */
    float softcap;
    /* non-NULL: a sink logit per head of the call (gpt-oss's attn_sinks): it joins each
     * softmax's denominator only, p_j = exp(s_j) / (sum_k exp(s_k) + exp(sink)) */
    const float *sinks;
    /* head h of token u: its query at q + u * q_tok_stride + h * q_stride, its output
     * (head_dim_v floats) at out + u * out_tok_stride + h * out_stride */
    const float *q;
    size_t q_stride, q_tok_stride;
    float *out;
    size_t out_stride, out_tok_stride;
    bb_attn_kv kv;
} bb_attn_args;

/* Query rows (tokens x heads) that one pass over the KV tiles serves; a call with more
 * makes several passes, so a caller splitting work gets the most sharing from runs of
 * BB_ATTN_ROWS / n_head tokens (at least 1). */
#define BB_ATTN_ROWS 32

typedef void (*bb_attention_fn)(const bb_attn_args *a);

/* The scalar specification, always available. */
void bb_attention_ref(const bb_attn_args *a);
/* The kernel for a CPU level ("scalar", "avx2", "avx512": the AVX2 kernel serves AVX-512
 * CPUs too), NULL when this CPU lacks it; NULL level: the level bb_cpu_level() picks
 * (BB_CPU=scalar forces the scalar kernel). */
bb_attention_fn bb_attention_get(const char *level);

#endif
