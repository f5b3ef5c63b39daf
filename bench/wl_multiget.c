/*
 * wl_multiget.c - multiget: uniformly random point reads of existing keys,
 * 16 per call, through each engine's batched read where it has one
 * (cairn_txn_get_many, RocksDB's MultiGet); LMDB and SQLite read the 16
 * keys one by one.  Calls are grouped into read-only transactions of
 * --read-batch keys, as in get.  ops/s counts keys read; the latency
 * columns are per call (16 keys).
 */
#include "workload.h"

enum { MULTIGET_KEYS = 16 };

static bench_rc multiget_op(bench_thread *t)
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
    uint8_t keybuf[MULTIGET_KEYS][BENCH_KEY_MAX];
    bench_bytes keys[MULTIGET_KEYS], vals[MULTIGET_KEYS];
    bool found[MULTIGET_KEYS];
    uint64_t n = t->cell->loaded ? t->cell->loaded : 1;
    for (int i = 0; i < MULTIGET_KEYS; i++) {
        bench_key(ks, bench_rng_below(&t->rng, n), keybuf[i]);
        keys[i] = bench_bytes_of(keybuf[i], ks->key_size);
    }
    if (t->eng->get_many) {
        rc = t->eng->get_many(t->et, keys, MULTIGET_KEYS, vals, found);
        for (int i = 0; rc == BENCH_OK && i < MULTIGET_KEYS; i++) {
            if (!found[i])
                t->misses++;
            else if (vals[i].len)
                t->sink += vals[i].data[0] + vals[i].data[vals[i].len - 1];
        }
    } else {
        /* one by one: a value is only valid until the next get */
        rc = BENCH_OK;
        for (int i = 0; i < MULTIGET_KEYS && rc == BENCH_OK; i++) {
            rc = t->eng->get(t->et, keys[i], &vals[i]);
            if (rc == BENCH_OK && vals[i].len)
                t->sink += vals[i].data[0] + vals[i].data[vals[i].len - 1];
            else if (rc == BENCH_NOT_FOUND) {
                t->misses++;
                rc = BENCH_OK;
            }
        }
    }
    if (rc != BENCH_OK) {
        t->eng->abort(t->et);
        t->batch_open = false;
        return wl_fail(t, rc, "get_many");
    }
    t->batch_left = t->batch_left > MULTIGET_KEYS ? t->batch_left - MULTIGET_KEYS : 0;
    if (t->batch_left == 0) {
        t->batch_open = false;
        rc = t->eng->commit(t->et);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "commit");
    }
    return BENCH_OK;
}

static bench_rc multiget_finish(bench_thread *t)
{
    if (!t->batch_open)
        return BENCH_OK;
    t->batch_open = false;
    bench_rc rc = t->eng->commit(t->et);
    return rc == BENCH_OK ? BENCH_OK : wl_fail(t, rc, "commit");
}

const bench_workload bench_wl_multiget = {
    .name = "multiget",
    .summary = "uniform random point reads of existing keys, 16 per batched call",
    .flags = WL_PRELOAD,
    .items = MULTIGET_KEYS,
    .op = multiget_op,
    .finish = multiget_finish,
};
