/*
 * beanbag.h — the one public C API of beanbag, an LLM inference engine.
 *
 * Conventions:
 *  - Every handle is opaque; the function that creates it names the function that frees it.
 *  - Functions that can fail return bb_status and, when given a non-NULL bb_error, write a
 *    message there that names what was wrong. The caller owns the bb_error.
 *  - Memory returned through a `char **` or `bb_token **` out-parameter is owned by the caller
 *    and released with bb_free().
 */
#ifndef BEANBAG_H
#define BEANBAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BB_VERSION "0.1.0"

/* ---------------------------------------------------------------- errors */

typedef enum bb_status {
    BB_OK = 0,
    BB_ERR_INVALID_ARGUMENT, /* the caller passed something out of range */
    BB_ERR_IO,               /* a file could not be opened, read, mapped or written */
    BB_ERR_FORMAT,           /* a file or document is malformed */
    BB_ERR_UNSUPPORTED,      /* well-formed, but an architecture/type we do not run */
    BB_ERR_OUT_OF_MEMORY,
    BB_ERR_NO_SPACE, /* the KV cache has no room for the batch */
    BB_ERR_TEMPLATE, /* a chat template failed or called raise_exception */
    BB_ERR_CANCELLED,
    BB_ERR_INTERNAL,
} bb_status;

typedef struct bb_error {
    bb_status code;
    char message[512];
} bb_error;

const char *bb_status_name(bb_status status);
void bb_free(void *ptr);

/* ---------------------------------------------------------------- models */

typedef int32_t bb_token;
typedef struct bb_model bb_model;
typedef struct bb_vocab bb_vocab;
typedef struct bb_context bb_context;
typedef struct bb_sampler bb_sampler;

typedef struct bb_model_params {
    bool vocab_only; /* load only metadata and tokenizer (no tensors needed) */
    /* only the GGUF key-value pairs and tensor table, nothing else read or checked: to show
     * what a file holds (bb_model_describe) when it cannot be loaded otherwise */
    bool metadata_only;
} bb_model_params;

bb_model_params bb_model_default_params(void);

/* Maps the GGUF file read-only; weights are used in place. */
bb_status bb_model_load(const char *path, const bb_model_params *params, bb_model **out,
                        bb_error *err);
/* Same, over a GGUF image in memory that the caller keeps alive until bb_model_free. */
bb_status bb_model_load_from_memory(const void *data, size_t size, const bb_model_params *params,
                                    bb_model **out, bb_error *err);
void bb_model_free(bb_model *model);

const bb_vocab *bb_model_vocab(const bb_model *model);
const char *bb_model_arch(const bb_model *model);          /* "llama", "qwen2", "qwen3" */
const char *bb_model_name(const bb_model *model);          /* general.name or "" */
const char *bb_model_chat_template(const bb_model *model); /* NULL when the file has none */
int32_t bb_model_n_vocab(const bb_model *model);           /* logits per output row */
int32_t bb_model_n_embd(const bb_model *model);
int32_t bb_model_n_layer(const bb_model *model);
int32_t bb_model_n_ctx_train(const bb_model *model);
uint64_t bb_model_n_params(const bb_model *model);
uint64_t bb_model_weight_bytes(const bb_model *model); /* bytes read per forward token */
/* Extra memory held by matrices repacked at load into interleaved row groups (0 when none
 * are: BB_REPACK=0, or no layout for the weight types at this CPU level). */
uint64_t bb_model_repacked_bytes(const bb_model *model);
/* Human-readable description of metadata and the tensor table, for `beanbag info`. */
bb_status bb_model_describe(const bb_model *model, char **out, bb_error *err);

/* ---------------------------------------------------------------- contexts */

typedef struct bb_context_params {
    uint32_t n_ctx;     /* KV cache capacity in tokens, shared by all sequences */
    uint32_t n_batch;   /* most tokens one bb_decode call may carry */
    uint32_t n_seq_max; /* sequence ids are 0 .. n_seq_max-1 */
    int32_t n_threads;  /* <= 0: one per online CPU */
    bool prefix_cache;  /* share cached prompt prefixes between sequences (default true) */
} bb_context_params;

bb_context_params bb_context_default_params(void);
bb_status bb_context_new(bb_model *model, const bb_context_params *params, bb_context **out,
                         bb_error *err);
void bb_context_free(bb_context *ctx);
uint32_t bb_context_n_ctx(const bb_context *ctx);
int32_t bb_context_n_threads(const bb_context *ctx);

/* A batch: token i belongs to sequence seq_id[i] at position pos[i]; logits[i] != 0 asks
 * for its output row. Positions of one sequence must continue that sequence's cache. */
typedef struct bb_batch {
    int32_t n_tokens;
    int32_t capacity;
    bb_token *token;
    int32_t *pos;
    int32_t *seq_id;
    int8_t *logits;
} bb_batch;

bb_batch bb_batch_new(int32_t capacity); /* capacity 0 on allocation failure */
void bb_batch_free(bb_batch *batch);
void bb_batch_clear(bb_batch *batch);
bool bb_batch_add(bb_batch *batch, bb_token token, int32_t pos, int32_t seq_id, bool logits);

/* Runs the forward pass over the batch. BB_ERR_NO_SPACE leaves the cache unchanged. */
bb_status bb_decode(bb_context *ctx, const bb_batch *batch, bb_error *err);
/* Logits (bb_model_n_vocab floats) of batch entry i of the last bb_decode; NULL if not requested.
 */
const float *bb_get_logits(const bb_context *ctx, int32_t i);

/* KV cache: remove positions [p0, p1) of a sequence (p1 < 0: to the end). */
bb_status bb_kv_seq_rm(bb_context *ctx, int32_t seq_id, int32_t p0, int32_t p1, bb_error *err);
int32_t bb_kv_seq_len(const bb_context *ctx, int32_t seq_id); /* next position */
uint32_t bb_kv_free_tokens(const bb_context *ctx);            /* tokens that still fit */
/* Prefix cache: fills the empty sequence seq_id with the longest cached prefix of
 * tokens[0..n) (at most n - 1 positions, so the last token is computed and gives logits) and
 * returns the positions filled; 0 when nothing matches or the cache is off. */
int32_t bb_kv_seq_reuse_prefix(bb_context *ctx, int32_t seq_id, const bb_token *tokens, int32_t n);
/* Positions of such a prefix that sit in blocks a sequence already holds (free to share). */
int32_t bb_kv_prefix_held(const bb_context *ctx, const bb_token *tokens, int32_t n);
typedef struct bb_kv_prefix_info {
    uint64_t cached_blocks;    /* full blocks in the prefix table */
    uint64_t evictable_blocks; /* of those, held by no sequence */
    uint64_t evictions;        /* cached blocks reclaimed for new content so far */
    uint32_t block_tokens;     /* positions per block */
} bb_kv_prefix_info;
void bb_kv_prefix_stats(const bb_context *ctx, bb_kv_prefix_info *out);

/* ---------------------------------------------------------------- tokenizer */

int32_t bb_vocab_n_tokens(const bb_vocab *vocab);
bb_token bb_vocab_bos(const bb_vocab *vocab); /* -1 when none */
bb_token bb_vocab_eos(const bb_vocab *vocab);
bool bb_vocab_add_bos(const bb_vocab *vocab);
bool bb_vocab_is_eog(const bb_vocab *vocab, bb_token token); /* EOS, EOT, <|im_end|>... */
bool bb_vocab_is_control(const bb_vocab *vocab, bb_token token);
/* Token id of an exact piece text, or -1. */
bb_token bb_vocab_find(const bb_vocab *vocab, const char *text, size_t len);

/* Tokenizes `len` bytes of text. add_special adds BOS (and EOS) as the vocab asks;
 * parse_special turns control-token text such as "<|im_end|>" into its id. The ids go to a
 * new array the caller frees with bb_free. */
bb_status bb_tokenize(const bb_vocab *vocab, const char *text, size_t len, bool add_special,
                      bool parse_special, bb_token **out, size_t *n_out, bb_error *err);
/* The bytes of one token's piece (byte-level decoding applied). Control tokens give ""
 * unless `special`. Returns the byte count, or -(needed) when cap is too small. */
int32_t bb_token_to_piece(const bb_vocab *vocab, bb_token token, bool special, char *buf,
                          int32_t cap);
/* Whole-sequence detokenization into a new NUL-terminated string (bb_free). */
bb_status bb_detokenize(const bb_vocab *vocab, const bb_token *tokens, size_t n, bool special,
                        char **out, bb_error *err);

/* Streaming detokenizer: bytes come out only as whole UTF-8 characters. */
typedef struct bb_detok bb_detok;
bb_detok *bb_detok_new(const bb_vocab *vocab, bool special);
void bb_detok_free(bb_detok *d);
/* Appends the token; returns a pointer to the newly complete text (valid until the next call)
 * and its length in *len. */
const char *bb_detok_push(bb_detok *d, bb_token token, size_t *len);
/* Remaining bytes at end of stream (incomplete characters become U+FFFD). */
const char *bb_detok_flush(bb_detok *d, size_t *len);

/* ---------------------------------------------------------------- sampling */

typedef struct bb_logit_bias {
    bb_token token;
    float bias;
} bb_logit_bias;

typedef struct bb_sampler_params {
    float temperature;       /* <= 0: greedy */
    int32_t top_k;           /* <= 0: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off */
    int32_t repeat_last_n;   /* window for the penalties; -1: whole history */
    float presence_penalty;  /* 0: off */
    float frequency_penalty; /* 0: off */
    uint64_t seed;           /* UINT64_MAX: a fresh seed from the clock; else deterministic */
    const bb_logit_bias *logit_bias;
    size_t n_logit_bias;
} bb_sampler_params;

bb_sampler_params bb_sampler_default_params(void);
bb_status bb_sampler_new(const bb_sampler_params *params, int32_t n_vocab, bb_sampler **out,
                         bb_error *err);
void bb_sampler_free(bb_sampler *s);
/* Picks the next token from raw logits (not modified). */
bb_token bb_sampler_sample(bb_sampler *s, const float *logits);
/* Records a token in the penalty history (prompt tokens and generated ones). */
void bb_sampler_accept(bb_sampler *s, bb_token token);
void bb_sampler_reset(bb_sampler *s);
/* log-softmax of raw logits: the log-probability of `token` and the k best tokens. */
float bb_logprob(const float *logits, int32_t n_vocab, bb_token token);
int32_t bb_top_logprobs(const float *logits, int32_t n_vocab, int32_t k, bb_token *ids,
                        float *logprobs);

/* ---------------------------------------------------------------- chat templates */

/* Renders a Jinja chat template (Hugging Face conventions: trim_blocks, lstrip_blocks).
 * messages_json is a JSON array of messages, tools_json a JSON array or NULL. The text goes to
 * a new string (bb_free). A template's raise_exception gives BB_ERR_TEMPLATE with its message. */
bb_status bb_chat_render(const char *template_src, const char *messages_json,
                         const char *tools_json, bool add_generation_prompt, const char *bos_token,
                         const char *eos_token, char **out, bb_error *err);

/* ChatML, used for models whose file carries no template. */
const char *bb_chat_default_template(void);

#ifdef __cplusplus
}
#endif
#endif
