/* Statement execution with jinja2's scoping rules: each for-loop iteration, macro call and
 * with block runs in a scope of its own (so `set` inside a loop does not leak out of it,
 * which is why templates use namespace()), if-blocks write to their enclosing scope, and
 * macros see the scope they were defined in plus their arguments, varargs, kwargs and
 * caller. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/builtins.h"
#include "chat/interp.h"
#include "chat/limits.h"
#include "chat/print.h"

static jx_flow exec_node(jx_ctx *ctx, const jnode *n);

static bool check_output(jx_ctx *ctx) {
    if (ctx->out->overflow)
        return jx_fail(ctx, "template output longer than %zu bytes", ctx->out->limit);
    return true;
}

static bool emit_value(jx_ctx *ctx, jv v) {
    jx_write_str(ctx->out, v);
    return check_output(ctx);
}

/* ------------------------------------------------------------------ assignment */

static bool assign_target(jx_ctx *ctx, const jnode *target, jv value);

static bool unpack(jx_ctx *ctx, const jnode *target, jv value) {
    jv items;
    if (value.type == JV_UNDEF) return jx_fail_undefined(ctx, value);
    if (!jx_iterate(ctx, value, &items)) return false;
    size_t want = target->body.n, got = jv_list_len(items);
    bool ok = true;
    if (got != want) {
        ok = got > want
                 ? jx_fail(ctx, "too many values to unpack (expected %zu)", want)
                 : jx_fail(ctx, "not enough values to unpack (expected %zu, got %zu)", want, got);
    }
    for (size_t i = 0; ok && i < want; i++)
        ok = assign_target(ctx, target->body.v[i], jv_list_at(items, i));
    jv_release(items);
    return ok;
}

/* Borrows value. Targets: a name, a tuple of targets, or namespace.attribute. */
static bool assign_target(jx_ctx *ctx, const jnode *target, jv value) {
    if (target->kind == E_NAME) {
        jx_assign(ctx, target->value, jv_retain(value));
        return true;
    }
    if (target->kind == E_TUPLE) return unpack(ctx, target, value);
    const jv *ns = jx_lookup(ctx, target->a->value);
    if (!ns || ns->type != JV_DICT || !ns->u.d->ns)
        return jx_fail(ctx, "cannot assign attribute on non-namespace object");
    jv_dict_set_take(*ns, jv_retain(target->value), jv_retain(value));
    return true;
}

/* ------------------------------------------------------------------ capture */

bool jx_capture(jx_ctx *ctx, const jnodes *body, jv *out) {
    jx_buf buf, *saved = ctx->out;
    jb_init(&buf, ctx->out->limit);
    ctx->out = &buf;
    jx_flow flow = jx_exec_body(ctx, body);
    ctx->out = saved;
    if (flow == FLOW_ERROR) {
        jb_free(&buf);
        return false;
    }
    *out = jb_take_str(&buf);
    return true;
}

/* ------------------------------------------------------------------ for loops */

/* The items a loop visits: the iterable's items, filtered by the loop's `if` with the loop
 * variables bound (but not `loop`, as in jinja2). */
static bool loop_items(jx_ctx *ctx, const jnode *n, jv iterable, jv *out) {
    jv items;
    if (!jx_iterate(ctx, iterable, &items)) return false;
    if (!n->c) {
        *out = items;
        return true;
    }
    jv kept = jv_list(0);
    jx_scope *outer = ctx->scope;
    bool ok = true;
    for (size_t i = 0; i < jv_list_len(items) && ok; i++) {
        jv item = jv_list_at(items, i), test;
        if (!(ok = jx_step(ctx))) break;
        jx_push_scope(ctx, outer);
        ok = assign_target(ctx, n->a, item) && jx_eval(ctx, n->c, &test);
        jx_pop_scope(ctx, outer);
        if (!ok) break;
        if (jv_truthy(test)) jv_list_push_take(kept, jv_retain(item));
        jv_release(test);
    }
    jv_release(items);
    if (!ok) {
        jv_release(kept);
        return false;
    }
    *out = kept;
    return true;
}

static jx_flow run_loop(jx_ctx *ctx, const jnode *n, jv iterable, int depth) {
    jv items;
    if (!loop_items(ctx, n, iterable, &items)) return FLOW_ERROR;
    jx_scope *outer = ctx->scope;
    size_t count = jv_list_len(items);
    jx_flow result = FLOW_OK;
    if (count == 0) {
        jv_release(items);
        if (!n->alt.n) return FLOW_OK;
        jx_push_scope(ctx, outer);
        result = jx_exec_body(ctx, &n->alt);
        jx_pop_scope(ctx, outer);
        return result;
    }
    jv loop = jv_loop(items, depth);
    if (n->recursive) loop.u.loop->node = n;
    jv loop_name = jv_retain(ctx->name_loop);
    /* Every iteration gets a fresh scope; one scope is emptied and reused unless a macro
     * defined in the body still holds it. */
    jx_scope *iter = NULL;
    for (size_t i = 0; i < count; i++) {
        if (!jx_step(ctx)) {
            result = FLOW_ERROR;
            break;
        }
        loop.u.loop->index0 = i;
        if (!iter || iter->refcnt > 1) {
            jx_scope_release(iter);
            iter = jx_scope_new(outer);
        }
        ctx->scope = iter;
        jx_flow flow = FLOW_ERROR;
        if (assign_target(ctx, n->a, jv_list_at(loop.u.loop->items, i))) {
            jx_assign(ctx, loop_name, jv_retain(loop));
            flow = jx_exec_body(ctx, &n->body);
        }
        ctx->scope = outer;
        jv_dict_clear(iter->vars);
        if (flow == FLOW_ERROR) {
            result = FLOW_ERROR;
            break;
        }
        if (flow == FLOW_BREAK) break;
    }
    jx_scope_release(iter);
    jv_release(loop_name);
    jv_release(loop);
    return result;
}

static jx_flow exec_for(jx_ctx *ctx, const jnode *n) {
    jv iterable;
    if (!jx_eval(ctx, n->b, &iterable)) return FLOW_ERROR;
    jx_flow flow = run_loop(ctx, n, iterable, 1);
    jv_release(iterable);
    return flow;
}

bool jx_call_loop(jx_ctx *ctx, jloop *loop, const jx_args *args, jv *out) {
    if (args->npos != 1 || args->nkw) return jx_fail(ctx, "loop() takes exactly one argument");
    if (ctx->call_depth >= JX_MAX_CALL_DEPTH)
        return jx_fail(ctx, "recursion deeper than %d calls", JX_MAX_CALL_DEPTH);
    jx_buf buf, *saved = ctx->out;
    jb_init(&buf, ctx->out->limit);
    ctx->out = &buf;
    ctx->call_depth++;
    jx_flow flow = run_loop(ctx, loop->node, args->pos[0], loop->depth + 1);
    ctx->call_depth--;
    ctx->out = saved;
    if (flow == FLOW_ERROR) {
        jb_free(&buf);
        return false;
    }
    *out = jb_take_str(&buf);
    return true;
}

/* ------------------------------------------------------------------ macros */

/* Binds a macro's parameters in the current (new) scope, as jinja2 does: positional
 * arguments in order, then keywords by name, then defaults (evaluated here, so they see
 * earlier parameters); extra arguments go to varargs / kwargs when the body uses them and
 * are an error otherwise. */
static bool bind_params(jx_ctx *ctx, const jnode *node, const char *name, const jx_args *args) {
    const jargs_ast *params = node->params;
    size_t np = params ? params->nkw : 0;
    if (args->npos > np && !(node->uses & USES_VARARGS))
        return jx_fail(ctx, "macro '%s' takes not more than %zu argument(s)", name, np);
    jv varargs = node->uses & USES_VARARGS ? jv_tuple(0) : jv_none();
    jv kwargs = node->uses & USES_KWARGS ? jv_dict() : jv_none();
    bool set_small[32], *set = np <= 32 ? set_small : jx_calloc(np, sizeof *set);
    memset(set, 0, (np <= 32 ? 32 : np) * sizeof *set);
    bool ok = true;
    for (size_t i = 0; i < args->npos; i++) {
        if (i < np) {
            jx_assign(ctx, params->kw_names[i], jv_retain(args->pos[i]));
            set[i] = true;
        } else {
            jv_list_push_take(varargs, jv_retain(args->pos[i]));
        }
    }
    for (size_t k = 0; k < args->nkw && ok; k++) {
        jv kw = args->kw_names[k];
        size_t i = 0;
        while (i < np && !jv_equal(params->kw_names[i], kw))
            i++;
        if (i < np && set[i]) {
            ok = jx_fail(ctx, "macro '%s' got multiple values for argument '%s'", name,
                         kw.u.s->data);
        } else if (i < np) {
            jx_assign(ctx, kw, jv_retain(args->kw_vals[k]));
            set[i] = true;
        } else if (jv_equal(kw, ctx->name_caller) && (node->uses & USES_CALLER)) {
            jx_assign(ctx, kw, jv_retain(args->kw_vals[k]));
        } else if (node->uses & USES_KWARGS) {
            jv_dict_set_take(kwargs, jv_retain(kw), jv_retain(args->kw_vals[k]));
        } else {
            ok = jx_fail(ctx, "macro '%s' takes no keyword argument '%s'", name, kw.u.s->data);
        }
    }
    for (size_t i = 0; i < np && ok; i++) {
        if (set[i]) continue;
        jv v;
        if (params->kw_vals.v[i])
            ok = jx_eval(ctx, params->kw_vals.v[i], &v);
        else
            v = jv_undef_hint("'%s' is undefined", params->kw_names[i].u.s->data);
        if (ok) jx_assign(ctx, params->kw_names[i], v);
    }
    if (set != set_small) jx_free(set);
    if (node->uses & USES_VARARGS)
        jx_assign(ctx, ctx->name_varargs, varargs);
    else
        jv_release(varargs);
    if (node->uses & USES_KWARGS)
        jx_assign(ctx, ctx->name_kwargs, kwargs);
    else
        jv_release(kwargs);
    return ok;
}

bool jx_call_macro(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    const jnode *node = fn->macro;
    if (ctx->call_depth >= JX_MAX_CALL_DEPTH)
        return jx_fail(ctx, "macro recursion deeper than %d calls", JX_MAX_CALL_DEPTH);
    if (++ctx->calls > JX_MAX_CALLS)
        return jx_fail(ctx, "template exceeded the limit of %d macro calls", JX_MAX_CALLS);
    if (!jx_step(ctx)) return false;
    jx_scope *saved = ctx->scope;
    ctx->call_depth++;
    jx_push_scope(ctx, fn->env);
    bool ok = bind_params(ctx, node, fn->name, args) && jx_capture(ctx, &node->body, out);
    jx_pop_scope(ctx, saved);
    ctx->call_depth--;
    return ok;
}

static jv new_macro(jx_ctx *ctx, const jnode *n, const char *name) {
    ctx->scope->refcnt++;
    return jv_macro(name, n, ctx->scope, jx_scope_release_env);
}

/* {% call(params) m(args) %}body{% endcall %}: m gets `caller`, a macro over the body that
 * runs in the scope of the call site. */
static jx_flow exec_call_block(jx_ctx *ctx, const jnode *n) {
    const jnode *call = n->a;
    jv caller = new_macro(ctx, n, "caller"), fn, result;
    if (!jx_eval(ctx, call->a, &fn)) {
        jv_release(caller);
        return FLOW_ERROR;
    }
    bool ok = jx_eval_call_with(ctx, call->args, fn, caller, &result);
    jv_release(fn);
    jv_release(caller);
    if (!ok) return FLOW_ERROR;
    ok = emit_value(ctx, result);
    jv_release(result);
    return ok ? FLOW_OK : FLOW_ERROR;
}

/* ------------------------------------------------------------------ other statements */

static jx_flow exec_with(jx_ctx *ctx, const jnode *n) {
    size_t count = n->alt.n;
    jv *vals = jx_alloc((count ? count : 1) * sizeof *vals);
    size_t done = 0;
    bool ok = true;
    for (; done < count && ok; done++)
        if (!(ok = jx_eval(ctx, n->alt.v[done]->b, &vals[done]))) break;
    jx_flow flow = FLOW_ERROR;
    if (ok) {
        jx_scope *outer = ctx->scope;
        jx_push_scope(ctx, outer);
        for (size_t i = 0; i < count && ok; i++)
            ok = assign_target(ctx, n->alt.v[i]->a, vals[i]);
        if (ok) flow = jx_exec_body(ctx, &n->body);
        jx_pop_scope(ctx, outer);
    }
    for (size_t i = 0; i < done; i++)
        jv_release(vals[i]);
    jx_free(vals);
    return flow;
}

static jx_flow exec_set_block(jx_ctx *ctx, const jnode *n) {
    jv body, value;
    if (!jx_capture(ctx, &n->body, &body)) return FLOW_ERROR;
    bool ok = jx_eval_filter_chain(ctx, n->c, body, &value);
    jv_release(body);
    if (!ok) return FLOW_ERROR;
    ok = assign_target(ctx, n->a, value);
    jv_release(value);
    return ok ? FLOW_OK : FLOW_ERROR;
}

static jx_flow exec_filter_block(jx_ctx *ctx, const jnode *n) {
    jv body, value;
    if (!jx_capture(ctx, &n->body, &body)) return FLOW_ERROR;
    bool ok = jx_eval_filter_chain(ctx, n->c, body, &value);
    jv_release(body);
    if (!ok) return FLOW_ERROR;
    ok = emit_value(ctx, value);
    jv_release(value);
    return ok ? FLOW_OK : FLOW_ERROR;
}

static jx_flow exec_stmt(jx_ctx *ctx, const jnode *n) {
    jv v;
    bool ok;
    switch (n->kind) {
    case N_TEXT:
        jb_put(ctx->out, n->value.u.s->data, n->value.u.s->len);
        return check_output(ctx) ? FLOW_OK : FLOW_ERROR;
    case N_OUTPUT:
        if (!jx_eval(ctx, n->a, &v)) return FLOW_ERROR;
        ok = emit_value(ctx, v);
        jv_release(v);
        return ok ? FLOW_OK : FLOW_ERROR;
    case N_IF:
        if (!jx_eval(ctx, n->a, &v)) return FLOW_ERROR;
        ok = jv_truthy(v);
        jv_release(v);
        return jx_exec_body(ctx, ok ? &n->body : &n->alt);
    case N_FOR:
        return exec_for(ctx, n);
    case N_SET:
        if (!jx_eval(ctx, n->b, &v)) return FLOW_ERROR;
        ctx->line = n->line;
        ok = assign_target(ctx, n->a, v);
        jv_release(v);
        return ok ? FLOW_OK : FLOW_ERROR;
    case N_SET_BLOCK:
        return exec_set_block(ctx, n);
    case N_MACRO:
        jx_assign(ctx, n->value, new_macro(ctx, n, n->value.u.s->data));
        return FLOW_OK;
    case N_CALL_BLOCK:
        return exec_call_block(ctx, n);
    case N_FILTER_BLOCK:
        return exec_filter_block(ctx, n);
    case N_WITH:
        return exec_with(ctx, n);
    case N_BODY:
        return jx_exec_body(ctx, &n->body);
    case N_BREAK:
        return FLOW_BREAK;
    case N_CONTINUE:
        return FLOW_CONTINUE;
    default:
        jx_fail(ctx, "internal error: not a statement");
        return FLOW_ERROR;
    }
}

static jx_flow exec_node(jx_ctx *ctx, const jnode *n) {
    if (++ctx->nest > JX_MAX_NEST) {
        ctx->nest--;
        jx_fail(ctx, "template nested too deeply (more than %d levels)", JX_MAX_NEST);
        return FLOW_ERROR;
    }
    ctx->line = n->line;
    jx_flow flow = exec_stmt(ctx, n);
    ctx->nest--;
    return flow;
}

jx_flow jx_exec_body(jx_ctx *ctx, const jnodes *body) {
    for (size_t i = 0; i < body->n; i++) {
        jx_flow flow = exec_node(ctx, body->v[i]);
        if (flow != FLOW_OK) return flow;
    }
    return FLOW_OK;
}
