/* The vocabulary's representation, shared by the files of the tokenizer module only. */
#ifndef BB_TOKENIZER_VOCAB_IMPL_H
#define BB_TOKENIZER_VOCAB_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"
#include "tokenizer/pretok.h"
#include "tokenizer/strmap.h"
#include "tokenizer/trie.h"
#include "tokenizer/vocab.h"

/* Token attributes as bit flags, as llama.cpp's llama_token_attr: a token found to be an
 * end-of-turn marker by its text gains CONTROL on top of what the file said. */
enum bb_token_attr {
    BB_ATTR_UNDEFINED = 0,
    BB_ATTR_UNKNOWN = 1 << 0,
    BB_ATTR_UNUSED = 1 << 1,
    BB_ATTR_NORMAL = 1 << 2,
    BB_ATTR_CONTROL = 1 << 3,
    BB_ATTR_USER_DEFINED = 1 << 4,
    BB_ATTR_BYTE = 1 << 5,
    BB_ATTR_LSTRIP = 1 << 7, /* eat white space before the token when it is matched in text */
    BB_ATTR_RSTRIP = 1 << 8, /* ... and after it */
};

typedef enum bb_vocab_kind {
    BB_VOCAB_SPM, /* SentencePiece BPE over U+2581-escaped text, byte fallback */
    BB_VOCAB_BPE, /* byte-level BPE (GPT-2) with a regex pre-tokenizer */
} bb_vocab_kind;

typedef struct bb_token_info {
    uint32_t text_off; /* into vocab->text */
    uint32_t text_len;
    uint32_t piece_off; /* into vocab->pieces: the decoded bytes (special = true) */
    uint32_t piece_len;
    float score;
    uint32_t attr;
} bb_token_info;

struct bb_vocab {
    bb_vocab_kind kind;
    int32_t n_tokens;
    bb_token_info *tokens;
    char *text;   /* every piece text, back to back */
    char *pieces; /* every decoded piece, back to back */
    size_t max_token_len;
    bb_strmap token_ids; /* text -> id */

    /* BPE: merge ranks keyed by "left right" (split at the first space after byte 0). */
    char *merge_text;
    bb_strmap merge_ranks;
    size_t max_merge_len;
    bb_pretok *pretok;
    bool ignore_merges; /* a pre-tokenized word that is itself a token skips merging */

    bb_token special[BB_SPECIAL_COUNT]; /* -1: none */
    bool add_bos, add_eos, add_space_prefix;
    bool clean_spaces; /* detokenize applies llama.cpp's clean_up_tokenization_spaces */

    uint8_t *eog; /* n_tokens flags: ends generation */

    /* Tokens matched in raw text before the tokenizer runs (control, user-defined and
     * unknown), longest text first. */
    bb_token *special_cache;
    size_t n_special_cache;
    bb_trie special_trie; /* their texts; values are positions in special_cache */
};

static inline const char *bb_vocab_text(const bb_vocab *v, bb_token id) {
    return v->text + v->tokens[id].text_off;
}

static inline bool bb_vocab_valid(const bb_vocab *v, bb_token id) {
    return id >= 0 && id < v->n_tokens;
}

/* A growable token array (the tokenizers append to it). */
typedef struct bb_tokbuf {
    bb_token *ids;
    size_t n, cap;
} bb_tokbuf;

bool bb_tokbuf_push(bb_tokbuf *b, bb_token id);

/* Appends the tokens of one raw-text fragment (no special-token handling). */
bb_status bb_spm_tokenize(const bb_vocab *v, const char *text, size_t len, bool prefix_space,
                          bb_tokbuf *out, bb_error *err);
bb_status bb_bpe_tokenize(const bb_vocab *v, const char *text, size_t len, bb_tokbuf *out,
                          bb_error *err);

/* Steps of bb_vocab_create (vocab_special.c, pieces.c), in the order it runs them. */
void bb_vocab_apply_special_ids(bb_vocab *v, const bb_vocab_desc *d);
void bb_vocab_detect_specials(bb_vocab *v);
void bb_vocab_build_eog(bb_vocab *v); /* v->eog allocated, zeroed */
bb_status bb_vocab_build_special_cache(bb_vocab *v, bb_error *err);
bb_status bb_vocab_build_pieces(bb_vocab *v, bb_error *err);
void bb_vocab_apply_model_rules(bb_vocab *v, const bb_vocab_desc *d);

/* A load-time warning on stderr (the vocabulary is still usable). */
void bb_vocab_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Token for one raw byte in SPM vocabularies (<0xXX>, else the byte as text, else unknown);
 * -1 when the vocabulary has none. */
bb_token bb_spm_byte_token(const bb_vocab *v, uint8_t byte);

#endif
