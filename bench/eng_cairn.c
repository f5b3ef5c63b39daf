/*
 * eng_cairn.c - the cairn adapter.
 *
 * Keys are KV keys of one fixed run: cairn_key_make(run, CAIRN_TAG_KV,
 * the 16 benchmark bytes).  Durability none opens an in-memory database
 * (path NULL: no files at all); async and sync open the cell's directory
 * with that default durability.  While a directory answers
 * CAIRN_UNSUPPORTED the async and sync cells report "unsupported"; they
 * turn into numbers by themselves once cairn_db_open() accepts a path.
 *
 * Each thread keeps one read-write and one read-only transaction handle and
 * reuses them with cairn_txn_restart(), as a long-lived agent worker would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_cairn.h"

struct bench_db {
    cairn_db *db;
    cairn_key kv_end; /* exclusive end of the benchmark run's KV keys */
};

struct bench_thr {
    struct bench_db *d;
    cairn_txn *rw, *ro;
    cairn_txn *cur;
    cairn_key key;
    cairn_key keys[BENCH_MULTIGET_MAX];  /* get_many */
    cairn_slice vals[BENCH_MULTIGET_MAX];
    cairn_status sts[BENCH_MULTIGET_MAX];
    uint64_t sink; /* bytes read by scans, so they cannot be optimized away */
    char err[256];
};

static const cairn_run_id bench_run = {{0x01, 0x8f, 0x00, 0x00, 0x00, 0x00, 0x70, 0x00, 0x80,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}};

const cairn_run_id *eng_cairn_run(void)
{
    return &bench_run;
}

cairn_db *eng_cairn_db(bench_thr *t)
{
    return t->d->db;
}

cairn_txn *eng_cairn_txn(bench_thr *t)
{
    return t->cur;
}

static bench_rc map_status(cairn_status s)
{
    switch (s) {
    case CAIRN_OK:
        return BENCH_OK;
    case CAIRN_NOT_FOUND:
        return BENCH_NOT_FOUND;
    case CAIRN_CONFLICT:
        return BENCH_CONFLICT;
    case CAIRN_UNSUPPORTED:
        return BENCH_UNSUPPORTED;
    default:
        return BENCH_ERROR;
    }
}

static bench_rc fail(bench_thr *t, cairn_status s, const char *what)
{
    const char *detail = t->cur ? cairn_txn_errmsg(t->cur) : "";
    snprintf(t->err, sizeof t->err, "%s: %s%s%s", what, cairn_status_name(s),
             detail && *detail ? ": " : "", detail ? detail : "");
    return map_status(s);
}

static bool cairn_persistent(bench_durability d)
{
    return d != BENCH_DUR_NONE;
}

static bench_rc cairn_open(const bench_open_args *a, bench_db **dbp, char *err, size_t errlen)
{
    struct bench_db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return BENCH_ERROR;
    }
    cairn_options opts;
    cairn_options_init(&opts);
    const char *path = NULL;
    switch (a->durability) {
    case BENCH_DUR_NONE:
        opts.durability = CAIRN_DURABILITY_NONE;
        break;
    case BENCH_DUR_ASYNC:
        opts.durability = CAIRN_DURABILITY_ASYNC;
        path = a->dir;
        break;
    default:
        /* A data set being loaded is written at async: same files. */
        opts.durability = a->loading ? CAIRN_DURABILITY_ASYNC : CAIRN_DURABILITY_SYNC;
        path = a->dir;
        break;
    }
    char buf[256] = "";
    cairn_status s = cairn_db_open(path, &opts, &d->db, buf, sizeof buf);
    if (s != CAIRN_OK) {
        if (s == CAIRN_UNSUPPORTED)
            snprintf(err, errlen, "cairn_db_open(dir) answers CAIRN_UNSUPPORTED in this build");
        else
            snprintf(err, errlen, "cairn_db_open: %s%s%s", cairn_status_name(s),
                     buf[0] ? ": " : "", buf);
        free(d);
        return map_status(s);
    }
    cairn_key prefix;
    s = cairn_key_init(&prefix, &bench_run, CAIRN_TAG_KV);
    if (s == CAIRN_OK)
        s = cairn_key_prefix_end(&prefix, &d->kv_end);
    if (s != CAIRN_OK) {
        snprintf(err, errlen, "cairn key prefix: %s", cairn_status_name(s));
        cairn_db_close(d->db);
        free(d);
        return BENCH_ERROR;
    }
    *dbp = d;
    return BENCH_OK;
}

static void cairn_close(bench_db *d)
{
    if (!d)
        return;
    cairn_status s = cairn_db_close(d->db);
    if (s != CAIRN_OK)
        fprintf(stderr, "cairn-bench: cairn_db_close: %s\n", cairn_status_name(s));
    free(d);
}

static bench_rc cairn_thread_open(bench_db *d, unsigned idx, bench_thr **tp, char *err,
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

static void cairn_thread_close(bench_thr *t)
{
    cairn_txn_free(t->rw);
    cairn_txn_free(t->ro);
    free(t);
}

static bench_rc cairn_begin(bench_thr *t, unsigned flags)
{
    bool ro = flags & BENCH_TXN_READ_ONLY;
    cairn_txn **slot = ro ? &t->ro : &t->rw;
    cairn_status s;
    if (*slot) {
        s = cairn_txn_restart(*slot);
    } else {
        cairn_txn_options o;
        cairn_txn_options_init(&o);
        o.mode = ro ? CAIRN_TXN_READ_ONLY : CAIRN_TXN_READ_WRITE;
        s = cairn_txn_begin(t->d->db, &o, slot);
    }
    if (s != CAIRN_OK) {
        t->cur = NULL;
        snprintf(t->err, sizeof t->err, "begin: %s", cairn_status_name(s));
        return map_status(s);
    }
    t->cur = *slot;
    return BENCH_OK;
}

static bench_rc make_key(bench_thr *t, bench_bytes k)
{
    cairn_status s = cairn_key_make(&t->key, &bench_run, CAIRN_TAG_KV, cairn_slice_of(k.data, k.len));
    return s == CAIRN_OK ? BENCH_OK : fail(t, s, "cairn_key_make");
}

static bench_rc cairn_get_many(bench_thr *t, const bench_bytes *keys, size_t n, bench_bytes *vals,
                               bool *found)
{
    for (size_t i = 0; i < n; i++) {
        cairn_status s = cairn_key_make(&t->keys[i], &bench_run, CAIRN_TAG_KV,
                                        cairn_slice_of(keys[i].data, keys[i].len));
        if (s != CAIRN_OK)
            return fail(t, s, "cairn_key_make");
    }
    cairn_status s = cairn_txn_get_many(t->cur, t->keys, n, t->vals, t->sts);
    if (s != CAIRN_OK)
        return fail(t, s, "cairn_txn_get_many");
    for (size_t i = 0; i < n; i++) {
        found[i] = t->sts[i] == CAIRN_OK;
        vals[i] = bench_bytes_of(t->vals[i].data, t->vals[i].len);
    }
    return BENCH_OK;
}

static bench_rc cairn_get(bench_thr *t, bench_bytes k, bench_bytes *valp)
{
    bench_rc rc = make_key(t, k);
    if (rc != BENCH_OK)
        return rc;
    cairn_slice v;
    cairn_status s = cairn_txn_get(t->cur, &t->key, &v);
    if (s == CAIRN_OK) {
        *valp = bench_bytes_of(v.data, v.len);
        return BENCH_OK;
    }
    return s == CAIRN_NOT_FOUND ? BENCH_NOT_FOUND : fail(t, s, "cairn_txn_get");
}

static bench_rc cairn_put(bench_thr *t, bench_bytes k, bench_bytes v)
{
    bench_rc rc = make_key(t, k);
    if (rc != BENCH_OK)
        return rc;
    cairn_status s = cairn_txn_put(t->cur, &t->key, cairn_slice_of(v.data, v.len));
    return s == CAIRN_OK ? BENCH_OK : fail(t, s, "cairn_txn_put");
}

static bench_rc cairn_scan(bench_thr *t, bench_bytes start, size_t n, size_t *gotp)
{
    bench_rc rc = make_key(t, start);
    if (rc != BENCH_OK)
        return rc;
    cairn_iter *it = NULL;
    cairn_status s = cairn_txn_scan(t->cur, &t->key, &t->d->kv_end, n, &it);
    if (s != CAIRN_OK)
        return fail(t, s, "cairn_txn_scan");
    size_t got = 0;
    uint64_t sum = 0;
    cairn_slice k, v;
    while ((s = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        if (v.len)
            sum += ((const uint8_t *)v.data)[v.len - 1];
        got++;
    }
    cairn_iter_free(it);
    if (s != CAIRN_DONE)
        return fail(t, s, "cairn_iter_next");
    t->sink += sum;
    *gotp = got;
    return BENCH_OK;
}

static bench_rc cairn_commit(bench_thr *t)
{
    cairn_status s = cairn_txn_commit(t->cur);
    bench_rc rc = s == CAIRN_OK ? BENCH_OK : fail(t, s, "cairn_txn_commit");
    t->cur = NULL;
    return rc;
}

static void cairn_abort(bench_thr *t)
{
    if (t->cur && cairn_txn_is_active(t->cur))
        cairn_txn_abort(t->cur);
    t->cur = NULL;
}

static const char *cairn_errmsg(bench_thr *t)
{
    return t->err;
}

const bench_engine bench_engine_cairn = {
    .name = "cairn",
    .version = cairn_version,
    .settings =
        {
            [BENCH_DUR_NONE] = "in-memory database (cairn_db_open(NULL)), durability none",
            [BENCH_DUR_ASYNC] = "directory, CAIRN_DURABILITY_ASYNC (sync_interval_ms 10)",
            [BENCH_DUR_SYNC] = "directory, CAIRN_DURABILITY_SYNC (group commit)",
        },
    .persistent = cairn_persistent,
    .open = cairn_open,
    .close = cairn_close,
    .thread_open = cairn_thread_open,
    .thread_close = cairn_thread_close,
    .begin = cairn_begin,
    .get = cairn_get,
    .get_many = cairn_get_many,
    .put = cairn_put,
    .scan = cairn_scan,
    .commit = cairn_commit,
    .abort = cairn_abort,
    .errmsg = cairn_errmsg,
};
