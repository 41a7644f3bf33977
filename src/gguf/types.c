/* Block layouts of the ggml tensor types, and the size of a tensor from its type and dims.
 *
 * The GGUF layer keeps its own table instead of asking quant/ because it only needs the file
 * structure (how many bytes a tensor occupies), and must validate files whose types beanbag
 * may not run. Numbers from ggml (ggml.c type_traits, ggml-common.h block structs), e.g.
 * block_q4_K = 2 fp16 + 12 bytes of scales + 128 bytes of nibbles = 144 bytes per 256. */
#include "gguf/gguf_impl.h"

#include "common/checked.h"
#include "common/error.h"

typedef struct ggml_type_layout {
    const char *name;
    uint32_t block_size;
    uint32_t type_size;
} ggml_type_layout;

static const ggml_type_layout layouts[] = {
    [0] = {"F32", 1, 4},       [1] = {"F16", 1, 2},       [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},    [6] = {"Q5_0", 32, 22},    [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},    [9] = {"Q8_1", 32, 36},    [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110}, [12] = {"Q4_K", 256, 144}, [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210}, [15] = {"Q8_K", 256, 292}, [24] = {"I8", 1, 1},
    [25] = {"I16", 1, 2},      [26] = {"I32", 1, 4},      [27] = {"I64", 1, 8},
    [28] = {"F64", 1, 8},      [30] = {"BF16", 1, 2},     [39] = {"MXFP4", 32, 17},
};

/* ggml types whose layout this table leaves out (importance-matrix quants), named so that
 * rejecting them says what they are. */
static const char *const unsupported_names[] = {
    [16] = "IQ2_XXS", [17] = "IQ2_XS", [18] = "IQ3_XXS", [19] = "IQ1_S", [20] = "IQ4_NL",
    [21] = "IQ3_S",   [22] = "IQ2_S",  [23] = "IQ4_XS",  [29] = "IQ1_M",
};

const char *gguf_ggml_type_info(uint32_t type, uint32_t *block_size, uint32_t *type_size) {
    if (type >= sizeof layouts / sizeof layouts[0] || !layouts[type].name) return NULL;
    if (block_size) *block_size = layouts[type].block_size;
    if (type_size) *type_size = layouts[type].type_size;
    return layouts[type].name;
}

bb_status gguf_tensor_nbytes(const char *what, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                             uint64_t *nbytes, bb_error *err) {
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return bb_fail(err, BB_ERR_FORMAT, "%s: n_dims %u out of range 1..%d", what, n_dims,
                       GGUF_MAX_DIMS);
    uint32_t block, tsize;
    const char *tname = gguf_ggml_type_info(type, &block, &tsize);
    if (!tname) {
        bool named = type < sizeof unsupported_names / sizeof unsupported_names[0] &&
                     unsupported_names[type];
        return bb_fail(err, BB_ERR_UNSUPPORTED, "%s: %s ggml type %u%s%s%s", what,
                       named ? "unsupported" : "unknown", type, named ? " (" : "",
                       named ? unsupported_names[type] : "", named ? ")" : "");
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] == 0) return bb_fail(err, BB_ERR_FORMAT, "%s: dimension %u is 0", what, d);
        if (!bb_mul_u64(elements, ne[d], &elements) || elements > (uint64_t)INT64_MAX)
            return bb_fail(err, BB_ERR_FORMAT,
                           "%s: the product of dimensions overflows (dimension %u is %llu)", what,
                           d, (unsigned long long)ne[d]);
    }
    if (ne[0] % block != 0)
        return bb_fail(err, BB_ERR_FORMAT,
                       "%s: ne[0] = %llu is not a multiple of the block size %u of type %s", what,
                       (unsigned long long)ne[0], block, tname);
    uint64_t bytes;
    if (!bb_mul_u64(elements / block, tsize, &bytes))
        return bb_fail(err, BB_ERR_FORMAT, "%s: size in bytes overflows (%llu elements of type %s)",
                       what, (unsigned long long)elements, tname);
    *nbytes = bytes;
    return BB_OK;
}
