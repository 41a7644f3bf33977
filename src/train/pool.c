/* Persistent worker threads woken by a generation counter; items handed out with an atomic
 * counter so uneven items balance themselves. */
#include "train/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common/error.h"

struct tr_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    uint64_t generation;
    int n_busy;
    bool stop;
    tr_task_fn fn;
    void *ctx;
    int n_items;
    atomic_int next;
};

typedef struct worker_arg {
    tr_pool *p;
    int id;
} worker_arg;

static void drain(tr_pool *p, int thread) {
    for (;;) {
        int item = atomic_fetch_add(&p->next, 1);
        if (item >= p->n_items) return;
        p->fn(p->ctx, item, thread);
    }
}

static void *worker(void *argp) {
    worker_arg arg = *(worker_arg *)argp;
    free(argp);
    tr_pool *p = arg.p;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        drain(p, arg.id);
        pthread_mutex_lock(&p->mu);
        if (--p->n_busy == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

bb_status tr_pool_new(int n_threads, tr_pool **out, bb_error *err) {
    if (n_threads < 1 || n_threads > 1024)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "thread count %d out of range [1, 1024]",
                       n_threads);
    tr_pool *p = calloc(1, sizeof *p);
    if (!p) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->n_threads = 1;
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) break;
        *a = (worker_arg){p, i};
        if (pthread_create(&p->threads[i], NULL, worker, a) != 0) {
            free(a);
            break;
        }
        p->n_threads++;
    }
    if (p->n_threads != n_threads) {
        tr_pool_free(p);
        return bb_fail(err, BB_ERR_INTERNAL, "could not start %d training threads", n_threads);
    }
    *out = p;
    return BB_OK;
}

void tr_pool_free(tr_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int tr_pool_threads(const tr_pool *p) {
    return p->n_threads;
}

void tr_pool_run(tr_pool *p, int n_items, tr_task_fn fn, void *ctx) {
    if (n_items <= 0) return;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n_items;
    atomic_store(&p->next, 0);
    p->n_busy = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->n_busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
