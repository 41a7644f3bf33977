/* Log-probabilities of raw logits (no bias, penalties or temperature), as OpenAI's `logprobs`
 * reports them: log softmax(x)_i = (x_i - max) - log(sum_j exp(x_j - max)). Subtracting the
 * max keeps every exponent <= 0 and the sum in [1, n]; the sum is accumulated in double.
 * NaN logits count as -inf and +inf as FLT_MAX, as in the sampler. Invalid arguments (no
 * logits, n_vocab <= 0, a token outside the vocabulary) give log(0) = -inf. */
#include "sample/cands.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

static inline float clean(float x) {
    if (isnan(x)) return -INFINITY;
    return x > FLT_MAX ? FLT_MAX : x;
}

static float max_logit(const float *logits, int32_t n) {
    float max = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        float x = clean(logits[i]);
        max = x > max ? x : max;
    }
    return max;
}

static double log_sum_exp_shifted(const float *logits, int32_t n, float max) {
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        sum += expf(clean(logits[i]) - max);
    return log(sum);
}

float bb_logprob(const float *logits, int32_t n_vocab, bb_token token) {
    if (!logits || n_vocab <= 0 || token < 0 || token >= n_vocab) return -INFINITY;
    float max = max_logit(logits, n_vocab);
    if (max == -INFINITY) return -INFINITY;
    double lse = log_sum_exp_shifted(logits, n_vocab, max);
    return (float)((double)(clean(logits[token]) - max) - lse);
}

int32_t bb_top_logprobs(const float *logits, int32_t n_vocab, int32_t k, bb_token *ids,
                        float *logprobs) {
    if (!logits || n_vocab <= 0 || k <= 0 || !ids || !logprobs) return 0;
    size_t n = (size_t)(k < n_vocab ? k : n_vocab);
    bb_cand *top = malloc(n * sizeof *top);
    if (!top) return 0;
    bb_cand_top(logits, (size_t)n_vocab, n, top);
    float max = clean(top[0].logit);
    double lse = max == -INFINITY ? 0.0 : log_sum_exp_shifted(logits, n_vocab, max);
    for (size_t i = 0; i < n; i++) {
        ids[i] = top[i].id;
        float x = clean(top[i].logit);
        logprobs[i] = max == -INFINITY ? -INFINITY : (float)((double)(x - max) - lse);
    }
    free(top);
    return (int32_t)n;
}
