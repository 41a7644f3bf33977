/* JSON in and out of template values, with Python's json module as the model.
 *
 * Reading: our own small parser rather than cJSON because templates must see what
 * json.loads gives Hugging Face: 18 stays an int and 18.0 a float (tojson prints them
 * differently), 64-bit integers stay exact, object keys keep their order and a repeated
 * key keeps its first position with the last value. NaN/Infinity are accepted as Python
 * does; nesting is capped.
 *
 * Writing: json.dumps(v, ensure_ascii, indent, separators, sort_keys) as Hugging Face's
 * tojson filter calls it. */
#ifndef BB_CHAT_JSON_H
#define BB_CHAT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/buf.h"
#include "chat/value.h"

/* On failure returns false and writes a message naming the offset into err. */
bool jx_json_parse(const char *s, size_t len, jv *out, char *err, size_t err_size);

typedef struct jx_json_opts {
    const char *indent; /* NULL: single line */
    const char *item_sep, *key_sep;
    bool sort_keys;
    bool ensure_ascii;
} jx_json_opts;

/* Python's defaults for the given indent: separators (', ', ': ') on one line, (',', ': ')
 * when indenting; ensure_ascii off as in Hugging Face's tojson. */
jx_json_opts jx_json_default_opts(const char *indent);

/* On failure returns false and writes Python's TypeError message into err. */
bool jx_json_dump(jx_buf *b, jv v, const jx_json_opts *opts, char *err, size_t err_size);

#endif
