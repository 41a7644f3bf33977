/* A growable byte buffer for response bodies. Appends after an allocation failure are dropped
 * and remembered in `failed`, so callers check once at the end. */
#ifndef BB_SERVER_STRBUF_H
#define BB_SERVER_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
    char *data; /* NUL-terminated when len > 0 */
    size_t len, cap;
    bool failed;
} strbuf;

void sb_append(strbuf *b, const char *s, size_t len);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(strbuf *b);

#endif
