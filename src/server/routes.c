/* The small endpoints: /health, /metrics, /v1/models, /tokenize, /detokenize. */
#include <stdlib.h>
#include <string.h>

#include "server/oai_response.h"
#include "server/server_internal.h"
#include "server/utf8.h"

static enum MHD_Result not_ready(server *s, struct MHD_Connection *c) {
    oai_error e;
    oai_fail(&e, 503, NULL, "%s",
             atomic_load(&s->stopping) ? "the server is shutting down" : "the model is loading");
    return send_error(s, c, &e);
}

enum MHD_Result route_health(server *s, struct MHD_Connection *c) {
    const char *status = atomic_load(&s->stopping) ? "draining"
                         : atomic_load(&s->ready)  ? "ok"
                                                   : "loading";
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", status);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return send_json(s, c, strcmp(status, "ok") ? 503 : 200, json);
}

enum MHD_Result route_metrics(server *s, struct MHD_Connection *c) {
    bb_strbuf b = {0};
    engine_stats st;
    bool ready = atomic_load(&s->ready);
    if (ready) engine_get_stats(s->model.engine, &st);
    metrics_render(&b, &s->counters, ready ? &st : NULL);
    size_t len = b.len;
    char *text = bb_strbuf_take(&b);
    return send_body(s, c, 200, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

static cJSON *model_object(const server *s) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", s->model.model_id);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)s->model.created);
    cJSON_AddStringToObject(m, "owned_by", "beanbag");
    return m;
}

/* A bot as /v1/models lists it: a model id, owned by the bot's maker, with where it runs. */
static cJSON *bot_model_object(const server *s, const cJSON *bot) {
    cJSON *m = cJSON_CreateObject();
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(bot, "created_at");
    cJSON_AddStringToObject(m, "id", cJSON_GetObjectItemCaseSensitive(bot, "id")->valuestring);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(
        m, "created", cJSON_IsNumber(created) ? created->valuedouble : (double)s->model.created);
    cJSON_AddStringToObject(m, "owned_by", "beanbag-bot");
    cJSON_AddStringToObject(m, "parent", s->model.model_id);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(bot, "name");
    if (cJSON_IsString(name)) cJSON_AddStringToObject(m, "name", name->valuestring);
    return m;
}

enum MHD_Result route_models(server *s, struct MHD_Connection *c, const char *id) {
    if (!atomic_load(&s->ready)) return not_ready(s, c);
    if (id) {
        cJSON *bot = s->model.bots ? bots_get(s->model.bots, id) : NULL;
        if (bot) {
            cJSON *m = bot_model_object(s, bot);
            cJSON_Delete(bot);
            char *json = cJSON_PrintUnformatted(m);
            cJSON_Delete(m);
            return send_json(s, c, 200, json);
        }
        if (strcmp(id, s->model.model_id)) {
            oai_error e;
            oai_fail(&e, 404, "model", "the model '%.200s' does not exist", id);
            e.code = "model_not_found";
            return send_error(s, c, &e);
        }
        cJSON *m = model_object(s);
        char *json = cJSON_PrintUnformatted(m);
        cJSON_Delete(m);
        return send_json(s, c, 200, json);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    cJSON_AddItemToArray(data, model_object(s));
    cJSON *all = s->model.bots ? bots_list(s->model.bots) : NULL, *bot;
    cJSON_ArrayForEach(bot, all) {
        cJSON_AddItemToArray(data, bot_model_object(s, bot));
    }
    cJSON_Delete(all);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return send_json(s, c, 200, json);
}

/* Checks that every key of a small request object is one of `allowed`. */
static bool only_keys(const cJSON *root, const char *const *allowed, size_t n, oai_error *e) {
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        size_t i = 0;
        while (i < n && strcmp(v->string, allowed[i]))
            i++;
        if (i == n) return oai_fail(e, 400, v->string, "unknown parameter '%.60s'", v->string);
    }
    return true;
}

static bool optional_bool(const cJSON *root, const char *key, bool *out, oai_error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsBool(v)) return oai_fail(e, 400, key, "'%s' must be true or false", key);
    *out = cJSON_IsTrue(v);
    return true;
}

static cJSON *tokens_json(const bb_vocab *vocab, const bb_token *ids, size_t n, bool pieces) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        if (!pieces) {
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
            continue;
        }
        char *text = NULL;
        bb_detokenize(vocab, &ids[i], 1, true, &text, NULL);
        char *clean = text ? text_sanitize_utf8(text, strlen(text)) : NULL;
        bb_free(text);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", ids[i]);
        cJSON_AddStringToObject(o, "piece", clean ? clean : "");
        free(clean);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* {"content": TEXT, "add_special": false, "with_pieces": false} -> {"tokens": [...]} */
enum MHD_Result route_tokenize(server *s, struct MHD_Connection *c, http_req *r) {
    if (!atomic_load(&s->ready)) return not_ready(s, c);
    static const char *const keys[] = {"content", "add_special", "with_pieces"};
    oai_error e;
    cJSON *root = NULL;
    bool add_special = false, pieces = false;
    if (!request_json(r, &root, &e) || !only_keys(root, keys, 3, &e) ||
        !optional_bool(root, "add_special", &add_special, &e) ||
        !optional_bool(root, "with_pieces", &pieces, &e)) {
        cJSON_Delete(root);
        return send_error(s, c, &e);
    }
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
    if (!cJSON_IsString(content)) {
        cJSON_Delete(root);
        oai_fail(&e, 400, "content", "'content' must be a string");
        return send_error(s, c, &e);
    }
    const bb_vocab *vocab = bb_model_vocab(s->model.model);
    bb_token *ids = NULL;
    size_t n = 0;
    bb_error err = {0};
    bb_status st = bb_tokenize(vocab, content->valuestring, strlen(content->valuestring),
                               add_special, true, &ids, &n, &err);
    cJSON_Delete(root);
    if (st != BB_OK) {
        oai_fail(&e, 400, "content", "cannot tokenize: %s", err.message);
        return send_error(s, c, &e);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "tokens", tokens_json(vocab, ids, n, pieces));
    bb_free(ids);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return send_json(s, c, 200, json);
}

/* {"tokens": [ids]} -> {"content": TEXT} */
enum MHD_Result route_detokenize(server *s, struct MHD_Connection *c, http_req *r) {
    if (!atomic_load(&s->ready)) return not_ready(s, c);
    static const char *const keys[] = {"tokens"};
    oai_error e;
    cJSON *root = NULL;
    if (!request_json(r, &root, &e) || !only_keys(root, keys, 1, &e)) {
        cJSON_Delete(root);
        return send_error(s, c, &e);
    }
    const bb_vocab *vocab = bb_model_vocab(s->model.model);
    int32_t n_vocab = bb_vocab_n_tokens(vocab);
    bb_token *ids = NULL;
    size_t n = 0;
    bool ok = oai_token_ids(cJSON_GetObjectItemCaseSensitive(root, "tokens"), n_vocab, &ids, &n);
    cJSON_Delete(root);
    if (!ok) {
        oai_fail(&e, 400, "tokens", "'tokens' must be a list of token ids from 0 to %d",
                 n_vocab - 1);
        return send_error(s, c, &e);
    }
    char *text = NULL;
    bb_error err = {0};
    bb_status st = bb_detokenize(vocab, ids, n, false, &text, &err);
    free(ids);
    if (st != BB_OK) {
        oai_fail(&e, 500, NULL, "cannot detokenize: %s", err.message);
        return send_error(s, c, &e);
    }
    /* Ids can end inside a character: keep the JSON valid UTF-8. */
    char *clean = text_sanitize_utf8(text, strlen(text));
    bb_free(text);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "content", clean ? clean : "");
    free(clean);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return send_json(s, c, 200, json);
}
