/*
 * cairn/eventlog.h - EventLog: a run's append-only, hash-chained event
 * stream.
 *
 * Events of a run are numbered from 0 without gaps.  Each event's hash is
 * SHA-256 over its canonical encoding (docs/FORMAT.md, "EventLog"), which
 * includes the previous event's hash; the first event's previous hash is
 * derived from the run id, so an event copied into another run does not
 * verify there.  No call updates or deletes an event: a run's events go
 * only when the run is deleted.
 *
 * Concurrent appenders to one run are serialized by the engine's
 * optimistic validation (the implicit forms retry; no gaps, no duplicate
 * numbers); appenders to different runs never conflict.
 *
 * As elsewhere, cairn_event_NAME(db, ...) runs its own transaction and
 * returns owned results; cairn_event_NAME_tx(txn, ...) works inside the
 * caller's transaction and returns borrowed ones.  Errors: cairn_db_errmsg()
 * or cairn_txn_errmsg().
 */
#ifndef CAIRN_EVENTLOG_H
#define CAIRN_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "txn.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CAIRN_EVENT_HASH_SIZE 32
/* Longest event type name (non-empty), and longest idempotency id. */
#define CAIRN_EVENT_TYPE_MAX 255u
#define CAIRN_EVENT_ID_MAX 255u

/* An event read inside a transaction: slices borrowed until it finishes. */
typedef struct cairn_event_view {
    uint64_t seq;
    int64_t timestamp_us;
    cairn_slice type;
    cairn_slice payload;
    uint8_t prev_hash[CAIRN_EVENT_HASH_SIZE];
    uint8_t hash[CAIRN_EVENT_HASH_SIZE];
} cairn_event_view;

/* An event read by an implicit call: free it with cairn_event_free(). */
typedef struct cairn_event {
    uint64_t seq;
    int64_t timestamp_us;
    cairn_bytes type;
    cairn_bytes payload;
    uint8_t prev_hash[CAIRN_EVENT_HASH_SIZE];
    uint8_t hash[CAIRN_EVENT_HASH_SIZE];
} cairn_event;

/* Frees an event's bytes and empties it (NULL-safe, idempotent). */
void cairn_event_free(cairn_event *ev);

/* ---- appending ------------------------------------------------------------ */

/*
 * Appends an event of `type` (1..CAIRN_EVENT_TYPE_MAX bytes) carrying
 * `payload` to `run`, stamped with the transaction's time on the database
 * clock.  `*seqp` and `hash` (each may be NULL) receive its number and hash.
 */
cairn_status cairn_event_append(cairn_db *db, const cairn_run_id *run, cairn_slice type,
                                cairn_slice payload, uint64_t *seqp,
                                uint8_t hash[CAIRN_EVENT_HASH_SIZE]);
cairn_status cairn_event_append_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice type,
                                   cairn_slice payload, uint64_t *seqp,
                                   uint8_t hash[CAIRN_EVENT_HASH_SIZE]);

/*
 * As cairn_event_append(), only if the log holds exactly `expected_len`
 * events (the writer's view is current).  CAIRN_VERSION_MISMATCH otherwise,
 * with the actual length in `*seqp` and nothing appended.  Not retried: the
 * caller decides what to do with a log that moved on.
 */
cairn_status cairn_event_append_expect(cairn_db *db, const cairn_run_id *run, uint64_t expected_len,
                                       cairn_slice type, cairn_slice payload, uint64_t *seqp,
                                       uint8_t hash[CAIRN_EVENT_HASH_SIZE]);
cairn_status cairn_event_append_expect_tx(cairn_txn *txn, const cairn_run_id *run,
                                          uint64_t expected_len, cairn_slice type,
                                          cairn_slice payload, uint64_t *seqp,
                                          uint8_t hash[CAIRN_EVENT_HASH_SIZE]);

/*
 * Idempotent append: `event_id` (1..CAIRN_EVENT_ID_MAX bytes, chosen by the
 * caller) names the event.  The first append with an id appends; any later
 * one appends nothing and returns the first one's number and hash, with
 * `*appendedp` (may be NULL) false.  The id is remembered as long as the
 * run's events are.
 */
cairn_status cairn_event_append_once(cairn_db *db, const cairn_run_id *run, cairn_slice event_id,
                                     cairn_slice type, cairn_slice payload, uint64_t *seqp,
                                     uint8_t hash[CAIRN_EVENT_HASH_SIZE], bool *appendedp);
cairn_status cairn_event_append_once_tx(cairn_txn *txn, const cairn_run_id *run,
                                        cairn_slice event_id, cairn_slice type, cairn_slice payload,
                                        uint64_t *seqp, uint8_t hash[CAIRN_EVENT_HASH_SIZE],
                                        bool *appendedp);

/* ---- reading --------------------------------------------------------------- */

/* Event `seq` of `run`; CAIRN_NOT_FOUND past the end. */
cairn_status cairn_event_read(cairn_db *db, const cairn_run_id *run, uint64_t seq, cairn_event *evp);
cairn_status cairn_event_read_tx(cairn_txn *txn, const cairn_run_id *run, uint64_t seq,
                                 cairn_event_view *evp);

/* The number of events of `run` (0 for a run without any), in O(1). */
cairn_status cairn_event_len(cairn_db *db, const cairn_run_id *run, uint64_t *lenp);
cairn_status cairn_event_len_tx(cairn_txn *txn, const cairn_run_id *run, uint64_t *lenp);

/* The last event of `run`; CAIRN_NOT_FOUND when it has none. */
cairn_status cairn_event_head(cairn_db *db, const cairn_run_id *run, cairn_event *evp);
cairn_status cairn_event_head_tx(cairn_txn *txn, const cairn_run_id *run, cairn_event_view *evp);

/* A streaming iterator over events, inside a transaction. */
typedef struct cairn_event_iter cairn_event_iter;

/*
 * Opens an iterator over the events of `run` numbered in [start, end)
 * (end UINT64_MAX: to the end), in order.  Events are read as the iterator
 * moves, never all at once.
 */
cairn_status cairn_event_iter_range(cairn_txn *txn, const cairn_run_id *run, uint64_t start,
                                    uint64_t end, cairn_event_iter **iterp);

/*
 * Opens an iterator over the events of `run` of type `type`, from number
 * `start` on, in order, through the by-type index written with each event:
 * the cost follows the number of matching events, not the log's length.
 * The index is read as of the open (like every iterator); each event it
 * names is read when the iterator reaches it, so if the same transaction
 * deletes the run meanwhile (cairn_run_delete_tx), the next call answers
 * CAIRN_NOT_FOUND.
 */
cairn_status cairn_event_iter_type(cairn_txn *txn, const cairn_run_id *run, cairn_slice type,
                                   uint64_t start, cairn_event_iter **iterp);

/* The next event (borrowed until the transaction finishes), or CAIRN_DONE. */
cairn_status cairn_event_iter_next(cairn_event_iter *it, cairn_event_view *evp);

/* Frees an iterator (NULL-safe).  Free every event iterator before its
 * transaction's handle is freed or restarted (the handle takes the engine
 * iterator inside with it; the rest would be lost).  The iterator of a
 * finished transaction may still be freed until then. */
void cairn_event_iter_free(cairn_event_iter *it);

/* The distinct event types of a run, in the by-type index's order (shorter
 * types first, types of one length in byte order): free with
 * cairn_event_types_free(). */
typedef struct cairn_event_types {
    cairn_slice *types;
    size_t n;
    void *mem;
} cairn_event_types;
cairn_status cairn_event_list_types(cairn_db *db, const cairn_run_id *run, cairn_event_types *typesp);
cairn_status cairn_event_list_types_tx(cairn_txn *txn, const cairn_run_id *run,
                                       cairn_event_types *typesp);
void cairn_event_types_free(cairn_event_types *typesp);

/* ---- verification ------------------------------------------------------------ */

typedef enum cairn_chain_problem {
    CAIRN_CHAIN_OK = 0,
    CAIRN_CHAIN_GAP = 1,         /* an event number is missing (bad_seq: the missing one) */
    CAIRN_CHAIN_BROKEN_LINK = 2, /* prev_hash differs from the previous event's hash */
    CAIRN_CHAIN_WRONG_HASH = 3,  /* the stored hash is not the hash of the event */
    CAIRN_CHAIN_MALFORMED = 4,   /* the stored event cannot be decoded */
    CAIRN_CHAIN_LENGTH = 5,      /* the stored length or head disagrees with the events */
    CAIRN_CHAIN_UNTRUSTED = 6,   /* the trusted starting point is not in the log */
} cairn_chain_problem;

typedef struct cairn_chain_report {
    bool ok;
    cairn_chain_problem problem;
    uint64_t bad_seq;            /* the first bad event, when !ok */
    uint64_t checked;            /* events verified */
    uint64_t len;                /* events in the log */
    uint8_t head_hash[CAIRN_EVENT_HASH_SIZE]; /* hash of the last verified event */
    char why[160];               /* a sentence about the problem ("" when ok) */
} cairn_chain_report;

/*
 * Verifies the whole chain of `run`: every number present, every link, every
 * hash, and the stored length.  CAIRN_OK means the check ran; the outcome is
 * in `*reportp` (ok, or the first bad event and why).
 */
cairn_status cairn_event_verify(cairn_db *db, const cairn_run_id *run, cairn_chain_report *reportp);
cairn_status cairn_event_verify_tx(cairn_txn *txn, const cairn_run_id *run,
                                   cairn_chain_report *reportp);

/*
 * Verifies the events after a trusted point: event `trusted_seq` must carry
 * `trusted_hash`, and everything after it must chain from there.
 */
cairn_status cairn_event_verify_from(cairn_db *db, const cairn_run_id *run, uint64_t trusted_seq,
                                     const uint8_t trusted_hash[CAIRN_EVENT_HASH_SIZE],
                                     cairn_chain_report *reportp);
cairn_status cairn_event_verify_from_tx(cairn_txn *txn, const cairn_run_id *run,
                                        uint64_t trusted_seq,
                                        const uint8_t trusted_hash[CAIRN_EVENT_HASH_SIZE],
                                        cairn_chain_report *reportp);

/* The previous hash of a run's first event: SHA-256("cairn.event.genesis" ‖ run id). */
void cairn_event_genesis(const cairn_run_id *run, uint8_t hash[CAIRN_EVENT_HASH_SIZE]);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_EVENTLOG_H */
