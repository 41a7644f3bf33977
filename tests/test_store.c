/* Store tests: bots and keys in SQLite — round trips, persistence across reopening, refusal
 * of foreign, damaged and newer database files (left untouched), and kill -9 in the middle of
 * a burst of writes: the reopened database holds every write that was acknowledged. */
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/store.h"
#include "testutil.h"

static void make_dir(char *tmpl) {
    CHECK(mkdtemp(tmpl) != NULL);
}

static void rm_dir(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void count_bot(void *arg, const char *id, const char *json) {
    (void)id;
    (void)json;
    (*(int *)arg)++;
}

static void test_round_trip(void) {
    char dir[] = "/tmp/bb_test_store_XXXXXX";
    make_dir(dir);
    bb_store *s = NULL;
    bb_error err = {0};
    CHECKF(store_open(dir, &s, &err) == BB_OK, "%s", err.message);
    if (!s) return;
    bool conflict = true, found = false;
    CHECK(store_bot_put(s, "a", "{\"id\":\"a\"}", true, &conflict, &err) == BB_OK && !conflict);
    CHECK(store_bot_put(s, "a", "{\"id\":\"a\",\"x\":1}", true, &conflict, &err) == BB_OK &&
          conflict);
    CHECK(store_bot_put(s, "a", "{\"id\":\"a\",\"x\":2}", false, &conflict, &err) == BB_OK &&
          !conflict);
    CHECK(store_bot_put(s, "b", "{\"id\":\"b\"}", true, &conflict, &err) == BB_OK);
    char *json = NULL;
    CHECK(store_bot_get(s, "a", &json, &err) == BB_OK && json &&
          !strcmp(json, "{\"id\":\"a\",\"x\":2}"));
    free(json);
    CHECK(store_bot_get(s, "zz", &json, &err) == BB_OK && !json);
    CHECK(store_bot_delete(s, "b", &found, &err) == BB_OK && found);
    CHECK(store_bot_delete(s, "b", &found, &err) == BB_OK && !found);
    char secret[80], secret2[80];
    store_key k, k2, got;
    CHECK(store_key_add(s, "alice", 60, 1000, secret, sizeof secret, &k, &err) == BB_OK);
    CHECK(store_key_add(s, "bob", 0, 0, secret2, sizeof secret2, &k2, &err) == BB_OK);
    CHECK(strlen(secret) == 67 && !strncmp(secret, "bb-", 3) && strcmp(secret, secret2));
    CHECK(store_key_find(s, secret, &got, &found, &err) == BB_OK && found &&
          !strcmp(got.id, k.id) && got.rpm == 60 && got.tpm == 1000 && !strcmp(got.name, "alice"));
    CHECK(store_key_find(s, "bb-guess", &got, &found, &err) == BB_OK && !found);
    CHECK(store_key_revoke(s, k2.id, &found, &err) == BB_OK && found);
    CHECK(store_key_find(s, secret2, &got, &found, &err) == BB_OK && !found);
    int64_t n = -1;
    CHECK(store_key_count(s, &n, &err) == BB_OK && n == 1);
    store_close(s);

    /* reopened: everything is there, and no secret is stored in the clear */
    CHECKF(store_open(dir, &s, &err) == BB_OK, "%s", err.message);
    if (!s) return;
    int bots = 0;
    CHECK(store_bot_each(s, count_bot, &bots, &err) == BB_OK && bots == 1);
    store_key *keys = NULL;
    size_t nk = 0;
    CHECK(store_key_list(s, &keys, &nk, &err) == BB_OK && nk == 2);
    CHECK(nk == 2 && keys[1].revoked != keys[0].revoked);
    free(keys);
    CHECK(store_key_find(s, secret, &got, &found, &err) == BB_OK && found);
    store_close(s);
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/beanbag.db", dir);
    snprintf(cmd, sizeof cmd, "grep -q '%s' '%s' '%s-wal' 2>/dev/null", secret + 3, path, path);
    CHECK(system(cmd) != 0);
    rm_dir(dir);
}

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 16);
    *n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

/* A file that is not ours is refused with a message saying why, and left as it was. */
static void expect_refused(const char *dir, const char *why) {
    char path[600];
    snprintf(path, sizeof path, "%s/beanbag.db", dir);
    size_t n0 = 0, n1 = 0;
    char *before = read_file(path, &n0);
    bb_store *s = NULL;
    bb_error err = {0};
    bb_status st = store_open(dir, &s, &err);
    CHECKF(st != BB_OK && !s, "%s: opened", why);
    CHECKF(strstr(err.message, why) != NULL, "message '%s' does not say '%s'", err.message, why);
    char *after = read_file(path, &n1);
    CHECKF(before && after && n0 == n1 && !memcmp(before, after, n0), "%s: the file changed", why);
    free(before);
    free(after);
    store_close(s);
}

static void test_refusals(void) {
    char dir[] = "/tmp/bb_test_store_XXXXXX";
    make_dir(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/beanbag.db", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine');", NULL,
                       NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    expect_refused(dir, "another program");
    unlink(path);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 255, f);
    fclose(f);
    expect_refused(dir, "not a beanbag database");
    unlink(path);
    bb_store *s = NULL;
    bb_error err = {0};
    CHECK(store_open(dir, &s, &err) == BB_OK);
    store_close(s);
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    expect_refused(dir, "newer");
    rm_dir(dir);
}

/* A version 1 file (before stored responses) is migrated forward at open, keeping its bots. */
static void test_migration(void) {
    char dir[] = "/tmp/bb_test_store_XXXXXX";
    make_dir(dir);
    bb_store *s = NULL;
    bb_error err = {0};
    bool conflict = false;
    CHECK(store_open(dir, &s, &err) == BB_OK);
    CHECK(s && store_bot_put(s, "old", "{}", true, &conflict, &err) == BB_OK);
    store_close(s);
    char path[600];
    snprintf(path, sizeof path, "%s/beanbag.db", dir);
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DROP TABLE responses; PRAGMA user_version = 1;", NULL, NULL, NULL) ==
          SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    CHECKF(store_open(dir, &s, &err) == BB_OK, "migrating: %s", err.message);
    char *json = NULL;
    CHECK(s && store_response_put(s, "resp_1", "", "{\"a\":1}", &err) == BB_OK);
    CHECK(s && store_response_get(s, "resp_1", NULL, &json, &err) == BB_OK && json);
    free(json);
    CHECK(s && store_bot_get(s, "old", &json, &err) == BB_OK && json);
    free(json);
    bool found = false;
    CHECK(s && store_response_get(s, "resp_1", "key_other", &json, &err) == BB_OK && !json);
    CHECK(s && store_response_delete(s, "resp_1", "", &found, &err) == BB_OK && found);
    store_close(s);
    rm_dir(dir);
}

/* A child writes bots as fast as it can and reports each one once the write returned; it is
 * killed with SIGKILL mid-burst. Every reported bot must be in the reopened database. */
static void test_kill9(void) {
    char dir[] = "/tmp/bb_test_store_XXXXXX";
    make_dir(dir);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        bb_store *s = NULL;
        if (store_open(dir, &s, NULL) != BB_OK) _exit(1);
        for (int i = 0;; i++) {
            char id[32], json[64];
            bool conflict;
            snprintf(id, sizeof id, "bot%d", i);
            snprintf(json, sizeof json, "{\"id\":\"%s\",\"n\":%d}", id, i);
            if (store_bot_put(s, id, json, true, &conflict, NULL) != BB_OK) _exit(2);
            if (write(fds[1], &i, sizeof i) != sizeof i) _exit(3);
        }
    }
    close(fds[1]);
    int acked = -1, i;
    while (acked < 40 && read(fds[0], &i, sizeof i) == sizeof i)
        acked = i;
    kill(pid, SIGKILL);
    while (read(fds[0], &i, sizeof i) == sizeof i)
        acked = i;
    close(fds[0]);
    waitpid(pid, NULL, 0);
    bb_store *s = NULL;
    bb_error err = {0};
    CHECKF(store_open(dir, &s, &err) == BB_OK, "after kill -9: %s", err.message);
    int missing = 0;
    for (int k = 0; s && k <= acked; k++) {
        char id[32], want[64], *json = NULL;
        snprintf(id, sizeof id, "bot%d", k);
        snprintf(want, sizeof want, "{\"id\":\"%s\",\"n\":%d}", id, k);
        if (store_bot_get(s, id, &json, &err) != BB_OK || !json || strcmp(json, want)) missing++;
        free(json);
    }
    CHECKF(acked >= 40 && missing == 0, "%d of %d acknowledged writes lost", missing, acked + 1);
    printf("kill -9 after %d acknowledged writes: %d lost\n", acked + 1, missing);
    store_close(s);
    rm_dir(dir);
}

int main(void) {
    test_round_trip();
    test_refusals();
    test_migration();
    test_kill9();
    return tu_finish("test_store");
}
