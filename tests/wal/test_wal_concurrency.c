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
#include <stdatomic.h>
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

/* ---- wal_commit_wait: completion in version order ---------------------- */

#define COMPLETION_VERSIONS (THREADS * COMMITS_PER_THREAD)

typedef struct completion {
    shared *sh;
    int index;
    _Atomic bool declared[COMPLETION_VERSIONS + 1];
    _Atomic int disorder;    /* a version completed before an older one was declared */
    _Atomic int undurable;   /* a SYNC commit completed before its record was synced */
    _Atomic uint64_t sync_commits;
} completion;

static void *completion_committer(void *arg)
{
    completion *c = arg;
    shared *sh = c->sh;
    static _Atomic int next_index;
    int me = atomic_fetch_add(&next_index, 1);
    cairn_durability mode = me % 3 == 0   ? CAIRN_DURABILITY_ASYNC
                            : me % 3 == 1 ? CAIRN_DURABILITY_SYNC
                                          : CAIRN_DURABILITY_NONE;

    for (int i = 0; i < COMMITS_PER_THREAD; i++) {
        uint64_t lsn = 0, version, done = 0;
        cairn_status st;
        wal_stats s;

        pthread_mutex_lock(&sh->commit_lock);
        version = ++sh->next_version;
        st = wt_append(sh->w, version, 64, &lsn);
        pthread_mutex_unlock(&sh->commit_lock);
        if (st == CAIRN_OK) {
            atomic_store(&c->declared[version], true);
            st = wal_commit_wait(sh->w, version, lsn, mode, &done);
        }
        if (st != CAIRN_OK || done < version) {
            pthread_mutex_lock(&sh->commit_lock);
            sh->failures++;
            pthread_mutex_unlock(&sh->commit_lock);
            continue;
        }
        for (uint64_t v = 1; v <= done; v++)
            if (!atomic_load(&c->declared[v]))
                atomic_fetch_add(&c->disorder, 1);
        if (mode == CAIRN_DURABILITY_SYNC) {
            atomic_fetch_add(&c->sync_commits, 1);
            wal_get_stats(sh->w, &s);
            if (s.synced_lsn < lsn)
                atomic_fetch_add(&c->undurable, 1);
        }
    }
    return NULL;
}

/* Committers in all three modes complete through wal_commit_wait: each
 * learns a completed version at least its own, never one with an older
 * undeclared version below it; SYNC commits are synced when they complete,
 * and they share fdatasyncs. */
static bool scenario_commit_wait_in_order(char *msg, size_t cap)
{
    char *dir = wt_mkdtemp();
    wal_fs *fs = NULL;
    wal_config cfg = wt_config(64 * 1024);
    pthread_t th[THREADS];
    shared sh;
    completion *c = calloc(1, sizeof *c);
    wal_stats s;
    bool ok = true;

    memset(&sh, 0, sizeof sh);
    pthread_mutex_init(&sh.commit_lock, NULL);
    c->sh = &sh;
    EXPECT(wal_fs_new_posix(&fs) == CAIRN_OK, "fs");
    EXPECT(wal_open(fs, dir, &cfg, &sh.w, NULL) == CAIRN_OK, "wal_open");
    for (int i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, completion_committer, c);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    wal_get_stats(sh.w, &s);
    EXPECT(sh.failures == 0, "%d commits failed or completed short of their version",
           sh.failures);
    EXPECT(atomic_load(&c->disorder) == 0, "%d completions passed an undeclared version",
           atomic_load(&c->disorder));
    EXPECT(atomic_load(&c->undurable) == 0, "%d SYNC commits completed unsynced",
           atomic_load(&c->undurable));
    EXPECT(s.done_version == COMPLETION_VERSIONS, "done_version %" PRIu64, s.done_version);
    EXPECT(s.syncs < atomic_load(&c->sync_commits), "%" PRIu64 " syncs for %" PRIu64
           " SYNC commits: no grouping", s.syncs, atomic_load(&c->sync_commits));
out:
    if (sh.w != NULL)
        wal_close(sh.w);
    wal_fs_free(fs);
    pthread_mutex_destroy(&sh.commit_lock);
    free(c);
    wt_rmtree(dir);
    return ok;
}

typedef struct later_commit {
    wal *w;
    uint64_t lsn, done;
    cairn_status st;
} later_commit;

static void *complete_version_two(void *arg)
{
    later_commit *lc = arg;
    lc->st = wal_commit_wait(lc->w, 2, lc->lsn, CAIRN_DURABILITY_NONE, &lc->done);
    return NULL;
}

/* Version 2 is declared first; it cannot complete (nor can done_version
 * move) until version 1 is declared, and then both complete. */
static bool scenario_a_version_waits_for_every_older_one(char *msg, size_t cap)
{
    char *dir = wt_mkdtemp();
    wal_fs *fs = NULL;
    wal_config cfg = wt_config(64 * 1024);
    wal *w = NULL;
    later_commit lc = {0};
    pthread_t th;
    bool started = false, ok = true;
    uint64_t lsn1 = 0, done1 = 0;
    wal_stats s;

    EXPECT(wal_fs_new_posix(&fs) == CAIRN_OK, "fs");
    EXPECT(wal_open(fs, dir, &cfg, &w, NULL) == CAIRN_OK, "wal_open");
    EXPECT(wt_append(w, 1, 10, &lsn1) == CAIRN_OK, "append 1");
    EXPECT(wt_append(w, 2, 10, &lc.lsn) == CAIRN_OK, "append 2");
    lc.w = w;
    EXPECT(pthread_create(&th, NULL, complete_version_two, &lc) == 0, "thread");
    started = true;
    wal_get_stats(w, &s);
    EXPECT(s.done_version == 0, "done_version %" PRIu64 " before version 1 was declared",
           s.done_version);
    EXPECT(wal_commit_wait(w, 1, lsn1, CAIRN_DURABILITY_SYNC, &done1) == CAIRN_OK, "wait 1");
    EXPECT(done1 >= 1, "version 1 completed as %" PRIu64, done1);
    pthread_join(th, NULL);
    started = false;
    EXPECT(lc.st == CAIRN_OK && lc.done == 2, "version 2: status %d, done %" PRIu64, lc.st,
           lc.done);
    EXPECT(wal_commit_wait(w, 2, lc.lsn, CAIRN_DURABILITY_NONE, &done1) ==
               CAIRN_INVALID_ARGUMENT,
           "a version completes once");
out:
    if (started)
        pthread_join(th, NULL);
    if (w != NULL)
        wal_close(w);
    wal_fs_free(fs);
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
        {"commit_wait_in_order", scenario_commit_wait_in_order},
        {"a_version_waits_for_every_older_one", scenario_a_version_waits_for_every_older_one},
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

Test(wal_concurrency, commit_wait_completes_every_mode_in_version_order)
{
    RUN(scenario_commit_wait_in_order);
}

Test(wal_concurrency, a_version_completes_only_after_every_older_one_is_declared)
{
    RUN(scenario_a_version_waits_for_every_older_one);
}

#endif
