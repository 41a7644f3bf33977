/* Fuzzed conversations through the real chat templates (the .jinja files of
 * ../shared/testdata/chat, as shipped in model files; without the conformance data, ChatML and the
 * test fixture's template). The first byte picks the template, the rest is a case as in cases.json:
 * an object with messages, tools, add_generation_prompt, bos_token, eos_token. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "chat/chat.h"
#include "fixture_model.h"
#include "fuzz.h"

#define MAX_TEMPLATES 32

static char *templates[MAX_TEMPLATES];
static int n_templates;

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("BB_TESTDATA");
    char path[4096];
    snprintf(path, sizeof path, "%s/chat", dir && *dir ? dir : BB_TESTDATA_DEFAULT);
    DIR *d = opendir(path);
    char *names[MAX_TEMPLATES];
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < MAX_TEMPLATES) {
        size_t len = strlen(e->d_name);
        if (len > 6 && !strcmp(e->d_name + len - 6, ".jinja")) names[n++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp); /* the first byte means the same everywhere */
    for (int i = 0; i < n; i++) {
        char rel[600];
        snprintf(rel, sizeof rel, "chat/%s", names[i]);
        char *src = fuzz_read_testdata(rel, NULL);
        if (src) templates[n_templates++] = src;
        free(names[i]);
    }
    if (n_templates == 0) {
        fprintf(stderr, "fuzz_conversation: no conformance data; ChatML and the fixture's\n");
        templates[n_templates++] = strdup(bb_chat_default_template());
        templates[n_templates++] = strdup(fixture_chatml);
    }
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *tmpl = templates[data[0] % n_templates];
    char *json = malloc(size);
    if (!json) return 0;
    memcpy(json, data + 1, size - 1);
    json[size - 1] = 0;
    char *out = NULL;
    bb_error err = {0};
    bb_status st = bb_chat_render_case(tmpl, json, &out, &err);
    if (st == BB_OK)
        FUZZ_ASSERT(out != NULL);
    else
        FUZZ_ASSERT(out == NULL && err.message[0]);
    bb_free(out);
    free(json);
    return 0;
}
