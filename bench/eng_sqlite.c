/*
 * eng_sqlite.c - the SQLite peer.
 *
 * One table `kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID`, one connection
 * per thread (SQLITE_OPEN_NOMUTEX), every statement prepared once per
 * connection.  Durability: sync = journal_mode WAL + synchronous FULL,
 * async = WAL + synchronous NORMAL (the WAL is synced only at checkpoints),
 * none = synchronous OFF with journal_mode MEMORY.  Reads go through a
 * 1 GiB memory map of the file (PRAGMA mmap_size; the pages are the OS page
 * cache's), the usual tuning for read-heavy use; the page cache and the
 * rest are defaults.
 *
 * Transactions: a read-only transaction is BEGIN ... COMMIT around its
 * reads (one snapshot); a single read or a single put runs as one
 * autocommit statement, which SQLite makes a transaction of its own; other
 * writes use BEGIN IMMEDIATE.  SQLite has one writer at a time; writers in
 * this process queue on a mutex instead of polling through the busy
 * handler, and readers that meet a lock (rollback-journal mode only) retry
 * after a short sleep.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "engine.h"

struct bench_db {
    char path[4096];
    bench_durability durability;
    bool loading;
    pthread_mutex_t writer; /* one write transaction at a time */
};

enum stmt_id {
    S_BEGIN, S_BEGIN_IMM, S_COMMIT, S_ROLLBACK, S_GET, S_PUT, S_SCAN, S_COUNT,
};

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_BEGIN_IMM] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_GET] = "SELECT v FROM kv WHERE k = ?1",
    [S_PUT] = "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)",
    [S_SCAN] = "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2",
};

enum mode { IDLE, SINGLE_RO, SINGLE_RW, TXN_RO, TXN_RW };

struct bench_thr {
    struct bench_db *d;
    sqlite3 *conn;
    sqlite3_stmt *st[S_COUNT];
    enum mode mode;
    bool locked; /* holds d->writer */
    uint64_t sink;
    char err[256];
};

static bool sqlite_persistent(bench_durability d)
{
    (void)d;
    return true;
}

/* Sleep briefly and retry: the default busy handler sleeps whole
 * milliseconds, far longer than the transactions it waits for here. */
static int busy_cb(void *ctx, int count)
{
    (void)ctx;
    if (count > 200000)
        return 0; /* give up after roughly ten seconds */
    if (count < 16) {
        sched_yield();
    } else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    return 1;
}

static int exec(sqlite3 *c, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    int rc = sqlite3_exec(c, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

static int sqlite_connect(struct bench_db *d, sqlite3 **cp, char *err, size_t errlen)
{
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(d->path, &c,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite3_open_v2 %s: %s", d->path,
                 c ? sqlite3_errmsg(c) : sqlite3_errstr(rc));
        sqlite3_close(c);
        return rc;
    }
    sqlite3_busy_handler(c, busy_cb, NULL);
    const char *sync = d->loading                          ? "PRAGMA synchronous=OFF"
                       : d->durability == BENCH_DUR_SYNC  ? "PRAGMA synchronous=FULL"
                       : d->durability == BENCH_DUR_ASYNC ? "PRAGMA synchronous=NORMAL"
                                                           : "PRAGMA synchronous=OFF";
    /* Every journal mode but WAL is per connection, so each sets it. */
    const char *jm = d->durability == BENCH_DUR_NONE ? "PRAGMA journal_mode=MEMORY"
                                                     : "PRAGMA journal_mode=WAL";
    rc = exec(c, sync, err, errlen);
    if (rc == SQLITE_OK)
        rc = exec(c, jm, err, errlen);
    /* Read through a memory map of the file instead of each connection's
     * own 2 MiB page cache: SQLite's usual tuning for read-heavy use. */
    if (rc == SQLITE_OK)
        rc = exec(c, "PRAGMA mmap_size=1073741824", err, errlen);
    if (rc != SQLITE_OK) {
        sqlite3_close(c);
        return rc;
    }
    *cp = c;
    return SQLITE_OK;
}

static bench_rc sqlite_open(const bench_open_args *a, bench_db **dbp, char *err, size_t errlen)
{
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "this SQLite was built without thread support");
        return BENCH_UNSUPPORTED;
    }
    struct bench_db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return BENCH_ERROR;
    }
    snprintf(d->path, sizeof d->path, "%s/bench.sqlite", a->dir);
    d->durability = a->durability;
    d->loading = a->loading;
    pthread_mutex_init(&d->writer, NULL);
    sqlite3 *c = NULL;
    if (sqlite_connect(d, &c, err, errlen) != SQLITE_OK)
        goto fail;
    if (exec(c, "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID", err,
             errlen) != SQLITE_OK) {
        sqlite3_close(c);
        goto fail;
    }
    sqlite3_close(c);
    *dbp = d;
    return BENCH_OK;
fail:
    pthread_mutex_destroy(&d->writer);
    free(d);
    return BENCH_ERROR;
}

static void sqlite_close(bench_db *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->writer);
    free(d);
}

static void thread_free(bench_thr *t)
{
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(t->st[i]);
    if (t->conn)
        sqlite3_close(t->conn);
    free(t);
}

static bench_rc sqlite_thread_open(bench_db *d, unsigned idx, bench_thr **tp, char *err,
                                   size_t errlen)
{
    (void)idx;
    bench_thr *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return BENCH_ERROR;
    }
    t->d = d;
    if (sqlite_connect(d, &t->conn, err, errlen) != SQLITE_OK) {
        free(t);
        return BENCH_ERROR;
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(t->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &t->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "prepare %s: %s", stmt_sql[i], sqlite3_errmsg(t->conn));
            thread_free(t);
            return BENCH_ERROR;
        }
    }
    *tp = t;
    return BENCH_OK;
}

static void sqlite_thread_close(bench_thr *t)
{
    if (t->locked) {
        pthread_mutex_unlock(&t->d->writer);
        t->locked = false;
    }
    thread_free(t);
}

static bench_rc fail(bench_thr *t, const char *what, int rc)
{
    snprintf(t->err, sizeof t->err, "%s: %s (%s)", what, sqlite3_errmsg(t->conn),
             sqlite3_errstr(rc));
    return rc == SQLITE_BUSY ? BENCH_CONFLICT : BENCH_ERROR;
}

/* Runs a statement without results (BEGIN, COMMIT, ...). */
static int step_done(bench_thr *t, enum stmt_id id)
{
    sqlite3_stmt *s = t->st[id];
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void unlock_writer(bench_thr *t)
{
    if (t->locked) {
        pthread_mutex_unlock(&t->d->writer);
        t->locked = false;
    }
}

static bench_rc sqlite_begin(bench_thr *t, unsigned flags)
{
    bool ro = flags & BENCH_TXN_READ_ONLY;
    if (flags & BENCH_TXN_SINGLE) {
        t->mode = ro ? SINGLE_RO : SINGLE_RW;
        return BENCH_OK;
    }
    if (!ro) {
        pthread_mutex_lock(&t->d->writer);
        t->locked = true;
    }
    int rc = step_done(t, ro ? S_BEGIN : S_BEGIN_IMM);
    if (rc != SQLITE_OK) {
        unlock_writer(t);
        return fail(t, ro ? "BEGIN" : "BEGIN IMMEDIATE", rc);
    }
    t->mode = ro ? TXN_RO : TXN_RW;
    return BENCH_OK;
}

static bench_rc sqlite_get(bench_thr *t, bench_bytes k, bench_bytes *valp)
{
    /* The previous value stays readable until this reset. */
    sqlite3_stmt *s = t->st[S_GET];
    sqlite3_reset(s);
    sqlite3_bind_blob(s, 1, k.data, (int)k.len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(s, 0);
        int n = sqlite3_column_bytes(s, 0);
        *valp = bench_bytes_of(v, (size_t)n);
        return BENCH_OK; /* reset by the next get or the commit */
    }
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return BENCH_NOT_FOUND;
    return fail(t, "SELECT", rc);
}

static bench_rc sqlite_put(bench_thr *t, bench_bytes k, bench_bytes v)
{
    if (t->mode == SINGLE_RW && !t->locked) {
        pthread_mutex_lock(&t->d->writer);
        t->locked = true;
    }
    sqlite3_stmt *s = t->st[S_PUT];
    sqlite3_bind_blob(s, 1, k.data, (int)k.len, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, v.data, (int)v.len, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (t->mode == SINGLE_RW)
        unlock_writer(t);
    return rc == SQLITE_DONE ? BENCH_OK : fail(t, "INSERT", rc);
}

static bench_rc sqlite_scan(bench_thr *t, bench_bytes start, size_t n, size_t *gotp)
{
    sqlite3_stmt *s = t->st[S_SCAN];
    sqlite3_bind_blob(s, 1, start.data, (int)start.len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)n);
    size_t got = 0;
    uint64_t sum = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const uint8_t *v = sqlite3_column_blob(s, 1);
        int vn = sqlite3_column_bytes(s, 1);
        if (v && vn > 0)
            sum += v[vn - 1];
        got++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return fail(t, "SELECT range", rc);
    t->sink += sum;
    *gotp = got;
    return BENCH_OK;
}

static bench_rc sqlite_commit(bench_thr *t)
{
    enum mode m = t->mode;
    t->mode = IDLE;
    sqlite3_reset(t->st[S_GET]);
    if (m != TXN_RO && m != TXN_RW)
        return BENCH_OK;
    int rc = step_done(t, S_COMMIT);
    bench_rc out = BENCH_OK;
    if (rc != SQLITE_OK) {
        out = fail(t, "COMMIT", rc);
        if (sqlite3_get_autocommit(t->conn) == 0)
            step_done(t, S_ROLLBACK);
        if (out == BENCH_CONFLICT && m == TXN_RO)
            out = BENCH_ERROR; /* a read-only commit has nothing to retry */
    }
    unlock_writer(t);
    return out;
}

static void sqlite_abort(bench_thr *t)
{
    enum mode m = t->mode;
    t->mode = IDLE;
    sqlite3_reset(t->st[S_GET]);
    if ((m == TXN_RO || m == TXN_RW) && sqlite3_get_autocommit(t->conn) == 0)
        step_done(t, S_ROLLBACK);
    unlock_writer(t);
}

static const char *sqlite_errmsg(bench_thr *t)
{
    return t->err;
}

static const char *sqlite_version(void)
{
    return sqlite3_libversion();
}

const bench_engine bench_engine_sqlite = {
    .name = "sqlite",
    .version = sqlite_version,
    .settings =
        {
            [BENCH_DUR_NONE] = "synchronous=OFF, journal_mode=MEMORY, mmap 1 GiB, WITHOUT ROWID",
            [BENCH_DUR_ASYNC] = "journal_mode=WAL, synchronous=NORMAL, mmap 1 GiB, WITHOUT ROWID",
            [BENCH_DUR_SYNC] = "journal_mode=WAL, synchronous=FULL, mmap 1 GiB, WITHOUT ROWID",
        },
    .persistent = sqlite_persistent,
    .open = sqlite_open,
    .close = sqlite_close,
    .thread_open = sqlite_thread_open,
    .thread_close = sqlite_thread_close,
    .begin = sqlite_begin,
    .get = sqlite_get,
    .put = sqlite_put,
    .scan = sqlite_scan,
    .commit = sqlite_commit,
    .abort = sqlite_abort,
    .errmsg = sqlite_errmsg,
};
