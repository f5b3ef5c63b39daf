/*
 * statecell.c - StateCell: keys [run][0x03][name], values
 * [version: u64 BE][updated_at_us: i64 BE][value] (see cairn/statecell.h
 * and docs/FORMAT.md).  Every write reads the cell first, in the same
 * transaction, so two writers of one cell always conflict and versions
 * never repeat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/statecell.h"
#include "primitives/prim.h"

/* Values up to this size are framed on the stack. */
enum { CELL_STACK_BUF = 256 };

static cairn_status cell_key(cairn_txn *txn, cairn_key *key, const cairn_run_id *run,
                             cairn_slice name, const char *fn)
{
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    return prim_key(txn, key, run, CAIRN_TAG_STATE, name, CAIRN_CELL_NAME_MAX, true, fn, "name");
}

/* A value's pointer and size, against max_value_size less the header. */
static cairn_status check_value(cairn_txn *txn, cairn_slice value, const char *fn, const char *what)
{
    if (value.data == NULL && value.len > 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: %s data is NULL with length %zu", fn,
                            what, value.len);
    uint32_t max = txn->db->opts.max_value_size;
    if (value.len > max || max - value.len < CAIRN_CELL_HEADER_SIZE)
        return prim_txn_err(txn, CAIRN_TOO_LARGE,
                            "%s: %s is %zu bytes, past the cell limit of %u (max_value_size %u less "
                            "the %d-byte cell header)",
                            fn, what, value.len,
                            max > CAIRN_CELL_HEADER_SIZE ? max - CAIRN_CELL_HEADER_SIZE : 0, max,
                            CAIRN_CELL_HEADER_SIZE);
    return CAIRN_OK;
}

/* Reads and decodes the cell under `key`: CAIRN_OK with *viewp set,
 * CAIRN_NOT_FOUND, CAIRN_CORRUPT, or the engine's failure. */
static cairn_status cell_get(cairn_txn *txn, const cairn_key *key, cairn_cell_view *viewp,
                             const char *fn)
{
    cairn_slice raw;
    cairn_status st = cairn_txn_get(txn, key, &raw);
    if (st != CAIRN_OK)
        return st;
    if (raw.len < CAIRN_CELL_HEADER_SIZE)
        return prim_txn_err(txn, CAIRN_CORRUPT,
                            "%s: the stored cell is %zu bytes, shorter than its %d-byte header", fn,
                            raw.len, CAIRN_CELL_HEADER_SIZE);
    const uint8_t *p = raw.data;
    uint64_t ver = prim_get_be64(p);
    if (ver == 0)
        return prim_txn_err(txn, CAIRN_CORRUPT, "%s: the stored cell has version 0", fn);
    viewp->version = ver;
    viewp->updated_at_us = (int64_t)prim_get_be64(p + 8);
    viewp->value = cairn_slice_of(raw.len > CAIRN_CELL_HEADER_SIZE ? p + CAIRN_CELL_HEADER_SIZE : NULL,
                                  raw.len - CAIRN_CELL_HEADER_SIZE);
    return CAIRN_OK;
}

/* The version after `v`; CAIRN_LIMIT when there is none. */
static cairn_status next_version(cairn_txn *txn, uint64_t v, uint64_t *nextp, const char *fn)
{
    if (v == UINT64_MAX)
        return prim_txn_err(txn, CAIRN_LIMIT, "%s: the cell is at the largest version", fn);
    *nextp = v + 1;
    return CAIRN_OK;
}

/* Writes `value` (already checked) as the cell under `key` at version `ver`,
 * stamped with the transaction's time. */
static cairn_status cell_put(cairn_txn *txn, const cairn_key *key, uint64_t ver, cairn_slice value,
                             const char *fn)
{
    uint8_t stackbuf[CELL_STACK_BUF];
    size_t len = CAIRN_CELL_HEADER_SIZE + value.len;
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (buf == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory framing a %zu-byte value", fn,
                            value.len);
    prim_put_be64(buf, ver);
    prim_put_be64(buf + 8, (uint64_t)txn->now_us);
    if (value.len)
        memcpy(buf + CAIRN_CELL_HEADER_SIZE, value.data, value.len);
    cairn_status st = cairn_txn_put(txn, key, cairn_slice_of(buf, len));
    if (buf != stackbuf)
        free(buf);
    return st;
}

/* ---- _tx forms ---------------------------------------------------------- */

cairn_status cairn_cell_read_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                cairn_cell_view *cellp)
{
    const char *fn = "cairn_cell_read";
    cairn_key k;
    cairn_status st = cell_key(txn, &k, run, name, fn);
    if (st != CAIRN_OK)
        return st;
    if (cellp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: cellp is NULL", fn);
    memset(cellp, 0, sizeof *cellp);
    cairn_cell_view v;
    st = cell_get(txn, &k, &v, fn);
    if (st == CAIRN_OK)
        *cellp = v;
    return st;
}

cairn_status cairn_cell_exists_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                  bool *existsp)
{
    const char *fn = "cairn_cell_exists";
    cairn_key k;
    cairn_status st = cell_key(txn, &k, run, name, fn);
    if (st != CAIRN_OK)
        return st;
    if (existsp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: existsp is NULL", fn);
    cairn_slice raw;
    st = cairn_txn_get(txn, &k, &raw);
    if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
        return st;
    *existsp = st == CAIRN_OK;
    return CAIRN_OK;
}

cairn_status cairn_cell_init_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                cairn_slice value)
{
    const char *fn = "cairn_cell_init";
    cairn_key k;
    cairn_status st = cell_key(txn, &k, run, name, fn);
    if (st == CAIRN_OK)
        st = prim_check_write(txn, run, fn);
    if (st != CAIRN_OK || (st = check_value(txn, value, fn, "value")) != CAIRN_OK)
        return st;
    cairn_cell_view cur;
    st = cell_get(txn, &k, &cur, fn);
    if (st == CAIRN_OK)
        return prim_txn_err(txn, CAIRN_EXISTS, "%s: the cell already exists (version %llu)", fn,
                            (unsigned long long)cur.version);
    if (st != CAIRN_NOT_FOUND)
        return st;
    return cell_put(txn, &k, 1, value, fn);
}

cairn_status cairn_cell_cas_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                               uint64_t expected_version, cairn_slice value, uint64_t *versionp)
{
    const char *fn = "cairn_cell_cas";
    cairn_key k;
    cairn_status st = cell_key(txn, &k, run, name, fn);
    if (st == CAIRN_OK)
        st = prim_check_write(txn, run, fn);
    if (st != CAIRN_OK || (st = check_value(txn, value, fn, "value")) != CAIRN_OK)
        return st;
    if (expected_version == 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT,
                            "%s: expected_version is 0; versions start at 1", fn);
    cairn_cell_view cur;
    st = cell_get(txn, &k, &cur, fn);
    if (st == CAIRN_NOT_FOUND) {
        if (versionp)
            *versionp = 0;
        return prim_txn_err(txn, CAIRN_NOT_FOUND, "%s: there is no such cell", fn);
    }
    if (st != CAIRN_OK)
        return st;
    if (cur.version != expected_version) {
        if (versionp)
            *versionp = cur.version;
        return prim_txn_err(txn, CAIRN_VERSION_MISMATCH,
                            "%s: expected version %llu, the cell is at version %llu", fn,
                            (unsigned long long)expected_version, (unsigned long long)cur.version);
    }
    uint64_t next = 0;
    if ((st = next_version(txn, cur.version, &next, fn)) != CAIRN_OK ||
        (st = cell_put(txn, &k, next, value, fn)) != CAIRN_OK)
        return st;
    if (versionp)
        *versionp = next;
    return CAIRN_OK;
}

cairn_status cairn_cell_set_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                               cairn_slice value, uint64_t *versionp)
{
    const char *fn = "cairn_cell_set";
    cairn_key k;
    cairn_status st = cell_key(txn, &k, run, name, fn);
    if (st == CAIRN_OK)
        st = prim_check_write(txn, run, fn);
    if (st != CAIRN_OK || (st = check_value(txn, value, fn, "value")) != CAIRN_OK)
        return st;
    cairn_cell_view cur;
    uint64_t next = 1;
    st = cell_get(txn, &k, &cur, fn);
    if (st == CAIRN_OK)
        st = next_version(txn, cur.version, &next, fn);
    else if (st == CAIRN_NOT_FOUND)
        st = CAIRN_OK;
    if (st != CAIRN_OK || (st = cell_put(txn, &k, next, value, fn)) != CAIRN_OK)
        return st;
    if (versionp)
        *versionp = next;
    return CAIRN_OK;
}

cairn_status cairn_cell_delete_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                  bool *existedp)
{
    cairn_key k;
    cairn_status st = cell_key(txn, &k, run, name, "cairn_cell_delete");
    if (st == CAIRN_OK)
        st = prim_check_write(txn, run, "cairn_cell_delete");
    if (st != CAIRN_OK)
        return st;
    if (existedp) {
        cairn_slice raw;
        st = cairn_txn_get(txn, &k, &raw);
        if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
            return st;
        *existedp = st == CAIRN_OK;
    }
    return cairn_txn_delete(txn, &k);
}

/* The transition of cell `name`; `initial` non-NULL creates an absent cell
 * from fn(initial).  fn runs at most once. */
static cairn_status transition_common(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                      const cairn_slice *initial, cairn_cell_fn fn, void *ctx,
                                      uint64_t *versionp, cairn_status *fn_statusp,
                                      const char *fname)
{
    if (fn_statusp)
        *fn_statusp = CAIRN_OK;
    cairn_key k;
    cairn_status st = cell_key(txn, &k, run, name, fname);
    if (st == CAIRN_OK)
        st = prim_check_write(txn, run, fname);
    if (st != CAIRN_OK)
        return st;
    if (fn == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: fn is NULL", fname);
    if (initial && (st = check_value(txn, *initial, fname, "initial")) != CAIRN_OK)
        return st;
    cairn_cell_view cur;
    uint64_t next = 1;
    st = cell_get(txn, &k, &cur, fname);
    if (st == CAIRN_OK) {
        if ((st = next_version(txn, cur.version, &next, fname)) != CAIRN_OK)
            return st;
    } else if (st == CAIRN_NOT_FOUND && initial) {
        cur.value = *initial;
        cur.version = 0;
    } else if (st == CAIRN_NOT_FOUND) {
        return prim_txn_err(txn, CAIRN_NOT_FOUND, "%s: there is no such cell", fname);
    } else {
        return st;
    }

    cairn_bytes nv = {NULL, 0};
    cairn_status fst = fn(ctx, cur.value, &nv);
    if (fn_statusp)
        *fn_statusp = fst;
    if (fst == CAIRN_DONE) {
        free(nv.data);
        if (versionp)
            *versionp = cur.version;
        return CAIRN_DONE;
    }
    if (fst != CAIRN_OK) {
        free(nv.data);
        return prim_txn_err(txn, fst, "%s: the transition function answered %s", fname,
                            cairn_status_name(fst));
    }
    cairn_slice out = cairn_slice_of(nv.data, nv.len);
    if ((st = check_value(txn, out, fname, "the transition function's value")) == CAIRN_OK)
        st = cell_put(txn, &k, next, out, fname);
    free(nv.data);
    if (st == CAIRN_OK && versionp)
        *versionp = next;
    return st;
}

cairn_status cairn_cell_transition_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice name,
                                      cairn_cell_fn fn, void *ctx, uint64_t *versionp,
                                      cairn_status *fn_statusp)
{
    return transition_common(txn, run, name, NULL, fn, ctx, versionp, fn_statusp,
                             "cairn_cell_transition");
}

cairn_status cairn_cell_transition_or_init_tx(cairn_txn *txn, const cairn_run_id *run,
                                              cairn_slice name, cairn_slice initial,
                                              cairn_cell_fn fn, void *ctx, uint64_t *versionp,
                                              cairn_status *fn_statusp)
{
    return transition_common(txn, run, name, &initial, fn, ctx, versionp, fn_statusp,
                             "cairn_cell_transition_or_init");
}

/* ---- listing ------------------------------------------------------------ */

void cairn_cell_list_free(cairn_cell_list *listp)
{
    if (listp == NULL)
        return;
    free(listp->names);
    free(listp->mem);
    memset(listp, 0, sizeof *listp);
}

cairn_status cairn_cell_list_names_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice prefix,
                                      cairn_slice after, size_t limit, cairn_cell_list *listp)
{
    const char *fn = "cairn_cell_list_names";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (listp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: listp is NULL", fn);
    memset(listp, 0, sizeof *listp);
    if ((st = prim_check_limit(txn, limit, fn)) != CAIRN_OK)
        return st;
    cairn_iter *it = NULL;
    st = prim_list_scan(txn, run, CAIRN_TAG_STATE, prefix, after, CAIRN_CELL_NAME_MAX, limit, fn, &it);
    if (st != CAIRN_OK)
        return st;
    prim_pieces b = {0};
    cairn_slice k, v;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        if (b.n == limit) {
            listp->more = true;
            break;
        }
        if (prim_pieces_add(&b, (const uint8_t *)k.data + CAIRN_KEY_PREFIX_SIZE,
                            k.len - CAIRN_KEY_PREFIX_SIZE) != 0)
            goto oom;
    }
    cairn_iter_free(it);
    it = NULL;
    if (st != CAIRN_OK && st != CAIRN_DONE)
        goto fail;
    listp->names = malloc((b.n ? b.n : 1) * sizeof *listp->names);
    if (listp->names == NULL)
        goto oom;
    for (size_t i = 0; i < b.n; i++)
        listp->names[i] = prim_piece(&b, i);
    listp->n = b.n;
    listp->mem = b.mem;
    if (b.n)
        listp->cursor = listp->names[b.n - 1];
    free(b.at);
    return CAIRN_OK;
oom:
    st = prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
fail:
    cairn_iter_free(it);
    prim_pieces_free(&b);
    free(listp->names);
    memset(listp, 0, sizeof *listp);
    return st;
}

/* ---- implicit forms ----------------------------------------------------- */

typedef struct cell_call {
    const cairn_run_id *run;
    cairn_slice name, value, prefix, after;
    const cairn_slice *initial;  /* transition_or_init */
    uint64_t expected, version;
    size_t limit;
    bool flag;
    cairn_cell *cell;
    cairn_cell_list *list;
    cairn_cell_fn fn;
    void *ctx;
    cairn_status fn_status;
    bool fn_conflict;            /* fn answered CAIRN_CONFLICT */
} cell_call;

/* A NULL out-pointer of an implicit call, reported on `db`. */
static cairn_status null_out(cairn_db *db, const char *fn, const char *what)
{
    return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "%s: %s is NULL", fn, what)
              : CAIRN_INVALID_ARGUMENT;
}

static cairn_status read_body(cairn_txn *txn, void *p)
{
    cell_call *c = p;
    cairn_bytes_free(&c->cell->value); /* from an earlier attempt */
    cairn_cell_view v;
    cairn_status st = cairn_cell_read_tx(txn, c->run, c->name, &v);
    if (st != CAIRN_OK)
        return st;
    if (prim_copy(v.value, &c->cell->value) != CAIRN_OK)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "cairn_cell_read: out of memory copying the value");
    c->cell->version = v.version;
    c->cell->updated_at_us = v.updated_at_us;
    return CAIRN_OK;
}

cairn_status cairn_cell_read(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                             cairn_cell *cellp)
{
    if (cellp == NULL)
        return null_out(db, "cairn_cell_read", "cellp");
    memset(cellp, 0, sizeof *cellp);
    cell_call c = {.run = run, .name = name, .cell = cellp};
    cairn_status st = prim_run(db, true, read_body, &c);
    if (st != CAIRN_OK) {
        cairn_bytes_free(&cellp->value);
        memset(cellp, 0, sizeof *cellp);
    }
    return st;
}

static cairn_status exists_body(cairn_txn *txn, void *p)
{
    cell_call *c = p;
    return cairn_cell_exists_tx(txn, c->run, c->name, &c->flag);
}

cairn_status cairn_cell_exists(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                               bool *existsp)
{
    if (existsp == NULL)
        return null_out(db, "cairn_cell_exists", "existsp");
    cell_call c = {.run = run, .name = name};
    cairn_status st = prim_run(db, true, exists_body, &c);
    if (st == CAIRN_OK)
        *existsp = c.flag;
    return st;
}

static cairn_status init_body(cairn_txn *txn, void *p)
{
    cell_call *c = p;
    return cairn_cell_init_tx(txn, c->run, c->name, c->value);
}

cairn_status cairn_cell_init(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                             cairn_slice value)
{
    cell_call c = {.run = run, .name = name, .value = value};
    return prim_run(db, false, init_body, &c);
}

static cairn_status cas_body(cairn_txn *txn, void *p)
{
    cell_call *c = p;
    return cairn_cell_cas_tx(txn, c->run, c->name, c->expected, c->value, &c->version);
}

cairn_status cairn_cell_cas(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                            uint64_t expected_version, cairn_slice value, uint64_t *versionp)
{
    cell_call c = {.run = run, .name = name, .expected = expected_version, .value = value};
    cairn_status st = prim_run(db, false, cas_body, &c);
    if (versionp &&
        (st == CAIRN_OK || st == CAIRN_VERSION_MISMATCH || st == CAIRN_NOT_FOUND))
        *versionp = c.version;
    return st;
}

static cairn_status set_body(cairn_txn *txn, void *p)
{
    cell_call *c = p;
    return cairn_cell_set_tx(txn, c->run, c->name, c->value, &c->version);
}

cairn_status cairn_cell_set(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                            cairn_slice value, uint64_t *versionp)
{
    cell_call c = {.run = run, .name = name, .value = value};
    cairn_status st = prim_run(db, false, set_body, &c);
    if (st == CAIRN_OK && versionp)
        *versionp = c.version;
    return st;
}

static cairn_status delete_body(cairn_txn *txn, void *p)
{
    cell_call *c = p;
    return cairn_cell_delete_tx(txn, c->run, c->name, &c->flag);
}

cairn_status cairn_cell_delete(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                               bool *existedp)
{
    cell_call c = {.run = run, .name = name};
    cairn_status st = prim_run(db, false, delete_body, &c);
    if (st == CAIRN_OK && existedp)
        *existedp = c.flag;
    return st;
}

static cairn_status transition_body(cairn_txn *txn, void *p)
{
    cell_call *c = p;
    cairn_status st = transition_common(txn, c->run, c->name, c->initial, c->fn, c->ctx,
                                        &c->version, &c->fn_status,
                                        c->initial ? "cairn_cell_transition_or_init"
                                                   : "cairn_cell_transition");
    c->fn_conflict = st == CAIRN_CONFLICT && c->fn_status == CAIRN_CONFLICT;
    /* fn's CAIRN_CONFLICT is its answer, not a failed commit: hand
     * cairn_db_run() a status it does not retry, restored below */
    return c->fn_conflict ? CAIRN_LIMIT : st;
}

static cairn_status transition_implicit(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                                        const cairn_slice *initial, cairn_cell_fn fn, void *ctx,
                                        uint64_t *versionp, cairn_status *fn_statusp)
{
    cell_call c = {.run = run, .name = name, .initial = initial, .fn = fn, .ctx = ctx,
                   .fn_status = CAIRN_OK};
    cairn_status st = prim_run(db, false, transition_body, &c);
    if (c.fn_conflict)
        st = CAIRN_CONFLICT;
    if (fn_statusp)
        *fn_statusp = c.fn_status;
    if (versionp && (st == CAIRN_OK || st == CAIRN_DONE))
        *versionp = c.version;
    return st;
}

cairn_status cairn_cell_transition(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                                   cairn_cell_fn fn, void *ctx, uint64_t *versionp,
                                   cairn_status *fn_statusp)
{
    return transition_implicit(db, run, name, NULL, fn, ctx, versionp, fn_statusp);
}

cairn_status cairn_cell_transition_or_init(cairn_db *db, const cairn_run_id *run, cairn_slice name,
                                           cairn_slice initial, cairn_cell_fn fn, void *ctx,
                                           uint64_t *versionp, cairn_status *fn_statusp)
{
    return transition_implicit(db, run, name, &initial, fn, ctx, versionp, fn_statusp);
}

static cairn_status list_body(cairn_txn *txn, void *p)
{
    cell_call *c = p;
    cairn_cell_list_free(c->list);
    return cairn_cell_list_names_tx(txn, c->run, c->prefix, c->after, c->limit, c->list);
}

cairn_status cairn_cell_list_names(cairn_db *db, const cairn_run_id *run, cairn_slice prefix,
                                   cairn_slice after, size_t limit, cairn_cell_list *listp)
{
    if (listp == NULL)
        return null_out(db, "cairn_cell_list_names", "listp");
    memset(listp, 0, sizeof *listp);
    cell_call c = {.run = run, .prefix = prefix, .after = after, .limit = limit, .list = listp};
    cairn_status st = prim_run(db, true, list_body, &c);
    if (st != CAIRN_OK)
        cairn_cell_list_free(listp);
    return st;
}
