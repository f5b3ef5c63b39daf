/*
 * wal/wal.c - the log writer: buffering, group commit, the flusher,
 * segment roll-over and removal.
 *
 * LSNs are byte counts: a record's LSN is the total number of bytes
 * appended since open once it is in the buffer.  Three watermarks move
 * forward under `mu`: appended_lsn (in the buffer), written_lsn (handed to
 * the OS), synced_lsn (fdatasynced).  At most one thread does log I/O at a
 * time (`io_active`); it swaps the append buffer with the I/O buffer, drops
 * the mutex for the pwrite/fdatasync, and broadcasts when done.
 */
#include "wal/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One live segment: its number, its size on disk (for older segments) and
 * the prev_version from its header. */
typedef struct seg_info {
    uint64_t no;
    uint64_t bytes;
    uint64_t prev_version;
} seg_info;

typedef struct byte_buf {
    uint8_t *p;
    size_t len, cap;
} byte_buf;

struct wal {
    wal_fs *fs;
    char *waldir;
    wal_config cfg;

    pthread_mutex_t mu;
    pthread_cond_t io_cond;    /* I/O finished, or the wal was poisoned */
    pthread_cond_t flush_cond; /* wakes the flusher */
    pthread_mutex_t rm_mu;     /* serialises segment removal */
    bool sync_init;

    wal_file *cur;
    uint64_t seg_no, seg_size, seg_off;
    uint64_t buf_off; /* file offset of buf.p[0] in the current segment */
    byte_buf buf, iobuf;
    bool io_active, poisoned, closing, flusher_idle;
    uint64_t appended_lsn, written_lsn, synced_lsn, last_version;
    /* Newest commit version known fdatasynced (0 until the first sync after
     * open); stamped into every appended record, see wal_record_stamp_synced. */
    uint64_t synced_version;

    seg_info *segs; /* every live segment, ascending; the current one last */
    size_t n_segs, cap_segs;

    uint64_t records, bytes_appended, writes, syncs, segments_created;
    wal_err errmsg;

    pthread_t flusher;
    bool has_flusher;
};

void wal_config_init(wal_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->segment_size = WAL_SEGMENT_DEFAULT_SIZE;
    cfg->sync_interval_ms = 10;
    cfg->first_segment = 1;
}

char *wal_dir_path(const char *dir)
{
    return wal_path_join(dir, "wal");
}

/* ---- Helpers (mu held unless said otherwise) -------------------------- */

static void poison_locked(wal *w, const wal_err *e)
{
    if (!w->poisoned) {
        w->poisoned = true;
        wal_err_set(&w->errmsg, CAIRN_IO, "wal poisoned: %s", e->msg);
    }
    pthread_cond_broadcast(&w->io_cond);
    pthread_cond_broadcast(&w->flush_cond);
}

static cairn_status segs_push(wal *w, uint64_t no, uint64_t bytes, uint64_t prev_version)
{
    if (w->n_segs == w->cap_segs) {
        size_t cap = w->cap_segs ? w->cap_segs * 2 : 8;
        seg_info *v = realloc(w->segs, cap * sizeof *v);
        if (v == NULL)
            return CAIRN_NO_MEMORY;
        w->segs = v;
        w->cap_segs = cap;
    }
    w->segs[w->n_segs].no = no;
    w->segs[w->n_segs].bytes = bytes;
    w->segs[w->n_segs].prev_version = prev_version;
    w->n_segs++;
    return CAIRN_OK;
}

/*
 * Leads one round of log I/O: writes everything buffered with one pwrite
 * and, with `sync`, issues one fdatasync.  Called with mu held and no I/O
 * active; drops mu during the I/O and holds it again on return.
 */
static cairn_status lead_io_locked(wal *w, bool sync)
{
    byte_buf tmp = w->iobuf;
    uint64_t off = w->buf_off, target = w->appended_lsn, target_version = w->last_version;
    wal_file *f = w->cur;
    cairn_status st = CAIRN_OK;
    bool wrote;
    wal_err e;

    w->io_active = true;
    w->iobuf = w->buf;
    w->buf = tmp;
    w->buf.len = 0;
    w->buf_off += w->iobuf.len;
    wrote = w->iobuf.len > 0;
    pthread_mutex_unlock(&w->mu);

    if (wrote)
        st = wal_file_pwrite(f, w->iobuf.p, w->iobuf.len, off, &e);
    if (st == CAIRN_OK && sync)
        st = wal_file_datasync(f, &e);

    pthread_mutex_lock(&w->mu);
    w->iobuf.len = 0;
    w->io_active = false;
    if (wrote)
        w->writes++;
    if (sync)
        w->syncs++;
    if (st != CAIRN_OK) {
        poison_locked(w, &e);
    } else {
        w->written_lsn = target;
        if (sync) {
            w->synced_lsn = target;
            w->synced_version = target_version;
        }
    }
    pthread_cond_broadcast(&w->io_cond);
    return st;
}

/* Waits until no thread is doing log I/O. */
static void wait_io_idle_locked(wal *w)
{
    while (w->io_active)
        pthread_cond_wait(&w->io_cond, &w->mu);
}

/*
 * Finishes the current segment (write, fdatasync, close) and creates the
 * next one, large enough for a record of `need` bytes.  The caller holds
 * the commit lock, so no append runs meanwhile.
 */
static cairn_status roll_locked(wal *w, size_t need)
{
    wal_segment_header h;
    uint64_t size = w->cfg.segment_size;
    uint64_t want = WAL_SEGMENT_HEADER_SIZE + (uint64_t)need;
    wal_file *f = NULL;
    cairn_status st;
    wal_err e;

    wait_io_idle_locked(w);
    if (w->poisoned)
        return CAIRN_IO;
    if (w->buf.len > 0 || w->synced_lsn < w->appended_lsn) {
        /* Returns with mu held and no I/O active: nobody else can start
         * I/O while this round has io_active set. */
        st = lead_io_locked(w, true);
        if (st != CAIRN_OK)
            return CAIRN_IO;
    }
    if (want > size)
        size = (want + 4095) / 4096 * 4096;
    memset(&h, 0, sizeof h);
    h.segment_no = w->seg_no + 1;
    memcpy(h.db_id, w->cfg.db_id, WAL_DB_ID_SIZE);
    h.prev_version = w->last_version;
    st = wal_segment_create(w->fs, w->waldir, &h, size, &f, &e);
    if (st == CAIRN_OK && segs_push(w, h.segment_no, 0, h.prev_version) != CAIRN_OK) {
        st = wal_err_set(&e, CAIRN_NO_MEMORY, "roll-over: out of memory");
        wal_file_close(f);
    }
    if (st != CAIRN_OK) {
        poison_locked(w, &e);
        return CAIRN_IO;
    }
    w->segs[w->n_segs - 2].bytes = w->seg_size;
    wal_file_close(w->cur);
    w->cur = f;
    w->seg_no = h.segment_no;
    w->seg_size = size;
    w->seg_off = WAL_SEGMENT_HEADER_SIZE;
    w->buf_off = WAL_SEGMENT_HEADER_SIZE;
    w->segments_created++;
    return CAIRN_OK;
}

/* ---- Flusher ---------------------------------------------------------- */

static void deadline_after_ms(struct timespec *ts, uint32_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *flusher_main(void *arg)
{
    wal *w = arg;
    struct timespec deadline;

    pthread_mutex_lock(&w->mu);
    while (!w->closing && !w->poisoned) {
        if (w->appended_lsn == w->synced_lsn) {
            w->flusher_idle = true;
            pthread_cond_wait(&w->flush_cond, &w->mu);
            w->flusher_idle = false;
            continue;
        }
        deadline_after_ms(&deadline, w->cfg.sync_interval_ms);
        while (!w->closing && !w->poisoned &&
               pthread_cond_timedwait(&w->flush_cond, &w->mu, &deadline) != ETIMEDOUT)
            ;
        if (w->closing || w->poisoned)
            break;
        wait_io_idle_locked(w);
        if (!w->poisoned && w->appended_lsn > w->synced_lsn)
            lead_io_locked(w, true);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- Open and close --------------------------------------------------- */

static void wal_free(wal *w)
{
    if (w == NULL)
        return;
    if (w->sync_init) {
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->rm_mu);
        pthread_cond_destroy(&w->io_cond);
        pthread_cond_destroy(&w->flush_cond);
    }
    wal_file_close(w->cur);
    free(w->buf.p);
    free(w->iobuf.p);
    free(w->segs);
    free(w->waldir);
    free(w);
}

static cairn_status init_sync(wal *w, wal_err *err)
{
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;

    if (!ok)
        return wal_err_set(err, CAIRN_NO_MEMORY, "wal open: pthread init failed");
    ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
         pthread_mutex_init(&w->mu, NULL) == 0;
    if (ok && pthread_mutex_init(&w->rm_mu, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        ok = false;
    }
    if (ok && pthread_cond_init(&w->io_cond, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->rm_mu);
        ok = false;
    }
    if (ok && pthread_cond_init(&w->flush_cond, &ca) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->rm_mu);
        pthread_cond_destroy(&w->io_cond);
        ok = false;
    }
    pthread_condattr_destroy(&ca);
    w->sync_init = ok;
    return ok ? CAIRN_OK : wal_err_set(err, CAIRN_NO_MEMORY, "wal open: pthread init failed");
}

/* Unlinks leftover NNNNNN.wal.tmp files from interrupted segment creation. */
static cairn_status remove_stray_tmp(wal *w, wal_err *err)
{
    char **names = NULL;
    size_t n = 0;
    bool removed = false;
    cairn_status st = wal_fs_list(w->fs, w->waldir, &names, &n, err);

    for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
        size_t len = strlen(names[i]);
        char *path;
        if (len < 8 || strcmp(names[i] + len - 8, ".wal.tmp") != 0)
            continue;
        path = wal_path_join(w->waldir, names[i]);
        if (path == NULL) {
            st = wal_err_set(err, CAIRN_NO_MEMORY, "wal open: out of memory");
            break;
        }
        st = wal_fs_unlink(w->fs, path, err);
        free(path);
        if (st == CAIRN_NOT_FOUND)
            st = CAIRN_OK;
        removed = true;
    }
    if (st == CAIRN_OK && removed)
        st = wal_fs_sync_dir(w->fs, w->waldir, err);
    wal_fs_list_free(names, n);
    return st;
}

/* Records every existing segment (header checked) in w->segs. */
static cairn_status load_segments(wal *w, wal_err *err)
{
    uint64_t *nos = NULL;
    size_t n = 0;
    cairn_status st = wal_segment_list(w->fs, w->waldir, &nos, &n, err);

    for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
        wal_segment_header h;
        wal_file *f = NULL;
        uint64_t size = 0;
        st = wal_segment_open(w->fs, w->waldir, nos[i], false, w->cfg.db_id, &f, &h, &size, err);
        wal_file_close(f);
        if (st == CAIRN_OK && segs_push(w, nos[i], size, h.prev_version) != CAIRN_OK)
            st = wal_err_set(err, CAIRN_NO_MEMORY, "wal open: out of memory");
    }
    free(nos);
    return st;
}

/* Opens the segment to continue, or creates a new one. */
static cairn_status open_current(wal *w, wal_err *err)
{
    const wal_config *cfg = &w->cfg;
    wal_segment_header h;
    uint64_t size = 0;
    cairn_status st;

    if (cfg->resume_segment != 0) {
        if (w->n_segs == 0 || w->segs[w->n_segs - 1].no != cfg->resume_segment)
            return wal_err_set(err, CAIRN_INVALID_ARGUMENT,
                               "wal open: resume segment %" PRIu64 " is not the newest segment",
                               cfg->resume_segment);
        st = wal_segment_open(w->fs, w->waldir, cfg->resume_segment, true, cfg->db_id, &w->cur,
                              &h, &size, err);
        if (st != CAIRN_OK)
            return st;
        if (cfg->resume_offset < WAL_SEGMENT_HEADER_SIZE || cfg->resume_offset > size)
            return wal_err_set(err, CAIRN_INVALID_ARGUMENT,
                               "wal open: resume offset %" PRIu64 " outside segment %s",
                               cfg->resume_offset, wal_file_path(w->cur));
        w->seg_no = cfg->resume_segment;
        w->seg_size = size;
        w->seg_off = cfg->resume_offset;
        return CAIRN_OK;
    }
    memset(&h, 0, sizeof h);
    h.segment_no = cfg->first_segment;
    if (w->n_segs > 0 && w->segs[w->n_segs - 1].no >= h.segment_no)
        h.segment_no = w->segs[w->n_segs - 1].no + 1;
    memcpy(h.db_id, cfg->db_id, WAL_DB_ID_SIZE);
    h.prev_version = cfg->last_version;
    st = wal_segment_create(w->fs, w->waldir, &h, cfg->segment_size, &w->cur, err);
    if (st != CAIRN_OK)
        return st;
    if (segs_push(w, h.segment_no, 0, h.prev_version) != CAIRN_OK)
        return wal_err_set(err, CAIRN_NO_MEMORY, "wal open: out of memory");
    w->seg_no = h.segment_no;
    w->seg_size = cfg->segment_size;
    w->seg_off = WAL_SEGMENT_HEADER_SIZE;
    w->segments_created = 1;
    return CAIRN_OK;
}

cairn_status wal_open(wal_fs *fs, const char *dir, const wal_config *cfg, wal **walp,
                      wal_err *err)
{
    wal *w = NULL;
    cairn_status st;

    if (fs == NULL || dir == NULL || cfg == NULL || walp == NULL)
        return wal_err_set(err, CAIRN_INVALID_ARGUMENT, "wal open: NULL argument");
    if (cfg->segment_size < WAL_SEGMENT_MIN_SIZE || cfg->first_segment == 0)
        return wal_err_set(err, CAIRN_INVALID_ARGUMENT,
                           "wal open: segment_size below %llu or first_segment 0",
                           (unsigned long long)WAL_SEGMENT_MIN_SIZE);
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return wal_err_set(err, CAIRN_NO_MEMORY, "wal open: out of memory");
    w->fs = fs;
    w->cfg = *cfg;
    w->last_version = cfg->last_version;
    w->waldir = wal_dir_path(dir);
    if (w->waldir == NULL) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "wal open: out of memory");
        goto fail;
    }
    st = init_sync(w, err);
    if (st == CAIRN_OK)
        st = wal_fs_mkdir(fs, w->waldir, err);
    if (st == CAIRN_OK)
        st = wal_fs_sync_dir(fs, dir, err);
    if (st == CAIRN_OK)
        st = remove_stray_tmp(w, err);
    if (st == CAIRN_OK)
        st = load_segments(w, err);
    if (st == CAIRN_OK)
        st = open_current(w, err);
    if (st != CAIRN_OK)
        goto fail;
    w->buf_off = w->seg_off;
    if (cfg->sync_interval_ms > 0) {
        if (pthread_create(&w->flusher, NULL, flusher_main, w) != 0) {
            st = wal_err_set(err, CAIRN_NO_MEMORY, "wal open: cannot start the flusher");
            goto fail;
        }
        w->has_flusher = true;
    }
    *walp = w;
    return CAIRN_OK;
fail:
    wal_free(w);
    return st;
}

cairn_status wal_close(wal *w)
{
    cairn_status st;

    if (w == NULL)
        return CAIRN_OK;
    pthread_mutex_lock(&w->mu);
    w->closing = true;
    pthread_cond_broadcast(&w->flush_cond);
    pthread_mutex_unlock(&w->mu);
    if (w->has_flusher)
        pthread_join(w->flusher, NULL);
    pthread_mutex_lock(&w->mu);
    wait_io_idle_locked(w);
    if (!w->poisoned && (w->buf.len > 0 || w->synced_lsn < w->appended_lsn))
        lead_io_locked(w, true);
    st = w->poisoned ? CAIRN_IO : CAIRN_OK;
    pthread_mutex_unlock(&w->mu);
    wal_free(w);
    return st;
}

/* ---- Appending and waiting -------------------------------------------- */

cairn_status wal_append(wal *w, const uint8_t *rec, size_t len, uint64_t *lsnp)
{
    cairn_status st = CAIRN_OK;
    uint64_t version;

    if (rec == NULL || len < WAL_RECORD_HEADER_SIZE || len > WAL_RECORD_MAX ||
        wal_get_u32(rec) != len)
        return CAIRN_INVALID_ARGUMENT;
    version = wal_record_version(rec);
    pthread_mutex_lock(&w->mu);
    if (w->poisoned) {
        st = CAIRN_IO;
        goto out;
    }
    if (version <= w->last_version) {
        st = wal_err_set(&w->errmsg, CAIRN_INVALID_ARGUMENT,
                         "wal append: version %" PRIu64 " does not follow %" PRIu64, version,
                         w->last_version);
        goto out;
    }
    if (w->seg_off + len > w->seg_size) {
        st = roll_locked(w, len);
        if (st != CAIRN_OK)
            goto out;
    }
    if (w->buf.cap - w->buf.len < len) {
        size_t cap = w->buf.cap ? w->buf.cap : 64 * 1024;
        uint8_t *p;
        while (cap - w->buf.len < len)
            cap *= 2;
        p = realloc(w->buf.p, cap);
        if (p == NULL) {
            st = wal_err_set(&w->errmsg, CAIRN_NO_MEMORY, "wal append: out of memory");
            goto out;
        }
        w->buf.p = p;
        w->buf.cap = cap;
    }
    memcpy(w->buf.p + w->buf.len, rec, len);
    wal_record_stamp_synced(w->buf.p + w->buf.len, w->synced_version);
    w->buf.len += len;
    w->seg_off += len;
    w->appended_lsn += len;
    w->last_version = version;
    w->records++;
    w->bytes_appended += len;
    *lsnp = w->appended_lsn;
    if (w->flusher_idle)
        pthread_cond_signal(&w->flush_cond);
out:
    pthread_mutex_unlock(&w->mu);
    return st;
}

cairn_status wal_wait_durable(wal *w, uint64_t lsn, cairn_durability mode)
{
    cairn_status st = CAIRN_OK;

    if (mode == CAIRN_DURABILITY_NONE)
        return CAIRN_OK;
    if (mode != CAIRN_DURABILITY_ASYNC && mode != CAIRN_DURABILITY_SYNC)
        return CAIRN_INVALID_ARGUMENT;
    pthread_mutex_lock(&w->mu);
    if (lsn > w->appended_lsn) {
        st = CAIRN_INVALID_ARGUMENT;
        goto out;
    }
    for (;;) {
        uint64_t done = mode == CAIRN_DURABILITY_SYNC ? w->synced_lsn : w->written_lsn;
        if (w->poisoned) {
            st = CAIRN_IO;
            break;
        }
        if (done >= lsn)
            break;
        if (w->io_active) {
            pthread_cond_wait(&w->io_cond, &w->mu);
            continue;
        }
        lead_io_locked(w, mode == CAIRN_DURABILITY_SYNC);
    }
out:
    pthread_mutex_unlock(&w->mu);
    return st;
}

cairn_status wal_sync(wal *w)
{
    uint64_t lsn;

    pthread_mutex_lock(&w->mu);
    lsn = w->appended_lsn;
    pthread_mutex_unlock(&w->mu);
    return wal_wait_durable(w, lsn, CAIRN_DURABILITY_SYNC);
}

/* ---- Removal ---------------------------------------------------------- */

/* Unlinks the segments numbered nos[0..n), fsyncs the directory and drops
 * them from w->segs.  rm_mu held. */
static cairn_status remove_segments(wal *w, const uint64_t *nos, size_t n)
{
    cairn_status st = CAIRN_OK;
    size_t removed = 0;
    wal_err e;

    for (; removed < n; removed++) {
        char name[WAL_SEGMENT_NAME_MAX];
        char *path;
        wal_segment_name(name, nos[removed]);
        path = wal_path_join(w->waldir, name);
        if (path == NULL) {
            st = wal_err_set(&e, CAIRN_NO_MEMORY, "remove segments: out of memory");
            break;
        }
        st = wal_fs_unlink(w->fs, path, &e);
        free(path);
        if (st == CAIRN_NOT_FOUND)
            st = CAIRN_OK;
        if (st != CAIRN_OK)
            break;
    }
    if (removed > 0) {
        cairn_status st2 = wal_fs_sync_dir(w->fs, w->waldir, st == CAIRN_OK ? &e : NULL);
        if (st == CAIRN_OK)
            st = st2;
    }
    pthread_mutex_lock(&w->mu);
    if (removed > 0) {
        memmove(w->segs, w->segs + removed, (w->n_segs - removed) * sizeof *w->segs);
        w->n_segs -= removed;
    }
    if (st != CAIRN_OK)
        wal_err_set(&w->errmsg, st, "%s", e.msg);
    pthread_mutex_unlock(&w->mu);
    return st;
}

/* Removes the oldest `count` segments (never the current one). */
static cairn_status remove_oldest(wal *w, size_t count, uint64_t *removedp)
{
    uint64_t *nos = NULL;
    cairn_status st = CAIRN_OK;

    if (count > 0) {
        nos = malloc(count * sizeof *nos);
        if (nos == NULL)
            return CAIRN_NO_MEMORY;
        pthread_mutex_lock(&w->mu);
        for (size_t i = 0; i < count; i++)
            nos[i] = w->segs[i].no;
        pthread_mutex_unlock(&w->mu);
        st = remove_segments(w, nos, count);
    }
    if (removedp != NULL)
        *removedp = st == CAIRN_OK ? count : 0;
    free(nos);
    return st;
}

cairn_status wal_remove_segments_before(wal *w, uint64_t segment_no)
{
    cairn_status st;
    size_t count = 0;

    pthread_mutex_lock(&w->rm_mu);
    pthread_mutex_lock(&w->mu);
    while (count + 1 < w->n_segs && w->segs[count].no < segment_no)
        count++;
    pthread_mutex_unlock(&w->mu);
    st = remove_oldest(w, count, NULL);
    pthread_mutex_unlock(&w->rm_mu);
    return st;
}

cairn_status wal_remove_covered(wal *w, uint64_t version, uint64_t *removedp)
{
    cairn_status st;
    size_t count = 0;

    pthread_mutex_lock(&w->rm_mu);
    pthread_mutex_lock(&w->mu);
    while (count + 1 < w->n_segs && w->segs[count + 1].prev_version <= version)
        count++;
    pthread_mutex_unlock(&w->mu);
    st = remove_oldest(w, count, removedp);
    pthread_mutex_unlock(&w->rm_mu);
    return st;
}

/* ---- Reporting -------------------------------------------------------- */

void wal_get_stats(wal *w, wal_stats *sp)
{
    uint64_t total = 0;

    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i + 1 < w->n_segs; i++)
        total += w->segs[i].bytes;
    sp->records = w->records;
    sp->bytes_appended = w->bytes_appended;
    sp->writes = w->writes;
    sp->syncs = w->syncs;
    sp->segments_created = w->segments_created;
    sp->segment_no = w->seg_no;
    sp->segment_offset = w->seg_off;
    sp->total_bytes = total + w->seg_off;
    sp->appended_lsn = w->appended_lsn;
    sp->written_lsn = w->written_lsn;
    sp->synced_lsn = w->synced_lsn;
    sp->last_version = w->last_version;
    pthread_mutex_unlock(&w->mu);
}

bool wal_is_poisoned(wal *w)
{
    bool p;

    pthread_mutex_lock(&w->mu);
    p = w->poisoned;
    pthread_mutex_unlock(&w->mu);
    return p;
}

size_t wal_errmsg(wal *w, char *buf, size_t cap)
{
    size_t len;

    pthread_mutex_lock(&w->mu);
    len = strlen(w->errmsg.msg);
    if (cap > 0)
        snprintf(buf, cap, "%s", w->errmsg.msg);
    pthread_mutex_unlock(&w->mu);
    return len;
}
