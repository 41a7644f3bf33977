/* The model store: one directory per pulled model, named by the escaped model name, holding
 * the verified GGUF file(s) and manifest.json ({"name", "source", "files": [{"file", "size",
 * "sha256"}], "pulled"}). The mtime of the empty file `last_used` beside it is the model's
 * last use. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "common/error.h"
#include "hub/hub_internal.h"

#define MANIFEST_MAX (1 << 20)

bb_status hub_store_dir(char *out, size_t cap, bb_error *err) {
    const char *env = getenv("BEANBAG_MODELS");
    int n;
    if (env && env[0]) {
        n = snprintf(out, cap, "%s", env);
    } else {
        const char *xdg = getenv("XDG_CACHE_HOME");
        const char *home = getenv("HOME");
        if (xdg && xdg[0])
            n = snprintf(out, cap, "%s/beanbag/models", xdg);
        else if (home && home[0])
            n = snprintf(out, cap, "%s/.cache/beanbag/models", home);
        else
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "no model store: set BEANBAG_MODELS (or HOME)");
    }
    if (n < 0 || (size_t)n >= cap)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the model store's path is too long");
    return BB_OK;
}

bb_status hub_mkdirs(const char *path, bb_error *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "path too long");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return bb_fail(err, BB_ERR_IO, "cannot create %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    return BB_OK;
}

/* The canonical name of what a person typed: hub names as hub_ref_parse writes them. */
static void canonical(const char *name, char *out, size_t cap) {
    hub_ref ref;
    if (hub_is_remote(name) && hub_ref_parse(name, &ref, NULL) == BB_OK)
        snprintf(out, cap, "%s", ref.name);
    else
        snprintf(out, cap, "%s", name);
}

bb_status hub_model_dir(const char *name, char *out, size_t cap, bb_error *err) {
    char store[4096 - 1100], esc[1100];
    bb_status st = hub_store_dir(store, sizeof store, err);
    if (st != BB_OK) return st;
    if (!hub_escape_name(name, esc, sizeof esc))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the model name is too long or empty");
    int n = snprintf(out, cap, "%s/%s", store, esc);
    if (n < 0 || (size_t)n >= cap)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the model's path is too long");
    return BB_OK;
}

static char *read_small(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(MANIFEST_MAX + 1);
    size_t n = buf ? fread(buf, 1, MANIFEST_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > MANIFEST_MAX) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Reads dir/manifest.json into e; false (with err) when it is missing or broken. */
static bool read_entry(const char *dir, hub_entry *e, bb_error *err) {
    memset(e, 0, sizeof *e);
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    size_t len = 0;
    char *text = read_small(path, &len);
    if (!text) {
        bb_fail(err, BB_ERR_IO, "cannot read %s", path);
        return false;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(root, "files");
    const cJSON *pulled = cJSON_GetObjectItemCaseSensitive(root, "pulled");
    bool ok = cJSON_IsString(name) && cJSON_IsArray(files) && cJSON_GetArraySize(files) > 0 &&
              strlen(name->valuestring) < sizeof e->name;
    const cJSON *f;
    const cJSON *list = ok ? files : NULL;
    cJSON_ArrayForEach(f, list) {
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(f, "file");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(f, "size");
        /* The file names were escaped when written: no separators, no "..". */
        if (!cJSON_IsString(file) || strchr(file->valuestring, '/') ||
            file->valuestring[0] == '.' || !cJSON_IsNumber(size)) {
            ok = false;
            break;
        }
        if (e->n_files++ == 0) snprintf(e->path, sizeof e->path, "%s/%s", dir, file->valuestring);
        e->size += (uint64_t)(size->valuedouble > 0 ? size->valuedouble : 0);
    }
    if (ok) {
        snprintf(e->name, sizeof e->name, "%s", name->valuestring);
        e->pulled = cJSON_IsNumber(pulled) ? (int64_t)pulled->valuedouble : 0;
        struct stat st;
        snprintf(path, sizeof path, "%s/last_used", dir);
        e->last_used = stat(path, &st) == 0 ? (int64_t)st.st_mtime : 0;
    } else {
        bb_fail(err, BB_ERR_FORMAT, "%s/manifest.json is not a beanbag manifest", dir);
    }
    cJSON_Delete(root);
    return ok;
}

bb_status hub_store_find(const char *name, hub_entry *out, bool *found, bb_error *err) {
    *found = false;
    char canon[1024], dir[4096];
    canonical(name, canon, sizeof canon);
    bb_status st = hub_model_dir(canon, dir, sizeof dir, err);
    if (st != BB_OK) return st;
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    if (access(path, F_OK) != 0) return BB_OK;
    if (!read_entry(dir, out, err)) return err ? err->code : BB_ERR_FORMAT;
    *found = true;
    return BB_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const hub_entry *)a)->name, ((const hub_entry *)b)->name);
}

bb_status hub_store_list(hub_entry **entries, size_t *n, bb_error *err) {
    *entries = NULL;
    *n = 0;
    char store[4096];
    bb_status st = hub_store_dir(store, sizeof store - 1200, err);
    if (st != BB_OK) return st;
    DIR *d = opendir(store);
    if (!d) return errno == ENOENT ? BB_OK : bb_fail(err, BB_ERR_IO, "cannot read %s", store);
    size_t cap = 0;
    hub_entry *out = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char dir[4400];
        snprintf(dir, sizeof dir, "%s/%.255s", store, de->d_name);
        hub_entry e;
        if (!read_entry(dir, &e, NULL)) continue; /* a pull under way, or not ours */
        if (*n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            hub_entry *grown = realloc(out, nc * sizeof *out);
            if (!grown) {
                closedir(d);
                free(out);
                return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
            }
            out = grown;
            cap = nc;
        }
        out[(*n)++] = e;
    }
    closedir(d);
    if (*n) qsort(out, *n, sizeof *out, by_name);
    *entries = out;
    return BB_OK;
}

bb_status hub_store_remove(const char *name, bb_error *err) {
    char canon[1024], dir[4096];
    canonical(name, canon, sizeof canon);
    bb_status st = hub_model_dir(canon, dir, sizeof dir, err);
    if (st != BB_OK) return st;
    DIR *d = opendir(dir);
    if (!d) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "no model '%s' in the store", canon);
    /* The manifest goes first: from then on the model is gone even if a file stays. */
    char path[4400];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    bool had = unlink(path) == 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%.255s", dir, de->d_name);
        if (unlink(path) != 0) {
            closedir(d);
            return bb_fail(err, BB_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        }
    }
    closedir(d);
    if (rmdir(dir) != 0)
        return bb_fail(err, BB_ERR_IO, "cannot remove %s: %s", dir, strerror(errno));
    if (!had) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "no model '%s' in the store", canon);
    return BB_OK;
}

void hub_store_touch(const char *name) {
    char canon[1024], dir[4096], path[4200];
    canonical(name, canon, sizeof canon);
    if (hub_model_dir(canon, dir, sizeof dir, NULL) != BB_OK) return;
    snprintf(path, sizeof path, "%s/last_used", dir);
    FILE *f = fopen(path, "ab");
    if (f) fclose(f);
    utime(path, NULL);
}

bb_status hub_store_commit(const char *name, const char *source, const hub_file *files,
                           const char (*local)[512], size_t n, bb_error *err) {
    char dir[4096];
    bb_status st = hub_model_dir(name, dir, sizeof dir, err);
    if (st != BB_OK) return st;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", name);
    cJSON_AddStringToObject(root, "source", source);
    cJSON *arr = cJSON_AddArrayToObject(root, "files");
    for (size_t i = 0; i < n; i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "file", local[i]);
        cJSON_AddStringToObject(f, "path", files[i].path);
        cJSON_AddNumberToObject(f, "size", (double)files[i].size);
        cJSON_AddStringToObject(f, "sha256", files[i].sha256);
        cJSON_AddItemToArray(arr, f);
    }
    cJSON_AddNumberToObject(root, "pulled", (double)time(NULL));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/manifest.json.tmp", dir);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(tmp, "wb");
    bool ok = f && fwrite(text, 1, strlen(text), f) == strlen(text);
    ok = (f && fclose(f) == 0) && ok;
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return bb_fail(err, BB_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    return BB_OK;
}
