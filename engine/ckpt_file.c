/*
 * engine/ckpt_file.c - writing, reading, listing and removing checkpoint
 * files.
 */
#include "engine/ckpt_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "wal/record.h"

/* Header offsets. */
#define H_VERSION 8
#define H_HSIZE 12
#define H_CKPT_VERSION 16
#define H_DBID 24
#define H_CHECKSUM 56
/* Footer offsets. */
#define F_ENTRIES 8
#define F_BLOCKS 16
#define F_OFFSET 24
#define F_VERSION 32
#define F_FILE_HASH 40
#define F_CHECKSUM 56

struct ckpt_writer {
    wal_fs *fs;
    char *dir, *tmp_path, *final_path;
    wal_file *f;
    uint64_t version;
    uint8_t *blk; /* block header room + payload */
    size_t blk_len, blk_cap;
    uint32_t blk_entries;
    uint64_t blocks, entries, off;
    XXH3_state_t *hash;
    bool failed;
};

void ckpt_file_name(char *out, uint64_t version, bool tmp)
{
    snprintf(out, 32, "ckpt-%020" PRIu64 ".%s", version, tmp ? "tmp" : "ckpt");
}

/* Parses "ckpt-<20 digits>.ckpt" or ".tmp"; `*tmpp` tells which. */
static bool parse_name(const char *name, uint64_t *versionp, bool *tmpp)
{
    uint64_t v = 0;

    if (strncmp(name, "ckpt-", 5) != 0)
        return false;
    for (int i = 0; i < 20; i++) {
        char c = name[5 + i];
        if (c < '0' || c > '9')
            return false;
        if (v > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(c - '0');
    }
    if (strcmp(name + 25, ".ckpt") == 0)
        *tmpp = false;
    else if (strcmp(name + 25, ".tmp") == 0)
        *tmpp = true;
    else
        return false;
    *versionp = v;
    return true;
}

/* ---- Writer ----------------------------------------------------------- */

static cairn_status w_write(ckpt_writer *w, const uint8_t *p, size_t n, wal_err *err)
{
    cairn_status st = wal_file_pwrite(w->f, p, n, w->off, err);

    if (st != CAIRN_OK) {
        w->failed = true;
        return st;
    }
    XXH3_64bits_update(w->hash, p, n);
    w->off += n;
    return CAIRN_OK;
}

static void writer_free(ckpt_writer *w)
{
    wal_file_close(w->f);
    if (w->hash != NULL)
        XXH3_freeState(w->hash);
    free(w->blk);
    free(w->dir);
    free(w->tmp_path);
    free(w->final_path);
    free(w);
}

cairn_status ckpt_writer_open(wal_fs *fs, const char *dir, uint64_t version,
                              const uint8_t *db_id, ckpt_writer **wp, wal_err *err)
{
    char name[32];
    uint8_t h[CKPT_HEADER_SIZE];
    ckpt_writer *w;
    cairn_status st = CAIRN_OK;

    if (fs == NULL || dir == NULL || db_id == NULL || wp == NULL)
        return wal_err_set(err, CAIRN_INVALID_ARGUMENT, "checkpoint: NULL argument");
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return wal_err_set(err, CAIRN_NO_MEMORY, "checkpoint: out of memory");
    w->fs = fs;
    w->version = version;
    w->dir = strdup(dir);
    ckpt_file_name(name, version, true);
    w->tmp_path = wal_path_join(dir, name);
    ckpt_file_name(name, version, false);
    w->final_path = wal_path_join(dir, name);
    w->hash = XXH3_createState();
    w->blk_cap = CKPT_BLOCK_HEADER_SIZE + CKPT_BLOCK_TARGET;
    w->blk = malloc(w->blk_cap);
    if (w->dir == NULL || w->tmp_path == NULL || w->final_path == NULL || w->hash == NULL ||
        w->blk == NULL) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "checkpoint: out of memory");
        goto fail;
    }
    XXH3_64bits_reset(w->hash);
    w->blk_len = CKPT_BLOCK_HEADER_SIZE;
    st = wal_file_open(fs, w->tmp_path, WAL_OPEN_CREATE, &w->f, err);
    if (st == CAIRN_OK)
        st = wal_file_truncate(w->f, 0, err);
    if (st != CAIRN_OK)
        goto fail;
    memset(h, 0, sizeof h);
    memcpy(h, CKPT_MAGIC, 8);
    wal_put_u32(h + H_VERSION, CKPT_FORMAT_VERSION);
    wal_put_u32(h + H_HSIZE, CKPT_HEADER_SIZE);
    wal_put_u64(h + H_CKPT_VERSION, version);
    memcpy(h + H_DBID, db_id, CKPT_DB_ID_SIZE);
    wal_put_u64(h + H_CHECKSUM, XXH3_64bits(h, H_CHECKSUM));
    st = w_write(w, h, sizeof h, err);
    if (st != CAIRN_OK)
        goto fail;
    *wp = w;
    return CAIRN_OK;
fail:
    ckpt_writer_abort(w);
    return st;
}

/* Writes the pending block (if it holds entries). */
static cairn_status flush_block(ckpt_writer *w, wal_err *err)
{
    uint32_t payload = (uint32_t)(w->blk_len - CKPT_BLOCK_HEADER_SIZE);
    cairn_status st;

    if (w->blk_entries == 0)
        return CAIRN_OK;
    wal_put_u32(w->blk + 8, payload);
    wal_put_u32(w->blk + 12, w->blk_entries);
    wal_put_u64(w->blk, XXH3_64bits_withSeed(w->blk + 8, w->blk_len - 8, w->blocks));
    st = w_write(w, w->blk, w->blk_len, err);
    if (st != CAIRN_OK)
        return st;
    w->blocks++;
    w->blk_len = CKPT_BLOCK_HEADER_SIZE;
    w->blk_entries = 0;
    return CAIRN_OK;
}

cairn_status ckpt_writer_add(ckpt_writer *w, const uint8_t *key, uint32_t key_len,
                             const uint8_t *value, uint32_t value_len, int64_t expires_at_us,
                             uint64_t commit_version, wal_err *err)
{
    size_t need = CKPT_ENTRY_HEADER_SIZE + (size_t)key_len + value_len;
    uint8_t *p;
    cairn_status st;

    if (w->failed)
        return wal_err_set(err, CAIRN_IO, "checkpoint %s: writer already failed", w->tmp_path);
    if (key == NULL || key_len == 0 || (value == NULL && value_len > 0))
        return wal_err_set(err, CAIRN_INVALID_ARGUMENT, "checkpoint add: empty key or NULL value");
    if (key_len > CKPT_KEY_MAX || value_len > CKPT_VALUE_MAX)
        return wal_err_set(err, CAIRN_TOO_LARGE,
                           "checkpoint add: key of %" PRIu32 " or value of %" PRIu32
                           " bytes over the limit",
                           key_len, value_len);
    if (commit_version > w->version)
        return wal_err_set(err, CAIRN_INVALID_ARGUMENT,
                           "checkpoint add: entry version %" PRIu64 " after checkpoint %" PRIu64,
                           commit_version, w->version);
    if (w->blk_entries > 0 && w->blk_len - CKPT_BLOCK_HEADER_SIZE + need > CKPT_BLOCK_TARGET) {
        st = flush_block(w, err);
        if (st != CAIRN_OK)
            return st;
    }
    if (w->blk_cap - w->blk_len < need) {
        size_t cap = w->blk_len + need;
        uint8_t *b = realloc(w->blk, cap);
        if (b == NULL) {
            w->failed = true;
            return wal_err_set(err, CAIRN_NO_MEMORY, "checkpoint add: out of memory");
        }
        w->blk = b;
        w->blk_cap = cap;
    }
    p = w->blk + w->blk_len;
    wal_put_u16(p, (uint16_t)key_len);
    wal_put_u32(p + 2, value_len);
    wal_put_u64(p + 6, (uint64_t)expires_at_us);
    wal_put_u64(p + 14, commit_version);
    memcpy(p + CKPT_ENTRY_HEADER_SIZE, key, key_len);
    if (value_len > 0)
        memcpy(p + CKPT_ENTRY_HEADER_SIZE + key_len, value, value_len);
    w->blk_len += need;
    w->blk_entries++;
    w->entries++;
    return CAIRN_OK;
}

cairn_status ckpt_writer_finish(ckpt_writer *w, wal_err *err)
{
    uint8_t foot[CKPT_FOOTER_SIZE];
    uint64_t data_end;
    cairn_status st;

    if (w->failed) {
        st = wal_err_set(err, CAIRN_IO, "checkpoint %s: writer already failed", w->tmp_path);
        goto fail;
    }
    st = flush_block(w, err);
    if (st != CAIRN_OK)
        goto fail;
    data_end = w->off;
    memset(foot, 0, sizeof foot);
    memcpy(foot, CKPT_FOOTER_MAGIC, 8);
    wal_put_u64(foot + F_ENTRIES, w->entries);
    wal_put_u64(foot + F_BLOCKS, w->blocks);
    wal_put_u64(foot + F_OFFSET, data_end);
    wal_put_u64(foot + F_VERSION, w->version);
    wal_put_u64(foot + F_FILE_HASH, XXH3_64bits_digest(w->hash));
    wal_put_u64(foot + F_CHECKSUM, XXH3_64bits(foot, F_CHECKSUM));
    st = w_write(w, foot, sizeof foot, err);
    if (st == CAIRN_OK)
        st = wal_file_sync(w->f, err);
    if (st != CAIRN_OK)
        goto fail;
    wal_file_close(w->f);
    w->f = NULL;
    st = wal_fs_rename(w->fs, w->tmp_path, w->final_path, err);
    if (st != CAIRN_OK)
        goto fail;
    st = wal_fs_sync_dir(w->fs, w->dir, err);
    if (st != CAIRN_OK) {
        /* The rename may or may not survive a crash: take it back, so a
         * failed finish never leaves a checkpoint behind. */
        wal_fs_unlink(w->fs, w->final_path, NULL);
        goto fail;
    }
    writer_free(w);
    return CAIRN_OK;
fail:
    ckpt_writer_abort(w);
    return st;
}

void ckpt_writer_abort(ckpt_writer *w)
{
    if (w == NULL)
        return;
    wal_file_close(w->f);
    w->f = NULL;
    if (w->tmp_path != NULL)
        wal_fs_unlink(w->fs, w->tmp_path, NULL);
    writer_free(w);
}

/* ---- Reader ----------------------------------------------------------- */

typedef struct ckpt_reader {
    wal_file *f;
    const char *path;
    uint64_t size;
    uint8_t *buf;
    size_t cap;
    XXH3_state_t *hash;
} ckpt_reader;

static cairn_status corrupt(wal_err *err, const char *path, uint64_t off, const char *what)
{
    return wal_err_set(err, CAIRN_CORRUPT, "checkpoint %s at offset %" PRIu64 ": %s", path, off,
                       what);
}

/* Reads exactly [off, off + n) into the reader's buffer. */
static cairn_status r_read(ckpt_reader *r, uint64_t off, size_t n, wal_err *err)
{
    size_t got = 0;
    cairn_status st;

    if (n > r->cap) {
        uint8_t *b = realloc(r->buf, n);
        if (b == NULL)
            return wal_err_set(err, CAIRN_NO_MEMORY, "checkpoint %s: out of memory", r->path);
        r->buf = b;
        r->cap = n;
    }
    st = wal_file_pread(r->f, r->buf, n, off, &got, err);
    if (st == CAIRN_OK && got != n)
        st = corrupt(err, r->path, off + got, "file ends early");
    return st;
}

/* Checks every entry of a block payload; with `fn`, delivers them. */
static cairn_status walk_entries(const uint8_t *p, size_t len, uint32_t count, uint64_t ckpt_v,
                                 ckpt_entry_fn fn, void *ctx, size_t *bad_offp)
{
    size_t pos = 0;

    for (uint32_t i = 0; i < count; i++) {
        ckpt_entry e;
        if (len - pos < CKPT_ENTRY_HEADER_SIZE) {
            *bad_offp = pos;
            return CAIRN_CORRUPT;
        }
        e.key_len = wal_get_u16(p + pos);
        e.value_len = wal_get_u32(p + pos + 2);
        e.expires_at_us = (int64_t)wal_get_u64(p + pos + 6);
        e.commit_version = wal_get_u64(p + pos + 14);
        if (e.key_len == 0 || e.key_len > CKPT_KEY_MAX || e.value_len > CKPT_VALUE_MAX ||
            e.commit_version > ckpt_v ||
            len - pos - CKPT_ENTRY_HEADER_SIZE < (size_t)e.key_len + e.value_len) {
            *bad_offp = pos;
            return CAIRN_CORRUPT;
        }
        e.key = p + pos + CKPT_ENTRY_HEADER_SIZE;
        e.value = e.key + e.key_len;
        if (fn != NULL) {
            cairn_status st = fn(ctx, &e);
            if (st != CAIRN_OK)
                return st;
        }
        pos += CKPT_ENTRY_HEADER_SIZE + (size_t)e.key_len + e.value_len;
    }
    if (pos != len) {
        *bad_offp = pos;
        return CAIRN_CORRUPT;
    }
    return CAIRN_OK;
}

/* Checks the header at the start of r->buf; stores the version. */
static cairn_status check_header(ckpt_reader *r, const uint8_t *db_id, uint64_t *versionp,
                                 wal_err *err)
{
    const uint8_t *h = r->buf;

    if (memcmp(h, CKPT_MAGIC, 8) != 0)
        return corrupt(err, r->path, 0, "bad magic");
    if (wal_get_u64(h + H_CHECKSUM) != XXH3_64bits(h, H_CHECKSUM))
        return corrupt(err, r->path, H_CHECKSUM, "header checksum mismatch");
    if (wal_get_u32(h + H_VERSION) != CKPT_FORMAT_VERSION ||
        wal_get_u32(h + H_HSIZE) != CKPT_HEADER_SIZE)
        return corrupt(err, r->path, H_VERSION, "unknown format version or header size");
    if (db_id != NULL && memcmp(h + H_DBID, db_id, CKPT_DB_ID_SIZE) != 0)
        return corrupt(err, r->path, H_DBID, "belongs to another database");
    *versionp = wal_get_u64(h + H_CKPT_VERSION);
    return CAIRN_OK;
}

cairn_status ckpt_reader_load(wal_fs *fs, const char *path, const uint8_t *db_id,
                              ckpt_entry_fn fn, void *ctx, uint64_t *versionp,
                              uint64_t *entriesp, wal_err *err)
{
    ckpt_reader r;
    uint64_t version = 0, foot_entries, foot_blocks, data_end, file_hash;
    uint64_t off, blocks = 0, entries = 0;
    cairn_status st;

    memset(&r, 0, sizeof r);
    r.path = path;
    r.hash = XXH3_createState();
    if (r.hash == NULL)
        return wal_err_set(err, CAIRN_NO_MEMORY, "checkpoint %s: out of memory", path);
    XXH3_64bits_reset(r.hash);
    st = wal_file_open(fs, path, WAL_OPEN_READ, &r.f, err);
    if (st == CAIRN_OK)
        st = wal_file_size(r.f, &r.size, err);
    if (st != CAIRN_OK)
        goto out;
    if (r.size < CKPT_HEADER_SIZE + CKPT_FOOTER_SIZE) {
        st = corrupt(err, path, r.size, "file too short for header and footer");
        goto out;
    }
    /* Footer first: a file cut short is refused before anything is delivered. */
    off = r.size - CKPT_FOOTER_SIZE;
    st = r_read(&r, off, CKPT_FOOTER_SIZE, err);
    if (st != CAIRN_OK)
        goto out;
    if (memcmp(r.buf, CKPT_FOOTER_MAGIC, 8) != 0 ||
        wal_get_u64(r.buf + F_CHECKSUM) != XXH3_64bits(r.buf, F_CHECKSUM)) {
        st = corrupt(err, path, off, "bad footer magic or checksum");
        goto out;
    }
    foot_entries = wal_get_u64(r.buf + F_ENTRIES);
    foot_blocks = wal_get_u64(r.buf + F_BLOCKS);
    data_end = wal_get_u64(r.buf + F_OFFSET);
    file_hash = wal_get_u64(r.buf + F_FILE_HASH);
    if (data_end != off) {
        st = corrupt(err, path, off + F_OFFSET, "footer offset does not match the file size");
        goto out;
    }
    version = wal_get_u64(r.buf + F_VERSION);
    st = r_read(&r, 0, CKPT_HEADER_SIZE, err);
    if (st == CAIRN_OK)
        st = check_header(&r, db_id, &off, err);
    if (st != CAIRN_OK)
        goto out;
    if (off != version) {
        st = corrupt(err, path, H_CKPT_VERSION, "header and footer versions differ");
        goto out;
    }
    XXH3_64bits_update(r.hash, r.buf, CKPT_HEADER_SIZE);

    for (off = CKPT_HEADER_SIZE; off < data_end;) {
        uint32_t len, count;
        size_t bad = 0;
        if (data_end - off < CKPT_BLOCK_HEADER_SIZE) {
            st = corrupt(err, path, off, "truncated block header");
            goto out;
        }
        st = r_read(&r, off, CKPT_BLOCK_HEADER_SIZE, err);
        if (st != CAIRN_OK)
            goto out;
        len = wal_get_u32(r.buf + 8);
        count = wal_get_u32(r.buf + 12);
        if (len == 0 || count == 0 || len > data_end - off - CKPT_BLOCK_HEADER_SIZE) {
            st = corrupt(err, path, off, "block length or entry count out of range");
            goto out;
        }
        st = r_read(&r, off, CKPT_BLOCK_HEADER_SIZE + (size_t)len, err);
        if (st != CAIRN_OK)
            goto out;
        if (wal_get_u64(r.buf) !=
            XXH3_64bits_withSeed(r.buf + 8, (size_t)len + CKPT_BLOCK_HEADER_SIZE - 8, blocks)) {
            st = corrupt(err, path, off, "block checksum mismatch");
            goto out;
        }
        st = walk_entries(r.buf + CKPT_BLOCK_HEADER_SIZE, len, count, version, NULL, NULL, &bad);
        if (st == CAIRN_OK)
            st = walk_entries(r.buf + CKPT_BLOCK_HEADER_SIZE, len, count, version, fn, ctx, &bad);
        if (st == CAIRN_CORRUPT) {
            st = corrupt(err, path, off + CKPT_BLOCK_HEADER_SIZE + bad, "malformed entry");
            goto out;
        }
        if (st != CAIRN_OK) {
            wal_err_set(err, st, "checkpoint %s at offset %" PRIu64 ": callback refused an entry",
                        path, off);
            goto out;
        }
        XXH3_64bits_update(r.hash, r.buf, CKPT_BLOCK_HEADER_SIZE + (size_t)len);
        off += CKPT_BLOCK_HEADER_SIZE + (uint64_t)len;
        blocks++;
        entries += count;
    }
    if (blocks != foot_blocks || entries != foot_entries) {
        st = corrupt(err, path, data_end + F_ENTRIES, "block or entry count differs from footer");
        goto out;
    }
    if (XXH3_64bits_digest(r.hash) != file_hash) {
        st = corrupt(err, path, data_end + F_FILE_HASH, "whole-file hash mismatch");
        goto out;
    }
    if (versionp != NULL)
        *versionp = version;
    if (entriesp != NULL)
        *entriesp = entries;
out:
    wal_file_close(r.f);
    free(r.buf);
    XXH3_freeState(r.hash);
    return st;
}

/* ---- Listing and removal ---------------------------------------------- */

void ckpt_list_free(ckpt_info *list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(list[i].path);
    free(list);
}

/* True when `path` starts with a valid header naming `version` and is long
 * enough to hold a footer; copies the header's database id to `db_id`. */
static bool looks_valid(wal_fs *fs, const char *path, uint64_t version, uint8_t *db_id)
{
    ckpt_reader r;
    uint64_t v = 0;
    bool ok = false;

    memset(&r, 0, sizeof r);
    r.path = path;
    if (wal_file_open(fs, path, WAL_OPEN_READ, &r.f, NULL) == CAIRN_OK &&
        wal_file_size(r.f, &r.size, NULL) == CAIRN_OK &&
        r.size >= CKPT_HEADER_SIZE + CKPT_FOOTER_SIZE &&
        r_read(&r, 0, CKPT_HEADER_SIZE, NULL) == CAIRN_OK &&
        check_header(&r, NULL, &v, NULL) == CAIRN_OK) {
        ok = v == version;
        memcpy(db_id, r.buf + H_DBID, CKPT_DB_ID_SIZE);
    }
    wal_file_close(r.f);
    free(r.buf);
    return ok;
}

static int cmp_newest_first(const void *a, const void *b)
{
    uint64_t x = ((const ckpt_info *)a)->version, y = ((const ckpt_info *)b)->version;
    return x < y ? 1 : x > y ? -1 : 0;
}

cairn_status ckpt_list(wal_fs *fs, const char *dir, ckpt_info **listp, size_t *countp,
                       wal_err *err)
{
    char **names = NULL;
    size_t n = 0, count = 0;
    ckpt_info *list = NULL;
    cairn_status st = wal_fs_list(fs, dir, &names, &n, err);

    if (st != CAIRN_OK)
        return st;
    if (n > 0) {
        list = calloc(n, sizeof *list);
        if (list == NULL) {
            st = wal_err_set(err, CAIRN_NO_MEMORY, "list checkpoints: out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        bool tmp;
        char *path;
        if (!parse_name(names[i], &v, &tmp) || tmp)
            continue;
        path = wal_path_join(dir, names[i]);
        if (path == NULL) {
            st = wal_err_set(err, CAIRN_NO_MEMORY, "list checkpoints: out of memory");
            goto out;
        }
        if (!looks_valid(fs, path, v, list[count].db_id)) {
            free(path);
            continue;
        }
        list[count].version = v;
        list[count].path = path;
        count++;
    }
    if (count > 0)
        qsort(list, count, sizeof *list, cmp_newest_first);
    *listp = count > 0 ? list : NULL;
    *countp = count;
    if (count > 0)
        list = NULL;
out:
    ckpt_list_free(list, count);
    wal_fs_list_free(names, n);
    return st;
}

/* Unlinks the checkpoint files `want` selects, then fsyncs `dir`. */
static cairn_status remove_matching(wal_fs *fs, const char *dir, uint64_t keep_version,
                                    bool only_tmp, uint64_t *removedp, wal_err *err)
{
    char **names = NULL;
    size_t n = 0;
    uint64_t removed = 0;
    cairn_status st = wal_fs_list(fs, dir, &names, &n, err);

    for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
        uint64_t v;
        bool tmp, want;
        char *path;
        if (!parse_name(names[i], &v, &tmp))
            continue;
        if (only_tmp)
            want = tmp;
        else
            want = tmp ? v <= keep_version : v < keep_version;
        if (!want)
            continue;
        path = wal_path_join(dir, names[i]);
        if (path == NULL) {
            st = wal_err_set(err, CAIRN_NO_MEMORY, "remove checkpoints: out of memory");
            break;
        }
        st = wal_fs_unlink(fs, path, err);
        free(path);
        if (st == CAIRN_NOT_FOUND)
            st = CAIRN_OK;
        else if (st == CAIRN_OK)
            removed++;
    }
    if (st == CAIRN_OK && removed > 0)
        st = wal_fs_sync_dir(fs, dir, err);
    if (removedp != NULL)
        *removedp = removed;
    wal_fs_list_free(names, n);
    return st;
}

cairn_status ckpt_remove_older(wal_fs *fs, const char *dir, uint64_t keep_version,
                               uint64_t *removedp, wal_err *err)
{
    return remove_matching(fs, dir, keep_version, false, removedp, err);
}

cairn_status ckpt_remove_tmp(wal_fs *fs, const char *dir, uint64_t *removedp, wal_err *err)
{
    return remove_matching(fs, dir, 0, true, removedp, err);
}
