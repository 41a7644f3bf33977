/*
 * The llama model as the trainer sees it: hyper-parameters, the layout of all weights in
 * one flat parameter vector (in GGUF tensor order, with GGUF names), and the per-sequence
 * forward and backward pass (model_impl.h, instantiated for float32 and float64).
 *
 * Architecture (Touvron et al. 2023): token embedding; per block x += Wo·attn(rope(Wq·n),
 * rope(Wk·n), Wv·n) with n = rmsnorm(x), then x += Wd·(silu(Wg·n') * Wu·n') with
 * n' = rmsnorm(x); a final rmsnorm and the output projection (tied to the embedding or
 * not). Positions of a sequence start at 0.
 */
#ifndef BB_TRAIN_MODEL_H
#define BB_TRAIN_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

typedef struct tr_hparams {
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
    float rope_base, norm_eps;
    bool tied; /* output projection shares token_embd */
} tr_hparams;

typedef struct tr_tensor {
    char name[40]; /* GGUF tensor name */
    size_t offset; /* into the flat parameter vector */
    int n_in;      /* GGUF ne[0]: the contiguous dimension */
    int n_out;     /* GGUF ne[1]; 1 for a norm's weight vector */
    bool matrix;   /* 2-D: decayed by AdamW and transposed for the forward pass */
} tr_tensor;

typedef struct tr_layer_offsets {
    size_t attn_norm, wq, wk, wv, wo, ffn_norm, wg, wu, wd;
} tr_layer_offsets;

typedef struct tr_layout {
    tr_hparams hp;
    int head_dim, kv_dim;
    size_t n_params;
    int n_tensors;
    tr_tensor *tensors;
    tr_layer_offsets *layers;
    size_t embd, out_norm, output; /* output == embd when tied */
} tr_layout;

/* Validates the hyper-parameters (positive, divisible heads, even head size, sane sizes)
 * and lays the tensors out. Free with tr_layout_free. */
bb_status tr_layout_init(tr_layout *L, const tr_hparams *hp, bb_error *err);
void tr_layout_free(tr_layout *L);
const tr_tensor *tr_layout_find(const tr_layout *L, const char *name); /* or NULL */

/* Default hyper-parameters of `beanbag train` before options. */
tr_hparams tr_hparams_default(void);

#define R float
#define TR(name) tr_##name##_f32
#include "train/model_api.h"
#undef R
#undef TR

#define R double
#define TR(name) tr_##name##_f64
#include "train/model_api.h"
#undef R
#undef TR

#endif
