/*
 * index.h - the ordered multi-version in-memory index.
 *
 * Keys live in nodes; each node carries a newest-first chain of versions.
 * Two structures reach the same nodes:
 *   - a B+-tree, for ordered walks, seeks and finding an insert's place;
 *     leaves hold the nodes in key order with 2-byte key heads taken after
 *     the leaf's common prefix, so most comparisons never touch a node;
 *     readers walk it a leaf at a time (index_range, index_cursor);
 *   - an open-addressing hash table, for point reads in two cache lines.
 *
 * Concurrency: exactly one writer at a time (the engine's commit lock),
 * any number of lock-free readers.  Writers publish with release stores,
 * readers load with acquire.  Tree nodes carry a sequence number that is
 * odd while the writer changes them; a reader validates it after reading
 * and starts over when it moved (optimistic lock coupling).  Memory a
 * reader might still be looking at (unlinked nodes, replaced hash tables,
 * tree nodes) is handed to the caller through a retire callback instead of
 * being freed; see snapshots.h.
 */
#ifndef CAIRN_ENGINE_INDEX_H
#define CAIRN_ENGINE_INDEX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/types.h"

typedef cairn_slice cairn_slice_t;

#define VERSION_TOMBSTONE 1u
#define VERSION_EMBEDDED 2u   /* lives inside its node's allocation */
#define VERSION_EXPIRES 4u    /* data[] starts with an 8-byte expiry time */

/* Values up to this size are stored inside a new key's node allocation. */
#define VERSION_EMBED_MAX 256u

/* One committed (or committing) value of a key.  A version that expires
 * keeps its expiry time in the first 8 bytes of data[] (VERSION_EXPIRES),
 * so the common case pays nothing for it. */
typedef struct version {
    uint64_t ver;                      /* commit version */
    _Atomic(struct version *) older;   /* next older version, or NULL */
    uint32_t len;                      /* bytes in data[] (expiry included) */
    uint32_t flags;                    /* VERSION_* */
    _Alignas(8) uint8_t data[];
} version;

/* The value bytes of `v`. */
static inline cairn_slice_t version_value(const version *v)
{
    size_t skip = (v->flags & VERSION_EXPIRES) ? 8u : 0u;
    return (cairn_slice_t){v->data + skip, v->len - skip};
}

/* The expiry time of `v`, 0 for never. */
static inline int64_t version_expiry(const version *v)
{
    int64_t e = 0;
    if (v->flags & VERSION_EXPIRES)
        __builtin_memcpy(&e, v->data, sizeof e);
    return e;
}

#define NODE_SEPARATOR 1u  /* a tree leaf's low fence key (writer only) */
#define NODE_UNLINKED 2u   /* out of the list, the tree and the table */
#define NODE_EMBEDS 4u     /* a version follows the key */
#define NODE_MALLOCED 8u   /* too big for the node heap: from malloc() */

/* A key.  Its hash is not stored (recomputed on the rare table rebuild or
 * unlink): 8 bytes per key matter at millions of keys. */
typedef struct node {
    _Atomic(version *) head;           /* newest version */
    uint16_t keylen;
    uint8_t queued;                    /* on the reclaim queue (writer only) */
    uint8_t flags;                     /* NODE_* (writer only) */
    uint8_t key[];                     /* keylen bytes (at offset 12), then
                                          maybe a version, 8-aligned */
} node;

static inline const uint8_t *node_key(const node *n)
{
    return n->key;
}

/* Allocates a version holding `len` value bytes (uninitialised). */
version *version_new(uint32_t len);
/* Frees `v` unless it is embedded in a node (then the node owns it). */
void version_free(version *v);

/* Frees `v` and every older version. */
void version_free_chain(version *v);

typedef struct htab htab;
typedef struct btnode btnode;
typedef struct nodeheap nodeheap;

#define INDEX_MAX_LEVELS 16

/* Called with memory that must outlive current readers. */
typedef void (*index_retire_fn)(void *ctx, void *ptr, void (*free_fn)(void *));

typedef struct mvindex {
    _Atomic(btnode *) root;
    _Atomic(htab *) table;
    uint64_t live;                     /* nodes linked in (writer only) */
    uint64_t tombs;                    /* deleted hash slots (writer only) */
    /* writer only: */
    uint32_t height;                   /* tree levels; 1 = the root is a leaf */
    uint64_t per_level[INDEX_MAX_LEVELS]; /* tree nodes per level, leaves at 0 */
    btnode *spare_leaves, *spare_inners;  /* allocated by index_reserve() */
    uint64_t n_spare_leaves, n_spare_inners;
    nodeheap *heap;                    /* where nodes live (writer only) */
    index_retire_fn retire;
    void *retire_ctx;
} mvindex;

/* Hash of a key, as the index uses it. */
uint64_t index_hash(const uint8_t *key, size_t len);

int index_init(mvindex *ix, index_retire_fn retire, void *retire_ctx);
/* Frees every node, version and table (no readers may remain). */
void index_destroy(mvindex *ix);

/* Starts loading the hash slot of `hash`, for a lookup soon after. */
void index_prefetch(const mvindex *ix, uint64_t hash);

/* Point lookup (lock-free).  `hash` from index_hash(). */
node *index_get(const mvindex *ix, const uint8_t *key, size_t len, uint64_t hash);

/* Point lookups of n <= INDEX_BATCH keys at once (lock-free): out[i] as
 * index_get() would return it.  The keys' slots, then their nodes, are
 * requested together, so the cache misses overlap. */
#define INDEX_BATCH 32
void index_get_batch(const mvindex *ix, const uint8_t *const *keys, const size_t *lens,
                     const uint64_t *hashes, size_t n, node **out);

/* Writer: brings what inserting or finding n <= INDEX_BATCH keys will
 * touch (hash slots, the tree path to each key's leaf) toward the cache,
 * one tree level for all keys at a time, so the misses overlap.  Changes
 * nothing; purely a speed-up before a run of index calls. */
void index_warm(const mvindex *ix, const uint8_t *const *keys, const size_t *lens,
                const uint64_t *hashes, size_t n);

/* First node with key >= `key` (lock-free); NULL at the end. */
node *index_seek(const mvindex *ix, const uint8_t *key, size_t len);

/* Ordered walk (lock-free): stores in out[] up to `cap` nodes with keys
 * >= `key` (> `key` when `after`), in key order, all from one leaf as it
 * was at one moment; 0 at the end.  Nodes stay readable while the caller's
 * snapshot is registered, even if they are unlinked meanwhile. */
size_t index_range(const mvindex *ix, const uint8_t *key, size_t len, bool after, node **out,
                   size_t cap);

/* A reader's position in key order, a leaf's worth of nodes at a time. */
#define INDEX_CURSOR_BATCH 32
typedef struct index_cursor {
    node *buf[INDEX_CURSOR_BATCH];
    uint32_t n, pos;
} index_cursor;

/* Positions `c` at the first key >= `key` (NULL, 0: the first key). */
void index_cursor_seek(index_cursor *c, const mvindex *ix, const uint8_t *key, size_t len);

/* The next node in key order, or NULL at the end. */
node *index_cursor_next(index_cursor *c, const mvindex *ix);

/* Writer: allocates an unlinked node for `key` (NULL when memory runs out
 * or the key is too long).  When `first` is not NULL and small enough, a
 * copy of it is embedded in the node's allocation and returned through
 * `*embeddedp` (else `*embeddedp` is NULL).  Link the node with
 * index_link() or give it back with index_free_node(). */
node *index_node_new(mvindex *ix, const uint8_t *key, size_t len,
                     const version *first, version **embeddedp);

/* Writer: makes room in the hash table for `extra` more nodes, so that the
 * next `extra` index_link() calls cannot fail.  -1 when memory runs out. */
int index_reserve(mvindex *ix, uint64_t extra);

/* Writer: links a node from index_node_new() (its key must be absent)
 * (hash from index_hash()) with `v` as its head.  Cannot fail after index_reserve(). */
void index_link(mvindex *ix, node *n, uint64_t hash, version *v);

/* Writer: unlinks `n` from the tree and the hash table.  Returns
 * true when the caller must retire the node (with index_free_node); false
 * when the tree still uses its key as a separator and retires it itself
 * once it no longer does. */
bool index_unlink(mvindex *ix, node *n);

/* Checks every structural invariant of the list, tree and hash table
 * (writer side, or with writers stopped).  false with a message in `err`
 * on the first violation. */
bool index_check(const mvindex *ix, char *err, size_t cap);

/* Writer (or with no writer left): frees a node and its versions; also the
 * retire callback's free function for nodes. */
void index_free_node(void *n);

/* Bytewise key comparison, shorter first on a common prefix. */
static inline int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? __builtin_memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

/* The version of `n` a snapshot at `snap` sees (any kind), or NULL. */
static inline const version *node_version_at(const node *n, uint64_t snap)
{
    const version *v = atomic_load_explicit(&((node *)n)->head, memory_order_acquire);
    while (v && v->ver > snap)
        v = atomic_load_explicit(&((version *)v)->older, memory_order_acquire);
    return v;
}

/* Whether `v` holds a value at time `now_us` (not a tombstone, not expired). */
static inline bool version_live(const version *v, int64_t now_us)
{
    if (v == NULL || (v->flags & VERSION_TOMBSTONE))
        return false;
    int64_t e = version_expiry(v);
    return e == 0 || e > now_us;
}

#endif
