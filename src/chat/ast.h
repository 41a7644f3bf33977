/* Tokens and syntax tree of the Jinja subset, and the arena that owns them.
 *
 * The lexer (lexer.c) follows jinja2's lexer as Hugging Face configures it: trim_blocks,
 * lstrip_blocks, `-`/`+` whitespace control, comments, raw blocks. The parser (parser.c)
 * follows jinja2's grammar and operator precedence. Everything a parsed template needs
 * lives in its arena, plus the string constants listed in `consts`. */
#ifndef BB_CHAT_AST_H
#define BB_CHAT_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/value.h"

/* ------------------------------------------------------------------ arena */

typedef struct jx_arena {
    struct arena_block *head;
} jx_arena;

void *arena_alloc(jx_arena *a, size_t size); /* zeroed */
char *arena_strdup(jx_arena *a, const char *s, size_t len);
void arena_free(jx_arena *a);

/* ------------------------------------------------------------------ tokens */

typedef enum tk_kind {
    TK_EOF,
    TK_TEXT,
    TK_VAR_BEGIN,
    TK_VAR_END,
    TK_BLOCK_BEGIN,
    TK_BLOCK_END,
    TK_NAME,
    TK_STRING,
    TK_INT,
    TK_FLOAT,
    TK_OP,
} tk_kind;

typedef enum op_kind {
    OP_NONE,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_FLOORDIV,
    OP_MOD,
    OP_POW,
    OP_TILDE,
    OP_LBRACKET,
    OP_RBRACKET,
    OP_LPAREN,
    OP_RPAREN,
    OP_LBRACE,
    OP_RBRACE,
    OP_EQ,
    OP_NE,
    OP_GT,
    OP_GTEQ,
    OP_LT,
    OP_LTEQ,
    OP_ASSIGN,
    OP_DOT,
    OP_COLON,
    OP_PIPE,
    OP_COMMA,
    OP_SEMICOLON,
    /* not tokens: operators the parser adds */
    OP_IN,
    OP_NOTIN,
    OP_NEG,
    OP_POS,
    OP_NOT,
} op_kind;

typedef struct jtoken {
    tk_kind kind;
    op_kind op;
    int line;
    const char *s; /* TEXT, NAME: into the normalized source; STRING: decoded, in the arena */
    size_t len;
    int64_t i;
    double f;
} jtoken;

typedef struct jx_tokens {
    jtoken *v;
    size_t n, cap;
} jx_tokens;

/* Tokenizes `src` (already newline-normalized). Strings go into `arena`. On failure returns
 * false with "line N: ..." in err. */
bool jx_lex(const char *src, size_t len, jx_arena *arena, jx_tokens *out, char *err,
            size_t err_size);
void jx_tokens_free(jx_tokens *t);
const char *jx_op_text(op_kind op);

/* ------------------------------------------------------------------ syntax tree */

typedef enum jn_kind {
    /* statements */
    N_TEXT,         /* value: the text */
    N_OUTPUT,       /* {{ a }} */
    N_IF,           /* a: test, body, alt: else (an elif is an N_IF alone in alt) */
    N_FOR,          /* a: target, b: iterable, c: filter or NULL, body, alt: else */
    N_SET,          /* a: target (name, ns.attr or tuple of names), b: value */
    N_SET_BLOCK,    /* a: target, body, filters */
    N_MACRO,        /* value: name, params, body */
    N_CALL_BLOCK,   /* a: the call, params: caller's, body */
    N_FILTER_BLOCK, /* filters, body */
    N_WITH,         /* alt: N_SET assignments, body */
    N_BODY,         /* block, generation, autoescape: body rendered in place */
    N_BREAK,
    N_CONTINUE,
    /* expressions */
    E_CONST,   /* value */
    E_NAME,    /* value: the name */
    E_ATTR,    /* a.value */
    E_ITEM,    /* a[b] */
    E_SLICE,   /* a[b:c:d], parts may be NULL */
    E_CALL,    /* a(args) */
    E_FILTER,  /* a | value(args); a is NULL in filter blocks */
    E_TEST,    /* a is [not] value(args); negated */
    E_UNARY,   /* op a */
    E_AND,     /* a and b */
    E_OR,      /* a or b */
    E_BINOP,   /* a op b */
    E_COMPARE, /* a, then body: E_CMP_OPERAND nodes (op, a) */
    E_CMP_OPERAND,
    E_COND,  /* a if b else c (c may be NULL) */
    E_LIST,  /* body: items */
    E_TUPLE, /* body: items */
    E_DICT,  /* body: keys, alt: values */
} jn_kind;

typedef struct jnode jnode;

/* The special names a macro body refers to: as in jinja2, a macro accepts extra positional
 * arguments only when it uses `varargs`, extra keywords only with `kwargs`, and a call block
 * only with `caller`. */
enum { USES_VARARGS = 1, USES_KWARGS = 2, USES_CALLER = 4 };

typedef struct jnodes {
    jnode **v;
    size_t n;
} jnodes;

/* Call arguments, and macro parameters (names with optional defaults). */
typedef struct jargs_ast {
    jnodes pos;
    jv *kw_names;   /* string constants */
    jnodes kw_vals; /* for parameters: default or NULL */
    size_t nkw;
    jnode *star, *dstar; /* *args, **kwargs */
} jargs_ast;

struct jnode {
    jn_kind kind;
    op_kind op;
    bool negated;   /* E_TEST */
    bool recursive; /* N_FOR */
    bool has_args;  /* E_TEST/E_FILTER written with parentheses */
    uint8_t uses;   /* N_MACRO / N_CALL_BLOCK: USES_* names its body refers to */
    int line;
    jnode *a, *b, *c, *d;
    jnodes body, alt, filters;
    jargs_ast *args;
    jargs_ast *params;
    jv value; /* borrowed from the template's constants */
};

typedef struct jx_template {
    jx_arena arena;
    jnodes body;
    jv *consts;
    size_t nconsts, consts_cap;
} jx_template;

/* Parses a template. On failure returns false with "line N: ..." in err and leaves nothing
 * to free. */
bool jx_parse(const char *src, size_t len, jx_template **out, char *err, size_t err_size);
void jx_template_free(jx_template *t);

#endif
