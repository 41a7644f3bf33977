/* The compiled grammar shared by the GBNF parser (gbnf.c), the rule builder (rules.c) and the
 * matcher (matcher.c).
 *
 * Rules are flattened into one element array, as llama.cpp's grammar does: each alternative is
 * a sequence of elements ended by G_END; an element is a terminal (a character class over
 * Unicode code points) or a reference to a rule. A position in the grammar is an index into
 * that array. Repetitions and groups have been expanded into auxiliary rules by the parser. */
#ifndef BB_GRAMMAR_IMPL_H
#define BB_GRAMMAR_IMPL_H

#include <stdatomic.h>

#include "grammar/grammar.h"

enum { G_END = 0, G_REF = 1, G_TERM = 2, G_ALT = 3 /* builder only: separates alternatives */ };

static inline uint32_t g_elem(uint32_t type, uint32_t arg) {
    return type << 30 | arg;
}
static inline uint32_t g_type(uint32_t e) {
    return e >> 30;
}
static inline uint32_t g_arg(uint32_t e) {
    return e & 0x3fffffffu;
}

typedef struct g_range {
    uint32_t lo, hi; /* code points, inclusive */
} g_range;

/* A character class: sorted, merged ranges, and the ASCII part as a bitmap (both already
 * account for negation, so matching is one lookup below U+0080). */
typedef struct g_class {
    uint32_t first, n; /* into ranges */
    bool negated;
    uint32_t ascii[4];
} g_class;

struct bb_grammar {
    atomic_int refs;
    uint32_t *elems;
    uint32_t n_elems;
    uint32_t *alt_start; /* first element of each alternative */
    uint32_t *rule_alt;  /* rule r's alternatives: alt_start[rule_alt[r] .. rule_alt[r+1]) */
    uint32_t n_rules;
    g_class *classes;
    uint32_t n_classes;
    g_range *ranges;
    uint32_t root;
};

bool g_class_match(const bb_grammar *g, uint32_t cls, uint32_t cp);
/* Whether some code point in [lo, hi] matches. */
bool g_class_meets(const bb_grammar *g, uint32_t cls, uint32_t lo, uint32_t hi);

/* ---- the builder the GBNF parser fills */

typedef struct g_brule {
    char *name;
    uint32_t *el; /* elements with G_ALT between alternatives */
    size_t n, cap;
    bool defined;
    uint32_t ref_line, ref_col; /* where it was first referenced, for "undefined rule" */
} g_brule;

typedef struct g_builder {
    g_brule *rules;
    size_t n_rules, cap_rules;
    uint32_t *names; /* open addressing over named (not auxiliary) rules: id + 1, 0 empty */
    size_t names_cap, n_named;
    g_class *classes;
    size_t n_classes, cap_classes;
    g_range *ranges;
    size_t n_ranges, cap_ranges;
    size_t total_elems;
    bool oom;
} g_builder;

/* Rule id for a name, creating an undefined rule on first sight; -1 when out of memory. */
int64_t gb_rule(g_builder *b, const char *name, size_t len);
/* A fresh auxiliary rule named after its parent ("parent-N"). */
int64_t gb_aux_rule(g_builder *b, uint32_t parent);
bool gb_push(g_builder *b, uint32_t rule, uint32_t elem);
/* A class from ranges (copied, then sorted and merged); returns its id or -1. */
int64_t gb_class(g_builder *b, const g_range *r, size_t n, bool negated);
/* Flattens the builder into a grammar and checks it: every referenced rule defined, no left
 * recursion (which the matcher could not expand). Frees the builder. */
bb_status gb_finish(g_builder *b, const char *root, bb_grammar **out, bb_error *err);
void gb_free(g_builder *b);

#endif
