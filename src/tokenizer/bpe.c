/* Byte-level BPE (Sennrich et al. 2016; GPT-2, Radford et al. 2019) as llama.cpp's
 * llm_tokenizer_bpe_session runs it: the regex pre-tokenizer cuts the text into words, each
 * word starts as one symbol per (byte-mapped) character, and the adjacent pair with the
 * lowest merge rank is merged until no ranked pair is left. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/heap.h"
#include "tokenizer/pretok.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_impl.h"

typedef struct symbol {
    int32_t prev, next;
    size_t off, n; /* within the word; n == 0 once merged away */
} symbol;

typedef struct bpe_state {
    const bb_vocab *v;
    const char *word;
    symbol *sym;
    bb_merge_heap heap;
} bpe_state;

static bool add_pair(bpe_state *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return true;
    const symbol *l = &s->sym[left], *r = &s->sym[right];
    if (l->n + 1 + r->n > s->v->max_merge_len) return true;
    int32_t rank =
        bb_strmap_get_pair(&s->v->merge_ranks, s->word + l->off, l->n, ' ', s->word + r->off, r->n);
    if (rank < 0) return true;
    bb_merge_cand c = {-(double)rank, left, right, l->n + r->n};
    return bb_heap_push(&s->heap, c);
}

static bool merge_word(bpe_state *s, size_t n_sym) {
    s->heap.n = 0;
    for (size_t i = 1; i < n_sym; i++) {
        if (!add_pair(s, (int32_t)i - 1, (int32_t)i)) return false;
    }
    bb_merge_cand c;
    while (bb_heap_pop(&s->heap, &c)) {
        symbol *l = &s->sym[c.left], *r = &s->sym[c.right];
        /* Stale: the symbols are adjacent while both live, so equal length means equal text. */
        if (l->n == 0 || r->n == 0 || l->n + r->n != c.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = c.left;
        if (!add_pair(s, l->prev, c.left) || !add_pair(s, c.left, l->next)) return false;
    }
    return true;
}

/* A final symbol that is not a token is emitted byte by byte, keeping the bytes that are
 * tokens by themselves (llama.cpp drops the others). */
static bool emit_symbols(const bpe_state *s, bb_tokbuf *out) {
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        const symbol *y = &s->sym[i];
        bb_token id = bb_strmap_get(&s->v->token_ids, s->word + y->off, y->n);
        if (id >= 0) {
            if (!bb_tokbuf_push(out, id)) return false;
            continue;
        }
        for (size_t k = 0; k < y->n; k++) {
            bb_token b = bb_strmap_get(&s->v->token_ids, s->word + y->off + k, 1);
            if (b >= 0 && !bb_tokbuf_push(out, b)) return false;
        }
    }
    return true;
}

static bool tokenize_word(bpe_state *s, size_t len, bb_tokbuf *out) {
    if (len == 0) return true;
    if (s->v->ignore_merges) {
        bb_token id = bb_strmap_get(&s->v->token_ids, s->word, len);
        if (id >= 0) return bb_tokbuf_push(out, id);
    }
    size_t n_sym = 0;
    for (size_t off = 0; off < len; n_sym++) {
        size_t cl = bb_utf8_seq_len((uint8_t)s->word[off]);
        if (cl > len - off) cl = len - off;
        s->sym[n_sym] =
            (symbol){(int32_t)n_sym - 1, off + cl == len ? -1 : (int32_t)n_sym + 1, off, cl};
        off += cl;
    }
    return merge_word(s, n_sym) && emit_symbols(s, out);
}

bb_status bb_bpe_tokenize(const bb_vocab *v, const char *text, size_t len, bb_tokbuf *out,
                          bb_error *err) {
    bb_words w;
    bb_status st = bb_pretok_split(v->pretok, text, len, &w, err);
    if (st != BB_OK) return st;
    size_t longest = 1;
    for (size_t i = 0; i < w.n; i++) {
        if (w.len[i] > longest) longest = w.len[i];
    }
    if (longest > INT32_MAX) {
        bb_words_free(&w);
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "text too long to tokenize");
    }
    bpe_state s = {.v = v, .sym = malloc(longest * sizeof(symbol))};
    bool ok = s.sym != NULL;
    for (size_t i = 0; ok && i < w.n; i++) {
        s.word = w.bytes + w.off[i];
        ok = tokenize_word(&s, w.len[i], out);
    }
    bb_heap_free(&s.heap);
    free(s.sym);
    bb_words_free(&w);
    return ok ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory tokenizing");
}
