/* Picks the files of a Hugging Face repository that a quantization tag names, from the tree
 * API's answer (`GET /api/models/{repo}/tree/main`: a JSON array of {"type", "path", "size",
 * "lfs": {"oid", "size"}}), the way Ollama and huggingface_hub read it: the tag matches the
 * quantization in a GGUF file name, case-insensitively, and a split model
 * (`NAME-00001-of-00003.gguf`, llama.cpp's gguf-split naming) comes as all its parts. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "hub/hub.h"

#define MAX_FILES 4096

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Length of a quantization name at s ("Q4_K_M", "IQ2_XXS", "Q8_0", "BF16", "F16", "F32",
 * "TQ1_0"), 0 if there is none. */
static size_t quant_len(const char *s) {
    static const char *const floats[] = {"BF16", "F16", "F32", "F64", "FP16", "FP32"};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        size_t n = strlen(floats[i]);
        if (!strncasecmp(s, floats[i], n) && !isalnum((unsigned char)s[n])) return n;
    }
    size_t i = 0;
    if (toupper((unsigned char)s[i]) == 'I' || toupper((unsigned char)s[i]) == 'T') i++;
    if (toupper((unsigned char)s[i]) != 'Q') return 0;
    i++;
    if (!isdigit((unsigned char)s[i])) return 0;
    while (isdigit((unsigned char)s[i]))
        i++;
    size_t groups = 0;
    while (s[i] == '_' && isalnum((unsigned char)s[i + 1])) {
        i++;
        while (isalnum((unsigned char)s[i]))
            i++;
        groups++;
    }
    return groups ? i : 0;
}

bool hub_quant_of(const char *path, char *out, size_t cap) {
    const char *b = base_name(path);
    const char *best = NULL;
    size_t best_n = 0;
    for (const char *p = b; *p; p++) {
        if (p > b && isalnum((unsigned char)p[-1])) continue;
        size_t n = quant_len(p);
        if (n && n < cap) {
            best = p; /* the last one: "Llama-3-8B-Q4_K_M" names the quantization last */
            best_n = n;
            p += n - 1;
        }
    }
    if (!best) return false;
    for (size_t i = 0; i < best_n; i++)
        out[i] = (char)toupper((unsigned char)best[i]);
    out[best_n] = 0;
    return true;
}

/* Does the file's base name carry tag as a whole word (not followed by [A-Za-z0-9_], not
 * preceded by a letter or digit)? */
static bool carries_tag(const char *path, const char *tag) {
    const char *b = base_name(path);
    size_t n = strlen(tag);
    for (const char *p = b; *p; p++) {
        if (p > b && isalnum((unsigned char)p[-1])) continue;
        if (strncasecmp(p, tag, n)) continue;
        char next = p[n];
        if (!isalnum((unsigned char)next) && next != '_') return true;
    }
    return false;
}

/* A split part's numbers: "...-00002-of-00005.gguf" -> 2, 5; the stem's length (before the
 * suffix) in *stem. False when the name is not a split part. */
static bool split_part(const char *path, int *part, int *count, size_t *stem) {
    size_t n = strlen(path);
    const size_t suffix_len = 20; /* "-00001-of-00005.gguf" */
    if (n < suffix_len) return false;
    const char *s = path + n - suffix_len;
    int a, b;
    char tail[8];
    if (s[0] != '-' || sscanf(s, "-%5d-of-%5d%7s", &a, &b, tail) != 3 || strcasecmp(tail, ".gguf"))
        return false;
    for (int i = 1; i <= 5; i++)
        if (!isdigit((unsigned char)s[i]) || !isdigit((unsigned char)s[i + 9])) return false;
    if (a < 1 || b < 1 || a > b) return false;
    *part = a;
    *count = b;
    *stem = n - suffix_len;
    return true;
}

static bool is_gguf(const char *path) {
    size_t n = strlen(path);
    return n > 5 && !strcasecmp(path + n - 5, ".gguf");
}

static bool is_projector(const char *path) {
    return !strncasecmp(base_name(path), "mmproj", 6);
}

/* A model: one file, or the parts of one split model, identified by the stem. */
typedef struct model_group {
    char stem[512];
    size_t first, count; /* a run in the sorted file list */
    int parts;           /* the N of -of-N, 0 for a single file */
} model_group;

static int by_path(const void *a, const void *b) {
    return strcmp(((const hub_file *)a)->path, ((const hub_file *)b)->path);
}

static bool hex64(const char *s) {
    if (strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

/* The GGUF files of the tree, sorted by path; skips directories, other files, projectors. */
static bb_status tree_files(const char *json, size_t len, hub_file **files, size_t *n,
                            bb_error *err) {
    *files = NULL;
    *n = 0;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        return bb_fail(err, BB_ERR_FORMAT, "the hub's file list is not a JSON array");
    }
    int total = cJSON_GetArraySize(root);
    if (total > MAX_FILES) total = MAX_FILES;
    hub_file *out = calloc(total > 0 ? (size_t)total : 1, sizeof *out);
    if (!out) {
        cJSON_Delete(root);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root) {
        if (k == (size_t)total) break;
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(it, "path");
        if (!cJSON_IsString(path) || (cJSON_IsString(type) && strcmp(type->valuestring, "file")))
            continue;
        const char *p = path->valuestring;
        if (!is_gguf(p) || is_projector(p) || strlen(p) >= sizeof out[k].path) continue;
        /* A path must not climb out of the repository or carry control bytes. */
        if (p[0] == '/' || strstr(p, "..") || strpbrk(p, "\\\r\n\t")) continue;
        hub_file *f = &out[k];
        memcpy(f->path, p, strlen(p) + 1);
        const cJSON *lfs = cJSON_GetObjectItemCaseSensitive(it, "lfs");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(lfs ? lfs : it, "size");
        if (!cJSON_IsNumber(size)) size = cJSON_GetObjectItemCaseSensitive(it, "size");
        f->size = cJSON_IsNumber(size) && size->valuedouble >= 0 && size->valuedouble < 1e18
                      ? (uint64_t)size->valuedouble
                      : 0;
        const cJSON *oid = cJSON_GetObjectItemCaseSensitive(lfs, "oid");
        if (cJSON_IsString(oid)) {
            const char *o = oid->valuestring;
            if (!strncmp(o, "sha256:", 7)) o += 7;
            if (hex64(o))
                for (int i = 0; i <= 64; i++)
                    f->sha256[i] = (char)tolower((unsigned char)o[i]);
        }
        k++;
    }
    cJSON_Delete(root);
    qsort(out, k, sizeof *out, by_path);
    *files = out;
    *n = k;
    return BB_OK;
}

/* Groups the sorted files into models. */
static size_t group_files(const hub_file *files, size_t n, model_group *groups) {
    size_t g = 0;
    for (size_t i = 0; i < n; i++) {
        int part, count;
        size_t stem;
        const char *p = files[i].path;
        if (!split_part(p, &part, &count, &stem)) {
            stem = strlen(p);
            count = 0;
        }
        if (stem >= sizeof groups[0].stem) stem = sizeof groups[0].stem - 1;
        if (g && groups[g - 1].parts == count && count && strlen(groups[g - 1].stem) == stem &&
            !strncmp(groups[g - 1].stem, p, stem)) {
            groups[g - 1].count++;
            continue;
        }
        memcpy(groups[g].stem, p, stem);
        groups[g].stem[stem] = 0;
        groups[g].first = i;
        groups[g].count = 1;
        groups[g].parts = count;
        g++;
    }
    return g;
}

/* Every distinct quantization of the groups, "Q4_K_M, Q8_0", for messages. */
static void list_quants(const hub_file *files, const model_group *groups, size_t ng, bb_strbuf *b) {
    char seen[64][32];
    size_t ns = 0;
    for (size_t i = 0; i < ng; i++) {
        char q[32];
        if (!hub_quant_of(files[groups[i].first].path, q, sizeof q)) continue;
        size_t j = 0;
        while (j < ns && strcmp(seen[j], q))
            j++;
        if (j < ns || ns == 64) continue;
        memcpy(seen[ns++], q, sizeof q);
        bb_strbuf_printf(b, "%s%s", ns > 1 ? ", " : "", q);
    }
    if (ns == 0) bb_strbuf_printf(b, "(none named)");
}

bb_status hub_pick_files(const char *tree_json, size_t len, const char *tag, hub_file **out,
                         size_t *n_out, bb_error *err) {
    *out = NULL;
    *n_out = 0;
    hub_file *files;
    size_t n;
    bb_status st = tree_files(tree_json, len, &files, &n, err);
    if (st != BB_OK) return st;
    if (n == 0) {
        free(files);
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the repository has no GGUF file");
    }
    model_group *groups = calloc(n, sizeof *groups);
    if (!groups) {
        free(files);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    size_t ng = group_files(files, n, groups);
    const char *want = tag && tag[0] ? tag : "Q4_K_M";
    size_t match[8], nm = 0;
    for (size_t i = 0; i < ng; i++)
        if (carries_tag(files[groups[i].first].path, want) && nm < 8) match[nm++] = i;
    if (nm == 0 && !(tag && tag[0]) && ng == 1) match[nm++] = 0; /* the only model */
    bb_strbuf b = {0};
    if (nm != 1) {
        if (nm == 0 && tag && tag[0]) {
            bb_strbuf_printf(&b,
                             "no GGUF file in the repository carries the tag %s; it has: ", tag);
            list_quants(files, groups, ng, &b);
        } else if (nm == 0) {
            bb_strbuf_printf(&b, "the repository has several models and no Q4_K_M: add a tag "
                                 "(:QUANT), one of ");
            list_quants(files, groups, ng, &b);
        } else {
            bb_strbuf_printf(&b, "the tag %s matches several models (", want);
            for (size_t i = 0; i < nm; i++)
                bb_strbuf_printf(&b, "%s%s", i ? ", " : "", files[groups[match[i]].first].path);
            bb_strbuf_printf(&b, "): name one as hf.co/OWNER/REPO/FILE.gguf");
        }
        char *msg = bb_strbuf_take(&b);
        st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s", msg ? msg : "no matching file");
        free(msg);
        free(groups);
        free(files);
        return st;
    }
    model_group *g = &groups[match[0]];
    if (g->parts && (size_t)g->parts != g->count) {
        st = bb_fail(err, BB_ERR_FORMAT,
                     "the split model %s has %zu of its %d parts in the repository", g->stem,
                     g->count, g->parts);
        free(groups);
        free(files);
        return st;
    }
    for (size_t i = 0; i < g->count; i++) {
        int part, count;
        size_t stem;
        if (g->parts &&
            (!split_part(files[g->first + i].path, &part, &count, &stem) || part != (int)i + 1)) {
            st = bb_fail(err, BB_ERR_FORMAT, "the split model %s misses part %zu", g->stem, i + 1);
            free(groups);
            free(files);
            return st;
        }
    }
    memmove(files, files + g->first, g->count * sizeof *files);
    *out = files;
    *n_out = g->count;
    free(groups);
    return BB_OK;
}
