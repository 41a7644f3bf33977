/* Python's str() / repr() of template values (see print.h). */
#include "chat/print.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/text.h"

enum { REPR_DEPTH_MAX = 100 };

/* float.__repr__: the shortest digit string that reads back to the same double, written in
 * positional notation when the decimal exponent is in [-4, 16), else in scientific notation
 * with at least two exponent digits (CPython's float_repr_style 'short'). */
void jx_write_float(jx_buf *b, double f) {
    if (isnan(f)) {
        jb_puts(b, "nan");
        return;
    }
    if (isinf(f)) {
        jb_puts(b, f < 0 ? "-inf" : "inf");
        return;
    }
    if (f == 0) {
        jb_puts(b, signbit(f) ? "-0.0" : "0.0");
        return;
    }
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    char digits[24];
    size_t nd = 0;
    const char *p = tmp;
    bool neg = *p == '-';
    if (neg) p++;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    int decpt = exp10 + 1; /* value = 0.DIGITS * 10^decpt */
    if (neg) jb_putc(b, '-');
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            jb_puts(b, "0.");
            for (int i = 0; i < -decpt; i++)
                jb_putc(b, '0');
            jb_put(b, digits, nd);
        } else if ((size_t)decpt >= nd) {
            jb_put(b, digits, nd);
            for (size_t i = nd; i < (size_t)decpt; i++)
                jb_putc(b, '0');
            jb_puts(b, ".0");
        } else {
            jb_put(b, digits, (size_t)decpt);
            jb_putc(b, '.');
            jb_put(b, digits + decpt, nd - (size_t)decpt);
        }
        return;
    }
    jb_putc(b, digits[0]);
    if (nd > 1) {
        jb_putc(b, '.');
        jb_put(b, digits + 1, nd - 1);
    }
    jb_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
}

void jx_write_str_repr(jx_buf *b, const char *s, size_t len) {
    bool has_single = memchr(s, '\'', len) != NULL, has_double = memchr(s, '"', len) != NULL;
    char quote = has_single && !has_double ? '"' : '\'';
    jb_putc(b, quote);
    size_t i = 0;
    while (i < len) {
        uint32_t c;
        size_t n = utf8_next(s, len, i, &c);
        if (c == (uint32_t)quote || c == '\\') {
            jb_putc(b, '\\');
            jb_putc(b, (char)c);
        } else if (c == '\n') {
            jb_puts(b, "\\n");
        } else if (c == '\r') {
            jb_puts(b, "\\r");
        } else if (c == '\t') {
            jb_puts(b, "\\t");
        } else if (!uni_printable(c)) {
            if (c <= 0xFF)
                jb_printf(b, "\\x%02x", (unsigned)c);
            else if (c <= 0xFFFF)
                jb_printf(b, "\\u%04x", (unsigned)c);
            else
                jb_printf(b, "\\U%08x", (unsigned)c);
        } else {
            jb_put(b, s + i, n);
        }
        i += n;
    }
    jb_putc(b, quote);
}

static void write_repr_depth(jx_buf *b, jv v, int depth);

static void write_list(jx_buf *b, jv v, int depth) {
    jlist *l = v.u.l;
    if (l->gen) {
        jb_puts(b, "<generator object>");
        return;
    }
    jb_putc(b, l->tuple ? '(' : '[');
    for (size_t i = 0; i < l->n; i++) {
        if (i) jb_puts(b, ", ");
        write_repr_depth(b, l->items[i], depth + 1);
    }
    if (l->tuple && l->n == 1) jb_putc(b, ',');
    jb_putc(b, l->tuple ? ')' : ']');
}

static void write_dict(jx_buf *b, jv v, int depth) {
    jdict *d = v.u.d;
    if (d->ns) jb_puts(b, "<Namespace ");
    jb_putc(b, '{');
    for (size_t i = 0; i < d->n; i++) {
        if (i) jb_puts(b, ", ");
        write_repr_depth(b, d->keys[i], depth + 1);
        jb_puts(b, ": ");
        write_repr_depth(b, d->vals[i], depth + 1);
    }
    jb_putc(b, '}');
    if (d->ns) jb_putc(b, '>');
}

static void write_repr_depth(jx_buf *b, jv v, int depth) {
    if (depth > REPR_DEPTH_MAX) {
        jb_puts(b, "...");
        return;
    }
    switch (v.type) {
    case JV_UNDEF:
        jb_puts(b, "Undefined");
        break;
    case JV_NONE:
        jb_puts(b, "None");
        break;
    case JV_BOOL:
        jb_puts(b, v.u.b ? "True" : "False");
        break;
    case JV_INT:
        jb_printf(b, "%lld", (long long)v.u.i);
        break;
    case JV_FLOAT:
        jx_write_float(b, v.u.f);
        break;
    case JV_STR:
        jx_write_str_repr(b, v.u.s->data, v.u.s->len);
        break;
    case JV_LIST:
        write_list(b, v, depth);
        break;
    case JV_DICT:
        write_dict(b, v, depth);
        break;
    case JV_FUNC:
        if (v.u.fn->native && v.u.fn->self.type != JV_UNDEF)
            jb_printf(b, "<built-in method %s of %s object>", v.u.fn->name,
                      jv_type_name(v.u.fn->self));
        else if (v.u.fn->native)
            jb_printf(b, "<built-in function %s>", v.u.fn->name);
        else
            jb_printf(b, "<Macro '%s'>", v.u.fn->name);
        break;
    case JV_LOOP: {
        jloop *l = v.u.loop;
        size_t n = l->items.type == JV_LIST ? l->items.u.l->n : 0;
        jb_printf(b, "<LoopContext %zu/%zu>", l->index0 + 1, n);
        break;
    }
    }
}

void jx_write_repr(jx_buf *b, jv v) {
    write_repr_depth(b, v, 0);
}

void jx_write_str(jx_buf *b, jv v) {
    if (v.type == JV_UNDEF) return;
    if (v.type == JV_STR)
        jb_put(b, v.u.s->data, v.u.s->len);
    else
        write_repr_depth(b, v, 0);
}

jv jx_to_str(jv v) {
    if (v.type == JV_STR) return jv_retain(v);
    jx_buf b;
    jb_init(&b, 0);
    jx_write_str(&b, v);
    return jb_take_str(&b);
}
