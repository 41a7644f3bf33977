/* Split models, as llama.cpp's gguf-split writes them: NAME-00001-of-0000N.gguf ...
 * NAME-0000N-of-0000N.gguf, each a GGUF file with `split.no` (0-based), `split.count` and
 * `split.tensors.count` (all parts' tensors together); the first carries the model's metadata.
 * Opening the first part opens the rest and lists every tensor in one table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "gguf/gguf_impl.h"

#define MAX_PARTS 99999

static bool int_key(const gguf_file *f, const char *key, uint64_t *out) {
    int64_t i = gguf_find_key(f, key);
    if (i < 0) return false;
    uint32_t t = gguf_kv_type(f, i);
    if (t == GGUF_TYPE_STRING || t == GGUF_TYPE_ARRAY || t == GGUF_TYPE_FLOAT32 ||
        t == GGUF_TYPE_FLOAT64 || t == GGUF_TYPE_BOOL)
        return false;
    *out = gguf_kv_u64(f, i);
    return true;
}

/* The path of part k (1-based) from the first part's path, "…-00001-of-0000N.gguf". */
static bool part_path(const char *first, uint64_t k, uint64_t n, char *out, size_t cap) {
    size_t len = strlen(first);
    const size_t tail = 20; /* "-00001-of-00005.gguf" */
    char want[32];
    snprintf(want, sizeof want, "-00001-of-%05llu.gguf", (unsigned long long)n);
    if (len < tail || strcmp(first + len - tail, want)) return false;
    int w = snprintf(out, cap, "%.*s-%05llu-of-%05llu.gguf", (int)(len - tail), first,
                     (unsigned long long)k, (unsigned long long)n);
    return w > 0 && (size_t)w < cap;
}

bb_status gguf_join_split(gguf_file *f, const char *path, bb_error *err) {
    uint64_t count = 0, no = 0, total = 0;
    if (!int_key(f, "split.count", &count) || count <= 1) return BB_OK;
    if (!int_key(f, "split.no", &no))
        return bb_fail(err, BB_ERR_FORMAT, "%s: split.count without split.no", path);
    if (no != 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "%s is part %llu of a split model: open its first part (-00001-of-%05llu)",
                       path, (unsigned long long)no + 1, (unsigned long long)count);
    if (count > MAX_PARTS)
        return bb_fail(err, BB_ERR_FORMAT, "%s: split.count %llu is over %d", path,
                       (unsigned long long)count, MAX_PARTS);
    char first_name[4096];
    if (!part_path(path, 1, count, first_name, sizeof first_name))
        return bb_fail(err, BB_ERR_FORMAT,
                       "%s: a split model's first part must be named NAME-00001-of-%05llu.gguf",
                       path, (unsigned long long)count);
    f->parts = calloc(count - 1, sizeof *f->parts);
    if (!f->parts) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    uint64_t n_all = (uint64_t)f->n_tensors;
    for (uint64_t k = 2; k <= count; k++) {
        char p[4096];
        part_path(path, k, count, p, sizeof p);
        gguf_file *part = NULL;
        bb_status st = gguf_open_single(p, &part, err);
        if (st != BB_OK) return st;
        f->parts[f->n_parts++] = part;
        uint64_t pno = 0, pcount = 0;
        if (!int_key(part, "split.no", &pno) || !int_key(part, "split.count", &pcount) ||
            pno != k - 1 || pcount != count)
            return bb_fail(err, BB_ERR_FORMAT,
                           "%s: not part %llu of %llu (split.no / split.count disagree)", p,
                           (unsigned long long)k, (unsigned long long)count);
        if (!bb_add_u64(n_all, (uint64_t)part->n_tensors, &n_all))
            return bb_fail(err, BB_ERR_FORMAT, "%s: too many tensors", p);
    }
    if (int_key(f, "split.tensors.count", &total) && total != n_all)
        return bb_fail(err, BB_ERR_FORMAT, "%s: split.tensors.count is %llu, the parts hold %llu",
                       path, (unsigned long long)total, (unsigned long long)n_all);
    size_t bytes;
    if (n_all > (uint64_t)INT64_MAX || !bb_mul_size((size_t)n_all, sizeof *f->tensors, &bytes))
        return bb_fail(err, BB_ERR_FORMAT, "%s: too many tensors", path);
    gguf_tensor *all = realloc(f->tensors, bytes ? bytes : 1);
    if (!all) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    f->tensors = all;
    gguf_index_free(&f->tensor_index);
    memset(&f->tensor_index, 0, sizeof f->tensor_index);
    if (!gguf_index_init(&f->tensor_index, n_all))
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < f->n_tensors; i++)
        gguf_index_add(&f->tensor_index, f->tensors[i].name, i);
    for (int64_t k = 0; k < f->n_parts; k++) {
        const gguf_file *part = f->parts[k];
        for (int64_t i = 0; i < part->n_tensors; i++) {
            gguf_tensor t = part->tensors[i];
            t.name = strdup(t.name); /* f frees the names of its whole table */
            if (!t.name) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
            f->tensors[f->n_tensors] = t;
            if (gguf_index_add(&f->tensor_index, t.name, f->n_tensors++) >= 0)
                return bb_fail(err, BB_ERR_FORMAT, "%s: tensor '%s' is in two parts", path, t.name);
        }
    }
    return BB_OK;
}
