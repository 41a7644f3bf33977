/* A fleet on loopback: Debian's nginx in front of 3 `beanbag serve` replicas of a fixture model,
 * proxying with deploy/nginx/proxy.conf (the deployed failover settings) and the deployed
 * affinity rule: hash of the X-Bot-Id header, consistent. A mixed-bot load checks that
 *   - requests spread over the replicas and every bot stays on one (X-Upstream, and the
 *     replicas' own request counters in /metrics agree);
 *   - kill -9 of a replica under streaming load loses only the streams it had started: every
 *     other stream completes with the same greedy text as a solo run, and new requests for the
 *     dead replica's bots fail over;
 *   - a SIGTERM drain of another replica loses nothing: /health says draining, new requests
 *     are sent elsewhere (503 + proxy_next_upstream), its streams finish, it exits 0;
 *   - the killed replica, restarted on its port, takes its bots' load again.
 * Skips (saying so) when nginx is not installed (scripts/setup.sh installs it). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture_model.h"
#include "common/strbuf.h"
#include "server_client.h"

#define N_REPLICAS 3
#define N_BOTS 9
#define PER_BOT 2
#define N_STREAMS (N_BOTS * PER_BOT)
#define MAX_TOKENS 128
#define SLOW_TOKENS 1500

static char g_dir[64], g_model[128], g_bias[128];
static sc_server g_rep[N_REPLICAS];
static int g_port[N_REPLICAS], g_nginx_port;
static pid_t g_nginx;
static char *g_solo[N_BOTS]; /* each bot's answer run alone */

static const char *nginx_bin(void) {
    static const char *const paths[] = {"/usr/sbin/nginx", "/usr/bin/nginx", NULL};
    for (int i = 0; paths[i]; i++)
        if (access(paths[i], X_OK) == 0) return paths[i];
    return NULL;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static bool start_replica(int i, int port) {
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    const char *args[] = {
        "-m", g_model, "--parallel",         "8",   "--ctx-size", "8192", "--threads",
        "1",  "-q",    "--shutdown-timeout", "120", "--port",     p,      NULL};
    bool ok = sc_server_start(&g_rep[i], args);
    if (ok) g_port[i] = g_rep[i].port;
    return ok;
}

static int replica_of(const char *upstream) {
    /* the last address tried ("a, b" after a failover) served the request */
    const char *last = strrchr(upstream, ' ');
    last = last ? last + 1 : upstream;
    const char *colon = strrchr(last, ':');
    int port = colon ? atoi(colon + 1) : -1;
    for (int i = 0; i < N_REPLICAS; i++)
        if (g_port[i] == port) return i;
    return -1;
}

static char *body_n(int bot, bool stream, int max_tokens) {
    char *b = NULL;
    if (asprintf(&b,
                 "{\"messages\": [{\"role\": \"system\", \"content\": \"You are helper bot %d.\"}, "
                 "{\"role\": \"user\", \"content\": \"Tell me about topic %d.\"}], \"max_tokens\": "
                 "%d, \"temperature\": 0, \"stream\": %s%s}",
                 bot, bot * 7, max_tokens, stream ? "true" : "false", g_bias) < 0)
        return NULL;
    return b;
}

static char *body_for(int bot, bool stream) {
    return body_n(bot, stream, MAX_TOKENS);
}

/* A stream through nginx whose reader takes nothing after the headers, with a 4 KiB receive
 * buffer: the replica cannot finish sending it until the reader resumes (slow_finish), so it
 * is surely in flight while the test kills or drains its replica. Returns the socket. */
static int slow_open(int bot, int *replica) {
    char *body = body_n(bot, true, SLOW_TOKENS), hdr[64];
    snprintf(hdr, sizeof hdr, "X-Bot-Id: bot-%d\r\n", bot);
    size_t len;
    char *req = sc_format_request("POST", "/v1/chat/completions", body, hdr, &len);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_nginx_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char head[4096];
    size_t n = 0;
    *replica = -1;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && sc_send_all(fd, req, len)) {
        while (n < sizeof head - 1) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 30000) <= 0) break;
            ssize_t r = recv(fd, head + n, 1, 0); /* byte by byte: stop right after the headers */
            if (r <= 0) break;
            head[++n] = 0;
            if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4)) break;
        }
        head[n] = 0;
        const char *up = strcasestr(head, "X-Upstream: ");
        if (up) {
            char addr[128];
            snprintf(addr, sizeof addr, "%.*s", (int)strcspn(up + 12, "\r"), up + 12);
            *replica = replica_of(addr);
        }
    }
    free(req);
    free(body);
    return fd;
}

/* Reads the rest of a slow stream: whether it ended with [DONE]. */
static bool slow_finish(int fd) {
    size_t n;
    char *rest = sc_read_all(fd, 120, &n);
    bool done = rest && strstr(rest, "data: [DONE]");
    free(rest);
    close(fd);
    return done;
}

/* Concatenated delta.content of an SSE body; *done when it ended with [DONE]. */
static char *sse_text(const char *body, bool *done) {
    char **ev;
    int n = sc_sse(body, &ev);
    bb_strbuf t = {0};
    bb_strbuf_append(&t, "", 0);
    *done = n > 0 && !strcmp(ev[n - 1], "[DONE]");
    for (int i = 0; i < n; i++) {
        cJSON *c = cJSON_Parse(ev[i]);
        const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "choices"), 0);
        const char *piece =
            cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "delta"), "content"));
        if (piece) bb_strbuf_append(&t, piece, strlen(piece));
        cJSON_Delete(c);
    }
    sc_sse_free(ev, n);
    return bb_strbuf_take(&t);
}

/* A whole (non-streamed) chat completion through `port` for a bot: its text and replica. */
static char *ask(int port, int bot, int *replica, int *status) {
    char *body = body_for(bot, false), hdr[64];
    snprintf(hdr, sizeof hdr, "X-Bot-Id: bot-%d\r\n", bot);
    size_t len;
    char *req = sc_format_request("POST", "/v1/chat/completions", body, hdr, &len);
    sc_resp r;
    char *text = NULL;
    *status = 0;
    if (sc_raw(port, req, len, 60, &r)) {
        *status = r.status;
        char up[128] = "";
        if (replica) *replica = sc_header(&r, "X-Upstream", up, sizeof up) ? replica_of(up) : -1;
        cJSON *j = sc_json(&r);
        const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0),
                                "message"),
            "content"));
        text = c ? strdup(c) : NULL;
        cJSON_Delete(j);
    }
    sc_resp_free(&r);
    free(req);
    free(body);
    return text;
}

/* ---------------------------------------------------------------- streams under load */

typedef struct stream_job {
    int bot;
    pthread_t th;
    volatile int got_events; /* "data: " events seen so far */
    int status, replica;
    bool done;
    char *text;
} stream_job;

static void *stream_main(void *arg) {
    stream_job *j = arg;
    char *body = body_for(j->bot, true), hdr[64];
    snprintf(hdr, sizeof hdr, "X-Bot-Id: bot-%d\r\n", j->bot);
    size_t len;
    char *req = sc_format_request("POST", "/v1/chat/completions", body, hdr, &len);
    int fd = sc_connect(g_nginx_port);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    j->replica = -1;
    if (fd >= 0 && sc_send_all(fd, req, len)) {
        double until = sc_now() + 120;
        for (;;) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int left = (int)((until - sc_now()) * 1000);
            if (left <= 0 || poll(&p, 1, left) <= 0) break;
            if (cap - n < 4096) buf = realloc(buf, cap *= 2);
            ssize_t r = read(fd, buf + n, cap - n - 1);
            if (r <= 0) break;
            n += (size_t)r;
            buf[n] = 0;
            int ev = 0;
            for (const char *s = buf; (s = strstr(s, "data: ")); s += 6)
                ev++;
            j->got_events = ev;
        }
    }
    if (fd >= 0) close(fd);
    buf[n] = 0;
    sc_resp r;
    if (sc_parse(buf, n, &r)) {
        j->status = r.status;
        char up[128];
        if (sc_header(&r, "X-Upstream", up, sizeof up)) j->replica = replica_of(up);
        j->text = sse_text(r.body, &j->done);
        sc_resp_free(&r);
    } else {
        free(buf);
    }
    free(req);
    free(body);
    return NULL;
}

static void start_streams(stream_job *jobs) {
    for (int i = 0; i < N_STREAMS; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].bot = i % N_BOTS;
        pthread_create(&jobs[i].th, NULL, stream_main, &jobs[i]);
    }
}

/* Waits until every stream has had its first content event (role chunk + one more). */
static bool wait_all_streaming(stream_job *jobs, double timeout_s) {
    for (double until = sc_now() + timeout_s; sc_now() < until; usleep(2000)) {
        int ready = 0;
        for (int i = 0; i < N_STREAMS; i++)
            ready += jobs[i].got_events >= 2;
        if (ready == N_STREAMS) return true;
    }
    return false;
}

static void join_streams(stream_job *jobs) {
    for (int i = 0; i < N_STREAMS; i++)
        pthread_join(jobs[i].th, NULL);
}

static bool same_as_solo(const stream_job *j) {
    return j->done && j->text && g_solo[j->bot] && !strcmp(j->text, g_solo[j->bot]);
}

/* ---------------------------------------------------------------- nginx */

static bool start_nginx(const char *src) {
    char conf[256];
    snprintf(conf, sizeof conf, "%s/nginx.conf", g_dir);
    FILE *f = fopen(conf, "w");
    if (!f) return false;
    g_nginx_port = free_port();
    /* The deployed rule (deploy/nginx/nginx.conf) with loopback replicas, and the deployed
     * proxy settings included as they are. X-Upstream tells the test who served what. */
    fprintf(f,
            "worker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n"
            "events { worker_connections 512; }\nhttp {\n  access_log off;\n"
            "  client_body_temp_path %s/body; proxy_temp_path %s/proxy;\n"
            "  fastcgi_temp_path %s/fcgi; uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n"
            "  map $http_x_bot_id $beanbag_affinity { \"\" $request_id; default "
            "$http_x_bot_id; }\n"
            "  upstream beanbag {\n    hash $beanbag_affinity consistent;\n",
            g_dir, g_dir, g_dir, g_dir, g_dir, g_dir, g_dir);
    for (int i = 0; i < N_REPLICAS; i++)
        fprintf(f, "    server 127.0.0.1:%d max_fails=1 fail_timeout=1s;\n", g_port[i]);
    fprintf(f,
            "    keepalive 16;\n  }\n  server {\n    listen 127.0.0.1:%d;\n    location / {\n"
            "      proxy_pass http://beanbag;\n      include %s/deploy/nginx/proxy.conf;\n"
            "      add_header X-Upstream $upstream_addr always;\n    }\n  }\n}\n",
            g_nginx_port, src);
    fclose(f);
    g_nginx = fork();
    if (g_nginx == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(nginx_bin(), "nginx", "-p", g_dir, "-c", conf, "-g", "daemon off;", (char *)NULL);
        _exit(127);
    }
    for (double until = sc_now() + 10; sc_now() < until; usleep(20000)) {
        sc_resp r;
        bool up = sc_request(g_nginx_port, "GET", "/health", NULL, &r) && r.status == 200;
        sc_resp_free(&r);
        if (up) return true;
        int st;
        if (waitpid(g_nginx, &st, WNOHANG) == g_nginx) break;
    }
    return false;
}

/* beanbag_http_requests_total{code="200"} of a replica (0 when unreachable). */
static double ok_count(int i) {
    sc_resp r;
    double v = 0;
    if (sc_request(g_port[i], "GET", "/metrics", NULL, &r) && r.body) {
        const char *p = strstr(r.body, "beanbag_http_requests_total{code=\"200\"} ");
        if (p) v = atof(p + strlen("beanbag_http_requests_total{code=\"200\"} "));
    }
    sc_resp_free(&r);
    return v;
}

/* ---------------------------------------------------------------- the phases */

static int g_home[N_BOTS]; /* the replica each bot's requests go to */

static void test_spread_and_affinity(void) {
    double before[N_REPLICAS];
    for (int i = 0; i < N_REPLICAS; i++)
        before[i] = ok_count(i);
    int per_replica[N_REPLICAS] = {0};
    bool sticky = true, equal = true;
    for (int b = 0; b < N_BOTS; b++)
        for (int k = 0; k < PER_BOT; k++) {
            int rep = -1, status;
            char *text = ask(g_nginx_port, b, &rep, &status);
            CHECKF(status == 200 && rep >= 0, "bot %d: status %d replica %d", b, status, rep);
            if (k == 0) g_home[b] = rep;
            sticky &= rep == g_home[b];
            equal &= text && !strcmp(text, g_solo[b]);
            if (rep >= 0) per_replica[rep]++;
            free(text);
        }
    CHECKF(sticky, "a bot's requests went to more than one replica");
    CHECKF(equal, "an answer through nginx differs from the solo run");
    int used = 0;
    for (int i = 0; i < N_REPLICAS; i++) {
        double got = ok_count(i) - before[i] - 1; /* the /metrics read before this one */
        used += per_replica[i] > 0;
        CHECKF(got == per_replica[i], "replica %d counted %g requests, nginx sent %d", i, got,
               per_replica[i]);
    }
    CHECKF(used >= 2, "all %d bots landed on one replica", N_BOTS);
    printf("spread: %d bots x %d requests: %d / %d / %d per replica; every bot on one replica\n",
           N_BOTS, PER_BOT, per_replica[0], per_replica[1], per_replica[2]);
}

static int g_victim, g_drained;

static void test_kill(void) {
    stream_job jobs[N_STREAMS];
    start_streams(jobs);
    CHECKF(wait_all_streaming(jobs, 60), "not every stream started");
    /* the replica with the most bots dies mid-stream */
    int count[N_REPLICAS] = {0};
    for (int b = 0; b < N_BOTS; b++)
        count[g_home[b]]++;
    g_victim = 0;
    for (int i = 1; i < N_REPLICAS; i++)
        if (count[i] > count[g_victim]) g_victim = i;
    int vb = -1, vrep = -1;
    for (int b = 0; b < N_BOTS; b++)
        if (g_home[b] == g_victim) vb = b;
    int slow = slow_open(vb, &vrep);
    CHECKF(vrep == g_victim, "the slow stream went to replica %d, not %d", vrep, g_victim);
    kill(g_rep[g_victim].pid, SIGKILL);
    waitpid(g_rep[g_victim].pid, NULL, 0);
    if (g_rep[g_victim].out) fclose(g_rep[g_victim].out);
    g_rep[g_victim].pid = 0;
    g_rep[g_victim].out = NULL;
    double t_kill = sc_now();
    /* a new request for one of its bots fails over at once */
    int fb = -1;
    for (int b = 0; b < N_BOTS; b++)
        if (g_home[b] == g_victim) fb = b;
    int rep = -1, status = 0;
    char *text = ask(g_nginx_port, fb, &rep, &status);
    CHECKF(status == 200 && rep >= 0 && rep != g_victim && text && !strcmp(text, g_solo[fb]),
           "failover after kill: status %d replica %d", status, rep);
    free(text);
    join_streams(jobs);
    int lost = 0, started_on_victim = 0, others = 0, others_ok = 0;
    for (int i = 0; i < N_STREAMS; i++) {
        if (jobs[i].replica == g_victim) {
            started_on_victim++;
            lost += !same_as_solo(&jobs[i]);
        } else {
            others++;
            others_ok += same_as_solo(&jobs[i]);
        }
    }
    CHECKF(others_ok == others, "%d of %d streams on the surviving replicas were lost or differ",
           others - others_ok, others);
    /* the one surely in flight at the kill is cut */
    CHECKF(!slow_finish(slow), "the slow stream on the killed replica completed");
    lost++;
    started_on_victim++;
    printf("kill -9 of replica %d under %d streams: lost %d of the %d it had started, the other "
           "%d complete and equal to solo runs; failover %.0f ms after the kill\n",
           g_victim, N_STREAMS, lost, started_on_victim, others_ok, (sc_now() - t_kill) * 1000);
    for (int i = 0; i < N_STREAMS; i++)
        free(jobs[i].text);
}

static void test_drain(void) {
    stream_job jobs[N_STREAMS];
    start_streams(jobs);
    CHECKF(wait_all_streaming(jobs, 60), "not every stream started");
    /* the surviving replica that is home to most bots */
    int homes[N_REPLICAS] = {0};
    for (int b = 0; b < N_BOTS; b++)
        homes[g_home[b]]++;
    g_drained = -1;
    for (int i = 0; i < N_REPLICAS; i++)
        if (i != g_victim && (g_drained < 0 || homes[i] > homes[g_drained])) g_drained = i;
    int db = -1, drep = -1;
    for (int b = 0; b < N_BOTS; b++)
        if (g_home[b] == g_drained) db = b;
    int slow = slow_open(db, &drep);
    CHECKF(drep == g_drained, "the slow stream went to replica %d, not %d", drep, g_drained);
    kill(g_rep[g_drained].pid, SIGTERM);
    bool draining = false;
    int last_status = 0;
    for (double until = sc_now() + 5; !draining && sc_now() < until; usleep(5000)) {
        sc_resp r;
        if (sc_request(g_port[g_drained], "GET", "/health", NULL, &r)) {
            last_status = r.status;
            draining = r.status == 503 && strstr(r.body, "draining");
        }
        sc_resp_free(&r);
    }
    CHECKF(draining, "the draining replica's /health did not say draining (last status %d)",
           last_status);
    /* its bots' new requests are sent to the others meanwhile */
    int moved = 0, asked = 0;
    for (int b = 0; b < N_BOTS; b++) {
        if (g_home[b] != g_drained) continue;
        int rep = -1, status = 0;
        char *text = ask(g_nginx_port, b, &rep, &status);
        asked++;
        moved += status == 200 && rep >= 0 && rep != g_drained && text && !strcmp(text, g_solo[b]);
        free(text);
    }
    CHECKF(moved == asked, "%d of %d requests for the draining replica's bots failed",
           asked - moved, asked);
    CHECKF(slow_finish(slow), "the slow stream on the draining replica did not complete");
    join_streams(jobs);
    int ok = 0, on_drained = 1;
    for (int i = 0; i < N_STREAMS; i++) {
        ok += same_as_solo(&jobs[i]);
        on_drained += jobs[i].replica == g_drained;
    }
    CHECKF(ok == N_STREAMS, "the drain lost %d streams", N_STREAMS - ok);
    for (int i = 0; i < N_STREAMS; i++)
        free(jobs[i].text);
    int rc = sc_server_stop(&g_rep[g_drained], 120);
    CHECKF(rc == 0, "the drained replica exited with %d", rc);
    printf("SIGTERM drain of replica %d: /health draining, %d new requests moved, all %d streams "
           "complete (%d on it), exit %d\n",
           g_drained, asked, N_STREAMS, on_drained, rc);
}

static void test_comeback(void) {
    int port = g_port[g_victim];
    CHECKF(start_replica(g_victim, port) && g_port[g_victim] == port,
           "the killed replica did not restart on port %d", port);
    /* nginx tries it again after fail_timeout (1 s): its bots come back to it */
    int bot = -1;
    for (int b = 0; b < N_BOTS; b++)
        if (g_home[b] == g_victim) bot = b;
    int rep = -1, status = 0;
    for (double until = sc_now() + 15; sc_now() < until && rep != g_victim; usleep(200000)) {
        char *text = ask(g_nginx_port, bot, &rep, &status);
        free(text);
    }
    CHECKF(rep == g_victim, "bot %d did not return to the restarted replica %d", bot, g_victim);
    bool all = true;
    for (int b = 0; b < N_BOTS; b++) {
        if (g_home[b] != g_victim) continue;
        char *text = ask(g_nginx_port, b, &rep, &status);
        all &= status == 200 && rep == g_victim && text && !strcmp(text, g_solo[b]);
        free(text);
    }
    CHECKF(all, "the restarted replica did not take all its bots back");
    printf("replica %d restarted on its port and serves its bots again\n", g_victim);
}

int main(void) {
    const char *src = getenv("BB_SRC");
    if (!getenv("BB_BIN") || !src) {
        printf("SKIP: fleet test (BB_BIN or BB_SRC not set)\n");
        return tu_finish("test_fleet");
    }
    if (!nginx_bin()) {
        printf("SKIP: fleet test (nginx is not installed; scripts/setup.sh installs it)\n");
        return tu_finish("test_fleet");
    }
    signal(SIGPIPE, SIG_IGN);
    double t0 = sc_now();
    snprintf(g_dir, sizeof g_dir, "/tmp/bb_test_fleet_XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL);
    snprintf(g_model, sizeof g_model, "%s/m.gguf", g_dir);
    bb_error err = {0};
    fixture_model_params fp = fixture_model_default();
    CHECKF(fixture_model_write(&fp, g_model, &err) == BB_OK, "fixture: %s", err.message);
    /* every stream runs its full length: end-of-generation tokens forbidden */
    snprintf(g_bias, sizeof g_bias, ", \"logit_bias\": {\"%d\": -100, \"%d\": -100}",
             (int)FIXTURE_EOS, (int)FIXTURE_IM_END);
    bool up = true;
    for (int i = 0; i < N_REPLICAS && up; i++)
        up = start_replica(i, 0);
    CHECKF(up, "the replicas did not start");
    for (int b = 0; up && b < N_BOTS; b++) {
        int status;
        g_solo[b] = ask(g_port[0], b, NULL, &status);
        up = g_solo[b] != NULL;
    }
    CHECKF(up, "solo runs failed");
    if (up && start_nginx(src)) {
        test_spread_and_affinity();
        test_kill();
        test_drain();
        test_comeback();
    } else if (up) {
        CHECKF(0, "nginx did not start (see %s/error.log)", g_dir);
    }
    if (g_nginx > 0) {
        kill(g_nginx, SIGQUIT);
        waitpid(g_nginx, NULL, 0);
    }
    for (int i = 0; i < N_REPLICAS; i++)
        if (g_rep[i].pid > 0) sc_server_stop(&g_rep[i], 30);
    for (int b = 0; b < N_BOTS; b++)
        free(g_solo[b]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (tu_failures == 0 && system(cmd) != 0) printf("could not remove %s\n", g_dir);
    printf("fleet test: %.1f s\n", sc_now() - t0);
    return tu_finish("test_fleet");
}
