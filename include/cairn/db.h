/*
 * cairn/db.h - options, opening and closing a database, engine statistics.
 *
 * A cairn_db handle is thread-safe: any number of threads may begin
 * transactions on it at once.  Everything a database holds lives behind the
 * handle; cairn keeps no global state.
 */
#ifndef CAIRN_DB_H
#define CAIRN_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cairn_db cairn_db;

/* How durable a commit is when cairn_txn_commit() returns. */
typedef enum cairn_durability {
    CAIRN_DURABILITY_DEFAULT = 0, /* per transaction: use the database's mode */
    CAIRN_DURABILITY_NONE = 1,    /* in memory only */
    CAIRN_DURABILITY_ASYNC = 2,   /* written to the OS; synced every sync_interval_ms */
    CAIRN_DURABILITY_SYNC = 3,    /* fdatasync'ed (group commit) before commit returns */
} cairn_durability;

/*
 * A clock: the current time in microseconds since the Unix epoch.  cairn
 * reads it for expiry checks, run-id generation and timestamps.  It must be
 * thread-safe.  Tests pass a fake clock to control time.
 */
typedef int64_t (*cairn_clock_fn)(void *ctx);

/* Hard ceilings on the limits in cairn_options. */
#define CAIRN_VALUE_MAX_LIMIT (256u * 1024u * 1024u)            /* 256 MiB */
#define CAIRN_TXN_BYTES_MAX_LIMIT (1024ull * 1024u * 1024u)     /* 1 GiB */
#define CAIRN_OPEN_TXNS_MAX_LIMIT 65536u

/*
 * Options for cairn_db_open().  Always start from cairn_options_init(),
 * which sets every field to its documented default, then change what you
 * need; fields added in later versions then keep working defaults.
 */
typedef struct cairn_options {
    /* Default durability of commits.  Default CAIRN_DURABILITY_SYNC for a
     * directory; an in-memory database (NULL path) always behaves as NONE. */
    cairn_durability durability;
    /* ASYNC mode: the background flusher syncs this often.  Default 10. */
    uint32_t sync_interval_ms;
    /* Clock for expiry and timestamps; NULL (default) uses CLOCK_REALTIME. */
    cairn_clock_fn clock;
    void *clock_ctx;
    /* Largest value, in bytes.  Default 16 MiB, at most CAIRN_VALUE_MAX_LIMIT. */
    uint32_t max_value_size;
    /* Largest transaction: total bytes of keys and values written.
     * Default 64 MiB, at most CAIRN_TXN_BYTES_MAX_LIMIT. */
    uint64_t max_txn_bytes;
    /* Largest number of writes (put or delete) in one transaction.
     * Default 1,000,000. */
    uint32_t max_txn_ops;
    /* Most transactions active at once (begun, not yet committed or
     * aborted; a finished handle kept for restart does not count).
     * Default 1024, at most CAIRN_OPEN_TXNS_MAX_LIMIT.  cairn_txn_begin()
     * and cairn_txn_restart() answer CAIRN_BUSY past it. */
    uint32_t max_open_txns;
    /* cairn_db_run(): attempts before giving up with CAIRN_CONFLICT.
     * Default 64. */
    uint32_t max_retries;
    /* cairn_db_run(): backoff between attempts doubles from
     * retry_backoff_min_us up to retry_backoff_max_us (with jitter).
     * Defaults 1 and 1000. */
    uint32_t retry_backoff_min_us;
    uint32_t retry_backoff_max_us;
    /* Size of each WAL segment file in bytes.  Default 64 MiB. */
    uint64_t wal_segment_size;
    /* Checkpoint automatically once the WAL holds this many bytes, and at
     * least as many as the last checkpoint wrote (a checkpoint rewrites every
     * live key, so it never writes more than the log did meanwhile).
     * Default 64 MiB; 0 disables automatic checkpoints. */
    uint64_t checkpoint_wal_bytes;
    /* Open for inspection only: no writes, no truncation.  Default false. */
    bool read_only;
    /* Write WAL records through a shared memory mapping of the (preallocated)
     * segment, with no system call per commit (Linux).  Default true.  Turn
     * it off on copy-on-write filesystems (btrfs with copy-on-write, ZFS),
     * where preallocated blocks do not guarantee a later write finds space:
     * records are then written with pwrite and a full disk is a status, not
     * a SIGBUS.  See docs/FORMAT.md, "How records reach the file". */
    bool wal_mmap;
} cairn_options;

/* Sets every field of `*opts` to its default.  `opts` must not be NULL. */
void cairn_options_init(cairn_options *opts);

/*
 * Opens a database and stores its handle in `*dbp`.
 *
 * `path` NULL opens a fresh in-memory database (nothing touches the disk;
 * everything is gone at close; durability is always NONE).
 *
 * A directory path opens (creating it with mode 0700 when absent) a durable
 * database: DIR/LOCK is held exclusively until close (a second opener, in
 * this process or another, gets CAIRN_LOCKED), and recovery runs first: the
 * newest valid checkpoint (an older one when the newest is damaged), then
 * every later WAL record.  A torn record at the very end of the log is cut
 * off and reported (cairn_db_recovery_report()); damage anywhere else fails
 * the open with CAIRN_CORRUPT and a message naming the file and offset.
 * With opts->read_only nothing is created, truncated or written: the
 * database can only be read, and a missing database is CAIRN_NOT_FOUND.
 *
 * `opts` may be NULL for the defaults.  Options outside their documented
 * ranges give CAIRN_INVALID_ARGUMENT.  When `errbuf` is not NULL, a failing
 * open writes a NUL-terminated message of at most `errbuf_len` bytes there.
 * On failure `*dbp` is set to NULL.
 */
cairn_status cairn_db_open(const char *path, const cairn_options *opts, cairn_db **dbp,
                           char *errbuf, size_t errbuf_len);

/*
 * Closes `db` and frees everything it owns.  A durable database first
 * writes and syncs everything committed (whatever each commit's mode) and
 * releases its LOCK.  When transactions are still
 * active (begun and neither committed nor aborted) it answers CAIRN_BUSY and
 * closes nothing: finish them first.  Finished transaction handles that
 * were not freed yet are freed by close and must not be used afterwards.
 * `db` NULL is CAIRN_INVALID_ARGUMENT.
 */
cairn_status cairn_db_close(cairn_db *db);

/*
 * Copies the message of the last failing database-level call on `db`
 * (begin, close, run-id generation, ...) into `buf` (NUL-terminated,
 * truncated to `cap` bytes) and returns its full length.  An empty string
 * when nothing failed.  Thread-safe.
 */
size_t cairn_db_errmsg(cairn_db *db, char *buf, size_t cap);

/*
 * Generates a fresh run id from the database's clock: time-ordered and,
 * while the database is open, strictly increasing.  The 12-bit counter
 * starts again at each open: ids generated after a reopen sort after the
 * earlier ones once the clock has moved past the millisecond of the last id
 * generated before the close (with a real clock, a reopen takes longer
 * than that unless ids were generated in a burst that borrowed
 * milliseconds ahead of the clock).
 */
cairn_status cairn_run_id_generate(cairn_db *db, cairn_run_id *idp);

/* The current time of the database's clock, in microseconds. */
int64_t cairn_db_now_us(cairn_db *db);

/* Counters the engine keeps; a consistent-enough copy from cairn_db_stats(). */
typedef struct cairn_stats {
    uint64_t visible_version;     /* newest commit version readers can see */
    uint64_t commits;             /* read-write transactions committed */
    uint64_t read_only_commits;   /* transactions committed without writes (read-only or not) */
    uint64_t conflicts;           /* commits refused with CAIRN_CONFLICT */
    uint64_t aborts;              /* transactions aborted by the caller */
    uint64_t keys;                /* keys in the index, tombstoned ones included */
    uint64_t versions;            /* versions held, all keys */
    uint64_t versions_reclaimed;  /* versions freed because no snapshot could see them */
    uint64_t keys_reclaimed;      /* deleted keys removed from the index */
    uint64_t open_txns;           /* transactions currently active */
    uint64_t syncs;               /* fdatasync calls made by the WAL */
    uint64_t wal_records;         /* WAL records appended since open */
    uint64_t wal_bytes;           /* bytes of WAL on disk */
    uint64_t checkpoints;         /* checkpoints written since open */
    uint64_t checkpoint_version;  /* version of the newest checkpoint (0: none) */
} cairn_stats;

/* Fills `*statsp` with the current counters. */
cairn_status cairn_db_stats(cairn_db *db, cairn_stats *statsp);

/* What recovery found and did when a durable database was opened. */
typedef struct cairn_recovery_report {
    bool durable;                 /* false for an in-memory database */
    bool new_database;            /* the directory held no database yet */
    uint64_t checkpoint_version;  /* the checkpoint loaded; 0 when none */
    uint64_t checkpoint_entries;  /* keys it held */
    uint32_t checkpoints_skipped; /* newer checkpoints found damaged */
    char checkpoint_path[512];    /* "" when none */
    uint64_t segments_read;       /* WAL segments read */
    uint64_t records_replayed;    /* WAL records applied after the checkpoint */
    uint64_t last_version;        /* the version the database opened at */
    bool torn;                    /* a torn record ended the log */
    uint64_t bytes_truncated;     /* its bytes (0 when none) */
    char torn_path[512];          /* its file ("" when none) */
    uint64_t torn_offset;         /* and offset */
    bool repaired;                /* cut off (false for a read-only open) */
    uint64_t duration_us;         /* time recovery took */
} cairn_recovery_report;

/* Copies the recovery report of `db` into `*reportp`. */
cairn_status cairn_db_recovery_report(cairn_db *db, cairn_recovery_report *reportp);

/*
 * Writes a checkpoint now: every live key at the current snapshot, to a
 * temporary file that is fsynced, renamed and made durable with a
 * directory fsync.  Writers go on meanwhile.  Then the WAL segments and
 * checkpoint files no longer needed are removed (the previous checkpoint
 * and the WAL after it are kept, so a damaged newest checkpoint can be
 * recovered from).  Expired keys are left out.  Checkpoints also happen
 * automatically once the WAL passes options.checkpoint_wal_bytes.
 * CAIRN_UNSUPPORTED for an in-memory database, CAIRN_READ_ONLY for a
 * read-only one, CAIRN_IO when a file operation failed (nothing committed
 * is lost; the previous checkpoint and the WAL still cover everything).
 */
cairn_status cairn_db_checkpoint(cairn_db *db);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_DB_H */
