/* Vocabulary construction (llama_vocab::impl::load in llama.cpp): token table, merge ranks,
 * defaults per tokenizer kind, then the special-token rules (vocab_special.c) and the decoded
 * pieces (pieces.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "tokenizer/vocab_impl.h"

bb_vocab_desc bb_vocab_desc_empty(void) {
    bb_vocab_desc d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < BB_SPECIAL_COUNT; i++)
        d.special[i] = BB_VOCAB_UNSET;
    d.add_bos = d.add_eos = d.add_space_prefix = BB_VOCAB_UNSET;
    return d;
}

static bool str_is(bb_str s, const char *lit) {
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

void bb_vocab_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("beanbag: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void bb_vocab_free(bb_vocab *v) {
    if (!v) return;
    free(v->tokens);
    free(v->text);
    free(v->pieces);
    bb_strmap_free(&v->token_ids);
    free(v->merge_text);
    bb_strmap_free(&v->merge_ranks);
    bb_pretok_free(v->pretok);
    free(v->eog);
    free(v->special_cache);
    bb_trie_free(&v->special_trie);
    free(v);
}

/* ---- token table */

static uint32_t attr_from_type(int32_t type) {
    switch (type) {
    case BB_TOKEN_TYPE_NORMAL:
        return BB_ATTR_NORMAL;
    case BB_TOKEN_TYPE_UNKNOWN:
        return BB_ATTR_UNKNOWN;
    case BB_TOKEN_TYPE_CONTROL:
        return BB_ATTR_CONTROL;
    case BB_TOKEN_TYPE_USER_DEFINED:
        return BB_ATTR_USER_DEFINED;
    case BB_TOKEN_TYPE_UNUSED:
        return BB_ATTR_UNUSED;
    case BB_TOKEN_TYPE_BYTE:
        return BB_ATTR_BYTE;
    default:
        return BB_ATTR_UNDEFINED;
    }
}

/* llama.cpp replaces an empty piece by "[EMPTY_<id>]" so every token stays addressable. */
static size_t empty_name(char *buf, size_t cap, size_t id) {
    return (size_t)snprintf(buf, cap, "[EMPTY_%zu]", id);
}

static bb_status load_tokens(bb_vocab *v, const bb_vocab_desc *d, bb_error *err) {
    size_t total = 0;
    char name[40];
    for (size_t i = 0; i < d->n_tokens; i++) {
        size_t len = d->tokens[i].len ? d->tokens[i].len : empty_name(name, sizeof name, i);
        if (len > UINT32_MAX || !bb_add_size(total, len, &total) || total > UINT32_MAX) {
            return bb_fail(err, BB_ERR_FORMAT, "vocabulary text exceeds 4 GiB");
        }
    }
    v->tokens = calloc(d->n_tokens, sizeof *v->tokens);
    v->text = malloc(total + 1);
    if (!v->tokens || !v->text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    bb_status st = bb_strmap_init(&v->token_ids, d->n_tokens, err);
    if (st != BB_OK) return st;
    size_t at = 0;
    for (size_t i = 0; i < d->n_tokens; i++) {
        bb_token_info *t = &v->tokens[i];
        const char *src = d->tokens[i].ptr;
        size_t len = d->tokens[i].len;
        if (len == 0) {
            len = empty_name(name, sizeof name, i);
            src = name;
            bb_vocab_warn("empty token at index %zu", i);
        }
        memcpy(v->text + at, src, len);
        t->text_off = (uint32_t)at;
        t->text_len = (uint32_t)len;
        t->score = d->scores ? d->scores[i] : 0.0f;
        t->attr = d->types ? attr_from_type(d->types[i]) : BB_ATTR_NORMAL;
        if (len > v->max_token_len) v->max_token_len = len;
        if (!bb_strmap_insert(&v->token_ids, v->text + at, (uint32_t)len, (uint32_t)len,
                              (int32_t)i)) {
            return bb_fail(err, BB_ERR_FORMAT, "duplicate token in vocabulary: '%.*s' (id %zu)",
                           (int)len, src, i);
        }
        at += len;
    }
    v->text[at] = '\0';
    return BB_OK;
}

/* Ranks keyed by the merge string itself, split at its first space after byte 0 (as
 * llama.cpp reads tokenizer.ggml.merges). The first occurrence of a pair keeps its rank. */
static bb_status load_merges(bb_vocab *v, const bb_vocab_desc *d, bb_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < d->n_merges; i++) {
        if (d->merges[i].len > UINT32_MAX || !bb_add_size(total, d->merges[i].len, &total)) {
            return bb_fail(err, BB_ERR_FORMAT, "merge list too large");
        }
    }
    if (d->n_merges > INT32_MAX) return bb_fail(err, BB_ERR_FORMAT, "too many merges");
    v->merge_text = malloc(total + 1);
    if (!v->merge_text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for merges");
    bb_status st = bb_strmap_init(&v->merge_ranks, d->n_merges, err);
    if (st != BB_OK) return st;
    size_t at = 0;
    for (size_t i = 0; i < d->n_merges; i++) {
        const char *m = d->merges[i].ptr;
        size_t len = d->merges[i].len;
        const char *sp = len > 1 ? memchr(m + 1, ' ', len - 1) : NULL;
        if (!sp) continue; /* no pair: can never apply */
        memcpy(v->merge_text + at, m, len);
        bb_strmap_insert(&v->merge_ranks, v->merge_text + at, (uint32_t)len, (uint32_t)(sp - m),
                         (int32_t)i);
        if (len > v->max_merge_len) v->max_merge_len = len;
        at += len;
    }
    return BB_OK;
}

/* ---- kind */

static bb_status set_kind_defaults(bb_vocab *v, const bb_vocab_desc *d, bb_error *err) {
    for (int i = 0; i < BB_SPECIAL_COUNT; i++)
        v->special[i] = -1;
    if (str_is(d->model, "llama")) {
        v->kind = BB_VOCAB_SPM;
        v->special[BB_SPECIAL_BOS] = 1;
        v->special[BB_SPECIAL_EOS] = 2;
        v->special[BB_SPECIAL_UNK] = 0;
        v->add_bos = true;
        v->add_space_prefix = true;
        return BB_OK;
    }
    if (str_is(d->model, "gpt2")) {
        v->kind = BB_VOCAB_BPE;
        v->special[BB_SPECIAL_BOS] = 11;
        v->special[BB_SPECIAL_EOS] = 11;
        bb_pretok_traits tr;
        bb_status st = bb_pretok_new(d->pre.ptr, d->pre.len, &v->pretok, &tr, err);
        if (st != BB_OK) return st;
        if (!tr.known) {
            bb_vocab_warn("unknown pre-tokenizer '%.*s', using the default expressions",
                          (int)d->pre.len, d->pre.ptr);
        }
        v->ignore_merges = tr.ignore_merges;
        v->add_bos = tr.add_bos;
        v->clean_spaces = tr.clean_spaces;
        if (tr.no_bos) v->special[BB_SPECIAL_BOS] = -1;
        return BB_OK;
    }
    return bb_fail(err, BB_ERR_UNSUPPORTED, "unknown tokenizer model '%.*s' (want llama or gpt2)",
                   (int)d->model.len, d->model.ptr);
}

/* ---- assembly */

static bb_status check_flags(const bb_vocab *v, bb_error *err) {
    if (v->add_bos && v->special[BB_SPECIAL_BOS] < 0) {
        return bb_fail(err, BB_ERR_FORMAT,
                       "tokenizer.ggml.add_bos_token is true, but there is no BOS token");
    }
    if (v->add_eos && v->special[BB_SPECIAL_EOS] < 0) {
        return bb_fail(err, BB_ERR_FORMAT,
                       "tokenizer.ggml.add_eos_token is true, but there is no EOS token");
    }
    return BB_OK;
}

static bb_status build(bb_vocab *v, const bb_vocab_desc *d, bb_error *err) {
    if (d->n_tokens == 0 || d->n_tokens > INT32_MAX || !d->tokens) {
        return bb_fail(err, BB_ERR_FORMAT, "vocabulary has %zu tokens (want 1 to %d)", d->n_tokens,
                       INT32_MAX);
    }
    if (d->n_merges && !d->merges) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "merges missing");
    v->n_tokens = (int32_t)d->n_tokens;
    bb_status st = set_kind_defaults(v, d, err);
    if (st == BB_OK) st = load_tokens(v, d, err);
    if (st == BB_OK && v->kind == BB_VOCAB_BPE) st = load_merges(v, d, err);
    if (st != BB_OK) return st;
    if (d->add_space_prefix != BB_VOCAB_UNSET) v->add_space_prefix = d->add_space_prefix != 0;
    bb_vocab_apply_special_ids(v, d);
    if (d->add_bos != BB_VOCAB_UNSET) v->add_bos = d->add_bos != 0;
    if (d->add_eos != BB_VOCAB_UNSET) v->add_eos = d->add_eos != 0;
    st = check_flags(v, err);
    if (st != BB_OK) return st;
    bb_vocab_detect_specials(v);
    v->eog = calloc(d->n_tokens, 1);
    if (!v->eog) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    bb_vocab_build_eog(v);
    st = bb_vocab_build_special_cache(v, err);
    if (st == BB_OK) st = bb_vocab_build_pieces(v, err);
    if (st == BB_OK) bb_vocab_apply_model_rules(v, d);
    return st;
}

bb_status bb_vocab_create(const bb_vocab_desc *desc, bb_vocab **out, bb_error *err) {
    if (!desc || !out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_vocab_create: NULL");
    *out = NULL;
    bb_vocab *v = calloc(1, sizeof *v);
    if (!v) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a vocabulary");
    bb_status st = build(v, desc, err);
    if (st != BB_OK) {
        bb_vocab_free(v);
        return st;
    }
    *out = v;
    return BB_OK;
}

/* ---- public accessors */

int32_t bb_vocab_n_tokens(const bb_vocab *vocab) {
    return vocab ? vocab->n_tokens : 0;
}

bb_token bb_vocab_bos(const bb_vocab *vocab) {
    return vocab ? vocab->special[BB_SPECIAL_BOS] : -1;
}

bb_token bb_vocab_eos(const bb_vocab *vocab) {
    return vocab ? vocab->special[BB_SPECIAL_EOS] : -1;
}

bool bb_vocab_add_bos(const bb_vocab *vocab) {
    return vocab && vocab->add_bos;
}

bool bb_vocab_is_eog(const bb_vocab *vocab, bb_token token) {
    return vocab && bb_vocab_valid(vocab, token) && vocab->eog[token];
}

bool bb_vocab_is_control(const bb_vocab *vocab, bb_token token) {
    return vocab && bb_vocab_valid(vocab, token) &&
           (vocab->tokens[token].attr & BB_ATTR_CONTROL) != 0;
}

bb_token bb_vocab_find(const bb_vocab *vocab, const char *text, size_t len) {
    if (!vocab || (!text && len)) return -1;
    return bb_strmap_get(&vocab->token_ids, text ? text : "", len);
}
