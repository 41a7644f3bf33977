/* `beanbag info`: the file's metadata (long arrays abbreviated) and its tensor table. */
#include <inttypes.h>
#include <stdio.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "model/model.h"
#include "quant/quant.h"

#define MAX_ARRAY_SHOWN 8
#define MAX_STRING_SHOWN 80

static void put_string(bb_strbuf *sb, gguf_string s) {
    uint64_t n = s.len > MAX_STRING_SHOWN ? MAX_STRING_SHOWN : s.len;
    bb_strbuf_append(sb, "\"", 1);
    for (uint64_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s.data[i];
        if (ch == '\n')
            bb_strbuf_append(sb, "\\n", 2);
        else if (ch < 0x20)
            bb_strbuf_printf(sb, "\\x%02x", ch);
        else
            bb_strbuf_append(sb, (const char *)&ch, 1);
    }
    bb_strbuf_append(sb, "\"", 1);
    if (s.len > n) bb_strbuf_printf(sb, "... (%" PRIu64 " bytes)", s.len);
}

static void put_scalar(bb_strbuf *sb, const gguf_file *f, int64_t i, uint32_t type) {
    switch (type) {
    case GGUF_TYPE_STRING:
        put_string(sb, gguf_kv_str(f, i));
        break;
    case GGUF_TYPE_FLOAT32:
    case GGUF_TYPE_FLOAT64:
        bb_strbuf_printf(sb, "%g", gguf_kv_f64(f, i));
        break;
    case GGUF_TYPE_BOOL:
        bb_strbuf_printf(sb, "%s", gguf_kv_u64(f, i) ? "true" : "false");
        break;
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_INT16:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_INT64:
        bb_strbuf_printf(sb, "%" PRId64, gguf_kv_i64(f, i));
        break;
    default:
        bb_strbuf_printf(sb, "%" PRIu64, gguf_kv_u64(f, i));
        break;
    }
}

static void put_array(bb_strbuf *sb, const gguf_file *f, int64_t i) {
    uint32_t et = gguf_arr_type(f, i);
    uint64_t n = gguf_arr_n(f, i);
    bb_strbuf_printf(sb, "[%s x %" PRIu64 "] [", gguf_type_name(et), n);
    for (uint64_t j = 0; j < n && j < MAX_ARRAY_SHOWN; j++) {
        if (j) bb_strbuf_append(sb, ", ", 2);
        if (et == GGUF_TYPE_STRING)
            put_string(sb, gguf_arr_str(f, i, j));
        else if (et == GGUF_TYPE_FLOAT32 || et == GGUF_TYPE_FLOAT64)
            bb_strbuf_printf(sb, "%g", gguf_arr_f64(f, i, j));
        else
            bb_strbuf_printf(sb, "%" PRId64, gguf_arr_i64(f, i, j));
    }
    bb_strbuf_append(sb, n > MAX_ARRAY_SHOWN ? ", ...]" : "]", n > MAX_ARRAY_SHOWN ? 6 : 1);
}

bb_status bb_model_describe(const bb_model *m, char **out, bb_error *err) {
    const gguf_file *f = m->file;
    bb_strbuf sb = {0};
    bb_strbuf_printf(
        &sb, "GGUF v%u, %" PRId64 " metadata keys, %" PRId64 " tensors, alignment %" PRIu64 "\n",
        gguf_version(f), gguf_n_kv(f), gguf_n_tensors(f), gguf_alignment(f));
    if (!m->vocab_only)
        bb_strbuf_printf(&sb,
                         "architecture %s: %" PRIu64 " parameters, %.2f MiB of weights per "
                         "token, kernels: %s\n",
                         m->arch->name, m->n_params, m->weight_bytes / 1048576.0, bb_cpu_level());
    bb_strbuf_printf(&sb, "\nmetadata:\n");
    for (int64_t i = 0; i < gguf_n_kv(f); i++) {
        uint32_t type = gguf_kv_type(f, i);
        bb_strbuf_printf(&sb, "  %-40s %-8s ", gguf_key(f, i), gguf_type_name(type));
        if (type == GGUF_TYPE_ARRAY)
            put_array(&sb, f, i);
        else
            put_scalar(&sb, f, i, type);
        bb_strbuf_append(&sb, "\n", 1);
    }
    bb_strbuf_printf(&sb, "\ntensors:\n  %-36s %-6s %-28s %12s\n", "name", "type", "shape",
                     "bytes");
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        const bb_type_traits *tt = bb_type_get_ref((int)t->type);
        char shape[96];
        int len = snprintf(shape, sizeof shape, "[%" PRIu64, t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims && len < (int)sizeof shape; d++)
            len += snprintf(shape + len, sizeof shape - (size_t)len, ", %" PRIu64, t->ne[d]);
        if (len < (int)sizeof shape) snprintf(shape + len, sizeof shape - (size_t)len, "]");
        bb_strbuf_printf(&sb, "  %-36s %-6s %-28s %12" PRIu64 "\n", t->name, tt ? tt->name : "?",
                         shape, t->size);
    }
    *out = bb_strbuf_take(&sb);
    if (!*out) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    return BB_OK;
}
