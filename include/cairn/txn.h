/*
 * cairn/txn.h - serializable transactions, range scans and the retry helper.
 *
 * A transaction reads one consistent snapshot (everything committed before
 * it began, nothing after) and buffers its writes.  At commit, every key it
 * read and every range it scanned is checked against commits made since its
 * snapshot; any overlap refuses the commit with CAIRN_CONFLICT and nothing
 * is written.  Commits are serializable in commit-version order.  Writes a
 * transaction never read (blind writes) never conflict.  Read-only
 * transactions always commit.
 *
 * Lifecycle: cairn_txn_begin() gives a handle; cairn_txn_commit() or
 * cairn_txn_abort() finishes the transaction; the handle then stays valid,
 * answering CAIRN_TXN_FINISHED to everything, until cairn_txn_free() (or
 * cairn_txn_restart(), which begins a new transaction on the same handle).
 * A transaction handle belongs to one thread at a time.
 *
 * Borrowed results: a slice handed out by get or an iterator stays valid
 * until the transaction finishes; copy what you need beyond that.
 */
#ifndef CAIRN_TXN_H
#define CAIRN_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "status.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cairn_txn cairn_txn;
typedef struct cairn_iter cairn_iter;

typedef enum cairn_txn_mode {
    CAIRN_TXN_READ_WRITE = 0,
    CAIRN_TXN_READ_ONLY = 1,
} cairn_txn_mode;

typedef struct cairn_txn_options {
    cairn_txn_mode mode;          /* default CAIRN_TXN_READ_WRITE */
    cairn_durability durability;  /* default CAIRN_DURABILITY_DEFAULT: the database's mode */
} cairn_txn_options;

/* Sets `*opts` to the defaults (read-write, the database's durability). */
void cairn_txn_options_init(cairn_txn_options *opts);

/*
 * Begins a transaction on `db` and stores its handle in `*txnp`.  `opts`
 * NULL means the defaults.  CAIRN_BUSY when max_open_txns transactions are
 * already active.  The snapshot is taken here, and so is the time used for
 * expiry checks throughout the transaction.
 */
cairn_status cairn_txn_begin(cairn_db *db, const cairn_txn_options *opts, cairn_txn **txnp);

/*
 * Begins a new transaction on a finished handle, with the options it was
 * first begun with and a fresh snapshot: cheaper than free + begin.
 * CAIRN_BUSY when the handle's transaction is still active, or when
 * max_open_txns transactions are active.
 */
cairn_status cairn_txn_restart(cairn_txn *txn);

/*
 * Reads `key` at the snapshot, seeing this transaction's own writes.
 * CAIRN_NOT_FOUND when it is absent, deleted or expired.  The value slice
 * is borrowed until the transaction finishes.
 */
cairn_status cairn_txn_get(cairn_txn *txn, const cairn_key *key, cairn_slice *valuep);

/*
 * Reads `n` keys at the snapshot, as n cairn_txn_get() calls would (own
 * writes seen; in a read-write transaction every key counts as read), but
 * with their memory accesses overlapped: a batch of keys costs a fraction
 * of the same number of single gets.  For each i, statuses[i] is CAIRN_OK
 * with values[i] set (borrowed until the transaction finishes) or
 * CAIRN_NOT_FOUND with values[i] empty.  Returns CAIRN_OK when every key
 * was looked up; any other status (NULL arrays with n > 0, a key of a bad
 * length, CAIRN_NO_MEMORY recording reads) concerns the whole call, and
 * then values[] and statuses[] must be ignored.  n may be 0.
 */
cairn_status cairn_txn_get_many(cairn_txn *txn, const cairn_key *keys, size_t n,
                                cairn_slice *values, cairn_status *statuses);

/*
 * Writes `value` under `key` (the last write of a key in a transaction
 * wins).  The key's rest must not be empty.  CAIRN_TOO_LARGE past the value
 * or transaction limits; CAIRN_READ_ONLY in a read-only transaction.  The
 * bytes are copied.
 */
cairn_status cairn_txn_put(cairn_txn *txn, const cairn_key *key, cairn_slice value);

/*
 * As cairn_txn_put(), and the key reads as absent once the database clock
 * reaches `expires_at_us` (microseconds since the epoch; must be > 0).
 */
cairn_status cairn_txn_put_expiring(cairn_txn *txn, const cairn_key *key, cairn_slice value,
                                    int64_t expires_at_us);

/* Deletes `key`.  Deleting an absent key is not an error. */
cairn_status cairn_txn_delete(cairn_txn *txn, const cairn_key *key);

/*
 * Opens an iterator over the keys in [start, end) in ascending byte order,
 * at the snapshot and including this transaction's own writes, yielding at
 * most `limit` pairs (0 = no limit).  `end` NULL or of length 0 means no
 * upper bound.  The range actually covered (up to the last key the
 * iterator moved past) is validated at commit, so a concurrent insert into
 * it makes the commit fail with CAIRN_CONFLICT (no phantoms).
 * The iterator belongs to the transaction handle: free it with
 * cairn_iter_free(), or it is freed with the handle by cairn_txn_free() or
 * cairn_txn_restart().  Writes made after it opened are not part of it.
 */
cairn_status cairn_txn_scan(cairn_txn *txn, const cairn_key *start, const cairn_key *end,
                            size_t limit, cairn_iter **iterp);

/* cairn_txn_scan() over every key that starts with `prefix`. */
cairn_status cairn_txn_scan_prefix(cairn_txn *txn, const cairn_key *prefix, size_t limit,
                                   cairn_iter **iterp);

/*
 * Moves to the next pair and stores its encoded key and value (borrowed
 * until the transaction finishes).  CAIRN_DONE when the range or the limit
 * is exhausted; CAIRN_TXN_FINISHED once the transaction has ended.
 */
cairn_status cairn_iter_next(cairn_iter *iter, cairn_slice *keyp, cairn_slice *valuep);

/* Frees an iterator.  NULL is a no-op.  Iterators of a finished (but not
 * yet freed or restarted) transaction may be freed too. */
void cairn_iter_free(cairn_iter *iter);

/*
 * Validates and commits.  On CAIRN_OK the writes are visible to every later
 * snapshot (and as durable as the transaction's mode).  On CAIRN_CONFLICT,
 * or any other failure, nothing was written.  Either way the transaction is
 * finished.
 */
cairn_status cairn_txn_commit(cairn_txn *txn);

/* Discards the transaction's writes and finishes it.  Aborting a finished
 * transaction answers CAIRN_TXN_FINISHED and changes nothing. */
cairn_status cairn_txn_abort(cairn_txn *txn);

/* Aborts the transaction if it is still active and frees the handle.
 * NULL is a no-op. */
void cairn_txn_free(cairn_txn *txn);

/* True while the transaction is active (begun, not committed or aborted). */
bool cairn_txn_is_active(const cairn_txn *txn);

/* The commit version this transaction's snapshot sees. */
uint64_t cairn_txn_snapshot_version(const cairn_txn *txn);

/* After a successful commit of a transaction that wrote something: its
 * commit version.  0 otherwise. */
uint64_t cairn_txn_commit_version(const cairn_txn *txn);

/* The time (microseconds) the transaction judges expiry by. */
int64_t cairn_txn_now_us(const cairn_txn *txn);

/* The database a transaction belongs to. */
cairn_db *cairn_txn_db(const cairn_txn *txn);

/*
 * The message of the last failing call on `txn`: which argument, which
 * limit, which key conflicted.  An empty string when nothing failed.  Valid
 * until the next call on `txn`.
 */
const char *cairn_txn_errmsg(const cairn_txn *txn);

/* Body of cairn_db_run(): do the transaction's reads and writes, return
 * CAIRN_OK to commit or any other status to abort with it.  It may run
 * several times, so it must not have effects outside the transaction. */
typedef cairn_status (*cairn_txn_fn)(cairn_txn *txn, void *ctx);

/*
 * Runs `fn` inside a transaction and commits.  When the commit (or `fn`)
 * answers CAIRN_CONFLICT, it waits a bounded, jittered, doubling backoff
 * and runs it again, up to the database's max_retries attempts; then it
 * answers CAIRN_CONFLICT.  When max_open_txns transactions are active it
 * waits for a free one the same way (CAIRN_BUSY once the attempts are
 * spent).  Any other status from `fn` aborts and is returned.  On any
 * failure the transaction's message is kept as the database's
 * (cairn_db_errmsg()).  `attemptsp`, when not NULL, receives the number of
 * attempts.
 */
cairn_status cairn_db_run(cairn_db *db, const cairn_txn_options *opts, cairn_txn_fn fn,
                          void *ctx, uint32_t *attemptsp);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_TXN_H */
