/*
 * Process crashes: a child process commits in a loop and is killed with
 * SIGKILL at a random moment; the parent reopens the database and checks
 * that every acknowledged commit survived, that no transaction is partly
 * visible, and that commit versions stayed contiguous.  The next round
 * continues in the same directory from wherever the last one stopped, so
 * kills land in recovery, in commits, in segment roll-overs and in
 * checkpoints (explicit ones, and the automatic ones a small
 * checkpoint_wal_bytes triggers).
 *
 * The workload: commit n writes a/<s>, b/<s> and c/<s> for slot
 * s = n % SLOTS, all with a value that encodes n, plus "counter" = n.  The
 * slots keep the database (and so each checkpoint) bounded however many
 * rounds run, and a torn transaction would still show as a slot whose
 * three keys disagree.  The child acknowledges each commit with one
 * write() of {n, commit version} to a pipe; the kill comes after a random
 * number of acknowledgements (seeded PRNG, no sleeps).
 *
 * CAIRN_CRASH_POINTS (default 200, up to 10,000) sets the number of kills
 * of the SYNC test; the ASYNC test (a process crash: the OS keeps what was
 * written, so acknowledged ASYNC commits must survive too) runs a quarter
 * as many, at least 50.  CAIRN_CRASH_SEED picks another seed.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "wal/wal_test_util.h"

#define SLOTS 1024u
#define VALUE_LEN 300u
#define MAX_ACKS_BEFORE_KILL 40u
#define CHILD_CHECKPOINT_EVERY 16u
/* A child that makes no progress for this long is reported, not waited on
 * forever (a deadlock or a hang in recovery). */
#define ACK_TIMEOUT_MS 60000
/* Full verification of every slot this often (the rounds in between check
 * the slots written since the last verification). */
#define FULL_CHECK_EVERY 32u

/* What the child sends after each successful commit: one write(). */
typedef struct ack {
    uint64_t n;
    uint64_t version;
} ack;

/* Child exit codes (the parent expects SIGKILL, never an exit). */
enum { CHILD_OPEN_FAILED = 10, CHILD_READ_FAILED, CHILD_COMMIT_FAILED, CHILD_ACK_FAILED,
       CHILD_CHECKPOINT_FAILED };

static uint64_t env_u64(const char *name, uint64_t def, uint64_t lo, uint64_t hi)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0')
        return def;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0')
        return def;
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return (uint64_t)v;
}

static cairn_run_id crash_run(void)
{
    return test_run(0x43, 0x01);
}

static cairn_key slot_key(char letter, uint64_t slot)
{
    char name[32];
    snprintf(name, sizeof name, "%c/%" PRIu64, letter, slot);
    cairn_run_id run = crash_run();
    return test_kv(&run, name);
}

static cairn_key counter_key(void)
{
    cairn_run_id run = crash_run();
    return test_kv(&run, "counter");
}

/* The value commit `n` writes under key `letter`: n big-endian, then a
 * pattern of n and the letter (so a value from another commit or another
 * key never matches). */
static void make_value(uint64_t n, char letter, uint8_t out[VALUE_LEN])
{
    u64_to_be(n, out);
    for (uint32_t i = 8; i < VALUE_LEN; i++)
        out[i] = (uint8_t)(n * 131u + (uint64_t)letter * 7u + i);
}

static cairn_options crash_options(cairn_durability mode)
{
    cairn_options o;
    cairn_options_init(&o);
    o.durability = mode;
    o.wal_segment_size = 1024 * 1024;
    o.checkpoint_wal_bytes = 128 * 1024;
    return o;
}

/* ---- the child ----------------------------------------------------------- */

static void child_fail(int code, const char *what, cairn_status st, const char *msg)
{
    fprintf(stderr, "crash child: %s failed: %s (%s)\n", what, cairn_status_name(st), msg);
    _exit(code);
}

/* Opens the database, resumes after the counter it finds and commits until
 * it is killed.  Never returns. */
static void child_main(const char *dir, cairn_durability mode, int ackfd)
{
    cairn_options o = crash_options(mode);
    cairn_db *db = NULL;
    char err[512] = "";
    cairn_status st = cairn_db_open(dir, &o, &db, err, sizeof err);
    if (st != CAIRN_OK)
        child_fail(CHILD_OPEN_FAILED, "cairn_db_open", st, err);

    cairn_key counter = counter_key();
    cairn_txn *txn = NULL;
    st = cairn_txn_begin(db, NULL, &txn);
    if (st != CAIRN_OK)
        child_fail(CHILD_READ_FAILED, "cairn_txn_begin", st, "");
    cairn_slice v = {NULL, 0};
    uint64_t n = 0;
    st = cairn_txn_get(txn, &counter, &v);
    if (st == CAIRN_OK && !u64_from_slice(v, &n))
        child_fail(CHILD_READ_FAILED, "decoding the counter", st, "not 8 bytes");
    if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
        child_fail(CHILD_READ_FAILED, "reading the counter", st, cairn_txn_errmsg(txn));
    cairn_txn_abort(txn);

    uint8_t value[VALUE_LEN];
    uint8_t cval[8];
    for (;;) {
        n++;
        st = cairn_txn_restart(txn);
        if (st != CAIRN_OK)
            child_fail(CHILD_COMMIT_FAILED, "cairn_txn_restart", st, "");
        static const char letters[] = "abc";
        for (int i = 0; i < 3 && st == CAIRN_OK; i++) {
            cairn_key key = slot_key(letters[i], n % SLOTS);
            make_value(n, letters[i], value);
            st = cairn_txn_put(txn, &key, cairn_slice_of(value, sizeof value));
        }
        u64_to_be(n, cval);
        if (st == CAIRN_OK)
            st = cairn_txn_put(txn, &counter, cairn_slice_of(cval, sizeof cval));
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        if (st != CAIRN_OK)
            child_fail(CHILD_COMMIT_FAILED, "commit", st, cairn_txn_errmsg(txn));
        ack a = {n, cairn_txn_commit_version(txn)};
        if (write(ackfd, &a, sizeof a) != (ssize_t)sizeof a)
            child_fail(CHILD_ACK_FAILED, "write(ack)", CAIRN_IO, strerror(errno));
        if (n % CHILD_CHECKPOINT_EVERY == 0) {
            st = cairn_db_checkpoint(db);
            if (st != CAIRN_OK) {
                cairn_db_errmsg(db, err, sizeof err);
                child_fail(CHILD_CHECKPOINT_FAILED, "cairn_db_checkpoint", st, err);
            }
        }
    }
}

/* ---- the parent ---------------------------------------------------------- */

typedef struct round_result {
    uint64_t acks;      /* acknowledgements read this round */
    uint64_t last_ack;  /* highest n acknowledged so far (all rounds) */
    uint64_t first_ack; /* first n acknowledged this round (0: none) */
} round_result;

/* Reads one ack, waiting at most ACK_TIMEOUT_MS.  1: got one; 0: EOF. */
static int read_ack(int fd, ack *a)
{
    size_t got = 0;
    while (got < sizeof *a) {
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, ACK_TIMEOUT_MS);
        cr_assert_neq(pr, 0, "the crash child made no progress for %d ms", ACK_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        cr_assert_gt(pr, 0, "poll: %s", strerror(errno));
        ssize_t r = read(fd, (char *)a + got, sizeof *a - got);
        if (r < 0 && errno == EINTR)
            continue;
        cr_assert_geq(r, 0, "read(ack): %s", strerror(errno));
        if (r == 0) {
            cr_assert_eq(got, 0u, "a torn ack (%zu bytes)", got);
            return 0;
        }
        got += (size_t)r;
    }
    return 1;
}

static void take_ack(const ack *a, round_result *rr)
{
    cr_assert_eq(a->n, rr->last_ack + 1, "ack for commit %" PRIu64 " after %" PRIu64
                 ": the child did not resume right after the last commit", a->n, rr->last_ack);
    cr_assert_eq(a->version, a->n, "commit %" PRIu64 " got version %" PRIu64
                 " (versions must be contiguous from 1)", a->n, a->version);
    if (rr->first_ack == 0)
        rr->first_ack = a->n;
    rr->last_ack = a->n;
    rr->acks++;
}

/* Forks a child committing into `dir`, kills it after `kill_after` acks,
 * and collects every ack it sent (those read after the kill included). */
static void run_round(const char *dir, cairn_durability mode, uint64_t kill_after,
                      round_result *rr)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        /* never outlive the test */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        child_main(dir, mode, fds[1]);
        _exit(1);
    }
    close(fds[1]);
    rr->acks = 0;
    rr->first_ack = 0;
    ack a;
    bool eof = false;
    while (rr->acks < kill_after) {
        if (!read_ack(fds[0], &a)) {
            eof = true;
            break;
        }
        take_ack(&a, rr);
    }
    kill(pid, SIGKILL);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid: %s", strerror(errno));
    /* acks written before the kill are acknowledged commits too */
    while (!eof && read_ack(fds[0], &a))
        take_ack(&a, rr);
    close(fds[0]);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "the crash child ended by itself (exit code %d) instead of being killed "
              "(see its message above)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* Asserts slot `slot` holds commit `n`'s three values (n 0: absent). */
static void expect_slot(cairn_txn *txn, uint64_t slot, uint64_t n)
{
    static const char letters[] = "abc";
    uint8_t want[VALUE_LEN];
    for (int i = 0; i < 3; i++) {
        cairn_key key = slot_key(letters[i], slot);
        cairn_slice v = {NULL, 0};
        cairn_status st = cairn_txn_get(txn, &key, &v);
        if (n == 0) {
            cr_assert_eq(st, CAIRN_NOT_FOUND, "%c/%" PRIu64 " should be absent, got %s",
                         letters[i], slot, cairn_status_name(st));
            continue;
        }
        cr_assert_eq(st, CAIRN_OK, "%c/%" PRIu64 " (commit %" PRIu64 "): %s", letters[i], slot,
                     n, cairn_status_name(st));
        make_value(n, letters[i], want);
        uint64_t got = 0;
        if (v.len >= 8)
            u64_from_slice(cairn_slice_of(v.data, 8), &got);
        cr_assert(v.len == VALUE_LEN && bytes_eq(v.data, want, VALUE_LEN),
                  "%c/%" PRIu64 " holds a value of commit %" PRIu64 " (%zu bytes), expected "
                  "commit %" PRIu64 ": a transaction is partly visible",
                  letters[i], slot, got, v.len, n);
    }
}

/* The newest commit <= c that wrote slot s, 0 when none. */
static uint64_t slot_owner(uint64_t s, uint64_t c)
{
    if (c < s || (s == 0 && c < SLOTS))
        return 0;
    return c - (c - s) % SLOTS;
}

/*
 * Reopens `dir` and checks it against the acks; returns the recovered
 * counter.  Checks the slots of commits after `verified` (and, when
 * `full`, every slot).
 */
static uint64_t verify_db(const char *dir, uint64_t last_ack, uint64_t verified, bool full,
                          uint64_t *tornp, uint64_t *ckptp)
{
    cairn_options o = crash_options(CAIRN_DURABILITY_SYNC);
    o.checkpoint_wal_bytes = 0;
    cairn_db *db = NULL;
    char err[512] = "";
    cairn_status st = cairn_db_open(dir, &o, &db, err, sizeof err);
    cr_assert_eq(st, CAIRN_OK, "reopening after the kill: %s (%s)", cairn_status_name(st), err);

    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, &to, &txn));
    cairn_key counter = counter_key();
    cairn_slice v = {NULL, 0};
    uint64_t c = 0;
    st = cairn_txn_get(txn, &counter, &v);
    if (st == CAIRN_OK)
        cr_assert(u64_from_slice(v, &c), "the counter is not 8 bytes");
    else
        cr_assert_eq(st, CAIRN_NOT_FOUND, "reading the counter: %s", cairn_status_name(st));

    /* every acknowledged commit survived; at most the one in flight more */
    cr_assert_geq(c, last_ack, "commit %" PRIu64 " was acknowledged but the database "
                  "recovered only up to %" PRIu64, last_ack, c);
    cr_assert_leq(c, last_ack + 1, "recovered commit %" PRIu64 " but only %" PRIu64
                  " were acknowledged and one more was in flight", c, last_ack);

    cairn_recovery_report rep;
    ASSERT_OK(cairn_db_recovery_report(db, &rep));
    cr_assert_eq(rep.last_version, c, "recovery opened at version %" PRIu64 " with %" PRIu64
                 " commits recovered: versions are not one per commit", rep.last_version, c);
    cr_assert_eq(cairn_txn_snapshot_version(txn), c);
    *tornp += rep.torn;
    /* checkpoints are renamed into place whole: a kill never damages one */
    cr_assert_eq(rep.checkpoints_skipped, 0u, "recovery skipped %u damaged checkpoint(s)",
                 rep.checkpoints_skipped);
    if (rep.checkpoint_version)
        *ckptp += 1;

    /* the counter's commit is whole, and so is every slot */
    uint64_t lo = full ? 0 : (verified > SLOTS ? verified - SLOTS / 4 : 0);
    if (full || c - lo >= SLOTS) {
        for (uint64_t s = 0; s < SLOTS; s++)
            expect_slot(txn, s, slot_owner(s, c));
    } else {
        for (uint64_t n = lo + 1; n <= c + 2; n++)
            expect_slot(txn, n % SLOTS, slot_owner(n % SLOTS, c));
    }
    /* nothing but the slots and the counter exists */
    cairn_stats stats = test_stats(db);
    uint64_t slots_used = c < SLOTS ? c : SLOTS;
    cr_assert_eq(stats.keys, 3 * slots_used + (c ? 1 : 0), "%" PRIu64 " keys, expected %" PRIu64,
                 stats.keys, 3 * slots_used + (c ? 1 : 0));

    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    ASSERT_OK(cairn_db_close(db));
    return c;
}

/* True when `dir` holds a checkpoint still being written (ckpt-*.tmp):
 * the kill interrupted a checkpoint. */
static bool checkpoint_in_progress(const char *dir)
{
    DIR *d = opendir(dir);
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

static void kill_rounds(cairn_durability mode, uint64_t rounds, uint64_t seed)
{
    char *dir = wt_mkdtemp();
    test_rng rng = test_rng_seeded(seed);
    round_result rr = {0, 0, 0};
    uint64_t verified = 0, kills_mid_commit = 0, torn = 0, from_ckpt = 0, mid_ckpt = 0;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t kill_after = test_rng_below(&rng, MAX_ACKS_BEFORE_KILL + 1);
        run_round(dir, mode, kill_after, &rr);
        mid_ckpt += checkpoint_in_progress(dir);
        if (rr.first_ack)
            cr_assert_eq(rr.first_ack, verified + 1, "round %" PRIu64 " resumed at commit %"
                         PRIu64 " after %" PRIu64 " was recovered", r, rr.first_ack, verified);
        bool full = (r + 1) % FULL_CHECK_EVERY == 0 || r + 1 == rounds;
        uint64_t c = verify_db(dir, rr.last_ack, verified, full, &torn, &from_ckpt);
        if (c > rr.last_ack) {
            /* the commit in flight made it: it counts from now on */
            kills_mid_commit++;
            rr.last_ack = c;
        }
        verified = c;
    }
    cr_log_info("%s: %" PRIu64 " kills, %" PRIu64 " commits survived, %" PRIu64
                " of them unacknowledged (killed between commit and ack), %" PRIu64
                " torn log tails cut off, %" PRIu64 " kills interrupted a checkpoint, %" PRIu64
                " recoveries started from one", mode == CAIRN_DURABILITY_SYNC ? "sync" : "async",
                rounds, verified, kills_mid_commit, torn, mid_ckpt, from_ckpt);
    wt_rmtree(dir);
}

static uint64_t crash_points(void)
{
    return env_u64("CAIRN_CRASH_POINTS", 200, 1, 10000);
}

static uint64_t crash_seed(uint64_t salt)
{
    return env_u64("CAIRN_CRASH_SEED", 0xC4A5u, 0, UINT64_MAX) ^ salt;
}

Test(crash, sync_commits_acknowledged_before_a_kill_survive_it_whole, .timeout = 900)
{
    kill_rounds(CAIRN_DURABILITY_SYNC, crash_points(), crash_seed(1));
}

Test(crash, async_commits_acknowledged_before_a_process_kill_survive_it_whole, .timeout = 900)
{
    uint64_t n = crash_points() / 4;
    kill_rounds(CAIRN_DURABILITY_ASYNC, n < 50 ? 50 : n, crash_seed(2));
}
