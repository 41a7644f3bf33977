/* GGUF reader and writer: round trips of every value type and several tensor types, the
 * conformance files when present, and a hostile set of malformed images that must each fail
 * cleanly with a message naming the problem. */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "testutil.h"

static bool msg_has(const bb_error *e, const char *word) {
    return strstr(e->message, word);
}

static bool str_eq(gguf_string s, const char *want) {
    return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

/* ---------------------------------------------------------------- a fixture with everything */

typedef struct fixture_tensor {
    const char *name;
    uint32_t type, n_dims;
    uint64_t ne[4];
    size_t nbytes;
} fixture_tensor;

static const fixture_tensor fixture_tensors[] = {
    {"token_embd.weight", 0, 2, {8, 3}, 96},          /* F32 */
    {"output_norm.weight", 1, 1, {5}, 10},            /* F16 */
    {"blk.0.attn_q.weight", 2, 2, {64, 2}, 72},       /* Q4_0: 4 blocks of 18 */
    {"blk.0.attn_k.weight", 8, 4, {32, 1, 1, 2}, 68}, /* Q8_0: 2 blocks of 34 */
    {"blk.0.ffn_up.weight", 12, 2, {256, 2}, 288},    /* Q4_K: 2 blocks of 144 */
    {"blk.0.ffn_down.weight", 30, 3, {3, 2, 2}, 24},  /* BF16 */
    {"ids", 26, 1, {3}, 12},                          /* I32 */
};
enum { N_FIXTURE_TENSORS = sizeof fixture_tensors / sizeof fixture_tensors[0] };

static uint8_t fixture_data[N_FIXTURE_TENSORS][288];

static const char *const strs3[] = {"a", "", "hello world"};
static const uint8_t arr_u8[] = {0, 1, 255};
static const int8_t arr_i8[] = {-128, 0, 127};
static const uint16_t arr_u16[] = {0, 1000, 65535};
static const int16_t arr_i16[] = {-32768, 5, 32767};
static const uint32_t arr_u32[] = {0, 123456789, 4294967295u};
static const int32_t arr_i32[] = {INT32_MIN, -1, INT32_MAX};
static const float arr_f32[] = {-1.5f, 0.0f, 3.25e10f};
static const bool arr_bool[] = {true, false, true};
static const uint64_t arr_u64[] = {0, 1ULL << 40, UINT64_MAX};
static const int64_t arr_i64[] = {INT64_MIN, 0, INT64_MAX};
static const double arr_f64[] = {-2.5, 1e300, 0.1};

/* Every value type as a scalar and as an array, and the fixture tensors. */
static gguf_writer *build_fixture(uint32_t alignment) {
    gguf_writer *w = gguf_writer_new();
    uint64_t seed = 42;
    for (int i = 0; i < N_FIXTURE_TENSORS; i++)
        for (size_t j = 0; j < sizeof fixture_data[i]; j++)
            fixture_data[i][j] = (uint8_t)tu_rand_u64(&seed);
    /* fill real bf16/f16/f32 bits are not needed: the layer only moves bytes */
    CHECK(gguf_writer_set_str(w, "general.architecture", "llama") == BB_OK);
    if (alignment) CHECK(gguf_writer_set_u32(w, "general.alignment", alignment) == BB_OK);
    uint8_t u8 = 200;
    int8_t i8 = -5;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    double f64 = 3.25;
    int64_t i64 = -(1LL << 62);
    CHECK(gguf_writer_set_scalar(w, "t.u8", GGUF_TYPE_UINT8, &u8) == BB_OK);
    CHECK(gguf_writer_set_scalar(w, "t.i8", GGUF_TYPE_INT8, &i8) == BB_OK);
    CHECK(gguf_writer_set_scalar(w, "t.u16", GGUF_TYPE_UINT16, &u16) == BB_OK);
    CHECK(gguf_writer_set_scalar(w, "t.i16", GGUF_TYPE_INT16, &i16) == BB_OK);
    CHECK(gguf_writer_set_u32(w, "t.u32", 4000000000u) == BB_OK);
    CHECK(gguf_writer_set_i32(w, "t.i32", -2000000000) == BB_OK);
    CHECK(gguf_writer_set_f32(w, "t.f32", 1.5f) == BB_OK);
    CHECK(gguf_writer_set_bool(w, "t.bool", true) == BB_OK);
    CHECK(gguf_writer_set_bool(w, "t.false", false) == BB_OK);
    CHECK(gguf_writer_set_u64(w, "t.u64", (1ULL << 63) + 5) == BB_OK);
    CHECK(gguf_writer_set_scalar(w, "t.i64", GGUF_TYPE_INT64, &i64) == BB_OK);
    CHECK(gguf_writer_set_scalar(w, "t.f64", GGUF_TYPE_FLOAT64, &f64) == BB_OK);
    CHECK(gguf_writer_set_str(w, "t.str", "héllo") == BB_OK);
    CHECK(gguf_writer_set_str(w, "t.empty_str", "") == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.u8", GGUF_TYPE_UINT8, arr_u8, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.i8", GGUF_TYPE_INT8, arr_i8, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.u16", GGUF_TYPE_UINT16, arr_u16, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.i16", GGUF_TYPE_INT16, arr_i16, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.u32", GGUF_TYPE_UINT32, arr_u32, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.i32", GGUF_TYPE_INT32, arr_i32, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.f32", GGUF_TYPE_FLOAT32, arr_f32, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.bool", GGUF_TYPE_BOOL, arr_bool, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.u64", GGUF_TYPE_UINT64, arr_u64, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.i64", GGUF_TYPE_INT64, arr_i64, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.f64", GGUF_TYPE_FLOAT64, arr_f64, 3) == BB_OK);
    CHECK(gguf_writer_set_arr(w, "a.empty", GGUF_TYPE_UINT32, NULL, 0) == BB_OK);
    CHECK(gguf_writer_set_arr_str(w, "a.str", strs3, 3) == BB_OK);
    CHECK(gguf_writer_set_arr_str(w, "a.empty_str", NULL, 0) == BB_OK);
    /* Replacing keeps the position: t.u32 stays where it was set first. */
    CHECK(gguf_writer_set_u32(w, "t.replaced", 1) == BB_OK);
    CHECK(gguf_writer_set_str(w, "t.replaced", "second") == BB_OK);
    bb_error err = {0};
    for (int i = 0; i < N_FIXTURE_TENSORS; i++) {
        const fixture_tensor *t = &fixture_tensors[i];
        CHECKF(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, fixture_data[i],
                                      t->nbytes, &err) == BB_OK,
               "%s", err.message);
    }
    return w;
}

static void check_scalars(const gguf_file *f) {
    bb_error err = {0};
    int64_t i = gguf_find_key(f, "t.u8");
    CHECK(i >= 0 && gguf_kv_type(f, i) == GGUF_TYPE_UINT8 && gguf_kv_u64(f, i) == 200);
    i = gguf_find_key(f, "t.i8");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_INT8 && gguf_kv_i64(f, i) == -5);
    i = gguf_find_key(f, "t.u16");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_UINT16 && gguf_kv_u64(f, i) == 60000);
    i = gguf_find_key(f, "t.i16");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_INT16 && gguf_kv_i64(f, i) == -30000);
    i = gguf_find_key(f, "t.u32");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_UINT32 && gguf_kv_u64(f, i) == 4000000000u);
    i = gguf_find_key(f, "t.i32");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_INT32 && gguf_kv_i64(f, i) == -2000000000);
    i = gguf_find_key(f, "t.f32");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_FLOAT32 && gguf_kv_f64(f, i) == 1.5);
    i = gguf_find_key(f, "t.bool");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_BOOL && gguf_kv_u64(f, i) == 1);
    i = gguf_find_key(f, "t.u64");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_UINT64 && gguf_kv_u64(f, i) == (1ULL << 63) + 5);
    CHECK(gguf_kv_i64(f, i) == INT64_MAX); /* saturates */
    i = gguf_find_key(f, "t.i64");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_INT64 && gguf_kv_i64(f, i) == -(1LL << 62));
    i = gguf_find_key(f, "t.f64");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_FLOAT64 && gguf_kv_f64(f, i) == 3.25);
    i = gguf_find_key(f, "t.str");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_STRING && str_eq(gguf_kv_str(f, i), "héllo"));
    i = gguf_find_key(f, "t.empty_str");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_STRING && gguf_kv_str(f, i).len == 0);
    i = gguf_find_key(f, "t.replaced");
    CHECK(str_eq(gguf_kv_str(f, i), "second"));
    CHECK(gguf_find_key(f, "t.nope") == -1);
    CHECK(gguf_arr_n(f, gguf_find_key(f, "t.u32")) == 0);

    /* typed getters */
    uint32_t u32 = 7;
    int32_t i32 = 7;
    float f32 = 7;
    bool b = false;
    gguf_string s;
    CHECK(gguf_get_u32(f, "t.u8", true, &u32, &err) == BB_OK && u32 == 200);
    CHECK(gguf_get_u32(f, "t.u32", true, &u32, &err) == BB_OK && u32 == 4000000000u);
    CHECK(gguf_get_i32(f, "t.i16", true, &i32, &err) == BB_OK && i32 == -30000);
    CHECK(gguf_get_i32(f, "t.u16", true, &i32, &err) == BB_OK && i32 == 60000);
    CHECK(gguf_get_f32(f, "t.f32", true, &f32, &err) == BB_OK && f32 == 1.5f);
    CHECK(gguf_get_f32(f, "t.f64", true, &f32, &err) == BB_OK && f32 == 3.25f);
    CHECK(gguf_get_bool(f, "t.bool", true, &b, &err) == BB_OK && b);
    CHECK(gguf_get_bool(f, "t.false", true, &b, &err) == BB_OK && !b);
    CHECK(gguf_get_str(f, "t.str", true, &s, &err) == BB_OK && str_eq(s, "héllo"));
    u32 = 9;
    CHECK(gguf_get_u32(f, "t.missing", false, &u32, &err) == BB_OK && u32 == 9);
    CHECK(gguf_get_u32(f, "t.missing", true, &u32, &err) == BB_ERR_FORMAT);
    CHECK(msg_has(&err, "missing") && msg_has(&err, "t.missing"));
    CHECK(gguf_get_u32(f, "t.i8", true, &u32, &err) == BB_ERR_FORMAT);
    CHECK(msg_has(&err, "t.i8") && msg_has(&err, "does not fit") && msg_has(&err, "int8"));
    CHECK(gguf_get_u32(f, "t.u64", true, &u32, &err) == BB_ERR_FORMAT);
    CHECK(msg_has(&err, "uint64") && msg_has(&err, "uint32"));
    CHECK(gguf_get_i32(f, "t.u32", true, &i32, &err) == BB_ERR_FORMAT);
    CHECK(msg_has(&err, "does not fit"));
    CHECK(gguf_get_u32(f, "t.str", true, &u32, &err) == BB_ERR_FORMAT);
    CHECK(msg_has(&err, "t.str") && msg_has(&err, "string") && msg_has(&err, "uint32"));
    CHECK(gguf_get_u32(f, "t.f32", true, &u32, &err) == BB_ERR_FORMAT);
    CHECK(gguf_get_u32(f, "t.bool", true, &u32, &err) == BB_ERR_FORMAT);
    CHECK(gguf_get_f32(f, "t.u32", true, &f32, &err) == BB_ERR_FORMAT);
    CHECK(msg_has(&err, "float32"));
    CHECK(gguf_get_bool(f, "t.u8", true, &b, &err) == BB_ERR_FORMAT && msg_has(&err, "bool"));
    CHECK(gguf_get_str(f, "a.str", true, &s, &err) == BB_ERR_FORMAT);
    CHECK(msg_has(&err, "array of string") && msg_has(&err, "wanted string"));
    CHECK(gguf_get_str(f, "nope", false, &s, &err) == BB_OK);
}

static void check_arrays(const gguf_file *f) {
    bb_error err = {0};
    int64_t i;
    CHECK(gguf_get_arr(f, "a.u8", GGUF_TYPE_UINT8, true, &i, &err) == BB_OK && i >= 0);
    CHECK(gguf_arr_n(f, i) == 3 && gguf_arr_i64(f, i, 2) == 255 &&
          memcmp(gguf_arr_data(f, i), arr_u8, 3) == 0);
    i = gguf_find_key(f, "a.i8");
    CHECK(gguf_arr_type(f, i) == GGUF_TYPE_INT8 && gguf_arr_i64(f, i, 0) == -128);
    i = gguf_find_key(f, "a.u16");
    CHECK(gguf_arr_i64(f, i, 2) == 65535 && memcmp(gguf_arr_data(f, i), arr_u16, 6) == 0);
    i = gguf_find_key(f, "a.i16");
    CHECK(gguf_arr_i64(f, i, 0) == -32768 && gguf_arr_f64(f, i, 2) == 32767.0);
    i = gguf_find_key(f, "a.u32");
    CHECK(gguf_arr_i64(f, i, 2) == 4294967295LL);
    i = gguf_find_key(f, "a.i32");
    CHECK(gguf_arr_i64(f, i, 0) == INT32_MIN && gguf_arr_i64(f, i, 2) == INT32_MAX);
    i = gguf_find_key(f, "a.f32");
    CHECK(gguf_arr_f64(f, i, 0) == -1.5 && gguf_arr_f64(f, i, 2) == (double)3.25e10f);
    i = gguf_find_key(f, "a.bool");
    CHECK(gguf_arr_type(f, i) == GGUF_TYPE_BOOL && gguf_arr_i64(f, i, 0) == 1 &&
          gguf_arr_i64(f, i, 1) == 0);
    i = gguf_find_key(f, "a.u64");
    CHECK(memcmp(gguf_arr_data(f, i), arr_u64, sizeof arr_u64) == 0);
    i = gguf_find_key(f, "a.i64");
    CHECK(gguf_arr_i64(f, i, 0) == INT64_MIN && gguf_arr_i64(f, i, 2) == INT64_MAX);
    i = gguf_find_key(f, "a.f64");
    CHECK(gguf_arr_f64(f, i, 1) == 1e300 && gguf_arr_i64(f, i, 1) == INT64_MAX);
    i = gguf_find_key(f, "a.empty");
    CHECK(gguf_kv_type(f, i) == GGUF_TYPE_ARRAY && gguf_arr_type(f, i) == GGUF_TYPE_UINT32 &&
          gguf_arr_n(f, i) == 0);
    CHECK(gguf_get_arr(f, "a.str", GGUF_TYPE_STRING, true, &i, &err) == BB_OK);
    CHECK(gguf_arr_n(f, i) == 3 && str_eq(gguf_arr_str(f, i, 0), "a") &&
          str_eq(gguf_arr_str(f, i, 1), "") && str_eq(gguf_arr_str(f, i, 2), "hello world"));
    i = gguf_find_key(f, "a.empty_str");
    CHECK(gguf_arr_type(f, i) == GGUF_TYPE_STRING && gguf_arr_n(f, i) == 0);
    CHECK(gguf_get_arr(f, "a.u8", GGUF_TYPE_COUNT, true, &i, &err) == BB_OK && i >= 0);
    CHECK(gguf_get_arr(f, "a.u8", GGUF_TYPE_STRING, true, &i, &err) == BB_ERR_FORMAT);
    CHECK(msg_has(&err, "array of uint8") && msg_has(&err, "array of string"));
    CHECK(gguf_get_arr(f, "t.u8", GGUF_TYPE_UINT8, true, &i, &err) == BB_ERR_FORMAT);
    CHECK(gguf_get_arr(f, "nope", GGUF_TYPE_UINT8, false, &i, &err) == BB_OK && i == -1);
}

static void check_tensors(const gguf_file *f) {
    CHECK(gguf_n_tensors(f) == N_FIXTURE_TENSORS);
    for (int i = 0; i < N_FIXTURE_TENSORS; i++) {
        const fixture_tensor *want = &fixture_tensors[i];
        const gguf_tensor *t = gguf_tensor_at(f, i);
        CHECK(t && t == gguf_find_tensor(f, want->name) && strcmp(t->name, want->name) == 0);
        if (!t) continue;
        CHECK(t->type == want->type && t->n_dims == want->n_dims && t->size == want->nbytes);
        for (uint32_t d = 0; d < 4; d++)
            CHECK(t->ne[d] == (d < want->n_dims ? want->ne[d] : 1));
        CHECK(t->offset % gguf_alignment(f) == 0);
        CHECK((gguf_data_offset(f) + t->offset) % gguf_alignment(f) == 0);
        CHECK(gguf_data_offset(f) + t->offset + t->size <= gguf_file_size(f));
        CHECK(memcmp(t->data, fixture_data[i], want->nbytes) == 0);
    }
    CHECK(gguf_find_tensor(f, "nope") == NULL && gguf_tensor_at(f, N_FIXTURE_TENSORS) == NULL);
}

static void check_fixture(const gguf_file *f, uint64_t alignment) {
    CHECK(gguf_version(f) == 3);
    CHECK(gguf_alignment(f) == alignment);
    CHECK(gguf_data_offset(f) % alignment == 0);
    /* keys in insertion order */
    CHECK(strcmp(gguf_key(f, 0), "general.architecture") == 0);
    CHECK(strcmp(gguf_key(f, gguf_n_kv(f) - 1), "t.replaced") == 0);
    check_scalars(f);
    check_arrays(f);
    check_tensors(f);
}

/* Writes the fixture to memory and to a file, reads both back, and checks the copy path. */
static void test_roundtrip(uint32_t alignment) {
    bb_error err = {0};
    gguf_writer *w = build_fixture(alignment);
    void *img = NULL;
    size_t size = 0;
    CHECKF(gguf_writer_write_memory(w, &img, &size, &err) == BB_OK, "%s", err.message);
    gguf_file *f = NULL;
    CHECKF(gguf_open_memory(img, size, &f, &err) == BB_OK, "%s", err.message);
    if (f) check_fixture(f, alignment ? alignment : GGUF_DEFAULT_ALIGNMENT);

    char path[] = "/tmp/test_gguf_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECKF(gguf_writer_write(w, path, &err) == BB_OK, "%s", err.message);
    size_t flen = 0;
    char *bytes = tu_read_file(path, &flen);
    CHECK(bytes && flen == size && memcmp(bytes, img, size) == 0);
    free(bytes);
    gguf_file *g = NULL;
    CHECKF(gguf_open(path, &g, &err) == BB_OK, "%s", err.message);
    if (g) check_fixture(g, alignment ? alignment : GGUF_DEFAULT_ALIGNMENT);
    gguf_close(g);
    unlink(path);

    /* Copying every key and tensor from the reader reproduces the image byte for byte. */
    if (f) {
        gguf_writer *c = gguf_writer_new();
        for (int64_t i = 0; i < gguf_n_kv(f); i++)
            CHECK(gguf_writer_copy_kv(c, f, i) == BB_OK);
        for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
            const gguf_tensor *t = gguf_tensor_at(f, i);
            CHECK(gguf_writer_add_tensor(c, t->name, t->type, t->n_dims, t->ne, t->data, t->size,
                                         &err) == BB_OK);
        }
        void *img2 = NULL;
        size_t size2 = 0;
        CHECK(gguf_writer_write_memory(c, &img2, &size2, &err) == BB_OK);
        CHECK(size2 == size && memcmp(img, img2, size) == 0);
        free(img2);
        gguf_writer_free(c);
    }
    gguf_close(f);
    free(img);
    gguf_writer_free(w);
}

static void test_writer_errors(void) {
    bb_error err = {0};
    gguf_writer *w = gguf_writer_new();
    uint8_t data[64] = {0};
    uint64_t ne[4] = {4, 1, 1, 1};
    CHECK(gguf_writer_set_u32(w, "", 1) == BB_ERR_INVALID_ARGUMENT);
    CHECK(gguf_writer_set_u32(w, NULL, 1) == BB_ERR_INVALID_ARGUMENT);
    CHECK(gguf_writer_set_str(w, "k", NULL) == BB_ERR_INVALID_ARGUMENT);
    CHECK(gguf_writer_set_arr(w, "k", GGUF_TYPE_STRING, data, 1) == BB_ERR_INVALID_ARGUMENT);
    CHECK(gguf_writer_set_arr(w, "k", 99, data, 1) == BB_ERR_INVALID_ARGUMENT);
    CHECK(gguf_writer_set_scalar(w, "k", GGUF_TYPE_ARRAY, data) == BB_ERR_INVALID_ARGUMENT);
    CHECK(gguf_writer_add_tensor(w, "t", 0, 1, ne, data, 16, &err) == BB_OK);
    CHECK(gguf_writer_add_tensor(w, "t", 0, 1, ne, data, 16, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(msg_has(&err, "duplicate"));
    CHECK(gguf_writer_add_tensor(w, "u", 0, 1, ne, data, 12, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(msg_has(&err, "bytes"));
    CHECK(gguf_writer_add_tensor(w, "u", 0, 0, ne, data, 16, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(msg_has(&err, "n_dims"));
    CHECK(gguf_writer_add_tensor(w, "u", 0, 5, ne, data, 16, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(gguf_writer_add_tensor(w, "u", 99, 1, ne, data, 16, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(msg_has(&err, "unknown"));
    CHECK(gguf_writer_add_tensor(w, "u", 2, 1, ne, data, 16, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(msg_has(&err, "block size"));
    char long_name[80];
    memset(long_name, 'x', 65);
    long_name[65] = 0;
    CHECK(gguf_writer_add_tensor(w, long_name, 0, 1, ne, data, 16, &err) ==
          BB_ERR_INVALID_ARGUMENT);
    long_name[64] = 0;
    CHECK(gguf_writer_add_tensor(w, long_name, 0, 1, ne, data, 16, &err) == BB_OK);

    void *img;
    size_t size;
    CHECK(gguf_writer_set_u32(w, "general.alignment", 48) == BB_OK);
    CHECK(gguf_writer_write_memory(w, &img, &size, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(msg_has(&err, "alignment"));
    CHECK(gguf_writer_set_str(w, "general.alignment", "32") == BB_OK);
    CHECK(gguf_writer_write_memory(w, &img, &size, &err) == BB_ERR_INVALID_ARGUMENT);
    CHECK(gguf_writer_set_u32(w, "general.alignment", 1) == BB_OK);
    CHECK(gguf_writer_write_memory(w, &img, &size, &err) == BB_OK);
    gguf_file *f = NULL;
    CHECK(gguf_open_memory(img, size, &f, &err) == BB_OK && gguf_alignment(f) == 1);
    gguf_close(f);
    free(img);
    CHECK(gguf_writer_write(w, "/nonexistent-dir/x.gguf", &err) == BB_ERR_IO);
    CHECK(msg_has(&err, "nonexistent-dir"));
    gguf_writer_free(w);

    /* An empty writer makes a valid, empty file. */
    w = gguf_writer_new();
    CHECK(gguf_writer_write_memory(w, &img, &size, &err) == BB_OK && size == 32);
    CHECK(gguf_open_memory(img, size, &f, &err) == BB_OK);
    CHECK(f && gguf_n_kv(f) == 0 && gguf_n_tensors(f) == 0);
    gguf_close(f);
    free(img);
    gguf_writer_free(w);
}

/* The GGUF layer's block layouts agree with the quant table wherever both know a type. */
static void test_type_table(void) {
    uint32_t block, tsize;
    CHECK(strcmp(gguf_ggml_type_info(12, &block, &tsize), "Q4_K") == 0 && block == 256 &&
          tsize == 144);
    CHECK(gguf_ggml_type_info(4, NULL, NULL) == NULL && gguf_ggml_type_info(1000, 0, 0) == NULL);
    for (int t = 0; t < BB_TYPE_COUNT; t++) {
        const bb_type_traits *q = bb_type_get_ref(t);
        if (!q || !q->block_size || !gguf_ggml_type_info((uint32_t)t, &block, &tsize)) continue;
        CHECKF(q->block_size == block && q->type_size == tsize, "type %d", t);
    }
}

/* ---------------------------------------------------------------- conformance files */

static void check_real_file(const char *path, bool is_model) {
    bb_error err = {0};
    gguf_file *f = NULL;
    if (gguf_open(path, &f, &err) != BB_OK) {
        CHECKF(false, "%s", err.message);
        return;
    }
    CHECK(gguf_version(f) == 2 || gguf_version(f) == 3);
    gguf_string arch = {0};
    CHECKF(gguf_get_str(f, "general.architecture", true, &arch, &err) == BB_OK, "%s", err.message);
    int64_t tok = -1;
    CHECKF(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, true, &tok, &err) == BB_OK,
           "%s", err.message);
    CHECKF(tok >= 0 && gguf_arr_n(f, tok) >= 1000, "%s", path);
    int64_t scores = gguf_find_key(f, "tokenizer.ggml.scores");
    if (scores >= 0) CHECK(gguf_arr_n(f, scores) == gguf_arr_n(f, tok));
    if (is_model) {
        CHECKF(gguf_n_tensors(f) > 0, "%s", path);
        CHECK(gguf_find_tensor(f, "token_embd.weight") != NULL);
        uint32_t n_layer = 0;
        char key[96];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch.len, arch.data);
        CHECKF(gguf_get_u32(f, key, true, &n_layer, &err) == BB_OK && n_layer >= 2, "%s",
               err.message);
    }
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        CHECK(gguf_data_offset(f) + t->offset + t->size <= gguf_file_size(f));
        CHECK(t->offset % gguf_alignment(f) == 0);
    }
    /* Copying it through the writer keeps every key and tensor. */
    gguf_writer *w = gguf_writer_new();
    for (int64_t i = 0; i < gguf_n_kv(f); i++)
        CHECK(gguf_writer_copy_kv(w, f, i) == BB_OK);
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        CHECK(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->size,
                                     &err) == BB_OK);
    }
    void *img = NULL;
    size_t size = 0;
    gguf_file *g = NULL;
    CHECK(gguf_writer_write_memory(w, &img, &size, &err) == BB_OK);
    CHECKF(gguf_open_memory(img, size, &g, &err) == BB_OK, "%s", err.message);
    if (g) {
        CHECK(gguf_n_kv(g) == gguf_n_kv(f) && gguf_n_tensors(g) == gguf_n_tensors(f));
        int64_t t2 = gguf_find_key(g, "tokenizer.ggml.tokens");
        CHECK(gguf_arr_n(g, t2) == gguf_arr_n(f, tok));
        for (uint64_t j = 0; j < gguf_arr_n(f, tok); j += 97) {
            gguf_string a = gguf_arr_str(f, tok, j), b = gguf_arr_str(g, t2, j);
            CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        }
        for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
            const gguf_tensor *a = gguf_tensor_at(f, i), *b = gguf_tensor_at(g, i);
            CHECK(a->size == b->size && memcmp(a->data, b->data, a->size) == 0);
        }
    }
    gguf_close(g);
    free(img);
    gguf_writer_free(w);
    gguf_close(f);
}

static void test_testdata(void) {
    const char *td = tu_testdata();
    if (!td) {
        tu_skip("GGUF conformance files");
        return;
    }
    const char *dirs[] = {"models", "tokenizer"};
    int n_files = 0;
    for (int d = 0; d < 2; d++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", td, dirs[d]);
        DIR *dp = opendir(dir);
        if (!dp) continue;
        struct dirent *e;
        while ((e = readdir(dp))) {
            size_t n = strlen(e->d_name);
            if (n < 5 || strcmp(e->d_name + n - 5, ".gguf") != 0) continue;
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            check_real_file(path, d == 0);
            n_files++;
        }
        closedir(dp);
    }
    printf("opened %d conformance GGUF files\n", n_files);
    CHECK(n_files > 0);
}

/* ---------------------------------------------------------------- hostile images */

typedef struct img {
    uint8_t *p;
    size_t len, cap;
} img;

static void i_put(img *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void i_u8(img *b, uint8_t v) {
    i_put(b, &v, 1);
}
static void i_u32(img *b, uint32_t v) {
    i_put(b, &v, 4);
}
static void i_u64(img *b, uint64_t v) {
    i_put(b, &v, 8);
}
static void i_str(img *b, const char *s) {
    i_u64(b, strlen(s));
    i_put(b, s, strlen(s));
}
static void i_zeros(img *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        i_u8(b, 0);
}
static void i_pad(img *b, size_t align) {
    while (b->len % align)
        i_u8(b, 0);
}
static void i_header(img *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    i_put(b, "GGUF", 4);
    i_u32(b, version);
    i_u64(b, n_tensors);
    i_u64(b, n_kv);
}
static void i_kv_u32(img *b, const char *key, uint32_t v) {
    i_str(b, key);
    i_u32(b, GGUF_TYPE_UINT32);
    i_u32(b, v);
}
static void i_tensor(img *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                     uint64_t offset) {
    i_str(b, name);
    i_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        i_u64(b, ne[d]);
    i_u32(b, type);
    i_u64(b, offset);
}

/* Opens an exact-size copy (so ASan sees any overread); returns the status. */
static bb_status open_copy(const void *data, size_t len, bb_error *err) {
    void *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    gguf_file *f = NULL;
    err->message[0] = 0;
    bb_status st = gguf_open_memory(copy, len, &f, err);
    if (st == BB_OK) {
        CHECK(f != NULL);
    } else {
        CHECK(f == NULL && err->message[0] != 0);
    }
    gguf_close(f);
    free(copy);
    return st;
}

/* The image must be rejected with a message containing `word`. */
static void expect_fail(img *b, const char *label, const char *word) {
    bb_error err = {0};
    bb_status st = open_copy(b->p, b->len, &err);
    CHECKF(st != BB_OK, "%s: accepted", label);
    CHECKF(st == BB_OK || msg_has(&err, word), "%s: message lacks '%s': %s", label, word,
           err.message);
    free(b->p);
    *b = (img){0};
}

static void expect_ok(img *b, const char *label) {
    bb_error err = {0};
    CHECKF(open_copy(b->p, b->len, &err) == BB_OK, "%s: %s", label, err.message);
    free(b->p);
    *b = (img){0};
}

/* A file with one tensor (no metadata) and data_bytes of data. */
static void one_tensor(img *b, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset,
                       size_t data_bytes) {
    i_header(b, 3, 1, 0);
    i_tensor(b, "w", n_dims, ne, type, offset);
    i_pad(b, 32);
    i_zeros(b, data_bytes);
}

static void test_hostile_tensors(void) {
    img b = {0};
    uint64_t ne4[] = {4}, ne8[] = {8}, ne16[] = {16};
    one_tensor(&b, 1, ne4, 0, 0, 16);
    expect_ok(&b, "baseline");
    one_tensor(&b, 1, ne4, 0, 32, 16);
    expect_fail(&b, "offset past end", "past the end of file");
    one_tensor(&b, 1, ne4, 0, 0, 15);
    expect_fail(&b, "data one byte short", "past the end of file");
    one_tensor(&b, 1, ne4, 0, UINT64_MAX - 31, 16);
    expect_fail(&b, "offset near 2^64", "past the end of file");
    one_tensor(&b, 1, ne4, 0, 4, 32);
    expect_fail(&b, "misaligned offset", "misaligned");
    uint64_t zero_dim[] = {4, 0};
    one_tensor(&b, 2, zero_dim, 0, 0, 16);
    expect_fail(&b, "zero dim", "dimension 1 is 0");
    uint64_t five[] = {1, 1, 1, 1, 1};
    one_tensor(&b, 0, five, 0, 0, 16);
    expect_fail(&b, "n_dims 0", "n_dims 0");
    one_tensor(&b, 5, five, 0, 0, 16);
    expect_fail(&b, "n_dims 5", "n_dims 5");
    i_header(&b, 3, 1, 0);
    i_str(&b, "w");
    i_u32(&b, 0xffffffffu);
    i_zeros(&b, 64);
    expect_fail(&b, "n_dims 2^32-1", "n_dims");
    uint64_t big2[] = {1ULL << 32, 1ULL << 32};
    one_tensor(&b, 2, big2, 0, 0, 64);
    expect_fail(&b, "dims product 2^64", "overflow");
    uint64_t big4[] = {UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX};
    one_tensor(&b, 4, big4, 0, 0, 64);
    expect_fail(&b, "dims all 2^64-1", "overflow");
    uint64_t bytes_ovf[] = {1ULL << 62};
    one_tensor(&b, 1, bytes_ovf, 0, 0, 64);
    expect_fail(&b, "f32 bytes overflow", "overflow");
    uint64_t ne33[] = {33};
    one_tensor(&b, 1, ne33, 2, 0, 64);
    expect_fail(&b, "ne0 not multiple of block", "block size");
    one_tensor(&b, 1, ne4, 99, 0, 64);
    expect_fail(&b, "unknown tensor type", "unknown");
    one_tensor(&b, 1, ne4, 16, 0, 64); /* IQ2_XXS: a ggml type we have no layout for */
    expect_fail(&b, "IQ2_XXS", "unsupported ggml type 16 (IQ2_XXS)");

    i_header(&b, 3, 2, 0); /* 64 bytes at 0 and 32 bytes at 32 */
    i_tensor(&b, "a", 1, ne16, 0, 0);
    i_tensor(&b, "b", 1, ne8, 0, 32);
    i_pad(&b, 32);
    i_zeros(&b, 96);
    expect_fail(&b, "overlap", "overlap");
    i_header(&b, 3, 2, 0); /* the same, listed in reverse order */
    i_tensor(&b, "b", 1, ne8, 0, 32);
    i_tensor(&b, "a", 1, ne16, 0, 0);
    i_pad(&b, 32);
    i_zeros(&b, 96);
    expect_fail(&b, "overlap reversed", "overlap");
    i_header(&b, 3, 2, 0); /* same offset */
    i_tensor(&b, "a", 1, ne8, 0, 0);
    i_tensor(&b, "b", 1, ne8, 0, 0);
    i_pad(&b, 32);
    i_zeros(&b, 64);
    expect_fail(&b, "same offset", "overlap");
    i_header(&b, 3, 2, 0); /* out of order but disjoint: fine */
    i_tensor(&b, "b", 1, ne8, 0, 32);
    i_tensor(&b, "a", 1, ne8, 0, 0);
    i_pad(&b, 32);
    i_zeros(&b, 64);
    expect_ok(&b, "out of order");
    i_header(&b, 3, 2, 0);
    i_tensor(&b, "a", 1, ne8, 0, 0);
    i_tensor(&b, "a", 1, ne8, 0, 32);
    i_pad(&b, 32);
    i_zeros(&b, 64);
    expect_fail(&b, "duplicate tensor name", "duplicate tensor name");

    char name65[66];
    memset(name65, 'n', 65);
    name65[65] = 0;
    i_header(&b, 3, 1, 0);
    i_tensor(&b, name65, 1, ne4, 0, 0);
    i_pad(&b, 32);
    i_zeros(&b, 16);
    expect_fail(&b, "tensor name 65 bytes", "exceeds the limit");
    i_header(&b, 3, 1, 0);
    i_tensor(&b, "", 1, ne4, 0, 0);
    i_pad(&b, 32);
    i_zeros(&b, 16);
    expect_fail(&b, "empty tensor name", "empty tensor name");
    i_header(&b, 3, 1, 0);
    i_u64(&b, UINT64_MAX); /* tensor name length */
    i_zeros(&b, 64);
    expect_fail(&b, "tensor name length 2^64-1", "length");
    i_header(&b, 3, UINT64_MAX, 0);
    expect_fail(&b, "n_tensors 2^64-1", "n_tensors");
    i_header(&b, 3, 1000, 0);
    i_zeros(&b, 1000);
    expect_fail(&b, "n_tensors beyond file", "n_tensors");
}

static void test_hostile_metadata(void) {
    img b = {0};
    i_header(&b, 3, 0, UINT64_MAX);
    expect_fail(&b, "n_kv 2^64-1", "n_kv");
    i_header(&b, 3, 0, 1ULL << 60);
    i_zeros(&b, 256);
    expect_fail(&b, "n_kv 2^60", "n_kv");
    i_header(&b, 3, 0, 1);
    i_u64(&b, UINT64_MAX);
    i_zeros(&b, 32);
    expect_fail(&b, "key length 2^64-1", "length");
    i_header(&b, 3, 0, 1);
    i_str(&b, "s");
    i_u32(&b, GGUF_TYPE_STRING);
    i_u64(&b, UINT64_MAX);
    i_zeros(&b, 32);
    expect_fail(&b, "string length 2^64-1", "length");
    i_header(&b, 3, 0, 1);
    i_str(&b, "s");
    i_u32(&b, GGUF_TYPE_STRING);
    i_u64(&b, 33);
    i_zeros(&b, 32);
    expect_fail(&b, "string one past end", "end of file");
    const uint32_t arr_types[] = {GGUF_TYPE_UINT8, GGUF_TYPE_UINT32, GGUF_TYPE_UINT64,
                                  GGUF_TYPE_STRING, GGUF_TYPE_BOOL};
    const uint64_t arr_lens[] = {UINT64_MAX, UINT64_MAX - 7, 1ULL << 61, 1ULL << 62,
                                 (1ULL << 63) + 1};
    for (int t = 0; t < 5; t++) {
        for (int l = 0; l < 5; l++) {
            i_header(&b, 3, 0, 1);
            i_str(&b, "arr");
            i_u32(&b, GGUF_TYPE_ARRAY);
            i_u32(&b, arr_types[t]);
            i_u64(&b, arr_lens[l]);
            i_zeros(&b, 64);
            char label[64];
            snprintf(label, sizeof label, "array of %s, length %llu", gguf_type_name(arr_types[t]),
                     (unsigned long long)arr_lens[l]);
            expect_fail(&b, label, "array length");
        }
    }
    i_header(&b, 3, 0, 2);
    i_kv_u32(&b, "k", 1);
    i_kv_u32(&b, "k", 2);
    expect_fail(&b, "duplicate key", "duplicate key");
    i_header(&b, 3, 0, 1);
    i_str(&b, "general.alignment");
    i_u32(&b, GGUF_TYPE_STRING);
    i_str(&b, "32");
    expect_fail(&b, "alignment as string", "uint32");
    i_header(&b, 3, 0, 1);
    i_str(&b, "general.alignment");
    i_u32(&b, GGUF_TYPE_UINT64);
    i_u64(&b, 32);
    expect_fail(&b, "alignment as uint64", "alignment");
    i_header(&b, 3, 0, 1);
    i_kv_u32(&b, "general.alignment", 0);
    expect_fail(&b, "alignment 0", "power of two");
    i_header(&b, 3, 0, 1);
    i_kv_u32(&b, "general.alignment", 48);
    expect_fail(&b, "alignment 48", "power of two");
    i_header(&b, 3, 1, 1); /* a huge alignment pushes the data section past the end */
    i_kv_u32(&b, "general.alignment", 1u << 31);
    i_tensor(&b, "w", 1, (uint64_t[]){4}, 0, 0);
    i_zeros(&b, 64);
    expect_fail(&b, "alignment 2^31", "end of file");
    i_header(&b, 3, 0, 1);
    i_str(&b, "k");
    i_u32(&b, 13);
    i_zeros(&b, 8);
    expect_fail(&b, "unknown value type", "unknown value type 13");
    i_header(&b, 3, 0, 1);
    i_str(&b, "k");
    i_u32(&b, GGUF_TYPE_ARRAY);
    i_u32(&b, 77);
    i_u64(&b, 0);
    expect_fail(&b, "unknown array element type", "unknown array element type 77");
    i_header(&b, 3, 0, 1);
    i_str(&b, "k");
    i_u32(&b, GGUF_TYPE_ARRAY);
    i_u32(&b, GGUF_TYPE_ARRAY);
    i_u64(&b, 0);
    expect_fail(&b, "nested array", "arrays of arrays");
    i_header(&b, 3, 0, 1);
    i_str(&b, "k");
    i_u32(&b, GGUF_TYPE_BOOL);
    i_u8(&b, 2);
    expect_fail(&b, "bool 2", "bool");
    i_header(&b, 3, 0, 1);
    i_str(&b, "");
    i_u32(&b, GGUF_TYPE_UINT8);
    i_u8(&b, 2);
    i_zeros(&b, 8);
    expect_fail(&b, "empty key", "empty key");
    i_header(&b, 3, 0, 1);
    i_u64(&b, 3);
    i_put(&b, "a\0b", 3);
    i_u32(&b, GGUF_TYPE_UINT8);
    i_u8(&b, 2);
    expect_fail(&b, "key with NUL", "NUL");
    i_header(&b, 3, 0, 1);
    i_u64(&b, 65536);
    i_zeros(&b, 65536 + 5);
    expect_fail(&b, "key 65536 bytes", "exceeds the limit");
    /* Many keys: lookups and the duplicate check stay fast (hashed), the last one repeats. */
    enum { MANY = 200000 };
    i_header(&b, 3, 0, MANY);
    char key[32];
    for (int k = 0; k < MANY; k++) {
        snprintf(key, sizeof key, "k.%d", k == MANY - 1 ? 12345 : k);
        i_str(&b, key);
        i_u32(&b, GGUF_TYPE_UINT8);
        i_u8(&b, 1);
    }
    expect_fail(&b, "200000 keys, last duplicate", "pairs #12345 and #199999");
    i_header(&b, 2, 0, 1); /* version 2 reads like 3 */
    i_kv_u32(&b, "k", 7);
    expect_ok(&b, "version 2");
}

/* Mutations of a valid writer image: magic, version, every truncation, random bytes. */
static void test_hostile_mutations(void) {
    gguf_writer *w = build_fixture(0);
    void *img0 = NULL;
    size_t size = 0;
    bb_error err = {0};
    CHECK(gguf_writer_write_memory(w, &img0, &size, &err) == BB_OK);
    gguf_writer_free(w);
    uint8_t *good = img0, *m = malloc(size);
    gguf_file *f = NULL;
    CHECK(gguf_open_memory(good, size, &f, &err) == BB_OK);
    uint64_t data_start = gguf_data_offset(f), end = 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (data_start + t->offset + t->size > end) end = data_start + t->offset + t->size;
    }
    gguf_close(f);

    memcpy(m, good, size);
    m[0] = 'g';
    CHECK(open_copy(m, size, &err) == BB_ERR_FORMAT && msg_has(&err, "magic"));
    const uint32_t versions[] = {0, 1, 4, 0x03000000, 0xffffffffu};
    const char *words[] = {"version 0", "version 1", "version 4", "big-endian", "version"};
    for (int v = 0; v < 5; v++) {
        memcpy(m, good, size);
        memcpy(m + 4, &versions[v], 4);
        CHECK(open_copy(m, size, &err) == BB_ERR_UNSUPPORTED);
        CHECKF(msg_has(&err, words[v]), "%s", err.message);
    }

    /* Every prefix that cuts into the header or the tensor data fails, naming the end. */
    int bad = 0;
    for (size_t len = 0; len < end; len++) {
        if (open_copy(good, len, &err) == BB_OK || !msg_has(&err, "end of file")) {
            if (bad++ < 5) CHECKF(false, "truncated to %zu bytes: %s", len, err.message);
        }
    }
    CHECK(bad == 0);
    for (size_t len = end; len <= size; len++)
        CHECK(open_copy(good, len, &err) == BB_OK);

    /* Random byte changes (mostly in the header): each image opens or fails cleanly; one that
     * opens must be fully readable within bounds (ASan watches the exact-size copies). */
    uint64_t seed = 7;
    int opened = 0;
    for (int it = 0; it < 4000; it++) {
        memcpy(m, good, size);
        int n = 1 + (int)(tu_rand_u64(&seed) % 4);
        for (int k = 0; k < n; k++) {
            uint64_t r = tu_rand_u64(&seed);
            size_t pos = (size_t)((r >> 8) % (it % 4 ? data_start : size));
            m[pos] = (r & 3) ? (uint8_t)(r >> 40) : (uint8_t)((r & 4) ? 0xff : 0);
        }
        uint8_t *copy = malloc(size);
        memcpy(copy, m, size);
        if (gguf_open_memory(copy, size, &f, &err) == BB_OK) {
            opened++;
            uint64_t sum = 0;
            for (int64_t i = 0; i < gguf_n_kv(f); i++) {
                sum += strlen(gguf_key(f, i)) + gguf_kv_u64(f, i);
                gguf_string s = gguf_kv_str(f, i);
                for (uint64_t j = 0; j < s.len; j++)
                    sum += (uint8_t)s.data[j];
                for (uint64_t j = 0; j < gguf_arr_n(f, i); j++) {
                    gguf_string e = gguf_arr_str(f, i, j);
                    sum += e.len ? (uint8_t)e.data[e.len - 1] : 0;
                    sum += (uint64_t)gguf_arr_i64(f, i, j);
                }
            }
            for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
                const gguf_tensor *t = gguf_tensor_at(f, i);
                sum += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[t->size - 1];
            }
            CHECK(sum != 12345); /* keeps the reads */
            gguf_close(f);
        } else {
            CHECK(f == NULL && err.message[0] != 0);
        }
        free(copy);
    }
    printf("mutations: %d of 4000 still valid\n", opened);
    free(m);
    free(good);
}

static void test_open_errors(void) {
    bb_error err = {0};
    gguf_file *f = NULL;
    CHECK(gguf_open("/nonexistent/model.gguf", &f, &err) == BB_ERR_IO && f == NULL);
    CHECK(msg_has(&err, "/nonexistent/model.gguf"));
    CHECK(gguf_open("/tmp", &f, &err) == BB_ERR_IO && msg_has(&err, "not a regular file"));
    char path[] = "/tmp/test_gguf_empty_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(gguf_open(path, &f, &err) == BB_ERR_FORMAT && f == NULL);
    CHECK(msg_has(&err, path) && msg_has(&err, "end of file"));
    FILE *fp = fopen(path, "wb");
    fputs("GGUF\x03\0\0\0garbage", fp);
    fclose(fp);
    CHECK(gguf_open(path, &f, &err) == BB_ERR_FORMAT && msg_has(&err, "truncated"));
    unlink(path);
    CHECK(gguf_open_memory(NULL, 0, &f, &err) == BB_ERR_FORMAT);
    CHECK(gguf_open_memory(NULL, 10, &f, &err) == BB_ERR_INVALID_ARGUMENT);
}

int main(void) {
    test_roundtrip(0);
    test_roundtrip(64);
    test_roundtrip(1);
    test_writer_errors();
    test_type_table();
    test_testdata();
    test_open_errors();
    test_hostile_tensors();
    test_hostile_metadata();
    test_hostile_mutations();
    return tu_finish("test_gguf");
}
