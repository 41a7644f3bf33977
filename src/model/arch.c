/* The architectures we run, as descriptions over the one forward pass in forward.c.
 * Adding a llama-like family is a row here (and its metadata quirks in hparams.c). */
#include <string.h>

#include "model/model.h"

static const bb_arch archs[] = {
    /* Llama 2/3, Mistral, TinyLlama, SmolLM: GGUF stores Q/K permuted for adjacent-pair RoPE */
    {.name = "llama", .rope_style = BB_ROPE_NORM, .moe_gating = BB_MOE_SOFTMAX_NORM}, /* Mixtral */
    /* Qwen2/2.5: biases on Q, K, V; NeoX (split-half) RoPE */
    {.name = "qwen2", .rope_style = BB_ROPE_NEOX, .qkv_bias = true},
    /* Qwen3: per-head RMSNorm on Q and K, no QKV bias; NeoX RoPE */
    {.name = "qwen3", .rope_style = BB_ROPE_NEOX, .qk_norm = true},
    /* Qwen1.5/2-MoE: qwen2 with experts, softmax top-k weights as they are, plus a shared
     * expert */
    {.name = "qwen2moe",
     .rope_style = BB_ROPE_NEOX,
     .qkv_bias = true,
     .moe_gating = BB_MOE_SOFTMAX,
     .moe_ff_key = true,
     .moe_shared = true},
    /* Qwen3-MoE (30B-A3B, 235B-A22B): qwen3 with experts, top-k weights renormalized */
    {.name = "qwen3moe",
     .rope_style = BB_ROPE_NEOX,
     .qk_norm = true,
     .moe_gating = BB_MOE_SOFTMAX_NORM,
     .moe_ff_key = true},
    /* Gemma 2 (arXiv:2408.00118): embeddings scaled by sqrt(n_embd), GELU-gated FFN, RMSNorm
     * of each block's output before the residual, soft-capped attention scores and logits,
     * sliding-window attention on the even layers */
    {.name = "gemma2",
     .rope_style = BB_ROPE_NEOX,
     .ffn_act = BB_ACT_GELU,
     .post_norms = true,
     .embd_scale = true,
     .softcap = true,
     .swa = BB_SWA_EVEN},
    /* Gemma 3 (arXiv:2503.19786): Gemma 2 without soft-capping, with QK-norm; five local
     * (sliding-window, RoPE base 10000) layers to each global one */
    {.name = "gemma3",
     .rope_style = BB_ROPE_NEOX,
     .qk_norm = true,
     .ffn_act = BB_ACT_GELU,
     .post_norms = true,
     .embd_scale = true,
     .swa = BB_SWA_5_1,
     .local_rope_base = 10000.0f},
    /* Phi-3/3.5/4-mini: fused QKV and gate/up matrices, NeoX RoPE (LongRoPE factors from the
     * file). attention.sliding_window is not applied, as in llama.cpp since April 2025. */
    {.name = "phi3", .rope_style = BB_ROPE_NEOX, .fused_qkv = true, .fused_gate_up = true},
    /* gpt-oss (OpenAI 2025): biases on Q/K/V/O, attention sinks, sliding window on the even
     * layers, experts chosen on the router logits with biased, clamped SwiGLU experts */
    {.name = "gpt-oss",
     .rope_style = BB_ROPE_NEOX,
     .qkv_bias = true,
     .o_bias = true,
     .sinks = true,
     .swa = BB_SWA_EVEN,
     .moe_gating = BB_MOE_TOPK_SOFTMAX,
     .moe_ff_key = true,
     .moe_oai = true,
     .ffn_norm = "post_attention_norm.weight"},
};

const bb_arch *bb_arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strlen(archs[i].name) == len && memcmp(archs[i].name, name, len) == 0) return &archs[i];
    return NULL;
}

const char *bb_arch_supported_list(void) {
    return "llama (and Mixtral-style MoE), qwen2, qwen3, qwen2moe, qwen3moe, gemma2, gemma3, phi3, "
           "gpt-oss";
}

bool bb_arch_layer_local(const bb_arch *a, uint32_t il) {
    switch (a->swa) {
    case BB_SWA_EVEN:
        return il % 2 == 0;
    case BB_SWA_5_1:
        return (il + 1) % 6 != 0;
    default:
        return false;
    }
}
