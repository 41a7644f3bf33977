/* Jinja's builtin filters (jinja2/filters.py) with autoescape off, and Hugging Face's tojson
 * (json.dumps with ensure_ascii=False). Filters that return generators in jinja2 (map,
 * select, reject ...) return lists here, which prints differently only when a template
 * prints the generator object itself. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/builtins.h"
#include "chat/interp.h"
#include "chat/json.h"
#include "chat/limits.h"
#include "chat/print.h"
#include "chat/strops.h"
#include "chat/text.h"

typedef bool (*filter_fn)(jx_ctx *ctx, jv v, const jx_args *args, jv *out);

typedef struct filter_entry {
    const char *name;
    filter_fn fn; /* NULL: a jinja2 filter this interpreter does not provide */
} filter_entry;

#define BIND(fname, ...)                                                                           \
    static const char *const names_[] = {__VA_ARGS__};                                             \
    jv a[sizeof names_ / sizeof names_[0]];                                                        \
    if (!jx_bind(ctx, fname, args, 0, names_, sizeof names_ / sizeof names_[0], a)) return false

static const jx_args no_args = {0};

static bool is_absent(jv v) {
    return v.type == JV_UNDEF;
}

static bool opt_int(jx_ctx *ctx, jv v, int64_t dflt, int64_t *out) {
    *out = dflt;
    if (v.type == JV_UNDEF || v.type == JV_NONE)
        *out = dflt;
    else if (v.type == JV_INT)
        *out = v.u.i;
    else if (v.type == JV_BOOL)
        *out = v.u.b;
    else if (v.type == JV_FLOAT)
        *out = (int64_t)v.u.f;
    else
        return jx_fail(ctx, "'%s' object cannot be interpreted as an integer", jv_type_name(v));
    return true;
}

/* jinja2's soft_str: str() of anything, Undefined as "", Markup kept as Markup. */
static jv soft_str(jv v) {
    return jx_to_str(v);
}

/* ------------------------------------------------------------------ attribute getters */

/* jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0 (environment.getitem
 * for each part); an Undefined result is replaced by `dflt` when given. */
static bool get_attr_path(jx_ctx *ctx, jv item, jv path, jv dflt, jv *out) {
    jv cur = jv_retain(item);
    if (path.type != JV_STR) {
        jv r;
        bool ok = jx_getitem(ctx, cur, path, &r);
        jv_release(cur);
        if (!ok) return false;
        cur = r;
    } else {
        const char *p = path.u.s->data, *end = p + path.u.s->len;
        while (p <= end) {
            const char *dot = memchr(p, '.', (size_t)(end - p));
            if (!dot) dot = end;
            jv key;
            bool digits = dot > p;
            for (const char *q = p; q < dot; q++)
                digits = digits && *q >= '0' && *q <= '9';
            key = digits ? jv_int(strtoll(p, NULL, 10)) : jv_str(p, (size_t)(dot - p));
            jv r;
            bool ok = jx_getitem(ctx, cur, key, &r);
            jv_release(key);
            jv_release(cur);
            if (!ok) return false;
            cur = r;
            if (cur.type == JV_UNDEF && !is_absent(dflt) && dflt.type != JV_NONE) {
                jv_release(cur);
                cur = jv_retain(dflt);
            }
            p = dot + 1;
        }
    }
    *out = cur;
    return true;
}

/* Lower-cases strings for the case-insensitive comparisons of sort, unique, min, max. */
static jv fold_case(jv v, bool case_sensitive) {
    if (case_sensitive || v.type != JV_STR) return jv_retain(v);
    return jx_str_case(v, CASE_LOWER);
}

/* Sort keys for each item: the attribute (when given) and case folding. */
static bool sort_keys_of(jx_ctx *ctx, jv items, jv attribute, bool case_sensitive, jv *keys) {
    size_t n = jv_list_len(items);
    for (size_t i = 0; i < n; i++)
        keys[i] = jv_none();
    for (size_t i = 0; i < n; i++) {
        jv k;
        if (is_absent(attribute) || attribute.type == JV_NONE) {
            k = jv_retain(jv_list_at(items, i));
        } else if (!get_attr_path(ctx, jv_list_at(items, i), attribute, jv_undef(), &k)) {
            return false;
        }
        keys[i] = fold_case(k, case_sensitive);
        jv_release(k);
    }
    return true;
}

static void release_all(jv *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        jv_release(v[i]);
}

typedef struct sorter {
    jx_ctx *ctx;
    const jv *keys;
    bool reverse, failed;
} sorter;

static bool sort_less(sorter *s, size_t a, size_t b) {
    int c = 0;
    if (!s->failed && !jv_compare(s->keys[a], s->keys[b], &c)) {
        jx_fail(s->ctx, "'<' not supported between instances of '%s' and '%s'",
                jv_type_name(s->keys[a]), jv_type_name(s->keys[b]));
        s->failed = true;
    }
    return s->reverse ? c > 0 : c < 0;
}

/* Stable merge sort of indexes, like Python's sorted(), also with reverse=True. */
static void merge_sort(sorter *s, size_t *idx, size_t *tmp, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(s, idx, tmp, h);
    merge_sort(s, idx + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = sort_less(s, idx[j], idx[i]) ? idx[j++] : idx[i++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

static bool sorted_order(jx_ctx *ctx, const jv *keys, size_t n, bool reverse, size_t *idx) {
    size_t *tmp = jx_alloc((n ? n : 1) * sizeof *tmp);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sorter s = {.ctx = ctx, .keys = keys, .reverse = reverse};
    merge_sort(&s, idx, tmp, n);
    jx_free(tmp);
    return !s.failed;
}

/* ------------------------------------------------------------------ string filters */

static bool f_string(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)ctx, (void)args;
    *out = soft_str(v);
    return true;
}

static bool case_filter(jv v, jv *out, case_mode mode) {
    jv s = soft_str(v);
    *out = jx_str_case(s, mode);
    jv_release(s);
    return true;
}
static bool f_upper(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    (void)c, (void)a;
    return case_filter(v, o, CASE_UPPER);
}
static bool f_lower(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    (void)c, (void)a;
    return case_filter(v, o, CASE_LOWER);
}
static bool f_capitalize(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    (void)c, (void)a;
    return case_filter(v, o, CASE_CAPITALIZE);
}
static bool f_title(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    (void)c, (void)a;
    return case_filter(v, o, CASE_JINJA_TITLE);
}

static bool f_trim(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("trim", "chars");
    jv s = soft_str(v);
    *out = jx_str_strip(s, a[0].type == JV_STR ? a[0] : jv_none(), STRIP_BOTH);
    jv_release(s);
    return true;
}

static bool f_replace(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("replace", "old", "new", "count");
    int64_t count;
    if (!opt_int(ctx, a[2], -1, &count)) return false;
    jv s = soft_str(v), old = soft_str(a[0]), rep = soft_str(a[1]);
    *out = jx_str_replace(s, old, rep, count);
    out->u.s->markup = false;
    jv_release(s);
    jv_release(old);
    jv_release(rep);
    return true;
}

static bool f_center(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("center", "width");
    int64_t width;
    if (!opt_int(ctx, a[0], 80, &width)) return false;
    jv s = soft_str(v);
    *out = jx_str_pad(s, width, " ", 1, '^');
    jv_release(s);
    return true;
}

/* jinja2's do_indent: every line after the first (or all with first=True) gets the
 * indentation, blank lines only with blank=True. */
/* indent and truncate work on strings only, as in jinja2 (no str() conversion). */
static bool need_str(jx_ctx *ctx, jv v, const char *filter) {
    if (v.type == JV_STR) return true;
    if (v.type == JV_UNDEF) return jx_fail_undefined(ctx, v);
    return jx_fail(ctx, "the %s filter needs a string, not %s", filter, jv_type_name(v));
}

static bool f_indent(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("indent", "width", "first", "blank");
    if (!need_str(ctx, v, "indent")) return false;
    jv ind;
    if (a[0].type == JV_STR) {
        ind = jv_retain(a[0]);
    } else {
        int64_t w;
        if (!opt_int(ctx, a[0], 4, &w)) return false;
        if (w < 0) w = 0;
        if (w > 4096) return jx_fail(ctx, "indent width %lld is too large", (long long)w);
        jstr *spaces = jstr_new(NULL, (size_t)w);
        memset(spaces->data, ' ', (size_t)w);
        ind = (jv){.type = JV_STR, .u.s = spaces};
    }
    jv s = soft_str(v);
    jv with_nl = jv_strf("%s\n", s.u.s->data);
    jv lines = jx_str_splitlines(with_nl, false);
    jx_buf b;
    jb_init(&b, 0);
    bool blank = jv_truthy(a[2]);
    for (size_t i = 0; i < jv_list_len(lines); i++) {
        jv line = jv_list_at(lines, i);
        if (i) jb_putc(&b, '\n');
        if (i == 0 ? jv_truthy(a[1]) : blank || line.u.s->len)
            jb_put(&b, ind.u.s->data, ind.u.s->len);
        jb_put(&b, line.u.s->data, line.u.s->len);
    }
    bool markup = jv_is_markup(s);
    jv_release(lines);
    jv_release(with_nl);
    jv_release(s);
    jv_release(ind);
    if (b.overflow) {
        jb_free(&b);
        return jx_fail(ctx, "string longer than %zu bytes", JX_MAX_STRING);
    }
    *out = jb_take_str(&b);
    out->u.s->markup = markup;
    return true;
}

static bool f_escape(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)ctx, (void)args;
    *out = jx_html_escape(v);
    return true;
}

static bool f_forceescape(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)ctx, (void)args;
    jv s = soft_str(v);
    jv plain = jv_str(s.u.s->data, s.u.s->len);
    *out = jx_html_escape(plain);
    jv_release(plain);
    jv_release(s);
    return true;
}

static bool f_safe(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)ctx, (void)args;
    if (jv_is_markup(v)) {
        *out = jv_retain(v);
        return true;
    }
    jv s = jx_to_str(v);
    *out = jv_markup(s.u.s->data, s.u.s->len);
    jv_release(s);
    return true;
}

static bool f_format(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    if (args->npos && args->nkw)
        return jx_fail(ctx, "can't handle positional and keyword arguments at the same time");
    jv s = soft_str(v), fa;
    if (args->nkw) {
        fa = jv_dict();
        for (size_t i = 0; i < args->nkw; i++)
            jv_dict_set_take(fa, jv_retain(args->kw_names[i]), jv_retain(args->kw_vals[i]));
    } else {
        fa = jv_tuple(args->npos);
        for (size_t i = 0; i < args->npos; i++)
            jv_list_set_take(fa, i, jv_retain(args->pos[i]));
    }
    bool ok = jx_percent_format(ctx, s, fa, out);
    jv_release(fa);
    jv_release(s);
    return ok;
}

static bool f_truncate(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("truncate", "length", "killwords", "end", "leeway");
    int64_t length, leeway;
    if (!opt_int(ctx, a[0], 255, &length) || !opt_int(ctx, a[3], 5, &leeway)) return false;
    if (v.type != JV_STR) {
        /* jinja2 returns any short enough sized value as it is */
        int64_t n = v.type == JV_LIST && !v.u.l->gen  ? (int64_t)jv_list_len(v)
                    : v.type == JV_DICT && !v.u.d->ns ? (int64_t)jv_dict_len(v)
                                                      : -1;
        if (n < 0) return jx_fail(ctx, "object of type '%s' has no len()", jv_type_name(v));
        if (n > length + leeway) return need_str(ctx, v, "truncate");
        *out = jv_retain(v);
        return true;
    }
    jv end = a[2].type == JV_STR ? jv_retain(a[2]) : jv_str("...", 3);
    int64_t end_len = (int64_t)jx_str_cplen(end);
    if (length < end_len) {
        jv_release(end);
        return jx_fail(ctx, "expected length >= %lld, got %lld", (long long)end_len,
                       (long long)length);
    }
    jv s = soft_str(v);
    int64_t n = (int64_t)jx_str_cplen(s);
    if (n <= length + leeway) {
        *out = s;
        jv_release(end);
        return true;
    }
    size_t cut = utf8_offset(s.u.s->data, s.u.s->len, (size_t)(length - end_len));
    jv head = jv_str(s.u.s->data, cut);
    if (!jv_truthy(a[1])) {
        jv sep = jv_str(" ", 1);
        jv parts = jx_str_split(head, sep, 1, true);
        jv_release(head);
        head = jv_retain(jv_list_at(parts, 0));
        jv_release(parts);
        jv_release(sep);
    }
    *out = jv_strf("%s%s", head.u.s->data, end.u.s->data);
    jv_release(head);
    jv_release(end);
    jv_release(s);
    return true;
}

static bool is_word_char(uint32_t cp) {
    return cp == '_' || uni_isalpha(cp) || uni_isdigit(cp);
}

static bool f_wordcount(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)ctx, (void)args;
    jv s = soft_str(v);
    int64_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.u.s->len;) {
        uint32_t cp;
        i += utf8_next(s.u.s->data, s.u.s->len, i, &cp);
        bool w = is_word_char(cp);
        n += w && !in_word;
        in_word = w;
    }
    jv_release(s);
    *out = jv_int(n);
    return true;
}

/* markupsafe's striptags: drop comments and tags, then collapse white space. */
static bool f_striptags(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)ctx, (void)args;
    jv s = soft_str(v);
    const char *d = s.u.s->data;
    size_t n = s.u.s->len;
    jx_buf b;
    jb_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '<' && i + 3 < n && !memcmp(d + i, "<!--", 4)) {
            const char *e = memmem(d + i, n - i, "-->", 3);
            if (e) {
                i = (size_t)(e - d) + 2;
                continue;
            }
        }
        if (d[i] == '<') {
            const char *e = memchr(d + i, '>', n - i);
            if (e) {
                i = (size_t)(e - d);
                continue;
            }
        }
        jb_putc(&b, d[i]);
    }
    jv raw = jb_take_str(&b);
    jv words = jx_str_split(raw, jv_none(), -1, false);
    jx_buf j;
    jb_init(&j, 0);
    for (size_t i = 0; i < jv_list_len(words); i++) {
        if (i) jb_putc(&j, ' ');
        jb_put(&j, jv_list_at(words, i).u.s->data, jv_list_at(words, i).u.s->len);
    }
    *out = jb_take_str(&j);
    jv_release(words);
    jv_release(raw);
    jv_release(s);
    return true;
}

static bool f_pprint(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)ctx, (void)args;
    jx_buf b;
    jb_init(&b, 0);
    jx_write_repr(&b, v);
    *out = jb_take_str(&b);
    return true;
}

/* Hugging Face's tojson(x, ensure_ascii=False, indent=None, separators=None,
 * sort_keys=False) = json.dumps with those arguments. */
static bool f_tojson(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("tojson", "ensure_ascii", "indent", "separators", "sort_keys");
    char indent_buf[64];
    const char *indent = NULL;
    if (a[1].type == JV_STR) {
        indent = a[1].u.s->data;
    } else if (a[1].type == JV_INT || a[1].type == JV_BOOL) {
        int64_t w = a[1].type == JV_BOOL ? a[1].u.b : a[1].u.i;
        if (w > 32) return jx_fail(ctx, "tojson indent %lld is too large", (long long)w);
        if (w < 0) w = 0;
        memset(indent_buf, ' ', (size_t)w);
        indent_buf[w] = '\0';
        indent = indent_buf;
    } else if (a[1].type != JV_UNDEF && a[1].type != JV_NONE) {
        return jx_fail(ctx, "tojson indent must be an int or a str, not %s", jv_type_name(a[1]));
    }
    jx_json_opts o = jx_json_default_opts(indent);
    if (a[2].type == JV_LIST && jv_list_len(a[2]) == 2 && jv_list_at(a[2], 0).type == JV_STR &&
        jv_list_at(a[2], 1).type == JV_STR) {
        o.item_sep = jv_list_at(a[2], 0).u.s->data;
        o.key_sep = jv_list_at(a[2], 1).u.s->data;
    } else if (a[2].type != JV_UNDEF && a[2].type != JV_NONE) {
        return jx_fail(ctx, "tojson separators must be a pair of strings");
    }
    o.ensure_ascii = jv_truthy(a[0]);
    o.sort_keys = jv_truthy(a[3]);
    jx_buf b;
    jb_init(&b, 0);
    char err[256];
    if (!jx_json_dump(&b, v, &o, err, sizeof err)) {
        jb_free(&b);
        return jx_fail(ctx, "%s", err);
    }
    *out = jb_take_str(&b);
    return true;
}

/* ------------------------------------------------------------------ numbers */

static bool f_abs(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)args;
    if (v.type == JV_FLOAT)
        *out = jv_float(fabs(v.u.f));
    else if (v.type == JV_INT && v.u.i != INT64_MIN)
        *out = jv_int(v.u.i < 0 ? -v.u.i : v.u.i);
    else if (v.type == JV_BOOL)
        *out = jv_int(v.u.b);
    else if (v.type == JV_UNDEF)
        return jx_fail_undefined(ctx, v);
    else
        return jx_fail(ctx, "bad operand type for abs(): '%s'", jv_type_name(v));
    return true;
}

/* Python's int(str, base): optional sign and white space, underscores between digits. */
static bool parse_int_str(jv s, int64_t base, int64_t *out) {
    jv t = jx_str_strip(s, jv_none(), STRIP_BOTH);
    const char *p = t.u.s->data;
    bool neg = false, ok = false;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    if (base == 0 || base == 16 || base == 8 || base == 2) {
        if (p[0] == '0' && (p[1] | 32) == 'x' && (base == 0 || base == 16))
            p += 2, base = 16;
        else if (p[0] == '0' && (p[1] | 32) == 'o' && (base == 0 || base == 8))
            p += 2, base = 8;
        else if (p[0] == '0' && (p[1] | 32) == 'b' && (base == 0 || base == 2))
            p += 2, base = 2;
        else if (base == 0)
            base = 10;
    }
    uint64_t v = 0;
    if (base >= 2 && base <= 36 && *p) {
        ok = true;
        for (; *p && ok; p++) {
            if (*p == '_' && p[1] && p[1] != '_') continue;
            int d = *p >= '0' && *p <= '9'                 ? *p - '0'
                    : (*p | 32) >= 'a' && (*p | 32) <= 'z' ? (*p | 32) - 'a' + 10
                                                           : 99;
            ok = d < base && v <= (UINT64_MAX - (uint64_t)d) / (uint64_t)base;
            v = v * (uint64_t)base + (uint64_t)d;
        }
        ok = ok && v <= (uint64_t)INT64_MAX;
    }
    jv_release(t);
    *out = neg ? -(int64_t)v : (int64_t)v;
    return ok;
}

static bool parse_float_str(jv s, double *out) {
    jv t = jx_str_strip(s, jv_none(), STRIP_BOTH);
    char *end;
    *out = strtod(t.u.s->data, &end);
    bool ok = t.u.s->len > 0 && *end == '\0';
    jv_release(t);
    return ok;
}

static bool f_int(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("int", "default", "base");
    int64_t base, r;
    if (!opt_int(ctx, a[1], 10, &base)) return false;
    jv dflt = is_absent(a[0]) ? jv_int(0) : a[0];
    double f;
    if (v.type == JV_INT)
        *out = v;
    else if (v.type == JV_BOOL)
        *out = jv_int(v.u.b);
    else if (v.type == JV_FLOAT && isfinite(v.u.f) && fabs(v.u.f) < 9.2e18)
        *out = jv_int((int64_t)v.u.f);
    else if (v.type == JV_STR && parse_int_str(v, base, &r))
        *out = jv_int(r);
    else if (v.type == JV_STR && parse_float_str(v, &f) && isfinite(f) && fabs(f) < 9.2e18)
        *out = jv_int((int64_t)f);
    else
        *out = jv_retain(dflt);
    return true;
}

static bool f_float(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("float", "default");
    double f;
    if (v.type == JV_FLOAT)
        *out = v;
    else if (v.type == JV_INT || v.type == JV_BOOL)
        *out = jv_float(jv_num(v));
    else if (v.type == JV_STR && parse_float_str(v, &f))
        *out = jv_float(f);
    else
        *out = is_absent(a[0]) ? jv_float(0.0) : jv_retain(a[0]);
    return true;
}

static bool f_round(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("round", "precision", "method");
    int64_t prec;
    if (!opt_int(ctx, a[0], 0, &prec)) return false;
    const char *method = a[1].type == JV_STR ? a[1].u.s->data : "common";
    if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
        return jx_fail(ctx, "method must be common, ceil or floor");
    if (!jv_is_number(v)) {
        if (v.type == JV_UNDEF) return jx_fail_undefined(ctx, v);
        return jx_fail(ctx, "type %s doesn't define __round__ method", jv_type_name(v));
    }
    if (v.type != JV_FLOAT && !strcmp(method, "common") && prec >= 0) {
        *out = jv_int(v.type == JV_BOOL ? v.u.b : v.u.i);
        return true;
    }
    if (prec > 300) prec = 300;
    if (prec < -300) prec = -300;
    double x = jv_num(v), scale = pow(10.0, (double)prec), r;
    if (!strcmp(method, "ceil"))
        r = ceil(x * scale) / scale;
    else if (!strcmp(method, "floor"))
        r = floor(x * scale) / scale;
    else {
        /* Python rounds the exact binary value half-to-even; printing with %.*f does the same */
        char buf[400];
        if (prec >= 0) {
            snprintf(buf, sizeof buf, "%.*f", (int)prec, x);
            r = strtod(buf, NULL);
        } else {
            double y = x * scale;
            r = nearbyint(y) / scale;
        }
    }
    *out = jv_float(r);
    return true;
}

/* ------------------------------------------------------------------ sequences */

static bool f_length(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)args;
    if (jv_is_gen(v)) return jx_fail(ctx, "object of type 'generator' has no len()");
    switch (v.type) {
    case JV_UNDEF:
        *out = jv_int(0);
        return true;
    case JV_STR:
        *out = jv_int((int64_t)jx_str_cplen(v));
        return true;
    case JV_LIST:
        *out = jv_int((int64_t)jv_list_len(v));
        return true;
    case JV_DICT:
        if (v.u.d->ns) break;
        *out = jv_int((int64_t)jv_dict_len(v));
        return true;
    case JV_LOOP:
        *out = jv_int((int64_t)jv_list_len(v.u.loop->items));
        return true;
    default:
        break;
    }
    return jx_fail(ctx, "object of type '%s' has no len()", jv_type_name(v));
}

static bool f_list(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)args;
    if (!jx_iterate(ctx, v, out)) return false;
    out->u.l->tuple = false;
    return true;
}

static bool f_first(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)args;
    if (jv_is_gen(v)) { /* next(iter(generator)) takes one item */
        *out = jv_list_len(v) ? jv_retain(jv_list_at(v, 0))
                              : jv_undef_hint("No first item, sequence was empty.");
        jv_list_drop_front(v, 1);
        return true;
    }
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    *out = jv_list_len(items) ? jv_retain(jv_list_at(items, 0))
                              : jv_undef_hint("No first item, sequence was empty.");
    jv_release(items);
    return true;
}

static bool f_last(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)args;
    if (jv_is_gen(v)) return jx_fail(ctx, "'generator' object is not reversible");
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    size_t n = jv_list_len(items);
    *out = n ? jv_retain(jv_list_at(items, n - 1))
             : jv_undef_hint("No last item, sequence was empty.");
    jv_release(items);
    return true;
}

static bool f_reverse(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    (void)args;
    if (v.type == JV_STR) {
        jx_buf b;
        jb_init(&b, 0);
        const char *d = v.u.s->data;
        for (size_t end = v.u.s->len; end > 0;) {
            size_t start = utf8_prev(d, end);
            jb_put(&b, d + start, end - start);
            end = start;
        }
        *out = jb_take_str(&b);
        return true;
    }
    /* reversed() gives an iterator over sequences and dicts; a generator is listed first */
    bool reversible = !jv_is_gen(v);
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    jv r = jv_list(jv_list_len(items));
    for (size_t i = jv_list_len(items); i-- > 0;)
        jv_list_push_take(r, jv_retain(jv_list_at(items, i)));
    jv_release(items);
    r.u.l->gen = reversible;
    *out = r;
    return true;
}

static bool f_join(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("join", "d", "attribute");
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    jv sep = is_absent(a[0]) ? jv_str("", 0) : jx_to_str(a[0]);
    jx_buf b;
    jb_init(&b, 0);
    bool ok = true;
    for (size_t i = 0; i < jv_list_len(items) && ok; i++) {
        jv it = jv_retain(jv_list_at(items, i));
        if (!is_absent(a[1]) && a[1].type != JV_NONE) {
            jv r;
            ok = get_attr_path(ctx, it, a[1], jv_undef(), &r);
            jv_release(it);
            if (!ok) break;
            it = r;
        }
        if (i) jb_put(&b, sep.u.s->data, sep.u.s->len);
        jx_write_str(&b, it);
        jv_release(it);
    }
    jv_release(sep);
    jv_release(items);
    if (ok && b.overflow) ok = jx_fail(ctx, "string longer than %zu bytes", JX_MAX_STRING);
    if (!ok) {
        jb_free(&b);
        return false;
    }
    *out = jb_take_str(&b);
    return true;
}

static bool f_default(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("default", "default_value", "boolean");
    bool use_default = v.type == JV_UNDEF || (jv_truthy(a[1]) && !jv_truthy(v));
    if (!use_default)
        *out = jv_retain(v);
    else
        *out = is_absent(a[0]) ? jv_str("", 0) : jv_retain(a[0]);
    return true;
}

static bool f_items(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    if (v.type == JV_UNDEF) {
        *out = jv_list(0);
        return true;
    }
    if (v.type != JV_DICT || v.u.d->ns)
        return jx_fail(ctx, "Can only get item pairs from a mapping.");
    jv fn;
    jv items_name = jv_str("items", 5);
    bool found = jx_find_method(v, items_name, &fn);
    jv_release(items_name);
    if (!found) return jx_fail(ctx, "Can only get item pairs from a mapping.");
    bool ok = jx_call(ctx, fn, args, out);
    jv_release(fn);
    return ok;
}

static bool f_dictsort(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("dictsort", "case_sensitive", "by", "reverse");
    if (v.type != JV_DICT || v.u.d->ns)
        return jx_fail(ctx, "dictsort requires a mapping, not %s", jv_type_name(v));
    bool by_value = a[1].type == JV_STR && !strcmp(a[1].u.s->data, "value");
    if (a[1].type == JV_STR && !by_value && strcmp(a[1].u.s->data, "key"))
        return jx_fail(ctx, "You can only sort by either \"key\" or \"value\"");
    size_t n = v.u.d->n;
    jv *keys = jx_alloc((n ? n : 1) * sizeof *keys);
    size_t *idx = jx_alloc((n ? n : 1) * sizeof *idx);
    for (size_t i = 0; i < n; i++)
        keys[i] = fold_case(by_value ? v.u.d->vals[i] : v.u.d->keys[i], jv_truthy(a[0]));
    bool ok = sorted_order(ctx, keys, n, jv_truthy(a[2]), idx);
    if (ok) {
        jv r = jv_list(n);
        for (size_t i = 0; i < n; i++) {
            jv t = jv_tuple(2);
            jv_list_set_take(t, 0, jv_retain(v.u.d->keys[idx[i]]));
            jv_list_set_take(t, 1, jv_retain(v.u.d->vals[idx[i]]));
            jv_list_push_take(r, t);
        }
        *out = r;
    }
    release_all(keys, n);
    jx_free(keys);
    jx_free(idx);
    return ok;
}

static bool f_sort(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("sort", "reverse", "case_sensitive", "attribute");
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    size_t n = jv_list_len(items);
    jv *keys = jx_alloc((n ? n : 1) * sizeof *keys);
    size_t *idx = jx_alloc((n ? n : 1) * sizeof *idx);
    bool ok = sort_keys_of(ctx, items, a[2], jv_truthy(a[1]), keys) &&
              sorted_order(ctx, keys, n, jv_truthy(a[0]), idx);
    if (ok) {
        jv r = jv_list(n);
        for (size_t i = 0; i < n; i++)
            jv_list_push_take(r, jv_retain(jv_list_at(items, idx[i])));
        *out = r;
    }
    release_all(keys, n);
    jx_free(keys);
    jx_free(idx);
    jv_release(items);
    return ok;
}

static bool f_unique(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("unique", "case_sensitive", "attribute");
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    size_t n = jv_list_len(items);
    jv *keys = jx_alloc((n ? n : 1) * sizeof *keys);
    bool ok = sort_keys_of(ctx, items, a[1], jv_truthy(a[0]), keys);
    if (ok) {
        jv seen = jv_dict(), r = jv_list(0);
        for (size_t i = 0; i < n && ok; i++) {
            if (!jv_hashable(keys[i])) {
                ok = jx_fail(ctx, "unhashable type: '%s'", jv_type_name(keys[i]));
                break;
            }
            if (jv_dict_get(seen, keys[i])) continue;
            jv_dict_set_take(seen, jv_retain(keys[i]), jv_none());
            jv_list_push_take(r, jv_retain(jv_list_at(items, i)));
        }
        jv_release(seen);
        if (ok)
            *out = r;
        else
            jv_release(r);
    }
    release_all(keys, n);
    jx_free(keys);
    jv_release(items);
    return ok;
}

static bool min_max(jx_ctx *ctx, jv v, const jx_args *args, jv *out, bool want_max) {
    BIND(want_max ? "max" : "min", "case_sensitive", "attribute");
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    size_t n = jv_list_len(items);
    jv *keys = jx_alloc((n ? n : 1) * sizeof *keys);
    bool ok = sort_keys_of(ctx, items, a[1], jv_truthy(a[0]), keys);
    size_t best = 0;
    for (size_t i = 1; ok && i < n; i++) {
        int c;
        if (!jv_compare(keys[i], keys[best], &c)) {
            ok = jx_fail(ctx, "'<' not supported between instances of '%s' and '%s'",
                         jv_type_name(keys[i]), jv_type_name(keys[best]));
            break;
        }
        if (want_max ? c > 0 : c < 0) best = i;
    }
    if (ok)
        *out = n ? jv_retain(jv_list_at(items, best))
                 : jv_undef_hint("No aggregated item, sequence was empty.");
    release_all(keys, n);
    jx_free(keys);
    jv_release(items);
    return ok;
}
static bool f_min(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return min_max(c, v, a, o, false);
}
static bool f_max(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return min_max(c, v, a, o, true);
}

static bool f_sum(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("sum", "attribute", "start");
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    jv acc = is_absent(a[1]) ? jv_int(0) : jv_retain(a[1]);
    bool ok = true;
    for (size_t i = 0; i < jv_list_len(items) && ok; i++) {
        jv it = jv_retain(jv_list_at(items, i)), r;
        if (!is_absent(a[0]) && a[0].type != JV_NONE) {
            ok = get_attr_path(ctx, it, a[0], jv_undef(), &r);
            jv_release(it);
            if (!ok) break;
            it = r;
        }
        ok = jx_binop(ctx, OP_ADD, acc, it, &r);
        jv_release(it);
        if (ok) {
            jv_release(acc);
            acc = r;
        }
    }
    jv_release(items);
    if (!ok) {
        jv_release(acc);
        return false;
    }
    *out = acc;
    return true;
}

static bool f_batch(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("batch", "linecount", "fill_with");
    int64_t count;
    if (!opt_int(ctx, a[0], 0, &count)) return false;
    if (count <= 0) return jx_fail(ctx, "batch size must be positive");
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    jv r = jv_list(0), cur = jv_list(0);
    for (size_t i = 0; i < jv_list_len(items); i++) {
        jv_list_push_take(cur, jv_retain(jv_list_at(items, i)));
        if ((int64_t)jv_list_len(cur) == count) {
            jv_list_push_take(r, cur);
            cur = jv_list(0);
        }
    }
    if (jv_list_len(cur)) {
        while (!is_absent(a[1]) && a[1].type != JV_NONE && (int64_t)jv_list_len(cur) < count)
            jv_list_push_take(cur, jv_retain(a[1]));
        jv_list_push_take(r, cur);
    } else {
        jv_release(cur);
    }
    jv_release(items);
    *out = r;
    return true;
}

static bool f_slice(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("slice", "slices", "fill_with");
    int64_t slices;
    if (!opt_int(ctx, a[0], 0, &slices)) return false;
    if (slices <= 0 || slices > (int64_t)JX_MAX_LIST)
        return jx_fail(ctx, "slice count must be positive");
    jv items;
    if (!jx_iterate(ctx, v, &items)) return false;
    size_t n = jv_list_len(items), per = n / (size_t)slices, extra = n % (size_t)slices, off = 0;
    jv r = jv_list(0);
    for (size_t s = 0; s < (size_t)slices; s++) {
        size_t take = per + (s < extra);
        jv part = jv_list(take + 1);
        for (size_t i = 0; i < take; i++)
            jv_list_push_take(part, jv_retain(jv_list_at(items, off + i)));
        off += take;
        if (!is_absent(a[1]) && a[1].type != JV_NONE && s >= extra && extra)
            jv_list_push_take(part, jv_retain(a[1]));
        jv_list_push_take(r, part);
    }
    jv_release(items);
    *out = r;
    return true;
}

/* ------------------------------------------------------------------ map / select */

static bool f_attr(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    BIND("attr", "name");
    if (a[0].type != JV_STR) return jx_fail(ctx, "attribute name must be a string");
    /* getattr() only: a dict key is not an attribute */
    if (v.type == JV_DICT && !v.u.d->ns) {
        if (!jx_find_method(v, a[0], out))
            *out = jv_undef_hint("'dict object' has no attribute '%s'", a[0].u.s->data);
        return true;
    }
    return jx_getattr(ctx, v, a[0], out);
}

/* map, select and friends yield nothing for a falsy value (jinja2 checks `if value:`). */
static bool iterate_truthy(jx_ctx *ctx, jv v, jv *items) {
    if (!jv_truthy(v)) {
        *items = jv_list(0);
        return true;
    }
    return jx_iterate(ctx, v, items);
}

static bool f_map(jx_ctx *ctx, jv v, const jx_args *args, jv *out) {
    jv items;
    if (!iterate_truthy(ctx, v, &items)) return false;
    jv attribute = jv_undef(), dflt = jv_undef();
    bool by_attr = args->npos == 0;
    if (by_attr) {
        for (size_t i = 0; i < args->nkw; i++) {
            const char *k = args->kw_names[i].u.s->data;
            if (!strcmp(k, "attribute"))
                attribute = args->kw_vals[i];
            else if (!strcmp(k, "default"))
                dflt = args->kw_vals[i];
            else {
                jv_release(items);
                return jx_fail(ctx, "Unexpected keyword argument '%s'", k);
            }
        }
        if (is_absent(attribute)) {
            jv_release(items);
            return jx_fail(ctx, "map requires a filter argument");
        }
    } else if (args->pos[0].type != JV_STR) {
        jv_release(items);
        return jx_fail(ctx, "map filter name must be a string");
    }
    jx_args rest = *args;
    if (!by_attr) {
        rest.pos++;
        rest.npos--;
    }
    jv r = jv_list(jv_list_len(items));
    bool ok = true;
    for (size_t i = 0; i < jv_list_len(items) && ok; i++) {
        jv res;
        jv it = jv_list_at(items, i);
        ok = by_attr ? get_attr_path(ctx, it, attribute, dflt, &res)
                     : jx_apply_filter(ctx, args->pos[0], it, &rest, &res);
        if (ok) jv_list_push_take(r, res);
    }
    jv_release(items);
    if (!ok) {
        jv_release(r);
        return false;
    }
    *out = r;
    return true;
}

static bool select_common(jx_ctx *ctx, jv v, const jx_args *args, jv *out, bool by_attr,
                          bool keep) {
    size_t off = by_attr ? 1 : 0;
    if (by_attr && args->npos < 1) return jx_fail(ctx, "Missing parameter for attribute name");
    bool has_test = args->npos > off;
    if (has_test && args->pos[off].type != JV_STR)
        return jx_fail(ctx, "test name must be a string");
    jx_args rest = {.pos = args->pos + off + 1,
                    .npos = has_test ? args->npos - off - 1 : 0,
                    .kw_names = args->kw_names,
                    .kw_vals = args->kw_vals,
                    .nkw = args->nkw};
    jv items;
    if (!iterate_truthy(ctx, v, &items)) return false;
    jv r = jv_list(0);
    bool ok = true;
    for (size_t i = 0; i < jv_list_len(items) && ok; i++) {
        jv it = jv_list_at(items, i), probe;
        if (by_attr)
            ok = get_attr_path(ctx, it, args->pos[0], jv_undef(), &probe);
        else
            probe = jv_retain(it);
        if (!ok) break;
        bool pass = false;
        if (has_test)
            ok = jx_apply_test(ctx, args->pos[off], probe, &rest, &pass);
        else
            pass = jv_truthy(probe);
        jv_release(probe);
        if (ok && pass == keep) jv_list_push_take(r, jv_retain(it));
    }
    jv_release(items);
    if (!ok) {
        jv_release(r);
        return false;
    }
    *out = r;
    return true;
}
static bool f_select(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return select_common(c, v, a, o, false, true);
}
static bool f_reject(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return select_common(c, v, a, o, false, false);
}
static bool f_selectattr(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return select_common(c, v, a, o, true, true);
}
static bool f_rejectattr(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return select_common(c, v, a, o, true, false);
}

/* ------------------------------------------------------------------ table */

/* Filters that are generator functions in jinja2 return generators. */
static bool as_gen(bool ok, jv *out) {
    if (ok) out->u.l->gen = true;
    return ok;
}
static bool g_map(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_map(c, v, a, o), o);
}
static bool g_select(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_select(c, v, a, o), o);
}
static bool g_reject(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_reject(c, v, a, o), o);
}
static bool g_selectattr(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_selectattr(c, v, a, o), o);
}
static bool g_rejectattr(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_rejectattr(c, v, a, o), o);
}
static bool g_unique(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_unique(c, v, a, o), o);
}
static bool g_items(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_items(c, v, a, o), o);
}
static bool g_batch(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_batch(c, v, a, o), o);
}
static bool g_slice(jx_ctx *c, jv v, const jx_args *a, jv *o) {
    return as_gen(f_slice(c, v, a, o), o);
}

static const filter_entry filters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", g_batch},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"filesizeformat", NULL},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_forceescape},
    {"format", f_format},
    {"groupby", NULL},
    {"indent", f_indent},
    {"int", f_int},
    {"items", g_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", g_map},
    {"max", f_max},
    {"min", f_min},
    {"pprint", f_pprint},
    {"random", NULL},
    {"reject", g_reject},
    {"rejectattr", g_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", g_select},
    {"selectattr", g_selectattr},
    {"slice", g_slice},
    {"sort", f_sort},
    {"string", f_string},
    {"striptags", f_striptags},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"truncate", f_truncate},
    {"unique", g_unique},
    {"upper", f_upper},
    {"urlencode", NULL},
    {"urlize", NULL},
    {"wordcount", f_wordcount},
    {"wordwrap", NULL},
    {"xmlattr", NULL},
};

static const filter_entry *find_filter(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++)
        if (strlen(filters[i].name) == len && !memcmp(filters[i].name, name, len))
            return &filters[i];
    return NULL;
}

bool jx_filter_known(const char *name, size_t len) {
    return find_filter(name, len) != NULL;
}

bool jx_apply_filter(jx_ctx *ctx, jv name, jv input, const jx_args *args, jv *out) {
    const filter_entry *f = find_filter(name.u.s->data, name.u.s->len);
    if (!f) return jx_fail(ctx, "no filter named '%s'", name.u.s->data);
    if (!f->fn) return jx_fail(ctx, "the '%s' filter is not supported", f->name);
    return f->fn(ctx, input, args ? args : &no_args, out);
}
