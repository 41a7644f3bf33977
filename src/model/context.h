/* Internal: an inference context — the KV cache, the thread pool and the scratch buffers of
 * one forward pass over at most n_batch tokens. */
#ifndef BB_MODEL_CONTEXT_H
#define BB_MODEL_CONTEXT_H

#include "kv/kv_cache.h"
#include "model/model.h"
#include "ops/matmul.h"
#include "ops/threadpool.h"

struct bb_context {
    bb_model *model;
    bb_context_params params;
    bb_pool *pool;
    bb_kv_cache kv;
    bb_acts acts;

    /* scratch, rows of n_batch tokens */
    float *x;             /* residual stream, n_embd per token */
    float *xn;            /* normalized input of a block, n_embd (or attention output, o_dim) */
    float *q;             /* n_head * head_dim_k */
    float *k;             /* n_head_kv * head_dim_k */
    float *v;             /* n_head_kv * head_dim_v */
    float *att;           /* n_head * head_dim_v */
    float *gate;          /* n_ff */
    float *up;            /* n_ff */
    float *rope_cs;       /* n_rot per token */
    float *rope_cs_local; /* the same for the local layers' own RoPE base (gemma3), or NULL */
    int32_t *attn_runs;   /* n_batch + 1: the batch split into attention runs (forward.c) */
    /* mixture of experts (moe.c), NULL for dense models; gate and up are then as wide as
     * the widest of the FFN, an expert and the shared expert */
    float *moe_logits; /* n_expert per token: router logits, then probabilities */
    int32_t *moe_sel;  /* n_expert_used per token: the chosen experts, in order */
    float *moe_w;      /* their weights */
    float *moe_x;      /* n_embd per token: an expert's gathered input rows */
    float *moe_y;      /* n_embd per token: its output rows */
    int32_t *moe_slot; /* per gathered row: its (token, choice) slot */
    float *moe_out;    /* n_expert_used * n_embd per token: every chosen expert's output */
    float *moe_shared; /* n_embd per token: the shared expert's output (qwen2moe) */
    float *moe_shg;    /* 1 per token: its gate logit */

    /* outputs of the last bb_decode */
    float *logits;         /* n_outputs * n_vocab */
    int32_t *out_row;      /* batch index -> logits row, -1 when not requested */
    int32_t n_out_rows;    /* entries in out_row (the last batch's size) */
    int32_t *next_pos;     /* per sequence: its length once the batch is in (bb_decode) */
    const bb_batch *batch; /* the batch being evaluated (during bb_decode only) */
};

/* model/forward.c: runs the layers over the batch whose cache cells are already reserved. */
bb_status bb_forward(bb_context *ctx, const bb_batch *batch, int n_outputs, bb_error *err);

#endif
