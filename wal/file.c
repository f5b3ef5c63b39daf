/*
 * wal/file.c - POSIX file layer with fault injection and a power-loss model.
 *
 * The power-loss model keeps, per file, an undo log of the bytes every
 * unsynced write or truncate overwrote (only the bytes below the synced
 * size matter: everything past it is cut off anyway) and the size at the
 * last sync.  A crash applies the undo log in reverse and truncates to the
 * synced size, which yields exactly the content at the last sync.  Creates,
 * renames and unlinks are journaled per directory until that directory is
 * fsynced; a crash undoes the unsynced ones in reverse order.
 */
#include "wal/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512u

/* One entry of a file's undo log: `old_len` bytes at `off` held `old`
 * before the change; writes also remember their own length for tearing. */
typedef struct undo_rec {
    uint64_t off;
    uint8_t *old;
    size_t old_len;
    bool is_write;
    uint64_t write_len;
} undo_rec;

/* What the tracker knows about one file name. */
typedef struct track_file {
    struct track_file *next;
    char *path;
    bool detached; /* unlinked, replaced, or forgotten at a crash */
    uint64_t synced_size;
    undo_rec *undo;
    size_t n_undo, cap_undo;
} track_file;

typedef enum dir_ev_kind { EV_CREATE, EV_MKDIR, EV_RENAME, EV_UNLINK } dir_ev_kind;

/* One create, rename or unlink not yet made durable by a directory fsync. */
typedef struct dir_ev {
    dir_ev_kind kind;
    char *path;        /* created / unlinked path, or rename source */
    char *path2;       /* rename target */
    bool has_saved;    /* unlink, or rename that replaced a file: old content */
    uint8_t *saved;
    size_t saved_len;
} dir_ev;

typedef struct fault {
    uint64_t count;   /* operations attempted since arming (or creation) */
    uint64_t total;   /* operations attempted since creation */
    uint64_t fail_at; /* 0 = disarmed */
    int errno_value;
    bool sticky;
} fault;

struct wal_fs {
    bool test;
    pthread_mutex_t mu;
    bool off;
    fault faults[WAL_FS_OP_COUNT];
    track_file *tracks;
    dir_ev *evs;
    size_t n_evs, cap_evs;
};

struct wal_file {
    wal_fs *fs;
    int fd;
    char *path;
    uint64_t append_off;
    track_file *track;
};

struct wal_lock {
    int fd;
};

/* ---- Errors and paths ------------------------------------------------- */

cairn_status wal_err_set(wal_err *err, cairn_status status, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return status;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

static cairn_status io_fail(wal_err *err, int e, const char *op, const char *path)
{
    return wal_err_set(err, CAIRN_IO, "%s %s: %s", op, path, strerror(e));
}

static cairn_status io_fail_at(wal_err *err, int e, const char *op, const char *path,
                               uint64_t off)
{
    return wal_err_set(err, CAIRN_IO, "%s %s at offset %llu: %s", op, path,
                       (unsigned long long)off, strerror(e));
}

char *wal_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *p = malloc(dl + nl + 2);

    if (p == NULL)
        return NULL;
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

/* The directory part of `path` as a new string ("." when there is none). */
static char *path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n;
    char *d;

    if (slash == NULL)
        return strdup(".");
    n = (size_t)(slash - path);
    if (n == 0)
        n = 1; /* "/name" lives in "/" */
    d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

/* True when `path` lies directly in directory `dir`. */
static bool path_in_dir(const char *path, const char *dir)
{
    char *d = path_dir(path);
    bool in = d != NULL && strcmp(d, dir) == 0;

    free(d);
    return in;
}

/* ---- Raw POSIX helpers (errno-returning, 0 on success) ---------------- */

static int raw_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

static int raw_pread(int fd, void *buf, size_t len, uint64_t off, size_t *gotp)
{
    uint8_t *p = buf;
    size_t got = 0;

    while (got < len) {
        ssize_t n = pread(fd, p + got, len - got, (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *gotp = got;
    return 0;
}

static int raw_size(int fd, uint64_t *sizep)
{
    struct stat st;

    if (fstat(fd, &st) != 0)
        return errno;
    *sizep = (uint64_t)st.st_size;
    return 0;
}

/* Reads the whole file at `path` into a malloc'ed buffer. */
static int raw_slurp(const char *path, uint8_t **bufp, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    uint64_t size = 0;
    uint8_t *buf = NULL;
    size_t got = 0;
    int e = 0;

    if (fd < 0)
        return errno;
    e = raw_size(fd, &size);
    if (e != 0)
        goto out;
    buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf == NULL) {
        e = ENOMEM;
        goto out;
    }
    e = raw_pread(fd, buf, (size_t)size, 0, &got);
    if (e != 0)
        goto out;
    *bufp = buf;
    *lenp = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return e;
}

/* Creates (or replaces) `path` with the given content. */
static int raw_spill(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int e;

    if (fd < 0)
        return errno;
    e = raw_pwrite(fd, buf, len, 0);
    close(fd);
    return e;
}

/* ---- Layer setup and fault injection ---------------------------------- */

static cairn_status fs_new(bool test, wal_fs **fsp)
{
    wal_fs *fs = calloc(1, sizeof *fs);

    if (fs == NULL)
        return CAIRN_NO_MEMORY;
    fs->test = test;
    if (test && pthread_mutex_init(&fs->mu, NULL) != 0) {
        free(fs);
        return CAIRN_NO_MEMORY;
    }
    *fsp = fs;
    return CAIRN_OK;
}

cairn_status wal_fs_new_posix(wal_fs **fsp)
{
    return fs_new(false, fsp);
}

cairn_status wal_fs_new_test(wal_fs **fsp)
{
    return fs_new(true, fsp);
}

static void track_clear_undo(track_file *t)
{
    for (size_t i = 0; i < t->n_undo; i++)
        free(t->undo[i].old);
    t->n_undo = 0;
}

static void evs_clear(wal_fs *fs)
{
    for (size_t i = 0; i < fs->n_evs; i++) {
        free(fs->evs[i].path);
        free(fs->evs[i].path2);
        free(fs->evs[i].saved);
    }
    fs->n_evs = 0;
}

void wal_fs_free(wal_fs *fs)
{
    if (fs == NULL)
        return;
    if (fs->test) {
        track_file *t = fs->tracks;
        while (t != NULL) {
            track_file *next = t->next;
            track_clear_undo(t);
            free(t->undo);
            free(t->path);
            free(t);
            t = next;
        }
        evs_clear(fs);
        free(fs->evs);
        pthread_mutex_destroy(&fs->mu);
    }
    free(fs);
}

static void fs_enter(wal_fs *fs)
{
    if (fs->test)
        pthread_mutex_lock(&fs->mu);
}

static void fs_leave(wal_fs *fs)
{
    if (fs->test)
        pthread_mutex_unlock(&fs->mu);
}

/* Counts an operation of kind `op`; returns the errno it must fail with,
 * or 0.  Caller holds the layer (fs_enter). */
static int fault_hit(wal_fs *fs, wal_fs_op op)
{
    fault *f;

    if (!fs->test)
        return 0;
    f = &fs->faults[op];
    f->count++;
    f->total++;
    if (fs->off)
        return EIO;
    if (f->fail_at == 0)
        return 0;
    if (f->count == f->fail_at || (f->sticky && f->count > f->fail_at))
        return f->errno_value;
    return 0;
}

void wal_fs_fail_nth(wal_fs *fs, wal_fs_op op, uint64_t nth, int errno_value, bool sticky)
{
    if (!fs->test || (unsigned)op >= WAL_FS_OP_COUNT)
        return;
    pthread_mutex_lock(&fs->mu);
    fs->faults[op].count = 0;
    fs->faults[op].fail_at = nth;
    fs->faults[op].errno_value = errno_value;
    fs->faults[op].sticky = sticky;
    pthread_mutex_unlock(&fs->mu);
}

uint64_t wal_fs_op_count(wal_fs *fs, wal_fs_op op)
{
    uint64_t n;

    if (!fs->test || (unsigned)op >= WAL_FS_OP_COUNT)
        return 0;
    pthread_mutex_lock(&fs->mu);
    n = fs->faults[op].total;
    pthread_mutex_unlock(&fs->mu);
    return n;
}

/* ---- Power-loss tracker ----------------------------------------------- */

static track_file *track_find(wal_fs *fs, const char *path)
{
    for (track_file *t = fs->tracks; t != NULL; t = t->next)
        if (!t->detached && strcmp(t->path, path) == 0)
            return t;
    return NULL;
}

static track_file *track_add(wal_fs *fs, const char *path, uint64_t synced_size)
{
    track_file *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->path = strdup(path);
    if (t->path == NULL) {
        free(t);
        return NULL;
    }
    t->synced_size = synced_size;
    t->next = fs->tracks;
    fs->tracks = t;
    return t;
}

/* Remembers the bytes in [off, off + len) below the synced size before they
 * change.  Returns an errno or 0. */
static int track_save(track_file *t, int fd, uint64_t off, uint64_t len, bool is_write)
{
    uint64_t cur = 0, end = off + len;
    undo_rec r = {off, NULL, 0, is_write, len};
    int e = raw_size(fd, &cur);

    if (e != 0)
        return e;
    if (end > cur)
        end = cur;
    if (end > t->synced_size)
        end = t->synced_size;
    if (end > off) {
        size_t got = 0;
        r.old_len = (size_t)(end - off);
        r.old = malloc(r.old_len);
        if (r.old == NULL)
            return ENOMEM;
        e = raw_pread(fd, r.old, r.old_len, off, &got);
        if (e != 0 || got != r.old_len) {
            free(r.old);
            return e != 0 ? e : EIO;
        }
    }
    if (t->n_undo == t->cap_undo) {
        size_t cap = t->cap_undo ? t->cap_undo * 2 : 16;
        undo_rec *u = realloc(t->undo, cap * sizeof *u);
        if (u == NULL) {
            free(r.old);
            return ENOMEM;
        }
        t->undo = u;
        t->cap_undo = cap;
    }
    t->undo[t->n_undo++] = r;
    return 0;
}

/* Rolls the file open as `fd` back to its synced state (all undo records
 * in reverse, then truncate to the synced size). */
static int track_rollback_fd(track_file *t, int fd)
{
    for (size_t i = t->n_undo; i-- > 0;) {
        undo_rec *r = &t->undo[i];
        if (r->old_len > 0) {
            int e = raw_pwrite(fd, r->old, r->old_len, r->off);
            if (e != 0)
                return e;
        }
    }
    if (ftruncate(fd, (off_t)t->synced_size) != 0)
        return errno;
    track_clear_undo(t);
    return 0;
}

static int ev_push(wal_fs *fs, dir_ev_kind kind, const char *path, const char *path2,
                   uint8_t *saved, size_t saved_len, bool has_saved)
{
    dir_ev ev = {kind, NULL, NULL, has_saved, saved, saved_len};

    if (fs->n_evs == fs->cap_evs) {
        size_t cap = fs->cap_evs ? fs->cap_evs * 2 : 16;
        dir_ev *v = realloc(fs->evs, cap * sizeof *v);
        if (v == NULL)
            return ENOMEM;
        fs->evs = v;
        fs->cap_evs = cap;
    }
    ev.path = strdup(path);
    ev.path2 = path2 != NULL ? strdup(path2) : NULL;
    if (ev.path == NULL || (path2 != NULL && ev.path2 == NULL)) {
        free(ev.path);
        free(ev.path2);
        return ENOMEM;
    }
    fs->evs[fs->n_evs++] = ev;
    return 0;
}

/*
 * The synced content of the file at `path`, for an unlink or a replacing
 * rename that the crash may have to undo.  A tracked file is rolled back
 * on disk first (it is about to disappear, so nobody can see the rollback).
 */
static int track_capture(wal_fs *fs, const char *path, uint8_t **bufp, size_t *lenp)
{
    track_file *t = track_find(fs, path);

    if (t != NULL) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        int e;
        if (fd < 0)
            return errno;
        e = track_rollback_fd(t, fd);
        close(fd);
        if (e != 0)
            return e;
    }
    return raw_slurp(path, bufp, lenp);
}

/* ---- Files ------------------------------------------------------------ */

cairn_status wal_file_open(wal_fs *fs, const char *path, unsigned flags, wal_file **fp,
                           wal_err *err)
{
    wal_file *f = NULL;
    int oflags = O_CLOEXEC, fd = -1, e;
    bool existed = true;
    cairn_status st = CAIRN_OK;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_OPEN);
    if (e != 0) {
        st = io_fail(err, e, "open", path);
        goto out;
    }
    if (flags & WAL_OPEN_CREATE) {
        oflags |= O_RDWR | O_CREAT;
        if (flags & WAL_OPEN_EXCL)
            oflags |= O_EXCL;
    } else {
        oflags |= (flags & WAL_OPEN_WRITE) ? O_RDWR : O_RDONLY;
    }
    if (fs->test && (flags & WAL_OPEN_CREATE))
        existed = access(path, F_OK) == 0;
    f = calloc(1, sizeof *f);
    if (f == NULL || (f->path = strdup(path)) == NULL) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "open %s: out of memory", path);
        goto out;
    }
    fd = open(path, oflags, 0600);
    if (fd < 0) {
        e = errno;
        if (e == ENOENT)
            st = wal_err_set(err, CAIRN_NOT_FOUND, "open %s: %s", path, strerror(e));
        else if (e == EEXIST)
            st = wal_err_set(err, CAIRN_EXISTS, "open %s: %s", path, strerror(e));
        else
            st = io_fail(err, e, "open", path);
        goto out;
    }
    f->fd = fd;
    f->fs = fs;
    e = raw_size(fd, &f->append_off);
    if (e != 0) {
        st = io_fail(err, e, "stat", path);
        goto out;
    }
    if (fs->test) {
        f->track = track_find(fs, path);
        if (f->track == NULL) {
            f->track = track_add(fs, path, existed ? f->append_off : 0);
            if (f->track == NULL)
                e = ENOMEM;
        }
        if (e == 0 && !existed)
            e = ev_push(fs, EV_CREATE, path, NULL, NULL, 0, false);
        if (e != 0) {
            st = wal_err_set(err, CAIRN_NO_MEMORY, "open %s: out of memory", path);
            goto out;
        }
    }
    *fp = f;
    f = NULL;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (f != NULL) {
        free(f->path);
        free(f);
    }
    fs_leave(fs);
    return st;
}

void wal_file_close(wal_file *f)
{
    if (f == NULL)
        return;
    close(f->fd);
    free(f->path);
    free(f);
}

const char *wal_file_path(const wal_file *f)
{
    return f->path;
}

/* A tracked file that is still reachable by name. */
static track_file *live_track(wal_file *f)
{
    return f->track != NULL && !f->track->detached ? f->track : NULL;
}

cairn_status wal_file_pwrite(wal_file *f, const void *buf, size_t len, uint64_t off,
                             wal_err *err)
{
    wal_fs *fs = f->fs;
    cairn_status st = CAIRN_OK;
    track_file *t;
    int e;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_WRITE);
    if (e != 0) {
        st = io_fail_at(err, e, "write", f->path, off);
        goto out;
    }
    t = fs->test ? live_track(f) : NULL;
    if (t != NULL) {
        e = track_save(t, f->fd, off, len, true);
        if (e != 0) {
            st = io_fail_at(err, e, "write (tracking)", f->path, off);
            goto out;
        }
    }
    e = raw_pwrite(f->fd, buf, len, off);
    if (e != 0)
        st = io_fail_at(err, e, "write", f->path, off);
out:
    fs_leave(fs);
    return st;
}

cairn_status wal_file_append(wal_file *f, const void *buf, size_t len, wal_err *err)
{
    cairn_status st = wal_file_pwrite(f, buf, len, f->append_off, err);

    if (st == CAIRN_OK)
        f->append_off += len;
    return st;
}

cairn_status wal_file_pread(wal_file *f, void *buf, size_t len, uint64_t off, size_t *gotp,
                            wal_err *err)
{
    wal_fs *fs = f->fs;
    cairn_status st = CAIRN_OK;
    int e = 0;

    fs_enter(fs);
    if (fs->test && fs->off)
        e = EIO;
    if (e == 0)
        e = raw_pread(f->fd, buf, len, off, gotp);
    if (e != 0)
        st = io_fail_at(err, e, "read", f->path, off);
    fs_leave(fs);
    return st;
}

static cairn_status file_sync(wal_file *f, bool data_only, wal_err *err)
{
    wal_fs *fs = f->fs;
    cairn_status st = CAIRN_OK;
    const char *op = data_only ? "fdatasync" : "fsync";
    track_file *t;
    int e, rc;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_SYNC);
    if (e != 0) {
        st = io_fail(err, e, op, f->path);
        goto out;
    }
    rc = data_only ? fdatasync(f->fd) : fsync(f->fd);
    if (rc != 0) {
        st = io_fail(err, errno, op, f->path);
        goto out;
    }
    t = fs->test ? live_track(f) : NULL;
    if (t != NULL) {
        e = raw_size(f->fd, &t->synced_size);
        if (e != 0) {
            st = io_fail(err, e, "stat", f->path);
            goto out;
        }
        track_clear_undo(t);
    }
out:
    fs_leave(fs);
    return st;
}

cairn_status wal_file_datasync(wal_file *f, wal_err *err)
{
    return file_sync(f, true, err);
}

cairn_status wal_file_sync(wal_file *f, wal_err *err)
{
    return file_sync(f, false, err);
}

cairn_status wal_file_truncate(wal_file *f, uint64_t size, wal_err *err)
{
    wal_fs *fs = f->fs;
    cairn_status st = CAIRN_OK;
    track_file *t;
    uint64_t cur = 0;
    int e;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_TRUNCATE);
    if (e != 0) {
        st = io_fail_at(err, e, "truncate", f->path, size);
        goto out;
    }
    t = fs->test ? live_track(f) : NULL;
    if (t != NULL) {
        e = raw_size(f->fd, &cur);
        if (e == 0 && cur > size)
            e = track_save(t, f->fd, size, cur - size, false);
        if (e != 0) {
            st = io_fail_at(err, e, "truncate (tracking)", f->path, size);
            goto out;
        }
    }
    if (ftruncate(f->fd, (off_t)size) != 0)
        st = io_fail_at(err, errno, "truncate", f->path, size);
    else if (f->append_off > size)
        f->append_off = size;
out:
    fs_leave(fs);
    return st;
}

cairn_status wal_file_allocate(wal_file *f, uint64_t off, uint64_t len, wal_err *err)
{
    wal_fs *fs = f->fs;
    cairn_status st = CAIRN_OK;
    int e;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_ALLOCATE);
    if (e == 0)
        e = posix_fallocate(f->fd, (off_t)off, (off_t)len);
    if (e != 0)
        st = io_fail_at(err, e, "fallocate", f->path, off);
    fs_leave(fs);
    return st;
}

cairn_status wal_file_size(wal_file *f, uint64_t *sizep, wal_err *err)
{
    int e = raw_size(f->fd, sizep);

    return e != 0 ? io_fail(err, e, "stat", f->path) : CAIRN_OK;
}

/* ---- Shared mappings -------------------------------------------------- */

bool wal_fs_can_map(const wal_fs *fs)
{
#ifdef __linux__
    return !fs->test;
#else
    (void)fs; /* fdatasync is only known to write back mapped pages on Linux */
    return false;
#endif
}

cairn_status wal_file_map(wal_file *f, uint64_t len, uint8_t **mapp, wal_err *err)
{
    void *p;

    if (!wal_fs_can_map(f->fs))
        return wal_err_set(err, CAIRN_UNSUPPORTED, "map %s: this file layer cannot map files",
                           f->path);
    if (len == 0 || (uint64_t)(size_t)len != len)
        return wal_err_set(err, CAIRN_INVALID_ARGUMENT, "map %s: bad length %llu", f->path,
                           (unsigned long long)len);
    p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, 0);
    if (p == MAP_FAILED)
        return io_fail(err, errno, "mmap", f->path);
    *mapp = p;
    return CAIRN_OK;
}

void wal_map_drop(uint8_t *addr, uint64_t len)
{
    if (len > 0)
        (void)madvise(addr, (size_t)len, MADV_DONTNEED); /* only a hint for memory use */
}

void wal_map_prefetch(uint8_t *addr, uint64_t len)
{
    if (len > 0)
        (void)madvise(addr, (size_t)len, MADV_WILLNEED); /* only a hint */
}

void wal_map_release(uint8_t *map, uint64_t len)
{
    if (map != NULL)
        munmap(map, (size_t)len);
}

/* ---- Directories and names -------------------------------------------- */

cairn_status wal_fs_rename(wal_fs *fs, const char *from, const char *to, wal_err *err)
{
    cairn_status st = CAIRN_OK;
    uint8_t *saved = NULL;
    size_t saved_len = 0;
    bool has_saved = false;
    track_file *t;
    int e;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_RENAME);
    if (e != 0)
        goto fail;
    if (fs->test && access(to, F_OK) == 0) {
        e = track_capture(fs, to, &saved, &saved_len);
        if (e != 0)
            goto fail;
        has_saved = true;
    }
    if (rename(from, to) != 0) {
        e = errno;
        goto fail;
    }
    if (fs->test) {
        t = track_find(fs, to);
        if (t != NULL)
            t->detached = true;
        t = track_find(fs, from);
        if (t != NULL) {
            char *p = strdup(to);
            if (p != NULL) {
                free(t->path);
                t->path = p;
            } else {
                t->detached = true;
            }
        }
        e = ev_push(fs, EV_RENAME, from, to, saved, saved_len, has_saved);
        if (e != 0)
            goto fail;
        saved = NULL;
    }
    goto out;
fail:
    st = wal_err_set(err, CAIRN_IO, "rename %s to %s: %s", from, to, strerror(e));
out:
    free(saved);
    fs_leave(fs);
    return st;
}

cairn_status wal_fs_unlink(wal_fs *fs, const char *path, wal_err *err)
{
    cairn_status st = CAIRN_OK;
    uint8_t *saved = NULL;
    size_t saved_len = 0;
    track_file *t;
    int e;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_UNLINK);
    if (e != 0) {
        st = io_fail(err, e, "unlink", path);
        goto out;
    }
    if (fs->test && access(path, F_OK) == 0) {
        e = track_capture(fs, path, &saved, &saved_len);
        if (e != 0) {
            st = io_fail(err, e, "unlink (tracking)", path);
            goto out;
        }
    }
    if (unlink(path) != 0) {
        e = errno;
        st = e == ENOENT ? wal_err_set(err, CAIRN_NOT_FOUND, "unlink %s: %s", path, strerror(e))
                         : io_fail(err, e, "unlink", path);
        goto out;
    }
    if (fs->test) {
        t = track_find(fs, path);
        if (t != NULL)
            t->detached = true;
        e = ev_push(fs, EV_UNLINK, path, NULL, saved, saved_len, true);
        if (e != 0) {
            st = wal_err_set(err, CAIRN_NO_MEMORY, "unlink %s: out of memory", path);
            goto out;
        }
        saved = NULL;
    }
out:
    free(saved);
    fs_leave(fs);
    return st;
}

/* Drops the journal entries a fsync of directory `dir` made durable. */
static void evs_synced(wal_fs *fs, const char *dir)
{
    size_t keep = 0;

    for (size_t i = 0; i < fs->n_evs; i++) {
        dir_ev *ev = &fs->evs[i];
        bool done = path_in_dir(ev->path, dir) &&
                    (ev->path2 == NULL || path_in_dir(ev->path2, dir));
        if (done) {
            free(ev->path);
            free(ev->path2);
            free(ev->saved);
        } else {
            fs->evs[keep++] = *ev;
        }
    }
    fs->n_evs = keep;
}

cairn_status wal_fs_sync_dir(wal_fs *fs, const char *path, wal_err *err)
{
    cairn_status st = CAIRN_OK;
    int fd = -1, e;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_SYNC);
    if (e != 0)
        goto fail;
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        e = errno;
        goto fail;
    }
    if (fs->test)
        evs_synced(fs, path);
    goto out;
fail:
    st = io_fail(err, e, "fsync directory", path);
out:
    if (fd >= 0)
        close(fd);
    fs_leave(fs);
    return st;
}

cairn_status wal_fs_mkdir(wal_fs *fs, const char *path, wal_err *err)
{
    cairn_status st = CAIRN_OK;
    struct stat sb;
    int e;

    fs_enter(fs);
    e = fault_hit(fs, WAL_FS_OP_OPEN);
    if (e != 0) {
        st = io_fail(err, e, "mkdir", path);
        goto out;
    }
    if (mkdir(path, 0700) != 0) {
        e = errno;
        if (e != EEXIST || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            st = io_fail(err, e, "mkdir", path);
        goto out;
    }
    if (fs->test && ev_push(fs, EV_MKDIR, path, NULL, NULL, 0, false) != 0)
        st = wal_err_set(err, CAIRN_NO_MEMORY, "mkdir %s: out of memory", path);
out:
    fs_leave(fs);
    return st;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void wal_fs_list_free(char **names, size_t count)
{
    if (names == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

cairn_status wal_fs_list(wal_fs *fs, const char *path, char ***namesp, size_t *countp,
                         wal_err *err)
{
    cairn_status st = CAIRN_OK;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    DIR *d = NULL;

    fs_enter(fs);
    if (fs->test && fs->off) {
        st = io_fail(err, EIO, "list directory", path);
        goto out;
    }
    d = opendir(path);
    if (d == NULL) {
        int e = errno;
        st = e == ENOENT ? wal_err_set(err, CAIRN_NOT_FOUND, "list directory %s: %s", path,
                                       strerror(e))
                         : io_fail(err, e, "list directory", path);
        goto out;
    }
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            if (errno != 0)
                st = io_fail(err, errno, "list directory", path);
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **v = realloc(names, ncap * sizeof *v);
            if (v == NULL)
                goto nomem;
            names = v;
            cap = ncap;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL)
            goto nomem;
        n++;
    }
    if (st != CAIRN_OK)
        goto out;
    if (n > 0)
        qsort(names, n, sizeof *names, cmp_names);
    *namesp = names;
    *countp = n;
    names = NULL;
    n = 0;
    goto out;
nomem:
    st = wal_err_set(err, CAIRN_NO_MEMORY, "list directory %s: out of memory", path);
out:
    wal_fs_list_free(names, n);
    if (d != NULL)
        closedir(d);
    fs_leave(fs);
    return st;
}

cairn_status wal_fs_lock(wal_fs *fs, const char *dir, wal_lock **lockp, wal_err *err)
{
    cairn_status st = CAIRN_OK;
    char *path = wal_path_join(dir, "LOCK");
    wal_lock *lock = NULL;
    int fd = -1;

    (void)fs;
    if (path == NULL) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "lock %s: out of memory", dir);
        goto out;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        st = io_fail(err, errno, "open", path);
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            st = wal_err_set(err, CAIRN_LOCKED, "%s is held by another opener", path);
        else
            st = io_fail(err, e, "flock", path);
        goto out;
    }
    lock = malloc(sizeof *lock);
    if (lock == NULL) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "lock %s: out of memory", dir);
        goto out;
    }
    lock->fd = fd;
    fd = -1;
    *lockp = lock;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return st;
}

void wal_fs_unlock(wal_lock *lock)
{
    if (lock == NULL)
        return;
    close(lock->fd); /* closing the description releases the flock */
    free(lock);
}

/* ---- Crash ------------------------------------------------------------ */

/* Rolls one live tracked file back, keeping a torn prefix of its last
 * write when asked. */
static int crash_file(track_file *t, uint32_t keep_sectors)
{
    uint8_t *torn = NULL;
    size_t torn_len = 0;
    uint64_t torn_off = 0;
    int fd = open(t->path, O_RDWR | O_CLOEXEC);
    int e = 0;

    if (fd < 0)
        return errno == ENOENT ? 0 : errno;
    if (keep_sectors > 0 && t->n_undo > 0 && t->undo[t->n_undo - 1].is_write) {
        undo_rec *last = &t->undo[t->n_undo - 1];
        uint64_t end = (last->off / SECTOR + keep_sectors) * SECTOR;
        if (end > last->off + last->write_len)
            end = last->off + last->write_len;
        if (end > last->off) {
            torn_off = last->off;
            torn_len = (size_t)(end - last->off);
            torn = malloc(torn_len);
            if (torn == NULL) {
                e = ENOMEM;
                goto out;
            }
            size_t got = 0;
            e = raw_pread(fd, torn, torn_len, torn_off, &got);
            if (e != 0)
                goto out;
            torn_len = got;
        }
    }
    e = track_rollback_fd(t, fd);
    if (e == 0 && torn_len > 0)
        e = raw_pwrite(fd, torn, torn_len, torn_off);
out:
    free(torn);
    close(fd);
    return e;
}

/* Undoes one directory journal entry. */
static int crash_ev(const dir_ev *ev)
{
    switch (ev->kind) {
    case EV_CREATE:
        if (unlink(ev->path) != 0 && errno != ENOENT)
            return errno;
        return 0;
    case EV_MKDIR:
        if (rmdir(ev->path) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
            return errno;
        return 0;
    case EV_RENAME:
        if (rename(ev->path2, ev->path) != 0 && errno != ENOENT)
            return errno;
        return ev->has_saved ? raw_spill(ev->path2, ev->saved, ev->saved_len) : 0;
    case EV_UNLINK:
        return raw_spill(ev->path, ev->saved, ev->saved_len);
    }
    return EINVAL;
}

cairn_status wal_fs_crash(wal_fs *fs, uint32_t keep_sectors, wal_err *err)
{
    cairn_status st = CAIRN_OK;

    if (!fs->test)
        return wal_err_set(err, CAIRN_UNSUPPORTED, "crash: not a test file layer");
    pthread_mutex_lock(&fs->mu);
    for (track_file *t = fs->tracks; t != NULL; t = t->next) {
        if (!t->detached && st == CAIRN_OK) {
            int e = crash_file(t, keep_sectors);
            if (e != 0)
                st = io_fail(err, e, "crash rollback", t->path);
        }
        t->detached = true;
        track_clear_undo(t);
    }
    for (size_t i = fs->n_evs; i-- > 0 && st == CAIRN_OK;) {
        int e = crash_ev(&fs->evs[i]);
        if (e != 0)
            st = io_fail(err, e, "crash rollback", fs->evs[i].path);
    }
    evs_clear(fs);
    fs->off = true;
    pthread_mutex_unlock(&fs->mu);
    return st;
}

void wal_fs_restart(wal_fs *fs)
{
    if (!fs->test)
        return;
    pthread_mutex_lock(&fs->mu);
    fs->off = false;
    for (int i = 0; i < WAL_FS_OP_COUNT; i++) {
        fs->faults[i].count = 0;
        fs->faults[i].fail_at = 0;
    }
    for (track_file *t = fs->tracks; t != NULL; t = t->next) {
        t->detached = true;
        track_clear_undo(t);
    }
    evs_clear(fs);
    pthread_mutex_unlock(&fs->mu);
}
