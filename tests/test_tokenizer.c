/* Tokenizer tests: small SPM and byte-level BPE vocabularies built in memory (merges,
 * byte fallback, special tokens, decoding, streaming, invalid UTF-8, speed), then, with
 * BB_TESTDATA, every real vocabulary in tokenizer/ against llama.cpp's token ids. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <time.h>

#include "beanbag.h"
#include "gguf/gguf.h"
#include "testutil.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

/* ---- helpers */

static bb_token *tok(const bb_vocab *v, const char *s, bool add_special, bool parse_special,
                     size_t *n) {
    bb_token *ids = NULL;
    bb_error err = {0};
    bb_status st = bb_tokenize(v, s, strlen(s), add_special, parse_special, &ids, n, &err);
    CHECKF(st == BB_OK, "tokenize '%s': %s", s, err.message);
    return ids;
}

/* Compares the tokens of `s` with the pieces named in `want` (NULL-terminated texts). */
static void expect_pieces(const bb_vocab *v, const char *s, bool add_special, bool parse_special,
                          const char *const *want) {
    size_t n = 0, nw = 0;
    bb_token *ids = tok(v, s, add_special, parse_special, &n);
    while (want[nw])
        nw++;
    bool same = n == nw;
    for (size_t i = 0; same && i < n; i++) {
        same = ids[i] == bb_vocab_find(v, want[i], strlen(want[i]));
    }
    CHECKF(same, "tokens of '%s': got %zu tokens, want %zu", s, n, nw);
    bb_free(ids);
}

static char *detok(const bb_vocab *v, const bb_token *ids, size_t n, bool special) {
    char *out = NULL;
    bb_error err = {0};
    CHECKF(bb_detokenize(v, ids, n, special, &out, &err) == BB_OK, "detokenize: %s", err.message);
    return out;
}

/* The stream decoder's whole output for a token sequence (flushed). */
static char *stream_all(const bb_vocab *v, const bb_token *ids, size_t n, bool special) {
    bb_detok *d = bb_detok_new(v, special);
    size_t cap = 64, len = 0;
    char *all = malloc(cap);
    for (size_t i = 0; i <= n; i++) {
        size_t k;
        const char *p = i < n ? bb_detok_push(d, ids[i], &k) : bb_detok_flush(d, &k);
        while (len + k + 1 > cap)
            all = realloc(all, cap *= 2);
        memcpy(all + len, p, k);
        len += k;
    }
    all[len] = '\0';
    bb_detok_free(d);
    return all;
}

static bool valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t k;
        if (bb_utf8_scan_strict((const uint8_t *)s + i, n - i, &k) != BB_UTF8_COMPLETE) {
            return false;
        }
        i += k;
    }
    return true;
}

static bb_str S(const char *s) {
    return (bb_str){s, strlen(s)};
}

/* ---- SPM fixture */

#define SPM_N_PIECES 27
static const char *const spm_pieces[SPM_N_PIECES] = {
    "▁",    "h",  "e",      "l",  "o",   "w",        "r",          "d",  "a",
    "b",    "c",  "he",     "ll", "llo", "hello",    "▁hello",     "▁w", "or",
    "▁wor", "ld", "▁world", "ab", "bc",  "<|user|>", "<|im_end|>", "x",  "▁x"};
static const float spm_scores[SPM_N_PIECES] = {-1, -2, -2, -2, -2,    -2, -2, -2, -2,
                                               -2, -2, -3, -3, -4,    -5, -6, -3, -3,
                                               -4, -3, -5, -1, -0.5f, 0,  0,  -2, -3};

typedef struct fixture {
    bb_str tokens[600];
    float scores[600];
    int32_t types[600];
    char names[256][8];
    bb_str merges[64];
    size_t n, n_merges;
} fixture;

static void add_token(fixture *f, const char *text, float score, int32_t type) {
    f->tokens[f->n] = S(text);
    f->scores[f->n] = score;
    f->types[f->n] = type;
    f->n++;
}

static bb_vocab *spm_vocab(fixture *f, const char *name, int add_space_prefix) {
    memset(f, 0, sizeof *f);
    add_token(f, "<unk>", 0, BB_TOKEN_TYPE_UNKNOWN);
    add_token(f, "<s>", 0, BB_TOKEN_TYPE_CONTROL);
    add_token(f, "</s>", 0, BB_TOKEN_TYPE_CONTROL);
    for (int b = 0; b < 256; b++) {
        snprintf(f->names[b], sizeof f->names[b], "<0x%02X>", b);
        add_token(f, f->names[b], 0, BB_TOKEN_TYPE_BYTE);
    }
    for (int i = 0; i < SPM_N_PIECES; i++) {
        int32_t type = !strcmp(spm_pieces[i], "<|user|>")     ? BB_TOKEN_TYPE_USER_DEFINED
                       : !strcmp(spm_pieces[i], "<|im_end|>") ? BB_TOKEN_TYPE_CONTROL
                                                              : BB_TOKEN_TYPE_NORMAL;
        add_token(f, spm_pieces[i], spm_scores[i], type);
    }
    bb_vocab_desc d = bb_vocab_desc_empty();
    d.model = S("llama");
    d.name = S(name);
    d.n_tokens = f->n;
    d.tokens = f->tokens;
    d.scores = f->scores;
    d.types = f->types;
    d.add_space_prefix = add_space_prefix;
    bb_vocab *v = NULL;
    bb_error err = {0};
    CHECKF(bb_vocab_create(&d, &v, &err) == BB_OK, "spm fixture: %s", err.message);
    return v;
}

static void test_spm_tokenize(void) {
    fixture f;
    bb_vocab *v = spm_vocab(&f, "fixture", BB_VOCAB_UNSET);
    if (!v) return;
    CHECK(bb_vocab_n_tokens(v) == 3 + 256 + SPM_N_PIECES);
    CHECK(bb_vocab_bos(v) == 1 && bb_vocab_eos(v) == 2 && bb_vocab_add_bos(v));
    expect_pieces(v, "hello world", false, false, (const char *[]){"▁hello", "▁world", NULL});
    expect_pieces(v, "hello world", true, false, (const char *[]){"<s>", "▁hello", "▁world", NULL});
    /* "bc" outscores "ab", so it merges first even though "ab" is further left. */
    expect_pieces(v, "abc", false, false, (const char *[]){"▁", "a", "bc", NULL});
    /* Byte fallback for characters that are not pieces: U+20AC is E2 82 AC. */
    expect_pieces(v, "x€", false, false,
                  (const char *[]){"▁x", "<0xE2>", "<0x82>", "<0xAC>", NULL});
    /* Invalid UTF-8 goes through byte by byte. */
    expect_pieces(v, "x\xff\xc3", false, false, (const char *[]){"▁x", "<0xFF>", "<0xC3>", NULL});
    size_t n;
    bb_token *ids = tok(v, "", true, false, &n);
    CHECK(n == 1 && ids[0] == 1);
    bb_free(ids);
    ids = tok(v, "", false, false, &n);
    CHECK(n == 0 && ids != NULL);
    bb_free(ids);
    bb_vocab_free(v);

    v = spm_vocab(&f, "fixture", 0);
    if (!v) return;
    expect_pieces(v, "hello world", false, false, (const char *[]){"hello", "▁world", NULL});
    bb_vocab_free(v);
}

static void test_spm_special(void) {
    fixture f;
    bb_vocab *v = spm_vocab(&f, "fixture", BB_VOCAB_UNSET);
    if (!v) return;
    /* Control text is a token only with parse_special; the text after it gets the prefix
     * space again, as SentencePiece sees it as the start of a new sentence piece. */
    expect_pieces(v, "x<s>x", false, true, (const char *[]){"▁x", "<s>", "▁x", NULL});
    size_t n;
    bb_token *ids = tok(v, "x<s>x", false, false, &n);
    CHECK(n > 3);
    for (size_t i = 0; i < n; i++)
        CHECK(ids[i] != 1);
    bb_free(ids);
    /* User-defined tokens are matched even without parse_special. */
    expect_pieces(v, "x<|user|>x", false, false, (const char *[]){"▁x", "<|user|>", "▁x", NULL});
    /* EOG: the EOS and end-of-turn texts. */
    bb_token im_end = bb_vocab_find(v, "<|im_end|>", 10);
    CHECK(bb_vocab_is_eog(v, 2) && bb_vocab_is_eog(v, im_end) && !bb_vocab_is_eog(v, 1));
    CHECK(!bb_vocab_is_eog(v, -1) && !bb_vocab_is_eog(v, 1 << 30));
    CHECK(bb_vocab_is_control(v, 1) && !bb_vocab_is_control(v, 300));
    CHECK(bb_vocab_find(v, "nope", 4) == -1);
    bb_vocab_free(v);

    /* Phi-3 models strip white space after their special tokens (llama.cpp rule by name). */
    v = spm_vocab(&f, "Phi3 mini", BB_VOCAB_UNSET);
    if (!v) return;
    expect_pieces(v, "x<|user|>  x", false, false, (const char *[]){"▁x", "<|user|>", "▁x", NULL});
    bb_vocab_free(v);
}

static void test_spm_decode(void) {
    fixture f;
    bb_vocab *v = spm_vocab(&f, "fixture", BB_VOCAB_UNSET);
    if (!v) return;
    size_t n;
    bb_token *ids = tok(v, "hello world", false, false, &n);
    char *s = detok(v, ids, n, false);
    CHECKF(s && !strcmp(s, "hello world"), "got '%s'", s ? s : "");
    bb_free(s);
    bb_free(ids);
    /* With BOS first, the (empty) BOS piece takes the strip, as in llama.cpp. */
    ids = tok(v, "hello", true, false, &n);
    s = detok(v, ids, n, false);
    CHECK(s && !strcmp(s, " hello"));
    bb_free(s);
    s = detok(v, ids, n, true);
    CHECK(s && !strcmp(s, "<s> hello"));
    bb_free(s);
    bb_free(ids);

    char buf[16];
    CHECK(bb_token_to_piece(v, 1, false, buf, sizeof buf) == 0);
    CHECK(bb_token_to_piece(v, 1, true, buf, sizeof buf) == 3 && !memcmp(buf, "<s>", 3));
    CHECK(bb_token_to_piece(v, 3 + 0x41, false, buf, sizeof buf) == 1 && buf[0] == 'A');
    bb_token hello = bb_vocab_find(v, "▁hello", strlen("▁hello"));
    CHECK(bb_token_to_piece(v, hello, false, buf, 3) == -6);
    CHECK(bb_token_to_piece(v, hello, false, buf, sizeof buf) == 6 && !memcmp(buf, " hello", 6));
    CHECK(bb_token_to_piece(v, -5, true, buf, sizeof buf) == 0);
    bb_error err = {0};
    bb_token bad = 100000;
    CHECK(bb_detokenize(v, &bad, 1, false, &s, &err) == BB_ERR_INVALID_ARGUMENT);
    bb_vocab_free(v);
}

/* ---- BPE fixture */

static const char *const bpe_merges[] = {"h e",   "l l", "ll o",    "he llo", "Ġ w", "o r",
                                         "Ġw or", "l d", "Ġwor ld", "a b",    "b c", "' s"};

static bb_vocab *bpe_vocab(fixture *f, const char *pre, int add_bos) {
    memset(f, 0, sizeof *f);
    /* Byte b is token b, written with the GPT-2 byte-to-character mapping. */
    for (int b = 0; b < 256; b++) {
        bb_utf8_encode(bb_byte_to_cp((uint8_t)b), f->names[b]);
        add_token(f, f->names[b], 0, BB_TOKEN_TYPE_NORMAL);
    }
    static const char *const merged[] = {"he",   "ll", "llo",    "hello", "Ġw", "or",
                                         "Ġwor", "ld", "Ġworld", "ab",    "bc", "'s"};
    for (size_t i = 0; i < sizeof merged / sizeof merged[0]; i++) {
        add_token(f, merged[i], 0, BB_TOKEN_TYPE_NORMAL);
    }
    add_token(f, "<|endoftext|>", 0, BB_TOKEN_TYPE_CONTROL);
    add_token(f, "<tool>", 0, BB_TOKEN_TYPE_USER_DEFINED);
    for (size_t i = 0; i < sizeof bpe_merges / sizeof bpe_merges[0]; i++) {
        f->merges[f->n_merges++] = S(bpe_merges[i]);
    }
    bb_vocab_desc d = bb_vocab_desc_empty();
    d.model = S("gpt2");
    d.pre = S(pre);
    d.n_tokens = f->n;
    d.tokens = f->tokens;
    d.types = f->types;
    d.n_merges = f->n_merges;
    d.merges = f->merges;
    d.special[BB_SPECIAL_BOS] = d.special[BB_SPECIAL_EOS] = (int64_t)f->n - 2;
    d.add_bos = add_bos;
    bb_vocab *v = NULL;
    bb_error err = {0};
    CHECKF(bb_vocab_create(&d, &v, &err) == BB_OK, "bpe fixture: %s", err.message);
    return v;
}

static void expect_same_tokens(const bb_vocab *v, const char *a, const char *b) {
    size_t na, nb;
    bb_token *x = tok(v, a, false, false, &na), *y = tok(v, b, false, false, &nb);
    CHECKF(na == nb && (na == 0 || !memcmp(x, y, na * sizeof *x)), "tokens differ: %s", a);
    bb_free(x);
    bb_free(y);
}

static void test_bpe_tokenize(void) {
    fixture f;
    bb_vocab *v = bpe_vocab(&f, "gpt-2", BB_VOCAB_UNSET);
    if (!v) return;
    CHECK(!bb_vocab_add_bos(v));
    expect_pieces(v, "hello world", false, false, (const char *[]){"hello", "Ġworld", NULL});
    expect_pieces(v, "hello world", true, false, (const char *[]){"hello", "Ġworld", NULL});
    /* Lowest rank first: "a b" (rank 9) beats "b c" (rank 10). */
    expect_pieces(v, "abc", false, false, (const char *[]){"ab", "c", NULL});
    /* Merges never cross pre-tokenizer words: "a" and " b" are separate words. */
    expect_pieces(v, "a b", false, false, (const char *[]){"a", "Ġ", "b", NULL});
    /* Contractions are words of their own. */
    expect_pieces(v, "he's", false, false, (const char *[]){"he", "'s", NULL});
    /* Bytes of multi-byte characters: é is C3 A9. */
    expect_pieces(v, "é", false, false, (const char *[]){"Ã", "©", NULL});
    /* Invalid UTF-8 becomes U+FFFD before splitting (llama.cpp's unicode_cpts_from_utf8). */
    expect_same_tokens(v, "a\xff", "a\xef\xbf\xbd");
    expect_same_tokens(v, "\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd");
    expect_same_tokens(v, "\xc3", "\xef\xbf\xbd");
    bb_vocab_free(v);

    v = bpe_vocab(&f, "gpt-2", 1);
    if (!v) return;
    expect_pieces(v, "ab", true, false, (const char *[]){"<|endoftext|>", "ab", NULL});
    bb_vocab_free(v);
}

static void test_bpe_special(void) {
    fixture f;
    bb_vocab *v = bpe_vocab(&f, "gpt-2", BB_VOCAB_UNSET);
    if (!v) return;
    bb_token eot = bb_vocab_find(v, "<|endoftext|>", 13);
    expect_pieces(v, "ab<|endoftext|>ab", false, true,
                  (const char *[]){"ab", "<|endoftext|>", "ab", NULL});
    size_t n;
    bb_token *ids = tok(v, "ab<|endoftext|>ab", false, false, &n);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= ids[i] == eot;
    CHECK(!found && n > 3);
    bb_free(ids);
    expect_pieces(v, "ab<tool>ab", false, false, (const char *[]){"ab", "<tool>", "ab", NULL});
    CHECK(bb_vocab_is_eog(v, eot) && bb_vocab_is_control(v, eot));
    bb_vocab_free(v);
}

/* Random strings over an alphabet with 1- to 4-byte characters, spaces and punctuation. */
static size_t random_text(uint64_t *rng, char *buf, size_t max_chars) {
    static const char *const alphabet[] = {"a",  "b",  "c",    "h",  "e",        "l", "o", " ",
                                           "  ", "\n", "\t",   "'s", ".",        "?", "1", "23",
                                           "é",  "€",  "日本", "😀",  "\xc2\xa0", "Ω"};
    size_t n = 0, k = 1 + tu_rand_u64(rng) % max_chars;
    for (size_t i = 0; i < k; i++) {
        const char *a = alphabet[tu_rand_u64(rng) % (sizeof alphabet / sizeof alphabet[0])];
        memcpy(buf + n, a, strlen(a));
        n += strlen(a);
    }
    buf[n] = '\0';
    return n;
}

static void test_bpe_roundtrip(void) {
    fixture f;
    /* qwen2 does not clean up spaces, so decoding gives back exactly the input. */
    bb_vocab *v = bpe_vocab(&f, "qwen2", BB_VOCAB_UNSET);
    if (!v) return;
    uint64_t rng = 7;
    char text[512];
    int bad = 0;
    for (int iter = 0; iter < 300; iter++) {
        random_text(&rng, text, 60);
        size_t n;
        bb_token *ids = tok(v, text, false, false, &n);
        char *s = detok(v, ids, n, false);
        char *st = stream_all(v, ids, n, false);
        bad += !s || strcmp(s, text) || strcmp(st, text);
        bb_free(s);
        free(st);
        bb_free(ids);
    }
    CHECKF(bad == 0, "%d of 300 random strings did not round-trip", bad);
    bb_vocab_free(v);

    /* GPT-2 cleans up tokenization spaces when decoding whole sequences. */
    v = bpe_vocab(&f, "gpt-2", BB_VOCAB_UNSET);
    if (!v) return;
    size_t n;
    bb_token *ids = tok(v, "a , b ? he 's", false, false, &n);
    char *s = detok(v, ids, n, false);
    CHECKF(s && !strcmp(s, "a, b? he's"), "clean spaces: '%s'", s ? s : "");
    bb_free(s);
    bb_free(ids);
    bb_vocab_free(v);
}

static void test_stream(void) {
    fixture f;
    bb_vocab *v = spm_vocab(&f, "fixture", BB_VOCAB_UNSET);
    if (!v) return;
    /* € = E2 82 AC arrives one byte token at a time. */
    bb_detok *d = bb_detok_new(v, false);
    size_t len;
    const char *p = bb_detok_push(d, 3 + 0xE2, &len);
    CHECK(len == 0);
    p = bb_detok_push(d, 3 + 0x82, &len);
    CHECK(len == 0);
    p = bb_detok_push(d, 3 + 0xAC, &len);
    CHECK(len == 3 && !memcmp(p, "€", 3));
    /* A control token without `special` adds nothing; an impossible byte becomes U+FFFD. */
    p = bb_detok_push(d, 1, &len);
    CHECK(len == 0);
    p = bb_detok_push(d, 3 + 0xFF, &len);
    CHECK(len == 3 && !memcmp(p, "\xef\xbf\xbd", 3));
    /* An unfinished character followed by ASCII: U+FFFD then the ASCII. */
    bb_detok_push(d, 3 + 0xE2, &len);
    p = bb_detok_push(d, 3 + 'A', &len);
    CHECK(len == 4 && !memcmp(p,
                              "\xef\xbf\xbd"
                              "A",
                              4));
    /* Left over at the end: flushed as U+FFFD. */
    bb_detok_push(d, 3 + 0xF0, &len);
    bb_detok_push(d, 3 + 0x9F, &len);
    p = bb_detok_flush(d, &len);
    CHECK(len == 3 && !memcmp(p, "\xef\xbf\xbd", 3));
    p = bb_detok_flush(d, &len);
    CHECK(len == 0);
    bb_detok_free(d);

    /* Random byte tokens: output is always valid UTF-8, and equals the bytes when they were. */
    uint64_t rng = 99;
    int bad = 0;
    for (int iter = 0; iter < 200; iter++) {
        bb_token ids[24];
        char raw[24];
        size_t n = 1 + tu_rand_u64(&rng) % 24;
        for (size_t i = 0; i < n; i++) {
            raw[i] = (char)(tu_rand_u64(&rng) % 3 ? 0x80 + tu_rand_u64(&rng) % 0x80
                                                  : 1 + tu_rand_u64(&rng) % 0x7F);
            ids[i] = 3 + (uint8_t)raw[i];
        }
        char *s = stream_all(v, ids, n, false);
        bad += !valid_utf8(s, strlen(s)) || (valid_utf8(raw, n) && memcmp(s, raw, n) != 0);
        free(s);
    }
    CHECKF(bad == 0, "%d of 200 random byte streams decoded badly", bad);
    bb_vocab_free(v);
}

static void test_bad_vocab(void) {
    bb_vocab *v = NULL;
    bb_error err = {0};
    bb_str toks[3] = {S("a"), S("b"), S("a")};
    bb_vocab_desc d = bb_vocab_desc_empty();
    d.model = S("llama");
    d.n_tokens = 3;
    d.tokens = toks;
    CHECK(bb_vocab_create(&d, &v, &err) == BB_ERR_FORMAT && strstr(err.message, "duplicate"));
    d.model = S("wordpiece");
    toks[2] = S("c");
    CHECK(bb_vocab_create(&d, &v, &err) == BB_ERR_UNSUPPORTED && strstr(err.message, "wordpiece"));
    d.model = S("llama");
    d.n_tokens = 0;
    CHECK(bb_vocab_create(&d, &v, &err) == BB_ERR_FORMAT && v == NULL);
    /* An unknown pre-tokenizer falls back to the default expressions. */
    d.model = S("gpt2");
    d.pre = S("no-such-pre");
    d.n_tokens = 3;
    d.add_bos = 0;
    CHECK(bb_vocab_create(&d, &v, &err) == BB_OK);
    size_t n;
    bb_token *ids = tok(v, "abc", false, false, &n);
    CHECK(n == 3 && ids[0] == 0 && ids[1] == 1 && ids[2] == 2);
    bb_free(ids);
    bb_vocab_free(v);
    /* BOS requested but absent (ids default to 11, outside this vocabulary). */
    d.add_bos = 1;
    CHECK(bb_vocab_create(&d, &v, &err) == BB_ERR_FORMAT);
    bb_token *out = NULL;
    size_t nout = 0;
    CHECK(bb_tokenize(NULL, "a", 1, false, false, &out, &nout, &err) == BB_ERR_INVALID_ARGUMENT);
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 100 KB of mixed text, and a 100 KB run of one letter, through both fixtures. */
static void test_speed(void) {
    size_t cap = 100 * 1024;
    char *mixed = malloc(cap + 64), *run = malloc(cap);
    uint64_t rng = 5;
    size_t n = 0;
    while (n < cap)
        n += random_text(&rng, mixed + n, 40);
    memset(run, 'a', cap);
    fixture f, g;
    bb_vocab *vs[2] = {spm_vocab(&f, "fixture", BB_VOCAB_UNSET),
                       bpe_vocab(&g, "llama-bpe", BB_VOCAB_UNSET)};
    const char *names[2] = {"spm", "bpe"};
    for (int k = 0; k < 2; k++) {
        for (int pass = 0; pass < 2 && vs[k]; pass++) {
            const char *text = pass ? run : mixed;
            size_t len = pass ? cap : n, nid = 0;
            bb_token *ids = NULL;
            bb_error err = {0};
            double t0 = seconds();
            bb_status st = bb_tokenize(vs[k], text, len, false, false, &ids, &nid, &err);
            double dt = seconds() - t0;
            CHECKF(st == BB_OK, "%s: %s", names[k], err.message);
            printf("speed: %s %s, %zu bytes -> %zu tokens in %.3f s\n", names[k],
                   pass ? "one letter" : "mixed text", len, nid, dt);
            CHECKF(dt < 5.0, "%s took %.2f s", names[k], dt);
            bb_free(ids);
        }
        bb_vocab_free(vs[k]);
    }
    free(mixed);
    free(run);
}

/* ---- loading from GGUF */

/* The SPM fixture written with the GGUF writer; `drop` names a key to leave out and
 * `short_scores` writes one score too few. */
static bb_status load_spm_gguf(const char *drop, const char *model, bool short_scores,
                               bb_vocab **out, bb_error *err) {
    fixture f;
    bb_vocab *ref = spm_vocab(&f, "fixture", BB_VOCAB_UNSET);
    bb_vocab_free(ref);
    const char *texts[600];
    for (size_t i = 0; i < f.n; i++)
        texts[i] = f.tokens[i].ptr;
    gguf_writer *w = gguf_writer_new();
    bool ok = w != NULL;
    if (ok && strcmp(drop, "model")) ok = !gguf_writer_set_str(w, "tokenizer.ggml.model", model);
    if (ok && strcmp(drop, "tokens")) {
        ok = !gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", texts, f.n);
    }
    if (ok) {
        ok = !gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, f.scores,
                                  short_scores ? f.n - 1 : f.n);
    }
    if (ok)
        ok = !gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, f.types, f.n);
    if (ok) ok = !gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    if (ok) ok = !gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2);
    if (ok) ok = !gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true);
    void *mem = NULL;
    size_t size = 0;
    gguf_file *g = NULL;
    bb_status st = ok ? gguf_writer_write_memory(w, &mem, &size, err) : BB_ERR_OUT_OF_MEMORY;
    if (st == BB_OK) st = gguf_open_memory(mem, size, &g, err);
    if (st == BB_OK) st = bb_vocab_load(g, out, err);
    gguf_close(g);
    free(mem);
    gguf_writer_free(w);
    return st;
}

static void test_gguf_load(void) {
    bb_vocab *v = NULL;
    bb_error err = {0};
    CHECKF(load_spm_gguf("", "llama", false, &v, &err) == BB_OK, "%s", err.message);
    if (v) {
        CHECK(bb_vocab_n_tokens(v) == 3 + 256 + SPM_N_PIECES && bb_vocab_add_bos(v));
        expect_pieces(v, "hello world", true, false,
                      (const char *[]){"<s>", "▁hello", "▁world", NULL});
        bb_vocab_free(v);
    }
    v = NULL;
    CHECK(load_spm_gguf("model", "llama", false, &v, &err) == BB_ERR_FORMAT && !v);
    CHECK(strstr(err.message, "tokenizer.ggml.model") != NULL);
    CHECK(load_spm_gguf("tokens", "llama", false, &v, &err) == BB_ERR_FORMAT && !v);
    CHECK(load_spm_gguf("", "llama", true, &v, &err) == BB_ERR_FORMAT && !v);
    CHECK(strstr(err.message, "scores") != NULL);
    CHECK(load_spm_gguf("", "bert", false, &v, &err) == BB_ERR_UNSUPPORTED && !v);
    /* A byte-level BPE vocabulary needs its merges. */
    CHECK(load_spm_gguf("", "gpt2", false, &v, &err) == BB_ERR_FORMAT && !v);
    CHECK(strstr(err.message, "merges") != NULL);
}

/* ---- conformance with llama.cpp's ids (BB_TESTDATA/tokenizer) */

static char *read_text(const char *dir, const char *name, const char *suffix, size_t *len) {
    char path[2048];
    if (snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix) >= (int)sizeof path) return NULL;
    return tu_read_file(path, len);
}

/* Next line of a cursor into a NUL-terminated text (the cursor moves past it). */
static char *next_line(char **cur) {
    if (!*cur || !**cur) return NULL;
    char *line = *cur, *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *cur = nl + 1;
    } else {
        *cur = line + strlen(line);
    }
    return line;
}

typedef struct suite_count {
    int pass, total, rt_pass, rt_total, rt_skipped;
} suite_count;

/* Decoding must give the input back; where the vocabulary cleans up tokenization spaces,
 * strings that contain such a space are left out. */
static bool has_cleanup_pattern(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] == ' ' && strchr("?!.,'", s[i + 1])) return true;
    }
    return false;
}

static void check_case(const bb_vocab *v, bool cleans, const char *s, size_t n, const char *line,
                       const char *what, suite_count *c) {
    bb_token *ids = NULL;
    size_t nid = 0;
    bb_error err = {0};
    bb_status st = bb_tokenize(v, s, n, false, false, &ids, &nid, &err);
    bool same = st == BB_OK;
    size_t k = 0;
    for (char *p = (char *)line, *end; same; p = end, k++) {
        long id = strtol(p, &end, 10);
        if (end == p) break;
        same = k < nid && ids[k] == id;
    }
    same = same && k == nid;
    c->total++;
    c->pass += same;
    CHECKF(same, "%s case %d: '%.40s' tokenized differently", what, c->total, s);
    if (st == BB_OK && cleans && has_cleanup_pattern(s, n)) {
        c->rt_skipped++;
    } else if (st == BB_OK) {
        char *back = NULL;
        bool ok = bb_detokenize(v, ids, nid, false, &back, &err) == BB_OK && strlen(back) == n &&
                  !memcmp(back, s, n);
        c->rt_total++;
        c->rt_pass += ok;
        CHECKF(ok, "%s case %d: '%.40s' does not decode back", what, c->total, s);
        bb_free(back);
    }
    bb_free(ids);
}

static void run_inp_suite(const bb_vocab *v, bool cleans, const char *dir, const char *name,
                          suite_count *c) {
    size_t n_inp, n_out;
    char *inp = read_text(dir, name, ".inp", &n_inp), *out = read_text(dir, name, ".out", &n_out);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *cur = out;
    for (char *s = inp; inp && out;) {
        char *e = strstr(s, sep); /* test strings contain no NUL bytes */
        if (!e) break;
        char *line = next_line(&cur);
        CHECKF(line != NULL, "%s.out has fewer lines than %s.inp has strings", name, name);
        if (!line) break;
        check_case(v, cleans, s, (size_t)(e - s), line, ".inp", c);
        s = e + strlen(sep);
    }
    free(inp);
    free(out);
}

static void run_json_suite(const bb_vocab *v, bool cleans, const char *dir, const char *name,
                           suite_count *c) {
    size_t n;
    char *json = read_text(dir, "strings.json", "", &n);
    char *ids = read_text(dir, name, ".strings.ids", &n);
    cJSON *arr = json ? cJSON_Parse(json) : NULL;
    CHECKF(!json || cJSON_IsArray(arr), "%s/strings.json is not a JSON array", dir);
    char *cur = ids;
    const cJSON *item, *list = ids ? arr : NULL;
    cJSON_ArrayForEach(item, list) {
        char *line = next_line(&cur);
        CHECKF(line && cJSON_IsString(item), "%s.strings.ids: missing line", name);
        if (!line || !cJSON_IsString(item)) break;
        check_case(v, cleans, item->valuestring, strlen(item->valuestring), line, "strings", c);
    }
    cJSON_Delete(arr);
    free(json);
    free(ids);
}

static bool is_vocab_file(const char *name) {
    size_t n = strlen(name);
    return strncmp(name, "ggml-vocab-", 11) == 0 && n > 16 && !strcmp(name + n - 5, ".gguf");
}

static void conformance_one(const char *dir, const char *name) {
    char path[2048];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        CHECKF(false, "path too long: %s/%s", dir, name);
        return;
    }
    gguf_file *g = NULL;
    bb_vocab *v = NULL;
    bb_error err = {0};
    bb_status st = gguf_open(path, &g, &err);
    if (st == BB_OK) st = bb_vocab_load(g, &v, &err);
    CHECKF(st == BB_OK, "%s: %s", name, err.message);
    if (st == BB_OK) {
        /* Probe: does decoding clean up " ," (GPT-2 style vocabularies do)? */
        bb_token *ids = NULL;
        size_t n = 0;
        char *back = NULL;
        bool cleans = bb_tokenize(v, "a ,", 3, false, false, &ids, &n, &err) == BB_OK &&
                      bb_detokenize(v, ids, n, false, &back, &err) == BB_OK && !strcmp(back, "a,");
        bb_free(ids);
        bb_free(back);
        suite_count inp = {0}, js = {0};
        run_inp_suite(v, cleans, dir, name, &inp);
        run_json_suite(v, cleans, dir, name, &js);
        printf("conformance: %-32s .inp %d/%d, strings.json %d/%d, decode back %d/%d "
               "(%d skipped: space clean-up)\n",
               name, inp.pass, inp.total, js.pass, js.total, inp.rt_pass + js.rt_pass,
               inp.rt_total + js.rt_total, inp.rt_skipped + js.rt_skipped);
    }
    bb_vocab_free(v);
    gguf_close(g);
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_conformance(void) {
    const char *root = tu_testdata();
    char dir[1024];
    DIR *d = NULL;
    if (root) {
        snprintf(dir, sizeof dir, "%s/tokenizer", root);
        d = opendir(dir);
    }
    if (!d) {
        tu_skip("tokenizer conformance (tokenizer/ggml-vocab-*.gguf)");
        return;
    }
    char *names[256];
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;) {
        if (is_vocab_file(e->d_name)) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_names);
    CHECKF(n > 0, "no ggml-vocab-*.gguf in %s", dir);
    for (size_t i = 0; i < n; i++) {
        conformance_one(dir, names[i]);
        free(names[i]);
    }
}

int main(void) {
    test_spm_tokenize();
    test_spm_special();
    test_spm_decode();
    test_bpe_tokenize();
    test_bpe_special();
    test_bpe_roundtrip();
    test_stream();
    test_bad_vocab();
    test_speed();
    test_gguf_load();
    test_conformance();
    return tu_finish("test_tokenizer");
}
