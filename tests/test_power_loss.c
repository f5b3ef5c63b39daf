/*
 * Power loss, simulated by the instrumented file layer: a scripted workload
 * of random multi-key transactions (puts of small and sector-crossing
 * values, deletes) and checkpoints runs on db_open_fs(); then
 * wal_fs_crash() rolls every file back to what a machine would find after
 * losing power (tearing the last unsynced write of each file after 0 to 8
 * sectors), the database handle is closed (its I/O now fails), the layer is
 * powered back on, and the database is reopened on the same directory.
 *
 * A model keeps the state after every commit version.  After each reopen
 * the recovered database must be exactly one of those states, at the
 * version recovery reports:
 *
 *   SYNC   every acknowledged commit is there: the state after the last
 *          acknowledged commit (or after the one commit that failed, whose
 *          record may have reached the disk);
 *   ASYNC  some prefix of the commit order, no older than what was known
 *          durable (the recovered state, the last checkpoint) — never a
 *          partial transaction, never a hole.
 *
 * Crash points: after a random number of commits (possibly none, possibly
 * right after a checkpoint), and "just before the n-th sync": every sync
 * from the n-th on is made to fail (sticky), so nothing after that point
 * becomes durable, wherever it falls — inside a commit, a segment
 * roll-over, a checkpoint (before its rename or its directory fsync), the
 * removal of old files, or an automatic checkpoint on its own thread.
 * Each scenario runs several crash rounds in one directory, so crashes
 * also hit databases recovered from earlier crashes.
 *
 * CAIRN_TEST_SCALE (default 1) scales the number of scenarios; the default
 * run has 600 crash points.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/db_internal.h"
#include "wal/file.h"

#define NKEYS 24u
#define ROUNDS_PER_SCENARIO 6u
#define SCENARIOS 25u
#define MAX_OPS_PER_TXN 5u

/* What a key holds in one state of the model: the version that wrote it
 * (0: absent) and the value's length; the bytes follow from both. */
typedef struct cell {
    uint32_t ver;
    uint32_t len;
} cell;

typedef struct model {
    cell (*snaps)[NKEYS]; /* snaps[v]: the state after version v */
    size_t n;             /* newest version */
    size_t cap;
} model;

typedef enum crash_kind {
    CRASH_BETWEEN_CALLS,   /* after the round's last call returned */
    CRASH_BEFORE_NTH_SYNC, /* every sync from a chosen one on fails */
} crash_kind;

typedef struct scenario {
    cairn_durability mode;
    crash_kind kind;
    uint32_t max_keep; /* tear the last unsynced writes after 0..max_keep sectors */
    uint64_t seed;
} scenario;

/* Totals over a test, for the log. */
typedef struct tally {
    uint64_t points, commits, torn, failed_commits, failed_checkpoints, lost_unsynced;
} tally;

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/cairn-power-XXXXXX");
    cr_assert_not_null(dir);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    return dir;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tmpdir(char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

static double test_scale(void)
{
    const char *s = getenv("CAIRN_TEST_SCALE");
    double v = s ? strtod(s, NULL) : 1.0;
    return v > 0 ? v : 1.0;
}

static cairn_run_id pl_run(void)
{
    return test_run(0x50, 0x01);
}

static cairn_key pl_key(uint32_t i)
{
    char name[16];
    snprintf(name, sizeof name, "k%02u", i);
    cairn_run_id run = pl_run();
    return test_kv(&run, name);
}

static void fill_value(uint32_t ver, uint32_t key, uint8_t *out, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        out[i] = (uint8_t)(ver * 37u + key * 11u + i * 3u + (i >> 8));
}

/* ---- the model ----------------------------------------------------------- */

static void model_init(model *m)
{
    m->cap = 64;
    m->snaps = calloc(m->cap, sizeof *m->snaps);
    cr_assert_not_null(m->snaps);
    m->n = 0;
}

static void model_free(model *m)
{
    free(m->snaps);
    m->snaps = NULL;
}

/* Appends the state after version m->n + 1. */
static void model_push(model *m, const cell state[NKEYS])
{
    if (m->n + 1 >= m->cap) {
        m->cap *= 2;
        m->snaps = realloc(m->snaps, m->cap * sizeof *m->snaps);
        cr_assert_not_null(m->snaps);
    }
    m->n++;
    memcpy(m->snaps[m->n], state, sizeof m->snaps[m->n]);
}

/*
 * What a test holds, released by the suite's fini even when an assertion
 * ends the test early (so a failure reports itself, not a leak).
 */
static struct {
    char *dir;
    wal_fs *fs;
    cairn_db *db;
    cairn_txn *txn;
    model m;
} held;

static void release_held(void)
{
    cairn_txn_free(held.txn);
    if (held.db)
        cairn_db_close(held.db);
    wal_fs_free(held.fs);
    if (held.dir)
        remove_tmpdir(held.dir);
    model_free(&held.m);
    memset(&held, 0, sizeof held);
}

TestSuite(power_loss, .fini = release_held);

/* ---- opening and checking ------------------------------------------------ */

static cairn_options pl_options(const scenario *sc, test_rng *rng)
{
    cairn_options o;
    cairn_options_init(&o);
    o.durability = sc->mode;
    o.wal_segment_size = 64 * 1024;
    o.checkpoint_wal_bytes = 48 * 1024;
    /* ASYNC: a flusher that syncs often, or one that practically never does */
    o.sync_interval_ms = test_rng_below(rng, 2) ? 1 : 3600u * 1000u;
    return o;
}

static cairn_db *pl_open(const char *dir, const cairn_options *o, wal_fs *fs)
{
    cairn_db *db = NULL;
    char err[512] = "";
    cairn_status st = db_open_fs(dir, o, fs, &db, err, sizeof err);
    cr_assert_eq(st, CAIRN_OK, "reopen after power loss: %s (%s)", cairn_status_name(st), err);
    held.db = db;
    return db;
}

/*
 * Closes `db`: after power loss its I/O fails, so CAIRN_IO is fine.  Close
 * answers CAIRN_BUSY, closing nothing, when it catches the automatic
 * checkpointer starting or ending its snapshot transaction (the test
 * close_while_the_checkpointer_begins_its_snapshot_is_not_busy in
 * test_faults.c pins that down); this test holds no transaction, so it
 * simply asks again.
 */
static void pl_close(cairn_db *db, bool after_crash)
{
    cairn_status st = cairn_db_close(db); /* the test holds no transaction */
    held.db = NULL;
    if (after_crash)
        cr_assert(st == CAIRN_OK || st == CAIRN_IO, "close after power loss: %s",
                  cairn_status_name(st));
    else
        cr_assert_eq(st, CAIRN_OK, "close: %s", cairn_status_name(st));
}

/* Asserts that `db` holds exactly state `want`. */
static void expect_state(cairn_db *db, const cell want[NKEYS], uint64_t ver)
{
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, &to, &txn));
    held.txn = txn;
    uint8_t buf[8192];
    uint32_t present = 0;
    for (uint32_t i = 0; i < NKEYS; i++) {
        cairn_key key = pl_key(i);
        cairn_slice v = {NULL, 0};
        cairn_status st = cairn_txn_get(txn, &key, &v);
        if (want[i].ver == 0) {
            cr_assert_eq(st, CAIRN_NOT_FOUND, "at version %" PRIu64 " k%02u should be absent, "
                         "got %s (%zu bytes)", ver, i, cairn_status_name(st), v.len);
            continue;
        }
        present++;
        cr_assert_eq(st, CAIRN_OK, "at version %" PRIu64 " k%02u should hold the value of "
                     "version %u, got %s", ver, i, want[i].ver, cairn_status_name(st));
        fill_value(want[i].ver, i, buf, want[i].len);
        cr_assert(v.len == want[i].len && bytes_eq(v.data, buf, v.len),
                  "at version %" PRIu64 " k%02u should hold the value of version %u "
                  "(%u bytes), got %zu other bytes", ver, i, want[i].ver, want[i].len, v.len);
    }
    /* and nothing else */
    cairn_run_id run = pl_run();
    cairn_key prefix = test_prefix(&run, CAIRN_TAG_KV);
    cairn_iter *it = NULL;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    uint32_t seen = 0;
    cairn_slice k, v;
    while (cairn_iter_next(it, &k, &v) == CAIRN_OK)
        seen++;
    cairn_iter_free(it);
    cr_assert_eq(seen, present, "a scan finds %u keys, expected %u", seen, present);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    held.txn = NULL;
}

/*
 * Checks a database just reopened after power loss: its version lies in
 * [lo, hi] and its state is the model's state at that version.  Returns
 * the version and drops the model's later states (the next commits reuse
 * their versions).
 */
static uint64_t check_recovered(cairn_db *db, model *m, uint64_t lo, uint64_t hi, tally *t)
{
    cairn_recovery_report rep;
    ASSERT_OK(cairn_db_recovery_report(db, &rep));
    uint64_t k = rep.last_version;
    /* checkpoints are synced before they are renamed into place */
    cr_assert_eq(rep.checkpoints_skipped, 0u, "recovery skipped %u damaged checkpoint(s)",
                 rep.checkpoints_skipped);
    cr_assert(k >= lo && k <= hi, "recovered version %" PRIu64 ", expected %" PRIu64 "..%" PRIu64
              " (acknowledged commits lost, or versions invented)", k, lo, hi);
    cr_assert_eq(test_stats(db).visible_version, k);
    expect_state(db, m->snaps[k], k);
    if (rep.torn)
        t->torn++;
    if (k < hi)
        t->lost_unsynced += hi - k;
    m->n = (size_t)k;
    return k;
}

/* ---- one round of the workload ------------------------------------------- */

typedef struct round_state {
    uint64_t acked;       /* newest acknowledged version */
    uint64_t floor;       /* newest version known durable */
    bool failed;          /* a commit failed; the database must refuse more */
    uint64_t possible;    /* newest version that may have reached the disk */
} round_state;

/* One random transaction; updates the model on success. */
static void one_commit(cairn_db *db, model *m, test_rng *rng, round_state *rs, tally *t)
{
    cell next[NKEYS];
    memcpy(next, m->snaps[m->n], sizeof next);
    uint32_t ver = (uint32_t)m->n + 1;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    held.txn = txn;
    uint32_t nops = 1 + (uint32_t)test_rng_below(rng, MAX_OPS_PER_TXN);
    uint8_t buf[8192];
    for (uint32_t j = 0; j < nops; j++) {
        uint32_t i = (uint32_t)test_rng_below(rng, NKEYS);
        cairn_key key = pl_key(i);
        if (test_rng_below(rng, 5) == 0) {
            ASSERT_OK(cairn_txn_delete(txn, &key));
            next[i].ver = 0;
            next[i].len = 0;
            continue;
        }
        uint32_t len = test_rng_below(rng, 4) == 0 ? 500 + (uint32_t)test_rng_below(rng, 6000)
                                                   : 1 + (uint32_t)test_rng_below(rng, 200);
        fill_value(ver, i, buf, len);
        ASSERT_OK(cairn_txn_put(txn, &key, cairn_slice_of(buf, len)));
        next[i].ver = ver;
        next[i].len = len;
    }
    cairn_status st = cairn_txn_commit(txn);
    if (st == CAIRN_OK) {
        cr_assert_not(rs->failed, "a commit succeeded after an earlier one failed: the "
                      "database must refuse writes once the WAL failed");
        cr_assert_eq(cairn_txn_commit_version(txn), ver, "commit version %" PRIu64
                     ", expected %u", cairn_txn_commit_version(txn), ver);
        model_push(m, next);
        rs->acked = rs->possible = ver;
        t->commits++;
    } else {
        cr_assert_eq(st, CAIRN_IO, "a failed commit answered %s: %s", cairn_status_name(st),
                     cairn_txn_errmsg(txn));
        cr_assert_neq(cairn_txn_errmsg(txn)[0], '\0', "a failed commit has no message");
        if (!rs->failed) {
            /* its record may have been written: a possible state */
            model_push(m, next);
            rs->possible = ver;
            rs->failed = true;
            t->failed_commits++;
        }
    }
    cairn_txn_free(txn);
    held.txn = NULL;
}

static void one_checkpoint(cairn_db *db, const model *m, const scenario *sc, round_state *rs,
                           tally *t)
{
    cairn_status st = cairn_db_checkpoint(db);
    if (st == CAIRN_OK) {
        if (!rs->failed)
            rs->floor = m->n; /* the checkpoint holds everything published */
        return;
    }
    cr_assert_eq(sc->kind, CRASH_BEFORE_NTH_SYNC, "cairn_db_checkpoint: %s",
                 cairn_status_name(st));
    cr_assert_eq(st, CAIRN_IO, "a failed checkpoint answered %s", cairn_status_name(st));
    t->failed_checkpoints++;
}

/* ---- scenarios ------------------------------------------------------------ */

static void run_scenario(const scenario *sc, tally *t)
{
    char *dir = held.dir = make_tmpdir();
    wal_fs *fs = NULL;
    ASSERT_OK(wal_fs_new_test(&fs));
    held.fs = fs;
    test_rng rng = test_rng_seeded(sc->seed);
    cairn_options o = pl_options(sc, &rng);
    model *m = &held.m;
    model_init(m);
    uint32_t max_commits = sc->mode == CAIRN_DURABILITY_SYNC ? 12 : 40;

    cairn_db *db = pl_open(dir, &o, fs);
    uint64_t lo = 0, hi = 0;
    for (uint32_t r = 0; r < ROUNDS_PER_SCENARIO; r++) {
        uint64_t start = check_recovered(db, m, lo, hi, t);
        round_state rs = {start, start, false, start};
        if (sc->kind == CRASH_BEFORE_NTH_SYNC)
            wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 1 + test_rng_below(&rng, 16), EIO, true);
        uint32_t ncommits = (uint32_t)test_rng_below(&rng, max_commits + 1);
        for (uint32_t c = 0; c < ncommits; c++) {
            one_commit(db, m, &rng, &rs, t);
            if (test_rng_below(&rng, 8) == 0)
                one_checkpoint(db, m, sc, &rs, t);
        }
        if (sc->kind == CRASH_BETWEEN_CALLS && test_rng_below(&rng, 6) == 0)
            one_checkpoint(db, m, sc, &rs, t);

        uint32_t keep = (uint32_t)test_rng_below(&rng, sc->max_keep + 1);
        wal_err err = {{0}};
        cairn_status st = wal_fs_crash(fs, keep, &err);
        cr_assert_eq(st, CAIRN_OK, "wal_fs_crash: %s", err.msg);
        t->points++;
        pl_close(db, true); /* its final sync now fails */
        wal_fs_restart(fs);

        db = pl_open(dir, &o, fs);
        if (sc->mode == CAIRN_DURABILITY_SYNC) {
            lo = rs.acked;
            hi = rs.possible;
        } else {
            lo = rs.floor;
            hi = rs.possible;
        }
    }
    uint64_t last = check_recovered(db, m, lo, hi, t);
    /* a clean close keeps exactly that */
    pl_close(db, false);
    db = pl_open(dir, &o, fs);
    check_recovered(db, m, last, last, t);
    pl_close(db, false);
    release_held();
}

static void run_scenarios(cairn_durability mode, crash_kind kind, uint32_t max_keep,
                          uint64_t salt, tally *t)
{
    uint32_t n = (uint32_t)(SCENARIOS * test_scale() + 0.5);
    if (n == 0)
        n = 1;
    for (uint32_t i = 0; i < n; i++) {
        scenario sc = {mode, kind, max_keep, (salt << 32) ^ (i * UINT64_C(0x9E3779B97F4A7C15) + 1)};
        run_scenario(&sc, t);
    }
}

static void log_tally(const char *what, const tally *t)
{
    cr_log_info("%s: %" PRIu64 " crash points, %" PRIu64 " commits acknowledged, %" PRIu64
                " failed commits, %" PRIu64 " failed checkpoints, %" PRIu64
                " torn log tails cut off, %" PRIu64 " possible versions not recovered (unsynced)",
                what, t->points, t->commits, t->failed_commits, t->failed_checkpoints, t->torn,
                t->lost_unsynced);
}

Test(power_loss, sync_commits_acknowledged_before_power_loss_survive_it, .timeout = 900)
{
    tally t = {0};
    run_scenarios(CAIRN_DURABILITY_SYNC, CRASH_BETWEEN_CALLS, 8, 1, &t);
    log_tally("sync, between calls", &t);
}

Test(power_loss, sync_commits_survive_power_loss_just_before_any_sync, .timeout = 900)
{
    tally t = {0};
    run_scenarios(CAIRN_DURABILITY_SYNC, CRASH_BEFORE_NTH_SYNC, 8, 2, &t);
    log_tally("sync, before the n-th sync", &t);
    cr_expect_gt(t.failed_commits, 0u, "no crash point fell inside a commit");
    cr_expect_gt(t.failed_checkpoints, 0u, "no crash point fell inside a checkpoint");
}

/* Unsynced writes are lost whole: no torn tail, only lost commits. */
Test(power_loss, async_power_loss_that_drops_unsynced_writes_recovers_a_prefix, .timeout = 900)
{
    tally t = {0};
    run_scenarios(CAIRN_DURABILITY_ASYNC, CRASH_BETWEEN_CALLS, 0, 3, &t);
    log_tally("async, between calls, whole writes lost", &t);
    cr_expect_gt(t.lost_unsynced, 0u, "no crash lost an unsynced commit");
}

Test(power_loss, async_power_loss_before_any_sync_that_drops_unsynced_writes_recovers_a_prefix,
     .timeout = 900)
{
    tally t = {0};
    run_scenarios(CAIRN_DURABILITY_ASYNC, CRASH_BEFORE_NTH_SYNC, 0, 4, &t);
    log_tally("async, before the n-th sync, whole writes lost", &t);
}

/* The last unsynced write of each file survives in part (a torn write),
 * the ones before it are lost. */
Test(power_loss, async_power_loss_that_tears_the_last_write_recovers_a_prefix, .timeout = 900)
{
    tally t = {0};
    run_scenarios(CAIRN_DURABILITY_ASYNC, CRASH_BETWEEN_CALLS, 8, 5, &t);
    log_tally("async, between calls, last write torn", &t);
    cr_expect_gt(t.torn, 0u, "no crash tore a record: the scenarios miss the torn-tail case");
}

Test(power_loss, async_power_loss_before_any_sync_that_tears_the_last_write_recovers_a_prefix,
     .timeout = 900)
{
    tally t = {0};
    run_scenarios(CAIRN_DURABILITY_ASYNC, CRASH_BEFORE_NTH_SYNC, 8, 6, &t);
    log_tally("async, before the n-th sync, last write torn", &t);
}

/*
 * The smallest case of the two tests above.  Two ASYNC commits, written to
 * the OS by two writes and never synced: commit 1 fills the rest of the
 * segment's first page, commit 2 starts the second page.  Without a sync
 * nothing orders the two on the way to the platter (the page cache writes
 * pages back in any order, a drive's volatile cache reorders them again),
 * so power loss can keep page 2 and lose page 1: zeros where commit 1 was,
 * then all of commit 2.  Neither commit was synced and commit 2 cannot be
 * applied without commit 1, so the database must open at version 0 and
 * report the tail it cut off.
 */
Test(power_loss, async_power_loss_that_keeps_a_later_write_but_not_an_earlier_one_still_opens)
{
    char *dir = held.dir = make_tmpdir();
    wal_fs *fs = NULL;
    ASSERT_OK(wal_fs_new_test(&fs));
    held.fs = fs;
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_ASYNC;
    o.sync_interval_ms = 3600u * 1000u; /* the flusher never gets to sync */
    o.checkpoint_wal_bytes = 0;
    cairn_db *db = pl_open(dir, &o, fs);

    /* commit 1's record ends exactly at the first page boundary */
    cairn_key k1 = pl_key(1), k2 = pl_key(2);
    static uint8_t v1[4096], v2[2048];
    uint32_t len1 = 0;
    for (uint32_t len = 1; len < sizeof v1; len++) {
        wal_op op = {WAL_OP_PUT, k1.bytes, k1.len, v1, len, 0};
        if (WAL_SEGMENT_HEADER_SIZE + wal_record_size(&op, 1) == 4096) {
            len1 = len;
            break;
        }
    }
    cr_assert_gt(len1, 0u, "no value length puts the record end on the page boundary");
    fill_value(1, 1, v1, len1);
    fill_value(2, 2, v2, sizeof v2);
    uint64_t syncs = test_stats(db).syncs;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    held.txn = txn;
    ASSERT_OK(cairn_txn_put(txn, &k1, cairn_slice_of(v1, len1)));
    ASSERT_OK(cairn_txn_commit(txn));
    ASSERT_OK(cairn_txn_restart(txn));
    ASSERT_OK(cairn_txn_put(txn, &k2, cairn_slice_of(v2, sizeof v2)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    held.txn = NULL;
    cr_assert_eq(test_stats(db).syncs, syncs, "a commit was synced; the scenario needs neither");

    /* the second write survives whole (8 sectors cover it), the first not */
    wal_err err = {{0}};
    ASSERT_OK(wal_fs_crash(fs, 8, &err));
    pl_close(db, true);
    wal_fs_restart(fs);

    char msg[512] = "";
    db = NULL;
    cairn_status st = db_open_fs(dir, &o, fs, &db, msg, sizeof msg);
    cr_assert_eq(st, CAIRN_OK, "an ASYNC database that lost power does not open: %s (%s)",
                 cairn_status_name(st), msg);
    held.db = db;
    cairn_recovery_report rep;
    ASSERT_OK(cairn_db_recovery_report(db, &rep));
    cr_expect_eq(rep.last_version, 0u, "recovered version %" PRIu64, rep.last_version);
    cr_expect(rep.torn, "the cut-off tail is not reported");
    cr_expect_eq(test_get(db, &k1, NULL, 0), CAIRN_NOT_FOUND);
    cr_expect_eq(test_get(db, &k2, NULL, 0), CAIRN_NOT_FOUND);
    pl_close(db, false);
    release_held();
}
