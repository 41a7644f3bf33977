/* Demo task scoring; see demo_eval.h. */
#include "train/demo_eval.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "train/pool.h"

enum { MAX_REPLY_TOKENS = 64 };

void tr_demo_score_add(tr_demo_score *s, const tr_demo_qa *qa, const char *reply, FILE *misses) {
    bool ok = !strcmp(reply, qa->answer);
    s->asked[qa->cat]++;
    s->correct[qa->cat] += ok;
    if (!ok && misses)
        fprintf(misses, "miss [%s] %s -> \"%s\" (expected \"%s\")\n", tr_demo_cat_name(qa->cat),
                qa->question, reply, qa->answer);
}

static double ratio(int c, int n) {
    return n ? 100.0 * c / n : 0.0;
}

double tr_demo_score_arith(const tr_demo_score *s) {
    int c = 0, n = 0;
    for (int k = TR_DEMO_ADD; k <= TR_DEMO_MUL; k++)
        c += s->correct[k], n += s->asked[k];
    return ratio(c, n);
}

void tr_demo_score_print(const tr_demo_score *s, FILE *f) {
    int c = 0, n = 0;
    fprintf(f, "%-10s %6s %8s %9s\n", "category", "asked", "correct", "accuracy");
    for (int k = 0; k < TR_DEMO_N_CAT; k++) {
        if (!s->asked[k]) continue;
        fprintf(f, "%-10s %6d %8d %8.1f%%\n", tr_demo_cat_name((tr_demo_cat)k), s->asked[k],
                s->correct[k], ratio(s->correct[k], s->asked[k]));
        c += s->correct[k], n += s->asked[k];
    }
    int ac = 0, an = 0;
    for (int k = TR_DEMO_ADD; k <= TR_DEMO_MUL; k++)
        ac += s->correct[k], an += s->asked[k];
    fprintf(f, "%-10s %6d %8d %8.1f%%\n", "arithmetic", an, ac, ratio(ac, an));
    fprintf(f, "%-10s %6d %8d %8.1f%%\n", "all", n, c, ratio(c, n));
}

void tr_demo_prompt(const tr_demo_qa *qa, char *buf, size_t cap) {
    snprintf(buf, cap,
             TR_DEMO_IM_START "user\n%s" TR_DEMO_IM_END "\n" TR_DEMO_IM_START "assistant\n",
             qa->question);
}

/* ---------------------------------------------------------------- the trainer's engine */

typedef struct gen_job {
    int32_t *tok; /* prompt then reply; n_ctx capacity */
    int n_prompt, n;
} gen_job;

typedef struct gen_run {
    const tr_state *st;
    tr_weights_f32 w;
    tr_acts_f32 **acts;
    gen_job *jobs;
    int stop1, stop2;
} gen_run;

static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

static void task_generate(void *ctx, int item, int thread) {
    gen_run *g = ctx;
    gen_job *j = &g->jobs[item];
    int n_ctx = g->st->L.hp.n_ctx;
    while (j->n < n_ctx && j->n - j->n_prompt < MAX_REPLY_TOKENS) {
        int32_t start[2] = {0, j->n}, sel = j->n - 1;
        tr_forward_f32(&g->w, g->acts[thread], j->tok, start, 1, &sel, 1);
        int next = argmax(tr_acts_logits_f32(g->acts[thread]), g->st->L.hp.n_vocab);
        if (next == g->stop1 || next == g->stop2) break;
        j->tok[j->n++] = next;
    }
}

static bb_status prepare_jobs(gen_run *g, tr_bpe *bpe, const tr_demo_qa *qa, int n, bb_error *err) {
    int n_ctx = g->st->L.hp.n_ctx;
    for (int i = 0; i < n; i++) {
        char prompt[512];
        int32_t *ids;
        size_t n_ids;
        tr_demo_prompt(&qa[i], prompt, sizeof prompt);
        bb_status s = tr_bpe_encode(bpe, prompt, strlen(prompt), &ids, &n_ids, err);
        if (s != BB_OK) return s;
        g->jobs[i].tok = malloc((size_t)n_ctx * sizeof(int32_t));
        if (!g->jobs[i].tok || n_ids >= (size_t)n_ctx) {
            free(ids);
            return g->jobs[i].tok ? bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                                            "prompt of %zu tokens does not fit the context", n_ids)
                                  : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
        }
        memcpy(g->jobs[i].tok, ids, n_ids * sizeof *ids);
        g->jobs[i].n_prompt = g->jobs[i].n = (int)n_ids;
        free(ids);
    }
    return BB_OK;
}

bb_status tr_demo_eval_trainer(const tr_state *st, tr_bpe *bpe, int n, uint64_t seed, int threads,
                               tr_demo_score *score, FILE *misses, bb_error *err) {
    if (n < 1 || n > 1000000)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "question count %d out of range", n);
    tr_pool *pool;
    bb_status s = tr_pool_new(threads, &pool, err);
    if (s != BB_OK) return s;
    gen_run g = {.st = st,
                 .stop1 = tr_bpe_find_special(bpe, TR_DEMO_IM_END),
                 .stop2 = tr_bpe_find_special(bpe, TR_DEMO_EOT)};
    tr_demo_qa *qa = calloc((size_t)n, sizeof *qa);
    g.jobs = calloc((size_t)n, sizeof *g.jobs);
    g.acts = calloc((size_t)threads, sizeof *g.acts);
    if (!qa || !g.jobs || !g.acts) s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    if (!s) s = tr_weights_init_f32(&g.w, &st->L, st->params, err);
    for (int i = 0; !s && i < threads; i++)
        if (!(g.acts[i] = tr_acts_new_f32(&st->L, st->L.hp.n_ctx)))
            s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; !s && i < n; i++)
        tr_demo_question(seed, TR_DEMO_STREAM_EVAL, (uint64_t)i, true, &qa[i]);
    if (!s) s = prepare_jobs(&g, bpe, qa, n, err);
    if (!s) tr_pool_run(pool, n, task_generate, &g);
    memset(score, 0, sizeof *score);
    for (int i = 0; !s && i < n; i++) {
        char *reply;
        const gen_job *j = &g.jobs[i];
        s = tr_bpe_decode(bpe, j->tok + j->n_prompt, (size_t)(j->n - j->n_prompt), &reply, err);
        if (!s) tr_demo_score_add(score, &qa[i], reply, misses);
        if (!s) free(reply);
    }
    for (int i = 0; g.jobs && i < n; i++)
        free(g.jobs[i].tok);
    for (int i = 0; g.acts && i < threads; i++)
        tr_acts_free_f32(g.acts[i]);
    free(g.jobs), free(g.acts), free(qa);
    tr_weights_free_f32(&g.w);
    tr_pool_free(pool);
    return s;
}

/* ---------------------------------------------------------------- beanbag's inference path */

/* Greedy reply to one prompt on sequence 0 of ctx (the cache is cleared first). */
static bb_status answer_api(bb_context *ctx, const bb_vocab *v, bb_sampler *smp, bb_batch *batch,
                            const char *prompt, char **reply, bb_error *err) {
    bb_token *ids = NULL, out[MAX_REPLY_TOKENS];
    size_t n_ids = 0, n_out = 0;
    bb_status s = bb_kv_seq_rm(ctx, 0, 0, -1, err);
    if (!s) s = bb_tokenize(v, prompt, strlen(prompt), true, true, &ids, &n_ids, err);
    if (!s && (n_ids == 0 || n_ids >= (size_t)batch->capacity))
        s = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "prompt of %zu tokens", n_ids);
    bb_batch_clear(batch);
    for (size_t i = 0; !s && i < n_ids; i++)
        bb_batch_add(batch, ids[i], (int32_t)i, 0, i + 1 == n_ids);
    bb_sampler_reset(smp);
    int32_t pos = (int32_t)n_ids;
    while (!s && (s = bb_decode(ctx, batch, err)) == BB_OK) {
        bb_token t = bb_sampler_sample(smp, bb_get_logits(ctx, batch->n_tokens - 1));
        bb_sampler_accept(smp, t);
        if (bb_vocab_is_eog(v, t) || n_out == MAX_REPLY_TOKENS ||
            (uint32_t)pos >= bb_context_n_ctx(ctx))
            break;
        out[n_out++] = t;
        bb_batch_clear(batch);
        bb_batch_add(batch, t, pos++, 0, true);
    }
    bb_free(ids);
    if (!s) s = bb_detokenize(v, out, n_out, false, reply, err);
    return s;
}

bb_status tr_demo_eval_api(bb_model *model, int n, uint64_t seed, int threads, tr_demo_score *score,
                           FILE *misses, bb_error *err) {
    if (n < 1 || n > 1000000)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "question count %d out of range", n);
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = 256, cp.n_batch = 256, cp.n_seq_max = 1, cp.n_threads = threads;
    bb_sampler_params sp = bb_sampler_default_params();
    sp.temperature = 0;
    bb_context *ctx = NULL;
    bb_sampler *smp = NULL;
    bb_batch batch = bb_batch_new((int32_t)cp.n_batch);
    bb_status s = batch.capacity ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    if (!s) s = bb_context_new(model, &cp, &ctx, err);
    if (!s) s = bb_sampler_new(&sp, bb_model_n_vocab(model), &smp, err);
    memset(score, 0, sizeof *score);
    for (int i = 0; !s && i < n; i++) {
        tr_demo_qa qa;
        char prompt[512], *reply = NULL;
        tr_demo_question(seed, TR_DEMO_STREAM_EVAL, (uint64_t)i, true, &qa);
        tr_demo_prompt(&qa, prompt, sizeof prompt);
        s = answer_api(ctx, bb_model_vocab(model), smp, &batch, prompt, &reply, err);
        if (!s) tr_demo_score_add(score, &qa, reply, misses);
        bb_free(reply);
    }
    bb_sampler_free(smp);
    bb_context_free(ctx);
    bb_batch_free(&batch);
    return s;
}
