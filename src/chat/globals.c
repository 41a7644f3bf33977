/* Global functions: jinja2's range, dict, namespace and joiner (range capped as in the
 * sandbox Hugging Face uses), and Hugging Face's raise_exception and strftime_now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/builtins.h"
#include "chat/interp.h"
#include "chat/limits.h"
#include "chat/print.h"

/* jinja2.sandbox.MAX_RANGE */
enum { MAX_RANGE = 100000 };

static bool as_int(jx_ctx *ctx, jv v, int64_t *out) {
    if (v.type == JV_INT)
        *out = v.u.i;
    else if (v.type == JV_BOOL)
        *out = v.u.b;
    else
        return jx_fail(ctx, "'%s' object cannot be interpreted as an integer", jv_type_name(v));
    return true;
}

static bool g_range(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    (void)fn;
    int64_t v[3] = {0, 0, 1};
    if (args->nkw) return jx_fail(ctx, "range() takes no keyword arguments");
    if (args->npos < 1 || args->npos > 3)
        return jx_fail(ctx, "range expected 1 to 3 arguments, got %zu", args->npos);
    for (size_t i = 0; i < args->npos; i++)
        if (!as_int(ctx, args->pos[i], &v[args->npos == 1 ? 1 : i])) return false;
    int64_t start = v[0], stop = v[1], step = v[2];
    if (step == 0) return jx_fail(ctx, "range() arg 3 must not be zero");
    /* the count in unsigned arithmetic: no overflow for any int64 bounds */
    uint64_t count = 0;
    if (step > 0 && start < stop)
        count = ((uint64_t)stop - (uint64_t)start - 1) / (uint64_t)step + 1;
    if (step < 0 && start > stop)
        count = ((uint64_t)start - (uint64_t)stop - 1) / ((uint64_t)0 - (uint64_t)step) + 1;
    if (count > MAX_RANGE)
        return jx_fail(ctx, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).",
                       MAX_RANGE);
    jv r = jv_list((size_t)count);
    for (uint64_t i = 0; i < count; i++)
        jv_list_push_take(r, jv_int(start + (int64_t)i * step));
    *out = r;
    return true;
}

/* dict(mapping or pairs, **kwargs) and namespace(...), which take the same arguments. */
static bool fill_mapping(jx_ctx *ctx, const char *name, const jx_args *args, jv target) {
    if (args->npos > 1)
        return jx_fail(ctx, "%s expected at most 1 argument, got %zu", name, args->npos);
    if (args->npos) {
        jv src = args->pos[0];
        if (src.type == JV_DICT && !src.u.d->ns) {
            for (size_t i = 0; i < src.u.d->n; i++)
                jv_dict_set_take(target, jv_retain(src.u.d->keys[i]), jv_retain(src.u.d->vals[i]));
        } else {
            jv items;
            if (!jx_iterate(ctx, src, &items)) return false;
            bool ok = true;
            for (size_t i = 0; i < jv_list_len(items) && ok; i++) {
                jv p = jv_list_at(items, i);
                if (p.type != JV_LIST || jv_list_len(p) != 2 || !jv_hashable(jv_list_at(p, 0)))
                    ok = jx_fail(ctx, "%s update sequence element #%zu is not a key/value pair",
                                 name, i);
                else
                    jv_dict_set_take(target, jv_retain(jv_list_at(p, 0)),
                                     jv_retain(jv_list_at(p, 1)));
            }
            jv_release(items);
            if (!ok) return false;
        }
    }
    for (size_t i = 0; i < args->nkw; i++)
        jv_dict_set_take(target, jv_retain(args->kw_names[i]), jv_retain(args->kw_vals[i]));
    return true;
}

static bool g_dict(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    (void)fn;
    jv d = jv_dict();
    if (!fill_mapping(ctx, "dict", args, d)) {
        jv_release(d);
        return false;
    }
    *out = d;
    return true;
}

static bool g_namespace(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    (void)fn;
    jv d = jv_namespace();
    if (!fill_mapping(ctx, "namespace", args, d)) {
        jv_release(d);
        return false;
    }
    *out = d;
    return true;
}

/* joiner(sep): a callable giving "" the first time and sep after that. */
static bool joiner_call(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    (void)ctx, (void)args;
    *out = fn->state++ ? jv_retain(fn->self) : jv_str("", 0);
    return true;
}

static bool g_joiner(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    (void)fn;
    static const char *const names[] = {"sep"};
    jv sep;
    if (!jx_bind(ctx, "joiner", args, 0, names, 1, &sep)) return false;
    jv s = sep.type == JV_UNDEF ? jv_str(", ", 2) : jx_to_str(sep);
    *out = jv_native("joiner", joiner_call, s);
    return true;
}

static bool g_raise_exception(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    (void)fn, (void)out;
    jv msg = args->npos ? jx_to_str(args->pos[0]) : jv_str("", 0);
    jx_raise(ctx, msg.u.s->data, msg.u.s->len);
    jv_release(msg);
    return false;
}

static bool g_strftime_now(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    (void)fn;
    static const char *const names[] = {"format"};
    jv f;
    if (!jx_bind(ctx, "strftime_now", args, 0, names, 1, &f)) return false;
    if (f.type != JV_STR)
        return jx_fail(ctx, "strftime_now() argument must be str, not %s", jv_type_name(f));
    if (f.u.s->len > 256) return jx_fail(ctx, "strftime_now() format is too long");
    struct tm tm;
    if (ctx->fixed_clock) {
        tm = ctx->clock;
    } else {
        time_t now = time(NULL);
        localtime_r(&now, &tm);
    }
    /* a trailing space tells an empty result apart from strftime's failure */
    char fmt[260], buf[4096];
    snprintf(fmt, sizeof fmt, "%s ", f.u.s->data);
    size_t n = strftime(buf, sizeof buf, fmt, &tm);
    if (n == 0) return jx_fail(ctx, "strftime_now() result is too long");
    *out = jv_str(buf, n - 1);
    return true;
}

static void define(jv vars, const char *name, jx_native_fn fn) {
    jv_dict_set_take(vars, jv_cstr(name), jv_native(name, fn, jv_undef()));
}

void jx_define_globals(jv vars) {
    define(vars, "range", g_range);
    define(vars, "dict", g_dict);
    define(vars, "namespace", g_namespace);
    define(vars, "joiner", g_joiner);
    define(vars, "raise_exception", g_raise_exception);
    define(vars, "strftime_now", g_strftime_now);
}
