/* OpenAI response bodies: whole responses, streaming chunks (Server-Sent Events payloads),
 * logprobs and errors, in the shapes the official SDKs parse
 * (https://platform.openai.com/docs/api-reference/chat/object and .../chat/streaming). */
#ifndef BB_SERVER_OAI_RESPONSE_H
#define BB_SERVER_OAI_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/toolcall.h"
#include "engine/engine.h"
#include "server/oai_request.h"

/* What every response and chunk of one completion shares. */
typedef struct oai_ctx {
    bool chat;
    char id[48];
    int64_t created;
    const char *model;
    const bb_vocab *vocab; /* token text for logprobs */
    bool logprobs;
    bool usage_in_chunks; /* stream_options.include_usage: chunks carry "usage": null */
    int32_t cached_tokens; /* usage.prompt_tokens_details.cached_tokens, set once known */
} oai_ctx;

/* One choice of a finished, non-streamed completion. */
typedef struct oai_choice {
    const char *text;
    size_t len;
    const engine_token_info *tokens;
    size_t n_tokens;
    engine_finish finish;
    const tc_delta *message; /* chat with tools or reasoning: the parsed reply (text unused) */
} oai_choice;

void oai_ctx_init(oai_ctx *c, bool chat, const char *model, const bb_vocab *vocab);
const char *oai_finish_reason(engine_finish f); /* "stop", "length", or NULL */

/* Each returns a new NUL-terminated JSON string (free with free()), or NULL when out of memory. */
char *oai_error_json(const oai_error *e);
char *oai_response_json(const oai_ctx *c, const oai_choice *choices, int32_t n,
                        int32_t prompt_tokens, int32_t completion_tokens);
/* The first chunk of a chat choice: delta {"role": "assistant", "content": ""}. */
char *oai_chunk_role(const oai_ctx *c, int32_t choice);
/* A chunk with new text (and its tokens' logprobs), and/or the finish reason. */
char *oai_chunk_delta(const oai_ctx *c, int32_t choice, const engine_delta *d);
/* A chunk of a parsed reply (chat with tools or reasoning): delta.content,
 * delta.reasoning_content and delta.tool_calls from d, logprobs of the tokens, and the finish
 * reason when finish is not NULL. */
char *oai_chunk_parsed(const oai_ctx *c, int32_t choice, const tc_delta *d,
                       const engine_token_info *tokens, size_t n_tokens, const char *finish);
/* "tool_calls" when a reply that stopped by itself made calls, else oai_finish_reason. */
const char *oai_finish_with_calls(engine_finish f, bool calls);

/* The last chunk with stream_options.include_usage: no choices, the usage. */
char *oai_chunk_usage(const oai_ctx *c, int32_t prompt_tokens, int32_t completion_tokens);

#endif
