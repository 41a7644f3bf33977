/* The paged KV cache and its prefix table (see kv_cache.h for the model it follows). */
#include "kv/kv_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/bigalloc.h"
#include "common/checked.h"
#include "common/error.h"

/* The chain's start. The table belongs to one context, hence one model: a hash never meets
 * one computed from another model's rows. */
#define HASH_SEED 0x62656e6261675f6bULL

bb_status bb_kv_init(bb_kv_cache *kv, int n_layer, int k_dim, int v_dim, uint32_t n_ctx,
                     uint32_t n_seq, bool prefix_cache, bb_error *err) {
    memset(kv, 0, sizeof *kv);
    if (n_ctx == 0 || n_seq == 0 || n_layer <= 0 || k_dim <= 0 || v_dim <= 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "KV cache needs a positive size");
    kv->n_layer = n_layer;
    kv->k_dim = k_dim;
    kv->v_dim = v_dim;
    kv->n_blocks = (n_ctx + BB_KV_BLOCK - 1) / BB_KV_BLOCK;
    kv->n_seq = n_seq;
    kv->prefix_cache = prefix_cache;
    kv->lru_head = kv->lru_tail = -1;
    size_t cells = (size_t)kv->n_blocks * BB_KV_BLOCK, kbytes, vbytes;
    if (!bb_mul_size(cells, (size_t)k_dim * 2, &kbytes) ||
        !bb_mul_size(cells, (size_t)v_dim * 2, &vbytes))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "KV cache size overflows");
    kv->n_buckets = 1;
    while (kv->n_buckets < kv->n_blocks)
        kv->n_buckets *= 2;
    kv->k = calloc((size_t)n_layer, sizeof *kv->k);
    kv->v = calloc((size_t)n_layer, sizeof *kv->v);
    kv->free_blocks = malloc(kv->n_blocks * sizeof *kv->free_blocks);
    kv->seqs = calloc(n_seq, sizeof *kv->seqs);
    kv->meta = calloc(kv->n_blocks, sizeof *kv->meta);
    kv->tokens = calloc(cells, sizeof *kv->tokens);
    kv->buckets = malloc(kv->n_buckets * sizeof *kv->buckets);
    if (!kv->k || !kv->v || !kv->free_blocks || !kv->seqs || !kv->meta || !kv->tokens ||
        !kv->buckets)
        goto oom;
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
    for (uint32_t i = 0; i < kv->n_buckets; i++)
        kv->buckets[i] = -1;
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
    free(kv->meta);
    free(kv->tokens);
    free(kv->buckets);
    memset(kv, 0, sizeof *kv);
}

/* ---------------------------------------------------------------- the table */

/* FNV-1a over the block's token ids, continuing the previous block's hash, then the
 * splitmix64 finalizer so that every bit of the bucket index depends on every token. */
static uint64_t block_hash(uint64_t parent_hash, const bb_token *t) {
    uint64_t h = parent_hash ^ 0xcbf29ce484222325ULL;
    for (int i = 0; i < BB_KV_BLOCK; i++)
        h = (h ^ (uint32_t)t[i]) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static void lru_remove(bb_kv_cache *kv, int32_t b) {
    bb_kv_block *m = &kv->meta[b];
    if (m->lru_prev >= 0)
        kv->meta[m->lru_prev].lru_next = m->lru_next;
    else
        kv->lru_head = m->lru_next;
    if (m->lru_next >= 0)
        kv->meta[m->lru_next].lru_prev = m->lru_prev;
    else
        kv->lru_tail = m->lru_prev;
    m->lru_prev = m->lru_next = -1;
    kv->n_lru--;
}

static void lru_push(bb_kv_cache *kv, int32_t b) {
    bb_kv_block *m = &kv->meta[b];
    m->lru_next = -1;
    m->lru_prev = kv->lru_tail;
    if (kv->lru_tail >= 0)
        kv->meta[kv->lru_tail].lru_next = b;
    else
        kv->lru_head = b;
    kv->lru_tail = b;
    kv->n_lru++;
}

static void table_insert(bb_kv_cache *kv, int32_t b) {
    bb_kv_block *m = &kv->meta[b];
    uint32_t i = (uint32_t)m->hash & (kv->n_buckets - 1);
    m->bucket_next = kv->buckets[i];
    kv->buckets[i] = b;
    m->cached = true;
    kv->n_cached++;
}

/* Takes b out of the table; its content stops being addressable, so children sealed after it
 * no longer match (its generation moves on). */
static void table_remove(bb_kv_cache *kv, int32_t b) {
    bb_kv_block *m = &kv->meta[b];
    if (!m->cached) return;
    int32_t *pp = &kv->buckets[(uint32_t)m->hash & (kv->n_buckets - 1)];
    while (*pp != b)
        pp = &kv->meta[*pp].bucket_next;
    *pp = m->bucket_next;
    m->cached = false;
    m->sealed = false;
    m->gen++;
    kv->n_cached--;
}

/* The cached block after `parent` (-1: at the start) holding exactly tokens t, or -1. */
static int32_t table_find(const bb_kv_cache *kv, uint64_t hash, int32_t parent, const bb_token *t) {
    uint32_t pgen = parent >= 0 ? kv->meta[parent].gen : 0;
    for (int32_t b = kv->buckets[(uint32_t)hash & (kv->n_buckets - 1)]; b >= 0;
         b = kv->meta[b].bucket_next) {
        const bb_kv_block *m = &kv->meta[b];
        if (m->hash == hash && m->parent == parent && m->parent_gen == pgen &&
            !memcmp(kv->tokens + (size_t)b * BB_KV_BLOCK, t, BB_KV_BLOCK * sizeof *t))
            return b;
    }
    return -1;
}

/* ---------------------------------------------------------------- blocks */

static void block_hold(bb_kv_cache *kv, int32_t b) {
    if (kv->meta[b].ref++ == 0 && (kv->meta[b].cached || kv->meta[b].tail)) lru_remove(kv, b);
}

/* Drops one reference; an unheld block stays cached (evictable) or becomes free. */
static void block_put(bb_kv_cache *kv, int32_t b) {
    bb_kv_block *m = &kv->meta[b];
    if (--m->ref > 0) return;
    if (m->cached || m->tail) {
        lru_push(kv, b);
        return;
    }
    m->sealed = false;
    m->gen++;
    kv->free_blocks[kv->n_free++] = b;
}

/* A block with nothing in it, held once: a free one, else the least recently used cached
 * one no sequence holds. -1 when neither is left. */
static int32_t block_take(bb_kv_cache *kv) {
    int32_t b;
    if (kv->n_free) {
        b = kv->free_blocks[--kv->n_free];
    } else if (kv->lru_head >= 0) {
        b = kv->lru_head;
        lru_remove(kv, b);
        table_remove(kv, b);
        if (kv->meta[b].tail) kv->meta[b].gen++;
        kv->evictions++;
    } else {
        return -1;
    }
    kv->meta[b].ref = 1;
    kv->meta[b].sealed = false;
    kv->meta[b].tail = 0;
    return b;
}

/* Copies the first n rows (every layer, K and V) and tokens of block src into dst. */
static void block_copy(bb_kv_cache *kv, int32_t dst, int32_t src, int n) {
    for (int l = 0; l < kv->n_layer; l++) {
        memcpy(kv->k[l] + (size_t)dst * BB_KV_BLOCK * kv->k_dim,
               kv->k[l] + (size_t)src * BB_KV_BLOCK * kv->k_dim,
               (size_t)n * kv->k_dim * sizeof(uint16_t));
        memcpy(kv->v[l] + (size_t)dst * BB_KV_BLOCK * kv->v_dim,
               kv->v[l] + (size_t)src * BB_KV_BLOCK * kv->v_dim,
               (size_t)n * kv->v_dim * sizeof(uint16_t));
    }
    memcpy(kv->tokens + (size_t)dst * BB_KV_BLOCK, kv->tokens + (size_t)src * BB_KV_BLOCK,
           (size_t)n * sizeof *kv->tokens);
}

static bb_status ensure_cap(bb_kv_seq *s, uint32_t want, bb_error *err) {
    if (want <= s->cap) return BB_OK;
    uint32_t cap = s->cap ? s->cap : 4;
    while (cap < want)
        cap *= 2;
    int32_t *nb = realloc(s->blocks, cap * sizeof *nb);
    if (!nb) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a block table");
    s->blocks = nb;
    s->cap = cap;
    return BB_OK;
}

/* ---------------------------------------------------------------- sequences */

uint32_t bb_kv_blocks_needed(const bb_kv_cache *kv, uint32_t seq, int32_t new_len) {
    uint32_t want = (uint32_t)((new_len + BB_KV_BLOCK - 1) / BB_KV_BLOCK);
    uint32_t have = kv->seqs[seq].n_blocks;
    return want > have ? want - have : 0;
}

bb_status bb_kv_grow(bb_kv_cache *kv, uint32_t seq, int32_t new_len, bb_error *err) {
    bb_kv_seq *s = &kv->seqs[seq];
    uint32_t want = (uint32_t)((new_len + BB_KV_BLOCK - 1) / BB_KV_BLOCK);
    bb_status st = ensure_cap(s, want, err);
    if (st != BB_OK) return st;
    if (want > s->n_blocks && want - s->n_blocks > bb_kv_available(kv))
        return bb_fail(err, BB_ERR_NO_SPACE, "KV cache is full");
    while (s->n_blocks < want)
        s->blocks[s->n_blocks++] = block_take(kv);
    if (new_len > s->len) s->len = new_len;
    return BB_OK;
}

bb_status bb_kv_truncate(bb_kv_cache *kv, uint32_t seq, int32_t len, bb_error *err) {
    bb_kv_seq *s = &kv->seqs[seq];
    if (len < 0) len = 0;
    if (len >= s->len) return BB_OK;
    uint32_t keep = (uint32_t)((len + BB_KV_BLOCK - 1) / BB_KV_BLOCK);
    int32_t cut = keep > 0 && len % BB_KV_BLOCK ? s->blocks[keep - 1] : -1;
    bool copy = cut >= 0 && kv->meta[cut].ref > 1;
    if (copy && bb_kv_available(kv) == 0) {
        bool frees = false; /* a dropped block this sequence alone holds makes room */
        for (uint32_t i = keep; i < s->n_blocks; i++)
            frees |= kv->meta[s->blocks[i]].ref == 1;
        if (!frees)
            return bb_fail(err, BB_ERR_NO_SPACE,
                           "no room to copy the shared block cut by truncating to %d", len);
    }
    /* A partly filled last block this sequence alone holds is kept for its rows. */
    if (kv->prefix_cache && s->len % BB_KV_BLOCK && keep < s->n_blocks) {
        bb_kv_block *m = &kv->meta[s->blocks[s->n_blocks - 1]];
        if (m->ref == 1 && !m->cached) {
            m->tail = (uint8_t)(s->len % BB_KV_BLOCK);
            m->parent = s->n_blocks >= 2 ? s->blocks[s->n_blocks - 2] : -1;
            m->parent_gen = m->parent >= 0 ? kv->meta[m->parent].gen : 0;
        }
    }
    /* the last block first: a prefix's later blocks are evicted before its earlier ones */
    while (s->n_blocks > keep)
        block_put(kv, s->blocks[--s->n_blocks]);
    if (copy) {
        int32_t b = block_take(kv);
        block_copy(kv, b, cut, len % BB_KV_BLOCK);
        block_put(kv, cut);
        s->blocks[keep - 1] = b;
    } else if (cut >= 0) {
        table_remove(kv, cut); /* its tail will be overwritten */
    }
    s->len = len;
    if (s->n_sealed > (uint32_t)len / BB_KV_BLOCK) s->n_sealed = (uint32_t)len / BB_KV_BLOCK;
    return BB_OK;
}

void bb_kv_seal(bb_kv_cache *kv, uint32_t seq) {
    bb_kv_seq *s = &kv->seqs[seq];
    if (!kv->prefix_cache) return;
    while ((int64_t)(s->n_sealed + 1) * BB_KV_BLOCK <= s->len) {
        uint32_t i = s->n_sealed++;
        int32_t b = s->blocks[i];
        if (kv->meta[b].sealed) continue;
        int32_t parent = i ? s->blocks[i - 1] : -1;
        uint64_t ph = parent >= 0 ? kv->meta[parent].hash : HASH_SEED;
        const bb_token *t = kv->tokens + (size_t)b * BB_KV_BLOCK;
        uint64_t h = block_hash(ph, t);
        int32_t same = table_find(kv, h, parent, t);
        if (same >= 0) { /* computed twice at once: keep one copy */
            block_hold(kv, same);
            s->blocks[i] = same;
            block_put(kv, b);
            continue;
        }
        bb_kv_block *m = &kv->meta[b];
        m->hash = h;
        m->parent = parent;
        m->parent_gen = parent >= 0 ? kv->meta[parent].gen : 0;
        m->sealed = true;
        table_insert(kv, b);
    }
}

/* Walks the cached chain along tokens: how many whole blocks match (at most max_blocks), and
 * the last one matched (-1: none). */
static uint32_t match_blocks(const bb_kv_cache *kv, const bb_token *tokens, uint32_t max_blocks,
                             int32_t *found, int32_t *last) {
    int32_t parent = -1;
    uint64_t ph = HASH_SEED;
    uint32_t i = 0;
    for (; i < max_blocks; i++) {
        const bb_token *t = tokens + (size_t)i * BB_KV_BLOCK;
        uint64_t h = block_hash(ph, t);
        int32_t b = table_find(kv, h, parent, t);
        if (b < 0) break;
        if (found) found[i] = b;
        parent = b;
        ph = h;
    }
    *last = parent;
    return i;
}

int32_t bb_kv_prefix_held_tokens(const bb_kv_cache *kv, const bb_token *tokens, int32_t n) {
    if (!kv->prefix_cache || n < 2) return 0;
    uint32_t max_blocks = (uint32_t)(n - 1) / BB_KV_BLOCK, held = 0;
    int32_t parent = -1;
    uint64_t ph = HASH_SEED;
    for (uint32_t i = 0; i < max_blocks; i++) {
        const bb_token *t = tokens + (size_t)i * BB_KV_BLOCK;
        uint64_t h = block_hash(ph, t);
        int32_t b = table_find(kv, h, parent, t);
        if (b < 0) break;
        held += kv->meta[b].ref > 0;
        parent = b;
        ph = h;
    }
    return (int32_t)held * BB_KV_BLOCK;
}

int32_t bb_kv_attach_prefix(bb_kv_cache *kv, uint32_t seq, const bb_token *tokens, int32_t n) {
    bb_kv_seq *s = &kv->seqs[seq];
    if (!kv->prefix_cache || s->len != 0 || s->n_blocks != 0 || n < 2) return 0;
    int32_t max = n - 1; /* the last token is computed: its logits are wanted */
    uint32_t max_blocks = (uint32_t)max / BB_KV_BLOCK;
    if (ensure_cap(s, max_blocks + 1, NULL) != BB_OK) return 0;
    int32_t parent;
    uint32_t nb = match_blocks(kv, tokens, max_blocks, s->blocks, &parent);
    for (uint32_t i = 0; i < nb; i++)
        block_hold(kv, s->blocks[i]);
    s->n_blocks = s->n_sealed = nb;
    s->len = (int32_t)nb * BB_KV_BLOCK;

    /* The next block: the cached child (or kept tail) of the last match sharing the longest
     * run of leading tokens with the prompt gets its rows copied (copy-on-write: the copy is
     * written on). */
    const bb_token *t = tokens + (size_t)nb * BB_KV_BLOCK;
    int32_t room = max - s->len, best = -1, best_k = 0;
    if (room > BB_KV_BLOCK - 1) room = BB_KV_BLOCK - 1;
    uint32_t pgen = parent >= 0 ? kv->meta[parent].gen : 0;
    for (uint32_t b = 0; b < kv->n_blocks && best_k < room; b++) {
        const bb_kv_block *m = &kv->meta[b];
        if (!(m->cached || m->tail) || m->parent != parent || m->parent_gen != pgen) continue;
        const bb_token *c = kv->tokens + (size_t)b * BB_KV_BLOCK;
        int32_t k = 0, valid = m->cached ? BB_KV_BLOCK : m->tail;
        while (k < room && k < valid && c[k] == t[k])
            k++;
        if (k > best_k) {
            best_k = k;
            best = (int32_t)b;
        }
    }
    if (best >= 0) {
        block_hold(kv, best); /* not evicted by the take below */
        int32_t b = block_take(kv);
        if (b >= 0) {
            block_copy(kv, b, best, best_k);
            s->blocks[s->n_blocks++] = b;
            s->len += best_k;
        }
        block_put(kv, best);
    }
    return s->len;
}
