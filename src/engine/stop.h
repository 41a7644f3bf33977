/* Stop strings over a growing UTF-8 text (OpenAI `stop`): finds the earliest occurrence of any
 * stop string and tells how much of the text is safe to release to the client. Text that could
 * still turn into a stop string is held back until the next piece disambiguates it, so a
 * stream never shows a client part of a stop string. */
#ifndef BB_ENGINE_STOP_H
#define BB_ENGINE_STOP_H

#include <stdbool.h>
#include <stddef.h>

#include "beanbag.h"

typedef struct stop_matcher {
    char **stops; /* owned copies */
    size_t *stop_len;
    size_t n_stops;
    size_t max_len; /* longest stop string */
    char *text;     /* everything appended so far (NUL-terminated), truncated at a match */
    size_t len, cap;
    size_t scanned; /* matches starting before scanned - max_len + 1 were ruled out */
} stop_matcher;

/* Copies the stop strings (empty ones are ignored). */
bb_status stop_init(stop_matcher *m, const char *const *stops, size_t n_stops, bb_error *err);
void stop_free(stop_matcher *m);
bb_status stop_append(stop_matcher *m, const char *piece, size_t len, bb_error *err);
/* Looks for a stop string in the text appended so far. On a match the text is cut where the
 * stop string begins, *safe is that length and the result is true. Otherwise *safe is the
 * prefix length that can no longer become part of a stop string (all of it when `final`). */
bool stop_check(stop_matcher *m, bool final, size_t *safe);

#endif
