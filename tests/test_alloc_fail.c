/* Allocation-failure injection (a build with -DBB_ALLOC_FAIL=ON; scripts/test.sh --sanitize
 * is one): for model loading, tokenizing, template rendering and a completion request's path
 * (JSON, validation, template, tokenizer, context, engine), the N-th allocation is made to
 * fail for N = 1 .. the allocations the operation makes, and each run must end in a clean
 * error (a status with a message) or a recovered success, with every block freed (counted
 * here; LeakSanitizer checks the rest in the sanitizer build), and no crash or hang.
 * CI tries up to BB_ALLOC_FAIL_POINTS failure points per operation, spread evenly;
 * BB_ALLOC_FAIL_POINTS=0 tries every one. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "beanbag.h"
#include "testutil.h"

#ifndef BB_ALLOC_FAIL
int main(void) {
    printf("SKIP: allocation-failure injection needs a build configured with -DBB_ALLOC_FAIL=ON "
           "(scripts/test.sh --sanitize is one)\n");
    return tu_finish("test_alloc_fail");
}
#else
#include "engine/engine.h"
#include "fixture_model.h"
#include "model_fixture.h"
#include "server/oai_request.h"
#include "server/prompt.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *bpe_img, *spm_img;
static size_t bpe_size, spm_size;
static bb_model *bpe, *spm; /* vocab-only, loaded once */

/* ---------------------------------------------------------------- operations */

static bb_status op_load(bb_error *err) {
    bb_model_params mp = bb_model_default_params();
    bb_model *m = NULL;
    bb_status st = bb_model_load_from_memory(bpe_img, bpe_size, &mp, &m, err);
    if (st == BB_OK) {
        char *text = NULL;
        st = bb_model_describe(m, &text, err);
        bb_free(text);
    }
    bb_model_free(m);
    return st;
}

static bb_status op_load_spm(bb_error *err) {
    bb_model_params mp = bb_model_default_params();
    bb_model *m = NULL;
    bb_status st = bb_model_load_from_memory(spm_img, spm_size, &mp, &m, err);
    bb_model_free(m);
    return st;
}

static const char text[] = "Hello world, the <|im_start|>user\nthere\xe2\x80\x94 \xe4\xb8\xad 1234 "
                           "  spaces\tand\n\nlines <|im_end|>";

static bb_status tokenize_with(const bb_model *m, bb_error *err) {
    const bb_vocab *v = bb_model_vocab(m);
    bb_token *ids = NULL;
    size_t n = 0;
    bb_status st = bb_tokenize(v, text, strlen(text), true, true, &ids, &n, err);
    char *back = NULL;
    if (st == BB_OK) st = bb_detokenize(v, ids, n, false, &back, err);
    bb_detok *d = st == BB_OK ? bb_detok_new(v, false) : NULL;
    if (st == BB_OK && !d) st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "bb_detok_new failed");
    for (size_t i = 0; d && i < n; i++) {
        size_t len;
        bb_detok_push(d, ids[i], &len);
    }
    bb_detok_free(d);
    bb_free(back);
    bb_free(ids);
    return st;
}

static bb_status op_tokenize_bpe(bb_error *err) {
    return tokenize_with(bpe, err);
}

static bb_status op_tokenize_spm(bb_error *err) {
    return tokenize_with(spm, err);
}

static const char messages[] =
    "[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi "
    "\\u00e9\"},{\"role\":\"assistant\",\"content\":\"Hello\",\"tool_calls\":[{\"type\":"
    "\"function\",\"function\":{\"name\":\"f\",\"arguments\":{\"a\":[1,2]}}}]},"
    "{\"role\":\"user\",\"content\":\"Bye\"}]";

/* A template using most of the interpreter: macros, namespaces, filters, loops, tojson. */
static const char rich_template[] =
    "{%- macro show(m) -%}[{{ m.role | upper }}] {{ m.content | trim }}{%- endmacro -%}"
    "{%- set ns = namespace(n=0, names=[]) -%}"
    "{%- for m in messages -%}{%- set ns.n = ns.n + 1 -%}"
    "{%- if m.tool_calls is defined -%}{{ m.tool_calls | tojson(indent=2) }}"
    "{%- for c in m.tool_calls -%}{%- set ns.names = ns.names + [c.function.name] -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{ show(m) }}{% if not loop.last %}\n{% endif %}{%- endfor -%}"
    "{{ ns.n }} {{ ns.names | join(',') }} {{ messages | map(attribute='role') | list }}"
    "{{ ('%s-%d' % ('x', 3)) ~ ('abc'.split('b') | reverse | join) }}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

static bb_status op_template(bb_error *err) {
    char *out = NULL;
    bb_status st = bb_chat_render(rich_template, messages, NULL, true, "<s>", "</s>", &out, err);
    bb_free(out);
    if (st != BB_OK) return st;
    st = bb_chat_render(bb_chat_default_template(), messages, NULL, true, "", "", &out, err);
    bb_free(out);
    return st;
}

/* A chat completion request from its body to its last token: what the server does on a
 * connection thread, then the engine thread's work, on the fixture model. */
static bb_status op_request(bb_error *err) {
    static const char body[] =
        "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hello \"},{\"type\":\"text\",\"text\":"
        "\"there\"}]}],\"max_tokens\":3,\"temperature\":0,\"stop\":[\"zz\"],\"logprobs\":true,"
        "\"top_logprobs\":2,\"logit_bias\":{\"5\":1}}";
    bb_model_params mp = bb_model_default_params();
    bb_model *m = NULL;
    bb_status st = bb_model_load_from_memory(bpe_img, bpe_size, &mp, &m, err);
    if (st != BB_OK) return st;
    cJSON *root = NULL;
    oai_error e = {0};
    oai_request req;
    memset(&req, 0, sizeof req);
    oai_limits lim = {.max_n = 2, .n_vocab = bb_model_n_vocab(m)};
    char *msgs = NULL;
    bb_token *ids = NULL;
    size_t n = 0;
    bb_context *ctx = NULL;
    engine *eng = NULL;
    engine_request *r = NULL;
    cJSON *shaped = NULL;
    if (!oai_parse_json(body, strlen(body), &root, &e) ||
        !oai_parse_request(root, true, &lim, &req, &e) ||
        !(shaped = oai_messages_for_template(req.messages, false, &e)) ||
        !(msgs = cJSON_PrintUnformatted(shaped))) {
        cJSON_Delete(shaped);
        st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "request refused (%d): %s", e.status, e.message);
        goto done;
    }
    cJSON_Delete(shaped);
    if ((st = prompt_from_messages(m, msgs, &ids, &n, err))) goto done;
    bb_context_params cp = bb_context_default_params();
    cp.n_ctx = 256;
    cp.n_batch = 32;
    cp.n_seq_max = 2;
    cp.n_threads = 1;
    if ((st = bb_context_new(m, &cp, &ctx, err))) goto done;
    engine_backend be = engine_backend_context(ctx);
    engine_params ep = {.n_seq_max = 2,
                        .n_batch = 32,
                        .step_tokens = 8,
                        .n_ctx = 256,
                        .n_seq_ctx = 256,
                        .n_vocab = bb_model_n_vocab(m),
                        .max_queue = 4};
    if ((st = engine_new(&be, bb_model_vocab(m), &ep, &eng, err))) goto done;
    engine_gen_params gp = {.sampling = req.sampling,
                            .n_choices = req.n,
                            .max_tokens = (int32_t)req.max_tokens,
                            .stop = req.stop,
                            .n_stop = req.n_stop,
                            .logprobs = req.logprobs,
                            .top_logprobs = req.top_logprobs};
    gp.sampling.logit_bias = req.bias;
    gp.sampling.n_logit_bias = req.n_bias;
    if ((st = engine_request_new(eng, &gp, ids, n, &r, err)) || (st = engine_submit(eng, r, err)))
        goto done;
    double until = now_s() + 20;
    while (!engine_request_done(r) && now_s() < until)
        engine_request_wait(r, -1, 100);
    CHECKF(engine_request_done(r), "a request hung after an allocation failure");
    engine_delta d;
    bool errored = false;
    while (engine_request_take(r, 0, &d)) {
        errored |= d.finish == ENGINE_FINISH_ERROR;
        engine_delta_free(&d);
    }
    if (errored) st = bb_fail(err, BB_ERR_INTERNAL, "%s", engine_request_error(r) ?: "error");
done:
    if (r) engine_request_unref(r);
    engine_free(eng);
    bb_context_free(ctx);
    free(ids);
    free(msgs);
    oai_request_free(&req);
    cJSON_Delete(root);
    bb_model_free(m);
    return st;
}

/* ---------------------------------------------------------------- the runs */

static int64_t points_budget(void) {
    const char *s = getenv("BB_ALLOC_FAIL_POINTS");
    return s ? atoll(s) : 150;
}

static void run(const char *name, bb_status (*op)(bb_error *)) {
    bb_error err = {0};
    bb_alloc_fail_at(0);
    CHECKF(op(&err) == BB_OK, "%s without failures: %s", name, err.message);
    int64_t live = bb_alloc_live();
    bb_alloc_fail_at(0);
    CHECKF(op(&err) == BB_OK, "%s again: %s", name, err.message);
    int64_t total = bb_alloc_count();
    CHECKF(bb_alloc_live() == live, "%s leaks %lld blocks without failures", name,
           (long long)(bb_alloc_live() - live));
    int64_t budget = points_budget(), step = budget > 0 && total > budget ? total / budget : 1;
    int tried = 0, errors = 0, recovered = 0;
    for (int64_t n = 1; n <= total; n += step) {
        memset(&err, 0, sizeof err);
        bb_alloc_fail_at(n);
        bb_status st = op(&err);
        bool failed = bb_alloc_failed();
        bb_alloc_fail_at(0);
        tried++;
        if (!failed) continue; /* this run allocated less (another path) */
        if (st == BB_OK) {
            recovered++;
        } else {
            errors++;
            CHECKF(err.message[0], "%s, allocation %lld failed: status %s without a message", name,
                   (long long)n, bb_status_name(st));
        }
        CHECKF(bb_alloc_live() == live, "%s, allocation %lld failed: %lld blocks leaked", name,
               (long long)n, (long long)(bb_alloc_live() - live));
    }
    printf("%s: %lld allocations; failed each of %d of them (every %lld): %d clean errors, "
           "%d recovered\n",
           name, (long long)total, tried, (long long)step, errors, recovered);
}

int main(void) {
    /* cJSON allocates through the counter too */
    cJSON_Hooks hooks = {bb_af_malloc, bb_af_free};
    cJSON_InitHooks(&hooks);
    fixture_model_params p = fixture_model_default();
    p.n_embd = 32;
    p.n_layer = 1;
    p.n_head = 2;
    p.n_head_kv = 1;
    p.n_ff = 32;
    bb_error err = {0};
    CHECKF(fixture_model_build(&p, &bpe_img, &bpe_size, &err) == BB_OK, "%s", err.message);
    fixture_spec spm_spec = {"llama", 32, 1, 2, 1, 32, 300, 0, BB_TYPE_Q8_0, false, 0, 5, false};
    CHECK(fixture_build(&spm_spec, &spm_img, &spm_size));
    bb_model_params vo = {.vocab_only = true};
    CHECK(bb_model_load_from_memory(bpe_img, bpe_size, &vo, &bpe, &err) == BB_OK);
    CHECK(bb_model_load_from_memory(spm_img, spm_size, &vo, &spm, &err) == BB_OK);
    if (!bpe || !spm) return tu_finish("test_alloc_fail");
    run("model load (BPE, F32)", op_load);
    run("model load (SPM, Q8_0, repacked)", op_load_spm);
    run("tokenize (BPE)", op_tokenize_bpe);
    run("tokenize (SPM)", op_tokenize_spm);
    run("template render", op_template);
    run("chat request", op_request);
    bb_model_free(bpe);
    bb_model_free(spm);
    free(bpe_img);
    free(spm_img);
    return tu_finish("test_alloc_fail");
}
#endif
