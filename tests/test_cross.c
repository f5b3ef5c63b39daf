/*
 * Cross-primitive atomicity: KV, EventLog, StateCell, TraceStore and
 * RunIndex writes joined in one transaction commit together, abort
 * together, conflict together, and survive a killed process or a power
 * loss together or not at all.
 *
 * Every part of a combination reads before it writes, so each can be the
 * one a concurrent commit invalidates:
 *
 *   KV          gets "k" (expects "base"), puts "k" = "new";
 *   EventLog    appends event 1 of type "cross" (reads the log's length
 *               and head);
 *   StateCell   CASes cell "c" from version 1 to 2 holding "new";
 *   TraceStore  records trace "child" (type decision, tag "cross") under
 *               trace "root" (reads the parent and the id);
 *   RunIndex    sets the metadata of run "owner" to "new" and registers run
 *               "made" (tag "cross") as its child (reads the run, the name).
 *
 * The first four write into the registered run "data"; the RunIndex part
 * changes "owner", a different run, so a change to "owner" is a conflict
 * of the RunIndex part only.  For each of the ten pairs and for all five:
 *
 *   - commit: the transaction sees its own parts before commit, another
 *     transaction sees none of them, and after commit every part reads back
 *     with its content and in every index query, checkers clean;
 *   - abort (explicit, and a cairn_db_run() body failing): no part is left,
 *     in any read or index query, and the same writes then commit cleanly;
 *   - conflict: for each part, a concurrent commit that changes what that
 *     part read ("k" overwritten, an event appended to "data", "c" CASed,
 *     "root" finished, "owner" paused), made either between begin and the
 *     reads or after every write, makes the commit answer CAIRN_CONFLICT,
 *     and then every part shows the state before it, plus the concurrent
 *     change;
 *   - control: concurrent commits to other keys and runs do not conflict.
 *
 * Crashes (each of the ten pairs and all five).  Step n is one transaction
 * writing the parts of the combination, each moving from n - 1 to n (the
 * first part reads first that it is still at n - 1): KV "last" = n, event
 * n of "data" appended with payload n (only if the log holds n events),
 * cell "step" CASed from version n to n + 1 holding n, trace "t-(n-1)"
 * finished and trace "t-n" named n recorded under "root", run "progress"
 * given metadata n and run "step-n" registered as its child.  After
 * recovery each part says which step it holds on its own; the parts of the
 * combination must name the same step, the others must still be at step 0
 * (the setup), every trace, event and run around each part's step must be
 * exactly as that step left them, and cairn_event_verify,
 * cairn_trace_check and cairn_run_check must pass.
 *
 *   - kill -9: a child process commits steps in SYNC mode and acknowledges
 *     each {step, commit version} over a pipe; the parent kills it after a
 *     random number of acknowledgements (0..KILL_MAX_ACKS, so also during
 *     open and recovery, and within checkpoints: the child checkpoints
 *     every CHILD_CHECKPOINT_EVERY steps and checkpoint_wal_bytes is
 *     small).  The recovered step is the last acknowledged one or the one
 *     in flight, at the version acknowledged.  CAIRN_CRASH_POINTS (default
 *     200) sets the number of kills for all five; each pair gets a tenth of
 *     them (at least one), so the pairs add as many again.
 *   - power loss through the instrumented file layer, in SYNC and ASYNC
 *     mode, between calls and before the n-th sync (sticky): SYNC recovers
 *     at least every acknowledged step, ASYNC any prefix no older than the
 *     last checkpoint; never anything in between steps.  128 crash points
 *     for all five (32 for each mode and kind of crash), 16 for each pair
 *     (4 for each mode and kind); CAIRN_TEST_SCALE (default 1) multiplies
 *     them.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>

#include "crash_harness.h"
#include "helpers.h"
#include "engine/db_internal.h"
#include "wal/file.h"

/* ---- parts and combinations -------------------------------------------------- */

typedef enum part { P_KV, P_EVENT, P_CELL, P_TRACE, P_RUN, NPARTS } part;

#define BIT(p) (1u << (p))
#define ALL_PARTS (BIT(P_KV) | BIT(P_EVENT) | BIT(P_CELL) | BIT(P_TRACE) | BIT(P_RUN))

static const char *const part_name[NPARTS] = {"KV", "EventLog", "StateCell", "TraceStore",
                                              "RunIndex"};

/* What the test is doing, prefixed to every assertion message. */
static char ctx[256];

static void set_ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_ctx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
}

static const char *combo_name(unsigned mask, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t off = 0;
    for (int p = 0; p < NPARTS; p++) {
        if (!(mask & BIT(p)))
            continue;
        int n = snprintf(buf + off, cap - off, "%s%s", off ? "+" : "", part_name[p]);
        if (n > 0)
            off += (size_t)n < cap - off ? (size_t)n : cap - off - 1;
    }
    return buf;
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

static bool run_id_eq(const cairn_run_id *a, const cairn_run_id *b)
{
    return memcmp(a->bytes, b->bytes, CAIRN_RUN_ID_SIZE) == 0;
}

/* ---- what a test holds (released by the suite's fini after a failure) ----------- */

static struct {
    cairn_txn *txn, *ro;
    cairn_db *db;
    wal_fs *fs;
    char *dir;
} held;

static void release_held(void)
{
    cairn_txn_free(held.ro);
    cairn_txn_free(held.txn);
    if (held.db)
        cairn_db_close(held.db);
    wal_fs_free(held.fs);
    if (held.dir) {
        test_rm_tree(held.dir);
        free(held.dir);
    }
    memset(&held, 0, sizeof held);
}

TestSuite(cross, .fini = release_held);

/* ---- the in-memory world of the commit/abort/conflict tests ---------------------- */

typedef struct world {
    cairn_db *db;
    cairn_run_id data;  /* KV, events, cells, traces */
    cairn_run_id owner; /* the RunIndex part's run */
    cairn_run_id other; /* unrelated: the control's concurrent writes */
} world;

static const cairn_slice cross_tag[1] = {{"cross", 5}};

static void world_open(world *w)
{
    w->db = held.db = test_open(NULL);
    cairn_run_spec s;
    cairn_run_spec_init(&s);
    s.name = test_str("data");
    CHECK(cairn_run_create(w->db, &s, &w->data));
    s.name = test_str("owner");
    s.metadata = test_str("base");
    CHECK(cairn_run_create(w->db, &s, &w->owner));
    s.name = test_str("other");
    CHECK(cairn_run_create(w->db, &s, &w->other));
    CHECK(cairn_kv_put(w->db, &w->data, test_str("k"), test_str("base")));
    CHECK(cairn_event_append(w->db, &w->data, test_str("base"), test_str("base"), NULL, NULL));
    CHECK(cairn_cell_init(w->db, &w->data, test_str("c"), test_str("base")));
    cairn_trace_spec ts;
    cairn_trace_spec_init(&ts);
    ts.type = CAIRN_TRACE_THOUGHT;
    ts.name = test_str("root");
    CHECK(cairn_trace_record_id(w->db, &w->data, test_str("root"), cairn_slice_of(NULL, 0), &ts));
}

static void world_close(world *w)
{
    CHECK(cairn_db_close(w->db));
    held.db = NULL;
    w->db = NULL;
}

/* Writes part `p` into `txn`, reading first what it depends on. */
static void write_part(cairn_txn *txn, const world *w, part p)
{
    switch (p) {
    case P_KV: {
        cairn_slice v;
        CHECK(cairn_kv_get_tx(txn, &w->data, test_str("k"), &v));
        cr_assert(slice_eq_str(v, "base"), "[%s] the KV part read \"%.*s\"", ctx, (int)v.len,
                  (const char *)v.data);
        CHECK(cairn_kv_put_tx(txn, &w->data, test_str("k"), test_str("new")));
        break;
    }
    case P_EVENT: {
        uint64_t seq = 99;
        CHECK(cairn_event_append_tx(txn, &w->data, test_str("cross"), test_str("new"), &seq, NULL));
        cr_assert_eq(seq, 1u, "[%s] the event got number %" PRIu64, ctx, seq);
        break;
    }
    case P_CELL: {
        uint64_t ver = 0;
        CHECK(cairn_cell_cas_tx(txn, &w->data, test_str("c"), 1, test_str("new"), &ver));
        cr_assert_eq(ver, 2u, "[%s] the CAS made version %" PRIu64, ctx, ver);
        break;
    }
    case P_TRACE: {
        cairn_trace_spec ts;
        cairn_trace_spec_init(&ts);
        ts.type = CAIRN_TRACE_DECISION;
        ts.name = test_str("new");
        ts.tags = cross_tag;
        ts.ntags = 1;
        CHECK(cairn_trace_record_id_tx(txn, &w->data, test_str("child"), test_str("root"), &ts));
        break;
    }
    case P_RUN: {
        CHECK(cairn_run_set_metadata_tx(txn, &w->owner, test_str("new")));
        cairn_run_spec s;
        cairn_run_spec_init(&s);
        s.name = test_str("made");
        s.parent = &w->owner;
        s.tags = cross_tag;
        s.ntags = 1;
        CHECK(cairn_run_create_tx(txn, &s, NULL));
        break;
    }
    default:
        cr_assert_fail("no part %d", (int)p);
    }
}

static void write_parts(cairn_txn *txn, const world *w, unsigned mask)
{
    for (int p = 0; p < NPARTS; p++)
        if (mask & BIT(p))
            write_part(txn, w, (part)p);
}

/* A concurrent commit that changes what part `p` read. */
static void bump_part(const world *w, part p)
{
    switch (p) {
    case P_KV:
        CHECK(cairn_kv_put(w->db, &w->data, test_str("k"), test_str("other")));
        break;
    case P_EVENT:
        CHECK(
            cairn_event_append(w->db, &w->data, test_str("other"), test_str("other"), NULL, NULL));
        break;
    case P_CELL:
        CHECK(cairn_cell_cas(w->db, &w->data, test_str("c"), 1, test_str("other"), NULL));
        break;
    case P_TRACE:
        CHECK(cairn_trace_finish(w->db, &w->data, test_str("root"), CAIRN_TRACE_OK, 0));
        break;
    case P_RUN:
        CHECK(cairn_run_pause(w->db, &w->owner));
        break;
    default:
        cr_assert_fail("no part %d", (int)p);
    }
}

/* Concurrent commits that touch nothing any part read. */
static void unrelated_commits(const world *w)
{
    CHECK(cairn_kv_put(w->db, &w->data, test_str("k2"), test_str("x")));
    CHECK(cairn_cell_set(w->db, &w->data, test_str("c2"), test_str("x"), NULL));
    CHECK(cairn_kv_put(w->db, &w->other, test_str("k"), test_str("x")));
    CHECK(cairn_event_append(w->db, &w->other, test_str("cross"), test_str("x"), NULL, NULL));
    CHECK(cairn_cell_set(w->db, &w->other, test_str("c"), test_str("x"), NULL));
    cairn_trace_spec ts;
    cairn_trace_spec_init(&ts);
    ts.tags = cross_tag;
    ts.ntags = 1;
    CHECK(cairn_trace_record(w->db, &w->other, &ts, NULL));
    CHECK(cairn_run_set_metadata(w->db, &w->other, test_str("x")));
}

/* ---- expectations ---------------------------------------------------------------- */

/* What a part shows: its state before, its own write, or the concurrent one. */
typedef enum shown { SHOWN_BASE, SHOWN_NEW, SHOWN_OTHER } shown;

static const char *const shown_word[] = {"base", "new", "other"};

static size_t trace_count(cairn_status st, cairn_trace_list *l, const char *what)
{
    cr_assert_eq(st, CAIRN_OK, "[%s] %s: %s", ctx, what, cairn_status_name(st));
    size_t n = l->n;
    cr_assert_not(l->more, "[%s] %s: more than one page", ctx, what);
    cairn_trace_list_free(l);
    return n;
}

static size_t run_count_list(cairn_status st, cairn_run_list *l, const char *what)
{
    cr_assert_eq(st, CAIRN_OK, "[%s] %s: %s", ctx, what, cairn_status_name(st));
    size_t n = l->n;
    cr_assert_not(l->more, "[%s] %s: more than one page", ctx, what);
    cairn_run_list_free(l);
    return n;
}

static void expect_kv(cairn_txn *txn, const world *w, shown s)
{
    cairn_slice v;
    CHECK(cairn_kv_get_tx(txn, &w->data, test_str("k"), &v));
    cr_assert(slice_eq_str(v, shown_word[s]), "[%s] KV k holds \"%.*s\", expected \"%s\"", ctx,
              (int)v.len, (const char *)v.data, shown_word[s]);
}

static void expect_event(cairn_txn *txn, const world *w, shown s)
{
    uint64_t len = 0;
    CHECK(cairn_event_len_tx(txn, &w->data, &len));
    cr_assert_eq(len, s == SHOWN_BASE ? 1u : 2u, "[%s] the event log holds %" PRIu64
                 " events, expected %d", ctx, len, s == SHOWN_BASE ? 1 : 2);
    cairn_event_view ev;
    CHECK_STATUS(cairn_event_read_tx(txn, &w->data, 1, &ev),
                 s == SHOWN_BASE ? CAIRN_NOT_FOUND : CAIRN_OK);
    if (s != SHOWN_BASE) {
        const char *type = s == SHOWN_NEW ? "cross" : "other";
        cr_assert(slice_eq_str(ev.type, type) && slice_eq_str(ev.payload, shown_word[s]),
                  "[%s] event 1 is %.*s/%.*s, expected %s/%s", ctx, (int)ev.type.len,
                  (const char *)ev.type.data, (int)ev.payload.len, (const char *)ev.payload.data,
                  type, shown_word[s]);
    }
    /* the by-type index agrees */
    cairn_event_iter *it = NULL;
    CHECK(cairn_event_iter_type(txn, &w->data, test_str("cross"), 0, &it));
    unsigned n = 0;
    cairn_status st;
    while ((st = cairn_event_iter_next(it, &ev)) == CAIRN_OK) {
        cr_assert_eq(ev.seq, 1u, "[%s] the by-type index lists event %" PRIu64, ctx, ev.seq);
        n++;
    }
    cairn_event_iter_free(it);
    CHECK_STATUS(st, CAIRN_DONE);
    cr_assert_eq(n, s == SHOWN_NEW ? 1u : 0u, "[%s] %u events of type cross", ctx, n);
    cairn_chain_report rep;
    CHECK(cairn_event_verify_tx(txn, &w->data, &rep));
    cr_assert(rep.ok, "[%s] event chain: %s", ctx, rep.why);
    cr_assert_eq(rep.len, len, "[%s] verify counted %" PRIu64 " events", ctx, rep.len);
}

static void expect_cell(cairn_txn *txn, const world *w, shown s)
{
    cairn_cell_view c;
    CHECK(cairn_cell_read_tx(txn, &w->data, test_str("c"), &c));
    cr_assert(c.version == (s == SHOWN_BASE ? 1u : 2u) && slice_eq_str(c.value, shown_word[s]),
              "[%s] cell c holds \"%.*s\" at version %" PRIu64 ", expected \"%s\" at %d", ctx,
              (int)c.value.len, (const char *)c.value.data, c.version, shown_word[s],
              s == SHOWN_BASE ? 1 : 2);
}

static void expect_trace(cairn_txn *txn, const world *w, shown s)
{
    bool has = s == SHOWN_NEW;
    cairn_trace_view t;
    CHECK_STATUS(cairn_trace_get_tx(txn, &w->data, test_str("child"), &t),
                 has ? CAIRN_OK : CAIRN_NOT_FOUND);
    if (has)
        cr_assert(slice_eq_str(t.parent_id, "root") && slice_eq_str(t.name, "new") &&
                  t.type == CAIRN_TRACE_DECISION && t.ntags == 1 &&
                  slice_eq_str(t.tags[0], "cross") && t.status == CAIRN_TRACE_UNFINISHED,
                  "[%s] trace child does not read back as recorded", ctx);
    CHECK(cairn_trace_get_tx(txn, &w->data, test_str("root"), &t));
    cairn_trace_status want = s == SHOWN_OTHER ? CAIRN_TRACE_OK : CAIRN_TRACE_UNFINISHED;
    cr_assert_eq(t.status, want, "[%s] trace root is %s, expected %s", ctx,
                 cairn_trace_status_name(t.status), cairn_trace_status_name(want));
    cairn_trace_list l = {0};
    size_t n = trace_count(cairn_trace_children_tx(txn, &w->data, test_str("root"), NULL, 100, &l),
                           &l, "children of root");
    cr_assert_eq(n, has ? 1u : 0u, "[%s] root has %zu children", ctx, n);
    n = trace_count(cairn_trace_by_tag_tx(txn, &w->data, test_str("cross"), NULL, 100, &l), &l,
                    "traces tagged cross");
    cr_assert_eq(n, has ? 1u : 0u, "[%s] %zu traces tagged cross", ctx, n);
    n = trace_count(cairn_trace_by_type_tx(txn, &w->data, CAIRN_TRACE_DECISION, NULL, 100, &l), &l,
                    "decision traces");
    cr_assert_eq(n, has ? 1u : 0u, "[%s] %zu decision traces", ctx, n);
    n = trace_count(cairn_trace_by_time_tx(txn, &w->data, 0, INT64_MAX, NULL, 100, &l), &l,
                    "traces by time");
    cr_assert_eq(n, has ? 2u : 1u, "[%s] %zu traces by time", ctx, n);
    n = trace_count(cairn_trace_roots_tx(txn, &w->data, NULL, 100, &l), &l, "roots");
    cr_assert_eq(n, 1u, "[%s] %zu root traces", ctx, n);
    cairn_trace_report rep;
    CHECK(cairn_trace_check_tx(txn, &w->data, &rep));
    cr_assert(rep.ok, "[%s] trace check: %s", ctx, rep.why);
    cr_assert_eq(rep.traces, has ? 2u : 1u, "[%s] trace check saw %" PRIu64 " traces", ctx,
                 rep.traces);
}

static void expect_run(cairn_txn *txn, const world *w, shown s)
{
    bool has = s == SHOWN_NEW;
    cairn_run_view r;
    CHECK(cairn_run_get_tx(txn, &w->owner, &r));
    const char *meta = has ? "new" : "base";
    cairn_run_status want = s == SHOWN_OTHER ? CAIRN_RUN_PAUSED : CAIRN_RUN_ACTIVE;
    cr_assert(slice_eq_str(r.metadata, meta), "[%s] owner's metadata is \"%.*s\", expected \"%s\"",
              ctx, (int)r.metadata.len, (const char *)r.metadata.data, meta);
    cr_assert_eq(r.status, want, "[%s] owner is %s, expected %s", ctx,
                 cairn_run_status_name(r.status), cairn_run_status_name(want));
    CHECK_STATUS(cairn_run_get_by_name_tx(txn, test_str("made"), &r),
                 has ? CAIRN_OK : CAIRN_NOT_FOUND);
    if (has)
        cr_assert(r.has_parent && run_id_eq(&r.parent, &w->owner) && r.ntags == 1 &&
                  slice_eq_str(r.tags[0], "cross") && r.status == CAIRN_RUN_ACTIVE,
                  "[%s] run made does not read back as registered", ctx);
    cairn_run_list l = {0};
    size_t n = run_count_list(cairn_run_children_tx(txn, &w->owner, NULL, 100, &l), &l,
                              "children of owner");
    cr_assert_eq(n, has ? 1u : 0u, "[%s] owner has %zu child runs", ctx, n);
    n = run_count_list(cairn_run_by_tag_tx(txn, test_str("cross"), NULL, 100, &l), &l,
                       "runs tagged cross");
    cr_assert_eq(n, has ? 1u : 0u, "[%s] %zu runs tagged cross", ctx, n);
    n = run_count_list(cairn_run_list_all_tx(txn, NULL, 100, &l), &l, "all runs");
    cr_assert_eq(n, has ? 4u : 3u, "[%s] %zu runs registered", ctx, n);
    uint64_t active = 0;
    CHECK(cairn_run_count_tx(txn, CAIRN_RUN_ACTIVE, &active));
    uint64_t want_active = 3u + (has ? 1u : 0u) - (s == SHOWN_OTHER ? 1u : 0u);
    cr_assert_eq(active, want_active, "[%s] %" PRIu64 " active runs, expected %" PRIu64, ctx,
                 active, want_active);
    cairn_run_report rep;
    CHECK(cairn_run_check_tx(txn, &rep));
    cr_assert(rep.ok, "[%s] run check: %s", ctx, rep.why);
}

/*
 * Asserts what `txn` sees: the parts in `new_mask` show their write, part
 * `bumped` (-1: none) the concurrent change, every other part its state
 * before.
 */
static void expect_parts(cairn_txn *txn, const world *w, unsigned new_mask, int bumped)
{
    for (int p = 0; p < NPARTS; p++) {
        shown s = (new_mask & BIT(p)) ? SHOWN_NEW : p == bumped ? SHOWN_OTHER : SHOWN_BASE;
        switch ((part)p) {
        case P_KV: expect_kv(txn, w, s); break;
        case P_EVENT: expect_event(txn, w, s); break;
        case P_CELL: expect_cell(txn, w, s); break;
        case P_TRACE: expect_trace(txn, w, s); break;
        case P_RUN: expect_run(txn, w, s); break;
        default: break;
        }
    }
}

/* The same, in a fresh read-only transaction. */
static void expect_db(const world *w, unsigned new_mask, int bumped)
{
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    CHECK(cairn_txn_begin(w->db, &to, &held.ro));
    expect_parts(held.ro, w, new_mask, bumped);
    CHECK(cairn_txn_commit(held.ro));
    cairn_txn_free(held.ro);
    held.ro = NULL;
}

/* ---- the four behaviours ---------------------------------------------------------- */

static void check_commit(unsigned mask)
{
    char name[96];
    combo_name(mask, name, sizeof name);
    world w;
    set_ctx("%s, commit", name);
    world_open(&w);
    CHECK(cairn_txn_begin(w.db, NULL, &held.txn));
    write_parts(held.txn, &w, mask);
    set_ctx("%s, commit: the transaction reading its own writes", name);
    expect_parts(held.txn, &w, mask, -1);
    set_ctx("%s, commit: another transaction before the commit", name);
    expect_db(&w, 0, -1);
    set_ctx("%s, commit", name);
    CHECK(cairn_txn_commit(held.txn));
    cairn_txn_free(held.txn);
    held.txn = NULL;
    set_ctx("%s, commit: after the commit", name);
    expect_db(&w, mask, -1);
    world_close(&w);
}

typedef struct body_ctx {
    const world *w;
    unsigned mask;
} body_ctx;

/* A cairn_db_run() body that writes every part, then fails. */
static cairn_status write_then_fail(cairn_txn *txn, void *p)
{
    const body_ctx *b = p;
    write_parts(txn, b->w, b->mask);
    return CAIRN_INVALID_TRANSITION;
}

static void check_abort(unsigned mask)
{
    char name[96];
    combo_name(mask, name, sizeof name);
    world w;
    set_ctx("%s, abort", name);
    world_open(&w);
    CHECK(cairn_txn_begin(w.db, NULL, &held.txn));
    write_parts(held.txn, &w, mask);
    expect_parts(held.txn, &w, mask, -1);
    CHECK(cairn_txn_abort(held.txn));
    set_ctx("%s, after an explicit abort", name);
    expect_db(&w, 0, -1);

    set_ctx("%s, a cairn_db_run() body that fails after writing", name);
    body_ctx b = {&w, mask};
    uint32_t attempts = 0;
    CHECK_STATUS(cairn_db_run(w.db, NULL, write_then_fail, &b, &attempts),
                 CAIRN_INVALID_TRANSITION);
    cr_assert_eq(attempts, 1u, "[%s] %u attempts", ctx, attempts);
    expect_db(&w, 0, -1);

    /* nothing the aborted writes reserved (names, ids, numbers) is left */
    set_ctx("%s, the same writes committed after the aborts", name);
    CHECK(cairn_txn_restart(held.txn));
    write_parts(held.txn, &w, mask);
    CHECK(cairn_txn_commit(held.txn));
    cairn_txn_free(held.txn);
    held.txn = NULL;
    expect_db(&w, mask, -1);
    world_close(&w);
}

static void check_conflicts(unsigned mask)
{
    char name[96];
    combo_name(mask, name, sizeof name);
    for (int p = 0; p < NPARTS; p++) {
        if (!(mask & BIT(p)))
            continue;
        for (int after = 0; after < 2; after++) {
            const char *when = after ? "after every write" : "between begin and the reads";
            set_ctx("%s, a concurrent commit on the %s part %s", name, part_name[p], when);
            world w;
            world_open(&w);
            CHECK(cairn_txn_begin(w.db, NULL, &held.txn));
            if (!after)
                bump_part(&w, (part)p);
            write_parts(held.txn, &w, mask);
            if (after)
                bump_part(&w, (part)p);
            cairn_status st = cairn_txn_commit(held.txn);
            cr_assert_eq(st, CAIRN_CONFLICT, "[%s] the commit answered %s (%s)", ctx,
                         cairn_status_name(st), cairn_txn_errmsg(held.txn));
            cairn_txn_free(held.txn);
            held.txn = NULL;
            expect_db(&w, 0, p);
            world_close(&w);
        }
    }
}

static void check_unrelated(unsigned mask)
{
    char name[96];
    combo_name(mask, name, sizeof name);
    set_ctx("%s, concurrent commits elsewhere", name);
    world w;
    world_open(&w);
    CHECK(cairn_txn_begin(w.db, NULL, &held.txn));
    write_parts(held.txn, &w, mask);
    unrelated_commits(&w);
    CHECK(cairn_txn_commit(held.txn));
    cairn_txn_free(held.txn);
    held.txn = NULL;
    expect_db(&w, mask, -1);
    world_close(&w);
}

#define COMBINATION(label, mask)                                                          \
    Test(cross, label##_commit_shows_every_part) { check_commit(mask); }                  \
    Test(cross, label##_abort_leaves_no_part) { check_abort(mask); }                      \
    Test(cross, label##_conflict_on_any_part_aborts_every_part) { check_conflicts(mask); } \
    Test(cross, label##_commits_elsewhere_do_not_conflict) { check_unrelated(mask); }

COMBINATION(kv_event, BIT(P_KV) | BIT(P_EVENT))
COMBINATION(kv_cell, BIT(P_KV) | BIT(P_CELL))
COMBINATION(kv_trace, BIT(P_KV) | BIT(P_TRACE))
COMBINATION(kv_run, BIT(P_KV) | BIT(P_RUN))
COMBINATION(event_cell, BIT(P_EVENT) | BIT(P_CELL))
COMBINATION(event_trace, BIT(P_EVENT) | BIT(P_TRACE))
COMBINATION(event_run, BIT(P_EVENT) | BIT(P_RUN))
COMBINATION(cell_trace, BIT(P_CELL) | BIT(P_TRACE))
COMBINATION(cell_run, BIT(P_CELL) | BIT(P_RUN))
COMBINATION(trace_run, BIT(P_TRACE) | BIT(P_RUN))
COMBINATION(all_five, ALL_PARTS)

/* ---- crash steps ------------------------------------------------------------------- */

/* The runs of a durable database, found by name. */
typedef struct step_ids {
    cairn_run_id data, progress;
} step_ids;

static const cairn_slice step_tag[1] = {{"step", 4}};

static cairn_slice num(char buf[24], uint64_t n)
{
    int len = snprintf(buf, 24, "%" PRIu64, n);
    return cairn_slice_of(buf, (size_t)len);
}

static bool parse_num(cairn_slice s, uint64_t *np)
{
    if (s.len == 0 || s.len > 19)
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t c = ((const uint8_t *)s.data)[i];
        if (c < '0' || c > '9')
            return false;
        n = n * 10 + (c - '0');
    }
    *np = n;
    return true;
}

static cairn_slice name_of(char buf[32], const char *prefix, uint64_t n)
{
    int len = snprintf(buf, 32, "%s%" PRIu64, prefix, n);
    return cairn_slice_of(buf, (size_t)len);
}

/* Step 0, the setup: both runs and every part at 0.  Commit version 1. */
static cairn_status write_setup(cairn_txn *txn)
{
    cairn_status st;
    cairn_run_spec s;
    cairn_run_id data, progress;
    cairn_run_spec_init(&s);
    s.name = test_str("data");
    if ((st = cairn_run_create_tx(txn, &s, &data)) != CAIRN_OK)
        return st;
    s.name = test_str("progress");
    s.metadata = test_str("0");
    if ((st = cairn_run_create_tx(txn, &s, &progress)) != CAIRN_OK)
        return st;
    if ((st = cairn_kv_put_tx(txn, &data, test_str("last"), test_str("0"))) != CAIRN_OK ||
        (st = cairn_event_append_tx(txn, &data, test_str("step"), test_str("0"), NULL, NULL)) !=
            CAIRN_OK ||
        (st = cairn_cell_init_tx(txn, &data, test_str("step"), test_str("0"))) != CAIRN_OK)
        return st;
    cairn_trace_spec ts;
    cairn_trace_spec_init(&ts);
    ts.name = test_str("root");
    if ((st = cairn_trace_record_id_tx(txn, &data, test_str("root"), cairn_slice_of(NULL, 0),
                                       &ts)) != CAIRN_OK)
        return st;
    ts.name = test_str("0");
    ts.tags = step_tag;
    ts.ntags = 1;
    return cairn_trace_record_id_tx(txn, &data, test_str("t-0"), test_str("root"), &ts);
}

static cairn_status find_ids(cairn_db *db, step_ids *ids)
{
    cairn_run r;
    cairn_status st = cairn_run_get_by_name(db, test_str("data"), &r);
    if (st != CAIRN_OK)
        return st;
    ids->data = r.v.id;
    cairn_run_free(&r);
    if ((st = cairn_run_get_by_name(db, test_str("progress"), &r)) != CAIRN_OK)
        return st;
    ids->progress = r.v.id;
    cairn_run_free(&r);
    return CAIRN_OK;
}

/* The first part of `mask`. */
static part first_part(unsigned mask)
{
    for (int p = 0; p < NPARTS; p++)
        if (mask & BIT(p))
            return (part)p;
    return NPARTS;
}

/*
 * Before step n: part `p` must still be at step n - 1 (KV last, the event
 * log's length, the cell's version, trace t-(n-1) unfinished, progress's
 * metadata).  On a mismatch says so in `why`.
 */
static cairn_status check_before_step(cairn_txn *txn, const step_ids *ids, part p, uint64_t n,
                                      char *why, size_t cap)
{
    char name[32];
    cairn_status st = CAIRN_OK;
    uint64_t at = UINT64_MAX;
    switch (p) {
    case P_KV: {
        cairn_slice v;
        uint64_t last = 0;
        if ((st = cairn_kv_get_tx(txn, &ids->data, test_str("last"), &v)) == CAIRN_OK &&
            parse_num(v, &last))
            at = last;
        break;
    }
    case P_EVENT: {
        uint64_t len = 0;
        if ((st = cairn_event_len_tx(txn, &ids->data, &len)) == CAIRN_OK && len > 0)
            at = len - 1;
        break;
    }
    case P_CELL: {
        cairn_cell_view c;
        if ((st = cairn_cell_read_tx(txn, &ids->data, test_str("step"), &c)) == CAIRN_OK &&
            c.version > 0)
            at = c.version - 1;
        break;
    }
    case P_TRACE: {
        cairn_trace_view t;
        if ((st = cairn_trace_get_tx(txn, &ids->data, name_of(name, "t-", n - 1), &t)) ==
                CAIRN_OK &&
            t.status == CAIRN_TRACE_UNFINISHED)
            at = n - 1;
        break;
    }
    case P_RUN: {
        cairn_run_view r;
        uint64_t meta = 0;
        if ((st = cairn_run_get_tx(txn, &ids->progress, &r)) == CAIRN_OK &&
            parse_num(r.metadata, &meta))
            at = meta;
        break;
    }
    default:
        snprintf(why, cap, "step %" PRIu64 ": no part to write", n);
        return CAIRN_INVALID_ARGUMENT;
    }
    if (st != CAIRN_OK || at != n - 1) {
        snprintf(why, cap, "step %" PRIu64 ": the %s part is %s/%" PRIu64, n, part_name[p],
                 cairn_status_name(st), at);
        return st != CAIRN_OK ? st : CAIRN_CORRUPT;
    }
    return CAIRN_OK;
}

/*
 * Step n >= 1: every part in `mask` moves from n - 1 to n (see the top of
 * the file); the others are left as they are.
 */
static cairn_status write_step(cairn_txn *txn, const step_ids *ids, unsigned mask, uint64_t n,
                               char *why, size_t cap)
{
    char nb[24], pb[24], name[32];
    cairn_slice ns = num(nb, n);
    cairn_status st = check_before_step(txn, ids, first_part(mask), n, why, cap);
    if (st != CAIRN_OK)
        return st;
    if ((mask & BIT(P_KV)) &&
        (st = cairn_kv_put_tx(txn, &ids->data, test_str("last"), ns)) != CAIRN_OK)
        goto fail;
    uint64_t seq = 0;
    if ((mask & BIT(P_EVENT)) &&
        (st = cairn_event_append_expect_tx(txn, &ids->data, n, test_str("step"), ns, &seq,
                                           NULL)) != CAIRN_OK)
        goto fail;
    uint64_t ver = 0;
    if ((mask & BIT(P_CELL)) &&
        (st = cairn_cell_cas_tx(txn, &ids->data, test_str("step"), n, ns, &ver)) != CAIRN_OK)
        goto fail;
    if (mask & BIT(P_TRACE)) {
        if ((st = cairn_trace_finish_tx(txn, &ids->data, name_of(name, "t-", n - 1),
                                        CAIRN_TRACE_OK, 0)) != CAIRN_OK)
            goto fail;
        cairn_trace_spec ts;
        cairn_trace_spec_init(&ts);
        ts.type = CAIRN_TRACE_TOOL_CALL;
        ts.name = ns;
        ts.tags = step_tag;
        ts.ntags = 1;
        if ((st = cairn_trace_record_id_tx(txn, &ids->data, name_of(name, "t-", n),
                                           test_str("root"), &ts)) != CAIRN_OK)
            goto fail;
    }
    if (mask & BIT(P_RUN)) {
        if ((st = cairn_run_set_metadata_tx(txn, &ids->progress, ns)) != CAIRN_OK)
            goto fail;
        cairn_run_spec s;
        cairn_run_spec_init(&s);
        s.name = name_of(name, "step-", n);
        s.parent = &ids->progress;
        s.tags = step_tag;
        s.ntags = 1;
        s.metadata = num(pb, n);
        if ((st = cairn_run_create_tx(txn, &s, NULL)) != CAIRN_OK)
            goto fail;
    }
    return CAIRN_OK;
fail:
    snprintf(why, cap, "step %" PRIu64 ": %s (%s)", n, cairn_status_name(st),
             cairn_txn_errmsg(txn));
    return st;
}

/* Counts every page of a trace query. */
static uint64_t count_children_traces(cairn_txn *txn, const cairn_run_id *run, const char *parent)
{
    uint64_t n = 0;
    cairn_trace_cursor after = {0};
    for (;;) {
        cairn_trace_list l = {0};
        CHECK(cairn_trace_children_tx(txn, run, test_str(parent), after.set ? &after : NULL,
                                      CAIRN_TRACE_LIMIT_MAX, &l));
        n += l.n;
        bool more = l.more;
        after = l.next;
        cairn_trace_list_free(&l);
        if (!more)
            return n;
    }
}

static uint64_t count_children_runs(cairn_txn *txn, const cairn_run_id *parent)
{
    uint64_t n = 0;
    cairn_run_cursor after = {0};
    for (;;) {
        cairn_run_list l = {0};
        CHECK(
            cairn_run_children_tx(txn, parent, after.set ? &after : NULL, CAIRN_RUN_LIMIT_MAX, &l));
        n += l.n;
        bool more = l.more;
        after = l.next;
        cairn_run_list_free(&l);
        if (!more)
            return n;
    }
}

/*
 * Reads the step every part holds on its own, asserts that the parts in
 * `mask` agree, that the others are still at step 0 (the setup), that
 * everything around each part's step is exactly as it left it, and that
 * the checkers pass.  Returns the step of the parts in `mask`.
 */
static uint64_t read_step(cairn_db *db, unsigned mask)
{
    step_ids ids;
    CHECK(find_ids(db, &ids));
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    CHECK(cairn_txn_begin(db, &to, &held.ro));
    cairn_txn *txn = held.ro;
    char nb[24], name[32];

    /* KV */
    cairn_slice v;
    uint64_t n_kv = 0;
    CHECK(cairn_kv_get_tx(txn, &ids.data, test_str("last"), &v));
    cr_assert(parse_num(v, &n_kv), "[%s] KV last holds \"%.*s\"", ctx, (int)v.len,
              (const char *)v.data);

    /* EventLog */
    uint64_t len = 0;
    CHECK(cairn_event_len_tx(txn, &ids.data, &len));
    cr_assert_gt(len, 0u, "[%s] the event log is empty", ctx);
    uint64_t n_ev = len - 1;
    cairn_event_view ev;
    CHECK(cairn_event_head_tx(txn, &ids.data, &ev));
    cr_assert(ev.seq == n_ev && slice_eq_str(ev.type, "step") &&
                  slice_eq(ev.payload, num(nb, n_ev)),
              "[%s] the head event (%" PRIu64 ") carries \"%.*s\", expected %" PRIu64, ctx, ev.seq,
              (int)ev.payload.len, (const char *)ev.payload.data, n_ev);
    cairn_chain_report chain;
    CHECK(cairn_event_verify_tx(txn, &ids.data, &chain));
    cr_assert(chain.ok, "[%s] event chain: %s", ctx, chain.why);
    cr_assert_eq(chain.len, len, "[%s] verify counted %" PRIu64 " events of %" PRIu64, ctx,
                 chain.len, len);

    /* StateCell */
    cairn_cell_view c;
    CHECK(cairn_cell_read_tx(txn, &ids.data, test_str("step"), &c));
    uint64_t n_cell = c.version - 1;
    cr_assert(slice_eq(c.value, num(nb, n_cell)), "[%s] cell step at version %" PRIu64
              " holds \"%.*s\"", ctx, c.version, (int)c.value.len, (const char *)c.value.data);

    /* TraceStore: t-0..t-n under root, all but the last finished */
    uint64_t ntr = count_children_traces(txn, &ids.data, "root");
    cr_assert_gt(ntr, 0u, "[%s] root has no child trace", ctx);
    uint64_t n_tr = ntr - 1;
    cairn_trace_view t;
    CHECK(cairn_trace_get_tx(txn, &ids.data, name_of(name, "t-", n_tr), &t));
    cr_assert(t.status == CAIRN_TRACE_UNFINISHED && slice_eq(t.name, num(nb, n_tr)),
              "[%s] trace t-%" PRIu64 " is %s named \"%.*s\"", ctx, n_tr,
              cairn_trace_status_name(t.status), (int)t.name.len, (const char *)t.name.data);
    if (n_tr > 0) {
        CHECK(cairn_trace_get_tx(txn, &ids.data, name_of(name, "t-", n_tr - 1), &t));
        cr_assert_eq(t.status, CAIRN_TRACE_OK, "[%s] trace t-%" PRIu64 " is %s", ctx, n_tr - 1,
                     cairn_trace_status_name(t.status));
    }
    CHECK_STATUS(cairn_trace_get_tx(txn, &ids.data, name_of(name, "t-", n_tr + 1), &t),
                 CAIRN_NOT_FOUND);
    cairn_trace_report tr;
    CHECK(cairn_trace_check_tx(txn, &ids.data, &tr));
    cr_assert(tr.ok, "[%s] trace check: %s", ctx, tr.why);
    cr_assert_eq(tr.traces, ntr + 1, "[%s] trace check saw %" PRIu64 " traces, expected %" PRIu64,
                 ctx, tr.traces, ntr + 1);

    /* RunIndex: progress's metadata, and step-1..step-n as its children */
    cairn_run_view r;
    CHECK(cairn_run_get_tx(txn, &ids.progress, &r));
    uint64_t n_run = 0;
    cr_assert(parse_num(r.metadata, &n_run), "[%s] progress's metadata is \"%.*s\"", ctx,
              (int)r.metadata.len, (const char *)r.metadata.data);
    uint64_t nruns = count_children_runs(txn, &ids.progress);
    cr_assert_eq(nruns, n_run, "[%s] progress has metadata %" PRIu64 " but %" PRIu64
                 " child runs", ctx, n_run, nruns);
    if (n_run > 0) {
        CHECK(cairn_run_get_by_name_tx(txn, name_of(name, "step-", n_run), &r));
        cr_assert(r.has_parent && run_id_eq(&r.parent, &ids.progress) &&
                  slice_eq(r.metadata, num(nb, n_run)),
                  "[%s] run step-%" PRIu64 " does not read back as registered", ctx, n_run);
    }
    CHECK_STATUS(cairn_run_get_by_name_tx(txn, name_of(name, "step-", n_run + 1), &r),
                 CAIRN_NOT_FOUND);
    cairn_run_report rr;
    CHECK(cairn_run_check_tx(txn, &rr));
    cr_assert(rr.ok, "[%s] run check: %s", ctx, rr.why);
    cr_assert_eq(rr.runs, n_run + 2, "[%s] run check saw %" PRIu64 " runs, expected %" PRIu64, ctx,
                 rr.runs, n_run + 2);

    const uint64_t at[NPARTS] = {n_kv, n_ev, n_cell, n_tr, n_run};
    uint64_t n = at[first_part(mask)];
    bool agree = true;
    for (int p = 0; p < NPARTS; p++)
        if (mask & BIT(p))
            agree = agree && at[p] == n;
    cr_assert(agree,
              "[%s] the parts disagree: KV at step %" PRIu64 ", EventLog %" PRIu64
              ", StateCell %" PRIu64 ", TraceStore %" PRIu64 ", RunIndex %" PRIu64
              ": a transaction is partly visible",
              ctx, n_kv, n_ev, n_cell, n_tr, n_run);
    for (int p = 0; p < NPARTS; p++)
        cr_assert((mask & BIT(p)) || at[p] == 0,
                  "[%s] the %s part, written by no step, is at step %" PRIu64, ctx, part_name[p],
                  at[p]);
    CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    held.ro = NULL;
    return n;
}

/* ---- kill -9 ---------------------------------------------------------------------- */

#define KILL_MAX_ACKS 8u
#define CHILD_CHECKPOINT_EVERY 5u

static cairn_options kill_options(void)
{
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_SYNC;
    o.wal_segment_size = 256 * 1024;
    o.checkpoint_wal_bytes = 32 * 1024; /* kills land in automatic checkpoints too */
    return o;
}

/* What a step writes: the runs and the parts. */
typedef struct step_plan {
    step_ids ids;
    unsigned mask;
} step_plan;

/* write_step in the shape of crash_steps.write: `plan` is the step_plan. */
static cairn_status write_numbered_step(const void *plan, cairn_txn *txn, uint64_t n, char *why,
                                        size_t cap)
{
    const step_plan *sp = plan;
    return write_step(txn, &sp->ids, sp->mask, n, why, cap);
}

typedef struct child_args {
    const char *dir;
    uint64_t from;
    unsigned mask;
} child_args;

/* Commits steps from `from` + 1 on, acknowledging each, until killed. */
static void child_main(void *arg, int fd)
{
    static const char who[] = "cross crash child";
    const child_args *c = arg;
    cairn_options o = kill_options();
    cairn_db *db = NULL;
    char err[512] = "";
    cairn_status st = cairn_db_open(c->dir, &o, &db, err, sizeof err);
    if (st != CAIRN_OK)
        crash_child_fail(who, CRASH_CHILD_OPEN_FAILED, "cairn_db_open", st, err);
    step_plan plan = {.mask = c->mask};
    if ((st = find_ids(db, &plan.ids)) != CAIRN_OK)
        crash_child_fail(who, CRASH_CHILD_OPEN_FAILED, "finding the runs", st, "");
    crash_steps w = {NULL, write_numbered_step, &plan, 1};
    crash_child_steps(who, db, c->from, &w, "write_step", CHILD_CHECKPOINT_EVERY, 0, fd);
}

/* Forks a child continuing after step `from`, kills it after `kill_after`
 * acks, and collects every ack it sent.  Returns the last acked step. */
static uint64_t kill_round(const char *dir, unsigned mask, uint64_t from, uint64_t kill_after)
{
    child_args c = {dir, from, mask};
    return crash_kill_steps(child_main, &c, from, kill_after, 1,
                            "the setup is version 1, one version per step", ctx);
}

/* `kills` kill -9 rounds of steps writing the parts in `mask`. */
static void kill_run(unsigned mask, uint64_t kills, uint64_t seed)
{
    char cname[96];
    combo_name(mask, cname, sizeof cname);
    held.dir = strdup("/tmp/cairn-cross-XXXXXX");
    cr_assert_not_null(held.dir);
    cr_assert_not_null(mkdtemp(held.dir), "mkdtemp: %s", strerror(errno));
    char dir[64];
    snprintf(dir, sizeof dir, "%s/db", held.dir);
    cairn_options o = kill_options();
    char err[512] = "";
    set_ctx("%s, kill -9: setup", cname);
    CHECK(cairn_db_open(dir, &o, &held.db, err, sizeof err));
    CHECK(cairn_txn_begin(held.db, NULL, &held.txn));
    CHECK(write_setup(held.txn));
    CHECK(cairn_txn_commit(held.txn));
    cairn_txn_free(held.txn);
    held.txn = NULL;
    cr_assert_eq(read_step(held.db, mask), 0u);
    CHECK(cairn_db_close(held.db));
    held.db = NULL;

    uint64_t at = 0, in_flight = 0, torn = 0, from_ckpt = 0, mid_ckpt = 0;
    test_rng rng = test_rng_seeded(seed);
    for (uint64_t round = 0; round < kills; round++) {
        uint64_t want = test_rng_below(&rng, KILL_MAX_ACKS + 1);
        set_ctx("%s, kill -9 round %" PRIu64 " (after %" PRIu64 " acks, from step %" PRIu64 ")",
                cname, round, want, at);
        uint64_t acked = kill_round(dir, mask, at, want);
        mid_ckpt += crash_checkpoint_in_progress(dir, false);
        CHECK(cairn_db_open(dir, &o, &held.db, err, sizeof err));
        cairn_recovery_report rep;
        CHECK(cairn_db_recovery_report(held.db, &rep));
        cr_assert_eq(rep.checkpoints_skipped, 0u, "[%s] recovery skipped a damaged checkpoint",
                     ctx);
        uint64_t n = read_step(held.db, mask);
        cr_assert_geq(n, acked,
                      "[%s] step %" PRIu64 " was acknowledged, the database holds %" PRIu64, ctx,
                      acked, n);
        cr_assert_leq(n, acked + 1, "[%s] the database holds step %" PRIu64 " but only %" PRIu64
                      " was acknowledged and one more in flight", ctx, n, acked);
        cr_assert_eq(rep.last_version, n + 1,
                     "[%s] recovered version %" PRIu64 " for step %" PRIu64, ctx, rep.last_version,
                     n);
        in_flight += n > acked;
        torn += rep.torn;
        from_ckpt += rep.checkpoint_version != 0;
        CHECK(cairn_db_close(held.db));
        held.db = NULL;
        at = n;
    }
    cr_log_info("cross kill -9 (%s): %" PRIu64 " kills, %" PRIu64 " steps survived, %" PRIu64
                " of them unacknowledged, %" PRIu64 " torn tails cut off, %" PRIu64
                " kills within a checkpoint, %" PRIu64 " recoveries from a checkpoint", cname, kills,
                at, in_flight, torn, mid_ckpt, from_ckpt);
    release_held();
}

Test(cross, all_five_parts_survive_kill_9_together_or_not_at_all, .timeout = 900)
{
    kill_run(ALL_PARTS, crash_points(), 0xC2055u);
}

/* ---- power loss ------------------------------------------------------------------- */

#define PL_SCENARIOS 8u
#define PL_ROUNDS 4u

static cairn_db *pl_open(const char *dir, const cairn_options *o, wal_fs *fs)
{
    return crash_open_fs(dir, o, fs, &held.db, "reopening after power loss", ctx);
}

static void pl_scenario(unsigned mask, cairn_durability mode, crash_kind kind, uint32_t max_keep,
                        uint64_t seed, crash_tally *t)
{
    char cname[96];
    combo_name(mask, cname, sizeof cname);
    const char *mname = mode == CAIRN_DURABILITY_SYNC ? "sync" : "async";
    const char *kname = kind == CRASH_BETWEEN_CALLS ? "between calls" : "before the n-th sync";
    held.dir = strdup("/tmp/cairn-cross-pl-XXXXXX");
    cr_assert_not_null(held.dir);
    cr_assert_not_null(mkdtemp(held.dir), "mkdtemp: %s", strerror(errno));
    CHECK(wal_fs_new_test(&held.fs));
    wal_fs *fs = held.fs;
    test_rng rng = test_rng_seeded(seed);
    cairn_options o;
    cairn_options_init(&o);
    o.durability = mode;
    o.wal_segment_size = 64 * 1024;
    o.checkpoint_wal_bytes = 24 * 1024;
    o.sync_interval_ms = test_rng_below(&rng, 2) ? 1 : 3600u * 1000u;
    uint32_t max_steps = mode == CAIRN_DURABILITY_SYNC ? 10 : 24;

    set_ctx("%s, power loss, %s, %s, seed %" PRIx64 ": setup", cname, mname, kname, seed);
    cairn_db *db = pl_open(held.dir, &o, fs);
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.durability = CAIRN_DURABILITY_SYNC; /* the setup is durable before any crash */
    CHECK(cairn_txn_begin(db, &to, &held.txn));
    CHECK(write_setup(held.txn));
    CHECK(cairn_txn_commit(held.txn));
    cairn_txn_free(held.txn);
    held.txn = NULL;

    uint64_t lo = 0, hi = 0;
    for (uint32_t r = 0; r <= PL_ROUNDS; r++) {
        set_ctx("%s, power loss, %s, %s, seed %" PRIx64 ", round %u: recovered", cname, mname,
                kname, seed, r);
        uint64_t n = read_step(db, mask);
        cr_assert(n >= lo && n <= hi, "[%s] recovered step %" PRIu64 ", expected %" PRIu64
                  "..%" PRIu64, ctx, n, lo, hi);
        if (r > 0) { /* round 0 opened the database before the setup */
            cairn_recovery_report rep;
            CHECK(cairn_db_recovery_report(db, &rep));
            cr_assert_eq(rep.last_version, n + 1, "[%s] recovered version %" PRIu64
                         " for step %" PRIu64, ctx, rep.last_version, n);
            cr_assert_eq(rep.checkpoints_skipped, 0u, "[%s] recovery skipped a damaged checkpoint",
                         ctx);
        }
        t->lost += hi - n;
        if (r == PL_ROUNDS)
            break;

        set_ctx("%s, power loss, %s, %s, seed %" PRIx64 ", round %u: workload", cname, mname,
                kname, seed, r);
        step_plan plan = {.mask = mask};
        CHECK(find_ids(db, &plan.ids));
        crash_steps w = {NULL, write_numbered_step, &plan, 1};
        crash_reach at = crash_pl_workload(db, fs, &held.txn, &rng, kind, max_steps, max_keep, &w,
                                           n, t, ctx);
        crash_close(&held.db, true, ctx);
        wal_fs_restart(fs);
        db = pl_open(held.dir, &o, fs);
        lo = mode == CAIRN_DURABILITY_SYNC ? at.acked : at.floor;
        hi = at.possible;
    }
    crash_close(&held.db, false, ctx);
    release_held();
}

/* `scenarios` (times CAIRN_TEST_SCALE) power-loss scenarios of steps writing
 * the parts in `mask`, PL_ROUNDS crash points each; adds them to *total. */
static void pl_run_mask(unsigned mask, uint64_t scenarios, cairn_durability mode, crash_kind kind,
                        uint32_t max_keep, uint64_t salt, crash_tally *total)
{
    char cname[96];
    combo_name(mask, cname, sizeof cname);
    crash_tally t = {0};
    for (uint64_t i = 0, n = crash_scaled(scenarios); i < n; i++)
        pl_scenario(mask, mode, kind, max_keep,
                    (salt << 32) ^ (i * UINT64_C(0x9E3779B97F4A7C15) + 1), &t);
    if (total) {
        total->points += t.points;
        total->steps += t.steps;
        total->failed_commits += t.failed_commits;
        total->lost += t.lost;
    }
    cr_log_info("cross power loss (%s, %s, %s): %" PRIu64 " crash points, %" PRIu64
                " steps acknowledged, %" PRIu64 " failed commits, %" PRIu64
                " possible steps not recovered", cname,
                mode == CAIRN_DURABILITY_SYNC ? "sync" : "async",
                kind == CRASH_BETWEEN_CALLS ? "between calls" : "before the n-th sync", t.points,
                t.steps, t.failed_commits, t.lost);
}

static void pl_run(cairn_durability mode, crash_kind kind, uint32_t max_keep, uint64_t salt)
{
    pl_run_mask(ALL_PARTS, PL_SCENARIOS, mode, kind, max_keep, salt, NULL);
}

Test(cross, sync_power_loss_between_calls_keeps_every_acknowledged_step_whole, .timeout = 900)
{
    pl_run(CAIRN_DURABILITY_SYNC, CRASH_BETWEEN_CALLS, 8, 1);
}

Test(cross, sync_power_loss_before_any_sync_keeps_every_acknowledged_step_whole, .timeout = 900)
{
    pl_run(CAIRN_DURABILITY_SYNC, CRASH_BEFORE_NTH_SYNC, 8, 2);
}

Test(cross, async_power_loss_between_calls_recovers_a_prefix_of_whole_steps, .timeout = 900)
{
    pl_run(CAIRN_DURABILITY_ASYNC, CRASH_BETWEEN_CALLS, 8, 3);
}

Test(cross, async_power_loss_before_any_sync_recovers_a_prefix_of_whole_steps, .timeout = 900)
{
    pl_run(CAIRN_DURABILITY_ASYNC, CRASH_BEFORE_NTH_SYNC, 0, 4);
}

/* ---- every pair, through both kinds of crash ----------------------------------------- */

/* Kills per pair: a tenth of CAIRN_CRASH_POINTS, so the ten pairs together
 * make as many as the full set; at least one. */
static uint64_t pair_kills(void)
{
    uint64_t n = crash_points() / 10;
    return n ? n : 1;
}

/* Power-loss scenarios per pair and per mode and kind of crash, PL_ROUNDS
 * crash points each. */
#define PL_PAIR_SCENARIOS 1u

/* Power loss for one pair: sync and async, between calls and before the
 * n-th sync. */
static void pl_pair(unsigned mask)
{
    crash_tally t = {0};
    pl_run_mask(mask, PL_PAIR_SCENARIOS, CAIRN_DURABILITY_SYNC, CRASH_BETWEEN_CALLS, 8,
                (uint64_t)mask << 8 | 1, &t);
    pl_run_mask(mask, PL_PAIR_SCENARIOS, CAIRN_DURABILITY_SYNC, CRASH_BEFORE_NTH_SYNC, 8,
                (uint64_t)mask << 8 | 2, &t);
    pl_run_mask(mask, PL_PAIR_SCENARIOS, CAIRN_DURABILITY_ASYNC, CRASH_BETWEEN_CALLS, 8,
                (uint64_t)mask << 8 | 3, &t);
    pl_run_mask(mask, PL_PAIR_SCENARIOS, CAIRN_DURABILITY_ASYNC, CRASH_BEFORE_NTH_SYNC, 0,
                (uint64_t)mask << 8 | 4, &t);
    cr_assert_geq(t.points, 4u * PL_ROUNDS, "%" PRIu64 " power-loss crash points", t.points);
}

#define CRASH_PAIR(label, mask)                                                           \
    Test(cross, label##_survive_kill_9_together_or_not_at_all, .timeout = 900)            \
    {                                                                                     \
        kill_run(mask, pair_kills(), UINT64_C(0xC2055) ^ ((uint64_t)(mask) << 20));       \
    }                                                                                     \
    Test(cross, label##_survive_power_loss_together_or_not_at_all, .timeout = 900)        \
    {                                                                                     \
        pl_pair(mask);                                                                    \
    }

CRASH_PAIR(kv_event, BIT(P_KV) | BIT(P_EVENT))
CRASH_PAIR(kv_cell, BIT(P_KV) | BIT(P_CELL))
CRASH_PAIR(kv_trace, BIT(P_KV) | BIT(P_TRACE))
CRASH_PAIR(kv_run, BIT(P_KV) | BIT(P_RUN))
CRASH_PAIR(event_cell, BIT(P_EVENT) | BIT(P_CELL))
CRASH_PAIR(event_trace, BIT(P_EVENT) | BIT(P_TRACE))
CRASH_PAIR(event_run, BIT(P_EVENT) | BIT(P_RUN))
CRASH_PAIR(cell_trace, BIT(P_CELL) | BIT(P_TRACE))
CRASH_PAIR(cell_run, BIT(P_CELL) | BIT(P_RUN))
CRASH_PAIR(trace_run, BIT(P_TRACE) | BIT(P_RUN))
