/*
 * The forward pass, written once for every supported architecture (the bb_arch flags pick
 * the variations). Read top to bottom, bb_forward is the transformer: embed (x sqrt(n_embd)
 * for Gemma), then per layer RMSNorm -> Q/K/V projections (+bias, +QK-norm) -> RoPE ->
 * append K,V to the cache -> attention over the sequence's cached positions (or its sliding
 * window, scores soft-capped for Gemma 2) -> output projection (+RMSNorm for Gemma) +
 * residual -> RMSNorm -> SwiGLU or GeGLU MLP (+RMSNorm), or the mixture of experts of moe.c,
 * + residual; finally RMSNorm and the
 * output projection for the tokens whose logits were asked for (soft-capped for Gemma 2).
 *
 * Every token row is computed by the same kernels whatever else is in the batch, and
 * attention only reads the token's own sequence: batch composition never changes a result.
 */
#include <math.h>

#include "common/error.h"
#include "model/context.h"
#include "model/moe.h"
#include "ops/attention.h"
#include "ops/ops.h"

typedef struct fwd {
    bb_context *ctx;
    const bb_model *m;
    const bb_hparams *hp;
    const bb_batch *b;
    const bb_layer *L;
    int il;
    bool local;                /* layer il is a sliding-window layer */
    bb_rope rope;              /* RoPE of the global layers (all layers of most models) */
    bb_rope rope_loc;          /* of the local ones (gemma3: their own base) */
    const float *cs;           /* layer il's cos/sin rows: ctx->rope_cs or ctx->rope_cs_local */
    const bb_type_traits *f16; /* the KV cache's element type */
    bb_attention_fn attn;
    int32_t *runs; /* attention runs: run i is batch rows runs[i]..runs[i+1]-1 */
    int n_runs;
} fwd;

/* ---- per-token steps, run as pool tasks over the batch rows */

static void embed_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    float *x = f->ctx->x + (size_t)t * f->hp->n_embd;
    bb_weight_row(&f->m->tok_embd, f->b->token[t], x);
    if (f->m->arch->embd_scale) {
        float s = sqrtf((float)f->hp->n_embd);
        for (uint32_t i = 0; i < f->hp->n_embd; i++)
            x[i] *= s;
    }
}

static void attn_norm_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    size_t n = f->hp->n_embd;
    bb_rmsnorm(f->ctx->xn + t * n, f->ctx->x + t * n, f->L->attn_norm, (int)n, f->hp->rms_eps);
}

static void ffn_norm_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    size_t n = f->hp->n_embd;
    bb_rmsnorm(f->ctx->xn + t * n, f->ctx->x + t * n, f->L->ffn_norm, (int)n, f->hp->rms_eps);
}

static void add_bias(float *y, const float *b, int n) {
    for (int i = 0; i < n; i++)
        y[i] += b[i];
}

/* Bias, QK-norm and RoPE on token t's Q and K, then K and V into the cache. */
static void qkv_finish_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    const bb_hparams *hp = f->hp;
    const bb_layer *L = f->L;
    bb_context *ctx = f->ctx;
    int hd = (int)hp->head_dim_k, hdv = (int)hp->head_dim_v;
    int q_dim = (int)hp->n_head * hd, k_dim = (int)hp->n_head_kv * hd;
    int v_dim = (int)hp->n_head_kv * hdv;
    float *q = ctx->q + (size_t)t * q_dim, *k = ctx->k + (size_t)t * k_dim;
    float *v = ctx->v + (size_t)t * v_dim;
    if (L->bq) {
        add_bias(q, L->bq, q_dim);
        add_bias(k, L->bk, k_dim);
        add_bias(v, L->bv, v_dim);
    }
    const float *cs = f->cs + (size_t)t * hp->n_rot;
    const bb_rope *rope = f->local ? &f->rope_loc : &f->rope;
    for (uint32_t h = 0; h < hp->n_head; h++) {
        if (L->q_norm) bb_rmsnorm(q + h * hd, q + h * hd, L->q_norm, hd, hp->rms_eps);
        bb_rope_rotate(rope, cs, q + h * hd);
    }
    for (uint32_t h = 0; h < hp->n_head_kv; h++) {
        if (L->k_norm) bb_rmsnorm(k + h * hd, k + h * hd, L->k_norm, hd, hp->rms_eps);
        bb_rope_rotate(rope, cs, k + h * hd);
    }
    uint32_t seq = (uint32_t)f->b->seq_id[t];
    uint16_t *kc = bb_kv_k(&ctx->kv, f->il, seq, f->b->pos[t]);
    uint16_t *vc = bb_kv_v(&ctx->kv, f->il, seq, f->b->pos[t]);
    const bb_type_traits *f16 = f->f16;
    f16->from_float(k, kc, k_dim);
    f16->from_float(v, vc, v_dim);
}

/* Causal attention of one (run, KV head) pair: a run's tokens are consecutive positions of
 * one sequence, and the query heads sharing that KV head attend to the sequence's cached
 * positions through its block table (ops/attention.h). The kernel's result for a (token,
 * head) depends only on its q and those rows, so neither the batch, the runs nor the task
 * split changes it. Tasks go longest first: later runs of a prompt attend to more positions,
 * and starting them first leaves the short ones to even out the threads at the end. */
static void attention_task(void *arg, int task, int thread) {
    (void)thread;
    fwd *f = arg;
    const bb_hparams *hp = f->hp;
    bb_context *ctx = f->ctx;
    int n_kv = (int)hp->n_head_kv, group = (int)(hp->n_head / hp->n_head_kv);
    int run = f->n_runs - 1 - task / n_kv, g = task % n_kv;
    int t = f->runs[run], n_tok = f->runs[run + 1] - t;
    int hd = (int)hp->head_dim_k, hdv = (int)hp->head_dim_v;
    const bb_kv_cache *kv = &ctx->kv;
    bb_attn_args a = {
        .n_head = group,
        .head_dim_k = hd,
        .head_dim_v = hdv,
        .n_tok = n_tok,
        .n_pos = f->b->pos[t] + 1,
        .scale = hp->attn_scale,
        .window = f->local ? (int32_t)hp->sliding_window : 0,
        .softcap = hp->attn_softcap,
        .sinks = f->L->sinks ? f->L->sinks + (size_t)g * group : NULL,
        .q = ctx->q + (size_t)t * hp->n_head * hd + (size_t)g * group * hd,
        .q_stride = (size_t)hd,
        .q_tok_stride = (size_t)hp->n_head * hd,
        .out = ctx->att + (size_t)t * hp->n_head * hdv + (size_t)g * group * hdv,
        .out_stride = (size_t)hdv,
        .out_tok_stride = (size_t)hp->n_head * hdv,
        .kv = {.k = kv->k[f->il] + (size_t)g * hd,
               .v = kv->v[f->il] + (size_t)g * hdv,
               .k_stride = (size_t)kv->k_dim,
               .v_stride = (size_t)kv->v_dim,
               .blocks = kv->seqs[f->b->seq_id[t]].blocks,
               .block_len = BB_KV_BLOCK},
    };
    f->attn(&a);
}

/* Splits the batch into attention runs: consecutive rows of one sequence at consecutive
 * positions, at most as many as one kernel pass shares its K/V tiles among. */
static int attention_runs(const bb_batch *b, int group, int32_t *runs) {
    int per = BB_ATTN_ROWS / group > 1 ? BB_ATTN_ROWS / group : 1, n = 0;
    for (int t = 0; t < b->n_tokens; t++)
        if (t == 0 || t - runs[n - 1] == per || b->seq_id[t] != b->seq_id[t - 1] ||
            b->pos[t] != b->pos[t - 1] + 1)
            runs[n++] = t;
    runs[n] = b->n_tokens;
    return n;
}

static void glu_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    size_t n = f->hp->n_ff;
    float *g = f->ctx->gate + t * n, *u = f->ctx->up + t * n;
    if (f->m->arch->ffn_act == BB_ACT_GELU)
        bb_geglu(g, g, u, (int)n);
    else
        bb_swiglu(g, g, u, (int)n);
}

static void o_bias_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    size_t n = f->hp->n_embd;
    add_bias(f->ctx->xn + t * n, f->L->bo, (int)n);
}

/* Gemma's post-norms: the block's output in xn normalized in place before the residual. */
static void post_attn_norm_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    size_t n = f->hp->n_embd;
    bb_rmsnorm(f->ctx->xn + t * n, f->ctx->xn + t * n, f->L->post_attn_norm, (int)n,
               f->hp->rms_eps);
}

static void post_ffn_norm_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    size_t n = f->hp->n_embd;
    bb_rmsnorm(f->ctx->xn + t * n, f->ctx->xn + t * n, f->L->post_ffn_norm, (int)n, f->hp->rms_eps);
}

/* x += y over the whole batch (y rows were produced into ctx->xn). */
static void residual_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    size_t n = f->hp->n_embd;
    add_bias(f->ctx->x + t * n, f->ctx->xn + t * n, (int)n);
}

static void rope_cache_task(void *arg, int t, int thread) {
    (void)thread;
    fwd *f = arg;
    bb_rope_cache(&f->rope, f->b->pos[t], f->ctx->rope_cs + (size_t)t * f->hp->n_rot);
    if (f->ctx->rope_cs_local)
        bb_rope_cache(&f->rope_loc, f->b->pos[t], f->ctx->rope_cs_local + (size_t)t * f->hp->n_rot);
}

/* ---- the layers */

static bb_status attention_block(fwd *f, int T, bb_error *err) {
    bb_context *ctx = f->ctx;
    const bb_layer *L = f->L;
    bb_status st;
    bb_pool_run(ctx->pool, attn_norm_task, f, T);
    bb_acts_set(&ctx->acts, ctx->xn, T, f->hp->n_embd);
    const bb_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
    float *qkv_out[3] = {ctx->q, ctx->k, ctx->v};
    if ((st = bb_matmul_n(ctx->pool, qkv, qkv_out, 3, &ctx->acts, err))) return st;
    bb_pool_run(ctx->pool, qkv_finish_task, f, T);
    bb_pool_run(ctx->pool, attention_task, f, f->n_runs * (int)f->hp->n_head_kv);
    bb_acts_set(&ctx->acts, ctx->att, T, L->wo.n_in);
    if ((st = bb_matmul(ctx->pool, &L->wo, &ctx->acts, ctx->xn, err))) return st;
    if (L->bo) bb_pool_run(ctx->pool, o_bias_task, f, T);
    if (L->post_attn_norm) bb_pool_run(ctx->pool, post_attn_norm_task, f, T);
    bb_pool_run(ctx->pool, residual_task, f, T);
    return BB_OK;
}

static bb_status ffn_block(fwd *f, int T, bb_error *err) {
    bb_context *ctx = f->ctx;
    const bb_layer *L = f->L;
    bb_status st;
    bb_pool_run(ctx->pool, ffn_norm_task, f, T);
    if (L->exps) { /* a mixture of experts: its own file */
        if ((st = bb_moe_ffn(ctx, L, T, err))) return st;
        bb_pool_run(ctx->pool, residual_task, f, T);
        return BB_OK;
    }
    bb_acts_set(&ctx->acts, ctx->xn, T, f->hp->n_embd);
    const bb_weight *gate_up[2] = {&L->w_gate, &L->w_up};
    float *gate_up_out[2] = {ctx->gate, ctx->up};
    if ((st = bb_matmul_n(ctx->pool, gate_up, gate_up_out, 2, &ctx->acts, err))) return st;
    bb_pool_run(ctx->pool, glu_task, f, T);
    bb_acts_set(&ctx->acts, ctx->gate, T, f->hp->n_ff);
    if ((st = bb_matmul(ctx->pool, &L->w_down, &ctx->acts, ctx->xn, err))) return st;
    if (L->post_ffn_norm) bb_pool_run(ctx->pool, post_ffn_norm_task, f, T);
    bb_pool_run(ctx->pool, residual_task, f, T);
    return BB_OK;
}

/* Final norm of the rows that want logits, gathered densely into xn, then the output
 * projection straight into the logits buffer. */
static bb_status output_block(fwd *f, int T, int n_outputs, bb_error *err) {
    bb_context *ctx = f->ctx;
    size_t n = f->hp->n_embd;
    int row = 0;
    for (int t = 0; t < T; t++) {
        if (!f->b->logits[t]) continue;
        bb_rmsnorm(ctx->xn + row * n, ctx->x + t * n, f->m->output_norm, (int)n, f->hp->rms_eps);
        row++;
    }
    bb_acts_set(&ctx->acts, ctx->xn, n_outputs, (int64_t)n);
    bb_status st = bb_matmul(ctx->pool, &f->m->output, &ctx->acts, ctx->logits, err);
    for (int r = 0; st == BB_OK && f->hp->final_softcap > 0.0f && r < n_outputs; r++)
        bb_softcap(ctx->logits + (size_t)r * f->hp->n_vocab, (int)f->hp->n_vocab,
                   f->hp->final_softcap);
    return st;
}

bb_status bb_forward(bb_context *ctx, const bb_batch *b, int n_outputs, bb_error *err) {
    const bb_model *m = ctx->model;
    fwd f = {.ctx = ctx,
             .m = m,
             .hp = &m->hp,
             .b = b,
             .f16 = bb_type_get(BB_TYPE_F16),
             .attn = bb_attention_get(NULL)};
    f.rope = (bb_rope){.style = m->arch->rope_style,
                       .n_rot = (int)m->hp.n_rot,
                       .freq_base = m->hp.rope_freq_base,
                       .freq_scale = m->hp.rope_freq_scale,
                       .factors = m->rope_factors,
                       .mscale = m->hp.rope_mscale,
                       .yarn = m->hp.rope_yarn,
                       .yarn_lo = m->hp.yarn_lo,
                       .yarn_hi = m->hp.yarn_hi};
    /* LongRoPE: the long factors for a context longer than the original one, as llama.cpp
     * chooses (a sequence here may grow to n_ctx) */
    if (m->rope_factors_long)
        f.rope.factors =
            ctx->params.n_ctx > m->hp.rope_orig_ctx ? m->rope_factors_long : m->rope_factors_short;
    /* gemma3's local layers: their own base and no scaling, whatever the file says
     * (llama.cpp, src/llama-model.cpp, build_gemma3) */
    f.rope_loc = f.rope;
    if (m->arch->local_rope_base > 0.0f) {
        f.rope_loc.freq_base = m->arch->local_rope_base;
        f.rope_loc.freq_scale = 1.0f;
        f.rope_loc.factors = NULL;
        f.rope_loc.mscale = 0.0f;
        f.rope_loc.yarn = 0;
    }
    int T = b->n_tokens;
    f.runs = ctx->attn_runs;
    f.n_runs = attention_runs(b, (int)(m->hp.n_head / m->hp.n_head_kv), f.runs);
    bb_status st;
    bb_pool_run(ctx->pool, embed_task, &f, T);
    bb_pool_run(ctx->pool, rope_cache_task, &f, T);
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        f.il = (int)il;
        f.L = &m->layers[il];
        f.local = bb_arch_layer_local(m->arch, il);
        f.cs = f.local && ctx->rope_cs_local ? ctx->rope_cs_local : ctx->rope_cs;
        if ((st = attention_block(&f, T, err)) || (st = ffn_block(&f, T, err))) return st;
    }
    if (n_outputs == 0) return BB_OK;
    return output_block(&f, T, n_outputs, err);
}
