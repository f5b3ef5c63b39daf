/*
 * Primitives in one transaction are atomic: a KV put and a StateCell CAS
 * written together abort together, commit together, and survive a process
 * killed with SIGKILL together or not at all.
 *
 * The crash part: a child process commits step n as one transaction that
 * puts KV "last" = n and CASes cell "step" from version n to n + 1 with
 * value n, acknowledging each commit with one write() to a pipe; the parent
 * kills it after a random number of acknowledgements, reopens, and checks
 * that "last" and "step" agree, that the cell's version is its value + 1,
 * and that no acknowledged step was lost.  The next child continues from
 * there.  CAIRN_CRASH_POINTS sets the number of kills (default 100).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cairn/kv.h"
#include "cairn/statecell.h"
#include "helpers.h"

static const cairn_run_id *the_run(void)
{
    static cairn_run_id r;
    r = test_run(0x5A, 7);
    return &r;
}

/* Writes step n: KV "last" = n and cell "step" CAS n -> n + 1 holding n. */
static cairn_status write_step(cairn_txn *txn, uint64_t n)
{
    char v[32];
    int len = snprintf(v, sizeof v, "%" PRIu64, n);
    cairn_status st = cairn_kv_put_tx(txn, the_run(), test_str("last"), cairn_slice_of(v, (size_t)len));
    if (st != CAIRN_OK)
        return st;
    if (n == 0)
        return cairn_cell_init_tx(txn, the_run(), test_str("step"), cairn_slice_of(v, (size_t)len));
    return cairn_cell_cas_tx(txn, the_run(), test_str("step"), n, cairn_slice_of(v, (size_t)len), NULL);
}

/* Reads both halves; -1 when neither exists.  Fails the test when they
 * disagree. */
static int64_t read_state(cairn_db *db)
{
    cairn_bytes kv = {0};
    cairn_cell cell = {0};
    cairn_status a = cairn_kv_get(db, the_run(), test_str("last"), &kv);
    cairn_status b = cairn_cell_read(db, the_run(), test_str("step"), &cell);
    cr_assert(a == b, "KV says %s, the cell %s", cairn_status_name(a), cairn_status_name(b));
    if (a == CAIRN_NOT_FOUND)
        return -1;
    ASSERT_OK(a);
    char kbuf[32] = "", cbuf[32] = "";
    snprintf(kbuf, sizeof kbuf, "%.*s", (int)kv.len, (const char *)kv.data);
    snprintf(cbuf, sizeof cbuf, "%.*s", (int)cell.value.len, (const char *)cell.value.data);
    cr_assert_str_eq(kbuf, cbuf, "KV last = %s but cell step = %s: half a transaction", kbuf, cbuf);
    uint64_t n = strtoull(kbuf, NULL, 10);
    cr_assert_eq(cell.version, n + 1, "cell at version %" PRIu64 " holding %" PRIu64, cell.version, n);
    cairn_bytes_free(&kv);
    cairn_bytes_free(&cell.value);
    return (int64_t)n;
}

Test(prim_atomic, an_aborted_transaction_leaves_neither_and_a_committed_one_both)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(write_step(txn, 0));
    ASSERT_OK(cairn_txn_abort(txn));
    cr_assert_eq(read_state(db), -1);

    ASSERT_OK(cairn_txn_restart(txn));
    ASSERT_OK(write_step(txn, 0));
    ASSERT_OK(cairn_txn_commit(txn));
    cr_assert_eq(read_state(db), 0);

    /* a failing CAS makes the caller abort: the KV put goes with it */
    ASSERT_OK(cairn_txn_restart(txn));
    ASSERT_OK(cairn_kv_put_tx(txn, the_run(), test_str("last"), test_str("99")));
    uint64_t actual = 0;
    ASSERT_STATUS(cairn_cell_cas_tx(txn, the_run(), test_str("step"), 7, test_str("99"), &actual),
                  CAIRN_VERSION_MISMATCH);
    cr_assert_eq(actual, 1);
    ASSERT_OK(cairn_txn_abort(txn));
    cr_assert_eq(read_state(db), 0);

    ASSERT_OK(cairn_txn_restart(txn));
    ASSERT_OK(write_step(txn, 1));
    ASSERT_OK(cairn_txn_commit(txn));
    cr_assert_eq(read_state(db), 1);
    cairn_txn_free(txn);
    test_close(db);
}

static cairn_options crash_opts(void)
{
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_SYNC;
    o.wal_segment_size = 1024 * 1024;
    o.checkpoint_wal_bytes = 256 * 1024; /* kills land in checkpoints too */
    return o;
}

/* The child: commits steps from `next` on, acknowledging each. */
static void child(const char *path, uint64_t next, int fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    cairn_options o = crash_opts();
    cairn_db *db = NULL;
    char err[256];
    if (cairn_db_open(path, &o, &db, err, sizeof err) != CAIRN_OK)
        _exit(10);
    cairn_txn *txn = NULL;
    for (uint64_t n = next;; n++) {
        cairn_status st = txn ? cairn_txn_restart(txn) : cairn_txn_begin(db, NULL, &txn);
        if (st == CAIRN_OK)
            st = write_step(txn, n);
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        if (st != CAIRN_OK)
            _exit(11);
        if (write(fd, &n, sizeof n) != (ssize_t)sizeof n)
            _exit(12);
    }
}

Test(prim_atomic, a_killed_process_leaves_both_writes_or_neither, .timeout = 600)
{
    char base[64], path[96];
    snprintf(base, sizeof base, "/tmp/cairn-atomic-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(path, sizeof path, "%s/db", base);
    const char *env = getenv("CAIRN_CRASH_POINTS");
    unsigned kills = env ? (unsigned)strtoul(env, NULL, 10) : 100;
    if (kills < 1)
        kills = 1;
    uint64_t rng = 0xA70A1Cull;
    int64_t acked = -1;
    unsigned torn_free_rounds = 0;
    for (unsigned round = 0; round < kills; round++) {
        /* where the state stands now: the next child continues from it */
        cairn_options o = crash_opts();
        cairn_db *db = NULL;
        char err[256];
        int64_t at = -1;
        if (round > 0) {
            ASSERT_OK(cairn_db_open(path, &o, &db, err, sizeof err));
            at = read_state(db);
            ASSERT_OK(cairn_db_close(db));
            cr_assert_geq(at, acked, "round %u: step %" PRId64 " was acknowledged, the database has %" PRId64,
                          round, acked, at);
            torn_free_rounds++;
        }
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            child(path, (uint64_t)(at + 1), fds[1]);
        }
        close(fds[1]);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned want = 1 + (unsigned)((rng >> 33) % 60);
        for (unsigned i = 0; i < want; i++) {
            uint64_t n;
            ssize_t r = read(fds[0], &n, sizeof n);
            if (r != (ssize_t)sizeof n)
                break; /* the child died on its own: reported below */
            acked = (int64_t)n;
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        close(fds[0]);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %u: the child exited by itself (status %d)", round, status);
    }
    cairn_options o = crash_opts();
    cairn_db *db = NULL;
    char err[256];
    ASSERT_OK(cairn_db_open(path, &o, &db, err, sizeof err));
    cr_assert_geq(read_state(db), acked);
    ASSERT_OK(cairn_db_close(db));
    cr_assert_eq(torn_free_rounds, kills - 1);
    test_rm_tree(base);
}
