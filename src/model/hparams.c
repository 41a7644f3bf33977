/* Hyper-parameters from GGUF metadata. Keys follow llama.cpp's naming,
 * "<arch>.<name>" (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md#llm). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"
#include "ops/attention.h"

static bb_status get_u32(const gguf_file *f, const bb_arch *a, const char *name, bool required,
                         uint32_t *out, bb_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", a->name, name);
    return gguf_get_u32(f, key, required, out, err);
}

static bb_status get_f32(const gguf_file *f, const bb_arch *a, const char *name, bool required,
                         float *out, bb_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", a->name, name);
    return gguf_get_f32(f, key, required, out, err);
}

/* Upper bounds that keep every derived size far from overflow and reject nonsense early. */
#define MAX_EMBD (1u << 16)
#define MAX_LAYERS 1024u
#define MAX_HEADS 1024u
#define MAX_FF (1u << 20)
/* Positions are int32 and a context's cache is sized from this: 16 Mi tokens is beyond every
 * released model (10 Mi) and keeps n_ctx * n_embd * layers products far from overflow. */
#define MAX_CTX_TRAIN (1u << 24)

static bb_status check_range(const char *what, uint32_t v, uint32_t lo, uint32_t hi,
                             bb_error *err) {
    if (v < lo || v > hi)
        return bb_fail(err, BB_ERR_FORMAT, "%s = %u is out of range [%u, %u]", what, v, lo, hi);
    return BB_OK;
}

bb_status bb_hparams_load(const gguf_file *f, const bb_arch *a, bb_hparams *hp, bb_error *err) {
    bb_status st;
    *hp = (bb_hparams){0};
    hp->n_ctx_train = 2048;
    hp->rms_eps = 1e-5f;
    hp->rope_freq_base = 10000.0f;
    hp->rope_freq_scale = 1.0f;
    if ((st = get_u32(f, a, "context_length", false, &hp->n_ctx_train, err)) ||
        (st = get_u32(f, a, "embedding_length", true, &hp->n_embd, err)) ||
        (st = get_u32(f, a, "block_count", true, &hp->n_layer, err)) ||
        (st = get_u32(f, a, "feed_forward_length", true, &hp->n_ff, err)) ||
        (st = get_u32(f, a, "attention.head_count", true, &hp->n_head, err)))
        return st;
    hp->n_head_kv = hp->n_head;
    if ((st = get_u32(f, a, "attention.head_count_kv", false, &hp->n_head_kv, err)) ||
        (st = get_f32(f, a, "attention.layer_norm_rms_epsilon", false, &hp->rms_eps, err)) ||
        (st = get_f32(f, a, "rope.freq_base", false, &hp->rope_freq_base, err)))
        return st;
    /* context_length may be left out (2048 then), but a given one must be usable: 0 used to
     * be taken for "absent" and a model that states no context at all ran as 2048. */
    if ((st = check_range("context_length", hp->n_ctx_train, 1, MAX_CTX_TRAIN, err)) ||
        (st = check_range("embedding_length", hp->n_embd, 1, MAX_EMBD, err)) ||
        (st = check_range("block_count", hp->n_layer, 1, MAX_LAYERS, err)) ||
        (st = check_range("feed_forward_length", hp->n_ff, 1, MAX_FF, err)) ||
        (st = check_range("attention.head_count", hp->n_head, 1, MAX_HEADS, err)) ||
        (st = check_range("attention.head_count_kv", hp->n_head_kv, 1, hp->n_head, err)))
        return st;
    if (hp->n_head % hp->n_head_kv != 0)
        return bb_fail(err, BB_ERR_FORMAT,
                       "attention.head_count %u is not a multiple of head_count_kv %u", hp->n_head,
                       hp->n_head_kv);
    hp->head_dim_k = hp->n_embd / hp->n_head;
    if (hp->n_embd % hp->n_head != 0) hp->head_dim_k = 0; /* must then be given explicitly */
    if ((st = get_u32(f, a, "attention.key_length", false, &hp->head_dim_k, err))) return st;
    if (hp->head_dim_k == 0)
        return bb_fail(err, BB_ERR_FORMAT,
                       "embedding_length %u is not a multiple of attention.head_count %u, and "
                       "attention.key_length does not give the head size",
                       hp->n_embd, hp->n_head);
    hp->head_dim_v = hp->head_dim_k;
    if ((st = get_u32(f, a, "attention.value_length", false, &hp->head_dim_v, err))) return st;
    if ((st = check_range("attention.key_length", hp->head_dim_k, 2, BB_ATTN_MAX_HEAD_DIM, err)) ||
        (st = check_range("attention.value_length", hp->head_dim_v, 1, BB_ATTN_MAX_HEAD_DIM, err)))
        return st;
    hp->n_rot = hp->head_dim_k;
    if ((st = get_u32(f, a, "rope.dimension_count", false, &hp->n_rot, err))) return st;
    if (hp->n_rot < 2 || hp->n_rot > hp->head_dim_k || hp->n_rot % 2 != 0)
        return bb_fail(err, BB_ERR_FORMAT, "rope.dimension_count %u must be even, in [2, %u]",
                       hp->n_rot, hp->head_dim_k);
    float factor = 0.0f;
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a->name);
    gguf_string stype = {0};
    if ((st = gguf_get_str(f, key, false, &stype, err))) return st;
    if ((st = get_f32(f, a, "rope.scaling.factor", false, &factor, err))) return st;
    if (!isfinite(factor) || factor < 0.0f)
        return bb_fail(err, BB_ERR_FORMAT, "rope.scaling.factor %g is out of range",
                       (double)factor);
    if (stype.len == 6 && memcmp(stype.data, "linear", 6) == 0 && factor > 0.0f)
        hp->rope_freq_scale = 1.0f / factor;
    else if (stype.len > 0 && !(stype.len == 4 && memcmp(stype.data, "none", 4) == 0) &&
             !(stype.len == 6 && memcmp(stype.data, "llama3", 6) == 0)) /* via rope_freqs */
        return bb_fail(err, BB_ERR_UNSUPPORTED, "rope scaling type '%.*s' is not supported",
                       (int)stype.len, stype.data);
    if (!(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f))
        return bb_fail(err, BB_ERR_FORMAT, "layer_norm_rms_epsilon %g is out of range",
                       (double)hp->rms_eps);
    if (!(hp->rope_freq_base > 0.0f) || !isfinite(hp->rope_freq_base))
        return bb_fail(err, BB_ERR_FORMAT, "rope.freq_base %g must be positive and finite",
                       (double)hp->rope_freq_base);
    return BB_OK;
}
