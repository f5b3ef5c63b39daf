/*
 * test_durable.c - durable databases: reopen round trips in every mode,
 * the lock, checkpoints, recovery reports, corruption and read-only opens.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/db_internal.h"

/* ---- temporary directories ------------------------------------------- */

typedef struct tmpdir {
    char base[64];   /* the mkdtemp directory */
    char path[96];   /* the database directory inside it (not yet created) */
} tmpdir;

static tmpdir tmp_make(void)
{
    tmpdir t;
    snprintf(t.base, sizeof t.base, "/tmp/cairn-durable-XXXXXX");
    cr_assert_not_null(mkdtemp(t.base));
    snprintf(t.path, sizeof t.path, "%s/db", t.base);
    return t;
}

static void tmp_remove(tmpdir *t)
{
    test_rm_tree(t->base);
}

static cairn_options durable_opts(cairn_durability mode)
{
    cairn_options o;
    cairn_options_init(&o);
    o.durability = mode;
    o.wal_segment_size = 1024 * 1024;
    return o;
}

static cairn_db *open_dir(const char *path, const cairn_options *o)
{
    cairn_db *db = NULL;
    char err[512];
    cairn_status st = cairn_db_open(path, o, &db, err, sizeof err);
    cr_assert_eq(st, CAIRN_OK, "open %s: %s: %s", path, cairn_status_name(st), err);
    return db;
}

static cairn_key numbered(const char *prefix, int i)
{
    char name[64];
    snprintf(name, sizeof name, "%s%06d", prefix, i);
    return test_key(name);
}

/* Commits `n` transactions of three keys each (k<i>, m<i>, and "last"). */
static void write_rounds(cairn_db *db, int from, int n, cairn_durability mode)
{
    for (int i = from; i < from + n; i++) {
        cairn_txn_options to;
        cairn_txn_options_init(&to);
        to.durability = mode;
        cairn_txn *t;
        ASSERT_OK(cairn_txn_begin(db, &to, &t));
        char v[32];
        snprintf(v, sizeof v, "value-%d", i);
        cairn_key k = numbered("k", i), m = numbered("m", i), last = test_key("last");
        ASSERT_OK(cairn_txn_put(t, &k, test_str(v)));
        ASSERT_OK(cairn_txn_put(t, &m, test_str(v)));
        ASSERT_OK(cairn_txn_put(t, &last, test_str(v)));
        if (i % 7 == 3) {
            cairn_key gone = numbered("k", i - 1);
            ASSERT_OK(cairn_txn_delete(t, &gone));
        }
        ASSERT_OK(cairn_txn_commit(t));
        cr_assert_eq(cairn_txn_commit_version(t), (uint64_t)i + 1);
        cairn_txn_free(t);
    }
}

/* Checks the state write_rounds(0, n) leaves. */
static void check_rounds(cairn_db *db, int n)
{
    char buf[64];
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "value-%d", i);
        cairn_key k = numbered("k", i), m = numbered("m", i);
        bool deleted = (i + 1) % 7 == 3 && i + 1 < n;
        if (deleted) {
            cr_assert_eq(test_get(db, &k, buf, sizeof buf), CAIRN_NOT_FOUND, "k%d should be deleted", i);
        } else {
            ASSERT_OK(test_get(db, &k, buf, sizeof buf));
            cr_assert_str_eq(buf, want);
        }
        ASSERT_OK(test_get(db, &m, buf, sizeof buf));
        cr_assert_str_eq(buf, want);
    }
    cairn_key last = test_key("last");
    if (n > 0) {
        char want[32];
        snprintf(want, sizeof want, "value-%d", n - 1);
        ASSERT_OK(test_get(db, &last, buf, sizeof buf));
        cr_assert_str_eq(buf, want);
    }
    cr_assert_eq(test_stats(db).visible_version, (uint64_t)n);
}

/* ---- round trips ------------------------------------------------------- */

static void round_trip(cairn_durability mode)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(mode);
    cairn_db *db = open_dir(d.path, &o);
    cairn_recovery_report r;
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert(r.durable && r.new_database);
    write_rounds(db, 0, 300, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_close(db));

    db = open_dir(d.path, &o);
    check_rounds(db, 300);
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert(!r.new_database);
    cr_assert_eq(r.records_replayed, 300);
    cr_assert_eq(r.last_version, 300);
    cr_assert(!r.torn);
    /* versions go on from where they were */
    write_rounds(db, 300, 10, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_close(db));

    db = open_dir(d.path, &o);
    check_rounds(db, 310);
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert_eq(r.records_replayed, 310, "every record replayed once, none twice");
    ASSERT_OK(cairn_db_close(db));
    /* and once more without writing anything: the same */
    db = open_dir(d.path, &o);
    check_rounds(db, 310);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, sync_commits_survive_reopen_with_identical_data_and_versions)
{
    round_trip(CAIRN_DURABILITY_SYNC);
}

Test(durable, async_commits_survive_reopen_with_identical_data_and_versions)
{
    round_trip(CAIRN_DURABILITY_ASYNC);
}

Test(durable, none_override_commits_are_logged_and_survive_a_clean_close)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    cairn_db *db = open_dir(d.path, &o);
    write_rounds(db, 0, 50, CAIRN_DURABILITY_NONE);
    write_rounds(db, 50, 50, CAIRN_DURABILITY_SYNC);
    ASSERT_OK(cairn_db_close(db));
    db = open_dir(d.path, &o);
    check_rounds(db, 100);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

/*
 * On the POSIX file layer the WAL is written through a shared mapping of
 * the segment: no pwrite per commit, every commit in the OS when it
 * returns, every commit visible; and a commit in each mode round-trips.
 */
Test(durable, commits_are_written_through_the_mapped_segment_in_every_mode)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_ASYNC);
    cairn_db *db = open_dir(d.path, &o);
    wal_stats s;
    write_rounds(db, 0, 100, CAIRN_DURABILITY_ASYNC);
    write_rounds(db, 100, 20, CAIRN_DURABILITY_SYNC);
    write_rounds(db, 120, 20, CAIRN_DURABILITY_NONE);
    wal_get_stats(db->log, &s);
    cr_assert(s.mapped, "the WAL segment of a database on the POSIX layer is not mapped");
    cr_assert_eq(s.writes, 0, "%llu pwrite calls", (unsigned long long)s.writes);
    cr_assert_eq(s.written_lsn, s.appended_lsn);
    cr_assert_eq(s.done_version, 140);
    cr_assert_eq(test_stats(db).visible_version, 140);
    ASSERT_OK(cairn_db_close(db));
    db = open_dir(d.path, &o);
    check_rounds(db, 140);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

/* cairn_options.wal_mmap = false: the same records through pwrite. */
Test(durable, wal_mmap_off_writes_the_log_with_pwrite)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_ASYNC);
    o.wal_mmap = false;
    cairn_db *db = open_dir(d.path, &o);
    wal_stats s;
    write_rounds(db, 0, 50, CAIRN_DURABILITY_ASYNC);
    write_rounds(db, 50, 10, CAIRN_DURABILITY_SYNC);
    wal_get_stats(db->log, &s);
    cr_assert_not(s.mapped, "wal_mmap = false still mapped the segment");
    cr_assert_gt(s.writes, 0, "no pwrite was issued");
    cr_assert_eq(s.done_version, 60);
    ASSERT_OK(cairn_db_close(db));
    o.wal_mmap = true; /* the files are the same either way */
    db = open_dir(d.path, &o);
    check_rounds(db, 60);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, a_new_directory_is_created_private)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    cairn_db *db = open_dir(d.path, &o);
    struct stat sb;
    cr_assert_eq(stat(d.path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0700);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, a_second_opener_in_the_same_process_gets_locked)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    cairn_db *db = open_dir(d.path, &o);
    cairn_db *second = (cairn_db *)(uintptr_t)1;
    char err[512];
    ASSERT_STATUS(cairn_db_open(d.path, &o, &second, err, sizeof err), CAIRN_LOCKED);
    cr_assert_null(second);
    cr_assert_neq(err[0], '\0');
    ASSERT_OK(cairn_db_close(db));
    /* released at close */
    db = open_dir(d.path, &o);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, a_second_opener_in_another_process_gets_locked)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    cairn_db *db = open_dir(d.path, &o);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        cairn_db *other = NULL;
        cairn_status st = cairn_db_open(d.path, &o, &other, NULL, 0);
        _exit(st == CAIRN_LOCKED ? 0 : 1);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the other process was not refused");
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

/* ---- checkpoints ------------------------------------------------------- */

static int count_files(const char *dir, const char *suffix)
{
    DIR *dd = opendir(dir);
    int n = 0;
    if (dd == NULL)
        return 0;
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        if (len >= sl && strcmp(e->d_name + len - sl, suffix) == 0)
            n++;
    }
    closedir(dd);
    return n;
}

Test(durable, a_checkpoint_then_reopen_restores_everything_and_replays_only_later_records)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    o.checkpoint_wal_bytes = 0; /* only on demand here */
    cairn_db *db = open_dir(d.path, &o);
    write_rounds(db, 0, 200, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_checkpoint(db));
    cairn_stats s = test_stats(db);
    cr_assert_eq(s.checkpoints, 1);
    cr_assert_eq(s.checkpoint_version, 200);
    write_rounds(db, 200, 20, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_close(db));
    cr_assert_eq(count_files(d.path, ".tmp"), 0, "close leaves no temporary files");

    db = open_dir(d.path, &o);
    check_rounds(db, 220);
    cairn_recovery_report r;
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert_eq(r.checkpoint_version, 200);
    cr_assert_eq(r.records_replayed, 20);
    cr_assert_neq(r.checkpoint_path[0], '\0');
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, checkpoints_remove_wal_segments_they_make_unnecessary)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_ASYNC);
    o.checkpoint_wal_bytes = 0;
    o.wal_segment_size = 64 * 1024;
    cairn_db *db = open_dir(d.path, &o);
    char waldir[160];
    snprintf(waldir, sizeof waldir, "%s/wal", d.path);
    write_rounds(db, 0, 2000, CAIRN_DURABILITY_DEFAULT);
    int before = count_files(waldir, ".wal");
    cr_assert_gt(before, 2);
    ASSERT_OK(cairn_db_checkpoint(db));
    write_rounds(db, 2000, 10, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_checkpoint(db));
    int after = count_files(waldir, ".wal");
    cr_assert_lt(after, before, "segments covered by the older checkpoint are removed (%d -> %d)", before, after);
    cr_assert_leq(count_files(d.path, ".ckpt"), 2, "at most two checkpoints are kept");
    ASSERT_OK(cairn_db_close(db));
    db = open_dir(d.path, &o);
    check_rounds(db, 2010);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, checkpoints_happen_automatically_past_the_wal_threshold)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_ASYNC);
    o.wal_segment_size = 64 * 1024;
    o.checkpoint_wal_bytes = 128 * 1024;
    cairn_db *db = open_dir(d.path, &o);
    write_rounds(db, 0, 3000, CAIRN_DURABILITY_DEFAULT);
    /* the checkpointer runs on its own thread: wait for it, bounded */
    for (int i = 0; i < 2000 && test_stats(db).checkpoints == 0; i++)
        usleep(1000);
    cr_assert_gt(test_stats(db).checkpoints, 0);
    ASSERT_OK(cairn_db_close(db));
    db = open_dir(d.path, &o);
    check_rounds(db, 3000);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, expired_keys_are_left_out_of_checkpoints)
{
    tmpdir d = tmp_make();
    fake_clock clock;
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    o.checkpoint_wal_bytes = 0;
    fake_clock_install(&clock, &o);
    cairn_db *db = open_dir(d.path, &o);
    cairn_txn *t;
    ASSERT_OK(cairn_txn_begin(db, NULL, &t));
    cairn_key soon = test_key("soon"), later = test_key("later");
    ASSERT_OK(cairn_txn_put_expiring(t, &soon, test_str("x"), FAKE_CLOCK_START_US + 10));
    ASSERT_OK(cairn_txn_put_expiring(t, &later, test_str("y"), FAKE_CLOCK_START_US + 1000000));
    ASSERT_OK(cairn_txn_commit(t));
    cairn_txn_free(t);
    fake_clock_advance(&clock, 100);
    ASSERT_OK(cairn_db_checkpoint(db));
    ASSERT_OK(cairn_db_close(db));
    db = open_dir(d.path, &o);
    cairn_recovery_report r;
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert_eq(r.checkpoint_entries, 1, "only the unexpired key is checkpointed");
    char buf[8];
    cr_assert_eq(test_get(db, &soon, buf, sizeof buf), CAIRN_NOT_FOUND);
    ASSERT_OK(test_get(db, &later, buf, sizeof buf));
    /* the expiry survives too */
    fake_clock_advance(&clock, 2000000);
    cr_assert_eq(test_get(db, &later, buf, sizeof buf), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, checkpointing_an_in_memory_or_read_only_database_is_refused)
{
    cairn_db *mem = test_open(NULL);
    ASSERT_STATUS(cairn_db_checkpoint(mem), CAIRN_UNSUPPORTED);
    test_close(mem);
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    cairn_db *db = open_dir(d.path, &o);
    write_rounds(db, 0, 3, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_close(db));
    o.read_only = true;
    db = open_dir(d.path, &o);
    ASSERT_STATUS(cairn_db_checkpoint(db), CAIRN_READ_ONLY);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

/* ---- damage ------------------------------------------------------------ */

static void flip_byte(const char *path, long offset)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "open %s", path);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, offset), 1);
    b ^= 0x5A;
    cr_assert_eq(pwrite(fd, &b, 1, offset), 1);
    close(fd);
}

Test(durable, a_flipped_byte_in_a_middle_record_stops_the_open_naming_file_and_offset)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    cairn_db *db = open_dir(d.path, &o);
    write_rounds(db, 0, 100, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_close(db));
    char seg[192];
    snprintf(seg, sizeof seg, "%s/wal/000001.wal", d.path);
    flip_byte(seg, 64 + 2000); /* inside an early record, many records follow */
    char err[512] = "";
    db = (cairn_db *)(uintptr_t)1;
    ASSERT_STATUS(cairn_db_open(d.path, &o, &db, err, sizeof err), CAIRN_CORRUPT);
    cr_assert_null(db);
    cr_assert_not_null(strstr(err, "000001.wal"), "the message names the file: %s", err);
    cr_assert_not_null(strstr(err, "offset"), "the message names the offset: %s", err);
    tmp_remove(&d);
}

Test(durable, a_torn_last_record_is_truncated_and_reported)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    cairn_db *db = open_dir(d.path, &o);
    write_rounds(db, 0, 100, CAIRN_DURABILITY_DEFAULT);
    cairn_stats s = test_stats(db);
    ASSERT_OK(cairn_db_close(db));
    /* damage the last record: the byte just before the end of the log */
    char seg[192];
    snprintf(seg, sizeof seg, "%s/wal/000001.wal", d.path);
    flip_byte(seg, (long)(64 + s.wal_bytes - 64 - 3));
    db = open_dir(d.path, &o);
    cairn_recovery_report r;
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert(r.torn && r.repaired);
    cr_assert_gt(r.bytes_truncated, 0);
    cr_assert_not_null(strstr(r.torn_path, "000001.wal"));
    cr_assert_eq(r.last_version, 99, "only the torn last commit is gone");
    check_rounds(db, 99);
    /* new commits continue after the cut */
    write_rounds(db, 99, 5, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_close(db));
    db = open_dir(d.path, &o);
    check_rounds(db, 104);
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert(!r.torn);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

Test(durable, a_damaged_newest_checkpoint_falls_back_to_the_previous_one_plus_the_wal)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    o.checkpoint_wal_bytes = 0;
    cairn_db *db = open_dir(d.path, &o);
    write_rounds(db, 0, 100, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_checkpoint(db));
    write_rounds(db, 100, 100, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_checkpoint(db));
    write_rounds(db, 200, 10, CAIRN_DURABILITY_DEFAULT);
    ASSERT_OK(cairn_db_close(db));
    char newest[256];
    snprintf(newest, sizeof newest, "%s/ckpt-%020d.ckpt", d.path, 200);
    struct stat sb;
    cr_assert_eq(stat(newest, &sb), 0, "expected %s", newest);
    flip_byte(newest, sb.st_size / 2);
    db = open_dir(d.path, &o);
    cairn_recovery_report r;
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert_eq(r.checkpoints_skipped, 1);
    cr_assert_eq(r.checkpoint_version, 100);
    cr_assert_eq(r.records_replayed, 110);
    check_rounds(db, 210);
    ASSERT_OK(cairn_db_close(db));
    tmp_remove(&d);
}

/* ---- read-only --------------------------------------------------------- */

static uint64_t tree_checksum(const char *path)
{
    /* names, sizes and contents of every file under path */
    uint64_t h = 1469598103934665603ull;
    DIR *dd = opendir(path);
    if (dd == NULL) {
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            return 0;
        uint8_t buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < n; i++)
                h = (h ^ buf[i]) * 1099511628211ull;
        close(fd);
        return h;
    }
    struct dirent *e;
    while ((e = readdir(dd)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[512];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        uint64_t c = tree_checksum(child);
        for (const char *p = e->d_name; *p; p++)
            c = (c ^ (uint8_t)*p) * 1099511628211ull;
        h += c; /* order-independent */
    }
    closedir(dd);
    return h;
}

Test(durable, a_read_only_open_reads_and_changes_nothing_even_with_a_torn_tail)
{
    tmpdir d = tmp_make();
    cairn_options o = durable_opts(CAIRN_DURABILITY_SYNC);
    cairn_db *db = open_dir(d.path, &o);
    write_rounds(db, 0, 50, CAIRN_DURABILITY_DEFAULT);
    cairn_stats s = test_stats(db);
    ASSERT_OK(cairn_db_close(db));
    char seg[192];
    snprintf(seg, sizeof seg, "%s/wal/000001.wal", d.path);
    flip_byte(seg, (long)(64 + s.wal_bytes - 64 - 3));
    uint64_t before = tree_checksum(d.path);

    cairn_options ro = o;
    ro.read_only = true;
    db = open_dir(d.path, &ro);
    check_rounds(db, 49);
    cairn_recovery_report r;
    ASSERT_OK(cairn_db_recovery_report(db, &r));
    cr_assert(r.torn && !r.repaired, "reported, not repaired");
    cairn_txn *t = (cairn_txn *)(uintptr_t)1;
    ASSERT_STATUS(cairn_txn_begin(db, NULL, &t), CAIRN_READ_ONLY);
    ASSERT_OK(cairn_db_close(db));
    cr_assert_eq(tree_checksum(d.path), before, "a read-only open changed the files");
    tmp_remove(&d);
}
