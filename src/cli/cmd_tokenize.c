/* beanbag tokenize -m model.gguf [--json] [--no-bos] [--special] [--file F | "text"] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_ref.h"

#define MAX_INPUT (256u << 20)

static char *read_all(const char *path, size_t *len) {
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap >= MAX_INPUT) {
            free(buf);
            buf = NULL;
            break;
        }
        char *nb = realloc(buf, cap *= 2);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
        }
    }
    if (f != stdin) fclose(f);
    if (buf) *len = n;
    return buf;
}

static void print_json_string(const char *s, int32_t n) {
    putchar('"');
    for (int32_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int cmd_tokenize(int argc, char **argv) {
    const char *path = NULL, *file = NULL, *text = NULL;
    bool json = false, bos = true, special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!(path = cli_value("tokenize", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--file") || !strcmp(a, "-f")) {
            if (!(file = cli_value("tokenize", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--no-bos")) {
            bos = false;
        } else if (!strcmp(a, "--special")) {
            special = true;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: beanbag tokenize -m model.gguf [--json] [--no-bos] [--special] "
                   "[--file F | \"text\"]\n");
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "beanbag tokenize: unknown option '%s'\n", a);
            return 2;
        } else if (!text) {
            text = a;
        } else {
            fprintf(stderr, "beanbag tokenize: give the text as one argument (quote it)\n");
            return 2;
        }
    }
    if (!path || (!text && !file) || (text && file)) {
        fprintf(stderr, "beanbag tokenize: need -m model.gguf and either --file F or a text\n");
        return 2;
    }
    size_t len = text ? strlen(text) : 0;
    char *owned = NULL;
    if (file && !(owned = read_all(file, &len))) {
        fprintf(stderr,
                "beanbag tokenize: cannot read '%s' (missing, unreadable or over 256 "
                "MiB)\n",
                file);
        return 1;
    }
    bb_error err = {0};
    bb_model *m;
    bb_model_params mp = {.vocab_only = true};
    char mbuf[4096];
    if (!(path = cli_model_path("tokenize", path, mbuf, sizeof mbuf))) return 1;
    if (bb_model_load(path, &mp, &m, &err) != BB_OK) {
        fprintf(stderr, "beanbag tokenize: %s\n", err.message);
        free(owned);
        return 1;
    }
    const bb_vocab *v = bb_model_vocab(m);
    bb_token *ids = NULL;
    size_t n = 0;
    int rc = 0;
    if (bb_tokenize(v, owned ? owned : text, len, bos, special, &ids, &n, &err) != BB_OK) {
        fprintf(stderr, "beanbag tokenize: %s\n", err.message);
        rc = 1;
    } else if (json) {
        printf("{\"ids\": [");
        for (size_t i = 0; i < n; i++)
            printf(i ? ", %d" : "%d", ids[i]);
        printf("]}\n");
    } else {
        char piece[256];
        for (size_t i = 0; i < n; i++) {
            int32_t k = bb_token_to_piece(v, ids[i], true, piece, sizeof piece);
            printf("%6d -> ", ids[i]);
            print_json_string(piece, k < 0 ? 0 : k);
            putchar('\n');
        }
    }
    bb_free(ids);
    bb_model_free(m);
    free(owned);
    return rc;
}
