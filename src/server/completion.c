/* POST /v1/chat/completions and /v1/completions: validate, build the prompt (chat template,
 * tokenizer), hand the request to the engine, then stream its output as Server-Sent Events or
 * answer once it is complete. A client that hangs up cancels its request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/chat_tools.h"
#include "server/oai_response.h"
#include "server/prompt.h"
#include "server/server_internal.h"
#include "server/structured.h"

#define STREAM_BLOCK (16 * 1024)

/* ---------------------------------------------------------------- prompts */

/* `prompt`: a string, a list with one string, or a list of token ids. */
static bool text_prompt(server *s, const oai_request *req, bb_token **ids, size_t *n,
                        oai_error *e) {
    const bb_vocab *vocab = bb_model_vocab(s->model.model);
    const cJSON *p = req->prompt;
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 && cJSON_IsString(p->child)) p = p->child;
    if (cJSON_IsString(p)) {
        bb_error err = {0};
        if (prompt_tokenize(vocab, p->valuestring, ids, n, &err) == BB_OK) return true;
        return oai_fail(e, 400, "prompt", "cannot tokenize the prompt: %s", err.message);
    }
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) > 0 &&
        oai_token_ids(p, bb_vocab_n_tokens(vocab), ids, n))
        return true;
    return oai_fail(e, 400, "prompt",
                    "'prompt' must be a string, a list of one string, or a list of token ids from "
                    "0 to %d (one prompt per request)",
                    bb_vocab_n_tokens(vocab) - 1);
}

/* ---------------------------------------------------------------- submission */

static uint64_t random_seed(void) {
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* splitmix64 of the time and a counter: distinct per request, unpredictable enough for
     * sampling (not for secrets). */
    uint64_t z = ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
                 (atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* grammar: what the output must follow -- the request's response_format / grammar
 * (structured.c), else a call forced by tool_choice (chat_tools.h), else NULL. */
static bool submit(server *s, const oai_request *req, const bb_token *ids, size_t n,
                   bool special_text, bb_grammar *grammar, engine_request **out, oai_error *e) {
    const char *param = req->chat ? "messages" : "prompt";
    if (n == 0) return oai_fail(e, 400, param, "the prompt is empty");
    if (n >= (size_t)s->model.n_seq_ctx) {
        oai_fail(e, 400, param,
                 "the prompt has %zu tokens but the context holds %d (prompt and completion "
                 "together)",
                 n, s->model.n_seq_ctx);
        e->code = "context_length_exceeded";
        return false;
    }
    engine_gen_params gp = {0};
    gp.sampling = req->sampling;
    if (!req->has_seed) gp.sampling.seed = random_seed();
    gp.n_choices = req->n;
    gp.max_tokens = req->max_tokens < 0 ? INT32_MAX / 2 : (int32_t)req->max_tokens;
    gp.stop = req->stop;
    gp.n_stop = req->n_stop;
    gp.logprobs = req->logprobs;
    gp.top_logprobs = req->top_logprobs;
    gp.special_text = special_text;
    if (req->grammar || grammar) {
        gp.grammar = req->grammar ? req->grammar : grammar;
        gp.grammar_vocab = server_grammar_vocab(s, e);
        if (!gp.grammar_vocab) return false;
    }
    bb_error err = {0};
    bb_status st = engine_request_new(s->model.engine, &gp, ids, n, out, &err);
    if (st == BB_OK) st = engine_submit(s->model.engine, *out, &err);
    if (st == BB_OK) return true;
    engine_request_unref(*out);
    *out = NULL;
    if (st == BB_ERR_NO_SPACE) {
        oai_fail(e, 503, NULL, "the server is busy (%s); retry later", err.message);
        e->code = "server_overloaded";
    } else if (st == BB_ERR_CANCELLED) {
        oai_fail(e, 503, NULL, "%s", err.message);
    } else {
        oai_fail(e, st == BB_ERR_INVALID_ARGUMENT ? 400 : 500, param, "%s", err.message);
    }
    return false;
}

/* ---------------------------------------------------------------- streaming */

typedef struct stream {
    server *s;
    engine_request *req;
    oai_ctx ctx;
    int fd;
    conn_rec *conn;
    int32_t n_choices;
    bool include_usage;
    bb_strbuf out;
    size_t off;
    bool started, ended;
    tc_parser **parsers; /* per choice, with tools or reasoning (chat_tools.h); else NULL */
    tc_delta *first;     /* per choice: what the prefill decided */
} stream;

static void sse_event(stream *st, char *json) {
    if (!json) {
        st->out.failed = true;
        return;
    }
    bb_strbuf_printf(&st->out, "data: %s\n\n", json);
    free(json);
}

/* An error after the stream began: OpenAI sends it as an event carrying {"error": ...}. */
static void sse_error(stream *st, engine_finish f) {
    oai_error e;
    const char *msg = engine_request_error(st->req);
    if (f == ENGINE_FINISH_CANCELLED)
        oai_fail(&e, 503, NULL, "the server is shutting down");
    else
        oai_fail(&e, 500, NULL, "generation failed: %s", msg ? msg : "internal error");
    sse_event(st, oai_error_json(&e));
    st->ended = true;
}

/* A parse failure after the stream began (a call past TC_MAX_CALL, no memory). */
static void sse_parse_error(stream *st, const bb_error *err) {
    oai_error e;
    oai_fail(&e, 500, NULL, "cannot parse the reply: %s", err->message);
    sse_event(st, oai_error_json(&e));
    st->ended = true;
}

/* One engine delta of a parsed choice: what it decides, and the finish. */
static bool stream_parsed(stream *st, int32_t i, const engine_delta *d, engine_finish finish) {
    tc_parser *p = st->parsers[i];
    tc_delta td = {0};
    bb_error err = {0};
    bool ok = tc_parser_feed(p, d->text ? d->text : "", d->len, &td, &err);
    if (ok && (!tc_delta_empty(&td) || d->n_tokens))
        sse_event(st, oai_chunk_parsed(&st->ctx, i, &td, d->tokens, d->n_tokens, NULL));
    tc_delta_reset(&td);
    if (ok && finish) {
        ok = tc_parser_finish(p, &td, &err);
        if (ok && !tc_delta_empty(&td))
            sse_event(st, oai_chunk_parsed(&st->ctx, i, &td, NULL, 0, NULL));
        tc_delta_reset(&td);
        if (ok)
            sse_event(st, oai_chunk_parsed(&st->ctx, i, NULL, NULL, 0,
                                           oai_finish_with_calls(finish, tc_parser_n_calls(p))));
    }
    if (!ok) sse_parse_error(st, &err);
    return ok;
}

/* Appends events for whatever the engine produced since the last call. */
static void stream_fill(stream *st) {
    if (!st->started) {
        for (int32_t i = 0; st->ctx.chat && i < st->n_choices; i++) {
            sse_event(st, oai_chunk_role(&st->ctx, i));
            if (st->first && !tc_delta_empty(&st->first[i]))
                sse_event(st, oai_chunk_parsed(&st->ctx, i, &st->first[i], NULL, 0, NULL));
        }
        st->started = true;
    }
    bool done = engine_request_done(st->req); /* before taking: nothing comes after */
    for (int32_t i = 0; i < st->n_choices && !st->ended; i++) {
        engine_delta d;
        while (engine_request_take(st->req, i, &d)) {
            if (d.finish == ENGINE_FINISH_ERROR || d.finish == ENGINE_FINISH_CANCELLED) {
                sse_error(st, d.finish);
                engine_delta_free(&d);
                return;
            }
            if (st->parsers) {
                bool ok = stream_parsed(st, i, &d, d.finish);
                engine_delta_free(&d);
                if (!ok) return;
                continue;
            }
            /* As OpenAI does: the finish reason comes in a chunk of its own, delta empty. */
            engine_finish finish = d.finish;
            d.finish = ENGINE_FINISH_NONE;
            if (d.len || d.n_tokens) sse_event(st, oai_chunk_delta(&st->ctx, i, &d));
            engine_delta_free(&d);
            if (finish) {
                d.finish = finish;
                sse_event(st, oai_chunk_delta(&st->ctx, i, &d));
            }
        }
    }
    if (!done) return;
    if (st->include_usage) {
        int32_t pt, ct;
        engine_request_usage(st->req, &pt, &ct);
        st->ctx.cached_tokens = engine_request_cached_tokens(st->req);
        sse_event(st, oai_chunk_usage(&st->ctx, pt, ct));
    }
    bb_strbuf_printf(&st->out, "data: [DONE]\n\n");
    st->ended = true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    stream *st = cls;
    conn_arm(st->s, st->conn, false);
    while (st->off == st->out.len) {
        if (st->ended || st->out.failed)
            return st->ended && !st->out.failed ? MHD_CONTENT_READER_END_OF_STREAM
                                                : MHD_CONTENT_READER_END_WITH_ERROR;
        st->out.len = st->off = 0;
        stream_fill(st);
        if (st->out.len) break;
        if (engine_request_wait(st->req, st->fd, 1000) < 0) {
            engine_request_cancel(st->req); /* the client hung up */
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = st->out.len - st->off < max ? st->out.len - st->off : max;
    memcpy(buf, st->out.data + st->off, n);
    st->off += n;
    /* The client must take this piece within the timeout. */
    conn_arm(st->s, st->conn, true);
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    stream *st = cls;
    engine_request_cancel(st->req); /* no effect when it is done */
    engine_request_unref(st->req);
    bb_strbuf_release(&st->out);
    chat_parsers_free(st->parsers, st->n_choices);
    for (int32_t i = 0; st->first && i < st->n_choices; i++)
        tc_delta_reset(&st->first[i]);
    free(st->first);
    free(st);
}

static int conn_fd(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

static enum MHD_Result start_stream(server *s, struct MHD_Connection *c, http_req *r,
                                    engine_request *er, const oai_ctx *ctx, bool include_usage,
                                    const chat_plan *plan) {
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        engine_request_cancel(er);
        engine_request_unref(er);
        return MHD_NO;
    }
    st->s = s;
    st->req = er;
    st->ctx = *ctx;
    st->fd = conn_fd(c);
    st->conn = r->conn;
    st->n_choices = engine_request_n_choices(er);
    st->include_usage = include_usage;
    if (plan->parse) {
        st->first = calloc((size_t)st->n_choices, sizeof *st->first);
        st->parsers = st->first ? chat_parsers_new(plan, st->n_choices, st->first) : NULL;
        if (!st->parsers) {
            stream_free(st);
            return MHD_NO;
        }
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                                  stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    return send_counted(s, c, 200, resp);
}

/* ---------------------------------------------------------------- whole responses */

typedef struct collected {
    bb_strbuf text;
    engine_token_info *tokens;
    size_t n_tokens;
    engine_finish finish;
} collected;

static bool collect_choice(engine_request *er, int32_t i, collected *out) {
    engine_delta d;
    while (engine_request_take(er, i, &d)) {
        bb_strbuf_append(&out->text, d.text ? d.text : "", d.len);
        if (d.n_tokens) {
            engine_token_info *t = realloc(out->tokens, (out->n_tokens + d.n_tokens) * sizeof *t);
            if (!t) {
                engine_delta_free(&d);
                return false;
            }
            memcpy(t + out->n_tokens, d.tokens, d.n_tokens * sizeof *t);
            out->tokens = t;
            out->n_tokens += d.n_tokens;
        }
        if (d.finish) out->finish = d.finish;
        engine_delta_free(&d);
    }
    return !out->text.failed;
}

/* The whole reply through the same parser as a stream's pieces. */
static bool parse_whole(tc_parser *p, const collected *col, tc_delta *msg) {
    tc_delta d = {0};
    bb_error err = {0};
    bool ok = tc_parser_feed(p, col->text.data ? col->text.data : "", col->text.len, &d, &err) &&
              tc_delta_merge(msg, &d);
    tc_delta_reset(&d);
    ok = ok && tc_parser_finish(p, &d, &err) && tc_delta_merge(msg, &d);
    tc_delta_reset(&d);
    return ok;
}

static enum MHD_Result respond_whole(server *s, struct MHD_Connection *c, engine_request *er,
                                     const oai_ctx *ctx, const chat_plan *plan) {
    int fd = conn_fd(c);
    while (!engine_request_done(er))
        if (engine_request_wait(er, fd, 1000) < 0) {
            engine_request_cancel(er); /* the client hung up */
            engine_request_unref(er);
            return MHD_NO;
        }
    int32_t n = engine_request_n_choices(er);
    collected *col = calloc((size_t)n, sizeof *col);
    oai_choice *choices = calloc((size_t)n, sizeof *choices);
    bool ok = col && choices;
    tc_delta *msgs = plan->parse ? calloc((size_t)n, sizeof *msgs) : NULL;
    tc_parser **parsers = msgs ? chat_parsers_new(plan, n, msgs) : NULL;
    if (plan->parse && !parsers) ok = false;
    engine_finish bad = ENGINE_FINISH_NONE;
    for (int32_t i = 0; ok && i < n; i++) {
        ok = collect_choice(er, i, &col[i]);
        if (col[i].finish == ENGINE_FINISH_ERROR || col[i].finish == ENGINE_FINISH_CANCELLED)
            bad = col[i].finish;
        choices[i] = (oai_choice){.text = col[i].text.data,
                                  .len = col[i].text.len,
                                  .tokens = col[i].tokens,
                                  .n_tokens = col[i].n_tokens,
                                  .finish = col[i].finish};
        if (ok && parsers) {
            ok = parse_whole(parsers[i], &col[i], &msgs[i]);
            choices[i].message = &msgs[i];
        }
    }
    enum MHD_Result ret = MHD_NO;
    if (ok && bad) {
        oai_error e;
        const char *msg = engine_request_error(er);
        if (bad == ENGINE_FINISH_CANCELLED)
            oai_fail(&e, 503, NULL, "the server is shutting down");
        else
            oai_fail(&e, 500, NULL, "generation failed: %s", msg ? msg : "internal error");
        ret = send_error(s, c, &e);
    } else if (ok) {
        int32_t pt, ct;
        engine_request_usage(er, &pt, &ct);
        oai_ctx done = *ctx;
        done.cached_tokens = engine_request_cached_tokens(er);
        ret = send_json(s, c, 200, oai_response_json(&done, choices, n, pt, ct));
    }
    for (int32_t i = 0; col && i < n; i++) {
        bb_strbuf_release(&col[i].text);
        free(col[i].tokens);
    }
    free(col);
    free(choices);
    chat_parsers_free(parsers, n);
    for (int32_t i = 0; msgs && i < n; i++)
        tc_delta_reset(&msgs[i]);
    free(msgs);
    engine_request_unref(er);
    return ret;
}

/* ---------------------------------------------------------------- the endpoint */

enum MHD_Result route_completion(server *s, struct MHD_Connection *c, http_req *r, bool chat) {
    oai_error e;
    if (atomic_load(&s->stopping) || !atomic_load(&s->ready)) {
        oai_fail(&e, 503, NULL, "%s",
                 atomic_load(&s->stopping) ? "the server is shutting down"
                                           : "the model is loading");
        return send_error(s, c, &e);
    }
    const bb_vocab *vocab = bb_model_vocab(s->model.model);
    oai_limits lim = {.max_n = s->p.max_n, .n_vocab = bb_vocab_n_tokens(vocab)};
    cJSON *root = NULL;
    oai_request req;
    memset(&req, 0, sizeof req);
    bb_token *ids = NULL;
    size_t n = 0;
    engine_request *er = NULL;
    chat_plan plan = {0};
    bool ok = request_json(r, &root, &e), bot = false;
    if (ok && chat && s->model.bots) { /* a bot's id as model: its messages and settings */
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "model");
        snprintf(r->model_name, sizeof r->model_name, "%s",
                 cJSON_IsString(m) ? m->valuestring : "");
        int applied = bots_apply(s->model.bots, root, &e);
        ok = applied >= 0;
        bot = applied > 0;
    }
    ok = ok && oai_parse_request(root, chat, &lim, &req, &e);
    if (ok && req.model && strcmp(req.model, s->model.model_id)) {
        ok = oai_fail(&e, 404, "model", "the model '%.200s' does not exist (this server has '%s')",
                      req.model, s->model.model_id);
        e.code = "model_not_found";
    }
    if (ok && chat) {
        ok = chat_plan_build(s->model.model, &req, &plan, &e);
        /* A forced tool call is written from the prompt on; a JSON answer could not follow. */
        if (ok && plan.grammar && req.grammar)
            ok = oai_fail(&e, 400,
                          cJSON_GetObjectItemCaseSensitive(root, "grammar") ? "grammar"
                                                                            : "response_format",
                          "a forced tool call ('tool_choice' required or named) and a structured "
                          "'response_format' or 'grammar' exclude each other");
        if (ok) ok = submit(s, &req, plan.ids, plan.n, plan.special_text, plan.grammar, &er, &e);
    } else if (ok) {
        ok = text_prompt(s, &req, &ids, &n, &e) && submit(s, &req, ids, n, false, NULL, &er, &e);
    }
    if (ok) auth_track(s->auth, r->key_id, er);
    bb_free(ids);
    bool stream_it = req.stream, include_usage = req.include_usage;
    oai_ctx ctx;
    /* a bot answers under its own name (r outlives the response, streamed or not) */
    oai_ctx_init(&ctx, chat, bot ? r->model_name : s->model.model_id, vocab);
    ctx.logprobs = req.logprobs;
    ctx.usage_in_chunks = include_usage;
    oai_request_free(&req);
    cJSON_Delete(root);
    enum MHD_Result ret = !ok         ? send_error(s, c, &e)
                          : stream_it ? start_stream(s, c, r, er, &ctx, include_usage, &plan)
                                      : respond_whole(s, c, er, &ctx, &plan);
    chat_plan_free(&plan);
    return ret;
}

/* ---------------------------------------------------------------- for other endpoints */

bool completion_prompt(server *s, const oai_request *req, bb_token **ids, size_t *n, oai_error *e) {
    chat_plan plan = {0};
    bool ok = chat_plan_build(s->model.model, req, &plan, e);
    *ids = ok ? plan.ids : NULL;
    *n = ok ? plan.n : 0;
    if (ok) plan.ids = NULL;
    chat_plan_free(&plan);
    return ok;
}

bool completion_submit(server *s, const oai_request *req, const bb_token *ids, size_t n,
                       engine_request **out, oai_error *e) {
    return submit(s, req, ids, n, false, NULL, out, e);
}

int completion_conn_fd(struct MHD_Connection *c) {
    return conn_fd(c);
}
