#include "tokenizer/pretok.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"
#include "tokenizer/pretok_table.h"
#include "tokenizer/utf8.h"

struct bb_pretok {
    pcre2_code *codes[BB_PRETOK_MAX_EXPRS];
    size_t n_codes;
};

/* White space as llama.cpp's tables define it (the Unicode White_Space property). PCRE2's own
 * \s in UCP mode also matches U+180E, which llama.cpp treats as a format character, so the
 * class is spelled out. */
#define WS_ITEMS                                                                                   \
    "\\x{9}-\\x{D} \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"          \
    "\\x{205F}\\x{3000}"

typedef struct strbuf {
    char *p;
    size_t n, cap;
} strbuf;

static bool sb_put(strbuf *b, const char *s, size_t n) {
    size_t need;
    if (!bb_add_size(b->n, n, &need) || !bb_add_size(need, 1, &need)) return false;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
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
    b->p[b->n] = '\0';
    return true;
}

static bool sb_puts(strbuf *b, const char *s) {
    return sb_put(b, s, strlen(s));
}

/* Replaces \s and \S by explicit classes (inside a class, \s becomes the class items). */
static bb_status rewrite_pattern(const char *pat, strbuf *out, bb_error *err) {
    bool in_class = false, ok = true;
    for (size_t i = 0; pat[i] && ok;) {
        char c = pat[i];
        if (c == '\\' && pat[i + 1]) {
            char n = pat[i + 1];
            if (n == 's') {
                ok = in_class ? sb_puts(out, WS_ITEMS) : sb_puts(out, "[" WS_ITEMS "]");
            } else if (n == 'S') {
                if (in_class) {
                    return bb_fail(err, BB_ERR_INTERNAL, "\\S inside a class in pattern %s", pat);
                }
                ok = sb_puts(out, "[^" WS_ITEMS "]");
            } else {
                ok = sb_put(out, pat + i, 2);
            }
            i += 2;
            continue;
        }
        if (c == '[' && !in_class) {
            in_class = true;
            size_t n = 1;
            if (pat[i + n] == '^') n++;
            if (pat[i + n] == ']') n++; /* a leading ] is a literal */
            ok = sb_put(out, pat + i, n);
            i += n;
            continue;
        }
        if (c == ']' && in_class) in_class = false;
        ok = sb_put(out, &c, 1);
        i++;
    }
    return ok ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory compiling a pattern");
}

static bb_status compile_one(const char *pat, pcre2_code **out, bb_error *err) {
    strbuf src = {0};
    bb_status st = rewrite_pattern(pat, &src, err);
    if (st != BB_OK) {
        free(src.p);
        return st;
    }
    int code;
    PCRE2_SIZE at;
    /* ECMAScript (std::regex, which llama.cpp uses) anchors $ at the very end only. */
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY;
    *out = pcre2_compile((PCRE2_SPTR)src.p, src.n, opts, &code, &at, NULL);
    free(src.p);
    if (!*out) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return bb_fail(err, BB_ERR_INTERNAL, "pre-tokenizer pattern %s: %s at offset %zu", pat,
                       (const char *)msg, (size_t)at);
    }
    /* Without JIT support pcre2_match interprets the pattern: slower, same results. */
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return BB_OK;
}

static const bb_pretok_def *find_def(const char *name, size_t len, bool *known) {
    *known = true;
    if (len == 0) return &bb_pretok_defs[0];
    for (size_t d = 0; d < sizeof bb_pretok_defs / sizeof bb_pretok_defs[0]; d++) {
        for (size_t k = 0; k < BB_PRETOK_MAX_NAMES && bb_pretok_defs[d].names[k]; k++) {
            const char *n = bb_pretok_defs[d].names[k];
            if (strlen(n) == len && memcmp(n, name, len) == 0) return &bb_pretok_defs[d];
        }
    }
    *known = false;
    return &bb_pretok_defs[0];
}

bb_status bb_pretok_new(const char *name, size_t len, bb_pretok **out, bb_pretok_traits *traits,
                        bb_error *err) {
    *out = NULL;
    bool known;
    const bb_pretok_def *def = find_def(name, len, &known);
    bb_pretok *p = calloc(1, sizeof *p);
    if (!p) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a pre-tokenizer");
    for (size_t i = 0; i < BB_PRETOK_MAX_EXPRS && def->exprs[i]; i++) {
        bb_status st = compile_one(def->exprs[i], &p->codes[i], err);
        if (st != BB_OK) {
            bb_pretok_free(p);
            return st;
        }
        p->n_codes = i + 1;
    }
    *traits = (bb_pretok_traits){.known = known,
                                 .ignore_merges = def->ignore_merges,
                                 .add_bos = def->add_bos,
                                 .clean_spaces = !def->keep_spaces,
                                 .no_bos = def->no_bos};
    *out = p;
    return BB_OK;
}

void bb_pretok_free(bb_pretok *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n_codes; i++)
        pcre2_code_free(p->codes[i]);
    free(p);
}

void bb_words_free(bb_words *w) {
    free(w->bytes);
    free(w->off);
    free(w->len);
    memset(w, 0, sizeof *w);
}

/* ---- splitting */

typedef struct span {
    size_t start, end; /* byte offsets into the subject */
} span;

typedef struct spans {
    span *v;
    size_t n, cap;
} spans;

static bool spans_push(spans *s, size_t start, size_t end) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *s->v) return false;
        span *v = realloc(s->v, cap * sizeof *v);
        if (!v) return false;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span){start, end};
    return true;
}

/* The text decoded the lenient way (cps) and re-encoded as valid UTF-8 for PCRE2 (subj):
 * surrogates, which llama.cpp lets through, become U+FFFD in the subject only (same class
 * for every pattern: neither letter, number nor space). cp_at maps a subject byte offset
 * that starts a character to its index in cps; cp_at[subj_len] = n_cps. */
typedef struct decoded {
    uint32_t *cps;
    size_t n_cps;
    char *subj;
    size_t subj_len;
    uint32_t *cp_at;
} decoded;

static void decoded_free(decoded *d) {
    free(d->cps);
    free(d->subj);
    free(d->cp_at);
}

static bb_status decode_text(const char *text, size_t len, decoded *d, bb_error *err) {
    size_t subj_cap;
    memset(d, 0, sizeof *d);
    if (len > UINT32_MAX / 4 || !bb_mul_size(len, 4, &subj_cap)) {
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "text of %zu bytes is too long to tokenize",
                       len);
    }
    d->cps = malloc((len + 1) * sizeof *d->cps);
    d->subj = malloc(subj_cap + 1);
    d->cp_at = malloc((subj_cap + 1) * sizeof *d->cp_at);
    if (!d->cps || !d->subj || !d->cp_at) {
        decoded_free(d);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory decoding text");
    }
    for (size_t i = 0; i < len;) {
        size_t adv;
        uint32_t cp = bb_utf8_decode_lenient((const uint8_t *)text + i, len - i, &adv);
        i += adv;
        if (cp > 0x10FFFF) cp = BB_UTF8_REPLACEMENT;
        uint32_t shown = (cp >= 0xD800 && cp <= 0xDFFF) ? BB_UTF8_REPLACEMENT : cp;
        d->cp_at[d->subj_len] = (uint32_t)d->n_cps;
        d->subj_len += bb_utf8_encode(shown, d->subj + d->subj_len);
        d->cps[d->n_cps++] = cp;
    }
    d->cp_at[d->subj_len] = (uint32_t)d->n_cps;
    return BB_OK;
}

static int match_at(const pcre2_code *code, const decoded *d, span seg, size_t from,
                    pcre2_match_data *md) {
    PCRE2_SPTR subj = (PCRE2_SPTR)d->subj + seg.start;
    size_t n = seg.end - seg.start;
    int rc = pcre2_match(code, subj, n, from, PCRE2_NO_UTF_CHECK, md, NULL);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        /* The interpreter keeps its backtracking state on the heap instead. */
        rc = pcre2_match(code, subj, n, from, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
    }
    return rc;
}

/* Splits every span of `in` into matches of `code` and the gaps between them. */
static bb_status split_spans(const pcre2_code *code, const decoded *d, const spans *in, spans *out,
                             pcre2_match_data *md, bb_error *err) {
    bool ok = true;
    for (size_t s = 0; s < in->n && ok; s++) {
        span seg = in->v[s];
        size_t n = seg.end - seg.start, pos = 0;
        while (pos < n && ok) {
            int rc = match_at(code, d, seg, pos, md);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(rc, msg, sizeof msg);
                return bb_fail(err, BB_ERR_INTERNAL, "pre-tokenizer match failed: %s",
                               (const char *)msg);
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me <= ms) {
                /* An empty match splits nothing; step over one character. */
                pos = ms + bb_utf8_seq_len((uint8_t)d->subj[seg.start + ms]);
                continue;
            }
            if (ms > pos) ok = spans_push(out, seg.start + pos, seg.start + ms);
            if (ok) ok = spans_push(out, seg.start + ms, seg.start + me);
            pos = me;
        }
        if (ok && pos < n) ok = spans_push(out, seg.start + pos, seg.end);
    }
    return ok ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory splitting text");
}

/* Each word: its code points as UTF-8, every byte then mapped by bb_byte_to_cp. */
static bb_status build_words(const decoded *d, const spans *sp, bb_words *w, bb_error *err) {
    size_t cap;
    /* A code point takes at most 4 bytes, each byte at most 2 after byte mapping. */
    if (!bb_mul_size(d->n_cps, 8, &cap)) {
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "text is too long to tokenize");
    }
    w->bytes = malloc(cap + 1);
    w->off = malloc((sp->n + 1) * sizeof *w->off);
    w->len = malloc((sp->n + 1) * sizeof *w->len);
    if (!w->bytes || !w->off || !w->len) {
        bb_words_free(w);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory splitting text");
    }
    size_t at = 0;
    for (size_t s = 0; s < sp->n; s++) {
        size_t c0 = d->cp_at[sp->v[s].start], c1 = d->cp_at[sp->v[s].end];
        w->off[s] = at;
        for (size_t c = c0; c < c1; c++) {
            char raw[4];
            size_t nraw = bb_utf8_encode(d->cps[c], raw);
            for (size_t k = 0; k < nraw; k++) {
                at += bb_utf8_encode(bb_byte_to_cp((uint8_t)raw[k]), w->bytes + at);
            }
        }
        w->len[s] = at - w->off[s];
    }
    w->n = sp->n;
    return BB_OK;
}

bb_status bb_pretok_split(const bb_pretok *p, const char *text, size_t len, bb_words *out,
                          bb_error *err) {
    memset(out, 0, sizeof *out);
    decoded d;
    bb_status st = decode_text(text, len, &d, err);
    if (st != BB_OK) return st;
    spans a = {0}, b = {0};
    pcre2_match_data *md = NULL;
    if (d.subj_len > 0 && !spans_push(&a, 0, d.subj_len)) {
        st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory splitting text");
    }
    for (size_t r = 0; r < p->n_codes && st == BB_OK && a.n > 0; r++) {
        pcre2_match_data_free(md);
        md = pcre2_match_data_create_from_pattern(p->codes[r], NULL);
        if (!md) {
            st = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for regex match data");
            break;
        }
        b.n = 0;
        st = split_spans(p->codes[r], &d, &a, &b, md, err);
        spans t = a;
        a = b;
        b = t;
    }
    if (st == BB_OK) st = build_words(&d, &a, out, err);
    pcre2_match_data_free(md);
    free(a.v);
    free(b.v);
    decoded_free(&d);
    return st;
}
