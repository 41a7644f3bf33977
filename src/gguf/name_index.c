/* Open-addressing hash table from names to indices, for metadata keys and tensor names. */
#include "gguf/gguf_impl.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const char *s) { /* FNV-1a, 64-bit */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h;
}

bool gguf_index_init(gguf_index *ix, uint64_t n) {
    uint64_t cap = 8;
    while (cap < 2 * n) { /* load factor <= 1/2; n is bounded by the file size */
        if (cap > SIZE_MAX / 2 / sizeof *ix->slots) return false;
        cap *= 2;
    }
    ix->slots = calloc(cap, sizeof *ix->slots);
    ix->mask = cap - 1;
    return ix->slots != NULL;
}

void gguf_index_free(gguf_index *ix) {
    free(ix->slots);
    ix->slots = NULL;
}

static struct gguf_index_slot *probe(const gguf_index *ix, const char *name) {
    for (uint64_t h = fnv1a(name) & ix->mask;; h = (h + 1) & ix->mask) {
        struct gguf_index_slot *s = &ix->slots[h];
        if (!s->name || strcmp(s->name, name) == 0) return s;
    }
}

int64_t gguf_index_find(const gguf_index *ix, const char *name) {
    if (!ix->slots) return -1;
    const struct gguf_index_slot *s = probe(ix, name);
    return s->name ? s->idx : -1;
}

int64_t gguf_index_add(gguf_index *ix, const char *name, int64_t idx) {
    struct gguf_index_slot *s = probe(ix, name);
    if (s->name) return s->idx;
    s->name = name;
    s->idx = idx;
    return -1;
}
