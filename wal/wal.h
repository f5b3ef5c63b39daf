/*
 * wal/wal.h - the write-ahead log: appending, group commit, replay.
 *
 * The log lives in DIR/wal/ as numbered segment files (wal/segment.h); each
 * committed transaction is one record (wal/record.h).  Writing:
 *
 *   wal_open()          opens or continues the log;
 *   wal_append(),       called under the engine's commit lock, in commit
 *   wal_append_ops()    version order: put the record into the log and
 *                       return its log sequence number (LSN);
 *   wal_commit_wait()   called without the commit lock once the commit's
 *                       versions are linked: returns once the record is as
 *                       durable as its mode promises AND every older
 *                       record is as durable as its own commit asked, with
 *                       the newest version that may now be made visible;
 *   wal_wait_durable()  the durability half alone (no ordering).
 *
 * Where the record goes.  On a file layer that can map files
 * (wal_fs_can_map: the POSIX layer on Linux) the current segment is
 * mapped shared and records are encoded straight into it: a record is in
 * the OS page cache when wal_append returns (the promise a pwrite gives:
 * a killed process loses nothing), so ASYNC commits never wait and do no
 * system call.  fdatasync of the segment writes the mapped pages to the
 * device.  Segments are preallocated, so stores never meet a hole; a full
 * disk fails segment creation with CAIRN_IO before any store.  On the test
 * layer (or when mmap fails) records collect in a buffer that the thread
 * doing log I/O writes with one pwrite.
 *
 * Group commit (SYNC).  A waiter whose record is not synced issues the
 * fdatasync itself when no log I/O is running; otherwise it asks for the
 * next sync and sleeps.  A background syncer thread starts that next sync
 * the moment the running one ends and keeps syncing back to back while
 * waiters keep asking; each fdatasync covers every record appended before
 * it began, and whoever finishes a sync completes every commit it made
 * durable (in version order) and wakes their threads in one round.  The
 * same thread fdatasyncs every sync_interval_ms when ASYNC records are
 * unsynced, bounding what ASYNC commits can lose.
 *
 * Failure is final: after any failed write or sync the wal is poisoned and
 * every later append or wait answers CAIRN_IO (a failed fsync leaves the
 * page cache in an unknown state; retrying it and reporting success would
 * be a lie).  The engine must reopen and recover.
 *
 * A record never spans segments.  When a record does not fit in the rest
 * of the current segment, the segment is written out, fdatasynced and
 * closed, and a new one is created; a record larger than a whole segment
 * gets a new segment of its own, sized to fit (so no commit is refused for
 * being larger than the segment size).
 *
 * Recovery: wal_replay() reads every segment in order and hands each record
 * to a callback; its report says where appending resumes, which the engine
 * passes to wal_open() in wal_config.
 *
 * Thread safety: every function but wal_open and wal_close may be called
 * from any thread; wal_append / wal_append_ops calls must be serialised by
 * the caller (the commit lock).
 */
#ifndef CAIRN_WAL_WAL_H
#define CAIRN_WAL_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/db.h"
#include "cairn/status.h"
#include "wal/file.h"
#include "wal/record.h"
#include "wal/segment.h"

typedef struct wal wal;

/* Settings for wal_open().  Start from wal_config_init(). */
typedef struct wal_config {
    /* Nominal size of each segment, bytes, at least WAL_SEGMENT_MIN_SIZE.
     * Default WAL_SEGMENT_DEFAULT_SIZE (64 MiB). */
    uint64_t segment_size;
    /* Period of the background fdatasync of ASYNC records in ms; 0: none
     * (ASYNC commits are then synced only by later SYNC commits, wal_sync
     * or close).  Default 10. */
    uint32_t sync_interval_ms;
    /* Write records through a shared mapping of the segment when the file
     * layer can map files (see above).  Default true; false keeps the
     * buffered pwrite path. */
    bool map_segments;
    /* Database id written into (and expected in) every segment header.
     * Default all zero. */
    uint8_t db_id[WAL_DB_ID_SIZE];
    /* Where to continue: the resume position from wal_replay_report.  With
     * resume_segment 0 a new segment is created, numbered first_segment or
     * one past the newest existing segment, whichever is larger.
     * Defaults 0, 0 and 1. */
    uint64_t resume_segment;
    uint64_t resume_offset;
    uint64_t first_segment;
    /* Newest commit version already in the log or in a checkpoint; every
     * appended record must have a larger version.  Default 0. */
    uint64_t last_version;
} wal_config;

/* Sets every field of `cfg` to its default. */
void wal_config_init(wal_config *cfg);

/* Counters and positions from wal_get_stats(). */
typedef struct wal_stats {
    uint64_t records;          /* records appended since open */
    uint64_t bytes_appended;   /* their bytes */
    uint64_t writes;           /* pwrite calls that wrote records (none
                                  while segments are mapped) */
    uint64_t syncs;            /* fdatasync calls on segments (group commits,
                                  flusher, segment roll-over, close) */
    uint64_t segments_created; /* since open */
    uint64_t segment_no;       /* current segment */
    uint64_t segment_offset;   /* where the next record goes in it */
    uint64_t total_bytes;      /* log bytes on disk: records of the current
                                  segment plus the size of every older one */
    uint64_t appended_lsn;     /* LSN of the newest appended record */
    uint64_t written_lsn;      /* written to the OS up to here */
    uint64_t synced_lsn;       /* fdatasynced up to here */
    uint64_t last_version;     /* commit version of the newest record */
    uint64_t done_version;     /* newest version wal_commit_wait completed
                                  (with every older one) */
    bool mapped;               /* the current segment is written through a
                                  shared mapping */
} wal_stats;

/*
 * Opens the log of the database directory `dir`, which must exist
 * (segments in `dir`/wal, created if missing) and stores the handle the caller owns in `*walp`.
 * Removes leftover temporary segment files.  With cfg->resume_segment set,
 * continues that segment at cfg->resume_offset (its header must carry
 * cfg->db_id); otherwise creates a new segment.  `fs` must outlive the
 * wal.  The caller holds DIR/LOCK (wal_fs_lock).  CAIRN_INVALID_ARGUMENT
 * for a bad config, CAIRN_IO / CAIRN_CORRUPT with a message in `err`.
 */
cairn_status wal_open(wal_fs *fs, const char *dir, const wal_config *cfg, wal **walp,
                      wal_err *err);

/*
 * Appends one encoded record (from wal_record_encode; its commit version
 * must exceed every earlier one) and stores its LSN in `*lsnp`.  Copies
 * `rec`; does no I/O except at a segment roll-over.  CAIRN_INVALID_ARGUMENT
 * for a malformed record or a version out of order, CAIRN_IO when the wal
 * is poisoned (or the roll-over failed, which poisons it).
 */
cairn_status wal_append(wal *w, const uint8_t *rec, size_t len, uint64_t *lsnp);

/*
 * wal_append for a record given as operations: encodes the record of
 * commit `version` holding `ops[0..n)` straight into the log (one pass,
 * one checksum) and stores its LSN in `*lsnp`.  The ops' bytes are copied.
 * CAIRN_INVALID_ARGUMENT when wal_record_size(ops, n) is 0 or the version
 * is out of order, otherwise as wal_append.
 */
cairn_status wal_append_ops(wal *w, uint64_t version, const wal_op *ops, size_t n,
                            uint64_t *lsnp);

/*
 * Completes commit `version`, whose record was appended with LSN `lsn`:
 * declares it ready (the caller has made everything it needs done before
 * the version may become visible), then waits until its record is as
 * durable as `mode` promises (see wal_wait_durable; SYNC waits join group
 * commit) and every older version appended since open has been declared
 * and is as durable as its own mode asked.  Stores in `*donep` the newest
 * version with that property (>= `version`): versions up to it may be made
 * visible.  Every version appended must be declared exactly once, by one
 * call; a version never declared holds back every later one.
 * CAIRN_IO when the wal is poisoned (waiters are released), and
 * CAIRN_INVALID_ARGUMENT for another mode, an LSN not yet appended, or a
 * version already completed.
 */
cairn_status wal_commit_wait(wal *w, uint64_t version, uint64_t lsn, cairn_durability mode,
                             uint64_t *donep);

/*
 * Waits until the record with LSN `lsn` is as durable as `mode` promises:
 * CAIRN_DURABILITY_ASYNC: written to the OS; CAIRN_DURABILITY_SYNC:
 * fdatasynced (group commit, see above; no ordering with other records is
 * waited for, unlike wal_commit_wait); CAIRN_DURABILITY_NONE returns
 * CAIRN_OK at once.  CAIRN_IO when the wal is poisoned, CAIRN_INVALID_ARGUMENT
 * for another mode.
 */
cairn_status wal_wait_durable(wal *w, uint64_t lsn, cairn_durability mode);

/* Writes and fdatasyncs everything appended so far (a SYNC wait on the
 * newest LSN). */
cairn_status wal_sync(wal *w);

/*
 * Writes and fdatasyncs everything appended (unless poisoned), stops the
 * syncer thread, unmaps and closes the files and frees `w` (NULL is a
 * no-op).  Returns
 * CAIRN_IO when the wal was poisoned or the final sync failed; `w` is
 * freed in every case.  No other call may be in progress.
 */
cairn_status wal_close(wal *w);

/*
 * Unlinks every segment numbered below `segment_no` (never the current
 * one) and fsyncs the directory.  For use after a checkpoint made them
 * unnecessary.
 */
cairn_status wal_remove_segments_before(wal *w, uint64_t segment_no);

/*
 * Unlinks every segment whose records all have commit versions <= `version`
 * (known from the next segment's prev_version; never the current segment)
 * and fsyncs the directory: call it once a checkpoint at `version` is
 * durable.  `*removedp` (may be NULL) receives the number removed.
 */
cairn_status wal_remove_covered(wal *w, uint64_t version, uint64_t *removedp);

/* Fills `*sp` with current counters (a consistent snapshot). */
void wal_get_stats(wal *w, wal_stats *sp);

/* True once a failed write or sync has poisoned `w`. */
bool wal_is_poisoned(wal *w);

/*
 * Copies the message of the last failure on `w` into `buf` (NUL-terminated,
 * truncated to `cap`) and returns its full length; "" when none.
 */
size_t wal_errmsg(wal *w, char *buf, size_t cap);

/* ---- Replay ----------------------------------------------------------- */

/*
 * Called for each record replayed, in log order: its commit version and
 * its ops, which point into a buffer valid only during the call.  A status
 * other than CAIRN_OK stops the replay, which returns it.
 */
typedef cairn_status (*wal_replay_fn)(void *ctx, uint64_t version, const wal_op *ops, size_t n);

/* What wal_replay() found and did. */
typedef struct wal_replay_report {
    uint64_t segments_read;
    uint64_t first_segment;     /* 0 when the log is empty */
    uint64_t last_segment;
    uint64_t records_read;      /* valid records found */
    uint64_t records_replayed;  /* of those, passed to the callback */
    uint64_t record_bytes;      /* bytes of the valid records */
    uint64_t last_version;      /* newest version found, 0 when none */
    uint8_t db_id[WAL_DB_ID_SIZE]; /* from the segment headers */
    /* Where appending continues: pass to wal_config.resume_segment /
     * resume_offset.  0, 0 when there is no segment. */
    uint64_t resume_segment;
    uint64_t resume_offset;
    /* A torn record at the end of the last segment. */
    bool torn;                  /* one was found */
    bool repaired;              /* ... and zero-filled (false when read_only) */
    uint64_t torn_offset;       /* where it starts in torn_path */
    uint64_t bytes_truncated;   /* bytes discarded (zero-filled when repaired) */
    char torn_path[WAL_ERR_MAX];
} wal_replay_report;

/*
 * Reads the log of database directory `dir` (segments in `dir`/wal) and
 * calls `fn(ctx, ...)` for every record with a version above
 * `after_version`, in order.  Checks: each header (magic, format version,
 * checksum, segment number, and the database id when `db_id` is not NULL,
 * otherwise every segment must carry the first one's id), segment numbers
 * contiguous, every record valid, versions strictly increasing across the
 * whole log.
 *
 * A torn tail — the first bad record lies in the LAST segment, no valid
 * record starts inside its extent, and only zero bytes follow it — is
 * discarded: zero-filled from its offset to the end of its extent and
 * fdatasynced (the file keeps its preallocated size), and reported; with
 * `read_only` nothing is written and the report still describes it.  Any
 * other damage returns CAIRN_CORRUPT with the file and offset in `err`.
 * A missing wal directory is an empty log.  `rep` may not be NULL.
 */
cairn_status wal_replay(wal_fs *fs, const char *dir, const uint8_t *db_id,
                        uint64_t after_version, wal_replay_fn fn, void *ctx, bool read_only,
                        wal_replay_report *rep, wal_err *err);

/* The wal directory of database directory `dir` as a new malloc'ed string
 * ("DIR/wal"); NULL when out of memory. */
char *wal_dir_path(const char *dir);

#endif /* CAIRN_WAL_WAL_H */
