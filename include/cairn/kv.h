/*
 * cairn/kv.h - KVStore: a run's key/value state.
 *
 * Keys are byte strings of 1 to CAIRN_KV_KEY_MAX bytes, values up to the
 * database's max_value_size; both are copied in.  A run's keys are its own:
 * nothing written through run A can be read, listed or changed through run
 * B, and the all-zero run id (reserved for the run index) is refused.
 *
 * Every function comes twice:
 *   - cairn_kv_NAME(db, ...) runs its own transaction (retried on conflict
 *     through cairn_db_run()).  Results are owned by the caller.  On an
 *     error, cairn_db_errmsg() says what exactly was wrong.
 *   - cairn_kv_NAME_tx(txn, ...) works inside the caller's transaction, so
 *     KV writes commit or abort together with everything else in it.
 *     Slices it returns are borrowed until the transaction finishes.  On an
 *     error, cairn_txn_errmsg() says what was wrong; the transaction stays
 *     usable unless the status says otherwise.
 *
 * Expiry: a key written with a TTL reads as absent everywhere (get, exists,
 * get_many, lists) once the database clock passes its expiry time.  Expired
 * entries are dropped from checkpoints and removed for good by
 * cairn_kv_sweep_expired().
 */
#ifndef CAIRN_KV_H
#define CAIRN_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "txn.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest KV key, in bytes. */
#define CAIRN_KV_KEY_MAX CAIRN_KEY_REST_MAX

/* Most items one list call returns. */
#define CAIRN_LIST_LIMIT_MAX 100000u

/* ---- reads -------------------------------------------------------------- */

/*
 * The value of `key` in `run`, copied into `*valuep` (free it with
 * cairn_bytes_free()).  CAIRN_NOT_FOUND when absent, deleted or expired
 * (`*valuep` is then empty).
 */
cairn_status cairn_kv_get(cairn_db *db, const cairn_run_id *run, cairn_slice key,
                          cairn_bytes *valuep);
/* As cairn_kv_get(); `*valuep` is borrowed until `txn` finishes. */
cairn_status cairn_kv_get_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                             cairn_slice *valuep);

/* Whether `key` holds a live value in `run`: CAIRN_OK with `*existsp` set. */
cairn_status cairn_kv_exists(cairn_db *db, const cairn_run_id *run, cairn_slice key,
                             bool *existsp);
cairn_status cairn_kv_exists_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                                bool *existsp);

/*
 * Reads `n` keys of `run` at one snapshot.  statuses[i] is CAIRN_OK (with
 * values[i] set) or CAIRN_NOT_FOUND (values[i] empty).  The implicit form
 * copies: free each values[i] with cairn_bytes_free() (empty ones too is
 * fine).  Any other return status concerns the whole call (a bad key, NULL
 * arrays) and leaves the arrays unset.
 */
cairn_status cairn_kv_get_many(cairn_db *db, const cairn_run_id *run, const cairn_slice *keys,
                               size_t n, cairn_bytes *values, cairn_status *statuses);
cairn_status cairn_kv_get_many_tx(cairn_txn *txn, const cairn_run_id *run, const cairn_slice *keys,
                                  size_t n, cairn_slice *values, cairn_status *statuses);

/* ---- writes ------------------------------------------------------------- */

/* Writes `value` under `key` in `run` (replacing any value and TTL). */
cairn_status cairn_kv_put(cairn_db *db, const cairn_run_id *run, cairn_slice key, cairn_slice value);
cairn_status cairn_kv_put_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                             cairn_slice value);

/*
 * As cairn_kv_put(); the key expires `ttl_us` microseconds (> 0) after the
 * transaction's start time on the database clock.
 */
cairn_status cairn_kv_put_ttl(cairn_db *db, const cairn_run_id *run, cairn_slice key,
                              cairn_slice value, int64_t ttl_us);
cairn_status cairn_kv_put_ttl_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                                 cairn_slice value, int64_t ttl_us);

/*
 * Deletes `key` from `run`.  `*existedp` (may be NULL) tells whether it held
 * a live value.  Deleting an absent key is not an error.
 */
cairn_status cairn_kv_delete(cairn_db *db, const cairn_run_id *run, cairn_slice key,
                             bool *existedp);
cairn_status cairn_kv_delete_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                                bool *existedp);

/* ---- listing ------------------------------------------------------------ */

/* One listed key (and value, when listing pairs). */
typedef struct cairn_kv_item {
    cairn_slice key;
    cairn_slice value;   /* empty for cairn_kv_list_keys() */
} cairn_kv_item;

/*
 * A page of a listing, owned by the caller: free it with cairn_kv_list_free()
 * (all slices point into it).  When `more` is true, pass `cursor` as `after`
 * to get the next page; the listing is then ordered and complete across
 * pages as of each page's snapshot.
 */
typedef struct cairn_kv_list {
    cairn_kv_item *items;
    size_t n;
    bool more;
    cairn_slice cursor;  /* the last key returned; empty when n == 0 */
    void *mem;           /* internal */
} cairn_kv_list;

/*
 * Lists the live keys of `run` that start with `prefix` (empty: every key),
 * in ascending byte order, after `after` (empty: from the start), at most
 * `limit` (1..CAIRN_LIST_LIMIT_MAX) of them.
 */
cairn_status cairn_kv_list_keys(cairn_db *db, const cairn_run_id *run, cairn_slice prefix,
                                cairn_slice after, size_t limit, cairn_kv_list *listp);
cairn_status cairn_kv_list_keys_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice prefix,
                                   cairn_slice after, size_t limit, cairn_kv_list *listp);

/* As cairn_kv_list_keys(), with each key's value. */
cairn_status cairn_kv_list_pairs(cairn_db *db, const cairn_run_id *run, cairn_slice prefix,
                                 cairn_slice after, size_t limit, cairn_kv_list *listp);
cairn_status cairn_kv_list_pairs_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice prefix,
                                    cairn_slice after, size_t limit, cairn_kv_list *listp);

/* Frees a listing and empties `*listp` (NULL-safe, idempotent). */
void cairn_kv_list_free(cairn_kv_list *listp);

/* ---- expiry ------------------------------------------------------------- */

/*
 * Deletes every KV key of `run` (every run when `run` is NULL) whose TTL
 * has passed on the database clock, in transactions of at most 1000 keys.
 * `*removedp` (may be NULL) receives how many were removed.  A key written
 * again meanwhile is left alone.
 */
cairn_status cairn_kv_sweep_expired(cairn_db *db, const cairn_run_id *run, uint64_t *removedp);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_KV_H */
