/* Open-addressing hash table from byte strings to int32 values, used for the vocabulary
 * (piece text -> token id) and the BPE merge ranks ("left right" -> rank). Keys are not
 * copied: they must outlive the table (the vocabulary owns them). */
#ifndef BB_TOKENIZER_STRMAP_H
#define BB_TOKENIZER_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

typedef struct bb_strmap_slot {
    uint64_t hash;
    const char *key; /* NULL: empty slot */
    uint32_t len;
    uint32_t split; /* for pair keys: length of the left part; else len */
    int32_t value;
} bb_strmap_slot;

typedef struct bb_strmap {
    bb_strmap_slot *slots;
    size_t mask; /* capacity - 1, capacity a power of two */
    size_t count;
} bb_strmap;

/* FNV-1a (Fowler, Noll, Vo), streamed so pair keys hash without concatenation. */
#define BB_HASH_INIT 0xcbf29ce484222325ull
static inline uint64_t bb_hash_update(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Sized for `expected` keys without growing. */
bb_status bb_strmap_init(bb_strmap *m, size_t expected, bb_error *err);
void bb_strmap_free(bb_strmap *m);

/* Inserts key -> value unless the key is present; returns false when it was (the stored
 * value stays). `split` marks the boundary of a pair key (see bb_strmap_get_pair). */
bool bb_strmap_insert(bb_strmap *m, const char *key, uint32_t len, uint32_t split, int32_t value);
/* The value stored under key, or -1. */
int32_t bb_strmap_get(const bb_strmap *m, const char *key, size_t len);
/* Value of the pair key stored as `left SEP right` with split == left_len, or -1. */
int32_t bb_strmap_get_pair(const bb_strmap *m, const char *left, size_t left_len, char sep,
                           const char *right, size_t right_len);

#endif
