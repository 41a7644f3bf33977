/* Seeded pseudo-random numbers for sampling: xoshiro256** (Blackman & Vigna, "Scrambled
 * linear pseudorandom number generators", 2018), its 256-bit state filled from the 64-bit seed
 * with splitmix64 as the authors recommend. The state lives in the caller's struct, so two
 * generators never interfere and a seed gives the same stream on any thread or run. */
#ifndef BB_SAMPLE_RNG_H
#define BB_SAMPLE_RNG_H

#include <stdint.h>

typedef struct bb_rng {
    uint64_t s[4];
} bb_rng;

void bb_rng_seed(bb_rng *rng, uint64_t seed);
uint64_t bb_rng_next(bb_rng *rng);
/* Uniform in [0, 1) with 53 random bits (every value a multiple of 2^-53). */
double bb_rng_uniform(bb_rng *rng);
/* A fresh seed from the clocks and a process-wide counter, for "random" sampling: calls in
 * the same clock tick still get different seeds. */
uint64_t bb_rng_clock_seed(void);

#endif
