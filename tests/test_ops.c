/* ops module: the attention kernels (ops/attention.h) over a paged F16 cache.
 *
 *  1. the AVX2 kernel equals the scalar specification bit for bit;
 *  2. both match a double-precision naive softmax attention (on the same F16-rounded q);
 *  3. a (token, head) result is bitwise the same whatever the call computes with it: alone
 *     or in its group of query heads, split into other groups, in another physical block
 *     layout, as one token of a run of consecutive positions in one call (however long the
 *     run and wherever the token sits in it), or as one of many tokens spread over a thread
 *     pool. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/attention.h"
#include "ops/threadpool.h"
#include "quant/quant.h"
#include "testutil.h"

#define BLOCK 16
#define N_KV 2 /* KV heads interleaved in each cache cell, as in kv_cache.c */

static float frand(uint64_t *st) {
    return (float)((double)(tu_rand_u64(st) >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* A paged cache of n_cells cells of N_KV heads, its blocks handed out in shuffled order;
 * positions 0..n_pos-1 hold random rows, every other cell NaN (a kernel that read past
 * n_pos would show it). */
typedef struct cache {
    int dk, dv;
    int32_t n_pos;
    uint16_t *k, *v;
    int32_t *blocks;
    int n_blocks;
} cache;

static void cache_init(cache *c, int dk, int dv, int32_t n_pos, uint64_t seed) {
    uint64_t st = seed;
    c->dk = dk;
    c->dv = dv;
    c->n_pos = n_pos;
    c->n_blocks = (n_pos + BLOCK - 1) / BLOCK + 3; /* spare blocks, never used */
    size_t cells = (size_t)c->n_blocks * BLOCK;
    c->k = malloc(cells * N_KV * dk * sizeof *c->k);
    c->v = malloc(cells * N_KV * dv * sizeof *c->v);
    c->blocks = malloc((size_t)c->n_blocks * sizeof *c->blocks);
    for (size_t i = 0; i < cells * N_KV * dk; i++)
        c->k[i] = 0x7E00;
    for (size_t i = 0; i < cells * N_KV * dv; i++)
        c->v[i] = 0x7E00;
    for (int b = 0; b < c->n_blocks; b++)
        c->blocks[b] = b;
    for (int b = c->n_blocks - 1; b > 0; b--) {
        int o = (int)(tu_rand_u64(&st) % (uint64_t)(b + 1));
        int32_t t = c->blocks[b];
        c->blocks[b] = c->blocks[o];
        c->blocks[o] = t;
    }
    for (int32_t p = 0; p < n_pos; p++) {
        size_t cell = (size_t)c->blocks[p / BLOCK] * BLOCK + (size_t)(p % BLOCK);
        for (int i = 0; i < N_KV * dk; i++)
            c->k[cell * N_KV * dk + i] = bb_fp32_to_fp16(frand(&st));
        for (int i = 0; i < N_KV * dv; i++)
            c->v[cell * N_KV * dv + i] = bb_fp32_to_fp16(frand(&st));
    }
}

static void cache_free(cache *c) {
    free(c->k);
    free(c->v);
    free(c->blocks);
}

static bb_attn_kv cache_view(const cache *c, int kv_head) {
    return (bb_attn_kv){.k = c->k + (size_t)kv_head * c->dk,
                        .v = c->v + (size_t)kv_head * c->dv,
                        .k_stride = (size_t)N_KV * c->dk,
                        .v_stride = (size_t)N_KV * c->dv,
                        .blocks = c->blocks,
                        .block_len = BLOCK};
}

/* The sliding window and soft-cap the cases run with (0: off, as for most models). */
static int32_t g_window;
static float g_softcap;
static const float *g_sinks; /* per query head of a call */

static bb_attn_args make_args(const cache *c, int kv_head, int n_head, int32_t n_pos,
                              const float *q, float *out) {
    return (bb_attn_args){.n_head = n_head,
                          .window = g_window,
                          .softcap = g_softcap,
                          .sinks = g_sinks,
                          .head_dim_k = c->dk,
                          .head_dim_v = c->dv,
                          .n_tok = 1,
                          .n_pos = n_pos,
                          .scale = 1.0f / sqrtf((float)c->dk),
                          .q = q,
                          .q_stride = (size_t)c->dk,
                          .out = out,
                          .out_stride = (size_t)c->dv,
                          .kv = cache_view(c, kv_head)};
}

/* Naive attention in double of head h against the cache, on the half-rounded q. Also
 * returns in mag[i] the softmax-weighted sum of |v_i|, the scale a float sum's rounding
 * error is measured against (the output itself may cancel to near zero). */
static void naive(const cache *c, const bb_attn_args *a, int h, double *out, double *mag) {
    int dk = c->dk, dv = c->dv;
    double *s = malloc((size_t)a->n_pos * sizeof *s);
    const float *q = a->q + (size_t)h * a->q_stride;
    double mx = -INFINITY, sum = 0;
    int32_t lo = a->window > 0 && a->n_pos > a->window ? a->n_pos - a->window : 0;
    for (int32_t p = lo; p < a->n_pos; p++) {
        size_t cell = (size_t)a->kv.blocks[p / BLOCK] * BLOCK + (size_t)(p % BLOCK);
        const uint16_t *k = a->kv.k + cell * a->kv.k_stride;
        double d = 0;
        for (int i = 0; i < dk; i++)
            d += (double)bb_fp16_to_fp32(bb_fp32_to_fp16(q[i])) * (double)bb_fp16_to_fp32(k[i]);
        s[p] = d * a->scale;
        if (a->softcap > 0) s[p] = a->softcap * tanh(s[p] / a->softcap);
        if (s[p] > mx) mx = s[p];
    }
    for (int i = 0; i < dv; i++)
        out[i] = mag[i] = 0;
    for (int32_t p = lo; p < a->n_pos; p++) {
        size_t cell = (size_t)a->kv.blocks[p / BLOCK] * BLOCK + (size_t)(p % BLOCK);
        const uint16_t *v = a->kv.v + cell * a->kv.v_stride;
        double w = exp(s[p] - mx);
        sum += w;
        for (int i = 0; i < dv; i++) {
            out[i] += w * bb_fp16_to_fp32(v[i]);
            mag[i] += w * fabs(bb_fp16_to_fp32(v[i]));
        }
    }
    if (a->sinks) sum += exp(a->sinks[h] - mx); /* joins the denominator only */
    for (int i = 0; i < dv; i++) {
        out[i] /= sum;
        mag[i] /= sum;
    }
    free(s);
}

/* One (n_pos, head dims, group size, q magnitude) case through checks 1-3. */
static void test_case(int32_t n_pos, int dk, int dv, int group, float q_mag, uint64_t seed) {
    cache c;
    cache_init(&c, dk, dv, n_pos, seed);
    uint64_t st = seed * 7919 + 1;
    float *q = malloc((size_t)group * dk * sizeof *q);
    for (int i = 0; i < group * dk; i++)
        q[i] = frand(&st) * q_mag;
    size_t on = (size_t)group * dv;
    float *ref = malloc(on * sizeof *ref), *simd = malloc(on * sizeof *simd);
    float *solo = malloc(on * sizeof *solo), *alt = malloc(on * sizeof *alt);
    int kvh = (int)(seed % N_KV);
    bb_attn_args a = make_args(&c, kvh, group, n_pos, q, ref);
    bb_attention_ref(&a);

    /* 1. SIMD == scalar */
    bb_attention_fn avx2 = bb_attention_get("avx2");
    if (avx2) {
        a.out = simd;
        avx2(&a);
        CHECKF(memcmp(ref, simd, on * sizeof *ref) == 0,
               "avx2 != scalar: n_pos %d dk %d dv %d group %d", n_pos, dk, dv, group);
    }
    bb_attention_fn best = bb_attention_get(NULL);
    CHECK(best != NULL);

    /* 2. against double precision */
    double *dref = malloc((size_t)dv * sizeof *dref), *mag = malloc((size_t)dv * sizeof *mag);
    double worst = 0;
    a.out = ref;
    for (int h = 0; h < group; h++) {
        naive(&c, &a, h, dref, mag);
        for (int i = 0; i < dv; i++) {
            double e = fabs(ref[h * dv + i] - dref[i]) / mag[i];
            if (e > worst) worst = e;
        }
    }
    CHECKF(worst <= 1e-5, "n_pos %d dk %d dv %d group %d q*%g: relative error %.3g", n_pos, dk, dv,
           group, q_mag, worst);

    /* 3. the same (token, head) computed alone, or in another split of the group, or from
     * another physical layout of the same rows, with the best kernel and the scalar one */
    bb_attention_fn fns[2] = {best, bb_attention_ref};
    for (int f = 0; f < 2; f++) {
        a.out = alt;
        fns[f](&a);
        for (int h = 0; h < group; h++) {
            bb_attn_args one = make_args(&c, kvh, 1, n_pos, q + (size_t)h * dk, solo + h * dv);
            if (g_sinks) one.sinks = g_sinks + h;
            fns[f](&one);
        }
        CHECKF(memcmp(alt, solo, on * sizeof *alt) == 0, "group vs solo heads differ: group %d",
               group);
        if (group > 1) {
            int first = group / 2 + 1;
            bb_attn_args p1 = make_args(&c, kvh, first, n_pos, q, solo);
            bb_attn_args p2 = make_args(&c, kvh, group - first, n_pos, q + (size_t)first * dk,
                                        solo + (size_t)first * dv);
            if (g_sinks) p2.sinks = g_sinks + first;
            fns[f](&p1);
            if (group > first) fns[f](&p2);
            CHECKF(memcmp(alt, solo, on * sizeof *alt) == 0, "split group differs: group %d",
                   group);
        }
    }
    /* the same rows in a contiguous cache (no block table), one KV head per cell */
    uint16_t *kc = malloc((size_t)n_pos * dk * sizeof *kc), *vc = malloc((size_t)n_pos * dv * 2);
    for (int32_t p = 0; p < n_pos; p++) {
        size_t cell = (size_t)c.blocks[p / BLOCK] * BLOCK + (size_t)(p % BLOCK);
        memcpy(kc + (size_t)p * dk, a.kv.k + cell * a.kv.k_stride, (size_t)dk * 2);
        memcpy(vc + (size_t)p * dv, a.kv.v + cell * a.kv.v_stride, (size_t)dv * 2);
    }
    bb_attn_args flat = a;
    flat.kv = (bb_attn_kv){.k = kc, .v = vc, .k_stride = (size_t)dk, .v_stride = (size_t)dv};
    flat.out = solo;
    bb_attention_ref(&flat);
    CHECKF(memcmp(ref, solo, on * sizeof *ref) == 0, "contiguous layout differs");
    free(kc);
    free(vc);
    free(dref);
    free(mag);
    free(q);
    free(ref);
    free(simd);
    free(solo);
    free(alt);
    cache_free(&c);
}

/* A run of n_tok consecutive positions starting at n_pos0 in one call against the same
 * tokens one call each, with the scalar and the best kernel, and AVX2 == scalar on the run. */
static void test_run(int32_t n_pos0, int n_tok, int dk, int dv, int group, uint64_t seed) {
    cache c;
    cache_init(&c, dk, dv, n_pos0 + n_tok - 1, seed);
    uint64_t st = seed * 31 + 7;
    size_t qn = (size_t)n_tok * group * dk, on = (size_t)n_tok * group * dv;
    float *q = malloc(qn * sizeof *q), *run = malloc(on * sizeof *run);
    float *one = malloc(on * sizeof *one), *ref = malloc(on * sizeof *ref);
    for (size_t i = 0; i < qn; i++)
        q[i] = frand(&st) * 4;
    int kvh = (int)(seed % N_KV);
    bb_attention_fn fns[2] = {bb_attention_get(NULL), bb_attention_ref};
    for (int f = 0; f < 2; f++) {
        bb_attn_args a = make_args(&c, kvh, group, n_pos0, q, run);
        a.n_tok = n_tok;
        a.q_tok_stride = (size_t)group * dk;
        a.out_tok_stride = (size_t)group * dv;
        fns[f](&a);
        for (int u = 0; u < n_tok; u++) {
            bb_attn_args b = make_args(&c, kvh, group, n_pos0 + u, q + (size_t)u * group * dk,
                                       one + (size_t)u * group * dv);
            fns[f](&b);
        }
        CHECKF(memcmp(run, one, on * sizeof *run) == 0,
               "run of %d from n_pos %d differs from single tokens: group %d dk %d (kernel %d)",
               n_tok, n_pos0, group, dk, f);
        if (f == 1) {
            bb_attention_fn avx2 = bb_attention_get("avx2");
            if (avx2) {
                a.out = ref;
                avx2(&a);
                CHECKF(memcmp(run, ref, on * sizeof *run) == 0, "avx2 run != scalar run");
            }
        }
    }
    free(q);
    free(run);
    free(one);
    free(ref);
    cache_free(&c);
}

/* A prefill-like batch: every position 0..n-1 of one sequence as a token with n_pos = t + 1,
 * 8 query heads on each of the N_KV KV heads, run as (run of 4 tokens, KV head) tasks over a
 * pool of 2 threads, as the forward pass does, against the same tokens one call at a time. */
typedef struct batch_job {
    const cache *c;
    const float *q; /* token t, head h (of 8 * N_KV): q + (t * 8 * N_KV + h) * dk */
    float *out;
    bb_attention_fn fn;
    int run; /* tokens per task */
} batch_job;

static void batch_task(void *arg, int task, int thread) {
    (void)thread;
    batch_job *j = arg;
    int t = task / N_KV * j->run, g = task % N_KV, dk = j->c->dk, dv = j->c->dv;
    bb_attn_args a = make_args(j->c, g, 8, t + 1, j->q + ((size_t)t * 8 * N_KV + g * 8) * dk,
                               j->out + ((size_t)t * 8 * N_KV + g * 8) * dv);
    a.n_tok = j->c->n_pos - t < j->run ? j->c->n_pos - t : j->run;
    a.q_tok_stride = (size_t)8 * N_KV * dk;
    a.out_tok_stride = (size_t)8 * N_KV * dv;
    j->fn(&a);
}

static void test_batch(void) {
    int32_t n = 70;
    cache c;
    cache_init(&c, 64, 64, n, 99);
    uint64_t st = 5;
    size_t qn = (size_t)n * 8 * N_KV * 64;
    float *q = malloc(qn * sizeof *q), *o1 = malloc(qn * sizeof *o1), *o2 = malloc(qn * 4);
    for (size_t i = 0; i < qn; i++)
        q[i] = frand(&st) * 3;
    bb_pool *pool;
    bb_error err;
    CHECK(bb_pool_new(2, &pool, &err) == BB_OK);
    batch_job j = {.c = &c, .q = q, .out = o1, .fn = bb_attention_get(NULL), .run = 4};
    bb_pool_run(pool, batch_task, &j, (n + 3) / 4 * N_KV);
    j.out = o2;
    j.run = 1;
    for (int t = n - 1; t >= 0; t--) /* one token at a time, in another order */
        for (int g = 0; g < N_KV; g++)
            batch_task(&j, t * N_KV + g, 0);
    CHECK(memcmp(o1, o2, qn * sizeof *o1) == 0);
    bb_pool_free(pool);
    free(q);
    free(o1);
    free(o2);
    cache_free(&c);
}

int main(void) {
    CHECK(bb_attention_get("scalar") == bb_attention_ref);
    if (!bb_attention_get("avx2")) printf("SKIP: no AVX2 on this CPU, scalar kernel only\n");
    const int32_t n_pos[] = {1, 15, 16, 17, 100, 2049};
    const int dims[] = {64, 128};
    const int groups[] = {1, 4, 8};
    uint64_t seed = 1;
    for (size_t i = 0; i < sizeof n_pos / sizeof n_pos[0]; i++)
        for (size_t d = 0; d < 2; d++)
            for (size_t g = 0; g < 3; g++) {
                test_case(n_pos[i], dims[d], dims[d], groups[g], 1.0f, seed++);
                /* peaky softmax: the running maximum moves and rescales often */
                test_case(n_pos[i], dims[d], dims[d], groups[g], 8.0f, seed++);
            }
    /* head dims that are not whole 8-lane chunks, K and V of different widths, more query
     * heads than one pass of the kernel takes */
    test_case(33, 20, 12, 3, 2.0f, seed++);
    test_case(100, 32, 48, 12, 2.0f, seed++);
    test_case(17, 2, 1, 2, 1.0f, seed++);
    test_case(300, 256, 256, 16, 1.0f, seed++);
    /* runs: shorter than, equal to and longer than one pass (32 rows), from tile starts and
     * mid-tile, for groups that divide 32 and one that does not */
    const int run_len[] = {2, 3, 4, 5, 9, 32, 37};
    const int run_groups[] = {1, 3, 8};
    const int32_t run_start[] = {1, 14, 16, 130};
    for (size_t r = 0; r < sizeof run_len / sizeof run_len[0]; r++)
        for (size_t g = 0; g < 3; g++)
            for (size_t p = 0; p < 4; p++)
                test_run(run_start[p], run_len[r], 64, 64, run_groups[g], seed++);
    test_run(20, 7, 20, 12, 12, seed++);
    test_batch();
    /* sliding windows (shorter than, equal to and longer than the positions, ending
     * mid-tile and on tile edges) and soft-capped scores (Gemma 2), alone and together */
    const int32_t windows[] = {0, 1, 5, 16, 64, 96, 4096};
    const float caps[] = {0.0f, 8.0f, 50.0f};
    for (size_t wi = 0; wi < sizeof windows / sizeof windows[0]; wi++)
        for (size_t ci = 0; ci < 3; ci++) {
            if (wi == 0 && ci == 0) continue; /* all of the above */
            g_window = windows[wi];
            g_softcap = caps[ci];
            test_case(1, 64, 64, 4, 8.0f, seed++);
            test_case(17, 64, 64, 1, 8.0f, seed++);
            test_case(130, 48, 48, 2, 8.0f, seed++);
            test_case(301, 64, 64, 8, 8.0f, seed++);
            test_run(14, 37, 64, 64, 1, seed++);
            test_run(95, 9, 48, 48, 3, seed++);
            test_run(130, 32, 64, 64, 2, seed++);
        }
    /* attention sinks (gpt-oss): below, near and far above the scores, with windows */
    static const float sinks[16] = {-3.0f, 0.5f,  2.0f, 9.0f,  -40.0f, 1.0f, 0.0f,  30.0f,
                                    4.0f,  -1.0f, 6.0f, -8.0f, 0.25f,  3.0f, 12.0f, -2.0f};
    g_sinks = sinks;
    for (size_t wi = 0; wi < 3; wi++) {
        g_window = windows[wi];
        test_case(1, 64, 64, 4, 8.0f, seed++);
        test_case(130, 64, 64, 8, 8.0f, seed++);
        test_case(33, 20, 12, 3, 2.0f, seed++);
        test_run(14, 37, 64, 64, 1, seed++);
        test_run(95, 9, 64, 64, 2, seed++);
    }
    g_sinks = NULL;
    g_window = 40; /* a prefill batch through the pool, windowed and capped */
    g_softcap = 8.0f;
    test_batch();
    g_window = 0;
    g_softcap = 0.0f;
    return tu_finish("test_ops");
}
