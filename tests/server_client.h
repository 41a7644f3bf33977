/* A small HTTP/1.1 client over raw sockets for the server tests (header-only, static): whole
 * requests with chunked decoding, Server-Sent Events splitting, a `beanbag serve` process
 * started on a free loopback port. Raw sockets let the tests send what no well-behaved client
 * library would (broken JSON, giant or trickled requests) and hang up mid-stream. */
#ifndef BB_TESTS_SERVER_CLIENT_H
#define BB_TESTS_SERVER_CLIENT_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline double sc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int sc_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static inline bool sc_send_all(int fd, const char *buf, size_t len) {
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads until the peer closes or timeout_s passes; returns the bytes (NUL-terminated). */
static inline char *sc_read_all(int fd, double timeout_s, size_t *len) {
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    double until = sc_now() + timeout_s;
    while (buf) {
        int left = (int)((until - sc_now()) * 1000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0) break;
        if (cap - n < 2048) {
            char *b = realloc(buf, cap *= 2);
            if (!b) break;
            buf = b;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r <= 0) break;
        n += (size_t)r;
    }
    if (buf) buf[n] = 0;
    *len = n;
    return buf;
}

typedef struct sc_resp {
    int status;
    char *raw;     /* the whole response */
    char *headers; /* into raw */
    char *body;    /* decoded (chunked transfer decoded), NUL-terminated */
    size_t body_len;
} sc_resp;

static inline void sc_resp_free(sc_resp *r) {
    free(r->raw);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Value of a response header (case-insensitive name), copied into out. */
static inline bool sc_header(const sc_resp *r, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strstr(p, "\r\n");
        if (!eol || eol == p) break;
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(eol - v), v);
            return true;
        }
        p = eol + 2;
    }
    return false;
}

static inline char *sc_dechunk(const char *s, size_t len, size_t *out_len) {
    char *out = malloc(len + 1);
    size_t o = 0;
    const char *end = s + len;
    while (out && s < end) {
        char *next;
        unsigned long n = strtoul(s, &next, 16);
        const char *crlf = strstr(next, "\r\n");
        if (!crlf || n == 0) break;
        s = crlf + 2;
        if (n > (size_t)(end - s)) n = (size_t)(end - s);
        memcpy(out + o, s, n);
        o += n;
        s += n + 2;
    }
    if (out) out[o] = 0;
    *out_len = o;
    return out;
}

static inline bool sc_parse(char *raw, size_t len, sc_resp *r) {
    memset(r, 0, sizeof *r);
    r->raw = raw;
    if (!raw || sscanf(raw, "HTTP/1.%*d %d", &r->status) != 1) return false;
    char *sep = strstr(raw, "\r\n\r\n");
    if (!sep) return false;
    r->headers = strstr(raw, "\r\n") + 2;
    sep[2] = 0; /* headers end with their last CRLF */
    const char *body = sep + 4;
    size_t blen = len - (size_t)(body - raw);
    char te[64];
    if (sc_header(r, "Transfer-Encoding", te, sizeof te) && strstr(te, "chunked")) {
        r->body = sc_dechunk(body, blen, &r->body_len);
    } else {
        r->body = malloc(blen + 1);
        memcpy(r->body, body, blen);
        r->body[blen] = 0;
        r->body_len = blen;
    }
    return true;
}

/* Sends raw bytes as a request on a new connection and reads the whole answer. */
static inline bool sc_raw(int port, const char *req, size_t len, double timeout_s, sc_resp *r) {
    memset(r, 0, sizeof *r);
    int fd = sc_connect(port);
    if (fd < 0) return false;
    bool ok = sc_send_all(fd, req, len);
    size_t n = 0;
    char *raw = sc_read_all(fd, timeout_s, &n);
    close(fd);
    return sc_parse(raw, n, r) && ok;
}

static const char *sc_api_key; /* sent as a bearer token when set */

/* A request with Connection: close; extra headers (each ending in CRLF) may be NULL. */
static inline char *sc_format_request(const char *method, const char *path, const char *body,
                                      const char *extra, size_t *len) {
    size_t blen = body ? strlen(body) : 0;
    size_t cap = blen + strlen(path) + (extra ? strlen(extra) : 0) + 512;
    char *req = malloc(cap);
    int n =
        snprintf(req, cap,
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s%s"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                 method, path, sc_api_key ? "Authorization: Bearer " : "",
                 sc_api_key ? sc_api_key : "", sc_api_key ? "\r\n" : "", extra ? extra : "", blen);
    memcpy(req + n, body ? body : "", blen);
    *len = (size_t)n + blen;
    return req;
}

static inline bool sc_request(int port, const char *method, const char *path, const char *body,
                              sc_resp *r) {
    size_t len;
    char *req = sc_format_request(method, path, body, NULL, &len);
    bool ok = sc_raw(port, req, len, 60, r);
    free(req);
    return ok;
}

/* The JSON body of a response (cJSON_Delete it), or NULL. */
static inline cJSON *sc_json(const sc_resp *r) {
    return r->body ? cJSON_Parse(r->body) : NULL;
}

/* The "data: " payloads of an SSE body, in order; returns their count. */
static inline int sc_sse(const char *body, char ***events) {
    int n = 0, cap = 16;
    *events = malloc((size_t)cap * sizeof **events);
    for (const char *p = body; p && *p;) {
        const char *end = strstr(p, "\n\n");
        if (!end) break;
        if (!strncmp(p, "data: ", 6)) {
            if (n == cap) *events = realloc(*events, (size_t)(cap *= 2) * sizeof **events);
            (*events)[n++] = strndup(p + 6, (size_t)(end - p - 6));
        }
        p = end + 2;
    }
    return n;
}

static inline void sc_sse_free(char **events, int n) {
    for (int i = 0; i < n; i++)
        free(events[i]);
    free(events);
}

/* ---------------------------------------------------------------- the server process */

typedef struct sc_server {
    pid_t pid;
    int port;
    FILE *out; /* its stdout */
} sc_server;

/* Starts `BB_BIN serve --port 0 ARGS...` and waits until it has loaded the model. */
static inline bool sc_server_start(sc_server *s, const char *const *args) {
    memset(s, 0, sizeof *s);
    const char *bin = getenv("BB_BIN");
    if (!bin) return false;
    int pipefd[2];
    if (pipe(pipefd) != 0) return false;
    const char *argv[64] = {bin, "serve", "--port", "0"};
    int argc = 4;
    for (int i = 0; args[i] && argc < 63; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    s->pid = fork();
    if (s->pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    s->out = fdopen(pipefd[0], "r");
    char line[512];
    while (s->out && fgets(line, sizeof line, s->out)) {
        const char *p = strstr(line, "://127.0.0.1:"); /* http or https */
        if (p && strstr(line, "listening on")) s->port = atoi(p + strlen("://127.0.0.1:"));
        if (strstr(line, "ready")) return s->port > 0;
    }
    return false;
}

/* Sends SIGTERM and waits up to timeout_s; returns the exit status (-1: killed/timeout). */
static inline int sc_server_stop(sc_server *s, double timeout_s) {
    if (s->pid <= 0) return -1;
    kill(s->pid, SIGTERM);
    double until = sc_now() + timeout_s;
    int status = 0;
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (sc_now() > until) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            status = -1;
            break;
        }
        usleep(20 * 1000);
    }
    if (s->out) fclose(s->out);
    s->pid = 0;
    return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
