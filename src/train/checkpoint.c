/* GGUF export and import of trained models and optimizer state; see checkpoint.h. */
#include "train/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

/* ---------------------------------------------------------------- writing */

static uint64_t params_hash(const tr_state *st) {
    const unsigned char *p = (const unsigned char *)st->params;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a over the bytes */
    for (size_t i = 0; i < st->L.n_params * sizeof(float); i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static bb_status set_hparams(gguf_writer *w, const tr_layout *L, const char *name) {
    const tr_hparams *hp = &L->hp;
    bb_status s = gguf_writer_set_str(w, "general.architecture", "llama");
    if (!s) s = gguf_writer_set_str(w, "general.name", name ? name : "");
    if (!s) s = gguf_writer_set_u32(w, "general.file_type", 0); /* all F32 */
    if (!s) s = gguf_writer_set_u32(w, "llama.context_length", (uint32_t)hp->n_ctx);
    if (!s) s = gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)hp->n_embd);
    if (!s) s = gguf_writer_set_u32(w, "llama.block_count", (uint32_t)hp->n_layer);
    if (!s) s = gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)hp->n_ff);
    if (!s) s = gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)hp->n_head);
    if (!s) s = gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)hp->n_head_kv);
    if (!s) s = gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", hp->norm_eps);
    if (!s) s = gguf_writer_set_f32(w, "llama.rope.freq_base", hp->rope_base);
    if (!s) s = gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)L->head_dim);
    if (!s) s = gguf_writer_set_u32(w, "llama.vocab_size", (uint32_t)hp->n_vocab);
    return s;
}

static bb_status set_tokenizer(gguf_writer *w, const tr_model_info *info) {
    const tr_bpe *b = info->bpe;
    int n = tr_bpe_n_tokens(b), nm = tr_bpe_n_merges(b);
    const char **tokens = malloc((size_t)n * sizeof *tokens);
    const char **merges = malloc(((size_t)nm + 1) * sizeof *merges);
    int32_t *types = malloc((size_t)n * sizeof *types);
    bb_status s = tokens && merges && types ? BB_OK : BB_ERR_OUT_OF_MEMORY;
    for (int i = 0; !s && i < n; i++) {
        tokens[i] = tr_bpe_token_text(b, i);
        types[i] = tr_bpe_token_type(b, i);
    }
    for (int i = 0; !s && i < nm; i++)
        merges[i] = tr_bpe_merge_text(b, i);
    int bos = tr_bpe_find_special(b, "<|endoftext|>"), eos = tr_bpe_find_special(b, "<|im_end|>");
    if (eos < 0) eos = bos;
    if (!s) s = gguf_writer_set_str(w, "tokenizer.ggml.model", "gpt2");
    if (!s) s = gguf_writer_set_str(w, "tokenizer.ggml.pre", "default");
    if (!s) s = gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, (size_t)n);
    if (!s)
        s = gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, (size_t)n);
    if (!s) s = gguf_writer_set_arr_str(w, "tokenizer.ggml.merges", merges, (size_t)nm);
    if (!s && bos >= 0) s = gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (!s && eos >= 0) s = gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    if (!s && bos >= 0)
        s = gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)bos);
    if (!s) s = gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false);
    if (!s) s = gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token", false);
    if (!s && info->chat_template)
        s = gguf_writer_set_str(w, "tokenizer.chat_template", info->chat_template);
    free(tokens);
    free(merges);
    free(types);
    return s;
}

static bb_status add_tensors(gguf_writer *w, const tr_state *st, bb_error *err) {
    for (int i = 0; i < st->L.n_tensors; i++) {
        const tr_tensor *t = &st->L.tensors[i];
        uint64_t ne[2] = {(uint64_t)t->n_in, (uint64_t)t->n_out};
        size_t bytes = (size_t)t->n_in * (size_t)t->n_out * sizeof(float);
        bb_status s = gguf_writer_add_tensor(w, t->name, BB_TYPE_F32, t->matrix ? 2 : 1, ne,
                                             st->params + t->offset, bytes, err);
        if (s != BB_OK) return s;
    }
    return BB_OK;
}

static bb_status model_writer(const tr_state *st, const tr_model_info *info, gguf_writer **out,
                              bb_error *err) {
    gguf_writer *w = gguf_writer_new();
    if (!w) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the GGUF writer");
    bb_status s = set_hparams(w, &st->L, info->name);
    if (!s) s = set_tokenizer(w, info);
    if (s != BB_OK) s = bb_fail(err, s, "could not set the model metadata");
    if (!s) s = add_tensors(w, st, err);
    if (s != BB_OK) {
        gguf_writer_free(w);
        return s;
    }
    *out = w;
    return BB_OK;
}

static bb_status save_optimizer(const char *path, const tr_state *st, const tr_options *o,
                                tr_loss_mode loss, bb_error *err) {
    gguf_writer *w = gguf_writer_new();
    if (!w) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the GGUF writer");
    uint64_t ne[1] = {st->L.n_params};
    size_t bytes = st->L.n_params * sizeof(float);
    bb_status s = gguf_writer_set_str(w, "general.architecture", "beanbag-train-state");
    if (!s) s = gguf_writer_set_u64(w, "train.step", (uint64_t)st->step);
    if (!s) s = gguf_writer_set_u64(w, "train.params_hash", params_hash(st));
    if (!s) s = gguf_writer_set_u64(w, "train.steps", (uint64_t)o->steps);
    if (!s) s = gguf_writer_set_u32(w, "train.batch", (uint32_t)o->batch);
    if (!s) s = gguf_writer_set_f32(w, "train.lr", o->lr);
    if (!s) s = gguf_writer_set_f32(w, "train.lr_min", o->lr_min);
    if (!s) s = gguf_writer_set_u64(w, "train.warmup", (uint64_t)o->warmup);
    if (!s) s = gguf_writer_set_f32(w, "train.weight_decay", o->weight_decay);
    if (!s) s = gguf_writer_set_f32(w, "train.clip", o->clip);
    if (!s) s = gguf_writer_set_f32(w, "train.beta1", o->beta1);
    if (!s) s = gguf_writer_set_f32(w, "train.beta2", o->beta2);
    if (!s) s = gguf_writer_set_u64(w, "train.seed", o->seed);
    if (!s) s = gguf_writer_set_u64(w, "train.save_every", (uint64_t)o->save_every);
    if (!s)
        s = gguf_writer_set_str(w, "train.loss", loss == TR_LOSS_ASSISTANT ? "assistant" : "all");
    if (s != BB_OK) s = bb_fail(err, s, "could not set the optimizer metadata");
    if (!s) s = gguf_writer_add_tensor(w, "adam.m", BB_TYPE_F32, 1, ne, st->m, bytes, err);
    if (!s) s = gguf_writer_add_tensor(w, "adam.v", BB_TYPE_F32, 1, ne, st->v, bytes, err);
    if (!s) s = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    return s;
}

bb_status tr_checkpoint_save(const char *path, const tr_state *st, const tr_model_info *info,
                             const tr_options *opt, tr_loss_mode loss, bb_error *err) {
    gguf_writer *w;
    bb_status s = model_writer(st, info, &w, err);
    if (s != BB_OK) return s;
    s = gguf_writer_write(w, path, err);
    gguf_writer_free(w);
    if (s != BB_OK || !opt) return s;
    size_t n = strlen(path);
    char *side = malloc(n + 7);
    if (!side) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(side, path, n);
    memcpy(side + n, ".train", 7);
    s = save_optimizer(side, st, opt, loss, err);
    free(side);
    return s;
}

bb_status tr_model_save_memory(const tr_state *st, const tr_model_info *info, void **data,
                               size_t *size, bb_error *err) {
    gguf_writer *w;
    bb_status s = model_writer(st, info, &w, err);
    if (s != BB_OK) return s;
    s = gguf_writer_write_memory(w, data, size, err);
    gguf_writer_free(w);
    return s;
}

/* ---------------------------------------------------------------- reading */

/* Rewrites err's message as "prefix: message". */
static bb_status prefix_error(bb_error *err, bb_status s, const char *prefix) {
    if (!err) return s;
    char msg[sizeof err->message];
    memcpy(msg, err->message, sizeof msg);
    return bb_fail(err, s, "%s: %s", prefix, msg);
}

static bb_status read_hparams(const gguf_file *f, tr_hparams *hp, bb_error *err) {
    gguf_string arch = {0};
    bb_status s = gguf_get_str(f, "general.architecture", true, &arch, err);
    if (s != BB_OK) return s;
    if (arch.len != 5 || memcmp(arch.data, "llama", 5))
        return bb_fail(err, BB_ERR_UNSUPPORTED, "architecture '%.*s' is not llama",
                       (int)(arch.len > 64 ? 64 : arch.len), arch.data);
    uint32_t v[7];
    const char *keys[7] = {
        "llama.vocab_size",           "llama.embedding_length",        "llama.block_count",
        "llama.attention.head_count", "llama.attention.head_count_kv", "llama.feed_forward_length",
        "llama.context_length"};
    for (int i = 0; i < 7 && !s; i++) {
        s = gguf_get_u32(f, keys[i], true, &v[i], err);
        if (!s && v[i] > (1u << 20))
            s = bb_fail(err, BB_ERR_FORMAT, "%s = %u is out of range", keys[i], v[i]);
    }
    if (s != BB_OK) return s;
    *hp = (tr_hparams){.n_vocab = (int32_t)v[0],
                       .n_embd = (int32_t)v[1],
                       .n_layer = (int32_t)v[2],
                       .n_head = (int32_t)v[3],
                       .n_head_kv = (int32_t)v[4],
                       .n_ff = (int32_t)v[5],
                       .n_ctx = (int32_t)v[6],
                       .rope_base = 10000.0f,
                       .norm_eps = 1e-5f};
    s = gguf_get_f32(f, "llama.rope.freq_base", false, &hp->rope_base, err);
    if (!s) s = gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", true, &hp->norm_eps, err);
    hp->tied = gguf_find_tensor(f, "output.weight") == NULL;
    return s;
}

static bb_status read_tensors(const gguf_file *f, tr_state *st, bb_error *err) {
    for (int i = 0; i < st->L.n_tensors; i++) {
        const tr_tensor *t = &st->L.tensors[i];
        const gguf_tensor *g = gguf_find_tensor(f, t->name);
        if (!g) return bb_fail(err, BB_ERR_FORMAT, "tensor %s is missing", t->name);
        if (g->type != BB_TYPE_F32 || g->ne[0] != (uint64_t)t->n_in ||
            g->ne[1] != (uint64_t)t->n_out || g->ne[2] != 1 || g->ne[3] != 1)
            return bb_fail(err, BB_ERR_FORMAT,
                           "tensor %s must be F32 [%d, %d] to train on (found type %u [%llu, "
                           "%llu])",
                           t->name, t->n_in, t->n_out, g->type, (unsigned long long)g->ne[0],
                           (unsigned long long)g->ne[1]);
        memcpy(st->params + t->offset, g->data, (size_t)t->n_in * (size_t)t->n_out * sizeof(float));
    }
    return BB_OK;
}

static char *dup_gguf_string(gguf_string s) {
    char *c = malloc(s.len + 1);
    if (c) {
        memcpy(c, s.data, s.len);
        c[s.len] = 0;
    }
    return c;
}

/* Reads a string array into NUL-terminated copies (free with free_strings). */
static bb_status read_strings(const gguf_file *f, const char *key, char ***out, int *n,
                              bb_error *err) {
    int64_t idx;
    bb_status s = gguf_get_arr(f, key, GGUF_TYPE_STRING, true, &idx, err);
    if (s != BB_OK) return s;
    uint64_t cnt = gguf_arr_n(f, idx);
    if (cnt > (1u << 20)) return bb_fail(err, BB_ERR_FORMAT, "%s has too many entries", key);
    char **v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory reading %s", key);
    for (uint64_t j = 0; j < cnt; j++)
        if (!(v[j] = dup_gguf_string(gguf_arr_str(f, idx, j)))) {
            for (uint64_t k = 0; k < j; k++)
                free(v[k]);
            free(v);
            return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory reading %s", key);
        }
    *out = v;
    *n = (int)cnt;
    return BB_OK;
}

static void free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static bb_status read_tokenizer(const gguf_file *f, tr_bpe **bpe, bb_error *err) {
    gguf_string model = {0};
    bb_status s = gguf_get_str(f, "tokenizer.ggml.model", true, &model, err);
    if (s != BB_OK) return s;
    if (model.len != 4 || memcmp(model.data, "gpt2", 4))
        return bb_fail(err, BB_ERR_UNSUPPORTED,
                       "only gpt2 (byte-level BPE) vocabularies can "
                       "be trained further");
    char **tokens = NULL, **merges = NULL;
    int n_tok = 0, n_merge = 0, n_special = 0;
    int64_t types_idx;
    s = read_strings(f, "tokenizer.ggml.tokens", &tokens, &n_tok, err);
    if (!s) s = read_strings(f, "tokenizer.ggml.merges", &merges, &n_merge, err);
    if (!s)
        s = gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, true, &types_idx, err);
    if (!s && gguf_arr_n(f, types_idx) != (uint64_t)n_tok)
        s = bb_fail(err, BB_ERR_FORMAT, "token_type has %llu entries for %d tokens",
                    (unsigned long long)gguf_arr_n(f, types_idx), n_tok);
    while (!s && n_special < n_tok &&
           gguf_arr_i64(f, types_idx, (uint64_t)(n_tok - 1 - n_special)) == TR_TOKEN_CONTROL)
        n_special++;
    if (!s)
        s = tr_bpe_from_vocab((const char *const *)tokens, n_tok, (const char *const *)merges,
                              n_merge, n_special, bpe, err);
    free_strings(tokens, n_tok);
    free_strings(merges, n_merge);
    return s;
}

bb_status tr_model_load(const char *path, tr_state *st, tr_bpe **bpe, char **chat_template,
                        bb_error *err) {
    gguf_file *f;
    bb_status s = gguf_open(path, &f, err);
    if (s != BB_OK) return s;
    tr_hparams hp;
    memset(st, 0, sizeof *st);
    *bpe = NULL;
    *chat_template = NULL;
    s = read_hparams(f, &hp, err);
    if (!s) s = tr_state_init(st, &hp, 0, err);
    if (!s) s = read_tensors(f, st, err);
    if (!s) s = read_tokenizer(f, bpe, err);
    if (!s && tr_bpe_n_tokens(*bpe) != hp.n_vocab)
        s = bb_fail(err, BB_ERR_FORMAT, "vocabulary has %d tokens, llama.vocab_size says %d",
                    tr_bpe_n_tokens(*bpe), hp.n_vocab);
    gguf_string tmpl = {0};
    if (!s) s = gguf_get_str(f, "tokenizer.chat_template", false, &tmpl, err);
    if (!s && tmpl.data && !(*chat_template = dup_gguf_string(tmpl)))
        s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    gguf_close(f);
    if (s != BB_OK) {
        tr_state_free(st);
        tr_bpe_free(*bpe);
        free(*chat_template);
        *bpe = NULL;
        *chat_template = NULL;
        return prefix_error(err, s, path);
    }
    return BB_OK;
}

static bb_status read_options(const gguf_file *f, tr_options *o, tr_loss_mode *loss,
                              bb_error *err) {
    uint32_t batch = 0;
    gguf_string lm = {0};
    int64_t i;
    bb_status s = gguf_get_u32(f, "train.batch", true, &batch, err);
    o->batch = (int)batch;
    if (!s) s = gguf_get_f32(f, "train.lr", true, &o->lr, err);
    if (!s) s = gguf_get_f32(f, "train.lr_min", true, &o->lr_min, err);
    if (!s) s = gguf_get_f32(f, "train.weight_decay", true, &o->weight_decay, err);
    if (!s) s = gguf_get_f32(f, "train.clip", true, &o->clip, err);
    if (!s) s = gguf_get_f32(f, "train.beta1", true, &o->beta1, err);
    if (!s) s = gguf_get_f32(f, "train.beta2", true, &o->beta2, err);
    if (!s) s = gguf_get_str(f, "train.loss", true, &lm, err);
    const char *u64_keys[4] = {"train.steps", "train.warmup", "train.seed", "train.save_every"};
    uint64_t u64v[4] = {0};
    for (int k = 0; k < 4 && !s; k++) {
        if ((i = gguf_find_key(f, u64_keys[k])) < 0 || gguf_kv_type(f, i) != GGUF_TYPE_UINT64)
            s = bb_fail(err, BB_ERR_FORMAT, "missing uint64 key %s", u64_keys[k]);
        else
            u64v[k] = gguf_kv_u64(f, i);
    }
    if (s != BB_OK) return s;
    if (u64v[0] > INT64_MAX || u64v[1] > INT64_MAX || u64v[3] > INT64_MAX)
        return bb_fail(err, BB_ERR_FORMAT, "step counts out of range");
    o->steps = (int64_t)u64v[0];
    o->warmup = (int64_t)u64v[1];
    o->seed = u64v[2];
    o->save_every = (int64_t)u64v[3];
    *loss = lm.len == 9 && !memcmp(lm.data, "assistant", 9) ? TR_LOSS_ASSISTANT : TR_LOSS_ALL;
    return BB_OK;
}

bb_status tr_optimizer_load(const char *path, tr_state *st, tr_options *opt, tr_loss_mode *loss,
                            bb_error *err) {
    size_t n = strlen(path);
    char *side = malloc(n + 7);
    if (!side) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(side, path, n);
    memcpy(side + n, ".train", 7);
    gguf_file *f;
    bb_status s = gguf_open(side, &f, err);
    if (s != BB_OK) {
        prefix_error(err, s, "cannot resume without the optimizer state");
        free(side);
        return s;
    }
    int64_t i;
    uint64_t step = 0, hash = 0;
    if ((i = gguf_find_key(f, "train.step")) >= 0 && gguf_kv_type(f, i) == GGUF_TYPE_UINT64)
        step = gguf_kv_u64(f, i);
    else
        s = bb_fail(err, BB_ERR_FORMAT, "%s: missing train.step", side);
    if (!s && (i = gguf_find_key(f, "train.params_hash")) >= 0 &&
        gguf_kv_type(f, i) == GGUF_TYPE_UINT64)
        hash = gguf_kv_u64(f, i);
    else if (!s)
        s = bb_fail(err, BB_ERR_FORMAT, "%s: missing train.params_hash", side);
    if (!s && hash != params_hash(st))
        s = bb_fail(err, BB_ERR_FORMAT, "%s belongs to other weights than %s", side, path);
    if (!s && step > INT64_MAX) s = bb_fail(err, BB_ERR_FORMAT, "%s: bad step", side);
    if (!s) s = read_options(f, opt, loss, err);
    const char *names[2] = {"adam.m", "adam.v"};
    float *dst[2] = {st->m, st->v};
    for (int k = 0; k < 2 && !s; k++) {
        const gguf_tensor *t = gguf_find_tensor(f, names[k]);
        if (!t || t->type != BB_TYPE_F32 || t->ne[0] != st->L.n_params || t->n_dims != 1)
            s = bb_fail(err, BB_ERR_FORMAT, "%s: tensor %s missing or of the wrong shape", side,
                        names[k]);
        else
            memcpy(dst[k], t->data, st->L.n_params * sizeof(float));
    }
    if (!s) st->step = (int64_t)step;
    gguf_close(f);
    free(side);
    return s;
}
