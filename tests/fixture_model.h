/* A tiny random-weight llama model in GGUF, generated in the test so that tests need no
 * downloads (header-only, static functions). Tensor names and metadata follow llama.cpp's
 * llama architecture; the tokenizer is byte-level BPE ("gpt2", pre "default"): the 256 byte
 * tokens in GPT-2's byte-to-character mapping, a few merges, then <|endoftext|> (BOS/EOS),
 * <|im_start|> and <|im_end|> as control tokens. All weights are F32. */
#ifndef BB_TESTS_FIXTURE_MODEL_H
#define BB_TESTS_FIXTURE_MODEL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gguf/gguf.h"
#include "quant/quant.h"
#include "testutil.h"
#include "tokenizer/utf8.h"

typedef struct fixture_model_params {
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train;
    uint64_t seed;
    bool chat_template; /* ship a ChatML tokenizer.chat_template */
} fixture_model_params;

static inline fixture_model_params fixture_model_default(void) {
    return (fixture_model_params){.n_embd = 64,
                                  .n_layer = 2,
                                  .n_head = 4,
                                  .n_head_kv = 2,
                                  .n_ff = 128,
                                  .n_ctx_train = 4096,
                                  .seed = 0x5eed,
                                  .chat_template = true};
}

static const char *const fixture_merges[] = {"Ġ t",   "h e", "i n", "e r", "a n",
                                             "Ġt he", "o n", "Ġ a", "r e", "Ġ s"};
static const char *const fixture_merged[] = {"Ġt",   "he", "in", "er", "an",
                                             "Ġthe", "on", "Ġa", "re", "Ġs"};
#define FIXTURE_N_MERGES (sizeof fixture_merges / sizeof fixture_merges[0])
#define FIXTURE_N_VOCAB (256 + FIXTURE_N_MERGES + 3)
#define FIXTURE_EOS (FIXTURE_N_VOCAB - 3) /* <|endoftext|> */
#define FIXTURE_IM_START (FIXTURE_N_VOCAB - 2)
#define FIXTURE_IM_END (FIXTURE_N_VOCAB - 1)

static const char fixture_chatml[] =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\\n' }}{% endif %}";

/* n floats uniform in [-scale, scale). */
static inline float *fixture_tensor(size_t n, float scale, uint64_t *rng) {
    float *t = malloc(n * sizeof *t);
    for (size_t i = 0; t && i < n; i++)
        t[i] = scale * tu_rand_uniform(rng);
    return t;
}

static inline float *fixture_ones(size_t n) {
    float *t = malloc(n * sizeof *t);
    for (size_t i = 0; t && i < n; i++)
        t[i] = 1.0f;
    return t;
}

static inline void fixture_vocab(gguf_writer *w, char names[256][5]) {
    const char *tokens[FIXTURE_N_VOCAB];
    int32_t types[FIXTURE_N_VOCAB];
    for (int b = 0; b < 256; b++) {
        size_t n = bb_utf8_encode(bb_byte_to_cp((uint8_t)b), names[b]);
        names[b][n] = 0;
        tokens[b] = names[b];
        types[b] = 1; /* normal */
    }
    for (size_t i = 0; i < FIXTURE_N_MERGES; i++) {
        tokens[256 + i] = fixture_merged[i];
        types[256 + i] = 1;
    }
    tokens[FIXTURE_EOS] = "<|endoftext|>";
    tokens[FIXTURE_IM_START] = "<|im_start|>";
    tokens[FIXTURE_IM_END] = "<|im_end|>";
    types[FIXTURE_EOS] = types[FIXTURE_IM_START] = types[FIXTURE_IM_END] = 3; /* control */
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "default");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, FIXTURE_N_VOCAB);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, FIXTURE_N_VOCAB);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", fixture_merges, FIXTURE_N_MERGES);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", FIXTURE_EOS);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", FIXTURE_EOS);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false);
}

static inline void fixture_hparams(gguf_writer *w, const fixture_model_params *p) {
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "fixture-llama");
    gguf_writer_set_u32(w, "llama.context_length", p->n_ctx_train);
    gguf_writer_set_u32(w, "llama.embedding_length", p->n_embd);
    gguf_writer_set_u32(w, "llama.block_count", p->n_layer);
    gguf_writer_set_u32(w, "llama.feed_forward_length", p->n_ff);
    gguf_writer_set_u32(w, "llama.attention.head_count", p->n_head);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", p->n_head_kv);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    gguf_writer_set_u32(w, "llama.rope.dimension_count", p->n_embd / p->n_head);
    if (p->chat_template) gguf_writer_set_str(w, "tokenizer.chat_template", fixture_chatml);
}

typedef struct fixture_tensors {
    float *data[512];
    size_t n;
} fixture_tensors;

static inline bb_status fixture_add(gguf_writer *w, fixture_tensors *ts, const char *name,
                                    uint64_t ne0, uint64_t ne1, float *data, bb_error *err) {
    if (!data || ts->n == 512) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "fixture: no memory");
    ts->data[ts->n++] = data;
    uint64_t ne[2] = {ne0, ne1};
    return gguf_writer_add_tensor(w, name, BB_TYPE_F32, ne1 > 1 ? 2 : 1, ne, data,
                                  (size_t)(ne0 * ne1) * sizeof(float), err);
}

/* Builds the model into a new malloc'd GGUF image (free with free()). */
static inline bb_status fixture_model_build(const fixture_model_params *p, void **data,
                                            size_t *size, bb_error *err) {
    gguf_writer *w = gguf_writer_new();
    if (!w) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "fixture: no memory");
    char names[256][5];
    fixture_hparams(w, p);
    fixture_vocab(w, names);
    fixture_tensors ts = {0};
    uint64_t rng = p->seed | 1;
    uint64_t e = p->n_embd, v = FIXTURE_N_VOCAB, f = p->n_ff, kv = e / p->n_head * p->n_head_kv;
    float se = 1.0f / sqrtf((float)e), sf = 1.0f / sqrtf((float)f);
    bb_status st =
        fixture_add(w, &ts, "token_embd.weight", e, v, fixture_tensor(e * v, 1, &rng), err);
    for (uint32_t l = 0; st == BB_OK && l < p->n_layer; l++) {
        char name[64];
#define FIXTURE_ADD(suffix, ne0, ne1, init)                                                        \
    if (st == BB_OK) {                                                                             \
        snprintf(name, sizeof name, "blk.%u." suffix ".weight", l);                                \
        st = fixture_add(w, &ts, name, ne0, ne1, init, err);                                       \
    }
        FIXTURE_ADD("attn_norm", e, 1, fixture_ones(e))
        FIXTURE_ADD("attn_q", e, e, fixture_tensor(e * e, se, &rng))
        FIXTURE_ADD("attn_k", e, kv, fixture_tensor(e * kv, se, &rng))
        FIXTURE_ADD("attn_v", e, kv, fixture_tensor(e * kv, se, &rng))
        FIXTURE_ADD("attn_output", e, e, fixture_tensor(e * e, se, &rng))
        FIXTURE_ADD("ffn_norm", e, 1, fixture_ones(e))
        FIXTURE_ADD("ffn_gate", e, f, fixture_tensor(e * f, se, &rng))
        FIXTURE_ADD("ffn_up", e, f, fixture_tensor(e * f, se, &rng))
        FIXTURE_ADD("ffn_down", f, e, fixture_tensor(f * e, sf, &rng))
#undef FIXTURE_ADD
    }
    if (st == BB_OK) st = fixture_add(w, &ts, "output_norm.weight", e, 1, fixture_ones(e), err);
    /* Wide logits (std ~ 2) so greedy choices are far from ties. */
    if (st == BB_OK)
        st =
            fixture_add(w, &ts, "output.weight", e, v, fixture_tensor(e * v, 3.5f * se, &rng), err);
    if (st == BB_OK) st = gguf_writer_write_memory(w, data, size, err);
    for (size_t i = 0; i < ts.n; i++)
        free(ts.data[i]);
    gguf_writer_free(w);
    return st;
}

/* Writes the model to a file. */
static inline bb_status fixture_model_write(const fixture_model_params *p, const char *path,
                                            bb_error *err) {
    void *data = NULL;
    size_t size = 0;
    bb_status st = fixture_model_build(p, &data, &size, err);
    if (st != BB_OK) return st;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size)
        st = bb_fail(err, BB_ERR_IO, "cannot write %s", path);
    if (f && fclose(f) != 0 && st == BB_OK) st = bb_fail(err, BB_ERR_IO, "cannot write %s", path);
    free(data);
    return st;
}

#endif
