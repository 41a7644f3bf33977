/* beanbag eval -m model.gguf --ids 1,450,4996 [-n 16] [--logits out.f32] [--threads N]
 *
 * Conformance/debug: evaluates the ids as one batch, writes the full logits after the last
 * one as float32, then takes n greedy steps and prints the shape of llama.cpp reference runs
 * (../shared/testdata/models/ *.ref.json): {"prompt_tokens": [...], "steps": [{"token": id,
 * "top5": [[id, logit], ...]}, ...]}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_ref.h"

static void top5(const float *l, int32_t n, int32_t *ids) {
    for (int k = 0; k < 5; k++)
        ids[k] = -1;
    for (int32_t i = 0; i < n; i++) {
        for (int k = 0; k < 5; k++) {
            if (ids[k] < 0 || l[i] > l[ids[k]]) {
                memmove(ids + k + 1, ids + k, (size_t)(4 - k) * sizeof *ids);
                ids[k] = i;
                break;
            }
        }
    }
}

static int run_eval(bb_context *ctx, int32_t n_vocab, const int32_t *ids, int n_ids,
                    long long n_steps, const char *logits_path) {
    bb_error err = {0};
    bb_batch b = bb_batch_new(n_ids > 1 ? n_ids : 1);
    if (!b.capacity) return 1;
    for (int i = 0; i < n_ids; i++)
        bb_batch_add(&b, ids[i], i, 0, i + 1 == n_ids);
    if (bb_decode(ctx, &b, &err) != BB_OK) {
        fprintf(stderr, "beanbag eval: %s\n", err.message);
        bb_batch_free(&b);
        return 1;
    }
    const float *logits = bb_get_logits(ctx, n_ids - 1);
    if (logits_path) {
        FILE *f = fopen(logits_path, "wb");
        if (!f || fwrite(logits, sizeof(float), (size_t)n_vocab, f) != (size_t)n_vocab) {
            fprintf(stderr, "beanbag eval: cannot write '%s'\n", logits_path);
            if (f) fclose(f);
            bb_batch_free(&b);
            return 1;
        }
        fclose(f);
    }
    printf("{\"prompt_tokens\": [");
    for (int i = 0; i < n_ids; i++)
        printf(i ? ", %d" : "%d", ids[i]);
    printf("], \"steps\": [");
    for (long long s = 0; s < n_steps; s++) {
        int32_t best[5];
        top5(logits, n_vocab, best);
        printf("%s{\"token\": %d, \"top5\": [", s ? ", " : "", best[0]);
        for (int k = 0; k < 5 && best[k] >= 0; k++)
            printf("%s[%d, %.6f]", k ? ", " : "", best[k], logits[best[k]]);
        printf("]}");
        if (s + 1 == n_steps) break;
        bb_batch_clear(&b);
        bb_batch_add(&b, best[0], n_ids + (int32_t)s, 0, true);
        if (bb_decode(ctx, &b, &err) != BB_OK) {
            fprintf(stderr, "beanbag eval: %s\n", err.message);
            bb_batch_free(&b);
            return 1;
        }
        logits = bb_get_logits(ctx, 0);
    }
    printf("]}\n");
    bb_batch_free(&b);
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *path = NULL, *ids_s = NULL, *logits_path = NULL;
    long long n_steps = 16, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: beanbag eval -m model.gguf --ids 1,450,4996 [-n 16] [--logits "
                   "out.f32] [--threads N]\n");
            return 0;
        }
        if (!(v = cli_value("eval", argc, argv, &i))) return 2;
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            path = v;
        else if (!strcmp(a, "--ids"))
            ids_s = v;
        else if (!strcmp(a, "--logits"))
            logits_path = v;
        else if (!strcmp(a, "-n")) {
            if (!cli_int("eval", a, v, 0, 4096, &n_steps)) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_int("eval", a, v, 1, 1024, &threads)) return 2;
        } else {
            fprintf(stderr, "beanbag eval: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!path || !ids_s) {
        fprintf(stderr, "beanbag eval: -m model.gguf and --ids are required\n");
        return 2;
    }
    int32_t *ids;
    int n_ids;
    if (!cli_int_list("eval", "--ids", ids_s, 0, INT32_MAX, &ids, &n_ids)) return 2;
    bb_error err = {0};
    bb_model *m = NULL;
    bb_context *ctx = NULL;
    bb_model_params mp = bb_model_default_params();
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = (uint32_t)(n_ids + n_steps + 1);
    cp.n_batch = (uint32_t)n_ids;
    cp.n_threads = (int32_t)threads;
    int rc = 1;
    char mbuf[4096];
    if (!(path = cli_model_path("eval", path, mbuf, sizeof mbuf))) return 1;
    if (bb_model_load(path, &mp, &m, &err) != BB_OK || bb_context_new(m, &cp, &ctx, &err) != BB_OK)
        fprintf(stderr, "beanbag eval: %s\n", err.message);
    else
        rc = run_eval(ctx, bb_model_n_vocab(m), ids, n_ids, n_steps, logits_path);
    free(ids);
    bb_context_free(ctx);
    bb_model_free(m);
    return rc;
}
