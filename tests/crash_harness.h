/*
 * tests/crash_harness.h - the crash machinery shared by the kill -9 and
 * power-loss tests (test_cross.c, test_recovery_matrix.c).
 *
 *   kill -9      crash_kill_round() forks a child that runs a workload and
 *                writes one fixed-size acknowledgement per committed step
 *                to a pipe; the parent reads them (each within
 *                CRASH_ACK_TIMEOUT_MS), kills the child with SIGKILL after
 *                a given number and hands every ack, those still in the pipe
 *                too, to the test's callback.  crash_child_steps() and
 *                crash_kill_steps() are that pair for a workload of numbered
 *                steps acknowledged as crash_acks.
 *   power loss   crash_pl_workload() runs a random number of steps on the
 *                instrumented file layer, optionally failing the n-th sync,
 *                checkpoints now and then and crashes the file layer;
 *                crash_open_fs() and crash_close() reopen and close around
 *                the crash.
 *
 * The helpers report failures with Criterion assertions, so criterion.h
 * must be included before this header.  Every message is prefixed with
 * `label`, the test's description of what it is doing.
 */
#ifndef CAIRN_TESTS_CRASH_HARNESS_H
#define CAIRN_TESTS_CRASH_HARNESS_H

#ifndef CRITERION_H_
#error "include <criterion/criterion.h> before crash_harness.h"
#endif

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/db_internal.h"
#include "wal/file.h"

/* ---- kill -9 ------------------------------------------------------------------- */

#define CRASH_ACK_TIMEOUT_MS 60000

/* How a crash child ends by itself; a killed child never does. */
enum { CRASH_CHILD_OPEN_FAILED = 10, CRASH_CHILD_STEP_FAILED, CRASH_CHILD_COMMIT_FAILED,
       CRASH_CHILD_ACK_FAILED, CRASH_CHILD_CHECKPOINT_FAILED };

/* CAIRN_CRASH_POINTS (default 200, 1..10000): how many kills a test makes. */
static inline uint64_t crash_points(void)
{
    const char *s = getenv("CAIRN_CRASH_POINTS");
    uint64_t v = s && *s ? strtoull(s, NULL, 10) : 200;
    return v < 1 ? 1 : v > 10000 ? 10000 : v;
}

/* Ends a crash child with `code` after saying why, as `who`. */
static inline void crash_child_fail(const char *who, int code, const char *what, cairn_status st,
                                    const char *msg)
{
    fprintf(stderr, "%s: %s: %s (%s)\n", who, what, cairn_status_name(st), msg);
    _exit(code);
}

/* Reads one `size`-byte ack into `rec`, waiting at most CRASH_ACK_TIMEOUT_MS.
 * 1: got one; 0: EOF. */
static inline int crash_read_ack(int fd, void *rec, size_t size, const char *label)
{
    size_t got = 0;
    while (got < size) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, CRASH_ACK_TIMEOUT_MS);
        cr_assert_neq(pr, 0, "[%s] the child made no progress for %d ms", label,
                      CRASH_ACK_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        cr_assert_gt(pr, 0, "poll: %s", strerror(errno));
        ssize_t r = read(fd, (char *)rec + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert_geq(r, 0, "read(ack): %s", strerror(errno));
        if (r == 0) {
            cr_assert_eq(got, 0u, "[%s] a torn ack (%zu bytes)", label, got);
            return 0;
        }
        got += (size_t)r;
    }
    return 1;
}

/* What a crash child acknowledges once a step has committed. */
typedef struct crash_ack {
    uint64_t n;
    uint64_t version;
} crash_ack;

/* A workload of numbered steps, one transaction each. */
typedef struct crash_steps {
    /* Called before step n's transaction begins; may be NULL. */
    void (*before)(const void *arg, uint64_t n);
    /* Writes step n in `txn`; on failure says why in `why`. */
    cairn_status (*write)(const void *arg, cairn_txn *txn, uint64_t n, char *why, size_t cap);
    const void *arg;
    /* Step n commits at version n + version_skew. */
    uint64_t version_skew;
} crash_steps;

/*
 * The loop of a crash child, as `who`: commits the steps of `w` from
 * `from` + 1 on in `db`, writes a crash_ack to `fd` after each and
 * checkpoints after every step n with n % ckpt_every == ckpt_at, until
 * killed.  `step_name` names the step in a failure.
 */
static inline void crash_child_steps(const char *who, cairn_db *db, uint64_t from,
                                     const crash_steps *w, const char *step_name,
                                     uint64_t ckpt_every, uint64_t ckpt_at, int fd)
{
    char why[512] = "";
    cairn_txn *txn = NULL;
    for (uint64_t n = from + 1;; n++) {
        if (w->before)
            w->before(w->arg, n);
        cairn_status st = txn ? cairn_txn_restart(txn) : cairn_txn_begin(db, NULL, &txn);
        if (st != CAIRN_OK)
            crash_child_fail(who, CRASH_CHILD_COMMIT_FAILED, "begin", st, "");
        if ((st = w->write(w->arg, txn, n, why, sizeof why)) != CAIRN_OK)
            crash_child_fail(who, CRASH_CHILD_STEP_FAILED, step_name, st, why);
        if ((st = cairn_txn_commit(txn)) != CAIRN_OK)
            crash_child_fail(who, CRASH_CHILD_COMMIT_FAILED, "commit", st, cairn_txn_errmsg(txn));
        crash_ack a = {n, cairn_txn_commit_version(txn)};
        if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
            crash_child_fail(who, CRASH_CHILD_ACK_FAILED, "write(ack)", CAIRN_IO, strerror(errno));
        if (n % ckpt_every == ckpt_at && (st = cairn_db_checkpoint(db)) != CAIRN_OK) {
            cairn_db_errmsg(db, why, sizeof why);
            crash_child_fail(who, CRASH_CHILD_CHECKPOINT_FAILED, "cairn_db_checkpoint", st, why);
        }
    }
}

/* One kill -9 round: the child's workload and what to do with its acks. */
typedef struct crash_round {
    /* Runs in the forked child with the pipe's write end; never returns. */
    void (*child)(void *arg, int fd);
    void *child_arg;
    /* Room for one ack, and its size: every ack the child writes is this long. */
    void *ack;
    size_t ack_size;
    /* Checks and records the ack just read into `ack`. */
    void (*take)(const void *ack, void *arg);
    void *take_arg;
} crash_round;

/*
 * Forks a child running `r->child`, kills it after `kill_after` acks and
 * hands every ack it sent (those still in the pipe after the kill too) to
 * `r->take`.  Fails the test if the child ended by itself.
 */
static inline void crash_kill_round(const crash_round *r, uint64_t kill_after, const char *label)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        r->child(r->child_arg, fds[1]);
        _exit(1);
    }
    close(fds[1]);
    uint64_t got = 0;
    bool eof = false;
    while (got < kill_after) {
        if (!crash_read_ack(fds[0], r->ack, r->ack_size, label)) {
            eof = true;
            break;
        }
        r->take(r->ack, r->take_arg);
        got++;
    }
    kill(pid, SIGKILL);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid: %s", strerror(errno));
    while (!eof && crash_read_ack(fds[0], r->ack, r->ack_size, label))
        r->take(r->ack, r->take_arg); /* sent before the kill: acknowledged too */
    close(fds[0]);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "[%s] the child ended by itself (exit code %d) instead of being killed "
              "(see its message above)", label, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

typedef struct crash_acks {
    uint64_t acked, version_skew;
    const char *note, *label;
} crash_acks;

static inline void crash_take_ack(const void *rec, void *arg)
{
    const crash_ack *a = rec;
    crash_acks *k = arg;
    cr_assert_eq(a->n, k->acked + 1, "[%s] ack for step %" PRIu64 " after %" PRIu64, k->label,
                 a->n, k->acked);
    cr_assert_eq(a->version, a->n + k->version_skew, "[%s] step %" PRIu64 " committed at version %"
                 PRIu64 " (%s)", k->label, a->n, a->version, k->note);
    k->acked = a->n;
}

/*
 * A kill -9 round whose child writes crash_acks (crash_child_steps): each
 * must be for the step after the last, committed at version n +
 * `version_skew` (`note` says why in a failure).  Returns the last step
 * acknowledged, `from` if none was.
 */
static inline uint64_t crash_kill_steps(void (*child)(void *arg, int fd), void *child_arg,
                                        uint64_t from, uint64_t kill_after, uint64_t version_skew,
                                        const char *note, const char *label)
{
    crash_acks k = {from, version_skew, note, label};
    crash_ack a;
    crash_round r = {child, child_arg, &a, sizeof a, crash_take_ack, &k};
    crash_kill_round(&r, kill_after, label);
    return k.acked;
}

/* True when `dir` holds a checkpoint still being written: the kill
 * interrupted one.  A missing `dir` (killed before it created the
 * database) is false when `may_be_missing`, a failure otherwise. */
static inline bool crash_checkpoint_in_progress(const char *dir, bool may_be_missing)
{
    DIR *d = opendir(dir);
    if (d == NULL && may_be_missing)
        return false;
    cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
    bool found = false;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "ckpt-", 5) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0)
            found = true;
    }
    closedir(d);
    return found;
}

/* ---- power loss ---------------------------------------------------------------- */

typedef enum crash_kind { CRASH_BETWEEN_CALLS, CRASH_BEFORE_NTH_SYNC } crash_kind;

/* `base` scenarios times CAIRN_TEST_SCALE (default 1), at least one. */
static inline uint64_t crash_scaled(uint64_t base)
{
    const char *s = getenv("CAIRN_TEST_SCALE");
    double v = s && *s ? strtod(s, NULL) : 1.0;
    uint64_t n = (uint64_t)((double)base * (v > 0 ? v : 1.0) + 0.5);
    return n ? n : 1;
}

/* Opens `dir` on `fs` into *dbp; `what` names the open in a failure. */
static inline cairn_db *crash_open_fs(const char *dir, const cairn_options *o, wal_fs *fs,
                                      cairn_db **dbp, const char *what, const char *label)
{
    char err[512] = "";
    cairn_status st = db_open_fs(dir, o, fs, dbp, err, sizeof err);
    cr_assert_eq(st, CAIRN_OK, "[%s] %s: %s (%s)", label, what, cairn_status_name(st), err);
    return *dbp;
}

/* Closes *dbp (which holds no transaction) and clears it; after power loss
 * its I/O fails, so CAIRN_IO is fine then. */
static inline void crash_close(cairn_db **dbp, bool after_crash, const char *label)
{
    cairn_status st = cairn_db_close(*dbp);
    *dbp = NULL;
    if (after_crash)
        cr_assert(st == CAIRN_OK || st == CAIRN_IO, "[%s] close after power loss: %s", label,
                  cairn_status_name(st));
    else
        cr_assert_eq(st, CAIRN_OK, "[%s] close: %s", label, cairn_status_name(st));
}

/* What the power-loss scenarios of one test add up to. */
typedef struct crash_tally {
    uint64_t points, steps, failed_commits, lost;
} crash_tally;

/* Where a power-loss round left the steps after step `n`: acknowledged,
 * possibly on disk, and held by the last successful checkpoint. */
typedef struct crash_reach {
    uint64_t acked, possible, floor;
} crash_reach;

/*
 * One power-loss round on `db`, recovered at step `n`: for CRASH_BEFORE_NTH_SYNC
 * fails one of the next 1..12 syncs (sticky), commits up to `max_steps`
 * steps of `w` (stopping at the first failed commit, which must be
 * CAIRN_IO), checkpoints after about one step in six, then crashes `fs`
 * keeping 0..`max_keep` sectors of the last unsynced write.  The
 * transaction is kept in *txnp while it is open.
 */
static inline crash_reach crash_pl_workload(cairn_db *db, wal_fs *fs, cairn_txn **txnp,
                                            test_rng *rng, crash_kind kind, uint32_t max_steps,
                                            uint32_t max_keep, const crash_steps *w, uint64_t n,
                                            crash_tally *t, const char *label)
{
    crash_reach at = {n, n, n};
    bool failed = false;
    if (kind == CRASH_BEFORE_NTH_SYNC)
        wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 1 + test_rng_below(rng, 12), EIO, true);
    uint32_t steps = (uint32_t)test_rng_below(rng, max_steps + 1);
    for (uint32_t i = 0; i < steps && !failed; i++) {
        uint64_t step = at.acked + 1;
        char why[512] = "";
        if (w->before)
            w->before(w->arg, step);
        cairn_status st = cairn_txn_begin(db, NULL, txnp);
        cr_assert_eq(st, CAIRN_OK, "[%s] cairn_txn_begin: %s", label, cairn_status_name(st));
        st = w->write(w->arg, *txnp, step, why, sizeof why);
        cr_assert_eq(st, CAIRN_OK, "[%s] %s", label, why);
        st = cairn_txn_commit(*txnp);
        if (st == CAIRN_OK) {
            cr_assert_eq(cairn_txn_commit_version(*txnp), step + w->version_skew);
            at.acked = at.possible = step;
            t->steps++;
        } else {
            cr_assert_eq(st, CAIRN_IO, "[%s] a failed commit answered %s", label,
                         cairn_status_name(st));
            at.possible = step; /* its record may have reached the disk */
            failed = true;
            t->failed_commits++;
        }
        cairn_txn_free(*txnp);
        *txnp = NULL;
        if (!failed && test_rng_below(rng, 6) == 0) {
            st = cairn_db_checkpoint(db);
            if (st == CAIRN_OK)
                at.floor = at.acked; /* the checkpoint holds everything published */
            else
                cr_assert(kind == CRASH_BEFORE_NTH_SYNC && st == CAIRN_IO,
                          "[%s] cairn_db_checkpoint: %s", label, cairn_status_name(st));
        }
    }
    wal_err err = {{0}};
    uint32_t keep = (uint32_t)test_rng_below(rng, max_keep + 1);
    cr_assert_eq(wal_fs_crash(fs, keep, &err), CAIRN_OK, "wal_fs_crash: %s", err.msg);
    t->points++;
    return at;
}

#endif /* CAIRN_TESTS_CRASH_HARNESS_H */
