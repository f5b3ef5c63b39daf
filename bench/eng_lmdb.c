/*
 * eng_lmdb.c - the LMDB peer.
 *
 * One environment per database directory with MDB_NOTLS (read transactions
 * belong to the thread context, not the OS thread), a 64 GiB map (address
 * space only: the file grows as pages are used) and the unnamed database.
 * Durability: sync = LMDB's default (data and meta page synced at every
 * commit), async = MDB_NOSYNC, none = MDB_NOSYNC | MDB_NOMETASYNC.
 *
 * LMDB allows one write transaction at a time; writers queue on its own
 * mutex.  Each thread keeps one read-only transaction handle and reuses it
 * with mdb_txn_reset / mdb_txn_renew.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "engine.h"

#define LMDB_MAP_SIZE (64ull << 30)

struct bench_db {
    MDB_env *env;
    MDB_dbi dbi;
};

struct bench_thr {
    struct bench_db *d;
    MDB_txn *ro;  /* reset between uses */
    MDB_txn *cur; /* the open transaction: ro, or a write transaction */
    bool cur_ro;
    uint64_t sink;
    char err[256];
};

static bool lmdb_persistent(bench_durability d)
{
    (void)d;
    return true;
}

static bench_rc lmdb_open(const bench_open_args *a, bench_db **dbp, char *err, size_t errlen)
{
    struct bench_db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return BENCH_ERROR;
    }
    unsigned flags = MDB_NOTLS;
    if (a->durability == BENCH_DUR_ASYNC)
        flags |= MDB_NOSYNC;
    else if (a->durability == BENCH_DUR_NONE || a->loading)
        flags |= MDB_NOSYNC | MDB_NOMETASYNC;
    const char *what = "mdb_env_create";
    int rc = mdb_env_create(&d->env);
    if (rc == 0) {
        what = "mdb_env_set_mapsize";
        rc = mdb_env_set_mapsize(d->env, (size_t)LMDB_MAP_SIZE);
    }
    if (rc == 0) {
        what = "mdb_env_set_maxreaders";
        rc = mdb_env_set_maxreaders(d->env, 256);
    }
    if (rc == 0) {
        what = "mdb_env_open";
        rc = mdb_env_open(d->env, a->dir, flags, 0644);
    }
    MDB_txn *txn = NULL;
    if (rc == 0) {
        what = "mdb_txn_begin";
        rc = mdb_txn_begin(d->env, NULL, 0, &txn);
    }
    if (rc == 0) {
        what = "mdb_dbi_open";
        rc = mdb_dbi_open(txn, NULL, 0, &d->dbi);
        if (rc == 0) {
            what = "mdb_txn_commit";
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s %s: %s", what, a->dir, mdb_strerror(rc));
        if (d->env)
            mdb_env_close(d->env);
        free(d);
        return BENCH_ERROR;
    }
    *dbp = d;
    return BENCH_OK;
}

static void lmdb_close(bench_db *d)
{
    if (!d)
        return;
    mdb_env_close(d->env);
    free(d);
}

static bench_rc lmdb_thread_open(bench_db *d, unsigned idx, bench_thr **tp, char *err,
                                 size_t errlen)
{
    (void)idx;
    bench_thr *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return BENCH_ERROR;
    }
    t->d = d;
    *tp = t;
    return BENCH_OK;
}

static void lmdb_thread_close(bench_thr *t)
{
    if (t->cur && !t->cur_ro)
        mdb_txn_abort(t->cur);
    if (t->ro)
        mdb_txn_abort(t->ro);
    free(t);
}

static bench_rc fail(bench_thr *t, const char *what, int rc)
{
    snprintf(t->err, sizeof t->err, "%s: %s", what, mdb_strerror(rc));
    return BENCH_ERROR;
}

static bench_rc lmdb_begin(bench_thr *t, unsigned flags)
{
    int rc;
    if (flags & BENCH_TXN_READ_ONLY) {
        if (t->ro)
            rc = mdb_txn_renew(t->ro);
        else
            rc = mdb_txn_begin(t->d->env, NULL, MDB_RDONLY, &t->ro);
        if (rc != 0)
            return fail(t, "mdb_txn_begin (read-only)", rc);
        t->cur = t->ro;
        t->cur_ro = true;
        return BENCH_OK;
    }
    rc = mdb_txn_begin(t->d->env, NULL, 0, &t->cur);
    if (rc != 0) {
        t->cur = NULL;
        return fail(t, "mdb_txn_begin", rc);
    }
    t->cur_ro = false;
    return BENCH_OK;
}

static bench_rc lmdb_get(bench_thr *t, bench_bytes k, bench_bytes *valp)
{
    MDB_val key = {k.len, (void *)k.data}, val;
    int rc = mdb_get(t->cur, t->d->dbi, &key, &val);
    if (rc == MDB_NOTFOUND)
        return BENCH_NOT_FOUND;
    if (rc != 0)
        return fail(t, "mdb_get", rc);
    *valp = bench_bytes_of(val.mv_data, val.mv_size);
    return BENCH_OK;
}

static bench_rc lmdb_put(bench_thr *t, bench_bytes k, bench_bytes v)
{
    MDB_val key = {k.len, (void *)k.data}, val = {v.len, (void *)v.data};
    int rc = mdb_put(t->cur, t->d->dbi, &key, &val, 0);
    return rc == 0 ? BENCH_OK : fail(t, "mdb_put", rc);
}

static bench_rc lmdb_scan(bench_thr *t, bench_bytes start, size_t n, size_t *gotp)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->cur, t->d->dbi, &c);
    if (rc != 0)
        return fail(t, "mdb_cursor_open", rc);
    MDB_val key = {start.len, (void *)start.data}, val;
    size_t got = 0;
    uint64_t sum = 0;
    rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && got < n) {
        if (val.mv_size)
            sum += ((const uint8_t *)val.mv_data)[val.mv_size - 1];
        got++;
        if (got < n)
            rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return fail(t, "mdb_cursor_get", rc);
    t->sink += sum;
    *gotp = got;
    return BENCH_OK;
}

static bench_rc lmdb_commit(bench_thr *t)
{
    MDB_txn *txn = t->cur;
    t->cur = NULL;
    if (!txn)
        return BENCH_OK;
    if (t->cur_ro) {
        mdb_txn_reset(txn);
        return BENCH_OK;
    }
    int rc = mdb_txn_commit(txn);
    return rc == 0 ? BENCH_OK : fail(t, "mdb_txn_commit", rc);
}

static void lmdb_abort(bench_thr *t)
{
    MDB_txn *txn = t->cur;
    t->cur = NULL;
    if (!txn)
        return;
    if (t->cur_ro)
        mdb_txn_reset(txn);
    else
        mdb_txn_abort(txn);
}

static const char *lmdb_errmsg(bench_thr *t)
{
    return t->err;
}

static const char *lmdb_version(void)
{
    int major, minor, patch;
    mdb_version(&major, &minor, &patch);
    static char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", major, minor, patch);
    return buf;
}

const bench_engine bench_engine_lmdb = {
    .name = "lmdb",
    .version = lmdb_version,
    .settings =
        {
            [BENCH_DUR_NONE] = "MDB_NOSYNC | MDB_NOMETASYNC, MDB_NOTLS, 64 GiB map",
            [BENCH_DUR_ASYNC] = "MDB_NOSYNC, MDB_NOTLS, 64 GiB map",
            [BENCH_DUR_SYNC] = "default (synced commits), MDB_NOTLS, 64 GiB map",
        },
    .persistent = lmdb_persistent,
    .open = lmdb_open,
    .close = lmdb_close,
    .thread_open = lmdb_thread_open,
    .thread_close = lmdb_thread_close,
    .begin = lmdb_begin,
    .get = lmdb_get,
    .put = lmdb_put,
    .scan = lmdb_scan,
    .commit = lmdb_commit,
    .abort = lmdb_abort,
    .errmsg = lmdb_errmsg,
};
