/* JSON inside tool calls, read incrementally: a skipper over one value and the call object
 * {"name": ..., "arguments": ...} (RFC 8259). Arguments stream out byte for byte as the model
 * writes them, so the call's `arguments` string is exactly the model's JSON text; a string
 * value ("arguments": "{\"a\": 1}", as some models write it) is decoded once complete. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tc_impl.h"

static bool ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool scalar_byte(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '+' || c == '.';
}

int tc_jskip_byte(tc_jskip *s, char c) {
    if (!s->started) {
        s->started = true;
        if (c == '{' || c == '[') {
            s->stack[s->depth++] = c == '{' ? '}' : ']';
            return TC_JS_MORE;
        }
        if (c == '"') {
            s->in_str = true;
            return TC_JS_MORE;
        }
        if (c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n') {
            s->scalar = true;
            return TC_JS_MORE;
        }
        return TC_JS_BAD;
    }
    if (s->in_str) {
        if (s->esc) {
            s->esc = false;
        } else if (c == '\\') {
            s->esc = true;
        } else if (c == '"') {
            s->in_str = false;
            if (s->depth == 0) return TC_JS_END_AFTER;
        } else if ((unsigned char)c < 0x20) {
            return TC_JS_BAD;
        }
        return TC_JS_MORE;
    }
    if (s->depth == 0) /* a top-level scalar */
        return scalar_byte(c) ? TC_JS_MORE : TC_JS_END_BEFORE;
    if (c == '"') {
        s->in_str = true;
    } else if (c == '{' || c == '[') {
        if (s->depth == (int)sizeof s->stack) return TC_JS_BAD;
        s->stack[s->depth++] = c == '{' ? '}' : ']';
    } else if (c == '}' || c == ']') {
        if (s->stack[s->depth - 1] != c) return TC_JS_BAD;
        if (--s->depth == 0) return TC_JS_END_AFTER;
    } else if (!ws(c) && c != ',' && c != ':' && !scalar_byte(c)) {
        return TC_JS_BAD;
    }
    return TC_JS_MORE;
}

/* ---------------------------------------------------------------- call objects */

enum { O_OPEN, O_KEY_OR_END, O_KEY, O_COLON, O_VALUE_WS, O_VALUE, O_NEXT, O_KEY_START };

void tc_obj_reset(tc_obj *o) {
    bool strict = o->strict;
    free(o->pending_name);
    memset(o, 0, sizeof *o);
    o->strict = strict;
}

static void begin_pending(tc_parser *p, tc_obj *o) {
    if (!o->pending_name) return;
    tc_call_begin(p, o->pending_name, strlen(o->pending_name));
    free(o->pending_name);
    o->pending_name = NULL;
    p->args_emitted = 0;
}

/* A JSON string's text (span of p->in) decoded into a new C string, or NULL. */
static char *decode_string(const char *s, size_t n) {
    cJSON *j = cJSON_ParseWithLength(s, n);
    char *out = cJSON_IsString(j) ? strdup(j->valuestring) : NULL;
    cJSON_Delete(j);
    return out;
}

static const char *seg_at(const tc_parser *p, size_t off) {
    return p->in.data + p->seg + off;
}

/* Sends the arguments read so far (all of them once the value is complete). */
static void flush_args(tc_parser *p, tc_obj *o) {
    if (!p->in_call || !(o->args_open || o->have_args)) return;
    if (o->args_str) {
        if (!o->have_args || p->args_emitted >= o->args_end) return;
        char *s = decode_string(seg_at(p, o->args_start), o->args_end - o->args_start);
        if (s) tc_call_args(p, s, strlen(s));
        free(s);
        p->args_emitted = o->args_end;
        return;
    }
    size_t end = o->have_args ? o->args_end : p->pos - p->seg;
    if (p->args_emitted < o->args_start) p->args_emitted = o->args_start;
    if (end > p->args_emitted) tc_call_args(p, seg_at(p, p->args_emitted), end - p->args_emitted);
    if (end > p->args_emitted) p->args_emitted = end;
}

static bool value_end(tc_parser *p, tc_obj *o, size_t end) {
    if (o->which == 1) {
        char *name = decode_string(seg_at(p, o->val_start), end - o->val_start);
        if (!name || !name[0] || o->have_name) {
            free(name);
            return false;
        }
        o->have_name = true;
        if (o->strict && !o->args_open && !o->have_args) {
            o->pending_name = name;
            return true;
        }
        tc_call_begin(p, name, strlen(name));
        free(name);
        p->args_emitted = 0;
    } else if (o->which == 2) {
        o->args_open = false;
        o->have_args = true;
        o->args_end = end;
    }
    flush_args(p, o);
    return true;
}

tc_res tc_obj_step(tc_parser *p, tc_obj *o, bool eof) {
    while (p->pos < p->in.len) {
        char c = p->in.data[p->pos];
        switch (o->phase) {
        case O_OPEN:
        case O_KEY_OR_END:
        case O_COLON:
        case O_VALUE_WS:
        case O_NEXT:
        case O_KEY_START:
            if (ws(c)) break;
            if (o->phase == O_OPEN) {
                if (c != '{') return TC_NO;
                o->phase = O_KEY_OR_END;
            } else if ((o->phase == O_KEY_OR_END || o->phase == O_KEY_START) && c == '"') {
                o->key_len = 0;
                o->key_long = o->key_esc = false;
                o->phase = O_KEY;
            } else if ((o->phase == O_KEY_OR_END || o->phase == O_NEXT) && c == '}') {
                p->pos++;
                flush_args(p, o);
                return TC_OK;
            } else if (o->phase == O_COLON && c == ':') {
                o->phase = O_VALUE_WS;
            } else if (o->phase == O_NEXT && c == ',') {
                o->phase = O_KEY_START;
            } else if (o->phase == O_VALUE_WS) {
                memset(&o->sk, 0, sizeof o->sk);
                o->val_start = p->pos - p->seg;
                if (o->which == 2) {
                    if (o->have_args) return TC_NO; /* a second "arguments" */
                    o->args_open = true;
                    o->args_str = c == '"';
                    o->args_start = o->val_start;
                    begin_pending(p, o);
                }
                o->phase = O_VALUE;
                continue; /* the skipper reads this byte */
            } else {
                return TC_NO;
            }
            break;
        case O_KEY:
            if (o->key_esc) {
                o->key_esc = false;
            } else if (c == '\\') {
                o->key_esc = o->key_long = true; /* keys we look for have no escapes */
                break;
            } else if (c == '"') {
                o->key[o->key_len] = 0;
                o->which = 0;
                if (!o->key_long && (!strcmp(o->key, "name") || !strcmp(o->key, "tool_name")))
                    o->which = 1;
                if (!o->key_long && (!strcmp(o->key, "arguments") || !strcmp(o->key, "parameters")))
                    o->which = 2;
                o->phase = O_COLON;
                break;
            }
            if (o->key_len + 1 < sizeof o->key)
                o->key[o->key_len++] = c;
            else
                o->key_long = true;
            break;
        case O_VALUE: {
            int r = tc_jskip_byte(&o->sk, c);
            if (r == TC_JS_BAD) return TC_NO;
            if (r == TC_JS_MORE) break;
            if (r == TC_JS_END_AFTER) p->pos++;
            if (!value_end(p, o, p->pos - p->seg)) return TC_NO;
            o->phase = O_NEXT;
            continue;
        }
        }
        p->pos++;
    }
    if (o->phase == O_VALUE && o->sk.scalar && eof) {
        if (!value_end(p, o, p->pos - p->seg)) return TC_NO;
        o->phase = O_NEXT;
    }
    flush_args(p, o);
    return eof ? TC_NO : TC_MORE;
}

bool tc_obj_finish(tc_parser *p, tc_obj *o, bool require_args) {
    if (!o->have_name || (require_args && !o->have_args)) return false;
    begin_pending(p, o);
    tc_call_end(p);
    return true;
}
