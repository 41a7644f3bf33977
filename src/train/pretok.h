/*
 * Pre-tokenization for BPE training, with the split semantics of llama.cpp's "default"
 * BPE pre-tokenizer (tokenizer.ggml.pre = "default"), so the merges learned here are
 * applied to the same pieces at inference. Four regexes are applied in turn; each splits
 * every piece the previous one produced into its matches AND the unmatched gaps between
 * them, and each sees only its piece (a lookahead stops at the piece's end):
 *
 *   1. [\p{P}\$\+<=>\^~\|]+
 *   2. 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
 *   3. \p{N}+
 *   4. [0-9][0-9][0-9]
 *
 * Matching uses PCRE2 with UTF and Unicode properties; invalid UTF-8 never matches, so it
 * ends up in gaps rather than failing.
 */
#ifndef BB_TRAIN_PRETOK_H
#define BB_TRAIN_PRETOK_H

#include <stddef.h>

#include "beanbag.h"

typedef struct tr_pretok tr_pretok;

bb_status tr_pretok_new(tr_pretok **out, bb_error *err);
void tr_pretok_free(tr_pretok *p);

typedef void (*tr_piece_fn)(void *ctx, const char *piece, size_t len);
/* Calls fn for each piece of text[0..len), in order; the pieces concatenate to the text.
 * Not thread-safe on one tr_pretok. */
bb_status tr_pretok_split(tr_pretok *p, const char *text, size_t len, tr_piece_fn fn, void *ctx,
                          bb_error *err);

#endif
