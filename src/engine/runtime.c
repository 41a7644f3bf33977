#include "engine/runtime.h"

#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "train/demo_model.h"

/* The file's base name without its .gguf extension. */
static void base_name(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && !strcmp(b + n - 5, ".gguf")) n -= 5;
    snprintf(out, cap, "%.*s", (int)n, b);
}

static bb_status load_model(const runtime_params *p, runtime *rt, bb_error *err) {
    bb_model_params mp = bb_model_default_params();
    if (!p->model_path) {
        size_t size = 0;
        const unsigned char *demo = bb_demo_model_data(&size);
        if (!demo)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "no model given (-m FILE.gguf) and this build has no demo model");
        rt->default_id = BB_DEMO_MODEL_ID;
        return bb_model_load_from_memory(demo, size, &mp, &rt->model, err);
    }
    bb_status st = bb_model_load(p->model_path, &mp, &rt->model, err);
    if (st != BB_OK) return st;
    const char *name = bb_model_name(rt->model);
    if (name && name[0])
        snprintf(rt->id_buf, sizeof rt->id_buf, "%s", name);
    else
        base_name(p->model_path, rt->id_buf, sizeof rt->id_buf);
    rt->default_id = rt->id_buf;
    return BB_OK;
}

bb_status runtime_open(const runtime_params *p, runtime *rt, bb_error *err) {
    memset(rt, 0, sizeof *rt);
    if (p->n_ctx < 2 || p->n_seq_max < 1 || p->n_batch < p->n_seq_max)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "need ctx-size >= 2, parallel >= 1 and batch >= parallel (got %d, %d, %d)",
                       p->n_ctx, p->n_seq_max, p->n_batch);
    bb_status st = load_model(p, rt, err);
    if (st != BB_OK) return st;
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = (uint32_t)p->n_ctx;
    cp.n_batch = (uint32_t)p->n_batch;
    cp.n_seq_max = (uint32_t)p->n_seq_max;
    cp.n_threads = p->n_threads;
    cp.prefix_cache = !p->no_prefix_cache;
    st = bb_context_new(rt->model, &cp, &rt->ctx, err);
    if (st != BB_OK) {
        runtime_close(rt);
        return st;
    }
    int32_t n_ctx = (int32_t)bb_context_n_ctx(rt->ctx);
    int32_t train = bb_model_n_ctx_train(rt->model);
    rt->n_seq_ctx = train > 0 && train < n_ctx ? train : n_ctx;
    rt->backend = engine_backend_context(rt->ctx);
    engine_params ep = {.n_seq_max = p->n_seq_max,
                        .n_batch = p->n_batch,
                        .step_tokens = p->step_tokens,
                        .n_ctx = n_ctx,
                        .n_seq_ctx = rt->n_seq_ctx,
                        .n_vocab = bb_model_n_vocab(rt->model),
                        .max_queue = p->max_queue};
    st = engine_new(&rt->backend, bb_model_vocab(rt->model), &ep, &rt->engine, err);
    if (st != BB_OK) runtime_close(rt);
    return st;
}

void runtime_close(runtime *rt) {
    engine_free(rt->engine);
    bb_context_free(rt->ctx);
    bb_model_free(rt->model);
    memset(rt, 0, sizeof *rt);
}
