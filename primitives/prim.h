/*
 * prim.h - what every primitive facade shares: argument checks, key
 * building, error messages on the right handle, owned copies, and running
 * a `_tx` body as an implicit transaction.
 */
#ifndef CAIRN_PRIMITIVES_PRIM_H
#define CAIRN_PRIMITIVES_PRIM_H

#include <stdarg.h>

#include "cairn/cairn.h"
#include "engine/db_internal.h"

/* Sets the transaction's error message; returns `status`. */
cairn_status prim_txn_err(cairn_txn *txn, cairn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks `txn` is usable and `run` names a primitive's run (not NULL, not
 * the reserved all-zero id); `fn` names the caller in the message. */
cairn_status prim_check_run(cairn_txn *txn, const cairn_run_id *run, const char *fn);

/*
 * prim_check_run() for a write: also refuses (CAIRN_READ_ONLY) a run the
 * RunIndex holds as completed, failed, cancelled or archived.  The run's
 * record is read in `txn`, so a status change committed meanwhile makes
 * the commit conflict.  A database that never registered a run skips it.
 */
cairn_status prim_check_write(cairn_txn *txn, const cairn_run_id *run, const char *fn);

/* A run was registered (RunIndex): from now on writes check run status. */
void prim_runs_registered(cairn_db *db);

/* Builds [run][tag][rest] into *key: CAIRN_INVALID_ARGUMENT for a NULL
 * rest with a length, an empty rest when `nonempty`, or a rest past `max`
 * bytes (`what` names it in the message). */
cairn_status prim_key(cairn_txn *txn, cairn_key *key, const cairn_run_id *run, cairn_tag tag,
                      cairn_slice rest, size_t max, bool nonempty, const char *fn,
                      const char *what);

/* Checks a byte string argument: CAIRN_INVALID_ARGUMENT for NULL data with
 * a length or fewer than `min` bytes, CAIRN_TOO_LARGE past `max` (`what`
 * names it in the message). */
cairn_status prim_check_bytes(cairn_txn *txn, cairn_slice s, size_t min, size_t max, const char *fn,
                              const char *what);

/* Big-endian integers, as every primitive stores them. */
static inline void prim_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t prim_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void prim_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint32_t prim_get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Copies `s` into owned bytes (a 1-byte allocation for empty input, so
 * data is never NULL on success).  CAIRN_NO_MEMORY on failure. */
cairn_status prim_copy(cairn_slice s, cairn_bytes *out);

/* The body of an implicit call: runs inside a transaction, may run again. */
typedef cairn_status (*prim_body)(cairn_txn *txn, void *ctx);

/*
 * Runs `body` in a transaction of `db` (read-only when `read_only`) through
 * cairn_db_run(): retried on conflict, committed on CAIRN_OK.  A failing
 * body's message (the transaction's) becomes the database's.  CAIRN_DONE
 * from the body commits too and is returned (a "nothing to do" result).
 */
cairn_status prim_run(cairn_db *db, bool read_only, prim_body body, void *ctx);

/* Opens a scan for a list call: the keys of `run` and `tag` whose rest
 * starts with `prefix` (empty: all), after the cursor `after` (empty: from
 * the start), at most limit + 1 of them (the extra one says "more").  Rests
 * are at most `max` bytes. */
cairn_status prim_list_scan(cairn_txn *txn, const cairn_run_id *run, cairn_tag tag, cairn_slice prefix,
                            cairn_slice after, size_t max, size_t limit, const char *fn,
                            cairn_iter **itp);

/* A limit for a list call: 1..CAIRN_LIST_LIMIT_MAX. */
cairn_status prim_check_limit(cairn_txn *txn, size_t limit, const char *fn);

/*
 * Byte strings copied into one growing block, for results the caller owns:
 * the block may move while pieces are added, so pieces are kept as offsets
 * and turned into slices (prim_piece) once it is complete.  The block then
 * goes to the result; `at` is freed.
 */
typedef struct prim_pieces {
    uint8_t *mem;          /* the bytes */
    size_t used, cap;
    size_t (*at)[2];       /* offset and length of each piece */
    size_t n, ncap;
} prim_pieces;

/* Appends a copy of `len` bytes as the next piece; -1 (nothing added) when
 * out of memory. */
int prim_pieces_add(prim_pieces *p, const void *data, size_t len);

/* Piece `i` (data NULL when it is empty). */
static inline cairn_slice prim_piece(const prim_pieces *p, size_t i)
{
    return cairn_slice_of(p->at[i][1] ? p->mem + p->at[i][0] : NULL, p->at[i][1]);
}

/* Frees the block and the offsets. */
void prim_pieces_free(prim_pieces *p);

/* Deletes, in `txn`, the KV keys of `run` whose value the transaction
 * cannot see only because it expired (a scan skips them; removing a run
 * must not leave them stored).  In kv.c. */
cairn_status kv_delete_expired_tx(cairn_txn *txn, const cairn_run_id *run);

#endif
