/*
 * The demo task: chat questions whose answers can be checked exactly, in English and
 * Chinese phrasings, rendered in ChatML (the chat template stored in the demo model).
 *
 *   add      a + b, operands of 1 to 3 digits
 *   sub      a - b, operands of 1 to 3 digits, a >= b (no negative results)
 *   mul      a x b with a of 1 to 2 digits and b of one digit
 *   convert  unit conversions (km/m/cm/mm, kg/g, L/mL, weeks/days/hours/minutes/seconds)
 *            in both directions, whole numbers only
 *   compare  which of two numbers (up to 4 digits) is larger / smaller
 *   chat     greetings and "what can you do" (not scored)
 *
 * The reply to a question is fully determined by it (e.g. "347 + 589 = 936",
 * "7 km = 7000 m", "354 is larger."), so scoring is an exact string comparison.
 * Every question is a pure function of (seed, stream, index): the training corpus and the
 * held-out evaluation questions use different streams.
 */
#ifndef BB_TRAIN_DEMO_DATA_H
#define BB_TRAIN_DEMO_DATA_H

#include <stdint.h>
#include <stdio.h>

#include "beanbag.h"

typedef enum tr_demo_cat {
    TR_DEMO_ADD,
    TR_DEMO_SUB,
    TR_DEMO_MUL,
    TR_DEMO_CONVERT,
    TR_DEMO_COMPARE,
    TR_DEMO_CHAT,
    TR_DEMO_N_CAT
} tr_demo_cat;

typedef struct tr_demo_qa {
    tr_demo_cat cat;
    char question[256];
    char answer[256];
} tr_demo_qa;

enum { TR_DEMO_STREAM_TRAIN = 1, TR_DEMO_STREAM_EVAL = 2 };

const char *tr_demo_cat_name(tr_demo_cat cat);
/* Question `index` of a stream. With scored_only, never a chat question. */
void tr_demo_question(uint64_t seed, uint64_t stream, uint64_t index, bool scored_only,
                      tr_demo_qa *qa);

/* The ChatML Jinja template of the demo model and its special tokens. */
const char *tr_demo_chat_template(void);
#define TR_DEMO_EOT "<|endoftext|>"
#define TR_DEMO_IM_START "<|im_start|>"
#define TR_DEMO_IM_END "<|im_end|>"

/* Writes n training dialogues, each rendered as the chat template renders it and followed
 * by "<|endoftext|>\n" (the document separator `beanbag train` splits on). */
bb_status tr_demo_write_corpus(FILE *f, int64_t n, uint64_t seed, bb_error *err);

#endif
