/* beanbag pull NAME | list | rm NAME — the model store (src/hub/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "hub/hub.h"

static void pull_usage(FILE *out) {
    fprintf(out,
            "usage: beanbag pull NAME [--quiet]\n\n"
            "NAME is one of\n"
            "  hf.co/OWNER/REPO:QUANT      the repository's GGUF of that quantization (Q4_K_M\n"
            "                              when no tag is given); split models come whole\n"
            "  hf.co/OWNER/REPO/FILE.gguf  one file of a repository\n"
            "  https://HOST/PATH/FILE.gguf any URL\n\n"
            "Files land in the model store ($BEANBAG_MODELS, else ~/.cache/beanbag/models)\n"
            "once their SHA-256 matches the hub's; an interrupted pull resumes where it\n"
            "stopped. Every -m accepts NAME afterwards (and pulls it when it is missing).\n"
            "Environment: HF_TOKEN (gated or private repositories), HF_ENDPOINT (a mirror;\n"
            "default https://huggingface.co).\n");
}

static void human(double bytes, char *out, size_t cap) {
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

int cmd_pull(int argc, char **argv) {
    const char *name = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            pull_usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) {
            quiet = true;
        } else if (argv[i][0] == '-' || name) {
            fprintf(stderr, "beanbag pull: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else {
            name = argv[i];
        }
    }
    if (!name) {
        pull_usage(stderr);
        return 2;
    }
    hub_pull_params p = hub_pull_default_params();
    p.progress = quiet ? -1 : isatty(2) ? 1 : 0;
    hub_entry e;
    bb_error err = {0};
    bool had = false;
    if (hub_store_find(name, &e, &had, &err) != BB_OK || hub_pull(name, &p, &e, &err) != BB_OK) {
        fprintf(stderr, "beanbag pull: %s\n", err.message);
        return 1;
    }
    char size[32];
    human((double)e.size, size, sizeof size);
    printf("%s %s (%s, %d file%s): %s\n", e.name, had ? "is in the store" : "pulled", size,
           e.n_files, e.n_files == 1 ? "" : "s", e.path);
    return 0;
}

/* llama.cpp's llama_ftype values (general.file_type), as its llama-quantize names them. */
static const char *ftype_name(uint32_t t) {
    static const char *const names[] = {
        [0] = "F32",      [1] = "F16",      [2] = "Q4_0",    [3] = "Q4_1",    [7] = "Q8_0",
        [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",   [11] = "Q3_K_S", [12] = "Q3_K_M",
        [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M",
        [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS",
        [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL", [26] = "IQ3_S",  [27] = "IQ3_M",
        [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS", [31] = "IQ1_M",  [32] = "BF16",
    };
    return t < sizeof names / sizeof names[0] ? names[t] : NULL;
}

/* The type and architecture a GGUF file declares ("?" when it does not say). */
static void describe(const char *path, char *type, size_t tcap, char *arch, size_t acap) {
    snprintf(type, tcap, "?");
    snprintf(arch, acap, "?");
    gguf_file *f = NULL;
    if (gguf_open(path, &f, NULL) != BB_OK) return;
    gguf_string s;
    if (gguf_get_str(f, "general.architecture", false, &s, NULL) == BB_OK && s.data)
        snprintf(arch, acap, "%.*s", (int)(s.len < 60 ? s.len : 60), s.data);
    uint32_t ft = 0;
    const char *n = NULL;
    if (gguf_get_u32(f, "general.file_type", false, &ft, NULL) == BB_OK &&
        gguf_find_key(f, "general.file_type") >= 0)
        n = ftype_name(ft);
    char q[32];
    if (n)
        snprintf(type, tcap, "%s", n);
    else if (hub_quant_of(path, q, sizeof q))
        snprintf(type, tcap, "%s", q);
    gguf_close(f);
}

static void ago(int64_t t, char *out, size_t cap) {
    if (t <= 0) {
        snprintf(out, cap, "never");
        return;
    }
    int64_t d = (int64_t)time(NULL) - t;
    if (d < 0) d = 0;
    if (d < 60)
        snprintf(out, cap, "just now");
    else if (d < 3600)
        snprintf(out, cap, "%lld min ago", (long long)(d / 60));
    else if (d < 86400)
        snprintf(out, cap, "%lld h ago", (long long)(d / 3600));
    else
        snprintf(out, cap, "%lld days ago", (long long)(d / 86400));
}

int cmd_list(int argc, char **argv) {
    if (argc > 1) {
        bool help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");
        fprintf(help ? stdout : stderr,
                "usage: beanbag list   (the models in the store: name, size, type, "
                "architecture, last used)\n");
        return help ? 0 : 2;
    }
    hub_entry *es = NULL;
    size_t n = 0;
    bb_error err = {0};
    char dir[4096];
    if (hub_store_dir(dir, sizeof dir, &err) != BB_OK || hub_store_list(&es, &n, &err) != BB_OK) {
        fprintf(stderr, "beanbag list: %s\n", err.message);
        return 1;
    }
    if (n == 0) {
        printf("no models in %s (beanbag pull hf.co/OWNER/REPO:QUANT)\n", dir);
        return 0;
    }
    size_t w = 4;
    for (size_t i = 0; i < n; i++)
        if (strlen(es[i].name) > w) w = strlen(es[i].name);
    printf("%-*s  %10s  %-8s  %-10s  %s\n", (int)w, "NAME", "SIZE", "TYPE", "ARCH", "LAST USED");
    for (size_t i = 0; i < n; i++) {
        char size[32], type[32], arch[64], used[32];
        human((double)es[i].size, size, sizeof size);
        describe(es[i].path, type, sizeof type, arch, sizeof arch);
        ago(es[i].last_used, used, sizeof used);
        printf("%-*s  %10s  %-8s  %-10s  %s\n", (int)w, es[i].name, size, type, arch, used);
    }
    free(es);
    return 0;
}

int cmd_rm(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: beanbag rm NAME...   (see beanbag list)\n");
        return argc < 2 ? 2 : 0;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        bb_error err = {0};
        if (hub_store_remove(argv[i], &err) != BB_OK) {
            fprintf(stderr, "beanbag rm: %s\n", err.message);
            rc = 1;
        } else {
            printf("removed %s\n", argv[i]);
        }
    }
    return rc;
}
