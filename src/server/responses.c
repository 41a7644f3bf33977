/*
 * The Responses API (https://platform.openai.com/docs/api-reference/responses): POST
 * /v1/responses runs a turn of a conversation, GET and DELETE /v1/responses/ID read and remove
 * a stored one. A response made with `store` (the default when the server has --data-dir) is
 * kept in SQLite with the whole conversation up to and including its answer, so a later
 * request naming it as previous_response_id continues that conversation: the history, then
 * the new input. Instructions are not carried over (as OpenAI does), and a bot id as model
 * applies the bot. Each stored response belongs to the key that made it.
 *
 * A turn runs as a chat completion of the history, so the prefix cache serves the part of the
 * prompt the previous turn left in the KV cache, and after an eviction or a restart the
 * prompt is simply computed again: the answer is the same either way.
 *
 * Streaming sends OpenAI's event sequence: response.created, response.in_progress,
 * response.output_item.added, response.content_part.added, response.output_text.delta...,
 * response.output_text.done, response.content_part.done, response.output_item.done, then
 * response.completed (or response.failed) with the whole response object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "server/server_internal.h"

#define STREAM_BLOCK (16 * 1024)

static const char *const KNOWN[] = {"model",
                                    "input",
                                    "instructions",
                                    "previous_response_id",
                                    "store",
                                    "stream",
                                    "max_output_tokens",
                                    "temperature",
                                    "top_p",
                                    "metadata",
                                    "user",
                                    "seed"};

/* One turn being answered. */
typedef struct turn {
    server *s;
    engine_request *req;
    cJSON *history; /* the conversation so far, without instructions: chat messages */
    cJSON *meta;    /* what the response object echoes: model, instructions, ... */
    char id[40], msg_id[40], owner[STORE_KEY_ID_LEN + 1];
    bool store;
    int64_t created;
    /* streaming */
    int fd;
    conn_rec *conn;
    bb_strbuf text, out;
    size_t off;
    int seq;
    bool started, ended;
} turn;

static void random_id(const char *prefix, char *out, size_t cap) {
    unsigned char b[12];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(rand() & 255);
    int n = snprintf(out, cap, "%s", prefix);
    for (size_t i = 0; i < sizeof b && (size_t)n + 2 < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "%02x", b[i]);
}

static void turn_free(turn *t) {
    if (!t) return;
    if (t->req) {
        engine_request_cancel(t->req);
        engine_request_unref(t->req);
    }
    cJSON_Delete(t->history);
    cJSON_Delete(t->meta);
    bb_strbuf_release(&t->text);
    bb_strbuf_release(&t->out);
    free(t);
}

/* A message's content as one string: a string, or the text of its input_text / output_text
 * parts. NULL when it is neither. */
static char *content_text(const cJSON *content) {
    if (cJSON_IsString(content)) return strdup(content->valuestring);
    if (!cJSON_IsArray(content)) return NULL;
    bb_strbuf b = {0};
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || !cJSON_IsString(text) ||
            (strcmp(type->valuestring, "input_text") && strcmp(type->valuestring, "output_text") &&
             strcmp(type->valuestring, "text"))) {
            bb_strbuf_release(&b);
            return NULL;
        }
        bb_strbuf_append(&b, text->valuestring, strlen(text->valuestring));
    }
    if (!b.data) bb_strbuf_append(&b, "", 0);
    return b.failed ? (bb_strbuf_release(&b), NULL) : bb_strbuf_take(&b);
}

static void add_message(cJSON *arr, const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(arr, m);
}

/* `input`: a string (one user message) or a list of messages. */
static bool add_input(cJSON *history, const cJSON *input, oai_error *e) {
    if (cJSON_IsString(input)) {
        add_message(history, "user", input->valuestring);
        return true;
    }
    if (!cJSON_IsArray(input) || cJSON_GetArraySize(input) == 0)
        return oai_fail(e, 400, "input", "'input' must be a string or a list of messages");
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, input) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(item, "role");
        if ((type && !(cJSON_IsString(type) && !strcmp(type->valuestring, "message"))) ||
            !cJSON_IsString(role) ||
            (strcmp(role->valuestring, "user") && strcmp(role->valuestring, "assistant") &&
             strcmp(role->valuestring, "system") && strcmp(role->valuestring, "developer")))
            return oai_fail(e, 400, "input",
                            "'input[%d]' must be a message with role user, assistant, system or "
                            "developer",
                            i);
        char *text = content_text(cJSON_GetObjectItemCaseSensitive(item, "content"));
        if (!text)
            return oai_fail(e, 400, "input",
                            "'input[%d].content' must be a string or a list of input_text parts",
                            i);
        add_message(history, strcmp(role->valuestring, "developer") ? role->valuestring : "system",
                    text);
        free(text);
        i++;
    }
    return true;
}

/* The stored conversation of previous_response_id (this caller's), appended to history. */
static bool add_previous(server *s, const char *owner, const cJSON *prev, cJSON *history,
                         oai_error *e) {
    if (!cJSON_IsString(prev))
        return oai_fail(e, 400, "previous_response_id", "'previous_response_id' must be a string");
    if (!s->p.store)
        return oai_fail(e, 400, "previous_response_id",
                        "'previous_response_id' needs a server with --data-dir");
    char *json = NULL;
    bb_error err = {0};
    if (store_response_get(s->p.store, prev->valuestring, owner[0] ? owner : NULL, &json, &err) !=
        BB_OK)
        return oai_fail(e, 500, NULL, "%s", err.message);
    cJSON *doc = json ? cJSON_Parse(json) : NULL;
    free(json);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(doc, "history"), *m;
    if (!cJSON_IsArray(h)) {
        cJSON_Delete(doc);
        oai_fail(e, 404, "previous_response_id", "no stored response '%.64s'", prev->valuestring);
        e->code = "previous_response_not_found";
        return false;
    }
    cJSON_ArrayForEach(m, h) {
        cJSON_AddItemToArray(history, cJSON_Duplicate(m, true));
    }
    cJSON_Delete(doc);
    return true;
}

/* The response object (status "completed", "in_progress" or "failed"). */
static cJSON *response_object(const turn *t, const char *status, const char *text,
                              engine_request *er) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "object", "response");
    cJSON_AddNumberToObject(o, "created_at", (double)t->created);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddNullToObject(o, "error");
    const cJSON *v;
    cJSON_ArrayForEach(v, t->meta) {
        cJSON_AddItemToObject(o, v->string, cJSON_Duplicate(v, true));
    }
    cJSON *output = cJSON_AddArrayToObject(o, "output");
    if (text) {
        cJSON *msg = cJSON_CreateObject();
        cJSON_AddStringToObject(msg, "type", "message");
        cJSON_AddStringToObject(msg, "id", t->msg_id);
        cJSON_AddStringToObject(msg, "status", status);
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON *content = cJSON_AddArrayToObject(msg, "content");
        cJSON *part = cJSON_CreateObject();
        cJSON_AddStringToObject(part, "type", "output_text");
        cJSON_AddStringToObject(part, "text", text);
        cJSON_AddArrayToObject(part, "annotations");
        cJSON_AddItemToArray(content, part);
        cJSON_AddItemToArray(output, msg);
    }
    cJSON_AddBoolToObject(o, "store", t->store);
    if (er && engine_request_done(er)) {
        int32_t pt = 0, ct = 0;
        engine_request_usage(er, &pt, &ct);
        cJSON *u = cJSON_AddObjectToObject(o, "usage");
        cJSON_AddNumberToObject(u, "input_tokens", pt);
        cJSON *d = cJSON_AddObjectToObject(u, "input_tokens_details");
        cJSON_AddNumberToObject(d, "cached_tokens", engine_request_cached_tokens(er));
        cJSON_AddNumberToObject(u, "output_tokens", ct);
        d = cJSON_AddObjectToObject(u, "output_tokens_details");
        cJSON_AddNumberToObject(d, "reasoning_tokens", 0);
        cJSON_AddNumberToObject(u, "total_tokens", (double)pt + ct);
    } else {
        cJSON_AddNullToObject(o, "usage");
    }
    return o;
}

/* Stores the finished turn (its conversation with the answer appended). */
static bool store_turn(turn *t, const cJSON *resp, const char *text, oai_error *e) {
    if (!t->store) return true;
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "response", cJSON_Duplicate(resp, true));
    cJSON *h = cJSON_Duplicate(t->history, true);
    add_message(h, "assistant", text);
    cJSON_AddItemToObject(doc, "history", h);
    char *json = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    bb_error err = {0};
    bool ok = json && store_response_put(t->s->p.store, t->id, t->owner, json, &err) == BB_OK;
    free(json);
    if (!ok) oai_fail(e, 500, NULL, "cannot store the response: %s", err.message);
    return ok;
}

/* Takes what the engine produced since the last call into t->text; the finish, if any. */
static engine_finish take_text(turn *t, bb_strbuf *delta) {
    engine_delta d;
    engine_finish finish = ENGINE_FINISH_NONE;
    while (engine_request_take(t->req, 0, &d)) {
        bb_strbuf_append(&t->text, d.text ? d.text : "", d.len);
        if (delta) bb_strbuf_append(delta, d.text ? d.text : "", d.len);
        if (d.finish) finish = d.finish;
        engine_delta_free(&d);
    }
    return finish;
}

static const char *failure(engine_request *er, engine_finish f) {
    if (f == ENGINE_FINISH_CANCELLED) return "the server is shutting down";
    const char *msg = engine_request_error(er);
    return msg ? msg : "generation failed";
}

/* ---------------------------------------------------------------- streaming */

static void event(turn *t, const char *type, cJSON *o) {
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddNumberToObject(o, "sequence_number", t->seq++);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!json) {
        t->out.failed = true;
        return;
    }
    bb_strbuf_printf(&t->out, "event: %s\ndata: %s\n\n", type, json);
    free(json);
}

static cJSON *with_response(cJSON *o, cJSON *resp) {
    cJSON_AddItemToObject(o, "response", resp);
    return o;
}

static cJSON *item_event(const turn *t, const char *status, const char *text) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "output_index", 0);
    cJSON *item = cJSON_AddObjectToObject(o, "item");
    cJSON_AddStringToObject(item, "type", "message");
    cJSON_AddStringToObject(item, "id", t->msg_id);
    cJSON_AddStringToObject(item, "status", status);
    cJSON_AddStringToObject(item, "role", "assistant");
    cJSON *content = cJSON_AddArrayToObject(item, "content");
    if (text) {
        cJSON *part = cJSON_CreateObject();
        cJSON_AddStringToObject(part, "type", "output_text");
        cJSON_AddStringToObject(part, "text", text);
        cJSON_AddArrayToObject(part, "annotations");
        cJSON_AddItemToArray(content, part);
    }
    return o;
}

static cJSON *part_event(const turn *t, const char *text) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "item_id", t->msg_id);
    cJSON_AddNumberToObject(o, "output_index", 0);
    cJSON_AddNumberToObject(o, "content_index", 0);
    cJSON *part = cJSON_AddObjectToObject(o, "part");
    cJSON_AddStringToObject(part, "type", "output_text");
    cJSON_AddStringToObject(part, "text", text);
    cJSON_AddArrayToObject(part, "annotations");
    return o;
}

static void stream_fill(turn *t) {
    if (!t->started) {
        t->started = true;
        event(t, "response.created",
              with_response(cJSON_CreateObject(), response_object(t, "in_progress", NULL, NULL)));
        event(t, "response.in_progress",
              with_response(cJSON_CreateObject(), response_object(t, "in_progress", NULL, NULL)));
        event(t, "response.output_item.added", item_event(t, "in_progress", NULL));
        event(t, "response.content_part.added", part_event(t, ""));
    }
    bb_strbuf delta = {0};
    engine_finish finish = take_text(t, &delta);
    if (delta.len) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "item_id", t->msg_id);
        cJSON_AddNumberToObject(o, "output_index", 0);
        cJSON_AddNumberToObject(o, "content_index", 0);
        cJSON_AddStringToObject(o, "delta", delta.data);
        event(t, "response.output_text.delta", o);
    }
    bb_strbuf_release(&delta);
    if (!finish) return;
    t->ended = true;
    const char *text = t->text.data ? t->text.data : "";
    if (finish == ENGINE_FINISH_ERROR || finish == ENGINE_FINISH_CANCELLED) {
        cJSON *resp = response_object(t, "failed", text, t->req);
        cJSON *err = cJSON_CreateObject();
        cJSON_AddStringToObject(err, "code", "server_error");
        cJSON_AddStringToObject(err, "message", failure(t->req, finish));
        cJSON_ReplaceItemInObjectCaseSensitive(resp, "error", err);
        event(t, "response.failed", with_response(cJSON_CreateObject(), resp));
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "item_id", t->msg_id);
    cJSON_AddNumberToObject(o, "output_index", 0);
    cJSON_AddNumberToObject(o, "content_index", 0);
    cJSON_AddStringToObject(o, "text", text);
    event(t, "response.output_text.done", o);
    event(t, "response.content_part.done", part_event(t, text));
    event(t, "response.output_item.done", item_event(t, "completed", text));
    cJSON *resp = response_object(t, "completed", text, t->req);
    oai_error e;
    if (!store_turn(t, resp, text, &e)) {
        cJSON *err = cJSON_CreateObject();
        cJSON_AddStringToObject(err, "code", "server_error");
        cJSON_AddStringToObject(err, "message", e.message);
        cJSON_ReplaceItemInObjectCaseSensitive(resp, "error", err);
        cJSON_ReplaceItemInObjectCaseSensitive(resp, "status", cJSON_CreateString("failed"));
        event(t, "response.failed", with_response(cJSON_CreateObject(), resp));
        return;
    }
    event(t, "response.completed", with_response(cJSON_CreateObject(), resp));
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    turn *t = cls;
    conn_arm(t->s, t->conn, false);
    while (t->off == t->out.len) {
        if (t->ended || t->out.failed)
            return t->ended && !t->out.failed ? MHD_CONTENT_READER_END_OF_STREAM
                                              : MHD_CONTENT_READER_END_WITH_ERROR;
        t->out.len = t->off = 0;
        stream_fill(t);
        if (t->out.len) break;
        if (engine_request_wait(t->req, t->fd, 1000) < 0) {
            engine_request_cancel(t->req); /* the client hung up */
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = t->out.len - t->off < max ? t->out.len - t->off : max;
    memcpy(buf, t->out.data + t->off, n);
    t->off += n;
    conn_arm(t->s, t->conn, true); /* the client must take this piece within the timeout */
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    turn_free(cls);
}

/* ---------------------------------------------------------------- POST */

/* Checks the body and builds the turn and the chat request it runs as. */
static bool prepare(server *s, http_req *r, cJSON *body, turn *t, cJSON **chat, bool *stream,
                    oai_error *e) {
    *chat = NULL;
    if (!cJSON_IsObject(body)) return oai_fail(e, 400, NULL, "the body must be a JSON object");
    const cJSON *v;
    cJSON_ArrayForEach(v, body) {
        size_t i = 0;
        while (i < sizeof KNOWN / sizeof KNOWN[0] && strcmp(KNOWN[i], v->string))
            i++;
        if (i == sizeof KNOWN / sizeof KNOWN[0])
            return oai_fail(e, 400, v->string, "unknown parameter '%.60s'", v->string);
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(body, "input");
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(body, "instructions");
    const cJSON *prev = cJSON_GetObjectItemCaseSensitive(body, "previous_response_id");
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(body, "store");
    const cJSON *strm = cJSON_GetObjectItemCaseSensitive(body, "stream");
    if (!cJSON_IsString(model)) return oai_fail(e, 400, "model", "'model' must be a string");
    if (!input) return oai_fail(e, 400, "input", "'input' is required");
    if (ins && !cJSON_IsNull(ins) && !cJSON_IsString(ins))
        return oai_fail(e, 400, "instructions", "'instructions' must be a string");
    if (store && !cJSON_IsNull(store) && !cJSON_IsBool(store))
        return oai_fail(e, 400, "store", "'store' must be true or false");
    if (strm && !cJSON_IsNull(strm) && !cJSON_IsBool(strm))
        return oai_fail(e, 400, "stream", "'stream' must be true or false");
    *stream = cJSON_IsTrue(strm);
    /* OpenAI stores by default; a server without --data-dir cannot */
    t->store = store && cJSON_IsBool(store) ? cJSON_IsTrue(store) : s->p.store != NULL;
    if (t->store && !s->p.store)
        return oai_fail(e, 400, "store", "'store': true needs a server with --data-dir");
    snprintf(t->owner, sizeof t->owner, "%s", r->key_id);
    t->history = cJSON_CreateArray();
    if (prev && !cJSON_IsNull(prev) && !add_previous(s, t->owner, prev, t->history, e))
        return false;
    if (!add_input(t->history, input, e)) return false;

    *chat = cJSON_CreateObject();
    cJSON_AddStringToObject(*chat, "model", model->valuestring);
    cJSON *msgs = cJSON_AddArrayToObject(*chat, "messages");
    if (cJSON_IsString(ins)) add_message(msgs, "system", ins->valuestring);
    cJSON_ArrayForEach(v, t->history) {
        cJSON_AddItemToArray(msgs, cJSON_Duplicate(v, true));
    }
    static const char *const pass[][2] = {{"max_output_tokens", "max_tokens"},
                                          {"temperature", "temperature"},
                                          {"top_p", "top_p"},
                                          {"metadata", "metadata"},
                                          {"user", "user"},
                                          {"seed", "seed"}};
    for (size_t i = 0; i < sizeof pass / sizeof pass[0]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(body, pass[i][0]);
        if (v && !cJSON_IsNull(v))
            cJSON_AddItemToObject(*chat, pass[i][1], cJSON_Duplicate(v, true));
    }
    t->meta = cJSON_CreateObject();
    cJSON_AddStringToObject(t->meta, "model", model->valuestring);
    cJSON_AddItemToObject(t->meta, "instructions",
                          cJSON_IsString(ins) ? cJSON_CreateString(ins->valuestring)
                                              : cJSON_CreateNull());
    cJSON_AddItemToObject(t->meta, "previous_response_id",
                          cJSON_IsString(prev) ? cJSON_CreateString(prev->valuestring)
                                               : cJSON_CreateNull());
    const char *echo[] = {"max_output_tokens", "temperature", "top_p", "metadata"};
    for (size_t i = 0; i < sizeof echo / sizeof echo[0]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(body, echo[i]);
        cJSON_AddItemToObject(t->meta, echo[i], v ? cJSON_Duplicate(v, true) : cJSON_CreateNull());
    }
    return true;
}

static enum MHD_Result create(server *s, struct MHD_Connection *c, http_req *r) {
    oai_error e;
    cJSON *body = NULL, *chat = NULL;
    turn *t = calloc(1, sizeof *t);
    if (!t) return MHD_NO;
    t->s = s;
    t->created = (int64_t)time(NULL);
    random_id("resp_", t->id, sizeof t->id);
    random_id("msg_", t->msg_id, sizeof t->msg_id);
    const bb_vocab *vocab = bb_model_vocab(s->model.model);
    oai_limits lim = {.max_n = 1, .n_vocab = bb_vocab_n_tokens(vocab)};
    oai_request req;
    memset(&req, 0, sizeof req);
    bb_token *ids = NULL;
    size_t n = 0;
    bool stream = false;
    bool ok = request_json(r, &body, &e) && prepare(s, r, body, t, &chat, &stream, &e) &&
              (!s->model.bots || bots_apply(s->model.bots, chat, &e) >= 0) &&
              oai_parse_request(chat, true, &lim, &req, &e);
    if (ok && req.model && strcmp(req.model, s->model.model_id)) {
        ok = oai_fail(&e, 404, "model", "the model '%.200s' does not exist (this server has '%s')",
                      req.model, s->model.model_id);
        e.code = "model_not_found";
    }
    if (ok) ok = completion_prompt(s, &req, &ids, &n, &e);
    if (ok) ok = completion_submit(s, &req, ids, n, &t->req, &e);
    if (ok) auth_track(s->auth, r->key_id, t->req);
    bb_free(ids);
    oai_request_free(&req);
    cJSON_Delete(chat);
    cJSON_Delete(body);
    if (!ok) {
        turn_free(t);
        return send_error(s, c, &e);
    }
    t->fd = completion_conn_fd(c);
    t->conn = r->conn;
    if (stream) {
        struct MHD_Response *resp = MHD_create_response_from_callback(
            MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, t, stream_free);
        if (!resp) {
            turn_free(t);
            return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        return send_counted(s, c, 200, resp);
    }
    engine_finish finish = ENGINE_FINISH_NONE;
    while (!finish) {
        finish = take_text(t, NULL);
        if (!finish && engine_request_wait(t->req, t->fd, 1000) < 0) {
            turn_free(t); /* the client hung up: cancels the request */
            return MHD_NO;
        }
    }
    enum MHD_Result ret;
    const char *text = t->text.data ? t->text.data : "";
    if (finish == ENGINE_FINISH_ERROR || finish == ENGINE_FINISH_CANCELLED) {
        oai_fail(&e, finish == ENGINE_FINISH_CANCELLED ? 503 : 500, NULL, "%s",
                 failure(t->req, finish));
        ret = send_error(s, c, &e);
    } else {
        cJSON *resp = response_object(t, "completed", text, t->req);
        if (store_turn(t, resp, text, &e)) {
            char *json = cJSON_PrintUnformatted(resp);
            ret = send_json(s, c, 200, json);
        } else {
            ret = send_error(s, c, &e);
        }
        cJSON_Delete(resp);
    }
    turn_free(t);
    return ret;
}

/* ---------------------------------------------------------------- GET, DELETE */

enum MHD_Result route_responses(server *s, struct MHD_Connection *c, http_req *r,
                                const char *method, const char *id) {
    oai_error e;
    if (atomic_load(&s->stopping) || !atomic_load(&s->ready)) {
        oai_fail(&e, 503, NULL, "%s",
                 atomic_load(&s->stopping) ? "the server is shutting down"
                                           : "the model is loading");
        return send_error(s, c, &e);
    }
    if (!id) return create(s, c, r);
    if (!s->p.store) {
        oai_fail(&e, 404, NULL, "no stored response '%.64s' (the server has no --data-dir)", id);
        return send_error(s, c, &e);
    }
    const char *owner = r->key_id[0] ? r->key_id : NULL;
    bb_error err = {0};
    if (!strcmp(method, "DELETE")) {
        bool found = false;
        if (store_response_delete(s->p.store, id, owner, &found, &err) != BB_OK) {
            oai_fail(&e, 500, NULL, "%s", err.message);
            return send_error(s, c, &e);
        }
        if (!found) {
            oai_fail(&e, 404, NULL, "no stored response '%.64s'", id);
            return send_error(s, c, &e);
        }
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "object", "response.deleted");
        cJSON_AddBoolToObject(o, "deleted", 1);
        char *json = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        return send_json(s, c, 200, json);
    }
    char *json = NULL;
    if (store_response_get(s->p.store, id, owner, &json, &err) != BB_OK) {
        oai_fail(&e, 500, NULL, "%s", err.message);
        return send_error(s, c, &e);
    }
    cJSON *doc = json ? cJSON_Parse(json) : NULL;
    free(json);
    cJSON *resp = cJSON_DetachItemFromObjectCaseSensitive(doc, "response");
    cJSON_Delete(doc);
    if (!resp) {
        oai_fail(&e, 404, NULL, "no stored response '%.64s'", id);
        return send_error(s, c, &e);
    }
    char *out = cJSON_PrintUnformatted(resp);
    cJSON_Delete(resp);
    return send_json(s, c, 200, out);
}
