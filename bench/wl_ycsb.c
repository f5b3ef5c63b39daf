/*
 * wl_ycsb.c - the YCSB core workloads A-F.
 *
 * Key choice is zipfian (theta 0.99) over the preloaded keys, scattered over
 * the key space by bench_key(), as YCSB's scrambled zipfian.  Every
 * operation is its own transaction: a read is a one-get read-only
 * transaction, an update a blind single put, an insert a single put of a
 * new key, a scan one read-only transaction, a read-modify-write a
 * read-write transaction that reads the key and writes it back (retried on
 * conflict).
 *
 *   A  50% read, 50% update          (update heavy)
 *   B  95% read,  5% update          (read mostly)
 *   C  100% read                     (read only)
 *   D  95% read,  5% insert; reads favour the newest keys (read latest)
 *   E  95% scan of 1-100 keys, 5% insert (short ranges)
 *   F  50% read, 50% read-modify-write
 */
#include "workload.h"

static bool chance(bench_thread *t, double p)
{
    return bench_rng_unit(&t->rng) < p;
}

static bench_rc ycsb_a(bench_thread *t)
{
    uint64_t k = wl_zipf_key(t);
    return chance(t, 0.5) ? wl_read1(t, k) : wl_put1(t, k);
}

static bench_rc ycsb_b(bench_thread *t)
{
    uint64_t k = wl_zipf_key(t);
    return chance(t, 0.95) ? wl_read1(t, k) : wl_put1(t, k);
}

static bench_rc ycsb_c(bench_thread *t)
{
    return wl_read1(t, wl_zipf_key(t));
}

static bench_rc ycsb_d(bench_thread *t)
{
    if (!chance(t, 0.95))
        return wl_insert1(t);
    uint64_t acked = atomic_load_explicit(&t->cell->acked, memory_order_acquire);
    uint64_t latest = acked ? acked - 1 : 0;
    uint64_t back = bench_zipf_next(&t->cell->cfg->zipf, &t->rng) % (latest + 1);
    return wl_read1(t, latest - back);
}

static bench_rc ycsb_e(bench_thread *t)
{
    if (!chance(t, 0.95))
        return wl_insert1(t);
    size_t len = 1 + (size_t)bench_rng_below(&t->rng, t->cell->cfg->scan_len);
    return wl_scan1(t, wl_zipf_key(t), len);
}

static bench_rc ycsb_f(bench_thread *t)
{
    uint64_t k = wl_zipf_key(t);
    return chance(t, 0.5) ? wl_read1(t, k) : wl_rmw1(t, k);
}

const bench_workload bench_wl_ycsb_a = {
    .name = "ycsb-a",
    .summary = "YCSB A: 50% read / 50% update, zipfian",
    .flags = WL_PRELOAD | WL_QUICK,
    .op = ycsb_a,
};
const bench_workload bench_wl_ycsb_b = {
    .name = "ycsb-b",
    .summary = "YCSB B: 95% read / 5% update, zipfian",
    .flags = WL_PRELOAD,
    .op = ycsb_b,
};
const bench_workload bench_wl_ycsb_c = {
    .name = "ycsb-c",
    .summary = "YCSB C: read only, zipfian",
    .flags = WL_PRELOAD | WL_QUICK,
    .op = ycsb_c,
};
const bench_workload bench_wl_ycsb_d = {
    .name = "ycsb-d",
    .summary = "YCSB D: 95% read latest / 5% insert",
    .flags = WL_PRELOAD,
    .op = ycsb_d,
};
const bench_workload bench_wl_ycsb_e = {
    .name = "ycsb-e",
    .summary = "YCSB E: 95% scan of 1-100 keys / 5% insert, zipfian",
    .flags = WL_PRELOAD,
    .op = ycsb_e,
};
const bench_workload bench_wl_ycsb_f = {
    .name = "ycsb-f",
    .summary = "YCSB F: 50% read / 50% read-modify-write, zipfian",
    .flags = WL_PRELOAD,
    .op = ycsb_f,
};
