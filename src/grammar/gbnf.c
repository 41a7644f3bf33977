/* GBNF, llama.cpp's grammar format (llama.cpp grammars/README.md), parsed into the builder:
 *
 *   rule     ::= name "::=" alternatives          (a rule ends at the end of its line, unless
 *                                                  inside parentheses or continued by "|")
 *   items    "literal"  [class]  [^negated]  .  name  ( group )
 *   suffixes *  +  ?  {m}  {m,}  {m,n}
 *   escapes  \n \r \t \\ \" \[ \] \- \^ \xHH \uHHHH \UHHHHHHHH   comments  # to end of line
 *
 * Literals and classes are Unicode: the source is UTF-8 and matching is by code point.
 * Groups and repetitions become auxiliary rules (x* is R ::= x R | "", x{2,4} is x x R2 with
 * R2 ::= x R1 | "", R1 ::= x | ""), so the matcher only sees rules, references and classes.
 * Every error says where: "line L, column C: ...". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "grammar/grammar_impl.h"

typedef struct parser {
    const char *src, *p, *end;
    g_builder *b;
    bb_error *err;
    bool failed;
    int depth; /* of parentheses: bounded, so input cannot exhaust the stack */
} parser;

static void where(const parser *ps, const char *at, uint32_t *line, uint32_t *col) {
    *line = 1;
    *col = 1;
    for (const char *q = ps->src; q < at && q < ps->end; q++) {
        if (*q == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*q & 0xc0) != 0x80) {
            (*col)++;
        }
    }
}

__attribute__((format(printf, 3, 4))) static bool fail(parser *ps, const char *at, const char *fmt,
                                                       ...) {
    if (ps->failed) return false;
    ps->failed = true;
    uint32_t line, col;
    where(ps, at, &line, &col);
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bb_fail(ps->err, BB_ERR_INVALID_ARGUMENT, "grammar: line %u, column %u: %s", line, col, msg);
    return false;
}

static bool oom(parser *ps) {
    return fail(ps, ps->p, "the grammar is too large or out of memory");
}

static bool is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Spaces, tabs and comments; newlines too when `newlines`. */
static void skip_space(parser *ps, bool newlines) {
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || (newlines && (c == '\n' || c == '\r'))) {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
        } else if (c == '\r' && ps->p + 1 < ps->end && ps->p[1] == '\n' && newlines) {
            ps->p++;
        } else {
            break;
        }
    }
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One UTF-8 code point of the source. */
static bool decode_utf8(parser *ps, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)ps->p;
    size_t left = (size_t)(ps->end - ps->p);
    unsigned char c = s[0];
    int n = c < 0x80             ? 1
            : (c & 0xe0) == 0xc0 ? 2
            : (c & 0xf0) == 0xe0 ? 3
            : (c & 0xf8) == 0xf0 ? 4
                                 : 0;
    if (!n || (size_t)n > left) return fail(ps, ps->p, "invalid UTF-8 in the grammar");
    uint32_t v = n == 1 ? c : n == 2 ? c & 0x1fu : n == 3 ? c & 0x0fu : c & 0x07u;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return fail(ps, ps->p, "invalid UTF-8 in the grammar");
        v = v << 6 | (s[i] & 0x3fu);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return fail(ps, ps->p, "invalid UTF-8 in the grammar");
    ps->p += n;
    *cp = v;
    return true;
}

/* A character of a literal or class, escapes decoded. */
static bool parse_char(parser *ps, uint32_t *cp) {
    if (ps->p >= ps->end) return fail(ps, ps->p, "unexpected end of the grammar");
    if (*ps->p != '\\') return decode_utf8(ps, cp);
    const char *at = ps->p++;
    if (ps->p >= ps->end) return fail(ps, at, "unexpected end of the grammar after '\\'");
    char c = *ps->p++;
    int digits = 0;
    switch (c) {
    case 'n':
        *cp = '\n';
        return true;
    case 'r':
        *cp = '\r';
        return true;
    case 't':
        *cp = '\t';
        return true;
    case '\\':
    case '"':
    case '[':
    case ']':
    case '-':
    case '^':
    case '/':
    case '.':
        *cp = (unsigned char)c;
        return true;
    case 'x':
        digits = 2;
        break;
    case 'u':
        digits = 4;
        break;
    case 'U':
        digits = 8;
        break;
    default:
        return fail(ps, at, "unknown escape '\\%c'", c);
    }
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        int h = ps->p < ps->end ? hexval(*ps->p) : -1;
        if (h < 0) return fail(ps, at, "'\\%c' needs %d hexadecimal digits", c, digits);
        v = v << 4 | (uint32_t)h;
        ps->p++;
    }
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return fail(ps, at, "'\\%c' escape U+%X is not a Unicode scalar value", c, v);
    *cp = v;
    return true;
}

static bool push_class(parser *ps, uint32_t rule, const g_range *r, size_t n, bool neg) {
    int64_t c = gb_class(ps->b, r, n, neg);
    if (c < 0 || !gb_push(ps->b, rule, g_elem(G_TERM, (uint32_t)c))) return oom(ps);
    return true;
}

static bool parse_literal(parser *ps, uint32_t rule) {
    const char *at = ps->p++; /* the opening quote */
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p == '\n') return fail(ps, at, "unterminated string literal");
        uint32_t cp;
        if (!parse_char(ps, &cp)) return false;
        g_range r = {cp, cp};
        if (!push_class(ps, rule, &r, 1, false)) return false;
    }
    if (ps->p >= ps->end) return fail(ps, at, "unterminated string literal");
    ps->p++;
    return true;
}

static bool parse_class(parser *ps, uint32_t rule) {
    const char *at = ps->p++;
    bool neg = ps->p < ps->end && *ps->p == '^';
    if (neg) ps->p++;
    g_range *r = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    while (ok && ps->p < ps->end && *ps->p != ']') {
        if (*ps->p == '\n') {
            ok = fail(ps, at, "unterminated character class");
            break;
        }
        uint32_t lo, hi;
        if (!parse_char(ps, &lo)) {
            ok = false;
            break;
        }
        hi = lo;
        if (ps->p + 1 < ps->end && *ps->p == '-' && ps->p[1] != ']') {
            const char *dash = ps->p++;
            if (!parse_char(ps, &hi)) {
                ok = false;
                break;
            }
            if (hi < lo) {
                ok = fail(ps, dash, "character range is backwards (U+%04X-U+%04X)", lo, hi);
                break;
            }
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            g_range *q = cap < (1u << 24) ? realloc(r, cap * sizeof *r) : NULL;
            if (!q) {
                ok = oom(ps);
                break;
            }
            r = q;
        }
        r[n++] = (g_range){lo, hi};
    }
    if (ok && ps->p >= ps->end) ok = fail(ps, at, "unterminated character class");
    if (ok && n == 0) ok = fail(ps, at, "empty character class");
    if (ok) {
        ps->p++;
        ok = push_class(ps, rule, r, n, neg);
    }
    free(r);
    return ok;
}

static bool parse_alternates(parser *ps, uint32_t rule, bool nested);

/* Copies elements [from, to) of rule src onto rule dst. */
static bool copy_elems(parser *ps, uint32_t dst, const uint32_t *el, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!gb_push(ps->b, dst, el[i])) return oom(ps);
    return true;
}

static bool parse_count(parser *ps, uint64_t *v) {
    const char *at = ps->p;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return fail(ps, at, "expected a number in the repetition");
    *v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        *v = *v * 10 + (uint64_t)(*ps->p++ - '0');
        if (*v > BB_GRAMMAR_MAX_REPEAT)
            return fail(ps, at, "repetition count above the limit of %d", BB_GRAMMAR_MAX_REPEAT);
    }
    return true;
}

/* Applies x{min,max} (max UINT64_MAX: unbounded) to the item at el[start..] of rule. */
static bool repeat(parser *ps, uint32_t rule, size_t start, uint64_t min, uint64_t max) {
    g_builder *b = ps->b;
    size_t n_item = b->rules[rule].n - start;
    uint32_t item;
    if (n_item == 1) {
        item = b->rules[rule].el[start];
    } else { /* a sequence: one rule, so each copy is a single reference */
        int64_t r = gb_aux_rule(b, rule);
        if (r < 0 || !copy_elems(ps, (uint32_t)r, b->rules[rule].el + start, n_item))
            return oom(ps);
        item = g_elem(G_REF, (uint32_t)r);
    }
    b->total_elems -= b->rules[rule].n - start;
    b->rules[rule].n = start;
    for (uint64_t i = 0; i < min; i++)
        if (!gb_push(b, rule, item)) return oom(ps);
    if (max == min) return true;
    int64_t tail;
    if (max == UINT64_MAX) { /* R ::= item R | "" */
        tail = gb_aux_rule(b, rule);
        if (tail < 0 || !gb_push(b, (uint32_t)tail, item) ||
            !gb_push(b, (uint32_t)tail, g_elem(G_REF, (uint32_t)tail)) ||
            !gb_push(b, (uint32_t)tail, g_elem(G_ALT, 0)))
            return oom(ps);
    } else { /* R1 ::= item | "",  Rk ::= item Rk-1 | "" */
        tail = -1;
        for (uint64_t k = 0; k < max - min; k++) {
            int64_t r = gb_aux_rule(b, rule);
            if (r < 0 || !gb_push(b, (uint32_t)r, item) ||
                (tail >= 0 && !gb_push(b, (uint32_t)r, g_elem(G_REF, (uint32_t)tail))) ||
                !gb_push(b, (uint32_t)r, g_elem(G_ALT, 0)))
                return oom(ps);
            tail = r;
        }
    }
    if (!gb_push(b, rule, g_elem(G_REF, (uint32_t)tail))) return oom(ps);
    return true;
}

static bool parse_suffix(parser *ps, uint32_t rule, size_t start) {
    const char *at = ps->p;
    char c = *ps->p;
    if (c == '*') {
        ps->p++;
        return repeat(ps, rule, start, 0, UINT64_MAX);
    }
    if (c == '+') {
        ps->p++;
        return repeat(ps, rule, start, 1, UINT64_MAX);
    }
    if (c == '?') {
        ps->p++;
        return repeat(ps, rule, start, 0, 1);
    }
    ps->p++; /* '{' */
    skip_space(ps, false);
    uint64_t min, max;
    if (!parse_count(ps, &min)) return false;
    skip_space(ps, false);
    max = min;
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        skip_space(ps, false);
        max = UINT64_MAX;
        if (ps->p < ps->end && *ps->p != '}' && !parse_count(ps, &max)) return false;
        skip_space(ps, false);
    }
    if (ps->p >= ps->end || *ps->p != '}') return fail(ps, at, "expected '}' to close '{'");
    ps->p++;
    if (max < min)
        return fail(ps, at, "repetition {%llu,%llu}: the maximum is below the minimum",
                    (unsigned long long)min, (unsigned long long)max);
    return repeat(ps, rule, start, min, max);
}

static bool parse_sequence(parser *ps, uint32_t rule, bool nested) {
    g_builder *b = ps->b;
    size_t last = SIZE_MAX; /* where the last item starts, for a suffix */
    while (ps->p < ps->end && !ps->failed) {
        char c = *ps->p;
        size_t start = b->rules[rule].n;
        if (c == '"') {
            if (!parse_literal(ps, rule)) return false;
            /* A suffix applies to the literal as a whole. */
        } else if (c == '[') {
            if (!parse_class(ps, rule)) return false;
        } else if (c == '.') {
            ps->p++;
            g_range all = {0, 0x10ffff}; /* any code point */
            if (!push_class(ps, rule, &all, 1, false)) return false;
        } else if (c == '(') {
            const char *at = ps->p++;
            if (++ps->depth > 256) return fail(ps, at, "parentheses nested deeper than 256");
            int64_t sub = gb_aux_rule(b, rule);
            if (sub < 0) return oom(ps);
            skip_space(ps, true);
            if (!parse_alternates(ps, (uint32_t)sub, true)) return false;
            ps->depth--;
            if (ps->p >= ps->end || *ps->p != ')') return fail(ps, at, "unclosed '('");
            ps->p++;
            if (!gb_push(b, rule, g_elem(G_REF, (uint32_t)sub))) return oom(ps);
        } else if (is_word(c)) {
            const char *name = ps->p;
            while (ps->p < ps->end && is_word(*ps->p))
                ps->p++;
            int64_t r = gb_rule(b, name, (size_t)(ps->p - name));
            if (r < 0) return oom(ps);
            if (!b->rules[r].defined && b->rules[r].ref_line == 0)
                where(ps, name, &b->rules[r].ref_line, &b->rules[r].ref_col);
            if (!gb_push(b, rule, g_elem(G_REF, (uint32_t)r))) return oom(ps);
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            if (last == SIZE_MAX) return fail(ps, ps->p, "'%c' has nothing to repeat", c);
            if (!parse_suffix(ps, rule, last)) return false;
            skip_space(ps, nested);
            continue;
        } else {
            break;
        }
        last = start;
        skip_space(ps, nested);
    }
    return !ps->failed;
}

/* Whether a '|' continues the alternatives on a later line (a rule never starts with '|'). */
static bool continues(parser *ps) {
    const char *save = ps->p;
    skip_space(ps, true);
    if (ps->p < ps->end && *ps->p == '|') return true;
    ps->p = save;
    return false;
}

static bool parse_alternates(parser *ps, uint32_t rule, bool nested) {
    if (!parse_sequence(ps, rule, nested)) return false;
    while (ps->p < ps->end && (*ps->p == '|' || (!nested && continues(ps)))) {
        ps->p++;
        if (!gb_push(ps->b, rule, g_elem(G_ALT, 0))) return oom(ps);
        skip_space(ps, true);
        if (!parse_sequence(ps, rule, nested)) return false;
    }
    return true;
}

static bool parse_rule(parser *ps) {
    const char *name = ps->p;
    while (ps->p < ps->end && is_word(*ps->p))
        ps->p++;
    if (ps->p == name) return fail(ps, name, "expected a rule name");
    size_t len = (size_t)(ps->p - name);
    skip_space(ps, false);
    if (ps->end - ps->p < 3 || memcmp(ps->p, "::=", 3))
        return fail(ps, ps->p, "expected '::=' after rule name '%.*s'", (int)(len > 60 ? 60 : len),
                    name);
    ps->p += 3;
    int64_t r = gb_rule(ps->b, name, len);
    if (r < 0) return oom(ps);
    if (ps->b->rules[r].defined)
        return fail(ps, name, "rule '%.*s' is defined twice", (int)(len > 60 ? 60 : len), name);
    ps->b->rules[r].defined = true;
    skip_space(ps, true);
    if (!parse_alternates(ps, (uint32_t)r, false)) return false;
    if (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r') {
        if (*ps->p == ')') return fail(ps, ps->p, "unmatched ')'");
        return fail(ps, ps->p, "unexpected '%c'", *ps->p);
    }
    return true;
}

bb_status bb_grammar_parse_gbnf(const char *text, size_t len, const char *root, bb_grammar **out,
                                bb_error *err) {
    if (!out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_grammar_parse_gbnf: NULL out");
    *out = NULL;
    if (!text && len) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "grammar: NULL text");
    if (len > BB_GRAMMAR_MAX_SOURCE)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "grammar: %zu bytes, above the limit of %u",
                       len, BB_GRAMMAR_MAX_SOURCE);
    g_builder b = {0};
    parser ps = {.src = text ? text : "",
                 .p = text ? text : "",
                 .end = (text ? text : "") + len,
                 .b = &b,
                 .err = err};
    skip_space(&ps, true);
    while (ps.p < ps.end && !ps.failed) {
        if (!parse_rule(&ps)) break;
        skip_space(&ps, true);
    }
    if (ps.failed) {
        gb_free(&b);
        return BB_ERR_INVALID_ARGUMENT;
    }
    if (b.n_rules == 0) {
        gb_free(&b);
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "grammar: no rules");
    }
    bb_status st = gb_finish(&b, root ? root : "root", out, err);
    if (st != BB_OK && err && strncmp(err->message, "grammar: ", 9)) {
        char msg[sizeof err->message - 9];
        memcpy(msg, err->message, sizeof msg - 1);
        msg[sizeof msg - 1] = '\0';
        snprintf(err->message, sizeof err->message, "grammar: %s", msg);
    }
    return st;
}
