/* Inference contexts: allocation of the cache and scratch, and bb_decode's validation of a
 * batch before anything in the cache changes. */
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "model/context.h"

#define MAX_CTX (1u << 22)
#define MAX_BATCH (1u << 16)
#define MAX_SEQ 4096u

bb_context_params bb_context_default_params(void) {
    return (bb_context_params){
        .n_ctx = 4096, .n_batch = 512, .n_seq_max = 1, .n_threads = 0, .prefix_cache = true};
}

static bb_status alloc_floats(float **p, size_t rows, size_t cols, bb_error *err) {
    size_t n;
    if (!bb_mul_size(rows, cols, &n) || !bb_mul_size(n, sizeof(float), &n) ||
        !(*p = malloc(n ? n : 1)))
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for scratch buffers");
    return BB_OK;
}

static bb_status alloc_scratch(bb_context *c, bb_error *err) {
    const bb_hparams *hp = &c->model->hp;
    size_t B = c->params.n_batch;
    size_t q_dim = (size_t)hp->n_head * hp->head_dim_k;
    size_t att_dim = (size_t)hp->n_head * hp->head_dim_v;
    size_t xn_dim = hp->n_embd > att_dim ? hp->n_embd : att_dim;
    size_t ff = hp->n_ff;
    if (hp->n_ff_exp > ff) ff = hp->n_ff_exp;
    if (hp->n_ff_shexp > ff) ff = hp->n_ff_shexp;
    bb_status st;
    if ((st = alloc_floats(&c->x, B, hp->n_embd, err)) ||
        (st = alloc_floats(&c->xn, B, xn_dim, err)) || (st = alloc_floats(&c->q, B, q_dim, err)) ||
        (st = alloc_floats(&c->k, B, (size_t)hp->n_head_kv * hp->head_dim_k, err)) ||
        (st = alloc_floats(&c->v, B, (size_t)hp->n_head_kv * hp->head_dim_v, err)) ||
        (st = alloc_floats(&c->att, B, att_dim, err)) ||
        (st = alloc_floats(&c->gate, B, ff, err)) || (st = alloc_floats(&c->up, B, ff, err)) ||
        (st = alloc_floats(&c->rope_cs, B, hp->n_rot, err)) ||
        (st = alloc_floats(&c->logits, B, hp->n_vocab, err)))
        return st;
    if (c->model->arch->local_rope_base > 0.0f &&
        (st = alloc_floats(&c->rope_cs_local, B, hp->n_rot, err)))
        return st;
    if (hp->n_expert > 0) {
        size_t k = hp->n_expert_used, sel;
        if ((st = alloc_floats(&c->moe_logits, B, hp->n_expert, err)) ||
            (st = alloc_floats(&c->moe_w, B, k, err)) ||
            (st = alloc_floats(&c->moe_x, B, hp->n_embd, err)) ||
            (st = alloc_floats(&c->moe_y, B, hp->n_embd, err)) ||
            (st = alloc_floats(&c->moe_out, B * k, hp->n_embd, err)) ||
            (st = alloc_floats(&c->moe_shared, B, hp->n_embd, err)) ||
            (st = alloc_floats(&c->moe_shg, B, 1, err)))
            return st;
        if (!bb_mul_size(B, k, &sel) || !(c->moe_sel = malloc(sel * sizeof *c->moe_sel)) ||
            !(c->moe_slot = malloc(sel * sizeof *c->moe_slot)))
            return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for scratch buffers");
    }
    c->out_row = malloc(B * sizeof *c->out_row);
    c->attn_runs = malloc((B + 1) * sizeof *c->attn_runs);
    c->next_pos = malloc(c->params.n_seq_max * sizeof *c->next_pos);
    if (!c->out_row || !c->attn_runs || !c->next_pos)
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    return BB_OK;
}

bb_status bb_context_new(bb_model *model, const bb_context_params *params, bb_context **out,
                         bb_error *err) {
    *out = NULL;
    if (model->vocab_only)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the model was loaded vocab-only");
    bb_context_params p = params ? *params : bb_context_default_params();
    if (p.n_threads <= 0) p.n_threads = bb_cpu_count();
    if (p.n_ctx == 0 || p.n_ctx > MAX_CTX)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "n_ctx %u is out of range 1..%u", p.n_ctx,
                       MAX_CTX);
    if (p.n_batch == 0 || p.n_batch > MAX_BATCH)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "n_batch %u is out of range 1..%u", p.n_batch,
                       MAX_BATCH);
    if (p.n_seq_max == 0 || p.n_seq_max > MAX_SEQ)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "n_seq_max %u is out of range 1..%u",
                       p.n_seq_max, MAX_SEQ);
    /* the cache is allocated in whole blocks: round n_ctx up so none is wasted */
    p.n_ctx = (p.n_ctx + BB_KV_BLOCK - 1) / BB_KV_BLOCK * BB_KV_BLOCK;
    bb_context *c = calloc(1, sizeof *c);
    if (!c) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    c->model = model;
    c->params = p;
    bb_acts_init(&c->acts);
    const bb_hparams *hp = &model->hp;
    bb_status st = bb_pool_new(p.n_threads, &c->pool, err);
    if (st == BB_OK)
        st = bb_kv_init(&c->kv, (int)hp->n_layer, (int)(hp->n_head_kv * hp->head_dim_k),
                        (int)(hp->n_head_kv * hp->head_dim_v), p.n_ctx, p.n_seq_max, p.prefix_cache,
                        err);
    if (st == BB_OK) st = alloc_scratch(c, err);
    if (st != BB_OK) {
        bb_context_free(c);
        return st;
    }
    *out = c;
    return BB_OK;
}

void bb_context_free(bb_context *c) {
    if (!c) return;
    bb_pool_free(c->pool);
    bb_kv_release(&c->kv);
    bb_acts_release(&c->acts);
    free(c->x);
    free(c->xn);
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->att);
    free(c->gate);
    free(c->up);
    free(c->rope_cs);
    free(c->rope_cs_local);
    free(c->moe_logits);
    free(c->moe_sel);
    free(c->moe_w);
    free(c->moe_x);
    free(c->moe_y);
    free(c->moe_slot);
    free(c->moe_out);
    free(c->moe_shared);
    free(c->moe_shg);
    free(c->attn_runs);
    free(c->logits);
    free(c->out_row);
    free(c->next_pos);
    free(c);
}

uint32_t bb_context_n_ctx(const bb_context *c) {
    return c->params.n_ctx;
}
int32_t bb_context_n_threads(const bb_context *c) {
    return bb_pool_n_threads(c->pool);
}

/* Checks every entry and that each sequence's positions continue its cache contiguously;
 * computes how many cache blocks the batch needs. Nothing is modified. */
static bb_status validate_batch(const bb_context *c, const bb_batch *b, int32_t *next_pos,
                                int *n_outputs, bb_error *err) {
    if (!b || b->n_tokens <= 0) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the batch is empty");
    if ((uint32_t)b->n_tokens > c->params.n_batch)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "batch of %d tokens exceeds n_batch %u",
                       b->n_tokens, c->params.n_batch);
    const int32_t n_vocab = (int32_t)c->model->hp.n_vocab;
    for (uint32_t s = 0; s < c->params.n_seq_max; s++)
        next_pos[s] = c->kv.seqs[s].len;
    *n_outputs = 0;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        if (b->token[i] < 0 || b->token[i] >= n_vocab)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "batch[%d]: token id %d is out of "
                           "range 0..%d",
                           i, b->token[i], n_vocab - 1);
        if (b->seq_id[i] < 0 || (uint32_t)b->seq_id[i] >= c->params.n_seq_max)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "batch[%d]: sequence id %d is out of "
                           "range 0..%u",
                           i, b->seq_id[i], c->params.n_seq_max - 1);
        int32_t *np = &next_pos[b->seq_id[i]];
        if (b->pos[i] != *np)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "batch[%d]: position %d of sequence "
                           "%d does not continue its cache (next position is %d)",
                           i, b->pos[i], b->seq_id[i], *np);
        if ((uint32_t)*np >= c->params.n_ctx)
            return bb_fail(err, BB_ERR_NO_SPACE, "sequence %d would exceed the context size %u",
                           b->seq_id[i], c->params.n_ctx);
        (*np)++;
        if (b->logits[i]) (*n_outputs)++;
    }
    uint32_t need = 0;
    for (uint32_t s = 0; s < c->params.n_seq_max; s++)
        need += bb_kv_blocks_needed(&c->kv, s, next_pos[s]);
    if (need > bb_kv_available(&c->kv))
        return bb_fail(err, BB_ERR_NO_SPACE,
                       "the KV cache has %u free tokens, the batch needs "
                       "%u more",
                       bb_kv_available(&c->kv) * BB_KV_BLOCK, need * BB_KV_BLOCK);
    return BB_OK;
}

bb_status bb_decode(bb_context *c, const bb_batch *b, bb_error *err) {
    int32_t *next_pos = c->next_pos;
    int n_outputs = 0;
    bb_status st = validate_batch(c, b, next_pos, &n_outputs, err);
    for (uint32_t s = 0; st == BB_OK && s < c->params.n_seq_max; s++)
        if (next_pos[s] > c->kv.seqs[s].len) st = bb_kv_grow(&c->kv, s, next_pos[s], err);
    if (st != BB_OK) return st;
    c->n_out_rows = b->n_tokens;
    int row = 0;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        c->out_row[i] = b->logits[i] ? row++ : -1;
        bb_kv_set_token(&c->kv, (uint32_t)b->seq_id[i], b->pos[i], b->token[i]);
    }
    st = bb_forward(c, b, n_outputs, err);
    if (st != BB_OK) {
        c->n_out_rows = 0;
        return st;
    }
    /* Only now are the new rows written: blocks they fill may be shared from here on. */
    for (int32_t i = 0; i < b->n_tokens; i++)
        if (i + 1 == b->n_tokens || b->seq_id[i + 1] != b->seq_id[i])
            bb_kv_seal(&c->kv, (uint32_t)b->seq_id[i]);
    return BB_OK;
}

const float *bb_get_logits(const bb_context *c, int32_t i) {
    if (i < 0 || i >= c->n_out_rows || c->out_row[i] < 0) return NULL;
    return c->logits + (size_t)c->out_row[i] * c->model->hp.n_vocab;
}

bb_status bb_kv_seq_rm(bb_context *c, int32_t seq_id, int32_t p0, int32_t p1, bb_error *err) {
    if (seq_id < 0 || (uint32_t)seq_id >= c->params.n_seq_max)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "sequence id %d is out of range", seq_id);
    int32_t len = c->kv.seqs[seq_id].len;
    if (p0 < 0) p0 = 0;
    if (p1 >= 0 && p1 < len && p0 < p1)
        return bb_fail(err, BB_ERR_UNSUPPORTED,
                       "removing positions [%d, %d) from the middle of "
                       "sequence %d (length %d) is not supported; truncate instead",
                       p0, p1, seq_id, len);
    return bb_kv_truncate(&c->kv, (uint32_t)seq_id, p0, err);
}

int32_t bb_kv_seq_len(const bb_context *c, int32_t seq_id) {
    if (seq_id < 0 || (uint32_t)seq_id >= c->params.n_seq_max) return -1;
    return c->kv.seqs[seq_id].len;
}

uint32_t bb_kv_free_tokens(const bb_context *c) {
    return bb_kv_available(&c->kv) * BB_KV_BLOCK;
}

int32_t bb_kv_seq_reuse_prefix(bb_context *c, int32_t seq_id, const bb_token *tokens, int32_t n) {
    if (seq_id < 0 || (uint32_t)seq_id >= c->params.n_seq_max || !tokens || n < 0) return 0;
    if ((uint32_t)n > c->params.n_ctx) n = (int32_t)c->params.n_ctx;
    return bb_kv_attach_prefix(&c->kv, (uint32_t)seq_id, tokens, n);
}

int32_t bb_kv_prefix_held(const bb_context *c, const bb_token *tokens, int32_t n) {
    if (!tokens || n < 0) return 0;
    if ((uint32_t)n > c->params.n_ctx) n = (int32_t)c->params.n_ctx;
    return bb_kv_prefix_held_tokens(&c->kv, tokens, n);
}

void bb_kv_prefix_stats(const bb_context *c, bb_kv_prefix_info *out) {
    out->cached_blocks = c->kv.n_cached;
    out->evictable_blocks = c->kv.n_lru;
    out->evictions = c->kv.evictions;
    out->block_tokens = BB_KV_BLOCK;
}
