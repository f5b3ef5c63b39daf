/*
 * eng_fdatasync.c - the physical limit: write + fdatasync on the same disk.
 *
 * Each thread owns a file in the cell's directory, preallocated by writing
 * it full of zeros and syncing it once, so a later fdatasync has no size or
 * extent metadata to flush.  A "put" writes 128 bytes at the next offset
 * (wrapping around), and the "commit" is one fdatasync.  No engine can
 * commit a durable single-put transaction on this disk faster than this
 * per thread, unless it shares one sync among many commits (group commit).
 * It only takes part in `put` at durability sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"

#define PROBE_FILE_SIZE (8u << 20)
#define PROBE_WRITE 128u

struct bench_db {
    char dir[4096];
};

struct bench_thr {
    int fd;
    off_t off;
    char err[256];
};

static bool probe_supports(const char *workload, bench_durability d)
{
    return d == BENCH_DUR_SYNC && strcmp(workload, "put") == 0;
}

static bool probe_persistent(bench_durability d)
{
    (void)d;
    return false;
}

static bench_rc probe_open(const bench_open_args *a, bench_db **dbp, char *err, size_t errlen)
{
    struct bench_db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return BENCH_ERROR;
    }
    snprintf(d->dir, sizeof d->dir, "%s", a->dir);
    *dbp = d;
    return BENCH_OK;
}

static void probe_close(bench_db *d)
{
    free(d);
}

static bench_rc probe_thread_open(bench_db *d, unsigned idx, bench_thr **tp, char *err,
                                  size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/probe-%u", d->dir, idx);
    bench_thr *t = calloc(1, sizeof *t);
    char *zeros = calloc(1, 1u << 20);
    if (!t || !zeros) {
        snprintf(err, errlen, "out of memory");
        free(t);
        free(zeros);
        return BENCH_ERROR;
    }
    t->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (t->fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        goto fail;
    }
    for (size_t done = 0; done < PROBE_FILE_SIZE; done += 1u << 20) {
        if (write(t->fd, zeros, 1u << 20) != (ssize_t)(1u << 20)) {
            snprintf(err, errlen, "preallocate %s: %s", path, strerror(errno));
            goto fail;
        }
    }
    if (fsync(t->fd) != 0) {
        snprintf(err, errlen, "fsync %s: %s", path, strerror(errno));
        goto fail;
    }
    free(zeros);
    *tp = t;
    return BENCH_OK;
fail:
    if (t->fd >= 0)
        close(t->fd);
    free(t);
    free(zeros);
    return BENCH_ERROR;
}

static void probe_thread_close(bench_thr *t)
{
    close(t->fd);
    free(t);
}

static bench_rc probe_begin(bench_thr *t, unsigned flags)
{
    (void)t;
    return (flags & BENCH_TXN_READ_ONLY) ? BENCH_UNSUPPORTED : BENCH_OK;
}

static bench_rc probe_get(bench_thr *t, bench_bytes k, bench_bytes *valp)
{
    (void)k;
    (void)valp;
    snprintf(t->err, sizeof t->err, "the fdatasync probe only writes");
    return BENCH_UNSUPPORTED;
}

static bench_rc probe_put(bench_thr *t, bench_bytes k, bench_bytes v)
{
    uint8_t buf[PROBE_WRITE];
    memset(buf, 0, sizeof buf);
    memcpy(buf, k.data, k.len < sizeof buf ? k.len : sizeof buf);
    if (k.len < sizeof buf)
        memcpy(buf + k.len, v.data, v.len < sizeof buf - k.len ? v.len : sizeof buf - k.len);
    if (pwrite(t->fd, buf, sizeof buf, t->off) != (ssize_t)sizeof buf) {
        snprintf(t->err, sizeof t->err, "pwrite: %s", strerror(errno));
        return BENCH_ERROR;
    }
    t->off += PROBE_WRITE;
    if (t->off + PROBE_WRITE > PROBE_FILE_SIZE)
        t->off = 0;
    return BENCH_OK;
}

static bench_rc probe_scan(bench_thr *t, bench_bytes start, size_t n, size_t *gotp)
{
    (void)start;
    (void)n;
    (void)gotp;
    snprintf(t->err, sizeof t->err, "the fdatasync probe only writes");
    return BENCH_UNSUPPORTED;
}

static bench_rc probe_commit(bench_thr *t)
{
    if (fdatasync(t->fd) != 0) {
        snprintf(t->err, sizeof t->err, "fdatasync: %s", strerror(errno));
        return BENCH_ERROR;
    }
    return BENCH_OK;
}

static void probe_abort(bench_thr *t)
{
    (void)t;
}

static const char *probe_errmsg(bench_thr *t)
{
    return t->err;
}

static const char *probe_version(void)
{
    return "-";
}

const bench_engine bench_engine_fdatasync = {
    .name = "fdatasync",
    .version = probe_version,
    .settings =
        {
            [BENCH_DUR_NONE] = "(not run)",
            [BENCH_DUR_ASYNC] = "(not run)",
            [BENCH_DUR_SYNC] = "pwrite 128 bytes + fdatasync per commit, preallocated file per thread",
        },
    .supports = probe_supports,
    .persistent = probe_persistent,
    .open = probe_open,
    .close = probe_close,
    .thread_open = probe_thread_open,
    .thread_close = probe_thread_close,
    .begin = probe_begin,
    .get = probe_get,
    .put = probe_put,
    .scan = probe_scan,
    .commit = probe_commit,
    .abort = probe_abort,
    .errmsg = probe_errmsg,
};
