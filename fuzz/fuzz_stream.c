/* The streaming path of a response: token ids through the streaming detokenizer (whole UTF-8
 * characters only), each piece into the stop-string matcher, and the text the matcher lets go
 * released to the client, as the engine does (src/engine/). Input: a first byte n (0-4 stop
 * strings), n stop strings each ended by a 0 byte, then token ids, two bytes each, on the demo
 * model's vocabulary. Properties: released text only grows, is valid UTF-8 when the pieces
 * were, never contains a stop string, and at the end is exactly the text up to the first
 * stop string (or all of it). */
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "common/strbuf.h"
#include "engine/stop.h"
#include "fixture_model.h"
#include "fuzz.h"
#include "server/oai_request.h"
#include "train/demo_model.h"

static bb_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    size_t size = 0;
    const void *img = bb_demo_model_data(&size);
    void *fixture = NULL;
    bb_error err = {0};
    if (!img) {
        fixture_model_params p = fixture_model_default();
        if (fixture_model_build(&p, &fixture, &size, &err) != BB_OK) abort();
        img = fixture;
    }
    bb_model_params mp = {.vocab_only = true};
    if (bb_model_load_from_memory(img, size, &mp, &model, &err) != BB_OK) abort();
    (void)argc;
    (void)argv;
    return 0;
}

/* Where the first of the stop strings occurs in text[0..len), or len. */
static size_t first_stop(const char *text, size_t len, char *const *stops, size_t n) {
    size_t best = len;
    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(stops[i]);
        if (!sl || sl > len) continue;
        for (size_t at = 0; at + sl <= len && at < best; at++)
            if (!memcmp(text + at, stops[i], sl)) {
                best = at;
                break;
            }
    }
    return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t n_stops = data[0] % (OAI_MAX_STOP + 1), pos = 1;
    char *stops[OAI_MAX_STOP];
    size_t got = 0;
    while (got < n_stops && pos < size) {
        const uint8_t *end = memchr(data + pos, 0, size - pos);
        size_t len = end ? (size_t)(end - (data + pos)) : size - pos;
        if (len > 64) len = 64; /* the server's stop strings are short too */
        stops[got] = malloc(len + 1);
        memcpy(stops[got], data + pos, len);
        stops[got++][len] = 0;
        pos += (end ? (size_t)(end - (data + pos)) + 1 : size - pos);
    }
    const bb_vocab *v = bb_model_vocab(model);
    int32_t n_vocab = bb_vocab_n_tokens(v);
    bb_detok *d = bb_detok_new(v, (data[0] & 0x80) != 0);
    stop_matcher m;
    bb_error err = {0};
    bb_strbuf all = {0}; /* every byte the detokenizer gave */
    size_t released = 0;
    bool stopped = false;
    if (d && stop_init(&m, (const char *const *)stops, got, &err) == BB_OK) {
        size_t n_ids = (size - pos) / 2, i = 0;
        for (; i <= n_ids && !stopped; i++) {
            bool final = i == n_ids;
            size_t len = 0;
            const char *piece;
            if (!final) {
                const uint8_t *p = data + pos + 2 * i;
                piece = bb_detok_push(d, (bb_token)((p[0] | p[1] << 8) % n_vocab), &len);
            } else {
                piece = bb_detok_flush(d, &len);
            }
            bb_strbuf_append(&all, piece, len);
            if (stop_append(&m, piece, len, &err) != BB_OK) break;
            size_t safe = 0;
            stopped = stop_check(&m, final, &safe);
            FUZZ_ASSERT(safe >= released && safe <= m.len);
            /* what is released never holds a stop string */
            FUZZ_ASSERT(first_stop(m.text, safe, stops, got) == safe);
            released = safe;
        }
        /* at the end (the stream flushed or stopped): exactly the text before the first stop */
        if (!all.failed && (stopped || i > n_ids)) {
            size_t want = first_stop(all.data ? all.data : "", all.len, stops, got);
            FUZZ_ASSERT(released == want && (!want || !memcmp(m.text, all.data, want)));
        }
        stop_free(&m);
    }
    bb_strbuf_release(&all);
    bb_detok_free(d);
    for (size_t i = 0; i < got; i++)
        free(stops[i]);
    return 0;
}
