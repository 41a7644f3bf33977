/* Tests for src/sample: parameter validation, greedy and each filter in isolation on crafted
 * distributions, penalties numerically (against a brute-force recount), seeded determinism
 * (also across threads), a chi-square check that draws follow the softmax, logprobs, and
 * NaN / -inf logits. All randomness comes from fixed seeds, so every assertion is
 * deterministic. */
#include "testutil.h"

#include "beanbag.h"
#include "grammar/grammar.h"
#include "sample/cands.h"
#include "sample/grammar.h"
#include "sample/penalty.h"
#include "sample/rng.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

/* Params with every filter and penalty off: plain softmax sampling at temperature 1. */
static bb_sampler_params plain_params(uint64_t seed) {
    bb_sampler_params p = bb_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    return p;
}

static bb_sampler *make(const bb_sampler_params *p, int32_t n_vocab) {
    bb_sampler *s = NULL;
    bb_error err = {0};
    bb_status st = bb_sampler_new(p, n_vocab, &s, &err);
    CHECKF(st == BB_OK, "bb_sampler_new: %s", err.message);
    return s;
}

static void random_logits(float *x, int n, float scale, uint64_t *state) {
    for (int i = 0; i < n; i++)
        x[i] = scale * tu_rand_uniform(state);
}

/* Draws n tokens and counts them per id in hist[n_vocab]. */
static void histogram(bb_sampler *s, const float *logits, int32_t n_vocab, int n, int *hist) {
    memset(hist, 0, (size_t)n_vocab * sizeof *hist);
    for (int i = 0; i < n; i++) {
        bb_token t = bb_sampler_sample(s, logits);
        CHECK(t >= 0 && t < n_vocab);
        if (t >= 0 && t < n_vocab) hist[t]++;
    }
}

static void test_defaults(void) {
    bb_sampler_params p = bb_sampler_default_params();
    CHECK(p.temperature == 0.8f && p.top_k == 40 && p.top_p == 0.95f && p.min_p == 0.05f);
    CHECK(p.repeat_penalty == 1.0f && p.repeat_last_n == 64);
    CHECK(p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f);
    CHECK(p.seed == UINT64_MAX && p.logit_bias == NULL && p.n_logit_bias == 0);
    bb_sampler *s = make(&p, 100);
    float logits[100];
    uint64_t st = 5;
    random_logits(logits, 100, 4.0f, &st);
    for (int i = 0; i < 50; i++) {
        bb_token t = bb_sampler_sample(s, logits);
        CHECK(t >= 0 && t < 100);
    }
    bb_sampler_free(s);
    bb_sampler_free(NULL);
}

static void expect_invalid(const bb_sampler_params *p, int32_t n_vocab, const char *name) {
    bb_sampler *s = (bb_sampler *)&s; /* must be overwritten with NULL */
    bb_error err = {0};
    bb_status st = bb_sampler_new(p, n_vocab, &s, &err);
    CHECKF(st == BB_ERR_INVALID_ARGUMENT, "%s accepted", name);
    CHECKF(strstr(err.message, name) != NULL, "message '%s' does not name %s", err.message, name);
    CHECK(s == NULL);
    if (st == BB_OK) bb_sampler_free(s);
}

static void test_validation(void) {
    bb_sampler_params p = bb_sampler_default_params();
    expect_invalid(&p, 0, "n_vocab");
    expect_invalid(&p, -5, "n_vocab");
    const float bad_temp[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        p = bb_sampler_default_params();
        p.temperature = bad_temp[i];
        expect_invalid(&p, 10, "temperature");
    }
    const float bad_unit[] = {-0.1f, 1.5f, NAN};
    for (int i = 0; i < 3; i++) {
        p = bb_sampler_default_params();
        p.top_p = bad_unit[i];
        expect_invalid(&p, 10, "top_p");
        p = bb_sampler_default_params();
        p.min_p = bad_unit[i];
        expect_invalid(&p, 10, "min_p");
    }
    const float bad_rep[] = {0.0f, -1.0f, NAN, INFINITY};
    for (int i = 0; i < 4; i++) {
        p = bb_sampler_default_params();
        p.repeat_penalty = bad_rep[i];
        expect_invalid(&p, 10, "repeat_penalty");
    }
    p = bb_sampler_default_params();
    p.repeat_last_n = -2;
    expect_invalid(&p, 10, "repeat_last_n");
    p = bb_sampler_default_params();
    p.presence_penalty = NAN;
    expect_invalid(&p, 10, "presence_penalty");
    p = bb_sampler_default_params();
    p.frequency_penalty = INFINITY;
    expect_invalid(&p, 10, "frequency_penalty");

    bb_logit_bias bias[2] = {{1, 2.0f}, {10, 1.0f}};
    p = bb_sampler_default_params();
    p.logit_bias = bias;
    p.n_logit_bias = 2;
    expect_invalid(&p, 10, "logit_bias[1]");
    bias[1] = (bb_logit_bias){-1, 1.0f};
    expect_invalid(&p, 10, "logit_bias[1]");
    bias[1] = (bb_logit_bias){3, NAN};
    expect_invalid(&p, 10, "logit_bias[1]");
    p.logit_bias = NULL;
    expect_invalid(&p, 10, "logit_bias");

    bb_error err = {0};
    bb_sampler *s = NULL;
    CHECK(bb_sampler_new(NULL, 10, &s, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(bb_sampler_new(&p, 10, NULL, NULL) == BB_ERR_INVALID_ARGUMENT);

    /* Accepted edge values: negative temperature (greedy), top_p 0 (one token), min_p 1,
     * infinite biases (ban / force a token), whole-history penalties. */
    p = bb_sampler_default_params();
    p.temperature = -1.0f;
    p.top_p = 0.0f;
    p.min_p = 1.0f;
    p.repeat_last_n = -1;
    p.repeat_penalty = 1.3f;
    bb_logit_bias inf_bias[2] = {{0, -INFINITY}, {9, INFINITY}};
    p.logit_bias = inf_bias;
    p.n_logit_bias = 2;
    s = make(&p, 10);
    bb_sampler_free(s);
}

static void test_greedy(void) {
    bb_sampler_params p = plain_params(1);
    p.temperature = 0.0f;
    bb_sampler *s = make(&p, 6);
    float a[6] = {0.1f, 3.0f, -2.0f, 2.9f, 3.0f, 1.0f};
    CHECK(bb_sampler_sample(s, a) == 1); /* tie between 1 and 4: lowest id */
    float b[6] = {NAN, -1.0f, NAN, -0.5f, -INFINITY, -3.0f};
    CHECK(bb_sampler_sample(s, b) == 3); /* NaN is never picked */
    float c[6] = {-INFINITY, -INFINITY, NAN, -INFINITY, -INFINITY, -INFINITY};
    CHECK(bb_sampler_sample(s, c) == 0); /* nothing pickable: token 0 */
    float d[6] = {1.0f, INFINITY, 2.0f, INFINITY, 0.0f, 0.0f};
    CHECK(bb_sampler_sample(s, d) == 1);
    float e[6] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
    CHECK(bb_sampler_sample(s, e) == 0);
    CHECK(a[1] == 3.0f && isnan(b[0])); /* the caller's logits are untouched */
    bb_sampler_free(s);

    p.temperature = -0.5f; /* negative: greedy too */
    s = make(&p, 6);
    CHECK(bb_sampler_sample(s, a) == 1);
    bb_sampler_free(s);
}

/* top_k = 1 must agree with greedy on any logits, ties included. */
static void test_top_k_one(void) {
    enum { N = 500 };
    bb_sampler_params pg = plain_params(3), pk = plain_params(3);
    pg.temperature = 0.0f;
    pk.top_k = 1;
    pk.temperature = 1.7f;
    bb_sampler *g = make(&pg, N), *k = make(&pk, N);
    float logits[N];
    uint64_t st = 11;
    for (int round = 0; round < 50; round++) {
        random_logits(logits, N, 5.0f, &st);
        if (round % 2) /* quantize to force ties */
            for (int i = 0; i < N; i++)
                logits[i] = roundf(logits[i]);
        CHECK(bb_sampler_sample(g, logits) == bb_sampler_sample(k, logits));
    }
    bb_sampler_free(g);
    bb_sampler_free(k);
}

static void test_top_k(void) {
    enum { N = 50, DRAWS = 3000 };
    bb_sampler_params p = plain_params(7);
    p.top_k = 3;
    p.temperature = 5.0f; /* flatten so every survivor shows up */
    bb_sampler *s = make(&p, N);
    float logits[N];
    for (int i = 0; i < N; i++)
        logits[i] = (float)(i % 7) * 0.1f;
    /* best three: ids 6, 13, 20 (logit 0.6; ties resolved to the lowest ids) */
    int hist[N];
    histogram(s, logits, N, DRAWS, hist);
    int in_top = hist[6] + hist[13] + hist[20];
    CHECK(in_top == DRAWS);
    CHECK(hist[6] > 0 && hist[13] > 0 && hist[20] > 0);
    bb_sampler_free(s);

    /* top-k larger than the finite logits: -inf ones are still never drawn */
    p.top_k = 10;
    s = make(&p, N);
    for (int i = 0; i < N; i++)
        logits[i] = i % 10 == 0 ? (float)i : -INFINITY;
    histogram(s, logits, N, 500, hist);
    for (int i = 0; i < N; i++)
        if (i % 10) CHECK(hist[i] == 0);
    bb_sampler_free(s);
}

/* Tokens drawn from logits = log(prob) with the given params, as a bit set in seen. */
static void seen_set(const bb_sampler_params *p, const float *probs, int n, int draws, bool *seen) {
    float logits[16];
    for (int i = 0; i < n; i++)
        logits[i] = logf(probs[i]);
    bb_sampler *s = make(p, n);
    int hist[16];
    histogram(s, logits, n, draws, hist);
    for (int i = 0; i < n; i++)
        seen[i] = hist[i] > 0;
    bb_sampler_free(s);
}

static void test_top_p(void) {
    /* probabilities 0.5, 0.3, 0.15, 0.05 scattered over ids */
    const float probs[4] = {0.15f, 0.5f, 0.05f, 0.3f};
    bb_sampler_params p = plain_params(9);
    bool seen[4];
    p.top_p = 0.75f; /* 0.5 < 0.75 <= 0.8: keeps {0.5, 0.3} */
    seen_set(&p, probs, 4, 2000, seen);
    CHECK(seen[1] && seen[3] && !seen[0] && !seen[2]);
    p.top_p = 0.85f; /* adds 0.15 */
    seen_set(&p, probs, 4, 2000, seen);
    CHECK(seen[1] && seen[3] && seen[0] && !seen[2]);
    p.top_p = 0.4f; /* the first token alone reaches it */
    seen_set(&p, probs, 4, 500, seen);
    CHECK(seen[1] && !seen[0] && !seen[2] && !seen[3]);
    p.top_p = 0.0f; /* keeps one token */
    seen_set(&p, probs, 4, 500, seen);
    CHECK(seen[1] && !seen[0] && !seen[2] && !seen[3]);
    p.top_p = 1.0f; /* off */
    seen_set(&p, probs, 4, 4000, seen);
    CHECK(seen[0] && seen[1] && seen[2] && seen[3]);
    /* same after top-k (the sorted path): k = 3 renormalizes over 0.95 */
    p.top_k = 3;
    p.top_p = 0.8f; /* 0.5/0.95 = 0.526 < 0.8 <= 0.842 */
    seen_set(&p, probs, 4, 2000, seen);
    CHECK(seen[1] && seen[3] && !seen[0] && !seen[2]);
}

/* The bucketed nucleus over an unsorted list must keep exactly the tokens of a plain
 * sort-and-scan, on peaked, flat, tied and wide distributions. */
static void test_top_p_buckets(void) {
    enum { N = 20000 };
    static bb_cand a[N], b[N];
    static float logits[N];
    uint64_t st = 99;
    const float scales[] = {0.01f, 1.0f, 8.0f, 40.0f, 200.0f};
    const float ps[] = {0.1f, 0.5f, 0.9f, 0.95f, 0.999f};
    for (int si = 0; si < 5; si++) {
        for (int pi = 0; pi < 5; pi++) {
            int n = N - 997 * pi;
            random_logits(logits, n, scales[si], &st);
            if (pi == 2)
                for (int i = 0; i < n; i++)
                    logits[i] = roundf(logits[i] * 4.0f);
            for (int i = 0; i < n; i++)
                a[i] = b[i] = (bb_cand){logits[i], i};
            bb_cand_sort(b, (size_t)n);
            size_t na = bb_cand_top_p(a, (size_t)n, false, ps[pi]);
            size_t nb = bb_cand_top_p(b, (size_t)n, true, ps[pi]);
            CHECKF(na == nb, "scale %g p %g: %zu vs %zu", scales[si], ps[pi], na, nb);
            bb_cand_sort(a, na);
            bool same = na == nb;
            for (size_t i = 0; same && i < na; i++)
                same = a[i].id == b[i].id;
            CHECKF(same, "scale %g p %g: different nucleus", scales[si], ps[pi]);
        }
    }
}

static void test_min_p(void) {
    /* p_max 0.4; min_p 0.3 keeps p >= 0.12: {0.4, 0.25, 0.15}, drops 0.1, 0.06, 0.04 */
    const float probs[6] = {0.06f, 0.25f, 0.1f, 0.4f, 0.04f, 0.15f};
    bb_sampler_params p = plain_params(13);
    p.min_p = 0.3f;
    bool seen[6];
    seen_set(&p, probs, 6, 3000, seen);
    CHECK(seen[1] && seen[3] && seen[5] && !seen[0] && !seen[2] && !seen[4]);
    p.min_p = 1.0f; /* only the max */
    seen_set(&p, probs, 6, 500, seen);
    CHECK(seen[3] && !seen[0] && !seen[1] && !seen[2] && !seen[4] && !seen[5]);
    p.min_p = 0.0f; /* off */
    seen_set(&p, probs, 6, 4000, seen);
    CHECK(seen[0] && seen[1] && seen[2] && seen[3] && seen[4] && seen[5]);
}

/* Pearson's chi-square of draw counts against expected probabilities. */
static double chi_square(const int *hist, const double *expect, int n, int draws) {
    double chi = 0.0;
    for (int i = 0; i < n; i++) {
        double e = expect[i] * draws, d = hist[i] - e;
        chi += d * d / e;
    }
    return chi;
}

static void test_distribution(void) {
    enum { N = 5, DRAWS = 20000 };
    const double q[N] = {0.35, 0.25, 0.2, 0.15, 0.05};
    float logits[N];
    for (int i = 0; i < N; i++)
        logits[i] = (float)log(q[i]) + 3.0f; /* shift-invariant */
    int hist[N];
    /* 4 degrees of freedom: P(chi2 > 18.47) = 0.001 */
    bb_sampler_params p = plain_params(2024);
    bb_sampler *s = make(&p, N);
    histogram(s, logits, N, DRAWS, hist);
    double chi = chi_square(hist, q, N, DRAWS);
    CHECKF(chi < 18.47, "temperature 1: chi2 %.2f", chi);
    bb_sampler_free(s);

    /* temperature 0.5 squares the probabilities before renormalizing */
    double q2[N], z = 0.0;
    for (int i = 0; i < N; i++)
        z += q2[i] = q[i] * q[i];
    for (int i = 0; i < N; i++)
        q2[i] /= z;
    p.temperature = 0.5f;
    p.top_k = 4; /* drops the 0.05 token; renormalize over the other four */
    s = make(&p, N);
    histogram(s, logits, N, DRAWS, hist);
    CHECK(hist[4] == 0);
    z = 1.0 - q2[4];
    double q3[N - 1];
    for (int i = 0; i < N - 1; i++)
        q3[i] = q2[i] / z;
    chi = chi_square(hist, q3, N - 1, DRAWS);
    CHECKF(chi < 16.27, "temperature 0.5, top-k 4: chi2 %.2f", chi); /* 3 dof, 0.001 */
    bb_sampler_free(s);
}

static void test_penalties_numeric(void) {
    bb_penalty *pen = NULL;
    bb_error err = {0};
    CHECK(bb_penalty_new(5, -1, 2.0f, 0.5f, 0.25f, &pen, &err) == BB_OK);
    bb_penalty_accept(pen, 0);
    bb_penalty_accept(pen, 0);
    bb_penalty_accept(pen, 1);
    bb_penalty_accept(pen, 7);  /* out of range: ignored */
    bb_penalty_accept(pen, -1); /* out of range: ignored */
    float x[5] = {2.0f, -2.0f, 1.0f, 0.5f, 0.0f};
    bb_penalty_apply(pen, x);
    CHECK(fabsf(x[0] - (2.0f / 2.0f - (2 * 0.5f + 0.25f))) < 1e-6f); /* -0.25 */
    CHECK(fabsf(x[1] - (-2.0f * 2.0f - (0.5f + 0.25f))) < 1e-6f);    /* -4.75 */
    CHECK(x[2] == 1.0f && x[3] == 0.5f && x[4] == 0.0f);
    bb_penalty_apply(pen, x); /* applying again penalizes again (no hidden state) */
    CHECK(fabsf(x[0] - (-0.25f * 2.0f - 1.25f)) < 1e-6f);
    bb_penalty_reset(pen);
    float y[5] = {2.0f, -2.0f, 1.0f, 0.5f, 0.0f};
    bb_penalty_apply(pen, y);
    CHECK(y[0] == 2.0f && y[1] == -2.0f);
    bb_penalty_free(pen);
}

/* A window's counts after many accepts must match a recount of the last `window` tokens. */
static void test_penalty_window(void) {
    enum { V = 40, STEPS = 3000 };
    const int32_t windows[] = {1, 7, 64, 500, -1};
    static bb_token hist[STEPS];
    for (int wi = 0; wi < 5; wi++) {
        int32_t w = windows[wi];
        bb_penalty *pen = NULL;
        CHECK(bb_penalty_new(V, w, 1.0f, 1.0f, 0.0f, &pen, NULL) == BB_OK);
        if (!pen) continue;
        uint64_t st = 77 + (uint64_t)wi;
        bool ok = true;
        for (int i = 0; i < STEPS; i++) {
            hist[i] = (bb_token)(tu_rand_u64(&st) % (i % 500 < 250 ? 5 : V));
            bb_penalty_accept(pen, hist[i]);
            if (i % 97 && i != STEPS - 1) continue;
            float x[V] = {0}, expect[V] = {0};
            bb_penalty_apply(pen, x);
            int from = w < 0 || i + 1 < w ? 0 : i + 1 - w;
            for (int j = from; j <= i; j++)
                expect[hist[j]] -= 1.0f;
            for (int v = 0; v < V; v++)
                ok = ok && x[v] == expect[v];
        }
        CHECKF(ok, "window %d: counts differ from a recount", w);
        bb_penalty_free(pen);
    }
}

static void test_penalties_in_chain(void) {
    bb_sampler_params p = plain_params(1);
    p.temperature = 0.0f;
    p.repeat_penalty = 1.1f;
    p.repeat_last_n = 2;
    bb_sampler *s = make(&p, 3);
    float x[3] = {2.0f, 1.9f, -5.0f};
    CHECK(bb_sampler_sample(s, x) == 0);
    bb_sampler_accept(s, 0); /* 2 / 1.1 = 1.82 < 1.9 */
    CHECK(bb_sampler_sample(s, x) == 1);
    bb_sampler_accept(s, 1);
    bb_sampler_accept(s, 1); /* 0 has left the two-token window */
    CHECK(bb_sampler_sample(s, x) == 0);
    bb_sampler_reset(s);
    CHECK(bb_sampler_sample(s, x) == 0);
    bb_sampler_free(s);

    p.repeat_penalty = 1.0f;
    p.presence_penalty = 0.05f;
    p.frequency_penalty = 0.1f;
    p.repeat_last_n = -1;
    s = make(&p, 3);
    for (int i = 0; i < 1000; i++)
        bb_sampler_accept(s, 2);
    bb_sampler_accept(s, 0); /* 2 - 0.15 < 1.9 */
    CHECK(bb_sampler_sample(s, x) == 1);
    bb_sampler_free(s);

    p.repeat_last_n = 0; /* off */
    s = make(&p, 3);
    bb_sampler_accept(s, 0);
    CHECK(bb_sampler_sample(s, x) == 0);
    bb_sampler_free(s);

    /* a penalty <1 on a huge logit overflows to inf, which stays pickable and finite */
    p.repeat_penalty = 0.5f;
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.0f;
    p.repeat_last_n = 4;
    p.temperature = 1.0f;
    s = make(&p, 3);
    float big[3] = {FLT_MAX, 0.0f, -1.0f};
    bb_sampler_accept(s, 0);
    CHECK(bb_sampler_sample(s, big) == 0);
    bb_sampler_free(s);
}

static void test_logit_bias(void) {
    bb_logit_bias bias[3] = {{3, 10.0f}, {1, -INFINITY}, {3, 1.0f}};
    bb_sampler_params p = plain_params(1);
    p.temperature = 0.0f;
    p.logit_bias = bias;
    p.n_logit_bias = 2;
    bb_sampler *s = make(&p, 5);
    bias[0].bias = -100.0f; /* the sampler keeps its own copy */
    float x[5] = {1.0f, 5.0f, 0.0f, -4.0f, 2.0f};
    CHECK(bb_sampler_sample(s, x) == 3); /* -4 + 10 = 6 beats 5, and 1 is banned anyway */
    bb_sampler_free(s);

    bias[0].bias = 10.0f;
    p.n_logit_bias = 3; /* repeated entries add up */
    p.temperature = 1.0f;
    float y[5] = {0.0f, 20.0f, 0.0f, 9.5f, 0.0f};
    s = make(&p, 5);
    int hist[5];
    histogram(s, y, 5, 300, hist);
    CHECK(hist[1] == 0 && hist[3] > 290);
    bb_sampler_free(s);
}

static void run_sequence(uint64_t seed, int n_steps, bb_token *out) {
    enum { V = 2000 };
    bb_sampler_params p = bb_sampler_default_params();
    p.seed = seed;
    p.temperature = 1.2f;
    p.repeat_penalty = 1.1f;
    bb_sampler *s = make(&p, V);
    static _Thread_local float logits[V];
    uint64_t st = 4242;
    for (int i = 0; i < n_steps; i++) {
        random_logits(logits, V, 3.0f, &st);
        out[i] = bb_sampler_sample(s, logits);
        bb_sampler_accept(s, out[i]);
    }
    bb_sampler_free(s);
}

enum { SEQ = 200 };
static bb_token thread_seq[SEQ];
static void *thread_main(void *arg) {
    run_sequence(*(uint64_t *)arg, SEQ, thread_seq);
    return NULL;
}

static void test_determinism(void) {
    static bb_token a[SEQ], b[SEQ], c[SEQ];
    run_sequence(12345, SEQ, a);
    run_sequence(12345, SEQ, b);
    run_sequence(12346, SEQ, c);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    uint64_t seed = 12345;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, thread_main, &seed) == 0);
    pthread_join(th, NULL);
    CHECK(memcmp(a, thread_seq, sizeof a) == 0);

    /* reset replays a fixed seed's stream */
    bb_sampler_params p = plain_params(555);
    bb_sampler *s = make(&p, 64);
    float logits[64];
    uint64_t st = 1;
    random_logits(logits, 64, 1.0f, &st);
    bb_token first[50], again[50];
    for (int i = 0; i < 50; i++)
        first[i] = bb_sampler_sample(s, logits);
    bb_sampler_reset(s);
    for (int i = 0; i < 50; i++)
        again[i] = bb_sampler_sample(s, logits);
    CHECK(memcmp(first, again, sizeof first) == 0);
    bb_sampler_free(s);

    /* the generator itself: splitmix64-seeded xoshiro256**, uniform in [0, 1) */
    bb_rng r1, r2;
    bb_rng_seed(&r1, 0);
    bb_rng_seed(&r2, 0);
    double sum = 0.0;
    bool in_range = true;
    for (int i = 0; i < 10000; i++) {
        double u = bb_rng_uniform(&r1);
        in_range = in_range && u >= 0.0 && u < 1.0;
        sum += u;
    }
    CHECK(in_range && fabs(sum / 10000 - 0.5) < 0.01);
    for (int i = 0; i < 10000; i++)
        bb_rng_next(&r2);
    CHECK(bb_rng_next(&r1) == bb_rng_next(&r2));
    CHECK(bb_rng_clock_seed() != bb_rng_clock_seed());
}

static void test_logprobs(void) {
    enum { N = 1000 };
    static float logits[N];
    uint64_t st = 31;
    random_logits(logits, N, 10.0f, &st);
    for (int i = 0; i < N; i++)
        logits[i] += 5000.0f; /* stability under a large offset */
    double sum = 0.0;
    for (int i = 0; i < N; i++)
        sum += exp((double)bb_logprob(logits, N, i));
    CHECKF(fabs(sum - 1.0) < 1e-4, "probabilities sum to %.6f", sum);

    bb_token ids[N];
    float lp[N];
    CHECK(bb_top_logprobs(logits, N, 0, ids, lp) == 0);
    CHECK(bb_top_logprobs(logits, N, -3, ids, lp) == 0);
    CHECK(bb_top_logprobs(logits, N, 5, ids, lp) == 5);
    bool ok = true;
    for (int i = 0; i < 5; i++) {
        ok = ok && fabsf(lp[i] - bb_logprob(logits, N, ids[i])) < 1e-5f;
        if (i) ok = ok && lp[i] <= lp[i - 1];
    }
    CHECK(ok);
    int best = 0;
    for (int i = 1; i < N; i++)
        best = logits[i] > logits[best] ? i : best;
    CHECK(ids[0] == best);
    CHECK(bb_top_logprobs(logits, N, 5000, ids, lp) == N);
    sum = 0.0;
    for (int i = 0; i < N; i++)
        sum += exp((double)lp[i]);
    CHECK(fabs(sum - 1.0) < 1e-4);

    float small[4] = {0.0f, NAN, 0.0f, -INFINITY};
    CHECK(fabsf(bb_logprob(small, 4, 0) - logf(0.5f)) < 1e-6f);
    CHECK(bb_logprob(small, 4, 1) == -INFINITY);
    CHECK(bb_logprob(small, 4, 3) == -INFINITY);
    CHECK(bb_logprob(small, 4, 4) == -INFINITY);
    CHECK(bb_logprob(small, 4, -1) == -INFINITY);
    CHECK(bb_logprob(small, 0, 0) == -INFINITY);
    CHECK(bb_top_logprobs(small, 4, 4, ids, lp) == 4);
    CHECK(ids[0] == 0 && ids[1] == 2 && lp[2] == -INFINITY && lp[3] == -INFINITY);
    float dead[2] = {-INFINITY, NAN};
    CHECK(bb_logprob(dead, 2, 0) == -INFINITY);
}

static void test_never_pick_impossible(void) {
    enum { N = 300 };
    float logits[N];
    for (int i = 0; i < N; i++)
        logits[i] = i % 3 == 0 ? (float)(i % 5) : (i % 3 == 1 ? NAN : -INFINITY);
    const int32_t ks[] = {0, 5, 150};
    const float ps[] = {1.0f, 0.9f, 1.0f};
    int hist[N];
    for (int c = 0; c < 3; c++) {
        bb_sampler_params p = plain_params(8);
        p.temperature = 50.0f;
        p.top_k = ks[c];
        p.top_p = ps[c];
        bb_sampler *s = make(&p, N);
        histogram(s, logits, N, 2000, hist);
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += i % 3 ? hist[i] : 0;
        CHECKF(bad == 0, "top_k %d: %d draws of NaN/-inf tokens", ks[c], bad);
        float dead[N];
        for (int i = 0; i < N; i++)
            dead[i] = -INFINITY;
        CHECK(bb_sampler_sample(s, dead) == 0);
        bb_sampler_free(s);
    }
}

static void test_top_select(void) {
    enum { N = 5000 };
    static float logits[N];
    static bb_cand top[N], all[N];
    uint64_t st = 17;
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < N; i++)
            logits[i] = roundf(tu_rand_uniform(&st) * 30.0f);
        if (round == 3) logits[7] = NAN;
        for (int i = 0; i < N; i++)
            all[i] = (bb_cand){isnan(logits[i]) ? -INFINITY : logits[i], i};
        bb_cand_sort(all, N);
        const size_t ks[] = {1, 40, 1000, N};
        for (int k = 0; k < 4; k++) {
            CHECK(bb_cand_top(logits, N, ks[k], top) == ks[k]);
            bool same = true;
            for (size_t i = 0; i < ks[k]; i++)
                same = same && top[i].id == all[i].id;
            CHECKF(same, "top %zu differs from a full sort", ks[k]);
        }
    }
}

/* Large vocabulary: every path must stay fast (timings are printed, not asserted). */
static void test_large_vocab(void) {
    enum { V = 256000, STEPS = 10 };
    float *logits = malloc(V * sizeof *logits);
    uint64_t st = 123;
    random_logits(logits, V, 8.0f, &st);
    struct {
        const char *name;
        int32_t top_k;
        float top_p, min_p, temp;
    } cfg[] = {{"default", 40, 0.95f, 0.05f, 0.8f},
               {"top-p only", 0, 0.95f, 0.0f, 1.0f},
               {"min-p only", 0, 1.0f, 0.05f, 1.0f},
               {"greedy", 40, 0.95f, 0.05f, 0.0f}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        bb_sampler_params p = bb_sampler_default_params();
        p.seed = 1;
        p.top_k = cfg[c].top_k;
        p.top_p = cfg[c].top_p;
        p.min_p = cfg[c].min_p;
        p.temperature = cfg[c].temp;
        p.repeat_penalty = 1.1f;
        bb_sampler *s = make(&p, V);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < STEPS; i++) {
            bb_token t = bb_sampler_sample(s, logits);
            CHECK(t >= 0 && t < V);
            bb_sampler_accept(s, t);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
        printf("n_vocab %d, %-10s: %.3f ms per sample\n", V, cfg[c].name, ms / STEPS);
        bb_sampler_free(s);
    }
    free(logits);
}

/* The grammar mask in the chain: greedy and sampled picks stay inside the grammar even when the
 * best logits are outside it, a single allowed token is forced, end-of-generation comes exactly
 * when the sentence is complete, a fixed seed replays the same constrained draws, and a grammar
 * no token can continue is reported. Vocabulary: single letters, "ab", digits, ".", EOS. */
static void test_grammar_mask(void) {
    const char *pieces[] = {"a", "b", "c", "ab", "1", "2", ".", "", "zz"};
    size_t lens[] = {1, 1, 1, 2, 1, 1, 1, 0, 2};
    bool eog[] = {false, false, false, false, false, false, false, true, false};
    const int32_t n = 9, EOS = 7;
    bb_grammar_vocab *tv = NULL;
    bb_error err = {0};
    CHECK(bb_grammar_vocab_from_pieces(n, pieces, lens, eog, &tv, &err) == BB_OK);
    const char *gbnf = "root ::= [ab]+ [12] \".\"\n";
    bb_grammar *g = NULL;
    CHECK(bb_grammar_parse_gbnf(gbnf, strlen(gbnf), NULL, &g, &err) == BB_OK);
    for (int mode = 0; mode < 2 && g && tv; mode++) {
        bb_sampler_params p = bb_sampler_default_params();
        p.temperature = mode == 0 ? 0.0f : 1.0f;
        p.top_k = 0;
        p.seed = 42;
        char out[2][64];
        for (int rep = 0; rep < 2; rep++) {
            bb_sampler *s = NULL;
            bb_grammar_matcher *m = NULL;
            CHECK(bb_sampler_new(&p, n, &s, &err) == BB_OK);
            CHECK(bb_grammar_matcher_new(g, tv, &m, &err) == BB_OK);
            bb_sampler_set_grammar(s, m);
            size_t len = 0;
            uint64_t x = 7;
            for (int step = 0; step < 40; step++) {
                float logits[9];
                for (int t = 0; t < n; t++) {
                    x = x * 6364136223846793005ull + 1442695040888963407ull;
                    logits[t] = (float)(x >> 40) / 16777216.0f;
                }
                logits[2] = 50.0f; /* "c", "zz" and EOS are the model's favourites */
                logits[8] = 49.0f;
                logits[EOS] = step < 5 ? 48.0f : -INFINITY;
                bb_token t = bb_sampler_sample(s, logits);
                CHECK(!bb_sampler_grammar_error(s));
                if (t == EOS) break;
                CHECKF(t != 2 && t != 8, "token %d is outside the grammar", t);
                memcpy(out[rep] + len, pieces[t], lens[t]);
                len += lens[t];
            }
            out[rep][len] = '\0';
            CHECKF(bb_sampler_grammar_done(s) && bb_grammar_accepts(g, out[rep], len),
                   "constrained output '%s'", out[rep]);
            bb_sampler_free(s);
        }
        CHECKF(!strcmp(out[0], out[1]), "replay: '%s' vs '%s'", out[0], out[1]);
    }
    /* A grammar the vocabulary cannot spell: the sampler says so. */
    bb_grammar *q = NULL;
    CHECK(bb_grammar_parse_gbnf("root ::= \"q\"", 12, NULL, &q, &err) == BB_OK);
    bb_sampler_params p = bb_sampler_default_params();
    bb_sampler *s = NULL;
    bb_grammar_matcher *m = NULL;
    if (q && tv && bb_sampler_new(&p, n, &s, &err) == BB_OK &&
        bb_grammar_matcher_new(q, tv, &m, &err) == BB_OK) {
        bb_sampler_set_grammar(s, m);
        float logits[9] = {0};
        bb_sampler_sample(s, logits);
        CHECK(bb_sampler_grammar_error(s) && strstr(bb_sampler_grammar_error(s), "no token"));
    }
    bb_sampler_free(s);
    bb_grammar_unref(q);
    bb_grammar_unref(g);
    bb_grammar_vocab_free(tv);
}

int main(void) {
    test_defaults();
    test_validation();
    test_greedy();
    test_top_k_one();
    test_top_k();
    test_top_p();
    test_top_p_buckets();
    test_min_p();
    test_distribution();
    test_penalties_numeric();
    test_penalty_window();
    test_penalties_in_chain();
    test_logit_bias();
    test_determinism();
    test_logprobs();
    test_never_pick_impossible();
    test_top_select();
    test_large_vocab();
    test_grammar_mask();
    return tu_finish("test_sample");
}
