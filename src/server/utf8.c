#include "server/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/utf8.h"

bool text_is_utf8(const char *s, size_t len, size_t *bad) {
    const uint8_t *u = (const uint8_t *)s;
    for (size_t i = 0, n; i < len; i += n)
        if (bb_utf8_scan_strict(u + i, len - i, &n) != BB_UTF8_COMPLETE) {
            if (bad) *bad = i;
            return false;
        }
    return true;
}

char *text_sanitize_utf8(const char *s, size_t len) {
    /* A replaced subpart is at least one byte and becomes three. */
    if (len > (SIZE_MAX - 1) / 3) return NULL;
    char *out = malloc(len * 3 + 1);
    if (!out) return NULL;
    const uint8_t *u = (const uint8_t *)s;
    size_t o = 0;
    for (size_t i = 0, n; i < len; i += n) {
        if (bb_utf8_scan_strict(u + i, len - i, &n) == BB_UTF8_COMPLETE) {
            memcpy(out + o, u + i, n);
            o += n;
        } else {
            o += bb_utf8_encode(BB_UTF8_REPLACEMENT, out + o);
        }
    }
    out[o] = 0;
    return out;
}
