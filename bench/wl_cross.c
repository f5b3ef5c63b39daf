/*
 * wl_cross.c - cross: every op is one transaction over all four primitives
 * of the thread's own run: a KV put of a new key, an event append, a
 * counter cell read-modify-write increment and a trace record with one tag.
 *
 * cairn: begin through the adapter, then cairn_kv_put_tx(),
 * cairn_event_append_tx(), cairn_cell_transition_or_init_tx() and
 * cairn_trace_record_tx() on eng_cairn_txn(), then the adapter's commit.
 *
 * Peers: the same keys and bytes in one transaction (cairn's layout built
 * by hand as wl_kv.c, wl_event.c, wl_cell_cas.c and wl_trace.c do; those
 * helpers are static there, so the minimal equivalent lives here): the KV
 * key, the event (get the meta, encode, SHA-256, put event, meta and type
 * index), the cell (get + put of 24 bytes) and the trace's 6 keys (record,
 * time, type, root and one tag index).
 *
 * A conflict (a `_tx` call or the commit) aborts and retries the whole
 * transaction after the backoff YCSB F's read-modify-writes use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <pthread.h>

#include "eng_cairn.h"
#include "workload.h"

enum {
    HASH = CAIRN_EVENT_HASH_SIZE,
    EVENT_FORMAT = 1,
    META_SIZE = 8 + HASH,
    CANON_FIXED = 1 + 8 + 8 + 1 + 4 + HASH,
    CELL_BYTES = 24,
};

static const char event_type[] = "tool_call";
static const char cell_name[] = "counter";
static const char trace_tag[] = "step";

static EVP_MD *sha_md;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;

static void sha_init(void)
{
    sha_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void sha256(const void *data, size_t len, uint8_t *out)
{
    pthread_once(&sha_once, sha_init);
    unsigned int n = 0;
    if (sha_md == NULL || !EVP_Digest(data, len, out, &n, sha_md, NULL))
        abort();
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* wl_common.c's backoff (static there). */
static void conflict_backoff(bench_thread *t, unsigned n)
{
    t->conflicts++;
    uint64_t cap = n >= 10 ? 1000 : (1u << n);
    uint64_t us = 1 + bench_rng_below(&t->rng, cap);
    struct timespec ts = {0, (long)(us * 1000)};
    nanosleep(&ts, NULL);
}

/* The run of thread `idx`: the benchmark run with its last two bytes
 * replaced (distinct from event-append-runs' runs). */
static cairn_run_id thread_run(unsigned idx)
{
    cairn_run_id r = *eng_cairn_run();
    r.bytes[14] = (uint8_t)((0x200u + idx) >> 8);
    r.bytes[15] = (uint8_t)(0x200u + idx);
    return r;
}

/* ---- cairn ------------------------------------------------------------------ */

static cairn_status increment(void *ctx, cairn_slice current, cairn_bytes *new_value)
{
    (void)ctx;
    if (current.len != 8)
        return CAIRN_CORRUPT;
    new_value->data = malloc(8);
    if (new_value->data == NULL)
        return CAIRN_NO_MEMORY;
    put_be64(new_value->data, get_be64(current.data) + 1);
    new_value->len = 8;
    return CAIRN_OK;
}

/* The four writes inside the adapter's open transaction. */
static bench_rc cairn_body(bench_thread *t, const cairn_run_id *run, bench_bytes key,
                           bench_bytes val)
{
    cairn_txn *txn = eng_cairn_txn(t->et);
    cairn_slice v = cairn_slice_of(val.data, val.len);
    const char *what = "cairn_kv_put_tx";
    cairn_status st = cairn_kv_put_tx(txn, run, cairn_slice_of(key.data, key.len), v);
    if (st == CAIRN_OK) {
        what = "cairn_event_append_tx";
        st = cairn_event_append_tx(txn, run, cairn_slice_of(event_type, sizeof event_type - 1), v,
                                   NULL, NULL);
    }
    cairn_status fst = CAIRN_OK;
    if (st == CAIRN_OK) {
        static const uint8_t zero[8];
        what = "cairn_cell_transition_or_init_tx";
        st = cairn_cell_transition_or_init_tx(txn, run, cairn_slice_of(cell_name, sizeof cell_name - 1),
                                              cairn_slice_of(zero, sizeof zero), increment, NULL,
                                              NULL, &fst);
    }
    if (st == CAIRN_OK) {
        cairn_slice tag = cairn_slice_of(trace_tag, sizeof trace_tag - 1);
        cairn_trace_spec s;
        cairn_trace_spec_init(&s);
        s.type = CAIRN_TRACE_TOOL_CALL;
        s.name = cairn_slice_of("search", 6);
        s.tags = &tag;
        s.ntags = 1;
        s.payload = v;
        what = "cairn_trace_record_tx";
        st = cairn_trace_record_tx(txn, run, &s, NULL);
    }
    if (st == CAIRN_OK)
        return BENCH_OK;
    if (st == CAIRN_CONFLICT && fst != CAIRN_CONFLICT)
        return BENCH_CONFLICT;
    snprintf(t->err, sizeof t->err, "%s: %s (%s)", what, cairn_status_name(st),
             cairn_txn_errmsg(txn));
    return st == CAIRN_UNSUPPORTED ? BENCH_UNSUPPORTED : BENCH_ERROR;
}

/* ---- peers: cairn's keys and bytes ----------------------------------------------- */

static bench_rc peer_put(bench_thread *t, const cairn_key *k, bench_bytes v, const char *what)
{
    bench_rc rc = t->eng->put(t->et, bench_bytes_of(k->bytes, k->len), v);
    return rc == BENCH_OK || rc == BENCH_CONFLICT ? rc : wl_fail(t, rc, what);
}

static bench_rc peer_get(bench_thread *t, const cairn_key *k, bench_bytes *v, const char *what)
{
    bench_rc rc = t->eng->get(t->et, bench_bytes_of(k->bytes, k->len), v);
    return rc == BENCH_OK || rc == BENCH_NOT_FOUND || rc == BENCH_CONFLICT ? rc : wl_fail(t, rc, what);
}

static void event_key(cairn_key *k, const cairn_run_id *run, uint8_t sub)
{
    cairn_key_init(k, run, CAIRN_TAG_EVENT);
    cairn_key_append_u8(k, sub);
}

static bench_rc peer_event(bench_thread *t, const cairn_run_id *run, bench_bytes payload)
{
    cairn_key k;
    event_key(&k, run, 0x00);
    bench_bytes v;
    uint64_t len = 0;
    uint8_t prev[HASH];
    bench_rc rc = peer_get(t, &k, &v, "get meta");
    if (rc == BENCH_OK) {
        if (v.len != META_SIZE) {
            snprintf(t->err, sizeof t->err, "%s: a %zu-byte event meta record", t->eng->name, v.len);
            return BENCH_ERROR;
        }
        len = get_be64(v.data);
        memcpy(prev, v.data + 8, HASH);
    } else if (rc == BENCH_NOT_FOUND) {
        static const char tag[] = "cairn.event.genesis";
        uint8_t g[sizeof tag - 1 + CAIRN_RUN_ID_SIZE];
        memcpy(g, tag, sizeof tag - 1);
        memcpy(g + sizeof tag - 1, run->bytes, CAIRN_RUN_ID_SIZE);
        sha256(g, sizeof g, prev);
    } else {
        return rc;
    }
    size_t tlen = sizeof event_type - 1;
    size_t size = CANON_FIXED + HASH + tlen + payload.len;
    uint8_t small[512];
    uint8_t *buf = size <= sizeof small ? small : malloc(size);
    if (buf == NULL) {
        snprintf(t->err, sizeof t->err, "out of memory");
        return BENCH_ERROR;
    }
    uint8_t *p = buf;
    *p++ = EVENT_FORMAT;
    put_be64(p, len);
    put_be64(p + 8, (uint64_t)now_us());
    p[16] = (uint8_t)tlen;
    memcpy(p + 17, event_type, tlen);
    p += 17 + tlen;
    p[0] = (uint8_t)(payload.len >> 24);
    p[1] = (uint8_t)(payload.len >> 16);
    p[2] = (uint8_t)(payload.len >> 8);
    p[3] = (uint8_t)payload.len;
    memcpy(p + 4, payload.data, payload.len);
    p += 4 + payload.len;
    memcpy(p, prev, HASH);
    p += HASH;
    sha256(buf, (size_t)(p - buf), p);
    uint8_t meta[META_SIZE];
    put_be64(meta, len + 1);
    memcpy(meta + 8, p, HASH);

    event_key(&k, run, 0x01);
    cairn_key_append_u64(&k, len);
    rc = peer_put(t, &k, bench_bytes_of(buf, size), "put event");
    if (buf != small)
        free(buf);
    if (rc == BENCH_OK) {
        event_key(&k, run, 0x00);
        rc = peer_put(t, &k, bench_bytes_of(meta, sizeof meta), "put meta");
    }
    if (rc == BENCH_OK) {
        event_key(&k, run, 0x02);
        cairn_key_append_field(&k, cairn_slice_of(event_type, tlen));
        cairn_key_append_u64(&k, len);
        rc = peer_put(t, &k, bench_bytes_of("", 0), "put index");
    }
    return rc;
}

static bench_rc peer_cell(bench_thread *t, const cairn_run_id *run)
{
    cairn_key k;
    cairn_key_init(&k, run, CAIRN_TAG_STATE);
    cairn_key_append(&k, cairn_slice_of(cell_name, sizeof cell_name - 1));
    bench_bytes v;
    uint64_t version = 0, counter = 0;
    bench_rc rc = peer_get(t, &k, &v, "get cell");
    if (rc == BENCH_OK) {
        if (v.len != CELL_BYTES) {
            snprintf(t->err, sizeof t->err, "%s: a stored counter of %zu bytes", t->eng->name, v.len);
            return BENCH_ERROR;
        }
        version = get_be64(v.data);
        counter = get_be64(v.data + 16);
    } else if (rc != BENCH_NOT_FOUND) {
        return rc;
    }
    uint8_t cell[CELL_BYTES];
    put_be64(cell, version + 1);
    put_be64(cell + 8, (uint64_t)now_us());
    put_be64(cell + 16, counter + 1);
    return peer_put(t, &k, bench_bytes_of(cell, sizeof cell), "put cell");
}

static void trace_key(cairn_key *k, const cairn_run_id *run, uint8_t sub)
{
    cairn_key_init(k, run, CAIRN_TAG_TRACE);
    cairn_key_append_u8(k, sub);
}

static void trace_tail(cairn_key *k, uint64_t start, const uint8_t *id)
{
    cairn_key_append_u64(k, start);
    cairn_key_append_field(k, cairn_slice_of(id, 16));
}

/* A trace's 6 keys with one tag (wl_trace.c's peer_write, 1 tag). */
static bench_rc peer_trace(bench_thread *t, const cairn_run_id *run, bench_bytes payload)
{
    uint8_t id[16];
    uint64_t start = (uint64_t)now_us();
    put_be64(id, start);
    put_be64(id + 8, (uint64_t)t->idx << 48 | t->seq);
    size_t tlen = sizeof trace_tag - 1;
    size_t size = 27 + 16 + 6 + payload.len + 1 + tlen; /* wl_trace.c's record_size */
    uint8_t small[512];
    uint8_t *rec = size <= sizeof small ? small : malloc(size);
    if (rec == NULL) {
        snprintf(t->err, sizeof t->err, "out of memory");
        return BENCH_ERROR;
    }
    memset(rec, 0x5A, size);
    bench_bytes empty = bench_bytes_of("", 0);
    cairn_key k;
    trace_key(&k, run, 0x01);
    cairn_key_append_field(&k, cairn_slice_of(id, 16));
    bench_rc rc = peer_put(t, &k, bench_bytes_of(rec, size), "put trace");
    if (rec != small)
        free(rec);
    if (rc == BENCH_OK) {
        trace_key(&k, run, 0x02);
        trace_tail(&k, start, id);
        rc = peer_put(t, &k, empty, "put time index");
    }
    if (rc == BENCH_OK) {
        trace_key(&k, run, 0x03);
        cairn_key_append_u8(&k, CAIRN_TRACE_TOOL_CALL);
        trace_tail(&k, start, id);
        rc = peer_put(t, &k, empty, "put type index");
    }
    if (rc == BENCH_OK) {
        trace_key(&k, run, 0x05);
        cairn_key_append_field(&k, cairn_slice_of("", 0));
        trace_tail(&k, start, id);
        rc = peer_put(t, &k, empty, "put root index");
    }
    if (rc == BENCH_OK) {
        trace_key(&k, run, 0x04);
        cairn_key_append_field(&k, cairn_slice_of(trace_tag, tlen));
        trace_tail(&k, start, id);
        rc = peer_put(t, &k, empty, "put tag index");
    }
    return rc;
}

static bench_rc peer_body(bench_thread *t, const cairn_run_id *run, bench_bytes key, bench_bytes val)
{
    cairn_key k;
    cairn_key_init(&k, run, CAIRN_TAG_KV);
    cairn_key_append(&k, cairn_slice_of(key.data, key.len));
    bench_rc rc = peer_put(t, &k, val, "put kv");
    if (rc == BENCH_OK)
        rc = peer_event(t, run, val);
    if (rc == BENCH_OK)
        rc = peer_cell(t, run);
    if (rc == BENCH_OK)
        rc = peer_trace(t, run, val);
    return rc;
}

/* ---- the op ----------------------------------------------------------------------- */

static bench_rc cross_op(bench_thread *t)
{
    const bench_keyspace *ks = &t->cell->cfg->ks;
    cairn_run_id run = thread_run(t->idx);
    bench_key(ks, t->seq, t->key);
    bench_bytes key = bench_bytes_of(t->key, ks->key_size);
    bench_bytes val = bench_value(ks, bench_rng_next(&t->rng));
    bool cairn = t->eng == &bench_engine_cairn;
    for (unsigned attempt = 1;; attempt++) {
        bench_rc rc = t->eng->begin(t->et, 0);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin");
        rc = cairn ? cairn_body(t, &run, key, val) : peer_body(t, &run, key, val);
        if (rc != BENCH_OK) {
            t->eng->abort(t->et);
            if (rc != BENCH_CONFLICT)
                return rc;
        } else if ((rc = t->eng->commit(t->et)) == BENCH_OK) {
            return BENCH_OK;
        } else if (rc != BENCH_CONFLICT) {
            return wl_fail(t, rc, "commit");
        }
        conflict_backoff(t, attempt);
    }
}

const bench_workload bench_wl_cross = {
    .name = "cross",
    .summary = "one transaction per op on the thread's own run: KV put + event append + cell "
               "increment + trace record with 1 tag (peers: the same keys and bytes)",
    .flags = 0,
    .op = cross_op,
};
