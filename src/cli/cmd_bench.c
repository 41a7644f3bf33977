/* beanbag bench -m model.gguf [-p 256 -n 64 -t 2 -r 3] [--json]
 *
 * Prompt processing and generation speed (median of -r repetitions), and the machine's
 * memory read bandwidth measured in the same run with the same threads, so generation can be
 * stated as a fraction of the memory roofline: decode streams every weight once per token,
 * so weight_bytes x gen_tokens_per_s / mem_read_bandwidth <= 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "beanbag.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "ops/threadpool.h"

#define BW_BYTES (512u << 20) /* far larger than any last-level cache */
#define BW_CHUNK (1u << 20)

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct bw_job {
    const uint64_t *buf;
    uint64_t *sums; /* per thread, padded to avoid false sharing */
} bw_job;

static void bw_task(void *arg, int task, int thread) {
    bw_job *j = arg;
    const uint64_t *p = j->buf + (size_t)task * (BW_CHUNK / 8);
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i < BW_CHUNK / 8; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
    }
    j->sums[thread * 8] += s0 + s1 + s2 + s3;
}

/* Best of several passes summing a 512 MiB buffer with all pool threads. */
static double measure_read_gbs(bb_pool *pool) {
    uint64_t *buf = malloc(BW_BYTES);
    uint64_t *sums = calloc((size_t)bb_pool_n_threads(pool) * 8, sizeof *sums);
    if (!buf || !sums) {
        free(buf);
        free(sums);
        return 0;
    }
    for (size_t i = 0; i < BW_BYTES / 8; i++)
        buf[i] = i;
    bw_job j = {buf, sums};
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_s();
        bb_pool_run(pool, bw_task, &j, BW_BYTES / BW_CHUNK);
        double gbs = BW_BYTES / (now_s() - t0) / 1e9;
        if (gbs > best) best = gbs;
    }
    if (sums[0] == 42) fprintf(stderr, " "); /* keep the sums observable */
    free(buf);
    free(sums);
    return best;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct bench_result {
    double pp_tps, tg_tps;
} bench_result;

static bb_status bench_model(bb_context *ctx, int32_t n_vocab, int n_prompt, int n_gen, int reps,
                             bench_result *r, bb_error *err) {
    bb_batch b = bb_batch_new(n_prompt > 1 ? n_prompt : 1);
    double pp[64], tg[64];
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    bb_status st = BB_OK;
    for (int rep = 0; rep <= reps && st == BB_OK; rep++) { /* rep 0 warms up */
        bb_kv_seq_rm(ctx, 0, 0, -1, err);
        bb_batch_clear(&b);
        for (int i = 0; i < n_prompt; i++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            bb_batch_add(&b, (bb_token)((rng >> 33) % (uint64_t)n_vocab), i, 0, i + 1 == n_prompt);
        }
        double t0 = now_s();
        if ((st = bb_decode(ctx, &b, err))) break;
        double t1 = now_s();
        for (int i = 0; i < n_gen; i++) {
            bb_batch_clear(&b);
            bb_batch_add(&b, (bb_token)(i % n_vocab), n_prompt + i, 0, true);
            if ((st = bb_decode(ctx, &b, err))) break;
        }
        double t2 = now_s();
        if (rep > 0) {
            pp[rep - 1] = n_prompt / (t1 - t0);
            tg[rep - 1] = n_gen / (t2 - t1);
        }
    }
    bb_batch_free(&b);
    if (st == BB_OK) {
        r->pp_tps = median(pp, reps);
        r->tg_tps = median(tg, reps);
    }
    return st;
}

int cmd_bench(int argc, char **argv) {
    const char *path = NULL;
    long long n_prompt = 256, n_gen = 64, threads = 0, reps = 3;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: beanbag bench -m model.gguf [-p 256] [-n 64] [-t threads] [-r 3] "
                   "[--json]\n");
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        if (!(v = cli_value("bench", argc, argv, &i))) return 2;
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            path = v;
        else if (!strcmp(a, "-p")) {
            if (!cli_int("bench", a, v, 1, 8192, &n_prompt)) return 2;
        } else if (!strcmp(a, "-n")) {
            if (!cli_int("bench", a, v, 1, 8192, &n_gen)) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!cli_int("bench", a, v, 1, 1024, &threads)) return 2;
        } else if (!strcmp(a, "-r")) {
            if (!cli_int("bench", a, v, 1, 64, &reps)) return 2;
        } else {
            fprintf(stderr, "beanbag bench: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "beanbag bench: -m model.gguf is required\n");
        return 2;
    }
    bb_error err = {0};
    bb_model *m = NULL;
    bb_context *ctx = NULL;
    bb_model_params mp = bb_model_default_params();
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = (uint32_t)(n_prompt + n_gen);
    cp.n_batch = (uint32_t)n_prompt;
    cp.n_threads = (int32_t)threads;
    bench_result r = {0};
    if (bb_model_load(path, &mp, &m, &err) || bb_context_new(m, &cp, &ctx, &err) ||
        bench_model(ctx, bb_model_n_vocab(m), (int)n_prompt, (int)n_gen, (int)reps, &r, &err)) {
        fprintf(stderr, "beanbag bench: %s\n", err.message);
        bb_context_free(ctx);
        bb_model_free(m);
        return 1;
    }
    int nt = bb_context_n_threads(ctx);
    bb_pool *pool;
    double bw = bb_pool_new(nt, &pool, &err) == BB_OK ? measure_read_gbs(pool) : 0;
    if (bw > 0) bb_pool_free(pool);
    uint64_t wb = bb_model_weight_bytes(m);
    double streamed = wb * r.tg_tps / 1e9;
    double gflops = 2.0 * (double)bb_model_n_params(m) * r.pp_tps / 1e9;
    if (json) {
        printf("{\"model\": \"%s\", \"arch\": \"%s\", \"n_params\": %llu, \"threads\": %d, "
               "\"prompt_tokens\": %lld, \"gen_tokens\": %lld, \"repetitions\": %lld, "
               "\"prompt_tokens_per_s\": %.3f, \"gen_tokens_per_s\": %.3f, "
               "\"weight_bytes\": %llu, \"streamed_gbs\": %.3f, \"mem_read_gbs\": %.3f, "
               "\"roofline_ratio\": %.4f, \"prompt_gflops\": %.2f}\n",
               path, bb_model_arch(m), (unsigned long long)bb_model_n_params(m), nt, n_prompt,
               n_gen, reps, r.pp_tps, r.tg_tps, (unsigned long long)wb, streamed, bw,
               bw > 0 ? streamed / bw : 0, gflops);
    } else {
        printf("model %s (%s, %.2fB params, %.1f MiB weights/token), %d threads\n", path,
               bb_model_arch(m), bb_model_n_params(m) / 1e9, wb / 1048576.0, nt);
        printf("prompt     %5lld tokens: %9.2f tokens/s  (%.1f GFLOP/s)\n", n_prompt, r.pp_tps,
               gflops);
        printf("generation %5lld tokens: %9.2f tokens/s  (%.2f GB/s of weights)\n", n_gen, r.tg_tps,
               streamed);
        printf("memory read bandwidth:   %9.2f GB/s  -> generation at %.1f%% of the roofline\n", bw,
               bw > 0 ? 100 * streamed / bw : 0);
    }
    bb_context_free(ctx);
    bb_model_free(m);
    return 0;
}
