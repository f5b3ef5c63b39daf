/* prim.c - helpers shared by the primitive facades (see prim.h). */
#include "primitives/prim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/kv.h"
#include "cairn/runindex.h"

void cairn_bytes_free(cairn_bytes *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

cairn_status prim_txn_err(cairn_txn *txn, cairn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(txn->errmsg, sizeof txn->errmsg, fmt, ap);
    va_end(ap);
    return status;
}

cairn_status prim_check_run(cairn_txn *txn, const cairn_run_id *run, const char *fn)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    if (run == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: run is NULL", fn);
    if (cairn_run_id_is_zero(run))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT,
                            "%s: the all-zero run id is reserved for the run index", fn);
    return CAIRN_OK;
}

void prim_runs_registered(cairn_db *db)
{
    atomic_store_explicit(&db->runs_registered, 2, memory_order_release);
}

/* Whether the RunIndex holds any key (looked up once, then remembered). */
static bool any_run_registered(cairn_txn *txn)
{
    int st = atomic_load_explicit(&txn->db->runs_registered, memory_order_acquire);
    if (st == 0) {
        cairn_run_id zero;
        memset(&zero, 0, sizeof zero);
        cairn_key k;
        cairn_key_init(&k, &zero, CAIRN_TAG_RUN);
        cairn_key end;
        cairn_key_prefix_end(&k, &end);
        node *n = index_seek(&txn->db->ix, k.bytes, k.len);
        bool some = n && key_cmp(n->key, n->keylen, end.bytes, end.len) < 0;
        int want = some ? 2 : 1, expect = 0;
        atomic_compare_exchange_strong(&txn->db->runs_registered, &expect, want);
        st = atomic_load_explicit(&txn->db->runs_registered, memory_order_acquire);
    }
    return st == 2;
}

cairn_status prim_check_write(cairn_txn *txn, const cairn_run_id *run, const char *fn)
{
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK || !any_run_registered(txn))
        return st;
    st = cairn_run_check_writable_tx(txn, run);
    if (st == CAIRN_READ_ONLY) {
        char msg[ERRMSG_CAP];
        snprintf(msg, sizeof msg, "%s", txn->errmsg);
        return prim_txn_err(txn, st, "%s: %s", fn, msg);
    }
    return st;
}

cairn_status prim_key(cairn_txn *txn, cairn_key *key, const cairn_run_id *run, cairn_tag tag,
                      cairn_slice rest, size_t max, bool nonempty, const char *fn, const char *what)
{
    if (rest.data == NULL && rest.len > 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: %s data is NULL with length %zu", fn,
                            what, rest.len);
    if (nonempty && rest.len == 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: the %s is empty", fn, what);
    if (rest.len > max)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: the %s is %zu bytes, past the limit of %zu", fn,
                            what, rest.len, max);
    cairn_status st = cairn_key_make(key, run, tag, rest);
    if (st != CAIRN_OK)
        return prim_txn_err(txn, st, "%s: cannot build the key: %s", fn, cairn_strerror(st));
    return CAIRN_OK;
}

cairn_status prim_check_bytes(cairn_txn *txn, cairn_slice s, size_t min, size_t max, const char *fn,
                              const char *what)
{
    if (s.data == NULL && s.len)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: %s data is NULL with length %zu", fn, what,
                            s.len);
    if (s.len < min)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: the %s is empty", fn, what);
    if (s.len > max)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: the %s is %zu bytes, past the limit of %zu", fn,
                            what, s.len, max);
    return CAIRN_OK;
}

cairn_status prim_copy(cairn_slice s, cairn_bytes *out)
{
    uint8_t *p = malloc(s.len ? s.len : 1);
    if (p == NULL)
        return CAIRN_NO_MEMORY;
    if (s.len)
        memcpy(p, s.data, s.len);
    out->data = p;
    out->len = s.len;
    return CAIRN_OK;
}

typedef struct run_ctx {
    prim_body body;
    void *ctx;
    cairn_status body_status; /* what the last run of the body answered */
    char msg[ERRMSG_CAP];     /* and its message */
} run_ctx;

static cairn_status run_body(cairn_txn *txn, void *p)
{
    run_ctx *rc = p;
    cairn_status st = rc->body(txn, rc->ctx);
    rc->body_status = st;
    if (st != CAIRN_OK && st != CAIRN_DONE)
        snprintf(rc->msg, sizeof rc->msg, "%s", txn->errmsg);
    return st == CAIRN_DONE ? CAIRN_OK : st;
}

cairn_status prim_run(cairn_db *db, bool read_only, prim_body body, void *ctx)
{
    if (db == NULL)
        return CAIRN_INVALID_ARGUMENT;
    cairn_txn_options opts;
    cairn_txn_options_init(&opts);
    if (read_only)
        opts.mode = CAIRN_TXN_READ_ONLY;
    run_ctx rc = {body, ctx, CAIRN_OK, ""};
    cairn_status st = cairn_db_run(db, &opts, run_body, &rc, NULL);
    if (st == CAIRN_OK)
        return rc.body_status == CAIRN_DONE ? CAIRN_DONE : CAIRN_OK;
    if (st == rc.body_status && rc.msg[0])
        db_error(db, st, "%s", rc.msg);
    return st;
}

cairn_status prim_list_scan(cairn_txn *txn, const cairn_run_id *run, cairn_tag tag, cairn_slice prefix,
                            cairn_slice after, size_t max, size_t limit, const char *fn,
                            cairn_iter **itp)
{
    cairn_key pfx, start, end;
    cairn_status st;
    if ((st = prim_key(txn, &pfx, run, tag, prefix, max, false, fn, "prefix")) != CAIRN_OK ||
        (st = prim_key(txn, &start, run, tag, after, max, false, fn, "cursor")) != CAIRN_OK)
        return st;
    if ((st = cairn_key_prefix_end(&pfx, &end)) != CAIRN_OK)
        return prim_txn_err(txn, st, "%s: bad prefix", fn);
    /* start at the later of the prefix and just after the cursor */
    if (after.len && start.len < CAIRN_KEY_MAX) {
        start.bytes[start.len++] = 0; /* the smallest key after the cursor */
    } else if (after.len) {
        /* No key extends a key of the maximum length: the smallest key
         * after it ends at its last byte below 0xFF, incremented. */
        while (start.len > 0 && start.bytes[start.len - 1] == 0xFF)
            start.len--;
        if (start.len == 0) /* no key at all follows it */
            start = end;
        else
            start.bytes[start.len - 1]++;
    }
    if (key_cmp(start.bytes, start.len, pfx.bytes, pfx.len) < 0)
        start = pfx;
    return cairn_txn_scan(txn, &start, &end, limit + 1, itp);
}

int prim_pieces_add(prim_pieces *p, const void *data, size_t len)
{
    if (p->n == p->ncap) {
        size_t nc = p->ncap ? p->ncap * 2 : 64;
        size_t (*at)[2] = realloc(p->at, nc * sizeof *at);
        if (at == NULL)
            return -1;
        p->at = at;
        p->ncap = nc;
    }
    if (p->used + len > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4096;
        while (cap < p->used + len)
            cap *= 2;
        uint8_t *m = realloc(p->mem, cap);
        if (m == NULL)
            return -1;
        p->mem = m;
        p->cap = cap;
    }
    if (len)
        memcpy(p->mem + p->used, data, len);
    p->at[p->n][0] = p->used;
    p->at[p->n][1] = len;
    p->n++;
    p->used += len;
    return 0;
}

void prim_pieces_free(prim_pieces *p)
{
    free(p->mem);
    free(p->at);
    memset(p, 0, sizeof *p);
}

cairn_status prim_check_limit(cairn_txn *txn, size_t limit, const char *fn)
{
    if (limit == 0 || limit > CAIRN_LIST_LIMIT_MAX)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: limit %zu is outside 1..%u", fn, limit,
                            CAIRN_LIST_LIMIT_MAX);
    return CAIRN_OK;
}
