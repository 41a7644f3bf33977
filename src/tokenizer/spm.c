/* SentencePiece-style BPE (Kudo & Richardson 2018) as llama.cpp's llm_tokenizer_spm runs it:
 * spaces become U+2581, the text starts as one symbol per UTF-8 character, and the adjacent
 * pair whose concatenation is the highest-scoring vocabulary piece is merged until none is
 * left. Symbols that are not pieces fall back to <0xXX> byte tokens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "tokenizer/heap.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_impl.h"

typedef struct symbol {
    int32_t prev, next; /* neighbours in the live chain, -1 at the ends */
    size_t off, n;      /* bytes of the escaped text; n == 0 once merged away */
} symbol;

typedef struct spm_state {
    const bb_vocab *v;
    const char *text;
    symbol *sym;
    bb_merge_heap heap;
} spm_state;

bb_token bb_spm_byte_token(const bb_vocab *v, uint8_t byte) {
    char name[8];
    snprintf(name, sizeof name, "<0x%02X>", byte);
    bb_token id = bb_strmap_get(&v->token_ids, name, 6);
    if (id < 0) id = bb_strmap_get(&v->token_ids, (const char *)&byte, 1);
    return id >= 0 ? id : v->special[BB_SPECIAL_UNK];
}

static bool try_add_pair(spm_state *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return true;
    size_t size = s->sym[left].n + s->sym[right].n;
    if (size > s->v->max_token_len) return true;
    bb_token id = bb_strmap_get(&s->v->token_ids, s->text + s->sym[left].off, size);
    if (id < 0) return true;
    bb_merge_cand c = {s->v->tokens[id].score, left, right, size};
    return bb_heap_push(&s->heap, c);
}

static bool merge_all(spm_state *s, size_t n_sym) {
    for (size_t i = 1; i < n_sym; i++) {
        if (!try_add_pair(s, (int32_t)i - 1, (int32_t)i)) return false;
    }
    bb_merge_cand c;
    while (bb_heap_pop(&s->heap, &c)) {
        symbol *l = &s->sym[c.left], *r = &s->sym[c.right];
        /* Stale: one side was merged away or grew since the pair was queued. */
        if (l->n == 0 || r->n == 0 || l->n + r->n != c.size) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = c.left;
        if (!try_add_pair(s, l->prev, c.left) || !try_add_pair(s, c.left, l->next)) return false;
    }
    return true;
}

/* Every merged symbol is a vocabulary piece (pairs are queued only then), so a symbol that
 * is not one is a single character: it goes out as byte tokens. */
static bool emit(spm_state *s, bb_tokbuf *out) {
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        const symbol *y = &s->sym[i];
        bb_token id = bb_strmap_get(&s->v->token_ids, s->text + y->off, y->n);
        if (id >= 0) {
            if (!bb_tokbuf_push(out, id)) return false;
            continue;
        }
        for (size_t k = 0; k < y->n; k++) {
            bb_token b = bb_spm_byte_token(s->v, (uint8_t)s->text[y->off + k]);
            if (b >= 0 && !bb_tokbuf_push(out, b)) return false;
        }
    }
    return true;
}

/* The fragment with an optional leading space, every space written as U+2581. */
static char *escape_spaces(const char *text, size_t len, bool prefix_space, size_t *out_len) {
    size_t cap;
    if (!bb_mul_size(len, 3, &cap) || !bb_add_size(cap, 4, &cap)) return NULL;
    char *e = malloc(cap);
    if (!e) return NULL;
    size_t n = 0;
    if (prefix_space) {
        memcpy(e, "\xE2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(e + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            e[n++] = text[i];
        }
    }
    *out_len = n;
    return e;
}

bb_status bb_spm_tokenize(const bb_vocab *v, const char *text, size_t len, bool prefix_space,
                          bb_tokbuf *out, bb_error *err) {
    size_t n;
    char *esc = escape_spaces(text, len, prefix_space, &n);
    if (!esc) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory tokenizing");
    if (n == 0 || n > INT32_MAX) {
        free(esc);
        return n == 0 ? BB_OK : bb_fail(err, BB_ERR_INVALID_ARGUMENT, "text too long");
    }
    spm_state s = {.v = v, .text = esc, .sym = malloc(n * sizeof(symbol))};
    bool ok = s.sym != NULL;
    size_t n_sym = 0;
    for (size_t off = 0; ok && off < n; n_sym++) {
        size_t cl = bb_utf8_seq_len((uint8_t)esc[off]);
        if (cl > n - off) cl = n - off;
        s.sym[n_sym] =
            (symbol){(int32_t)n_sym - 1, off + cl == n ? -1 : (int32_t)n_sym + 1, off, cl};
        off += cl;
    }
    ok = ok && merge_all(&s, n_sym) && emit(&s, out);
    bb_heap_free(&s.heap);
    free(s.sym);
    free(esc);
    return ok ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory tokenizing");
}
