/*
 * wl_cell_cas.c - cell-cas and cell-cas-shared: every op increments a
 * counter cell, read-modify-write, in one transaction.
 *
 *   cell-cas         each thread its own cell (uncontended)
 *   cell-cas-shared  every thread the same cell (contended)
 *
 * cairn: one cairn_cell_transition_or_init() call per op — the call an
 * agent runtime makes, with its own transaction, conflicts retried inside
 * it (cairn_db_run(): up to max_retries attempts with backoff; those
 * retries do not show in the conflicts column).  The cell's value is an
 * 8-byte big-endian counter; the first op creates it.
 *
 * Peers: begin, get, put, commit, retried on conflict as YCSB F's
 * read-modify-write is (wl_common.c).  They store what a cell stores: 24
 * bytes of [version][updated_at_us][counter] (big-endian), bumping the
 * version, stamping the time and incrementing the counter.  The cell name
 * and the peers' key are the same 16 benchmark key bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_cairn.h"
#include "workload.h"

enum { CELL_BYTES = 24 }; /* a cell's 16-byte header and an 8-byte counter */

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/*
 * After the n-th conflict in a row, waits a random time up to
 * min(2^n, 1000) microseconds: wl_common.c's backoff (static there), so
 * these ops back off exactly as YCSB F's read-modify-writes do.
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

/* ---- cairn ---------------------------------------------------------------- */

static cairn_status increment(void *ctx, cairn_slice current, cairn_bytes *new_value)
{
    (void)ctx;
    if (current.len != 8)
        return CAIRN_CORRUPT;
    new_value->data = malloc(8);
    if (new_value->data == NULL)
        return CAIRN_NO_MEMORY;
    put_be64(new_value->data, get_be64(current.data) + 1);
    new_value->len = 8;
    return CAIRN_OK;
}

static bench_rc cairn_increment(bench_thread *t, bench_bytes name)
{
    static const uint8_t zero[8];
    cairn_db *db = eng_cairn_db(t->et);
    for (unsigned attempt = 1;; attempt++) {
        cairn_status fst = CAIRN_OK;
        cairn_status st = cairn_cell_transition_or_init(db, eng_cairn_run(),
                                                        cairn_slice_of(name.data, name.len),
                                                        cairn_slice_of(zero, sizeof zero), increment,
                                                        NULL, NULL, &fst);
        if (st == CAIRN_OK)
            return BENCH_OK;
        if (st != CAIRN_CONFLICT || fst == CAIRN_CONFLICT) {
            char msg[200];
            cairn_db_errmsg(db, msg, sizeof msg);
            snprintf(t->err, sizeof t->err, "cairn_cell_transition_or_init: %s (%s)",
                     cairn_status_name(st), msg);
            return BENCH_ERROR;
        }
        conflict_backoff(t, attempt); /* every one of max_retries attempts conflicted */
    }
}

/* ---- peers ---------------------------------------------------------------- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bench_rc peer_increment(bench_thread *t, bench_bytes key)
{
    uint8_t cell[CELL_BYTES];
    for (unsigned attempt = 1;; attempt++) {
        bench_rc rc = t->eng->begin(t->et, 0);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin");
        bench_bytes v;
        uint64_t version = 0, counter = 0;
        rc = t->eng->get(t->et, key, &v);
        if (rc == BENCH_OK && v.len == CELL_BYTES) {
            version = get_be64(v.data);
            counter = get_be64(v.data + 16);
        } else if (rc == BENCH_OK) {
            t->eng->abort(t->et);
            snprintf(t->err, sizeof t->err, "%s: a stored counter of %zu bytes", t->eng->name, v.len);
            return BENCH_ERROR;
        } else if (rc != BENCH_NOT_FOUND) {
            t->eng->abort(t->et);
            return wl_fail(t, rc, "get");
        }
        put_be64(cell, version + 1);
        put_be64(cell + 8, (uint64_t)now_us());
        put_be64(cell + 16, counter + 1);
        rc = t->eng->put(t->et, key, bench_bytes_of(cell, sizeof cell));
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

/* ---- the workloads ---------------------------------------------------------- */

static bench_rc cell_op(bench_thread *t, uint64_t idx)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    bench_key(ks, idx, t->key);
    bench_bytes name = bench_bytes_of(t->key, ks->key_size);
    if (strcmp(t->eng->name, "cairn") == 0)
        return cairn_increment(t, name);
    return peer_increment(t, name);
}

static bench_rc cell_cas_own(bench_thread *t)
{
    return cell_op(t, t->idx);
}

static bench_rc cell_cas_shared(bench_thread *t)
{
    return cell_op(t, 0);
}

const bench_workload bench_wl_cell_cas = {
    .name = "cell-cas",
    .summary = "counter increments through cairn_cell_transition_or_init, one cell per thread "
               "(peers: get + put of the same 24 bytes in one transaction)",
    .flags = 0,
    .op = cell_cas_own,
};

const bench_workload bench_wl_cell_cas_shared = {
    .name = "cell-cas-shared",
    .summary = "counter increments through cairn_cell_transition_or_init, one cell for all threads "
               "(peers: get + put of the same 24 bytes in one transaction)",
    .flags = 0,
    .op = cell_cas_shared,
};
