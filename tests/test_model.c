/*
 * Model tests: the forward pass against
 *  1. an independent scalar reference forward pass in double precision (written here from the
 *     papers, over weights dequantized by the reference kernels) on generated fixtures of each
 *     architecture (Gemma's as llama.cpp reads the GGUF: see ../shared/testdata/models-ext);
 *  2. llama.cpp's logits for the models in ../shared/testdata/models (when present);
 * plus batch invariance (a token's logits are bit-identical whether its prompt runs as one
 * batch, token by token, or interleaved with another sequence), KV-cache truncation, and
 * rejection of malformed batches.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>

#include "beanbag.h"
#include "model_fixture.h"

/* ------------------------------------------------------------ reference forward pass */

typedef struct ref_model {
    fixture_spec s;
    int hd;
    gguf_file *f;
} ref_model;

static double *ref_tensor(const ref_model *r, const char *name) {
    const gguf_tensor *t = gguf_find_tensor(r->f, name);
    if (!t) return NULL;
    size_t n = (size_t)(t->ne[0] * t->ne[1] * t->ne[2]);
    float *tmp = malloc(n * sizeof *tmp);
    bb_type_get_ref((int)t->type)->to_float(t->data, tmp, (int64_t)n);
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = tmp[i];
    free(tmp);
    return d;
}

static void ref_rmsnorm(double *y, const double *x, const double *w, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += x[i] * x[i];
    double sc = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++)
        y[i] = x[i] * sc * (w ? w[i] : 1.0);
}

static void ref_matvec(double *y, const double *W, const double *x, int n_in, int n_out) {
    for (int r = 0; r < n_out; r++) {
        double s = 0;
        for (int i = 0; i < n_in; i++)
            s += W[(size_t)r * n_in + i] * x[i];
        y[r] = s;
    }
}

/* factor: pair i's angle divided by factor[i] (NULL: 1); mscale multiplies cos and sin;
 * yarn > 0: YaRN with that factor over the original context yarn_ctx (Peng et al. 2023, the
 * ramp over rotary pairs as ggml draws it: between the dimensions that turn 32 and 1 times
 * over the original context), which multiplies cos and sin by 1 + 0.1 ln(factor) too */
static void ref_rope(double *x, int hd, int pos, bool neox, double base, const double *factor,
                     double mscale, double yarn, int yarn_ctx) {
    double lo = 0, hi = 0;
    if (yarn > 0) {
        lo = fmax(0, floor(hd * log(yarn_ctx / (2 * M_PI * 32)) / (2 * log(base))));
        hi = fmin(hd - 1, ceil(hd * log(yarn_ctx / (2 * M_PI * 1)) / (2 * log(base))));
        mscale *= 1 + 0.1 * log(yarn);
    }
    for (int i = 0; i < hd / 2; i++) {
        double th = pos * pow(base, -2.0 * i / hd);
        if (factor) th /= factor[i];
        if (yarn > 0) {
            double r = 1 - fmin(1, fmax(0, (i - lo) / fmax(0.001, hi - lo)));
            th = th / yarn * (1 - r) + th * r;
        }
        int a = neox ? i : 2 * i, b = neox ? i + hd / 2 : 2 * i + 1;
        double x0 = x[a], x1 = x[b], c = cos(th) * mscale, sn = sin(th) * mscale;
        x[a] = x0 * c - x1 * sn;
        x[b] = x0 * sn + x1 * c;
    }
}

/* Rows r0..r0+n-1 of an n_in-wide matrix (a part of a fused one), copied. */
static double *ref_rows(const double *w, int n_in, int r0, int n) {
    double *o = malloc((size_t)n * n_in * sizeof *o);
    memcpy(o, w + (size_t)r0 * n_in, (size_t)n * n_in * sizeof *o);
    return o;
}

/* One SwiGLU FFN of width F: o = down(silu(gate x) * up x); with biases (gpt-oss, bg
 * non-NULL) o = down(act) + bd, act = g sigmoid(1.702 g) (u + 1), g = min(gate x + bg, 7),
 * u = clamp(up x + bu, -7, 7). */
static void ref_swiglu_ffn(double *o, const double *x, const double *wg, const double *wu,
                           const double *wd, int E, int F, const double *bg, const double *bu,
                           const double *bd) {
    double *g = malloc((size_t)F * sizeof *g), *u = malloc((size_t)F * sizeof *u);
    ref_matvec(g, wg, x, E, F);
    ref_matvec(u, wu, x, E, F);
    for (int i = 0; i < F; i++) {
        if (bg) {
            double a = fmin(g[i] + bg[i], 7), b = fmin(fmax(u[i] + bu[i], -7), 7);
            g[i] = a / (1 + exp(-1.702 * a)) * (b + 1);
        } else {
            g[i] = g[i] / (1 + exp(-g[i])) * u[i];
        }
    }
    ref_matvec(o, wd, g, F, E);
    for (int i = 0; bd && i < E; i++)
        o[i] += bd[i];
    free(g), free(u);
}

/* A mixture-of-experts FFN (Mixtral, Qwen-MoE): softmax over the router logits, the top k,
 * weights renormalized over them except for qwen2moe, which adds its shared expert times
 * sigmoid(gate_inp_shexp . x). */
static void ref_moe(const fixture_spec *s, double *o, const double *x, const double *rt,
                    const double *ge, const double *ue, const double *de, const double *sgi,
                    const double *sg, const double *su, const double *sd, const double *rb,
                    const double *gb, const double *ub, const double *db) {
    int E = s->n_embd, NE = FIXTURE_EXPERTS;
    bool mixtral = !strcmp(s->arch, "mixtral"), qwen2moe = !strcmp(s->arch, "qwen2moe");
    int k = FIXTURE_EXPERTS_USED + qwen2moe, F = mixtral ? s->n_ff : s->n_ff / 2;
    double p[FIXTURE_EXPERTS], mx = -1e300, sum = 0, wsum = 0;
    ref_matvec(p, rt, x, E, NE);
    for (int e = 0; rb && e < NE; e++)
        p[e] += rb[e]; /* gpt-oss: top k of these, then softmax over the k alone */
    for (int e = 0; e < NE; e++)
        mx = fmax(mx, p[e]);
    for (int e = 0; e < NE; e++)
        sum += (p[e] = exp(p[e] - mx));
    int sel[FIXTURE_EXPERTS];
    bool used[FIXTURE_EXPERTS] = {0};
    for (int j = 0; j < k; j++) {
        int b = -1;
        for (int e = 0; e < NE; e++)
            if (!used[e] && (b < 0 || p[e] > p[b])) b = e;
        used[b] = true;
        sel[j] = b;
        wsum += p[b] / sum;
    }
    double *y = malloc((size_t)E * sizeof *y);
    for (int i = 0; i < E; i++)
        o[i] = 0;
    for (int j = 0; j < k; j++) {
        int e = sel[j];
        double w = p[e] / sum / (qwen2moe ? 1.0 : wsum);
        ref_swiglu_ffn(y, x, ge + (size_t)e * F * E, ue + (size_t)e * F * E, de + (size_t)e * E * F,
                       E, F, gb ? gb + (size_t)e * F : NULL, ub ? ub + (size_t)e * F : NULL,
                       db ? db + (size_t)e * E : NULL);
        for (int i = 0; i < E; i++)
            o[i] += w * y[i];
    }
    if (qwen2moe) {
        double gl;
        ref_matvec(&gl, sgi, x, E, 1);
        ref_swiglu_ffn(y, x, sg, su, sd, E, s->n_ff, NULL, NULL, NULL);
        for (int i = 0; i < E; i++)
            o[i] += y[i] / (1 + exp(-gl));
    }
    free(y);
}

/* Logits after each of the n tokens (n x n_vocab), recomputing attention from scratch. */
static double *ref_forward(const ref_model *r, const int32_t *toks, int n) {
    const fixture_spec *s = &r->s;
    int E = s->n_embd, hd = r->hd, H = s->n_head, KV = s->n_head_kv, F = s->n_ff;
    bool neox = strcmp(s->arch, "llama") != 0 && strcmp(s->arch, "mixtral") != 0;
    bool gemma2 = !strcmp(s->arch, "gemma2"), gemma3 = !strcmp(s->arch, "gemma3");
    bool phi3 = !strcmp(s->arch, "phi3"), gptoss = !strcmp(s->arch, "gpt-oss");
    /* RoPE factors: Llama-3's 1..4 ramp, or Phi-3's short or long ones (the test context is
     * 128 positions: long iff that exceeds the original context) */
    double *rfac = NULL, mscale = 1.0;
    if (s->rope_freqs) {
        rfac = malloc((size_t)hd / 2 * sizeof *rfac);
        for (int i = 0; i < hd / 2; i++)
            rfac[i] = 1.0 + 3.0 * i / (hd / 2);
    }
    if (phi3) {
        rfac = ref_tensor(r, 128 > s->rope_orig_ctx ? "rope_factors_long.weight"
                                                    : "rope_factors_short.weight");
        mscale = 1.19f;
    }
    double yarn = !phi3 && s->rope_orig_ctx > 0 ? 4.0 : 0.0;
    double *emb = ref_tensor(r, "token_embd.weight");
    double *x = calloc((size_t)n * E, sizeof *x);
    for (int t = 0; t < n; t++)
        for (int i = 0; i < E; i++)
            x[t * E + i] = emb[(size_t)toks[t] * E + i] * (gemma2 || gemma3 ? sqrt(E) : 1.0);
    double *xn = malloc(E * sizeof *xn), *q = malloc((size_t)n * H * hd * sizeof *q);
    double *k = malloc((size_t)n * KV * hd * sizeof *k),
           *v = malloc((size_t)n * KV * hd * sizeof *v);
    double *att = malloc((size_t)H * hd * sizeof *att), *o = malloc(E * sizeof *o);
    double *g = malloc(F * sizeof *g), *u = malloc(F * sizeof *u), *sc = malloc(n * sizeof *sc);
    for (int l = 0; l < s->n_layer; l++) {
        char nm[96];
#define W(suffix) (snprintf(nm, sizeof nm, "blk.%d." suffix, l), ref_tensor(r, nm))
        double *an = W("attn_norm.weight"), *wq = W("attn_q.weight"), *wk = W("attn_k.weight");
        double *wv = W("attn_v.weight"), *wo = W("attn_output.weight"), *fn = W("ffn_norm.weight");
        double *wg = W("ffn_gate.weight"), *wu = W("ffn_up.weight"), *wd = W("ffn_down.weight");
        if (phi3) { /* rows [Q | K | V] and [gate | up] */
            double *qkv = W("attn_qkv.weight");
            wq = ref_rows(qkv, E, 0, H * hd);
            wk = ref_rows(qkv, E, H * hd, KV * hd);
            wv = ref_rows(qkv, E, (H + KV) * hd, KV * hd);
            wg = ref_rows(wu, E, 0, F);
            double *up = ref_rows(wu, E, F, F);
            free(qkv), free(wu);
            wu = up;
        }
        double *bq = W("attn_q.bias"), *bk = W("attn_k.bias"), *bv = W("attn_v.bias");
        double *qn = W("attn_q_norm.weight"), *kn = W("attn_k_norm.weight");
        double *pan = W("post_attention_norm.weight"), *pfn = W("post_ffw_norm.weight");
        double *rt = W("ffn_gate_inp.weight"), *ge = W("ffn_gate_exps.weight");
        double *ue = W("ffn_up_exps.weight"), *de = W("ffn_down_exps.weight");
        double *sgi = W("ffn_gate_inp_shexp.weight"), *sg = W("ffn_gate_shexp.weight");
        double *su = W("ffn_up_shexp.weight"), *sd = W("ffn_down_shexp.weight");
        double *bo = W("attn_output.bias"), *sinks = W("attn_sinks.weight");
        double *rb = W("ffn_gate_inp.bias"), *gb = W("ffn_gate_exps.bias");
        double *ub = W("ffn_up_exps.bias"), *db = W("ffn_down_exps.bias");
        if (gptoss) fn = pan, pan = NULL; /* its pre-FFN norm's name */
#undef W
        /* Gemma 2: even layers local; Gemma 3: all but every sixth, with RoPE base 1e4 */
        bool local = ((gemma2 || gptoss) && l % 2 == 0) || (gemma3 && (l + 1) % 6 != 0);
        int window = local ? s->sliding_window : 0;
        double base = s->rope_base > 0 ? s->rope_base : 1e4;
        if (gemma3 && local) base = 1e4;
        for (int t = 0; t < n; t++) {
            ref_rmsnorm(xn, x + t * E, an, E);
            double *qt = q + (size_t)t * H * hd, *kt = k + (size_t)t * KV * hd;
            double *vt = v + (size_t)t * KV * hd;
            ref_matvec(qt, wq, xn, E, H * hd);
            ref_matvec(kt, wk, xn, E, KV * hd);
            ref_matvec(vt, wv, xn, E, KV * hd);
            for (int i = 0; bq && i < H * hd; i++)
                qt[i] += bq[i];
            for (int i = 0; bk && i < KV * hd; i++)
                kt[i] += bk[i], vt[i] += bv[i];
            for (int h = 0; h < H; h++) {
                if (qn) ref_rmsnorm(qt + h * hd, qt + h * hd, qn, hd);
                ref_rope(qt + h * hd, hd, t, neox, base, rfac, mscale, yarn, s->rope_orig_ctx);
            }
            for (int h = 0; h < KV; h++) {
                if (kn) ref_rmsnorm(kt + h * hd, kt + h * hd, kn, hd);
                ref_rope(kt + h * hd, hd, t, neox, base, rfac, mscale, yarn, s->rope_orig_ctx);
            }
        }
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < H; h++) {
                int gk = h / (H / KV);
                double mx = -1e300, sum = 0;
                int p0 = window && t >= window ? t - window + 1 : 0;
                for (int p = p0; p <= t; p++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++)
                        d += q[((size_t)t * H + h) * hd + i] * k[((size_t)p * KV + gk) * hd + i];
                    sc[p] = d / sqrt(hd);
                    if (s->attn_softcap > 0)
                        sc[p] = s->attn_softcap * tanh(sc[p] / s->attn_softcap);
                    if (sc[p] > mx) mx = sc[p];
                }
                for (int p = p0; p <= t; p++)
                    sum += (sc[p] = exp(sc[p] - mx));
                if (sinks) sum += exp(sinks[h] - mx);
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int p = p0; p <= t; p++)
                        acc += sc[p] / sum * v[((size_t)p * KV + gk) * hd + i];
                    att[h * hd + i] = acc;
                }
            }
            ref_matvec(o, wo, att, H * hd, E);
            for (int i = 0; bo && i < E; i++)
                o[i] += bo[i];
            if (pan) ref_rmsnorm(o, o, pan, E);
            for (int i = 0; i < E; i++)
                x[t * E + i] += o[i];
            ref_rmsnorm(xn, x + t * E, fn, E);
            if (rt) {
                ref_moe(s, o, xn, rt, ge, ue, de, sgi, sg, su, sd, rb, gb, ub, db);
                for (int i = 0; i < E; i++)
                    x[t * E + i] += o[i];
                continue;
            }
            ref_matvec(g, wg, xn, E, F);
            ref_matvec(u, wu, xn, E, F);
            for (int i = 0; i < F; i++)
                g[i] =
                    (gemma2 || gemma3
                         ? 0.5 * g[i] *
                               (1 + tanh(sqrt(2 / M_PI) * (g[i] + 0.044715 * g[i] * g[i] * g[i])))
                         : g[i] / (1 + exp(-g[i]))) *
                    u[i];
            ref_matvec(o, wd, g, F, E);
            if (pfn) ref_rmsnorm(o, o, pfn, E);
            for (int i = 0; i < E; i++)
                x[t * E + i] += o[i];
        }
        free(an), free(wq), free(wk), free(wv), free(wo), free(fn), free(wg), free(wu), free(wd);
        free(bq), free(bk), free(bv), free(qn), free(kn), free(pan), free(pfn);
        free(rt), free(ge), free(ue), free(de), free(sgi), free(sg), free(su), free(sd);
        free(bo), free(sinks), free(rb), free(gb), free(ub), free(db);
    }
    double *onorm = ref_tensor(r, "output_norm.weight"), *out = ref_tensor(r, "output.weight");
    if (!out) out = emb, emb = NULL;
    double *logits = malloc((size_t)n * s->n_vocab * sizeof *logits);
    for (int t = 0; t < n; t++) {
        ref_rmsnorm(xn, x + t * E, onorm, E);
        double *lg = logits + (size_t)t * s->n_vocab;
        ref_matvec(lg, out, xn, E, s->n_vocab);
        for (int i = 0; s->final_softcap > 0 && i < s->n_vocab; i++)
            lg[i] = s->final_softcap * tanh(lg[i] / s->final_softcap);
    }
    free(emb), free(out), free(onorm), free(x), free(xn), free(q), free(k), free(v), free(att);
    free(o), free(g), free(u), free(sc), free(rfac);
    return logits;
}

/* ------------------------------------------------------------ helpers */

static double spread(const float *v, int n) {
    double m = 0, s = 0;
    for (int i = 0; i < n; i++)
        m += v[i];
    m /= n;
    for (int i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / n);
}

/* Decodes toks[0..n) of seq in chunks of `chunk` tokens, logits for every token into out. */
static bool run_seq(bb_context *ctx, int seq, const int32_t *toks, int n, int chunk, int n_vocab,
                    float *out) {
    bb_batch b = bb_batch_new(chunk);
    bb_error err = {0};
    for (int i = 0; i < n; i += chunk) {
        bb_batch_clear(&b);
        for (int j = i; j < n && j < i + chunk; j++)
            bb_batch_add(&b, toks[j], j, seq, true);
        if (bb_decode(ctx, &b, &err) != BB_OK) {
            fprintf(stderr, "decode: %s\n", err.message);
            bb_batch_free(&b);
            return false;
        }
        for (int j = 0; j < b.n_tokens; j++)
            memcpy(out + (size_t)(i + j) * n_vocab, bb_get_logits(ctx, j), n_vocab * sizeof(float));
    }
    bb_batch_free(&b);
    return true;
}

/* ------------------------------------------------------------ fixture tests */

static void test_fixture(const fixture_spec *s, double tol) {
    void *img;
    size_t size;
    if (!fixture_build(s, &img, &size)) {
        CHECK(!"fixture built");
        return;
    }
    bb_error err = {0};
    bb_model *m;
    bb_context *ctx;
    bb_model_params mp = bb_model_default_params();
    bb_context_params cp = {.n_ctx = 128, .n_batch = 32, .n_seq_max = 3, .n_threads = 2};
    if (bb_model_load_from_memory(img, size, &mp, &m, &err) != BB_OK ||
        bb_context_new(m, &cp, &ctx, &err) != BB_OK) {
        CHECKF(0, "load %s: %s", s->arch, err.message);
        free(img);
        return;
    }
    enum { N = 20 };
    int32_t toks[N];
    uint64_t rng = s->seed + 7;
    for (int i = 0; i < N; i++)
        toks[i] = (int32_t)(tu_rand_u64(&rng) % (uint64_t)s->n_vocab);
    int V = s->n_vocab;
    float *batch = malloc((size_t)N * V * sizeof(float)),
          *single = malloc((size_t)N * V * sizeof(float));
    float *mixed = malloc((size_t)N * V * sizeof(float));
    CHECK(run_seq(ctx, 0, toks, N, 32, V, batch));
    CHECK(run_seq(ctx, 1, toks, N, 1, V, single));
    /* seq 2 prefills 7 tokens per batch while seq 0 decodes again, one token per batch,
     * inside the same batches: continuous batching must not change either's logits */
    CHECK(bb_kv_seq_rm(ctx, 0, 0, -1, &err) == BB_OK);
    CHECK(bb_kv_seq_len(ctx, 0) == 0);
    float *again = malloc((size_t)N * V * sizeof(float));
    bb_batch mb = bb_batch_new(8);
    for (int step = 0, i2 = 0, i0 = 0; i2 < N || i0 < N; step++) {
        bb_batch_clear(&mb);
        int first2 = i2;
        for (; i2 < N && i2 < first2 + 7; i2++)
            bb_batch_add(&mb, toks[i2], i2, 2, true);
        int n2 = i2 - first2;
        if (i0 < N) bb_batch_add(&mb, toks[i0], i0, 0, true);
        if (bb_decode(ctx, &mb, &err) != BB_OK) {
            CHECKF(0, "mixed decode: %s", err.message);
            break;
        }
        for (int j = 0; j < n2; j++)
            memcpy(mixed + (size_t)(first2 + j) * V, bb_get_logits(ctx, j), V * sizeof(float));
        if (i0 < N) memcpy(again + (size_t)i0++ * V, bb_get_logits(ctx, n2), V * sizeof(float));
    }
    bb_batch_free(&mb);
    CHECKF(memcmp(batch, single, (size_t)N * V * sizeof(float)) == 0,
           "%s: one batch vs token by token differ", s->arch);
    CHECKF(memcmp(batch, mixed, (size_t)N * V * sizeof(float)) == 0,
           "%s: chunked prefill beside another sequence differs", s->arch);
    CHECKF(memcmp(batch, again, (size_t)N * V * sizeof(float)) == 0,
           "%s: decode beside a prefill differs", s->arch);
    free(again);

    /* truncation: drop the last 5 positions of seq 1 and recompute them */
    CHECK(bb_kv_seq_rm(ctx, 1, N - 5, -1, &err) == BB_OK);
    bb_batch b = bb_batch_new(8);
    for (int j = N - 5; j < N; j++)
        bb_batch_add(&b, toks[j], j, 1, j == N - 1);
    CHECK(bb_decode(ctx, &b, &err) == BB_OK);
    CHECK(memcmp(bb_get_logits(ctx, 4), batch + (size_t)(N - 1) * V, V * sizeof(float)) == 0);
    CHECK(bb_get_logits(ctx, 0) == NULL);

    /* malformed batches leave everything unchanged */
    int32_t len1 = bb_kv_seq_len(ctx, 1);
    bb_batch_clear(&b);
    bb_batch_add(&b, toks[0], len1 + 1, 1, true); /* gap */
    CHECK(bb_decode(ctx, &b, &err) == BB_ERR_INVALID_ARGUMENT && strstr(err.message, "position"));
    bb_batch_clear(&b);
    bb_batch_add(&b, V, len1, 1, true);
    CHECK(bb_decode(ctx, &b, &err) == BB_ERR_INVALID_ARGUMENT && strstr(err.message, "token"));
    bb_batch_clear(&b);
    bb_batch_add(&b, 1, 0, 3, true);
    CHECK(bb_decode(ctx, &b, &err) == BB_ERR_INVALID_ARGUMENT && strstr(err.message, "sequence"));
    CHECK(bb_kv_seq_len(ctx, 1) == len1);
    bb_batch_free(&b);

    /* the reference forward pass */
    gguf_file *f;
    CHECK(gguf_open_memory(img, size, &f, &err) == BB_OK);
    ref_model r = {*s, s->head_dim ? s->head_dim : s->n_embd / s->n_head, f};
    double *ref = ref_forward(&r, toks, N);
    double worst = 0;
    for (int t = 0; t < N; t++) {
        float *lg = batch + (size_t)t * V;
        double sd = spread(lg, V), md = 0;
        for (int i = 0; i < V; i++)
            md = fmax(md, fabs(lg[i] - ref[(size_t)t * V + i]));
        worst = fmax(worst, md / sd);
    }
    printf("fixture %-5s %-5s: max |logit - reference| / std = %.2e (tolerance %.0e)\n", s->arch,
           bb_type_get_ref(s->weight_type)->name, worst, tol);
    CHECKF(worst < tol, "%s %s: %.3e", s->arch, bb_type_get_ref(s->weight_type)->name, worst);
    free(ref);
    gguf_close(f);
    free(batch), free(single), free(mixed);
    bb_context_free(ctx);
    bb_model_free(m);
    free(img);
}

/* Filling the cache reports NO_SPACE and changes nothing. */
static void test_cache_full(void) {
    fixture_spec s = {"llama", 64, 1, 4,     2, 128, 300, 0, BB_TYPE_F32,
                      false,   0,  3, false, 0, 0,   0,   0};
    void *img;
    size_t size;
    if (!fixture_build(&s, &img, &size)) return;
    bb_error err = {0};
    bb_model *m;
    bb_context *ctx;
    bb_model_params mp = bb_model_default_params();
    bb_context_params cp = {.n_ctx = 32, .n_batch = 64, .n_seq_max = 2, .n_threads = 1};
    CHECK(bb_model_load_from_memory(img, size, &mp, &m, &err) == BB_OK);
    CHECK(bb_context_new(m, &cp, &ctx, &err) == BB_OK);
    bb_batch b = bb_batch_new(64);
    for (int i = 0; i < 20; i++)
        bb_batch_add(&b, 5, i, 0, false);
    CHECK(bb_decode(ctx, &b, &err) == BB_OK);
    CHECK(bb_kv_free_tokens(ctx) == 0); /* 20 tokens hold two blocks of 16 */
    bb_batch_clear(&b);
    for (int i = 0; i < 5; i++)
        bb_batch_add(&b, 5, i, 1, false);
    CHECK(bb_decode(ctx, &b, &err) == BB_ERR_NO_SPACE);
    CHECK(bb_kv_seq_len(ctx, 1) == 0);
    CHECK(bb_kv_seq_rm(ctx, 0, 0, -1, &err) == BB_OK);
    CHECK(bb_decode(ctx, &b, &err) == BB_OK);
    bb_batch_free(&b);
    bb_context_free(ctx);
    bb_model_free(m);
    free(img);
}

/* ------------------------------------------------------------ llama.cpp conformance */

/* Tolerance on max |logit - llama.cpp| / std(llama.cpp logits), by weight type.
 *
 * Measured (shared testdata, Feb 2025 llama.cpp): after a 1-token prompt our logits equal
 * llama.cpp's to ~1e-6 for F16, Q4_0, Q6_K... (same weight formats, same Q8_0/Q8_K activation
 * quantization, same RoPE angles), except Q8_0 weights (1.6e-2, unexplained so far). Longer
 * prompts add attention differences: llama.cpp's non-flash attention rounds the softmax
 * weights to F16 before multiplying V, we keep them in float. That alone is ~1e-3 for F32/F16
 * models; in quantized models it flips the rounding of some 8-bit activation blocks, and those
 * flips compound over layers to 3e-2..1e-1 on these random-weight models. The tolerances are
 * about twice the worst seen; the greedy-token check below is the sharper test. */
static double conformance_tol(const char *stem) {
    if (strstr(stem, "f32") || strstr(stem, "f16") || strstr(stem, "bf16")) return 1e-2;
    if (strstr(stem, "Q2_K") || strstr(stem, "Q3_K")) return 2e-1;
    return 1.6e-1;
}

static float *read_f32(const char *path, size_t n) {
    size_t len;
    char *buf = tu_read_file(path, &len);
    if (!buf || len != n * sizeof(float)) {
        free(buf);
        return NULL;
    }
    return (float *)buf;
}

static void conformance_model(const char *dir, const char *stem) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s.ref.json", dir, stem);
    char *json = tu_read_file(path, NULL);
    cJSON *runs = json ? cJSON_Parse(json) : NULL;
    free(json);
    if (!cJSON_IsArray(runs)) {
        CHECKF(0, "%s: cannot read", path);
        cJSON_Delete(runs);
        return;
    }
    snprintf(path, sizeof path, "%s/%s.gguf", dir, stem);
    bb_error err = {0};
    bb_model *m;
    bb_context *ctx;
    bb_model_params mp = bb_model_default_params();
    bb_context_params cp = {.n_ctx = 512, .n_batch = 512, .n_seq_max = 1, .n_threads = 2};
    bb_status st = bb_model_load(path, &mp, &m, &err);
    if (st == BB_ERR_UNSUPPORTED) { /* a family of models-ext/ not run yet */
        printf("SKIP: conformance %s: %s\n", stem, err.message);
        cJSON_Delete(runs);
        return;
    }
    if (st != BB_OK || bb_context_new(m, &cp, &ctx, &err) != BB_OK) {
        CHECKF(0, "%s", err.message);
        cJSON_Delete(runs);
        return;
    }
    int V = bb_model_n_vocab(m);
    double tol = conformance_tol(stem), worst = 0;
    int steps_ok = 0, steps_total = 0, run_no = 0;
    cJSON *run;
    cJSON_ArrayForEach(run, runs) {
        run_no++;
        cJSON *pt = cJSON_GetObjectItem(run, "prompt_tokens"),
              *steps = cJSON_GetObjectItem(run, "steps");
        int n = cJSON_GetArraySize(pt);
        bb_batch b = bb_batch_new(n);
        bb_kv_seq_rm(ctx, 0, 0, -1, &err);
        for (int i = 0; i < n; i++)
            bb_batch_add(&b, cJSON_GetArrayItem(pt, i)->valueint, i, 0, i == n - 1);
        CHECK(bb_decode(ctx, &b, &err) == BB_OK);
        const float *lg = bb_get_logits(ctx, n - 1);
        snprintf(path, sizeof path, "%s/%s.p%d.logits.f32", dir, stem, run_no);
        float *ref = read_f32(path, (size_t)V);
        if (ref && lg) {
            double md = 0;
            for (int i = 0; i < V; i++)
                md = fmax(md, fabs(lg[i] - ref[i]));
            double rel = md / spread(ref, V);
            worst = fmax(worst, rel);
            CHECKF(rel < tol, "%s run %d: full logits max|diff|/std %.3e >= %.0e", stem, run_no,
                   rel, tol);
        } else {
            CHECKF(0, "%s: logits file or output missing", path);
        }
        /* greedy steps: tokens must agree while the reference's top-1/top-2 gap is larger
         * than our error could bridge; after a legitimate near-tie divergence, stop */
        double sd = ref ? spread(ref, V) : 1;
        int pos = n;
        cJSON *step;
        cJSON_ArrayForEach(step, steps) {
            if (!lg) break;
            int want = cJSON_GetObjectItem(step, "token")->valueint;
            cJSON *top5 = cJSON_GetObjectItem(step, "top5");
            double gap = cJSON_GetArrayItem(cJSON_GetArrayItem(top5, 0), 1)->valuedouble -
                         cJSON_GetArrayItem(cJSON_GetArrayItem(top5, 1), 1)->valuedouble;
            int got = 0;
            for (int i = 1; i < V; i++)
                if (lg[i] > lg[got]) got = i;
            steps_total++;
            if (got != want) {
                CHECKF(gap < 2 * tol * sd, "%s run %d step %d: token %d, llama.cpp %d (gap %.4f)",
                       stem, run_no, steps_total, got, want, gap);
                break;
            }
            steps_ok++;
            bb_batch_clear(&b);
            bb_batch_add(&b, got, pos++, 0, true);
            CHECK(bb_decode(ctx, &b, &err) == BB_OK);
            lg = bb_get_logits(ctx, 0);
        }
        free(ref);
        bb_batch_free(&b);
    }
    printf("conformance %-16s worst full-logit error %.2e (tolerance %.2g), greedy steps "
           "matched %d/%d\n",
           stem, worst, tol, steps_ok, steps_total);
    cJSON_Delete(runs);
    bb_context_free(ctx);
    bb_model_free(m);
}

/* Every model of testdata/SUB (models/: llama, qwen2; models-ext/: the newer families). */
static void test_conformance(const char *sub) {
    const char *td = tu_testdata();
    char what[1200];
    snprintf(what, sizeof what, "llama.cpp logits conformance (%s/)", sub);
    if (!td) {
        tu_skip(what);
        return;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/%s", td, sub);
    DIR *d = opendir(dir);
    if (!d) {
        tu_skip(what);
        return;
    }
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".gguf")) continue;
        char stem[512];
        snprintf(stem, sizeof stem, "%.*s", (int)(len - 5), e->d_name);
        conformance_model(dir, stem);
        n++;
    }
    closedir(d);
    CHECKF(n > 0, "no models found in %s", dir);
}

int main(void) {
    /* arch, n_embd, layers, heads, kv heads, ffn, vocab, head_dim, type, tied, rope base, seed,
     * rope_freqs, window, attn cap, final cap */
    fixture_spec specs[] = {
        {"llama", 64, 2, 4, 2, 160, 300, 0, BB_TYPE_F32, false, 0, 11, false, 0, 0, 0, 0},
        {"llama", 64, 2, 4, 4, 128, 300, 0, BB_TYPE_F16, true, 0, 12, false, 0, 0, 0, 0},
        {"qwen2", 64, 2, 4, 2, 96, 300, 0, BB_TYPE_F32, true, 1e6f, 13, false, 0, 0, 0, 0},
        {"qwen3", 64, 2, 4, 2, 96, 300, 32, BB_TYPE_F32, false, 1e6f, 14, false, 0, 0, 0, 0},
        {"llama", 256, 1, 4, 2, 256, 300, 0, BB_TYPE_Q8_0, false, 0, 15, false, 0, 0, 0, 0},
        {"llama", 256, 1, 4, 2, 256, 300, 0, BB_TYPE_Q4_K, false, 0, 16, false, 0, 0, 0, 0},
        {"llama", 64, 2, 4, 2, 128, 300, 0, BB_TYPE_BF16, false, 5e5f, 17, false, 0, 0, 0, 0},
        {"llama", 64, 2, 4, 2, 128, 300, 0, BB_TYPE_F32, false, 5e5f, 18, true, 0, 0, 0, 0},
        /* windows below the 20-token prompts, caps that bite at these score ranges */
        {"gemma2", 64, 2, 2, 1, 96, 300, 32, BB_TYPE_F32, true, 0, 19, false, 6, 1.5f, 2.0f, 0},
        {"gemma3", 64, 6, 4, 2, 96, 300, 24, BB_TYPE_F16, true, 1e6f, 20, false, 5, 0, 0, 0},
        /* LongRoPE's short factors (original context 4096 > 128), then its long ones */
        {"phi3", 64, 2, 4, 2, 96, 300, 0, BB_TYPE_F32, false, 0, 21, false, 0, 0, 0, 4096},
        {"phi3", 64, 2, 4, 2, 96, 300, 0, BB_TYPE_F16, false, 0, 22, false, 0, 0, 0, 64},
        /* mixtures of experts */
        {"qwen3moe", 64, 2, 4, 2, 96, 300, 32, BB_TYPE_F32, false, 1e6f, 25, false, 0, 0, 0, 0},
        {"qwen2moe", 64, 2, 4, 2, 96, 300, 0, BB_TYPE_F16, false, 1e6f, 26, false, 0, 0, 0, 0},
        {"mixtral", 64, 2, 4, 1, 64, 300, 0, BB_TYPE_F32, true, 1e6f, 27, false, 0, 0, 0, 0},
        /* sinks, biases, window 7 on even layers, YaRN over an original context of 256 */
        {"gpt-oss", 64, 2, 4, 2, 96, 300, 32, BB_TYPE_F16, false, 1.5e5f, 28, false, 7, 0, 0, 256},
        /* YaRN factor 4: adjacent-pair and NeoX RoPE */
        {"llama", 64, 2, 4, 2, 96, 300, 0, BB_TYPE_F32, true, 0, 23, false, 0, 0, 0, 256},
        {"qwen2", 64, 2, 4, 2, 96, 300, 32, BB_TYPE_F32, true, 1e6f, 24, false, 0, 0, 0, 1024},
    };
    /* F32 and F16 differ from the double reference by the F16 KV cache (and F16 activations
     * for F16 weights); BF16 weights take BF16 activations (8-bit mantissa, as ggml); quantized
     * weights also by the Q8 activation quantization. */
    double tols[] = {3e-3, 5e-3, 3e-3, 3e-3, 6e-2, 1.2e-1, 3e-2, 3e-3, 5e-3,
                     5e-3, 5e-3, 5e-3, 3e-3, 5e-3, 3e-3,   5e-3, 3e-3, 3e-3};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
        test_fixture(&specs[i], tols[i]);
    test_cache_full();
    test_conformance("models");
    test_conformance("models-ext");
    return tu_finish("test_model");
}
