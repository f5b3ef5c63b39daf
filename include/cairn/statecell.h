/*
 * cairn/statecell.h - StateCell: named, versioned values of a run.
 *
 * A cell is {value, version, updated_at}.  Its name is 1 to
 * CAIRN_CELL_NAME_MAX bytes; its value up to the database's max_value_size
 * less CAIRN_CELL_HEADER_SIZE bytes.  The version is per cell: a new cell
 * is at version 1 and every write (set, cas, a transition that writes) adds
 * one, so versions strictly increase for as long as the cell exists, and
 * they survive close and recovery (they are stored with the value).  A
 * deleted cell is gone with its history: creating it again starts at
 * version 1.  updated_at is the time of the writing transaction on the
 * database clock (cairn_txn_now_us(), microseconds since the epoch).
 *
 * A run's cells are its own: nothing written through run A can be read,
 * listed or changed through run B, and the all-zero run id (reserved for
 * the run index) is refused.
 *
 * Every function comes twice, as in cairn/kv.h:
 *   - cairn_cell_NAME(db, ...) runs its own transaction (retried on
 *     conflict through cairn_db_run(), up to the database's max_retries
 *     attempts with backoff).  Results are owned by the caller.  On an
 *     error, cairn_db_errmsg() says what exactly was wrong.
 *   - cairn_cell_NAME_tx(txn, ...) works inside the caller's transaction,
 *     so cell writes commit or abort together with everything else in it.
 *     Slices it returns are borrowed until the transaction finishes.  On an
 *     error, cairn_txn_errmsg() says what was wrong; the transaction stays
 *     usable unless the status says otherwise.
 * Bad input (a NULL pointer, an empty or too long name, the all-zero run
 * id, a value past the limit) gives CAIRN_INVALID_ARGUMENT or
 * CAIRN_TOO_LARGE and changes nothing.  A stored cell that does not decode
 * gives CAIRN_CORRUPT; a cell at version UINT64_MAX cannot be written
 * again (CAIRN_LIMIT).
 */
#ifndef CAIRN_STATECELL_H
#define CAIRN_STATECELL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "kv.h" /* CAIRN_LIST_LIMIT_MAX */
#include "txn.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest cell name, in bytes (names are arbitrary bytes, at least one). */
#define CAIRN_CELL_NAME_MAX CAIRN_KEY_REST_MAX

/* Bytes a stored cell spends before its value (version and updated_at; see
 * docs/FORMAT.md).  A cell value may be up to max_value_size less this. */
#define CAIRN_CELL_HEADER_SIZE 16

/* A cell read inside a transaction: `value` is borrowed until it finishes. */
typedef struct cairn_cell_view {
    cairn_slice value;
    uint64_t version;        /* >= 1 */
    int64_t updated_at_us;   /* database clock at the last write */
} cairn_cell_view;

/* A cell read by cairn_cell_read(): `value` is owned by the caller, free it
 * with cairn_bytes_free(&cell.value). */
typedef struct cairn_cell {
    cairn_bytes value;
    uint64_t version;
    int64_t updated_at_us;
} cairn_cell;

/* ---- reads -------------------------------------------------------------- */

/*
 * Reads cell `name` of `run` into `*cellp`; the value is copied (free it
 * with cairn_bytes_free(&cellp->value)).  CAIRN_NOT_FOUND when there is no
 * such cell; `*cellp` is then zeroed.
 */
cairn_status cairn_cell_read(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                             cairn_cell *cellp);
/* As cairn_cell_read(); cellp->value is borrowed until `txn` finishes. */
cairn_status cairn_cell_read_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                cairn_cell_view *cellp);

/* Whether cell `name` exists in `run`: CAIRN_OK with `*existsp` set. */
cairn_status cairn_cell_exists(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                               bool *existsp);
cairn_status cairn_cell_exists_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                  bool *existsp);

/* ---- writes ------------------------------------------------------------- */

/*
 * Creates cell `name` in `run` holding `value`, at version 1.
 * CAIRN_EXISTS (nothing written) when the cell is already there.
 */
cairn_status cairn_cell_init(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                             cairn_slice value);
cairn_status cairn_cell_init_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                cairn_slice value);

/*
 * Writes `value` into cell `name` if its version is `expected_version`
 * (>= 1; 0 is CAIRN_INVALID_ARGUMENT), making it expected_version + 1.
 * `*versionp` (may be NULL) receives the cell's version after the call:
 *   CAIRN_OK                 the new version;
 *   CAIRN_VERSION_MISMATCH   the version the cell is at (nothing written;
 *                            the message names both versions);
 *   CAIRN_NOT_FOUND          0 (there is no such cell; nothing written).
 * Other failures leave `*versionp` unchanged.
 */
cairn_status cairn_cell_cas(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                            uint64_t expected_version, cairn_slice value, uint64_t *versionp);
cairn_status cairn_cell_cas_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                               uint64_t expected_version, cairn_slice value, uint64_t *versionp);

/*
 * Writes `value` into cell `name` whatever its version: an absent cell is
 * created at version 1, an existing one moves to its version + 1.
 * `*versionp` (may be NULL) receives the new version.
 */
cairn_status cairn_cell_set(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                            cairn_slice value, uint64_t *versionp);
cairn_status cairn_cell_set_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                               cairn_slice value, uint64_t *versionp);

/*
 * Deletes cell `name` from `run`.  `*existedp` (may be NULL) tells whether
 * it existed.  Deleting an absent cell is not an error.
 */
cairn_status cairn_cell_delete(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                               bool *existedp);
cairn_status cairn_cell_delete_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                  bool *existedp);

/* ---- transitions -------------------------------------------------------- */

/*
 * A transition: computes a cell's next value from its current one.
 *
 * `current` is borrowed for the duration of the call.  `*new_value` is
 * empty ({NULL, 0}) on entry.  The callback answers:
 *   CAIRN_OK     write `*new_value` as the cell's next value.  The callback
 *                allocates new_value->data with malloc() (NULL is fine for
 *                an empty value); the library takes ownership and frees it
 *                with free().
 *   CAIRN_DONE   leave the cell as it is (nothing is written).
 *   other        abort: nothing is written, and the transition returns this
 *                status.
 * Whatever it answers, the library frees a new_value->data the callback
 * set, so the callback never has to.
 *
 * The callback MUST BE PURE: cairn_cell_transition() runs it again
 * whenever its transaction conflicts, so it may run several times for one
 * call, each time on the current value of that attempt, and only the last
 * run's result counts.  It must not change anything outside `*new_value`
 * (no counters, no I/O), must answer the same for the same `current`, and
 * must not call into cairn on the same database.
 */
typedef cairn_status (*cairn_cell_fn)(void *ctx, cairn_slice current, cairn_bytes *new_value);

/*
 * Applies `fn` to cell `name` of `run` and writes its result, atomically:
 * the cell read and the write happen in one serializable transaction, and
 * on a conflict the whole read-apply-write runs again (bounded by the
 * database's max_retries attempts, with backoff; then CAIRN_CONFLICT).
 * Returns:
 *   CAIRN_OK        fn answered CAIRN_OK; `*versionp` (may be NULL) is the
 *                   new version (the old one + 1).
 *   CAIRN_DONE      fn answered CAIRN_DONE; nothing was written and
 *                   `*versionp` is the cell's unchanged version.
 *   CAIRN_NOT_FOUND there is no such cell (fn did not run).
 *   anything else   fn's own failure status, or the library's.
 * `*fn_statusp` (may be NULL) receives what fn answered on its last run,
 * or CAIRN_OK when it never ran; so a failure came from fn exactly when
 * `*fn_statusp` equals the returned status and is neither CAIRN_OK nor
 * CAIRN_DONE.  (A CAIRN_CONFLICT from fn is returned as it is, not
 * retried.)
 */
cairn_status cairn_cell_transition(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                                   cairn_cell_fn fn, void *ctx, uint64_t *versionp,
                                   cairn_status *fn_statusp);
/*
 * As cairn_cell_transition(), inside `txn`: fn runs exactly once (or not at
 * all, when the cell is absent or the arguments are bad).  A failure of fn
 * leaves `txn` active with nothing written by this call; the caller decides
 * whether to abort.  Conflicts surface at the caller's commit.
 */
cairn_status cairn_cell_transition_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                      cairn_cell_fn fn, void *ctx, uint64_t *versionp,
                                      cairn_status *fn_statusp);

/*
 * As cairn_cell_transition(), but an absent cell is created: fn runs with
 * `initial` as `current`, and when it answers CAIRN_OK its result is
 * written as the new cell at version 1 (`*versionp` = 1); `initial` itself
 * is never stored.  When it answers CAIRN_DONE nothing is written and the
 * cell stays absent (CAIRN_DONE, `*versionp` = 0).  An existing cell is
 * transitioned exactly as by cairn_cell_transition() (`initial` unused).
 */
cairn_status cairn_cell_transition_or_init(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                                           cairn_slice initial, cairn_cell_fn fn, void *ctx,
                                           uint64_t *versionp, cairn_status *fn_statusp);
cairn_status cairn_cell_transition_or_init_tx(cairn_txn *txn, const cairn_run_id *run,
                                              cairn_slice name, cairn_slice initial,
                                              cairn_cell_fn fn, void *ctx, uint64_t *versionp,
                                              cairn_status *fn_statusp);

/* ---- listing ------------------------------------------------------------ */

/*
 * A page of cell names, owned by the caller: free it with
 * cairn_cell_list_free() (all slices point into it).  When `more` is true,
 * pass `cursor` as `after` to get the next page.
 */
typedef struct cairn_cell_list {
    cairn_slice *names;
    size_t n;
    bool more;
    cairn_slice cursor;  /* the last name returned; empty when n == 0 */
    void *mem;           /* internal */
} cairn_cell_list;

/*
 * Lists the names of the cells of `run` that start with `prefix` (empty:
 * every cell), in ascending byte order, after `after` (empty: from the
 * start), at most `limit` (1..CAIRN_LIST_LIMIT_MAX) of them.  The page is
 * copied (the `_tx` form's too): free it with cairn_cell_list_free().
 */
cairn_status cairn_cell_list_names(cairn_db *db, const cairn_run_id *run, cairn_slice prefix,
                                   cairn_slice after, size_t limit, cairn_cell_list *listp);
cairn_status cairn_cell_list_names_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice prefix,
                                      cairn_slice after, size_t limit, cairn_cell_list *listp);

/* Frees a page of names and empties `*listp` (NULL-safe, idempotent). */
void cairn_cell_list_free(cairn_cell_list *listp);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_STATECELL_H */
