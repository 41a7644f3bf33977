/* Keys and per-key limits (see auth.h). */
#include "server/auth.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct bucket_state {
    char key_id[STORE_KEY_ID_LEN + 1];
    double requests, tokens; /* what the buckets hold now */
    double t;                /* when they were last refilled */
    struct bucket_state *next;
} bucket_state;

typedef struct tracked {
    char key_id[STORE_KEY_ID_LEN + 1];
    engine_request *req;
    struct tracked *next;
} tracked;

struct auth {
    char *admin_key, *api_key;
    bb_store *store;
    pthread_mutex_t mu;
    bucket_state *buckets; /* one per user key seen (bounded by the keys in the store) */
    tracked *pending;      /* requests of user keys whose tokens are not charged yet */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

auth *auth_new(const char *admin_key, const char *api_key, bb_store *store) {
    auth *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->admin_key = admin_key && admin_key[0] ? strdup(admin_key) : NULL;
    a->api_key = api_key && api_key[0] ? strdup(api_key) : NULL;
    a->store = store;
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void auth_free(auth *a) {
    if (!a) return;
    while (a->buckets) {
        bucket_state *b = a->buckets;
        a->buckets = b->next;
        free(b);
    }
    while (a->pending) {
        tracked *t = a->pending;
        a->pending = t->next;
        engine_request_unref(t->req);
        free(t);
    }
    pthread_mutex_destroy(&a->mu);
    free(a->admin_key);
    free(a->api_key);
    free(a);
}

/* Compares in time that depends only on the key's length, so response times do not reveal
 * how much of a guess was right. */
static bool same_secret(const char *key, const char *tok) {
    size_t n = strlen(tok), k = strlen(key);
    volatile unsigned char diff = n != k;
    for (size_t i = 0; i < k; i++)
        diff |= (unsigned char)(key[i] ^ (i < n ? tok[i] : 0));
    return diff == 0;
}

static void deny(auth_result *out, int status, const char *code, const char *msg) {
    out->status = status;
    out->code = code;
    snprintf(out->message, sizeof out->message, "%s", msg);
}

static bucket_state *bucket_of(auth *a, const store_key *k, double now) {
    for (bucket_state *b = a->buckets; b; b = b->next)
        if (!strcmp(b->key_id, k->id)) return b;
    bucket_state *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    snprintf(b->key_id, sizeof b->key_id, "%s", k->id);
    b->requests = (double)k->rpm;
    b->tokens = (double)k->tpm;
    b->t = now;
    b->next = a->buckets;
    a->buckets = b;
    return b;
}

/* Charges the tokens of finished tracked requests (under mu). */
static void settle(auth *a) {
    for (tracked **pp = &a->pending; *pp;) {
        tracked *t = *pp;
        if (!engine_request_done(t->req)) {
            pp = &t->next;
            continue;
        }
        int32_t pt = 0, ct = 0;
        engine_request_usage(t->req, &pt, &ct);
        for (bucket_state *b = a->buckets; b; b = b->next)
            if (!strcmp(b->key_id, t->key_id)) b->tokens -= (double)pt + ct;
        engine_request_unref(t->req);
        *pp = t->next;
        free(t);
    }
}

static void limit(auth *a, const store_key *k, auth_result *out) {
    pthread_mutex_lock(&a->mu);
    settle(a);
    double now = now_s();
    bucket_state *b = bucket_of(a, k, now);
    if (!b) {
        pthread_mutex_unlock(&a->mu);
        deny(out, 500, "server_error", "out of memory");
        return;
    }
    double dt = now - b->t;
    b->t = now;
    if (k->rpm > 0) b->requests = fmin((double)k->rpm, b->requests + dt * (double)k->rpm / 60);
    if (k->tpm > 0) b->tokens = fmin((double)k->tpm, b->tokens + dt * (double)k->tpm / 60);
    double wait = 0;
    const char *what = NULL;
    if (k->rpm > 0 && b->requests < 1) {
        wait = (1 - b->requests) * 60 / (double)k->rpm;
        what = "requests per minute";
    } else if (k->tpm > 0 && b->tokens <= 0) {
        wait = (1 - b->tokens) * 60 / (double)k->tpm;
        what = "tokens per minute";
    }
    if (what) {
        out->status = 429;
        out->code = "rate_limit_exceeded";
        out->retry_after = (int)ceil(wait) > 0 ? (int)ceil(wait) : 1;
        snprintf(out->message, sizeof out->message,
                 "key %s is over its limit of %lld %s; retry in %d s", k->id,
                 (long long)(what[0] == 'r' ? k->rpm : k->tpm), what, out->retry_after);
    } else if (k->rpm > 0) {
        b->requests -= 1;
    }
    pthread_mutex_unlock(&a->mu);
}

void auth_check(auth *a, const char *authorization, bool admin, bool limited, auth_result *out) {
    memset(out, 0, sizeof *out);
    const char *tok = NULL;
    if (authorization && !strncasecmp(authorization, "Bearer ", 7)) tok = authorization + 7;
    if (tok && a->admin_key && same_secret(a->admin_key, tok)) return; /* the admin */
    if (admin && !a->admin_key) {
        deny(out, 403, "admin_disabled",
             "the admin API is off: start the server with --admin-key to use it");
        return;
    }
    if (tok && a->api_key && same_secret(a->api_key, tok)) {
        if (admin) deny(out, 403, "admin_only", "this endpoint needs the admin key");
        return;
    }
    store_key k;
    bool found = false;
    int64_t n_keys = 0;
    bb_error err = {0};
    if (a->store && tok && store_key_find(a->store, tok, &k, &found, &err) != BB_OK) {
        deny(out, 500, "server_error", err.message);
        return;
    }
    if (found) {
        if (admin) {
            deny(out, 403, "admin_only",
                 "a user key cannot use the admin API (bots are changed with the admin key)");
            return;
        }
        snprintf(out->key_id, sizeof out->key_id, "%s", k.id);
        if (limited) limit(a, &k, out);
        return;
    }
    if (a->store && store_key_count(a->store, &n_keys, &err) != BB_OK) {
        deny(out, 500, "server_error", err.message);
        return;
    }
    bool open = !a->admin_key && !a->api_key && n_keys == 0;
    if (open && !admin) return;
    deny(out, 401, "invalid_api_key",
         tok ? "the API key is not valid (unknown or revoked)"
             : "a valid API key is required (Authorization: Bearer KEY)");
}

void auth_track(auth *a, const char *key_id, engine_request *r) {
    if (!key_id || !key_id[0]) return;
    tracked *t = calloc(1, sizeof *t);
    if (!t) return;
    snprintf(t->key_id, sizeof t->key_id, "%s", key_id);
    engine_request_ref(r);
    t->req = r;
    pthread_mutex_lock(&a->mu);
    t->next = a->pending;
    a->pending = t;
    pthread_mutex_unlock(&a->mu);
}
