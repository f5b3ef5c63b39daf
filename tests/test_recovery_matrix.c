/*
 * The recovery matrix: each primitive on its own, crashed while it works,
 * must come back with every acknowledged write and with its indices and
 * chains intact.
 *
 * Each primitive has a seeded workload of steps; step n is one SYNC (or
 * ASYNC) transaction at commit version n, its operations a pure function
 * of n and of the state the earlier steps left, which a model in the test
 * replays without a database:
 *
 *   KV          puts (small and multi-sector values), deletes, puts with a
 *               TTL that passes before the next step and with one that never
 *               does, each after a get that must match the model, over
 *               three runs;
 *   EventLog    appends of four types over three runs, idempotent appends
 *               (first and repeated ids), appends expecting the right length
 *               and a wrong one;
 *   StateCell   set, CAS (right and wrong version), init (new and existing),
 *               delete, transitions and transition-or-init, over three runs;
 *   TraceStore  traces with caller ids under random parents (or none), with
 *               types, tags, explicit or implicit start times and payloads,
 *               finished ok or failed (and finished twice), duplicate ids
 *               and missing parents refused;
 *   RunIndex    runs registered with names, parents, tags and metadata,
 *               every status transition (allowed or refused, fail with a
 *               message), tags added and removed, metadata replaced, and
 *               deletes with and without their child runs.
 *
 * After each recovery the database must be exactly the model's state at
 * the recovered version: every KV pair and cell (with versions and
 * times), every event (number, type, payload, time) and every trace and
 * run field, and every index query (events by type, traces by type, tag,
 * parent, time and roots, runs by status, tag, status and tag, parent),
 * read in small pages; and the primitive's checker must pass
 * (cairn_event_verify and cairn_trace_check for every run,
 * cairn_run_check), counting exactly the model's events, traces, runs
 * and index entries.  A fake clock, moved to each step's time, makes every
 * timestamp and expiry predictable.
 *
 *   kill -9   a child process runs the workload in SYNC mode and
 *             acknowledges each {step, commit version} over a pipe; the
 *             parent kills it after 0..KILL_MAX_ACKS acknowledgements (so
 *             also during open and recovery, and within checkpoints: the
 *             child checkpoints now and then and checkpoint_wal_bytes is
 *             small).  The recovered version must be the last acknowledged
 *             step or the one in flight.  CAIRN_CRASH_POINTS (default 200)
 *             kills per primitive, KILL_ROUNDS_PER_DIR in each directory.
 *   power     the same workload in process on the instrumented file layer,
 *   loss      crashed with wal_fs_crash() between calls or just before the
 *             n-th sync (sticky): SYNC recovers at least every acknowledged
 *             step, ASYNC any prefix no older than the last checkpoint.
 *             Four kinds (each crash point between calls or before a sync,
 *             the last unsynced write torn after 0..8 sectors or dropped
 *             whole) x PL_SCENARIOS x PL_ROUNDS = 64 crash points per
 *             primitive in each mode: 128 per primitive, 640 in all;
 *             CAIRN_TEST_SCALE (default 1) multiplies them.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>

#include "crash_harness.h"
#include "helpers.h"
#include "engine/db_internal.h"
#include "wal/file.h"

#define NRUNS 3
#define STEP_US INT64_C(1000000)
#define SHORT_TTL_US (STEP_US / 4)          /* gone before the next step */
#define LONG_TTL_US INT64_C(1000000000000000) /* never passes in a test */

/* ---- context, assertions, clock -------------------------------------------------- */

static char ctx[256];

static void set_ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_ctx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
}

#define CHECK(expr)                                                                       \
    do {                                                                                  \
        cairn_status chk_st_ = (expr);                                                    \
        cr_assert_eq(chk_st_, CAIRN_OK, "[%s] %s: %s", ctx, #expr,                        \
                     cairn_status_name(chk_st_));                                         \
    } while (0)

#define CHECK_STATUS(expr, want)                                                          \
    do {                                                                                  \
        cairn_status chk_st_ = (expr);                                                    \
        cairn_status chk_want_ = (want);                                                  \
        cr_assert_eq(chk_st_, chk_want_, "[%s] %s: %s, expected %s", ctx, #expr,          \
                     cairn_status_name(chk_st_), cairn_status_name(chk_want_));           \
    } while (0)

static _Atomic int64_t clock_now;

static int64_t read_clock(void *unused)
{
    (void)unused;
    return atomic_load(&clock_now);
}

static int64_t step_time(uint64_t n)
{
    return FAKE_CLOCK_START_US + (int64_t)n * STEP_US;
}

/* The time the state after step n is checked at: every short TTL of steps
 * up to n has passed, every long one has not. */
static void set_check_clock(uint64_t n)
{
    atomic_store(&clock_now, step_time(n) + STEP_US / 2);
}

/* Deterministic bytes for (a, b, c). */
static void fill(uint8_t *out, size_t len, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a * UINT64_C(0x9E3779B97F4A7C15) ^ b * UINT64_C(0xC2B2AE3D27D4EB4F) ^
                 (c + 1) * UINT64_C(0x165667B19E3779F9);
    for (size_t i = 0; i < len; i++) {
        x ^= x >> 29;
        x *= UINT64_C(0xBF58476D1CE4E5B9);
        out[i] = (uint8_t)(x >> 56);
    }
}

static bool fill_eq(cairn_slice s, size_t len, uint64_t a, uint64_t b, uint64_t c)
{
    uint8_t buf[4096];
    if (s.len != len || len > sizeof buf)
        return false;
    fill(buf, len, a, b, c);
    return bytes_eq(s.data, buf, len);
}

static cairn_run_id data_run(int prim, int r)
{
    return test_run((uint8_t)(0xA0 + prim), (uint8_t)(r + 1));
}

static cairn_txn *begin_ro(cairn_db *db)
{
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    CHECK(cairn_txn_begin(db, &to, &txn));
    return txn;
}

/* ---- steps: the same code writes the database and replays the model -------------- */

/*
 * A step in progress.  `txn` NULL replays the model only: calls are
 * skipped, the model moves exactly as it does with a database.  The first
 * call that answers otherwise than the model says stops the step with a
 * message in `why` (the child process reports it; it cannot assert).
 */
typedef struct stepper {
    cairn_txn *txn;
    uint64_t n;
    test_rng rng;
    char *why;
    size_t cap;
    cairn_status st;
} stepper;

static bool step_call(stepper *s, const char *what, cairn_status got, cairn_status want)
{
    if (got == want)
        return true;
    snprintf(s->why, s->cap, "step %" PRIu64 ": %s answered %s, the model says %s (%s)", s->n, what,
             cairn_status_name(got), cairn_status_name(want), cairn_txn_errmsg(s->txn));
    s->st = got != CAIRN_OK ? got : CAIRN_CORRUPT;
    return false;
}

static bool step_expect(stepper *s, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool step_expect(stepper *s, bool ok, const char *fmt, ...)
{
    if (ok)
        return true;
    int off = snprintf(s->why, s->cap, "step %" PRIu64 ": ", s->n);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why + off, s->cap - (size_t)off, fmt, ap);
    va_end(ap);
    s->st = CAIRN_CORRUPT;
    return false;
}

/* Runs `call` (only with a database) and requires status `want`. */
#define CALL(s, call, want) ((s)->txn == NULL || step_call((s), #call, (call), (want)))
/* Requires `cond` (only with a database). */
#define EXPECT(s, cond, ...) ((s)->txn == NULL || step_expect((s), (cond), __VA_ARGS__))

static uint64_t below(stepper *s, uint64_t bound)
{
    return test_rng_below(&s->rng, bound);
}

/* One primitive of the matrix. */
typedef struct prim_def {
    const char *name;
    int id;
    size_t model_size;
    /* Applies step s->n to the model (and to s->txn when set); CAIRN_OK or
     * the status the step failed with (s->why says why). */
    cairn_status (*step)(void *model, stepper *s);
    /* Asserts that `db` holds exactly `model` (the state after step n). */
    void (*check)(cairn_db *db, const void *model, uint64_t n);
} prim_def;

static cairn_status run_step(const prim_def *p, void *model, uint64_t n, cairn_txn *txn, char *why,
                             size_t cap)
{
    uint64_t seed = UINT64_C(0x5EED0000) + (uint64_t)p->id * 7919u + n * 104729u;
    stepper s = {txn, n, test_rng_seeded(seed), why, cap, CAIRN_OK};
    return p->step(model, &s);
}

/* The model after steps 1..n. */
static void *model_at(const prim_def *p, uint64_t n)
{
    void *m = calloc(1, p->model_size);
    cr_assert_not_null(m);
    char why[16];
    for (uint64_t k = 1; k <= n; k++)
        run_step(p, m, k, NULL, why, sizeof why);
    return m;
}

/* ==== KV ============================================================================ */

#define KV_KEYS 12
enum { KV_PLAIN = 1, KV_SHORT = 2, KV_LONG = 3 };

typedef struct kv_slot {
    uint32_t ver; /* the step that wrote it; 0: absent */
    uint16_t len;
    uint8_t kind;
} kv_slot;

typedef struct kv_model {
    kv_slot s[NRUNS][KV_KEYS];
} kv_model;

static cairn_slice kv_name(char buf[8], int k)
{
    snprintf(buf, 8, "k%02d", k);
    return cairn_slice_of(buf, 3);
}

/* Live inside step n's transaction (short TTLs of earlier steps passed). */
static bool kv_live_in_step(const kv_slot *x, uint64_t n)
{
    return x->ver && !(x->kind == KV_SHORT && x->ver < n);
}

static cairn_status kv_step(void *model, stepper *s)
{
    kv_model *m = model;
    uint64_t nops = 1 + below(s, 4);
    uint8_t buf[4096];
    char name[8];
    for (uint64_t i = 0; i < nops; i++) {
        int r = (int)below(s, NRUNS), k = (int)below(s, KV_KEYS);
        cairn_run_id run = data_run(0, r);
        cairn_slice key = kv_name(name, k);
        kv_slot *x = &m->s[r][k];
        bool live = kv_live_in_step(x, s->n);
        cairn_slice v = {NULL, 0};
        if (!CALL(s, cairn_kv_get_tx(s->txn, &run, key, &v), live ? CAIRN_OK : CAIRN_NOT_FOUND) ||
            !EXPECT(s, !live || fill_eq(v, x->len, x->ver, (uint64_t)r, (uint64_t)k),
                    "run %d %s holds %zu other bytes than step %u wrote", r, name, v.len, x->ver))
            return s->st;
        uint64_t op = below(s, 8);
        if (op >= 6) {
            bool existed = !live;
            if (!CALL(s, cairn_kv_delete_tx(s->txn, &run, key, &existed), CAIRN_OK) ||
                !EXPECT(s, existed == live, "delete of run %d %s: existed %d", r, name, existed))
                return s->st;
            x->ver = 0;
            continue;
        }
        uint32_t len =
            below(s, 6) == 0 ? 600 + (uint32_t)below(s, 2400) : 1 + (uint32_t)below(s, 120);
        fill(buf, len, s->n, (uint64_t)r, (uint64_t)k);
        cairn_slice val = cairn_slice_of(buf, len);
        uint8_t kind = op == 4 ? KV_SHORT : op == 5 ? KV_LONG : KV_PLAIN;
        if (kind == KV_PLAIN) {
            if (!CALL(s, cairn_kv_put_tx(s->txn, &run, key, val), CAIRN_OK))
                return s->st;
        } else {
            int64_t ttl = kind == KV_SHORT ? SHORT_TTL_US : LONG_TTL_US;
            if (!CALL(s, cairn_kv_put_ttl_tx(s->txn, &run, key, val, ttl), CAIRN_OK))
                return s->st;
        }
        x->ver = (uint32_t)s->n;
        x->len = (uint16_t)len;
        x->kind = kind;
    }
    return CAIRN_OK;
}

static void kv_check(cairn_db *db, const void *model, uint64_t n)
{
    (void)n;
    const kv_model *m = model;
    cairn_txn *txn = begin_ro(db);
    char name[8];
    for (int r = 0; r < NRUNS; r++) {
        cairn_run_id run = data_run(0, r);
        int live[KV_KEYS], nlive = 0;
        for (int k = 0; k < KV_KEYS; k++) {
            const kv_slot *x = &m->s[r][k];
            bool want = x->ver && x->kind != KV_SHORT;
            cairn_slice v = {NULL, 0};
            CHECK_STATUS(cairn_kv_get_tx(txn, &run, kv_name(name, k), &v),
                         want ? CAIRN_OK : CAIRN_NOT_FOUND);
            if (!want)
                continue;
            live[nlive++] = k;
            cr_assert(fill_eq(v, x->len, x->ver, (uint64_t)r, (uint64_t)k),
                      "[%s] run %d %s: %zu bytes, not the %u bytes step %u wrote", ctx, r, name,
                      v.len, x->len, x->ver);
        }
        /* the listing, in pages of 5, holds exactly the live keys */
        int seen = 0;
        char after[8] = "";
        size_t after_len = 0;
        for (;;) {
            cairn_kv_list l = {0};
            CHECK(cairn_kv_list_pairs_tx(txn, &run, cairn_slice_of(NULL, 0),
                                         cairn_slice_of(after, after_len), 5, &l));
            for (size_t i = 0; i < l.n; i++, seen++) {
                cr_assert_lt(seen, nlive, "[%s] run %d lists more than %d keys", ctx, r, nlive);
                int k = live[seen];
                const kv_slot *x = &m->s[r][k];
                cr_assert(slice_eq(l.items[i].key, kv_name(name, k)) &&
                          fill_eq(l.items[i].value, x->len, x->ver, (uint64_t)r, (uint64_t)k),
                          "[%s] run %d: listed pair %d is not %s as step %u wrote it", ctx, r,
                          seen, name, x->ver);
            }
            bool more = l.more;
            after_len = l.cursor.len < sizeof after ? l.cursor.len : 0;
            if (after_len)
                memcpy(after, l.cursor.data, after_len);
            cairn_kv_list_free(&l);
            if (!more)
                break;
        }
        cr_assert_eq(seen, nlive, "[%s] run %d lists %d keys, expected %d", ctx, r, seen, nlive);
    }
    CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

/* ==== EventLog ======================================================================== */

#define EV_TYPES 4
#define EV_MAX 2048
#define EV_IDS 8

static const char *const ev_type_name[EV_TYPES] = {"plan", "tool", "obs", "note"};

typedef struct ev_rec {
    uint32_t step;
    uint16_t plen;
    uint8_t type;
} ev_rec;

typedef struct ev_log {
    uint32_t len;
    int32_t once_seq[EV_IDS]; /* the event an idempotency id named, + 1 (0: unused) */
    ev_rec e[EV_MAX];
} ev_log;

typedef struct ev_model {
    ev_log log[NRUNS];
} ev_model;

static cairn_status ev_step(void *model, stepper *s)
{
    ev_model *m = model;
    uint64_t nops = 1 + below(s, 3);
    uint8_t buf[256];
    for (uint64_t i = 0; i < nops; i++) {
        int r = (int)below(s, NRUNS);
        cairn_run_id run = data_run(1, r);
        ev_log *L = &m->log[r];
        if (L->len >= EV_MAX)
            continue;
        uint64_t op = i == 0 ? 0 : below(s, 8); /* the first op always appends */
        uint8_t type = (uint8_t)below(s, EV_TYPES);
        uint16_t plen = (uint16_t)below(s, 200);
        fill(buf, plen, s->n, (uint64_t)r, L->len);
        cairn_slice ts = test_str(ev_type_name[type]);
        cairn_slice payload = cairn_slice_of(buf, plen);
        uint64_t seq = UINT64_MAX;
        if (op >= 5 && op <= 6) {
            int j = (int)below(s, EV_IDS);
            char idb[8];
            snprintf(idb, sizeof idb, "id%d", j);
            bool appended = false;
            bool fresh = L->once_seq[j] == 0;
            if (!fresh) {
                /* a repeated id appends nothing and answers the first event */
                if (!CALL(s, cairn_event_append_once_tx(s->txn, &run, test_str(idb), ts, payload,
                                                        &seq, NULL, &appended), CAIRN_OK) ||
                    !EXPECT(s, !appended && seq == (uint64_t)(L->once_seq[j] - 1),
                            "append_once %s again: appended %d, seq %" PRIu64, idb, appended, seq))
                    return s->st;
                continue;
            }
            if (!CALL(s, cairn_event_append_once_tx(s->txn, &run, test_str(idb), ts, payload, &seq,
                                                    NULL, &appended), CAIRN_OK) ||
                !EXPECT(s, appended && seq == L->len, "append_once %s: appended %d, seq %" PRIu64,
                        idb, appended, seq))
                return s->st;
            L->once_seq[j] = (int32_t)L->len + 1;
        } else if (op == 7) {
            bool wrong = below(s, 2) == 0;
            uint64_t expected = wrong ? L->len + 1 + below(s, 3) : L->len;
            if (!CALL(s,
                      cairn_event_append_expect_tx(s->txn, &run, expected, ts, payload, &seq, NULL),
                      wrong ? CAIRN_VERSION_MISMATCH : CAIRN_OK) ||
                !EXPECT(s, seq == L->len, "append_expect: seq %" PRIu64 ", log length %u", seq,
                        L->len))
                return s->st;
            if (wrong)
                continue;
        } else {
            if (!CALL(s, cairn_event_append_tx(s->txn, &run, ts, payload, &seq, NULL), CAIRN_OK) ||
                !EXPECT(s, seq == L->len, "append: seq %" PRIu64 ", log length %u", seq, L->len))
                return s->st;
        }
        L->e[L->len++] = (ev_rec){(uint32_t)s->n, plen, type};
    }
    return CAIRN_OK;
}

static void ev_expect_event(const cairn_event_view *ev, const ev_log *L, int r, uint64_t seq)
{
    cr_assert_lt(seq, L->len, "[%s] run %d: event %" PRIu64 " past the log's %u", ctx, r, seq,
                 L->len);
    const ev_rec *e = &L->e[seq];
    cr_assert_eq(ev->seq, seq, "[%s] run %d: event %" PRIu64 " numbered %" PRIu64, ctx, r, seq,
                 ev->seq);
    cr_assert(slice_eq_str(ev->type, ev_type_name[e->type]), "[%s] run %d: event %" PRIu64
              " has type %.*s, expected %s", ctx, r, seq, (int)ev->type.len,
              (const char *)ev->type.data, ev_type_name[e->type]);
    cr_assert(fill_eq(ev->payload, e->plen, e->step, (uint64_t)r, seq),
              "[%s] run %d: event %" PRIu64 " carries another payload than step %u appended", ctx,
              r, seq, e->step);
    cr_assert_eq(ev->timestamp_us, step_time(e->step), "[%s] run %d: event %" PRIu64
                 " stamped %" PRId64 ", expected step %u's time", ctx, r, seq, ev->timestamp_us,
                 e->step);
}

static void ev_check(cairn_db *db, const void *model, uint64_t n)
{
    (void)n;
    const ev_model *m = model;
    cairn_txn *txn = begin_ro(db);
    for (int r = 0; r < NRUNS; r++) {
        cairn_run_id run = data_run(1, r);
        const ev_log *L = &m->log[r];
        cairn_chain_report rep;
        CHECK(cairn_event_verify_tx(txn, &run, &rep));
        cr_assert(rep.ok, "[%s] run %d: event chain broken at %" PRIu64 ": %s", ctx, r, rep.bad_seq,
                  rep.why);
        cr_assert(rep.len == L->len && rep.checked == L->len, "[%s] run %d: verify saw %" PRIu64
                  " of %" PRIu64 " events, expected %u", ctx, r, rep.checked, rep.len, L->len);
        uint64_t len = 0;
        CHECK(cairn_event_len_tx(txn, &run, &len));
        cr_assert_eq(len, L->len, "[%s] run %d: %" PRIu64 " events, expected %u", ctx, r, len,
                     L->len);

        /* every event, in order */
        cairn_event_iter *it = NULL;
        CHECK(cairn_event_iter_range(txn, &run, 0, UINT64_MAX, &it));
        cairn_event_view ev;
        uint64_t seq = 0;
        uint8_t head[CAIRN_EVENT_HASH_SIZE];
        cairn_event_genesis(&run, head);
        cairn_status st;
        while ((st = cairn_event_iter_next(it, &ev)) == CAIRN_OK) {
            ev_expect_event(&ev, L, r, seq);
            cr_assert(memcmp(ev.prev_hash, head, sizeof head) == 0, "[%s] run %d: event %" PRIu64
                      " does not link to the one before", ctx, r, seq);
            memcpy(head, ev.hash, sizeof head);
            seq++;
        }
        cairn_event_iter_free(it);
        CHECK_STATUS(st, CAIRN_DONE);
        cr_assert_eq(seq, L->len, "[%s] run %d: iterated %" PRIu64 " events", ctx, r, seq);
        if (L->len)
            cr_assert(memcmp(rep.head_hash, head, sizeof head) == 0,
                      "[%s] run %d: verify's head hash is not the last event's", ctx, r);
        CHECK_STATUS(cairn_event_read_tx(txn, &run, L->len, &ev), CAIRN_NOT_FOUND);

        /* the by-type index: exactly the events of each type, in order */
        unsigned types_present = 0;
        for (int t = 0; t < EV_TYPES; t++) {
            CHECK(cairn_event_iter_type(txn, &run, test_str(ev_type_name[t]), 0, &it));
            uint64_t want = 0;
            while ((st = cairn_event_iter_next(it, &ev)) == CAIRN_OK) {
                while (want < L->len && L->e[want].type != t)
                    want++;
                cr_assert(want < L->len && ev.seq == want, "[%s] run %d: the %s index lists event %"
                          PRIu64 ", expected %" PRIu64, ctx, r, ev_type_name[t], ev.seq, want);
                ev_expect_event(&ev, L, r, want);
                want++;
                types_present |= 1u << t;
            }
            cairn_event_iter_free(it);
            CHECK_STATUS(st, CAIRN_DONE);
            while (want < L->len && L->e[want].type != t)
                want++;
            cr_assert_eq(want, L->len, "[%s] run %d: the %s index misses event %" PRIu64, ctx, r,
                         ev_type_name[t], want);
        }
        cairn_event_types types = {0};
        CHECK(cairn_event_list_types_tx(txn, &run, &types));
        cr_assert_eq(types.n, (size_t)__builtin_popcount(types_present), "[%s] run %d: %zu types",
                     ctx, r, types.n);
        cairn_event_types_free(&types);

        /* verification from a trusted point in the middle */
        if (L->len > 1) {
            uint64_t mid = L->len / 2;
            CHECK(cairn_event_read_tx(txn, &run, mid, &ev));
            uint8_t h[CAIRN_EVENT_HASH_SIZE];
            memcpy(h, ev.hash, sizeof h);
            CHECK(cairn_event_verify_from_tx(txn, &run, mid, h, &rep));
            cr_assert(rep.ok, "[%s] run %d: verify from %" PRIu64 ": %s", ctx, r, mid, rep.why);
        }
    }
    CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

/* ==== StateCell ======================================================================== */

#define CELLS 8
#define CELL_VMAX 64
#define CELL_GROW_LIMIT 48

typedef struct cell_m {
    uint64_t version; /* 0: absent */
    int64_t updated;
    uint8_t len;
    uint8_t v[CELL_VMAX];
} cell_m;

typedef struct cell_model {
    cell_m c[NRUNS][CELLS];
} cell_model;

static cairn_slice cell_name(char buf[8], int c)
{
    snprintf(buf, 8, "c%d", c);
    return cairn_slice_of(buf, 2);
}

/* The transition: appends a byte, until the value is CELL_GROW_LIMIT long. */
static cairn_status cell_grow(void *p, cairn_slice cur, cairn_bytes *out)
{
    if (cur.len >= CELL_GROW_LIMIT)
        return CAIRN_DONE;
    uint8_t *v = malloc(cur.len + 1);
    if (v == NULL)
        return CAIRN_NO_MEMORY;
    if (cur.len)
        memcpy(v, cur.data, cur.len);
    v[cur.len] = *(const uint8_t *)p;
    out->data = v;
    out->len = cur.len + 1;
    return CAIRN_OK;
}

/* What cell_grow makes of `x` (or of `initial` when absent). */
static bool cell_grow_model(cell_m *x, const char *initial, uint8_t byte, int64_t now)
{
    if (x->version == 0) {
        x->len = (uint8_t)strlen(initial);
        memcpy(x->v, initial, x->len);
    }
    if (x->len >= CELL_GROW_LIMIT)
        return false;
    x->v[x->len++] = byte;
    x->version++;
    x->updated = now;
    return true;
}

static cairn_status cell_step(void *model, stepper *s)
{
    cell_model *m = model;
    uint64_t nops = 1 + below(s, 4);
    int64_t now = step_time(s->n);
    char name[8];
    for (uint64_t i = 0; i < nops; i++) {
        int r = (int)below(s, NRUNS), c = (int)below(s, CELLS);
        cairn_run_id run = data_run(2, r);
        cairn_slice nm = cell_name(name, c);
        cell_m *x = &m->c[r][c];
        cairn_cell_view cv;
        if (!CALL(s, cairn_cell_read_tx(s->txn, &run, nm, &cv),
                  x->version ? CAIRN_OK : CAIRN_NOT_FOUND) ||
            !EXPECT(s,
                    !x->version || (cv.version == x->version && cv.updated_at_us == x->updated &&
                                    slice_eq(cv.value, cairn_slice_of(x->v, x->len))),
                    "run %d %s differs from the model before the step", r, name))
            return s->st;
        uint64_t op = i == 0 ? 0 : below(s, 7); /* the first op always writes */
        uint64_t ver = UINT64_MAX;
        uint8_t byte = (uint8_t)s->n;
        if (op == 0 || op == 1) { /* set, or CAS */
            uint8_t len = (uint8_t)below(s, 41);
            uint8_t val[CELL_VMAX];
            fill(val, len, s->n, (uint64_t)r, (uint64_t)c);
            cairn_slice vs = cairn_slice_of(val, len);
            if (op == 0) {
                if (!CALL(s, cairn_cell_set_tx(s->txn, &run, nm, vs, &ver), CAIRN_OK) ||
                    !EXPECT(s, ver == x->version + 1, "set made version %" PRIu64, ver))
                    return s->st;
            } else if (x->version == 0) {
                if (!CALL(s, cairn_cell_cas_tx(s->txn, &run, nm, 1, vs, &ver), CAIRN_NOT_FOUND) ||
                    !EXPECT(s, ver == 0, "CAS of an absent cell: version %" PRIu64, ver))
                    return s->st;
                continue;
            } else if (below(s, 4) == 0) {
                if (!CALL(s, cairn_cell_cas_tx(s->txn, &run, nm, x->version + 1, vs, &ver),
                          CAIRN_VERSION_MISMATCH) ||
                    !EXPECT(s, ver == x->version, "a wrong CAS reports version %" PRIu64, ver))
                    return s->st;
                continue;
            } else {
                if (!CALL(s, cairn_cell_cas_tx(s->txn, &run, nm, x->version, vs, &ver), CAIRN_OK) ||
                    !EXPECT(s, ver == x->version + 1, "CAS made version %" PRIu64, ver))
                    return s->st;
            }
            x->version++;
            x->updated = now;
            x->len = len;
            memcpy(x->v, val, len);
        } else if (op == 2) { /* init */
            uint8_t val[4] = {'i', 'n', byte, (uint8_t)c};
            if (!CALL(s, cairn_cell_init_tx(s->txn, &run, nm, cairn_slice_of(val, 4)),
                      x->version ? CAIRN_EXISTS : CAIRN_OK))
                return s->st;
            if (x->version == 0) {
                x->version = 1;
                x->updated = now;
                x->len = 4;
                memcpy(x->v, val, 4);
            }
        } else if (op == 3) { /* delete */
            bool existed = !x->version;
            if (!CALL(s, cairn_cell_delete_tx(s->txn, &run, nm, &existed), CAIRN_OK) ||
                !EXPECT(s, existed == (x->version != 0), "delete: existed %d", existed))
                return s->st;
            x->version = 0;
        } else if (op == 4 || op == 5) { /* transition; fn does not run on an absent cell */
            cairn_status fn_st = CAIRN_INVALID_ARGUMENT;
            bool absent = x->version == 0;
            bool wrote = !absent && cell_grow_model(x, "", byte, now);
            cairn_status want = absent ? CAIRN_NOT_FOUND : wrote ? CAIRN_OK : CAIRN_DONE;
            if (!CALL(s, cairn_cell_transition_tx(s->txn, &run, nm, cell_grow, &byte, &ver, &fn_st),
                      want) ||
                !EXPECT(s, absent || (ver == x->version && fn_st == want),
                        "transition: version %" PRIu64 " (model %" PRIu64 "), fn answered %s", ver,
                        x->version, cairn_status_name(fn_st)))
                return s->st;
        } else { /* transition or init */
            cairn_status fn_st = CAIRN_INVALID_ARGUMENT;
            bool wrote = cell_grow_model(x, "init", byte, now);
            if (!CALL(s,
                      cairn_cell_transition_or_init_tx(s->txn, &run, nm, test_str("init"),
                                                       cell_grow, &byte, &ver, &fn_st),
                      wrote ? CAIRN_OK : CAIRN_DONE) ||
                !EXPECT(s, ver == x->version,
                        "transition_or_init: version %" PRIu64 " (model %" PRIu64 ")", ver,
                        x->version))
                return s->st;
        }
    }
    return CAIRN_OK;
}

static void cell_check(cairn_db *db, const void *model, uint64_t n)
{
    (void)n;
    const cell_model *m = model;
    cairn_txn *txn = begin_ro(db);
    char name[8];
    for (int r = 0; r < NRUNS; r++) {
        cairn_run_id run = data_run(2, r);
        int present[CELLS], np = 0;
        for (int c = 0; c < CELLS; c++) {
            const cell_m *x = &m->c[r][c];
            cairn_cell_view cv;
            CHECK_STATUS(cairn_cell_read_tx(txn, &run, cell_name(name, c), &cv),
                         x->version ? CAIRN_OK : CAIRN_NOT_FOUND);
            if (!x->version)
                continue;
            present[np++] = c;
            cr_assert(cv.version == x->version && cv.updated_at_us == x->updated &&
                          slice_eq(cv.value, cairn_slice_of(x->v, x->len)),
                      "[%s] run %d cell %s: version %" PRIu64 " (model %" PRIu64
                      "), updated %" PRId64 " (model %" PRId64 "), %zu bytes (model %u)",
                      ctx, r, name, cv.version, x->version, cv.updated_at_us, x->updated,
                      cv.value.len, x->len);
        }
        int seen = 0;
        char after[8] = "";
        size_t after_len = 0;
        for (;;) {
            cairn_cell_list l = {0};
            CHECK(cairn_cell_list_names_tx(txn, &run, cairn_slice_of(NULL, 0),
                                           cairn_slice_of(after, after_len), 3, &l));
            for (size_t i = 0; i < l.n; i++, seen++) {
                cr_assert_lt(seen, np, "[%s] run %d lists more than %d cells", ctx, r, np);
                cr_assert(slice_eq(l.names[i], cell_name(name, present[seen])),
                          "[%s] run %d: listed cell %d is not %s", ctx, r, seen, name);
            }
            bool more = l.more;
            after_len = l.cursor.len < sizeof after ? l.cursor.len : 0;
            if (after_len)
                memcpy(after, l.cursor.data, after_len);
            cairn_cell_list_free(&l);
            if (!more)
                break;
        }
        cr_assert_eq(seen, np, "[%s] run %d lists %d cells, expected %d", ctx, r, seen, np);
    }
    CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

/* ==== TraceStore ========================================================================== */

#define TR_MAX 1024
#define TR_TAGS 4

static const char *const tr_tag_name[TR_TAGS] = {"alpha", "beta", "gamma", "delta"};

typedef struct tr_m {
    uint32_t step;
    uint8_t idx;
    uint8_t type;
    uint8_t tags;   /* bit i: tr_tag_name[i] */
    uint8_t status;
    int16_t parent; /* index in the run, -1: a root */
    uint16_t plen;
    int64_t start, end;
} tr_m;

typedef struct tr_run {
    uint32_t n;
    tr_m t[TR_MAX];
} tr_run;

typedef struct tr_model {
    tr_run run[NRUNS];
} tr_model;

static cairn_slice tr_id(char buf[24], const tr_m *t)
{
    int len = snprintf(buf, 24, "t%u.%u", t->step, t->idx);
    return cairn_slice_of(buf, (size_t)len);
}

static size_t tr_tag_slices(uint8_t mask, cairn_slice out[TR_TAGS])
{
    size_t n = 0;
    for (int i = 0; i < TR_TAGS; i++)
        if (mask & (1u << i))
            out[n++] = test_str(tr_tag_name[i]);
    return n;
}

static cairn_status tr_step(void *model, stepper *s)
{
    tr_model *m = model;
    int64_t now = step_time(s->n);
    uint64_t nrec = 1 + below(s, 3);
    uint8_t buf[256];
    char id[24], pid[24], name[32];
    for (uint64_t i = 0; i < nrec; i++) {
        int r = (int)below(s, NRUNS);
        cairn_run_id run = data_run(3, r);
        tr_run *R = &m->run[r];
        if (R->n >= TR_MAX)
            continue;
        tr_m t = {(uint32_t)s->n, (uint8_t)i, (uint8_t)(1 + below(s, 6)), (uint8_t)below(s, 16),
                  CAIRN_TRACE_UNFINISHED, -1, (uint16_t)below(s, 150), now, 0};
        if (R->n > 0 && below(s, 3) != 0)
            t.parent = (int16_t)below(s, R->n);
        if (below(s, 3) == 0)
            t.start = now - 1000 * (int64_t)(1 + below(s, 500));
        cairn_trace_spec spec;
        cairn_trace_spec_init(&spec);
        cairn_slice tags[TR_TAGS];
        spec.type = (cairn_trace_type)t.type;
        int nlen = snprintf(name, sizeof name, "s%" PRIu64 ".%" PRIu64, s->n, i);
        spec.name = cairn_slice_of(name, (size_t)nlen);
        spec.start_us = t.start == now ? 0 : t.start;
        spec.ntags = tr_tag_slices(t.tags, tags);
        spec.tags = tags;
        fill(buf, t.plen, s->n, (uint64_t)r, i);
        spec.payload = cairn_slice_of(buf, t.plen);
        cairn_slice parent = t.parent < 0 ? cairn_slice_of(NULL, 0) : tr_id(pid, &R->t[t.parent]);
        if (!CALL(s, cairn_trace_record_id_tx(s->txn, &run, tr_id(id, &t), parent, &spec),
                  CAIRN_OK))
            return s->st;
        R->t[R->n++] = t;
        /* an id again, or a parent that does not exist: refused, nothing written */
        uint64_t bad = below(s, 6);
        if (bad == 0 && !CALL(s,
                              cairn_trace_record_id_tx(s->txn, &run, tr_id(id, &t),
                                                       cairn_slice_of(NULL, 0), &spec),
                              CAIRN_EXISTS))
            return s->st;
        if (bad == 1 && !CALL(s, cairn_trace_record_id_tx(s->txn, &run, test_str("orphan"),
                                                          test_str("no-such-parent"), &spec),
                              CAIRN_NOT_FOUND))
            return s->st;
    }
    uint64_t nfin = below(s, 3);
    for (uint64_t i = 0; i < nfin; i++) {
        int r = (int)below(s, NRUNS);
        cairn_run_id run = data_run(3, r);
        tr_run *R = &m->run[r];
        if (R->n == 0)
            continue;
        tr_m *t = &R->t[below(s, R->n)];
        cairn_trace_status status = below(s, 3) == 0 ? CAIRN_TRACE_FAILED : CAIRN_TRACE_OK;
        int64_t end = below(s, 2) ? 0 : now + 7;
        bool open = t->status == CAIRN_TRACE_UNFINISHED;
        if (!CALL(s, cairn_trace_finish_tx(s->txn, &run, tr_id(id, t), status, end),
                  open ? CAIRN_OK : CAIRN_INVALID_TRANSITION))
            return s->st;
        if (open) {
            t->status = (uint8_t)status;
            t->end = end ? end : now;
        }
    }
    return CAIRN_OK;
}

/* Query kinds, and which traces each lists. */
enum { Q_TYPE, Q_TAG, Q_ROOTS, Q_CHILDREN, Q_TIME };

static bool tr_matches(const tr_run *R, uint32_t j, int kind, int64_t a, int64_t b)
{
    const tr_m *t = &R->t[j];
    switch (kind) {
    case Q_TYPE: return t->type == a;
    case Q_TAG: return (t->tags >> a) & 1u;
    case Q_ROOTS: return t->parent < 0;
    case Q_CHILDREN: return t->parent == a;
    default: return t->start >= a && t->start < b;
    }
}

/* Order of every query: start time, then shorter ids, then bytewise. */
static int tr_cmp(const tr_m *x, const tr_m *y)
{
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    char a[24], b[24];
    cairn_slice ia = tr_id(a, x), ib = tr_id(b, y);
    if (ia.len != ib.len)
        return ia.len < ib.len ? -1 : 1;
    return memcmp(ia.data, ib.data, ia.len);
}

static void tr_expect_view(const cairn_trace_view *v, const tr_run *R, int r, uint32_t j)
{
    const tr_m *t = &R->t[j];
    char id[24], pid[24];
    cr_assert(slice_eq(v->id, tr_id(id, t)), "[%s] run %d: got trace %.*s, expected %s", ctx, r,
              (int)v->id.len, (const char *)v->id.data, id);
    cairn_slice parent = t->parent < 0 ? cairn_slice_of("", 0) : tr_id(pid, &R->t[t->parent]);
    cairn_slice tags[TR_TAGS];
    size_t ntags = tr_tag_slices(t->tags, tags);
    bool tags_ok = v->ntags == ntags;
    for (size_t i = 0; tags_ok && i < ntags; i++)
        tags_ok = slice_eq(v->tags[i], tags[i]);
    char name[32];
    int nlen = snprintf(name, sizeof name, "s%u.%u", t->step, t->idx);
    cr_assert(slice_eq(v->parent_id, parent) && v->type == t->type && v->status == t->status &&
              v->start_us == t->start && v->end_us == t->end && tags_ok &&
              slice_eq(v->name, cairn_slice_of(name, (size_t)nlen)) &&
              fill_eq(v->payload, t->plen, t->step, (uint64_t)r, t->idx),
              "[%s] run %d: trace %s differs from the model (parent %.*s/%.*s, type %d/%d, status "
              "%d/%d, start %" PRId64 "/%" PRId64 ", end %" PRId64 "/%" PRId64 ", %zu/%zu tags)",
              ctx, r, id, (int)v->parent_id.len, (const char *)v->parent_id.data, (int)parent.len,
              (const char *)parent.data, v->type, t->type, v->status, t->status, v->start_us,
              t->start, v->end_us, t->end, v->ntags, ntags);
}

static cairn_status tr_query(cairn_txn *txn, const cairn_run_id *run, const tr_run *R, int kind,
                             int64_t a, int64_t b, const cairn_trace_cursor *after,
                             cairn_trace_list *l)
{
    char pid[24];
    switch (kind) {
    case Q_TYPE: return cairn_trace_by_type_tx(txn, run, (cairn_trace_type)a, after, 4, l);
    case Q_TAG: return cairn_trace_by_tag_tx(txn, run, test_str(tr_tag_name[a]), after, 4, l);
    case Q_ROOTS: return cairn_trace_roots_tx(txn, run, after, 4, l);
    case Q_CHILDREN: return cairn_trace_children_tx(txn, run, tr_id(pid, &R->t[a]), after, 4, l);
    default: return cairn_trace_by_time_tx(txn, run, a, b, after, 4, l);
    }
}

/* Pages through one query (4 at a time) and compares it with the model. */
static void tr_expect_query(cairn_txn *txn, const cairn_run_id *run, const tr_run *R, int r,
                            int kind, int64_t a, int64_t b, uint32_t *order)
{
    uint32_t want = 0;
    for (uint32_t j = 0; j < R->n; j++)
        if (tr_matches(R, j, kind, a, b))
            order[want++] = j;
    for (uint32_t i = 1; i < want; i++) /* insertion sort: the lists are short */
        for (uint32_t k = i; k > 0 && tr_cmp(&R->t[order[k - 1]], &R->t[order[k]]) > 0; k--) {
            uint32_t x = order[k];
            order[k] = order[k - 1];
            order[k - 1] = x;
        }
    static const char *const qname[] = {"by type", "by tag", "roots", "children", "by time"};
    uint32_t seen = 0;
    cairn_trace_cursor after = {0};
    for (;;) {
        cairn_trace_list l = {0};
        cairn_status st = tr_query(txn, run, R, kind, a, b, after.set ? &after : NULL, &l);
        cr_assert_eq(st, CAIRN_OK, "[%s] run %d: query %s (%" PRId64 "): %s", ctx, r, qname[kind],
                     a, cairn_status_name(st));
        for (size_t i = 0; i < l.n; i++, seen++) {
            cr_assert_lt(seen, want, "[%s] run %d: query %s (%" PRId64 ") lists more than %u",
                         ctx, r, qname[kind], a, want);
            tr_expect_view(&l.items[i], R, r, order[seen]);
        }
        bool more = l.more;
        after = l.next;
        cairn_trace_list_free(&l);
        if (!more)
            break;
    }
    cr_assert_eq(seen, want, "[%s] run %d: query %s (%" PRId64 ") lists %u traces, expected %u",
                 ctx, r, qname[kind], a, seen, want);
}

static void tr_check(cairn_db *db, const void *model, uint64_t n)
{
    (void)n;
    const tr_model *m = model;
    cairn_txn *txn = begin_ro(db);
    uint32_t *order = malloc(TR_MAX * sizeof *order);
    cr_assert_not_null(order);
    char id[24];
    for (int r = 0; r < NRUNS; r++) {
        cairn_run_id run = data_run(3, r);
        const tr_run *R = &m->run[r];
        cairn_trace_report rep;
        CHECK(cairn_trace_check_tx(txn, &run, &rep));
        cr_assert(rep.ok, "[%s] run %d: trace check: %s (trace %.*s)", ctx, r, rep.why,
                  (int)rep.bad_id.len, (const char *)rep.bad_id.bytes);
        uint64_t entries = 0;
        bool has_children[TR_MAX] = {false};
        for (uint32_t j = 0; j < R->n; j++) {
            entries += 3u + (unsigned)__builtin_popcount(R->t[j].tags);
            if (R->t[j].parent >= 0)
                has_children[R->t[j].parent] = true;
        }
        cr_assert(rep.traces == R->n && rep.entries == entries, "[%s] run %d: trace check saw %"
                  PRIu64 " traces and %" PRIu64 " index entries, expected %u and %" PRIu64, ctx, r,
                  rep.traces, rep.entries, R->n, entries);
        for (uint32_t j = 0; j < R->n; j++) {
            cairn_trace_view v;
            CHECK(cairn_trace_get_tx(txn, &run, tr_id(id, &R->t[j]), &v));
            tr_expect_view(&v, R, r, j);
        }
        for (int t = 1; t <= 6; t++)
            tr_expect_query(txn, &run, R, r, Q_TYPE, t, 0, order);
        for (int t = 0; t < TR_TAGS; t++)
            tr_expect_query(txn, &run, R, r, Q_TAG, t, 0, order);
        tr_expect_query(txn, &run, R, r, Q_ROOTS, 0, 0, order);
        for (uint32_t j = 0; j < R->n; j++)
            if (has_children[j] || j == 0)
                tr_expect_query(txn, &run, R, r, Q_CHILDREN, j, 0, order);
        if (R->n) {
            int64_t from = R->t[R->n / 2].start;
            tr_expect_query(txn, &run, R, r, Q_TIME, from, from + 3 * STEP_US, order);
        }
    }
    free(order);
    CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

/* ==== RunIndex ============================================================================ */

#define RUN_MAX 1024
#define RUN_TAGS 4

static const char *const run_tag_name[RUN_TAGS] = {"red", "green", "blue", "gold"};

typedef struct run_m {
    uint32_t step;
    uint8_t idx;
    uint8_t exists;
    uint8_t status;
    uint8_t ntags;
    uint8_t tag[RUN_TAGS]; /* in the record's order */
    int16_t parent;        /* index in the model, -1: a root run */
    uint16_t mlen;
    uint32_t mstep;        /* the step that wrote the metadata */
    uint32_t estep;        /* the step that failed it with a message; 0: empty error */
    int64_t created, updated, finished;
} run_m;

typedef struct run_model {
    uint32_t n;
    run_m r[RUN_MAX];
} run_model;

static cairn_slice run_name(char buf[24], const run_m *x)
{
    int len = snprintf(buf, 24, "r%u.%u", x->step, x->idx);
    return cairn_slice_of(buf, (size_t)len);
}

static const char *run_label(char buf[24], const run_m *x)
{
    run_name(buf, x);
    return buf;
}

static cairn_slice run_error(char buf[32], const run_m *x)
{
    if (x->estep == 0)
        return cairn_slice_of("", 0);
    int len = snprintf(buf, 32, "failed at step %u", x->estep);
    return cairn_slice_of(buf, (size_t)len);
}

/* The status table of cairn/runindex.h, written out again. */
static bool run_allowed(int from, int to)
{
    switch (from) {
    case CAIRN_RUN_ACTIVE: return to != CAIRN_RUN_ACTIVE;
    case CAIRN_RUN_PAUSED:
        return to == CAIRN_RUN_ACTIVE || to == CAIRN_RUN_CANCELLED || to == CAIRN_RUN_ARCHIVED;
    case CAIRN_RUN_COMPLETED:
    case CAIRN_RUN_FAILED:
    case CAIRN_RUN_CANCELLED: return to == CAIRN_RUN_ARCHIVED;
    default: return false;
    }
}

static bool run_final(int status)
{
    return status >= CAIRN_RUN_COMPLETED;
}

static int run_pick_live(const run_model *m, stepper *s)
{
    uint32_t live = 0;
    for (uint32_t j = 0; j < m->n; j++)
        live += m->r[j].exists;
    if (live == 0)
        return -1;
    uint64_t k = below(s, live);
    for (uint32_t j = 0; j < m->n; j++)
        if (m->r[j].exists && k-- == 0)
            return (int)j;
    return -1;
}

static bool run_has_live_children(const run_model *m, int j)
{
    for (uint32_t k = 0; k < m->n; k++)
        if (m->r[k].exists && m->r[k].parent == j)
            return true;
    return false;
}

static void run_delete_tree(run_model *m, int j)
{
    m->r[j].exists = 0;
    for (uint32_t k = 0; k < m->n; k++)
        if (m->r[k].exists && m->r[k].parent == j)
            run_delete_tree(m, (int)k);
}

/* The id of the live run `x`, looked up by name in the step's transaction. */
static bool run_lookup(stepper *s, const run_m *x, cairn_run_id *idp)
{
    if (s->txn == NULL)
        return true;
    char nb[24];
    cairn_run_view v;
    if (!step_call(s, "cairn_run_get_by_name_tx",
                   cairn_run_get_by_name_tx(s->txn, run_name(nb, x), &v), CAIRN_OK))
        return false;
    *idp = v.id;
    return true;
}

static cairn_status ri_step(void *model, stepper *s)
{
    run_model *m = model;
    int64_t now = step_time(s->n);
    uint64_t nops = 1 + below(s, 4);
    uint8_t meta[64];
    char nb[24], eb[32];
    for (uint64_t i = 0; i < nops; i++) {
        int j = run_pick_live(m, s);
        uint64_t op = i == 0 ? (j < 0 || below(s, 2) ? 0 : 5) : below(s, 9);
        if (op == 0 || j < 0) { /* create; the first op always writes */
            if (m->n >= RUN_MAX)
                continue;
            run_m x = {(uint32_t)s->n, (uint8_t)i, 1, CAIRN_RUN_ACTIVE, 0, {0}, -1,
                       (uint16_t)below(s, 60), (uint32_t)s->n, 0, now, now, 0};
            if (j >= 0 && below(s, 2))
                x.parent = (int16_t)j;
            uint8_t mask = (uint8_t)below(s, 16);
            cairn_slice tags[RUN_TAGS];
            for (int t = 0; t < RUN_TAGS; t++)
                if (mask & (1u << t)) {
                    tags[x.ntags] = test_str(run_tag_name[t]);
                    x.tag[x.ntags++] = (uint8_t)t;
                }
            fill(meta, x.mlen, x.mstep, x.step, x.idx);
            cairn_run_spec spec;
            cairn_run_spec_init(&spec);
            spec.name = run_name(nb, &x);
            spec.tags = tags;
            spec.ntags = x.ntags;
            spec.metadata = cairn_slice_of(meta, x.mlen);
            cairn_run_id pid;
            if (x.parent >= 0) {
                if (!run_lookup(s, &m->r[x.parent], &pid))
                    return s->st;
                spec.parent = &pid;
            }
            cairn_run_id id;
            if (!CALL(s, cairn_run_create_tx(s->txn, &spec, &id), CAIRN_OK))
                return s->st;
            m->r[m->n++] = x;
            continue;
        }
        run_m *x = &m->r[j];
        cairn_run_id id;
        if (!run_lookup(s, x, &id))
            return s->st;
        if (op == 1 || op == 2) { /* a status change, allowed or not */
            int to = 1 + (int)below(s, CAIRN_RUN_STATUS_COUNT);
            bool ok = run_allowed(x->status, to);
            bool with_message = to == CAIRN_RUN_FAILED && below(s, 2);
            if (with_message) {
                run_m tmp = *x;
                tmp.estep = (uint32_t)s->n;
                if (!CALL(s, cairn_run_fail_tx(s->txn, &id, run_error(eb, &tmp)),
                          ok ? CAIRN_OK : CAIRN_INVALID_TRANSITION))
                    return s->st;
            } else if (!CALL(s, cairn_run_update_status_tx(s->txn, &id, (cairn_run_status)to),
                             ok ? CAIRN_OK : CAIRN_INVALID_TRANSITION)) {
                return s->st;
            }
            if (!ok)
                continue;
            x->status = (uint8_t)to;
            x->updated = now;
            if (run_final(to) && x->finished == 0)
                x->finished = now;
            if (to == CAIRN_RUN_FAILED)
                x->estep = with_message ? (uint32_t)s->n : 0;
        } else if (op == 3) { /* add a tag */
            int t = (int)below(s, RUN_TAGS);
            bool has = false;
            for (int k = 0; k < x->ntags; k++)
                has |= x->tag[k] == t;
            if (!CALL(s, cairn_run_add_tag_tx(s->txn, &id, test_str(run_tag_name[t])),
                      has ? CAIRN_EXISTS : CAIRN_OK))
                return s->st;
            if (!has) {
                x->tag[x->ntags++] = (uint8_t)t;
                x->updated = now;
            }
        } else if (op == 4) { /* remove a tag */
            int t = (int)below(s, RUN_TAGS), at = -1;
            for (int k = 0; k < x->ntags; k++)
                if (x->tag[k] == t)
                    at = k;
            if (!CALL(s, cairn_run_remove_tag_tx(s->txn, &id, test_str(run_tag_name[t])),
                      at >= 0 ? CAIRN_OK : CAIRN_NOT_FOUND))
                return s->st;
            if (at >= 0) {
                for (int k = at; k + 1 < x->ntags; k++)
                    x->tag[k] = x->tag[k + 1];
                x->ntags--;
                x->updated = now;
            }
        } else if (op == 5 || op == 6) { /* new metadata */
            x->mlen = (uint16_t)below(s, 60);
            x->mstep = (uint32_t)s->n;
            fill(meta, x->mlen, x->mstep, x->step, x->idx);
            if (!CALL(s, cairn_run_set_metadata_tx(s->txn, &id, cairn_slice_of(meta, x->mlen)),
                      CAIRN_OK))
                return s->st;
            x->updated = now;
        } else { /* delete, with or without the child runs */
            bool children = run_has_live_children(m, j);
            unsigned flags = below(s, 2) ? CAIRN_RUN_DELETE_CHILDREN : 0;
            bool refused = children && flags == 0;
            if (!CALL(s, cairn_run_delete_tx(s->txn, &id, flags),
                      refused ? CAIRN_EXISTS : CAIRN_OK))
                return s->st;
            if (!refused)
                run_delete_tree(m, j);
        }
    }
    return CAIRN_OK;
}

/* A registered run as listed: its id and model index. */
typedef struct run_seen {
    cairn_run_id id;
    int j;
} run_seen;

static int run_find_name(const run_model *m, cairn_slice name)
{
    char nb[24];
    for (uint32_t j = 0; j < m->n; j++)
        if (m->r[j].exists && slice_eq(name, run_name(nb, &m->r[j])))
            return (int)j;
    return -1;
}

static void run_expect_view(const cairn_run_view *v, const run_model *m, int j,
                            const run_seen *seen, size_t nseen)
{
    const run_m *x = &m->r[j];
    char nb[24], eb[32];
    uint8_t meta[64];
    fill(meta, x->mlen, x->mstep, x->step, x->idx);
    bool tags_ok = v->ntags == x->ntags;
    for (size_t k = 0; tags_ok && k < x->ntags; k++)
        tags_ok = slice_eq_str(v->tags[k], run_tag_name[x->tag[k]]);
    int parent = -1;
    if (v->has_parent)
        for (size_t k = 0; k < nseen; k++)
            if (memcmp(seen[k].id.bytes, v->parent.bytes, CAIRN_RUN_ID_SIZE) == 0)
                parent = seen[k].j;
    cr_assert(v->status == x->status && v->has_parent == (x->parent >= 0) && parent == x->parent &&
              tags_ok && slice_eq(v->metadata, cairn_slice_of(meta, x->mlen)) &&
              v->created_us == x->created && v->updated_us == x->updated &&
              v->finished_us == x->finished && slice_eq(v->error, run_error(eb, x)),
              "[%s] run %s differs from the model: status %d/%d, parent %d/%d, %zu/%u tags, "
              "created %" PRId64 "/%" PRId64 ", updated %" PRId64 "/%" PRId64 ", finished %" PRId64
              "/%" PRId64 ", error \"%.*s\"", ctx, run_label(nb, x), v->status,
              x->status, parent, x->parent, v->ntags, x->ntags, v->created_us, x->created,
              v->updated_us, x->updated, v->finished_us, x->finished, (int)v->error.len,
              (const char *)v->error.data);
}

typedef cairn_status (*run_query_fn)(cairn_txn *txn, int a, const cairn_run_cursor *after,
                                     cairn_run_list *l);

static cairn_status q_by_tag(cairn_txn *txn, int a, const cairn_run_cursor *after,
                             cairn_run_list *l)
{
    return cairn_run_by_tag_tx(txn, test_str(run_tag_name[a]), after, 3, l);
}

static cairn_status q_by_status(cairn_txn *txn, int a, const cairn_run_cursor *after,
                                cairn_run_list *l)
{
    return cairn_run_by_status_tx(txn, (cairn_run_status)a, after, 3, l);
}

static cairn_status q_active_tag(cairn_txn *txn, int a, const cairn_run_cursor *after,
                                 cairn_run_list *l)
{
    return cairn_run_by_status_tag_tx(txn, CAIRN_RUN_ACTIVE, test_str(run_tag_name[a]), after, 3,
                                      l);
}

/* Pages through a query; every run listed must satisfy `match`, and the
 * count must be the model's.  Returns the count. */
static uint32_t run_expect_query(cairn_txn *txn, const run_model *m, run_query_fn q, int a,
                                 bool (*match)(const run_m *x, int a), const char *what,
                                 const run_seen *seen, size_t nseen)
{
    uint32_t want = 0, got = 0;
    for (uint32_t j = 0; j < m->n; j++)
        want += m->r[j].exists && match(&m->r[j], a);
    cairn_run_cursor after = {0};
    int64_t last = 0;
    for (;;) {
        cairn_run_list l = {0};
        cairn_status st = q(txn, a, after.set ? &after : NULL, &l);
        cr_assert_eq(st, CAIRN_OK, "[%s] %s %d: %s", ctx, what, a, cairn_status_name(st));
        for (size_t i = 0; i < l.n; i++, got++) {
            int j = run_find_name(m, l.items[i].name);
            cr_assert(j >= 0 && match(&m->r[j], a), "[%s] %s %d lists run %.*s", ctx, what, a,
                      (int)l.items[i].name.len, (const char *)l.items[i].name.data);
            cr_assert_geq(l.items[i].created_us, last, "[%s] %s %d: out of creation order", ctx,
                          what, a);
            last = l.items[i].created_us;
            run_expect_view(&l.items[i], m, j, seen, nseen);
        }
        bool more = l.more;
        after = l.next;
        cairn_run_list_free(&l);
        if (!more)
            break;
    }
    cr_assert_eq(got, want, "[%s] %s %d lists %u runs, expected %u", ctx, what, a, got, want);
    return got;
}

static bool has_tag(const run_m *x, int t)
{
    for (int k = 0; k < x->ntags; k++)
        if (x->tag[k] == t)
            return true;
    return false;
}

static bool m_tag(const run_m *x, int a) { return has_tag(x, a); }
static bool m_status(const run_m *x, int a) { return x->status == a; }
static bool m_active_tag(const run_m *x, int a)
{
    return x->status == CAIRN_RUN_ACTIVE && has_tag(x, a);
}

static void ri_check(cairn_db *db, const void *model, uint64_t n)
{
    (void)n;
    const run_model *m = model;
    cairn_txn *txn = begin_ro(db);
    uint32_t live = 0;
    uint64_t entries = 0;
    for (uint32_t j = 0; j < m->n; j++)
        if (m->r[j].exists) {
            live++;
            entries += 3u + 2u * m->r[j].ntags + 1u;
        }
    cairn_run_report rep;
    CHECK(cairn_run_check_tx(txn, &rep));
    cr_assert(rep.ok, "[%s] run check: %s", ctx, rep.why);
    cr_assert(rep.runs == live && rep.entries == entries,
              "[%s] run check saw %" PRIu64 " runs and %" PRIu64
              " index entries, expected %u and %" PRIu64,
              ctx, rep.runs, rep.entries, live, entries);

    /* every run, in pages of 7: ids to names first */
    run_seen *seen = malloc((live + 1) * sizeof *seen);
    cr_assert_not_null(seen);
    size_t nseen = 0;
    cairn_run_cursor after = {0};
    for (;;) {
        cairn_run_list l = {0};
        CHECK(cairn_run_list_all_tx(txn, after.set ? &after : NULL, 7, &l));
        for (size_t i = 0; i < l.n; i++) {
            int j = run_find_name(m, l.items[i].name);
            cr_assert(j >= 0, "[%s] run %.*s is registered but not in the model", ctx,
                      (int)l.items[i].name.len, (const char *)l.items[i].name.data);
            cr_assert_lt(nseen, live, "[%s] more runs registered than the model's %u", ctx, live);
            seen[nseen].id = l.items[i].id;
            seen[nseen++].j = j;
        }
        bool more = l.more;
        after = l.next;
        cairn_run_list_free(&l);
        if (!more)
            break;
    }
    cr_assert_eq(nseen, live, "[%s] %zu runs registered, expected %u", ctx, nseen, live);
    char nb[24];
    for (uint32_t j = 0; j < m->n; j++) {
        cairn_run_view v;
        CHECK_STATUS(cairn_run_get_by_name_tx(txn, run_name(nb, &m->r[j]), &v),
                     m->r[j].exists ? CAIRN_OK : CAIRN_NOT_FOUND);
        if (m->r[j].exists)
            run_expect_view(&v, m, (int)j, seen, nseen);
    }
    for (int t = 0; t < RUN_TAGS; t++) {
        run_expect_query(txn, m, q_by_tag, t, m_tag, "by tag", seen, nseen);
        run_expect_query(txn, m, q_active_tag, t, m_active_tag, "active by tag", seen, nseen);
    }
    for (int st = 1; st <= CAIRN_RUN_STATUS_COUNT; st++) {
        uint32_t k = run_expect_query(txn, m, q_by_status, st, m_status, "by status", seen, nseen);
        uint64_t count = 0;
        CHECK(cairn_run_count_tx(txn, (cairn_run_status)st, &count));
        cr_assert_eq(count, k, "[%s] %" PRIu64 " runs counted %s, %u listed", ctx, count,
                     cairn_run_status_name((cairn_run_status)st), k);
    }
    /* the children of every run */
    for (size_t k = 0; k < nseen; k++) {
        uint32_t want = 0, got = 0;
        for (uint32_t j = 0; j < m->n; j++)
            want += m->r[j].exists && m->r[j].parent == seen[k].j;
        cairn_run_cursor ca = {0};
        for (;;) {
            cairn_run_list l = {0};
            CHECK(cairn_run_children_tx(txn, &seen[k].id, ca.set ? &ca : NULL, 5, &l));
            for (size_t i = 0; i < l.n; i++, got++) {
                int j = run_find_name(m, l.items[i].name);
                cr_assert(j >= 0 && m->r[j].parent == seen[k].j, "[%s] run %s lists child %.*s",
                          ctx, run_label(nb, &m->r[seen[k].j]),
                          (int)l.items[i].name.len, (const char *)l.items[i].name.data);
            }
            bool more = l.more;
            ca = l.next;
            cairn_run_list_free(&l);
            if (!more)
                break;
        }
        cr_assert_eq(got, want, "[%s] run %s has %u child runs, expected %u", ctx,
                     run_label(nb, &m->r[seen[k].j]), got, want);
    }
    free(seen);
    CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

/* ==== the primitives ======================================================================= */

static const prim_def row_kv = {"KV", 0, sizeof(kv_model), kv_step, kv_check};
static const prim_def row_event = {"EventLog", 1, sizeof(ev_model), ev_step, ev_check};
static const prim_def row_cell = {"StateCell", 2, sizeof(cell_model), cell_step, cell_check};
static const prim_def row_trace = {"TraceStore", 3, sizeof(tr_model), tr_step, tr_check};
static const prim_def row_run = {"RunIndex", 4, sizeof(run_model), ri_step, ri_check};

/* Replays the model to step n and checks `db` against it. */
static void check_at(const prim_def *p, cairn_db *db, uint64_t n)
{
    void *m = model_at(p, n);
    set_check_clock(n);
    p->check(db, m, n);
    free(m);
}

/* ---- what a test holds (released by the suite's fini after a failure) ---------------- */

static struct {
    cairn_txn *txn;
    cairn_db *db;
    wal_fs *fs;
    char *dir;
    void *model;
} held;

static void release_held(void)
{
    cairn_txn_free(held.txn);
    if (held.db)
        cairn_db_close(held.db);
    wal_fs_free(held.fs);
    if (held.dir) {
        test_rm_tree(held.dir);
        free(held.dir);
    }
    free(held.model);
    memset(&held, 0, sizeof held);
}

TestSuite(recovery_matrix, .fini = release_held);

static char *make_dir(void)
{
    char *dir = strdup("/tmp/cairn-matrix-XXXXXX");
    cr_assert_not_null(dir);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    return dir;
}

/* ---- kill -9 ------------------------------------------------------------------------------ */

#define KILL_MAX_ACKS 6u
#define KILL_ROUNDS_PER_DIR 25u

static cairn_options kill_options(void)
{
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_SYNC;
    o.clock = read_clock;
    o.wal_segment_size = 128 * 1024;
    o.checkpoint_wal_bytes = 16 * 1024; /* kills land in automatic checkpoints too */
    return o;
}

/* Moves the fake clock to step n's time. */
static void step_clock(const void *unused, uint64_t n)
{
    (void)unused;
    atomic_store(&clock_now, step_time(n));
}

typedef struct child_args {
    const prim_def *p;
    const char *dir;
    uint64_t from;
    void *model;
} child_args;

static cairn_status child_write_step(const void *arg, cairn_txn *txn, uint64_t n, char *why,
                                     size_t cap)
{
    const child_args *c = arg;
    return run_step(c->p, c->model, n, txn, why, cap);
}

/* Runs the workload from step `from` + 1 on, acknowledging each, until killed. */
static void child_main(void *arg, int fd)
{
    static const char who[] = "recovery matrix child";
    child_args *c = arg;
    const prim_def *p = c->p;
    char why[512] = "";
    if ((c->model = calloc(1, p->model_size)) == NULL)
        crash_child_fail(who, CRASH_CHILD_OPEN_FAILED, "calloc", CAIRN_NO_MEMORY, "");
    for (uint64_t k = 1; k <= c->from; k++)
        run_step(p, c->model, k, NULL, why, sizeof why);
    atomic_store(&clock_now, step_time(c->from + 1));
    cairn_options o = kill_options();
    cairn_db *db = NULL;
    cairn_status st = cairn_db_open(c->dir, &o, &db, why, sizeof why);
    if (st != CAIRN_OK)
        crash_child_fail(who, CRASH_CHILD_OPEN_FAILED, "cairn_db_open", st, why);
    crash_steps w = {step_clock, child_write_step, c, 0};
    crash_child_steps(who, db, c->from, &w, p->name, 7, 3, fd);
}

/*
 * The shared kill helper: forks a child running `p`'s workload after step
 * `from`, kills it after `kill_after` acknowledgements, collects every ack
 * it sent (those still in the pipe too) and returns the last acknowledged
 * step.
 */
static uint64_t kill_round(const prim_def *p, const char *dir, uint64_t from, uint64_t kill_after)
{
    child_args c = {p, dir, from, NULL};
    return crash_kill_steps(child_main, &c, from, kill_after, 0, "one version per step", ctx);
}

static void kill_matrix(const prim_def *p)
{
    uint64_t kills = crash_points(), steps = 0, in_flight = 0, torn = 0, from_ckpt = 0;
    uint64_t mid_ckpt = 0, before_first = 0;
    test_rng rng = test_rng_seeded(UINT64_C(0x4B1119) + (uint64_t)p->id);
    uint64_t at = 0;
    char dir[96];
    for (uint64_t round = 0; round < kills; round++) {
        if (round % KILL_ROUNDS_PER_DIR == 0) { /* a fresh database keeps each check small */
            if (held.dir) {
                test_rm_tree(held.dir);
                free(held.dir);
            }
            held.dir = make_dir();
            snprintf(dir, sizeof dir, "%s/db", held.dir);
            at = 0;
        }
        uint64_t want = test_rng_below(&rng, KILL_MAX_ACKS + 1);
        set_ctx("%s, kill -9 round %" PRIu64 " (after %" PRIu64 " acks, from step %" PRIu64 ")",
                p->name, round, want, at);
        uint64_t acked = kill_round(p, dir, at, want);
        mid_ckpt += crash_checkpoint_in_progress(dir, true);
        before_first += acked == at;
        atomic_store(&clock_now, step_time(acked + 1) + STEP_US / 2);
        cairn_options o = kill_options();
        char err[512] = "";
        cairn_status st = cairn_db_open(dir, &o, &held.db, err, sizeof err);
        cr_assert_eq(st, CAIRN_OK, "[%s] reopening: %s (%s)", ctx, cairn_status_name(st), err);
        cairn_recovery_report rep;
        CHECK(cairn_db_recovery_report(held.db, &rep));
        cr_assert_eq(rep.checkpoints_skipped, 0u, "[%s] recovery skipped a damaged checkpoint",
                     ctx);
        uint64_t n = rep.last_version;
        cr_assert_geq(n, acked, "[%s] step %" PRIu64 " was acknowledged, the database recovered "
                      "version %" PRIu64, ctx, acked, n);
        cr_assert_leq(n, acked + 1, "[%s] recovered version %" PRIu64 " but only step %" PRIu64
                      " was acknowledged and one more in flight", ctx, n, acked);
        set_ctx("%s, kill -9 round %" PRIu64 ", recovered at step %" PRIu64 " (%" PRIu64
                " acknowledged)", p->name, round, n, acked);
        check_at(p, held.db, n);
        in_flight += n > acked;
        torn += rep.torn;
        from_ckpt += rep.checkpoint_version != 0;
        steps += n - at;
        CHECK(cairn_db_close(held.db));
        held.db = NULL;
        at = n;
    }
    cr_log_info("%s kill -9: %" PRIu64 " kills (%" PRIu64 " before the first acknowledgement, %"
                PRIu64 " within a checkpoint), %" PRIu64 " steps survived, %" PRIu64
                " of them unacknowledged, %" PRIu64 " torn tails cut off, %" PRIu64
                " recoveries from a checkpoint", p->name, kills, before_first, mid_ckpt, steps,
                in_flight, torn, from_ckpt);
}

/* ---- power loss ------------------------------------------------------------------------------ */

#define PL_SCENARIOS 4u
#define PL_ROUNDS 4u

static cairn_db *pl_open(const char *dir, const cairn_options *o, wal_fs *fs)
{
    return crash_open_fs(dir, o, fs, &held.db, "opening", ctx);
}

/* A step of the primitive `p` on the model in held.model. */
static cairn_status pl_write_step(const void *p, cairn_txn *txn, uint64_t n, char *why,
                                  size_t cap)
{
    return run_step(p, held.model, n, txn, why, cap);
}

static void pl_scenario(const prim_def *p, cairn_durability mode, crash_kind kind,
                        uint32_t max_keep, uint64_t seed, crash_tally *t)
{
    const char *mname = mode == CAIRN_DURABILITY_SYNC ? "sync" : "async";
    const char *kname = kind == CRASH_BETWEEN_CALLS ? "between calls" : "before the n-th sync";
    held.dir = make_dir();
    CHECK(wal_fs_new_test(&held.fs));
    wal_fs *fs = held.fs;
    test_rng rng = test_rng_seeded(seed);
    cairn_options o;
    cairn_options_init(&o);
    o.durability = mode;
    o.clock = read_clock;
    o.wal_segment_size = 64 * 1024;
    o.checkpoint_wal_bytes = 24 * 1024;
    o.sync_interval_ms = test_rng_below(&rng, 2) ? 1 : 3600u * 1000u;
    uint32_t max_steps = mode == CAIRN_DURABILITY_SYNC ? 10 : 24;

    set_ctx("%s, power loss, %s, %s: opening", p->name, mname, kname);
    atomic_store(&clock_now, step_time(1));
    cairn_db *db = pl_open(held.dir, &o, fs);
    held.model = calloc(1, p->model_size);
    cr_assert_not_null(held.model);
    uint64_t lo = 0, hi = 0, n = 0;
    for (uint32_t r = 0; r <= PL_ROUNDS; r++) {
        cairn_recovery_report rep;
        CHECK(cairn_db_recovery_report(db, &rep));
        n = rep.last_version;
        set_ctx("%s, power loss, %s, %s, seed %" PRIx64 ", round %u: recovered step %" PRIu64,
                p->name, mname, kname, seed, r, n);
        cr_assert(n >= lo && n <= hi, "[%s] recovered version %" PRIu64 ", expected %" PRIu64
                  "..%" PRIu64, ctx, n, lo, hi);
        cr_assert_eq(rep.checkpoints_skipped, 0u, "[%s] recovery skipped a damaged checkpoint",
                     ctx);
        check_at(p, db, n);
        t->lost += hi - n;
        if (r == PL_ROUNDS)
            break;

        /* the model follows the database from the recovered step */
        free(held.model);
        held.model = model_at(p, n);
        crash_steps w = {step_clock, pl_write_step, p, 0};
        crash_reach at = crash_pl_workload(db, fs, &held.txn, &rng, kind, max_steps, max_keep, &w,
                                           n, t, ctx);
        crash_close(&held.db, true, ctx);
        wal_fs_restart(fs);
        atomic_store(&clock_now, step_time(at.possible + 1) + STEP_US / 2);
        db = pl_open(held.dir, &o, fs);
        lo = mode == CAIRN_DURABILITY_SYNC ? at.acked : at.floor;
        hi = at.possible;
    }
    crash_close(&held.db, false, ctx);
    release_held();
}

static void power_matrix(const prim_def *p, cairn_durability mode)
{
    static const struct {
        crash_kind kind;
        uint32_t max_keep;
    } kinds[] = {{CRASH_BETWEEN_CALLS, 8}, {CRASH_BEFORE_NTH_SYNC, 8}, {CRASH_BETWEEN_CALLS, 0},
                 {CRASH_BEFORE_NTH_SYNC, 0}};
    crash_tally t = {0};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
        for (uint64_t i = 0, n = crash_scaled(PL_SCENARIOS); i < n; i++)
            pl_scenario(p, mode, kinds[k].kind, kinds[k].max_keep,
                        ((uint64_t)p->id << 40) ^ ((uint64_t)mode << 32) ^ (k << 16) ^ (i + 1), &t);
    cr_log_info("%s power loss (%s): %" PRIu64 " crash points, %" PRIu64 " steps acknowledged, %"
                PRIu64 " failed commits, %" PRIu64 " possible steps not recovered", p->name,
                mode == CAIRN_DURABILITY_SYNC ? "sync" : "async", t.points, t.steps,
                t.failed_commits, t.lost);
}

/* ---- the matrix --------------------------------------------------------------------------------
 */

#define MATRIX_ROW(label, prim)                                                                \
    Test(recovery_matrix, label##_keeps_every_acknowledged_write_and_its_indices_after_kill_9,  \
         .timeout = 900) { kill_matrix(&(prim)); }                                             \
    Test(recovery_matrix, label##_keeps_every_acknowledged_write_after_sync_power_loss,        \
         .timeout = 900) { power_matrix(&(prim), CAIRN_DURABILITY_SYNC); }                      \
    Test(recovery_matrix, label##_recovers_a_consistent_prefix_after_async_power_loss,         \
         .timeout = 900) { power_matrix(&(prim), CAIRN_DURABILITY_ASYNC); }

MATRIX_ROW(kv, row_kv)
MATRIX_ROW(eventlog, row_event)
MATRIX_ROW(statecell, row_cell)
MATRIX_ROW(tracestore, row_trace)
MATRIX_ROW(runindex, row_run)
