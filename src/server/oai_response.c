#include "server/oai_response.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/utf8.h"

void oai_ctx_init(oai_ctx *c, bool chat, const char *model, const bb_vocab *vocab) {
    static atomic_uint_fast64_t counter;
    memset(c, 0, sizeof *c);
    c->chat = chat;
    c->created = (int64_t)time(NULL);
    c->model = model;
    c->vocab = vocab;
    uint64_t n = atomic_fetch_add(&counter, 1);
    snprintf(c->id, sizeof c->id, "%s-%llx%06llx", chat ? "chatcmpl" : "cmpl",
             (unsigned long long)c->created, (unsigned long long)(n & 0xFFFFFF));
}

const char *oai_finish_reason(engine_finish f) {
    switch (f) {
    case ENGINE_FINISH_STOP:
        return "stop";
    case ENGINE_FINISH_LENGTH:
        return "length";
    default:
        return NULL;
    }
}

static char *print_and_free(cJSON *j) {
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    return s;
}

char *oai_error_json(const oai_error *e) {
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "message", e->message);
    cJSON_AddStringToObject(err, "type", e->type ? e->type : "invalid_request_error");
    if (e->param[0])
        cJSON_AddStringToObject(err, "param", e->param);
    else
        cJSON_AddNullToObject(err, "param");
    if (e->code)
        cJSON_AddStringToObject(err, "code", e->code);
    else
        cJSON_AddNullToObject(err, "code");
    return print_and_free(root);
}

/* ---------------------------------------------------------------- logprobs */

/* A float as the shortest decimal that reads back as the same float (9 significant digits
 * suffice), so JSON shows -0.506341755 rather than the double expansion of the float. */
static cJSON *float_json(float f) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.9g", (double)f);
    return cJSON_CreateNumber(strtod(buf, NULL));
}

/* The token's bytes; *text is the same made valid UTF-8 (U+FFFD for a partial character). */
static cJSON *token_bytes(const bb_vocab *vocab, bb_token id, char **text) {
    char small[64], *buf = small;
    int32_t n = bb_token_to_piece(vocab, id, true, small, sizeof small);
    if (n < 0) {
        buf = malloc((size_t)-n);
        n = buf ? bb_token_to_piece(vocab, id, true, buf, -n) : 0;
        if (n < 0) n = 0;
    }
    cJSON *bytes = cJSON_CreateArray();
    for (int32_t i = 0; i < n; i++)
        cJSON_AddItemToArray(bytes, cJSON_CreateNumber((unsigned char)buf[i]));
    *text = text_sanitize_utf8(buf, (size_t)n);
    if (buf != small) free(buf);
    return bytes;
}

static cJSON *chat_logprob(const bb_vocab *vocab, bb_token id, float lp, bool with_top) {
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    cJSON *bytes = token_bytes(vocab, id, &text);
    cJSON_AddStringToObject(o, "token", text ? text : "");
    cJSON_AddItemToObject(o, "logprob", float_json(lp));
    cJSON_AddItemToObject(o, "bytes", bytes);
    if (with_top) cJSON_AddArrayToObject(o, "top_logprobs");
    free(text);
    return o;
}

static cJSON *chat_logprobs(const oai_ctx *c, const engine_token_info *t, size_t n) {
    cJSON *root = cJSON_CreateObject();
    cJSON *content = cJSON_AddArrayToObject(root, "content");
    for (size_t i = 0; i < n; i++) {
        cJSON *entry = chat_logprob(c->vocab, t[i].token, t[i].logprob, true);
        cJSON *top = cJSON_GetObjectItemCaseSensitive(entry, "top_logprobs");
        for (int32_t k = 0; k < t[i].n_top; k++)
            cJSON_AddItemToArray(
                top, chat_logprob(c->vocab, t[i].top_ids[k], t[i].top_logprobs[k], false));
        cJSON_AddItemToArray(content, entry);
    }
    cJSON_AddNullToObject(root, "refusal");
    return root;
}

/* The legacy completions shape: parallel arrays, alternatives as {token: logprob} maps. */
static cJSON *text_logprobs(const oai_ctx *c, const engine_token_info *t, size_t n) {
    cJSON *root = cJSON_CreateObject();
    cJSON *tokens = cJSON_AddArrayToObject(root, "tokens");
    cJSON *lps = cJSON_AddArrayToObject(root, "token_logprobs");
    cJSON *tops = cJSON_AddArrayToObject(root, "top_logprobs");
    cJSON *offsets = cJSON_AddArrayToObject(root, "text_offset");
    for (size_t i = 0; i < n; i++) {
        char *text = NULL;
        cJSON_Delete(token_bytes(c->vocab, t[i].token, &text));
        cJSON_AddItemToArray(tokens, cJSON_CreateString(text ? text : ""));
        free(text);
        cJSON_AddItemToArray(lps, float_json(t[i].logprob));
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber(t[i].text_offset));
        cJSON *alt = cJSON_CreateObject();
        for (int32_t k = 0; k < t[i].n_top; k++) {
            cJSON_Delete(token_bytes(c->vocab, t[i].top_ids[k], &text));
            cJSON_AddItemToObject(alt, text ? text : "", float_json(t[i].top_logprobs[k]));
            free(text);
        }
        cJSON_AddItemToArray(tops, alt);
    }
    return root;
}

static void add_logprobs(const oai_ctx *c, cJSON *choice, const engine_token_info *t, size_t n) {
    if (!c->logprobs)
        cJSON_AddNullToObject(choice, "logprobs");
    else
        cJSON_AddItemToObject(choice, "logprobs",
                              c->chat ? chat_logprobs(c, t, n) : text_logprobs(c, t, n));
}

const char *oai_finish_with_calls(engine_finish f, bool calls) {
    return calls && f == ENGINE_FINISH_STOP ? "tool_calls" : oai_finish_reason(f);
}

static void add_reason(cJSON *choice, const char *reason) {
    if (reason)
        cJSON_AddStringToObject(choice, "finish_reason", reason);
    else
        cJSON_AddNullToObject(choice, "finish_reason");
}

static void add_finish(cJSON *choice, engine_finish f) {
    const char *reason = oai_finish_reason(f);
    if (reason)
        cJSON_AddStringToObject(choice, "finish_reason", reason);
    else
        cJSON_AddNullToObject(choice, "finish_reason");
}

/* ---------------------------------------------------------------- whole responses */

static cJSON *envelope(const oai_ctx *c, const char *object) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", c->id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", (double)c->created);
    cJSON_AddStringToObject(root, "model", c->model);
    cJSON_AddStringToObject(root, "system_fingerprint", "beanbag-" BB_VERSION);
    return root;
}

static cJSON *usage_json(const oai_ctx *c, int32_t prompt_tokens, int32_t completion_tokens) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", prompt_tokens);
    cJSON_AddNumberToObject(u, "completion_tokens", completion_tokens);
    cJSON_AddNumberToObject(u, "total_tokens", (double)prompt_tokens + completion_tokens);
    /* OpenAI's prompt caching report: the prompt tokens whose computation was reused */
    cJSON *details = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(details, "cached_tokens", c->cached_tokens);
    return u;
}

/* A string item from bytes that may hold NULs (cJSON takes C strings). */
static cJSON *string_n(const char *s, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    memcpy(copy, s ? s : "", len);
    copy[len] = 0;
    cJSON *item = cJSON_CreateString(copy);
    free(copy);
    return item;
}

/* message.tool_calls / delta.tool_calls entries
 * (https://platform.openai.com/docs/api-reference/chat/streaming: the first delta of a call
 * has its index, id, type and name with "arguments": "", later ones argument fragments). */
static cJSON *tool_call_json(const tc_call_delta *t, bool streamed) {
    cJSON *o = cJSON_CreateObject();
    if (streamed) cJSON_AddNumberToObject(o, "index", t->index);
    if (t->header) {
        cJSON_AddStringToObject(o, "id", t->id);
        cJSON_AddStringToObject(o, "type", "function");
    }
    cJSON *fn = cJSON_AddObjectToObject(o, "function");
    if (t->header) cJSON_AddStringToObject(fn, "name", t->name ? t->name : "");
    cJSON_AddItemToObject(fn, "arguments", string_n(t->args.data, t->args.len));
    return o;
}

static void parsed_message(cJSON *choice, const tc_delta *m) {
    cJSON *msg = cJSON_AddObjectToObject(choice, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    if (m->content.len || !m->n_calls)
        cJSON_AddItemToObject(msg, "content", string_n(m->content.data, m->content.len));
    else
        cJSON_AddNullToObject(msg, "content");
    if (m->reasoning.len)
        cJSON_AddItemToObject(msg, "reasoning_content",
                              string_n(m->reasoning.data, m->reasoning.len));
    cJSON_AddNullToObject(msg, "refusal");
    if (m->n_calls) {
        cJSON *calls = cJSON_AddArrayToObject(msg, "tool_calls");
        for (size_t i = 0; i < m->n_calls; i++)
            cJSON_AddItemToArray(calls, tool_call_json(&m->calls[i], false));
    }
}

char *oai_response_json(const oai_ctx *c, const oai_choice *choices, int32_t n,
                        int32_t prompt_tokens, int32_t completion_tokens) {
    cJSON *root = envelope(c, c->chat ? "chat.completion" : "text_completion");
    cJSON *arr = cJSON_AddArrayToObject(root, "choices");
    for (int32_t i = 0; i < n; i++) {
        const oai_choice *ch = &choices[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", i);
        if (c->chat && ch->message) {
            parsed_message(o, ch->message);
        } else if (c->chat) {
            cJSON *msg = cJSON_AddObjectToObject(o, "message");
            cJSON_AddStringToObject(msg, "role", "assistant");
            cJSON_AddItemToObject(msg, "content", string_n(ch->text, ch->len));
            cJSON_AddNullToObject(msg, "refusal");
        } else {
            cJSON_AddItemToObject(o, "text", string_n(ch->text, ch->len));
        }
        add_logprobs(c, o, ch->tokens, ch->n_tokens);
        if (c->chat && ch->message)
            add_reason(o, oai_finish_with_calls(ch->finish, ch->message->n_calls > 0));
        else
            add_finish(o, ch->finish);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddItemToObject(root, "usage", usage_json(c, prompt_tokens, completion_tokens));
    return print_and_free(root);
}

/* ---------------------------------------------------------------- stream chunks */

static cJSON *chunk(const oai_ctx *c, cJSON **choice, int32_t index) {
    cJSON *root = envelope(c, c->chat ? "chat.completion.chunk" : "text_completion");
    cJSON *arr = cJSON_AddArrayToObject(root, "choices");
    *choice = cJSON_CreateObject();
    cJSON_AddNumberToObject(*choice, "index", index);
    cJSON_AddItemToArray(arr, *choice);
    return root;
}

static char *finish_chunk(const oai_ctx *c, cJSON *root) {
    if (c->usage_in_chunks) cJSON_AddNullToObject(root, "usage");
    return print_and_free(root);
}

char *oai_chunk_role(const oai_ctx *c, int32_t index) {
    cJSON *choice;
    cJSON *root = chunk(c, &choice, index);
    cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
    cJSON_AddStringToObject(delta, "role", "assistant");
    cJSON_AddStringToObject(delta, "content", "");
    cJSON_AddNullToObject(choice, "logprobs");
    cJSON_AddNullToObject(choice, "finish_reason");
    return finish_chunk(c, root);
}

char *oai_chunk_delta(const oai_ctx *c, int32_t index, const engine_delta *d) {
    cJSON *choice;
    cJSON *root = chunk(c, &choice, index);
    if (c->chat) {
        cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
        if (d->len) cJSON_AddItemToObject(delta, "content", string_n(d->text, d->len));
    } else {
        cJSON_AddItemToObject(choice, "text", string_n(d->text, d->len));
    }
    add_logprobs(c, choice, d->tokens, d->n_tokens);
    add_finish(choice, d->finish);
    return finish_chunk(c, root);
}

char *oai_chunk_parsed(const oai_ctx *c, int32_t index, const tc_delta *d,
                       const engine_token_info *tokens, size_t n_tokens, const char *finish) {
    cJSON *choice;
    cJSON *root = chunk(c, &choice, index);
    cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
    if (d && d->content.len)
        cJSON_AddItemToObject(delta, "content", string_n(d->content.data, d->content.len));
    if (d && d->reasoning.len)
        cJSON_AddItemToObject(delta, "reasoning_content",
                              string_n(d->reasoning.data, d->reasoning.len));
    if (d && d->n_calls) {
        cJSON *calls = cJSON_AddArrayToObject(delta, "tool_calls");
        for (size_t i = 0; i < d->n_calls; i++)
            cJSON_AddItemToArray(calls, tool_call_json(&d->calls[i], true));
    }
    add_logprobs(c, choice, tokens, n_tokens);
    add_reason(choice, finish);
    return finish_chunk(c, root);
}

char *oai_chunk_usage(const oai_ctx *c, int32_t prompt_tokens, int32_t completion_tokens) {
    cJSON *root = envelope(c, c->chat ? "chat.completion.chunk" : "text_completion");
    cJSON_AddArrayToObject(root, "choices");
    cJSON_AddItemToObject(root, "usage", usage_json(c, prompt_tokens, completion_tokens));
    return print_and_free(root);
}
