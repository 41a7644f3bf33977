/* Tool calls and reasoning in a model's reply: which syntax a chat template teaches its model
 * (detected from the template's text), and an incremental parser that splits the generated
 * text into content, reasoning (text between the thinking markers) and OpenAI tool calls
 * (https://platform.openai.com/docs/api-reference/chat/object: id, type "function",
 * function.name, function.arguments as a JSON string).
 *
 * The parser takes the text in pieces of any size (a token, a byte) and reports what each
 * piece decides as a tc_delta: content and reasoning text, and per call its header (index, id,
 * name) once and then argument fragments, as OpenAI streams delta.tool_calls. Text that may
 * be the start of a marker is held back until it is decided. A whole reply fed at once gives
 * the same result as the concatenated deltas of any split, so the streamed and the whole
 * responses agree by construction.
 *
 * Families (one file each, tc_<family>.c), with the call syntax their templates define:
 *   hermes      <tool_call>{"name": N, "arguments": {...}}</tool_call> (Hermes 2 Pro, Qwen2.5,
 *               Qwen3), repeated for parallel calls
 *   llama3      {"name": N, "parameters": {...}} as the whole reply, or after <|python_tag|>
 *               (Llama 3.1-3.3), several separated by ';'
 *   mistral     [TOOL_CALLS][{"name": N, "arguments": {...}}, ...] (Mistral Nemo, Small, ...)
 *   deepseek
 * <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>N\n```json\n{...}\n```
 *               <｜tool▁call▁end｜>...<｜tool▁calls▁end｜> (DeepSeek R1 / V3)
 *   functionary <function=N>{...}</function> (Functionary v3.1)
 *   functionary_v32  >>>N\n{...} sections, >>>all\n for text (Functionary v3.2)
 *   command_r   Action: ```json [{"tool_name": N, "parameters": {...}}]``` (Command R+), or
 *               <|START_ACTION|>[...]<|END_ACTION|> (Command R7B)
 *   generic     templates that define no syntax: the reply is one JSON object,
 *               {"tool_calls": [{"name": N, "arguments": {...}}, ...]} or {"response": "text"}
 *               (the format tc_instructions asks for), anything else is content */
#ifndef BB_CHAT_TOOLCALL_H
#define BB_CHAT_TOOLCALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"
#include "common/strbuf.h"

typedef enum tc_family {
    TC_NONE, /* tool calls are not parsed (no tools, or tool_choice "none") */
    TC_HERMES,
    TC_LLAMA3,
    TC_MISTRAL,
    TC_DEEPSEEK,
    TC_FUNCTIONARY,
    TC_FUNCTIONARY_V32,
    TC_COMMAND_R,
    TC_GENERIC,
} tc_family;

const char *tc_family_name(tc_family f);
/* The call syntax the template's text teaches; TC_GENERIC when it shows none. */
tc_family tc_detect_family(const char *template_src);
/* Whether the template renders the `tools` variable at all (else the server describes the
 * tools to the model itself, with tc_instructions). */
bool tc_template_renders_tools(const char *template_src);
/* The thinking markers the template uses ("<think>", "</think>"), or false. */
bool tc_detect_reasoning(const char *template_src, const char **open, const char **close);

/* What the model is asked to do when the template cannot render the tools itself: a text
 * naming the tools (tools_json: the request's `tools` array) and the family's call syntax.
 * New string (free with free()), or NULL when out of memory. */
char *tc_instructions(tc_family f, const char *tools_json);

/* Text of the reply that the family's templates write into the prompt (Functionary v3.2's
 * first ">>>"), to be fed to the parser first when the prompt ends with it; NULL if none. */
const char *tc_prompt_tail(tc_family f);

/* The text that opens a call in the family's syntax, appended to the prompt to force one
 * (tool_choice "required": name NULL; or a named function). New string or NULL. */
char *tc_forced_prefix(tc_family f, const char *name);

/* ---------------------------------------------------------------- the parser */

typedef struct tc_call_delta {
    int32_t index;  /* position of the call in the reply, from 0 */
    bool header;    /* first delta of this call: id, name */
    char id[40];    /* header only */
    char *name;     /* header only (owned) */
    bb_strbuf args; /* argument text added by this delta (may be empty) */
} tc_call_delta;

typedef struct tc_delta {
    bb_strbuf content, reasoning;
    tc_call_delta *calls;
    size_t n_calls, cap_calls;
} tc_delta;

void tc_delta_reset(tc_delta *d); /* empties it, keeping nothing */
bool tc_delta_empty(const tc_delta *d);
/* Adds d to a running total: text appended, a call's fragments joined into one entry per
 * call (the whole message). False when out of memory. */
bool tc_delta_merge(tc_delta *into, const tc_delta *d);

typedef struct tc_config {
    tc_family family;
    const char *think_open, *think_close; /* NULL: no reasoning split */
    bool think_open_in_prompt;            /* the prompt ends inside a thinking block */
    bool parallel;                        /* false: calls after the first are dropped */
    uint64_t id_seed;                     /* ids call_<24 alnum>, or 9 alnum for mistral */
} tc_config;

typedef struct tc_parser tc_parser;

tc_parser *tc_parser_new(const tc_config *cfg); /* NULL when out of memory */
void tc_parser_free(tc_parser *p);
/* Adds text; appends what it decides to *out. Returns false when out of memory or when one
 * call outgrows TC_MAX_CALL bytes (the message says which). */
bool tc_parser_feed(tc_parser *p, const char *text, size_t len, tc_delta *out, bb_error *err);
/* The reply is complete: decides everything held back. */
bool tc_parser_finish(tc_parser *p, tc_delta *out, bb_error *err);
int32_t tc_parser_n_calls(const tc_parser *p);

#define TC_MAX_CALL (1u << 20)

#endif
