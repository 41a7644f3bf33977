/* The vocabulary as a trie of token byte strings, stored in preorder: each node has its byte,
 * its depth and the index just past its subtree, so a walk that rejects a node skips its whole
 * subtree with one assignment (matcher.c). Built by sorting the tokens' byte strings: in sorted
 * order a token adds one node per byte beyond its common prefix with the previous token, and
 * tokens with equal strings share a node (they sit side by side in the sorted list). */
#define _GNU_SOURCE /* qsort_r */
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "grammar/token_trie.h"

typedef struct pieces_view {
    const char *bytes;
    const uint32_t *off, *len;
} pieces_view;

static int cmp_piece(const void *a, const void *b, void *ctx) {
    const pieces_view *v = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = v->len[x], ly = v->len[y];
    int c = memcmp(v->bytes + v->off[x], v->bytes + v->off[y], lx < ly ? lx : ly);
    if (c) return c;
    if (lx != ly) return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y; /* equal strings: by id, so the order is deterministic */
}

void bb_grammar_vocab_free(bb_grammar_vocab *tv) {
    if (!tv) return;
    free(tv->nodes);
    free(tv->sorted);
    free(tv->bytes);
    free(tv->off);
    free(tv->len);
    free(tv->eog);
    free(tv);
}

int32_t bb_grammar_vocab_n_tokens(const bb_grammar_vocab *tv) {
    return tv ? tv->n_tokens : 0;
}

static bb_status build(bb_grammar_vocab *tv, bb_error *err) {
    int32_t n_text = 0;
    for (int32_t t = 0; t < tv->n_tokens; t++)
        if (tv->len[t] > 0 && tv->len[t] <= TT_MAX_DEPTH) tv->sorted[n_text++] = t;
    tv->n_sorted = n_text;
    pieces_view v = {tv->bytes, tv->off, tv->len};
    qsort_r(tv->sorted, (size_t)n_text, sizeof *tv->sorted, cmp_piece, &v);
    size_t n_nodes = 0, cap = 0;
    for (int32_t i = 0; i < n_text; i++)
        cap += tv->len[tv->sorted[i]];
    tv->nodes = malloc((cap ? cap : 1) * sizeof *tv->nodes);
    uint32_t *open = malloc((TT_MAX_DEPTH + 1) * sizeof *open); /* open node at each depth */
    if (!tv->nodes || !open) {
        free(open);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the vocabulary trie");
    }
    uint32_t depth_open = 0; /* nodes open on the current path */
    const char *prev = NULL;
    uint32_t prev_len = 0;
    for (int32_t i = 0; i < n_text; i++) {
        int32_t t = tv->sorted[i];
        const char *s = tv->bytes + tv->off[t];
        uint32_t len = tv->len[t], common = 0;
        while (prev && common < len && common < prev_len && s[common] == prev[common])
            common++;
        if (prev && common == len && len == prev_len) { /* same string: same node */
            tv->nodes[open[len - 1]].n_tok++;
            continue;
        }
        while (depth_open > common) /* close the nodes this token does not share */
            tv->nodes[open[--depth_open]].skip = (uint32_t)n_nodes;
        for (uint32_t d = common; d < len; d++) {
            tt_node *nd = &tv->nodes[n_nodes];
            nd->byte = (uint8_t)s[d];
            nd->depth = (uint16_t)(d + 1);
            nd->skip = 0;
            nd->tok = d + 1 == len ? (uint32_t)i : 0;
            nd->n_tok = d + 1 == len ? 1 : 0;
            open[depth_open++] = (uint32_t)n_nodes++;
        }
        prev = s;
        prev_len = len;
        if (len > tv->max_depth) tv->max_depth = len;
    }
    while (depth_open > 0)
        tv->nodes[open[--depth_open]].skip = (uint32_t)n_nodes;
    free(open);
    tv->n_nodes = (uint32_t)n_nodes;
    return BB_OK;
}

static bb_status vocab_alloc(int32_t n, size_t total, bb_grammar_vocab **out, bb_error *err) {
    bb_grammar_vocab *tv = calloc(1, sizeof *tv);
    if (!tv) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the vocabulary trie");
    tv->n_tokens = n;
    tv->bytes = malloc(total ? total : 1);
    tv->off = malloc((size_t)n * sizeof *tv->off);
    tv->len = malloc((size_t)n * sizeof *tv->len);
    tv->sorted = malloc((size_t)n * sizeof *tv->sorted);
    tv->eog = malloc((size_t)n * sizeof *tv->eog);
    if (!tv->bytes || !tv->off || !tv->len || !tv->sorted || !tv->eog) {
        bb_grammar_vocab_free(tv);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the vocabulary trie");
    }
    *out = tv;
    return BB_OK;
}

bb_status bb_grammar_vocab_from_pieces(int32_t n_tokens, const char *const *pieces,
                                       const size_t *lens, const bool *eog, bb_grammar_vocab **out,
                                       bb_error *err) {
    if (!out)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_grammar_vocab_from_pieces: NULL out");
    *out = NULL;
    if (n_tokens <= 0 || !pieces || !lens)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "a grammar vocabulary needs tokens");
    size_t total = 0;
    for (int32_t t = 0; t < n_tokens; t++)
        if (lens[t] > UINT32_MAX || !bb_add_size(total, lens[t], &total) || total > UINT32_MAX)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the token pieces are too large");
    bb_grammar_vocab *tv;
    bb_status st = vocab_alloc(n_tokens, total, &tv, err);
    if (st != BB_OK) return st;
    size_t o = 0;
    for (int32_t t = 0; t < n_tokens; t++) {
        bool end = eog && eog[t];
        if (end) tv->eog[tv->n_eog++] = t;
        tv->off[t] = (uint32_t)o;
        tv->len[t] = end ? 0 : (uint32_t)lens[t]; /* end-of-generation tokens are not text */
        if (!end && lens[t]) memcpy(tv->bytes + o, pieces[t], lens[t]);
        o += tv->len[t];
    }
    st = build(tv, err);
    if (st != BB_OK) {
        bb_grammar_vocab_free(tv);
        return st;
    }
    *out = tv;
    return BB_OK;
}

bb_status bb_grammar_vocab_new(const bb_vocab *vocab, bb_grammar_vocab **out, bb_error *err) {
    if (!out || !vocab) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_grammar_vocab_new: NULL");
    *out = NULL;
    int32_t n = bb_vocab_n_tokens(vocab);
    if (n <= 0) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the vocabulary is empty");
    size_t total = 0;
    for (int32_t t = 0; t < n; t++) {
        int32_t l = bb_token_to_piece(vocab, t, false, NULL, 0);
        if (l < 0) l = -l;
        if (!bb_add_size(total, (size_t)l, &total) || total > UINT32_MAX)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the token pieces are too large");
    }
    bb_grammar_vocab *tv;
    bb_status st = vocab_alloc(n, total, &tv, err);
    if (st != BB_OK) return st;
    size_t o = 0;
    for (int32_t t = 0; t < n; t++) {
        tv->off[t] = (uint32_t)o;
        tv->len[t] = 0;
        if (bb_vocab_is_eog(vocab, t)) {
            tv->eog[tv->n_eog++] = t;
            continue;
        }
        int32_t l = bb_token_to_piece(vocab, t, false, tv->bytes + o, (int32_t)(total - o));
        if (l > 0) {
            tv->len[t] = (uint32_t)l;
            o += (size_t)l;
        }
    }
    st = build(tv, err);
    if (st != BB_OK) {
        bb_grammar_vocab_free(tv);
        return st;
    }
    *out = tv;
    return BB_OK;
}
