/* Hermes 2 Pro / Qwen2.5 / Qwen3 tool calls: each call is a JSON object between
 * <tool_call> and </tool_call> (the format their templates describe to the model:
 * {"name": <function-name>, "arguments": <args-json-object>}). The closing tag may be missing
 * at the end of the reply. */
#include "chat/tc_impl.h"

static const char *const markers[] = {"<tool_call>", NULL};

static tc_res step(tc_parser *p, bool eof) {
    tc_res r;
    switch (p->sub) {
    case 0:
        tc_obj_reset(&p->obj);
        p->sub = 1;
        /* fall through */
    case 1:
        r = tc_obj_step(p, &p->obj, eof);
        if (r != TC_OK) return r;
        if (!tc_obj_finish(p, &p->obj, false)) return TC_NO;
        p->sub = 2;
        /* fall through */
    default:
        tc_skip_ws(p);
        if (!tc_avail(p) && !eof) return TC_MORE;
        r = tc_lit(p, "</tool_call>", eof);
        return r == TC_MORE ? TC_MORE : TC_OK; /* anything else is content again */
    }
}

const tc_family_ops tc_hermes_ops = {markers, false, step};
