#include "sample/rng.h"

#include <stdatomic.h>
#include <time.h>

/* splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014):
 * a bijective mixer, so distinct seeds give distinct, well-spread xoshiro states. */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

void bb_rng_seed(bb_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
    /* An all-zero state would be a fixed point; splitmix64 of four consecutive inputs
     * cannot produce it, since its output function is a bijection. */
}

uint64_t bb_rng_next(bb_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double bb_rng_uniform(bb_rng *rng) {
    return (double)(bb_rng_next(rng) >> 11) * 0x1.0p-53;
}

uint64_t bb_rng_clock_seed(void) {
    static atomic_uint_fast64_t counter;
    struct timespec real, mono;
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    uint64_t x = (uint64_t)real.tv_sec * 1000000000ULL + (uint64_t)real.tv_nsec;
    x ^= rotl((uint64_t)mono.tv_sec * 1000000000ULL + (uint64_t)mono.tv_nsec, 32);
    /* The counter makes samplers created in the same nanosecond differ; splitmix64 of
     * distinct inputs is distinct. */
    x += (uint64_t)atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ULL;
    return splitmix64(&x);
}
