/*
 * tests/wal/test_file.c - the file layer: errors, fault injection, the
 * power-loss model and the LOCK file.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sys/mman.h>

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

TestSuite(file, .init = setup, .fini = teardown);

/* Creates `name` in `dir` with `len` bytes of `fill`, synced, and its
 * directory synced. */
static char *make_synced(const char *name, uint8_t fill, size_t len)
{
    char *path = wt_path(dir, name);
    uint8_t *buf = malloc(len);
    wal_file *f = NULL;

    memset(buf, fill, len);
    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_CREATE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_append(f, buf, len, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_datasync(f, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_sync_dir(fs, dir, NULL), CAIRN_OK);
    wal_file_close(f);
    free(buf);
    return path;
}

Test(file, missing_file_is_not_found_and_message_names_it)
{
    char *path = wt_path(dir, "nope");
    wal_file *f = NULL;
    wal_err err;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_READ, &f, &err), CAIRN_NOT_FOUND);
    cr_assert(strstr(err.msg, path) != NULL, "message: %s", err.msg);
    free(path);
}

Test(file, exclusive_create_of_existing_file_is_exists)
{
    char *path = make_synced("a", 1, 10);
    wal_file *f = NULL;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_CREATE | WAL_OPEN_EXCL, &f, NULL),
                 CAIRN_EXISTS);
    free(path);
}

Test(file, pread_reports_short_read_at_end_of_file)
{
    char *path = make_synced("a", 7, 100);
    wal_file *f = NULL;
    uint8_t buf[200];
    size_t got = 0;
    uint64_t size = 0;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_READ, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_size(f, &size, NULL), CAIRN_OK);
    cr_assert_eq(size, 100);
    cr_assert_eq(wal_file_pread(f, buf, sizeof buf, 50, &got, NULL), CAIRN_OK);
    cr_assert_eq(got, 50);
    cr_assert_eq(buf[0], 7);
    wal_file_close(f);
    free(path);
}

Test(file, allocate_grows_file_with_zeros)
{
    char *path = wt_path(dir, "a");
    wal_file *f = NULL;
    uint64_t size = 0;
    uint8_t buf[16];
    size_t got = 0;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_CREATE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_allocate(f, 0, 8192, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_size(f, &size, NULL), CAIRN_OK);
    cr_assert_eq(size, 8192);
    cr_assert_eq(wal_file_pread(f, buf, sizeof buf, 4000, &got, NULL), CAIRN_OK);
    cr_assert_eq(got, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        cr_assert_eq(buf[i], 0);
    wal_file_close(f);
    free(path);
}

Test(file, list_is_sorted_and_skips_dots)
{
    char **names = NULL;
    size_t n = 0;

    free(make_synced("b", 1, 1));
    free(make_synced("a", 1, 1));
    free(make_synced("c", 1, 1));
    cr_assert_eq(wal_fs_list(fs, dir, &names, &n, NULL), CAIRN_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "a");
    cr_assert_str_eq(names[1], "b");
    cr_assert_str_eq(names[2], "c");
    wal_fs_list_free(names, n);
}

Test(file, mkdir_creates_private_directory_and_accepts_existing)
{
    char *sub = wt_path(dir, "sub");
    struct stat sb;

    cr_assert_eq(wal_fs_mkdir(fs, sub, NULL), CAIRN_OK);
    cr_assert_eq(stat(sub, &sb), 0);
    cr_assert(S_ISDIR(sb.st_mode));
    cr_assert_eq(sb.st_mode & 0777, 0700);
    cr_assert_eq(wal_fs_mkdir(fs, sub, NULL), CAIRN_OK);
    free(sub);
}

/* ---- Fault injection ---------------------------------------------------- */

Test(file, nth_write_fails_with_the_chosen_errno_then_writes_work_again)
{
    char *path = wt_path(dir, "a");
    wal_file *f = NULL;
    wal_err err;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_CREATE, &f, NULL), CAIRN_OK);
    wal_fs_fail_nth(fs, WAL_FS_OP_WRITE, 3, ENOSPC, false);
    cr_assert_eq(wal_file_append(f, "1", 1, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "2", 1, 1, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "3", 1, 2, &err), CAIRN_IO);
    cr_assert(strstr(err.msg, strerror(ENOSPC)) != NULL, "message: %s", err.msg);
    cr_assert(strstr(err.msg, path) != NULL, "message: %s", err.msg);
    cr_assert(strstr(err.msg, "offset 2") != NULL, "message: %s", err.msg);
    cr_assert_eq(wal_file_pwrite(f, "4", 1, 3, NULL), CAIRN_OK);
    wal_file_close(f);
    free(path);
}

Test(file, sticky_fault_fails_every_later_operation)
{
    char *path = wt_path(dir, "a");
    wal_file *f = NULL;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_CREATE, &f, NULL), CAIRN_OK);
    wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 2, EIO, true);
    cr_assert_eq(wal_file_datasync(f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_datasync(f, NULL), CAIRN_IO);
    cr_assert_eq(wal_file_sync(f, NULL), CAIRN_IO);
    cr_assert_eq(wal_fs_sync_dir(fs, dir, NULL), CAIRN_IO);
    wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 0, 0, false);
    cr_assert_eq(wal_file_sync(f, NULL), CAIRN_OK);
    wal_file_close(f);
    free(path);
}

Test(file, nth_sync_open_rename_allocate_truncate_unlink_fail)
{
    char *a = make_synced("a", 1, 10);
    char *b = wt_path(dir, "b");
    wal_file *f = NULL;
    uint64_t before = wal_fs_op_count(fs, WAL_FS_OP_OPEN);

    wal_fs_fail_nth(fs, WAL_FS_OP_OPEN, 1, EIO, false);
    cr_assert_eq(wal_file_open(fs, a, WAL_OPEN_WRITE, &f, NULL), CAIRN_IO);
    cr_assert_eq(wal_fs_op_count(fs, WAL_FS_OP_OPEN), before + 1);
    cr_assert_eq(wal_file_open(fs, a, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);

    wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 1, EIO, false);
    cr_assert_eq(wal_file_datasync(f, NULL), CAIRN_IO);
    cr_assert_eq(wal_file_datasync(f, NULL), CAIRN_OK);

    wal_fs_fail_nth(fs, WAL_FS_OP_ALLOCATE, 1, ENOSPC, false);
    cr_assert_eq(wal_file_allocate(f, 0, 4096, NULL), CAIRN_IO);
    cr_assert_eq(wal_file_allocate(f, 0, 4096, NULL), CAIRN_OK);

    wal_fs_fail_nth(fs, WAL_FS_OP_TRUNCATE, 1, EIO, false);
    cr_assert_eq(wal_file_truncate(f, 5, NULL), CAIRN_IO);
    cr_assert_eq(wal_file_truncate(f, 5, NULL), CAIRN_OK);
    wal_file_close(f);

    wal_fs_fail_nth(fs, WAL_FS_OP_RENAME, 2, EIO, false);
    cr_assert_eq(wal_fs_rename(fs, a, b, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_rename(fs, b, a, NULL), CAIRN_IO);
    cr_assert(wt_file_exists(b), "a failed rename changes nothing");

    wal_fs_fail_nth(fs, WAL_FS_OP_UNLINK, 1, EIO, false);
    cr_assert_eq(wal_fs_unlink(fs, b, NULL), CAIRN_IO);
    cr_assert(wt_file_exists(b));
    cr_assert_eq(wal_fs_unlink(fs, b, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_unlink(fs, b, NULL), CAIRN_NOT_FOUND);
    free(a);
    free(b);
}

Test(file, failed_write_leaves_the_file_unchanged)
{
    char *path = make_synced("a", 'x', 8);
    wal_file *f = NULL;
    uint8_t *got;
    size_t len = 0;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    wal_fs_fail_nth(fs, WAL_FS_OP_WRITE, 1, EIO, false);
    cr_assert_eq(wal_file_pwrite(f, "yyyy", 4, 0, NULL), CAIRN_IO);
    wal_file_close(f);
    got = wt_read_file(path, &len);
    cr_assert_eq(len, 8);
    cr_assert_eq(memcmp(got, "xxxxxxxx", 8), 0);
    free(got);
    free(path);
}

/* ---- Power loss --------------------------------------------------------- */

Test(file, crash_drops_unsynced_writes_and_keeps_synced_ones)
{
    char *path = make_synced("a", 'a', 1000);
    wal_file *f = NULL;
    uint8_t *got;
    size_t len = 0;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "SYNCED", 6, 10, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_datasync(f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "LOST", 4, 100, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "LOST-TOO", 8, 102, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_append(f, "APPENDED", 8, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    wal_file_close(f);

    got = wt_read_file(path, &len);
    cr_assert_eq(len, 1000, "the unsynced append is gone");
    cr_assert_eq(memcmp(got + 10, "SYNCED", 6), 0);
    for (size_t i = 100; i < 110; i++)
        cr_assert_eq(got[i], 'a', "byte %zu kept its synced value", i);
    free(got);
    free(path);
}

Test(file, crash_restores_bytes_cut_by_unsynced_truncate)
{
    char *path = make_synced("a", 'z', 4096);
    wal_file *f = NULL;
    uint8_t *got;
    size_t len = 0;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_truncate(f, 100, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "new", 3, 200, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    wal_file_close(f);
    got = wt_read_file(path, &len);
    cr_assert_eq(len, 4096);
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(got[i], 'z', "byte %zu", i);
    free(got);
    free(path);
}

Test(file, crash_tears_last_write_at_a_sector_boundary)
{
    char *path = make_synced("a", 0, 4096);
    uint8_t big[2000];
    wal_file *f = NULL;
    uint8_t *got;
    size_t len = 0;

    memset(big, 'T', sizeof big);
    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "early", 5, 3000, NULL), CAIRN_OK);
    /* 2000 bytes at 300: sectors end at 512, 1024, ...; keep two sectors. */
    cr_assert_eq(wal_file_pwrite(f, big, sizeof big, 300, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 2, NULL), CAIRN_OK);
    wal_file_close(f);
    got = wt_read_file(path, &len);
    cr_assert_eq(len, 4096);
    for (size_t i = 0; i < 300; i++)
        cr_assert_eq(got[i], 0);
    for (size_t i = 300; i < 1024; i++)
        cr_assert_eq(got[i], 'T', "byte %zu is in the kept prefix", i);
    for (size_t i = 1024; i < 4096; i++)
        cr_assert_eq(got[i], 0, "byte %zu is past the tear or an earlier lost write", i);
    free(got);
    free(path);
}

Test(file, crash_tear_of_an_append_extends_the_file_only_by_the_prefix)
{
    char *path = make_synced("a", 'a', 100);
    uint8_t big[1500];
    wal_file *f = NULL;
    uint8_t *got;
    size_t len = 0;

    memset(big, 'T', sizeof big);
    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_append(f, big, sizeof big, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 1, NULL), CAIRN_OK);
    wal_file_close(f);
    got = wt_read_file(path, &len);
    cr_assert_eq(len, 512, "the first sector of the append survived");
    cr_assert_eq(got[99], 'a');
    cr_assert_eq(got[100], 'T');
    cr_assert_eq(got[511], 'T');
    free(got);
    free(path);
}

Test(file, crash_removes_files_created_since_the_directory_sync)
{
    char *kept = make_synced("kept", 1, 10);
    char *lost = wt_path(dir, "lost");
    wal_file *f = NULL;

    cr_assert_eq(wal_file_open(fs, lost, WAL_OPEN_CREATE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_append(f, "data", 4, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_datasync(f, NULL), CAIRN_OK); /* file synced, directory not */
    wal_file_close(f);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    cr_assert(wt_file_exists(kept));
    cr_assert(!wt_file_exists(lost));
    free(kept);
    free(lost);
}

Test(file, crash_keeps_created_file_empty_when_only_the_directory_was_synced)
{
    char *path = wt_path(dir, "a");
    wal_file *f = NULL;
    uint8_t *got;
    size_t len = 99;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_CREATE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_sync_dir(fs, dir, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_append(f, "data", 4, NULL), CAIRN_OK);
    wal_file_close(f);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    got = wt_read_file(path, &len);
    cr_assert_not_null(got);
    cr_assert_eq(len, 0);
    free(got);
    free(path);
}

Test(file, crash_undoes_unsynced_rename_and_unlink)
{
    char *a = make_synced("a", 'a', 10);
    char *b = make_synced("b", 'b', 20);
    char *c = wt_path(dir, "c");
    uint8_t *got;
    size_t len = 0;

    cr_assert_eq(wal_fs_rename(fs, a, c, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_unlink(fs, b, NULL), CAIRN_OK);
    cr_assert(!wt_file_exists(a) && !wt_file_exists(b) && wt_file_exists(c));
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    cr_assert(!wt_file_exists(c));
    got = wt_read_file(a, &len);
    cr_assert_eq(len, 10);
    cr_assert_eq(got[0], 'a');
    free(got);
    got = wt_read_file(b, &len);
    cr_assert_eq(len, 20);
    cr_assert_eq(got[19], 'b');
    free(got);
    free(a);
    free(b);
    free(c);
}

Test(file, crash_keeps_rename_made_durable_by_directory_sync)
{
    char *a = make_synced("a", 'a', 10);
    char *c = wt_path(dir, "c");

    cr_assert_eq(wal_fs_rename(fs, a, c, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_sync_dir(fs, dir, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    cr_assert(!wt_file_exists(a));
    cr_assert(wt_file_exists(c));
    free(a);
    free(c);
}

Test(file, crash_restores_a_file_replaced_by_rename)
{
    char *a = make_synced("a", 'a', 10);
    char *b = make_synced("b", 'b', 20);
    uint8_t *got;
    size_t len = 0;

    cr_assert_eq(wal_fs_rename(fs, a, b, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    got = wt_read_file(a, &len);
    cr_assert_eq(len, 10);
    free(got);
    got = wt_read_file(b, &len);
    cr_assert_eq(len, 20);
    cr_assert_eq(got[0], 'b');
    free(got);
    free(a);
    free(b);
}

Test(file, layer_is_off_after_crash_until_restart)
{
    char *path = make_synced("a", 'a', 10);
    wal_file *f = NULL;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "x", 1, 0, NULL), CAIRN_IO);
    cr_assert_eq(wal_file_datasync(f, NULL), CAIRN_IO);
    wal_file_close(f);
    wal_fs_restart(fs);
    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_pwrite(f, "x", 1, 0, NULL), CAIRN_OK);
    wal_file_close(f);
    free(path);
}

/* ---- LOCK --------------------------------------------------------------- */

Test(file, lock_conflicts_with_a_second_open_in_the_same_process)
{
    wal_lock *l1 = NULL, *l2 = NULL;
    wal_err err;

    cr_assert_eq(wal_fs_lock(fs, dir, &l1, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_lock(fs, dir, &l2, &err), CAIRN_LOCKED);
    cr_assert(strstr(err.msg, "LOCK") != NULL, "message: %s", err.msg);
    wal_fs_unlock(l1);
    cr_assert_eq(wal_fs_lock(fs, dir, &l2, NULL), CAIRN_OK, "released with the first handle");
    wal_fs_unlock(l2);
}

Test(file, posix_layer_has_no_injector_and_reports_real_errors)
{
    wal_fs *p = NULL;
    char *path = wt_path(dir, "missing/child");
    wal_file *f = NULL;
    wal_err err;

    cr_assert_eq(wal_fs_new_posix(&p), CAIRN_OK);
    wal_fs_fail_nth(p, WAL_FS_OP_OPEN, 1, EIO, true);
    cr_assert_eq(wal_fs_op_count(p, WAL_FS_OP_OPEN), 0);
    cr_assert_eq(wal_file_open(p, path, WAL_OPEN_CREATE, &f, &err), CAIRN_NOT_FOUND);
    cr_assert(strstr(err.msg, "No such file") != NULL, "message: %s", err.msg);
    cr_assert_eq(wal_fs_crash(p, 0, NULL), CAIRN_UNSUPPORTED);
    wal_fs_free(p);
    free(path);
}

Test(file, crash_removes_a_directory_made_since_its_parent_was_synced)
{
    char *gone = wt_path(dir, "gone"), *kept = wt_path(dir, "kept");
    struct stat sb;

    cr_assert_eq(wal_fs_mkdir(fs, kept, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_sync_dir(fs, dir, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_mkdir(fs, gone, NULL), CAIRN_OK);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    cr_assert_neq(stat(gone, &sb), 0, "the unsynced directory is gone");
    cr_assert_eq(stat(kept, &sb), 0, "the synced directory stays");
    free(gone);
    free(kept);
}

Test(file, crash_ignores_a_file_removed_behind_the_layers_back)
{
    char *path = wt_path(dir, "f");
    wal_file *f = NULL;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_CREATE, &f, NULL), CAIRN_OK);
    cr_assert_eq(wal_file_append(f, "abc", 3, NULL), CAIRN_OK);
    wal_file_close(f);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    cr_assert_not(wt_file_exists(path));
    free(path);
}

Test(file, failing_system_calls_answer_with_the_operation_and_path)
{
    char *plain = make_synced("plain", 0x11, 16);
    char *under = wt_path(plain, "child"), *missing = wt_path(dir, "missing");
    wal_file *f = NULL;
    char **names = NULL;
    size_t n = 0, got = 0;
    uint8_t buf[8];
    wal_lock *lock = NULL;
    wal_err err;

    /* a path through a regular file */
    cr_assert_eq(wal_file_open(fs, under, WAL_OPEN_CREATE, &f, &err), CAIRN_IO);
    cr_assert(strstr(err.msg, "open") != NULL && strstr(err.msg, under) != NULL, "message: %s", err.msg);
    cr_assert_eq(wal_fs_list(fs, plain, &names, &n, &err), CAIRN_IO);
    cr_assert(strstr(err.msg, "list directory") != NULL, "message: %s", err.msg);
    cr_assert_eq(wal_fs_lock(fs, plain, &lock, &err), CAIRN_IO);
    cr_assert(strstr(err.msg, "LOCK") != NULL, "message: %s", err.msg);
    /* renaming or syncing what is not there */
    cr_assert_neq(wal_fs_rename(fs, missing, plain, &err), CAIRN_OK);
    cr_assert(strstr(err.msg, missing) != NULL, "message: %s", err.msg);
    cr_assert_neq(wal_fs_sync_dir(fs, missing, &err), CAIRN_OK);
    cr_assert(strstr(err.msg, missing) != NULL, "message: %s", err.msg);
    /* listing on a layer that lost power */
    cr_assert_eq(wal_fs_crash(fs, 0, &err), CAIRN_OK, "%s", err.msg);
    cr_assert_eq(wal_fs_list(fs, dir, &names, &n, &err), CAIRN_IO);
    wal_fs_restart(fs);
    cr_assert_eq(wal_fs_list(fs, dir, &names, &n, &err), CAIRN_OK);
    wal_fs_list_free(names, n);
    /* a directory opened as a file cannot be read (the power-loss model
     * tracks files only: no crash after this) */
    cr_assert_eq(wal_file_open(fs, dir, WAL_OPEN_READ, &f, &err), CAIRN_OK, "%s", err.msg);
    cr_assert_eq(wal_file_pread(f, buf, sizeof buf, 0, &got, &err), CAIRN_IO);
    cr_assert(strstr(err.msg, "read") != NULL, "message: %s", err.msg);
    wal_file_close(f);
    free(plain);
    free(under);
    free(missing);
}

Test(file, mapping_needs_a_layer_that_can_map_and_a_length)
{
    char *path = make_synced("m", 0x22, 4096);
    wal_fs *p = NULL;
    wal_file *f = NULL;
    uint8_t *map = NULL;
    wal_err err;

    cr_assert_eq(wal_file_open(fs, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    cr_assert_not(wal_fs_can_map(fs));
    cr_assert_eq(wal_file_map(f, 4096, &map, &err), CAIRN_UNSUPPORTED);
    cr_assert(strstr(err.msg, "cannot map") != NULL, "message: %s", err.msg);
    wal_file_close(f);

    cr_assert_eq(wal_fs_new_posix(&p), CAIRN_OK);
    wal_fs_restart(p); /* a no-op on the POSIX layer */
    cr_assert_eq(wal_file_open(p, path, WAL_OPEN_WRITE, &f, NULL), CAIRN_OK);
    if (wal_fs_can_map(p)) {
        cr_assert_eq(wal_file_map(f, 0, &map, &err), CAIRN_INVALID_ARGUMENT);
        cr_assert(strstr(err.msg, "bad length") != NULL, "message: %s", err.msg);
        cr_assert_eq(wal_file_map(f, 4096, &map, &err), CAIRN_OK);
        cr_assert_eq(map[0], 0x22);
        munmap(map, 4096);
    }
    wal_file_close(f);
    wal_fs_free(p);
    free(path);
}
