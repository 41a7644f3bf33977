/* Binds the weight tensors of the mapped GGUF file, checking every name, shape and type
 * against the hyper-parameters so the forward pass can index without further checks.
 * Tensor names follow llama.cpp's (token_embd, blk.N.attn_q, ...). */
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

static bb_status bind_layer(bb_model *m, uint32_t il, bb_error *err) {
    const bb_hparams *hp = &m->hp;
    bb_layer *L = &m->layers[il];
    uint64_t q_dim = (uint64_t)hp->n_head * hp->head_dim_k;
    uint64_t k_dim = (uint64_t)hp->n_head_kv * hp->head_dim_k;
    uint64_t v_dim = (uint64_t)hp->n_head_kv * hp->head_dim_v;
    uint64_t o_dim = (uint64_t)hp->n_head * hp->head_dim_v;
    char n[96];
    bb_status st;
#define NAME(s) (snprintf(n, sizeof n, "blk.%u." s, il), n)
    if ((st = bind_vector(m, NAME("attn_norm.weight"), hp->n_embd, true, &L->attn_norm, err)) ||
        (st = bind_matrix(m, NAME("attn_q.weight"), hp->n_embd, q_dim, true, &L->wq, err)) ||
        (st = bind_matrix(m, NAME("attn_k.weight"), hp->n_embd, k_dim, true, &L->wk, err)) ||
        (st = bind_matrix(m, NAME("attn_v.weight"), hp->n_embd, v_dim, true, &L->wv, err)) ||
        (st = bind_matrix(m, NAME("attn_output.weight"), o_dim, hp->n_embd, true, &L->wo, err)) ||
        (st = bind_vector(m, NAME("ffn_norm.weight"), hp->n_embd, true, &L->ffn_norm, err)) ||
        (st = bind_matrix(m, NAME("ffn_gate.weight"), hp->n_embd, hp->n_ff, true, &L->w_gate,
                          err)) ||
        (st = bind_matrix(m, NAME("ffn_up.weight"), hp->n_embd, hp->n_ff, true, &L->w_up, err)) ||
        (st = bind_matrix(m, NAME("ffn_down.weight"), hp->n_ff, hp->n_embd, true, &L->w_down, err)))
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
#undef NAME
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
    if ((st = bind_vector(m, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_factors, err)))
        return st;
    for (uint32_t il = 0; il < hp->n_layer; il++)
        if ((st = bind_layer(m, il, err))) return st;
    /* the embedding table is read one row per token, not streamed: it doesn't count */
    m->weight_bytes -= bb_row_size(m->tok_embd.type, m->tok_embd.n_in) * hp->n_vocab;
    return BB_OK;
}

/* The matrices the forward pass multiplies by: 7 per layer, then the output projection
 * (its own copy of the struct when tied, so repacking it leaves token_embd as mapped).
 * Returns NULL past the end. */
static bb_weight *matrix_at(bb_model *m, uint64_t i) {
    if (i == (uint64_t)m->hp.n_layer * 7) return &m->output;
    if (!m->layers || i > (uint64_t)m->hp.n_layer * 7) return NULL;
    bb_layer *L = &m->layers[i / 7];
    bb_weight *lw[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
    return lw[i % 7];
}

/* All repacked matrices share one huge-page arena (common/bigalloc.h): decode streams every
 * one of them per token, and one arena wastes at most one partial huge page where a buffer
 * per matrix would round each small K/V projection up to 2 MiB. */
bb_status bb_weights_repack(bb_model *m, bb_error *err) {
    bb_weight *w;
    size_t total = 0;
    for (uint64_t i = 0; (w = matrix_at(m, i)) != NULL; i++) {
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
