#include "tokenizer/trie.h"

#include <stdlib.h>

#include "common/checked.h"
#include "common/error.h"

bb_status bb_trie_init(bb_trie *t, size_t total_len, bb_error *err) {
    size_t nodes, cap = 16;
    if (!bb_add_size(total_len, 1, &nodes) || nodes > UINT32_MAX) {
        return bb_fail(err, BB_ERR_FORMAT, "special tokens too long (%zu bytes)", total_len);
    }
    while (cap / 2 < nodes)
        cap *= 2; /* edges <= nodes, load factor <= 1/2 */
    t->edge_key = calloc(cap, sizeof *t->edge_key);
    t->edge_child = calloc(cap, sizeof *t->edge_child);
    t->value = malloc(nodes * sizeof *t->value);
    if (!t->edge_key || !t->edge_child || !t->value) {
        bb_trie_free(t);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the special-token trie");
    }
    t->edge_mask = cap - 1;
    t->cap_nodes = nodes;
    t->n_nodes = 1;
    t->value[0] = -1;
    return BB_OK;
}

void bb_trie_free(bb_trie *t) {
    free(t->edge_key);
    free(t->edge_child);
    free(t->value);
    *t = (bb_trie){0};
}

static size_t slot_of(const bb_trie *t, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
    size_t i = (size_t)(h >> 32) & t->edge_mask;
    while (t->edge_key[i] && t->edge_key[i] != key)
        i = (i + 1) & t->edge_mask;
    return i;
}

uint32_t bb_trie_step(const bb_trie *t, uint32_t node, uint8_t c) {
    size_t i = slot_of(t, ((uint64_t)node << 8 | c) + 1);
    return t->edge_key[i] ? t->edge_child[i] : 0;
}

void bb_trie_insert(bb_trie *t, const char *key, size_t len, int32_t value) {
    uint32_t node = 0;
    for (size_t k = 0; k < len; k++) {
        uint64_t ek = ((uint64_t)node << 8 | (uint8_t)key[k]) + 1;
        size_t i = slot_of(t, ek);
        if (!t->edge_key[i]) {
            t->edge_key[i] = ek;
            t->edge_child[i] = (uint32_t)t->n_nodes;
            t->value[t->n_nodes++] = -1;
        }
        node = t->edge_child[i];
    }
    t->value[node] = value;
}
