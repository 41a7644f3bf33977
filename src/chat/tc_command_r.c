/* Cohere Command-R tool calls: a JSON list of {"tool_name": ..., "parameters": {...}}, after
 * "Action:" in a ```json block (Command R+, its tool_use template), or between <|START_ACTION|>
 * and <|END_ACTION|> (Command R7B, whose entries also carry "tool_call_id"). R+'s
 * "directly-answer" pseudo-tool means no call and is dropped. R7B wraps its answer in
 * <|START_RESPONSE|> ... <|END_RESPONSE|>, which are not content. */
#include <string.h>

#include "chat/tc_impl.h"

static const char *const markers[] = {"<|START_ACTION|>", "Action:", "<|START_RESPONSE|>",
                                      "<|END_RESPONSE|>", NULL};

enum { S_FENCE, S_OPEN, S_ELEM, S_OBJ, S_NEXT, S_CLOSE };

static tc_res step(tc_parser *p, bool eof) {
    tc_res r;
    if (p->sub == S_FENCE && p->marker && strstr(p->marker, "RESPONSE")) return TC_OK;
    for (;;) {
        switch (p->sub) {
        case S_FENCE:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_NO : TC_MORE;
            r = tc_lit(p, "```json", eof);
            if (r == TC_MORE) return r;
            if (r == TC_NO && tc_lit(p, "```", eof) == TC_MORE) return TC_MORE;
            p->sub = S_OPEN;
            /* fall through */
        case S_OPEN:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_NO : TC_MORE;
            if (*tc_at(p) != '[') return TC_NO;
            p->pos++;
            p->sub = S_ELEM;
            /* fall through */
        case S_ELEM:
            tc_obj_reset(&p->obj);
            p->sub = S_OBJ;
            /* fall through */
        case S_OBJ:
            r = tc_obj_step(p, &p->obj, eof);
            if (r != TC_OK) return r;
            if (!tc_obj_finish(p, &p->obj, false)) return TC_NO;
            p->sub = S_NEXT;
            /* fall through */
        case S_NEXT:
            tc_skip_ws(p);
            if (!tc_avail(p)) return eof ? TC_OK : TC_MORE;
            if (*tc_at(p) == ',') {
                p->pos++;
                p->seg = p->pos; /* if the next element fails, only it is content */
                p->marker = NULL;
                p->sub = S_ELEM;
                continue;
            }
            if (*tc_at(p) != ']') return TC_OK;
            p->pos++;
            p->sub = S_CLOSE;
            /* fall through */
        default:
            tc_skip_ws(p);
            r = tc_lit(p, "```", eof);
            if (r == TC_MORE) return r;
            tc_skip_ws(p);
            r = tc_lit(p, "<|END_ACTION|>", eof);
            return r == TC_MORE ? TC_MORE : TC_OK;
        }
    }
}

const tc_family_ops tc_command_r_ops = {markers, false, step};
