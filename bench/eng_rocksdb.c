/*
 * eng_rocksdb.c - the RocksDB peer: an OptimisticTransactionDB through the
 * C API.
 *
 * Options: compression off, and the basic tuning RocksDB's tuning guide
 * gives for point lookups: a 10-bit bloom filter, a 512 MiB LRU block cache
 * (enough for the default data set), increase_parallelism(CPUs) and
 * level_compaction_dynamic_level_bytes.  Everything else is the default.
 * Durability: sync = WriteOptions.sync (the WAL is synced at every commit),
 * async = WAL written but not synced, none = WAL disabled.
 *
 * Writes always go through an optimistic transaction (begin, put, commit),
 * reusing the thread's transaction object.  A read-write transaction takes
 * a snapshot at begin and reads with GetForUpdate, so a read-modify-write
 * that raced another commit fails validation and is retried, as in cairn.
 * A read-only transaction reads the base database at a snapshot taken at
 * begin (released at commit); a single-read transaction reads the latest
 * state without creating a snapshot, which is the same thing for one read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <rocksdb/c.h>
#pragma GCC diagnostic pop

#include "engine.h"

#define ROCKSDB_BLOCK_CACHE (512u << 20)

struct bench_db {
    rocksdb_options_t *opts;
    rocksdb_optimistictransactiondb_t *odb;
    rocksdb_t *base;
    rocksdb_writeoptions_t *wopts;
    rocksdb_optimistictransaction_options_t *otx_snap;
    rocksdb_optimistictransaction_options_t *otx_plain;
};

enum mode { IDLE, RO_SINGLE, RO_SNAP, RW };

struct bench_thr {
    struct bench_db *d;
    rocksdb_readoptions_t *ropts;      /* latest state */
    rocksdb_readoptions_t *ropts_snap; /* the read-only snapshot */
    const rocksdb_snapshot_t *snap;
    rocksdb_transaction_t *txn;
    rocksdb_pinnableslice_t *pinned;
    char *mvals[BENCH_MULTIGET_MAX];   /* get_many's values (malloc()ed by RocksDB) */
    size_t nmvals;
    enum mode mode;
    uint64_t sink;
    char err[256];
};

static bench_rc take_err(bench_thr *t, char *e, const char *what)
{
    /* Busy and TryAgain are optimistic-validation failures: retry. */
    bench_rc rc = BENCH_ERROR;
    if (strncmp(e, "Resource busy", 13) == 0 || strncmp(e, "Operation failed. Try again", 27) == 0)
        rc = BENCH_CONFLICT;
    snprintf(t->err, sizeof t->err, "%s: %s", what, e);
    rocksdb_free(e);
    return rc;
}

static bool rocksdb_persistent(bench_durability d)
{
    (void)d;
    return true;
}

static void db_free(struct bench_db *d)
{
    if (d->otx_snap)
        rocksdb_optimistictransaction_options_destroy(d->otx_snap);
    if (d->otx_plain)
        rocksdb_optimistictransaction_options_destroy(d->otx_plain);
    if (d->wopts)
        rocksdb_writeoptions_destroy(d->wopts);
    if (d->base)
        rocksdb_optimistictransactiondb_close_base_db(d->base);
    if (d->odb)
        rocksdb_optimistictransactiondb_close(d->odb);
    if (d->opts)
        rocksdb_options_destroy(d->opts);
    free(d);
}

static bench_rc rdb_open(const bench_open_args *a, bench_db **dbp, char *err, size_t errlen)
{
    struct bench_db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return BENCH_ERROR;
    }
    d->opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(d->opts, 1);
    rocksdb_options_set_compression(d->opts, rocksdb_no_compression);
    /* The basic tuning RocksDB's own guide recommends for point reads:
     * a bloom filter, a block cache that can hold the data set, background
     * jobs for every CPU, dynamic level sizes. */
    rocksdb_options_increase_parallelism(d->opts, (int)sysconf(_SC_NPROCESSORS_ONLN));
    rocksdb_options_set_level_compaction_dynamic_level_bytes(d->opts, 1);
    rocksdb_block_based_table_options_t *bbto = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_filter_policy(bbto, rocksdb_filterpolicy_create_bloom(10));
    rocksdb_cache_t *cache = rocksdb_cache_create_lru(ROCKSDB_BLOCK_CACHE);
    rocksdb_block_based_options_set_block_cache(bbto, cache);
    rocksdb_options_set_block_based_table_factory(d->opts, bbto);
    rocksdb_cache_destroy(cache); /* the table factory holds its own reference */
    rocksdb_block_based_options_destroy(bbto);
    char *e = NULL;
    d->odb = rocksdb_optimistictransactiondb_open(d->opts, a->dir, &e);
    if (e) {
        snprintf(err, errlen, "rocksdb_optimistictransactiondb_open: %s", e);
        rocksdb_free(e);
        d->odb = NULL;
        db_free(d);
        return BENCH_ERROR;
    }
    d->base = rocksdb_optimistictransactiondb_get_base_db(d->odb);
    d->wopts = rocksdb_writeoptions_create();
    /* Loading skips the WAL: close flushes the memtables instead. */
    rocksdb_writeoptions_set_sync(d->wopts, a->durability == BENCH_DUR_SYNC && !a->loading);
    rocksdb_writeoptions_disable_WAL(d->wopts, a->durability == BENCH_DUR_NONE || a->loading);
    d->otx_snap = rocksdb_optimistictransaction_options_create();
    rocksdb_optimistictransaction_options_set_set_snapshot(d->otx_snap, 1);
    d->otx_plain = rocksdb_optimistictransaction_options_create();
    *dbp = d;
    return BENCH_OK;
}

static void rdb_close(bench_db *d)
{
    if (d)
        db_free(d);
}

/* Compacts everything a load left in L0 and the memtable, as db_bench's
 * "compact" step does before read benchmarks. */
static void rdb_settle(bench_db *d)
{
    rocksdb_compact_range(d->base, NULL, 0, NULL, 0);
}

static bench_rc rdb_thread_open(bench_db *d, unsigned idx, bench_thr **tp, char *err,
                                size_t errlen)
{
    (void)idx;
    bench_thr *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return BENCH_ERROR;
    }
    t->d = d;
    t->ropts = rocksdb_readoptions_create();
    t->ropts_snap = rocksdb_readoptions_create();
    *tp = t;
    return BENCH_OK;
}

static void unpin(bench_thr *t)
{
    if (t->pinned) {
        rocksdb_pinnableslice_destroy(t->pinned);
        t->pinned = NULL;
    }
    for (size_t i = 0; i < t->nmvals; i++)
        rocksdb_free(t->mvals[i]);
    t->nmvals = 0;
}

static void end_read(bench_thr *t)
{
    unpin(t);
    if (t->snap) {
        rocksdb_readoptions_set_snapshot(t->ropts_snap, NULL);
        rocksdb_release_snapshot(t->d->base, t->snap);
        t->snap = NULL;
    }
}

static void rdb_thread_close(bench_thr *t)
{
    unpin(t);
    end_read(t);
    if (t->txn)
        rocksdb_transaction_destroy(t->txn);
    rocksdb_readoptions_destroy(t->ropts);
    rocksdb_readoptions_destroy(t->ropts_snap);
    free(t);
}

static bench_rc rdb_begin(bench_thr *t, unsigned flags)
{
    if (flags & BENCH_TXN_READ_ONLY) {
        if (flags & BENCH_TXN_SINGLE) {
            t->mode = RO_SINGLE;
        } else {
            t->snap = rocksdb_create_snapshot(t->d->base);
            rocksdb_readoptions_set_snapshot(t->ropts_snap, t->snap);
            t->mode = RO_SNAP;
        }
        return BENCH_OK;
    }
    /* A blind single write needs no snapshot to validate against. */
    const rocksdb_optimistictransaction_options_t *o =
        (flags & BENCH_TXN_SINGLE) ? t->d->otx_plain : t->d->otx_snap;
    t->txn = rocksdb_optimistictransaction_begin(t->d->odb, t->d->wopts, o, t->txn);
    if (!t->txn) {
        snprintf(t->err, sizeof t->err, "rocksdb_optimistictransaction_begin failed");
        return BENCH_ERROR;
    }
    t->mode = RW;
    return BENCH_OK;
}

/* MultiGet: RocksDB's batched point lookup (one snapshot, one call). */
static bench_rc rdb_get_many(bench_thr *t, const bench_bytes *keys, size_t n, bench_bytes *vals,
                             bool *found)
{
    unpin(t);
    const char *kp[BENCH_MULTIGET_MAX];
    size_t kl[BENCH_MULTIGET_MAX], vl[BENCH_MULTIGET_MAX];
    char *errs[BENCH_MULTIGET_MAX];
    for (size_t i = 0; i < n; i++) {
        kp[i] = (const char *)keys[i].data;
        kl[i] = keys[i].len;
    }
    switch (t->mode) {
    case RO_SINGLE:
        rocksdb_multi_get(t->d->base, t->ropts, n, kp, kl, t->mvals, vl, errs);
        break;
    case RO_SNAP:
        rocksdb_multi_get(t->d->base, t->ropts_snap, n, kp, kl, t->mvals, vl, errs);
        break;
    case RW:
        rocksdb_transaction_multi_get(t->txn, t->ropts, n, kp, kl, t->mvals, vl, errs);
        break;
    default:
        snprintf(t->err, sizeof t->err, "get_many outside a transaction");
        return BENCH_ERROR;
    }
    t->nmvals = n;
    bench_rc rc = BENCH_OK;
    for (size_t i = 0; i < n; i++) {
        if (errs[i]) {
            if (rc == BENCH_OK)
                rc = take_err(t, errs[i], "multi_get");
            else
                rocksdb_free(errs[i]);
            continue;
        }
        found[i] = t->mvals[i] != NULL;
        vals[i] = bench_bytes_of(t->mvals[i], found[i] ? vl[i] : 0);
    }
    return rc;
}

static bench_rc rdb_get(bench_thr *t, bench_bytes k, bench_bytes *valp)
{
    unpin(t);
    char *e = NULL;
    const char *key = (const char *)k.data;
    switch (t->mode) {
    case RO_SINGLE:
        t->pinned = rocksdb_get_pinned(t->d->base, t->ropts, key, k.len, &e);
        break;
    case RO_SNAP:
        t->pinned = rocksdb_get_pinned(t->d->base, t->ropts_snap, key, k.len, &e);
        break;
    case RW:
        t->pinned =
            rocksdb_transaction_get_pinned_for_update(t->txn, t->ropts, key, k.len, 1, &e);
        break;
    default:
        snprintf(t->err, sizeof t->err, "get outside a transaction");
        return BENCH_ERROR;
    }
    if (e)
        return take_err(t, e, "get");
    if (!t->pinned)
        return BENCH_NOT_FOUND;
    size_t vlen = 0;
    const char *v = rocksdb_pinnableslice_value(t->pinned, &vlen);
    *valp = bench_bytes_of(v, vlen);
    return BENCH_OK;
}

static bench_rc rdb_put(bench_thr *t, bench_bytes k, bench_bytes v)
{
    if (t->mode != RW) {
        snprintf(t->err, sizeof t->err, "put outside a read-write transaction");
        return BENCH_ERROR;
    }
    char *e = NULL;
    rocksdb_transaction_put(t->txn, (const char *)k.data, k.len, (const char *)v.data, v.len,
                            &e);
    return e ? take_err(t, e, "rocksdb_transaction_put") : BENCH_OK;
}

static bench_rc rdb_scan(bench_thr *t, bench_bytes start, size_t n, size_t *gotp)
{
    rocksdb_iterator_t *it;
    if (t->mode == RW)
        it = rocksdb_transaction_create_iterator(t->txn, t->ropts);
    else
        it = rocksdb_create_iterator(t->d->base, t->mode == RO_SNAP ? t->ropts_snap : t->ropts);
    size_t got = 0;
    uint64_t sum = 0;
    for (rocksdb_iter_seek(it, (const char *)start.data, start.len);
         got < n && rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
        size_t vlen = 0;
        const char *v = rocksdb_iter_value(it, &vlen);
        if (vlen)
            sum += (uint8_t)v[vlen - 1];
        got++;
    }
    char *e = NULL;
    rocksdb_iter_get_error(it, &e);
    rocksdb_iter_destroy(it);
    if (e)
        return take_err(t, e, "iterator");
    t->sink += sum;
    *gotp = got;
    return BENCH_OK;
}

static bench_rc rdb_commit(bench_thr *t)
{
    enum mode m = t->mode;
    t->mode = IDLE;
    end_read(t);
    if (m != RW)
        return BENCH_OK;
    char *e = NULL;
    rocksdb_transaction_commit(t->txn, &e);
    if (!e)
        return BENCH_OK;
    bench_rc rc = take_err(t, e, "rocksdb_transaction_commit");
    if (rc == BENCH_CONFLICT) {
        char *e2 = NULL;
        rocksdb_transaction_rollback(t->txn, &e2);
        if (e2)
            rocksdb_free(e2);
    }
    return rc;
}

static void rdb_abort(bench_thr *t)
{
    enum mode m = t->mode;
    t->mode = IDLE;
    end_read(t);
    if (m == RW) {
        char *e = NULL;
        rocksdb_transaction_rollback(t->txn, &e);
        if (e)
            rocksdb_free(e);
    }
}

static const char *rdb_errmsg(bench_thr *t)
{
    return t->err;
}

static const char *rdb_version(void)
{
#ifdef CAIRN_BENCH_ROCKSDB_VERSION
    return CAIRN_BENCH_ROCKSDB_VERSION;
#else
    return "?";
#endif
}

const bench_engine bench_engine_rocksdb = {
    .name = "rocksdb",
    .version = rdb_version,
    .settings =
        {
            [BENCH_DUR_NONE] = "OptimisticTransactionDB, no compression, bloom 10, 512 MiB cache, WAL disabled",
            [BENCH_DUR_ASYNC] = "OptimisticTransactionDB, no compression, bloom 10, 512 MiB cache, WAL not synced",
            [BENCH_DUR_SYNC] = "OptimisticTransactionDB, no compression, bloom 10, 512 MiB cache, WAL synced",
        },
    .persistent = rocksdb_persistent,
    .open = rdb_open,
    .close = rdb_close,
    .settle = rdb_settle,
    .thread_open = rdb_thread_open,
    .thread_close = rdb_thread_close,
    .begin = rdb_begin,
    .get = rdb_get,
    .get_many = rdb_get_many,
    .put = rdb_put,
    .scan = rdb_scan,
    .commit = rdb_commit,
    .abort = rdb_abort,
    .errmsg = rdb_errmsg,
};
