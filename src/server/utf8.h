/* UTF-8 checks for what crosses the HTTP boundary: request bodies must be well-formed, and
 * token text that can end mid-character is made well-formed before it goes into JSON. Built on
 * the tokenizer's strict decoder (Unicode chapter 3, maximal subparts). */
#ifndef BB_SERVER_UTF8_H
#define BB_SERVER_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True when the bytes are well-formed UTF-8; otherwise *bad is the first bad byte's offset. */
bool text_is_utf8(const char *s, size_t len, size_t *bad);
/* A new NUL-terminated copy with every ill-formed sequence replaced by U+FFFD (free with
 * free()), or NULL when out of memory. */
char *text_sanitize_utf8(const char *s, size_t len);

#endif
