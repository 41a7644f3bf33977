/* Chat-template entry points beyond the public API, for the CLI and the tests. */
#ifndef BB_CHAT_CHAT_H
#define BB_CHAT_CHAT_H

#include "beanbag.h"

/* Renders a template for one conformance case: a JSON object with `messages` (array),
 * `tools` (array, null or absent), `add_generation_prompt`, `bos_token`, `eos_token` — the
 * shape of the entries in testdata/chat/cases.json. Fields are read as they are (an int
 * stays an int); otherwise as bb_chat_render. */
bb_status bb_chat_render_case(const char *template_src, const char *case_json, char **out,
                              bb_error *err);

#endif
