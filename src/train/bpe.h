/*
 * Byte-level BPE (Sennrich et al. 2016; byte-level as in GPT-2, Radford et al. 2019):
 * training a vocabulary from a corpus, and encoding text with it exactly as a "gpt2"
 * tokenizer with the "default" pre-tokenizer does at inference (see pretok.h).
 *
 * Vocabulary layout: ids 0..255 are the single bytes (id = byte value), then one token per
 * merge in merge order (the merge's rank), then the special tokens as control tokens.
 * Token texts use GPT-2's byte-to-unicode mapping (printable bytes stand for themselves,
 * the others are shifted to U+0100 and up, so the space is "Ġ"); a merge is written
 * "LEFT RIGHT" with the two token texts.
 *
 * Digits never merge (a pair with an ASCII digit on either side is not a candidate), so
 * every number is spelled one digit per token and arithmetic sees place value the same way
 * in every number.
 */
#ifndef BB_TRAIN_BPE_H
#define BB_TRAIN_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

#define TR_TOKEN_NORMAL 1
#define TR_TOKEN_CONTROL 3

typedef struct tr_bpe tr_bpe;

/* Learns merges from text until the vocabulary (256 bytes + merges + specials) has
 * vocab_size tokens, or no pair occurs twice. Occurrences of the special token texts in
 * the text are not learned from. */
bb_status tr_bpe_train(const char *text, size_t len, int vocab_size, const char *const *specials,
                       int n_specials, tr_bpe **out, bb_error *err);
/* Rebuilds a vocabulary written by this module (e.g. read back from a checkpoint):
 * tokens[] in the layout above, merges[] ("LEFT RIGHT"), n_specials control tokens last. */
bb_status tr_bpe_from_vocab(const char *const *tokens, int n_tokens, const char *const *merges,
                            int n_merges, int n_specials, tr_bpe **out, bb_error *err);
void tr_bpe_free(tr_bpe *b);

int tr_bpe_n_tokens(const tr_bpe *b);
int tr_bpe_n_merges(const tr_bpe *b);
const char *tr_bpe_token_text(const tr_bpe *b, int id); /* mapped form, NUL-terminated */
const char *tr_bpe_merge_text(const tr_bpe *b, int rank);
int tr_bpe_token_type(const tr_bpe *b, int id);
int tr_bpe_find_special(const tr_bpe *b, const char *text); /* id or -1 */
/* The raw bytes of a token (specials give their text); *len receives the count. */
const unsigned char *tr_bpe_token_bytes(const tr_bpe *b, int id, size_t *len);

/* Encodes text, turning exact special-token texts into their ids. The ids go to a new
 * array (free with free()). Not thread-safe on one tr_bpe (it caches encoded words). */
bb_status tr_bpe_encode(tr_bpe *b, const char *text, size_t len, int32_t **out, size_t *n_out,
                        bb_error *err);
/* Decodes ids to bytes in a new NUL-terminated string (free with free()). */
bb_status tr_bpe_decode(const tr_bpe *b, const int32_t *ids, size_t n, char **out, bb_error *err);

/* GPT-2's byte-to-unicode mapping: writes the UTF-8 form of byte c (1 or 2 bytes) to out
 * and returns its length. */
int tr_bpe_byte_char(unsigned char c, char out[2]);

#endif
