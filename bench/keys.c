#include "keys.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void bench_rng_seed(bench_rng *r, uint64_t seed, uint64_t stream)
{
    r->state = bench_mix64(seed ^ bench_mix64(stream + 0x632be59bd9b4e019ull));
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int bench_keyspace_init(bench_keyspace *ks, size_t key_size, size_t value_size, uint64_t seed)
{
    memset(ks, 0, sizeof *ks);
    if (key_size < BENCH_KEY_MIN || key_size > BENCH_KEY_MAX || value_size > BENCH_VALUE_MAX)
        return -1;
    ks->key_size = key_size;
    ks->value_size = value_size;
    ks->seed = seed;
    ks->values = malloc(value_size + BENCH_VALUE_WINDOW + 8);
    if (!ks->values)
        return -1;
    bench_rng r;
    bench_rng_seed(&r, seed, 0xfeed);
    for (size_t i = 0; i < value_size + BENCH_VALUE_WINDOW; i += 8)
        put_be64(ks->values + i, bench_rng_next(&r));
    return 0;
}

void bench_keyspace_free(bench_keyspace *ks)
{
    free(ks->values);
    ks->values = NULL;
}

void bench_key(const bench_keyspace *ks, uint64_t idx, uint8_t *out)
{
    uint8_t tmp[16];
    put_be64(tmp, bench_mix64(idx + ks->seed * 0x9e3779b97f4a7c15ull));
    put_be64(tmp + 8, idx);
    size_t n = ks->key_size < 16 ? ks->key_size : 16;
    memcpy(out, tmp, n);
    for (size_t i = 16; i < ks->key_size; i++)
        out[i] = (uint8_t)('a' + i % 26);
}

static double zeta(uint64_t n, double theta)
{
    double sum = 0.0;
    for (uint64_t i = 1; i <= n; i++)
        sum += 1.0 / pow((double)i, theta);
    return sum;
}

void bench_zipf_init(bench_zipf *z, uint64_t items, double theta)
{
    if (items < 2)
        items = 2;
    z->items = items;
    z->theta = theta;
    z->alpha = 1.0 / (1.0 - theta);
    z->zetan = zeta(items, theta);
    double zeta2 = zeta(2, theta);
    z->eta = (1.0 - pow(2.0 / (double)items, 1.0 - theta)) / (1.0 - zeta2 / z->zetan);
    z->half_pow_theta = 1.0 + pow(0.5, theta);
}

uint64_t bench_zipf_next(const bench_zipf *z, bench_rng *r)
{
    double u = bench_rng_unit(r);
    double uz = u * z->zetan;
    if (uz < 1.0)
        return 0;
    if (uz < z->half_pow_theta)
        return 1;
    uint64_t v = (uint64_t)((double)z->items * pow(z->eta * u - z->eta + 1.0, z->alpha));
    return v >= z->items ? z->items - 1 : v;
}
