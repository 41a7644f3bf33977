/* The bots admin API: POST/GET /v1/bots, GET/PATCH/DELETE /v1/bots/ID (admin key only; the
 * router checks it). Shapes follow OpenAI's assistants endpoints: a list is
 * {"object": "list", "data": [...]}, a deletion {"id", "object": "bot.deleted", "deleted"}. */
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

static enum MHD_Result reply(server *s, struct MHD_Connection *c, int status, cJSON *o) {
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return send_json(s, c, (unsigned)status, json);
}

enum MHD_Result route_bots(server *s, struct MHD_Connection *c, http_req *r, const char *method,
                           const char *id) {
    oai_error e;
    if (!atomic_load(&s->ready) || !s->model.bots) {
        oai_fail(&e, 503, NULL, "the model is loading");
        return send_error(s, c, &e);
    }
    bots *b = s->model.bots;
    if (!id && !strcmp(method, "GET")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "object", "list");
        cJSON *all = bots_list(b);
        cJSON_AddItemToObject(o, "data", all ? all : cJSON_CreateArray());
        return reply(s, c, 200, o);
    }
    if (id && !strcmp(method, "GET")) {
        cJSON *bot = bots_get(b, id);
        if (bot) return reply(s, c, 200, bot);
        oai_fail(&e, 404, NULL, "no bot '%.64s'", id);
        e.code = "bot_not_found";
        return send_error(s, c, &e);
    }
    if (id && !strcmp(method, "DELETE")) {
        if (!bots_delete(b, id, &e)) return send_error(s, c, &e);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "object", "bot.deleted");
        cJSON_AddBoolToObject(o, "deleted", 1);
        return reply(s, c, 200, o);
    }
    cJSON *root = NULL, *bot = NULL;
    if (!request_json(r, &root, &e)) return send_error(s, c, &e);
    bool ok = id ? bots_patch(b, id, root, &bot, &e) : bots_create(b, root, &bot, &e);
    cJSON_Delete(root);
    if (!ok) return send_error(s, c, &e);
    return reply(s, c, id ? 200 : 201, bot);
}
