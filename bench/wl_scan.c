/*
 * wl_scan.c - scan: range reads of cfg->scan_len (100) consecutive keys
 * from a uniformly random existing key, one read-only transaction each.
 */
#include "workload.h"

static bench_rc scan_op(bench_thread *t)
{
    uint64_t n = t->cell->loaded ? t->cell->loaded : 1;
    return wl_scan1(t, bench_rng_below(&t->rng, n), t->cell->cfg->scan_len);
}

const bench_workload bench_wl_scan = {
    .name = "scan",
    .summary = "100-key range reads from a random existing key",
    .flags = WL_PRELOAD | WL_QUICK,
    .op = scan_op,
};
