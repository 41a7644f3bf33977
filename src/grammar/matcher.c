/* The token-mask engine: the grammar as a pushdown automaton over bytes.
 *
 * A stack is a chain of frames (position in the grammar, parent frame), as in llama.cpp's
 * grammar stacks; the automaton's configuration is the SET of stacks the input so far can be
 * in (the grammar is nondeterministic), each with a terminal on top, plus the bytes of a UTF-8
 * character begun but not finished (a token may end, or begin, in the middle of one). Frames are
 * hash-consed, so equal stacks are one id and a set is a sorted list of ids; sets are interned
 * too and become the states of a DFA over bytes built lazily, one transition at a time. That DFA
 * is what makes masks cheap: the allowed tokens of a state are found by walking the vocabulary
 * trie (token_trie.h) through the DFA's transitions, skipping each rejected subtree, and most
 * transitions after the first request are one array lookup. A state's mask is cached too, so
 * a state that recurs (every character inside a JSON string, every element of an array of
 * like objects) costs a lookup: the "context-independent tokens" idea of XGrammar and
 * llguidance, applied to whole states.
 *
 * Masks depend only on the grammar, the vocabulary and the state: never on other sequences or on
 * the cache's history, so batch invariance holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "grammar/grammar_impl.h"
#include "grammar/token_trie.h"

/* Tables grow up to these before the matcher starts over from its current state. */
#define MAX_FRAMES (1u << 22)
#define MAX_STATES (1u << 16)
#define MAX_MASK_BYTES (16u << 20)
#define MAX_EXPAND_DEPTH 4096

enum { F_EMPTY = 0, F_FIRST = 2 }; /* frame 0: the empty stack (the sentence is complete) */
enum { T_UNKNOWN = -2, T_DEAD = -1 };

typedef struct frame {
    uint32_t pos, parent;
} frame;

typedef struct dstate {
    uint32_t set, n;   /* frame ids in pool[set .. set + n), sorted */
    uint32_t pend_val; /* bits of an unfinished UTF-8 character */
    uint8_t pend_need; /* continuation bytes still expected (0: none) */
    uint8_t pend_len;  /* the character's byte length */
    bool accepting;    /* holds the empty stack and no unfinished character */
    int32_t mask;      /* index into masks, or -1 */
} dstate;

typedef struct mask_entry {
    uint32_t *bits;
    int32_t count;
    bb_token single;
} mask_entry;

struct bb_grammar_matcher {
    bb_grammar *g;
    const bb_grammar_vocab *tv;
    frame *fr;
    uint32_t n_fr, cap_fr;
    uint32_t *fr_tab; /* open addressing, ids (0: empty slot) */
    uint32_t fr_tab_cap;
    uint32_t *pool;
    size_t n_pool, cap_pool;
    dstate *st;
    uint32_t n_st, cap_st;
    uint32_t *st_tab; /* open addressing, state id + 1 (0: empty slot) */
    uint32_t st_tab_cap;
    int32_t *tr;   /* transitions: tr[s * 256 + byte], T_UNKNOWN until computed */
    size_t cap_tr; /* in states */
    uint32_t cur;
    bool finished;
    bool failed;
    char error[160];
    /* expansion scratch */
    uint32_t *scr;
    size_t n_scr, cap_scr;
    uint32_t *mark; /* per frame: the expansion stamp that last reached it */
    uint32_t cap_mark, stamp;
    /* masks */
    mask_entry *masks;
    uint32_t n_masks, cap_masks;
    size_t mask_bytes;
    int32_t *dfs;   /* DFA state per trie depth */
    uint32_t *zero; /* the mask after the end: nothing */
};

static bool grow(void **p, void *capp, size_t need, size_t size, bool cap32) {
    size_t cap = cap32 ? *(uint32_t *)capp : *(size_t *)capp;
    if (need <= cap) return true;
    size_t c = cap ? cap : 64, bytes;
    while (c < need)
        c *= 2;
    if (cap32 && c > UINT32_MAX) return false;
    if (!bb_mul_size(c, size, &bytes)) return false;
    void *q = realloc(*p, bytes);
    if (!q) return false;
    *p = q;
    if (cap32)
        *(uint32_t *)capp = (uint32_t)c;
    else
        *(size_t *)capp = c;
    return true;
}

static void set_failed(bb_grammar_matcher *m, const char *msg) {
    if (m->failed) return;
    m->failed = true;
    snprintf(m->error, sizeof m->error, "%s", msg);
}

static inline uint32_t hash2(uint32_t a, uint32_t b) {
    uint64_t h = ((uint64_t)a << 32 | b) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

/* ---------------------------------------------------------------- frames */

static bool fr_rehash(bb_grammar_matcher *m, uint32_t cap) {
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return false;
    for (uint32_t id = F_FIRST; id < m->n_fr; id++) {
        uint32_t h = hash2(m->fr[id].pos, m->fr[id].parent) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = id;
    }
    free(m->fr_tab);
    m->fr_tab = t;
    m->fr_tab_cap = cap;
    return true;
}

/* The id of frame (pos, parent), created on first sight; UINT32_MAX when out of room. */
static uint32_t fr_intern(bb_grammar_matcher *m, uint32_t pos, uint32_t parent) {
    if ((m->n_fr + 1) * 2 > m->fr_tab_cap &&
        !fr_rehash(m, m->fr_tab_cap ? m->fr_tab_cap * 2 : 1024)) {
        set_failed(m, "out of memory for grammar stacks");
        return UINT32_MAX;
    }
    uint32_t mask = m->fr_tab_cap - 1, h = hash2(pos, parent) & mask;
    for (uint32_t id; (id = m->fr_tab[h]); h = (h + 1) & mask)
        if (m->fr[id].pos == pos && m->fr[id].parent == parent) return id;
    if (m->n_fr >= MAX_FRAMES * 2 ||
        !grow((void **)&m->fr, &m->cap_fr, m->n_fr + 1, sizeof *m->fr, true) ||
        !grow((void **)&m->mark, &m->cap_mark, m->n_fr + 1, sizeof *m->mark, true)) {
        set_failed(m, "the grammar needs too many stacks (is it highly ambiguous?)");
        return UINT32_MAX;
    }
    uint32_t id = m->n_fr++;
    m->fr[id] = (frame){pos, parent};
    m->mark[id] = 0;
    m->fr_tab[h] = id;
    return id;
}

/* The stack continuing at pos: the parent itself when pos ends its alternative. */
static uint32_t next_frame(bb_grammar_matcher *m, uint32_t pos, uint32_t parent) {
    if (g_type(m->g->elems[pos]) == G_END) return parent;
    return fr_intern(m, pos, parent);
}

static void scr_add(bb_grammar_matcher *m, uint32_t f) {
    if (!grow((void **)&m->scr, &m->cap_scr, m->n_scr + 1, sizeof *m->scr, false)) {
        set_failed(m, "out of memory for grammar stacks");
        return;
    }
    m->scr[m->n_scr++] = f;
}

/* Adds to scr every stack with a terminal on top (or the empty stack) that stack f stands for:
 * references are replaced by each alternative of their rule. Left recursion was refused when
 * the grammar was built, so this ends; the stamp keeps each stack to one visit. */
static void expand(bb_grammar_matcher *m, uint32_t f, int depth) {
    if (f == UINT32_MAX || m->failed) return;
    if (m->mark[f] == m->stamp) return;
    m->mark[f] = m->stamp;
    if (f == F_EMPTY) {
        scr_add(m, f);
        return;
    }
    if (depth > MAX_EXPAND_DEPTH) {
        set_failed(m, "the grammar nests rules too deeply");
        return;
    }
    uint32_t pos = m->fr[f].pos, parent = m->fr[f].parent, e = m->g->elems[pos];
    if (g_type(e) == G_TERM) {
        scr_add(m, f);
        return;
    }
    uint32_t r = g_arg(e);
    uint32_t cont = next_frame(m, pos + 1, parent);
    for (uint32_t a = m->g->rule_alt[r]; a < m->g->rule_alt[r + 1]; a++)
        expand(m, next_frame(m, m->g->alt_start[a], cont), depth + 1);
}

static void new_stamp(bb_grammar_matcher *m) {
    if (++m->stamp == 0) { /* wrapped: forget every old stamp */
        memset(m->mark, 0, (size_t)m->n_fr * sizeof *m->mark);
        m->stamp = 1;
    }
    m->n_scr = 0;
}

/* ---------------------------------------------------------------- states */

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t st_hash(const uint32_t *set, uint32_t n, uint32_t val, uint32_t need) {
    uint32_t h = hash2(val, need << 8 | n);
    for (uint32_t i = 0; i < n; i++)
        h = hash2(h, set[i]);
    return h;
}

static bool st_rehash(bb_grammar_matcher *m, uint32_t cap) {
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return false;
    for (uint32_t id = 0; id < m->n_st; id++) {
        const dstate *s = &m->st[id];
        uint32_t h = st_hash(m->pool + s->set, s->n, s->pend_val, s->pend_need) & (cap - 1);
        while (t[h])
            h = (h + 1) & (cap - 1);
        t[h] = id + 1;
    }
    free(m->st_tab);
    m->st_tab = t;
    m->st_tab_cap = cap;
    return true;
}

/* The state of the (sorted, unique) stack set in scr with an unfinished character. */
static int32_t st_intern(bb_grammar_matcher *m, uint32_t val, uint8_t need, uint8_t len) {
    if (m->failed) return T_DEAD;
    uint32_t n = (uint32_t)m->n_scr;
    if (n == 0) return T_DEAD;
    if ((m->n_st + 1) * 2 > m->st_tab_cap &&
        !st_rehash(m, m->st_tab_cap ? m->st_tab_cap * 2 : 256)) {
        set_failed(m, "out of memory for grammar states");
        return T_DEAD;
    }
    uint32_t mask = m->st_tab_cap - 1, h = st_hash(m->scr, n, val, need) & mask;
    for (uint32_t e; (e = m->st_tab[h]); h = (h + 1) & mask) {
        const dstate *s = &m->st[e - 1];
        if (s->n == n && s->pend_val == val && s->pend_need == need &&
            !memcmp(m->pool + s->set, m->scr, n * sizeof *m->scr))
            return (int32_t)(e - 1);
    }
    if (m->n_st >= MAX_STATES * 2 ||
        !grow((void **)&m->st, &m->cap_st, m->n_st + 1, sizeof *m->st, true) ||
        !grow((void **)&m->tr, &m->cap_tr, m->n_st + 1, 256 * sizeof *m->tr, false) ||
        !grow((void **)&m->pool, &m->cap_pool, m->n_pool + n, sizeof *m->pool, false)) {
        set_failed(m, "the grammar needs too many states (is it highly ambiguous?)");
        return T_DEAD;
    }
    dstate *s = &m->st[m->n_st];
    memset(s, 0, sizeof *s);
    s->set = (uint32_t)m->n_pool;
    s->n = n;
    s->pend_val = val;
    s->pend_need = need;
    s->pend_len = len;
    s->accepting = need == 0 && m->scr[0] == F_EMPTY;
    s->mask = -1;
    memcpy(m->pool + m->n_pool, m->scr, n * sizeof *m->scr);
    m->n_pool += n;
    int32_t *t = m->tr + (size_t)m->n_st * 256;
    for (int i = 0; i < 256; i++)
        t[i] = T_UNKNOWN;
    m->st_tab[h] = m->n_st + 1;
    return (int32_t)m->n_st++;
}

static int32_t finish_set(bb_grammar_matcher *m, uint32_t val, uint8_t need, uint8_t len) {
    if (m->n_scr > 1) qsort(m->scr, m->n_scr, sizeof *m->scr, cmp_u32);
    return st_intern(m, val, need, len);
}

/* The stacks of state s whose top terminal matches code point cp, advanced past it. */
static int32_t advance_cp(bb_grammar_matcher *m, uint32_t s, uint32_t cp) {
    new_stamp(m);
    uint32_t set = m->st[s].set, n = m->st[s].n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f = m->pool[set + i];
        if (f == F_EMPTY) continue;
        uint32_t pos = m->fr[f].pos;
        if (g_class_match(m->g, g_arg(m->g->elems[pos]), cp))
            expand(m, next_frame(m, pos + 1, m->fr[f].parent), 0);
    }
    return finish_set(m, 0, 0, 0);
}

/* The stacks of s that some character in [lo, hi] could still advance. */
static int32_t filter_range(bb_grammar_matcher *m, uint32_t s, uint32_t lo, uint32_t hi,
                            uint32_t val, uint8_t need, uint8_t len) {
    m->n_scr = 0;
    uint32_t set = m->st[s].set, n = m->st[s].n;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f = m->pool[set + i];
        if (f != F_EMPTY && g_class_meets(m->g, g_arg(m->g->elems[m->fr[f].pos]), lo, hi))
            scr_add(m, f);
    }
    return st_intern(m, val, need, len); /* a subset of a sorted set stays sorted */
}

/* Where byte b leads from state s (UTF-8 decoding per RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
static int32_t compute_trans(bb_grammar_matcher *m, uint32_t s, uint8_t b) {
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const uint32_t max_cp[5] = {0, 0x7f, 0x7ff, 0xffff, 0x10ffff};
    const dstate *d = &m->st[s];
    uint32_t val;
    uint8_t need, len;
    if (d->pend_need == 0) {
        if (b < 0x80) return advance_cp(m, s, b);
        if (b >= 0xc2 && b <= 0xdf) {
            val = b & 0x1fu, need = 1, len = 2;
        } else if (b >= 0xe0 && b <= 0xef) {
            val = b & 0x0fu, need = 2, len = 3;
        } else if (b >= 0xf0 && b <= 0xf4) {
            val = b & 0x07u, need = 3, len = 4;
        } else {
            return T_DEAD;
        }
    } else {
        if ((b & 0xc0) != 0x80) return T_DEAD;
        val = d->pend_val << 6 | (b & 0x3fu);
        need = (uint8_t)(d->pend_need - 1);
        len = d->pend_len;
        if (need == 0) {
            if (val < min_cp[len] || val > max_cp[len] || (val >= 0xd800 && val <= 0xdfff))
                return T_DEAD;
            return advance_cp(m, s, val);
        }
    }
    uint32_t lo = val << (6 * need), hi = lo | ((1u << (6 * need)) - 1);
    if (lo < min_cp[len]) lo = min_cp[len];
    if (hi > max_cp[len]) hi = max_cp[len];
    if (len == 3 && lo >= 0xd800 && hi <= 0xdfff) return T_DEAD;
    if (lo > hi) return T_DEAD;
    return filter_range(m, s, lo, hi, val, need, len);
}

static inline int32_t trans(bb_grammar_matcher *m, uint32_t s, uint8_t b) {
    int32_t next = m->tr[(size_t)s * 256 + b];
    if (next != T_UNKNOWN) return next;
    next = compute_trans(m, s, b);
    m->tr[(size_t)s * 256 + b] = next; /* tr may have moved: index again */
    return next;
}

/* ---------------------------------------------------------------- life cycle */

static void drop_masks(bb_grammar_matcher *m) {
    for (uint32_t i = 0; i < m->n_masks; i++)
        free(m->masks[i].bits);
    m->n_masks = 0;
    m->mask_bytes = 0;
    for (uint32_t s = 0; s < m->n_st; s++)
        m->st[s].mask = -1;
}

static void reset_tables(bb_grammar_matcher *m) {
    drop_masks(m);
    m->n_st = 0;
    m->n_pool = 0;
    if (m->st_tab) memset(m->st_tab, 0, m->st_tab_cap * sizeof *m->st_tab);
    m->n_fr = F_FIRST;
    if (m->fr_tab) memset(m->fr_tab, 0, m->fr_tab_cap * sizeof *m->fr_tab);
}

/* Starts the tables over, keeping only the current state: a long generation must not grow
 * them without bound. The stacks are copied out as position lists and interned again. */
static void compact(bb_grammar_matcher *m) {
    const dstate *d = &m->st[m->cur];
    uint32_t n = d->n, val = d->pend_val;
    uint8_t need = d->pend_need, len = d->pend_len;
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t f = m->pool[d->set + i]; f != F_EMPTY; f = m->fr[f].parent)
            total++;
    uint32_t *pos = malloc((total + 1) * sizeof *pos), *cnt = malloc((n + 1) * sizeof *cnt);
    if (!pos || !cnt) {
        free(pos);
        free(cnt);
        return; /* keep the big tables: still correct */
    }
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        cnt[i] = 0;
        for (uint32_t f = m->pool[d->set + i]; f != F_EMPTY; f = m->fr[f].parent) {
            pos[k++] = m->fr[f].pos;
            cnt[i]++;
        }
    }
    reset_tables(m);
    new_stamp(m);
    k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t f = F_EMPTY;
        for (uint32_t j = cnt[i]; j-- > 0;) /* bottom first */
            f = fr_intern(m, pos[k + j], f);
        k += cnt[i];
        scr_add(m, f);
    }
    free(pos);
    free(cnt);
    int32_t s = finish_set(m, val, need, len);
    if (s < 0) set_failed(m, "out of memory rebuilding the grammar state");
    m->cur = s < 0 ? 0 : (uint32_t)s;
}

bb_status bb_grammar_matcher_new(bb_grammar *g, const bb_grammar_vocab *tv,
                                 bb_grammar_matcher **out, bb_error *err) {
    if (!out || !g) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_grammar_matcher_new: NULL");
    *out = NULL;
    bb_grammar_matcher *m = calloc(1, sizeof *m);
    if (!m) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a grammar matcher");
    m->g = bb_grammar_ref(g);
    m->tv = tv;
    m->n_fr = F_FIRST;
    if (!grow((void **)&m->fr, &m->cap_fr, 1024, sizeof *m->fr, true) ||
        !grow((void **)&m->mark, &m->cap_mark, 1024, sizeof *m->mark, true) ||
        (tv && !(m->dfs = malloc((tv->max_depth + 1) * sizeof *m->dfs)))) {
        bb_grammar_matcher_free(m);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a grammar matcher");
    }
    memset(m->mark, 0, m->cap_mark * sizeof *m->mark);
    new_stamp(m);
    for (uint32_t a = g->rule_alt[g->root]; a < g->rule_alt[g->root + 1]; a++)
        expand(m, next_frame(m, g->alt_start[a], F_EMPTY), 0);
    int32_t s = finish_set(m, 0, 0, 0);
    if (s < 0) {
        bb_status st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "grammar: %s",
                               m->failed ? m->error : "the start rule matches nothing");
        bb_grammar_matcher_free(m);
        return st;
    }
    m->cur = (uint32_t)s;
    *out = m;
    return BB_OK;
}

void bb_grammar_matcher_free(bb_grammar_matcher *m) {
    if (!m) return;
    drop_masks(m);
    free(m->tr);
    free(m->masks);
    free(m->st);
    free(m->st_tab);
    free(m->pool);
    free(m->fr);
    free(m->fr_tab);
    free(m->mark);
    free(m->scr);
    free(m->dfs);
    free(m->zero);
    bb_grammar_unref(m->g);
    free(m);
}

/* ---------------------------------------------------------------- walking */

static int32_t walk(bb_grammar_matcher *m, uint32_t s, const char *bytes, size_t len) {
    int32_t cur = (int32_t)s;
    for (size_t i = 0; i < len && cur >= 0; i++)
        cur = trans(m, (uint32_t)cur, (uint8_t)bytes[i]);
    return m->failed ? T_DEAD : cur;
}

static void maybe_compact(bb_grammar_matcher *m) {
    if (m->n_fr > MAX_FRAMES || m->n_st > MAX_STATES || m->mask_bytes > MAX_MASK_BYTES) compact(m);
}

bool bb_grammar_matcher_accept_bytes(bb_grammar_matcher *m, const char *bytes, size_t len) {
    if (!m || m->finished || m->failed || (!bytes && len)) return false;
    int32_t next = walk(m, m->cur, bytes, len);
    if (next < 0) return false;
    m->cur = (uint32_t)next;
    maybe_compact(m);
    return true;
}

static bool is_eog(const bb_grammar_vocab *tv, bb_token t) {
    for (int32_t i = 0; i < tv->n_eog; i++)
        if (tv->eog[i] == t) return true;
    return false;
}

bool bb_grammar_matcher_allows(bb_grammar_matcher *m, bb_token token) {
    if (!m || !m->tv || m->finished || m->failed || token < 0 || token >= m->tv->n_tokens)
        return false;
    if (is_eog(m->tv, token)) return m->st[m->cur].accepting;
    uint32_t len = m->tv->len[token];
    return len > 0 && walk(m, m->cur, m->tv->bytes + m->tv->off[token], len) >= 0;
}

bool bb_grammar_matcher_accept(bb_grammar_matcher *m, bb_token token) {
    if (!m || !m->tv || m->finished || m->failed || token < 0 || token >= m->tv->n_tokens)
        return false;
    if (is_eog(m->tv, token)) {
        if (!m->st[m->cur].accepting) return false;
        m->finished = true;
        return true;
    }
    uint32_t len = m->tv->len[token];
    if (len == 0) return false;
    return bb_grammar_matcher_accept_bytes(m, m->tv->bytes + m->tv->off[token], len);
}

bool bb_grammar_matcher_can_end(const bb_grammar_matcher *m) {
    return m && !m->finished && !m->failed && m->st[m->cur].accepting;
}

int32_t bb_grammar_matcher_n_tokens(const bb_grammar_matcher *m) {
    return m && m->tv ? m->tv->n_tokens : 0;
}

bool bb_grammar_matcher_finished(const bb_grammar_matcher *m) {
    return m && m->finished;
}

const char *bb_grammar_matcher_error(const bb_grammar_matcher *m) {
    return m && m->failed ? m->error : NULL;
}

/* The trie walk: every node whose bytes the DFA accepts from state s is a prefix some token
 * continues; a rejected node's subtree is skipped whole. */
static void compute_mask(bb_grammar_matcher *m, uint32_t s, mask_entry *e) {
    const bb_grammar_vocab *tv = m->tv;
    const tt_node *nodes = tv->nodes;
    int32_t *dfs = m->dfs;
    int32_t count = 0;
    bb_token single = -1;
    dfs[0] = (int32_t)s;
    for (uint32_t i = 0; i < tv->n_nodes;) {
        const tt_node *nd = &nodes[i];
        int32_t next = m->tr[(size_t)dfs[nd->depth - 1] * 256 + nd->byte];
        if (next == T_UNKNOWN) next = trans(m, (uint32_t)dfs[nd->depth - 1], nd->byte);
        if (next < 0) {
            i = nd->skip;
            continue;
        }
        dfs[nd->depth] = next;
        for (uint32_t k = 0; k < nd->n_tok; k++) {
            int32_t t = tv->sorted[nd->tok + k];
            e->bits[t / 32] |= 1u << (t % 32);
            single = t;
            count++;
        }
        i++;
    }
    if (m->st[s].accepting)
        for (int32_t k = 0; k < tv->n_eog; k++) {
            int32_t t = tv->eog[k];
            e->bits[t / 32] |= 1u << (t % 32);
            single = t;
            count++;
        }
    e->count = count;
    e->single = count == 1 ? single : -1;
}

const uint32_t *bb_grammar_matcher_mask(bb_grammar_matcher *m, int32_t *n_allowed,
                                        bb_token *single) {
    int32_t dummy_n;
    bb_token dummy_s;
    if (!n_allowed) n_allowed = &dummy_n;
    if (!single) single = &dummy_s;
    *n_allowed = 0;
    *single = -1;
    if (!m || !m->tv || m->failed) return NULL;
    size_t words = ((size_t)m->tv->n_tokens + 31) / 32;
    if (m->finished) { /* nothing may follow the end */
        if (!m->zero) m->zero = calloc(words, sizeof *m->zero);
        return m->zero;
    }
    dstate *d = &m->st[m->cur];
    if (d->mask < 0) {
        if (!grow((void **)&m->masks, &m->cap_masks, m->n_masks + 1, sizeof *m->masks, true)) {
            set_failed(m, "out of memory for a token mask");
            return NULL;
        }
        mask_entry e = {calloc(words, sizeof *e.bits), 0, -1};
        if (!e.bits) {
            set_failed(m, "out of memory for a token mask");
            return NULL;
        }
        uint32_t s = m->cur;
        compute_mask(m, s, &e);
        if (m->failed) {
            free(e.bits);
            return NULL;
        }
        m->masks[m->n_masks] = e;
        m->st[s].mask = (int32_t)m->n_masks++;
        m->mask_bytes += words * 4;
        d = &m->st[s];
    }
    const mask_entry *e = &m->masks[d->mask];
    *n_allowed = e->count;
    *single = e->single;
    return e->bits;
}

bool bb_grammar_accepts(const bb_grammar *g, const char *text, size_t len) {
    bb_grammar_matcher *m;
    if (bb_grammar_matcher_new((bb_grammar *)g, NULL, &m, NULL) != BB_OK) return false;
    bool ok = bb_grammar_matcher_accept_bytes(m, text, len) && bb_grammar_matcher_can_end(m);
    bb_grammar_matcher_free(m);
    return ok;
}
