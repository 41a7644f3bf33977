/* Recursive-descent parser for the Jinja subset, after jinja2/parser.py: the same
 * statements, the same operator precedence (condexpr < or < and < not < comparisons <
 * + - < ~ < * / // % < ** < unary - + < postfix . [] () < filters | and tests `is`) and the
 * same places where a bare tuple is allowed. Errors say the line and what was expected. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/ast.h"
#include "chat/builtins.h"
#include "chat/limits.h"
#include "chat/text.h"

typedef struct parser {
    jtoken *t;
    size_t pos;
    jx_template *tpl;
    char *err;
    size_t err_size;
    bool failed;
    int depth;
    int loop_depth; /* for loops around the current point, reset inside macro bodies */
} parser;

/* An open block, for "expected 'endfor' to close the 'for' on line 3" messages. */
typedef struct block_ctx {
    const char *tag;
    int line;
    const char *const *ends;
} block_ctx;

static void *fail(parser *P, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void *fail(parser *P, int line, const char *fmt, ...) {
    if (P->failed) return NULL;
    P->failed = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(P->err, P->err_size, "line %d: %s", line, msg);
    return NULL;
}

static jtoken *cur(parser *P) {
    return &P->t[P->pos];
}
static jtoken *peek(parser *P) {
    return P->t[P->pos].kind == TK_EOF ? cur(P) : &P->t[P->pos + 1];
}
static jtoken *next_tok(parser *P) {
    jtoken *t = cur(P);
    if (t->kind != TK_EOF) P->pos++;
    return t;
}

static bool tok_is_name(const jtoken *t, const char *name) {
    return t->kind == TK_NAME && t->len == strlen(name) && !memcmp(t->s, name, t->len);
}
static bool tok_is_op(const jtoken *t, op_kind op) {
    return t->kind == TK_OP && t->op == op;
}
static bool at_name(parser *P, const char *name) {
    return tok_is_name(cur(P), name);
}
static bool at_op(parser *P, op_kind op) {
    return tok_is_op(cur(P), op);
}

static bool skip_name(parser *P, const char *name) {
    if (!at_name(P, name)) return false;
    next_tok(P);
    return true;
}
static bool skip_op(parser *P, op_kind op) {
    if (!at_op(P, op)) return false;
    next_tok(P);
    return true;
}

/* How a token reads in an error message, like jinja2's describe_token. */
static void describe(const jtoken *t, char *buf, size_t size) {
    switch (t->kind) {
    case TK_EOF:
        snprintf(buf, size, "end of template");
        break;
    case TK_TEXT:
        snprintf(buf, size, "template text");
        break;
    case TK_VAR_BEGIN:
        snprintf(buf, size, "'{{'");
        break;
    case TK_VAR_END:
        snprintf(buf, size, "end of print statement '}}'");
        break;
    case TK_BLOCK_BEGIN:
        snprintf(buf, size, "'{%%'");
        break;
    case TK_BLOCK_END:
        snprintf(buf, size, "end of statement block '%%}'");
        break;
    case TK_NAME:
        snprintf(buf, size, "'%.*s'", (int)(t->len > 40 ? 40 : t->len), t->s);
        break;
    case TK_STRING:
        snprintf(buf, size, "string");
        break;
    case TK_INT:
        snprintf(buf, size, "integer");
        break;
    case TK_FLOAT:
        snprintf(buf, size, "float");
        break;
    case TK_OP:
        snprintf(buf, size, "'%s'", jx_op_text(t->op));
        break;
    }
}

static void *fail_expected(parser *P, const char *what) {
    char got[64];
    describe(cur(P), got, sizeof got);
    return fail(P, cur(P)->line, "expected %s, got %s", what, got);
}

static bool expect_op(parser *P, op_kind op) {
    if (skip_op(P, op)) return true;
    char want[16];
    snprintf(want, sizeof want, "'%s'", jx_op_text(op));
    fail_expected(P, want);
    return false;
}

static bool expect_kind(parser *P, tk_kind kind, const char *what) {
    if (cur(P)->kind == kind) {
        next_tok(P);
        return true;
    }
    fail_expected(P, what);
    return false;
}

static bool expect_block_end(parser *P) {
    return expect_kind(P, TK_BLOCK_END, "end of statement block '%}'");
}

/* ------------------------------------------------------------------ building nodes */

static jnode *new_node(parser *P, jn_kind kind, int line) {
    jnode *n = arena_alloc(&P->tpl->arena, sizeof *n);
    n->kind = kind;
    n->line = line;
    n->value = jv_undef();
    return n;
}

static jv add_const(parser *P, jv v) {
    jx_template *t = P->tpl;
    if (t->nconsts == t->consts_cap) {
        size_t cap = t->consts_cap ? t->consts_cap * 2 : 32;
        t->consts = jx_realloc(t->consts, t->consts_cap * sizeof(jv), cap * sizeof(jv));
        t->consts_cap = cap;
    }
    t->consts[t->nconsts++] = v;
    return v;
}

static jv name_const(parser *P, const char *s, size_t len) {
    return add_const(P, jv_str(s, len));
}

/* A growing list of nodes kept in the arena (a failed parse then leaks nothing). */
typedef struct nvec {
    jnode **v;
    size_t n, cap;
} nvec;

static void nvec_push(parser *P, nvec *vec, jnode *node) {
    if (vec->n == vec->cap) {
        size_t cap = vec->cap ? vec->cap * 2 : 4;
        jnode **v = arena_alloc(&P->tpl->arena, cap * sizeof *v);
        if (vec->n) memcpy(v, vec->v, vec->n * sizeof *v);
        vec->v = v;
        vec->cap = cap;
    }
    vec->v[vec->n++] = node;
}

static jnodes nvec_done(nvec *vec) {
    return (jnodes){.v = vec->v, .n = vec->n};
}

static bool enter(parser *P) {
    if (++P->depth > JX_MAX_PARSE_DEPTH) {
        fail(P, cur(P)->line, "template nested too deeply (more than %d levels)",
             JX_MAX_PARSE_DEPTH);
        return false;
    }
    return true;
}
static void leave(parser *P) {
    P->depth--;
}

/* ------------------------------------------------------------------ expressions */

static jnode *parse_expression(parser *P, bool with_condexpr);
static jnode *parse_tuple(parser *P, bool with_condexpr, const char *extra_end,
                          bool explicit_parens, bool simplified);
static jnode *parse_primary(parser *P);
static jnode *parse_postfix(parser *P, jnode *node);
static jnode *parse_unary(parser *P, bool with_filter);

/* Call arguments: positional, name=value, *args, **kwargs (jinja2's parse_call_args). */
static jargs_ast *parse_call_args(parser *P) {
    int line = cur(P)->line;
    if (!expect_op(P, OP_LPAREN)) return NULL;
    jargs_ast *a = arena_alloc(&P->tpl->arena, sizeof *a);
    nvec pos = {0}, kwv = {0};
    size_t kw_cap = 0;
    bool require_comma = false;
    while (!at_op(P, OP_RPAREN)) {
        if (cur(P)->kind == TK_EOF || cur(P)->kind == TK_BLOCK_END || cur(P)->kind == TK_VAR_END)
            return fail(P, line, "unclosed '(' in a call");
        if (require_comma) {
            if (!expect_op(P, OP_COMMA)) return NULL;
            if (at_op(P, OP_RPAREN)) break;
        }
        if (skip_op(P, OP_MUL)) {
            if (a->star || a->dstar)
                return fail(P, cur(P)->line, "invalid syntax for function call");
            if (!(a->star = parse_expression(P, true))) return NULL;
        } else if (skip_op(P, OP_POW)) {
            if (a->dstar) return fail(P, cur(P)->line, "invalid syntax for function call");
            if (!(a->dstar = parse_expression(P, true))) return NULL;
        } else if (cur(P)->kind == TK_NAME && tok_is_op(peek(P), OP_ASSIGN)) {
            if (a->dstar) return fail(P, cur(P)->line, "invalid syntax for function call");
            jtoken *name = next_tok(P);
            next_tok(P);
            jnode *val = parse_expression(P, true);
            if (!val) return NULL;
            if (a->nkw == kw_cap) {
                size_t cap = kw_cap ? kw_cap * 2 : 4;
                jv *names = arena_alloc(&P->tpl->arena, cap * sizeof *names);
                if (a->nkw) memcpy(names, a->kw_names, a->nkw * sizeof *names);
                a->kw_names = names;
                kw_cap = cap;
            }
            a->kw_names[a->nkw++] = name_const(P, name->s, name->len);
            nvec_push(P, &kwv, val);
        } else {
            if (a->star || a->dstar || a->nkw)
                return fail(P, cur(P)->line, "positional argument follows keyword argument");
            jnode *val = parse_expression(P, true);
            if (!val) return NULL;
            nvec_push(P, &pos, val);
        }
        require_comma = true;
    }
    if (!expect_op(P, OP_RPAREN)) return NULL;
    a->pos = nvec_done(&pos);
    a->kw_vals = nvec_done(&kwv);
    return a;
}

/* `| name(args)` chain; with start_inline the first filter has no `|` (filter blocks). */
static jnode *parse_filter(parser *P, jnode *node, bool start_inline) {
    while (at_op(P, OP_PIPE) || start_inline) {
        if (!start_inline) next_tok(P);
        start_inline = false;
        jtoken *name = cur(P);
        if (!expect_kind(P, TK_NAME, "a filter name")) return NULL;
        if (!jx_filter_known(name->s, name->len))
            return fail(P, name->line, "no filter named '%.*s'", (int)name->len, name->s);
        jnode *f = new_node(P, E_FILTER, name->line);
        f->a = node;
        f->value = name_const(P, name->s, name->len);
        if (at_op(P, OP_LPAREN)) {
            f->has_args = true;
            if (!(f->args = parse_call_args(P))) return NULL;
        }
        node = f;
    }
    return node;
}

static jnode *parse_test(parser *P, jnode *node) {
    int line = next_tok(P)->line; /* is */
    bool negated = skip_name(P, "not");
    jtoken *name = cur(P);
    if (!expect_kind(P, TK_NAME, "a test name")) return NULL;
    if (!jx_test_known(name->s, name->len))
        return fail(P, name->line, "no test named '%.*s'", (int)name->len, name->s);
    jnode *t = new_node(P, E_TEST, line);
    t->a = node;
    t->negated = negated;
    t->value = name_const(P, name->s, name->len);
    jtoken *c = cur(P);
    if (tok_is_op(c, OP_LPAREN)) {
        t->has_args = true;
        if (!(t->args = parse_call_args(P))) return NULL;
    } else if ((c->kind == TK_NAME || c->kind == TK_STRING || c->kind == TK_INT ||
                c->kind == TK_FLOAT || tok_is_op(c, OP_LBRACKET) || tok_is_op(c, OP_LBRACE)) &&
               !tok_is_name(c, "else") && !tok_is_name(c, "or") && !tok_is_name(c, "and")) {
        if (tok_is_name(c, "is"))
            return fail(P, c->line, "you cannot chain multiple tests with is");
        jnode *arg = parse_primary(P);
        if (!arg || !(arg = parse_postfix(P, arg))) return NULL;
        t->args = arena_alloc(&P->tpl->arena, sizeof *t->args);
        nvec pos = {0};
        nvec_push(P, &pos, arg);
        t->args->pos = nvec_done(&pos);
    }
    return t;
}

static jnode *parse_filter_expr(parser *P, jnode *node) {
    while (node) {
        if (at_op(P, OP_PIPE)) {
            node = parse_filter(P, node, false);
        } else if (at_name(P, "is")) {
            node = parse_test(P, node);
        } else if (at_op(P, OP_LPAREN)) {
            jnode *call = new_node(P, E_CALL, cur(P)->line);
            call->a = node;
            node = (call->args = parse_call_args(P)) ? call : NULL;
        } else {
            break;
        }
    }
    return node;
}

/* One subscript: an expression or a slice a:b:c with optional parts. */
static jnode *parse_subscribed(parser *P, jnode *obj) {
    int line = cur(P)->line;
    jnode *start = NULL;
    if (!at_op(P, OP_COLON)) {
        if (!(start = parse_expression(P, true))) return NULL;
        if (!at_op(P, OP_COLON)) {
            jnode *item = new_node(P, E_ITEM, line);
            item->a = obj;
            item->b = start;
            return item;
        }
    }
    next_tok(P); /* : */
    jnode *slice = new_node(P, E_SLICE, line);
    slice->a = obj;
    slice->b = start;
    if (!at_op(P, OP_COLON) && !at_op(P, OP_RBRACKET) && !at_op(P, OP_COMMA))
        if (!(slice->c = parse_expression(P, true))) return NULL;
    if (skip_op(P, OP_COLON) && !at_op(P, OP_RBRACKET) && !at_op(P, OP_COMMA))
        if (!(slice->d = parse_expression(P, true))) return NULL;
    return slice;
}

static jnode *parse_subscript(parser *P, jnode *node) {
    jtoken *tok = next_tok(P);
    if (tok->op == OP_DOT) {
        jtoken *attr = next_tok(P);
        if (attr->kind == TK_NAME) {
            jnode *n = new_node(P, E_ATTR, tok->line);
            n->a = node;
            n->value = name_const(P, attr->s, attr->len);
            return n;
        }
        if (attr->kind != TK_INT) return fail(P, attr->line, "expected name or number after '.'");
        jnode *n = new_node(P, E_ITEM, tok->line);
        n->a = node;
        n->b = new_node(P, E_CONST, attr->line);
        n->b->value = jv_int(attr->i);
        return n;
    }
    /* [ ... ]: one subscript, or several forming a tuple key */
    nvec items = {0};
    jnode *first = NULL;
    while (!at_op(P, OP_RBRACKET)) {
        if (first && !expect_op(P, OP_COMMA)) return NULL;
        jnode *sub = parse_subscribed(P, node);
        if (!sub) return NULL;
        if (!first) first = sub;
        nvec_push(P, &items, sub);
    }
    if (!expect_op(P, OP_RBRACKET)) return NULL;
    if (items.n == 1) return first;
    if (items.n == 0) return fail(P, tok->line, "expected a subscript inside '[]'");
    jnode *tuple = new_node(P, E_TUPLE, tok->line);
    for (size_t i = 0; i < items.n; i++) {
        if (items.v[i]->kind != E_ITEM) return fail(P, tok->line, "slices cannot form a tuple key");
        items.v[i] = items.v[i]->b;
    }
    tuple->body = nvec_done(&items);
    jnode *item = new_node(P, E_ITEM, tok->line);
    item->a = node;
    item->b = tuple;
    return item;
}

static jnode *parse_postfix(parser *P, jnode *node) {
    while (node) {
        if (at_op(P, OP_DOT) || at_op(P, OP_LBRACKET)) {
            node = parse_subscript(P, node);
        } else if (at_op(P, OP_LPAREN)) {
            jnode *call = new_node(P, E_CALL, cur(P)->line);
            call->a = node;
            node = (call->args = parse_call_args(P)) ? call : NULL;
        } else {
            break;
        }
    }
    return node;
}

static jnode *parse_list(parser *P) {
    jnode *list = new_node(P, E_LIST, next_tok(P)->line);
    nvec items = {0};
    while (!at_op(P, OP_RBRACKET)) {
        if (items.n && !expect_op(P, OP_COMMA)) return NULL;
        if (at_op(P, OP_RBRACKET)) break;
        jnode *item = parse_expression(P, true);
        if (!item) return NULL;
        nvec_push(P, &items, item);
    }
    if (!expect_op(P, OP_RBRACKET)) return NULL;
    list->body = nvec_done(&items);
    return list;
}

static jnode *parse_dict(parser *P) {
    jnode *dict = new_node(P, E_DICT, next_tok(P)->line);
    nvec keys = {0}, vals = {0};
    while (!at_op(P, OP_RBRACE)) {
        if (keys.n && !expect_op(P, OP_COMMA)) return NULL;
        if (at_op(P, OP_RBRACE)) break;
        jnode *key = parse_expression(P, true);
        if (!key || !expect_op(P, OP_COLON)) return NULL;
        jnode *val = parse_expression(P, true);
        if (!val) return NULL;
        nvec_push(P, &keys, key);
        nvec_push(P, &vals, val);
    }
    if (!expect_op(P, OP_RBRACE)) return NULL;
    dict->body = nvec_done(&keys);
    dict->alt = nvec_done(&vals);
    return dict;
}

static jnode *parse_primary(parser *P) {
    jtoken *t = cur(P);
    jnode *n;
    switch (t->kind) {
    case TK_NAME:
        next_tok(P);
        n = new_node(P, E_CONST, t->line);
        if (tok_is_name(t, "true") || tok_is_name(t, "True"))
            n->value = jv_bool(true);
        else if (tok_is_name(t, "false") || tok_is_name(t, "False"))
            n->value = jv_bool(false);
        else if (tok_is_name(t, "none") || tok_is_name(t, "None"))
            n->value = jv_none();
        else {
            n->kind = E_NAME;
            n->value = name_const(P, t->s, t->len);
        }
        return n;
    case TK_STRING: {
        /* adjacent string literals concatenate, as in Python */
        n = new_node(P, E_CONST, t->line);
        size_t total = 0, k = P->pos;
        while (P->t[k].kind == TK_STRING)
            total += P->t[k++].len;
        jstr *s = jstr_new(NULL, total);
        size_t off = 0;
        while (cur(P)->kind == TK_STRING) {
            jtoken *part = next_tok(P);
            memcpy(s->data + off, part->s, part->len);
            off += part->len;
        }
        n->value = add_const(P, (jv){.type = JV_STR, .u.s = s});
        return n;
    }
    case TK_INT:
    case TK_FLOAT:
        next_tok(P);
        n = new_node(P, E_CONST, t->line);
        n->value = t->kind == TK_INT ? jv_int(t->i) : jv_float(t->f);
        return n;
    case TK_OP:
        if (t->op == OP_LPAREN) {
            next_tok(P);
            n = parse_tuple(P, true, NULL, true, false);
            if (!n || !expect_op(P, OP_RPAREN)) return NULL;
            return n;
        }
        if (t->op == OP_LBRACKET) return parse_list(P);
        if (t->op == OP_LBRACE) return parse_dict(P);
        break;
    default:
        break;
    }
    char got[64];
    describe(t, got, sizeof got);
    return fail(P, t->line, "unexpected %s, expected an expression", got);
}

static jnode *parse_unary(parser *P, bool with_filter) {
    if (!enter(P)) return NULL;
    jtoken *t = cur(P);
    jnode *node;
    if (tok_is_op(t, OP_SUB) || tok_is_op(t, OP_ADD)) {
        next_tok(P);
        node = new_node(P, E_UNARY, t->line);
        node->op = t->op == OP_SUB ? OP_NEG : OP_POS;
        if (!(node->a = parse_unary(P, false))) node = NULL;
    } else {
        node = parse_primary(P);
    }
    node = parse_postfix(P, node);
    if (with_filter) node = parse_filter_expr(P, node);
    leave(P);
    return node;
}

static jnode *binop(parser *P, op_kind op, jnode *a, jnode *b, int line) {
    jnode *n = new_node(P, E_BINOP, line);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static jnode *parse_pow(parser *P) {
    jnode *left = parse_unary(P, true);
    while (left && at_op(P, OP_POW)) {
        int line = next_tok(P)->line;
        jnode *right = parse_unary(P, true);
        left = right ? binop(P, OP_POW, left, right, line) : NULL;
    }
    return left;
}

static jnode *parse_math2(parser *P) {
    jnode *left = parse_pow(P);
    while (left &&
           (at_op(P, OP_MUL) || at_op(P, OP_DIV) || at_op(P, OP_FLOORDIV) || at_op(P, OP_MOD))) {
        jtoken *op = next_tok(P);
        jnode *right = parse_pow(P);
        left = right ? binop(P, op->op, left, right, op->line) : NULL;
    }
    return left;
}

static jnode *parse_concat(parser *P) {
    jnode *left = parse_math2(P);
    while (left && at_op(P, OP_TILDE)) {
        int line = next_tok(P)->line;
        jnode *right = parse_math2(P);
        left = right ? binop(P, OP_TILDE, left, right, line) : NULL;
    }
    return left;
}

static jnode *parse_math1(parser *P) {
    jnode *left = parse_concat(P);
    while (left && (at_op(P, OP_ADD) || at_op(P, OP_SUB))) {
        jtoken *op = next_tok(P);
        jnode *right = parse_concat(P);
        left = right ? binop(P, op->op, left, right, op->line) : NULL;
    }
    return left;
}

static bool compare_op(parser *P, op_kind *op) {
    jtoken *t = cur(P);
    if (t->kind == TK_OP && (t->op == OP_EQ || t->op == OP_NE || t->op == OP_LT ||
                             t->op == OP_LTEQ || t->op == OP_GT || t->op == OP_GTEQ)) {
        *op = t->op;
        next_tok(P);
        return true;
    }
    if (tok_is_name(t, "in")) {
        *op = OP_IN;
        next_tok(P);
        return true;
    }
    if (tok_is_name(t, "not") && tok_is_name(peek(P), "in")) {
        *op = OP_NOTIN;
        next_tok(P);
        next_tok(P);
        return true;
    }
    return false;
}

static jnode *parse_compare(parser *P) {
    int line = cur(P)->line;
    jnode *expr = parse_math1(P);
    if (!expr) return NULL;
    nvec ops = {0};
    op_kind op;
    while (compare_op(P, &op)) {
        jnode *operand = new_node(P, E_CMP_OPERAND, cur(P)->line);
        operand->op = op;
        if (!(operand->a = parse_math1(P))) return NULL;
        nvec_push(P, &ops, operand);
    }
    if (!ops.n) return expr;
    jnode *cmp = new_node(P, E_COMPARE, line);
    cmp->a = expr;
    cmp->body = nvec_done(&ops);
    return cmp;
}

static jnode *parse_not(parser *P) {
    if (!at_name(P, "not")) return parse_compare(P);
    if (!enter(P)) return NULL;
    jnode *n = new_node(P, E_UNARY, next_tok(P)->line);
    n->op = OP_NOT;
    n->a = parse_not(P);
    leave(P);
    return n->a ? n : NULL;
}

static jnode *parse_and(parser *P) {
    jnode *left = parse_not(P);
    while (left && at_name(P, "and")) {
        jnode *n = new_node(P, E_AND, next_tok(P)->line);
        n->a = left;
        left = (n->b = parse_not(P)) ? n : NULL;
    }
    return left;
}

static jnode *parse_or(parser *P) {
    jnode *left = parse_and(P);
    while (left && at_name(P, "or")) {
        jnode *n = new_node(P, E_OR, next_tok(P)->line);
        n->a = left;
        left = (n->b = parse_and(P)) ? n : NULL;
    }
    return left;
}

static jnode *parse_condexpr(parser *P) {
    jnode *expr = parse_or(P);
    while (expr && at_name(P, "if")) {
        jnode *n = new_node(P, E_COND, next_tok(P)->line);
        n->a = expr;
        if (!(n->b = parse_or(P))) return NULL;
        if (skip_name(P, "else") && !(n->c = parse_condexpr(P))) return NULL;
        expr = n;
    }
    return expr;
}

static jnode *parse_expression(parser *P, bool with_condexpr) {
    if (!enter(P)) return NULL;
    jnode *n = with_condexpr ? parse_condexpr(P) : parse_or(P);
    leave(P);
    return n;
}

static bool is_tuple_end(parser *P, const char *extra_end) {
    jtoken *t = cur(P);
    if (t->kind == TK_VAR_END || t->kind == TK_BLOCK_END || tok_is_op(t, OP_RPAREN)) return true;
    return extra_end && tok_is_name(t, extra_end);
}

/* jinja2's parse_tuple: one expression, or a tuple when commas separate several. */
static jnode *parse_tuple(parser *P, bool with_condexpr, const char *extra_end,
                          bool explicit_parens, bool simplified) {
    int line = cur(P)->line;
    nvec items = {0};
    bool is_tuple = false;
    for (;;) {
        if (items.n && !expect_op(P, OP_COMMA)) return NULL;
        if (is_tuple_end(P, extra_end)) break;
        jnode *item = simplified ? parse_primary(P) : parse_expression(P, with_condexpr);
        if (!item) return NULL;
        nvec_push(P, &items, item);
        if (!at_op(P, OP_COMMA)) break;
        is_tuple = true;
    }
    if (!is_tuple) {
        if (items.n) return items.v[0];
        if (!explicit_parens) return fail_expected(P, "an expression");
    }
    jnode *t = new_node(P, E_TUPLE, line);
    t->body = nvec_done(&items);
    return t;
}

/* ------------------------------------------------------------------ statements */

static bool parse_body(parser *P, nvec *out, const block_ctx *blk, const char **found);

static bool can_assign(const jnode *n) {
    if (n->kind == E_NAME) return true;
    if (n->kind != E_TUPLE) return false;
    for (size_t i = 0; i < n->body.n; i++)
        if (!can_assign(n->body.v[i])) return false;
    return true;
}

static jnode *parse_assign_target(parser *P, const char *extra_end, bool with_namespace) {
    jtoken *t = cur(P);
    if (with_namespace && t->kind == TK_NAME && tok_is_op(peek(P), OP_DOT)) {
        next_tok(P);
        next_tok(P);
        jtoken *attr = cur(P);
        if (!expect_kind(P, TK_NAME, "an attribute name")) return NULL;
        jnode *ref = new_node(P, E_ATTR, t->line);
        ref->a = new_node(P, E_NAME, t->line);
        ref->a->value = name_const(P, t->s, t->len);
        ref->value = name_const(P, attr->s, attr->len);
        return ref;
    }
    jnode *target = parse_tuple(P, true, extra_end, false, true);
    if (target && !can_assign(target)) return fail(P, t->line, "can't assign to this expression");
    return target;
}

static jtoken *expect_name_token(parser *P, const char *what) {
    jtoken *t = cur(P);
    return expect_kind(P, TK_NAME, what) ? t : NULL;
}

/* Parses a block's body up to one of its end tags; the tag's name is consumed and returned
 * through *found, its `%}` is left for the caller. */
static bool parse_block_body(parser *P, nvec *body, const char *tag, int line,
                             const char *const *ends, const char **found) {
    block_ctx blk = {.tag = tag, .line = line, .ends = ends};
    if (!expect_block_end(P)) return false;
    return parse_body(P, body, &blk, found);
}

static bool parse_signature(parser *P, jargs_ast **out) {
    jargs_ast *a = arena_alloc(&P->tpl->arena, sizeof *a);
    nvec defaults = {0};
    size_t cap = 0;
    bool any_default = false;
    if (!expect_op(P, OP_LPAREN)) return false;
    while (!at_op(P, OP_RPAREN)) {
        if (a->nkw && !expect_op(P, OP_COMMA)) return false;
        jtoken *name = expect_name_token(P, "a parameter name");
        if (!name) return false;
        jnode *def = NULL;
        if (skip_op(P, OP_ASSIGN)) {
            if (!(def = parse_expression(P, true))) return false;
            any_default = true;
        } else if (any_default) {
            fail(P, name->line, "non-default argument follows default argument");
            return false;
        }
        if (a->nkw == cap) {
            cap = cap ? cap * 2 : 4;
            jv *names = arena_alloc(&P->tpl->arena, cap * sizeof *names);
            if (a->nkw) memcpy(names, a->kw_names, a->nkw * sizeof *names);
            a->kw_names = names;
        }
        a->kw_names[a->nkw++] = name_const(P, name->s, name->len);
        nvec_push(P, &defaults, def);
    }
    next_tok(P);
    a->kw_vals = nvec_done(&defaults);
    *out = a;
    return true;
}

static jnode *parse_for(parser *P, int line) {
    static const char *const ends[] = {"endfor", "else", NULL};
    static const char *const end_only[] = {"endfor", NULL};
    jnode *n = new_node(P, N_FOR, line);
    if (!(n->a = parse_assign_target(P, "in", false))) return NULL;
    if (!skip_name(P, "in")) return fail_expected(P, "'in'");
    if (!(n->b = parse_tuple(P, false, "recursive", false, false))) return NULL;
    if (skip_name(P, "if") && !(n->c = parse_expression(P, true))) return NULL;
    n->recursive = skip_name(P, "recursive");
    nvec body = {0}, alt = {0};
    const char *found = NULL;
    P->loop_depth++;
    bool ok = parse_block_body(P, &body, "for", line, ends, &found);
    P->loop_depth--;
    if (!ok) return NULL;
    if (!strcmp(found, "else") && !parse_block_body(P, &alt, "for", line, end_only, &found))
        return NULL;
    n->body = nvec_done(&body);
    n->alt = nvec_done(&alt);
    return n;
}

static jnode *parse_if(parser *P, int line) {
    static const char *const ends[] = {"elif", "else", "endif", NULL};
    static const char *const end_only[] = {"endif", NULL};
    jnode *n = new_node(P, N_IF, line);
    if (!(n->a = parse_tuple(P, false, NULL, false, false))) return NULL;
    nvec body = {0}, alt = {0};
    const char *found = NULL;
    if (!parse_block_body(P, &body, "if", line, ends, &found)) return NULL;
    n->body = nvec_done(&body);
    if (!strcmp(found, "elif")) {
        /* the elif chain nests: `elif` parses like a new `if` that owns the `endif` */
        jnode *elif = parse_if(P, P->t[P->pos - 1].line);
        if (!elif) return NULL;
        nvec_push(P, &alt, elif);
    } else if (!strcmp(found, "else")) {
        if (!parse_block_body(P, &alt, "if", line, end_only, &found)) return NULL;
    }
    n->alt = nvec_done(&alt);
    return n;
}

static jnode *parse_set(parser *P, int line) {
    static const char *const ends[] = {"endset", NULL};
    jnode *target = parse_assign_target(P, NULL, true);
    if (!target) return NULL;
    if (skip_op(P, OP_ASSIGN)) {
        jnode *n = new_node(P, N_SET, line);
        n->a = target;
        return (n->b = parse_tuple(P, true, NULL, false, false)) ? n : NULL;
    }
    jnode *n = new_node(P, N_SET_BLOCK, line);
    n->a = target;
    if (target->kind == E_TUPLE) return fail(P, line, "a block set assigns to a single name");
    if (at_op(P, OP_PIPE) && !(n->c = parse_filter(P, NULL, false))) return NULL;
    nvec body = {0};
    const char *found;
    if (!parse_block_body(P, &body, "set", line, ends, &found)) return NULL;
    n->body = nvec_done(&body);
    return n;
}

static void scan_uses(const jnode *n, uint8_t *uses);

static void scan_list(const jnodes *l, uint8_t *uses) {
    for (size_t i = 0; i < l->n; i++)
        scan_uses(l->v[i], uses);
}

static void scan_args(const jargs_ast *a, uint8_t *uses) {
    if (!a) return;
    scan_list(&a->pos, uses);
    scan_list(&a->kw_vals, uses);
    scan_uses(a->star, uses);
    scan_uses(a->dstar, uses);
}

static void scan_uses(const jnode *n, uint8_t *uses) {
    if (!n) return;
    if (n->kind == E_NAME) {
        const char *name = n->value.u.s->data;
        if (!strcmp(name, "varargs"))
            *uses |= USES_VARARGS;
        else if (!strcmp(name, "kwargs"))
            *uses |= USES_KWARGS;
        else if (!strcmp(name, "caller"))
            *uses |= USES_CALLER;
        return;
    }
    scan_uses(n->a, uses);
    scan_uses(n->b, uses);
    scan_uses(n->c, uses);
    scan_uses(n->d, uses);
    scan_list(&n->body, uses);
    scan_list(&n->alt, uses);
    scan_args(n->args, uses);
    scan_args(n->params, uses);
}

static jnode *parse_macro(parser *P, int line) {
    static const char *const ends[] = {"endmacro", NULL};
    jtoken *name = expect_name_token(P, "a macro name");
    if (!name) return NULL;
    jnode *n = new_node(P, N_MACRO, line);
    n->value = name_const(P, name->s, name->len);
    if (!parse_signature(P, &n->params)) return NULL;
    nvec body = {0};
    const char *found;
    int saved_loops = P->loop_depth;
    P->loop_depth = 0;
    bool ok = parse_block_body(P, &body, "macro", line, ends, &found);
    P->loop_depth = saved_loops;
    if (!ok) return NULL;
    n->body = nvec_done(&body);
    scan_list(&n->body, &n->uses);
    return n;
}

static jnode *parse_call_block(parser *P, int line) {
    static const char *const ends[] = {"endcall", NULL};
    jnode *n = new_node(P, N_CALL_BLOCK, line);
    if (at_op(P, OP_LPAREN)) {
        if (!parse_signature(P, &n->params)) return NULL;
    } else {
        n->params = arena_alloc(&P->tpl->arena, sizeof *n->params);
    }
    if (!(n->a = parse_expression(P, true))) return NULL;
    if (n->a->kind != E_CALL) return fail(P, line, "expected a call after 'call'");
    nvec body = {0};
    const char *found;
    int saved_loops = P->loop_depth;
    P->loop_depth = 0;
    bool ok = parse_block_body(P, &body, "call", line, ends, &found);
    P->loop_depth = saved_loops;
    if (!ok) return NULL;
    n->body = nvec_done(&body);
    scan_list(&n->body, &n->uses);
    return n;
}

static jnode *parse_filter_block(parser *P, int line) {
    static const char *const ends[] = {"endfilter", NULL};
    jnode *n = new_node(P, N_FILTER_BLOCK, line);
    if (!(n->c = parse_filter(P, NULL, true))) return NULL;
    nvec body = {0};
    const char *found;
    if (!parse_block_body(P, &body, "filter", line, ends, &found)) return NULL;
    n->body = nvec_done(&body);
    return n;
}

static jnode *parse_with(parser *P, int line) {
    static const char *const ends[] = {"endwith", NULL};
    jnode *n = new_node(P, N_WITH, line);
    nvec sets = {0}, body = {0};
    while (cur(P)->kind != TK_BLOCK_END) {
        if (sets.n && !expect_op(P, OP_COMMA)) return NULL;
        jnode *set = new_node(P, N_SET, cur(P)->line);
        if (!(set->a = parse_assign_target(P, NULL, false))) return NULL;
        if (!expect_op(P, OP_ASSIGN) || !(set->b = parse_expression(P, true))) return NULL;
        nvec_push(P, &sets, set);
    }
    const char *found;
    if (!parse_block_body(P, &body, "with", line, ends, &found)) return NULL;
    n->alt = nvec_done(&sets);
    n->body = nvec_done(&body);
    return n;
}

/* block, generation (Hugging Face's assistant-mask extension) and autoescape: the body is
 * rendered in place. */
static jnode *parse_inline_body(parser *P, int line, const char *tag, const char *end) {
    const char *const ends[] = {end, NULL};
    jnode *n = new_node(P, N_BODY, line);
    if (!strcmp(tag, "block")) {
        jtoken *name = expect_name_token(P, "a block name");
        if (!name) return NULL;
        skip_name(P, "scoped");
        skip_name(P, "required");
        nvec body = {0};
        const char *found;
        if (!parse_block_body(P, &body, tag, line, ends, &found)) return NULL;
        if (cur(P)->kind == TK_NAME && cur(P)->len == name->len &&
            !memcmp(cur(P)->s, name->s, name->len))
            next_tok(P);
        n->body = nvec_done(&body);
        return n;
    }
    if (!strcmp(tag, "autoescape") && !parse_expression(P, true)) return NULL;
    nvec body = {0};
    const char *found;
    if (!parse_block_body(P, &body, tag, line, ends, &found)) return NULL;
    n->body = nvec_done(&body);
    return n;
}

static jnode *parse_print(parser *P, int line) {
    jnode *n = new_node(P, N_BODY, line);
    nvec outs = {0};
    while (cur(P)->kind != TK_BLOCK_END) {
        if (outs.n && !expect_op(P, OP_COMMA)) return NULL;
        jnode *out = new_node(P, N_OUTPUT, cur(P)->line);
        if (!(out->a = parse_expression(P, true))) return NULL;
        nvec_push(P, &outs, out);
    }
    n->body = nvec_done(&outs);
    return n;
}

static jnode *parse_statement(parser *P) {
    jtoken *t = cur(P);
    if (t->kind != TK_NAME) return fail_expected(P, "a statement name after '{%'");
    next_tok(P);
    int line = t->line;
    if (tok_is_name(t, "for")) return parse_for(P, line);
    if (tok_is_name(t, "if")) return parse_if(P, line);
    if (tok_is_name(t, "set")) return parse_set(P, line);
    if (tok_is_name(t, "macro")) return parse_macro(P, line);
    if (tok_is_name(t, "call")) return parse_call_block(P, line);
    if (tok_is_name(t, "filter")) return parse_filter_block(P, line);
    if (tok_is_name(t, "with")) return parse_with(P, line);
    if (tok_is_name(t, "print")) return parse_print(P, line);
    if (tok_is_name(t, "block")) return parse_inline_body(P, line, "block", "endblock");
    if (tok_is_name(t, "generation"))
        return parse_inline_body(P, line, "generation", "endgeneration");
    if (tok_is_name(t, "autoescape"))
        return parse_inline_body(P, line, "autoescape", "endautoescape");
    if (tok_is_name(t, "break") || tok_is_name(t, "continue")) {
        if (!P->loop_depth) return fail(P, line, "'%.*s' outside of a for loop", (int)t->len, t->s);
        return new_node(P, tok_is_name(t, "break") ? N_BREAK : N_CONTINUE, line);
    }
    if (tok_is_name(t, "include") || tok_is_name(t, "import") || tok_is_name(t, "from") ||
        tok_is_name(t, "extends"))
        return fail(P, line, "'%.*s' is not supported: chat templates are a single file",
                    (int)t->len, t->s);
    return fail(P, line, "unknown tag '%.*s'", (int)t->len, t->s);
}

static bool is_end_tag(const jtoken *t, const block_ctx *blk, const char **found) {
    if (!blk || t->kind != TK_NAME) return false;
    for (const char *const *e = blk->ends; *e; e++)
        if (tok_is_name(t, *e)) {
            *found = *e;
            return true;
        }
    return false;
}

static void list_ends(const block_ctx *blk, char *buf, size_t size) {
    size_t off = 0;
    buf[0] = '\0';
    for (const char *const *e = blk->ends; *e && off < size; e++)
        off += (size_t)snprintf(buf + off, size - off, "%s'%s'", e == blk->ends ? "" : " or ", *e);
}

static bool unexpected_tag(parser *P, const jtoken *t, const block_ctx *blk) {
    char ends[128];
    if (!blk) {
        fail(P, t->line, "unexpected '%.*s': no block is open", (int)t->len, t->s);
        return false;
    }
    list_ends(blk, ends, sizeof ends);
    fail(P, t->line, "unexpected '%.*s', expected %s to close the '%s' from line %d", (int)t->len,
         t->s, ends, blk->tag, blk->line);
    return false;
}

static bool is_any_end_tag(const jtoken *t) {
    static const char *const names[] = {
        "endfor",    "endif",   "elif",     "else",          "endset",        "endmacro", "endcall",
        "endfilter", "endwith", "endblock", "endgeneration", "endautoescape", "endraw",   NULL};
    for (const char *const *n = names; *n; n++)
        if (tok_is_name(t, *n)) return true;
    return false;
}

static bool parse_body(parser *P, nvec *out, const block_ctx *blk, const char **found) {
    if (!enter(P)) return false;
    bool ok = false;
    for (;;) {
        jtoken *t = cur(P);
        if (t->kind == TK_EOF) {
            if (!blk) {
                ok = true;
            } else {
                char ends[128];
                list_ends(blk, ends, sizeof ends);
                fail(P, t->line,
                     "unexpected end of template, expected %s to close the '%s' from "
                     "line %d",
                     ends, blk->tag, blk->line);
            }
            break;
        }
        if (t->kind == TK_TEXT) {
            jnode *n = new_node(P, N_TEXT, t->line);
            n->value = add_const(P, jv_str(t->s, t->len));
            nvec_push(P, out, n);
            next_tok(P);
            continue;
        }
        if (t->kind == TK_VAR_BEGIN) {
            next_tok(P);
            jnode *n = new_node(P, N_OUTPUT, t->line);
            if (!(n->a = parse_tuple(P, true, NULL, false, false))) break;
            if (!expect_kind(P, TK_VAR_END, "end of print statement '}}'")) break;
            nvec_push(P, out, n);
            continue;
        }
        if (t->kind != TK_BLOCK_BEGIN) {
            fail_expected(P, "template text or a tag");
            break;
        }
        next_tok(P);
        if (is_end_tag(cur(P), blk, found)) {
            next_tok(P);
            ok = true;
            break;
        }
        if (is_any_end_tag(cur(P))) {
            unexpected_tag(P, cur(P), blk);
            break;
        }
        jnode *n = parse_statement(P);
        if (!n || !expect_block_end(P)) break;
        nvec_push(P, out, n);
    }
    leave(P);
    return ok && !P->failed;
}

void jx_template_free(jx_template *t) {
    if (!t) return;
    for (size_t i = 0; i < t->nconsts; i++)
        jv_release(t->consts[i]);
    jx_free(t->consts);
    jx_arena arena = t->arena;
    arena_free(&arena);
}

bool jx_parse(const char *src, size_t len, jx_template **out, char *err, size_t err_size) {
    jx_arena arena = {0};
    jx_template *tpl = arena_alloc(&arena, sizeof *tpl);
    tpl->arena = arena;
    /* jinja2 normalizes \r\n and \r to \n, and drops one trailing newline
     * (keep_trailing_newline is off). */
    char *norm = arena_alloc(&tpl->arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            norm[n++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n') i++;
        } else {
            norm[n++] = src[i];
        }
    }
    if (n && norm[n - 1] == '\n') n--;
    norm[n] = '\0';
    jx_tokens toks;
    bool ok = jx_lex(norm, n, &tpl->arena, &toks, err, err_size);
    if (ok) {
        parser P = {.t = toks.v, .tpl = tpl, .err = err, .err_size = err_size};
        nvec body = {0};
        ok = parse_body(&P, &body, NULL, NULL);
        tpl->body = nvec_done(&body);
        jx_tokens_free(&toks);
    }
    if (!ok) {
        jx_template_free(tpl);
        return false;
    }
    *out = tpl;
    return true;
}
