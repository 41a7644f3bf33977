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

/* The attention scale, sliding window and soft-caps. Gemma has no GGUF key for its
 * query_pre_attn_scalar: llama.cpp (Feb 2025, src/llama-model.cpp) derives it from the layer
 * count, 1/sqrt(n_embd / n_head) for Gemma-2 27B (46 layers) and Gemma-3 27B (62 layers),
 * 1/sqrt(key_length) otherwise; we follow it. */
static bb_status family_params(const gguf_file *f, const bb_arch *a, bb_hparams *hp,
                               bb_error *err) {
    bb_status st;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    if ((strcmp(a->name, "gemma2") == 0 && hp->n_layer == 46) ||
        (strcmp(a->name, "gemma3") == 0 && hp->n_layer == 62))
        hp->attn_scale = 1.0f / sqrtf((float)(hp->n_embd / hp->n_head));
    if (a->swa != BB_SWA_NONE) {
        if ((st = get_u32(f, a, "attention.sliding_window", true, &hp->sliding_window, err)))
            return st;
        if (hp->sliding_window == 0 || hp->sliding_window > (1u << 30))
            return bb_fail(err, BB_ERR_FORMAT, "attention.sliding_window %u is out of range",
                           hp->sliding_window);
    }
    hp->rope_orig_ctx = hp->n_ctx_train;
    if ((st = get_u32(f, a, "rope.scaling.original_context_length", false, &hp->rope_orig_ctx,
                      err)) ||
        (st = get_f32(f, a, "rope.scaling.attn_factor", false, &hp->rope_attn_factor, err)))
        return st;
    if (hp->rope_orig_ctx == 0 || hp->rope_orig_ctx > MAX_CTX_TRAIN)
        return bb_fail(err, BB_ERR_FORMAT,
                       "rope.scaling.original_context_length %u is out of range",
                       hp->rope_orig_ctx);
    if (!(hp->rope_attn_factor == 0.0f ||
          (hp->rope_attn_factor > 0.0f && hp->rope_attn_factor <= 100.0f)))
        return bb_fail(err, BB_ERR_FORMAT, "rope.scaling.attn_factor %g is out of range (0, 100]",
                       (double)hp->rope_attn_factor);
    /* cos and sin scale: LongRoPE's attn_factor; YaRN's 1 + 0.1 ln(factor) on top (ggml's
     * rope_yarn: mscale *= 1 + 0.1 log(1 / freq_scale)), with its correction dims over the
     * original context, beta_fast 32 and beta_slow 1 (ggml_rope_yarn_corr_dims) */
    hp->rope_mscale = hp->rope_attn_factor;
    if (hp->rope_yarn) {
        float ms = hp->rope_attn_factor > 0.0f ? hp->rope_attn_factor : 1.0f;
        hp->rope_mscale = ms * (1.0f + 0.1f * logf(1.0f / hp->rope_freq_scale));
        float d = (float)hp->n_rot, L = (float)hp->rope_orig_ctx, lb = logf(hp->rope_freq_base);
        float c_fast = d * logf(L / (32.0f * 2.0f * (float)M_PI)) / (2.0f * lb);
        float c_slow = d * logf(L / (1.0f * 2.0f * (float)M_PI)) / (2.0f * lb);
        hp->yarn_lo = fmaxf(0.0f, floorf(c_fast));
        hp->yarn_hi = fminf(d - 1.0f, ceilf(c_slow));
    }
    /* mixture of experts: expert_count marks it (any arch with a gating rule) */
    if ((st = get_u32(f, a, "expert_count", false, &hp->n_expert, err))) return st;
    if (hp->n_expert > 0) {
        hp->n_ff_exp = hp->n_ff;
        if ((st = get_u32(f, a, "expert_used_count", true, &hp->n_expert_used, err)) ||
            (a->moe_ff_key &&
             (st = get_u32(f, a, "expert_feed_forward_length", true, &hp->n_ff_exp, err))) ||
            (a->moe_shared &&
             (st = get_u32(f, a, "expert_shared_feed_forward_length", true, &hp->n_ff_shexp, err))))
            return st;
        if ((st = check_range("expert_count", hp->n_expert, 1, BB_MOE_MAX_EXPERTS, err)) ||
            (st = check_range("expert_used_count", hp->n_expert_used, 1, hp->n_expert, err)) ||
            (st = check_range("expert_feed_forward_length", hp->n_ff_exp, 1, MAX_FF, err)) ||
            (a->moe_shared && (st = check_range("expert_shared_feed_forward_length", hp->n_ff_shexp,
                                                1, MAX_FF, err))))
            return st;
    } else if (a->moe_ff_key) {
        return bb_fail(err, BB_ERR_FORMAT, "%s.expert_count is missing", a->name);
    }
    if (a->softcap) {
        if ((st = get_f32(f, a, "attn_logit_softcapping", false, &hp->attn_softcap, err)) ||
            (st = get_f32(f, a, "final_logit_softcapping", false, &hp->final_softcap, err)))
            return st;
        /* 0 turns a cap off; otherwise keep 1/cap and cap*tanh finite */
        float caps[2] = {hp->attn_softcap, hp->final_softcap};
        for (int i = 0; i < 2; i++)
            if (!(caps[i] == 0.0f || (caps[i] >= 1e-3f && caps[i] <= 1e6f)))
                return bb_fail(err, BB_ERR_FORMAT, "%s %g is out of range (0 or 1e-3..1e6)",
                               i ? "final_logit_softcapping" : "attn_logit_softcapping",
                               (double)caps[i]);
    }
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
    else if (stype.len == 4 && memcmp(stype.data, "yarn", 4) == 0) {
        if (!(factor >= 1.0f && factor <= 1e4f))
            return bb_fail(err, BB_ERR_FORMAT,
                           "YaRN rope.scaling.factor %g is out of range [1, 1e4]", (double)factor);
        hp->rope_yarn = true;
        hp->rope_freq_scale = 1.0f / factor;
    } else if (stype.len > 0 && !(stype.len == 4 && memcmp(stype.data, "none", 4) == 0) &&
               !(stype.len == 6 && memcmp(stype.data, "llama3", 6) == 0)) /* via rope_freqs */
        return bb_fail(err, BB_ERR_UNSUPPORTED, "rope scaling type '%.*s' is not supported",
                       (int)stype.len, stype.data);
    if (!(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f))
        return bb_fail(err, BB_ERR_FORMAT, "layer_norm_rms_epsilon %g is out of range",
                       (double)hp->rms_eps);
    if (!(hp->rope_freq_base > 0.0f) || !isfinite(hp->rope_freq_base))
        return bb_fail(err, BB_ERR_FORMAT, "rope.freq_base %g must be positive and finite",
                       (double)hp->rope_freq_base);
    return family_params(f, a, hp, err);
}
