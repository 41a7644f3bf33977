/* Latency histogram with fixed buckets, rendered as a Prometheus histogram
 * (https://prometheus.io/docs/concepts/metric_types/#histogram). */
#ifndef BB_ENGINE_HISTOGRAM_H
#define BB_ENGINE_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds in seconds; a last, implicit +Inf bucket follows. Spans per-token decode
 * times of small models (milliseconds) up to time-to-first-token behind a long queue. */
#define HIST_N_BOUNDS 14
extern const double hist_bounds[HIST_N_BOUNDS];

typedef struct histogram {
    uint64_t counts[HIST_N_BOUNDS + 1]; /* per bucket, not cumulative */
    uint64_t count;
    double sum;
} histogram;

void histogram_observe(histogram *h, double seconds);

#endif
