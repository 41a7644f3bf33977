/* Grammar engine: GBNF parsing and errors, acceptance of sentences at the engine level, JSON
 * schema compilation, the token mask against a brute-force check over a small vocabulary, UTF-8
 * split across tokens, and masks over a real tokenizer when ../shared/testdata has one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/tool_grammar.h"
#include "common/strbuf.h"
#include "grammar/grammar.h"
#include "testutil.h"

static bb_grammar *gbnf(const char *text) {
    bb_grammar *g = NULL;
    bb_error err = {0};
    bb_status st = bb_grammar_parse_gbnf(text, strlen(text), NULL, &g, &err);
    CHECKF(st == BB_OK, "grammar failed: %s\n%s", err.message, text);
    return g;
}

static void expect(const bb_grammar *g, const char *s, bool ok, const char *what) {
    CHECKF(bb_grammar_accepts(g, s, strlen(s)) == ok, "%s: \"%s\" should be %s", what, s,
           ok ? "accepted" : "rejected");
}

static void cases(const char *what, const char *grammar, const char *const *good,
                  const char *const *bad) {
    bb_grammar *g = gbnf(grammar);
    if (!g) return;
    for (; *good; good++)
        expect(g, *good, true, what);
    for (; *bad; bad++)
        expect(g, *bad, false, what);
    bb_grammar_unref(g);
}

static const char JSON_GBNF[] =
    "root   ::= object\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "object ::=\n"
    "  \"{\" ws (\n"
    "            string \":\" ws value\n"
    "    (\",\" ws string \":\" ws value)*\n"
    "  )? \"}\" ws\n"
    "array  ::=\n"
    "  \"[\" ws (\n"
    "            value\n"
    "    (\",\" ws value)*\n"
    "  )? \"]\" ws\n"
    "string ::=\n"
    "  \"\\\"\" (\n"
    "    [^\"\\\\\\x7F\\x00-\\x1F] |\n"
    "    \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) # escapes\n"
    "  )* \"\\\"\" ws\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)? ws\n"
    "# Optional space: by convention, applied in this grammar after literal chars when allowed\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

static void test_gbnf_languages(void) {
    const char *json_good[] = {"{}",
                               "{\"a\": 1}",
                               "{\"a\": [1, 2.5e3, \"x\"], \"b\": {\"c\": null}}",
                               "{\"k\": \"\\u00e9\\n\", \"t\": true}",
                               "{\"é\": \"日本\"}",
                               NULL};
    const char *json_bad[] = {
        "",  "{", "{\"a\" 1}", "[1]", "{\"a\": 01x}", "{\"a\": \"\x01\"}", "{} {}", "{\"a\": tru}",
        NULL};
    cases("json", JSON_GBNF, json_good, json_bad);

    const char *arith = "root  ::= (expr \"=\" ws term \"\\n\")+\n"
                        "expr  ::= term ([-+*/] ws term)*\n"
                        "term  ::= ident | num | \"(\" ws expr \")\" ws\n"
                        "ident ::= [a-z] [a-z0-9_]* ws\n"
                        "num   ::= [0-9]+ ws\n"
                        "ws    ::= [ \\t\\n]*\n";
    const char *arith_good[] = {"1+2=3\n", "(a + b)*c = x1\n", "x=1\n(1)/(2)=y\n", NULL};
    const char *arith_bad[] = {"1+=3\n", "1+2=3", "(1+2=3\n", "A=1\n", NULL};
    cases("arithmetic", arith, arith_good, arith_bad);

    const char *list = "root ::= item+\n"
                       "# one item a line\n"
                       "item ::= \"- \" [^\\r\\n\\x0b\\x0c\\x85\\u2028\\u2029]+ \"\\n\"\n";
    const char *list_good[] = {"- one\n", "- one\n- two three\n- ünï\n", NULL};
    const char *list_bad[] = {"", "- \n", "-one\n", "- one", "- a\u2028b\n", NULL};
    cases("list", list, list_good, list_bad);

    const char *clike =
        "root ::= (declaration)*\n"
        "declaration ::= dataType identifier \"(\" parameter? \")\" \"{\" statement* \"}\"\n"
        "dataType  ::= \"int\" ws | \"float\" ws | \"char\" ws\n"
        "identifier ::= [a-zA-Z_] [a-zA-Z_0-9]*\n"
        "parameter ::= dataType identifier\n"
        "statement ::=\n"
        "    ( dataType identifier ws \"=\" ws expression \";\" )\n"
        "  | ( identifier ws \"=\" ws expression \";\" )\n"
        "  | ( identifier ws \"(\" argList? \")\" \";\" )\n"
        "  | ( \"return\" ws expression \";\" )\n"
        "  | ( \"while\" \"(\" condition \")\" \"{\" statement* \"}\" )\n"
        "  | ( \"for\" \"(\" forInit \";\" ws condition \";\" ws forUpdate \")\" \"{\" statement* "
        "\"}\" )\n"
        "  | ( \"if\" \"(\" condition \")\" \"{\" statement* \"}\" (\"else\" \"{\" statement* "
        "\"}\")? )\n"
        "  | ( singleLineComment )\n"
        "  | ( multiLineComment )\n"
        "forInit ::= dataType identifier ws \"=\" ws expression | identifier ws \"=\" ws "
        "expression\n"
        "forUpdate ::= identifier ws \"=\" ws expression\n"
        "condition ::= expression relationOperator expression\n"
        "relationOperator ::= (\"<=\" | \"<\" | \"==\" | \"!=\" | \">=\" | \">\")\n"
        "expression ::= term ((\"+\" | \"-\") term)*\n"
        "term ::= factor((\"*\" | \"/\") factor)*\n"
        "factor ::= identifier | number | unaryTerm | funcCall | parenExpression\n"
        "unaryTerm ::= \"-\" factor\n"
        "funcCall ::= identifier \"(\" argList? \")\"\n"
        "parenExpression ::= \"(\" ws expression ws \")\"\n"
        "argList ::= expression (\",\" ws expression)*\n"
        "number ::= [0-9]+\n"
        "singleLineComment ::= \"//\" [^\\n]* \"\\n\"\n"
        "multiLineComment ::= \"/*\" ( [^*] | (\"*\" [^/]) )* \"*/\"\n"
        "ws ::= ([ \\t\\n]+)\n";
    const char *c_good[] = {"int main(){return 0;}",
                            "int f(int x){int y = x*2;while(y<10){y = y+1;}return y;}",
                            "float g(){// hi\nif(a==b){x = f(1, 2);}else{x = 3;}return x;}", NULL};
    const char *c_bad[] = {"int main(){return 0}", "int main()", "main(){}", "int f(){x = ;}",
                           NULL};
    cases("c-like", clike, c_good, c_bad);

    const char *uni = "root ::= [\\u4E00-\\u9FFF]+ [\\U0001F600-\\U0001F64F]? [^\\x00-\\x7F]*\n";
    const char *uni_good[] = {"日本", "中文😀", "字😀é", "語ÿ", NULL};
    const char *uni_bad[] = {"", "a", "😀", "日a", "日\xe6\x97", NULL};
    cases("unicode", uni, uni_good, uni_bad);

    const char *rep = "root ::= \"ab\"{2,3} x{0,2} \"!\"? [0-9]{3}\nx ::= \"c\"\n";
    const char *rep_good[] = {"abab123", "ababab123", "ababcc!123", NULL};
    const char *rep_bad[] = {"ab123", "abababab123", "ababccc123", "abab12", "abab1234", NULL};
    cases("repetition", rep, rep_good, rep_bad);

    const char *dot = "root ::= . . \"\\x41\" \"\\u00e9\"  # any two, then Aé\n";
    const char *dot_good[] = {"xyAé", "😀\nAé", NULL};
    const char *dot_bad[] = {"xAé", "xyAe", NULL};
    cases("dot", dot, dot_good, dot_bad);
}

static void expect_error(const char *text, const char *needle) {
    bb_grammar *g = NULL;
    bb_error err = {0};
    bb_status st = bb_grammar_parse_gbnf(text, strlen(text), NULL, &g, &err);
    CHECKF(st != BB_OK && strstr(err.message, needle), "\"%s\": got %s \"%s\", want \"%s\"", text,
           bb_status_name(st), err.message, needle);
    bb_grammar_unref(g);
}

static void test_gbnf_errors(void) {
    expect_error("root ::= \"abc", "line 1, column 10: unterminated string literal");
    expect_error("root ::= foo\n", "line 1, column 10: rule 'foo' is used but never defined");
    expect_error("root ::= \"a\"\nx ::= [ab\n", "line 2, column 7: unterminated character class");
    expect_error("root ::= \"a\"\n\n  x = \"b\"\n", "line 3, column 5: expected '::='");
    expect_error("root ::= ( \"a\" \n", "line 1, column 10: unclosed '('");
    expect_error("root ::= \"a\" )\n", "line 1, column 14: unmatched ')'");
    expect_error("root ::= [z-a]\n", "line 1, column 12: character range is backwards");
    expect_error("root ::= \"\\q\"\n", "line 1, column 11: unknown escape '\\q'");
    expect_error("root ::= \"\\u12\"\n", "'\\u' needs 4 hexadecimal digits");
    expect_error("root ::= * \"a\"\n", "line 1, column 10: '*' has nothing to repeat");
    expect_error("root ::= \"a\"{3,2}\n", "the maximum is below the minimum");
    expect_error("root ::= \"a\"{99999}\n", "above the limit");
    expect_error("root ::= root \"a\" | \"b\"\n", "rule 'root' is left-recursive");
    expect_error("root ::= x\nx ::= y? \"a\" | \"b\"\ny ::= x\n", "left-recursive");
    expect_error("root ::= (\"\")*\n", "left-recursive");
    expect_error("a ::= \"x\"\n", "no rule 'root'");
    expect_error("root ::= \"a\"\nroot ::= \"b\"\n",
                 "line 2, column 1: rule 'root' is defined twice");
    expect_error("", "no rules");
    expect_error("root ::= []\n", "empty character class");
    expect_error("root ::= \"\xff\"\n", "invalid UTF-8");
    char deep[2000] = "root ::= ";
    for (int i = 0; i < 600; i++)
        strcat(deep, "(");
    expect_error(deep, "nested deeper than 256");
}

/* ---- JSON schema */

static bb_grammar *schema(const char *s) {
    bb_grammar *g = NULL;
    bb_error err = {0};
    bb_status st = bb_grammar_from_json_schema(s, strlen(s), &g, &err);
    CHECKF(st == BB_OK, "schema failed: %s\n%s", err.message, s);
    return g;
}

static void schema_cases(const char *s, const char *const *good, const char *const *bad) {
    bb_grammar *g = schema(s);
    if (!g) return;
    for (; *good; good++)
        expect(g, *good, true, s);
    for (; *bad; bad++)
        expect(g, *bad, false, s);
    bb_grammar_unref(g);
}

static void schema_error(const char *s, const char *needle) {
    bb_grammar *g = NULL;
    bb_error err = {0};
    bb_status st = bb_grammar_from_json_schema(s, strlen(s), &g, &err);
    CHECKF(st != BB_OK && strstr(err.message, needle), "%s: got \"%s\", want \"%s\"", s,
           err.message, needle);
    bb_grammar_unref(g);
}

/* Two schemas' rules named apart, in one grammar. */
static void test_named_schemas(void) {
    const char *a = "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, "
                    "\"required\": [\"city\"], \"additionalProperties\": false}";
    const char *b = "{\"type\": \"array\", \"items\": {\"type\": \"integer\", \"minimum\": 0, "
                    "\"maximum\": 9}, \"maxItems\": 2}";
    char *ga = NULL, *gb = NULL;
    bb_error err = {0};
    CHECK(bb_json_schema_to_gbnf_named(a, strlen(a), "weather", &ga, &err) == BB_OK);
    CHECK(bb_json_schema_to_gbnf_named(b, strlen(b), "digits_2", &gb, &err) == BB_OK);
    char *none = NULL;
    CHECK(bb_json_schema_to_gbnf_named(b, strlen(b), "bad name", &none, &err) != BB_OK && !none);
    if (ga && gb) {
        size_t n = strlen(ga) + strlen(gb) + 200;
        char *all = malloc(n);
        snprintf(
            all, n,
            "root ::= \"<call>\" ( \"w \" weather-root | \"d \" digits_2-root ) \"</call>\"\n%s%s",
            ga, gb);
        bb_grammar *g = gbnf(all);
        if (g) {
            expect(g, "<call>w {\"city\": \"Oslo\"}</call>", true, "named");
            expect(g, "<call>d [1, 9]</call>", true, "named");
            expect(g, "<call>d [10]</call>", false, "named");
            expect(g, "<call>w [1]</call>", false, "named");
            bb_grammar_unref(g);
        }
        free(all);
    }
    free(ga);
    free(gb);
}

/* The chat module's forced-call grammars, with this compiler for the arguments, are grammars
 * this parser takes, for every template family. */
static void test_tool_grammars(void) {
    const char *tools =
        "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": "
        "{\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"unit\": "
        "{\"enum\": [\"c\", \"f\"]}}, \"required\": [\"city\"]}}}, {\"type\": \"function\", "
        "\"function\": {\"name\": \"now\"}}]";
    for (int f = TC_HERMES; f <= TC_GENERIC; f++) {
        for (int parallel = 0; parallel < 2; parallel++) {
            char *text = NULL;
            bb_error err = {0};
            bb_status st = tc_tool_grammar((tc_family)f, tools, parallel ? NULL : "get_weather",
                                           parallel, bb_json_schema_gbnf_rule, &text, &err);
            CHECKF(st == BB_OK, "%s: %s", tc_family_name((tc_family)f), err.message);
            bb_grammar *g = NULL;
            if (text) {
                st = bb_grammar_parse_gbnf(text, strlen(text), NULL, &g, &err);
                CHECKF(st == BB_OK, "%s grammar: %s\n%s", tc_family_name((tc_family)f), err.message,
                       text);
            }
            bb_grammar_matcher *m = NULL;
            if (g) CHECK(bb_grammar_matcher_new(g, NULL, &m, &err) == BB_OK);
            bb_grammar_matcher_free(m);
            bb_grammar_unref(g);
            free(text);
        }
    }
    char *hermes = NULL;
    bb_error err = {0};
    if (tc_tool_grammar(TC_HERMES, tools, "get_weather", false, bb_json_schema_gbnf_rule, &hermes,
                        &err) == BB_OK) {
        bb_grammar *g = gbnf(hermes);
        if (g) { /* what a Hermes-style call looks like, as its grammar spells it */
            bool any = false;
            const char *calls[] = {"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                   "{\"city\": \"Oslo\"}}\n</tool_call>",
                                   "<tool_call>{\"name\": \"get_weather\", \"arguments\": "
                                   "{\"city\": \"Oslo\"}}</tool_call>",
                                   "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                   "{\"city\": \"Oslo\"}}</tool_call>"};
            for (size_t i = 0; i < 3; i++)
                any |= bb_grammar_accepts(g, calls[i], strlen(calls[i]));
            CHECKF(any, "hermes grammar accepts no call:\n%s", hermes);
            expect(g,
                   "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"town\": "
                   "1}}\n</tool_call>",
                   false, "hermes");
            bb_grammar_unref(g);
        }
    }
    free(hermes);
}

static void test_schema(void) {
    {
        const char *good[] = {"{\"name\": \"Ann\", \"age\": 3}",
                              "{\"name\":\"\",\"age\":-1,\"tags\":[]}",
                              "{\"name\": \"x\", \"age\": 0, \"tags\": [\"a\", \"b\"]}", NULL};
        const char *bad[] = {"{\"age\": 3}",
                             "{\"name\": \"x\"}",
                             "{\"age\": 3, \"name\": \"x\"}",
                             "{\"name\": \"x\", \"age\": 1.5}",
                             "{\"name\": 1, \"age\": 1}",
                             "{\"name\": \"x\", \"age\": 1, \"other\": 1}",
                             "{\"name\": \"x\", \"age\": 1, \"tags\": [1]}",
                             NULL};
        schema_cases("{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}, "
                     "\"age\": {\"type\": \"integer\"}, \"tags\": {\"type\": \"array\", \"items\": "
                     "{\"type\": \"string\"}}}, \"required\": [\"name\", \"age\"], "
                     "\"additionalProperties\": false}",
                     good, bad);
    }
    { /* optional properties only: any subset, in order, commas right */
        const char *good[] = {
            "{}", "{\"a\": 1}", "{\"b\": 2}", "{\"a\": 1, \"c\": 3}", "{\"a\":1,\"b\":2,\"c\":3}",
            NULL};
        const char *bad[] = {"{,}", "{\"a\": 1,}", "{, \"b\": 2}", "{\"b\": 2, \"a\": 1}", NULL};
        schema_cases("{\"properties\": {\"a\": {\"const\": 1}, \"b\": {\"const\": 2}, \"c\": "
                     "{\"const\": 3}}}",
                     good, bad);
    }
    {
        const char *good[] = {"\"red\"", "42", "null", "[1,\"x\"]", NULL};
        const char *bad[] = {"\"blue\"", "43", "[1]", NULL};
        schema_cases("{\"anyOf\": [{\"enum\": [\"red\", 42, null]}, {\"const\": [1, \"x\"]}]}",
                     good, bad);
    }
    {
        const char *good[] = {"[1, 2]", "[1,2,3]", NULL};
        const char *bad[] = {"[]", "[1]", "[1, 2, 3, 4]", NULL};
        schema_cases("{\"type\": \"array\", \"items\": {\"type\": \"integer\"}, \"minItems\": 2, "
                     "\"maxItems\": 3}",
                     good, bad);
    }
    { /* integer bounds */
        const char *good[] = {"-12", "-1", "0", "7", "99", "100", "250", NULL};
        const char *bad[] = {"-13", "251", "1000", "-0", "007", "1e2", NULL};
        schema_cases("{\"type\": \"integer\", \"minimum\": -12, \"maximum\": 250}", good, bad);
        const char *good2[] = {"18", "19", "99", "100", "123456", NULL};
        const char *bad2[] = {"17", "5", "-20", NULL};
        schema_cases("{\"type\": \"integer\", \"exclusiveMinimum\": 17}", good2, bad2);
        const char *good3[] = {"0", "2", "2.5", "3", NULL};
        const char *bad3[] = {"3.5", "-1", "4", NULL};
        schema_cases("{\"type\": \"number\", \"minimum\": 0, \"maximum\": 3}", good3, bad3);
    }
    { /* strings */
        const char *good[] = {"\"ab\"", "\"a\\\"c\"", "\"日本語\"", NULL};
        const char *bad[] = {"\"a\"", "\"abcd\"", "\"a\"\"", "\"\\ud83d\\ude00\"", NULL};
        schema_cases("{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}", good, bad);
        const char *good2[] = {"\"2024-02-28\"", "\"1999-12-31\"", NULL};
        const char *bad2[] = {"\"2024-02-30\"", "\"2024-13-01\"", "\"24-01-01\"", NULL};
        schema_cases("{\"type\": \"string\", \"format\": \"date\"}", good2, bad2);
        const char *good3[] = {"\"2024-01-01T12:30:00Z\"", "\"2024-01-01T23:59:59.5+01:00\"", NULL};
        const char *bad3[] = {"\"2024-01-01T24:00:00Z\"", "\"2024-01-01 12:00:00Z\"", NULL};
        schema_cases("{\"type\": \"string\", \"format\": \"date-time\"}", good3, bad3);
        const char *good4[] = {"\"123e4567-e89b-12d3-a456-426614174000\"", NULL};
        const char *bad4[] = {"\"123e4567e89b12d3a456426614174000\"", NULL};
        schema_cases("{\"format\": \"uuid\"}", good4, bad4);
        const char *good5[] = {"\"ann.lee@example.com\"", NULL};
        const char *bad5[] = {"\"ann@\"", "\"@x.org\"", NULL};
        schema_cases("{\"type\": \"string\", \"format\": \"email\"}", good5, bad5);
    }
    { /* pattern */
        const char *good[] = {"\"AB-123\"", "\"Z-0\"", NULL};
        const char *bad[] = {"\"ab-123\"", "\"AB-\"", "\"AB-123x\"", NULL};
        schema_cases("{\"type\": \"string\", \"pattern\": \"^[A-Z]{1,2}-\\\\d+$\"}", good, bad);
        const char *good2[] = {"\"xx cat yy\"", "\"cat\"", "\"dog\"", "\"a \\\" dog\"", NULL};
        const char *bad2[] = {"\"ca t\"", "\"\"", NULL};
        schema_cases("{\"type\": \"string\", \"pattern\": \"(cat|dog)\"}", good2, bad2);
        const char *good3[] = {"\"a\\\"\"", "\"a\\\\\"", "\"a\\u000a\"", NULL};
        const char *bad3[] = {"\"ab\"", NULL};
        schema_cases("{\"type\": \"string\", \"pattern\": \"^a[^b-z]$\"}", good3, bad3);
    }
    { /* $ref, $defs, recursion */
        const char *good[] = {"{\"v\": 1}", "{\"v\": 1, \"next\": {\"v\": 2}}", NULL};
        const char *bad[] = {"{\"next\": {}}", "{\"v\": 1, \"next\": {\"v\": \"x\"}}", NULL};
        schema_cases("{\"$ref\": \"#/$defs/node\", \"$defs\": {\"node\": {\"type\": \"object\", "
                     "\"properties\": {\"v\": {\"type\": \"integer\"}, \"next\": {\"$ref\": "
                     "\"#/$defs/node\"}}, \"required\": [\"v\"]}}}",
                     good, bad);
    }
    { /* json_object: any object */
        bb_grammar *g = NULL;
        bb_error err = {0};
        CHECK(bb_grammar_json_object(&g, &err) == BB_OK);
        if (g) {
            expect(g, "{\"a\": [1, {\"b\": null}], \"c\": \"x\"}", true, "json_object");
            expect(g, "[1]", false, "json_object");
            expect(g, "{\"a\" : }", false, "json_object");
            bb_grammar_unref(g);
        }
    }
    schema_error("{\"type\": \"string\", \"multipleOf\": 2}", "unsupported keyword 'multipleOf'");
    schema_error("{\"properties\": {\"a\": {\"not\": {}}}}",
                 "json schema at /properties/a: unsupported keyword 'not'");
    schema_error("{\"type\": \"object\", \"patternProperties\": {}}", "'patternProperties'");
    schema_error("{\"allOf\": [{}, {}]}", "'allOf'");
    schema_error("{\"type\": \"array\", \"uniqueItems\": true}", "'uniqueItems'");
    schema_error("{\"type\": \"strin\"}", "unknown 'type' \"strin\"");
    schema_error("{\"$ref\": \"#/$defs/missing\"}", "does not point into the schema");
    schema_error("{\"type\": \"string\", \"format\": \"color\"}", "unsupported 'format' \"color\"");
    schema_error("{\"type\": \"string\", \"pattern\": \"(?=a)\"}", "lookaround");
    schema_error("{\"type\": \"string\", \"pattern\": \"(a)\\\\1\"}", "back-references");
    schema_error("{\"type\": \"integer\", \"minimum\": 5, \"maximum\": 4}", "no integer");
    schema_error("{\"type\": \"object\", \"properties\": {}, \"required\": [\"x\"]}", "'x'");
    schema_error("{\"type\": ", "invalid JSON");
    schema_error("{\"$ref\": \"#/$defs/a\", \"type\": \"string\", \"$defs\": {\"a\": {}}}",
                 "keyword 'type' beside '$ref'");
    schema_error("{\"type\": \"string\", \"enum\": [1, 2]}", "no 'enum' value");
    {
        const char *good[] = {"\"a\"", NULL};
        const char *bad[] = {"1", NULL};
        schema_cases("{\"type\": \"string\", \"enum\": [\"a\", 1]}", good, bad);
    }
}

/* ---- masks against brute force */

/* A small vocabulary with tokens that split UTF-8 characters, multi-character tokens, and
 * tokens of JSON syntax. */
static const char *const SMALL[] = {
    "{",    "}",    "\"",   ":",        ",",      " ",        "\n",   "[",        "]",
    "a",    "b",    "ab",   "\"a",      "a\"",    "\":",      "\": ", "1",        "12",
    "-",    "0",    ".",    "e",        "true",   "tr",       "ue",   "null",     "n",
    "\xe6", "\x97", "\xa5", "\xe6\x97", "\xa5\"", "日",       "本",   "\xf0\x9f", "\x98\x80",
    "😀",    "é",    "\xc3", "\xa9",     "{\"",    "\"}",      "\\",   "\\n",      "\\u",
    "00",   "e9",   "x",    "name",     "age",    "\"name\"", " \"",  ", \"",     "}\n",
};
#define N_SMALL (int32_t)(sizeof SMALL / sizeof SMALL[0])

/* The allowed set of a matcher must be exactly the tokens whose bytes accept_bytes takes, and
 * end-of-generation exactly when a sentence may end. Walks random allowed tokens. */
static void brute_force(bb_grammar *g, const char *what, uint64_t seed, int steps) {
    int32_t n = N_SMALL + 1; /* the last token is end-of-generation */
    const char *pieces[N_SMALL + 1];
    size_t lens[N_SMALL + 1];
    bool eog[N_SMALL + 1] = {0};
    for (int32_t i = 0; i < N_SMALL; i++) {
        pieces[i] = SMALL[i];
        lens[i] = strlen(SMALL[i]);
    }
    pieces[N_SMALL] = "";
    lens[N_SMALL] = 0;
    eog[N_SMALL] = true;
    bb_grammar_vocab *tv = NULL;
    bb_error err = {0};
    CHECK(bb_grammar_vocab_from_pieces(n, pieces, lens, eog, &tv, &err) == BB_OK);
    bb_grammar_matcher *m = NULL;
    CHECK(bb_grammar_matcher_new(g, tv, &m, &err) == BB_OK);
    char hist[4096] = "";
    size_t hl = 0;
    uint64_t x = seed;
    for (int step = 0; m && tv && step < steps; step++) {
        int32_t count;
        bb_token single;
        const uint32_t *bits = bb_grammar_matcher_mask(m, &count, &single);
        CHECK(bits != NULL);
        if (!bits) break;
        int32_t allowed[N_SMALL + 1], na = 0;
        for (int32_t t = 0; t < n; t++) {
            bool in = bits[t / 32] >> (t % 32) & 1;
            bool want;
            if (t == N_SMALL) {
                want = bb_grammar_matcher_can_end(m);
            } else { /* brute force: a fresh matcher fed the history, then the token */
                bb_grammar_matcher *b = NULL;
                bb_grammar_matcher_new(g, NULL, &b, NULL);
                want = b && bb_grammar_matcher_accept_bytes(b, hist, hl) &&
                       bb_grammar_matcher_accept_bytes(b, pieces[t], lens[t]);
                bb_grammar_matcher_free(b);
            }
            CHECKF(in == want, "%s: after \"%s\": token %d \"%s\" mask %d, brute force %d", what,
                   hist, t, pieces[t], in, want);
            if (in) allowed[na++] = t;
        }
        CHECK(count == na && (na == 1 ? single == allowed[0] : single == -1));
        if (na == 0) break;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int32_t pick = allowed[(x >> 33) % (uint64_t)na];
        if (pick == N_SMALL) {
            CHECK(bb_grammar_matcher_accept(m, pick) && bb_grammar_matcher_finished(m));
            break;
        }
        CHECK(bb_grammar_matcher_accept(m, pick));
        if (hl + lens[pick] < sizeof hist) {
            memcpy(hist + hl, pieces[pick], lens[pick]);
            hl += lens[pick];
            hist[hl] = '\0';
        } else {
            break;
        }
    }
    bb_grammar_matcher_free(m);
    bb_grammar_vocab_free(tv);
}

static void test_masks(void) {
    bb_grammar *g = gbnf(JSON_GBNF);
    for (uint64_t seed = 1; g && seed <= 6; seed++)
        brute_force(g, "json", seed, 40);
    bb_grammar_unref(g);
    g = gbnf("root ::= \"日本\" [\\u0080-\\U0010FFFF]* \"\\\"\" | \"a\"+ \"😀\"\n");
    for (uint64_t seed = 1; g && seed <= 6; seed++)
        brute_force(g, "utf8", seed, 12);
    bb_grammar_unref(g);
    g = schema("{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", "
               "\"maxLength\": 4}, \"age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": "
               "120}}, \"required\": [\"name\"]}");
    for (uint64_t seed = 1; g && seed <= 6; seed++)
        brute_force(g, "schema", seed, 40);
    bb_grammar_unref(g);

    /* A character split over tokens: the state between holds an unfinished character. */
    g = gbnf("root ::= \"日\" \"x\"\n");
    if (g) {
        bb_grammar_matcher *m = NULL;
        CHECK(bb_grammar_matcher_new(g, NULL, &m, NULL) == BB_OK);
        CHECK(bb_grammar_matcher_accept_bytes(m, "\xe6", 1));
        CHECK(!bb_grammar_matcher_can_end(m));
        CHECK(!bb_grammar_matcher_accept_bytes(m, "\xe6", 1));
        CHECK(bb_grammar_matcher_accept_bytes(m, "\x97", 1));
        CHECK(bb_grammar_matcher_accept_bytes(m, "\xa5x", 2));
        CHECK(bb_grammar_matcher_can_end(m));
        bb_grammar_matcher_free(m);
        bb_grammar_unref(g);
    }
}

/* A long input through a grammar with a state per position: the matcher's tables outgrow their
 * limit and start over from the current state (compaction), and matching goes on exactly. */
static void test_long_input(void) {
    bb_grammar *g = gbnf("root ::= (\"a\"{0,10000} \"b\"){0,9}\n");
    bb_grammar_matcher *m = NULL;
    if (!g || bb_grammar_matcher_new(g, NULL, &m, NULL) != BB_OK) return;
    char block[1000];
    memset(block, 'a', sizeof block);
    bool ok = true;
    for (int rep = 0; rep < 8 && ok; rep++) { /* 8 x (10,000 a, then b): 80,008 states */
        for (int k = 0; k < 10 && ok; k++)
            ok = bb_grammar_matcher_accept_bytes(m, block, 1000);
        ok = ok && !bb_grammar_matcher_accept_bytes(m, "a", 1); /* the 10,001st a */
        ok = ok && bb_grammar_matcher_accept_bytes(m, "b", 1) && bb_grammar_matcher_can_end(m);
    }
    CHECKF(ok, "long input: %s", bb_grammar_matcher_error(m) ?: "refused");
    CHECK(bb_grammar_matcher_accept_bytes(m, "ab", 2) &&
          !bb_grammar_matcher_accept_bytes(m, "b", 1));
    CHECK(!bb_grammar_matcher_accept_bytes(m, "ab", 2)); /* the tenth "b" would be one too many */
    bb_grammar_matcher_free(m);
    bb_grammar_unref(g);
}

/* Masks over a real tokenizer: every allowed token's text keeps the output a prefix of the
 * language, end only when complete. */
static void test_real_vocab(void) {
    const char *td = tu_testdata();
    if (!td) {
        tu_skip("grammar masks over real tokenizers");
        return;
    }
    /* SentencePiece with byte fallback (llama-spm, phi-3), byte-level BPE (gpt-2, deepseek) */
    const char *names[] = {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-phi-3.gguf", "ggml-vocab-deepseek-llm.gguf"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tokenizer/%s", td, names[k]);
        bb_model_params mp = bb_model_default_params();
        mp.vocab_only = true;
        bb_model *model = NULL;
        bb_error err = {0};
        if (bb_model_load(path, &mp, &model, &err) != BB_OK) {
            printf("SKIP: %s (%s)\n", names[k], err.message);
            continue;
        }
        const bb_vocab *v = bb_model_vocab(model);
        bb_grammar_vocab *tv = NULL;
        CHECK(bb_grammar_vocab_new(v, &tv, &err) == BB_OK);
        bb_grammar *g = schema("{\"type\": \"object\", \"properties\": {\"city\": {\"type\": "
                               "\"string\", \"maxLength\": 6}, \"n\": {\"enum\": [1, 2, 3]}}, "
                               "\"required\": [\"city\", \"n\"]}");
        bb_grammar_matcher *m = NULL;
        if (tv && g) CHECK(bb_grammar_matcher_new(g, tv, &m, &err) == BB_OK);
        char text[512] = "";
        size_t tl = 0;
        bool ended = false;
        for (int step = 0; m && step < 64 && !ended; step++) {
            int32_t count;
            bb_token single;
            const uint32_t *bits = bb_grammar_matcher_mask(m, &count, &single);
            CHECK(bits && count > 0);
            if (!bits || count == 0) break;
            if (step < 12) { /* the trie walk against each token's own walk, every token */
                int32_t wrong = 0, nt = bb_grammar_vocab_n_tokens(tv);
                for (int32_t t = 0; t < nt; t++)
                    wrong += (bits[t / 32] >> (t % 32) & 1) != bb_grammar_matcher_allows(m, t);
                CHECKF(wrong == 0, "%s, step %d: %d tokens disagree", names[k], step, wrong);
            }
            /* the highest-id allowed token: a different walk from the brute-force one above */
            bb_token pick = -1;
            for (int32_t t = bb_grammar_vocab_n_tokens(tv) - 1; t >= 0 && pick < 0; t--)
                if (bits[t / 32] >> (t % 32) & 1) pick = t;
            if (bb_vocab_is_eog(v, pick)) {
                ended = true;
                CHECK(bb_grammar_accepts(g, text, tl));
                break;
            }
            char piece[256];
            int32_t n = bb_token_to_piece(v, pick, false, piece, sizeof piece);
            CHECK(n > 0 && bb_grammar_matcher_accept(m, pick));
            if (n <= 0 || tl + (size_t)n >= sizeof text) break;
            memcpy(text + tl, piece, (size_t)n);
            tl += (size_t)n;
            text[tl] = '\0';
        }
        CHECKF(ended, "%s: the walk ended the JSON (\"%s\")", names[k], text);
        bb_grammar_matcher_free(m);
        bb_grammar_unref(g);
        bb_grammar_vocab_free(tv);
        bb_model_free(model);
    }
}

/* Mutated grammars and schemas: every one compiles or gives an error, never a crash (the
 * sanitizer build checks memory), and what compiles can be matched. */
static void test_mutations(void) {
    static const char schema_src[] =
        "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"string\", \"pattern\": "
        "\"^[a-z]{2,4}(x|y)?$\"}, \"b\": {\"type\": \"integer\", \"minimum\": -5, "
        "\"maximum\": 300}, \"c\": {\"$ref\": \"#/$defs/c\"}}, \"required\": [\"a\"], "
        "\"$defs\": {\"c\": {\"enum\": [1, \"two\", null]}}}";
    const char *sources[2] = {JSON_GBNF, schema_src};
    uint64_t x = 12345;
    int compiled = 0, total = 0;
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(sources[k]);
        char *buf = malloc(len + 1);
        for (int iter = 0; iter < 1500; iter++) {
            memcpy(buf, sources[k], len + 1);
            for (int e = 0; e < 1 + iter % 4; e++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                size_t at = (size_t)(x >> 33) % len;
                static const char alphabet[] = "()[]{}|*+?\"\\^-.:,#\n 09az";
                buf[at] = (x >> 20) % 8 == 0 ? (char)(x >> 40)
                                             : alphabet[(x >> 24) % (sizeof alphabet - 1)];
            }
            bb_grammar *g = NULL;
            bb_error err = {0};
            bb_status st = k == 0 ? bb_grammar_parse_gbnf(buf, len, NULL, &g, &err)
                                  : bb_grammar_from_json_schema(buf, len, &g, &err);
            total++;
            CHECKF((st == BB_OK) == (g != NULL) && (st == BB_OK || err.message[0]),
                   "mutation %d: status %d without %s", iter, st, g ? "error" : "grammar");
            if (g) {
                compiled++;
                bb_grammar_accepts(g, "{\"a\": \"abx\", \"b\": 7}", 24);
                bb_grammar_accepts(g, "", 0);
            }
            bb_grammar_unref(g);
        }
        free(buf);
    }
    printf("mutations: %d of %d compiled, the rest gave errors\n", compiled, total);
}

int main(void) {
    test_gbnf_languages();
    test_gbnf_errors();
    test_schema();
    test_named_schemas();
    test_tool_grammars();
    test_masks();
    test_mutations();
    test_long_input();
    test_real_vocab();
    return tu_finish("test_grammar");
}
