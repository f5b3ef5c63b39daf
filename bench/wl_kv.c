/*
 * wl_kv.c - kv: single-key writes of new keys in random key order through
 * cairn's KV facade, cairn_kv_put() — the call an agent runtime makes, with
 * its own transaction each time.  The peers do what the put workload does
 * (one put per transaction): the same bytes written, so `kv` against `put`
 * on cairn shows what the facade costs.
 */
#include <stdio.h>
#include <string.h>

#include "eng_cairn.h"
#include "workload.h"

static bench_rc kv_op(bench_thread *t)
{
    uint64_t idx = t->idx + t->seq * t->cell->threads;
    if (strcmp(t->eng->name, "cairn") != 0)
        return wl_put1(t, idx);
    const bench_keyspace *ks = &t->cell->cfg->ks;
    bench_key(ks, idx, t->key);
    bench_bytes val = bench_value(ks, bench_rng_next(&t->rng));
    cairn_db *db = eng_cairn_db(t->et);
    cairn_status st = cairn_kv_put(db, eng_cairn_run(), cairn_slice_of(t->key, ks->key_size),
                                   cairn_slice_of(val.data, val.len));
    if (st != CAIRN_OK) {
        char msg[200];
        cairn_db_errmsg(db, msg, sizeof msg);
        snprintf(t->err, sizeof t->err, "cairn_kv_put: %s (%s)", cairn_status_name(st), msg);
        return BENCH_ERROR;
    }
    return BENCH_OK;
}

const bench_workload bench_wl_kv = {
    .name = "kv",
    .summary = "single-key writes of new keys through the KV facade (peers: one put per transaction)",
    .flags = 0,
    .op = kv_op,
};
