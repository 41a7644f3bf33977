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
typedef struct bb_arch {
    const char *name;
    int rope_style; /* BB_ROPE_NORM or BB_ROPE_NEOX */
    bool qkv_bias;  /* qwen2: biases on the Q, K and V projections */
    bool qk_norm;   /* qwen3: RMSNorm over each head of Q and K before RoPE */
} bb_arch;

const bb_arch *bb_arch_find(const char *name, size_t len);
const char *bb_arch_supported_list(void);

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
    float rope_freq_scale; /* 1 / rope.scaling.factor for linear scaling */
} bb_hparams;

typedef struct bb_layer {
    const float *attn_norm;
    bb_weight wq, wk, wv, wo;
    const float *bq, *bk, *bv;    /* qwen2 */
    const float *q_norm, *k_norm; /* qwen3, head_dim_k floats */
    const float *ffn_norm;
    bb_weight w_gate, w_up, w_down;
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
    bb_layer *layers;
    char *name;
    char *chat_template;
    uint64_t n_params;
    uint64_t weight_bytes;
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
