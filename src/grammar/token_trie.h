/* The vocabulary trie behind bb_grammar_vocab (token_trie.c), read by the matcher. */
#ifndef BB_GRAMMAR_TOKEN_TRIE_H
#define BB_GRAMMAR_TOKEN_TRIE_H

#include "grammar/grammar.h"

/* Pieces longer than this are left out of the trie: no grammar can be fed them. */
#define TT_MAX_DEPTH 1024

typedef struct tt_node {
    uint8_t byte;
    uint16_t depth; /* 1 for the root's children */
    uint32_t skip;  /* index of the first node after this one's subtree */
    uint32_t tok;   /* tokens ending here: sorted[tok .. tok + n_tok) */
    uint32_t n_tok;
} tt_node;

struct bb_grammar_vocab {
    int32_t n_tokens;
    tt_node *nodes;
    uint32_t n_nodes;
    uint32_t max_depth;
    int32_t *sorted; /* token ids with text, in byte-string order */
    int32_t n_sorted;
    char *bytes; /* token t's piece: bytes[off[t] .. off[t] + len[t]) */
    uint32_t *off, *len;
    bb_token *eog;
    int32_t n_eog;
};

#endif
