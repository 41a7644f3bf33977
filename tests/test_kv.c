/* KV cache tests: the paged pool and its prefix table, driven directly (no model). A fake
 * "forward pass" writes each position's K and V rows as a function of the tokens up to it,
 * as a real one does, so a row taken from the cache can be checked against the row a
 * recomputation would write: shared prefixes, reference counts, copy-on-write, LRU eviction
 * under pressure, deduplication, truncation, and the cache switched off. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "kv/kv_cache.h"
#include "testutil.h"

#define N_LAYER 2
#define K_DIM 4
#define V_DIM 3

/* The row value of position pos after tokens t[0..pos]: depends on the whole prefix. */
static uint16_t row_value(const bb_token *t, int32_t pos, int layer, int j, int kv_sel) {
    uint32_t h = 2166136261u ^ (uint32_t)(layer * 31 + j * 7 + kv_sel);
    for (int32_t i = 0; i <= pos; i++)
        h = (h ^ (uint32_t)t[i]) * 16777619u;
    return (uint16_t)(h >> 16);
}

/* Feeds tokens[from..to) to seq as a forward pass would: grow, record, write rows, seal. */
static bool feed(bb_kv_cache *kv, uint32_t seq, const bb_token *t, int32_t from, int32_t to) {
    bb_error err = {0};
    if (bb_kv_blocks_needed(kv, seq, to) > bb_kv_available(kv)) return false;
    if (bb_kv_grow(kv, seq, to, &err) != BB_OK) return false;
    for (int32_t p = from; p < to; p++) {
        bb_kv_set_token(kv, seq, p, t[p]);
        for (int l = 0; l < N_LAYER; l++) {
            for (int j = 0; j < K_DIM; j++)
                bb_kv_k(kv, l, seq, p)[j] = row_value(t, p, l, j, 0);
            for (int j = 0; j < V_DIM; j++)
                bb_kv_v(kv, l, seq, p)[j] = row_value(t, p, l, j, 1);
        }
    }
    bb_kv_seal(kv, seq);
    return true;
}

/* Every cached row of seq equals what tokens t would compute. */
static bool rows_ok(const bb_kv_cache *kv, uint32_t seq, const bb_token *t) {
    for (int32_t p = 0; p < kv->seqs[seq].len; p++)
        for (int l = 0; l < N_LAYER; l++) {
            for (int j = 0; j < K_DIM; j++)
                if (bb_kv_k(kv, l, seq, p)[j] != row_value(t, p, l, j, 0)) return false;
            for (int j = 0; j < V_DIM; j++)
                if (bb_kv_v(kv, l, seq, p)[j] != row_value(t, p, l, j, 1)) return false;
        }
    return true;
}

static void fill(bb_token *t, int32_t n, int seed) {
    for (int32_t i = 0; i < n; i++)
        t[i] = (bb_token)((seed * 131 + i * 17) % 1000);
}

static void init(bb_kv_cache *kv, uint32_t n_ctx, uint32_t n_seq, bool on) {
    bb_error err = {0};
    bb_status st = bb_kv_init(kv, N_LAYER, K_DIM, V_DIM, n_ctx, n_seq, on, &err);
    CHECKF(st == BB_OK, "%s", err.message);
}

static void clear(bb_kv_cache *kv, uint32_t seq) {
    CHECK(bb_kv_truncate(kv, seq, 0, NULL) == BB_OK);
}

/* Two sequences whose prompts start the same way: the second shares the first's full blocks
 * (same block ids, reference count 2) and computes only the rest; both read right rows. */
static void test_shared_prefix(void) {
    bb_kv_cache kv;
    init(&kv, 256, 4, true);
    bb_token a[64], b[64];
    fill(a, 64, 1);
    memcpy(b, a, 40 * sizeof *b);
    fill(b + 40, 24, 2);
    CHECK(feed(&kv, 0, a, 0, 40)); /* blocks 0 and 1 full, block 2 partial */
    CHECK(kv.n_cached == 2);
    int32_t got = bb_kv_attach_prefix(&kv, 1, b, 64);
    CHECKF(got == 32, "reused %d tokens, want 32 (two full blocks)", got);
    CHECK(kv.seqs[1].blocks[0] == kv.seqs[0].blocks[0]);
    CHECK(kv.seqs[1].blocks[1] == kv.seqs[0].blocks[1]);
    CHECK(kv.meta[kv.seqs[0].blocks[0]].ref == 2);
    CHECK(bb_kv_prefix_held_tokens(&kv, b, 64) == 32);
    uint32_t before = bb_kv_available(&kv);
    CHECK(feed(&kv, 1, b, got, 64));
    CHECKF(before - bb_kv_available(&kv) == 2, "the rest took %u blocks, want 2",
           before - bb_kv_available(&kv));
    CHECK(rows_ok(&kv, 0, a));
    CHECK(rows_ok(&kv, 1, b));
    /* a third sequence with the whole of b shares all its full blocks (3), and copies the
     * first 15 rows of the fourth: the last token is always computed, for its logits */
    got = bb_kv_attach_prefix(&kv, 2, b, 64);
    CHECKF(got == 63, "reused %d of 64, want 63", got);
    CHECK(kv.seqs[2].blocks[3] != kv.seqs[1].blocks[3]);
    CHECK(feed(&kv, 2, b, got, 64));
    CHECK(rows_ok(&kv, 2, b));
    CHECK(kv.seqs[2].blocks[3] == kv.seqs[1].blocks[3]); /* sealed: the same block as b's */
    for (uint32_t s = 0; s < 3; s++)
        clear(&kv, s);
    CHECK(bb_kv_available(&kv) == kv.n_blocks);
    CHECK(kv.n_lru == kv.n_cached + 1); /* + sequence 0's partly filled block, kept */
    bb_kv_release(&kv);
}

/* A prompt matching the first k tokens of a cached block gets a private copy of those k rows;
 * what it writes next never reaches the block others read. */
static void test_copy_on_write(void) {
    bb_kv_cache kv;
    init(&kv, 256, 4, true);
    bb_token a[48], b[60];
    fill(a, 48, 3);
    memcpy(b, a, 40 * sizeof *b);
    fill(b + 40, 20, 4);
    CHECK(feed(&kv, 0, a, 0, 48)); /* three full blocks */
    int32_t src = kv.seqs[0].blocks[2];
    int32_t got = bb_kv_attach_prefix(&kv, 1, b, 60);
    CHECKF(got == 40, "reused %d tokens, want 40 (32 shared + 8 copied)", got);
    CHECK(kv.seqs[1].n_blocks == 3 && kv.seqs[1].blocks[2] != src);
    CHECK(kv.meta[src].ref == 1);
    CHECK(feed(&kv, 1, b, got, 60));
    CHECK(rows_ok(&kv, 0, a)); /* the source block kept its rows */
    CHECK(rows_ok(&kv, 1, b));
    /* truncating inside a shared block copies it first */
    bb_kv_truncate(&kv, 1, 0, NULL);
    CHECK(bb_kv_attach_prefix(&kv, 1, a, 48) == 47);
    int32_t shared = kv.seqs[1].blocks[1];
    CHECK(kv.meta[shared].ref == 2);
    CHECK(bb_kv_truncate(&kv, 1, 20, NULL) == BB_OK);
    CHECK(kv.seqs[1].blocks[1] != shared && kv.meta[shared].ref == 1);
    bb_token c[40];
    memcpy(c, a, 20 * sizeof *c);
    fill(c + 20, 20, 5);
    CHECK(feed(&kv, 1, c, 20, 40));
    CHECK(rows_ok(&kv, 0, a));
    CHECK(rows_ok(&kv, 1, c));
    /* truncating inside a cached block only its sequence holds takes it out of the table */
    uint32_t cached = kv.n_cached;
    CHECK(bb_kv_truncate(&kv, 0, 40, NULL) == BB_OK);
    CHECK(kv.n_cached == cached - 1);
    /* blocks 0, 1, and the 15 rows sequence 1 copied and left behind when it was cut back */
    got = bb_kv_attach_prefix(&kv, 2, a, 48);
    CHECKF(got == 47, "reused %d tokens, want 47", got);
    CHECK(rows_ok(&kv, 2, a));
    bb_kv_release(&kv);
}

/* A conversation's next turn: the released sequence's partly filled last block is kept, and
 * a prompt extending the whole sequence copies its rows too; eviction takes it like any. */
static void test_kept_tail(void) {
    bb_kv_cache kv;
    init(&kv, 4 * BB_KV_BLOCK, 2, true);
    bb_token a[64];
    fill(a, 64, 14);
    CHECK(feed(&kv, 0, a, 0, 21)); /* 1 full block + 5 rows */
    int32_t tail = kv.seqs[0].blocks[1];
    clear(&kv, 0);
    CHECK(kv.meta[tail].tail == 5 && kv.n_lru == 2 && bb_kv_available(&kv) == 4);
    int32_t got = bb_kv_attach_prefix(&kv, 1, a, 30);
    CHECKF(got == 21, "next turn reused %d tokens, want all 21", got);
    CHECK(kv.seqs[1].blocks[1] != tail); /* a copy: the kept block is never written */
    CHECK(feed(&kv, 1, a, got, 30));
    CHECK(rows_ok(&kv, 1, a));
    clear(&kv, 1);
    /* a prompt that leaves the conversation inside the tail copies only what matches */
    bb_token b[30];
    memcpy(b, a, 18 * sizeof *b);
    fill(b + 18, 12, 15);
    got = bb_kv_attach_prefix(&kv, 0, b, 30);
    CHECKF(got == 18, "diverging turn reused %d tokens, want 18", got);
    CHECK(feed(&kv, 0, b, got, 30));
    CHECK(rows_ok(&kv, 0, b));
    clear(&kv, 0);
    bb_kv_release(&kv);
}

/* A full pool: blocks no sequence holds are evicted least recently used first, a prefix's
 * last blocks before its first, and a block whose parent was evicted is never matched. */
static void test_eviction(void) {
    bb_kv_cache kv;
    init(&kv, 8 * BB_KV_BLOCK, 4, true);
    bb_token a[64], b[96], c[64];
    fill(a, 64, 6);
    fill(b, 96, 7);
    CHECK(feed(&kv, 0, a, 0, 64)); /* 4 blocks */
    clear(&kv, 0);
    CHECK(kv.n_lru == 4 && kv.n_free == 4 && bb_kv_available(&kv) == 8);
    CHECK(feed(&kv, 1, b, 0, 96)); /* 6 blocks: 4 free + the 2 oldest cached */
    CHECKF(kv.evictions == 2, "%llu evictions, want 2", (unsigned long long)kv.evictions);
    int32_t got = bb_kv_attach_prefix(&kv, 2, a, 64);
    CHECKF(got == 32, "after eviction %d tokens reused, want the first two blocks' 32", got);
    CHECK(rows_ok(&kv, 2, a));
    clear(&kv, 2);
    /* the pool cannot give more than it has: held blocks are never evicted */
    fill(c, 64, 13);
    CHECK(bb_kv_available(&kv) == 2);
    CHECK(!feed(&kv, 3, c, 0, 64));
    CHECK(rows_ok(&kv, 1, b));
    clear(&kv, 3);
    clear(&kv, 1);
    /* a prefix's last block goes first: with the first still cached, a lookup finds it */
    bb_kv_release(&kv);
    init(&kv, 4 * BB_KV_BLOCK, 3, true);
    fill(a, 64, 8);
    CHECK(feed(&kv, 0, a, 0, 32));
    int32_t second = kv.seqs[0].blocks[1];
    clear(&kv, 0);
    fill(c, 64, 9);
    CHECK(feed(&kv, 1, c, 0, 48)); /* 2 free + the oldest cached: the second block */
    CHECK(kv.evictions == 1 && kv.seqs[1].blocks[2] == second);
    CHECK(bb_kv_attach_prefix(&kv, 0, a, 40) == 16);
    CHECK(rows_ok(&kv, 0, a));
    clear(&kv, 0);
    clear(&kv, 1);
    /* a block is matched only after the very content it was computed after: once its parent
     * left the table (here truncated into and rewritten), it is not found */
    CHECK(feed(&kv, 0, a, 0, 32));
    clear(&kv, 0);
    CHECK(bb_kv_attach_prefix(&kv, 0, a, 17) == 16);
    CHECK(bb_kv_truncate(&kv, 0, 8, NULL) == BB_OK);
    CHECK(feed(&kv, 0, a, 8, 16)); /* the same tokens again, sealed anew */
    CHECK(bb_kv_attach_prefix(&kv, 1, a, 40) == 16);
    CHECK(rows_ok(&kv, 1, a));
    bb_kv_release(&kv);
}

/* The same blocks computed by two sequences at once end up stored once; a block whose tokens
 * match but whose prefix differs is not shared. */
static void test_dedup_and_identity(void) {
    bb_kv_cache kv;
    init(&kv, 256, 4, true);
    bb_token a[40], b[40];
    fill(a, 40, 10);
    CHECK(feed(&kv, 0, a, 0, 10));
    CHECK(feed(&kv, 1, a, 0, 10));
    uint32_t avail = bb_kv_available(&kv);
    CHECK(feed(&kv, 0, a, 10, 33));
    CHECK(feed(&kv, 1, a, 10, 33));
    CHECK(kv.seqs[0].blocks[0] == kv.seqs[1].blocks[0]);
    CHECK(kv.seqs[0].blocks[1] == kv.seqs[1].blocks[1]);
    /* 2 blocks each, then sequence 1's copies of blocks 0 and 1 are given back */
    CHECKF(avail - bb_kv_available(&kv) == 2, "took %u blocks, want 2",
           avail - bb_kv_available(&kv));
    CHECK(rows_ok(&kv, 0, a) && rows_ok(&kv, 1, a));
    /* b: a's second block's tokens after a different first block */
    fill(b, 16, 11);
    memcpy(b + 16, a + 16, 16 * sizeof *b);
    b[32] = 1;
    CHECK(bb_kv_attach_prefix(&kv, 2, b, 33) == 0);
    bb_kv_release(&kv);
}

/* Switched off, nothing is shared or kept. */
static void test_off(void) {
    bb_kv_cache kv;
    init(&kv, 128, 2, false);
    bb_token a[40];
    fill(a, 40, 12);
    CHECK(feed(&kv, 0, a, 0, 40));
    CHECK(kv.n_cached == 0);
    CHECK(bb_kv_attach_prefix(&kv, 1, a, 40) == 0);
    CHECK(bb_kv_prefix_held_tokens(&kv, a, 40) == 0);
    clear(&kv, 0);
    CHECK(kv.n_free == kv.n_blocks && kv.n_lru == 0);
    bb_kv_release(&kv);
}

int main(void) {
    test_shared_prefix();
    test_copy_on_write();
    test_kept_tail();
    test_eviction();
    test_dedup_and_identity();
    test_off();
    return tu_finish("test_kv");
}
