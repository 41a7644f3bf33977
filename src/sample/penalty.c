/* Penalty history. Counts live in a dense per-token array (O(1) accept); the tokens that may
 * have a non-zero count are also kept in a list, so applying the penalties touches only
 * those, never the whole vocabulary. For a finite window a ring holds the window's tokens so
 * the oldest can be uncounted; it grows on demand up to the window, so an oversized
 * repeat_last_n costs memory only as tokens actually arrive. */
#include "sample/penalty.h"

#include "common/checked.h"
#include "common/error.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* The top bit of a count marks "in the list"; the other 31 bits count occurrences. */
#define LISTED 0x80000000u
#define COUNT_MASK 0x7FFFFFFFu

struct bb_penalty {
    int32_t n_vocab;
    int32_t window; /* > 0, or -1 for the whole history */
    float repeat, frequency, presence;
    uint32_t *count;
    bb_token *listed; /* every token with a non-zero count, and perhaps some with zero */
    size_t n_listed, cap_listed;
    bb_token *ring; /* window > 0: appended until full, then ring[ring_pos] is the oldest */
    size_t ring_len, ring_cap, ring_pos;
};

bb_status bb_penalty_new(int32_t n_vocab, int32_t window, float repeat, float frequency,
                         float presence, bb_penalty **out, bb_error *err) {
    bb_penalty *p = calloc(1, sizeof *p);
    if (!p) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the penalty history");
    *p = (bb_penalty){.n_vocab = n_vocab,
                      .window = window,
                      .repeat = repeat,
                      .frequency = frequency,
                      .presence = presence};
    /* With a finite window at most `window` tokens have non-zero counts, so one spare slot
     * lets a compaction always make room (see list_token). */
    p->cap_listed = (size_t)n_vocab;
    if (window > 0 && (size_t)window < p->cap_listed) p->cap_listed = (size_t)window + 1;
    p->count = calloc((size_t)n_vocab, sizeof *p->count);
    p->listed = malloc(p->cap_listed * sizeof *p->listed);
    if (!p->count || !p->listed) {
        bb_penalty_free(p);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY,
                       "out of memory for the penalty history (n_vocab %d)", n_vocab);
    }
    *out = p;
    return BB_OK;
}

void bb_penalty_free(bb_penalty *p) {
    if (!p) return;
    free(p->count);
    free(p->listed);
    free(p->ring);
    free(p);
}

static void compact_list(bb_penalty *p) {
    size_t kept = 0;
    for (size_t i = 0; i < p->n_listed; i++) {
        bb_token t = p->listed[i];
        if (p->count[t] & COUNT_MASK)
            p->listed[kept++] = t;
        else
            p->count[t] = 0;
    }
    p->n_listed = kept;
}

static void list_token(bb_penalty *p, bb_token t) {
    if (p->n_listed == p->cap_listed) compact_list(p);
    if (p->n_listed == p->cap_listed) return; /* unreachable: see bb_penalty_new */
    p->listed[p->n_listed++] = t;
    p->count[t] |= LISTED;
}

static bool grow_ring(bb_penalty *p) {
    size_t cap = p->ring_cap ? p->ring_cap * 2 : 256;
    if (cap > (size_t)p->window) cap = (size_t)p->window;
    size_t bytes;
    if (!bb_mul_size(cap, sizeof *p->ring, &bytes)) return false;
    bb_token *ring = realloc(p->ring, bytes);
    if (!ring) return false;
    p->ring = ring;
    p->ring_cap = cap;
    return true;
}

/* Records t in the window, uncounting the token it pushes out. Should memory for a longer
 * ring run out, the window shrinks to what is there instead of failing. */
static bool ring_push(bb_penalty *p, bb_token t) {
    if (p->ring_len == p->ring_cap && p->ring_len < (size_t)p->window && !grow_ring(p)) {
        if (p->ring_cap == 0) return false;
        p->window = (int32_t)p->ring_cap;
    }
    if (p->ring_len < (size_t)p->window) {
        p->ring[p->ring_len++] = t;
        return true;
    }
    bb_token old = p->ring[p->ring_pos];
    p->count[old]--; /* its count is >= 1, so the LISTED bit is untouched */
    p->ring[p->ring_pos] = t;
    p->ring_pos = (p->ring_pos + 1) % (size_t)p->window;
    return true;
}

void bb_penalty_accept(bb_penalty *p, bb_token token) {
    if (token < 0 || token >= p->n_vocab) return;
    if (p->window > 0 && !ring_push(p, token)) return;
    if ((p->count[token] & COUNT_MASK) < COUNT_MASK) p->count[token]++; /* saturates */
    if (!(p->count[token] & LISTED)) list_token(p, token);
}

void bb_penalty_reset(bb_penalty *p) {
    for (size_t i = 0; i < p->n_listed; i++)
        p->count[p->listed[i]] = 0;
    p->n_listed = 0;
    p->ring_len = 0;
    p->ring_pos = 0;
}

/* The result is clamped like the sampler's inputs: a huge logit divided by a penalty below
 * 1 stays FLT_MAX rather than inf, and inf - inf (a huge count times a huge frequency
 * penalty) gives -inf rather than NaN. */
static float penalize(const bb_penalty *p, float logit, uint32_t count) {
    if (p->repeat != 1.0f) logit = logit > 0.0f ? logit / p->repeat : logit * p->repeat;
    logit -= (float)count * p->frequency + p->presence;
    if (isnan(logit)) return -INFINITY;
    return logit > FLT_MAX ? FLT_MAX : logit;
}

void bb_penalty_apply(bb_penalty *p, float *logits) {
    compact_list(p); /* each listed token now has a non-zero count and appears once */
    for (size_t i = 0; i < p->n_listed; i++) {
        bb_token t = p->listed[i];
        logits[t] = penalize(p, logits[t], p->count[t] & COUNT_MASK);
    }
}
