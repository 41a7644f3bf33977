/* Functionary v3.1 tool calls: <function=NAME>{arguments}</function>, one after another
 * (meetkai's template, after Llama 3.1's custom tool format). */
#include <string.h>

#include "chat/tc_impl.h"

static const char *const markers[] = {"<function=", NULL};

static tc_res step(tc_parser *p, bool eof) {
    tc_res r;
    size_t n = 0;
    switch (p->sub) {
    case 0:
        r = tc_until(p, ">", eof, &n);
        if (r != TC_OK) return r;
        if (n == 0 || n > 256 || memchr(tc_at(p), '\n', n)) return TC_NO;
        tc_call_begin(p, tc_at(p), n);
        p->pos += n + 1;
        p->sub = 1;
        memset(&p->sk, 0, sizeof p->sk);
        /* fall through */
    case 1:
        tc_skip_ws(p);
        p->mark = p->pos - p->seg;
        p->sub = 2;
        /* fall through */
    case 2:
        while (p->pos < p->in.len) {
            int s = tc_jskip_byte(&p->sk, p->in.data[p->pos]);
            if (s == TC_JS_BAD) return TC_NO;
            if (s == TC_JS_END_BEFORE) break;
            p->pos++;
            if (s == TC_JS_END_AFTER) break;
        }
        tc_call_args(p, p->in.data + p->seg + p->mark, p->pos - p->seg - p->mark);
        p->mark = p->pos - p->seg;
        if (p->sk.in_str || p->sk.depth || !p->sk.started ||
            (p->sk.scalar && p->pos == p->in.len && !eof))
            return eof ? TC_NO : TC_MORE;
        tc_call_end(p);
        p->sub = 3;
        /* fall through */
    default:
        tc_skip_ws(p);
        r = tc_lit(p, "</function>", eof);
        return r == TC_MORE ? TC_MORE : TC_OK;
    }
}

const tc_family_ops tc_functionary_ops = {markers, false, step};
