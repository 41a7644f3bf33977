/* Bots, keys and limits end to end: a real `beanbag serve` (BB_BIN) with the fixture model, a
 * --bots folder, a --data-dir and an --admin-key, driven over raw sockets and with curl (the
 * admin API, 401/403, 429 + Retry-After), then by the official `openai` npm package
 * (tests/server/bots.test.mjs). A bot's answer must equal, bit for bit, the same conversation
 * sent to the model with the bot's messages and settings written out by hand; bots and keys
 * must survive a restart and a kill -9 in the middle of a burst of admin writes. */
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include "fixture_model.h"
#include "server_client.h"
#include "testutil.h"

#define ADMIN "admin-secret-1"

static char g_data[64], g_bots[64], g_model[256];

/* A request with the given bearer key (NULL: none); returns the status, *json the body. */
static int call(int port, const char *method, const char *path, const char *key, const char *body,
                cJSON **json, char *retry_after, size_t cap) {
    sc_api_key = key;
    sc_resp r;
    bool ok = sc_request(port, method, path, body, &r);
    int status = ok ? r.status : -1;
    if (json) *json = ok ? sc_json(&r) : NULL;
    if (retry_after && (!ok || !sc_header(&r, "Retry-After", retry_after, cap))) retry_after[0] = 0;
    sc_resp_free(&r);
    sc_api_key = NULL;
    return status;
}

static const char *jstr(const cJSON *o, const char *a, const char *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *content_of(const cJSON *resp) {
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "choices"), 0);
    const char *t = jstr(cJSON_GetObjectItemCaseSensitive(c, "message"), "content", NULL);
    return t ? strdup(t) : NULL;
}

/* `beanbag keys add` output (the key), or "" */
static void key_add(const char *extra, char *out, size_t cap) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' keys add --data-dir '%s' %s 2>/dev/null", getenv("BB_BIN"),
             g_data, extra);
    FILE *p = popen(cmd, "r");
    out[0] = 0;
    if (p && fgets(out, (int)cap, p)) out[strcspn(out, "\n")] = 0;
    if (p) pclose(p);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char TUTOR[] =
    "{\"name\": \"Tutor\", \"description\": \"a test persona\",\n"
    " \"instructions\": \"You are {{bot_name}} and you help {{user_name}}. Today is {{date}}.\",\n"
    " \"metadata\": {\"user_name\": \"a student\"},\n"
    " \"examples\": [{\"role\": \"user\", \"content\": \"2+2?\"},\n"
    "              {\"role\": \"assistant\", \"content\": \"4\"}],\n"
    " \"greeting\": \"Hello! Ask me anything.\",\n"
    " \"temperature\": 0, \"max_tokens\": 12, \"stop\": [\"zz\"],\n"
    " \"allow_overrides\": [\"max_tokens\", \"seed\"]}\n";

/* The bot answers as the model does when sent the bot's messages and settings by hand. */
static void test_bot_chat(int port, const char *user) {
    char date[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    cJSON *a = NULL, *b = NULL;
    int st = call(port, "POST", "/v1/chat/completions", user,
                  "{\"model\": \"tutor\", \"metadata\": {\"user_name\": \"Ada\"},"
                  " \"messages\": [{\"role\": \"user\", \"content\": \"Tell me about beans\"}]}",
                  &a, NULL, 0);
    CHECKF(st == 200 && jstr(a, "model", NULL) && !strcmp(jstr(a, "model", NULL), "tutor"),
           "bot chat: %d, model %s", st, jstr(a, "model", NULL) ? jstr(a, "model", NULL) : "-");
    char body[2048];
    snprintf(
        body, sizeof body,
        "{\"model\": \"%s\", \"temperature\": 0, \"max_tokens\": 12, \"stop\": [\"zz\"],"
        " \"messages\": ["
        "{\"role\": \"system\", \"content\": \"You are Tutor and you help Ada. Today is %s.\"},"
        "{\"role\": \"user\", \"content\": \"2+2?\"},"
        "{\"role\": \"assistant\", \"content\": \"4\"},"
        "{\"role\": \"assistant\", \"content\": \"Hello! Ask me anything.\"},"
        "{\"role\": \"user\", \"content\": \"Tell me about beans\"}]}",
        g_model, date);
    st = call(port, "POST", "/v1/chat/completions", user, body, &b, NULL, 0);
    CHECKF(st == 200, "the same by hand: %d", st);
    char *ta = content_of(a), *tb = content_of(b);
    CHECKF(ta && tb && !strcmp(ta, tb), "bot '%s' vs by hand '%s'", ta ? ta : "-", tb ? tb : "-");
    const cJSON *ua = cJSON_GetObjectItemCaseSensitive(a, "usage");
    const cJSON *ub = cJSON_GetObjectItemCaseSensitive(b, "usage");
    CHECK(cJSON_GetObjectItemCaseSensitive(ua, "prompt_tokens")->valueint ==
          cJSON_GetObjectItemCaseSensitive(ub, "prompt_tokens")->valueint);
    /* the second reads the persona from the prefix cache */
    const cJSON *cached = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(ub, "prompt_tokens_details"), "cached_tokens");
    CHECKF(cJSON_IsNumber(cached) && cached->valueint >= 16, "cached_tokens %d",
           cJSON_IsNumber(cached) ? cached->valueint : -1);
    free(ta);
    free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);

    /* what the bot does not allow, or a variable without a value, is refused by name */
    st = call(port, "POST", "/v1/chat/completions", user,
              "{\"model\": \"tutor\", \"temperature\": 1, \"messages\": [{\"role\": \"user\","
              " \"content\": \"hi\"}]}",
              &a, NULL, 0);
    CHECKF(st == 400 && jstr(a, "error", "param") &&
               !strcmp(jstr(a, "error", "param"), "temperature"),
           "override refused: %d", st);
    cJSON_Delete(a);
    st = call(port, "POST", "/v1/chat/completions", user,
              "{\"model\": \"tutor\", \"max_tokens\": 3, \"messages\": [{\"role\": \"user\","
              " \"content\": \"hi\"}]}",
              &a, NULL, 0);
    CHECKF(st == 200, "allowed override: %d", st);
    cJSON_Delete(a);
    st = call(port, "GET", "/v1/models", user, NULL, &a, NULL, 0);
    char *list = a ? cJSON_PrintUnformatted(a) : NULL;
    CHECKF(st == 200 && list && strstr(list, "\"tutor\"") && strstr(list, g_model), "models: %s",
           list ? list : "-");
    free(list);
    cJSON_Delete(a);
}

/* Runs curl; returns the HTTP status it printed, -1 on failure. */
static int curl_status(int port, const char *method, const char *path, const char *key,
                       const char *body) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "curl -s -o /dev/null -w '%%{http_code}' -X %s %s%s%s %s%s%s "
             "http://127.0.0.1:%d%s",
             method, key ? "-H 'Authorization: Bearer " : "", key ? key : "", key ? "'" : "",
             body ? "-d '" : "", body ? body : "", body ? "'" : "", port, path);
    FILE *p = popen(cmd, "r");
    char out[16] = "";
    if (p && !fgets(out, sizeof out, p)) out[0] = 0;
    if (p) pclose(p);
    return out[0] ? atoi(out) : -1;
}

static void test_admin_api(int port, const char *user) {
    bool have_curl = system("curl --version > /dev/null 2>&1") == 0;
    if (!have_curl) printf("SKIP: curl parts of the admin API tests (curl is not installed)\n");
    const char *doc = "{\"id\": \"helper\", \"instructions\": \"Be brief.\", \"temperature\": 0,"
                      " \"max_tokens\": 8}";
    if (have_curl) {
        CHECK(curl_status(port, "POST", "/v1/bots", NULL, doc) == 401);
        CHECK(curl_status(port, "POST", "/v1/bots", "wrong-key", doc) == 401);
        CHECK(curl_status(port, "POST", "/v1/bots", user, doc) == 403);
        CHECK(curl_status(port, "GET", "/v1/bots", user, NULL) == 403);
        CHECK(curl_status(port, "POST", "/v1/bots", ADMIN, doc) == 201);
        CHECK(curl_status(port, "POST", "/v1/bots", ADMIN, doc) == 409);
        CHECK(curl_status(port, "PATCH", "/v1/bots/tutor", ADMIN, "{\"max_tokens\": 3}") == 409);
        CHECK(curl_status(port, "PUT", "/v1/bots", ADMIN, NULL) == 405);
    } else {
        CHECK(call(port, "POST", "/v1/bots", ADMIN, doc, NULL, NULL, 0) == 201);
    }
    cJSON *j = NULL;
    int st = call(port, "PATCH", "/v1/bots/helper", ADMIN,
                  "{\"max_tokens\": 4, \"description\": \"short\"}", &j, NULL, 0);
    CHECKF(st == 200 && jstr(j, "description", NULL) &&
               cJSON_GetObjectItemCaseSensitive(j, "max_tokens")->valueint == 4,
           "patch: %d", st);
    cJSON_Delete(j);
    st = call(port, "PATCH", "/v1/bots/helper", user, "{\"max_tokens\": 9}", NULL, NULL, 0);
    CHECKF(st == 403, "a user key patching a bot: %d", st);
    st = call(port, "POST", "/v1/bots", ADMIN, "{\"id\": \"bad\", \"top_p\": 3}", &j, NULL, 0);
    CHECKF(st == 400 && jstr(j, "error", "param") && !strcmp(jstr(j, "error", "param"), "top_p"),
           "bad bot: %d", st);
    cJSON_Delete(j);
    st = call(port, "POST", "/v1/chat/completions", user,
              "{\"model\": \"helper\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}",
              &j, NULL, 0);
    CHECKF(st == 200 && cJSON_GetObjectItemCaseSensitive(
                            cJSON_GetObjectItemCaseSensitive(j, "usage"), "completion_tokens")
                                ->valueint <= 4,
           "chat with the patched bot: %d", st);
    cJSON_Delete(j);
    /* a bot's response_format is applied like a request's: the answer is JSON */
    CHECK(call(port, "POST", "/v1/bots", ADMIN,
               "{\"id\": \"jsonbot\", \"max_tokens\": 6, \"response_format\": {\"type\": "
               "\"json_object\"}}",
               NULL, NULL, 0) == 201);
    st = call(port, "POST", "/v1/chat/completions", user,
              "{\"model\": \"jsonbot\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}",
              &j, NULL, 0);
    char *json_text = content_of(j);
    CHECKF(st == 200 && json_text && json_text[0] == '{', "bot with response_format: %d '%s'", st,
           json_text ? json_text : "-");
    free(json_text);
    cJSON_Delete(j);
    CHECK(call(port, "POST", "/v1/bots", ADMIN,
               "{\"id\": \"badgrammar\", \"grammar\": \"root ::= (\"}", NULL, NULL, 0) == 400);
    CHECK(call(port, "POST", "/v1/bots", ADMIN, "{\"id\": \"gone\"}", NULL, NULL, 0) == 201);
    CHECK(call(port, "DELETE", "/v1/bots/gone", ADMIN, NULL, NULL, NULL, 0) == 200);
    CHECK(call(port, "GET", "/v1/bots/gone", ADMIN, NULL, NULL, NULL, 0) == 404);
    CHECK(call(port, "DELETE", "/v1/bots/gone", ADMIN, NULL, NULL, NULL, 0) == 404);
}

/* Requests per minute, then tokens per minute: over the limit, 429 with Retry-After. */
static void test_limits(int port) {
    char rpm_key[128], tpm_key[128], retry[32];
    key_add("--name rpm --rpm 3", rpm_key, sizeof rpm_key);
    key_add("--name tpm --tpm 30", tpm_key, sizeof tpm_key);
    CHECK(rpm_key[0] && tpm_key[0]);
    const char *body = "{\"model\": \"tutor\", \"max_tokens\": 2, \"messages\": [{\"role\": "
                       "\"user\", \"content\": \"hi\"}]}";
    for (int i = 0; i < 3; i++)
        CHECK(call(port, "POST", "/v1/chat/completions", rpm_key, body, NULL, NULL, 0) == 200);
    int st = call(port, "POST", "/v1/chat/completions", rpm_key, body, NULL, retry, sizeof retry);
    CHECKF(st == 429 && atoi(retry) >= 1 && atoi(retry) <= 20, "4th request: %d, Retry-After %s",
           st, retry);
    /* the first request overdraws 30 tokens (its prompt alone is longer); the next waits */
    CHECK(call(port, "POST", "/v1/chat/completions", tpm_key, body, NULL, NULL, 0) == 200);
    st = call(port, "POST", "/v1/chat/completions", tpm_key, body, NULL, retry, sizeof retry);
    CHECKF(st == 429 && atoi(retry) >= 1, "over the token limit: %d, Retry-After %s", st, retry);
    if (system("curl --version > /dev/null 2>&1") == 0)
        CHECK(curl_status(port, "POST", "/v1/chat/completions", rpm_key, body) == 429);
    /* revoked while the server runs: refused at once */
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "id=$('%s' keys list --data-dir '%s' | awk '$NF==\"rpm\"{print $1}') && "
             "'%s' keys revoke --data-dir '%s' \"$id\" > /dev/null",
             getenv("BB_BIN"), g_data, getenv("BB_BIN"), g_data);
    CHECK(system(cmd) == 0);
    CHECK(call(port, "GET", "/v1/models", rpm_key, NULL, NULL, NULL, 0) == 401);
}

/* ---------------------------------------------------------------- responses */

static char *output_text(const cJSON *resp) {
    const cJSON *msg = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(resp, "output"), 0);
    const cJSON *part = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(msg, "content"), 0);
    const char *t = jstr(part, "text", NULL);
    return t ? strdup(t) : NULL;
}

static int cached_input(const cJSON *resp) {
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(resp, "usage");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(u, "input_tokens_details"), "cached_tokens");
    return cJSON_IsNumber(c) ? c->valueint : -1;
}

/* A turn with previous_response_id answers exactly as the whole conversation sent at once
 * (whether its prefix came from the cache or, after a restart, was computed again). */
static void check_follow_up(int port, const char *user, const char *prev, const char *hist,
                            const char *question, char *id_out, size_t cap, bool want_cached) {
    char body[4096];
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", \"temperature\": 0, \"max_output_tokens\": 10,"
             " \"previous_response_id\": \"%s\", \"input\": \"%s\"}",
             g_model, prev, question);
    cJSON *a = NULL, *b = NULL;
    int st = call(port, "POST", "/v1/responses", user, body, &a, NULL, 0);
    CHECKF(st == 200, "follow-up turn: %d", st);
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", \"temperature\": 0, \"max_output_tokens\": 10,"
             " \"store\": false, \"input\": [%s, {\"role\": \"user\", \"content\": \"%s\"}]}",
             g_model, hist, question);
    st = call(port, "POST", "/v1/responses", user, body, &b, NULL, 0);
    CHECKF(st == 200, "the whole conversation at once: %d", st);
    char *ta = output_text(a), *tb = output_text(b);
    CHECKF(ta && tb && !strcmp(ta, tb), "previous_response_id '%s' vs whole '%s'", ta ? ta : "-",
           tb ? tb : "-");
    if (want_cached)
        CHECKF(cached_input(a) >= 16, "the follow-up found %d tokens cached", cached_input(a));
    CHECK(jstr(a, "previous_response_id", NULL) &&
          !strcmp(jstr(a, "previous_response_id", NULL), prev));
    if (id_out) snprintf(id_out, cap, "%s", jstr(a, "id", NULL) ? jstr(a, "id", NULL) : "");
    free(ta);
    free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

static char g_r1[64], g_r2[64], g_hist[2048];

static void test_responses(int port, const char *user, const char *other) {
    char body[1024];
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", \"temperature\": 0, \"max_output_tokens\": 10,"
             " \"input\": \"Tell me about beans\"}",
             g_model);
    cJSON *r = NULL;
    int st = call(port, "POST", "/v1/responses", user, body, &r, NULL, 0);
    CHECKF(st == 200 && jstr(r, "object", NULL) && !strcmp(jstr(r, "object", NULL), "response") &&
               !strcmp(jstr(r, "status", NULL), "completed"),
           "first turn: %d", st);
    snprintf(g_r1, sizeof g_r1, "%s", jstr(r, "id", NULL) ? jstr(r, "id", NULL) : "");
    char *t1 = output_text(r);
    cJSON_Delete(r);
    cJSON *h = cJSON_CreateArray(), *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", "Tell me about beans");
    cJSON_AddItemToArray(h, m);
    m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", t1 ? t1 : "");
    cJSON_AddItemToArray(h, m);
    char *hj = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    snprintf(g_hist, sizeof g_hist, "%.*s", (int)strlen(hj) - 2, hj + 1); /* without [ ] */
    free(hj);
    free(t1);
    check_follow_up(port, user, g_r1, g_hist, "And soup?", g_r2, sizeof g_r2, true);

    char path[128];
    snprintf(path, sizeof path, "/v1/responses/%s", g_r1);
    CHECK(call(port, "GET", path, user, NULL, &r, NULL, 0) == 200 && jstr(r, "id", NULL) &&
          !strcmp(jstr(r, "id", NULL), g_r1));
    cJSON_Delete(r);
    CHECK(call(port, "GET", path, other, NULL, NULL, NULL, 0) == 404); /* another key's */
    snprintf(body, sizeof body,
             "{\"model\": \"%s\", \"previous_response_id\": \"%s\", \"input\": \"x\"}", g_model,
             g_r1);
    CHECK(call(port, "POST", "/v1/responses", other, body, NULL, NULL, 0) == 404);
    CHECK(call(port, "GET", path, ADMIN, NULL, NULL, NULL, 0) == 200);
    snprintf(body, sizeof body, "{\"model\": \"%s\", \"input\": 5}", g_model);
    CHECK(call(port, "POST", "/v1/responses", user, body, &r, NULL, 0) == 400 &&
          !strcmp(jstr(r, "error", "param"), "input"));
    cJSON_Delete(r);
    /* a bot through the Responses API */
    CHECK(call(port, "POST", "/v1/responses", user,
               "{\"model\": \"tutor\", \"input\": \"hi\", \"store\": false}", NULL, NULL,
               0) == 200);
    /* deleted: gone, also as a previous response */
    char victim[64];
    snprintf(body, sizeof body, "{\"model\": \"%s\", \"input\": \"bye\", \"max_output_tokens\": 2}",
             g_model);
    CHECK(call(port, "POST", "/v1/responses", user, body, &r, NULL, 0) == 200);
    snprintf(victim, sizeof victim, "%s", jstr(r, "id", NULL) ? jstr(r, "id", NULL) : "");
    cJSON_Delete(r);
    snprintf(path, sizeof path, "/v1/responses/%s", victim);
    CHECK(call(port, "DELETE", path, other, NULL, NULL, NULL, 0) == 404);
    CHECK(call(port, "DELETE", path, user, NULL, NULL, NULL, 0) == 200);
    CHECK(call(port, "GET", path, user, NULL, NULL, NULL, 0) == 404);
}

/* ---------------------------------------------------------------- kill -9 under writes */

typedef struct writer {
    int port, first, n, acked[64], n_acked;
} writer;

static void *writer_main(void *arg) {
    writer *w = arg;
    for (int i = 0; i < w->n; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"id\": \"burst%d\", \"description\": \"n%d\"}", w->first + i,
                 w->first + i);
        if (call(w->port, "POST", "/v1/bots", ADMIN, body, NULL, NULL, 0) == 201)
            w->acked[w->n_acked++] = w->first + i;
    }
    return NULL;
}

static void test_openai_sdk(int port, const char *user) {
    const char *src = getenv("BB_SRC");
    if (!src || system("node --version > /dev/null 2>&1") != 0) {
        printf("SKIP: openai npm bot tests (node is not installed)\n");
        return;
    }
    char dir[1024], cmd[4096];
    snprintf(dir, sizeof dir, "%s/tests/server", src);
    snprintf(cmd, sizeof cmd, "%s/node_modules/openai/package.json", dir);
    struct stat st;
    if (stat(cmd, &st) != 0) {
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && npm install --no-audit --no-fund --loglevel=error > /dev/null 2>&1",
                 dir);
        if (system(cmd) != 0) {
            printf("SKIP: openai npm bot tests (npm could not install the openai package)\n");
            return;
        }
    }
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && BB_URL=http://127.0.0.1:%d/v1 BB_KEY='%s' BB_BOT=tutor BB_MODEL=fixture node "
        "bots.test.mjs",
        dir, port, user);
    int rc = system(cmd);
    CHECKF(rc == 0, "openai npm bot tests failed (status %d)", rc);
}

static bool start(sc_server *srv, const char *model_path) {
    const char *args[] = {"-m",        model_path, "--alias",     "fixture", "--data-dir", g_data,
                          "--bots",    g_bots,     "--admin-key", ADMIN,     "--parallel", "4",
                          "--threads", "2",        "-q",          NULL};
    return sc_server_start(srv, args);
}

int main(void) {
    if (!getenv("BB_BIN")) {
        printf("SKIP: bot tests (BB_BIN not set)\n");
        return tu_finish("test_bots");
    }
    signal(SIGPIPE, SIG_IGN);
    char model[] = "/tmp/bb_test_bots_model_XXXXXX";
    int fd = mkstemp(model);
    if (fd >= 0) close(fd);
    snprintf(g_data, sizeof g_data, "/tmp/bb_test_bots_data_%d", (int)getpid());
    snprintf(g_bots, sizeof g_bots, "/tmp/bb_test_bots_dir_%d", (int)getpid());
    snprintf(g_model, sizeof g_model, "fixture");
    mkdir(g_bots, 0700);
    char path[256];
    snprintf(path, sizeof path, "%s/tutor.json", g_bots);
    write_file(path, TUTOR);
    bb_error err = {0};
    fixture_model_params fp = fixture_model_default();
    CHECKF(fd >= 0 && fixture_model_write(&fp, model, &err) == BB_OK, "fixture: %s", err.message);

    /* a bad bot file stops the server at start, naming the file and the field */
    snprintf(path, sizeof path, "%s/broken.json", g_bots);
    write_file(path, "{\"id\": \"broken\", \"temperature\": \"hot\"}");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' serve -m '%s' --port 0 --bots '%s' -q 2>&1", getenv("BB_BIN"),
             model, g_bots);
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    char *out = p ? sc_read_all(fileno(p), 30, &n) : NULL;
    int rc = p ? pclose(p) : -1;
    CHECKF(rc != 0 && out && strstr(out, "broken.json") && strstr(out, "'temperature'"),
           "bad bot file: %s", out ? out : "-");
    free(out);
    unlink(path);

    char user[128];
    key_add("--name tester", user, sizeof user);
    CHECKF(strlen(user) == 67, "keys add printed '%s'", user);
    sc_server srv;
    if (!start(&srv, model)) {
        CHECKF(0, "the server did not start");
        return tu_finish("test_bots");
    }
    CHECK(call(srv.port, "GET", "/v1/models", NULL, NULL, NULL, NULL, 0) == 401);
    test_bot_chat(srv.port, user);
    test_admin_api(srv.port, user);
    test_limits(srv.port);
    char other[128];
    key_add("--name other", other, sizeof other);
    test_responses(srv.port, user, other);
    test_openai_sdk(srv.port, user);

    /* a burst of admin writes, the server killed with SIGKILL in the middle of it */
    writer w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (writer){.port = srv.port, .first = i * 64, .n = 64};
        pthread_create(&th[i], NULL, writer_main, &w[i]);
    }
    usleep(150 * 1000);
    kill(srv.pid, SIGKILL);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    sc_server_stop(&srv, 5);

    /* restarted: the bots, the keys and every acknowledged write are there */
    CHECK(start(&srv, model));
    cJSON *j = NULL;
    CHECK(call(srv.port, "GET", "/v1/bots/helper", ADMIN, NULL, &j, NULL, 0) == 200 &&
          jstr(j, "description", NULL) && !strcmp(jstr(j, "description", NULL), "short"));
    cJSON_Delete(j);
    int acked = 0, lost = 0;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < w[i].n_acked; k++) {
            char bp[64];
            snprintf(bp, sizeof bp, "/v1/bots/burst%d", w[i].acked[k]);
            acked++;
            lost += call(srv.port, "GET", bp, ADMIN, NULL, NULL, NULL, 0) != 200;
        }
    CHECKF(lost == 0, "%d of %d acknowledged bots lost after kill -9", lost, acked);
    printf("kill -9 during a burst: %d bots acknowledged, %d lost\n", acked, lost);
    CHECK(call(srv.port, "POST", "/v1/chat/completions", user,
               "{\"model\": \"helper\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}",
               NULL, NULL, 0) == 200);
    /* the stored conversation continues after the restart (its cache is gone: recomputed) */
    check_follow_up(srv.port, user, g_r1, g_hist, "And soup?", NULL, 0, false);
    CHECK(sc_server_stop(&srv, 10) == 0);

    /* a foreign database is refused, not overwritten */
    char foreign[128];
    snprintf(foreign, sizeof foreign, "%s/other", g_data);
    mkdir(foreign, 0700);
    snprintf(path, sizeof path, "%s/beanbag.db", foreign);
    write_file(path, "SQLite format 3 -- not really, just someone's file\n");
    snprintf(cmd, sizeof cmd, "'%s' serve -m '%s' --port 0 --data-dir '%s' -q 2>&1",
             getenv("BB_BIN"), model, foreign);
    p = popen(cmd, "r");
    out = p ? sc_read_all(fileno(p), 30, &n) : NULL;
    rc = p ? pclose(p) : -1;
    CHECKF(rc != 0 && out && strstr(out, "refusing"), "foreign database: %s", out ? out : "-");
    free(out);

    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", g_data, g_bots);
    CHECK(system(cmd) == 0);
    unlink(model);
    return tu_finish("test_bots");
}
