/*
 * The in-memory index on its own: ordered list, B+-tree and hash table
 * against a sorted-array model, through inserts and removals that split and
 * remove leaves and inner nodes, with keys that share long prefixes, keys
 * that are prefixes of each other, and ascending (log-like) keys.  After
 * every batch index_check() verifies every structural invariant.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "engine/index.h"

typedef struct mkey {
    uint8_t b[40];
    uint16_t len;
} mkey;

typedef struct model {
    mkey *keys;          /* sorted */
    size_t n, cap;
} model;

typedef struct pending {
    void **ptr;
    void (**fn)(void *);
    size_t n, cap;
} pending;

static void retire_later(void *ctx, void *ptr, void (*free_fn)(void *))
{
    pending *p = ctx;
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->ptr = realloc(p->ptr, p->cap * sizeof *p->ptr);
        p->fn = realloc(p->fn, p->cap * sizeof *p->fn);
        cr_assert(p->ptr && p->fn);
    }
    p->ptr[p->n] = ptr;
    p->fn[p->n++] = free_fn;
}

static void retire_flush(pending *p)
{
    for (size_t i = 0; i < p->n; i++)
        p->fn[i](p->ptr[i]);
    p->n = 0;
}

static int mkey_cmp(const void *a, const void *b)
{
    const mkey *x = a, *y = b;
    return key_cmp(x->b, x->len, y->b, y->len);
}

/* Position of the first model key >= k; *found when equal. */
static size_t model_lower(const model *m, const mkey *k, bool *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (mkey_cmp(&m->keys[mid], k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < m->n && mkey_cmp(&m->keys[lo], k) == 0;
    return lo;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = (*s += 0x9E3779B97F4A7C15ull);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

enum shape { RANDOM, SHARED_PREFIX, NESTED, ASCENDING };

static mkey make_key(enum shape sh, uint64_t *rng, uint64_t *seq)
{
    mkey k = {.len = 0};
    uint64_t r = rng_next(rng);
    switch (sh) {
    case RANDOM:
        k.len = 16;
        for (int i = 0; i < 16; i++)
            k.b[i] = (uint8_t)(rng_next(rng) >> 56);
        break;
    case SHARED_PREFIX: /* tag + a 16-byte run id + a sub-kind, then 8 varying bytes */
        k.len = 26;
        k.b[0] = 0x02;
        for (int i = 1; i < 18; i++)
            k.b[i] = (uint8_t)(0xA0 + i);
        k.b[18] = (uint8_t)(r % 3); /* a few sub-ranges */
        for (int i = 0; i < 7; i++)
            k.b[19 + i] = (uint8_t)(rng_next(rng) >> 56) & 0x0F;
        break;
    case NESTED: /* short keys over a tiny alphabet: many are prefixes of others */
        k.len = (uint16_t)(r % 10);
        for (int i = 0; i < k.len; i++)
            k.b[i] = (uint8_t)((rng_next(rng) >> 60) % 3); /* 0, 1, 2 */
        break;
    case ASCENDING:
        k.len = 24;
        memset(k.b, 0x05, 16);
        for (int i = 0; i < 8; i++)
            k.b[16 + i] = (uint8_t)(*seq >> (56 - 8 * i));
        (*seq)++;
        break;
    }
    return k;
}

static void check_against_model(mvindex *ix, const model *m, uint64_t *rng)
{
    char err[200];
    cr_assert(index_check(ix, err, sizeof err), "index_check: %s", err);
    size_t i = 0;
    index_cursor cur;
    index_cursor_seek(&cur, ix, NULL, 0);
    for (node *n; (n = index_cursor_next(&cur, ix)) != NULL; i++) {
        cr_assert(i < m->n, "list longer than the model");
        cr_assert(key_cmp(node_key(n), n->keylen, m->keys[i].b, m->keys[i].len) == 0,
                  "list key %zu differs", i);
    }
    cr_assert_eq(i, m->n, "list has %zu keys, the model %zu", i, m->n);
    /* seeks: model keys, keys in between, keys before and after everything */
    for (int probe = 0; probe < 300; probe++) {
        mkey k;
        uint64_t r = rng_next(rng);
        if (m->n && r % 2 == 0) {
            k = m->keys[r / 2 % m->n];
            if (r % 8 == 0 && k.len < sizeof k.b)
                k.b[k.len++] = (uint8_t)(r >> 40); /* just after a key */
            else if (r % 8 == 2 && k.len)
                k.len--; /* a prefix of a key */
        } else {
            k.len = (uint16_t)(r % 30);
            for (int j = 0; j < k.len; j++)
                k.b[j] = (uint8_t)(rng_next(rng) >> 56) % 8;
        }
        bool found;
        size_t pos = model_lower(m, &k, &found);
        node *n = index_seek(ix, k.b, k.len);
        if (pos == m->n) {
            cr_assert_null(n, "seek past the end found a key");
        } else {
            cr_assert_not_null(n, "seek found nothing, the model has a key");
            cr_assert(key_cmp(node_key(n), n->keylen, m->keys[pos].b, m->keys[pos].len) == 0,
                      "seek landed on the wrong key");
        }
        node *g = index_get(ix, k.b, k.len, index_hash(k.b, k.len));
        cr_assert_eq(g != NULL, found, "get and the model disagree");
        /* a cursor from here walks the model's keys in order, across leaves */
        if (probe % 10 == 0) {
            index_cursor from;
            index_cursor_seek(&from, ix, k.b, k.len);
            for (size_t j = pos; j < pos + 100; j++) {
                node *c = index_cursor_next(&from, ix);
                if (j >= m->n) {
                    cr_assert_null(c, "cursor walks past the model's end");
                    break;
                }
                cr_assert_not_null(c, "cursor stops %zu keys early", m->n - j);
                cr_assert(key_cmp(node_key(c), c->keylen, m->keys[j].b, m->keys[j].len) == 0,
                          "cursor step %zu differs", j - pos);
            }
        }
    }
}

static void run_shape(enum shape sh, size_t rounds, size_t batch, unsigned del_pct)
{
    pending pend = {0};
    mvindex ix;
    cr_assert_eq(index_init(&ix, retire_later, &pend), 0);
    model m = {0};
    uint64_t rng = 42 + sh, seq = 0;
    for (size_t round = 0; round < rounds; round++) {
        for (size_t op = 0; op < batch; op++) {
            uint64_t r = rng_next(&rng);
            /* grow in the first half, churn in the second */
            unsigned pct = round < rounds / 2 ? del_pct / 4 : del_pct;
            bool del = m.n && r % 100 < pct;
            if (del) {
                /* remove a model key: runs of neighbours now and then, so
                 * whole leaves empty out */
                size_t at = (size_t)(r >> 8) % m.n;
                size_t run = rng_next(&rng) % 50 == 0 ? 40 : 1;
                for (size_t j = 0; j < run && at < m.n; j++) {
                    mkey *k = &m.keys[at];
                    node *n = index_get(&ix, k->b, k->len, index_hash(k->b, k->len));
                    cr_assert_not_null(n);
                    if (index_unlink(&ix, n))
                        retire_later(&pend, n, index_free_node);
                    memmove(&m.keys[at], &m.keys[at + 1], (m.n - at - 1) * sizeof *m.keys);
                    m.n--;
                }
                continue;
            }
            mkey k = make_key(sh, &rng, &seq);
            bool found;
            size_t pos = model_lower(&m, &k, &found);
            if (found)
                continue;
            version *v = version_new(8);
            cr_assert_not_null(v);
            memset(v->data, 0xAB, 8);
            version *emb;
            node *n = index_node_new(&ix, k.b, k.len, v, &emb);
            cr_assert_not_null(n);
            if (emb) {
                version_free(v);
                v = emb;
            }
            uint64_t h = index_hash(k.b, k.len);
            cr_assert_null(index_get(&ix, k.b, k.len, h));
            cr_assert_eq(index_reserve(&ix, 1), 0);
            index_link(&ix, n, h, v);
            if (m.n == m.cap) {
                m.cap = m.cap ? m.cap * 2 : 1024;
                m.keys = realloc(m.keys, m.cap * sizeof *m.keys);
                cr_assert_not_null(m.keys);
            }
            memmove(&m.keys[pos + 1], &m.keys[pos], (m.n - pos) * sizeof *m.keys);
            m.keys[pos] = k;
            m.n++;
        }
        check_against_model(&ix, &m, &rng);
        retire_flush(&pend);
    }
    cr_log_info("shape %d: %zu keys, %u levels, %llu leaves", (int)sh, m.n, ix.height,
                (unsigned long long)ix.per_level[0]);
    /* empty it completely */
    while (m.n) {
        mkey *k = &m.keys[m.n - 1];
        node *n = index_get(&ix, k->b, k->len, index_hash(k->b, k->len));
        cr_assert_not_null(n);
        if (index_unlink(&ix, n))
            retire_later(&pend, n, index_free_node);
        m.n--;
        if (m.n % 997 == 0)
            check_against_model(&ix, &m, &rng);
    }
    check_against_model(&ix, &m, &rng);
    cr_assert_eq(ix.height, 1, "an empty index keeps %u levels", ix.height);
    retire_flush(&pend);
    index_destroy(&ix);
    retire_flush(&pend);
    free(pend.ptr);
    free(pend.fn);
    free(m.keys);
}

Test(index, random_keys_grow_and_shrink)
{
    run_shape(RANDOM, 60, 2000, 30);
}

Test(index, shared_prefix_keys)
{
    run_shape(SHARED_PREFIX, 40, 2000, 35);
}

Test(index, keys_that_prefix_each_other)
{
    run_shape(NESTED, 30, 1000, 30);
}

Test(index, ascending_keys_fill_leaves)
{
    run_shape(ASCENDING, 40, 2000, 10);
}

Test(index, reserve_covers_a_large_batch)
{
    /* index_reserve(n) then n links must never need more memory */
    pending pend = {0};
    mvindex ix;
    cr_assert_eq(index_init(&ix, retire_later, &pend), 0);
    uint64_t rng = 7, seq = 0;
    for (int round = 0; round < 4; round++) {
        size_t n = 20000;
        cr_assert_eq(index_reserve(&ix, n), 0);
        uint64_t leaves = ix.n_spare_leaves, inners = ix.n_spare_inners;
        uint64_t per0[INDEX_MAX_LEVELS];
        memcpy(per0, ix.per_level, sizeof per0);
        size_t linked = 0;
        while (linked < n) {
            mkey k = make_key(RANDOM, &rng, &seq);
            uint64_t h = index_hash(k.b, k.len);
            if (index_get(&ix, k.b, k.len, h))
                continue;
            version *emb;
            node *nd = index_node_new(&ix, k.b, k.len, NULL, &emb);
            cr_assert_not_null(nd);
            index_link(&ix, nd, h, version_new(0));
            linked++;
        }
        uint64_t used = 0;
        for (int l = 0; l < INDEX_MAX_LEVELS; l++)
            used += ix.per_level[l] - per0[l];
        cr_assert_leq(used, leaves + inners, "links used %llu tree nodes, %llu were reserved",
                      (unsigned long long)used, (unsigned long long)(leaves + inners));
        char err[200];
        cr_assert(index_check(&ix, err, sizeof err), "%s", err);
    }
    index_destroy(&ix);
    retire_flush(&pend);
    free(pend.ptr);
    free(pend.fn);
}
