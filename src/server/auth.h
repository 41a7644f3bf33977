/*
 * Who may call what, and how often. Three kinds of caller: the admin (--admin-key: the bots
 * admin API and everything else), user keys (made with `beanbag keys add`, stored hashed; chat
 * and the other model endpoints, never a change to a bot), and the single shared --api-key of
 * earlier versions (a user without limits). A server with none of these configured is open,
 * except for the admin API, which needs --admin-key.
 *
 * Limits per user key: requests and tokens (prompt + completion) per minute, each a token
 * bucket that refills continuously (capacity one minute's allowance). A request over either
 * gets 429 with Retry-After (seconds until the bucket allows it). Tokens are known only when
 * a request ends, so they are charged then: a burst may overdraw the bucket, and the next
 * requests wait until it refills.
 */
#ifndef BB_SERVER_AUTH_H
#define BB_SERVER_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "store/store.h"

typedef struct auth auth;

typedef struct auth_result {
    int status;       /* 0: allowed; 401, 403, 429 or 500 */
    const char *code; /* OpenAI-style error code */
    char message[600];
    int retry_after;                   /* seconds, with 429 */
    char key_id[STORE_KEY_ID_LEN + 1]; /* the user key, "" for others */
} auth_result;

/* admin_key, api_key: NULL or "" when not set; store may be NULL. */
auth *auth_new(const char *admin_key, const char *api_key, bb_store *store);
void auth_free(auth *a);

/* Decides on a request carrying `authorization` (the header, or NULL) for an endpoint that
 * is admin-only or not; `limited`: the request counts against a user key's limits. */
void auth_check(auth *a, const char *authorization, bool admin, bool limited, auth_result *out);
/* Charges the request's tokens to the key when it ends (holds a reference until then). */
void auth_track(auth *a, const char *key_id, engine_request *r);

#endif
