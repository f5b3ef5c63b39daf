/*
 * hist.h - latency histogram with log-linear buckets.
 *
 * Values (nanoseconds) below 32 get a bucket each; above that every power of
 * two is split into 32 equal sub-buckets, so a reported percentile is within
 * about 3% of the true value.  Recording is one index computation and one
 * increment: no allocation per operation.  Each thread keeps its own
 * histogram; the runner merges them when the threads finish.
 */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64u - HIST_SUB_BITS + 1u) * HIST_SUB)

typedef struct bench_hist {
    uint64_t count;
    uint64_t max;
    uint64_t buckets[HIST_BUCKETS];
} bench_hist;

void hist_init(bench_hist *h);
void hist_add(bench_hist *h, uint64_t ns);
void hist_merge(bench_hist *dst, const bench_hist *src);

/* The value (ns) at quantile `q` in [0, 1]: the midpoint of the bucket that
 * holds the ceil(q * count)-th smallest sample.  0 for an empty histogram. */
double hist_quantile(const bench_hist *h, double q);

#endif /* BENCH_HIST_H */
