#define PCRE2_CODE_UNIT_WIDTH 8
#include "train/pretok.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

enum { N_REGEX = 4 };

/* llama.cpp's default BPE pre-tokenizer expressions (llama-vocab.cpp, the `default:` case). */
static const char *const k_regex[N_REGEX] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+",
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
    "\\p{N}+",
    "[0-9][0-9][0-9]",
};

typedef struct span {
    size_t off, len;
} span;

typedef struct span_list {
    span *v;
    size_t n, cap;
} span_list;

struct tr_pretok {
    pcre2_code *re[N_REGEX];
    pcre2_match_data *md;
    span_list a, b;
};

static bool push(span_list *l, size_t off, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        span *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (span){off, len};
    return true;
}

bb_status tr_pretok_new(tr_pretok **out, bb_error *err) {
    tr_pretok *p = calloc(1, sizeof *p);
    if (!p) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the pre-tokenizer");
    for (int i = 0; i < N_REGEX; i++) {
        int code;
        PCRE2_SIZE at;
        p->re[i] = pcre2_compile((PCRE2_SPTR)k_regex[i], PCRE2_ZERO_TERMINATED,
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
        if (!p->re[i]) {
            tr_pretok_free(p);
            return bb_fail(err, BB_ERR_INTERNAL, "pre-tokenizer regex %d does not compile", i);
        }
        /* JIT is an optimisation only: without it matching is slower but the same. */
        (void)pcre2_jit_compile(p->re[i], PCRE2_JIT_COMPLETE);
    }
    p->md = pcre2_match_data_create(1, NULL);
    if (!p->md) {
        tr_pretok_free(p);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the pre-tokenizer");
    }
    *out = p;
    return BB_OK;
}

void tr_pretok_free(tr_pretok *p) {
    if (!p) return;
    for (int i = 0; i < N_REGEX; i++)
        pcre2_code_free(p->re[i]);
    pcre2_match_data_free(p->md);
    free(p->a.v);
    free(p->b.v);
    free(p);
}

/* Splits one piece by one regex into matches and gaps, appending to out. */
static bool split_piece(tr_pretok *p, const pcre2_code *re, const char *text, span s,
                        span_list *out) {
    const PCRE2_SPTR subj = (PCRE2_SPTR)(text + s.off);
    size_t pos = 0, prev = 0;
    while (pos < s.len) {
        int rc = pcre2_match(re, subj, s.len, pos, 0, p->md, NULL);
        if (rc < 0) break; /* no further match (or a matching limit): the rest is a gap */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(p->md);
        size_t m0 = ov[0], m1 = ov[1];
        if (m1 <= m0) { /* the expressions cannot match empty; guard against looping */
            pos = m0 + 1;
            continue;
        }
        if (m0 > prev && !push(out, s.off + prev, m0 - prev)) return false;
        if (!push(out, s.off + m0, m1 - m0)) return false;
        prev = pos = m1;
    }
    if (prev < s.len && !push(out, s.off + prev, s.len - prev)) return false;
    return true;
}

bb_status tr_pretok_split(tr_pretok *p, const char *text, size_t len, tr_piece_fn fn, void *ctx,
                          bb_error *err) {
    if (len == 0) return BB_OK;
    p->a.n = 0;
    if (!push(&p->a, 0, len)) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    for (int r = 0; r < N_REGEX; r++) {
        p->b.n = 0;
        for (size_t i = 0; i < p->a.n; i++)
            if (!split_piece(p, p->re[r], text, p->a.v[i], &p->b))
                return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory while pre-tokenizing");
        span_list t = p->a;
        p->a = p->b;
        p->b = t;
    }
    for (size_t i = 0; i < p->a.n; i++)
        fn(ctx, text + p->a.v[i].off, p->a.v[i].len);
    return BB_OK;
}
