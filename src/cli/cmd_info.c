/* beanbag info -m model.gguf */
#include <stdio.h>
#include <string.h>

#include "beanbag.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_ref.h"

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
            if (!(path = cli_value("info", argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: beanbag info -m model.gguf\n");
            return 0;
        } else {
            fprintf(stderr, "beanbag info: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "beanbag info: -m model.gguf is required\n");
        return 2;
    }
    char mbuf[4096];
    if (!(path = cli_model_path("info", path, mbuf, sizeof mbuf))) return 1;
    bb_error err = {0};
    bb_model *m;
    bb_model_params mp = bb_model_default_params();
    bb_status st = bb_model_load(path, &mp, &m, &err);
    if (st == BB_ERR_UNSUPPORTED || st == BB_ERR_FORMAT) {
        /* still show what the file holds when we cannot run it */
        fprintf(stderr, "beanbag info: %s\n", err.message);
        mp.metadata_only = true;
        bb_error err2 = {0};
        if (bb_model_load(path, &mp, &m, &err2) != BB_OK) return 1;
    } else if (st != BB_OK) {
        fprintf(stderr, "beanbag info: %s\n", err.message);
        return 1;
    }
    char *text;
    if (bb_model_describe(m, &text, &err) != BB_OK) {
        fprintf(stderr, "beanbag info: %s\n", err.message);
        bb_model_free(m);
        return 1;
    }
    fputs(text, stdout);
    bb_free(text);
    bb_model_free(m);
    return st == BB_OK ? 0 : 1;
}
