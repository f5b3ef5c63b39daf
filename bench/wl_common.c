/* wl_common.c - the transactions workloads are built from. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "workload.h"

bench_rc wl_fail(bench_thread *t, bench_rc rc, const char *what)
{
    const char *msg = t->et ? t->eng->errmsg(t->et) : "";
    snprintf(t->err, sizeof t->err, "%s %s: %s", t->eng->name, what,
             msg && *msg ? msg : (rc == BENCH_UNSUPPORTED ? "unsupported" : "error"));
    return rc == BENCH_OK ? BENCH_ERROR : rc;
}

/*
 * After the n-th conflict in a row, waits a random time up to
 * min(2^n, 1000) microseconds: the same bounded, jittered, doubling backoff
 * as cairn_db_run()'s defaults, applied to every engine alike so hot keys
 * do not turn into a retry storm on fewer cores than threads.
 */
static void conflict_backoff(bench_thread *t, unsigned n)
{
    t->conflicts++;
    uint64_t cap = n >= 10 ? 1000 : (1u << n);
    if (cap > 1000)
        cap = 1000;
    uint64_t us = 1 + bench_rng_below(&t->rng, cap);
    struct timespec ts = {0, (long)(us * 1000)};
    nanosleep(&ts, NULL);
}

bench_rc wl_put1(bench_thread *t, uint64_t idx)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    bench_key(ks, idx, t->key);
    bench_bytes key = bench_bytes_of(t->key, ks->key_size);
    bench_bytes val = bench_value(ks, bench_rng_next(&t->rng));
    for (unsigned attempt = 1;; attempt++) {
        bench_rc rc = t->eng->begin(t->et, BENCH_TXN_SINGLE);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin");
        rc = t->eng->put(t->et, key, val);
        if (rc != BENCH_OK) {
            t->eng->abort(t->et);
            return wl_fail(t, rc, "put");
        }
        rc = t->eng->commit(t->et);
        if (rc == BENCH_OK)
            return BENCH_OK;
        if (rc != BENCH_CONFLICT)
            return wl_fail(t, rc, "commit");
        conflict_backoff(t, attempt);
    }
}

bench_rc wl_read1(bench_thread *t, uint64_t idx)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    bench_key(ks, idx, t->key);
    bench_rc rc = t->eng->begin(t->et, BENCH_TXN_READ_ONLY | BENCH_TXN_SINGLE);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "begin");
    bench_bytes v;
    rc = t->eng->get(t->et, bench_bytes_of(t->key, ks->key_size), &v);
    if (rc == BENCH_OK && v.len)
        t->sink += v.data[0] + v.data[v.len - 1];
    else if (rc == BENCH_NOT_FOUND)
        t->misses++;
    else {
        t->eng->abort(t->et);
        return wl_fail(t, rc, "get");
    }
    rc = t->eng->commit(t->et);
    return rc == BENCH_OK ? BENCH_OK : wl_fail(t, rc, "commit");
}

bench_rc wl_scan1(bench_thread *t, uint64_t idx, size_t n)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    bench_key(ks, idx, t->key);
    bench_rc rc = t->eng->begin(t->et, BENCH_TXN_READ_ONLY | BENCH_TXN_SINGLE);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "begin");
    size_t got = 0;
    rc = t->eng->scan(t->et, bench_bytes_of(t->key, ks->key_size), n, &got);
    if (rc != BENCH_OK) {
        t->eng->abort(t->et);
        return wl_fail(t, rc, "scan");
    }
    t->sink += got;
    rc = t->eng->commit(t->et);
    return rc == BENCH_OK ? BENCH_OK : wl_fail(t, rc, "commit");
}

bench_rc wl_rmw1(bench_thread *t, uint64_t idx)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    bench_key(ks, idx, t->key);
    bench_bytes key = bench_bytes_of(t->key, ks->key_size);
    for (unsigned attempt = 1;; attempt++) {
        bench_rc rc = t->eng->begin(t->et, 0);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin");
        bench_bytes v;
        rc = t->eng->get(t->et, key, &v);
        if (rc == BENCH_OK) {
            size_t n = v.len < ks->value_size ? v.len : ks->value_size;
            memcpy(t->val, v.data, n);
            if (n < ks->value_size)
                memset(t->val + n, 0, ks->value_size - n);
        } else if (rc == BENCH_NOT_FOUND) {
            t->misses++;
            memset(t->val, 0, ks->value_size);
        } else {
            t->eng->abort(t->et);
            return wl_fail(t, rc, "get");
        }
        /* The "modify": bump a counter in the first bytes. */
        if (ks->value_size)
            t->val[0]++;
        rc = t->eng->put(t->et, key, bench_bytes_of(t->val, ks->value_size));
        if (rc != BENCH_OK) {
            t->eng->abort(t->et);
            return wl_fail(t, rc, "put");
        }
        rc = t->eng->commit(t->et);
        if (rc == BENCH_OK)
            return BENCH_OK;
        if (rc != BENCH_CONFLICT)
            return wl_fail(t, rc, "commit");
        conflict_backoff(t, attempt);
    }
}

/* Marks insert `idx` committed and moves `acked` over every contiguous
 * committed insert. */
static void ack_insert(bench_cell *c, uint64_t idx)
{
    atomic_store_explicit(&c->ack_ring[idx % BENCH_ACK_RING], idx + 1, memory_order_release);
    for (;;) {
        uint64_t a = atomic_load_explicit(&c->acked, memory_order_acquire);
        if (atomic_load_explicit(&c->ack_ring[a % BENCH_ACK_RING], memory_order_acquire) != a + 1)
            return;
        atomic_compare_exchange_weak_explicit(&c->acked, &a, a + 1, memory_order_acq_rel,
                                              memory_order_acquire);
    }
}

bench_rc wl_insert1(bench_thread *t)
{
    uint64_t idx = atomic_fetch_add_explicit(&t->cell->next_insert, 1, memory_order_relaxed);
    bench_rc rc = wl_put1(t, idx);
    if (rc == BENCH_OK)
        ack_insert(t->cell, idx);
    return rc;
}

uint64_t wl_zipf_key(bench_thread *t)
{
    uint64_t i = bench_zipf_next(&t->cell->cfg->zipf, &t->rng);
    uint64_t n = t->cell->loaded;
    return n ? i % n : i;
}

bench_rc wl_load(bench_thread *t, uint64_t from, uint64_t to)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    unsigned batch = t->cell->cfg->load_batch ? t->cell->cfg->load_batch : 1000;
    uint64_t i = from;
    while (i < to) {
        uint64_t end = to - i > batch ? i + batch : to;
        bench_rc rc = t->eng->begin(t->et, 0);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin (load)");
        for (uint64_t j = i; j < end; j++) {
            bench_key(ks, j, t->key);
            rc = t->eng->put(t->et, bench_bytes_of(t->key, ks->key_size), bench_value(ks, j));
            if (rc != BENCH_OK) {
                t->eng->abort(t->et);
                return wl_fail(t, rc, "put (load)");
            }
        }
        rc = t->eng->commit(t->et);
        if (rc == BENCH_CONFLICT) {
            conflict_backoff(t, 1);
            continue;
        }
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "commit (load)");
        i = end;
    }
    return BENCH_OK;
}
