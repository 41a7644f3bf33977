/* JSON Schema (draft 2020-12 and the subset OpenAI's structured outputs accept) compiled to
 * GBNF, then parsed like any grammar. Each subschema becomes a rule; JSON's own pieces (strings,
 * numbers, white space) are shared rules emitted once at the end.
 *
 * Supported: type (and lists of types), properties, required, additionalProperties, enum,
 * const, items, prefixItems, minItems/maxItems, anyOf/oneOf, allOf of one schema, $ref into
 * the document ("#", "#/$defs/...", "#/definitions/...", any JSON pointer), nullable, strings'
 * minLength/maxLength, pattern (regex.c) and format (date, time, date-time, uuid, email, ipv4,
 * hostname, uri), integer minimum/maximum/exclusiveMinimum/exclusiveMaximum, and number bounds
 * (as integer-valued numbers within them, with fractions where that cannot cross a bound).
 * Annotations (title, description, default, examples, $schema, $id, $comment, deprecated,
 * readOnly, writeOnly) are ignored. Anything else is an error naming the keyword: the output
 * must validate, so nothing is silently left unconstrained.
 *
 * Choices that keep every output valid: properties come in the order the schema lists them,
 * required ones always, optional ones maybe; properties not listed are never generated (that
 * is valid whatever additionalProperties says); oneOf is generated as anyOf, so its branches
 * must not overlap. White space between tokens is bounded (at most one newline and 20 spaces or
 * tabs), and so are number lengths, so a grammar with bounded strings and arrays always ends. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "grammar/grammar.h"
#include "grammar/schema_impl.h"

#define MAX_DEPTH 64
#define MAX_DIGITS 18 /* integer digits: what fits in int64 */

typedef struct sref {
    char *ref;
    char name[32];
} sref;

typedef struct sc {
    bb_strbuf out;
    const cJSON *root;
    bb_error *err;
    bool failed;
    uint32_t n_rules;
    sref *refs;
    size_t n_refs, cap_refs;
    int depth;
} sc;

static const char PRIMITIVES[] =
    "ws ::= ( \" \" | \"\\n\" [ \\t]{0,16} )?\n"
    /* Escapes of surrogates (backslash, u, D800-DFFF) are left out: a lone one is no character, and
     * a pair would count as two characters here but one for minLength/maxLength */
    "jchar ::= [^\"\\\\\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" ( [0-9a-cA-CefEF] "
    "[0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )\n"
    "jstring ::= \"\\\"\" jchar* \"\\\"\"\n"
    "jint ::= \"-\"? ( \"0\" | [1-9] [0-9]{0,15} )\n"
    "jnumber ::= jint ( \".\" [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?\n"
    "jbool ::= \"true\" | \"false\"\n"
    "jnull ::= \"null\"\n"
    "jvalue ::= jobject | jarray | jstring | jnumber | jbool | jnull\n"
    "jobject ::= \"{\" ws ( jstring \":\" ws jvalue ( \",\" ws jstring \":\" ws jvalue )* "
    "ws )? \"}\"\n"
    "jarray ::= \"[\" ws ( jvalue ( \",\" ws jvalue )* ws )? \"]\"\n"
    "jdigit ::= [0-9]\n"
    "jd2 ::= [0-9] [0-9]\n"
    "jdate ::= [0-9]{4} \"-\" ( ( \"01\" | \"03\" | \"05\" | \"07\" | \"08\" | \"10\" | \"12\" ) "
    "\"-\" ( \"0\" [1-9] | [12] [0-9] | \"3\" [01] ) | ( \"04\" | \"06\" | \"09\" | \"11\" ) "
    "\"-\" ( \"0\" [1-9] | [12] [0-9] | \"30\" ) | \"02-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" "
    "[0-8] ) )\n"
    "jtime ::= ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" "
    "[0-9]{1,6} )? ( \"Z\" | [+-] ( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] )\n"
    "jhex ::= [0-9a-f]\n"
    "juuid ::= jhex{8} \"-\" jhex{4} \"-\" jhex{4} \"-\" jhex{4} \"-\" jhex{12}\n"
    "jlabel ::= [a-z0-9] ( [a-z0-9-]{0,30} [a-z0-9] )?\n"
    "jhost ::= jlabel ( \".\" jlabel ){0,4}\n"
    "jemail ::= [a-zA-Z0-9_+-]{1,32} ( \".\" [a-zA-Z0-9_+-]{1,32} ){0,3} \"@\" jlabel ( \".\" "
    "jlabel ){1,3}\n"
    "joctet ::= \"25\" [0-5] | \"2\" [0-4] [0-9] | \"1\" [0-9] [0-9] | [1-9] [0-9] | [0-9]\n"
    "jipv4 ::= joctet \".\" joctet \".\" joctet \".\" joctet\n"
    "juri ::= [a-z] [a-z0-9+.-]{0,9} \"://\" jhost ( \"/\" [a-zA-Z0-9._~-]{0,30} ){0,8}\n";

__attribute__((format(printf, 3, 4))) static bool sfail(sc *c, const char *path, const char *fmt,
                                                        ...) {
    if (c->failed) return false;
    c->failed = true;
    char msg[360];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    bb_fail(c->err, BB_ERR_INVALID_ARGUMENT, "json schema at %s: %s", path[0] ? path : "/", msg);
    return false;
}

static void new_rule(sc *c, char *name) {
    snprintf(name, 32, "s%u", c->n_rules++);
}

/* A JSON value written as a GBNF literal (its compact JSON text, quoted for GBNF). */
static bool literal(sc *c, const cJSON *v, const char *path, bb_strbuf *o) {
    char *txt = cJSON_PrintUnformatted(v);
    if (!txt) return sfail(c, path, "out of memory printing a value");
    bb_strbuf_append(o, "\"", 1);
    for (const char *p = txt; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\')
            bb_strbuf_printf(o, "\\%c", ch);
        else if (ch == '\n')
            bb_strbuf_append(o, "\\n", 2);
        else if (ch < 0x20)
            bb_strbuf_printf(o, "\\x%02X", ch);
        else
            bb_strbuf_append(o, p, 1);
    }
    bb_strbuf_append(o, "\"", 1);
    cJSON_free(txt);
    return true;
}

static bool gen(sc *c, const cJSON *s, const char *path, char *name);

static void child_path(char *dst, size_t cap, const char *path, const char *a, const char *b) {
    snprintf(dst, cap, "%s/%s%s%s", path, a, b ? "/" : "", b ? b : "");
}

/* ---- integers */

/* Decimal strings of equal length n between a and b (a <= b), digit by digit. */
static void digits_range(const char *a, const char *b, size_t n, bb_strbuf *o) {
    if (n == 0) {
        bb_strbuf_append(o, "\"\"", 2);
        return;
    }
    if (a[0] == b[0]) {
        bb_strbuf_printf(o, "\"%c\" ", a[0]);
        digits_range(a + 1, b + 1, n - 1, o);
        return;
    }
    bool low_zero = true, high_nine = true;
    for (size_t i = 1; i < n; i++) {
        low_zero &= a[i] == '0';
        high_nine &= b[i] == '9';
    }
    char nines[MAX_DIGITS + 2], zeros[MAX_DIGITS + 2];
    memset(nines, '9', n);
    memset(zeros, '0', n);
    bb_strbuf_append(o, "( ", 2);
    char lo = a[0], hi = b[0];
    if (!low_zero) {
        bb_strbuf_printf(o, "\"%c\" ( ", a[0]);
        digits_range(a + 1, nines, n - 1, o);
        bb_strbuf_append(o, " ) | ", 5);
        lo++;
    }
    char top = high_nine ? hi : (char)(hi - 1);
    if (lo <= top) {
        bb_strbuf_printf(o, "[%c-%c]", lo, top);
        if (n > 1) bb_strbuf_printf(o, " [0-9]{%zu}", n - 1);
        bb_strbuf_append(o, " | ", 3);
    }
    if (!high_nine) {
        bb_strbuf_printf(o, "\"%c\" ( ", b[0]);
        digits_range(zeros, b + 1, n - 1, o);
        bb_strbuf_append(o, " ) | ", 5);
    }
    o->len -= 3; /* the last " | " */
    o->data[o->len] = '\0';
    bb_strbuf_append(o, " )", 2);
}

/* Non-negative integers in [a, b] (b < 0: unbounded), without leading zeros. */
static void nonneg_range(long long a, long long b, bb_strbuf *o) {
    char as[MAX_DIGITS + 2], bs[MAX_DIGITS + 2];
    int la = snprintf(as, sizeof as, "%lld", a);
    int lb = b < 0 ? MAX_DIGITS : snprintf(bs, sizeof bs, "%lld", b);
    bool first = true;
    bb_strbuf_append(o, "( ", 2);
    for (int len = la; len <= lb; len++) {
        char lo[MAX_DIGITS + 2], hi[MAX_DIGITS + 2];
        if (len == la)
            memcpy(lo, as, (size_t)len);
        else {
            memset(lo, '0', (size_t)len);
            lo[0] = '1';
        }
        if (b >= 0 && len == lb)
            memcpy(hi, bs, (size_t)len);
        else
            memset(hi, '9', (size_t)len);
        if (!first) bb_strbuf_append(o, " | ", 3);
        first = false;
        bb_strbuf_append(o, "( ", 2);
        digits_range(lo, hi, (size_t)len, o);
        bb_strbuf_append(o, " )", 2);
    }
    bb_strbuf_append(o, " )", 2);
}

/* Integers in [lo, hi]; has_lo/has_hi false: unbounded on that side. */
static void int_range(bool has_lo, long long lo, bool has_hi, long long hi, bb_strbuf *o) {
    bool first = true;
    bb_strbuf_append(o, "( ", 2);
    if (!has_lo || lo < 0) { /* negative part: -[max(1, -hi), -lo] */
        long long a = has_hi && hi < 0 ? -hi : 1, b = has_lo ? -lo : -1;
        bb_strbuf_append(o, "\"-\" ", 4);
        nonneg_range(a, b, o);
        first = false;
    }
    if (!has_hi || hi >= 0) {
        long long a = has_lo && lo > 0 ? lo : 0;
        if (!first) bb_strbuf_append(o, " | ", 3);
        nonneg_range(a, has_hi ? hi : -1, o);
    }
    bb_strbuf_append(o, " )", 2);
}

static bool bound(sc *c, const cJSON *s, const char *path, const char *key, double *v) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(s, key);
    if (!x) return false;
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
        sfail(c, path, "'%s' must be a number", key);
        return false;
    }
    *v = x->valuedouble;
    return true;
}

static bool gen_number(sc *c, const cJSON *s, const char *path, bool integer, bb_strbuf *o) {
    double v;
    bool has_lo = false, has_hi = false;
    double lo = 0, hi = 0;
    if (bound(c, s, path, "minimum", &v)) has_lo = true, lo = ceil(v);
    if (bound(c, s, path, "exclusiveMinimum", &v)) {
        double b = floor(v) + 1;
        if (!has_lo || b > lo) lo = b;
        has_lo = true;
    }
    if (bound(c, s, path, "maximum", &v)) has_hi = true, hi = floor(v);
    if (bound(c, s, path, "exclusiveMaximum", &v)) {
        double b = ceil(v) - 1;
        if (!has_hi || b < hi) hi = b;
        has_hi = true;
    }
    if (c->failed) return false;
    if (cJSON_GetObjectItemCaseSensitive(s, "multipleOf"))
        return sfail(c, path, "unsupported keyword 'multipleOf'");
    if (!has_lo && !has_hi) {
        bb_strbuf_append(o, integer ? "jint" : "jnumber", integer ? 4 : 7);
        return true;
    }
    const double lim = 1e17;
    if ((has_lo && fabs(lo) > lim) || (has_hi && fabs(hi) > lim))
        return sfail(c, path, "bounds beyond +-1e17 are not supported");
    if (has_lo && has_hi && lo > hi)
        return sfail(c, path, "no %s lies within the bounds",
                     integer ? "integer" : "integer-valued number");
    if (integer) {
        int_range(has_lo, (long long)lo, has_hi, (long long)hi, o);
        return true;
    }
    /* Numbers: the integers in range, and i.ddd for 0 <= i < hi (i.ddd lies in [i, i + 1)). */
    bb_strbuf_append(o, "( ", 2);
    int_range(has_lo, (long long)lo, has_hi, (long long)hi, o);
    long long flo = has_lo && lo > 0 ? (long long)lo : 0;
    if (!has_hi || (long long)hi - 1 >= flo) {
        bb_strbuf_append(o, " | ", 3);
        int_range(true, flo, has_hi, has_hi ? (long long)hi - 1 : 0, o);
        bb_strbuf_append(o, " \".\" [0-9]{1,16}", 16);
    }
    bb_strbuf_append(o, " )", 2);
    return true;
}

/* ---- strings */

static bool get_count(sc *c, const cJSON *s, const char *path, const char *key, long *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(s, key);
    if (!x) return false;
    if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble != floor(x->valuedouble) ||
        x->valuedouble > BB_GRAMMAR_MAX_REPEAT) {
        sfail(c, path, "'%s' must be an integer from 0 to %d", key, BB_GRAMMAR_MAX_REPEAT);
        return false;
    }
    *out = (long)x->valuedouble;
    return true;
}

static bool gen_string(sc *c, const cJSON *s, const char *path, bb_strbuf *o) {
    long mn = 0, mx = -1;
    bool has_min = get_count(c, s, path, "minLength", &mn);
    bool has_max = get_count(c, s, path, "maxLength", &mx);
    if (c->failed) return false;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(s, "format");
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(s, "pattern");
    if ((fmt || pat) && (has_min || has_max))
        return sfail(c, path, "'minLength'/'maxLength' together with '%s' is not supported",
                     fmt ? "format" : "pattern");
    if (fmt && pat) return sfail(c, path, "'format' together with 'pattern' is not supported");
    if (has_min && has_max && mx < mn) return sfail(c, path, "'maxLength' is below 'minLength'");
    bb_strbuf_append(o, "\"\\\"\" ", 5);
    if (pat) {
        if (!cJSON_IsString(pat)) return sfail(c, path, "'pattern' must be a string");
        char msg[200];
        if (!sc_regex_to_gbnf(pat->valuestring, "jchar", o, msg, sizeof msg))
            return sfail(c, path, "'pattern' \"%.80s\": %s", pat->valuestring, msg);
    } else if (fmt) {
        static const char *const names[][2] = {
            {"date", "jdate"},     {"time", "jtime"},   {"date-time", "jdate \"T\" jtime"},
            {"uuid", "juuid"},     {"email", "jemail"}, {"ipv4", "jipv4"},
            {"hostname", "jhost"}, {"uri", "juri"},
        };
        if (!cJSON_IsString(fmt)) return sfail(c, path, "'format' must be a string");
        size_t i = 0;
        while (i < sizeof names / sizeof names[0] && strcmp(names[i][0], fmt->valuestring))
            i++;
        if (i == sizeof names / sizeof names[0])
            return sfail(c, path, "unsupported 'format' \"%.60s\"", fmt->valuestring);
        bb_strbuf_printf(o, "( %s )", names[i][1]);
    } else if (has_max) {
        bb_strbuf_printf(o, "jchar{%ld,%ld}", mn, mx);
    } else if (has_min && mn > 0) {
        bb_strbuf_printf(o, "jchar{%ld,}", mn);
    } else {
        bb_strbuf_append(o, "jchar*", 6);
    }
    bb_strbuf_append(o, " \"\\\"\"", 5);
    return true;
}

/* ---- objects and arrays */

static bool gen_object(sc *c, const cJSON *s, const char *path, bb_strbuf *o) {
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
    const cJSON *add = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    if (props && !cJSON_IsObject(props)) return sfail(c, path, "'properties' must be an object");
    if (req && !cJSON_IsArray(req)) return sfail(c, path, "'required' must be an array");
    if (add && !cJSON_IsBool(add) && !cJSON_IsObject(add))
        return sfail(c, path, "'additionalProperties' must be a boolean or a schema");
    for (const cJSON *r = req ? req->child : NULL; r; r = r->next) {
        if (!cJSON_IsString(r)) return sfail(c, path, "'required' must list strings");
        if (!props || !cJSON_GetObjectItemCaseSensitive(props, r->valuestring))
            return sfail(c, path, "required property '%.60s' is not in 'properties' (unsupported)",
                         r->valuestring);
    }
    if (!props || !props->child) {
        if (cJSON_IsFalse(add) || !add || cJSON_IsTrue(add)) {
            if (cJSON_IsFalse(add)) {
                bb_strbuf_append(o, "\"{\" ws \"}\"", 10);
            } else {
                bb_strbuf_append(o, "jobject", 7);
            }
            return true;
        }
        char sub[32], p2[512];
        child_path(p2, sizeof p2, path, "additionalProperties", NULL);
        if (!gen(c, add, p2, sub)) return false;
        bb_strbuf_printf(o,
                         "\"{\" ws ( jstring \":\" ws %s ( \",\" ws jstring \":\" ws %s )* "
                         "ws )? \"}\"",
                         sub, sub);
        return true;
    }
    size_t n = (size_t)cJSON_GetArraySize(props);
    char(*kv)[32] = calloc(n, sizeof *kv);
    bool *required = calloc(n, sizeof *required);
    if (!kv || !required) {
        free(kv);
        free(required);
        return sfail(c, path, "out of memory");
    }
    size_t i = 0;
    bool ok = true;
    for (const cJSON *p = props->child; p && ok; p = p->next, i++) {
        char sub[32], p2[512];
        child_path(p2, sizeof p2, path, "properties", p->string);
        ok = gen(c, p, p2, sub);
        if (!ok) break;
        for (const cJSON *r = req ? req->child : NULL; r; r = r->next)
            if (!strcmp(r->valuestring, p->string)) required[i] = true;
        /* kv_i ::= "\"name\"" ws ":" ws value */
        new_rule(c, kv[i]);
        bb_strbuf tmp = {0};
        cJSON *key = cJSON_CreateString(p->string);
        ok = key && literal(c, key, path, &tmp);
        cJSON_Delete(key);
        if (ok) bb_strbuf_printf(&c->out, "%s ::= %s \":\" ws %s\n", kv[i], tmp.data, sub);
        bb_strbuf_release(&tmp);
    }
    /* The members after at least one was written, from property i on (each one a "," first),
     * and before any was: first_i ::= kv_i after_{i+1} | first_{i+1} when kv_i is optional. */
    char first[32];
    if (ok) {
        /* after_i rules, built back to front so first_i can refer to after_{i+1} */
        char(*aft)[32] = calloc(n + 1, sizeof *aft);
        if (!aft) ok = sfail(c, path, "out of memory");
        if (ok) {
            new_rule(c, aft[n]);
            bb_strbuf_printf(&c->out, "%s ::= \"\"\n", aft[n]);
            for (size_t k = n; k-- > 0;) {
                new_rule(c, aft[k]);
                if (required[k])
                    bb_strbuf_printf(&c->out, "%s ::= \",\" ws %s %s\n", aft[k], kv[k], aft[k + 1]);
                else
                    bb_strbuf_printf(&c->out, "%s ::= ( \",\" ws %s )? %s\n", aft[k], kv[k],
                                     aft[k + 1]);
            }
            char prev[32];
            new_rule(c, prev);
            bb_strbuf_printf(&c->out, "%s ::= \"\"\n", prev); /* first_n: nothing written */
            for (size_t k = n; k-- > 0;) {
                char fk[32];
                new_rule(c, fk);
                if (required[k])
                    bb_strbuf_printf(&c->out, "%s ::= %s %s\n", fk, kv[k], aft[k + 1]);
                else
                    bb_strbuf_printf(&c->out, "%s ::= %s %s | %s\n", fk, kv[k], aft[k + 1], prev);
                memcpy(prev, fk, sizeof prev);
            }
            memcpy(first, prev, sizeof first);
            bb_strbuf_printf(o, "\"{\" ws %s ws \"}\"", first);
        }
        free(aft);
    }
    free(kv);
    free(required);
    return ok;
}

static bool gen_array(sc *c, const cJSON *s, const char *path, bb_strbuf *o) {
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(s, "prefixItems");
    const cJSON *uniq = cJSON_GetObjectItemCaseSensitive(s, "uniqueItems");
    if (uniq && cJSON_IsTrue(uniq)) return sfail(c, path, "unsupported keyword 'uniqueItems'");
    long mn = 0, mx = -1;
    get_count(c, s, path, "minItems", &mn);
    bool has_max = get_count(c, s, path, "maxItems", &mx);
    if (c->failed) return false;
    if (has_max && mx < mn) return sfail(c, path, "'maxItems' is below 'minItems'");
    char item[32] = "jvalue", p2[512];
    if (prefix) {
        if (!cJSON_IsArray(prefix)) return sfail(c, path, "'prefixItems' must be an array");
        long np = cJSON_GetArraySize(prefix);
        if (mn > np || (items && !cJSON_IsFalse(items)) || (has_max && mx != np) || mn != np)
            return sfail(c, path,
                         "'prefixItems' is supported as a fixed tuple only (minItems = maxItems "
                         "= its length, items false or absent)");
        bb_strbuf_append(o, "\"[\" ws", 6);
        long k = 0;
        for (const cJSON *x = prefix->child; x; x = x->next, k++) {
            char sub[32], idx[24];
            snprintf(idx, sizeof idx, "%ld", k);
            child_path(p2, sizeof p2, path, "prefixItems", idx);
            if (!gen(c, x, p2, sub)) return false;
            bb_strbuf_printf(o, "%s %s", k ? " \",\" ws" : "", sub);
        }
        bb_strbuf_append(o, " ws \"]\"", 7);
        return true;
    }
    if (items) {
        if (cJSON_IsFalse(items)) {
            if (mn > 0) return sfail(c, path, "'items': false with 'minItems' above 0");
            bb_strbuf_append(o, "\"[\" ws \"]\"", 10);
            return true;
        }
        child_path(p2, sizeof p2, path, "items", NULL);
        if (!gen(c, items, p2, item)) return false;
    }
    if (has_max && mx == 0) {
        bb_strbuf_append(o, "\"[\" ws \"]\"", 10);
        return true;
    }
    /* "[" item ("," item){min-1, max-1} "]", the whole list optional when min is 0 */
    long lo = mn > 0 ? mn - 1 : 0;
    bb_strbuf_printf(o, "\"[\" ws %s%s ( \",\" ws %s )", mn == 0 ? "( " : "", item, item);
    if (has_max)
        bb_strbuf_printf(o, "{%ld,%ld}", lo, mx - 1);
    else
        bb_strbuf_printf(o, "{%ld,}", lo);
    bb_strbuf_printf(o, "%s ws \"]\"", mn == 0 ? " )?" : "");
    return true;
}

/* ---- references */

static const cJSON *resolve(sc *c, const char *ref, const char *path) {
    if (ref[0] != '#') {
        sfail(c, path,
              "'$ref' \"%.80s\": only references within the schema (\"#...\") are "
              "supported",
              ref);
        return NULL;
    }
    const cJSON *at = c->root;
    const char *p = ref + 1;
    while (*p == '/' && at) {
        p++;
        char tok[256];
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof tok) {
            if (p[0] == '~' && p[1] == '0')
                tok[n++] = '~', p += 2;
            else if (p[0] == '~' && p[1] == '1')
                tok[n++] = '/', p += 2;
            else
                tok[n++] = *p++;
        }
        tok[n] = '\0';
        if (cJSON_IsArray(at)) {
            char *end;
            long k = strtol(tok, &end, 10);
            at = *end || k < 0 ? NULL : cJSON_GetArrayItem(at, (int)k);
        } else {
            at = cJSON_GetObjectItemCaseSensitive(at, tok);
        }
    }
    if (!at || *p) {
        sfail(c, path, "'$ref' \"%.80s\" does not point into the schema", ref);
        return NULL;
    }
    return at;
}

static bool gen_ref(sc *c, const char *ref, const char *path, char *name) {
    for (size_t i = 0; i < c->n_refs; i++)
        if (!strcmp(c->refs[i].ref, ref)) {
            memcpy(name, c->refs[i].name, 32);
            return true;
        }
    const cJSON *target = resolve(c, ref, path);
    if (!target) return false;
    if (c->n_refs == c->cap_refs) {
        size_t cap = c->cap_refs ? c->cap_refs * 2 : 8;
        sref *q = cap < 100000 ? realloc(c->refs, cap * sizeof *q) : NULL;
        if (!q) return sfail(c, path, "out of memory");
        c->refs = q;
        c->cap_refs = cap;
    }
    sref *r = &c->refs[c->n_refs];
    r->ref = strdup(ref);
    if (!r->ref) return sfail(c, path, "out of memory");
    new_rule(c, r->name);
    c->n_refs++;
    memcpy(name, r->name, 32);
    char sub[32], rname[32];
    memcpy(rname, r->name, 32); /* refs may move while the target is generated */
    if (!gen(c, target, ref + 1, sub)) return false;
    bb_strbuf_printf(&c->out, "%s ::= %s\n", rname, sub);
    return true;
}

/* ---- the dispatcher */

static const char *const KNOWN[] = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "$defs",
    "definitions",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "nullable",
    "title",
    "description",
    "default",
    "examples",
    "$schema",
    "$id",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
};

static bool gen_typed(sc *c, const cJSON *s, const char *path, const char *type, bb_strbuf *o) {
    if (!strcmp(type, "string")) return gen_string(c, s, path, o);
    if (!strcmp(type, "integer")) return gen_number(c, s, path, true, o);
    if (!strcmp(type, "number")) return gen_number(c, s, path, false, o);
    if (!strcmp(type, "boolean")) {
        bb_strbuf_append(o, "jbool", 5);
        return true;
    }
    if (!strcmp(type, "null")) {
        bb_strbuf_append(o, "jnull", 5);
        return true;
    }
    if (!strcmp(type, "object")) return gen_object(c, s, path, o);
    if (!strcmp(type, "array")) return gen_array(c, s, path, o);
    return sfail(c, path, "unknown 'type' \"%.40s\"", type);
}

static bool gen_alternatives(sc *c, const cJSON *list, const char *path, const char *key,
                             bb_strbuf *o) {
    if (!cJSON_IsArray(list) || !list->child)
        return sfail(c, path, "'%s' must be a non-empty array of schemas", key);
    int k = 0;
    bb_strbuf_append(o, "( ", 2);
    for (const cJSON *x = list->child; x; x = x->next, k++) {
        char sub[32], idx[16], p2[512];
        snprintf(idx, sizeof idx, "%d", k);
        child_path(p2, sizeof p2, path, key, idx);
        if (!gen(c, x, p2, sub)) return false;
        bb_strbuf_printf(o, "%s%s", k ? " | " : "", sub);
    }
    bb_strbuf_append(o, " )", 2);
    return true;
}

static bool type_is(const char *t, const cJSON *v) {
    if (!strcmp(t, "string")) return cJSON_IsString(v);
    if (!strcmp(t, "number")) return cJSON_IsNumber(v);
    if (!strcmp(t, "integer")) return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    if (!strcmp(t, "boolean")) return cJSON_IsBool(v);
    if (!strcmp(t, "null")) return cJSON_IsNull(v);
    if (!strcmp(t, "object")) return cJSON_IsObject(v);
    if (!strcmp(t, "array")) return cJSON_IsArray(v);
    return false;
}

/* Whether an enum/const value is of the schema's type (absent: any). */
static bool type_allows(const cJSON *type, const cJSON *v) {
    if (!type) return true;
    if (cJSON_IsString(type)) return type_is(type->valuestring, v);
    for (const cJSON *t = cJSON_IsArray(type) ? type->child : NULL; t; t = t->next)
        if (cJSON_IsString(t) && type_is(t->valuestring, v)) return true;
    return false;
}

static bool gen_body(sc *c, const cJSON *s, const char *path, bb_strbuf *o) {
    if (cJSON_IsTrue(s)) {
        bb_strbuf_append(o, "jvalue", 6);
        return true;
    }
    if (cJSON_IsFalse(s)) return sfail(c, path, "the schema false matches nothing");
    if (!cJSON_IsObject(s)) return sfail(c, path, "a schema must be an object or a boolean");
    for (const cJSON *k = s->child; k; k = k->next) {
        size_t i = 0;
        while (i < sizeof KNOWN / sizeof KNOWN[0] && strcmp(KNOWN[i], k->string))
            i++;
        if (i == sizeof KNOWN / sizeof KNOWN[0])
            return sfail(c, path, "unsupported keyword '%.60s'", k->string);
    }
    const cJSON *nullable = cJSON_GetObjectItemCaseSensitive(s, "nullable");
    bool null_too = cJSON_IsTrue(nullable);
    if (null_too) bb_strbuf_append(o, "( jnull | ", 10);
    bool ok = true;
    const cJSON *x;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(s, "type");
    if ((x = cJSON_GetObjectItemCaseSensitive(s, "const"))) {
        if (!type_allows(type, x)) return sfail(c, path, "'const' is not of the schema's 'type'");
        ok = literal(c, x, path, o);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(s, "enum"))) {
        if (!cJSON_IsArray(x) || !x->child)
            return sfail(c, path, "'enum' must be a non-empty array");
        bool any = false;
        bb_strbuf_append(o, "( ", 2);
        for (const cJSON *v = x->child; v && ok; v = v->next) {
            if (!type_allows(type, v)) continue; /* a value 'type' forbids can never validate */
            if (any) bb_strbuf_append(o, " | ", 3);
            any = true;
            ok = literal(c, v, path, o);
        }
        bb_strbuf_append(o, " )", 2);
        if (ok && !any) return sfail(c, path, "no 'enum' value is of the schema's 'type'");
    } else if ((x = cJSON_GetObjectItemCaseSensitive(s, "$ref"))) {
        if (!cJSON_IsString(x)) return sfail(c, path, "'$ref' must be a string");
        for (const cJSON *k = s->child; k; k = k->next) /* the target alone constrains */
            if (strcmp(k->string, "$ref") && strcmp(k->string, "$defs") &&
                strcmp(k->string, "definitions") && strcmp(k->string, "title") &&
                strcmp(k->string, "description") && strcmp(k->string, "$comment") &&
                strcmp(k->string, "$schema") && strcmp(k->string, "$id"))
                return sfail(c, path, "keyword '%.60s' beside '$ref' is not supported", k->string);
        char sub[32];
        ok = gen_ref(c, x->valuestring, path, sub);
        if (ok) bb_strbuf_append(o, sub, strlen(sub));
    } else if ((x = cJSON_GetObjectItemCaseSensitive(s, "anyOf"))) {
        ok = gen_alternatives(c, x, path, "anyOf", o);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(s, "oneOf"))) {
        ok = gen_alternatives(c, x, path, "oneOf", o);
    } else if ((x = cJSON_GetObjectItemCaseSensitive(s, "allOf"))) {
        if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) != 1)
            return sfail(c, path, "unsupported keyword 'allOf' (only with a single schema)");
        char sub[32], p2[512];
        child_path(p2, sizeof p2, path, "allOf", "0");
        ok = gen(c, x->child, p2, sub);
        if (ok) bb_strbuf_append(o, sub, strlen(sub));
    } else if ((x = cJSON_GetObjectItemCaseSensitive(s, "type"))) {
        if (cJSON_IsString(x)) {
            ok = gen_typed(c, s, path, x->valuestring, o);
        } else if (cJSON_IsArray(x) && x->child) {
            bb_strbuf_append(o, "( ", 2);
            for (const cJSON *t = x->child; t && ok; t = t->next) {
                if (!cJSON_IsString(t)) return sfail(c, path, "'type' must list strings");
                if (t != x->child) bb_strbuf_append(o, " | ", 3);
                ok = gen_typed(c, s, path, t->valuestring, o);
            }
            bb_strbuf_append(o, " )", 2);
        } else {
            return sfail(c, path, "'type' must be a string or a non-empty array");
        }
    } else if (cJSON_GetObjectItemCaseSensitive(s, "properties") ||
               cJSON_GetObjectItemCaseSensitive(s, "additionalProperties") ||
               cJSON_GetObjectItemCaseSensitive(s, "required")) {
        ok = gen_object(c, s, path, o);
    } else if (cJSON_GetObjectItemCaseSensitive(s, "items") ||
               cJSON_GetObjectItemCaseSensitive(s, "prefixItems")) {
        ok = gen_array(c, s, path, o);
    } else if (cJSON_GetObjectItemCaseSensitive(s, "minLength") ||
               cJSON_GetObjectItemCaseSensitive(s, "maxLength") ||
               cJSON_GetObjectItemCaseSensitive(s, "pattern") ||
               cJSON_GetObjectItemCaseSensitive(s, "format")) {
        ok = gen_string(c, s, path, o);
    } else {
        bb_strbuf_append(o, "jvalue", 6);
    }
    if (null_too) bb_strbuf_append(o, " )", 2);
    return ok && !c->failed;
}

static bool gen(sc *c, const cJSON *s, const char *path, char *name) {
    if (c->failed) return false;
    if (++c->depth > MAX_DEPTH) return sfail(c, path, "the schema nests deeper than %d", MAX_DEPTH);
    bb_strbuf body = {0};
    bool ok = gen_body(c, s, path, &body);
    c->depth--;
    if (ok && body.failed) ok = sfail(c, path, "out of memory");
    if (ok) {
        new_rule(c, name);
        bb_strbuf_printf(&c->out, "%s ::= %s\n", name, body.data);
    }
    bb_strbuf_release(&body);
    return ok;
}

static void sc_free(sc *c) {
    for (size_t i = 0; i < c->n_refs; i++)
        free(c->refs[i].ref);
    free(c->refs);
    bb_strbuf_release(&c->out);
}

/* Every rule name of generated GBNF (words outside literals, classes and repetition braces)
 * with `prefix` and '-' in front, so that several schemas can live in one grammar. */
static char *prefix_names(const char *text, const char *prefix) {
    bb_strbuf o = {0};
    size_t plen = strlen(prefix);
    for (const char *p = text; *p;) {
        char c = *p;
        if (c == '"' || c == '[') { /* a literal or a class, escapes included, copied as is */
            char close = c == '"' ? '"' : ']';
            const char *q = p + 1;
            while (*q && *q != close)
                q += q[0] == '\\' && q[1] ? 2 : 1;
            if (*q) q++;
            bb_strbuf_append(&o, p, (size_t)(q - p));
            p = q;
        } else if (c == '{') {
            const char *q = strchr(p, '}');
            q = q ? q + 1 : p + strlen(p);
            bb_strbuf_append(&o, p, (size_t)(q - p));
            p = q;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            const char *q = p;
            while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                   (*q >= '0' && *q <= '9') || *q == '_' || *q == '-')
                q++;
            bb_strbuf_append(&o, prefix, plen);
            bb_strbuf_append(&o, "-", 1);
            bb_strbuf_append(&o, p, (size_t)(q - p));
            p = q;
        } else {
            bb_strbuf_append(&o, p, 1);
            p++;
        }
    }
    return bb_strbuf_take(&o);
}

static bb_status compile(const cJSON *root, const char *name, char **gbnf, bb_error *err) {
    sc c = {.root = root, .err = err};
    char top[32];
    if (!gen(&c, root, "", top)) {
        sc_free(&c);
        return err && err->code ? err->code : BB_ERR_INVALID_ARGUMENT;
    }
    bb_strbuf_printf(&c.out, "root ::= %s\n%s", top, PRIMITIVES);
    char *text = bb_strbuf_take(&c.out);
    sc_free(&c);
    if (text && name) {
        char *named = prefix_names(text, name);
        free(text);
        text = named;
    }
    if (!text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory compiling a schema");
    *gbnf = text;
    return BB_OK;
}

static bb_status parse_schema(const char *schema, size_t len, cJSON **root, bb_error *err) {
    if (!schema || len == 0) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "json schema: empty");
    if (len > BB_GRAMMAR_MAX_SOURCE)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "json schema: %zu bytes, above the limit of %u", len, BB_GRAMMAR_MAX_SOURCE);
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(schema, len, &end, false);
    if (!*root)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "json schema: invalid JSON at byte %zu",
                       end && end >= schema ? (size_t)(end - schema) : 0);
    return BB_OK;
}

static bool valid_name(const char *name) {
    if (!name[0] || strlen(name) > 64) return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return false;
    return true;
}

bb_status bb_json_schema_to_gbnf_named(const char *schema, size_t len, const char *name,
                                       char **gbnf, bb_error *err) {
    if (!gbnf) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_json_schema_to_gbnf: NULL out");
    *gbnf = NULL;
    if (name && !valid_name(name))
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT,
                       "json schema: rule name '%.64s' is not 1-64 of [a-zA-Z0-9_-]", name);
    cJSON *root;
    bb_status st = parse_schema(schema, len, &root, err);
    if (st != BB_OK) return st;
    st = compile(root, name, gbnf, err);
    cJSON_Delete(root);
    return st;
}

bb_status bb_json_schema_gbnf_rule(const char *schema_json, const char *rule, bb_strbuf *out,
                                   bb_error *err) {
    const char *schema = schema_json ? schema_json : "{}";
    char *g;
    bb_status st = bb_json_schema_to_gbnf_named(schema, strlen(schema), rule, &g, err);
    if (st != BB_OK) return st;
    bb_strbuf_printf(out, "%s ::= %s-root\n%s", rule, rule, g);
    free(g);
    return out->failed ? bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for a grammar") : BB_OK;
}

bb_status bb_json_schema_to_gbnf(const char *schema, size_t len, char **gbnf, bb_error *err) {
    return bb_json_schema_to_gbnf_named(schema, len, NULL, gbnf, err);
}

bb_status bb_grammar_from_json_schema(const char *schema, size_t len, bb_grammar **out,
                                      bb_error *err) {
    if (!out) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "bb_grammar_from_json_schema: NULL");
    *out = NULL;
    char *gbnf;
    bb_status st = bb_json_schema_to_gbnf(schema, len, &gbnf, err);
    if (st != BB_OK) return st;
    st = bb_grammar_parse_gbnf(gbnf, strlen(gbnf), "root", out, err);
    free(gbnf);
    return st;
}

bb_status bb_grammar_json_object(bb_grammar **out, bb_error *err) {
    static const char schema[] = "{\"type\": \"object\"}";
    return bb_grammar_from_json_schema(schema, sizeof schema - 1, out, err);
}
