/*
 * Persistence for the server: bots, API keys and stored responses in one SQLite database,
 * DIR/beanbag.db (https://sqlite.org/wal.html: write-ahead log with synchronous=FULL, so a write
 * that returned is on disk and survives kill -9 or a power cut, and a half-written transaction is
 * never read back).
 *
 * The file is recognised by its application_id ("bbag") and its schema version
 * (user_version, migrated forward at open). A file that is not SQLite, is damaged, belongs
 * to another program, or comes from a newer beanbag is refused with an error saying which;
 * it is never overwritten.
 *
 * API keys are stored only as SHA-256 digests of the key (keys are 32 random bytes, so a
 * digest is as strong as a slow hash would be); the key itself is shown once, when made.
 * Every function is safe to call from any thread.
 */
#ifndef BB_STORE_H
#define BB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "beanbag.h"

typedef struct bb_store bb_store;

/* Opens (creating the folder and the database when absent) DIR/beanbag.db. */
bb_status store_open(const char *dir, bb_store **out, bb_error *err);
void store_close(bb_store *s);

/* ---------------------------------------------------------------- bots (JSON documents) */

/* Inserts (create: fails with *conflict when the id exists) or replaces a bot. */
bb_status store_bot_put(bb_store *s, const char *id, const char *json, bool create, bool *conflict,
                        bb_error *err);
/* *json: a new string (free()), NULL when there is no such bot. */
bb_status store_bot_get(bb_store *s, const char *id, char **json, bb_error *err);
bb_status store_bot_delete(bb_store *s, const char *id, bool *found, bb_error *err);
/* Calls fn for every bot, by id. */
bb_status store_bot_each(bb_store *s, void (*fn)(void *arg, const char *id, const char *json),
                         void *arg, bb_error *err);

/* ---------------------------------------------------------------- keys */

#define STORE_KEY_ID_LEN 16 /* "key_" and 12 hex digits */

typedef struct store_key {
    char id[STORE_KEY_ID_LEN + 1];
    char name[128];
    int64_t rpm; /* requests per minute, 0: unlimited */
    int64_t tpm; /* tokens (prompt + completion) per minute, 0: unlimited */
    int64_t created;
    bool revoked;
} store_key;

/* Makes a key: *secret (cap >= 64) gets "bb-" and 64 hex digits, shown to the user once. */
bb_status store_key_add(bb_store *s, const char *name, int64_t rpm, int64_t tpm, char *secret,
                        size_t cap, store_key *out, bb_error *err);
/* The unrevoked key whose secret this is; *found false when none. */
bb_status store_key_find(bb_store *s, const char *secret, store_key *out, bool *found,
                         bb_error *err);
/* Every key, oldest first (*keys: free()). */
bb_status store_key_list(bb_store *s, store_key **keys, size_t *n, bb_error *err);
bb_status store_key_revoke(bb_store *s, const char *id, bool *found, bb_error *err);
/* Unrevoked keys. */
bb_status store_key_count(bb_store *s, int64_t *n, bb_error *err);

/* ---------------------------------------------------------------- responses */

/* Stored responses (POST /v1/responses with store), each owned by the key that made it
 * (owner "" for the admin, --api-key or an open server). owner NULL: any owner. */
bb_status store_response_put(bb_store *s, const char *id, const char *owner, const char *json,
                             bb_error *err);
/* *json NULL when there is none (for this owner). */
bb_status store_response_get(bb_store *s, const char *id, const char *owner, char **json,
                             bb_error *err);
bb_status store_response_delete(bb_store *s, const char *id, const char *owner, bool *found,
                                bb_error *err);

#endif
