/* bench/gen_model: writes a llama-shaped GGUF with random F16 weights and a synthetic
 * SentencePiece vocab, for benchmarks (`beanbag quantize` then `beanbag bench`).
 * Default shape: the ~1.1B TinyLlama layout (dim 2048, 22 layers, 32 heads, 4 KV heads,
 * ffn 5632, vocab 32000).
 *
 *   gen_model out.gguf [--dim 2048 --layers 22 --heads 32 --kv-heads 4 --ffn 5632
 *                       --vocab 32000 --seed 1] [--vocab-from tokenizer.gguf]
 *
 * --vocab-from copies the tokenizer.* metadata of a real vocabulary (e.g.
 * ../shared/testdata/tokenizer/ggml-vocab-llama-spm.gguf, Llama 2's 32000 tokens), so that
 * text tokenizes as it would for a real model: server benchmarks then see realistic prompt
 * lengths instead of one token per byte.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"
#include "quant/quant.h"

static uint64_t rng_state = 1;

static float uniform(void) { /* [-1, 1), xorshift64* */
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return (float)(((x * 0x2545F4914F6CDD1DULL) >> 40) * (2.0 / 16777216.0) - 1.0);
}

#define MAX_TENSORS 1024
static void *keep[MAX_TENSORS];
static int n_keep;

static int add(gguf_writer *w, const char *name, bool matrix, uint64_t ne0, uint64_t ne1,
               float scale) {
    uint64_t ne[2] = {ne0, ne1};
    size_t n = (size_t)(ne0 * ne1);
    size_t bytes = n * (matrix ? 2 : 4);
    void *data = malloc(bytes);
    if (!data || n_keep == MAX_TENSORS) return -1;
    keep[n_keep++] = data;
    if (matrix)
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)data)[i] = bb_fp32_to_fp16(scale * uniform());
    else
        for (size_t i = 0; i < n; i++)
            ((float *)data)[i] = 1.0f + 0.1f * uniform();
    bb_error err = {0};
    if (gguf_writer_add_tensor(w, name, matrix ? BB_TYPE_F16 : BB_TYPE_F32, matrix ? 2 : 1, ne,
                               data, bytes, &err)) {
        fprintf(stderr, "gen_model: %s\n", err.message);
        return -1;
    }
    return 0;
}

static void vocab(gguf_writer *w, int n_vocab) {
    char **toks = malloc((size_t)n_vocab * sizeof *toks);
    float *scores = malloc((size_t)n_vocab * sizeof *scores);
    int32_t *types = malloc((size_t)n_vocab * sizeof *types);
    for (int i = 0; i < n_vocab; i++) {
        toks[i] = malloc(24);
        scores[i] = -(float)i;
        types[i] = 1;
        if (i == 0)
            strcpy(toks[i], "<unk>"), types[i] = 2;
        else if (i == 1)
            strcpy(toks[i], "<s>"), types[i] = 3;
        else if (i == 2)
            strcpy(toks[i], "</s>"), types[i] = 3;
        else if (i < 259)
            snprintf(toks[i], 24, "<0x%02X>", i - 3), types[i] = 6;
        else
            snprintf(toks[i], 24, "\xe2\x96\x81t%d", i);
    }
    gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)toks, (size_t)n_vocab);
    gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, (size_t)n_vocab);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (size_t)n_vocab);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    for (int i = 0; i < n_vocab; i++)
        free(toks[i]);
    free(toks);
    free(scores);
    free(types);
}

int main(int argc, char **argv) {
    long dim = 2048, layers = 22, heads = 32, kv_heads = 4, ffn = 5632, n_vocab = 32000;
    const char *out = NULL, *vocab_from = NULL;
    for (int i = 1; i < argc; i++) {
        long *dst = NULL;
        if (!strcmp(argv[i], "--vocab-from") && i + 1 < argc) {
            vocab_from = argv[++i];
            continue;
        }
        if (!strcmp(argv[i], "--dim"))
            dst = &dim;
        else if (!strcmp(argv[i], "--layers"))
            dst = &layers;
        else if (!strcmp(argv[i], "--heads"))
            dst = &heads;
        else if (!strcmp(argv[i], "--kv-heads"))
            dst = &kv_heads;
        else if (!strcmp(argv[i], "--ffn"))
            dst = &ffn;
        else if (!strcmp(argv[i], "--vocab"))
            dst = &n_vocab;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            rng_state = strtoull(argv[++i], NULL, 10) | 1;
            continue;
        } else if (!out && argv[i][0] != '-') {
            out = argv[i];
            continue;
        }
        if (!dst || i + 1 >= argc || (*dst = strtol(argv[++i], NULL, 10)) <= 0 || *dst > 1 << 20) {
            fprintf(stderr, "gen_model: bad argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!out || dim % heads || heads % kv_heads || n_vocab < 260) {
        fprintf(stderr, "usage: gen_model out.gguf [--dim --layers --heads --kv-heads --ffn "
                        "--vocab --seed]\n");
        return 2;
    }
    long hd = dim / heads;
    gguf_writer *w = gguf_writer_new();
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "beanbag-bench-random");
    gguf_writer_set_u32(w, "general.file_type", 1);
    gguf_writer_set_u32(w, "llama.context_length", 2048);
    gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)dim);
    gguf_writer_set_u32(w, "llama.block_count", (uint32_t)layers);
    gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)ffn);
    gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)heads);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)kv_heads);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    gguf_file *vf = NULL;
    if (vocab_from) {
        bb_error verr = {0};
        if (gguf_open(vocab_from, &vf, &verr) != BB_OK) {
            fprintf(stderr, "gen_model: %s\n", verr.message);
            return 1;
        }
        int64_t ti = gguf_find_key(vf, "tokenizer.ggml.tokens");
        if (ti < 0 || gguf_arr_n(vf, ti) > (uint64_t)n_vocab) {
            fprintf(stderr, "gen_model: %s has no tokenizer.ggml.tokens of at most %ld entries\n",
                    vocab_from, n_vocab);
            return 1;
        }
        for (int64_t i = 0; i < gguf_n_kv(vf); i++)
            if (!strncmp(gguf_key(vf, i), "tokenizer.", 10)) gguf_writer_copy_kv(w, vf, i);
    } else {
        vocab(w, (int)n_vocab);
    }
    float s = 1.0f / sqrtf((float)dim);
    int rc = add(w, "token_embd.weight", true, dim, n_vocab, 1.0f);
    rc |= add(w, "output_norm.weight", false, dim, 1, 0);
    rc |= add(w, "output.weight", true, dim, n_vocab, s);
    for (long l = 0; l < layers && rc == 0; l++) {
        char n[64];
#define T(suffix, m, a, b, sc)                                                                     \
    do {                                                                                           \
        snprintf(n, sizeof n, "blk.%ld." suffix, l);                                               \
        rc |= add(w, n, m, a, b, sc);                                                              \
    } while (0)
        T("attn_norm.weight", false, dim, 1, 0);
        T("attn_q.weight", true, dim, dim, s);
        T("attn_k.weight", true, dim, kv_heads * hd, s);
        T("attn_v.weight", true, dim, kv_heads * hd, s);
        T("attn_output.weight", true, dim, dim, s);
        T("ffn_norm.weight", false, dim, 1, 0);
        T("ffn_gate.weight", true, dim, ffn, s);
        T("ffn_up.weight", true, dim, ffn, s);
        T("ffn_down.weight", true, ffn, dim, 1.0f / sqrtf((float)ffn));
#undef T
    }
    bb_error err = {0};
    if (rc == 0 && gguf_writer_write(w, out, &err) != BB_OK) {
        fprintf(stderr, "gen_model: %s\n", err.message);
        rc = 1;
    }
    gguf_writer_free(w);
    gguf_close(vf);
    for (int i = 0; i < n_keep; i++)
        free(keep[i]);
    return rc ? 1 : 0;
}
