/* Tests of the trainer: every op's backward against central finite differences in float64,
 * the whole model's gradient likewise, the SIMD matmul against its scalar twin, and (in
 * the sections below) the optimiser, BPE training, the demo task and a short training run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beanbag.h"
#include "testutil.h"
#include "train/adamw.h"
#include "train/bpe.h"
#include "train/checkpoint.h"
#include "train/corpus.h"
#include "train/demo_data.h"
#include "train/demo_eval.h"
#include "train/demo_model.h"
#include "train/pretok.h"
#include "train/model.h"
#include "train/tops.h"
#include "train/trainer.h"

static uint64_t rng_state = 0x5eed;

static void fill(double *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++)
        x[i] = scale * tu_rand_uniform(&rng_state);
}

static double *dalloc(size_t n) {
    return calloc(n ? n : 1, sizeof(double));
}

static double dotd(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* A scalar function of the op's inputs: sum(op(inputs) * upstream). */
typedef double (*loss_fn)(void *ctx);

/* Checks analytic gradient g[0..n) of loss with respect to x[0..n) by central differences. */
static void check_grad(const char *what, loss_fn f, void *ctx, double *x, const double *g,
                       size_t n) {
    const double h = 1e-5;
    double worst = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double lp = f(ctx);
        x[i] = keep - h;
        double lm = f(ctx);
        x[i] = keep;
        double num = (lp - lm) / (2 * h);
        double e = fabs(num - g[i]) / fmax(1e-6, fabs(num) + fabs(g[i]));
        if (e > worst) {
            worst = e;
            worst_i = i;
        }
    }
    CHECKF(worst < 1e-5, "%s: worst relative error %.3g at %zu", what, worst, worst_i);
}

/* ---------------------------------------------------------------- linear */

typedef struct lin_ctx {
    int T, n_in, n_out;
    double *x, *w, *wt, *y, *up;
} lin_ctx;

static void transpose(double *dst, const double *src, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}

static double lin_loss(void *p) {
    lin_ctx *c = p;
    transpose(c->wt, c->w, c->n_out, c->n_in);
    tr_linear_fwd_f64(c->y, c->x, c->wt, c->T, c->n_in, c->n_out, false);
    return dotd(c->y, c->up, (size_t)c->T * c->n_out);
}

static void test_linear(void) {
    lin_ctx c = {.T = 5, .n_in = 7, .n_out = 19};
    size_t nx = (size_t)c.T * c.n_in, nw = (size_t)c.n_in * c.n_out, ny = (size_t)c.T * c.n_out;
    c.x = dalloc(nx), c.w = dalloc(nw), c.wt = dalloc(nw), c.y = dalloc(ny), c.up = dalloc(ny);
    double *dx = dalloc(nx), *dw = dalloc(nw);
    fill(c.x, nx, 1), fill(c.w, nw, 1), fill(c.up, ny, 1);
    tr_linear_bwd_f64(dx, dw, c.up, c.x, c.w, c.T, c.n_in, c.n_out);
    check_grad("linear dx", lin_loss, &c, c.x, dx, nx);
    check_grad("linear dW", lin_loss, &c, c.w, dw, nw);
    free(c.x), free(c.w), free(c.wt), free(c.y), free(c.up), free(dx), free(dw);
}

/* ---------------------------------------------------------------- embedding */

typedef struct emb_ctx {
    int T, d, V;
    int32_t tok[6];
    double *emb, *x, *up;
} emb_ctx;

static double emb_loss(void *p) {
    emb_ctx *c = p;
    tr_embed_fwd_f64(c->x, c->emb, c->tok, c->T, c->d);
    return dotd(c->x, c->up, (size_t)c->T * c->d);
}

static void test_embedding(void) {
    emb_ctx c = {.T = 6, .d = 4, .V = 5, .tok = {3, 0, 3, 4, 1, 3}};
    c.emb = dalloc(20), c.x = dalloc(24), c.up = dalloc(24);
    double *de = dalloc(20);
    fill(c.emb, 20, 1), fill(c.up, 24, 1);
    tr_embed_bwd_f64(de, c.up, c.tok, c.T, c.d);
    check_grad("embedding", emb_loss, &c, c.emb, de, 20);
    free(c.emb), free(c.x), free(c.up), free(de);
}

/* ---------------------------------------------------------------- RMSNorm */

typedef struct norm_ctx {
    int T, d;
    double *x, *w, *y, *rstd, *up;
} norm_ctx;

static double norm_loss(void *p) {
    norm_ctx *c = p;
    tr_rmsnorm_fwd_f64(c->y, c->rstd, c->x, c->w, c->T, c->d, 1e-5);
    return dotd(c->y, c->up, (size_t)c->T * c->d);
}

static void test_rmsnorm(void) {
    norm_ctx c = {.T = 3, .d = 10};
    size_t n = 30;
    c.x = dalloc(n), c.w = dalloc(10), c.y = dalloc(n), c.rstd = dalloc(3), c.up = dalloc(n);
    double *dx = dalloc(n), *dw = dalloc(10);
    fill(c.x, n, 2), fill(c.w, 10, 1), fill(c.up, n, 1);
    norm_loss(&c);
    tr_rmsnorm_bwd_f64(dx, dw, c.up, c.x, c.w, c.rstd, c.T, c.d);
    check_grad("rmsnorm dx", norm_loss, &c, c.x, dx, n);
    check_grad("rmsnorm dw", norm_loss, &c, c.w, dw, 10);
    free(c.x), free(c.w), free(c.y), free(c.rstd), free(c.up), free(dx), free(dw);
}

/* ---------------------------------------------------------------- RoPE */

typedef struct rope_ctx {
    int T, H, hd;
    double *x, *y, *cs, *up;
} rope_ctx;

static double rope_loss(void *p) {
    rope_ctx *c = p;
    size_t n = (size_t)c->T * c->H * c->hd;
    memcpy(c->y, c->x, n * sizeof *c->y);
    tr_rope_fwd_f64(c->y, c->cs, c->T, c->H, c->hd);
    return dotd(c->y, c->up, n);
}

static void test_rope(void) {
    rope_ctx c = {.T = 4, .H = 2, .hd = 6};
    size_t n = 48;
    c.x = dalloc(n), c.y = dalloc(n), c.up = dalloc(n), c.cs = dalloc(4 * 6);
    tr_rope_table_f64(c.cs, 4, 6, 10000.0);
    fill(c.x, n, 1), fill(c.up, n, 1);
    double *dx = dalloc(n);
    memcpy(dx, c.up, n * sizeof *dx);
    tr_rope_bwd_f64(dx, c.cs, c.T, c.H, c.hd);
    check_grad("rope", rope_loss, &c, c.x, dx, n);
    /* The convention itself: position 3, pair 1 of a head of 6 rotates by 3 * 10000^(-2/6). */
    double th = 3 * pow(10000.0, -2.0 / 6), v[6] = {0, 0, 1, 0, 0, 0};
    tr_rope_fwd_f64(v, c.cs + 3 * 6, 1, 1, 6);
    CHECK(fabs(v[2] - cos(th)) < 1e-12 && fabs(v[3] - sin(th)) < 1e-12 && v[0] == 0);
    free(c.x), free(c.y), free(c.up), free(c.cs), free(dx);
}

/* ---------------------------------------------------------------- attention */

typedef struct attn_ctx {
    int T, H, Hkv, hd;
    double *q, *k, *v, *out, *p, *up;
} attn_ctx;

static double attn_loss(void *p) {
    attn_ctx *c = p;
    double scratch[TR_ATTN_SCRATCH(5, 3)];
    tr_attn_fwd_f64(c->out, c->p, c->q, c->k, c->v, c->T, c->H, c->Hkv, c->hd, scratch);
    return dotd(c->out, c->up, (size_t)c->T * c->H * c->hd);
}

static void test_attention(void) {
    attn_ctx c = {.T = 5, .H = 4, .Hkv = 2, .hd = 3};
    size_t nq = 5 * 4 * 3, nk = 5 * 2 * 3;
    c.q = dalloc(nq), c.k = dalloc(nk), c.v = dalloc(nk), c.out = dalloc(nq), c.up = dalloc(nq);
    c.p = dalloc(4 * 5 * 5);
    double *dq = dalloc(nq), *dk = dalloc(nk), *dv = dalloc(nk), scratch[TR_ATTN_SCRATCH(5, 3)];
    fill(c.q, nq, 2), fill(c.k, nk, 2), fill(c.v, nk, 1), fill(c.up, nq, 1);
    attn_loss(&c);
    tr_attn_bwd_f64(dq, dk, dv, c.up, c.p, c.q, c.k, c.v, c.T, c.H, c.Hkv, c.hd, scratch);
    check_grad("attention dq", attn_loss, &c, c.q, dq, nq);
    check_grad("attention dk", attn_loss, &c, c.k, dk, nk);
    check_grad("attention dv", attn_loss, &c, c.v, dv, nk);
    /* Causality: the first row's output is exactly v of token 0 (for its KV head). */
    CHECK(fabs(c.out[0] - c.v[0]) < 1e-12 && fabs(c.out[2 * 3] - c.v[3]) < 1e-12);
    free(c.q), free(c.k), free(c.v), free(c.out), free(c.up), free(c.p);
    free(dq), free(dk), free(dv);
}

/* ---------------------------------------------------------------- SwiGLU */

typedef struct glu_ctx {
    size_t n;
    double *g, *u, *m, *up;
} glu_ctx;

static double glu_loss(void *p) {
    glu_ctx *c = p;
    tr_swiglu_fwd_f64(c->m, c->g, c->u, c->n);
    return dotd(c->m, c->up, c->n);
}

static void test_swiglu(void) {
    glu_ctx c = {.n = 17};
    c.g = dalloc(17), c.u = dalloc(17), c.m = dalloc(17), c.up = dalloc(17);
    double *dg = dalloc(17), *du = dalloc(17);
    fill(c.g, 17, 4), fill(c.u, 17, 2), fill(c.up, 17, 1);
    tr_swiglu_bwd_f64(dg, du, c.up, c.g, c.u, c.n);
    check_grad("swiglu dg", glu_loss, &c, c.g, dg, 17);
    check_grad("swiglu du", glu_loss, &c, c.u, du, 17);
    free(c.g), free(c.u), free(c.m), free(c.up), free(dg), free(du);
}

/* ---------------------------------------------------------------- cross-entropy */

typedef struct xent_ctx {
    int T, V;
    int32_t tgt[3];
    double *l, *tmp;
} xent_ctx;

static double xent_loss(void *p) {
    xent_ctx *c = p;
    memcpy(c->tmp, c->l, (size_t)c->T * c->V * sizeof *c->tmp);
    return 0.5 * tr_xent_f64(c->tmp, c->tgt, c->T, c->V, 0.5);
}

static void test_xent(void) {
    xent_ctx c = {.T = 3, .V = 7, .tgt = {6, 0, 3}};
    c.l = dalloc(21), c.tmp = dalloc(21);
    fill(c.l, 21, 3);
    double *g = dalloc(21);
    memcpy(g, c.l, 21 * sizeof *g);
    tr_xent_f64(g, c.tgt, c.T, c.V, 0.5);
    check_grad("cross-entropy", xent_loss, &c, c.l, g, 21);
    /* Uniform logits: loss is log V per row. */
    double u[7] = {0};
    int32_t t0 = 2;
    CHECK(fabs(tr_xent_f64(u, &t0, 1, 7, 1) - log(7.0)) < 1e-12);
    free(c.l), free(c.tmp), free(g);
}

/* ---------------------------------------------------------------- the SIMD matmul */

static void test_gemm_kernel(void) {
    /* Sizes that hit the row and column blocks and their tails, in both A layouts; every
     * SIMD kernel matches the scalar twin, and the SIMD kernels match each other exactly. */
    const int shapes[][3] = {{1, 1, 1}, {7, 33, 5}, {13, 48, 20}, {6, 16, 64}, {40, 130, 17}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int M = shapes[s][0], N = shapes[s][1], P = shapes[s][2];
        for (int trans = 0; trans < 2; trans++) {
            float *A = malloc(sizeof(float) * M * P), *B = malloc(sizeof(float) * P * N);
            float *C[3], *C0 = malloc(sizeof(float) * M * N);
            for (int i = 0; i < M * P; i++)
                A[i] = tu_rand_uniform(&rng_state);
            for (int i = 0; i < P * N; i++)
                B[i] = tu_rand_uniform(&rng_state);
            for (int i = 0; i < M * N; i++)
                C0[i] = tu_rand_uniform(&rng_state);
            size_t sai = trans ? 1 : (size_t)P, sap = trans ? (size_t)M : 1;
            for (int k = 0; k < 3; k++) {
                C[k] = malloc(sizeof(float) * M * N);
                memcpy(C[k], C0, sizeof(float) * M * N);
                if (tr_gemm_kernel_available((tr_gemm_kernel)k))
                    tr_gemm_f32_with((tr_gemm_kernel)k, M, N, P, A, sai, sap, B, (size_t)N, C[k],
                                     (size_t)N);
            }
            for (int k = 1; k < 3; k++) {
                if (!tr_gemm_kernel_available((tr_gemm_kernel)k)) continue;
                double worst = 0;
                for (int i = 0; i < M * N; i++)
                    worst = fmax(worst, fabs(C[k][i] - C[0][i]));
                CHECKF(worst < 1e-5 * (P + 1), "gemm %dx%dx%d trans %d kernel %d: diff %g", M, N, P,
                       trans, k, worst);
            }
            if (tr_gemm_kernel_available(TR_GEMM_AVX2) && tr_gemm_kernel_available(TR_GEMM_AVX512))
                CHECK(!memcmp(C[1], C[2], sizeof(float) * M * N));
            free(A), free(B), free(C0), free(C[0]), free(C[1]), free(C[2]);
        }
    }
}

/* ---------------------------------------------------------------- the whole model */

typedef struct model_ctx {
    tr_layout L;
    tr_weights_f64 w;
    tr_acts_f64 *a;
    double *params;
    int n_seq, n_sel;
    int32_t tok[9], start[3], sel[7], tgt[7];
} model_ctx;

static double model_loss(void *p) {
    model_ctx *c = p;
    tr_weights_refresh_f64(&c->w, 0, c->L.n_tensors);
    tr_forward_f64(&c->w, c->a, c->tok, c->start, c->n_seq, c->sel, c->n_sel);
    return tr_loss_f64(c->a, c->tgt, 1.0 / c->n_sel) / c->n_sel;
}

static void test_model_grad(bool tied) {
    tr_hparams hp = {.n_vocab = 11,
                     .n_embd = 8,
                     .n_layer = 2,
                     .n_head = 4,
                     .n_head_kv = 2,
                     .n_ff = 12,
                     .n_ctx = 16,
                     .rope_base = 10000,
                     .norm_eps = 1e-5f,
                     .tied = tied};
    /* Two sequences packed in one pass: rows 0..6 and 7..8 (positions restart at 0). */
    model_ctx c = {.n_seq = 2,
                   .n_sel = 6,
                   .tok = {1, 5, 9, 2, 2, 7, 10, 4, 4},
                   .start = {0, 7, 9},
                   .sel = {1, 2, 4, 6, 7, 8},
                   .tgt = {9, 2, 7, 3, 1, 0}};
    bb_error err;
    CHECK(tr_layout_init(&c.L, &hp, &err) == BB_OK);
    c.params = dalloc(c.L.n_params);
    tr_init_params_f64(c.params, &c.L, 7);
    /* Larger-than-init weights and non-unit norms, so every path carries signal. */
    for (size_t i = 0; i < c.L.n_params; i++)
        c.params[i] += 0.3 * tu_rand_uniform(&rng_state);
    CHECK(tr_weights_init_f64(&c.w, &c.L, c.params, &err) == BB_OK);
    c.a = tr_acts_new_f64(&c.L, 9);
    double *grad = dalloc(c.L.n_params);
    model_loss(&c);
    tr_backward_f64(&c.w, c.a, grad);
    check_grad(tied ? "model (tied)" : "model (untied)", model_loss, &c, c.params, grad,
               c.L.n_params);
    free(grad), free(c.params);
    tr_acts_free_f64(c.a);
    tr_weights_free_f64(&c.w);
    tr_layout_free(&c.L);
}

/* The float32 pass (SIMD matmul, float math) agrees with the float64 one. */
static void test_model_f32_vs_f64(void) {
    tr_hparams hp = {.n_vocab = 40,
                     .n_embd = 32,
                     .n_layer = 2,
                     .n_head = 4,
                     .n_head_kv = 1,
                     .n_ff = 48,
                     .n_ctx = 32,
                     .rope_base = 10000,
                     .norm_eps = 1e-5f,
                     .tied = false};
    tr_layout L;
    bb_error err;
    CHECK(tr_layout_init(&L, &hp, &err) == BB_OK);
    double *pd = dalloc(L.n_params);
    float *pf = malloc(L.n_params * sizeof *pf);
    tr_init_params_f64(pd, &L, 3);
    for (size_t i = 0; i < L.n_params; i++)
        pf[i] = (float)(pd[i] *= 5);
    tr_weights_f64 wd;
    tr_weights_f32 wf;
    CHECK(tr_weights_init_f64(&wd, &L, pd, &err) == BB_OK);
    CHECK(tr_weights_init_f32(&wf, &L, pf, &err) == BB_OK);
    int32_t tok[20], sel[20], tgt[20];
    for (int t = 0; t < 20; t++)
        tok[t] = sel[t] = t, tgt[t] = (t * 7) % 40;
    tr_acts_f64 *ad = tr_acts_new_f64(&L, 20);
    tr_acts_f32 *af = tr_acts_new_f32(&L, 20);
    int32_t se[2] = {0, 20};
    tr_forward_f64(&wd, ad, tok, se, 1, sel, 20);
    tr_forward_f32(&wf, af, tok, se, 1, sel, 20);
    double worst = 0;
    for (int i = 0; i < 20 * 40; i++)
        worst = fmax(worst, fabs(tr_acts_logits_f64(ad)[i] - tr_acts_logits_f32(af)[i]));
    CHECKF(worst < 1e-4, "f32 vs f64 logits differ by %g", worst);
    double *gd = dalloc(L.n_params);
    float *gf = calloc(L.n_params, sizeof *gf);
    tr_loss_f64(ad, tgt, 0.05);
    tr_loss_f32(af, tgt, 0.05f);
    tr_backward_f64(&wd, ad, gd);
    tr_backward_f32(&wf, af, gf);
    double gmax = 0, gdiff = 0;
    for (size_t i = 0; i < L.n_params; i++) {
        gmax = fmax(gmax, fabs(gd[i]));
        gdiff = fmax(gdiff, fabs(gd[i] - gf[i]));
    }
    CHECKF(gdiff < 1e-4 * gmax, "f32 vs f64 gradients differ by %g (max %g)", gdiff, gmax);
    free(pd), free(pf), free(gd), free(gf);
    tr_acts_free_f64(ad), tr_acts_free_f32(af);
    tr_weights_free_f64(&wd), tr_weights_free_f32(&wf);
    tr_layout_free(&L);
}

static void test_layout_errors(void) {
    tr_layout L;
    bb_error err;
    tr_hparams hp = tr_hparams_default();
    hp.n_head = 3;
    CHECK(tr_layout_init(&L, &hp, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "head count") != NULL);
    hp = tr_hparams_default();
    hp.n_head_kv = 3;
    CHECK(tr_layout_init(&L, &hp, &err) == BB_ERR_INVALID_ARGUMENT);
    hp = tr_hparams_default();
    hp.n_embd = 16384, hp.n_ff = 65536, hp.n_layer = 256, hp.n_head = 64, hp.n_head_kv = 64;
    CHECK(tr_layout_init(&L, &hp, &err) == BB_ERR_INVALID_ARGUMENT);
    hp = tr_hparams_default();
    CHECK(tr_layout_init(&L, &hp, &err) == BB_OK);
    CHECK(tr_layout_find(&L, "blk.3.ffn_down.weight") != NULL);
    CHECK(tr_layout_find(&L, "output.weight") == NULL); /* tied by default */
    tr_layout_free(&L);
}

/* ---------------------------------------------------------------- optimizer */

static void test_adamw(void) {
    /* First step of Adam moves each parameter by lr * sign(g) (bias-corrected m/sqrt(v)). */
    float p[3] = {1, -2, 0.5f}, g[3] = {0.3f, -4, 1e-3f}, m[3] = {0}, v[3] = {0};
    tr_adamw hp = {0.9f, 0.95f, 1e-12f};
    tr_adamw_update(p, g, m, v, 3, &hp, 0.1f, 0, 1, 1);
    CHECK(fabsf(p[0] - 0.9f) < 1e-5f && fabsf(p[1] + 1.9f) < 1e-5f && fabsf(p[2] - 0.4f) < 1e-4f);
    /* Decoupled decay: zero gradient shrinks by lr * wd * p. */
    float q = 2, gq = 0, mq = 0, vq = 0;
    tr_adamw_update(&q, &gq, &mq, &vq, 1, &hp, 0.1f, 0.5f, 1, 1);
    CHECK(fabsf(q - 1.9f) < 1e-6f);
    /* Schedule: warm-up ramps linearly, cosine ends at the floor, midpoint halfway. */
    CHECK(fabsf(tr_lr_at(0, 110, 10, 1.0f, 0.1f) - 0.1f) < 1e-6f);
    CHECK(fabsf(tr_lr_at(9, 110, 10, 1.0f, 0.1f) - 1.0f) < 1e-6f);
    CHECK(fabsf(tr_lr_at(109, 110, 10, 1.0f, 0.1f) - 0.1f) < 1e-6f);
    CHECK(fabsf(tr_lr_at(59, 110, 10, 1.0f, 0.1f) - 0.55f) < 0.01f);
    CHECK(tr_clip_scale(0.5, 1.0f) == 1.0f && fabsf(tr_clip_scale(4.0, 1.0f) - 0.25f) < 1e-7f);
}

/* ---------------------------------------------------------------- a short training run */

/* Documents are arithmetic progressions mod V with a random start and step in {1, 2, 3}:
 * after two tokens the rest is determined, while the unigram distribution is uniform. */
static void make_progressions(tr_dataset *d, int V, int n_docs, int len, uint64_t seed) {
    int32_t tok[64];
    uint8_t tgt[64];
    bb_error err;
    for (int i = 0; i < n_docs; i++) {
        int a = (int)(tu_rand_u64(&seed) % (uint64_t)V), b = 1 + (int)(tu_rand_u64(&seed) % 3);
        for (int j = 0; j < len; j++)
            tok[j] = (a + j * b) % V, tgt[j] = j > 0;
        CHECK(tr_dataset_add(d, tok, tgt, (size_t)len, &err) == BB_OK);
    }
}

static tr_hparams tiny_hparams(int V, int ctx) {
    bool san = getenv("BB_SANITIZED") != NULL;
    return (tr_hparams){.n_vocab = V,
                        .n_embd = san ? 16 : 32,
                        .n_layer = 2,
                        .n_head = 2,
                        .n_head_kv = 1,
                        .n_ff = san ? 32 : 64,
                        .n_ctx = ctx,
                        .rope_base = 10000,
                        .norm_eps = 1e-5f,
                        .tied = false};
}

static void test_training_run(void) {
    const int V = 16, len = 20;
    tr_dataset d = {0};
    make_progressions(&d, V, 400, len, 42);
    tr_hparams hp = tiny_hparams(V, 32);
    tr_state st;
    bb_error err;
    CHECK(tr_state_init(&st, &hp, 1, &err) == BB_OK);
    tr_options o = tr_options_default();
    o.steps = getenv("BB_SANITIZED") ? 200 : 300;
    o.batch = 8;
    o.lr = 1e-2f;
    o.lr_min = 1e-3f;
    o.warmup = 20;
    o.weight_decay = 0.01f;
    double before = 0, after = 0;
    CHECK(tr_evaluate(&st, &d, 2, &before, &err) == BB_OK);
    bb_status s = tr_train(&st, &d, &o, NULL, &err);
    CHECKF(s == BB_OK, "%s", err.message);
    CHECK(tr_evaluate(&st, &d, 2, &after, &err) == BB_OK);
    double unigram = log((double)V);
    printf("training run: loss %.3f -> %.3f nats (unigram entropy %.3f)\n", before, after, unigram);
    CHECKF(after < 0.35 * unigram, "loss %.3f not well below unigram entropy %.3f", after, unigram);
    tr_state_free(&st);
    tr_dataset_free(&d);
}

static bool same_params(const tr_state *a, const tr_state *b) {
    return a->L.n_params == b->L.n_params &&
           !memcmp(a->params, b->params, a->L.n_params * sizeof(float)) &&
           !memcmp(a->m, b->m, a->L.n_params * sizeof(float)) &&
           !memcmp(a->v, b->v, a->L.n_params * sizeof(float));
}

/* Same weights for any thread count, and a run stopped and resumed equals a straight one. */
static void test_determinism(void) {
    tr_dataset d = {0};
    make_progressions(&d, 16, 50, 12, 7);
    tr_hparams hp = tiny_hparams(16, 16);
    tr_options o = tr_options_default();
    o.steps = 12, o.batch = 20, o.warmup = 3;
    tr_state a, b;
    bb_error err;
    CHECK(tr_state_init(&a, &hp, 5, &err) == BB_OK);
    CHECK(tr_state_init(&b, &hp, 5, &err) == BB_OK);
    o.threads = 1;
    CHECK(tr_train(&a, &d, &o, NULL, &err) == BB_OK);
    o.threads = 3;
    o.stop_after = 5;
    CHECK(tr_train(&b, &d, &o, NULL, &err) == BB_OK);
    CHECK(b.step == 5);
    o.stop_after = 0;
    CHECK(tr_train(&b, &d, &o, NULL, &err) == BB_OK);
    CHECK(a.step == 12 && b.step == 12);
    CHECK(same_params(&a, &b));
    /* Bad inputs are refused with a message. */
    o.steps = 5;
    CHECK(tr_train(&a, &d, &o, NULL, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "past the requested") != NULL);
    o.steps = 20;
    d.tok[3] = 99;
    CHECK(tr_train(&a, &d, &o, NULL, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "outside the vocab") != NULL);
    tr_state_free(&a);
    tr_state_free(&b);
    tr_dataset_free(&d);
}

/* ---------------------------------------------------------------- pre-tokenizer and BPE */

typedef struct pieces {
    char buf[512];
    size_t n;
} pieces;

static void collect(void *ctx, const char *s, size_t n) {
    pieces *p = ctx;
    p->n += (size_t)snprintf(p->buf + p->n, sizeof p->buf - p->n, "[%.*s]", (int)n, s);
}

static void test_pretok(void) {
    tr_pretok *p;
    bb_error err;
    CHECK(tr_pretok_new(&p, &err) == BB_OK);
    /* llama.cpp "default": punctuation runs split first, numbers apart from their space, then
     * digits in threes; whitespace before a newline-led word stays apart. */
    const char *cases[][2] = {
        {"Hello, world! 12345 abc", "[Hello][,][ world][!][ ][123][45][ abc]"},
        {"3 + 4 = 7", "[3][ ][+][ ][4][ ][=][ ][7]"},
        {"a  b\n\nc", "[a][ ][ b][\n][\n][c]"},
        {"把1620秒换算成分钟。", "[把][162][0][秒换算成分钟][。]"},
        {"it's x^2", "[it]['][s][ x][^][2]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pieces got = {{0}, 0};
        CHECK(tr_pretok_split(p, cases[i][0], strlen(cases[i][0]), collect, &got, &err) == BB_OK);
        CHECKF(!strcmp(got.buf, cases[i][1]), "pretok '%s' -> %s", cases[i][0], got.buf);
    }
    tr_pretok_free(p);
}

static const char *const k_specials[] = {TR_DEMO_EOT, TR_DEMO_IM_START, TR_DEMO_IM_END};

static void test_bpe(void) {
    const char *corpus = "the cat sat on the mat. the cat ate 12 rats and 345 bats.\n"
                         "<|im_start|>user\n猫坐在垫子上。猫吃了老鼠。<|im_end|>\n"
                         "there the then these those the cat\n";
    tr_bpe *b;
    bb_error err;
    CHECK(tr_bpe_train(corpus, strlen(corpus), 300, k_specials, 3, &b, &err) == BB_OK);
    int n = tr_bpe_n_tokens(b);
    CHECK(n > 259 && n <= 300);
    CHECK(tr_bpe_n_merges(b) == n - 259);
    CHECK(!strcmp(tr_bpe_token_text(b, ' '), "\xc4\xa0")); /* GPT-2 maps the space to U+0120 */
    CHECK(!strcmp(tr_bpe_token_text(b, '\n'), "\xc4\x8a"));
    CHECK(tr_bpe_token_type(b, n - 1) == TR_TOKEN_CONTROL && tr_bpe_token_type(b, 65) == 1);
    for (int m = 0; m < tr_bpe_n_merges(b); m++) /* digits never merge */
        CHECKF(!strpbrk(tr_bpe_merge_text(b, m), "0123456789"), "merge %s",
               tr_bpe_merge_text(b, m));
    const char *texts[] = {"the cat sat", "<|im_start|>user\n猫吃了 123456<|im_end|>",
                           "bytes \xff\xfe and \xe4\xbd", "", "  \t\n x"};
    tr_bpe *b2;
    const char *tokens[512], *merges[512];
    for (int i = 0; i < n; i++)
        tokens[i] = tr_bpe_token_text(b, i);
    for (int i = 0; i < tr_bpe_n_merges(b); i++)
        merges[i] = tr_bpe_merge_text(b, i);
    CHECK(tr_bpe_from_vocab(tokens, n, merges, tr_bpe_n_merges(b), 3, &b2, &err) == BB_OK);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids, *ids2;
        size_t k, k2;
        char *back;
        CHECK(tr_bpe_encode(b, texts[i], strlen(texts[i]), &ids, &k, &err) == BB_OK);
        CHECK(tr_bpe_decode(b, ids, k, &back, &err) == BB_OK);
        CHECKF(!strcmp(back, texts[i]), "round trip of '%s' gave '%s'", texts[i], back);
        CHECK(tr_bpe_encode(b2, texts[i], strlen(texts[i]), &ids2, &k2, &err) == BB_OK);
        CHECK(k == k2 && !memcmp(ids, ids2, k * sizeof *ids));
        if (i == 0) CHECK(k < strlen(texts[i])); /* merges apply */
        if (i == 1) CHECK(ids[0] == tr_bpe_find_special(b, TR_DEMO_IM_START));
        free(ids), free(ids2), free(back);
    }
    tr_bpe_free(b2);
    /* A rebuilt vocabulary must match what its merges produce. */
    tokens[n - 4] = "nonsense";
    CHECK(tr_bpe_from_vocab(tokens, n, merges, tr_bpe_n_merges(b), 3, &b2, &err) == BB_ERR_FORMAT);
    CHECK(strstr(err.message, "does not match merge") != NULL);
    tr_bpe_free(b);
    CHECK(tr_bpe_train(corpus, 10, 100, k_specials, 3, &b, &err) == BB_ERR_INVALID_ARGUMENT);
}

/* ---------------------------------------------------------------- demo task, corpus, files */

static void test_demo_data(void) {
    int seen[TR_DEMO_N_CAT] = {0};
    for (int i = 0; i < 3000; i++) {
        tr_demo_qa qa, again, held;
        tr_demo_question(1, TR_DEMO_STREAM_TRAIN, (uint64_t)i, false, &qa);
        tr_demo_question(1, TR_DEMO_STREAM_TRAIN, (uint64_t)i, false, &again);
        tr_demo_question(1, TR_DEMO_STREAM_EVAL, (uint64_t)i, true, &held);
        CHECK(!strcmp(qa.question, again.question) && !strcmp(qa.answer, again.answer));
        CHECK(held.cat != TR_DEMO_CHAT);
        seen[qa.cat]++;
        long a, b, c;
        char op[8];
        if (qa.cat <= TR_DEMO_MUL) {
            CHECKF(sscanf(qa.answer, "%ld %7s %ld = %ld", &a, op, &b, &c) == 4, "%s", qa.answer);
            long want = qa.cat == TR_DEMO_ADD ? a + b : qa.cat == TR_DEMO_SUB ? a - b : a * b;
            CHECKF(c == want && c >= 0 && a < 1000 && b < 1000, "%s", qa.answer);
            CHECKF(qa.cat != TR_DEMO_MUL || a < 10 || b < 10, "%s", qa.answer);
        } else if (qa.cat == TR_DEMO_COMPARE) {
            CHECKF(sscanf(qa.answer, "%ld", &a) == 1 && strstr(qa.question, qa.answer) == NULL,
                   "%s", qa.answer);
        }
    }
    for (int k = 0; k < TR_DEMO_N_CAT; k++)
        CHECK(seen[k] > 30);
    tr_demo_qa q1, q2;
    tr_demo_question(1, TR_DEMO_STREAM_TRAIN, 5, false, &q1);
    tr_demo_question(1, TR_DEMO_STREAM_EVAL, 5, false, &q2);
    CHECK(strcmp(q1.question, q2.question) != 0);
    /* Scoring is exact. */
    tr_demo_score sc = {{0}, {0}};
    tr_demo_qa qa = {.cat = TR_DEMO_ADD, .question = "1 + 2?", .answer = "1 + 2 = 3"};
    tr_demo_score_add(&sc, &qa, "1 + 2 = 3", NULL);
    tr_demo_score_add(&sc, &qa, "1 + 2 = 3 ", NULL);
    CHECK(sc.asked[TR_DEMO_ADD] == 2 && sc.correct[TR_DEMO_ADD] == 1);
    CHECK(fabs(tr_demo_score_arith(&sc) - 50.0) < 1e-9);
}

static void test_corpus(void) {
    const char *text = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2 + "
                       "3?<|im_end|>\n<|im_start|>assistant\n2 + 3 = 5<|im_end|>\n"
                       "<|endoftext|>\n\n<|endoftext|>\nplain text document";
    tr_bpe *b;
    bb_error err;
    CHECK(tr_bpe_train(text, strlen(text), 270, k_specials, 3, &b, &err) == BB_OK);
    tr_dataset d;
    CHECK(tr_corpus_build(b, text, strlen(text), TR_LOSS_ASSISTANT, &d, &err) == BB_OK);
    CHECK(d.n_docs == 2); /* the empty document is skipped */
    int32_t tg[64];
    size_t k = 0;
    for (size_t i = d.doc_start[0]; i < d.doc_start[1]; i++)
        if (d.target[i]) tg[k++] = d.tok[i];
    char *s;
    CHECK(tr_bpe_decode(b, tg, k, &s, &err) == BB_OK);
    CHECKF(!strcmp(s, "2 + 3 = 5<|im_end|>"), "assistant targets: '%s'", s);
    free(s);
    size_t n2 = 0;
    for (size_t i = d.doc_start[1]; i < d.doc_start[2]; i++)
        n2 += d.target[i];
    CHECK(n2 == 0); /* no assistant turn in the plain document */
    tr_dataset_free(&d);
    CHECK(tr_corpus_build(b, text, strlen(text), TR_LOSS_ALL, &d, &err) == BB_OK);
    CHECK(d.target[0] == 0 && d.target[1] == 1 && d.target[d.doc_start[1]] == 0);
    tr_dataset_free(&d);
    tr_bpe_free(b);
}

static bool tmp_path(char *buf, size_t cap, const char *name) {
    const char *dir = getenv("TMPDIR");
    snprintf(buf, cap, "%s/bb_test_train_%d_%s", dir ? dir : "/tmp", (int)getpid(), name);
    return true;
}

static void test_checkpoint(void) {
    const char *text = "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
                       "2 + 3 = 5<|im_end|>\n<|endoftext|>\n";
    tr_bpe *b;
    bb_error err;
    CHECK(tr_bpe_train(text, strlen(text), 280, k_specials, 3, &b, &err) == BB_OK);
    tr_hparams hp = tiny_hparams(tr_bpe_n_tokens(b), 16);
    tr_state st, back;
    CHECK(tr_state_init(&st, &hp, 3, &err) == BB_OK);
    tr_dataset d;
    CHECK(tr_corpus_build(b, text, strlen(text), TR_LOSS_ASSISTANT, &d, &err) == BB_OK);
    tr_options o = tr_options_default();
    o.steps = 4, o.batch = 2, o.warmup = 1;
    CHECK(tr_train(&st, &d, &o, NULL, &err) == BB_OK);
    char path[256], side[300];
    tmp_path(path, sizeof path, "ck.gguf");
    snprintf(side, sizeof side, "%s.train", path);
    tr_model_info info = {"test", tr_demo_chat_template(), b};
    CHECK(tr_checkpoint_save(path, &st, &info, &o, TR_LOSS_ASSISTANT, &err) == BB_OK);
    tr_bpe *b2;
    char *tmpl;
    bb_status s = tr_model_load(path, &back, &b2, &tmpl, &err);
    CHECKF(s == BB_OK, "%s", err.message);
    if (s == BB_OK) {
        CHECK(back.L.n_params == st.L.n_params && back.L.hp.n_head_kv == 1 && !back.L.hp.tied);
        CHECK(!memcmp(back.params, st.params, st.L.n_params * sizeof(float)));
        CHECK(tmpl && !strcmp(tmpl, tr_demo_chat_template()));
        CHECK(tr_bpe_n_tokens(b2) == tr_bpe_n_tokens(b));
        tr_options o2 = tr_options_default();
        tr_loss_mode lm = TR_LOSS_ALL;
        CHECK(tr_optimizer_load(path, &back, &o2, &lm, &err) == BB_OK);
        CHECK(back.step == 4 && o2.steps == 4 && o2.batch == 2 && lm == TR_LOSS_ASSISTANT);
        CHECK(!memcmp(back.m, st.m, st.L.n_params * sizeof(float)));
        CHECK(!memcmp(back.v, st.v, st.L.n_params * sizeof(float)));
        /* The sidecar is refused for other weights. */
        back.params[0] += 1;
        CHECK(tr_optimizer_load(path, &back, &o2, &lm, &err) == BB_ERR_FORMAT);
        CHECK(strstr(err.message, "belongs to other weights") != NULL);
        tr_state_free(&back);
        tr_bpe_free(b2);
        free(tmpl);
    }
    remove(side);
    CHECK(tr_optimizer_load(path, &st, &o, &(tr_loss_mode){0}, &err) != BB_OK);
    CHECK(strstr(err.message, "optimizer state") != NULL);
    remove(path);
    CHECK(tr_model_load(path, &back, &b2, &tmpl, &err) == BB_ERR_IO);
    tr_dataset_free(&d);
    tr_state_free(&st);
    tr_bpe_free(b);
}

/* ---------------------------------------------------------------- against the inference path */

/* A trained file loads through the public API; its tokenizer splits text exactly as the
 * trainer's encoder did, and its forward pass gives the trainer's logits (within the F16
 * rounding of the KV cache). */
static void check_inference(bool tied) {
    tr_bpe *b;
    bb_error err;
    char *corpus = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&corpus, &len);
    CHECK(tr_demo_write_corpus(mem, 400, 9, &err) == BB_OK);
    fclose(mem);
    CHECK(tr_bpe_train(corpus, len, 400, k_specials, 3, &b, &err) == BB_OK);
    tr_hparams hp = {.n_vocab = tr_bpe_n_tokens(b),
                     .n_embd = 64,
                     .n_layer = 2,
                     .n_head = 4,
                     .n_head_kv = 2,
                     .n_ff = 96,
                     .n_ctx = 96,
                     .rope_base = 10000,
                     .norm_eps = 1e-5f,
                     .tied = tied};
    tr_state st;
    CHECK(tr_state_init(&st, &hp, 11, &err) == BB_OK);
    for (size_t i = 0; i < st.L.n_params; i++)
        st.params[i] *= 2; /* logits with some spread */
    void *img = NULL;
    size_t img_size = 0;
    tr_model_info info = {"agree", tr_demo_chat_template(), b};
    CHECK(tr_model_save_memory(&st, &info, &img, &img_size, &err) == BB_OK);
    bb_model *m = NULL;
    bb_model_params mp = bb_model_default_params();
    bb_status s = bb_model_load_from_memory(img, img_size, &mp, &m, &err);
    CHECKF(s == BB_OK, "bb_model_load_from_memory: %s", err.message);
    if (s != BB_OK) goto done;
    CHECK(!strcmp(bb_model_arch(m), "llama") && bb_model_n_vocab(m) == hp.n_vocab);
    CHECK(bb_model_chat_template(m) && !strcmp(bb_model_chat_template(m), tr_demo_chat_template()));
    const bb_vocab *v = bb_model_vocab(m);
    CHECK(!bb_vocab_add_bos(v));
    CHECK(bb_vocab_is_eog(v, tr_bpe_find_special(b, TR_DEMO_IM_END)));
    CHECK(bb_vocab_is_control(v, tr_bpe_find_special(b, TR_DEMO_IM_START)));
    /* Tokenization: every document of the corpus, special tokens parsed. */
    size_t pos = 0, docs = 0, same = 0;
    while (pos < len && docs < 60) {
        const char *end = strstr(corpus + pos, TR_DEMO_EOT);
        size_t n = end ? (size_t)(end - corpus) - pos : len - pos;
        int32_t *mine;
        bb_token *theirs;
        size_t n1, n2;
        CHECK(tr_bpe_encode(b, corpus + pos, n, &mine, &n1, &err) == BB_OK);
        CHECK(bb_tokenize(v, corpus + pos, n, false, true, &theirs, &n2, &err) == BB_OK);
        same += n1 == n2 && !memcmp(mine, theirs, n1 * sizeof *mine);
        docs++;
        free(mine);
        bb_free(theirs);
        pos += n + strlen(TR_DEMO_EOT) + 1;
    }
    CHECKF(same == docs, "tokenizations agree on %zu of %zu documents", same, docs);
    /* Logits of every position of one dialogue. */
    const char *text = "<|im_start|>user\nWhat is 347 + 589?<|im_end|>\n<|im_start|>assistant\n"
                       "347 + 589 = 936<|im_end|>";
    int32_t *ids;
    size_t T;
    CHECK(tr_bpe_encode(b, text, strlen(text), &ids, &T, &err) == BB_OK);
    bb_context *ctx = NULL;
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = 96, cp.n_batch = 96, cp.n_threads = 1;
    CHECK(bb_context_new(m, &cp, &ctx, &err) == BB_OK);
    bb_batch batch = bb_batch_new(96);
    for (size_t t = 0; t < T; t++)
        bb_batch_add(&batch, ids[t], (int32_t)t, 0, true);
    s = ctx ? bb_decode(ctx, &batch, &err) : BB_ERR_INTERNAL;
    CHECKF(s == BB_OK, "bb_decode: %s", err.message);
    tr_weights_f32 w;
    tr_acts_f32 *a = tr_acts_new_f32(&st.L, (int)T);
    int32_t start[2] = {0, (int32_t)T}, sel[96];
    for (size_t t = 0; t < T; t++)
        sel[t] = (int32_t)t;
    CHECK(tr_weights_init_f32(&w, &st.L, st.params, &err) == BB_OK);
    tr_forward_f32(&w, a, ids, start, 1, sel, (int)T);
    double sum = 0, sq = 0, worst = 0;
    size_t V = (size_t)hp.n_vocab, argmax_same = 0;
    for (size_t t = 0; s == BB_OK && t < T; t++) {
        const float *ref = tr_acts_logits_f32(a) + t * V, *got = bb_get_logits(ctx, (int32_t)t);
        size_t am1 = 0, am2 = 0;
        for (size_t i = 0; i < V; i++) {
            sum += ref[i], sq += (double)ref[i] * ref[i];
            worst = fmax(worst, fabs(ref[i] - got[i]));
            if (ref[i] > ref[am1]) am1 = i;
            if (got[i] > got[am2]) am2 = i;
        }
        argmax_same += am1 == am2;
    }
    double n = (double)(T * V), sd = sqrt(fmax(sq / n - (sum / n) * (sum / n), 1e-30));
    printf("inference vs trainer (%s): max |diff| %.3g, logit std %.3g, argmax %zu/%zu\n",
           tied ? "tied" : "untied", worst, sd, argmax_same, T);
    CHECKF(s == BB_OK && worst / sd < 5e-3, "logits differ by %g (std %g)", worst, sd);
    CHECK(argmax_same + 1 >= T);
    tr_weights_free_f32(&w);
    tr_acts_free_f32(a);
    bb_batch_free(&batch);
    bb_context_free(ctx);
    free(ids);
done:
    bb_model_free(m);
    free(img);
    free(corpus);
    tr_state_free(&st);
    tr_bpe_free(b);
}

/* The model built into the binary (when the build had assets/demo-model.gguf) loads from
 * memory and answers held-out questions through the public API. */
static void test_embedded_model(void) {
    size_t size;
    const unsigned char *data = bb_demo_model_data(&size);
    if (!data) {
        printf("SKIP: no built-in demo model in this build (assets/demo-model.gguf)\n");
        return;
    }
    CHECK(size <= 8u << 20 && ((uintptr_t)data & 63) == 0);
    bb_model *m = NULL;
    bb_model_params mp = bb_model_default_params();
    bb_error err;
    bb_status s = bb_model_load_from_memory(data, size, &mp, &m, &err);
    CHECKF(s == BB_OK, "%s", err.message);
    if (s != BB_OK) return;
    CHECK(!strcmp(bb_model_arch(m), "llama") && bb_model_chat_template(m) != NULL);
    tr_demo_score sc;
    int n = getenv("BB_SANITIZED") ? 20 : 100;
    CHECK(tr_demo_eval_api(m, n, 1, 1, &sc, stderr, &err) == BB_OK);
    printf("built-in demo model: arithmetic %.1f%% of %d questions\n", tr_demo_score_arith(&sc),
           n);
    CHECK(tr_demo_score_arith(&sc) >= 85.0);
    bb_model_free(m);
}

int main(void) {
    test_linear();
    test_embedding();
    test_rmsnorm();
    test_rope();
    test_attention();
    test_swiglu();
    test_xent();
    test_gemm_kernel();
    test_model_grad(true);
    test_model_grad(false);
    test_model_f32_vs_f64();
    test_layout_errors();
    test_adamw();
    test_training_run();
    test_determinism();
    test_pretok();
    test_bpe();
    test_demo_data();
    test_corpus();
    test_checkpoint();
    check_inference(true);
    check_inference(false);
    test_embedded_model();
    return tu_finish("test_train");
}
