/* The GGUF reader and the model loader over an image in memory: the metadata and tensor
 * table (gguf_open_memory), then the model as each command loads it (metadata only for
 * `info`, vocab-only for `tokenize`, whole with weights bound and repacked), described as
 * `info` shows it, and one forward step when it loads, so that hyper-parameters the loader
 * accepts are proven to run. */
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "fuzz.h"
#include "gguf/gguf.h"

static void describe(bb_model *m) {
    char *text = NULL;
    bb_error err = {0};
    if (bb_model_describe(m, &text, &err) == BB_OK) FUZZ_ASSERT(text != NULL);
    bb_free(text);
}

/* One token through the model: what a loaded model must be able to do. */
static void forward(bb_model *m) {
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = 16;
    cp.n_batch = 2;
    cp.n_seq_max = 1;
    cp.n_threads = 1;
    bb_context *ctx = NULL;
    bb_error err = {0};
    if (bb_context_new(m, &cp, &ctx, &err) != BB_OK) return;
    bb_batch b = bb_batch_new(2);
    if (bb_batch_add(&b, 0, 0, 0, true) && bb_decode(ctx, &b, &err) == BB_OK)
        FUZZ_ASSERT(bb_get_logits(ctx, 0) != NULL);
    bb_batch_free(&b);
    bb_context_free(ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the reader expects the alignment a mapped file has */
    void *img = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!img) return 0;
    memcpy(img, data, size);
    bb_error err = {0};
    gguf_file *f = NULL;
    if (gguf_open_memory(img, size, &f, &err) == BB_OK) {
        for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            const char *p = t->data;
            FUZZ_ASSERT(p >= (const char *)img && t->size <= size &&
                        (size_t)(p - (const char *)img) <= size - t->size);
        }
        gguf_close(f);
    }
    const bb_model_params modes[3] = {{.metadata_only = true}, {.vocab_only = true}, {0}};
    for (int k = 0; k < 3; k++) {
        bb_model *m = NULL;
        if (bb_model_load_from_memory(img, size, &modes[k], &m, &err) != BB_OK) {
            FUZZ_ASSERT(m == NULL && err.message[0]);
            continue;
        }
        describe(m);
        if (k == 2 && bb_model_n_vocab(m) > 0) forward(m);
        bb_model_free(m);
    }
    free(img);
    return 0;
}
