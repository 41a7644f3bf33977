/* Template tokenizer, after jinja2's lexer (jinja2/lexer.py) with Hugging Face's settings:
 * trim_blocks (the first newline after a block or comment tag is dropped), lstrip_blocks
 * (spaces and tabs from the start of a line up to a block or comment tag are dropped),
 * `{%-`/`-%}` style stripping of all whitespace before/after a tag, `+` to opt out, and
 * `{% raw %}`. Inside tags: names, strings (Python escapes), integers, floats, operators;
 * a tag only ends when its brackets are balanced, as in jinja2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/ast.h"
#include "chat/buf.h"
#include "chat/limits.h"
#include "chat/text.h"

typedef struct lexer {
    const char *s;
    size_t len, pos;
    int line;
    bool line_starting; /* the last token ended with a newline (jinja2's line_starting) */
    jx_arena *arena;
    jx_tokens *out;
    char *err;
    size_t err_size;
    char brackets[JX_MAX_PARSE_DEPTH];
    int nbrackets;
} lexer;

static bool lex_fail(lexer *L, const char *fmt, const char *arg) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    snprintf(L->err, L->err_size, "line %d: %s", L->line, msg);
    return false;
}

static jtoken *emit(lexer *L, tk_kind kind, int line) {
    jx_tokens *t = L->out;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        t->v = jx_realloc(t->v, t->cap * sizeof *t->v, cap * sizeof *t->v);
        t->cap = cap;
    }
    jtoken *tok = &t->v[t->n++];
    memset(tok, 0, sizeof *tok);
    tok->kind = kind;
    tok->line = line;
    return tok;
}

/* Moves to `to`, counting the newlines passed. */
static void advance(lexer *L, size_t to) {
    for (size_t i = L->pos; i < to; i++)
        L->line += L->s[i] == '\n';
    L->pos = to;
}

/* Length of the white space (str.isspace) at s[i..], or 0. */
static size_t space_at(const char *s, size_t len, size_t i) {
    uint32_t cp;
    size_t n = utf8_next(s, len, i, &cp);
    return uni_isspace(cp) ? n : 0;
}

static size_t skip_space(const char *s, size_t len, size_t i) {
    size_t n;
    while (i < len && (n = space_at(s, len, i)) > 0)
        i += n;
    return i;
}

/* str.rstrip(): the length of text without its trailing white space. */
static size_t rstrip_len(const char *s, size_t len) {
    while (len > 0) {
        size_t start = utf8_prev(s, len);
        uint32_t cp;
        utf8_next(s, len, start, &cp);
        if (!uni_isspace(cp)) break;
        len = start;
    }
    return len;
}

/* jinja2's OptionalLStrip: the text before a tag loses its trailing white space with `-`,
 * or with lstrip_blocks (block and comment tags, not `+`) the spaces and tabs that are all
 * there is between the last newline and the tag. */
static size_t strip_text(lexer *L, const char *text, size_t len, char sign, bool lstrip) {
    if (sign == '-') return rstrip_len(text, len);
    if (sign == '+' || !lstrip) return len;
    size_t l_pos = len;
    while (l_pos > 0 && text[l_pos - 1] != '\n')
        l_pos--;
    if (l_pos == 0 && !L->line_starting) return len;
    if (l_pos == len) return len;
    for (size_t i = l_pos; i < len;) {
        size_t n = space_at(text, len, i);
        if (!n) return len;
        i += n;
    }
    return l_pos;
}

static void emit_text(lexer *L, const char *text, size_t len, int line) {
    if (!len) return;
    jtoken *t = emit(L, TK_TEXT, line);
    t->s = text;
    t->len = len;
}

/* The end of a `%}` / `}}` / `#}` style delimiter at i with jinja2's suffix rules: `+` keeps
 * what follows, `-` eats all following white space, a plain block or comment end eats one
 * newline (trim_blocks). Returns the position after it, or 0 when there is none at i. */
static size_t match_end(lexer *L, size_t i, char c1, bool trim_newline) {
    const char *s = L->s;
    size_t len = L->len;
    if (i + 2 < len && (s[i] == '+' || s[i] == '-') && s[i + 1] == c1 && s[i + 2] == '}') {
        if (s[i] == '-') return skip_space(s, len, i + 3);
        if (c1 != '}') return i + 3; /* `+%}` and `+#}`; variables have no `+}}` */
    }
    if (i + 1 < len && s[i] == c1 && s[i + 1] == '}') {
        size_t end = i + 2;
        if (trim_newline && end < len && s[end] == '\n') end++;
        return end;
    }
    return 0;
}

static void finish_tag(lexer *L, size_t end) {
    L->line_starting = end > 0 && L->s[end - 1] == '\n';
    advance(L, end);
}

/* `{% raw %}` (with optional -/+ signs) at i: returns the position after it, or 0. */
static size_t match_raw_begin(lexer *L, size_t i) {
    const char *s = L->s;
    size_t len = L->len, p = i + 2;
    if (p < len && (s[p] == '-' || s[p] == '+')) p++;
    p = skip_space(s, len, p);
    if (len - p < 3 || memcmp(s + p, "raw", 3)) return 0;
    p = skip_space(s, len, p + 3);
    if (p + 2 < len && s[p] == '-' && s[p + 1] == '%' && s[p + 2] == '}')
        return skip_space(s, len, p + 3);
    if (p + 1 < len && s[p] == '%' && s[p + 1] == '}') return p + 2;
    return 0;
}

/* Finds `{% endraw %}` from i; sets *tag to where it starts and *sign to its -/+ sign. */
static size_t match_endraw(lexer *L, size_t i, size_t *tag, char *sign) {
    const char *s = L->s;
    size_t len = L->len;
    for (; i + 1 < len; i++) {
        if (s[i] != '{' || s[i + 1] != '%') continue;
        size_t p = i + 2;
        char sg = 0;
        if (p < len && (s[p] == '-' || s[p] == '+')) sg = s[p++];
        p = skip_space(s, len, p);
        if (len - p < 6 || memcmp(s + p, "endraw", 6)) continue;
        p = skip_space(s, len, p + 6);
        size_t end = match_end(L, p, '%', true);
        if (!end) continue;
        *tag = i;
        *sign = sg;
        return end;
    }
    return 0;
}

static bool lex_raw(lexer *L, size_t after_begin) {
    finish_tag(L, after_begin);
    size_t tag;
    char sign;
    size_t end = match_endraw(L, L->pos, &tag, &sign);
    if (!end) return lex_fail(L, "%s", "missing end of raw directive");
    const char *text = L->s + L->pos;
    size_t n = strip_text(L, text, tag - L->pos, sign, true);
    emit_text(L, text, n, L->line);
    advance(L, tag);
    finish_tag(L, end);
    return true;
}

static bool lex_comment(lexer *L, size_t body) {
    const char *s = L->s;
    for (size_t i = body; i < L->len; i++) {
        size_t end = 0;
        if (s[i] == '#' || s[i] == '-' || s[i] == '+') end = match_end(L, i, '#', true);
        if (end) {
            finish_tag(L, end);
            return true;
        }
    }
    return lex_fail(L, "%s", "missing end of comment tag");
}

/* ---- tokens inside tags */

static bool is_name_start(unsigned char c) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}
static bool is_name_char(unsigned char c) {
    return is_name_start(c) || (c >= '0' && c <= '9');
}
static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* (\d+_)*\d+ at i: returns the end, or i when there is none. */
static size_t scan_digits(const char *s, size_t len, size_t i) {
    size_t p = i, end = i;
    while (p < len && is_digit(s[p])) {
        while (p < len && is_digit(s[p]))
            p++;
        end = p;
        if (p + 1 < len && s[p] == '_' && is_digit(s[p + 1]))
            p++;
        else
            break;
    }
    return end;
}

static size_t scan_float(lexer *L, size_t i) {
    const char *s = L->s;
    size_t len = L->len;
    if (i > 0 && s[i - 1] == '.') return 0;
    size_t p = scan_digits(s, len, i);
    if (p == i) return 0;
    size_t frac = p;
    bool has_frac = false;
    if (p + 1 < len && s[p] == '.' && is_digit(s[p + 1])) {
        frac = scan_digits(s, len, p + 1);
        has_frac = true;
    }
    if (frac < len && (s[frac] == 'e' || s[frac] == 'E')) {
        size_t q = frac + 1;
        if (q < len && (s[q] == '+' || s[q] == '-')) q++;
        size_t e = scan_digits(s, len, q);
        if (e > q) return e;
    }
    return has_frac ? frac : 0;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 32) >= 'a' && (c | 32) <= 'f') return (c | 32) - 'a' + 10;
    return -1;
}

static bool lex_number(lexer *L) {
    const char *s = L->s;
    size_t i = L->pos, len = L->len;
    char buf[128];
    size_t n = 0;
    size_t end = scan_float(L, i);
    if (end) {
        for (size_t k = i; k < end && n + 1 < sizeof buf; k++)
            if (s[k] != '_') buf[n++] = s[k];
        buf[n] = '\0';
        jtoken *t = emit(L, TK_FLOAT, L->line);
        t->f = strtod(buf, NULL);
        advance(L, end);
        return true;
    }
    int base = 10;
    size_t p = i;
    if (s[i] == '0' && i + 1 < len && strchr("bBoOxX", s[i + 1]) && s[i + 1]) {
        char b = (char)(s[i + 1] | 32);
        base = b == 'b' ? 2 : b == 'o' ? 8 : 16;
        p = i + 2;
    }
    uint64_t v = 0;
    bool any = false, overflow = false;
    for (; p < len; p++) {
        char c = s[p];
        int d;
        if (c == '_' && any && p + 1 < len && hexval(s[p + 1]) >= 0 && hexval(s[p + 1]) < base)
            continue;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && (c | 32) >= 'a' && (c | 32) <= 'f')
            d = (c | 32) - 'a' + 10;
        else
            break;
        if (d >= base) break;
        if (base == 10 && any && v == 0) break; /* "0" only continues with zeros */
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) overflow = true;
        v = v * (uint64_t)base + (uint64_t)d;
        any = true;
    }
    if (!any) return lex_fail(L, "%s", "invalid integer literal");
    if (overflow || v > INT64_MAX) return lex_fail(L, "%s", "integer literal too large");
    jtoken *t = emit(L, TK_INT, L->line);
    t->i = (int64_t)v;
    advance(L, p);
    return true;
}

/* Python's unicode-escape decoding of a string literal's body. */
static bool decode_escape(lexer *L, const char *s, size_t len, size_t *i, jx_buf *b) {
    char c = s[*i];
    (*i)++;
    int digits = 0;
    switch (c) {
    case '\n':
        return true;
    case '\\':
        jb_putc(b, '\\');
        return true;
    case '\'':
        jb_putc(b, '\'');
        return true;
    case '"':
        jb_putc(b, '"');
        return true;
    case 'a':
        jb_putc(b, '\a');
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
    case 'v':
        jb_putc(b, '\v');
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
        if (c >= '0' && c <= '7') {
            uint32_t v = (uint32_t)(c - '0');
            for (int k = 0; k < 2 && *i < len && s[*i] >= '0' && s[*i] <= '7'; k++)
                v = v * 8 + (uint32_t)(s[(*i)++] - '0');
            jb_put_utf8(b, v);
            return true;
        }
        jb_putc(b, '\\');
        (*i)--;
        return true;
    }
    uint32_t v = 0;
    for (int k = 0; k < digits; k++) {
        int d = *i < len ? hexval(s[*i]) : -1;
        if (d < 0) return lex_fail(L, "truncated \\%c escape in a string", (char[]){c, 0});
        v = v * 16 + (uint32_t)d;
        (*i)++;
    }
    if (v > 0x10FFFF) return lex_fail(L, "%s", "illegal Unicode character in a string");
    if (v >= 0xD800 && v <= 0xDFFF) v = 0xFFFD;
    jb_put_utf8(b, v);
    return true;
}

static bool lex_string(lexer *L) {
    const char *s = L->s;
    char q = s[L->pos];
    size_t i = L->pos + 1;
    while (i < L->len && s[i] != q)
        i += s[i] == '\\' && i + 1 < L->len ? 2 : 1;
    if (i >= L->len) return lex_fail(L, "%s", "unterminated string literal");
    jx_buf b;
    jb_init(&b, 0);
    size_t k = L->pos + 1;
    while (k < i) {
        if (s[k] != '\\') {
            jb_putc(&b, s[k++]);
            continue;
        }
        k++;
        if (!decode_escape(L, s, i, &k, &b)) {
            jb_free(&b);
            return false;
        }
    }
    jtoken *t = emit(L, TK_STRING, L->line);
    t->s = arena_strdup(L->arena, b.data ? b.data : "", b.len);
    t->len = b.len;
    jb_free(&b);
    advance(L, i + 1);
    return true;
}

static const struct {
    const char *text;
    op_kind op;
} operators[] = {
    {"**", OP_POW},     {"//", OP_FLOORDIV}, {"==", OP_EQ},    {"!=", OP_NE},
    {">=", OP_GTEQ},    {"<=", OP_LTEQ},     {"+", OP_ADD},    {"-", OP_SUB},
    {"/", OP_DIV},      {"*", OP_MUL},       {"%", OP_MOD},    {"~", OP_TILDE},
    {"[", OP_LBRACKET}, {"]", OP_RBRACKET},  {"(", OP_LPAREN}, {")", OP_RPAREN},
    {"{", OP_LBRACE},   {"}", OP_RBRACE},    {">", OP_GT},     {"<", OP_LT},
    {"=", OP_ASSIGN},   {".", OP_DOT},       {":", OP_COLON},  {"|", OP_PIPE},
    {",", OP_COMMA},    {";", OP_SEMICOLON},
};

const char *jx_op_text(op_kind op) {
    for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++)
        if (operators[i].op == op) return operators[i].text;
    switch (op) {
    case OP_IN:
        return "in";
    case OP_NOTIN:
        return "not in";
    case OP_NOT:
        return "not";
    default:
        return "?";
    }
}

static bool track_bracket(lexer *L, op_kind op) {
    char open = op == OP_LPAREN ? ')' : op == OP_LBRACKET ? ']' : op == OP_LBRACE ? '}' : 0;
    if (open) {
        if (L->nbrackets >= JX_MAX_PARSE_DEPTH)
            return lex_fail(L, "%s", "brackets nested too deeply");
        L->brackets[L->nbrackets++] = open;
        return true;
    }
    char close = op == OP_RPAREN ? ')' : op == OP_RBRACKET ? ']' : op == OP_RBRACE ? '}' : 0;
    if (!close) return true;
    if (!L->nbrackets) return lex_fail(L, "unexpected '%s'", (char[]){close, 0});
    char want = L->brackets[--L->nbrackets];
    if (want != close) {
        char msg[64];
        snprintf(msg, sizeof msg, "unexpected '%c', expected '%c'", close, want);
        return lex_fail(L, "%s", msg);
    }
    return true;
}

static bool lex_operator(lexer *L) {
    const char *s = L->s + L->pos;
    size_t left = L->len - L->pos;
    for (size_t k = 0; k < sizeof operators / sizeof operators[0]; k++) {
        size_t n = strlen(operators[k].text);
        if (left >= n && !memcmp(s, operators[k].text, n)) {
            if (!track_bracket(L, operators[k].op)) return false;
            jtoken *t = emit(L, TK_OP, L->line);
            t->op = operators[k].op;
            advance(L, L->pos + n);
            return true;
        }
    }
    char shown[8] = {s[0], 0};
    return lex_fail(L, "unexpected character '%s'", shown);
}

/* Tokens of one {% %} or {{ }} tag, up to and including its end. */
static bool lex_tag(lexer *L, bool block) {
    int open_line = L->line;
    L->nbrackets = 0;
    for (;;) {
        if (L->nbrackets == 0) {
            size_t end = match_end(L, L->pos, block ? '%' : '}', block);
            if (end) {
                emit(L, block ? TK_BLOCK_END : TK_VAR_END, L->line);
                finish_tag(L, end);
                return true;
            }
        }
        size_t p = skip_space(L->s, L->len, L->pos);
        if (p != L->pos) {
            advance(L, p);
            continue;
        }
        if (L->pos >= L->len) {
            L->line = open_line;
            return lex_fail(L,
                            "unexpected end of template: the tag opened here was not closed "
                            "with '%s'",
                            block ? "%}" : "}}");
        }
        unsigned char c = (unsigned char)L->s[L->pos];
        bool ok;
        if (is_digit((char)c)) {
            ok = lex_number(L);
        } else if (is_name_start(c)) {
            size_t e = L->pos;
            while (e < L->len && is_name_char((unsigned char)L->s[e]))
                e++;
            jtoken *t = emit(L, TK_NAME, L->line);
            t->s = L->s + L->pos;
            t->len = e - L->pos;
            advance(L, e);
            ok = true;
        } else if (c == '\'' || c == '"') {
            ok = lex_string(L);
        } else {
            ok = lex_operator(L);
        }
        if (!ok) return false;
    }
}

static size_t find_tag(const char *s, size_t len, size_t from) {
    for (size_t i = from; i + 1 < len; i++) {
        const char *p = memchr(s + i, '{', len - 1 - i);
        if (!p) return len;
        i = (size_t)(p - s);
        char c = s[i + 1];
        if (c == '{' || c == '%' || c == '#') return i;
    }
    return len;
}

static bool lex_root(lexer *L) {
    while (L->pos < L->len) {
        size_t start = find_tag(L->s, L->len, L->pos);
        const char *text = L->s + L->pos;
        int text_line = L->line;
        if (start >= L->len) {
            emit_text(L, text, L->len - L->pos, text_line);
            advance(L, L->len);
            break;
        }
        char kind = L->s[start + 1];
        char sign = start + 2 < L->len && (L->s[start + 2] == '-' || L->s[start + 2] == '+')
                        ? L->s[start + 2]
                        : 0;
        size_t raw_end = kind == '%' ? match_raw_begin(L, start) : 0;
        emit_text(L, text, strip_text(L, text, start - L->pos, sign, kind != '{'), text_line);
        advance(L, start);
        size_t body = start + 2 + (sign ? 1 : 0);
        bool ok;
        if (raw_end) {
            ok = lex_raw(L, raw_end);
        } else if (kind == '#') {
            ok = lex_comment(L, body);
        } else {
            emit(L, kind == '%' ? TK_BLOCK_BEGIN : TK_VAR_BEGIN, L->line);
            advance(L, body);
            ok = lex_tag(L, kind == '%');
        }
        if (!ok) return false;
    }
    emit(L, TK_EOF, L->line);
    return true;
}

bool jx_lex(const char *src, size_t len, jx_arena *arena, jx_tokens *out, char *err,
            size_t err_size) {
    lexer L = {.s = src,
               .len = len,
               .line = 1,
               .line_starting = true,
               .arena = arena,
               .out = out,
               .err = err,
               .err_size = err_size};
    memset(out, 0, sizeof *out);
    if (!lex_root(&L)) {
        jx_tokens_free(out);
        return false;
    }
    return true;
}

void jx_tokens_free(jx_tokens *t) {
    jx_free(t->v);
    memset(t, 0, sizeof *t);
}
