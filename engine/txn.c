/*
 * txn.c - optimistic serializable transactions.
 *
 * begin     take a handle from the pool, register a snapshot (the visible
 *           version) and the time used for expiry.
 * get       own writes first, else the index at the snapshot; a read-write
 *           transaction records the key for validation.
 * put/del   copy the value into a new, not yet linked version (outside any
 *           lock) and buffer it in the write set, keyed by the key.
 * commit    under the commit lock: validate every read key and scanned range
 *           against versions newer than the snapshot, take the next commit
 *           version, link the buffered versions, publish the version, and
 *           reclaim a little garbage.  Read-only and write-free transactions
 *           skip all of it: a snapshot is always serializable.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/db_internal.h"

#define WMAP_THRESHOLD 8      /* linear search below this many writes */
#define GC_BUDGET_COMMIT 8    /* queued nodes looked at per commit */
#define GC_BUDGET_IDLE 256    /* ... per read-only or aborted transaction */

void cairn_txn_options_init(cairn_txn_options *opts)
{
    if (opts) {
        opts->mode = CAIRN_TXN_READ_WRITE;
        opts->durability = CAIRN_DURABILITY_DEFAULT;
    }
}

static cairn_txn *txn_new(cairn_db *db)
{
    cairn_txn *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->db = db;
    arena_init(&t->mem);
    return t;
}

/* pool_lock held: a free snapshot slot, or CAIRN_BUSY. */
static cairn_status slot_take(cairn_db *db, uint32_t *slotp)
{
    if (db->nfree_slots) {
        *slotp = db->free_slots[--db->nfree_slots];
        return CAIRN_OK;
    }
    if (db->slots_used < db->opts.max_open_txns) {
        *slotp = db->slots_used++;
        atomic_store_explicit(&db->snaps.used, db->slots_used, memory_order_release);
        return CAIRN_OK;
    }
    return db_error(db, CAIRN_BUSY, "%u transactions are active (max_open_txns)", db->opts.max_open_txns);
}

static void txn_destroy(cairn_txn *t)
{
    iter_free_all(t);
    arena_destroy(&t->mem);
    free(t->ops);
    free(t->wmap);
    free(t->reads);
    free(t->ranges);
    free(t);
}

/* Starts a transaction on a handle that holds slot t->slot. */
static void txn_start(cairn_txn *t)
{
    cairn_db *db = t->db;
    if (!t->internal)
        atomic_fetch_add_explicit(&db->active, 1, memory_order_relaxed);
    t->state = TXN_ACTIVE;
    t->commit_ver = 0;
    t->errmsg[0] = '\0';
    t->now_us = db_clock_now(db);
    t->snap = snapreg_enter(&db->snaps, t->slot, &db->visible);
}

/* Ends the transaction: frees versions never installed, drops the snapshot. */
static void txn_finish(cairn_txn *t, bool installed)
{
    cairn_db *db = t->db;
    if (!installed)
        for (size_t i = 0; i < t->nops; i++)
            version_free(t->ops[i].v);
    version_free_chain(t->superseded);
    t->superseded = NULL;
    snapreg_leave(&db->snaps, t->slot);
    pthread_mutex_lock(&db->pool_lock);
    db->free_slots[db->nfree_slots++] = t->slot;
    pthread_mutex_unlock(&db->pool_lock);
    t->nops = t->nreads = t->nranges = 0;
    t->wbytes = 0;
    if (t->wmap_cap)
        memset(t->wmap, 0, t->wmap_cap * sizeof t->wmap[0]);
    arena_reset(&t->mem);
    t->state = TXN_FINISHED;
    t->gen++;
    if (!t->internal)
        atomic_fetch_sub_explicit(&db->active, 1, memory_order_relaxed);
}

/* After a transaction that installed nothing: help reclaim garbage that
 * only its snapshot (or one like it) was holding, if the lock is free. */
static void idle_gc(cairn_db *db)
{
    if (atomic_load_explicit(&db->gc_pending, memory_order_relaxed) == 0)
        return;
    if (pthread_mutex_trylock(&db->commit_lock) == 0) {
        gc_step(db, GC_BUDGET_IDLE);
        pthread_mutex_unlock(&db->commit_lock);
    }
}

static cairn_status txn_begin(cairn_db *db, const cairn_txn_options *opts, bool internal,
                              cairn_txn **txnp);

cairn_status cairn_txn_begin(cairn_db *db, const cairn_txn_options *opts, cairn_txn **txnp)
{
    return txn_begin(db, opts, false, txnp);
}

cairn_status txn_begin_internal(cairn_db *db, cairn_txn **txnp)
{
    cairn_txn_options o = {CAIRN_TXN_READ_ONLY, CAIRN_DURABILITY_DEFAULT};
    return txn_begin(db, &o, true, txnp);
}

static cairn_status txn_begin(cairn_db *db, const cairn_txn_options *opts, bool internal,
                              cairn_txn **txnp)
{
    if (db == NULL || txnp == NULL)
        return CAIRN_INVALID_ARGUMENT;
    cairn_txn_options o;
    cairn_txn_options_init(&o);
    if (opts)
        o = *opts;
    if ((unsigned)o.mode > CAIRN_TXN_READ_ONLY || (unsigned)o.durability > CAIRN_DURABILITY_SYNC)
        return db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_txn_begin: unknown mode %d or durability %d",
                        (int)o.mode, (int)o.durability);
    if (o.mode == CAIRN_TXN_READ_WRITE && db->opts.read_only)
        return db_error(db, CAIRN_READ_ONLY, "cairn_txn_begin: the database was opened read-only");

    uint32_t slot = 0;
    pthread_mutex_lock(&db->pool_lock);
    cairn_status st = slot_take(db, &slot);
    cairn_txn *t = NULL;
    if (st == CAIRN_OK && db->pool) {
        t = db->pool;
        db->pool = t->pool_next;
    } else if (st == CAIRN_OK) {
        t = txn_new(db);
        if (t) {
            t->all_next = db->handles;
            db->handles = t;
        } else {
            db->free_slots[db->nfree_slots++] = slot;
            st = db_error(db, CAIRN_NO_MEMORY, "cairn_txn_begin: out of memory");
        }
    }
    pthread_mutex_unlock(&db->pool_lock);
    if (st != CAIRN_OK)
        return st;
    t->pool_next = NULL;
    t->slot = slot;
    t->internal = internal;
    t->opts = o;
    txn_start(t);
    *txnp = t;
    return CAIRN_OK;
}

cairn_status cairn_txn_restart(cairn_txn *txn)
{
    if (txn == NULL)
        return CAIRN_INVALID_ARGUMENT;
    if (txn->state == TXN_ACTIVE)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_BUSY,
                       "cairn_txn_restart: the transaction is still active");
    cairn_db *db = txn->db;
    pthread_mutex_lock(&db->pool_lock);
    cairn_status st = slot_take(db, &txn->slot);
    pthread_mutex_unlock(&db->pool_lock);
    if (st != CAIRN_OK)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, st,
                       "cairn_txn_restart: %u transactions are active (max_open_txns)", db->opts.max_open_txns);
    iter_free_all(txn);
    txn_start(txn);
    return CAIRN_OK;
}

cairn_status key_check_writable(cairn_txn *t, const cairn_key *key)
{
    if (key == NULL)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_INVALID_ARGUMENT, "key is NULL");
    if (key->len > CAIRN_KEY_MAX)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_INVALID_ARGUMENT,
                       "key length %u is past CAIRN_KEY_MAX (%u)", key->len, (unsigned)CAIRN_KEY_MAX);
    if (cairn_key_decode(cairn_key_slice(key), NULL, NULL, NULL) != CAIRN_OK)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_INVALID_ARGUMENT,
                       "key is not built by cairn_key_init (bad run id / tag prefix)");
    if (key->len == CAIRN_KEY_PREFIX_SIZE)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_INVALID_ARGUMENT,
                       "key has an empty rest (a prefix cannot be written)");
    return CAIRN_OK;
}

static uint32_t wmap_slot(uint64_t hash, size_t cap)
{
    return (uint32_t)(hash & (cap - 1));
}

/* Rebuilds the write map for at least `need` entries.  -1 on OOM. */
static int wmap_rebuild(cairn_txn *t, size_t need)
{
    size_t cap = t->wmap_cap ? t->wmap_cap : 32;
    while (cap < need * 2)
        cap *= 2;
    if (cap != t->wmap_cap) {
        uint32_t *m = malloc(cap * sizeof *m);
        if (m == NULL)
            return -1;
        free(t->wmap);
        t->wmap = m;
        t->wmap_cap = cap;
    }
    memset(t->wmap, 0, cap * sizeof t->wmap[0]);
    for (size_t i = 0; i < t->nops; i++) {
        uint32_t s = wmap_slot(t->ops[i].hash, cap);
        while (t->wmap[s])
            s = (s + 1) & (uint32_t)(cap - 1);
        t->wmap[s] = (uint32_t)i + 1;
    }
    return 0;
}

long txn_find_write(const cairn_txn *t, const uint8_t *key, size_t klen, uint64_t hash)
{
    if (t->nops <= WMAP_THRESHOLD) {
        for (size_t i = 0; i < t->nops; i++) {
            const wop *w = &t->ops[i];
            if (w->hash == hash && w->klen == klen && memcmp(w->key, key, klen) == 0)
                return (long)i;
        }
        return -1;
    }
    for (uint32_t s = wmap_slot(hash, t->wmap_cap);; s = (s + 1) & (uint32_t)(t->wmap_cap - 1)) {
        uint32_t e = t->wmap[s];
        if (e == 0)
            return -1;
        const wop *w = &t->ops[e - 1];
        if (w->hash == hash && w->klen == klen && memcmp(w->key, key, klen) == 0)
            return (long)(e - 1);
    }
}

static cairn_status record_read(cairn_txn *t, const uint8_t *key, size_t klen, uint64_t hash)
{
    if (t->nreads == t->capreads) {
        size_t cap = t->capreads ? t->capreads * 2 : 16;
        rread *r = realloc(t->reads, cap * sizeof *r);
        if (r == NULL)
            return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_NO_MEMORY, "out of memory recording a read");
        t->reads = r;
        t->capreads = cap;
    }
    uint8_t *copy = arena_alloc(&t->mem, klen);
    if (copy == NULL)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_NO_MEMORY, "out of memory recording a read");
    memcpy(copy, key, klen);
    t->reads[t->nreads++] = (rread){copy, (uint32_t)klen, hash};
    return CAIRN_OK;
}

long txn_add_range(cairn_txn *t, const uint8_t *start, size_t slen, const uint8_t *end, size_t elen)
{
    if (t->nranges == t->capranges) {
        size_t cap = t->capranges ? t->capranges * 2 : 4;
        rrange *r = realloc(t->ranges, cap * sizeof *r);
        if (r == NULL)
            return -1;
        t->ranges = r;
        t->capranges = cap;
    }
    uint8_t *s = arena_alloc(&t->mem, slen ? slen : 1);
    uint8_t *e = arena_alloc(&t->mem, CAIRN_KEY_MAX);
    if (s == NULL || e == NULL)
        return -1;
    memcpy(s, start, slen);
    memcpy(e, end, elen);
    t->ranges[t->nranges] = (rrange){s, (uint32_t)slen, e, (uint32_t)elen, elen == 0, false, true};
    return (long)t->nranges++;
}

cairn_status cairn_txn_get_many(cairn_txn *txn, const cairn_key *keys, size_t n,
                                cairn_slice *values, cairn_status *statuses)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    if (n == 0)
        return CAIRN_OK;
    if (keys == NULL || values == NULL || statuses == NULL)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_INVALID_ARGUMENT,
                       "cairn_txn_get_many: %s is NULL",
                       keys == NULL ? "keys" : values == NULL ? "values" : "statuses");
    for (size_t i = 0; i < n; i++)
        if (keys[i].len > CAIRN_KEY_MAX || keys[i].len < CAIRN_KEY_PREFIX_SIZE)
            return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_INVALID_ARGUMENT,
                           "cairn_txn_get_many: keys[%zu] has length %u, outside [%u, %u]", i,
                           keys[i].len, (unsigned)CAIRN_KEY_PREFIX_SIZE, (unsigned)CAIRN_KEY_MAX);
    for (size_t base = 0; base < n; base += INDEX_BATCH) {
        size_t m = n - base < INDEX_BATCH ? n - base : INDEX_BATCH;
        const uint8_t *kp[INDEX_BATCH];
        size_t kl[INDEX_BATCH];
        uint64_t hs[INDEX_BATCH];
        node *nodes[INDEX_BATCH];
        for (size_t j = 0; j < m; j++) {
            kp[j] = keys[base + j].bytes;
            kl[j] = keys[base + j].len;
            hs[j] = index_hash(kp[j], kl[j]);
        }
        index_get_batch(&txn->db->ix, kp, kl, hs, m, nodes);
        for (size_t j = 0; j < m; j++) {
            const version *v = NULL;
            long w = txn->nops ? txn_find_write(txn, kp[j], kl[j], hs[j]) : -1;
            if (w >= 0) {
                v = txn->ops[w].v;
            } else {
                v = nodes[j] ? node_version_at(nodes[j], txn->snap) : NULL;
                if (txn->opts.mode == CAIRN_TXN_READ_WRITE) {
                    st = record_read(txn, kp[j], kl[j], hs[j]);
                    if (st != CAIRN_OK)
                        return st;
                }
            }
            bool live = version_live(v, txn->now_us);
            statuses[base + j] = live ? CAIRN_OK : CAIRN_NOT_FOUND;
            values[base + j] = live ? version_value(v) : cairn_slice_of(NULL, 0);
        }
    }
    return CAIRN_OK;
}

cairn_status cairn_txn_get(cairn_txn *txn, const cairn_key *key, cairn_slice *valuep)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    if (key == NULL || valuep == NULL)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_INVALID_ARGUMENT,
                       "cairn_txn_get: %s is NULL", key == NULL ? "key" : "valuep");
    if (key->len > CAIRN_KEY_MAX || key->len < CAIRN_KEY_PREFIX_SIZE)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_INVALID_ARGUMENT,
                       "cairn_txn_get: key length %u is outside [%u, %u]", key->len,
                       (unsigned)CAIRN_KEY_PREFIX_SIZE, (unsigned)CAIRN_KEY_MAX);
    uint64_t hash = index_hash(key->bytes, key->len);
    const version *v;
    if (txn->nops) {
        long w = txn_find_write(txn, key->bytes, key->len, hash);
        if (w >= 0) {
            v = txn->ops[w].v;
            if (!version_live(v, txn->now_us))
                return CAIRN_NOT_FOUND;
            *valuep = version_value(v);
            return CAIRN_OK;
        }
    }
    node *n = index_get(&txn->db->ix, key->bytes, key->len, hash);
    v = n ? node_version_at(n, txn->snap) : NULL;
    if (txn->opts.mode == CAIRN_TXN_READ_WRITE) {
        st = record_read(txn, key->bytes, key->len, hash);
        if (st != CAIRN_OK)
            return st;
    }
    if (!version_live(v, txn->now_us))
        return CAIRN_NOT_FOUND;
    *valuep = version_value(v);
    return CAIRN_OK;
}

/* Buffers `v` as this transaction's write of `key`, replacing an earlier
 * write of the same key.  Takes ownership of `v` in every case. */
static cairn_status buffer_write(cairn_txn *t, const cairn_key *key, version *v)
{
    cairn_db *db = t->db;
    uint64_t hash = index_hash(key->bytes, key->len);
    index_prefetch(&db->ix, hash); /* commit looks the key up */
    long w = t->nops ? txn_find_write(t, key->bytes, key->len, hash) : -1;
    uint64_t add = version_value(v).len + (w < 0 ? key->len : 0);
    uint64_t sub = w >= 0 ? version_value(t->ops[w].v).len : 0;
    cairn_status st = CAIRN_OK;
    if (t->wbytes - sub + add > db->opts.max_txn_bytes) {
        st = err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_TOO_LARGE,
                     "transaction would write %llu bytes, past max_txn_bytes (%llu)",
                     (unsigned long long)(t->wbytes - sub + add), (unsigned long long)db->opts.max_txn_bytes);
        goto err;
    }
    if (w >= 0) {
        version *old = t->ops[w].v;
        atomic_store_explicit(&old->older, t->superseded, memory_order_relaxed);
        t->superseded = old;
        t->ops[w].v = v;
        t->wbytes = t->wbytes - sub + add;
        return CAIRN_OK;
    }
    if (t->nops >= db->opts.max_txn_ops) {
        st = err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_TOO_LARGE,
                     "transaction already writes %zu keys (max_txn_ops)", t->nops);
        goto err;
    }
    if (t->nops == t->capops) {
        size_t cap = t->capops ? t->capops * 2 : 8;
        wop *ops = realloc(t->ops, cap * sizeof *ops);
        if (ops == NULL)
            goto oom;
        t->ops = ops;
        t->capops = cap;
    }
    uint8_t *kcopy = arena_alloc(&t->mem, key->len);
    if (kcopy == NULL)
        goto oom;
    memcpy(kcopy, key->bytes, key->len);
    t->ops[t->nops++] = (wop){kcopy, key->len, hash, v};
    t->wbytes += add;
    if (t->nops > WMAP_THRESHOLD) {
        if (t->nops == WMAP_THRESHOLD + 1 || t->nops * 2 > t->wmap_cap) {
            if (wmap_rebuild(t, t->nops) != 0) {
                t->nops--;
                t->wbytes -= add;
                goto oom;
            }
        } else {
            uint32_t s = wmap_slot(hash, t->wmap_cap);
            while (t->wmap[s])
                s = (s + 1) & (uint32_t)(t->wmap_cap - 1);
            t->wmap[s] = (uint32_t)t->nops;
        }
    }
    return CAIRN_OK;
oom:
    st = err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_NO_MEMORY, "out of memory buffering a write");
err:
    version_free(v);
    return st;
}

static cairn_status write_check(cairn_txn *t, const cairn_key *key, const char *fn)
{
    cairn_status st = txn_usable(t);
    if (st != CAIRN_OK)
        return st;
    if (t->opts.mode == CAIRN_TXN_READ_ONLY)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_READ_ONLY, "%s: the transaction is read-only", fn);
    return key_check_writable(t, key);
}

static cairn_status put_common(cairn_txn *t, const cairn_key *key, cairn_slice value,
                               int64_t expires_at_us, const char *fn)
{
    cairn_status st = write_check(t, key, fn);
    if (st != CAIRN_OK)
        return st;
    if (value.data == NULL && value.len > 0)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_INVALID_ARGUMENT,
                       "%s: value.data is NULL with length %zu", fn, value.len);
    if (value.len > t->db->opts.max_value_size)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_TOO_LARGE,
                       "%s: value of %zu bytes is past max_value_size (%u)", fn, value.len,
                       t->db->opts.max_value_size);
    size_t skip = expires_at_us ? sizeof expires_at_us : 0;
    version *v = version_new((uint32_t)(value.len + skip));
    if (v == NULL)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    if (expires_at_us) {
        v->flags |= VERSION_EXPIRES;
        memcpy(v->data, &expires_at_us, sizeof expires_at_us);
    }
    if (value.len)
        memcpy(v->data + skip, value.data, value.len);
    return buffer_write(t, key, v);
}

cairn_status cairn_txn_put(cairn_txn *txn, const cairn_key *key, cairn_slice value)
{
    return put_common(txn, key, value, 0, "cairn_txn_put");
}

cairn_status cairn_txn_put_expiring(cairn_txn *txn, const cairn_key *key, cairn_slice value,
                                    int64_t expires_at_us)
{
    if (txn != NULL && txn->state == TXN_ACTIVE && expires_at_us <= 0)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_INVALID_ARGUMENT,
                       "cairn_txn_put_expiring: expires_at_us must be > 0 (got %lld)",
                       (long long)expires_at_us);
    return put_common(txn, key, value, expires_at_us, "cairn_txn_put_expiring");
}

cairn_status cairn_txn_delete(cairn_txn *txn, const cairn_key *key)
{
    cairn_status st = write_check(txn, key, "cairn_txn_delete");
    if (st != CAIRN_OK)
        return st;
    version *v = version_new(0);
    if (v == NULL)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_NO_MEMORY, "cairn_txn_delete: out of memory");
    v->flags = VERSION_TOMBSTONE;
    return buffer_write(txn, key, v);
}

/* Commit lock held.  CAIRN_CONFLICT when anything read changed after the
 * snapshot (a newer version, committed or committing, exists). */
static cairn_status validate(cairn_txn *t)
{
    cairn_db *db = t->db;
    for (size_t i = 0; i < t->nreads; i++) {
        const rread *r = &t->reads[i];
        node *n = index_get(&db->ix, r->key, r->klen, r->hash);
        if (n && atomic_load_explicit(&n->head, memory_order_relaxed)->ver > t->snap)
            return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_CONFLICT,
                           "a key this transaction read (%u bytes) was changed by a later commit", r->klen);
    }
    for (size_t i = 0; i < t->nranges; i++) {
        const rrange *r = &t->ranges[i];
        if (r->empty)
            continue;
        index_cursor cur;
        index_cursor_seek(&cur, &db->ix, r->start, r->slen);
        for (node *n; (n = index_cursor_next(&cur, &db->ix)) != NULL;) {
            if (!r->unbounded) {
                int c = key_cmp(node_key(n), n->keylen, r->end, r->elen);
                if (c > 0 || (c == 0 && !r->inclusive))
                    break;
            }
            if (atomic_load_explicit(&n->head, memory_order_relaxed)->ver > t->snap)
                return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_CONFLICT,
                               "a range this transaction scanned was changed by a later commit");
        }
    }
    return CAIRN_OK;
}

static void discard_nodes(cairn_txn *t, node **nodes, bool *fresh);

/* Commit lock held, validation passed.  Finds or allocates the node of
 * every write before changing anything, so running out of memory leaves the
 * index untouched.  nodes[i]: the existing node, a new unlinked node
 * (fresh[i]), or NULL (deleting a key that does not exist). */
static cairn_status prepare_nodes(cairn_txn *t, node **nodes, bool *fresh, size_t *nfreshp)
{
    cairn_db *db = t->db;
    size_t nfresh = 0;
    const uint8_t *kp[INDEX_BATCH];
    size_t kl[INDEX_BATCH];
    uint64_t hs[INDEX_BATCH];
    for (size_t i = 0; i < t->nops; i++) {
        wop *w = &t->ops[i];
        fresh[i] = false;
        if (t->nops > 1 && i % INDEX_BATCH == 0) {
            /* look a batch of keys up at once: their misses overlap */
            size_t m = t->nops - i < INDEX_BATCH ? t->nops - i : INDEX_BATCH;
            for (size_t j = 0; j < m; j++) {
                kp[j] = t->ops[i + j].key;
                kl[j] = t->ops[i + j].klen;
                hs[j] = t->ops[i + j].hash;
            }
            index_get_batch(&db->ix, kp, kl, hs, m, &nodes[i]);
        } else if (t->nops == 1) {
            nodes[i] = index_get(&db->ix, w->key, w->klen, w->hash);
        }
        if (nodes[i] || (w->v->flags & VERSION_TOMBSTONE))
            continue;
        version *embedded;
        nodes[i] = index_node_new(&db->ix, w->key, w->klen, w->v, &embedded);
        if (nodes[i] == NULL)
            goto oom;
        fresh[i] = true;
        nfresh++;
        if (embedded) { /* the node now carries the value: drop the copy */
            version_free(w->v);
            w->v = embedded;
        }
    }
    if (nfresh && index_reserve(&db->ix, nfresh) != 0)
        goto oom;
    *nfreshp = nfresh;
    return CAIRN_OK;
oom:
    discard_nodes(t, nodes, fresh);
    return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_NO_MEMORY, "cairn_txn_commit: out of memory");
}

static void discard_nodes(cairn_txn *t, node **nodes, bool *fresh)
{
    for (size_t i = 0; i < t->nops; i++) {
        if (!fresh[i])
            continue;
        version *v = t->ops[i].v;
        if (v->flags & VERSION_EMBEDDED) { /* give the write its own copy back */
            version *copy = version_new(v->len);
            if (copy) {
                memcpy(copy, v, sizeof(version) + v->len);
                copy->flags &= ~VERSION_EMBEDDED;
            }
            t->ops[i].v = copy ? copy : version_new(0);
        }
        index_free_node(nodes[i]);
        fresh[i] = false;
    }
}

/* Commit lock held: links every buffered version at commit version `ver`. */
static void apply(cairn_txn *t, node **nodes, const bool *fresh, uint64_t ver)
{
    cairn_db *db = t->db;
    uint64_t min_snap = snapreg_min(&db->snaps, atomic_load_explicit(&db->visible, memory_order_relaxed));
    uint64_t added = 0, keys = 0;
    for (size_t i = 0; i < t->nops; i++) {
        wop *w = &t->ops[i];
        w->v->ver = ver;
        if (fresh[i]) {
            index_link(&db->ix, nodes[i], w->hash, w->v);
            keys++;
            added++;
        } else if (nodes[i]) {
            gc_install(db, nodes[i], w->v, min_snap);
            added++;
        } else { /* deleting a key that never existed: nothing to do */
            version_free(w->v);
        }
    }
    stat_add_locked(&db->st_keys, (int64_t)keys);
    stat_add_locked(&db->st_versions, (int64_t)added);
}

cairn_status cairn_txn_commit(cairn_txn *txn)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    cairn_db *db = txn->db;
    if (txn->opts.mode == CAIRN_TXN_READ_ONLY || txn->nops == 0) {
        txn_finish(txn, false);
        atomic_fetch_add_explicit(&db->st_ro_commits, 1, memory_order_relaxed);
        idle_gc(db);
        return CAIRN_OK;
    }
    node *small[16];
    bool small_fresh[16];
    node **nodes = small;
    bool *fresh = small_fresh;
    if (txn->nops > 16) {
        nodes = malloc(txn->nops * (sizeof *nodes + sizeof *fresh));
        fresh = (bool *)(nodes + txn->nops);
    }
    if (nodes == NULL) {
        st = err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_NO_MEMORY, "cairn_txn_commit: out of memory");
        txn_finish(txn, false);
        return st;
    }
    size_t nfresh = 0;
    pthread_mutex_lock(&db->commit_lock);
    st = validate(txn);
    if (st == CAIRN_OK)
        st = prepare_nodes(txn, nodes, fresh, &nfresh);
    if (st != CAIRN_OK) {
        pthread_mutex_unlock(&db->commit_lock);
        if (st == CAIRN_CONFLICT)
            atomic_fetch_add_explicit(&db->st_conflicts, 1, memory_order_relaxed);
        txn_finish(txn, false);
        if (nodes != small)
            free(nodes);
        return st;
    }
    uint64_t ver = ++db->assigned, lsn = 0;
    if (db->log) {
        st = durable_append(txn, ver, &lsn);
        if (st != CAIRN_OK) {
            db->assigned--;
            discard_nodes(txn, nodes, fresh);
            pthread_mutex_unlock(&db->commit_lock);
            txn_finish(txn, false);
            if (nodes != small)
                free(nodes);
            return st;
        }
    }
    apply(txn, nodes, fresh, ver);
    if (db->log == NULL) /* in memory: durable already, and published in order by the lock */
        atomic_store_explicit(&db->visible, ver, memory_order_release);
    gc_step(db, GC_BUDGET_COMMIT);
    pthread_mutex_unlock(&db->commit_lock);

    if (nodes != small)
        free(nodes);
    txn->commit_ver = ver;
    txn_finish(txn, true);
    if (db->log) {
        /* the versions are linked (invisible); make them durable, then visible */
        st = durable_finish_commit(txn, ver, lsn);
        if (st != CAIRN_OK) {
            txn->commit_ver = 0;
            return st;
        }
    }
    atomic_fetch_add_explicit(&db->st_commits, 1, memory_order_relaxed);
    return CAIRN_OK;
}

cairn_status cairn_txn_abort(cairn_txn *txn)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    txn_finish(txn, false);
    atomic_fetch_add_explicit(&txn->db->st_aborts, 1, memory_order_relaxed);
    idle_gc(txn->db);
    return CAIRN_OK;
}

void cairn_txn_free(cairn_txn *txn)
{
    if (txn == NULL)
        return;
    if (txn->state == TXN_ACTIVE)
        cairn_txn_abort(txn);
    iter_free_all(txn);
    cairn_db *db = txn->db;
    txn->state = TXN_IDLE;
    pthread_mutex_lock(&db->pool_lock);
    txn->pool_next = db->pool;
    db->pool = txn;
    pthread_mutex_unlock(&db->pool_lock);
}

void txn_destroy_all(cairn_db *db)
{
    cairn_txn *t = db->handles;
    while (t) {
        cairn_txn *next = t->all_next;
        txn_destroy(t);
        t = next;
    }
    db->handles = NULL;
    db->pool = NULL;
}

bool cairn_txn_is_active(const cairn_txn *txn)
{
    return txn != NULL && txn->state == TXN_ACTIVE;
}

uint64_t cairn_txn_snapshot_version(const cairn_txn *txn)
{
    return txn ? txn->snap : 0;
}

uint64_t cairn_txn_commit_version(const cairn_txn *txn)
{
    return txn ? txn->commit_ver : 0;
}

int64_t cairn_txn_now_us(const cairn_txn *txn)
{
    return txn ? txn->now_us : 0;
}

cairn_db *cairn_txn_db(const cairn_txn *txn)
{
    return txn ? txn->db : NULL;
}

const char *cairn_txn_errmsg(const cairn_txn *txn)
{
    return txn ? txn->errmsg : "transaction handle is NULL";
}

static void backoff(const cairn_db *db, uint32_t attempt, uint64_t *rng)
{
    uint64_t lo = db->opts.retry_backoff_min_us, hi = db->opts.retry_backoff_max_us;
    uint64_t d = lo;
    for (uint32_t i = 1; i < attempt && d < hi; i++)
        d *= 2;
    if (d > hi)
        d = hi;
    if (d == 0)
        return;
    if (*rng == 0) /* seeded on the first wait: most runs never wait */
        *rng = (uint64_t)(uintptr_t)rng ^ (uint64_t)db_clock_now(db);
    d = d / 2 + splitmix64(rng) % (d / 2 + 1);
    struct timespec ts = {(time_t)(d / 1000000), (long)(d % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

cairn_status cairn_db_run(cairn_db *db, const cairn_txn_options *opts, cairn_txn_fn fn, void *ctx,
                          uint32_t *attemptsp)
{
    if (db == NULL || fn == NULL)
        return CAIRN_INVALID_ARGUMENT;
    cairn_txn *t = NULL;
    uint64_t rng = 0;
    uint32_t attempt = 1;
    cairn_status st;
    while ((st = cairn_txn_begin(db, opts, &t)) == CAIRN_BUSY && attempt < db->opts.max_retries)
        backoff(db, attempt++, &rng);
    if (st != CAIRN_OK) {
        if (attemptsp)
            *attemptsp = attempt;
        return st;
    }
    for (;; attempt++) {
        st = fn(t, ctx);
        if (st == CAIRN_OK)
            st = cairn_txn_commit(t);
        else if (t->state == TXN_ACTIVE)
            cairn_txn_abort(t);
        if (st != CAIRN_CONFLICT || attempt >= db->opts.max_retries)
            break;
        backoff(db, attempt, &rng);
        /* every slot taken: wait for one like for a conflict */
        while ((st = cairn_txn_restart(t)) == CAIRN_BUSY && ++attempt < db->opts.max_retries)
            backoff(db, attempt, &rng);
        if (st != CAIRN_OK) {
            st = CAIRN_BUSY;
            break;
        }
    }
    if (st == CAIRN_CONFLICT)
        db_error(db, CAIRN_CONFLICT, "cairn_db_run: still conflicting after %u attempts", attempt);
    else if (st != CAIRN_OK && t->errmsg[0])
        db_error(db, st, "%s", t->errmsg); /* the transaction's message outlives it */
    cairn_txn_free(t);
    if (attemptsp)
        *attemptsp = attempt;
    return st;
}
