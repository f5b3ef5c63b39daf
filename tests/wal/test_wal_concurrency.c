/*
 * tests/wal/test_wal_concurrency.c - group commit and the ASYNC flusher,
 * with real threads.
 *
 * Built with -DCAIRN_TEST_STANDALONE the file gets a small main() instead
 * of Criterion, for the ThreadSanitizer build (Criterion 2.4 cannot start
 * under TSan; see tests/meson.build).
 */
#ifndef CAIRN_TEST_STANDALONE
#include <criterion/criterion.h>
#endif

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <time.h>

#include "wal_test_util.h"

#define THREADS 8
#define COMMITS_PER_THREAD 50

/* Records a failure message and returns false from a scenario. */
#define EXPECT(cond, ...)                                                               \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            snprintf(msg, cap, __VA_ARGS__);                                            \
            ok = false;                                                                 \
            goto out;                                                                   \
        }                                                                               \
    } while (0)

typedef struct shared {
    wal *w;
    pthread_mutex_t commit_lock; /* stands in for the engine's commit lock */
    uint64_t next_version;
    int failures;
    uint64_t max_lsn;
} shared;

static void *committer(void *arg)
{
    shared *sh = arg;

    for (int i = 0; i < COMMITS_PER_THREAD; i++) {
        uint64_t lsn = 0;
        cairn_status st;
        wal_stats s;

        pthread_mutex_lock(&sh->commit_lock);
        st = wt_append(sh->w, ++sh->next_version, 64, &lsn);
        if (lsn > sh->max_lsn)
            sh->max_lsn = lsn;
        pthread_mutex_unlock(&sh->commit_lock);
        if (st == CAIRN_OK)
            st = wal_wait_durable(sh->w, lsn, CAIRN_DURABILITY_SYNC);
        wal_get_stats(sh->w, &s);
        pthread_mutex_lock(&sh->commit_lock);
        if (st != CAIRN_OK || s.synced_lsn < lsn)
            sh->failures++;
        pthread_mutex_unlock(&sh->commit_lock);
    }
    return NULL;
}

/* 8 threads commit in SYNC mode; groups share fdatasyncs and every commit
 * is covered when its wait returns. */
static bool scenario_group_commit(char *msg, size_t cap)
{
    char *dir = wt_mkdtemp();
    wal_fs *fs = NULL;
    wal_config cfg = wt_config(64 * 1024);
    pthread_t th[THREADS];
    shared sh;
    wal_stats s;
    wal_replay_report rep;
    wt_replayed *r = calloc(1, sizeof *r);
    bool ok = true;
    const uint64_t total = THREADS * COMMITS_PER_THREAD;

    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.commit_lock, NULL);
    EXPECT(wal_fs_new_posix(&fs) == CAIRN_OK, "fs");
    EXPECT(wal_open(fs, dir, &cfg, &sh.w, NULL) == CAIRN_OK, "wal_open");
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, committer, &sh);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    wal_get_stats(sh.w, &s);
    EXPECT(sh.failures == 0, "%d commits were not covered when their wait returned",
           sh.failures);
    EXPECT(s.records == total, "records %" PRIu64, s.records);
    EXPECT(s.synced_lsn == sh.max_lsn, "synced %" PRIu64 " of %" PRIu64, s.synced_lsn,
           sh.max_lsn);
    /* Segment roll-overs sync too; they are counted in s.syncs. */
    EXPECT(s.syncs < total, "%" PRIu64 " syncs for %" PRIu64 " commits: no grouping", s.syncs,
           total);
    EXPECT(wal_close(sh.w) == CAIRN_OK, "close");
    sh.w = NULL;

    r->content_ok = true;
    EXPECT(wal_replay(fs, dir, cfg.db_id, 0, wt_collect, r, true, &rep, NULL) == CAIRN_OK,
           "replay");
    EXPECT(r->n == total, "replayed %zu", r->n);
    for (size_t i = 0; i < r->n; i++)
        EXPECT(r->versions[i] == i + 1, "version %" PRIu64 " at %zu", r->versions[i], i);
    EXPECT(r->content_ok, "record content");
out:
    if (sh.w != NULL)
        wal_close(sh.w);
    wal_fs_free(fs);
    pthread_mutex_destroy(&sh.commit_lock);
    free(r);
    wt_rmtree(dir);
    return ok;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* An ASYNC commit returns once written; the flusher syncs it within the
 * interval, and does not sync again when nothing new was written. */
static bool scenario_async_flusher(char *msg, size_t cap)
{
    char *dir = wt_mkdtemp();
    wal_fs *fs = NULL;
    wal_config cfg = wt_config(1 << 20);
    wal *w = NULL;
    wal_stats s0, s1, s2;
    uint64_t lsn = 0;
    int64_t start, deadline;
    bool ok = true;

    cfg.sync_interval_ms = 20;
    EXPECT(wal_fs_new_posix(&fs) == CAIRN_OK, "fs");
    EXPECT(wal_open(fs, dir, &cfg, &w, NULL) == CAIRN_OK, "wal_open");
    wal_get_stats(w, &s0);
    EXPECT(wt_append(w, 1, 100, &lsn) == CAIRN_OK, "append");
    EXPECT(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC) == CAIRN_OK, "wait");
    start = now_ms();
    wal_get_stats(w, &s1);
    EXPECT(s1.written_lsn >= lsn, "ASYNC wait returned before the write");
    /* Poll with a bounded deadline: far above the interval so a loaded
     * machine does not fail the test, yet finite. */
    deadline = start + 5000;
    do {
        wal_get_stats(w, &s1);
        if (s1.synced_lsn >= lsn)
            break;
        pause_ms(1);
    } while (now_ms() < deadline);
    EXPECT(s1.synced_lsn >= lsn, "flusher did not sync within 5 s (interval 20 ms)");
    EXPECT(s1.syncs == s0.syncs + 1, "%" PRIu64 " syncs, expected one", s1.syncs - s0.syncs);
    /* Nothing new written: several intervals pass without another sync. */
    pause_ms(5 * 20);
    wal_get_stats(w, &s2);
    EXPECT(s2.syncs == s1.syncs, "flusher synced with nothing new");
out:
    if (w != NULL)
        wal_close(w);
    wal_fs_free(fs);
    wt_rmtree(dir);
    return ok;
}

typedef struct roller {
    shared *sh;
    cairn_durability mode;
} roller;

static void *mixed_committer(void *arg)
{
    roller *ro = arg;
    shared *sh = ro->sh;

    for (int i = 0; i < COMMITS_PER_THREAD; i++) {
        uint64_t lsn = 0;
        cairn_status st;
        pthread_mutex_lock(&sh->commit_lock);
        st = wt_append(sh->w, ++sh->next_version, 700, &lsn);
        pthread_mutex_unlock(&sh->commit_lock);
        if (st == CAIRN_OK)
            st = wal_wait_durable(sh->w, lsn, ro->mode);
        if (st != CAIRN_OK) {
            pthread_mutex_lock(&sh->commit_lock);
            sh->failures++;
            pthread_mutex_unlock(&sh->commit_lock);
        }
    }
    return NULL;
}

/* SYNC and ASYNC committers, a running flusher and frequent segment
 * roll-overs at once: nothing is lost or reordered. */
static bool scenario_mixed_modes_with_roll_over(char *msg, size_t cap)
{
    char *dir = wt_mkdtemp();
    wal_fs *fs = NULL;
    wal_config cfg = wt_config(WAL_SEGMENT_MIN_SIZE * 4);
    pthread_t th[4];
    roller ro[4];
    shared sh;
    wal_replay_report rep;
    wt_replayed *r = calloc(1, sizeof *r);
    bool ok = true;

    cfg.sync_interval_ms = 1;
    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.commit_lock, NULL);
    EXPECT(wal_fs_new_posix(&fs) == CAIRN_OK, "fs");
    EXPECT(wal_open(fs, dir, &cfg, &sh.w, NULL) == CAIRN_OK, "wal_open");
    for (int i = 0; i < 4; i++) {
        ro[i].sh = &sh;
        ro[i].mode = i % 2 ? CAIRN_DURABILITY_ASYNC : CAIRN_DURABILITY_SYNC;
        pthread_create(&th[i], NULL, mixed_committer, &ro[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    EXPECT(sh.failures == 0, "%d commits failed", sh.failures);
    EXPECT(wal_close(sh.w) == CAIRN_OK, "close");
    sh.w = NULL;
    r->content_ok = true;
    EXPECT(wal_replay(fs, dir, cfg.db_id, 0, wt_collect, r, true, &rep, NULL) == CAIRN_OK,
           "replay");
    EXPECT(r->n == 4 * COMMITS_PER_THREAD, "replayed %zu", r->n);
    for (size_t i = 0; i < r->n; i++)
        EXPECT(r->versions[i] == i + 1, "version %" PRIu64 " at %zu", r->versions[i], i);
    EXPECT(r->content_ok, "record content");
    EXPECT(rep.segments_read > 2, "expected roll-overs, got %" PRIu64 " segments",
           rep.segments_read);
out:
    if (sh.w != NULL)
        wal_close(sh.w);
    wal_fs_free(fs);
    pthread_mutex_destroy(&sh.commit_lock);
    free(r);
    wt_rmtree(dir);
    return ok;
}

#ifdef CAIRN_TEST_STANDALONE

int main(void)
{
    static const struct {
        const char *name;
        bool (*fn)(char *, size_t);
    } scenarios[] = {
        {"group_commit", scenario_group_commit},
        {"async_flusher", scenario_async_flusher},
        {"mixed_modes_with_roll_over", scenario_mixed_modes_with_roll_over},
    };
    int failed = 0;

    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        char msg[512] = "";
        bool ok = scenarios[i].fn(msg, sizeof msg);
        printf("%s: %s%s%s\n", scenarios[i].name, ok ? "ok" : "FAILED", ok ? "" : ": ", msg);
        failed += !ok;
    }
    return failed ? 1 : 0;
}

#else

#define RUN(fn)                                                                         \
    do {                                                                                \
        char msg_[512] = "";                                                            \
        cr_assert(fn(msg_, sizeof msg_), "%s", msg_);                                   \
    } while (0)

Test(wal_concurrency, group_commit_shares_fdatasyncs_and_covers_every_commit)
{
    RUN(scenario_group_commit);
}

Test(wal_concurrency, async_flusher_syncs_within_the_interval_and_only_when_needed)
{
    RUN(scenario_async_flusher);
}

Test(wal_concurrency, mixed_modes_with_roll_over_lose_nothing)
{
    RUN(scenario_mixed_modes_with_roll_over);
}

#endif
