/* bench/grammar_bench: what structured output costs per token.
 *
 *   bench_grammar_bench [--testdata DIR] [--docs 10] [--vocab N] [--batch 16]
 *
 * The vocabulary: the real tokenizers in DIR/tokenizer (../shared/testdata by default;
 * deepseek-llm, gpt-2, starcoder, phi-3, llama-spm ...) pooled, duplicates dropped, up to N
 * pieces (default 151,936: Qwen2's vocabulary size), plus one end-of-generation token.
 * Without the data, a synthetic vocabulary of that size (random words, spaces and
 * punctuation) stands in, and the report says so.
 *
 * It reports:
 *  - compile time of a realistic schema (nested objects, arrays, enums, formats) and of a
 *    50-property schema: JSON schema -> GBNF -> grammar, mean of 20;
 *  - the cost the grammar adds to sampling one token: bb_sampler_sample with the grammar minus
 *    without it (greedy, over random logits, so the walk is a "random model" that picks among
 *    the allowed tokens), over --docs whole documents, each a fresh request (cold caches):
 *    mean, p50, p99 and max per token, and the first document's mean; at batch --batch the
 *    engine thread samples that many sequences per step, so a step costs batch x per-token.
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other load on the machine does
 * not inflate them. Compare with decode time per token of the model (25 ms for the 1.1B Q4_0 model
 * on the project's 2-core machine: `beanbag bench -p 0 -n 64`). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "beanbag.h"
#include "grammar/grammar.h"
#include "sample/grammar.h"

/* CPU time of this thread: other load on a shared machine (and being descheduled) does not
 * count, only the work itself. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_u64(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

typedef struct pool {
    char **p;
    size_t *len;
    int32_t n, cap;
} pool;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void pool_add(pool *v, const char *s, size_t n) {
    if (n == 0 || memchr(s, 0, n)) return;
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 65536;
        v->p = realloc(v->p, (size_t)v->cap * sizeof *v->p);
        v->len = realloc(v->len, (size_t)v->cap * sizeof *v->len);
    }
    v->p[v->n] = strndup(s, n);
    v->len[v->n++] = n;
}

static void load_real(pool *v, const char *dir) {
    static const char *const names[] = {"deepseek-llm", "gpt-2",     "starcoder",
                                        "phi-3",        "llama-spm", "mpt"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tokenizer/ggml-vocab-%s.gguf", dir, names[k]);
        bb_model_params mp = bb_model_default_params();
        mp.vocab_only = true;
        bb_model *m;
        bb_error err = {0};
        if (bb_model_load(path, &mp, &m, &err) != BB_OK) continue;
        const bb_vocab *voc = bb_model_vocab(m);
        char buf[1024];
        for (int32_t t = 0; t < bb_vocab_n_tokens(voc); t++) {
            int32_t n = bb_token_to_piece(voc, t, false, buf, sizeof buf);
            if (n > 0) pool_add(v, buf, (size_t)n);
        }
        bb_model_free(m);
        printf("  + %s\n", names[k]);
    }
}

static void load_synthetic(pool *v, int32_t want) {
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static const char punct[] = " ,.:;\"'{}[]()-_!?/\\\n\t";
    for (int b = 1; b < 256; b++) {
        char c = (char)b;
        pool_add(v, &c, 1);
    }
    while (v->n < want * 2) {
        char w[24];
        size_t n = 0, len = 2 + next_u64() % 10;
        if (next_u64() % 2) w[n++] = ' ';
        for (; n < len; n++)
            w[n] = alpha[next_u64() % (sizeof alpha - 1)];
        if (next_u64() % 5 == 0) w[n++] = punct[next_u64() % (sizeof punct - 1)];
        pool_add(v, w, n);
    }
}

static void dedupe(pool *v, int32_t max) {
    qsort(v->p, (size_t)v->n, sizeof *v->p, cmp_str);
    int32_t m = 0;
    for (int32_t i = 0; i < v->n; i++) {
        if (m && !strcmp(v->p[m - 1], v->p[i])) {
            free(v->p[i]);
            continue;
        }
        v->p[m++] = v->p[i];
    }
    for (int32_t i = m; i > 1; i--) { /* shuffle, so ids are not in byte order */
        int32_t j = (int32_t)(next_u64() % (uint64_t)i);
        char *t = v->p[i - 1];
        v->p[i - 1] = v->p[j];
        v->p[j] = t;
    }
    while (m > max)
        free(v->p[--m]);
    v->n = m;
    for (int32_t i = 0; i < m; i++)
        v->len[i] = strlen(v->p[i]);
}

static const char REALISTIC[] =
    "{\"type\": \"object\", \"properties\": {"
    "\"id\": {\"type\": \"string\", \"format\": \"uuid\"},"
    "\"customer\": {\"type\": \"object\", \"properties\": {"
    "  \"name\": {\"type\": \"string\", \"maxLength\": 40},"
    "  \"email\": {\"type\": \"string\", \"format\": \"email\"},"
    "  \"tier\": {\"enum\": [\"free\", \"pro\", \"enterprise\"]},"
    "  \"address\": {\"type\": \"object\", \"properties\": {"
    "    \"street\": {\"type\": \"string\", \"maxLength\": 60},"
    "    \"city\": {\"type\": \"string\", \"maxLength\": 30},"
    "    \"zip\": {\"type\": \"string\", \"pattern\": \"^[0-9]{5}$\"},"
    "    \"country\": {\"enum\": [\"US\", \"DE\", \"FR\", \"JP\", \"CN\"]}},"
    "    \"required\": [\"street\", \"city\", \"country\"], \"additionalProperties\": false}},"
    "  \"required\": [\"name\", \"tier\", \"address\"], \"additionalProperties\": false},"
    "\"items\": {\"type\": \"array\", \"maxItems\": 4, \"items\": {\"type\": \"object\", "
    "  \"properties\": {"
    "    \"sku\": {\"type\": \"string\", \"pattern\": \"^[A-Z]{3}-[0-9]{4}$\"},"
    "    \"qty\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 99},"
    "    \"price\": {\"type\": \"number\"},"
    "    \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\", \"maxLength\": 12}, "
    "      \"maxItems\": 3}},"
    "  \"required\": [\"sku\", \"qty\", \"price\"], \"additionalProperties\": false}},"
    "\"status\": {\"enum\": [\"open\", \"paid\", \"shipped\", \"cancelled\"]},"
    "\"created\": {\"type\": \"string\", \"format\": \"date-time\"},"
    "\"notes\": {\"anyOf\": [{\"type\": \"null\"}, {\"type\": \"string\", \"maxLength\": 80}]}},"
    "\"required\": [\"id\", \"customer\", \"items\", \"status\", \"created\", \"notes\"],"
    "\"additionalProperties\": false}";

static char *fifty_properties(void) {
    static const char *const types[] = {
        "{\"type\": \"string\", \"maxLength\": 20}",
        "{\"type\": \"integer\"}",
        "{\"type\": \"number\"}",
        "{\"type\": \"boolean\"}",
        "{\"enum\": [\"a\", \"b\", \"c\", \"d\"]}",
        "{\"type\": \"array\", \"items\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 9}}",
        "{\"type\": \"string\", \"format\": \"date\"}",
        "{\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"number\"}, \"y\": {\"type\": "
        "\"number\"}}, \"required\": [\"x\", \"y\"]}"};
    size_t cap = 65536, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "{\"type\": \"object\", \"properties\": {");
    for (int i = 0; i < 50; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s\"field_%02d\": %s", i ? ", " : "", i,
                              types[i % 8]);
    n += (size_t)snprintf(s + n, cap - n, "}, \"required\": [");
    for (int i = 0; i < 50; i += 2)
        n += (size_t)snprintf(s + n, cap - n, "%s\"field_%02d\"", i ? ", " : "", i);
    snprintf(s + n, cap - n, "], \"additionalProperties\": false}");
    return s;
}

static double compile_ms(const char *schema) {
    const int reps = 20;
    double t0 = now_s();
    for (int i = 0; i < reps; i++) {
        bb_grammar *g;
        bb_error err = {0};
        if (bb_grammar_from_json_schema(schema, strlen(schema), &g, &err) != BB_OK) {
            fprintf(stderr, "compile failed: %s\n", err.message);
            exit(1);
        }
        bb_grammar_unref(g);
    }
    return (now_s() - t0) * 1e3 / reps;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *dir = getenv("BB_TESTDATA") ? getenv("BB_TESTDATA") : "../shared/testdata";
    int docs = 10, batch = 16;
    int32_t want = 151936;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--testdata"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--docs"))
            docs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--vocab"))
            want = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--testdata DIR] [--docs 10] [--vocab N] [--batch 16]\n",
                    argv[0]);
            return 2;
        }
    }
    pool v = {0};
    printf("vocabulary:\n");
    load_real(&v, dir);
    bool synthetic = v.n == 0;
    if (synthetic) {
        printf("  (no tokenizers under %s: a synthetic vocabulary)\n", dir);
        load_synthetic(&v, want);
    }
    dedupe(&v, want - 1);
    int32_t n_vocab = v.n + 1;
    bool *eog = calloc((size_t)n_vocab, 1);
    const char **pieces = malloc((size_t)n_vocab * sizeof *pieces);
    size_t *lens = malloc((size_t)n_vocab * sizeof *lens);
    for (int32_t i = 0; i < v.n; i++)
        pieces[i] = v.p[i], lens[i] = v.len[i];
    pieces[v.n] = "";
    lens[v.n] = 0;
    eog[v.n] = true;
    bb_grammar_vocab *tv;
    bb_error err = {0};
    double t0 = now_s();
    if (bb_grammar_vocab_from_pieces(n_vocab, pieces, lens, eog, &tv, &err) != BB_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    printf("  %d tokens%s; trie built in %.1f ms\n\n", n_vocab, synthetic ? " (synthetic)" : "",
           (now_s() - t0) * 1e3);

    char *fifty = fifty_properties();
    printf("compile (JSON schema -> GBNF -> grammar, mean of 20):\n");
    printf("  realistic schema (nested objects, arrays, enums, formats): %.2f ms\n",
           compile_ms(REALISTIC));
    printf("  50-property schema: %.2f ms\n\n", compile_ms(fifty));
    free(fifty);

    /* The schema as given (every string bounded by maxLength: inside such a string each token
     * reaches a state not seen before, the worst case for the mask cache), and the same schema
     * without maxLength (strings as OpenAI's strict mode writes them, where the state inside a
     * string recurs). */
    char *unbounded = strdup(REALISTIC);
    for (char *p; (p = strstr(unbounded, ", \"maxLength\": "));) {
        char *q = p + 15;
        while (*q >= '0' && *q <= '9')
            q++;
        memmove(p, q, strlen(q) + 1);
    }
    const char *variants[2] = {REALISTIC, unbounded};
    const char *labels[2] = {"strings with maxLength (worst case)", "strings without maxLength"};
    for (int var = 0; var < 2; var++) {
        bb_grammar *g;
        if (bb_grammar_from_json_schema(variants[var], strlen(variants[var]), &g, &err) != BB_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        float *logits = malloc((size_t)n_vocab * sizeof *logits);
        bb_sampler_params sp = bb_sampler_default_params();
        sp.temperature = 0;
        size_t cap = 1 << 20, n_samples = 0;
        double *per_token = malloc(cap * sizeof *per_token), first_doc = 0, total = 0;
        size_t tokens_first = 0, bytes = 0;
        for (int d = 0; d < docs; d++) {
            bb_sampler *plain, *constrained;
            bb_grammar_matcher *m;
            bb_sampler_new(&sp, n_vocab, &plain, &err);
            bb_sampler_new(&sp, n_vocab, &constrained, &err);
            bb_grammar_matcher_new(g, tv, &m, &err);
            bb_sampler_set_grammar(constrained, m);
            double doc_time = 0;
            size_t doc_tokens = 0;
            for (int step = 0; step < 4000; step++) {
                for (int32_t t = 0; t < n_vocab; t++)
                    logits[t] = (float)(next_u64() >> 40) * (1.0f / 16777216.0f);
                double a = now_s();
                bb_sampler_sample(plain, logits);
                double b = now_s();
                bb_token tok = bb_sampler_sample(constrained, logits);
                double c = now_s();
                double extra = (c - b) - (b - a);
                if (bb_sampler_grammar_error(constrained)) {
                    fprintf(stderr, "grammar error: %s\n", bb_sampler_grammar_error(constrained));
                    return 1;
                }
                if (n_samples < cap) per_token[n_samples++] = extra;
                doc_time += extra;
                doc_tokens++;
                if (tok == v.n) break; /* end of generation */
                bytes += lens[tok];
            }
            if (d == 0) first_doc = doc_time, tokens_first = doc_tokens;
            total += doc_time;
            bb_sampler_free(plain);
            bb_sampler_free(constrained);
        }
        qsort(per_token, n_samples, sizeof *per_token, cmp_d);
        double mean = total / (double)n_samples;
        printf("mask, %s (grammar cost per sampled token, %d documents of the realistic schema, "
               "each a fresh request; %zu tokens, %.1f bytes/token):\n",
               labels[var], docs, n_samples, (double)bytes / (double)n_samples);
        printf("  mean %.3f ms, p50 %.3f ms, p99 %.3f ms, max %.3f ms; first document mean %.3f ms "
               "over %zu tokens\n",
               mean * 1e3, per_token[n_samples / 2] * 1e3, per_token[n_samples * 99 / 100] * 1e3,
               per_token[n_samples - 1] * 1e3, first_doc * 1e3 / (double)tokens_first,
               tokens_first);
        printf("  against 25 ms of decode per token (1.1B Q4_0, 2 threads): %.1f %% at batch 1; "
               "at batch %d the engine samples %d sequences per step: %.2f ms a step\n",
               mean * 1e3 / 25.0 * 100.0, batch, batch, mean * 1e3 * batch);
        bb_grammar_unref(g);
        free(logits);
        free(per_token);
    }
    free(unbounded);
    bb_grammar_vocab_free(tv);
    return 0;
}
