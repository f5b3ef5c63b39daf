/*
 * kv.c - KVStore: keys [run][0x01][user key], values as written (see
 * cairn/kv.h).  Expiry uses the engine's expiring puts, so an expired key
 * is absent to every read path without anything here checking times.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/kv.h"
#include "primitives/prim.h"

static cairn_status kv_key(cairn_txn *txn, cairn_key *key, const cairn_run_id *run, cairn_slice k,
                           const char *fn)
{
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    return prim_key(txn, key, run, CAIRN_TAG_KV, k, CAIRN_KV_KEY_MAX, true, fn, "key");
}

/* ---- _tx forms ---------------------------------------------------------- */

cairn_status cairn_kv_get_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                             cairn_slice *valuep)
{
    cairn_key k;
    cairn_status st = kv_key(txn, &k, run, key, "cairn_kv_get");
    if (st != CAIRN_OK)
        return st;
    if (valuep == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "cairn_kv_get: valuep is NULL");
    *valuep = cairn_slice_of(NULL, 0);
    return cairn_txn_get(txn, &k, valuep);
}

cairn_status cairn_kv_exists_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                                bool *existsp)
{
    cairn_key k;
    cairn_status st = kv_key(txn, &k, run, key, "cairn_kv_exists");
    if (st != CAIRN_OK)
        return st;
    if (existsp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "cairn_kv_exists: existsp is NULL");
    cairn_slice v;
    st = cairn_txn_get(txn, &k, &v);
    if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
        return st;
    *existsp = st == CAIRN_OK;
    return CAIRN_OK;
}

/* Checks and encodes the keys of a get_many into a new array (free it). */
static cairn_status many_keys(cairn_txn *txn, const cairn_run_id *run, const cairn_slice *keys,
                              size_t n, const void *values, const cairn_status *statuses,
                              cairn_key **encodedp)
{
    const char *fn = "cairn_kv_get_many";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (n && (keys == NULL || values == NULL || statuses == NULL))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                            keys == NULL ? "keys" : values == NULL ? "values" : "statuses");
    cairn_key *enc = malloc((n ? n : 1) * sizeof *enc);
    if (enc == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    for (size_t i = 0; i < n; i++) {
        st = prim_key(txn, &enc[i], run, CAIRN_TAG_KV, keys[i], CAIRN_KV_KEY_MAX, true, fn, "key");
        if (st != CAIRN_OK) {
            free(enc);
            char msg[ERRMSG_CAP];
            snprintf(msg, sizeof msg, "%s", txn->errmsg);
            return prim_txn_err(txn, st, "keys[%zu]: %s", i, msg);
        }
    }
    *encodedp = enc;
    return CAIRN_OK;
}

cairn_status cairn_kv_get_many_tx(cairn_txn *txn, const cairn_run_id *run, const cairn_slice *keys,
                                  size_t n, cairn_slice *values, cairn_status *statuses)
{
    cairn_key *enc;
    cairn_status st = many_keys(txn, run, keys, n, values, statuses, &enc);
    if (st != CAIRN_OK)
        return st;
    st = cairn_txn_get_many(txn, enc, n, values, statuses);
    free(enc);
    return st;
}

static cairn_status put_common(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                               cairn_slice value, int64_t ttl_us, const char *fn)
{
    cairn_key k;
    cairn_status st = kv_key(txn, &k, run, key, fn);
    if (st != CAIRN_OK || (st = prim_check_write(txn, run, fn)) != CAIRN_OK)
        return st;
    if (ttl_us == 0)
        return cairn_txn_put(txn, &k, value);
    if (ttl_us < 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: ttl_us must be > 0 (got %lld)", fn,
                            (long long)ttl_us);
    if (txn->now_us > INT64_MAX - ttl_us)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: ttl_us %lld overflows the clock", fn,
                            (long long)ttl_us);
    return cairn_txn_put_expiring(txn, &k, value, txn->now_us + ttl_us);
}

cairn_status cairn_kv_put_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                             cairn_slice value)
{
    return put_common(txn, run, key, value, 0, "cairn_kv_put");
}

cairn_status cairn_kv_put_ttl_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                                 cairn_slice value, int64_t ttl_us)
{
    if (txn != NULL && ttl_us == 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "cairn_kv_put_ttl: ttl_us must be > 0 (got 0)");
    return put_common(txn, run, key, value, ttl_us, "cairn_kv_put_ttl");
}

cairn_status cairn_kv_delete_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice key,
                                bool *existedp)
{
    cairn_key k;
    cairn_status st = kv_key(txn, &k, run, key, "cairn_kv_delete");
    if (st != CAIRN_OK || (st = prim_check_write(txn, run, "cairn_kv_delete")) != CAIRN_OK)
        return st;
    if (existedp) {
        cairn_slice v;
        st = cairn_txn_get(txn, &k, &v);
        if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
            return st;
        *existedp = st == CAIRN_OK;
    }
    return cairn_txn_delete(txn, &k);
}

/* ---- listing ------------------------------------------------------------ */

void cairn_kv_list_free(cairn_kv_list *listp)
{
    if (listp == NULL)
        return;
    free(listp->items);
    free(listp->mem);
    memset(listp, 0, sizeof *listp);
}

static cairn_status list_common(cairn_txn *txn, const cairn_run_id *run, cairn_slice prefix,
                                cairn_slice after, size_t limit, bool values, cairn_kv_list *listp,
                                const char *fn)
{
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (listp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: listp is NULL", fn);
    memset(listp, 0, sizeof *listp);
    if ((st = prim_check_limit(txn, limit, fn)) != CAIRN_OK)
        return st;
    cairn_iter *it = NULL;
    st = prim_list_scan(txn, run, CAIRN_TAG_KV, prefix, after, CAIRN_KV_KEY_MAX, limit, fn, &it);
    if (st != CAIRN_OK)
        return st;
    prim_pieces pc = {0}; /* key, then value (empty for keys only), per item */
    size_t n = 0;
    cairn_slice k, v;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        if (n == limit) {
            listp->more = true;
            break;
        }
        if (prim_pieces_add(&pc, (const uint8_t *)k.data + CAIRN_KEY_PREFIX_SIZE,
                            k.len - CAIRN_KEY_PREFIX_SIZE) != 0 ||
            prim_pieces_add(&pc, v.data, values ? v.len : 0) != 0)
            goto oom;
        n++;
    }
    cairn_iter_free(it);
    it = NULL;
    if (st != CAIRN_OK && st != CAIRN_DONE) {
        prim_pieces_free(&pc);
        return st;
    }
    listp->items = malloc((n ? n : 1) * sizeof *listp->items);
    if (listp->items == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        listp->items[i].key = prim_piece(&pc, 2 * i);
        listp->items[i].value = prim_piece(&pc, 2 * i + 1);
    }
    listp->n = n;
    listp->mem = pc.mem;
    if (n)
        listp->cursor = listp->items[n - 1].key;
    free(pc.at);
    return CAIRN_OK;
oom:
    cairn_iter_free(it);
    prim_pieces_free(&pc);
    free(listp->items);
    memset(listp, 0, sizeof *listp);
    return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
}

cairn_status cairn_kv_list_keys_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice prefix,
                                   cairn_slice after, size_t limit, cairn_kv_list *listp)
{
    return list_common(txn, run, prefix, after, limit, false, listp, "cairn_kv_list_keys");
}

cairn_status cairn_kv_list_pairs_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice prefix,
                                    cairn_slice after, size_t limit, cairn_kv_list *listp)
{
    return list_common(txn, run, prefix, after, limit, true, listp, "cairn_kv_list_pairs");
}

/* ---- implicit forms ----------------------------------------------------- */

typedef struct kv_call {
    const cairn_run_id *run;
    cairn_slice key, value, prefix, after;
    int64_t ttl_us;
    size_t limit;
    bool flag;
    cairn_bytes *out;
    const cairn_slice *keys;
    size_t n;
    cairn_status *statuses;
    cairn_kv_list *list;
    bool list_values;
} kv_call;

static cairn_status get_body(cairn_txn *txn, void *p)
{
    kv_call *c = p;
    cairn_bytes_free(c->out); /* from an earlier attempt */
    cairn_slice v;
    cairn_status st = cairn_kv_get_tx(txn, c->run, c->key, &v);
    if (st != CAIRN_OK)
        return st;
    if (prim_copy(v, c->out) != CAIRN_OK)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "cairn_kv_get: out of memory copying the value");
    return CAIRN_OK;
}

cairn_status cairn_kv_get(cairn_db *db, const cairn_run_id *run, cairn_slice key, cairn_bytes *valuep)
{
    if (valuep == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_kv_get: valuep is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    valuep->data = NULL;
    valuep->len = 0;
    kv_call c = {.run = run, .key = key, .out = valuep};
    cairn_status st = prim_run(db, true, get_body, &c);
    if (st != CAIRN_OK)
        cairn_bytes_free(valuep);
    return st;
}

static cairn_status exists_body(cairn_txn *txn, void *p)
{
    kv_call *c = p;
    return cairn_kv_exists_tx(txn, c->run, c->key, &c->flag);
}

cairn_status cairn_kv_exists(cairn_db *db, const cairn_run_id *run, cairn_slice key, bool *existsp)
{
    if (existsp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_kv_exists: existsp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    kv_call c = {.run = run, .key = key};
    cairn_status st = prim_run(db, true, exists_body, &c);
    if (st == CAIRN_OK)
        *existsp = c.flag;
    return st;
}

static cairn_status get_many_body(cairn_txn *txn, void *p)
{
    kv_call *c = p;
    for (size_t i = 0; i < c->n; i++)
        cairn_bytes_free(&c->out[i]);
    cairn_slice *vals = malloc((c->n ? c->n : 1) * sizeof *vals);
    if (vals == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "cairn_kv_get_many: out of memory");
    cairn_status st = cairn_kv_get_many_tx(txn, c->run, c->keys, c->n, vals, c->statuses);
    for (size_t i = 0; st == CAIRN_OK && i < c->n; i++) {
        if (c->statuses[i] == CAIRN_OK && prim_copy(vals[i], &c->out[i]) != CAIRN_OK)
            st = prim_txn_err(txn, CAIRN_NO_MEMORY, "cairn_kv_get_many: out of memory copying values");
    }
    free(vals);
    return st;
}

cairn_status cairn_kv_get_many(cairn_db *db, const cairn_run_id *run, const cairn_slice *keys,
                               size_t n, cairn_bytes *values, cairn_status *statuses)
{
    if (n && values == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_kv_get_many: values is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        values[i] = (cairn_bytes){NULL, 0};
    kv_call c = {.run = run, .keys = keys, .n = n, .out = values, .statuses = statuses};
    cairn_status st = prim_run(db, true, get_many_body, &c);
    if (st != CAIRN_OK)
        for (size_t i = 0; i < n; i++)
            cairn_bytes_free(&values[i]);
    return st;
}

static cairn_status put_body(cairn_txn *txn, void *p)
{
    kv_call *c = p;
    if (c->ttl_us)
        return cairn_kv_put_ttl_tx(txn, c->run, c->key, c->value, c->ttl_us);
    return cairn_kv_put_tx(txn, c->run, c->key, c->value);
}

cairn_status cairn_kv_put(cairn_db *db, const cairn_run_id *run, cairn_slice key, cairn_slice value)
{
    kv_call c = {.run = run, .key = key, .value = value};
    return prim_run(db, false, put_body, &c);
}

cairn_status cairn_kv_put_ttl(cairn_db *db, const cairn_run_id *run, cairn_slice key,
                              cairn_slice value, int64_t ttl_us)
{
    if (ttl_us <= 0)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_kv_put_ttl: ttl_us must be > 0 (got %lld)",
                             (long long)ttl_us)
                  : CAIRN_INVALID_ARGUMENT;
    kv_call c = {.run = run, .key = key, .value = value, .ttl_us = ttl_us};
    return prim_run(db, false, put_body, &c);
}

static cairn_status delete_body(cairn_txn *txn, void *p)
{
    kv_call *c = p;
    return cairn_kv_delete_tx(txn, c->run, c->key, &c->flag);
}

cairn_status cairn_kv_delete(cairn_db *db, const cairn_run_id *run, cairn_slice key, bool *existedp)
{
    kv_call c = {.run = run, .key = key};
    cairn_status st = prim_run(db, false, delete_body, &c);
    if (st == CAIRN_OK && existedp)
        *existedp = c.flag;
    return st;
}

static cairn_status list_body(cairn_txn *txn, void *p)
{
    kv_call *c = p;
    cairn_kv_list_free(c->list);
    return list_common(txn, c->run, c->prefix, c->after, c->limit, c->list_values, c->list,
                       c->list_values ? "cairn_kv_list_pairs" : "cairn_kv_list_keys");
}

static cairn_status list_implicit(cairn_db *db, const cairn_run_id *run, cairn_slice prefix,
                                  cairn_slice after, size_t limit, bool values, cairn_kv_list *listp)
{
    if (listp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_kv_list: listp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    memset(listp, 0, sizeof *listp);
    kv_call c = {.run = run, .prefix = prefix, .after = after, .limit = limit, .list = listp,
                 .list_values = values};
    cairn_status st = prim_run(db, true, list_body, &c);
    if (st != CAIRN_OK)
        cairn_kv_list_free(listp);
    return st;
}

cairn_status cairn_kv_list_keys(cairn_db *db, const cairn_run_id *run, cairn_slice prefix,
                                cairn_slice after, size_t limit, cairn_kv_list *listp)
{
    return list_implicit(db, run, prefix, after, limit, false, listp);
}

cairn_status cairn_kv_list_pairs(cairn_db *db, const cairn_run_id *run, cairn_slice prefix,
                                 cairn_slice after, size_t limit, cairn_kv_list *listp)
{
    return list_implicit(db, run, prefix, after, limit, true, listp);
}

/* ---- expiry sweep ------------------------------------------------------- */

enum { SWEEP_BATCH = 1000 };

typedef struct sweep {
    const cairn_run_id *run;
    cairn_key from;                /* where the next candidate search starts */
    bool from_after;               /* strictly after `from` */
    bool done;                     /* the search reached the end */
    size_t n;                      /* candidates found */
    cairn_key *cand;               /* SWEEP_BATCH of them */
    uint64_t removed;
} sweep;

/* Whether the version of `key` a transaction sees is an expired value. */
static bool expired_at(cairn_txn *txn, const uint8_t *key, size_t len)
{
    node *n = index_get(&txn->db->ix, key, len, index_hash(key, len));
    const version *v = n ? node_version_at(n, txn->snap) : NULL;
    return v && !(v->flags & VERSION_TOMBSTONE) && (v->flags & VERSION_EXPIRES) &&
           !version_live(v, txn->now_us);
}

cairn_status kv_delete_expired_tx(cairn_txn *txn, const cairn_run_id *run)
{
    cairn_key pfx, end, k;
    cairn_key_init(&pfx, run, CAIRN_TAG_KV);
    cairn_status st = cairn_key_prefix_end(&pfx, &end);
    if (st != CAIRN_OK)
        return st;
    index_cursor cur;
    index_cursor_seek(&cur, &txn->db->ix, pfx.bytes, pfx.len);
    node *n;
    while ((n = index_cursor_next(&cur, &txn->db->ix)) != NULL) {
        if (key_cmp(n->key, n->keylen, end.bytes, end.len) >= 0)
            break;
        if (!expired_at(txn, n->key, n->keylen))
            continue;
        k.len = n->keylen;
        memcpy(k.bytes, n->key, n->keylen);
        if ((st = cairn_txn_delete(txn, &k)) != CAIRN_OK) /* buffered: the walk is unaffected */
            return st;
    }
    return CAIRN_OK;
}

/* Read-only: collects up to SWEEP_BATCH expired KV keys from sw->from on. */
static cairn_status sweep_find(cairn_txn *txn, void *p)
{
    sweep *sw = p;
    sw->n = 0;
    cairn_key end;
    bool bounded = false;
    if (sw->run) {
        cairn_key pfx;
        cairn_key_init(&pfx, sw->run, CAIRN_TAG_KV);
        if (cairn_key_prefix_end(&pfx, &end) == CAIRN_OK)
            bounded = true;
    }
    index_cursor cur;
    index_cursor_seek(&cur, &txn->db->ix, sw->from.bytes, sw->from.len);
    node *n;
    while ((n = index_cursor_next(&cur, &txn->db->ix)) != NULL) {
        if (bounded && key_cmp(n->key, n->keylen, end.bytes, end.len) >= 0)
            break;
        if (sw->from_after && key_cmp(n->key, n->keylen, sw->from.bytes, sw->from.len) <= 0)
            continue;
        if (n->keylen <= CAIRN_KEY_PREFIX_SIZE || n->key[CAIRN_RUN_ID_SIZE] != CAIRN_TAG_KV)
            continue;
        if (!expired_at(txn, n->key, n->keylen))
            continue;
        cairn_key *k = &sw->cand[sw->n++];
        k->len = n->keylen;
        memcpy(k->bytes, n->key, n->keylen);
        if (sw->n == SWEEP_BATCH)
            return CAIRN_OK;
    }
    sw->done = true;
    return CAIRN_OK;
}

/* Read-write: deletes the candidates that are still expired. */
static cairn_status sweep_delete(cairn_txn *txn, void *p)
{
    sweep *sw = p;
    uint64_t removed = 0;
    for (size_t i = 0; i < sw->n; i++) {
        cairn_slice v;
        cairn_status st = cairn_txn_get(txn, &sw->cand[i], &v); /* the read a re-put conflicts with */
        if (st == CAIRN_OK)
            continue; /* written again meanwhile */
        if (st != CAIRN_NOT_FOUND)
            return st;
        if (!expired_at(txn, sw->cand[i].bytes, sw->cand[i].len))
            continue;
        if ((st = cairn_txn_delete(txn, &sw->cand[i])) != CAIRN_OK)
            return st;
        removed++;
    }
    sw->removed = removed; /* this attempt's count: a retry recounts */
    return CAIRN_OK;
}

cairn_status cairn_kv_sweep_expired(cairn_db *db, const cairn_run_id *run, uint64_t *removedp)
{
    if (db == NULL)
        return CAIRN_INVALID_ARGUMENT;
    if (run && cairn_run_id_is_zero(run))
        return db_error(db, CAIRN_INVALID_ARGUMENT,
                        "cairn_kv_sweep_expired: the all-zero run id is reserved for the run index");
    sweep sw = {.run = run};
    sw.cand = malloc(SWEEP_BATCH * sizeof *sw.cand);
    if (sw.cand == NULL)
        return db_error(db, CAIRN_NO_MEMORY, "cairn_kv_sweep_expired: out of memory");
    if (run)
        cairn_key_init(&sw.from, run, CAIRN_TAG_KV);
    else
        sw.from.len = 0;
    uint64_t total = 0;
    cairn_status st = CAIRN_OK;
    while (!sw.done) {
        if ((st = prim_run(db, true, sweep_find, &sw)) != CAIRN_OK)
            break;
        if (sw.n == 0)
            break;
        if ((st = prim_run(db, false, sweep_delete, &sw)) != CAIRN_OK)
            break;
        total += sw.removed;
        sw.from = sw.cand[sw.n - 1];
        sw.from_after = true;
    }
    free(sw.cand);
    if (removedp)
        *removedp = total;
    return st;
}
