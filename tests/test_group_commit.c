/*
 * Group commit: eight threads commit in SYNC mode on a real directory at
 * once.  Commits that arrive while a sync is running wait for the next one
 * together, so the WAL makes fewer fdatasync calls than there were
 * commits, and every commit is still there after a reopen.
 *
 * Built with -DCAIRN_TEST_STANDALONE the file gets a small main() instead
 * of Criterion (the ThreadSanitizer build; see tests/meson.build).
 * CAIRN_TEST_SCALE scales the commits per thread.
 */
#ifndef CAIRN_TEST_STANDALONE
#include <criterion/criterion.h>
#endif

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <unistd.h>

#include "helpers.h"

#define THREADS 8
#define COMMITS_PER_THREAD 40

typedef struct shared {
    cairn_db *db;
    uint32_t per_thread;
    pthread_barrier_t start;
    _Atomic bool failed;
    pthread_mutex_t msg_lock;
    char msg[512];
} shared;

typedef struct worker {
    shared *sh;
    uint32_t id;
} worker;

static void fail(shared *sh, const char *fmt, ...)
{
    pthread_mutex_lock(&sh->msg_lock);
    if (!atomic_exchange(&sh->failed, true)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sh->msg, sizeof sh->msg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&sh->msg_lock);
}

static cairn_key gc_key(uint32_t thread, uint32_t i)
{
    char name[32];
    snprintf(name, sizeof name, "t%u/%u", thread, i);
    cairn_run_id run = test_run(0x67, 0x01);
    return test_kv(&run, name);
}

static void *committer(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    pthread_barrier_wait(&sh->start);
    for (uint32_t i = 0; i < sh->per_thread && !atomic_load(&sh->failed); i++) {
        cairn_key key = gc_key(w->id, i);
        uint8_t val[8];
        u64_to_be((uint64_t)w->id << 32 | i, val);
        cairn_txn *txn = NULL;
        cairn_status st = cairn_txn_begin(sh->db, NULL, &txn);
        if (st == CAIRN_OK)
            st = cairn_txn_put(txn, &key, cairn_slice_of(val, sizeof val));
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        if (st != CAIRN_OK)
            fail(sh, "thread %u commit %u: %s (%s)", w->id, i, cairn_status_name(st),
                 txn ? cairn_txn_errmsg(txn) : "");
        cairn_txn_free(txn);
    }
    return NULL;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static uint32_t per_thread_commits(void)
{
    const char *s = getenv("CAIRN_TEST_SCALE");
    double scale = s ? strtod(s, NULL) : 1.0;
    if (!(scale > 0))
        scale = 1.0;
    uint32_t n = (uint32_t)(COMMITS_PER_THREAD * scale + 0.5);
    return n < 4 ? 4 : n;
}

/* Runs the scenario; false with a message in `msg` when it fails. */
static bool scenario_group_commit(char *msg, size_t cap)
{
    bool ok = false;
    char dir[] = "/tmp/cairn-group-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        snprintf(msg, cap, "mkdtemp: %s", strerror(errno));
        return false;
    }
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.per_thread = per_thread_commits();
    pthread_mutex_init(&sh.msg_lock, NULL);
    pthread_barrier_init(&sh.start, NULL, THREADS);

    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_SYNC;
    o.sync_interval_ms = 3600u * 1000u; /* only commits sync */
    o.checkpoint_wal_bytes = 0;
    char err[512] = "";
    cairn_status st = cairn_db_open(dir, &o, &sh.db, err, sizeof err);
    if (st != CAIRN_OK) {
        snprintf(msg, cap, "open: %s (%s)", cairn_status_name(st), err);
        goto out;
    }
    pthread_t th[THREADS];
    worker ws[THREADS];
    for (uint32_t i = 0; i < THREADS; i++) {
        ws[i] = (worker){&sh, i};
        pthread_create(&th[i], NULL, committer, &ws[i]);
    }
    for (uint32_t i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    cairn_stats stats = test_stats(sh.db);
    uint64_t total = (uint64_t)THREADS * sh.per_thread;
    st = cairn_db_close(sh.db);
    if (atomic_load(&sh.failed)) {
        snprintf(msg, cap, "%s", sh.msg);
        goto out;
    }
    if (st != CAIRN_OK) {
        snprintf(msg, cap, "close: %s", cairn_status_name(st));
        goto out;
    }
    if (stats.commits != total) {
        snprintf(msg, cap, "%" PRIu64 " commits counted, %" PRIu64 " made", stats.commits, total);
        goto out;
    }
    if (stats.syncs >= total) {
        snprintf(msg, cap, "%" PRIu64 " syncs for %" PRIu64 " SYNC commits from %d threads: "
                 "commits are not grouped", stats.syncs, total, THREADS);
        goto out;
    }

    /* every commit is durable */
    cairn_db *db = NULL;
    st = cairn_db_open(dir, &o, &db, err, sizeof err);
    if (st != CAIRN_OK) {
        snprintf(msg, cap, "reopen: %s (%s)", cairn_status_name(st), err);
        goto out;
    }
    ok = true;
    for (uint32_t t = 0; t < THREADS && ok; t++) {
        for (uint32_t i = 0; i < sh.per_thread && ok; i++) {
            cairn_key key = gc_key(t, i);
            if (test_get(db, &key, NULL, 0) != CAIRN_OK) {
                snprintf(msg, cap, "commit %u of thread %u is missing after reopen", i, t);
                ok = false;
            }
        }
    }
    if (ok && test_stats(db).visible_version != total) {
        snprintf(msg, cap, "reopened at version %" PRIu64 ", expected %" PRIu64,
                 test_stats(db).visible_version, total);
        ok = false;
    }
    if (cairn_db_close(db) != CAIRN_OK && ok) {
        snprintf(msg, cap, "close after reopen failed");
        ok = false;
    }
    if (ok)
        snprintf(msg, cap, "%" PRIu64 " commits, %" PRIu64 " syncs", total, stats.syncs);
out:
    pthread_barrier_destroy(&sh.start);
    pthread_mutex_destroy(&sh.msg_lock);
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return ok;
}

#ifndef CAIRN_TEST_STANDALONE

Test(group_commit, concurrent_sync_commits_share_fdatasync_calls_and_all_survive_a_reopen,
     .timeout = 300)
{
    char msg[512] = "";
    bool ok = scenario_group_commit(msg, sizeof msg);
    cr_assert(ok, "%s", msg);
    cr_log_info("%s", msg);
}

#else

int main(void)
{
    char msg[512] = "";
    bool ok = scenario_group_commit(msg, sizeof msg);
    printf("%s concurrent_sync_commits_share_fdatasync_calls_and_all_survive_a_reopen: %s\n",
           ok ? "PASS" : "FAIL", msg);
    return ok ? 0 : 1;
}

#endif
