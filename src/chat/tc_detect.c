/* Which tool-call syntax and thinking markers a chat template teaches, read from its text
 * (the strings its model was trained on appear in the template, as llama.cpp's
 * common_chat_templates_init also reads them), what to tell a model whose template cannot
 * describe the tools, and the text that opens a call when the request forces one. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/toolcall.h"

static bool has(const char *s, const char *what) {
    return s && strstr(s, what);
}

tc_family tc_detect_family(const char *t) {
    if (has(t, "<tool_call>")) return TC_HERMES;
    if (has(t, "[TOOL_CALLS]")) return TC_MISTRAL;
    if (has(t, "tool▁call▁begin")) return TC_DEEPSEEK;
    if (has(t, "<function=")) return TC_FUNCTIONARY;
    if (has(t, ">>>all") || (has(t, ">>>") && has(t, "<|start_header_id|>")))
        return TC_FUNCTIONARY_V32;
    if (has(t, "<|START_ACTION|>") || (has(t, "Action:") && has(t, "```json"))) return TC_COMMAND_R;
    if (has(t, "<|python_tag|>") || (has(t, "<|start_header_id|>") && has(t, "\"parameters\"")))
        return TC_LLAMA3;
    return TC_GENERIC;
}

bool tc_template_renders_tools(const char *t) {
    /* `tools` as a variable: not the "tool_calls" of past messages. */
    for (const char *s = t; s && (s = strstr(s, "tools")); s += 5) {
        char before = s == t ? ' ' : s[-1], after = s[5];
        bool ident_before = before == '_' || (before >= 'a' && before <= 'z');
        bool ident_after = after == '_' || (after >= 'a' && after <= 'z');
        if (!ident_before && !ident_after) return true;
    }
    return false;
}

bool tc_detect_reasoning(const char *t, const char **open, const char **close) {
    if (has(t, "<|START_THINKING|>")) { /* Command R7B */
        *open = "<|START_THINKING|>";
        *close = "<|END_THINKING|>";
        return true;
    }
    if (has(t, "<think>") || has(t, "</think>")) {
        *open = "<think>";
        *close = "</think>";
        return true;
    }
    *open = *close = NULL;
    return false;
}

/* How a call looks in each family, for the instructions. */
static const char *example(tc_family f) {
    switch (f) {
    case TC_HERMES:
        return "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n"
               "</tool_call>";
    case TC_LLAMA3:
        return "{\"name\": <function-name>, \"parameters\": <args-json-object>}";
    case TC_MISTRAL:
        return "[TOOL_CALLS][{\"name\": <function-name>, \"arguments\": <args-json-object>}]";
    case TC_DEEPSEEK:
        return "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜><function-name>\n"
               "```json\n<args-json-object>\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
    case TC_FUNCTIONARY:
        return "<function=<function-name>><args-json-object></function>";
    case TC_FUNCTIONARY_V32:
        return ">>><function-name>\n<args-json-object>";
    case TC_COMMAND_R:
        return "<|START_ACTION|>[{\"tool_name\": <function-name>, \"parameters\": "
               "<args-json-object>}]<|END_ACTION|>";
    default:
        return "{\"tool_calls\": [{\"name\": <function-name>, \"arguments\": "
               "<args-json-object>}]}";
    }
}

char *tc_instructions(tc_family f, const char *tools_json) {
    cJSON *tools = cJSON_Parse(tools_json ? tools_json : "[]");
    cJSON *fns = cJSON_CreateArray();
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        if (fn) cJSON_AddItemToArray(fns, cJSON_Duplicate(fn, true));
    }
    char *list = cJSON_Print(fns);
    cJSON_Delete(fns);
    cJSON_Delete(tools);
    if (!list) return NULL;
    const char *ex = example(f);
    const char *fmt =
        f == TC_GENERIC
            ? "You can call the following tools:\n%s\n\nTo call tools, reply with only a JSON "
              "object: %s\nTo answer directly, reply with {\"response\": <your answer>}."
            : "You can call the following tools:\n%s\n\nTo call a tool, reply with: %s";
    size_t n = strlen(fmt) + strlen(list) + strlen(ex) + 1;
    char *out = malloc(n);
    if (out) snprintf(out, n, fmt, list, ex);
    free(list);
    return out;
}

const char *tc_prompt_tail(tc_family f) {
    return f == TC_FUNCTIONARY_V32 ? ">>>" : NULL;
}

char *tc_forced_prefix(tc_family f, const char *name) {
    char *quoted = NULL;
    if (name) {
        cJSON *s = cJSON_CreateString(name);
        quoted = s ? cJSON_PrintUnformatted(s) : NULL;
        cJSON_Delete(s);
        if (!quoted) return NULL;
    }
    const char *fmt, *fmt_named;
    switch (f) {
    case TC_HERMES:
        fmt = "<tool_call>";
        fmt_named = "<tool_call>\n{\"name\": %s, \"arguments\": ";
        break;
    case TC_LLAMA3:
        fmt = "{\"name\": \"";
        fmt_named = "{\"name\": %s, \"parameters\": ";
        break;
    case TC_MISTRAL:
        fmt = "[TOOL_CALLS][";
        fmt_named = "[TOOL_CALLS][{\"name\": %s, \"arguments\": ";
        break;
    case TC_DEEPSEEK:
        fmt = "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>";
        fmt_named =
            "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>%s\n```json\n";
        break;
    case TC_FUNCTIONARY:
        fmt = "<function=";
        fmt_named = "<function=%s>";
        break;
    case TC_FUNCTIONARY_V32:
        fmt = ">>>";
        fmt_named = ">>>%s\n";
        break;
    case TC_COMMAND_R:
        fmt = "<|START_ACTION|>[{\"tool_name\": \"";
        fmt_named = "<|START_ACTION|>[{\"tool_name\": %s, \"parameters\": ";
        break;
    default:
        fmt = "{\"tool_calls\": [{\"name\": \"";
        fmt_named = "{\"tool_calls\": [{\"name\": %s, \"arguments\": ";
        break;
    }
    /* DeepSeek and Functionary write the name bare. */
    const char *n = quoted;
    if (name && (f == TC_DEEPSEEK || f == TC_FUNCTIONARY || f == TC_FUNCTIONARY_V32)) n = name;
    size_t len = strlen(fmt_named) + (n ? strlen(n) : 0) + 1;
    char *out = malloc(len);
    if (out) snprintf(out, len, name ? fmt_named : fmt, n);
    free(quoted);
    return out;
}
