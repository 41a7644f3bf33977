/* Chat-template interpreter tests.
 *
 * Built-in suite (always): small templates covering every construct, with expected output
 * produced by Python jinja2 configured as Hugging Face transformers configures it
 * (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, HF's tojson,
 * raise_exception, strftime_now at 2026-01-15 12:00:00); error paths (syntax errors with
 * line numbers, raise_exception, undefined values, runaway recursion, huge loops, output and
 * memory limits, deep nesting, reference cycles); the default ChatML template; the CLI.
 * Conformance (with BB_TESTDATA): every case of testdata/chat/cases.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "beanbag.h"
#include "chat/chat.h"
#include "chat/json.h"
#include "chat/value.h"
#include "testutil.h"

typedef struct fixture {
    const char *tmpl;
    const char *expected;
} fixture;

/* Generated with jinja2 3.1 (see the file comment). */
static const char fixture_messages[] =
    "[{\"role\": \"system\", \"content\": \"  Be brief.  \"}, {\"role\": \"user\", \"content\": "
    "\"Hi there\"}, {\"role\": \"assistant\", \"content\": \"Hello!\", \"n\": 3, \"f\": 1.5, "
    "\"l\": [3, 1, 2], \"d\": {\"b\": 2, \"a\": 1}}]";
static const fixture fixtures[] = {
    {"Hello {{ messages[1].content }}!", "Hello Hi there!"},
    {"line1\n    {% if true %}\n    inner\n    {% endif %}\nline2", "line1\n    inner\nline2"},
    {"a  {%- if true -%}  b  {%- endif -%}  c", "abc"},
    {"a {# c #} b\n  {# own line #}\nc{#- x -#}  d", "a  b\ncd"},
    {"  {%+ if true %}keep{% endif %}\n  {% if true +%}\nx\n{% endif %}", "  keep\nx\n"},
    {"{{ 'v' }}   {% if true %}\nz\n{% endif %}", "v   z\n"},
    {"{% raw %}{{ not rendered }}{% endraw %}|  {% raw -%}\n   x {{ y }}\n  {%- endraw %}",
     "{{ not rendered }}|  x {{ y }}"},
    {"{{- 'a' -}}\n   {{- 'b' }}   {{ 'c' -}}   \n   d", "ab   cd"},
    {"{{ \"}}\" }} {{ \"%}\" }} {{ {'a': {'b': 1}} }}", "}} %} {'a': {'b': 1}}"},
    {"crlf\r\n{% if true %}\r\nx\r\n{% endif %}\r\nend\n", "crlf\nx\nend"},
    {"{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 "
     "** 3 ** 2 }} {{ 7 / 2 }} {{ 1.5 * 2 }} {{ -2 ** 2 }}",
     "7 9 3 -4 2 1024 64 3.5 3.0 4"},
    {"{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' ~ 1 ~ none }} {{ 'ab' * 3 }} {{ [1] * "
     "2 }} {{ [1,2] + [3] }} {{ (1,) + (2,) }}",
     "True False True a1None ababab [1, 1] [1, 2, 3] (1, 2)"},
    {"{{ true and 'x' }} {{ false or 'y' }} {{ none or 0 or '' }} {{ not none }} {{ 1 if false "
     "}}|{{ 1 if false else 2 }} {{ 'A' if 1 > 2 else 'B' if 2 > 1 else 'C' }}",
     "x y  True |2 B"},
    {"{{ 'a' in 'cat' }} {{ 'z' not in 'cat' }} {{ 1 in [1,2] }} {{ 'a' in {'a': 1} }} {{ not 1 == "
     "2 }}",
     "True True True True True"},
    {"{{ [1, 'a', none, true, 1.5, [2], {'k': 'v'}] }} {{ (1, 2) }} {{ (1,) }} {{ () }} {{ {'a': "
     "1, 'b': [1, 2]} }}",
     "[1, 'a', None, True, 1.5, [2], {'k': 'v'}] (1, 2) (1,) () {'a': 1, 'b': [1, 2]}"},
    {"{{ \"it's\" }} {{ [\"it's\", 'say \"hi\"', 'tab\\there', 'nl\\nx', 'back\\\\slash', "
     "'\\u00e9\\x41\\101'] }}",
     "it's [\"it's\", 'say \"hi\"', 'tab\\there', 'nl\\nx', 'back\\\\slash', '\303\251AA']"},
    {"{{ 1e10 }} {{ 1e16 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ 1/3 }} {{ 100.0 }} {{ -0.0 }} {{ 2.0 ** "
     "60 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ 'a' 'b' }}",
     "10000000000.0 1e+16 1e-05 0.30000000000000004 0.3333333333333333 100.0 -0.0 "
     "1.152921504606847e+18 31 15 5 1000 ab"},
    {"{{ messages | length }} {{ messages[1]['role'] }} {{ messages[-1].role }} {{ messages[9] }} "
     "{{ messages[1:] | length }} {{ messages.1.role }} {{ messages[2].d.z }}",
     "3 user assistant  2 user "},
    {"{{ [1,2,3,4,5][1:3] }} {{ [1,2,3,4,5][::2] }} {{ [1,2,3,4,5][::-1] }} {{ 'h\303\251llo "
     "w\303\266rld'[1:4] }} {{ 'hello'[-3:] }} {{ 'abcdef'[::-2] }} {{ 'x'[10] }}",
     "[2, 3] [1, 3, 5] [5, 4, 3, 2, 1] \303\251ll llo fdb "},
    {"{% set d = {'a': {'b': {'c': 'deep'}}} %}{{ d.a.b.c }} {{ d['a']['b']['c'] }} {{ d.a.x }} {{ "
     "d.a.x is defined }} {{ none.x is defined }}",
     "deep deep  False False"},
    {"{% if messages[1].role == 'user' %}u{% elif messages[1].role == 'system' %}s{% else %}o{% "
     "endif %}{% if false %}a{% elif false %}b{% else %}c{% endif %}",
     "uc"},
    {"{% for x in [1,2,3,4] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ "
     "loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}",
     "1043TrueFalse4|2132FalseFalse4|3221FalseFalse4|4310FalseTrue4|"},
    {"{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }}-{{ loop.cycle('a','b') }};{% "
     "endfor %}",
     "-2-a;1-3-b;2--a;"},
    {"{% for x in [] %}no{% else %}empty{% endfor %} {% for x in [1,2,3,4,5] if x is odd %}{{ x "
     "}}{{ loop.index }}{% else %}none{% endfor %}",
     "empty 113253"},
    {"{% for x in range(10) %}{% if x == 5 %}{% break %}{% endif %}{% if x is even %}{% continue "
     "%}{% endif %}{{ x }}{% endfor %}",
     "13"},
    {"{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %} {% for c in 'h\303\251' %}{{ c "
     "}}.{% endfor %} {% for k in {'x': 1, 'y': 2} %}{{ k }}{% endfor %}",
     "37 h.\303\251. xy"},
    {"{% for x in [1,2] %}{% for y in [3,4] %}{{ loop.index }}{{ loop.length }}{% endfor %}{{ "
     "loop.index }}{% endfor %}",
     "1222112222"},
    {"{% for item in [1, [2, [3]]] recursive %}{% if item is iterable %}[{{ loop(item) }}]{% else "
     "%}{{ item }}@{{ loop.depth }}{% endif %}{% endfor %}",
     "1@1[2@2[3@3]]"},
    {"{% set x = 1 %}{% for i in range(3) %}{% set x = x + 1 %}{{ x }}{% endfor %}{{ x }}{% if "
     "true %}{% set x = 9 %}{% endif %}{{ x }}",
     "22219"},
    {"{% set ns = namespace(total=0, items=[]) %}{% for i in range(4) %}{% set ns.total = ns.total "
     "+ i %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.total }} {{ ns.items }}",
     "6 [0, 1, 2, 3]"},
    {"{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t %}inner {{ a }}{% endset %}[{{ t }}] {% set u | "
     "upper %}shout{% endset %}{{ u }}",
     "12 [inner 1] SHOUT"},
    {"{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ "
     "greet('Bob') }} {{ greet('Al', greeting='Hi') }} {{ greet(greeting='Yo', name='Z') }}",
     "Hello, Bob! Hi, Al! Yo, Z!"},
    {"{% macro f(a, b=a*2) %}{{ a }}{{ b }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1) }} {{ "
     "f(1, 2, 3, x=4) }}",
     "12(){} 12(3,){'x': 4}"},
    {"{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% "
     "endmacro %}{{ fact(10) }}",
     "3628800"},
    {"{% set g = 'global' %}{% macro show() %}{{ g }}{% endmacro %}{% for g in ['loop'] %}{{ "
     "show() }}{% endfor %}{% set g = 'changed' %}{{ show() }}",
     "globalchanged"},
    {"{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inside {{ messages[1].role "
     "}}{% endcall %}",
     "<inside user>"},
    {"{% macro lst(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% "
     "call(x) lst([1,2]) %}[{{ x }}]{% endcall %}",
     "[1][2]"},
    {"{% filter upper %}hello {{ 'world' }}{% endfilter %} {% with a = 5, b = 6 %}{{ a * b }}{% "
     "endwith %}{{ a }}",
     "HELLO WORLD 30"},
    {"{% generation %}gen {{ 1 }}{% endgeneration %} {% block b %}blk{% endblock %}", "gen 1 blk"},
    {"{% set j = joiner(', ') %}{% for i in range(3) %}{{ j() }}{{ i }}{% endfor %} {{ range(2, 8, "
     "2) | list }} {{ dict(a=1, b=2) }} {{ namespace(x=1).x }}",
     "0, 1, 2 [2, 4, 6] {'a': 1, 'b': 2} 1"},
    {"{{ '  x  ' | trim }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ 'hello world' | capitalize "
     "}}|{{ 'hello wORLD-foo bar' | title }}|{{ 'abc' | replace('b', 'X') }}|{{ 'aaa' | "
     "replace('a', 'b', 2) }}",
     "x|ABC|abc|Hello world|Hello World-Foo Bar|aXc|bba"},
    {"{{ 'abc' | center(9) }}|{{ [1,2,3] | join(', ') }}|{{ ['a', 1, none] | join }}|{{ messages | "
     "map(attribute='role') | join('/') }}",
     "   abc   |1, 2, 3|a1None|system/user/assistant"},
    {"{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb\\n\\nc' | indent(2, true) }}|{{ 'a\\nb\\n\\nc' | "
     "indent(2, first=true, blank=true) }}",
     "a\n    b\n\n    c|  a\n  b\n\n  c|  a\n  b\n  \n  c"},
    {"{{ x | default('d') }} {{ '' | default('e') }} {{ '' | default('e', true) }} {{ none | "
     "d('n') }}",
     "d  e None"},
    {"{{ 3.7 | int }} {{ '42' | int }} {{ 'x' | int(7) }} {{ '3.5' | int }} {{ 3 | float }} {{ "
     "'2.5' | float }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 2.1 | "
     "round(method='ceil') }}",
     "3 42 7 3 3.0 2.5 3 2.57 2.0 3.0"},
    {"{{ [3, 1, 2] | reverse | list }} {{ 'abc' | reverse }} {{ [1, 2, 2, 3, 1] | unique | list }} "
     "{{ ['b', 'A', 'a', 'B'] | sort }} {{ ['b', 'A', 'a', 'B'] | sort(case_sensitive=true) }}",
     "[2, 1, 3] cba [1, 2, 3] ['A', 'a', 'b', 'B'] ['A', 'B', 'a', 'b']"},
    {"{{ messages[2].l | sort(reverse=true) }} {{ messages[2].l | max }} {{ messages[2].l | min }} "
     "{{ messages[2].l | sum }} {{ messages[2].l | first }} {{ messages[2].l | last }}",
     "[3, 2, 1] 3 1 6 3 2"},
    {"{{ messages[2].d | dictsort }} {{ messages[2].d | items | list }} {{ messages[2].d.keys() | "
     "list }} {{ messages[2].d.values() | list }} {{ messages[2].d.get('z', 5) }}",
     "[('a', 1), ('b', 2)] [('b', 2), ('a', 1)] ['b', 'a'] [2, 1] 5"},
    {"{{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | "
     "rejectattr('role', 'eq', 'user') | map(attribute='content') | first }} {{ [1, 0, 2, none] | "
     "select | list }} {{ [1, 2, 3, 4] | reject('divisibleby', 2) | list }}",
     "1   Be brief.   [1, 2] [1, 3]"},
    {"{{ [1, 2, 3] | map('string') | join('-') }} {{ messages | map(attribute='missing', "
     "default='?') | list }} {{ [{'n': 2, 'v': 'b'}, {'n': 1, 'v': 'a'}] | sort(attribute='n') | "
     "map(attribute='v') | join }}",
     "1-2-3 ['?', '?', '?'] ab"},
    {"{{ messages[2] | tojson }} {{ messages[2].d | tojson(indent=2) }} {{ '\303\251\"\\n' | "
     "tojson }} {{ [1.0, 2, none, true] | tojson }} {{ {'b': 1, 'a': 2} | tojson(sort_keys=true) "
     "}}",
     "{\"role\": \"assistant\", \"content\": \"Hello!\", \"n\": 3, \"f\": 1.5, \"l\": [3, 1, 2], "
     "\"d\": {\"b\": 2, \"a\": 1}} {\n  \"b\": 2,\n  \"a\": 1\n} \"\303\251\\\"\\n\" [1.0, 2, "
     "null, true] {\"a\": 2, \"b\": 1}"},
    {"{{ \"<a href='x'>&\" | e }} {{ '<b>' | safe }} {{ ('<b>' | safe) + '<i>' }} {{ '<' ~ ('<' | "
     "safe) }}",
     "&lt;a href=&#39;x&#39;&gt;&amp; <b> <b>&lt;i&gt; <<"},
    {"{{ 'Hello World' | wordcount }} {{ 'a very long sentence here' | truncate(12) }} {{ "
     "[1,2,3,4,5] | batch(2) | list }} {{ 'abc' | list }} {{ 'hello' | first }}",
     "2 a very... [[1, 2], [3, 4], [5]] ['a', 'b', 'c'] h"},
    {"{{ '%s is %d' % ('x', 3) }} {{ '%.2f' % 3.14159 }} {{ '%(a)s-%(b)s' % {'a': 1, 'b': 2} }} {{ "
     "'%5s|%-5s|' % ('a', 'b') }} {{ '%s' | format('f') }}",
     "x is 3 3.14 1-2     a|b    | f"},
    {"{{ ' a b '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() "
     "}}|{{ 'a b c'.rsplit(' ', 1) }}|{{ 'a\\nb\\r\\nc'.splitlines() }}",
     "a b|a|['a', 'b', '', 'c']|['a', 'b']|['a b', 'c']|['a', 'b', 'c']"},
    {"{{ 'abc'.startswith('a') }} {{ 'abc'.endswith(('x', 'c')) }} {{ \"they're bill's\".title() "
     "}} {{ 'hELLO'.capitalize() }} {{ 'hello'.replace('l', 'L') }} {{ 'h\303\251llo'.find('l') }} "
     "{{ 'hello'.count('l') }}",
     "True True They'Re Bill'S Hello heLLo 2 2"},
    {"{{ ', '.join(['a', 'b']) }} {{ '{} and {}'.format(1, 'x') }} {{ '{name}!'.format(name='N') "
     "}} {{ '{:>5}|{:<5}|{:^5}|{:05d}|{:.2f}|{:x}'.format('a', 'b', 'c', 42, 3.14159, 255) }}",
     "a, b 1 and x N!     a|b    |  c  |00042|3.14|ff"},
    {"{% set content = '<think>r</think>\\n\\nans' %}{{ "
     "content.split('</think>')[-1].lstrip('\\n') }}|{{ "
     "content.split('</think>')[0].split('<think>')[-1] }}",
     "ans|r"},
    {"{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 1 is number }} {{ 1 is integer "
     "}} {{ 1.0 is float }} {{ true is boolean }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is "
     "sequence }} {{ 'a' is iterable }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }}",
     "False True True True True True True True True True True True True True"},
    {"{{ 1 is eq 1 }} {{ 2 is gt 1 }} {{ 1 is lt 2 }} {{ 'A' is upper }} {{ 'a' is lower }} {{ 1 "
     "is in [1] }} {{ true is true }} {{ false is false }} {{ range is callable }} {{ 1 is not "
     "none }} {{ 'upper' is filter }} {{ 'odd' is test }}",
     "True True True True True True True True True True True True"},
    {"{{ strftime_now('%Y-%m-%d %H:%M:%S %a %d %b %Y') }}", "2026-01-15 12:00:00 Thu 15 Jan 2026"},
    {"{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools is defined }}",
     "<s>|</s>|True|False"},
    {"{% set g = messages | map(attribute='role') %}{{ g | join(',') }}|{{ g | join(',') }}|{% if "
     "[] | select %}gen{% endif %}|{{ [1, 2, 3] | select | first }}",
     "system,user,assistant||gen|1"},
    {"{% for x in [1, 1, 2, 3, 3] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %} {{ "
     "'{:,}'.format(1234567) }} {{ '{0[0]}'.format(['a']) }} {{ '%c%c' % (72, 'i') }}",
     "123 1,234,567 a Hi"},
    {"{{ messages[1] | attr('role') }}|{{ ('<a>' | safe)[1:] + '<' }}|{{ [1, 2] | reverse | list "
     "}}|{{ {'a': 1, 'b': 2} | reverse | list }}",
     "|a>&lt;|[2, 1]|['b', 'a']"},
    {"{{ 'H\303\211LLO' | lower }} {{ '\303\261and\303\272' | upper }} {{ '\303\251clair au "
     "chocolat' | title }} {{ '\316\221\316\222\316\223' | lower }} {{ "
     "'\320\277\321\200\320\270\320\262\320\265\321\202' | upper }} {{ "
     "'\343\200\200wide\343\200\200' | trim }} {{ 'h\303\251llo' | length }}",
     "h\303\251llo \303\221AND\303\232 \303\211clair Au Chocolat \316\261\316\262\316\263 "
     "\320\237\320\240\320\230\320\222\320\225\320\242 wide 5"},
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bb_status render(const char *tmpl, const char *messages, const char *tools, char **out,
                        bb_error *err) {
    *out = NULL;
    return bb_chat_render(tmpl, messages, tools, true, "<s>", "</s>", out, err);
}

static void test_fixtures(void) {
    int pass = 0, n = (int)(sizeof fixtures / sizeof fixtures[0]);
    for (int i = 0; i < n; i++) {
        char *out;
        bb_error err = {0};
        bb_status st = render(fixtures[i].tmpl, fixture_messages, NULL, &out, &err);
        bool ok = st == BB_OK && !strcmp(out, fixtures[i].expected);
        CHECKF(ok, "fixture %d: %s\n  template: %s\n  expected: %s\n  got:      %s", i,
               st == BB_OK ? "wrong output" : err.message, fixtures[i].tmpl, fixtures[i].expected,
               out ? out : "(none)");
        pass += ok;
        bb_free(out);
    }
    printf("built-in templates: %d/%d pass\n", pass, n);
}

/* ------------------------------------------------------------------ errors and limits */

typedef struct error_case {
    const char *tmpl;
    bb_status status;
    const char *message; /* a substring of the error message (exact for raise_exception) */
} error_case;

static void test_errors(void) {
    static const error_case cases[] = {
        {"{{ raise_exception('boom: ' ~ messages[0].role) }}", BB_ERR_TEMPLATE, "boom: user"},
        {"{% for x in messages %}\n{{ x }}", BB_ERR_TEMPLATE,
         "line 2: unexpected end of template, expected 'endfor' or 'else' to close the 'for' from "
         "line 1"},
        {"a\n\n{% if x %}{% endfor %}", BB_ERR_TEMPLATE, "line 3: unexpected 'endfor', expected"},
        {"{{ 1 + }}", BB_ERR_TEMPLATE,
         "line 1: unexpected end of print statement '}}', expected "
         "an expression"},
        {"{% set x = [1, 2 %}", BB_ERR_TEMPLATE, "unexpected '}', expected ']'"},
        {"x\n{{ 'abc' | nosuch }}", BB_ERR_TEMPLATE, "line 2: no filter named 'nosuch'"},
        {"{{ 1 is nosuch }}", BB_ERR_TEMPLATE, "no test named 'nosuch'"},
        {"{% nosuch %}", BB_ERR_TEMPLATE, "unknown tag 'nosuch'"},
        {"{% break %}", BB_ERR_TEMPLATE, "'break' outside of a for loop"},
        {"{% include 'x' %}", BB_ERR_TEMPLATE, "not supported"},
        {"{{ 'open }}", BB_ERR_TEMPLATE, "unterminated string literal"},
        {"{# open", BB_ERR_TEMPLATE, "missing end of comment tag"},
        {"{% if true %}", BB_ERR_TEMPLATE, "expected 'elif' or 'else' or 'endif'"},
        {"{{ x.y }}", BB_ERR_TEMPLATE, "'x' is undefined"},
        {"{{ messages[0].nope.deeper }}", BB_ERR_TEMPLATE, "'dict object' has no attribute 'nope'"},
        {"{{ 'a' + 1 }}", BB_ERR_TEMPLATE, "can only concatenate str (not \"int\") to str"},
        {"{{ 1 / 0 }}", BB_ERR_TEMPLATE, "division by zero"},
        {"{{ 1 < 'a' }}", BB_ERR_TEMPLATE,
         "'<' not supported between instances of 'int' and 'str'"},
        {"{% for x in 5 %}{% endfor %}", BB_ERR_TEMPLATE, "'int' object is not iterable"},
        {"{{ x | tojson }}", BB_ERR_TEMPLATE, "Object of type Undefined is not JSON serializable"},
        {"{% set a, b = [1, 2, 3] %}", BB_ERR_TEMPLATE, "too many values to unpack (expected 2)"},
        {"{% set x = 1 %}{% set x.y = 2 %}", BB_ERR_TEMPLATE, "non-namespace object"},
        {"{{ range(1000000) | length }}", BB_ERR_TEMPLATE, "MAX_RANGE (100000)"},
        {"{{ 2 ** 100 }}", BB_ERR_TEMPLATE, "integer overflow"},
        {"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", BB_ERR_TEMPLATE,
         "macro recursion deeper than"},
        {"{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
         "{{ f(40) }}",
         BB_ERR_TEMPLATE, "template exceeded the limit of"},
        {"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
         BB_ERR_TEMPLATE, "loop iterations and macro calls"},
        {"{% set s = 'x' * 30000000 %}{{ s }}{{ s }}", BB_ERR_TEMPLATE, "output longer than"},
        {"{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
         "{% endfor %}",
         BB_ERR_TEMPLATE, "string longer than"},
        {"{% set s = 'x' * 30000000 %}{% for i in range(100) %}{% set t = s ~ 'y' %}{% endfor %}",
         BB_ERR_TEMPLATE, "MiB allocated"},
        {"{{ 'x' * 100000000000 }}", BB_ERR_TEMPLATE, "string longer than"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out;
        bb_error err = {0};
        double t0 = now_s();
        bb_status st =
            render(cases[i].tmpl, "[{\"role\": \"user\", \"content\": \"hi\"}]", NULL, &out, &err);
        double dt = now_s() - t0;
        CHECKF(st == cases[i].status && strstr(err.message, cases[i].message),
               "error case %zu: status %s, message '%s', wanted '%s'", i, bb_status_name(st),
               err.message, cases[i].message);
        CHECKF(out == NULL, "error case %zu left output", i);
        CHECKF(dt < 20, "error case %zu took %.1f s", i, dt);
        if (getenv("BB_CHAT_TIMES")) printf("error case %zu: %.2f s\n", i, dt);
    }
    /* raise_exception's message is exactly the message */
    char *out;
    bb_error err = {0};
    CHECK(render("{{ raise_exception('Only user and assistant roles') }}", "[]", NULL, &out,
                 &err) == BB_ERR_TEMPLATE);
    CHECK(!strcmp(err.message, "Only user and assistant roles"));
}

static char *repeat(const char *prefix, const char *unit, int n, const char *suffix) {
    size_t len = strlen(prefix) + strlen(unit) * (size_t)n + strlen(suffix) + 1;
    char *s = malloc(len);
    strcpy(s, prefix);
    for (int i = 0; i < n; i++)
        strcat(s, unit);
    strcat(s, suffix);
    return s;
}

/* Hostile shapes: deep nesting in the source, long operator chains, deeply nested values
 * and reference cycles must end in a result or a clear error, never a crash or a leak. */
static void test_hostile(void) {
    char *out;
    bb_error err;
    char *deep = repeat("{{ ", "(", 5000, "1 }}");
    CHECK(render(deep, "[]", NULL, &out, &err) == BB_ERR_TEMPLATE && strstr(err.message, "deeply"));
    free(deep);
    char *ifs = repeat("", "{% if true %}", 3000, "x");
    CHECK(render(ifs, "[]", NULL, &out, &err) == BB_ERR_TEMPLATE && strstr(err.message, "deeply"));
    free(ifs);
    char *nots = repeat("{{ ", "not ", 5000, "1 }}");
    CHECK(render(nots, "[]", NULL, &out, &err) == BB_ERR_TEMPLATE && strstr(err.message, "deeply"));
    free(nots);
    char *chain = repeat("{{ 1", " + 1", 20000, " }}");
    CHECK(render(chain, "[]", NULL, &out, &err) == BB_ERR_TEMPLATE &&
          strstr(err.message, "deeply"));
    free(chain);
    char *json = repeat("", "[", 100000, "");
    CHECK(render("x", json, NULL, &out, &err) == BB_ERR_INVALID_ARGUMENT);
    free(json);

    /* a list nested 200000 deep is built, printed (elided) and freed without recursion */
    CHECK(render("{% set ns = namespace(x=1) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}"
                 "{% set ns.x = [ns.x] %}{% endfor %}{{ (ns.x | string)[:4] }}",
                 "[]", NULL, &out, &err) == BB_OK);
    CHECK(out && !strcmp(out, "[[[["));
    bb_free(out);

    /* cycles are collected at the end of the render (ASan's leak check watches this) */
    CHECK(render("{% set ns = namespace() %}{% set ns.me = ns %}{% set l = [] %}{{ l.append(l) }}"
                 "{% set d = {} %}{% set _ = d.update({'d': d, 'l': l}) %}{{ l | length }}",
                 "[]", NULL, &out, &err) == BB_OK);
    CHECK(out && !strcmp(out, "None1"));
    bb_free(out);

    /* a macro defined in a loop body keeps that iteration's scope alive */
    CHECK(
        render("{% set ns = namespace() %}{% for i in [1, 2] %}{% macro m() %}{{ i }}{% endmacro %}"
               "{% set ns.m = m %}{% endfor %}{{ ns.m() }}",
               "[]", NULL, &out, &err) == BB_OK);
    CHECK(out && !strcmp(out, ""));
    bb_free(out);
}

static void test_api(void) {
    char *out = (char *)1;
    bb_error err = {0};
    CHECK(bb_chat_render(NULL, "[]", NULL, false, NULL, NULL, &out, &err) ==
          BB_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK(bb_chat_render("x", "{\"not\": \"a list\"}", NULL, false, NULL, NULL, &out, &err) ==
          BB_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "messages"));
    CHECK(bb_chat_render("x", "[1, 2", NULL, false, NULL, NULL, &out, &err) ==
          BB_ERR_INVALID_ARGUMENT);
    CHECK(strstr(err.message, "invalid JSON"));
    CHECK(bb_chat_render("x", "[]", "{}", false, NULL, NULL, &out, &err) ==
          BB_ERR_INVALID_ARGUMENT);
    CHECK(bb_chat_render("\xff\xfe", "[]", NULL, false, NULL, NULL, &out, &err) == BB_ERR_TEMPLATE);
    CHECK(strstr(err.message, "UTF-8"));
    /* tools: null leaves `tools` undefined; NULL tokens render as "" */
    CHECK(bb_chat_render("{{ tools is defined }}|{{ bos_token }}|{{ eos_token }}", "[]", "null",
                         false, NULL, NULL, &out, &err) == BB_OK);
    CHECK(out && !strcmp(out, "False||"));
    bb_free(out);
    CHECK(bb_chat_render("{{ tools | length }}{{ tools[0].x }}", "[]", "[{\"x\": 1.0}]", false,
                         NULL, NULL, &out, &err) == BB_OK);
    CHECK(out && !strcmp(out, "11.0"));
    bb_free(out);
    /* JSON numbers keep their type: 18 stays an int, 18.0 a float, as Python's json.loads */
    CHECK(render("{{ messages[0] | tojson }} {{ messages[0].a is integer }}",
                 "[{\"a\": 18, \"b\": 18.0, \"c\": 1e400, \"d\": \"\\ud83d\\ude00\"}]", NULL, &out,
                 &err) == BB_OK);
    CHECK(out &&
          !strcmp(out,
                  "{\"a\": 18, \"b\": 18.0, \"c\": Infinity, \"d\": \"\xf0\x9f\x98\x80\"} True"));
    bb_free(out);
    /* no trailing newline handling differences: one trailing newline is dropped */
    CHECK(render("a\n", "[]", NULL, &out, &err) == BB_OK && !strcmp(out, "a"));
    bb_free(out);
    CHECK(render("", "[]", NULL, &out, &err) == BB_OK && !strcmp(out, ""));
    bb_free(out);
}

static void test_default_template(void) {
    const char *msgs =
        "[{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": "
        "\"Hi\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": []}, "
        "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"part\"}]}]";
    char *out;
    bb_error err = {0};
    CHECK(bb_chat_render(bb_chat_default_template(), msgs, NULL, true, "<s>", "</s>", &out, &err) ==
          BB_OK);
    CHECK(out &&
          !strcmp(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                       "<|im_start|>assistant\n<|im_end|>\n<|im_start|>user\npart<|im_end|>\n"
                       "<|im_start|>assistant\n"));
    bb_free(out);
    CHECK(bb_chat_render(bb_chat_default_template(), "[{\"role\": \"user\", \"content\": \"x\"}]",
                         NULL, false, NULL, NULL, &out, &err) == BB_OK);
    CHECK(out && !strcmp(out, "<|im_start|>user\nx<|im_end|>\n"));
    bb_free(out);
}

/* ------------------------------------------------------------------ conformance */

static char *read_path(const char *dir, const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return tu_read_file(path, NULL);
}

static bool run_case(const char *dir, jv c, int index) {
    const jv *tname = jv_dict_gets(c, "template", 8), *expected = jv_dict_gets(c, "expected", 8),
             *error = jv_dict_gets(c, "error", 5);
    if (!tname || tname->type != JV_STR) {
        CHECKF(false, "case %d has no template", index);
        return false;
    }
    char *tmpl = read_path(dir, jv_sdata(*tname));
    CHECKF(tmpl != NULL, "case %d: cannot read %s", index, jv_sdata(*tname));
    if (!tmpl) return false;
    jx_buf b;
    jb_init(&b, 0);
    char msg[256];
    jx_json_opts o = jx_json_default_opts(NULL);
    CHECK(jx_json_dump(&b, c, &o, msg, sizeof msg));
    char *out = NULL;
    bb_error err = {0};
    bb_status st = bb_chat_render_case(tmpl, b.data, &out, &err);
    bool ok;
    if (error && error->type == JV_STR)
        ok = st == BB_ERR_TEMPLATE && !strcmp(err.message, jv_sdata(*error));
    else
        ok = st == BB_OK && expected && expected->type == JV_STR &&
             !strcmp(out, jv_sdata(*expected));
    CHECKF(ok, "case %d (%s): %s", index, jv_sdata(*tname),
           st == BB_OK ? "wrong output" : err.message);
    bb_free(out);
    jb_free(&b);
    free(tmpl);
    return ok;
}

static jv load_cases(const char *dir) {
    char *text = read_path(dir, "cases.json");
    jv cases = jv_none();
    char msg[256];
    CHECKF(text && jx_json_parse(text, strlen(text), &cases, msg, sizeof msg), "cases.json: %s",
           text ? msg : "unreadable");
    free(text);
    return cases;
}

static void test_conformance(const char *testdata) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/chat", testdata);
    jv cases = load_cases(dir);
    if (cases.type != JV_LIST) return;
    int pass = 0, n = (int)jv_list_len(cases);
    for (int i = 0; i < n; i++)
        pass += run_case(dir, jv_list_at(cases, i), i);
    printf("chat templates: %d/%d cases pass\n", pass, n);
    jv_release(cases);
}

/* ------------------------------------------------------------------ CLI */

static bool write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(text, 1, strlen(text), f) == strlen(text);
    return fclose(f) == 0 && ok;
}

/* Runs `beanbag template` on files (extra: more arguments); returns the exit status and the
 * captured streams. */
static int run_cli_with(const char *bin, const char *tmpl_path, const char *case_path,
                        const char *extra, char **out, char **errs) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "BB_FIXED_DATE='2026-01-15 12:00:00' '%s' template --template '%s' --input '%s' %s "
             ">/tmp/bb_chat_cli_out.%d 2>/tmp/bb_chat_cli_err.%d",
             bin, tmpl_path, case_path, extra, (int)getpid(), (int)getpid());
    int rc = system(cmd);
    char path[64];
    snprintf(path, sizeof path, "/tmp/bb_chat_cli_out.%d", (int)getpid());
    *out = tu_read_file(path, NULL);
    remove(path);
    snprintf(path, sizeof path, "/tmp/bb_chat_cli_err.%d", (int)getpid());
    *errs = tu_read_file(path, NULL);
    remove(path);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int run_cli(const char *bin, const char *tmpl_path, const char *case_path, char **out,
                   char **errs) {
    return run_cli_with(bin, tmpl_path, case_path, "", out, errs);
}

static void test_cli(const char *testdata) {
    const char *bin = getenv("BB_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        printf("SKIP: CLI test (BB_BIN not set)\n");
        return;
    }
    char tpath[64], cpath[64];
    snprintf(tpath, sizeof tpath, "/tmp/bb_chat_cli_t.%d", (int)getpid());
    snprintf(cpath, sizeof cpath, "/tmp/bb_chat_cli_c.%d", (int)getpid());
    char *out, *errs;
    CHECK(write_file(
        tpath, "{% for m in messages %}{{ m.role }}:{{ m.content }}\n{% endfor %}"
               "{% if add_generation_prompt %}{{ bos_token }}{{ strftime_now('%Y') }}{% endif %}"));
    CHECK(write_file(
        cpath,
        "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": null, "
        "\"add_generation_prompt\": true, \"bos_token\": \"<s>\", \"eos_token\": \"</s>\"}"));
    CHECK(run_cli(bin, tpath, cpath, &out, &errs) == 0);
    CHECK(out && !strcmp(out, "user:hi\n<s>2026"));
    free(out);
    free(errs);
    CHECK(write_file(tpath, "{{ raise_exception('no ' + messages[0].role) }}"));
    CHECK(run_cli(bin, tpath, cpath, &out, &errs) == 1);
    CHECK(out && !strcmp(out, "") && errs && !strcmp(errs, "no user\n"));
    free(out);
    free(errs);
    CHECK(run_cli(bin, tpath, "/nonexistent/case.json", &out, &errs) == 2);
    CHECK(errs && strstr(errs, "/nonexistent/case.json"));
    free(out);
    free(errs);
    /* --tools: the tools file replaces the case's; the parsed syntax goes to stderr. */
    char tools_path[64], extra[128];
    snprintf(tools_path, sizeof tools_path, "/tmp/bb_chat_cli_tools.%d", (int)getpid());
    snprintf(extra, sizeof extra, "--tools '%s'", tools_path);
    CHECK(write_file(tpath, "{{ tools | length }} {{ tools[0].function.name }} {{ tools[0].x }} "
                            "<tool_call></tool_call>"));
    CHECK(write_file(tools_path, "[{\"type\": \"function\", \"function\": {\"name\": \"f\"}, "
                                 "\"x\": 1.0}]"));
    CHECK(run_cli_with(bin, tpath, cpath, extra, &out, &errs) == 0);
    CHECKF(out && !strcmp(out, "1 f 1.0 <tool_call></tool_call>"), "--tools: %s", out ? out : "");
    CHECKF(errs && strstr(errs, "tool calls: hermes"), "--tools stderr: %s", errs ? errs : "");
    free(out);
    free(errs);
    CHECK(write_file(tools_path, "{\"not\": \"a list\"}"));
    CHECK(run_cli_with(bin, tpath, cpath, extra, &out, &errs) == 2);
    CHECK(errs && strstr(errs, "tools must be a JSON array"));
    free(out);
    free(errs);
    remove(tools_path);
    CHECK(write_file(cpath, "{\"messages\": 5}"));
    CHECK(run_cli(bin, tpath, cpath, &out, &errs) == 2);
    free(out);
    free(errs);
    if (testdata) {
        /* one conformance case through the binary, byte for byte */
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/chat", testdata);
        jv cases = load_cases(dir);
        if (cases.type == JV_LIST && jv_list_len(cases) > 0) {
            jv c = jv_list_at(cases, jv_list_len(cases) / 2);
            const jv *name = jv_dict_gets(c, "template", 8),
                     *expected = jv_dict_gets(c, "expected", 8);
            jx_buf b;
            jb_init(&b, 0);
            char msg[256];
            jx_json_opts o = jx_json_default_opts(NULL);
            CHECK(jx_json_dump(&b, c, &o, msg, sizeof msg) && write_file(cpath, b.data));
            jb_free(&b);
            char full[8192];
            snprintf(full, sizeof full, "%s/%s", dir, jv_sdata(*name));
            int rc = run_cli(bin, full, cpath, &out, &errs);
            CHECKF(rc == 0 && expected && out && !strcmp(out, jv_sdata(*expected)),
                   "CLI conformance case: status %d, stderr %s", rc, errs ? errs : "");
            free(out);
            free(errs);
        }
        jv_release(cases);
    }
    remove(tpath);
    remove(cpath);
}

int main(void) {
    setenv("BB_FIXED_DATE", "2026-01-15 12:00:00", 1);
    test_fixtures();
    test_errors();
    test_hostile();
    test_api();
    test_default_template();
    const char *testdata = tu_testdata();
    if (testdata)
        test_conformance(testdata);
    else
        tu_skip("chat template conformance cases");
    test_cli(testdata);
    return tu_finish("test_chat");
}
