/*
 * Paged KV cache: one pool of fixed-size blocks (BB_KV_BLOCK token positions each) shared by
 * all sequences, with a block table per sequence (the PagedAttention layout, Kwon et al.
 * 2023). A sequence grows a block at a time and frees its blocks when truncated or removed,
 * so memory is shared fairly among concurrent users and never fragments.
 *
 * Keys and values are stored as IEEE half floats, as llama.cpp's default cache does.
 */
#ifndef BB_KV_CACHE_H
#define BB_KV_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "beanbag.h"

#define BB_KV_BLOCK 16

typedef struct bb_kv_seq {
    int32_t *blocks; /* block ids, one per BB_KV_BLOCK positions */
    uint32_t n_blocks;
    uint32_t cap;
    int32_t len; /* positions 0..len-1 are filled */
} bb_kv_seq;

typedef struct bb_kv_cache {
    int n_layer;
    int k_dim; /* n_head_kv * head_dim_k */
    int v_dim; /* n_head_kv * head_dim_v */
    uint32_t n_blocks;
    uint16_t **k; /* per layer: n_blocks * BB_KV_BLOCK * k_dim halves */
    uint16_t **v;
    void *mem; /* the layers' K and V rows, one buffer (common/bigalloc.h) */
    size_t mem_bytes;
    int32_t *free_blocks; /* a stack of free block ids */
    uint32_t n_free;
    bb_kv_seq *seqs;
    uint32_t n_seq;
} bb_kv_cache;

bb_status bb_kv_init(bb_kv_cache *kv, int n_layer, int k_dim, int v_dim, uint32_t n_ctx,
                     uint32_t n_seq, bb_error *err);
void bb_kv_release(bb_kv_cache *kv);

/* Blocks a sequence needs beyond what it holds to reach new_len positions. */
uint32_t bb_kv_blocks_needed(const bb_kv_cache *kv, uint32_t seq, int32_t new_len);
/* Grows the sequence's block table to cover new_len positions (the caller has checked the
 * free count with bb_kv_blocks_needed) and sets len. */
bb_status bb_kv_grow(bb_kv_cache *kv, uint32_t seq, int32_t new_len, bb_error *err);
/* Drops positions >= len, freeing whole blocks. */
void bb_kv_truncate(bb_kv_cache *kv, uint32_t seq, int32_t len);

static inline uint16_t *bb_kv_k(const bb_kv_cache *kv, int layer, uint32_t seq, int32_t pos) {
    const bb_kv_seq *s = &kv->seqs[seq];
    int64_t cell = (int64_t)s->blocks[pos / BB_KV_BLOCK] * BB_KV_BLOCK + pos % BB_KV_BLOCK;
    return kv->k[layer] + cell * kv->k_dim;
}
static inline uint16_t *bb_kv_v(const bb_kv_cache *kv, int layer, uint32_t seq, int32_t pos) {
    const bb_kv_seq *s = &kv->seqs[seq];
    int64_t cell = (int64_t)s->blocks[pos / BB_KV_BLOCK] * BB_KV_BLOCK + pos % BB_KV_BLOCK;
    return kv->v[layer] + cell * kv->v_dim;
}

#endif
