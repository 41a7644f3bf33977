/* From corpus text to a training dataset: documents, token ids and loss targets. */
#ifndef BB_TRAIN_CORPUS_H
#define BB_TRAIN_CORPUS_H

#include "train/bpe.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

/* Splits text into documents at each "<|endoftext|>" (a newline right after one is
 * dropped; empty documents are skipped), encodes them and marks the targets: every token
 * but the first (TR_LOSS_ALL), or the assistant turns of ChatML dialogues, i.e. the tokens
 * after "<|im_start|>assistant\n" up to and including the closing "<|im_end|>"
 * (TR_LOSS_ASSISTANT). */
bb_status tr_corpus_build(tr_bpe *bpe, const char *text, size_t len, tr_loss_mode mode,
                          tr_dataset *out, bb_error *err);

/* Reads a whole file into a NUL-terminated buffer (free with free()). */
bb_status tr_read_file(const char *path, char **data, size_t *len, bb_error *err);

#endif
