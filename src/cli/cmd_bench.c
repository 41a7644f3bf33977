/* beanbag bench -m model.gguf [-p 256,2048] [-n 64] [-t 1,2] [-d 0,2048] [-r 3] [-o md|json]
 *
 * Prompt processing and generation speed in the manner of llama-bench: every (threads,
 * depth, test) combination is a row with the mean and sample standard deviation of tokens/s
 * over -r repetitions after one untimed warm-up. The same run measures the machine's limits
 * with the same thread counts (bench_peak.c), so that every row can be put against them:
 *
 * - prompt rows are compute-bound: GFLOP/s counts one multiply-add (2 FLOPs) per matrix
 *   weight and token, plus attention's QK and AV products for every key each query attends
 *   to (they grow with depth), as a fraction of the FP32 FMA and int8 multiply-add peaks;
 * - generation rows are memory-bound: decode streams every weight once per token, so
 *   weight_bytes x tokens/s, over the measured read bandwidth, is the roofline fraction.
 *
 * One context per thread count serves all its rows; n_ctx fits the deepest test, and n_batch
 * is the largest -p or -d capped at -b (2048 by default, llama-bench's n_batch), so a longer
 * prompt is decoded in n_batch chunks, as llama-bench does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "cli/args.h"
#include "cli/bench_peak.h"
#include "cli/commands.h"
#include "cli/model_ref.h"
#include "model/model.h"
#include "quant/quant.h"

#define MAX_TOKENS (1 << 16) /* -p, -n */
#define MAX_DEPTH (1 << 20)
#define DEFAULT_BATCH_CAP 2048

typedef struct bench_opts {
    const char *path;
    int32_t *prompts, *gens, *threads, *depths;
    int n_prompts, n_gens, n_threads, n_depths;
    int reps, batch_cap;
    bool json;
} bench_opts;

typedef struct bench_row {
    int threads, depth, n_prompt, n_gen;
    double mean, sd;
    double *samples; /* tokens/s of each repetition */
    const bench_peaks *peaks;
} bench_row;

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: beanbag bench -m model.gguf [options]\n"
        "\n"
        "Lists are comma-separated; every (threads, depth, test) combination is a row.\n"
        "  -p N[,N...]     prompt tests: tokens decoded in one batch (default 256; 0: none)\n"
        "  -n N[,N...]     generation tests: tokens decoded one at a time (default 64; 0: none)\n"
        "  -d N[,N...]     depth: tokens already in the KV cache before each test, prefilled\n"
        "                  untimed in n_batch chunks (default 0)\n"
        "  -t N[,N...]     threads (default: one per online CPU)\n"
        "  -r N            timed repetitions after one untimed warm-up (default 3);\n"
        "                  tokens/s is reported as mean +- sample standard deviation\n"
        "  -b N            largest batch one decode call carries (default 2048); n_batch is the\n"
        "                  largest -p or -d up to this, and longer prompts go in chunks\n"
        "  -o md|json      output format (default md: markdown tables)\n"
        "  --serve         the serving curve instead (beanbag bench --serve --help)\n"
        "  --json          same as -o json: one object with the model, the peaks per thread\n"
        "                  count and a results array (llama-bench's field names: n_prompt,\n"
        "                  n_gen, n_depth, n_threads, avg_ts, stddev_ts, samples_ts)\n"
        "\n"
        "Before the tests, for each thread count, a pool of that many threads measures\n"
        "memory read bandwidth (GB/s), an int8 multiply-add peak (vpmaddubsw; GOP/s, a\n"
        "multiply-add counting 2) and an FP32 FMA peak (GFLOP/s), about 0.25 s each. Prompt\n"
        "rows give GFLOP/s (2 per matrix weight and token, plus attention's QK and AV over\n"
        "every key attended) and its fraction of both peaks; generation rows give weight\n"
        "GB/s = bytes read per token x tokens/s and its fraction of the bandwidth (the\n"
        "roofline).\n");
}

static bool parse_list(const char *flag, const char *v, int32_t lo, int32_t hi, int32_t **list,
                       int *n) {
    int32_t *nv;
    int nn;
    if (!cli_int_list("bench", flag, v, lo, hi, &nv, &nn)) return false;
    free(*list);
    *list = nv;
    *n = nn;
    return true;
}

static bool one_value(int32_t **list, int *n, int32_t value) {
    if (!(*list = malloc(sizeof **list))) return false;
    **list = value;
    *n = 1;
    return true;
}

static void free_opts(bench_opts *o) {
    free(o->prompts);
    free(o->gens);
    free(o->threads);
    free(o->depths);
}

/* 0: parsed, otherwise the exit status (help: 0 through *done). */
static int parse_opts(int argc, char **argv, bench_opts *o, bool *done) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long long x;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            *done = true;
            return 0;
        }
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!(v = cli_value("bench", argc, argv, &i))) return 2;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            o->path = v;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
            if (!parse_list(a, v, 0, MAX_TOKENS, &o->prompts, &o->n_prompts)) return 2;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
            if (!parse_list(a, v, 0, MAX_TOKENS, &o->gens, &o->n_gens)) return 2;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--n-depth")) {
            if (!parse_list(a, v, 0, MAX_DEPTH, &o->depths, &o->n_depths)) return 2;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            if (!parse_list(a, v, 1, 1024, &o->threads, &o->n_threads)) return 2;
        } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            if (!cli_int("bench", a, v, 1, 1000, &x)) return 2;
            o->reps = (int)x;
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            if (!cli_int("bench", a, v, 1, MAX_TOKENS, &x)) return 2;
            o->batch_cap = (int)x;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (strcmp(v, "md") && strcmp(v, "json")) {
                fprintf(stderr, "beanbag bench: %s expects md or json, got '%s'\n", a, v);
                return 2;
            }
            o->json = !strcmp(v, "json");
        } else {
            fprintf(stderr, "beanbag bench: unknown option '%s'\n", a);
            return 2;
        }
    }
    if (!o->path) {
        fprintf(stderr, "beanbag bench: -m model.gguf is required\n");
        return 2;
    }
    if ((!o->prompts && !one_value(&o->prompts, &o->n_prompts, 256)) ||
        (!o->gens && !one_value(&o->gens, &o->n_gens, 64)) ||
        (!o->depths && !one_value(&o->depths, &o->n_depths, 0)) ||
        (!o->threads && !one_value(&o->threads, &o->n_threads, bb_cpu_count()))) {
        fprintf(stderr, "beanbag bench: out of memory\n");
        return 1;
    }
    return 0;
}

static int32_t list_max(const int32_t *v, int n) {
    int32_t m = 0;
    for (int i = 0; i < n; i++)
        if (v[i] > m) m = v[i];
    return m;
}

static uint64_t next_rand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* Decodes tokens [pos, pos + n) of sequence 0 in chunks of at most n_batch, random ids,
 * logits for the last one only. */
static bb_status decode_span(bb_context *ctx, bb_batch *b, int n_batch, int n_vocab, int pos, int n,
                             uint64_t *rng, bb_error *err) {
    for (int done = 0; done < n;) {
        int k = n - done < n_batch ? n - done : n_batch;
        bb_batch_clear(b);
        for (int i = 0; i < k; i++)
            bb_batch_add(b, (bb_token)(next_rand(rng) % (uint64_t)n_vocab), pos + done + i, 0,
                         done + i + 1 == n);
        bb_status st = bb_decode(ctx, b, err);
        if (st) return st;
        done += k;
    }
    return BB_OK;
}

/* One run of a row: empty cache, untimed prefill of the depth, then the timed test.
 * Returns the test's tokens/s through *tps. */
static bb_status run_once(bb_context *ctx, bb_batch *b, int n_batch, int n_vocab,
                          const bench_row *r, uint64_t *rng, double *tps, bb_error *err) {
    bb_status st = bb_kv_seq_rm(ctx, 0, 0, -1, err);
    if (st || (st = decode_span(ctx, b, n_batch, n_vocab, 0, r->depth, rng, err))) return st;
    double t0 = bench_now_s();
    if (r->n_prompt > 0) {
        st = decode_span(ctx, b, n_batch, n_vocab, r->depth, r->n_prompt, rng, err);
    } else {
        for (int i = 0; i < r->n_gen && !st; i++)
            st = decode_span(ctx, b, 1, n_vocab, r->depth + i, 1, rng, err);
    }
    double dt = bench_now_s() - t0;
    *tps = (r->n_prompt > 0 ? r->n_prompt : r->n_gen) / (dt > 0 ? dt : 1e-9);
    return st;
}

static bb_status run_row(bb_context *ctx, bb_batch *b, int n_batch, int n_vocab, int reps,
                         bench_row *r, uint64_t *rng, bb_error *err) {
    double warm;
    bb_status st = run_once(ctx, b, n_batch, n_vocab, r, rng, &warm, err);
    for (int i = 0; i < reps && !st; i++)
        st = run_once(ctx, b, n_batch, n_vocab, r, rng, &r->samples[i], err);
    if (st) return st;
    double sum = 0, ss = 0;
    for (int i = 0; i < reps; i++)
        sum += r->samples[i];
    r->mean = sum / reps;
    for (int i = 0; i < reps; i++)
        ss += (r->samples[i] - r->mean) * (r->samples[i] - r->mean);
    r->sd = reps > 1 ? sqrt(ss / (reps - 1)) : 0;
    return BB_OK;
}

/* ---- output ---------------------------------------------------------------------------- */

typedef struct model_info {
    const char *path, *arch;
    uint64_t n_params, weight_bytes, repacked_bytes;
    int n_batch, n_ctx, reps;
    double matmul_flops;   /* per token: 2 x the weights of every matrix a token goes through */
    double attn_flops_key; /* per query and key attended: QK and AV over all heads and layers */
} model_info;

/* FLOPs of the matrix products per token, from the matrices themselves: n_params would also
 * count the embedding table (a row lookup, no arithmetic) and the norm vectors. */
double bench_matmul_flops(const bb_model *m) {
    double n = (double)m->output.n_in * (double)m->output.n_out;
    for (uint32_t il = 0; il < m->hp.n_layer; il++) {
        const bb_layer *L = &m->layers[il];
        const bb_weight *w[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (int k = 0; k < 7; k++)
            n += (double)w[k]->n_in * (double)w[k]->n_out;
    }
    return 2 * n;
}

double bench_attn_flops_per_key(const bb_model *m) {
    const bb_hparams *hp = &m->hp;
    return 2.0 * hp->n_layer * hp->n_head * ((double)hp->head_dim_k + hp->head_dim_v);
}

/* Prompt rows: FLOP/s of the test. Causal attention: the query at position i attends to
 * i + 1 keys, so positions [depth, depth + n) attend to n x depth + n (n + 1) / 2. */
static double row_gflops(const model_info *mi, const bench_row *r, double *attn_share) {
    double n = r->n_prompt, keys = n * r->depth + n * (n + 1) / 2;
    double mm = mi->matmul_flops * n, attn = mi->attn_flops_key * keys;
    if (attn_share) *attn_share = attn / (mm + attn);
    return (mm + attn) / n * r->mean / 1e9;
}

static void test_name(const bench_row *r, char *out, size_t cap) {
    int k = snprintf(out, cap, "%s%d", r->n_prompt > 0 ? "pp" : "tg",
                     r->n_prompt > 0 ? r->n_prompt : r->n_gen);
    if (r->depth > 0 && k > 0 && (size_t)k < cap)
        snprintf(out + k, cap - (size_t)k, " @ d%d", r->depth);
}

static double ratio(double x, double peak) {
    return peak > 0 ? x / peak : 0;
}

static void print_json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void print_params(uint64_t n) {
    if (n >= 1000000000ull)
        printf("%.2f B", n / 1e9);
    else
        printf("%.2f M", n / 1e6);
}

static void print_md_header(const model_info *mi, const bench_opts *o, const bench_peaks *peaks) {
    printf("model: %s (%s, ", mi->path, mi->arch);
    print_params(mi->n_params);
    printf(" params, %.2f MiB of weights read per token, %.2f MiB repacked)\n",
           mi->weight_bytes / 1048576.0, mi->repacked_bytes / 1048576.0);
    printf("kernels: %s, peak loops: %s; n_batch %d, n_ctx %d; %d repetition%s after 1 warm-up\n",
           bb_cpu_level(), bench_peak_isa(), mi->n_batch, mi->n_ctx, mi->reps,
           mi->reps == 1 ? "" : "s");
    printf("\n| threads | mem read GB/s | int8 GOP/s | FP32 GFLOP/s |\n"
           "| ------: | ------------: | ---------: | -----------: |\n");
    for (int t = 0; t < o->n_threads; t++)
        printf("| %7d | %13.2f | %10.1f | %12.1f |\n", o->threads[t], peaks[t].mem_read_gbs,
               peaks[t].int8_gops, peaks[t].fp32_gflops);
    printf("\nGFLOP/s: %.3g FLOPs per token in matrix products (2 per weight) plus %.3g per "
           "key attended (QK and AV).\n"
           "\n| threads |            test |                  t/s | GFLOP/s | of FP32 peak | "
           "of int8 peak | weights GB/s | of bandwidth |\n"
           "| ------: | --------------: | -------------------: | ------: | -----------: | "
           "-----------: | -----------: | -----------: |\n",
           mi->matmul_flops, mi->attn_flops_key);
    fflush(stdout);
}

static void print_md_row(const model_info *mi, const bench_row *r) {
    char name[64], ts[64];
    test_name(r, name, sizeof name);
    snprintf(ts, sizeof ts, "%.2f ± %.2f", r->mean, r->sd);
    /* "±" is two bytes in UTF-8: 21 bytes fill the 20 columns of the header */
    printf("| %7d | %15s | %21s |", r->threads, name, ts);
    if (r->n_prompt > 0) {
        double gf = row_gflops(mi, r, NULL);
        printf(" %7.1f | %10.1f %% | %10.1f %% | %12s | %12s |\n", gf,
               100 * ratio(gf, r->peaks->fp32_gflops), 100 * ratio(gf, r->peaks->int8_gops), "-",
               "-");
    } else {
        double gbs = (double)mi->weight_bytes * r->mean / 1e9;
        printf(" %7s | %12s | %12s | %12.2f | %10.1f %% |\n", "-", "-", "-", gbs,
               100 * ratio(gbs, r->peaks->mem_read_gbs));
    }
    fflush(stdout);
}

static void print_json(const model_info *mi, const bench_opts *o, const bench_peaks *peaks,
                       const bench_row *rows, int n_rows) {
    printf("{\"model\": ");
    print_json_string(mi->path);
    printf(", \"arch\": ");
    print_json_string(mi->arch);
    printf(",\n \"n_params\": %llu, \"weight_bytes\": %llu, \"repacked_bytes\": %llu, "
           "\"cpu_level\": \"%s\", \"peak_isa\": \"%s\", \"n_batch\": %d, \"n_ctx\": %d, "
           "\"repetitions\": %d,\n \"matmul_flops_per_token\": %.0f, \"attn_flops_per_key\": %.0f, "
           "\"peaks\": [",
           (unsigned long long)mi->n_params, (unsigned long long)mi->weight_bytes,
           (unsigned long long)mi->repacked_bytes, bb_cpu_level(), bench_peak_isa(), mi->n_batch,
           mi->n_ctx, mi->reps, mi->matmul_flops, mi->attn_flops_key);
    for (int t = 0; t < o->n_threads; t++)
        printf("%s\n  {\"n_threads\": %d, \"mem_read_gbs\": %.3f, \"int8_gops\": %.2f, "
               "\"fp32_gflops\": %.2f}",
               t ? "," : "", o->threads[t], peaks[t].mem_read_gbs, peaks[t].int8_gops,
               peaks[t].fp32_gflops);
    printf("],\n \"results\": [");
    for (int i = 0; i < n_rows; i++) {
        const bench_row *r = &rows[i];
        char name[64];
        test_name(r, name, sizeof name);
        printf("%s\n  {\"test\": \"%s\", \"n_threads\": %d, \"n_depth\": %d, \"n_prompt\": %d, "
               "\"n_gen\": %d, \"avg_ts\": %.4f, \"stddev_ts\": %.4f, \"samples_ts\": [",
               i ? "," : "", name, r->threads, r->depth, r->n_prompt, r->n_gen, r->mean, r->sd);
        for (int k = 0; k < mi->reps; k++)
            printf("%s%.4f", k ? ", " : "", r->samples[k]);
        printf("],\n   \"mem_read_gbs\": %.3f, \"int8_gops\": %.2f, \"fp32_gflops\": %.2f",
               r->peaks->mem_read_gbs, r->peaks->int8_gops, r->peaks->fp32_gflops);
        if (r->n_prompt > 0) {
            double share, gf = row_gflops(mi, r, &share);
            printf(", \"gflops\": %.3f, \"attn_share\": %.4f, \"fp32_peak_ratio\": %.4f, "
                   "\"int8_peak_ratio\": %.4f}",
                   gf, share, ratio(gf, r->peaks->fp32_gflops), ratio(gf, r->peaks->int8_gops));
        } else {
            double gbs = (double)mi->weight_bytes * r->mean / 1e9;
            printf(", \"weight_gbs\": %.3f, \"roofline_ratio\": %.4f}", gbs,
                   ratio(gbs, r->peaks->mem_read_gbs));
        }
    }
    printf("]}\n");
}

/* ---- the command ------------------------------------------------------------------------ */

/* Rows in llama-bench's order: per thread count and depth, the prompt tests, then the
 * generation tests. Returns the count; rows[] and their samples are allocated here. */
static int plan_rows(const bench_opts *o, const bench_peaks *peaks, bench_row **out) {
    int per = 0;
    for (int i = 0; i < o->n_prompts; i++)
        per += o->prompts[i] > 0;
    for (int i = 0; i < o->n_gens; i++)
        per += o->gens[i] > 0;
    int n = per * o->n_threads * o->n_depths, k = 0;
    bench_row *rows = calloc(n ? (size_t)n : 1, sizeof *rows);
    if (!rows) return -1;
    for (int t = 0; t < o->n_threads; t++)
        for (int d = 0; d < o->n_depths; d++)
            for (int i = 0; i < o->n_prompts + o->n_gens; i++) {
                bool pp = i < o->n_prompts;
                int len = pp ? o->prompts[i] : o->gens[i - o->n_prompts];
                if (len == 0) continue;
                rows[k] = (bench_row){.threads = o->threads[t],
                                      .depth = o->depths[d],
                                      .n_prompt = pp ? len : 0,
                                      .n_gen = pp ? 0 : len,
                                      .peaks = &peaks[t]};
                if (!(rows[k++].samples = calloc((size_t)o->reps, sizeof(double)))) {
                    for (int j = 0; j < k; j++)
                        free(rows[j].samples);
                    free(rows);
                    return -1;
                }
            }
    *out = rows;
    return n;
}

int cmd_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--serve")) return cmd_bench_serve(argc, argv);
    bench_opts o = {.reps = 3, .batch_cap = DEFAULT_BATCH_CAP};
    bool done = false;
    int rc = parse_opts(argc, argv, &o, &done);
    if (rc || done) {
        free_opts(&o);
        return rc;
    }
    bb_error err = {0};
    bb_model *m = NULL;
    bb_context *ctx = NULL;
    bench_row *rows = NULL;
    int n_rows = 0;
    bb_batch b = {0};
    bb_model_params mp = bb_model_default_params();
    bench_peaks *peaks = calloc((size_t)o.n_threads, sizeof *peaks);
    if (!peaks) {
        fprintf(stderr, "beanbag bench: out of memory\n");
        free_opts(&o);
        return 1;
    }
    rc = 1;
    char mbuf[4096];
    if (!(o.path = cli_model_path("bench", o.path, mbuf, sizeof mbuf))) return 1;
    if (bb_model_load(o.path, &mp, &m, &err)) {
        fprintf(stderr, "beanbag bench: %s\n", err.message);
        goto out;
    }
    int32_t max_p = list_max(o.prompts, o.n_prompts), max_n = list_max(o.gens, o.n_gens);
    int32_t max_d = list_max(o.depths, o.n_depths);
    int n_batch = max_p > max_d ? max_p : max_d;
    if (n_batch > o.batch_cap) n_batch = o.batch_cap;
    if (n_batch < 1) n_batch = 1;
    model_info mi = {o.path,
                     bb_model_arch(m),
                     bb_model_n_params(m),
                     bb_model_weight_bytes(m),
                     bb_model_repacked_bytes(m),
                     n_batch,
                     max_d + (max_p > max_n ? max_p : max_n),
                     o.reps,
                     bench_matmul_flops(m),
                     bench_attn_flops_per_key(m)};
    if (mi.n_ctx < 1) mi.n_ctx = 1;

    /* the machine's limits first, for every thread count, so the tables can be printed as
     * rows complete */
    for (int t = 0; t < o.n_threads; t++) {
        bb_pool *pool;
        if (bb_pool_new(o.threads[t], &pool, &err)) {
            fprintf(stderr, "beanbag bench: %s\n", err.message);
            goto out;
        }
        if (!bench_measure_peaks(pool, &peaks[t]))
            fprintf(stderr, "beanbag bench: no memory for the bandwidth buffer\n");
        bb_pool_free(pool);
    }
    if ((n_rows = plan_rows(&o, peaks, &rows)) < 0 || !(b = bb_batch_new(n_batch)).capacity) {
        fprintf(stderr, "beanbag bench: out of memory\n");
        goto out;
    }
    if (!o.json) print_md_header(&mi, &o, peaks);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    int32_t n_vocab = bb_model_n_vocab(m);
    for (int i = 0; i < n_rows; i++) {
        if (!ctx || bb_context_n_threads(ctx) != rows[i].threads) {
            bb_context_free(ctx);
            ctx = NULL;
            bb_context_params cp = bb_context_default_params();
            cp.n_ctx = (uint32_t)mi.n_ctx;
            cp.n_batch = (uint32_t)n_batch;
            cp.n_threads = rows[i].threads;
            if (bb_context_new(m, &cp, &ctx, &err)) {
                fprintf(stderr, "beanbag bench: %s\n", err.message);
                goto out;
            }
        }
        if (run_row(ctx, &b, n_batch, n_vocab, o.reps, &rows[i], &rng, &err)) {
            fprintf(stderr, "beanbag bench: %s\n", err.message);
            goto out;
        }
        if (!o.json) print_md_row(&mi, &rows[i]);
    }
    if (o.json) print_json(&mi, &o, peaks, rows, n_rows);
    rc = 0;
out:
    for (int i = 0; i < n_rows; i++)
        free(rows[i].samples);
    free(rows);
    free(peaks);
    bb_batch_free(&b);
    bb_context_free(ctx);
    bb_model_free(m);
    free_opts(&o);
    return rc;
}
