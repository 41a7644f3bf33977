/* The tokenizers on real vocabularies: SentencePiece (Llama 2, Phi-3) and byte-level BPE
 * (GPT-2, DeepSeek) from ../shared/testdata/tokenizer, or, without the conformance data, the
 * test fixtures' SPM and BPE vocabularies. The first input byte picks the vocabulary and the
 * flags, the rest is the text. Properties: every id is in the vocabulary, the whole-sequence
 * and streaming detokenizers agree, and byte-level BPE gives back exactly the well-formed
 * UTF-8 text it was given (it has a token for every byte). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "common/strbuf.h"
#include "fixture_model.h"
#include "fuzz.h"
#include "model_fixture.h"
#include "server/utf8.h"
#include "tokenizer/vocab_impl.h"

#define MAX_VOCABS 6

static struct {
    bb_model *model;
    bool byte_level; /* gpt2-style BPE: detokenize(tokenize(text)) == text */
} vocabs[MAX_VOCABS];
static int n_vocabs;

static void add_vocab(void *img, size_t size, bool byte_level) {
    bb_model_params mp = {.vocab_only = true};
    bb_error err = {0};
    bb_model *m = NULL;
    /* the image stays alive for the process: models keep pointers into it */
    if (bb_model_load_from_memory(img, size, &mp, &m, &err) != BB_OK) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.message);
        abort();
    }
    vocabs[n_vocabs].model = m;
    vocabs[n_vocabs++].byte_level = byte_level;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const struct {
        const char *file;
        bool byte_level;
    } real[] = {{"tokenizer/ggml-vocab-llama-spm.gguf", false},
                {"tokenizer/ggml-vocab-phi-3.gguf", false},
                {"tokenizer/ggml-vocab-gpt-2.gguf", true},
                {"tokenizer/ggml-vocab-deepseek-llm.gguf", true}};
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        size_t size = 0;
        char *img = fuzz_read_testdata(real[i].file, &size);
        if (img) add_vocab(img, size, real[i].byte_level);
    }
    if (n_vocabs == 0) {
        fprintf(stderr, "fuzz_tokenizer: no conformance data; using the fixture vocabularies\n");
        fixture_model_params bpe = fixture_model_default();
        bpe.n_embd = 8;
        bpe.n_layer = 1;
        bpe.n_head = 2;
        bpe.n_head_kv = 1;
        bpe.n_ff = 8;
        void *img = NULL;
        size_t size = 0;
        bb_error err = {0};
        if (fixture_model_build(&bpe, &img, &size, &err) != BB_OK) abort();
        add_vocab(img, size, true);
        fixture_spec spm = {"llama", 8, 1, 2, 1, 8, 300, 0, BB_TYPE_F32, true, 0, 5, false};
        if (!fixture_build(&spm, &img, &size)) abort();
        add_vocab(img, size, false);
    }
    (void)argc;
    (void)argv;
    return 0;
}

/* a == b, or, for vocabularies whose whole-text detokenization applies Hugging Face's
 * clean_up_tokenization_spaces (llama.cpp does for GPT-2-style BPE), a == b once every space
 * is taken out of both: that clean-up only ever deletes spaces (" ?" -> "?", " n't" -> "n't") */
static bool same_text(const char *a, size_t al, const char *b, size_t bl, bool cleaned) {
    if (!cleaned) return al == bl && memcmp(a, b, al) == 0;
    size_t i = 0, j = 0;
    for (;;) {
        while (i < al && a[i] == ' ')
            i++;
        while (j < bl && b[j] == ' ')
            j++;
        if (i == al || j == bl) return i == al && j == bl;
        if (a[i++] != b[j++]) return false;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const bb_vocab *v = bb_model_vocab(vocabs[data[0] % n_vocabs].model);
    bool cleaned = v->clean_spaces;
    bool byte_level = vocabs[data[0] % n_vocabs].byte_level;
    bool add_special = data[0] & 0x10, parse_special = data[0] & 0x20;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    bb_token *ids = NULL;
    size_t n = 0;
    bb_error err = {0};
    if (bb_tokenize(v, text, len, add_special, parse_special, &ids, &n, &err) != BB_OK) {
        FUZZ_ASSERT(err.message[0]);
        return 0;
    }
    int32_t n_tokens = bb_vocab_n_tokens(v);
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(ids[i] >= 0 && ids[i] < n_tokens);
    char *whole = NULL;
    /* the detokenizers give NUL-terminated text: compare only NUL-free inputs */
    if (!memchr(text, 0, len) && bb_detokenize(v, ids, n, false, &whole, &err) == BB_OK) {
        /* ill-formed UTF-8 is read as U+FFFD, as llama.cpp's pre-tokenizer reads it, so the
         * round trip is exact for well-formed text only */
        size_t bad_at;
        if (byte_level && !add_special && !parse_special && text_is_utf8(text, len, &bad_at))
            FUZZ_ASSERT(same_text(whole, strlen(whole), text, len, cleaned));
        /* the streaming detokenizer releases the same bytes, whole characters at a time */
        bb_detok *d = bb_detok_new(v, false);
        bb_strbuf streamed = {0};
        for (size_t i = 0; d && i < n; i++) {
            size_t piece = 0;
            const char *p = bb_detok_push(d, ids[i], &piece);
            bb_strbuf_append(&streamed, p, piece);
        }
        size_t rest = 0;
        const char *p = d ? bb_detok_flush(d, &rest) : NULL;
        bb_strbuf_append(&streamed, p, rest);
        size_t bad, wl = strlen(whole);
        /* an overlong NUL (C0 80) is read as U+0000 as llama.cpp reads it, and the whole
         * text, NUL-terminated, then ends there: compare NUL-free text only */
        if (d && !streamed.failed && text_is_utf8(whole, wl, &bad) &&
            !memchr(streamed.data ? streamed.data : "", 0, streamed.len)) {
            /* whole-text detokenization drops the space SentencePiece puts before the first
             * word (as llama.cpp's llama_detokenize does); a stream keeps it, since generated
             * text continues a prompt */
            const char *st = streamed.data ? streamed.data : "";
            size_t sl = streamed.len;
            if (!byte_level && sl == wl + 1 && st[0] == ' ') st++, sl--;
            FUZZ_ASSERT(same_text(st, sl, whole, wl, cleaned));
        }
        bb_strbuf_release(&streamed);
        bb_detok_free(d);
        bb_free(whole);
    }
    bb_free(ids);
    return 0;
}
