/*
 * cairn/runindex.h - RunIndex: the registry of runs and their lifecycle.
 *
 * A run is the unit an agent runtime manages: it is created (optionally as
 * the child of another run, with a unique name, tags and metadata), moves
 * through its statuses, is archived, and is finally deleted together with
 * everything it owns.  The registry lives under the all-zero run id with
 * tag CAIRN_TAG_RUN; every run record is written together with its index
 * entries (by name, status, tag, status and tag, parent, creation time) in
 * one transaction, so every query below reads one index range and costs
 * what it returns.
 *
 * Statuses follow this table (anything else is CAIRN_INVALID_TRANSITION,
 * and the message names both statuses):
 *
 *   from \ to                      active paused completed failed cancelled archived
 *   active                           -     yes     yes      yes     yes       yes
 *   paused                          yes     -       -        -      yes       yes
 *   completed, failed, cancelled     -      -       -        -       -        yes
 *   archived                         -      -       -        -       -         -
 *
 * finished_us is set the first time a run enters completed, failed,
 * cancelled or archived, and kept from then on.  Tags and metadata may be
 * changed in every status.
 *
 * Writes into finished runs.  Every write of the KV, EventLog, StateCell
 * and TraceStore primitives (puts, deletes, appends, cell writes, trace
 * records and finishes) into a run registered here as completed, failed,
 * cancelled or archived is refused with CAIRN_READ_ONLY; reads stay
 * allowed, and so does deleting the run.  Writes into a run id that was
 * never registered are allowed, for low-ceremony use.  The check reads the
 * run's record in the writing transaction, so a status change committed
 * meanwhile makes that transaction conflict (cairn_db_run() retries it,
 * and then it is refused).  cairn_run_check_writable_tx() is the same
 * check, for callers writing raw engine keys.
 *
 * As elsewhere, cairn_run_NAME(db, ...) runs its own transaction and
 * returns owned results; cairn_run_NAME_tx(txn, ...) works inside the
 * caller's transaction and returns slices borrowed until it finishes.
 * Lists are owned by the caller in both forms.  Errors: cairn_db_errmsg()
 * or cairn_txn_errmsg().  Times are microseconds of the database clock.
 */
#ifndef CAIRN_RUNINDEX_H
#define CAIRN_RUNINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "txn.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest run name (names are optional; an empty name is no name). */
#define CAIRN_RUN_NAME_MAX 255u
/* Most tags on one run, and the longest tag (tags are never empty). */
#define CAIRN_RUN_TAGS_MAX 64u
#define CAIRN_RUN_TAG_MAX 255u
/* Longest error message of a failed run. */
#define CAIRN_RUN_ERROR_MAX 4096u
/* Most runs one query returns (its limit is 1..this). */
#define CAIRN_RUN_LIMIT_MAX 10000u
/* cairn_run_delete(): also delete the run's child runs, recursively. */
#define CAIRN_RUN_DELETE_CHILDREN 1u

typedef enum cairn_run_status {
    CAIRN_RUN_ACTIVE = 1,
    CAIRN_RUN_PAUSED = 2,
    CAIRN_RUN_COMPLETED = 3,
    CAIRN_RUN_FAILED = 4,
    CAIRN_RUN_CANCELLED = 5,
    CAIRN_RUN_ARCHIVED = 6,
} cairn_run_status;

/* The number of statuses (they are 1..CAIRN_RUN_STATUS_COUNT). */
#define CAIRN_RUN_STATUS_COUNT 6

/* True when the table above allows `from` -> `to`. */
bool cairn_run_transition_allowed(cairn_run_status from, cairn_run_status to);

/* The name of a status ("active", ...); static, "unknown" otherwise. */
const char *cairn_run_status_name(cairn_run_status status);

/* What to create.  Start from cairn_run_spec_init(). */
typedef struct cairn_run_spec {
    cairn_slice name;            /* 0..CAIRN_RUN_NAME_MAX bytes, unique; default empty: no name */
    const cairn_run_id *parent;  /* a registered run; default NULL: a root run */
    const cairn_slice *tags;     /* ntags distinct tags of 1..CAIRN_RUN_TAG_MAX bytes */
    size_t ntags;                /* 0..CAIRN_RUN_TAGS_MAX; default 0 */
    cairn_slice metadata;        /* opaque bytes; default empty */
} cairn_run_spec;

/* Sets every field of `*spec` to its default. */
void cairn_run_spec_init(cairn_run_spec *spec);

/*
 * A run.  From a `_tx` call every slice is borrowed until the transaction
 * finishes; in an owned cairn_run or list they point into its memory.
 */
typedef struct cairn_run_view {
    cairn_run_id id;
    cairn_run_status status;
    bool has_parent;
    cairn_run_id parent;         /* all zero for a root run */
    int64_t created_us;
    int64_t updated_us;          /* the last change of status, tags or metadata */
    int64_t finished_us;         /* 0 until the run first leaves active/paused */
    cairn_slice name;            /* empty: no name */
    size_t ntags;
    cairn_slice tags[CAIRN_RUN_TAGS_MAX];
    cairn_slice metadata;
    cairn_slice error;           /* the message given to cairn_run_fail(); else empty */
} cairn_run_view;

/* A run read by an implicit call: free it with cairn_run_free(). */
typedef struct cairn_run {
    cairn_run_view v;
    void *mem;                   /* internal */
} cairn_run;

/* Frees a run and empties it (NULL-safe, idempotent). */
void cairn_run_free(cairn_run *run);

/* ---- lifecycle --------------------------------------------------------------- */

/*
 * Registers a new active run under a fresh id from cairn_run_id_generate(),
 * stored in `*idp` (may be NULL).  `spec` NULL: the defaults.
 * CAIRN_EXISTS when another run has the name; CAIRN_NOT_FOUND when the
 * parent is not registered.
 */
cairn_status cairn_run_create(cairn_db *db, const cairn_run_spec *spec, cairn_run_id *idp);
cairn_status cairn_run_create_tx(cairn_txn *txn, const cairn_run_spec *spec, cairn_run_id *idp);

/* Run `id`; CAIRN_NOT_FOUND when it is not registered. */
cairn_status cairn_run_get(cairn_db *db, const cairn_run_id *id, cairn_run *runp);
cairn_status cairn_run_get_tx(cairn_txn *txn, const cairn_run_id *id, cairn_run_view *runp);

/* The run named `name`; CAIRN_NOT_FOUND when none is. */
cairn_status cairn_run_get_by_name(cairn_db *db, cairn_slice name, cairn_run *runp);
cairn_status cairn_run_get_by_name_tx(cairn_txn *txn, cairn_slice name, cairn_run_view *runp);

/*
 * Moves run `id` to status `to` when the table allows it;
 * CAIRN_INVALID_TRANSITION (nothing changes) otherwise.  Moving to
 * CAIRN_RUN_FAILED this way records an empty error message.
 */
cairn_status cairn_run_update_status(cairn_db *db, const cairn_run_id *id, cairn_run_status to);
cairn_status cairn_run_update_status_tx(cairn_txn *txn, const cairn_run_id *id,
                                        cairn_run_status to);

/* The named transitions: update_status with the matching status. */
cairn_status cairn_run_complete(cairn_db *db, const cairn_run_id *id);
cairn_status cairn_run_pause(cairn_db *db, const cairn_run_id *id);
cairn_status cairn_run_resume(cairn_db *db, const cairn_run_id *id);   /* paused -> active */
cairn_status cairn_run_cancel(cairn_db *db, const cairn_run_id *id);
cairn_status cairn_run_archive(cairn_db *db, const cairn_run_id *id); /* a soft delete */

/* Moves run `id` to failed with `message` (0..CAIRN_RUN_ERROR_MAX bytes). */
cairn_status cairn_run_fail(cairn_db *db, const cairn_run_id *id, cairn_slice message);
cairn_status cairn_run_fail_tx(cairn_txn *txn, const cairn_run_id *id, cairn_slice message);

/* Adds `tag`; CAIRN_EXISTS when the run has it, CAIRN_TOO_LARGE past
 * CAIRN_RUN_TAGS_MAX tags. */
cairn_status cairn_run_add_tag(cairn_db *db, const cairn_run_id *id, cairn_slice tag);
cairn_status cairn_run_add_tag_tx(cairn_txn *txn, const cairn_run_id *id, cairn_slice tag);

/* Removes `tag`; CAIRN_NOT_FOUND when the run does not have it. */
cairn_status cairn_run_remove_tag(cairn_db *db, const cairn_run_id *id, cairn_slice tag);
cairn_status cairn_run_remove_tag_tx(cairn_txn *txn, const cairn_run_id *id, cairn_slice tag);

/* Replaces the run's metadata with `metadata`. */
cairn_status cairn_run_set_metadata(cairn_db *db, const cairn_run_id *id, cairn_slice metadata);
cairn_status cairn_run_set_metadata_tx(cairn_txn *txn, const cairn_run_id *id,
                                       cairn_slice metadata);

/*
 * Deletes run `id` and everything it owns, in one transaction: every key
 * stored under the run id (KV, events, cells, traces, whatever the tag)
 * and its RunIndex record and index entries.  A run with child runs is
 * deleted only with CAIRN_RUN_DELETE_CHILDREN in `flags`, which deletes
 * its descendants the same way in the same transaction; without it the
 * answer is CAIRN_EXISTS and nothing changes.  CAIRN_NOT_FOUND when the
 * run is not registered.  The whole deletion must fit the database's
 * max_txn_ops and max_txn_bytes (CAIRN_TOO_LARGE otherwise, nothing
 * deleted).
 */
cairn_status cairn_run_delete(cairn_db *db, const cairn_run_id *id, unsigned flags);
cairn_status cairn_run_delete_tx(cairn_txn *txn, const cairn_run_id *id, unsigned flags);

/* ---- queries ------------------------------------------------------------------ */

/*
 * Where a query resumes: after the run (created_us, id).  A zeroed cursor
 * (or a NULL pointer) starts from the beginning.
 */
typedef struct cairn_run_cursor {
    bool set;
    int64_t created_us;
    cairn_run_id id;
} cairn_run_cursor;

/*
 * A page of runs, owned by the caller: free it with cairn_run_list_free().
 * When `more` is true, pass `&next` as the cursor of the same query for the
 * next page.
 */
typedef struct cairn_run_list {
    cairn_run_view *items;
    size_t n;
    bool more;
    cairn_run_cursor next;       /* after the last item (unset when n == 0) */
    void *mem;                   /* internal */
} cairn_run_list;

/* Frees a list and empties it (NULL-safe, idempotent). */
void cairn_run_list_free(cairn_run_list *listp);

/*
 * Every query lists runs in creation order (ties by id), after `after`
 * (NULL: from the start), at most `limit` (1..CAIRN_RUN_LIMIT_MAX).
 */

/* Every registered run. */
cairn_status cairn_run_list_all(cairn_db *db, const cairn_run_cursor *after, size_t limit,
                                cairn_run_list *listp);
cairn_status cairn_run_list_all_tx(cairn_txn *txn, const cairn_run_cursor *after, size_t limit,
                                   cairn_run_list *listp);

/* Runs in status `status`. */
cairn_status cairn_run_by_status(cairn_db *db, cairn_run_status status,
                                 const cairn_run_cursor *after, size_t limit,
                                 cairn_run_list *listp);
cairn_status cairn_run_by_status_tx(cairn_txn *txn, cairn_run_status status,
                                    const cairn_run_cursor *after, size_t limit,
                                    cairn_run_list *listp);

/* Runs carrying `tag`. */
cairn_status cairn_run_by_tag(cairn_db *db, cairn_slice tag, const cairn_run_cursor *after,
                              size_t limit, cairn_run_list *listp);
cairn_status cairn_run_by_tag_tx(cairn_txn *txn, cairn_slice tag, const cairn_run_cursor *after,
                                 size_t limit, cairn_run_list *listp);

/* Runs in status `status` carrying `tag` (one index range, no filtering). */
cairn_status cairn_run_by_status_tag(cairn_db *db, cairn_run_status status, cairn_slice tag,
                                     const cairn_run_cursor *after, size_t limit,
                                     cairn_run_list *listp);
cairn_status cairn_run_by_status_tag_tx(cairn_txn *txn, cairn_run_status status, cairn_slice tag,
                                        const cairn_run_cursor *after, size_t limit,
                                        cairn_run_list *listp);

/* The child runs of `parent`; CAIRN_NOT_FOUND when it is not registered. */
cairn_status cairn_run_children(cairn_db *db, const cairn_run_id *parent,
                                const cairn_run_cursor *after, size_t limit,
                                cairn_run_list *listp);
cairn_status cairn_run_children_tx(cairn_txn *txn, const cairn_run_id *parent,
                                   const cairn_run_cursor *after, size_t limit,
                                   cairn_run_list *listp);

/* Runs created in [from_us, to_us). */
cairn_status cairn_run_by_time(cairn_db *db, int64_t from_us, int64_t to_us,
                               const cairn_run_cursor *after, size_t limit,
                               cairn_run_list *listp);
cairn_status cairn_run_by_time_tx(cairn_txn *txn, int64_t from_us, int64_t to_us,
                                  const cairn_run_cursor *after, size_t limit,
                                  cairn_run_list *listp);

/*
 * The number of runs in `status`, counted over the by-status index (a
 * key-only range scan: no counter key, so creating runs never contends on
 * a shared counter; the cost grows with the count).
 */
cairn_status cairn_run_count(cairn_db *db, cairn_run_status status, uint64_t *countp);
cairn_status cairn_run_count_tx(cairn_txn *txn, cairn_run_status status, uint64_t *countp);

/*
 * Whether the write policy above lets a transaction write into run `id`:
 * CAIRN_OK when `id` is not a registered run or is active or paused;
 * CAIRN_READ_ONLY (the message names the status) when it is completed,
 * failed, cancelled or archived.  The run's record is read in `txn`, so a
 * status change committed meanwhile makes the caller's commit conflict.
 */
cairn_status cairn_run_check_writable_tx(cairn_txn *txn, const cairn_run_id *id);

/* ---- consistency ---------------------------------------------------------------- */

typedef struct cairn_run_report {
    bool ok;
    uint64_t runs;               /* run records checked */
    uint64_t entries;            /* index entries checked */
    bool has_bad_id;
    cairn_run_id bad_id;         /* the run the first problem concerns */
    char why[256];               /* a sentence about the first problem ("" when ok) */
} cairn_run_report;

/*
 * Checks the RunIndex: every record decodes, its parent is registered, it
 * has exactly its index entries (name, status, created, parent, one per tag
 * and one per tag under its status), and every index entry points at a
 * record that matches it.  CAIRN_OK means the check ran; the outcome is in
 * `*reportp`.
 */
cairn_status cairn_run_check(cairn_db *db, cairn_run_report *reportp);
cairn_status cairn_run_check_tx(cairn_txn *txn, cairn_run_report *reportp);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_RUNINDEX_H */
