/* GBNF for forced tool calls (see tool_grammar.h). The call syntax per family follows the
 * parsers (tc_<family>.c); arguments follow each function's JSON schema. The rules for JSON
 * values are those of llama.cpp's grammars/json.gbnf, written out here. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tool_grammar.h"
#include "common/error.h"

/* A GBNF string literal's body (without the quotes). */
static void lit(bb_strbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            bb_strbuf_printf(b, "\\%c", *s);
        else if (*s == '\n')
            bb_strbuf_append(b, "\\n", 2);
        else
            bb_strbuf_append(b, s, 1);
    }
}

static void json_str(bb_strbuf *b, const char *s) {
    cJSON *j = cJSON_CreateString(s);
    char *q = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (q)
        lit(b, q);
    else
        b->failed = true;
    free(q);
}

static const char json_rules[] =
    "value ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
    "array ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" "
    "[0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9]{1,15})? "
    "ws\n"
    "integer ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) ws\n"
    "boolean ::= (\"true\" | \"false\") ws\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

/* ---------------------------------------------------------------- built-in schemas */

static bool schema_rule(const cJSON *s, const char *rule, bb_strbuf *b, int depth, int *counter);

static void sub_rule(char *name, size_t size, const char *rule, int *counter) {
    snprintf(name, size, "%s-%d", rule, (*counter)++);
}

/* "key": value for property p, value by rule `vrule`. */
static void member(bb_strbuf *b, const char *key, const char *vrule) {
    bb_strbuf_append(b, "\"", 1);
    json_str(b, key);
    bb_strbuf_printf(b, "\" ws \":\" ws %s", vrule);
}

/* Properties in the schema's order. Required ones always appear; an optional one before the
 * first required property carries a trailing comma, one after it a leading comma. Without
 * required properties, any of them in any order (looser than the schema: a repeat passes). */
static bool object_rule(const cJSON *s, const char *rule, bb_strbuf *b, int depth, int *counter) {
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
    int n = cJSON_GetArraySize(props);
    if (!cJSON_IsObject(props) || n == 0) {
        bb_strbuf_printf(b, "%s ::= object\n", rule);
        return true;
    }
    if (n > 64) return false;
    char names[64][64];
    bool required[64];
    int first_req = -1, i = 0;
    const cJSON *p, *r;
    cJSON_ArrayForEach(p, props) {
        sub_rule(names[i], sizeof names[i], rule, counter);
        required[i] = false;
        cJSON_ArrayForEach(r, req) {
            if (cJSON_IsString(r) && !strcmp(r->valuestring, p->string)) required[i] = true;
        }
        if (required[i] && first_req < 0) first_req = i;
        i++;
    }
    bb_strbuf_printf(b, "%s ::= \"{\" ws ", rule);
    i = 0;
    if (first_req < 0) {
        bb_strbuf_append(b, "(", 1);
        for (int pass = 0; pass < 2; pass++) {
            bb_strbuf_append(b, pass ? " (\",\" ws (" : "(", pass ? 10 : 1);
            i = 0;
            cJSON_ArrayForEach(p, props) {
                if (i) bb_strbuf_append(b, " | ", 3);
                member(b, p->string, names[i++]);
            }
            bb_strbuf_append(b, pass ? "))*" : ")", pass ? 3 : 1);
        }
        bb_strbuf_append(b, ")? ", 3);
    } else {
        cJSON_ArrayForEach(p, props) {
            if (required[i]) {
                if (i > first_req) bb_strbuf_append(b, "\",\" ws ", 7);
                member(b, p->string, names[i]);
                bb_strbuf_append(b, " ", 1);
            } else if (i < first_req) {
                bb_strbuf_append(b, "(", 1);
                member(b, p->string, names[i]);
                bb_strbuf_append(b, " \",\" ws)? ", 10);
            } else {
                bb_strbuf_append(b, "(\",\" ws ", 8);
                member(b, p->string, names[i]);
                bb_strbuf_append(b, ")? ", 3);
            }
            i++;
        }
    }
    bb_strbuf_append(b, "\"}\" ws\n", 7);
    i = 0;
    cJSON_ArrayForEach(p, props) {
        if (!schema_rule(p, names[i++], b, depth + 1, counter)) return false;
    }
    return true;
}

static bool schema_rule(const cJSON *s, const char *rule, bb_strbuf *b, int depth, int *counter) {
    if (depth > 32) return false;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(s, "const");
    if (cJSON_IsArray(en) || cn) {
        bb_strbuf_printf(b, "%s ::= (", rule);
        const cJSON *v;
        int i = 0;
        cJSON *one = NULL;
        if (cn) {
            one = cJSON_CreateArray();
            cJSON_AddItemToArray(one, cJSON_Duplicate(cn, true));
            en = one;
        }
        cJSON_ArrayForEach(v, en) {
            char *t = cJSON_PrintUnformatted(v);
            if (!t) break;
            bb_strbuf_printf(b, "%s\"", i++ ? " | " : "");
            lit(b, t);
            bb_strbuf_append(b, "\"", 1);
            free(t);
        }
        cJSON_Delete(one);
        bb_strbuf_append(b, ") ws\n", 5);
        return i > 0;
    }
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    if (!strcmp(t, "object")) return object_rule(s, rule, b, depth, counter);
    if (!strcmp(t, "array")) {
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        if (!cJSON_IsObject(items)) {
            bb_strbuf_printf(b, "%s ::= array\n", rule);
            return true;
        }
        char item[64];
        sub_rule(item, sizeof item, rule, counter);
        bb_strbuf_printf(b, "%s ::= \"[\" ws (%s (\",\" ws %s)*)? \"]\" ws\n", rule, item, item);
        return schema_rule(items, item, b, depth + 1, counter);
    }
    const char *base = !strcmp(t, "string")    ? "string"
                       : !strcmp(t, "number")  ? "number"
                       : !strcmp(t, "integer") ? "integer"
                       : !strcmp(t, "boolean") ? "boolean"
                       : !strcmp(t, "null")    ? "\"null\" ws"
                                               : "value";
    bb_strbuf_printf(b, "%s ::= %s\n", rule, base);
    return true;
}

static bb_status builtin_schema(const char *schema_json, const char *rule, bb_strbuf *out,
                                bb_error *err) {
    if (!schema_json) {
        bb_strbuf_printf(out, "%s ::= object\n", rule);
        return BB_OK;
    }
    cJSON *s = cJSON_Parse(schema_json);
    int counter = 0;
    bool ok = cJSON_IsObject(s) && schema_rule(s, rule, out, 0, &counter);
    cJSON_Delete(s);
    if (!ok)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "cannot build a grammar for the parameters of '%s'", rule);
    return BB_OK;
}

/* ---------------------------------------------------------------- the call syntax */

/* How one function's call reads: text before the arguments, the arguments, text after. */
static void alternative(bb_strbuf *b, tc_family f, const char *name, const char *args_rule) {
    bb_strbuf_append(b, "\"", 1);
    switch (f) {
    case TC_DEEPSEEK:
        lit(b, name);
        lit(b, "\n```json\n");
        bb_strbuf_printf(b, "\" %s", args_rule);
        break;
    case TC_FUNCTIONARY:
        lit(b, name);
        bb_strbuf_printf(b, ">\" %s", args_rule);
        break;
    case TC_FUNCTIONARY_V32:
        lit(b, name);
        bb_strbuf_printf(b, "\\n\" %s", args_rule);
        break;
    case TC_COMMAND_R:
        json_str(b, name);
        lit(b, ", \"parameters\": ");
        bb_strbuf_printf(b, "\" %s", args_rule);
        break;
    default:
        json_str(b, name);
        lit(b, f == TC_LLAMA3 ? ", \"parameters\": " : ", \"arguments\": ");
        bb_strbuf_printf(b, "\" %s", args_rule);
        break;
    }
}

static void call_syntax(bb_strbuf *b, tc_family f, bool parallel) {
    const char *rep = parallel ? "+" : "";
    switch (f) {
    case TC_HERMES:
        bb_strbuf_printf(b,
                         "root ::= call%s\ncall ::= \"<tool_call>\\n{\\\"name\\\": \" fn "
                         "\"}\\n</tool_call>\" ws\n",
                         rep);
        break;
    case TC_LLAMA3:
        bb_strbuf_printf(b, "root ::= call%s\ncall ::= \"{\\\"name\\\": \" fn \"}\"\n",
                         parallel ? " (\"; \" call)*" : "");
        break;
    case TC_MISTRAL:
        bb_strbuf_printf(b,
                         "root ::= \"[TOOL_CALLS][\" call%s \"]\"\ncall ::= \"{\\\"name\\\": \" "
                         "fn \"}\"\n",
                         parallel ? " (\", \" call)*" : "");
        break;
    case TC_DEEPSEEK:
        bb_strbuf_printf(b,
                         "root ::= \"<｜tool▁calls▁begin｜>\" call%s \"<｜tool▁calls▁end｜>\"\n"
                         "call ::= \"<｜tool▁call▁begin｜>function<｜tool▁sep｜>\" fn "
                         "\"\\n```<｜tool▁call▁end｜>\"\n",
                         parallel ? " (\"\\n\" call)*" : "");
        break;
    case TC_FUNCTIONARY:
        bb_strbuf_printf(b, "root ::= call%s\ncall ::= \"<function=\" fn \"</function>\"\n", rep);
        break;
    case TC_FUNCTIONARY_V32:
        bb_strbuf_printf(b, "root ::= call%s\ncall ::= \">>>\" fn\n", rep);
        break;
    case TC_COMMAND_R:
        bb_strbuf_printf(b,
                         "root ::= \"<|START_ACTION|>[\" call%s \"]<|END_ACTION|>\"\ncall ::= "
                         "\"{\\\"tool_name\\\": \" fn \"}\"\n",
                         parallel ? " (\", \" call)*" : "");
        break;
    default:
        bb_strbuf_printf(b,
                         "root ::= \"{\\\"tool_calls\\\": [\" call%s \"]}\"\ncall ::= "
                         "\"{\\\"name\\\": \" fn \"}\"\n",
                         parallel ? " (\", \" call)*" : "");
        break;
    }
}

bb_status tc_tool_grammar(tc_family family, const char *tools_json, const char *only, bool parallel,
                          tc_schema_gbnf_fn schema_fn, char **out, bb_error *err) {
    *out = NULL;
    if (!schema_fn) schema_fn = builtin_schema;
    cJSON *tools = cJSON_Parse(tools_json ? tools_json : "");
    if (!cJSON_IsArray(tools)) {
        cJSON_Delete(tools);
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "tools must be a JSON array");
    }
    bb_strbuf b = {0}, rules = {0};
    call_syntax(&b, family, parallel);
    bb_strbuf_append(&b, "fn ::= ", 7);
    int n = 0, i = -1;
    bb_status st = BB_OK;
    const cJSON *t;
    cJSON_ArrayForEach(t, tools) {
        i++;
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        if (!cJSON_IsString(name) || !name->valuestring[0]) {
            st = bb_fail(err, BB_ERR_INVALID_ARGUMENT, "tools[%d].function.name is missing", i);
            break;
        }
        if (only && strcmp(only, name->valuestring)) continue;
        char rule[32];
        snprintf(rule, sizeof rule, "args-%d", i);
        if (n++) bb_strbuf_append(&b, " | ", 3);
        alternative(&b, family, name->valuestring, rule);
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
        char *schema = params ? cJSON_PrintUnformatted(params) : NULL;
        st = schema_fn(schema, rule, &rules, err);
        free(schema);
        if (st != BB_OK) break;
    }
    cJSON_Delete(tools);
    if (st == BB_OK && n == 0)
        st = bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                     only ? "no tool is named '%.100s'" : "no tools%.0s", only ? only : "");
    bb_strbuf_append(&b, "\n", 1);
    bb_strbuf_append(&b, rules.data, rules.len);
    bb_strbuf_append(&b, json_rules, sizeof json_rules - 1);
    bb_strbuf_release(&rules);
    if (st != BB_OK) {
        bb_strbuf_release(&b);
        return st;
    }
    *out = bb_strbuf_take(&b);
    return *out ? BB_OK : bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a grammar");
}
