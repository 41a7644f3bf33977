/* beanbag run -m model.gguf -p "prompt" -n 128 [sampling flags] — streams text to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "beanbag.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_ref.h"
#include "common/error.h"
#include "grammar/grammar.h"
#include "sample/grammar.h"

typedef struct run_opts {
    const char *model;
    const char *prompt;
    long long n_predict;
    long long threads;
    long long n_ctx;
    bb_sampler_params sp;
    const char *grammar_file; /* GBNF */
    const char *schema_file;  /* JSON schema */
} run_opts;

static void usage(FILE *out) {
    fprintf(out, "usage: beanbag run -m model.gguf -p \"prompt\" [-n 128] [--temp 0.8] "
                 "[--top-k 40] [--top-p 0.95]\n"
                 "       [--min-p 0.05] [--repeat-penalty 1.0] [--repeat-last-n 64] "
                 "[--presence-penalty 0]\n"
                 "       [--frequency-penalty 0] [--seed N] [--threads N] [--ctx-size 4096]\n"
                 "       [--grammar-file F.gbnf | --json-schema F.json]   constrain the output\n");
}

static int parse(int argc, char **argv, run_opts *o) {
    o->n_predict = 128;
    o->threads = 0;
    o->n_ctx = 4096;
    o->sp = bb_sampler_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        double d;
        long long n;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!(v = cli_value("run", argc, argv, &i))) return 2;
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt"))
            o->prompt = v;
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            if (!cli_int("run", a, v, 0, 1 << 24, &o->n_predict)) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_int("run", a, v, 1, 1024, &o->threads)) return 2;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            if (!cli_int("run", a, v, 16, 1 << 22, &o->n_ctx)) return 2;
        } else if (!strcmp(a, "--temp")) {
            if (!cli_float("run", a, v, 0, 100, &d)) return 2;
            o->sp.temperature = (float)d;
        } else if (!strcmp(a, "--top-k")) {
            if (!cli_int("run", a, v, 0, 1 << 24, &n)) return 2;
            o->sp.top_k = (int32_t)n;
        } else if (!strcmp(a, "--top-p")) {
            if (!cli_float("run", a, v, 0, 1, &d)) return 2;
            o->sp.top_p = (float)d;
        } else if (!strcmp(a, "--min-p")) {
            if (!cli_float("run", a, v, 0, 1, &d)) return 2;
            o->sp.min_p = (float)d;
        } else if (!strcmp(a, "--repeat-penalty")) {
            if (!cli_float("run", a, v, 0.01, 100, &d)) return 2;
            o->sp.repeat_penalty = (float)d;
        } else if (!strcmp(a, "--repeat-last-n")) {
            if (!cli_int("run", a, v, -1, 1 << 24, &n)) return 2;
            o->sp.repeat_last_n = (int32_t)n;
        } else if (!strcmp(a, "--presence-penalty")) {
            if (!cli_float("run", a, v, -2, 2, &d)) return 2;
            o->sp.presence_penalty = (float)d;
        } else if (!strcmp(a, "--frequency-penalty")) {
            if (!cli_float("run", a, v, -2, 2, &d)) return 2;
            o->sp.frequency_penalty = (float)d;
        } else if (!strcmp(a, "--grammar-file")) {
            o->grammar_file = v;
        } else if (!strcmp(a, "--json-schema")) {
            o->schema_file = v;
        } else if (!strcmp(a, "--seed")) {
            if (!cli_int("run", a, v, 0, INT64_MAX, &n)) return 2;
            o->sp.seed = (uint64_t)n;
        } else {
            fprintf(stderr, "beanbag run: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (o->grammar_file && o->schema_file) {
        fprintf(stderr, "beanbag run: --grammar-file and --json-schema exclude each other\n");
        return 2;
    }
    if (!o->model || !o->prompt) {
        fprintf(stderr, "beanbag run: -m model.gguf and -p \"prompt\" are required\n");
        return 2;
    }
    return 0;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Prefills the prompt in n_batch chunks (logits only for the last token), then samples. */
static int generate(bb_context *ctx, const bb_vocab *v, bb_sampler *smp, const bb_token *ids,
                    size_t n_ids, long long n_predict, bb_error *err) {
    uint32_t n_batch = 512;
    bb_batch b = bb_batch_new((int32_t)n_batch);
    if (!b.capacity) return 1;
    double t0 = now_s();
    for (size_t i = 0; i < n_ids;) {
        bb_batch_clear(&b);
        for (; i < n_ids && (uint32_t)b.n_tokens < n_batch; i++) {
            bb_batch_add(&b, ids[i], (int32_t)i, 0, i + 1 == n_ids);
            bb_sampler_accept(smp, ids[i]);
        }
        if (bb_decode(ctx, &b, err) != BB_OK) goto fail;
    }
    double t1 = now_s();
    bb_detok *dt = bb_detok_new(v, false);
    int32_t pos = (int32_t)n_ids, produced = 0;
    const float *logits = bb_get_logits(ctx, b.n_tokens - 1);
    while (produced < n_predict) {
        bb_token tok = bb_sampler_sample(smp, logits);
        if (bb_sampler_grammar_error(smp)) {
            bb_detok_free(dt);
            bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s", bb_sampler_grammar_error(smp));
            goto fail;
        }
        if (bb_vocab_is_eog(v, tok)) break;
        bb_sampler_accept(smp, tok);
        size_t len;
        const char *text = bb_detok_push(dt, tok, &len);
        fwrite(text, 1, len, stdout);
        fflush(stdout);
        if (++produced == n_predict) break; /* the last token needs no forward pass */
        bb_batch_clear(&b);
        bb_batch_add(&b, tok, pos++, 0, true);
        if (bb_decode(ctx, &b, err) != BB_OK) {
            bb_detok_free(dt);
            goto fail;
        }
        logits = bb_get_logits(ctx, 0);
    }
    size_t len;
    const char *rest = bb_detok_flush(dt, &len);
    fwrite(rest, 1, len, stdout);
    printf("\n");
    bb_detok_free(dt);
    double t2 = now_s();
    fprintf(stderr, "\n[prompt: %zu tokens, %.1f tok/s | generation: %d tokens, %.1f tok/s]\n",
            n_ids, n_ids / (t1 - t0), produced, produced > 1 ? (produced - 1) / (t2 - t1) : 0.0);
    bb_batch_free(&b);
    return 0;
fail:
    fprintf(stderr, "beanbag run: %s\n", err->message);
    bb_batch_free(&b);
    return 1;
}

/* --grammar-file / --json-schema: the grammar, its vocabulary trie and a matcher for smp. */
static bb_status attach_grammar(const run_opts *o, const bb_vocab *v, bb_sampler *smp,
                                bb_grammar_vocab **tv, bb_error *err) {
    const char *path = o->grammar_file ? o->grammar_file : o->schema_file;
    if (!path) return BB_OK;
    FILE *f = fopen(path, "rb");
    if (!f) return bb_fail(err, BB_ERR_IO, "cannot open '%s'", path);
    char *text = malloc(BB_GRAMMAR_MAX_SOURCE + 1);
    size_t n = text ? fread(text, 1, BB_GRAMMAR_MAX_SOURCE + 1, f) : 0;
    fclose(f);
    if (!text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    if (n > BB_GRAMMAR_MAX_SOURCE) {
        free(text);
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "'%s' is larger than %u bytes", path,
                       BB_GRAMMAR_MAX_SOURCE);
    }
    bb_grammar *g = NULL;
    bb_grammar_matcher *gm = NULL;
    bb_status st = o->grammar_file ? bb_grammar_parse_gbnf(text, n, "root", &g, err)
                                   : bb_grammar_from_json_schema(text, n, &g, err);
    free(text);
    if (st == BB_OK) st = bb_grammar_vocab_new(v, tv, err);
    if (st == BB_OK) st = bb_grammar_matcher_new(g, *tv, &gm, err);
    bb_grammar_unref(g);
    if (st == BB_OK) bb_sampler_set_grammar(smp, gm);
    return st;
}

int cmd_run(int argc, char **argv) {
    run_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    bb_error err = {0};
    bb_model *m = NULL;
    bb_context *ctx = NULL;
    bb_sampler *smp = NULL;
    bb_grammar_vocab *tv = NULL;
    bb_token *ids = NULL;
    size_t n_ids = 0;
    bb_model_params mp = bb_model_default_params();
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = (uint32_t)o.n_ctx;
    cp.n_threads = (int32_t)o.threads;
    rc = 1;
    char mbuf[4096];
    if (!(o.model = cli_model_path("run", o.model, mbuf, sizeof mbuf))) return 1;
    if (bb_model_load(o.model, &mp, &m, &err) != BB_OK ||
        bb_context_new(m, &cp, &ctx, &err) != BB_OK ||
        bb_tokenize(bb_model_vocab(m), o.prompt, strlen(o.prompt), true, false, &ids, &n_ids,
                    &err) != BB_OK ||
        bb_sampler_new(&o.sp, bb_model_n_vocab(m), &smp, &err) != BB_OK ||
        attach_grammar(&o, bb_model_vocab(m), smp, &tv, &err) != BB_OK) {
        fprintf(stderr, "beanbag run: %s\n", err.message);
        goto out;
    }
    if (n_ids == 0) {
        fprintf(stderr, "beanbag run: the prompt is empty after tokenization\n");
        goto out;
    }
    if (n_ids + (size_t)o.n_predict > bb_context_n_ctx(ctx)) {
        fprintf(stderr,
                "beanbag run: prompt (%zu tokens) + -n %lld exceeds the context size "
                "%u (use --ctx-size)\n",
                n_ids, o.n_predict, bb_context_n_ctx(ctx));
        goto out;
    }
    rc = generate(ctx, bb_model_vocab(m), smp, ids, n_ids, o.n_predict, &err);
out:
    bb_free(ids);
    bb_sampler_free(smp);
    bb_grammar_vocab_free(tv);
    bb_context_free(ctx);
    bb_model_free(m);
    return rc;
}
