/* Bump allocator for a parsed template: tokens' strings and syntax nodes are freed
 * together when the template is. */
#include <stdlib.h>
#include <string.h>

#include "chat/ast.h"

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block;

enum { ARENA_BLOCK = 16384 };

void *arena_alloc(jx_arena *a, size_t size) {
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    arena_block *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
        b = jx_alloc(sizeof *b + cap);
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strdup(jx_arena *a, const char *s, size_t len) {
    char *r = arena_alloc(a, len + 1);
    if (len) memcpy(r, s, len);
    r[len] = '\0';
    return r;
}

void arena_free(jx_arena *a) {
    arena_block *b = a->head;
    while (b) {
        arena_block *next = b->next;
        jx_free(b);
        b = next;
    }
    a->head = NULL;
}
