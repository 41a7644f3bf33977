/* Python str operations shared by the string methods (methods.c) and Jinja's filters
 * (filters.c): stripping, case mapping, split/splitlines, replace, find/count, padding,
 * HTML escaping and the two formatting mini-languages (`%` and str.format). Indexes are in
 * code points, as in Python. Results are new string values; operations on a Markup string
 * return Markup, as markupsafe's wrappers do. */
#ifndef BB_CHAT_STROPS_H
#define BB_CHAT_STROPS_H

#include "chat/buf.h"
#include "chat/value.h"

typedef enum strip_side { STRIP_BOTH, STRIP_LEFT, STRIP_RIGHT } strip_side;
typedef enum case_mode {
    CASE_UPPER,
    CASE_LOWER,
    CASE_TITLE,       /* str.title() */
    CASE_CAPITALIZE,  /* str.capitalize() */
    CASE_SWAP,        /* str.swapcase() */
    CASE_JINJA_TITLE, /* Jinja's title filter: capitalize each piece split at [-\s({[<]+ */
} case_mode;

/* chars: a string of characters to strip, or None/Undefined for white space. */
jv jx_str_strip(jv s, jv chars, strip_side side);
jv jx_str_case(jv s, case_mode mode);
/* sep: None/Undefined splits at runs of white space; otherwise a non-empty string. */
jv jx_str_split(jv s, jv sep, int64_t maxsplit, bool from_right);
jv jx_str_splitlines(jv s, bool keepends);
jv jx_str_replace(jv s, jv old, jv rep, int64_t count);
size_t jx_str_cplen(jv s);
/* Code point index of sub in s[start:end] (Python bounds), or -1. */
int64_t jx_str_find(jv s, jv sub, jv start, jv end, bool from_right);
int64_t jx_str_count(jv s, jv sub);
/* align: '<' ljust, '>' rjust, '^' center (Python's center puts the odd pad on the right
 * when the string's length is even, as CPython does). */
jv jx_str_pad(jv s, int64_t width, const char *fill, size_t fill_len, char align);
/* markupsafe.escape: & < > " ' as entities; a Markup string is returned unchanged. */
jv jx_html_escape(jv v);
void jx_html_escape_into(jx_buf *b, const char *s, size_t len);
bool jx_str_startswith(jv s, jv prefix, bool end);

/* str.format(*args, **kwargs). */
bool jx_str_format(jx_ctx *ctx, jv fmt, const jx_args *args, jv *out);

#endif
