#include "server/structured.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

static bool format_grammar(const cJSON *rf, bb_grammar **out, oai_error *e) {
    const char *P = "response_format";
    if (!cJSON_IsObject(rf)) return oai_fail(e, 400, P, "'response_format' must be an object");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rf, "type");
    if (!cJSON_IsString(type))
        return oai_fail(e, 400, P,
                        "'response_format.type' must be \"text\", \"json_object\" or "
                        "\"json_schema\"");
    const cJSON *k;
    cJSON_ArrayForEach(k, rf) {
        if (strcmp(k->string, "type") && strcmp(k->string, "json_schema"))
            return oai_fail(e, 400, P, "unknown field 'response_format.%.60s'", k->string);
    }
    const char *t = type->valuestring;
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
    if (strcmp(t, "json_schema") && js)
        return oai_fail(e, 400, P, "'response_format.json_schema' needs type \"json_schema\"");
    bb_error err = {0};
    if (!strcmp(t, "text")) return true;
    if (!strcmp(t, "json_object")) {
        if (bb_grammar_json_object(out, &err) != BB_OK)
            return oai_fail(e, 500, P, "%s", err.message);
        return true;
    }
    if (strcmp(t, "json_schema"))
        return oai_fail(e, 400, P,
                        "'response_format.type' \"%.40s\" is not one of \"text\", "
                        "\"json_object\", \"json_schema\"",
                        t);
    if (!cJSON_IsObject(js))
        return oai_fail(e, 400, P, "'response_format.json_schema' must be an object");
    cJSON_ArrayForEach(k, js) {
        if (strcmp(k->string, "name") && strcmp(k->string, "schema") &&
            strcmp(k->string, "strict") && strcmp(k->string, "description"))
            return oai_fail(e, 400, P, "unknown field 'response_format.json_schema.%.60s'",
                            k->string);
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(js, "name");
    const cJSON *strict = cJSON_GetObjectItemCaseSensitive(js, "strict");
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(js, "description");
    if (!cJSON_IsString(name) || !name->valuestring[0] || strlen(name->valuestring) > 64)
        return oai_fail(e, 400, P,
                        "'response_format.json_schema.name' must be a string of 1 to "
                        "64 characters");
    if (strict && !cJSON_IsBool(strict) && !cJSON_IsNull(strict))
        return oai_fail(e, 400, P, "'response_format.json_schema.strict' must be a boolean");
    if (desc && !cJSON_IsString(desc))
        return oai_fail(e, 400, P, "'response_format.json_schema.description' must be a string");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
    char *text = schema ? cJSON_PrintUnformatted(schema) : strdup("{}");
    if (!text) return oai_fail(e, 500, P, "out of memory");
    bb_status st = bb_grammar_from_json_schema(text, strlen(text), out, &err);
    cJSON_free(text);
    if (st != BB_OK)
        return oai_fail(e, st == BB_ERR_OUT_OF_MEMORY ? 500 : 400, P,
                        "'response_format.json_schema.schema': %s", err.message);
    return true;
}

bool oai_structured_parse(const cJSON *root, bb_grammar **out, oai_error *e) {
    *out = NULL;
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "response_format");
    const cJSON *gr = cJSON_GetObjectItemCaseSensitive(root, "grammar");
    if (rf && !cJSON_IsNull(rf) && !format_grammar(rf, out, e)) return false;
    if (!gr || cJSON_IsNull(gr)) return true;
    if (*out) {
        bb_grammar_unref(*out);
        *out = NULL;
        return oai_fail(e, 400, "grammar",
                        "'grammar' and a JSON 'response_format' exclude each "
                        "other");
    }
    if (!cJSON_IsString(gr)) return oai_fail(e, 400, "grammar", "'grammar' must be a GBNF string");
    bb_error err = {0};
    bb_status st =
        bb_grammar_parse_gbnf(gr->valuestring, strlen(gr->valuestring), "root", out, &err);
    if (st != BB_OK)
        return oai_fail(e, st == BB_ERR_OUT_OF_MEMORY ? 500 : 400, "grammar", "%s", err.message);
    return true;
}

/* One trie per server, built by the first request that needs it. */
static pthread_mutex_t vocab_mu = PTHREAD_MUTEX_INITIALIZER;

const bb_grammar_vocab *server_grammar_vocab(server *s, oai_error *e) {
    pthread_mutex_lock(&vocab_mu);
    bb_error err = {0};
    if (!s->grammar_vocab &&
        bb_grammar_vocab_new(bb_model_vocab(s->model.model), &s->grammar_vocab, &err) != BB_OK)
        oai_fail(e, 500, NULL, "%s", err.message);
    const bb_grammar_vocab *tv = s->grammar_vocab;
    pthread_mutex_unlock(&vocab_mu);
    return tv;
}

void server_grammar_vocab_free(server *s) {
    pthread_mutex_lock(&vocab_mu);
    bb_grammar_vocab_free(s->grammar_vocab);
    s->grammar_vocab = NULL;
    pthread_mutex_unlock(&vocab_mu);
}
