/* The grammar that forces a tool call (tool_choice "required" or a named function): GBNF
 * text (llama.cpp's grammar syntax) for the family's call syntax, with each function's
 * arguments as JSON. This is the seam to the grammar engine (src/grammar/): the server hands
 * the text to the request's sampler there; until that engine is wired in, the server forces
 * the call at the prompt level instead (tc_forced_prefix). */
#ifndef BB_CHAT_TOOL_GRAMMAR_H
#define BB_CHAT_TOOL_GRAMMAR_H

#include <stdbool.h>

#include "beanbag.h"
#include "chat/toolcall.h"
#include "common/strbuf.h"

/* Writes GBNF rules into out that define `rule` as the JSON text a function's `parameters`
 * schema (schema_json; NULL when the function has none) accepts. The grammar engine's
 * JSON-schema compiler plugs in here; NULL selects the built-in one, which knows objects
 * with properties and required, strings, numbers, integers, booleans, null, enum, const and
 * arrays of items, and accepts any JSON value for what it does not know. */
typedef bb_status (*tc_schema_gbnf_fn)(const char *schema_json, const char *rule, bb_strbuf *out,
                                       bb_error *err);

/* tools_json: the request's `tools`; only: a function name (tool_choice naming one) or NULL
 * (any of them); parallel: one call or several. New string in *out (free with free()). */
bb_status tc_tool_grammar(tc_family family, const char *tools_json, const char *only, bool parallel,
                          tc_schema_gbnf_fn schema_fn, char **out, bb_error *err);

#endif
