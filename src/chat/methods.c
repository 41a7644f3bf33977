/* Methods of Python's str, dict and list, and loop.cycle, as bound callables: templates
 * write `content.strip()`, `message.get('x')`, `tools.items()`. jinja2's
 * ImmutableSandboxedEnvironment refuses list.append and friends; we accept the usual
 * mutators anyway (other engines do), since they cannot hurt anything outside the render. */
#include <stdio.h>
#include <string.h>

#include "chat/builtins.h"
#include "chat/interp.h"
#include "chat/limits.h"
#include "chat/print.h"
#include "chat/strops.h"
#include "chat/text.h"

typedef bool (*method_fn)(jx_ctx *ctx, jv self, const jx_args *args, jv *out);

typedef struct method {
    const char *name;
    method_fn fn;
} method;

#define BIND(fname, ...)                                                                           \
    static const char *const names_[] = {__VA_ARGS__};                                             \
    jv a[sizeof names_ / sizeof names_[0]];                                                        \
    if (!jx_bind(ctx, fname, args, 0, names_, sizeof names_ / sizeof names_[0], a)) return false

static bool want_str(jx_ctx *ctx, jv v, const char *what) {
    if (v.type == JV_STR) return true;
    return jx_fail(ctx, "%s must be str, not %s", what, jv_type_name(v));
}

static bool opt_int(jx_ctx *ctx, jv v, int64_t dflt, int64_t *out) {
    *out = dflt;
    if (v.type == JV_UNDEF || v.type == JV_NONE)
        *out = dflt;
    else if (v.type == JV_INT)
        *out = v.u.i;
    else if (v.type == JV_BOOL)
        *out = v.u.b;
    else
        return jx_fail(ctx, "'%s' object cannot be interpreted as an integer", jv_type_name(v));
    return true;
}

static bool no_args(jx_ctx *ctx, const char *name, const jx_args *args) {
    if (args->npos || args->nkw) return jx_fail(ctx, "%s() takes no arguments", name);
    return true;
}

/* ------------------------------------------------------------------ str */

static bool strip_common(jx_ctx *ctx, jv self, const jx_args *args, jv *out, strip_side side) {
    BIND("strip", "chars");
    if (a[0].type != JV_UNDEF && a[0].type != JV_NONE && !want_str(ctx, a[0], "strip arg"))
        return false;
    *out = jx_str_strip(self, a[0], side);
    return true;
}
static bool m_strip(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return strip_common(c, s, a, o, STRIP_BOTH);
}
static bool m_lstrip(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return strip_common(c, s, a, o, STRIP_LEFT);
}
static bool m_rstrip(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return strip_common(c, s, a, o, STRIP_RIGHT);
}

static bool case_common(jx_ctx *ctx, jv self, const jx_args *args, jv *out, case_mode mode) {
    if (!no_args(ctx, "str method", args)) return false;
    *out = jx_str_case(self, mode);
    return true;
}
static bool m_upper(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return case_common(c, s, a, o, CASE_UPPER);
}
static bool m_lower(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return case_common(c, s, a, o, CASE_LOWER);
}
static bool m_title(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return case_common(c, s, a, o, CASE_TITLE);
}
static bool m_capitalize(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return case_common(c, s, a, o, CASE_CAPITALIZE);
}
static bool m_swapcase(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return case_common(c, s, a, o, CASE_SWAP);
}

static bool split_common(jx_ctx *ctx, jv self, const jx_args *args, jv *out, bool right) {
    BIND("split", "sep", "maxsplit");
    int64_t maxsplit;
    if (!opt_int(ctx, a[1], -1, &maxsplit)) return false;
    if (a[0].type == JV_STR && a[0].u.s->len == 0) return jx_fail(ctx, "empty separator");
    if (a[0].type != JV_STR && a[0].type != JV_NONE && a[0].type != JV_UNDEF)
        return want_str(ctx, a[0], "separator");
    *out = jx_str_split(self, a[0], maxsplit, right);
    return true;
}
static bool m_split(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return split_common(c, s, a, o, false);
}
static bool m_rsplit(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return split_common(c, s, a, o, true);
}

static bool m_splitlines(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("splitlines", "keepends");
    *out = jx_str_splitlines(self, jv_truthy(a[0]));
    return true;
}

static bool affix_common(jx_ctx *ctx, jv self, const jx_args *args, jv *out, bool end) {
    BIND(end ? "endswith" : "startswith", "prefix", "start", "end");
    jv p = a[0];
    bool tuple_ok = p.type == JV_LIST && p.u.l->tuple;
    if (p.type != JV_STR && !tuple_ok)
        return jx_fail(ctx, "%s first arg must be str or a tuple of str, not %s",
                       end ? "endswith" : "startswith", jv_type_name(p));
    jv s = self;
    bool sliced = a[1].type != JV_UNDEF || a[2].type != JV_UNDEF;
    if (sliced) {
        int64_t n = (int64_t)jx_str_cplen(self), from, to;
        if (!opt_int(ctx, a[1], 0, &from) || !opt_int(ctx, a[2], n, &to)) return false;
        if (from < 0) from = from + n < 0 ? 0 : from + n;
        if (to < 0) to = to + n < 0 ? 0 : to + n;
        if (from > n) from = n;
        if (to > n) to = n;
        if (to < from) to = from;
        size_t bf = utf8_offset(self.u.s->data, self.u.s->len, (size_t)from),
               bt = utf8_offset(self.u.s->data, self.u.s->len, (size_t)to);
        s = jv_str(self.u.s->data + bf, bt - bf);
    }
    *out = jv_bool(jx_str_startswith(s, p, end));
    if (sliced) jv_release(s);
    return true;
}
static bool m_startswith(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return affix_common(c, s, a, o, false);
}
static bool m_endswith(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return affix_common(c, s, a, o, true);
}

static bool m_replace(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("replace", "old", "new", "count");
    int64_t count;
    if (!want_str(ctx, a[0], "replace() argument 1") ||
        !want_str(ctx, a[1], "replace() argument 2") || !opt_int(ctx, a[2], -1, &count))
        return false;
    jv rep = jv_is_markup(self) ? jx_html_escape(a[1]) : jv_retain(a[1]);
    jv old = jv_is_markup(self) ? jx_html_escape(a[0]) : jv_retain(a[0]);
    *out = jx_str_replace(self, old, rep, count);
    jv_release(rep);
    jv_release(old);
    return true;
}

static bool find_common(jx_ctx *ctx, jv self, const jx_args *args, jv *out, bool right, bool must) {
    BIND(right ? "rfind" : "find", "sub", "start", "end");
    if (!want_str(ctx, a[0], "substring")) return false;
    int64_t r = jx_str_find(self, a[0], a[1], a[2], right);
    if (must && r < 0) return jx_fail(ctx, "substring not found");
    *out = jv_int(r);
    return true;
}
static bool m_find(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return find_common(c, s, a, o, false, false);
}
static bool m_rfind(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return find_common(c, s, a, o, true, false);
}
static bool m_index_str(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return find_common(c, s, a, o, false, true);
}
static bool m_rindex(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return find_common(c, s, a, o, true, true);
}

static bool m_count_str(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("count", "sub");
    if (!want_str(ctx, a[0], "substring")) return false;
    *out = jv_int(jx_str_count(self, a[0]));
    return true;
}

static bool m_join(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("join", "iterable");
    jv items;
    if (!jx_iterate(ctx, a[0], &items)) return false;
    jx_buf b;
    jb_init(&b, 0);
    bool ok = true;
    for (size_t i = 0; i < jv_list_len(items) && ok; i++) {
        jv it = jv_list_at(items, i);
        if (it.type != JV_STR) {
            ok = jx_fail(ctx, "sequence item %zu: expected str instance, %s found", i,
                         jv_type_name(it));
            break;
        }
        if (i) jb_put(&b, self.u.s->data, self.u.s->len);
        if (jv_is_markup(self) && !jv_is_markup(it))
            jx_html_escape_into(&b, it.u.s->data, it.u.s->len);
        else
            jb_put(&b, it.u.s->data, it.u.s->len);
    }
    jv_release(items);
    if (ok && b.overflow) ok = jx_fail(ctx, "string longer than %zu bytes", JX_MAX_STRING);
    if (!ok) {
        jb_free(&b);
        return false;
    }
    *out = jb_take_str(&b);
    out->u.s->markup = jv_is_markup(self);
    return true;
}

static bool m_format(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    return jx_str_format(ctx, self, args, out);
}

static bool pad_common(jx_ctx *ctx, jv self, const jx_args *args, jv *out, char align) {
    BIND("center", "width", "fillchar");
    int64_t width;
    if (!opt_int(ctx, a[0], 0, &width)) return false;
    const char *fill = " ";
    size_t fill_len = 1;
    if (a[1].type == JV_STR) {
        if (jx_str_cplen(a[1]) != 1)
            return jx_fail(ctx, "The fill character must be exactly one character long");
        fill = a[1].u.s->data;
        fill_len = a[1].u.s->len;
    }
    *out = jx_str_pad(self, width, fill, fill_len, align);
    return true;
}
static bool m_center(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return pad_common(c, s, a, o, '^');
}
static bool m_ljust(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return pad_common(c, s, a, o, '<');
}
static bool m_rjust(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return pad_common(c, s, a, o, '>');
}

static bool m_zfill(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("zfill", "width");
    int64_t width;
    if (!opt_int(ctx, a[0], 0, &width)) return false;
    const char *d = self.u.s->data;
    bool sign = self.u.s->len && (d[0] == '-' || d[0] == '+');
    jv rest = jv_str(d + sign, self.u.s->len - sign);
    jv padded = jx_str_pad(rest, width - sign, "0", 1, '>');
    jv_release(rest);
    *out = sign ? jv_strf("%c%s", d[0], padded.u.s->data) : jv_retain(padded);
    jv_release(padded);
    return true;
}

typedef bool (*cp_pred)(uint32_t);
static bool is_space_cp(uint32_t c) {
    return uni_isspace(c);
}
static bool is_alnum_cp(uint32_t c) {
    return uni_isalpha(c) || uni_isdigit(c);
}

static bool all_cps(jv s, cp_pred pred) {
    const char *d = s.u.s->data;
    size_t n = s.u.s->len;
    if (!n) return false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += utf8_next(d, n, i, &cp);
        if (!pred(cp)) return false;
    }
    return true;
}

/* isupper/islower: at least one cased character, and none of the other case. */
static bool case_check(jv s, bool upper) {
    const char *d = s.u.s->data;
    size_t n = s.u.s->len;
    bool any = false;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += utf8_next(d, n, i, &cp);
        if (upper ? uni_islower(cp) : uni_isupper(cp)) return false;
        if (upper ? uni_isupper(cp) : uni_islower(cp)) any = true;
    }
    return any;
}

static bool m_isdigit(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    *o = jv_bool(all_cps(s, uni_isdigit));
    return no_args(c, "isdigit", a);
}
static bool m_isalpha(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    *o = jv_bool(all_cps(s, uni_isalpha));
    return no_args(c, "isalpha", a);
}
static bool m_isalnum(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    *o = jv_bool(all_cps(s, is_alnum_cp));
    return no_args(c, "isalnum", a);
}
static bool m_isspace(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    *o = jv_bool(all_cps(s, is_space_cp));
    return no_args(c, "isspace", a);
}
static bool m_isupper(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    *o = jv_bool(case_check(s, true));
    return no_args(c, "isupper", a);
}
static bool m_islower(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    *o = jv_bool(case_check(s, false));
    return no_args(c, "islower", a);
}

static bool partition_common(jx_ctx *ctx, jv self, const jx_args *args, jv *out, bool right) {
    BIND("partition", "sep");
    if (!want_str(ctx, a[0], "separator")) return false;
    if (!a[0].u.s->len) return jx_fail(ctx, "empty separator");
    jv parts = jx_str_split(self, a[0], 1, right);
    jv t = jv_tuple(3);
    if (jv_list_len(parts) == 2) {
        jv_list_set_take(t, 0, jv_retain(jv_list_at(parts, 0)));
        jv_list_set_take(t, 1, jv_retain(a[0]));
        jv_list_set_take(t, 2, jv_retain(jv_list_at(parts, 1)));
    } else {
        jv empty = jv_str("", 0);
        jv_list_set_take(t, right ? 2 : 0, jv_retain(self));
        jv_list_set_take(t, 1, jv_retain(empty));
        jv_list_set_take(t, right ? 0 : 2, empty);
    }
    jv_release(parts);
    *out = t;
    return true;
}
static bool m_partition(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return partition_common(c, s, a, o, false);
}
static bool m_rpartition(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return partition_common(c, s, a, o, true);
}

static bool affix_remove(jx_ctx *ctx, jv self, const jx_args *args, jv *out, bool suffix) {
    BIND(suffix ? "removesuffix" : "removeprefix", "affix");
    if (!want_str(ctx, a[0], "argument")) return false;
    size_t n = a[0].u.s->len;
    if (!jx_str_startswith(self, a[0], suffix)) n = 0;
    *out = jv_str(self.u.s->data + (suffix ? 0 : n), self.u.s->len - n);
    return true;
}
static bool m_removeprefix(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return affix_remove(c, s, a, o, false);
}
static bool m_removesuffix(jx_ctx *c, jv s, const jx_args *a, jv *o) {
    return affix_remove(c, s, a, o, true);
}

static const method str_methods[] = {
    {"strip", m_strip},
    {"lstrip", m_lstrip},
    {"rstrip", m_rstrip},
    {"upper", m_upper},
    {"lower", m_lower},
    {"title", m_title},
    {"capitalize", m_capitalize},
    {"swapcase", m_swapcase},
    {"split", m_split},
    {"rsplit", m_rsplit},
    {"splitlines", m_splitlines},
    {"startswith", m_startswith},
    {"endswith", m_endswith},
    {"replace", m_replace},
    {"find", m_find},
    {"rfind", m_rfind},
    {"index", m_index_str},
    {"rindex", m_rindex},
    {"count", m_count_str},
    {"join", m_join},
    {"format", m_format},
    {"center", m_center},
    {"ljust", m_ljust},
    {"rjust", m_rjust},
    {"zfill", m_zfill},
    {"isdigit", m_isdigit},
    {"isnumeric", m_isdigit},
    {"isdecimal", m_isdigit},
    {"isalpha", m_isalpha},
    {"isalnum", m_isalnum},
    {"isspace", m_isspace},
    {"isupper", m_isupper},
    {"islower", m_islower},
    {"partition", m_partition},
    {"rpartition", m_rpartition},
    {"removeprefix", m_removeprefix},
    {"removesuffix", m_removesuffix},
};

/* ------------------------------------------------------------------ dict */

static jv pair(jv a, jv b) {
    jv t = jv_tuple(2);
    jv_list_set_take(t, 0, jv_retain(a));
    jv_list_set_take(t, 1, jv_retain(b));
    return t;
}

static bool m_items(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    if (!no_args(ctx, "items", args)) return false;
    jv r = jv_list(self.u.d->n);
    for (size_t i = 0; i < self.u.d->n; i++)
        jv_list_push_take(r, pair(self.u.d->keys[i], self.u.d->vals[i]));
    *out = r;
    return true;
}

static bool m_keys(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    if (!no_args(ctx, "keys", args)) return false;
    jv r = jv_list(self.u.d->n);
    for (size_t i = 0; i < self.u.d->n; i++)
        jv_list_push_take(r, jv_retain(self.u.d->keys[i]));
    *out = r;
    return true;
}

static bool m_values(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    if (!no_args(ctx, "values", args)) return false;
    jv r = jv_list(self.u.d->n);
    for (size_t i = 0; i < self.u.d->n; i++)
        jv_list_push_take(r, jv_retain(self.u.d->vals[i]));
    *out = r;
    return true;
}

static bool m_get(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("get", "key", "default");
    const jv *v = jv_hashable(a[0]) ? jv_dict_get(self, a[0]) : NULL;
    *out = v ? jv_retain(*v) : a[1].type == JV_UNDEF ? jv_none() : jv_retain(a[1]);
    return true;
}

static bool m_copy_dict(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    if (!no_args(ctx, "copy", args)) return false;
    jv r = jv_dict();
    for (size_t i = 0; i < self.u.d->n; i++)
        jv_dict_set_take(r, jv_retain(self.u.d->keys[i]), jv_retain(self.u.d->vals[i]));
    *out = r;
    return true;
}

static bool m_pop_dict(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("pop", "key", "default");
    if (jv_hashable(a[0]) && jv_dict_del(self, a[0], out)) return true;
    if (a[1].type != JV_UNDEF) {
        *out = jv_retain(a[1]);
        return true;
    }
    jx_buf b;
    jb_init(&b, 256);
    jx_write_repr(&b, a[0]);
    jx_fail(ctx, "KeyError: %s", b.data ? b.data : "");
    jb_free(&b);
    return false;
}

static bool m_update(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    if (args->npos > 1) return jx_fail(ctx, "update expected at most 1 argument");
    if (args->npos) {
        jv other = args->pos[0];
        if (other.type != JV_DICT || other.u.d->ns)
            return jx_fail(ctx, "'%s' object is not a mapping", jv_type_name(other));
        for (size_t i = 0; i < other.u.d->n; i++)
            jv_dict_set_take(self, jv_retain(other.u.d->keys[i]), jv_retain(other.u.d->vals[i]));
    }
    for (size_t i = 0; i < args->nkw; i++)
        jv_dict_set_take(self, jv_retain(args->kw_names[i]), jv_retain(args->kw_vals[i]));
    *out = jv_none();
    return true;
}

static bool m_setdefault(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("setdefault", "key", "default");
    if (!jv_hashable(a[0])) return jx_fail(ctx, "unhashable type: '%s'", jv_type_name(a[0]));
    const jv *v = jv_dict_get(self, a[0]);
    if (!v) {
        jv d = a[1].type == JV_UNDEF ? jv_none() : jv_retain(a[1]);
        jv_dict_set_take(self, jv_retain(a[0]), d);
        v = jv_dict_get(self, a[0]);
    }
    *out = jv_retain(*v);
    return true;
}

static const method dict_methods[] = {
    {"items", m_items},    {"keys", m_keys},    {"values", m_values}, {"get", m_get},
    {"copy", m_copy_dict}, {"pop", m_pop_dict}, {"update", m_update}, {"setdefault", m_setdefault},
};

/* ------------------------------------------------------------------ list */

static bool check_list_room(jx_ctx *ctx, jv self, size_t extra) {
    if (jv_list_len(self) + extra > JX_MAX_LIST)
        return jx_fail(ctx, "list longer than %zu items", JX_MAX_LIST);
    return true;
}

static bool m_append(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("append", "object");
    if (!check_list_room(ctx, self, 1)) return false;
    jv_list_push_take(self, jv_retain(a[0]));
    *out = jv_none();
    return true;
}

static bool m_extend(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("extend", "iterable");
    jv items;
    if (!jx_iterate(ctx, a[0], &items)) return false;
    bool ok = check_list_room(ctx, self, jv_list_len(items));
    for (size_t i = 0; ok && i < jv_list_len(items); i++)
        jv_list_push_take(self, jv_retain(jv_list_at(items, i)));
    jv_release(items);
    *out = jv_none();
    return ok;
}

static bool list_index(jx_ctx *ctx, jv self, jv at, int64_t dflt, bool insert, size_t *out) {
    int64_t n = (int64_t)jv_list_len(self), i;
    if (!opt_int(ctx, at, dflt, &i)) return false;
    if (i < 0) i += n;
    if (insert) {
        *out = (size_t)(i < 0 ? 0 : i > n ? n : i);
        return true;
    }
    if (i < 0 || i >= n) return jx_fail(ctx, n ? "pop index out of range" : "pop from empty list");
    *out = (size_t)i;
    return true;
}

static bool m_pop_list(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("pop", "index");
    size_t i;
    if (!list_index(ctx, self, a[0], -1, false, &i)) return false;
    jlist *l = self.u.l;
    *out = l->items[i];
    memmove(l->items + i, l->items + i + 1, (l->n - i - 1) * sizeof(jv));
    l->n--;
    return true;
}

static bool m_insert(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("insert", "index", "object");
    size_t i;
    if (!list_index(ctx, self, a[0], 0, true, &i) || !check_list_room(ctx, self, 1)) return false;
    jv_list_push_take(self, jv_none());
    jlist *l = self.u.l;
    memmove(l->items + i + 1, l->items + i, (l->n - i - 1) * sizeof(jv));
    l->items[i] = jv_retain(a[1]);
    *out = jv_none();
    return true;
}

static bool m_index_list(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("index", "value");
    for (size_t i = 0; i < jv_list_len(self); i++)
        if (jv_equal(jv_list_at(self, i), a[0])) {
            *out = jv_int((int64_t)i);
            return true;
        }
    return jx_fail(ctx, "value is not in list");
}

static bool m_count_list(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    BIND("count", "value");
    int64_t n = 0;
    for (size_t i = 0; i < jv_list_len(self); i++)
        n += jv_equal(jv_list_at(self, i), a[0]);
    *out = jv_int(n);
    return true;
}

static bool m_copy_list(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    if (!no_args(ctx, "copy", args)) return false;
    return jx_iterate(ctx, self, out);
}

static const method list_methods[] = {
    {"append", m_append},    {"extend", m_extend},    {"pop", m_pop_list},   {"insert", m_insert},
    {"index", m_index_list}, {"count", m_count_list}, {"copy", m_copy_list},
};
static const method tuple_methods[] = {{"index", m_index_list}, {"count", m_count_list}};

/* ------------------------------------------------------------------ loop */

static bool m_cycle(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    if (!args->npos) return jx_fail(ctx, "no items for cycling given");
    *out = jv_retain(args->pos[self.u.loop->index0 % args->npos]);
    return true;
}

/* loop.changed(*values): true the first time and whenever the values differ from the
 * previous call's. */
static bool m_changed(jx_ctx *ctx, jv self, const jx_args *args, jv *out) {
    (void)ctx;
    jv now = jv_tuple(args->npos);
    for (size_t i = 0; i < args->npos; i++)
        jv_list_set_take(now, i, jv_retain(args->pos[i]));
    jloop *l = self.u.loop;
    bool changed = l->last_changed.type == JV_UNDEF || !jv_equal(l->last_changed, now);
    if (changed) {
        jv old = l->last_changed;
        l->last_changed = now;
        jv_release(old);
    } else {
        jv_release(now);
    }
    *out = jv_bool(changed);
    return true;
}

static const method loop_methods[] = {{"cycle", m_cycle}, {"changed", m_changed}};

/* ------------------------------------------------------------------ dispatch */

static bool call_method(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out) {
    const method *m = fn->data;
    return m->fn(ctx, fn->self, args, out);
}

static const method *find_in(const method *table, size_t n, jv name) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(table[i].name, name.u.s->data)) return &table[i];
    return NULL;
}

#define FIND(table) find_in(table, sizeof table / sizeof table[0], name)

bool jx_find_method(jv obj, jv name, jv *out) {
    const method *m = NULL;
    switch (obj.type) {
    case JV_STR:
        m = FIND(str_methods);
        break;
    case JV_DICT:
        m = obj.u.d->ns ? NULL : FIND(dict_methods);
        break;
    case JV_LIST:
        m = obj.u.l->tuple ? FIND(tuple_methods) : FIND(list_methods);
        break;
    case JV_LOOP:
        m = FIND(loop_methods);
        break;
    default:
        break;
    }
    if (!m) return false;
    *out = jv_native(m->name, call_method, jv_retain(obj));
    out->u.fn->data = m;
    return true;
}
