/* SQLite persistence for bots and keys (see store.h). */
#include "store/store.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "common/error.h"

/* PRAGMA application_id: "bbag" in ASCII, as https://sqlite.org/fileformat.html#appid asks. */
#define STORE_APP_ID 0x62626167
#define STORE_VERSION 2

struct bb_store {
    sqlite3 *db;
    pthread_mutex_t mu; /* one statement at a time on the connection */
    char path[1024];
};

static bb_status db_fail(bb_store *s, bb_error *err, const char *what) {
    return bb_fail(err, BB_ERR_IO, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static bb_status exec(bb_store *s, const char *sql, bb_error *err) {
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        bb_status st = bb_fail(err, BB_ERR_IO, "%s: %s", s->path, msg ? msg : "error");
        sqlite3_free(msg);
        return st;
    }
    return BB_OK;
}

static bb_status pragma_int(bb_store *s, const char *sql, int64_t *out, bb_error *err) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT)
        return bb_fail(err, BB_ERR_FORMAT,
                       "%s is not a beanbag database (not SQLite, or damaged); refusing to use "
                       "or overwrite it",
                       s->path);
    if (rc != SQLITE_ROW) return db_fail(s, err, "cannot read the database header");
    return BB_OK;
}

/* Schema version 1; later versions add steps after it, each in its own transaction. */
static const char SCHEMA_V1[] =
    "BEGIN;"
    "CREATE TABLE bots (id TEXT PRIMARY KEY, json TEXT NOT NULL, created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE api_keys (id TEXT PRIMARY KEY, digest BLOB NOT NULL UNIQUE, name TEXT NOT NULL,"
    " rpm INTEGER NOT NULL, tpm INTEGER NOT NULL, created INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "PRAGMA application_id = 1650614631;" /* STORE_APP_ID */
    "PRAGMA user_version = 1;"
    "COMMIT;";

/* Version 2: stored responses (the Responses API), each with the key that made it. */
static const char SCHEMA_V2[] =
    "BEGIN;"
    "CREATE TABLE responses (id TEXT PRIMARY KEY, owner TEXT NOT NULL, json TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "PRAGMA user_version = 2;"
    "COMMIT;";

static bb_status check_and_migrate(bb_store *s, bb_error *err) {
    int64_t app = 0, version = 0, objects = 0;
    bb_status st;
    if ((st = pragma_int(s, "PRAGMA application_id", &app, err)) ||
        (st = pragma_int(s, "PRAGMA user_version", &version, err)) ||
        (st = pragma_int(s, "SELECT count(*) FROM sqlite_master", &objects, err)))
        return st;
    if (app == 0 && version == 0 && objects == 0) {
        if ((st = exec(s, SCHEMA_V1, err))) return st;
        app = STORE_APP_ID;
        version = 1;
    }
    if (app != STORE_APP_ID)
        return bb_fail(err, BB_ERR_FORMAT,
                       "%s is an SQLite database of another program (application_id %lld, "
                       "beanbag's is %d); refusing to use or overwrite it",
                       s->path, (long long)app, STORE_APP_ID);
    if (version > STORE_VERSION)
        return bb_fail(err, BB_ERR_UNSUPPORTED,
                       "%s has schema version %lld, newer than this beanbag's %d", s->path,
                       (long long)version, STORE_VERSION);
    if (version < 1)
        return bb_fail(err, BB_ERR_FORMAT, "%s: beanbag database without a schema version",
                       s->path);
    int64_t ok = 0;
    if ((st = pragma_int(s, "PRAGMA quick_check", &ok, err))) return st;
    if (version < 2 && (st = exec(s, SCHEMA_V2, err))) return st;
    return BB_OK;
}

bb_status store_open(const char *dir, bb_store **out, bb_error *err) {
    *out = NULL;
    if (!dir || !dir[0]) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "no data folder given");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return bb_fail(err, BB_ERR_IO, "cannot create the data folder %s: %s", dir,
                       strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return bb_fail(err, BB_ERR_IO, "the data folder %s is not a folder", dir);
    bb_store *s = calloc(1, sizeof *s);
    if (!s) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    int n = snprintf(s->path, sizeof s->path, "%s/beanbag.db", dir);
    if (n < 0 || (size_t)n >= sizeof s->path) {
        free(s);
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "the data folder path is too long");
    }
    pthread_mutex_init(&s->mu, NULL);
    bb_status st = BB_OK;
    if (sqlite3_open_v2(s->path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK)
        st = db_fail(s, err, "cannot open");
    if (st == BB_OK) sqlite3_busy_timeout(s->db, 5000);
    /* the header is checked before anything is written to the file */
    if (st == BB_OK) st = check_and_migrate(s, err);
    if (st == BB_OK) st = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err);
    if (st != BB_OK) {
        store_close(s);
        return st;
    }
    *out = s;
    return BB_OK;
}

void store_close(bb_store *s) {
    if (!s) return;
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---------------------------------------------------------------- bots */

bb_status store_bot_put(bb_store *s, const char *id, const char *json, bool create, bool *conflict,
                        bb_error *err) {
    *conflict = false;
    const char *sql =
        create ? "INSERT INTO bots (id, json, created, updated) VALUES (?1, ?2, ?3, ?3)"
               : "INSERT INTO bots (id, json, created, updated) VALUES (?1, ?2, ?3, ?3)"
                 " ON CONFLICT(id) DO UPDATE SET json = excluded.json, updated = excluded.updated";
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    bb_status ret = BB_OK;
    if (rc == SQLITE_CONSTRAINT)
        *conflict = true;
    else if (rc != SQLITE_DONE)
        ret = db_fail(s, err, "cannot save the bot");
    pthread_mutex_unlock(&s->mu);
    return ret;
}

bb_status store_bot_get(bb_store *s, const char *id, char **json, bb_error *err) {
    *json = NULL;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT json FROM bots WHERE id = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    bb_status ret = BB_OK;
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        *json = strdup(t ? t : "");
        if (!*json) ret = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(s, err, "cannot read the bot");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

/* Runs a one-row change (id bound to ?1); *found: a row changed. */
static bb_status change_one(bb_store *s, const char *sql, const char *id, bool *found,
                            const char *what, bb_error *err) {
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    bb_status ret = rc == SQLITE_DONE ? BB_OK : db_fail(s, err, what);
    *found = ret == BB_OK && sqlite3_changes(s->db) > 0;
    pthread_mutex_unlock(&s->mu);
    return ret;
}

bb_status store_bot_delete(bb_store *s, const char *id, bool *found, bb_error *err) {
    return change_one(s, "DELETE FROM bots WHERE id = ?1", id, found, "cannot delete the bot", err);
}

bb_status store_bot_each(bb_store *s, void (*fn)(void *arg, const char *id, const char *json),
                         void *arg, bb_error *err) {
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT id, json FROM bots ORDER BY id", -1, &st, NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            fn(arg, (const char *)sqlite3_column_text(st, 0),
               (const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    bb_status ret = rc == SQLITE_DONE ? BB_OK : db_fail(s, err, "cannot list the bots");
    pthread_mutex_unlock(&s->mu);
    return ret;
}

/* ---------------------------------------------------------------- keys */

#define DIGEST_SIZE 32

/* SHA-256 (FIPS 180-4) through OpenSSL's one-shot EVP_Digest; all zeros if it fails, which
 * matches no key (a made key's digest is checked below). */
static bool digest_of(const char *secret, uint8_t out[DIGEST_SIZE]) {
    unsigned int n = 0;
    if (EVP_Digest(secret, strlen(secret), out, &n, EVP_sha256(), NULL) == 1 && n == DIGEST_SIZE)
        return true;
    memset(out, 0, DIGEST_SIZE);
    return false;
}

static void hex(const uint8_t *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

static bb_status random_bytes(uint8_t *b, size_t n, bb_error *err) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return bb_fail(err, BB_ERR_IO, "no random bytes: %s", strerror(errno));
        got += (size_t)r;
    }
    return BB_OK;
}

static void key_row(sqlite3_stmt *st, store_key *k) {
    memset(k, 0, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(k->name, sizeof k->name, "%s", (const char *)sqlite3_column_text(st, 1));
    k->rpm = sqlite3_column_int64(st, 2);
    k->tpm = sqlite3_column_int64(st, 3);
    k->created = sqlite3_column_int64(st, 4);
    k->revoked = sqlite3_column_int64(st, 5) != 0;
}

bb_status store_key_add(bb_store *s, const char *name, int64_t rpm, int64_t tpm, char *secret,
                        size_t cap, store_key *out, bb_error *err) {
    if (cap < 68) return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "key buffer too small");
    if (rpm < 0 || tpm < 0)
        return bb_fail(err, BB_ERR_INVALID_ARGUMENT, "limits must be 0 (none) or positive");
    uint8_t raw[32 + 6], digest[DIGEST_SIZE];
    bb_status ret = random_bytes(raw, sizeof raw, err);
    if (ret != BB_OK) return ret;
    memcpy(secret, "bb-", 3);
    hex(raw, 32, secret + 3);
    memset(out, 0, sizeof *out);
    memcpy(out->id, "key_", 4);
    hex(raw + 32, 6, out->id + 4);
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    out->rpm = rpm;
    out->tpm = tpm;
    out->created = (int64_t)time(NULL);
    if (!digest_of(secret, digest)) return bb_fail(err, BB_ERR_INTERNAL, "SHA-256 failed");
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO api_keys (id, digest, name, rpm, tpm, created)"
                                " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, out->id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, digest, sizeof digest, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, out->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, rpm);
        sqlite3_bind_int64(st, 5, tpm);
        sqlite3_bind_int64(st, 6, out->created);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) ret = db_fail(s, err, "cannot save the key");
    pthread_mutex_unlock(&s->mu);
    return ret;
}

bb_status store_key_find(bb_store *s, const char *secret, store_key *out, bool *found,
                         bb_error *err) {
    *found = false;
    uint8_t digest[DIGEST_SIZE];
    digest_of(secret, digest);
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT id, name, rpm, tpm, created, revoked FROM api_keys"
                                " WHERE digest = ?1 AND revoked = 0",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(st, 1, digest, sizeof digest, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    bb_status ret = BB_OK;
    if (rc == SQLITE_ROW) {
        key_row(st, out);
        *found = true;
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(s, err, "cannot look the key up");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

bb_status store_key_list(bb_store *s, store_key **keys, size_t *n, bb_error *err) {
    *keys = NULL;
    *n = 0;
    size_t cap = 0;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT id, name, rpm, tpm, created, revoked FROM api_keys"
                                " ORDER BY created, id",
                                -1, &st, NULL);
    bb_status ret = BB_OK;
    while (ret == BB_OK && (rc == SQLITE_OK || rc == SQLITE_ROW)) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) break;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            store_key *k = realloc(*keys, cap * sizeof *k);
            if (!k) {
                ret = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
                break;
            }
            *keys = k;
        }
        key_row(st, &(*keys)[(*n)++]);
    }
    sqlite3_finalize(st);
    if (ret == BB_OK && rc != SQLITE_DONE) ret = db_fail(s, err, "cannot list the keys");
    pthread_mutex_unlock(&s->mu);
    if (ret != BB_OK) {
        free(*keys);
        *keys = NULL;
        *n = 0;
    }
    return ret;
}

bb_status store_key_revoke(bb_store *s, const char *id, bool *found, bb_error *err) {
    return change_one(s, "UPDATE api_keys SET revoked = 1 WHERE id = ?1 AND revoked = 0", id, found,
                      "cannot revoke the key", err);
}

bb_status store_key_count(bb_store *s, int64_t *n, bb_error *err) {
    pthread_mutex_lock(&s->mu);
    bb_status st = pragma_int(s, "SELECT count(*) FROM api_keys WHERE revoked = 0", n, err);
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---------------------------------------------------------------- responses */

bb_status store_response_put(bb_store *s, const char *id, const char *owner, const char *json,
                             bb_error *err) {
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "INSERT INTO responses (id, owner, json, created) VALUES (?1, ?2, ?3, ?4)", -1, &st,
        NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    bb_status ret = rc == SQLITE_DONE ? BB_OK : db_fail(s, err, "cannot save the response");
    pthread_mutex_unlock(&s->mu);
    return ret;
}

bb_status store_response_get(bb_store *s, const char *id, const char *owner, char **json,
                             bb_error *err) {
    *json = NULL;
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT json FROM responses WHERE id = ?1 AND (?2 IS NULL OR "
                                "owner = ?2)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (owner) sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    bb_status ret = BB_OK;
    if (rc == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!(*json = strdup(t ? t : "")))
            ret = bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory");
    } else if (rc != SQLITE_DONE) {
        ret = db_fail(s, err, "cannot read the response");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return ret;
}

bb_status store_response_delete(bb_store *s, const char *id, const char *owner, bool *found,
                                bb_error *err) {
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "DELETE FROM responses WHERE id = ?1 AND (?2 IS NULL OR owner = ?2)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        if (owner) sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    bb_status ret = rc == SQLITE_DONE ? BB_OK : db_fail(s, err, "cannot delete the response");
    *found = ret == BB_OK && sqlite3_changes(s->db) > 0;
    pthread_mutex_unlock(&s->mu);
    return ret;
}
