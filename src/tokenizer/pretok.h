/* Regex pre-tokenizers of byte-level BPE vocabularies. tokenizer.ggml.pre names a list of
 * regular expressions (the Hugging Face tokenizer's Split pre-tokenizers, as llama.cpp's
 * llama-vocab.cpp transcribes them); each one in turn splits every piece of text left by the
 * previous one into its matches and the gaps between them. The resulting words are then
 * byte-encoded (utf8.h) for the merges. Matching uses PCRE2 (UTF + UCP, JIT when
 * available). */
#ifndef BB_TOKENIZER_PRETOK_H
#define BB_TOKENIZER_PRETOK_H

#include <stdbool.h>
#include <stddef.h>

#include "beanbag.h"

typedef struct bb_pretok bb_pretok;

/* Vocabulary settings that llama.cpp ties to the pre-tokenizer name. */
typedef struct bb_pretok_traits {
    bool known;         /* false: name not recognised, the default expressions are used */
    bool ignore_merges; /* a word that is a whole token is not merged (Llama 3) */
    bool add_bos;       /* default of tokenizer.ggml.add_bos_token */
    bool clean_spaces;  /* detokenizer removes spaces before punctuation */
    bool no_bos;        /* the vocabulary has no BOS token */
} bb_pretok_traits;

/* Compiles the expressions for `name` (len bytes; empty means "default"). */
bb_status bb_pretok_new(const char *name, size_t len, bb_pretok **out, bb_pretok_traits *traits,
                        bb_error *err);
void bb_pretok_free(bb_pretok *p);

/* Words of one split: word i is bytes[off[i] .. off[i] + len[i]). */
typedef struct bb_words {
    char *bytes;
    size_t *off;
    size_t *len;
    size_t n;
} bb_words;

/* Splits text into byte-encoded words. Invalid UTF-8 bytes become U+FFFD first, as
 * llama.cpp's unicode_cpts_from_utf8 does. */
bb_status bb_pretok_split(const bb_pretok *p, const char *text, size_t len, bb_words *out,
                          bb_error *err);
void bb_words_free(bb_words *w);

#endif
