/* Structured output on the completion endpoints: OpenAI's `response_format` ({"type": "text"},
 * {"type": "json_object"}, {"type": "json_schema", "json_schema": {"name", "schema", "strict",
 * "description"}}) and the `grammar` extension (a GBNF string, llama.cpp's syntax), compiled
 * into a grammar the engine applies to every choice (src/grammar/grammar.h). */
#ifndef BB_SERVER_STRUCTURED_H
#define BB_SERVER_STRUCTURED_H

#include <cjson/cJSON.h>

#include "grammar/grammar.h"
#include "server/oai_request.h"

/* The grammar a request body asks for in *out (NULL: unconstrained), or false with a 400 in *e
 * naming the parameter and what is wrong (a GBNF line and column, a schema keyword). */
bool oai_structured_parse(const cJSON *root, bb_grammar **out, oai_error *e);

typedef struct server server;
/* The model's vocabulary trie for grammar masks, built on first use (thread-safe); NULL with
 * *e set if it cannot be built. */
const bb_grammar_vocab *server_grammar_vocab(server *s, oai_error *e);
void server_grammar_vocab_free(server *s);

#endif
