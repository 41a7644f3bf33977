/* Internal model structures: hyper-parameters read from GGUF metadata, the architecture
 * description, and the weight tensors bound in place in the mapping. */
#ifndef BB_MODEL_H
#define BB_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "beanbag.h"
#include "gguf/gguf.h"
#include "ops/matmul.h"
#include "ops/ops.h"

/* What distinguishes one architecture's forward pass from another's: the forward pass is
 * written once and reads these flags (see arch.c for the table). */
enum bb_ffn_act { BB_ACT_SILU = 0, BB_ACT_GELU = 1 };
/* How a mixture-of-experts layer weighs its top-k experts (moe.c): the softmax over all
 * experts' router logits, kept as they are (qwen2moe) or renormalized over the k chosen
 * (llama/Mixtral, qwen3moe). */
#define BB_MOE_MAX_EXPERTS 1024 /* expert_count's bound (hparams.c) */
enum bb_moe_gating { BB_MOE_SOFTMAX = 0, BB_MOE_SOFTMAX_NORM, BB_MOE_TOPK_SOFTMAX };
/* BB_MOE_TOPK_SOFTMAX (gpt-oss): the top k of the router logits (+ bias), weighted by the
 * softmax over those k. */
/* Which layers attend through the sliding window (attention.sliding_window), the others
 * seeing the whole sequence: none, the even ones (Gemma 2), all but every sixth (Gemma 3). */
enum bb_swa_pattern { BB_SWA_NONE = 0, BB_SWA_EVEN, BB_SWA_5_1 };

typedef struct bb_arch {
    const char *name;
    int rope_style;        /* BB_ROPE_NORM or BB_ROPE_NEOX */
    bool qkv_bias;         /* qwen2: biases on the Q, K and V projections */
    bool qk_norm;          /* qwen3, gemma3: RMSNorm over each head of Q and K before RoPE */
    int ffn_act;           /* the gate's activation: SwiGLU (silu) or GeGLU (tanh GELU) */
    bool post_norms;       /* gemma: RMSNorm of the attention and FFN outputs (post_attention_norm,
                              post_ffw_norm) before they join the residual */
    bool embd_scale;       /* gemma: embeddings times sqrt(n_embd) */
    bool softcap;          /* gemma2: attn_logit_softcapping, final_logit_softcapping */
    int swa;               /* enum bb_swa_pattern */
    float local_rope_base; /* > 0: the sliding-window layers' RoPE base, no scaling (gemma3) */
    bool fused_qkv;        /* phi3: one attn_qkv matrix, rows [Q | K | V] */
    bool fused_gate_up;    /* phi3: ffn_up holds rows [gate | up] */
    int moe_gating;        /* enum bb_moe_gating, for files with expert_count */
    bool moe_ff_key;       /* expert width from expert_feed_forward_length (else the FFN's) */
    bool moe_shared;       /* qwen2moe: a shared expert gated by sigmoid(ffn_gate_inp_shexp) */
    bool moe_oai;          /* gpt-oss: router and expert biases, clamped SwiGLU (moe.c) */
    bool o_bias;           /* gpt-oss: a bias on the attention output projection */
    bool sinks;            /* gpt-oss: attn_sinks, a sink logit per head */
    const char *ffn_norm;  /* the pre-FFN norm's name when not ffn_norm (gpt-oss) */
} bb_arch;

const bb_arch *bb_arch_find(const char *name, size_t len);
const char *bb_arch_supported_list(void);
/* Whether layer il is a sliding-window ("local") layer of its architecture. */
bool bb_arch_layer_local(const bb_arch *a, uint32_t il);

typedef struct bb_hparams {
    uint32_t n_vocab;
    uint32_t n_ctx_train;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t n_ff;
    uint32_t head_dim_k; /* key_length: n_embd / n_head unless given */
    uint32_t head_dim_v;
    uint32_t n_rot; /* rope.dimension_count: head_dim_k unless given */
    float rms_eps;
    float rope_freq_base;
    float rope_freq_scale;   /* 1 / rope.scaling.factor for linear scaling */
    float attn_scale;        /* applied to q.k: 1/sqrt(key_length), or the family's rule */
    uint32_t sliding_window; /* attention.sliding_window of the local layers, 0: none */
    float attn_softcap;      /* attn_logit_softcapping, 0: none */
    float final_softcap;     /* final_logit_softcapping, 0: none */
    uint32_t rope_orig_ctx;  /* rope.scaling.original_context_length, or context_length */
    float rope_attn_factor;  /* rope.scaling.attn_factor, 0: none */
    bool rope_yarn;          /* rope.scaling.type yarn, with rope_freq_scale 1 / factor */
    float yarn_lo, yarn_hi;  /* its correction dims (ops.h) */
    float rope_mscale;       /* what cos and sin are multiplied by, 0: nothing */
    uint32_t n_expert;       /* expert_count: 0 for a dense model */
    uint32_t n_expert_used;  /* expert_used_count, the k of top-k */
    uint32_t n_ff_exp;       /* one expert's width */
    uint32_t n_ff_shexp;     /* the shared expert's width (qwen2moe) */
} bb_hparams;

typedef struct bb_layer {
    const float *attn_norm;
    bb_weight wq, wk, wv, wo;
    const float *bq, *bk, *bv;    /* qwen2 */
    const float *q_norm, *k_norm; /* qwen3, head_dim_k floats */
    const float *ffn_norm;
    bb_weight w_gate, w_up, w_down;
    const float *post_attn_norm, *post_ffn_norm; /* gemma */
    /* mixture of experts (moe.c): the router (n_embd -> n_expert), then each expert's
     * gate, up and down as views of its slice of ffn_{gate,up,down}_exps: exps[3 e + 0..2] */
    bb_weight router;
    bb_weight *exps;
    bb_weight shexp_gate_inp, shexp_gate, shexp_up, shexp_down; /* qwen2moe */
    /* gpt-oss: router bias (n_expert), expert biases (n_expert rows of n_ff_exp, n_ff_exp,
     * n_embd), output-projection bias, sink logits (n_head) */
    const float *router_b, *gate_exps_b, *up_exps_b, *down_exps_b, *bo, *sinks;
} bb_layer;

struct bb_model {
    gguf_file *file;
    bb_vocab *vocab;
    const bb_arch *arch;
    bool vocab_only;
    bb_hparams hp;
    bb_weight tok_embd;
    const float *output_norm;
    bb_weight output; /* tok_embd when tied */
    bool tied_output;
    const float *rope_factors; /* Llama-3 rope_freqs.weight, or NULL */
    /* LongRoPE (Phi-3): rope_factors_long/short.weight, n_rot/2 each, or NULL; a context
     * longer than rope_orig_ctx uses the long ones (forward.c) */
    const float *rope_factors_long, *rope_factors_short;
    bb_layer *layers;
    char *name;
    char *chat_template;
    uint64_t n_params;
    uint64_t weight_bytes;   /* read per token: a MoE's experts count n_expert_used / n_expert */
    uint64_t expert_bytes;   /* all experts' matrices (MoE), the memory they take */
    uint64_t repacked_bytes; /* memory held by repacked copies of the matrices */
    void *packed_arena;      /* where they live (common/bigalloc.h), or NULL */
    size_t packed_arena_bytes;
};

/* model/hparams.c */
bb_status bb_hparams_load(const gguf_file *f, const bb_arch *arch, bb_hparams *hp, bb_error *err);
/* model/weights.c */
bb_status bb_weights_bind(bb_model *m, bb_error *err);
/* Repacks every matrix the forward pass multiplies by (ops/matmul.h), and frees them. */
bb_status bb_weights_repack(bb_model *m, bb_error *err);
void bb_weights_free_packed(bb_model *m);

#endif
