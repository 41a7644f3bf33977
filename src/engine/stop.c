#include "engine/stop.h"

#include <stdlib.h>
#include <string.h>

#include "common/checked.h"
#include "common/error.h"

bb_status stop_init(stop_matcher *m, const char *const *stops, size_t n_stops, bb_error *err) {
    memset(m, 0, sizeof *m);
    m->text = malloc(1);
    if (!m->text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for stop strings");
    m->text[0] = 0;
    m->cap = 1;
    if (n_stops == 0) return BB_OK;
    m->stops = calloc(n_stops, sizeof *m->stops);
    m->stop_len = calloc(n_stops, sizeof *m->stop_len);
    if (!m->stops || !m->stop_len) goto oom;
    for (size_t i = 0; i < n_stops; i++) {
        size_t len = strlen(stops[i]);
        if (len == 0) continue;
        char *copy = strdup(stops[i]);
        if (!copy) goto oom;
        m->stops[m->n_stops] = copy;
        m->stop_len[m->n_stops++] = len;
        if (len > m->max_len) m->max_len = len;
    }
    return BB_OK;
oom:
    stop_free(m);
    return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for stop strings");
}

void stop_free(stop_matcher *m) {
    for (size_t i = 0; i < m->n_stops; i++)
        free(m->stops[i]);
    free(m->stops);
    free(m->stop_len);
    free(m->text);
    memset(m, 0, sizeof *m);
}

bb_status stop_append(stop_matcher *m, const char *piece, size_t len, bb_error *err) {
    size_t need;
    if (!bb_add_size(m->len, len, &need) || !bb_add_size(need, 1, &need))
        return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "generated text too long");
    if (need > m->cap) {
        size_t cap = m->cap * 2 > need ? m->cap * 2 : need;
        char *text = realloc(m->text, cap);
        if (!text) return bb_fail(err, BB_ERR_OUT_OF_MEMORY, "out of memory for generated text");
        m->text = text;
        m->cap = cap;
    }
    memcpy(m->text + m->len, piece, len);
    m->len += len;
    m->text[m->len] = 0;
    return BB_OK;
}

/* Earliest position >= from where a whole stop string occurs, or -1. */
static long find_earliest(const stop_matcher *m, size_t from) {
    for (size_t p = from; p < m->len; p++)
        for (size_t i = 0; i < m->n_stops; i++)
            if (m->stop_len[i] <= m->len - p && !memcmp(m->text + p, m->stops[i], m->stop_len[i]))
                return (long)p;
    return -1;
}

/* Length of the longest text suffix that is a proper prefix of some stop string. */
static size_t held_suffix(const stop_matcher *m) {
    size_t best = 0;
    for (size_t i = 0; i < m->n_stops; i++) {
        size_t k = m->stop_len[i] - 1 < m->len ? m->stop_len[i] - 1 : m->len;
        for (; k > best; k--)
            if (!memcmp(m->text + m->len - k, m->stops[i], k)) {
                best = k;
                break;
            }
    }
    return best;
}

bool stop_check(stop_matcher *m, bool final, size_t *safe) {
    if (m->n_stops == 0) {
        *safe = m->len;
        return false;
    }
    /* A match not found before could only end inside the newly appended text. */
    size_t from = m->scanned >= m->max_len ? m->scanned - m->max_len + 1 : 0;
    long at = find_earliest(m, from);
    if (at >= 0) {
        m->len = (size_t)at;
        m->text[m->len] = 0;
        m->scanned = m->len;
        *safe = m->len;
        return true;
    }
    m->scanned = m->len;
    *safe = final ? m->len : m->len - held_suffix(m);
    return false;
}
