/* A loaded model with a context and an engine running over it: what `beanbag serve` and
 * `beanbag chat` both start from. */
#ifndef BB_ENGINE_RUNTIME_H
#define BB_ENGINE_RUNTIME_H

#include "engine/engine.h"

typedef struct runtime_params {
    const char
        *model_path;     /* NULL: the embedded demo model (src/train/demo_model.h), if built in */
    int32_t n_ctx;       /* KV pool tokens */
    int32_t n_batch;     /* batch capacity: most tokens a step holds */
    int32_t step_tokens; /* per-step token budget (engine_params.step_tokens); <= 0: n_batch */
    int32_t n_seq_max;   /* sequences side by side */
    int32_t n_threads;   /* <= 0: all CPUs */
    int32_t max_queue;
    bool no_prefix_cache; /* compute every prompt in full (--no-prefix-cache) */
} runtime_params;

typedef struct runtime {
    bb_model *model;
    bb_context *ctx;
    engine_backend backend;
    engine *engine;
    int32_t n_seq_ctx; /* longest sequence: the pool, or the model's training context if less */
    const char *default_id; /* "beanbag-demo", general.name or the file's base name */
    char id_buf[256];
} runtime;

bb_status runtime_open(const runtime_params *params, runtime *rt, bb_error *err);
/* Stops the engine (cancelling what runs) and frees everything. */
void runtime_close(runtime *rt);

#endif
