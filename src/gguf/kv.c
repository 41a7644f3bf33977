/* Metadata access: raw accessors by index and typed getters by key with clear errors. */
#include "gguf/gguf_impl.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

static const char *const type_names[GGUF_TYPE_COUNT] = {
    "uint8", "int8",   "uint16", "int16",  "uint32", "int32",   "float32",
    "bool",  "string", "array",  "uint64", "int64",  "float64",
};

const char *gguf_type_name(uint32_t type) {
    return type < GGUF_TYPE_COUNT ? type_names[type] : "unknown";
}

size_t gguf_scalar_size(uint32_t type) {
    switch (type) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL:
        return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16:
        return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32:
        return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

static bool is_signed(uint32_t t) {
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 ||
           t == GGUF_TYPE_INT64;
}
static bool is_unsigned(uint32_t t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 ||
           t == GGUF_TYPE_UINT64;
}
static bool is_float(uint32_t t) {
    return t == GGUF_TYPE_FLOAT32 || t == GGUF_TYPE_FLOAT64;
}

/* ---- decoding one scalar of type t at p (possibly unaligned) */

static uint64_t load_unsigned(const uint8_t *p, uint32_t t) {
    uint64_t v = 0;
    memcpy(&v, p, gguf_scalar_size(t)); /* little-endian host: the low bytes */
    return v;
}

static int64_t load_signed(const uint8_t *p, uint32_t t) {
    size_t n = gguf_scalar_size(t);
    uint64_t u = load_unsigned(p, t);
    if (n < 8 && (u >> (8 * n - 1)) & 1) u |= ~0ULL << (8 * n); /* sign-extend */
    int64_t v;
    memcpy(&v, &u, 8);
    return v;
}

static double load_float(const uint8_t *p, uint32_t t) {
    if (t == GGUF_TYPE_FLOAT32) {
        float x;
        memcpy(&x, p, 4);
        return x;
    }
    double x;
    memcpy(&x, p, 8);
    return x;
}

/* Float to int64, saturating (and NaN to 0): a plain cast of an out-of-range value is UB. */
static int64_t float_to_i64(double x) {
    if (isnan(x)) return 0;
    if (x >= 0x1p63) return INT64_MAX;
    if (x < -0x1p63) return INT64_MIN;
    return (int64_t)x;
}

static int64_t scalar_i64(const uint8_t *p, uint32_t t) {
    if (is_float(t)) return float_to_i64(load_float(p, t));
    if (is_signed(t)) return load_signed(p, t);
    if (t == GGUF_TYPE_UINT64) {
        uint64_t u = load_unsigned(p, t);
        return u > INT64_MAX ? INT64_MAX : (int64_t)u;
    }
    return gguf_scalar_size(t) ? (int64_t)load_unsigned(p, t) : 0;
}

static uint64_t scalar_u64(const uint8_t *p, uint32_t t) {
    if (is_float(t)) {
        double x = load_float(p, t);
        return isnan(x) || x <= 0 ? 0 : x >= 0x1p64 ? UINT64_MAX : (uint64_t)x;
    }
    if (is_signed(t)) return (uint64_t)load_signed(p, t); /* two's complement, as a C cast */
    return gguf_scalar_size(t) ? load_unsigned(p, t) : 0;
}

static double scalar_f64(const uint8_t *p, uint32_t t) {
    if (is_float(t)) return load_float(p, t);
    if (is_signed(t)) return (double)load_signed(p, t);
    return gguf_scalar_size(t) ? (double)load_unsigned(p, t) : 0.0;
}

/* ---- accessors by index */

static const gguf_kv *kv_at(const gguf_file *f, int64_t i) {
    return f && i >= 0 && i < f->n_kv ? &f->kv[i] : NULL;
}

int64_t gguf_n_kv(const gguf_file *f) {
    return f->n_kv;
}

int64_t gguf_find_key(const gguf_file *f, const char *key) {
    return key ? gguf_index_find(&f->kv_index, key) : -1;
}

const char *gguf_key(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = kv_at(f, i);
    return kv ? kv->key : NULL;
}

uint32_t gguf_kv_type(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = kv_at(f, i);
    return kv ? kv->type : GGUF_TYPE_COUNT;
}

uint32_t gguf_arr_type(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = kv_at(f, i);
    return kv ? kv->arr_type : GGUF_TYPE_COUNT;
}

uint64_t gguf_arr_n(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = kv_at(f, i);
    return kv ? kv->arr_n : 0;
}

static const gguf_kv *scalar_kv(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = kv_at(f, i);
    return kv && gguf_scalar_size(kv->type) ? kv : NULL;
}

uint64_t gguf_kv_u64(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = scalar_kv(f, i);
    return kv ? scalar_u64(kv->val, kv->type) : 0;
}

int64_t gguf_kv_i64(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = scalar_kv(f, i);
    return kv ? scalar_i64(kv->val, kv->type) : 0;
}

double gguf_kv_f64(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = scalar_kv(f, i);
    return kv ? scalar_f64(kv->val, kv->type) : 0.0;
}

gguf_string gguf_kv_str(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = kv_at(f, i);
    if (!kv || kv->type != GGUF_TYPE_STRING) return (gguf_string){"", 0};
    return kv->str;
}

gguf_string gguf_arr_str(const gguf_file *f, int64_t i, uint64_t j) {
    const gguf_kv *kv = kv_at(f, i);
    if (!kv || kv->arr_type != GGUF_TYPE_STRING || j >= kv->arr_n) return (gguf_string){"", 0};
    return kv->strs[j];
}

/* Element j of a numeric array, or NULL. */
static const uint8_t *arr_elem(const gguf_file *f, int64_t i, uint64_t j, uint32_t *t) {
    const gguf_kv *kv = kv_at(f, i);
    if (!kv || j >= kv->arr_n || !gguf_scalar_size(kv->arr_type)) return NULL;
    *t = kv->arr_type;
    return kv->val + j * gguf_scalar_size(kv->arr_type);
}

double gguf_arr_f64(const gguf_file *f, int64_t i, uint64_t j) {
    uint32_t t;
    const uint8_t *p = arr_elem(f, i, j, &t);
    return p ? scalar_f64(p, t) : 0.0;
}

int64_t gguf_arr_i64(const gguf_file *f, int64_t i, uint64_t j) {
    uint32_t t;
    const uint8_t *p = arr_elem(f, i, j, &t);
    return p ? scalar_i64(p, t) : 0;
}

const void *gguf_arr_data(const gguf_file *f, int64_t i) {
    const gguf_kv *kv = kv_at(f, i);
    return kv && kv->type == GGUF_TYPE_ARRAY ? kv->val : NULL;
}

/* ---- typed getters by key */

/* Finds key; *i = -1 and BB_OK when it is missing and optional. */
static bb_status find(const gguf_file *f, const char *key, bool required, int64_t *i,
                      bb_error *err) {
    *i = gguf_find_key(f, key);
    if (*i < 0 && required)
        return bb_fail(err, BB_ERR_FORMAT, "missing metadata key '%s'", key ? key : "(null)");
    return BB_OK;
}

static bb_status wrong_type(const gguf_file *f, const char *key, int64_t i, const char *wanted,
                            bb_error *err) {
    const gguf_kv *kv = &f->kv[i];
    if (kv->type == GGUF_TYPE_ARRAY)
        return bb_fail(err, BB_ERR_FORMAT, "metadata key '%s' has type array of %s, wanted %s", key,
                       gguf_type_name(kv->arr_type), wanted);
    return bb_fail(err, BB_ERR_FORMAT, "metadata key '%s' has type %s, wanted %s", key,
                   gguf_type_name(kv->type), wanted);
}

/* An integer-typed value within [lo, hi], for the getters of narrower integers. */
static bb_status get_int(const gguf_file *f, const char *key, int64_t i, int64_t lo, uint64_t hi,
                         const char *wanted, int64_t *out, bb_error *err) {
    const gguf_kv *kv = &f->kv[i];
    if (is_signed(kv->type)) {
        int64_t v = load_signed(kv->val, kv->type);
        if (v < lo || (v >= 0 && (uint64_t)v > hi))
            return bb_fail(err, BB_ERR_FORMAT,
                           "metadata key '%s' has value %lld (%s), which does not fit %s", key,
                           (long long)v, gguf_type_name(kv->type), wanted);
        *out = v;
        return BB_OK;
    }
    if (is_unsigned(kv->type)) {
        uint64_t v = load_unsigned(kv->val, kv->type);
        if (v > hi)
            return bb_fail(err, BB_ERR_FORMAT,
                           "metadata key '%s' has value %llu (%s), which does not fit %s", key,
                           (unsigned long long)v, gguf_type_name(kv->type), wanted);
        *out = (int64_t)v;
        return BB_OK;
    }
    return wrong_type(f, key, i, wanted, err);
}

bb_status gguf_get_u32(const gguf_file *f, const char *key, bool required, uint32_t *out,
                       bb_error *err) {
    int64_t i, v;
    bb_status st = find(f, key, required, &i, err);
    if (st != BB_OK || i < 0) return st;
    if ((st = get_int(f, key, i, 0, UINT32_MAX, "uint32", &v, err)) == BB_OK) *out = (uint32_t)v;
    return st;
}

bb_status gguf_get_i32(const gguf_file *f, const char *key, bool required, int32_t *out,
                       bb_error *err) {
    int64_t i, v;
    bb_status st = find(f, key, required, &i, err);
    if (st != BB_OK || i < 0) return st;
    if ((st = get_int(f, key, i, INT32_MIN, INT32_MAX, "int32", &v, err)) == BB_OK)
        *out = (int32_t)v;
    return st;
}

bb_status gguf_get_f32(const gguf_file *f, const char *key, bool required, float *out,
                       bb_error *err) {
    int64_t i;
    bb_status st = find(f, key, required, &i, err);
    if (st != BB_OK || i < 0) return st;
    const gguf_kv *kv = &f->kv[i];
    if (!is_float(kv->type)) return wrong_type(f, key, i, "float32", err);
    double v = load_float(kv->val, kv->type);
    if (isfinite(v) && fabs(v) > FLT_MAX) /* converting it would be undefined behaviour */
        return bb_fail(err, BB_ERR_FORMAT,
                       "metadata key '%s' has value %g (float64), which does not fit float32", key,
                       v);
    *out = (float)v;
    return BB_OK;
}

bb_status gguf_get_bool(const gguf_file *f, const char *key, bool required, bool *out,
                        bb_error *err) {
    int64_t i;
    bb_status st = find(f, key, required, &i, err);
    if (st != BB_OK || i < 0) return st;
    if (f->kv[i].type != GGUF_TYPE_BOOL) return wrong_type(f, key, i, "bool", err);
    *out = f->kv[i].val[0] != 0;
    return BB_OK;
}

bb_status gguf_get_str(const gguf_file *f, const char *key, bool required, gguf_string *out,
                       bb_error *err) {
    int64_t i;
    bb_status st = find(f, key, required, &i, err);
    if (st != BB_OK || i < 0) return st;
    if (f->kv[i].type != GGUF_TYPE_STRING) return wrong_type(f, key, i, "string", err);
    *out = f->kv[i].str;
    return BB_OK;
}

bb_status gguf_get_arr(const gguf_file *f, const char *key, uint32_t elem_type, bool required,
                       int64_t *idx, bb_error *err) {
    int64_t i;
    bb_status st = find(f, key, required, &i, err);
    *idx = -1;
    if (st != BB_OK || i < 0) return st;
    const gguf_kv *kv = &f->kv[i];
    bool any = elem_type >= GGUF_TYPE_COUNT;
    if (kv->type != GGUF_TYPE_ARRAY || (!any && kv->arr_type != elem_type)) {
        char wanted[32];
        snprintf(wanted, sizeof wanted, "array of %s",
                 any ? "any type" : gguf_type_name(elem_type));
        return wrong_type(f, key, i, wanted, err);
    }
    *idx = i;
    return BB_OK;
}
