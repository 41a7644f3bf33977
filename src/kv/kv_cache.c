#include "kv/kv_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"
#include "common/checked.h"
#include "common/error.h"

bb_status bb_kv_init(bb_kv_cache *kv, int n_layer, int k_dim, int v_dim, uint32_t n_ctx,
                     uint32_t n_seq, bb_error *err) {
    memset(kv, 0, sizeof *kv);
    if (n_ctx == 0 || n_seq == 0 || n_layer <= 0 || k_dim <= 0 || v_dim <= 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "KV cache needs a positive size");
    kv->n_layer = n_layer;
    kv->k_dim = k_dim;
    kv->v_dim = v_dim;
    kv->n_blocks = (n_ctx + BB_KV_BLOCK - 1) / BB_KV_BLOCK;
    kv->n_seq = n_seq;
    size_t cells = (size_t)kv->n_blocks * BB_KV_BLOCK, kbytes, vbytes;
    if (!bb_mul_size(cells, (size_t)k_dim * 2, &kbytes) ||
        !bb_mul_size(cells, (size_t)v_dim * 2, &vbytes))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "KV cache size overflows");
    kv->k = calloc((size_t)n_layer, sizeof *kv->k);
    kv->v = calloc((size_t)n_layer, sizeof *kv->v);
    kv->free_blocks = malloc(kv->n_blocks * sizeof *kv->free_blocks);
    kv->seqs = calloc(n_seq, sizeof *kv->seqs);
    if (!kv->k || !kv->v || !kv->free_blocks || !kv->seqs) goto oom;
    /* every layer's K and V in one huge-page buffer (common/bigalloc.h): attention streams
     * them, in decode at depth straight from DRAM */
    kbytes = (kbytes + 63) & ~(size_t)63;
    vbytes = (vbytes + 63) & ~(size_t)63;
    size_t layer_bytes;
    if (kbytes > SIZE_MAX - vbytes || !bb_mul_size((size_t)n_layer, kbytes + vbytes, &layer_bytes))
        goto oom;
    if (!(kv->mem = bb_big_alloc(layer_bytes))) goto oom;
    kv->mem_bytes = layer_bytes;
    for (int l = 0; l < n_layer; l++) {
        kv->k[l] = (uint16_t *)((char *)kv->mem + (size_t)l * (kbytes + vbytes));
        kv->v[l] = (uint16_t *)((char *)kv->k[l] + kbytes);
    }
    /* hand out low block ids first: keeps a short conversation's cache compact */
    for (uint32_t i = 0; i < kv->n_blocks; i++)
        kv->free_blocks[i] = (int32_t)(kv->n_blocks - 1 - i);
    kv->n_free = kv->n_blocks;
    return BB_OK;
oom:
    bb_kv_release(kv);
    return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a KV cache of %u tokens", n_ctx);
}

void bb_kv_release(bb_kv_cache *kv) {
    bb_big_free(kv->mem, kv->mem_bytes);
    for (uint32_t s = 0; kv->seqs && s < kv->n_seq; s++)
        free(kv->seqs[s].blocks);
    free(kv->k);
    free(kv->v);
    free(kv->free_blocks);
    free(kv->seqs);
    memset(kv, 0, sizeof *kv);
}

uint32_t bb_kv_blocks_needed(const bb_kv_cache *kv, uint32_t seq, int32_t new_len) {
    uint32_t want = (uint32_t)((new_len + BB_KV_BLOCK - 1) / BB_KV_BLOCK);
    uint32_t have = kv->seqs[seq].n_blocks;
    return want > have ? want - have : 0;
}

bb_status bb_kv_grow(bb_kv_cache *kv, uint32_t seq, int32_t new_len, bb_error *err) {
    bb_kv_seq *s = &kv->seqs[seq];
    uint32_t want = (uint32_t)((new_len + BB_KV_BLOCK - 1) / BB_KV_BLOCK);
    if (want > s->cap) {
        uint32_t cap = s->cap ? s->cap : 4;
        while (cap < want)
            cap *= 2;
        int32_t *nb = realloc(s->blocks, cap * sizeof *nb);
        if (!nb) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a block table");
        s->blocks = nb;
        s->cap = cap;
    }
    if (want - s->n_blocks > kv->n_free && want > s->n_blocks)
        return bb_fail(err, BB_ERR_NO_SPACE, "KV cache is full");
    while (s->n_blocks < want)
        s->blocks[s->n_blocks++] = kv->free_blocks[--kv->n_free];
    if (new_len > s->len) s->len = new_len;
    return BB_OK;
}

void bb_kv_truncate(bb_kv_cache *kv, uint32_t seq, int32_t len) {
    bb_kv_seq *s = &kv->seqs[seq];
    if (len < 0) len = 0;
    if (len >= s->len) return;
    s->len = len;
    uint32_t keep = (uint32_t)((len + BB_KV_BLOCK - 1) / BB_KV_BLOCK);
    while (s->n_blocks > keep)
        kv->free_blocks[kv->n_free++] = s->blocks[--s->n_blocks];
}
