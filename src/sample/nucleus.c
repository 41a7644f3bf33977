/* Top-p (nucleus) sampling, Holtzman et al., "The Curious Case of Neural Text Degeneration"
 * (2019), with llama.cpp's definition: softmax over the current candidates, keep the smallest
 * best-first prefix whose cumulative probability is >= p, and at least one token.
 *
 * Over an unsorted list (the whole vocabulary when top-k is off) a full sort would cost
 * O(n log n) per token. Instead one pass builds a histogram of probability mass by distance
 * below the max logit; the nucleus is then every bucket above the cut bucket (in any order:
 * later stages only filter by threshold and draw) plus a sorted prefix of the cut bucket, so
 * only that one bucket is sorted. */
#include "sample/cands.h"

#include <math.h>

enum { N_BUCKETS = 1024 };
/* The histogram spans this many nats below the max; the last bucket catches the rest, whose
 * tokens weigh under e^-32 each. */
static const float bucket_span = 32.0f;

static size_t bucket_of(float max, float logit) {
    float scaled = (max - logit) * ((float)N_BUCKETS / bucket_span);
    if (!(scaled < (float)(N_BUCKETS - 1))) return N_BUCKETS - 1; /* also catches +inf */
    return (size_t)scaled;
}

static size_t top_p_sorted(const bb_cand *c, size_t n, float p) {
    float max = c[0].logit;
    double total = 0.0;
    for (size_t i = 0; i < n; i++)
        total += expf(c[i].logit - max);
    double target = (double)p * total, cum = 0.0;
    for (size_t i = 0; i < n; i++) {
        cum += expf(c[i].logit - max);
        if (cum >= target) return i + 1;
    }
    return n;
}

/* Keeps the candidates of buckets 0..cut, those of the cut bucket moved behind the others:
 * one pass over all candidates, then a partition of the (usually few) survivors. Returns
 * where the cut bucket's candidates start; *n_kept receives the survivor count. */
static size_t keep_buckets(bb_cand *c, size_t n, float max, size_t cut, size_t *n_kept) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) { /* branch-free: survivors are rare and unpredictable */
        c[m] = c[i];
        m += bucket_of(max, c[i].logit) <= cut;
    }
    size_t inner = 0;
    for (size_t i = 0; i < m; i++) {
        if (bucket_of(max, c[i].logit) < cut) {
            bb_cand t = c[inner];
            c[inner++] = c[i];
            c[i] = t;
        }
    }
    *n_kept = m;
    return inner;
}

static size_t top_p_buckets(bb_cand *c, size_t n, float p) {
    float max = bb_cand_max(c, n);
    double mass[N_BUCKETS] = {0};
    for (size_t i = 0; i < n; i++)
        mass[bucket_of(max, c[i].logit)] += expf(c[i].logit - max);
    double total = 0.0;
    for (size_t b = 0; b < N_BUCKETS; b++)
        total += mass[b];
    double target = (double)p * total, cum = 0.0;
    size_t cut = 0;
    /* The cut bucket is never empty: bucket 0 holds the max, and any later cut bucket adds
     * the mass that the buckets before it lacked. */
    while (cut < N_BUCKETS - 1 && cum + mass[cut] < target)
        cum += mass[cut++];
    size_t n_edge;
    size_t n_inner = keep_buckets(c, n, max, cut, &n_edge);
    bb_cand_sort(c + n_inner, n_edge - n_inner);
    for (size_t i = n_inner; i < n_edge; i++) {
        cum += expf(c[i].logit - max);
        if (cum >= target) return i + 1;
    }
    return n_edge; /* rounding left the sum a hair short: keep the whole bucket */
}

size_t bb_cand_top_p(bb_cand *c, size_t n, bool sorted, float p) {
    if (n <= 1) return n;
    return sorted ? top_p_sorted(c, n, p) : top_p_buckets(c, n, p);
}
