#define _GNU_SOURCE /* POLLRDHUP */
#include "engine/request.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/checked.h"
#include "common/error.h"
#include "sample/grammar.h"

static void seq_free(engine_seq *s) {
    free(s->tokens);
    bb_sampler_free(s->sampler);
    bb_detok_free(s->detok);
    stop_free(&s->stop);
    free(s->held);
}

static bb_status seq_init(engine_seq *s, const engine_gen_params *p, int32_t choice,
                          const bb_logit_bias *bias, const bb_token *prompt, int32_t n_prompt,
                          int32_t n_vocab, const bb_vocab *vocab, bb_error *err) {
    memset(s, 0, sizeof *s);
    s->seq_id = -1;
    s->out_index = -1;
    s->cap = n_prompt + p->max_tokens;
    s->tokens = malloc((size_t)s->cap * sizeof *s->tokens);
    if (!s->tokens) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a sequence");
    memcpy(s->tokens, prompt, (size_t)n_prompt * sizeof *prompt);
    s->n_tokens = n_prompt;
    bb_sampler_params sp = p->sampling;
    sp.logit_bias = bias;
    /* n > 1: different choices, each reproducible (UINT64_MAX asks for a clock seed). */
    if (sp.seed != UINT64_MAX) sp.seed += (uint64_t)choice;
    bb_status st = bb_sampler_new(&sp, n_vocab, &s->sampler, err);
    if (st != BB_OK) return st;
    /* Penalties see the prompt too, as llama.cpp's server does. */
    for (int32_t i = 0; i < n_prompt; i++)
        bb_sampler_accept(s->sampler, prompt[i]);
    if (p->grammar) {
        bb_grammar_matcher *m;
        if (!p->grammar_vocab)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "a grammar needs a grammar vocabulary");
        st = bb_grammar_matcher_new(p->grammar, p->grammar_vocab, &m, err);
        if (st != BB_OK) return st;
        bb_sampler_set_grammar(s->sampler, m);
    }
    s->detok = bb_detok_new(vocab, p->special_text);
    if (!s->detok) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a detokenizer");
    return stop_init(&s->stop, p->stop, p->n_stop, err);
}

static bb_status validate(const engine_gen_params *p, size_t n_prompt, bb_error *err) {
    if (n_prompt == 0) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the prompt is empty");
    if (n_prompt > INT32_MAX / 2)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the prompt is too long");
    if (p->n_choices < 1) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "n_choices must be >= 1");
    if (p->max_tokens < 1 || p->max_tokens > INT32_MAX / 2)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "max_tokens %d out of range", p->max_tokens);
    if (p->top_logprobs < 0 || p->top_logprobs > ENGINE_MAX_TOP_LOGPROBS)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "top_logprobs must be 0..%d",
                       ENGINE_MAX_TOP_LOGPROBS);
    return BB_OK;
}

bb_status request_create(const engine_gen_params *p, const bb_token *prompt, size_t n_prompt,
                         int32_t n_vocab, const bb_vocab *vocab, engine_request **out,
                         bb_error *err) {
    *out = NULL;
    bb_status st = validate(p, n_prompt, err);
    if (st != BB_OK) return st;
    engine_request *r = calloc(1, sizeof *r);
    if (!r) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a request");
    atomic_init(&r->refs, 1);
    atomic_init(&r->cancel, false);
    pthread_mutex_init(&r->mu, NULL);
    r->n_choices = p->n_choices;
    r->max_tokens = p->max_tokens;
    r->logprobs = p->logprobs;
    r->top_logprobs = p->top_logprobs;
    r->n_prompt = (int32_t)n_prompt;
    r->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->prompt = malloc(n_prompt * sizeof *prompt);
    r->out = calloc((size_t)p->n_choices, sizeof *r->out);
    r->seqs = calloc((size_t)p->n_choices, sizeof *r->seqs);
    if (r->event_fd < 0 || !r->prompt || !r->out || !r->seqs) {
        engine_request_unref(r);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "could not allocate a request");
    }
    memcpy(r->prompt, prompt, n_prompt * sizeof *prompt);
    if (p->sampling.n_logit_bias) {
        r->logit_bias = malloc(p->sampling.n_logit_bias * sizeof *r->logit_bias);
        if (!r->logit_bias) {
            engine_request_unref(r);
            return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "could not allocate a request");
        }
        memcpy(r->logit_bias, p->sampling.logit_bias,
               p->sampling.n_logit_bias * sizeof *r->logit_bias);
    }
    for (int32_t i = 0; i < p->n_choices; i++) {
        st = seq_init(&r->seqs[i], p, i, r->logit_bias, prompt, r->n_prompt, n_vocab, vocab, err);
        if (st != BB_OK) {
            engine_request_unref(r);
            return st;
        }
    }
    *out = r;
    return BB_OK;
}

void request_ref(engine_request *r) {
    atomic_fetch_add(&r->refs, 1);
}

void engine_request_ref(engine_request *r) {
    request_ref(r);
}

void engine_request_unref(engine_request *r) {
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    for (int32_t i = 0; r->seqs && i < r->n_choices; i++)
        seq_free(&r->seqs[i]);
    for (int32_t i = 0; r->out && i < r->n_choices; i++) {
        free(r->out[i].text);
        free(r->out[i].tokens);
    }
    free(r->seqs);
    free(r->out);
    free(r->prompt);
    free(r->logit_bias);
    if (r->event_fd >= 0) close(r->event_fd);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void engine_request_cancel(engine_request *r) {
    atomic_store(&r->cancel, true);
}

static void wake(engine_request *r) {
    uint64_t one = 1;
    /* Fails only when the counter would overflow, and then the reader is awake anyway. */
    if (write(r->event_fd, &one, sizeof one) < 0) return;
}

static bool grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap * 2 : 16, bytes;
    if (n < need) n = need;
    if (!bb_mul_size(n, elem, &bytes)) return false;
    void *p = realloc(*buf, bytes);
    if (!p) return false;
    *buf = p;
    *cap = n;
    return true;
}

bb_status request_publish(engine_request *r, int32_t choice, const char *text, size_t len,
                          const engine_token_info *tokens, size_t n_tokens, bb_error *err) {
    choice_out *o = &r->out[choice];
    bb_status st = BB_OK;
    pthread_mutex_lock(&r->mu);
    if (!grow((void **)&o->text, &o->cap, o->len + len + 1, 1) ||
        !grow((void **)&o->tokens, &o->cap_tokens, o->n_tokens + n_tokens, sizeof *tokens)) {
        st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for output");
    } else {
        memcpy(o->text + o->len, text, len);
        o->len += len;
        o->text[o->len] = 0;
        if (n_tokens) memcpy(o->tokens + o->n_tokens, tokens, n_tokens * sizeof *tokens);
        o->n_tokens += n_tokens;
    }
    pthread_mutex_unlock(&r->mu);
    wake(r);
    return st;
}

void request_finish(engine_request *r, int32_t choice, engine_finish finish, const char *error) {
    pthread_mutex_lock(&r->mu);
    if (r->out[choice].finish == ENGINE_FINISH_NONE) {
        r->out[choice].finish = finish;
        r->n_finished++;
        if (error && !r->error[0]) snprintf(r->error, sizeof r->error, "%s", error);
    }
    pthread_mutex_unlock(&r->mu);
    wake(r);
}

void request_count_token(engine_request *r) {
    pthread_mutex_lock(&r->mu);
    r->completion_tokens++;
    pthread_mutex_unlock(&r->mu);
}

bool engine_request_take(engine_request *r, int32_t choice, engine_delta *out) {
    memset(out, 0, sizeof *out);
    if (choice < 0 || choice >= r->n_choices) return false;
    choice_out *o = &r->out[choice];
    pthread_mutex_lock(&r->mu);
    if (o->len) {
        out->text = o->text;
        out->len = o->len;
        o->text = NULL;
        o->len = o->cap = 0;
    }
    if (o->n_tokens) {
        out->tokens = o->tokens;
        out->n_tokens = o->n_tokens;
        o->tokens = NULL;
        o->n_tokens = o->cap_tokens = 0;
    }
    if (o->finish != ENGINE_FINISH_NONE && !o->finish_taken) {
        out->finish = o->finish;
        o->finish_taken = true;
    }
    pthread_mutex_unlock(&r->mu);
    return out->len || out->n_tokens || out->finish != ENGINE_FINISH_NONE;
}

void engine_delta_free(engine_delta *d) {
    free(d->text);
    free(d->tokens);
    memset(d, 0, sizeof *d);
}

bool engine_request_done(engine_request *r) {
    pthread_mutex_lock(&r->mu);
    bool done = r->n_finished == r->n_choices;
    pthread_mutex_unlock(&r->mu);
    return done;
}

int32_t engine_request_n_choices(const engine_request *r) {
    return r->n_choices;
}

const char *engine_request_error(engine_request *r) {
    pthread_mutex_lock(&r->mu);
    const char *e = r->error[0] ? r->error : NULL;
    pthread_mutex_unlock(&r->mu);
    return e;
}

void engine_request_usage(engine_request *r, int32_t *prompt_tokens, int32_t *completion_tokens) {
    pthread_mutex_lock(&r->mu);
    *prompt_tokens = r->n_prompt;
    *completion_tokens = r->completion_tokens;
    pthread_mutex_unlock(&r->mu);
}

int32_t engine_request_cached_tokens(engine_request *r) {
    pthread_mutex_lock(&r->mu);
    int32_t n = r->cached_tokens;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int engine_request_wait(engine_request *r, int watch_fd, int timeout_ms) {
    struct pollfd fds[2] = {{.fd = r->event_fd, .events = POLLIN},
                            {.fd = watch_fd, .events = POLLRDHUP}};
    int n = poll(fds, watch_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    if (n == 0) return 0;
    /* A hang-up wins over output so that a steady stream cannot hide it. */
    if (watch_fd >= 0 && (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR))) return -1;
    if (fds[0].revents & POLLIN) {
        uint64_t v;
        if (read(r->event_fd, &v, sizeof v) < 0) v = 0;
        return 1;
    }
    return 0;
}
