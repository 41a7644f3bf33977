/* Functionary v3.2 tool calls: the reply is a run of ">>>RECIPIENT\n" sections (meetkai's
 * template; its generation prompt ends with the first ">>>"): recipient "all" is text for the
 * user, any other recipient is a function and the section its JSON arguments. */
#include <string.h>

#include "chat/tc_impl.h"

static const char *const markers[] = {">>>", NULL};

static tc_res step(tc_parser *p, bool eof) {
    size_t n = 0;
    tc_res r;
    switch (p->sub) {
    case 0:
        r = tc_until(p, "\n", eof, &n);
        if (r != TC_OK) return r;
        if (n == 0 || n > 256) return TC_NO;
        for (size_t i = 0; i < n; i++) {
            char c = tc_at(p)[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.'))
                return TC_NO;
        }
        if (n == 3 && !memcmp(tc_at(p), "all", 3)) { /* text: content again */
            p->pos += n + 1;
            return TC_OK;
        }
        tc_call_begin(p, tc_at(p), n);
        p->pos += n + 1;
        tc_skip_ws(p);
        memset(&p->sk, 0, sizeof p->sk);
        p->mark = p->pos - p->seg;
        p->sub = 1;
        /* fall through */
    default:
        while (p->pos < p->in.len) {
            if (!p->sk.started && (p->in.data[p->pos] == ' ' || p->in.data[p->pos] == '\n')) {
                p->pos++;
                p->mark = p->pos - p->seg;
                continue;
            }
            int s = tc_jskip_byte(&p->sk, p->in.data[p->pos]);
            if (s == TC_JS_BAD) return TC_NO;
            if (s == TC_JS_END_BEFORE) break;
            p->pos++;
            if (s == TC_JS_END_AFTER) break;
        }
        tc_call_args(p, p->in.data + p->seg + p->mark, p->pos - p->seg - p->mark);
        p->mark = p->pos - p->seg;
        if (!p->sk.started || p->sk.in_str || p->sk.depth ||
            (p->sk.scalar && p->pos == p->in.len && !eof))
            return eof ? TC_NO : TC_MORE;
        return TC_OK;
    }
}

const tc_family_ops tc_functionary_v32_ops = {markers, false, step};
