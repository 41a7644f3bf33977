/* State shared by the HTTP glue (http.c), the small endpoints (routes.c) and the completion
 * endpoints (completion.c). */
#ifndef BB_SERVER_INTERNAL_H
#define BB_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "server/auth.h"
#include "server/bots.h"
#include "server/metrics.h"
#include "server/oai_request.h"
#include "server/server.h"
#include "common/strbuf.h"

/* One TCP connection, watched for deadlines (slow-loris protection). */
typedef struct conn_rec {
    int fd;
    double deadline; /* monotonic seconds; 0: none (the server is working for it) */
    bool linger;     /* answered before its body was read: drain the rest before closing */
    struct conn_rec *prev, *next;
} conn_rec;

/* A closed connection whose unread upload is read and dropped before the socket is closed
 * (see "lingering close" in http.c). */
typedef struct linger_rec {
    int fd;       /* our dup of the connection's socket */
    double until; /* monotonic deadline */
    size_t left;  /* bytes still allowed to drain */
    struct linger_rec *next;
} linger_rec;

struct server {
    server_params p;
    char *api_key;
    size_t api_key_len;
    auth *auth;
    struct MHD_Daemon *daemon;
    uint16_t port;
    http_counters counters;
    atomic_bool ready, stopping;
    server_model model;   /* valid once ready */
    atomic_int in_flight; /* requests between their first byte and their completion */

    pthread_mutex_t conns_mu;
    pthread_cond_t conns_cv;
    conn_rec *conns;
    linger_rec *lingering; /* drained by the watchdog thread, which alone removes them */
    int n_lingering;
    bool watchdog_quit;
    pthread_t watchdog;
    struct bb_grammar_vocab *grammar_vocab; /* structured.c: built on first use */
};

/* One HTTP request. */
typedef struct http_req {
    server *s;
    conn_rec *conn;
    int route;
    bb_strbuf body;
    bool rejected;  /* a response went out before the body was read */
    bool too_large; /* over max_body under TLS: the rest is read and dropped, 413 at the end */
    size_t dropped; /* bytes dropped so far */
    double t_start;
    char key_id[STORE_KEY_ID_LEN + 1]; /* the user key it came with, "" for others */
    char model_name[72];               /* the bot a chat request named (bot ids: <= 64) */
} http_req;

double mono_now(void);
/* Sets the connection's deadline to now + timeout (arm) or clears it. */
void conn_arm(server *s, conn_rec *c, bool arm);

/* Queues a response (taking ownership of the malloc'd body) and counts its status. */
enum MHD_Result send_body(server *s, struct MHD_Connection *c, unsigned status, char *body,
                          size_t len, const char *content_type);
enum MHD_Result send_json(server *s, struct MHD_Connection *c, unsigned status, char *json);
enum MHD_Result send_error(server *s, struct MHD_Connection *c, const oai_error *e);
enum MHD_Result send_counted(server *s, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp);

/* The request body as a JSON object (cJSON_Delete it), or false with *e set. */
bool request_json(const http_req *r, cJSON **root, oai_error *e);

/* Endpoints (routes.c, completion.c); the body is complete. */
enum MHD_Result route_health(server *s, struct MHD_Connection *c);
enum MHD_Result route_metrics(server *s, struct MHD_Connection *c);
enum MHD_Result route_models(server *s, struct MHD_Connection *c, const char *id);
enum MHD_Result route_tokenize(server *s, struct MHD_Connection *c, http_req *r);
enum MHD_Result route_detokenize(server *s, struct MHD_Connection *c, http_req *r);
enum MHD_Result route_completion(server *s, struct MHD_Connection *c, http_req *r, bool chat);
/* For endpoints built on chat (completion.c): a chat request's prompt tokens, its submission to
 * the engine (errors as the chat endpoint gives them), a connection's socket. */
bool completion_prompt(server *s, const oai_request *req, bb_token **ids, size_t *n, oai_error *e);
bool completion_submit(server *s, const oai_request *req, const bb_token *ids, size_t n,
                       engine_request **out, oai_error *e);
int completion_conn_fd(struct MHD_Connection *c);
/* The Responses API (responses.c): POST /v1/responses, GET/DELETE /v1/responses/ID. */
enum MHD_Result route_responses(server *s, struct MHD_Connection *c, http_req *r,
                                const char *method, const char *id);
/* The admin API (bots_routes.c): /v1/bots, /v1/bots/ID (id NULL for the collection). */
enum MHD_Result route_bots(server *s, struct MHD_Connection *c, http_req *r, const char *method,
                           const char *id);
/* The chat page and its assets (web.c); web_page_built says whether this build has them. */
enum MHD_Result route_web(server *s, struct MHD_Connection *c, const char *url);
bool web_page_built(void);

#endif
