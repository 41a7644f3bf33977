/* Builds small random-weight models as GGUF images with the project's own writer, for tests
 * that must run without ../shared: llama (GQA, tied or untied), qwen2 (QKV bias, NeoX RoPE),
 * qwen3 (QK-norm), gemma2 (post-norms, soft-caps, sliding window), gemma3 (post-norms,
 * QK-norm, sliding window), phi3 (fused QKV and gate/up, LongRoPE) and mixture-of-experts
 * (FIXTURE_EXPERTS experts, top FIXTURE_EXPERTS_USED or one more with qwen2moe's shared one)
 * shapes, weights in any type
 * we can quantize to. */
#ifndef BB_TESTS_MODEL_FIXTURE_H
#define BB_TESTS_MODEL_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "testutil.h"

#define FIXTURE_EXPERTS 6
#define FIXTURE_EXPERTS_USED 2

typedef struct fixture_spec {
    /* "llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", or a mixture of experts:
     * "qwen2moe", "qwen3moe", "mixtral" (a llama file with experts), "gpt-oss" */
    const char *arch;
    int n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, head_dim;
    int weight_type; /* type of the 2-D weights */
    bool tied;
    float rope_base;
    uint64_t seed;
    bool rope_freqs; /* write Llama-3 style rope_freqs.weight factors */
    /* gemma: attention.sliding_window; gemma2: attn_logit_softcapping and
     * final_logit_softcapping (0: not written) */
    int sliding_window;
    float attn_softcap, final_softcap;
    /* phi3: rope.scaling.original_context_length (LongRoPE factors and attn_factor 1.19 are
     * always written; a context longer than this takes the long factors); other families:
     * > 0 writes YaRN scaling, factor 4 over this original context */
    int rope_orig_ctx;
} fixture_spec;

/* Keeps the tensor data alive until the image is written. */
typedef struct fixture_bufs {
    void *p[512];
    int n;
} fixture_bufs;

static void *fx_keep(fixture_bufs *b, void *p) {
    if (b->n < 512) b->p[b->n++] = p;
    return p;
}

static void fx_add(gguf_writer *w, fixture_bufs *bufs, const char *name, int type, uint64_t ne0,
                   uint64_t ne1, float scale, float offset, uint64_t *rng) {
    uint64_t ne[2] = {ne0, ne1};
    size_t n = (size_t)(ne0 * ne1);
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = offset + scale * tu_rand_uniform(rng);
    void *data = f;
    size_t bytes = n * sizeof(float);
    if (type != BB_TYPE_F32) {
        bytes = bb_row_size(type, (int64_t)ne0) * ne1;
        data = malloc(bytes);
        for (uint64_t r = 0; r < ne1; r++)
            bb_type_get_ref(type)->from_float(
                f + r * ne0, (char *)data + r * bb_row_size(type, (int64_t)ne0), (int64_t)ne0);
        free(f);
    }
    fx_keep(bufs, data);
    bb_error err = {0};
    if (gguf_writer_add_tensor(w, name, (uint32_t)type, ne1 > 1 ? 2 : 1, ne, data, bytes, &err))
        fprintf(stderr, "fixture: %s\n", err.message);
}

/* A stack of ne2 matrices (ggml ne = {ne0, ne1, ne2}: experts), each row quantized. */
static void fx_add3(gguf_writer *w, fixture_bufs *bufs, const char *name, int type, uint64_t ne0,
                    uint64_t ne1, uint64_t ne2, float scale, uint64_t *rng) {
    uint64_t ne[3] = {ne0, ne1, ne2};
    size_t rows = (size_t)(ne1 * ne2), rb = bb_row_size(type, (int64_t)ne0);
    float *f = malloc((size_t)ne0 * sizeof *f);
    char *data = fx_keep(bufs, malloc(rows * rb));
    for (size_t r = 0; r < rows; r++) {
        for (uint64_t i = 0; i < ne0; i++)
            f[i] = scale * tu_rand_uniform(rng);
        bb_type_get_ref(type)->from_float(f, data + r * rb, (int64_t)ne0);
    }
    free(f);
    bb_error err = {0};
    if (gguf_writer_add_tensor(w, name, (uint32_t)type, 3, ne, data, rows * rb, &err))
        fprintf(stderr, "fixture: %s\n", err.message);
}

/* A SentencePiece-style vocab: <unk>, <s>, </s>, the 256 byte tokens, then "▁a".."▁z" and
 * filler pieces up to n_vocab. */
static void fx_vocab(gguf_writer *w, int n_vocab) {
    char **toks = malloc((size_t)n_vocab * sizeof *toks);
    float *scores = malloc((size_t)n_vocab * sizeof *scores);
    int32_t *types = malloc((size_t)n_vocab * sizeof *types);
    for (int i = 0; i < n_vocab; i++) {
        toks[i] = malloc(16);
        scores[i] = -(float)i;
        types[i] = 1;
        if (i == 0)
            strcpy(toks[i], "<unk>"), types[i] = 2;
        else if (i == 1)
            strcpy(toks[i], "<s>"), types[i] = 3;
        else if (i == 2)
            strcpy(toks[i], "</s>"), types[i] = 3;
        else if (i < 3 + 256)
            snprintf(toks[i], 16, "<0x%02X>", i - 3), types[i] = 6;
        else if (i < 3 + 256 + 26)
            snprintf(toks[i], 16, "\xe2\x96\x81%c", 'a' + (i - 259));
        else
            snprintf(toks[i], 16, "x%d", i);
    }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, (size_t)n_vocab);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (size_t)n_vocab);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (size_t)n_vocab);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    for (int i = 0; i < n_vocab; i++)
        free(toks[i]);
    free(toks);
    free(scores);
    free(types);
}

static void fx_meta_u32(gguf_writer *w, const char *arch, const char *name, uint32_t v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, name);
    gguf_writer_set_u32(w, key, v);
}

/* Writes the model into a malloc'd GGUF image (free with free()). */
static bool fixture_build(const fixture_spec *s, void **data, size_t *size) {
    gguf_writer *w = gguf_writer_new();
    fixture_bufs bufs = {0};
    uint64_t rng = s->seed ? s->seed : 1;
    int hd = s->head_dim ? s->head_dim : s->n_embd / s->n_head;
    bool mixtral = !strcmp(s->arch, "mixtral"), qwen2moe = !strcmp(s->arch, "qwen2moe");
    bool gptoss = !strcmp(s->arch, "gpt-oss");
    bool moe = mixtral || qwen2moe || gptoss || !strcmp(s->arch, "qwen3moe");
    const char *a = mixtral ? "llama" : s->arch;
    /* experts as wide as the FFN for mixtral, half of it for the Qwen MoEs */
    uint64_t ffe = mixtral ? (uint64_t)s->n_ff : (uint64_t)s->n_ff / 2;
    char key[128];
    gguf_writer_set_str(w, "general.architecture", a);
    gguf_writer_set_str(w, "general.name", "fixture");
    fx_meta_u32(w, a, "context_length", 512);
    fx_meta_u32(w, a, "embedding_length", (uint32_t)s->n_embd);
    fx_meta_u32(w, a, "block_count", (uint32_t)s->n_layer);
    fx_meta_u32(w, a, "feed_forward_length", (uint32_t)s->n_ff);
    if (moe) {
        fx_meta_u32(w, a, "expert_count", FIXTURE_EXPERTS);
        fx_meta_u32(w, a, "expert_used_count", FIXTURE_EXPERTS_USED + qwen2moe);
        if (!mixtral) fx_meta_u32(w, a, "expert_feed_forward_length", (uint32_t)ffe);
        if (qwen2moe) fx_meta_u32(w, a, "expert_shared_feed_forward_length", (uint32_t)s->n_ff);
    }
    fx_meta_u32(w, a, "attention.head_count", (uint32_t)s->n_head);
    fx_meta_u32(w, a, "attention.head_count_kv", (uint32_t)s->n_head_kv);
    if (s->head_dim) fx_meta_u32(w, a, "attention.key_length", (uint32_t)hd);
    if (s->head_dim) fx_meta_u32(w, a, "attention.value_length", (uint32_t)hd);
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
    gguf_writer_set_f32(w, key, 1e-5f);
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    gguf_writer_set_f32(w, key, s->rope_base > 0 ? s->rope_base : 10000.0f);
    if (s->sliding_window)
        fx_meta_u32(w, a, "attention.sliding_window", (uint32_t)s->sliding_window);
    if (s->attn_softcap > 0) {
        snprintf(key, sizeof key, "%s.attn_logit_softcapping", a);
        gguf_writer_set_f32(w, key, s->attn_softcap);
    }
    if (s->final_softcap > 0) {
        snprintf(key, sizeof key, "%s.final_logit_softcapping", a);
        gguf_writer_set_f32(w, key, s->final_softcap);
    }
    bool gemma = !strncmp(a, "gemma", 5), phi3 = !strcmp(a, "phi3");
    if (!phi3 && s->rope_orig_ctx > 0) {
        fx_meta_u32(w, a, "rope.scaling.original_context_length", (uint32_t)s->rope_orig_ctx);
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        gguf_writer_set_str(w, key, "yarn");
        snprintf(key, sizeof key, "%s.rope.scaling.factor", a);
        gguf_writer_set_f32(w, key, 4.0f);
    }
    if (phi3) {
        fx_meta_u32(w, a, "rope.scaling.original_context_length", (uint32_t)s->rope_orig_ctx);
        snprintf(key, sizeof key, "%s.rope.scaling.attn_factor", a);
        gguf_writer_set_f32(w, key, 1.19f);
        /* long factors 1..8 across the pairs, short ones 1..1.5, as Phi-3's grow */
        uint64_t ne[1] = {(uint64_t)hd / 2};
        float *fl = fx_keep(&bufs, malloc((size_t)hd / 2 * sizeof *fl));
        float *fs = fx_keep(&bufs, malloc((size_t)hd / 2 * sizeof *fs));
        for (int i = 0; i < hd / 2; i++) {
            fl[i] = 1.0f + 7.0f * (float)i / (float)(hd / 2);
            fs[i] = 1.0f + 0.5f * (float)i / (float)(hd / 2);
        }
        bb_error e = {0};
        gguf_writer_add_tensor(w, "rope_factors_long.weight", BB_TYPE_F32, 1, ne, fl,
                               (size_t)hd / 2 * sizeof *fl, &e);
        gguf_writer_add_tensor(w, "rope_factors_short.weight", BB_TYPE_F32, 1, ne, fs,
                               (size_t)hd / 2 * sizeof *fs, &e);
    }
    fx_vocab(w, s->n_vocab);
    int wt = s->weight_type;
    float ws = 0.5f / sqrtf((float)s->n_embd) * 1.7f;
    fx_add(w, &bufs, "token_embd.weight", wt, (uint64_t)s->n_embd, (uint64_t)s->n_vocab, 1.0f, 0,
           &rng);
    fx_add(w, &bufs, "output_norm.weight", BB_TYPE_F32, (uint64_t)s->n_embd, 1, 0.2f, 1.0f, &rng);
    if (s->rope_freqs) {
        /* factors 1..4 across the rotated pairs, as Llama-3's long-context scaling has */
        uint64_t ne[1] = {(uint64_t)hd / 2};
        float *fr = fx_keep(&bufs, malloc((size_t)hd / 2 * sizeof *fr));
        for (int i = 0; i < hd / 2; i++)
            fr[i] = 1.0f + 3.0f * (float)i / (float)(hd / 2);
        bb_error e = {0};
        gguf_writer_add_tensor(w, "rope_freqs.weight", BB_TYPE_F32, 1, ne, fr,
                               (size_t)hd / 2 * sizeof *fr, &e);
    }
    if (!s->tied)
        fx_add(w, &bufs, "output.weight", wt, (uint64_t)s->n_embd, (uint64_t)s->n_vocab, ws * 4, 0,
               &rng);
    uint64_t qd = (uint64_t)s->n_head * hd, kd = (uint64_t)s->n_head_kv * hd;
    for (int l = 0; l < s->n_layer; l++) {
        char n[96];
#define T(suffix, type, ne0, ne1, scale, off)                                                      \
    (snprintf(n, sizeof n, "blk.%d." suffix, l),                                                   \
     fx_add(w, &bufs, n, type, ne0, ne1, scale, off, &rng))
        T("attn_norm.weight", BB_TYPE_F32, (uint64_t)s->n_embd, 1, 0.2f, 1.0f);
        if (phi3) {
            T("attn_qkv.weight", wt, (uint64_t)s->n_embd, qd + 2 * kd, ws * 3, 0);
        } else {
            T("attn_q.weight", wt, (uint64_t)s->n_embd, qd, ws * 3, 0);
            T("attn_k.weight", wt, (uint64_t)s->n_embd, kd, ws * 3, 0);
            T("attn_v.weight", wt, (uint64_t)s->n_embd, kd, ws, 0);
        }
        T("attn_output.weight", wt, qd, (uint64_t)s->n_embd, ws, 0);
        if (!strcmp(a, "qwen2") || qwen2moe || gptoss) {
            T("attn_q.bias", BB_TYPE_F32, qd, 1, 0.3f, 0);
            T("attn_k.bias", BB_TYPE_F32, kd, 1, 0.3f, 0);
            T("attn_v.bias", BB_TYPE_F32, kd, 1, 0.3f, 0);
        }
        if (!strcmp(a, "qwen3") || !strcmp(a, "gemma3") || !strcmp(a, "qwen3moe")) {
            T("attn_q_norm.weight", BB_TYPE_F32, (uint64_t)hd, 1, 0.2f, 1.0f);
            T("attn_k_norm.weight", BB_TYPE_F32, (uint64_t)hd, 1, 0.2f, 1.0f);
        }
        if (gptoss) {
            T("attn_output.bias", BB_TYPE_F32, (uint64_t)s->n_embd, 1, 0.3f, 0);
            T("attn_sinks.weight", BB_TYPE_F32, (uint64_t)s->n_head, 1, 3.0f, 0);
        }
        /* gpt-oss calls its pre-FFN norm post_attention_norm */
        if (gptoss)
            T("post_attention_norm.weight", BB_TYPE_F32, (uint64_t)s->n_embd, 1, 0.2f, 1.0f);
        else
            T("ffn_norm.weight", BB_TYPE_F32, (uint64_t)s->n_embd, 1, 0.2f, 1.0f);
        if (moe) {
            uint64_t E = FIXTURE_EXPERTS, ne = (uint64_t)s->n_embd;
            T("ffn_gate_inp.weight", BB_TYPE_F32, ne, E, ws * 8, 0);
            fx_add3(w, &bufs, (snprintf(n, sizeof n, "blk.%d.ffn_gate_exps.weight", l), n), wt, ne,
                    ffe, E, ws * 2, &rng);
            fx_add3(w, &bufs, (snprintf(n, sizeof n, "blk.%d.ffn_up_exps.weight", l), n), wt, ne,
                    ffe, E, ws * 2, &rng);
            fx_add3(w, &bufs, (snprintf(n, sizeof n, "blk.%d.ffn_down_exps.weight", l), n), wt, ffe,
                    ne, E, ws * 2, &rng);
            if (gptoss) {
                T("ffn_gate_inp.bias", BB_TYPE_F32, E, 1, 0.5f, 0);
                T("ffn_gate_exps.bias", BB_TYPE_F32, ffe, E, 0.5f, 0);
                T("ffn_up_exps.bias", BB_TYPE_F32, ffe, E, 0.5f, 0);
                T("ffn_down_exps.bias", BB_TYPE_F32, ne, E, 0.2f, 0);
            }
            if (qwen2moe) {
                T("ffn_gate_inp_shexp.weight", wt, ne, 1, ws * 4, 0);
                T("ffn_gate_shexp.weight", wt, ne, (uint64_t)s->n_ff, ws * 2, 0);
                T("ffn_up_shexp.weight", wt, ne, (uint64_t)s->n_ff, ws * 2, 0);
                T("ffn_down_shexp.weight", wt, (uint64_t)s->n_ff, ne, ws, 0);
            }
        } else if (phi3) {
            T("ffn_up.weight", wt, (uint64_t)s->n_embd, 2 * (uint64_t)s->n_ff, ws * 2, 0);
        } else {
            T("ffn_gate.weight", wt, (uint64_t)s->n_embd, (uint64_t)s->n_ff, ws * 2, 0);
            T("ffn_up.weight", wt, (uint64_t)s->n_embd, (uint64_t)s->n_ff, ws * 2, 0);
        }
        if (!moe) T("ffn_down.weight", wt, (uint64_t)s->n_ff, (uint64_t)s->n_embd, ws, 0);
        if (gemma) {
            T("post_attention_norm.weight", BB_TYPE_F32, (uint64_t)s->n_embd, 1, 0.2f, 1.0f);
            T("post_ffw_norm.weight", BB_TYPE_F32, (uint64_t)s->n_embd, 1, 0.2f, 1.0f);
        }
#undef T
    }
    bb_error err = {0};
    bool ok = gguf_writer_write_memory(w, data, size, &err) == BB_OK;
    if (!ok) fprintf(stderr, "fixture: %s\n", err.message);
    gguf_writer_free(w);
    for (int i = 0; i < bufs.n; i++)
        free(bufs.p[i]);
    return ok;
}

#endif
