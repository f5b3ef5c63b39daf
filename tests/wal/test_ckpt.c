/*
 * tests/wal/test_ckpt.c - checkpoint files: round trip, damage detection
 * with offsets, crash safety of the temporary name, listing and removal.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>

#include "engine/ckpt_file.h"
#include "wal_test_util.h"

static char *dir;
static wal_fs *fs;
static const uint8_t db_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

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

TestSuite(ckpt, .init = setup, .fini = teardown);

/* Entry i: key "key-<i>", value of (i * 37) % 3000 bytes, expiry and
 * version derived from i. */
static void entry_of(uint64_t i, char *key, uint8_t *value, uint32_t *vlenp)
{
    uint32_t vlen = (uint32_t)((i * 37) % 3000);

    snprintf(key, 32, "key-%08" PRIu64, i);
    for (uint32_t j = 0; j < vlen; j++)
        value[j] = (uint8_t)(i + j);
    *vlenp = vlen;
}

/* Writes checkpoint `version` with `n` entries; returns its path. */
static char *write_ckpt(uint64_t version, uint64_t n)
{
    ckpt_writer *w = NULL;
    char key[32], name[32];
    static uint8_t value[3000];
    uint32_t vlen;
    wal_err err;

    cr_assert_eq(ckpt_writer_open(fs, dir, version, db_id, &w, &err), CAIRN_OK, "%s", err.msg);
    for (uint64_t i = 0; i < n; i++) {
        entry_of(i, key, value, &vlen);
        cr_assert_eq(ckpt_writer_add(w, (const uint8_t *)key, (uint32_t)strlen(key), value, vlen,
                                     (int64_t)i * 1000 - 5, i % (version + 1), &err),
                     CAIRN_OK, "%s", err.msg);
    }
    cr_assert_eq(ckpt_writer_finish(w, &err), CAIRN_OK, "%s", err.msg);
    ckpt_file_name(name, version, false);
    return wt_path(dir, name);
}

typedef struct check {
    uint64_t next;
    uint64_t version;
    bool ok;
} check;

static cairn_status check_entry(void *ctx, const ckpt_entry *e)
{
    check *c = ctx;
    char key[32];
    static uint8_t value[3000];
    uint32_t vlen;

    entry_of(c->next, key, value, &vlen);
    if (e->key_len != strlen(key) || memcmp(e->key, key, e->key_len) != 0 ||
        e->value_len != vlen || memcmp(e->value, value, vlen) != 0 ||
        e->expires_at_us != (int64_t)c->next * 1000 - 5 ||
        e->commit_version != c->next % (c->version + 1))
        c->ok = false;
    c->next++;
    return CAIRN_OK;
}

Test(ckpt, round_trip_delivers_every_entry_in_order)
{
    char *path = write_ckpt(500, 2000); /* ~3 MB: many 64 KiB blocks */
    check c = {0, 500, true};
    uint64_t version = 0, entries = 0;
    wal_err err;

    cr_assert_eq(ckpt_reader_load(fs, path, db_id, check_entry, &c, &version, &entries, &err),
                 CAIRN_OK, "%s", err.msg);
    cr_assert(c.ok);
    cr_assert_eq(c.next, 2000);
    cr_assert_eq(version, 500);
    cr_assert_eq(entries, 2000);
    free(path);
}

Test(ckpt, empty_checkpoint_round_trips)
{
    char *path = write_ckpt(7, 0);
    uint64_t version = 0, entries = 1;

    cr_assert_eq(ckpt_reader_load(fs, path, db_id, NULL, NULL, &version, &entries, NULL),
                 CAIRN_OK);
    cr_assert_eq(version, 7);
    cr_assert_eq(entries, 0);
    free(path);
}

Test(ckpt, flipped_byte_in_a_block_is_corrupt_with_its_block_offset)
{
    char *path = write_ckpt(500, 2000);
    check c = {0, 500, true};
    wal_err err;
    size_t len = 0;
    uint8_t *bytes = wt_read_file(path, &len);
    uint64_t off = CKPT_HEADER_SIZE, target = len / 2, block = 0;
    char want[64];

    /* Find the block that holds the middle of the file. */
    while (off + CKPT_BLOCK_HEADER_SIZE + wal_get_u32(bytes + off + 8) <= target) {
        off += CKPT_BLOCK_HEADER_SIZE + wal_get_u32(bytes + off + 8);
        block++;
    }
    free(bytes);
    wt_flip_byte(path, target);
    cr_assert_eq(ckpt_reader_load(fs, path, db_id, check_entry, &c, NULL, NULL, &err),
                 CAIRN_CORRUPT);
    snprintf(want, sizeof want, "offset %" PRIu64, off);
    cr_assert(strstr(err.msg, path) != NULL, "message: %s", err.msg);
    cr_assert(strstr(err.msg, want) != NULL, "message: %s (want %s)", err.msg, want);
    cr_assert(c.ok, "entries delivered before the damage are intact");
    cr_assert_gt(block, 0);
    free(path);
}

Test(ckpt, every_kind_of_damage_is_refused)
{
    char *path = write_ckpt(9, 50);
    size_t len = 0;
    uint8_t *orig = wt_read_file(path, &len);
    /* Header, a block header, the first entry's key, the footer. */
    const uint64_t offsets[] = {0, 16, 30, CKPT_HEADER_SIZE + 9, CKPT_HEADER_SIZE + 40,
                                len - 64, len - 40, len - 1};

    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        wt_patch_file(path, 0, orig, len);
        wt_flip_byte(path, offsets[i]);
        cr_assert_eq(ckpt_reader_load(fs, path, db_id, NULL, NULL, NULL, NULL, NULL),
                     CAIRN_CORRUPT, "flip at %" PRIu64, offsets[i]);
    }
    free(orig);
    free(path);
}

Test(ckpt, truncated_file_is_corrupt_before_anything_is_delivered)
{
    char *path = write_ckpt(9, 500);
    check c = {0, 9, true};

    cr_assert_eq(truncate(path, 70000), 0);
    cr_assert_eq(ckpt_reader_load(fs, path, db_id, check_entry, &c, NULL, NULL, NULL),
                 CAIRN_CORRUPT);
    cr_assert_eq(c.next, 0);
    free(path);
}

Test(ckpt, checkpoint_of_another_database_is_refused)
{
    char *path = write_ckpt(9, 5);
    uint8_t other[16] = {0};

    cr_assert_eq(ckpt_reader_load(fs, path, other, NULL, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    cr_assert_eq(ckpt_reader_load(fs, path, NULL, NULL, NULL, NULL, NULL, NULL), CAIRN_OK);
    free(path);
}

Test(ckpt, writer_refuses_bad_entries)
{
    ckpt_writer *w = NULL;
    static uint8_t big[CKPT_KEY_MAX + 1];

    cr_assert_eq(ckpt_writer_open(fs, dir, 10, db_id, &w, NULL), CAIRN_OK);
    cr_assert_eq(ckpt_writer_add(w, big, 0, NULL, 0, 0, 1, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(ckpt_writer_add(w, big, sizeof big, NULL, 0, 0, 1, NULL), CAIRN_TOO_LARGE);
    cr_assert_eq(ckpt_writer_add(w, big, 4, NULL, 0, 0, 11, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(ckpt_writer_add(w, big, 4, NULL, 0, 0, 10, NULL), CAIRN_OK);
    ckpt_writer_abort(w);
}

Test(ckpt, temporary_file_is_never_listed_and_abort_removes_it)
{
    ckpt_writer *w = NULL;
    ckpt_info *list = NULL;
    size_t n = 0;
    char name[32];
    char *tmp;
    char *done = write_ckpt(3, 10);

    cr_assert_eq(ckpt_writer_open(fs, dir, 8, db_id, &w, NULL), CAIRN_OK);
    cr_assert_eq(ckpt_writer_add(w, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, 0, 1, NULL),
                 CAIRN_OK);
    ckpt_file_name(name, 8, true);
    tmp = wt_path(dir, name);
    cr_assert(wt_file_exists(tmp));
    cr_assert_eq(ckpt_list(fs, dir, &list, &n, NULL), CAIRN_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(list[0].version, 3);
    ckpt_list_free(list, n);
    ckpt_writer_abort(w);
    cr_assert(!wt_file_exists(tmp));
    free(tmp);
    free(done);
}

Test(ckpt, crash_before_rename_leaves_no_checkpoint)
{
    ckpt_writer *w = NULL;
    ckpt_info *list = NULL;
    size_t n = 0;
    uint64_t removed = 0;
    char *older = write_ckpt(3, 10);

    cr_assert_eq(ckpt_writer_open(fs, dir, 8, db_id, &w, NULL), CAIRN_OK);
    cr_assert_eq(ckpt_writer_add(w, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, 0, 1, NULL),
                 CAIRN_OK);
    wal_fs_fail_nth(fs, WAL_FS_OP_RENAME, 1, EIO, false);
    cr_assert_eq(ckpt_writer_finish(w, NULL), CAIRN_IO);
    cr_assert_eq(ckpt_list(fs, dir, &list, &n, NULL), CAIRN_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(list[0].version, 3);
    ckpt_list_free(list, n);
    cr_assert_eq(ckpt_remove_tmp(fs, dir, &removed, NULL), CAIRN_OK);
    cr_assert_eq(removed, 0, "the failed finish already removed its temporary file");
    free(older);
}

Test(ckpt, power_loss_before_directory_sync_falls_back_to_the_older_checkpoint)
{
    ckpt_writer *w = NULL;
    ckpt_info *list = NULL;
    size_t n = 0;
    char *older = write_ckpt(3, 10);

    cr_assert_eq(ckpt_writer_open(fs, dir, 8, db_id, &w, NULL), CAIRN_OK);
    cr_assert_eq(ckpt_writer_add(w, (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, 0, 1, NULL),
                 CAIRN_OK);
    /* The final directory fsync fails: the rename is not durable. */
    wal_fs_fail_nth(fs, WAL_FS_OP_SYNC, 2, EIO, false);
    cr_assert_eq(ckpt_writer_finish(w, NULL), CAIRN_IO);
    cr_assert_eq(wal_fs_crash(fs, 0, NULL), CAIRN_OK);
    wal_fs_restart(fs);
    cr_assert_eq(ckpt_list(fs, dir, &list, &n, NULL), CAIRN_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(list[0].version, 3);
    cr_assert_eq(ckpt_reader_load(fs, list[0].path, db_id, NULL, NULL, NULL, NULL, NULL),
                 CAIRN_OK);
    ckpt_list_free(list, n);
    free(older);
}

Test(ckpt, list_is_newest_first_and_skips_junk)
{
    ckpt_info *list = NULL;
    size_t n = 0;
    char *a = write_ckpt(5, 1), *b = write_ckpt(50, 1), *c = write_ckpt(20, 1);
    char *junk = wt_path(dir, "ckpt-00000000000000000099.ckpt");
    char *other = wt_path(dir, "notes.txt");

    {
        FILE *f = fopen(junk, "wb");
        fputs("not a checkpoint at all, just some bytes long enough to need a look "
              "at the header before it is refused by the listing",
              f);
        fclose(f);
        f = fopen(other, "wb");
        fclose(f);
    }
    cr_assert_eq(ckpt_list(fs, dir, &list, &n, NULL), CAIRN_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(list[0].version, 50);
    cr_assert_eq(memcmp(list[0].db_id, db_id, sizeof db_id), 0);
    cr_assert_eq(list[1].version, 20);
    cr_assert_eq(list[2].version, 5);
    ckpt_list_free(list, n);
    free(a);
    free(b);
    free(c);
    free(junk);
    free(other);
}

Test(ckpt, remove_older_keeps_newer_files_and_in_progress_tmp)
{
    ckpt_writer *w = NULL;
    ckpt_info *list = NULL;
    size_t n = 0;
    uint64_t removed = 0;
    char *a = write_ckpt(5, 1), *b = write_ckpt(10, 1), *c = write_ckpt(20, 1);
    char stale_name[32], live_name[32];
    char *stale, *live;
    FILE *f;

    ckpt_file_name(stale_name, 4, true);
    stale = wt_path(dir, stale_name);
    f = fopen(stale, "wb");
    fclose(f);
    cr_assert_eq(ckpt_writer_open(fs, dir, 30, db_id, &w, NULL), CAIRN_OK);
    ckpt_file_name(live_name, 30, true);
    live = wt_path(dir, live_name);

    cr_assert_eq(ckpt_remove_older(fs, dir, 20, &removed, NULL), CAIRN_OK);
    cr_assert_eq(removed, 3);
    cr_assert(!wt_file_exists(a) && !wt_file_exists(b) && wt_file_exists(c));
    cr_assert(!wt_file_exists(stale));
    cr_assert(wt_file_exists(live), "a checkpoint being written is left alone");
    cr_assert_eq(ckpt_writer_finish(w, NULL), CAIRN_OK);
    cr_assert_eq(ckpt_list(fs, dir, &list, &n, NULL), CAIRN_OK);
    cr_assert_eq(n, 2);
    ckpt_list_free(list, n);
    free(a);
    free(b);
    free(c);
    free(stale);
    free(live);
}
