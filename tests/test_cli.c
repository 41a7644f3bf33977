/* The `beanbag` command: every bad model path gets one clear line and a non-zero status;
 * info/tokenize/eval/run/quantize/bench work end to end on a generated model (and on the shared
 * reference models when present). Runs the binary named by BB_BIN. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model_fixture.h"

static const char *bin;
static char tmpdir[256];

/* Runs a shell command, capturing stdout+stderr (first 64 KiB) and the exit status. */
static int run(char *out, size_t cap, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    strncat(cmd, " 2>&1", sizeof cmd - strlen(cmd) - 1);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_bad_models(const void *good, size_t good_size) {
    static char out[65536];
    char path[512];
    const char *cmds[] = {"info -m %s", "run -m %s -p hi -n 1", "eval -m %s --ids 1",
                          "bench -m %s -p 1 -n 1 -r 1"};
    /* each: file content, expected word in the message */
    snprintf(path, sizeof path, "%s/missing.gguf", tmpdir);
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        char args[600];
        snprintf(args, sizeof args, cmds[c], path);
        int rc = run(out, sizeof out, "%s %s", bin, args);
        CHECKF(rc != 0 && strstr(out, "No such file") && count_lines(out) == 1,
               "missing file, %s: rc %d: %s", args, rc, out);
    }
    struct {
        const char *name;
        size_t len;
        const char *word;
    } cases[] = {
        {"truncated.gguf", good_size / 2, "end"},
        {"tiny.gguf", 10, ""},
        {"notgguf.gguf", 0, "magic"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, cases[i].name);
        if (!strcmp(cases[i].name, "notgguf.gguf"))
            write_file(path, "this is not a model file at all\n", 32);
        else
            write_file(path, good, cases[i].len);
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
            char args[600];
            snprintf(args, sizeof args, cmds[c], path);
            int rc = run(out, sizeof out, "%s %s", bin, args);
            CHECKF(rc != 0 && strstr(out, cases[i].word) && count_lines(out) == 1,
                   "%s, %s: rc %d: %s", cases[i].name, args, rc, out);
        }
    }
    /* an architecture we do not run */
    fixture_spec s = {"llama", 64, 1, 4, 2, 64, 300, 0, BB_TYPE_F32, true, 0, 5, false};
    void *img;
    size_t size;
    CHECK(fixture_build(&s, &img, &size));
    char *hit = memmem(img, size, "llama", 5); /* general.architecture's value comes first */
    if (hit) memcpy(hit, "llamo", 5);
    snprintf(path, sizeof path, "%s/arch.gguf", tmpdir);
    write_file(path, img, size);
    free(img);
    int rc = run(out, sizeof out, "%s run -m %s -p hi", bin, path);
    CHECKF(rc != 0 && strstr(out, "not supported") && count_lines(out) == 1, "arch: %s", out);
}

/* Sets the uint32 value of metadata key `key` in a GGUF image (GGUF v3: the key as a u64
 * length and its bytes, then the u32 value type, then the value). */
static bool patch_u32(void *img, size_t size, const char *key, uint32_t v) {
    size_t kn = strlen(key);
    unsigned char pat[128];
    uint64_t len = kn;
    memcpy(pat, &len, 8);
    memcpy(pat + 8, key, kn);
    unsigned char *hit = memmem(img, size, pat, 8 + kn);
    if (!hit || (size_t)(hit - (unsigned char *)img) + 8 + kn + 8 > size) return false;
    uint32_t type;
    memcpy(&type, hit + 8 + kn, 4);
    if (type != 4) return false; /* GGUF_TYPE_UINT32 */
    memcpy(hit + 8 + kn + 4, &v, 4);
    return true;
}

/* Hyper-parameters no model could run with are refused by every command, info and tokenize
 * included, with the reason, not defaulted or left to fail somewhere later. */
static void test_bad_hparams(void) {
    static char out[65536];
    static const struct {
        const char *key;
        uint32_t value;
        const char *word;
    } cases[] = {
        {"llama.context_length", 0, "context_length"},
        {"llama.context_length", 0xffffffffu, "context_length"},
        {"llama.embedding_length", 0, "embedding_length"},
        {"llama.block_count", 0, "block_count"},
        {"llama.attention.head_count", 0, "head_count"},
        {"llama.attention.head_count", 3, "not a multiple"}, /* 64 % 3 */
        {"llama.attention.head_count", 5000, "head_count"},  /* over the bound */
        {"llama.attention.head_count_kv", 0, "head_count_kv"},
        {"llama.attention.head_count_kv", 3, "not a multiple"}, /* 4 % 3 */
        {"llama.attention.head_count_kv", 8, "head_count_kv"},  /* more than heads */
        {"llama.feed_forward_length", 0, "feed_forward_length"},
    };
    const char *cmds[] = {"info -m %s",
                          "run -m %s -p hi -n 1",
                          "eval -m %s --ids 1",
                          "bench -m %s -p 1 -n 1 -r 1",
                          "tokenize -m %s hello",
                          "chat -m %s < /dev/null",
                          "serve -m %s --port 0 -q"};
    fixture_spec spec = {"llama", 64, 1, 4, 2, 64, 300, 0, BB_TYPE_F32, true, 0, 5, false};
    void *img;
    size_t size;
    CHECK(fixture_build(&spec, &img, &size));
    char path[512];
    snprintf(path, sizeof path, "%s/hparams.gguf", tmpdir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *bad = malloc(size);
        memcpy(bad, img, size);
        CHECKF(patch_u32(bad, size, cases[i].key, cases[i].value), "patch %s", cases[i].key);
        write_file(path, bad, size);
        free(bad);
        for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
            char args[600];
            snprintf(args, sizeof args, cmds[c], path);
            int rc = run(out, sizeof out, "timeout 60 %s %s", bin, args);
            /* info goes on to show what the file holds; serve and chat log more */
            bool one_line = c == 0 || c > 4 || count_lines(out) == 1;
            CHECKF(rc != 0 && rc != 124 && strstr(out, cases[i].word) && one_line,
                   "%s = %u, %s: rc %d: %.300s", cases[i].key, cases[i].value, args, rc, out);
        }
    }
    free(img);
}

static void test_commands(const char *model) {
    static char out[65536];
    int rc = run(out, sizeof out, "%s info -m %s", bin, model);
    CHECKF(rc == 0 && strstr(out, "blk.0.attn_q.weight") && strstr(out, "general.architecture"),
           "info: %s", out);
    rc = run(out, sizeof out, "%s tokenize -m %s --json \"ab\"", bin, model);
    CHECKF(rc == 0 && strstr(out, "{\"ids\": [1, "), "tokenize: %s", out);
    rc = run(out, sizeof out, "%s eval -m %s --ids 1,5,9 -n 3", bin, model);
    CHECKF(rc == 0 && strstr(out, "\"prompt_tokens\": [1, 5, 9]") && strstr(out, "\"top5\""),
           "eval: %s", out);
    rc = run(out, sizeof out, "%s run -m %s -p \"a b\" -n 4 --seed 3 --temp 0.7", bin, model);
    CHECKF(rc == 0 && strstr(out, "generation"), "run: %s", out);
    /* --grammar-file and --json-schema: the random-weight model's text obeys them. */
    char gpath[600], spath[600];
    snprintf(gpath, sizeof gpath, "%s/g.gbnf", tmpdir);
    snprintf(spath, sizeof spath, "%s/s.json", tmpdir);
    const char gram[] = "root ::= [0-9]{3} \"-\" [a-z]{2}  # a code\n";
    const char schema[] = "{\"type\": \"object\", \"properties\": {\"k\": {\"enum\": [\"x\", "
                          "\"y\"]}, \"n\": {\"type\": \"integer\", \"minimum\": 3, "
                          "\"maximum\": 7}}, \"required\": [\"k\", \"n\"]}";
    write_file(gpath, gram, sizeof gram - 1);
    write_file(spath, schema, sizeof schema - 1);
    for (int seed = 1; seed <= 3; seed++) {
        rc = run(out, sizeof out, "%s run -m %s -p hi -n 32 --temp 1 --seed %d --grammar-file %s",
                 bin, model, seed, gpath);
        bool shape = strlen(out) > 6 && out[3] == '-' && out[6] == '\n';
        for (int i = 0; i < 6 && shape; i++)
            shape =
                i < 3 ? out[i] >= '0' && out[i] <= '9' : i == 3 || (out[i] >= 'a' && out[i] <= 'z');
        CHECKF(rc == 0 && shape, "run --grammar-file: %s", out);
        rc = run(out, sizeof out, "%s run -m %s -p hi -n 200 --temp 1 --seed %d --json-schema %s",
                 bin, model, seed, spath);
        char *end = strstr(out, "\n[prompt");
        if (end) *end = '\0';
        cJSON *j = cJSON_Parse(out);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "k");
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, "n");
        CHECKF(rc == 0 && cJSON_IsString(k) && strchr("xy", k->valuestring[0]) &&
                   cJSON_IsNumber(n) && n->valuedouble >= 3 && n->valuedouble <= 7,
               "run --json-schema: %s", out);
        cJSON_Delete(j);
    }
    write_file(gpath, "root ::= (\"a\"\n", 13);
    rc = run(out, sizeof out, "%s run -m %s -p hi --grammar-file %s", bin, model, gpath);
    CHECKF(rc == 1 && strstr(out, "line 1, column 10: unclosed '('"), "bad grammar: %s", out);
    rc = run(out, sizeof out, "%s run -m %s -p hi --grammar-file %s --json-schema %s", bin, model,
             gpath, spath);
    CHECKF(rc == 2 && strstr(out, "exclude"), "both: %s", out);
    rc = run(out, sizeof out, "%s run -m %s -p hi --top-p 2", bin, model);
    CHECKF(rc == 2 && strstr(out, "--top-p"), "bad flag: %s", out);
    rc = run(out, sizeof out, "%s run -m %s -p hi -n abc", bin, model);
    CHECKF(rc == 2 && strstr(out, "-n"), "bad flag: %s", out);
    rc = run(out, sizeof out, "%s eval -m %s --ids 1,x", bin, model);
    CHECKF(rc == 2 && strstr(out, "--ids"), "bad ids: %s", out);
    rc = run(out, sizeof out, "%s eval -m %s --ids 1,100000", bin, model);
    CHECKF(rc == 1 && strstr(out, "out of range"), "id out of range: %s", out);
    /* examples/simple sits beside the beanbag binary */
    char simple[512];
    snprintf(simple, sizeof simple, "%s", bin);
    char *slash = strrchr(simple, '/');
    snprintf(slash ? slash + 1 : simple, sizeof simple - (size_t)(slash ? slash + 1 - simple : 0),
             "simple");
    rc = run(out, sizeof out, "%s %s \"a b\" 5", simple, model);
    CHECKF(rc == 0 && !strncmp(out, "a b", 3), "examples/simple: %s", out);
}

static int count_substr(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub))
        n++;
    return n;
}

/* beanbag bench: lists of sizes, depths and threads give one row per combination, in JSON
 * and markdown; bad values are refused with status 2 naming the option. Tiny sizes and -t 1
 * mostly: the machine-limit loops alone take ~1 s per thread count. */
static void test_bench(const char *model) {
    static char out[65536];
    int rc = run(out, sizeof out, "%s bench -m %s -p 8 -n 4 -r 2 -d 0,16 -t 1 --json", bin, model);
    cJSON *j = rc == 0 ? cJSON_Parse(out) : NULL;
    CHECKF(j, "bench --json: rc %d: %s", rc, out);
    const cJSON *results = cJSON_GetObjectItem(j, "results");
    const cJSON *peaks = cJSON_GetObjectItem(j, "peaks");
    CHECKF(cJSON_GetArraySize(results) == 4 && cJSON_GetArraySize(peaks) == 1, "bench rows: %s",
           out);
    int depth16 = 0, pp = 0;
    for (int i = 0; i < cJSON_GetArraySize(results); i++) {
        const cJSON *r = cJSON_GetArrayItem(results, i);
        double ts = cJSON_GetNumberValue(cJSON_GetObjectItem(r, "avg_ts"));
        CHECKF(ts > 0 && cJSON_GetArraySize(cJSON_GetObjectItem(r, "samples_ts")) == 2 &&
                   cJSON_GetNumberValue(cJSON_GetObjectItem(r, "n_threads")) == 1,
               "bench row %d: %s", i, out);
        depth16 += cJSON_GetNumberValue(cJSON_GetObjectItem(r, "n_depth")) == 16;
        if (cJSON_GetNumberValue(cJSON_GetObjectItem(r, "n_prompt")) == 8) {
            pp++;
            CHECKF(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "gflops")) > 0, "pp gflops");
        } else {
            CHECKF(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "n_gen")) == 4 &&
                       cJSON_GetNumberValue(cJSON_GetObjectItem(r, "roofline_ratio")) > 0,
                   "tg row %d: %s", i, out);
        }
    }
    CHECKF(depth16 == 2 && pp == 2, "bench depths/tests: %s", out);
    const cJSON *p0 = cJSON_GetArrayItem(peaks, 0);
    CHECKF(cJSON_GetNumberValue(cJSON_GetObjectItem(p0, "mem_read_gbs")) > 0 &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(p0, "int8_gops")) > 0 &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(p0, "fp32_gflops")) > 0 &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(j, "weight_bytes")) > 0 &&
               cJSON_GetObjectItem(j, "repacked_bytes"),
           "bench peaks: %s", out);
    cJSON_Delete(j);

    /* markdown (the default), two thread counts, prompt tests only */
    rc = run(out, sizeof out, "%s bench -m %s -p 4,8 -n 0 -t 1,2 -r 1", bin, model);
    CHECKF(rc == 0 && strstr(out, "| threads |") && strstr(out, "int8 GOP/s") &&
               strstr(out, "repacked") && count_substr(out, " pp4 |") == 2 &&
               count_substr(out, " pp8 |") == 2 && !strstr(out, " tg"),
           "bench markdown: %s", out);
    rc = run(out, sizeof out, "%s bench -m %s -p 0 -n 2 -t 1 -r 1 -o json", bin, model);
    j = rc == 0 ? cJSON_Parse(out) : NULL;
    CHECKF(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "results")) == 1, "bench -o json: %s",
           out);
    cJSON_Delete(j);

    rc = run(out, sizeof out, "%s bench --help", bin);
    CHECKF(rc == 0 && strstr(out, "-d N") && strstr(out, "--json") && strstr(out, "int8"),
           "bench --help: %s", out);
    struct {
        const char *args, *flag;
    } bad[] = {{"-p -1", "-p"}, {"-t 0", "-t"},   {"-d abc", "-d"},      {"-n 4,,8", "-n"},
               {"-p 8,", "-p"}, {"-t 1,x", "-t"}, {"-r 0", "-r"},        {"-o xml", "-o"},
               {"-b 0", "-b"},  {"-d", "-d"},     {"--frob 1", "--frob"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = run(out, sizeof out, "%s bench -m %s %s", bin, model, bad[i].args);
        CHECKF(rc == 2 && strstr(out, bad[i].flag) && count_lines(out) == 1, "bench %s: rc %d: %s",
               bad[i].args, rc, out);
    }
}

static void test_quantize(const char *model) {
    static char out[65536];
    char q[512];
    const char *types[] = {"Q8_0", "Q4_0", "Q4_K_M", "Q6_K"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(q, sizeof q, "%s/q-%s.gguf", tmpdir, types[i]);
        int rc = run(out, sizeof out, "%s quantize %s %s %s -t 2", bin, model, q, types[i]);
        CHECKF(rc == 0, "quantize %s: %s", types[i], out);
        rc = run(out, sizeof out, "%s eval -m %s --ids 1,5,9 -n 2", bin, q);
        CHECKF(rc == 0 && strstr(out, "\"steps\""), "eval quantized %s: %s", types[i], out);
    }
    int rc = run(out, sizeof out, "%s quantize %s %s/x.gguf Q3_Z", bin, model, tmpdir);
    CHECKF(rc == 1 && strstr(out, "Q3_Z"), "unknown type: %s", out);
    snprintf(q, sizeof q, "%s/q-Q4_0.gguf", tmpdir);
    rc = run(out, sizeof out, "%s quantize %s %s/x.gguf Q8_0", bin, q, tmpdir);
    CHECKF(rc == 1 && strstr(out, "already quantized"), "requantize: %s", out);
}

int main(void) {
    bin = getenv("BB_BIN");
    if (!bin) {
        printf("SKIP: BB_BIN not set (run through ctest)\n");
        return 0;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bb-test-cli-%d", (int)getpid());
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", tmpdir);
    if (system(cmd) != 0) return 1;
    /* 256-wide so every quantized type applies without fallback */
    fixture_spec s = {"llama", 256, 2, 4, 2, 256, 300, 0, BB_TYPE_F32, false, 0, 21, false};
    void *img;
    size_t size;
    CHECK(fixture_build(&s, &img, &size));
    char model[512];
    snprintf(model, sizeof model, "%s/model.gguf", tmpdir);
    write_file(model, img, size);
    test_bad_models(img, size);
    test_bad_hparams();
    free(img);
    test_commands(model);
    test_bench(model);
    test_quantize(model);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return tu_finish("test_cli");
}
