/* Mistral tool calls: [TOOL_CALLS] then a JSON array of call objects
 * [{"name": ..., "arguments": {...}, "id": ...}] (Mistral 7B v0.3, Nemo, Small; the
 * template's own rendering of past calls). The model's ids are replaced by ours. */
#include "chat/tc_impl.h"

static const char *const markers[] = {"[TOOL_CALLS]", NULL};

enum { S_OPEN, S_ELEM, S_OBJ, S_NEXT };

static tc_res step(tc_parser *p, bool eof) {
    tc_res r;
    for (;;) {
        switch (p->sub) {
        case S_OPEN:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_NO : TC_MORE;
            if (*tc_at(p) == '{') { /* a single object without the array */
                p->mark = 1;
                p->sub = S_ELEM;
                continue;
            }
            if (*tc_at(p) != '[') return TC_NO;
            p->pos++;
            p->sub = S_ELEM;
            continue;
        case S_ELEM:
            tc_obj_reset(&p->obj);
            p->sub = S_OBJ;
            /* fall through */
        case S_OBJ:
            r = tc_obj_step(p, &p->obj, eof);
            if (r != TC_OK) return r;
            if (!tc_obj_finish(p, &p->obj, false)) return TC_NO;
            if (p->mark == 1) return TC_OK;
            p->sub = S_NEXT;
            /* fall through */
        default:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_OK : TC_MORE;
            if (*tc_at(p) == ']') {
                p->pos++;
                return TC_OK;
            }
            if (*tc_at(p) != ',') return TC_OK;
            p->pos++;
            p->seg = p->pos; /* if the next element fails, only it is content */
            p->marker = NULL;
            p->sub = S_ELEM;
        }
    }
}

const tc_family_ops tc_mistral_ops = {markers, false, step};
