/* bb_vocab_load: reads the tokenizer.ggml.* metadata of a GGUF file into a bb_vocab_desc
 * (key names as written by llama.cpp's convert_hf_to_gguf.py / gguf-py constants). */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "tokenizer/vocab.h"

static const char *const special_keys[BB_SPECIAL_COUNT] = {
    [BB_SPECIAL_BOS] = "tokenizer.ggml.bos_token_id",
    [BB_SPECIAL_EOS] = "tokenizer.ggml.eos_token_id",
    [BB_SPECIAL_EOT] = "tokenizer.ggml.eot_token_id",
    [BB_SPECIAL_EOM] = "tokenizer.ggml.eom_token_id",
    [BB_SPECIAL_UNK] = "tokenizer.ggml.unknown_token_id",
    [BB_SPECIAL_SEP] = "tokenizer.ggml.seperator_token_id", /* sic, the GGUF spelling */
    [BB_SPECIAL_PAD] = "tokenizer.ggml.padding_token_id",
    [BB_SPECIAL_MASK] = "tokenizer.ggml.mask_token_id",
    [BB_SPECIAL_FIM_PRE] = "tokenizer.ggml.fim_pre_token_id",
    [BB_SPECIAL_FIM_SUF] = "tokenizer.ggml.fim_suf_token_id",
    [BB_SPECIAL_FIM_MID] = "tokenizer.ggml.fim_mid_token_id",
    [BB_SPECIAL_FIM_PAD] = "tokenizer.ggml.fim_pad_token_id",
    [BB_SPECIAL_FIM_REP] = "tokenizer.ggml.fim_rep_token_id",
    [BB_SPECIAL_FIM_SEP] = "tokenizer.ggml.fim_sep_token_id",
};

/* Older files name the infill tokens differently; when present they take precedence, as in
 * llama.cpp, which reads them last. */
static const struct {
    const char *key;
    int slot;
} deprecated_keys[] = {
    {"tokenizer.ggml.prefix_token_id", BB_SPECIAL_FIM_PRE},
    {"tokenizer.ggml.suffix_token_id", BB_SPECIAL_FIM_SUF},
    {"tokenizer.ggml.middle_token_id", BB_SPECIAL_FIM_MID},
};

typedef struct loaded {
    bb_str *tokens;
    float *scores;
    int32_t *types;
    bb_str *merges;
} loaded;

static void loaded_free(loaded *l) {
    free(l->tokens);
    free(l->scores);
    free(l->types);
    free(l->merges);
}

static bb_str to_str(gguf_string s) {
    return (bb_str){s.data, (size_t)s.len};
}

static bb_status read_str(const gguf_file *f, const char *key, bool required, bb_str *out,
                          bb_error *err) {
    gguf_string s = {"", 0};
    bb_status st = gguf_get_str(f, key, required, &s, err);
    *out = to_str(s);
    return st;
}

/* A string array into a new bb_str array of *n entries. */
static bb_status read_str_array(const gguf_file *f, const char *key, bool required, bb_str **out,
                                size_t *n, bb_error *err) {
    int64_t idx = -1;
    *out = NULL;
    *n = 0;
    bb_status st = gguf_get_arr(f, key, GGUF_TYPE_STRING, required, &idx, err);
    if (st != BB_OK || idx < 0) return st;
    uint64_t count = gguf_arr_n(f, idx);
    if (count > INT32_MAX)
        return bb_fail(err, BB_ERR_FORMAT, "%s has %llu entries", key, (unsigned long long)count);
    *out = malloc((count ? count : 1) * sizeof **out);
    if (!*out) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory reading %s", key);
    for (uint64_t j = 0; j < count; j++)
        (*out)[j] = to_str(gguf_arr_str(f, idx, j));
    *n = (size_t)count;
    return BB_OK;
}

/* A numeric array of at least n_tokens entries (extra entries are ignored, as llama.cpp
 * does); *idx = -1 when the key is absent. */
static bb_status find_numeric(const gguf_file *f, const char *key, size_t n_tokens, int64_t *idx,
                              bb_error *err) {
    bb_status st = gguf_get_arr(f, key, GGUF_TYPE_COUNT, false, idx, err);
    if (st != BB_OK || *idx < 0) return st;
    if (gguf_arr_n(f, *idx) < n_tokens) {
        return bb_fail(err, BB_ERR_FORMAT, "%s has %llu entries for %zu tokens", key,
                       (unsigned long long)gguf_arr_n(f, *idx), n_tokens);
    }
    return BB_OK;
}

static bb_status read_scores(const gguf_file *f, size_t n, float **out, bb_error *err) {
    const char *key = "tokenizer.ggml.scores";
    int64_t idx;
    bb_status st = find_numeric(f, key, n, &idx, err);
    if (st != BB_OK || idx < 0) return st;
    uint32_t t = gguf_arr_type(f, idx);
    if (t != GGUF_TYPE_FLOAT32 && t != GGUF_TYPE_INT32) {
        return bb_fail(err, BB_ERR_FORMAT, "%s is an array of %s (want float32 or int32)", key,
                       gguf_type_name(t));
    }
    *out = malloc(n * sizeof **out);
    if (!*out) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory reading %s", key);
    for (size_t j = 0; j < n; j++)
        (*out)[j] = (float)gguf_arr_f64(f, idx, j);
    return BB_OK;
}

static bb_status read_types(const gguf_file *f, size_t n, int32_t **out, bb_error *err) {
    const char *key = "tokenizer.ggml.token_type";
    int64_t idx;
    bb_status st = find_numeric(f, key, n, &idx, err);
    if (st != BB_OK || idx < 0) return st;
    if (gguf_arr_type(f, idx) != GGUF_TYPE_INT32) {
        return bb_fail(err, BB_ERR_FORMAT, "%s is an array of %s (want int32)", key,
                       gguf_type_name(gguf_arr_type(f, idx)));
    }
    *out = malloc(n * sizeof **out);
    if (!*out) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory reading %s", key);
    for (size_t j = 0; j < n; j++)
        (*out)[j] = (int32_t)gguf_arr_i64(f, idx, j);
    return BB_OK;
}

static bb_status read_special_id(const gguf_file *f, const char *key, int64_t *slot,
                                 bb_error *err) {
    if (gguf_find_key(f, key) < 0) return BB_OK;
    uint32_t id = 0;
    bb_status st = gguf_get_u32(f, key, true, &id, err);
    if (st == BB_OK) *slot = id;
    return st;
}

static bb_status read_flag(const gguf_file *f, const char *key, int *flag, bb_error *err) {
    if (gguf_find_key(f, key) < 0) return BB_OK;
    bool b = false;
    bb_status st = gguf_get_bool(f, key, true, &b, err);
    if (st == BB_OK) *flag = b;
    return st;
}

static bb_status read_desc(const gguf_file *f, bb_vocab_desc *d, loaded *l, bb_error *err) {
    bb_status st = read_str(f, "tokenizer.ggml.model", true, &d->model, err);
    if (st == BB_OK) st = read_str(f, "tokenizer.ggml.pre", false, &d->pre, err);
    if (st == BB_OK) st = read_str(f, "general.name", false, &d->name, err);
    if (st == BB_OK) {
        st = read_str_array(f, "tokenizer.ggml.tokens", true, &l->tokens, &d->n_tokens, err);
    }
    if (st != BB_OK) return st;
    d->tokens = l->tokens;
    if (d->n_tokens == 0) return bb_fail(err, BB_ERR_FORMAT, "tokenizer.ggml.tokens is empty");
    st = read_scores(f, d->n_tokens, &l->scores, err);
    if (st == BB_OK) st = read_types(f, d->n_tokens, &l->types, err);
    d->scores = l->scores;
    d->types = l->types;
    bool bpe = d->model.len == 4 && memcmp(d->model.ptr, "gpt2", 4) == 0;
    if (st == BB_OK && bpe) {
        st = read_str_array(f, "tokenizer.ggml.merges", true, &l->merges, &d->n_merges, err);
        d->merges = l->merges;
    }
    for (int i = 0; st == BB_OK && i < BB_SPECIAL_COUNT; i++) {
        st = read_special_id(f, special_keys[i], &d->special[i], err);
    }
    for (size_t i = 0; st == BB_OK && i < sizeof deprecated_keys / sizeof deprecated_keys[0]; i++) {
        st = read_special_id(f, deprecated_keys[i].key, &d->special[deprecated_keys[i].slot], err);
    }
    if (st == BB_OK) st = read_flag(f, "tokenizer.ggml.add_bos_token", &d->add_bos, err);
    if (st == BB_OK) st = read_flag(f, "tokenizer.ggml.add_eos_token", &d->add_eos, err);
    if (st == BB_OK) {
        st = read_flag(f, "tokenizer.ggml.add_space_prefix", &d->add_space_prefix, err);
    }
    return st;
}

bb_status bb_vocab_load(const gguf_file *f, bb_vocab **out, bb_error *err) {
    if (!f || !out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_vocab_load: NULL argument");
    *out = NULL;
    bb_vocab_desc d = bb_vocab_desc_empty();
    loaded l = {0};
    bb_status st = read_desc(f, &d, &l, err);
    if (st == BB_OK) st = bb_vocab_create(&d, out, err);
    loaded_free(&l);
    return st;
}
