/*
 * GGUF v3 writer (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
 *
 * Metadata values are kept already encoded (the bytes that follow the key and type in the
 * file), so replacing, copying and writing a value are plain byte copies. Tensor data is
 * referenced, not copied, and streamed out at write time after the header; as ggml does, every
 * tensor starts at a multiple of the alignment and is followed by zero padding to the next one.
 */
#include "gguf/gguf_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"

typedef struct wkv {
    char *key;
    uint32_t type;
    uint8_t *val; /* encoded value */
    size_t len;
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    const void *data;
    uint64_t nbytes;
    uint64_t offset; /* assigned by layout() */
} wtensor;

struct gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
};

/* ---------------------------------------------------------------- byte buffer */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} buf;

static void put(buf *b, const void *data, size_t n) {
    if (b->oom || n == 0) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 64, need;
        if (!bb_add_size(b->len, n, &need)) {
            b->oom = true;
            return;
        }
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u32(buf *b, uint32_t v) {
    put(b, &v, 4);
} /* little-endian host */
static void put_u64(buf *b, uint64_t v) {
    put(b, &v, 8);
}
static void put_str(buf *b, const char *s, uint64_t len) {
    put_u64(b, len);
    put(b, s, len);
}

/* ---------------------------------------------------------------- metadata */

gguf_writer *gguf_writer_new(void) {
    return calloc(1, sizeof(gguf_writer));
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    free(w->kv);
    for (size_t i = 0; i < w->n_t; i++)
        free(w->t[i].name);
    free(w->t);
    free(w);
}

static bool grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return true;
    size_t c = *cap ? *cap * 2 : 16, bytes;
    if (!bb_mul_size(c, elem, &bytes)) return false;
    void *p = realloc(*arr, bytes);
    if (!p) return false;
    *arr = p;
    *cap = c;
    return true;
}

/* Takes ownership of the encoded value in b (freed on failure too). */
static bb_status set_encoded(gguf_writer *w, const char *key, uint32_t type, buf *b) {
    size_t klen = key ? strlen(key) : 0;
    if (!w || klen == 0 || klen > GGUF_MAX_KEY_LEN) {
        free(b->p);
        return BB_ERR_INVALID_ARGUMENT;
    }
    if (b->oom) {
        free(b->p);
        return BB_ERR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) { /* replace in place: the order is kept */
            free(w->kv[i].val);
            w->kv[i].type = type;
            w->kv[i].val = b->p;
            w->kv[i].len = b->len;
            return BB_OK;
        }
    }
    char *k = strdup(key);
    if (!k || !grow((void **)&w->kv, &w->cap_kv, w->n_kv, sizeof *w->kv)) {
        free(k);
        free(b->p);
        return BB_ERR_OUT_OF_MEMORY;
    }
    w->kv[w->n_kv++] = (wkv){k, type, b->p, b->len};
    return BB_OK;
}

bb_status gguf_writer_set_scalar(gguf_writer *w, const char *key, uint32_t type, const void *v) {
    size_t size = gguf_scalar_size(type);
    if (size == 0 || !v) return BB_ERR_INVALID_ARGUMENT;
    buf b = {0};
    if (type == GGUF_TYPE_BOOL) {
        uint8_t x = *(const bool *)v; /* a C bool, stored as one byte 0 or 1 */
        put(&b, &x, 1);
    } else {
        put(&b, v, size);
    }
    return set_encoded(w, key, type, &b);
}

bb_status gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v) {
    return gguf_writer_set_scalar(w, key, GGUF_TYPE_UINT32, &v);
}
bb_status gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v) {
    return gguf_writer_set_scalar(w, key, GGUF_TYPE_INT32, &v);
}
bb_status gguf_writer_set_u64(gguf_writer *w, const char *key, uint64_t v) {
    return gguf_writer_set_scalar(w, key, GGUF_TYPE_UINT64, &v);
}
bb_status gguf_writer_set_f32(gguf_writer *w, const char *key, float v) {
    return gguf_writer_set_scalar(w, key, GGUF_TYPE_FLOAT32, &v);
}
bb_status gguf_writer_set_bool(gguf_writer *w, const char *key, bool v) {
    return gguf_writer_set_scalar(w, key, GGUF_TYPE_BOOL, &v);
}

static bb_status set_string(gguf_writer *w, const char *key, const char *v, uint64_t len) {
    buf b = {0};
    put_str(&b, v, len);
    return set_encoded(w, key, GGUF_TYPE_STRING, &b);
}

bb_status gguf_writer_set_str(gguf_writer *w, const char *key, const char *v) {
    if (!v) return BB_ERR_INVALID_ARGUMENT;
    return set_string(w, key, v, strlen(v));
}

bb_status gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v, size_t n) {
    if (n > 0 && !v) return BB_ERR_INVALID_ARGUMENT;
    buf b = {0};
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, n);
    for (size_t j = 0; j < n; j++) {
        if (!v[j]) {
            free(b.p);
            return BB_ERR_INVALID_ARGUMENT;
        }
        put_str(&b, v[j], strlen(v[j]));
    }
    return set_encoded(w, key, GGUF_TYPE_ARRAY, &b);
}

bb_status gguf_writer_set_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                              size_t n) {
    size_t esize = gguf_scalar_size(elem_type), bytes;
    if (esize == 0 || !bb_mul_size(n, esize, &bytes) || (n > 0 && !data))
        return BB_ERR_INVALID_ARGUMENT;
    buf b = {0};
    put_u32(&b, elem_type);
    put_u64(&b, n);
    put(&b, data, bytes);
    return set_encoded(w, key, GGUF_TYPE_ARRAY, &b);
}

/* A string array from a reader: its strings may hold any bytes, NUL included. */
static bb_status copy_str_array(gguf_writer *w, const char *key, const gguf_file *f, int64_t i) {
    uint64_t n = gguf_arr_n(f, i);
    buf b = {0};
    put_u32(&b, GGUF_TYPE_STRING);
    put_u64(&b, n);
    for (uint64_t j = 0; j < n; j++) {
        gguf_string s = gguf_arr_str(f, i, j);
        put_str(&b, s.data, s.len);
    }
    return set_encoded(w, key, GGUF_TYPE_ARRAY, &b);
}

/* Re-encodes a scalar from the reader's accessors: each converts exactly for its own kind. */
static bb_status copy_scalar(gguf_writer *w, const char *key, const gguf_file *f, int64_t i) {
    uint32_t t = gguf_kv_type(f, i);
    union {
        uint64_t u;
        int64_t s;
        double d;
        float x;
        bool b;
    } v;
    if (t == GGUF_TYPE_FLOAT32)
        v.x = (float)gguf_kv_f64(f, i);
    else if (t == GGUF_TYPE_FLOAT64)
        v.d = gguf_kv_f64(f, i);
    else if (t == GGUF_TYPE_BOOL)
        v.b = gguf_kv_u64(f, i) != 0;
    else
        v.u = gguf_kv_u64(f, i); /* integers: the low bytes, as stored (little-endian host) */
    return gguf_writer_set_scalar(w, key, t, &v);
}

bb_status gguf_writer_copy_kv(gguf_writer *w, const gguf_file *f, int64_t i) {
    const char *key = f ? gguf_key(f, i) : NULL;
    if (!key) return BB_ERR_INVALID_ARGUMENT;
    uint32_t t = gguf_kv_type(f, i);
    if (t == GGUF_TYPE_STRING) {
        gguf_string s = gguf_kv_str(f, i);
        return set_string(w, key, s.data, s.len);
    }
    if (t != GGUF_TYPE_ARRAY) return copy_scalar(w, key, f, i);
    uint32_t et = gguf_arr_type(f, i);
    if (et == GGUF_TYPE_STRING) return copy_str_array(w, key, f, i);
    uint64_t n = gguf_arr_n(f, i);
    if (n > SIZE_MAX) return BB_ERR_INVALID_ARGUMENT;
    return gguf_writer_set_arr(w, key, et, gguf_arr_data(f, i), (size_t)n);
}

/* ---------------------------------------------------------------- tensors */

bb_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                 const uint64_t *ne, const void *data, size_t nbytes,
                                 bb_error *err) {
    if (!w || !name || !ne || !data)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "gguf_writer_add_tensor: NULL argument");
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > GGUF_MAX_NAME_LEN)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "tensor name '%.80s' must be 1 to %d bytes (it is %zu)", name,
                       GGUF_MAX_NAME_LEN, nlen);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "duplicate tensor name '%s'", name);
    char what[GGUF_MAX_NAME_LEN + 16];
    snprintf(what, sizeof what, "tensor '%s'", name);
    uint64_t size;
    bb_status st = gguf_tensor_nbytes(what, type, n_dims, ne, &size, err);
    if (st != BB_OK) { /* a bad argument here, not a bad file */
        if (err) err->code = BB_ERR_INVALID_ARGUMENT;
        return BB_ERR_INVALID_ARGUMENT;
    }
    if (size != nbytes)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "%s: %zu bytes given, its type and dims need %llu", what, nbytes,
                       (unsigned long long)size);
    char *copy = strdup(name);
    if (!copy || !grow((void **)&w->t, &w->cap_t, w->n_t, sizeof *w->t)) {
        free(copy);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory adding %s", what);
    }
    wtensor *t = &w->t[w->n_t++];
    *t = (wtensor){.name = copy, .type = type, .n_dims = n_dims, .data = data, .nbytes = size};
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    return BB_OK;
}

/* ---------------------------------------------------------------- output */

static bb_status alignment_of(const gguf_writer *w, uint64_t *align, bb_error *err) {
    *align = GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0) continue;
        uint32_t a = 0;
        if (w->kv[i].type == GGUF_TYPE_UINT32) memcpy(&a, w->kv[i].val, 4);
        if (a == 0 || (a & (a - 1)) != 0)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "general.alignment must be a uint32 nonzero power of two");
        *align = a;
    }
    return BB_OK;
}

static bool align_up(uint64_t x, uint64_t align, uint64_t *out) {
    if (!bb_add_u64(x, align - 1, out)) return false;
    *out -= *out % align;
    return true;
}

/* Encodes the header (up to the padding before the data) and assigns tensor offsets;
 * *data_bytes is the size of the data section, padding included. */
static bb_status layout(gguf_writer *w, uint64_t align, buf *hdr, uint64_t *data_bytes,
                        bb_error *err) {
    put(hdr, "GGUF", 4);
    put_u32(hdr, 3);
    put_u64(hdr, w->n_t);
    put_u64(hdr, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(hdr, w->kv[i].key, strlen(w->kv[i].key));
        put_u32(hdr, w->kv[i].type);
        put(hdr, w->kv[i].val, w->kv[i].len);
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->t[i];
        t->offset = off;
        if (!bb_add_u64(off, t->nbytes, &off) || !align_up(off, align, &off))
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "tensor data size overflows");
        put_str(hdr, t->name, strlen(t->name));
        put_u32(hdr, t->n_dims);
        put(hdr, t->ne, 8 * (size_t)t->n_dims);
        put_u32(hdr, t->type);
        put_u64(hdr, t->offset);
    }
    if (hdr->oom) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory encoding GGUF header");
    *data_bytes = off;
    return BB_OK;
}

/* Where the bytes go: a memory buffer or a FILE. */
typedef struct sink {
    uint8_t *mem;
    FILE *fp;
    uint64_t pos;
} sink;

static bool emit(sink *s, const void *data, uint64_t n) {
    if (n == 0) return true;
    if (s->mem)
        memcpy(s->mem + s->pos, data, n);
    else if (fwrite(data, 1, n, s->fp) != n)
        return false;
    s->pos += n;
    return true;
}

static bool emit_zeros_to(sink *s, uint64_t target) {
    static const uint8_t zeros[4096];
    while (s->pos < target) {
        uint64_t n = target - s->pos < sizeof zeros ? target - s->pos : sizeof zeros;
        if (!emit(s, zeros, n)) return false;
    }
    return true;
}

/* Header, zero padding, then each tensor at its aligned offset, and padding to the end. */
static bool emit_all(const gguf_writer *w, const buf *hdr, uint64_t data_start, uint64_t total,
                     sink *s) {
    if (!emit(s, hdr->p, hdr->len)) return false;
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        if (!emit_zeros_to(s, data_start + t->offset) || !emit(s, t->data, t->nbytes)) return false;
    }
    return emit_zeros_to(s, total);
}

/* Header, data start and total size, all checked. */
static bb_status prepare(gguf_writer *w, buf *hdr, uint64_t *data_start, uint64_t *total,
                         bb_error *err) {
    if (!w) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "gguf writer is NULL");
    uint64_t align, data_bytes = 0;
    bb_status st = alignment_of(w, &align, err);
    if (st == BB_OK) st = layout(w, align, hdr, &data_bytes, err);
    if (st != BB_OK) return st;
    if (!align_up(hdr->len, align, data_start) || !bb_add_u64(*data_start, data_bytes, total))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "GGUF file size overflows");
    return BB_OK;
}

bb_status gguf_writer_write_memory(gguf_writer *w, void **data, size_t *size, bb_error *err) {
    if (!data || !size)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "gguf_writer_write_memory: NULL argument");
    buf hdr = {0};
    uint64_t data_start, total;
    bb_status st = prepare(w, &hdr, &data_start, &total, err);
    sink s = {0};
    if (st == BB_OK && total > SIZE_MAX)
        st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "GGUF image of %llu bytes does not fit memory",
                     (unsigned long long)total);
    if (st == BB_OK && !(s.mem = malloc(total)))
        st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a %llu-byte GGUF image",
                     (unsigned long long)total);
    if (st == BB_OK) {
        emit_all(w, &hdr, data_start, total, &s); /* cannot fail into memory */
        *data = s.mem;
        *size = (size_t)total;
    }
    free(hdr.p);
    return st;
}

bb_status gguf_writer_write(gguf_writer *w, const char *path, bb_error *err) {
    if (!path) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "gguf_writer_write: path is NULL");
    buf hdr = {0};
    uint64_t data_start, total;
    bb_status st = prepare(w, &hdr, &data_start, &total, err);
    if (st != BB_OK) {
        free(hdr.p);
        return st;
    }
    /* Written under a temporary name and renamed at the end, so that a failed write never
     * leaves a truncated file at `path` (nor clobbers an input still mapped from it). */
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(hdr.p);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    sink s = {.fp = fopen(tmp, "wb")};
    if (!s.fp) {
        st = bb_fail(err, BB_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    } else {
        bool ok = emit_all(w, &hdr, data_start, total, &s);
        ok = (fflush(s.fp) == 0) & ok;
        int e = errno;
        ok = (fclose(s.fp) == 0) & ok;
        if (!ok || rename(tmp, path) != 0) {
            st = bb_fail(err, BB_ERR_IO, "cannot write %s: %s", path, strerror(ok ? errno : e));
            remove(tmp);
        }
    }
    free(tmp);
    free(hdr.p);
    return st;
}
