/* beanbag template --template FILE.jinja --input CASE.json [--tools TOOLS.json]
 *
 * Renders a chat template for one case (a JSON object with messages, tools,
 * add_generation_prompt, bos_token, eos_token, as in testdata/chat/cases.json); --tools gives
 * the tools (OpenAI function definitions, a JSON array) instead of the case's, and names on
 * stderr the tool-call syntax and thinking markers the server reads from this template. The text
 * goes to stdout exactly as rendered; a template error (raise_exception's message, or a syntax or
 * run-time error) goes to stderr with status 1; bad arguments or files give status 2. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beanbag.h"
#include "chat/chat.h"
#include "chat/toolcall.h"
#include "cli/args.h"
#include "cli/commands.h"

#define MAX_FILE (64u << 20)

static void usage(FILE *f) {
    fputs("usage: beanbag template --template FILE.jinja --input CASE.json [--tools TOOLS.json]\n"
          "  Renders a chat template for one case: a JSON object with messages, tools,\n"
          "  add_generation_prompt, bos_token and eos_token. '-' reads the case from stdin.\n"
          "  --tools: a JSON array of OpenAI tools (function definitions) to render instead of\n"
          "  the case's; the tool-call syntax the server parses for this template goes to\n"
          "  stderr.\n"
          "  Set BB_FIXED_DATE=\"2026-01-15 12:00:00\" to fix strftime_now's clock.\n",
          f);
}

/* Reads a whole file (or stdin for "-"); NULL with a message on failure. */
static char *read_file(const char *path) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "beanbag template: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = cap < MAX_FILE ? realloc(buf, (cap *= 2) + 1) : NULL;
        if (!nb) {
            fprintf(stderr, "beanbag template: %s is larger than %u bytes\n", path, MAX_FILE);
            free(buf);
        }
        buf = nb;
    }
    bool failed = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf) return NULL;
    if (failed) {
        fprintf(stderr, "beanbag template: cannot read %s\n", path);
        free(buf);
        return NULL;
    }
    if (memchr(buf, '\0', n)) {
        fprintf(stderr, "beanbag template: %s contains a NUL byte\n", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int cmd_template(int argc, char **argv) {
    const char *tmpl_path = NULL, *input_path = NULL, *tools_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--template") || !strcmp(a, "-t")) {
            if (!(tmpl_path = cli_value("template", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--input") || !strcmp(a, "-i")) {
            if (!(input_path = cli_value("template", argc, argv, &i))) return 2;
        } else if (!strcmp(a, "--tools")) {
            if (!(tools_path = cli_value("template", argc, argv, &i))) return 2;
        } else {
            fprintf(stderr, "beanbag template: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!tmpl_path || !input_path) {
        fprintf(stderr, "beanbag template: --template and --input are required\n");
        usage(stderr);
        return 2;
    }
    char *tmpl = read_file(tmpl_path);
    char *input = tmpl ? read_file(input_path) : NULL;
    char *tools = input && tools_path ? read_file(tools_path) : NULL;
    if (!input || (tools_path && !tools)) {
        free(tmpl);
        free(input);
        return 2;
    }
    char *out = NULL;
    bb_error err = {0};
    bb_status st = bb_chat_render_case_tools(tmpl, input, tools, &out, &err);
    if (tools_path) {
        const char *open = NULL, *close = NULL;
        bool think = tc_detect_reasoning(tmpl, &open, &close);
        fprintf(stderr, "tool calls: %s%s; reasoning: %s%s%s\n",
                tc_family_name(tc_detect_family(tmpl)),
                tc_template_renders_tools(tmpl) ? "" : " (the template does not show tools)",
                think ? open : "none", think ? " ... " : "", think ? close : "");
    }
    free(tmpl);
    free(input);
    free(tools);
    if (st == BB_ERR_TEMPLATE) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    if (st != BB_OK) {
        fprintf(stderr, "beanbag template: %s: %s\n", input_path, err.message);
        return 2;
    }
    size_t len = strlen(out);
    bool ok = fwrite(out, 1, len, stdout) == len && fflush(stdout) == 0;
    bb_free(out);
    if (!ok) {
        fprintf(stderr, "beanbag template: cannot write the output\n");
        return 2;
    }
    return 0;
}
