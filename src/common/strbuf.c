#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(bb_strbuf *sb, size_t extra) {
    if (sb->failed) return false;
    size_t need = sb->len + extra + 1;
    if (need < sb->len) return (sb->failed = true, false);
    if (need <= sb->cap) return true;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need) {
        if (cap > (size_t)-1 / 2) return (sb->failed = true, false);
        cap *= 2;
    }
    char *p = realloc(sb->data, cap);
    if (!p) return (sb->failed = true, false);
    sb->data = p;
    sb->cap = cap;
    return true;
}

void bb_strbuf_append(bb_strbuf *sb, const char *s, size_t n) {
    if (!reserve(sb, n)) return;
    if (n) memcpy(sb->data + sb->len, s, n); /* s may be NULL when n is 0 */
    sb->len += n;
    sb->data[sb->len] = 0;
}

void bb_strbuf_printf(bb_strbuf *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        bb_strbuf_append(sb, small, (size_t)n);
        return;
    }
    if (!reserve(sb, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

char *bb_strbuf_take(bb_strbuf *sb) {
    if (sb->failed) {
        bb_strbuf_release(sb);
        return NULL;
    }
    if (!sb->data && !reserve(sb, 0)) return NULL;
    if (sb->len == 0) sb->data[0] = 0;
    char *out = sb->data;
    *sb = (bb_strbuf){0};
    return out;
}

void bb_strbuf_release(bb_strbuf *sb) {
    free(sb->data);
    *sb = (bb_strbuf){0};
}
