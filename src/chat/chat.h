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
/* The same with `tools` from tools_json (a JSON array, or null) in place of the case's. */
bb_status bb_chat_render_case_tools(const char *template_src, const char *case_json,
                                    const char *tools_json, char **out, bb_error *err);

/* bb_chat_render with further template variables: kwargs_json is a JSON object (or NULL)
 * whose members become variables, as apply_chat_template(**kwargs) binds them (e.g.
 * chat_template_kwargs {"enable_thinking": false}); they never replace messages, tools,
 * add_generation_prompt, bos_token or eos_token. */
bb_status bb_chat_render_kwargs(const char *template_src, const char *messages_json,
                                const char *tools_json, const char *kwargs_json,
                                bool add_generation_prompt, const char *bos_token,
                                const char *eos_token, char **out, bb_error *err);

#endif
