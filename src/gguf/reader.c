/*
 * GGUF reader: parses and validates a whole file up front
 * (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md, versions 2 and 3).
 *
 * Layout: "GGUF" | u32 version | u64 n_tensors | u64 n_kv | n_kv x (string key, u32 type,
 * value) | n_tensors x (string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset) |
 * padding to general.alignment | tensor data. Strings are u64 length + bytes; arrays are
 * u32 element type + u64 count + elements.
 *
 * Every length and count read from the file is compared with the bytes that remain before
 * anything is allocated or read, so a hostile file costs at most a small multiple of its own
 * size in memory and fails with a message naming the field and its byte offset.
 */
#include "gguf/gguf_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/checked.h"
#include "common/error.h"

/* Smallest possible encodings, to bound counts by the bytes that remain:
 * a pair is a key (u64 length + at least 1 byte), a u32 type and at least a 1-byte value;
 * a tensor info is a name (u64 + at least 1 byte), u32 n_dims, one u64 dim, u32 type, u64
 * offset; a string is at least its u64 length. */
enum { MIN_KV_BYTES = 8 + 1 + 4 + 1, MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8 };

typedef struct parser {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    bb_error *err;
    char where[160]; /* what is being parsed, prefixed to messages */
    gguf_file *f;
} parser;

static uint64_t remain(const parser *p) {
    return p->size - p->pos;
}

__attribute__((format(printf, 3, 4))) static bb_status pfail(parser *p, bb_status code,
                                                             const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return bb_fail(p->err, code, "GGUF %s: %s", p->where, msg);
}

static bb_status rd_bytes(parser *p, uint64_t n, const char *what, const uint8_t **out) {
    *out = NULL;
    if (remain(p) < n)
        return pfail(p, BB_ERR_FORMAT,
                     "truncated file: %s at byte offset %llu needs %llu bytes, only %llu remain "
                     "before the end of file",
                     what, (unsigned long long)p->pos, (unsigned long long)n,
                     (unsigned long long)remain(p));
    *out = p->base + p->pos;
    p->pos += n;
    return BB_OK;
}

static bb_status rd_u32(parser *p, const char *what, uint32_t *out) {
    const uint8_t *b;
    bb_status st = rd_bytes(p, 4, what, &b);
    if (st == BB_OK) memcpy(out, b, 4);
    return st;
}

static bb_status rd_u64(parser *p, const char *what, uint64_t *out) {
    const uint8_t *b;
    bb_status st = rd_bytes(p, 8, what, &b);
    if (st == BB_OK) memcpy(out, b, 8);
    return st;
}

static bb_status rd_str(parser *p, const char *what, gguf_string *out) {
    uint64_t at = p->pos, len;
    bb_status st = rd_u64(p, what, &len);
    if (st != BB_OK) return st;
    if (len > remain(p))
        return pfail(p, BB_ERR_FORMAT,
                     "%s length %llu at byte offset %llu runs past the end of file (%llu bytes "
                     "remain)",
                     what, (unsigned long long)len, (unsigned long long)at,
                     (unsigned long long)remain(p));
    const uint8_t *b;
    rd_bytes(p, len, what, &b);
    out->data = (const char *)b;
    out->len = len;
    return BB_OK;
}

/* Checks that `n` items of at least `min_bytes` each can fit in what remains. */
static bb_status check_count(parser *p, uint64_t n, uint64_t min_bytes, const char *what,
                             uint64_t at) {
    if (n <= remain(p) / min_bytes) return BB_OK;
    return pfail(p, BB_ERR_FORMAT,
                 "%s %llu at byte offset %llu cannot fit: only %llu bytes remain before the end "
                 "of file",
                 what, (unsigned long long)n, (unsigned long long)at,
                 (unsigned long long)remain(p));
}

/* A key or tensor name, copied NUL-terminated. */
static bb_status rd_name(parser *p, const char *what, uint64_t max_len, char **out) {
    gguf_string s;
    uint64_t at = p->pos;
    bb_status st = rd_str(p, what, &s);
    if (st != BB_OK) return st;
    if (s.len == 0)
        return pfail(p, BB_ERR_FORMAT, "empty %s at byte offset %llu", what,
                     (unsigned long long)at);
    if (s.len > max_len)
        return pfail(
            p, BB_ERR_FORMAT, "%s length %llu at byte offset %llu exceeds the limit of %llu", what,
            (unsigned long long)s.len, (unsigned long long)at, (unsigned long long)max_len);
    if (memchr(s.data, 0, s.len))
        return pfail(p, BB_ERR_FORMAT, "%s at byte offset %llu contains a NUL byte", what,
                     (unsigned long long)at);
    *out = malloc(s.len + 1);
    if (!*out) return pfail(p, BB_ERR_OUT_OF_MEMORY, "out of memory copying a %s", what);
    memcpy(*out, s.data, s.len);
    (*out)[s.len] = '\0';
    return BB_OK;
}

/* ---------------------------------------------------------------- metadata values */

static bb_status check_bools(parser *p, const uint8_t *v, uint64_t n, uint64_t at) {
    for (uint64_t j = 0; j < n; j++)
        if (v[j] > 1)
            return pfail(p, BB_ERR_FORMAT, "bool value %u at byte offset %llu is not 0 or 1", v[j],
                         (unsigned long long)(at + j));
    return BB_OK;
}

static bb_status parse_string_array(parser *p, gguf_kv *kv, uint64_t n) {
    if (n == 0) return BB_OK;
    kv->strs = malloc(n * sizeof *kv->strs); /* n <= remaining / 8, checked by the caller */
    if (!kv->strs)
        return pfail(p, BB_ERR_OUT_OF_MEMORY, "out of memory for %llu strings",
                     (unsigned long long)n);
    for (uint64_t j = 0; j < n; j++) {
        bb_status st = rd_str(p, "string array element", &kv->strs[j]);
        if (st != BB_OK) return st;
    }
    return BB_OK;
}

static bb_status parse_array(parser *p, gguf_kv *kv) {
    uint64_t at = p->pos;
    bb_status st = rd_u32(p, "array element type", &kv->arr_type);
    if (st != BB_OK) return st;
    if (kv->arr_type == GGUF_TYPE_ARRAY)
        return pfail(p, BB_ERR_UNSUPPORTED,
                     "arrays of arrays (at byte offset %llu) are not supported",
                     (unsigned long long)at);
    if (kv->arr_type >= GGUF_TYPE_COUNT)
        return pfail(p, BB_ERR_FORMAT, "unknown array element type %u at byte offset %llu",
                     kv->arr_type, (unsigned long long)at);
    at = p->pos;
    if ((st = rd_u64(p, "array length", &kv->arr_n)) != BB_OK) return st;
    kv->val = p->base + p->pos;
    if (kv->arr_type == GGUF_TYPE_STRING) {
        if ((st = check_count(p, kv->arr_n, 8, "array length", at)) != BB_OK) return st;
        return parse_string_array(p, kv, kv->arr_n);
    }
    uint64_t esize = gguf_scalar_size(kv->arr_type), bytes;
    if (!bb_mul_u64(kv->arr_n, esize, &bytes) || bytes > remain(p))
        return check_count(p, kv->arr_n, esize, "array length", at);
    const uint8_t *b;
    rd_bytes(p, bytes, "array", &b);
    return kv->arr_type == GGUF_TYPE_BOOL ? check_bools(p, b, kv->arr_n, p->pos - bytes) : BB_OK;
}

static bb_status parse_value(parser *p, gguf_kv *kv) {
    uint64_t at = p->pos;
    switch (kv->type) {
    case GGUF_TYPE_STRING:
        return rd_str(p, "string value", &kv->str);
    case GGUF_TYPE_ARRAY:
        return parse_array(p, kv);
    default:
        break;
    }
    size_t size = gguf_scalar_size(kv->type);
    if (size == 0)
        return pfail(p, BB_ERR_FORMAT, "unknown value type %u at byte offset %llu", kv->type,
                     (unsigned long long)(at - 4));
    bb_status st = rd_bytes(p, size, "value", &kv->val);
    if (st == BB_OK && kv->type == GGUF_TYPE_BOOL) st = check_bools(p, kv->val, 1, at);
    return st;
}

/* general.alignment decides where tensor data starts; the spec makes it a uint32, and
 * aligning offsets only works for a nonzero power of two. */
static bb_status check_alignment_key(parser *p, const gguf_kv *kv) {
    if (kv->type != GGUF_TYPE_UINT32)
        return pfail(p, BB_ERR_FORMAT, "general.alignment has type %s, must be uint32",
                     gguf_type_name(kv->type));
    uint32_t a;
    memcpy(&a, kv->val, 4);
    if (a == 0 || (a & (a - 1)) != 0)
        return pfail(p, BB_ERR_FORMAT, "general.alignment %u is not a nonzero power of two", a);
    p->f->alignment = a;
    return BB_OK;
}

static bb_status parse_kv(parser *p, int64_t i) {
    gguf_file *f = p->f;
    gguf_kv *kv = &f->kv[i];
    snprintf(p->where, sizeof p->where, "key/value pair #%lld at byte offset %llu", (long long)i,
             (unsigned long long)p->pos);
    bb_status st = rd_name(p, "key", GGUF_MAX_KEY_LEN, &kv->key);
    if (st != BB_OK) return st;
    f->n_kv = i + 1; /* from here on gguf_close frees this pair */
    kv->arr_type = GGUF_TYPE_COUNT;
    snprintf(p->where, sizeof p->where, "key '%.60s'", kv->key);
    int64_t first = gguf_index_add(&f->kv_index, kv->key, i);
    if (first >= 0)
        return pfail(p, BB_ERR_FORMAT, "duplicate key (pairs #%lld and #%lld)", (long long)first,
                     (long long)i);
    if ((st = rd_u32(p, "value type", &kv->type)) != BB_OK) return st;
    if ((st = parse_value(p, kv)) != BB_OK) return st;
    if (strcmp(kv->key, "general.alignment") == 0) return check_alignment_key(p, kv);
    return BB_OK;
}

/* ---------------------------------------------------------------- tensor infos */

static bb_status parse_tensor_info(parser *p, int64_t i) {
    gguf_file *f = p->f;
    gguf_tensor *t = &f->tensors[i];
    uint64_t at = p->pos;
    snprintf(p->where, sizeof p->where, "tensor info #%lld at byte offset %llu", (long long)i,
             (unsigned long long)at);
    bb_status st = rd_name(p, "tensor name", GGUF_MAX_NAME_LEN, (char **)&t->name);
    if (st != BB_OK) return st;
    f->n_tensors = i + 1;
    snprintf(p->where, sizeof p->where, "tensor '%s' (info at byte offset %llu)", t->name,
             (unsigned long long)at);
    int64_t first = gguf_index_add(&f->tensor_index, t->name, i);
    if (first >= 0)
        return pfail(p, BB_ERR_FORMAT, "duplicate tensor name (tensors #%lld and #%lld)",
                     (long long)first, (long long)i);
    if ((st = rd_u32(p, "n_dims", &t->n_dims)) != BB_OK) return st;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return pfail(p, BB_ERR_FORMAT, "n_dims %u out of range 1..%d", t->n_dims, GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d < t->n_dims && (st = rd_u64(p, "dimension", &t->ne[d])) != BB_OK) return st;
    }
    if ((st = rd_u32(p, "tensor type", &t->type)) != BB_OK) return st;
    if ((st = rd_u64(p, "tensor offset", &t->offset)) != BB_OK) return st;
    char what[sizeof p->where + 8];
    snprintf(what, sizeof what, "GGUF %s", p->where);
    st = gguf_tensor_nbytes(what, t->type, t->n_dims, t->ne, &t->size, p->err);
    if (st != BB_OK) return st;
    if (t->offset % f->alignment != 0)
        return pfail(p, BB_ERR_FORMAT, "data offset %llu is misaligned (not a multiple of %llu)",
                     (unsigned long long)t->offset, (unsigned long long)f->alignment);
    return BB_OK;
}

static int cmp_offset(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Tensors may come in any order, but their byte ranges must not overlap. */
static bb_status check_overlaps(parser *p) {
    gguf_file *f = p->f;
    if (f->n_tensors < 2) return BB_OK;
    const gguf_tensor **order = malloc((size_t)f->n_tensors * sizeof *order);
    if (!order) return pfail(p, BB_ERR_OUT_OF_MEMORY, "out of memory sorting tensors");
    for (int64_t i = 0; i < f->n_tensors; i++)
        order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, cmp_offset);
    bb_status st = BB_OK;
    for (int64_t i = 0; i + 1 < f->n_tensors && st == BB_OK; i++) {
        const gguf_tensor *a = order[i], *b = order[i + 1];
        if (a->offset + a->size > b->offset) /* no overflow: both ranges are within the file */
            st = pfail(p, BB_ERR_FORMAT,
                       "tensors '%s' (data bytes %llu..%llu) and '%s' (from %llu) overlap", a->name,
                       (unsigned long long)a->offset, (unsigned long long)(a->offset + a->size),
                       b->name, (unsigned long long)b->offset);
    }
    free(order);
    return st;
}

static bb_status place_tensors(parser *p) {
    gguf_file *f = p->f;
    uint64_t end;
    snprintf(p->where, sizeof p->where, "tensor data");
    if (!bb_add_u64(p->pos, f->alignment - 1, &end))
        return pfail(p, BB_ERR_FORMAT, "data offset overflows");
    f->data_offset = end - end % f->alignment;
    if (f->n_tensors == 0) return BB_OK; /* vocab-only files may end before the padding */
    if (f->data_offset > f->size)
        return pfail(p, BB_ERR_FORMAT,
                     "section starts at byte offset %llu (header end %llu aligned to %llu), past "
                     "the end of file (%llu bytes)",
                     (unsigned long long)f->data_offset, (unsigned long long)p->pos,
                     (unsigned long long)f->alignment, (unsigned long long)f->size);
    uint64_t room = f->size - f->data_offset;
    for (int64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        if (!bb_add_u64(t->offset, t->size, &end) || end > room)
            return pfail(p, BB_ERR_FORMAT,
                         "tensor '%s' (%llu bytes at offset %llu of the section at byte offset "
                         "%llu) runs past the end of file (%llu bytes)",
                         t->name, (unsigned long long)t->size, (unsigned long long)t->offset,
                         (unsigned long long)f->data_offset, (unsigned long long)f->size);
        t->data = f->base + f->data_offset + t->offset;
    }
    return check_overlaps(p);
}

/* ---------------------------------------------------------------- header */

static bb_status parse_version(parser *p) {
    uint32_t v;
    bb_status st = rd_u32(p, "version", &v);
    if (st != BB_OK) return st;
    p->f->version = v;
    if (v == 2 || v == 3) return BB_OK;
    if (v == 1)
        return pfail(p, BB_ERR_UNSUPPORTED,
                     "version 1 is not supported (it used 32-bit lengths; only versions 2 and 3 "
                     "are read)");
    uint32_t swapped = __builtin_bswap32(v);
    if (swapped == 2 || swapped == 3)
        return pfail(p, BB_ERR_UNSUPPORTED,
                     "version %u read as 0x%08x: big-endian files are not "
                     "supported",
                     swapped, v);
    return pfail(p, BB_ERR_UNSUPPORTED, "unsupported version %u (only versions 2 and 3 are read)",
                 v);
}

static bb_status parse_header(parser *p, uint64_t *n_tensors, uint64_t *n_kv) {
    const uint8_t *magic;
    snprintf(p->where, sizeof p->where, "header");
    bb_status st = rd_bytes(p, 4, "magic", &magic);
    if (st != BB_OK) return st;
    if (memcmp(magic, "GGUF", 4) != 0)
        return pfail(p, BB_ERR_FORMAT,
                     "bad magic at byte offset 0: expected \"GGUF\", found %02x %02x %02x %02x "
                     "(not a GGUF file)",
                     magic[0], magic[1], magic[2], magic[3]);
    if ((st = parse_version(p)) != BB_OK) return st;
    if ((st = rd_u64(p, "n_tensors", n_tensors)) != BB_OK) return st;
    if ((st = rd_u64(p, "n_kv", n_kv)) != BB_OK) return st;
    if ((st = check_count(p, *n_kv, MIN_KV_BYTES, "n_kv", 16)) != BB_OK) return st;
    return check_count(p, *n_tensors, MIN_TENSOR_INFO_BYTES, "n_tensors", 8);
}

static bb_status parse(parser *p) {
    gguf_file *f = p->f;
    uint64_t n_tensors, n_kv;
    bb_status st = parse_header(p, &n_tensors, &n_kv);
    if (st != BB_OK) return st;
    f->kv = calloc(n_kv ? n_kv : 1, sizeof *f->kv); /* n_kv <= size / 14: bounded */
    if (!f->kv || !gguf_index_init(&f->kv_index, n_kv))
        return pfail(p, BB_ERR_OUT_OF_MEMORY, "out of memory for %llu keys",
                     (unsigned long long)n_kv);
    for (uint64_t i = 0; i < n_kv; i++)
        if ((st = parse_kv(p, (int64_t)i)) != BB_OK) return st;
    snprintf(p->where, sizeof p->where, "tensor infos");
    /* Now that the metadata is parsed, bound n_tensors by what is left after it. */
    if ((st = check_count(p, n_tensors, MIN_TENSOR_INFO_BYTES, "n_tensors", 8)) != BB_OK) return st;
    f->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    if (!f->tensors || !gguf_index_init(&f->tensor_index, n_tensors))
        return pfail(p, BB_ERR_OUT_OF_MEMORY, "out of memory for %llu tensors",
                     (unsigned long long)n_tensors);
    for (uint64_t i = 0; i < n_tensors; i++)
        if ((st = parse_tensor_info(p, (int64_t)i)) != BB_OK) return st;
    return place_tensors(p);
}

static bb_status open_image(const uint8_t *base, uint64_t size, bool mapped, gguf_file **out,
                            bb_error *err) {
    *out = NULL;
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        if (mapped) munmap((void *)base, size);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory opening a GGUF file");
    }
    f->base = base;
    f->size = size;
    f->mapped = mapped;
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    parser p = {.base = base, .size = size, .err = err, .f = f};
    bb_status st = parse(&p);
    if (st != BB_OK) {
        gguf_close(f);
        return st;
    }
    *out = f;
    return BB_OK;
}

bb_status gguf_open_memory(const void *data, size_t size, gguf_file **out, bb_error *err) {
    if (!out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size > 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "gguf_open_memory: data is NULL");
    return open_image(data, size, false, out, err);
}

/* Prefixes the message of a failed open with the file's path. */
static bb_status name_path(bb_status st, const char *path, bb_error *err) {
    if (st != BB_OK && err) {
        char msg[sizeof err->message];
        memcpy(msg, err->message, sizeof msg);
        bb_fail(err, st, "%s: %s", path, msg);
    }
    return st;
}

bb_status gguf_open_single(const char *path, gguf_file **out, bb_error *err) {
    if (!path || !out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "gguf_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return bb_fail(err, BB_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return bb_fail(err, BB_ERR_IO, "%s is not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    void *base = NULL;
    if (size > 0) {
        base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (base == MAP_FAILED) {
            int e = errno;
            close(fd);
            return bb_fail(err, BB_ERR_IO, "cannot map %s: %s", path, strerror(e));
        }
    }
    close(fd); /* the mapping keeps the file */
    return name_path(open_image(base, size, size > 0, out, err), path, err);
}

bb_status gguf_open(const char *path, gguf_file **out, bb_error *err) {
    bb_status st = gguf_open_single(path, out, err);
    if (st != BB_OK) return st;
    st = gguf_join_split(*out, path, err);
    if (st != BB_OK) {
        gguf_close(*out);
        *out = NULL;
    }
    return st;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    for (int64_t i = 0; i < f->n_kv; i++) {
        free(f->kv[i].key);
        free(f->kv[i].strs);
    }
    free(f->kv);
    for (int64_t i = 0; i < f->n_tensors; i++)
        free((char *)f->tensors[i].name);
    free(f->tensors);
    gguf_index_free(&f->kv_index);
    gguf_index_free(&f->tensor_index);
    if (f->mapped) munmap((void *)f->base, f->size);
    for (int64_t i = 0; i < f->n_parts; i++)
        gguf_close(f->parts[i]);
    free(f->parts);
    free(f);
}

/* ---------------------------------------------------------------- file facts and tensors */

uint32_t gguf_version(const gguf_file *f) {
    return f->version;
}
uint64_t gguf_alignment(const gguf_file *f) {
    return f->alignment;
}
uint64_t gguf_file_size(const gguf_file *f) {
    return f->size;
}
uint64_t gguf_data_offset(const gguf_file *f) {
    return f->data_offset;
}

int64_t gguf_n_tensors(const gguf_file *f) {
    return f->n_tensors;
}

const gguf_tensor *gguf_tensor_at(const gguf_file *f, int64_t i) {
    return i >= 0 && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    int64_t i = gguf_index_find(&f->tensor_index, name);
    return i >= 0 ? &f->tensors[i] : NULL;
}
