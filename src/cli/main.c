/* `beanbag` — one command, many subcommands. */
#include <stdio.h>
#include <string.h>

#include "beanbag.h"
#include "cli/commands.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "interactive chat in the terminal"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server"},
    {"keys", cmd_keys, "add, list or revoke the server's user API keys"},
    {"pull", cmd_pull, "download a model from Hugging Face or a URL into the store"},
    {"list", cmd_list, "the models in the store"},
    {"rm", cmd_rm, "remove a model from the store"},
    {"info", cmd_info, "print a GGUF file's metadata and tensor table"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"eval", cmd_eval, "greedy steps and logits for given token ids (conformance)"},
    {"quantize", cmd_quantize, "convert an F32/F16/BF16 GGUF to a quantized type"},
    {"bench", cmd_bench, "prompt and generation speed against the memory roofline"},
    {"plan", cmd_plan, "fleet capacity plan: devices per type, mix, cost per million tokens"},
    {"template", cmd_template, "render a chat template for one case"},
    {"train", cmd_train, "train a small llama model on a text corpus"},
    {"demo-data", cmd_demo_data, "generate the demo task corpus"},
    {"eval-demo", cmd_eval_demo, "measure the demo model's accuracy"},
};

static void usage(FILE *out) {
    fprintf(out,
            "beanbag %s — LLM inference engine and chat server\n\nusage: beanbag <command> "
            "[options]   (beanbag <command> --help for its options)\n\ncommands:\n",
            BB_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("beanbag %s\n", BB_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "beanbag: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
