/*
 * Quantizing a model file. Tensor-type choices follow llama.cpp's llama_tensor_get_type for
 * the mixes we write:
 *  - 1-D tensors (norms, biases) stay F32;
 *  - the output projection (or the tied embedding) gets Q6_K unless the mix is Q8_0;
 *  - Q4_K_M: attn_v and ffn_down use Q6_K in the "more bits" layers (the first and last
 *    eighth, and every third in between), everything else Q4_K;
 *  - a K-quant on a row length that is not a multiple of 256 falls back to a legacy type with
 *    32-element blocks (Q4_K -> Q5_0, Q6_K -> Q8_0), as llama.cpp does.
 */
#include "model/quantize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "gguf/gguf.h"
#include "ops/threadpool.h"
#include "quant/quant.h"

typedef struct mix_desc {
    const char *name;
    int base_type;
    uint32_t file_type; /* llama_ftype value for general.file_type */
} mix_desc;

static const mix_desc mixes[] = {
    {"Q8_0", BB_TYPE_Q8_0, 7},  {"Q4_0", BB_TYPE_Q4_0, 2}, {"Q4_K_M", BB_TYPE_Q4_K, 15},
    {"Q6_K", BB_TYPE_Q6_K, 18}, {"F16", BB_TYPE_F16, 1},   {"BF16", BB_TYPE_BF16, 32},
};

static bool more_bits(int il, int n_layer) {
    return il < n_layer / 8 || il >= 7 * n_layer / 8 || (il - n_layer / 8) % 3 == 2;
}

static int fallback(int type, uint64_t ne0) {
    if (ne0 % QK_K == 0) return type;
    if (type == BB_TYPE_Q4_K) return BB_TYPE_Q5_0;
    if (type == BB_TYPE_Q6_K) return BB_TYPE_Q8_0;
    return type;
}

static int choose_type(const mix_desc *mix, const gguf_tensor *t, bool has_output, int n_layer) {
    if (t->n_dims < 2) return BB_TYPE_F32;
    const char *n = t->name;
    int type = mix->base_type;
    bool is_output =
        !strcmp(n, "output.weight") || (!has_output && !strcmp(n, "token_embd.weight"));
    if (is_output && type != BB_TYPE_Q8_0 && type != BB_TYPE_F16 && type != BB_TYPE_BF16)
        type = BB_TYPE_Q6_K;
    int il = -1;
    if (mix->base_type == BB_TYPE_Q4_K && sscanf(n, "blk.%d.", &il) == 1 &&
        (strstr(n, ".attn_v.weight") || strstr(n, ".ffn_down.weight")) && more_bits(il, n_layer))
        type = BB_TYPE_Q6_K;
    return fallback(type, t->ne[0]);
}

typedef struct quant_job {
    const gguf_tensor *t;
    const bb_type_traits *src, *dst;
    char *out;
    size_t src_row, dst_row;
    int64_t rows;
    float **scratch; /* per thread, ne[0] floats */
} quant_job;

#define ROWS_PER_TASK 32

static void quant_task(void *arg, int task, int thread) {
    quant_job *j = arg;
    int64_t n = (int64_t)j->t->ne[0];
    float *row = j->scratch[thread];
    for (int64_t r = (int64_t)task * ROWS_PER_TASK; r < (task + 1) * ROWS_PER_TASK && r < j->rows;
         r++) {
        j->src->to_float((const char *)j->t->data + r * j->src_row, row, n);
        j->dst->from_float(row, j->out + r * j->dst_row, n);
    }
}

static bb_status convert_tensor(bb_pool *pool, const gguf_tensor *t, int type, float **scratch,
                                char **out, size_t *size, bb_error *err) {
    const bb_type_traits *src = bb_type_get_ref((int)t->type);
    const bb_type_traits *dst = bb_type_get(type);
    if (!src || !src->to_float)
        return bb_fail(err, BB_ERR_UNSUPPORTED,
                       "tensor '%s' has type id %u, which cannot be "
                       "read",
                       t->name, t->type);
    if (!dst || !dst->from_float)
        return bb_fail(err, BB_ERR_UNSUPPORTED, "no quantizer for %s", dst ? dst->name : "?");
    int64_t rows = (int64_t)(t->ne[1] * t->ne[2] * t->ne[3]);
    size_t dst_row = bb_row_size(type, (int64_t)t->ne[0]);
    *size = dst_row * (size_t)rows;
    *out = malloc(*size ? *size : 1);
    if (!*out) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for '%s'", t->name);
    quant_job j = {t,       src,  dst,    *out, bb_row_size((int)t->type, (int64_t)t->ne[0]),
                   dst_row, rows, scratch};
    bb_pool_run(pool, quant_task, &j, (int)((rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK));
    return BB_OK;
}

static bb_status check_source(const gguf_file *f, uint64_t *max_row, bb_error *err) {
    *max_row = 1;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        if (t->n_dims >= 2 && t->type != BB_TYPE_F32 && t->type != BB_TYPE_F16 &&
            t->type != BB_TYPE_BF16)
            return bb_fail(
                err, BB_ERR_UNSUPPORTED,
                "tensor '%s' is already quantized (%s); "
                "quantize from an F32, F16 or BF16 file",
                t->name, bb_type_get_ref((int)t->type) ? bb_type_get_ref((int)t->type)->name : "?");
        if (t->ne[0] > *max_row) *max_row = t->ne[0];
    }
    return BB_OK;
}

bb_status bb_quantize_file(const char *in_path, const char *out_path, const char *mix_name,
                           int n_threads, bool verbose, bb_error *err) {
    const mix_desc *mix = NULL;
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
        if (!strcmp(mixes[i].name, mix_name)) mix = &mixes[i];
    if (!mix)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "unknown quantization type '%s' (use Q8_0, "
                       "Q4_0, Q4_K_M, Q6_K, F16 or BF16)",
                       mix_name);
    gguf_file *f = NULL;
    gguf_writer *w = NULL;
    bb_pool *pool = NULL;
    float **scratch = NULL;
    char **bufs = NULL;
    uint64_t max_row = 0;
    int64_t nt = 0;
    bb_status st = gguf_open(in_path, &f, err);
    if (st || (st = check_source(f, &max_row, err)) || (st = bb_pool_new(n_threads, &pool, err)))
        goto out;
    nt = gguf_n_tensors(f);
    w = gguf_writer_new();
    scratch = calloc((size_t)n_threads, sizeof *scratch);
    bufs = calloc((size_t)(nt > 0 ? nt : 1), sizeof *bufs);
    if (!w || !scratch || !bufs) {
        st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
        goto out;
    }
    for (int i = 0; i < n_threads; i++)
        if (!(scratch[i] = malloc(max_row * sizeof(float)))) {
            st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
            goto out;
        }
    for (int64_t i = 0; i < gguf_n_kv(f); i++) {
        const char *k = gguf_key(f, i);
        /* A split input (all its parts opened as one) becomes one output file. */
        if (strcmp(k, "general.file_type") && strcmp(k, "general.quantization_version") &&
            strncmp(k, "split.", 6) && (st = gguf_writer_copy_kv(w, f, i)))
            goto out;
    }
    gguf_writer_set_u32(w, "general.quantization_version", 2);
    gguf_writer_set_u32(w, "general.file_type", mix->file_type);
    bool has_output = gguf_find_tensor(f, "output.weight") != NULL;
    uint32_t n_layer = 0;
    for (int64_t i = 0; i < nt; i++) {
        int il;
        if (sscanf(gguf_tensor_at(f, i)->name, "blk.%d.", &il) == 1 && il >= 0 &&
            (uint32_t)il + 1 > n_layer)
            n_layer = (uint32_t)il + 1;
    }
    for (int64_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        int type = choose_type(mix, t, has_output, (int)n_layer);
        size_t size = 0;
        if ((st = convert_tensor(pool, t, type, scratch, &bufs[i], &size, err)) ||
            (st = gguf_writer_add_tensor(w, t->name, (uint32_t)type, t->n_dims, t->ne, bufs[i],
                                         size, err)))
            goto out;
        if (verbose)
            fprintf(stderr, "[%3lld/%3lld] %-32s %-5s -> %-5s %10.2f MiB\n", (long long)i + 1,
                    (long long)nt, t->name, bb_type_get_ref((int)t->type)->name,
                    bb_type_get_ref(type)->name, size / 1048576.0);
    }
    st = gguf_writer_write(w, out_path, err);
out:
    for (int64_t i = 0; bufs && i < nt; i++)
        free(bufs[i]);
    free(bufs);
    for (int i = 0; scratch && i < n_threads; i++)
        free(scratch[i]);
    free(scratch);
    gguf_writer_free(w);
    bb_pool_free(pool);
    gguf_close(f);
    return st;
}
