/* Vocabulary construction: token table, merge ranks, special tokens and the rules llama.cpp
 * applies on top of the GGUF metadata (llama_vocab::impl::load), so that tokenization,
 * end-of-generation detection and decoding match it. */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "tokenizer/utf8.h"
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

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...) {
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
            warn("empty token at index %zu", i);
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

/* ---- special tokens */

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
            warn("unknown pre-tokenizer '%.*s', using the default expressions", (int)d->pre.len,
                 d->pre.ptr);
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

static const char *const slot_names[BB_SPECIAL_COUNT] = {
    "bos",  "eos",     "eot",     "eom",     "unknown", "seperator", "padding",
    "mask", "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep",   "fim_sep"};

static void apply_special_ids(bb_vocab *v, const bb_vocab_desc *d) {
    for (int i = 0; i < BB_SPECIAL_COUNT; i++) {
        if (v->special[i] >= v->n_tokens) v->special[i] = -1;
        int64_t id = d->special[i];
        if (id < 0) continue;
        if (id >= v->n_tokens) {
            warn("bad special token: %s_token_id = %lld is outside the vocabulary, ignored",
                 slot_names[i], (long long)id);
            continue;
        }
        v->special[i] = (bb_token)id;
    }
}

static bb_token find_text(const bb_vocab *v, const char *text) {
    return bb_strmap_get(&v->token_ids, text, strlen(text));
}

static void mark_control(bb_vocab *v, bb_token id) {
    v->tokens[id].attr |= BB_ATTR_CONTROL;
}

/* Slots llama.cpp fills by token text when the metadata leaves them unset; a token found this
 * way is treated as a control token whatever its declared type. */
static const char *const *const detect_texts[BB_SPECIAL_COUNT] = {
    [BB_SPECIAL_EOT] = (const char *const[]){"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                             "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
                                             "<｜end▁of▁sentence｜>", "<end_of_utterance>", NULL},
    [BB_SPECIAL_EOM] = (const char *const[]){"<|eom_id|>", NULL},
    [BB_SPECIAL_FIM_PRE] = (const char *const[]){"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                                 "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", NULL},
    [BB_SPECIAL_FIM_SUF] = (const char *const[]){"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                                 "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", NULL},
    [BB_SPECIAL_FIM_MID] = (const char *const[]){"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                                 "<｜fim▁end｜>", "<MID>", "▁<MID>", NULL},
    [BB_SPECIAL_FIM_PAD] =
        (const char *const[]){"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", NULL},
    [BB_SPECIAL_FIM_REP] = (const char *const[]){"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                                 "<REPO>", "<reponame>", NULL},
    [BB_SPECIAL_FIM_SEP] = (const char *const[]){"<|file_sep|>", NULL},
};

/* Texts that end generation (llama.cpp's special_eog_ids rule). */
static const char *const eog_texts[] = {
    "<|eot_id|>",      "<|im_end|>",         "<|end|>", "<end_of_turn>",
    "<|endoftext|>",   "<|eom_id|>",         "<EOT>",   "_<EOT>",
    "<|end_of_text|>", "<end_of_utterance>", NULL};

static void detect_specials(bb_vocab *v) {
    for (int slot = 0; slot < BB_SPECIAL_COUNT; slot++) {
        if (!detect_texts[slot] || v->special[slot] >= 0) continue;
        for (const char *const *t = detect_texts[slot]; *t; t++) {
            bb_token id = find_text(v, *t);
            if (id >= 0) {
                v->special[slot] = id;
                mark_control(v, id);
                break;
            }
        }
    }
    /* Control tokens named "unused..." are placeholders. */
    for (bb_token id = 0; id < v->n_tokens; id++) {
        bb_token_info *t = &v->tokens[id];
        if ((t->attr & BB_ATTR_CONTROL) &&
            memmem(v->text + t->text_off, t->text_len, "unused", 6) != NULL) {
            t->attr |= BB_ATTR_UNUSED;
        }
    }
}

static void build_eog(bb_vocab *v) {
    static const int slots[] = {BB_SPECIAL_FIM_PAD, BB_SPECIAL_FIM_REP, BB_SPECIAL_FIM_SEP,
                                BB_SPECIAL_EOS,     BB_SPECIAL_EOT,     BB_SPECIAL_EOM};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (v->special[slots[i]] >= 0) v->eog[v->special[slots[i]]] = 1;
    }
    for (const char *const *t = eog_texts; *t; t++) {
        bb_token id = find_text(v, *t);
        if (id >= 0) {
            v->eog[id] = 1;
            mark_control(v, id);
        }
    }
}

static bb_status build_special_trie(bb_vocab *v, bb_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < v->n_special_cache; i++) {
        total += v->tokens[v->special_cache[i]].text_len; /* <= the 4 GiB text table */
    }
    bb_status st = bb_trie_init(&v->special_trie, total, err);
    if (st != BB_OK) return st;
    for (size_t i = 0; i < v->n_special_cache; i++) {
        bb_token id = v->special_cache[i];
        bb_trie_insert(&v->special_trie, bb_vocab_text(v, id), v->tokens[id].text_len, (int32_t)i);
    }
    return BB_OK;
}

typedef struct len_id {
    uint32_t len;
    bb_token id;
} len_id;

static int cmp_len_id(const void *a, const void *b) {
    const len_id *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

static bb_status build_special_cache(bb_vocab *v, bb_error *err) {
    const uint32_t want = BB_ATTR_CONTROL | BB_ATTR_USER_DEFINED | BB_ATTR_UNKNOWN;
    size_t n = 0;
    for (bb_token id = 0; id < v->n_tokens; id++)
        n += (v->tokens[id].attr & want) != 0;
    len_id *order = malloc((n ? n : 1) * sizeof *order);
    v->special_cache = malloc((n ? n : 1) * sizeof *v->special_cache);
    if (!order || !v->special_cache) {
        free(order);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (bb_token id = 0; id < v->n_tokens; id++) {
        if (v->tokens[id].attr & want)
            order[v->n_special_cache++] = (len_id){v->tokens[id].text_len, id};
    }
    /* Longest first, ties by id, so the order does not depend on the sort. */
    qsort(order, n, sizeof *order, cmp_len_id);
    for (size_t i = 0; i < n; i++)
        v->special_cache[i] = order[i].id;
    free(order);
    return build_special_trie(v, err);
}

static void set_attr_by_text(bb_vocab *v, const char *text, uint32_t attr, bool on) {
    bb_token id = find_text(v, text);
    if (id < 0) return;
    if (on) {
        v->tokens[id].attr |= attr;
    } else {
        v->tokens[id].attr &= ~attr;
    }
}

static bool contains_ci(bb_str s, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= s.len; i++) {
        size_t k = 0;
        while (k < n && (char)(s.ptr[i + k] | 0x20) == needle[k])
            k++;
        if (k == n) return true;
    }
    return false;
}

/* Per-model white-space stripping around special tokens, keyed on names as llama.cpp does
 * (its "Handle per token attributes" block). */
static void apply_model_rules(bb_vocab *v, const bb_vocab_desc *d) {
    if (contains_ci(d->pre, "jina-v2-de") || contains_ci(d->pre, "jina-v2-es") ||
        contains_ci(d->pre, "jina-v2-code")) {
        set_attr_by_text(v, "<mask>", BB_ATTR_LSTRIP, true);
    } else if (contains_ci(d->name, "phi-3") || contains_ci(d->name, "phi3")) {
        for (size_t i = 0; i < v->n_special_cache; i++) {
            v->tokens[v->special_cache[i]].attr |= BB_ATTR_RSTRIP;
        }
        set_attr_by_text(v, "</s>", BB_ATTR_RSTRIP, true);
        set_attr_by_text(v, "<unk>", BB_ATTR_RSTRIP, false);
        set_attr_by_text(v, "<s>", BB_ATTR_RSTRIP, false);
        set_attr_by_text(v, "<|endoftext|>", BB_ATTR_RSTRIP, false);
    }
}

/* ---- decoded pieces */

typedef struct bytebuf {
    char *p;
    size_t n, cap;
} bytebuf;

static bool bytebuf_put(bytebuf *b, const char *s, size_t n) {
    size_t need;
    if (!bb_add_size(b->n, n, &need)) return false;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need) {
            if (cap > SIZE_MAX / 2) return false;
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return true;
}

/* The byte of a <0xXX> token: the hex digits at offsets 3-4, as strtol reads them. */
static uint8_t byte_token_value(const char *text, size_t len) {
    unsigned v = 0;
    for (size_t i = 3; i < 5 && i < len; i++) {
        char c = text[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0) break;
        v = v * 16 + (unsigned)d;
    }
    return (uint8_t)v;
}

/* SentencePiece writes spaces as U+2581 (LOWER ONE EIGHTH BLOCK). */
static bool put_unescaped(bytebuf *b, const char *s, size_t n) {
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (i + 2 < n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            ok = bytebuf_put(b, " ", 1);
            i += 2;
        } else {
            ok = bytebuf_put(b, s + i, 1);
        }
    }
    return ok;
}

/* Inverse of the byte-level mapping. A character outside it is written the way llama.cpp's
 * llama_decode_text does: "[UNK_BYTE_0x<utf8 hex><token text>]". */
static bool put_byte_decoded(bytebuf *b, const char *s, size_t n) {
    bool ok = true;
    for (size_t i = 0; i < n && ok;) {
        size_t adv;
        uint32_t cp = bb_utf8_decode_lenient((const uint8_t *)s + i, n - i, &adv);
        i += adv;
        int byte = bb_cp_to_byte(cp);
        if (byte >= 0) {
            char c = (char)byte;
            ok = bytebuf_put(b, &c, 1);
            continue;
        }
        char utf[4], hex[16];
        size_t nu = bb_utf8_encode(cp, utf);
        ok = bytebuf_put(b, "[UNK_BYTE_0x", 12);
        for (size_t k = 0; k < nu && ok; k++) {
            snprintf(hex, sizeof hex, "%02x", (uint8_t)utf[k]);
            ok = bytebuf_put(b, hex, 2);
        }
        ok = ok && bytebuf_put(b, s, n) && bytebuf_put(b, "]", 1);
    }
    return ok;
}

static bool put_piece(const bb_vocab *v, bb_token id, bytebuf *b) {
    const bb_token_info *t = &v->tokens[id];
    const char *text = bb_vocab_text(v, id);
    if (t->attr & (BB_ATTR_UNKNOWN | BB_ATTR_CONTROL | BB_ATTR_USER_DEFINED)) {
        return bytebuf_put(b, text, t->text_len);
    }
    if (t->attr & BB_ATTR_NORMAL) {
        return v->kind == BB_VOCAB_SPM ? put_unescaped(b, text, t->text_len)
                                       : put_byte_decoded(b, text, t->text_len);
    }
    if (t->attr & BB_ATTR_BYTE) {
        char c = (char)byte_token_value(text, t->text_len);
        return bytebuf_put(b, &c, 1);
    }
    return true; /* undefined and unused tokens decode to nothing */
}

static bb_status build_pieces(bb_vocab *v, bb_error *err) {
    bytebuf b = {0};
    for (bb_token id = 0; id < v->n_tokens; id++) {
        size_t start = b.n;
        if (!put_piece(v, id, &b)) {
            free(b.p);
            return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory decoding pieces");
        }
        if (b.n > UINT32_MAX) {
            free(b.p);
            return bb_fail(err, BB_ERR_FORMAT, "decoded vocabulary exceeds 4 GiB");
        }
        v->tokens[id].piece_off = (uint32_t)start;
        v->tokens[id].piece_len = (uint32_t)(b.n - start);
    }
    v->pieces = b.p ? b.p : malloc(1);
    if (!v->pieces) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    return BB_OK;
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
    apply_special_ids(v, d);
    if (d->add_bos != BB_VOCAB_UNSET) v->add_bos = d->add_bos != 0;
    if (d->add_eos != BB_VOCAB_UNSET) v->add_eos = d->add_eos != 0;
    st = check_flags(v, err);
    if (st != BB_OK) return st;
    detect_specials(v);
    v->eog = calloc(d->n_tokens, 1);
    if (!v->eog) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    build_eog(v);
    st = build_special_cache(v, err);
    if (st == BB_OK) st = build_pieces(v, err);
    if (st == BB_OK) apply_model_rules(v, d);
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
