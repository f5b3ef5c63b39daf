/*
 * gc.c - reclaiming versions and deleted keys no snapshot can see.
 *
 * Versions: a chain is newest first.  With `min` the oldest live snapshot,
 * the newest version <= min is the oldest any reader can ever stop at, so
 * everything older is unreachable and is freed at once (readers never walk
 * past the version they stop at).  A node whose head is a tombstone <= min
 * holds nothing any snapshot can see: it is unlinked and handed to the
 * retire list, since a reader may still be standing on it.
 *
 * Pruning happens when a key is written; nodes left with garbage that only a
 * still-open snapshot protects wait on a FIFO queue that every commit (and
 * the end of a read-only or aborted transaction) works through a little.
 */
#include <stdlib.h>

#include "engine/db_internal.h"

/* Versions a write looks past the head for garbage.  While an old
 * snapshot pins `min`, every version above it must stay, and a full walk
 * on each write of a hot key would cost the chain's length every time; the
 * queue takes such a node instead, and walks it once `min` has moved. */
#define PRUNE_WALK 8u

/* Frees what no snapshot can reach below the newest version <= min_snap,
 * looking at most `walk` versions deep (0: the whole chain). */
static void prune(cairn_db *db, node *n, uint64_t min_snap, unsigned walk)
{
    version *v = atomic_load_explicit(&n->head, memory_order_relaxed);
    for (unsigned i = 0; v && v->ver > min_snap; i++) {
        if (walk && i == walk)
            return;
        v = atomic_load_explicit(&v->older, memory_order_relaxed);
    }
    if (v == NULL)
        return;
    version *cut = atomic_load_explicit(&v->older, memory_order_relaxed);
    if (cut == NULL)
        return;
    atomic_store_explicit(&v->older, NULL, memory_order_release);
    uint64_t freed = 0;
    while (cut) {
        version *older = atomic_load_explicit(&cut->older, memory_order_relaxed);
        version_free(cut);
        freed++;
        cut = older;
    }
    stat_add_locked(&db->st_versions, -(int64_t)freed);
    stat_add_locked(&db->st_versions_reclaimed, (int64_t)freed);
}

/* Whether a node still holds something a future prune or unlink can free. */
static bool has_garbage(const node *n)
{
    version *h = atomic_load_explicit(&((node *)n)->head, memory_order_relaxed);
    return (h->flags & VERSION_TOMBSTONE) || atomic_load_explicit(&h->older, memory_order_relaxed);
}

void gc_enqueue(cairn_db *db, node *n)
{
    gcqueue *q = &db->gcq;
    if (n->queued)
        return;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        node **items = malloc(cap * sizeof *items);
        if (items == NULL)
            return; /* reclaimed on the key's next write instead */
        for (size_t i = 0; i < q->n; i++)
            items[i] = q->items[(q->head + i) % q->cap];
        free(q->items);
        q->items = items;
        q->head = 0;
        q->cap = cap;
    }
    q->items[(q->head + q->n) % q->cap] = n;
    q->n++;
    n->queued = 1;
    atomic_store_explicit(&db->gc_pending, q->n + db->retired.n, memory_order_relaxed);
}

static node *dequeue(gcqueue *q)
{
    node *n = q->items[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    n->queued = 0;
    return n;
}

void gc_install(cairn_db *db, node *n, version *v, uint64_t min_snap)
{
    version *old = atomic_load_explicit(&n->head, memory_order_relaxed);
    atomic_store_explicit(&v->older, old, memory_order_relaxed);
    atomic_store_explicit(&n->head, v, memory_order_release);
    prune(db, n, min_snap, PRUNE_WALK);
    if (has_garbage(n))
        gc_enqueue(db, n);
}

void gc_retire(void *ctx, void *ptr, void (*free_fn)(void *))
{
    cairn_db *db = ctx;
    if (retire_reserve(&db->retired, 1) != 0)
        return; /* out of memory: leaking is the only safe choice */
    retire_add(&db->retired, ptr, free_fn, db->assigned);
}

void gc_step(cairn_db *db, size_t budget)
{
    gcqueue *q = &db->gcq;
    uint64_t min_snap = q->n ? snapreg_min(&db->snaps, atomic_load_explicit(&db->visible,
                                                                             memory_order_acquire))
                             : 0;
    /* A pass over the queue starts each time `min` moves: the nodes queued
     * then are each walked once; until `min` moves again, walking them
     * could free nothing more. */
    if (q->n && min_snap != db->gc_pass_min) {
        db->gc_pass_min = min_snap;
        db->gc_pass_left = q->n;
    }
    if (q->n && db->gc_pass_left) {
        size_t batch = db->gc_pass_left < budget ? db->gc_pass_left : budget;
        batch = batch < q->n ? batch : q->n;
        db->gc_pass_left -= batch;
        bool unlinked = false;
        for (size_t i = 0; i < batch; i++) {
            node *n = dequeue(q);
            prune(db, n, min_snap, 0);
            version *h = atomic_load_explicit(&n->head, memory_order_relaxed);
            if ((h->flags & VERSION_TOMBSTONE) && h->ver <= min_snap &&
                atomic_load_explicit(&h->older, memory_order_relaxed) == NULL) {
                /* the unlink may retire tree nodes itself: reserve after it */
                if (index_unlink(&db->ix, n))
                    gc_retire(db, n, index_free_node);
                unlinked = true;
                stat_add_locked(&db->st_keys, -(int64_t)1);
                stat_add_locked(&db->st_versions, -(int64_t)1);
                stat_add_locked(&db->st_keys_reclaimed, (int64_t)1);
                stat_add_locked(&db->st_versions_reclaimed, (int64_t)1);
            } else if (has_garbage(n)) {
                gc_enqueue(db, n);
            }
        }
        if (unlinked)
            atomic_thread_fence(memory_order_seq_cst);
    }
    retire_collect(&db->retired, &db->snaps);
    atomic_store_explicit(&db->gc_pending, q->n + db->retired.n, memory_order_relaxed);
}

void gc_destroy(cairn_db *db)
{
    free(db->gcq.items);
    db->gcq.items = NULL;
    db->gcq.n = db->gcq.cap = db->gcq.head = 0;
    db->gc_pass_left = 0;
    retire_destroy(&db->retired);
}
