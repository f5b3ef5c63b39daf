/*
 * scan.c - ordered range scans at a snapshot, merged with the transaction's
 * own writes.
 *
 * The iterator walks the index a leaf at a time (index_cursor) from the
 * first key >= start and, beside it, a sorted copy of the transaction's write set taken when
 * the scan opened (keys and versions: a later write of the same key by the
 * transaction replaces the op's version, not the one captured here; the
 * replaced version lives until the transaction ends).  Equal keys take the
 * transaction's own write.  In a
 * read-write transaction every key the iterator moves past widens the
 * recorded range [start, last key] that commit validates; reaching the end
 * records the whole [start, end).
 */
#include <stdlib.h>
#include <string.h>

#include "engine/db_internal.h"

struct cairn_iter {
    cairn_txn *txn;
    uint64_t gen;                 /* txn->gen when opened */
    node *cur;                    /* next index node to consider */
    index_cursor pos;             /* the nodes after cur */
    uint32_t *wsorted;            /* own writes in key order (op indices) */
    const version **wver;         /* their versions when the scan opened */
    size_t wn, wpos;
    uint8_t end[CAIRN_KEY_MAX];
    uint32_t elen;                /* 0: unbounded */
    size_t limit, yielded;
    long range;                   /* index in txn->ranges, or -1 */
    bool done;
    struct cairn_iter *prev, *next;
};

static bool op_less(const cairn_txn *t, uint32_t a, uint32_t b)
{
    const wop *x = &t->ops[a], *y = &t->ops[b];
    return key_cmp(x->key, x->klen, y->key, y->klen) < 0;
}

/* Sorts op indices by key: insertion sort for small runs, then bottom-up
 * merges through `tmp` (n entries).  Keys in a write set are distinct. */
static void sort_ops(const cairn_txn *t, uint32_t *idx, uint32_t *tmp, size_t n)
{
    const size_t run = 16;
    for (size_t lo = 0; lo < n; lo += run) {
        size_t hi = lo + run < n ? lo + run : n;
        for (size_t i = lo + 1; i < hi; i++) {
            uint32_t v = idx[i];
            size_t j = i;
            while (j > lo && op_less(t, v, idx[j - 1])) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = v;
        }
    }
    for (size_t width = run; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = op_less(t, idx[j], idx[i]) ? idx[j++] : idx[i++];
            while (i < mid)
                tmp[k++] = idx[i++];
            while (j < hi)
                tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
}

static void iter_unlink(cairn_iter *it)
{
    cairn_txn *t = it->txn;
    if (it->prev)
        it->prev->next = it->next;
    else
        t->iters = it->next;
    if (it->next)
        it->next->prev = it->prev;
}

void cairn_iter_free(cairn_iter *iter)
{
    if (iter == NULL)
        return;
    iter_unlink(iter);
    free(iter->wsorted);
    free(iter->wver);
    free(iter);
}

void iter_free_all(cairn_txn *t)
{
    while (t->iters)
        cairn_iter_free(t->iters);
}

cairn_status cairn_txn_scan(cairn_txn *txn, const cairn_key *start, const cairn_key *end,
                            size_t limit, cairn_iter **iterp)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    if (start == NULL || iterp == NULL)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_INVALID_ARGUMENT,
                       "cairn_txn_scan: %s is NULL", start == NULL ? "start" : "iterp");
    if (start->len > CAIRN_KEY_MAX || (end && end->len > CAIRN_KEY_MAX))
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_INVALID_ARGUMENT,
                       "cairn_txn_scan: a bound is longer than CAIRN_KEY_MAX");
    cairn_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_NO_MEMORY, "cairn_txn_scan: out of memory");
    it->txn = txn;
    it->gen = txn->gen;
    it->limit = limit;
    it->range = -1;
    if (end && end->len) {
        memcpy(it->end, end->bytes, end->len);
        it->elen = end->len;
    }
    if (txn->nops) {
        it->wsorted = malloc(2 * txn->nops * sizeof *it->wsorted);
        if (it->wsorted == NULL)
            goto oom;
        for (size_t i = 0; i < txn->nops; i++) {
            const wop *w = &txn->ops[i];
            if (key_cmp(w->key, w->klen, start->bytes, start->len) < 0)
                continue;
            if (it->elen && key_cmp(w->key, w->klen, it->end, it->elen) >= 0)
                continue;
            it->wsorted[it->wn++] = (uint32_t)i;
        }
        sort_ops(txn, it->wsorted, it->wsorted + txn->nops, it->wn);
        it->wver = malloc((it->wn ? it->wn : 1) * sizeof *it->wver);
        if (it->wver == NULL)
            goto oom;
        for (size_t i = 0; i < it->wn; i++)
            it->wver[i] = txn->ops[it->wsorted[i]].v;
    }
    if (txn->opts.mode == CAIRN_TXN_READ_WRITE) {
        it->range = txn_add_range(txn, start->bytes, start->len, it->end, it->elen);
        if (it->range < 0)
            goto oom;
    }
    index_cursor_seek(&it->pos, &txn->db->ix, start->bytes, start->len);
    it->cur = index_cursor_next(&it->pos, &txn->db->ix);
    it->next = txn->iters;
    if (txn->iters)
        txn->iters->prev = it;
    txn->iters = it;
    *iterp = it;
    return CAIRN_OK;
oom:
    free(it->wsorted);
    free(it->wver);
    free(it);
    return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_NO_MEMORY, "cairn_txn_scan: out of memory");
}

cairn_status cairn_txn_scan_prefix(cairn_txn *txn, const cairn_key *prefix, size_t limit,
                                   cairn_iter **iterp)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    if (prefix == NULL)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, CAIRN_INVALID_ARGUMENT,
                       "cairn_txn_scan_prefix: prefix is NULL");
    cairn_key end;
    st = cairn_key_prefix_end(prefix, &end);
    if (st != CAIRN_OK)
        return err_fmt(txn->errmsg, sizeof txn->errmsg, st, "cairn_txn_scan_prefix: bad prefix");
    return cairn_txn_scan(txn, prefix, &end, limit, iterp);
}

/* Records that the iterator moved past `key` (inclusive). */
static void cover(cairn_iter *it, const uint8_t *key, size_t len)
{
    if (it->range < 0)
        return;
    rrange *r = &it->txn->ranges[it->range];
    memcpy(r->end, key, len);
    r->elen = (uint32_t)len;
    r->unbounded = false;
    r->inclusive = true;
    r->empty = false;
}

/* Records that the iterator reached the end of its range. */
static void cover_all(cairn_iter *it)
{
    if (it->range < 0)
        return;
    rrange *r = &it->txn->ranges[it->range];
    memcpy(r->end, it->end, it->elen);
    r->elen = it->elen;
    r->unbounded = it->elen == 0;
    r->inclusive = false;
    r->empty = false;
}

static bool past_end(const cairn_iter *it, const uint8_t *key, size_t len)
{
    return it->elen && key_cmp(key, len, it->end, it->elen) >= 0;
}

cairn_status cairn_iter_next(cairn_iter *iter, cairn_slice *keyp, cairn_slice *valuep)
{
    if (iter == NULL)
        return CAIRN_INVALID_ARGUMENT;
    cairn_txn *t = iter->txn;
    if (iter->gen != t->gen || t->state != TXN_ACTIVE)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_TXN_FINISHED,
                       "cairn_iter_next: the iterator's transaction has finished");
    if (keyp == NULL || valuep == NULL)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_INVALID_ARGUMENT,
                       "cairn_iter_next: %s is NULL", keyp == NULL ? "keyp" : "valuep");
    if (iter->done)
        return CAIRN_DONE;
    if (iter->limit && iter->yielded >= iter->limit) {
        iter->done = true;
        return CAIRN_DONE;
    }
    for (;;) {
        node *n = iter->cur;
        if (n && past_end(iter, node_key(n), n->keylen))
            n = iter->cur = NULL;
        const wop *w = iter->wpos < iter->wn ? &t->ops[iter->wsorted[iter->wpos]] : NULL;
        if (n == NULL && w == NULL) {
            iter->done = true;
            cover_all(iter);
            return CAIRN_DONE;
        }
        int c = n == NULL ? 1 : w == NULL ? -1 : key_cmp(node_key(n), n->keylen, w->key, w->klen);
        const uint8_t *key;
        size_t klen;
        const version *v;
        if (c < 0) {
            key = node_key(n);
            klen = n->keylen;
            v = node_version_at(n, t->snap);
            iter->cur = index_cursor_next(&iter->pos, &t->db->ix);
        } else {
            key = w->key;
            klen = w->klen;
            v = iter->wver[iter->wpos];
            iter->wpos++;
            if (c == 0)
                iter->cur = index_cursor_next(&iter->pos, &t->db->ix);
        }
        cover(iter, key, klen);
        if (!version_live(v, t->now_us))
            continue;
        *keyp = cairn_slice_of(key, klen);
        *valuep = version_value(v);
        iter->yielded++;
        return CAIRN_OK;
    }
}
