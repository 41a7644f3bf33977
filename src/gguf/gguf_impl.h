/* Internals shared by the GGUF reader (reader.c, kv.c), the type table and the writer. */
#ifndef BB_GGUF_IMPL_H
#define BB_GGUF_IMPL_H

#include "gguf/gguf.h"

/* GGUF is little-endian and the reader hands out values and tensor data in place, so the host
 * must be little-endian too (every CPU beanbag targets is). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "beanbag reads GGUF in place");

/* Spec limits: keys are at most 65535 bytes; tensor names at most 64 bytes (ggml keeps names
 * in a fixed 64-byte field, so longer names cannot come from, or load into, ggml tools). */
#define GGUF_MAX_KEY_LEN 65535
#define GGUF_MAX_NAME_LEN 64

/* Name -> index hash table (open addressing, FNV-1a), so that lookups and duplicate checks
 * stay linear in the number of keys even for hostile files with millions of them. */
typedef struct gguf_index {
    uint64_t mask;
    struct gguf_index_slot {
        const char *name; /* NULL: empty */
        int64_t idx;
    } * slots;
} gguf_index;

bool gguf_index_init(gguf_index *ix, uint64_t n); /* false on allocation failure */
void gguf_index_free(gguf_index *ix);
int64_t gguf_index_find(const gguf_index *ix, const char *name); /* -1 when absent */
/* Adds name (kept by pointer); returns -1, or the index already stored under that name. */
int64_t gguf_index_add(gguf_index *ix, const char *name, int64_t idx);

typedef struct gguf_kv {
    char *key;
    uint32_t type;
    uint32_t arr_type;  /* element type; GGUF_TYPE_COUNT unless an array */
    uint64_t arr_n;     /* elements; 0 unless an array */
    const uint8_t *val; /* scalar bytes, or the first encoded array element */
    gguf_string str;    /* the value of a string */
    gguf_string *strs;  /* string array: one per element (owned) */
} gguf_kv;

struct gguf_file {
    const uint8_t *base;
    uint64_t size;
    bool mapped; /* base came from mmap and is unmapped at close */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    gguf_kv *kv;
    int64_t n_tensors;
    gguf_tensor *tensors;
    gguf_index kv_index;
    gguf_index tensor_index;
    /* A split model's other files (split.c): their tensors are in `tensors` too, with data
     * pointers into these mappings. */
    struct gguf_file **parts;
    int64_t n_parts;
};

/* One file, never its split siblings. */
bb_status gguf_open_single(const char *path, gguf_file **out, bb_error *err);
/* When f (opened from path) is the first file of a split model, opens the others and adds
 * their tensors to f's table (split.c). */
bb_status gguf_join_split(gguf_file *f, const char *path, bb_error *err);

/* Encoded size of a fixed-size scalar value type; 0 for string, array and unknown types. */
size_t gguf_scalar_size(uint32_t type);

/* Bytes of a tensor of ggml type `type` with dims ne[0..n_dims). Checks n_dims in 1..4, every
 * dim > 0, the type known, ne[0] a multiple of its block size, and that neither the element
 * count (which must fit int64_t, as consumers count elements in int64_t) nor the byte size
 * overflows. On failure the message starts with `what` (e.g. "tensor 'x'"). */
bb_status gguf_tensor_nbytes(const char *what, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                             uint64_t *nbytes, bb_error *err);

#endif
