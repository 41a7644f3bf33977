/* Python's str() and repr() of template values, as Jinja prints them: {{ [1, 'a'] }} gives
 * "[1, 'a']", {{ none }} gives "None", floats print as Python's shortest repr. */
#ifndef BB_CHAT_PRINT_H
#define BB_CHAT_PRINT_H

#include "chat/buf.h"
#include "chat/value.h"

void jx_write_str(jx_buf *b, jv v);  /* str(v); Undefined prints nothing */
void jx_write_repr(jx_buf *b, jv v); /* repr(v) */
void jx_write_float(jx_buf *b, double f);
void jx_write_str_repr(jx_buf *b, const char *s, size_t len); /* repr() of a str */
/* str(v) as a new string value (the same string when v already is one). */
jv jx_to_str(jv v);

#endif
