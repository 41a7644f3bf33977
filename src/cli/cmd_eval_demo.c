/* `beanbag eval-demo`: the demo model's exact-answer accuracy on held-out questions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "common/error.h"
#include "train/checkpoint.h"
#include "train/demo_eval.h"
#include "train/demo_model.h"

static void usage(FILE *f) {
    fprintf(f, "usage: beanbag eval-demo [-m MODEL.gguf] [--n 1000] [--seed 1] [--threads 2]\n"
               "                         [--engine beanbag|trainer] [--show-misses]\n"
               "Asks N held-out demo questions (greedy decoding) and reports the share of\n"
               "replies that match the expected answer exactly, per category. Without -m,\n"
               "the built-in demo model. The engine is beanbag's inference path (the user's\n"
               "path) or the trainer's own forward pass (a cross-check; needs -m).\n");
}

static bool parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bb_status eval_trainer(const char *model, int n, uint64_t seed, int threads,
                              tr_demo_score *score, bool show, bb_error *err) {
    tr_state st;
    tr_bpe *bpe;
    char *tmpl;
    bb_status s = tr_model_load(model, &st, &bpe, &tmpl, err);
    if (s != BB_OK) return s;
    s = tr_demo_eval_trainer(&st, bpe, n, seed, threads, score, show ? stdout : NULL, err);
    tr_state_free(&st);
    tr_bpe_free(bpe);
    free(tmpl);
    return s;
}

static bb_status eval_api(const char *model, int n, uint64_t seed, int threads,
                          tr_demo_score *score, bool show, bb_error *err) {
    bb_model *m = NULL;
    bb_model_params mp = bb_model_default_params();
    bb_status s;
    if (model) {
        s = bb_model_load(model, &mp, &m, err);
    } else {
        size_t size;
        const unsigned char *data = bb_demo_model_data(&size);
        if (!data) return bb_fail(err, BB_ERR_IO, "this build has no built-in demo model; use -m");
        s = bb_model_load_from_memory(data, size, &mp, &m, err);
    }
    if (s != BB_OK) return s;
    s = tr_demo_eval_api(m, n, seed, threads, score, show ? stdout : NULL, err);
    bb_model_free(m);
    return s;
}

int cmd_eval_demo(int argc, char **argv) {
    const char *model = NULL;
    long n = 1000, seed = 1, threads = 2;
    bool show = false, trainer = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--show-misses")) {
            show = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "beanbag eval-demo: %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        bool ok = true;
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--engine") && (!strcmp(v, "trainer") || !strcmp(v, "beanbag")))
            trainer = !strcmp(v, "trainer");
        else if (!strcmp(a, "--n"))
            ok = parse_int(v, 1, 1000000, &n);
        else if (!strcmp(a, "--seed"))
            ok = parse_int(v, 0, 2147483647L, &seed);
        else if (!strcmp(a, "--threads"))
            ok = parse_int(v, 1, 1024, &threads);
        else {
            fprintf(stderr, "beanbag eval-demo: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "beanbag eval-demo: bad value '%s' for %s\n", v, a);
            return 2;
        }
    }
    bb_error err = {0};
    tr_demo_score score;
    bb_status s;
    if (trainer) {
        if (!model) {
            fprintf(stderr, "beanbag eval-demo: --engine trainer needs -m MODEL.gguf\n");
            return 2;
        }
        s = eval_trainer(model, (int)n, (uint64_t)seed, (int)threads, &score, show, &err);
    } else {
        s = eval_api(model, (int)n, (uint64_t)seed, (int)threads, &score, show, &err);
    }
    if (s != BB_OK) {
        fprintf(stderr, "beanbag eval-demo: %s\n", err.message);
        return 1;
    }
    tr_demo_score_print(&score, stdout);
    return 0;
}
