/* index.c - skiplist + hash table over multi-version nodes (see index.h). */
#include "engine/index.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define MAX_HEIGHT 24
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

/* Grows or rebuilds the table when one more entry would pass 3/4 load. */
int index_reserve(mvindex *ix, uint64_t extra)
{
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
    for (uint64_t i = 0; i <= t->mask; i++) {
        uint64_t s = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
        if (s != SLOT_EMPTY && s != SLOT_TOMB)
            htab_place(nt, slot_node(s), node_hash(slot_node(s)));
    }
    STORE(&ix->table, nt);
    ix->tombs = 0;
    ix->retire(ix->retire_ctx, t, free);
    return 0;
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

/* ---- skiplist --------------------------------------------------------- */

/* Bytes of a node with `height` levels and a `len`-byte key, rounded up so
 * an embedded version after it is aligned. */
static size_t node_size(size_t len, unsigned height)
{
    return (sizeof(node) + height * sizeof(((node *)0)->next[0]) + len + 7u) & ~(size_t)7u;
}

static node *node_alloc(const uint8_t *key, size_t len, unsigned height, size_t extra)
{
    node *n = malloc(node_size(len, height) + extra);
    if (n == NULL)
        return NULL;
    n->keylen = (uint16_t)len;
    n->height = (uint8_t)height;
    n->queued = 0;
    n->pad = 0;
    atomic_init(&n->head, NULL);
    for (unsigned i = 0; i < height; i++)
        atomic_init(&n->next[i], NULL);
    if (len)
        memcpy((uint8_t *)node_key(n), key, len);
    return n;
}

int index_init(mvindex *ix, index_retire_fn retire, void *retire_ctx)
{
    memset(ix, 0, sizeof *ix);
    ix->head = node_alloc(NULL, 0, MAX_HEIGHT, 0);
    htab *t = htab_new(HTAB_MIN);
    if (ix->head == NULL || t == NULL) {
        free(ix->head);
        free(t);
        return -1;
    }
    atomic_init(&ix->table, t);
    atomic_init(&ix->height, 1);
    ix->rng = 0x9E3779B97F4A7C15ull;
    ix->retire = retire;
    ix->retire_ctx = retire_ctx;
    return 0;
}

void index_destroy(mvindex *ix)
{
    if (ix->head == NULL)
        return;
    node *n = atomic_load_explicit(&ix->head->next[0], memory_order_relaxed);
    while (n) {
        node *next = atomic_load_explicit(&n->next[0], memory_order_relaxed);
        version_free_chain(atomic_load_explicit(&n->head, memory_order_relaxed));
        free(n);
        n = next;
    }
    free(ix->head);
    free(atomic_load_explicit(&ix->table, memory_order_relaxed));
    ix->head = NULL;
}

/* Walks down from the top; fills preds[] (when not NULL) with the last node
 * before `key` at every level and returns the level-0 successor. */
static node *find(const mvindex *ix, const uint8_t *key, size_t len, node **preds)
{
    node *x = ix->head;
    int top = (int)atomic_load_explicit(&((mvindex *)ix)->height, memory_order_acquire);
    if (preds)
        top = MAX_HEIGHT;
    for (int level = top - 1; level >= 0; level--) {
        for (;;) {
            node *nx = LOAD(&x->next[level]);
            if (nx == NULL || key_cmp(node_key(nx), nx->keylen, key, len) >= 0)
                break;
            x = nx;
        }
        if (preds)
            preds[level] = x;
    }
    return LOAD(&x->next[0]);
}

node *index_seek(const mvindex *ix, const uint8_t *key, size_t len)
{
    return find(ix, key, len, NULL);
}

static unsigned random_height(mvindex *ix)
{
    /* xorshift64; p = 1/4 per extra level */
    uint64_t x = ix->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    ix->rng = x;
    unsigned h = 1;
    while (h < MAX_HEIGHT && (x & 3) == 0) {
        h++;
        x >>= 2;
    }
    return h;
}

node *index_node_new(mvindex *ix, const uint8_t *key, size_t len,
                     const version *first, version **embeddedp)
{
    *embeddedp = NULL;
    if (len > UINT16_MAX)
        return NULL;
    unsigned height = random_height(ix);
    bool embed = first && first->len <= VERSION_EMBED_MAX;
    size_t extra = embed ? sizeof(version) + first->len : 0;
    node *n = node_alloc(key, len, height, extra);
    if (n == NULL)
        return NULL;
    if (((uintptr_t)n >> PTR_BITS) != 0) { /* cannot be tagged into a slot */
        free(n);
        return NULL;
    }
    if (embed) {
        version *v = (version *)((uint8_t *)n + node_size(len, height));
        memcpy(v, first, sizeof(version) + first->len);
        atomic_init(&v->older, NULL);
        v->flags |= VERSION_EMBEDDED;
        *embeddedp = v;
    }
    return n;
}

void index_link(mvindex *ix, node *n, uint64_t hash, version *v)
{
    unsigned h = n->height;
    atomic_init(&n->head, v);
    node *preds[MAX_HEIGHT];
    find(ix, node_key(n), n->keylen, preds);
    for (unsigned l = 0; l < h; l++)
        atomic_init(&n->next[l], atomic_load_explicit(&preds[l]->next[l], memory_order_relaxed));
    for (unsigned l = 0; l < h; l++)
        STORE(&preds[l]->next[l], n);
    if (h > atomic_load_explicit(&ix->height, memory_order_relaxed))
        atomic_store_explicit(&ix->height, h, memory_order_release);
    htab_place(atomic_load_explicit(&ix->table, memory_order_relaxed), n, hash);
    ix->live++;
}

void index_unlink(mvindex *ix, node *n)
{
    node *preds[MAX_HEIGHT];
    find(ix, node_key(n), n->keylen, preds);
    for (int l = n->height - 1; l >= 0; l--) {
        node *p = preds[l];
        /* preds[l] is the last node with a smaller key; n follows it. */
        if (atomic_load_explicit(&p->next[l], memory_order_relaxed) == n)
            STORE(&p->next[l], atomic_load_explicit(&n->next[l], memory_order_relaxed));
    }
    htab *t = atomic_load_explicit(&ix->table, memory_order_relaxed);
    uint64_t hash = node_hash(n);
    uint64_t want = slot_of(n, hash);
    for (uint64_t i = hash & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
        if (s == want) {
            STORE(&t->slots[i], (uint64_t)SLOT_TOMB);
            ix->tombs++;
            break;
        }
        if (s == SLOT_EMPTY)
            break; /* not present: nothing to remove */
    }
    ix->live--;
}
