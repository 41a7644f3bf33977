/* Grammar-constrained sampling (the grammar module's matcher inside the sampler chain):
 *
 *   logit bias -> penalties -> GRAMMAR MASK -> greedy | top-k -> top-p -> min-p -> temperature
 *
 * The mask sets every token the grammar does not allow to -inf before any filter looks at the
 * logits, for greedy decoding too; when the grammar allows exactly one token it is taken without
 * running the chain (and without drawing from the RNG: the draw sequence stays a function of the
 * sequence alone). Greedy decoding first checks the unconstrained best token: if the grammar
 * allows it, it is the constrained best too, and no mask is needed. The sampled token then
 * advances the matcher. Everything is per sampler, so
 * per sequence, and deterministic: batch invariance is untouched. */
#ifndef BB_SAMPLE_GRAMMAR_H
#define BB_SAMPLE_GRAMMAR_H

#include "beanbag.h"
#include "grammar/grammar.h"

/* Constrains every later sample of s by m, which s owns from now on (freed with s). */
void bb_sampler_set_grammar(bb_sampler *s, bb_grammar_matcher *m);
/* Why the grammar could not go on (no token of the vocabulary continues it, or the matcher ran
 * out of room); NULL while all is well. The token sampled then is meaningless. */
const char *bb_sampler_grammar_error(const bb_sampler *s);
/* Whether the grammar was completed by an end-of-generation token. */
bool bb_sampler_grammar_done(const bb_sampler *s);

#endif
