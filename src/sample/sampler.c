/* The sampler chain, in llama.cpp's order and with its definitions (src/llama-sampling.cpp):
 *
 *   logit bias -> penalties -> greedy argmax (temperature <= 0)
 *                           -> top-k -> top-p -> min-p -> temperature -> softmax -> draw
 *
 * Logits are first copied into a work buffer (the caller's are never modified) and cleaned:
 * NaN becomes -inf, which is never picked, and +inf becomes FLT_MAX so the softmax stays
 * finite. When every logit is -inf or NaN, nothing can be picked and the result is token 0,
 * what the greedy tie rule (lowest id) gives over all-equal logits.
 *
 * The RNG is one xoshiro256** stream per sampler, advanced exactly once per non-greedy
 * sample, so a seed and a sequence of logits determine the tokens on any thread. */
#include "sample/cands.h"
#include "sample/grammar.h"
#include "sample/penalty.h"
#include "sample/rng.h"

#include "common/checked.h"
#include "common/error.h"

#include <float.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bb_sampler {
    bb_sampler_params params; /* logit_bias points at `bias`, the sampler's own copy */
    bb_logit_bias *bias;
    int32_t n_vocab;
    uint64_t seed; /* as resolved: never the "random" marker */
    bb_rng rng;
    float *work;            /* n_vocab cleaned, biased, penalized logits */
    bb_cand *cands;         /* room for min(top_k, n_vocab) candidates, or n_vocab without top-k */
    bb_penalty *pen;        /* NULL when every penalty is off */
    bb_grammar_matcher *gm; /* NULL when unconstrained */
    char grammar_error[200];
};

bb_sampler_params bb_sampler_default_params(void) {
    return (bb_sampler_params){
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .seed = UINT64_MAX,
        .logit_bias = NULL,
        .n_logit_bias = 0,
    };
}

static bb_status check_bias(const bb_sampler_params *p, int32_t n_vocab, bb_error *err) {
    if (p->n_logit_bias > 0 && !p->logit_bias)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "logit_bias is NULL but n_logit_bias is %zu",
                       p->n_logit_bias);
    for (size_t i = 0; i < p->n_logit_bias; i++) {
        const bb_logit_bias *b = &p->logit_bias[i];
        if (b->token < 0 || b->token >= n_vocab)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "logit_bias[%zu]: token %d is outside the vocabulary (0..%d)", i,
                           b->token, n_vocab - 1);
        if (isnan(b->bias))
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "logit_bias[%zu]: bias for token %d is NaN", i, b->token);
    }
    return BB_OK;
}

static bb_status check_params(const bb_sampler_params *p, int32_t n_vocab, bb_error *err) {
    const bb_status bad = BB_ERR_INVALID_ARGUMENT;
    if (n_vocab <= 0) return bb_fail(err, bad, "n_vocab must be positive (got %d)", n_vocab);
    if (!isfinite(p->temperature))
        return bb_fail(err, bad, "temperature must be a finite number (got %g)", p->temperature);
    if (!(p->top_p >= 0.0f && p->top_p <= 1.0f))
        return bb_fail(err, bad, "top_p must be in [0, 1] (got %g)", p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return bb_fail(err, bad, "min_p must be in [0, 1] (got %g)", p->min_p);
    if (!(p->repeat_penalty > 0.0f && isfinite(p->repeat_penalty)))
        return bb_fail(err, bad, "repeat_penalty must be positive and finite (got %g)",
                       p->repeat_penalty);
    if (p->repeat_last_n < -1)
        return bb_fail(err, bad,
                       "repeat_last_n must be -1 (whole history), 0 (off) or positive "
                       "(got %d)",
                       p->repeat_last_n);
    if (!isfinite(p->presence_penalty))
        return bb_fail(err, bad, "presence_penalty must be finite (got %g)", p->presence_penalty);
    if (!isfinite(p->frequency_penalty))
        return bb_fail(err, bad, "frequency_penalty must be finite (got %g)", p->frequency_penalty);
    return check_bias(p, n_vocab, err);
}

static bool penalties_on(const bb_sampler_params *p) {
    return p->repeat_last_n != 0 && (p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f ||
                                     p->frequency_penalty != 0.0f);
}

static size_t cands_capacity(const bb_sampler_params *p, int32_t n_vocab) {
    if (p->top_k > 0 && p->top_k < n_vocab) return (size_t)p->top_k;
    return (size_t)n_vocab;
}

static void seed_rng(bb_sampler *s) {
    s->seed = s->params.seed == UINT64_MAX ? bb_rng_clock_seed() : s->params.seed;
    bb_rng_seed(&s->rng, s->seed);
}

static bb_status alloc_buffers(bb_sampler *s, bb_error *err) {
    const bb_sampler_params *p = &s->params;
    size_t n_bias = p->n_logit_bias, bias_bytes;
    if (!bb_mul_size(n_bias, sizeof *s->bias, &bias_bytes))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "n_logit_bias %zu is too large", n_bias);
    s->work = malloc((size_t)s->n_vocab * sizeof *s->work);
    s->cands = malloc(cands_capacity(p, s->n_vocab) * sizeof *s->cands);
    s->bias = n_bias ? malloc(bias_bytes) : NULL;
    if (!s->work || !s->cands || (n_bias && !s->bias))
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a sampler over %d tokens",
                       s->n_vocab);
    if (n_bias) memcpy(s->bias, p->logit_bias, bias_bytes);
    s->params.logit_bias = s->bias;
    if (!penalties_on(p)) return BB_OK;
    return bb_penalty_new(s->n_vocab, p->repeat_last_n, p->repeat_penalty, p->frequency_penalty,
                          p->presence_penalty, &s->pen, err);
}

bb_status bb_sampler_new(const bb_sampler_params *params, int32_t n_vocab, bb_sampler **out,
                         bb_error *err) {
    if (!params || !out)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_sampler_new: params and out are required");
    *out = NULL;
    bb_status st = check_params(params, n_vocab, err);
    if (st != BB_OK) return st;
    bb_sampler *s = calloc(1, sizeof *s);
    if (!s) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a sampler");
    s->params = *params;
    s->n_vocab = n_vocab;
    st = alloc_buffers(s, err);
    if (st != BB_OK) {
        bb_sampler_free(s);
        return st;
    }
    seed_rng(s);
    *out = s;
    return BB_OK;
}

void bb_sampler_free(bb_sampler *s) {
    if (!s) return;
    bb_grammar_matcher_free(s->gm);
    bb_penalty_free(s->pen);
    free(s->bias);
    free(s->cands);
    free(s->work);
    free(s);
}

void bb_sampler_accept(bb_sampler *s, bb_token token) {
    if (s && s->pen) bb_penalty_accept(s->pen, token);
}

/* Forgets the penalty history and restarts the random stream: a fixed seed replays the same
 * draws, the "random" seed takes a fresh one (as llama.cpp's dist sampler does on reset). */
void bb_sampler_reset(bb_sampler *s) {
    if (!s) return;
    if (s->pen) bb_penalty_reset(s->pen);
    seed_rng(s);
}

static inline float clean(float x) {
    if (isnan(x)) return -INFINITY;
    return x > FLT_MAX ? FLT_MAX : x;
}

static void build_work(bb_sampler *s, const float *logits) {
    float *w = s->work;
    for (int32_t i = 0; i < s->n_vocab; i++)
        w[i] = clean(logits[i]);
    for (size_t i = 0; i < s->params.n_logit_bias; i++) {
        bb_token t = s->bias[i].token;
        w[t] = clean(w[t] + s->bias[i].bias);
    }
    if (s->pen) bb_penalty_apply(s->pen, w);
}

/* Eight independent running maxima, so the loop does not wait on each comparison. */
static float max_of(const float *w, int32_t n) {
    float m[8];
    for (int j = 0; j < 8; j++)
        m[j] = w[0];
    int32_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            m[j] = w[i + j] > m[j] ? w[i + j] : m[j];
    for (; i < n; i++)
        m[0] = w[i] > m[0] ? w[i] : m[0];
    for (int j = 1; j < 8; j++)
        m[0] = m[j] > m[0] ? m[j] : m[0];
    return m[0];
}

/* Lowest id among the maxima. The max is found first so the scan carries no dependency on
 * a stored index, and stops at the first hit. */
static bb_token argmax(const float *w, int32_t n) {
    float max = max_of(w, n);
    for (int32_t i = 0; i < n; i++)
        if (w[i] == max) return i;
    return 0;
}

/* Without top-k every token at or above `threshold` is a candidate, in id order. */
static size_t gather_above(const float *w, int32_t n, float threshold, bb_cand *out) {
    size_t m = 0;
    for (int32_t i = 0; i < n; i++) { /* branch-free: out has room for all n */
        out[m] = (bb_cand){w[i], i};
        m += w[i] >= threshold;
    }
    return m;
}

/* top-k output is best-first, so -inf (never pickable) entries are a suffix. */
static size_t drop_impossible(const bb_cand *c, size_t n) {
    while (n > 0 && c[n - 1].logit == -INFINITY)
        n--;
    return n;
}

/* min-p (Nguyen et al., "Min P Sampling", 2024): keep tokens whose probability is at least
 * p times the best one's, i.e. logit >= max + log(p). Order is kept. */
static size_t min_p_filter(bb_cand *c, size_t n, float p) {
    float threshold = bb_cand_max(c, n) + logf(p);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) { /* branch-free; kept <= i, so in place is safe */
        c[kept] = c[i];
        kept += c[i].logit >= threshold;
    }
    return kept;
}

/* Softmax at temperature t over the candidates and an inverse-CDF draw with u in [0, 1).
 * Both passes compute each weight by the same expression, so the running sum ends exactly at
 * the total; should u * total round up to it, the last candidate of non-zero weight wins. */
static size_t draw(const bb_cand *c, size_t n, float t, double u) {
    float max = bb_cand_max(c, n);
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
        total += expf((c[i].logit - max) / t);
    double target = u * total, cum = 0.0;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        float w = expf((c[i].logit - max) / t);
        cum += w;
        if (cum > target) return i;
        if (w > 0.0f) last = i;
    }
    return last;
}

/* Without top-k, the first filter reads the whole vocabulary. When it is min-p, its
 * threshold needs only the max, so only survivors are gathered. */
static size_t gather(bb_sampler *s, bool *min_p_done) {
    const bb_sampler_params *p = &s->params;
    float max = max_of(s->work, s->n_vocab);
    if (max == -INFINITY) return 0;
    *min_p_done = p->top_p >= 1.0f && p->min_p > 0.0f;
    float threshold = *min_p_done ? max + logf(p->min_p) : -FLT_MAX;
    return gather_above(s->work, s->n_vocab, threshold, s->cands);
}

static size_t filter_chain(bb_sampler *s) {
    const bb_sampler_params *p = &s->params;
    size_t n;
    bool sorted = p->top_k > 0 && p->top_k < s->n_vocab, min_p_done = false;
    if (sorted)
        n = drop_impossible(s->cands,
                            bb_cand_top(s->work, (size_t)s->n_vocab, (size_t)p->top_k, s->cands));
    else
        n = gather(s, &min_p_done);
    if (n == 0) return 0;
    if (p->top_p < 1.0f) n = bb_cand_top_p(s->cands, n, sorted, p->top_p);
    if (p->min_p > 0.0f && !min_p_done) n = min_p_filter(s->cands, n, p->min_p);
    return n;
}

void bb_sampler_set_grammar(bb_sampler *s, bb_grammar_matcher *m) {
    if (!s) {
        bb_grammar_matcher_free(m);
        return;
    }
    bb_grammar_matcher_free(s->gm);
    s->gm = m;
    s->grammar_error[0] = '\0';
}

const char *bb_sampler_grammar_error(const bb_sampler *s) {
    return s && s->grammar_error[0] ? s->grammar_error : NULL;
}

bool bb_sampler_grammar_done(const bb_sampler *s) {
    return s && s->gm && bb_grammar_matcher_finished(s->gm);
}

static inline bool allowed_bit(const uint32_t *bits, int32_t n_bits, bb_token t) {
    return t >= 0 && t < n_bits && (bits[t / 32] >> (t % 32) & 1);
}

/* Disallowed tokens (and logits beyond the grammar's vocabulary) become -inf. */
static void mask_work(bb_sampler *s, const uint32_t *bits, int32_t n_bits) {
    float *w = s->work;
    int32_t n = s->n_vocab < n_bits ? s->n_vocab : n_bits;
    for (int32_t base = 0; base < n; base += 32) {
        uint32_t word = bits[base / 32];
        if (word == UINT32_MAX) continue;
        int32_t end = base + 32 < n ? base + 32 : n;
        if (word == 0) { /* most words of a structural position: a plain store loop */
            for (int32_t t = base; t < end; t++)
                w[t] = -INFINITY;
            continue;
        }
        for (int32_t t = base; t < end; t++)
            if (!(word >> (t - base) & 1)) w[t] = -INFINITY;
    }
    for (int32_t t = n; t < s->n_vocab; t++)
        w[t] = -INFINITY;
}

static bb_token grammar_take(bb_sampler *s, bb_token tok) {
    if (!bb_grammar_matcher_accept(s->gm, tok)) {
        const char *why = bb_grammar_matcher_error(s->gm);
        snprintf(s->grammar_error, sizeof s->grammar_error, "grammar: %s",
                 why ? why : "the sampled token does not continue the grammar");
    }
    return tok;
}

static bb_token unconstrained(bb_sampler *s) {
    if (s->params.temperature <= 0.0f) return argmax(s->work, s->n_vocab);
    double u = bb_rng_uniform(&s->rng);
    size_t n = filter_chain(s);
    if (n == 0) return argmax(s->work, s->n_vocab);
    return s->cands[draw(s->cands, n, s->params.temperature, u)].id;
}

bb_token bb_sampler_sample(bb_sampler *s, const float *logits) {
    if (!s || !logits) return 0;
    build_work(s, logits);
    if (!s->gm) return unconstrained(s);
    if (s->params.temperature <= 0.0f) {
        /* Greedy: when the best token (lowest id among the best) is allowed it is also the
         * best allowed one, so one walk over its bytes replaces the mask. */
        bb_token best = argmax(s->work, s->n_vocab);
        if (s->work[best] > -INFINITY && bb_grammar_matcher_allows(s->gm, best))
            return grammar_take(s, best);
    }
    int32_t n_allowed;
    bb_token single;
    const uint32_t *bits = bb_grammar_matcher_mask(s->gm, &n_allowed, &single);
    if (!bits || n_allowed == 0) {
        const char *why = bb_grammar_matcher_error(s->gm);
        snprintf(s->grammar_error, sizeof s->grammar_error, "grammar: %s",
                 why ? why : "no token of the vocabulary can continue the grammar here");
        return 0;
    }
    if (single >= 0) return grammar_take(s, single); /* forced: no chain, no draw */
    int32_t n_bits = bb_grammar_matcher_n_tokens(s->gm);
    mask_work(s, bits, n_bits);
    bb_token tok = unconstrained(s);
    if (!allowed_bit(bits, n_bits, tok)) /* every allowed logit was -inf: lowest allowed id */
        for (tok = 0; tok < n_bits && !allowed_bit(bits, n_bits, tok); tok++) {
        }
    return grammar_take(s, tok);
}
