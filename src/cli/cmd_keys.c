/* `beanbag keys add/list/revoke`: the user API keys a server with --data-dir accepts. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "store/store.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: beanbag keys add    --data-dir DIR [--name NAME] [--rpm N] [--tpm N]\n"
            "       beanbag keys list   --data-dir DIR\n"
            "       beanbag keys revoke --data-dir DIR KEY_ID\n"
            "\n"
            "User API keys for `beanbag serve --data-dir DIR`: they may chat and list models,\n"
            "never change a bot. The key is printed once, by add; the database keeps only its\n"
            "SHA-256 digest. A running server sees new and revoked keys at once.\n"
            "\n"
            "      --data-dir DIR  the server's data folder (DIR/beanbag.db)\n"
            "      --name NAME     a label for the key (who it is for)\n"
            "      --rpm N         requests per minute at most (default 0: no limit)\n"
            "      --tpm N         prompt + completion tokens per minute (default 0: no limit)\n"
            "  -h, --help          this help\n");
}

static const struct option long_opts[] = {
    {"data-dir", required_argument, NULL, 'd'}, {"name", required_argument, NULL, 'n'},
    {"rpm", required_argument, NULL, 'r'},      {"tpm", required_argument, NULL, 't'},
    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
};

int cmd_keys(int argc, char **argv) {
    const char *dir = NULL, *name = "";
    long long rpm = 0, tpm = 0;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *action = argv[1];
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'r':
            ok = cli_int("keys", "--rpm", optarg, 0, 1LL << 40, &rpm);
            break;
        case 't':
            ok = cli_int("keys", "--tpm", optarg, 0, 1LL << 40, &tpm);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (!ok) return 2;
    }
    bool add = !strcmp(action, "add"), list = !strcmp(action, "list"),
         revoke = !strcmp(action, "revoke");
    if (!add && !list && !revoke) {
        fprintf(stderr, "beanbag keys: unknown action '%s' (add, list or revoke)\n", action);
        return 2;
    }
    if (!dir) {
        fprintf(stderr, "beanbag keys: --data-dir is required\n");
        return 2;
    }
    if (revoke != (optind < argc) || argc - optind > 1) {
        fprintf(stderr,
                revoke ? "beanbag keys revoke: give one KEY_ID\n"
                       : "beanbag keys: unexpected argument '%s'\n",
                optind < argc ? argv[optind] : "");
        return 2;
    }
    bb_error err = {0};
    bb_store *s = NULL;
    if (store_open(dir, &s, &err) != BB_OK) {
        fprintf(stderr, "beanbag keys: %s\n", err.message);
        return 1;
    }
    int rc = 0;
    if (add) {
        char secret[80];
        store_key k;
        if (store_key_add(s, name, rpm, tpm, secret, sizeof secret, &k, &err) != BB_OK) {
            fprintf(stderr, "beanbag keys: %s\n", err.message);
            rc = 1;
        } else {
            printf("%s\n", secret);
            fprintf(stderr, "beanbag keys: made %s (shown once: keep it now)\n", k.id);
        }
    } else if (list) {
        store_key *keys = NULL;
        size_t n = 0;
        if (store_key_list(s, &keys, &n, &err) != BB_OK) {
            fprintf(stderr, "beanbag keys: %s\n", err.message);
            rc = 1;
        }
        printf("%-17s %-8s %-10s %-12s %-20s %s\n", "id", "status", "rpm", "tpm", "created",
               "name");
        for (size_t i = 0; i < n; i++) {
            char when[32];
            time_t t = (time_t)keys[i].created;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("%-17s %-8s %-10lld %-12lld %-20s %s\n", keys[i].id,
                   keys[i].revoked ? "revoked" : "active", (long long)keys[i].rpm,
                   (long long)keys[i].tpm, when, keys[i].name);
        }
        free(keys);
    } else {
        bool found = false;
        if (store_key_revoke(s, argv[optind], &found, &err) != BB_OK) {
            fprintf(stderr, "beanbag keys: %s\n", err.message);
            rc = 1;
        } else if (!found) {
            fprintf(stderr, "beanbag keys: no active key '%s'\n", argv[optind]);
            rc = 1;
        } else {
            printf("revoked %s\n", argv[optind]);
        }
    }
    store_close(s);
    return rc;
}
