/* Expression evaluation with jinja2's run-time semantics under Hugging Face's settings
 * (default Undefined, Python operators): attribute access prefers methods over dict keys
 * and item access the reverse (jinja2.Environment.getattr/getitem), a missing attribute or
 * item is an Undefined that remembers why, and using an Undefined for anything but
 * printing, testing, iterating or comparing for equality is an error. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/builtins.h"
#include "chat/interp.h"
#include "chat/limits.h"
#include "chat/print.h"
#include "chat/strops.h"
#include "chat/text.h"

/* ------------------------------------------------------------------ errors and budget */

bool jx_fail(jx_ctx *ctx, const char *fmt, ...) {
    if (ctx->failed) return false;
    ctx->failed = true;
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(ctx->err, sizeof ctx->err, "line %d: %s", ctx->line, msg);
    return false;
}

bool jx_raise(jx_ctx *ctx, const char *msg, size_t len) {
    if (ctx->failed) return false;
    ctx->failed = true;
    ctx->raised = true;
    if (len >= sizeof ctx->err) len = sizeof ctx->err - 1;
    memcpy(ctx->err, msg, len);
    ctx->err[len] = '\0';
    return false;
}

bool jx_fail_undefined(jx_ctx *ctx, jv undef) {
    if (undef.u.s) return jx_fail(ctx, "%s", undef.u.s->data);
    return jx_fail(ctx, "an undefined value was used");
}

bool jx_step(jx_ctx *ctx) {
    if (++ctx->steps > JX_MAX_STEPS)
        return jx_fail(ctx, "template exceeded the limit of %llu loop iterations and macro calls",
                       (unsigned long long)JX_MAX_STEPS);
    if (jx_heap_exceeded())
        return jx_fail(ctx, "template exceeded the limit of %zu MiB allocated", JX_MAX_ALLOC >> 20);
    return true;
}

void jx_ctx_init(jx_ctx *ctx, jx_scope *root, jx_buf *out) {
    memset(ctx, 0, sizeof *ctx);
    ctx->root = ctx->scope = root;
    ctx->out = out;
    ctx->name_loop = jv_cstr("loop");
    ctx->name_varargs = jv_cstr("varargs");
    ctx->name_kwargs = jv_cstr("kwargs");
    ctx->name_caller = jv_cstr("caller");
}

void jx_ctx_free(jx_ctx *ctx) {
    jv_release(ctx->name_loop);
    jv_release(ctx->name_varargs);
    jv_release(ctx->name_kwargs);
    jv_release(ctx->name_caller);
}

/* ------------------------------------------------------------------ scopes */

jx_scope *jx_scope_new(jx_scope *parent) {
    jx_scope *s = jx_calloc(1, sizeof *s);
    s->refcnt = 1;
    s->parent = parent;
    if (parent) parent->refcnt++;
    s->vars = jv_dict();
    return s;
}

void jx_scope_release(jx_scope *s) {
    while (s && --s->refcnt == 0) {
        jx_scope *parent = s->parent;
        jv_release(s->vars);
        jx_free(s);
        s = parent;
    }
}

void jx_scope_release_env(void *scope) {
    jx_scope_release(scope);
}

void jx_push_scope(jx_ctx *ctx, jx_scope *parent) {
    ctx->scope = jx_scope_new(parent);
}

void jx_pop_scope(jx_ctx *ctx, jx_scope *restore) {
    jx_scope *s = ctx->scope;
    ctx->scope = restore;
    jv_dict_clear(s->vars);
    jx_scope_release(s);
}

const jv *jx_lookup(const jx_ctx *ctx, jv name) {
    for (const jx_scope *s = ctx->scope; s; s = s->parent) {
        const jv *v = jv_dict_get(s->vars, name);
        if (v) return v;
    }
    return NULL;
}

void jx_assign(jx_ctx *ctx, jv name, jv value_take) {
    jv_dict_set_take(ctx->scope->vars, jv_retain(name), value_take);
}

/* ------------------------------------------------------------------ argument binding */

bool jx_bind(jx_ctx *ctx, const char *fname, const jx_args *args, size_t skip,
             const char *const *names, size_t n, jv *vals) {
    for (size_t i = 0; i < n; i++)
        vals[i] = jv_undef();
    size_t npos = args->npos > skip ? args->npos - skip : 0;
    if (npos > n)
        return jx_fail(ctx, "%s() takes at most %zu arguments (%zu given)", fname, n, npos);
    for (size_t i = 0; i < npos; i++)
        vals[i] = args->pos[skip + i];
    for (size_t k = 0; k < args->nkw; k++) {
        jv name = args->kw_names[k];
        size_t i = 0;
        while (i < n && strcmp(names[i], name.u.s->data))
            i++;
        if (i == n)
            return jx_fail(ctx, "%s() got an unexpected keyword argument '%s'", fname,
                           name.u.s->data);
        if (i < npos)
            return jx_fail(ctx, "%s() got multiple values for argument '%s'", fname, names[i]);
        vals[i] = args->kw_vals[k];
    }
    return true;
}

/* ------------------------------------------------------------------ attributes and items */

/* jinja2.utils.object_type_repr, for Undefined hints. */
static void type_repr(jv obj, char *buf, size_t size) {
    if (obj.type == JV_NONE)
        snprintf(buf, size, "None");
    else
        snprintf(buf, size, "%s object", jv_type_name(obj));
}

static jv missing_attr(jv obj, jv name) {
    char t[64];
    type_repr(obj, t, sizeof t);
    return jv_undef_hint("'%s' has no attribute '%s'", t, name.u.s->data);
}

static jv missing_item(jv obj, jv key) {
    char t[64];
    type_repr(obj, t, sizeof t);
    if (key.type == JV_STR) return jv_undef_hint("'%s' has no attribute '%s'", t, key.u.s->data);
    jx_buf b;
    jb_init(&b, 256);
    jx_write_repr(&b, key);
    jv u = jv_undef_hint("%s has no element %s", t, b.data ? b.data : "");
    jb_free(&b);
    return u;
}

static bool loop_attr(jx_ctx *ctx, jv obj, jv name, jv *out) {
    jloop *l = obj.u.loop;
    size_t n = l->items.type == JV_LIST ? jv_list_len(l->items) : 0, i = l->index0;
    const char *a = name.u.s->data;
    if (!strcmp(a, "index"))
        *out = jv_int((int64_t)i + 1);
    else if (!strcmp(a, "index0"))
        *out = jv_int((int64_t)i);
    else if (!strcmp(a, "revindex"))
        *out = jv_int((int64_t)(n - i));
    else if (!strcmp(a, "revindex0"))
        *out = jv_int((int64_t)(n - i) - 1);
    else if (!strcmp(a, "first"))
        *out = jv_bool(i == 0);
    else if (!strcmp(a, "last"))
        *out = jv_bool(i + 1 == n);
    else if (!strcmp(a, "length"))
        *out = jv_int((int64_t)n);
    else if (!strcmp(a, "depth"))
        *out = jv_int(l->depth);
    else if (!strcmp(a, "depth0"))
        *out = jv_int(l->depth - 1);
    else if (!strcmp(a, "previtem"))
        *out = i > 0 ? jv_retain(jv_list_at(l->items, i - 1))
                     : jv_undef_hint("there is no previous item");
    else if (!strcmp(a, "nextitem"))
        *out = i + 1 < n ? jv_retain(jv_list_at(l->items, i + 1))
                         : jv_undef_hint("there is no next item");
    else if (!jx_find_method(obj, name, out))
        *out = missing_attr(obj, name);
    (void)ctx;
    return true;
}

bool jx_getattr(jx_ctx *ctx, jv obj, jv name, jv *out) {
    switch (obj.type) {
    case JV_UNDEF:
        return jx_fail_undefined(ctx, obj);
    case JV_DICT: {
        if (!obj.u.d->ns && jx_find_method(obj, name, out)) return true;
        const jv *v = jv_dict_get(obj, name);
        *out = v ? jv_retain(*v) : missing_attr(obj, name);
        return true;
    }
    case JV_LOOP:
        return loop_attr(ctx, obj, name, out);
    default:
        if (!jx_find_method(obj, name, out)) *out = missing_attr(obj, name);
        return true;
    }
}

static bool index_of(jv key, size_t n, size_t *out) {
    if (key.type != JV_INT && key.type != JV_BOOL) return false;
    int64_t i = key.type == JV_BOOL ? key.u.b : key.u.i;
    if (i < 0) i += (int64_t)n;
    if (i < 0 || (uint64_t)i >= n) return false;
    *out = (size_t)i;
    return true;
}

static bool str_char_at(jv s, jv key, jv *out) {
    jstr *str = s.u.s;
    size_t n = jstr_is_ascii(str) ? str->len : utf8_count(str->data, str->len), i;
    if (!index_of(key, n, &i)) return false;
    size_t off = jstr_is_ascii(str) ? i : utf8_offset(str->data, str->len, i);
    uint32_t cp;
    size_t len = utf8_next(str->data, str->len, off, &cp);
    *out = jv_str(str->data + off, len);
    out->u.s->markup = str->markup; /* markupsafe wraps __getitem__ */
    return true;
}

bool jx_getitem(jx_ctx *ctx, jv obj, jv key, jv *out) {
    size_t i;
    switch (obj.type) {
    case JV_UNDEF:
        return jx_fail_undefined(ctx, obj);
    case JV_DICT:
        if (jv_hashable(key)) {
            const jv *v = jv_dict_get(obj, key);
            if (v) {
                *out = jv_retain(*v);
                return true;
            }
        }
        break;
    case JV_LIST:
        if (!obj.u.l->gen && index_of(key, jv_list_len(obj), &i)) {
            *out = jv_retain(jv_list_at(obj, i));
            return true;
        }
        break;
    case JV_STR:
        if (str_char_at(obj, key, out)) return true;
        break;
    case JV_LOOP:
        if (key.type == JV_STR) return loop_attr(ctx, obj, key, out);
        break;
    default:
        break;
    }
    if (key.type == JV_STR && obj.type != JV_DICT && jx_find_method(obj, key, out)) return true;
    if (key.type == JV_STR && obj.type == JV_DICT && !obj.u.d->ns && jx_find_method(obj, key, out))
        return true;
    *out = missing_item(obj, key);
    return true;
}

/* Python's slice.indices(): clamps start/stop for the given step. */
static bool slice_bound(jv v, int64_t *out, bool *present) {
    *present = v.type != JV_NONE && v.type != JV_UNDEF;
    if (!*present) return true;
    if (v.type == JV_BOOL)
        *out = v.u.b;
    else if (v.type == JV_INT)
        *out = v.u.i;
    else
        return false;
    return true;
}

static int64_t clamp_index(int64_t i, bool present, int64_t len, int64_t step, bool is_start) {
    int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
    if (!present) return (step > 0) == is_start ? lower : upper;
    if (i < 0) {
        i += len;
        if (i < lower) i = lower;
    } else if (i > upper) {
        i = upper;
    }
    return i;
}

static bool do_slice(jx_ctx *ctx, jv obj, jv a, jv b, jv c, jv *out) {
    int64_t start = 0, stop = 0, step = 1;
    bool has_start, has_stop, has_step;
    if (!slice_bound(a, &start, &has_start) || !slice_bound(b, &stop, &has_stop) ||
        !slice_bound(c, &step, &has_step) || (obj.type != JV_LIST && obj.type != JV_STR) ||
        jv_is_gen(obj)) {
        *out = jv_undef_hint("'%s' object cannot be sliced with these bounds", jv_type_name(obj));
        return true;
    }
    if (!has_step) step = 1;
    if (step == 0) return jx_fail(ctx, "slice step cannot be zero");
    bool is_str = obj.type == JV_STR;
    bool ascii = is_str && jstr_is_ascii(obj.u.s);
    int64_t len = is_str ? (int64_t)(ascii ? obj.u.s->len : utf8_count(obj.u.s->data, obj.u.s->len))
                         : (int64_t)jv_list_len(obj);
    start = clamp_index(start, has_start, len, step, true);
    stop = clamp_index(stop, has_stop, len, step, false);
    if (!is_str) {
        jv r = jv_list(0);
        r.u.l->tuple = obj.u.l->tuple;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
            jv_list_push_take(r, jv_retain(jv_list_at(obj, (size_t)i)));
        *out = r;
        return true;
    }
    const char *s = obj.u.s->data;
    size_t slen = obj.u.s->len;
    if (step == 1) {
        size_t from = ascii ? (size_t)start : utf8_offset(s, slen, (size_t)start);
        size_t to = stop <= start ? from
                    : ascii       ? (size_t)stop
                                  : utf8_offset(s, slen, (size_t)stop);
        *out = jv_str(s + from, to - from);
        out->u.s->markup = obj.u.s->markup;
        return true;
    }
    /* General steps walk code points; collect their offsets first. */
    size_t *offs = jx_alloc(((size_t)len + 1) * sizeof *offs);
    for (size_t i = 0, k = 0; k <= (size_t)len; k++) {
        offs[k] = i;
        if (i < slen) {
            uint32_t cp;
            i += utf8_next(s, slen, i, &cp);
        }
    }
    jx_buf buf;
    jb_init(&buf, 0);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        jb_put(&buf, s + offs[i], offs[i + 1] - offs[i]);
    jx_free(offs);
    *out = jb_take_str(&buf);
    return true;
}

/* ------------------------------------------------------------------ iteration */

bool jx_iterate(jx_ctx *ctx, jv v, jv *list_out) {
    switch (v.type) {
    case JV_UNDEF:
        *list_out = jv_list(0);
        return true;
    case JV_LIST: {
        jv copy = jv_list(jv_list_len(v));
        for (size_t i = 0; i < jv_list_len(v); i++)
            jv_list_push_take(copy, jv_retain(jv_list_at(v, i)));
        if (v.u.l->gen) jv_list_drop_front(v, jv_list_len(v)); /* a generator runs once */
        *list_out = copy;
        return true;
    }
    case JV_DICT: {
        if (v.u.d->ns) break;
        jv keys = jv_list(v.u.d->n);
        for (size_t i = 0; i < v.u.d->n; i++)
            jv_list_push_take(keys, jv_retain(v.u.d->keys[i]));
        *list_out = keys;
        return true;
    }
    case JV_STR: {
        const char *s = v.u.s->data;
        size_t n = v.u.s->len;
        jv chars = jv_list(0);
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            size_t k = utf8_next(s, n, i, &cp);
            jv_list_push_take(chars, jv_str(s + i, k));
            i += k;
        }
        *list_out = chars;
        return true;
    }
    default:
        break;
    }
    return jx_fail(ctx, "'%s' object is not iterable", jv_type_name(v));
}

bool jx_contains(jx_ctx *ctx, jv container, jv item, bool *out) {
    switch (container.type) {
    case JV_UNDEF:
        *out = false;
        return true;
    case JV_STR:
        if (item.type != JV_STR)
            return jx_fail(ctx, "'in <string>' requires string as left operand, not %s",
                           jv_type_name(item));
        *out = item.u.s->len == 0 ||
               memmem(container.u.s->data, container.u.s->len, item.u.s->data, item.u.s->len);
        return true;
    case JV_LIST: {
        size_t i = 0;
        *out = false;
        for (; i < jv_list_len(container) && !*out; i++)
            *out = jv_equal(jv_list_at(container, i), item);
        if (container.u.l->gen) jv_list_drop_front(container, i); /* consumed up to the match */
        return true;
    }
    case JV_DICT:
        if (container.u.d->ns) break;
        if (!jv_hashable(item)) return jx_fail(ctx, "unhashable type: '%s'", jv_type_name(item));
        *out = jv_dict_get(container, item) != NULL;
        return true;
    default:
        break;
    }
    return jx_fail(ctx, "argument of type '%s' is not iterable", jv_type_name(container));
}

/* ------------------------------------------------------------------ operators */

static bool int_like(jv v) {
    return v.type == JV_INT || v.type == JV_BOOL;
}
static int64_t int_of(jv v) {
    return v.type == JV_BOOL ? v.u.b : v.u.i;
}

static bool unsupported(jx_ctx *ctx, op_kind op, jv a, jv b) {
    return jx_fail(ctx, "unsupported operand type(s) for %s: '%s' and '%s'", jx_op_text(op),
                   jv_type_name(a), jv_type_name(b));
}

static bool overflow(jx_ctx *ctx) {
    return jx_fail(ctx, "integer overflow (beyond 64 bits)");
}

static bool concat(jx_ctx *ctx, jv a, jv b, jv *out, bool markup_aware) {
    if (markup_aware && a.type == JV_STR && b.type == JV_STR &&
        jv_is_markup(a) != jv_is_markup(b)) {
        /* Markup + str (either order) escapes the plain str, as markupsafe does */
        jv ea = jx_html_escape(a), eb = jx_html_escape(b);
        bool ok = concat(ctx, ea, eb, out, true);
        jv_release(ea);
        jv_release(eb);
        if (ok) out->u.s->markup = true;
        return ok;
    }
    if (a.type == JV_STR && b.type == JV_STR) {
        size_t n;
        if (__builtin_add_overflow(a.u.s->len, b.u.s->len, &n) || n > JX_MAX_STRING)
            return jx_fail(ctx, "string longer than %zu bytes", JX_MAX_STRING);
        jstr *s = jstr_new(NULL, n);
        memcpy(s->data, a.u.s->data, a.u.s->len);
        memcpy(s->data + a.u.s->len, b.u.s->data, b.u.s->len);
        s->markup = markup_aware && jv_is_markup(a) && jv_is_markup(b);
        *out = (jv){.type = JV_STR, .u.s = s};
        return true;
    }
    if (jv_is_list(a, true) && jv_is_list(b, true) && a.u.l->tuple == b.u.l->tuple) {
        size_t n = jv_list_len(a) + jv_list_len(b);
        if (n > JX_MAX_LIST) return jx_fail(ctx, "list longer than %zu items", JX_MAX_LIST);
        jv r = jv_list(n);
        r.u.l->tuple = a.u.l->tuple;
        for (size_t i = 0; i < jv_list_len(a); i++)
            jv_list_push_take(r, jv_retain(jv_list_at(a, i)));
        for (size_t i = 0; i < jv_list_len(b); i++)
            jv_list_push_take(r, jv_retain(jv_list_at(b, i)));
        *out = r;
        return true;
    }
    if (a.type == JV_STR || (a.type == JV_LIST && !a.u.l->tuple))
        return jx_fail(ctx, "can only concatenate %s (not \"%s\") to %s", jv_type_name(a),
                       jv_type_name(b), jv_type_name(a));
    return unsupported(ctx, OP_ADD, a, b);
}

static bool repeat(jx_ctx *ctx, jv seq, int64_t times, jv *out) {
    if (times < 0) times = 0;
    if (seq.type == JV_STR) {
        size_t n;
        if (__builtin_mul_overflow(seq.u.s->len, (size_t)times, &n) || n > JX_MAX_STRING)
            return jx_fail(ctx, "string longer than %zu bytes", JX_MAX_STRING);
        jstr *s = jstr_new(NULL, n);
        for (int64_t i = 0; i < times; i++)
            memcpy(s->data + (size_t)i * seq.u.s->len, seq.u.s->data, seq.u.s->len);
        *out = (jv){.type = JV_STR, .u.s = s};
        return true;
    }
    size_t n;
    if (__builtin_mul_overflow(jv_list_len(seq), (size_t)times, &n) || n > JX_MAX_LIST)
        return jx_fail(ctx, "list longer than %zu items", JX_MAX_LIST);
    jv r = jv_list(n);
    r.u.l->tuple = seq.u.l->tuple;
    for (int64_t t = 0; t < times; t++)
        for (size_t i = 0; i < jv_list_len(seq); i++)
            jv_list_push_take(r, jv_retain(jv_list_at(seq, i)));
    *out = r;
    return true;
}

static bool int_pow(jx_ctx *ctx, int64_t base, int64_t exp, jv *out) {
    if (exp < 0) {
        if (base == 0) return jx_fail(ctx, "0.0 cannot be raised to a negative power");
        *out = jv_float(pow((double)base, (double)exp));
        return true;
    }
    int64_t r = 1;
    while (exp > 0) {
        if ((exp & 1) && __builtin_mul_overflow(r, base, &r)) return overflow(ctx);
        exp >>= 1;
        if (exp && __builtin_mul_overflow(base, base, &base)) return overflow(ctx);
    }
    *out = jv_int(r);
    return true;
}

static bool arith(jx_ctx *ctx, op_kind op, jv a, jv b, jv *out) {
    if (int_like(a) && int_like(b)) {
        int64_t x = int_of(a), y = int_of(b), r;
        switch (op) {
        case OP_ADD:
            if (__builtin_add_overflow(x, y, &r)) return overflow(ctx);
            break;
        case OP_SUB:
            if (__builtin_sub_overflow(x, y, &r)) return overflow(ctx);
            break;
        case OP_MUL:
            if (__builtin_mul_overflow(x, y, &r)) return overflow(ctx);
            break;
        case OP_DIV:
            if (y == 0) return jx_fail(ctx, "division by zero");
            *out = jv_float((double)x / (double)y);
            return true;
        case OP_FLOORDIV:
        case OP_MOD:
            if (y == 0) return jx_fail(ctx, "integer division or modulo by zero");
            if (x == INT64_MIN && y == -1) return overflow(ctx);
            r = op == OP_FLOORDIV ? x / y : x % y;
            /* Python floors the quotient; the remainder takes the divisor's sign */
            if ((x % y != 0) && ((x < 0) != (y < 0))) r = op == OP_FLOORDIV ? r - 1 : r + y;
            break;
        case OP_POW:
            return int_pow(ctx, x, y, out);
        default:
            return unsupported(ctx, op, a, b);
        }
        *out = jv_int(r);
        return true;
    }
    double x = jv_num(a), y = jv_num(b);
    switch (op) {
    case OP_ADD:
        *out = jv_float(x + y);
        return true;
    case OP_SUB:
        *out = jv_float(x - y);
        return true;
    case OP_MUL:
        *out = jv_float(x * y);
        return true;
    case OP_DIV:
        if (y == 0) return jx_fail(ctx, "float division by zero");
        *out = jv_float(x / y);
        return true;
    case OP_FLOORDIV:
        if (y == 0) return jx_fail(ctx, "float floor division by zero");
        *out = jv_float(floor(x / y));
        return true;
    case OP_MOD: {
        if (y == 0) return jx_fail(ctx, "float modulo");
        double m = fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        *out = jv_float(m);
        return true;
    }
    case OP_POW:
        if (x == 0 && y < 0) return jx_fail(ctx, "0.0 cannot be raised to a negative power");
        *out = jv_float(pow(x, y));
        return true;
    default:
        return unsupported(ctx, op, a, b);
    }
}

bool jx_binop(jx_ctx *ctx, op_kind op, jv a, jv b, jv *out) {
    if (op == OP_TILDE) {
        jv sa = jx_to_str(a), sb = jx_to_str(b);
        /* `~` is jinja2's str_join with autoescape off: plain strings, no escaping */
        bool ok = concat(ctx, sa, sb, out, false);
        jv_release(sa);
        jv_release(sb);
        return ok;
    }
    if (a.type == JV_UNDEF) return jx_fail_undefined(ctx, a);
    if (b.type == JV_UNDEF) return jx_fail_undefined(ctx, b);
    if (jv_is_number(a) && jv_is_number(b)) return arith(ctx, op, a, b, out);
    if (op == OP_ADD) return concat(ctx, a, b, out, true);
    if (op == OP_MUL) {
        if ((a.type == JV_STR || jv_is_list(a, true)) && int_like(b))
            return repeat(ctx, a, int_of(b), out);
        if ((b.type == JV_STR || jv_is_list(b, true)) && int_like(a))
            return repeat(ctx, b, int_of(a), out);
    }
    if (op == OP_MOD && a.type == JV_STR) return jx_percent_format(ctx, a, b, out);
    return unsupported(ctx, op, a, b);
}

static bool compare(jx_ctx *ctx, op_kind op, jv a, jv b, bool *out) {
    switch (op) {
    case OP_EQ:
        *out = jv_equal(a, b);
        return true;
    case OP_NE:
        *out = !jv_equal(a, b);
        return true;
    case OP_IN:
    case OP_NOTIN:
        if (!jx_contains(ctx, b, a, out)) return false;
        if (op == OP_NOTIN) *out = !*out;
        return true;
    default:
        break;
    }
    if (a.type == JV_UNDEF) return jx_fail_undefined(ctx, a);
    if (b.type == JV_UNDEF) return jx_fail_undefined(ctx, b);
    int c;
    if (!jv_compare(a, b, &c))
        return jx_fail(ctx, "'%s' not supported between instances of '%s' and '%s'", jx_op_text(op),
                       jv_type_name(a), jv_type_name(b));
    if ((a.type == JV_FLOAT && isnan(a.u.f)) || (b.type == JV_FLOAT && isnan(b.u.f))) {
        *out = false;
        return true;
    }
    switch (op) {
    case OP_LT:
        *out = c < 0;
        break;
    case OP_LTEQ:
        *out = c <= 0;
        break;
    case OP_GT:
        *out = c > 0;
        break;
    default:
        *out = c >= 0;
        break;
    }
    return true;
}

/* ------------------------------------------------------------------ node evaluation */

static bool eval_compare(jx_ctx *ctx, const jnode *n, jv *out) {
    jv left;
    if (!jx_eval(ctx, n->a, &left)) return false;
    bool result = true;
    for (size_t i = 0; i < n->body.n && result; i++) {
        const jnode *operand = n->body.v[i];
        jv right;
        if (!jx_eval(ctx, operand->a, &right)) {
            jv_release(left);
            return false;
        }
        ctx->line = operand->line;
        bool ok = compare(ctx, operand->op, left, right, &result);
        jv_release(left);
        left = right;
        if (!ok) {
            jv_release(left);
            return false;
        }
    }
    jv_release(left);
    *out = jv_bool(result);
    return true;
}

static bool eval_unary(jx_ctx *ctx, const jnode *n, jv *out) {
    jv v;
    if (!jx_eval(ctx, n->a, &v)) return false;
    bool ok = true;
    if (n->op == OP_NOT) {
        *out = jv_bool(!jv_truthy(v));
    } else if (v.type == JV_UNDEF) {
        ok = jx_fail_undefined(ctx, v);
    } else if (!jv_is_number(v)) {
        ok = jx_fail(ctx, "bad operand type for unary %s: '%s'", n->op == OP_NEG ? "-" : "+",
                     jv_type_name(v));
    } else if (v.type == JV_FLOAT) {
        *out = jv_float(n->op == OP_NEG ? -v.u.f : v.u.f);
    } else if (n->op == OP_NEG && int_of(v) == INT64_MIN) {
        ok = overflow(ctx);
    } else {
        *out = jv_int(n->op == OP_NEG ? -int_of(v) : int_of(v));
    }
    jv_release(v);
    return ok;
}

static bool eval_items(jx_ctx *ctx, const jnodes *items, jv list) {
    for (size_t i = 0; i < items->n; i++) {
        jv item;
        if (!jx_eval(ctx, items->v[i], &item)) return false;
        jv_list_push_take(list, item);
    }
    return true;
}

static bool eval_dict(jx_ctx *ctx, const jnode *n, jv *out) {
    jv d = jv_dict();
    for (size_t i = 0; i < n->body.n; i++) {
        jv k, v;
        if (!jx_eval(ctx, n->body.v[i], &k)) goto fail;
        if (!jv_hashable(k)) {
            jx_fail(ctx, "unhashable type: '%s'", jv_type_name(k));
            jv_release(k);
            goto fail;
        }
        if (!jx_eval(ctx, n->alt.v[i], &v)) {
            jv_release(k);
            goto fail;
        }
        jv_dict_set_take(d, k, v);
    }
    *out = d;
    return true;
fail:
    jv_release(d);
    return false;
}

/* A growing array of values that starts in place, so that the arguments of most calls
 * need no allocation. Not to be copied once initialised. */
enum { VEC_INLINE = 6 };
typedef struct jvec {
    jv *v;
    size_t n, cap;
    jv inl[VEC_INLINE];
} jvec;

static void vec_init(jvec *a) {
    a->v = a->inl;
    a->n = 0;
    a->cap = VEC_INLINE;
}

static void vec_push(jvec *a, jv x) {
    if (a->n == a->cap) {
        jv *v = jx_alloc(a->cap * 2 * sizeof *v);
        memcpy(v, a->v, a->n * sizeof *v);
        if (a->v != a->inl) jx_free(a->v);
        a->v = v;
        a->cap *= 2;
    }
    a->v[a->n++] = x;
}

static void vec_free(jvec *a) {
    for (size_t i = 0; i < a->n; i++)
        jv_release(a->v[i]);
    if (a->v != a->inl) jx_free(a->v);
}

/* Evaluated call arguments; the vectors hold the references. */
typedef struct call_frame {
    jx_args args;
    jvec pos, names, vals;
} call_frame;

static void frame_free(call_frame *f) {
    vec_free(&f->pos);
    vec_free(&f->names);
    vec_free(&f->vals);
}

static void frame_link(call_frame *f) {
    f->args = (jx_args){.pos = f->pos.v,
                        .npos = f->pos.n,
                        .kw_names = f->names.v,
                        .kw_vals = f->vals.v,
                        .nkw = f->names.n};
}

static bool expand_star(jx_ctx *ctx, const jnode *node, jvec *pos) {
    jv v, items;
    if (!jx_eval(ctx, node, &v)) return false;
    bool ok = jx_iterate(ctx, v, &items);
    jv_release(v);
    if (!ok) return false;
    for (size_t i = 0; i < jv_list_len(items); i++)
        vec_push(pos, jv_retain(jv_list_at(items, i)));
    jv_release(items);
    return true;
}

static bool expand_dstar(jx_ctx *ctx, const jnode *node, call_frame *f) {
    jv v;
    if (!jx_eval(ctx, node, &v)) return false;
    bool ok = true;
    if (v.type != JV_DICT || v.u.d->ns)
        ok = jx_fail(ctx, "argument after ** must be a mapping, not %s", jv_type_name(v));
    for (size_t i = 0; ok && i < v.u.d->n; i++) {
        if (v.u.d->keys[i].type != JV_STR) {
            ok = jx_fail(ctx, "keywords must be strings");
            break;
        }
        vec_push(&f->names, jv_retain(v.u.d->keys[i]));
        vec_push(&f->vals, jv_retain(v.u.d->vals[i]));
    }
    jv_release(v);
    return ok;
}

static bool eval_args(jx_ctx *ctx, const jargs_ast *a, call_frame *f) {
    vec_init(&f->pos);
    vec_init(&f->names);
    vec_init(&f->vals);
    bool ok = true;
    if (a) {
        for (size_t i = 0; ok && i < a->pos.n; i++) {
            jv v;
            if ((ok = jx_eval(ctx, a->pos.v[i], &v))) vec_push(&f->pos, v);
        }
        if (ok && a->star) ok = expand_star(ctx, a->star, &f->pos);
        for (size_t i = 0; ok && i < a->nkw; i++) {
            jv v;
            if (!(ok = jx_eval(ctx, a->kw_vals.v[i], &v))) break;
            vec_push(&f->names, jv_retain(a->kw_names[i]));
            vec_push(&f->vals, v);
        }
        if (ok && a->dstar) ok = expand_dstar(ctx, a->dstar, f);
    }
    if (!ok) {
        frame_free(f);
        return false;
    }
    frame_link(f);
    return true;
}

bool jx_call(jx_ctx *ctx, jv fn, const jx_args *args, jv *out) {
    if (fn.type == JV_UNDEF) return jx_fail_undefined(ctx, fn);
    if (fn.type == JV_LOOP && fn.u.loop->node) return jx_call_loop(ctx, fn.u.loop, args, out);
    if (fn.type != JV_FUNC) return jx_fail(ctx, "'%s' object is not callable", jv_type_name(fn));
    if (fn.u.fn->native) return fn.u.fn->native(ctx, fn.u.fn, args, out);
    return jx_call_macro(ctx, fn.u.fn, args, out);
}

bool jx_eval_call_with(jx_ctx *ctx, const jargs_ast *args, jv fn, jv caller, jv *out) {
    call_frame f;
    if (!eval_args(ctx, args, &f)) return false;
    vec_push(&f.names, jv_retain(ctx->name_caller));
    vec_push(&f.vals, jv_retain(caller));
    frame_link(&f);
    bool ok = jx_call(ctx, fn, &f.args, out);
    frame_free(&f);
    return ok;
}

static bool eval_call(jx_ctx *ctx, const jnode *n, jv *out) {
    jv fn;
    if (!jx_eval(ctx, n->a, &fn)) return false;
    call_frame f;
    bool ok = eval_args(ctx, n->args, &f);
    if (ok) {
        ctx->line = n->line;
        ok = jx_call(ctx, fn, &f.args, out);
        frame_free(&f);
    }
    jv_release(fn);
    return ok;
}

static bool apply_filter_node(jx_ctx *ctx, const jnode *n, jv input, jv *out) {
    call_frame f;
    if (!eval_args(ctx, n->args, &f)) return false;
    ctx->line = n->line;
    bool ok = jx_apply_filter(ctx, n->value, input, &f.args, out);
    frame_free(&f);
    return ok;
}

bool jx_eval_filter_chain(jx_ctx *ctx, const jnode *chain, jv input, jv *out) {
    if (!chain) {
        *out = jv_retain(input);
        return true;
    }
    jv inner;
    if (!jx_eval_filter_chain(ctx, chain->a, input, &inner)) return false;
    bool ok = apply_filter_node(ctx, chain, inner, out);
    jv_release(inner);
    return ok;
}

static bool eval_filter(jx_ctx *ctx, const jnode *n, jv *out) {
    jv input;
    if (!jx_eval(ctx, n->a, &input)) return false;
    bool ok = apply_filter_node(ctx, n, input, out);
    jv_release(input);
    return ok;
}

static bool eval_test(jx_ctx *ctx, const jnode *n, jv *out) {
    jv input;
    if (!jx_eval(ctx, n->a, &input)) return false;
    call_frame f;
    bool ok = eval_args(ctx, n->args, &f), result = false;
    if (ok) {
        ctx->line = n->line;
        ok = jx_apply_test(ctx, n->value, input, &f.args, &result);
        frame_free(&f);
    }
    jv_release(input);
    if (ok) *out = jv_bool(result != n->negated);
    return ok;
}

static bool eval_slice(jx_ctx *ctx, const jnode *n, jv *out) {
    jv parts[4] = {jv_none(), jv_none(), jv_none(), jv_none()};
    const jnode *nodes[4] = {n->a, n->b, n->c, n->d};
    bool ok = true;
    for (int i = 0; i < 4 && ok; i++)
        if (nodes[i]) ok = jx_eval(ctx, nodes[i], &parts[i]);
    if (ok && parts[0].type == JV_UNDEF) ok = jx_fail_undefined(ctx, parts[0]);
    if (ok) ok = do_slice(ctx, parts[0], parts[1], parts[2], parts[3], out);
    for (int i = 0; i < 4; i++)
        jv_release(parts[i]);
    return ok;
}

static bool eval_pair(jx_ctx *ctx, const jnode *n, jv *a, jv *b) {
    if (!jx_eval(ctx, n->a, a)) return false;
    if (!jx_eval(ctx, n->b, b)) {
        jv_release(*a);
        return false;
    }
    ctx->line = n->line;
    return true;
}

static bool eval_node(jx_ctx *ctx, const jnode *n, jv *out) {
    jv a, b;
    bool ok;
    switch (n->kind) {
    case E_CONST:
        *out = jv_retain(n->value);
        return true;
    case E_NAME: {
        const jv *v = jx_lookup(ctx, n->value);
        *out = v ? jv_retain(*v) : jv_undef_hint("'%s' is undefined", n->value.u.s->data);
        return true;
    }
    case E_ATTR:
        if (!jx_eval(ctx, n->a, &a)) return false;
        ctx->line = n->line;
        ok = jx_getattr(ctx, a, n->value, out);
        jv_release(a);
        return ok;
    case E_ITEM:
        if (!eval_pair(ctx, n, &a, &b)) return false;
        ok = jx_getitem(ctx, a, b, out);
        jv_release(a);
        jv_release(b);
        return ok;
    case E_SLICE:
        return eval_slice(ctx, n, out);
    case E_CALL:
        return eval_call(ctx, n, out);
    case E_FILTER:
        return eval_filter(ctx, n, out);
    case E_TEST:
        return eval_test(ctx, n, out);
    case E_UNARY:
        return eval_unary(ctx, n, out);
    case E_AND:
    case E_OR:
        if (!jx_eval(ctx, n->a, &a)) return false;
        if (jv_truthy(a) == (n->kind == E_OR)) {
            *out = a;
            return true;
        }
        jv_release(a);
        return jx_eval(ctx, n->b, out);
    case E_BINOP:
        if (!eval_pair(ctx, n, &a, &b)) return false;
        ok = jx_binop(ctx, n->op, a, b, out);
        jv_release(a);
        jv_release(b);
        return ok;
    case E_COMPARE:
        return eval_compare(ctx, n, out);
    case E_COND:
        if (!jx_eval(ctx, n->b, &a)) return false;
        ok = jv_truthy(a);
        jv_release(a);
        if (ok) return jx_eval(ctx, n->a, out);
        if (n->c) return jx_eval(ctx, n->c, out);
        *out = jv_undef_hint("the inline if-expression on line %d evaluated to false and has no "
                             "else section",
                             n->line);
        return true;
    case E_LIST:
    case E_TUPLE:
        *out = jv_list(n->body.n);
        out->u.l->tuple = n->kind == E_TUPLE;
        if (eval_items(ctx, &n->body, *out)) return true;
        jv_release(*out);
        return false;
    case E_DICT:
        return eval_dict(ctx, n, out);
    default:
        return jx_fail(ctx, "internal error: not an expression");
    }
}

bool jx_eval(jx_ctx *ctx, const jnode *node, jv *out) {
    if (++ctx->nest > JX_MAX_NEST) {
        ctx->nest--;
        return jx_fail(ctx, "expression nested too deeply (more than %d levels)", JX_MAX_NEST);
    }
    ctx->line = node->line;
    bool ok = eval_node(ctx, node, out);
    ctx->nest--;
    return ok;
}
