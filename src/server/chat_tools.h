/* Chat completions with tools and reasoning: the prompt (tools and chat_template_kwargs into
 * the template, instructions for templates that cannot show tools, a call forced by
 * tool_choice) and the parsers that turn each choice's text into content, reasoning_content
 * and tool_calls (chat/toolcall.h). */
#ifndef BB_SERVER_CHAT_TOOLS_H
#define BB_SERVER_CHAT_TOOLS_H

#include "chat/toolcall.h"
#include "grammar/grammar.h"
#include "server/oai_request.h"

typedef struct chat_plan {
    bb_token *ids; /* the prompt (bb_free) */
    size_t n;
    bool parse;        /* run the output parser (tools offered, or thinking markers) */
    tc_config tc;      /* its settings */
    char *prefill;     /* text of the reply already in the prompt (a forced call), or NULL */
    bool special_text; /* control tokens in the output text (call markers) */
    /* The grammar forcing the call (tool_choice required / named): the call syntax with each
     * function's arguments constrained by its parameters schema, applied by the sampler from
     * the reply's first token; or NULL (no forced call, or a family whose forced call is
     * written into the prompt instead, see chat_tools.c). */
    bb_grammar *grammar;
} chat_plan;

/* Builds the prompt for a chat request; false with *e set. */
bool chat_plan_build(const bb_model *model, const oai_request *req, chat_plan *out, oai_error *e);
void chat_plan_free(chat_plan *p);

/* The template applied to OpenAI messages (validated) with tools_json, kwargs_json and
 * instructions for the model (each may be NULL). Past calls'
 * arguments go in as objects or as OpenAI's strings, whichever the template reads (and the
 * other when it refuses the first). *text: bb_free. */
bool chat_render_openai(const char *tmpl, const cJSON *messages, const char *tools_json,
                        const char *kwargs_json, const char *instructions,
                        bool add_generation_prompt, const char *bos, const char *eos, char **text,
                        oai_error *e);

/* One parser per choice, fed the prefill; NULL when out of memory. Deltas the prefill
 * decided are merged into first[i] (may be NULL: dropped). */
tc_parser **chat_parsers_new(const chat_plan *p, int32_t n, tc_delta *first);
void chat_parsers_free(tc_parser **ps, int32_t n);

#endif
