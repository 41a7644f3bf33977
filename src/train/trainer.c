/* The training loop; see trainer.h for the determinism contract. */
#include "train/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/checked.h"
#include "common/error.h"
#include "train/adamw.h"
#include "train/pool.h"
#include "train/rng.h"

enum { CHUNK = 16384 }; /* parameters per reduction / update work item */

/* ---------------------------------------------------------------- dataset */

void tr_dataset_free(tr_dataset *d) {
    free(d->tok);
    free(d->target);
    free(d->doc_start);
    memset(d, 0, sizeof *d);
}

static bool grow(void **p, size_t elem, size_t need, size_t *cap) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 1024;
    while (n < need) {
        if (!bb_mul_size(n, 2, &n)) return false;
    }
    size_t bytes;
    if (!bb_mul_size(n, elem, &bytes)) return false;
    void *q = realloc(*p, bytes);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

bb_status tr_dataset_add(tr_dataset *d, const int32_t *tok, const uint8_t *target, size_t n,
                         bb_error *err) {
    size_t need_tok, cap_tok = d->cap_tok, cap_tok2 = d->cap_tok, cap_doc = d->cap_doc;
    if (!bb_add_size(d->n_tok, n, &need_tok))
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "dataset too large");
    if (!grow((void **)&d->tok, sizeof *d->tok, need_tok, &cap_tok) ||
        !grow((void **)&d->target, sizeof *d->target, need_tok, &cap_tok2) ||
        !grow((void **)&d->doc_start, sizeof *d->doc_start, d->n_docs + 2, &cap_doc))
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the dataset");
    d->cap_tok = cap_tok;
    d->cap_doc = cap_doc;
    memcpy(d->tok + d->n_tok, tok, n * sizeof *tok);
    memcpy(d->target + d->n_tok, target, n);
    if (d->n_docs == 0) d->doc_start[0] = 0;
    d->n_tok += n;
    d->doc_start[++d->n_docs] = d->n_tok;
    return BB_OK;
}

/* ---------------------------------------------------------------- state */

tr_options tr_options_default(void) {
    return (tr_options){.steps = 1000,
                        .batch = 32,
                        .lr = 3e-4f,
                        .lr_min = 3e-5f,
                        .warmup = 100,
                        .weight_decay = 0.1f,
                        .clip = 1.0f,
                        .beta1 = 0.9f,
                        .beta2 = 0.95f,
                        .eps = 1e-8f,
                        .seed = 1,
                        .threads = 2,
                        .save_every = 0,
                        .stop_after = 0};
}

bb_status tr_state_init(tr_state *st, const tr_hparams *hp, uint64_t seed, bb_error *err) {
    memset(st, 0, sizeof *st);
    bb_status s = tr_layout_init(&st->L, hp, err);
    if (s != BB_OK) return s;
    size_t n = st->L.n_params;
    st->params = malloc(n * sizeof *st->params);
    st->m = calloc(n, sizeof *st->m);
    st->v = calloc(n, sizeof *st->v);
    if (!st->params || !st->m || !st->v) {
        tr_state_free(st);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for %zu parameters", n);
    }
    tr_init_params_f32(st->params, &st->L, seed);
    return BB_OK;
}

void tr_state_free(tr_state *st) {
    free(st->params);
    free(st->m);
    free(st->v);
    tr_layout_free(&st->L);
    memset(st, 0, sizeof *st);
}

/* ---------------------------------------------------------------- one sequence */

typedef struct seq_plan {
    size_t start; /* first input token in the dataset */
    int T;        /* inputs used: up to and including the last one with a target */
    int n_sel;    /* positions with a target */
} seq_plan;

/* Sequence i of a step: a random document, or a random window of a long one. */
static seq_plan plan_seq(const tr_dataset *d, uint64_t seed, int64_t step, int i, int n_ctx) {
    uint64_t r = tr_rand_at(seed, (uint64_t)step, (uint64_t)i);
    size_t doc = (size_t)(r % d->n_docs);
    size_t start = d->doc_start[doc], len = d->doc_start[doc + 1] - start;
    if (len > (size_t)n_ctx + 1) {
        uint64_t r2 = tr_rand_at(seed ^ 0x77696e646f77ULL, (uint64_t)step, (uint64_t)i);
        start += (size_t)(r2 % (len - (size_t)n_ctx));
        len = (size_t)n_ctx + 1;
    }
    seq_plan p = {.start = start, .T = 0, .n_sel = 0};
    for (size_t j = 1; j < len; j++)
        if (d->target[start + j]) {
            p.T = (int)j;
            p.n_sel++;
        }
    return p;
}

/* Fills sel/tgt of a planned sequence (both n_sel long). */
static void seq_targets(const tr_dataset *d, const seq_plan *p, int32_t *sel, int32_t *tgt) {
    int k = 0;
    for (int t = 0; t < p->T; t++)
        if (d->target[p->start + t + 1]) {
            sel[k] = t;
            tgt[k++] = d->tok[p->start + t + 1];
        }
}

/* ---------------------------------------------------------------- the step */

typedef struct piece {
    size_t off, len;
    float wd;
} piece;

/* Sequences packed for one forward/backward pass (see model_api.h). */
typedef struct pack {
    int32_t *tok, *start, *sel, *tgt; /* pack_max tokens (start: + 1) */
    int n_seq, n_sel;
} pack;

typedef struct train_run {
    tr_state *st;
    const tr_dataset *data;
    const tr_options *opt;
    tr_weights_f32 w;
    tr_acts_f32 **acts; /* per thread, pack_max tokens */
    pack *packs;        /* per thread */
    int pack_max;
    float *grads; /* TR_GRAD_GROUPS x n_params */
    double group_loss[TR_GRAD_GROUPS];
    seq_plan *plans; /* batch */
    float scale;
    int n_chunks;
    double *chunk_sq;
    piece *pieces;
    int n_pieces;
    float lr, gscale;
    int64_t t; /* 1-based optimizer step being taken */
} train_run;

/* Runs one pack (forward, loss, backward into grad) and empties it. */
static void run_pack(train_run *r, int thread, float *grad, int g) {
    pack *k = &r->packs[thread];
    if (k->n_seq == 0) return;
    tr_forward_f32(&r->w, r->acts[thread], k->tok, k->start, k->n_seq, k->sel, k->n_sel);
    r->group_loss[g] += tr_loss_f32(r->acts[thread], k->tgt, r->scale);
    tr_backward_f32(&r->w, r->acts[thread], grad);
    k->n_seq = k->n_sel = 0;
}

/* Group g: its sequences (i = g, g + G, ...) in order, packed up to pack_max tokens. */
static void task_group(void *ctx, int g, int thread) {
    train_run *r = ctx;
    const tr_layout *L = &r->st->L;
    float *grad = r->grads + (size_t)g * L->n_params;
    pack *k = &r->packs[thread];
    memset(grad, 0, L->n_params * sizeof *grad);
    r->group_loss[g] = 0;
    k->n_seq = k->n_sel = 0;
    k->start[0] = 0;
    for (int i = g; i < r->opt->batch; i += TR_GRAD_GROUPS) {
        const seq_plan *p = &r->plans[i];
        if (p->n_sel == 0) continue;
        if (k->start[k->n_seq] + p->T > r->pack_max) run_pack(r, thread, grad, g);
        int row0 = k->start[k->n_seq];
        memcpy(k->tok + row0, r->data->tok + p->start, (size_t)p->T * sizeof *k->tok);
        seq_targets(r->data, p, k->sel + k->n_sel, k->tgt + k->n_sel);
        for (int j = 0; j < p->n_sel; j++)
            k->sel[k->n_sel + j] += row0;
        k->n_sel += p->n_sel;
        k->start[++k->n_seq] = row0 + p->T;
    }
    run_pack(r, thread, grad, g);
}

static int n_groups_used(const train_run *r) {
    return r->opt->batch < TR_GRAD_GROUPS ? r->opt->batch : TR_GRAD_GROUPS;
}

static void task_reduce(void *ctx, int c, int thread) {
    (void)thread;
    train_run *r = ctx;
    size_t n = r->st->L.n_params, j0 = (size_t)c * CHUNK, j1 = j0 + CHUNK < n ? j0 + CHUNK : n;
    int G = n_groups_used(r);
    float *g0 = r->grads;
    double sq = 0;
    for (size_t j = j0; j < j1; j++) {
        float s = g0[j];
        for (int g = 1; g < G; g++)
            s += r->grads[(size_t)g * n + j];
        g0[j] = s;
        sq += (double)s * s;
    }
    r->chunk_sq[c] = sq;
}

static void task_update(void *ctx, int k, int thread) {
    (void)thread;
    train_run *r = ctx;
    const piece *p = &r->pieces[k];
    tr_adamw hp = {r->opt->beta1, r->opt->beta2, r->opt->eps};
    tr_adamw_update(r->st->params + p->off, r->grads + p->off, r->st->m + p->off, r->st->v + p->off,
                    p->len, &hp, r->lr, p->wd, r->gscale, r->t);
}

static void task_refresh(void *ctx, int i, int thread) {
    (void)thread;
    train_run *r = ctx;
    tr_weights_refresh_f32(&r->w, i, i + 1);
}

/* Update work items: tensors cut into CHUNK-sized pieces, each with its tensor's decay
 * (norm gains are not decayed). */
static bool make_pieces(train_run *r) {
    const tr_layout *L = &r->st->L;
    size_t n = 0;
    for (int i = 0; i < L->n_tensors; i++) {
        size_t sz = (size_t)L->tensors[i].n_in * (size_t)L->tensors[i].n_out;
        n += (sz + CHUNK - 1) / CHUNK;
    }
    r->pieces = calloc(n, sizeof *r->pieces);
    if (!r->pieces) return false;
    for (int i = 0; i < L->n_tensors; i++) {
        const tr_tensor *t = &L->tensors[i];
        size_t sz = (size_t)t->n_in * (size_t)t->n_out;
        for (size_t o = 0; o < sz; o += CHUNK)
            r->pieces[r->n_pieces++] = (piece){t->offset + o, sz - o < CHUNK ? sz - o : CHUNK,
                                               t->matrix ? r->opt->weight_decay : 0.0f};
    }
    return true;
}

static void run_free(train_run *r, int n_threads) {
    for (int i = 0; i < n_threads; i++) {
        if (r->acts) tr_acts_free_f32(r->acts[i]);
        if (r->packs) {
            free(r->packs[i].tok), free(r->packs[i].start);
            free(r->packs[i].sel), free(r->packs[i].tgt);
        }
    }
    free(r->acts);
    free(r->packs);
    free(r->grads);
    free(r->plans);
    free(r->chunk_sq);
    free(r->pieces);
    tr_weights_free_f32(&r->w);
}

static bb_status run_alloc(train_run *r, int n_threads, bb_error *err) {
    const tr_layout *L = &r->st->L;
    bb_status s = tr_weights_init_f32(&r->w, L, r->st->params, err);
    if (s != BB_OK) return s;
    /* Packs of a group's sequences, but at most 512 tokens (or one full context). */
    int per_group = (r->opt->batch + TR_GRAD_GROUPS - 1) / TR_GRAD_GROUPS;
    int64_t want = (int64_t)per_group * L->hp.n_ctx;
    r->pack_max = (int)(want < 512 ? want : (L->hp.n_ctx > 512 ? L->hp.n_ctx : 512));
    size_t gbytes, pm = (size_t)r->pack_max;
    r->acts = calloc((size_t)n_threads, sizeof *r->acts);
    r->packs = calloc((size_t)n_threads, sizeof *r->packs);
    r->n_chunks = (int)((L->n_params + CHUNK - 1) / CHUNK);
    r->chunk_sq = calloc((size_t)r->n_chunks, sizeof *r->chunk_sq);
    r->plans = calloc((size_t)r->opt->batch, sizeof *r->plans);
    if (bb_mul_size(L->n_params, (size_t)TR_GRAD_GROUPS * sizeof(float), &gbytes))
        r->grads = malloc(gbytes);
    bool ok = r->acts && r->packs && r->chunk_sq && r->plans && r->grads && make_pieces(r);
    for (int i = 0; ok && i < n_threads; i++) {
        pack *k = &r->packs[i];
        r->acts[i] = tr_acts_new_f32(L, r->pack_max);
        k->tok = malloc(pm * sizeof *k->tok);
        k->start = malloc((pm + 1) * sizeof *k->start);
        k->sel = malloc(pm * sizeof *k->sel);
        k->tgt = malloc(pm * sizeof *k->tgt);
        ok = r->acts[i] && k->tok && k->start && k->sel && k->tgt;
    }
    return ok ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for training buffers");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bb_status check_inputs(const tr_state *st, const tr_dataset *data, const tr_options *o,
                              bb_error *err) {
    if (o->steps < 1 || o->batch < 1 || o->batch > 65536)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "steps (%lld) and batch (%d) must be >= 1",
                       (long long)o->steps, o->batch);
    if (!(o->lr > 0) || !(o->lr_min >= 0) || o->warmup < 0 || !(o->weight_decay >= 0) ||
        !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "invalid optimizer setting (lr %g)", o->lr);
    if (st->step > o->steps)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "checkpoint is at step %lld, past the requested %lld steps",
                       (long long)st->step, (long long)o->steps);
    if (data->n_docs == 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the training data has no documents");
    size_t n_targets = 0;
    for (size_t i = 0; i < data->n_tok; i++) {
        if (data->tok[i] < 0 || data->tok[i] >= st->L.hp.n_vocab)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "token id %d outside the vocab of %d",
                           data->tok[i], st->L.hp.n_vocab);
        n_targets += data->target[i] != 0;
    }
    if (n_targets == 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the training data has no target tokens");
    return BB_OK;
}

/* One optimizer step; returns the loss per target token (NaN when no targets). */
static double train_step(train_run *r, tr_pool *pool, int64_t step, size_t *tokens,
                         double *grad_norm) {
    const tr_options *o = r->opt;
    size_t n_targets = 0;
    for (int i = 0; i < o->batch; i++) {
        r->plans[i] = plan_seq(r->data, o->seed, step, i, r->st->L.hp.n_ctx);
        n_targets += (size_t)r->plans[i].n_sel;
        *tokens += (size_t)r->plans[i].T;
    }
    if (n_targets == 0) return NAN;
    r->scale = 1.0f / (float)n_targets;
    tr_pool_run(pool, n_groups_used(r), task_group, r);
    tr_pool_run(pool, r->n_chunks, task_reduce, r);
    double sq = 0, loss = 0;
    for (int c = 0; c < r->n_chunks; c++)
        sq += r->chunk_sq[c];
    for (int g = 0; g < n_groups_used(r); g++)
        loss += r->group_loss[g];
    *grad_norm = sqrt(sq);
    r->gscale = tr_clip_scale(*grad_norm, o->clip);
    r->lr = tr_lr_at(step, o->steps, o->warmup, o->lr, o->lr_min);
    r->t = step + 1;
    tr_pool_run(pool, r->n_pieces, task_update, r);
    tr_pool_run(pool, r->st->L.n_tensors, task_refresh, r);
    return loss / (double)n_targets;
}

bb_status tr_train(tr_state *st, const tr_dataset *data, const tr_options *opt,
                   const tr_callbacks *cb, bb_error *err) {
    bb_status s = check_inputs(st, data, opt, err);
    if (s != BB_OK) return s;
    tr_pool *pool = NULL;
    s = tr_pool_new(opt->threads, &pool, err);
    if (s != BB_OK) return s;
    train_run r = {.st = st, .data = data, .opt = opt};
    s = run_alloc(&r, opt->threads, err);
    int64_t end =
        opt->stop_after > 0 && opt->stop_after < opt->steps ? opt->stop_after : opt->steps;
    double t0 = now_s();
    size_t tokens = 0;
    int64_t first = st->step;
    while (s == BB_OK && st->step < end) {
        double gnorm = 0;
        double loss = train_step(&r, pool, st->step, &tokens, &gnorm);
        if (!isfinite(gnorm) || (!isfinite(loss) && !isnan(loss))) {
            s = bb_fail(err, BB_ERR_INTERNAL,
                        "training diverged at step %lld (loss %g, gradient norm %g); try a "
                        "lower --lr",
                        (long long)st->step + 1, loss, gnorm);
            break;
        }
        st->step++;
        double el = now_s() - t0;
        if (cb && cb->progress) {
            tr_progress p = {.step = st->step,
                             .steps = opt->steps,
                             .loss = loss,
                             .lr = r.lr,
                             .grad_norm = gnorm,
                             .tokens_per_s = el > 0 ? tokens / el : 0,
                             .elapsed_s = el};
            p.eta_s = el / (double)(st->step - first) * (double)(end - st->step);
            cb->progress(cb->ctx, &p);
        }
        bool last = st->step == end;
        if (cb && cb->save && (last || (opt->save_every > 0 && st->step % opt->save_every == 0)))
            s = cb->save(cb->ctx, st, err);
    }
    run_free(&r, opt->threads);
    tr_pool_free(pool);
    return s;
}

/* ---------------------------------------------------------------- evaluation */

typedef struct eval_run {
    const tr_dataset *data;
    tr_weights_f32 w;
    tr_acts_f32 **acts;
    int32_t **sel, **tgt;
    double *doc_loss;
    size_t *doc_targets;
    int n_ctx;
} eval_run;

static void task_eval(void *ctx, int item, int thread) {
    eval_run *e = ctx;
    const tr_dataset *d = e->data;
    size_t start = d->doc_start[item], len = d->doc_start[item + 1] - start;
    e->doc_loss[item] = 0;
    e->doc_targets[item] = 0;
    /* Consecutive windows of n_ctx + 1 tokens overlapping by one cover every target. */
    for (size_t w0 = 0; w0 + 1 < len; w0 += (size_t)e->n_ctx) {
        size_t wl = len - w0 < (size_t)e->n_ctx + 1 ? len - w0 : (size_t)e->n_ctx + 1;
        seq_plan p = {.start = start + w0};
        for (size_t j = 1; j < wl; j++)
            if (d->target[p.start + j]) p.T = (int)j, p.n_sel++;
        if (p.n_sel == 0) continue;
        seq_targets(d, &p, e->sel[thread], e->tgt[thread]);
        int32_t se[2] = {0, p.T};
        tr_forward_f32(&e->w, e->acts[thread], d->tok + p.start, se, 1, e->sel[thread], p.n_sel);
        e->doc_loss[item] += tr_loss_f32(e->acts[thread], e->tgt[thread], 1.0f);
        e->doc_targets[item] += (size_t)p.n_sel;
    }
}

bb_status tr_evaluate(const tr_state *st, const tr_dataset *data, int threads, double *loss,
                      bb_error *err) {
    if (data->n_docs == 0 || data->n_docs > (size_t)INT32_MAX)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "evaluation data has %zu documents",
                       data->n_docs);
    tr_pool *pool = NULL;
    bb_status s = tr_pool_new(threads, &pool, err);
    if (s != BB_OK) return s;
    eval_run e = {.data = data, .n_ctx = st->L.hp.n_ctx};
    s = tr_weights_init_f32(&e.w, &st->L, st->params, err);
    e.acts = calloc((size_t)threads, sizeof *e.acts);
    e.sel = calloc((size_t)threads, sizeof *e.sel);
    e.tgt = calloc((size_t)threads, sizeof *e.tgt);
    e.doc_loss = calloc(data->n_docs, sizeof *e.doc_loss);
    e.doc_targets = calloc(data->n_docs, sizeof *e.doc_targets);
    bool ok = e.acts && e.sel && e.tgt && e.doc_loss && e.doc_targets;
    for (int i = 0; ok && i < threads; i++) {
        e.acts[i] = tr_acts_new_f32(&st->L, e.n_ctx);
        e.sel[i] = malloc((size_t)e.n_ctx * sizeof(int32_t));
        e.tgt[i] = malloc((size_t)e.n_ctx * sizeof(int32_t));
        ok = e.acts[i] && e.sel[i] && e.tgt[i];
    }
    if (s == BB_OK && !ok) s = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for evaluation");
    if (s == BB_OK) {
        tr_pool_run(pool, (int)data->n_docs, task_eval, &e);
        double sum = 0;
        size_t n = 0;
        for (size_t i = 0; i < data->n_docs; i++)
            sum += e.doc_loss[i], n += e.doc_targets[i];
        if (n == 0)
            s = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "evaluation data has no targets");
        else
            *loss = sum / (double)n;
    }
    for (int i = 0; i < threads && e.acts; i++)
        tr_acts_free_f32(e.acts[i]);
    for (int i = 0; i < threads && e.sel; i++)
        free(e.sel[i]);
    for (int i = 0; i < threads && e.tgt; i++)
        free(e.tgt[i]);
    free(e.acts), free(e.sel), free(e.tgt), free(e.doc_loss), free(e.doc_targets);
    tr_weights_free_f32(&e.w);
    tr_pool_free(pool);
    return s;
}
