/*
 * Bots: a persona and its settings, published once and used by name as `model`. A bot is a
 * JSON object shaped like OpenAI's assistant object (id, name, description, model,
 * instructions, tools, temperature, top_p, response_format, metadata) plus beanbag's
 * greeting, examples (few-shot messages), max_tokens, stop, penalties, seed and
 * allow_overrides (the request fields a caller may set; everything else is the bot's).
 *
 * Bots come from JSON files in a folder (read-only, validated at start) and from the admin
 * API, persisted in the store. A chat request naming a bot gets the bot's messages first
 * (instructions with {{variables}} filled from the request's metadata, the bot's metadata,
 * or the built-ins {{date}} and {{bot_name}}; then the examples and the greeting), the bot's
 * settings as defaults, and is refused when it sets what the bot does not allow.
 */
#ifndef BB_SERVER_BOTS_H
#define BB_SERVER_BOTS_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "beanbag.h"
#include "server/oai_request.h"
#include "store/store.h"

typedef struct bots bots;

/* model_id: the model bots run on (a bot's "model" must be it, or absent). store may be
 * NULL (no admin-made bots). dir may be NULL; its *.json files are loaded and validated,
 * and the first bad one fails with an error naming the file and the field. */
bb_status bots_open(const char *dir, bb_store *store, const char *model_id, bots **out,
                    bb_error *err);
void bots_free(bots *b);

/* Checks a bot document (a new one: create; or the result of a PATCH); on success *out is a
 * normalised copy (cJSON_Delete it) with id and object set. id_hint names a bot without an
 * "id" (its file's name). */
bool bots_validate(const bots *b, const cJSON *doc, const char *id_hint, cJSON **out, oai_error *e);

/* Rewrites a chat request naming a bot into the request to run (model set to the base
 * model). Returns 1 when it did, 0 when root's model is not a bot, -1 with *e set. */
int bots_apply(bots *b, cJSON *root, oai_error *e);

/* Every bot (an array of bot objects, cJSON_Delete it). */
cJSON *bots_list(bots *b);
/* A copy of one bot, or NULL. */
cJSON *bots_get(bots *b, const char *id);
/* Admin operations; status codes as HTTP: 200/201 with *result, or an error in *e. */
bool bots_create(bots *b, const cJSON *doc, cJSON **result, oai_error *e);
bool bots_patch(bots *b, const char *id, const cJSON *patch, cJSON **result, oai_error *e);
bool bots_delete(bots *b, const char *id, oai_error *e);

#endif
