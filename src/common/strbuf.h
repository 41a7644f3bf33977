/* A growable NUL-terminated byte string. On allocation failure the buffer records the
 * failure (failed = true) and further appends are ignored, so callers check once at the end. */
#ifndef BB_COMMON_STRBUF_H
#define BB_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct bb_strbuf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
} bb_strbuf;

void bb_strbuf_append(bb_strbuf *sb, const char *s, size_t n);
void bb_strbuf_printf(bb_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands the string to the caller (free with free()); NULL if any append failed. */
char *bb_strbuf_take(bb_strbuf *sb);
void bb_strbuf_release(bb_strbuf *sb);

#endif
