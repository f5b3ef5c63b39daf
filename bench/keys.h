/*
 * keys.h - deterministic keys, values and random choices.
 *
 * Key number i (an index in [0, 2^64)) maps to key_size bytes: the first 8
 * are a bijective 64-bit mix of i (so consecutive indices land at random
 * places in key order, and distinct indices never collide), then i itself,
 * big-endian, then a fixed filler.  Every engine sees exactly the same keys
 * in exactly the same order for a given seed.
 */
#ifndef BENCH_KEYS_H
#define BENCH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

/* splitmix64's finalizer: a bijection on 64-bit integers. */
static inline uint64_t bench_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A small, fast per-thread generator (splitmix64). */
typedef struct bench_rng {
    uint64_t state;
} bench_rng;

static inline uint64_t bench_rng_next(bench_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ull;
    return bench_mix64(r->state);
}

/* Uniform in [0, n); n > 0. */
static inline uint64_t bench_rng_below(bench_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)bench_rng_next(r) * n) >> 64);
}

/* Uniform in [0, 1). */
static inline double bench_rng_unit(bench_rng *r)
{
    return (double)(bench_rng_next(r) >> 11) * 0x1.0p-53;
}

void bench_rng_seed(bench_rng *r, uint64_t seed, uint64_t stream);

/* The keys and values of one run. */
typedef struct bench_keyspace {
    size_t key_size;
    size_t value_size;
    uint64_t seed;
    uint8_t *values; /* value_size + BENCH_VALUE_WINDOW random bytes */
} bench_keyspace;

#define BENCH_VALUE_WINDOW 4096u

int bench_keyspace_init(bench_keyspace *ks, size_t key_size, size_t value_size, uint64_t seed);
void bench_keyspace_free(bench_keyspace *ks);

/* Writes key number `idx` (key_size bytes) to `out`. */
void bench_key(const bench_keyspace *ks, uint64_t idx, uint8_t *out);

/* A value_size-byte value, chosen by `r` from a fixed random window. */
static inline bench_bytes bench_value(const bench_keyspace *ks, uint64_t r)
{
    return bench_bytes_of(ks->values + (r % BENCH_VALUE_WINDOW), ks->value_size);
}

/*
 * The YCSB zipfian generator (Gray et al., "Quickly generating billion-record
 * synthetic databases"), theta 0.99 as in YCSB's core workloads.  Item 0 is
 * the most popular; callers map items to keys through bench_key(), whose
 * mixing scatters the popular items over the key space as YCSB's
 * "scrambled zipfian" does.
 */
typedef struct bench_zipf {
    uint64_t items;
    double theta, alpha, zetan, eta, half_pow_theta;
} bench_zipf;

void bench_zipf_init(bench_zipf *z, uint64_t items, double theta);
uint64_t bench_zipf_next(const bench_zipf *z, bench_rng *r);

#endif /* BENCH_KEYS_H */
