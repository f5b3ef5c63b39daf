/*
 * db_internal.h - the database and transaction handles, shared by the
 * engine's files.  Nothing outside engine/ includes this.
 */
#ifndef CAIRN_ENGINE_DB_INTERNAL_H
#define CAIRN_ENGINE_DB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cairn/cairn.h"
#include "engine/arena.h"
#include "engine/errors.h"
#include "engine/index.h"
#include "engine/snapshots.h"
#include "wal/file.h"
#include "wal/wal.h"

/* Nodes waiting for their old versions or their tombstone to be reclaimed
 * (writer only; a ring buffer). */
typedef struct gcqueue {
    node **items;
    size_t head, n, cap;
} gcqueue;

struct cairn_db {
    cairn_options opts;

    /* Commit path: validation, version assignment, index writes. */
    pthread_mutex_t commit_lock;
    uint64_t assigned;                 /* last commit version handed out */
    _Atomic uint64_t visible;          /* newest version readers may see */
    mvindex ix;
    retirelist retired;                /* under commit_lock */
    gcqueue gcq;                       /* under commit_lock */
    /* Whether any run was ever registered in the RunIndex: 0 not looked
     * yet, 1 none, 2 some.  Writes into a registered run check its
     * status; with no registered run there is nothing to check. */
    _Atomic int runs_registered;
    uint64_t gc_pass_min;              /* min snapshot of the current queue pass */
    size_t gc_pass_left;               /* queued nodes that pass still visits */
    _Atomic size_t gc_pending;         /* gcq.n + retired.n, readable without the lock */

    /* Transaction handles and snapshot slots.  An active transaction holds
     * one slot; a finished or pooled handle holds none. */
    snapreg snaps;
    pthread_mutex_t pool_lock;         /* pool, handles, free_slots */
    cairn_txn *pool;                   /* freed handles, ready for reuse */
    cairn_txn *handles;                /* every handle created (all_next) */
    uint32_t *free_slots;              /* stack of released slot numbers */
    uint32_t nfree_slots;
    uint32_t slots_used;               /* slot numbers handed out so far */
    _Atomic uint32_t active;           /* begun and not finished */

    /* Counters (cairn_stats). */
    _Atomic uint64_t st_commits, st_ro_commits, st_conflicts, st_aborts;
    _Atomic uint64_t st_keys, st_versions, st_versions_reclaimed, st_keys_reclaimed;

    /* Run-id generation. */
    pthread_mutex_t id_lock;
    int64_t id_last_ms;
    uint32_t id_counter;
    uint64_t id_rng;

    pthread_mutex_t err_lock;
    char errmsg[ERRMSG_CAP];

    /* Durable databases (dir != NULL).  See durable.c. */
    char *dir;
    wal_fs *fs;
    bool own_fs;
    wal_lock *lock;
    wal *log;                          /* NULL: in memory or read-only */
    uint8_t db_id[16];
    cairn_recovery_report recovery;
    _Atomic bool poisoned;             /* a WAL write or sync failed */
    pthread_mutex_t ckpt_lock;         /* one checkpoint at a time */
    uint64_t ckpt_version, ckpt_prev_version;  /* under ckpt_lock */
    _Atomic uint64_t ckpt_bytes;       /* entry bytes the last checkpoint wrote */
    _Atomic uint64_t ckpt_wal_mark;    /* WAL bytes appended when it began (0: none yet) */
    _Atomic uint64_t st_checkpoints, st_ckpt_version;
    /* Automatic checkpoints run on their own thread. */
    pthread_t ckpt_thread;
    bool ckpt_thread_started;
    pthread_mutex_t ckpt_wake_lock;
    pthread_cond_t ckpt_wake;
    bool ckpt_wanted, ckpt_stop;       /* under ckpt_wake_lock */
    _Atomic uint64_t commits_since_check;
};

/* A buffered write: the key (in the arena) and its pending version, owned
 * by the transaction until commit installs it. */
typedef struct wop {
    const uint8_t *key;
    uint32_t klen;
    uint64_t hash;
    version *v;
} wop;

/* A point read to validate at commit. */
typedef struct rread {
    const uint8_t *key;
    uint32_t klen;
    uint64_t hash;
} rread;

/* A scanned range to validate at commit: [start, end) or [start, end]. */
typedef struct rrange {
    uint8_t *start;
    uint32_t slen;
    uint8_t *end;                      /* CAIRN_KEY_MAX bytes of room */
    uint32_t elen;
    bool unbounded;                    /* no upper end */
    bool inclusive;                    /* end is the last key moved past */
    bool empty;                        /* nothing covered yet */
} rrange;

enum txn_state { TXN_IDLE = 0, TXN_ACTIVE = 1, TXN_FINISHED = 2 };

struct cairn_txn {
    cairn_db *db;
    uint32_t slot;
    enum txn_state state;
    uint64_t gen;                      /* bumps at every finish */
    bool internal;                     /* the engine's own (a checkpoint's
                                        * snapshot): not counted as active */
    cairn_txn_options opts;
    uint64_t snap;
    int64_t now_us;
    uint64_t commit_ver;
    arena mem;

    wop *ops;
    size_t nops, capops;
    uint32_t *wmap;                    /* op index + 1, open addressing */
    size_t wmap_cap;
    uint64_t wbytes;

    rread *reads;
    size_t nreads, capreads;
    rrange *ranges;
    size_t nranges, capranges;

    version *superseded;               /* own writes replaced by later ones
                                        * (chained by `older`), kept until
                                        * the end: a caller may hold them */
    struct cairn_iter *iters;          /* open iterators of this handle */
    cairn_txn *pool_next;
    cairn_txn *all_next;
    char errmsg[ERRMSG_CAP];
};

/* One step of splitmix64: run-id randomness and backoff jitter. */
static inline uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Sets the database-level error message; returns `status`. */
cairn_status db_error(cairn_db *db, cairn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Time from the database clock. */
int64_t db_clock_now(const cairn_db *db);

/* Writer (commit lock held): reclaims up to `budget` queued nodes' garbage
 * and frees retired memory no reader can reach any more. */
void gc_step(cairn_db *db, size_t budget);

/* Writer: installs `v` as the newest version of existing node `n` and
 * prunes versions no snapshot older than `min_snap` needs. */
void gc_install(cairn_db *db, node *n, version *v, uint64_t min_snap);

/* Writer: queues a node whose garbage will need reclaiming later. */
void gc_enqueue(cairn_db *db, node *n);

/* Frees the queue (at close). */
void gc_destroy(cairn_db *db);

/* The index's retire hook: defers a free until current readers are gone. */
void gc_retire(void *ctx, void *ptr, void (*free_fn)(void *));

/* Whether `key` is a complete, writable key (valid prefix, non-empty rest). */
cairn_status key_check_writable(cairn_txn *t, const cairn_key *key);

/* Finds this transaction's own buffered write of a key, or -1. */
long txn_find_write(const cairn_txn *t, const uint8_t *key, size_t klen, uint64_t hash);

/* Records a scanned range for validation; returns its index or -1. */
long txn_add_range(cairn_txn *t, const uint8_t *start, size_t slen, const uint8_t *end,
                   size_t elen);

/* Common argument check of every transaction call. */
static inline cairn_status txn_usable(cairn_txn *t)
{
    if (t == NULL)
        return CAIRN_INVALID_ARGUMENT;
    if (t->state != TXN_ACTIVE)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_TXN_FINISHED,
                       "the transaction was already committed or aborted");
    return CAIRN_OK;
}

/* Opens (and recovers) the durable database in `path` on file layer `fs`
 * (NULL: the POSIX layer).  Fills the durable fields of `db`, whose options
 * and in-memory structures are already initialised. */
cairn_status durable_open(cairn_db *db, const char *path, wal_fs *fs, char *err, size_t cap);

/* Close of a durable database: stops checkpoints, syncs and closes the
 * WAL, releases the lock.  CAIRN_IO when the final sync failed. */
cairn_status durable_close(cairn_db *db);

/* Commit of a durable database, commit lock held, after validation: encodes
 * the record of version `ver` and appends it; `*lsnp` gets its LSN. */
cairn_status durable_append(cairn_txn *t, uint64_t ver, uint64_t *lsnp);

/* After the commit lock is released: waits until the commit is as durable
 * as its mode says, then publishes `ver` once every older version is
 * published.  CAIRN_IO (database poisoned) when the WAL failed. */
cairn_status durable_finish_commit(cairn_txn *t, uint64_t ver, uint64_t lsn);

/* Writer: installs `v` as the newest version of `key` (recovery path:
 * no readers, no snapshots).  -1 when memory runs out. */
int store_install(cairn_db *db, const uint8_t *key, size_t klen, version *v);

/* Opens `path` with the file layer `fs` (tests pass an instrumented one;
 * it must outlive the database). */
cairn_status db_open_fs(const char *path, const cairn_options *opts, wal_fs *fs, cairn_db **dbp,
                        char *errbuf, size_t errbuf_len);

/* Begins a read-only transaction for the engine itself (a checkpoint's
 * snapshot): it takes a snapshot slot but does not count as active, so it
 * never makes cairn_db_close() answer CAIRN_BUSY. */
cairn_status txn_begin_internal(cairn_db *db, cairn_txn **txnp);

/* Close: frees every transaction handle (none may be active). */
void txn_destroy_all(cairn_db *db);

/* Frees every iterator of a handle (restart, free, close). */
void iter_free_all(cairn_txn *t);

/* Adds `d` to a counter that only the commit-lock holder (or a single-
 * threaded open) changes: a plain load and store.  A locked read-modify-
 * write there would wait for every store of the commit to drain first. */
static inline void stat_add_locked(_Atomic uint64_t *c, int64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d,
                          memory_order_relaxed);
}

#endif
