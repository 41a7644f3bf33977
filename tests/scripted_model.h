/* A llama-architecture GGUF whose greedy output is a script: every layer's weights are zero,
 * so the residual stream is the token embedding, the embeddings are one-hot, and the output
 * matrix maps each token to the one that follows it in the script. The next token then
 * depends on the current one only, through the real forward pass, sampler, detokenizer and
 * server; a test chooses the reply by the prompt's last token and, where a token has a
 * second-best successor, by banning the first with logit_bias. The script's pieces are
 * user-defined tokens (their text is parsed out of prompts and shown as is, like Qwen's
 * <tool_call>); the rest of the vocabulary is GPT-2's 256 byte tokens, <|endoftext|>,
 * <|im_start|> and <|im_end|>. Header-only, static functions. */
#ifndef BB_TESTS_SCRIPTED_MODEL_H
#define BB_TESTS_SCRIPTED_MODEL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gguf/gguf.h"
#include "quant/quant.h"
#include "tokenizer/utf8.h"

#define SCRIPT_EMBD 512
#define SCRIPT_MAX_PIECES 128

/* One link: after the token whose text is `from` comes `to` (weight 1), or with weight 0.5
 * a second choice for when the first is banned. "\n" is the byte token for a newline; END
 * is <|im_end|>. */
typedef struct script_link {
    const char *from, *to;
    float weight;
} script_link;

typedef struct script_model {
    const char *pieces[SCRIPT_MAX_PIECES]; /* the user-defined tokens, in id order */
    size_t n_pieces;
    const script_link *links;
    size_t n_links;
    const char *chat_template;
} script_model;

#define SCRIPT_BYTE0 0
#define SCRIPT_EOT 256 /* <|endoftext|> */
#define SCRIPT_IM_START 257
#define SCRIPT_IM_END 258
#define SCRIPT_PIECE0 259

static inline int script_token(const script_model *m, const char *text) {
    if (!strcmp(text, "END")) return SCRIPT_IM_END;
    if (strlen(text) == 1) return (unsigned char)text[0]; /* byte tokens: id = byte */
    for (size_t i = 0; i < m->n_pieces; i++)
        if (!strcmp(m->pieces[i], text)) return SCRIPT_PIECE0 + (int)i;
    return -1;
}

static inline bb_status script_model_write(const script_model *m, const char *path, bb_error *err) {
    size_t nv = SCRIPT_PIECE0 + m->n_pieces, e = SCRIPT_EMBD, f = 64;
    if (nv > e) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "script: too many pieces");
    gguf_writer *w = gguf_writer_new();
    if (!w) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "script: no memory");
    gguf_writer_set_str(w, "general.architecture", "llama");
    gguf_writer_set_str(w, "general.name", "scripted-llama");
    gguf_writer_set_u32(w, "llama.context_length", 2048);
    gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)e);
    gguf_writer_set_u32(w, "llama.block_count", 1);
    gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)f);
    gguf_writer_set_u32(w, "llama.attention.head_count", 8);
    gguf_writer_set_u32(w, "llama.attention.head_count_kv", 8);
    gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)(e / 8));
    gguf_writer_set_str(w, "tokenizer.chat_template", m->chat_template);

    char names[256][5];
    const char *tokens[SCRIPT_EMBD];
    int32_t types[SCRIPT_EMBD];
    for (int b = 0; b < 256; b++) {
        size_t n = bb_utf8_encode(bb_byte_to_cp((uint8_t)b), names[b]);
        names[b][n] = 0;
        tokens[b] = names[b];
        types[b] = 1;
    }
    tokens[SCRIPT_EOT] = "<|endoftext|>";
    tokens[SCRIPT_IM_START] = "<|im_start|>";
    tokens[SCRIPT_IM_END] = "<|im_end|>";
    types[SCRIPT_EOT] = types[SCRIPT_IM_START] = types[SCRIPT_IM_END] = 3;
    for (size_t i = 0; i < m->n_pieces; i++) {
        tokens[SCRIPT_PIECE0 + i] = m->pieces[i];
        types[SCRIPT_PIECE0 + i] = 4; /* user-defined */
    }
    static const char *const merges[] = {"Ġ t"};
    gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_set_str(w, "tokenizer.ggml.pre", "default");
    gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, nv);
    gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, nv);
    gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, 1);
    gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", SCRIPT_EOT);
    gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", SCRIPT_EOT);
    gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false);

    float *embd = calloc(e * nv, sizeof *embd), *out = calloc(e * nv, sizeof *out);
    float *ones = malloc(e * sizeof *ones), *zeros = calloc(e * e, sizeof *zeros);
    bb_status st = embd && out && ones && zeros ? BB_OK : BB_ERR_OUT_OF_MEMORY;
    if (st) bb_fail(err, st, "script: no memory");
    for (size_t i = 0; st == BB_OK && i < e; i++)
        ones[i] = 1.0f;
    for (size_t t = 0; st == BB_OK && t < nv; t++)
        embd[t * e + t] = 1.0f;
    for (size_t i = 0; st == BB_OK && i < m->n_links; i++) {
        int from = script_token(m, m->links[i].from), to = script_token(m, m->links[i].to);
        if (from < 0 || to < 0)
            st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "script: unknown piece in %s -> %s",
                         m->links[i].from, m->links[i].to);
        else
            out[(size_t)to * e + (size_t)from] += m->links[i].weight;
    }
    uint64_t ne[2];
#define SCRIPT_ADD(name, ne0, ne1, data)                                                           \
    if (st == BB_OK) {                                                                             \
        ne[0] = ne0;                                                                               \
        ne[1] = ne1;                                                                               \
        st = gguf_writer_add_tensor(w, name, BB_TYPE_F32, ne1 > 1 ? 2 : 1, ne, data,               \
                                    (size_t)(ne0) * (ne1) * sizeof(float), err);                   \
    }
    SCRIPT_ADD("token_embd.weight", e, nv, embd)
    SCRIPT_ADD("blk.0.attn_norm.weight", e, 1, ones)
    SCRIPT_ADD("blk.0.attn_q.weight", e, e, zeros)
    SCRIPT_ADD("blk.0.attn_k.weight", e, e, zeros)
    SCRIPT_ADD("blk.0.attn_v.weight", e, e, zeros)
    SCRIPT_ADD("blk.0.attn_output.weight", e, e, zeros)
    SCRIPT_ADD("blk.0.ffn_norm.weight", e, 1, ones)
    SCRIPT_ADD("blk.0.ffn_gate.weight", e, f, zeros)
    SCRIPT_ADD("blk.0.ffn_up.weight", e, f, zeros)
    SCRIPT_ADD("blk.0.ffn_down.weight", f, e, zeros)
    SCRIPT_ADD("output_norm.weight", e, 1, ones)
    SCRIPT_ADD("output.weight", e, nv, out)
#undef SCRIPT_ADD
    void *data = NULL;
    size_t size = 0;
    if (st == BB_OK) st = gguf_writer_write_memory(w, &data, &size, err);
    FILE *fp = st == BB_OK ? fopen(path, "wb") : NULL;
    if (st == BB_OK && (!fp || fwrite(data, 1, size, fp) != size))
        st = bb_fail(err, BB_ERR_IO, "cannot write %s", path);
    if (fp && fclose(fp) != 0 && st == BB_OK) st = bb_fail(err, BB_ERR_IO, "cannot write %s", path);
    free(data);
    free(embd);
    free(out);
    free(ones);
    free(zeros);
    gguf_writer_free(w);
    return st;
}

#endif
