/* Engine tests: the continuous-batching scheduler over a fake model (batch validity, greedy
 * outputs equal alone and under load, chunked prefill, preemption, cancellation, queue limit,
 * stop strings, choices, drain), then batch invariance over the real fixture model. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "engine/engine.h"
#include "engine/stop.h"
#include "fixture_model.h"
#include "testutil.h"
#include "tokenizer/vocab.h"

/* ---------------------------------------------------------------- a fake model
 *
 * A fake model for scheduler tests: keeps every sequence's cached tokens, checks that each batch
 * continues them (positions, capacity), and returns logits that depend only on a sequence's
 * token history, so any correct scheduler gives the same greedy tokens under any load. */

#define FAKE_MAX_SEQ 32
#define FAKE_MAX_STEPS 100000

typedef struct fake_backend {
    int32_t n_ctx, n_vocab, n_batch;
    bb_token eog;
    int32_t eog_every; /* an end-of-generation token wins about once in this many steps */
    bb_token *kv[FAKE_MAX_SEQ];
    int32_t len[FAKE_MAX_SEQ];
    int32_t used;
    float *logits; /* n_batch rows */
    int8_t *has;
    int useconds; /* simulated forward time */
    /* what happened, read by the test after the engine stopped (or under lock) */
    pthread_mutex_t mu;
    int errors, calls, no_space;
    int32_t step_decode[FAKE_MAX_STEPS], step_total[FAKE_MAX_STEPS];
    /* per sequence id: the first call that fed it, the first that asked for its logits (its
     * prompt done); -1 before */
    int first_fed[FAKE_MAX_SEQ], first_logits[FAKE_MAX_SEQ];
} fake_backend;

static uint64_t fake_hash(const bb_token *t, int32_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (int32_t i = 0; i < n; i++)
        h = (h ^ (uint64_t)(uint32_t)t[i]) * 1099511628211ULL;
    return h;
}

/* Printable ASCII tokens get pseudo-random scores from the history hash; the rest never win. */
static void fake_fill_logits(fake_backend *f, const bb_token *hist, int32_t n, float *out) {
    uint64_t h = fake_hash(hist, n);
    for (int32_t t = 0; t < f->n_vocab; t++) {
        uint64_t x = (h ^ ((uint64_t)t * 0x9E3779B97F4A7C15ULL)) * 0xBF58476D1CE4E5B9ULL;
        x ^= x >> 31;
        bool printable = t >= 'a' && t <= 'z';
        out[t] = printable ? (float)(x % 1000) / 100.0f : -20.0f;
    }
    if (f->eog >= 0) out[f->eog] = (h % (uint64_t)f->eog_every == 0) ? 50.0f : -20.0f;
}

static bb_status fake_decode(void *self, const bb_batch *b, bb_error *err) {
    fake_backend *f = self;
    pthread_mutex_lock(&f->mu);
    int32_t add[FAKE_MAX_SEQ] = {0}, n_decode = 0;
    bb_status st = BB_OK;
    if (b->n_tokens < 1 || b->n_tokens > f->n_batch) st = BB_ERR_INVALID_ARGUMENT;
    for (int32_t i = 0; st == BB_OK && i < b->n_tokens; i++) {
        int32_t s = b->seq_id[i];
        if (s < 0 || s >= FAKE_MAX_SEQ || b->pos[i] != f->len[s] + add[s])
            st = BB_ERR_INVALID_ARGUMENT;
        else
            add[s]++;
    }
    if (st != BB_OK) {
        f->errors++;
        pthread_mutex_unlock(&f->mu);
        return bb_fail(err, st, "fake: malformed batch");
    }
    if (f->used + b->n_tokens > f->n_ctx) {
        f->no_space++;
        pthread_mutex_unlock(&f->mu);
        return bb_fail(err, BB_ERR_NO_SPACE, "fake: cache full");
    }
    for (int32_t i = 0; i < b->n_tokens; i++) {
        int32_t s = b->seq_id[i];
        f->kv[s][f->len[s]++] = b->token[i];
        f->used++;
        f->has[i] = b->logits[i];
        if (f->first_fed[s] < 0) f->first_fed[s] = f->calls;
        if (b->logits[i] && f->first_logits[s] < 0) f->first_logits[s] = f->calls;
        if (b->logits[i])
            fake_fill_logits(f, f->kv[s], f->len[s], f->logits + (size_t)i * f->n_vocab);
    }
    for (int32_t s = 0; s < FAKE_MAX_SEQ; s++)
        n_decode += add[s] == 1;
    if (f->calls < FAKE_MAX_STEPS) {
        f->step_decode[f->calls] = n_decode;
        f->step_total[f->calls] = b->n_tokens;
    }
    f->calls++;
    pthread_mutex_unlock(&f->mu);
    if (f->useconds) usleep((useconds_t)f->useconds);
    return BB_OK;
}

static const float *fake_logits(void *self, int32_t i) {
    fake_backend *f = self;
    return f->has[i] ? f->logits + (size_t)i * f->n_vocab : NULL;
}

static void fake_seq_clear(void *self, int32_t s) {
    fake_backend *f = self;
    pthread_mutex_lock(&f->mu);
    f->used -= f->len[s];
    f->len[s] = 0;
    pthread_mutex_unlock(&f->mu);
}

static uint32_t fake_free_tokens(void *self) {
    fake_backend *f = self;
    pthread_mutex_lock(&f->mu);
    uint32_t n = (uint32_t)(f->n_ctx - f->used);
    pthread_mutex_unlock(&f->mu);
    return n;
}

static void fake_init(fake_backend *f, int32_t n_ctx, int32_t n_vocab, int32_t n_batch,
                      bb_token eog) {
    memset(f, 0, sizeof *f);
    f->n_ctx = n_ctx;
    f->n_vocab = n_vocab;
    f->n_batch = n_batch;
    f->eog = eog;
    f->eog_every = 40;
    for (int i = 0; i < FAKE_MAX_SEQ; i++) {
        f->kv[i] = calloc((size_t)n_ctx, sizeof(bb_token));
        f->first_fed[i] = f->first_logits[i] = -1;
    }
    f->logits = calloc((size_t)n_batch * (size_t)n_vocab, sizeof(float));
    f->has = calloc((size_t)n_batch, 1);
    pthread_mutex_init(&f->mu, NULL);
}

static void fake_free(fake_backend *f) {
    for (int i = 0; i < FAKE_MAX_SEQ; i++)
        free(f->kv[i]);
    free(f->logits);
    free(f->has);
    pthread_mutex_destroy(&f->mu);
}

static engine_backend fake_as_backend(fake_backend *f) {
    return (engine_backend){.self = f,
                            .decode = fake_decode,
                            .logits = fake_logits,
                            .seq_clear = fake_seq_clear,
                            .free_tokens = fake_free_tokens};
}

static const bb_vocab *g_vocab;
static int32_t g_n_vocab;
static bb_token g_eog;

typedef struct run_result {
    char *text[4];
    engine_finish finish[4];
    size_t n_infos[4];
    int32_t completion_tokens;
} run_result;

static void result_free(run_result *r) {
    for (int i = 0; i < 4; i++)
        free(r->text[i]);
    memset(r, 0, sizeof *r);
}

static engine_gen_params greedy_params(int32_t max_tokens) {
    engine_gen_params p = {0};
    p.sampling = bb_sampler_default_params();
    p.sampling.temperature = 0;
    p.n_choices = 1;
    p.max_tokens = max_tokens;
    return p;
}

/* Prompt i: a few letters derived from i, length len. */
static void make_prompt(int i, int32_t len, bb_token *out) {
    for (int32_t k = 0; k < len; k++)
        out[k] = 'a' + (bb_token)((i * 7 + k * 3) % 26);
}

static void collect(engine_request *r, run_result *res) {
    memset(res, 0, sizeof *res);
    size_t len[4] = {0};
    int32_t n = engine_request_n_choices(r);
    for (;;) {
        bool done = engine_request_done(r);
        for (int32_t c = 0; c < n && c < 4; c++) {
            engine_delta d;
            while (engine_request_take(r, c, &d)) {
                if (d.len) {
                    res->text[c] = realloc(res->text[c], len[c] + d.len + 1);
                    memcpy(res->text[c] + len[c], d.text, d.len + 1);
                    len[c] += d.len;
                }
                res->n_infos[c] += d.n_tokens;
                if (d.finish) res->finish[c] = d.finish;
                engine_delta_free(&d);
            }
            if (!res->text[c]) res->text[c] = calloc(1, 1);
        }
        if (done) break;
        engine_request_wait(r, -1, 1000);
    }
    int32_t pt;
    engine_request_usage(r, &pt, &res->completion_tokens);
}

/* step_tokens 0: the budget is n_batch. */
static engine *start_engine_step(fake_backend *f, engine_backend *be, int32_t n_seq,
                                 int32_t n_batch, int32_t step_tokens, int32_t n_ctx,
                                 int32_t max_queue) {
    fake_init(f, n_ctx, g_n_vocab, n_batch, g_eog);
    *be = fake_as_backend(f);
    engine_params p = {.n_seq_max = n_seq,
                       .n_batch = n_batch,
                       .step_tokens = step_tokens,
                       .n_ctx = n_ctx,
                       .n_seq_ctx = n_ctx,
                       .n_vocab = g_n_vocab,
                       .max_queue = max_queue};
    engine *e = NULL;
    bb_error err = {0};
    bb_status st = engine_new(be, g_vocab, &p, &e, &err);
    CHECKF(st == BB_OK, "%s", err.message);
    return e;
}

static engine *start_engine(fake_backend *f, engine_backend *be, int32_t n_seq, int32_t n_batch,
                            int32_t n_ctx, int32_t max_queue) {
    return start_engine_step(f, be, n_seq, n_batch, 0, n_ctx, max_queue);
}

static engine_request *submit(engine *e, const engine_gen_params *p, const bb_token *prompt,
                              int32_t n) {
    engine_request *r = NULL;
    bb_error err = {0};
    bb_status st = engine_request_new(e, p, prompt, (size_t)n, &r, &err);
    CHECKF(st == BB_OK, "%s", err.message);
    if (st != BB_OK) return NULL;
    st = engine_submit(e, r, &err);
    CHECKF(st == BB_OK, "%s", err.message);
    return r;
}

/* Greedy outputs of N concurrent requests equal their solo runs, with small batches (chunked
 * prefill) and a small pool (preemption). */
static void test_invariance(int n_req, int32_t n_seq, int32_t n_batch, int32_t n_ctx) {
    fake_backend f;
    engine_backend be;
    run_result solo[32], many[32];
    bb_token prompt[64];
    engine_gen_params p = greedy_params(48);
    engine *e = start_engine(&f, &be, n_seq, n_batch, n_ctx, 64);
    for (int i = 0; i < n_req; i++) {
        int32_t len = 3 + (i * 5) % 40;
        make_prompt(i, len, prompt);
        engine_request *r = submit(e, &p, prompt, len);
        collect(r, &solo[i]);
        engine_request_unref(r);
    }
    engine_request *rs[32];
    for (int i = 0; i < n_req; i++) {
        int32_t len = 3 + (i * 5) % 40;
        make_prompt(i, len, prompt);
        rs[i] = submit(e, &p, prompt, len);
    }
    for (int i = 0; i < n_req; i++) {
        collect(rs[i], &many[i]);
        CHECKF(!strcmp(solo[i].text[0], many[i].text[0]), "request %d: solo '%s' vs batched '%s'",
               i, solo[i].text[0], many[i].text[0]);
        CHECK(solo[i].finish[0] == many[i].finish[0]);
        CHECK(many[i].finish[0] == ENGINE_FINISH_STOP || many[i].finish[0] == ENGINE_FINISH_LENGTH);
        engine_request_unref(rs[i]);
        result_free(&solo[i]);
        result_free(&many[i]);
    }
    engine_stats st;
    engine_get_stats(e, &st);
    engine_free(e);
    CHECKF(f.errors == 0, "%d malformed batches", f.errors);
    CHECKF(f.used == 0, "%d cache tokens left in use", f.used);
    int max_seen = 0;
    for (int i = 0; i < f.calls && i < FAKE_MAX_STEPS; i++)
        if (f.step_total[i] > max_seen) max_seen = f.step_total[i];
    CHECKF(max_seen <= n_batch, "a step carried %d tokens (n_batch %d)", max_seen, n_batch);
    printf("invariance: %d requests, n_seq %d, n_batch %d, n_ctx %d: %d steps, %llu preemptions\n",
           n_req, n_seq, n_batch, n_ctx, f.calls, (unsigned long long)st.preemptions);
    fake_free(&f);
}

/* A long prompt arriving while others decode is read in chunks: every step still carries one
 * token for each running sequence. */
static void test_chunked_prefill(void) {
    fake_backend f;
    engine_backend be;
    engine *e = start_engine(&f, &be, 4, 8, 4096, 8);
    bb_token prompt[400];
    engine_gen_params p = greedy_params(100000);
    f.eog = -1; /* run until cancelled */
    f.useconds = 300;
    engine_request *a[3];
    for (int i = 0; i < 3; i++) {
        make_prompt(i, 4, prompt);
        a[i] = submit(e, &p, prompt, 4);
    }
    usleep(20000);
    make_prompt(9, 400, prompt);
    engine_gen_params p1 = greedy_params(4);
    int first = f.calls;
    engine_request *big = submit(e, &p1, prompt, 400);
    run_result res;
    collect(big, &res);
    CHECK(res.finish[0] == ENGINE_FINISH_LENGTH);
    result_free(&res);
    /* While the big prompt was read (steps with more than 3 tokens), the 3 decoders ran. */
    int mixed = 0, starved = 0;
    pthread_mutex_lock(&f.mu);
    for (int i = first; i < f.calls && i < FAKE_MAX_STEPS; i++) {
        if (f.step_total[i] > 3) mixed++;
        if (f.step_total[i] > 3 && f.step_decode[i] < 3) starved++;
    }
    pthread_mutex_unlock(&f.mu);
    for (int i = 0; i < 3; i++) {
        engine_request_cancel(a[i]);
        collect(a[i], &res);
        result_free(&res);
        engine_request_unref(a[i]);
    }
    CHECKF(mixed >= 400 / 8 - 1, "only %d steps carried prompt chunks", mixed);
    CHECKF(starved == 0, "%d prefill steps left a decoder out", starved);
    engine_request_unref(big);
    engine_free(e);
    CHECK(f.used == 0);
    fake_free(&f);
}

/* With a step budget under n_batch: while a long prompt is read beside three decoding streams,
 * every step carries their three decode tokens and fills the rest of the budget (and no more)
 * with the prompt, which so takes many steps. With a budget below the decoders' count the
 * decode tokens all still go, the prompt advances a token a step, and no step carries more
 * than max(budget, running sequences). */
static void test_step_budget(int32_t budget) {
    fake_backend f;
    engine_backend be;
    const int32_t n_big = 200, n_running = 4;
    engine *e = start_engine_step(&f, &be, 4, 64, budget, 4096, 8);
    bb_token prompt[200];
    engine_gen_params p = greedy_params(100000);
    f.eog = -1;
    f.useconds = 200;
    engine_request *a[3];
    for (int i = 0; i < 3; i++) {
        make_prompt(i, 4, prompt);
        a[i] = submit(e, &p, prompt, 4);
    }
    for (int i = 0; i < 3; i++) /* all three decoding */
        while (engine_request_wait(a[i], -1, 1000) == 0) {
        }
    usleep(5000);
    make_prompt(9, n_big, prompt);
    engine_gen_params p1 = greedy_params(4);
    pthread_mutex_lock(&f.mu);
    int first = f.calls;
    pthread_mutex_unlock(&f.mu);
    engine_request *big = submit(e, &p1, prompt, n_big);
    run_result res;
    collect(big, &res);
    CHECK(res.finish[0] == ENGINE_FINISH_LENGTH);
    result_free(&res);
    int32_t chunk = budget - 3 > 1 ? budget - 3 : 1; /* the prompt's share of a step */
    int cap = budget > n_running ? budget : n_running, over = 0, mixed = 0, starved = 0, odd = 0;
    pthread_mutex_lock(&f.mu);
    int big_seq = 3, done = f.first_logits[big_seq];
    for (int i = 0; i < f.calls && i < FAKE_MAX_STEPS; i++)
        if (f.step_total[i] > cap) over++;
    for (int i = first; i <= done && i < FAKE_MAX_STEPS; i++) {
        if (f.step_total[i] <= 3) continue;
        mixed++;
        if (f.step_decode[i] < 3) starved++;
        if (f.step_total[i] != 3 + chunk) odd++;
    }
    pthread_mutex_unlock(&f.mu);
    for (int i = 0; i < 3; i++) {
        engine_request_cancel(a[i]);
        collect(a[i], &res);
        result_free(&res);
        engine_request_unref(a[i]);
    }
    CHECKF(over == 0, "budget %d: %d steps carried more than %d tokens", budget, over, cap);
    CHECKF(done > first && mixed == (n_big + chunk - 1) / chunk,
           "budget %d: the %d-token prompt took only %d steps", budget, n_big, mixed);
    CHECKF(starved == 0, "budget %d: %d prefill steps left a decoder out", budget, starved);
    CHECKF(odd == 0, "budget %d: %d prefill steps did not fill the budget", budget, odd);
    printf("step budget %d: %d-token prompt read in %d steps beside 3 decoders\n", budget, n_big,
           mixed);
    engine_request_unref(big);
    engine_free(e);
    CHECK(f.used == 0);
    fake_free(&f);
}

/* Prompts longer than the budget, submitted together, are read first come, first served: a
 * prompt starts only in the step that finishes the one before it, so their first tokens come
 * in submission order. */
static void test_prefill_fifo(void) {
    fake_backend f;
    engine_backend be;
    enum { N = 4, LEN = 40 };
    engine *e = start_engine_step(&f, &be, N, 64, 16, 4096, 8);
    f.eog = -1;
    f.useconds = 200;
    bb_token prompt[LEN];
    engine_gen_params p = greedy_params(8);
    engine_request *rs[N];
    for (int i = 0; i < N; i++) {
        make_prompt(20 + i, LEN, prompt);
        rs[i] = submit(e, &p, prompt, LEN);
    }
    run_result res;
    for (int i = 0; i < N; i++) {
        collect(rs[i], &res);
        CHECK(res.finish[0] == ENGINE_FINISH_LENGTH && res.completion_tokens == 8);
        result_free(&res);
        engine_request_unref(rs[i]);
    }
    engine_free(e);
    /* Slots are handed out lowest first in admission order and none came free: sequence i is
     * request i. */
    for (int i = 0; i + 1 < N; i++) {
        CHECKF(f.first_logits[i] >= 0 && f.first_logits[i] < f.first_logits[i + 1],
               "prompt %d done at step %d, prompt %d at %d", i, f.first_logits[i], i + 1,
               f.first_logits[i + 1]);
        CHECKF(f.first_fed[i + 1] >= f.first_logits[i],
               "prompt %d started at step %d before prompt %d was done (step %d)", i + 1,
               f.first_fed[i + 1], i, f.first_logits[i]);
    }
    CHECK(f.used == 0);
    fake_free(&f);
}

/* A cancelled request stops within a step and gives its cache back; others continue. */
static void test_cancel(void) {
    fake_backend f;
    engine_backend be;
    engine *e = start_engine(&f, &be, 4, 32, 4096, 8);
    f.eog = -1;
    f.useconds = 2000;
    bb_token prompt[8];
    make_prompt(1, 8, prompt);
    engine_gen_params p = greedy_params(100000);
    engine_request *keep = submit(e, &p, prompt, 8);
    engine_request *r = submit(e, &p, prompt, 8);
    while (engine_request_wait(r, -1, 1000) == 1 && f.calls < 10) {
    }
    engine_request_cancel(r);
    int calls_at_cancel = f.calls;
    run_result res;
    collect(r, &res);
    CHECK(res.finish[0] == ENGINE_FINISH_CANCELLED);
    CHECKF(f.calls - calls_at_cancel <= 2, "cancel took %d steps", f.calls - calls_at_cancel);
    result_free(&res);
    engine_request_unref(r);
    usleep(10000);
    engine_stats st;
    engine_get_stats(e, &st);
    CHECK(st.running == 1 && st.running_seqs == 1);
    engine_request_cancel(keep);
    collect(keep, &res);
    result_free(&res);
    engine_request_unref(keep);
    engine_free(e);
    CHECK(f.used == 0);
    fake_free(&f);
}

/* Beyond max_queue waiting requests, submit refuses; a request larger than the pool is refused
 * up front; after the queue drains, submissions work again. */
static void test_queue_limit(void) {
    fake_backend f;
    engine_backend be;
    engine *e = start_engine(&f, &be, 1, 8, 256, 2);
    f.eog = -1;
    f.useconds = 1000;
    bb_token prompt[300];
    make_prompt(2, 300, prompt);
    engine_gen_params p = greedy_params(50);
    engine_request *rs[3];
    bb_error err = {0};
    int accepted = 0, refused = 0;
    rs[accepted++] = submit(e, &p, prompt, 4);
    engine_request_wait(rs[0], -1, 5000); /* running: the queue is empty again */
    for (int i = 0; i < 5; i++) {
        engine_request *r = NULL;
        CHECK(engine_request_new(e, &p, prompt, 4, &r, &err) == BB_OK);
        bb_status st = engine_submit(e, r, &err);
        if (st == BB_OK && accepted < 3)
            rs[accepted++] = r;
        else {
            CHECK(st == BB_ERR_NO_SPACE);
            refused++;
            engine_request_unref(r);
        }
    }
    CHECKF(accepted == 3 && refused == 3, "accepted %d refused %d", accepted, refused);
    engine_request *big = NULL;
    CHECK(engine_request_new(e, &p, prompt, 300, &big, &err) == BB_OK);
    CHECK(engine_submit(e, big, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECKF(strstr(err.message, "300") && strstr(err.message, "256"), "%s", err.message);
    engine_request_unref(big);
    run_result res;
    for (int i = 0; i < accepted; i++) {
        collect(rs[i], &res);
        CHECK(res.finish[0] == ENGINE_FINISH_LENGTH && res.completion_tokens == 50);
        result_free(&res);
        engine_request_unref(rs[i]);
    }
    engine_request *again = submit(e, &p, prompt, 4);
    collect(again, &res);
    CHECK(res.completion_tokens == 50);
    result_free(&res);
    engine_request_unref(again);
    engine_free(e);
    fake_free(&f);
}

/* Stop strings end a choice before the stop text; n choices with a temperature differ by seed
 * and are each reproducible; logprobs come one per token. */
static void test_stop_and_choices(void) {
    fake_backend f;
    engine_backend be;
    engine *e = start_engine(&f, &be, 4, 32, 4096, 8);
    f.eog = -1;
    bb_token prompt[8];
    make_prompt(3, 8, prompt);
    engine_gen_params p = greedy_params(60);
    run_result base, res;
    engine_request *r = submit(e, &p, prompt, 8);
    collect(r, &base);
    engine_request_unref(r);
    CHECK(strlen(base.text[0]) == 60);
    char stop[4] = {base.text[0][20], base.text[0][21], base.text[0][22], 0};
    const char *stops[] = {"no such stop", stop};
    p.stop = stops;
    p.n_stop = 2;
    p.logprobs = true;
    p.top_logprobs = 3;
    r = submit(e, &p, prompt, 8);
    collect(r, &res);
    engine_request_unref(r);
    size_t cut = (size_t)(strstr(base.text[0], stop) - base.text[0]);
    CHECKF(strlen(res.text[0]) == cut && !strncmp(res.text[0], base.text[0], cut),
           "stop '%s': got '%s' from '%s'", stop, res.text[0], base.text[0]);
    CHECK(res.finish[0] == ENGINE_FINISH_STOP);
    CHECKF(res.n_infos[0] == cut, "%zu logprob entries for %zu tokens", res.n_infos[0], cut);
    result_free(&res);

    engine_gen_params q = greedy_params(30);
    q.sampling.temperature = 1.0f;
    q.sampling.seed = 42;
    q.n_choices = 3;
    run_result again;
    r = submit(e, &q, prompt, 8);
    collect(r, &res);
    engine_request_unref(r);
    r = submit(e, &q, prompt, 8);
    collect(r, &again);
    engine_request_unref(r);
    CHECK(res.completion_tokens == 90);
    for (int c = 0; c < 3; c++)
        CHECK(!strcmp(res.text[c], again.text[c]));
    CHECK(strcmp(res.text[0], res.text[1]) || strcmp(res.text[1], res.text[2]));
    result_free(&res);
    result_free(&again);
    result_free(&base);
    engine_free(e);
    CHECK(f.used == 0);
    fake_free(&f);
}

/* Drain: running requests finish before the deadline; past it they are cancelled. */
static void test_drain(void) {
    fake_backend f;
    engine_backend be;
    engine *e = start_engine(&f, &be, 2, 16, 4096, 8);
    f.eog = -1;
    f.useconds = 1000;
    bb_token prompt[4];
    make_prompt(5, 4, prompt);
    engine_gen_params p = greedy_params(20);
    engine_request *quick = submit(e, &p, prompt, 4);
    p.max_tokens = 1000000;
    engine_request *slow = submit(e, &p, prompt, 4);
    engine_drain(e, 0.3);
    run_result res;
    collect(quick, &res);
    CHECK(res.finish[0] == ENGINE_FINISH_LENGTH && res.completion_tokens == 20);
    result_free(&res);
    collect(slow, &res);
    CHECK(res.finish[0] == ENGINE_FINISH_CANCELLED);
    result_free(&res);
    bb_error err = {0};
    engine_request *late = NULL;
    CHECK(engine_request_new(e, &p, prompt, 4, &late, &err) == BB_OK);
    CHECK(engine_submit(e, late, &err) == BB_ERR_CANCELLED);
    engine_request_unref(late);
    engine_request_unref(quick);
    engine_request_unref(slow);
    engine_free(e);
    CHECK(f.used == 0);
    fake_free(&f);
}

static void test_stop_matcher(void) {
    stop_matcher m;
    bb_error err = {0};
    const char *stops[] = {"END", "", "xyz"};
    CHECK(stop_init(&m, stops, 3, &err) == BB_OK);
    size_t safe;
    stop_append(&m, "abcE", 4, &err);
    CHECK(!stop_check(&m, false, &safe) && safe == 3); /* "E" held */
    stop_append(&m, "N", 1, &err);
    CHECK(!stop_check(&m, false, &safe) && safe == 3); /* "EN" held */
    stop_append(&m, "Xy", 2, &err);
    CHECK(!stop_check(&m, false, &safe) && safe == 7); /* no suffix of "abcENXy" starts a stop */
    stop_append(&m, "xyEND!", 6, &err);
    CHECK(stop_check(&m, false, &safe) && safe == 9 && !strcmp(m.text, "abcENXyxy"));
    stop_free(&m);
    CHECK(stop_init(&m, NULL, 0, &err) == BB_OK);
    stop_append(&m, "hello", 5, &err);
    CHECK(!stop_check(&m, false, &safe) && safe == 5);
    stop_free(&m);
}

/* Upper bound of the highest non-empty bucket of a token histogram. */
static double largest_bound(const histogram *h) {
    for (int b = HIST_N_BOUNDS; b > 0; b--)
        if (h->counts[b]) return b < HIST_N_BOUNDS ? hist_token_bounds[b] : 1e30;
    return hist_token_bounds[0];
}

static int bucket_of(double v) {
    int b = 0;
    while (b < HIST_N_BOUNDS && v > hist_token_bounds[b])
        b++;
    return b;
}

/* The same over the real model: 16 concurrent greedy requests, with prompts read in chunks
 * beside running decodes and a pool small enough to preempt, give their solo outputs token
 * for token. This holds only if the forward pass computes each row independently of the
 * batch around it, and the scheduler feeds every sequence exactly its own history. */
static void test_real_model(const void *image, size_t size) {
    bb_model_params mp = bb_model_default_params();
    bb_model *model = NULL;
    bb_error err = {0};
    CHECKF(bb_model_load_from_memory(image, size, &mp, &model, &err) == BB_OK, "%s", err.message);
    if (!model) return;
    /* The last two split prompts by a step budget: 12 tokens beside 16 streams, and 5, below
     * the number of streams (decode tokens alone exceed it). */
    struct {
        int32_t n_seq, n_batch, n_ctx, step;
    } cfg[] = {{16, 64, 4096, 0},
               {16, 16, 4096, 0},
               {16, 32, 400, 0},
               {16, 64, 4096, 12},
               {16, 64, 4096, 5}};
    char *solo[16] = {0};
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        bb_context_params cp = bb_context_default_params();
        cp.n_ctx = (uint32_t)cfg[k].n_ctx;
        cp.n_batch = (uint32_t)cfg[k].n_batch;
        cp.n_seq_max = (uint32_t)cfg[k].n_seq;
        cp.n_threads = 2;
        bb_context *ctx = NULL;
        CHECKF(bb_context_new(model, &cp, &ctx, &err) == BB_OK, "%s", err.message);
        if (!ctx) break;
        engine_backend be = engine_backend_context(ctx);
        engine_params ep = {.n_seq_max = cfg[k].n_seq,
                            .n_batch = cfg[k].n_batch,
                            .step_tokens = cfg[k].step,
                            .n_ctx = (int32_t)bb_context_n_ctx(ctx),
                            .n_seq_ctx = cfg[k].n_ctx,
                            .n_vocab = bb_model_n_vocab(model),
                            .max_queue = 64};
        engine *e = NULL;
        CHECKF(engine_new(&be, bb_model_vocab(model), &ep, &e, &err) == BB_OK, "%s", err.message);
        engine_gen_params p = greedy_params(40);
        bb_token prompt[64];
        engine_request *rs[16];
        if (k == 0)
            for (int i = 0; i < 16; i++) { /* the solo runs, one at a time */
                int32_t len = 3 + (i * 7) % 50;
                make_prompt(i, len, prompt);
                rs[i] = submit(e, &p, prompt, len);
                run_result res;
                collect(rs[i], &res);
                solo[i] = res.text[0];
                res.text[0] = NULL;
                result_free(&res);
                engine_request_unref(rs[i]);
            }
        if (cfg[k].step > 0) { /* alone, a 52-token prompt is read over ceil(52 / step) steps */
            int i = 7;
            int32_t len = 3 + (i * 7) % 50;
            make_prompt(i, len, prompt);
            engine_stats before, after;
            engine_get_stats(e, &before);
            rs[i] = submit(e, &p, prompt, len);
            run_result res;
            collect(rs[i], &res);
            uint64_t want =
                (uint64_t)((len + cfg[k].step - 1) / cfg[k].step + res.completion_tokens - 1);
            /* The last step's statistics are recorded just after it hands out the last token. */
            uint64_t steps = 0;
            for (int tries = 0; tries < 200 && steps < want; tries++) {
                if (tries) usleep(1000);
                engine_get_stats(e, &after);
                steps = after.step_tokens.count - before.step_tokens.count;
            }
            CHECKF(steps == want,
                   "budget %d: a %d-token prompt and %d tokens took %llu steps, "
                   "not %llu",
                   cfg[k].step, len, res.completion_tokens, (unsigned long long)steps,
                   (unsigned long long)want);
            CHECKF(solo[i] && !strcmp(solo[i], res.text[0]),
                   "budget %d, %d-token prompt alone: '%s' vs '%s'", cfg[k].step, len, solo[i],
                   res.text[0]);
            result_free(&res);
            engine_request_unref(rs[i]);
        }
        for (int i = 0; i < 16; i++) {
            int32_t len = 3 + (i * 7) % 50;
            make_prompt(i, len, prompt);
            rs[i] = submit(e, &p, prompt, len);
        }
        int same = 0;
        for (int i = 0; i < 16; i++) {
            run_result res;
            collect(rs[i], &res);
            bool eq = solo[i] && !strcmp(solo[i], res.text[0]);
            same += eq;
            CHECKF(eq, "config %zu, request %d: solo '%s' vs batched '%s'", k, i, solo[i],
                   res.text[0]);
            result_free(&res);
            engine_request_unref(rs[i]);
        }
        engine_stats st;
        engine_get_stats(e, &st);
        printf("real model: 16 concurrent greedy requests (n_batch %d, step budget %d, cache %d): "
               "%d equal to solo, %llu preemptions, largest step %s %g tokens\n",
               cfg[k].n_batch, cfg[k].step ? cfg[k].step : cfg[k].n_batch, cfg[k].n_ctx, same,
               (unsigned long long)st.preemptions,
               st.step_tokens.counts[HIST_N_BOUNDS] ? ">" : "<=", largest_bound(&st.step_tokens));
        if (cfg[k].step > 0) {
            double cap = cfg[k].step > 16 ? cfg[k].step : 16;
            CHECKF(largest_bound(&st.step_tokens) <= hist_token_bounds[bucket_of(cap)],
                   "budget %d: a step went over %g tokens", cfg[k].step, cap);
        }
        engine_free(e);
        CHECK(bb_kv_free_tokens(ctx) == bb_context_n_ctx(ctx));
        bb_context_free(ctx);
    }
    for (int i = 0; i < 16; i++)
        free(solo[i]);
    bb_model_free(model);
}

/* The prefix cache over the real model: requests sharing a 40-token start (a bot's persona)
 * give, with the cache on, exactly the tokens they give with it off, alone or concurrently,
 * in a pool roomy or small enough to evict and preempt; the shared part is reported cached. */
static void test_prefix_cache(const void *image, size_t size) {
    bb_model_params mp = bb_model_default_params();
    bb_model *model = NULL;
    bb_error err = {0};
    CHECKF(bb_model_load_from_memory(image, size, &mp, &model, &err) == BB_OK, "%s", err.message);
    if (!model) return;
    enum { N = 8, PREFIX = 40 };
    struct {
        bool on;
        int32_t n_ctx, step;
    } cfg[] = {{false, 4096, 0}, {true, 4096, 0}, {true, 4096, 7}, {true, 160, 0}};
    char *want[N] = {0};
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        bb_context_params cp = bb_context_default_params();
        cp.n_ctx = (uint32_t)cfg[k].n_ctx;
        cp.n_batch = 64;
        cp.n_seq_max = N;
        cp.n_threads = 2;
        cp.prefix_cache = cfg[k].on;
        bb_context *ctx = NULL;
        CHECKF(bb_context_new(model, &cp, &ctx, &err) == BB_OK, "%s", err.message);
        if (!ctx) break;
        engine_backend be = engine_backend_context(ctx);
        engine_params ep = {.n_seq_max = N,
                            .n_batch = 64,
                            .step_tokens = cfg[k].step,
                            .n_ctx = (int32_t)bb_context_n_ctx(ctx),
                            .n_seq_ctx = cfg[k].n_ctx,
                            .n_vocab = bb_model_n_vocab(model),
                            .max_queue = 64};
        engine *e = NULL;
        CHECKF(engine_new(&be, bb_model_vocab(model), &ep, &e, &err) == BB_OK, "%s", err.message);
        engine_gen_params p = greedy_params(24);
        bb_token prompts[N][64];
        int32_t lens[N];
        for (int i = 0; i < N; i++) {
            make_prompt(0, PREFIX, prompts[i]);
            lens[i] = PREFIX + 1 + (i * 5) % 17;
            make_prompt(i + 1, lens[i] - PREFIX, prompts[i] + PREFIX);
        }
        /* the first alone (it fills the cache), then all of them at once */
        engine_request *r0 = submit(e, &p, prompts[0], lens[0]);
        run_result res;
        collect(r0, &res);
        CHECK(engine_request_cached_tokens(r0) == 0);
        result_free(&res);
        engine_request_unref(r0);
        engine_request *rs[N];
        for (int i = 0; i < N; i++)
            rs[i] = submit(e, &p, prompts[i], lens[i]);
        int same = 0, cached_min = 1 << 30;
        for (int i = 0; i < N; i++) {
            collect(rs[i], &res);
            int32_t cached = engine_request_cached_tokens(rs[i]);
            if (cached < cached_min) cached_min = cached;
            if (k == 0) {
                want[i] = res.text[0];
                res.text[0] = NULL;
                CHECK(cached == 0);
            } else {
                bool eq = want[i] && !strcmp(want[i], res.text[0]);
                same += eq;
                CHECKF(eq, "prefix cache config %zu, request %d: '%s' with the cache off, '%s' on",
                       k, i, want[i], res.text[0]);
                if (cfg[k].n_ctx >= 4096)
                    CHECKF(cached >= 32, "config %zu request %d: %d tokens cached, want >= 32", k,
                           i, cached);
            }
            result_free(&res);
            engine_request_unref(rs[i]);
        }
        engine_stats st;
        engine_get_stats(e, &st);
        printf("prefix cache %s (pool %d, step budget %d): %d of %d equal to cache-off, "
               "fewest cached %d, hits %llu / misses %llu tokens, %llu evictions, "
               "%llu preemptions\n",
               cfg[k].on ? "on" : "off", cfg[k].n_ctx, cfg[k].step, same, k ? N : 0, cached_min,
               (unsigned long long)st.prefix_hit_tokens, (unsigned long long)st.prefix_miss_tokens,
               (unsigned long long)st.prefix_evictions, (unsigned long long)st.preemptions);
        if (cfg[k].on) CHECK(st.prefix_hit_tokens > 0);
        if (cfg[k].on && cfg[k].n_ctx < 4096) CHECK(st.prefix_evictions > 0);
        engine_free(e);
        CHECK(bb_kv_free_tokens(ctx) == bb_context_n_ctx(ctx));
        bb_context_free(ctx);
    }
    for (int i = 0; i < N; i++)
        free(want[i]);
    bb_model_free(model);
}

int main(void) {
    bb_error err = {0};
    void *image = NULL;
    size_t size = 0;
    fixture_model_params fp = fixture_model_default();
    gguf_file *f = NULL;
    bb_vocab *vocab = NULL;
    bool ok = fixture_model_build(&fp, &image, &size, &err) == BB_OK &&
              gguf_open_memory(image, size, &f, &err) == BB_OK &&
              bb_vocab_load(f, &vocab, &err) == BB_OK;
    CHECKF(ok, "fixture vocab: %s", err.message);
    if (!ok) return tu_finish("test_engine");
    g_vocab = vocab;
    g_n_vocab = FIXTURE_N_VOCAB;
    g_eog = FIXTURE_IM_END;
    test_stop_matcher();
    test_invariance(8, 8, 64, 4096);
    test_invariance(16, 8, 16, 4096);
    test_invariance(16, 16, 24, 300);
    test_chunked_prefill();
    test_step_budget(8);
    test_step_budget(2);
    test_prefill_fifo();
    test_cancel();
    test_queue_limit();
    test_stop_and_choices();
    test_drain();
    test_real_model(image, size);
    test_prefix_cache(image, size);
    bb_vocab_free(vocab);
    gguf_close(f);
    free(image);
    return tu_finish("test_engine");
}
