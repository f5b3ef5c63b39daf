/*
 * snapshots.h - which snapshots are live, and memory freed only after them.
 *
 * Every transaction handle owns one slot holding the commit version its
 * snapshot sees (SNAP_FREE when it has none).  The writer uses the slots
 * for two decisions:
 *   - version pruning: no live snapshot is older than snapreg_min(), so
 *     versions hidden behind the newest version <= that bound are garbage;
 *   - deferred frees: memory a reader may still be walking through (an
 *     unlinked node, a replaced hash table) is stamped with the newest
 *     assigned commit version at unlink time and freed once every
 *     registered snapshot is newer than the stamp.
 *
 * Registration protocol (snapreg_enter): publish the candidate snapshot in
 * the slot, then re-read the visible version and retry until it did not
 * move.  The writer unlinks first and scans slots after (with a full fence
 * in between), so a reader it does not see can no longer reach what was
 * unlinked.
 */
#ifndef CAIRN_ENGINE_SNAPSHOTS_H
#define CAIRN_ENGINE_SNAPSHOTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_FREE UINT64_MAX

typedef struct snapreg {
    _Atomic uint64_t *slots;
    uint32_t cap;
    _Atomic uint32_t used;   /* slots handed out so far (never shrinks) */
} snapreg;

int snapreg_init(snapreg *r, uint32_t cap);
void snapreg_destroy(snapreg *r);

/* Registers a snapshot in `slot` and returns it: the visible version. */
uint64_t snapreg_enter(snapreg *r, uint32_t slot, const _Atomic uint64_t *visible);

/* Releases the snapshot held in `slot`. */
void snapreg_leave(snapreg *r, uint32_t slot);

/* The oldest registered snapshot, or `visible` when older or none. */
uint64_t snapreg_min(const snapreg *r, uint64_t visible);

/* The oldest registered snapshot, or SNAP_FREE when none is registered. */
uint64_t snapreg_oldest(const snapreg *r);

typedef struct retired {
    void *ptr;
    void (*free_fn)(void *);
    uint64_t stamp;
} retired;

/* Writer-only list of memory waiting for readers to move on. */
typedef struct retirelist {
    retired *items;
    size_t n, cap;
} retirelist;

/* Makes room for `extra` more retire_add() calls.  -1 when out of memory. */
int retire_reserve(retirelist *l, size_t extra);

/* Queues `ptr` to be freed with `free_fn` once every snapshot registered
 * now has ended.  Room must have been reserved. */
void retire_add(retirelist *l, void *ptr, void (*free_fn)(void *), uint64_t stamp);

/* Frees every item whose stamp is older than every registered snapshot. */
void retire_collect(retirelist *l, const snapreg *r);

/* Frees everything (no readers may remain). */
void retire_destroy(retirelist *l);

#endif
