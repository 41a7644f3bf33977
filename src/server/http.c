/* libmicrohttpd glue: daemon lifetime, connection deadlines, routing, authentication, body
 * limits and response helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "server/oai_response.h"
#include "server/server_internal.h"
#include "server/structured.h"

/* Headers beyond this (libmicrohttpd's per-connection pool) are refused by the library. */
#define HEADER_POOL_BYTES (64 * 1024)
/* A connection answered before its upload was read (413, 401, 404, ...) is drained of at most
 * this much more upload, within the request timeout, before its socket is closed. */
#define LINGER_BYTES ((size_t)64 << 20)
/* Lingering sockets drained per pass of the watchdog. */
#define LINGER_POLL_MAX 64

server_params server_default_params(void) {
    return (server_params){.host = "127.0.0.1",
                           .port = 8080,
                           .api_key = NULL,
                           .max_body = 1 << 20,
                           .timeout_s = 30,
                           .max_connections = 256,
                           .max_n = 8};
}

double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- connection deadlines */

void conn_arm(server *s, conn_rec *c, bool arm) {
    if (!c) return;
    pthread_mutex_lock(&s->conns_mu);
    c->deadline = arm ? mono_now() + s->p.timeout_s : 0;
    pthread_mutex_unlock(&s->conns_mu);
}

/* ---------------------------------------------------------------- lingering close
 *
 * A client that sends its whole body before reading (most HTTP libraries do) is still
 * writing when a response that refuses the body goes out. Closing a socket with unread data
 * makes the kernel send a reset (RFC 1122, 4.2.2.13), and a reset discards what the client
 * has not read yet: the client sees a broken pipe instead of the 413. So, as Apache's
 * "lingering close" does, the write side is shut (the client sees the end of the response)
 * and the rest of the upload is read and dropped until the client closes, LINGER_BYTES have
 * come, or the request timeout passes. libmicrohttpd closes its descriptor after telling us
 * the connection closed, so the socket is kept open by a dup the watchdog drains. */

static void linger_start(server *s, int fd) {
    int d = fd >= 0 ? dup(fd) : -1;
    if (d < 0) return;
    linger_rec *l = calloc(1, sizeof *l);
    if (!l || fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_NONBLOCK) != 0) {
        free(l);
        close(d);
        return;
    }
    shutdown(d, SHUT_WR);
    l->fd = d;
    l->until = mono_now() + s->p.timeout_s;
    l->left = LINGER_BYTES;
    pthread_mutex_lock(&s->conns_mu);
    if (s->n_lingering >= s->p.max_connections) {
        /* bounded like connections; beyond, the client may see a reset */
        pthread_mutex_unlock(&s->conns_mu);
        close(d);
        free(l);
        return;
    }
    l->next = s->lingering;
    s->lingering = l;
    s->n_lingering++;
    pthread_cond_signal(&s->conns_cv);
    pthread_mutex_unlock(&s->conns_mu);
}

/* Reads what a lingering socket has; false once it is done with (end, error, or a bound). */
static bool linger_drain(linger_rec *l, double now) {
    char buf[16384];
    for (;;) {
        ssize_t n = read(l->fd, buf, sizeof buf);
        if (n > 0) {
            if ((size_t)n >= l->left) return false;
            l->left -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return now < l->until;
        if (n < 0 && errno == EINTR) continue;
        return false; /* the client closed, or the connection broke */
    }
}

/* One pass over the lingering sockets (conns_mu held on entry and exit; only this thread
 * removes records, so the ones seen stay valid while the lock is dropped to poll). */
static void linger_pass(server *s) {
    struct pollfd fds[LINGER_POLL_MAX];
    linger_rec *seen[LINGER_POLL_MAX];
    int n = 0;
    for (linger_rec *l = s->lingering; l && n < LINGER_POLL_MAX; l = l->next) {
        seen[n] = l;
        fds[n++] = (struct pollfd){.fd = l->fd, .events = POLLIN};
    }
    pthread_mutex_unlock(&s->conns_mu);
    poll(fds, (nfds_t)n, 100);
    double now = mono_now();
    for (int i = 0; i < n; i++)
        if (!linger_drain(seen[i], now)) seen[i]->left = 0; /* done: removed below */
    pthread_mutex_lock(&s->conns_mu);
    for (linger_rec **pp = &s->lingering; *pp;) {
        linger_rec *l = *pp;
        if (l->left == 0 || now > l->until) {
            *pp = l->next;
            close(l->fd);
            free(l);
            s->n_lingering--;
        } else {
            pp = &l->next;
        }
    }
}

/* ---------------------------------------------------------------- connection deadlines */

/* libmicrohttpd's own timeout counts idle time only, so a client trickling a byte at a time
 * keeps a connection forever; this thread bounds the whole request (and each response
 * write) instead, by shutting the socket down, which makes the connection's thread close it.
 * Records leave the list (under the lock) before libmicrohttpd closes the descriptor. The
 * same thread drains lingering sockets. */
static void *watchdog_main(void *arg) {
    server *s = arg;
    pthread_mutex_lock(&s->conns_mu);
    while (!s->watchdog_quit) {
        double now = mono_now();
        for (conn_rec *c = s->conns; c; c = c->next)
            if (c->deadline > 0 && now > c->deadline) {
                shutdown(c->fd, SHUT_RDWR);
                c->deadline = 0;
            }
        if (s->lingering) {
            linger_pass(s);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000 * 1000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->conns_cv, &s->conns_mu, &until);
    }
    while (s->lingering) {
        linger_rec *l = s->lingering;
        s->lingering = l->next;
        close(l->fd);
        free(l);
    }
    s->n_lingering = 0;
    pthread_mutex_unlock(&s->conns_mu);
    return NULL;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_rec *c = calloc(1, sizeof *c);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = c;
        if (!c) return;
        c->fd = info ? info->connect_fd : -1;
        pthread_mutex_lock(&s->conns_mu);
        c->deadline = c->fd >= 0 ? mono_now() + s->p.timeout_s : 0;
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        pthread_mutex_unlock(&s->conns_mu);
        return;
    }
    conn_rec *c = *socket_context;
    if (!c) return;
    pthread_mutex_lock(&s->conns_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&s->conns_mu);
    if (c->linger) linger_start(s, c->fd);
    free(c);
    *socket_context = NULL;
}

/* ---------------------------------------------------------------- responses */

enum MHD_Result send_counted(server *s, struct MHD_Connection *c, unsigned status,
                             struct MHD_Response *resp) {
    if (!resp) return MHD_NO;
    http_count(&s->counters, status);
    /* The client must take the response within the timeout (a stream re-arms per piece). */
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_arm(s, info ? info->socket_context : NULL, true);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* A response over a malloc'd body (taken over), or NULL (the body freed). */
static struct MHD_Response *body_response(char *body, size_t len, const char *content_type) {
    struct MHD_Response *resp =
        body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(body);
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return resp;
}

enum MHD_Result send_body(server *s, struct MHD_Connection *c, unsigned status, char *body,
                          size_t len, const char *content_type) {
    struct MHD_Response *resp = body_response(body, len, content_type);
    if (resp && (status == 503 || status == 429)) MHD_add_response_header(resp, "Retry-After", "1");
    if (resp && status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
    return send_counted(s, c, status, resp);
}

enum MHD_Result send_json(server *s, struct MHD_Connection *c, unsigned status, char *json) {
    return send_body(s, c, status, json, json ? strlen(json) : 0, "application/json");
}

enum MHD_Result send_error(server *s, struct MHD_Connection *c, const oai_error *e) {
    return send_json(s, c, (unsigned)e->status, oai_error_json(e));
}

__attribute__((format(printf, 5, 6))) static enum MHD_Result
fail(server *s, struct MHD_Connection *c, int status, const char *code, const char *fmt, ...) {
    oai_error e;
    oai_fail(&e, status, NULL, "%s", "");
    e.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    return send_error(s, c, &e);
}

bool request_json(const http_req *r, cJSON **root, oai_error *e) {
    return oai_parse_json(r->body.data ? r->body.data : "", r->body.len, root, e);
}

/* ---------------------------------------------------------------- routing */

enum {
    R_HEALTH,
    R_METRICS,
    R_MODELS,
    R_MODEL,
    R_CHAT,
    R_TEXT,
    R_TOKENIZE,
    R_DETOKENIZE,
    R_BOTS,
    R_BOT,
    R_RESPONSES,
    R_RESPONSE,
    R_WEB
};

static const struct route {
    const char *path;
    bool prefix; /* path ends in an id */
    const char *method;
    bool auth;
    int id;
} routes[] = {
    {"/health", false, "GET", false, R_HEALTH},
    {"/metrics", false, "GET", true, R_METRICS},
    {"/v1/models", false, "GET", true, R_MODELS},
    {"/v1/models/", true, "GET", true, R_MODEL},
    {"/v1/chat/completions", false, "POST", true, R_CHAT},
    {"/v1/completions", false, "POST", true, R_TEXT},
    {"/tokenize", false, "POST", true, R_TOKENIZE},
    {"/detokenize", false, "POST", true, R_DETOKENIZE},
    {"/v1/responses", false, "POST", true, R_RESPONSES},
    {"/v1/responses/", true, "GET", true, R_RESPONSE},
    {"/v1/responses/", true, "DELETE", true, R_RESPONSE},
    {"/v1/bots", false, "GET", true, R_BOTS},
    {"/v1/bots", false, "POST", true, R_BOTS},
    {"/v1/bots/", true, "GET", true, R_BOT},
    {"/v1/bots/", true, "PATCH", true, R_BOT},
    {"/v1/bots/", true, "DELETE", true, R_BOT},
    /* The page loads without a key: it asks for one when the API answers 401. */
    {"/", false, "GET", false, R_WEB},
    {"/chat", false, "GET", false, R_WEB},
    {"/assets/", true, "GET", false, R_WEB},
};

/* The route of url for method; else the first for url (answered 405 with its method). */
static const struct route *route_find(const char *url, const char *method) {
    const struct route *first = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *r = &routes[i];
        size_t n = strlen(r->path);
        if (r->prefix ? !strncmp(url, r->path, n) && url[n] : !strcmp(url, r->path)) {
            if (!strcmp(method, r->method)) return r;
            if (!first) first = r;
        }
    }
    return first;
}

/* Allow: every method of url's routes. */
static void allow_header(const char *path, char *out, size_t cap) {
    out[0] = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(routes[i].path, path))
            snprintf(out + strlen(out), cap - strlen(out), "%s%s", out[0] ? ", " : "",
                     routes[i].method);
}

/* Every Content-Length of a request, to refuse ones that disagree. */
typedef struct length_scan {
    const char *first;
    int n;
    bool differ;
} length_scan;

static enum MHD_Result scan_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    length_scan *ls = cls;
    if (!key || strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) return MHD_YES;
    if (ls->n++ == 0)
        ls->first = value;
    else if (!value || !ls->first || strcmp(value, ls->first))
        ls->differ = true;
    return MHD_YES;
}

/* Message framing the library lets through but that is ambiguous or unsupported (RFC 9112,
 * 6.1 and 6.3): a transfer coding other than chunked (the body would run until the client
 * closes), Content-Length values that disagree (a request-smuggling vector), an Expect other
 * than 100-continue (RFC 9110, 10.1.1). Returns the status to refuse with, or 0. */
static int framing_error(struct MHD_Connection *c, const char **what) {
    const char *te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te && strcasecmp(te, "chunked")) {
        *what = "only the chunked transfer coding is supported";
        return 501;
    }
    length_scan ls = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, scan_length, &ls);
    if (ls.differ) {
        *what = "the request has Content-Length headers that disagree";
        return 400;
    }
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue")) {
        *what = "only 'Expect: 100-continue' is supported";
        return 417;
    }
    return 0;
}

/* The first call for a request (headers read): check the framing, route, authenticate, check
 * the declared size. */
static enum MHD_Result on_headers(server *s, struct MHD_Connection *c, http_req *r, const char *url,
                                  const char *method) {
    const char *what = NULL;
    int bad = framing_error(c, &what);
    if (bad)
        return fail(s, c, bad,
                    bad == 501   ? "unsupported_transfer_encoding"
                    : bad == 417 ? "expectation_failed"
                                 : "invalid_request",
                    "%s", what);
    const struct route *rt = route_find(url, method);
    if (!rt) return fail(s, c, 404, "not_found", "no such endpoint: %.200s", url);
    if (rt->auth) {
        const char *h =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        auth_result a;
        /* the admin API takes the admin key only */
        bool admin = rt->id == R_BOTS || rt->id == R_BOT;
        auth_check(s->auth, h, admin, rt->id == R_CHAT || rt->id == R_TEXT || rt->id == R_RESPONSES,
                   &a);
        if (a.status && a.status != 429) return fail(s, c, a.status, a.code, "%s", a.message);
        if (a.status == 429) {
            oai_error e;
            oai_fail(&e, 429, NULL, "%s", a.message);
            e.type = "rate_limit_error";
            e.code = a.code;
            char *json = oai_error_json(&e), secs[16];
            struct MHD_Response *resp =
                body_response(json, json ? strlen(json) : 0, "application/json");
            snprintf(secs, sizeof secs, "%d", a.retry_after);
            if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
            r->rejected = true;
            return send_counted(s, c, 429, resp);
        }
        snprintf(r->key_id, sizeof r->key_id, "%s", a.key_id);
    }
    /* HEAD of a page or asset: libmicrohttpd sends the GET response's headers only. */
    bool head_ok = rt->id == R_WEB && !strcmp(method, "HEAD");
    if (strcmp(method, rt->method) && !head_ok) {
        oai_error e;
        oai_fail(&e, 405, NULL, "%s needs %s, not %.20s", rt->path, rt->method, method);
        e.code = "method_not_allowed";
        char *json = oai_error_json(&e), allow[64];
        struct MHD_Response *resp =
            body_response(json, json ? strlen(json) : 0, "application/json");
        allow_header(rt->path, allow, sizeof allow);
        if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        return send_counted(s, c, 405, resp);
    }
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno || *end || n > s->p.max_body) {
            r->rejected = true;
            return fail(s, c, 413, "request_too_large",
                        "the request body is over the limit of %zu bytes", s->p.max_body);
        }
    }
    r->route = rt->id;
    return MHD_YES;
}

static enum MHD_Result dispatch(server *s, struct MHD_Connection *c, http_req *r, const char *url,
                                const char *method) {
    switch (r->route) {
    case R_BOTS:
        return route_bots(s, c, r, method, NULL);
    case R_BOT:
        return route_bots(s, c, r, method, url + strlen("/v1/bots/"));
    case R_RESPONSES:
        return route_responses(s, c, r, method, NULL);
    case R_RESPONSE:
        return route_responses(s, c, r, method, url + strlen("/v1/responses/"));
    case R_HEALTH:
        return route_health(s, c);
    case R_METRICS:
        return route_metrics(s, c);
    case R_MODELS:
        return route_models(s, c, NULL);
    case R_MODEL:
        return route_models(s, c, url + strlen("/v1/models/"));
    case R_TOKENIZE:
        return route_tokenize(s, c, r);
    case R_DETOKENIZE:
        return route_detokenize(s, c, r);
    case R_WEB:
        return route_web(s, c, url);
    default:
        return route_completion(s, c, r, r->route == R_CHAT);
    }
}

/* Whether the request announces a body (RFC 9112, 6.3: Transfer-Encoding or Content-Length). */
static bool has_body(struct MHD_Connection *c) {
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
           (cl && strcmp(cl, "0") != 0);
}

/* Writes all of buf to a non-blocking socket within one second; false if it could not. */
static bool send_within(int fd, const char *buf, size_t len) {
    double until = mono_now() + 1.0;
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (mono_now() > until || poll(&p, 1, 100) < 0) return false;
    }
    return true;
}

/* The 413 written straight to the socket (plain TCP; nothing else is written to it while
 * the body is read), with the same body and counting as a queued one. */
static void send_raw_413(server *s, conn_rec *c) {
    http_count(&s->counters, 413);
    if (!c || c->fd < 0) return;
    oai_error e;
    oai_fail(&e, 413, NULL, "the request body is over the limit of %zu bytes", s->p.max_body);
    e.code = "request_too_large";
    char *json = oai_error_json(&e);
    bb_strbuf b = {0};
    if (json)
        bb_strbuf_printf(&b,
                         "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n"
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(json), json);
    if (json && !b.failed) send_within(c->fd, b.data, b.len);
    bb_strbuf_release(&b);
    free(json);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
    server *s = cls;
    http_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *con_cls = r;
        r->s = s;
        r->route = -1;
        r->t_start = mono_now();
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->conn = info ? info->socket_context : NULL;
        atomic_fetch_add(&s->in_flight, 1);
        enum MHD_Result ret = on_headers(s, c, r, url, method);
        if (r->route < 0) r->rejected = true;
        /* answered before the body: drain it at close so the client can read the answer */
        if (r->rejected && r->conn && has_body(c)) r->conn->linger = true;
        return ret;
    }
    if (r->rejected) {
        *upload_size = 0; /* already answered; the connection closes after the response */
        return MHD_YES;
    }
    if (*upload_size) {
        /* A body without Content-Length (chunked) can outgrow the limit only here, where
         * libmicrohttpd no longer takes a response (it does before the body and after it):
         * the 413 goes out on the socket at once and the connection closes, lingering. */
        if (r->too_large || r->body.len + *upload_size > s->p.max_body) {
            if (!s->p.tls_cert) {
                if (r->conn) r->conn->linger = true;
                send_raw_413(s, r->conn);
                return MHD_NO;
            }
            /* Under TLS the socket carries records only the library writes: the rest is read
             * and dropped (up to the lingering bound) and the 413 queued at its end. */
            r->too_large = true;
            r->dropped += *upload_size;
            *upload_size = 0;
            return r->dropped > LINGER_BYTES ? MHD_NO : MHD_YES;
        }
        bb_strbuf_append(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        return r->body.failed ? MHD_NO : MHD_YES;
    }
    if (r->too_large)
        return fail(s, c, 413, "request_too_large",
                    "the request body is over the limit of %zu bytes", s->p.max_body);
    conn_arm(s, r->conn, false);
    return dispatch(s, c, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    server *s = cls;
    http_req *r = *con_cls;
    if (!r) return;
    if (!s->p.quiet && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        fprintf(stderr, "beanbag serve: a request ended early (code %d)\n", (int)toe);
    /* The connection may carry another request: give it the full time again. */
    conn_arm(s, r->conn, true);
    bb_strbuf_release(&r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    server *s = cls;
    if (s->p.quiet) return;
    fputs("beanbag serve (http): ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* ---------------------------------------------------------------- lifetime */

static bb_status resolve(const char *host, int port, struct sockaddr_storage *addr, bb_error *err) {
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0 || !res)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "cannot resolve host '%s': %s", host,
                       gai_strerror(rc));
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return BB_OK;
}

static void server_destroy(server *s) {
    if (s->watchdog_quit == false && s->watchdog) {
        pthread_mutex_lock(&s->conns_mu);
        s->watchdog_quit = true;
        pthread_cond_signal(&s->conns_cv);
        pthread_mutex_unlock(&s->conns_mu);
        pthread_join(s->watchdog, NULL);
    }
    pthread_cond_destroy(&s->conns_cv);
    pthread_mutex_destroy(&s->conns_mu);
    server_grammar_vocab_free(s); /* the engine was drained: no matcher reads it any more */
    free(s->api_key);
    auth_free(s->auth);
    free(s);
}

bb_status server_start(const server_params *params, server **out, bb_error *err) {
    *out = NULL;
    if (params->port < 0 || params->port > 65535 || params->timeout_s < 1 ||
        params->max_connections < 1 || params->max_client_connections < 0 || params->max_n < 1 ||
        params->max_body < 1)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "server parameters out of range (port %d, timeout %d, connections %d, "
                       "max n %d)",
                       params->port, params->timeout_s, params->max_connections, params->max_n);
    if (!params->tls_cert != !params->tls_key)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "TLS needs both a certificate and its private key");
    if (params->tls_cert && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return bb_fail(err, BB_ERR_UNSUPPORTED, "this libmicrohttpd was built without TLS");
    struct sockaddr_storage addr;
    bb_status st = resolve(params->host ? params->host : "127.0.0.1", params->port, &addr, err);
    if (st != BB_OK) return st;
    server *s = calloc(1, sizeof *s);
    if (!s) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for the server");
    s->p = *params;
    pthread_mutex_init(&s->conns_mu, NULL);
    pthread_cond_init(&s->conns_cv, NULL);
    if (params->api_key && params->api_key[0]) {
        s->api_key = strdup(params->api_key);
        s->api_key_len = strlen(params->api_key);
        if (!s->api_key) {
            server_destroy(s);
            return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    if (!(s->auth = auth_new(params->admin_key, params->api_key, params->store))) {
        s->watchdog_quit = true;
        server_destroy(s);
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (pthread_create(&s->watchdog, NULL, watchdog_main, s) != 0) {
        s->watchdog_quit = true;
        server_destroy(s);
        return bb_fail(err, BB_ERR_INTERNAL, "cannot start the connection watchdog");
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (params->tls_cert) flags |= MHD_USE_TLS;
    /* the certificate and key when serving HTTPS, else an empty list */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)params->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)params->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    if (!params->tls_cert) tls[0].option = MHD_OPTION_END;
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)params->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)params->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)params->max_client_connections, MHD_OPTION_CONNECTION_TIMEOUT, 0u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_POOL_BYTES, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_ARRAY, tls,
        MHD_OPTION_END);
    if (!s->daemon) {
        server_destroy(s);
        if (params->tls_cert)
            return bb_fail(err, BB_ERR_IO,
                           "cannot listen on %s port %d (in use, no permission, or a "
                           "certificate or key libmicrohttpd cannot read: see its log above)",
                           params->host ? params->host : "127.0.0.1", params->port);
        return bb_fail(err, BB_ERR_IO, "cannot listen on %s port %d (in use, or no permission)",
                       params->host ? params->host : "127.0.0.1", params->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : (uint16_t)params->port;
    *out = s;
    return BB_OK;
}

uint16_t server_port(const server *s) {
    return s->port;
}

void server_set_model(server *s, const server_model *model) {
    s->model = *model;
    atomic_store(&s->ready, true);
}

void server_begin_drain(server *s) {
    atomic_store(&s->stopping, true);
}

void server_wait_idle(server *s, double timeout_s) {
    double until = mono_now() + timeout_s;
    while (atomic_load(&s->in_flight) > 0 && mono_now() < until)
        usleep(10 * 1000);
}

void server_stop_accepting(server *s) {
    atomic_store(&s->stopping, true);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void server_free(server *s, double timeout_s) {
    if (!s) return;
    double until = mono_now() + timeout_s;
    while (atomic_load(&s->in_flight) > 0 && mono_now() < until)
        usleep(10 * 1000);
    MHD_stop_daemon(s->daemon);
    server_destroy(s);
}
