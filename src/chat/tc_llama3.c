/* Llama 3.1-3.3 tool calls (Meta's prompt format docs and templates): the whole reply is a
 * JSON object {"name": ..., "parameters": {...}} ("arguments" accepted too), or such an
 * object follows <|python_tag|>; several calls are separated by ';'. A reply that is JSON
 * but not of that shape is content. */
#include "chat/tc_impl.h"

static const char *const markers[] = {"<|python_tag|>", NULL};

static tc_res step(tc_parser *p, bool eof) {
    tc_res r;
    for (;;) {
        switch (p->sub) {
        case 0:
            p->obj.strict = true;
            tc_obj_reset(&p->obj);
            p->sub = 1;
            /* fall through */
        case 1:
            r = tc_obj_step(p, &p->obj, eof);
            if (r != TC_OK) return r;
            if (!tc_obj_finish(p, &p->obj, true)) return TC_NO;
            p->sub = 2;
            /* fall through */
        default:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_OK : TC_MORE;
            if (*tc_at(p) == ';') {
                p->pos++;
                continue;
            }
            /* A next call is a segment of its own: if it fails, only it is content. */
            p->seg = p->pos;
            p->marker = NULL;
            r = tc_lit(p, "<|python_tag|>", eof);
            if (r == TC_MORE) return r;
            if (r == TC_OK || *tc_at(p) == '{') {
                p->sub = 0;
                continue;
            }
            return TC_OK;
        }
    }
}

const tc_family_ops tc_llama3_ops = {markers, true, step};
