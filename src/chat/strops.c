/* Python str operations on UTF-8 strings (see strops.h). */
#define _GNU_SOURCE /* memmem */
#include "chat/strops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/builtins.h"
#include "chat/interp.h"
#include "chat/limits.h"
#include "chat/print.h"
#include "chat/text.h"

static jv with_markup(jv s, bool markup) {
    if (markup) s.u.s->markup = true;
    return s;
}

static bool in_chars(uint32_t cp, jv chars) {
    if (chars.type != JV_STR) return uni_isspace(cp);
    const char *c = chars.u.s->data;
    size_t n = chars.u.s->len;
    for (size_t i = 0; i < n;) {
        uint32_t x;
        i += utf8_next(c, n, i, &x);
        if (x == cp) return true;
    }
    return false;
}

jv jx_str_strip(jv s, jv chars, strip_side side) {
    const char *d = s.u.s->data;
    size_t len = s.u.s->len, from = 0, to = len;
    if (side != STRIP_RIGHT) {
        while (from < len) {
            uint32_t cp;
            size_t n = utf8_next(d, len, from, &cp);
            if (!in_chars(cp, chars)) break;
            from += n;
        }
    }
    if (side != STRIP_LEFT) {
        while (to > from) {
            size_t p = utf8_prev(d, to);
            uint32_t cp;
            utf8_next(d, len, p, &cp);
            if (!in_chars(cp, chars)) break;
            to = p;
        }
    }
    return with_markup(jv_str(d + from, to - from), s.u.s->markup);
}

static bool is_title_sep(uint32_t cp) {
    return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || uni_isspace(cp);
}

static bool is_cased(uint32_t cp) {
    return uni_isupper(cp) || uni_islower(cp);
}

jv jx_str_case(jv s, case_mode mode) {
    const char *d = s.u.s->data;
    size_t len = s.u.s->len;
    jx_buf b;
    jb_init(&b, 0);
    bool prev_cased = false, prev_sep = true, first = true;
    for (size_t i = 0; i < len;) {
        uint32_t cp, r = 0;
        i += utf8_next(d, len, i, &cp);
        switch (mode) {
        case CASE_UPPER:
            r = uni_upper(cp);
            break;
        case CASE_LOWER:
            r = uni_lower(cp);
            break;
        case CASE_SWAP:
            r = uni_isupper(cp) ? uni_lower(cp) : uni_upper(cp);
            break;
        case CASE_CAPITALIZE:
            r = first ? uni_upper(cp) : uni_lower(cp);
            break;
        case CASE_TITLE:
            r = is_cased(cp) ? (prev_cased ? uni_lower(cp) : uni_upper(cp)) : cp;
            prev_cased = is_cased(cp);
            break;
        case CASE_JINJA_TITLE: {
            bool sep = is_title_sep(cp);
            /* each separator run and each word is an item: first char upper, rest lower */
            r = sep != prev_sep || first ? uni_upper(cp) : uni_lower(cp);
            prev_sep = sep;
            break;
        }
        }
        first = false;
        if (cp == 0xDF && (mode == CASE_UPPER || mode == CASE_SWAP))
            jb_puts(&b, "SS"); /* ß */
        else
            jb_put_utf8(&b, r);
    }
    return with_markup(jb_take_str(&b), s.u.s->markup);
}

static size_t skip_ws_fwd(const char *d, size_t len, size_t i) {
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_next(d, len, i, &cp);
        if (!uni_isspace(cp)) break;
        i += n;
    }
    return i;
}

static size_t skip_nonws_fwd(const char *d, size_t len, size_t i) {
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_next(d, len, i, &cp);
        if (uni_isspace(cp)) break;
        i += n;
    }
    return i;
}

static bool ws_before(const char *d, size_t len, size_t i) {
    uint32_t cp;
    utf8_next(d, len, utf8_prev(d, i), &cp);
    return uni_isspace(cp);
}

static void reverse_list(jv list) {
    jlist *l = list.u.l;
    for (size_t i = 0, j = l->n ? l->n - 1 : 0; i < j; i++, j--) {
        jv t = l->items[i];
        l->items[i] = l->items[j];
        l->items[j] = t;
    }
}

static jv split_ws(const char *d, size_t len, int64_t maxsplit, bool right) {
    jv out = jv_list(0);
    int64_t splits = 0;
    if (!right) {
        size_t i = skip_ws_fwd(d, len, 0);
        while (i < len) {
            if (maxsplit >= 0 && splits == maxsplit) {
                jv_list_push_take(out, jv_str(d + i, len - i));
                break;
            }
            size_t e = skip_nonws_fwd(d, len, i);
            jv_list_push_take(out, jv_str(d + i, e - i));
            splits++;
            i = skip_ws_fwd(d, len, e);
        }
        return out;
    }
    size_t end = len;
    while (end > 0 && ws_before(d, len, end))
        end = utf8_prev(d, end);
    while (end > 0) {
        if (maxsplit >= 0 && splits == maxsplit) {
            jv_list_push_take(out, jv_str(d, end));
            break;
        }
        size_t start = end;
        while (start > 0 && !ws_before(d, len, start))
            start = utf8_prev(d, start);
        jv_list_push_take(out, jv_str(d + start, end - start));
        splits++;
        end = start;
        while (end > 0 && ws_before(d, len, end))
            end = utf8_prev(d, end);
    }
    reverse_list(out);
    return out;
}

static const char *memrmem(const char *h, size_t hlen, const char *n, size_t nlen) {
    if (nlen > hlen) return NULL;
    for (size_t i = hlen - nlen + 1; i-- > 0;)
        if (!memcmp(h + i, n, nlen)) return h + i;
    return NULL;
}

jv jx_str_split(jv s, jv sep, int64_t maxsplit, bool right) {
    const char *d = s.u.s->data;
    size_t len = s.u.s->len;
    if (sep.type != JV_STR) return split_ws(d, len, maxsplit, right);
    const char *p = sep.u.s->data;
    size_t plen = sep.u.s->len;
    jv out = jv_list(0);
    int64_t splits = 0;
    if (!right) {
        size_t i = 0;
        const char *hit;
        while ((maxsplit < 0 || splits < maxsplit) && (hit = memmem(d + i, len - i, p, plen))) {
            size_t at = (size_t)(hit - d);
            jv_list_push_take(out, jv_str(d + i, at - i));
            i = at + plen;
            splits++;
        }
        jv_list_push_take(out, jv_str(d + i, len - i));
        return out;
    }
    size_t end = len;
    const char *hit;
    while ((maxsplit < 0 || splits < maxsplit) && (hit = memrmem(d, end, p, plen))) {
        size_t at = (size_t)(hit - d);
        jv_list_push_take(out, jv_str(d + at + plen, end - at - plen));
        end = at;
        splits++;
    }
    jv_list_push_take(out, jv_str(d, end));
    reverse_list(out);
    return out;
}

static bool is_line_break(uint32_t cp) {
    return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || cp == 0x1C || cp == 0x1D ||
           cp == 0x1E || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

jv jx_str_splitlines(jv s, bool keepends) {
    const char *d = s.u.s->data;
    size_t len = s.u.s->len, start = 0, i = 0;
    jv out = jv_list(0);
    while (i < len) {
        uint32_t cp;
        size_t n = utf8_next(d, len, i, &cp);
        if (!is_line_break(cp)) {
            i += n;
            continue;
        }
        size_t eol = i;
        i += n;
        if (cp == '\r' && i < len && d[i] == '\n') i++;
        jv_list_push_take(out, jv_str(d + start, (keepends ? i : eol) - start));
        start = i;
    }
    if (start < len) jv_list_push_take(out, jv_str(d + start, len - start));
    return out;
}

jv jx_str_replace(jv s, jv old, jv rep, int64_t count) {
    const char *d = s.u.s->data;
    size_t len = s.u.s->len, olen = old.u.s->len, rlen = rep.u.s->len;
    jx_buf b;
    jb_init(&b, 0);
    int64_t done = 0;
    if (olen == 0) {
        /* an empty pattern matches before every code point and at the end */
        size_t i = 0;
        while (i <= len) {
            if (count < 0 || done < count) {
                jb_put(&b, rep.u.s->data, rlen);
                done++;
            }
            if (i == len) break;
            uint32_t cp;
            size_t n = utf8_next(d, len, i, &cp);
            jb_put(&b, d + i, n);
            i += n;
        }
        return with_markup(jb_take_str(&b), s.u.s->markup);
    }
    size_t i = 0;
    const char *hit;
    while ((count < 0 || done < count) && (hit = memmem(d + i, len - i, old.u.s->data, olen))) {
        size_t at = (size_t)(hit - d);
        jb_put(&b, d + i, at - i);
        jb_put(&b, rep.u.s->data, rlen);
        i = at + olen;
        done++;
    }
    jb_put(&b, d + i, len - i);
    return with_markup(jb_take_str(&b), s.u.s->markup);
}

size_t jx_str_cplen(jv s) {
    return jstr_is_ascii(s.u.s) ? s.u.s->len : utf8_count(s.u.s->data, s.u.s->len);
}

static int64_t bound(jv v, int64_t dflt, int64_t len) {
    if (v.type != JV_INT && v.type != JV_BOOL) return dflt;
    int64_t i = v.type == JV_BOOL ? v.u.b : v.u.i;
    if (i < 0) i += len;
    if (i < 0) i = 0;
    if (i > len) i = len;
    return i;
}

int64_t jx_str_find(jv s, jv sub, jv start, jv end, bool from_right) {
    const char *d = s.u.s->data;
    size_t len = s.u.s->len;
    int64_t n = (int64_t)jx_str_cplen(s);
    int64_t a = bound(start, 0, n), z = bound(end, n, n);
    if (a > z) return -1;
    size_t from = utf8_offset(d, len, (size_t)a), to = utf8_offset(d, len, (size_t)z);
    const char *hit = from_right ? memrmem(d + from, to - from, sub.u.s->data, sub.u.s->len)
                                 : memmem(d + from, to - from, sub.u.s->data, sub.u.s->len);
    if (!hit) return -1;
    return (int64_t)utf8_count(d, (size_t)(hit - d));
}

int64_t jx_str_count(jv s, jv sub) {
    if (sub.u.s->len == 0) return (int64_t)jx_str_cplen(s) + 1;
    int64_t n = 0;
    const char *d = s.u.s->data, *hit;
    size_t len = s.u.s->len, i = 0;
    while ((hit = memmem(d + i, len - i, sub.u.s->data, sub.u.s->len))) {
        n++;
        i = (size_t)(hit - d) + sub.u.s->len;
    }
    return n;
}

jv jx_str_pad(jv s, int64_t width, const char *fill, size_t fill_len, char align) {
    int64_t len = (int64_t)jx_str_cplen(s);
    if (width <= len || width - len > (int64_t)JX_MAX_STRING / 4) return jv_retain(s);
    int64_t marg = width - len, left = 0;
    if (align == '>')
        left = marg;
    else if (align == '^')
        left = marg / 2 + (marg & width & 1);
    jx_buf b;
    jb_init(&b, 0);
    for (int64_t i = 0; i < left; i++)
        jb_put(&b, fill, fill_len);
    jb_put(&b, s.u.s->data, s.u.s->len);
    for (int64_t i = left; i < marg; i++)
        jb_put(&b, fill, fill_len);
    return with_markup(jb_take_str(&b), s.u.s->markup);
}

void jx_html_escape_into(jx_buf *b, const char *s, size_t len) {
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        const char *e = NULL;
        switch (s[i]) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = "&#34;";
            break;
        case '\'':
            e = "&#39;";
            break;
        default:
            continue;
        }
        jb_put(b, s + run, i - run);
        jb_puts(b, e);
        run = i + 1;
    }
    jb_put(b, s + run, len - run);
}

jv jx_html_escape(jv v) {
    if (jv_is_markup(v)) return jv_retain(v);
    jv s = jx_to_str(v);
    jx_buf b;
    jb_init(&b, 0);
    jx_html_escape_into(&b, s.u.s->data, s.u.s->len);
    jv_release(s);
    return with_markup(jb_take_str(&b), true);
}

static bool has_affix(jv s, jv a, bool end) {
    size_t n = a.u.s->len, len = s.u.s->len;
    if (n > len) return false;
    return !memcmp(s.u.s->data + (end ? len - n : 0), a.u.s->data, n);
}

bool jx_str_startswith(jv s, jv prefix, bool end) {
    if (prefix.type == JV_STR) return has_affix(s, prefix, end);
    for (size_t i = 0; i < jv_list_len(prefix); i++) {
        jv p = jv_list_at(prefix, i);
        if (p.type == JV_STR && has_affix(s, p, end)) return true;
    }
    return false;
}

/* ------------------------------------------------------------------ formatting */

typedef struct spec {
    char fill[8];
    size_t fill_len;
    char align; /* 0, '<', '>', '^', '=' */
    char sign;  /* 0, '+', '-', ' ' */
    bool alt, zero;
    char grouping;            /* 0, ',' or '_' between thousands */
    int64_t width, precision; /* -1 when absent */
    char type;                /* 0 when absent */
} spec;

/* [[fill]align][sign][#][0][width][.precision][type] (the format-spec mini-language). */
static bool parse_spec(const char *s, size_t n, spec *sp) {
    memset(sp, 0, sizeof *sp);
    sp->width = sp->precision = -1;
    size_t i = 0;
    uint32_t cp;
    size_t cl = n ? utf8_next(s, n, 0, &cp) : 0;
    if (cl && cl < n && strchr("<>^=", s[cl])) {
        memcpy(sp->fill, s, cl);
        sp->fill_len = cl;
        sp->align = s[cl];
        i = cl + 1;
    } else if (n && strchr("<>^=", s[0])) {
        sp->align = s[0];
        i = 1;
    }
    if (i < n && strchr("+- ", s[i])) sp->sign = s[i++];
    if (i < n && s[i] == '#') sp->alt = true, i++;
    if (i < n && s[i] == '0') sp->zero = true, i++;
    if (i < n && s[i] >= '0' && s[i] <= '9') {
        sp->width = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && sp->width < 100000)
            sp->width = sp->width * 10 + (s[i++] - '0');
    }
    if (i < n && (s[i] == ',' || s[i] == '_')) sp->grouping = s[i++];
    if (i < n && s[i] == '.') {
        i++;
        sp->precision = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && sp->precision < 1000)
            sp->precision = sp->precision * 10 + (s[i++] - '0');
    }
    if (i < n) sp->type = s[i++];
    return i == n;
}

static void pad_into(jx_buf *b, const char *s, size_t len, const spec *sp, char dflt_align) {
    char align = sp->align ? sp->align : dflt_align;
    const char *fill = sp->fill_len ? sp->fill : sp->zero ? "0" : " ";
    size_t fill_len = sp->fill_len ? sp->fill_len : 1;
    int64_t cps = (int64_t)utf8_count(s, len), marg = sp->width > cps ? sp->width - cps : 0;
    int64_t left = align == '>' || align == '=' ? marg : align == '^' ? marg / 2 : 0;
    if (align == '=' && len && strchr("+- ", s[0])) {
        jb_putc(b, s[0]);
        s++, len--;
    }
    for (int64_t i = 0; i < left; i++)
        jb_put(b, fill, fill_len);
    jb_put(b, s, len);
    for (int64_t i = left; i < marg; i++)
        jb_put(b, fill, fill_len);
}

/* Inserts `sep` every three digits of the integer part of a formatted number. */
static void group_thousands(char *num, size_t size, char sep) {
    char *d = num;
    while (*d && (*d < '0' || *d > '9'))
        d++;
    char *end = d;
    while (*end >= '0' && *end <= '9')
        end++;
    size_t ndig = (size_t)(end - d), nsep = ndig ? (ndig - 1) / 3 : 0;
    if (!nsep || strlen(num) + nsep + 1 > size) return;
    memmove(end + nsep, end, strlen(end) + 1);
    char *w = end + nsep - 1;
    for (size_t k = 0; k < ndig; k++) {
        *w-- = end[-1 - (ptrdiff_t)k];
        if (k % 3 == 2 && k + 1 < ndig) *w-- = sep;
    }
}

/* format(value, spec) for str, int, float and bool. */
static bool format_value(jx_ctx *ctx, jx_buf *b, jv v, const char *specs, size_t n) {
    spec sp;
    if (!parse_spec(specs, n, &sp))
        return jx_fail(ctx, "invalid format specifier '%.*s'", (int)n, specs);
    char tmp[512];
    if (v.type == JV_STR || (!jv_is_number(v) && !sp.type)) {
        jv s = jx_to_str(v);
        size_t len = s.u.s->len;
        if (sp.precision >= 0) len = utf8_offset(s.u.s->data, len, (size_t)sp.precision);
        pad_into(b, s.u.s->data, len, &sp, '<');
        jv_release(s);
        return true;
    }
    if (!jv_is_number(v))
        return jx_fail(ctx, "unsupported format string passed to %s.__format__", jv_type_name(v));
    char type = sp.type;
    bool is_int = v.type != JV_FLOAT;
    if (!type) type = is_int ? 'd' : 'r';
    if (strchr("dxXob", type) && !is_int)
        return jx_fail(ctx, "unknown format code '%c' for object of type 'float'", type);
    double x = jv_num(v);
    const char *sign = x < 0 || (x == 0 && signbit(x)) ? "-"
                       : sp.sign == '+'                ? "+"
                       : sp.sign == ' '                ? " "
                                                       : "";
    int prec = sp.precision >= 0 ? (int)sp.precision : 6;
    switch (type) {
    case 'd':
    case 'x':
    case 'X':
    case 'o':
    case 'b': {
        int64_t i = v.type == JV_BOOL ? v.u.b : v.u.i;
        uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
        unsigned base = type == 'd' ? 10 : type == 'o' ? 8 : type == 'b' ? 2 : 16;
        const char *digs = type == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        char rev[72];
        int nd = 0;
        do {
            rev[nd++] = digs[u % base];
            u /= base;
        } while (u);
        const char *prefix = !sp.alt || base == 10 ? ""
                             : type == 'o'         ? "0o"
                             : type == 'b'         ? "0b"
                             : type == 'X'         ? "0X"
                                                   : "0x";
        size_t k = (size_t)snprintf(tmp, sizeof tmp, "%s%s", i < 0 ? "-" : sign, prefix);
        while (nd > 0)
            tmp[k++] = rev[--nd];
        tmp[k] = '\0';
        break;
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
        char fmt[16] = {'%', '.', '*', type, 0};
        snprintf(tmp, sizeof tmp, "%s", sign);
        snprintf(tmp + strlen(sign), sizeof tmp - strlen(sign), fmt, prec, fabs(x));
        break;
    }
    case '%':
        snprintf(tmp, sizeof tmp, "%s%.*f%%", sign, prec, fabs(x) * 100);
        break;
    case 'r': {
        jx_buf nb;
        jb_init(&nb, 0);
        jb_puts(&nb, x < 0 ? "" : sign);
        jx_write_float(&nb, v.u.f);
        snprintf(tmp, sizeof tmp, "%s", nb.data ? nb.data : "");
        jb_free(&nb);
        break;
    }
    default:
        return jx_fail(ctx, "unknown format code '%c' for a number", type);
    }
    if (v.type == JV_BOOL && !sp.type) snprintf(tmp, sizeof tmp, "%s", v.u.b ? "True" : "False");
    if (sp.grouping && strchr("dfF%r", type)) group_thousands(tmp, sizeof tmp, sp.grouping);
    pad_into(b, tmp, strlen(tmp), &sp, '>');
    return true;
}

static bool format_lookup(jx_ctx *ctx, const char *name, size_t n, const jx_args *args,
                          size_t *auto_idx, jv *out) {
    size_t i = 0;
    while (i < n && name[i] != '.' && name[i] != '[')
        i++;
    jv v;
    if (i == 0 || (name[0] >= '0' && name[0] <= '9')) {
        size_t idx = 0;
        if (i == 0)
            idx = (*auto_idx)++;
        else
            for (size_t k = 0; k < i; k++)
                idx = idx * 10 + (size_t)(name[k] - '0');
        if (idx >= args->npos)
            return jx_fail(ctx, "Replacement index %zu out of range for positional args tuple",
                           idx);
        v = jv_retain(args->pos[idx]);
    } else {
        size_t k = 0;
        while (k < args->nkw &&
               (args->kw_names[k].u.s->len != i || memcmp(args->kw_names[k].u.s->data, name, i)))
            k++;
        if (k == args->nkw) return jx_fail(ctx, "'%.*s'", (int)i, name);
        v = jv_retain(args->kw_vals[k]);
    }
    while (i < n) {
        bool dot = name[i] == '.';
        size_t s = ++i;
        while (i < n && name[i] != '.' && name[i] != '[' && name[i] != ']')
            i++;
        bool digits = i > s;
        for (size_t k = s; k < i; k++)
            digits = digits && name[k] >= '0' && name[k] <= '9';
        jv key = !dot && digits ? jv_int(strtoll(name + s, NULL, 10)) : jv_str(name + s, i - s), r;
        bool ok = dot ? jx_getattr(ctx, v, key, &r) : jx_getitem(ctx, v, key, &r);
        jv_release(key);
        jv_release(v);
        if (!ok) return false;
        v = r;
        if (!dot && i < n && name[i] == ']') i++;
    }
    *out = v;
    return true;
}

bool jx_str_format(jx_ctx *ctx, jv fmt, const jx_args *args, jv *out) {
    const char *s = fmt.u.s->data;
    size_t n = fmt.u.s->len, auto_idx = 0;
    jx_buf b;
    jb_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c == '{' || c == '}') && i + 1 < n && s[i + 1] == c) {
            jb_putc(&b, c);
            i++;
            continue;
        }
        if (c == '}') {
            jb_free(&b);
            return jx_fail(ctx, "Single '}' encountered in format string");
        }
        if (c != '{') {
            jb_putc(&b, c);
            continue;
        }
        size_t e = i + 1;
        while (e < n && s[e] != '}')
            e++;
        if (e >= n) {
            jb_free(&b);
            return jx_fail(ctx, "Single '{' encountered in format string");
        }
        const char *field = s + i + 1;
        size_t flen = e - i - 1, name_len = 0;
        while (name_len < flen && field[name_len] != '!' && field[name_len] != ':')
            name_len++;
        char conv = 0;
        size_t spec_at = name_len;
        if (spec_at < flen && field[spec_at] == '!' && spec_at + 1 < flen) {
            conv = field[spec_at + 1];
            spec_at += 2;
        }
        const char *sp =
            spec_at < flen && field[spec_at] == ':' ? field + spec_at + 1 : field + flen;
        jv v;
        if (!format_lookup(ctx, field, name_len, args, &auto_idx, &v)) {
            jb_free(&b);
            return false;
        }
        if (conv == 'r' || conv == 'a') {
            jx_buf rb;
            jb_init(&rb, 0);
            jx_write_repr(&rb, v);
            jv_release(v);
            v = jb_take_str(&rb);
        }
        bool ok = format_value(ctx, &b, v, sp, (size_t)(field + flen - sp));
        jv_release(v);
        if (!ok) {
            jb_free(&b);
            return false;
        }
        i = e;
    }
    *out = with_markup(jb_take_str(&b), fmt.u.s->markup);
    return true;
}

/* ------------------------------------------------------------------ printf-style % */

static bool percent_value(jx_ctx *ctx, jx_buf *b, char type, const char *flags, int64_t width,
                          int64_t prec, jv v, bool escape) {
    char fmt[48], tmp[512];
    if (type == 's' || type == 'r' || type == 'a') {
        jx_buf sb;
        jb_init(&sb, 0);
        if (type == 's')
            jx_write_str(&sb, v);
        else
            jx_write_repr(&sb, v);
        if (escape && !jv_is_markup(v)) {
            jx_buf eb;
            jb_init(&eb, 0);
            jx_html_escape_into(&eb, sb.data ? sb.data : "", sb.len);
            jb_free(&sb);
            sb = eb;
        }
        size_t len = sb.len;
        if (prec >= 0) len = utf8_offset(sb.data ? sb.data : "", len, (size_t)prec);
        spec sp = {.width = width, .align = strchr(flags, '-') ? '<' : '>'};
        pad_into(b, sb.data ? sb.data : "", len, &sp, '>');
        jb_free(&sb);
        return true;
    }
    if (type == 'c' && v.type == JV_STR && jx_str_cplen(v) == 1) {
        jb_put(b, v.u.s->data, v.u.s->len);
        return true;
    }
    if (!jv_is_number(v))
        return jx_fail(ctx, "%%%c format: a real number is required, not %s", type,
                       jv_type_name(v));
    if (strchr("diuxXoc", type)) {
        long long x = v.type == JV_FLOAT ? (long long)v.u.f : v.type == JV_BOOL ? v.u.b : v.u.i;
        if (type == 'c') {
            if (x < 0 || x > 0x10FFFF) return jx_fail(ctx, "%%c arg not in range(0x110000)");
            jb_put_utf8(b, (uint32_t)x);
            return true;
        }
        char t = type == 'i' || type == 'u' ? 'd' : type;
        snprintf(fmt, sizeof fmt, "%%%s%s%lld.%lldll%c", flags, "",
                 (long long)(width < 0 ? 0 : width), (long long)(prec < 0 ? 1 : prec), t);
        snprintf(tmp, sizeof tmp, fmt, x);
    } else {
        snprintf(fmt, sizeof fmt, "%%%s%lld.%lld%c", flags, (long long)(width < 0 ? 0 : width),
                 (long long)(prec < 0 ? 6 : prec), type);
        snprintf(tmp, sizeof tmp, fmt, jv_num(v));
    }
    jb_puts(b, tmp);
    return true;
}

/* Python's `fmt % args`: a tuple supplies positional values, a dict named ones, anything else
 * is the single value. */
bool jx_percent_format(jx_ctx *ctx, jv fmt, jv args, jv *out) {
    const char *s = fmt.u.s->data;
    size_t n = fmt.u.s->len, next = 0;
    bool tuple = args.type == JV_LIST && args.u.l->tuple, escape = fmt.u.s->markup;
    size_t nargs = tuple ? jv_list_len(args) : 1;
    jx_buf b;
    jb_init(&b, 0);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            jb_putc(&b, s[i]);
            continue;
        }
        if (++i >= n) goto incomplete;
        jv v = jv_undef();
        bool named = false;
        if (s[i] == '(') {
            size_t e = i + 1;
            while (e < n && s[e] != ')')
                e++;
            if (e >= n || args.type != JV_DICT) goto need_mapping;
            const jv *found = jv_dict_gets(args, s + i + 1, e - i - 1);
            if (!found) {
                jx_fail(ctx, "'%.*s'", (int)(e - i - 1), s + i + 1);
                goto fail;
            }
            v = *found;
            named = true;
            i = e + 1;
        }
        char flags[8] = {0};
        size_t nf = 0;
        while (i < n && strchr("-+ #0", s[i]) && nf < 6)
            flags[nf++] = s[i++];
        int64_t width = -1, prec = -1;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            width = (width < 0 ? 0 : width) * 10 + (s[i++] - '0');
        if (i < n && s[i] == '.') {
            prec = 0;
            for (i++; i < n && s[i] >= '0' && s[i] <= '9';)
                prec = prec * 10 + (s[i++] - '0');
        }
        if (width > 100000 || prec > 1000) {
            jx_fail(ctx, "format width or precision too large");
            goto fail;
        }
        if (i >= n) goto incomplete;
        char type = s[i];
        if (type == '%') {
            jb_putc(&b, '%');
            continue;
        }
        if (!strchr("sradiuxXocfFeEgG", type)) {
            jx_fail(ctx, "unsupported format character '%c'", type);
            goto fail;
        }
        if (!named) {
            if (args.type == JV_DICT && !tuple) {
                v = args;
            } else {
                if (next >= nargs) {
                    jx_fail(ctx, "not enough arguments for format string");
                    goto fail;
                }
                v = tuple ? jv_list_at(args, next) : args;
                next++;
            }
        }
        if (!percent_value(ctx, &b, type, flags, width, prec, v, escape)) goto fail;
    }
    if (args.type != JV_DICT && next < nargs) {
        jx_fail(ctx, "not all arguments converted during string formatting");
        goto fail;
    }
    *out = with_markup(jb_take_str(&b), escape);
    return true;
need_mapping:
    jx_fail(ctx, "format requires a mapping");
    goto fail;
incomplete:
    jx_fail(ctx, "incomplete format");
fail:
    jb_free(&b);
    return false;
}
