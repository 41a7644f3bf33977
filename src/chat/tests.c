/* Jinja's builtin tests (`x is defined`, `x is divisibleby 3` ...), jinja2/tests.py. */
#include <math.h>
#include <string.h>

#include "chat/builtins.h"
#include "chat/interp.h"
#include "chat/print.h"
#include "chat/strops.h"
#include "chat/text.h"

typedef bool (*test_fn)(jx_ctx *ctx, jv v, const jx_args *args, bool *out);

typedef struct test_entry {
    const char *name;
    test_fn fn;
} test_entry;

static jv arg0(const jx_args *args) {
    return args->npos ? args->pos[0] : args->nkw ? args->kw_vals[0] : jv_undef();
}

static bool need_arg(jx_ctx *ctx, const jx_args *args, const char *name) {
    if (args->npos + args->nkw == 1) return true;
    return jx_fail(ctx, "test '%s' takes exactly one argument", name);
}

static bool t_defined(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type != JV_UNDEF;
    return true;
}
static bool t_undefined(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_UNDEF;
    return true;
}
static bool t_none(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_NONE;
    return true;
}
static bool t_boolean(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_BOOL;
    return true;
}
static bool t_true(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_BOOL && v.u.b;
    return true;
}
static bool t_false(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_BOOL && !v.u.b;
    return true;
}
static bool t_integer(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_INT;
    return true;
}
static bool t_float(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_FLOAT;
    return true;
}
static bool t_number(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = jv_is_number(v);
    return true;
}
static bool t_string(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_STR;
    return true;
}
static bool t_mapping(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_DICT && !v.u.d->ns;
    return true;
}
/* len() and [] both work: str, list, tuple, dict, and jinja2's Undefined. */
static bool t_sequence(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_STR || (v.type == JV_LIST && !v.u.l->gen) ||
         (v.type == JV_DICT && !v.u.d->ns) || v.type == JV_UNDEF;
    return true;
}
static bool t_iterable(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_STR || v.type == JV_LIST || (v.type == JV_DICT && !v.u.d->ns) ||
         v.type == JV_UNDEF || v.type == JV_LOOP;
    return true;
}
static bool t_callable(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = v.type == JV_FUNC || v.type == JV_LOOP || v.type == JV_UNDEF;
    return true;
}
static bool t_escaped(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)c, (void)a;
    *o = jv_is_markup(v);
    return true;
}

/* str(value).islower() / isupper(): some cased character, none of the other case. */
static bool case_test(jx_ctx *ctx, jv v, bool *o, bool upper) {
    (void)ctx;
    jv s = jx_to_str(v);
    const char *d = s.u.s->data;
    size_t n = s.u.s->len;
    bool any = false, other = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += utf8_next(d, n, i, &cp);
        any = any || (upper ? uni_isupper(cp) : uni_islower(cp));
        other = other || (upper ? uni_islower(cp) : uni_isupper(cp));
    }
    jv_release(s);
    *o = any && !other;
    return true;
}
static bool t_lower(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)a;
    return case_test(c, v, o, false);
}
static bool t_upper(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    (void)a;
    return case_test(c, v, o, true);
}

static bool modulo(jx_ctx *ctx, jv v, jv d, jv *r) {
    if (v.type == JV_UNDEF) return jx_fail_undefined(ctx, v);
    return jx_binop(ctx, OP_MOD, v, d, r);
}

static bool t_odd(jx_ctx *ctx, jv v, const jx_args *a, bool *o) {
    (void)a;
    jv r;
    if (!modulo(ctx, v, jv_int(2), &r)) return false;
    *o = jv_equal(r, jv_int(1));
    jv_release(r);
    return true;
}
static bool t_even(jx_ctx *ctx, jv v, const jx_args *a, bool *o) {
    (void)a;
    jv r;
    if (!modulo(ctx, v, jv_int(2), &r)) return false;
    *o = jv_equal(r, jv_int(0));
    jv_release(r);
    return true;
}
static bool t_divisibleby(jx_ctx *ctx, jv v, const jx_args *a, bool *o) {
    if (!need_arg(ctx, a, "divisibleby")) return false;
    jv r;
    if (!modulo(ctx, v, arg0(a), &r)) return false;
    *o = jv_equal(r, jv_int(0));
    jv_release(r);
    return true;
}

static bool cmp_test(jx_ctx *ctx, jv v, const jx_args *a, bool *o, op_kind op, const char *name) {
    if (!need_arg(ctx, a, name)) return false;
    jv other = arg0(a);
    if (op == OP_EQ || op == OP_NE) {
        *o = jv_equal(v, other) == (op == OP_EQ);
        return true;
    }
    if (v.type == JV_UNDEF) return jx_fail_undefined(ctx, v);
    if (other.type == JV_UNDEF) return jx_fail_undefined(ctx, other);
    int c;
    if (!jv_compare(v, other, &c))
        return jx_fail(ctx, "'%s' not supported between instances of '%s' and '%s'", jx_op_text(op),
                       jv_type_name(v), jv_type_name(other));
    *o = op == OP_LT ? c < 0 : op == OP_LTEQ ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
    return true;
}
static bool t_eq(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    return cmp_test(c, v, a, o, OP_EQ, "eq");
}
static bool t_ne(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    return cmp_test(c, v, a, o, OP_NE, "ne");
}
static bool t_lt(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    return cmp_test(c, v, a, o, OP_LT, "lt");
}
static bool t_le(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    return cmp_test(c, v, a, o, OP_LTEQ, "le");
}
static bool t_gt(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    return cmp_test(c, v, a, o, OP_GT, "gt");
}
static bool t_ge(jx_ctx *c, jv v, const jx_args *a, bool *o) {
    return cmp_test(c, v, a, o, OP_GTEQ, "ge");
}

static bool t_in(jx_ctx *ctx, jv v, const jx_args *a, bool *o) {
    if (!need_arg(ctx, a, "in")) return false;
    return jx_contains(ctx, arg0(a), v, o);
}

/* Identity: singletons and numbers by value, containers by address. */
static bool t_sameas(jx_ctx *ctx, jv v, const jx_args *a, bool *o) {
    if (!need_arg(ctx, a, "sameas")) return false;
    jv w = arg0(a);
    if (v.type != w.type)
        *o = false;
    else if (v.type == JV_STR)
        *o = v.u.s == w.u.s;
    else if (v.type >= JV_LIST)
        *o = v.u.l == w.u.l;
    else
        *o = jv_equal(v, w);
    return true;
}

static bool t_filter(jx_ctx *ctx, jv v, const jx_args *a, bool *o) {
    (void)ctx, (void)a;
    *o = v.type == JV_STR && jx_filter_known(v.u.s->data, v.u.s->len);
    return true;
}
static bool t_test(jx_ctx *ctx, jv v, const jx_args *a, bool *o) {
    (void)ctx, (void)a;
    *o = v.type == JV_STR && jx_test_known(v.u.s->data, v.u.s->len);
    return true;
}

static const test_entry tests[] = {
    {"defined", t_defined},
    {"undefined", t_undefined},
    {"none", t_none},
    {"boolean", t_boolean},
    {"true", t_true},
    {"false", t_false},
    {"integer", t_integer},
    {"float", t_float},
    {"number", t_number},
    {"string", t_string},
    {"mapping", t_mapping},
    {"sequence", t_sequence},
    {"iterable", t_iterable},
    {"callable", t_callable},
    {"escaped", t_escaped},
    {"lower", t_lower},
    {"upper", t_upper},
    {"odd", t_odd},
    {"even", t_even},
    {"divisibleby", t_divisibleby},
    {"eq", t_eq},
    {"equalto", t_eq},
    {"==", t_eq},
    {"ne", t_ne},
    {"!=", t_ne},
    {"lt", t_lt},
    {"lessthan", t_lt},
    {"<", t_lt},
    {"le", t_le},
    {"<=", t_le},
    {"gt", t_gt},
    {"greaterthan", t_gt},
    {">", t_gt},
    {"ge", t_ge},
    {">=", t_ge},
    {"in", t_in},
    {"sameas", t_sameas},
    {"filter", t_filter},
    {"test", t_test},
};

static const test_entry *find_test(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (strlen(tests[i].name) == len && !memcmp(tests[i].name, name, len)) return &tests[i];
    return NULL;
}

bool jx_test_known(const char *name, size_t len) {
    return find_test(name, len) != NULL;
}

bool jx_apply_test(jx_ctx *ctx, jv name, jv input, const jx_args *args, bool *out) {
    const test_entry *t = find_test(name.u.s->data, name.u.s->len);
    if (!t) return jx_fail(ctx, "no test named '%s'", name.u.s->data);
    return t->fn(ctx, input, args, out);
}
