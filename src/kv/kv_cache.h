/*
 * Paged KV cache: one pool of fixed-size blocks (BB_KV_BLOCK token positions each) shared by
 * all sequences, with a block table per sequence (the PagedAttention layout, Kwon et al.
 * 2023). A sequence grows a block at a time and gives its blocks back when truncated or
 * removed, so memory is shared fairly among concurrent users and never fragments.
 *
 * Prefix sharing (vLLM's automatic prefix caching; SGLang's RadixAttention shares the same
 * way at token granularity): every full block is keyed by a hash chained over the token ids
 * from the start of its sequence, h(i) = mix(h(i-1), tokens of block i), and kept in a table
 * once its rows are written. A sequence whose prompt starts with the same tokens takes those
 * blocks read-only (a reference count per block) instead of computing them again. A lookup
 * never trusts the hash alone: it also compares the block's tokens and the identity of the
 * block before it (its id and the generation of its content), so a hash collision can only
 * cost a miss, never hand one user another user's rows. Blocks no sequence holds stay in
 * the table, on an LRU list, and are evicted oldest first when the pool needs room; a
 * sequence's last blocks are released first, so a prefix outlives its extensions.
 *
 * Copy-on-write: a block that is shared or in the table is never written. A prompt that
 * matches only the first k tokens of a cached block gets a fresh copy of those k rows; a
 * sequence truncated inside a shared block gets a private copy first. The partly filled last
 * block of a released sequence is kept too (evictable, never shared): the next turn of a
 * conversation copies its rows instead of computing them.
 *
 * Reuse is exact because a token's K/V rows depend only on the tokens at and before it (the
 * kernels are batch-invariant per token: neither the batch around it nor the prompt's
 * chunking changes a row), so a cached row holds the bits a recomputation would write.
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
    int32_t len;       /* positions 0..len-1 are filled */
    uint32_t n_sealed; /* leading full blocks hashed (and in the table or deduplicated) */
} bb_kv_seq;

/* Per block: what the prefix table knows about it. */
typedef struct bb_kv_block {
    uint64_t hash;       /* chained hash, valid once sealed */
    int32_t parent;      /* block before it in the sequence it was sealed in, -1: first */
    uint32_t parent_gen; /* the parent's generation when this block was sealed */
    uint32_t gen;        /* bumped whenever the block's content stops being what it was */
    int32_t ref;         /* sequences holding it */
    int32_t lru_prev, lru_next;
    int32_t bucket_next;
    bool sealed;  /* full and hashed */
    bool cached;  /* in the table */
    uint8_t tail; /* > 0: the partly filled last block of a released sequence, kept (on the
                     LRU list, outside the table) so that its first `tail` rows can be copied */
} bb_kv_block;

typedef struct bb_kv_cache {
    int n_layer;
    int k_dim; /* n_head_kv * head_dim_k */
    int v_dim; /* n_head_kv * head_dim_v */
    uint32_t n_blocks;
    uint16_t **k; /* per layer: n_blocks * BB_KV_BLOCK * k_dim halves */
    uint16_t **v;
    void *mem; /* the layers' K and V rows, one buffer (common/bigalloc.h) */
    size_t mem_bytes;
    int32_t *free_blocks; /* a stack of blocks holding nothing */
    uint32_t n_free;
    bb_kv_seq *seqs;
    uint32_t n_seq;

    /* prefix table */
    bool prefix_cache;  /* false: nothing is sealed, looked up or kept after release */
    bb_kv_block *meta;  /* n_blocks */
    bb_token *tokens;   /* n_blocks * BB_KV_BLOCK: the token of every cell */
    int32_t *buckets;   /* n_buckets chains of cached blocks, by hash */
    uint32_t n_buckets; /* a power of two */
    int32_t lru_head;   /* oldest cached block no sequence holds, -1: none */
    int32_t lru_tail;   /* most recently released */
    uint32_t n_lru;     /* cached blocks no sequence holds (evictable) */
    uint32_t n_cached;  /* blocks in the table */
    uint64_t evictions; /* cached blocks reclaimed for new content */
} bb_kv_cache;

bb_status bb_kv_init(bb_kv_cache *kv, int n_layer, int k_dim, int v_dim, uint32_t n_ctx,
                     uint32_t n_seq, bool prefix_cache, bb_error *err);
void bb_kv_release(bb_kv_cache *kv);

/* Blocks that can be handed out: free ones plus cached ones no sequence holds. */
static inline uint32_t bb_kv_available(const bb_kv_cache *kv) {
    return kv->n_free + kv->n_lru;
}
/* Blocks a sequence needs beyond what it holds to reach new_len positions. */
uint32_t bb_kv_blocks_needed(const bb_kv_cache *kv, uint32_t seq, int32_t new_len);
/* Grows the sequence's block table to cover new_len positions (the caller has checked
 * bb_kv_available against bb_kv_blocks_needed; evicts the least recently used cached blocks
 * when no free one is left) and sets len. */
bb_status bb_kv_grow(bb_kv_cache *kv, uint32_t seq, int32_t new_len, bb_error *err);
/* Drops positions >= len, releasing whole blocks; a block cut inside is made private first
 * (copied when shared). Fails only when that copy finds no room. */
bb_status bb_kv_truncate(bb_kv_cache *kv, uint32_t seq, int32_t len, bb_error *err);

/* Records the token of position pos (inside the sequence's blocks) for sealing. */
static inline void bb_kv_set_token(bb_kv_cache *kv, uint32_t seq, int32_t pos, bb_token tok) {
    const bb_kv_seq *s = &kv->seqs[seq];
    kv->tokens[(int64_t)s->blocks[pos / BB_KV_BLOCK] * BB_KV_BLOCK + pos % BB_KV_BLOCK] = tok;
}
/* Seals the sequence's newly full blocks once their rows are written: each goes into the
 * table, or, when the table already holds the same block, the sequence takes that one and
 * its own copy is freed. */
void bb_kv_seal(bb_kv_cache *kv, uint32_t seq);

/* Attaches the longest cached prefix of tokens[0..n) to the empty sequence seq, leaving at
 * least one token to compute (its logits are wanted): whole blocks shared, then a copy of
 * the rows of a partly matching block. Returns the positions now filled (0 when nothing
 * matched, the cache is off, or seq is not empty). */
int32_t bb_kv_attach_prefix(bb_kv_cache *kv, uint32_t seq, const bb_token *tokens, int32_t n);
/* Positions of tokens[0..n) that bb_kv_attach_prefix would share from blocks some sequence
 * holds already (they cost the pool nothing more). */
int32_t bb_kv_prefix_held_tokens(const bb_kv_cache *kv, const bb_token *tokens, int32_t n);

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
