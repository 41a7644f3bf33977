/* Candidate lists for the sampler chain: (logit, token) pairs, filtered in place by each
 * stage. Every ordering uses the same total order — higher logit first, then lower token id —
 * so selections, sorts and ties are deterministic. */
#ifndef BB_SAMPLE_CANDS_H
#define BB_SAMPLE_CANDS_H

#include "beanbag.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct bb_cand {
    float logit;
    bb_token id;
} bb_cand;

static inline bool bb_cand_better(bb_cand a, bb_cand b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

/* Largest logit of n >= 1 candidates (none NaN). Four independent running maxima keep the
 * loop from waiting on each comparison's latency. */
float bb_cand_max(const bb_cand *c, size_t n);

/* The min(k, n_vocab) best entries of logits (NaN counts as -inf), best first, written to
 * out; returns their count. O(n_vocab log k) worst case, about O(n_vocab) for small k. */
size_t bb_cand_top(const float *logits, size_t n_vocab, size_t k, bb_cand *out);
void bb_cand_sort(bb_cand *c, size_t n);
/* Nucleus (top-p) filter: keeps the smallest best-first prefix whose softmax mass reaches
 * p (at least one token). `sorted` says c is already best-first; otherwise the survivors come
 * back in an unspecified but deterministic order. Returns the new count. */
size_t bb_cand_top_p(bb_cand *c, size_t n, bool sorted, float p);

#endif
