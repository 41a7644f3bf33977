#include "tokenizer/utf8.h"

#include <stdbool.h>

static bool is_cont(uint8_t b) {
    return (b & 0xC0) == 0x80;
}

uint32_t bb_utf8_decode_lenient(const uint8_t *s, size_t n, size_t *adv) {
    uint8_t b = s[0];
    size_t need;
    uint32_t cp;
    if (!(b & 0x80)) {
        *adv = 1;
        return b;
    }
    if (!(b & 0x40)) {
        need = 0; /* stray continuation byte */
    } else if (!(b & 0x20)) {
        need = 2;
        cp = b & 0x1F;
    } else if (!(b & 0x10)) {
        need = 3;
        cp = b & 0x0F;
    } else if (!(b & 0x08)) {
        need = 4;
        cp = b & 0x07;
    } else {
        need = 0;
    }
    if (need == 0 || need > n) {
        *adv = 1;
        return BB_UTF8_REPLACEMENT;
    }
    for (size_t i = 1; i < need; i++) {
        if (!is_cont(s[i])) {
            *adv = 1;
            return BB_UTF8_REPLACEMENT;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *adv = need;
    return cp;
}

size_t bb_utf8_encode(uint32_t cp, char out[4]) {
    if (cp > 0x10FFFF) cp = BB_UTF8_REPLACEMENT;
    if (cp <= 0x7F) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp <= 0x7FF) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp <= 0xFFFF) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Table 3-7 of the Unicode Standard: the allowed range of the second byte depends on the
 * lead byte (this excludes overlong forms, surrogates and values above U+10FFFF). */
bb_utf8_scan bb_utf8_scan_strict(const uint8_t *s, size_t n, size_t *len) {
    uint8_t b = s[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
        *len = 1;
        return BB_UTF8_COMPLETE;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        need = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else {
        *len = 1;
        return BB_UTF8_INVALID;
    }
    for (size_t i = 1; i < need; i++) {
        if (i >= n) {
            *len = i;
            return BB_UTF8_INCOMPLETE;
        }
        uint8_t c = s[i];
        bool ok = i == 1 ? (c >= lo && c <= hi) : is_cont(c);
        if (!ok) {
            *len = i;
            return BB_UTF8_INVALID;
        }
    }
    *len = need;
    return BB_UTF8_COMPLETE;
}

/* The remapped bytes form three runs: 0x00-0x20 (33 bytes), 0x7F-0xA0 (34 bytes) and 0xAD. */
uint32_t bb_byte_to_cp(uint8_t byte) {
    if (byte <= 0x20) return 0x100u + byte;
    if (byte >= 0x7F && byte <= 0xA0) return 0x121u + (byte - 0x7Fu);
    if (byte == 0xAD) return 0x143u;
    return byte;
}

int bb_cp_to_byte(uint32_t cp) {
    if (cp <= 0xFF) {
        bool self = (cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || cp >= 0xAE;
        return self ? (int)cp : -1;
    }
    if (cp <= 0x120) return (int)(cp - 0x100);
    if (cp <= 0x142) return (int)(cp - 0x121 + 0x7F);
    if (cp == 0x143) return 0xAD;
    return -1;
}
