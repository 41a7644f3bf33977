/* A small persistent pthread pool for the trainer: run fn(ctx, item) for items 0..n-1 on all
 * threads (the caller's included) and return when every item is done. Items are claimed
 * dynamically, so the work of one item must not depend on which thread runs it. */
#ifndef BB_TRAIN_POOL_H
#define BB_TRAIN_POOL_H

#include "beanbag.h"

typedef struct tr_pool tr_pool;
/* thread is 0..n_threads-1, for per-thread scratch. */
typedef void (*tr_task_fn)(void *ctx, int item, int thread);

bb_status tr_pool_new(int n_threads, tr_pool **out, bb_error *err);
void tr_pool_free(tr_pool *p);
int tr_pool_threads(const tr_pool *p);
void tr_pool_run(tr_pool *p, int n_items, tr_task_fn fn, void *ctx);

#endif
