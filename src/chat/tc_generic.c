/* The generic format, for templates that render tools but teach no call syntax (and for
 * those that do not render tools at all, with tc_instructions in the prompt): the reply is a
 * single JSON object, either {"tool_calls": [{"name": ..., "arguments": {...}}, ...]} (also
 * {"tool_call": {...}}) or {"response": "text"}. Anything else is content. The object is read
 * whole before anything is decided. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tc_impl.h"

static const char *const markers[] = {NULL};

static bool emit_call(tc_parser *p, const cJSON *c) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(c, "arguments");
    if (!cJSON_IsString(name) || !name->valuestring[0]) return false;
    char *text = NULL;
    if (cJSON_IsString(args))
        text = strdup(args->valuestring);
    else if (args)
        text = cJSON_PrintUnformatted(args);
    else
        text = strdup("{}");
    if (!text) {
        p->oom = true;
        return false;
    }
    tc_call_begin(p, name->valuestring, strlen(name->valuestring));
    tc_call_args(p, text, strlen(text));
    tc_call_end(p);
    free(text);
    return true;
}

static bool valid_calls(const cJSON *calls) {
    const cJSON *c;
    cJSON_ArrayForEach(c, calls) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (!cJSON_IsObject(c) || !cJSON_IsString(name) || !name->valuestring[0]) return false;
    }
    return cJSON_GetArraySize(calls) > 0;
}

static tc_res decide(tc_parser *p, const char *s, size_t n) {
    cJSON *j = cJSON_ParseWithLength(s, n);
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(j, "tool_calls");
    const cJSON *call = cJSON_GetObjectItemCaseSensitive(j, "tool_call");
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(j, "response");
    tc_res r = TC_NO;
    if (cJSON_IsArray(calls) && valid_calls(calls)) {
        const cJSON *c;
        cJSON_ArrayForEach(c, calls) emit_call(p, c);
        r = TC_OK;
    } else if (cJSON_IsObject(call) && emit_call(p, call)) {
        r = TC_OK;
    } else if (cJSON_IsString(resp) && cJSON_GetArraySize(j) == 1) {
        tc_content(p, resp->valuestring, strlen(resp->valuestring));
        r = TC_OK;
    }
    cJSON_Delete(j);
    return r;
}

static tc_res step(tc_parser *p, bool eof) {
    if (p->sub == 0) {
        memset(&p->sk, 0, sizeof p->sk);
        p->sub = 1;
    }
    while (p->pos < p->in.len) {
        int s = tc_jskip_byte(&p->sk, p->in.data[p->pos]);
        if (s == TC_JS_BAD || s == TC_JS_END_BEFORE) return TC_NO;
        p->pos++;
        if (s == TC_JS_END_AFTER) {
            tc_res r = decide(p, p->in.data + p->seg, p->pos - p->seg);
            if (r == TC_NO) p->pos = p->seg; /* all of it is content */
            return r;
        }
    }
    return eof ? TC_NO : TC_MORE;
}

const tc_family_ops tc_generic_ops = {markers, true, step};
