/* Tool-call and reasoning parser tests (src/chat/toolcall.h): per family, replies in the
 * style each model writes (recorded shapes: Qwen2.5/Hermes, Llama 3.1, Mistral Nemo,
 * DeepSeek R1, Functionary v3.1, the generic JSON format), fed whole and split at every byte
 * and in every pair of pieces; the splits must give exactly the whole reply's result. Also:
 * family and marker detection on the real templates (testdata/chat), forced prefixes,
 * instructions, and the tool-choice grammar text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tool_grammar.h"
#include "chat/toolcall.h"
#include "testutil.h"

typedef struct tcase {
    const char *what;
    tc_family family;
    bool think, in_prompt, serial;
    const char *text;
    const char *content;   /* expected */
    const char *reasoning; /* expected */
    const char *calls;     /* expected: name\targs, one per line */
} tcase;

static const tcase cases[] = {
    {"hermes one call", TC_HERMES, false, false, false,
     "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
     "", "", "get_weather\t{\"city\": \"Paris\"}\n"},
    {"hermes content then two calls", TC_HERMES, false, false, false,
     "Let me check.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": [1, {\"y\": \"}\"}]}}\n"
     "</tool_call>\n<tool_call>\n{\"arguments\": {\"q\": \"\\\"<tool_call>\\\"\"}, \"name\": \"b\"}"
     "\n</tool_call>",
     "Let me check.", "", "a\t{\"x\": [1, {\"y\": \"}\"}]}\nb\t{\"q\": \"\\\"<tool_call>\\\"\"}\n"},
    {"hermes no closing tag, string arguments", TC_HERMES, false, false, false,
     "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}", "", "", "f\t{\"a\": 1}\n"},
    {"hermes no arguments", TC_HERMES, false, false, false,
     "<tool_call>{\"name\": \"now\"}</tool_call>", "", "", "now\t{}\n"},
    {"hermes malformed call is content", TC_HERMES, false, false, false,
     "Use <tool_call> tags, like <tool_call>this</tool_call>.",
     "Use <tool_call> tags, like <tool_call>this</tool_call>.", "", ""},
    {"hermes plain text", TC_HERMES, false, false, false, "Hello <b>world</b> <tool",
     "Hello "
     "<b>world</b> <tool",
     "", ""},
    {"hermes serial keeps the first call", TC_HERMES, false, false, true,
     "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call><tool_call>{\"name\": \"b\", "
     "\"arguments\": {}}</tool_call>",
     "", "", "a\t{}\n"},
    {"qwen3 thinking then a call", TC_HERMES, true, false, false,
     "<think>\nThe user wants the weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", "
     "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
     "", "The user wants the weather.", "get_weather\t{\"city\": \"Paris\"}\n"},
    {"qwen3 think opened by the prompt", TC_HERMES, true, true, false,
     "Two plus two.\n</think>\n\nIt is 4.", "It is 4.", "Two plus two.", ""},
    {"think only at the start", TC_HERMES, true, false, false, "A <think>not</think> b",
     "A <think>not</think> b", "", ""},
    {"unclosed think is reasoning", TC_NONE, true, false, false, "<think>still going", "",
     "still going", ""},
    {"llama3 json call", TC_LLAMA3, false, false, false,
     "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"n\": 2}}", "", "",
     "get_weather\t{\"city\": \"Paris\", \"n\": 2}\n"},
    {"llama3 python tag, two calls", TC_LLAMA3, false, false, false,
     "<|python_tag|>{\"name\": \"a\", \"parameters\": {\"k\": true}}; {\"name\": \"b\", "
     "\"parameters\": {}}",
     "", "", "a\t{\"k\": true}\nb\t{}\n"},
    {"llama3 built-in tool", TC_LLAMA3, false, false, false,
     "<|python_tag|>brave_search.call(query=\"weather in Paris, \\\"today\\\"\", n=3, safe=True)",
     "", "",
     "brave_search\t{\"query\":\"weather in Paris, \\\"today\\\"\",\"n\":3,\"safe\":true}\n"},
    {"llama3 code after the tag is content", TC_LLAMA3, false, false, false,
     "<|python_tag|>print(1 + 1)", "<|python_tag|>print(1 + 1)", "", ""},
    {"llama3 json that is no call", TC_LLAMA3, false, false, false,
     "{\"name\": \"Bob\", \"age\": 3}", "{\"name\": \"Bob\", \"age\": 3}", "", ""},
    {"llama3 text", TC_LLAMA3, false, false, false, "The answer is {42}.", "The answer is {42}.",
     "", ""},
    {"mistral two calls", TC_MISTRAL, false, false, false,
     "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}, \"id\": \"abcdefghi\"}, "
     "{\"name\": \"b\", \"arguments\": {\"y\": \"z\"}}]",
     "", "", "a\t{\"x\": 1}\nb\t{\"y\": \"z\"}\n"},
    {"mistral content first", TC_MISTRAL, false, false, false,
     "Sure. [TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {}}]", "Sure.", "", "a\t{}\n"},
    {"deepseek r1", TC_DEEPSEEK, true, true, false,
     "Need weather.\n</think>\n\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
     "get_weather\n```json\n{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>"
     "function<｜tool▁sep｜>get_time\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
     "", "Need weather.", "get_weather\t{\"city\": \"Paris\"}\nget_time\t{}\n"},
    {"functionary v3.1", TC_FUNCTIONARY, false, false, false,
     "ok <function=get_weather>{\"city\": \"Paris\"}</function><function=x>{}</function>", "ok", "",
     "get_weather\t{\"city\": \"Paris\"}\nx\t{}\n"},
    {"command r+ action", TC_COMMAND_R, false, false, false,
     "Action:\n```json\n[\n    {\n        \"tool_name\": \"get_weather\",\n        \"parameters\": "
     "{\"city\": \"Paris\"}\n    },\n    {\"tool_name\": \"directly-answer\", \"parameters\": {}}"
     "\n]\n```",
     "", "", "get_weather\t{\"city\": \"Paris\"}\n"},
    {"command r7b action and response", TC_COMMAND_R, false, false, false,
     "<|START_ACTION|>[{\"tool_call_id\": \"0\", \"tool_name\": \"a\", \"parameters\": {\"x\": 1}}]"
     "<|END_ACTION|>",
     "", "", "a\t{\"x\": 1}\n"},
    {"command r7b response", TC_COMMAND_R, false, false, false,
     "<|START_RESPONSE|>The answer: 4.<|END_RESPONSE|>", "The answer: 4.", "", ""},
    {"command r text with Action:", TC_COMMAND_R, false, false, false, "Action: none needed.",
     "Action: none needed.", "", ""},
    {"functionary v3.2", TC_FUNCTIONARY_V32, false, false, false,
     ">>>all\nChecking.>>>get_weather\n{\"city\": \"Paris\"}>>>get_time\n{}", "Checking.", "",
     "get_weather\t{\"city\": \"Paris\"}\nget_time\t{}\n"},
    {"functionary v3.2 text", TC_FUNCTIONARY_V32, false, false, false, ">>>all\nHi >> there",
     "Hi >> there", "", ""},
    {"generic calls", TC_GENERIC, false, false, false,
     "{\"tool_calls\": [{\"name\": \"a\", \"arguments\": {\"x\": 1}}]}", "", "", "a\t{\"x\":1}\n"},
    {"generic response", TC_GENERIC, false, false, false, "{\"response\": \"Hi there\"}",
     "Hi there", "", ""},
    {"generic plain", TC_GENERIC, false, false, false, "{\"a\": 1} then text",
     "{\"a\": 1} then text", "", ""},
    {"none keeps markers as text", TC_NONE, false, false, false,
     "<tool_call>{\"name\": \"a\"}</tool_call>", "<tool_call>{\"name\": \"a\"}</tool_call>", "",
     ""},
};

static tc_parser *parser(const tcase *c) {
    tc_config cfg = {.family = c->family,
                     .think_open = c->think ? "<think>" : NULL,
                     .think_close = c->think ? "</think>" : NULL,
                     .think_open_in_prompt = c->in_prompt,
                     .parallel = !c->serial,
                     .id_seed = 7};
    return tc_parser_new(&cfg);
}

/* Feeds the text in pieces ending at cuts[0..n) and merges the deltas. */
static bool run_split(const tcase *c, const size_t *cuts, size_t n, tc_delta *total) {
    tc_parser *p = parser(c);
    bb_error err = {0};
    size_t from = 0, len = strlen(c->text);
    bool ok = p != NULL;
    for (size_t i = 0; ok && i <= n; i++) {
        size_t to = i < n ? cuts[i] : len;
        tc_delta d = {0};
        ok = tc_parser_feed(p, c->text + from, to - from, &d, &err) && tc_delta_merge(total, &d);
        /* A header comes once per call, before its arguments. */
        for (size_t k = 0; ok && k < d.n_calls; k++)
            if (d.calls[k].header && !(d.calls[k].name && d.calls[k].id[0])) ok = false;
        tc_delta_reset(&d);
        from = to;
    }
    tc_delta d = {0};
    ok = ok && tc_parser_finish(p, &d, &err) && tc_delta_merge(total, &d);
    tc_delta_reset(&d);
    tc_parser_free(p);
    return ok;
}

static char *calls_text(const tc_delta *d) {
    bb_strbuf s = {0};
    for (size_t i = 0; i < d->n_calls; i++)
        bb_strbuf_printf(&s, "%s\t%s\n", d->calls[i].name ? d->calls[i].name : "?",
                         d->calls[i].args.data ? d->calls[i].args.data : "");
    bb_strbuf_append(&s, "", 0);
    return bb_strbuf_take(&s);
}

static const char *str(const bb_strbuf *b) {
    return b->data ? b->data : "";
}

static bool same(const tc_delta *a, const tc_delta *b) {
    char *ca = calls_text(a), *cb = calls_text(b);
    bool eq = !strcmp(str(&a->content), str(&b->content)) &&
              !strcmp(str(&a->reasoning), str(&b->reasoning)) && !strcmp(ca, cb);
    for (size_t i = 0; eq && i < a->n_calls; i++)
        eq = a->calls[i].index == (int32_t)i && !strcmp(a->calls[i].id, b->calls[i].id);
    free(ca);
    free(cb);
    return eq;
}

static void test_cases(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const tcase *c = &cases[i];
        tc_delta whole = {0};
        CHECKF(run_split(c, NULL, 0, &whole), "%s: parse", c->what);
        char *calls = calls_text(&whole);
        CHECKF(!strcmp(str(&whole.content), c->content), "%s: content '%s'", c->what,
               str(&whole.content));
        CHECKF(!strcmp(str(&whole.reasoning), c->reasoning), "%s: reasoning '%s'", c->what,
               str(&whole.reasoning));
        CHECKF(!strcmp(calls, c->calls), "%s: calls '%s'", c->what, calls);
        for (size_t k = 0; k < whole.n_calls; k++) {
            const char *id = whole.calls[k].id;
            CHECKF(c->family == TC_MISTRAL ? strlen(id) == 9 : !strncmp(id, "call_", 5),
                   "%s: id %s", c->what, id);
        }
        free(calls);
        /* Every byte its own piece, then every split into three pieces. */
        size_t len = strlen(c->text);
        size_t *cuts = malloc((len + 1) * sizeof *cuts);
        for (size_t k = 0; k < len; k++)
            cuts[k] = k + 1;
        tc_delta bytes = {0};
        CHECKF(run_split(c, cuts, len ? len - 1 : 0, &bytes) && same(&whole, &bytes),
               "%s: byte by byte gives content '%s'", c->what, str(&bytes.content));
        tc_delta_reset(&bytes);
        bool all = true;
        for (size_t a = 1; a < len && all; a++)
            for (size_t b = a; b < len && all; b += 3) {
                size_t two[2] = {a, b};
                tc_delta t = {0};
                all = run_split(c, two, 2, &t) && same(&whole, &t);
                if (!all) fprintf(stderr, "  split at %zu, %zu\n", a, b);
                tc_delta_reset(&t);
            }
        CHECKF(all, "%s: pieces give the whole result", c->what);
        free(cuts);
        tc_delta_reset(&whole);
    }
}

/* Streaming: argument fragments go out as they arrive, text that may open a marker waits. */
static void test_incremental(void) {
    tcase c = {"", TC_HERMES, false, false, false, "", "", "", ""};
    tc_parser *p = parser(&c);
    bb_error err = {0};
    tc_delta d = {0};
    CHECK(tc_parser_feed(p, "Hi <tool", 8, &d, &err));
    CHECK(!strcmp(str(&d.content), "Hi") && d.n_calls == 0);
    tc_delta_reset(&d);
    const char *t = "_call>{\"name\": \"f\", \"arguments\": {\"a\": ";
    CHECK(tc_parser_feed(p, t, strlen(t), &d, &err));
    CHECK(d.content.len == 0 && d.n_calls >= 1 && d.calls[0].header &&
          !strcmp(d.calls[0].name, "f"));
    char *args = calls_text(&d);
    CHECKF(strstr(args, "{\"a\": ") != NULL, "fragment so far: %s", args);
    free(args);
    tc_delta_reset(&d);
    CHECK(tc_parser_feed(p, "1}}", 3, &d, &err));
    CHECK(d.n_calls == 1 && !d.calls[0].header && !strcmp(str(&d.calls[0].args), "1}"));
    tc_delta_reset(&d);
    CHECK(tc_parser_finish(p, &d, &err) && tc_parser_n_calls(p) == 1);
    tc_delta_reset(&d);
    tc_parser_free(p);
}

static void test_prefix_and_instructions(void) {
    char *s = tc_forced_prefix(TC_HERMES, "get \"x\"");
    CHECK(s && !strcmp(s, "<tool_call>\n{\"name\": \"get \\\"x\\\"\", \"arguments\": "));
    free(s);
    s = tc_forced_prefix(TC_MISTRAL, NULL);
    CHECK(s && !strcmp(s, "[TOOL_CALLS]["));
    free(s);
    /* A forced prefix fed to the parser, then the model's continuation, is a call. */
    tc_family fams[] = {TC_HERMES,      TC_LLAMA3,          TC_MISTRAL,   TC_DEEPSEEK,
                        TC_FUNCTIONARY, TC_FUNCTIONARY_V32, TC_COMMAND_R, TC_GENERIC};
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        char *pre = tc_forced_prefix(fams[i], "get_weather");
        tc_config cfg = {.family = fams[i], .parallel = true};
        tc_parser *p = tc_parser_new(&cfg);
        bb_error err = {0};
        tc_delta total = {0}, d = {0};
        const char *rest = fams[i] == TC_DEEPSEEK ? "{\"city\": \"Oslo\"}\n```<｜tool▁call▁end｜>"
                           : fams[i] == TC_GENERIC   ? "{\"city\": \"Oslo\"}}]}"
                           : fams[i] == TC_COMMAND_R ? "{\"city\": \"Oslo\"}}]<|END_ACTION|>"
                                                     : "{\"city\": \"Oslo\"}}";
        bool ok =
            pre && tc_parser_feed(p, pre, strlen(pre), &d, &err) && tc_delta_merge(&total, &d);
        tc_delta_reset(&d);
        ok = ok && tc_parser_feed(p, rest, strlen(rest), &d, &err) && tc_delta_merge(&total, &d);
        tc_delta_reset(&d);
        ok = ok && tc_parser_finish(p, &d, &err) && tc_delta_merge(&total, &d);
        tc_delta_reset(&d);
        char *calls = calls_text(&total);
        CHECKF(ok && (!strcmp(calls, "get_weather\t{\"city\": \"Oslo\"}\n") ||
                      !strcmp(calls, "get_weather\t{\"city\":\"Oslo\"}\n")),
               "%s forced: '%s'", tc_family_name(fams[i]), calls);
        free(calls);
        tc_delta_reset(&total);
        tc_parser_free(p);
        free(pre);
    }
    s = tc_instructions(TC_GENERIC, "[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]");
    CHECK(s && strstr(s, "\"name\":\t\"f\"") && strstr(s, "tool_calls"));
    free(s);
}

static void test_detect(void) {
    const char *dir = tu_testdata();
    if (!dir) {
        tu_skip("tool-call family detection on real templates");
        return;
    }
    static const struct {
        const char *file;
        tc_family family;
        bool renders_tools, think;
    } want[] = {
        {"Qwen-Qwen2.5-7B-Instruct.jinja", TC_HERMES, true, false},
        {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", TC_HERMES, true, false},
        {"meta-llama-Llama-3.1-8B-Instruct.jinja", TC_LLAMA3, true, false},
        {"meta-llama-Llama-3.2-3B-Instruct.jinja", TC_LLAMA3, true, false},
        {"mistralai-Mistral-Nemo-Instruct-2407.jinja", TC_MISTRAL, true, false},
        {"llama-cpp-deepseek-r1.jinja", TC_DEEPSEEK, true, true},
        {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", TC_DEEPSEEK, false, true},
        {"meetkai-functionary-medium-v3.1.jinja", TC_FUNCTIONARY, true, false},
        {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", TC_COMMAND_R, true, false},
        {"google-gemma-2-2b-it.jinja", TC_GENERIC, false, false},
        {"microsoft-Phi-3.5-mini-instruct.jinja", TC_GENERIC, false, false},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/chat/%s", dir, want[i].file);
        char *t = tu_read_file(path, NULL);
        if (!t) {
            printf("SKIP: %s (absent)\n", want[i].file);
            continue;
        }
        const char *o, *c;
        CHECKF(tc_detect_family(t) == want[i].family, "%s: family %s", want[i].file,
               tc_family_name(tc_detect_family(t)));
        CHECKF(tc_template_renders_tools(t) == want[i].renders_tools, "%s: renders tools",
               want[i].file);
        CHECKF(tc_detect_reasoning(t, &o, &c) == want[i].think, "%s: reasoning", want[i].file);
        free(t);
    }
}

static void test_grammar(void) {
    const char *tools =
        "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
        "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, "
        "\"required\": [\"city\"]}}}, {\"type\": \"function\", \"function\": {\"name\": "
        "\"now\"}}]";
    char *g = NULL;
    bb_error err = {0};
    CHECK(tc_tool_grammar(TC_HERMES, tools, NULL, true, NULL, &g, &err) == BB_OK);
    CHECKF(g && strstr(g, "root ::= call+") && strstr(g, "\"<tool_call>\\n{") &&
               strstr(g, "\\\"get_weather\\\"") && strstr(g, "\\\"now\\\"") &&
               strstr(g, "args-0 ::="),
           "hermes grammar:\n%s", g ? g : "");
    free(g);
    CHECK(tc_tool_grammar(TC_MISTRAL, tools, "now", false, NULL, &g, &err) == BB_OK);
    CHECKF(g && strstr(g, "root ::= \"[TOOL_CALLS][\" call \"]\"") && !strstr(g, "get_weather"),
           "mistral named grammar:\n%s", g ? g : "");
    free(g);
    CHECK(tc_tool_grammar(TC_HERMES, tools, "nope", true, NULL, &g, &err) ==
              BB_ERR_INVALID_ARGUMENT &&
          strstr(err.message, "nope"));
    CHECK(tc_tool_grammar(TC_HERMES, "[{\"type\": \"function\"}]", NULL, true, NULL, &g, &err) ==
          BB_ERR_INVALID_ARGUMENT);
}

int main(void) {
    test_cases();
    test_incremental();
    test_prefix_and_instructions();
    test_detect();
    test_grammar();
    return tu_finish("test_toolcall");
}
