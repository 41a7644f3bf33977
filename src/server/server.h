/*
 * The OpenAI-compatible HTTP server (libmicrohttpd, one thread per connection). It listens
 * before the model is loaded (GET /health says "loading"), then serves completions through the
 * engine: HTTP threads parse, validate and tokenize, the engine thread generates, and the
 * connection thread streams what the engine hands over.
 *
 * Limits: request bodies over max_body get 413; headers over 64 KiB are refused by
 * libmicrohttpd; a request must arrive completely, and every piece of a response be taken,
 * within timeout_s (slow clients are cut off); at most max_connections at once, and at most
 * max_client_connections from one address when set (libmicrohttpd closes the ones beyond).
 */
#ifndef BB_SERVER_H
#define BB_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"
#include "engine/engine.h"
#include "store/store.h"

typedef struct server_params {
    const char *host;      /* numeric address or name to bind; default 127.0.0.1 */
    int port;              /* 0: any free port (see server_port) */
    const char *api_key;   /* NULL or "": no authentication */
    const char *admin_key; /* NULL or "": no admin API (bots are changed with it) */
    bb_store *store;       /* bots and user keys (--data-dir), or NULL */
    size_t max_body;       /* bytes */
    int timeout_s;
    int max_connections;
    int max_client_connections; /* per client address; 0: no limit of its own */
    /* PEM certificate (chain) and private key: HTTPS through libmicrohttpd's GnuTLS. Both or
     * neither; the strings must outlive the server. */
    const char *tls_cert, *tls_key;
    int max_n;  /* most choices per request */
    bool quiet; /* no request log on stderr */
} server_params;

server_params server_default_params(void);

/* What the endpoints serve once the model is loaded; pointers must outlive the server. */
typedef struct server_model {
    bb_model *model;
    engine *engine;
    const char *model_id;
    int32_t n_seq_ctx; /* longest sequence (prompt + completion) */
    int64_t created;   /* for /v1/models */
    struct bots *bots; /* the bots served beside the model, or NULL */
} server_model;

typedef struct server server;

bb_status server_start(const server_params *params, server **out, bb_error *err);
uint16_t server_port(const server *s);
/* From now on completions are served and /health says "ok". */
void server_set_model(server *s, const server_model *model);
/* Starts a drain: /health answers 503 "draining" and new completions get 503 (a balancer
 * sends them to another replica), while the socket stays open so that health checks and
 * the streams in flight still get through. */
void server_begin_drain(server *s);
/* Waits up to timeout_s until no request is in flight (every response sent in full). */
void server_wait_idle(server *s, double timeout_s);
/* Closes the listening socket; requests on open connections get 503 from now on. */
void server_stop_accepting(server *s);
/* Waits up to timeout_s for requests in flight to finish sending, then stops every connection
 * and frees the server. */
void server_free(server *s, double timeout_s);

#endif
