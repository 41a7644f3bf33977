/* Binary max-heap of candidate merges shared by the SPM and BPE tokenizers: the best pair
 * (highest key, then leftmost) is merged first, the ordering llama.cpp's llm_bigram_spm and
 * llm_bigram_bpe comparators define. Stale entries are skipped by the caller when popped,
 * so every merge costs O(log n) instead of a rescan of the word. */
#ifndef BB_TOKENIZER_HEAP_H
#define BB_TOKENIZER_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bb_merge_cand {
    double key;   /* SPM: piece score; BPE: minus the merge rank */
    int32_t left; /* symbol indices */
    int32_t right;
    size_t size; /* byte length of the merged text when the entry was made */
} bb_merge_cand;

typedef struct bb_merge_heap {
    bb_merge_cand *items;
    size_t n, cap;
} bb_merge_heap;

/* Returns false when out of memory. */
bool bb_heap_push(bb_merge_heap *h, bb_merge_cand c);
/* Removes the best entry into *out; false when empty. */
bool bb_heap_pop(bb_merge_heap *h, bb_merge_cand *out);
void bb_heap_free(bb_merge_heap *h);

#endif
