/* Token ids back to text: single pieces, whole sequences (llama.cpp's llama_detokenize) and a
 * streaming decoder that only hands out whole UTF-8 characters. */
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_impl.h"

/* The decoded bytes of a token, empty for control and unknown tokens unless `special`. */
static const char *piece_of(const bb_vocab *v, bb_token id, bool special, size_t *len) {
    const bb_token_info *t = &v->tokens[id];
    if (!special && (t->attr & (BB_ATTR_UNKNOWN | BB_ATTR_CONTROL))) {
        *len = 0;
        return "";
    }
    *len = t->piece_len;
    return v->pieces + t->piece_off;
}

int32_t bb_token_to_piece(const bb_vocab *vocab, bb_token token, bool special, char *buf,
                          int32_t cap) {
    if (!vocab || !bb_vocab_valid(vocab, token)) return 0;
    size_t len;
    const char *p = piece_of(vocab, token, special, &len);
    if (len > INT32_MAX) return 0; /* pieces are bounded by the 4 GiB text table */
    if (cap < 0 || (size_t)cap < len || (!buf && len > 0)) return -(int32_t)len;
    if (len) memcpy(buf, p, len);
    return (int32_t)len;
}

/* ---- whole sequences */

/* Hugging Face's clean_up_tokenization_spaces as llama.cpp applies it to byte-level BPE
 * output: " ?", " !", " .", " ," lose their space; " ' " loses both; " 's", " 'm", " 're",
 * " 've" lose the space before the apostrophe. In place; returns the new length. */
static size_t clean_spaces(char *t, size_t n) {
    size_t total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = t[i];
        if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) total--;
        t[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = t[i];
        if (x == '\'' && i + 1 < n && t[i - 1] == ' ' && t[i + 1] == ' ') {
            total--;
            t[++i] = '\0'; /* the space after the apostrophe is dropped below */
        }
        t[total++] = x;
    }
    n = total;
    total = n ? 1 : 0;
    for (size_t i = 1; i < n; i++) {
        char x = t[i];
        if (t[i - 1] == ' ' && x == '\'' && i + 1 < n) {
            char x1 = t[i + 1];
            bool two = i + 2 < n;
            if (x1 == 's' || x1 == 'm' ||
                (two && ((x1 == 'r' && t[i + 2] == 'e') || (x1 == 'v' && t[i + 2] == 'e')))) {
                total--;
            }
        }
        t[total++] = x;
    }
    return total;
}

bb_status bb_detokenize(const bb_vocab *vocab, const bb_token *tokens, size_t n, bool special,
                        char **out, bb_error *err) {
    if (!out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_detokenize: NULL output");
    *out = NULL;
    if (!vocab || (!tokens && n)) {
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_detokenize: NULL argument");
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!bb_vocab_valid(vocab, tokens[i])) {
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "token %d at position %zu is outside the vocabulary (%d tokens)",
                           (int)tokens[i], i, (int)vocab->n_tokens);
        }
        size_t len;
        piece_of(vocab, tokens[i], special, &len);
        if (!bb_add_size(total, len, &total)) {
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "detokenized text too long");
        }
    }
    char *s = malloc(total + 1);
    if (!s) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory detokenizing");
    size_t at = 0;
    /* SentencePiece's dummy prefix: one leading space of the first piece goes. */
    bool strip = vocab->add_space_prefix;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *p = piece_of(vocab, tokens[i], special, &len);
        if (strip && len > 0 && p[0] == ' ') {
            p++;
            len--;
        }
        strip = false;
        memcpy(s + at, p, len);
        at += len;
    }
    if (vocab->clean_spaces) at = clean_spaces(s, at);
    s[at] = '\0';
    *out = s;
    return BB_OK;
}

/* ---- streaming */

struct bb_detok {
    const bb_vocab *vocab;
    bool special;
    uint8_t held[4]; /* the start of a character still waiting for its last bytes */
    size_t n_held;
    char *out;
    size_t cap;
};

bb_detok *bb_detok_new(const bb_vocab *vocab, bool special) {
    if (!vocab) return NULL;
    bb_detok *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->vocab = vocab;
    d->special = special;
    return d;
}

void bb_detok_free(bb_detok *d) {
    if (!d) return;
    free(d->out);
    free(d);
}

static bool reserve(bb_detok *d, size_t need) {
    if (need <= d->cap) return true;
    size_t cap = d->cap ? d->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) return false;
        cap *= 2;
    }
    char *p = realloc(d->out, cap);
    if (!p) return false;
    d->out = p;
    d->cap = cap;
    return true;
}

/* Copies the well-formed characters of held bytes + piece to d->out, writing U+FFFD for each
 * ill-formed subpart and keeping an unfinished final character in d->held. */
static size_t decode_into(bb_detok *d, const char *piece, size_t len) {
    size_t total = d->n_held + len, o = 0, i = 0;
    /* The held bytes (at most 3) in front of the piece, viewed through one small window. */
    uint8_t win[8];
    while (i < total) {
        size_t w = total - i < sizeof win ? total - i : sizeof win;
        for (size_t k = 0; k < w; k++) {
            size_t j = i + k;
            win[k] = j < d->n_held ? d->held[j] : (uint8_t)piece[j - d->n_held];
        }
        size_t n;
        bb_utf8_scan r = bb_utf8_scan_strict(win, w, &n);
        if (r == BB_UTF8_INCOMPLETE) {
            memcpy(d->held, win, n);
            d->n_held = n;
            return o;
        }
        if (r == BB_UTF8_COMPLETE) {
            memcpy(d->out + o, win, n);
            o += n;
        } else {
            o += bb_utf8_encode(BB_UTF8_REPLACEMENT, d->out + o);
        }
        i += n;
    }
    d->n_held = 0;
    return o;
}

const char *bb_detok_push(bb_detok *d, bb_token token, size_t *len) {
    size_t dummy;
    if (!len) len = &dummy;
    *len = 0;
    if (!d) return "";
    size_t plen = 0;
    const char *p = "";
    if (bb_vocab_valid(d->vocab, token)) p = piece_of(d->vocab, token, d->special, &plen);
    /* Worst case every byte is an ill-formed subpart: 3 bytes of U+FFFD each. */
    size_t need;
    if (!bb_add_size(plen, d->n_held, &need) || !bb_mul_size(need, 3, &need) ||
        !reserve(d, need + 1)) {
        return "";
    }
    *len = decode_into(d, p, plen);
    d->out[*len] = '\0';
    return d->out;
}

const char *bb_detok_flush(bb_detok *d, size_t *len) {
    size_t dummy;
    if (!len) len = &dummy;
    *len = 0;
    if (!d) return "";
    if (!reserve(d, 4)) return "";
    if (d->n_held > 0) *len = bb_utf8_encode(BB_UTF8_REPLACEMENT, d->out);
    d->n_held = 0;
    d->out[*len] = '\0';
    return d->out;
}
