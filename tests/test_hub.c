/* Hub and model store tests: model names, quantization tags and split files picked from a
 * tree listing, SHA-256, then `beanbag pull` / `list` / `rm` and `-m NAME` against a fake hub
 * (tests/hub/fakehub.mjs, node): a resolve URL that redirects, LFS digest headers, Range; a
 * transfer dropped half-way (resumed and verified), a corrupted file (refused, naming both
 * digests, nothing under the final name), a leftover .partial from an earlier pull, 401
 * without a token, 404 for a wrong file, a tag the repository does not have. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "fixture_model.h"
#include "hub/hub.h"
#include "server_client.h"
#include "testutil.h"

/* ---------------------------------------------------------------- unit tests */

static void test_refs(void) {
    hub_ref r;
    CHECK(hub_ref_parse("hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF:q4_k_m", &r, NULL) == BB_OK);
    CHECK(r.kind == HUB_REF_REPO && !strcmp(r.repo, "Qwen/Qwen2.5-0.5B-Instruct-GGUF"));
    CHECK(!strcmp(r.tag, "Q4_K_M"));
    CHECK(!strcmp(r.name, "hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"));
    CHECK(hub_ref_parse("huggingface.co/a/b", &r, NULL) == BB_OK && !strcmp(r.name, "hf.co/a/b"));
    CHECK(hub_ref_parse("hf.co/a/b:latest", &r, NULL) == BB_OK && !r.tag[0]);
    CHECK(hub_ref_parse("hf.co/a/b/sub/m-Q8_0.gguf", &r, NULL) == BB_OK);
    CHECK(r.kind == HUB_REF_FILE && !strcmp(r.file, "sub/m-Q8_0.gguf"));
    CHECK(hub_ref_parse("https://example.com/x/y.gguf?download=1", &r, NULL) == BB_OK);
    CHECK(r.kind == HUB_REF_URL);
    bb_error err = {0};
    const char *bad[] = {"hf.co/a",          "hf.co/../b:Q4",  "hf.co/a/b/../../etc.gguf",
                         "hf.co/a/b/x.bin",  "hf.co/a/b:",     "hf.co/a/b:Q4 K",
                         "https://",         "https://h/dir/", "model.gguf",
                         "http://h/a b.gguf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECKF(hub_ref_parse(bad[i], &r, &err) != BB_OK && err.message[0], "accepted %s", bad[i]);
    CHECK(hub_is_remote("hf.co/a/b") && hub_is_remote("HTTPS://x/y") && !hub_is_remote("a.gguf"));

    char esc[256], back[256];
    CHECK(hub_escape_name("hf.co/a/b:Q4_K_M", esc, sizeof esc));
    CHECK(!strcmp(esc, "hf.co%2Fa%2Fb%3AQ4_K_M"));
    CHECK(hub_unescape_name(esc, back, sizeof back) && !strcmp(back, "hf.co/a/b:Q4_K_M"));
    CHECK(hub_escape_name("..", esc, sizeof esc) && esc[0] == '%');
    CHECK(!hub_unescape_name("a%2", back, sizeof back) && !hub_unescape_name("%00", back, 8));
}

static void test_quant_names(void) {
    char q[32];
    CHECK(hub_quant_of("qwen2.5-0.5b-instruct-q4_k_m.gguf", q, sizeof q) && !strcmp(q, "Q4_K_M"));
    CHECK(hub_quant_of("Llama-3-8B.IQ2_XXS.gguf", q, sizeof q) && !strcmp(q, "IQ2_XXS"));
    CHECK(hub_quant_of("model-bf16-00001-of-00002.gguf", q, sizeof q) && !strcmp(q, "BF16"));
    CHECK(hub_quant_of("dir-Q8_0/Qwen2-7B-f16.gguf", q, sizeof q) && !strcmp(q, "F16"));
    CHECK(!hub_quant_of("qwen2.gguf", q, sizeof q));
}

/* A tree listing of paths with made-up sizes and digests. */
static char *tree_of(const char *const *paths, size_t n) {
    cJSON *arr = cJSON_CreateArray();
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "type", "directory");
    cJSON_AddStringToObject(d, "path", "sub");
    cJSON_AddItemToArray(arr, d);
    for (size_t i = 0; i < n; i++) {
        cJSON *f = cJSON_CreateObject(), *lfs = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "type", "file");
        cJSON_AddStringToObject(f, "path", paths[i]);
        cJSON_AddNumberToObject(f, "size", 134);
        char oid[65];
        for (int k = 0; k < 64; k++)
            oid[k] = "0123456789abcdef"[(i + (size_t)k) & 15];
        oid[64] = 0;
        cJSON_AddStringToObject(lfs, "oid", oid);
        cJSON_AddNumberToObject(lfs, "size", 1000.0 + (double)i);
        cJSON_AddItemToObject(f, "lfs", lfs);
        cJSON_AddItemToArray(arr, f);
    }
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    return s;
}

/* Picks from paths with tag; returns the chosen paths joined by ' ', or "ERR: message". */
static char *pick(const char *const *paths, size_t n, const char *tag) {
    char *tree = tree_of(paths, n);
    hub_file *files = NULL;
    size_t k = 0;
    bb_error err = {0};
    bb_strbuf b = {0};
    if (hub_pick_files(tree, strlen(tree), tag, &files, &k, &err) != BB_OK)
        bb_strbuf_printf(&b, "ERR: %s", err.message);
    for (size_t i = 0; i < k; i++) {
        bb_strbuf_printf(&b, "%s%s", i ? " " : "", files[i].path);
        CHECK(files[i].size >= 1000 && strlen(files[i].sha256) == 64);
    }
    free(files);
    free(tree);
    return bb_strbuf_take(&b);
}

#define PICK_IS(paths, tag, want)                                                                  \
    do {                                                                                           \
        char *got_ = pick(paths, sizeof paths / sizeof paths[0], tag);                             \
        CHECKF(got_ && !strcmp(got_, want), "tag %s: got '%s', want '%s'", tag ? tag : "(none)",   \
               got_ ? got_ : "(null)", want);                                                      \
        free(got_);                                                                                \
    } while (0)

#define PICK_FAILS(paths, tag, needle)                                                             \
    do {                                                                                           \
        char *got_ = pick(paths, sizeof paths / sizeof paths[0], tag);                             \
        CHECKF(got_ && !strncmp(got_, "ERR: ", 5) && strstr(got_, needle),                         \
               "tag %s: got '%s', want an error with '%s'", tag ? tag : "(none)",                  \
               got_ ? got_ : "(null)", needle);                                                    \
        free(got_);                                                                                \
    } while (0)

static void test_pick(void) {
    const char *repo[] = {"README.md",
                          "m-Q4_K.gguf",
                          "m-Q4_K_M.gguf",
                          "m-Q8_0.gguf",
                          "mmproj-m-f16.gguf",
                          "m-f16.gguf",
                          "BF16/m-BF16-00002-of-00003.gguf",
                          "BF16/m-BF16-00001-of-00003.gguf",
                          "BF16/m-BF16-00003-of-00003.gguf"};
    PICK_IS(repo, "Q4_K_M", "m-Q4_K_M.gguf");
    PICK_IS(repo, "q4_k_m", "m-Q4_K_M.gguf");
    PICK_IS(repo, "Q4_K", "m-Q4_K.gguf"); /* not Q4_K_M */
    PICK_IS(repo, "F16", "m-f16.gguf");   /* not BF16, not the projector */
    PICK_IS(repo, NULL, "m-Q4_K_M.gguf"); /* the default */
    PICK_IS(repo, "BF16",
            "BF16/m-BF16-00001-of-00003.gguf BF16/m-BF16-00002-of-00003.gguf "
            "BF16/m-BF16-00003-of-00003.gguf");
    PICK_FAILS(repo, "Q5_K_M", "BF16, Q4_K, Q4_K_M, Q8_0, F16");
    const char *one[] = {"only-Q6_K.gguf", "notes.txt"};
    PICK_IS(one, NULL, "only-Q6_K.gguf");
    const char *two[] = {"a-Q6_K.gguf", "b-Q8_0.gguf"};
    PICK_FAILS(two, NULL, "add a tag");
    const char *dup[] = {"a-Q8_0.gguf", "b-Q8_0.gguf"};
    PICK_FAILS(dup, "Q8_0", "matches several");
    const char *holes[] = {"m-Q2_K-00001-of-00003.gguf", "m-Q2_K-00003-of-00003.gguf"};
    PICK_FAILS(holes, "Q2_K", "2 of its 3 parts");
    const char *none[] = {"README.md"};
    PICK_FAILS(none, NULL, "no GGUF");
    hub_file *files = NULL;
    size_t k = 0;
    bb_error err = {0};
    CHECK(hub_pick_files("{\"not\": \"a list\"}", 16, NULL, &files, &k, &err) != BB_OK);
    CHECK(hub_pick_files("[{\"path\": \"../../x-Q4_0.gguf\", \"type\": \"file\"}]", 45, NULL,
                         &files, &k, &err) != BB_OK);
}

static void test_sha256(void) {
    struct {
        const char *in, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        hub_sha256 *h = hub_sha256_new();
        char hex[65];
        /* In two pieces: the digest must not depend on how the data arrives. */
        size_t n = strlen(v[i].in);
        hub_sha256_update(h, v[i].in, n / 2);
        hub_sha256_update(h, v[i].in + n / 2, n - n / 2);
        hub_sha256_final(h, hex);
        CHECKF(!strcmp(hex, v[i].hex), "sha256(%s) = %s", v[i].in, hex);
    }
}

/* ---------------------------------------------------------------- against the fake hub */

static char g_root[200], g_store[260];
static int g_port;

/* Runs a shell command (environment prefix included) and returns its stdout + stderr. */
static char *run(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *run(int *status, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[4800];
    snprintf(full, sizeof full,
             "export BEANBAG_MODELS='%s' HF_ENDPOINT=http://127.0.0.1:%d; (%s) 2>&1", g_store,
             g_port, cmd);
    FILE *p = popen(full, "r");
    bb_strbuf b = {0};
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0)
        bb_strbuf_append(&b, buf, n);
    int rc = p ? pclose(p) : -1;
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    char *out = bb_strbuf_take(&b);
    return out ? out : strdup("");
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static char *hub_log(void) {
    sc_resp r;
    char *out = NULL;
    if (sc_request(g_port, "GET", "/_log", NULL, &r) && r.status == 200) out = strdup(r.body);
    sc_resp_free(&r);
    return out ? out : strdup("");
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECKF(f && fwrite(data, 1, n, f) == n, "cannot write %s", path);
    if (f) fclose(f);
}

/* Writes the model at path as a split model in two parts, as llama.cpp's gguf-split does:
 * ROOT/test/repo/split/tiny-Q2_K-0000k-of-00002.gguf, the metadata in the first. */
static bool write_split(const char *path, const char *root) {
    gguf_file *f = NULL;
    if (gguf_open(path, &f, NULL) != BB_OK) return false;
    gguf_writer *w[2] = {gguf_writer_new(), gguf_writer_new()};
    bool ok = w[0] && w[1];
    int64_t n = gguf_n_tensors(f);
    for (int64_t i = 0; ok && i < gguf_n_kv(f); i++)
        ok = gguf_writer_copy_kv(w[0], f, i) == BB_OK;
    for (int k = 0; ok && k < 2; k++)
        ok = gguf_writer_set_u32(w[k], "split.no", (uint32_t)k) == BB_OK &&
             gguf_writer_set_u32(w[k], "split.count", 2) == BB_OK &&
             gguf_writer_set_i32(w[k], "split.tensors.count", (int32_t)n) == BB_OK;
    for (int64_t i = 0; ok && i < n; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        ok = gguf_writer_add_tensor(w[i < n / 2 ? 0 : 1], t->name, t->type, t->n_dims, t->ne,
                                    t->data, t->size, NULL) == BB_OK;
    }
    for (int k = 0; ok && k < 2; k++) {
        char p[512];
        snprintf(p, sizeof p, "%s/test/repo/split/tiny-Q2_K-%05d-of-00002.gguf", root, k + 1);
        ok = gguf_writer_write(w[k], p, NULL) == BB_OK;
    }
    gguf_writer_free(w[0]);
    gguf_writer_free(w[1]);
    gguf_close(f);
    return ok;
}

/* Opening a split model: the first part brings the rest; a later part alone, or a missing
 * part, is a clear error. */
static void test_split_open(void) {
    char p[512];
    gguf_file *f = NULL, *one = NULL;
    bb_error err = {0};
    snprintf(p, sizeof p, "%s/test/repo/split/tiny-Q2_K-00001-of-00002.gguf", g_root);
    CHECKF(gguf_open(p, &f, &err) == BB_OK, "split open: %s", err.message);
    snprintf(p, sizeof p, "%s/test/repo/tiny-Q4_K_M.gguf", g_root);
    CHECK(gguf_open(p, &one, NULL) == BB_OK);
    if (f && one) {
        CHECK(gguf_n_tensors(f) == gguf_n_tensors(one) && gguf_n_tensors(f) > 2);
        for (int64_t i = 0; i < gguf_n_tensors(one); i++) {
            const gguf_tensor *a = gguf_tensor_at(one, i), *b = gguf_find_tensor(f, a->name);
            CHECKF(b && b->size == a->size && !memcmp(a->data, b->data, a->size),
                   "tensor %s differs in the split model", a->name);
        }
    }
    gguf_close(f);
    gguf_close(one);
    snprintf(p, sizeof p, "%s/test/repo/split/tiny-Q2_K-00002-of-00002.gguf", g_root);
    CHECK(gguf_open(p, &f, &err) != BB_OK && strstr(err.message, "open its first part"));
    char moved[520];
    snprintf(moved, sizeof moved, "%s.away", p);
    CHECK(rename(p, moved) == 0);
    snprintf(p, sizeof p, "%s/test/repo/split/tiny-Q2_K-00001-of-00002.gguf", g_root);
    CHECK(gguf_open(p, &f, &err) != BB_OK && strstr(err.message, "00002-of-00002.gguf"));
    snprintf(p, sizeof p, "%s/test/repo/split/tiny-Q2_K-00002-of-00002.gguf", g_root);
    CHECK(rename(moved, p) == 0);
}

/* The fake hub's repositories: test/repo with a fixture model under three quantization
 * names (one split in two), gated/repo needing a token. */
static bool make_repos(const char *bin) {
    char path[512], cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/test/repo/split' '%s/gated/repo' '%s/plain'", g_root,
             g_root, g_root);
    if (system(cmd) != 0) return false;
    fixture_model_params fp = fixture_model_default();
    bb_error err = {0};
    snprintf(path, sizeof path, "%s/test/repo/tiny-Q4_K_M.gguf", g_root);
    if (fixture_model_write(&fp, path, &err) != BB_OK) return false;
    size_t len = 0;
    char *data = tu_read_file(path, &len);
    if (!data) return false;
    snprintf(path, sizeof path, "%s/test/repo/tiny-Q8_0.gguf", g_root);
    write_file(path, data, len);
    snprintf(path, sizeof path, "%s/test/repo/tiny-Q4_K_M.gguf", g_root);
    if (!write_split(path, g_root)) return false;
    snprintf(path, sizeof path, "%s/test/repo/tiny-F16.gguf", g_root);
    write_file(path, data, len);
    snprintf(path, sizeof path, "%s/gated/repo/tiny-Q4_K_M.gguf", g_root);
    write_file(path, data, len);
    snprintf(path, sizeof path, "%s/plain/tiny.gguf", g_root);
    write_file(path, data, len);
    snprintf(path, sizeof path, "%s/plain/notgguf.gguf", g_root);
    write_file(path, "hello, not a model", 18);
    free(data);
    const char *faults =
        "{\"tiny-Q4_K_M.gguf\": \"drop-once\", \"tiny-Q8_0.gguf\": \"corrupt-once\"}";
    snprintf(path, sizeof path, "%s/faults.json", g_root);
    write_file(path, faults, strlen(faults));
    snprintf(path, sizeof path, "%s/gated.json", g_root);
    write_file(path, "[\"gated/repo\"]", 14);
    (void)bin;
    return true;
}

static pid_t start_hub(const char *src) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    char script[512];
    snprintf(script, sizeof script, "%s/tests/hub/fakehub.mjs", src);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp("node", "node", script, g_root, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[128];
    if (f && fgets(line, sizeof line, f) && !strncmp(line, "port ", 5)) g_port = atoi(line + 5);
    if (f) fclose(f);
    return pid;
}

static void test_pulls(const char *bin) {
    int rc;
    char *out, path[1024], *log;
    const char *q4 = "%2Ftest%2Frepo%3AQ4_K_M";

    /* The first transfer is dropped half-way: the same pull resumes with a Range request. */
    out = run(&rc, "'%s' pull hf.co/test/repo:q4_k_m", bin);
    CHECKF(rc == 0 && strstr(out, "pulled"), "pull with a dropped connection: %s", out);
    CHECKF(strstr(out, "resuming"), "no resume line: %s", out);
    free(out);
    snprintf(path, sizeof path, "%s/hf.co%s/tiny-Q4_K_M.gguf", g_store, q4);
    CHECKF(exists(path), "%s missing", path);
    snprintf(path, sizeof path, "%s/hf.co%s/tiny-Q4_K_M.gguf.partial", g_store, q4);
    CHECK(!exists(path));
    log = hub_log();
    CHECKF(strstr(log, "GET /test/repo/resolve/main/tiny-Q4_K_M.gguf range=bytes="),
           "no Range request in the hub's log:\n%s", log);
    CHECK(strstr(log, "GET /api/models/test/repo/tree/main?recursive=true range"));
    CHECKF(strstr(log, "GET /api/models/test/repo/tree/main?recursive=true&cursor=4 range"),
           "the file list's second page was not read:\n%s", log);
    free(log);

    /* Pulled: a second pull has nothing to do; list shows it; -m finds it by name. */
    out = run(&rc, "'%s' pull hf.co/test/repo:Q4_K_M", bin);
    CHECKF(rc == 0 && strstr(out, "is in the store"), "second pull: %s", out);
    free(out);
    out = run(&rc, "'%s' info -m hf.co/test/repo:Q4_K_M", bin);
    CHECKF(rc == 0 && strstr(out, "llama"), "info -m by name: %s", out);
    free(out);
    out = run(&rc, "'%s' list", bin);
    CHECKF(rc == 0 && strstr(out, "hf.co/test/repo:Q4_K_M") && strstr(out, "llama") &&
               strstr(out, "just now"),
           "list: %s", out);
    free(out);

    /* A corrupted transfer: refused with both digests, nothing under the final name. */
    out = run(&rc, "'%s' pull hf.co/test/repo:Q8_0", bin);
    CHECKF(rc != 0 && strstr(out, "SHA-256 expected") && strstr(out, ", got "), "corrupt pull: %s",
           out);
    free(out);
    snprintf(path, sizeof path, "%s/hf.co%%2Ftest%%2Frepo%%3AQ8_0/tiny-Q8_0.gguf", g_store);
    CHECK(!exists(path));
    snprintf(path, sizeof path, "%s/hf.co%%2Ftest%%2Frepo%%3AQ8_0/manifest.json", g_store);
    CHECK(!exists(path));
    out = run(&rc, "'%s' list", bin);
    CHECKF(rc == 0 && !strstr(out, "Q8_0"), "a failed pull is listed: %s", out);
    free(out);
    out = run(&rc, "'%s' pull hf.co/test/repo:Q8_0", bin);
    CHECKF(rc == 0 && strstr(out, "pulled"), "pull after the corruption: %s", out);
    free(out);

    /* A .partial left by an earlier, interrupted pull: the next one starts where it stopped. */
    char src[512];
    snprintf(src, sizeof src, "%s/test/repo/tiny-F16.gguf", g_root);
    size_t len = 0;
    char *data = tu_read_file(src, &len);
    snprintf(path, sizeof path, "%s/hf.co%%2Ftest%%2Frepo%%3AF16", g_store);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/hf.co%%2Ftest%%2Frepo%%3AF16/tiny-F16.gguf.partial", g_store);
    if (data) write_file(path, data, len / 3);
    free(data);
    out = run(&rc, "'%s' pull hf.co/test/repo:F16", bin);
    CHECKF(rc == 0 && strstr(out, "resuming at"), "resume of a .partial: %s", out);
    free(out);
    char want[64];
    snprintf(want, sizeof want, "tiny-F16.gguf range=bytes=%zu-", len / 3);
    log = hub_log();
    CHECKF(strstr(log, want), "no '%s' in the hub's log", want);
    free(log);

    /* A split model comes whole, and runs as one model: the same greedy text. */
    out = run(&rc, "'%s' pull hf.co/test/repo:Q2_K", bin);
    CHECKF(rc == 0 && strstr(out, "2 files"), "split pull: %s", out);
    free(out);
    char *whole = run(&rc, "'%s' run -m '%s/test/repo/tiny-Q4_K_M.gguf' -p hello -n 12 --temp 0",
                      bin, g_root);
    char *split = run(&rc, "'%s' run -m hf.co/test/repo:Q2_K -p hello -n 12 --temp 0", bin);
    /* the text, not the timing line after it */
    char *tw = strstr(whole, "[prompt:"), *ts = strstr(split, "[prompt:");
    if (tw) *tw = 0;
    if (ts) *ts = 0;
    CHECKF(rc == 0 && tw && ts && !strcmp(whole, split), "split run:\n%s\nwhole run:\n%s", split,
           whole);
    free(whole);
    free(split);

    /* Gated: 401 without a token, with a message saying what to do; fine with one. */
    out = run(&rc, "HF_TOKEN= '%s' pull hf.co/gated/repo", bin);
    CHECKF(rc != 0 && strstr(out, "401") && strstr(out, "HF_TOKEN"), "gated: %s", out);
    free(out);
    out = run(&rc, "HF_TOKEN=bad-token '%s' pull hf.co/gated/repo", bin);
    CHECKF(rc != 0 && strstr(out, "not accepted"), "gated, wrong token: %s", out);
    free(out);
    out = run(&rc, "HF_TOKEN=good-token '%s' pull hf.co/gated/repo", bin);
    CHECKF(rc == 0 && strstr(out, "pulled"), "gated with a token: %s", out);
    free(out);
    log = hub_log();
    CHECKF(strstr(log, "GET /gated/repo/resolve/main/tiny-Q4_K_M.gguf range=- auth=yes") &&
               strstr(log, "GET /storage/gated/repo/tiny-Q4_K_M.gguf range=- auth=no"),
           "HF_TOKEN must reach the hub and not the storage host it redirects to:\n%s", log);
    free(log);

    /* Wrong names: clear messages. */
    out = run(&rc, "'%s' pull hf.co/test/repo/nope-Q4_0.gguf", bin);
    CHECKF(rc != 0 && strstr(out, "not found (404)") && strstr(out, "nope-Q4_0.gguf"), "404: %s",
           out);
    free(out);
    out = run(&rc, "'%s' pull hf.co/test/repo:Q5_K_M", bin);
    CHECKF(rc != 0 && strstr(out, "carries the tag Q5_K_M") && strstr(out, "Q4_K_M"),
           "missing tag: %s", out);
    free(out);
    out = run(&rc, "'%s' pull hf.co/test/missing", bin);
    CHECKF(rc != 0 && strstr(out, "404"), "missing repository: %s", out);
    free(out);

    /* A file of a repository, and a plain URL (no digest header: said so). */
    out = run(&rc, "'%s' pull hf.co/test/repo/tiny-F16.gguf", bin);
    CHECKF(rc == 0 && strstr(out, "pulled"), "file pull: %s", out);
    free(out);
    out = run(&rc, "'%s' pull http://127.0.0.1:%d/plain/tiny.gguf", bin, g_port);
    CHECKF(rc == 0 && strstr(out, "no SHA-256"), "URL pull: %s", out);
    free(out);
    out = run(&rc, "'%s' pull http://127.0.0.1:%d/plain/notgguf.gguf", bin, g_port);
    CHECKF(rc != 0 && strstr(out, "not a GGUF file"), "non-GGUF URL: %s", out);
    free(out);

    /* -m with a hub name not in the store pulls it first. */
    out = run(&rc, "'%s' rm hf.co/test/repo:Q8_0 && '%s' info -m hf.co/test/repo:Q8_0", bin, bin);
    CHECKF(rc == 0 && strstr(out, "pulling it") && strstr(out, "llama"), "-m pulls: %s", out);
    free(out);

    /* serve -m NAME serves the model under the name it was pulled with. */
    setenv("BEANBAG_MODELS", g_store, 1);
    sc_server srv;
    const char *args[] = {"-m", "hf.co/test/repo:Q4_K_M", "--threads", "1", "-q", NULL};
    CHECK(sc_server_start(&srv, args));
    sc_resp r;
    CHECK(sc_request(srv.port, "GET", "/v1/models", NULL, &r) && r.status == 200 &&
          strstr(r.body, "\"id\":\"hf.co/test/repo:Q4_K_M\""));
    sc_resp_free(&r);
    CHECK(sc_server_stop(&srv, 10) == 0);

    /* rm */
    out = run(&rc, "'%s' rm hf.co/test/repo:Q4_K_M && '%s' list", bin, bin);
    CHECKF(rc == 0 && !strstr(out, "hf.co/test/repo:Q4_K_M "), "rm: %s", out);
    free(out);
    out = run(&rc, "'%s' rm hf.co/test/repo:Q4_K_M", bin);
    CHECKF(rc != 0 && strstr(out, "no model"), "rm twice: %s", out);
    free(out);
}

int main(void) {
    test_refs();
    test_quant_names();
    test_pick();
    test_sha256();
    const char *bin = getenv("BB_BIN"), *src = getenv("BB_SRC");
    if (!bin || !src) {
        printf("SKIP: pull tests (BB_BIN or BB_SRC not set)\n");
        return tu_finish("test_hub");
    }
    if (system("node --version > /dev/null 2>&1") != 0) {
        printf("SKIP: pull tests (node is not installed)\n");
        return tu_finish("test_hub");
    }
    snprintf(g_root, sizeof g_root, "/tmp/bb_test_hub_XXXXXX");
    if (!mkdtemp(g_root)) return 1;
    snprintf(g_store, sizeof g_store, "%.190s/store", g_root);
    char hubdir[200];
    snprintf(hubdir, sizeof hubdir, "%.150s/hub", g_root);
    char rootdir[200];
    memcpy(rootdir, g_root, sizeof rootdir);
    memcpy(g_root, hubdir, sizeof g_root);
    pid_t pid = -1;
    if (mkdir(hubdir, 0755) == 0 && make_repos(bin)) {
        test_split_open();
        pid = start_hub(src);
    }
    CHECKF(pid > 0 && g_port > 0, "the fake hub did not start");
    if (pid > 0 && g_port > 0) test_pulls(bin);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%.500s'", rootdir);
    CHECK(system(cmd) == 0);
    return tu_finish("test_hub");
}
