#include "tokenizer/heap.h"

#include <stdlib.h>

static bool better(const bb_merge_cand *a, const bb_merge_cand *b) {
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

bool bb_heap_push(bb_merge_heap *h, bb_merge_cand c) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *h->items) return false;
        bb_merge_cand *items = realloc(h->items, cap * sizeof *items);
        if (!items) return false;
        h->items = items;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!better(&c, &h->items[parent])) break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = c;
    return true;
}

bool bb_heap_pop(bb_merge_heap *h, bb_merge_cand *out) {
    if (h->n == 0) return false;
    *out = h->items[0];
    bb_merge_cand last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->n) break;
        if (child + 1 < h->n && better(&h->items[child + 1], &h->items[child])) child++;
        if (!better(&h->items[child], &last)) break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->n > 0) h->items[i] = last;
    return true;
}

void bb_heap_free(bb_merge_heap *h) {
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
