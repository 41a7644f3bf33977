/* A persistent thread pool for data-parallel kernels.
 *
 * bb_pool_run(pool, fn, arg, n_tasks) calls fn(arg, task, thread) for every task in
 * [0, n_tasks) across the workers and the calling thread, and returns when all are done.
 * Tasks are claimed from an atomic counter, so uneven tasks balance themselves; results must
 * not depend on which thread ran a task (kernels write disjoint outputs), which keeps every
 * computation deterministic whatever the thread count. */
#ifndef BB_OPS_THREADPOOL_H
#define BB_OPS_THREADPOOL_H

#include "beanbag.h"

typedef struct bb_pool bb_pool;
typedef void (*bb_task_fn)(void *arg, int task, int thread);

/* n_threads counts the caller: 1 means no worker threads. */
bb_status bb_pool_new(int n_threads, bb_pool **out, bb_error *err);
void bb_pool_free(bb_pool *pool);
int bb_pool_n_threads(const bb_pool *pool);
void bb_pool_run(bb_pool *pool, bb_task_fn fn, void *arg, int n_tasks);

/* Number of online CPUs (at least 1). */
int bb_cpu_count(void);

#endif
