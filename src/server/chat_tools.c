#include "server/chat_tools.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/chat.h"
#include "chat/tool_grammar.h"
#include "common/error.h"
#include "server/prompt.h"

static uint64_t id_seed(void) {
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
           (atomic_fetch_add(&counter, 1) * 0xD1B54A32D192ED03ULL);
}

/* The tool instructions go into the system message, or before the first user message when
 * there is none (templates such as Gemma's refuse a system role). */
static bool inject(cJSON *messages, const char *text) {
    cJSON *m, *first_user = NULL;
    cJSON_ArrayForEach(m, messages) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!strcmp(role->valuestring, "system")) break;
        if (!first_user && !strcmp(role->valuestring, "user")) first_user = m;
    }
    cJSON *target = m ? m : first_user;
    if (!target) return true;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(target, "content");
    const char *old = cJSON_IsString(c) ? c->valuestring : "";
    size_t n = strlen(old) + strlen(text) + 3;
    char *joined = malloc(n);
    if (!joined) return false;
    if (m)
        snprintf(joined, n, "%s%s%s", old, *old ? "\n\n" : "", text);
    else
        snprintf(joined, n, "%s\n\n%s", text, old);
    cJSON *s = cJSON_CreateString(joined);
    free(joined);
    if (!s) return false;
    if (cJSON_GetObjectItemCaseSensitive(target, "content"))
        return cJSON_ReplaceItemInObjectCaseSensitive(target, "content", s);
    return cJSON_AddItemToObject(target, "content", s);
}

static char *messages_json(const cJSON *messages, bool args_objects, const char *instructions,
                           oai_error *e) {
    cJSON *msgs = oai_messages_for_template(messages, args_objects, e);
    if (!msgs) return NULL;
    char *json = NULL;
    if (!instructions || inject(msgs, instructions)) json = cJSON_PrintUnformatted(msgs);
    cJSON_Delete(msgs);
    if (!json) oai_fail(e, 500, NULL, "out of memory");
    return json;
}

static bool has_past_calls(const cJSON *messages) {
    const cJSON *m;
    cJSON_ArrayForEach(m, messages) {
        if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))) return true;
    }
    return false;
}

/* Whether the template reads past calls' arguments as objects: it applies tojson or items
 * to them (Qwen2.5, Hermes, Llama 3.x; Mistral's tojson of the whole function), where
 * others concatenate the strings OpenAI sends (DeepSeek, Functionary). */
static bool wants_objects(const char *t) {
    static const char *const heads[] = {"arguments", "function", NULL};
    for (const char *const *h = heads; *h; h++)
        for (const char *s = t; (s = strstr(s, *h)); s++) {
            const char *q = s + strlen(*h);
            while (*q == ' ')
                q++;
            if (*q++ != '|') continue;
            while (*q == ' ')
                q++;
            if (!strncmp(q, "tojson", 6) || (*h[0] == 'a' && !strncmp(q, "items", 5))) return true;
        }
    return false;
}

bool chat_render_openai(const char *tmpl, const cJSON *messages, const char *tools,
                        const char *kwargs, const char *instructions, bool add_generation_prompt,
                        const char *bos, const char *eos, char **text, oai_error *e) {
    bb_status st = BB_ERR_TEMPLATE;
    bb_error err = {0};
    bool objects = wants_objects(tmpl);
    *text = NULL;
    /* The other form when the template refuses the first (a dict concatenated, ...). */
    for (int pass = 0; pass < 2 && st == BB_ERR_TEMPLATE; pass++) {
        if (pass == 1 && !has_past_calls(messages)) break;
        char *msgs = messages_json(messages, pass == 0 ? objects : !objects, instructions, e);
        if (!msgs) return false;
        bb_free(*text);
        *text = NULL;
        st = bb_chat_render_kwargs(tmpl, msgs, tools, kwargs, add_generation_prompt, bos, eos, text,
                                   &err);
        free(msgs);
    }
    if (st == BB_ERR_TEMPLATE)
        return oai_fail(e, 400, "messages", "the chat template refused the messages: %s",
                        err.message);
    if (st != BB_OK)
        return oai_fail(e, st == BB_ERR_OUT_OF_MEMORY ? 500 : 400, "messages",
                        "cannot build the prompt: %s", err.message);
    return true;
}

static bool render(const bb_model *model, const oai_request *req, const char *tools,
                   const char *kwargs, const char *instructions, char **text, oai_error *e) {
    const bb_vocab *vocab = bb_model_vocab(model);
    char *bos = prompt_special_text(vocab, bb_vocab_bos(vocab));
    char *eos = prompt_special_text(vocab, bb_vocab_eos(vocab));
    bool ok = bos && eos ? chat_render_openai(prompt_template(model), req->messages, tools, kwargs,
                                              instructions, true, bos, eos, text, e)
                         : oai_fail(e, 500, NULL, "out of memory");
    free(bos);
    free(eos);
    return ok;
}

static bool ends_with(const char *text, const char *tail) {
    size_t n = strlen(text), k = strlen(tail);
    return n >= k && !memcmp(text + n - k, tail, k);
}

static bool ends_with_open_think(const char *text, const char *open) {
    size_t n = strlen(text), k = strlen(open);
    while (n && (text[n - 1] == ' ' || text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    return n >= k && !memcmp(text + n - k, open, k);
}

static bool append(char **text, const char *more) {
    size_t a = strlen(*text), b = strlen(more);
    char *s = malloc(a + b + 1);
    if (!s) return false;
    memcpy(s, *text, a);
    memcpy(s + a, more, b + 1);
    bb_free(*text);
    *text = s;
    return true;
}

/* The compiled grammar of a forced call (tc_tool_grammar with the grammar engine's schema
 * compiler), or NULL when it cannot be built (the caller then forces the call in the prompt). */
static bb_grammar *call_grammar(tc_family family, const char *tools, const char *name,
                                const oai_request *req) {
    char *gbnf = NULL;
    bb_grammar *g = NULL;
    bb_error err = {0};
    if (tc_tool_grammar(family, tools, name, req->parallel_tool_calls, bb_json_schema_gbnf_rule,
                        &gbnf, &err) == BB_OK &&
        bb_grammar_parse_gbnf(gbnf, strlen(gbnf), "root", &g, &err) != BB_OK)
        g = NULL;
    free(gbnf);
    return g;
}

bool chat_plan_build(const bb_model *model, const oai_request *req, chat_plan *out, oai_error *e) {
    memset(out, 0, sizeof *out);
    const char *tmpl = prompt_template(model);
    bool tools_on = req->tools && req->tool_choice != OAI_TOOLS_NONE;
    tc_family family = tools_on ? tc_detect_family(tmpl) : TC_NONE;
    const char *open = NULL, *close = NULL;
    bool think = tc_detect_reasoning(tmpl, &open, &close);
    char *tools = tools_on ? cJSON_PrintUnformatted(req->tools) : NULL;
    char *kwargs = req->template_kwargs ? cJSON_PrintUnformatted(req->template_kwargs) : NULL;
    char *instructions = NULL, *text = NULL, *forced = NULL;
    bool ok = (!tools_on || tools) && (!req->template_kwargs || kwargs);
    if (!ok) oai_fail(e, 500, NULL, "out of memory");
    if (ok && tools_on && !tc_template_renders_tools(tmpl)) {
        instructions = tc_instructions(family, tools);
        if (!instructions) ok = oai_fail(e, 500, NULL, "out of memory");
    }
    if (ok) ok = render(model, req, tools, kwargs, instructions, &text, e);
    bool in_think = ok && think && ends_with_open_think(text, open);
    /* A template that opens the reply's first section in the prompt (Functionary v3.2's
     * ">>>"): the parser reads it first. */
    const char *tail = tc_prompt_tail(family);
    if (ok && tail && !ends_with(text, tail)) tail = NULL;
    bool force =
        tools_on && (req->tool_choice == OAI_TOOLS_REQUIRED || req->tool_choice == OAI_TOOLS_NAMED);
    const char *name = req->tool_choice == OAI_TOOLS_NAMED ? req->tool_name : NULL;
    /* A forced call is enforced by the grammar engine: the family's call syntax, arguments
     * constrained by each function's schema (src/grammar/), from the reply's first token, so
     * even a weak model returns a well-formed call. Where that grammar cannot be built (a
     * family whose reply opens in the prompt, Functionary v3.2's ">>>", or a schema the
     * compiler refuses), the call's opening is written into the reply instead and the model
     * continues inside it. Either way a thinking block the prompt opened is closed first. */
    if (ok && force && !tail) out->grammar = call_grammar(family, tools, name, req);
    char *prefix = ok && force && !out->grammar ? tc_forced_prefix(family, name) : NULL;
    const char *forced_text = prefix ? prefix : "";
    if (tail && !strncmp(forced_text, tail, strlen(tail))) forced_text += strlen(tail);
    size_t n = strlen(forced_text) + (close ? strlen(close) : 0) + (tail ? strlen(tail) : 0) + 4;
    char *to_prompt = ok ? malloc(n) : NULL;
    forced = ok ? malloc(n) : NULL;
    if (ok && (!to_prompt || !forced || (force && !prefix && !out->grammar))) {
        ok = oai_fail(e, 500, NULL, "out of memory");
    } else if (ok) {
        snprintf(to_prompt, n, "%s%s%s", force && in_think ? close : "",
                 force && in_think ? "\n\n" : "", forced_text);
        snprintf(forced, n, "%s%s", tail ? tail : "", to_prompt);
        if (!append(&text, to_prompt)) ok = oai_fail(e, 500, NULL, "out of memory");
    }
    free(prefix);
    free(to_prompt);
    if (forced && !forced[0]) {
        free(forced);
        forced = NULL;
    }
    if (ok) {
        bb_error err = {0};
        if (prompt_tokenize(bb_model_vocab(model), text, &out->ids, &out->n, &err) != BB_OK)
            ok = oai_fail(e, 400, "messages", "cannot tokenize the prompt: %s", err.message);
    }
    if (ok) {
        out->parse = family != TC_NONE || think;
        out->tc = (tc_config){.family = family,
                              .think_open = open,
                              .think_close = close,
                              .think_open_in_prompt = in_think,
                              .parallel = req->parallel_tool_calls,
                              .id_seed = id_seed()};
        out->special_text = family != TC_NONE;
        out->prefill = forced;
        forced = NULL;
    }
    free(tools);
    free(kwargs);
    free(instructions);
    free(forced);
    bb_free(text);
    if (!ok) chat_plan_free(out);
    return ok;
}

void chat_plan_free(chat_plan *p) {
    bb_free(p->ids);
    free(p->prefill);
    if (p->grammar) bb_grammar_unref(p->grammar);
    memset(p, 0, sizeof *p);
}

tc_parser **chat_parsers_new(const chat_plan *p, int32_t n, tc_delta *first) {
    tc_parser **ps = calloc((size_t)n, sizeof *ps);
    if (!ps) return NULL;
    for (int32_t i = 0; i < n; i++) {
        tc_config cfg = p->tc;
        cfg.id_seed += (uint64_t)i * 0x9E3779B97F4A7C15ULL;
        ps[i] = tc_parser_new(&cfg);
        bb_error err = {0};
        tc_delta d = {0};
        bool ok = ps[i] &&
                  (!p->prefill || tc_parser_feed(ps[i], p->prefill, strlen(p->prefill), &d, &err));
        if (ok && first) ok = tc_delta_merge(&first[i], &d);
        tc_delta_reset(&d);
        if (!ok) {
            chat_parsers_free(ps, i + 1);
            return NULL;
        }
    }
    return ps;
}

void chat_parsers_free(tc_parser **ps, int32_t n) {
    for (int32_t i = 0; ps && i < n; i++)
        tc_parser_free(ps[i]);
    free(ps);
}
