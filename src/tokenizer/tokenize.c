/* bb_tokenize: special-token partition, then the SPM or BPE tokenizer on each raw fragment,
 * following llama_vocab::impl::tokenize and tokenizer_st_partition. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/vocab_impl.h"

bool bb_tokbuf_push(bb_tokbuf *b, bb_token id) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *b->ids) return false;
        bb_token *ids = realloc(b->ids, cap * sizeof *ids);
        if (!ids) return false;
        b->ids = ids;
        b->cap = cap;
    }
    b->ids[b->n++] = id;
    return true;
}

/* A piece of the input: raw text [off, off + len) when token < 0, else a special token. */
typedef struct frag {
    size_t off, len;
    bb_token token;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static bool frags_push(frags *f, frag x) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof *f->v) return false;
        frag *v = realloc(f->v, cap * sizeof *v);
        if (!v) return false;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = x;
    return true;
}

/* C-locale isspace, which llama.cpp uses for the strip attributes. */
static bool c_space(char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool may_match(const bb_vocab *v, bb_token id, bool parse_special) {
    return parse_special || !(v->tokens[id].attr & (BB_ATTR_CONTROL | BB_ATTR_UNKNOWN));
}

/* Marks which special-cache entries occur anywhere in the text (a walk down the trie from
 * every position), so the partition below only searches for those. */
static void find_present(const bb_vocab *v, const char *text, size_t len, bool parse_special,
                         uint8_t *present) {
    const bb_trie *t = &v->special_trie;
    for (size_t i = 0; i < len; i++) {
        uint32_t node = 0;
        for (size_t j = i; j < len; j++) {
            node = bb_trie_step(t, node, (uint8_t)text[j]);
            if (node == 0) break;
            int32_t pos = t->value[node];
            if (pos >= 0 && may_match(v, v->special_cache[pos], parse_special)) present[pos] = 1;
        }
    }
}

/* Splits one raw fragment at every occurrence of token id, leftmost first. */
static bool split_fragment(const bb_vocab *v, const char *text, frag f, bb_token id, frags *out) {
    const char *tt = bb_vocab_text(v, id);
    size_t tl = v->tokens[id].text_len;
    uint32_t attr = v->tokens[id].attr;
    size_t cur = f.off, end = f.off + f.len;
    for (;;) {
        const char *hit = memmem(text + cur, end - cur, tt, tl);
        if (!hit) break;
        size_t match = (size_t)(hit - text), left_len = match - cur;
        if (attr & BB_ATTR_LSTRIP) {
            while (left_len > 0 && c_space(text[cur + left_len - 1]))
                left_len--;
        }
        if (left_len > 0 && !frags_push(out, (frag){cur, left_len, -1})) return false;
        if (!frags_push(out, (frag){0, 0, id})) return false;
        cur = match + tl;
        if (attr & BB_ATTR_RSTRIP) {
            while (cur < end && c_space(text[cur]))
                cur++;
        }
    }
    return cur >= end || frags_push(out, (frag){cur, end - cur, -1});
}

/* Tokens in the special cache, longest first, each claim their occurrences in the text that
 * no earlier token claimed (llama.cpp's tokenizer_st_partition). User-defined tokens always
 * take part; control and unknown ones only when parse_special. */
static bb_status partition(const bb_vocab *v, const char *text, size_t len, bool parse_special,
                           frags *out, bb_error *err) {
    frags tmp = {0};
    uint8_t *present = calloc(v->n_special_cache ? v->n_special_cache : 1, 1);
    bool ok = present && frags_push(out, (frag){0, len, -1});
    if (ok) find_present(v, text, len, parse_special, present);
    for (size_t k = 0; ok && k < v->n_special_cache; k++) {
        if (!present[k]) continue;
        tmp.n = 0;
        for (size_t i = 0; ok && i < out->n; i++) {
            frag f = out->v[i];
            ok = f.token >= 0 ? frags_push(&tmp, f)
                              : split_fragment(v, text, f, v->special_cache[k], &tmp);
        }
        frags t = *out;
        *out = tmp;
        tmp = t;
    }
    free(tmp.v);
    free(present);
    return ok ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory tokenizing");
}

static bb_status tokenize_fragments(const bb_vocab *v, const char *text, const frags *fr,
                                    bool add_special, bb_tokbuf *out, bb_error *err) {
    bool ok = true;
    /* SentencePiece adds its dummy prefix space at the start and after each special token. */
    bool prev_special = true;
    if (add_special && v->add_bos) ok = bb_tokbuf_push(out, v->special[BB_SPECIAL_BOS]);
    for (size_t i = 0; ok && i < fr->n; i++) {
        const frag *f = &fr->v[i];
        if (f->token >= 0) {
            ok = bb_tokbuf_push(out, f->token);
            prev_special = true;
            continue;
        }
        bb_status st = v->kind == BB_VOCAB_SPM
                           ? bb_spm_tokenize(v, text + f->off, f->len,
                                             v->add_space_prefix && prev_special, out, err)
                           : bb_bpe_tokenize(v, text + f->off, f->len, out, err);
        if (st != BB_OK) return st;
        prev_special = false;
    }
    if (ok && add_special && v->add_eos) ok = bb_tokbuf_push(out, v->special[BB_SPECIAL_EOS]);
    return ok ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory tokenizing");
}

bb_status bb_tokenize(const bb_vocab *vocab, const char *text, size_t len, bool add_special,
                      bool parse_special, bb_token **out, size_t *n_out, bb_error *err) {
    if (!out || !n_out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_tokenize: NULL output");
    *out = NULL;
    *n_out = 0;
    if (!vocab) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_tokenize: NULL vocabulary");
    if (!text && len) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_tokenize: NULL text");
    frags fr = {0};
    bb_tokbuf buf = {0};
    bb_status st = BB_OK;
    if (len > 0) st = partition(vocab, text, len, parse_special, &fr, err);
    if (st == BB_OK) st = tokenize_fragments(vocab, text, &fr, add_special, &buf, err);
    free(fr.v);
    if (st == BB_OK && !buf.ids) {
        buf.ids = malloc(sizeof *buf.ids); /* a freeable array even when empty */
        if (!buf.ids) st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory tokenizing");
    }
    if (st != BB_OK) {
        free(buf.ids);
        return st;
    }
    *out = buf.ids;
    *n_out = buf.n;
    return BB_OK;
}
