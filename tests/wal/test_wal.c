/*
 * tests/wal/test_wal.c - the log writer and replay, single-threaded:
 * round trips, roll-over, poisoning, the torn-tail rule, corruption
 * reports, read-only replay and power loss.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <xxhash.h>

#include "wal/segment.h"
#include "wal_test_util.h"

static char *dir;
static wal_fs *fs;

static void setup(void)
{
    dir = wt_mkdtemp();
    cr_assert_eq(wal_fs_new_test(&fs), CAIRN_OK);
}

static void teardown(void)
{
    wal_fs_free(fs);
    wt_rmtree(dir);
}

TestSuite(wal, .init = setup, .fini = teardown);

static wal *open_wal(wal_config cfg)
{
    wal *w = NULL;
    wal_err err;
    cairn_status st = wal_open(fs, dir, &cfg, &w, &err);

    cr_assert_eq(st, CAIRN_OK, "wal_open: %s", err.msg);
    return w;
}

/* Appends versions [from, to] with `value_len`-byte values, then syncs. */
static void append_range(wal *w, uint64_t from, uint64_t to, uint32_t value_len)
{
    uint64_t lsn = 0;

    for (uint64_t v = from; v <= to; v++)
        cr_assert_eq(wt_append(w, v, value_len, &lsn), CAIRN_OK, "append %" PRIu64, v);
    cr_assert_eq(wal_sync(w), CAIRN_OK);
}

/* Replays the log into `*r`; returns the status. */
static cairn_status replay(wt_replayed *r, uint64_t after, bool read_only,
                           wal_replay_report *rep, wal_err *err)
{
    static const uint8_t id[16] = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                   0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};
    memset(r, 0, sizeof *r);
    r->content_ok = true;
    return wal_replay(fs, dir, id, after, wt_collect, r, read_only, rep, err);
}

static char *segment_path(uint64_t no)
{
    char name[WAL_SEGMENT_NAME_MAX];
    char *waldir = wal_dir_path(dir), *p;

    wal_segment_name(name, no);
    p = wt_path(waldir, name);
    free(waldir);
    return p;
}

/* Size of the record wt_make_record(version, value_len) builds. */
static size_t record_size(uint64_t version, uint32_t value_len)
{
    size_t n = 0;
    free(wt_make_record(version, value_len, &n));
    return n;
}

Test(wal, append_then_replay_round_trips_every_record)
{
    wal *w = open_wal(wt_config(1 << 20));
    wal_replay_report rep;
    wt_replayed r;
    wal_stats s;
    size_t bytes = 0;

    append_range(w, 1, 100, 50);
    wal_get_stats(w, &s);
    cr_assert_eq(s.records, 100);
    cr_assert_eq(s.last_version, 100);
    cr_assert_eq(s.synced_lsn, s.appended_lsn);
    cr_assert_eq(wal_close(w), CAIRN_OK);

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 100);
    cr_assert(r.content_ok);
    for (size_t i = 0; i < r.n; i++)
        cr_assert_eq(r.versions[i], i + 1);
    for (uint64_t v = 1; v <= 100; v++)
        bytes += record_size(v, 50);
    cr_assert_eq(rep.records_read, 100);
    cr_assert_eq(rep.records_replayed, 100);
    cr_assert_eq(rep.last_version, 100);
    cr_assert_eq(rep.segments_read, 1);
    cr_assert_eq(rep.resume_segment, 1);
    cr_assert_eq(rep.resume_offset, WAL_SEGMENT_HEADER_SIZE + bytes);
    cr_assert_eq(rep.record_bytes, bytes);
    cr_assert_not(rep.torn);
}

Test(wal, replay_skips_versions_at_or_below_after_version)
{
    wal *w = open_wal(wt_config(1 << 20));
    wal_replay_report rep;
    wt_replayed r;

    append_range(w, 1, 20, 10);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cr_assert_eq(replay(&r, 15, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 5);
    cr_assert_eq(r.versions[0], 16);
    cr_assert_eq(rep.records_read, 20);
    cr_assert_eq(rep.records_replayed, 5);
}

Test(wal, empty_or_missing_log_replays_nothing)
{
    wal_replay_report rep;
    wt_replayed r;

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(rep.segments_read, 0);
    cr_assert_eq(rep.resume_segment, 0);
    cr_assert_eq(r.n, 0);
}

Test(wal, segments_roll_over_and_replay_in_order)
{
    wal *w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    wal_replay_report rep;
    wt_replayed r;
    wal_stats s;
    char *p;
    struct stat sb;

    append_range(w, 1, 200, 200);
    wal_get_stats(w, &s);
    cr_assert_gt(s.segment_no, 5, "200 records of ~220 bytes need many 4 KiB segments");
    cr_assert_eq(s.segments_created, s.segment_no);
    cr_assert_eq(wal_close(w), CAIRN_OK);

    p = segment_path(2);
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_size, (off_t)WAL_SEGMENT_MIN_SIZE, "segments are preallocated");
    free(p);

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 200);
    cr_assert(r.content_ok);
    for (size_t i = 0; i < r.n; i++)
        cr_assert_eq(r.versions[i], i + 1);
    cr_assert_eq(rep.segments_read, s.segment_no);
    cr_assert_eq(rep.last_segment, s.segment_no);
}

Test(wal, record_larger_than_a_segment_gets_its_own_segment)
{
    wal *w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    wal_replay_report rep;
    wt_replayed r;
    wal_stats s;
    struct stat sb;
    char *p;

    append_range(w, 1, 1, 10);
    append_range(w, 2, 2, 10000);
    append_range(w, 3, 3, 10);
    wal_get_stats(w, &s);
    cr_assert_eq(s.segment_no, 2, "the big record opened segment 2, the next fits after it");
    cr_assert_eq(wal_close(w), CAIRN_OK);
    p = segment_path(2);
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_size, 12288, "sized to fit the record, rounded to 4 KiB");
    free(p);
    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(rep.segments_read, 2);
    cr_assert(r.content_ok);
}

Test(wal, reopen_at_resume_position_continues_the_last_segment)
{
    wal *w = open_wal(wt_config(1 << 20));
    wal_replay_report rep;
    wal_config cfg;
    wt_replayed r;
    wal_stats s;

    append_range(w, 1, 10, 30);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);

    cfg = wt_config(1 << 20);
    cfg.resume_segment = rep.resume_segment;
    cfg.resume_offset = rep.resume_offset;
    cfg.last_version = rep.last_version;
    w = open_wal(cfg);
    wal_get_stats(w, &s);
    cr_assert_eq(s.segment_no, 1);
    cr_assert_eq(s.segment_offset, rep.resume_offset);
    cr_assert_eq(wt_append(w, 10, 30, &(uint64_t){0}), CAIRN_INVALID_ARGUMENT,
                 "versions must keep increasing across a reopen");
    append_range(w, 11, 20, 30);
    cr_assert_eq(wal_close(w), CAIRN_OK);

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 20);
    cr_assert_eq(rep.segments_read, 1);
    cr_assert(r.content_ok);
}

Test(wal, new_log_after_existing_segments_takes_the_next_number)
{
    wal *w = open_wal(wt_config(1 << 20));
    wal_config cfg = wt_config(1 << 20);
    wal_stats s;

    append_range(w, 1, 3, 10);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cfg.last_version = 3;
    w = open_wal(cfg);
    wal_get_stats(w, &s);
    cr_assert_eq(s.segment_no, 2);
    append_range(w, 4, 5, 10);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    {
        wt_replayed r;
        wal_replay_report rep;
        cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
        cr_assert_eq(r.n, 5);
    }
}

Test(wal, malformed_or_out_of_order_append_is_invalid)
{
    wal *w = open_wal(wt_config(1 << 20));
    uint8_t junk[30] = {0};
    uint64_t lsn = 0;

    cr_assert_eq(wal_append(w, junk, sizeof junk, &lsn), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wt_append(w, 5, 1, &lsn), CAIRN_OK);
    cr_assert_eq(wt_append(w, 5, 1, &lsn), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wt_append(w, 4, 1, &lsn), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wal_wait_durable(w, lsn + 1, CAIRN_DURABILITY_SYNC), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_NONE), CAIRN_OK);
    cr_assert_not(wal_is_poisoned(w));
    cr_assert_eq(wal_close(w), CAIRN_OK);
}

Test(wal, sync_wait_issues_one_fdatasync_and_async_wait_none)
{
    wal *w = open_wal(wt_config(1 << 20));
    uint64_t lsn = 0;
    wal_stats s0, s1, s2;

    wal_get_stats(w, &s0);
    cr_assert_eq(wt_append(w, 1, 10, &lsn), CAIRN_OK);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC), CAIRN_OK);
    wal_get_stats(w, &s1);
    cr_assert_eq(s1.syncs, s0.syncs);
    cr_assert_eq(s1.written_lsn, lsn);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_SYNC), CAIRN_OK);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_SYNC), CAIRN_OK);
    wal_get_stats(w, &s2);
    cr_assert_eq(s2.syncs, s1.syncs + 1, "a covered wait does not sync again");
    cr_assert_eq(s2.synced_lsn, lsn);
    cr_assert_eq(wal_close(w), CAIRN_OK);
}

/* ---- Poisoning ---------------------------------------------------------- */

Test(wal, failed_fdatasync_poisons_the_wal_for_good)
{
    wal *w = open_wal(wt_config(1 << 20));
    uint64_t lsn = 0;
    char msg[WAL_ERR_MAX];

    cr_assert_eq(wt_append(w, 1, 10, &lsn), CAIRN_OK);
    wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 1, EIO, false);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_SYNC), CAIRN_IO);
    cr_assert(wal_is_poisoned(w));
    wal_errmsg(w, msg, sizeof msg);
    cr_assert(strstr(msg, "fdatasync") != NULL && strstr(msg, "000001.wal") != NULL,
              "message: %s", msg);
    /* The injected fault is spent: a retry would succeed, and must not be tried. */
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_SYNC), CAIRN_IO);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC), CAIRN_IO);
    cr_assert_eq(wt_append(w, 2, 10, &lsn), CAIRN_IO);
    cr_assert_eq(wal_sync(w), CAIRN_IO);
    cr_assert_eq(wal_close(w), CAIRN_IO);
}

Test(wal, failed_write_poisons_the_wal)
{
    wal *w = open_wal(wt_config(1 << 20));
    uint64_t lsn = 0;

    cr_assert_eq(wt_append(w, 1, 10, &lsn), CAIRN_OK);
    wal_fs_fail_nth(fs, WAL_FS_OP_WRITE, 1, ENOSPC, false);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC), CAIRN_IO);
    cr_assert(wal_is_poisoned(w));
    cr_assert_eq(wt_append(w, 2, 10, &lsn), CAIRN_IO);
    cr_assert_eq(wal_close(w), CAIRN_IO);
}

Test(wal, failed_segment_roll_over_poisons_and_leaves_no_segment_behind)
{
    wal *w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    wal_replay_report rep;
    wt_replayed r;
    uint64_t lsn = 0;
    char **names = NULL;
    size_t n = 0;
    char *waldir = wal_dir_path(dir);

    append_range(w, 1, 3, 1000);
    wal_fs_fail_nth(fs, WAL_FS_OP_RENAME, 1, EIO, false);
    cr_assert_eq(wt_append(w, 4, 1000, &lsn), CAIRN_IO, "the roll-over could not finish");
    cr_assert(wal_is_poisoned(w));
    cr_assert_eq(wal_close(w), CAIRN_IO);

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 3);
    /* Reopening removes the half-made temporary segment. */
    w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cr_assert_eq(wal_fs_list(fs, waldir, &names, &n, NULL), CAIRN_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert(strstr(names[i], ".tmp") == NULL, "left over: %s", names[i]);
    wal_fs_list_free(names, n);
    free(waldir);
}

/* ---- Torn tails and corruption ------------------------------------------ */

/*
 * Writes versions 1..5 durably, then version 6 (2000-byte value) written
 * but not synced, and pulls the plug keeping `keep_sectors` of that write.
 * Returns the offset where record 6 starts.
 */
static uint64_t crash_with_torn_record(uint32_t keep_sectors)
{
    wal *w = open_wal(wt_config(1 << 20));
    uint64_t lsn = 0, off = WAL_SEGMENT_HEADER_SIZE;

    append_range(w, 1, 5, 100);
    for (uint64_t v = 1; v <= 5; v++)
        off += record_size(v, 100);
    cr_assert_eq(wt_append(w, 6, 2000, &lsn), CAIRN_OK);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, keep_sectors, NULL), CAIRN_OK);
    cr_assert_eq(wal_close(w), CAIRN_IO, "the machine is off: the final sync fails");
    wal_fs_restart(fs);
    return off;
}

Test(wal, torn_tail_is_truncated_and_reported)
{
    uint64_t off = crash_with_torn_record(2);
    wal_replay_report rep;
    wt_replayed r;
    char *seg = segment_path(1);
    wal *w;
    wal_config cfg;

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 5, "the torn record is not replayed");
    cr_assert(r.content_ok);
    cr_assert(rep.torn);
    cr_assert(rep.repaired);
    cr_assert_eq(rep.torn_offset, off);
    cr_assert_eq(rep.bytes_truncated, record_size(6, 2000));
    cr_assert_str_eq(rep.torn_path, seg);
    cr_assert_eq(rep.resume_offset, off);

    /* Repaired: a second replay finds a clean log... */
    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_not(rep.torn);
    cr_assert_eq(r.n, 5);
    /* ...and the log continues where the torn record was. */
    cfg = wt_config(1 << 20);
    cfg.resume_segment = rep.resume_segment;
    cfg.resume_offset = rep.resume_offset;
    cfg.last_version = rep.last_version;
    w = open_wal(cfg);
    append_range(w, 6, 8, 10);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 8);
    cr_assert(r.content_ok);
    free(seg);
}

Test(wal, unsynced_record_lost_whole_leaves_a_clean_log)
{
    crash_with_torn_record(0);
    wal_replay_report rep;
    wt_replayed r;

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 5);
    cr_assert_not(rep.torn);
}

Test(wal, read_only_replay_reports_torn_tail_and_changes_nothing)
{
    uint64_t off = crash_with_torn_record(1);
    char *seg = segment_path(1);
    size_t len0 = 0, len1 = 0;
    uint8_t *before = wt_read_file(seg, &len0), *after;
    wal_replay_report rep;
    wt_replayed r;

    cr_assert_eq(replay(&r, 0, true, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 5);
    cr_assert(rep.torn);
    cr_assert_not(rep.repaired);
    cr_assert_eq(rep.torn_offset, off);
    after = wt_read_file(seg, &len1);
    cr_assert_eq(len0, len1);
    cr_assert_eq(memcmp(before, after, len0), 0, "read-only replay wrote to the segment");
    free(before);
    free(after);
    free(seg);
}

Test(wal, flipped_byte_in_a_middle_record_is_corrupt_with_file_and_offset)
{
    wal *w = open_wal(wt_config(1 << 20));
    char *seg = segment_path(1);
    uint64_t off = WAL_SEGMENT_HEADER_SIZE;
    wal_replay_report rep;
    wt_replayed r;
    wal_err err;
    char want[64];

    /* records 6..10 are appended after 1..5 were synced, and say so */
    append_range(w, 1, 5, 40);
    cr_assert_eq(wal_sync(w), CAIRN_OK);
    append_range(w, 6, 10, 40);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    for (uint64_t v = 1; v < 5; v++)
        off += record_size(v, 40);
    wt_flip_byte(seg, off + 30); /* inside record 5's first op */

    cr_assert_eq(replay(&r, 0, false, &rep, &err), CAIRN_CORRUPT);
    snprintf(want, sizeof want, "offset %" PRIu64, off);
    cr_assert(strstr(err.msg, seg) != NULL, "message: %s", err.msg);
    cr_assert(strstr(err.msg, want) != NULL, "message: %s (want %s)", err.msg, want);
    cr_assert_eq(r.n, 4, "records before the damage were delivered, none after");
    free(seg);
}

Test(wal, damaged_length_field_hiding_later_records_is_corrupt)
{
    wal *w = open_wal(wt_config(1 << 20));
    char *seg = segment_path(1);
    uint64_t off = WAL_SEGMENT_HEADER_SIZE;
    uint8_t len[4];
    wal_replay_report rep;
    wt_replayed r;
    size_t covered = 0;

    append_range(w, 1, 8, 40);
    cr_assert_eq(wal_sync(w), CAIRN_OK);
    append_range(w, 9, 10, 40);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    for (uint64_t v = 1; v < 8; v++)
        off += record_size(v, 40);
    for (uint64_t v = 8; v <= 10; v++)
        covered += record_size(v, 40);
    /* Record 8's length now swallows records 9 and 10 exactly: only zeros
     * follow it, but valid records hide inside, so it is not a torn tail. */
    wal_put_u32(len, (uint32_t)covered);
    wt_patch_file(seg, off, len, sizeof len);
    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_CORRUPT);
    free(seg);
}

Test(wal, damage_to_unsynced_records_followed_by_more_unsynced_records_is_a_torn_tail)
{
    /* After power loss a later unsynced write can survive while an earlier
     * one is lost: no later record vouches that the damaged one was synced,
     * so recovery cuts the log there instead of refusing to open. */
    wal *w = open_wal(wt_config(1 << 20));
    char *seg = segment_path(1);
    uint64_t off = WAL_SEGMENT_HEADER_SIZE;
    wal_replay_report rep;
    wt_replayed r;

    append_range(w, 1, 3, 40);
    cr_assert_eq(wal_sync(w), CAIRN_OK);
    append_range(w, 4, 10, 40); /* never synced before the close below */
    cr_assert_eq(wal_close(w), CAIRN_OK);
    for (uint64_t v = 1; v < 5; v++)
        off += record_size(v, 40);
    wt_flip_byte(seg, off + 30); /* inside record 5 */

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 4, "the records before the damage survive, none after");
    cr_assert(rep.torn && rep.repaired);
    cr_assert_eq(rep.torn_offset, off);
    /* the repair cleared the rest: a second replay finds a clean log */
    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 4);
    cr_assert_not(rep.torn);
    free(seg);
}

Test(wal, damage_in_a_segment_that_is_not_the_last_is_corrupt)
{
    wal *w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    char *seg = segment_path(1);
    wal_replay_report rep;
    wt_replayed r;
    wal_err err;
    uint64_t off = WAL_SEGMENT_HEADER_SIZE;
    uint8_t zeros[64] = {0};

    append_range(w, 1, 40, 200);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    /* Zero the tail of segment 1's last record: it looks torn, but the log
     * goes on in segment 2, so it is damage. */
    for (uint64_t v = 1; v <= 3; v++)
        off += record_size(v, 200);
    wt_patch_file(seg, off - 64, zeros, sizeof zeros);
    cr_assert_eq(replay(&r, 0, false, &rep, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, "not the last") != NULL, "message: %s", err.msg);
    free(seg);
}

Test(wal, bad_header_is_corrupt)
{
    wal *w = open_wal(wt_config(1 << 20));
    char *seg = segment_path(1);
    wal_replay_report rep;
    wt_replayed r;
    wal_err err;

    append_range(w, 1, 2, 10);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    wt_flip_byte(seg, 20);
    cr_assert_eq(replay(&r, 0, false, &rep, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, seg) != NULL && strstr(err.msg, "offset 0") != NULL,
              "message: %s", err.msg);
    free(seg);
}

Test(wal, segment_of_another_database_is_corrupt)
{
    wal_config cfg = wt_config(1 << 20);
    wal *w;
    wal_replay_report rep;
    wt_replayed r;

    cfg.db_id[0] ^= 1;
    w = open_wal(cfg);
    append_range(w, 1, 2, 10);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_CORRUPT);
}

Test(wal, missing_middle_segment_is_corrupt)
{
    wal *w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    char *seg = segment_path(2);
    wal_replay_report rep;
    wt_replayed r;
    wal_err err;

    append_range(w, 1, 60, 200);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cr_assert_eq(unlink(seg), 0);
    cr_assert_eq(replay(&r, 0, false, &rep, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, "missing") != NULL, "message: %s", err.msg);
    free(seg);
}

/* ---- Power loss --------------------------------------------------------- */

Test(wal, acknowledged_sync_commits_survive_power_loss)
{
    wal *w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    wal_replay_report rep;
    wt_replayed r;
    uint64_t lsn = 0;

    for (uint64_t v = 1; v <= 30; v++) {
        cr_assert_eq(wt_append(w, v, 150, &lsn), CAIRN_OK);
        cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_SYNC), CAIRN_OK);
    }
    /* Two more written to the OS but never synced. */
    cr_assert_eq(wt_append(w, 31, 150, &lsn), CAIRN_OK);
    cr_assert_eq(wt_append(w, 32, 150, &lsn), CAIRN_OK);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_ASYNC), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 1, NULL), CAIRN_OK);
    cr_assert_eq(wal_close(w), CAIRN_IO);
    wal_fs_restart(fs);

    cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
    cr_assert_geq(r.n, 30, "every acknowledged SYNC commit is there");
    cr_assert_leq(r.n, 32);
    for (size_t i = 0; i < r.n; i++)
        cr_assert_eq(r.versions[i], i + 1, "no holes");
    cr_assert(r.content_ok);
}

/* ---- Removal ------------------------------------------------------------ */

Test(wal, remove_covered_deletes_only_fully_checkpointed_segments)
{
    wal *w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    wal_replay_report rep;
    wt_replayed r;
    wal_stats s0, s1;
    uint64_t removed = 0;
    char *seg1 = segment_path(1), *seg2 = segment_path(2);

    append_range(w, 1, 60, 200); /* about 17 records per segment */
    wal_get_stats(w, &s0);
    cr_assert_eq(wal_remove_covered(w, 10, &removed), CAIRN_OK);
    cr_assert_eq(removed, 0, "segment 1 still holds versions above 10");
    cr_assert_eq(wal_remove_covered(w, 40, &removed), CAIRN_OK);
    cr_assert_geq(removed, 2);
    cr_assert(!wt_file_exists(seg1) && !wt_file_exists(seg2));
    wal_get_stats(w, &s1);
    cr_assert_lt(s1.total_bytes, s0.total_bytes);
    cr_assert_eq(wal_remove_covered(w, 1000, &removed), CAIRN_OK);
    wal_get_stats(w, &s1);
    cr_assert_eq(s1.total_bytes, s1.segment_offset, "only the current segment is left");
    cr_assert_eq(wal_close(w), CAIRN_OK);

    cr_assert_eq(replay(&r, 40, false, &rep, NULL), CAIRN_OK);
    cr_assert_eq(rep.first_segment, s1.segment_no);
    cr_assert_gt(r.n, 0);
    cr_assert_eq(r.versions[r.n - 1], 60);
    free(seg1);
    free(seg2);
}

Test(wal, remove_segments_before_never_removes_the_current_one)
{
    wal *w = open_wal(wt_config(WAL_SEGMENT_MIN_SIZE));
    wal_stats s;
    char *cur;

    append_range(w, 1, 60, 200);
    wal_get_stats(w, &s);
    cur = segment_path(s.segment_no);
    cr_assert_eq(wal_remove_segments_before(w, s.segment_no + 10), CAIRN_OK);
    cr_assert(wt_file_exists(cur));
    cr_assert_eq(wal_close(w), CAIRN_OK);
    {
        wal_replay_report rep;
        wt_replayed r;
        cr_assert_eq(replay(&r, 0, false, &rep, NULL), CAIRN_OK);
        cr_assert_eq(rep.segments_read, 1);
    }
    free(cur);
}

/* ---- arguments, segment headers and names, odd bytes at the end ------------ */

Test(wal, open_refuses_null_arguments_bad_sizes_and_bad_resume_positions)
{
    wal_config cfg = wt_config(1 << 20);
    wal *w = NULL;
    wal_err err;

    cr_assert_eq(wal_open(NULL, dir, &cfg, &w, &err), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wal_open(fs, dir, NULL, &w, &err), CAIRN_INVALID_ARGUMENT);
    cfg.segment_size = WAL_SEGMENT_MIN_SIZE - 1;
    cr_assert_eq(wal_open(fs, dir, &cfg, &w, &err), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(err.msg, "segment_size") != NULL, "message: %s", err.msg);
    cfg = wt_config(1 << 20);
    cfg.first_segment = 0;
    cr_assert_eq(wal_open(fs, dir, &cfg, &w, &err), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wal_close(NULL), CAIRN_OK);

    w = open_wal(wt_config(1 << 20));
    append_range(w, 1, 3, 10);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cfg = wt_config(1 << 20);
    cfg.resume_segment = 5;
    cfg.resume_offset = WAL_SEGMENT_HEADER_SIZE;
    cr_assert_eq(wal_open(fs, dir, &cfg, &w, &err), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(err.msg, "not the newest segment") != NULL, "message: %s", err.msg);
    cfg.resume_segment = 1;
    cfg.resume_offset = 10;
    cr_assert_eq(wal_open(fs, dir, &cfg, &w, &err), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(err.msg, "outside segment") != NULL, "message: %s", err.msg);
    cfg.resume_offset = (1 << 20) + 1;
    cr_assert_eq(wal_open(fs, dir, &cfg, &w, &err), CAIRN_INVALID_ARGUMENT);
    /* a resume into another database's log */
    cfg.resume_offset = WAL_SEGMENT_HEADER_SIZE;
    cfg.db_id[0] ^= 1;
    cr_assert_eq(wal_open(fs, dir, &cfg, &w, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, "another database") != NULL, "message: %s", err.msg);
}

Test(wal, appends_and_waits_refuse_what_cannot_be_logged_or_waited_for)
{
    wal *w = open_wal(wt_config(1 << 20));
    uint64_t lsn = 0, done = 0;
    const uint8_t key[] = "k";
    wal_op op = {.type = WAL_OP_PUT, .key = key, .key_len = 0};

    /* an op without a key, or of no known type, makes no record */
    cr_assert_eq(wal_append_ops(w, 1, &op, 1, &lsn), CAIRN_INVALID_ARGUMENT);
    op.key_len = 1;
    op.type = 9;
    cr_assert_eq(wal_append_ops(w, 1, &op, 1, &lsn), CAIRN_INVALID_ARGUMENT);
    op.type = WAL_OP_PUT;
    cr_assert_eq(wal_append_ops(w, 1, &op, 1, &lsn), CAIRN_OK);
    cr_assert_eq(wal_wait_durable(w, lsn, (cairn_durability)9), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wal_wait_durable(w, lsn + 1000, CAIRN_DURABILITY_SYNC), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wal_commit_wait(w, 1, lsn, (cairn_durability)9, &done), CAIRN_INVALID_ARGUMENT);
    /* once poisoned, a commit wait answers CAIRN_IO */
    wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 1, EIO, false);
    cr_assert_eq(wal_wait_durable(w, lsn, CAIRN_DURABILITY_SYNC), CAIRN_IO);
    cr_assert_eq(wal_commit_wait(w, 1, lsn, CAIRN_DURABILITY_NONE, &done), CAIRN_IO);
    cr_assert_eq(wal_close(w), CAIRN_IO);
}

Test(wal, replay_without_an_id_or_callback_takes_the_first_segments_id_and_counts)
{
    wal *w = open_wal(wt_config(1 << 20));
    wal_replay_report rep;
    wal_err err;

    append_range(w, 1, 7, 20);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cr_assert_eq(wal_replay(NULL, dir, NULL, 0, NULL, NULL, true, &rep, &err), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wal_replay(fs, dir, NULL, 0, NULL, NULL, true, NULL, &err), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(wal_replay(fs, dir, NULL, 3, NULL, NULL, true, &rep, &err), CAIRN_OK, "%s", err.msg);
    cr_assert_eq(rep.records_read, 7);
    cr_assert_eq(rep.records_replayed, 4);
    cr_assert_eq(rep.last_version, 7);
    cr_assert_eq(rep.db_id[0], 0xa0);
}

static cairn_status refuse_version_3(void *ctx, uint64_t version, const wal_op *ops, size_t n)
{
    (void)ops;
    (void)n;
    *(uint64_t *)ctx = version;
    return version == 3 ? CAIRN_NO_MEMORY : CAIRN_OK;
}

Test(wal, a_callback_refusing_a_record_stops_replay_with_its_status)
{
    wal *w = open_wal(wt_config(1 << 20));
    wal_replay_report rep;
    wal_err err;
    uint64_t last = 0;

    append_range(w, 1, 5, 20);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    cr_assert_eq(wal_replay(fs, dir, NULL, 0, refuse_version_3, &last, true, &rep, &err),
                 CAIRN_NO_MEMORY);
    cr_assert_eq(last, 3);
    cr_assert(strstr(err.msg, "callback refused version 3") != NULL, "message: %s", err.msg);
}

Test(wal, a_record_repeating_an_older_version_is_corrupt)
{
    wal *w = open_wal(wt_config(1 << 20));
    char *seg = segment_path(1);
    size_t n1 = 0, n2 = 0;
    uint8_t *r1 = wt_make_record(1, 20, &n1);
    wal_replay_report rep;
    wt_replayed r;
    wal_err err;

    free(wt_make_record(2, 20, &n2));
    cr_assert_eq(n1, n2, "records 1 and 2 have one size");
    append_range(w, 1, 3, 20);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    /* record 1's bytes again where record 2 was */
    wt_patch_file(seg, WAL_SEGMENT_HEADER_SIZE + n1, r1, n1);
    cr_assert_eq(replay(&r, 0, true, &rep, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, "version 1 does not follow 1") != NULL, "message: %s", err.msg);
    free(r1);
    free(seg);
}

Test(wal, fewer_bytes_than_a_length_field_end_the_log_when_zero_and_are_torn_otherwise)
{
    wal *w = open_wal(wt_config(1 << 20));
    char *seg = segment_path(1);
    uint64_t end = WAL_SEGMENT_HEADER_SIZE;
    const uint8_t junk[3] = {0xab, 0xcd, 0xef};
    wal_replay_report rep;
    wt_replayed r;

    append_range(w, 1, 4, 20);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    for (uint64_t v = 1; v <= 4; v++)
        end += record_size(v, 20);
    cr_assert_eq(truncate(seg, (off_t)(end + 3)), 0);
    cr_assert_eq(replay(&r, 0, true, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 4);
    cr_assert_not(rep.torn);
    wt_patch_file(seg, end, junk, sizeof junk);
    cr_assert_eq(replay(&r, 0, true, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 4);
    cr_assert(rep.torn);
    cr_assert_eq(rep.torn_offset, end);
    free(seg);
}

Test(wal, a_last_record_whose_length_is_below_a_header_is_a_torn_tail)
{
    wal *w = open_wal(wt_config(1 << 20));
    char *seg = segment_path(1);
    uint64_t off = WAL_SEGMENT_HEADER_SIZE;
    uint8_t len[4];
    wal_replay_report rep;
    wt_replayed r;

    append_range(w, 1, 5, 20);
    cr_assert_eq(wal_close(w), CAIRN_OK);
    for (uint64_t v = 1; v < 5; v++)
        off += record_size(v, 20);
    wal_put_u32(len, 3);
    wt_patch_file(seg, off, len, sizeof len);
    cr_assert_eq(replay(&r, 0, true, &rep, NULL), CAIRN_OK);
    cr_assert_eq(r.n, 4);
    cr_assert(rep.torn);
    cr_assert_eq(rep.torn_offset, off);
    free(seg);
}

/* Encodes `h`, writes the u32 `value` at byte `at` and re-seals the checksum. */
static void header_with(uint8_t *out, const wal_segment_header *h, size_t at, uint32_t value)
{
    wal_segment_header_encode(out, h);
    wal_put_u32(out + at, value);
    wal_put_u64(out + 56, XXH3_64bits(out, 56));
}

Test(wal, segment_headers_refuse_bad_magic_format_and_size)
{
    wal_segment_header h = {.segment_no = 7, .prev_version = 3}, got;
    uint8_t buf[WAL_SEGMENT_HEADER_SIZE];
    wal_err err;

    wal_segment_header_encode(buf, &h);
    cr_assert_eq(wal_segment_header_decode(buf, &got, &err), CAIRN_OK);
    cr_assert_eq(got.segment_no, 7);
    cr_assert_eq(got.prev_version, 3);
    buf[0] ^= 1;
    cr_assert_eq(wal_segment_header_decode(buf, &got, &err), CAIRN_CORRUPT);
    cr_assert_str_eq(err.msg, "bad segment magic");
    header_with(buf, &h, 8, WAL_FORMAT_VERSION + 1);
    cr_assert_eq(wal_segment_header_decode(buf, &got, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, "format version 2") != NULL, "message: %s", err.msg);
    header_with(buf, &h, 12, 128);
    cr_assert_eq(wal_segment_header_decode(buf, &got, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, "header size 128") != NULL, "message: %s", err.msg);
}

Test(wal, segment_names_parse_only_in_their_canonical_spelling)
{
    uint64_t no = 0;

    cr_assert(wal_segment_parse_name("000042.wal", &no));
    cr_assert_eq(no, 42);
    cr_assert(wal_segment_parse_name("1234567.wal", &no));
    cr_assert_eq(no, 1234567);
    cr_assert_not(wal_segment_parse_name("0000042.wal", &no), "a seventh digit as a leading zero");
    cr_assert_not(wal_segment_parse_name("00042.wal", &no), "fewer than six digits");
    cr_assert_not(wal_segment_parse_name("000042.wal.tmp", &no));
    cr_assert_not(wal_segment_parse_name("99999999999999999999.wal", &no), "past 64 bits");
    cr_assert_not(wal_segment_parse_name("123456789012345678901.wal", &no), "21 digits");
}

Test(wal, segment_create_and_open_check_what_they_find)
{
    char *waldir = wal_dir_path(dir);
    wal_segment_header h = {.segment_no = 1}, got;
    wal_file *f = NULL;
    uint64_t size = 0;
    wal_err err;

    memset(h.db_id, 0x5a, sizeof h.db_id);
    cr_assert_eq(wal_fs_mkdir(fs, waldir, &err), CAIRN_OK);
    cr_assert_eq(wal_segment_create(fs, waldir, &h, WAL_SEGMENT_MIN_SIZE, &f, &err), CAIRN_OK, "%s",
                 err.msg);
    wal_file_close(f);
    f = NULL;
    cr_assert_eq(wal_segment_create(fs, waldir, &h, WAL_SEGMENT_MIN_SIZE, &f, &err), CAIRN_EXISTS);
    cr_assert(strstr(err.msg, "already exists") != NULL, "message: %s", err.msg);
    cr_assert_eq(wal_segment_open(fs, waldir, 3, false, NULL, &f, &got, &size, &err), CAIRN_NOT_FOUND);

    /* a segment shorter than its header */
    char *two = wt_path(waldir, "000002.wal");
    FILE *fp = fopen(two, "wb");
    cr_assert_not_null(fp);
    fputs("CAIRNWAL", fp);
    fclose(fp);
    cr_assert_eq(wal_segment_open(fs, waldir, 2, false, NULL, &f, &got, &size, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, "shorter than the segment header") != NULL, "message: %s", err.msg);

    /* segment 1's bytes under the name of segment 4 */
    size_t n = 0;
    char *one = wt_path(waldir, "000001.wal"), *four = wt_path(waldir, "000004.wal");
    uint8_t *bytes = wt_read_file(one, &n);
    cr_assert_not_null(bytes);
    fp = fopen(four, "wb");
    cr_assert_not_null(fp);
    cr_assert_eq(fwrite(bytes, 1, n, fp), n);
    fclose(fp);
    cr_assert_eq(wal_segment_open(fs, waldir, 4, false, NULL, &f, &got, &size, &err), CAIRN_CORRUPT);
    cr_assert(strstr(err.msg, "header names segment 1") != NULL, "message: %s", err.msg);
    cr_assert_eq(wal_segment_open(fs, waldir, 1, false, h.db_id, &f, &got, &size, &err), CAIRN_OK);
    cr_assert_eq(size, WAL_SEGMENT_MIN_SIZE);
    wal_file_close(f);
    free(bytes);
    free(one);
    free(two);
    free(four);
    free(waldir);
}
