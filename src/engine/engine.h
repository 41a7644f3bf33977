/*
 * Continuous-batching engine: one thread owns the model context and runs every forward pass.
 * Other threads (HTTP connections, the terminal chat) create requests, submit them, and read
 * their output as it is produced; they never touch model state.
 *
 * Each step builds ONE batch: one token for every running sequence whose prompt is done
 * (decode) plus, in the room left under the step's token budget (step_tokens, at most n_batch),
 * chunks of prompts still being read, oldest request first (chunked prefill). A step's time
 * grows with its tokens, and every stream waits for the whole step, so the budget bounds how
 * much a long prompt can delay everyone else's next token. The KV cache is one pool:
 * a request starts only when its prompts fit; when the pool runs dry mid-generation the
 * youngest request is preempted (its cache dropped, to be recomputed from its tokens later).
 * A sequence that starts takes whatever the prefix cache holds of its tokens (the backend's
 * seq_reuse) and feeds only the rest; a prefix other sequences hold counts as free room.
 * Every sequence's tokens are computed and sampled the same way whatever else is in the batch,
 * so with the model's batch-invariant kernels greedy output does not depend on load.
 */
#ifndef BB_ENGINE_H
#define BB_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"
#include "engine/histogram.h"
#include "grammar/grammar.h"

/* The model behind the scheduler: a bb_context in production (engine_backend_context), a fake
 * in scheduler tests. Only the engine thread calls it. */
typedef struct engine_backend {
    void *self;
    bb_status (*decode)(void *self, const bb_batch *batch, bb_error *err);
    const float *(*logits)(void *self, int32_t i);
    /* Drops every cached position of a sequence. */
    void (*seq_clear)(void *self, int32_t seq_id);
    uint32_t (*free_tokens)(void *self);
    /* Prefix cache (optional, NULL: none): fills an empty sequence with the cached prefix of
     * its tokens and returns the positions filled; the positions of that prefix held by other
     * sequences already (free to share, for admission); the table's gauges. */
    int32_t (*seq_reuse)(void *self, int32_t seq_id, const bb_token *tokens, int32_t n);
    int32_t (*prefix_held)(void *self, const bb_token *tokens, int32_t n);
    void (*prefix_stats)(void *self, bb_kv_prefix_info *out);
} engine_backend;

engine_backend engine_backend_context(bb_context *ctx);

typedef struct engine_params {
    int32_t n_seq_max; /* sequences decoded side by side (sequence ids 0..n_seq_max-1) */
    int32_t n_batch;   /* batch capacity, the most tokens a step can hold; >= n_seq_max */
    /* Token budget of a step: decode tokens first (all of them, even beyond the budget), then
     * prompt chunks up to the budget. <= 0 or > n_batch: n_batch. */
    int32_t step_tokens;
    int32_t n_ctx;     /* KV pool size in tokens */
    int32_t n_seq_ctx; /* longest sequence, prompt + generated */
    int32_t n_vocab;
    int32_t max_queue; /* requests waiting to start beyond which submit refuses */
} engine_params;

typedef enum engine_finish {
    ENGINE_FINISH_NONE = 0,
    ENGINE_FINISH_STOP,      /* end-of-generation token or stop string */
    ENGINE_FINISH_LENGTH,    /* max_tokens or the context */
    ENGINE_FINISH_CANCELLED, /* engine_request_cancel or shutdown */
    ENGINE_FINISH_ERROR,     /* see engine_request_error */
} engine_finish;

#define ENGINE_MAX_TOP_LOGPROBS 20

/* One generated token as logprobs report it. */
typedef struct engine_token_info {
    bb_token token;
    float logprob;
    uint32_t text_offset; /* where its text starts in the choice's text */
    double time_s;        /* when it was sampled (CLOCK_MONOTONIC seconds) */
    int32_t n_top;
    bb_token top_ids[ENGINE_MAX_TOP_LOGPROBS];
    float top_logprobs[ENGINE_MAX_TOP_LOGPROBS];
} engine_token_info;

typedef struct engine_gen_params {
    bb_sampler_params sampling; /* logit_bias is copied; choice i is seeded with seed + i */
    int32_t n_choices;
    int32_t max_tokens;      /* generated tokens per choice; capped by n_seq_ctx */
    const char *const *stop; /* copied */
    size_t n_stop;
    bool logprobs;        /* report engine_token_info per token */
    int32_t top_logprobs; /* 0..ENGINE_MAX_TOP_LOGPROBS alternatives per token */
    bool special_text;    /* control tokens appear in the text (tool-call markers) */
    /* Structured output (src/grammar/grammar.h): every choice gets its own matcher of this
     * grammar (referenced, not copied) over grammar_vocab, which must outlive the request.
     * NULL: unconstrained. */
    bb_grammar *grammar;
    const bb_grammar_vocab *grammar_vocab;
} engine_gen_params;

typedef struct engine engine;
typedef struct engine_request engine_request;

/* A request for n_choices completions of one prompt, for engine e; the caller holds one
 * reference. max_tokens is capped to what the sequence length leaves after the prompt. */
bb_status engine_request_new(engine *e, const engine_gen_params *params, const bb_token *prompt,
                             size_t n_prompt, engine_request **out, bb_error *err);
void engine_request_ref(engine_request *r); /* one more reference */
void engine_request_unref(engine_request *r);
/* Asks the engine to stop the request; it frees the request's cache within one step. */
void engine_request_cancel(engine_request *r);

/* Output of one choice since the last take; the caller frees text and tokens with free(). */
typedef struct engine_delta {
    char *text; /* NUL-terminated UTF-8, NULL when empty */
    size_t len;
    engine_token_info *tokens; /* only with params.logprobs */
    size_t n_tokens;
    engine_finish finish; /* reported once, with the choice's last text */
} engine_delta;

/* Takes what choice i produced since the last call; returns whether there was anything. */
bool engine_request_take(engine_request *r, int32_t choice, engine_delta *out);
void engine_delta_free(engine_delta *d);
bool engine_request_done(engine_request *r); /* every choice finished */
int32_t engine_request_n_choices(const engine_request *r);
/* Message of an ENGINE_FINISH_ERROR (valid until unref), or NULL. */
const char *engine_request_error(engine_request *r);
void engine_request_usage(engine_request *r, int32_t *prompt_tokens, int32_t *completion_tokens);
/* Prompt tokens found in the prefix cache when the request first started (OpenAI's
 * usage.prompt_tokens_details.cached_tokens). */
int32_t engine_request_cached_tokens(engine_request *r);

/* Waits up to timeout_ms (< 0: forever) for new output. With watch_fd >= 0 (a connected socket)
 * it also returns when the peer hangs up. Returns 1 on output (or done), 0 on timeout,
 * -1 when the peer hung up. */
int engine_request_wait(engine_request *r, int watch_fd, int timeout_ms);

/* Starts the engine thread. The backend and vocab must outlive the engine. */
bb_status engine_new(const engine_backend *backend, const bb_vocab *vocab,
                     const engine_params *params, engine **out, bb_error *err);
/* Cancels whatever is still running, joins the thread and frees the engine. */
void engine_free(engine *e);
/* Queues a request (taking its own reference). BB_ERR_NO_SPACE: the waiting queue is full;
 * BB_ERR_INVALID_ARGUMENT: it could never fit (n_choices or prompt lengths); BB_ERR_CANCELLED:
 * the engine is shutting down. */
bb_status engine_submit(engine *e, engine_request *r, bb_error *err);
/* Refuses new requests from now on, lets running ones finish until the deadline (seconds from
 * now), then cancels the rest. Returns when nothing is left. */
void engine_drain(engine *e, double deadline_s);

typedef struct engine_stats {
    uint64_t waiting;      /* requests queued, not started */
    uint64_t running;      /* requests started */
    uint64_t running_seqs; /* sequences holding a slot */
    uint64_t kv_used;      /* pool tokens in use */
    uint64_t kv_total;
    uint64_t prompt_tokens;    /* prompt tokens of started requests */
    uint64_t generated_tokens; /* tokens sampled */
    uint64_t preemptions;
    uint64_t steps;
    histogram ttft;          /* submit to first token, per request */
    histogram inter_token;   /* between tokens of one sequence */
    histogram step_tokens;   /* tokens per forward step (hist_token_bounds) */
    histogram step_time;     /* seconds per step: forward pass and sampling */
    uint64_t prefill_tokens; /* prompt (and recomputed) tokens fed, all steps */
    int32_t step_budget;     /* the step_tokens in effect */
    /* prefix cache: tokens of started sequences found cached / computed, and the table */
    uint64_t prefix_hit_tokens;
    uint64_t prefix_miss_tokens;
    uint64_t prefix_cached_blocks;
    uint64_t prefix_evictable_blocks;
    uint64_t prefix_evictions;
    uint32_t prefix_block_tokens;
} engine_stats;

void engine_get_stats(engine *e, engine_stats *out);

#endif
