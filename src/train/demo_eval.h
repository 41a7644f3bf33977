/*
 * Scoring the demo task: held-out questions (the evaluation stream of demo_data.h), greedy
 * answers, exact comparison with the expected reply. The generation engine is pluggable so
 * the same scoring runs on the trainer's own forward pass and on beanbag's inference path.
 */
#ifndef BB_TRAIN_DEMO_EVAL_H
#define BB_TRAIN_DEMO_EVAL_H

#include <stdio.h>

#include "train/bpe.h"
#include "train/demo_data.h"
#include "train/trainer.h"

typedef struct tr_demo_score {
    int asked[TR_DEMO_N_CAT], correct[TR_DEMO_N_CAT];
} tr_demo_score;

/* Records one answer; prints misses to `misses` when non-NULL. */
void tr_demo_score_add(tr_demo_score *s, const tr_demo_qa *qa, const char *reply, FILE *misses);
/* Prints a per-category table and the arithmetic (add + sub + mul) and overall accuracy. */
void tr_demo_score_print(const tr_demo_score *s, FILE *f);
double tr_demo_score_arith(const tr_demo_score *s);

/* The prompt of one question as the ChatML template renders it with a generation prompt. */
void tr_demo_prompt(const tr_demo_qa *qa, char *buf, size_t cap);

/* Answers n held-out questions with the trainer's forward pass (greedy, no KV cache:
 * every step recomputes the prefix), on `threads` threads. */
bb_status tr_demo_eval_trainer(const tr_state *st, tr_bpe *bpe, int n, uint64_t seed, int threads,
                               tr_demo_score *score, FILE *misses, bb_error *err);

/* Answers n held-out questions through beanbag's public inference API, the path a user
 * takes: the chat prompt, bb_tokenize (special tokens parsed), bb_decode, a greedy
 * bb_sampler (temperature 0), bb_detokenize, stopping at an end-of-generation token. */
bb_status tr_demo_eval_api(bb_model *model, int n, uint64_t seed, int threads, tr_demo_score *score,
                           FILE *misses, bb_error *err);

#endif
