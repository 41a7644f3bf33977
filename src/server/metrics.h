/* /metrics in the Prometheus text exposition format (version 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/). */
#ifndef BB_SERVER_METRICS_H
#define BB_SERVER_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "engine/engine.h"
#include "common/strbuf.h"

/* HTTP responses by status code, counted by the HTTP layer. */
typedef struct http_counters {
    atomic_uint_fast64_t by_status[600];
} http_counters;

void http_count(http_counters *c, unsigned status);
/* stats is NULL while the model is loading. */
void metrics_render(bb_strbuf *out, http_counters *c, const engine_stats *stats);

#endif
