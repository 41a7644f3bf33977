/* Jinja's builtin filters (filters.c), tests (tests.c), methods of Python's str, dict and
 * list that templates call (methods.c) and the global functions Hugging Face provides
 * (globals.c). */
#ifndef BB_CHAT_BUILTINS_H
#define BB_CHAT_BUILTINS_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/value.h"

/* Whether jinja2 knows the name (an unknown one is a syntax error, as in jinja2). */
bool jx_filter_known(const char *name, size_t len);
bool jx_test_known(const char *name, size_t len);

bool jx_apply_filter(jx_ctx *ctx, jv name, jv input, const jx_args *args, jv *out);
bool jx_apply_test(jx_ctx *ctx, jv name, jv input, const jx_args *args, bool *out);

/* obj.name as a bound method when obj's Python type has one (str.strip, dict.items,
 * list.append, loop.cycle ...); false when it has none. */
bool jx_find_method(jv obj, jv name, jv *out);

/* Python's printf-style `fmt % args` on a str. */
bool jx_percent_format(jx_ctx *ctx, jv fmt, jv args, jv *out);

/* Defines range, dict, namespace, joiner, cycler-free subset, raise_exception and
 * strftime_now in `scope_vars`. */
void jx_define_globals(jv scope_vars);

#endif
