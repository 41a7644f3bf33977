/*
 * Trained models as GGUF files, and the optimizer state beside them.
 *
 * The model file is a plain llama GGUF that beanbag (and llama.cpp) run: hyper-parameters
 * under llama.*, F32 tensors with the standard names, and a "gpt2" byte-level BPE
 * tokenizer with the "default" pre-tokenizer, ChatML control tokens and a chat template.
 *
 * The optimizer state goes to a sidecar GGUF, PATH.train: the AdamW moments as two F32
 * tensors over the flat parameter vector, the step, the training options, and a hash of
 * the model's parameters. A sidecar rather than extra tensors in the model keeps the model
 * file exactly what inference loads (a third of the size, no unknown tensors), and the
 * hash ties the two files together so --resume refuses a sidecar from another run.
 */
#ifndef BB_TRAIN_CHECKPOINT_H
#define BB_TRAIN_CHECKPOINT_H

#include "train/bpe.h"
#include "train/trainer.h"

/* How the loss is spread over a document: every token, or only the assistant's turns of
 * ChatML dialogues (their content and closing <|im_end|>). */
typedef enum tr_loss_mode { TR_LOSS_ALL, TR_LOSS_ASSISTANT } tr_loss_mode;

typedef struct tr_model_info {
    const char *name;          /* general.name */
    const char *chat_template; /* tokenizer.chat_template, or NULL */
    const tr_bpe *bpe;
} tr_model_info;

/* Writes the model to path and, when opt is non-NULL, the optimizer state to path.train. */
bb_status tr_checkpoint_save(const char *path, const tr_state *st, const tr_model_info *info,
                             const tr_options *opt, tr_loss_mode loss, bb_error *err);
/* Same model image in memory (free with free()). */
bb_status tr_model_save_memory(const tr_state *st, const tr_model_info *info, void **data,
                               size_t *size, bb_error *err);

/* Reads a model written by tr_checkpoint_save: st gets the layout and weights (zero
 * moments, step 0), *bpe the tokenizer, *chat_template a copy of the template (or NULL);
 * free them with tr_state_free, tr_bpe_free and free. */
bb_status tr_model_load(const char *path, tr_state *st, tr_bpe **bpe, char **chat_template,
                        bb_error *err);
/* Reads path.train into st (moments and step) and opt/loss (the options it was saved
 * with), after checking it belongs to the weights in st. */
bb_status tr_optimizer_load(const char *path, tr_state *st, tr_options *opt, tr_loss_mode *loss,
                            bb_error *err);

#endif
