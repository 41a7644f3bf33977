/* Hyper-parameter validation and the tensor layout of the flat parameter vector. */
#include "train/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"

tr_hparams tr_hparams_default(void) {
    return (tr_hparams){.n_vocab = 512,
                        .n_embd = 256,
                        .n_layer = 4,
                        .n_head = 8,
                        .n_head_kv = 8,
                        .n_ff = 768,
                        .n_ctx = 256,
                        .rope_base = 10000.0f,
                        .norm_eps = 1e-5f,
                        .tied = true};
}

static bool in_range(int32_t v, int32_t lo, int32_t hi) {
    return v >= lo && v <= hi;
}

static bb_status check_hparams(const tr_hparams *hp, bb_error *err) {
    if (!in_range(hp->n_vocab, 2, 1 << 20))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "vocab size %d out of range [2, 1048576]",
                       hp->n_vocab);
    if (!in_range(hp->n_embd, 2, 1 << 14))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "model width %d out of range [2, 16384]",
                       hp->n_embd);
    if (!in_range(hp->n_layer, 1, 256))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "layer count %d out of range [1, 256]",
                       hp->n_layer);
    if (!in_range(hp->n_head, 1, hp->n_embd) || hp->n_embd % hp->n_head ||
        (hp->n_embd / hp->n_head) % 2)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "head count %d must divide the width %d into heads of even size", hp->n_head,
                       hp->n_embd);
    if (!in_range(hp->n_head_kv, 1, hp->n_head) || hp->n_head % hp->n_head_kv)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "KV head count %d must divide head count %d",
                       hp->n_head_kv, hp->n_head);
    if (!in_range(hp->n_ff, 1, 1 << 16))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "feed-forward width %d out of range",
                       hp->n_ff);
    if (!in_range(hp->n_ctx, 2, 1 << 16))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "context length %d out of range [2, 65536]",
                       hp->n_ctx);
    if (!(hp->rope_base > 1.0f) || !(hp->norm_eps > 0.0f) || !(hp->norm_eps < 1.0f))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "RoPE base %g or norm epsilon %g invalid",
                       hp->rope_base, hp->norm_eps);
    return BB_OK;
}

static size_t add_tensor(tr_layout *L, const char *name, int n_in, int n_out, bool matrix) {
    tr_tensor *t = &L->tensors[L->n_tensors++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = L->n_params;
    t->n_in = n_in;
    t->n_out = n_out;
    t->matrix = matrix;
    L->n_params += (size_t)n_in * (size_t)n_out;
    return t->offset;
}

static size_t add_block_tensor(tr_layout *L, int layer, const char *what, int n_in, int n_out,
                               bool matrix) {
    char name[40];
    snprintf(name, sizeof name, "blk.%d.%s.weight", layer, what);
    return add_tensor(L, name, n_in, n_out, matrix);
}

bb_status tr_layout_init(tr_layout *L, const tr_hparams *hp, bb_error *err) {
    memset(L, 0, sizeof *L);
    bb_status st = check_hparams(hp, err);
    if (st != BB_OK) return st;
    /* Bound the parameter count before laying out: each tensor's size below fits easily
     * in size_t once the total does. */
    uint64_t d = (uint64_t)hp->n_embd, per_layer = 0, total = 0;
    uint64_t kv = d / (uint64_t)hp->n_head * (uint64_t)hp->n_head_kv;
    per_layer = 2 * d + 2 * d * d + 2 * kv * d + 3 * d * (uint64_t)hp->n_ff;
    if (!bb_mul_u64(per_layer, (uint64_t)hp->n_layer, &total) ||
        !bb_add_u64(total, (hp->tied ? 1 : 2) * (uint64_t)hp->n_vocab * d + d, &total) ||
        total > ((uint64_t)1 << 32))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "model too large to train (%llu params)",
                       (unsigned long long)total);
    L->hp = *hp;
    L->head_dim = hp->n_embd / hp->n_head;
    L->kv_dim = L->head_dim * hp->n_head_kv;
    L->tensors = calloc((size_t)hp->n_layer * 9 + 3, sizeof *L->tensors);
    L->layers = calloc((size_t)hp->n_layer, sizeof *L->layers);
    if (!L->tensors || !L->layers) {
        tr_layout_free(L);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the model layout");
    }
    int n = hp->n_embd, f = hp->n_ff;
    L->embd = add_tensor(L, "token_embd.weight", n, hp->n_vocab, true);
    for (int l = 0; l < hp->n_layer; l++) {
        tr_layer_offsets *o = &L->layers[l];
        o->attn_norm = add_block_tensor(L, l, "attn_norm", n, 1, false);
        o->wq = add_block_tensor(L, l, "attn_q", n, n, true);
        o->wk = add_block_tensor(L, l, "attn_k", n, L->kv_dim, true);
        o->wv = add_block_tensor(L, l, "attn_v", n, L->kv_dim, true);
        o->wo = add_block_tensor(L, l, "attn_output", n, n, true);
        o->ffn_norm = add_block_tensor(L, l, "ffn_norm", n, 1, false);
        o->wg = add_block_tensor(L, l, "ffn_gate", n, f, true);
        o->wu = add_block_tensor(L, l, "ffn_up", n, f, true);
        o->wd = add_block_tensor(L, l, "ffn_down", f, n, true);
    }
    L->out_norm = add_tensor(L, "output_norm.weight", n, 1, false);
    L->output = hp->tied ? L->embd : add_tensor(L, "output.weight", n, hp->n_vocab, true);
    return BB_OK;
}

void tr_layout_free(tr_layout *L) {
    free(L->tensors);
    free(L->layers);
    memset(L, 0, sizeof *L);
}

const tr_tensor *tr_layout_find(const tr_layout *L, const char *name) {
    for (int i = 0; i < L->n_tensors; i++)
        if (!strcmp(L->tensors[i].name, name)) return &L->tensors[i];
    return NULL;
}
