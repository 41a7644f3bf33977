/* `beanbag chat`: an interactive conversation in the terminal, rendered with the model's chat
 * template and streamed as it is generated. The engine runs it, as it runs server requests. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_ref.h"
#include "common/error.h"
#include "engine/runtime.h"
#include "server/prompt.h"

static void usage(FILE *out) {
    fprintf(out, "usage: beanbag chat [-m MODEL.gguf] [options]\n"
                 "\n"
                 "Interactive chat using the model's chat template. Type a message and press\n"
                 "Enter; /reset starts over, /exit or end of input (Ctrl-D) quits, Ctrl-C stops a\n"
                 "reply.\n"
                 "\n"
                 "  -m, --model FILE      GGUF model (default: the built-in demo model, if any)\n"
                 "  -s, --system TEXT     system message\n"
                 "      --temp T          sampling temperature (default 0.7; 0: greedy)\n"
                 "      --seed N          sampling seed (default: from the clock)\n"
                 "  -n, --max-tokens N    longest reply (default: what the context leaves)\n"
                 "      --ctx-size N      context tokens (default 4096)\n"
                 "  -t, --threads N       compute threads (default: all CPUs)\n"
                 "  -h, --help            this help\n");
}

typedef struct chat_opts {
    runtime_params rt;
    const char *system;
    float temp;
    uint64_t seed;
    int32_t max_tokens;
} chat_opts;

static atomic_bool interrupted;

static void on_sigint(int sig) {
    (void)sig;
    atomic_store(&interrupted, true);
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, chat_opts *o) {
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"system", required_argument, NULL, 's'},
                                         {"temp", required_argument, NULL, 'T'},
                                         {"seed", required_argument, NULL, 'S'},
                                         {"max-tokens", required_argument, NULL, 'n'},
                                         {"ctx-size", required_argument, NULL, 'c'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    o->rt = (runtime_params){.n_ctx = 4096, .n_batch = 256, .n_seq_max = 1, .max_queue = 1};
    o->temp = 0.7f;
    o->seed = UINT64_MAX;
    o->max_tokens = INT32_MAX / 2;
    optind = 1;
    int c;
    double d = 0;
    long long v = 0;
    while ((c = getopt_long(argc, argv, "m:s:n:t:h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'm':
            o->rt.model_path = optarg;
            break;
        case 's':
            o->system = optarg;
            break;
        case 'T':
            if ((ok = cli_float("chat", "--temp", optarg, 0, 2, &d))) o->temp = (float)d;
            break;
        case 'S':
            if ((ok = cli_int("chat", "--seed", optarg, 0, LLONG_MAX, &v))) o->seed = (uint64_t)v;
            break;
        case 'n':
            if ((ok = cli_int("chat", "--max-tokens", optarg, 1, 1 << 24, &v)))
                o->max_tokens = (int32_t)v;
            break;
        case 'c':
            if ((ok = cli_int("chat", "--ctx-size", optarg, 16, 1 << 24, &v)))
                o->rt.n_ctx = (int32_t)v;
            break;
        case 't':
            if ((ok = cli_int("chat", "--threads", optarg, 0, 1024, &v)))
                o->rt.n_threads = (int32_t)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "beanbag chat: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return -1;
}

static void add_message(cJSON *msgs, const char *role, const char *content) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "role", role);
    cJSON_AddStringToObject(m, "content", content);
    cJSON_AddItemToArray(msgs, m);
}

/* The conversation as a prompt; the oldest exchanges are dropped until it fits. */
static bb_status build_prompt(runtime *rt, cJSON *msgs, bool has_system, bb_token **ids, size_t *n,
                              bb_error *err) {
    for (;;) {
        char *json = cJSON_PrintUnformatted(msgs);
        if (!json) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
        bb_status st = prompt_from_messages(rt->model, json, ids, n, err);
        free(json);
        if (st != BB_OK || *n < (size_t)rt->n_seq_ctx - 16) return st;
        bb_free(*ids);
        int first = has_system ? 1 : 0;
        if (cJSON_GetArraySize(msgs) - first <= 1)
            return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                           "the message is %zu tokens, too long for the %d-token context", *n,
                           rt->n_seq_ctx);
        cJSON_DeleteItemFromArray(msgs, first); /* a user turn and the reply after it */
        if (cJSON_GetArraySize(msgs) - first > 1) cJSON_DeleteItemFromArray(msgs, first);
    }
}

/* Generates a reply, printing it as it comes; returns its text (free) or NULL. */
static char *reply(runtime *rt, const chat_opts *o, const bb_token *ids, size_t n) {
    engine_gen_params gp = {0};
    gp.sampling = bb_sampler_default_params();
    gp.sampling.temperature = o->temp;
    gp.sampling.seed = o->seed;
    gp.n_choices = 1;
    gp.max_tokens = o->max_tokens;
    engine_request *r = NULL;
    bb_error err = {0};
    if (engine_request_new(rt->engine, &gp, ids, n, &r, &err) != BB_OK ||
        engine_submit(rt->engine, r, &err) != BB_OK) {
        fprintf(stderr, "beanbag chat: %s\n", err.message);
        engine_request_unref(r);
        return NULL;
    }
    size_t len = 0;
    char *text = calloc(1, 1);
    engine_finish finish = ENGINE_FINISH_NONE;
    atomic_store(&interrupted, false);
    while (finish == ENGINE_FINISH_NONE) {
        if (atomic_load(&interrupted)) engine_request_cancel(r);
        engine_delta d;
        while (engine_request_take(r, 0, &d)) {
            if (d.len) {
                fwrite(d.text, 1, d.len, stdout);
                fflush(stdout);
                char *t = realloc(text, len + d.len + 1);
                if (t) {
                    memcpy(t + len, d.text, d.len + 1);
                    text = t;
                    len += d.len;
                }
            }
            if (d.finish) finish = d.finish;
            engine_delta_free(&d);
        }
        if (finish == ENGINE_FINISH_NONE) engine_request_wait(r, -1, 100);
    }
    if (finish == ENGINE_FINISH_ERROR)
        fprintf(stderr, "\nbeanbag chat: %s", engine_request_error(r));
    if (finish == ENGINE_FINISH_CANCELLED) printf(" [stopped]");
    printf("\n");
    engine_request_unref(r);
    return text;
}

int cmd_chat(int argc, char **argv) {
    chat_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    char mbuf[4096];
    if (o.rt.model_path &&
        !(o.rt.model_path = cli_model_path("chat", o.rt.model_path, mbuf, sizeof mbuf)))
        return 1;
    runtime rt;
    bb_error err = {0};
    if (runtime_open(&o.rt, &rt, &err) != BB_OK) {
        fprintf(stderr, "beanbag chat: %s\n", err.message);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_sigint}; /* no SA_RESTART: Ctrl-C at the prompt quits */
    sigaction(SIGINT, &sa, NULL);
    cJSON *msgs = cJSON_CreateArray();
    if (o.system) add_message(msgs, "system", o.system);
    fprintf(stderr, "beanbag chat: %s — /exit to quit, /reset to start over\n", rt.default_id);
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        printf("> ");
        fflush(stdout);
        ssize_t got = getline(&line, &cap, stdin);
        if (got < 0) break;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = 0;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit")) break;
        if (!strcmp(line, "/reset")) {
            while (cJSON_GetArraySize(msgs) > (o.system ? 1 : 0))
                cJSON_DeleteItemFromArray(msgs, cJSON_GetArraySize(msgs) - 1);
            continue;
        }
        if (!line[0]) continue;
        add_message(msgs, "user", line);
        bb_token *ids = NULL;
        size_t n = 0;
        if (build_prompt(&rt, msgs, o.system != NULL, &ids, &n, &err) != BB_OK) {
            fprintf(stderr, "beanbag chat: %s\n", err.message);
            cJSON_DeleteItemFromArray(msgs, cJSON_GetArraySize(msgs) - 1);
            continue;
        }
        char *text = reply(&rt, &o, ids, n);
        bb_free(ids);
        if (text)
            add_message(msgs, "assistant", text);
        else
            cJSON_DeleteItemFromArray(msgs, cJSON_GetArraySize(msgs) - 1);
        free(text);
    }
    if (isatty(0)) printf("\n");
    free(line);
    cJSON_Delete(msgs);
    runtime_close(&rt);
    return 0;
}
