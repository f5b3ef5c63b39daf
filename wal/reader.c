/*
 * wal/reader.c - wal_replay(): reading the log back at recovery, and the
 * torn-tail rule.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wal/wal.h"

/* Bytes read ahead per refill of the segment window. */
#define WINDOW (1u << 20)

/* A read-ahead window over one segment file. */
typedef struct seg_reader {
    wal_file *f;
    uint64_t size;
    uint8_t *buf;
    size_t cap;
    uint64_t base;
    size_t len;
} seg_reader;

/* State of one replay. */
typedef struct replay {
    wal_fs *fs;
    const char *waldir;
    uint64_t after_version;
    wal_replay_fn fn;
    void *ctx;
    bool read_only;
    wal_replay_report *rep;
    bool have_version;
    uint64_t last_version;
    wal_op *ops;
    size_t n_ops, cap_ops;
    seg_reader rd;
} replay;

/*
 * Points `*pp` at bytes [off, off + n) of the segment, which must lie
 * inside the file.  The pointer is valid until the next call.
 */
static cairn_status rd_get(seg_reader *r, uint64_t off, size_t n, const uint8_t **pp,
                           wal_err *err)
{
    size_t want, got = 0;
    cairn_status st;

    if (off >= r->base && off + n <= r->base + r->len) {
        *pp = r->buf + (off - r->base);
        return CAIRN_OK;
    }
    want = n > WINDOW ? n : WINDOW;
    if (want > r->size - off)
        want = (size_t)(r->size - off);
    if (want > r->cap) {
        uint8_t *p = realloc(r->buf, want);
        if (p == NULL)
            return wal_err_set(err, CAIRN_NO_MEMORY, "replay: out of memory");
        r->buf = p;
        r->cap = want;
    }
    r->len = 0;
    st = wal_file_pread(r->f, r->buf, want, off, &got, err);
    if (st != CAIRN_OK)
        return st;
    r->base = off;
    r->len = got;
    if (got < n)
        return wal_err_set(err, CAIRN_IO, "read %s at offset %" PRIu64 ": file shrank",
                           wal_file_path(r->f), off);
    *pp = r->buf;
    return CAIRN_OK;
}

/* Sets `*zerop` to whether bytes [from, to) are all zero. */
static cairn_status rd_all_zero(seg_reader *r, uint64_t from, uint64_t to, bool *zerop,
                                wal_err *err)
{
    while (from < to) {
        size_t n = to - from > WINDOW ? WINDOW : (size_t)(to - from);
        const uint8_t *p;
        cairn_status st = rd_get(r, from, n, &p, err);
        if (st != CAIRN_OK)
            return st;
        for (size_t i = 0; i < n; i++) {
            if (p[i] != 0) {
                *zerop = false;
                return CAIRN_OK;
            }
        }
        from += n;
    }
    *zerop = true;
    return CAIRN_OK;
}

static cairn_status collect_op(void *ctx, const wal_op *op)
{
    replay *rp = ctx;

    if (rp->n_ops == rp->cap_ops) {
        size_t cap = rp->cap_ops ? rp->cap_ops * 2 : 64;
        wal_op *v = realloc(rp->ops, cap * sizeof *v);
        if (v == NULL)
            return CAIRN_NO_MEMORY;
        rp->ops = v;
        rp->cap_ops = cap;
    }
    rp->ops[rp->n_ops++] = *op;
    return CAIRN_OK;
}

/* Sets `*foundp` when a valid record with a fresh version starts anywhere
 * in (x, e). */
static cairn_status valid_record_inside(replay *rp, uint64_t x, uint64_t e, bool *foundp,
                                        wal_err *err)
{
    seg_reader *r = &rp->rd;

    *foundp = false;
    for (uint64_t p = x + 1; p + WAL_RECORD_HEADER_SIZE <= e; p++) {
        const uint8_t *b;
        uint32_t len;
        uint64_t version;
        cairn_status st = rd_get(r, p, WAL_RECORD_HEADER_SIZE, &b, err);
        if (st != CAIRN_OK)
            return st;
        len = wal_get_u32(b);
        version = wal_get_u64(b + 12);
        if (len < WAL_RECORD_HEADER_SIZE || len > r->size - p ||
            (rp->have_version && version <= rp->last_version))
            continue;
        st = rd_get(r, p, len, &b, err);
        if (st != CAIRN_OK)
            return st;
        if (wal_record_decode(b, len, NULL, NULL, NULL, NULL) == CAIRN_OK) {
            *foundp = true;
            return CAIRN_OK;
        }
    }
    return CAIRN_OK;
}

/*
 * Looks at every valid record that starts after `x` in the segment (with a
 * version above `last_good`).  Sets `*vouchp` when one of them says the log
 * was fdatasynced past `last_good` -- then the damaged bytes at `x` were
 * synced data, not a torn tail -- and `*endp` to the end of the last such
 * record (at least `e`).
 */
static cairn_status later_records_vouch(replay *rp, uint64_t x, uint64_t e, uint64_t last_good,
                                        bool *vouchp, uint64_t *endp, wal_err *err)
{
    seg_reader *r = &rp->rd;

    *vouchp = false;
    *endp = e;
    for (uint64_t p = x + 1; p + WAL_RECORD_HEADER_SIZE <= r->size; p++) {
        const uint8_t *b;
        uint32_t len;
        cairn_status st = rd_get(r, p, WAL_RECORD_HEADER_SIZE, &b, err);
        if (st != CAIRN_OK)
            return st;
        len = wal_get_u32(b);
        if (len < WAL_RECORD_HEADER_SIZE || len > r->size - p || wal_get_u64(b + 12) <= last_good)
            continue;
        st = rd_get(r, p, len, &b, err);
        if (st != CAIRN_OK)
            return st;
        if (wal_record_decode(b, len, NULL, NULL, NULL, NULL) != CAIRN_OK)
            continue;
        if (wal_record_synced_version(b) > last_good) {
            *vouchp = true;
            return CAIRN_OK;
        }
        if (p + len > *endp)
            *endp = p + len;
        p += len - 1;
    }
    return CAIRN_OK;
}

/* Zero-fills [x, e) of the segment at `path` and fdatasyncs it. */
static cairn_status zero_fill(replay *rp, const char *path, uint64_t x, uint64_t e,
                              wal_err *err)
{
    static const uint8_t zeros[4096];
    wal_file *f = NULL;
    cairn_status st = wal_file_open(rp->fs, path, WAL_OPEN_WRITE, &f, err);

    while (st == CAIRN_OK && x < e) {
        size_t n = e - x > sizeof zeros ? sizeof zeros : (size_t)(e - x);
        st = wal_file_pwrite(f, zeros, n, x, err);
        x += n;
    }
    if (st == CAIRN_OK)
        st = wal_file_datasync(f, err);
    wal_file_close(f);
    return st;
}

/*
 * The first bad record of a segment starts at `x`.  Decides between a torn
 * tail (reported, and repaired unless read-only) and corruption.
 */
static cairn_status bad_record(replay *rp, const char *path, bool is_last, uint64_t x,
                               uint64_t prev_version, const char *why, uint64_t *endp,
                               wal_err *err)
{
    seg_reader *r = &rp->rd;
    uint64_t remain = r->size - x, e, fill_end = 0;
    bool zero = false, inside = false;
    cairn_status st;

    if (!is_last)
        return wal_err_set(err, CAIRN_CORRUPT,
                           "wal segment %s at offset %" PRIu64
                           ": damaged record (%s) in a segment that is not the last",
                           path, x, why);
    e = r->size;
    if (remain >= 4) {
        const uint8_t *b;
        uint32_t len;
        st = rd_get(r, x, 4, &b, err);
        if (st != CAIRN_OK)
            return st;
        len = wal_get_u32(b);
        e = len >= WAL_RECORD_HEADER_SIZE && len <= remain ? x + len : x + 4;
    }
    st = rd_all_zero(r, e, r->size, &zero, err);
    if (st == CAIRN_OK && zero)
        st = valid_record_inside(rp, x, e, &inside, err);
    if (st != CAIRN_OK)
        return st;
    if (!zero || inside) {
        /* More log data follows.  After power loss a later unsynced write
         * can survive while an earlier one is lost: that is still a torn
         * tail, unless a later record vouches that the log was synced past
         * the last good record (then synced data was damaged). */
        uint64_t last_good = rp->have_version ? rp->last_version : prev_version;
        bool vouch = false;
        st = later_records_vouch(rp, x, e, last_good, &vouch, &e, err);
        if (st != CAIRN_OK)
            return st;
        if (vouch)
            return wal_err_set(err, CAIRN_CORRUPT,
                               "wal segment %s at offset %" PRIu64
                               ": damaged record (%s) followed by more log data, and the log "
                               "was synced past it",
                               path, x, why);
        /* report the log bytes dropped; clear everything after x, so no
         * stray bytes can surface behind records appended later */
        rp->rep->bytes_truncated = e - x;
        fill_end = r->size;
    }
    rp->rep->torn = true;
    rp->rep->torn_offset = x;
    if (fill_end == 0) {
        rp->rep->bytes_truncated = e - x;
        fill_end = e;
    }
    {
        size_t n = strlen(path);
        if (n >= sizeof rp->rep->torn_path)
            n = sizeof rp->rep->torn_path - 1;
        memcpy(rp->rep->torn_path, path, n);
        rp->rep->torn_path[n] = '\0';
    }
    if (!rp->read_only) {
        st = zero_fill(rp, path, x, fill_end, err);
        if (st != CAIRN_OK)
            return st;
        rp->rep->repaired = true;
    }
    *endp = x;
    return CAIRN_OK;
}

/* Replays the records of one open segment; `*endp` receives the offset
 * where its valid records end. */
static cairn_status replay_segment(replay *rp, const char *path, bool is_last,
                                   uint64_t prev_version, uint64_t *endp, wal_err *err)
{
    seg_reader *r = &rp->rd;
    uint64_t off = WAL_SEGMENT_HEADER_SIZE;

    for (;;) {
        uint64_t remain = r->size - off, version = 0;
        const uint8_t *b;
        uint32_t len;
        size_t rec_len = 0;
        bool zero = false;
        cairn_status st;

        if (remain == 0)
            break;
        if (remain < 4) {
            st = rd_all_zero(r, off, r->size, &zero, err);
            if (st != CAIRN_OK)
                return st;
            if (zero)
                break;
            return bad_record(rp, path, is_last, off, prev_version, "truncated length field", endp, err);
        }
        st = rd_get(r, off, 4, &b, err);
        if (st != CAIRN_OK)
            return st;
        len = wal_get_u32(b);
        if (len == 0) {
            st = rd_all_zero(r, off, r->size, &zero, err);
            if (st != CAIRN_OK)
                return st;
            if (zero)
                break;
            return bad_record(rp, path, is_last, off, prev_version, "zero length before more data", endp,
                              err);
        }
        if (len < WAL_RECORD_HEADER_SIZE || len > remain)
            return bad_record(rp, path, is_last, off, prev_version, "length out of range", endp, err);
        st = rd_get(r, off, len, &b, err);
        if (st != CAIRN_OK)
            return st;
        rp->n_ops = 0;
        st = wal_record_decode(b, len, &version, &rec_len, collect_op, rp);
        if (st == CAIRN_CORRUPT)
            return bad_record(rp, path, is_last, off, prev_version, "checksum or structure mismatch", endp,
                              err);
        if (st != CAIRN_OK)
            return wal_err_set(err, st, "replay %s at offset %" PRIu64 ": out of memory", path,
                               off);
        if ((rp->have_version && version <= rp->last_version) || version <= prev_version)
            return wal_err_set(err, CAIRN_CORRUPT,
                               "wal segment %s at offset %" PRIu64 ": version %" PRIu64
                               " does not follow %" PRIu64,
                               path, off, version,
                               rp->have_version ? rp->last_version : prev_version);
        rp->have_version = true;
        rp->last_version = version;
        rp->rep->records_read++;
        rp->rep->record_bytes += len;
        if (version > rp->after_version && rp->fn != NULL) {
            st = rp->fn(rp->ctx, version, rp->ops, rp->n_ops);
            if (st != CAIRN_OK)
                return wal_err_set(err, st,
                                   "replay %s at offset %" PRIu64 ": callback refused version %" PRIu64,
                                   path, off, version);
            rp->rep->records_replayed++;
        } else if (version > rp->after_version) {
            rp->rep->records_replayed++;
        }
        off += len;
    }
    *endp = off;
    return CAIRN_OK;
}

/*
 * Opens segment `no` (the one after `prev_no`, 0 for the first), checks
 * its header against what came before, and replays its records.  On
 * success `*endp` is where its valid records end.
 */
static cairn_status replay_one(replay *rp, uint64_t no, uint64_t prev_no, bool is_last,
                               uint8_t *id, bool *have_idp, uint64_t *endp, wal_err *err)
{
    char name[WAL_SEGMENT_NAME_MAX];
    wal_segment_header h;
    char *path;
    cairn_status st;

    wal_segment_name(name, no);
    path = wal_path_join(rp->waldir, name);
    if (path == NULL)
        return wal_err_set(err, CAIRN_NO_MEMORY, "replay: out of memory");
    rp->rd.f = NULL;
    if (prev_no != 0 && no != prev_no + 1) {
        st = wal_err_set(err, CAIRN_CORRUPT,
                         "wal segment %s at offset 0: segments %" PRIu64 " to %" PRIu64
                         " are missing",
                         path, prev_no + 1, no - 1);
        goto out;
    }
    st = wal_segment_open(rp->fs, rp->waldir, no, false, *have_idp ? id : NULL, &rp->rd.f, &h,
                          &rp->rd.size, err);
    if (st != CAIRN_OK)
        goto out;
    if (!*have_idp) {
        memcpy(id, h.db_id, WAL_DB_ID_SIZE);
        *have_idp = true;
    }
    rp->rd.base = 0;
    rp->rd.len = 0;
    if (rp->have_version && h.prev_version < rp->last_version) {
        st = wal_err_set(err, CAIRN_CORRUPT,
                         "wal segment %s at offset 40: prev_version %" PRIu64
                         " is older than version %" PRIu64 " before it",
                         path, h.prev_version, rp->last_version);
        goto out;
    }
    st = replay_segment(rp, path, is_last, h.prev_version, endp, err);
out:
    wal_file_close(rp->rd.f);
    rp->rd.f = NULL;
    free(path);
    return st;
}

cairn_status wal_replay(wal_fs *fs, const char *dir, const uint8_t *db_id,
                        uint64_t after_version, wal_replay_fn fn, void *ctx, bool read_only,
                        wal_replay_report *rep, wal_err *err)
{
    replay rp;
    uint8_t id[WAL_DB_ID_SIZE];
    bool have_id = db_id != NULL;
    uint64_t *nos = NULL;
    size_t n = 0;
    char *waldir = NULL;
    cairn_status st;

    if (fs == NULL || dir == NULL || rep == NULL)
        return wal_err_set(err, CAIRN_INVALID_ARGUMENT, "replay: NULL argument");
    memset(rep, 0, sizeof *rep);
    memset(&rp, 0, sizeof rp);
    if (have_id)
        memcpy(id, db_id, WAL_DB_ID_SIZE);
    waldir = wal_dir_path(dir);
    if (waldir == NULL) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "replay: out of memory");
        goto out;
    }
    rp.fs = fs;
    rp.waldir = waldir;
    rp.after_version = after_version;
    rp.fn = fn;
    rp.ctx = ctx;
    rp.read_only = read_only;
    rp.rep = rep;
    st = wal_segment_list(fs, waldir, &nos, &n, err);
    for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
        uint64_t end = 0;
        st = replay_one(&rp, nos[i], i > 0 ? nos[i - 1] : 0, i + 1 == n, id, &have_id, &end,
                        err);
        if (st != CAIRN_OK)
            break;
        rep->segments_read++;
        if (rep->first_segment == 0)
            rep->first_segment = nos[i];
        rep->last_segment = nos[i];
        rep->resume_segment = nos[i];
        rep->resume_offset = end;
    }
    if (have_id)
        memcpy(rep->db_id, id, WAL_DB_ID_SIZE);
    rep->last_version = rp.last_version;
out:
    free(rp.rd.buf);
    free(rp.ops);
    free(nos);
    free(waldir);
    return st;
}
