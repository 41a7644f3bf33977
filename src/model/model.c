/* Loading a model: map the GGUF file, pick the architecture description, read the
 * hyper-parameters, the tokenizer and the chat template, and bind the weights in place. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "model/model.h"
#include "tokenizer/vocab.h"

bb_model_params bb_model_default_params(void) {
    return (bb_model_params){.vocab_only = false};
}

static char *dup_gguf_string(gguf_string s) {
    char *out = malloc(s.len + 1);
    if (out) {
        if (s.len) memcpy(out, s.data, s.len); /* an absent string has no data at all */
        out[s.len] = 0;
    }
    return out;
}

static bb_status load_strings(bb_model *m, bb_error *err) {
    gguf_string s = {0};
    bb_status st = gguf_get_str(m->file, "general.name", false, &s, err);
    if (st) return st;
    m->name = dup_gguf_string(s);
    s = (gguf_string){0};
    if ((st = gguf_get_str(m->file, "tokenizer.chat_template", false, &s, err))) return st;
    if (s.data) m->chat_template = dup_gguf_string(s);
    if (!m->name || (s.data && !m->chat_template))
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    return BB_OK;
}

static bb_status load_arch(bb_model *m, bool vocab_only, bb_error *err) {
    gguf_string arch = {0};
    bb_status st = gguf_get_str(m->file, "general.architecture", !vocab_only, &arch, err);
    if (st) return st;
    m->arch = arch.data ? bb_arch_find(arch.data, arch.len) : NULL;
    if (!m->arch && !vocab_only)
        return bb_fail(err, BB_ERR_UNSUPPORTED,
                       "architecture '%.*s' is not supported (supported: %s)",
                       (int)(arch.len > 64 ? 64 : arch.len), arch.data, bb_arch_supported_list());
    return BB_OK;
}

static bb_status load_weights(bb_model *m, bb_error *err) {
    bb_status st = bb_hparams_load(m->file, m->arch, &m->hp, err);
    if (st) return st;
    const gguf_tensor *te = gguf_find_tensor(m->file, "token_embd.weight");
    if (!te) return bb_fail(err, BB_ERR_FORMAT, "missing tensor 'token_embd.weight'");
    if (te->ne[1] == 0 || te->ne[1] > (1u << 24))
        return bb_fail(err, BB_ERR_FORMAT, "token_embd.weight has %llu rows, out of range",
                       (unsigned long long)te->ne[1]);
    m->hp.n_vocab = (uint32_t)te->ne[1];
    if (m->vocab && (uint32_t)bb_vocab_n_tokens(m->vocab) > m->hp.n_vocab)
        return bb_fail(err, BB_ERR_FORMAT,
                       "the tokenizer has %d tokens but token_embd.weight "
                       "only %u rows",
                       bb_vocab_n_tokens(m->vocab), m->hp.n_vocab);
    m->layers = calloc(m->hp.n_layer, sizeof *m->layers);
    if (!m->layers) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    return bb_weights_bind(m, err);
}

/* A vocab-only file (a tokenizer shipped alone) may leave the hyper-parameters out; when it
 * gives them for an architecture we run, they must be ones that could run, so that every
 * command refuses the same broken file. */
static bb_status check_vocab_only_hparams(bb_model *m, bb_error *err) {
    if (!m->arch) return BB_OK;
    char key[128];
    snprintf(key, sizeof key, "%s.embedding_length", m->arch->name);
    if (gguf_find_key(m->file, key) < 0) return BB_OK;
    return bb_hparams_load(m->file, m->arch, &m->hp, err);
}

static bb_status finish_load(bb_model *m, const bb_model_params *params, bb_error *err) {
    bool metadata_only = params && params->metadata_only;
    bool vocab_only = metadata_only || (params && params->vocab_only);
    m->vocab_only = vocab_only;
    if (metadata_only) return BB_OK;
    bb_status st;
    if ((st = load_arch(m, vocab_only, err)) || (st = load_strings(m, err)) ||
        (st = bb_vocab_load(m->file, &m->vocab, err)))
        return st;
    if (vocab_only) return check_vocab_only_hparams(m, err);
    if ((st = load_weights(m, err)) || (st = bb_weights_repack(m, err))) return st;
    return BB_OK;
}

bb_status bb_model_load(const char *path, const bb_model_params *params, bb_model **out,
                        bb_error *err) {
    *out = NULL;
    bb_model *m = calloc(1, sizeof *m);
    if (!m) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    bb_status st = gguf_open(path, &m->file, err);
    if (st == BB_OK) st = finish_load(m, params, err);
    if (st != BB_OK) {
        /* prefix the file name so a user with several models knows which one is wrong */
        if (err && strncmp(err->message, path, strlen(path)) != 0) {
            char msg[sizeof err->message];
            memcpy(msg, err->message, sizeof msg);
            snprintf(err->message, sizeof err->message, "%.100s: %.400s", path, msg);
        }
        bb_model_free(m);
        return st;
    }
    *out = m;
    return BB_OK;
}

bb_status bb_model_load_from_memory(const void *data, size_t size, const bb_model_params *params,
                                    bb_model **out, bb_error *err) {
    *out = NULL;
    bb_model *m = calloc(1, sizeof *m);
    if (!m) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    bb_status st = gguf_open_memory(data, size, &m->file, err);
    if (st == BB_OK) st = finish_load(m, params, err);
    if (st != BB_OK) {
        bb_model_free(m);
        return st;
    }
    *out = m;
    return BB_OK;
}

void bb_model_free(bb_model *m) {
    if (!m) return;
    if (m->vocab) bb_vocab_free(m->vocab);
    if (m->file) gguf_close(m->file);
    bb_weights_free_packed(m);
    free(m->layers);
    free(m->name);
    free(m->chat_template);
    free(m);
}

const bb_vocab *bb_model_vocab(const bb_model *m) {
    return m->vocab;
}
const char *bb_model_arch(const bb_model *m) {
    return m->arch ? m->arch->name : "";
}
const char *bb_model_name(const bb_model *m) {
    return m->name ? m->name : "";
}
const char *bb_model_chat_template(const bb_model *m) {
    return m->chat_template;
}
int32_t bb_model_n_vocab(const bb_model *m) {
    return (int32_t)m->hp.n_vocab;
}
int32_t bb_model_n_embd(const bb_model *m) {
    return (int32_t)m->hp.n_embd;
}
int32_t bb_model_n_layer(const bb_model *m) {
    return (int32_t)m->hp.n_layer;
}
int32_t bb_model_n_ctx_train(const bb_model *m) {
    return (int32_t)m->hp.n_ctx_train;
}
uint64_t bb_model_n_params(const bb_model *m) {
    return m->n_params;
}
uint64_t bb_model_repacked_bytes(const bb_model *m) {
    return m->repacked_bytes;
}

uint64_t bb_model_weight_bytes(const bb_model *m) {
    return m->weight_bytes;
}
