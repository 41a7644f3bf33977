/*
 * Interleaved 8-row layouts of Q4_K and Q6_K (src/quant/repack_kquants.h):
 *  1. the AVX2 kernel equals the scalar twin bit for bit (memcmp), for rows of 1, 2 and 11
 *     super-blocks and T = 1..9, 17 tokens;
 *  2. at every level, T tokens in one call give each token's outputs bit-identical to that
 *     token alone (batch invariance, whatever tile position it lands in);
 *  3. the gemm agrees with the original row kernel (bb_type_get_ref(type)->vec_dot) within
 *     1e-5 of the sum of the terms' magnitudes: only float rounding may differ, so this also
 *     checks the packers (every code, scale and min in its place);
 *  4. the packer writes exactly group_bytes and every group of a matrix packs on its own.
 * Weights: random floats through the reference quantizer, and random bytes (every code and
 * sub-block scale valid, extremes included: all-0xFF blocks give Q4_K scales/mins 63 and
 * codes 15, Q6_K codes 63) with ordinary fp16 factors. Activations: random floats, +-1
 * (codes +-127, the int16 bounds' worst case) and spiky ones, quantized by
 * bb_type_get(BB_TYPE_Q8_K)->from_float as matmul does. The AVX2 parts are skipped, saying
 * so, on CPUs without AVX2.
 */
#include "quant/blocks_k.h"
#include "quant/quant.h"
#include "quant/repack.h"
#include "testutil.h"

#include <math.h>

static const int types[] = {BB_TYPE_Q4_K, BB_TYPE_Q6_K};
static const int64_t lens[] = {256, 512, 2816};
static const int token_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 17};
#define N_TYPES 2
#define N_LENS 3
#define N_COUNTS 10
#define MAX_T 17
#define OUT_STRIDE 11 /* out_stride > BB_RP_ROWS: the kernels must honour it */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---------------------------------------------------------------------- fixtures */

static void fill_floats(float *x, int64_t n, uint64_t *st, int variant) {
    for (int64_t i = 0; i < n; i++) {
        const float u = tu_rand_uniform(st);
        x[i] = variant == 1   ? (u < 0 ? -1.0f : 1.0f)
               : variant == 2 ? (i % 29 == 0 ? 20.0f * u : 0.05f * u)
                              : u * ldexpf(1.0f, (int)((i / 256) % 5) - 2);
    }
}

/* BB_RP_ROWS weight rows of `type`: quantized random floats (variant 0) or random bytes with
 * ordinary fp16 factors, a quarter of the blocks all 0xFF (variant 1). */
static void fill_weights(int type, uint8_t *rows, size_t row_bytes, int64_t n, int nrows,
                         uint64_t *st, int variant) {
    const bb_type_traits *tt = bb_type_get_ref(type);
    float *x = xmalloc((size_t)n * sizeof *x);
    for (int r = 0; r < nrows; r++) {
        uint8_t *row = rows + (size_t)r * row_bytes;
        if (variant == 0) {
            fill_floats(x, n, st, r % 3);
            tt->from_float(x, row, n);
            continue;
        }
        for (int64_t b = 0; b < n / QK_K; b++) {
            uint8_t *blk = row + (size_t)b * tt->type_size;
            const bool ones = tu_rand_u64(st) % 4 == 0;
            for (size_t k = 0; k < tt->type_size; k++)
                blk[k] = ones ? 0xFF : (uint8_t)tu_rand_u64(st);
            const uint16_t d = bb_fp32_to_fp16(ldexpf(1.0f + tu_rand_uniform(st) * 0.5f, -10));
            const uint16_t m = bb_fp32_to_fp16(ldexpf(1.0f + tu_rand_uniform(st) * 0.5f, -11));
            if (type == BB_TYPE_Q4_K) {
                bb_block_q4_K *q = (bb_block_q4_K *)blk;
                memcpy(&q->d, &d, 2);
                memcpy(&q->dmin, &m, 2);
            } else {
                bb_block_q6_K *q = (bb_block_q6_K *)blk;
                memcpy(&q->d, &d, 2);
            }
        }
    }
    free(x);
}

/* Sum over the row of the magnitudes of the terms the dot product adds up, in double:
 * |d * sc * q * dy * a| and |dmin * m * dy * a| per element for Q4_K, |d * sc * (q - 32) *
 * dy * a| for Q6_K (element orders as in blocks_k.h). */
static double magnitude(int type, const uint8_t *row, const bb_block_q8_K *y, int64_t n) {
    double sum = 0;
    for (int64_t s = 0; s < n / QK_K; s++) {
        for (int e = 0; e < QK_K; e++) {
            const double a = fabs((double)y[s].d * y[s].qs[e]);
            if (type == BB_TYPE_Q4_K) {
                const bb_block_q4_K *x = (const bb_block_q4_K *)row + s;
                uint8_t sc[8], mn[8];
                bb_kq_unpack_scales_mins(x->scales, sc, mn);
                const uint8_t byte = x->qs[32 * (e / 64) + e % 32];
                const int q = e % 64 < 32 ? byte & 0xF : byte >> 4;
                sum += a * (fabs((double)bb_fp16_to_fp32(x->d)) * sc[e / 32] * q +
                            fabs((double)bb_fp16_to_fp32(x->dmin)) * mn[e / 32]);
            } else {
                const bb_block_q6_K *x = (const bb_block_q6_K *)row + s;
                const int h = e / 128, p = (e % 128) / 32, l = e % 32;
                const int q = (((x->ql[64 * h + 32 * (p & 1) + l] >> (4 * (p >> 1))) & 0xF) |
                               (((x->qh[32 * h + l] >> (2 * p)) & 3) << 4)) -
                              32;
                sum += a * fabs((double)bb_fp16_to_fp32(x->d)) * abs(x->scales[e / 16] * q);
            }
        }
    }
    return sum;
}

/* ------------------------------------------------------------------------- checks */

typedef struct {
    int type;
    int64_t n;
    size_t row_bytes, y_stride;
    uint8_t *rows;   /* 2 groups of original rows */
    uint8_t *packed; /* 2 groups, group_bytes each, + canary */
    uint8_t *acts;   /* MAX_T activation rows at y_stride */
    size_t gb;
} fixture;

static const float sentinel = -12345.0f;

static void run_gemm(const bb_repack_traits *rp, const fixture *f, const uint8_t *group,
                     const uint8_t *y, int T, float *out) {
    for (int i = 0; i < MAX_T * OUT_STRIDE; i++)
        out[i] = sentinel;
    rp->gemm(f->n, group, y, f->y_stride, T, out, OUT_STRIDE);
}

/* Outputs of the T-token call at t < T, r < 8; the gaps past r = 8 and past T untouched. */
static bool untouched_outside(const float *out, int T) {
    for (int t = 0; t < MAX_T; t++)
        for (int r = 0; r < OUT_STRIDE; r++)
            if ((t >= T || r >= BB_RP_ROWS) && out[t * OUT_STRIDE + r] != sentinel) return false;
    return true;
}

static void check_fixture(const fixture *f, const bb_repack_traits *ref,
                          const bb_repack_traits *avx2, const char *what) {
    const bb_type_traits *tt = bb_type_get_ref(f->type);
    float *o_ref = xmalloc(MAX_T * OUT_STRIDE * sizeof(float));
    float *o_simd = xmalloc(MAX_T * OUT_STRIDE * sizeof(float));
    float *o_one = xmalloc(MAX_T * OUT_STRIDE * sizeof(float));
    const bb_repack_traits *levels[2] = {ref, avx2};
    for (int g = 0; g < 2; g++) {
        const uint8_t *group = f->packed + (size_t)g * f->gb;
        const uint8_t *rows = f->rows + (size_t)g * BB_RP_ROWS * f->row_bytes;
        for (int c = 0; c < N_COUNTS; c++) {
            const int T = token_counts[c];
            run_gemm(ref, f, group, f->acts, T, o_ref);
            CHECKF(untouched_outside(o_ref, T), "%s scalar T=%d wrote outside its outputs", what,
                   T);
            /* (1) AVX2 == scalar, bit for bit */
            if (avx2) {
                run_gemm(avx2, f, group, f->acts, T, o_simd);
                CHECKF(untouched_outside(o_simd, T), "%s avx2 T=%d wrote outside", what, T);
                for (int t = 0; t < T; t++) {
                    const bool same = memcmp(o_ref + t * OUT_STRIDE, o_simd + t * OUT_STRIDE,
                                             BB_RP_ROWS * sizeof(float)) == 0;
                    CHECKF(same,
                           "%s group %d T=%d token %d: avx2 differs from scalar (%.9g vs %.9g)",
                           what, g, T, t, o_simd[t * OUT_STRIDE], o_ref[t * OUT_STRIDE]);
                }
            }
            /* (2) each token alone == its place in the batch, at every level */
            for (int l = 0; l < 2; l++) {
                if (!levels[l]) continue;
                const float *batch = l == 0 ? o_ref : o_simd;
                for (int t = 0; t < T; t++) {
                    run_gemm(levels[l], f, group, f->acts + (size_t)t * f->y_stride, 1, o_one);
                    const bool same =
                        memcmp(o_one, batch + t * OUT_STRIDE, BB_RP_ROWS * sizeof(float)) == 0;
                    CHECKF(same, "%s %s group %d T=%d token %d: alone %.9g, in batch %.9g", what,
                           l ? "avx2" : "scalar", g, T, t, o_one[0], batch[t * OUT_STRIDE]);
                }
            }
        }
        /* (3) against the original row kernel, all MAX_T tokens */
        run_gemm(ref, f, group, f->acts, MAX_T, o_ref);
        for (int t = 0; t < MAX_T; t++) {
            const uint8_t *y = f->acts + (size_t)t * f->y_stride;
            for (int r = 0; r < BB_RP_ROWS; r++) {
                const uint8_t *row = rows + (size_t)r * f->row_bytes;
                float want;
                tt->vec_dot(f->n, &want, row, y);
                const double mag = magnitude(f->type, row, (const bb_block_q8_K *)y, f->n);
                const float got = o_ref[t * OUT_STRIDE + r];
                CHECKF(fabs((double)got - want) <= 1e-5 * mag + 1e-30,
                       "%s group %d token %d row %d: gemm %.9g, vec_dot %.9g (|terms| %.3g)", what,
                       g, t, r, got, want, mag);
            }
        }
    }
    free(o_ref);
    free(o_simd);
    free(o_one);
}

static void test_type(int type) {
    const bb_repack_traits *ref = bb_repack_get_level(type, "scalar");
    const bb_repack_traits *avx2 = bb_repack_get_level(type, "avx2");
    CHECKF(ref != NULL, "no scalar layout for %s", bb_type_get_ref(type)->name);
    if (!ref) return;
    CHECK(ref->type == type && ref->act_type == BB_TYPE_Q8_K);
    if (!avx2) printf("%s: avx2 not supported by this CPU, AVX2 checks skipped\n", ref->name);
    const bb_type_traits *q8 = bb_type_get(BB_TYPE_Q8_K);
    uint64_t st = 0x243F6A8885A308D3ull ^ (uint64_t)type;
    for (int li = 0; li < N_LENS; li++) {
        for (int variant = 0; variant < 2; variant++) {
            fixture f = {.type = type, .n = lens[li]};
            f.row_bytes = bb_row_size(type, f.n);
            f.y_stride = bb_row_size(BB_TYPE_Q8_K, f.n) + (variant ? 0 : 20); /* packed, padded */
            f.gb = ref->group_bytes(f.n);
            CHECK(f.gb % 32 == 0);
            f.rows = xmalloc(2 * BB_RP_ROWS * f.row_bytes);
            fill_weights(type, f.rows, f.row_bytes, f.n, 2 * BB_RP_ROWS, &st, variant);
            /* (4) each group packed separately into its own slot; a canary after the last */
            f.packed = xmalloc(2 * f.gb + 64);
            memset(f.packed, 0xA5, 2 * f.gb + 64);
            for (int g = 0; g < 2; g++)
                ref->pack(f.rows + (size_t)g * BB_RP_ROWS * f.row_bytes, f.row_bytes, f.n,
                          f.packed + (size_t)g * f.gb);
            bool canary = true;
            for (int i = 0; i < 64; i++)
                canary &= f.packed[2 * f.gb + i] == 0xA5;
            CHECKF(canary, "%s n=%lld: pack wrote past group_bytes", ref->name, (long long)f.n);
            f.acts = xmalloc(MAX_T * f.y_stride);
            float *x = xmalloc((size_t)f.n * sizeof *x);
            for (int t = 0; t < MAX_T; t++) {
                fill_floats(x, f.n, &st, (t + variant) % 3);
                q8->from_float(x, f.acts + (size_t)t * f.y_stride, f.n);
            }
            char what[64];
            snprintf(what, sizeof what, "%s n=%lld weights %s", ref->name, (long long)f.n,
                     variant ? "random bytes" : "quantized");
            check_fixture(&f, ref, avx2, what);
            free(x);
            free(f.acts);
            free(f.packed);
            free(f.rows);
        }
    }
}

int main(void) {
    for (int i = 0; i < N_TYPES; i++)
        test_type(types[i]);
    return tu_finish("test_repack_kquants");
}
