/* The architectures we run, as descriptions over the one forward pass in forward.c.
 * Adding a llama-like family is a row here (and its metadata quirks in hparams.c). */
#include <string.h>

#include "model/model.h"

static const bb_arch archs[] = {
    /* Llama 2/3, Mistral, TinyLlama, SmolLM: GGUF stores Q/K permuted for adjacent-pair RoPE */
    {"llama", BB_ROPE_NORM, false, false},
    /* Qwen2/2.5: biases on Q, K, V; NeoX (split-half) RoPE */
    {"qwen2", BB_ROPE_NEOX, true, false},
    /* Qwen3: per-head RMSNorm on Q and K, no QKV bias; NeoX RoPE */
    {"qwen3", BB_ROPE_NEOX, false, true},
};

const bb_arch *bb_arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strlen(archs[i].name) == len && memcmp(archs[i].name, name, len) == 0) return &archs[i];
    return NULL;
}

const char *bb_arch_supported_list(void) {
    return "llama, qwen2, qwen3";
}
