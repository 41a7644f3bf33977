/* bb_chat_render: parse the template, bind Hugging Face's variables (messages, tools,
 * add_generation_prompt, bos_token, eos_token, plus raise_exception and strftime_now) and
 * run it under the render's limits (chat/limits.h). strftime_now uses the local time, or the
 * fixed date in BB_FIXED_DATE ("2026-01-15 12:00:00") for reproducible tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/ast.h"
#include "chat/builtins.h"
#include "chat/chat.h"
#include "chat/interp.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/text.h"
#include "common/error.h"

/* ChatML with add_generation_prompt, tolerant of messages whose content is null (tool
 * calls) or a list of OpenAI content parts. */
static const char chatml[] =
    "{%- for message in messages -%}\n"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}\n"
    "{%- if message['content'] is string -%}\n"
    "{{- message['content'] -}}\n"
    "{%- elif message['content'] is iterable -%}\n"
    "{%- for part in message['content'] -%}\n"
    "{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- endif -%}\n"
    "{{- '<|im_end|>\\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}\n";

const char *bb_chat_default_template(void) {
    return chatml;
}

/* The variables a template sees; tools is JV_UNDEF when the caller has none (as Hugging
 * Face leaves `tools` undefined then). */
typedef struct render_vars {
    jv messages, tools, bos, eos;
    bool add_generation_prompt;
    jv extra; /* a dict of further variables (chat_template_kwargs), or JV_UNDEF */
} render_vars;

static bb_status read_fixed_clock(jx_ctx *ctx, bb_error *err) {
    const char *s = getenv("BB_FIXED_DATE");
    if (!s || !*s) return BB_OK;
    struct tm tm = {0};
    int n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec);
    if ((n != 3 && n != 6) || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "BB_FIXED_DATE must look like 2026-01-15 12:00:00, got '%.40s'", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm); /* fills in the weekday and day of the year */
    gmtime_r(&t, &ctx->clock);
    ctx->fixed_clock = true;
    return BB_OK;
}

static void set_var(jx_ctx *ctx, const char *name, jv value) {
    jv_dict_set_take(ctx->root->vars, jv_cstr(name), value);
}

static bb_status execute(jx_template *tpl, const render_vars *vars, char **out, bb_error *err) {
    jx_ctx ctx;
    jx_buf buf;
    jb_init(&buf, JX_MAX_STRING);
    jx_ctx_init(&ctx, jx_scope_new(NULL), &buf);
    bb_status st = read_fixed_clock(&ctx, err);
    if (st != BB_OK) {
        jx_pop_scope(&ctx, NULL);
        jx_ctx_free(&ctx);
        return st;
    }
    jx_define_globals(ctx.root->vars);
    /* apply_chat_template(**kwargs): extra variables first, so that they cannot replace the
     * ones it binds itself. */
    if (vars->extra.type == JV_DICT) {
        const jdict *d = vars->extra.u.d;
        for (size_t i = 0; i < d->n; i++)
            jv_dict_set_take(ctx.root->vars, jv_retain(d->keys[i]), jv_retain(d->vals[i]));
    }
    set_var(&ctx, "messages", jv_retain(vars->messages));
    if (vars->tools.type != JV_UNDEF) set_var(&ctx, "tools", jv_retain(vars->tools));
    set_var(&ctx, "add_generation_prompt", jv_bool(vars->add_generation_prompt));
    set_var(&ctx, "bos_token", jv_retain(vars->bos));
    set_var(&ctx, "eos_token", jv_retain(vars->eos));
    jx_flow flow = jx_exec_body(&ctx, &tpl->body);
    jx_pop_scope(&ctx, NULL);
    jx_ctx_free(&ctx);
    if (flow == FLOW_ERROR) {
        jb_free(&buf);
        if (ctx.raised) return bb_fail(err, BB_ERR_TEMPLATE, "%s", ctx.err);
        return bb_fail(err, BB_ERR_TEMPLATE, "chat template error: %s", ctx.err);
    }
    /* the caller frees the text with free(): a plain copy, not an interpreter block */
    *out = malloc(buf.len + 1);
    if (*out) {
        if (buf.len) memcpy(*out, buf.data, buf.len);
        (*out)[buf.len] = '\0';
    }
    jb_free(&buf);
    if (!*out) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the rendered text");
    return BB_OK;
}

static bb_status render(const char *src, const render_vars *vars, char **out, bb_error *err) {
    size_t len = strlen(src);
    if (len > JX_MAX_STRING)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "chat template longer than %zu bytes",
                       JX_MAX_STRING);
    if (!utf8_valid(src, len))
        return bb_fail(err, BB_ERR_TEMPLATE, "chat template is not valid UTF-8");
    jx_template *tpl;
    char msg[400];
    if (!jx_parse(src, len, &tpl, msg, sizeof msg))
        return bb_fail(err, BB_ERR_TEMPLATE, "chat template syntax error: %s", msg);
    bb_status st = execute(tpl, vars, out, err);
    jx_template_free(tpl);
    return st;
}

static bb_status parse_json_arg(const char *what, const char *json, jv *out, bb_error *err) {
    char msg[200];
    if (!jx_json_parse(json, strlen(json), out, msg, sizeof msg))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s: %s", what, msg);
    return BB_OK;
}

static bb_status token_arg(const char *what, const char *s, jv *out, bb_error *err) {
    if (!s) s = "";
    if (!utf8_valid(s, strlen(s)))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "%s is not valid UTF-8", what);
    *out = jv_cstr(s);
    return BB_OK;
}

/* Where a render lands when the system runs out of memory in the middle of it: everything it
 * allocated is freed at once (jx_heap_abandon), whatever pointed at it. */
static bb_status out_of_memory(jx_heap *heap, char **out, bb_error *err) {
    jx_heap_abandon(heap);
    if (*out) {
        free(*out);
        *out = NULL;
    }
    return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory rendering the chat template");
}

static void release_vars(render_vars *v) {
    jv_release(v->extra);
    jv_release(v->messages);
    jv_release(v->tools);
    jv_release(v->bos);
    jv_release(v->eos);
}

static bb_status check_messages(jv messages, bb_error *err) {
    if (!jv_is_list(messages, false))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "messages must be a JSON array");
    return BB_OK;
}

static bb_status render_messages(const char *template_src, const char *messages_json,
                                 const char *tools_json, const char *kwargs_json,
                                 bool add_generation_prompt, const char *bos_token,
                                 const char *eos_token, char **out, bb_error *err) {
    render_vars v = {jv_none(), jv_undef(), jv_none(), jv_none(), add_generation_prompt,
                     jv_undef()};
    bb_status st = parse_json_arg("messages", messages_json, &v.messages, err);
    if (st == BB_OK && kwargs_json) {
        st = parse_json_arg("chat_template_kwargs", kwargs_json, &v.extra, err);
        if (st == BB_OK && v.extra.type != JV_DICT)
            st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "chat_template_kwargs must be an object");
    }
    if (st == BB_OK) st = check_messages(v.messages, err);
    if (st == BB_OK && tools_json) {
        st = parse_json_arg("tools", tools_json, &v.tools, err);
        if (st == BB_OK && v.tools.type == JV_NONE)
            v.tools = jv_undef();
        else if (st == BB_OK && !jv_is_list(v.tools, false))
            st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "tools must be a JSON array or null");
    }
    if (st == BB_OK) st = token_arg("bos_token", bos_token, &v.bos, err);
    if (st == BB_OK) st = token_arg("eos_token", eos_token, &v.eos, err);
    if (st == BB_OK) st = render(template_src, &v, out, err);
    release_vars(&v);
    return st;
}

bb_status bb_chat_render(const char *template_src, const char *messages_json,
                         const char *tools_json, bool add_generation_prompt, const char *bos_token,
                         const char *eos_token, char **out, bb_error *err) {
    return bb_chat_render_kwargs(template_src, messages_json, tools_json, NULL,
                                 add_generation_prompt, bos_token, eos_token, out, err);
}

bb_status bb_chat_render_kwargs(const char *template_src, const char *messages_json,
                                const char *tools_json, const char *kwargs_json,
                                bool add_generation_prompt, const char *bos_token,
                                const char *eos_token, char **out, bb_error *err) {
    if (!out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_chat_render: out is NULL");
    *out = NULL;
    if (!template_src || !messages_json)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "bb_chat_render: template and messages are required");
    jx_heap heap;
    jx_heap_begin(&heap, JX_MAX_ALLOC);
    if (setjmp(heap.oom)) return out_of_memory(&heap, out, err);
    heap.unwind = true;
    bb_status st = render_messages(template_src, messages_json, tools_json, kwargs_json,
                                   add_generation_prompt, bos_token, eos_token, out, err);
    jx_heap_end(&heap);
    return st;
}

static jv case_field(jv obj, const char *name) {
    const jv *v = jv_dict_gets(obj, name, strlen(name));
    return v ? jv_retain(*v) : jv_undef();
}

static bb_status case_token(jv obj, const char *name, jv *out, bb_error *err) {
    jv v = case_field(obj, name);
    if (v.type == JV_UNDEF || v.type == JV_NONE) {
        *out = jv_str("", 0);
        return BB_OK;
    }
    if (v.type != JV_STR) {
        jv_release(v);
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "case field %s must be a string", name);
    }
    *out = v;
    return BB_OK;
}

static bb_status case_vars(jv c, render_vars *v, bb_error *err) {
    if (c.type != JV_DICT)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the case must be a JSON object");
    v->messages = case_field(c, "messages");
    bb_status st = check_messages(v->messages, err);
    if (st != BB_OK) return st;
    v->tools = case_field(c, "tools");
    if (v->tools.type == JV_NONE) v->tools = jv_undef();
    jv agp = case_field(c, "add_generation_prompt");
    v->add_generation_prompt = jv_truthy(agp);
    jv_release(agp);
    st = case_token(c, "bos_token", &v->bos, err);
    if (st == BB_OK) st = case_token(c, "eos_token", &v->eos, err);
    return st;
}

static bb_status render_case(const char *template_src, const char *case_json,
                             const char *tools_json, char **out, bb_error *err) {
    render_vars v = {jv_none(), jv_undef(), jv_none(), jv_none(), false, jv_undef()};
    jv c = jv_none();
    bb_status st = parse_json_arg("case", case_json, &c, err);
    if (st == BB_OK) st = case_vars(c, &v, err);
    if (st == BB_OK && tools_json) {
        jv_release(v.tools);
        v.tools = jv_undef();
        st = parse_json_arg("tools", tools_json, &v.tools, err);
        if (st == BB_OK && v.tools.type == JV_NONE)
            v.tools = jv_undef();
        else if (st == BB_OK && !jv_is_list(v.tools, false))
            st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "tools must be a JSON array or null");
    }
    if (st == BB_OK) st = render(template_src, &v, out, err);
    jv_release(c);
    release_vars(&v);
    return st;
}

bb_status bb_chat_render_case(const char *template_src, const char *case_json, char **out,
                              bb_error *err) {
    return bb_chat_render_case_tools(template_src, case_json, NULL, out, err);
}

bb_status bb_chat_render_case_tools(const char *template_src, const char *case_json,
                                    const char *tools_json, char **out, bb_error *err) {
    if (!out || !template_src || !case_json)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_chat_render_case: missing argument");
    *out = NULL;
    jx_heap heap;
    jx_heap_begin(&heap, JX_MAX_ALLOC);
    if (setjmp(heap.oom)) return out_of_memory(&heap, out, err);
    heap.unwind = true;
    bb_status st = render_case(template_src, case_json, tools_json, out, err);
    jx_heap_end(&heap);
    return st;
}
