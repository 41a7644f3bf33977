/* Shared by the JSON-schema compiler (schema.c) and its regular-expression translator (regex.c):
 * both write GBNF text for schema.c to parse. */
#ifndef BB_GRAMMAR_SCHEMA_IMPL_H
#define BB_GRAMMAR_SCHEMA_IMPL_H

#include "beanbag.h"
#include "common/strbuf.h"

/* Appends a GBNF expression matching the JSON string contents (between the quotes, JSON
 * escapes applied) of the strings that match ECMA-262 regular expression `re` (JSON Schema's
 * `pattern`: unanchored unless it starts with ^ / ends with $). `jchar` names the rule of one
 * arbitrary JSON string character. Errors name the construct and where it is in the pattern. */
bool sc_regex_to_gbnf(const char *re, const char *jchar, bb_strbuf *out, char *err, size_t cap);

/* A GBNF expression for one code point class, JSON-escaped: `ranges` (n pairs lo, hi, sorted,
 * merged, not negated) become a character class for what JSON writes as itself and escape
 * alternatives for '"', '\' and control characters. */
void sc_json_class(const uint32_t (*ranges)[2], size_t n, bb_strbuf *out);

#endif
