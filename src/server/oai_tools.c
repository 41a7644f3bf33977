/* Tool parameters of a chat request and the checks on its messages, as OpenAI defines them
 * (https://platform.openai.com/docs/api-reference/chat/create: tools, tool_choice,
 * parallel_tool_calls; messages by role). chat_template_kwargs is llama.cpp's and vLLM's
 * extension: variables for the chat template (e.g. {"enable_thinking": false}). */
#include <stdio.h>
#include <string.h>

#include "server/oai_request.h"

/* OpenAI: a-z, A-Z, 0-9, underscores and dashes, at most 64. */
static bool function_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static bool parse_tools(const cJSON *v, oai_request *r, oai_error *e) {
    if (!cJSON_IsArray(v)) return oai_fail(e, 400, "tools", "'tools' must be a list of tools");
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, v) {
        char p[64];
        snprintf(p, sizeof p, "tools[%d]", i);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        if (!cJSON_IsObject(t) || !cJSON_IsString(type) || strcmp(type->valuestring, "function"))
            return oai_fail(e, 400, p, "%s must be an object with \"type\": \"function\"", p);
        if (!cJSON_IsObject(fn)) return oai_fail(e, 400, p, "%s.function must be an object", p);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        const cJSON *strict = cJSON_GetObjectItemCaseSensitive(fn, "strict");
        if (!cJSON_IsString(name) || !function_name_ok(name->valuestring))
            return oai_fail(e, 400, p,
                            "%s.function.name must be 1 to 64 letters, digits, '_' or '-'", p);
        if (desc && !cJSON_IsString(desc) && !cJSON_IsNull(desc))
            return oai_fail(e, 400, p, "%s.function.description must be a string", p);
        if (params && !cJSON_IsObject(params) && !cJSON_IsNull(params))
            return oai_fail(e, 400, p, "%s.function.parameters must be a JSON schema object", p);
        if (strict && !cJSON_IsBool(strict) && !cJSON_IsNull(strict))
            return oai_fail(e, 400, p, "%s.function.strict must be true or false", p);
        const cJSON *u;
        int k = 0;
        cJSON_ArrayForEach(u, v) {
            if (k++ >= i) break;
            const cJSON *un = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(u, "function"), "name");
            if (cJSON_IsString(un) && !strcmp(un->valuestring, name->valuestring))
                return oai_fail(e, 400, p, "%s: a second function named '%s'", p,
                                name->valuestring);
        }
        i++;
    }
    r->tools = i ? v : NULL;
    return true;
}

static bool parse_choice(const cJSON *v, oai_request *r, oai_error *e) {
    const char *k = "tool_choice";
    if (cJSON_IsString(v)) {
        if (!strcmp(v->valuestring, "auto"))
            r->tool_choice = OAI_TOOLS_AUTO;
        else if (!strcmp(v->valuestring, "none"))
            r->tool_choice = OAI_TOOLS_NONE;
        else if (!strcmp(v->valuestring, "required"))
            r->tool_choice = OAI_TOOLS_REQUIRED;
        else
            return oai_fail(e, 400, k,
                            "'tool_choice' must be \"auto\", \"none\", \"required\" or "
                            "{\"type\": \"function\", \"function\": {\"name\": ...}}");
        return true;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(v, "type");
    const cJSON *name =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v, "function"), "name");
    if (!cJSON_IsObject(v) || !cJSON_IsString(type) || strcmp(type->valuestring, "function") ||
        !cJSON_IsString(name))
        return oai_fail(e, 400, k,
                        "'tool_choice' must be \"auto\", \"none\", \"required\" or "
                        "{\"type\": \"function\", \"function\": {\"name\": ...}}");
    r->tool_choice = OAI_TOOLS_NAMED;
    r->tool_name = name->valuestring;
    return true;
}

bool oai_parse_tool_field(const cJSON *v, const char *k, oai_request *r, oai_error *e) {
    if (!strcmp(k, "tools")) return parse_tools(v, r, e);
    if (!strcmp(k, "tool_choice")) return parse_choice(v, r, e);
    if (!strcmp(k, "parallel_tool_calls")) {
        if (!cJSON_IsBool(v))
            return oai_fail(e, 400, k, "'parallel_tool_calls' must be true or false");
        r->parallel_tool_calls = cJSON_IsTrue(v);
        return true;
    }
    if (!cJSON_IsObject(v)) return oai_fail(e, 400, k, "'chat_template_kwargs' must be an object");
    r->template_kwargs = v;
    return true;
}

bool oai_check_tools(oai_request *r, oai_error *e) {
    if (r->tool_choice == OAI_TOOLS_REQUIRED && !r->tools)
        return oai_fail(e, 400, "tool_choice", "'tool_choice' \"required\" needs 'tools'");
    if (r->tool_choice != OAI_TOOLS_NAMED) return true;
    const cJSON *t;
    cJSON_ArrayForEach(t, r->tools) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(t, "function"), "name");
        if (!strcmp(name->valuestring, r->tool_name)) return true;
    }
    return oai_fail(e, 400, "tool_choice", "'tool_choice' names '%.64s', which is not in 'tools'",
                    r->tool_name);
}

/* ---------------------------------------------------------------- messages */

static bool string_field(const cJSON *m, const char *name, bool required, const char *p,
                         oai_error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, name);
    if (!v || cJSON_IsNull(v)) {
        if (!required) return true;
        return oai_fail(e, 400, p, "%s is required", p);
    }
    if (!cJSON_IsString(v) || (required && !v->valuestring[0]))
        return oai_fail(e, 400, p, "%s must be a%s string", p, required ? " non-empty" : "");
    return true;
}

static bool tool_calls_ok(const cJSON *calls, int idx, oai_error *e) {
    char p[96];
    snprintf(p, sizeof p, "messages[%d].tool_calls", idx);
    if (!cJSON_IsArray(calls)) return oai_fail(e, 400, p, "%s must be a list of tool calls", p);
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, calls) {
        snprintf(p, sizeof p, "messages[%d].tool_calls[%d]", idx, i);
        if (!cJSON_IsObject(c)) return oai_fail(e, 400, p, "%s must be an object", p);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "function");
        char q[128];
        snprintf(q, sizeof q, "%s.id", p);
        if (!string_field(c, "id", true, q, e)) return false;
        snprintf(q, sizeof q, "%s.type", p);
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "function"))
            return oai_fail(e, 400, q, "%s must be \"function\"", q);
        snprintf(q, sizeof q, "%s.function", p);
        if (!cJSON_IsObject(fn)) return oai_fail(e, 400, q, "%s must be an object", q);
        snprintf(q, sizeof q, "%s.function.name", p);
        if (!string_field(fn, "name", true, q, e)) return false;
        snprintf(q, sizeof q, "%s.function.arguments", p);
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        if (!cJSON_IsString(args))
            return oai_fail(e, 400, q, "%s must be a string (the arguments as JSON)", q);
        i++;
    }
    return true;
}

static bool content_ok(const cJSON *m, int idx, bool required, oai_error *e) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    char p[64];
    snprintf(p, sizeof p, "messages[%d].content", idx);
    if (!c || cJSON_IsNull(c)) {
        if (required) return oai_fail(e, 400, p, "%s is required", p);
        return true;
    }
    if (!cJSON_IsString(c) && !cJSON_IsArray(c))
        return oai_fail(e, 400, p, "%s must be a string or a list of text parts", p);
    return true;
}

static bool message_ok(const cJSON *m, int idx, oai_error *e) {
    char p[64];
    snprintf(p, sizeof p, "messages[%d]", idx);
    if (!cJSON_IsObject(m)) return oai_fail(e, 400, p, "%s must be an object", p);
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    snprintf(p, sizeof p, "messages[%d].role", idx);
    if (!cJSON_IsString(role)) return oai_fail(e, 400, p, "%s must be a string", p);
    const char *r = role->valuestring;
    snprintf(p, sizeof p, "messages[%d].name", idx);
    if (!string_field(m, "name", false, p, e)) return false;
    if (!strcmp(r, "system") || !strcmp(r, "developer") || !strcmp(r, "user"))
        return content_ok(m, idx, true, e);
    if (!strcmp(r, "tool")) {
        snprintf(p, sizeof p, "messages[%d].tool_call_id", idx);
        return string_field(m, "tool_call_id", true, p, e) && content_ok(m, idx, true, e);
    }
    if (!strcmp(r, "assistant")) {
        const cJSON *calls = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
        bool has_calls = calls && !cJSON_IsNull(calls);
        if (has_calls && !tool_calls_ok(calls, idx, e)) return false;
        return content_ok(m, idx, !has_calls, e);
    }
    snprintf(p, sizeof p, "messages[%d].role", idx);
    return oai_fail(e, 400, p,
                    "%s '%.40s' is not one of 'system', 'developer', 'user', 'assistant', "
                    "'tool'",
                    p, r);
}

bool oai_validate_messages(const cJSON *messages, oai_error *e) {
    int idx = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        if (!message_ok(m, idx++, e)) return false;
    }
    return true;
}
