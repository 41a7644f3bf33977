/* The continuous-batching scheduler (see engine.h for the model it follows). */
#include "engine/engine.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"
#include "engine/request.h"
#include "sample/grammar.h"

struct engine {
    engine_backend be;
    const bb_vocab *vocab;
    engine_params p;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* work arrived, or quit */
    pthread_cond_t idle; /* a step ended */

    /* under mu */
    engine_request *wait_head, *wait_tail;
    int32_t n_waiting;
    int32_t n_active;
    bool refuse, cancel_all, quit;
    engine_stats stats;

    /* engine thread only */
    engine_request *active_head, *active_tail; /* in admission order */
    int32_t *free_slots;
    int32_t n_free_slots;
    int32_t step_budget;  /* params.step_tokens, within 1..n_batch */
    int32_t n_decode_fed; /* decode tokens in the batch, the rest are prompt chunks */
    bb_batch batch;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- sequences and slots */

static void seq_release(engine *e, engine_seq *s) {
    if (s->seq_id < 0) return;
    e->be.seq_clear(e->be.self, s->seq_id);
    e->free_slots[e->n_free_slots++] = s->seq_id;
    s->seq_id = -1;
    s->n_past = 0;
}

static int32_t pending(const engine_seq *s) {
    return s->n_tokens - s->n_past;
}

/* Tokens not yet in the cache that active sequences will still feed. */
static int64_t active_pending(const engine *e) {
    int64_t sum = 0;
    for (engine_request *r = e->active_head; r; r = r->next)
        for (int32_t c = 0; c < r->n_choices; c++)
            if (!r->seqs[c].finished) sum += pending(&r->seqs[c]) + 1; /* + its next token */
    return sum;
}

static void active_remove(engine *e, engine_request *r) {
    engine_request **pp = &e->active_head, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp) return;
    *pp = r->next;
    if (e->active_tail == r) e->active_tail = prev;
    r->next = NULL;
    pthread_mutex_lock(&e->mu);
    e->n_active--;
    pthread_mutex_unlock(&e->mu);
}

/* Ends choice c (once): gives back its slot and cache and reports how it finished. */
static void choice_end(engine *e, engine_request *r, int32_t c, engine_finish finish,
                       const char *msg) {
    engine_seq *s = &r->seqs[c];
    seq_release(e, s);
    if (s->finished) return;
    s->finished = true;
    request_finish(r, c, finish, msg);
}

/* Ends every unfinished choice of an active request and drops the engine's reference. */
static void request_end(engine *e, engine_request *r, engine_finish finish, const char *msg) {
    for (int32_t c = 0; c < r->n_choices; c++)
        choice_end(e, r, c, finish, msg);
    active_remove(e, r);
    engine_request_unref(r);
}

/* ---------------------------------------------------------------- queue (under mu) */

static void waiting_push_front(engine *e, engine_request *r) {
    r->next = e->wait_head;
    e->wait_head = r;
    if (!e->wait_tail) e->wait_tail = r;
    e->n_waiting++;
}

static engine_request *waiting_pop(engine *e) {
    engine_request *r = e->wait_head;
    if (!r) return NULL;
    e->wait_head = r->next;
    if (!e->wait_head) e->wait_tail = NULL;
    r->next = NULL;
    e->n_waiting--;
    return r;
}

/* Finishes cancelled requests that never started (or were preempted) as cancelled. */
static void reap_waiting(engine *e) {
    engine_request *keep_head = NULL, *keep_tail = NULL, *r;
    while ((r = waiting_pop(e))) {
        if (e->cancel_all || atomic_load(&r->cancel)) {
            for (int32_t c = 0; c < r->n_choices; c++)
                choice_end(e, r, c, ENGINE_FINISH_CANCELLED, NULL);
            engine_request_unref(r);
            continue;
        }
        if (keep_tail)
            keep_tail->next = r;
        else
            keep_head = r;
        keep_tail = r;
    }
    e->wait_head = keep_head;
    e->wait_tail = keep_tail;
    for (r = keep_head; r; r = r->next)
        e->n_waiting++;
}

static int64_t request_need(const engine_request *r) {
    int64_t need = 0;
    for (int32_t c = 0; c < r->n_choices; c++)
        if (!r->seqs[c].finished) need += r->seqs[c].n_tokens + 1;
    return need;
}

static int32_t request_live(const engine_request *r) {
    int32_t n = 0;
    for (int32_t c = 0; c < r->n_choices; c++)
        n += !r->seqs[c].finished;
    return n;
}

/* Cache room a request's live choices need to finish their prompts: a prefix that other
 * sequences hold already is shared, not allocated again. */
static int64_t request_cost(engine *e, const engine_request *r) {
    int64_t need = request_need(r);
    if (!e->be.prefix_held) return need;
    for (int32_t c = 0; c < r->n_choices; c++) {
        const engine_seq *s = &r->seqs[c];
        if (!s->finished) need -= e->be.prefix_held(e->be.self, s->tokens, s->n_tokens);
    }
    return need;
}

/* Gives a sequence that just got its slot whatever the prefix cache holds of its tokens (a
 * preempted sequence finds its own blocks again if they were not evicted meanwhile). */
static void seq_start(engine *e, engine_request *r, int32_t c) {
    engine_seq *s = &r->seqs[c];
    int32_t reused =
        e->be.seq_reuse ? e->be.seq_reuse(e->be.self, s->seq_id, s->tokens, s->n_tokens) : 0;
    s->n_past = reused;
    e->stats.prefix_hit_tokens += (uint64_t)reused;
    e->stats.prefix_miss_tokens += (uint64_t)(s->n_tokens - reused);
    if (!r->started && c == 0) {
        pthread_mutex_lock(&r->mu);
        r->cached_tokens = reused < r->n_prompt ? reused : r->n_prompt;
        pthread_mutex_unlock(&r->mu);
    }
}

/* Starts waiting requests, oldest first, while slots and cache room last. A request that does
 * not fit blocks the ones behind it, so a large request is not starved by small ones. */
static void admit(engine *e) {
    while (e->wait_head) {
        engine_request *r = e->wait_head;
        if (request_live(r) > e->n_free_slots) return;
        int64_t budget = (int64_t)e->be.free_tokens(e->be.self) - active_pending(e);
        /* Alone, a request always starts: whatever does not fit ends with "length". */
        if (e->active_head && request_cost(e, r) > budget) return;
        waiting_pop(e);
        for (int32_t c = 0; c < r->n_choices; c++)
            if (!r->seqs[c].finished) {
                r->seqs[c].seq_id = e->free_slots[--e->n_free_slots];
                seq_start(e, r, c);
            }
        if (!r->started) {
            r->started = true;
            e->stats.prompt_tokens += (uint64_t)r->n_prompt;
        }
        if (e->active_tail)
            e->active_tail->next = r;
        else
            e->active_head = r;
        e->active_tail = r;
        e->n_active++;
    }
}

/* Gives the cache of the youngest request back to the pool and requeues it at the front; its
 * tokens are kept and recomputed when it starts again. With a single request left, its
 * youngest choice ends instead ("length": the context is full). */
static void relieve_shortage(engine *e) {
    engine_request *r = e->active_tail;
    if (r != e->active_head) {
        for (int32_t c = 0; c < r->n_choices; c++)
            seq_release(e, &r->seqs[c]);
        active_remove(e, r);
        pthread_mutex_lock(&e->mu);
        waiting_push_front(e, r);
        e->stats.preemptions++;
        pthread_mutex_unlock(&e->mu);
        return;
    }
    int32_t c = r->n_choices - 1;
    while (c > 0 && r->seqs[c].finished)
        c--;
    choice_end(e, r, c, ENGINE_FINISH_LENGTH, NULL);
    if (request_live(r) == 0) {
        active_remove(e, r);
        engine_request_unref(r);
    }
}

/* ---------------------------------------------------------------- the batch */

/* Adds k pending tokens of s; the caller keeps the batch within its capacity (n_batch). */
static void seq_feed(engine *e, engine_seq *s, int32_t k) {
    for (int32_t i = 0; i < k; i++) {
        int32_t pos = s->n_past + i;
        bool last = pos == s->n_tokens - 1;
        if (last) s->out_index = e->batch.n_tokens;
        bb_batch_add(&e->batch, s->tokens[pos], pos, s->seq_id, last);
    }
    s->n_feed = k;
}

/* Fills the batch with at most `limit` tokens: one token of every sequence past its prompt,
 * then prompt chunks, oldest request first, up to the step budget. Returns false when the
 * cache (or the limit) cannot take even the decode tokens, or there is nothing to run.
 *
 * The active list is in submission order: admission takes only the queue's head and
 * preemption requeues the youngest active request at the head, so every active request is
 * older than every waiting one. Walking it in order therefore reads prompts first come, first
 * served, and a long prompt is split across steps where the budget ends. */
static bool build_batch(engine *e, int64_t limit) {
    bb_batch_clear(&e->batch);
    int64_t room = e->be.free_tokens(e->be.self);
    if (room > e->p.n_batch) room = e->p.n_batch;
    if (room > limit) room = limit;
    int64_t n_decode = 0, n_prefilling = 0;
    for (engine_request *r = e->active_head; r; r = r->next)
        for (int32_t c = 0; c < r->n_choices; c++) {
            engine_seq *s = &r->seqs[c];
            s->n_feed = 0;
            s->out_index = -1;
            if (s->finished) continue;
            if (pending(s) > 1) n_prefilling++;
            if (pending(s) != 1) continue;
            if (room == 0) return false;
            seq_feed(e, s, 1);
            room--;
            n_decode++;
        }
    /* Decode tokens never wait for the budget; what it leaves goes to prompts. When the decode
     * tokens alone use it up, the prompts being read still get one token of room each (used
     * oldest first like the rest), so no prompt waits forever behind decoders and a step never
     * exceeds max(budget, running sequences). */
    int64_t prefill = e->step_budget - n_decode;
    if (prefill < n_prefilling) prefill = n_prefilling;
    if (room > prefill) room = prefill;
    for (engine_request *r = e->active_head; r && room > 0; r = r->next)
        for (int32_t c = 0; c < r->n_choices && room > 0; c++) {
            engine_seq *s = &r->seqs[c];
            if (s->finished || pending(s) <= 1) continue;
            int32_t k = pending(s) < room ? pending(s) : (int32_t)room;
            seq_feed(e, s, k);
            room -= k;
        }
    e->n_decode_fed = (int32_t)n_decode;
    return e->batch.n_tokens > 0;
}

/* ---------------------------------------------------------------- tokens */

static void observe_latency(engine *e, engine_request *r, engine_seq *s, double now) {
    pthread_mutex_lock(&e->mu);
    if (!r->first_token)
        histogram_observe(&e->stats.ttft, now - r->t_submit);
    else if (s->n_generated > 0)
        histogram_observe(&e->stats.inter_token, now - s->t_last);
    e->stats.generated_tokens++;
    pthread_mutex_unlock(&e->mu);
    r->first_token = true;
    s->t_last = now;
}

static bb_status hold_token(engine_seq *s, const engine_token_info *info, bb_error *err) {
    if (s->n_held == s->cap_held) {
        size_t cap = s->cap_held ? s->cap_held * 2 : 16;
        engine_token_info *h = realloc(s->held, cap * sizeof *h);
        if (!h) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for logprobs");
        s->held = h;
        s->cap_held = cap;
    }
    s->held[s->n_held++] = *info;
    return BB_OK;
}

/* Hands over text up to `safe` and the held tokens whose text it completes (on a final
 * release, every token that starts before `safe`). */
static bb_status release(engine_request *r, int32_t c, size_t safe, bool final, bb_error *err) {
    engine_seq *s = &r->seqs[c];
    size_t n = 0;
    while (n < s->n_held) {
        size_t end = n + 1 < s->n_held ? s->held[n + 1].text_offset : s->stop.len;
        if (final ? s->held[n].text_offset >= safe : end > safe) break;
        n++;
    }
    if (safe <= s->released && n == 0) return BB_OK;
    size_t from = s->released < safe ? s->released : safe;
    bb_status st = request_publish(r, c, s->stop.text + from, safe - from, s->held, n, err);
    s->released = safe > s->released ? safe : s->released;
    if (n) memmove(s->held, s->held + n, (s->n_held - n) * sizeof *s->held);
    s->n_held -= n;
    if (final) s->n_held = 0;
    return st;
}

static void token_info(engine *e, engine_request *r, const float *logits, bb_token tok,
                       uint32_t offset, engine_token_info *info) {
    memset(info, 0, sizeof *info);
    info->token = tok;
    info->text_offset = offset;
    info->logprob = bb_logprob(logits, e->p.n_vocab, tok);
    if (r->top_logprobs > 0)
        info->n_top = bb_top_logprobs(logits, e->p.n_vocab, r->top_logprobs, info->top_ids,
                                      info->top_logprobs);
}

/* Samples choice c's next token from its logits and hands out what it completes. */
static bb_status handle_token(engine *e, engine_request *r, int32_t c, const float *logits,
                              bb_error *err) {
    engine_seq *s = &r->seqs[c];
    bb_token tok = bb_sampler_sample(s->sampler, logits);
    double now = now_s();
    observe_latency(e, r, s, now);
    const char *grammar_error = bb_sampler_grammar_error(s->sampler);
    if (grammar_error) { /* the grammar cannot go on: end the choice, keep its text so far */
        size_t safe;
        stop_check(&s->stop, true, &safe);
        bb_status st = release(r, c, safe, true, err);
        choice_end(e, r, c, ENGINE_FINISH_ERROR, grammar_error);
        return st;
    }
    bb_sampler_accept(s->sampler, tok);
    s->tokens[s->n_tokens++] = tok;
    s->n_generated++;
    request_count_token(r);

    engine_finish finish = ENGINE_FINISH_NONE;
    size_t len;
    const char *piece;
    uint32_t offset = (uint32_t)s->stop.len;
    bb_status st = BB_OK;
    if (bb_vocab_is_eog(e->vocab, tok)) {
        finish = ENGINE_FINISH_STOP;
        piece = bb_detok_flush(s->detok, &len);
    } else {
        piece = bb_detok_push(s->detok, tok, &len);
        if (r->logprobs) {
            engine_token_info info;
            token_info(e, r, logits, tok, offset, &info);
            info.time_s = now;
            st = hold_token(s, &info, err);
        }
    }
    if (st == BB_OK) st = stop_append(&s->stop, piece, len, err);
    if (finish == ENGINE_FINISH_NONE &&
        (s->n_generated >= r->max_tokens || s->n_tokens >= e->p.n_seq_ctx)) {
        finish = ENGINE_FINISH_LENGTH;
        piece = bb_detok_flush(s->detok, &len);
        if (st == BB_OK) st = stop_append(&s->stop, piece, len, err);
    }
    if (st != BB_OK) return st;
    size_t safe;
    if (stop_check(&s->stop, finish != ENGINE_FINISH_NONE, &safe)) finish = ENGINE_FINISH_STOP;
    st = release(r, c, safe, finish != ENGINE_FINISH_NONE, err);
    if (finish != ENGINE_FINISH_NONE) choice_end(e, r, c, finish, NULL);
    return st;
}

/* ---------------------------------------------------------------- one step */

static void fail_all(engine *e, const char *msg) {
    while (e->active_head)
        request_end(e, e->active_head, ENGINE_FINISH_ERROR, msg);
}

/* Runs the batch, shrinking it while the cache lacks room: first the prompt chunks, then by
 * preemption. Returns false when nothing ran. */
static bool decode_step(engine *e, bb_error *err) {
    int64_t limit = e->p.n_batch;
    for (;;) {
        if (!e->active_head) return false;
        if (!build_batch(e, limit)) {
            relieve_shortage(e);
            limit = e->p.n_batch;
            continue;
        }
        bb_status st = e->be.decode(e->be.self, &e->batch, err);
        if (st == BB_OK) return true;
        if (st != BB_ERR_NO_SPACE) {
            fail_all(e, err->message);
            return false;
        }
        /* The pool's own granularity (whole blocks) can refuse what the count allowed. */
        limit = e->batch.n_tokens / 2;
    }
}

static void sample_step(engine *e) {
    bb_error err = {0};
    engine_request *r = e->active_head;
    while (r) {
        engine_request *next = r->next;
        for (int32_t c = 0; c < r->n_choices; c++) {
            engine_seq *s = &r->seqs[c];
            if (s->finished || s->n_feed == 0) continue;
            s->n_past += s->n_feed;
            s->n_feed = 0;
            if (s->out_index < 0) continue;
            const float *logits = e->be.logits(e->be.self, s->out_index);
            bb_status st = logits ? handle_token(e, r, c, logits, &err)
                                  : bb_fail(&err, BB_ERR_INTERNAL, "no logits for a batch entry");
            if (st != BB_OK) choice_end(e, r, c, ENGINE_FINISH_ERROR, err.message);
        }
        if (request_live(r) == 0) {
            active_remove(e, r);
            engine_request_unref(r);
        }
        r = next;
    }
}

static void engine_step(engine *e) {
    pthread_mutex_lock(&e->mu);
    bool cancel_all = e->cancel_all;
    reap_waiting(e);
    pthread_mutex_unlock(&e->mu);
    for (engine_request *r = e->active_head, *next; r; r = next) {
        next = r->next;
        if (cancel_all || atomic_load(&r->cancel)) request_end(e, r, ENGINE_FINISH_CANCELLED, NULL);
    }
    pthread_mutex_lock(&e->mu);
    admit(e);
    pthread_mutex_unlock(&e->mu);

    bb_error err = {0};
    double t0 = now_s();
    bool ran = decode_step(e, &err);
    int32_t n_tokens = e->batch.n_tokens;
    if (ran) sample_step(e);
    double t1 = now_s();

    pthread_mutex_lock(&e->mu);
    if (ran) {
        histogram_observe_in(&e->stats.step_tokens, hist_token_bounds, n_tokens);
        histogram_observe(&e->stats.step_time, t1 - t0);
        e->stats.prefill_tokens += (uint64_t)(n_tokens - e->n_decode_fed);
    }
    e->stats.steps++;
    e->stats.running_seqs = (uint64_t)(e->p.n_seq_max - e->n_free_slots);
    e->stats.kv_used = (uint64_t)e->p.n_ctx - e->be.free_tokens(e->be.self);
    if (e->be.prefix_stats) {
        bb_kv_prefix_info pi;
        e->be.prefix_stats(e->be.self, &pi);
        e->stats.prefix_cached_blocks = pi.cached_blocks;
        e->stats.prefix_evictable_blocks = pi.evictable_blocks;
        e->stats.prefix_evictions = pi.evictions;
        e->stats.prefix_block_tokens = pi.block_tokens;
    }
    pthread_mutex_unlock(&e->mu);
}

static void *engine_main(void *arg) {
    engine *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        while (!e->wait_head && e->n_active == 0 && !e->quit)
            pthread_cond_wait(&e->wake, &e->mu);
        if (e->quit && !e->wait_head && e->n_active == 0) break;
        pthread_mutex_unlock(&e->mu);
        engine_step(e);
        pthread_mutex_lock(&e->mu);
        pthread_cond_broadcast(&e->idle);
    }
    pthread_cond_broadcast(&e->idle);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---------------------------------------------------------------- public */

bb_status engine_new(const engine_backend *backend, const bb_vocab *vocab,
                     const engine_params *params, engine **out, bb_error *err) {
    *out = NULL;
    const engine_params *p = params;
    if (p->n_seq_max < 1 || p->n_batch < p->n_seq_max || p->n_ctx < 1 || p->n_seq_ctx < 2 ||
        p->n_vocab < 1 || p->max_queue < 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "engine parameters out of range (n_seq_max %d, n_batch %d, n_ctx %d, "
                       "n_seq_ctx %d, max_queue %d)",
                       p->n_seq_max, p->n_batch, p->n_ctx, p->n_seq_ctx, p->max_queue);
    engine *e = calloc(1, sizeof *e);
    if (!e) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the engine");
    e->be = *backend;
    e->vocab = vocab;
    e->p = *p;
    e->free_slots = malloc((size_t)p->n_seq_max * sizeof *e->free_slots);
    e->batch = bb_batch_new(p->n_batch);
    if (!e->free_slots || e->batch.capacity == 0) {
        free(e->free_slots);
        bb_batch_free(&e->batch);
        free(e);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the engine");
    }
    /* Lowest ids on top of the stack, handed out first. */
    for (int32_t i = 0; i < p->n_seq_max; i++)
        e->free_slots[i] = p->n_seq_max - 1 - i;
    e->n_free_slots = p->n_seq_max;
    e->step_budget =
        p->step_tokens > 0 && p->step_tokens < p->n_batch ? p->step_tokens : p->n_batch;
    e->stats.kv_total = (uint64_t)p->n_ctx;
    e->stats.step_budget = e->step_budget;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->wake, NULL);
    pthread_cond_init(&e->idle, NULL);
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        pthread_cond_destroy(&e->idle);
        pthread_cond_destroy(&e->wake);
        pthread_mutex_destroy(&e->mu);
        free(e->free_slots);
        bb_batch_free(&e->batch);
        free(e);
        return bb_fail(err, BB_ERR_INTERNAL, "could not start the engine thread");
    }
    *out = e;
    return BB_OK;
}

void engine_free(engine *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->refuse = e->cancel_all = e->quit = true;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    pthread_cond_destroy(&e->idle);
    pthread_cond_destroy(&e->wake);
    pthread_mutex_destroy(&e->mu);
    free(e->free_slots);
    bb_batch_free(&e->batch);
    free(e);
}

bb_status engine_request_new(engine *e, const engine_gen_params *params, const bb_token *prompt,
                             size_t n_prompt, engine_request **out, bb_error *err) {
    engine_gen_params p = *params;
    if (n_prompt < (size_t)e->p.n_seq_ctx && p.max_tokens > e->p.n_seq_ctx - (int32_t)n_prompt)
        p.max_tokens = e->p.n_seq_ctx - (int32_t)n_prompt;
    for (size_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= e->p.n_vocab)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "token id %d out of range [0, %d)",
                           prompt[i], e->p.n_vocab);
    return request_create(&p, prompt, n_prompt, e->p.n_vocab, e->vocab, out, err);
}

bb_status engine_submit(engine *e, engine_request *r, bb_error *err) {
    if (r->n_choices > e->p.n_seq_max)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "%d choices asked but at most %d sequences run at once", r->n_choices,
                       e->p.n_seq_max);
    if (r->n_prompt >= e->p.n_seq_ctx)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "the prompt has %d tokens but the context holds %d", r->n_prompt,
                       e->p.n_seq_ctx);
    if ((int64_t)r->n_choices * (r->n_prompt + 1) > e->p.n_ctx)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "%d choices of a %d-token prompt need %lld cache tokens but the cache "
                       "holds %d",
                       r->n_choices, r->n_prompt, (long long)r->n_choices * (r->n_prompt + 1),
                       e->p.n_ctx);
    pthread_mutex_lock(&e->mu);
    bb_status st = BB_OK;
    if (e->refuse) {
        st = bb_fail(err, BB_ERR_CANCELLED, "the server is shutting down");
    } else if (e->n_waiting >= e->p.max_queue) {
        st = bb_fail(err, BB_ERR_NO_SPACE, "%d requests are already waiting", e->n_waiting);
    } else {
        request_ref(r);
        r->t_submit = now_s();
        r->next = NULL;
        if (e->wait_tail)
            e->wait_tail->next = r;
        else
            e->wait_head = r;
        e->wait_tail = r;
        e->n_waiting++;
        pthread_cond_signal(&e->wake);
    }
    pthread_mutex_unlock(&e->mu);
    return st;
}

void engine_drain(engine *e, double deadline_s) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    double secs = (double)until.tv_sec + (double)until.tv_nsec * 1e-9 + deadline_s;
    until.tv_sec = (time_t)secs;
    until.tv_nsec = (long)((secs - (double)until.tv_sec) * 1e9);
    pthread_mutex_lock(&e->mu);
    e->refuse = true;
    while ((e->wait_head || e->n_active > 0) && !e->cancel_all)
        if (pthread_cond_timedwait(&e->idle, &e->mu, &until) != 0) {
            e->cancel_all = true;
            pthread_cond_signal(&e->wake);
        }
    while (e->wait_head || e->n_active > 0)
        pthread_cond_wait(&e->idle, &e->mu);
    pthread_mutex_unlock(&e->mu);
}

void engine_get_stats(engine *e, engine_stats *out) {
    pthread_mutex_lock(&e->mu);
    *out = e->stats;
    out->waiting = (uint64_t)e->n_waiting;
    out->running = (uint64_t)e->n_active;
    pthread_mutex_unlock(&e->mu);
}
