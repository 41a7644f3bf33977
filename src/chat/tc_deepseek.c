/* DeepSeek R1 / V3 tool calls, in the special tokens of their templates:
 *   <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME
 *   ```json
 *   {arguments}
 *   ```<｜tool▁call▁end｜> ... <｜tool▁calls▁end｜>
 * The outer begin marker is optional (distills sometimes omit it), and so is the fence. */
#include <string.h>

#include "chat/tc_impl.h"

#define CALLS_BEGIN "<｜tool▁calls▁begin｜>"
#define CALLS_END "<｜tool▁calls▁end｜>"
#define CALL_BEGIN "<｜tool▁call▁begin｜>"
#define CALL_END "<｜tool▁call▁end｜>"
#define SEP "<｜tool▁sep｜>"

static const char *const markers[] = {CALLS_BEGIN, CALL_BEGIN, NULL};

enum { S_CALL, S_TYPE, S_NAME, S_FENCE, S_ARGS0, S_ARGS, S_CLOSE, S_NEXT };

static tc_res step(tc_parser *p, bool eof) {
    tc_res r;
    size_t n = 0;
    if (p->sub == S_CALL && p->marker && !strcmp(p->marker, CALL_BEGIN)) p->sub = S_TYPE;
    for (;;) {
        switch (p->sub) {
        case S_CALL:
            tc_skip_ws(p);
            r = tc_lit(p, CALL_BEGIN, eof);
            if (r != TC_OK) return r;
            p->sub = S_TYPE;
            /* fall through */
        case S_TYPE:
            r = tc_until(p, SEP, eof, &n);
            if (r != TC_OK) return r;
            if (n > 32) return TC_NO;
            p->pos += n + strlen(SEP);
            p->sub = S_NAME;
            /* fall through */
        case S_NAME:
            r = tc_until(p, "\n", eof, &n);
            if (r != TC_OK) return r;
            while (n && (tc_at(p)[n - 1] == ' ' || tc_at(p)[n - 1] == '\r'))
                n--;
            if (n == 0 || n > 256) return TC_NO;
            tc_call_begin(p, tc_at(p), n);
            p->pos += n;
            p->sub = S_FENCE;
            /* fall through */
        case S_FENCE:
            tc_skip_ws(p);
            if (tc_avail(p) < 7 && !eof) {
                if (!memcmp(tc_at(p), "```json", tc_avail(p))) return TC_MORE;
            }
            if (tc_lit(p, "```json", eof) != TC_OK) (void)tc_lit(p, "```", eof);
            p->sub = S_ARGS0;
            /* fall through */
        case S_ARGS0:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_NO : TC_MORE;
            memset(&p->sk, 0, sizeof p->sk);
            p->mark = p->pos - p->seg;
            p->sub = S_ARGS;
            /* fall through */
        case S_ARGS:
            while (p->pos < p->in.len) {
                int s = tc_jskip_byte(&p->sk, p->in.data[p->pos]);
                if (s == TC_JS_BAD) return TC_NO;
                if (s == TC_JS_END_BEFORE) break;
                p->pos++;
                if (s == TC_JS_END_AFTER) break;
            }
            tc_call_args(p, p->in.data + p->seg + p->mark, p->pos - p->seg - p->mark);
            p->mark = p->pos - p->seg;
            if (p->sk.in_str || p->sk.depth || (p->sk.scalar && p->pos == p->in.len && !eof))
                return eof ? TC_NO : TC_MORE;
            tc_call_end(p);
            p->sub = S_CLOSE;
            /* fall through */
        case S_CLOSE:
            tc_skip_ws(p);
            if (tc_avail(p) < 3 && !eof && !memcmp(tc_at(p), "```", tc_avail(p))) return TC_MORE;
            (void)tc_lit(p, "```", eof);
            tc_skip_ws(p);
            r = tc_lit(p, CALL_END, eof);
            if (r == TC_MORE) return r;
            p->sub = S_NEXT;
            /* fall through */
        default:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_OK : TC_MORE;
            r = tc_lit(p, CALLS_END, eof);
            if (r != TC_NO) return r;
            r = tc_lit(p, CALL_BEGIN, eof);
            if (r == TC_MORE) return r;
            if (r == TC_NO) return TC_OK;
            p->seg = p->pos - strlen(CALL_BEGIN);
            p->marker = CALL_BEGIN;
            p->sub = S_TYPE;
        }
    }
}

const tc_family_ops tc_deepseek_ops = {markers, false, step};
