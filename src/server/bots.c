/* Bots: validation, the registry (files + store), and applying a bot to a chat request (see
 * bots.h). */
#include "server/bots.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/error.h"

#define MAX_BOT_FILE (1 << 20)
#define MAX_TEXT (256 * 1024) /* instructions, greeting, an example's content */
#define MAX_EXAMPLES 64
#define MAX_METADATA 16 /* OpenAI's metadata: 16 pairs, keys <= 64, values <= 512 chars */

struct bots {
    pthread_mutex_t mu;
    cJSON *files; /* array of the folder's bots, read-only */
    bb_store *store;
    char *model_id;
};

/* Fields a bot may hold, and which of them are request settings the bot supplies as defaults
 * (checked by the request parser itself, so a bot's settings are exactly what a request may
 * say). */
static const char *const BOT_FIELDS[] = {"id",          "object",   "created_at",     "name",
                                         "description", "model",    "instructions",   "greeting",
                                         "examples",    "metadata", "allow_overrides"};
static const char *const SETTINGS[] = {"temperature",
                                       "top_p",
                                       "max_tokens",
                                       "stop",
                                       "frequency_penalty",
                                       "presence_penalty",
                                       "seed",
                                       "top_k",
                                       "min_p",
                                       "repeat_penalty",
                                       "response_format",
                                       "tools",
                                       "tool_choice",
                                       "parallel_tool_calls",
                                       "grammar"};
/* What a request may always send to a bot: the conversation and how to deliver it. */
static const char *const ALWAYS[] = {"model",    "messages", "stream", "stream_options",
                                     "metadata", "user",     "store"};
/* What allow_overrides may name: the request parameters (oai_request.c). */
static const char *const OVERRIDABLE[] = {"temperature",
                                          "top_p",
                                          "max_tokens",
                                          "max_completion_tokens",
                                          "stop",
                                          "seed",
                                          "n",
                                          "presence_penalty",
                                          "frequency_penalty",
                                          "logit_bias",
                                          "logprobs",
                                          "top_logprobs",
                                          "top_k",
                                          "min_p",
                                          "repeat_penalty",
                                          "tools",
                                          "tool_choice",
                                          "parallel_tool_calls",
                                          "response_format",
                                          "grammar"};

#define IN(list, key) in_list(list, sizeof list / sizeof list[0], key)
static bool in_list(const char *const *list, size_t n, const char *key) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(list[i], key)) return true;
    return false;
}

static bool valid_id(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (i > 0 && (c == '-' || c == '_' || c == '.'));
        if (!ok) return false;
    }
    return true;
}

static bool var_char(char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Finds the variable of a "{{" at s: *name, *len; *end after "}}". False: malformed. */
static bool parse_var(const char *s, const char **name, size_t *len, const char **end) {
    const char *p = s + 2;
    while (*p == ' ')
        p++;
    *name = p;
    if (!var_char(*p, true)) return false;
    while (var_char(*p, false))
        p++;
    *len = (size_t)(p - *name);
    while (*p == ' ')
        p++;
    if (p[0] != '}' || p[1] != '}') return false;
    *end = p + 2;
    return true;
}

static bool text_field(const cJSON *doc, const char *key, oai_error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsString(v)) return oai_fail(e, 400, key, "'%s' must be a string", key);
    if (strlen(v->valuestring) > MAX_TEXT)
        return oai_fail(e, 400, key, "'%s' is over %d bytes", key, MAX_TEXT);
    return true;
}

bool bots_validate(const bots *b, const cJSON *doc, const char *id_hint, cJSON **out,
                   oai_error *e) {
    *out = NULL;
    if (!cJSON_IsObject(doc)) return oai_fail(e, 400, NULL, "a bot must be a JSON object");
    const cJSON *v;
    cJSON_ArrayForEach(v, doc) {
        if (!IN(BOT_FIELDS, v->string) && !IN(SETTINGS, v->string))
            return oai_fail(e, 400, v->string, "unknown bot field '%.60s'", v->string);
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "id");
    const char *ids = cJSON_IsString(id) ? id->valuestring : (!id ? id_hint : NULL);
    if (!ids) return oai_fail(e, 400, "id", "'id' must be a string");
    if (!valid_id(ids))
        return oai_fail(e, 400, "id",
                        "'id' must be 1 to 64 letters, digits, '-', '_' or '.', starting with a "
                        "letter or digit (got '%.80s')",
                        ids);
    if (!strcmp(ids, b->model_id))
        return oai_fail(e, 400, "id", "'id' '%s' is the model's own name", ids);
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(doc, "object");
    if (obj && !(cJSON_IsString(obj) && !strcmp(obj->valuestring, "bot")))
        return oai_fail(e, 400, "object", "'object' must be \"bot\"");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(doc, "created_at");
    if (created && !cJSON_IsNumber(created))
        return oai_fail(e, 400, "created_at", "'created_at' must be a number");
    if (!text_field(doc, "name", e) || !text_field(doc, "description", e) ||
        !text_field(doc, "instructions", e) || !text_field(doc, "greeting", e))
        return false;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(doc, "model");
    if (model && !cJSON_IsNull(model) &&
        !(cJSON_IsString(model) && !strcmp(model->valuestring, b->model_id)))
        return oai_fail(e, 400, "model", "'model' must be \"%s\", the model this server runs",
                        b->model_id);
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(doc, "instructions");
    if (cJSON_IsString(ins))
        for (const char *p = strstr(ins->valuestring, "{{"); p; p = strstr(p, "{{")) {
            const char *name, *end;
            size_t len;
            if (!parse_var(p, &name, &len, &end))
                return oai_fail(e, 400, "instructions",
                                "'instructions': '{{' at byte %zu does not start a "
                                "{{variable}} (letters, digits, '_')",
                                (size_t)(p - ins->valuestring));
            p = end;
        }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    if (meta && !cJSON_IsNull(meta)) {
        if (!cJSON_IsObject(meta) || cJSON_GetArraySize(meta) > MAX_METADATA)
            return oai_fail(e, 400, "metadata",
                            "'metadata' must be an object of at most %d "
                            "strings",
                            MAX_METADATA);
        cJSON_ArrayForEach(v, meta) {
            if (!cJSON_IsString(v) || strlen(v->string) > 64 || strlen(v->valuestring) > 512)
                return oai_fail(e, 400, "metadata",
                                "'metadata.%.64s' must be a string of at most 512 characters "
                                "(keys at most 64)",
                                v->string);
        }
    }
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(doc, "examples");
    if (ex && !cJSON_IsNull(ex)) {
        if (!cJSON_IsArray(ex) || cJSON_GetArraySize(ex) > MAX_EXAMPLES)
            return oai_fail(e, 400, "examples", "'examples' must be a list of at most %d messages",
                            MAX_EXAMPLES);
        int i = 0;
        cJSON_ArrayForEach(v, ex) {
            const cJSON *role = cJSON_GetObjectItemCaseSensitive(v, "role");
            const cJSON *content = cJSON_GetObjectItemCaseSensitive(v, "content");
            if (!cJSON_IsObject(v) || cJSON_GetArraySize(v) != 2 || !cJSON_IsString(role) ||
                (strcmp(role->valuestring, "user") && strcmp(role->valuestring, "assistant") &&
                 strcmp(role->valuestring, "system")) ||
                !cJSON_IsString(content) || strlen(content->valuestring) > MAX_TEXT)
                return oai_fail(e, 400, "examples",
                                "'examples[%d]' must be {\"role\": \"user\", \"assistant\" or "
                                "\"system\", \"content\": a string}",
                                i);
            i++;
        }
    }
    const cJSON *allow = cJSON_GetObjectItemCaseSensitive(doc, "allow_overrides");
    if (allow && !cJSON_IsNull(allow)) {
        if (!cJSON_IsArray(allow))
            return oai_fail(e, 400, "allow_overrides",
                            "'allow_overrides' must be a list of request parameter names");
        cJSON_ArrayForEach(v, allow) {
            if (!cJSON_IsString(v) || !IN(OVERRIDABLE, v->valuestring))
                return oai_fail(e, 400, "allow_overrides",
                                "'allow_overrides': '%.60s' is not a request parameter a bot "
                                "can let callers set",
                                cJSON_IsString(v) ? v->valuestring : "(not a string)");
        }
    }
    /* The settings, as the request parser would take them. */
    cJSON *trial = cJSON_CreateObject();
    cJSON *msgs = cJSON_AddArrayToObject(trial, "messages");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", "user");
    cJSON_AddStringToObject(m, "content", "-");
    cJSON_AddItemToArray(msgs, m);
    cJSON_ArrayForEach(v, doc) {
        if (IN(SETTINGS, v->string))
            cJSON_AddItemToObject(trial, v->string, cJSON_Duplicate(v, true));
    }
    oai_limits lim = {.max_n = 1, .n_vocab = 1};
    oai_request req;
    bool ok = oai_parse_request(trial, true, &lim, &req, e);
    if (ok) oai_request_free(&req);
    cJSON_Delete(trial);
    if (!ok) return false;

    *out = cJSON_Duplicate(doc, true);
    if (!*out) return oai_fail(e, 500, NULL, "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(*out, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(*out, "object");
    cJSON_AddStringToObject(*out, "id", ids);
    cJSON_AddStringToObject(*out, "object", "bot");
    if (!created) cJSON_AddNumberToObject(*out, "created_at", (double)time(NULL));
    return true;
}

/* ---------------------------------------------------------------- the registry */

static bb_status load_file(bots *b, const char *dir, const char *file, bb_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) return bb_fail(err, BB_ERR_IO, "bot file %s: cannot open it", path);
    char *text = malloc(MAX_BOT_FILE + 1);
    size_t n = text ? fread(text, 1, MAX_BOT_FILE + 1, f) : 0;
    fclose(f);
    if (!text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    if (n > MAX_BOT_FILE) {
        free(text);
        return bb_fail(err, BB_ERR_FORMAT, "bot file %s: over %d bytes", path, MAX_BOT_FILE);
    }
    oai_error e;
    cJSON *doc = NULL, *bot = NULL;
    char stem[256];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(file) - 5), file);
    bool ok = oai_parse_json(text, n, &doc, &e) && bots_validate(b, doc, stem, &bot, &e);
    free(text);
    cJSON_Delete(doc);
    if (!ok)
        return bb_fail(err, BB_ERR_FORMAT, "bot file %s%s%s%s: %s", path,
                       e.param[0] ? ": field '" : "", e.param, e.param[0] ? "'" : "", e.message);
    const char *id = cJSON_GetObjectItemCaseSensitive(bot, "id")->valuestring;
    const cJSON *other;
    cJSON_ArrayForEach(other, b->files) {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(other, "id")->valuestring, id)) {
            cJSON_Delete(bot);
            return bb_fail(err, BB_ERR_FORMAT, "bot file %s: field 'id': '%s' is defined twice",
                           path, id);
        }
    }
    cJSON_AddItemToArray(b->files, bot);
    return BB_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bb_status load_dir(bots *b, const char *dir, bb_error *err) {
    DIR *d = opendir(dir);
    if (!d) return bb_fail(err, BB_ERR_IO, "cannot read the bots folder %s", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    bb_status st = BB_OK;
    while (st == BB_OK && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".json")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
            else
                names = nn;
        }
        if (st == BB_OK && !(names[n++] = strdup(de->d_name)))
            st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name); /* errors name the first bad file */
    for (size_t i = 0; i < n; i++) {
        if (st == BB_OK && names[i]) st = load_file(b, dir, names[i], err);
        free(names[i]);
    }
    free(names);
    return st;
}

bb_status bots_open(const char *dir, bb_store *store, const char *model_id, bots **out,
                    bb_error *err) {
    *out = NULL;
    bots *b = calloc(1, sizeof *b);
    if (!b || !(b->files = cJSON_CreateArray()) || !(b->model_id = strdup(model_id))) {
        bots_free(b);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    pthread_mutex_init(&b->mu, NULL);
    b->store = store;
    bb_status st = dir ? load_dir(b, dir, err) : BB_OK;
    if (st != BB_OK) {
        bots_free(b);
        return st;
    }
    *out = b;
    return BB_OK;
}

void bots_free(bots *b) {
    if (!b) return;
    if (b->files) pthread_mutex_destroy(&b->mu);
    cJSON_Delete(b->files);
    free(b->model_id);
    free(b);
}

static const cJSON *file_bot(const bots *b, const char *id) {
    const cJSON *bot;
    cJSON_ArrayForEach(bot, b->files) {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(bot, "id")->valuestring, id)) return bot;
    }
    return NULL;
}

static cJSON *stored_bot(bots *b, const char *id) {
    if (!b->store) return NULL;
    char *json = NULL;
    if (store_bot_get(b->store, id, &json, NULL) != BB_OK || !json) return NULL;
    cJSON *bot = cJSON_Parse(json);
    free(json);
    return bot;
}

cJSON *bots_get(bots *b, const char *id) {
    const cJSON *f = file_bot(b, id);
    return f ? cJSON_Duplicate(f, true) : stored_bot(b, id);
}

static void add_stored(void *arg, const char *id, const char *json) {
    (void)id;
    cJSON *bot = cJSON_Parse(json);
    if (bot) cJSON_AddItemToArray(arg, bot);
}

cJSON *bots_list(bots *b) {
    cJSON *all = cJSON_Duplicate(b->files, true);
    if (all && b->store) store_bot_each(b->store, add_stored, all, NULL);
    return all;
}

static bool need_store(const bots *b, oai_error *e) {
    if (b->store) return true;
    oai_fail(e, 501, NULL, "bots can be created only when the server has a --data-dir");
    return false;
}

static bool read_only(const bots *b, const char *id, oai_error *e) {
    if (!file_bot(b, id)) return false;
    oai_fail(e, 409, NULL, "the bot '%.64s' is defined by a file in --bots and is read-only", id);
    e->code = "bot_read_only";
    return true;
}

bool bots_create(bots *b, const cJSON *doc, cJSON **result, oai_error *e) {
    *result = NULL;
    if (!need_store(b, e)) return false;
    cJSON *bot = NULL;
    if (!bots_validate(b, doc, NULL, &bot, e)) return false;
    const char *id = cJSON_GetObjectItemCaseSensitive(bot, "id")->valuestring;
    bool conflict = false;
    if (read_only(b, id, e)) {
        cJSON_Delete(bot);
        return false;
    }
    char *json = cJSON_PrintUnformatted(bot);
    bb_error err = {0};
    bb_status st = json ? store_bot_put(b->store, id, json, true, &conflict, &err)
                        : bb_fail(&err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    free(json);
    if (st != BB_OK || conflict) {
        if (conflict) {
            oai_fail(e, 409, "id", "a bot '%.64s' exists already", id);
            e->code = "bot_exists";
        } else {
            oai_fail(e, 500, NULL, "%s", err.message);
        }
        cJSON_Delete(bot);
        return false;
    }
    *result = bot;
    return true;
}

static bool not_found(const char *id, oai_error *e) {
    oai_fail(e, 404, NULL, "no bot '%.64s'", id);
    e->code = "bot_not_found";
    return false;
}

bool bots_patch(bots *b, const char *id, const cJSON *patch, cJSON **result, oai_error *e) {
    *result = NULL;
    if (read_only(b, id, e) || !need_store(b, e)) return false;
    if (!cJSON_IsObject(patch)) return oai_fail(e, 400, NULL, "a patch must be a JSON object");
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(patch, "id");
    if (pid && !(cJSON_IsString(pid) && !strcmp(pid->valuestring, id)))
        return oai_fail(e, 400, "id", "a bot's 'id' cannot change");
    pthread_mutex_lock(&b->mu); /* read, merge, write: one patch at a time */
    cJSON *cur = stored_bot(b, id), *bot = NULL;
    bool ok = cur != NULL;
    if (!ok) not_found(id, e);
    const cJSON *v;
    if (ok) cJSON_ArrayForEach(v, patch) { /* JSON merge patch (RFC 7396), one level */
            cJSON_DeleteItemFromObjectCaseSensitive(cur, v->string);
            if (!cJSON_IsNull(v)) cJSON_AddItemToObject(cur, v->string, cJSON_Duplicate(v, true));
        }
    if (ok) ok = bots_validate(b, cur, id, &bot, e);
    if (ok) {
        bool conflict;
        bb_error err = {0};
        char *json = cJSON_PrintUnformatted(bot);
        ok = json && store_bot_put(b->store, id, json, false, &conflict, &err) == BB_OK;
        if (!ok) oai_fail(e, 500, NULL, "%s", json ? err.message : "out of memory");
        free(json);
    }
    pthread_mutex_unlock(&b->mu);
    cJSON_Delete(cur);
    if (!ok) {
        cJSON_Delete(bot);
        return false;
    }
    *result = bot;
    return true;
}

bool bots_delete(bots *b, const char *id, oai_error *e) {
    if (read_only(b, id, e) || !need_store(b, e)) return false;
    bool found = false;
    bb_error err = {0};
    if (store_bot_delete(b->store, id, &found, &err) != BB_OK)
        return oai_fail(e, 500, NULL, "%s", err.message);
    return found || not_found(id, e);
}

/* ---------------------------------------------------------------- applying a bot */

static const char *var_value(const cJSON *bot, const cJSON *req_meta, const char *name, size_t len,
                             char *buf, size_t cap) {
    const cJSON *sources[2] = {req_meta, cJSON_GetObjectItemCaseSensitive(bot, "metadata")};
    for (int i = 0; i < 2; i++) {
        const cJSON *v;
        cJSON_ArrayForEach(v, sources[i]) {
            if (strlen(v->string) == len && !memcmp(v->string, name, len) && cJSON_IsString(v))
                return v->valuestring;
        }
    }
    if (len == 4 && !memcmp(name, "date", 4)) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, cap, "%Y-%m-%d", &tm);
        return buf;
    }
    if (len == 8 && !memcmp(name, "bot_name", 8)) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(bot, "name");
        return cJSON_IsString(n) ? n->valuestring
                                 : cJSON_GetObjectItemCaseSensitive(bot, "id")->valuestring;
    }
    return NULL;
}

/* The instructions with their variables filled, or NULL with *e set. */
static char *render(const cJSON *bot, const char *text, const cJSON *req_meta, oai_error *e) {
    size_t cap = strlen(text) + 1, len = 0;
    char *out = malloc(cap);
    if (!out) {
        oai_fail(e, 500, NULL, "out of memory");
        return NULL;
    }
    const char *p = text;
    for (;;) {
        const char *open = strstr(p, "{{"), *name, *end;
        size_t n_name;
        const char *val = NULL;
        char buf[32];
        if (open && parse_var(open, &name, &n_name, &end))
            val = var_value(bot, req_meta, name, n_name, buf, sizeof buf);
        if (open && !val) {
            free(out);
            oai_fail(e, 400, "metadata",
                     "the bot's instructions use {{%.*s}}: give it in 'metadata'",
                     (int)(n_name > 64 ? 64 : n_name), name);
            return NULL;
        }
        size_t lit = open ? (size_t)(open - p) : strlen(p), vl = val ? strlen(val) : 0;
        if (len + lit + vl + 1 > cap) {
            cap = (len + lit + vl + 1) * 2;
            char *nb = realloc(out, cap);
            if (!nb) {
                free(out);
                oai_fail(e, 500, NULL, "out of memory");
                return NULL;
            }
            out = nb;
        }
        memcpy(out + len, p, lit);
        len += lit;
        if (!open) break;
        memcpy(out + len, val, vl);
        len += vl;
        p = end;
    }
    out[len] = 0;
    return out;
}

static void add_message(cJSON *arr, const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(arr, m);
}

int bots_apply(bots *b, cJSON *root, oai_error *e) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsString(model) || !strcmp(model->valuestring, b->model_id)) return 0;
    cJSON *bot = bots_get(b, model->valuestring);
    if (!bot) return 0;
    int ret = -1;
    const cJSON *allow = cJSON_GetObjectItemCaseSensitive(bot, "allow_overrides");
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        if (IN(ALWAYS, v->string)) continue;
        bool allowed = false;
        const cJSON *a;
        cJSON_ArrayForEach(a, allow) {
            allowed |= cJSON_IsString(a) && !strcmp(a->valuestring, v->string);
        }
        if (!allowed) {
            oai_fail(e, 400, v->string,
                     "the bot '%.64s' does not let requests set '%.60s' (its allow_overrides)",
                     model->valuestring, v->string);
            goto done;
        }
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (meta && !cJSON_IsNull(meta)) {
        if (!cJSON_IsObject(meta)) {
            oai_fail(e, 400, "metadata", "'metadata' must be an object of strings");
            goto done;
        }
        cJSON_ArrayForEach(v, meta) {
            if (!cJSON_IsString(v)) {
                oai_fail(e, 400, "metadata", "'metadata.%.64s' must be a string", v->string);
                goto done;
            }
        }
    }
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!cJSON_IsArray(msgs)) {
        oai_fail(e, 400, "messages", "'messages' must be a list of messages");
        goto done;
    }
    cJSON *all = cJSON_CreateArray();
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(bot, "instructions");
    if (cJSON_IsString(ins) && ins->valuestring[0]) {
        char *sys = render(bot, ins->valuestring, meta, e);
        if (!sys) {
            cJSON_Delete(all);
            goto done;
        }
        add_message(all, "system", sys);
        free(sys);
    }
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(bot, "examples")) {
        cJSON_AddItemToArray(all, cJSON_Duplicate(v, true));
    }
    const cJSON *greet = cJSON_GetObjectItemCaseSensitive(bot, "greeting");
    if (cJSON_IsString(greet) && greet->valuestring[0])
        add_message(all, "assistant", greet->valuestring);
    cJSON_ArrayForEach(v, msgs) {
        cJSON_AddItemToArray(all, cJSON_Duplicate(v, true));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(root, "messages", all);
    cJSON_ArrayForEach(v, bot) {
        if (IN(SETTINGS, v->string) && !cJSON_GetObjectItemCaseSensitive(root, v->string))
            cJSON_AddItemToObject(root, v->string, cJSON_Duplicate(v, true));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(root, "model", cJSON_CreateString(b->model_id));
    ret = 1;
done:
    cJSON_Delete(bot);
    return ret;
}
