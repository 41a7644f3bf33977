/* Llama 3.1-3.3 tool calls (Meta's prompt format docs and templates): the whole reply is a
 * JSON object {"name": ..., "parameters": {...}} ("arguments" accepted too), or such an
 * object follows <|python_tag|>; several calls are separated by ';'. Built-in tools come as
 * <|python_tag|>brave_search.call(query="...") (Python keyword arguments, turned into a JSON
 * object). A reply that is JSON but not of that shape, or other text after the tag (the code
 * interpreter's Python), is content. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tc_impl.h"

static const char *const markers[] = {"<|python_tag|>", NULL};

static bool ident(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The end of `name.call(...)` at s (one past ')'), 0 when incomplete, -1 when it is not. */
static long call_end(const char *s, size_t n, bool eof) {
    size_t i = 0;
    while (i < n && ident(s[i]))
        i++;
    if (i == 0) return i < n || eof ? -1 : 0;
    const char *dot = ".call(";
    for (size_t k = 0; k < 6; k++, i++) {
        if (i == n) return eof ? -1 : 0;
        if (s[i] != dot[k]) return -1;
    }
    char quote = 0;
    for (; i < n; i++) {
        if (quote) {
            if (s[i] == '\\')
                i++;
            else if (s[i] == quote)
                quote = 0;
        } else if (s[i] == '"' || s[i] == '\'') {
            quote = s[i];
        } else if (s[i] == ')') {
            return (long)i + 1;
        }
    }
    return eof ? -1 : 0;
}

static void skip_ws(const char **p, const char *end) {
    while (*p < end && (**p == ' ' || **p == '\n' || **p == '\t'))
        (*p)++;
}

/* A Python literal (string, number, True/False/None) as JSON. */
static cJSON *py_value(const char **p, const char *end) {
    const char *s = *p;
    if (s < end && (*s == '"' || *s == '\'')) {
        char q = *s++;
        char *buf = malloc((size_t)(end - s) + 1);
        size_t o = 0;
        for (; buf && s < end && *s != q; s++) {
            if (*s == '\\' && s + 1 < end) {
                s++;
                buf[o++] = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s;
            } else {
                buf[o++] = *s;
            }
        }
        if (!buf || s == end) {
            free(buf);
            return NULL;
        }
        buf[o] = 0;
        *p = s + 1;
        cJSON *v = cJSON_CreateString(buf);
        free(buf);
        return v;
    }
    static const struct {
        const char *py, *json;
    } words[] = {{"True", "true"}, {"False", "false"}, {"None", "null"}};
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(words[i].py);
        if ((size_t)(end - s) >= k && !memcmp(s, words[i].py, k)) {
            *p = s + k;
            return cJSON_Parse(words[i].json);
        }
    }
    char *num_end = NULL;
    char tmp[64];
    size_t k = (size_t)(end - s) < sizeof tmp - 1 ? (size_t)(end - s) : sizeof tmp - 1;
    memcpy(tmp, s, k);
    tmp[k] = 0;
    double d = strtod(tmp, &num_end);
    if (num_end == tmp) return NULL;
    *p = s + (num_end - tmp);
    return cJSON_CreateNumber(d);
}

/* name.call(k=v, ...) into a call; false when the arguments are not keyword literals. */
static bool builtin_call(tc_parser *p, const char *s, size_t n) {
    const char *dot = memchr(s, '.', n), *q = dot + 6, *end = s + n - 1; /* at ')' */
    cJSON *args = cJSON_CreateObject();
    bool ok = args != NULL;
    skip_ws(&q, end);
    while (ok && q < end) {
        const char *k = q;
        while (q < end && ident(*q))
            q++;
        size_t klen = (size_t)(q - k);
        skip_ws(&q, end);
        if (!klen || q == end || *q++ != '=') {
            ok = false;
            break;
        }
        skip_ws(&q, end);
        cJSON *v = py_value(&q, end);
        char key[64];
        if (!v || klen >= sizeof key) {
            cJSON_Delete(v);
            ok = false;
            break;
        }
        memcpy(key, k, klen);
        key[klen] = 0;
        cJSON_AddItemToObject(args, key, v);
        skip_ws(&q, end);
        if (q < end && *q == ',')
            q++;
        else if (q < end)
            ok = false;
        skip_ws(&q, end);
    }
    char *json = ok ? cJSON_PrintUnformatted(args) : NULL;
    cJSON_Delete(args);
    if (!json) return false;
    tc_call_begin(p, s, (size_t)(dot - s));
    tc_call_args(p, json, strlen(json));
    tc_call_end(p);
    free(json);
    return true;
}

static tc_res step(tc_parser *p, bool eof) {
    tc_res r;
    for (;;) {
        switch (p->sub) {
        case 0:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_NO : TC_MORE;
            if (*tc_at(p) != '{') {
                long end = call_end(tc_at(p), tc_avail(p), eof);
                if (end == 0) return TC_MORE;
                if (end < 0 || !builtin_call(p, tc_at(p), (size_t)end)) return TC_NO;
                p->pos += (size_t)end;
                p->sub = 2;
                continue;
            }
            p->obj.strict = true;
            tc_obj_reset(&p->obj);
            p->sub = 1;
            /* fall through */
        case 1:
            r = tc_obj_step(p, &p->obj, eof);
            if (r != TC_OK) return r;
            if (!tc_obj_finish(p, &p->obj, true)) return TC_NO;
            p->sub = 2;
            /* fall through */
        default:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_OK : TC_MORE;
            if (*tc_at(p) == ';') {
                p->pos++;
                continue;
            }
            /* A next call is a segment of its own: if it fails, only it is content. */
            p->seg = p->pos;
            p->marker = NULL;
            r = tc_lit(p, "<|python_tag|>", eof);
            if (r == TC_MORE) return r;
            if (r == TC_OK || *tc_at(p) == '{') {
                p->sub = 0;
                continue;
            }
            return TC_OK;
        }
    }
}

const tc_family_ops tc_llama3_ops = {markers, true, step};
