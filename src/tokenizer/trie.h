/* Byte trie over the special-token texts, so finding which of them occur in a text costs at
 * most (longest special text) steps per position, however many share a prefix. Edges live
 * in one open-addressing table keyed by (node, byte). */
#ifndef BB_TOKENIZER_TRIE_H
#define BB_TOKENIZER_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

typedef struct bb_trie {
    uint64_t *edge_key; /* (node << 8 | byte) + 1; 0: empty slot */
    uint32_t *edge_child;
    size_t edge_mask;
    int32_t *value; /* per node: the value of the key ending there, or -1 */
    size_t n_nodes, cap_nodes;
} bb_trie;

/* Sized for keys of `total_len` bytes in all. */
bb_status bb_trie_init(bb_trie *t, size_t total_len, bb_error *err);
void bb_trie_free(bb_trie *t);
/* Adds a key (len >= 1) with a value >= 0; capacity comes from bb_trie_init. */
void bb_trie_insert(bb_trie *t, const char *key, size_t len, int32_t value);
/* The child of node along byte c, or 0 (the root is node 0 and never a child). */
uint32_t bb_trie_step(const bb_trie *t, uint32_t node, uint8_t c);

#endif
