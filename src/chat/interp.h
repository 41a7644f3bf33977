/* The interpreter's run-time state: scopes, the render context with its limits and error,
 * and the entry points shared by expression evaluation (eval.c), statement execution
 * (exec.c) and the builtins (filters.c, tests.c, methods.c, globals.c). */
#ifndef BB_CHAT_INTERP_H
#define BB_CHAT_INTERP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "chat/ast.h"
#include "chat/buf.h"
#include "chat/value.h"

/* Variables visible at one point. jinja2 gives every for-loop iteration, macro call and
 * with block its own scope; `set` writes to the innermost one and if-blocks share their
 * parent's. A scope is reference counted because macros and call blocks keep the scope they
 * were defined in; popping a scope empties it, which breaks the cycle scope -> macro ->
 * scope. */
typedef struct jx_scope {
    int refcnt;
    struct jx_scope *parent;
    jv vars; /* dict name -> value */
} jx_scope;

/* Arguments of a call: positional values, then keyword names (strings) and values. */
struct jx_args {
    const jv *pos;
    size_t npos;
    const jv *kw_names;
    const jv *kw_vals;
    size_t nkw;
};

struct jx_ctx {
    jx_scope *scope;
    jx_scope *root;
    jx_buf *out;
    uint64_t steps;
    int calls, call_depth, nest;
    int line; /* line of the node being evaluated, for error messages */
    bool failed;
    bool raised;      /* the error came from raise_exception() */
    bool fixed_clock; /* strftime_now renders `clock` instead of the local time now */
    struct tm clock;
    char err[512];
    jv name_loop, name_varargs, name_kwargs, name_caller; /* interned variable names */
};

typedef enum jx_flow { FLOW_OK, FLOW_ERROR, FLOW_BREAK, FLOW_CONTINUE } jx_flow;

/* Sets up a context around `root` and `out`; jx_ctx_free releases what it holds. */
void jx_ctx_init(jx_ctx *ctx, jx_scope *root, jx_buf *out);
void jx_ctx_free(jx_ctx *ctx);

/* ---- errors: set the context's message (the first one wins) and return false */
bool jx_fail(jx_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool jx_raise(jx_ctx *ctx, const char *msg, size_t len);
/* The error for using an Undefined where a value is needed: its hint, or a generic one. */
bool jx_fail_undefined(jx_ctx *ctx, jv undef);
/* Counts one unit of work (loop iteration, call) against the render's budget. */
bool jx_step(jx_ctx *ctx);

/* ---- scopes */
jx_scope *jx_scope_new(jx_scope *parent);
void jx_scope_release(jx_scope *s);
void jx_scope_release_env(void *scope); /* jfunc.env_release */
void jx_push_scope(jx_ctx *ctx, jx_scope *parent);
void jx_pop_scope(jx_ctx *ctx, jx_scope *restore);
const jv *jx_lookup(const jx_ctx *ctx, jv name);
void jx_assign(jx_ctx *ctx, jv name, jv value_take);

/* ---- expressions (eval.c); results are new references */
bool jx_eval(jx_ctx *ctx, const jnode *node, jv *out);
bool jx_call(jx_ctx *ctx, jv fn, const jx_args *args, jv *out);
/* Calls fn with the evaluated `args` plus caller=<caller> (call blocks). */
bool jx_eval_call_with(jx_ctx *ctx, const jargs_ast *args, jv fn, jv caller, jv *out);
bool jx_getattr(jx_ctx *ctx, jv obj, jv name, jv *out);
bool jx_getitem(jx_ctx *ctx, jv obj, jv key, jv *out);
/* The items a for loop (or list()) sees: list/tuple elements, dict keys, characters of a
 * string, nothing for Undefined. */
bool jx_iterate(jx_ctx *ctx, jv v, jv *list_out);
bool jx_binop(jx_ctx *ctx, op_kind op, jv a, jv b, jv *out);
bool jx_contains(jx_ctx *ctx, jv container, jv item, bool *out);
/* Applies the filter chain `chain` (E_FILTER nodes; the innermost has no operand) to input. */
bool jx_eval_filter_chain(jx_ctx *ctx, const jnode *chain, jv input, jv *out);

/* ---- statements (exec.c) */
jx_flow jx_exec_body(jx_ctx *ctx, const jnodes *body);
bool jx_call_macro(jx_ctx *ctx, jfunc *fn, const jx_args *args, jv *out);
/* loop(items) inside a recursive for block: renders the block's body over items. */
bool jx_call_loop(jx_ctx *ctx, jloop *loop, const jx_args *args, jv *out);
/* Runs a body with its output captured into a string. */
bool jx_capture(jx_ctx *ctx, const jnodes *body, jv *out);

/* ---- argument binding for builtins: fills vals[i] (borrowed; JV_UNDEF when absent) for
 * the parameter names in order, from positional then keyword arguments; unknown keywords
 * or too many positionals are errors naming `fname`. */
bool jx_bind(jx_ctx *ctx, const char *fname, const jx_args *args, size_t skip,
             const char *const *names, size_t n, jv *vals);

#endif
