/*
 * engine.h - the adapter every benchmarked engine implements.
 *
 * An adapter maps a small transactional vocabulary onto one engine:
 * begin / get / put / scan / commit / abort, on a per-thread context.  The
 * workloads (wl_*.c) are written once against this vocabulary, so every
 * engine runs exactly the same sequence of operations.  One file per engine:
 * eng_cairn.c, eng_rocksdb.c, eng_sqlite.c, eng_lmdb.c, eng_fdatasync.c.
 *
 * Ownership: open() returns a database context the adapter owns until
 * close(); thread_open() returns a per-thread context owned until
 * thread_close(), which is always called (from the thread that used it)
 * before close().  A thread context is used by one thread at a time.
 * Byte slices handed out (get) stay valid until the next call on the same
 * thread context.
 */
#ifndef BENCH_ENGINE_H
#define BENCH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

#include "bench.h"

/* Keys one get_many() call takes at most. */
#define BENCH_MULTIGET_MAX 64

typedef struct bench_db bench_db;   /* an adapter's database context */
typedef struct bench_thr bench_thr; /* an adapter's per-thread context */

/* begin() flags. */
enum {
    /* The transaction only reads.  Several reads in one read-only
     * transaction see one snapshot. */
    BENCH_TXN_READ_ONLY = 1u << 0,
    /* The transaction will do exactly one get, put or scan.  An adapter may
     * use the engine's cheapest equivalent (a plain snapshot read, an
     * autocommit statement) as long as the operation stays atomic and as
     * durable as a full transaction. */
    BENCH_TXN_SINGLE = 1u << 1,
};

typedef struct bench_open_args {
    const char *dir;             /* an existing directory the engine owns */
    bench_durability durability;
    unsigned threads;            /* threads that will use the database */
    uint64_t expected_keys;      /* a sizing hint */
    /* The runner is loading a data set that cells will reopen later at
     * `durability`: the adapter may skip syncs (nobody measures them) but
     * must write the same kind of files. */
    bool loading;
    size_t key_size, value_size;
} bench_open_args;

typedef struct bench_engine {
    const char *name; /* "cairn", "rocksdb", "sqlite", "lmdb", "fdatasync" */

    /* The engine library's version, for the report header. */
    const char *(*version)(void);

    /* One line per durability saying what the adapter configures. */
    const char *settings[BENCH_DUR_COUNT];

    /* Whether the engine runs `workload` at durability `d`.  NULL means
     * every workload built on the transactional vocabulary. */
    bool (*supports)(const char *workload, bench_durability d);

    /* Whether data written at durability `d` survives close() and a later
     * open() of the same directory.  The runner then loads a data set once
     * per engine and durability and reopens it for every cell; otherwise
     * each cell loads its own. */
    bool (*persistent)(bench_durability d);

    /* Opens a database in a->dir.  BENCH_UNSUPPORTED when this build of the
     * engine cannot honour the durability.  On failure writes a message to
     * err and leaves *dbp unset. */
    bench_rc (*open)(const bench_open_args *a, bench_db **dbp, char *err, size_t errlen);
    void (*close)(bench_db *db);

    /* Optional: called once after a data set was loaded, before close, to
     * finish background work the load left behind (RocksDB compacts), so
     * the cells that reopen the data set do not measure it. */
    void (*settle)(bench_db *db);

    bench_rc (*thread_open)(bench_db *db, unsigned idx, bench_thr **thrp, char *err,
                            size_t errlen);
    void (*thread_close)(bench_thr *t);

    bench_rc (*begin)(bench_thr *t, unsigned flags);
    /* BENCH_NOT_FOUND when absent; on BENCH_OK *valp borrows the value. */
    bench_rc (*get)(bench_thr *t, bench_bytes key, bench_bytes *valp);
    /* Optional: `n` (<= BENCH_MULTIGET_MAX) point reads in one call, the
     * engine's own batched read where it has one; found[i] tells whether
     * keys[i] exists, vals[i] then borrows its value until the next call.
     * NULL: the multiget workload calls get() n times instead. */
    bench_rc (*get_many)(bench_thr *t, const bench_bytes *keys, size_t n, bench_bytes *vals,
                         bool *found);
    bench_rc (*put)(bench_thr *t, bench_bytes key, bench_bytes val);
    /* Reads up to `n` pairs in ascending key order from the first key
     * >= `start`, touching every value, and stores how many in *gotp. */
    bench_rc (*scan)(bench_thr *t, bench_bytes start, size_t n, size_t *gotp);
    /* BENCH_CONFLICT when the engine refused the commit (the transaction
     * is then over and the caller retries from begin). */
    bench_rc (*commit)(bench_thr *t);
    void (*abort)(bench_thr *t);

    /* The message of the last failing call on `t` (never NULL). */
    const char *(*errmsg)(bench_thr *t);
} bench_engine;

/* Every engine compiled into this binary, cairn first; NULL-terminated. */
extern const bench_engine *const bench_engines[];

/* Peers this binary was built without (for the report header);
 * NULL-terminated. */
extern const char *const bench_engines_missing[];

const bench_engine *bench_engine_find(const char *name);

/* The adapters. */
extern const bench_engine bench_engine_cairn;
extern const bench_engine bench_engine_rocksdb;
extern const bench_engine bench_engine_sqlite;
extern const bench_engine bench_engine_lmdb;
extern const bench_engine bench_engine_fdatasync;

#endif /* BENCH_ENGINE_H */
