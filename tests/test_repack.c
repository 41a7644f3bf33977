/*
 * Repacked interleaved layouts (src/quant/repack.h), for every weight type that has one:
 *  - each SIMD level's gemm equals the scalar twin bit for bit (memcmp), for row lengths
 *    with odd block counts and T = 1..17 activation rows;
 *  - within a level, an output never depends on T or on where its row sits in the tile
 *    (gemm over T rows == gemm of each row alone == gemm over any sub-range), which is what
 *    keeps batched serving and chunked prefill bit-identical to solo decoding;
 *  - gemm agrees with a double-precision dot of the dequantized weights and activations
 *    (only float rounding of the block scales and sums differs);
 *  - bb_matmul over a repacked weight equals bb_matmul over the same weight unpacked to
 *    within rounding (of the activations too: F16x8 reads them as float), and equals itself bit for bit for T = 1 vs T = 13.
 */
#include <math.h>

#include "ops/matmul.h"
#include "quant/quant.h"
#include "quant/repack.h"
#include "testutil.h"

static const char *const levels[] = {"scalar", "avx2", "avx512"};
#define N_LEVELS 3
#define MAX_T 17

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

typedef struct fixture {
    int type;
    const bb_repack_traits *rp; /* scalar */
    int64_t n;
    int groups;
    size_t row_bytes, act_bytes, group_bytes;
    void *rows;   /* groups * 8 rows of the weight type */
    void *packed; /* groups packed */
    void *acts;   /* MAX_T rows of act_type */
    double *ref;  /* [t][row] double-precision dots */
    double *mag;  /* [t][row] sum of |w x| */
} fixture;

static void fixture_make(fixture *f, int type, int64_t n, int groups, uint64_t *rng) {
    const bb_type_traits *wt = bb_type_get_ref(type);
    f->type = type;
    f->rp = bb_repack_get_level(type, "scalar");
    f->n = n;
    f->groups = groups;
    const int n_rows = groups * BB_RP_ROWS;
    const bb_type_traits *at = bb_type_get_ref(f->rp->act_type);
    f->row_bytes = bb_row_size(type, n);
    f->act_bytes = bb_row_size(f->rp->act_type, n);
    f->group_bytes = f->rp->group_bytes(n);
    float *x = xmalloc((size_t)n * sizeof *x);
    float *wf = xmalloc((size_t)n_rows * n * sizeof *wf);
    float *af = xmalloc((size_t)MAX_T * n * sizeof *af);
    f->rows = xmalloc(f->row_bytes * n_rows);
    f->acts = xmalloc(f->act_bytes * MAX_T);
    f->packed = xmalloc(f->group_bytes * groups);
    for (int r = 0; r < n_rows; r++) {
        /* rows of differing magnitude, so the 8 lanes' scales differ */
        const float scale = 0.1f + (float)(r % 5);
        for (int64_t i = 0; i < n; i++)
            x[i] = scale * tu_rand_uniform(rng);
        wt->from_float(x, (char *)f->rows + r * f->row_bytes, n);
        wt->to_float((char *)f->rows + r * f->row_bytes, wf + (size_t)r * n, n);
    }
    for (int t = 0; t < MAX_T; t++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = tu_rand_uniform(rng) * (t % 3 ? 1.0f : 40.0f);
        at->from_float(x, (char *)f->acts + t * f->act_bytes, n);
        at->to_float((char *)f->acts + t * f->act_bytes, af + (size_t)t * n, n);
    }
    for (int g = 0; g < groups; g++)
        f->rp->pack((char *)f->rows + (size_t)g * BB_RP_ROWS * f->row_bytes, f->row_bytes, n,
                    (char *)f->packed + g * f->group_bytes);
    f->ref = xmalloc(sizeof(double) * MAX_T * n_rows);
    f->mag = xmalloc(sizeof(double) * MAX_T * n_rows);
    for (int t = 0; t < MAX_T; t++)
        for (int r = 0; r < n_rows; r++) {
            double s = 0, m = 0;
            for (int64_t i = 0; i < n; i++) {
                const double p = (double)wf[(size_t)r * n + i] * af[(size_t)t * n + i];
                s += p;
                m += fabs(p);
            }
            f->ref[t * n_rows + r] = s;
            f->mag[t * n_rows + r] = m;
        }
    free(x);
    free(wf);
    free(af);
}

static void fixture_free(fixture *f) {
    free(f->rows);
    free(f->packed);
    free(f->acts);
    free(f->ref);
    free(f->mag);
}

/* out[t][row] for rows of all groups, activations t0..t0+T-1. */
static void run_gemm(const fixture *f, const bb_repack_traits *rp, int t0, int T, float *out,
                     size_t out_stride) {
    for (int g = 0; g < f->groups; g++)
        rp->gemm(f->n, (const char *)f->packed + g * f->group_bytes,
                 (const char *)f->acts + t0 * f->act_bytes, f->act_bytes, T, out + g * BB_RP_ROWS,
                 out_stride);
}

static void check_type(int type, int64_t n, uint64_t *rng) {
    fixture f;
    fixture_make(&f, type, n, 2, rng);
    const int n_rows = f.groups * BB_RP_ROWS;
    const size_t stride = (size_t)n_rows;
    float *base = xmalloc(sizeof(float) * MAX_T * stride);
    float *got = xmalloc(sizeof(float) * MAX_T * stride);
    run_gemm(&f, f.rp, 0, MAX_T, base, stride);
    /* against the double-precision dot */
    double worst = 0;
    for (int i = 0; i < MAX_T * n_rows; i++) {
        const double err = fabs(base[i] - f.ref[i]) / (f.mag[i] + 1e-30);
        if (err > worst) worst = err;
    }
    CHECKF(worst < 1e-5, "%s n=%lld: relative error %.3g against the double dot", f.rp->name,
           (long long)n, worst);
    for (int l = 0; l < N_LEVELS; l++) {
        const bb_repack_traits *rp = bb_repack_get_level(type, levels[l]);
        if (!rp) continue;
        CHECK(rp->act_type == f.rp->act_type && rp->group_bytes(n) == f.group_bytes);
        /* every T and every starting row gives the scalar twin's bits */
        for (int T = 1; T <= MAX_T; T++)
            for (int t0 = 0; t0 + T <= MAX_T; t0 += (T > 4 ? MAX_T : 1)) {
                memset(got, 0xff, sizeof(float) * MAX_T * stride);
                run_gemm(&f, rp, t0, T, got + t0 * stride, stride);
                const bool same =
                    memcmp(got + t0 * stride, base + t0 * stride, sizeof(float) * T * stride) == 0;
                CHECKF(same, "%s %s n=%lld: rows %d..%d differ from the scalar twin", levels[l],
                       rp->name, (long long)n, t0, t0 + T - 1);
            }
    }
    free(base);
    free(got);
    fixture_free(&f);
}

/* bb_matmul over the repacked matrix: T = 13 equals T = 1 row by row, and agrees with the
 * unpacked path (vec_dot) to rounding. */
static void check_matmul(int type, uint64_t *rng) {
    const bb_repack_traits *rp = bb_repack_get(type);
    if (!rp) return;
    const int64_t n = 512, n_out = 40, T = 13;
    const bb_type_traits *wt = bb_type_get_ref(type);
    size_t rb = bb_row_size(type, n);
    void *data = xmalloc(rb * n_out);
    float *x = xmalloc(sizeof(float) * n * T);
    for (int64_t i = 0; i < n * T; i++)
        x[i] = tu_rand_uniform(rng);
    for (int64_t r = 0; r < n_out; r++)
        wt->from_float(x + (r % T) * n, (char *)data + r * rb, n);
    for (int64_t i = 0; i < n * T; i++)
        x[i] = tu_rand_uniform(rng);
    bb_weight w = {data, type, n, n_out, rb, bb_type_get(type), NULL, NULL, 0};
    bb_weight wp = w;
    bb_error err = {0};
    CHECK(bb_weight_repack(&wp, &err) == BB_OK && wp.packed != NULL);
    bb_pool *pool = NULL;
    CHECK(bb_pool_new(2, &pool, &err) == BB_OK);
    bb_acts a;
    bb_acts_init(&a);
    float *y_all = xmalloc(sizeof(float) * n_out * T), *y_one = xmalloc(sizeof(float) * n_out);
    float *y_ref = xmalloc(sizeof(float) * n_out * T);
    bb_acts_set(&a, x, (int)T, n);
    CHECK(bb_matmul(pool, &wp, &a, y_all, &err) == BB_OK);
    bb_acts_set(&a, x, (int)T, n);
    CHECK(bb_matmul(pool, &w, &a, y_ref, &err) == BB_OK);
    double worst = 0, top = 0;
    for (int64_t t = 0; t < T; t++) {
        bb_acts_set(&a, x + t * n, 1, n);
        CHECK(bb_matmul(pool, &wp, &a, y_one, &err) == BB_OK);
        CHECKF(memcmp(y_one, y_all + t * n_out, sizeof(float) * n_out) == 0,
               "%s: matmul row %lld alone differs from the batch", rp->name, (long long)t);
        for (int64_t r = 0; r < n_out; r++) {
            double d = fabs(y_all[t * n_out + r] - y_ref[t * n_out + r]);
            if (d > worst) worst = d;
            if (fabs(y_ref[t * n_out + r]) > top) top = fabs(y_ref[t * n_out + r]);
        }
    }
    /* F16x8 keeps activations in float where vec_dot rounds them to F16 (2^-11 relative) */
    CHECKF(worst < 2e-3 * top, "%s: repacked matmul differs from vec_dot by %.3g (of %.3g)",
           rp->name, worst, top);
    bb_acts_release(&a);
    bb_pool_free(pool);
    free(wp.packed);
    free(data);
    free(x);
    free(y_all);
    free(y_one);
    free(y_ref);
}

int main(void) {
    uint64_t rng = 0x5eed;
    int types = 0;
    for (int type = 0; type < BB_TYPE_COUNT; type++) {
        const bb_repack_traits *rp = bb_repack_get_level(type, "scalar");
        if (!rp) continue;
        types++;
        const int64_t bs = bb_type_get_ref(type)->block_size;
        const int64_t sizes[] = {bs, 3 * bs, 11 * bs, bs * (2048 / bs + 1)};
        for (int k = 0; k < 4; k++)
            check_type(type, sizes[k], &rng);
        check_matmul(type, &rng);
        for (int l = 1; l < N_LEVELS; l++)
            printf("%s %s: %s\n", rp->name, levels[l],
                   bb_repack_get_level(type, levels[l]) ? "checked against the scalar twin"
                                                        : "not on this CPU, skipped");
    }
    CHECK(types >= 2);
    printf("%d repacked layouts checked\n", types);
    return tu_finish("test_repack");
}
