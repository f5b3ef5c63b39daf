#include "hist.h"

#include <math.h>
#include <string.h>

void hist_init(bench_hist *h)
{
    memset(h, 0, sizeof *h);
}

static unsigned bucket_of(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= HIST_SUB_BITS */
    unsigned sub = (unsigned)(v >> (e - HIST_SUB_BITS)) - HIST_SUB;
    return (e - HIST_SUB_BITS + 1u) * HIST_SUB + sub;
}

/* Lowest value in bucket `i` and the bucket's width. */
static void bucket_range(unsigned i, double *lowp, double *widthp)
{
    if (i < HIST_SUB) {
        *lowp = (double)i;
        *widthp = 1.0;
        return;
    }
    unsigned e = i / HIST_SUB + HIST_SUB_BITS - 1u;
    unsigned sub = i % HIST_SUB;
    double width = ldexp(1.0, (int)(e - HIST_SUB_BITS));
    *lowp = (double)(HIST_SUB + sub) * width;
    *widthp = width;
}

void hist_add(bench_hist *h, uint64_t ns)
{
    h->buckets[bucket_of(ns)]++;
    h->count++;
    if (ns > h->max)
        h->max = ns;
}

void hist_merge(bench_hist *dst, const bench_hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    if (src->max > dst->max)
        dst->max = src->max;
}

double hist_quantile(const bench_hist *h, double q)
{
    if (h->count == 0)
        return 0.0;
    if (q < 0.0)
        q = 0.0;
    if (q > 1.0)
        q = 1.0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            double low, width;
            bucket_range(i, &low, &width);
            double mid = width > 1.0 ? low + width / 2.0 : low;
            return mid > (double)h->max ? (double)h->max : mid;
        }
    }
    return (double)h->max;
}
