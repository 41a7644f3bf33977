/* Deterministic random numbers for the trainer: splitmix64 (Steele, Lea & Flood 2014), a
 * counter-based generator, so every draw can be addressed by (seed, stream, index) and a
 * resumed run draws exactly what an uninterrupted one would. */
#ifndef BB_TRAIN_RNG_H
#define BB_TRAIN_RNG_H

#include <math.h>
#include <stdint.h>

static inline uint64_t tr_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* The value at (seed, stream, index). */
static inline uint64_t tr_rand_at(uint64_t seed, uint64_t stream, uint64_t index) {
    return tr_mix64(tr_mix64(tr_mix64(seed) ^ stream) ^ index);
}

/* A sequential stream: state advances by one per draw. */
typedef struct tr_rng {
    uint64_t state;
} tr_rng;

static inline uint64_t tr_rng_next(tr_rng *r) {
    return tr_mix64(r->state++);
}

/* Uniform in [0, n) (n > 0); the modulo bias is below 2^-40 for the n used here. */
static inline uint64_t tr_rng_below(tr_rng *r, uint64_t n) {
    return tr_rng_next(r) % n;
}

/* Uniform in (0, 1). */
static inline double tr_rng_unit(tr_rng *r) {
    return ((double)(tr_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal by Box-Muller. */
static inline double tr_rng_normal(tr_rng *r) {
    double u1 = tr_rng_unit(r), u2 = tr_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

#endif
