/* The tool-call and reasoning parser's driver: the reply is read as
 *   [reasoning] content (segment content)*
 * where reasoning is the text between the template's thinking markers at the start of the
 * reply (or from its start, when the prompt opened the block), and a segment is one run of
 * calls in the family's syntax, opened by one of its markers (tc_<family>.c parse them).
 * White space around calls and reasoning is not content, as OpenAI returns content null
 * beside tool calls. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "chat/tc_impl.h"
#include "common/error.h"

enum { M_START, M_THINK, M_CONTENT, M_SEG, M_AFTER };

static const tc_family_ops *ops_of(tc_family f) {
    switch (f) {
    case TC_HERMES:
        return &tc_hermes_ops;
    case TC_LLAMA3:
        return &tc_llama3_ops;
    case TC_MISTRAL:
        return &tc_mistral_ops;
    case TC_DEEPSEEK:
        return &tc_deepseek_ops;
    case TC_FUNCTIONARY:
        return &tc_functionary_ops;
    case TC_FUNCTIONARY_V32:
        return &tc_functionary_v32_ops;
    case TC_COMMAND_R:
        return &tc_command_r_ops;
    case TC_GENERIC:
        return &tc_generic_ops;
    default:
        return NULL;
    }
}

const char *tc_family_name(tc_family f) {
    static const char *const names[] = {"none",     "hermes",      "llama3",    "mistral",
                                        "deepseek", "functionary", "command_r", "generic"};
    return f >= TC_NONE && f <= TC_GENERIC ? names[f] : "?";
}

/* ---------------------------------------------------------------- deltas */

void tc_delta_reset(tc_delta *d) {
    bb_strbuf_release(&d->content);
    bb_strbuf_release(&d->reasoning);
    for (size_t i = 0; i < d->n_calls; i++) {
        free(d->calls[i].name);
        bb_strbuf_release(&d->calls[i].args);
    }
    free(d->calls);
    memset(d, 0, sizeof *d);
}

bool tc_delta_empty(const tc_delta *d) {
    return d->content.len == 0 && d->reasoning.len == 0 && d->n_calls == 0;
}

static tc_call_delta *delta_call(tc_parser *p, int32_t index, bool header) {
    tc_delta *d = p->out;
    if (!header && d->n_calls && d->calls[d->n_calls - 1].index == index)
        return &d->calls[d->n_calls - 1];
    if (d->n_calls == d->cap_calls) {
        size_t cap = d->cap_calls ? d->cap_calls * 2 : 4;
        tc_call_delta *c = realloc(d->calls, cap * sizeof *c);
        if (!c) {
            p->oom = true;
            return NULL;
        }
        d->calls = c;
        d->cap_calls = cap;
    }
    tc_call_delta *c = &d->calls[d->n_calls++];
    memset(c, 0, sizeof *c);
    c->index = index;
    c->header = header;
    return c;
}

/* ---------------------------------------------------------------- emission */

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Content, its trailing white space held back until more content follows. */
void tc_content(tc_parser *p, const char *s, size_t n) {
    size_t k = n;
    while (k && is_ws(s[k - 1]))
        k--;
    if (k) {
        bb_strbuf_append(&p->out->content, p->ws.data, p->ws.len);
        p->ws.len = 0;
        bb_strbuf_append(&p->out->content, s, k);
    }
    bb_strbuf_append(&p->ws, s + k, n - k);
}

static void reasoning(tc_parser *p, const char *s, size_t n) {
    if (!p->reasoning_started) { /* leading white space is not reasoning */
        while (n && is_ws(*s))
            s++, n--;
        if (!n) return;
        p->reasoning_started = true;
    }
    size_t k = n;
    while (k && is_ws(s[k - 1]))
        k--;
    if (k) {
        bb_strbuf_append(&p->out->reasoning, p->rws.data, p->rws.len);
        p->rws.len = 0;
        bb_strbuf_append(&p->out->reasoning, s, k);
    }
    bb_strbuf_append(&p->rws, s + k, n - k);
}

static void make_id(tc_parser *p, char *id, size_t size) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    /* Mistral's templates refuse ids that are not 9 alphanumerics. */
    bool mistral = p->cfg.family == TC_MISTRAL;
    size_t o = 0, n = mistral ? 9 : 24;
    if (!mistral) {
        memcpy(id, "call_", 5);
        o = 5;
    }
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        /* splitmix64 */
        uint64_t z = (p->rng += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        id[o++] = alnum[z % (sizeof alnum - 1)];
    }
    id[o] = 0;
}

void tc_call_begin(tc_parser *p, const char *name, size_t len) {
    p->in_call = true;
    p->args_any = false;
    p->ws.len = 0;
    /* Command R+'s "directly-answer" says that no tool is needed. */
    bool no_tool =
        p->cfg.family == TC_COMMAND_R && len == 15 && !memcmp(name, "directly-answer", 15);
    if (no_tool || (!p->cfg.parallel && p->n_calls >= 1)) {
        p->call_named = false; /* dropped */
        p->n_dropped++;
        return;
    }
    p->call_named = true;
    p->any_call = true;
    tc_call_delta *c = delta_call(p, p->n_calls, true);
    if (!c) return;
    make_id(p, c->id, sizeof c->id);
    c->name = malloc(len + 1);
    if (!c->name) {
        p->oom = true;
        return;
    }
    memcpy(c->name, name, len);
    c->name[len] = 0;
    p->n_calls++;
}

void tc_call_args(tc_parser *p, const char *s, size_t n) {
    if (!p->in_call || !p->call_named || !n) return;
    p->args_any = true;
    tc_call_delta *c = delta_call(p, p->n_calls - 1, false);
    if (c) bb_strbuf_append(&c->args, s, n);
}

void tc_call_end(tc_parser *p) {
    if (p->in_call && !p->args_any) tc_call_args(p, "{}", 2);
    p->in_call = false;
    p->call_named = false;
}

/* ---------------------------------------------------------------- primitives */

size_t tc_avail(const tc_parser *p) {
    return p->in.len - p->pos;
}

const char *tc_at(const tc_parser *p) {
    return p->in.data + p->pos;
}

void tc_skip_ws(tc_parser *p) {
    while (p->pos < p->in.len && is_ws(p->in.data[p->pos]))
        p->pos++;
}

tc_res tc_lit(tc_parser *p, const char *lit, bool eof) {
    size_t n = strlen(lit), a = tc_avail(p);
    if (a >= n) {
        if (memcmp(tc_at(p), lit, n)) return TC_NO;
        p->pos += n;
        return TC_OK;
    }
    if (memcmp(tc_at(p), lit, a)) return TC_NO;
    return eof ? TC_NO : TC_MORE;
}

tc_res tc_until(tc_parser *p, const char *stop, bool eof, size_t *len) {
    const char *hit = memmem(tc_at(p), tc_avail(p), stop, strlen(stop));
    if (!hit) return eof ? TC_NO : TC_MORE;
    *len = (size_t)(hit - tc_at(p));
    return TC_OK;
}

/* ---------------------------------------------------------------- the driver */

tc_parser *tc_parser_new(const tc_config *cfg) {
    tc_parser *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->cfg = *cfg;
    if (!p->cfg.think_open || !p->cfg.think_close) {
        p->cfg.think_open = p->cfg.think_close = NULL;
        p->cfg.think_open_in_prompt = false;
    }
    p->mode = p->cfg.think_open_in_prompt ? M_THINK : M_START;
    p->rng = cfg->id_seed;
    return p;
}

void tc_parser_free(tc_parser *p) {
    if (!p) return;
    bb_strbuf_release(&p->in);
    bb_strbuf_release(&p->ws);
    bb_strbuf_release(&p->rws);
    tc_obj_reset(&p->obj);
    free(p);
}

int32_t tc_parser_n_calls(const tc_parser *p) {
    return p->n_calls;
}

/* The length of the longest suffix of s that is a proper prefix of a marker. */
static size_t marker_hold(const char *s, size_t n, const char *const *markers) {
    size_t best = 0;
    for (const char *const *m = markers; m && *m; m++) {
        size_t ml = strlen(*m);
        for (size_t k = ml - 1 < n ? ml - 1 : n; k > best; k--)
            if (!memcmp(s + n - k, *m, k)) {
                best = k;
                break;
            }
    }
    return best;
}

static void enter_segment(tc_parser *p, size_t at, const char *marker) {
    p->mode = M_SEG;
    p->seg = at;
    p->pos = at + (marker ? strlen(marker) : 0);
    p->marker = marker;
    p->sub = 0;
    p->mark = 0;
}

/* Content mode: text up to the earliest marker, holding back what may begin one. */
static bool step_content(tc_parser *p, const tc_family_ops *ops, bool eof) {
    const char *s = tc_at(p);
    size_t n = tc_avail(p), first = n;
    const char *which = NULL;
    for (const char *const *m = ops ? ops->markers : NULL; m && *m; m++) {
        const char *hit = memmem(s, n, *m, strlen(*m));
        if (hit && (size_t)(hit - s) < first) {
            first = (size_t)(hit - s);
            which = *m;
        }
    }
    if (which) {
        tc_content(p, s, first);
        enter_segment(p, p->pos + first, which);
        return true;
    }
    size_t hold = eof ? 0 : marker_hold(s, n, ops ? ops->markers : NULL);
    tc_content(p, s, n - hold);
    p->pos += n - hold;
    return false;
}

static bool step_think(tc_parser *p, bool eof) {
    const char *close = p->cfg.think_close;
    const char *s = tc_at(p);
    size_t n = tc_avail(p);
    const char *hit = memmem(s, n, close, strlen(close));
    if (hit) {
        reasoning(p, s, (size_t)(hit - s));
        p->rws.len = 0;
        p->pos += (size_t)(hit - s) + strlen(close);
        p->mode = M_AFTER;
        return true;
    }
    const char *markers[] = {close, NULL};
    size_t hold = eof ? 0 : marker_hold(s, n, markers);
    reasoning(p, s, n - hold);
    p->pos += n - hold;
    return false;
}

/* The start of the reply (M_START) or of what follows the reasoning (M_AFTER): white space
 * is skipped; a thinking block may open (M_START only); families whose calls are bare JSON
 * look at the first byte. */
static bool step_start(tc_parser *p, const tc_family_ops *ops, bool eof) {
    tc_skip_ws(p);
    if (!tc_avail(p)) return false;
    if (p->mode == M_START && p->cfg.think_open) {
        tc_res r = tc_lit(p, p->cfg.think_open, eof);
        if (r == TC_MORE) return false;
        if (r == TC_OK) {
            p->mode = M_THINK;
            return true;
        }
    }
    if (ops && ops->json_at_start && *tc_at(p) == '{') {
        enter_segment(p, p->pos, NULL);
        return true;
    }
    p->mode = M_CONTENT;
    return true;
}

static bool step_segment(tc_parser *p, const tc_family_ops *ops, bool eof) {
    tc_res r = ops->step(p, eof);
    if (r == TC_MORE && !eof) return false;
    if (r == TC_MORE) r = TC_NO; /* the reply ended inside the segment */
    if (r == TC_OK) {
        if (p->in_call) tc_call_end(p);
        tc_obj_reset(&p->obj);
        p->mode = M_CONTENT;
        return true;
    }
    /* Not (or no longer) a call: what was read is content. */
    if (p->in_call) {
        tc_call_end(p);
    } else {
        size_t to = p->seg + (p->marker ? strlen(p->marker) : 1);
        tc_content(p, p->in.data + p->seg, to - p->seg);
        p->pos = to;
    }
    tc_obj_reset(&p->obj);
    p->mode = M_CONTENT;
    return true;
}

static bool run(tc_parser *p, bool eof, bb_error *err) {
    const tc_family_ops *ops = ops_of(p->cfg.family);
    for (;;) {
        bool progress = false;
        switch (p->mode) {
        case M_START:
        case M_AFTER:
            progress = step_start(p, ops, eof);
            break;
        case M_THINK:
            progress = step_think(p, eof);
            break;
        case M_CONTENT:
            progress = step_content(p, ops, eof);
            break;
        case M_SEG:
            progress = step_segment(p, ops, eof);
            break;
        }
        if (!progress) break;
    }
    /* Drop what is decided, keeping the current segment whole. */
    size_t base = p->mode == M_SEG ? p->seg : p->pos;
    if (base) {
        memmove(p->in.data, p->in.data + base, p->in.len - base);
        p->in.len -= base;
        p->in.data[p->in.len] = 0;
        p->pos -= base;
        p->seg -= base < p->seg ? base : p->seg;
    }
    if (p->oom || p->in.failed || p->ws.failed || p->rws.failed || p->out->content.failed ||
        p->out->reasoning.failed) {
        bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory parsing tool calls");
        return false;
    }
    if (p->mode == M_SEG && p->in.len > TC_MAX_CALL) {
        bb_fail(err, BB_ERR_INVALID_ARGUMENT, "a tool call is longer than %u bytes", TC_MAX_CALL);
        return false;
    }
    return true;
}

bool tc_parser_feed(tc_parser *p, const char *text, size_t len, tc_delta *out, bb_error *err) {
    p->out = out;
    bb_strbuf_append(&p->in, text, len);
    return run(p, false, err);
}

bool tc_parser_finish(tc_parser *p, tc_delta *out, bb_error *err) {
    p->out = out;
    bool ok = run(p, true, err);
    if (p->in_call) tc_call_end(p);
    /* Trailing white space is content only in a reply without calls. */
    if (!p->any_call) bb_strbuf_append(&out->content, p->ws.data, p->ws.len);
    p->ws.len = 0;
    return ok && !out->content.failed;
}

bool tc_delta_merge(tc_delta *into, const tc_delta *d) {
    bb_strbuf_append(&into->content, d->content.data, d->content.len);
    bb_strbuf_append(&into->reasoning, d->reasoning.data, d->reasoning.len);
    for (size_t i = 0; i < d->n_calls; i++) {
        const tc_call_delta *c = &d->calls[i];
        tc_call_delta *t = NULL;
        for (size_t k = 0; k < into->n_calls && !c->header; k++)
            if (into->calls[k].index == c->index) t = &into->calls[k];
        if (!t) {
            if (into->n_calls == into->cap_calls) {
                size_t cap = into->cap_calls ? into->cap_calls * 2 : 4;
                tc_call_delta *m = realloc(into->calls, cap * sizeof *m);
                if (!m) return false;
                into->calls = m;
                into->cap_calls = cap;
            }
            t = &into->calls[into->n_calls++];
            memset(t, 0, sizeof *t);
            t->index = c->index;
            t->header = c->header;
            memcpy(t->id, c->id, sizeof t->id);
            if (c->name && !(t->name = strdup(c->name))) return false;
        }
        bb_strbuf_append(&t->args, c->args.data, c->args.len);
        if (t->args.failed) return false;
    }
    return !into->content.failed && !into->reasoning.failed;
}
