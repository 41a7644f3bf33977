/* Tests of src/quant for F32, F16, BF16 and the legacy block types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
 * Q8_1): half conversions over all 65536 halves, the traits table, row sizes, quantizer
 * output on hand-computed blocks, round-trip error bounds, the reference dot products
 * against dot(dequantize(x), dequantize(y)), and every SIMD kernel of every level this CPU
 * has against its scalar twin; with ../shared/testdata, our quantizers byte for byte against
 * the tensors llama-quantize wrote into the conformance models.
 *
 * Tolerance for dot products: the SIMD kernels add the same terms (exact integer block sums,
 * or exact float products) in a different order, so they may differ from the reference by
 * float rounding only. Let S be the sum of the magnitudes of all terms (sum |x_i * y_i|,
 * plus |m * s| per block for Q4_1/Q5_1) and T the number of additions in the reference's
 * sequential float sum (n for F32/F16/BF16, n/32 or 2n/32 for block types). We allow
 * (T + 16) * 2^-23 * S, the classic worst-case bound for both sums: 1.7e-5 * S for a Q4_0
 * row of 4128, 4.9e-4 * S for an F32 row of 4128 (reached only when partial sums grow
 * monotonically, e.g. constant rows). Quantizers and conversions must match bit for bit.
 *
 * BB_QUANT_BENCH=1 adds a micro-benchmark: GB/s of weight bytes per vec_dot kernel and
 * level (rows of 4096, ~32 MiB of weights), and of input floats for the Q8 quantizers. */
#include "gguf/gguf.h"
#include "quant/blocks_legacy.h"
#include "quant/quant.h"
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <time.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const int all_types[] = {BB_TYPE_F32,  BB_TYPE_F16,  BB_TYPE_BF16,
                                BB_TYPE_Q4_0, BB_TYPE_Q4_1, BB_TYPE_Q5_0,
                                BB_TYPE_Q5_1, BB_TYPE_Q8_0, BB_TYPE_Q8_1};
#define N_TYPES ((int)(sizeof all_types / sizeof all_types[0]))
static const char *const simd_levels[] = {"avx2", "avx512"};

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static bool has_min(int type) {
    return type == BB_TYPE_Q4_1 || type == BB_TYPE_Q5_1;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- half conversions ---------------------------------------------------------------- */

/* binary16 value by its definition, in double. */
static double fp16_value(uint16_t h) {
    const int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (exp == 0) return sign * ldexp(man, -24);
    if (exp == 31) return man ? NAN : sign * INFINITY;
    return sign * ldexp(1024 + man, exp - 25);
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) static float hw_fp16_to_fp32(uint16_t h) {
    return _cvtsh_ss(h);
}
__attribute__((target("f16c"))) static uint16_t hw_fp32_to_fp16(float f) {
    return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
static bool have_f16c(void) { /* CPUID leaf 1, ECX bit 29 (clang cannot query "f16c") */
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#else
static float hw_fp16_to_fp32(uint16_t h) {
    return bb_fp16_to_fp32(h);
}
static uint16_t hw_fp32_to_fp16(float f) {
    return bb_fp32_to_fp16(f);
}
static bool have_f16c(void) {
    return false;
}
#endif

/* The binary16 nearest to f (ties to even mantissa), by brute comparison in double. */
static uint16_t fp16_nearest(float f) {
    const uint16_t sign = (f32_bits(f) >> 16) & 0x8000;
    const double a = fabs((double)f);
    if (a >= 65520.0) return sign | 0x7c00;
    /* binary search the largest non-negative half <= a */
    uint16_t lo = 0, hi = 0x7bff;
    while (lo < hi) {
        const uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (fp16_value(mid) <= a)
            lo = mid;
        else
            hi = (uint16_t)(mid - 1);
    }
    if (lo == 0x7bff) return sign | 0x7bff; /* a < 65520, the midpoint to 2^16 */
    const double below = a - fp16_value(lo), above = fp16_value((uint16_t)(lo + 1)) - a;
    if (below < above || (below == above && !(lo & 1))) return sign | lo;
    return sign | (uint16_t)(lo + 1);
}

static void check_fp16_decode(bool hw) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = bb_fp16_to_fp32((uint16_t)h);
        const double want = fp16_value((uint16_t)h);
        /* NaNs come out quiet, payload kept */
        const uint32_t nan_bits = (h & 0x8000u) << 16 | 0x7fc00000u | (h & 0x3ffu) << 13;
        bool ok = isnan(want) ? f32_bits(f) == nan_bits
                              : (double)f == want && (signbit(f) != 0) == ((h & 0x8000) != 0);
        if (hw) ok = ok && f32_bits(f) == f32_bits(hw_fp16_to_fp32((uint16_t)h));
        if (!ok && bad++ < 5) fprintf(stderr, "fp16 %04x -> %08x\n", h, f32_bits(f));
    }
    CHECKF(bad == 0, "%d halves decode wrongly", bad);
}

/* Every half round-trips; midpoints between neighbours and the floats either side of them
 * round to the nearest (ties to even), as the definition and as F16C (when present). */
static void check_fp16_encode(bool hw) {
    int bad = 0, checked = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = bb_fp16_to_fp32((uint16_t)h);
        float probes[8];
        int np = 0;
        probes[np++] = f;
        if ((h & 0x7fff) < 0x7bff) {
            const float next = bb_fp16_to_fp32((uint16_t)(h + 1));
            const float mid = (float)(((double)f + (double)next) / 2); /* exact */
            probes[np++] = mid;
            probes[np++] = nextafterf(mid, 0.0f);
            probes[np++] = nextafterf(mid, mid * 2);
            probes[np++] = nextafterf(f, mid);
        }
        for (int k = 0; k < np; k++) {
            const float p = probes[k];
            const uint16_t got = bb_fp32_to_fp16(p);
            uint16_t want;
            if (isnan(p))
                want = (uint16_t)(h | 0x200); /* NaN: payload kept, made quiet */
            else
                want = fp16_nearest(p);
            bool ok = got == want;
            if (hw) ok = ok && got == hw_fp32_to_fp16(p);
            checked++;
            if (!ok && bad++ < 5)
                fprintf(stderr, "fp32 %08x -> %04x, want %04x\n", f32_bits(p), got, want);
        }
    }
    /* beyond the halves: overflow, float subnormals, float NaNs with long payloads */
    const uint32_t extra[] = {0x477fefffu, 0x477ff000u, 0x7f7fffffu, 0x00000001u, 0x807fffffu,
                              0x33000000u, 0x33000001u, 0x7f800001u, 0xffc00001u, 0x7fbfffffu};
    for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++) {
        const float p = bits_f32(extra[k]);
        const uint16_t got = bb_fp32_to_fp16(p);
        const uint16_t want =
            isnan(p) ? (uint16_t)(((extra[k] >> 16) & 0x8000) | 0x7e00 | ((extra[k] >> 13) & 0x3ff))
                     : fp16_nearest(p);
        bool ok = got == want;
        if (hw) ok = ok && got == hw_fp32_to_fp16(p);
        checked++;
        if (!ok && bad++ < 5)
            fprintf(stderr, "fp32 %08x -> %04x, want %04x\n", extra[k], got, want);
    }
    CHECKF(bad == 0, "%d of %d floats encode wrongly", bad, checked);
}

static void check_bf16(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = bb_bf16_to_fp32((uint16_t)h);
        const uint32_t u = h << 16;
        if (f32_bits(f) != u) bad++;
        const bool nan = (u & 0x7fffffffu) > 0x7f800000u;
        /* round trip; NaNs come back quiet */
        if (bb_fp32_to_bf16(f) != (nan ? (h | 0x40) : h)) bad++;
        if (nan || (h & 0x7fff) >= 0x7f7f) continue;
        /* halfway to the next bf16 up in magnitude: ties to even; just off it: nearest */
        const uint16_t up = (uint16_t)(h + 1);
        if (bb_fp32_to_bf16(bits_f32(u | 0x8000)) != ((h & 1) ? up : h)) bad++;
        if (bb_fp32_to_bf16(bits_f32(u | 0x7fff)) != h) bad++;
        if (bb_fp32_to_bf16(bits_f32(u | 0x8001)) != up) bad++;
    }
    CHECKF(bad == 0, "%d bf16 conversions wrong", bad);
    CHECK(bb_fp32_to_bf16(bits_f32(0x7f7fffffu)) == 0x7f80); /* FLT_MAX rounds to inf */
}

static void test_half(void) {
    const bool hw = have_f16c();
    printf("half: exhaustive over 65536 values%s\n", hw ? ", against F16C" : "");
    check_fp16_decode(hw);
    check_fp16_encode(hw);
    check_bf16();
}

/* ---- traits and row sizes ------------------------------------------------------------ */

static void test_traits(void) {
    static const struct {
        int type;
        const char *name;
        int64_t block;
        size_t size;
        bool weight;
        int dot_type;
    } want[] = {
        {BB_TYPE_F32, "F32", 1, 4, true, BB_TYPE_F32},
        {BB_TYPE_F16, "F16", 1, 2, true, BB_TYPE_F16},
        {BB_TYPE_BF16, "BF16", 1, 2, true, BB_TYPE_BF16},
        {BB_TYPE_Q4_0, "Q4_0", 32, 18, true, BB_TYPE_Q8_0},
        {BB_TYPE_Q4_1, "Q4_1", 32, 20, true, BB_TYPE_Q8_1},
        {BB_TYPE_Q5_0, "Q5_0", 32, 22, true, BB_TYPE_Q8_0},
        {BB_TYPE_Q5_1, "Q5_1", 32, 24, true, BB_TYPE_Q8_1},
        {BB_TYPE_Q8_0, "Q8_0", 32, 34, true, BB_TYPE_Q8_0},
        {BB_TYPE_Q8_1, "Q8_1", 32, 36, false, BB_TYPE_Q8_1},
    };
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        const bb_type_traits *t = bb_type_get_ref(want[k].type);
        CHECKF(t != NULL, "type %d", want[k].type);
        if (!t) continue;
        CHECKF(strcmp(t->name, want[k].name) == 0, "%s", t->name);
        CHECKF(t->block_size == want[k].block && t->type_size == want[k].size, "%s sizes", t->name);
        CHECKF(t->is_weight_type == want[k].weight, "%s is_weight_type", t->name);
        CHECKF(t->vec_dot_type == want[k].dot_type, "%s vec_dot_type", t->name);
        CHECKF(t->to_float && t->from_float, "%s conversions", t->name);
        CHECKF((t->vec_dot != NULL) == want[k].weight, "%s vec_dot", t->name);
        const bb_type_traits *best = bb_type_get(want[k].type);
        CHECKF(best && best->vec_dot_type == t->vec_dot_type && best->name == t->name,
               "%s best level keeps the row", t->name);
    }
    CHECK(bb_type_get(-1) == NULL && bb_type_get(4) == NULL && bb_type_get(BB_TYPE_COUNT) == NULL);
    CHECK(bb_type_get_level(BB_TYPE_Q4_0, "scalar") == bb_type_get_ref(BB_TYPE_Q4_0));
    CHECK(bb_type_get_level(BB_TYPE_Q4_0, "sse9") == NULL);
    const char *lvl = bb_cpu_level();
    CHECK(strcmp(lvl, "scalar") == 0 || strcmp(lvl, "avx2") == 0 || strcmp(lvl, "avx512") == 0);
    printf("cpu level: %s\n", lvl);

    CHECK(sizeof(block_q4_0) == 18 && sizeof(block_q8_1) == 36);
    CHECK(bb_row_size(BB_TYPE_Q4_0, 4096) == 2304);
    CHECK(bb_row_size(BB_TYPE_Q4_1, 4096) == 2560);
    CHECK(bb_row_size(BB_TYPE_Q5_0, 4096) == 2816);
    CHECK(bb_row_size(BB_TYPE_Q5_1, 4096) == 3072);
    CHECK(bb_row_size(BB_TYPE_Q8_0, 4096) == 4352);
    CHECK(bb_row_size(BB_TYPE_Q8_1, 64) == 72);
    CHECK(bb_row_size(BB_TYPE_F32, 3) == 12);
    CHECK(bb_row_size(BB_TYPE_F16, 3) == 6 && bb_row_size(BB_TYPE_BF16, 5) == 10);
    CHECK(bb_row_size(BB_TYPE_Q4_0, 0) == 0);
    CHECK(bb_row_size(BB_TYPE_Q4_0, 33) == 0); /* not a whole number of blocks */
    CHECK(bb_row_size(BB_TYPE_Q8_0, -32) == 0);
    CHECK(bb_row_size(BB_TYPE_F32, INT64_C(1) << 62) == 0); /* 2^64 bytes overflows */
    CHECK(bb_row_size(BB_TYPE_F32, INT64_C(1) << 40) == (size_t)1 << 42);
    CHECK(bb_row_size(5, 32) == 0 && bb_row_size(-3, 32) == 0 && bb_row_size(99, 32) == 0);
}

/* ---- quantizers on hand-computed blocks ---------------------------------------------- */

static void expect_bytes(int type, const float *x, int64_t n, const void *want, size_t len) {
    const bb_type_traits *t = bb_type_get_ref(type);
    uint8_t out[128];
    memset(out, 0xA5, sizeof out);
    CHECK(bb_row_size(type, n) == len && len <= sizeof out);
    t->from_float(x, out, n);
    const bool ok = memcmp(out, want, len) == 0;
    CHECKF(ok, "%s from_float of the crafted block", t->name);
    if (!ok)
        for (size_t k = 0; k < len; k++)
            if (out[k] != ((const uint8_t *)want)[k])
                fprintf(stderr, "  byte %zu: %02x want %02x\n", k, out[k],
                        ((const uint8_t *)want)[k]);
}

static void test_crafted_q8(void) {
    /* amax 127 -> d = 1 (0x3c00), id = 1: codes are roundf(x), ties away from zero */
    float x[64] = {127, -127, 2.5f, -2.5f, 0.5f, -0.5f, 0.49f, 1.5f, 3.7f, -3.2f, 0, 126.5f};
    const int8_t q[12] = {127, -127, 3, -3, 1, -1, 0, 2, 4, -3, 0, 127};
    /* second block: amax 1 -> d = fp16(1/127) = 0x2008 */
    x[32] = 1.0f;
    x[33] = -1.0f;
    x[34] = 0.25f; /* 0.25 * 127.00x = 31.75 -> 32 */
    block_q8_0 b0[2];
    memset(b0, 0, sizeof b0);
    b0[0].d = 0x3c00;
    memcpy(b0[0].qs, q, sizeof q);
    b0[1].d = 0x2008;
    b0[1].qs[0] = 127;
    b0[1].qs[1] = -127;
    b0[1].qs[2] = 32;
    expect_bytes(BB_TYPE_Q8_0, x, 64, b0, sizeof b0);

    block_q8_1 b1[2];
    memset(b1, 0, sizeof b1);
    b1[0].d = 0x3c00;
    b1[0].s = 0x5810; /* sum of codes 130 -> 130.0 */
    memcpy(b1[0].qs, q, sizeof q);
    b1[1].d = 0x2008;
    b1[1].s = 0x3408; /* 32 * fp32(1/127) = 0.25197 -> 0x3408 */
    memcpy(b1[1].qs, b0[1].qs, 32);
    expect_bytes(BB_TYPE_Q8_1, x, 64, b1, sizeof b1);

    /* all zeros: d = 0, codes 0 */
    float z[32] = {0};
    block_q8_0 zb;
    memset(&zb, 0, sizeof zb);
    expect_bytes(BB_TYPE_Q8_0, z, 32, &zb, sizeof zb);
}

static void test_crafted_q4(void) {
    /* block 0: the largest magnitude is -8 -> d = -8 / -8 = 1; code = min(15, (int)(x + 8.5))
     * block 1: the first largest magnitude is +16 -> d = -2 (0xc000), id = -0.5 */
    float x[64];
    for (int j = 0; j < 64; j++)
        x[j] = 0.0f;
    const float b0v[10] = {-8, 7, -7.9f, 0, -0.5f, -0.6f, 7.6f, 0.49f, 3, -3};
    memcpy(x, b0v, sizeof b0v);
    x[16] = 7;
    x[17] = 1;
    x[32] = 16;
    x[33] = -16;
    x[34] = 4;
    block_q4_0 want[2];
    want[0].d = 0x3c00;
    const uint8_t qs0[16] = {0xF0, 0x9F, 0x80, 0x88, 0x88, 0x87, 0x8F, 0x88,
                             0x8B, 0x85, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88};
    memcpy(want[0].qs, qs0, 16);
    want[1].d = 0xc000;
    memset(want[1].qs, 0x88, 16);
    want[1].qs[0] = 0x80;
    want[1].qs[1] = 0x8F;
    want[1].qs[2] = 0x86;
    expect_bytes(BB_TYPE_Q4_0, x, 64, want, sizeof want);

    /* Q4_1: min -1, max 14 -> d = 1, m = -1 (0xbc00); code = min(15, (int)(x + 1 + 0.5)) */
    float y[32] = {-1, 14, 0, 2.4f, 2.5f};
    y[16] = 7;
    block_q4_1 w1;
    w1.d = 0x3c00;
    w1.m = 0xbc00;
    const uint8_t qs1[16] = {0x80, 0x1F, 0x11, 0x13, 0x14, 0x11, 0x11, 0x11,
                             0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11};
    memcpy(w1.qs, qs1, 16);
    expect_bytes(BB_TYPE_Q4_1, y, 32, &w1, sizeof w1);
}

static void test_crafted_q5(void) {
    /* Q5_0: largest magnitude -16 -> d = 1; code = min(31, (int)(x + 16.5)) */
    float x[32] = {-16, 15, 15.6f, 0, -1, 1};
    x[16] = 8;
    x[17] = -8;
    block_q5_0 w0;
    w0.d = 0x3c00;
    const uint8_t qh0[4] = {0xEE, 0xFF, 0xFD, 0xFF};
    const uint8_t qs0[16] = {0x80, 0x8F, 0x0F, 0x00, 0x0F, 0x01};
    memcpy(w0.qh, qh0, 4);
    memcpy(w0.qs, qs0, 16);
    expect_bytes(BB_TYPE_Q5_0, x, 32, &w0, sizeof w0);

    /* Q5_1: min 0, max 31 -> d = 1, m = 0; code = (int)(x + 0.5) */
    float y[32];
    for (int j = 0; j < 32; j++)
        y[j] = 0.2f;
    y[0] = 0;
    y[1] = 31;
    y[2] = 16;
    y[3] = 15.4f;
    y[4] = 15.5f;
    y[16] = 1;
    y[17] = 17;
    block_q5_1 w1;
    w1.d = 0x3c00;
    w1.m = 0;
    const uint8_t qh1[4] = {0x16, 0x00, 0x02, 0x00};
    const uint8_t qs1[16] = {0x10, 0x1F, 0x00, 0x0F, 0x00};
    memcpy(w1.qh, qh1, 4);
    memcpy(w1.qs, qs1, 16);
    expect_bytes(BB_TYPE_Q5_1, y, 32, &w1, sizeof w1);
}

static void test_crafted_float(void) {
    const float x[8] = {1.0f,  -2.0f, 65504.0f,        65520.0f,
                        3e-8f, 1e-8f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f};
    const uint16_t h[8] = {0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x3c00, 0x3c02};
    expect_bytes(BB_TYPE_F16, x, 8, h, sizeof h);
    const float y[6] = {1.0f, -2.0f, 1.0f + 0x1p-8f, 1.0f + 0x3p-8f, NAN, 0x1p-130f};
    const uint16_t b[6] = {0x3f80, 0xc000, 0x3f80, 0x3f82, 0x7fc0, 0x0008};
    expect_bytes(BB_TYPE_BF16, y, 6, b, sizeof b);
    expect_bytes(BB_TYPE_F32, x, 4, x, sizeof(float) * 4);
}

/* ---- random rows --------------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static float rnd(void) {
    return tu_rand_uniform(&rng);
}

/* n floats, uniform in [-scale, scale) with a per-32 block scale spread over 2^-4..2^4. */
static void random_floats(float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i += 32) {
        const float s = scale * ldexpf(1.0f, (int)(tu_rand_u64(&rng) % 9) - 4);
        for (int64_t j = i; j < i + 32 && j < n; j++)
            x[j] = rnd() * s;
    }
}

/* A row of `type` from floats through the reference quantizer (valid by construction). */
static void *quantize_row(int type, const float *x, int64_t n) {
    void *row = xmalloc(bb_row_size(type, n));
    bb_type_get_ref(type)->from_float(x, row, n);
    return row;
}

static uint16_t random_scale(void) {
    return bb_fp32_to_fp16(rnd() * 0.25f);
}

/* A row of random bytes with finite fp16 scales, for kernels that must accept any codes.
 * Q8 codes stay in -127..127, the range the quantizers produce. */
static void *random_raw_row(int type, int64_t n) {
    const size_t size = bb_row_size(type, n);
    uint8_t *row = xmalloc(size);
    for (size_t k = 0; k < size; k++)
        row[k] = (uint8_t)tu_rand_u64(&rng);
    const int64_t nb = n / 32;
    for (int64_t i = 0; i < nb; i++) {
        switch (type) {
        case BB_TYPE_Q4_0:
            ((block_q4_0 *)row)[i].d = random_scale();
            break;
        case BB_TYPE_Q5_0:
            ((block_q5_0 *)row)[i].d = random_scale();
            break;
        case BB_TYPE_Q4_1:
            ((block_q4_1 *)row)[i].d = random_scale();
            ((block_q4_1 *)row)[i].m = random_scale();
            break;
        case BB_TYPE_Q5_1:
            ((block_q5_1 *)row)[i].d = random_scale();
            ((block_q5_1 *)row)[i].m = random_scale();
            break;
        case BB_TYPE_Q8_0:
        case BB_TYPE_Q8_1: {
            block_q8_1 *b1 = (block_q8_1 *)row + i;
            block_q8_0 *b0 = (block_q8_0 *)row + i;
            int8_t *qs = type == BB_TYPE_Q8_0 ? b0->qs : b1->qs;
            for (int j = 0; j < 32; j++)
                if (qs[j] == -128) qs[j] = -127;
            if (type == BB_TYPE_Q8_0)
                b0->d = random_scale();
            else {
                b1->d = random_scale();
                b1->s = random_scale();
            }
            break;
        }
        default:
            break;
        }
    }
    if (type == BB_TYPE_F32 || type == BB_TYPE_F16 || type == BB_TYPE_BF16) {
        float *f = xmalloc((size_t)n * sizeof(float));
        random_floats(f, n, 1.0f);
        bb_type_get_ref(type)->from_float(f, row, n);
        free(f);
    }
    return row;
}

static float *dequantize(int type, const void *row, int64_t n) {
    float *f = xmalloc((size_t)n * sizeof(float));
    bb_type_get_ref(type)->to_float(row, f, n);
    return f;
}

/* The exact dot product the reference approximates, in double, and S, the sum of the
 * magnitudes of its terms. For Q4_1/Q5_1 the reference applies the min as m * s with the
 * activation's stored s = fp16(d * sum(q)), so the exact value is sum(d*q * y) + sum(m * s):
 * the codes' part comes from dequantizing a copy with the mins zeroed (exact in float). */
static double exact_dot(int type, int64_t n, const void *x, const void *y, double *mag) {
    const bb_type_traits *t = bb_type_get_ref(type);
    const size_t size = bb_row_size(type, n);
    uint8_t *xc = xmalloc(size);
    memcpy(xc, x, size);
    double dot = 0, s = 0;
    if (has_min(type)) {
        for (int64_t i = 0; i < n / 32; i++) {
            uint16_t m; /* m follows d in both block_q4_1 and block_q5_1 */
            memcpy(&m, xc + i * t->type_size + 2, 2);
            memset(xc + i * t->type_size + 2, 0, 2);
            const double ms =
                (double)bb_fp16_to_fp32(m) * bb_fp16_to_fp32(((const block_q8_1 *)y)[i].s);
            dot += ms;
            s += fabs(ms);
        }
    }
    float *fx = dequantize(type, xc, n), *fy = dequantize(t->vec_dot_type, y, n);
    for (int64_t i = 0; i < n; i++) {
        dot += (double)fx[i] * fy[i];
        s += fabs((double)fx[i] * fy[i]);
    }
    free(xc);
    free(fx);
    free(fy);
    *mag = s;
    return dot;
}

/* Float additions in the reference's sequential sum: one per element for the float types,
 * one per block (two with a min term) for the block types. */
static int64_t ref_terms(int type, int64_t n) {
    const int64_t block = bb_type_get_ref(type)->block_size;
    return block == 1 ? n : n / block * (has_min(type) ? 2 : 1);
}

/* Two float evaluations of the same terms, in different orders, each within about
 * (additions + a few) * 2^-24 * S of the exact value (Higham, "Accuracy and Stability of
 * Numerical Algorithms", 4.2): we allow (terms + 16) * 2^-23 * S between them. */
static bool close_enough(double got, double want, double mag, int64_t terms) {
    if (isnan(got) || isnan(want)) return isnan(got) && isnan(want);
    if (isinf(got) || isinf(want)) return got == want;
    return fabs(got - want) <= (double)(terms + 16) * 0x1p-23 * mag + 1e-30;
}

/* ---- round trips and the reference dot product --------------------------------------- */

/* Largest error a quantizer may make on a block with this min/max (its scale's half step,
 * or a full step where ggml clamps the top code, plus fp16 rounding of the scale and min). */
static double block_error_bound(int type, float lo, float hi) {
    const double amax = fmax(fabs(lo), fabs(hi)), fp16 = 0x1p-10;
    switch (type) {
    case BB_TYPE_F32:
        return 0;
    case BB_TYPE_F16:
        return amax * 0x1p-11 + 0x1p-25;
    case BB_TYPE_BF16:
        return amax * 0x1p-8;
    case BB_TYPE_Q4_0:
        return amax / 8 * (1 + 8 * fp16);
    case BB_TYPE_Q5_0:
        return amax / 16 * (1 + 16 * fp16);
    case BB_TYPE_Q4_1:
        return (hi - lo) / 15 * (0.5 + 15 * fp16) + fabs(lo) * fp16;
    case BB_TYPE_Q5_1:
        return (hi - lo) / 31 * (0.5 + 31 * fp16) + fabs(lo) * fp16;
    default:
        return amax / 127 * (0.5 + 127 * fp16); /* Q8_0, Q8_1 */
    }
}

static void test_round_trip(int type) {
    const bb_type_traits *t = bb_type_get_ref(type);
    const int64_t n = 4096;
    float *x = xmalloc(n * sizeof(float));
    random_floats(x, n, 3.0f);
    void *row = quantize_row(type, x, n);
    float *back = dequantize(type, row, n);
    int bad = 0;
    double err2 = 0, x2 = 0;
    for (int64_t i = 0; i < n; i += 32) {
        float lo = FLT_MAX, hi = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            lo = fminf(lo, x[i + j]);
            hi = fmaxf(hi, x[i + j]);
        }
        const double bound = block_error_bound(type, lo, hi);
        for (int j = 0; j < 32; j++) {
            const double e = fabs((double)back[i + j] - x[i + j]);
            err2 += e * e;
            x2 += (double)x[i + j] * x[i + j];
            if (e > bound && bad++ < 3)
                fprintf(stderr, "%s: x=%g back=%g bound %g\n", t->name, x[i + j], back[i + j],
                        bound);
        }
    }
    CHECKF(bad == 0, "%s round trip: %d elements beyond the bound", t->name, bad);
    printf("%-5s round trip: relative rms error %.2e\n", t->name, sqrt(err2 / x2));
    free(x);
    free(row);
    free(back);
}

static void test_ref_dot(int type) {
    const bb_type_traits *t = bb_type_get_ref(type);
    const int64_t lens[] = {32, 256, 4128};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        const int64_t n = lens[k];
        float *fx = xmalloc(n * sizeof(float)), *fy = xmalloc(n * sizeof(float));
        random_floats(fx, n, 1.0f);
        random_floats(fy, n, 2.0f);
        void *x = quantize_row(type, fx, n), *y = quantize_row(t->vec_dot_type, fy, n);
        float got;
        t->vec_dot(n, &got, x, y);
        double mag;
        const double want = exact_dot(type, n, x, y, &mag);
        CHECKF(close_enough(got, want, mag, ref_terms(type, n)),
               "%s ref vec_dot n=%lld: %.9g vs exact %.9g", t->name, (long long)n, got, want);
        free(fx);
        free(fy);
        free(x);
        free(y);
    }
}

/* ---- SIMD against scalar ------------------------------------------------------------- */

static void compare_dot(const char *level, int type, const char *what, int64_t n, const void *x,
                        const void *y) {
    const bb_type_traits *ref = bb_type_get_ref(type), *t = bb_type_get_level(type, level);
    float a = -1, b = -2;
    ref->vec_dot(n, &a, x, y);
    t->vec_dot(n, &b, x, y);
    double mag;
    exact_dot(type, n, x, y, &mag);
    CHECKF(close_enough(b, a, mag, ref_terms(type, n)),
           "%s %s vec_dot (%s, n=%lld): %.9g vs ref %.9g", level, ref->name, what, (long long)n, b,
           a);
}

/* Fills a row with one repeated block, for edge patterns. */
static void *pattern_row(int type, int64_t n, const void *block) {
    const bb_type_traits *t = bb_type_get_ref(type);
    uint8_t *row = xmalloc(bb_row_size(type, n));
    for (int64_t i = 0; i < n / t->block_size; i++)
        memcpy(row + i * t->type_size, block, t->type_size);
    return row;
}

/* Edge blocks: all codes at the top (or bottom) with the largest finite scale (and min). */
static void edge_block(int type, bool top, bool neg_scale, uint8_t *b) {
    const bb_type_traits *t = bb_type_get_ref(type);
    const uint16_t d = neg_scale ? 0xfbff : 0x7bff;
    memset(b, top ? 0xFF : 0x00, t->type_size);
    switch (type) {
    case BB_TYPE_Q8_0:
    case BB_TYPE_Q8_1: {
        int8_t *qs = (int8_t *)b + t->type_size - 32;
        for (int j = 0; j < 32; j++)
            qs[j] = top ? 127 : -127;
        break;
    }
    case BB_TYPE_F32: {
        const float v = neg_scale ? -1e17f : 1e17f; /* n * v^2 stays finite */
        memcpy(b, &v, 4);
        return;
    }
    case BB_TYPE_F16:
        memcpy(b, &d, 2);
        return;
    case BB_TYPE_BF16: {
        const uint16_t v = bb_fp32_to_bf16(neg_scale ? -1e17f : 1e17f);
        memcpy(b, &v, 2);
        return;
    }
    default:
        break;
    }
    memcpy(b, &d, 2);                                                /* d */
    if (has_min(type) || type == BB_TYPE_Q8_1) memcpy(b + 2, &d, 2); /* m or s */
}

static void compare_dot_edges(const char *level, int type, int64_t n) {
    const int yt = bb_type_get_ref(type)->vec_dot_type;
    uint8_t bx[64], by[64];
    /* zeros */
    memset(bx, 0, sizeof bx);
    memset(by, 0, sizeof by);
    void *x = pattern_row(type, n, bx), *y = pattern_row(yt, n, by);
    compare_dot(level, type, "zeros", n, x, y);
    free(x);
    free(y);
    /* max magnitudes with every sign combination */
    for (int c = 0; c < 8; c++) {
        edge_block(type, c & 1, c & 2, bx);
        edge_block(yt, !(c & 4), c & 4, by);
        x = pattern_row(type, n, bx);
        y = pattern_row(yt, n, by);
        compare_dot(level, type, "max magnitudes", n, x, y);
        free(x);
        free(y);
    }
    /* large weights against activations of alternating sign (cancellation) */
    float *fy = xmalloc(n * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        fy[i] = (i & 1) ? -100.0f : 100.0f;
    edge_block(type, true, false, bx);
    x = pattern_row(type, n, bx);
    y = quantize_row(yt, fy, n);
    compare_dot(level, type, "alternating", n, x, y);
    free(x);
    free(y);
    free(fy);
}

static void compare_from_float(const char *level, int type, const char *what, const float *x,
                               int64_t n) {
    const bb_type_traits *ref = bb_type_get_ref(type), *t = bb_type_get_level(type, level);
    const size_t size = bb_row_size(type, n);
    uint8_t *a = xmalloc(size), *b = xmalloc(size);
    memset(a, 0x11, size);
    memset(b, 0x22, size);
    ref->from_float(x, a, n);
    t->from_float(x, b, n);
    const bool same = memcmp(a, b, size) == 0;
    CHECKF(same, "%s %s from_float (%s, n=%lld) differs from the reference", level, ref->name, what,
           (long long)n);
    free(a);
    free(b);
}

static void compare_to_float(const char *level, int type, const void *row, int64_t n) {
    const bb_type_traits *ref = bb_type_get_ref(type), *t = bb_type_get_level(type, level);
    float *a = xmalloc(n * sizeof(float)), *b = xmalloc(n * sizeof(float));
    ref->to_float(row, a, n);
    t->to_float(row, b, n);
    CHECKF(memcmp(a, b, n * sizeof(float)) == 0, "%s %s to_float (n=%lld)", level, ref->name,
           (long long)n);
    free(a);
    free(b);
}

/* Inputs for the quantizers: random, ties of roundf (x.5 after scaling), edge values. */
static void quantizer_inputs(const char *level, int type, int64_t n) {
    float *x = xmalloc(n * sizeof(float));
    random_floats(x, n, 1.0f);
    compare_from_float(level, type, "random", x, n);
    random_floats(x, n, 1e4f);
    compare_from_float(level, type, "large", x, n);
    random_floats(x, n, 1e-30f);
    compare_from_float(level, type, "tiny", x, n);
    for (int64_t i = 0; i < n; i++) /* amax 127 -> scale 1: every x.5 is a tie */
        x[i] = (i % 32 == 0) ? 127.0f : (float)((int)(tu_rand_u64(&rng) % 254) - 127) + 0.5f;
    compare_from_float(level, type, "ties", x, n);
    for (int64_t i = 0; i < n; i++)
        x[i] = 0.0f;
    compare_from_float(level, type, "zeros", x, n);
    for (int64_t i = 0; i < n; i++)
        x[i] = (i & 1) ? -65504.0f : 65504.0f;
    compare_from_float(level, type, "max", x, n);
    for (int64_t i = 0; i < n; i++)
        x[i] = -1e-40f * (float)(i % 7); /* 1/d overflows */
    compare_from_float(level, type, "subnormal", x, n);
    for (int64_t i = 0; i < n; i++)
        x[i] = bits_f32((uint32_t)tu_rand_u64(&rng));
    if (type == BB_TYPE_F16 || type == BB_TYPE_BF16) /* any bits, NaNs included */
        compare_from_float(level, type, "any bits", x, n);
    free(x);
}

/* vec_dot_x4 must give, bit for bit, what vec_dot of the same level gives for each of the
 * four activation rows (batch invariance). Rows are `stride` bytes apart, more than a row. */
static void check_x4(const char *level, int type, int64_t n) {
    const bb_type_traits *t = bb_type_get_level(type, level);
    const size_t xrow = bb_row_size(t->vec_dot_type, n), stride = xrow + 2 * 36;
    uint8_t *ys = xmalloc(4 * stride);
    memset(ys, 0x5A, 4 * stride);
    for (int kind = 0; kind < 3; kind++) {
        void *x = kind == 0 ? random_raw_row(type, n) : NULL;
        if (kind > 0) { /* edges: every row at the top code or the bottom */
            uint8_t b[64];
            edge_block(type, kind == 1, kind == 2, b);
            x = pattern_row(type, n, b);
        }
        for (int r = 0; r < 4; r++) {
            void *y = random_raw_row(t->vec_dot_type, n);
            memcpy(ys + r * stride, y, xrow);
            free(y);
        }
        float s4[4], s1;
        t->vec_dot_x4(n, s4, x, ys, stride);
        for (int r = 0; r < 4; r++) {
            t->vec_dot(n, &s1, x, ys + r * stride);
            CHECKF(memcmp(&s1, &s4[r], sizeof s1) == 0,
                   "%s %s vec_dot_x4 row %d (n=%lld): %.9g vs vec_dot %.9g", level, t->name, r,
                   (long long)n, s4[r], s1);
        }
        free(x);
    }
    free(ys);
}

static void test_level(const char *level) {
    if (!bb_type_get_level(BB_TYPE_F32, level)) {
        printf("SKIP: %s kernels (this CPU lacks %s)\n", level, level);
        return;
    }
    int kernels = 0;
    for (int k = 0; k < N_TYPES; k++) {
        const int type = all_types[k];
        const bb_type_traits *ref = bb_type_get_ref(type), *t = bb_type_get_level(type, level);
        const bool blocks = ref->block_size > 1;
        const int64_t lens[] = {32, 64, 96, 256, 4096, 4128, 1, 7, 17, 100, 4097};
        const int nlens = blocks ? 6 : 11;
        if (t->vec_dot && t->vec_dot != ref->vec_dot) {
            kernels++;
            for (int l = 0; l < nlens; l++) {
                const int64_t n = lens[l];
                float *fx = xmalloc(n * sizeof(float)), *fy = xmalloc(n * sizeof(float));
                random_floats(fx, n, 1.0f);
                random_floats(fy, n, 1.0f);
                void *x = quantize_row(type, fx, n), *y = quantize_row(ref->vec_dot_type, fy, n);
                compare_dot(level, type, "random", n, x, y);
                free(x);
                x = random_raw_row(type, n);
                compare_dot(level, type, "random codes", n, x, y);
                free(x);
                free(y);
                free(fx);
                free(fy);
                compare_dot_edges(level, type, n);
            }
        }
        if (t->vec_dot_x4) {
            kernels++;
            for (int l = 0; l < nlens; l++)
                check_x4(level, type, lens[l]);
        }
        if (t->from_float != ref->from_float) {
            kernels++;
            for (int l = 0; l < nlens; l++)
                quantizer_inputs(level, type, lens[l]);
        }
        if (t->to_float != ref->to_float) {
            kernels++;
            for (int l = 0; l < nlens; l++) {
                void *row = random_raw_row(type, lens[l]);
                compare_to_float(level, type, row, lens[l]);
                free(row);
            }
            uint16_t all[65536]; /* every half: F16 and BF16 widen exactly */
            for (int h = 0; h < 65536; h++)
                all[h] = (uint16_t)h;
            compare_to_float(level, type, all, 65536);
        }
    }
    printf("%s: %d kernels checked against the reference\n", level, kernels);
}

/* ---- conformance with llama-quantize ------------------------------------------------- */

static bool is_legacy_weight(uint32_t type) {
    return type == BB_TYPE_F16 || type == BB_TYPE_BF16 || type == BB_TYPE_Q4_0 ||
           type == BB_TYPE_Q4_1 || type == BB_TYPE_Q5_0 || type == BB_TYPE_Q5_1 ||
           type == BB_TYPE_Q8_0;
}

/* Every tensor of our types in `qname` (written by llama-quantize) must be byte-identical to
 * the same tensor of `srcname` (its F32 or F16 source) quantized by our reference, and by
 * each SIMD level's from_float where it has one. */
static void conformance_file(const char *dir, const char *qname, const char *srcname) {
    char qpath[1024], spath[1024];
    snprintf(qpath, sizeof qpath, "%s/models/%s", dir, qname);
    snprintf(spath, sizeof spath, "%s/models/%s", dir, srcname);
    gguf_file *qf = NULL, *sf = NULL;
    bb_error err;
    const bool ok = gguf_open(qpath, &qf, &err) == BB_OK && gguf_open(spath, &sf, &err) == BB_OK;
    CHECKF(ok, "%s", err.message);
    int checked = 0, exact = 0;
    for (int64_t i = 0; ok && i < gguf_n_tensors(qf); i++) {
        const gguf_tensor *qt = gguf_tensor_at(qf, i);
        const gguf_tensor *st = gguf_find_tensor(sf, qt->name);
        if (!is_legacy_weight(qt->type) || !st || st->type > BB_TYPE_F16) continue;
        const int64_t n = (int64_t)(st->size / (st->type == BB_TYPE_F32 ? 4 : 2));
        if (bb_row_size((int)qt->type, n) != qt->size) continue;
        float *x = dequantize((int)st->type, st->data, n); /* llama-quantize widens F16 too */
        void *q = quantize_row((int)qt->type, x, n);
        checked++;
        if (memcmp(q, qt->data, qt->size) == 0)
            exact++;
        else
            printf("  %s %s (%s) differs\n", qname, qt->name, bb_type_get_ref(qt->type)->name);
        for (size_t l = 0; l < sizeof simd_levels / sizeof simd_levels[0]; l++) {
            const bb_type_traits *t = bb_type_get_level((int)qt->type, simd_levels[l]);
            if (t && t->from_float != bb_type_get_ref(qt->type)->from_float)
                compare_from_float(simd_levels[l], (int)qt->type, qt->name, x, n);
        }
        free(x);
        free(q);
    }
    printf("%s: %d of %d tensors re-quantized byte-identically from %s\n", qname, exact, checked,
           srcname);
    CHECKF(checked > 0, "%s: no tensors of our types", qname);
    CHECKF(exact == checked, "%s: %d tensors differ from llama-quantize", qname, checked - exact);
    gguf_close(qf);
    gguf_close(sf);
}

static void test_conformance(void) {
    const char *dir = tu_testdata();
    if (!dir) {
        tu_skip("legacy quantizers byte for byte against llama-quantize");
        return;
    }
    static const char *const llama_a[] = {"llamaA-Q4_0.gguf", "llamaA-Q4_1.gguf",
                                          "llamaA-Q5_0.gguf", "llamaA-Q5_1.gguf",
                                          "llamaA-Q8_0.gguf", "llamaA-f16.gguf"};
    for (size_t i = 0; i < sizeof llama_a / sizeof llama_a[0]; i++)
        conformance_file(dir, llama_a[i], "llamaA-f32.gguf");
    conformance_file(dir, "llamaC-Q8_0.gguf", "llamaC-f32.gguf");
    conformance_file(dir, "qwen2B-Q8_0.gguf", "qwen2B-f16.gguf");
}

/* ---- micro-benchmark (BB_QUANT_BENCH=1) ---------------------------------------------- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float bench_sink; /* keeps the benchmarked calls */

/* Best of five timed runs of about 0.1 s each: the machine may be shared. */
static double best_rate(void (*run)(const void *ctx), const void *ctx, double bytes_per_run) {
    double best = 0;
    for (int trial = 0; trial < 5; trial++) {
        int reps = 0;
        const double t0 = now_s();
        double t1;
        do {
            run(ctx);
            reps++;
            t1 = now_s();
        } while (t1 - t0 < 0.1);
        const double rate = bytes_per_run * reps / (t1 - t0) / 1e9;
        if (rate > best) best = rate;
    }
    return best;
}

typedef struct {
    const bb_type_traits *t;
    const uint8_t *w;
    const void *y;
    const float *x;
    void *out;
    int64_t n, rows;
    size_t row;
} bench_ctx;

static void run_vec_dot(const void *vctx) {
    const bench_ctx *c = vctx;
    for (int64_t r = 0; r < c->rows; r++) {
        float s;
        c->t->vec_dot(c->n, &s, c->w + r * c->row, c->y);
        bench_sink = s;
    }
}

static void run_vec_dot_x4(const void *vctx) {
    const bench_ctx *c = vctx;
    for (int64_t r = 0; r < c->rows; r++) {
        float s[4];
        c->t->vec_dot_x4(c->n, s, c->w + r * c->row, c->y, bb_row_size(c->t->vec_dot_type, c->n));
        bench_sink = s[0];
    }
}

static void run_from_float(const void *vctx) {
    const bench_ctx *c = vctx;
    for (int k = 0; k < 64; k++)
        c->t->from_float(c->x, c->out, c->n);
}

static const char *const bench_levels[] = {"scalar", "avx2", "avx512"};

/* GB/s of weight bytes streamed by vec_dot over rows of 4096 (32 MiB of weights); for
 * vec_dot_x4 (four tokens per weight row), weight bytes times four per second. */
static void bench_vec_dot(int type) {
    const bb_type_traits *ref = bb_type_get_ref(type);
    bench_ctx c = {.n = 4096};
    c.row = bb_row_size(type, c.n);
    c.rows = ((int64_t)32 << 20) / (int64_t)c.row;
    uint8_t *w = xmalloc(c.row * c.rows);
    void *one = random_raw_row(type, c.n);
    for (int64_t r = 0; r < c.rows; r++)
        memcpy(w + r * c.row, one, c.row);
    free(one);
    const size_t yrow = bb_row_size(ref->vec_dot_type, c.n);
    uint8_t *y = xmalloc(4 * yrow);
    for (int k = 0; k < 4; k++) {
        void *yk = random_raw_row(ref->vec_dot_type, c.n);
        memcpy(y + k * yrow, yk, yrow);
        free(yk);
    }
    c.w = w;
    c.y = y;
    const double bytes = (double)c.row * (double)c.rows;
    printf("bench %-5s vec_dot:", ref->name);
    for (int l = 0; l < 3; l++) {
        if (!(c.t = bb_type_get_level(type, bench_levels[l]))) continue;
        printf("  %s %.1f GB/s", bench_levels[l], best_rate(run_vec_dot, &c, bytes));
        if (c.t->vec_dot_x4) printf(" (x4 %.1f)", best_rate(run_vec_dot_x4, &c, 4 * bytes));
    }
    printf("\n");
    free(w);
    free(y);
}

/* GB/s of input floats quantized. */
static void bench_from_float(int type) {
    bench_ctx c = {.n = 4096};
    float *x = xmalloc(c.n * sizeof(float));
    random_floats(x, c.n, 1.0f);
    c.x = x;
    c.out = xmalloc(bb_row_size(type, c.n));
    printf("bench %-5s from_float:", bb_type_get_ref(type)->name);
    for (int l = 0; l < 3; l++) {
        if (!(c.t = bb_type_get_level(type, bench_levels[l]))) continue;
        printf("  %s %.1f GB/s", bench_levels[l], best_rate(run_from_float, &c, 64.0 * c.n * 4));
    }
    printf("  (of input floats)\n");
    free(x);
    free(c.out);
}

/* MXFP4 (gpt-oss): a crafted block's values, and the dot product over Q8_0 activations
 * against the exact one on its dequantized values, with every SIMD level bit-identical to
 * the reference. */
static void test_mxfp4(void) {
    const bb_type_traits *ref = bb_type_get_ref(BB_TYPE_MXFP4);
    CHECK(ref && ref->block_size == 32 && ref->type_size == 17 &&
          ref->vec_dot_type == BB_TYPE_Q8_0);
    CHECK(bb_row_size(BB_TYPE_MXFP4, 64) == 34);
    /* e = 129: scale 2; codes 0..15 low, 15..0 high: ggml's doubled E2M1 values times 2 */
    uint8_t blk[17];
    blk[0] = 129;
    for (int j = 0; j < 16; j++)
        blk[1 + j] = (uint8_t)(j | (15 - j) << 4);
    static const float e2m1x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    float y[32];
    ref->to_float(blk, y, 32);
    bool ok = true;
    for (int j = 0; j < 16; j++)
        ok &= y[j] == 2 * e2m1x2[j] && y[16 + j] == 2 * e2m1x2[15 - j];
    CHECKF(ok, "MXFP4 crafted block decodes wrong");
    blk[0] = 0; /* the smallest scale, 2^-128, is subnormal */
    ref->to_float(blk, y, 32);
    CHECK(y[1] == ldexpf(1.0f, -128) && y[15] == -12 * ldexpf(1.0f, -128));
    const int64_t n = 512;
    for (int rep = 0; rep < 20; rep++) {
        uint8_t *w = xmalloc((size_t)bb_row_size(BB_TYPE_MXFP4, n));
        for (int64_t b = 0; b < n / 32; b++) {
            w[b * 17] = (uint8_t)(118 + rep % 12 + b % 3); /* scales around 2^-8 .. 2^5 */
            for (int j = 1; j < 17; j++)
                w[b * 17 + j] = (uint8_t)(tu_rand_u64(&rng) & 0xFF);
        }
        float *x = xmalloc((size_t)n * sizeof *x);
        random_floats(x, n, 2.0f);
        void *a = quantize_row(BB_TYPE_Q8_0, x, n);
        float *wf = xmalloc((size_t)n * sizeof *wf), *af = xmalloc((size_t)n * sizeof *af);
        ref->to_float(w, wf, n);
        bb_type_get_ref(BB_TYPE_Q8_0)->to_float(a, af, n);
        double exact = 0, mag = 0;
        for (int64_t i = 0; i < n; i++) {
            exact += (double)wf[i] * af[i];
            mag += fabs((double)wf[i] * af[i]);
        }
        float got;
        ref->vec_dot(n, &got, w, a);
        CHECKF(fabs(got - exact) <= 1e-5 * mag + 1e-30, "MXFP4 dot %g, exact %g", got, exact);
        for (size_t l = 0; l < sizeof simd_levels / sizeof simd_levels[0]; l++) {
            const bb_type_traits *tl = bb_type_get_level(BB_TYPE_MXFP4, simd_levels[l]);
            if (!tl) continue;
            float simd;
            tl->vec_dot(n, &simd, w, a);
            CHECKF(f32_bits(simd) == f32_bits(got), "MXFP4 %s dot %g != scalar %g", simd_levels[l],
                   simd, got);
        }
        free(w), free(x), free(a), free(wf), free(af);
    }
}

int main(void) {
    test_half();
    test_traits();
    test_crafted_q8();
    test_crafted_q4();
    test_crafted_q5();
    test_crafted_float();
    test_mxfp4();
    for (int k = 0; k < N_TYPES; k++) {
        test_round_trip(all_types[k]);
        if (bb_type_get_ref(all_types[k])->vec_dot) test_ref_dot(all_types[k]);
    }
    for (size_t l = 0; l < sizeof simd_levels / sizeof simd_levels[0]; l++)
        test_level(simd_levels[l]);
    test_conformance();
    const char *bench = getenv("BB_QUANT_BENCH");
    if (bench && strcmp(bench, "1") == 0) {
        for (int k = 0; k < N_TYPES; k++)
            if (bb_type_get_ref(all_types[k])->vec_dot) bench_vec_dot(all_types[k]);
        bench_from_float(BB_TYPE_Q8_0);
        bench_from_float(BB_TYPE_Q8_1);
    }
    return tu_finish("test_quant");
}
