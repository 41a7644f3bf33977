#include "engine/histogram.h"

const double hist_bounds[HIST_N_BOUNDS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                           0.25,  0.5,    1,     2.5,  5,     10,   30};

void histogram_observe(histogram *h, double seconds) {
    size_t b = 0;
    while (b < HIST_N_BOUNDS && seconds > hist_bounds[b])
        b++;
    h->counts[b]++;
    h->count++;
    h->sum += seconds;
}
