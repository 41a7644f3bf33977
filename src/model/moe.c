/*
 * The mixture-of-experts FFN (Shazeer et al. 2017; Mixtral, Jiang et al. 2024; Qwen-MoE), as
 * llama.cpp computes it (src/llama-graph.cpp, build_moe_ffn): router logits W x, softmax over
 * all experts, the k largest probabilities chosen (ties to the lower index), weighted as they
 * are or renormalized over the k (bb_moe_gating); expert e is down_e(silu(gate_e x) * up_e x);
 * the layer's output is the weighted experts summed in the order they were chosen, plus the
 * shared expert times sigmoid(ffn_gate_inp_shexp x) where there is one (qwen2moe). gpt-oss
 * instead picks the top k of the biased router logits, weighs them by the softmax over those
 * k, and its experts add biases around a clamped SwiGLU (swiglu_oai).
 *
 * Only the chosen experts run, each once per batch over the rows routed to it (gathered
 * densely, so prefill multiplies each expert's matrices by all its tokens together and decode
 * reads only the k experts' weights). Every row is computed by the same kernels whatever else
 * is in the batch and the sum order is fixed per token: batch invariance holds as for the
 * dense FFN.
 */
#include "model/moe.h"

#include <math.h>
#include <string.h>

#include "common/error.h"
#include "ops/ops.h"

typedef struct moe {
    bb_context *ctx;
    const bb_hparams *hp;
    const bb_arch *arch;
    const bb_layer *L;
    int n_rows;                          /* rows in the expert's gathered batch (glu_task) */
    int width;                           /* their width */
    const float *b_gate, *b_up, *b_down; /* the expert's biases (gpt-oss), or NULL */
} moe;

/* Token t's top-k experts and their weights from its router logits. */
static void route_task(void *arg, int t, int thread) {
    (void)thread;
    moe *g = arg;
    bb_context *ctx = g->ctx;
    int E = (int)g->hp->n_expert, k = (int)g->hp->n_expert_used;
    float *p = ctx->moe_logits + (size_t)t * E;
    const float *bias = g->L->router_b;
    if (bias)
        for (int e = 0; e < E; e++)
            p[e] += bias[e];
    bool topk_first = g->arch->moe_gating == BB_MOE_TOPK_SOFTMAX;
    if (!topk_first) bb_softmax(p, E);
    int32_t *sel = ctx->moe_sel + (size_t)t * k;
    float *w = ctx->moe_w + (size_t)t * k, sum = 0.0f;
    bool taken[BB_MOE_MAX_EXPERTS] = {0};
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
        taken[best] = true;
        sel[j] = best;
        w[j] = p[best];
        sum += w[j];
    }
    if (g->arch->moe_gating == BB_MOE_SOFTMAX_NORM)
        for (int j = 0; j < k; j++)
            w[j] /= sum;
    if (topk_first) bb_softmax(w, k); /* over the chosen logits (w[0] is their maximum) */
}

/* gpt-oss's expert activation (its reference implementation, and llama.cpp's
 * swiglu_oai): g = min(gate, 7), u = clamp(up, -7, 7), g * sigmoid(1.702 g) * (u + 1), on
 * the biased projections. */
static void swiglu_oai(float *y, const float *gt, const float *bg, const float *up, const float *bu,
                       int n) {
    for (int i = 0; i < n; i++) {
        float x = fminf(gt[i] + bg[i], 7.0f);
        float u = fminf(fmaxf(up[i] + bu[i], -7.0f), 7.0f);
        y[i] = x / (1.0f + expf(-1.702f * x)) * (u + 1.0f);
    }
}

static void glu_task(void *arg, int r, int thread) {
    (void)thread;
    moe *g = arg;
    size_t n = (size_t)g->width;
    float *gt = g->ctx->gate + r * n, *up = g->ctx->up + r * n;
    if (g->b_gate)
        swiglu_oai(gt, gt, g->b_gate, up, g->b_up, (int)n);
    else
        bb_swiglu(gt, gt, up, (int)n);
}

/* xn[t] = sum_j w_j * out_j (+ sigmoid(s) * shared) in a fixed order. */
static void combine_task(void *arg, int t, int thread) {
    (void)thread;
    moe *g = arg;
    bb_context *ctx = g->ctx;
    int k = (int)g->hp->n_expert_used, n = (int)g->hp->n_embd;
    float *y = ctx->xn + (size_t)t * n;
    const float *w = ctx->moe_w + (size_t)t * k;
    for (int j = 0; j < k; j++) {
        const float *o = ctx->moe_out + ((size_t)t * k + j) * n;
        for (int i = 0; i < n; i++)
            y[i] = j == 0 ? o[i] * w[0] : y[i] + o[i] * w[j];
    }
    if (g->arch->moe_shared) {
        float s = 1.0f / (1.0f + expf(-ctx->moe_shg[t]));
        const float *o = ctx->moe_shared + (size_t)t * n;
        for (int i = 0; i < n; i++)
            y[i] = y[i] + o[i] * s;
    }
}

/* down(silu(gate x) * up x) over the n rows of acts into out. */
static bb_status expert_ffn(moe *g, const bb_weight *gate, const bb_weight *up,
                            const bb_weight *down, int n, float *out, bb_error *err) {
    bb_context *ctx = g->ctx;
    const bb_weight *gu[2] = {gate, up};
    float *gu_out[2] = {ctx->gate, ctx->up};
    bb_status st = bb_matmul_n(ctx->pool, gu, gu_out, 2, &ctx->acts, err);
    if (st) return st;
    g->n_rows = n;
    g->width = (int)gate->n_out;
    bb_pool_run(ctx->pool, glu_task, g, n);
    bb_acts_set(&ctx->acts, ctx->gate, n, gate->n_out);
    if ((st = bb_matmul(ctx->pool, down, &ctx->acts, out, err))) return st;
    for (int r = 0; g->b_down && r < n; r++)
        for (int64_t i = 0; i < down->n_out; i++)
            out[(size_t)r * down->n_out + i] += g->b_down[i];
    return BB_OK;
}

bb_status bb_moe_ffn(bb_context *ctx, const bb_layer *L, int T, bb_error *err) {
    const bb_model *m = ctx->model;
    moe g = {.ctx = ctx, .hp = &m->hp, .arch = m->arch, .L = L};
    int E = (int)m->hp.n_expert, k = (int)m->hp.n_expert_used;
    size_t n = m->hp.n_embd;
    bb_status st;
    /* router logits, then each token's choice */
    bb_acts_set(&ctx->acts, ctx->xn, T, (int64_t)n);
    if ((st = bb_matmul(ctx->pool, &L->router, &ctx->acts, ctx->moe_logits, err))) return st;
    bb_pool_run(ctx->pool, route_task, &g, T);
    /* the shared expert over every row, and its gate */
    if (m->arch->moe_shared) {
        g.b_gate = g.b_up = g.b_down = NULL;
        if ((st = bb_matmul(ctx->pool, &L->shexp_gate_inp, &ctx->acts, ctx->moe_shg, err)) ||
            (st = expert_ffn(&g, &L->shexp_gate, &L->shexp_up, &L->shexp_down, T, ctx->moe_shared,
                             err)))
            return st;
    }
    /* each expert over the rows routed to it: gathered into moe_x, its outputs scattered to
     * their (token, choice) slots of moe_out */
    for (int e = 0; e < E; e++) {
        int rows = 0;
        for (int s = 0; s < T * k; s++) {
            if (ctx->moe_sel[s] != e) continue;
            memcpy(ctx->moe_x + (size_t)rows * n, ctx->xn + (size_t)(s / k) * n, n * sizeof(float));
            ctx->moe_slot[rows++] = s;
        }
        if (rows == 0) continue;
        const bb_weight *x = &L->exps[3 * e];
        if (L->gate_exps_b) {
            g.b_gate = L->gate_exps_b + (size_t)e * m->hp.n_ff_exp;
            g.b_up = L->up_exps_b + (size_t)e * m->hp.n_ff_exp;
            g.b_down = L->down_exps_b + (size_t)e * n;
        }
        bb_acts_set(&ctx->acts, ctx->moe_x, rows, (int64_t)n);
        if ((st = expert_ffn(&g, &x[0], &x[1], &x[2], rows, ctx->moe_y, err))) return st;
        for (int r = 0; r < rows; r++)
            memcpy(ctx->moe_out + (size_t)ctx->moe_slot[r] * n, ctx->moe_y + (size_t)r * n,
                   n * sizeof(float));
    }
    bb_pool_run(ctx->pool, combine_task, &g, T);
    return BB_OK;
}
