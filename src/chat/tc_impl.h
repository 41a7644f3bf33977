/* The tool-call parser's insides, shared by the driver (toolcall.c) and the family files
 * (tc_<family>.c). A family parses one call segment (from its opening marker on) out of
 * p->in with the primitives below, resuming where the last piece of text ended. */
#ifndef BB_CHAT_TC_IMPL_H
#define BB_CHAT_TC_IMPL_H

#include "chat/toolcall.h"

/* Results of a step: TC_MORE needs more text; TC_OK matched / the segment is complete;
 * TC_NO did not match / the segment is not a call. */
typedef enum { TC_MORE, TC_OK, TC_NO } tc_res;

/* A resumable skipper over one JSON value (RFC 8259 structure: strings with escapes,
 * nesting; scalars end at the first byte that cannot continue them). */
typedef struct tc_jskip {
    bool started, in_str, esc, scalar;
    int depth;
    char stack[64];
} tc_jskip;

enum { TC_JS_MORE, TC_JS_END_AFTER, TC_JS_END_BEFORE, TC_JS_BAD };
int tc_jskip_byte(tc_jskip *s, char c);

/* A call object {"name": N, "arguments"|"parameters": V, ...} read byte by byte; the name is
 * reported as soon as it is complete and the arguments stream from then on. */
typedef struct tc_obj {
    int phase;
    char key[16];
    size_t key_len;
    bool key_esc, key_long;
    int which; /* 0 other key, 1 name, 2 arguments */
    size_t val_start;
    tc_jskip sk;
    bool strict;        /* announce the call only once its arguments begin */
    char *pending_name; /* strict: the name, until then */
    bool have_name, have_args, args_open, args_str;
    size_t args_start, args_end; /* offsets from the segment's start */
} tc_obj;

struct tc_parser {
    tc_config cfg;
    bb_strbuf in; /* undecided text; the current segment starts at seg */
    size_t pos, seg;
    int mode, sub;      /* driver mode; the family's state within a segment */
    const char *marker; /* the marker that opened the segment */
    tc_obj obj;
    tc_jskip sk;
    size_t mark; /* a family's offset within the segment */
    /* the call being read */
    bool in_call, call_named;
    size_t args_emitted; /* offset (from seg) up to which arguments went out */
    bool args_any;
    int32_t n_calls, n_dropped;
    bool any_call;
    bb_strbuf ws;  /* content white space held back */
    bb_strbuf rws; /* reasoning white space held back */
    bool reasoning_started;
    uint64_t rng;
    tc_delta *out;
    bool oom;
    char errmsg[160];
};

/* ---- primitives over p->in from p->pos */
size_t tc_avail(const tc_parser *p);
const char *tc_at(const tc_parser *p);
void tc_skip_ws(tc_parser *p);
/* The literal at pos (advancing past it), a prefix of it at the end of the text (TC_MORE,
 * or TC_NO at eof), or something else. */
tc_res tc_lit(tc_parser *p, const char *lit, bool eof);
/* Bytes up to `stop` (exclusive, not consumed) into *len; TC_MORE until stop is seen. */
tc_res tc_until(tc_parser *p, const char *stop, bool eof, size_t *len);

/* ---- emission */
void tc_call_begin(tc_parser *p, const char *name, size_t len);
void tc_call_args(tc_parser *p, const char *s, size_t n);
void tc_call_end(tc_parser *p);
void tc_content(tc_parser *p, const char *s, size_t n);

/* ---- call objects: one step over the text from pos; TC_OK at the closing brace. With
 * require_args, an object without arguments is not a call. */
void tc_obj_reset(tc_obj *o); /* frees what it holds; keeps `strict` */
tc_res tc_obj_step(tc_parser *p, tc_obj *o, bool eof);
/* After TC_OK: ends the call (arguments "{}" when it had none); false if it was no call. */
bool tc_obj_finish(tc_parser *p, tc_obj *o, bool require_args);

/* ---- families: the markers that open a segment, and one step within it */
typedef struct tc_family_ops {
    const char *const *markers; /* NULL-terminated */
    bool json_at_start;         /* a reply that begins with '{' opens a segment */
    tc_res (*step)(tc_parser *p, bool eof);
} tc_family_ops;

extern const tc_family_ops tc_hermes_ops, tc_llama3_ops, tc_mistral_ops, tc_deepseek_ops,
    tc_functionary_ops, tc_functionary_v32_ops, tc_command_r_ops, tc_generic_ops;

#endif
