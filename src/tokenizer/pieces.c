/* Decoded pieces: what each token turns back into, computed once per vocabulary (as
 * llama.cpp's cache_token_to_piece) with control tokens included. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_impl.h"

typedef struct bytebuf {
    char *p;
    size_t n, cap;
} bytebuf;

static bool bytebuf_put(bytebuf *b, const char *s, size_t n) {
    size_t need;
    if (!bb_add_size(b->n, n, &need)) return false;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < need) {
            if (cap > SIZE_MAX / 2) return false;
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    return true;
}

/* The byte of a <0xXX> token: the hex digits at offsets 3-4, as strtol reads them. */
static uint8_t byte_token_value(const char *text, size_t len) {
    unsigned v = 0;
    for (size_t i = 3; i < 5 && i < len; i++) {
        char c = text[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0) break;
        v = v * 16 + (unsigned)d;
    }
    return (uint8_t)v;
}

/* SentencePiece writes spaces as U+2581 (LOWER ONE EIGHTH BLOCK). */
static bool put_unescaped(bytebuf *b, const char *s, size_t n) {
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (i + 2 < n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            ok = bytebuf_put(b, " ", 1);
            i += 2;
        } else {
            ok = bytebuf_put(b, s + i, 1);
        }
    }
    return ok;
}

/* Inverse of the byte-level mapping. A character outside it is written the way llama.cpp's
 * llama_decode_text does: "[UNK_BYTE_0x<utf8 hex><token text>]". */
static bool put_byte_decoded(bytebuf *b, const char *s, size_t n) {
    bool ok = true;
    for (size_t i = 0; i < n && ok;) {
        size_t adv;
        uint32_t cp = bb_utf8_decode_lenient((const uint8_t *)s + i, n - i, &adv);
        i += adv;
        int byte = bb_cp_to_byte(cp);
        if (byte >= 0) {
            char c = (char)byte;
            ok = bytebuf_put(b, &c, 1);
            continue;
        }
        char utf[4], hex[16];
        size_t nu = bb_utf8_encode(cp, utf);
        ok = bytebuf_put(b, "[UNK_BYTE_0x", 12);
        for (size_t k = 0; k < nu && ok; k++) {
            snprintf(hex, sizeof hex, "%02x", (uint8_t)utf[k]);
            ok = bytebuf_put(b, hex, 2);
        }
        ok = ok && bytebuf_put(b, s, n) && bytebuf_put(b, "]", 1);
    }
    return ok;
}

static bool put_piece(const bb_vocab *v, bb_token id, bytebuf *b) {
    const bb_token_info *t = &v->tokens[id];
    const char *text = bb_vocab_text(v, id);
    if (t->attr & (BB_ATTR_UNKNOWN | BB_ATTR_CONTROL | BB_ATTR_USER_DEFINED)) {
        return bytebuf_put(b, text, t->text_len);
    }
    if (t->attr & BB_ATTR_NORMAL) {
        return v->kind == BB_VOCAB_SPM ? put_unescaped(b, text, t->text_len)
                                       : put_byte_decoded(b, text, t->text_len);
    }
    if (t->attr & BB_ATTR_BYTE) {
        char c = (char)byte_token_value(text, t->text_len);
        return bytebuf_put(b, &c, 1);
    }
    return true; /* undefined and unused tokens decode to nothing */
}

bb_status bb_vocab_build_pieces(bb_vocab *v, bb_error *err) {
    bytebuf b = {0};
    for (bb_token id = 0; id < v->n_tokens; id++) {
        size_t start = b.n;
        if (!put_piece(v, id, &b)) {
            free(b.p);
            return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory decoding pieces");
        }
        if (b.n > UINT32_MAX) {
            free(b.p);
            return bb_fail(err, BB_ERR_FORMAT, "decoded vocabulary exceeds 4 GiB");
        }
        v->tokens[id].piece_off = (uint32_t)start;
        v->tokens[id].piece_len = (uint32_t)(b.n - start);
    }
    v->pieces = b.p ? b.p : malloc(1);
    if (!v->pieces) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    return BB_OK;
}
