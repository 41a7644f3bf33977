/* Persistent workers that wait on a generation counter. A job is published by bumping the
 * generation under the mutex; workers spin briefly before sleeping on the condition variable,
 * because forward passes issue hundreds of short parallel regions per token and a futex
 * wake-up per region would cost more than the work. */
#include "ops/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/error.h"

#define SPIN_ITERS 20000

struct bb_pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_cond_t done;
    /* the current job */
    bb_task_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next_task;
    atomic_int n_active; /* workers still inside the current job */
    atomic_uint generation;
    bool stop;
};

typedef struct worker_arg {
    bb_pool *pool;
    int index;
} worker_arg;

static void drain_tasks(bb_pool *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add_explicit(&p->next_task, 1, memory_order_relaxed);
        if (t >= p->n_tasks) break;
        p->fn(p->arg, t, thread);
    }
}

static void *worker_main(void *varg) {
    worker_arg wa = *(worker_arg *)varg;
    free(varg);
    bb_pool *p = wa.pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               spins < SPIN_ITERS)
            spins++;
        if (gen == seen) {
            pthread_mutex_lock(&p->mu);
            while ((gen = atomic_load(&p->generation)) == seen && !p->stop)
                pthread_cond_wait(&p->wake, &p->mu);
            bool stop = p->stop;
            pthread_mutex_unlock(&p->mu);
            if (stop) return NULL;
        }
        seen = gen;
        drain_tasks(p, wa.index);
        if (atomic_fetch_sub_explicit(&p->n_active, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int bb_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

bb_status bb_pool_new(int n_threads, bb_pool **out, bb_error *err) {
    if (n_threads < 1 || n_threads > 1024)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "thread count %d is out of range 1..1024",
                       n_threads);
    bb_pool *p = calloc(1, sizeof *p);
    if (!p) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        bb_pool_free(p);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the thread pool");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) *wa = (worker_arg){p, i};
        if (!wa || pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->n_threads = i; /* join only the ones that started */
            bb_pool_free(p);
            return bb_fail(err, BB_ERR_INTERNAL, "could not start worker thread %d", i);
        }
    }
    *out = p;
    return BB_OK;
}

void bb_pool_free(bb_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads && p->threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int bb_pool_n_threads(const bb_pool *p) {
    return p->n_threads;
}

void bb_pool_run(bb_pool *p, bb_task_fn fn, void *arg, int n_tasks) {
    if (n_tasks <= 0) return;
    if (p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(arg, t, 0);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    atomic_store(&p->n_active, p->n_threads - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    drain_tasks(p, 0);
    int spins = 0;
    while (atomic_load_explicit(&p->n_active, memory_order_acquire) > 0 && spins < SPIN_ITERS)
        spins++;
    if (atomic_load(&p->n_active) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->n_active) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
