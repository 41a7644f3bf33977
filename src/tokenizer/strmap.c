#include "tokenizer/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"

bb_status bb_strmap_init(bb_strmap *m, size_t expected, bb_error *err) {
    size_t cap = 16;
    /* Load factor at most 1/2 keeps linear probing short. */
    while (cap / 2 < expected) {
        if (cap > SIZE_MAX / 4 / sizeof(bb_strmap_slot)) {
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "hash table for %zu keys is too large",
                           expected);
        }
        cap *= 2;
    }
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a hash table");
    m->mask = cap - 1;
    m->count = 0;
    return BB_OK;
}

void bb_strmap_free(bb_strmap *m) {
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

bool bb_strmap_insert(bb_strmap *m, const char *key, uint32_t len, uint32_t split, int32_t value) {
    uint64_t h = bb_hash_update(BB_HASH_INIT, key, len);
    for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
        bb_strmap_slot *s = &m->slots[i];
        if (!s->key) {
            *s = (bb_strmap_slot){h, key, len, split, value};
            m->count++;
            return true;
        }
        if (s->hash == h && s->len == len && s->split == split && memcmp(s->key, key, len) == 0) {
            return false;
        }
    }
}

int32_t bb_strmap_get(const bb_strmap *m, const char *key, size_t len) {
    if (!m->slots) return -1;
    uint64_t h = bb_hash_update(BB_HASH_INIT, key, len);
    for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
        const bb_strmap_slot *s = &m->slots[i];
        if (!s->key) return -1;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s->value;
    }
}

int32_t bb_strmap_get_pair(const bb_strmap *m, const char *left, size_t left_len, char sep,
                           const char *right, size_t right_len) {
    if (!m->slots) return -1;
    uint64_t h = bb_hash_update(BB_HASH_INIT, left, left_len);
    h = bb_hash_update(h, &sep, 1);
    h = bb_hash_update(h, right, right_len);
    size_t len = left_len + 1 + right_len;
    for (size_t i = (size_t)h & m->mask;; i = (i + 1) & m->mask) {
        const bb_strmap_slot *s = &m->slots[i];
        if (!s->key) return -1;
        if (s->hash == h && s->len == len && s->split == left_len &&
            memcmp(s->key, left, left_len) == 0 && s->key[left_len] == sep &&
            memcmp(s->key + left_len + 1, right, right_len) == 0) {
            return s->value;
        }
    }
}
