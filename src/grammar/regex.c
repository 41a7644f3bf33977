/* JSON Schema `pattern` (an ECMA-262 regular expression, JSON Schema 2020-12 section 6.3.3) to
 * GBNF, for the subset that is a regular language: literals, escapes (\d \w \s and their
 * negations, \n \t \xHH \uHHHH ...), classes with ranges and negation, `.`, groups `( )` and
 * `(?: )`, alternation, and the quantifiers * + ? {m} {m,} {m,n} (lazy forms match the same
 * strings). Back-references, lookaround, word boundaries and anchors inside the pattern are
 * refused with an error naming them. The pattern matches anywhere in the string unless it is
 * anchored, so an unanchored side gets "any characters". Every character is written the way
 * JSON encodes it inside a string (sc_json_class). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"
#include "grammar/schema_impl.h"

typedef struct rx {
    const char *s, *p, *end;
    bb_strbuf *out;
    char *err;
    size_t cap;
    bool failed;
    int depth;
} rx;

typedef struct rset {
    uint32_t (*r)[2];
    size_t n, cap;
} rset;

static bool rx_fail(rx *x, const char *what) {
    if (!x->failed)
        snprintf(x->err, x->cap, "%s at character %zu of the pattern", what,
                 (size_t)(x->p - x->s) + 1);
    x->failed = true;
    return false;
}

static bool rs_add(rset *s, uint32_t lo, uint32_t hi) {
    if (s->n == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 8;
        void *q = c < (1u << 20) ? realloc(s->r, c * sizeof *s->r) : NULL;
        if (!q) return false;
        s->r = q;
        s->cap = c;
    }
    s->r[s->n][0] = lo;
    s->r[s->n][1] = hi;
    s->n++;
    return true;
}

static int cmp_pair(const void *a, const void *b) {
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void rs_normalize(rset *s) {
    if (!s->n) return;
    qsort(s->r, s->n, sizeof *s->r, cmp_pair);
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (m && s->r[i][0] <= s->r[m - 1][1] + 1) {
            if (s->r[i][1] > s->r[m - 1][1]) s->r[m - 1][1] = s->r[i][1];
        } else {
            s->r[m][0] = s->r[i][0];
            s->r[m][1] = s->r[i][1];
            m++;
        }
    }
    s->n = m;
}

/* The complement within the Unicode scalar values (surrogates excluded). */
static bool rs_negate(rset *s) {
    rs_normalize(s);
    rset o = {0};
    uint32_t cur = 0;
    bool ok = true;
    for (size_t i = 0; i < s->n && ok; i++) {
        if (s->r[i][0] > cur) ok = rs_add(&o, cur, s->r[i][0] - 1);
        cur = s->r[i][1] + 1;
    }
    if (ok && cur <= 0x10ffff) ok = rs_add(&o, cur, 0x10ffff);
    free(s->r);
    *s = o;
    return ok;
}

static void put_cp(bb_strbuf *out, uint32_t cp) {
    if (cp < 0x100)
        bb_strbuf_printf(out, "\\x%02X", cp);
    else if (cp < 0x10000)
        bb_strbuf_printf(out, "\\u%04X", cp);
    else
        bb_strbuf_printf(out, "\\U%08X", cp);
}

void sc_json_class(const uint32_t (*ranges)[2], size_t n, bb_strbuf *out) {
    /* What JSON cannot write as itself inside a string, and what is no character at all. */
    static const uint32_t cut[4][2] = {{0, 0x1f}, {0x22, 0x22}, {0x5c, 0x5c}, {0xd800, 0xdfff}};
    bool first = true, plain = false;
    bb_strbuf_append(out, "(", 1);
    for (size_t i = 0; i < n; i++) {
        uint32_t a = ranges[i][0], hi = ranges[i][1];
        for (int k = 0; k <= 4 && a <= hi; k++) {
            uint32_t b = k < 4 && cut[k][0] <= hi ? cut[k][0] : hi + 1; /* piece [a, b) */
            if (k < 4 && cut[k][1] < a) continue;
            if (b > a) {
                if (!plain) bb_strbuf_append(out, "[", 1);
                plain = true;
                put_cp(out, a);
                if (b - 1 > a) {
                    bb_strbuf_append(out, "-", 1);
                    put_cp(out, b - 1);
                }
            }
            if (k == 4 || cut[k][1] >= hi) break;
            if (cut[k][1] + 1 > a) a = cut[k][1] + 1;
        }
    }
    if (plain) {
        bb_strbuf_append(out, "]", 1);
        first = false;
    }
    for (size_t i = 0; i < n; i++)
        for (uint32_t c = ranges[i][0]; c <= ranges[i][1] && c <= 0x5c; c++) {
            if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
            if (!first) bb_strbuf_append(out, " | ", 3);
            first = false;
            if (c == 0x22)
                bb_strbuf_append(out, "\"\\\\\\\"\"", 6);
            else if (c == 0x5c)
                bb_strbuf_append(out, "\"\\\\\\\\\"", 6);
            else
                bb_strbuf_printf(out, "\"\\\\u%04x\"", c);
        }
    bb_strbuf_append(out, ")", 1);
}

static bool emit_set(rx *x, rset *s) {
    rs_normalize(s);
    if (s->n == 0) return rx_fail(x, "a character class that matches nothing");
    sc_json_class((const uint32_t(*)[2])s->r, s->n, x->out);
    return true;
}

static int hexv(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool utf8_cp(rx *x, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)x->p;
    unsigned char c = s[0];
    int n = c < 0x80             ? 1
            : (c & 0xe0) == 0xc0 ? 2
            : (c & 0xf0) == 0xe0 ? 3
            : (c & 0xf8) == 0xf0 ? 4
                                 : 0;
    if (!n || x->end - x->p < n) return rx_fail(x, "invalid UTF-8");
    uint32_t v = n == 1 ? c : c & (0x7fu >> n);
    for (int i = 1; i < n; i++)
        v = v << 6 | (s[i] & 0x3fu);
    x->p += n;
    *cp = v;
    return true;
}

/* A class escape (\d \w \s, negated forms) into s; *single gets a plain escaped character. */
static bool escape(rx *x, rset *s, bool *is_set, uint32_t *single) {
    x->p++; /* the backslash */
    if (x->p >= x->end) return rx_fail(x, "a trailing '\\'");
    char c = *x->p++;
    *is_set = false;
    bool neg = c == 'D' || c == 'W' || c == 'S';
    switch (c) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 's':
    case 'S': {
        rset t = {0};
        bool ok;
        if (c == 'd' || c == 'D')
            ok = rs_add(&t, '0', '9');
        else if (c == 'w' || c == 'W')
            ok = rs_add(&t, '0', '9') && rs_add(&t, 'A', 'Z') && rs_add(&t, 'a', 'z') &&
                 rs_add(&t, '_', '_');
        else
            ok = rs_add(&t, '\t', '\r') && rs_add(&t, ' ', ' ') && rs_add(&t, 0xa0, 0xa0) &&
                 rs_add(&t, 0x2028, 0x2029) && rs_add(&t, 0xfeff, 0xfeff);
        if (ok && neg) ok = rs_negate(&t);
        for (size_t i = 0; ok && i < t.n; i++)
            ok = rs_add(s, t.r[i][0], t.r[i][1]);
        free(t.r);
        if (!ok) return rx_fail(x, "out of memory");
        *is_set = true;
        return true;
    }
    case 'n':
        *single = '\n';
        return true;
    case 'r':
        *single = '\r';
        return true;
    case 't':
        *single = '\t';
        return true;
    case 'f':
        *single = '\f';
        return true;
    case 'v':
        *single = '\v';
        return true;
    case '0':
        *single = 0;
        return true;
    case 'x':
    case 'u': {
        int digits = c == 'x' ? 2 : 4;
        uint32_t v = 0;
        for (int i = 0; i < digits; i++) {
            int h = x->p < x->end ? hexv(*x->p) : -1;
            if (h < 0) return rx_fail(x, "a malformed \\x or \\u escape");
            v = v << 4 | (uint32_t)h;
            x->p++;
        }
        *single = v;
        return true;
    }
    case 'b':
    case 'B':
        x->p -= 2;
        return rx_fail(x, "word boundaries (\\b, \\B) are not supported");
    case 'c':
    case 'k':
    case 'p':
    case 'P':
        x->p -= 2;
        return rx_fail(x, "this escape is not supported");
    default:
        if (c >= '1' && c <= '9') {
            x->p -= 2;
            return rx_fail(x, "back-references are not supported");
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            x->p -= 2;
            return rx_fail(x, "unknown escape");
        }
        x->p--;
        return utf8_cp(x, single); /* an escaped punctuation character stands for itself */
    }
}

static bool parse_class(rx *x) {
    x->p++; /* [ */
    bool neg = x->p < x->end && *x->p == '^';
    if (neg) x->p++;
    rset s = {0};
    bool ok = true;
    while (ok && x->p < x->end && *x->p != ']') {
        uint32_t lo, hi;
        bool is_set = false;
        if (*x->p == '\\')
            ok = escape(x, &s, &is_set, &lo);
        else
            ok = utf8_cp(x, &lo);
        if (!ok || is_set) continue;
        hi = lo;
        if (x->p + 1 < x->end && *x->p == '-' && x->p[1] != ']') {
            x->p++;
            bool is_set2 = false;
            if (*x->p == '\\')
                ok = escape(x, &s, &is_set2, &hi);
            else
                ok = utf8_cp(x, &hi);
            if (ok && is_set2) ok = rx_fail(x, "a range ending in a class escape");
            if (ok && hi < lo) ok = rx_fail(x, "a backwards character range");
        }
        if (ok && !rs_add(&s, lo, hi)) ok = rx_fail(x, "out of memory");
    }
    if (ok && x->p >= x->end) ok = rx_fail(x, "an unterminated character class");
    if (ok) x->p++;
    if (ok && neg && !rs_negate(&s)) ok = rx_fail(x, "out of memory");
    if (ok) ok = emit_set(x, &s);
    free(s.r);
    return ok;
}

static bool parse_alt(rx *x);

static bool parse_count(rx *x, unsigned long *v) {
    if (x->p >= x->end || *x->p < '0' || *x->p > '9') return false;
    *v = 0;
    while (x->p < x->end && *x->p >= '0' && *x->p <= '9') {
        *v = *v * 10 + (unsigned long)(*x->p++ - '0');
        if (*v > BB_GRAMMAR_MAX_REPEAT) return rx_fail(x, "a repetition count above the limit");
    }
    return true;
}

/* {m}, {m,}, {m,n} when what follows '{' is one; otherwise '{' is a literal, as in ECMA-262's
 * Annex B. */
static bool try_braces(rx *x, bool *is_quant) {
    const char *save = x->p;
    unsigned long m, n;
    x->p++;
    *is_quant = false;
    if (!parse_count(x, &m)) {
        x->p = save;
        return !x->failed;
    }
    bool comma = x->p < x->end && *x->p == ',';
    if (comma) x->p++;
    bool has_n = comma && parse_count(x, &n);
    if (x->failed) return false;
    if (x->p >= x->end || *x->p != '}') {
        x->p = save;
        return true;
    }
    x->p++;
    if (has_n && n < m) return rx_fail(x, "a repetition whose maximum is below its minimum");
    *is_quant = true;
    if (!comma)
        bb_strbuf_printf(x->out, "{%lu}", m);
    else if (!has_n)
        bb_strbuf_printf(x->out, "{%lu,}", m);
    else
        bb_strbuf_printf(x->out, "{%lu,%lu}", m, n);
    return true;
}

static bool parse_seq(rx *x) {
    bool any = false;
    while (x->p < x->end && *x->p != '|' && *x->p != ')') {
        char c = *x->p;
        if (c == '*' || c == '+' || c == '?')
            return rx_fail(x, "a quantifier with nothing to repeat");
        if (c == '^' || c == '$')
            return rx_fail(x, "an anchor ('^' or '$') inside the pattern is not supported");
        bb_strbuf_append(x->out, any ? " " : "", any ? 1 : 0);
        any = true;
        if (c == '(') {
            x->p++;
            if (x->p < x->end && *x->p == '?') {
                if (x->p + 1 < x->end && x->p[1] == ':')
                    x->p += 2;
                else
                    return rx_fail(x, "lookaround and named groups are not supported");
            }
            if (++x->depth > 200) return rx_fail(x, "groups nested too deeply");
            bb_strbuf_append(x->out, "(", 1);
            if (!parse_alt(x)) return false;
            x->depth--;
            if (x->p >= x->end || *x->p != ')') return rx_fail(x, "an unclosed '('");
            x->p++;
            bb_strbuf_append(x->out, ")", 1);
        } else if (c == '[') {
            if (!parse_class(x)) return false;
        } else if (c == '.') {
            x->p++;
            rset s = {0};
            bool ok = rs_add(&s, '\n', '\n') && rs_add(&s, '\r', '\r') &&
                      rs_add(&s, 0x2028, 0x2029) && rs_negate(&s);
            ok = ok ? emit_set(x, &s) : rx_fail(x, "out of memory");
            free(s.r);
            if (!ok) return false;
        } else {
            rset s = {0};
            uint32_t cp = 0;
            bool is_set = false, ok;
            if (c == '\\')
                ok = escape(x, &s, &is_set, &cp);
            else if (c == '{') {
                x->p++;
                cp = '{';
                ok = true;
            } else
                ok = utf8_cp(x, &cp);
            if (ok && !is_set) ok = rs_add(&s, cp, cp) || rx_fail(x, "out of memory");
            if (ok) ok = emit_set(x, &s);
            free(s.r);
            if (!ok) return false;
        }
        /* quantifiers */
        if (x->p < x->end) {
            char q = *x->p;
            bool quant = false;
            if (q == '*' || q == '+' || q == '?') {
                bb_strbuf_append(x->out, x->p, 1);
                x->p++;
                quant = true;
            } else if (q == '{') {
                if (!try_braces(x, &quant)) return false;
            }
            if (quant && x->p < x->end && *x->p == '?') x->p++; /* lazy: the same strings */
            if (quant && x->p < x->end && (*x->p == '*' || *x->p == '+' || *x->p == '?'))
                return rx_fail(x, "a quantifier with nothing to repeat");
        }
    }
    if (!any) bb_strbuf_append(x->out, "\"\"", 2);
    return true;
}

static bool parse_alt(rx *x) {
    if (!parse_seq(x)) return false;
    while (x->p < x->end && *x->p == '|') {
        x->p++;
        bb_strbuf_append(x->out, " | ", 3);
        if (!parse_seq(x)) return false;
    }
    return true;
}

bool sc_regex_to_gbnf(const char *re, const char *jchar, bb_strbuf *out, char *err, size_t cap) {
    size_t len = strlen(re);
    rx x = {.s = re, .p = re, .end = re + len, .out = out, .err = err, .cap = cap};
    bool start = len && re[0] == '^';
    bool end = len >= 2 && re[len - 1] == '$' && re[len - 2] != '\\';
    if (len == 1 && re[0] == '$') end = true;
    if (start) x.p++;
    if (end) x.end--;
    if (x.p > x.end) x.p = x.end;
    bb_strbuf_append(out, "(", 1);
    if (!start) bb_strbuf_printf(out, "%s* ", jchar);
    bb_strbuf_append(out, "(", 1);
    if (!parse_alt(&x)) return false;
    if (x.p < x.end) return rx_fail(&x, "an unmatched ')'");
    bb_strbuf_append(out, ")", 1);
    if (!end) bb_strbuf_printf(out, " %s*", jchar);
    bb_strbuf_append(out, ")", 1);
    return true;
}
