/*
 * tests/wal/test_wal_map.c - the log on the POSIX file layer, where the
 * current segment is written through a shared mapping: round trips,
 * roll-over and resume, what a killed process leaves behind, the buffered
 * path it falls back to, and a full disk at segment creation.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "wal/segment.h"
#include "wal_test_util.h"

static char *dir;
static wal_fs *fs;

static void setup(void)
{
    dir = wt_mkdtemp();
    cr_assert_eq(wal_fs_new_posix(&fs), CAIRN_OK);
}

static void teardown(void)
{
    wal_fs_free(fs);
    wt_rmtree(dir);
}

TestSuite(wal_map, .init = setup, .fini = teardown);

static wal *open_wal(wal_config cfg)
{
    wal *w = NULL;
    wal_err err;
    cairn_status st = wal_open(fs, dir, &cfg, &w, &err);

    cr_assert_eq(st, CAIRN_OK, "wal_open: %s", err.msg);
    return w;
}

static cairn_status replay(wt_replayed *r, wal_replay_report *rep)
{
    static const uint8_t id[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                   0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
    wal_err err;
    cairn_status st;

    memset(r, 0, sizeof *r);
    r->content_ok = true;
    st = wal_replay(fs, dir, id, 0, wt_collect, r, true, rep, &err);
    cr_assert_eq(st, CAIRN_OK, "replay: %s", err.msg);
    return st;
}

static void assert_versions(const wt_replayed *r, uint64_t n)
{
    cr_assert_eq(r->n, n, "replayed %zu records, expected %" PRIu64, r->n, n);
    for (size_t i = 0; i < r->n; i++)
        cr_assert_eq(r->versions[i], i + 1, "version %" PRIu64 " at %zu", r->versions[i], i);
    cr_assert(r->content_ok, "record content differs");
}

Test(wal_map, the_posix_layer_writes_records_through_the_mapping_without_pwrite)
{
    wal *w = open_wal(wt_config(1 << 20));
    wt_replayed *r = malloc(sizeof *r);
    wal_replay_report rep;
    uint64_t lsn = 0;
    wal_stats s;

    cr_assert(wal_fs_can_map(fs));
    for (uint64_t v = 1; v <= 200; v++)
        cr_assert_eq(wt_append(w, v, 40, &lsn), CAIRN_OK);
    wal_get_stats(w, &s);
    cr_assert(s.mapped, "the current segment is not mapped");
    cr_assert_eq(s.written_lsn, lsn, "a mapped record is in the OS once appended");
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC), CAIRN_OK);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_SYNC), CAIRN_OK);
    wal_get_stats(w, &s);
    cr_assert_eq(s.writes, 0, "%" PRIu64 " pwrite calls on a mapped segment", s.writes);
    cr_assert_eq(s.synced_lsn, lsn);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    replay(r, &rep);
    assert_versions(r, 200);
    free(r);
}

Test(wal_map, mapped_segments_roll_over_and_a_reopened_log_continues_mapped)
{
    wal_config cfg = wt_config(WAL_SEGMENT_MIN_SIZE);
    wal *w = open_wal(cfg);
    wt_replayed *r = malloc(sizeof *r);
    wal_replay_report rep;
    uint64_t lsn = 0;
    wal_stats s;

    for (uint64_t v = 1; v <= 100; v++)
        cr_assert_eq(wt_append(w, v, 300, &lsn), CAIRN_OK);
    /* a record larger than a whole segment gets a mapped segment of its own */
    cr_assert_eq(wt_append(w, 101, 3 * WAL_SEGMENT_MIN_SIZE, &lsn), CAIRN_OK);
    cr_assert_eq(wt_append(w, 102, 10, &lsn), CAIRN_OK);
    wal_get_stats(w, &s);
    cr_assert_gt(s.segments_created, 5);
    cr_assert(s.mapped);
    cr_assert_eq(wal_close(w), CAIRN_OK);

    replay(r, &rep);
    assert_versions(r, 102);
    cfg.resume_segment = rep.resume_segment;
    cfg.resume_offset = rep.resume_offset;
    cfg.last_version = rep.last_version;
    w = open_wal(cfg);
    wal_get_stats(w, &s);
    cr_assert(s.mapped, "a resumed segment is mapped too");
    for (uint64_t v = 103; v <= 150; v++)
        cr_assert_eq(wt_append(w, v, 300, &lsn), CAIRN_OK);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    replay(r, &rep);
    assert_versions(r, 150);
    free(r);
}

/*
 * A child appends without any sync and is killed with SIGKILL: the records
 * it appended are in the page cache, so the file holds every one of them.
 */
Test(wal_map, records_appended_by_a_killed_process_are_all_in_the_file)
{
    wt_replayed *r = malloc(sizeof *r);
    wal_replay_report rep;
    int status = 0;
    pid_t pid = fork();

    cr_assert_neq(pid, -1);
    if (pid == 0) {
        wal_config cfg = wt_config(64 * 1024);
        wal *w = NULL;
        uint64_t lsn = 0;
        cfg.sync_interval_ms = 0; /* nothing syncs: only the page cache holds them */
        if (wal_open(fs, dir, &cfg, &w, NULL) != CAIRN_OK)
            _exit(2);
        for (uint64_t v = 1; v <= 500; v++)
            if (wt_append(w, v, 200, &lsn) != CAIRN_OK ||
                wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC) != CAIRN_OK)
                _exit(3);
        raise(SIGKILL);
        _exit(4);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    replay(r, &rep);
    assert_versions(r, 500);
    cr_assert_not(rep.torn);
    free(r);
}

Test(wal_map, map_segments_false_keeps_the_buffered_pwrite_path)
{
    wal_config cfg = wt_config(1 << 20);
    wal *w;
    wt_replayed *r = malloc(sizeof *r);
    wal_replay_report rep;
    uint64_t lsn = 0;
    wal_stats s;

    cfg.map_segments = false;
    w = open_wal(cfg);
    for (uint64_t v = 1; v <= 20; v++)
        cr_assert_eq(wt_append(w, v, 40, &lsn), CAIRN_OK);
    wal_get_stats(w, &s);
    cr_assert_not(s.mapped);
    cr_assert_lt(s.written_lsn, lsn, "a buffered record waits for the log's pwrite");
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC), CAIRN_OK);
    wal_get_stats(w, &s);
    cr_assert_eq(s.writes, 1, "one pwrite for everything buffered");
    cr_assert_eq(wal_close(w), CAIRN_OK);
    replay(r, &rep);
    assert_versions(r, 20);
    free(r);
}

Test(wal_map, the_test_layer_never_maps_so_its_faults_and_power_loss_see_every_write)
{
    wal_fs *tfs = NULL;
    wal *w = NULL;
    wal_config cfg = wt_config(1 << 20);
    uint64_t lsn = 0;
    wal_stats s;

    cr_assert_eq(wal_fs_new_test(&tfs), CAIRN_OK);
    cr_assert_not(wal_fs_can_map(tfs));
    cr_assert_eq(wal_open(tfs, dir, &cfg, &w, NULL), CAIRN_OK);
    cr_assert_eq(wt_append(w, 1, 40, &lsn), CAIRN_OK);
    wal_get_stats(w, &s);
    cr_assert_not(s.mapped);
    cr_assert_eq(wal_fs_op_count(tfs, WAL_FS_OP_WRITE), 1, "only the segment header so far");
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC), CAIRN_OK);
    cr_assert_eq(wal_fs_op_count(tfs, WAL_FS_OP_WRITE), 2, "the record went through pwrite");
    cr_assert_eq(wal_close(w), CAIRN_OK);
    wal_fs_free(tfs);
}

/*
 * A disk too full for the next segment: preallocation fails at segment
 * creation with CAIRN_IO naming fallocate, before any store into a mapping
 * could meet a missing block (and raise SIGBUS).  The file-size limit
 * stands in for a full disk (posix_fallocate fails with EFBIG, not
 * ENOSPC); a child process carries the limit.
 */
Test(wal_map, a_segment_that_cannot_be_preallocated_fails_with_a_status_not_a_signal)
{
    int status = 0;
    pid_t pid = fork();

    cr_assert_neq(pid, -1);
    if (pid == 0) {
        struct rlimit lim = {64 * 1024, 64 * 1024};
        wal_config cfg = wt_config(48 * 1024);
        wal *w = NULL;
        wal_err err;
        uint64_t lsn = 0, v = 0;
        cairn_status st = CAIRN_OK;

        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
            _exit(2);
        cfg.segment_size = 128 * 1024; /* above the limit: the open fails */
        if (wal_open(fs, dir, &cfg, &w, &err) != CAIRN_IO || strstr(err.msg, "fallocate") == NULL)
            _exit(3);
        cfg.segment_size = 48 * 1024; /* fits */
        if (wal_open(fs, dir, &cfg, &w, &err) != CAIRN_OK)
            _exit(4);
        while (st == CAIRN_OK && v < 10)
            st = wt_append(w, ++v, 1000, &lsn);
        /* a record that needs a segment of its own, larger than the limit */
        if (st != CAIRN_OK || wt_append(w, ++v, 80 * 1024, &lsn) != CAIRN_IO ||
            !wal_is_poisoned(w))
            _exit(5);
        wal_errmsg(w, err.msg, sizeof err.msg);
        if (strstr(err.msg, "fallocate") == NULL)
            _exit(6);
        wal_close(w);
        _exit(0);
    }
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
    cr_assert_eq(WEXITSTATUS(status), 0, "child failed at step %d", WEXITSTATUS(status));
}
