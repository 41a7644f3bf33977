/* Tokenizer vocabulary: construction and release (internal API for the model loader and
 * tests). The vocabulary follows llama.cpp's conventions for GGUF tokenizer metadata
 * (tokenizer.ggml.*, see https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), since
 * llama.cpp produced the conformance data. */
#ifndef BB_TOKENIZER_VOCAB_H
#define BB_TOKENIZER_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"
#include "gguf/gguf.h"

/* Builds a vocabulary from the tokenizer.ggml.* metadata of an open GGUF file. The result
 * copies what it needs: it does not reference the file after returning. */
bb_status bb_vocab_load(const gguf_file *f, bb_vocab **out, bb_error *err);
void bb_vocab_free(bb_vocab *v);

/* ---- construction from plain arrays (what bb_vocab_load fills in from GGUF) */

/* GGUF tokenizer.ggml.token_type values. */
enum bb_token_type {
    BB_TOKEN_TYPE_UNDEFINED = 0,
    BB_TOKEN_TYPE_NORMAL = 1,
    BB_TOKEN_TYPE_UNKNOWN = 2,
    BB_TOKEN_TYPE_CONTROL = 3,
    BB_TOKEN_TYPE_USER_DEFINED = 4,
    BB_TOKEN_TYPE_UNUSED = 5,
    BB_TOKEN_TYPE_BYTE = 6,
};

/* Special-token slots, each read from tokenizer.ggml.<name>_token_id. */
enum bb_special_slot {
    BB_SPECIAL_BOS,
    BB_SPECIAL_EOS,
    BB_SPECIAL_EOT,
    BB_SPECIAL_EOM,
    BB_SPECIAL_UNK,
    BB_SPECIAL_SEP,
    BB_SPECIAL_PAD,
    BB_SPECIAL_MASK,
    BB_SPECIAL_FIM_PRE,
    BB_SPECIAL_FIM_SUF,
    BB_SPECIAL_FIM_MID,
    BB_SPECIAL_FIM_PAD,
    BB_SPECIAL_FIM_REP,
    BB_SPECIAL_FIM_SEP,
    BB_SPECIAL_COUNT
};

typedef struct bb_str {
    const char *ptr; /* not necessarily NUL-terminated */
    size_t len;
} bb_str;

#define BB_VOCAB_UNSET (-1) /* for special ids and tri-state flags: "not in the metadata" */

typedef struct bb_vocab_desc {
    bb_str model; /* tokenizer.ggml.model: "llama" (SPM) or "gpt2" (BPE) */
    bb_str pre;   /* tokenizer.ggml.pre; empty: none given */
    bb_str name;  /* general.name; a few per-model rules key on it */
    size_t n_tokens;
    const bb_str *tokens; /* n_tokens piece texts */
    const float *scores;  /* n_tokens, or NULL (all 0) */
    const int32_t *types; /* n_tokens bb_token_type values, or NULL (all normal) */
    size_t n_merges;
    const bb_str *merges;              /* "left right", in rank order (BPE only) */
    int64_t special[BB_SPECIAL_COUNT]; /* ids or BB_VOCAB_UNSET */
    int add_bos;                       /* 0/1 or BB_VOCAB_UNSET */
    int add_eos;
    int add_space_prefix;
} bb_vocab_desc;

/* A desc with nothing set (every special id and flag BB_VOCAB_UNSET). */
bb_vocab_desc bb_vocab_desc_empty(void);
bb_status bb_vocab_create(const bb_vocab_desc *desc, bb_vocab **out, bb_error *err);

#endif
