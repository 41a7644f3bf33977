/* beanbag bench --serve -m model.gguf [--concurrency 1,2,4,8,16,32] [-p 128] [-n 64] [--json]
 *
 * The machine's serving curve, in process: the same engine `beanbag serve` runs (continuous
 * batching, per-step token budget, one paged KV pool), driven by one client thread per stream
 * with no HTTP in between. For each concurrency c, c streams start together, each a prompt of
 * -p random tokens and -n generated ones (greedy, end-of-generation forbidden so every stream
 * runs its full length), --requests times back to back. Reported per c: aggregate generated
 * tokens/s (all tokens over the wall time, prompts included), time to first token and
 * inter-token gaps at p50/p99; then prefill tokens/s of a stream alone and how many sequences
 * of --seq-len tokens the machine's free memory holds in KV cache, and the machine's limits
 * (bench_peak.c: bandwidth, int8 and FP32 peaks, best of before and after the curve). --json
 * writes it as the device profile `beanbag plan` reads (docs/fleet.md, "Profiles"). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/bench_peak.h"
#include "cli/commands.h"
#include "engine/runtime.h"
#include "model/model.h"
#include "quant/quant.h"

#define MAX_LEVELS 16

typedef struct serve_opts {
    const char *path, *out;
    int32_t *conc;
    int n_conc;
    int32_t prompt, gen, requests, threads, step_tokens, batch, seq_len;
    bool json;
} serve_opts;

static void usage(FILE *f) {
    fprintf(f, "usage: beanbag bench --serve -m model.gguf [options]\n"
               "\n"
               "The serving curve of this machine through the engine `serve` uses, no HTTP:\n"
               "  --concurrency N[,N...]  streams at once (default 1,2,4,8,16,32; at most 256)\n"
               "  -p N            prompt tokens per request (default 128)\n"
               "  -n N            generated tokens per request (default 64)\n"
               "  --requests N    requests each stream sends back to back (default 1)\n"
               "  -t N            threads (default: one per online CPU)\n"
               "  --step-tokens N per-step token budget, as `serve --step-tokens` (default 32)\n"
               "  --batch N       batch capacity, as `serve --batch` (default 128)\n"
               "  --seq-len N     sequence length for the KV capacity figure (default p + n)\n"
               "  --json          print the device profile (JSON) that `beanbag plan` reads\n"
               "  -o FILE         also write the profile there\n");
}

static int parse(int argc, char **argv, serve_opts *o, bool *done) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long long x;
        if (!strcmp(a, "--serve")) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            *done = true;
            return 0;
        }
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!(v = cli_value("bench --serve", argc, argv, &i))) return 2;
        int32_t *dst = NULL;
        long long lo = 1, hi = 1 << 16;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            o->path = v;
            continue;
        } else if (!strcmp(a, "-o")) {
            o->out = v;
            continue;
        } else if (!strcmp(a, "--concurrency")) {
            free(o->conc);
            o->conc = NULL;
            if (!cli_int_list("bench --serve", a, v, 1, 256, &o->conc, &o->n_conc)) return 2;
            if (o->n_conc > MAX_LEVELS) {
                fprintf(stderr, "beanbag bench --serve: --concurrency: at most %d levels\n",
                        MAX_LEVELS);
                return 2;
            }
            continue;
        } else if (!strcmp(a, "-p")) {
            dst = &o->prompt;
        } else if (!strcmp(a, "-n")) {
            dst = &o->gen;
        } else if (!strcmp(a, "--requests")) {
            dst = &o->requests, hi = 1000;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            dst = &o->threads, hi = 1024;
        } else if (!strcmp(a, "--step-tokens")) {
            dst = &o->step_tokens;
        } else if (!strcmp(a, "--batch")) {
            dst = &o->batch;
        } else if (!strcmp(a, "--seq-len")) {
            dst = &o->seq_len, hi = 1 << 24;
        } else {
            fprintf(stderr, "beanbag bench --serve: unknown option '%s'\n", a);
            return 2;
        }
        if (!cli_int("bench --serve", a, v, lo, hi, &x)) return 2;
        *dst = (int32_t)x;
    }
    if (!o->path) {
        fprintf(stderr, "beanbag bench --serve: -m model.gguf is required\n");
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------------- the client threads */

typedef struct stream_ctx {
    engine *e;
    const engine_gen_params *gp;
    int32_t n_vocab, prompt, requests;
    uint64_t seed;
    double *ttft; /* per request */
    double *gaps; /* per generated token after the first of its request */
    int32_t n_gaps, cap_gaps;
    int64_t tokens;
    char error[sizeof(((bb_error *)0)->message)];
} stream_ctx;

static uint64_t next_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static void *stream_main(void *arg) {
    stream_ctx *s = arg;
    bb_token *ids = malloc((size_t)s->prompt * sizeof *ids);
    if (!ids) {
        snprintf(s->error, sizeof s->error, "out of memory");
        return NULL;
    }
    for (int32_t q = 0; q < s->requests && !s->error[0]; q++) {
        for (int32_t i = 0; i < s->prompt; i++)
            ids[i] = (bb_token)(next_rand(&s->seed) % (uint64_t)s->n_vocab);
        engine_request *r = NULL;
        bb_error err = {0};
        double t0 = bench_now_s(), last = 0;
        if (engine_request_new(s->e, s->gp, ids, (size_t)s->prompt, &r, &err) ||
            engine_submit(s->e, r, &err)) {
            snprintf(s->error, sizeof s->error, "%s", err.message);
            engine_request_unref(r);
            break;
        }
        bool first = true;
        for (;;) {
            engine_delta d;
            bool got = engine_request_take(r, 0, &d);
            if (got) {
                /* the engine stamps every token when it is sampled: exact TTFT and gaps,
                 * however this thread's wake-ups bundle them */
                for (size_t i = 0; i < d.n_tokens; i++) {
                    double t = d.tokens[i].time_s;
                    if (first) {
                        s->ttft[q] = t - t0;
                        first = false;
                    } else {
                        if (s->n_gaps == s->cap_gaps) {
                            int32_t cap = s->cap_gaps ? s->cap_gaps * 2 : 256;
                            double *g = realloc(s->gaps, (size_t)cap * sizeof *g);
                            if (!g) break;
                            s->gaps = g;
                            s->cap_gaps = cap;
                        }
                        s->gaps[s->n_gaps++] = t - last;
                    }
                    last = t;
                }
                s->tokens += (int64_t)d.n_tokens;
                engine_finish fin = d.finish;
                engine_delta_free(&d);
                if (fin == ENGINE_FINISH_ERROR || fin == ENGINE_FINISH_CANCELLED) {
                    const char *msg = engine_request_error(r);
                    snprintf(s->error, sizeof s->error, "%s", msg ? msg : "cancelled");
                    break;
                }
                if (fin != ENGINE_FINISH_NONE) break;
                continue;
            }
            engine_request_wait(r, -1, 1000);
        }
        engine_request_unref(r);
    }
    free(ids);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, int64_t n, double p) {
    if (n <= 0) return 0;
    int64_t k = (int64_t)ceil(p / 100 * (double)n) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return v[k];
}

typedef struct level {
    int32_t conc;
    double tps, ttft50, ttft99, itl50, itl99;
    int64_t requests;
} level;

/* Runs c streams at once; fills *out. */
static bool run_level(engine *e, const engine_gen_params *gp, const serve_opts *o, int32_t n_vocab,
                      int32_t c, uint64_t seed, level *out, char *error, size_t cap) {
    stream_ctx *s = calloc((size_t)c, sizeof *s);
    pthread_t *th = calloc((size_t)c, sizeof *th);
    bool ok = s && th;
    for (int32_t i = 0; ok && i < c; i++) {
        s[i] = (stream_ctx){.e = e,
                            .gp = gp,
                            .n_vocab = n_vocab,
                            .prompt = o->prompt,
                            .requests = o->requests,
                            .seed = seed + (uint64_t)i * 7919};
        ok = (s[i].ttft = calloc((size_t)o->requests, sizeof(double))) != NULL;
    }
    double t0 = bench_now_s();
    int32_t started = 0;
    for (; ok && started < c; started++)
        if (pthread_create(&th[started], NULL, stream_main, &s[started]) != 0) ok = false;
    for (int32_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double wall = bench_now_s() - t0;
    int64_t tokens = 0, n_gaps = 0, n_req = (int64_t)c * o->requests;
    for (int32_t i = 0; ok && i < c; i++) {
        if (s[i].error[0]) {
            snprintf(error, cap, "%s", s[i].error);
            ok = false;
        }
        tokens += s[i].tokens;
        n_gaps += s[i].n_gaps;
    }
    double *ttft = ok ? malloc((size_t)n_req * sizeof *ttft) : NULL;
    double *gaps = ok ? malloc((size_t)(n_gaps ? n_gaps : 1) * sizeof *gaps) : NULL;
    if (ok && ttft && gaps) {
        int64_t a = 0, b = 0;
        for (int32_t i = 0; i < c; i++) {
            memcpy(ttft + a, s[i].ttft, (size_t)o->requests * sizeof *ttft);
            a += o->requests;
            memcpy(gaps + b, s[i].gaps, (size_t)s[i].n_gaps * sizeof *gaps);
            b += s[i].n_gaps;
        }
        qsort(ttft, (size_t)n_req, sizeof *ttft, cmp_double);
        qsort(gaps, (size_t)n_gaps, sizeof *gaps, cmp_double);
        *out = (level){.conc = c,
                       .tps = (double)tokens / (wall > 0 ? wall : 1e-9),
                       .ttft50 = pct(ttft, n_req, 50),
                       .ttft99 = pct(ttft, n_req, 99),
                       .itl50 = pct(gaps, n_gaps, 50) * 1000,
                       .itl99 = pct(gaps, n_gaps, 99) * 1000,
                       .requests = n_req};
    } else if (ok) {
        snprintf(error, cap, "out of memory");
        ok = false;
    } else if (!error[0]) {
        snprintf(error, cap, "out of memory or no threads");
    }
    free(ttft);
    free(gaps);
    for (int32_t i = 0; s && i < c; i++) {
        free(s[i].ttft);
        free(s[i].gaps);
    }
    free(s);
    free(th);
    return ok;
}

/* MemAvailable from /proc/meminfo: what the machine can still give weights and KV. */
static double mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb * 1024;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

typedef struct profile_out {
    const serve_opts *o;
    const char *model_name;
    double weight_bytes, matmul_flops, attn_flops, kv_bytes;
    bool int8;
    bench_peaks peaks;
    int32_t threads;
    double memory, prefill_tps, kv_sequences;
    level *levels;
    int n_levels;
} profile_out;

static void write_profile(FILE *f, const profile_out *p) {
    fprintf(f, "{\"kind\": \"beanbag.serve_profile\", \"version\": 1,\n \"model\": {\"name\": ");
    json_str(f, p->model_name);
    fprintf(f,
            ", \"weight_bytes\": %.0f, \"matmul_flops_per_token\": %.0f, \"attn_flops_per_key\": "
            "%.0f, \"kv_bytes_per_token\": %.0f, \"compute\": \"%s\"},\n",
            p->weight_bytes, p->matmul_flops, p->attn_flops, p->kv_bytes,
            p->int8 ? "int8" : "fp16");
    fprintf(f,
            " \"machine\": {\"device\": \"cpu-%s\", \"n_threads\": %d, \"mem_read_gbs\": %.3f, "
            "\"int8_gops\": %.2f, \"fp32_gflops\": %.2f, \"memory_bytes\": %.0f},\n",
            bb_cpu_level(), p->threads, p->peaks.mem_read_gbs, p->peaks.int8_gops,
            p->peaks.fp32_gflops, p->memory);
    fprintf(f,
            " \"prompt_tokens\": %d, \"gen_tokens\": %d, \"step_tokens\": %d, \"prefill_tps\": "
            "%.3f,\n \"kv_capacity\": {\"seq_len\": %d, \"sequences\": %.0f},\n \"curve\": [",
            p->o->prompt, p->o->gen, p->o->step_tokens, p->prefill_tps, p->o->seq_len,
            p->kv_sequences);
    for (int i = 0; i < p->n_levels; i++) {
        const level *l = &p->levels[i];
        fprintf(f,
                "%s\n  {\"concurrency\": %d, \"requests\": %lld, \"tokens_per_s\": %.3f, "
                "\"ttft_p50_s\": %.4f, \"ttft_p99_s\": %.4f, \"itl_p50_ms\": %.3f, "
                "\"itl_p99_ms\": %.3f}",
                i ? "," : "", l->conc, (long long)l->requests, l->tps, l->ttft50, l->ttft99,
                l->itl50, l->itl99);
    }
    fprintf(f, "]}\n");
}

/* Matrix weights of the model are quantized (int8 dot products) unless every matrix is F32,
 * F16 or BF16 (FP32 FMA). */
static bool int8_kernels(const bb_model *m) {
    int t = m->layers[0].wq.type;
    return t != BB_TYPE_F32 && t != BB_TYPE_F16 && t != BB_TYPE_BF16;
}

/* The machine's limits, kept at the best of this and earlier measurements: on a shared
 * machine other work only ever lowers them, so the best seen before and after the curve is
 * the closest to what the machine can do. */
static bool measure_best(int32_t threads, bench_peaks *best, bb_error *err) {
    bb_pool *pool;
    bench_peaks p = {0};
    if (bb_pool_new(threads, &pool, err)) return false;
    if (!bench_measure_peaks(pool, &p))
        fprintf(stderr, "beanbag bench --serve: no memory for the bandwidth buffer\n");
    bb_pool_free(pool);
    if (p.mem_read_gbs > best->mem_read_gbs) best->mem_read_gbs = p.mem_read_gbs;
    if (p.int8_gops > best->int8_gops) best->int8_gops = p.int8_gops;
    if (p.fp32_gflops > best->fp32_gflops) best->fp32_gflops = p.fp32_gflops;
    return true;
}

int cmd_bench_serve(int argc, char **argv) {
    serve_opts o = {.prompt = 128, .gen = 64, .requests = 1, .step_tokens = 32, .batch = 128};
    bool done = false;
    int rc = parse(argc, argv, &o, &done);
    if (rc || done) {
        free(o.conc);
        return rc;
    }
    static const int32_t def_conc[] = {1, 2, 4, 8, 16, 32};
    if (!o.conc) {
        o.n_conc = 6;
        o.conc = malloc(sizeof def_conc);
        if (!o.conc) return 1;
        memcpy(o.conc, def_conc, sizeof def_conc);
    }
    if (!o.threads) o.threads = bb_cpu_count();
    if (!o.seq_len) o.seq_len = o.prompt + o.gen;
    int32_t max_c = 1;
    for (int i = 0; i < o.n_conc; i++)
        if (o.conc[i] > max_c) max_c = o.conc[i];
    if (o.batch < max_c) o.batch = max_c;
    double memory = mem_available();

    bb_error err = {0};
    rc = 1;
    bench_peaks peaks = {0};
    if (!measure_best(o.threads, &peaks, &err)) {
        fprintf(stderr, "beanbag bench --serve: %s\n", err.message);
        free(o.conc);
        return 1;
    }

    /* The pool holds every stream's whole sequence, so no run is preempted. */
    long long n_ctx = (long long)max_c * (o.prompt + o.gen + 16);
    if (n_ctx > (1 << 24)) {
        fprintf(stderr, "beanbag bench --serve: %lld cache tokens needed, more than 2^24\n", n_ctx);
        free(o.conc);
        return 2;
    }
    runtime rt;
    runtime_params rp = {.model_path = o.path,
                         .n_ctx = (int32_t)n_ctx,
                         .n_batch = o.batch,
                         .step_tokens = o.step_tokens,
                         .n_seq_max = max_c,
                         .n_threads = o.threads,
                         .max_queue = max_c};
    if (runtime_open(&rp, &rt, &err)) {
        fprintf(stderr, "beanbag bench --serve: %s\n", err.message);
        free(o.conc);
        return 1;
    }
    if (o.prompt + o.gen > rt.n_seq_ctx) {
        fprintf(stderr, "beanbag bench --serve: -p %d + -n %d exceed the model's context (%d)\n",
                o.prompt, o.gen, rt.n_seq_ctx);
        runtime_close(&rt);
        free(o.conc);
        return 2;
    }
    const bb_vocab *vocab = bb_model_vocab(rt.model);
    int32_t n_vocab = bb_model_n_vocab(rt.model);
    bb_logit_bias *bias = malloc((size_t)n_vocab * sizeof *bias);
    size_t n_bias = 0;
    for (int32_t t = 0; bias && t < n_vocab; t++)
        if (bb_vocab_is_eog(vocab, t)) bias[n_bias++] = (bb_logit_bias){t, -1e30f};
    engine_gen_params gp = {.sampling = bb_sampler_default_params(),
                            .n_choices = 1,
                            .max_tokens = o.gen,
                            .logprobs = true};
    gp.sampling.temperature = 0;
    gp.sampling.logit_bias = bias;
    gp.sampling.n_logit_bias = n_bias;

    level levels[MAX_LEVELS + 1];
    char error[sizeof err.message] = "";
    serve_opts solo = o;
    solo.requests = 1;
    /* a warm-up stream, then one alone for prefill speed: prompt tokens over its TTFT */
    bool ok = bias &&
              run_level(rt.engine, &gp, &solo, n_vocab, 1, 1, &levels[0], error, sizeof error) &&
              run_level(rt.engine, &gp, &solo, n_vocab, 1, 2, &levels[0], error, sizeof error);
    double prefill_tps = ok ? o.prompt / levels[0].ttft50 : 0;
    if (!o.json && ok)
        printf("model: %s, %d threads, prompt %d + %d generated per request, step budget %d\n"
               "prefill alone %.1f tokens/s\n\n"
               "| streams | tok/s | TTFT p50 s | TTFT p99 s | ITL p50 ms | ITL p99 ms |\n"
               "|---:|---:|---:|---:|---:|---:|\n",
               o.path, o.threads, o.prompt, o.gen, o.step_tokens, prefill_tps);
    int n_levels = 0;
    for (int i = 0; ok && i < o.n_conc; i++) {
        level *l = &levels[n_levels];
        ok = run_level(rt.engine, &gp, &o, n_vocab, o.conc[i], 100 + (uint64_t)i, l, error,
                       sizeof error);
        if (!ok) break;
        n_levels++;
        if (!o.json) {
            printf("| %d | %.1f | %.3f | %.3f | %.1f | %.1f |\n", l->conc, l->tps, l->ttft50,
                   l->ttft99, l->itl50, l->itl99);
            fflush(stdout);
        }
    }
    if (ok) ok = measure_best(o.threads, &peaks, &err);
    if (!ok) {
        fprintf(stderr, "beanbag bench --serve: %s\n",
                error[0]         ? error
                : err.message[0] ? err.message
                                 : "out of memory");
    } else {
        const char *name = bb_model_name(rt.model);
        const bb_hparams *hp = &rt.model->hp;
        /* the cache holds K and V of every layer in F16 */
        double kvb =
            2.0 * 2 * hp->n_layer * hp->n_head_kv * ((hp->head_dim_k + hp->head_dim_v) / 2.0);
        profile_out p = {.o = &o,
                         .model_name = name && name[0] ? name : o.path,
                         .weight_bytes = (double)bb_model_weight_bytes(rt.model),
                         .matmul_flops = bench_matmul_flops(rt.model),
                         .attn_flops = bench_attn_flops_per_key(rt.model),
                         .kv_bytes = kvb,
                         .int8 = int8_kernels(rt.model),
                         .peaks = peaks,
                         .threads = o.threads,
                         .memory = memory,
                         .prefill_tps = prefill_tps,
                         .levels = levels,
                         .n_levels = n_levels};
        double room = memory * 0.9 - p.weight_bytes;
        p.kv_sequences = room > 0 ? floor(room / (kvb * o.seq_len)) : 0;
        if (o.json)
            write_profile(stdout, &p);
        else
            printf("\nmachine (best of before and after): %.1f GB/s read, %.0f GOP/s int8, %.0f "
                   "GFLOP/s FP32\nKV cache: %.0f bytes per token; %.0f sequences of %d tokens fit "
                   "in 90 %% of "
                   "the %.1f GB available\n",
                   peaks.mem_read_gbs, peaks.int8_gops, peaks.fp32_gflops, kvb, p.kv_sequences,
                   o.seq_len, memory / 1e9);
        rc = 0;
        if (o.out) {
            FILE *f = fopen(o.out, "w");
            if (f) {
                write_profile(f, &p);
                fclose(f);
            } else {
                fprintf(stderr, "beanbag bench --serve: cannot write %s\n", o.out);
                rc = 1;
            }
        }
    }
    free(bias);
    runtime_close(&rt);
    free(o.conc);
    return rc;
}
