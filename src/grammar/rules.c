/* The grammar builder and the compiled grammar: flattening rules into one element array, the
 * checks the matcher relies on (every rule defined, no left recursion), character classes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "grammar/grammar_impl.h"

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 16, bytes;
    while (c < need) {
        if (c > SIZE_MAX / 4) return false;
        c *= 2;
    }
    if (!bb_mul_size(c, size, &bytes)) return false;
    void *q = realloc(*p, bytes);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

static uint32_t name_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int64_t new_rule(g_builder *b, const char *name, size_t len) {
    if (b->n_rules >= (1u << 29) ||
        !grow((void **)&b->rules, &b->cap_rules, b->n_rules + 1, sizeof *b->rules)) {
        b->oom = true;
        return -1;
    }
    g_brule *r = &b->rules[b->n_rules];
    memset(r, 0, sizeof *r);
    r->name = malloc(len + 1);
    if (!r->name) {
        b->oom = true;
        return -1;
    }
    memcpy(r->name, name, len);
    r->name[len] = '\0';
    return (int64_t)b->n_rules++;
}

static bool names_rehash(g_builder *b, size_t cap) {
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return false;
    for (size_t i = 0; i < b->names_cap; i++) {
        uint32_t id = b->names ? b->names[i] : 0;
        if (!id) continue;
        const char *nm = b->rules[id - 1].name;
        size_t h = name_hash(nm, strlen(nm)) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = id;
    }
    free(b->names);
    b->names = t;
    b->names_cap = cap;
    return true;
}

int64_t gb_rule(g_builder *b, const char *name, size_t len) {
    if ((b->n_named + 1) * 2 > b->names_cap &&
        !names_rehash(b, b->names_cap ? b->names_cap * 2 : 64)) {
        b->oom = true;
        return -1;
    }
    size_t mask = b->names_cap - 1, h = name_hash(name, len) & mask;
    for (uint32_t id; (id = b->names[h]); h = (h + 1) & mask) {
        const char *nm = b->rules[id - 1].name;
        if (strlen(nm) == len && !memcmp(nm, name, len)) return (int64_t)id - 1;
    }
    int64_t id = new_rule(b, name, len);
    if (id < 0) return -1;
    b->names[h] = (uint32_t)id + 1;
    b->n_named++;
    return id;
}

/* Auxiliary rules are never looked up by name, so they stay out of the table. */
int64_t gb_aux_rule(g_builder *b, uint32_t parent) {
    char name[160];
    int n = snprintf(name, sizeof name, "%.120s-%zu", b->rules[parent].name, b->n_rules);
    int64_t id = new_rule(b, name, (size_t)n);
    if (id >= 0) b->rules[id].defined = true;
    return id;
}

bool gb_push(g_builder *b, uint32_t rule, uint32_t elem) {
    g_brule *r = &b->rules[rule];
    if (b->total_elems >= BB_GRAMMAR_MAX_ELEMENTS || !grow((void **)&r->el, &r->cap, r->n + 1, 4)) {
        b->oom = true;
        return false;
    }
    r->el[r->n++] = elem;
    b->total_elems++;
    return true;
}

static int cmp_range(const void *a, const void *b) {
    const g_range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int64_t gb_class(g_builder *b, const g_range *r, size_t n, bool negated) {
    if (b->n_classes >= (1u << 29) ||
        !grow((void **)&b->classes, &b->cap_classes, b->n_classes + 1, sizeof *b->classes) ||
        !grow((void **)&b->ranges, &b->cap_ranges, b->n_ranges + n, sizeof *b->ranges)) {
        b->oom = true;
        return -1;
    }
    g_range *dst = b->ranges + b->n_ranges;
    memcpy(dst, r, n * sizeof *r);
    qsort(dst, n, sizeof *dst, cmp_range);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) { /* merge overlapping and adjacent ranges */
        if (m && dst[i].lo <= dst[m - 1].hi + 1) {
            if (dst[i].hi > dst[m - 1].hi) dst[m - 1].hi = dst[i].hi;
        } else {
            dst[m++] = dst[i];
        }
    }
    g_class *c = &b->classes[b->n_classes];
    memset(c, 0, sizeof *c);
    c->first = (uint32_t)b->n_ranges;
    c->n = (uint32_t)m;
    c->negated = negated;
    for (uint32_t cp = 0; cp < 128; cp++) {
        bool in = false;
        for (size_t i = 0; i < m && !in; i++)
            in = cp >= dst[i].lo && cp <= dst[i].hi;
        if (in != negated) c->ascii[cp / 32] |= 1u << (cp % 32);
    }
    b->n_ranges += m;
    return (int64_t)b->n_classes++;
}

void gb_free(g_builder *b) {
    for (size_t i = 0; i < b->n_rules; i++) {
        free(b->rules[i].name);
        free(b->rules[i].el);
    }
    free(b->rules);
    free(b->names);
    free(b->classes);
    free(b->ranges);
    memset(b, 0, sizeof *b);
}

bool g_class_match(const bb_grammar *g, uint32_t cls, uint32_t cp) {
    const g_class *c = &g->classes[cls];
    if (cp < 128) return c->ascii[cp / 32] >> (cp % 32) & 1;
    const g_range *r = g->ranges + c->first;
    uint32_t lo = 0, hi = c->n; /* binary search for the last range starting at or below cp */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (r[mid].lo <= cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    bool in = lo > 0 && cp <= r[lo - 1].hi;
    return in != c->negated;
}

bool g_class_meets(const bb_grammar *g, uint32_t cls, uint32_t lo, uint32_t hi) {
    const g_class *c = &g->classes[cls];
    const g_range *r = g->ranges + c->first;
    if (!c->negated) {
        for (uint32_t i = 0; i < c->n; i++)
            if (r[i].lo <= hi && r[i].hi >= lo) return true;
        return false;
    }
    uint32_t cur = lo; /* the first code point of [lo, hi] not yet known to be excluded */
    for (uint32_t i = 0; i < c->n; i++) {
        if (r[i].hi < cur) continue;
        if (r[i].lo > cur) return true;
        if (r[i].hi >= hi) return false;
        cur = r[i].hi + 1;
    }
    return cur <= hi;
}

/* ---- checks */

/* Rules that can match the empty string (fixpoint over the alternatives). */
static bool *nullable_rules(const bb_grammar *g) {
    bool *nul = calloc(g->n_rules ? g->n_rules : 1, 1);
    if (!nul) return NULL;
    for (bool changed = true; changed;) {
        changed = false;
        for (uint32_t r = 0; r < g->n_rules; r++) {
            if (nul[r]) continue;
            for (uint32_t a = g->rule_alt[r]; a < g->rule_alt[r + 1] && !nul[r]; a++) {
                uint32_t p = g->alt_start[a];
                while (g_type(g->elems[p]) == G_REF && nul[g_arg(g->elems[p])])
                    p++;
                if (g_type(g->elems[p]) == G_END) nul[r] = changed = true;
            }
        }
    }
    return nul;
}

/* Depth-first search over "r can start with s" (s referenced after only nullable rules); a
 * back edge is left recursion. Iterative, so a deep grammar cannot overflow the C stack. */
static bb_status check_left_recursion(const bb_grammar *g, const char *const *names,
                                      bb_error *err) {
    bool *nul = nullable_rules(g);
    uint8_t *color = calloc(g->n_rules ? g->n_rules : 1, 1); /* 0 new, 1 on path, 2 done */
    uint32_t *stack_r = malloc((g->n_rules + 1) * sizeof *stack_r);
    uint32_t *stack_p = malloc((g->n_rules + 1) * sizeof *stack_p); /* next element to look at */
    uint32_t *stack_a = malloc((g->n_rules + 1) * sizeof *stack_a); /* current alternative */
    bb_status st = BB_OK;
    if (!nul || !color || !stack_r || !stack_p || !stack_a) {
        st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory checking the grammar");
        goto done;
    }
    for (uint32_t start = 0; start < g->n_rules && st == BB_OK; start++) {
        if (color[start]) continue;
        size_t sp = 0;
        stack_r[0] = start;
        stack_a[0] = g->rule_alt[start];
        stack_p[0] = g->alt_start[stack_a[0]];
        color[start] = 1;
        sp = 1;
        while (sp && st == BB_OK) {
            uint32_t r = stack_r[sp - 1];
            if (stack_a[sp - 1] >= g->rule_alt[r + 1]) {
                color[r] = 2;
                sp--;
                continue;
            }
            uint32_t e = g->elems[stack_p[sp - 1]];
            if (g_type(e) != G_REF) { /* a terminal or the end: this alternative is done */
                stack_a[sp - 1]++;
                if (stack_a[sp - 1] < g->rule_alt[r + 1])
                    stack_p[sp - 1] = g->alt_start[stack_a[sp - 1]];
                continue;
            }
            uint32_t s = g_arg(e);
            if (nul[s])
                stack_p[sp - 1]++;
            else
                stack_p[sp - 1] = g->n_elems - 1; /* stop after this reference: the final G_END */
            if (color[s] == 1) {
                st = bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                             "rule '%.80s' is left-recursive (it can reach itself without "
                             "consuming input, e.g. through a repetition of something that "
                             "matches the empty string); rewrite it with repetition",
                             names[s]);
            } else if (color[s] == 0) {
                color[s] = 1;
                stack_r[sp] = s;
                stack_a[sp] = g->rule_alt[s];
                stack_p[sp] = g->alt_start[stack_a[sp]];
                sp++;
            }
        }
    }
done:
    free(nul);
    free(color);
    free(stack_r);
    free(stack_p);
    free(stack_a);
    return st;
}

static void grammar_free(bb_grammar *g) {
    if (!g) return;
    free(g->elems);
    free(g->alt_start);
    free(g->rule_alt);
    free(g->classes);
    free(g->ranges);
    free(g);
}

bb_status gb_finish(g_builder *b, const char *root, bb_grammar **out, bb_error *err) {
    *out = NULL;
    bb_status st = BB_OK;
    bb_grammar *g = NULL;
    char **names = NULL;
    if (b->oom) {
        st = bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                     "the grammar is too large (more than %u elements) or out of memory",
                     BB_GRAMMAR_MAX_ELEMENTS);
        goto done;
    }
    for (size_t i = 0; i < b->n_rules; i++)
        if (!b->rules[i].defined) {
            st = bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                         "line %u, column %u: rule '%.80s' is used but never defined",
                         b->rules[i].ref_line, b->rules[i].ref_col, b->rules[i].name);
            goto done;
        }
    int64_t root_id = -1;
    for (size_t i = 0; i < b->n_rules; i++)
        if (!strcmp(b->rules[i].name, root)) root_id = (int64_t)i;
    if (root_id < 0) {
        st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the grammar has no rule '%.80s' to start from",
                     root);
        goto done;
    }
    g = calloc(1, sizeof *g);
    size_t n_alts = 0, n_el = 1; /* one trailing G_END the left-recursion walk parks on */
    for (size_t i = 0; i < b->n_rules; i++) {
        n_alts++;
        for (size_t k = 0; k < b->rules[i].n; k++)
            n_alts += b->rules[i].el[k] == g_elem(G_ALT, 0);
        n_el += b->rules[i].n + 1;
    }
    if (g) {
        g->elems = malloc(n_el * sizeof *g->elems);
        g->alt_start = malloc(n_alts * sizeof *g->alt_start);
        g->rule_alt = malloc((b->n_rules + 1) * sizeof *g->rule_alt);
    }
    names = malloc((b->n_rules ? b->n_rules : 1) * sizeof *names);
    if (!g || !g->elems || !g->alt_start || !g->rule_alt || !names) {
        st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the grammar");
        goto done;
    }
    atomic_init(&g->refs, 1);
    uint32_t e = 0, a = 0;
    for (size_t i = 0; i < b->n_rules; i++) {
        names[i] = b->rules[i].name;
        g->rule_alt[i] = a;
        g->alt_start[a++] = e;
        for (size_t k = 0; k < b->rules[i].n; k++) {
            uint32_t x = b->rules[i].el[k];
            if (x == g_elem(G_ALT, 0)) {
                g->elems[e++] = g_elem(G_END, 0);
                g->alt_start[a++] = e;
            } else {
                g->elems[e++] = x;
            }
        }
        g->elems[e++] = g_elem(G_END, 0);
    }
    g->elems[e++] = g_elem(G_END, 0);
    g->rule_alt[b->n_rules] = a;
    g->n_elems = e;
    g->n_rules = (uint32_t)b->n_rules;
    g->root = (uint32_t)root_id;
    g->classes = b->classes;
    g->n_classes = (uint32_t)b->n_classes;
    g->ranges = b->ranges;
    b->classes = NULL;
    b->ranges = NULL;
    st = check_left_recursion(g, (const char *const *)names, err);
done:
    free(names);
    gb_free(b);
    if (st != BB_OK) {
        grammar_free(g);
        return st;
    }
    *out = g;
    return BB_OK;
}

bb_grammar *bb_grammar_ref(bb_grammar *g) {
    if (g) atomic_fetch_add(&g->refs, 1);
    return g;
}

void bb_grammar_unref(bb_grammar *g) {
    if (g && atomic_fetch_sub(&g->refs, 1) == 1) grammar_free(g);
}
