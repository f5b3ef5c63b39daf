/*
 * wl_event.c - the EventLog workloads.
 *
 *   event-append       appends to one run shared by every thread (contended)
 *   event-append-runs  appends, each thread to its own run (uncontended)
 *   event-read-range   100 consecutive events from a random number
 *   event-read-type    the next 100 events of one type from a random point
 *   event-verify       the whole chain of a run verified, every link and hash
 *
 * An event carries one of four types and a value_size-byte payload (100 by
 * default).  The read and verify workloads count events (`items`), so
 * their ops/s are events read or verified per second.
 *
 * cairn calls the primitive: cairn_event_append() (its own transaction,
 * conflicts retried inside it as cairn_db_run() does; those retries do not
 * show in the conflicts column), cairn_event_iter_range() and
 * cairn_event_iter_type() in one read-only transaction per op, and
 * cairn_event_verify().
 *
 * The peers store exactly what cairn stores, under the same key bytes (see
 * primitives/eventlog.c): the meta key [len u64][head hash 32], the event
 * key holding the canonical encoding followed by its SHA-256, and an empty
 * by-type index key.  An append is one transaction that reads the meta key,
 * encodes the event, hashes it with SHA-256 the way cairn does (an EVP
 * digest fetched once), and
 * puts the event, the meta and the index key; a conflict is retried after
 * the backoff YCSB F's read-modify-writes use (wl_common.c).
 *
 * Two things the engine vocabulary cannot express shape the peers' reads:
 * scan() hands back neither keys nor values.
 *  - event-read-type: the peers scan 100 entries of the type's index
 *    (the work of walking it) and then get the 100 events; the numbers to
 *    get come from the preload's type assignment (event n has type
 *    n % 4, documented below), not from the index keys, and each event got
 *    is checked to carry the type.  The engine work is the same as cairn's:
 *    an index scan of 100 entries and 100 point reads.
 *  - event-verify: the peers get every event by number (a point read each)
 *    where cairn walks an iterator; a peer's verify therefore pays point
 *    reads where a cursor would do, and its figure is a lower bound.
 *
 * Preloading: the read and verify workloads need one run of events, which
 * the runner's WL_PRELOAD (KV keys) does not make.  They replace the
 * runner's loop (`run`): open the engine, append min(keys, 100,000) events
 * (at least 1,000) to one run on one thread in transactions of load_batch
 * appends, let the engine settle, and only then hand the cell to
 * bench_run_cell(), whose warm-up and measured window start after the
 * preload; its time is in no figure.  cell->loaded then counts the events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <pthread.h>

#include "eng_cairn.h"
#include "workload.h"

/* SHA-256 as primitives/eventlog.c computes it: the algorithm fetched once. */
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

enum {
    HASH = CAIRN_EVENT_HASH_SIZE,
    SUB_META = 0x00, /* primitives/eventlog.c's sub-kinds */
    SUB_EVENT = 0x01,
    SUB_TYPE = 0x02,
    EVENT_FORMAT = 1,
    META_SIZE = 8 + HASH,
    /* [format u8][seq u64][ts i64][type_len u8][type][payload_len u32]
     * [payload][prev_hash 32], then the hash */
    CANON_FIXED = 1 + 8 + 8 + 1 + 4 + HASH,
    READ_EVENTS = 100,  /* events per read op */
    NTYPES = 4,
    PRELOAD_MAX = 100000,
    PRELOAD_MIN = 1000, /* leaves READ_EVENTS of every type past any start */
};

/* The event types; preloaded event n has type n % NTYPES. */
static const char *const types[NTYPES] = {"message", "tool_call", "tool_result", "state"};

static cairn_slice type_slice(unsigned i)
{
    return cairn_slice_of(types[i], strlen(types[i]));
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

/*
 * After the n-th conflict in a row, waits a random time up to
 * min(2^n, 1000) microseconds: wl_common.c's backoff (static there), so
 * these ops back off exactly as YCSB F's read-modify-writes do.
 */
static void conflict_backoff(bench_thread *t, unsigned n)
{
    t->conflicts++;
    uint64_t cap = n >= 10 ? 1000 : (1u << n);
    uint64_t us = 1 + bench_rng_below(&t->rng, cap);
    struct timespec ts = {0, (long)(us * 1000)};
    nanosleep(&ts, NULL);
}

/* The run of thread `idx` in event-append-runs: the benchmark run with its
 * last two bytes replaced. */
static cairn_run_id thread_run(unsigned idx)
{
    cairn_run_id r = *eng_cairn_run();
    r.bytes[14] = (uint8_t)((0x100u + idx) >> 8);
    r.bytes[15] = (uint8_t)(0x100u + idx);
    return r;
}

static bench_rc cairn_fail(bench_thread *t, cairn_status st, const char *what, cairn_txn *txn)
{
    char msg[200] = "";
    if (txn)
        snprintf(msg, sizeof msg, "%s", cairn_txn_errmsg(txn));
    else
        cairn_db_errmsg(eng_cairn_db(t->et), msg, sizeof msg);
    snprintf(t->err, sizeof t->err, "%s: %s (%s)", what, cairn_status_name(st), msg);
    return st == CAIRN_UNSUPPORTED ? BENCH_UNSUPPORTED : BENCH_ERROR;
}

static bool is_cairn(const bench_thread *t)
{
    return t->eng == &bench_engine_cairn;
}

/* ---- the peers' events: cairn's keys and bytes ------------------------------ */

static void key_base(cairn_key *k, const cairn_run_id *run, uint8_t sub)
{
    cairn_key_init(k, run, CAIRN_TAG_EVENT);
    cairn_key_append_u8(k, sub);
}

static bench_bytes key_event(cairn_key *k, const cairn_run_id *run, uint64_t seq)
{
    key_base(k, run, SUB_EVENT);
    cairn_key_append_u64(k, seq);
    return bench_bytes_of(k->bytes, k->len);
}

static bench_bytes key_type(cairn_key *k, const cairn_run_id *run, cairn_slice type, uint64_t seq)
{
    key_base(k, run, SUB_TYPE);
    cairn_key_append_field(k, type);
    cairn_key_append_u64(k, seq);
    return bench_bytes_of(k->bytes, k->len);
}

static void genesis(const cairn_run_id *run, uint8_t out[HASH])
{
    static const char tag[] = "cairn.event.genesis";
    uint8_t buf[sizeof tag - 1 + CAIRN_RUN_ID_SIZE];
    memcpy(buf, tag, sizeof tag - 1);
    memcpy(buf + sizeof tag - 1, run->bytes, CAIRN_RUN_ID_SIZE);
    sha256(buf, sizeof buf, out);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A stored event taken apart: false when the bytes are not one. */
typedef struct peer_event {
    uint64_t seq;
    cairn_slice type, payload;
    const uint8_t *prev, *hash;
} peer_event;

static bool decode(bench_bytes v, peer_event *ev)
{
    const uint8_t *p = v.data;
    if (v.len < CANON_FIXED + HASH || p[0] != EVENT_FORMAT)
        return false;
    size_t tlen = p[17];
    if (v.len < CANON_FIXED + HASH + tlen)
        return false;
    const uint8_t *q = p + 18 + tlen;
    size_t plen = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
    if (v.len != CANON_FIXED + HASH + tlen + plen)
        return false;
    ev->seq = get_be64(p + 1);
    ev->type = cairn_slice_of(p + 18, tlen);
    ev->payload = cairn_slice_of(q + 4, plen);
    ev->prev = q + 4 + plen;
    ev->hash = p + v.len - HASH;
    return true;
}

/*
 * Appends one event inside the peer's open read-write transaction: reads
 * the meta key, encodes and hashes the event, puts the event, the meta and
 * the index key.  Returns the engine's code (BENCH_CONFLICT included) with
 * t->err set on failure.
 */
static bench_rc peer_append_in(bench_thread *t, const cairn_run_id *run, cairn_slice type,
                               bench_bytes payload)
{
    cairn_key k;
    key_base(&k, run, SUB_META);
    bench_bytes v;
    uint64_t len = 0;
    uint8_t prev[HASH];
    bench_rc rc = t->eng->get(t->et, bench_bytes_of(k.bytes, k.len), &v);
    if (rc == BENCH_OK) {
        if (v.len != META_SIZE) {
            snprintf(t->err, sizeof t->err, "%s: a %zu-byte event meta record", t->eng->name, v.len);
            return BENCH_ERROR;
        }
        len = get_be64(v.data);
        memcpy(prev, v.data + 8, HASH);
    } else if (rc == BENCH_NOT_FOUND) {
        genesis(run, prev);
    } else {
        return wl_fail(t, rc, "get meta");
    }

    uint8_t small[512];
    size_t size = CANON_FIXED + HASH + type.len + payload.len;
    uint8_t *buf = size <= sizeof small ? small : malloc(size);
    if (buf == NULL) {
        snprintf(t->err, sizeof t->err, "out of memory");
        return BENCH_ERROR;
    }
    uint8_t *p = buf;
    *p++ = EVENT_FORMAT;
    put_be64(p, len);
    put_be64(p + 8, (uint64_t)now_us());
    p[16] = (uint8_t)type.len;
    memcpy(p + 17, type.data, type.len);
    p += 17 + type.len;
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
    rc = t->eng->put(t->et, key_event(&k, run, len), bench_bytes_of(buf, size));
    if (buf != small)
        free(buf);
    if (rc != BENCH_OK)
        return rc == BENCH_CONFLICT ? rc : wl_fail(t, rc, "put event");
    key_base(&k, run, SUB_META);
    rc = t->eng->put(t->et, bench_bytes_of(k.bytes, k.len), bench_bytes_of(meta, sizeof meta));
    if (rc != BENCH_OK)
        return rc == BENCH_CONFLICT ? rc : wl_fail(t, rc, "put meta");
    static const uint8_t empty[1];
    rc = t->eng->put(t->et, key_type(&k, run, type, len), bench_bytes_of(empty, 0));
    if (rc != BENCH_OK)
        return rc == BENCH_CONFLICT ? rc : wl_fail(t, rc, "put index");
    t->sink += len;
    return BENCH_OK;
}

/* ---- event-append, event-append-runs ------------------------------------------ */

static bench_rc append_one(bench_thread *t, const cairn_run_id *run)
{
    cairn_slice type = type_slice((unsigned)bench_rng_below(&t->rng, NTYPES));
    bench_bytes payload = bench_value(&t->cell->cfg->ks, bench_rng_next(&t->rng));
    if (is_cairn(t)) {
        cairn_db *db = eng_cairn_db(t->et);
        for (unsigned attempt = 1;; attempt++) {
            uint64_t seq;
            uint8_t hash[HASH];
            cairn_status st = cairn_event_append(db, run, type,
                                                 cairn_slice_of(payload.data, payload.len), &seq, hash);
            if (st == CAIRN_OK) {
                t->sink += seq + hash[0];
                return BENCH_OK;
            }
            if (st != CAIRN_CONFLICT)
                return cairn_fail(t, st, "cairn_event_append", NULL);
            conflict_backoff(t, attempt); /* every one of max_retries attempts conflicted */
        }
    }
    for (unsigned attempt = 1;; attempt++) {
        bench_rc rc = t->eng->begin(t->et, 0);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin");
        rc = peer_append_in(t, run, type, payload);
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

static bench_rc append_shared(bench_thread *t)
{
    return append_one(t, eng_cairn_run());
}

static bench_rc append_runs(bench_thread *t)
{
    cairn_run_id run = thread_run(t->idx);
    return append_one(t, &run);
}

const bench_workload bench_wl_event_append = {
    .name = "event-append",
    .summary = "event appends through cairn_event_append, one run for all threads (peers: get "
               "the meta, SHA-256, put event, meta and index in one transaction)",
    .flags = 0,
    .op = append_shared,
};

const bench_workload bench_wl_event_append_runs = {
    .name = "event-append-runs",
    .summary = "event appends through cairn_event_append, one run per thread (peers: get the "
               "meta, SHA-256, put event, meta and index in one transaction)",
    .flags = 0,
    .op = append_runs,
};

/* ---- the preloaded run -------------------------------------------------------- */

static uint64_t preload_len(const bench_config *cfg)
{
    uint64_t n = cfg->keys < PRELOAD_MAX ? cfg->keys : PRELOAD_MAX;
    return n < PRELOAD_MIN ? PRELOAD_MIN : n;
}

/* Appends events [0, n) to the benchmark run, event i of type i % NTYPES,
 * in transactions of load_batch appends. */
static bench_rc preload_events(bench_thread *t, uint64_t n)
{
    const cairn_run_id *run = eng_cairn_run();
    const bench_config *cfg = t->cell->cfg;
    uint64_t batch = cfg->load_batch ? cfg->load_batch : 1000;
    for (uint64_t from = 0; from < n;) {
        uint64_t to = n - from < batch ? n : from + batch;
        bench_rc rc = t->eng->begin(t->et, 0);
        if (rc != BENCH_OK)
            return wl_fail(t, rc, "begin");
        bench_rng saved = t->rng;
        for (uint64_t i = from; i < to && rc == BENCH_OK; i++) {
            cairn_slice type = type_slice((unsigned)(i % NTYPES));
            bench_bytes payload = bench_value(&cfg->ks, bench_rng_next(&t->rng));
            if (is_cairn(t)) {
                cairn_txn *txn = eng_cairn_txn(t->et);
                cairn_status st = cairn_event_append_tx(txn, run, type,
                                                        cairn_slice_of(payload.data, payload.len),
                                                        NULL, NULL);
                if (st != CAIRN_OK)
                    rc = st == CAIRN_CONFLICT ? BENCH_CONFLICT
                                              : cairn_fail(t, st, "cairn_event_append_tx", txn);
            } else {
                rc = peer_append_in(t, run, type, payload);
            }
        }
        if (rc != BENCH_OK) {
            t->eng->abort(t->et);
            if (rc != BENCH_CONFLICT)
                return rc;
        } else if ((rc = t->eng->commit(t->et)) != BENCH_OK && rc != BENCH_CONFLICT) {
            return wl_fail(t, rc, "commit");
        }
        if (rc == BENCH_CONFLICT) { /* nobody else writes, but a retry is harmless */
            t->rng = saved;
            continue;
        }
        from = to;
    }
    return BENCH_OK;
}

/* Opens the engine, preloads the run, then runs the cell's threads with
 * the workload's op() (see the top of the file). */
static bench_rc preloaded_run(bench_cell *cell, bench_result *res)
{
    const bench_workload *outer = cell->wl;
    uint64_t n = preload_len(cell->cfg);
    bench_workload inner = *outer;
    inner.run = NULL;
    if (inner.items == 0) /* event-verify: one op verifies the whole run */
        inner.items = (unsigned)n;

    bool opened = false;
    if (!cell->db) {
        if (bench_open_engine(cell, res) != BENCH_OK)
            return res->status == BENCH_RES_UNSUPPORTED ? BENCH_UNSUPPORTED : BENCH_ERROR;
        opened = true;
    }
    bench_thread t;
    bench_rc rc = bench_thread_setup(cell, 0, &t);
    if (rc == BENCH_OK)
        rc = preload_events(&t, n);
    if (rc != BENCH_OK)
        snprintf(res->msg, sizeof res->msg, "preload: %.200s", t.err);
    bench_thread_teardown(&t);
    if (rc == BENCH_OK) {
        if (cell->eng->settle)
            cell->eng->settle(cell->db);
        cell->loaded = n;
        cell->wl = &inner;
        bench_run_cell(cell, res); /* keeps res's identity: inner has outer's name */
        cell->wl = outer;
        rc = res->status == BENCH_RES_OK            ? BENCH_OK
             : res->status == BENCH_RES_UNSUPPORTED ? BENCH_UNSUPPORTED
                                                    : BENCH_ERROR;
    }
    if (opened) {
        cell->eng->close(cell->db);
        cell->db = NULL;
    }
    return rc;
}

/* ---- event-read-range ------------------------------------------------------- */

static bench_rc cairn_read_iter(bench_thread *t, bool by_type, unsigned ty, uint64_t start)
{
    bench_rc rc = t->eng->begin(t->et, BENCH_TXN_READ_ONLY);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "begin");
    cairn_txn *txn = eng_cairn_txn(t->et);
    cairn_event_iter *it = NULL;
    cairn_status st = by_type ? cairn_event_iter_type(txn, eng_cairn_run(), type_slice(ty), start, &it)
                              : cairn_event_iter_range(txn, eng_cairn_run(), start,
                                                       start + READ_EVENTS, &it);
    unsigned got = 0;
    cairn_event_view ev;
    while (st == CAIRN_OK && got < READ_EVENTS && (st = cairn_event_iter_next(it, &ev)) == CAIRN_OK) {
        if (by_type && (ev.type.len != strlen(types[ty]) || memcmp(ev.type.data, types[ty], ev.type.len))) {
            snprintf(t->err, sizeof t->err, "event %llu is not of type %s", (unsigned long long)ev.seq,
                     types[ty]);
            cairn_event_iter_free(it);
            t->eng->abort(t->et);
            return BENCH_ERROR;
        }
        t->sink += ev.seq + (ev.payload.len ? ((const uint8_t *)ev.payload.data)[ev.payload.len - 1] : 0);
        got++;
    }
    if (st == CAIRN_DONE)
        st = CAIRN_OK;
    if (st != CAIRN_OK) {
        rc = cairn_fail(t, st, by_type ? "cairn_event_iter_type" : "cairn_event_iter_range", txn);
        cairn_event_iter_free(it);
        t->eng->abort(t->et);
        return rc;
    }
    cairn_event_iter_free(it);
    rc = t->eng->commit(t->et);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "commit");
    if (got != READ_EVENTS) {
        snprintf(t->err, sizeof t->err, "read %u events from %llu, not %d", got,
                 (unsigned long long)start, READ_EVENTS);
        return BENCH_ERROR;
    }
    return BENCH_OK;
}

static bench_rc read_range(bench_thread *t)
{
    uint64_t start = bench_rng_below(&t->rng, t->cell->loaded - READ_EVENTS + 1);
    if (is_cairn(t))
        return cairn_read_iter(t, false, 0, start);
    bench_rc rc = t->eng->begin(t->et, BENCH_TXN_READ_ONLY);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "begin");
    cairn_key k;
    size_t got = 0;
    rc = t->eng->scan(t->et, key_event(&k, eng_cairn_run(), start), READ_EVENTS, &got);
    if (rc != BENCH_OK) {
        t->eng->abort(t->et);
        return wl_fail(t, rc, "scan");
    }
    rc = t->eng->commit(t->et);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "commit");
    if (got != READ_EVENTS) {
        snprintf(t->err, sizeof t->err, "%s: scanned %zu events, not %d", t->eng->name, got, READ_EVENTS);
        return BENCH_ERROR;
    }
    return BENCH_OK;
}

const bench_workload bench_wl_event_read_range = {
    .name = "event-read-range",
    .summary = "100 consecutive events from a random number through cairn_event_iter_range "
               "(peers: a 100-pair scan); ops/s counts events",
    .flags = 0,
    .items = READ_EVENTS,
    .op = read_range,
    .run = preloaded_run,
};

/* ---- event-read-type -------------------------------------------------------- */

static bench_rc read_type(bench_thread *t)
{
    unsigned ty = (unsigned)bench_rng_below(&t->rng, NTYPES);
    uint64_t of_type = (t->cell->loaded - ty + NTYPES - 1) / NTYPES; /* events ty, ty+4, ... */
    uint64_t start = ty + NTYPES * bench_rng_below(&t->rng, of_type - READ_EVENTS + 1);
    if (is_cairn(t))
        return cairn_read_iter(t, true, ty, start);
    const cairn_run_id *run = eng_cairn_run();
    bench_rc rc = t->eng->begin(t->et, BENCH_TXN_READ_ONLY);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "begin");
    cairn_key k;
    size_t got = 0;
    rc = t->eng->scan(t->et, key_type(&k, run, type_slice(ty), start), READ_EVENTS, &got);
    if (rc != BENCH_OK) {
        t->eng->abort(t->et);
        return wl_fail(t, rc, "scan");
    }
    if (got != READ_EVENTS) {
        t->eng->abort(t->et);
        snprintf(t->err, sizeof t->err, "%s: scanned %zu index entries, not %d", t->eng->name, got,
                 READ_EVENTS);
        return BENCH_ERROR;
    }
    for (unsigned i = 0; i < READ_EVENTS; i++) {
        uint64_t seq = start + (uint64_t)i * NTYPES;
        bench_bytes v;
        peer_event ev;
        rc = t->eng->get(t->et, key_event(&k, run, seq), &v);
        if (rc != BENCH_OK) {
            t->eng->abort(t->et);
            return wl_fail(t, rc == BENCH_NOT_FOUND ? BENCH_ERROR : rc, "get event");
        }
        if (!decode(v, &ev) || ev.seq != seq || ev.type.len != strlen(types[ty]) ||
            memcmp(ev.type.data, types[ty], ev.type.len) != 0) {
            t->eng->abort(t->et);
            snprintf(t->err, sizeof t->err, "%s: event %llu is not a %s event", t->eng->name,
                     (unsigned long long)seq, types[ty]);
            return BENCH_ERROR;
        }
        t->sink += ev.seq + (ev.payload.len ? ((const uint8_t *)ev.payload.data)[ev.payload.len - 1] : 0);
    }
    rc = t->eng->commit(t->et);
    return rc == BENCH_OK ? BENCH_OK : wl_fail(t, rc, "commit");
}

const bench_workload bench_wl_event_read_type = {
    .name = "event-read-type",
    .summary = "the next 100 events of one type through cairn_event_iter_type (peers: a "
               "100-entry index scan and 100 gets); ops/s counts events",
    .flags = 0,
    .items = READ_EVENTS,
    .op = read_type,
    .run = preloaded_run,
};

/* ---- event-verify ------------------------------------------------------------ */

static bench_rc verify_fail(bench_thread *t, uint64_t seq, const char *why)
{
    t->eng->abort(t->et);
    snprintf(t->err, sizeof t->err, "%s: the chain does not verify at event %llu: %s", t->eng->name,
             (unsigned long long)seq, why);
    return BENCH_ERROR;
}

static bench_rc verify(bench_thread *t)
{
    const cairn_run_id *run = eng_cairn_run();
    if (is_cairn(t)) {
        cairn_chain_report rep;
        cairn_status st = cairn_event_verify(eng_cairn_db(t->et), run, &rep);
        if (st != CAIRN_OK)
            return cairn_fail(t, st, "cairn_event_verify", NULL);
        if (!rep.ok || rep.checked != t->cell->loaded) {
            snprintf(t->err, sizeof t->err, "cairn_event_verify: %llu of %llu events checked: %s",
                     (unsigned long long)rep.checked, (unsigned long long)t->cell->loaded, rep.why);
            return BENCH_ERROR;
        }
        t->sink += rep.head_hash[0];
        return BENCH_OK;
    }
    bench_rc rc = t->eng->begin(t->et, BENCH_TXN_READ_ONLY);
    if (rc != BENCH_OK)
        return wl_fail(t, rc, "begin");
    cairn_key k;
    key_base(&k, run, SUB_META);
    bench_bytes v;
    rc = t->eng->get(t->et, bench_bytes_of(k.bytes, k.len), &v);
    if (rc != BENCH_OK || v.len != META_SIZE)
        return verify_fail(t, 0, "no meta record");
    uint64_t len = get_be64(v.data);
    uint8_t head[HASH], prev[HASH], h[HASH];
    memcpy(head, v.data + 8, HASH);
    genesis(run, prev);
    for (uint64_t seq = 0; seq < len; seq++) {
        peer_event ev;
        rc = t->eng->get(t->et, key_event(&k, run, seq), &v);
        if (rc == BENCH_NOT_FOUND)
            return verify_fail(t, seq, "missing");
        if (rc != BENCH_OK) {
            t->eng->abort(t->et);
            return wl_fail(t, rc, "get event");
        }
        if (!decode(v, &ev) || ev.seq != seq)
            return verify_fail(t, seq, "malformed");
        if (memcmp(ev.prev, prev, HASH) != 0)
            return verify_fail(t, seq, "broken link");
        sha256(v.data, v.len - HASH, h);
        if (memcmp(h, ev.hash, HASH) != 0)
            return verify_fail(t, seq, "wrong hash");
        memcpy(prev, h, HASH);
    }
    if (len != t->cell->loaded || memcmp(prev, head, HASH) != 0)
        return verify_fail(t, len, "the meta record disagrees with the events");
    t->sink += prev[0];
    rc = t->eng->commit(t->et);
    return rc == BENCH_OK ? BENCH_OK : wl_fail(t, rc, "commit");
}

const bench_workload bench_wl_event_verify = {
    .name = "event-verify",
    .summary = "whole-chain verification of the preloaded run through cairn_event_verify (peers: "
               "get every event, check each link and SHA-256); ops/s counts events",
    .flags = 0,
    .items = 0, /* set to the preloaded length when the cell runs */
    .op = verify,
    .run = preloaded_run,
};
