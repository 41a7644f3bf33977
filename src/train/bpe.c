/* Byte-level BPE training and encoding; see bpe.h. */
#define _GNU_SOURCE /* memmem */
#include "train/bpe.h"

#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "train/pretok.h"

/* ---------------------------------------------------------------- hash maps */

static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p; /* FNV-1a */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    return x ^ (x >> 33);
}

/* Open addressing, keys stored +1 so 0 marks an empty slot. */
typedef struct u64map {
    uint64_t *keys;
    int64_t *vals;
    size_t cap, n;
} u64map;

static void u64map_free(u64map *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static bool u64map_reserve(u64map *m, size_t want) {
    if (want * 2 < m->cap) return true;
    size_t cap = m->cap ? m->cap : 64;
    while (want * 2 >= cap)
        cap *= 2;
    u64map n = {calloc(cap, sizeof(uint64_t)), calloc(cap, sizeof(int64_t)), cap, 0};
    if (!n.keys || !n.vals) {
        u64map_free(&n);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = hash_u64(m->keys[i]) & (cap - 1);
        while (n.keys[j])
            j = (j + 1) & (cap - 1);
        n.keys[j] = m->keys[i];
        n.vals[j] = m->vals[i];
        n.n++;
    }
    u64map_free(m);
    *m = n;
    return true;
}

/* Slot of key (inserting it with value 0 when absent); NULL when out of memory. */
static int64_t *u64map_slot(u64map *m, uint64_t key) {
    if (!u64map_reserve(m, m->n + 1)) return NULL;
    size_t j = hash_u64(key + 1) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != key + 1)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j]) {
        m->keys[j] = key + 1;
        m->vals[j] = 0;
        m->n++;
    }
    return &m->vals[j];
}

static bool u64map_get(const u64map *m, uint64_t key, int64_t *val) {
    if (!m->cap) return false;
    size_t j = hash_u64(key + 1) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->keys[j] == key + 1) {
            *val = m->vals[j];
            return true;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return false;
}

/* Byte-string keys copied into one arena; slots hold an entry index + 1. */
typedef struct strmap {
    size_t *slots;
    size_t cap;
    size_t *key_off, *key_len;
    int64_t *vals;
    size_t n, n_cap;
    char *arena;
    size_t arena_n, arena_cap;
} strmap;

static void strmap_free(strmap *m) {
    free(m->slots);
    free(m->key_off);
    free(m->key_len);
    free(m->vals);
    free(m->arena);
    memset(m, 0, sizeof *m);
}

static bool strmap_rehash(strmap *m, size_t cap) {
    size_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return false;
    for (size_t e = 0; e < m->n; e++) {
        size_t j = hash_bytes(m->arena + m->key_off[e], m->key_len[e]) & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = e + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

static size_t strmap_find_slot(const strmap *m, const char *k, size_t n) {
    size_t j = hash_bytes(k, n) & (m->cap - 1);
    while (m->slots[j]) {
        size_t e = m->slots[j] - 1;
        if (m->key_len[e] == n && !memcmp(m->arena + m->key_off[e], k, n)) return j;
        j = (j + 1) & (m->cap - 1);
    }
    return j;
}

/* Entry of key k, or -1 when absent. */
static int64_t strmap_get(const strmap *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    size_t j = strmap_find_slot(m, k, n);
    return m->slots[j] ? (int64_t)m->slots[j] - 1 : -1;
}

/* Entry of key k, added with value 0 when absent; -1 when out of memory. */
static int64_t strmap_add(strmap *m, const char *k, size_t n) {
    if ((m->n + 1) * 2 >= m->cap && !strmap_rehash(m, m->cap ? m->cap * 2 : 1024)) return -1;
    size_t j = strmap_find_slot(m, k, n);
    if (m->slots[j]) return (int64_t)m->slots[j] - 1;
    if (m->n == m->n_cap) {
        size_t c = m->n_cap ? m->n_cap * 2 : 512;
        size_t *o = realloc(m->key_off, c * sizeof *o);
        if (o) m->key_off = o;
        size_t *l = realloc(m->key_len, c * sizeof *l);
        if (l) m->key_len = l;
        int64_t *v = realloc(m->vals, c * sizeof *v);
        if (v) m->vals = v;
        if (!o || !l || !v) return -1;
        m->n_cap = c;
    }
    size_t need;
    if (!bb_add_size(m->arena_n, n, &need)) return -1;
    if (need > m->arena_cap) {
        size_t c = m->arena_cap ? m->arena_cap : 4096;
        while (c < need)
            c *= 2;
        char *a = realloc(m->arena, c);
        if (!a) return -1;
        m->arena = a;
        m->arena_cap = c;
    }
    memcpy(m->arena + m->arena_n, k, n);
    m->key_off[m->n] = m->arena_n;
    m->key_len[m->n] = n;
    m->vals[m->n] = 0;
    m->arena_n = need;
    m->slots[j] = ++m->n;
    return (int64_t)m->n - 1;
}

/* ---------------------------------------------------------------- the vocabulary */

typedef struct tok_info {
    unsigned char *bytes;
    size_t len;
    char *text; /* mapped form */
    int type;
    bool digit; /* contains an ASCII digit: never merged */
} tok_info;

struct tr_bpe {
    int n_tokens, n_merges, n_specials, cap_tokens;
    tok_info *tok;
    char **merge_text;
    u64map rank;    /* (left << 32 | right) -> merge rank */
    strmap by_text; /* mapped text -> id */
    strmap cache;   /* word bytes -> offset into cache_ids (value: offset << 16 | count) */
    int32_t *cache_ids;
    size_t cache_n, cache_cap;
    tr_pretok *pre;
};

int tr_bpe_byte_char(unsigned char c, char out[2]) {
    unsigned cp = c;
    if (!((c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || c >= 0xae)) {
        /* The n-th byte outside the printable ranges maps to U+0100 + n. */
        unsigned n = 0;
        for (unsigned b = 0; b < c; b++)
            if (!((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae)) n++;
        cp = 256 + n;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

static bool add_token(tr_bpe *b, const unsigned char *bytes, size_t len, const char *text,
                      int type) {
    if (b->n_tokens == b->cap_tokens) {
        int c = b->cap_tokens ? b->cap_tokens * 2 : 512;
        tok_info *t = realloc(b->tok, (size_t)c * sizeof *t);
        if (!t) return false;
        b->tok = t;
        b->cap_tokens = c;
    }
    tok_info *t = &b->tok[b->n_tokens];
    t->bytes = malloc(len ? len : 1);
    t->text = strdup(text);
    if (!t->bytes || !t->text) {
        free(t->bytes);
        free(t->text);
        return false;
    }
    memcpy(t->bytes, bytes, len);
    t->len = len;
    t->type = type;
    t->digit = false;
    for (size_t i = 0; i < len; i++)
        t->digit |= bytes[i] >= '0' && bytes[i] <= '9';
    int64_t e = strmap_add(&b->by_text, text, strlen(text));
    if (e < 0) return false;
    b->by_text.vals[e] = b->n_tokens++;
    return true;
}

static tr_bpe *bpe_new_bytes(void) {
    tr_bpe *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    for (int c = 0; c < 256; c++) {
        unsigned char byte = (unsigned char)c;
        char text[3] = {0};
        tr_bpe_byte_char(byte, text);
        if (!add_token(b, &byte, 1, text, TR_TOKEN_NORMAL)) {
            tr_bpe_free(b);
            return NULL;
        }
    }
    return b;
}

/* Appends the merge of tokens l and r as the next token. */
static bool add_merge(tr_bpe *b, int l, int r) {
    const tok_info *a = &b->tok[l], *c = &b->tok[r];
    size_t tl = strlen(a->text), tr = strlen(c->text);
    char *text = malloc(tl + tr + 1), *mtext = malloc(tl + tr + 2);
    unsigned char *bytes = malloc(a->len + c->len);
    char **mt = realloc(b->merge_text, ((size_t)b->n_merges + 1) * sizeof *mt);
    if (mt) b->merge_text = mt;
    int64_t *slot = u64map_slot(&b->rank, (uint64_t)l << 32 | (uint64_t)r);
    bool ok = text && mtext && bytes && mt && slot;
    if (ok) {
        memcpy(text, a->text, tl);
        memcpy(text + tl, c->text, tr + 1);
        memcpy(mtext, a->text, tl);
        mtext[tl] = ' ';
        memcpy(mtext + tl + 1, c->text, tr + 1);
        memcpy(bytes, a->bytes, a->len);
        memcpy(bytes + a->len, c->bytes, c->len);
        ok = add_token(b, bytes, a->len + c->len, text, TR_TOKEN_NORMAL);
    }
    if (ok) {
        *slot = b->n_merges;
        b->merge_text[b->n_merges++] = mtext;
        mtext = NULL;
    }
    free(text);
    free(mtext);
    free(bytes);
    return ok;
}

static bool add_specials(tr_bpe *b, const char *const *specials, int n) {
    for (int i = 0; i < n; i++)
        if (!add_token(b, (const unsigned char *)specials[i], strlen(specials[i]), specials[i],
                       TR_TOKEN_CONTROL))
            return false;
    b->n_specials = n;
    return true;
}

void tr_bpe_free(tr_bpe *b) {
    if (!b) return;
    for (int i = 0; i < b->n_tokens; i++) {
        free(b->tok[i].bytes);
        free(b->tok[i].text);
    }
    for (int i = 0; i < b->n_merges; i++)
        free(b->merge_text[i]);
    free(b->tok);
    free(b->merge_text);
    u64map_free(&b->rank);
    strmap_free(&b->by_text);
    strmap_free(&b->cache);
    free(b->cache_ids);
    tr_pretok_free(b->pre);
    free(b);
}

int tr_bpe_n_tokens(const tr_bpe *b) {
    return b->n_tokens;
}
int tr_bpe_n_merges(const tr_bpe *b) {
    return b->n_merges;
}
const char *tr_bpe_token_text(const tr_bpe *b, int id) {
    return b->tok[id].text;
}
const char *tr_bpe_merge_text(const tr_bpe *b, int rank) {
    return b->merge_text[rank];
}
int tr_bpe_token_type(const tr_bpe *b, int id) {
    return b->tok[id].type;
}

int tr_bpe_find_special(const tr_bpe *b, const char *text) {
    for (int i = b->n_tokens - b->n_specials; i < b->n_tokens; i++)
        if (!strcmp(b->tok[i].text, text)) return i;
    return -1;
}

const unsigned char *tr_bpe_token_bytes(const tr_bpe *b, int id, size_t *len) {
    *len = b->tok[id].len;
    return b->tok[id].bytes;
}

/* ---------------------------------------------------------------- special-token splitting */

/* Earliest occurrence at or after pos of any of the n texts: its position (len when none)
 * and which one in *which (longest on ties). */
static size_t next_special(const char *text, size_t len, size_t pos, const char *const *sp, int n,
                           int *which) {
    size_t best = len;
    *which = -1;
    for (int i = 0; i < n; i++) {
        size_t sl = strlen(sp[i]);
        if (!sl || pos >= len) continue;
        const char *hit = memmem(text + pos, len - pos, sp[i], sl);
        if (!hit) continue;
        size_t at = (size_t)(hit - text);
        if (at < best || (at == best && sl > strlen(sp[*which]))) {
            best = at;
            *which = i;
        }
    }
    return best;
}

/* ---------------------------------------------------------------- training */

typedef struct word_count {
    strmap words; /* word bytes -> count */
    bool oom;
} word_count;

static void count_word(void *ctx, const char *s, size_t n) {
    word_count *wc = ctx;
    int64_t e = strmap_add(&wc->words, s, n);
    if (e < 0)
        wc->oom = true;
    else
        wc->words.vals[e]++;
}

typedef struct word_set {
    int32_t *sym; /* all words' symbols, word w at sym[off[w] .. off[w] + len[w]) */
    size_t *off, *len;
    int64_t *count;
    size_t n;
} word_set;

static void word_set_free(word_set *w) {
    free(w->sym), free(w->off), free(w->len), free(w->count);
}

static bool word_set_build(word_set *w, const strmap *m) {
    w->n = m->n;
    w->sym = malloc((m->arena_n ? m->arena_n : 1) * sizeof *w->sym);
    w->off = malloc((m->n ? m->n : 1) * sizeof *w->off);
    w->len = malloc((m->n ? m->n : 1) * sizeof *w->len);
    w->count = malloc((m->n ? m->n : 1) * sizeof *w->count);
    if (!w->sym || !w->off || !w->len || !w->count) return false;
    size_t k = 0;
    for (size_t e = 0; e < m->n; e++) {
        w->off[e] = k;
        w->len[e] = m->key_len[e];
        w->count[e] = m->vals[e];
        for (size_t i = 0; i < m->key_len[e]; i++)
            w->sym[k++] = (unsigned char)m->arena[m->key_off[e] + i];
    }
    return true;
}

/* The most frequent eligible pair (ties: smallest key); count 0 when none. */
static bool best_pair(const tr_bpe *b, const word_set *w, uint64_t *key, int64_t *count) {
    u64map pairs = {0};
    for (size_t e = 0; e < w->n; e++) {
        const int32_t *s = w->sym + w->off[e];
        for (size_t i = 0; i + 1 < w->len[e]; i++) {
            if (b->tok[s[i]].digit || b->tok[s[i + 1]].digit) continue;
            int64_t *slot = u64map_slot(&pairs, (uint64_t)s[i] << 32 | (uint64_t)s[i + 1]);
            if (!slot) {
                u64map_free(&pairs);
                return false;
            }
            *slot += w->count[e];
        }
    }
    *count = 0;
    for (size_t j = 0; j < pairs.cap; j++) {
        if (!pairs.keys[j]) continue;
        uint64_t k = pairs.keys[j] - 1;
        if (pairs.vals[j] > *count || (pairs.vals[j] == *count && k < *key)) {
            *count = pairs.vals[j];
            *key = k;
        }
    }
    u64map_free(&pairs);
    return true;
}

static void apply_merge(word_set *w, int32_t l, int32_t r, int32_t id) {
    for (size_t e = 0; e < w->n; e++) {
        int32_t *s = w->sym + w->off[e];
        size_t o = 0;
        for (size_t i = 0; i < w->len[e]; i++) {
            if (i + 1 < w->len[e] && s[i] == l && s[i + 1] == r) {
                s[o++] = id;
                i++;
            } else {
                s[o++] = s[i];
            }
        }
        w->len[e] = o;
    }
}

static bb_status count_words(const char *text, size_t len, const char *const *specials,
                             int n_specials, tr_pretok *pre, word_count *wc, bb_error *err) {
    size_t pos = 0;
    while (pos < len) {
        int which;
        size_t at = next_special(text, len, pos, specials, n_specials, &which);
        bb_status s = tr_pretok_split(pre, text + pos, at - pos, count_word, wc, err);
        if (s != BB_OK) return s;
        if (wc->oom) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory counting words");
        pos = which >= 0 ? at + strlen(specials[which]) : len;
    }
    return BB_OK;
}

bb_status tr_bpe_train(const char *text, size_t len, int vocab_size, const char *const *specials,
                       int n_specials, tr_bpe **out, bb_error *err) {
    if (n_specials < 0 || n_specials > 64 || vocab_size < 256 + n_specials ||
        vocab_size > (1 << 20))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "vocab size %d must hold the 256 byte tokens and %d special tokens",
                       vocab_size, n_specials);
    tr_bpe *b = bpe_new_bytes();
    if (!b) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the vocabulary");
    bb_status s = tr_pretok_new(&b->pre, err);
    word_count wc = {0};
    word_set w = {0};
    if (s == BB_OK) s = count_words(text, len, specials, n_specials, b->pre, &wc, err);
    if (s == BB_OK && !word_set_build(&w, &wc.words))
        s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the word table");
    strmap_free(&wc.words);
    while (s == BB_OK && b->n_tokens < vocab_size - n_specials) {
        uint64_t key = UINT64_MAX;
        int64_t count = 0;
        if (!best_pair(b, &w, &key, &count)) {
            s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory counting pairs");
            break;
        }
        if (count < 2) break;
        int32_t l = (int32_t)(key >> 32), r = (int32_t)(key & 0xffffffffu);
        if (!add_merge(b, l, r)) {
            s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory adding a merge");
            break;
        }
        apply_merge(&w, l, r, b->n_tokens - 1);
    }
    word_set_free(&w);
    if (s == BB_OK && !add_specials(b, specials, n_specials))
        s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the special tokens");
    if (s != BB_OK) {
        tr_bpe_free(b);
        return s;
    }
    *out = b;
    return BB_OK;
}

/* ---------------------------------------------------------------- rebuilding */

bb_status tr_bpe_from_vocab(const char *const *tokens, int n_tokens, const char *const *merges,
                            int n_merges, int n_specials, tr_bpe **out, bb_error *err) {
    if (n_merges < 0 || n_specials < 0 || n_specials > 64 ||
        n_tokens != 256 + n_merges + n_specials)
        return bb_fail(err, BB_ERR_FORMAT,
                       "vocabulary of %d tokens does not hold 256 bytes, %d merges and %d "
                       "special tokens",
                       n_tokens, n_merges, n_specials);
    tr_bpe *b = bpe_new_bytes();
    if (!b) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the vocabulary");
    bb_status s = tr_pretok_new(&b->pre, err);
    for (int i = 0; s == BB_OK && i < 256; i++)
        if (strcmp(tokens[i], b->tok[i].text))
            s = bb_fail(err, BB_ERR_FORMAT, "token %d is not the byte token this trainer writes",
                        i);
    for (int k = 0; s == BB_OK && k < n_merges; k++) {
        const char *sp = strchr(merges[k], ' ');
        int64_t l = -1, r = -1;
        if (sp) {
            l = strmap_get(&b->by_text, merges[k], (size_t)(sp - merges[k]));
            r = strmap_get(&b->by_text, sp + 1, strlen(sp + 1));
        }
        if (l < 0 || r < 0) {
            s = bb_fail(err, BB_ERR_FORMAT, "merge %d (\"%s\") names unknown tokens", k, merges[k]);
        } else if (!add_merge(b, (int)b->by_text.vals[l], (int)b->by_text.vals[r])) {
            s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory adding merges");
        } else if (strcmp(b->tok[b->n_tokens - 1].text, tokens[256 + k])) {
            s = bb_fail(err, BB_ERR_FORMAT, "token %d does not match merge %d", 256 + k, k);
        }
    }
    if (s == BB_OK && !add_specials(b, tokens + 256 + n_merges, n_specials))
        s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the special tokens");
    if (s != BB_OK) {
        tr_bpe_free(b);
        return s;
    }
    *out = b;
    return BB_OK;
}

/* ---------------------------------------------------------------- encoding */

typedef struct ids {
    int32_t *v;
    size_t n, cap;
    bool oom;
} ids;

static void ids_push(ids *o, int32_t id) {
    if (o->n == o->cap) {
        size_t c = o->cap ? o->cap * 2 : 256;
        int32_t *v = realloc(o->v, c * sizeof *v);
        if (!v) {
            o->oom = true;
            return;
        }
        o->v = v;
        o->cap = c;
    }
    o->v[o->n++] = id;
}

/* Applies merges to one word: repeatedly the lowest-ranked adjacent pair, leftmost first. */
static void merge_word(const tr_bpe *b, int32_t *s, size_t *n) {
    for (;;) {
        int64_t best = INT64_MAX;
        size_t at = 0;
        for (size_t i = 0; i + 1 < *n; i++) {
            int64_t r;
            if (u64map_get(&b->rank, (uint64_t)s[i] << 32 | (uint64_t)s[i + 1], &r) && r < best) {
                best = r;
                at = i;
            }
        }
        if (best == INT64_MAX) return;
        s[at] = 256 + (int32_t)best;
        memmove(s + at + 1, s + at + 2, (*n - at - 2) * sizeof *s);
        (*n)--;
    }
}

typedef struct enc_ctx {
    tr_bpe *b;
    ids *out;
} enc_ctx;

static void encode_word(void *ctx, const char *w, size_t n) {
    enc_ctx *e = ctx;
    tr_bpe *b = e->b;
    int64_t c = strmap_get(&b->cache, w, n);
    if (c >= 0) {
        int64_t v = b->cache.vals[c];
        for (int64_t i = 0; i < (v & 0xffff); i++)
            ids_push(e->out, b->cache_ids[(v >> 16) + i]);
        return;
    }
    size_t start = e->out->n;
    for (size_t i = 0; i < n; i++)
        ids_push(e->out, (unsigned char)w[i]);
    if (e->out->oom) return;
    size_t m = n;
    merge_word(b, e->out->v + start, &m);
    e->out->n = start + m;
    /* Cache words up to 64K tokens; the cache is bounded by the distinct words seen. */
    size_t need;
    if (m >= 0x10000 || !bb_add_size(b->cache_n, m, &need)) return;
    if (need > b->cache_cap) {
        size_t cap = b->cache_cap ? b->cache_cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        int32_t *v = realloc(b->cache_ids, cap * sizeof *v);
        if (!v) return;
        b->cache_ids = v;
        b->cache_cap = cap;
    }
    int64_t e2 = strmap_add(&b->cache, w, n);
    if (e2 < 0) return;
    memcpy(b->cache_ids + b->cache_n, e->out->v + start, m * sizeof(int32_t));
    b->cache.vals[e2] = (int64_t)b->cache_n << 16 | (int64_t)m;
    b->cache_n = need;
}

bb_status tr_bpe_encode(tr_bpe *b, const char *text, size_t len, int32_t **out, size_t *n_out,
                        bb_error *err) {
    const char *sp[64];
    int n_sp = b->n_specials;
    for (int i = 0; i < n_sp; i++)
        sp[i] = b->tok[b->n_tokens - n_sp + i].text;
    ids o = {0};
    enc_ctx e = {b, &o};
    size_t pos = 0;
    while (pos < len) {
        int which;
        size_t at = next_special(text, len, pos, sp, n_sp, &which);
        bb_status s = tr_pretok_split(b->pre, text + pos, at - pos, encode_word, &e, err);
        if (s != BB_OK) {
            free(o.v);
            return s;
        }
        if (which >= 0) ids_push(&o, b->n_tokens - n_sp + which);
        pos = which >= 0 ? at + strlen(sp[which]) : len;
    }
    if (o.oom) {
        free(o.v);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory while encoding");
    }
    *out = o.v ? o.v : malloc(sizeof(int32_t));
    *n_out = o.n;
    return *out ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory while encoding");
}

bb_status tr_bpe_decode(const tr_bpe *b, const int32_t *idv, size_t n, char **out, bb_error *err) {
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        if (idv[i] < 0 || idv[i] >= b->n_tokens)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "token id %d out of range", idv[i]);
        total += b->tok[idv[i]].len;
    }
    char *s = malloc(total), *p = s;
    if (!s) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory while decoding");
    for (size_t i = 0; i < n; i++) {
        memcpy(p, b->tok[idv[i]].bytes, b->tok[idv[i]].len);
        p += b->tok[idv[i]].len;
    }
    *p = 0;
    *out = s;
    return BB_OK;
}
