/* Top-k selection with a bounded heap: one pass over the vocabulary, where most logits
 * fail a single comparison against the worst kept candidate, so k = 40 over 256k logits
 * costs little more than reading them; a full sort is never needed. */
#include "sample/cands.h"

#include <math.h>
#include <stdlib.h>

static inline void swap_cand(bb_cand *a, bb_cand *b) {
    bb_cand t = *a;
    *a = *b;
    *b = t;
}

/* The heap keeps its worst candidate at the root ("worst-heap" under bb_cand_better). */
static void sift_down(bb_cand *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l < n && bb_cand_better(h[w], h[l])) w = l;
        if (l + 1 < n && bb_cand_better(h[w], h[l + 1])) w = l + 1;
        if (w == i) return;
        swap_cand(&h[i], &h[w]);
        i = w;
    }
}

static void sift_up(bb_cand *h, size_t i) {
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bb_cand_better(h[parent], h[i])) return;
        swap_cand(&h[parent], &h[i]);
        i = parent;
    }
}

size_t bb_cand_top(const float *logits, size_t n_vocab, size_t k, bb_cand *out) {
    if (k > n_vocab) k = n_vocab;
    if (k == 0) return 0;
    for (size_t i = 0; i < k; i++) {
        float x = isnan(logits[i]) ? -INFINITY : logits[i];
        out[i] = (bb_cand){x, (bb_token)i};
        sift_up(out, i);
    }
    /* Ids rise during the scan, so an equal logit never beats the root (which has a lower
     * id); a NaN fails the comparison, as a -inf would. */
    for (size_t i = k; i < n_vocab; i++) {
        if (logits[i] > out[0].logit) {
            out[0] = (bb_cand){logits[i], (bb_token)i};
            sift_down(out, k, 0);
        }
    }
    /* Heap sort: moving the worst to the back each time leaves the array best-first. */
    for (size_t m = k; m > 1; m--) {
        swap_cand(&out[0], &out[m - 1]);
        sift_down(out, m - 1, 0);
    }
    return k;
}

float bb_cand_max(const bb_cand *c, size_t n) {
    float m[4] = {c[0].logit, c[0].logit, c[0].logit, c[0].logit};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++)
            m[j] = c[i + j].logit > m[j] ? c[i + j].logit : m[j];
    for (; i < n; i++)
        m[0] = c[i].logit > m[0] ? c[i].logit : m[0];
    float a = m[0] > m[1] ? m[0] : m[1], b = m[2] > m[3] ? m[2] : m[3];
    return a > b ? a : b;
}

static int cmp_cand(const void *a, const void *b) {
    const bb_cand *x = a, *y = b;
    if (bb_cand_better(*x, *y)) return -1;
    if (bb_cand_better(*y, *x)) return 1;
    return 0;
}

void bb_cand_sort(bb_cand *c, size_t n) {
    if (n > 1) qsort(c, n, sizeof *c, cmp_cand);
}
