/*
 * wl_trace.c - trace-record, trace-query and trace-query-x10: the
 * TraceStore.
 *
 *   trace-record     each op records one trace with 3 tags and a payload of
 *                    --value-size bytes, in its own transaction.  cairn:
 *                    cairn_trace_record() (a fresh auto id, an existence
 *                    check, the trace and its 6 index entries).  Peers: one
 *                    transaction writing the same 7 keys cairn writes (the
 *                    trace under [run][0x04][0x01][id], the by-time, by-type,
 *                    by-parent and 3 by-tag entries; docs/FORMAT.md) with a
 *                    value of the same size for the trace.
 *
 *   trace-query      the first op on the (single) thread loads 1,000 "hot"
 *   trace-query-x10  traces (type query, tag "hot") among 10,000 (x10:
 *                    100,000) unrelated ones, interleaved in time, inside
 *                    the warmup; then each op asks for 20 hot traces from a
 *                    random point in time, alternately by tag and by type
 *                    (cairn_trace_by_tag / cairn_trace_by_type).  Peers keep
 *                    the trace in their index entries (a covering index: one
 *                    scan of 20 pairs per query, no point reads), which is
 *                    the cheaper layout for them.  Comparing the two
 *                    variants shows whether query time follows the results
 *                    or the unrelated traces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_cairn.h"
#include "workload.h"

enum { HOT = 1000, QUERY_LIMIT = 20, LOAD_BATCH = 1000, TIME_STEP = 10 };

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static bench_rc cairn_fail(bench_thread *t, const char *what, cairn_status st)
{
    char msg[200];
    cairn_db_errmsg(eng_cairn_db(t->et), msg, sizeof msg);
    snprintf(t->err, sizeof t->err, "%s: %s (%s)", what, cairn_status_name(st), msg);
    return BENCH_ERROR;
}

/* ---- peer keys: cairn's layout, built by hand -------------------------------- */

/* [run][0x04][sub]; returns the length. */
static size_t peer_base(uint8_t *k, uint8_t sub)
{
    memcpy(k, eng_cairn_run()->bytes, CAIRN_RUN_ID_SIZE);
    k[16] = CAIRN_TAG_TRACE;
    k[17] = sub;
    return 18;
}

static size_t peer_field(uint8_t *k, size_t n, const void *p, size_t len)
{
    k[n] = (uint8_t)(len >> 8);
    k[n + 1] = (uint8_t)len;
    memcpy(k + n + 2, p, len);
    return n + 2 + len;
}

/* [start][id field] */
static size_t peer_tail(uint8_t *k, size_t n, uint64_t start, const uint8_t *id)
{
    put_be64(k + n, start);
    return peer_field(k, n + 8, id, 16);
}

static const char *const tag_names[3] = {"agent", "tool", "step"};

/*
 * Writes a trace's 7 keys on a peer inside the open transaction.  `index_val`
 * is the value of the type and tag entries (empty, or the trace for a
 * covering index).
 */
static bench_rc peer_write(bench_thread *t, const uint8_t *id, uint64_t start, uint8_t type,
                           const char *const *tags, bench_bytes rec, bench_bytes index_val)
{
    uint8_t k[128];
    size_t n = peer_field(k, peer_base(k, 0x01), id, 16);
    bench_rc rc = t->eng->put(t->et, bench_bytes_of(k, n), rec);
    bench_bytes empty = bench_bytes_of("", 0);
    if (rc == BENCH_OK) {
        n = peer_tail(k, peer_base(k, 0x02), start, id);
        rc = t->eng->put(t->et, bench_bytes_of(k, n), empty);
    }
    if (rc == BENCH_OK) {
        n = peer_base(k, 0x03);
        k[n++] = type;
        n = peer_tail(k, n, start, id);
        rc = t->eng->put(t->et, bench_bytes_of(k, n), index_val);
    }
    if (rc == BENCH_OK) {
        n = peer_tail(k, peer_field(k, peer_base(k, 0x05), "", 0), start, id);
        rc = t->eng->put(t->et, bench_bytes_of(k, n), empty);
    }
    for (int i = 0; i < 3 && tags[i] && rc == BENCH_OK; i++) {
        n = peer_tail(k, peer_field(k, peer_base(k, 0x04), tags[i], strlen(tags[i])), start, id);
        rc = t->eng->put(t->et, bench_bytes_of(k, n), index_val);
    }
    return rc;
}

/* The size of the stored trace cairn writes for these inputs. */
static size_t record_size(size_t name, const char *const *tags, size_t payload)
{
    size_t n = 27 + 16 + name + payload;
    for (int i = 0; i < 3 && tags[i]; i++)
        n += 1 + strlen(tags[i]);
    return n;
}

/* ---- trace-record ---------------------------------------------------------------- */

static bench_rc record_op(bench_thread *t)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    bench_bytes payload = bench_value(ks, bench_rng_next(&t->rng));
    if (strcmp(t->eng->name, "cairn") == 0) {
        cairn_slice tags[3];
        for (int i = 0; i < 3; i++)
            tags[i] = cairn_slice_of(tag_names[i], strlen(tag_names[i]));
        cairn_trace_spec s;
        cairn_trace_spec_init(&s);
        s.type = CAIRN_TRACE_TOOL_CALL;
        s.name = cairn_slice_of("search", 6);
        s.tags = tags;
        s.ntags = 3;
        s.payload = cairn_slice_of(payload.data, payload.len);
        cairn_trace_id id;
        cairn_status st = cairn_trace_record(eng_cairn_db(t->et), eng_cairn_run(), &s, &id);
        return st == CAIRN_OK ? BENCH_OK : cairn_fail(t, "cairn_trace_record", st);
    }
    /* a time-ordered, unique id: the op's sequence under the thread's index */
    uint8_t id[16];
    uint64_t start = bench_now_ns() / 1000;
    put_be64(id, start);
    put_be64(id + 8, (uint64_t)t->idx << 48 | t->seq);
    /* the stored trace's size; its bytes do not matter (kept per thread) */
    static _Thread_local uint8_t *rec;
    static _Thread_local size_t rec_cap;
    size_t size = record_size(6, tag_names, payload.len);
    if (size > rec_cap) {
        uint8_t *p = realloc(rec, size);
        if (p == NULL) {
            snprintf(t->err, sizeof t->err, "out of memory");
            return BENCH_ERROR;
        }
        memset(p, 0x5A, size);
        rec = p;
        rec_cap = size;
    }
    bench_bytes recb = bench_bytes_of(rec, size);
    for (;;) {
        bench_rc rc = t->eng->begin(t->et, 0);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin");
        rc = peer_write(t, id, start, CAIRN_TRACE_TOOL_CALL, tag_names, recb, bench_bytes_of("", 0));
        if (rc == BENCH_OK)
            rc = t->eng->commit(t->et);
        else
            t->eng->abort(t->et);
        if (rc == BENCH_OK)
            return BENCH_OK;
        if (rc != BENCH_CONFLICT)
            return wl_fail(t, rc, "trace write");
        t->conflicts++;
    }
}

const bench_workload bench_wl_trace_record = {
    .name = "trace-record",
    .summary = "record one trace with 3 tags per transaction (peers: the same 7 keys)",
    .flags = 0,
    .op = record_op,
};

/* ---- trace-query ------------------------------------------------------------------ */

static uint64_t loaded_total; /* traces loaded in this cell's process; 0 until then */

static bench_rc load(bench_thread *t, uint64_t total)
{
    bool cairn = strcmp(t->eng->name, "cairn") == 0;
    uint64_t stride = total / HOT;
    static const char *const hot_tags[3] = {"hot", NULL, NULL};
    static const char *const cold_tags[3] = {"cold", NULL, NULL};
    uint8_t payload[64];
    memset(payload, 0x33, sizeof payload);
    cairn_txn *txn = NULL;
    for (uint64_t k = 0; k < total; k++) {
        bool hot = k % stride == 0;
        uint8_t type = hot ? CAIRN_TRACE_QUERY : (k % 2 ? CAIRN_TRACE_THOUGHT : CAIRN_TRACE_TOOL_CALL);
        uint64_t start = 1 + k * TIME_STEP;
        const char *const *tags = hot ? hot_tags : cold_tags;
        if (k % LOAD_BATCH == 0) {
            bench_rc rc = t->eng->begin(t->et, 0);
            if (rc != BENCH_OK)
                return wl_fail(t, rc, "begin");
            txn = cairn ? eng_cairn_txn(t->et) : NULL;
        }
        if (cairn) {
            cairn_slice tag = cairn_slice_of(tags[0], strlen(tags[0]));
            cairn_trace_spec s;
            cairn_trace_spec_init(&s);
            s.type = (cairn_trace_type)type;
            s.start_us = (int64_t)start;
            s.tags = &tag;
            s.ntags = 1;
            s.payload = cairn_slice_of(payload, sizeof payload);
            cairn_status st = cairn_trace_record_tx(txn, eng_cairn_run(), &s, NULL);
            if (st != CAIRN_OK) {
                snprintf(t->err, sizeof t->err, "cairn_trace_record_tx: %s (%s)", cairn_status_name(st),
                         cairn_txn_errmsg(txn));
                t->eng->abort(t->et);
                return BENCH_ERROR;
            }
        } else {
            uint8_t id[16];
            put_be64(id, start);
            put_be64(id + 8, k);
            uint8_t rec[128];
            size_t size = record_size(0, tags, sizeof payload);
            memset(rec, 0x33, size);
            bench_bytes r = bench_bytes_of(rec, size);
            bench_rc rc = peer_write(t, id, start, type, tags, r, r);
            if (rc != BENCH_OK) {
                t->eng->abort(t->et);
                return wl_fail(t, rc, "load");
            }
        }
        if (k % LOAD_BATCH == LOAD_BATCH - 1 || k == total - 1) {
            bench_rc rc = t->eng->commit(t->et);
            if (rc != BENCH_OK)
                return wl_fail(t, rc, "load commit");
        }
    }
    loaded_total = total;
    return BENCH_OK;
}

static bench_rc query_op(bench_thread *t, uint64_t unrelated)
{
    if (loaded_total == 0) {
        bench_rc rc = load(t, unrelated + HOT);
        if (rc != BENCH_OK)
            return rc;
    }
    /* a random point in the first 90% of the time range */
    uint64_t from = 1 + bench_rng_below(&t->rng, loaded_total * 9 / 10) * TIME_STEP;
    bool by_tag = t->seq % 2 == 0;
    if (strcmp(t->eng->name, "cairn") == 0) {
        cairn_trace_cursor cur = {.set = true, .start_us = (int64_t)from - 1, .id = {.len = 1}};
        cairn_trace_list l;
        cairn_status st = by_tag ? cairn_trace_by_tag(eng_cairn_db(t->et), eng_cairn_run(),
                                                      cairn_slice_of("hot", 3), &cur, QUERY_LIMIT, &l)
                                 : cairn_trace_by_type(eng_cairn_db(t->et), eng_cairn_run(),
                                                       CAIRN_TRACE_QUERY, &cur, QUERY_LIMIT, &l);
        if (st != CAIRN_OK)
            return cairn_fail(t, by_tag ? "cairn_trace_by_tag" : "cairn_trace_by_type", st);
        if (l.n != QUERY_LIMIT) {
            snprintf(t->err, sizeof t->err, "a query returned %zu traces, not %d", l.n, QUERY_LIMIT);
            cairn_trace_list_free(&l);
            return BENCH_ERROR;
        }
        t->sink += l.items[0].payload.len;
        cairn_trace_list_free(&l);
        return BENCH_OK;
    }
    uint8_t k[64];
    size_t n;
    if (by_tag) {
        n = peer_field(k, peer_base(k, 0x04), "hot", 3);
    } else {
        n = peer_base(k, 0x03);
        k[n++] = CAIRN_TRACE_QUERY;
    }
    put_be64(k + n, from);
    n += 8;
    bench_rc rc = t->eng->begin(t->et, BENCH_TXN_READ_ONLY | BENCH_TXN_SINGLE);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "begin");
    size_t got = 0;
    rc = t->eng->scan(t->et, bench_bytes_of(k, n), QUERY_LIMIT, &got);
    if (rc != BENCH_OK) {
        t->eng->abort(t->et);
        return wl_fail(t, rc, "scan");
    }
    rc = t->eng->commit(t->et);
    return rc == BENCH_OK ? BENCH_OK : wl_fail(t, rc, "commit");
}

static bench_rc query_op_1x(bench_thread *t)
{
    return query_op(t, 10 * HOT);
}

static bench_rc query_op_10x(bench_thread *t)
{
    return query_op(t, 100 * HOT);
}

const bench_workload bench_wl_trace_query = {
    .name = "trace-query",
    .summary = "20 traces by tag or type among 1,000 matching and 10,000 unrelated (loaded in warmup)",
    .flags = WL_ONE_THREAD,
    .op = query_op_1x,
};

const bench_workload bench_wl_trace_query_x10 = {
    .name = "trace-query-x10",
    .summary = "trace-query with 10x the unrelated traces (100,000): the time should not move",
    .flags = WL_ONE_THREAD,
    .op = query_op_10x,
};
