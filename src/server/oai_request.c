#include "server/oai_request.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/structured.h"
#include "server/utf8.h"

bool oai_fail(oai_error *e, int status, const char *param, const char *fmt, ...) {
    e->status = status;
    e->type = status >= 500 ? "server_error" : "invalid_request_error";
    e->code = NULL;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return false;
}

bool oai_parse_json(const char *body, size_t len, cJSON **root, oai_error *e) {
    size_t bad;
    if (!text_is_utf8(body, len, &bad))
        return oai_fail(e, 400, NULL, "the request body is not valid UTF-8 (byte %zu)", bad);
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!*root) {
        size_t at = end && end >= body && end <= body + len ? (size_t)(end - body) : 0;
        return oai_fail(e, 400, NULL, "invalid JSON at byte %zu of %zu", at, len);
    }
    /* Only white space may follow the value. */
    for (const char *p = end; p && p < body + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(*root);
            *root = NULL;
            return oai_fail(e, 400, NULL, "invalid JSON: unexpected data at byte %zu",
                            (size_t)(p - body));
        }
    if (!cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return oai_fail(e, 400, NULL, "the request body must be a JSON object");
    }
    return true;
}

/* ---------------------------------------------------------------- typed fields */

static bool get_number(const cJSON *v, const char *name, double lo, double hi, double *out,
                       oai_error *e) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return oai_fail(e, 400, name, "'%s' must be a number from %g to %g", name, lo, hi);
    *out = v->valuedouble;
    return true;
}

static bool get_int(const cJSON *v, const char *name, double lo, double hi, int64_t *out,
                    oai_error *e) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
        v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return oai_fail(e, 400, name, "'%s' must be an integer from %.0f to %.0f", name, lo, hi);
    *out = (int64_t)v->valuedouble;
    return true;
}

static bool get_bool(const cJSON *v, const char *name, bool *out, oai_error *e) {
    if (!cJSON_IsBool(v)) return oai_fail(e, 400, name, "'%s' must be true or false", name);
    *out = cJSON_IsTrue(v);
    return true;
}

static bool parse_stop(const cJSON *v, oai_request *r, oai_error *e) {
    if (cJSON_IsString(v)) {
        if (v->valuestring[0]) r->stop[r->n_stop++] = v->valuestring;
        return true;
    }
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > OAI_MAX_STOP)
        return oai_fail(e, 400, "stop", "'stop' must be a string or a list of up to %d strings",
                        OAI_MAX_STOP);
    const cJSON *s;
    cJSON_ArrayForEach(s, v) {
        if (!cJSON_IsString(s))
            return oai_fail(e, 400, "stop", "'stop' must be a string or a list of strings");
        if (s->valuestring[0]) r->stop[r->n_stop++] = s->valuestring;
    }
    return true;
}

static bool parse_logit_bias(const cJSON *v, const oai_limits *lim, oai_request *r, oai_error *e) {
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsObject(v) || n > OAI_MAX_LOGIT_BIAS)
        return oai_fail(e, 400, "logit_bias",
                        "'logit_bias' must be an object of at most %d token ids to numbers",
                        OAI_MAX_LOGIT_BIAS);
    r->bias = calloc((size_t)(n ? n : 1), sizeof *r->bias);
    if (!r->bias) return oai_fail(e, 500, "logit_bias", "out of memory");
    const cJSON *b;
    cJSON_ArrayForEach(b, v) {
        char *end;
        long id = strtol(b->string, &end, 10);
        if (!b->string[0] || *end || id < 0 || id >= lim->n_vocab)
            return oai_fail(e, 400, "logit_bias",
                            "'logit_bias' key '%.40s' is not a token id from 0 to %d", b->string,
                            lim->n_vocab - 1);
        double bias = 0;
        if (!get_number(b, "logit_bias", -100, 100, &bias, e)) return false;
        r->bias[r->n_bias++] = (bb_logit_bias){.token = (bb_token)id, .bias = (float)bias};
    }
    r->sampling.logit_bias = r->bias;
    r->sampling.n_logit_bias = r->n_bias;
    return true;
}

static bool parse_stream_options(const cJSON *v, oai_request *r, oai_error *e) {
    if (!cJSON_IsObject(v))
        return oai_fail(e, 400, "stream_options", "'stream_options' must be an object");
    const cJSON *o;
    cJSON_ArrayForEach(o, v) {
        if (strcmp(o->string, "include_usage"))
            return oai_fail(e, 400, "stream_options", "unknown stream option '%.40s'", o->string);
        if (!get_bool(o, "stream_options.include_usage", &r->include_usage, e)) return false;
    }
    return true;
}

/* Parameters OpenAI defines that only make sense with features we do not have: accepted in
 * their neutral form only. */
static bool parse_neutral(const cJSON *v, const char *name, oai_error *e) {
    if (!strcmp(name, "functions")) {
        if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0) return true;
        return oai_fail(e, 400, name, "'%s' is not supported by this server", name);
    }
    if (!strcmp(name, "response_format") || !strcmp(name, "grammar"))
        return true; /* compiled by oai_structured_parse, after every field is known */
    if (!strcmp(name, "echo")) {
        if (cJSON_IsFalse(v)) return true;
        return oai_fail(e, 400, name, "'echo' is not supported");
    }
    /* store, metadata: nothing to store. */
    return true;
}

/* ---------------------------------------------------------------- the request */

typedef enum { P_BOTH, P_CHAT, P_TEXT } scope;

static const struct {
    const char *name;
    scope where;
} known[] = {
    {"model", P_BOTH},
    {"messages", P_CHAT},
    {"prompt", P_TEXT},
    {"max_tokens", P_BOTH},
    {"max_completion_tokens", P_CHAT},
    {"temperature", P_BOTH},
    {"top_p", P_BOTH},
    {"n", P_BOTH},
    {"stop", P_BOTH},
    {"seed", P_BOTH},
    {"presence_penalty", P_BOTH},
    {"frequency_penalty", P_BOTH},
    {"logit_bias", P_BOTH},
    {"logprobs", P_BOTH},
    {"top_logprobs", P_CHAT},
    {"user", P_BOTH},
    {"stream", P_BOTH},
    {"stream_options", P_BOTH},
    {"top_k", P_BOTH},
    {"min_p", P_BOTH},
    {"repeat_penalty", P_BOTH},
    {"tools", P_CHAT},
    {"functions", P_CHAT},
    {"tool_choice", P_CHAT},
    {"parallel_tool_calls", P_CHAT},
    {"chat_template_kwargs", P_CHAT},
    {"response_format", P_BOTH},
    {"grammar", P_BOTH},
    {"store", P_CHAT},
    {"metadata", P_CHAT},
    {"echo", P_TEXT},
};

static bool parse_sampling(const cJSON *v, const char *k, oai_request *r, oai_error *e) {
    double d = 0;
    int64_t i = 0;
    bb_sampler_params *s = &r->sampling;
    if (!strcmp(k, "temperature")) {
        if (!get_number(v, k, 0, 2, &d, e)) return false;
        s->temperature = (float)d;
    } else if (!strcmp(k, "top_p")) {
        if (!get_number(v, k, 0, 1, &d, e)) return false;
        s->top_p = (float)d;
    } else if (!strcmp(k, "min_p")) {
        if (!get_number(v, k, 0, 1, &d, e)) return false;
        s->min_p = (float)d;
    } else if (!strcmp(k, "presence_penalty")) {
        if (!get_number(v, k, -2, 2, &d, e)) return false;
        s->presence_penalty = (float)d;
    } else if (!strcmp(k, "frequency_penalty")) {
        if (!get_number(v, k, -2, 2, &d, e)) return false;
        s->frequency_penalty = (float)d;
    } else if (!strcmp(k, "repeat_penalty")) {
        if (!get_number(v, k, 0.01, 10, &d, e)) return false;
        s->repeat_penalty = (float)d;
    } else if (!strcmp(k, "top_k")) {
        if (!get_int(v, k, 0, 1 << 30, &i, e)) return false;
        s->top_k = (int32_t)i;
    } else if (!strcmp(k, "seed")) {
        /* Any 64-bit integer; doubles represent them exactly up to 2^53 and approximately
         * beyond, which is as exact as JSON clients send them. */
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
            v->valuedouble != floor(v->valuedouble) || v->valuedouble < -9.2e18 ||
            v->valuedouble > 1.8e19)
            return oai_fail(e, 400, k, "'seed' must be a 64-bit integer");
        s->seed = v->valuedouble < 0 ? (uint64_t)(int64_t)v->valuedouble : (uint64_t)v->valuedouble;
        r->has_seed = true;
    }
    return true;
}

static bool is_neutral_name(const char *k) {
    return !strcmp(k, "functions") || !strcmp(k, "response_format") || !strcmp(k, "grammar") ||
           !strcmp(k, "echo") || !strcmp(k, "store") || !strcmp(k, "metadata");
}

static bool is_tool_name(const char *k) {
    return !strcmp(k, "tools") || !strcmp(k, "tool_choice") || !strcmp(k, "parallel_tool_calls") ||
           !strcmp(k, "chat_template_kwargs");
}

static bool parse_field(const cJSON *v, const char *k, const oai_limits *lim, oai_request *r,
                        oai_error *e) {
    int64_t i = 0;
    if (!strcmp(k, "model")) {
        if (!cJSON_IsString(v)) return oai_fail(e, 400, k, "'model' must be a string");
        r->model = v->valuestring;
    } else if (!strcmp(k, "messages")) {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
            return oai_fail(e, 400, k, "'messages' must be a non-empty list of messages");
        r->messages = v;
    } else if (!strcmp(k, "prompt")) {
        r->prompt = v;
    } else if (!strcmp(k, "max_tokens") || !strcmp(k, "max_completion_tokens")) {
        if (!get_int(v, k, 1, INT32_MAX, &i, e)) return false;
        r->max_tokens = i;
    } else if (!strcmp(k, "n")) {
        if (!get_int(v, k, 1, lim->max_n, &i, e)) return false;
        r->n = (int32_t)i;
    } else if (!strcmp(k, "stop")) {
        return parse_stop(v, r, e);
    } else if (!strcmp(k, "logit_bias")) {
        return parse_logit_bias(v, lim, r, e);
    } else if (!strcmp(k, "logprobs")) {
        if (r->chat) return get_bool(v, k, &r->logprobs, e);
        /* Completions: the number of alternatives per token, 0..5. */
        if (!get_int(v, k, 0, 5, &i, e)) return false;
        r->logprobs = true;
        r->top_logprobs = (int32_t)i;
    } else if (!strcmp(k, "top_logprobs")) {
        if (!get_int(v, k, 0, 20, &i, e)) return false;
        r->top_logprobs = (int32_t)i;
    } else if (!strcmp(k, "user")) {
        if (!cJSON_IsString(v)) return oai_fail(e, 400, k, "'user' must be a string");
    } else if (!strcmp(k, "stream")) {
        return get_bool(v, k, &r->stream, e);
    } else if (!strcmp(k, "stream_options")) {
        return parse_stream_options(v, r, e);
    } else if (is_tool_name(k)) {
        return oai_parse_tool_field(v, k, r, e);
    } else if (is_neutral_name(k)) {
        return parse_neutral(v, k, e);
    } else {
        return parse_sampling(v, k, r, e);
    }
    return true;
}

static bool is_known(const char *k, bool chat) {
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(known[i].name, k))
            return known[i].where == P_BOTH || known[i].where == (chat ? P_CHAT : P_TEXT);
    return false;
}

bool oai_parse_request(const cJSON *root, bool chat, const oai_limits *lim, oai_request *r,
                       oai_error *e) {
    memset(r, 0, sizeof *r);
    r->chat = chat;
    r->n = 1;
    r->max_tokens = chat ? -1 : 16; /* OpenAI's completions default */
    r->sampling = bb_sampler_default_params();
    /* OpenAI semantics: plain sampling at temperature 1 unless asked otherwise. */
    r->sampling.temperature = 1.0f;
    r->sampling.top_k = 0;
    r->sampling.top_p = 1.0f;
    r->sampling.min_p = 0.0f;
    r->sampling.repeat_penalty = 1.0f;
    r->sampling.presence_penalty = 0.0f;
    r->sampling.frequency_penalty = 0.0f;
    r->parallel_tool_calls = true;
    const cJSON *v;
    cJSON_ArrayForEach(v, root) {
        if (!is_known(v->string, chat))
            return oai_fail(e, 400, v->string, "unknown parameter '%.60s'", v->string);
        if (cJSON_IsNull(v)) continue; /* null means "not given" */
        if (!parse_field(v, v->string, lim, r, e)) return false;
    }
    if (chat && !r->messages) return oai_fail(e, 400, "messages", "'messages' is required");
    if (chat && !oai_validate_messages(r->messages, e)) return false;
    if (chat && !oai_check_tools(r, e)) return false;
    if (!chat && !r->prompt) return oai_fail(e, 400, "prompt", "'prompt' is required");
    if (chat && r->top_logprobs > 0 && !r->logprobs)
        return oai_fail(e, 400, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
    if (r->include_usage && !r->stream)
        return oai_fail(e, 400, "stream_options", "'stream_options' needs 'stream': true");
    return oai_structured_parse(root, &r->grammar, e);
}

void oai_request_free(oai_request *r) {
    free(r->bias);
    r->bias = NULL;
    bb_grammar_unref(r->grammar);
    r->grammar = NULL;
}

bool oai_token_ids(const cJSON *list, int32_t n_vocab, bb_token **ids, size_t *n) {
    *ids = NULL;
    *n = 0;
    if (!cJSON_IsArray(list)) return false;
    *ids = malloc(((size_t)cJSON_GetArraySize(list) + 1) * sizeof **ids);
    if (!*ids) return false;
    const cJSON *v;
    cJSON_ArrayForEach(v, list) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < n_vocab) ||
            v->valuedouble != floor(v->valuedouble)) {
            free(*ids);
            *ids = NULL;
            *n = 0;
            return false;
        }
        (*ids)[(*n)++] = (bb_token)v->valuedouble;
    }
    return true;
}

/* ---------------------------------------------------------------- messages */

static bool join_parts(const cJSON *content, int idx, char **out, oai_error *e) {
    size_t len = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") || !cJSON_IsString(text))
            return oai_fail(e, 400, "messages",
                            "messages[%d].content: only parts of type 'text' are supported", idx);
        len += strlen(text->valuestring);
    }
    char *s = malloc(len + 1);
    if (!s) return oai_fail(e, 500, NULL, "out of memory");
    size_t o = 0;
    cJSON_ArrayForEach(part, content) {
        const char *t = cJSON_GetObjectItemCaseSensitive(part, "text")->valuestring;
        size_t n = strlen(t);
        memcpy(s + o, t, n);
        o += n;
    }
    s[o] = 0;
    *out = s;
    return true;
}

/* Past calls' arguments: the JSON text OpenAI sends, parsed (when it is an object). */
static bool arguments_as_objects(cJSON *copy) {
    cJSON *calls = cJSON_GetObjectItemCaseSensitive(copy, "tool_calls");
    cJSON *c;
    cJSON_ArrayForEach(c, calls) {
        cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
        cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        if (!cJSON_IsString(args)) continue;
        cJSON *obj = cJSON_Parse(args->valuestring);
        if (!cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            continue;
        }
        if (!cJSON_ReplaceItemInObjectCaseSensitive(fn, "arguments", obj)) {
            cJSON_Delete(obj);
            return false;
        }
    }
    return true;
}

static bool normalize_message(const cJSON *m, int idx, bool args_objects, cJSON *into,
                              oai_error *e) {
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsObject(m) || !cJSON_IsString(role))
        return oai_fail(e, 400, "messages", "messages[%d] must be an object with a string 'role'",
                        idx);
    cJSON *copy = cJSON_Duplicate(m, true);
    if (!copy || !cJSON_AddItemToArray(into, copy)) {
        cJSON_Delete(copy);
        return oai_fail(e, 500, NULL, "out of memory");
    }
    /* Templates know system, user, assistant and tool; "developer" is OpenAI's new name for
     * system. */
    if (!strcmp(role->valuestring, "developer") &&
        !cJSON_ReplaceItemInObjectCaseSensitive(copy, "role", cJSON_CreateString("system")))
        return oai_fail(e, 500, NULL, "out of memory");
    if (args_objects && !arguments_as_objects(copy)) return oai_fail(e, 500, NULL, "out of memory");
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
    if (!content || cJSON_IsNull(content) || cJSON_IsString(content)) return true;
    if (!cJSON_IsArray(content))
        return oai_fail(e, 400, "messages",
                        "messages[%d].content must be a string or a list of text parts", idx);
    char *joined = NULL;
    if (!join_parts(content, idx, &joined, e)) return false;
    cJSON *str = cJSON_CreateString(joined);
    free(joined);
    if (!str || !cJSON_ReplaceItemInObjectCaseSensitive(copy, "content", str)) {
        cJSON_Delete(str);
        return oai_fail(e, 500, NULL, "out of memory");
    }
    return true;
}

cJSON *oai_messages_for_template(const cJSON *messages, bool args_objects, oai_error *e) {
    cJSON *out = cJSON_CreateArray();
    if (!out) {
        oai_fail(e, 500, NULL, "out of memory");
        return NULL;
    }
    int idx = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        if (!normalize_message(m, idx++, args_objects, out, e)) {
            cJSON_Delete(out);
            return NULL;
        }
    }
    return out;
}
