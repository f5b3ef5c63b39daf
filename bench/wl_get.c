/*
 * wl_get.c - get: uniformly random point reads of existing keys.
 *
 * Reads are grouped cfg->read_batch to a read-only transaction (one
 * snapshot), the way a reader that looks up many keys would use any of the
 * engines; the begin and commit of each batch are timed with the read that
 * opens or closes it.
 */
#include "workload.h"

static bench_rc get_op(bench_thread *t)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    bench_rc rc;
    if (!t->batch_open) {
        rc = t->eng->begin(t->et, BENCH_TXN_READ_ONLY);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin");
        t->batch_open = true;
        t->batch_left = t->cell->cfg->read_batch ? t->cell->cfg->read_batch : 1000;
    }
    bench_key(ks, bench_rng_below(&t->rng, t->cell->loaded ? t->cell->loaded : 1), t->key);
    bench_bytes v;
    rc = t->eng->get(t->et, bench_bytes_of(t->key, ks->key_size), &v);
    if (rc == BENCH_OK && v.len)
        t->sink += v.data[0] + v.data[v.len - 1];
    else if (rc == BENCH_NOT_FOUND)
        t->misses++;
    else if (rc != BENCH_OK) {
        t->eng->abort(t->et);
        t->batch_open = false;
        return wl_fail(t, rc, "get");
    }
    if (--t->batch_left == 0) {
        t->batch_open = false;
        rc = t->eng->commit(t->et);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "commit");
    }
    return BENCH_OK;
}

static bench_rc get_finish(bench_thread *t)
{
    if (!t->batch_open)
        return BENCH_OK;
    t->batch_open = false;
    bench_rc rc = t->eng->commit(t->et);
    return rc == BENCH_OK ? BENCH_OK : wl_fail(t, rc, "commit");
}

const bench_workload bench_wl_get = {
    .name = "get",
    .summary = "uniform random point reads of existing keys, read-only transactions of 1000",
    .flags = WL_PRELOAD | WL_QUICK,
    .op = get_op,
    .finish = get_finish,
};
