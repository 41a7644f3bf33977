/*
 * GGUF reader and writer (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md), v2 and v3.
 *
 * The reader maps the file read-only (or reads an image the caller keeps in memory) and
 * validates everything up front: every count, length, offset and dimension is checked with
 * overflow-safe arithmetic against the file size before use, so accessors never fail on
 * bounds. Strings point into the mapping and are NOT NUL-terminated (gguf_string); keys and
 * tensor names are copied into NUL-terminated strings at open.
 */
#ifndef BB_GGUF_H
#define BB_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

enum gguf_value_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
};

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct gguf_string {
    const char *data; /* into the mapping; not NUL-terminated */
    uint64_t len;
} gguf_string;

typedef struct gguf_tensor {
    const char *name; /* NUL-terminated copy */
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the contiguous (row) dimension; unused dims are 1 */
    uint32_t type;              /* ggml type id (see quant/quant.h) */
    uint64_t offset;            /* from the start of the tensor data section */
    uint64_t size;              /* bytes, computed from type and dims */
    const void *data;           /* absolute pointer into the mapping */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* ---- reading */
/* A file written by llama.cpp's gguf-split (split.count > 1, named NAME-00001-of-0000N.gguf)
 * opens with all its parts: their tensors are in this one table. */
bb_status gguf_open(const char *path, gguf_file **out, bb_error *err);
/* Over memory the caller keeps alive (and unmodified) until gguf_close. */
bb_status gguf_open_memory(const void *data, size_t size, gguf_file **out, bb_error *err);
void gguf_close(gguf_file *f);

uint32_t gguf_version(const gguf_file *f);
uint64_t gguf_alignment(const gguf_file *f);
uint64_t gguf_file_size(const gguf_file *f);
uint64_t gguf_data_offset(const gguf_file *f); /* start of tensor data in the file */

int64_t gguf_n_kv(const gguf_file *f);
int64_t gguf_find_key(const gguf_file *f, const char *key); /* index or -1 */
const char *gguf_key(const gguf_file *f, int64_t i);
uint32_t gguf_kv_type(const gguf_file *f, int64_t i);
uint32_t gguf_arr_type(const gguf_file *f, int64_t i); /* element type of an array */
uint64_t gguf_arr_n(const gguf_file *f, int64_t i);    /* 0 unless an array */
const char *gguf_type_name(uint32_t type);             /* "uint32", "string", ... */

/* Scalar accessors by index; the caller has checked gguf_kv_type. */
uint64_t gguf_kv_u64(const gguf_file *f, int64_t i); /* any unsigned/signed/bool integer kind */
int64_t gguf_kv_i64(const gguf_file *f, int64_t i);
double gguf_kv_f64(const gguf_file *f, int64_t i); /* float32/float64 (and integers) */
gguf_string gguf_kv_str(const gguf_file *f, int64_t i);
/* Array element j (bounds-checked by the caller against gguf_arr_n). */
gguf_string gguf_arr_str(const gguf_file *f, int64_t i, uint64_t j);
double gguf_arr_f64(const gguf_file *f, int64_t i, uint64_t j); /* numeric element */
int64_t gguf_arr_i64(const gguf_file *f, int64_t i, uint64_t j);
const void *gguf_arr_data(const gguf_file *f, int64_t i); /* raw LE elements (may be unaligned) */

/* Typed getters by key with clear errors. Missing key: BB_OK with *out untouched when
 * !required, else BB_ERR_FORMAT "missing metadata key K". Wrong type or a value that does not
 * fit: BB_ERR_FORMAT naming the key, the type found and the type wanted. */
bb_status gguf_get_u32(const gguf_file *f, const char *key, bool required, uint32_t *out,
                       bb_error *err);
bb_status gguf_get_i32(const gguf_file *f, const char *key, bool required, int32_t *out,
                       bb_error *err);
bb_status gguf_get_f32(const gguf_file *f, const char *key, bool required, float *out,
                       bb_error *err);
bb_status gguf_get_bool(const gguf_file *f, const char *key, bool required, bool *out,
                        bb_error *err);
bb_status gguf_get_str(const gguf_file *f, const char *key, bool required, gguf_string *out,
                       bb_error *err);
/* Array of a given element type (GGUF_TYPE_COUNT: any); *idx = -1 when missing and !required. */
bb_status gguf_get_arr(const gguf_file *f, const char *key, uint32_t elem_type, bool required,
                       int64_t *idx, bb_error *err);

/* The ggml tensor types this layer knows the block layout of: returns the type's name ("Q4_K")
 * and its elements per block and bytes per block, or NULL for another type id. */
const char *gguf_ggml_type_info(uint32_t type, uint32_t *block_size, uint32_t *type_size);

int64_t gguf_n_tensors(const gguf_file *f);
const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name); /* or NULL */

/* ---- writing */
typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void); /* NULL on allocation failure */
void gguf_writer_free(gguf_writer *w);
/* Setting a key that exists replaces its value. Strings and arrays are copied. */
bb_status gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
bb_status gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
bb_status gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v);
bb_status gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
bb_status gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
bb_status gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
/* Any fixed-size scalar type (uint8 ... float64, bool); v points to one host value of that
 * type (a C bool for GGUF_TYPE_BOOL). */
bb_status gguf_writer_set_scalar(gguf_writer *w, const char *key, uint32_t type, const void *v);
bb_status gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, size_t n);
/* Numeric array; elem_type one of the fixed-size scalar types. */
bb_status gguf_writer_set_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                              size_t n);
/* Copies key i (any type, arrays included) from a reader. */
bb_status gguf_writer_copy_kv(gguf_writer *w, const gguf_file *f, int64_t i);
/* The data is NOT copied: it must stay valid until gguf_writer_write returns.
 * nbytes must equal the size implied by type and dims. */
bb_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                 const uint64_t *ne, const void *data, size_t nbytes,
                                 bb_error *err);
/* Writes GGUF v3 with general.alignment (default 32). */
bb_status gguf_writer_write(gguf_writer *w, const char *path, bb_error *err);
/* Same into a new malloc'd buffer (free with free()). */
bb_status gguf_writer_write_memory(gguf_writer *w, void **data, size_t *size, bb_error *err);

#endif
