/* Binds the weight tensors of the mapped GGUF file, checking every name, shape and type
 * against the hyper-parameters so the forward pass can index without further checks.
 * Tensor names follow llama.cpp's (token_embd, blk.N.attn_q, ...). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"
#include "common/error.h"
#include "model/model.h"

static bb_status find(const bb_model *m, const char *name, bool required, const gguf_tensor **out,
                      bb_error *err) {
    *out = gguf_find_tensor(m->file, name);
    if (!*out && required) return bb_fail(err, BB_ERR_FORMAT, "missing tensor '%s'", name);
    return BB_OK;
}

static bb_status check_shape(const gguf_tensor *t, uint64_t ne0, uint64_t ne1, bb_error *err) {
    uint64_t want[GGUF_MAX_DIMS] = {ne0, ne1, 1, 1};
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        if (t->ne[d] != want[d])
            return bb_fail(err, BB_ERR_FORMAT,
                           "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%llu, %llu]",
                           t->name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                           (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                           (unsigned long long)ne0, (unsigned long long)ne1);
    return BB_OK;
}

/* A matrix used by matmul: any weight type we have kernels for. */
static bb_status bind_matrix(bb_model *m, const char *name, uint64_t n_in, uint64_t n_out,
                             bool required, bb_weight *w, bb_error *err) {
    const gguf_tensor *t;
    bb_status st = find(m, name, required, &t, err);
    if (st != BB_OK || !t) return st;
    if ((st = check_shape(t, n_in, n_out, err))) return st;
    const bb_type_traits *tt = bb_type_get(t->type);
    if (!tt || !tt->is_weight_type || !tt->vec_dot)
        return bb_fail(err, BB_ERR_UNSUPPORTED,
                       "tensor '%s' has weight type %s (id %u), which "
                       "beanbag does not support yet",
                       name, tt ? tt->name : "unknown", t->type);
    if (n_in % (uint64_t)tt->block_size != 0)
        return bb_fail(err, BB_ERR_FORMAT,
                       "tensor '%s': row length %llu is not a multiple of "
                       "the %s block size %lld",
                       name, (unsigned long long)n_in, tt->name, (long long)tt->block_size);
    w->data = t->data;
    w->type = (int)t->type;
    w->n_in = (int64_t)n_in;
    w->n_out = (int64_t)n_out;
    w->row_bytes = bb_row_size(w->type, w->n_in);
    w->tt = tt;
    m->n_params += n_in * n_out;
    m->weight_bytes += t->size;
    return BB_OK;
}

/* A vector of n floats (norm weights, biases): must be F32, as llama.cpp writes them. */
static bb_status bind_vector(bb_model *m, const char *name, uint64_t n, bool required,
                             const float **out, bb_error *err) {
    const gguf_tensor *t;
    bb_status st = find(m, name, required, &t, err);
    if (st != BB_OK || !t) return st;
    if ((st = check_shape(t, n, 1, err))) return st;
    if (t->type != BB_TYPE_F32)
        return bb_fail(err, BB_ERR_UNSUPPORTED, "tensor '%s' must be F32 (type id %u found)", name,
                       t->type);
    if ((uintptr_t)t->data % sizeof(float) != 0)
        return bb_fail(err, BB_ERR_FORMAT, "tensor '%s' data is not 4-byte aligned", name);
    *out = t->data;
    m->n_params += n;
    m->weight_bytes += t->size;
    return BB_OK;
}

/* Rows r0..r0+n-1 of w as a matrix of their own (a fused tensor's part: phi3's attn_qkv and
 * ffn_up); its bytes and parameters are counted once, with w. */
static void weight_rows(const bb_weight *w, int64_t r0, int64_t n, bb_weight *out) {
    *out = *w;
    out->data = (const char *)w->data + (size_t)r0 * w->row_bytes;
    out->n_out = n;
}

/* A 3-D tensor of n_expert matrices (ggml ne = {n_in, n_out, n_expert}, as llama.cpp's
 * converter writes ffn_*_exps), as one view per expert into exps[3 e + part]. */
static bb_status bind_expert_stack(bb_model *m, const char *name, uint64_t n_in, uint64_t n_out,
                                   int part, bb_weight *exps, bb_error *err) {
    const gguf_tensor *t;
    bb_status st = find(m, name, true, &t, err);
    if (st != BB_OK) return st;
    uint32_t ne = m->hp.n_expert;
    if (t->ne[0] != n_in || t->ne[1] != n_out || t->ne[2] != ne || t->ne[3] != 1)
        return bb_fail(err, BB_ERR_FORMAT,
                       "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%llu, %llu, %u]",
                       name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                       (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                       (unsigned long long)n_in, (unsigned long long)n_out, ne);
    const bb_type_traits *tt = bb_type_get(t->type);
    if (!tt || !tt->is_weight_type || !tt->vec_dot)
        return bb_fail(err, BB_ERR_UNSUPPORTED,
                       "tensor '%s' has weight type %s (id %u), which beanbag does not support yet",
                       name, tt ? tt->name : "unknown", t->type);
    if (n_in % (uint64_t)tt->block_size != 0)
        return bb_fail(err, BB_ERR_FORMAT,
                       "tensor '%s': row length %llu is not a multiple of the %s block size", name,
                       (unsigned long long)n_in, tt->name);
    size_t row = bb_row_size((int)t->type, (int64_t)n_in);
    for (uint32_t e = 0; e < ne; e++) {
        bb_weight *w = &exps[3 * e + part];
        *w = (bb_weight){.data = (const char *)t->data + (size_t)e * n_out * row,
                         .type = (int)t->type,
                         .n_in = (int64_t)n_in,
                         .n_out = (int64_t)n_out,
                         .row_bytes = row,
                         .tt = tt};
    }
    m->n_params += n_in * n_out * ne;
    m->expert_bytes += t->size;
    return BB_OK;
}

/* An F32 table of ne1 rows of ne0 (gpt-oss's per-expert biases). */
static bb_status bind_table(bb_model *m, const char *name, uint64_t ne0, uint64_t ne1,
                            const float **out, bb_error *err) {
    const gguf_tensor *t;
    bb_status st = find(m, name, true, &t, err);
    if (st != BB_OK) return st;
    if ((st = check_shape(t, ne0, ne1, err))) return st;
    if (t->type != BB_TYPE_F32)
        return bb_fail(err, BB_ERR_UNSUPPORTED, "tensor '%s' must be F32 (type id %u found)", name,
                       t->type);
    if ((uintptr_t)t->data % sizeof(float) != 0)
        return bb_fail(err, BB_ERR_FORMAT, "tensor '%s' data is not 4-byte aligned", name);
    *out = t->data;
    m->n_params += ne0 * ne1;
    m->weight_bytes += t->size;
    return BB_OK;
}

static bb_status bind_experts(bb_model *m, uint32_t il, bb_error *err) {
    const bb_hparams *hp = &m->hp;
    bb_layer *L = &m->layers[il];
    char n[96];
    bb_status st;
    L->exps = calloc((size_t)hp->n_expert * 3, sizeof *L->exps);
    if (!L->exps) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
#define NAME(s) (snprintf(n, sizeof n, "blk.%u." s, il), n)
    if ((st = bind_matrix(m, NAME("ffn_gate_inp.weight"), hp->n_embd, hp->n_expert, true,
                          &L->router, err)) ||
        (st = bind_expert_stack(m, NAME("ffn_gate_exps.weight"), hp->n_embd, hp->n_ff_exp, 0,
                                L->exps, err)) ||
        (st = bind_expert_stack(m, NAME("ffn_up_exps.weight"), hp->n_embd, hp->n_ff_exp, 1, L->exps,
                                err)) ||
        (st = bind_expert_stack(m, NAME("ffn_down_exps.weight"), hp->n_ff_exp, hp->n_embd, 2,
                                L->exps, err)))
        return st;
    if (m->arch->moe_oai &&
        ((st = bind_vector(m, NAME("ffn_gate_inp.bias"), hp->n_expert, true, &L->router_b, err)) ||
         (st = bind_table(m, NAME("ffn_gate_exps.bias"), hp->n_ff_exp, hp->n_expert,
                          &L->gate_exps_b, err)) ||
         (st = bind_table(m, NAME("ffn_up_exps.bias"), hp->n_ff_exp, hp->n_expert, &L->up_exps_b,
                          err)) ||
         (st = bind_table(m, NAME("ffn_down_exps.bias"), hp->n_embd, hp->n_expert, &L->down_exps_b,
                          err))))
        return st;
    if (m->arch->moe_shared && ((st = bind_matrix(m, NAME("ffn_gate_inp_shexp.weight"), hp->n_embd,
                                                  1, true, &L->shexp_gate_inp, err)) ||
                                (st = bind_matrix(m, NAME("ffn_gate_shexp.weight"), hp->n_embd,
                                                  hp->n_ff_shexp, true, &L->shexp_gate, err)) ||
                                (st = bind_matrix(m, NAME("ffn_up_shexp.weight"), hp->n_embd,
                                                  hp->n_ff_shexp, true, &L->shexp_up, err)) ||
                                (st = bind_matrix(m, NAME("ffn_down_shexp.weight"), hp->n_ff_shexp,
                                                  hp->n_embd, true, &L->shexp_down, err))))
        return st;
#undef NAME
    return BB_OK;
}

static bb_status bind_layer(bb_model *m, uint32_t il, bb_error *err) {
#define NAME2(s) (snprintf(n, sizeof n, "blk.%u.%s", il, s), n)
    const bb_hparams *hp = &m->hp;
    bb_layer *L = &m->layers[il];
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim_k;
    uint64_t k_dim = (uint64_t)hp->n_head_kv * hp->head_dim_k;
    uint64_t v_dim = (uint64_t)hp->n_head_kv * hp->head_dim_v;
    uint64_t o_dim = (uint64_t)hp->n_head * hp->head_dim_v;
    char n[96];
    bb_status st;
#define NAME(s) (snprintf(n, sizeof n, "blk.%u." s, il), n)
    if (m->arch->fused_qkv) {
        bb_weight qkv = {0};
        if ((st = bind_matrix(m, NAME("attn_qkv.weight"), hp->n_embd, q_dim + k_dim + v_dim, true,
                              &qkv, err)))
            return st;
        weight_rows(&qkv, 0, (int64_t)q_dim, &L->wq);
        weight_rows(&qkv, (int64_t)q_dim, (int64_t)k_dim, &L->wk);
        weight_rows(&qkv, (int64_t)(q_dim + k_dim), (int64_t)v_dim, &L->wv);
    } else if ((st = bind_matrix(m, NAME("attn_q.weight"), hp->n_embd, q_dim, true, &L->wq, err)) ||
               (st = bind_matrix(m, NAME("attn_k.weight"), hp->n_embd, k_dim, true, &L->wk, err)) ||
               (st = bind_matrix(m, NAME("attn_v.weight"), hp->n_embd, v_dim, true, &L->wv, err)))
        return st;
    if (hp->n_expert > 0) {
        if ((st = bind_experts(m, il, err))) return st;
    } else if (gguf_find_tensor(m->file, NAME("ffn_gate_inp.weight"))) {
        return bb_fail(err, BB_ERR_FORMAT, "'%s' is there but expert_count is not", n);
    } else if (m->arch->fused_gate_up) {
        bb_weight gu = {0};
        if ((st = bind_matrix(m, NAME("ffn_up.weight"), hp->n_embd, 2 * (uint64_t)hp->n_ff, true,
                              &gu, err)))
            return st;
        weight_rows(&gu, 0, hp->n_ff, &L->w_gate);
        weight_rows(&gu, hp->n_ff, hp->n_ff, &L->w_up);
    } else if ((st = bind_matrix(m, NAME("ffn_gate.weight"), hp->n_embd, hp->n_ff, true, &L->w_gate,
                                 err)) ||
               (st = bind_matrix(m, NAME("ffn_up.weight"), hp->n_embd, hp->n_ff, true, &L->w_up,
                                 err)))
        return st;
    if ((st = bind_vector(m, NAME("attn_norm.weight"), hp->n_embd, true, &L->attn_norm, err)) ||
        (st = bind_matrix(m, NAME("attn_output.weight"), o_dim, hp->n_embd, true, &L->wo, err)) ||
        (st = bind_vector(m, m->arch->ffn_norm ? NAME2(m->arch->ffn_norm) : NAME("ffn_norm.weight"),
                          hp->n_embd, true, &L->ffn_norm, err)) ||
        (hp->n_expert == 0 && (st = bind_matrix(m, NAME("ffn_down.weight"), hp->n_ff, hp->n_embd,
                                                true, &L->w_down, err))))
        return st;
    if (m->arch->qkv_bias &&
        ((st = bind_vector(m, NAME("attn_q.bias"), q_dim, true, &L->bq, err)) ||
         (st = bind_vector(m, NAME("attn_k.bias"), k_dim, true, &L->bk, err)) ||
         (st = bind_vector(m, NAME("attn_v.bias"), v_dim, true, &L->bv, err))))
        return st;
    if (m->arch->qk_norm &&
        ((st = bind_vector(m, NAME("attn_q_norm.weight"), hp->head_dim_k, true, &L->q_norm, err)) ||
         (st = bind_vector(m, NAME("attn_k_norm.weight"), hp->head_dim_k, true, &L->k_norm, err))))
        return st;
    if (m->arch->o_bias &&
        (st = bind_vector(m, NAME("attn_output.bias"), hp->n_embd, true, &L->bo, err)))
        return st;
    if (m->arch->sinks &&
        (st = bind_vector(m, NAME("attn_sinks.weight"), hp->n_head, true, &L->sinks, err)))
        return st;
    if (m->arch->post_norms && ((st = bind_vector(m, NAME("post_attention_norm.weight"), hp->n_embd,
                                                  true, &L->post_attn_norm, err)) ||
                                (st = bind_vector(m, NAME("post_ffw_norm.weight"), hp->n_embd, true,
                                                  &L->post_ffn_norm, err))))
        return st;
#undef NAME
#undef NAME2
    return BB_OK;
}

bb_status bb_weights_bind(bb_model *m, bb_error *err) {
    const bb_hparams *hp = &m->hp;
    bb_status st;
    if ((st = bind_matrix(m, "token_embd.weight", hp->n_embd, hp->n_vocab, true, &m->tok_embd,
                          err)) ||
        (st = bind_vector(m, "output_norm.weight", hp->n_embd, true, &m->output_norm, err)) ||
        (st = bind_matrix(m, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output, err)))
        return st;
    m->tied_output = m->output.data == NULL;
    if (m->tied_output) {
        m->output = m->tok_embd;
        m->weight_bytes += bb_row_size(m->tok_embd.type, m->tok_embd.n_in) * hp->n_vocab;
    }
    if ((st = bind_vector(m, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_factors, err)) ||
        (st = bind_vector(m, "rope_factors_long.weight", hp->n_rot / 2, false,
                          &m->rope_factors_long, err)) ||
        (st = bind_vector(m, "rope_factors_short.weight", hp->n_rot / 2, false,
                          &m->rope_factors_short, err)))
        return st;
    if (!m->rope_factors_long != !m->rope_factors_short)
        return bb_fail(err, BB_ERR_FORMAT,
                       "rope_factors_long and rope_factors_short must come together");
    const float *fs[3] = {m->rope_factors, m->rope_factors_long, m->rope_factors_short};
    for (int i = 0; i < 3; i++)
        for (uint32_t j = 0; fs[i] && j < hp->n_rot / 2; j++)
            if (!(fs[i][j] > 0.0f) || !isfinite(fs[i][j]))
                return bb_fail(err, BB_ERR_FORMAT, "RoPE factor %u is %g, must be positive", j,
                               (double)fs[i][j]);
    for (uint32_t il = 0; il < hp->n_layer; il++)
        if ((st = bind_layer(m, il, err))) return st;
    /* a token reads n_expert_used of each layer's n_expert experts */
    if (hp->n_expert > 0) m->weight_bytes += m->expert_bytes / hp->n_expert * hp->n_expert_used;
    /* the embedding table is read one row per token, not streamed: it doesn't count */
    m->weight_bytes -= bb_row_size(m->tok_embd.type, m->tok_embd.n_in) * hp->n_vocab;
    return BB_OK;
}

/* The matrices the forward pass multiplies by: per layer the 7 dense ones, the router, the
 * shared expert's 4 and the experts' 3 each, then the output projection (its own copy of the
 * struct when tied, so repacking it leaves token_embd as mapped). The ones a layer does
 * not have are empty (data NULL). Returns NULL past the end. */
static bb_weight *matrix_at(bb_model *m, uint64_t i) {
    uint64_t per = 12 + 3 * (uint64_t)m->hp.n_expert, n = (uint64_t)m->hp.n_layer * per;
    if (i == n) return &m->output;
    if (!m->layers || i > n) return NULL;
    bb_layer *L = &m->layers[i / per];
    uint64_t j = i % per;
    /* a layer whose load failed before its experts were allocated has none, nor a router
     * (bind_experts binds it after): the empty router stands in for them */
    if (j >= 12) return L->exps ? &L->exps[j - 12] : &L->router;
    bb_weight *lw[12] = {&L->wq,         &L->wk,       &L->wv,
                         &L->wo,         &L->w_gate,   &L->w_up,
                         &L->w_down,     &L->router,   &L->shexp_gate_inp,
                         &L->shexp_gate, &L->shexp_up, &L->shexp_down};
    return lw[j];
}

/* All repacked matrices share one huge-page arena (common/bigalloc.h): decode streams every
 * one of them per token, and one arena wastes at most one partial huge page where a buffer
 * per matrix would round each small K/V projection up to 2 MiB. */
bb_status bb_weights_repack(bb_model *m, bb_error *err) {
    bb_weight *w;
    size_t total = 0;
    for (uint64_t i = 0; (w = matrix_at(m, i)) != NULL; i++) {
        if (!w->data) continue;
        size_t b = bb_weight_packed_bytes(w);
        if (b == SIZE_MAX || total > SIZE_MAX - 64 - b)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "repacked weights overflow memory sizes");
        total += (b + 63) & ~(size_t)63;
    }
    if (total == 0) return BB_OK;
    char *arena = bb_big_alloc(total);
    if (!arena)
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory repacking %zu bytes of weights",
                       total);
    m->packed_arena = arena;
    m->packed_arena_bytes = total;
    size_t off = 0;
    for (uint64_t i = 0; (w = matrix_at(m, i)) != NULL; i++) {
        if (!w->data) continue;
        size_t b = bb_weight_packed_bytes(w);
        if (b == 0) continue;
        bb_weight_repack_into(w, arena + off);
        off += (b + 63) & ~(size_t)63;
        m->repacked_bytes += b;
    }
    return BB_OK;
}

void bb_weights_free_packed(bb_model *m) {
    bb_weight *w;
    for (uint64_t i = 0; (w = matrix_at(m, i)) != NULL; i++)
        w->packed = NULL;
    bb_big_free(m->packed_arena, m->packed_arena_bytes);
    m->packed_arena = NULL;
    m->packed_arena_bytes = 0;
}
