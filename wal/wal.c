/*
 * wal/wal.c - the log writer: appending, group commit, in-order
 * completion, the syncer thread, segment roll-over and removal.
 *
 * LSNs are byte counts: a record's LSN is the total number of bytes
 * appended since open once it is in the log.  Three watermarks only move
 * forward: appended_lsn (in the log), written_lsn (in the OS), synced_lsn
 * (fdatasynced).  They change under `mu` and are read without it.
 *
 * Two ways of writing, chosen per segment:
 *
 *   mapped    (the POSIX layer): the current segment is mapped shared and
 *             each record is encoded straight into the mapping, so it is
 *             in the OS page cache when wal_append returns: written_lsn
 *             equals appended_lsn, ASYNC commits never wait, and a sync is
 *             one fdatasync of the segment.
 *   buffered  (the test layer, whose writes must be countable and
 *             failable; or when mmap fails): records collect in an append
 *             buffer; the thread doing log I/O swaps it with the I/O
 *             buffer and writes it with one pwrite.
 *
 * At most one thread does log I/O at a time (`io_active`); it drops `mu`
 * for the pwrite / fdatasync and broadcasts `cond` when done.
 *
 * Group commit.  A lone SYNC committer (the last sync served a single
 * commit, no I/O running) runs the fdatasync itself: nothing is handed to
 * another thread.  Otherwise a waiter raises `sync_wanted` to its LSN,
 * wakes the syncer thread if it sleeps, and sleeps.  The syncer runs the
 * syncs of groups: before each it lingers (polling, at most half an
 * fdatasync) until as many SYNC commits wait as the previous group plus
 * those that arrived during its sync, then one fdatasync covers every
 * record appended so far.  Without the linger the threads a sync releases
 * come back while the next sync already runs, and concurrent committers
 * settle into two alternating halves (each fdatasync serving half of
 * them).  The same thread fdatasyncs ASYNC records every
 * sync_interval_ms.
 *
 * Completion (wal_commit_wait).  A committer declares its version ready
 * in `ring` (slot version % DONE_RING), with the LSN that must be synced
 * first (SYNC) or 0.  `done_version` is the newest version such that it
 * and every older one are declared and durable; any thread moves it
 * forward (a compare-and-swap per version), so the thread that finishes a
 * sync completes the whole group at once and wakes its waiters in a
 * single round: they sleep on the `done_seq` word (a futex on Linux), not
 * under a mutex, so none of them queues for a lock on its way out.  The
 * atomics taking part in that hand-over (slot versions,
 * synced_lsn, done_version, sleepers) are sequentially consistent: a
 * declarer and an advancer each store, then load what the other stored.
 */
#include "wal/wal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

/* Versions that can be declared ahead of done_version (power of two). */
#define DONE_RING 1024u
/* A completion waiter whose own record needs no sync spins, then yields,
 * before sleeping: the commit ahead of it usually completes within
 * microseconds, and a futex sleep and wake costs more. */
#define WAIT_SPINS 200
#define WAIT_YIELDS 64
/* Whole mapped pages below the append offset leave the page tables before
 * a sync, in steps of at least this many bytes; see lead_io_locked. */
#define MAP_DROP_STEP (64u << 10)
/* The mapped pages up to this far past the append offset are read into the
 * page cache ahead of the appends, at syncs; see lead_io_locked. */
#define MAP_AHEAD (8u << 20)
/* The syncer lingers at most this fraction of an fdatasync (and at most
 * LINGER_MAX_NS) for the commits the previous sync released; see linger. */
#define LINGER_DIVISOR 2
#define LINGER_MAX_NS 2000000u

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

/* A declared version and the LSN that must be synced before it completes. */
typedef struct done_slot {
    _Atomic uint64_t version;
    _Atomic uint64_t need_lsn;
} done_slot;

struct wal {
    wal_fs *fs;
    char *waldir;
    wal_config cfg;
    uint64_t page_size;

    pthread_mutex_t mu;
    pthread_cond_t cond;      /* I/O finished, done_version moved, or poisoned */
    pthread_cond_t sync_cond; /* wakes the syncer */
    pthread_mutex_t rm_mu;    /* serialises segment removal */
    bool sync_init;

    wal_file *cur;
    uint8_t *map; /* the current segment, mapped; NULL: buffered writes */
    uint64_t map_len;
    uint64_t map_dropped; /* [0, map_dropped) left the page tables (I/O owner) */
    uint64_t map_ahead;   /* [.., map_ahead) was read ahead (I/O owner) */
    uint64_t seg_no, seg_size, seg_off;
    uint64_t buf_off; /* file offset of buf.p[0] in the current segment */
    byte_buf buf, iobuf;
    bool io_active, closing;
    bool syncer_idle;      /* the syncer waits on sync_cond */
    bool syncer_sleeping;  /* ... with no flush deadline: an append wakes it */
    bool syncer_lingering; /* ... before a sync it owes (see linger) */
    atomic_bool poisoned;
    _Atomic uint64_t appended_lsn, written_lsn, synced_lsn;
    uint64_t last_version;
    /* Newest commit version known fdatasynced (0 until the first sync after
     * open); stamped into every appended record (the synced_version field). */
    uint64_t synced_version;
    uint64_t sync_wanted; /* the largest LSN a sleeping SYNC waiter needs */
    /* Group sizing (see linger): SYNC commits declared so far, the count
     * when the last sync started, how many the next sync is expected to
     * cover, and a moving average of fdatasync durations. */
    _Atomic uint64_t sync_declared;
    uint64_t sync_declared_at_start;
    uint64_t group_expect;
    uint64_t sync_ns_avg;

    _Atomic uint64_t done_version;
    _Atomic uint32_t done_seq; /* bumped when done_version, synced_lsn or
                                  the poison flag change; completion
                                  waiters sleep on it */
    _Atomic uint32_t sleepers; /* threads asleep on done_seq */
    done_slot *ring;

    seg_info *segs; /* every live segment, ascending; the current one last */
    size_t n_segs, cap_segs;

    uint64_t records, bytes_appended, writes, syncs, segments_created;
    wal_err errmsg;

    pthread_t syncer;
    bool has_syncer;
};

void wal_config_init(wal_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->segment_size = WAL_SEGMENT_DEFAULT_SIZE;
    cfg->sync_interval_ms = 10;
    cfg->first_segment = 1;
    cfg->map_segments = true;
}

char *wal_dir_path(const char *dir)
{
    return wal_path_join(dir, "wal");
}

/* ---- Helpers (mu held unless said otherwise) -------------------------- */

static inline bool is_poisoned(wal *w)
{
    return atomic_load(&w->poisoned);
}

static inline uint64_t load_lsn(_Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_acquire);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void notify(wal *w, bool locked);

static void poison_locked(wal *w, const wal_err *e)
{
    if (!is_poisoned(w)) {
        wal_err_set(&w->errmsg, CAIRN_IO, "wal poisoned: %s", e->msg);
        atomic_store(&w->poisoned, true);
    }
    notify(w, true);
    pthread_cond_broadcast(&w->cond);
    pthread_cond_broadcast(&w->sync_cond);
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
 * Moves done_version past every following version that is declared and
 * whose record is synced as far as it asked.  Any thread, with or without
 * mu.  Returns the done_version it left; `*movedp` says whether this call
 * moved it (the caller must then wake sleepers).
 */
static uint64_t advance_done(wal *w, bool *movedp)
{
    uint64_t d = atomic_load(&w->done_version);
    bool moved = false;

    for (;;) {
        uint64_t v = d + 1;
        done_slot *s = &w->ring[v & (DONE_RING - 1)];
        if (atomic_load(&s->version) != v)
            break;
        if (atomic_load_explicit(&s->need_lsn, memory_order_relaxed) > atomic_load(&w->synced_lsn))
            break;
        if (atomic_compare_exchange_weak(&w->done_version, &d, v)) {
            d = v;
            moved = true;
        }
    }
    *movedp = moved;
    return d;
}

/*
 * Tells completion waiters that done_version, synced_lsn or the poison
 * flag changed (`locked`: the caller holds mu).  Waiters sleep on the
 * done_seq word itself (a futex on Linux), not under a mutex: a sync that
 * completes a group of commits wakes all their threads with one call, and
 * none of them has to take a lock on the way out.
 */
static void notify(wal *w, bool locked)
{
    atomic_fetch_add(&w->done_seq, 1);
    if (atomic_load(&w->sleepers) == 0)
        return;
#ifdef __linux__
    (void)locked;
    syscall(SYS_futex, (uint32_t *)&w->done_seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
#else
    if (!locked)
        pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->cond);
    if (!locked)
        pthread_mutex_unlock(&w->mu);
#endif
}

/* Sleeps until done_seq is no longer `seq` (or spuriously).  The caller
 * counts itself in `sleepers` around the call. */
static void sleep_on(wal *w, uint32_t seq)
{
#ifdef __linux__
    syscall(SYS_futex, (uint32_t *)&w->done_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
#else
    pthread_mutex_lock(&w->mu);
    while (atomic_load(&w->done_seq) == seq)
        pthread_cond_wait(&w->cond, &w->mu);
    pthread_mutex_unlock(&w->mu);
#endif
}

/*
 * Leads one round of log I/O: writes everything buffered with one pwrite
 * (buffered segments) and, with `sync`, issues one fdatasync covering
 * every record appended so far.  Called with mu held and no I/O active;
 * drops mu during the I/O and holds it again on return.  Afterwards it
 * completes what the sync made durable, wakes every waiter, and hands the
 * next sync to the syncer thread when waiters already want one.
 */
static cairn_status lead_io_locked(wal *w, bool sync)
{
    byte_buf tmp = w->iobuf;
    uint64_t off = w->buf_off, target = load_lsn(&w->appended_lsn);
    uint64_t target_version = w->last_version, drop_to = 0, ahead_to = 0, t0 = 0;
    uint64_t declared = atomic_load(&w->sync_declared);
    wal_file *f = w->cur;
    cairn_status st = CAIRN_OK;
    bool wrote = false, moved;
    wal_err e;

    w->io_active = true;
    if (w->map == NULL) {
        w->iobuf = w->buf;
        w->buf = tmp;
        w->buf.len = 0;
        w->buf_off += w->iobuf.len;
        wrote = w->iobuf.len > 0;
    } else if (sync) {
        drop_to = w->seg_off / w->page_size * w->page_size;
        if (w->seg_off + MAP_AHEAD / 2 > w->map_ahead) {
            ahead_to = w->seg_off + MAP_AHEAD < w->map_len ? w->seg_off + MAP_AHEAD : w->map_len;
            ahead_to = (ahead_to + w->page_size - 1) / w->page_size * w->page_size;
        }
    }
    pthread_mutex_unlock(&w->mu);

    /* Pages wholly below the append offset are never stored to again.
     * Unmapping them from the page tables first (one TLB flush for them
     * all) spares the fdatasync write-protecting each of them on its way
     * to the disk (a TLB flush, an inter-processor interrupt, per page),
     * and keeps the mapping's resident size small.  They stay in the page
     * cache, dirty, and the fdatasync writes them. */
    if (drop_to >= w->map_dropped + MAP_DROP_STEP) {
        wal_map_drop(w->map + w->map_dropped, drop_to - w->map_dropped);
        w->map_dropped = drop_to;
    }
    /* The first store into a page of the preallocated segment otherwise
     * makes the kernel read it in (zero-fill it) on the committing thread;
     * the I/O owner does that ahead instead. */
    if (ahead_to > w->map_ahead) {
        uint64_t from = w->map_ahead > drop_to ? w->map_ahead : drop_to;
        if (ahead_to > from)
            wal_map_prefetch(w->map + from, ahead_to - from);
        w->map_ahead = ahead_to;
    }
    if (wrote)
        st = wal_file_pwrite(f, w->iobuf.p, w->iobuf.len, off, &e);
    if (st == CAIRN_OK && sync) {
        t0 = mono_ns();
        st = wal_file_datasync(f, &e);
        t0 = mono_ns() - t0;
    }

    pthread_mutex_lock(&w->mu);
    w->iobuf.len = 0;
    w->io_active = false;
    if (wrote)
        w->writes++;
    if (sync)
        w->syncs++;
    if (st != CAIRN_OK) {
        poison_locked(w, &e);
        return st;
    }
    if (wrote)
        atomic_store_explicit(&w->written_lsn, target, memory_order_release);
    if (sync) {
        atomic_store(&w->synced_lsn, target);
        w->synced_version = target_version;
        /* the next group: the commits this sync covered (they are released
         * now and may come back) and those that arrived while it ran */
        w->group_expect = atomic_load(&w->sync_declared) - w->sync_declared_at_start;
        w->sync_declared_at_start = declared;
        w->sync_ns_avg = w->sync_ns_avg ? (w->sync_ns_avg * 7 + t0) / 8 : t0;
        advance_done(w, &moved);
        notify(w, true);
        if (w->sync_wanted > target && w->syncer_idle)
            pthread_cond_signal(&w->sync_cond);
    }
    pthread_cond_broadcast(&w->cond);
    return st;
}

/* Waits until no thread is doing log I/O. */
static void wait_io_idle_locked(wal *w)
{
    while (w->io_active)
        pthread_cond_wait(&w->cond, &w->mu);
}

/*
 * Maps segment `f` of `size` bytes for the mapped write path when the file
 * layer and the configuration allow it; NULL means buffered writes.  The
 * segment's blocks are reserved first (a no-op for a segment created
 * preallocated), so no store into the mapping can meet a hole: when that
 * fails (a full disk) the segment is written with pwrite instead, whose
 * failure is a status, not a signal.
 */
static uint8_t *map_segment(wal *w, wal_file *f, uint64_t size)
{
    uint8_t *map = NULL;

    if (!w->cfg.map_segments || !wal_fs_can_map(w->fs))
        return NULL;
    if (wal_file_allocate(f, 0, size, NULL) != CAIRN_OK ||
        wal_file_map(f, size, &map, NULL) != CAIRN_OK)
        return NULL;
    return map;
}

/* Makes `f` (segment `no`, `size` bytes, appending at `off`) the current
 * segment, replacing (and closing) the previous one. */
static void set_current(wal *w, wal_file *f, uint64_t no, uint64_t size, uint64_t off)
{
    wal_map_release(w->map, w->map_len);
    wal_file_close(w->cur);
    w->cur = f;
    w->map = map_segment(w, f, size);
    w->map_len = w->map != NULL ? size : 0;
    w->map_dropped = 0;
    w->map_ahead = 0;
    if (w->map != NULL) {
        w->map_ahead = MAP_AHEAD < size ? MAP_AHEAD : size;
        wal_map_prefetch(w->map, w->map_ahead);
    }
    w->seg_no = no;
    w->seg_size = size;
    w->seg_off = off;
    w->buf_off = off;
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
    if (is_poisoned(w))
        return CAIRN_IO;
    if (w->buf.len > 0 || load_lsn(&w->synced_lsn) < load_lsn(&w->appended_lsn)) {
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
    set_current(w, f, h.segment_no, size, WAL_SEGMENT_HEADER_SIZE);
    w->segments_created++;
    return CAIRN_OK;
}

/* ---- The syncer thread -------------------------------------------------- */

/* True when a waiter may run a sync itself: nobody runs log I/O, and the
 * last sync served a single commit (no concurrent committers to gather:
 * the syncer thread runs the syncs of groups, see linger_locked). */
static bool may_lead_locked(const wal *w)
{
    return !w->io_active && !w->syncer_lingering && w->group_expect <= 1;
}

/*
 * Before a sync that waiters asked for while the previous one ran, the
 * syncer lingers until as many SYNC commits are waiting as the previous
 * sync covered plus those that arrived during it, or for half an average
 * fdatasync, whichever comes first.  Without it concurrent committers
 * split into two cohorts that alternate: the commits one sync releases
 * come back while the next sync, started at once, already runs, so each
 * fdatasync serves only half of them.  A lone committer never lingers (it
 * syncs for itself); a sync nobody comes back for costs at most half an
 * fdatasync of extra latency.
 */
static void linger_locked(wal *w)
{
    uint64_t expect = w->group_expect, wait_ns, start = w->sync_declared_at_start, deadline;

    if (expect <= 1 || atomic_load(&w->sync_declared) - start >= expect)
        return;
    wait_ns = w->sync_ns_avg / LINGER_DIVISOR;
    if (wait_ns > LINGER_MAX_NS)
        wait_ns = LINGER_MAX_NS;
    deadline = mono_ns() + wait_ns;
    /* Polls, yielding the core, rather than sleeping: the committers it
     * waits for need the cores, and a sleeping thread takes tens of
     * microseconds to wake on another core (more than most groups need to
     * form).  Waiters do not lead syncs meanwhile. */
    w->syncer_lingering = true;
    pthread_mutex_unlock(&w->mu);
    while (atomic_load(&w->sync_declared) - start < expect && !is_poisoned(w) &&
           mono_ns() < deadline)
        sched_yield();
    pthread_mutex_lock(&w->mu);
    w->syncer_lingering = false;
}

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

/*
 * Runs the syncs SYNC waiters ask for while another sync was running, back
 * to back, and fdatasyncs ASYNC records sync_interval_ms after the first
 * unsynced one (with an interval of 0 only the former).
 */
static void *syncer_main(void *arg)
{
    wal *w = arg;
    struct timespec deadline;
    bool timed = false;

    pthread_mutex_lock(&w->mu);
    while (!w->closing && !is_poisoned(w)) {
        uint64_t synced = load_lsn(&w->synced_lsn);
        bool pending;
        int rc = 0;

        if (w->sync_wanted > synced && !w->io_active) {
            linger_locked(w);
            if (!w->io_active && !w->closing && !is_poisoned(w))
                lead_io_locked(w, true);
            continue;
        }
        pending = w->cfg.sync_interval_ms > 0 && load_lsn(&w->appended_lsn) > synced;
        if (pending && !timed)
            deadline_after_ms(&deadline, w->cfg.sync_interval_ms);
        timed = pending;
        w->syncer_idle = true;
        w->syncer_sleeping = !timed;
        if (timed)
            rc = pthread_cond_timedwait(&w->sync_cond, &w->mu, &deadline);
        else
            pthread_cond_wait(&w->sync_cond, &w->mu);
        w->syncer_idle = false;
        w->syncer_sleeping = false;
        if (rc != ETIMEDOUT || w->closing || is_poisoned(w))
            continue;
        timed = false;
        wait_io_idle_locked(w);
        if (!is_poisoned(w) && load_lsn(&w->appended_lsn) > load_lsn(&w->synced_lsn))
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
        pthread_cond_destroy(&w->cond);
        pthread_cond_destroy(&w->sync_cond);
    }
    wal_map_release(w->map, w->map_len);
    wal_file_close(w->cur);
    free(w->ring);
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
    if (ok && pthread_cond_init(&w->cond, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->rm_mu);
        ok = false;
    }
    if (ok && pthread_cond_init(&w->sync_cond, &ca) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->rm_mu);
        pthread_cond_destroy(&w->cond);
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
    wal_file *f = NULL;
    uint64_t size = 0;
    cairn_status st;

    if (cfg->resume_segment != 0) {
        if (w->n_segs == 0 || w->segs[w->n_segs - 1].no != cfg->resume_segment)
            return wal_err_set(err, CAIRN_INVALID_ARGUMENT,
                               "wal open: resume segment %" PRIu64 " is not the newest segment",
                               cfg->resume_segment);
        st = wal_segment_open(w->fs, w->waldir, cfg->resume_segment, true, cfg->db_id, &f, &h,
                              &size, err);
        if (st != CAIRN_OK)
            return st;
        if (cfg->resume_offset < WAL_SEGMENT_HEADER_SIZE || cfg->resume_offset > size) {
            st = wal_err_set(err, CAIRN_INVALID_ARGUMENT,
                             "wal open: resume offset %" PRIu64 " outside segment %s",
                             cfg->resume_offset, wal_file_path(f));
            wal_file_close(f);
            return st;
        }
        set_current(w, f, cfg->resume_segment, size, cfg->resume_offset);
        return CAIRN_OK;
    }
    memset(&h, 0, sizeof h);
    h.segment_no = cfg->first_segment;
    if (w->n_segs > 0 && w->segs[w->n_segs - 1].no >= h.segment_no)
        h.segment_no = w->segs[w->n_segs - 1].no + 1;
    memcpy(h.db_id, cfg->db_id, WAL_DB_ID_SIZE);
    h.prev_version = cfg->last_version;
    st = wal_segment_create(w->fs, w->waldir, &h, cfg->segment_size, &f, err);
    if (st != CAIRN_OK)
        return st;
    if (segs_push(w, h.segment_no, 0, h.prev_version) != CAIRN_OK) {
        wal_file_close(f);
        return wal_err_set(err, CAIRN_NO_MEMORY, "wal open: out of memory");
    }
    set_current(w, f, h.segment_no, cfg->segment_size, WAL_SEGMENT_HEADER_SIZE);
    w->segments_created = 1;
    return CAIRN_OK;
}

cairn_status wal_open(wal_fs *fs, const char *dir, const wal_config *cfg, wal **walp,
                      wal_err *err)
{
    wal *w = NULL;
    long page = sysconf(_SC_PAGESIZE);
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
    w->page_size = page > 0 ? (uint64_t)page : 4096;
    w->last_version = cfg->last_version;
    atomic_init(&w->poisoned, false);
    atomic_init(&w->appended_lsn, 0);
    atomic_init(&w->written_lsn, 0);
    atomic_init(&w->synced_lsn, 0);
    atomic_init(&w->done_version, cfg->last_version);
    atomic_init(&w->sleepers, 0);
    atomic_init(&w->done_seq, 0);
    atomic_init(&w->sync_declared, 0);
    w->waldir = wal_dir_path(dir);
    w->ring = calloc(DONE_RING, sizeof *w->ring);
    if (w->waldir == NULL || w->ring == NULL) {
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
    if (pthread_create(&w->syncer, NULL, syncer_main, w) != 0) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "wal open: cannot start the syncer thread");
        goto fail;
    }
    w->has_syncer = true;
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
    pthread_cond_broadcast(&w->sync_cond);
    pthread_mutex_unlock(&w->mu);
    if (w->has_syncer)
        pthread_join(w->syncer, NULL);
    pthread_mutex_lock(&w->mu);
    wait_io_idle_locked(w);
    if (!is_poisoned(w) &&
        (w->buf.len > 0 || load_lsn(&w->synced_lsn) < load_lsn(&w->appended_lsn)))
        lead_io_locked(w, true);
    st = is_poisoned(w) ? CAIRN_IO : CAIRN_OK;
    pthread_mutex_unlock(&w->mu);
    wal_free(w);
    return st;
}

/* ---- Appending -------------------------------------------------------- */

/*
 * Checks that a `len`-byte record of commit `version` may follow, rolls to
 * a new segment when it does not fit, and points `*dstp` at the `len`
 * bytes it goes to: the mapped segment, or the append buffer.
 */
static cairn_status reserve_locked(wal *w, uint64_t version, size_t len, uint8_t **dstp)
{
    cairn_status st;

    if (is_poisoned(w))
        return CAIRN_IO;
    if (version <= w->last_version)
        return wal_err_set(&w->errmsg, CAIRN_INVALID_ARGUMENT,
                           "wal append: version %" PRIu64 " does not follow %" PRIu64, version,
                           w->last_version);
    if (w->seg_off + len > w->seg_size) {
        st = roll_locked(w, len);
        if (st != CAIRN_OK)
            return st;
    }
    if (w->map != NULL) {
        *dstp = w->map + w->seg_off;
        return CAIRN_OK;
    }
    if (w->buf.cap - w->buf.len < len) {
        size_t cap = w->buf.cap ? w->buf.cap : 64 * 1024;
        uint8_t *p;
        while (cap - w->buf.len < len)
            cap *= 2;
        p = realloc(w->buf.p, cap);
        if (p == NULL)
            return wal_err_set(&w->errmsg, CAIRN_NO_MEMORY, "wal append: out of memory");
        w->buf.p = p;
        w->buf.cap = cap;
    }
    *dstp = w->buf.p + w->buf.len;
    return CAIRN_OK;
}

/* Accounts for the `len`-byte record of `version` just placed where
 * reserve_locked said, and stores its LSN in `*lsnp`. */
static void appended_locked(wal *w, uint64_t version, size_t len, uint64_t *lsnp)
{
    uint64_t lsn = load_lsn(&w->appended_lsn) + len;

    if (w->map == NULL)
        w->buf.len += len;
    w->seg_off += len;
    atomic_store_explicit(&w->appended_lsn, lsn, memory_order_release);
    if (w->map != NULL) {
        /* the stores into the mapping put it in the OS */
        atomic_store_explicit(&w->written_lsn, lsn, memory_order_release);
        /* the next record's first cache lines: fetched for writing now,
         * they are not a cache miss on the next commit's path */
        for (uint64_t o = w->seg_off; o < w->seg_off + 256 && o < w->seg_size; o += 64)
            __builtin_prefetch(w->map + o, 1);
    }
    w->last_version = version;
    w->records++;
    w->bytes_appended += len;
    *lsnp = lsn;
    if (w->syncer_sleeping)
        pthread_cond_signal(&w->sync_cond);
}

cairn_status wal_append(wal *w, const uint8_t *rec, size_t len, uint64_t *lsnp)
{
    cairn_status st;
    uint8_t *dst = NULL;
    uint64_t version;

    if (rec == NULL || len < WAL_RECORD_HEADER_SIZE || len > WAL_RECORD_MAX ||
        wal_get_u32(rec) != len)
        return CAIRN_INVALID_ARGUMENT;
    version = wal_record_version(rec);
    pthread_mutex_lock(&w->mu);
    st = reserve_locked(w, version, len, &dst);
    if (st == CAIRN_OK) {
        memcpy(dst, rec, len);
        wal_record_stamp_synced(dst, w->synced_version);
        appended_locked(w, version, len, lsnp);
    }
    pthread_mutex_unlock(&w->mu);
    return st;
}

cairn_status wal_append_ops(wal *w, uint64_t version, const wal_op *ops, size_t n,
                            uint64_t *lsnp)
{
    size_t len = wal_record_size(ops, n);
    uint8_t *dst = NULL;
    cairn_status st;

    if (len == 0)
        return CAIRN_INVALID_ARGUMENT;
    pthread_mutex_lock(&w->mu);
    st = reserve_locked(w, version, len, &dst);
    if (st == CAIRN_OK) {
        wal_record_encode_synced(dst, version, w->synced_version, ops, n);
        appended_locked(w, version, len, lsnp);
    }
    pthread_mutex_unlock(&w->mu);
    return st;
}

/* ---- Waiting ---------------------------------------------------------- */

cairn_status wal_wait_durable(wal *w, uint64_t lsn, cairn_durability mode)
{
    cairn_status st = CAIRN_OK;
    bool sync = mode == CAIRN_DURABILITY_SYNC;

    if (mode == CAIRN_DURABILITY_NONE)
        return CAIRN_OK;
    if (mode != CAIRN_DURABILITY_ASYNC && !sync)
        return CAIRN_INVALID_ARGUMENT;
    if (lsn > load_lsn(&w->appended_lsn))
        return CAIRN_INVALID_ARGUMENT;
    if (is_poisoned(w))
        return CAIRN_IO;
    if (load_lsn(sync ? &w->synced_lsn : &w->written_lsn) >= lsn)
        return CAIRN_OK; /* a mapped segment's ASYNC records always */
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (is_poisoned(w)) {
            st = CAIRN_IO;
            break;
        }
        if (load_lsn(sync ? &w->synced_lsn : &w->written_lsn) >= lsn)
            break;
        if (sync ? !may_lead_locked(w) : w->io_active) {
            if (sync && lsn > w->sync_wanted)
                w->sync_wanted = lsn;
            if (!w->io_active && w->syncer_idle && !w->syncer_lingering)
                pthread_cond_signal(&w->sync_cond);
            pthread_cond_wait(&w->cond, &w->mu);
            continue;
        }
        lead_io_locked(w, sync);
    }
    pthread_mutex_unlock(&w->mu);
    return st;
}

/*
 * Waits until done_version >= `target`.  A waiter whose own record (LSN
 * `need_lsn`, 0 for none) is not synced yet makes sure a sync is coming:
 * it runs one itself when it may (may_lead_locked), or else asks for one
 * in sync_wanted and wakes the syncer.  Waiters that only wait for older
 * commits spin and yield a little first.
 */
static cairn_status wait_done(wal *w, uint64_t target, uint64_t need_lsn)
{
    bool moved;

    if (need_lsn <= atomic_load(&w->synced_lsn)) {
        for (int i = 0; i < WAIT_SPINS + WAIT_YIELDS; i++) {
            uint64_t d = advance_done(w, &moved);
            if (moved)
                notify(w, false);
            if (d >= target)
                return CAIRN_OK;
            if (is_poisoned(w))
                return CAIRN_IO;
            if (i < WAIT_SPINS)
                cpu_relax();
            else
                sched_yield(); /* the commit ahead may need this core */
        }
    }
    for (;;) {
        uint32_t seq = atomic_load(&w->done_seq);
        uint64_t d = advance_done(w, &moved);
        bool led = false;

        if (moved)
            notify(w, false);
        if (d >= target)
            return CAIRN_OK;
        if (is_poisoned(w))
            return CAIRN_IO;
        if (need_lsn > atomic_load(&w->synced_lsn)) {
            pthread_mutex_lock(&w->mu);
            if (need_lsn > atomic_load(&w->synced_lsn) && !is_poisoned(w)) {
                if (need_lsn > w->sync_wanted)
                    w->sync_wanted = need_lsn;
                if (may_lead_locked(w)) {
                    lead_io_locked(w, true);
                    led = true;
                } else if (w->syncer_idle) {
                    pthread_cond_signal(&w->sync_cond); /* the syncer's turn */
                }
            }
            pthread_mutex_unlock(&w->mu);
            if (led)
                continue;
        }
        atomic_fetch_add(&w->sleepers, 1);
        sleep_on(w, seq);
        atomic_fetch_sub(&w->sleepers, 1);
    }
}

cairn_status wal_commit_wait(wal *w, uint64_t version, uint64_t lsn, cairn_durability mode,
                             uint64_t *donep)
{
    uint64_t need = 0, d;
    cairn_status st;
    done_slot *s;
    bool moved;

    if (mode == CAIRN_DURABILITY_SYNC) {
        need = lsn;
        atomic_fetch_add_explicit(&w->sync_declared, 1, memory_order_relaxed);
    } else if (mode == CAIRN_DURABILITY_ASYNC) {
        st = wal_wait_durable(w, lsn, mode); /* at once for a mapped segment */
        if (st != CAIRN_OK)
            return st;
    } else if (mode != CAIRN_DURABILITY_NONE) {
        return CAIRN_INVALID_ARGUMENT;
    }
    if (lsn > load_lsn(&w->appended_lsn) || version <= atomic_load(&w->done_version))
        return CAIRN_INVALID_ARGUMENT;
    if (is_poisoned(w))
        return CAIRN_IO;
    /* The slot may still hold version - DONE_RING: wait until it completed. */
    if (version > DONE_RING && atomic_load(&w->done_version) < version - DONE_RING) {
        st = wait_done(w, version - DONE_RING, 0);
        if (st != CAIRN_OK)
            return st;
    }
    s = &w->ring[version & (DONE_RING - 1)];
    atomic_store_explicit(&s->need_lsn, need, memory_order_relaxed);
    atomic_store(&s->version, version);
    d = advance_done(w, &moved);
    if (moved)
        notify(w, false);
    if (d < version) {
        st = wait_done(w, version, need);
        if (st != CAIRN_OK)
            return st;
        d = atomic_load(&w->done_version);
    }
    *donep = d;
    return CAIRN_OK;
}

cairn_status wal_sync(wal *w)
{
    return wal_wait_durable(w, load_lsn(&w->appended_lsn), CAIRN_DURABILITY_SYNC);
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
    sp->appended_lsn = load_lsn(&w->appended_lsn);
    sp->written_lsn = load_lsn(&w->written_lsn);
    sp->synced_lsn = load_lsn(&w->synced_lsn);
    sp->last_version = w->last_version;
    sp->done_version = atomic_load(&w->done_version);
    sp->mapped = w->map != NULL;
    pthread_mutex_unlock(&w->mu);
}

bool wal_is_poisoned(wal *w)
{
    return is_poisoned(w);
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
