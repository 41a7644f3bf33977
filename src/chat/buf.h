/* A growable byte buffer with a size cap, used for template output and string building.
 * Appends past the cap are dropped and set `overflow`, which the caller turns into an
 * error, so no template can grow a string without bound. */
#ifndef BB_CHAT_BUF_H
#define BB_CHAT_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/value.h"

typedef struct jx_buf {
    char *data; /* NUL-terminated once anything was appended; may be NULL before */
    size_t len, cap;
    size_t limit; /* 0 = the interpreter's default string cap */
    bool overflow;
} jx_buf;

void jb_init(jx_buf *b, size_t limit);
void jb_free(jx_buf *b);
void jb_put(jx_buf *b, const char *s, size_t n);
void jb_puts(jx_buf *b, const char *s);
void jb_putc(jx_buf *b, char c);
void jb_printf(jx_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends the UTF-8 encoding of a code point. */
void jb_put_utf8(jx_buf *b, uint32_t cp);
/* Moves the contents into a new string value and resets the buffer. */
jv jb_take_str(jx_buf *b);

#endif
