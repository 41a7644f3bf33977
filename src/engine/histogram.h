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
/* The same number of bounds for counts of tokens per engine step: powers of two with the
 * usual batch sizes (48, 96, 192) between, where the budget choices lie. */
extern const double hist_token_bounds[HIST_N_BOUNDS];

typedef struct histogram {
    uint64_t counts[HIST_N_BOUNDS + 1]; /* per bucket, not cumulative */
    uint64_t count;
    double sum;
} histogram;

/* Counts a value against hist_bounds (seconds). */
void histogram_observe(histogram *h, double seconds);
/* Counts a value against the given HIST_N_BOUNDS bounds. */
void histogram_observe_in(histogram *h, const double *bounds, double value);

#endif
