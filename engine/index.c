/* index.c - key-ordered list, B+-tree and hash table over multi-version
 * nodes (see index.h). */
#include "engine/index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL /* the key hash sits on every read and write */
#include <xxhash.h>

#define SLOT_EMPTY 0u
#define SLOT_TOMB 1u
#define HTAB_MIN 1024u
#define PTR_BITS 48

struct htab {
    uint64_t mask;
    _Atomic uint64_t slots[];
};

#define LOAD(p) atomic_load_explicit((p), memory_order_acquire)
#define STORE(p, v) atomic_store_explicit((p), (v), memory_order_release)

version *version_new(uint32_t len)
{
    version *v = malloc(sizeof(version) + len);
    if (v) {
        atomic_init(&v->older, NULL);
        v->ver = 0;
        v->len = len;
        v->flags = 0;
    }
    return v;
}

void version_free(version *v)
{
    if (v && !(v->flags & VERSION_EMBEDDED))
        free(v);
}

void version_free_chain(version *v)
{
    while (v) {
        version *older = atomic_load_explicit(&v->older, memory_order_relaxed);
        version_free(v);
        v = older;
    }
}

uint64_t index_hash(const uint8_t *key, size_t len)
{
    return XXH3_64bits(key, len);
}

/* ---- hash table ------------------------------------------------------- */

static htab *htab_new(uint64_t cap)
{
    htab *t = calloc(1, sizeof(htab) + cap * sizeof(uint64_t));
    if (t)
        t->mask = cap - 1;
    return t;
}

static uint64_t node_hash(const node *n)
{
    return index_hash(node_key(n), n->keylen);
}

static uint64_t slot_of(const node *n, uint64_t hash)
{
    return (uint64_t)(uintptr_t)n | ((hash >> PTR_BITS) << PTR_BITS);
}

static node *slot_node(uint64_t s)
{
    return (node *)(uintptr_t)(s & ((UINT64_C(1) << PTR_BITS) - 1));
}

/* Places `n` in the first free slot of its probe sequence (writer only). */
static void htab_place(htab *t, const node *n, uint64_t hash)
{
    uint64_t i = hash & t->mask;
    for (;;) {
        uint64_t s = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
        if (s == SLOT_EMPTY || s == SLOT_TOMB) {
            STORE(&t->slots[i], slot_of(n, hash));
            return;
        }
        i = (i + 1) & t->mask;
    }
}

static int index_reserve_tree(mvindex *ix, uint64_t extra);

/* Grows or rebuilds the table when the new entries would pass 3/4 load, and
 * sets aside the tree nodes the links can need. */
int index_reserve(mvindex *ix, uint64_t extra)
{
    if (index_reserve_tree(ix, extra) != 0)
        return -1;
    htab *t = atomic_load_explicit(&ix->table, memory_order_relaxed);
    uint64_t cap = t->mask + 1;
    if ((ix->live + ix->tombs + extra) * 4 <= cap * 3)
        return 0;
    uint64_t ncap = HTAB_MIN;
    while (ncap < (ix->live + extra) * 2)
        ncap <<= 1;
    htab *nt = htab_new(ncap);
    if (nt == NULL)
        return -1;
    /* Rehashing reads every key: ask for the keys well ahead, so the
     * misses overlap instead of arriving one at a time. */
    enum { AHEAD = 16 };
    for (uint64_t i = 0; i <= t->mask; i++) {
        if (i + AHEAD <= t->mask) {
            uint64_t a = atomic_load_explicit(&t->slots[i + AHEAD], memory_order_relaxed);
            if (a != SLOT_EMPTY && a != SLOT_TOMB)
                __builtin_prefetch(slot_node(a)->key);
        }
        uint64_t s = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
        if (s != SLOT_EMPTY && s != SLOT_TOMB)
            htab_place(nt, slot_node(s), node_hash(slot_node(s)));
    }
    STORE(&ix->table, nt);
    ix->tombs = 0;
    ix->retire(ix->retire_ctx, t, free);
    return 0;
}

void index_prefetch(const mvindex *ix, uint64_t hash)
{
    const htab *t = LOAD(&((mvindex *)ix)->table);
    __builtin_prefetch(&t->slots[hash & t->mask]);
}

node *index_get(const mvindex *ix, const uint8_t *key, size_t len, uint64_t hash)
{
    const htab *t = LOAD(&((mvindex *)ix)->table);
    uint64_t tag = hash >> PTR_BITS;
    for (uint64_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = LOAD(&((htab *)t)->slots[i]);
        if (s == SLOT_EMPTY)
            return NULL;
        if (s != SLOT_TOMB && (s >> PTR_BITS) == tag) {
            node *n = slot_node(s);
            if (n->keylen == len && memcmp(node_key(n), key, len) == 0)
                return n;
        }
    }
}


void index_get_batch(const mvindex *ix, const uint8_t *const *keys, const size_t *lens,
                     const uint64_t *hashes, size_t n, node **out)
{
    const htab *t = LOAD(&((mvindex *)ix)->table);
    for (size_t j = 0; j < n; j++)
        __builtin_prefetch(&t->slots[hashes[j] & t->mask]);
    /* the first slot whose tag matches is almost always the key's node */
    for (size_t j = 0; j < n; j++) {
        uint64_t tag = hashes[j] >> PTR_BITS;
        for (uint64_t i = hashes[j] & t->mask;; i = (i + 1) & t->mask) {
            uint64_t s = LOAD(&((htab *)t)->slots[i]);
            if (s == SLOT_EMPTY)
                break;
            if (s != SLOT_TOMB && (s >> PTR_BITS) == tag) {
                const uint8_t *p = (const uint8_t *)slot_node(s);
                __builtin_prefetch(p);
                __builtin_prefetch(p + 64);
                break;
            }
        }
    }
    for (size_t j = 0; j < n; j++)
        out[j] = index_get(ix, keys[j], lens[j], hashes[j]);
}

/* ---- nodes and the node heap ------------------------------------------
 *
 * Nodes come from 2 MiB slabs, carved at 8-byte granularity with no
 * per-allocation header, and freed nodes wait on a free list per size.
 * malloc() would add 8 to 23 bytes to every key; at millions of keys that
 * is the difference between fitting a memory budget and not.  A slab
 * starts with a pointer to its heap, so a node finds its heap from its own
 * address.  Only the writer allocates and frees nodes (retired nodes are
 * freed under the commit lock too). */

#define SLAB_BYTES (UINT64_C(2) << 20)
#define HEAP_CLASSES 256u /* free lists for sizes 8 .. 2048 bytes */

typedef struct slab {
    nodeheap *heap;
    struct slab *next;
} slab;

struct nodeheap {
    slab *slabs;
    uint8_t *bump, *end;               /* free space in the newest slab */
    void *free[HEAP_CLASSES + 1];      /* by size / 8 */
};

#define SLAB_HEADER ((sizeof(slab) + 63u) & ~(size_t)63u)

static void *heap_alloc(nodeheap *h, size_t size)
{
    size_t c = (size + 7u) / 8u;
    if (h->free[c]) {
        void *p = h->free[c];
        h->free[c] = *(void **)p;
        return p;
    }
    size = c * 8u;
    if ((size_t)(h->end - h->bump) < size) {
        slab *s = aligned_alloc(SLAB_BYTES, SLAB_BYTES);
        if (s == NULL)
            return NULL;
        s->heap = h;
        s->next = h->slabs;
        h->slabs = s;
        h->bump = (uint8_t *)s + SLAB_HEADER;
        h->end = (uint8_t *)s + SLAB_BYTES;
    }
    void *p = h->bump;
    h->bump += size;
    return p;
}

static void heap_free(void *p, size_t size)
{
    nodeheap *h = ((slab *)((uintptr_t)p & ~(uintptr_t)(SLAB_BYTES - 1)))->heap;
    size_t c = (size + 7u) / 8u;
    *(void **)p = h->free[c];
    h->free[c] = p;
}

static void heap_destroy(nodeheap *h)
{
    if (h == NULL)
        return;
    for (slab *s = h->slabs, *next; s; s = next) {
        next = s->next;
        free(s);
    }
    free(h);
}

/* Bytes of a node with a `len`-byte key, rounded up so an embedded version
 * after it is aligned. */
static size_t node_size(size_t len)
{
    return (offsetof(node, key) + len + 7u) & ~(size_t)7u;
}

/* All the bytes of `n`: key, and the embedded version if any. */
static size_t node_bytes(const node *n)
{
    size_t sz = node_size(n->keylen);
    if (n->flags & NODE_EMBEDS)
        sz += sizeof(version) + ((const version *)((const uint8_t *)n + sz))->len;
    return sz;
}

static node *node_alloc(nodeheap *h, const uint8_t *key, size_t len, size_t extra)
{
    size_t size = node_size(len) + extra;
    bool big = size > HEAP_CLASSES * 8u;
    node *n = big ? malloc(size) : heap_alloc(h, size);
    if (n == NULL)
        return NULL;
    atomic_init(&n->head, NULL);
    n->keylen = (uint16_t)len;
    n->queued = 0;
    n->flags = big ? NODE_MALLOCED : 0;
    if (len)
        memcpy(n->key, key, len);
    return n;
}

void index_free_node(void *p)
{
    node *n = p;
    version_free_chain(atomic_load_explicit(&n->head, memory_order_relaxed));
    if (n->flags & NODE_MALLOCED)
        free(n);
    else
        heap_free(n, node_bytes(n));
}

node *index_node_new(mvindex *ix, const uint8_t *key, size_t len,
                     const version *first, version **embeddedp)
{
    *embeddedp = NULL;
    if (len > UINT16_MAX)
        return NULL;
    bool embed = first && first->len <= VERSION_EMBED_MAX;
    size_t extra = embed ? sizeof(version) + first->len : 0;
    node *n = node_alloc(ix->heap, key, len, extra);
    if (n == NULL)
        return NULL;
    if (embed) {
        version *v = (version *)((uint8_t *)n + node_size(len));
        memcpy(v, first, sizeof(version) + first->len);
        atomic_init(&v->older, NULL);
        v->flags |= VERSION_EMBEDDED;
        n->flags |= NODE_EMBEDS;
        *embeddedp = v;
    }
    if (((uintptr_t)n >> PTR_BITS) != 0) { /* cannot be tagged into a slot */
        index_free_node(n);
        *embeddedp = NULL;
        return NULL;
    }
    return n;
}

/* ---- B+-tree ------------------------------------------------------------
 *
 * Leaves hold the linked nodes in key order: for entry i, ents[i] is the
 * node and heads[i] the 2 key bytes after the leaf's prefix (plen bytes
 * shared by every key the leaf may hold), big-endian, zero-padded.  When
 * two heads differ they order the keys; when they tie, the keys decide.
 *
 * A leaf covers [lowkey, next leaf's lowkey); its plen is the common prefix
 * of those two fences (0 at either end).  Fences are keys of nodes
 * (NODE_SEPARATOR), so a split allocates nothing but the new tree node.
 * Inner nodes route: child i holds keys in [seps[i], seps[i + 1]); seps[0]
 * is unused; heads[i] is the head of seps[i] after the common prefix of the
 * node's separators (plen; a key without that prefix goes to the first or
 * the last child).  Every separator is the lowkey of the leftmost leaf to
 * its right.
 *
 * Writers change a tree node between seq_begin() and seq_end(); a reader
 * that saw the sequence move starts over from the root.  Splits build the
 * new right node first, publish it in the parent, and only then cut the
 * old node, so a reader that reached the old node still finds its keys. */

#define FANOUT 32
#define HEAD_BYTES 2 /* key bytes per head */

struct btnode {
    _Atomic uint64_t seq;              /* odd while the writer changes it */
    _Atomic uint32_t count;            /* entries (leaf) or children (inner) */
    _Atomic uint32_t plen;             /* leaf: bytes before each head */
    uint32_t leaf;                     /* immutable */
    uint32_t level;                    /* 0 for leaves (writer only) */
    btnode *prev, *next;               /* leaf chain (writer only) */
    node *lowkey;                      /* leaf: low fence, NULL leftmost (writer only) */
    btnode *spare;                     /* spare-pool link (writer only) */
    _Atomic uint16_t heads[FANOUT];
    union {
        _Atomic(node *) ents[FANOUT];   /* leaf */
        _Atomic(btnode *) kids[FANOUT]; /* inner */
    };
};

/* An inner node: a tree node with separators. */
typedef struct btinner {
    btnode b;
    _Atomic(node *) seps[FANOUT];
} btinner;

#define SEPS(b) (((btinner *)(b))->seps)

/* Tree fields: loads acquire and stores release, so a reader's final
 * sequence check cannot pass over the data it read, and the writer's odd
 * sequence is visible before any data it changes (free on x86; no fences,
 * which ThreadSanitizer cannot follow). */
#define TL memory_order_acquire
#define TS memory_order_release

static size_t btnode_size(bool leaf)
{
    size_t sz = leaf ? sizeof(btnode) : sizeof(btinner);
    return (sz + 63u) & ~(size_t)63u;
}

static btnode *btnode_alloc(bool leaf)
{
    btnode *b = aligned_alloc(64, btnode_size(leaf));
    if (b == NULL)
        return NULL;
    memset(b, 0, btnode_size(leaf));
    b->leaf = leaf;
    return b;
}

static void seq_begin(btnode *b)
{
    atomic_store_explicit(&b->seq, atomic_load_explicit(&b->seq, TL) + 1, TS);
}

static void seq_end(btnode *b)
{
    atomic_store_explicit(&b->seq, atomic_load_explicit(&b->seq, TL) + 1, memory_order_release);
}

static uint64_t read_begin(const btnode *b)
{
    uint64_t s;
    while ((s = atomic_load_explicit(&((btnode *)b)->seq, memory_order_acquire)) & 1u)
        ;
    return s;
}

static bool read_ok(const btnode *b, uint64_t s)
{
    return atomic_load_explicit(&((btnode *)b)->seq, TL) == s;
}

/* The HEAD_BYTES key bytes after `plen`, big-endian, zero-padded. */
static uint32_t head_of(const uint8_t *key, size_t len, size_t plen)
{
    uint32_t h = 0;
    for (size_t i = 0; i < HEAD_BYTES; i++)
        h = (h << 8) | (plen + i < len ? key[plen + i] : 0u);
    return h;
}

static size_t common_prefix(const node *a, const node *b)
{
    if (a == NULL || b == NULL)
        return 0;
    size_t n = a->keylen < b->keylen ? a->keylen : b->keylen, i = 0;
    while (i < n && a->key[i] == b->key[i])
        i++;
    return i;
}

/* Brings a tree node's header, heads and pointers toward the cache at
 * once, so the searches below do not wait for them line by line. */
static void btnode_prefetch(const btnode *b)
{
    const char *p = (const char *)b;
    for (size_t off = 0; off < offsetof(btnode, ents) + sizeof b->ents; off += 64)
        __builtin_prefetch(p + off);
}

/* Entries in [0, cnt) whose head is below `kh` and those at most `kh`.
 * Heads are sorted (heads[0] of an inner node is 0), and a node's heads
 * fit in one cache line, so two branch-free binary searches do it. */
static void head_range(const btnode *b, uint32_t cnt, uint32_t kh, uint32_t *below, uint32_t *upto)
{
    _Atomic uint16_t *h = ((btnode *)b)->heads;
    if (cnt == 0) {
        *below = *upto = 0;
        return;
    }
    uint32_t lo = 0, hi = 0, n = cnt;
    while (n > 1) {
        uint32_t half = n / 2;
        lo = atomic_load_explicit(&h[lo + half], TL) < kh ? lo + half : lo;
        hi = atomic_load_explicit(&h[hi + half], TL) <= kh ? hi + half : hi;
        n -= half;
    }
    lo += atomic_load_explicit(&h[lo], TL) < kh;
    hi += atomic_load_explicit(&h[hi], TL) <= kh;
    *below = lo;
    *upto = hi;
}

/* Leaf: first entry with key >= `key` (count when none); -1 when the read
 * was inconsistent. */
static int leaf_lower_bound(const btnode *b, const uint8_t *key, size_t len)
{
    uint32_t cnt = atomic_load_explicit(&((btnode *)b)->count, TL);
    uint32_t plen = atomic_load_explicit(&((btnode *)b)->plen, TL);
    if (cnt > FANOUT)
        return -1;
    uint32_t kh = head_of(key, len, plen);
    uint32_t lo, hi;
    head_range(b, cnt, kh, &lo, &hi);
    while (lo < hi) { /* equal heads: the keys decide */
        uint32_t mid = (lo + hi) / 2;
        node *n = atomic_load_explicit(&((btnode *)b)->ents[mid], memory_order_acquire);
        if (n == NULL)
            return -1;
        if (key_cmp(n->key, n->keylen, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)lo;
}

/* Inner: the child whose range holds `key`; -1 when inconsistent. */
static int inner_child(const btnode *b, const uint8_t *key, size_t len)
{
    uint32_t cnt = atomic_load_explicit(&((btnode *)b)->count, TL);
    uint32_t plen = atomic_load_explicit(&((btnode *)b)->plen, TL);
    if (cnt == 0 || cnt > FANOUT)
        return -1;
    if (plen) {
        /* every separator starts with the same plen bytes: a key that does
         * not goes wholly left or right */
        const node *first = cnt > 1 ? atomic_load_explicit(&SEPS(b)[1], TL) : NULL;
        if (first == NULL || first->keylen < plen)
            return -1;
        size_t n = len < plen ? len : plen;
        int c = n ? memcmp(key, first->key, n) : 0;
        if (c < 0 || (c == 0 && len < plen))
            return 0;
        if (c > 0)
            return (int)cnt - 1;
    }
    uint32_t kh = head_of(key, len, plen);
    uint32_t lo, hi; /* heads[0] is 0 and counts as below unless kh is 0 */
    head_range(b, cnt, kh, &lo, &hi);
    lo = lo > 1 ? lo : 1;
    hi = hi > 1 ? hi : 1;
    while (lo < hi) { /* first separator > key among equal heads */
        uint32_t mid = (lo + hi) / 2;
        node *n = atomic_load_explicit(&SEPS(b)[mid], memory_order_acquire);
        if (n == NULL)
            return -1;
        if (key_cmp(n->key, n->keylen, key, len) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)lo - 1;
}

size_t index_range(const mvindex *ix, const uint8_t *key, size_t len, bool after, node **out,
                   size_t cap)
{
    const uint8_t *k = key;
    size_t klen = len;
    for (;;) {
        const btnode *b = atomic_load_explicit(&((mvindex *)ix)->root, memory_order_acquire);
        btnode_prefetch(b);
        uint64_t s = read_begin(b);
        const node *hi = NULL; /* the leaf's high fence, NULL at the end */
        bool ok = true;
        while (!b->leaf) {
            int i = inner_child(b, k, klen);
            uint32_t cnt = atomic_load_explicit(&((btnode *)b)->count, TL);
            const btnode *c = i < 0 ? NULL : atomic_load_explicit(&((btnode *)b)->kids[i], TL);
            const node *h = (i >= 0 && (uint32_t)i + 1 < cnt)
                                ? atomic_load_explicit(&SEPS(b)[i + 1], TL) : hi;
            if (c == NULL) {
                ok = false;
                break;
            }
            btnode_prefetch(c);
            uint64_t cs = read_begin(c);
            if (!read_ok(b, s)) {
                ok = false;
                break;
            }
            hi = h;
            b = c;
            s = cs;
        }
        if (!ok)
            continue;
        int pos = leaf_lower_bound(b, k, klen);
        if (pos < 0)
            continue;
        uint32_t cnt = atomic_load_explicit(&((btnode *)b)->count, TL);
        if (cnt > FANOUT)
            continue;
        if (after && (uint32_t)pos < cnt) {
            const node *n = atomic_load_explicit(&((btnode *)b)->ents[pos], TL);
            if (n == NULL)
                continue;
            if (key_cmp(n->key, n->keylen, k, klen) == 0)
                pos++;
        }
        size_t got = 0;
        for (uint32_t i = (uint32_t)pos; i < cnt && got < cap; i++) {
            out[got] = atomic_load_explicit(&((btnode *)b)->ents[i], TL);
            if (out[got] == NULL)
                break;
            got++;
        }
        if (!read_ok(b, s) || (got < cap && (uint32_t)pos + got < cnt))
            continue;
        if (got > 0 || cap == 0)
            return got;
        if (hi == NULL)
            return 0;
        /* every key here is smaller: the answer starts in the next leaf */
        k = hi->key;
        klen = hi->keylen;
        after = false;
    }
}

node *index_seek(const mvindex *ix, const uint8_t *key, size_t len)
{
    node *n = NULL;
    return index_range(ix, key, len, false, &n, 1) ? n : NULL;
}

void index_cursor_seek(index_cursor *c, const mvindex *ix, const uint8_t *key, size_t len)
{
    c->n = (uint32_t)index_range(ix, key, len, false, c->buf, INDEX_CURSOR_BATCH);
    c->pos = 0;
}

node *index_cursor_next(index_cursor *c, const mvindex *ix)
{
    if (c->pos == c->n) {
        if (c->n == 0)
            return NULL; /* already at the end */
        const node *last = c->buf[c->n - 1];
        c->n = (uint32_t)index_range(ix, last->key, last->keylen, true, c->buf, INDEX_CURSOR_BATCH);
        c->pos = 0;
        if (c->n == 0)
            return NULL;
    }
    return c->buf[c->pos++];
}

void index_warm(const mvindex *ix, const uint8_t *const *keys, const size_t *lens,
                const uint64_t *hashes, size_t n)
{
    if (n == 0 || n > INDEX_BATCH)
        return;
    const htab *t = LOAD(&((mvindex *)ix)->table);
    const btnode *cur[INDEX_BATCH];
    const btnode *root = atomic_load_explicit(&((mvindex *)ix)->root, TL);
    for (size_t j = 0; j < n; j++) {
        __builtin_prefetch(&t->slots[hashes[j] & t->mask]);
        cur[j] = root;
    }
    for (bool inner = !root->leaf; inner;) {
        for (size_t j = 0; j < n; j++) {
            int i = inner_child(cur[j], keys[j], lens[j]);
            cur[j] = atomic_load_explicit(&((btnode *)cur[j])->kids[i < 0 ? 0 : i], TL);
            btnode_prefetch(cur[j]);
        }
        inner = !cur[0]->leaf; /* every leaf is on the same level */
    }
}

/* ---- writer side ------------------------------------------------------ */

typedef struct btpath {
    btnode *nodes[INDEX_MAX_LEVELS]; /* root first; the leaf last */
    int idx[INDEX_MAX_LEVELS];       /* child taken at each inner node */
    int depth;                       /* entries in nodes[] */
} btpath;

/* Writer: walks to the leaf for `key`, recording the path. */
static btnode *descend(mvindex *ix, const uint8_t *key, size_t len, btpath *p)
{
    btnode *b = atomic_load_explicit(&ix->root, TL);
    p->depth = 0;
    while (!b->leaf) {
        int i = inner_child(b, key, len);
        p->nodes[p->depth] = b;
        p->idx[p->depth] = i;
        p->depth++;
        b = atomic_load_explicit(&b->kids[i], TL);
        btnode_prefetch(b);
    }
    p->nodes[p->depth++] = b;
    return b;
}

static btnode *spare_take(mvindex *ix, bool leaf)
{
    btnode **list = leaf ? &ix->spare_leaves : &ix->spare_inners;
    btnode *b = *list;
    if (b) {
        *list = b->spare;
        if (leaf)
            ix->n_spare_leaves--;
        else
            ix->n_spare_inners--;
        memset(b, 0, btnode_size(leaf));
        b->leaf = leaf;
        return b;
    }
    /* index_reserve() bounds what a link can need; this is a last resort */
    b = btnode_alloc(leaf);
    if (b == NULL)
        abort();
    return b;
}

/* Writer: a node's key stops being a fence. */
static void fence_release(mvindex *ix, node *n)
{
    if (n == NULL)
        return;
    n->flags &= (uint8_t)~NODE_SEPARATOR;
    if (n->flags & NODE_UNLINKED)
        ix->retire(ix->retire_ctx, n, index_free_node);
}

static uint32_t leaf_plen(const btnode *l)
{
    return (uint32_t)common_prefix(l->lowkey, l->next ? l->next->lowkey : NULL);
}

/* Writer: recomputes every head of a leaf for prefix length `plen`. */
static void leaf_set_plen(btnode *l, uint32_t plen)
{
    uint32_t cnt = atomic_load_explicit(&l->count, TL);
    atomic_store_explicit(&l->plen, plen, TS);
    for (uint32_t i = 0; i < cnt; i++) {
        node *n = atomic_load_explicit(&l->ents[i], TL);
        atomic_store_explicit(&l->heads[i], head_of(n->key, n->keylen, plen), TS);
    }
}

/* The common prefix of separators seps[1..cnt) (sorted: the first and the
 * last decide); 0 without separators. */
static uint32_t seps_plen(node *const *seps, uint32_t cnt)
{
    return cnt < 2 ? 0 : cnt == 2 ? seps[1]->keylen : (uint32_t)common_prefix(seps[1], seps[cnt - 1]);
}

/* Writer: recomputes the separator heads of an inner node for `plen`. */
static void inner_set_plen(btnode *b, uint32_t plen)
{
    uint32_t cnt = atomic_load_explicit(&b->count, TL);
    atomic_store_explicit(&b->plen, plen, TS);
    atomic_store_explicit(&b->heads[0], 0, TS);
    for (uint32_t i = 1; i < cnt; i++) {
        node *n = atomic_load_explicit(&SEPS(b)[i], TL);
        atomic_store_explicit(&b->heads[i], head_of(n->key, n->keylen, plen), TS);
    }
}

/* Writer: puts (sep, kid) into inner node `path->nodes[lvl]` after child
 * index path->idx[lvl], splitting upward as needed. */
static void inner_insert(mvindex *ix, btpath *p, int lvl, node *sep, btnode *kid)
{
    if (lvl < 0) { /* the root split: a new root over the two halves */
        btnode *old = atomic_load_explicit(&ix->root, TL);
        btnode *r = spare_take(ix, false);
        r->level = old->level + 1;
        atomic_store_explicit(&r->count, 2, TS);
        atomic_store_explicit(&r->kids[0], old, TS);
        atomic_store_explicit(&r->kids[1], kid, TS);
        atomic_store_explicit(&SEPS(r)[1], sep, TS);
        atomic_store_explicit(&r->plen, sep->keylen, TS);
        atomic_store_explicit(&r->heads[1], 0, TS); /* the separator is all prefix */
        ix->per_level[r->level]++;
        ix->height++;
        atomic_store_explicit(&ix->root, r, memory_order_release);
        return;
    }
    btnode *b = p->nodes[lvl];
    uint32_t cnt = atomic_load_explicit(&b->count, TL);
    uint32_t at = (uint32_t)p->idx[lvl] + 1;
    uint32_t plen = atomic_load_explicit(&b->plen, TL);
    if (cnt < FANOUT) {
        uint32_t np = plen;
        if (cnt < 2) {
            np = sep->keylen;
        } else {
            uint32_t c = (uint32_t)common_prefix(sep, atomic_load_explicit(&SEPS(b)[1], TL));
            np = c < plen ? c : plen;
        }
        seq_begin(b);
        if (np != plen)
            inner_set_plen(b, np); /* the new separator leaves the old prefix */
        for (uint32_t i = cnt; i > at; i--) {
            atomic_store_explicit(&b->kids[i], atomic_load_explicit(&b->kids[i - 1], TL), TS);
            atomic_store_explicit(&SEPS(b)[i], atomic_load_explicit(&SEPS(b)[i - 1], TL), TS);
            atomic_store_explicit(&b->heads[i], atomic_load_explicit(&b->heads[i - 1], TL), TS);
        }
        atomic_store_explicit(&b->kids[at], kid, memory_order_release);
        atomic_store_explicit(&SEPS(b)[at], sep, memory_order_release);
        atomic_store_explicit(&b->heads[at], head_of(sep->key, sep->keylen, np), TS);
        atomic_store_explicit(&b->count, cnt + 1, TS);
        seq_end(b);
        return;
    }
    /* Full: lay the FANOUT + 1 children out, keep the left half in `b`,
     * move the right half to `r`, and push the middle separator up. */
    btnode *kids[FANOUT + 1];
    node *seps[FANOUT + 1];
    for (uint32_t i = 0, j = 0; i <= cnt; i++) {
        if (i == at) {
            kids[i] = kid;
            seps[i] = sep;
            continue;
        }
        kids[i] = atomic_load_explicit(&b->kids[j], TL);
        seps[i] = atomic_load_explicit(&SEPS(b)[j], TL);
        j++;
    }
    uint32_t total = cnt + 1, left = total / 2;
    btnode *r = spare_take(ix, false);
    r->level = b->level;
    for (uint32_t i = left; i < total; i++) {
        atomic_store_explicit(&r->kids[i - left], kids[i], TS);
        atomic_store_explicit(&SEPS(r)[i - left], i == left ? NULL : seps[i], TS);
    }
    atomic_store_explicit(&r->count, total - left, TS);
    /* each half's heads follow the prefix its own separators share */
    inner_set_plen(r, seps_plen(seps + left, total - left));
    ix->per_level[r->level]++;
    node *up = seps[left];
    inner_insert(ix, p, lvl - 1, up, r); /* publish r before cutting b */
    seq_begin(b);
    for (uint32_t i = 0; i < left; i++) {
        atomic_store_explicit(&b->kids[i], kids[i], memory_order_release);
        atomic_store_explicit(&SEPS(b)[i], i == 0 ? NULL : seps[i], memory_order_release);
    }
    atomic_store_explicit(&b->count, left, TS);
    inner_set_plen(b, seps_plen(seps, left));
    seq_end(b);
}

/* Writer: puts node `n` at position `pos` of leaf `l` (end of `p`). */
static void leaf_insert(mvindex *ix, btpath *p, btnode *l, uint32_t pos, node *n)
{
    uint32_t cnt = atomic_load_explicit(&l->count, TL);
    uint32_t plen = atomic_load_explicit(&l->plen, TL);
    if (cnt < FANOUT) {
        seq_begin(l);
        for (uint32_t i = cnt; i > pos; i--) {
            atomic_store_explicit(&l->ents[i], atomic_load_explicit(&l->ents[i - 1], TL), TS);
            atomic_store_explicit(&l->heads[i], atomic_load_explicit(&l->heads[i - 1], TL), TS);
        }
        atomic_store_explicit(&l->ents[pos], n, memory_order_release);
        atomic_store_explicit(&l->heads[pos], head_of(n->key, n->keylen, plen), TS);
        atomic_store_explicit(&l->count, cnt + 1, TS);
        seq_end(l);
        return;
    }
    node *ents[FANOUT + 1];
    uint32_t heads[FANOUT + 1];
    for (uint32_t i = 0, j = 0; i <= cnt; i++) {
        if (i == pos) {
            ents[i] = n;
            heads[i] = head_of(n->key, n->keylen, plen);
            continue;
        }
        ents[i] = atomic_load_explicit(&l->ents[j], TL);
        heads[i] = atomic_load_explicit(&l->heads[j], TL);
        j++;
    }
    /* Random inserts split in the middle; an insert past the last entry
     * keeps the left leaf full, so ascending keys (logs, also one run's
     * among others) fill their leaves completely. */
    uint32_t total = cnt + 1;
    uint32_t left = pos == cnt ? cnt : total / 2;
    btnode *r = spare_take(ix, true);
    node *sep = ents[left];
    sep->flags |= NODE_SEPARATOR;
    r->lowkey = sep;
    r->prev = l;
    r->next = l->next;
    for (uint32_t i = left; i < total; i++) {
        atomic_store_explicit(&r->ents[i - left], ents[i], TS);
        atomic_store_explicit(&r->heads[i - left], heads[i], TS);
    }
    atomic_store_explicit(&r->count, total - left, TS);
    atomic_store_explicit(&r->plen, plen, TS);
    uint32_t rplen = leaf_plen(r);
    if (rplen != plen)
        leaf_set_plen(r, rplen);
    ix->per_level[0]++;
    inner_insert(ix, p, p->depth - 2, sep, r); /* publish r before cutting l */
    if (l->next)
        l->next->prev = r;
    l->next = r;
    uint32_t lplen = leaf_plen(l);
    seq_begin(l);
    for (uint32_t i = 0; i < left; i++) {
        atomic_store_explicit(&l->ents[i], ents[i], memory_order_release);
        atomic_store_explicit(&l->heads[i], heads[i], TS);
    }
    atomic_store_explicit(&l->count, left, TS);
    if (lplen != plen)
        leaf_set_plen(l, lplen);
    seq_end(l);
}

void index_link(mvindex *ix, node *n, uint64_t hash, version *v)
{
    atomic_init(&n->head, v);
    btpath p;
    btnode *l = descend(ix, n->key, n->keylen, &p);
    int pos = leaf_lower_bound(l, n->key, n->keylen);
    leaf_insert(ix, &p, l, (uint32_t)pos, n);
    htab_place(atomic_load_explicit(&ix->table, TL), n, hash);
    ix->live++;
}

/* Writer: removes child `i` of the inner node at path level `lvl`, whose
 * subtree has become empty apart from the leaf `l` being removed.  Returns
 * the leaf that takes over `l`'s key range. */
static btnode *inner_remove(mvindex *ix, btpath *p, int lvl, btnode *l)
{
    btnode *b = p->nodes[lvl];
    uint32_t cnt = atomic_load_explicit(&b->count, TL);
    uint32_t i = (uint32_t)p->idx[lvl];
    if (cnt == 1) { /* b empties too: remove it from its parent */
        btnode *taker = inner_remove(ix, p, lvl - 1, l);
        ix->per_level[b->level]--;
        ix->retire(ix->retire_ctx, b, free);
        return taker;
    }
    btnode *taker;
    if (i > 0) {
        /* the left neighbour's last leaf takes the range; the separator
         * that went away was l's low fence */
        taker = l->prev;
        fence_release(ix, l->lowkey);
    } else {
        /* the right neighbour's first leaf takes the range down to l's
         * low fence, which stays in use above */
        taker = l->next;
        node *old = taker->lowkey;
        taker->lowkey = l->lowkey;
        fence_release(ix, old);
    }
    /* The taking leaf's wider range may share a shorter prefix: fix its
     * heads before any reader is sent there.  (Inner nodes key their heads
     * on their own separators, which this does not change.) */
    btnode *lp = l->prev;
    if (lp)
        lp->next = l->next;
    if (l->next)
        l->next->prev = lp;
    uint32_t plen = leaf_plen(taker);
    if (plen != atomic_load_explicit(&taker->plen, TL)) {
        seq_begin(taker);
        leaf_set_plen(taker, plen);
        seq_end(taker);
    }
    seq_begin(b);
    uint32_t from = i > 0 ? i : 1; /* separator slot that goes */
    for (uint32_t j = i; j + 1 < cnt; j++)
        atomic_store_explicit(&b->kids[j], atomic_load_explicit(&b->kids[j + 1], TL), TS);
    for (uint32_t j = from; j + 1 < cnt; j++) {
        atomic_store_explicit(&SEPS(b)[j], atomic_load_explicit(&SEPS(b)[j + 1], TL), TS);
        atomic_store_explicit(&b->heads[j], atomic_load_explicit(&b->heads[j + 1], TL), TS);
    }
    atomic_store_explicit(&SEPS(b)[0], NULL, TS);
    atomic_store_explicit(&b->heads[0], 0, TS);
    atomic_store_explicit(&b->count, cnt - 1, TS);
    if (cnt - 1 < 2 && atomic_load_explicit(&b->plen, TL) != 0)
        inner_set_plen(b, 0); /* no separator left to share a prefix */
    seq_end(b);
    return taker;
}

/* Writer: while the root is an inner node with one child, drop a level. */
static void shrink_root(mvindex *ix)
{
    for (;;) {
        btnode *r = atomic_load_explicit(&ix->root, TL);
        if (r->leaf || atomic_load_explicit(&r->count, TL) != 1)
            return;
        atomic_store_explicit(&ix->root, atomic_load_explicit(&r->kids[0], TL), memory_order_release);
        ix->per_level[r->level]--;
        ix->height--;
        ix->retire(ix->retire_ctx, r, free);
    }
}

bool index_unlink(mvindex *ix, node *n)
{
    btpath p;
    btnode *l = descend(ix, n->key, n->keylen, &p);
    int pos = leaf_lower_bound(l, n->key, n->keylen);
    uint32_t cnt = atomic_load_explicit(&l->count, TL);
    if (pos < 0 || (uint32_t)pos >= cnt || atomic_load_explicit(&l->ents[pos], TL) != n)
        return true; /* not linked: nothing to remove */
    if (cnt == 1 && (l->prev || l->next)) {
        /* the leaf empties: take it out of the tree without ever showing
         * readers an empty leaf */
        inner_remove(ix, &p, p.depth - 2, l);
        ix->per_level[0]--;
        ix->retire(ix->retire_ctx, l, free);
        shrink_root(ix);
    } else {
        seq_begin(l);
        for (uint32_t i = (uint32_t)pos; i + 1 < cnt; i++) {
            atomic_store_explicit(&l->ents[i], atomic_load_explicit(&l->ents[i + 1], TL), TS);
            atomic_store_explicit(&l->heads[i], atomic_load_explicit(&l->heads[i + 1], TL), TS);
        }
        atomic_store_explicit(&l->count, cnt - 1, TS);
        seq_end(l);
    }

    htab *t = atomic_load_explicit(&ix->table, TL);
    uint64_t hash = node_hash(n);
    uint64_t want = slot_of(n, hash);
    for (uint64_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = atomic_load_explicit(&t->slots[i], TL);
        if (s == want) {
            STORE(&t->slots[i], (uint64_t)SLOT_TOMB);
            ix->tombs++;
            break;
        }
        if (s == SLOT_EMPTY)
            break;
    }
    ix->live--;
    n->flags |= NODE_UNLINKED;
    return !(n->flags & NODE_SEPARATOR);
}

/* ---- life cycle and reservations --------------------------------------- */

int index_init(mvindex *ix, index_retire_fn retire, void *retire_ctx)
{
    memset(ix, 0, sizeof *ix);
    ix->heap = calloc(1, sizeof *ix->heap);
    htab *t = htab_new(HTAB_MIN);
    btnode *root = btnode_alloc(true);
    if (ix->heap == NULL || t == NULL || root == NULL) {
        heap_destroy(ix->heap);
        free(t);
        free(root);
        return -1;
    }
    atomic_init(&ix->table, t);
    atomic_init(&ix->root, root);
    ix->height = 1;
    ix->per_level[0] = 1;
    ix->retire = retire;
    ix->retire_ctx = retire_ctx;
    return 0;
}

/* Frees the tree, and the versions (and malloc()ed memory) of every node
 * it holds or keeps as a fence; the node heap's slabs go afterwards. */
static void free_tree(btnode *b)
{
    if (!b->leaf) {
        uint32_t cnt = atomic_load_explicit(&b->count, TL);
        for (uint32_t i = 0; i < cnt; i++)
            free_tree(atomic_load_explicit(&b->kids[i], TL));
        free(b);
        return;
    }
    uint32_t cnt = atomic_load_explicit(&b->count, TL);
    for (uint32_t i = 0; i < cnt; i++) {
        node *n = atomic_load_explicit(&b->ents[i], TL);
        version_free_chain(atomic_load_explicit(&n->head, memory_order_relaxed));
        if (n->flags & NODE_MALLOCED)
            free(n);
    }
    if (b->lowkey && (b->lowkey->flags & NODE_UNLINKED)) {
        /* a fence whose key was deleted: its versions (the slab goes later) */
        version_free_chain(atomic_load_explicit(&b->lowkey->head, memory_order_relaxed));
        if (b->lowkey->flags & NODE_MALLOCED)
            free(b->lowkey);
    }
    free(b);
}

static void free_spares(btnode *b)
{
    while (b) {
        btnode *next = b->spare;
        free(b);
        b = next;
    }
}

void index_destroy(mvindex *ix)
{
    if (ix->heap == NULL)
        return;
    free_tree(atomic_load_explicit(&ix->root, TL));
    heap_destroy(ix->heap);
    ix->heap = NULL;
    free_spares(ix->spare_leaves);
    free_spares(ix->spare_inners);
    free(atomic_load_explicit(&ix->table, TL));
}

/* Tree nodes `extra` links can need: a level splits at most once per node
 * it touches plus once per FANOUT / 2 - 1 children it gains, and each split
 * passes one child up. */
static void spares_needed(const mvindex *ix, uint64_t extra, uint64_t *leaves, uint64_t *inners)
{
    uint64_t adds = extra, inner = 0;
    /* levels above the current root may appear: at most one per level */
    for (uint32_t lvl = 0; lvl < INDEX_MAX_LEVELS && lvl <= ix->height && adds; lvl++) {
        uint64_t have = ix->per_level[lvl] ? ix->per_level[lvl] : 1;
        uint64_t splits = (adds < have ? adds : have) + adds / (FANOUT / 2 - 1);
        if (lvl == 0)
            *leaves = splits;
        else
            inner += splits;
        if (lvl + 1 >= ix->height)
            inner++; /* a new root above this level */
        adds = splits;
    }
    *inners = inner;
}

static int index_reserve_tree(mvindex *ix, uint64_t extra)
{
    uint64_t leaves = 0, inners = 0;
    spares_needed(ix, extra, &leaves, &inners);
    while (ix->n_spare_leaves < leaves) {
        btnode *b = btnode_alloc(true);
        if (b == NULL)
            return -1;
        b->spare = ix->spare_leaves;
        ix->spare_leaves = b;
        ix->n_spare_leaves++;
    }
    while (ix->n_spare_inners < inners) {
        btnode *b = btnode_alloc(false);
        if (b == NULL)
            return -1;
        b->spare = ix->spare_inners;
        ix->spare_inners = b;
        ix->n_spare_inners++;
    }
    return 0;
}

/* ---- consistency check ------------------------------------------------- */

typedef struct chk {
    const mvindex *ix;
    char *err;
    size_t cap;
    bool bad;
    const node *last;      /* the previous leaf entry, in key order */
    btnode *prev_leaf;
    uint64_t per_level[INDEX_MAX_LEVELS];
    uint64_t entries;
} chk;

static bool chk_fail(chk *c, const char *what, const void *where)
{
    if (!c->bad && c->cap)
        snprintf(c->err, c->cap, "%s (at %p)", what, where);
    c->bad = true;
    return false;
}

static bool chk_node(chk *c, const btnode *b, const node *lo, const node *hi, uint32_t level)
{
    uint32_t cnt = atomic_load_explicit(&((btnode *)b)->count, TL);
    uint32_t plen = atomic_load_explicit(&((btnode *)b)->plen, TL);
    if (level >= INDEX_MAX_LEVELS || b->level != level)
        return chk_fail(c, "tree node on the wrong level", b);
    c->per_level[level]++;
    if (cnt > FANOUT || (cnt == 0 && !(b->leaf && b == atomic_load_explicit(&((mvindex *)c->ix)->root, TL))))
        return chk_fail(c, "tree node count out of range", b);
    if (b->leaf && plen != common_prefix(lo, hi))
        return chk_fail(c, "leaf prefix is not its fences' common prefix", b);
    if (!b->leaf && cnt < 2 && plen != 0)
        return chk_fail(c, "inner node without separators has a prefix", b);
    if (b->leaf) {
        if (b->lowkey != lo)
            return chk_fail(c, "leaf low fence differs from its separator", b);
        if (lo && !(lo->flags & NODE_SEPARATOR))
            return chk_fail(c, "fence key not marked as separator", b);
        if (b->prev != c->prev_leaf || (c->prev_leaf && c->prev_leaf->next != b))
            return chk_fail(c, "leaf chain broken", b);
        c->prev_leaf = (btnode *)b;
        for (uint32_t i = 0; i < cnt; i++) {
            node *n = atomic_load_explicit(&((btnode *)b)->ents[i], TL);
            if (n == NULL)
                return chk_fail(c, "missing leaf entry", b);
            if (c->last && key_cmp(c->last->key, c->last->keylen, n->key, n->keylen) >= 0)
                return chk_fail(c, "leaf entries out of key order", n);
            if (n->flags & NODE_UNLINKED)
                return chk_fail(c, "unlinked node still in a leaf", n);
            if (atomic_load_explicit(&((btnode *)b)->heads[i], TL) != head_of(n->key, n->keylen, plen))
                return chk_fail(c, "leaf head differs from its key", b);
            if (lo && key_cmp(n->key, n->keylen, lo->key, lo->keylen) < 0)
                return chk_fail(c, "leaf key below its low fence", n);
            if (hi && key_cmp(n->key, n->keylen, hi->key, hi->keylen) >= 0)
                return chk_fail(c, "leaf key at or past its high fence", n);
            c->last = n;
            c->entries++;
        }
        return true;
    }
    for (uint32_t i = 0; i < cnt; i++) {
        node *s = i ? atomic_load_explicit(&SEPS(b)[i], TL) : NULL;
        if (i) {
            if (s == NULL)
                return chk_fail(c, "missing separator", b);
            if (atomic_load_explicit(&((btnode *)b)->heads[i], TL) != head_of(s->key, s->keylen, plen))
                return chk_fail(c, "separator head differs from its key", b);
            const node *s1 = atomic_load_explicit(&SEPS(b)[1], TL);
            if (s->keylen < plen || memcmp(s->key, s1->key, plen) != 0)
                return chk_fail(c, "separator outside the node's prefix", b);
            if (lo && key_cmp(s->key, s->keylen, lo->key, lo->keylen) <= 0)
                return chk_fail(c, "separator not above the node's low fence", b);
            if (hi && key_cmp(s->key, s->keylen, hi->key, hi->keylen) >= 0)
                return chk_fail(c, "separator not below the node's high fence", b);
        }
        const node *clo = i ? s : lo;
        const node *chi = i + 1 < cnt ? atomic_load_explicit(&SEPS(b)[i + 1], TL) : hi;
        btnode *kid = atomic_load_explicit(&((btnode *)b)->kids[i], TL);
        if (kid == NULL)
            return chk_fail(c, "missing child", b);
        if (!chk_node(c, kid, clo, chi, level - 1))
            return false;
    }
    return true;
}

bool index_check(const mvindex *ix, char *err, size_t cap)
{
    chk c = {.ix = ix, .err = err, .cap = cap};
    btnode *root = atomic_load_explicit(&((mvindex *)ix)->root, TL);
    if (root->level + 1 != ix->height)
        return chk_fail(&c, "tree height differs from the root's level", root);
    if (!chk_node(&c, root, NULL, NULL, root->level))
        return false;
    if (c.prev_leaf && c.prev_leaf->next != NULL)
        return chk_fail(&c, "leaf chain runs past the last leaf", c.prev_leaf);
    if (c.entries != ix->live)
        return chk_fail(&c, "live count differs from the tree's entries", root);
    for (uint32_t l = 0; l < INDEX_MAX_LEVELS; l++)
        if (c.per_level[l] != ix->per_level[l])
            return chk_fail(&c, "per-level node count is off", root);
    index_cursor cur;
    index_cursor_seek(&cur, ix, NULL, 0);
    uint64_t seen = 0;
    for (node *n; (n = index_cursor_next(&cur, ix)) != NULL; seen++)
        if (index_get(ix, n->key, n->keylen, index_hash(n->key, n->keylen)) != n)
            return chk_fail(&c, "a linked node is missing from the hash table", n);
    if (seen != ix->live)
        return chk_fail(&c, "a cursor walk does not see every key", root);
    return true;
}
