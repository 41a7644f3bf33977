/* Repetition penalties over the recently accepted tokens, as llama.cpp's "penalties" sampler
 * defines them: the repeat penalty of Keskar et al., "CTRL" (2019) — a positive logit divided
 * by the penalty, a negative one multiplied — then OpenAI's frequency and presence penalties,
 * logit -= count * frequency + (count > 0) * presence. */
#ifndef BB_SAMPLE_PENALTY_H
#define BB_SAMPLE_PENALTY_H

#include "beanbag.h"

typedef struct bb_penalty bb_penalty;

/* window > 0: the last `window` accepted tokens count; -1: every accepted token. */
bb_status bb_penalty_new(int32_t n_vocab, int32_t window, float repeat, float frequency,
                         float presence, bb_penalty **out, bb_error *err);
void bb_penalty_free(bb_penalty *p);
/* Tokens outside [0, n_vocab) are ignored. */
void bb_penalty_accept(bb_penalty *p, bb_token token);
void bb_penalty_reset(bb_penalty *p);
/* Penalizes logits[token] in place for every token in the window; results are never NaN
 * or +inf (clamped to -inf / FLT_MAX). Cost is proportional to the number of distinct tokens
 * in the window, not to n_vocab. */
void bb_penalty_apply(bb_penalty *p, float *logits);

#endif
