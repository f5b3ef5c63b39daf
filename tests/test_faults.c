/*
 * Injected I/O errors: a scripted workload (open, SYNC commits large enough
 * to roll WAL segments, three checkpoints that remove covered segments and
 * old checkpoints, more commits, close) runs once on the instrumented file
 * layer to count its operations of each kind; then, for every kind and
 * every n, it runs again on a fresh directory with the n-th operation of
 * that kind failing (EIO or ENOSPC).  Every call must either succeed or
 * answer CAIRN_IO with a message naming the error; once a commit failed
 * the database must refuse every later commit; and a plain reopen must
 * find exactly the acknowledged commits, plus at most the one that failed
 * (whole: its record may have been written before its sync failed).
 *
 * A failed checkpoint is not fatal: it answers CAIRN_IO, later commits go
 * on, a later checkpoint succeeds, and even a power loss right after it
 * loses nothing acknowledged.
 *
 * Last, a fault in timing rather than in I/O: closing the database while
 * the automatic checkpointer is taking its snapshot.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/db_internal.h"
#include "wal/file.h"

/* Commits before each checkpoint (the last group ends with the close). */
static const uint32_t phase_commits[] = {10, 6, 4, 2};
#define PHASES (sizeof phase_commits / sizeof phase_commits[0])
#define MAX_COMMITS 22u
/* About 7 records per 64 KiB segment. */
#define BIG_LEN 8000u

static const char *const op_names[WAL_FS_OP_COUNT] = {
    "open", "write", "sync", "rename", "allocate", "truncate", "unlink",
};

static char *make_tmpdir(void)
{
    char *dir = strdup("/tmp/cairn-faults-XXXXXX");
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

static cairn_options fault_options(void)
{
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_SYNC;
    o.wal_segment_size = 64 * 1024;
    o.checkpoint_wal_bytes = 0;         /* checkpoints only where the script says */
    o.sync_interval_ms = 3600u * 1000u; /* no flusher syncs: counts are repeatable */
    return o;
}

static cairn_key commit_key(uint32_t i, char part)
{
    char name[32];
    snprintf(name, sizeof name, "c%u/%c", i, part);
    cairn_run_id run = test_run(0x66, 0x01);
    return test_kv(&run, name);
}

static cairn_key last_key(void)
{
    cairn_run_id run = test_run(0x66, 0x01);
    return test_kv(&run, "last");
}

static void big_value(uint32_t i, uint8_t out[BIG_LEN])
{
    for (uint32_t j = 0; j < BIG_LEN; j++)
        out[j] = (uint8_t)(i * 29u + j * 7u + (j >> 9));
}

/* Commit i: c<i>/x (BIG_LEN bytes), c<i>/y ("y<i>") and last = i. */
static cairn_status commit_one(cairn_db *db, uint32_t i, char *msg, size_t cap)
{
    static uint8_t big[BIG_LEN];
    char small[16];
    uint8_t ival[8];
    cairn_txn *txn = NULL;
    cairn_status st = cairn_txn_begin(db, NULL, &txn);
    cr_assert_eq(st, CAIRN_OK, "begin: %s", cairn_status_name(st));
    cairn_key kx = commit_key(i, 'x'), ky = commit_key(i, 'y'), kl = last_key();
    big_value(i, big);
    snprintf(small, sizeof small, "y%u", i);
    u64_to_be(i, ival);
    ASSERT_OK(cairn_txn_put(txn, &kx, cairn_slice_of(big, BIG_LEN)));
    ASSERT_OK(cairn_txn_put(txn, &ky, test_str(small)));
    ASSERT_OK(cairn_txn_put(txn, &kl, cairn_slice_of(ival, sizeof ival)));
    st = cairn_txn_commit(txn);
    snprintf(msg, cap, "%s", cairn_txn_errmsg(txn));
    if (st == CAIRN_OK)
        cr_assert_eq(cairn_txn_commit_version(txn), i, "commit %u got version %" PRIu64, i,
                     cairn_txn_commit_version(txn));
    cairn_txn_free(txn);
    return st;
}

/* ---- the scripted workload ---------------------------------------------- */

typedef struct outcome {
    bool opened;
    uint32_t acked;          /* commits 1..acked answered CAIRN_OK */
    bool commit_failed;      /* commit acked + 1 failed (and every later one) */
    uint32_t failed_ckpts;
    uint32_t failed_calls;   /* calls that answered CAIRN_IO, close included */
} outcome;

/* Checks a failed call's status and message.  The first failure of a run
 * must name the injected error; later ones only need to say something. */
static void expect_failure(const char *what, cairn_status st, const char *msg, int err_no,
                           outcome *out)
{
    cr_assert_eq(st, CAIRN_IO, "%s answered %s (%s); expected CAIRN_IO", what,
                 cairn_status_name(st), msg);
    cr_assert_neq(msg[0], '\0', "%s failed without a message", what);
    if (out->failed_calls == 0)
        cr_assert_not_null(strstr(msg, strerror(err_no)),
                           "the first failure (%s) does not name the error \"%s\": %s", what,
                           strerror(err_no), msg);
    out->failed_calls++;
}

/*
 * Runs the workload on `fs` in `dir`.  `err_no` is the errno a fault, if
 * one is armed, fails with (for the message check).
 */
static void run_workload(wal_fs *fs, const char *dir, int err_no, outcome *out)
{
    memset(out, 0, sizeof *out);
    cairn_options o = fault_options();
    cairn_db *db = NULL;
    char msg[1024] = "";
    cairn_status st = db_open_fs(dir, &o, fs, &db, msg, sizeof msg);
    if (st != CAIRN_OK) {
        cr_assert_null(db);
        expect_failure("open", st, msg, err_no, out);
        return;
    }
    out->opened = true;
    uint32_t i = 0;
    for (size_t p = 0; p < PHASES; p++) {
        for (uint32_t c = 0; c < phase_commits[p]; c++) {
            i++;
            st = commit_one(db, i, msg, sizeof msg);
            if (st == CAIRN_OK) {
                cr_assert_not(out->commit_failed, "commit %u succeeded after commit %u failed: "
                              "a database whose WAL failed must refuse writes", i,
                              out->acked + 1);
                out->acked = i;
            } else {
                expect_failure("commit", st, msg, err_no, out);
                out->commit_failed = true;
            }
        }
        if (p + 1 == PHASES)
            break;
        st = cairn_db_checkpoint(db);
        if (st != CAIRN_OK) {
            cairn_db_errmsg(db, msg, sizeof msg);
            expect_failure("checkpoint", st, msg, err_no, out);
            if (!out->commit_failed) /* not just refused after a failed commit */
                out->failed_ckpts++;
        }
    }
    if (!out->commit_failed && out->failed_ckpts > 0)
        cr_assert_lt(out->failed_ckpts, PHASES - 1,
                     "after one failed checkpoint every later checkpoint failed too");
    st = cairn_db_close(db);
    if (st != CAIRN_OK) {
        cr_assert_eq(st, CAIRN_IO, "close answered %s", cairn_status_name(st));
        out->failed_calls++;
    }
    if (out->commit_failed)
        cr_assert_eq(st, CAIRN_IO, "close of a database whose WAL failed answered CAIRN_OK");
}

/* Asserts commit i's keys hold its values (or are absent). */
static void expect_commit(cairn_txn *txn, uint32_t i, bool present)
{
    static uint8_t big[BIG_LEN];
    cairn_key kx = commit_key(i, 'x'), ky = commit_key(i, 'y');
    cairn_slice v = {NULL, 0};
    cairn_status sx = cairn_txn_get(txn, &kx, &v);
    if (!present) {
        cr_assert_eq(sx, CAIRN_NOT_FOUND, "c%u/x of an unacknowledged commit is present", i);
        cr_assert_eq(cairn_txn_get(txn, &ky, &v), CAIRN_NOT_FOUND,
                     "c%u/y of an unacknowledged commit is present", i);
        return;
    }
    cr_assert_eq(sx, CAIRN_OK, "c%u/x of commit %u is missing (%s)", i, i,
                 cairn_status_name(sx));
    big_value(i, big);
    cr_assert(v.len == BIG_LEN && bytes_eq(v.data, big, BIG_LEN), "c%u/x holds other bytes", i);
    ASSERT_OK(cairn_txn_get(txn, &ky, &v));
    char small[16];
    snprintf(small, sizeof small, "y%u", i);
    ASSERT_SLICE_STR(v, small);
}

/*
 * Reopens `dir` with the plain POSIX layer and checks the outcome: every
 * acknowledged commit, at most the failed one on top, nothing half there.
 * Then commits once more (the database is usable again).  Returns the
 * recovered version.
 */
static uint32_t verify_reopen(const char *dir, const outcome *out)
{
    cairn_options o = fault_options();
    cairn_db *db = NULL;
    char msg[1024] = "";
    cairn_status st = cairn_db_open(dir, &o, &db, msg, sizeof msg);
    cr_assert_eq(st, CAIRN_OK, "reopen after the failure: %s (%s)", cairn_status_name(st), msg);

    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, &to, &txn));
    cairn_key kl = last_key();
    cairn_slice v = {NULL, 0};
    uint64_t last = 0;
    st = cairn_txn_get(txn, &kl, &v);
    if (st == CAIRN_OK)
        cr_assert(u64_from_slice(v, &last));
    else
        cr_assert_eq(st, CAIRN_NOT_FOUND, "reading last: %s", cairn_status_name(st));
    uint64_t hi = out->acked + (out->commit_failed ? 1 : 0);
    cr_assert(last >= out->acked && last <= hi,
              "recovered up to commit %" PRIu64 "; %u were acknowledged%s", last, out->acked,
              out->commit_failed ? " and one more failed" : "");
    for (uint32_t i = 1; i <= MAX_COMMITS; i++)
        expect_commit(txn, i, i <= last);
    cairn_recovery_report rep;
    ASSERT_OK(cairn_db_recovery_report(db, &rep));
    cr_assert_eq(rep.last_version, last, "recovery opened at version %" PRIu64
                 " for %" PRIu64 " commits", rep.last_version, last);
    cr_assert_eq(test_stats(db).keys, 2 * last + (last ? 1 : 0));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    ASSERT_OK(commit_one(db, (uint32_t)last + 1, msg, sizeof msg));
    ASSERT_OK(cairn_db_close(db));
    return (uint32_t)last;
}

/* Op counts of one fault-free run. */
static void count_ops(uint64_t counts[WAL_FS_OP_COUNT])
{
    char *dir = make_tmpdir();
    wal_fs *fs = NULL;
    ASSERT_OK(wal_fs_new_test(&fs));
    outcome out;
    run_workload(fs, dir, 0, &out);
    cr_assert(out.opened && out.acked == MAX_COMMITS && out.failed_calls == 0,
              "the workload fails without any fault injected");
    for (int k = 0; k < WAL_FS_OP_COUNT; k++)
        counts[k] = wal_fs_op_count(fs, (wal_fs_op)k);
    wal_fs_free(fs);
    verify_reopen(dir, &out);
    remove_tmpdir(dir);
}

/* Fails the n-th operation of `kind`, for every n the workload reaches. */
static void fail_each(wal_fs_op kind)
{
    uint64_t counts[WAL_FS_OP_COUNT], again[WAL_FS_OP_COUNT];
    count_ops(counts);
    count_ops(again);
    cr_assert_eq(counts[kind], again[kind], "the workload's %s count is not repeatable "
                 "(%" PRIu64 " then %" PRIu64 ")", op_names[kind], counts[kind], again[kind]);
    cr_assert_gt(counts[kind], 0u, "the workload makes no %s call", op_names[kind]);
    uint64_t silent = 0, poisoned = 0, ckpt_failed = 0;
    for (uint64_t n = 1; n <= counts[kind]; n++) {
        int err_no = n % 2 ? EIO : ENOSPC;
        char *dir = make_tmpdir();
        wal_fs *fs = NULL;
        ASSERT_OK(wal_fs_new_test(&fs));
        wal_fs_fail_nth(fs, kind, n, err_no, false);
        outcome out;
        run_workload(fs, dir, err_no, &out);
        wal_fs_free(fs);
        verify_reopen(dir, &out);
        remove_tmpdir(dir);
        silent += out.failed_calls == 0;
        poisoned += out.commit_failed;
        ckpt_failed += out.failed_ckpts > 0;
        if (kind == WAL_FS_OP_SYNC || kind == WAL_FS_OP_WRITE)
            cr_assert_gt(out.failed_calls, 0u, "the %" PRIu64 "-th %s failed (%s) and no call "
                         "reported it", n, op_names[kind], strerror(err_no));
    }
    cr_log_info("%s: %" PRIu64 " fault points; %" PRIu64 " failed a commit, %" PRIu64
                " a checkpoint, %" PRIu64 " were absorbed without a failed call",
                op_names[kind], counts[kind], poisoned, ckpt_failed, silent);
}

Test(faults, a_failed_open_at_any_point_is_reported_and_loses_no_acknowledged_commit,
     .timeout = 600)
{
    fail_each(WAL_FS_OP_OPEN);
}

Test(faults, a_failed_write_at_any_point_is_reported_and_loses_no_acknowledged_commit,
     .timeout = 600)
{
    fail_each(WAL_FS_OP_WRITE);
}

Test(faults, a_failed_sync_at_any_point_is_reported_and_loses_no_acknowledged_commit,
     .timeout = 600)
{
    fail_each(WAL_FS_OP_SYNC);
}

Test(faults, a_failed_rename_at_any_point_is_reported_and_loses_no_acknowledged_commit,
     .timeout = 600)
{
    fail_each(WAL_FS_OP_RENAME);
}

Test(faults, a_failed_allocate_at_any_point_is_reported_and_loses_no_acknowledged_commit,
     .timeout = 600)
{
    fail_each(WAL_FS_OP_ALLOCATE);
}

Test(faults, a_failed_truncate_at_any_point_is_reported_and_loses_no_acknowledged_commit,
     .timeout = 600)
{
    fail_each(WAL_FS_OP_TRUNCATE);
}

Test(faults, a_failed_unlink_at_any_point_is_reported_and_loses_no_acknowledged_commit,
     .timeout = 600)
{
    fail_each(WAL_FS_OP_UNLINK);
}

/* ---- checkpoints ---------------------------------------------------------- */

/* Ops of `kind` one checkpoint makes, after the workload's first phase. */
static uint64_t ckpt_op_count(wal_fs_op kind)
{
    char *dir = make_tmpdir();
    wal_fs *fs = NULL;
    ASSERT_OK(wal_fs_new_test(&fs));
    cairn_options o = fault_options();
    cairn_db *db = NULL;
    char msg[1024] = "";
    ASSERT_OK(db_open_fs(dir, &o, fs, &db, msg, sizeof msg));
    for (uint32_t i = 1; i <= phase_commits[0]; i++)
        ASSERT_OK(commit_one(db, i, msg, sizeof msg));
    ASSERT_OK(cairn_db_checkpoint(db));
    for (uint32_t i = phase_commits[0] + 1; i <= phase_commits[0] + phase_commits[1]; i++)
        ASSERT_OK(commit_one(db, i, msg, sizeof msg));
    uint64_t before = wal_fs_op_count(fs, kind);
    ASSERT_OK(cairn_db_checkpoint(db));
    uint64_t n = wal_fs_op_count(fs, kind) - before;
    ASSERT_OK(cairn_db_close(db));
    wal_fs_free(fs);
    remove_tmpdir(dir);
    return n;
}

/*
 * The second checkpoint of the script (the one that also removes a covered
 * segment) with its n-th operation of `kind` failing: CAIRN_IO and a
 * message; commits go on; the next checkpoint works; and a power loss
 * right after still keeps every acknowledged commit.
 */
static void failed_checkpoint_loses_nothing(wal_fs_op kind)
{
    uint64_t count = ckpt_op_count(kind);
    cr_assert_gt(count, 0u, "a checkpoint makes no %s call", op_names[kind]);
    uint32_t first = phase_commits[0], second = first + phase_commits[1];
    for (uint64_t n = 1; n <= count; n++) {
        int err_no = n % 2 ? EIO : ENOSPC;
        char *dir = make_tmpdir();
        wal_fs *fs = NULL;
        ASSERT_OK(wal_fs_new_test(&fs));
        cairn_options o = fault_options();
        cairn_db *db = NULL;
        char msg[1024] = "";
        ASSERT_OK(db_open_fs(dir, &o, fs, &db, msg, sizeof msg));
        for (uint32_t i = 1; i <= first; i++)
            ASSERT_OK(commit_one(db, i, msg, sizeof msg));
        ASSERT_OK(cairn_db_checkpoint(db));
        for (uint32_t i = first + 1; i <= second; i++)
            ASSERT_OK(commit_one(db, i, msg, sizeof msg));

        wal_fs_fail_nth(fs, kind, n, err_no, false);
        cairn_status st = cairn_db_checkpoint(db);
        cairn_db_errmsg(db, msg, sizeof msg);
        cr_assert_eq(st, CAIRN_IO, "a checkpoint whose %" PRIu64 "-th %s failed answered %s",
                     n, op_names[kind], cairn_status_name(st));
        cr_assert_not_null(strstr(msg, strerror(err_no)),
                           "the checkpoint's message does not name the error \"%s\": %s",
                           strerror(err_no), msg);

        /* not fatal: commits and the next checkpoint work */
        ASSERT_OK(commit_one(db, second + 1, msg, sizeof msg));
        st = cairn_db_checkpoint(db);
        cairn_db_errmsg(db, msg, sizeof msg);
        cr_assert_eq(st, CAIRN_OK, "the checkpoint after a failed one answered %s: %s",
                     cairn_status_name(st), msg);
        ASSERT_OK(commit_one(db, second + 2, msg, sizeof msg));

        /* and power loss now keeps all of it */
        wal_err err = {{0}};
        ASSERT_OK(wal_fs_crash(fs, (uint32_t)(n % 9), &err));
        st = cairn_db_close(db);
        cr_assert(st == CAIRN_OK || st == CAIRN_IO);
        wal_fs_restart(fs);
        wal_fs_free(fs);
        outcome out = {true, second + 2, false, 1, 1};
        verify_reopen(dir, &out);
        remove_tmpdir(dir);
    }
}

Test(faults, a_checkpoint_whose_sync_fails_answers_io_and_loses_nothing, .timeout = 600)
{
    failed_checkpoint_loses_nothing(WAL_FS_OP_SYNC);
}

Test(faults, a_checkpoint_whose_rename_fails_answers_io_and_loses_nothing, .timeout = 600)
{
    failed_checkpoint_loses_nothing(WAL_FS_OP_RENAME);
}

Test(faults, a_checkpoint_whose_write_fails_answers_io_and_loses_nothing, .timeout = 600)
{
    failed_checkpoint_loses_nothing(WAL_FS_OP_WRITE);
}

/* ---- poisoning ------------------------------------------------------------ */

Test(faults, a_failed_commit_sync_poisons_the_database_until_it_is_reopened)
{
    char *dir = make_tmpdir();
    wal_fs *fs = NULL;
    ASSERT_OK(wal_fs_new_test(&fs));
    cairn_options o = fault_options();
    cairn_db *db = NULL;
    char msg[1024] = "";
    ASSERT_OK(db_open_fs(dir, &o, fs, &db, msg, sizeof msg));
    ASSERT_OK(commit_one(db, 1, msg, sizeof msg));

    wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 1, EIO, false);
    ASSERT_STATUS(commit_one(db, 2, msg, sizeof msg), CAIRN_IO);
    cr_assert_not_null(strstr(msg, strerror(EIO)), "the message does not name the error: %s",
                       msg);
    /* the fault is spent, but the database stays refusing: a failed fsync
     * leaves the page cache in an unknown state */
    ASSERT_STATUS(commit_one(db, 2, msg, sizeof msg), CAIRN_IO);
    cr_assert_neq(msg[0], '\0');
    ASSERT_STATUS(cairn_db_checkpoint(db), CAIRN_IO);
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert_neq(msg[0], '\0', "a refused checkpoint has no message");
    /* reads still work, and see only what was acknowledged */
    cairn_key kl = last_key();
    char buf[16];
    ASSERT_OK(test_get(db, &kl, buf, sizeof buf));
    cr_assert_eq(test_stats(db).visible_version, 1u);
    ASSERT_STATUS(cairn_db_close(db), CAIRN_IO);
    wal_fs_free(fs);

    outcome out = {true, 1, true, 0, 1};
    uint32_t last = verify_reopen(dir, &out);
    cr_assert(last == 1 || last == 2);
    remove_tmpdir(dir);
}

/* ---- close racing the automatic checkpointer ------------------------------ */

/*
 * A clock that parks the first other thread that reads it once armed: the
 * checkpointer, which reads the clock when it begins its snapshot
 * transaction.  It stays parked until the test opens the gate.
 */
typedef struct gate {
    pthread_t main;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool armed, parked, open;
    bool closed;            /* the closer thread finished */
    cairn_status close_st;
    cairn_db *db;
} gate;

static int64_t gate_clock(void *ctx)
{
    gate *g = ctx;
    if (!pthread_equal(pthread_self(), g->main)) {
        pthread_mutex_lock(&g->mu);
        if (g->armed) {
            g->armed = false;
            g->parked = true;
            pthread_cond_broadcast(&g->cv);
            while (!g->open)
                pthread_cond_wait(&g->cv, &g->mu);
        }
        pthread_mutex_unlock(&g->mu);
    }
    return FAKE_CLOCK_START_US;
}

static void *closer(void *arg)
{
    gate *g = arg;
    cairn_status st = cairn_db_close(g->db);
    pthread_mutex_lock(&g->mu);
    g->close_st = st;
    g->closed = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Waits (under g->mu) until *flag is set or `ms` pass; returns *flag. */
static bool gate_wait(gate *g, const bool *flag, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!*flag)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) == ETIMEDOUT)
            break;
    return *flag;
}

/*
 * The checkpointer's snapshot transaction is the engine's own, so close
 * must not count it as the caller's: it may wait for the checkpoint or
 * stop it, but never answer CAIRN_BUSY.  The clock holds the checkpointer
 * just after its transaction was counted as active; the close runs on a
 * thread of its own, so a close that rightly waits for the checkpointer
 * is let through (the gate opens after a second) instead of deadlocking.
 */
Test(faults, close_while_the_checkpointer_begins_its_snapshot_is_not_busy, .timeout = 60)
{
    char *dir = make_tmpdir();
    gate g;
    memset(&g, 0, sizeof g);
    g.main = pthread_self();
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    cairn_options o = fault_options();
    o.checkpoint_wal_bytes = 1; /* the first commit wakes the checkpointer */
    o.clock = gate_clock;
    o.clock_ctx = &g;
    char msg[1024] = "";
    ASSERT_OK(cairn_db_open(dir, &o, &g.db, msg, sizeof msg));

    pthread_mutex_lock(&g.mu);
    g.armed = true;
    pthread_mutex_unlock(&g.mu);
    ASSERT_OK(commit_one(g.db, 1, msg, sizeof msg));
    pthread_mutex_lock(&g.mu);
    bool parked = gate_wait(&g, &g.parked, 30000);
    pthread_mutex_unlock(&g.mu);
    cr_assert(parked, "the automatic checkpointer did not start after the first commit");

    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, closer, &g), 0);
    pthread_mutex_lock(&g.mu);
    bool closed = gate_wait(&g, &g.closed, 1000);
    g.open = true; /* let the checkpointer go either way */
    pthread_cond_broadcast(&g.cv);
    if (!closed)
        gate_wait(&g, &g.closed, 30000);
    cairn_status st = g.close_st;
    closed = g.closed;
    pthread_mutex_unlock(&g.mu);
    pthread_join(th, NULL);
    cr_assert(closed);
    if (st == CAIRN_BUSY) {
        /* cleanup only: the checkpoint is finishing, and until its
         * transaction is fully gone close keeps answering BUSY */
        cairn_status again;
        while ((again = cairn_db_close(g.db)) == CAIRN_BUSY)
            sched_yield();
        ASSERT_OK(again);
    }
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
    remove_tmpdir(dir);
    cr_assert_eq(st, CAIRN_OK, "close answered %s while only the engine's own checkpoint "
                 "transaction was active", cairn_status_name(st));
}
