/* Growable, capped byte buffer (see buf.h). */
#include "chat/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/limits.h"

void jb_init(jx_buf *b, size_t limit) {
    memset(b, 0, sizeof *b);
    b->limit = limit ? limit : JX_MAX_STRING;
}

void jb_free(jx_buf *b) {
    jx_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static bool reserve(jx_buf *b, size_t extra) {
    if (b->overflow) return false;
    if (!b->limit) b->limit = JX_MAX_STRING;
    if (extra > b->limit || b->len > b->limit - extra) {
        b->overflow = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = jx_realloc(b->data, b->cap, cap);
    b->cap = cap;
    return true;
}

void jb_put(jx_buf *b, const char *s, size_t n) {
    if (!reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void jb_puts(jx_buf *b, const char *s) {
    jb_put(b, s, strlen(s));
}

void jb_putc(jx_buf *b, char c) {
    jb_put(b, &c, 1);
}

void jb_printf(jx_buf *b, const char *fmt, ...) {
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        jb_put(b, small, (size_t)n);
        return;
    }
    if (!reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void jb_put_utf8(jx_buf *b, uint32_t cp) {
    char s[4];
    size_t n;
    if (cp < 0x80) {
        s[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        s[0] = (char)(0xC0 | (cp >> 6));
        s[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        s[0] = (char)(0xE0 | (cp >> 12));
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        s[0] = (char)(0xF0 | (cp >> 18));
        s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        s[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    jb_put(b, s, n);
}

jv jb_take_str(jx_buf *b) {
    jv s = jv_str(b->data ? b->data : "", b->len);
    jx_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}
