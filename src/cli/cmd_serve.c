/* `beanbag serve`: the OpenAI-compatible HTTP server over one model. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_ref.h"
#include "engine/runtime.h"
#include "server/bots.h"
#include "server/server.h"
#include "store/store.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: beanbag serve [-m MODEL.gguf] [options]\n"
            "\n"
            "OpenAI-compatible HTTP server: POST /v1/chat/completions, /v1/completions,\n"
            "/v1/responses, /tokenize, /detokenize; GET /v1/models, /health, /metrics;\n"
            "the bots admin API /v1/bots (--admin-key).\n"
            "\n"
            "  -m, --model FILE        GGUF model (default: the built-in demo model, if any)\n"
            "      --alias NAME        model id clients use (default: general.name or file name)\n"
            "      --host ADDR         address to bind (default 127.0.0.1)\n"
            "      --port N            port (default 8080; 0 picks a free one)\n"
            "      --parallel N        sequences generated side by side (default 4)\n"
            "      --ctx-size N        KV cache tokens shared by all sequences (default 4096)\n"
            "      --batch N           batch capacity: most tokens one forward step can hold\n"
            "                          (default 128)\n"
            "      --step-tokens N     token budget of a step: one token per running stream,\n"
            "                          then prompt chunks, oldest first, up to N. Smaller keeps\n"
            "                          streams smooth while long prompts are read, larger\n"
            "                          reads prompts faster (default 32, at most --batch)\n"
            "      --no-prefix-cache   compute every prompt in full instead of sharing the\n"
            "                          cached KV blocks of prompts that start the same way\n"
            "  -t, --threads N         compute threads (default: all CPUs)\n"
            "      --api-key KEY       require 'Authorization: Bearer KEY' (or BEANBAG_API_KEY)\n"
            "      --data-dir DIR      keep bots and user keys in DIR/beanbag.db (SQLite)\n"
            "      --bots DIR          serve the bots defined by DIR/*.json (read-only)\n"
            "      --admin-key KEY     the key of the bots admin API (or BEANBAG_ADMIN_KEY)\n"
            "      --max-queue N       requests waiting beyond the running ones before 503\n"
            "                          (default 64)\n"
            "      --max-n N           most choices per request (default: --parallel)\n"
            "      --max-body BYTES    largest request body (default 1048576)\n"
            "      --timeout SECS      time a client has to send a request, and to take each\n"
            "                          piece of a response (default 30)\n"
            "      --max-connections N open connections at most (default 256)\n"
            "      --tls-cert FILE     serve HTTPS with this PEM certificate (chain) ...\n"
            "      --tls-key FILE      ... and its PEM private key\n"
            "      --max-client-connections N  open connections from one client address at\n"
            "                          most (default 0: no limit of its own; behind a reverse\n"
            "                          proxy every client has the proxy's address)\n"
            "      --shutdown-timeout SECS  on SIGTERM/SIGINT, time running requests get to\n"
            "                          finish before they are cancelled (default 10); meanwhile\n"
            "                          /health says \"draining\" (503) and new requests get 503\n"
            "  -q, --quiet             no log lines\n"
            "  -h, --help              this help\n");
}

typedef struct serve_opts {
    runtime_params rt;
    server_params http;
    const char *tls_cert_path, *tls_key_path;
    const char *alias;
    const char *data_dir, *bots_dir;
    double shutdown_timeout;
} serve_opts;

enum {
    O_ALIAS = 256,
    O_HOST,
    O_PORT,
    O_PARALLEL,
    O_CTX,
    O_BATCH,
    O_STEP,
    O_KEY,
    O_QUEUE,
    O_MAXN,
    O_BODY,
    O_TIMEOUT,
    O_CONNS,
    O_CLIENT_CONNS,
    O_TLS_CERT,
    O_TLS_KEY,
    O_SHUTDOWN,
    O_NO_PREFIX,
    O_DATA,
    O_BOTS,
    O_ADMIN
};

static const struct option long_opts[] = {
    {"model", required_argument, NULL, 'm'},
    {"alias", required_argument, NULL, O_ALIAS},
    {"host", required_argument, NULL, O_HOST},
    {"port", required_argument, NULL, O_PORT},
    {"parallel", required_argument, NULL, O_PARALLEL},
    {"ctx-size", required_argument, NULL, O_CTX},
    {"batch", required_argument, NULL, O_BATCH},
    {"step-tokens", required_argument, NULL, O_STEP},
    {"threads", required_argument, NULL, 't'},
    {"api-key", required_argument, NULL, O_KEY},
    {"max-queue", required_argument, NULL, O_QUEUE},
    {"max-n", required_argument, NULL, O_MAXN},
    {"max-body", required_argument, NULL, O_BODY},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"max-connections", required_argument, NULL, O_CONNS},
    {"max-client-connections", required_argument, NULL, O_CLIENT_CONNS},
    {"tls-cert", required_argument, NULL, O_TLS_CERT},
    {"tls-key", required_argument, NULL, O_TLS_KEY},
    {"shutdown-timeout", required_argument, NULL, O_SHUTDOWN},
    {"no-prefix-cache", no_argument, NULL, O_NO_PREFIX},
    {"data-dir", required_argument, NULL, O_DATA},
    {"bots", required_argument, NULL, O_BOTS},
    {"admin-key", required_argument, NULL, O_ADMIN},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Integer flag values: the range, then where the value goes. */
static bool int_flag(const char *flag, long long lo, long long hi, long long *v) {
    return cli_int("serve", flag, optarg, lo, hi, v);
}

/* Returns -1 to go on, or an exit status. */
static int parse_args(int argc, char **argv, serve_opts *o) {
    long long v = 0, max_n = 0;
    memset(o, 0, sizeof *o);
    o->rt = (runtime_params){
        .n_ctx = 4096, .n_batch = 128, .step_tokens = 32, .n_seq_max = 4, .max_queue = 64};
    o->http = server_default_params();
    o->http.api_key = getenv("BEANBAG_API_KEY");
    o->http.admin_key = getenv("BEANBAG_ADMIN_KEY");
    o->shutdown_timeout = 10;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:t:qh", long_opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'm':
            o->rt.model_path = optarg;
            break;
        case O_ALIAS:
            o->alias = optarg;
            break;
        case O_HOST:
            o->http.host = optarg;
            break;
        case O_KEY:
            o->http.api_key = optarg;
            break;
        case 'q':
            o->http.quiet = true;
            break;
        case O_NO_PREFIX:
            o->rt.no_prefix_cache = true;
            break;
        case O_DATA:
            o->data_dir = optarg;
            break;
        case O_BOTS:
            o->bots_dir = optarg;
            break;
        case O_ADMIN:
            o->http.admin_key = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_PORT:
            if ((ok = int_flag("--port", 0, 65535, &v))) o->http.port = (int)v;
            break;
        case O_PARALLEL:
            if ((ok = int_flag("--parallel", 1, 256, &v))) o->rt.n_seq_max = (int32_t)v;
            break;
        case O_CTX:
            if ((ok = int_flag("--ctx-size", 16, 1 << 24, &v))) o->rt.n_ctx = (int32_t)v;
            break;
        case O_BATCH:
            if ((ok = int_flag("--batch", 1, 1 << 16, &v))) o->rt.n_batch = (int32_t)v;
            break;
        case O_STEP:
            if ((ok = int_flag("--step-tokens", 1, 1 << 16, &v))) o->rt.step_tokens = (int32_t)v;
            break;
        case 't':
            if ((ok = int_flag("--threads", 0, 1024, &v))) o->rt.n_threads = (int32_t)v;
            break;
        case O_QUEUE:
            if ((ok = int_flag("--max-queue", 0, 1 << 20, &v))) o->rt.max_queue = (int32_t)v;
            break;
        case O_MAXN:
            ok = int_flag("--max-n", 1, 256, &max_n);
            break;
        case O_BODY:
            if ((ok = int_flag("--max-body", 1024, 1LL << 30, &v))) o->http.max_body = (size_t)v;
            break;
        case O_TIMEOUT:
            if ((ok = int_flag("--timeout", 1, 86400, &v))) o->http.timeout_s = (int)v;
            break;
        case O_CONNS:
            if ((ok = int_flag("--max-connections", 1, 100000, &v)))
                o->http.max_connections = (int)v;
            break;
        case O_TLS_CERT:
            o->tls_cert_path = optarg;
            break;
        case O_TLS_KEY:
            o->tls_key_path = optarg;
            break;
        case O_CLIENT_CONNS:
            if ((ok = int_flag("--max-client-connections", 0, 100000, &v)))
                o->http.max_client_connections = (int)v;
            break;
        case O_SHUTDOWN:
            if ((ok = int_flag("--shutdown-timeout", 0, 86400, &v)))
                o->shutdown_timeout = (double)v;
            break;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "beanbag serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!o->tls_cert_path != !o->tls_key_path) {
        fprintf(stderr, "beanbag serve: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (o->rt.n_batch < o->rt.n_seq_max) o->rt.n_batch = o->rt.n_seq_max;
    o->http.max_n = max_n ? (int)max_n : o->rt.n_seq_max;
    if (o->http.max_n > o->rt.n_seq_max) {
        fprintf(stderr, "beanbag serve: --max-n %d is more than --parallel %d\n", o->http.max_n,
                o->rt.n_seq_max);
        return 2;
    }
    return -1;
}

/* A PEM file (a certificate chain or a key: small) as a string, or NULL with the reason
 * printed. */
static char *read_pem(const char *path, const char *what) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "beanbag serve: cannot open the TLS %s '%s': %s\n", what, path,
                strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    if (buf) n = fread(buf, 1, cap + 1, f);
    bool too_big = n > cap, bad = buf && (ferror(f) || n == 0);
    fclose(f);
    if (!buf || too_big || bad) {
        fprintf(stderr, "beanbag serve: the TLS %s '%s' is %s\n", what, path,
                !buf      ? "too big for memory"
                : too_big ? "over 1 MiB"
                          : "empty or unreadable");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

static int64_t model_created(const char *path) {
    struct stat st;
    if (path && stat(path, &st) == 0) return (int64_t)st.st_mtime;
    return (int64_t)time(NULL);
}

int cmd_serve(int argc, char **argv) {
    serve_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;

    /* Signals are taken synchronously by this thread (sigwait); every thread started from
     * here on inherits the mask and never sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    bb_error err = {0};
    bb_store *store = NULL;
    if (o.data_dir && store_open(o.data_dir, &store, &err) != BB_OK) {
        fprintf(stderr, "beanbag serve: %s\n", err.message);
        return 1;
    }
    o.http.store = store;
    server *srv = NULL;
    char *cert = NULL, *key = NULL;
    if (o.tls_cert_path) {
        if (!(cert = read_pem(o.tls_cert_path, "certificate")) ||
            !(key = read_pem(o.tls_key_path, "key"))) {
            free(cert);
            store_close(store);
            return 1;
        }
        o.http.tls_cert = cert;
        o.http.tls_key = key;
    }
    if (server_start(&o.http, &srv, &err) != BB_OK) {
        fprintf(stderr, "beanbag serve: %s\n", err.message);
        store_close(store);
        free(cert);
        free(key);
        return 1;
    }
    printf("beanbag serve: listening on %s://%s:%u\n", cert ? "https" : "http", o.http.host,
           server_port(srv));
    fflush(stdout);

    /* A store name (or a hub name, pulled now) serves under that name. */
    char mbuf[4096];
    const char *named = o.rt.model_path;
    if (named && !(o.rt.model_path = cli_model_path("serve", named, mbuf, sizeof mbuf))) {
        server_stop_accepting(srv);
        server_free(srv, 0);
        free(cert);
        free(key);
        store_close(store);
        return 1;
    }
    if (!o.alias && named && o.rt.model_path == mbuf) o.alias = named;
    runtime rt;
    if (runtime_open(&o.rt, &rt, &err) != BB_OK) {
        fprintf(stderr, "beanbag serve: %s\n", err.message);
        server_stop_accepting(srv);
        server_free(srv, 0);
        store_close(store);
        free(cert);
        free(key);
        return 1;
    }
    const char *model_id = o.alias ? o.alias : rt.default_id;
    bots *bts = NULL;
    if (bots_open(o.bots_dir, store, model_id, &bts, &err) != BB_OK) {
        fprintf(stderr, "beanbag serve: %s\n", err.message);
        server_stop_accepting(srv);
        server_free(srv, 0);
        runtime_close(&rt);
        store_close(store);
        free(cert);
        free(key);
        return 1;
    }
    server_model m = {.model = rt.model,
                      .engine = rt.engine,
                      .model_id = model_id,
                      .n_seq_ctx = rt.n_seq_ctx,
                      .created = model_created(o.rt.model_path),
                      .bots = bts};
    server_set_model(srv, &m);
    engine_stats es;
    engine_get_stats(rt.engine, &es);
    printf("beanbag serve: model '%s' ready (%d sequences, %d-token cache, %d-token steps, %d "
           "threads)\n",
           m.model_id, o.rt.n_seq_max, (int)bb_context_n_ctx(rt.ctx), es.step_budget,
           bb_context_n_threads(rt.ctx));
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    printf("beanbag serve: %s: finishing requests in flight (up to %.0f s)\n",
           sig == SIGINT ? "SIGINT" : "SIGTERM", o.shutdown_timeout);
    fflush(stdout);
    /* Kubernetes and nginx take a replica out of rotation when /health fails, so it keeps
     * answering (503 "draining") until the streams in flight have finished; only then does
     * the socket close. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    server_begin_drain(srv);
    engine_drain(rt.engine, o.shutdown_timeout);
    /* generation is over; what is left of the streams still goes out to slow readers */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double spent = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    server_wait_idle(srv, spent < o.shutdown_timeout ? o.shutdown_timeout - spent : 0);
    server_stop_accepting(srv);
    server_free(srv, 2.0);
    free(cert);
    free(key);
    runtime_close(&rt);
    bots_free(bts);
    store_close(store);
    printf("beanbag serve: stopped\n");
    return 0;
}
