/*
 * K-quants (Q2_K..Q6_K, Q8_K): traits, reference quantize/dequantize error, reference dot
 * products against float dot products of the dequantized rows, and every SIMD level this CPU
 * has against the scalar reference. With ../shared/testdata, the reference quantizers are
 * checked byte for byte against tensors llama-quantize wrote.
 *
 * BB_QUANT_BENCH=1 adds a micro-benchmark (GB/s of weight bytes per kernel and level).
 */
#include "quant/blocks_k.h"
#include "testutil.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const int weight_types[] = {BB_TYPE_Q2_K, BB_TYPE_Q3_K, BB_TYPE_Q4_K, BB_TYPE_Q5_K,
                                   BB_TYPE_Q6_K};
#define N_WEIGHT_TYPES ((int)(sizeof weight_types / sizeof weight_types[0]))
static const char *const simd_levels[] = {"avx2", "avx512"};

/* Bounds on RMS(dequant(quant(x)) - x) / RMS(x) for Gaussian rows, per type. Measured on
 * this fixture (16 rows x 4096): Q2_K 0.2866, Q3_K 0.1462, Q4_K 0.0691, Q5_K 0.0349,
 * Q6_K 0.0171, Q8_K 0.0062; each bound is 1.1-1.2x the measurement, so a quantizer that got
 * measurably worse fails. For comparison, a uniform quantizer over +-4 sigma has RMS error
 * 8 / (2^b - 1) / sqrt(12) sigma: 0.77 / 0.33 / 0.15 / 0.075 / 0.037 / 0.009 at 2, 3, 4, 5,
 * 6, 8 bits; per-sub-block scales that track the local range do 2-5x better. */
static double rmse_bound(int type) {
    switch (type) {
    case BB_TYPE_Q2_K:
        return 0.31;
    case BB_TYPE_Q3_K:
        return 0.17;
    case BB_TYPE_Q4_K:
        return 0.08;
    case BB_TYPE_Q5_K:
        return 0.040;
    case BB_TYPE_Q6_K:
        return 0.020;
    default:
        return 0.0075; /* Q8_K */
    }
}

/* SIMD and scalar dot products compute the same integers per super-block and differ only in
 * how the float terms are grouped and rounded (per-lane partial sums, FMA). Each float step
 * errs by at most 2^-24 relative to the magnitudes involved, and a row has at most
 * nb + 16 such steps on any path (nb = 43 for 11008 weights), so the difference is bounded
 * by (nb + 16) * 2^-23 * S with S = sum |w_i| |y_i| over both parts of each weight (scale
 * part and min part, which can cancel). We allow 2^-23 * (nb + 64) * S. */
static double dot_tolerance(int64_t n, double S) {
    return S * (double)(n / QK_K + 64) / 8388608.0;
}

/* ------------------------------------------------------------------------- fixtures */

static float rand_gauss(uint64_t *st) { /* Irwin-Hall(4), unit variance, good enough */
    float s = 0;
    for (int i = 0; i < 4; i++)
        s += tu_rand_uniform(st);
    return s * 0.8660254f;
}

static void fill_gauss(float *x, int64_t n, uint64_t *st, float scale) {
    for (int64_t i = 0; i < n; i++)
        x[i] = scale * rand_gauss(st);
}

/* Weights with structure seen in real models: per-block magnitude changes, a few outliers,
 * an offset in some blocks. */
static void fill_weights(float *x, int64_t n, uint64_t *st) {
    for (int64_t b = 0; b < n / QK_K; b++) {
        float scale = 0.01f + 0.05f * (tu_rand_uniform(st) + 1.0f);
        float offset = (b % 3 == 1) ? 0.5f * scale : 0.0f;
        for (int j = 0; j < QK_K; j++)
            x[b * QK_K + j] = offset + scale * rand_gauss(st);
        if (b % 4 == 2) x[b * QK_K + (int)(tu_rand_u64(st) % QK_K)] *= 8.0f;
    }
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static void *quantize_new(int type, const float *x, int64_t n) {
    const bb_type_traits *t = bb_type_get_ref(type);
    void *q = xmalloc(bb_row_size(type, n));
    t->from_float(x, q, n);
    return q;
}

/* Where a weight type keeps its fp16 super-block factors d and dmin (SIZE_MAX: no dmin). */
static void factor_offsets(int type, size_t *d_off, size_t *dmin_off) {
    *dmin_off = SIZE_MAX;
    switch (type) {
    case BB_TYPE_Q2_K:
        *d_off = offsetof(bb_block_q2_K, d);
        *dmin_off = offsetof(bb_block_q2_K, dmin);
        break;
    case BB_TYPE_Q3_K:
        *d_off = offsetof(bb_block_q3_K, d);
        break;
    case BB_TYPE_Q4_K:
        *d_off = offsetof(bb_block_q4_K, d);
        *dmin_off = offsetof(bb_block_q4_K, dmin);
        break;
    case BB_TYPE_Q5_K:
        *d_off = offsetof(bb_block_q5_K, d);
        *dmin_off = offsetof(bb_block_q5_K, dmin);
        break;
    default:
        *d_off = offsetof(bb_block_q6_K, d);
        break;
    }
}

/* Random bytes for a weight row, with finite fp16 super-block factors, so kernels see every
 * quant, scale and min pattern. */
static void fill_random_blocks(int type, void *row, int64_t n, uint64_t *st) {
    const bb_type_traits *t = bb_type_get_ref(type);
    uint8_t *p = row;
    size_t bytes = bb_row_size(type, n), d_off, dmin_off;
    factor_offsets(type, &d_off, &dmin_off);
    for (size_t i = 0; i < bytes; i++)
        p[i] = (uint8_t)tu_rand_u64(st);
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t *blk = p + b * t->type_size;
        uint16_t d = bb_fp32_to_fp16(tu_rand_uniform(st) * 0.01f);
        uint16_t dmin = bb_fp32_to_fp16(tu_rand_uniform(st) * 0.01f);
        memcpy(blk + d_off, &d, 2);
        if (dmin_off != SIZE_MAX) memcpy(blk + dmin_off, &dmin, 2);
    }
}

/* A Q8_K row of arbitrary int8 values (including -128, which our quantizer never makes) with
 * consistent bsums. mode 0: random, 1: all -128, 2: all 127. */
static void fill_q8k_blocks(bb_block_q8_K *y, int64_t nb, uint64_t *st, int mode) {
    for (int64_t b = 0; b < nb; b++) {
        y[b].d = 0.5f + tu_rand_uniform(st);
        for (int j = 0; j < QK_K; j++)
            y[b].qs[j] = mode == 1 ? -128 : mode == 2 ? 127 : (int8_t)tu_rand_u64(st);
        for (int g = 0; g < QK_K / 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++)
                s += y[b].qs[16 * g + j];
            y[b].bsums[g] = (int16_t)s;
        }
    }
}

/* The weights' magnitudes with the scale part and min part added instead of subtracted:
 * flips dmin's sign (and makes d positive) so that |dequant| of the result bounds both parts.
 * Types without a min just take |d|. */
static void magnitude_row(int type, void *row, int64_t n) {
    const bb_type_traits *t = bb_type_get_ref(type);
    size_t d_off, dmin_off;
    factor_offsets(type, &d_off, &dmin_off);
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t *blk = (uint8_t *)row + b * t->type_size;
        uint16_t h;
        memcpy(&h, blk + d_off, 2);
        h &= 0x7fff;
        memcpy(blk + d_off, &h, 2);
        if (dmin_off != SIZE_MAX) {
            memcpy(&h, blk + dmin_off, 2);
            h |= 0x8000;
            memcpy(blk + dmin_off, &h, 2);
        }
    }
}

/* S = sum |w_i| |y_i| over the magnitude row (see dot_tolerance). */
static double dot_magnitude(int type, const void *x, const void *y, int64_t n) {
    size_t bytes = bb_row_size(type, n);
    void *xm = xmalloc(bytes);
    memcpy(xm, x, bytes);
    magnitude_row(type, xm, n);
    float *xf = xmalloc((size_t)n * sizeof(float)), *yf = xmalloc((size_t)n * sizeof(float));
    bb_type_get_ref(type)->to_float(xm, xf, n);
    bb_type_get_ref(BB_TYPE_Q8_K)->to_float(y, yf, n);
    double S = 0;
    for (int64_t i = 0; i < n; i++)
        S += fabs((double)xf[i]) * fabs((double)yf[i]);
    free(xm);
    free(xf);
    free(yf);
    return S;
}

/* ---------------------------------------------------------------------------- traits */

static void test_traits(void) {
    static const struct {
        int type;
        const char *name;
        size_t size;
    } want[] = {{BB_TYPE_Q2_K, "Q2_K", 84},  {BB_TYPE_Q3_K, "Q3_K", 110},
                {BB_TYPE_Q4_K, "Q4_K", 144}, {BB_TYPE_Q5_K, "Q5_K", 176},
                {BB_TYPE_Q6_K, "Q6_K", 210}, {BB_TYPE_Q8_K, "Q8_K", 292}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const bb_type_traits *t = bb_type_get_ref(want[i].type);
        CHECKF(t != NULL, "%s missing", want[i].name);
        if (!t) continue;
        CHECK(strcmp(t->name, want[i].name) == 0);
        CHECK(t->block_size == QK_K);
        CHECK(t->type_size == want[i].size);
        CHECK(t->vec_dot_type == BB_TYPE_Q8_K);
        CHECK(t->to_float && t->from_float);
        bool weight = want[i].type != BB_TYPE_Q8_K;
        CHECK(t->is_weight_type == weight);
        CHECK((t->vec_dot != NULL) == weight);
        CHECK(bb_row_size(want[i].type, 4096) == 16 * want[i].size);
        CHECK(bb_row_size(want[i].type, 100) == 0);
        const bb_type_traits *best = bb_type_get(want[i].type);
        CHECK(best && strcmp(best->name, want[i].name) == 0);
    }
}

/* ---------------------------------------------------------------------------- Q8_K */

static void check_q8k_block(const float *x, const bb_block_q8_K *y) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK_K; j++)
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    bool ok_bsums = true, ok_range = true, ok_err = true;
    for (int g = 0; g < QK_K / 16; g++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += y->qs[16 * g + j];
        ok_bsums &= s == y->bsums[g];
    }
    for (int j = 0; j < QK_K; j++) {
        ok_range &= y->qs[j] >= -127;
        /* round to nearest: off by at most half a step (plus float slack) */
        ok_err &= fabsf(y->d * y->qs[j] - x[j]) <= 0.5001f * fabsf(y->d) + 1e-30f;
    }
    CHECK(ok_bsums);
    CHECK(ok_range);
    CHECK(ok_err);
    if (amax > 0) {
        /* the element of largest magnitude maps to -127, so d has the opposite sign */
        CHECK(y->d * max < 0);
        CHECKF(fabsf(fabsf(y->d) * 127 - amax) <= 1e-6f * amax, "d %g amax %g", y->d, amax);
    } else {
        CHECK(y->d == 0);
    }
}

static void test_q8k_ref(void) {
    uint64_t st = 11;
    enum { NB = 8 };
    float x[NB * QK_K];
    bb_block_q8_K y[NB];
    fill_gauss(x, NB * QK_K, &st, 3.0f);
    for (int j = 0; j < QK_K; j++)
        x[QK_K + j] = 0;        /* block 1: all zero */
    x[2 * QK_K + 5] = -1000.0f; /* block 2: negative spike */
    bb_type_get_ref(BB_TYPE_Q8_K)->from_float(x, y, NB * QK_K);
    for (int b = 0; b < NB; b++)
        check_q8k_block(x + b * QK_K, &y[b]);
    CHECK(y[2].qs[5] == -127 && y[2].d > 0);
    float back[NB * QK_K];
    bb_type_get_ref(BB_TYPE_Q8_K)->to_float(y, back, NB * QK_K);
    bool zeros = true;
    for (int j = 0; j < QK_K; j++)
        zeros &= back[QK_K + j] == 0.0f;
    CHECK(zeros);
}

/* -------------------------------------------------------------- quantization error */

static double rel_rmse(int type, const float *x, int64_t n) {
    const bb_type_traits *t = bb_type_get_ref(type);
    void *q = quantize_new(type, x, n);
    float *back = xmalloc((size_t)n * sizeof(float));
    t->to_float(q, back, n);
    double se = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) {
        se += ((double)back[i] - x[i]) * ((double)back[i] - x[i]);
        ss += (double)x[i] * x[i];
    }
    free(q);
    free(back);
    return ss > 0 ? sqrt(se / ss) : sqrt(se);
}

static void test_quant_error(void) {
    enum { ROWS = 16, N = 4096 };
    float *x = xmalloc(ROWS * N * sizeof(float));
    uint64_t st = 42;
    fill_gauss(x, ROWS * N, &st, 0.02f);
    static const int all[] = {BB_TYPE_Q2_K, BB_TYPE_Q3_K, BB_TYPE_Q4_K,
                              BB_TYPE_Q5_K, BB_TYPE_Q6_K, BB_TYPE_Q8_K};
    for (int k = 0; k < 6; k++) {
        double e = rel_rmse(all[k], x, ROWS * N);
        printf("  %s: relative RMSE %.4f (bound %.4f)\n", bb_type_get_ref(all[k])->name, e,
               rmse_bound(all[k]));
        CHECKF(e < rmse_bound(all[k]), "%s rmse %g", bb_type_get_ref(all[k])->name, e);
    }
    /* more bits, less error, on structured weights too (their x8 outliers widen the
     * steps of whole blocks, so the bounds are 1.6x looser: measured Q2_K 0.283, Q3_K 0.153,
     * Q4_K 0.069, Q5_K 0.035, Q6_K 0.019, Q8_K 0.011) */
    fill_weights(x, ROWS * N, &st);
    double prev = 1e9;
    for (int k = 0; k < 6; k++) {
        double e = rel_rmse(all[k], x, ROWS * N);
        CHECKF(e < prev && e < rmse_bound(all[k]) * 1.6, "%s structured rmse %g",
               bb_type_get_ref(all[k])->name, e);
        prev = e;
    }
    free(x);
}

/* Inputs that stress the quantizers' special cases: zeros, constants, one spike, tiny and
 * huge magnitudes, ties. Outputs must decode to finite values close to the input. */
static void test_quant_edges(void) {
    enum { NCASE = 8 };
    float x[NCASE * QK_K];
    uint64_t st = 5;
    for (int c = 0; c < NCASE; c++) {
        float *b = x + c * QK_K;
        for (int j = 0; j < QK_K; j++) {
            switch (c) {
            case 0:
                b[j] = 0;
                break;
            case 1:
                b[j] = 0.25f;
                break;
            case 2:
                b[j] = -3.0f;
                break;
            case 3:
                b[j] = j == 77 ? 5.0f : 0.0f;
                break;
            case 4:
                b[j] = 1e-20f * tu_rand_uniform(&st);
                break;
            case 5:
                b[j] = 1e4f * tu_rand_uniform(&st);
                break;
            case 6:
                b[j] = (float)(j % 8) - 3.5f;
                break; /* exact half steps */
            default:
                b[j] = j < 128 ? 1.0f : -1.0f;
                break;
            }
        }
    }
    static const int all[] = {BB_TYPE_Q2_K, BB_TYPE_Q3_K, BB_TYPE_Q4_K,
                              BB_TYPE_Q5_K, BB_TYPE_Q6_K, BB_TYPE_Q8_K};
    for (int k = 0; k < 6; k++) {
        const bb_type_traits *t = bb_type_get_ref(all[k]);
        void *q = quantize_new(all[k], x, NCASE * QK_K);
        float back[NCASE * QK_K];
        t->to_float(q, back, NCASE * QK_K);
        for (int c = 0; c < NCASE; c++) {
            double amax = 0, maxerr = 0;
            bool finite = true;
            for (int j = 0; j < QK_K; j++) {
                amax = fmax(amax, fabs(x[c * QK_K + j]));
                finite &= isfinite(back[c * QK_K + j]);
                maxerr = fmax(maxerr, fabs((double)back[c * QK_K + j] - x[c * QK_K + j]));
            }
            CHECKF(finite, "%s case %d", t->name, c);
            /* the coarsest type (2 bits, 4-bit scales, fp16 factors) still lands within
             * 60% of the block's range; tiny inputs underflow fp16 and decode to ~0 */
            CHECKF(maxerr <= 0.6 * amax + 1e-6, "%s case %d: max error %g of %g", t->name, c,
                   maxerr, amax);
            if (c == 0) CHECKF(maxerr == 0, "%s zeros decode to %g", t->name, maxerr);
        }
        free(q);
    }
}

/* Non-finite and extreme inputs have no meaningful quantization, but must not crash or
 * invoke undefined behaviour (the sanitized build checks the latter). */
static void test_quant_nonfinite(void) {
    float x[2 * QK_K];
    for (int j = 0; j < 2 * QK_K; j++) {
        static const float pattern[] = {1.0f, -3e38f, 3e38f, 0.0f, -1e-38f, 2.5f};
        x[j] = pattern[j % 6];
    }
    x[3] = INFINITY;
    x[300] = -INFINITY;
    x[301] = NAN;
    static const int all[] = {BB_TYPE_Q2_K, BB_TYPE_Q3_K, BB_TYPE_Q4_K,
                              BB_TYPE_Q5_K, BB_TYPE_Q6_K, BB_TYPE_Q8_K};
    for (int k = 0; k < 6; k++) {
        const bb_type_traits *t = bb_type_get(all[k]);
        void *q = quantize_new(all[k], x, 2 * QK_K);
        t->from_float(x, q, 2 * QK_K);
        float back[2 * QK_K];
        t->to_float(q, back, 2 * QK_K);
        free(q);
    }
    printf("  non-finite and extreme inputs: quantized and decoded without faults\n");
}

/* ------------------------------------------------------------ reference dot products */

static void test_ref_dot(void) {
    static const int64_t sizes[] = {256, 4096, 11008};
    uint64_t st = 7;
    for (int k = 0; k < N_WEIGHT_TYPES; k++) {
        int type = weight_types[k];
        const bb_type_traits *t = bb_type_get_ref(type);
        for (int s = 0; s < 3; s++) {
            int64_t n = sizes[s];
            float *w = xmalloc((size_t)n * sizeof(float)), *a = xmalloc((size_t)n * sizeof(float));
            fill_weights(w, n, &st);
            fill_gauss(a, n, &st, 1.0f);
            void *qw = quantize_new(type, w, n);
            void *qa = quantize_new(BB_TYPE_Q8_K, a, n);
            float *wf = xmalloc((size_t)n * sizeof(float)),
                  *af = xmalloc((size_t)n * sizeof(float));
            t->to_float(qw, wf, n);
            bb_type_get_ref(BB_TYPE_Q8_K)->to_float(qa, af, n);
            double want = 0;
            for (int64_t i = 0; i < n; i++)
                want += (double)wf[i] * af[i];
            float got;
            t->vec_dot(n, &got, qw, qa);
            double tol = dot_tolerance(n, dot_magnitude(type, qw, qa, n));
            CHECKF(fabs(got - want) <= tol, "%s n=%lld: %.9g vs %.9g (tol %g)", t->name,
                   (long long)n, got, want, tol);
            free(w);
            free(a);
            free(qw);
            free(qa);
            free(wf);
            free(af);
        }
    }
}

/* ------------------------------------------------------------------ SIMD vs scalar */

static double worst_ratio; /* largest |simd - ref| / (S * 2^-23) seen, for the log */

static void compare_dot(int type, const bb_type_traits *lv, const void *qw, const void *qa,
                        int64_t n, const char *level, const char *what) {
    float want, got;
    bb_type_get_ref(type)->vec_dot(n, &want, qw, qa);
    lv->vec_dot(n, &got, qw, qa);
    double S = dot_magnitude(type, qw, qa, n), tol = dot_tolerance(n, S);
    if (S > 0) worst_ratio = fmax(worst_ratio, fabs((double)got - want) / (S / 8388608.0));
    CHECKF(fabs((double)got - want) <= tol, "%s %s %s n=%lld: %.9g vs %.9g (tol %g)", level,
           lv->name, what, (long long)n, got, want, tol);
}

static void compare_dequant(int type, const bb_type_traits *lv, const void *q, int64_t n,
                            const char *level) {
    float *a = xmalloc((size_t)n * sizeof(float)), *b = xmalloc((size_t)n * sizeof(float));
    bb_type_get_ref(type)->to_float(q, a, n);
    lv->to_float(q, b, n);
    CHECKF(memcmp(a, b, (size_t)n * sizeof(float)) == 0, "%s %s to_float differs", level, lv->name);
    free(a);
    free(b);
}

/* Checks the kernels of lv (one SIMD level, named `level` in messages) against the scalar
 * reference. */
static void test_level_weights(const char *level, int type, const bb_type_traits *lv) {
    static const int64_t sizes[] = {256, 4096, 11008};
    uint64_t st = 1000 + (uint64_t)type;
    for (int s = 0; s < 3; s++) {
        int64_t n = sizes[s];
        float *w = xmalloc((size_t)n * sizeof(float)), *a = xmalloc((size_t)n * sizeof(float));
        fill_weights(w, n, &st);
        fill_gauss(a, n, &st, 1.0f);
        void *qw = quantize_new(type, w, n);
        void *qa = quantize_new(BB_TYPE_Q8_K, a, n);
        compare_dot(type, lv, qw, qa, n, level, "quantized rows");
        compare_dequant(type, lv, qw, n, level);
        /* every bit pattern of quants, scales and mins, and extreme activations */
        fill_random_blocks(type, qw, n, &st);
        for (int mode = 0; mode < 3; mode++) {
            fill_q8k_blocks(qa, n / QK_K, &st, mode);
            compare_dot(type, lv, qw, qa, n, level, mode ? "extreme int8" : "random blocks");
        }
        compare_dequant(type, lv, qw, n, level);
        free(w);
        free(a);
        free(qw);
        free(qa);
    }
}

static void test_level_q8k(const char *level) {
    const bb_type_traits *ref = bb_type_get_ref(BB_TYPE_Q8_K);
    const bb_type_traits *lv = bb_type_get_level(BB_TYPE_Q8_K, level);
    static const int64_t sizes[] = {256, 4096, 11008};
    uint64_t st = 99;
    for (int s = 0; s < 3; s++) {
        int64_t n = sizes[s];
        float *x = xmalloc((size_t)n * sizeof(float));
        fill_gauss(x, n, &st, 2.0f);
        /* edge blocks: zeros, a +/- tie for the max (first one wins), one spike,
         * exact .5 products, huge, tiny and subnormal values */
        if (n >= 8 * QK_K) {
            for (int j = 0; j < QK_K; j++) {
                x[j] = 0;
                x[QK_K + j] = (j == 3) ? -2.0f : (j == 9) ? 2.0f : 0.5f;
                x[2 * QK_K + j] = j == 200 ? 7.0f : 0.0f;
                x[3 * QK_K + j] = (float)((j % 255) - 127) * 0.5f;
                x[4 * QK_K + j] = 1e30f * tu_rand_uniform(&st);
                x[5 * QK_K + j] = 1e-30f * tu_rand_uniform(&st);
                x[6 * QK_K + j] = (j == 255) ? 1.0f : -0.9999f;
                x[7 * QK_K + j] = 1e-39f * (float)(j % 7); /* 127 / amax overflows */
            }
        }
        size_t bytes = bb_row_size(BB_TYPE_Q8_K, n);
        uint8_t *a = xmalloc(bytes), *b = xmalloc(bytes);
        memset(a, 0xAA, bytes);
        memset(b, 0x55, bytes);
        ref->from_float(x, a, n);
        lv->from_float(x, b, n);
        CHECKF(memcmp(a, b, bytes) == 0, "%s Q8_K from_float differs (n=%lld)", level,
               (long long)n);
        free(x);
        free(a);
        free(b);
    }
}

static void test_levels(void) {
    for (int l = 0; l < 2; l++) {
        const char *level = simd_levels[l];
        if (!bb_type_get_level(BB_TYPE_Q4_K, level)) {
            printf("SKIP: %s kernels (this CPU lacks %s)\n", level, level);
            continue;
        }
        printf("  checking %s kernels against the scalar reference\n", level);
        for (int k = 0; k < N_WEIGHT_TYPES; k++)
            test_level_weights(level, weight_types[k], bb_type_get_level(weight_types[k], level));
        test_level_q8k(level);
    }
    /* the traits table holds one AVX-512 variant per type (VNNI where the CPU has it); check
     * the other too */
    for (int k = 0; k < N_WEIGHT_TYPES; k++) {
        bb_vec_dot_fn plain, vnni;
        bb_kq_avx512_variants(weight_types[k], &plain, &vnni);
        bb_type_traits t = *bb_type_get_ref(weight_types[k]);
        if (plain) {
            t.vec_dot = plain;
            test_level_weights("avx512 (no VNNI)", weight_types[k], &t);
        }
        if (vnni) {
            t.vec_dot = vnni;
            test_level_weights("avx512 (VNNI)", weight_types[k], &t);
        }
        if (plain && !vnni && weight_types[k] == BB_TYPE_Q4_K)
            printf("SKIP: AVX512-VNNI kernels (this CPU lacks VNNI)\n");
    }
    printf("  largest SIMD-vs-scalar dot difference: %.2f * 2^-23 * S (allowed: nb + 64)\n",
           worst_ratio);
}

/* --------------------------------------------------- conformance with llama-quantize */

/* A minimal GGUF reader (header, metadata skipped except general.alignment, tensor table),
 * enough to find tensors by name in the trusted conformance files. Bounds-checked. */
typedef struct {
    const uint8_t *p, *end;
    bool bad;
} rd;

static uint64_t rd_u(rd *r, int bytes) {
    if (r->bad || (size_t)(r->end - r->p) < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, (size_t)bytes); /* little-endian host */
    r->p += bytes;
    return v;
}

static void rd_skip(rd *r, uint64_t n) {
    if (r->bad || (uint64_t)(r->end - r->p) < n)
        r->bad = true;
    else
        r->p += n;
}

static void rd_skip_value(rd *r, uint32_t type, int depth) {
    static const int sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) {
        rd_skip(r, rd_u(r, 8));
    } else if (type == 9 && depth == 0) {
        uint32_t et = (uint32_t)rd_u(r, 4);
        uint64_t cnt = rd_u(r, 8);
        for (uint64_t i = 0; i < cnt && !r->bad; i++)
            rd_skip_value(r, et, 1);
    } else if (type < 13 && sizes[type]) {
        rd_skip(r, (uint64_t)sizes[type]);
    } else {
        r->bad = true;
    }
}

typedef struct {
    char name[96];
    int type;
    int64_t n;
    const uint8_t *data;
} gg_tensor;

typedef struct {
    char *buf;
    gg_tensor *t;
    int n;
} gg_file;

static bool gg_open(const char *path, gg_file *f) {
    size_t len;
    memset(f, 0, sizeof *f);
    f->buf = tu_read_file(path, &len);
    if (!f->buf) return false;
    rd r = {(const uint8_t *)f->buf, (const uint8_t *)f->buf + len, false};
    if (rd_u(&r, 4) != 0x46554747u || rd_u(&r, 4) != 3) return false;
    uint64_t nt = rd_u(&r, 8), nkv = rd_u(&r, 8), align = 32;
    if (nt > 10000) return false;
    for (uint64_t i = 0; i < nkv && !r.bad; i++) {
        uint64_t klen = rd_u(&r, 8);
        const uint8_t *key = r.p;
        rd_skip(&r, klen);
        uint32_t vt = (uint32_t)rd_u(&r, 4);
        if (!r.bad && klen == 17 && memcmp(key, "general.alignment", 17) == 0 && vt == 4)
            align = rd_u(&r, 4);
        else
            rd_skip_value(&r, vt, 0);
    }
    f->t = calloc(nt ? nt : 1, sizeof *f->t);
    uint64_t *offs = calloc(nt ? nt : 1, sizeof *offs);
    for (uint64_t i = 0; i < nt && !r.bad; i++) {
        gg_tensor *t = &f->t[i];
        uint64_t nlen = rd_u(&r, 8);
        if (nlen < sizeof t->name && !r.bad && (uint64_t)(r.end - r.p) >= nlen)
            memcpy(t->name, r.p, nlen);
        rd_skip(&r, nlen);
        uint32_t nd = (uint32_t)rd_u(&r, 4);
        t->n = 1;
        for (uint32_t d = 0; d < nd && d < 4; d++)
            t->n *= (int64_t)rd_u(&r, 8);
        t->type = (int)rd_u(&r, 4);
        offs[i] = rd_u(&r, 8);
    }
    size_t start = (size_t)(r.p - (const uint8_t *)f->buf);
    start = (start + align - 1) / align * align;
    for (uint64_t i = 0; i < nt && !r.bad; i++) {
        size_t bytes = bb_row_size(f->t[i].type, f->t[i].n);
        if (f->t[i].type == 0) bytes = (size_t)f->t[i].n * 4;
        if (f->t[i].type == 1) bytes = (size_t)f->t[i].n * 2;
        if (bytes && start + offs[i] + bytes <= len)
            f->t[i].data = (uint8_t *)f->buf + start + offs[i];
    }
    free(offs);
    f->n = (int)nt;
    return !r.bad;
}

static void gg_close(gg_file *f) {
    free(f->buf);
    free(f->t);
}

static const gg_tensor *gg_find(const gg_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
    return NULL;
}

/* The f32 source of a tensor as floats (F32 or F16 source file), malloc'd. */
static float *source_floats(const gg_tensor *src) {
    float *x = xmalloc((size_t)src->n * sizeof(float));
    for (int64_t i = 0; i < src->n; i++) {
        if (src->type == 0) {
            memcpy(&x[i], src->data + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, src->data + 2 * i, 2);
            x[i] = bb_fp16_to_fp32(h);
        }
    }
    return x;
}

static void conformance_file(const char *dir, const char *qname, const char *srcname) {
    char qpath[1024], spath[1024];
    snprintf(qpath, sizeof qpath, "%s/models/%s", dir, qname);
    snprintf(spath, sizeof spath, "%s/models/%s", dir, srcname);
    gg_file qf, sf;
    bool okq = gg_open(qpath, &qf), oks = gg_open(spath, &sf);
    CHECKF(okq && oks, "cannot read %s or %s", qname, srcname);
    int checked = 0, exact = 0, per_type[5] = {0};
    for (int i = 0; okq && oks && i < qf.n; i++) {
        const gg_tensor *qt = &qf.t[i];
        if (qt->type < BB_TYPE_Q2_K || qt->type > BB_TYPE_Q6_K || !qt->data) continue;
        const gg_tensor *st = gg_find(&sf, qt->name);
        if (!st || !st->data || st->n != qt->n || st->type > 1) continue;
        float *x = source_floats(st);
        void *q = quantize_new(qt->type, x, qt->n);
        size_t bytes = bb_row_size(qt->type, qt->n);
        checked++;
        per_type[qt->type - BB_TYPE_Q2_K]++;
        if (memcmp(q, qt->data, bytes) == 0) {
            exact++;
        } else {
            size_t diff = 0;
            for (size_t b = 0; b < bytes; b++)
                diff += ((uint8_t *)q)[b] != qt->data[b];
            printf("  %s %s (%s): %zu of %zu bytes differ\n", qname, qt->name,
                   bb_type_get_ref(qt->type)->name, diff, bytes);
        }
        /* dequantization against the source: within the type's error bound */
        float *back = xmalloc((size_t)qt->n * sizeof(float));
        bb_type_get_ref(qt->type)->to_float(qt->data, back, qt->n);
        double se = 0, ss = 0;
        for (int64_t j = 0; j < qt->n; j++) {
            se += ((double)back[j] - x[j]) * ((double)back[j] - x[j]);
            ss += (double)x[j] * x[j];
        }
        CHECKF(sqrt(se / ss) < 1.2 * rmse_bound(qt->type), "%s %s dequant rmse %g", qname, qt->name,
               sqrt(se / ss));
        free(back);
        free(x);
        free(q);
    }
    printf("  %s: %d of %d K-quant tensors (Q2_K..Q6_K: %d %d %d %d %d) re-quantized "
           "byte-identically from %s\n",
           qname, exact, checked, per_type[0], per_type[1], per_type[2], per_type[3], per_type[4],
           srcname);
    CHECKF(checked > 0, "%s: no K-quant tensors compared", qname);
    CHECKF(exact == checked, "%s: %d tensors differ from llama-quantize", qname, checked - exact);
    if (okq) gg_close(&qf);
    if (oks) gg_close(&sf);
}

static void test_conformance(void) {
    const char *dir = tu_testdata();
    if (!dir) {
        tu_skip("K-quant byte-for-byte check against llama-quantize");
        return;
    }
    static const char *const files[] = {"llamaA-Q2_K.gguf", "llamaA-Q3_K_M.gguf",
                                        "llamaA-Q4_K_M.gguf", "llamaA-Q5_K_M.gguf",
                                        "llamaA-Q6_K.gguf"};
    for (int i = 0; i < 5; i++)
        conformance_file(dir, files[i], "llamaA-f32.gguf");
    /* llama-quantize converts an F16 source to float first, as source_floats does */
    conformance_file(dir, "qwen2B-Q4_K_M.gguf", "qwen2B-f16.gguf");
}

/* ------------------------------------------------------------------ benchmark */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best of 5 timings of one pass of vec_dot over every row of m, after a warm-up pass. */
static double time_rows(const bb_type_traits *t, const uint8_t *m, size_t row, int rows, int n,
                        const void *qa) {
    double best = 1e9;
    float sink = 0;
    for (int rep = 0; rep < 6; rep++) {
        double t0 = now_s();
        for (int r = 0; r < rows; r++) {
            float s;
            t->vec_dot(n, &s, m + row * (size_t)r, qa);
            sink += s;
        }
        double dt = now_s() - t0;
        if (rep > 0 && dt < best) best = dt;
    }
    if (sink == 12345.678f) printf("!"); /* keeps the calls observable */
    return best;
}

/* GB/s of weight bytes through vec_dot, one thread: rows of 4096 weights, 64 of them (fits in
 * L2: kernel speed) and 4096 (about 10 MB: streamed, as in decode); and GB/s of float input
 * through Q8_K from_float. */
static void bench(void) {
    enum { N = 4096, SMALL = 64, BIG = 4096 };
    static const char *const levels[] = {"scalar", "avx2", "avx512"};
    uint64_t st = 3;
    float *x = xmalloc(N * sizeof(float));
    fill_gauss(x, N, &st, 1.0f);
    void *qa = quantize_new(BB_TYPE_Q8_K, x, N);
    printf("benchmark: vec_dot GB/s of weight bytes, 1 thread, rows of %d, %d rows / %d rows\n", N,
           SMALL, BIG);
    for (int k = 0; k < N_WEIGHT_TYPES; k++) {
        int type = weight_types[k];
        size_t row = bb_row_size(type, N);
        uint8_t *m = xmalloc(row * BIG);
        for (int r = 0; r < BIG; r++)
            fill_random_blocks(type, m + row * r, N, &st);
        printf("  %s:", bb_type_get_ref(type)->name);
        for (int l = 0; l < 3; l++) {
            const bb_type_traits *t = bb_type_get_level(type, levels[l]);
            if (!t) continue;
            int rows = l == 0 ? SMALL : BIG;
            double small = time_rows(t, m, row, SMALL, N, qa);
            double big = l == 0 ? 0 : time_rows(t, m, row, rows, N, qa);
            printf("  %s %.1f", levels[l], (double)row * SMALL / small * 1e-9);
            if (l) printf(" / %.1f", (double)row * BIG / big * 1e-9);
        }
        printf("\n");
        free(m);
    }
    enum { NF = 1 << 16 };
    float *f = xmalloc(NF * sizeof(float));
    fill_gauss(f, NF, &st, 1.0f);
    void *qb = xmalloc(bb_row_size(BB_TYPE_Q8_K, NF));
    printf("  Q8_K from_float, GB/s of floats:");
    for (int l = 0; l < 3; l++) {
        const bb_type_traits *t = bb_type_get_level(BB_TYPE_Q8_K, levels[l]);
        if (!t) continue;
        double best = 1e9;
        for (int rep = 0; rep < 6; rep++) {
            double t0 = now_s();
            t->from_float(f, qb, NF);
            double dt = now_s() - t0;
            if (rep > 0 && dt < best) best = dt;
        }
        printf("  %s %.1f", levels[l], NF * 4.0 / best * 1e-9);
    }
    printf("\n");
    free(f);
    free(qb);
    free(x);
    free(qa);
}

int main(void) {
    printf("cpu level: %s\n", bb_cpu_level());
    test_traits();
    test_q8k_ref();
    test_quant_error();
    test_quant_edges();
    test_quant_nonfinite();
    test_ref_dot();
    test_levels();
    test_conformance();
    const char *b = getenv("BB_QUANT_BENCH");
    if (b && strcmp(b, "1") == 0) bench();
    return tu_finish("test_kquants");
}
