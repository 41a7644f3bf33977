/* UTF-8 checks for request bodies (RFC 3629: no overlongs, no surrogates, <= U+10FFFF). */
#ifndef BB_SERVER_UTF8_H
#define BB_SERVER_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Returns true when the bytes are valid UTF-8; otherwise *bad is the first bad byte's offset. */
bool utf8_valid(const char *s, size_t len, size_t *bad);
/* A new NUL-terminated copy with every invalid sequence replaced by U+FFFD (free with free()),
 * or NULL when out of memory. */
char *utf8_sanitize(const char *s, size_t len);

#endif
