/* Server tests: a real `beanbag serve` process (BB_BIN) on a loopback port with the fixture
 * model, driven over raw sockets (every endpoint, streaming, n, stop, logprobs, 16 concurrent
 * greedy clients against their solo runs, hang-ups, overload, a hostile request set, slow
 * clients, graceful shutdown), then by the official `openai` npm package (tests/server). */
#include <pthread.h>
#include <sys/stat.h>

#include "common/strbuf.h"
#include "fixture_model.h"
#include "server/chat_tools.h"
#include "server_client.h"
#include "scripted_model.h"
#include "testutil.h"

#define API_KEY "test-key-123"

static char g_model[128];     /* the model id the server reports */
static char g_bias[128] = ""; /* "logit_bias" JSON that forbids end-of-generation tokens */

/* ---------------------------------------------------------------- helpers */

/* A chat request body: one user message, greedy unless extra says otherwise. extra is more
 * JSON members ("" or starting with a comma). */
static char *chat_body(const char *prompt, int max_tokens, const char *extra) {
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "user");
    cJSON_AddStringToObject(msg, "content", prompt);
    cJSON *msgs = cJSON_CreateArray();
    cJSON_AddItemToArray(msgs, msg);
    char *m = cJSON_PrintUnformatted(msgs);
    cJSON_Delete(msgs);
    size_t cap = strlen(m) + strlen(extra) + 256;
    char *body = malloc(cap);
    snprintf(body, cap, "{\"model\":\"%s\",\"messages\":%s,\"max_tokens\":%d%s%s}", g_model, m,
             max_tokens, strstr(extra, "\"temperature\"") ? "" : ",\"temperature\":0", extra);
    free(m);
    return body;
}

/* POSTs a chat body; returns the parsed JSON (NULL on failure) and the status. */
static cJSON *post_json(int port, const char *path, const char *body, int *status) {
    sc_resp r;
    bool ok = sc_request(port, "POST", path, body, &r);
    *status = ok ? r.status : -1;
    cJSON *j = ok ? sc_json(&r) : NULL;
    sc_resp_free(&r);
    return j;
}

/* The item at a dotted path ("choices.0.message.content"); strtok_r: clients run in threads. */
static const cJSON *jget(const cJSON *o, const char *path) {
    char buf[256], *save = NULL;
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
        cur = (*tok >= '0' && *tok <= '9') ? cJSON_GetArrayItem(cur, atoi(tok))
                                           : cJSON_GetObjectItemCaseSensitive(cur, tok);
    return cur;
}

static const char *jstr(const cJSON *o, const char *path) {
    const cJSON *v = jget(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *path) {
    const cJSON *v = jget(o, path);
    return cJSON_IsNumber(v) ? v->valuedouble : -1e300;
}

/* Greedy chat content of a prompt (non-streamed); NULL on failure. */
static char *chat_content(int port, const char *prompt, int max_tokens, const char *extra,
                          char *finish, size_t finish_cap) {
    char *body = chat_body(prompt, max_tokens, extra);
    int status;
    cJSON *j = post_json(port, "/v1/chat/completions", body, &status);
    free(body);
    const char *c = jstr(j, "choices.0.message.content");
    char *out = status == 200 && c ? strdup(c) : NULL;
    if (finish) snprintf(finish, finish_cap, "%s", jstr(j, "choices.0.finish_reason") ?: "");
    CHECKF(out, "chat request failed with status %d", status);
    cJSON_Delete(j);
    return out;
}

/* Streams a chat body; returns the concatenated content, checking the event sequence. */
static char *chat_stream(int port, const char *body, char *finish, size_t finish_cap) {
    sc_resp r;
    if (!sc_request(port, "POST", "/v1/chat/completions", body, &r) || r.status != 200) {
        CHECKF(0, "stream request failed (status %d)", r.status);
        sc_resp_free(&r);
        return NULL;
    }
    char ctype[64] = "";
    sc_header(&r, "Content-Type", ctype, sizeof ctype);
    CHECKF(!strcmp(ctype, "text/event-stream"), "content type %s", ctype);
    char **ev;
    int n = sc_sse(r.body, &ev);
    CHECK(n >= 3 && !strcmp(ev[n - 1], "[DONE]"));
    size_t cap = 1, len = 0;
    char *text = calloc(1, 1);
    for (int i = 0; i < n - 1; i++) {
        cJSON *j = cJSON_Parse(ev[i]);
        CHECKF(j && !strcmp(jstr(j, "object") ?: "", "chat.completion.chunk"), "event %s", ev[i]);
        if (i == 0) CHECK(!strcmp(jstr(j, "choices.0.delta.role") ?: "", "assistant"));
        const char *c = jstr(j, "choices.0.delta.content");
        if (c) {
            size_t k = strlen(c);
            text = realloc(text, cap = len + k + 1);
            memcpy(text + len, c, k + 1);
            len += k;
        }
        const char *f = jstr(j, "choices.0.finish_reason");
        if (f && finish) snprintf(finish, finish_cap, "%s", f);
        cJSON_Delete(j);
    }
    (void)cap;
    sc_sse_free(ev, n);
    sc_resp_free(&r);
    return text;
}

/* The ids of the end-of-generation tokens, as a logit_bias member that forbids them. */
static void find_eog_bias(int port) {
    const char *texts[] = {"<|im_end|>", "<|endoftext|>"};
    char ids[2][16] = {"", ""};
    for (int i = 0; i < 2; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"content\":\"%s\"}", texts[i]);
        int status;
        cJSON *j = post_json(port, "/tokenize", body, &status);
        cJSON *toks = cJSON_GetObjectItemCaseSensitive(j, "tokens");
        CHECK(status == 200 && cJSON_IsArray(toks));
        if (cJSON_GetArraySize(toks) == 1)
            snprintf(ids[i], sizeof ids[i], "%d", cJSON_GetArrayItem(toks, 0)->valueint);
        cJSON_Delete(j);
    }
    if (ids[0][0] && ids[1][0])
        snprintf(g_bias, sizeof g_bias, ",\"logit_bias\":{\"%s\":-100,\"%s\":-100}", ids[0],
                 ids[1]);
}

static bool metric(int port, const char *name, double *value) {
    sc_resp r;
    bool ok = sc_request(port, "GET", "/metrics", NULL, &r) && r.status == 200;
    const char *p = ok ? strstr(r.body, name) : NULL;
    while (p && p[-1] != '\n')
        p = strstr(p + 1, name);
    if (p) *value = atof(p + strlen(name));
    sc_resp_free(&r);
    return p != NULL;
}

/* Waits up to 10 s for a gauge to reach a value. */
static bool wait_metric(int port, const char *name, double want) {
    double v = -1, t0 = sc_now();
    while (sc_now() - t0 < 10 && (!metric(port, name, &v) || v != want))
        usleep(5 * 1000);
    return v == want;
}

/* After 16 concurrent clients under --step-tokens 24, /metrics shows the budget, and no step
 * carried more than max(24, 16) tokens: every step lies in the buckets up to 32. */
static void test_step_metrics(int port) {
    double budget = 0, count = 0, le32 = -1, prefill = 0;
    CHECK(metric(port, "beanbag_engine_step_token_budget ", &budget) && budget == 24);
    /* The engine records a step just after handing out its tokens, so a client can read
     * /metrics while the last step is being counted: read until two counts agree. */
    double again = -2;
    for (int tries = 0; tries < 50 && again != count; tries++) {
        if (tries) usleep(20 * 1000);
        CHECK(metric(port, "beanbag_engine_step_tokens_count ", &count) && count > 0);
        CHECK(metric(port, "beanbag_engine_step_tokens_bucket{le=\"32\"} ", &le32));
        CHECK(metric(port, "beanbag_engine_step_tokens_count ", &again));
    }
    CHECKF(le32 == count, "%g of %g steps carried at most 32 tokens", le32, count);
    CHECK(metric(port, "beanbag_engine_prefill_tokens_total ", &prefill) && prefill > 0);
    double secs = 0;
    CHECK(metric(port, "beanbag_engine_step_seconds_count ", &secs) && secs >= count);
}

/* ---------------------------------------------------------------- endpoints */

static void test_basics(int port) {
    sc_resp r;
    const char *saved = sc_api_key;
    CHECK(sc_request(port, "GET", "/health", NULL, &r) && r.status == 200 &&
          strstr(r.body, "\"ok\""));
    sc_resp_free(&r);
    CHECK(sc_request(port, "GET", "/v1/models", NULL, &r) && r.status == 200);
    cJSON *j = sc_json(&r);
    const char *id = jstr(j, "data.0.id");
    CHECK(id && !strcmp(jstr(j, "object") ?: "", "list"));
    snprintf(g_model, sizeof g_model, "%s", id ? id : "");
    cJSON_Delete(j);
    sc_resp_free(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/models/%s", g_model);
    CHECK(sc_request(port, "GET", path, NULL, &r) && r.status == 200);
    sc_resp_free(&r);
    CHECK(sc_request(port, "GET", "/v1/models/nope", NULL, &r) && r.status == 404 &&
          strstr(r.body, "model_not_found"));
    sc_resp_free(&r);
    CHECK(sc_request(port, "GET", "/v1/nothing", NULL, &r) && r.status == 404 &&
          strstr(r.body, "\"error\""));
    sc_resp_free(&r);
    char allow[32] = "";
    CHECK(sc_request(port, "GET", "/v1/chat/completions", NULL, &r) && r.status == 405 &&
          sc_header(&r, "Allow", allow, sizeof allow) && !strcmp(allow, "POST"));
    sc_resp_free(&r);
    /* Authentication: none, wrong (same length and not), then /health needs none. */
    const char *wrong[] = {NULL, "test-key-124", "short", API_KEY "x"};
    for (int i = 0; i < 4; i++) {
        sc_api_key = wrong[i];
        CHECKF(sc_request(port, "GET", "/v1/models", NULL, &r) && r.status == 401 &&
                   strstr(r.body, "invalid_api_key"),
               "key %s: status %d", wrong[i] ? wrong[i] : "(none)", r.status);
        sc_resp_free(&r);
    }
    CHECK(sc_request(port, "GET", "/health", NULL, &r) && r.status == 200);
    sc_resp_free(&r);
    sc_api_key = saved;
    double v;
    CHECK(metric(port, "beanbag_kv_cache_capacity_tokens ", &v) && v > 0);
    CHECK(metric(port, "beanbag_http_requests_total{code=\"401\"} ", &v) && v >= 4);
}

static void test_chat(int port) {
    char *body = chat_body("Hello there, how are you?", 24, "");
    int status;
    cJSON *a = post_json(port, "/v1/chat/completions", body, &status);
    CHECK(status == 200 && !strcmp(jstr(a, "object") ?: "", "chat.completion"));
    CHECK(!strcmp(jstr(a, "choices.0.message.role") ?: "", "assistant"));
    const char *content = jstr(a, "choices.0.message.content");
    const char *finish = jstr(a, "choices.0.finish_reason");
    CHECK(content && finish && (!strcmp(finish, "stop") || !strcmp(finish, "length")));
    double pt = jnum(a, "usage.prompt_tokens"), ct = jnum(a, "usage.completion_tokens");
    CHECK(pt > 0 && ct > 0 && ct <= 24 && jnum(a, "usage.total_tokens") == pt + ct);
    CHECK(!strcmp(jstr(a, "model") ?: "", g_model) && jstr(a, "id"));
    /* Greedy is deterministic, and streaming gives the same text. */
    cJSON *b = post_json(port, "/v1/chat/completions", body, &status);
    CHECK(content && !strcmp(content, jstr(b, "choices.0.message.content") ?: "x"));
    free(body);
    body = chat_body("Hello there, how are you?", 24,
                     ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    char sfinish[16] = "";
    char *streamed = chat_stream(port, body, sfinish, sizeof sfinish);
    CHECKF(streamed && content && !strcmp(streamed, content), "streamed '%s' vs '%s'",
           streamed ? streamed : "(null)", content ? content : "(null)");
    CHECK(finish && !strcmp(sfinish, finish));
    free(streamed);
    free(body);
    cJSON_Delete(a);
    cJSON_Delete(b);

    /* The usage chunk and the separate finish chunk. */
    body = chat_body("Count with me", 5,
                     ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    sc_resp r;
    CHECK(sc_request(port, "POST", "/v1/chat/completions", body, &r) && r.status == 200);
    char **ev;
    int n = sc_sse(r.body ? r.body : "", &ev);
    if (n >= 3) {
        cJSON *u = cJSON_Parse(ev[n - 2]), *f = cJSON_Parse(ev[n - 3]);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(u, "choices")) == 0 &&
              jnum(u, "usage.completion_tokens") >= 1);
        CHECK(jstr(f, "choices.0.finish_reason") &&
              cJSON_GetArraySize(cJSON_GetObjectItem(
                  cJSON_GetArrayItem(cJSON_GetObjectItem(f, "choices"), 0), "delta")) == 0);
        cJSON_Delete(u);
        cJSON_Delete(f);
    }
    sc_sse_free(ev, n);
    sc_resp_free(&r);
    free(body);
}

static void test_completions_and_tokens(int port) {
    int status;
    cJSON *t = post_json(port, "/tokenize", "{\"content\":\"hello world\",\"with_pieces\":false}",
                         &status);
    cJSON *toks = cJSON_GetObjectItemCaseSensitive(t, "tokens");
    CHECK(status == 200 && cJSON_GetArraySize(toks) > 0);
    char *ids = cJSON_PrintUnformatted(toks);
    char body[512];
    snprintf(body, sizeof body, "{\"tokens\":%s}", ids);
    cJSON *d = post_json(port, "/detokenize", body, &status);
    CHECK(status == 200 && !strcmp(jstr(d, "content") ?: "", "hello world"));
    cJSON_Delete(d);

    snprintf(body, sizeof body,
             "{\"prompt\":\"hello world\",\"max_tokens\":6,\"temperature\":0,\"logprobs\":2%s}",
             g_bias);
    cJSON *a = post_json(port, "/v1/completions", body, &status);
    CHECK(status == 200 && !strcmp(jstr(a, "object") ?: "", "text_completion"));
    const char *text = jstr(a, "choices.0.text");
    cJSON *lp = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItem(a, "choices"), 0), "logprobs");
    CHECK(text && cJSON_GetArraySize(cJSON_GetObjectItem(lp, "tokens")) == 6 &&
          cJSON_GetArraySize(cJSON_GetObjectItem(lp, "token_logprobs")) == 6 &&
          cJSON_GetArraySize(cJSON_GetArrayItem(cJSON_GetObjectItem(lp, "top_logprobs"), 0)) == 2);
    /* The same prompt as token ids gives the same text. */
    snprintf(body, sizeof body, "{\"prompt\":%s,\"max_tokens\":6,\"temperature\":0%s}", ids,
             g_bias);
    cJSON *b = post_json(port, "/v1/completions", body, &status);
    CHECK(status == 200 && text && !strcmp(text, jstr(b, "choices.0.text") ?: "x"));
    free(ids);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(t);
}

static void test_choices(int port) {
    char extra[256];
    snprintf(extra, sizeof extra, ",\"n\":3,\"temperature\":1.0,\"seed\":7%s", g_bias);
    char *body = chat_body("Tell me a story", 12, extra);
    int status;
    cJSON *a = post_json(port, "/v1/chat/completions", body, &status);
    cJSON *b = post_json(port, "/v1/chat/completions", body, &status);
    cJSON *ca = cJSON_GetObjectItem(a, "choices");
    CHECKF(status == 200 && cJSON_GetArraySize(ca) == 3, "status %d", status);
    bool differ = false;
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "choices.%d.message.content", i);
        const char *x = jstr(a, path), *y = jstr(b, path);
        CHECK(x && y && !strcmp(x, y)); /* same seed, same choices */
        CHECK(jnum(a, (snprintf(path, sizeof path, "choices.%d.index", i), path)) == i);
        if (i && x && strcmp(x, jstr(a, "choices.0.message.content") ?: "")) differ = true;
    }
    CHECK(differ);
    CHECK(jnum(a, "usage.completion_tokens") == 36);
    cJSON_Delete(a);
    cJSON_Delete(b);
    free(body);
}

/* Stop strings: the text ends before the first occurrence, also in a stream (held back). */
static void test_stop(int port) {
    char prompts[4][32] = {"Once upon a time", "The weather today", "List three colors",
                           "Say something"};
    bool tested = false;
    for (int k = 0; k < 4 && !tested; k++) {
        char *text = chat_content(port, prompts[k], 40, g_bias, NULL, 0);
        size_t len = text ? strlen(text) : 0;
        for (size_t p = 4; p + 2 < len && !tested; p++) {
            if (text[p] < 33 || text[p] > 126 || text[p + 1] < 33 || text[p + 1] > 126 ||
                text[p] == '"' || text[p] == '\\' || text[p + 1] == '"' || text[p + 1] == '\\')
                continue;
            char stop[3] = {text[p], text[p + 1], 0};
            size_t cut = (size_t)(strstr(text, stop) - text);
            char extra[256];
            snprintf(extra, sizeof extra, ",\"stop\":[\"zzzz\",\"%s\"]%s", stop, g_bias);
            char finish[16];
            char *stopped = chat_content(port, prompts[k], 40, extra, finish, sizeof finish);
            CHECKF(stopped && strlen(stopped) == cut && !strncmp(stopped, text, cut),
                   "stop '%s' in '%s' gave '%s'", stop, text, stopped ? stopped : "(null)");
            CHECK(!strcmp(finish, "stop"));
            snprintf(extra, sizeof extra, ",\"stop\":\"%s\",\"stream\":true%s", stop, g_bias);
            char *body = chat_body(prompts[k], 40, extra);
            char *streamed = chat_stream(port, body, finish, sizeof finish);
            CHECKF(streamed && stopped && !strcmp(streamed, stopped), "streamed '%s'",
                   streamed ? streamed : "(null)");
            CHECK(!strcmp(finish, "stop"));
            free(streamed);
            free(body);
            free(stopped);
            tested = true;
        }
        free(text);
    }
    CHECKF(tested, "no output long enough to test stop strings");
}

static void test_logprobs(int port) {
    char extra[256];
    snprintf(extra, sizeof extra, ",\"logprobs\":true,\"top_logprobs\":3%s", g_bias);
    char *body = chat_body("Logprobs please", 8, extra);
    int status;
    cJSON *a = post_json(port, "/v1/chat/completions", body, &status);
    cJSON *content = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "choices"), 0), "logprobs"),
        "content");
    CHECKF(status == 200 && cJSON_GetArraySize(content) == 8, "status %d, %d entries", status,
           cJSON_GetArraySize(content));
    const cJSON *e;
    cJSON_ArrayForEach(e, content) {
        cJSON *top = cJSON_GetObjectItem(e, "top_logprobs");
        double lp = jnum(e, "logprob");
        CHECK(jstr(e, "token") && cJSON_IsArray(cJSON_GetObjectItem(e, "bytes")) && lp <= 0);
        CHECK(cJSON_GetArraySize(top) == 3 && jnum(top, "0.logprob") >= jnum(top, "1.logprob") &&
              jnum(top, "1.logprob") >= jnum(top, "2.logprob"));
        /* Greedy picks the most likely token. */
        CHECK(fabs(jnum(top, "0.logprob") - lp) < 1e-6);
    }
    cJSON_Delete(a);
    free(body);
}

/* ---------------------------------------------------------------- concurrency */

typedef struct client_job {
    int port;
    char prompt[64];
    bool stream;
    const char *extra; /* more request members, or NULL */
    int max_tokens;    /* 0: 24 */
    char *out;
} client_job;

static void *client_main(void *arg) {
    client_job *j = arg;
    const char *extra = j->extra ? j->extra : "";
    int max_tokens = j->max_tokens ? j->max_tokens : 24;
    if (j->stream) {
        char more[4096];
        snprintf(more, sizeof more, ",\"stream\":true%s", extra);
        char *body = chat_body(j->prompt, max_tokens, more);
        j->out = chat_stream(j->port, body, NULL, 0);
        free(body);
    } else {
        j->out = chat_content(j->port, j->prompt, max_tokens, extra, NULL, 0);
    }
    return NULL;
}

/* n clients at once (half streaming) get exactly their solo greedy outputs. */
static void test_concurrency(int port, int n) {
    client_job jobs[16];
    char *solo[16];
    for (int i = 0; i < n; i++) {
        jobs[i] = (client_job){.port = port, .stream = i % 2};
        snprintf(jobs[i].prompt, sizeof jobs[i].prompt, "Question %d: what is %d + %d?", i, i,
                 3 * i + 1);
        solo[i] = chat_content(port, jobs[i].prompt, 24, "", NULL, 0);
    }
    pthread_t th[16];
    double t0 = sc_now();
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, client_main, &jobs[i]);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    int same = 0;
    for (int i = 0; i < n; i++) {
        bool eq = solo[i] && jobs[i].out && !strcmp(solo[i], jobs[i].out);
        same += eq;
        CHECKF(eq, "client %d: solo '%s' vs concurrent '%s'", i, solo[i] ? solo[i] : "(null)",
               jobs[i].out ? jobs[i].out : "(null)");
        free(solo[i]);
        free(jobs[i].out);
    }
    printf("concurrency: %d clients at once, %d equal to their solo runs (%.2f s)\n", n, same,
           sc_now() - t0);
}

/* Structured output: grammar-constrained greedy answers are the same alone and side by side
 * (masks are per sequence), they parse, and bad grammars or schemas are 400s naming the
 * parameter. The openai-package test (tests/server/structured.test.mjs) validates schemas. */
static void expect_status(int port, const char *body, int want, const char *param);

static void test_structured(int port) {
    const char *schema =
        ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"r\","
        "\"schema\":{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"integer\","
        "\"minimum\":1,\"maximum\":50},\"w\":{\"type\":\"string\",\"maxLength\":5},"
        "\"k\":{\"enum\":[\"x\",\"y\"]}},\"required\":[\"n\",\"w\",\"k\"],"
        "\"additionalProperties\":false}}}";
    client_job jobs[8];
    char *solo[8];
    for (int i = 0; i < 8; i++) {
        jobs[i] = (client_job){.port = port, .stream = i % 2, .extra = schema, .max_tokens = 600};
        snprintf(jobs[i].prompt, sizeof jobs[i].prompt, "Record %d as JSON", i);
        solo[i] = chat_content(port, jobs[i].prompt, 600, schema, NULL, 0);
        cJSON *j = solo[i] ? cJSON_Parse(solo[i]) : NULL;
        double n = jnum(j, "n");
        size_t chars = 0; /* maxLength counts characters */
        for (const char *w = jstr(j, "w"); w && *w; w++)
            chars += ((unsigned char)*w & 0xc0) != 0x80;
        CHECKF(j && n >= 1 && n <= 50 && jstr(j, "w") && chars <= 5 && jstr(j, "k") &&
                   strchr("xy", jstr(j, "k")[0]) && cJSON_GetArraySize(j) == 3,
               "structured answer: %s", solo[i] ? solo[i] : "(null)");
        cJSON_Delete(j);
    }
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, client_main, &jobs[i]);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++) {
        CHECKF(solo[i] && jobs[i].out && !strcmp(solo[i], jobs[i].out),
               "structured client %d: solo '%s' vs concurrent '%s'", i, solo[i] ?: "(null)",
               jobs[i].out ?: "(null)");
        free(solo[i]);
        free(jobs[i].out);
    }
    /* A grammar that ends: the end-of-generation token is forced even when biased away. */
    char extra[256];
    snprintf(extra, sizeof extra, ",\"grammar\":\"root ::= [a-c]{2} \\\".\\\"\"%s", g_bias);
    char finish[16];
    char *t = chat_content(port, "Letters", 20, extra, finish, sizeof finish);
    CHECKF(t && strlen(t) == 3 && t[2] == '.' && !strcmp(finish, "stop"), "grammar: '%s' (%s)",
           t ? t : "(null)", finish);
    free(t);
    const char *m = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    char b[512];
    snprintf(b, sizeof b, "{%s,\"grammar\":\"root ::= x\"}", m);
    expect_status(port, b, 400, "grammar");
    snprintf(b, sizeof b, "{%s,\"grammar\":7}", m);
    expect_status(port, b, 400, "grammar");
    snprintf(b, sizeof b,
             "{%s,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
             "\"a\",\"schema\":{\"type\":\"object\",\"minProperties\":1}}}}",
             m);
    expect_status(port, b, 400, "response_format");
    snprintf(b, sizeof b, "{%s,\"response_format\":{\"type\":\"json_schema\"}}", m);
    expect_status(port, b, 400, "response_format");
    snprintf(b, sizeof b, "{%s,\"response_format\":{\"type\":\"json_object\",\"x\":1}}", m);
    expect_status(port, b, 400, "response_format");
    snprintf(b, sizeof b,
             "{%s,\"response_format\":{\"type\":\"json_object\"},\"grammar\":\"root ::= "
             "\\\"a\\\"\"}",
             m);
    expect_status(port, b, 400, "grammar");
    snprintf(b, sizeof b,
             "{%s,\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\","
             "\"parameters\":{\"type\":\"object\"}}}],\"tool_choice\":\"required\","
             "\"response_format\":{\"type\":\"json_object\"}}",
             m);
    expect_status(port, b, 400, "response_format");
    printf("structured output: 8 clients at once equal to their solo runs; errors are 400s\n");
}

/* A client hanging up mid-stream stops its generation; the server keeps serving. */
static void test_disconnect(int port) {
    char extra[256];
    snprintf(extra, sizeof extra, ",\"stream\":true%s", g_bias);
    char *body = chat_body("Go on forever", 100000, extra);
    size_t len;
    char *req = sc_format_request("POST", "/v1/chat/completions", body, NULL, &len);
    int fd = sc_connect(port);
    CHECK(fd >= 0 && sc_send_all(fd, req, len));
    char buf[4096];
    ssize_t got = 0;
    double until = sc_now() + 10;
    while (got < 2000 && sc_now() < until) { /* a few chunks */
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0) break;
        got += r;
    }
    CHECK(got >= 2000);
    double running = -1;
    CHECK(metric(port, "beanbag_requests_running ", &running) && running >= 1);
    double before = 0, after_gen = 0;
    CHECK(metric(port, "beanbag_generated_tokens_total ", &before));
    close(fd);
    double t0 = sc_now();
    while (sc_now() - t0 < 5 && metric(port, "beanbag_requests_running ", &running) && running > 0)
        usleep(10 * 1000);
    CHECKF(running == 0, "still %g running after the hang-up", running);
    /* It stopped, rather than ran to the end of its 4096-token context. */
    CHECK(metric(port, "beanbag_generated_tokens_total ", &after_gen));
    CHECKF(after_gen - before < 500, "%g tokens generated after the hang-up", after_gen - before);
    printf("disconnect: generation stopped %.3f s after the hang-up\n", sc_now() - t0);
    char *after = chat_content(port, "Still there?", 4, "", NULL, 0);
    CHECK(after != NULL);
    free(after);
    free(req);
    free(body);
}

/* ---------------------------------------------------------------- hostile requests */

static void expect_status(int port, const char *body, int want, const char *param) {
    sc_resp r;
    bool ok = sc_request(port, "POST", "/v1/chat/completions", body, &r);
    cJSON *j = ok ? sc_json(&r) : NULL;
    CHECKF(ok && r.status == want, "%.80s: status %d, want %d", body, r.status, want);
    CHECKF(jstr(j, "error.message"), "%.80s: no error message in %.200s", body, r.body);
    if (param)
        CHECKF(!strcmp(jstr(j, "error.param") ?: "", param), "%.80s: param %s", body,
               jstr(j, "error.param") ?: "(none)");
    cJSON_Delete(j);
    sc_resp_free(&r);
}

static void test_hostile(int port) {
    const char *m = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    char b[512];
    expect_status(port, "{\"messages\": [", 400, NULL);
    expect_status(port, "", 400, NULL);
    expect_status(port, "[1,2,3]", 400, NULL);
    expect_status(port, "{} trailing", 400, NULL);
    expect_status(port, "{\"messages\":\"hi\"}", 400, "messages");
    expect_status(port, "{\"messages\":[]}", 400, "messages");
    expect_status(port, "{\"messages\":[{\"content\":\"no role\"}]}", 400, "messages[0].role");
    /* Message validation (roles, tool messages, past tool calls): 400 naming the field. */
    static const struct {
        const char *messages, *param;
    } badmsg[] = {
        {"[{\"role\":\"wizard\",\"content\":\"hi\"}]", "messages[0].role"},
        {"[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"tool\",\"content\":\"1\"}]",
         "messages[1].tool_call_id"},
        {"[{\"role\":\"user\"}]", "messages[0].content"},
        {"[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":{}}]", "messages[0].tool_calls"},
        {"[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
         "\"function\":{\"name\":\"f\",\"arguments\":{}}}]}]",
         "messages[0].tool_calls[0].function.arguments"},
        {"[{\"role\":\"assistant\",\"tool_calls\":[{\"type\":\"function\",\"function\":{"
         "\"name\":\"f\",\"arguments\":\"{}\"}}]}]",
         "messages[0].tool_calls[0].id"},
        {"[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"code\",\"function\":{"
         "\"name\":\"f\",\"arguments\":\"{}\"}}]}]",
         "messages[0].tool_calls[0].type"},
        {"[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"type\":\"function\","
         "\"function\":{\"arguments\":\"{}\"}}]}]",
         "messages[0].tool_calls[0].function.name"},
        {"[{\"role\":\"system\",\"content\":\"x\",\"name\":5}]", "messages[0].name"},
    };
    for (size_t i = 0; i < sizeof badmsg / sizeof badmsg[0]; i++) {
        snprintf(b, sizeof b, "{\"messages\":%s}", badmsg[i].messages);
        expect_status(port, b, 400, badmsg[i].param);
    }
    expect_status(port,
                  "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
                  400, "messages");
    expect_status(port,
                  "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                  404, "model");
    struct {
        const char *member, *param;
    } bad[] = {
        {"\"max_tokens\":-5", "max_tokens"},
        {"\"max_tokens\":0", "max_tokens"},
        {"\"max_tokens\":1e300", "max_tokens"},
        {"\"max_tokens\":2.5", "max_tokens"},
        {"\"max_tokens\":\"10\"", "max_tokens"},
        {"\"temperature\":\"hot\"", "temperature"},
        {"\"temperature\":1e308", "temperature"},
        {"\"temperature\":-1", "temperature"},
        {"\"top_p\":2", "top_p"},
        {"\"n\":1e20", "n"},
        {"\"n\":0", "n"},
        {"\"n\":100", "n"},
        {"\"seed\":1e40", "seed"},
        {"\"stream\":\"yes\"", "stream"},
        {"\"stop\":[1,2]", "stop"},
        {"\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]", "stop"},
        {"\"logit_bias\":{\"abc\":1}", "logit_bias"},
        {"\"logit_bias\":{\"1\":1000}", "logit_bias"},
        {"\"logit_bias\":{\"99999999\":1}", "logit_bias"},
        {"\"presence_penalty\":9", "presence_penalty"},
        {"\"top_logprobs\":3", "top_logprobs"},
        {"\"logprobs\":true,\"top_logprobs\":50", "top_logprobs"},
        {"\"stream_options\":{\"include_usage\":true}", "stream_options"},
        {"\"unknown_thing\":1", "unknown_thing"},
        {"\"tools\":[{\"type\":\"function\"}]", "tools[0]"},
        {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a b\"}}]", "tools[0]"},
        {"\"tools\":{}", "tools"},
        {"\"tool_choice\":\"required\"", "tool_choice"},
        {"\"tool_choice\":\"sometimes\"", "tool_choice"},
        {"\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\"}}],\"tool_choice\":{"
         "\"type\":\"function\",\"function\":{\"name\":\"b\"}}",
         "tool_choice"},
        {"\"parallel_tool_calls\":1", "parallel_tool_calls"},
        {"\"chat_template_kwargs\":[]", "chat_template_kwargs"},
        {"\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":-1", "max_tokens"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(b, sizeof b, "{%s,%s}", m, bad[i].member);
        expect_status(port, b, 400, bad[i].param);
    }
    /* Invalid UTF-8 in a string. */
    expect_status(port, "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\xc0\x80\"}]}",
                  400, NULL);
    /* A prompt longer than the context: both lengths in the message. */
    size_t big = 12000;
    char *longp = malloc(big + 200);
    int n = snprintf(longp, 200, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
    memset(longp + n, 'a', big);
    strcpy(longp + n + big, "\"}]}");
    sc_resp r;
    CHECK(sc_request(port, "POST", "/v1/chat/completions", longp, &r) && r.status == 400 &&
          strstr(r.body, "context_length_exceeded") && strstr(r.body, "4096"));
    sc_resp_free(&r);
    free(longp);
    /* Giant bodies: declared (refused before reading) and chunked (refused at the limit). */
    const char *giant =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " API_KEY
        "\r\nContent-Length: 100000000\r\n\r\n{\"messages\":";
    CHECK(sc_raw(port, giant, strlen(giant), 10, &r) && r.status == 413);
    sc_resp_free(&r);
    size_t chunk = 16384, total = 5;
    char *req = malloc(200 + total * (chunk + 16));
    int o = snprintf(req, 200,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: "
                     "Bearer " API_KEY "\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t i = 0; i < total; i++) {
        o += sprintf(req + o, "%zx\r\n", chunk);
        memset(req + o, ' ', chunk);
        o += (int)chunk;
        o += sprintf(req + o, "\r\n");
    }
    o += sprintf(req + o, "0\r\n\r\n");
    CHECK(sc_raw(port, req, (size_t)o, 10, &r) && r.status == 413);
    sc_resp_free(&r);
    free(req);
    /* Headers beyond the limit. */
    req = malloc(200000);
    o = sprintf(req, "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + o, 'b', 150000);
    o += 150000;
    o += sprintf(req + o, "\r\n\r\n");
    CHECK(sc_raw(port, req, (size_t)o, 10, &r) && r.status >= 400 && r.status < 500);
    sc_resp_free(&r);
    free(req);
    /* Not HTTP at all. */
    CHECK(!sc_raw(port, "\x16\x03\x01garbage\r\n\r\n", 14, 5, &r) || r.status >= 400);
    sc_resp_free(&r);
    /* Still serving. */
    CHECK(sc_request(port, "GET", "/health", NULL, &r) && r.status == 200);
    sc_resp_free(&r);
}

/* ---------------------------------------------------------------- oversized bodies */

#define BIG_BODY ((size_t)24 << 20) /* more than loopback socket buffers hold */

/* Sends a request's head, then up to `body` bytes of filler as fast as the server takes them,
 * the way most client libraries write a whole request before reading; then reads the answer.
 * *sent: body bytes the server took before the connection broke. */
static bool write_then_read(int port, const char *head, size_t body, bool chunked, size_t *sent,
                            sc_resp *r) {
    memset(r, 0, sizeof *r);
    *sent = 0;
    int fd = sc_connect(port);
    if (fd < 0 || !sc_send_all(fd, head, strlen(head))) {
        if (fd >= 0) close(fd);
        return false;
    }
    size_t piece = 65536;
    char *buf = malloc(piece + 32);
    bool ok = buf != NULL;
    while (ok && *sent < body) {
        size_t n = body - *sent < piece ? body - *sent : piece, o = 0;
        if (chunked) o = (size_t)sprintf(buf, "%zx\r\n", n);
        memset(buf + o, ' ', n);
        if (chunked) memcpy(buf + o + n, "\r\n", 2);
        ok = sc_send_all(fd, buf, o + n + (chunked ? 2 : 0));
        if (ok) *sent += n;
    }
    if (ok && chunked) ok = sc_send_all(fd, "0\r\n\r\n", 5);
    size_t len = 0;
    char *raw = sc_read_all(fd, 5, &len);
    close(fd);
    free(buf);
    return sc_parse(raw, len, r) && ok;
}

static void expect_error_body(const sc_resp *r, int status, const char *code, const char *what) {
    cJSON *j = sc_json(r);
    CHECKF(r->status == status && !strcmp(jstr(j, "error.code") ?: "", code),
           "%s: status %d, body %.200s", what, r->status, r->body ? r->body : "(none)");
    cJSON_Delete(j);
}

/* A body over --max-body (64 KiB here) gets a readable 413 however the client sends it: the
 * answer goes out as soon as the declared or received length passes the limit, and the rest
 * of the upload is drained (up to a bound) so that a client still writing does not get a
 * reset instead of the answer. */
static void test_oversized(int port) {
    char head[512];
    sc_resp r;
    size_t sent;
    /* Declared: the whole upload is taken, then the 413 read. */
    snprintf(head, sizeof head,
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " API_KEY
             "\r\nContent-Length: %zu\r\n\r\n",
             BIG_BODY);
    CHECKF(write_then_read(port, head, BIG_BODY, false, &sent, &r),
           "declared: the server took %zu of %zu bytes, then status %d", sent, BIG_BODY, r.status);
    expect_error_body(&r, 413, "request_too_large", "declared length");
    sc_resp_free(&r);
    /* Refused for another reason before the body (no key): the same drain. */
    snprintf(head, sizeof head,
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
             BIG_BODY);
    CHECKF(write_then_read(port, head, BIG_BODY, false, &sent, &r),
           "401: the server took %zu of %zu bytes", sent, BIG_BODY);
    expect_error_body(&r, 401, "invalid_api_key", "no key, big body");
    sc_resp_free(&r);
    /* Chunked: refused once the received length passes the limit, the rest drained. */
    const char *chunked_head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: "
                               "Bearer " API_KEY "\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECKF(write_then_read(port, chunked_head, BIG_BODY, true, &sent, &r),
           "chunked: the server took %zu of %zu bytes, then status %d", sent, BIG_BODY, r.status);
    expect_error_body(&r, 413, "request_too_large", "chunked");
    sc_resp_free(&r);
    /* Chunked, the upload left unfinished: the 413 comes at once, not at the end. */
    int fd = sc_connect(port);
    char *chunk = malloc(100000 + 64);
    int o = sprintf(chunk, "%x\r\n", 100000);
    memset(chunk + o, ' ', 100000);
    double t0 = sc_now();
    CHECK(fd >= 0 && chunk && sc_send_all(fd, chunked_head, strlen(chunked_head)) &&
          sc_send_all(fd, chunk, (size_t)o + 100000));
    char buf[1024] = "";
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t got = poll(&p, 1, 1500) > 0 ? recv(fd, buf, sizeof buf - 1, 0) : -1;
    if (got > 0) buf[got] = 0;
    CHECKF(!strncmp(buf, "HTTP/1.1 413", 12) && strstr(buf, "request_too_large"),
           "unfinished chunked upload: after %.2f s: %.100s", sc_now() - t0, buf);
    close(fd);
    free(chunk);
    /* The drain is bounded: a client that never stops is cut off. */
    snprintf(head, sizeof head,
             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " API_KEY
             "\r\nContent-Length: 100000000000\r\n\r\n");
    size_t endless = (size_t)160 << 20;
    write_then_read(port, head, endless, false, &sent, &r);
    CHECKF(sent < endless, "the server drained all %zu bytes of an endless upload", sent);
    sc_resp_free(&r);
    /* Expect: 100-continue: a too-large body is refused without the 100, a good one gets it. */
    const char *expect_big = "POST /tokenize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " API_KEY
                             "\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n";
    CHECK(sc_raw(port, expect_big, strlen(expect_big), 3, &r));
    expect_error_body(&r, 413, "request_too_large", "Expect with a big body");
    sc_resp_free(&r);
    const char *body = "{\"content\":\"hi\"}";
    snprintf(head, sizeof head,
             "POST /tokenize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " API_KEY
             "\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
             strlen(body));
    fd = sc_connect(port);
    CHECK(fd >= 0 && sc_send_all(fd, head, strlen(head)));
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    got = poll(&p, 1, 3000) > 0 ? recv(fd, buf, sizeof buf - 1, 0) : -1;
    if (got > 0) buf[got] = 0;
    CHECKF(got > 0 && !strncmp(buf, "HTTP/1.1 100", 12), "Expect: got %.60s", got > 0 ? buf : "");
    CHECK(sc_send_all(fd, body, strlen(body)));
    size_t len = 0;
    char *raw = sc_read_all(fd, 3, &len);
    close(fd);
    CHECKF(raw && strstr(raw, "HTTP/1.1 200") && strstr(raw, "\"tokens\""),
           "Expect: after the body: %.100s", raw ? raw : "");
    free(raw);
}

/* Framing libmicrohttpd passes on that must not be guessed at (RFC 9112 6.1, 6.3). */
static void test_framing(int port) {
    static const struct {
        const char *head;
        int status;
        const char *says; /* in the body */
    } cases[] = {
        /* an unknown transfer coding: the body would run until the client closes */
        {"Transfer-Encoding: gzip\r\n", 501, "chunked"},
        {"Transfer-Encoding: gzip, chunked\r\n", 501, "chunked"},
        /* lengths that disagree (request smuggling) */
        {"Content-Length: 5\r\nContent-Length: 7\r\n", 400, "Content-Length"},
        {"Expect: something-else\r\nContent-Length: 5\r\n", 417, "100-continue"},
        /* chunk framing the library refuses itself */
        {"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n", 400, ""},
        {"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nabc\r\n0\r\n", 413, ""},
        {"Content-Length: -5\r\n", 400, ""},
        {"Content-Length: 99999999999999999999999\r\n", 413, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char req[512];
        bool has_body = strstr(cases[i].head, "\r\n\r\n") != NULL;
        int n = snprintf(req, sizeof req,
                         "POST /tokenize HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " API_KEY
                         "\r\nConnection: close\r\n%s%s",
                         cases[i].head, has_body ? "\r\n" : "\r\n{\"co}");
        sc_resp r;
        double t0 = sc_now();
        bool ok = sc_raw(port, req, (size_t)n, 5, &r);
        CHECKF(ok && r.status == cases[i].status && sc_now() - t0 < 3 &&
                   strstr(r.body, cases[i].says),
               "framing '%.40s': status %d (want %d) after %.2f s", cases[i].head, r.status,
               cases[i].status, sc_now() - t0);
        sc_resp_free(&r);
    }
    /* A URL past the header limit. */
    char *req = malloc(100100);
    int o = sprintf(req, "GET /health?");
    memset(req + o, 'a', 100000);
    o += 100000;
    o += sprintf(req + o, " HTTP/1.1\r\nHost: x\r\n\r\n");
    sc_resp r;
    CHECK(sc_raw(port, req, (size_t)o, 5, &r) && (r.status == 414 || r.status == 431));
    sc_resp_free(&r);
    free(req);
}

/* A client trickling its request is cut off after --timeout (2 s) while others are served. */
static void test_slow_clients(int port) {
    const char *partial[] = {"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n",
                             "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: "
                             "Bearer " API_KEY "\r\nContent-Length: 60\r\n\r\n{\"messages\":"};
    for (int k = 0; k < 2; k++) {
        int fd = sc_connect(port);
        CHECK(fd >= 0 && sc_send_all(fd, partial[k], strlen(partial[k])));
        double t0 = sc_now(), closed_at = -1;
        bool served = false;
        while (sc_now() - t0 < 8 && closed_at < 0) {
            /* Keep trickling: one byte every 200 ms. */
            if (!sc_send_all(fd, k ? " " : "X", 1)) closed_at = sc_now();
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 200) > 0) {
                char buf[256];
                if (recv(fd, buf, sizeof buf, 0) <= 0) closed_at = sc_now();
            }
            if (!served && sc_now() - t0 > 0.5) {
                sc_resp r;
                served = sc_request(port, "GET", "/health", NULL, &r) && r.status == 200;
                sc_resp_free(&r);
            }
        }
        close(fd);
        CHECK(served);
        CHECKF(closed_at > 0 && closed_at - t0 < 4.5, "slow %s: closed after %.2f s",
               k ? "body" : "headers", closed_at > 0 ? closed_at - t0 : -1);
        printf("slow %s: connection closed after %.2f s (--timeout 2)\n", k ? "body" : "headers",
               closed_at - t0);
    }
}

/* ---------------------------------------------------------------- overload and shutdown */

typedef struct open_stream {
    int fd;
} open_stream;

/* Starts a streamed chat request and waits for its response headers. */
static bool stream_open(int port, const char *body, open_stream *s, int *status) {
    size_t len;
    char *req = sc_format_request("POST", "/v1/chat/completions", body, NULL, &len);
    s->fd = sc_connect(port);
    bool ok = s->fd >= 0 && sc_send_all(s->fd, req, len);
    free(req);
    char buf[1024];
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    ssize_t n = ok && poll(&p, 1, 10000) > 0 ? recv(s->fd, buf, sizeof buf - 1, 0) : -1;
    if (n <= 0) return false;
    buf[n] = 0;
    return sscanf(buf, "HTTP/1.1 %d", status) == 1;
}

static void test_overload(const char *model_path) {
    sc_server srv;
    const char *args[] = {"-m",          model_path,
                          "--parallel",  "1",
                          "--max-queue", "1",
                          "--ctx-size",  "8192",
                          "--threads",   "1",
                          "--api-key",   API_KEY,
                          "-q",          "--shutdown-timeout",
                          "1",           "--max-client-connections",
                          "6",           NULL};
    if (!sc_server_start(&srv, args)) {
        CHECKF(0, "overload server did not start");
        return;
    }
    /* One client cannot hold every connection: past --max-client-connections (6) its new
     * connections are closed unanswered, and served again once it lets go of some. */
    int idle[6];
    for (int i = 0; i < 6; i++)
        CHECK((idle[i] = sc_connect(srv.port)) >= 0);
    sc_resp r;
    bool served = sc_request(srv.port, "GET", "/health", NULL, &r) && r.status == 200;
    sc_resp_free(&r);
    CHECKF(!served, "a 7th connection from one client was served");
    for (int i = 0; i < 6; i++)
        close(idle[i]);
    for (double t0 = sc_now(); !served && sc_now() - t0 < 5; usleep(20 * 1000)) {
        served = sc_request(srv.port, "GET", "/health", NULL, &r) && r.status == 200;
        sc_resp_free(&r);
    }
    CHECKF(served, "not served after the idle connections closed");
    char extra[256];
    snprintf(extra, sizeof extra, ",\"stream\":true%s", g_bias);
    char *body = chat_body("Keep talking", 100000, extra);
    open_stream a, b;
    int sa = 0, sb = 0;
    CHECK(stream_open(srv.port, body, &a, &sa) && sa == 200);
    CHECK(wait_metric(srv.port, "beanbag_requests_running ", 1)); /* A runs */
    CHECK(stream_open(srv.port, body, &b, &sb) && sb == 200);
    CHECK(wait_metric(srv.port, "beanbag_requests_waiting ", 1)); /* B waits */
    size_t len;
    char *req = sc_format_request("POST", "/v1/chat/completions", body, NULL, &len);
    CHECK(sc_raw(srv.port, req, len, 10, &r));
    char retry[16] = "";
    CHECKF(r.status == 503 && sc_header(&r, "Retry-After", retry, sizeof retry) &&
               strstr(r.body, "\"error\""),
           "queue full: status %d", r.status);
    printf("overload: third request got %d with Retry-After: %s\n", r.status, retry);
    sc_resp_free(&r);
    /* Recovery: the running one hangs up, the waiting one starts, a new one is accepted. */
    close(a.fd);
    CHECKF(wait_metric(srv.port, "beanbag_requests_waiting ", 0),
           "the waiting request did not start after the hang-up");
    int sc = 0;
    open_stream c;
    CHECK(stream_open(srv.port, body, &c, &sc) && sc == 200);
    /* Shutdown with requests in flight past the deadline (1 s): they are cancelled, the
     * streams end, the process exits 0. */
    double t0 = sc_now();
    int rc = sc_server_stop(&srv, 20);
    CHECKF(rc == 0, "exit status %d", rc);
    printf("shutdown with 2 endless requests: exit %d after %.2f s (--shutdown-timeout 1)\n", rc,
           sc_now() - t0);
    close(b.fd);
    close(c.fd);
    free(req);
    free(body);
}

/* SIGTERM while a stream runs: /health turns 503 "draining" at once while the socket stays
 * open, a new completion gets 503 (a balancer retries it elsewhere), the stream completes
 * ([DONE]), then the server exits 0. */
static void test_graceful(sc_server *srv) {
    char extra[256];
    snprintf(extra, sizeof extra, ",\"stream\":true%s", g_bias);
    char *body = chat_body("Last words", 1000, extra);
    open_stream s;
    int status = 0;
    CHECK(stream_open(srv->port, body, &s, &status) && status == 200);
    kill(srv->pid, SIGTERM);
    bool draining = false;
    for (double until = sc_now() + 5; !draining && sc_now() < until;) {
        sc_resp r;
        if (sc_request(srv->port, "GET", "/health", NULL, &r))
            draining = r.status == 503 && strstr(r.body, "draining");
        sc_resp_free(&r);
    }
    CHECKF(draining, "/health did not say draining while a stream ran");
    sc_resp r;
    char *small = chat_body("Too late", 4, "");
    CHECK(sc_request(srv->port, "POST", "/v1/chat/completions", small, &r) && r.status == 503);
    sc_resp_free(&r);
    free(small);
    size_t n;
    char *rest = sc_read_all(s.fd, 60, &n);
    CHECKF(rest && strstr(rest, "data: [DONE]"), "the stream did not finish");
    int rc = sc_server_stop(srv, 30);
    CHECKF(rc == 0, "exit status %d", rc);
    free(rest);
    close(s.fd);
    free(body);
}

/* ---------------------------------------------------------------- curl */

/* Runs curl on a body (written to a file); returns its output (free) or NULL. */
static char *curl(int port, const char *path, const char *body, const char *opts) {
    char file[] = "/tmp/bb_test_curl_XXXXXX";
    int fd = mkstemp(file);
    if (fd < 0) return NULL;
    bool ok = !body || write(fd, body, strlen(body)) == (ssize_t)strlen(body);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -sS %s -H 'Authorization: Bearer " API_KEY "' -H 'Content-Type: "
             "application/json' %s%s http://127.0.0.1:%d%s",
             opts, body ? "--data-binary @" : "", body ? file : "", port, path);
    FILE *p = ok ? popen(cmd, "r") : NULL;
    size_t len = 0;
    char *out = p ? sc_read_all(fileno(p), 30, &len) : NULL;
    if (p) pclose(p);
    unlink(file);
    return out;
}

/* curl as a client: a whole response, a stream (-N) with the same text, a refused key. */
static void test_curl(int port) {
    if (system("curl --version > /dev/null 2>&1") != 0) {
        printf("SKIP: curl tests (curl is not installed)\n");
        return;
    }
    char *body = chat_body("Hello from curl", 12, "");
    char *whole = curl(port, "/v1/chat/completions", body, "");
    cJSON *j = whole ? cJSON_Parse(whole) : NULL;
    const char *text = jstr(j, "choices.0.message.content");
    CHECKF(text, "curl: %s", whole ? whole : "(no output)");
    free(body);
    body = chat_body("Hello from curl", 12, ",\"stream\":true");
    char *sse = curl(port, "/v1/chat/completions", body, "-N");
    char **ev;
    int n = sc_sse(sse ? sse : "", &ev);
    CHECK(n > 2 && !strcmp(ev[n - 1], "[DONE]"));
    bb_strbuf streamed = {0};
    for (int i = 0; i < n - 1; i++) {
        cJSON *c = cJSON_Parse(ev[i]);
        const char *piece = jstr(c, "choices.0.delta.content");
        if (piece) bb_strbuf_append(&streamed, piece, strlen(piece));
        cJSON_Delete(c);
    }
    CHECKF(text && !strcmp(streamed.data ? streamed.data : "", text), "curl stream '%s' vs '%s'",
           streamed.data ? streamed.data : "", text ? text : "(null)");
    bb_strbuf_release(&streamed);
    sc_sse_free(ev, n);
    char *code = curl(port, "/v1/models", NULL,
                      "-o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope'");
    CHECKF(code && !strcmp(code, "401"), "curl with a wrong key: %s", code ? code : "(none)");
    free(code);
    /* A body over --max-body, sent with Expect: 100-continue (curl's way for big uploads),
     * without it, and chunked: curl reads the 413 and its error body every time. */
    size_t big = (size_t)8 << 20;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[big] = 0;
    const char *ways[] = {"-H 'Expect: 100-continue'", "-H 'Expect:'",
                          "-H 'Transfer-Encoding: chunked'"};
    for (int i = 0; i < 3; i++) {
        char opts[256];
        snprintf(opts, sizeof opts, "%s -w '\\n%%{http_code}'", ways[i]);
        char *out = curl(port, "/v1/chat/completions", huge, opts);
        CHECKF(out && strstr(out, "\"request_too_large\"") && strstr(out, "\n413"),
               "curl %s, 8 MiB body: %.200s", ways[i], out ? out : "(no output)");
        free(out);
    }
    free(huge);
    free(sse);
    free(body);
    cJSON_Delete(j);
    free(whole);
}

/* ---------------------------------------------------------------- TLS */

/* --tls-cert/--tls-key: HTTPS with a self-signed certificate made here, checked by curl
 * against it; plain HTTP on that port gets nothing; a body past --max-body still gets 413. */
static void test_tls(const char *model_path) {
    if (system("openssl version > /dev/null 2>&1") != 0 ||
        system("curl --version > /dev/null 2>&1") != 0) {
        printf("SKIP: TLS test (needs openssl and curl)\n");
        return;
    }
    char dir[] = "/tmp/bb_test_tls_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char cmd[1024], cert[128], key[128];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 -subj "
             "/CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 > /dev/null 2>&1",
             key, cert);
    CHECKF(system(cmd) == 0, "openssl could not make a certificate");
    sc_server srv;
    const char *args[] = {"-m", model_path,   "--tls-cert", cert, "--tls-key",
                          key,  "--max-body", "65536",      "-q", NULL};
    if (!sc_server_start(&srv, args)) {
        CHECKF(0, "TLS server did not start");
        return;
    }
    snprintf(cmd, sizeof cmd,
             "curl -sS --cacert %s https://127.0.0.1:%d/v1/chat/completions -d "
             "'{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}'",
             cert, srv.port);
    FILE *p = popen(cmd, "r");
    size_t len = 0;
    char *out = p ? sc_read_all(fileno(p), 30, &len) : NULL;
    if (p) pclose(p);
    CHECKF(out && strstr(out, "\"chat.completion\""), "HTTPS chat: %.200s", out ? out : "");
    free(out);
    /* a big body over TLS, chunked and declared: 413, readable */
    char big[160];
    snprintf(big, sizeof big, "%s/big", dir);
    FILE *f = fopen(big, "wb");
    for (int i = 0; f && i < 4096; i++)
        fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
              f);
    if (f) fclose(f);
    const char *ways[] = {"-H 'Transfer-Encoding: chunked'", "-H 'Expect:'"};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "curl -sS --cacert %s %s -w '\\n%%{http_code}' --data-binary @%s "
                 "https://127.0.0.1:%d/v1/chat/completions",
                 cert, ways[i], big, srv.port);
        p = popen(cmd, "r");
        out = p ? sc_read_all(fileno(p), 30, &len) : NULL;
        if (p) pclose(p);
        CHECKF(out && strstr(out, "request_too_large") && strstr(out, "\n413"),
               "HTTPS, big body (%s): %.200s", ways[i], out ? out : "");
        free(out);
    }
    /* plain HTTP to the HTTPS port: no HTTP answer */
    sc_resp r;
    CHECK(!sc_request(srv.port, "GET", "/health", NULL, &r) || r.status == 0 || r.status >= 400);
    sc_resp_free(&r);
    CHECKF(sc_server_stop(&srv, 20) == 0, "TLS server exit status");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* ---------------------------------------------------------------- the openai package */

static void run_node_script(int port, const char *script, const char *model);

static void test_openai_sdk(int port) {
    run_node_script(port, "openai_client.test.mjs", g_model);
    run_node_script(port, "structured.test.mjs", g_model); /* response_format, ajv */
}

static void run_node_script(int port, const char *script, const char *model) {
    const char *src = getenv("BB_SRC");
    if (!src || system("node --version > /dev/null 2>&1") != 0) {
        printf("SKIP: openai npm tests (node is not installed)\n");
        return;
    }
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/tests/server", src);
    snprintf(cmd, sizeof cmd, "%s/node_modules/openai/package.json", dir);
    char cmd2[1100];
    snprintf(cmd2, sizeof cmd2, "%s/node_modules/ajv-formats/package.json", dir);
    struct stat st;
    if (stat(cmd, &st) != 0 || stat(cmd2, &st) != 0) {
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && npm install --no-audit --no-fund --loglevel=error > /dev/null 2>&1",
                 dir);
        if (system(cmd) != 0) {
            printf("SKIP: openai npm tests (npm could not install the openai package)\n");
            return;
        }
    }
    snprintf(cmd, sizeof cmd,
             "cd '%s' && BB_URL=http://127.0.0.1:%d/v1 BB_KEY=" API_KEY " BB_MODEL='%s' node %s",
             dir, port, model, script);
    int rc = system(cmd);
    CHECKF(rc == 0, "%s failed (status %d)", script, rc);
}

/* ---------------------------------------------------------------- tools and reasoning */

/* The scripted model's template: Hermes-style tool calls as Qwen2.5's template teaches them,
 * thinking markers stripped from past replies as Qwen3's does, enable_thinking honoured. */
static const char script_template[] =
    "{%- if tools %}{{ '<|im_start|>system\\n' }}{%- if messages[0].role == 'system' %}{{ "
    "messages[0].content + '\\n\\n' }}{%- endif %}{{ '# Tools\\n<tools>' }}{%- for t in tools %}{{ "
    "'\\n' + (t | tojson) }}{%- endfor %}{{ '\\n</tools>\\nCall a function with "
    "<tool_call>{\"name\": <name>, \"arguments\": <args>}</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0].role == 'system' %}{{ '<|im_start|>system\\n' + messages[0].content + "
    "'<|im_end|>\\n' }}{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}{{ '<|im_start|>user\\n' + m.content + '<|im_end|>\\n' }}"
    "{%- elif m.role == 'assistant' %}{{ '<|im_start|>assistant' }}"
    "{%- set content = m.content or '' %}{%- if '</think>' in content %}{%- set content = "
    "content.split('</think>')[-1].lstrip('\\n') %}{%- endif %}"
    "{%- if content %}{{ '\\n' + content }}{%- endif %}"
    "{%- for tc in m.tool_calls or [] %}{{ '\\n<tool_call>\\n{\"name\": \"' + tc.function.name + "
    "'\", \"arguments\": ' + (tc.function.arguments | tojson) + '}\\n</tool_call>' }}{%- endfor %}"
    "{{ '<|im_end|>\\n' }}"
    "{%- elif m.role == 'tool' %}{{ '<|im_start|>user\\n<tool_response>\\n' + m.content + "
    "'\\n</tool_response><|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- if enable_thinking is "
    "defined and enable_thinking is false %}{{ '<think>\\n\\n</think>\\n\\n' }}{%- endif %}{%- "
    "endif %}";

static const script_link script_links[] = {
    /* After "assistant\n": a call ... */
    {"\n", "<tool", 1.0f}, /* the marker split across two tokens */
    {"<tool", "_call>", 1.0f},
    {"_call>", "\n{\"name\": ", 1.0f},
    {"\n{\"name\": ", "\"get_weather\"", 1.0f},
    {"\"get_weather\"", ", \"arguments\": ", 1.0f},
    {", \"arguments\": ", "{\"city\": ", 1.0f},
    {"{\"city\": ", "\"Paris\"", 1.0f},
    {"\"Paris\"", "}}", 1.0f},
    {"}}", "\n</tool_call>", 1.0f},
    {"\n</tool_call>", "END", 1.0f},
    /* ... or, with <tool banned, thinking and an answer. */
    {"\n", "<think>", 0.5f},
    {"<think>", "\nThe user wants the weather.", 1.0f},
    {"\nThe user wants the weather.", "\n</thi", 1.0f},
    {"\n</thi", "nk>", 1.0f},
    {"nk>", "\n\nIt is 18 degrees in Paris.", 1.0f},
    {"\n\nIt is 18 degrees in Paris.", "END", 1.0f},
};

static const char tools_body[] =
    "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in "
    "Paris?\"}],\"temperature\":0,\"max_tokens\":64,\"tools\":[{\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"}}}}}]%s}";

/* A streamed request's deltas put back together: content, reasoning, calls (name\targs). */
static void reassemble(const char *sse, bb_strbuf *content, bb_strbuf *reasoning, bb_strbuf *calls,
                       char *finish, size_t cap) {
    char **ev;
    int n = sc_sse(sse ? sse : "", &ev);
    for (int i = 0; i < n; i++) {
        cJSON *c = cJSON_Parse(ev[i]);
        const char *t;
        if ((t = jstr(c, "choices.0.delta.content"))) bb_strbuf_append(content, t, strlen(t));
        if ((t = jstr(c, "choices.0.delta.reasoning_content")))
            bb_strbuf_append(reasoning, t, strlen(t));
        const cJSON *tc = jget(c, "choices.0.delta.tool_calls"), *x;
        cJSON_ArrayForEach(x, tc) {
            if ((t = jstr(x, "function.name")))
                bb_strbuf_printf(calls, "%s%s\t", calls->len ? "\n" : "", t);
            if ((t = jstr(x, "function.arguments"))) bb_strbuf_append(calls, t, strlen(t));
        }
        if ((t = jstr(c, "choices.0.finish_reason"))) snprintf(finish, cap, "%s", t);
        cJSON_Delete(c);
    }
    sc_sse_free(ev, n);
}

static void test_tools(void) {
    char path[] = "/tmp/bb_test_tools_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    script_model sm = {.links = script_links,
                       .n_links = sizeof script_links / sizeof script_links[0],
                       .chat_template = script_template};
    for (size_t i = 0; i < sm.n_links; i++)
        for (int k = 0; k < 2; k++) {
            const char *t = k ? script_links[i].to : script_links[i].from;
            if (strcmp(t, "END") && strlen(t) > 1 && script_token(&sm, t) < 0)
                sm.pieces[sm.n_pieces++] = t;
        }
    bb_error err = {0};
    CHECKF(fd >= 0 && script_model_write(&sm, path, &err) == BB_OK, "scripted model: %s",
           err.message);
    sc_server srv;
    const char *args[] = {"-m", path, "--threads", "2", "--api-key", API_KEY, "-q", NULL};
    if (!sc_server_start(&srv, args)) {
        CHECKF(0, "the scripted server did not start");
        unlink(path);
        return;
    }
    int port = srv.port;
    sc_resp r;
    CHECK(sc_request(port, "GET", "/v1/models", NULL, &r) && r.status == 200);
    cJSON *j = sc_json(&r);
    char model[128];
    snprintf(model, sizeof model, "%s", jstr(j, "data.0.id") ?: "");
    cJSON_Delete(j);
    sc_resp_free(&r);

    /* Whole: one call, content null, finish_reason tool_calls. */
    char body[2048];
    snprintf(body, sizeof body, tools_body, model, "");
    int status = 0;
    j = post_json(port, "/v1/chat/completions", body, &status);
    const char *id = jstr(j, "choices.0.message.tool_calls.0.id");
    const char *args0 = jstr(j, "choices.0.message.tool_calls.0.function.arguments");
    CHECKF(status == 200 && id && !strncmp(id, "call_", 5) && strlen(id) == 29, "tool call id %s",
           id ?: "(none)");
    CHECK(!strcmp(jstr(j, "choices.0.message.tool_calls.0.type") ?: "", "function"));
    CHECK(!strcmp(jstr(j, "choices.0.message.tool_calls.0.function.name") ?: "", "get_weather"));
    CHECKF(args0 && !strcmp(args0, "{\"city\": \"Paris\"}"), "arguments %s", args0 ?: "(none)");
    CHECK(cJSON_IsNull(jget(j, "choices.0.message.content")));
    CHECK(!strcmp(jstr(j, "choices.0.finish_reason") ?: "", "tool_calls"));
    /* Streamed: the same call. */
    snprintf(body, sizeof body, tools_body, model, ",\"stream\":true");
    bb_strbuf content = {0}, reasoning = {0}, calls = {0};
    char finish[32] = "";
    CHECK(sc_request(port, "POST", "/v1/chat/completions", body, &r) && r.status == 200);
    reassemble(r.body, &content, &reasoning, &calls, finish, sizeof finish);
    sc_resp_free(&r);
    CHECKF(calls.data && !strcmp(calls.data, "get_weather\t{\"city\": \"Paris\"}") &&
               content.len == 0 && !strcmp(finish, "tool_calls"),
           "streamed calls '%s' content '%s' finish %s", calls.data ?: "", content.data ?: "",
           finish);
    cJSON_Delete(j);
    bb_strbuf_release(&content);
    bb_strbuf_release(&reasoning);
    bb_strbuf_release(&calls);

    /* With <tool banned: reasoning_content and the answer, whole and streamed. */
    int tc = script_token(&sm, "<tool");
    char extra[128];
    snprintf(extra, sizeof extra, ",\"logit_bias\":{\"%d\":-100}", tc);
    snprintf(body, sizeof body, tools_body, model, extra);
    j = post_json(port, "/v1/chat/completions", body, &status);
    CHECKF(!strcmp(jstr(j, "choices.0.message.reasoning_content") ?: "",
                   "The user wants the weather.") &&
               !strcmp(jstr(j, "choices.0.message.content") ?: "", "It is 18 degrees in Paris.") &&
               !jget(j, "choices.0.message.tool_calls") &&
               !strcmp(jstr(j, "choices.0.finish_reason") ?: "", "stop"),
           "reasoning reply: %s", jstr(j, "choices.0.message.content") ?: "(none)");
    cJSON_Delete(j);
    snprintf(extra, sizeof extra, ",\"logit_bias\":{\"%d\":-100},\"stream\":true", tc);
    snprintf(body, sizeof body, tools_body, model, extra);
    CHECK(sc_request(port, "POST", "/v1/chat/completions", body, &r) && r.status == 200);
    reassemble(r.body, &content, &reasoning, &calls, finish, sizeof finish);
    sc_resp_free(&r);
    CHECKF(reasoning.data && !strcmp(reasoning.data, "The user wants the weather.") &&
               content.data && !strcmp(content.data, "It is 18 degrees in Paris.") &&
               calls.len == 0 && !strcmp(finish, "stop"),
           "streamed reasoning '%s' content '%s'", reasoning.data ?: "", content.data ?: "");
    bb_strbuf_release(&content);
    bb_strbuf_release(&reasoning);
    bb_strbuf_release(&calls);

    run_node_script(port, "tools.test.mjs", model);
    CHECK(sc_server_stop(&srv, 10) == 0);
    unlink(path);
}

/* The server's way into the template (OpenAI messages: arguments as JSON strings, validated)
 * against the conformance renderings of tool conversations: cases whose calls carry
 * arguments as objects render as Hugging Face does when given objects; those with strings as
 * it does given strings, for templates that concatenate them. (For templates that apply
 * tojson to the arguments the server passes objects, the form they are written for.) */
static void test_tool_templates(void) {
    const char *dir = tu_testdata();
    if (!dir) {
        tu_skip("tool conversations through the server's template path");
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/chat/cases.json", dir);
    char *text = tu_read_file(path, NULL);
    cJSON *cases = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!cases) {
        printf("SKIP: %s absent\n", path);
        return;
    }
    int n = 0;
    const cJSON *c;
    setenv("BB_FIXED_DATE", "2026-01-15 12:00:00", 1); /* strftime_now, as the references */
    cJSON_ArrayForEach(c, cases) {
        const char *file = jstr(c, "template"), *expected = jstr(c, "expected");
        cJSON *msgs = cJSON_Duplicate(jget(c, "messages"), true);
        bool tool_conv = false, str_args = false;
        cJSON *m, *call;
        cJSON_ArrayForEach(m, msgs) {
            if (!strcmp(jstr(m, "role") ?: "", "tool")) tool_conv = true;
            cJSON_ArrayForEach(call, cJSON_GetObjectItemCaseSensitive(m, "tool_calls")) {
                tool_conv = true;
                cJSON *fn = cJSON_GetObjectItemCaseSensitive(call, "function");
                cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
                if (cJSON_IsString(args)) {
                    str_args = true;
                } else {
                    char *s = cJSON_PrintUnformatted(args);
                    cJSON_ReplaceItemInObjectCaseSensitive(fn, "arguments", cJSON_CreateString(s));
                    free(s);
                }
            }
        }
        snprintf(path, sizeof path, "%s/chat/%s", dir, file ?: "");
        char *tmpl = tool_conv && expected ? tu_read_file(path, NULL) : NULL;
        /* Strings into a template that applies tojson to them: HF double-encodes, we do not. */
        bool comparable = tmpl && !(str_args && (strstr(tmpl, "arguments | tojson") ||
                                                 strstr(tmpl, "arguments|tojson") ||
                                                 strstr(tmpl, "function|tojson")));
        oai_error e;
        if (comparable) {
            CHECKF(oai_validate_messages(msgs, &e), "%s: %s", file, e.message);
            char *tools =
                cJSON_IsArray(jget(c, "tools")) ? cJSON_PrintUnformatted(jget(c, "tools")) : NULL;
            char *out = NULL;
            bool ok = chat_render_openai(
                tmpl, msgs, tools, NULL, NULL, cJSON_IsTrue(jget(c, "add_generation_prompt")),
                jstr(c, "bos_token") ?: "", jstr(c, "eos_token") ?: "", &out, &e);
            CHECKF(ok && !strcmp(out, expected), "%s (%s): %s", file,
                   str_args ? "string arguments" : "object arguments", ok ? out : e.message);
            bb_free(out);
            free(tools);
            n++;
        }
        free(tmpl);
        cJSON_Delete(msgs);
    }
    unsetenv("BB_FIXED_DATE");
    printf("tool templates: %d tool conversations rendered as the references\n", n);
    CHECK(n >= 10);
    cJSON_Delete(cases);
}

int main(void) {
    test_tool_templates();
    if (!getenv("BB_BIN")) {
        printf("SKIP: server tests (BB_BIN not set)\n");
        return tu_finish("test_server");
    }
    signal(SIGPIPE, SIG_IGN);
    char path[] = "/tmp/bb_test_server_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    bb_error err = {0};
    fixture_model_params fp = fixture_model_default();
    CHECKF(fd >= 0 && fixture_model_write(&fp, path, &err) == BB_OK, "fixture: %s", err.message);

    sc_server srv;
    const char *args[] = {"-m",        path,      "--parallel", "16",        "--ctx-size",
                          "4096",      "--batch", "64",         "--threads", "2",
                          "--api-key", API_KEY,   "--timeout",  "2",         "--max-body",
                          "65536",     "--max-n", "4",          "-q",        "--step-tokens",
                          "24",        NULL};
    sc_api_key = API_KEY;
    if (!sc_server_start(&srv, args)) {
        CHECKF(0, "the server did not start");
        unlink(path);
        return tu_finish("test_server");
    }
    test_basics(srv.port);
    find_eog_bias(srv.port);
    test_chat(srv.port);
    test_completions_and_tokens(srv.port);
    test_choices(srv.port);
    test_stop(srv.port);
    test_logprobs(srv.port);
    test_concurrency(srv.port, 8);
    test_concurrency(srv.port, 16);
    test_structured(srv.port);
    test_step_metrics(srv.port);
    test_disconnect(srv.port);
    test_hostile(srv.port);
    test_oversized(srv.port);
    test_framing(srv.port);
    test_slow_clients(srv.port);
    test_curl(srv.port);
    test_openai_sdk(srv.port);
    test_graceful(&srv);
    test_tools();
    fp.n_ctx_train = 32768;
    CHECKF(fixture_model_write(&fp, path, &err) == BB_OK, "fixture: %s", err.message);
    test_overload(path);
    test_tls(path);
    unlink(path);
    return tu_finish("test_server");
}
