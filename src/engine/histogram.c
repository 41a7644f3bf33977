#include "engine/histogram.h"

const double hist_bounds[HIST_N_BOUNDS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,  0.5,    1,     2.5,  5,     10,   30};

const double hist_token_bounds[HIST_N_BOUNDS] = {1,  2,  4,   8,   16,  32,  48,
                                                 64, 96, 128, 192, 256, 512, 1024};

void histogram_observe_in(histogram *h, const double *bounds, double value) {
    size_t b = 0;
    while (b < HIST_N_BOUNDS && value > bounds[b])
        b++;
    h->counts[b]++;
    h->count++;
    h->sum += value;
}

void histogram_observe(histogram *h, double seconds) {
    histogram_observe_in(h, hist_bounds, seconds);
}
