/* `beanbag pull`: resolves a name to files, downloads each with libcurl into NAME.partial
 * (following redirects; resuming with an HTTP Range request, RFC 9110 §14, after a dropped
 * connection or an earlier interrupted pull), checks its SHA-256 against the hub's LFS
 * digest (the tree API's `lfs.oid`, or the `X-Linked-Etag` header Hugging Face's resolve
 * endpoint sends before redirecting to its file storage) and only then renames it to its
 * final name. The manifest is written last, so a model is in the store only when whole. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "hub/hub_internal.h"

#define TREE_MAX (32u << 20) /* the largest file list we read */
#define ERROR_BODY_MAX 2048

hub_pull_params hub_pull_default_params(void) {
    return (hub_pull_params){.endpoint = NULL, .token = NULL, .progress = -1, .retries = 5};
}

/* ---------------------------------------------------------------- one transfer */

typedef struct xfer {
    FILE *out;         /* the .partial file (NULL: into mem) */
    bb_strbuf mem;     /* a small document (the tree API) */
    uint64_t offset;   /* bytes already in the file when this attempt began */
    uint64_t written;  /* bytes written by this attempt */
    uint64_t limit;    /* the most bytes a body may have; 0: no limit */
    long status;       /* of the latest response header block */
    bool body_started; /* the first body byte was seen (the final response) */
    bool failed_write;
    bool over_limit;
    bb_strbuf errbody; /* the body of an error response (for its message) */
    char etag[96];     /* X-Linked-Etag, as sent */
    char next[1024];   /* a Link header's rel="next" URL (the tree API's next page) */
    hub_progress *prog;
    uint64_t prog_total;
} xfer;

static bool header_is(const char *line, size_t n, const char *name, const char **value) {
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) || line[k] != ':') return false;
    const char *v = line + k + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    *value = v;
    return true;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg) {
    xfer *x = arg;
    size_t len = size * n;
    if (len > 5 && !strncmp(buf, "HTTP/", 5)) {
        /* A new response (after a redirect): its status replaces the last one's. */
        const char *sp = memchr(buf, ' ', len);
        x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    const char *v;
    /* Link: <URL>; rel="next" (RFC 8288), how the hub pages long file lists. */
    if (header_is(buf, len, "Link", &v)) {
        char line[2048];
        size_t k =
            (size_t)(buf + len - v) < sizeof line ? (size_t)(buf + len - v) : sizeof line - 1;
        memcpy(line, v, k);
        line[k] = 0;
        char *lt = strchr(line, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (gt && strstr(gt, "rel=\"next\"") && (size_t)(gt - lt - 1) < sizeof x->next) {
            *gt = 0;
            snprintf(x->next, sizeof x->next, "%s", lt + 1);
        }
    }
    if (header_is(buf, len, "X-Linked-Etag", &v)) {
        size_t k = 0;
        while (v + k < buf + len && v[k] != '\r' && v[k] != '\n' && k + 1 < sizeof x->etag)
            k++;
        memcpy(x->etag, v, k);
        x->etag[k] = 0;
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg) {
    xfer *x = arg;
    size_t len = size * n;
    if (!x->body_started) {
        x->body_started = true;
        /* Asked for a range, got the whole file (200): start the file over. */
        if (x->out && x->status == 200 && x->offset > 0) {
            if (fflush(x->out) != 0 || ftruncate(fileno(x->out), 0) != 0 ||
                fseek(x->out, 0, SEEK_SET) != 0) {
                x->failed_write = true;
                return 0;
            }
            x->offset = 0;
        }
    }
    if (x->status != 200 && x->status != 206) {
        if (x->errbody.len < ERROR_BODY_MAX)
            bb_strbuf_append(&x->errbody, buf, len < ERROR_BODY_MAX ? len : ERROR_BODY_MAX);
        return len;
    }
    if (x->limit && (x->offset + x->written + len > x->limit)) {
        x->over_limit = true;
        return 0;
    }
    if (x->out) {
        if (fwrite(buf, 1, len, x->out) != len) {
            x->failed_write = true;
            return 0;
        }
    } else {
        bb_strbuf_append(&x->mem, buf, len);
        if (x->mem.failed) return 0;
    }
    x->written += len;
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
    xfer *x = arg;
    if (x->prog && (x->status == 200 || x->status == 206)) {
        if (!x->prog->total && dltotal > 0) x->prog->total = x->offset + (uint64_t)dltotal;
        hub_progress_update(x->prog, x->offset + (uint64_t)(dlnow > 0 ? dlnow : 0));
    }
    return 0;
}

/* The error a response status means, for a person. */
static bb_status status_error(const xfer *x, const char *url, bool have_token, bb_error *err) {
    char detail[300] = "";
    cJSON *j = x->errbody.data ? cJSON_ParseWithLength(x->errbody.data, x->errbody.len) : NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "error");
    if (cJSON_IsString(m))
        snprintf(detail, sizeof detail, " (the hub says: %.250s)", m->valuestring);
    cJSON_Delete(j);
    if (x->status == 401 || x->status == 403) {
        if (have_token)
            return bb_fail(err, BB_ERR_IO,
                           "%s answered %ld: HF_TOKEN was not accepted for it (no access to a "
                           "gated or private repository?)%s",
                           url, x->status, detail);
        return bb_fail(err, BB_ERR_IO,
                       "%s answered %ld: it needs a token (a gated or private repository): set "
                       "HF_TOKEN to a Hugging Face access token%s",
                       url, x->status, detail);
    }
    if (x->status == 404)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "%s: not found (404): check the repository and file name%s", url, detail);
    if (x->status == 416)
        return bb_fail(err, BB_ERR_IO, "%s refused the resume request (416)", url);
    return bb_fail(err, BB_ERR_IO, "%s answered HTTP %ld%s", url, x->status, detail);
}

static CURL *easy_new(const char *url, struct curl_slist *headers, xfer *x) {
    CURL *c = curl_easy_init();
    if (!c) return NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "beanbag/" BB_VERSION);
    /* libcurl sends a custom Authorization header only to the host the request began with,
     * so HF_TOKEN never reaches the storage host a resolve URL redirects to. */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A stalled transfer (under 1 byte/s for 60 s) ends, and is resumed like a dropped one. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    return c;
}

static struct curl_slist *auth_headers(const char *token) {
    if (!token || !token[0]) return NULL;
    char h[1100];
    snprintf(h, sizeof h, "Authorization: Bearer %.1000s", token);
    return curl_slist_append(NULL, h);
}

/* GET url into *out (malloc'd, NUL-terminated). */
static bb_status fetch_document(const char *url, const char *token, char **out, size_t *len,
                                char *next, size_t next_cap, bb_error *err) {
    xfer x = {.limit = TREE_MAX};
    struct curl_slist *h = auth_headers(token);
    CURL *c = easy_new(url, h, &x);
    if (!c) {
        curl_slist_free_all(h);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "cannot start a transfer");
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    bb_status st = BB_OK;
    if (x.over_limit)
        st = bb_fail(err, BB_ERR_FORMAT, "%s: the answer is over %u bytes", url, TREE_MAX);
    else if (rc != CURLE_OK)
        st = bb_fail(err, BB_ERR_IO, "%s: %s", url, curl_easy_strerror(rc));
    else if (x.status != 200)
        st = status_error(&x, url, token && token[0], err);
    bb_strbuf_release(&x.errbody);
    if (st != BB_OK) {
        bb_strbuf_release(&x.mem);
        return st;
    }
    snprintf(next, next_cap, "%s", x.next);
    *len = x.mem.len;
    *out = bb_strbuf_take(&x.mem);
    if (!*out) *out = calloc(1, 1);
    return *out ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
}

static bool retryable(CURLcode rc) {
    return rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
           rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING || rc == CURLE_COULDNT_CONNECT;
}

/* "W/\"<hex>\"" -> the 64 lowercase hex digits of a SHA-256, or "" when it is no SHA-256
 * (a plain git blob's ETag is a 40-digit SHA-1). */
static void etag_sha256(const char *etag, char out[65]) {
    out[0] = 0;
    if (!strncmp(etag, "W/", 2)) etag += 2;
    if (*etag == '"') etag++;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)etag[i])) return;
    if (isxdigit((unsigned char)etag[64])) return;
    for (int i = 0; i < 64; i++)
        out[i] = (char)tolower((unsigned char)etag[i]);
    out[64] = 0;
}

static bb_status hash_file(const char *path, char hex[65], uint64_t *size, bb_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return bb_fail(err, BB_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    hub_sha256 *h = hub_sha256_new();
    char *buf = malloc(1 << 20);
    if (!h || !buf) {
        fclose(f);
        free(buf);
        if (h) hub_sha256_final(h, hex);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    size_t n;
    *size = 0;
    while ((n = fread(buf, 1, 1 << 20, f)) > 0) {
        hub_sha256_update(h, buf, n);
        *size += n;
    }
    bool bad = ferror(f);
    fclose(f);
    free(buf);
    hub_sha256_final(h, hex);
    return bad ? bb_fail(err, BB_ERR_IO, "cannot read %s", path) : BB_OK;
}

/* Downloads url to final (through final.partial), checking the digest; fills f->sha256 and
 * f->size with what was verified. */
static bb_status fetch_file(const char *url, const char *token, const char *final, hub_file *f,
                            const hub_pull_params *p, const char *label, bb_error *err) {
    char partial[4800];
    snprintf(partial, sizeof partial, "%s.partial", final);
    int fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return bb_fail(err, BB_ERR_IO, "cannot create %s: %s", partial, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return bb_fail(err, BB_ERR_IO, "another pull is writing %s", partial);
    }
    FILE *out = fdopen(fd, "r+b");
    if (!out) {
        close(fd);
        return bb_fail(err, BB_ERR_IO, "cannot open %s", partial);
    }
    struct curl_slist *h = auth_headers(token);
    char etag[96] = "";
    bb_status st = BB_OK;
    hub_progress prog;
    bool prog_on = false;
    for (int attempt = 0;; attempt++) {
        struct stat sb;
        uint64_t have = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        if (f->size && have > f->size) have = 0; /* not a prefix of this file: start over */
        if (ftruncate(fd, (off_t)have) != 0 || fseek(out, (long)have, SEEK_SET) != 0) {
            st = bb_fail(err, BB_ERR_IO, "cannot write %s: %s", partial, strerror(errno));
            break;
        }
        if (f->size && have == f->size) break; /* complete already: verify it */
        xfer x = {.out = out, .offset = have, .limit = f->size, .prog = prog_on ? &prog : NULL};
        if (!prog_on) {
            hub_progress_begin(&prog, p->progress, label, f->size, have);
            prog_on = true;
            x.prog = &prog;
        } else if (p->progress == 0) {
            char s[32];
            snprintf(s, sizeof s, "%.1f MB", (double)have / 1e6);
            fprintf(stderr, "%s: the connection dropped; resuming at %s\n", label, s);
        }
        CURL *c = easy_new(url, h, &x);
        if (!c) {
            st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "cannot start a transfer");
            break;
        }
        char range[48];
        if (have) {
            snprintf(range, sizeof range, "%llu-", (unsigned long long)have);
            curl_easy_setopt(c, CURLOPT_RANGE, range);
        }
        CURLcode rc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        fflush(out);
        if (x.etag[0]) memcpy(etag, x.etag, sizeof etag);
        bool http_ok = x.status == 200 || x.status == 206;
        bb_strbuf_release(&x.errbody);
        if (x.failed_write) {
            st = bb_fail(err, BB_ERR_IO, "cannot write %s (disk full?)", partial);
            break;
        }
        if (x.over_limit) {
            st = bb_fail(err, BB_ERR_FORMAT, "%s sent more than the %llu bytes the hub lists", url,
                         (unsigned long long)f->size);
            break;
        }
        if (rc == CURLE_OK && x.status == 416 && have && !f->size) break; /* whole already */
        if (rc == CURLE_OK && !http_ok) {
            st = status_error(&x, url, token && token[0], err);
            break;
        }
        if (rc == CURLE_OK) break;
        if (!retryable(rc) || attempt >= p->retries) {
            st = bb_fail(err, BB_ERR_IO, "%s: %s (%s kept: run pull again to resume)", url,
                         curl_easy_strerror(rc), partial);
            fclose(out);
            curl_slist_free_all(h);
            if (prog_on) hub_progress_end(&prog, false);
            return st;
        }
        if (p->progress == 1) fputc('\n', stderr);
        usleep(200 * 1000 * (useconds_t)(attempt + 1));
    }
    curl_slist_free_all(h);
    if (prog_on) hub_progress_end(&prog, st == BB_OK);
    fclose(out); /* releases the lock */
    if (st != BB_OK) {
        struct stat sb;
        if (stat(partial, &sb) == 0 && sb.st_size == 0) unlink(partial); /* nothing to resume */
        return st;
    }
    char want[65], got[65];
    memcpy(want, f->sha256, sizeof want);
    if (!want[0]) etag_sha256(etag, want);
    uint64_t size = 0;
    st = hash_file(partial, got, &size, err);
    if (st != BB_OK) return st;
    if (f->size && size != f->size) {
        unlink(partial);
        return bb_fail(err, BB_ERR_FORMAT, "%s: got %llu bytes, the hub lists %llu; removed it",
                       label, (unsigned long long)size, (unsigned long long)f->size);
    }
    if (want[0] && strcmp(want, got)) {
        unlink(partial);
        return bb_fail(err, BB_ERR_FORMAT,
                       "%s is corrupt: SHA-256 expected %s, got %s (removed it; pull again)", label,
                       want, got);
    }
    if (!want[0] && p->progress >= 0)
        fprintf(stderr, "%s: the server gave no SHA-256 to check against (sha256 %s)\n", label,
                got);
    if (rename(partial, final) != 0)
        return bb_fail(err, BB_ERR_IO, "cannot rename %s: %s", partial, strerror(errno));
    memcpy(f->sha256, got, sizeof got);
    f->size = size;
    return BB_OK;
}

/* ---------------------------------------------------------------- the pull */

#define TREE_PAGES_MAX 100

/* The repository's file list, every page of it joined into one JSON array. */
static bb_status fetch_tree(const char *endpoint, const char *repo, const char *token, char **out,
                            size_t *len, bb_error *err) {
    char url[1024], next[1024];
    snprintf(url, sizeof url, "%s/api/models/%s/tree/main?recursive=true", endpoint, repo);
    cJSON *all = cJSON_CreateArray();
    if (!all) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    bb_status st = BB_OK;
    for (int page = 0; st == BB_OK; page++) {
        char *doc = NULL;
        size_t n = 0;
        st = fetch_document(url, token, &doc, &n, next, sizeof next, err);
        if (st != BB_OK) break;
        cJSON *arr = cJSON_ParseWithLength(doc, n);
        free(doc);
        if (!cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            st = bb_fail(err, BB_ERR_FORMAT, "%s: the file list is not a JSON array", url);
            break;
        }
        while (cJSON_GetArraySize(arr) > 0)
            cJSON_AddItemToArray(all, cJSON_DetachItemFromArray(arr, 0));
        cJSON_Delete(arr);
        /* Follow only pages of the same hub, and not forever. */
        if (!next[0] || strncmp(next, endpoint, strlen(endpoint))) break;
        if (page + 1 == TREE_PAGES_MAX) {
            st = bb_fail(err, BB_ERR_FORMAT, "%s: more than %d pages of files", repo,
                         TREE_PAGES_MAX);
            break;
        }
        memcpy(url, next, sizeof url);
    }
    char *text = st == BB_OK ? cJSON_PrintUnformatted(all) : NULL;
    cJSON_Delete(all);
    if (st != BB_OK) return st;
    if (!text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    *out = text;
    *len = strlen(text);
    return BB_OK;
}

/* Percent-encodes a repository path for a URL (RFC 3986 unreserved characters and '/'). */
static void url_path(const char *path, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *s = (const unsigned char *)path; *s && o + 4 < cap; s++) {
        if (isalnum(*s) || strchr("-._~/", *s)) {
            out[o++] = (char)*s;
        } else {
            out[o++] = '%';
            out[o++] = hex[*s >> 4];
            out[o++] = hex[*s & 15];
        }
    }
    out[o] = 0;
}

static bool is_gguf_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    bool ok = f && fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    if (f) fclose(f);
    return ok;
}

bb_status hub_pull(const char *name, const hub_pull_params *p, hub_entry *out, bb_error *err) {
    hub_ref ref;
    bb_status st = hub_ref_parse(name, &ref, err);
    if (st != BB_OK) return st;
    bool found = false;
    st = hub_store_find(ref.name, out, &found, err);
    if (st != BB_OK || found) return st;

    char endpoint[512];
    const char *ep = p->endpoint ? p->endpoint : getenv("HF_ENDPOINT");
    snprintf(endpoint, sizeof endpoint, "%s", ep && ep[0] ? ep : "https://huggingface.co");
    for (size_t n = strlen(endpoint); n > 0 && endpoint[n - 1] == '/'; n--)
        endpoint[n - 1] = 0;
    const char *token = p->token ? p->token : getenv("HF_TOKEN");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return bb_fail(err, BB_ERR_INTERNAL, "cannot initialize libcurl");

    hub_file *files = NULL;
    size_t n = 0;
    if (ref.kind == HUB_REF_REPO) {
        char *tree = NULL;
        size_t len = 0;
        st = fetch_tree(endpoint, ref.repo, token, &tree, &len, err);
        if (st == BB_OK) {
            bb_error e2 = {0};
            st = hub_pick_files(tree, len, ref.tag, &files, &n, &e2);
            if (st != BB_OK) bb_fail(err, st, "hf.co/%s: %s", ref.repo, e2.message);
        }
        free(tree);
    } else {
        files = calloc(1, sizeof *files);
        if (!files)
            st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
        else if (ref.kind == HUB_REF_FILE)
            snprintf(files[0].path, sizeof files[0].path, "%s", ref.file);
        else {
            const char *end = ref.url + strcspn(ref.url, "?#"), *b = end;
            while (b > ref.url && b[-1] != '/')
                b--;
            snprintf(files[0].path, sizeof files[0].path, "%.*s", (int)(end - b), b);
        }
        n = 1;
    }
    char dir[4096];
    if (st == BB_OK) st = hub_model_dir(ref.name, dir, sizeof dir, err);
    if (st == BB_OK) st = hub_mkdirs(dir, err);
    char(*local)[512] = st == BB_OK ? calloc(n, sizeof *local) : NULL;
    if (st == BB_OK && !local) st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; st == BB_OK && i < n; i++) {
        const char *base = strrchr(files[i].path, '/');
        base = base ? base + 1 : files[i].path;
        if (!hub_escape_name(base, local[i], sizeof local[i])) {
            st = bb_fail(err, BB_ERR_FORMAT, "bad file name '%s'", files[i].path);
            break;
        }
        char url[2600], enc[1600], final[4700];
        if (ref.kind == HUB_REF_URL) {
            snprintf(url, sizeof url, "%s", ref.url);
        } else {
            url_path(files[i].path, enc, sizeof enc);
            snprintf(url, sizeof url, "%s/%s/resolve/main/%s", endpoint, ref.repo, enc);
        }
        snprintf(final, sizeof final, "%s/%s", dir, local[i]);
        st = fetch_file(url, token, final, &files[i], p, base, err);
    }
    if (st == BB_OK) {
        char first[4700];
        snprintf(first, sizeof first, "%s/%s", dir, local[0]);
        if (!is_gguf_file(first)) {
            for (size_t i = 0; i < n; i++) {
                snprintf(first, sizeof first, "%s/%s", dir, local[i]);
                unlink(first);
            }
            st = bb_fail(err, BB_ERR_FORMAT, "%s is not a GGUF file (removed it)", files[0].path);
        }
    }
    if (st == BB_OK)
        st = hub_store_commit(ref.name, ref.kind == HUB_REF_URL ? ref.url : ref.repo, files,
                              (const char(*)[512])local, n, err);
    free(local);
    free(files);
    curl_global_cleanup();
    if (st != BB_OK) return st;
    st = hub_store_find(ref.name, out, &found, err);
    if (st == BB_OK && !found) st = bb_fail(err, BB_ERR_INTERNAL, "the pulled model vanished");
    return st;
}
