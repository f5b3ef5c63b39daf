/*
 * wal/segment.c - segment names, headers and creation.
 */
#include "wal/segment.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "wal/record.h"

/* Header byte offsets. */
#define H_MAGIC 0
#define H_VERSION 8
#define H_HSIZE 12
#define H_SEGNO 16
#define H_DBID 24
#define H_PREV 40
#define H_RESERVED 48
#define H_CHECKSUM 56

void wal_segment_header_encode(uint8_t *out, const wal_segment_header *h)
{
    memset(out, 0, WAL_SEGMENT_HEADER_SIZE);
    memcpy(out + H_MAGIC, WAL_SEGMENT_MAGIC, 8);
    wal_put_u32(out + H_VERSION, WAL_FORMAT_VERSION);
    wal_put_u32(out + H_HSIZE, WAL_SEGMENT_HEADER_SIZE);
    wal_put_u64(out + H_SEGNO, h->segment_no);
    memcpy(out + H_DBID, h->db_id, WAL_DB_ID_SIZE);
    wal_put_u64(out + H_PREV, h->prev_version);
    wal_put_u64(out + H_CHECKSUM, XXH3_64bits(out, H_CHECKSUM));
}

cairn_status wal_segment_header_decode(const uint8_t *in, wal_segment_header *h, wal_err *err)
{
    if (memcmp(in + H_MAGIC, WAL_SEGMENT_MAGIC, 8) != 0)
        return wal_err_set(err, CAIRN_CORRUPT, "bad segment magic");
    if (wal_get_u64(in + H_CHECKSUM) != XXH3_64bits(in, H_CHECKSUM))
        return wal_err_set(err, CAIRN_CORRUPT, "segment header checksum mismatch");
    if (wal_get_u32(in + H_VERSION) != WAL_FORMAT_VERSION)
        return wal_err_set(err, CAIRN_CORRUPT, "unknown segment format version %" PRIu32,
                           wal_get_u32(in + H_VERSION));
    if (wal_get_u32(in + H_HSIZE) != WAL_SEGMENT_HEADER_SIZE)
        return wal_err_set(err, CAIRN_CORRUPT, "unexpected segment header size %" PRIu32,
                           wal_get_u32(in + H_HSIZE));
    h->segment_no = wal_get_u64(in + H_SEGNO);
    memcpy(h->db_id, in + H_DBID, WAL_DB_ID_SIZE);
    h->prev_version = wal_get_u64(in + H_PREV);
    return CAIRN_OK;
}

void wal_segment_name(char *out, uint64_t no)
{
    snprintf(out, WAL_SEGMENT_NAME_MAX, "%06" PRIu64 ".wal", no);
}

bool wal_segment_parse_name(const char *name, uint64_t *nop)
{
    uint64_t no = 0;
    size_t digits = 0;

    while (name[digits] >= '0' && name[digits] <= '9') {
        if (digits >= 20 || no > (UINT64_MAX - 9) / 10)
            return false;
        no = no * 10 + (uint64_t)(name[digits] - '0');
        digits++;
    }
    if (digits < 6 || strcmp(name + digits, ".wal") != 0)
        return false;
    /* Exactly the canonical spelling: no extra leading zeros past six digits. */
    if (digits > 6 && name[0] == '0')
        return false;
    *nop = no;
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

cairn_status wal_segment_list(wal_fs *fs, const char *waldir, uint64_t **nosp, size_t *countp,
                              wal_err *err)
{
    char **names = NULL;
    size_t n = 0, count = 0;
    uint64_t *nos = NULL;
    cairn_status st = wal_fs_list(fs, waldir, &names, &n, err);

    if (st == CAIRN_NOT_FOUND) {
        *nosp = NULL;
        *countp = 0;
        return CAIRN_OK;
    }
    if (st != CAIRN_OK)
        return st;
    if (n > 0) {
        nos = malloc(n * sizeof *nos);
        if (nos == NULL) {
            st = wal_err_set(err, CAIRN_NO_MEMORY, "list %s: out of memory", waldir);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t no;
        if (wal_segment_parse_name(names[i], &no))
            nos[count++] = no;
    }
    if (count > 0)
        qsort(nos, count, sizeof *nos, cmp_u64);
    else {
        free(nos);
        nos = NULL;
    }
    *nosp = nos;
    *countp = count;
    nos = NULL;
out:
    free(nos);
    wal_fs_list_free(names, n);
    return st;
}

cairn_status wal_segment_create(wal_fs *fs, const char *waldir, const wal_segment_header *h,
                                uint64_t size, wal_file **fp, wal_err *err)
{
    char name[WAL_SEGMENT_NAME_MAX], tmpname[WAL_SEGMENT_NAME_MAX + 4];
    uint8_t hdr[WAL_SEGMENT_HEADER_SIZE];
    char *path = NULL, *tmp = NULL;
    wal_file *f = NULL;
    cairn_status st;

    wal_segment_name(name, h->segment_no);
    snprintf(tmpname, sizeof tmpname, "%s.tmp", name);
    path = wal_path_join(waldir, name);
    tmp = wal_path_join(waldir, tmpname);
    if (path == NULL || tmp == NULL) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "create segment: out of memory");
        goto out;
    }
    st = wal_file_open(fs, path, WAL_OPEN_READ, &f, NULL);
    if (st == CAIRN_OK) {
        st = wal_err_set(err, CAIRN_EXISTS, "create segment %s: it already exists", path);
        goto out;
    }
    /* A leftover temporary file from an interrupted creation is replaced. */
    st = wal_file_open(fs, tmp, WAL_OPEN_CREATE, &f, err);
    if (st != CAIRN_OK)
        goto out;
    st = wal_file_truncate(f, 0, err);
    if (st == CAIRN_OK)
        st = wal_file_allocate(f, 0, size, err);
    if (st == CAIRN_OK) {
        wal_segment_header_encode(hdr, h);
        st = wal_file_pwrite(f, hdr, sizeof hdr, 0, err);
    }
    if (st == CAIRN_OK)
        st = wal_file_datasync(f, err);
    wal_file_close(f);
    f = NULL;
    if (st == CAIRN_OK)
        st = wal_fs_rename(fs, tmp, path, err);
    if (st == CAIRN_OK)
        st = wal_fs_sync_dir(fs, waldir, err);
    if (st == CAIRN_OK)
        st = wal_file_open(fs, path, WAL_OPEN_WRITE, &f, err);
    if (st != CAIRN_OK)
        goto out;
    *fp = f;
    f = NULL;
out:
    wal_file_close(f);
    free(path);
    free(tmp);
    return st;
}

cairn_status wal_segment_open(wal_fs *fs, const char *waldir, uint64_t no, bool writable,
                              const uint8_t *db_id, wal_file **fp, wal_segment_header *hp,
                              uint64_t *sizep, wal_err *err)
{
    char name[WAL_SEGMENT_NAME_MAX];
    uint8_t hdr[WAL_SEGMENT_HEADER_SIZE];
    wal_segment_header h;
    wal_file *f = NULL;
    uint64_t size = 0;
    size_t got = 0;
    char *path;
    cairn_status st;

    wal_segment_name(name, no);
    path = wal_path_join(waldir, name);
    if (path == NULL)
        return wal_err_set(err, CAIRN_NO_MEMORY, "open segment: out of memory");
    st = wal_file_open(fs, path, writable ? WAL_OPEN_WRITE : WAL_OPEN_READ, &f, err);
    if (st == CAIRN_OK)
        st = wal_file_size(f, &size, err);
    if (st == CAIRN_OK)
        st = wal_file_pread(f, hdr, sizeof hdr, 0, &got, err);
    if (st != CAIRN_OK)
        goto out;
    if (got < sizeof hdr) {
        st = wal_err_set(err, CAIRN_CORRUPT,
                         "wal segment %s at offset 0: file of %" PRIu64
                         " bytes is shorter than the segment header",
                         path, size);
        goto out;
    }
    st = wal_segment_header_decode(hdr, &h, err);
    if (st != CAIRN_OK) {
        wal_err why;
        wal_err_set(&why, st, "%s", err != NULL ? err->msg : "bad header");
        st = wal_err_set(err, st, "wal segment %s at offset 0: %s", path, why.msg);
        goto out;
    }
    if (h.segment_no != no) {
        st = wal_err_set(err, CAIRN_CORRUPT,
                         "wal segment %s at offset 16: header names segment %" PRIu64, path,
                         h.segment_no);
        goto out;
    }
    if (db_id != NULL && memcmp(db_id, h.db_id, WAL_DB_ID_SIZE) != 0) {
        st = wal_err_set(err, CAIRN_CORRUPT,
                         "wal segment %s at offset 24: belongs to another database", path);
        goto out;
    }
    *fp = f;
    *hp = h;
    *sizep = size;
    f = NULL;
out:
    wal_file_close(f);
    free(path);
    return st;
}
