/*
 * tracestore.c - TraceStore: structured traces with indices written in the
 * same transaction (see cairn/tracestore.h; bytes in docs/FORMAT.md,
 * "TraceStore").
 *
 * Keys, all [run][0x04][sub-kind]...:
 *   0x01 [id field]                                 the trace
 *   0x02 [start u64][id field]                      by-time entry
 *   0x03 [type u8][start u64][id field]             by-type entry
 *   0x04 [tag field][start u64][id field]           by-tag entry
 *   0x05 [parent field][start u64][id field]        by-parent entry (empty parent: a root)
 * Index entries have empty values.  The start time comes right after each
 * index's own prefix, so a query is one range scan in result order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/tracestore.h"
#include "primitives/prim.h"

enum {
    SUB_RECORD = 0x01,
    SUB_TIME = 0x02,
    SUB_TYPE = 0x03,
    SUB_TAG = 0x04,
    SUB_PARENT = 0x05,
};

/* Stored trace: [format u8][type u8][status u8][ntags u8][start u64][end u64]
 * [id_len u8][id][parent_len u8][parent][name_len u8][name]
 * ntags x ([tag_len u8][tag]) [payload_len u32][payload], integers big-endian. */
/* Point reads one cairn_txn_get_many() call of a query makes. */
enum { GET_BATCH = 16 };
enum { TRACE_FORMAT = 1, FIXED = 4 + 8 + 8 + 1 + 1 + 1 + 4, OFF_START = 4, OFF_END = 12, OFF_ID = 20 };

/* ---- helpers --------------------------------------------------------------- */

static bool slice_same(cairn_slice a, cairn_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

void cairn_trace_spec_init(cairn_trace_spec *spec)
{
    if (spec == NULL)
        return;
    memset(spec, 0, sizeof *spec);
    spec->type = CAIRN_TRACE_CUSTOM;
}

const char *cairn_trace_type_name(cairn_trace_type type)
{
    switch (type) {
    case CAIRN_TRACE_TOOL_CALL: return "tool_call";
    case CAIRN_TRACE_DECISION: return "decision";
    case CAIRN_TRACE_QUERY: return "query";
    case CAIRN_TRACE_THOUGHT: return "thought";
    case CAIRN_TRACE_ERROR: return "error";
    case CAIRN_TRACE_CUSTOM: return "custom";
    }
    return "unknown";
}

const char *cairn_trace_status_name(cairn_trace_status status)
{
    switch (status) {
    case CAIRN_TRACE_UNFINISHED: return "unfinished";
    case CAIRN_TRACE_OK: return "ok";
    case CAIRN_TRACE_FAILED: return "error";
    }
    return "unknown";
}

static bool type_valid(int t)
{
    return t >= CAIRN_TRACE_TOOL_CALL && t <= CAIRN_TRACE_CUSTOM;
}

void cairn_trace_free(cairn_trace *tr)
{
    if (tr == NULL)
        return;
    free(tr->mem);
    memset(tr, 0, sizeof *tr);
}

void cairn_trace_list_free(cairn_trace_list *listp)
{
    if (listp == NULL)
        return;
    free(listp->items);
    free(listp->mem);
    memset(listp, 0, sizeof *listp);
}

void cairn_trace_tree_free(cairn_trace_tree *treep)
{
    if (treep == NULL)
        return;
    free(treep->nodes);
    free(treep->parent);
    free(treep->depth);
    free(treep->mem);
    memset(treep, 0, sizeof *treep);
}

/* ---- keys ------------------------------------------------------------------ */

/* [run][0x04][sub]; the run was checked by the caller. */
static void key_base(cairn_key *k, const cairn_run_id *run, uint8_t sub)
{
    cairn_key_init(k, run, CAIRN_TAG_TRACE);
    cairn_key_append_u8(k, sub);
}

/* Copies only the used bytes of `base` (a cairn_key is over 1 KiB). */
static void key_copy(cairn_key *k, const cairn_key *base)
{
    memcpy(k->bytes, base->bytes, base->len);
    k->len = base->len;
}

static void key_record(cairn_key *k, const cairn_run_id *run, cairn_slice id)
{
    key_base(k, run, SUB_RECORD);
    cairn_key_append_field(k, id);
}

/* Appends [start][id field]: the tail every index entry ends with. */
static void key_tail(cairn_key *k, int64_t start_us, cairn_slice id)
{
    cairn_key_append_u64(k, (uint64_t)start_us);
    cairn_key_append_field(k, id);
}

/* Reads the [start][id field] tail of an index key whose prefix is
 * `plen` bytes; false when malformed. */
static bool parse_tail(cairn_slice key, size_t plen, int64_t *startp, cairn_slice *idp)
{
    const uint8_t *p = key.data;
    if (key.len < plen + 8 + 2)
        return false;
    size_t idlen = (size_t)p[plen + 8] << 8 | p[plen + 9];
    if (idlen == 0 || idlen > CAIRN_TRACE_ID_MAX || key.len != plen + 10 + idlen)
        return false;
    *startp = (int64_t)prim_get_be64(p + plen);
    *idp = cairn_slice_of(p + plen + 10, idlen);
    return true;
}

/* ---- encoding ----------------------------------------------------------------- */

static size_t encoded_size(cairn_slice id, cairn_slice parent, const cairn_trace_spec *s)
{
    size_t n = FIXED + id.len + parent.len + s->name.len + s->payload.len;
    for (size_t i = 0; i < s->ntags; i++)
        n += 1 + s->tags[i].len;
    return n;
}

static void encode(uint8_t *p, cairn_slice id, cairn_slice parent, const cairn_trace_spec *s,
                   int64_t start_us)
{
    p[0] = TRACE_FORMAT;
    p[1] = (uint8_t)s->type;
    p[2] = CAIRN_TRACE_UNFINISHED;
    p[3] = (uint8_t)s->ntags;
    prim_put_be64(p + OFF_START, (uint64_t)start_us);
    prim_put_be64(p + OFF_END, 0);
    p += OFF_ID;
    *p++ = (uint8_t)id.len;
    memcpy(p, id.data, id.len);
    p += id.len;
    *p++ = (uint8_t)parent.len;
    if (parent.len)
        memcpy(p, parent.data, parent.len);
    p += parent.len;
    *p++ = (uint8_t)s->name.len;
    if (s->name.len)
        memcpy(p, s->name.data, s->name.len);
    p += s->name.len;
    for (size_t i = 0; i < s->ntags; i++) {
        *p++ = (uint8_t)s->tags[i].len;
        memcpy(p, s->tags[i].data, s->tags[i].len);
        p += s->tags[i].len;
    }
    uint32_t pl = (uint32_t)s->payload.len;
    p[0] = (uint8_t)(pl >> 24);
    p[1] = (uint8_t)(pl >> 16);
    p[2] = (uint8_t)(pl >> 8);
    p[3] = (uint8_t)pl;
    if (pl)
        memcpy(p + 4, s->payload.data, pl);
}

/* Decodes a stored trace; false when the bytes are not one. */
static bool decode(cairn_slice v, cairn_trace_view *t)
{
    const uint8_t *p = v.data, *end = p + v.len;
    if (v.len < FIXED || p[0] != TRACE_FORMAT || !type_valid(p[1]) || p[2] > CAIRN_TRACE_FAILED ||
        p[3] > CAIRN_TRACE_TAGS_MAX)
        return false;
    t->type = (cairn_trace_type)p[1];
    t->status = (cairn_trace_status)p[2];
    t->ntags = p[3];
    t->start_us = (int64_t)prim_get_be64(p + OFF_START);
    t->end_us = (int64_t)prim_get_be64(p + OFF_END);
    const uint8_t *q = p + OFF_ID;
    cairn_slice *fields[3] = {&t->id, &t->parent_id, &t->name};
    for (int i = 0; i < 3; i++) {
        if (end - q < 1 || (size_t)(end - q) < 1u + q[0])
            return false;
        *fields[i] = cairn_slice_of(q[0] ? q + 1 : NULL, q[0]);
        q += 1 + q[0];
    }
    if (t->id.len == 0)
        return false;
    for (size_t i = 0; i < t->ntags; i++) {
        if (end - q < 1 || q[0] == 0 || (size_t)(end - q) < 1u + q[0])
            return false;
        t->tags[i] = cairn_slice_of(q + 1, q[0]);
        q += 1 + q[0];
    }
    if (end - q < 4)
        return false;
    uint32_t pl = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
    if ((size_t)(end - q) != 4u + pl)
        return false;
    t->payload = cairn_slice_of(pl ? q + 4 : NULL, pl);
    return true;
}

/* ---- argument checks ------------------------------------------------------------ */

static cairn_status check_id(cairn_txn *txn, cairn_slice id, const char *fn, const char *what)
{
    return prim_check_bytes(txn, id, 1, CAIRN_TRACE_ID_MAX, fn, what);
}

static cairn_status check_spec(cairn_txn *txn, const cairn_trace_spec *s, const char *fn)
{
    if (s == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: spec is NULL", fn);
    if (!type_valid((int)s->type))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: trace type %d is not one of 1..6", fn,
                            (int)s->type);
    if (s->start_us < 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: start_us is negative", fn);
    cairn_status st = prim_check_bytes(txn, s->name, 0, CAIRN_TRACE_NAME_MAX, fn, "name");
    if (st != CAIRN_OK || (st = prim_check_bytes(txn, s->payload, 0, UINT32_MAX, fn, "payload")) != CAIRN_OK)
        return st;
    if (s->ntags > CAIRN_TRACE_TAGS_MAX)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: %zu tags, past the limit of %u", fn, s->ntags,
                            CAIRN_TRACE_TAGS_MAX);
    if (s->ntags && s->tags == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: tags is NULL with ntags %zu", fn, s->ntags);
    for (size_t i = 0; i < s->ntags; i++) {
        if ((st = prim_check_bytes(txn, s->tags[i], 1, CAIRN_TRACE_TAG_MAX, fn, "tag")) != CAIRN_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (slice_same(s->tags[i], s->tags[j]))
                return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: tag %zu repeats tag %zu", fn, i, j);
    }
    return CAIRN_OK;
}

/* ---- recording ---------------------------------------------------------------------- */

/* Reads and decodes trace `id`; CAIRN_NOT_FOUND (with a message) when absent. */
static cairn_status load(cairn_txn *txn, const cairn_run_id *run, cairn_slice id, cairn_slice *rawp,
                         cairn_trace_view *t, const char *fn, const char *what)
{
    cairn_key k;
    key_record(&k, run, id);
    cairn_slice v;
    cairn_status st = cairn_txn_get(txn, &k, &v);
    if (st == CAIRN_NOT_FOUND)
        return prim_txn_err(txn, st, "%s: the run has no trace with this %s", fn, what);
    if (st != CAIRN_OK)
        return st;
    if (!decode(v, t) || !slice_same(t->id, id))
        return prim_txn_err(txn, CAIRN_CORRUPT, "%s: the stored trace is malformed", fn);
    if (rawp)
        *rawp = v;
    return CAIRN_OK;
}

static cairn_status put_empty(cairn_txn *txn, const cairn_key *k)
{
    return cairn_txn_put(txn, k, cairn_slice_of(NULL, 0));
}

/* Writes the trace and its index entries.  `id` empty: generate one. */
static cairn_status record_common(cairn_txn *txn, const cairn_run_id *run, cairn_slice id,
                                  cairn_slice parent, const cairn_trace_spec *s, cairn_trace_id *idp,
                                  const char *fn)
{
    cairn_status st = prim_check_write(txn, run, fn);
    if (st != CAIRN_OK || (st = check_spec(txn, s, fn)) != CAIRN_OK)
        return st;
    if (parent.len) /* empty, whatever the pointer: a root */
        if ((st = check_id(txn, parent, fn, "parent id")) != CAIRN_OK)
            return st;
    cairn_trace_id gen;
    if (id.len == 0 && id.data == NULL) {
        cairn_run_id r;
        if ((st = cairn_run_id_generate(txn->db, &r)) != CAIRN_OK)
            return prim_txn_err(txn, st, "%s: cannot generate an id", fn);
        gen.len = CAIRN_TRACE_AUTO_ID_SIZE;
        memcpy(gen.bytes, r.bytes, CAIRN_TRACE_AUTO_ID_SIZE);
        id = cairn_trace_id_slice(&gen);
    } else if ((st = check_id(txn, id, fn, "id")) != CAIRN_OK) {
        return st;
    }
    size_t size = encoded_size(id, parent, s);
    if (size > txn->db->opts.max_value_size)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: the trace is %zu bytes, past max_value_size (%u)",
                            fn, size, txn->db->opts.max_value_size);
    if (parent.len) {
        cairn_trace_view pv;
        if ((st = load(txn, run, parent, NULL, &pv, fn, "parent id")) != CAIRN_OK)
            return st;
    }
    cairn_key base, k;
    key_record(&k, run, id);
    cairn_slice old;
    st = cairn_txn_get(txn, &k, &old);
    if (st == CAIRN_OK)
        return prim_txn_err(txn, CAIRN_EXISTS, "%s: the run already has a trace with this id", fn);
    if (st != CAIRN_NOT_FOUND)
        return st;
    int64_t start = s->start_us ? s->start_us : txn->now_us;
    if (start < 0)
        start = 0;

    uint8_t small[1024];
    uint8_t *buf = size <= sizeof small ? small : malloc(size);
    if (buf == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    encode(buf, id, parent, s, start);
    st = cairn_txn_put(txn, &k, cairn_slice_of(buf, size));
    if (buf != small)
        free(buf);
    if (st != CAIRN_OK)
        return st;

    key_base(&base, run, SUB_TIME);
    key_tail(&base, start, id);
    if ((st = put_empty(txn, &base)) != CAIRN_OK)
        return st;
    key_base(&base, run, SUB_TYPE);
    cairn_key_append_u8(&base, (uint8_t)s->type);
    key_tail(&base, start, id);
    if ((st = put_empty(txn, &base)) != CAIRN_OK)
        return st;
    key_base(&base, run, SUB_PARENT);
    cairn_key_append_field(&base, parent);
    key_tail(&base, start, id);
    if ((st = put_empty(txn, &base)) != CAIRN_OK)
        return st;
    key_base(&base, run, SUB_TAG);
    for (size_t i = 0; i < s->ntags; i++) {
        key_copy(&k, &base);
        cairn_key_append_field(&k, s->tags[i]);
        key_tail(&k, start, id);
        if ((st = put_empty(txn, &k)) != CAIRN_OK)
            return st;
    }
    if (idp) {
        idp->len = (uint8_t)id.len;
        memcpy(idp->bytes, id.data, id.len);
    }
    return CAIRN_OK;
}

cairn_status cairn_trace_record_tx(cairn_txn *txn, const cairn_run_id *run,
                                   const cairn_trace_spec *spec, cairn_trace_id *idp)
{
    return record_common(txn, run, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), spec, idp,
                         "cairn_trace_record");
}

cairn_status cairn_trace_record_child_tx(cairn_txn *txn, const cairn_run_id *run,
                                         cairn_slice parent_id, const cairn_trace_spec *spec,
                                         cairn_trace_id *idp)
{
    const char *fn = "cairn_trace_record_child";
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK || (st = check_id(txn, parent_id, fn, "parent id")) != CAIRN_OK)
        return st;
    return record_common(txn, run, cairn_slice_of(NULL, 0), parent_id, spec, idp, fn);
}

cairn_status cairn_trace_record_id_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice id,
                                      cairn_slice parent_id, const cairn_trace_spec *spec)
{
    const char *fn = "cairn_trace_record_id";
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK || (st = check_id(txn, id, fn, "id")) != CAIRN_OK)
        return st;
    return record_common(txn, run, id, parent_id, spec, NULL, fn);
}

cairn_status cairn_trace_finish_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice id,
                                   cairn_trace_status status, int64_t end_us)
{
    const char *fn = "cairn_trace_finish";
    cairn_status st = prim_check_write(txn, run, fn);
    if (st != CAIRN_OK || (st = check_id(txn, id, fn, "id")) != CAIRN_OK)
        return st;
    if (status != CAIRN_TRACE_OK && status != CAIRN_TRACE_FAILED)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT,
                            "%s: a trace finishes with CAIRN_TRACE_OK or CAIRN_TRACE_FAILED, not %d", fn,
                            (int)status);
    if (end_us < 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: end_us is negative", fn);
    cairn_slice raw;
    cairn_trace_view t;
    if ((st = load(txn, run, id, &raw, &t, fn, "id")) != CAIRN_OK)
        return st;
    if (t.status != CAIRN_TRACE_UNFINISHED)
        return prim_txn_err(txn, CAIRN_INVALID_TRANSITION, "%s: the trace was already finished (%s)", fn,
                            cairn_trace_status_name(t.status));
    int64_t end = end_us ? end_us : txn->now_us;
    if (end < t.start_us) {
        if (end_us)
            return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT,
                                "%s: end_us %lld is before the trace's start %lld", fn, (long long)end,
                                (long long)t.start_us);
        end = t.start_us; /* a clock behind a caller-given start */
    }
    uint8_t small[1024];
    uint8_t *buf = raw.len <= sizeof small ? small : malloc(raw.len);
    if (buf == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    memcpy(buf, raw.data, raw.len);
    buf[2] = (uint8_t)status;
    prim_put_be64(buf + OFF_END, (uint64_t)end);
    cairn_key k;
    key_record(&k, run, id);
    st = cairn_txn_put(txn, &k, cairn_slice_of(buf, raw.len));
    if (buf != small)
        free(buf);
    return st;
}

cairn_status cairn_trace_get_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice id,
                                cairn_trace_view *trp)
{
    const char *fn = "cairn_trace_get";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK || (st = check_id(txn, id, fn, "id")) != CAIRN_OK)
        return st;
    if (trp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: trp is NULL", fn);
    return load(txn, run, id, NULL, trp, fn, "id");
}

/* ---- owned results ------------------------------------------------------------------ */

/* Decodes every raw trace, copied into `r` as one piece each, into a fresh
 * views array (they were decoded once already, so this cannot fail but for
 * memory). */
static cairn_trace_view *raw_views(const prim_pieces *r)
{
    cairn_trace_view *views = malloc((r->n ? r->n : 1) * sizeof *views);
    if (views == NULL)
        return NULL;
    for (size_t i = 0; i < r->n; i++)
        decode(prim_piece(r, i), &views[i]);
    return views;
}

/* ---- queries ------------------------------------------------------------------------- */

static int trace_key_cmp(const cairn_key *a, const cairn_key *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static cairn_status check_query(cairn_txn *txn, const cairn_run_id *run, const cairn_trace_cursor *after,
                                size_t limit, cairn_trace_list *listp, const char *fn)
{
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (listp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: listp is NULL", fn);
    memset(listp, 0, sizeof *listp);
    if (limit == 0 || limit > CAIRN_TRACE_LIMIT_MAX)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: limit %zu is outside 1..%u", fn, limit,
                            CAIRN_TRACE_LIMIT_MAX);
    if (after && after->set &&
        (after->id.len == 0 || after->id.len > CAIRN_TRACE_ID_MAX || after->start_us < 0))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: the cursor is malformed", fn);
    return CAIRN_OK;
}

/*
 * Lists the traces of the index range under `prefix` whose start time is
 * in [from, to) (to < 0: no bound), after the cursor, at most `limit`.
 */
static cairn_status query(cairn_txn *txn, const cairn_run_id *run, const cairn_key *prefix, int64_t from,
                          int64_t to, const cairn_trace_cursor *after, size_t limit,
                          cairn_trace_list *listp, const char *fn)
{
    cairn_key start, end, k;
    key_copy(&start, prefix);
    cairn_key_append_u64(&start, (uint64_t)from);
    if (after && after->set) {
        key_copy(&k, prefix);
        key_tail(&k, after->start_us, cairn_trace_id_slice(&after->id));
        k.bytes[k.len++] = 0; /* the smallest key after the cursor's entry */
        if (trace_key_cmp(&k, &start) > 0)
            key_copy(&start, &k);
    }
    if (to >= 0) {
        key_copy(&end, prefix);
        cairn_key_append_u64(&end, (uint64_t)to);
    } else {
        cairn_key_prefix_end(prefix, &end);
    }
    if (to >= 0 && trace_key_cmp(&start, &end) >= 0)
        return CAIRN_OK; /* an empty range */
    cairn_iter *it = NULL;
    cairn_status st = cairn_txn_scan(txn, &start, &end, limit + 1, &it);
    if (st != CAIRN_OK)
        return st;
    prim_pieces r = {0};
    cairn_slice *ids = NULL;
    size_t nids = 0;
    cairn_slice ik, iv;
    while ((st = cairn_iter_next(it, &ik, &iv)) == CAIRN_OK) {
        if (nids == limit) {
            listp->more = true;
            break;
        }
        int64_t ts;
        cairn_slice id;
        if (!parse_tail(ik, prefix->len, &ts, &id)) {
            st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: a malformed index key", fn);
            goto fail;
        }
        if (ids == NULL && (ids = malloc((limit < 64 ? limit : 64) * sizeof *ids)) == NULL)
            goto oom;
        if (nids >= 64 && (nids & (nids - 1)) == 0) { /* grows past 64 by doubling */
            cairn_slice *n = realloc(ids, nids * 2 * sizeof *n);
            if (n == NULL)
                goto oom;
            ids = n;
        }
        ids[nids++] = id; /* borrowed from the index key until the transaction ends */
    }
    if (st != CAIRN_OK && st != CAIRN_DONE)
        goto fail;
    cairn_iter_free(it);
    it = NULL;
    /* the traces, in batches whose point reads overlap in memory */
    for (size_t i = 0; i < nids; i += GET_BATCH) {
        size_t m = nids - i < GET_BATCH ? nids - i : GET_BATCH;
        cairn_key keys[GET_BATCH];
        cairn_slice vals[GET_BATCH];
        cairn_status sts[GET_BATCH];
        for (size_t j = 0; j < m; j++)
            key_record(&keys[j], run, ids[i + j]);
        if ((st = cairn_txn_get_many(txn, keys, m, vals, sts)) != CAIRN_OK)
            goto fail;
        for (size_t j = 0; j < m; j++) {
            cairn_trace_view t;
            if (sts[j] != CAIRN_OK) {
                st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: an index entry points at no trace", fn);
                goto fail;
            }
            if (!decode(vals[j], &t) || !slice_same(t.id, ids[i + j])) {
                st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: the stored trace is malformed", fn);
                goto fail;
            }
            if (prim_pieces_add(&r, vals[j].data, vals[j].len) != 0)
                goto oom;
        }
    }
    free(ids);
    ids = NULL;
    if ((listp->items = raw_views(&r)) == NULL)
        goto oom;
    listp->n = r.n;
    listp->mem = r.mem;
    if (r.n) {
        const cairn_trace_view *last = &listp->items[r.n - 1];
        listp->next.set = true;
        listp->next.start_us = last->start_us;
        listp->next.id.len = (uint8_t)last->id.len;
        memcpy(listp->next.id.bytes, last->id.data, last->id.len);
    }
    free(r.at);
    return CAIRN_OK;
oom:
    st = prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
fail:
    cairn_iter_free(it);
    free(ids);
    prim_pieces_free(&r);
    memset(listp, 0, sizeof *listp);
    return st;
}

cairn_status cairn_trace_by_type_tx(cairn_txn *txn, const cairn_run_id *run, cairn_trace_type type,
                                    const cairn_trace_cursor *after, size_t limit,
                                    cairn_trace_list *listp)
{
    const char *fn = "cairn_trace_by_type";
    cairn_status st = check_query(txn, run, after, limit, listp, fn);
    if (st != CAIRN_OK)
        return st;
    if (!type_valid((int)type))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: trace type %d is not one of 1..6", fn,
                            (int)type);
    cairn_key p;
    key_base(&p, run, SUB_TYPE);
    cairn_key_append_u8(&p, (uint8_t)type);
    return query(txn, run, &p, 0, -1, after, limit, listp, fn);
}

cairn_status cairn_trace_by_tag_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice tag,
                                   const cairn_trace_cursor *after, size_t limit,
                                   cairn_trace_list *listp)
{
    const char *fn = "cairn_trace_by_tag";
    cairn_status st = check_query(txn, run, after, limit, listp, fn);
    if (st != CAIRN_OK || (st = prim_check_bytes(txn, tag, 1, CAIRN_TRACE_TAG_MAX, fn, "tag")) != CAIRN_OK)
        return st;
    cairn_key p;
    key_base(&p, run, SUB_TAG);
    cairn_key_append_field(&p, tag);
    return query(txn, run, &p, 0, -1, after, limit, listp, fn);
}

cairn_status cairn_trace_by_time_tx(cairn_txn *txn, const cairn_run_id *run, int64_t from_us,
                                    int64_t to_us, const cairn_trace_cursor *after, size_t limit,
                                    cairn_trace_list *listp)
{
    const char *fn = "cairn_trace_by_time";
    cairn_status st = check_query(txn, run, after, limit, listp, fn);
    if (st != CAIRN_OK)
        return st;
    if (from_us < 0 || to_us < 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: a negative time bound", fn);
    if (to_us <= from_us)
        return CAIRN_OK;
    cairn_key p;
    key_base(&p, run, SUB_TIME);
    return query(txn, run, &p, from_us, to_us, after, limit, listp, fn);
}

cairn_status cairn_trace_children_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice parent_id,
                                     const cairn_trace_cursor *after, size_t limit,
                                     cairn_trace_list *listp)
{
    const char *fn = "cairn_trace_children";
    cairn_status st = check_query(txn, run, after, limit, listp, fn);
    if (st != CAIRN_OK || (st = check_id(txn, parent_id, fn, "parent id")) != CAIRN_OK)
        return st;
    cairn_trace_view pv;
    if ((st = load(txn, run, parent_id, NULL, &pv, fn, "parent id")) != CAIRN_OK)
        return st;
    cairn_key p;
    key_base(&p, run, SUB_PARENT);
    cairn_key_append_field(&p, parent_id);
    return query(txn, run, &p, 0, -1, after, limit, listp, fn);
}

cairn_status cairn_trace_roots_tx(cairn_txn *txn, const cairn_run_id *run,
                                  const cairn_trace_cursor *after, size_t limit,
                                  cairn_trace_list *listp)
{
    const char *fn = "cairn_trace_roots";
    cairn_status st = check_query(txn, run, after, limit, listp, fn);
    if (st != CAIRN_OK)
        return st;
    cairn_key p;
    key_base(&p, run, SUB_PARENT);
    cairn_key_append_field(&p, cairn_slice_of(NULL, 0));
    return query(txn, run, &p, 0, -1, after, limit, listp, fn);
}

/* ---- trees ------------------------------------------------------------------------------ */

cairn_status cairn_trace_get_tree_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice root_id,
                                     uint32_t max_depth, size_t max_nodes, cairn_trace_tree *treep)
{
    const char *fn = "cairn_trace_get_tree";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (treep == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: treep is NULL", fn);
    memset(treep, 0, sizeof *treep);
    if ((st = check_id(txn, root_id, fn, "root id")) != CAIRN_OK)
        return st;
    if (max_nodes == 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: max_nodes is 0", fn);
    prim_pieces r = {0};
    size_t *parent = NULL, pcap = 0;
    uint32_t *depth = NULL;
    cairn_iter *it = NULL;
    cairn_slice raw;
    cairn_trace_view t;
    if ((st = load(txn, run, root_id, &raw, &t, fn, "root id")) != CAIRN_OK)
        return st;
    if (prim_pieces_add(&r, raw.data, raw.len) != 0)
        goto oom;
    pcap = 16;
    parent = malloc(pcap * sizeof *parent);
    depth = malloc(pcap * sizeof *depth);
    if (parent == NULL || depth == NULL)
        goto oom;
    parent[0] = SIZE_MAX;
    depth[0] = 0;
    cairn_key base;
    key_base(&base, run, SUB_PARENT);
    /* breadth first: node i's children are appended when i is visited */
    for (size_t i = 0; i < r.n; i++) {
        const uint8_t *rec = r.mem + r.at[i][0]; /* read before the block grows */
        cairn_trace_id id;
        id.len = rec[OFF_ID];
        memcpy(id.bytes, rec + OFF_ID + 1, id.len);
        cairn_key p, e;
        key_copy(&p, &base);
        cairn_key_append_field(&p, cairn_trace_id_slice(&id));
        cairn_key_prefix_end(&p, &e);
        if ((st = cairn_txn_scan(txn, &p, &e, 0, &it)) != CAIRN_OK)
            goto fail;
        cairn_slice ik, iv;
        while ((st = cairn_iter_next(it, &ik, &iv)) == CAIRN_OK) {
            int64_t ts;
            cairn_slice cid;
            if (!parse_tail(ik, p.len, &ts, &cid)) {
                st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: a malformed index key", fn);
                goto fail;
            }
            if (depth[i] + 1 > max_depth) {
                st = prim_txn_err(txn, CAIRN_LIMIT, "%s: the tree is deeper than max_depth %u", fn,
                                  max_depth);
                goto fail;
            }
            if (r.n >= max_nodes) {
                st = prim_txn_err(txn, CAIRN_LIMIT, "%s: the tree has more than max_nodes %zu nodes", fn,
                                  max_nodes);
                goto fail;
            }
            if ((st = load(txn, run, cid, &raw, &t, fn, "id")) != CAIRN_OK) {
                if (st == CAIRN_NOT_FOUND)
                    st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: an index entry points at no trace", fn);
                goto fail;
            }
            if (r.n == pcap) {
                pcap *= 2;
                size_t *np = realloc(parent, pcap * sizeof *np);
                if (np == NULL)
                    goto oom;
                parent = np;
                uint32_t *nd = realloc(depth, pcap * sizeof *nd);
                if (nd == NULL)
                    goto oom;
                depth = nd;
            }
            if (prim_pieces_add(&r, raw.data, raw.len) != 0)
                goto oom;
            parent[r.n - 1] = i;
            depth[r.n - 1] = depth[i] + 1;
        }
        if (st != CAIRN_DONE)
            goto fail;
        cairn_iter_free(it);
        it = NULL;
    }
    if ((treep->nodes = raw_views(&r)) == NULL)
        goto oom;
    treep->parent = parent;
    treep->depth = depth;
    treep->n = r.n;
    treep->mem = r.mem;
    free(r.at);
    return CAIRN_OK;
oom:
    st = prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
fail:
    cairn_iter_free(it);
    prim_pieces_free(&r);
    free(parent);
    free(depth);
    memset(treep, 0, sizeof *treep);
    return st;
}

/* ---- consistency ---------------------------------------------------------------------------- */

/* Records the first problem; returns false so callers can stop. */
static bool bad(cairn_trace_report *r, cairn_slice id, const char *fmt, const char *detail)
{
    r->ok = false;
    r->bad_id.len = (uint8_t)(id.len <= CAIRN_TRACE_ID_MAX ? id.len : 0);
    if (r->bad_id.len)
        memcpy(r->bad_id.bytes, id.data, r->bad_id.len);
    snprintf(r->why, sizeof r->why, fmt, detail);
    return false;
}

/* Checks that every index entry trace `t` needs is there. */
static cairn_status check_record(cairn_txn *txn, const cairn_run_id *run, const cairn_trace_view *t,
                                 cairn_trace_report *r, uint64_t *expectedp)
{
    cairn_key k;
    cairn_slice v;
    cairn_status st;
    if (t->parent_id.len) {
        key_record(&k, run, t->parent_id);
        if ((st = cairn_txn_get(txn, &k, &v)) == CAIRN_NOT_FOUND) {
            bad(r, t->id, "%s", "its parent is not a trace of the run");
            return CAIRN_OK;
        }
        if (st != CAIRN_OK)
            return st;
    }
    static const char *const names[] = {"by-time", "by-type", "by-parent", "by-tag"};
    for (size_t i = 0; i < 3 + t->ntags; i++) {
        size_t which = i < 3 ? i : 3;
        key_base(&k, run, which == 0 ? SUB_TIME : which == 1 ? SUB_TYPE : which == 2 ? SUB_PARENT : SUB_TAG);
        if (which == 1)
            cairn_key_append_u8(&k, (uint8_t)t->type);
        else if (which == 2)
            cairn_key_append_field(&k, t->parent_id);
        else if (which == 3)
            cairn_key_append_field(&k, t->tags[i - 3]);
        key_tail(&k, t->start_us, t->id);
        if ((st = cairn_txn_get(txn, &k, &v)) == CAIRN_NOT_FOUND) {
            bad(r, t->id, "the trace has no %s index entry", names[which]);
            return CAIRN_OK;
        }
        if (st != CAIRN_OK)
            return st;
        if (v.len != 0) {
            bad(r, t->id, "its %s index entry has a value", names[which]);
            return CAIRN_OK;
        }
    }
    *expectedp += 3 + t->ntags;
    return CAIRN_OK;
}

/* Checks one index entry (sub-kind `sub`) against the trace it names. */
static cairn_status check_entry(cairn_txn *txn, const cairn_run_id *run, cairn_slice key, size_t base_len,
                                uint8_t sub, cairn_trace_report *r)
{
    const uint8_t *p = key.data;
    size_t off = base_len;
    cairn_slice attr = cairn_slice_of(NULL, 0);
    if (sub == SUB_TYPE) {
        if (key.len < off + 1)
            goto malformed;
        attr = cairn_slice_of(p + off, 1);
        off += 1;
    } else if (sub == SUB_TAG || sub == SUB_PARENT) {
        if (key.len < off + 2)
            goto malformed;
        size_t n = (size_t)p[off] << 8 | p[off + 1];
        if (key.len < off + 2 + n)
            goto malformed;
        attr = cairn_slice_of(p + off + 2, n);
        off += 2 + n;
    }
    int64_t ts;
    cairn_slice id;
    if (!parse_tail(key, off, &ts, &id))
        goto malformed;
    cairn_key k;
    key_record(&k, run, id);
    cairn_slice v;
    cairn_status st = cairn_txn_get(txn, &k, &v);
    if (st == CAIRN_NOT_FOUND) {
        bad(r, id, "%s", "an index entry points at no trace");
        return CAIRN_OK;
    }
    if (st != CAIRN_OK)
        return st;
    cairn_trace_view t;
    if (!decode(v, &t)) {
        bad(r, id, "%s", "the stored trace cannot be decoded");
        return CAIRN_OK;
    }
    bool match = t.start_us == ts;
    if (sub == SUB_TYPE)
        match = match && ((const uint8_t *)attr.data)[0] == (uint8_t)t.type;
    else if (sub == SUB_PARENT)
        match = match && slice_same(attr, t.parent_id);
    else if (sub == SUB_TAG) {
        bool found = false;
        for (size_t i = 0; i < t.ntags && !found; i++)
            found = slice_same(attr, t.tags[i]);
        match = match && found;
    }
    if (!match)
        bad(r, id, "%s", "an index entry disagrees with the trace it points at");
    return CAIRN_OK;
malformed:
    bad(r, cairn_slice_of(NULL, 0), "%s", "a malformed index key");
    return CAIRN_OK;
}

cairn_status cairn_trace_check_tx(cairn_txn *txn, const cairn_run_id *run, cairn_trace_report *reportp)
{
    const char *fn = "cairn_trace_check";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (reportp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: reportp is NULL", fn);
    memset(reportp, 0, sizeof *reportp);
    reportp->ok = true;
    cairn_key pre, end;
    cairn_key_init(&pre, run, CAIRN_TAG_TRACE);
    cairn_key_prefix_end(&pre, &end);
    cairn_iter *it = NULL;
    if ((st = cairn_txn_scan(txn, &pre, &end, 0, &it)) != CAIRN_OK)
        return st;
    uint64_t expected = 0;
    size_t base_len = pre.len + 1;
    cairn_slice k, v;
    while (reportp->ok && (st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        uint8_t sub = k.len > pre.len ? ((const uint8_t *)k.data)[pre.len] : 0;
        if (sub == SUB_RECORD) {
            const uint8_t *p = k.data;
            size_t n = k.len >= base_len + 2 ? ((size_t)p[base_len] << 8 | p[base_len + 1]) : 0;
            cairn_slice id = cairn_slice_of(p + base_len + 2, n);
            cairn_trace_view t;
            if (n == 0 || k.len != base_len + 2 + n)
                bad(reportp, cairn_slice_of(NULL, 0), "%s", "a malformed trace key");
            else if (!decode(v, &t))
                bad(reportp, id, "%s", "the stored trace cannot be decoded");
            else if (!slice_same(t.id, id))
                bad(reportp, id, "%s", "the stored trace carries another id than its key");
            else if ((st = check_record(txn, run, &t, reportp, &expected)) != CAIRN_OK)
                break;
            reportp->traces++;
        } else if (sub >= SUB_TIME && sub <= SUB_PARENT) {
            if ((st = check_entry(txn, run, k, base_len, sub, reportp)) != CAIRN_OK)
                break;
            reportp->entries++;
        } else {
            char d[8];
            snprintf(d, sizeof d, "0x%02x", sub);
            bad(reportp, cairn_slice_of(NULL, 0), "a trace key of unknown sub-kind %s", d);
        }
    }
    cairn_iter_free(it);
    if (st != CAIRN_OK && st != CAIRN_DONE)
        return st;
    if (reportp->ok && expected != reportp->entries) {
        char d[64];
        snprintf(d, sizeof d, "%llu, not %llu", (unsigned long long)reportp->entries,
                 (unsigned long long)expected);
        bad(reportp, cairn_slice_of(NULL, 0), "the index holds %s entries", d);
    }
    return CAIRN_OK;
}

/* ---- implicit forms ----------------------------------------------------------------------------- */

typedef struct tr_call {
    const cairn_run_id *run;
    cairn_slice id, parent;
    const cairn_trace_spec *spec;
    cairn_trace_id out_id;
    int which;
    cairn_trace_status status;
    int64_t a, b;
    cairn_trace_type type;
    const cairn_trace_cursor *after;
    size_t limit;
    uint32_t max_depth;
    cairn_trace *trace;
    cairn_trace_list *list;
    cairn_trace_tree *tree;
    cairn_trace_report *report;
} tr_call;

enum { REC_AUTO, REC_CHILD, REC_ID };

static cairn_status record_body(cairn_txn *txn, void *p)
{
    tr_call *c = p;
    switch (c->which) {
    case REC_CHILD: return cairn_trace_record_child_tx(txn, c->run, c->parent, c->spec, &c->out_id);
    case REC_ID: return cairn_trace_record_id_tx(txn, c->run, c->id, c->parent, c->spec);
    default: return cairn_trace_record_tx(txn, c->run, c->spec, &c->out_id);
    }
}

static cairn_status record_implicit(cairn_db *db, tr_call *c, cairn_trace_id *idp)
{
    cairn_status st = prim_run(db, false, record_body, c);
    if (st == CAIRN_OK && idp)
        *idp = c->out_id;
    return st;
}

cairn_status cairn_trace_record(cairn_db *db, const cairn_run_id *run, const cairn_trace_spec *spec,
                                cairn_trace_id *idp)
{
    tr_call c = {.run = run, .spec = spec, .which = REC_AUTO};
    return record_implicit(db, &c, idp);
}

cairn_status cairn_trace_record_child(cairn_db *db, const cairn_run_id *run, cairn_slice parent_id,
                                      const cairn_trace_spec *spec, cairn_trace_id *idp)
{
    tr_call c = {.run = run, .parent = parent_id, .spec = spec, .which = REC_CHILD};
    return record_implicit(db, &c, idp);
}

cairn_status cairn_trace_record_id(cairn_db *db, const cairn_run_id *run, cairn_slice id,
                                   cairn_slice parent_id, const cairn_trace_spec *spec)
{
    tr_call c = {.run = run, .id = id, .parent = parent_id, .spec = spec, .which = REC_ID};
    return record_implicit(db, &c, NULL);
}

static cairn_status finish_body(cairn_txn *txn, void *p)
{
    tr_call *c = p;
    return cairn_trace_finish_tx(txn, c->run, c->id, c->status, c->a);
}

cairn_status cairn_trace_finish(cairn_db *db, const cairn_run_id *run, cairn_slice id,
                                cairn_trace_status status, int64_t end_us)
{
    tr_call c = {.run = run, .id = id, .status = status, .a = end_us};
    return prim_run(db, false, finish_body, &c);
}

static cairn_status get_body(cairn_txn *txn, void *p)
{
    tr_call *c = p;
    cairn_trace_view v;
    cairn_slice raw;
    cairn_status st = cairn_trace_get_tx(txn, c->run, c->id, &v);
    if (st != CAIRN_OK)
        return st;
    cairn_key k;
    key_record(&k, c->run, c->id);
    if ((st = cairn_txn_get(txn, &k, &raw)) != CAIRN_OK)
        return st;
    cairn_trace_free(c->trace);
    cairn_bytes b;
    if (prim_copy(raw, &b) != CAIRN_OK)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "cairn_trace_get: out of memory");
    decode(cairn_bytes_slice(&b), &c->trace->v);
    c->trace->mem = b.data;
    return CAIRN_OK;
}

cairn_status cairn_trace_get(cairn_db *db, const cairn_run_id *run, cairn_slice id, cairn_trace *trp)
{
    if (trp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_trace_get: trp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    memset(trp, 0, sizeof *trp);
    tr_call c = {.run = run, .id = id, .trace = trp};
    cairn_status st = prim_run(db, true, get_body, &c);
    if (st != CAIRN_OK)
        cairn_trace_free(trp);
    return st;
}

enum { Q_TYPE, Q_TAG, Q_TIME, Q_CHILDREN, Q_ROOTS };

static cairn_status query_body(cairn_txn *txn, void *p)
{
    tr_call *c = p;
    cairn_trace_list_free(c->list);
    switch (c->which) {
    case Q_TYPE: return cairn_trace_by_type_tx(txn, c->run, c->type, c->after, c->limit, c->list);
    case Q_TAG: return cairn_trace_by_tag_tx(txn, c->run, c->id, c->after, c->limit, c->list);
    case Q_TIME: return cairn_trace_by_time_tx(txn, c->run, c->a, c->b, c->after, c->limit, c->list);
    case Q_CHILDREN: return cairn_trace_children_tx(txn, c->run, c->id, c->after, c->limit, c->list);
    default: return cairn_trace_roots_tx(txn, c->run, c->after, c->limit, c->list);
    }
}

static cairn_status query_implicit(cairn_db *db, tr_call *c, cairn_trace_list *listp)
{
    if (listp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_trace: listp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    memset(listp, 0, sizeof *listp);
    c->list = listp;
    cairn_status st = prim_run(db, true, query_body, c);
    if (st != CAIRN_OK)
        cairn_trace_list_free(listp);
    return st;
}

cairn_status cairn_trace_by_type(cairn_db *db, const cairn_run_id *run, cairn_trace_type type,
                                 const cairn_trace_cursor *after, size_t limit,
                                 cairn_trace_list *listp)
{
    tr_call c = {.run = run, .type = type, .after = after, .limit = limit, .which = Q_TYPE};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_trace_by_tag(cairn_db *db, const cairn_run_id *run, cairn_slice tag,
                                const cairn_trace_cursor *after, size_t limit,
                                cairn_trace_list *listp)
{
    tr_call c = {.run = run, .id = tag, .after = after, .limit = limit, .which = Q_TAG};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_trace_by_time(cairn_db *db, const cairn_run_id *run, int64_t from_us,
                                 int64_t to_us, const cairn_trace_cursor *after, size_t limit,
                                 cairn_trace_list *listp)
{
    tr_call c = {.run = run, .a = from_us, .b = to_us, .after = after, .limit = limit, .which = Q_TIME};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_trace_children(cairn_db *db, const cairn_run_id *run, cairn_slice parent_id,
                                  const cairn_trace_cursor *after, size_t limit,
                                  cairn_trace_list *listp)
{
    tr_call c = {.run = run, .id = parent_id, .after = after, .limit = limit, .which = Q_CHILDREN};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_trace_roots(cairn_db *db, const cairn_run_id *run,
                               const cairn_trace_cursor *after, size_t limit,
                               cairn_trace_list *listp)
{
    tr_call c = {.run = run, .after = after, .limit = limit, .which = Q_ROOTS};
    return query_implicit(db, &c, listp);
}

static cairn_status tree_body(cairn_txn *txn, void *p)
{
    tr_call *c = p;
    cairn_trace_tree_free(c->tree);
    return cairn_trace_get_tree_tx(txn, c->run, c->id, c->max_depth, c->limit, c->tree);
}

cairn_status cairn_trace_get_tree(cairn_db *db, const cairn_run_id *run, cairn_slice root_id,
                                  uint32_t max_depth, size_t max_nodes, cairn_trace_tree *treep)
{
    if (treep == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_trace_get_tree: treep is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    memset(treep, 0, sizeof *treep);
    tr_call c = {.run = run, .id = root_id, .max_depth = max_depth, .limit = max_nodes, .tree = treep};
    cairn_status st = prim_run(db, true, tree_body, &c);
    if (st != CAIRN_OK)
        cairn_trace_tree_free(treep);
    return st;
}

static cairn_status check_body(cairn_txn *txn, void *p)
{
    tr_call *c = p;
    return cairn_trace_check_tx(txn, c->run, c->report);
}

cairn_status cairn_trace_check(cairn_db *db, const cairn_run_id *run, cairn_trace_report *reportp)
{
    if (reportp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_trace_check: reportp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    tr_call c = {.run = run, .report = reportp};
    return prim_run(db, true, check_body, &c);
}
