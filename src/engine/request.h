/* Internals of engine_request shared by request.c (creation, output hand-over) and engine.c
 * (the scheduler). Fields marked "engine" are touched only by the engine thread. */
#ifndef BB_ENGINE_REQUEST_H
#define BB_ENGINE_REQUEST_H

#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "engine/stop.h"

/* Output of one choice waiting to be taken (under engine_request.mu). */
typedef struct choice_out {
    char *text;
    size_t len, cap;
    engine_token_info *tokens;
    size_t n_tokens, cap_tokens;
    engine_finish finish;
    bool finish_taken;
} choice_out;

/* One choice being generated (engine). Its tokens are the prompt followed by what was sampled;
 * the first n_past are in the KV cache, and the rest are fed in the next steps. */
typedef struct engine_seq {
    int32_t seq_id; /* -1 while holding no slot */
    bb_token *tokens;
    int32_t n_tokens, cap;
    int32_t n_past;
    int32_t n_generated;
    bb_sampler *sampler;
    bb_detok *detok;
    stop_matcher stop;
    size_t released;         /* text bytes handed to choice_out */
    engine_token_info *held; /* tokens whose text is not yet released */
    size_t n_held, cap_held;
    double t_last;     /* when the last token was sampled */
    int32_t n_feed;    /* tokens it has in this step's batch */
    int32_t out_index; /* batch entry of its logits this step, or -1 */
    bool finished;
} engine_seq;

struct engine_request {
    atomic_int refs;
    atomic_bool cancel;
    int event_fd; /* eventfd: readable when output was added */
    int32_t n_choices;
    int32_t max_tokens;
    bool logprobs;
    int32_t top_logprobs;
    bb_token *prompt;
    int32_t n_prompt;
    bb_logit_bias *logit_bias; /* the samplers' copy, alive as long as they are */

    pthread_mutex_t mu; /* guards out, n_finished, completion_tokens, error */
    choice_out *out;
    int32_t n_finished;
    int32_t completion_tokens;
    int32_t cached_tokens;
    char error[256];

    /* engine */
    engine_seq *seqs;
    double t_submit;
    bool started;     /* admitted at least once (prompt counted) */
    bool first_token; /* TTFT observed */
    struct engine_request *next;
};

bb_status request_create(const engine_gen_params *p, const bb_token *prompt, size_t n_prompt,
                         int32_t n_vocab, const bb_vocab *vocab, engine_request **out,
                         bb_error *err);
/* Appends released text and token infos of a choice and wakes the reader. */
bb_status request_publish(engine_request *r, int32_t choice, const char *text, size_t len,
                          const engine_token_info *tokens, size_t n_tokens, bb_error *err);
/* Marks a choice finished (once) and wakes the reader. */
void request_finish(engine_request *r, int32_t choice, engine_finish finish, const char *error);
void request_ref(engine_request *r);
void request_count_token(engine_request *r);

#endif
