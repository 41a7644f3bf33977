/* examples/simple.c — generate text with beanbag using only include/beanbag.h.
 *
 *   simple model.gguf "Once upon a time" [n_tokens]
 *
 * Greedy decoding: the prompt is evaluated as one batch, then one token per step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s model.gguf \"prompt\" [n_tokens]\n", argv[0]);
        return 2;
    }
    int n_predict = argc > 3 ? atoi(argv[3]) : 32;
    bb_error err = {0};
    bb_model *model = NULL;
    bb_context *ctx = NULL;
    bb_sampler *sampler = NULL;
    bb_token *prompt = NULL;
    size_t n_prompt = 0;
    bb_batch batch = {0};
    int rc = 1;

    bb_model_params mp = bb_model_default_params();
    if (bb_model_load(argv[1], &mp, &model, &err) != BB_OK) goto fail;
    const bb_vocab *vocab = bb_model_vocab(model);
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = 2048;
    if (bb_context_new(model, &cp, &ctx, &err) != BB_OK) goto fail;
    if (bb_tokenize(vocab, argv[2], strlen(argv[2]), true, false, &prompt, &n_prompt, &err))
        goto fail;
    bb_sampler_params sp = bb_sampler_default_params();
    sp.temperature = 0; /* greedy */
    if (bb_sampler_new(&sp, bb_model_n_vocab(model), &sampler, &err) != BB_OK) goto fail;
    if (n_prompt == 0 || n_prompt + (size_t)n_predict > cp.n_ctx || n_prompt > cp.n_batch) {
        fprintf(stderr, "prompt of %zu tokens does not fit\n", n_prompt);
        goto out;
    }

    batch = bb_batch_new((int32_t)n_prompt);
    for (size_t i = 0; i < n_prompt; i++)
        bb_batch_add(&batch, prompt[i], (int32_t)i, 0, i + 1 == n_prompt);
    if (bb_decode(ctx, &batch, &err) != BB_OK) goto fail;
    const float *logits = bb_get_logits(ctx, batch.n_tokens - 1);

    bb_detok *detok = bb_detok_new(vocab, false);
    printf("%s", argv[2]);
    for (int i = 0; i < n_predict; i++) {
        bb_token tok = bb_sampler_sample(sampler, logits);
        if (bb_vocab_is_eog(vocab, tok)) break;
        size_t len;
        const char *text = bb_detok_push(detok, tok, &len);
        fwrite(text, 1, len, stdout);
        fflush(stdout);
        bb_batch_clear(&batch);
        bb_batch_add(&batch, tok, (int32_t)(n_prompt + (size_t)i), 0, true);
        if (bb_decode(ctx, &batch, &err) != BB_OK) {
            bb_detok_free(detok);
            goto fail;
        }
        logits = bb_get_logits(ctx, 0);
    }
    size_t len;
    const char *rest = bb_detok_flush(detok, &len);
    fwrite(rest, 1, len, stdout);
    printf("\n");
    bb_detok_free(detok);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "error: %s\n", err.message);
out:
    bb_batch_free(&batch);
    bb_free(prompt);
    bb_sampler_free(sampler);
    bb_context_free(ctx);
    bb_model_free(model);
    return rc;
}
