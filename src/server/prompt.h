/* Prompt building shared by the completion endpoints and `beanbag chat`: chat messages through
 * the model's template (ChatML when the file has none), text through the tokenizer. */
#ifndef BB_SERVER_PROMPT_H
#define BB_SERVER_PROMPT_H

#include <stddef.h>

#include "beanbag.h"

/* Tokenizes prompt text, parsing special-token text (the template's markers), and adds BOS
 * when the vocab asks for it and the text does not already start with it. *ids: bb_free. */
bb_status prompt_tokenize(const bb_vocab *vocab, const char *text, bb_token **ids, size_t *n,
                          bb_error *err);
/* Renders a JSON array of messages (string contents) for generation and tokenizes the result.
 * A template that refuses the conversation gives BB_ERR_TEMPLATE. */
bb_status prompt_from_messages(const bb_model *model, const char *messages_json, bb_token **ids,
                               size_t *n, bb_error *err);

/* The text of a special token (the template's bos_token/eos_token); "" when there is none;
 * NULL when out of memory (free with free()). */
char *prompt_special_text(const bb_vocab *vocab, bb_token t);
/* The model's chat template, or the default ChatML one. */
const char *prompt_template(const bb_model *model);
/* The chat template applied with tools and extra variables (either may be NULL), with
 * add_generation_prompt; *text from the chat module (free with bb_free). */
bb_status prompt_render(const bb_model *model, const char *messages_json, const char *tools_json,
                        const char *kwargs_json, char **text, bb_error *err);

#endif
