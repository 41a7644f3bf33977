/* OpenAI request bodies (POST /v1/chat/completions and /v1/completions): JSON parsing and
 * validation into generation settings, with errors that name the offending parameter
 * (https://platform.openai.com/docs/api-reference/chat/create). Unknown parameters are
 * refused rather than silently ignored. */
#ifndef BB_SERVER_OAI_REQUEST_H
#define BB_SERVER_OAI_REQUEST_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

#define OAI_MAX_STOP 4
#define OAI_MAX_LOGIT_BIAS 1024

/* An error response: HTTP status, OpenAI error type/code, the parameter at fault. */
typedef struct oai_error {
    int status;
    const char *type; /* "invalid_request_error", "server_error", ... */
    const char *code; /* or NULL */
    char param[64];   /* "" when none */
    char message[400];
} oai_error;

bool oai_fail(oai_error *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef struct oai_limits {
    int32_t max_n;
    int32_t n_vocab;
} oai_limits;

/* tool_choice (https://platform.openai.com/docs/api-reference/chat/create#tool_choice). */
typedef enum {
    OAI_TOOLS_AUTO,
    OAI_TOOLS_NONE,
    OAI_TOOLS_REQUIRED,
    OAI_TOOLS_NAMED
} oai_tool_choice;

typedef struct oai_request {
    bool chat;
    const char *model;     /* NULL when absent */
    const cJSON *messages; /* chat: the array as sent */
    const cJSON *prompt;   /* completions: a string, [string] or [token ids] */
    int64_t max_tokens;    /* -1: as many as the context allows */
    bb_sampler_params sampling;
    bool has_seed;
    bb_logit_bias *bias; /* owned */
    size_t n_bias;
    int32_t n;
    const char *stop[OAI_MAX_STOP]; /* into the JSON */
    size_t n_stop;
    bool logprobs;
    int32_t top_logprobs;
    bool stream, include_usage;
    /* chat: tools and the template's extra variables (oai_tools.c) */
    const cJSON *tools; /* the array as sent; NULL when absent or empty */
    oai_tool_choice tool_choice;
    const char *tool_name; /* OAI_TOOLS_NAMED */
    bool parallel_tool_calls;
    const cJSON *template_kwargs; /* chat_template_kwargs, an object, or NULL */
    struct bb_grammar *grammar;   /* owned: response_format / grammar (structured.c), or NULL */
} oai_request;

/* Parses a body; on failure the error says where the JSON broke. */
bool oai_parse_json(const char *body, size_t len, cJSON **root, oai_error *e);
/* Validates a completion request; out points into root, which must outlive it. */
bool oai_parse_request(const cJSON *root, bool chat, const oai_limits *lim, oai_request *out,
                       oai_error *e);
void oai_request_free(oai_request *r);

/* A JSON list of token ids, each an integer in [0, n_vocab), into a new array (free with
 * free(); non-NULL even when empty). Returns false for anything else. */
bool oai_token_ids(const cJSON *list, int32_t n_vocab, bb_token **ids, size_t *n);

/* The chat messages in the shape chat templates expect: content as a plain string (text
 * parts joined), role "developer" as "system", and with args_objects the arguments of past
 * tool calls as JSON objects (as Hugging Face templates index and tojson them) rather than
 * the strings OpenAI sends. A new cJSON array, or NULL with *e set. */
cJSON *oai_messages_for_template(const cJSON *messages, bool args_objects, oai_error *e);

/* oai_tools.c: the tool parameters (tools, tool_choice, parallel_tool_calls,
 * chat_template_kwargs) into r; the checks that need all of them; the messages' roles and
 * tool fields. Each returns false with *e naming the field. */
bool oai_parse_tool_field(const cJSON *v, const char *name, oai_request *r, oai_error *e);
bool oai_check_tools(oai_request *r, oai_error *e);
bool oai_validate_messages(const cJSON *messages, oai_error *e);

#endif
