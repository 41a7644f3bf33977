/* JSON reader and json.dumps-compatible writer for template values (see json.h). */
#include "chat/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/limits.h"
#include "chat/print.h"
#include "chat/text.h"

/* ------------------------------------------------------------------ reader */

typedef struct reader {
    const char *s;
    size_t len, pos;
    char *err;
    size_t err_size;
    bool failed;
} reader;

static bool fail_at(reader *r, const char *what) {
    if (!r->failed) snprintf(r->err, r->err_size, "invalid JSON at offset %zu: %s", r->pos, what);
    r->failed = true;
    return false;
}

static void skip_ws(reader *r) {
    while (r->pos < r->len && (r->s[r->pos] == ' ' || r->s[r->pos] == '\t' ||
                               r->s[r->pos] == '\n' || r->s[r->pos] == '\r'))
        r->pos++;
}

static bool literal(reader *r, const char *word) {
    size_t n = strlen(word);
    if (r->len - r->pos < n || memcmp(r->s + r->pos, word, n)) return false;
    r->pos += n;
    return true;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool read_hex4(reader *r, uint32_t *out) {
    if (r->len - r->pos < 4) return fail_at(r, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(r->s[r->pos + (size_t)i]);
        if (d < 0) return fail_at(r, "bad \\u escape");
        v = v * 16 + (uint32_t)d;
    }
    r->pos += 4;
    *out = v;
    return true;
}

static bool read_escape(reader *r, jx_buf *b) {
    char c = r->s[r->pos++];
    switch (c) {
    case '"':
        jb_putc(b, '"');
        return true;
    case '\\':
        jb_putc(b, '\\');
        return true;
    case '/':
        jb_putc(b, '/');
        return true;
    case 'b':
        jb_putc(b, '\b');
        return true;
    case 'f':
        jb_putc(b, '\f');
        return true;
    case 'n':
        jb_putc(b, '\n');
        return true;
    case 'r':
        jb_putc(b, '\r');
        return true;
    case 't':
        jb_putc(b, '\t');
        return true;
    case 'u':
        break;
    default:
        r->pos--;
        return fail_at(r, "invalid escape");
    }
    uint32_t cp;
    if (!read_hex4(r, &cp)) return false;
    if (cp >= 0xD800 && cp <= 0xDBFF && r->len - r->pos >= 6 && r->s[r->pos] == '\\' &&
        r->s[r->pos + 1] == 'u') {
        size_t save = r->pos;
        uint32_t lo;
        r->pos += 2;
        if (!read_hex4(r, &lo)) return false;
        if (lo >= 0xDC00 && lo <= 0xDFFF)
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        else
            r->pos = save;
    }
    /* A lone surrogate cannot be UTF-8; it becomes U+FFFD. */
    if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
    jb_put_utf8(b, cp);
    return true;
}

static bool read_string(reader *r, jv *out) {
    r->pos++; /* opening quote */
    jx_buf b;
    jb_init(&b, 0);
    size_t run = r->pos;
    for (;;) {
        if (r->pos >= r->len) {
            jb_free(&b);
            return fail_at(r, "unterminated string");
        }
        unsigned char c = (unsigned char)r->s[r->pos];
        if (c == '"' || c == '\\' || c < 0x20) {
            jb_put(&b, r->s + run, r->pos - run);
            if (c == '"') break;
            if (c < 0x20) {
                jb_free(&b);
                return fail_at(r, "control character in string");
            }
            r->pos++;
            if (r->pos >= r->len || !read_escape(r, &b)) {
                jb_free(&b);
                return fail_at(r, "unterminated string");
            }
            run = r->pos;
            continue;
        }
        r->pos++;
    }
    r->pos++;
    if (b.overflow) {
        jb_free(&b);
        return fail_at(r, "string too long");
    }
    if (!utf8_valid(b.data ? b.data : "", b.len)) {
        jb_free(&b);
        return fail_at(r, "string is not valid UTF-8");
    }
    *out = jb_take_str(&b);
    return true;
}

static bool read_number(reader *r, jv *out) {
    size_t start = r->pos;
    bool is_float = false;
    if (r->s[r->pos] == '-') r->pos++;
    if (literal(r, "Infinity")) {
        *out = jv_float(r->s[start] == '-' ? -INFINITY : INFINITY);
        return true;
    }
    if (r->pos >= r->len || r->s[r->pos] < '0' || r->s[r->pos] > '9')
        return fail_at(r, "invalid number");
    if (r->s[r->pos] == '0')
        r->pos++;
    else
        while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9')
            r->pos++;
    if (r->pos < r->len && r->s[r->pos] == '.') {
        is_float = true;
        r->pos++;
        if (r->pos >= r->len || r->s[r->pos] < '0' || r->s[r->pos] > '9')
            return fail_at(r, "invalid number");
        while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9')
            r->pos++;
    }
    if (r->pos < r->len && (r->s[r->pos] == 'e' || r->s[r->pos] == 'E')) {
        is_float = true;
        r->pos++;
        if (r->pos < r->len && (r->s[r->pos] == '+' || r->s[r->pos] == '-')) r->pos++;
        if (r->pos >= r->len || r->s[r->pos] < '0' || r->s[r->pos] > '9')
            return fail_at(r, "invalid number");
        while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9')
            r->pos++;
    }
    char tmp[64];
    size_t n = r->pos - start;
    char *buf = n < sizeof tmp ? tmp : jx_alloc(n + 1);
    memcpy(buf, r->s + start, n);
    buf[n] = '\0';
    if (!is_float) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        /* Integers beyond 64 bits (Python has no limit) fall back to the nearest double. */
        if (errno == 0)
            *out = jv_int(v);
        else
            is_float = true;
    }
    if (is_float) *out = jv_float(strtod(buf, NULL));
    if (buf != tmp) jx_free(buf);
    return true;
}

static bool read_value(reader *r, jv *out, int depth);

static bool read_array(reader *r, jv *out, int depth) {
    r->pos++;
    jv list = jv_list(0);
    skip_ws(r);
    if (r->pos < r->len && r->s[r->pos] == ']') {
        r->pos++;
        *out = list;
        return true;
    }
    for (;;) {
        jv item;
        if (!read_value(r, &item, depth + 1)) break;
        jv_list_push_take(list, item);
        skip_ws(r);
        if (r->pos < r->len && r->s[r->pos] == ',') {
            r->pos++;
            continue;
        }
        if (r->pos < r->len && r->s[r->pos] == ']') {
            r->pos++;
            *out = list;
            return true;
        }
        fail_at(r, "expected ',' or ']'");
        break;
    }
    jv_release(list);
    return false;
}

static bool read_object(reader *r, jv *out, int depth) {
    r->pos++;
    jv dict = jv_dict();
    skip_ws(r);
    if (r->pos < r->len && r->s[r->pos] == '}') {
        r->pos++;
        *out = dict;
        return true;
    }
    for (;;) {
        jv key, val;
        skip_ws(r);
        if (r->pos >= r->len || r->s[r->pos] != '"') {
            fail_at(r, "expected a string key");
            break;
        }
        if (!read_string(r, &key)) break;
        skip_ws(r);
        if (r->pos >= r->len || r->s[r->pos] != ':') {
            jv_release(key);
            fail_at(r, "expected ':'");
            break;
        }
        r->pos++;
        if (!read_value(r, &val, depth + 1)) {
            jv_release(key);
            break;
        }
        jv_dict_set_take(dict, key, val);
        skip_ws(r);
        if (r->pos < r->len && r->s[r->pos] == ',') {
            r->pos++;
            continue;
        }
        if (r->pos < r->len && r->s[r->pos] == '}') {
            r->pos++;
            *out = dict;
            return true;
        }
        fail_at(r, "expected ',' or '}'");
        break;
    }
    jv_release(dict);
    return false;
}

static bool read_value(reader *r, jv *out, int depth) {
    if (depth > JX_MAX_JSON_DEPTH) return fail_at(r, "nested too deeply");
    skip_ws(r);
    if (r->pos >= r->len) return fail_at(r, "unexpected end of input");
    char c = r->s[r->pos];
    if (c == '{') return read_object(r, out, depth);
    if (c == '[') return read_array(r, out, depth);
    if (c == '"') return read_string(r, out);
    if (c == '-' || (c >= '0' && c <= '9')) return read_number(r, out);
    if (literal(r, "true"))
        *out = jv_bool(true);
    else if (literal(r, "false"))
        *out = jv_bool(false);
    else if (literal(r, "null"))
        *out = jv_none();
    else if (literal(r, "NaN"))
        *out = jv_float(NAN);
    else if (literal(r, "Infinity"))
        *out = jv_float(INFINITY);
    else
        return fail_at(r, "unexpected character");
    return true;
}

bool jx_json_parse(const char *s, size_t len, jv *out, char *err, size_t err_size) {
    reader r = {.s = s, .len = len, .err = err, .err_size = err_size};
    jv v;
    if (!read_value(&r, &v, 0)) return false;
    skip_ws(&r);
    if (r.pos != len) {
        jv_release(v);
        return fail_at(&r, "extra data after the value");
    }
    *out = v;
    return true;
}

/* ------------------------------------------------------------------ writer */

jx_json_opts jx_json_default_opts(const char *indent) {
    return (jx_json_opts){
        .indent = indent,
        .item_sep = indent ? "," : ", ",
        .key_sep = ": ",
    };
}

typedef struct writer {
    jx_buf *b;
    const jx_json_opts *o;
    char *err;
    size_t err_size;
} writer;

static bool type_error(writer *w, jv v) {
    snprintf(w->err, w->err_size, "Object of type %s is not JSON serializable", jv_type_name(v));
    return false;
}

static void write_json_string(writer *w, const char *s, size_t len) {
    jx_buf *b = w->b;
    jb_putc(b, '"');
    size_t run = 0, i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            break;
        }
        if (!esc && c >= 0x20 && (c < 0x80 || !w->o->ensure_ascii)) {
            i++;
            continue;
        }
        jb_put(b, s + run, i - run);
        if (esc) {
            jb_puts(b, esc);
            i++;
        } else if (c < 0x80) {
            jb_printf(b, "\\u%04x", c);
            i++;
        } else {
            uint32_t cp;
            i += utf8_next(s, len, i, &cp);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                jb_printf(b, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                jb_printf(b, "\\u%04x", cp);
            }
        }
        run = i;
    }
    jb_put(b, s + run, len - run);
    jb_putc(b, '"');
}

static void write_float(writer *w, double f) {
    if (isnan(f))
        jb_puts(w->b, "NaN");
    else if (isinf(f))
        jb_puts(w->b, f < 0 ? "-Infinity" : "Infinity");
    else
        jx_write_float(w->b, f);
}

static void newline_indent(writer *w, int level) {
    if (!w->o->indent) return;
    jb_putc(w->b, '\n');
    for (int i = 0; i < level; i++)
        jb_puts(w->b, w->o->indent);
}

static bool write_value(writer *w, jv v, int level);

/* Keys are converted as json.dumps does: str as is, numbers, booleans and None by their
 * JSON spelling. */
static bool write_key(writer *w, jv k) {
    switch (k.type) {
    case JV_STR:
        write_json_string(w, k.u.s->data, k.u.s->len);
        return true;
    case JV_NONE:
        jb_puts(w->b, "\"null\"");
        return true;
    case JV_BOOL:
        jb_puts(w->b, k.u.b ? "\"true\"" : "\"false\"");
        return true;
    case JV_INT:
        jb_printf(w->b, "\"%lld\"", (long long)k.u.i);
        return true;
    case JV_FLOAT:
        jb_putc(w->b, '"');
        write_float(w, k.u.f);
        jb_putc(w->b, '"');
        return true;
    default:
        snprintf(w->err, w->err_size, "keys must be str, int, float, bool or None, not %s",
                 jv_type_name(k));
        return false;
    }
}

static int cmp_slots(const jv *keys, size_t a, size_t b, bool *ok) {
    int c = 0;
    if (!jv_compare(keys[a], keys[b], &c)) *ok = false;
    return c;
}

/* Insertion sort of slot numbers by key: dicts from templates are small, and it keeps the
 * sort stable without a comparator context. */
static bool sorted_slots(writer *w, jdict *d, size_t *slots) {
    bool ok = true;
    for (size_t i = 0; i < d->n; i++)
        slots[i] = i;
    for (size_t i = 1; i < d->n; i++) {
        size_t s = slots[i], j = i;
        while (j > 0 && cmp_slots(d->keys, slots[j - 1], s, &ok) > 0) {
            slots[j] = slots[j - 1];
            j--;
        }
        slots[j] = s;
    }
    if (!ok) snprintf(w->err, w->err_size, "'<' not supported between dict keys of these types");
    return ok;
}

static bool write_dict(writer *w, jv v, int level) {
    jdict *d = v.u.d;
    if (d->ns) return type_error(w, v);
    if (d->n == 0) {
        jb_puts(w->b, "{}");
        return true;
    }
    size_t *slots = NULL;
    if (w->o->sort_keys) {
        slots = jx_alloc(d->n * sizeof *slots);
        if (!sorted_slots(w, d, slots)) {
            jx_free(slots);
            return false;
        }
    }
    bool ok = true;
    jb_putc(w->b, '{');
    for (size_t i = 0; i < d->n && ok; i++) {
        size_t s = slots ? slots[i] : i;
        if (i) jb_puts(w->b, w->o->item_sep);
        newline_indent(w, level + 1);
        ok = write_key(w, d->keys[s]);
        if (!ok) break;
        jb_puts(w->b, w->o->key_sep);
        ok = write_value(w, d->vals[s], level + 1);
    }
    jx_free(slots);
    if (!ok) return false;
    newline_indent(w, level);
    jb_putc(w->b, '}');
    return true;
}

static bool write_list(writer *w, jv v, int level) {
    jlist *l = v.u.l;
    if (l->gen) return type_error(w, v);
    if (l->n == 0) {
        jb_puts(w->b, "[]");
        return true;
    }
    jb_putc(w->b, '[');
    for (size_t i = 0; i < l->n; i++) {
        if (i) jb_puts(w->b, w->o->item_sep);
        newline_indent(w, level + 1);
        if (!write_value(w, l->items[i], level + 1)) return false;
    }
    newline_indent(w, level);
    jb_putc(w->b, ']');
    return true;
}

static bool write_value(writer *w, jv v, int level) {
    if (level > JX_MAX_JSON_DEPTH) {
        snprintf(w->err, w->err_size, "Circular reference detected");
        return false;
    }
    if (w->b->overflow) {
        snprintf(w->err, w->err_size, "JSON text longer than %zu bytes", w->b->limit);
        return false;
    }
    switch (v.type) {
    case JV_NONE:
        jb_puts(w->b, "null");
        return true;
    case JV_BOOL:
        jb_puts(w->b, v.u.b ? "true" : "false");
        return true;
    case JV_INT:
        jb_printf(w->b, "%lld", (long long)v.u.i);
        return true;
    case JV_FLOAT:
        write_float(w, v.u.f);
        return true;
    case JV_STR:
        write_json_string(w, v.u.s->data, v.u.s->len);
        return true;
    case JV_LIST:
        return write_list(w, v, level);
    case JV_DICT:
        return write_dict(w, v, level);
    default:
        return type_error(w, v);
    }
}

bool jx_json_dump(jx_buf *b, jv v, const jx_json_opts *opts, char *err, size_t err_size) {
    writer w = {.b = b, .o = opts, .err = err, .err_size = err_size};
    if (!write_value(&w, v, 0)) return false;
    if (b->overflow) {
        snprintf(err, err_size, "JSON text longer than %zu bytes", b->limit);
        return false;
    }
    return true;
}
