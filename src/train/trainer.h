/*
 * The training loop: mini-batches of documents, forward and backward on a thread pool,
 * global-norm clipping, AdamW with warm-up + cosine schedule, progress and checkpoints.
 *
 * Determinism: sequence i of step s is drawn from (seed, s, i) alone, and the gradient of
 * the batch is summed over a fixed number of groups (sequence i goes to group
 * i % TR_GRAD_GROUPS, each group summed in order by one thread, then the groups in order),
 * so a run gives bit-identical weights for any --threads, and a resumed run continues
 * exactly where an uninterrupted one would be.
 */
#ifndef BB_TRAIN_TRAINER_H
#define BB_TRAIN_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "train/model.h"

#define TR_GRAD_GROUPS 8

/* Tokenized documents. Document i is tok[doc_start[i] .. doc_start[i+1]); target[j] != 0
 * when token j is to be predicted (counted in the loss). */
typedef struct tr_dataset {
    int32_t *tok;
    uint8_t *target;
    size_t n_tok;
    size_t *doc_start; /* n_docs + 1 entries */
    size_t n_docs;
    size_t cap_tok, cap_doc; /* allocated entries (private to tr_dataset_add) */
} tr_dataset;

void tr_dataset_free(tr_dataset *d);
/* Appends one document; on failure the dataset is unchanged. */
bb_status tr_dataset_add(tr_dataset *d, const int32_t *tok, const uint8_t *target, size_t n,
                         bb_error *err);

typedef struct tr_options {
    int64_t steps; /* total optimizer steps of the schedule */
    int batch;     /* sequences per step */
    float lr, lr_min;
    int64_t warmup;
    float weight_decay, clip, beta1, beta2, eps;
    uint64_t seed;
    int threads;
    int64_t save_every; /* steps between checkpoints; 0: only at the end */
    int64_t stop_after; /* stop (and save) after this step even if steps is larger; 0: off */
} tr_options;

tr_options tr_options_default(void);

/* Model and optimizer state: what a checkpoint holds. */
typedef struct tr_state {
    tr_layout L;
    float *params, *m, *v; /* n_params each */
    int64_t step;          /* optimizer steps done */
} tr_state;

/* Lays out a model of these hyper-parameters with freshly initialised weights and zero
 * moments. Free with tr_state_free. */
bb_status tr_state_init(tr_state *st, const tr_hparams *hp, uint64_t seed, bb_error *err);
void tr_state_free(tr_state *st);

typedef struct tr_progress {
    int64_t step, steps;
    double loss; /* mean loss per target token of this step */
    double lr, grad_norm;
    double tokens_per_s; /* input tokens through forward + backward, averaged so far */
    double elapsed_s, eta_s;
} tr_progress;

typedef struct tr_callbacks {
    /* After every step. */
    void (*progress)(void *ctx, const tr_progress *p);
    /* At every checkpoint and at the end; a failure stops training with that error. */
    bb_status (*save)(void *ctx, const tr_state *st, bb_error *err);
    void *ctx;
} tr_callbacks;

/* Trains st from st->step to opt->steps over the documents of data. */
bb_status tr_train(tr_state *st, const tr_dataset *data, const tr_options *opt,
                   const tr_callbacks *cb, bb_error *err);

/* Mean loss per target token of the model on the documents (forward only, threaded). */
bb_status tr_evaluate(const tr_state *st, const tr_dataset *data, int threads, double *loss,
                      bb_error *err);

#endif
