/*
 * durable.c - durable databases: open and recovery, the commit's trip
 * through the WAL, checkpoints, close.
 *
 * Files (docs/FORMAT.md): DIR/LOCK, DIR/CAIRN (identity: the database id),
 * DIR/wal/NNNNNN.wal (segments), DIR/ckpt-<version>.ckpt (checkpoints).
 *
 * Recovery loads the newest checkpoint that validates (a damaged one is
 * skipped and the next older tried), then replays every WAL record with a
 * newer version, checking that versions are contiguous.  Two checkpoints
 * and the WAL after the older one are kept, so the newest can be lost to
 * damage without losing data.
 *
 * Commit: under the commit lock the record is encoded and appended (in
 * version order) and the versions are linked into the index, invisible
 * because they are newer than `visible`.  After the lock: the WAL
 * completes the commit (group commit in SYNC) together with every older
 * one, and `visible` moves to the newest completed version: versions
 * become visible strictly in order.
 * A failed WAL write or sync poisons the database: every later commit is
 * refused with CAIRN_IO; what was acknowledged stays acknowledged.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <xxhash.h>

#include "engine/ckpt_file.h"
#include "engine/db_internal.h"
#include "wal/record.h"

#define IDENTITY_NAME "CAIRN"
#define IDENTITY_MAGIC "CAIRNDB\0"
#define IDENTITY_SIZE 40
#define IDENTITY_FORMAT 1u
/* The automatic checkpointer's nice value: it yields a contended core to
 * committing threads (weight about 1/10 of theirs) but is never starved. */
#define CKPT_NICE 10
/* Commits between two looks at the WAL size for automatic checkpoints. */
#define CKPT_CHECK_EVERY 256u

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- identity file ---------------------------------------------------- */

/* Reads DIR/CAIRN into db->db_id.  CAIRN_NOT_FOUND when absent. */
static cairn_status identity_read(cairn_db *db, wal_err *err)
{
    char *path = wal_path_join(db->dir, IDENTITY_NAME);
    if (path == NULL)
        return wal_err_set(err, CAIRN_NO_MEMORY, "out of memory");
    struct stat sb;
    cairn_status st;
    wal_file *f = NULL;
    if (stat(path, &sb) != 0) {
        st = wal_err_set(err, errno == ENOENT ? CAIRN_NOT_FOUND : CAIRN_IO, "stat %s: %s", path,
                         strerror(errno));
        goto out;
    }
    st = wal_file_open(db->fs, path, WAL_OPEN_READ, &f, err);
    if (st != CAIRN_OK)
        goto out;
    uint8_t b[IDENTITY_SIZE];
    size_t got = 0;
    st = wal_file_pread(f, b, sizeof b, 0, &got, err);
    if (st != CAIRN_OK)
        goto out;
    if (got != sizeof b || memcmp(b, IDENTITY_MAGIC, 8) != 0 ||
        XXH3_64bits(b, 32) != get_le64(b + 32)) {
        st = wal_err_set(err, CAIRN_CORRUPT, "%s: not a valid cairn identity file (offset 0, %zu bytes)",
                         path, got);
        goto out;
    }
    if (get_le32(b + 8) != IDENTITY_FORMAT) {
        st = wal_err_set(err, CAIRN_UNSUPPORTED, "%s: format version %u is not supported", path,
                         get_le32(b + 8));
        goto out;
    }
    memcpy(db->db_id, b + 16, sizeof db->db_id);
out:
    wal_file_close(f);
    free(path);
    return st;
}

/* Creates DIR/CAIRN with a fresh random id: temp file, fsync, rename,
 * directory fsync. */
static cairn_status identity_create(cairn_db *db, wal_err *err)
{
    char *tmp = wal_path_join(db->dir, IDENTITY_NAME ".tmp");
    char *path = wal_path_join(db->dir, IDENTITY_NAME);
    wal_file *f = NULL;
    cairn_status st;
    if (tmp == NULL || path == NULL) {
        st = wal_err_set(err, CAIRN_NO_MEMORY, "out of memory");
        goto out;
    }
    if (getrandom(db->db_id, sizeof db->db_id, 0) != (ssize_t)sizeof db->db_id) {
        st = wal_err_set(err, CAIRN_IO, "getrandom: %s", strerror(errno));
        goto out;
    }
    uint8_t b[IDENTITY_SIZE] = {0};
    memcpy(b, IDENTITY_MAGIC, 8);
    put_le32(b + 8, IDENTITY_FORMAT);
    memcpy(b + 16, db->db_id, 16);
    put_le64(b + 32, XXH3_64bits(b, 32));
    st = wal_file_open(db->fs, tmp, WAL_OPEN_CREATE, &f, err);
    if (st == CAIRN_OK)
        st = wal_file_truncate(f, 0, err);
    if (st == CAIRN_OK)
        st = wal_file_pwrite(f, b, sizeof b, 0, err);
    if (st == CAIRN_OK)
        st = wal_file_sync(f, err);
    wal_file_close(f);
    f = NULL;
    if (st == CAIRN_OK)
        st = wal_fs_rename(db->fs, tmp, path, err);
    if (st == CAIRN_OK)
        st = wal_fs_sync_dir(db->fs, db->dir, err);
out:
    free(tmp);
    free(path);
    return st;
}

/* ---- recovery --------------------------------------------------------- */

int store_install(cairn_db *db, const uint8_t *key, size_t klen, version *v)
{
    uint64_t hash = index_hash(key, klen);
    node *n = index_get(&db->ix, key, klen, hash);
    if (n) {
        gc_install(db, n, v, v->ver);
        stat_add_locked(&db->st_versions, (int64_t)1);
        return 0;
    }
    if (v->flags & VERSION_TOMBSTONE) {
        version_free(v);
        return 0;
    }
    version *embedded;
    n = index_node_new(&db->ix, key, klen, v, &embedded);
    if (n == NULL || index_reserve(&db->ix, 1) != 0) {
        if (n)
            index_free_node(n);
        version_free(v);
        return -1;
    }
    if (embedded) {
        version_free(v);
        v = embedded;
    }
    index_link(&db->ix, n, hash, v);
    stat_add_locked(&db->st_keys, (int64_t)1);
    stat_add_locked(&db->st_versions, (int64_t)1);
    return 0;
}

/* A version for a recovered value (`expires` 0: never). */
static version *recovered_version(const uint8_t *value, uint32_t len, int64_t expires, uint64_t ver,
                                  bool tombstone)
{
    size_t skip = expires ? sizeof expires : 0;
    version *v = version_new((uint32_t)(len + skip));
    if (v == NULL)
        return NULL;
    v->ver = ver;
    if (tombstone)
        v->flags |= VERSION_TOMBSTONE;
    if (expires) {
        v->flags |= VERSION_EXPIRES;
        memcpy(v->data, &expires, sizeof expires);
    }
    if (len)
        memcpy(v->data + skip, value, len);
    return v;
}

static cairn_status load_entry(void *ctx, const ckpt_entry *e)
{
    cairn_db *db = ctx;
    version *v = recovered_version(e->value, e->value_len, e->expires_at_us, e->commit_version, false);
    if (v == NULL || store_install(db, e->key, e->key_len, v) != 0)
        return CAIRN_NO_MEMORY;
    return CAIRN_OK;
}

/* Replayed writes are installed INDEX_BATCH at a time: the index first
 * warms the tree paths and hash slots of the whole batch at once, so the
 * cache misses of the inserts overlap instead of queueing. */
typedef struct replay_ctx {
    cairn_db *db;
    wal_err *err;
    size_t n;                                  /* pending writes */
    version *v[INDEX_BATCH];
    size_t klen[INDEX_BATCH];
    uint8_t key[INDEX_BATCH][CAIRN_KEY_MAX];   /* copies: the WAL buffer moves on */
} replay_ctx;

/* Installs the pending writes in order; -1 when memory runs out (the
 * versions not installed are freed). */
static int replay_flush(replay_ctx *rc)
{
    const uint8_t *keys[INDEX_BATCH];
    uint64_t hashes[INDEX_BATCH];
    for (size_t i = 0; i < rc->n; i++) {
        keys[i] = rc->key[i];
        hashes[i] = index_hash(keys[i], rc->klen[i]);
    }
    index_warm(&rc->db->ix, keys, rc->klen, hashes, rc->n);
    int ret = 0;
    for (size_t i = 0; i < rc->n; i++) {
        if (ret == 0 && store_install(rc->db, keys[i], rc->klen[i], rc->v[i]) != 0)
            ret = -1; /* store_install freed v[i] */
        else if (ret != 0)
            version_free(rc->v[i]);
    }
    rc->n = 0;
    return ret;
}

static cairn_status replay_record(void *ctx, uint64_t ver, const wal_op *ops, size_t n)
{
    replay_ctx *rc = ctx;
    cairn_db *db = rc->db;
    if (ver != db->assigned + 1)
        return wal_err_set(rc->err, CAIRN_CORRUPT,
                           "WAL versions are not contiguous: expected version %llu after %llu, found %llu",
                           (unsigned long long)db->assigned + 1, (unsigned long long)db->assigned,
                           (unsigned long long)ver);
    for (size_t i = 0; i < n; i++) {
        const wal_op *op = &ops[i];
        bool del = op->type == WAL_OP_DELETE;
        int64_t expires = op->type == WAL_OP_PUT_EXPIRING ? op->expires_at_us : 0;
        version *v = recovered_version(op->value, del ? 0 : op->value_len, expires, ver, del);
        if (v == NULL)
            goto oom;
        if (op->key_len > CAIRN_KEY_MAX) {
            version_free(v);
            return wal_err_set(rc->err, CAIRN_CORRUPT, "a WAL record at version %llu has a %u-byte key",
                               (unsigned long long)ver, (unsigned)op->key_len);
        }
        rc->v[rc->n] = v;
        rc->klen[rc->n] = op->key_len;
        memcpy(rc->key[rc->n], op->key, op->key_len);
        if (++rc->n == INDEX_BATCH && replay_flush(rc) != 0)
            goto oom;
    }
    db->assigned = ver;
    return CAIRN_OK;
oom:
    return wal_err_set(rc->err, CAIRN_NO_MEMORY, "out of memory replaying version %llu",
                       (unsigned long long)ver);
}

/* Empties the index (a checkpoint failed half-way through loading). */
static cairn_status reset_index(cairn_db *db)
{
    gc_destroy(db); /* retired nodes live in the index's heap: first */
    index_destroy(&db->ix);
    atomic_store(&db->st_keys, 0);
    atomic_store(&db->st_versions, 0);
    if (index_init(&db->ix, gc_retire, db) != 0)
        return CAIRN_NO_MEMORY;
    return CAIRN_OK;
}

/* Loads the newest checkpoint that validates; fills the report. */
static cairn_status load_checkpoint(cairn_db *db, wal_err *err)
{
    ckpt_info *list = NULL;
    size_t count = 0;
    cairn_status st = ckpt_list(db->fs, db->dir, &list, &count, err);
    if (st != CAIRN_OK)
        return st;
    for (size_t i = 0; i < count; i++) {
        uint64_t ckver = 0, entries = 0;
        wal_err lerr;
        st = ckpt_reader_load(db->fs, list[i].path, db->db_id, load_entry, db, &ckver, &entries, &lerr);
        if (st == CAIRN_OK) {
            db->assigned = ckver;
            db->ckpt_version = ckver;
            if (i + 1 < count)
                db->ckpt_prev_version = list[i + 1].version;
            db->recovery.checkpoint_version = ckver;
            db->recovery.checkpoint_entries = entries;
            snprintf(db->recovery.checkpoint_path, sizeof db->recovery.checkpoint_path, "%s", list[i].path);
            break;
        }
        if (st == CAIRN_NO_MEMORY) {
            wal_err_set(err, st, "out of memory loading %s", list[i].path);
            break;
        }
        /* unusable: forget what it delivered, fall back to the next one */
        db->recovery.checkpoints_skipped++;
        st = reset_index(db);
        if (st != CAIRN_OK) {
            wal_err_set(err, st, "out of memory");
            break;
        }
    }
    ckpt_list_free(list, count);
    return st;
}

static void *checkpoint_thread(void *arg);

/* Stops the automatic checkpoint thread (waiting for a running checkpoint). */
static void stop_checkpointer(cairn_db *db)
{
    if (!db->ckpt_thread_started)
        return;
    pthread_mutex_lock(&db->ckpt_wake_lock);
    db->ckpt_stop = true;
    pthread_cond_signal(&db->ckpt_wake);
    pthread_mutex_unlock(&db->ckpt_wake_lock);
    pthread_join(db->ckpt_thread, NULL);
    db->ckpt_thread_started = false;
}

static void durable_release(cairn_db *db)
{
    stop_checkpointer(db);
    wal_fs_unlock(db->lock);
    db->lock = NULL;
    if (db->own_fs)
        wal_fs_free(db->fs);
    db->fs = NULL;
}

cairn_status durable_open(cairn_db *db, const char *path, wal_fs *fs, char *errbuf, size_t cap)
{
    int64_t t0 = mono_us();
    wal_err err = {{0}};
    cairn_status st;
    bool ro = db->opts.read_only;
    db->recovery.durable = true;
    db->dir = strdup(path);
    if (db->dir == NULL)
        return err_fmt(errbuf, cap, CAIRN_NO_MEMORY, "out of memory");
    if (fs == NULL) {
        st = wal_fs_new_posix(&fs);
        if (st != CAIRN_OK)
            return err_fmt(errbuf, cap, st, "out of memory");
        db->own_fs = true;
    }
    db->fs = fs;

    struct stat sb;
    if (ro && (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        st = wal_err_set(&err, CAIRN_NOT_FOUND, "%s: no database directory (read-only open creates nothing)",
                         path);
        goto fail;
    }
    if (!ro) {
        bool existed = stat(path, &sb) == 0;
        st = wal_fs_mkdir(fs, path, &err);
        if (st == CAIRN_OK && !existed) {
            char *copy = strdup(path);
            st = copy ? wal_fs_sync_dir(fs, dirname(copy), &err) : CAIRN_NO_MEMORY;
            free(copy);
        }
        if (st != CAIRN_OK)
            goto fail;
    }
    if (ro) { /* nothing to lock, and nothing written, unless a database is there */
        st = identity_read(db, &err);
        if (st == CAIRN_NOT_FOUND)
            st = wal_err_set(&err, CAIRN_NOT_FOUND, "%s holds no cairn database", path);
        if (st != CAIRN_OK)
            goto fail;
    }
    st = wal_fs_lock(fs, path, &db->lock, &err);
    if (st != CAIRN_OK)
        goto fail;

    st = identity_read(db, &err);
    if (st == CAIRN_NOT_FOUND) {
        char *waldir = wal_dir_path(path);
        bool has_wal = waldir && stat(waldir, &sb) == 0;
        free(waldir);
        if (has_wal) {
            st = wal_err_set(&err, CAIRN_CORRUPT, "%s/%s is missing but the directory holds a WAL", path,
                             IDENTITY_NAME);
        } else if (ro) {
            st = wal_err_set(&err, CAIRN_NOT_FOUND, "%s holds no cairn database", path);
        } else {
            st = identity_create(db, &err);
            db->recovery.new_database = true;
        }
    }
    if (st != CAIRN_OK)
        goto fail;

    if (!ro) {
        st = ckpt_remove_tmp(fs, path, NULL, &err);
        if (st != CAIRN_OK)
            goto fail;
    }
    st = load_checkpoint(db, &err);
    if (st != CAIRN_OK)
        goto fail;

    wal_replay_report rep;
    replay_ctx *rc = malloc(sizeof *rc);
    if (rc == NULL) {
        st = wal_err_set(&err, CAIRN_NO_MEMORY, "out of memory starting the WAL replay");
        goto fail;
    }
    rc->db = db;
    rc->err = &err;
    rc->n = 0;
    st = wal_replay(fs, path, db->db_id, db->assigned, replay_record, rc, ro, &rep, &err);
    if (st == CAIRN_OK && replay_flush(rc) != 0)
        st = wal_err_set(&err, CAIRN_NO_MEMORY, "out of memory replaying the WAL");
    for (size_t i = 0; i < rc->n; i++) /* left by a failed replay */
        version_free(rc->v[i]);
    free(rc);
    if (st != CAIRN_OK)
        goto fail;
    atomic_store(&db->visible, db->assigned);
    atomic_store(&db->st_ckpt_version, db->ckpt_version);

    cairn_recovery_report *r = &db->recovery;
    r->segments_read = rep.segments_read;
    r->records_replayed = rep.records_replayed;
    r->last_version = db->assigned;
    r->torn = rep.torn;
    r->repaired = rep.repaired;
    r->bytes_truncated = rep.bytes_truncated;
    r->torn_offset = rep.torn_offset;
    snprintf(r->torn_path, sizeof r->torn_path, "%s", rep.torn ? rep.torn_path : "");

    if (!ro) {
        wal_config cfg;
        wal_config_init(&cfg);
        cfg.segment_size = db->opts.wal_segment_size;
        cfg.sync_interval_ms = db->opts.sync_interval_ms;
        cfg.map_segments = db->opts.wal_mmap;
        memcpy(cfg.db_id, db->db_id, sizeof cfg.db_id);
        cfg.resume_segment = rep.resume_segment;
        cfg.resume_offset = rep.resume_offset;
        cfg.last_version = rep.last_version > db->assigned ? rep.last_version : db->assigned;
        st = wal_open(fs, path, &cfg, &db->log, &err);
        if (st != CAIRN_OK)
            goto fail;
        if (db->opts.checkpoint_wal_bytes) {
            if (pthread_create(&db->ckpt_thread, NULL, checkpoint_thread, db) != 0) {
                st = wal_err_set(&err, CAIRN_NO_MEMORY, "cannot start the checkpoint thread");
                goto fail;
            }
            db->ckpt_thread_started = true;
        }
    }
    r->duration_us = (uint64_t)(mono_us() - t0);
    return CAIRN_OK;
fail:
    if (db->log) {
        wal_close(db->log);
        db->log = NULL;
    }
    durable_release(db);
    return err_fmt(errbuf, cap, st, "%s", err.msg[0] ? err.msg : cairn_strerror(st));
}

cairn_status durable_close(cairn_db *db)
{
    cairn_status st = CAIRN_OK;
    stop_checkpointer(db); /* a checkpoint removes WAL segments: before wal_close */
    if (db->log) {
        st = wal_close(db->log);
        if (st != CAIRN_OK)
            db_error(db, st, "cairn_db_close: the WAL could not be synced at close");
        db->log = NULL;
    }
    durable_release(db);
    return st;
}

/* ---- commit ----------------------------------------------------------- */

static uint8_t op_type(const version *v)
{
    if (v->flags & VERSION_TOMBSTONE)
        return WAL_OP_DELETE;
    return (v->flags & VERSION_EXPIRES) ? WAL_OP_PUT_EXPIRING : WAL_OP_PUT;
}

cairn_status durable_append(cairn_txn *t, uint64_t ver, uint64_t *lsnp)
{
    cairn_db *db = t->db;
    if (atomic_load_explicit(&db->poisoned, memory_order_relaxed))
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_IO,
                       "the database refuses writes after a failed WAL write or sync");
    wal_op *ops = arena_alloc(&t->mem, t->nops * sizeof *ops);
    if (ops == NULL)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_NO_MEMORY, "out of memory encoding the commit");
    for (size_t i = 0; i < t->nops; i++) {
        const wop *w = &t->ops[i];
        cairn_slice val = version_value(w->v);
        ops[i] = (wal_op){op_type(w->v), w->key, w->klen, val.data, (uint32_t)val.len,
                          version_expiry(w->v)};
    }
    if (wal_record_size(ops, t->nops) == 0)
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_TOO_LARGE,
                       "the commit cannot be encoded as one WAL record (%zu writes)", t->nops);
    /* encoded straight into the log: no copy of the record in between */
    cairn_status st = wal_append_ops(db->log, ver, ops, t->nops, lsnp);
    if (st != CAIRN_OK) {
        char msg[WAL_ERR_MAX];
        wal_errmsg(db->log, msg, sizeof msg);
        if (st == CAIRN_IO)
            atomic_store(&db->poisoned, true);
        return err_fmt(t->errmsg, sizeof t->errmsg, st, "WAL append failed: %s", msg);
    }
    return CAIRN_OK;
}

static void wake_checkpointer(cairn_db *db)
{
    if (!db->ckpt_thread_started)
        return;
    wal_stats ws;
    wal_get_stats(db->log, &ws);
    /* A checkpoint rewrites every live key: wait for at least as much WAL
     * as the last one wrote, so checkpoints never write more than the log
     * (and a large database is not rewritten every checkpoint_wal_bytes). */
    uint64_t last = atomic_load_explicit(&db->ckpt_bytes, memory_order_relaxed);
    uint64_t mark = atomic_load_explicit(&db->ckpt_wal_mark, memory_order_relaxed);
    /* the log written since the last checkpoint began (before the first
     * one since open: all the log there is) */
    uint64_t since = mark ? ws.bytes_appended - mark : ws.total_bytes;
    if (since < db->opts.checkpoint_wal_bytes || since < last)
        return;
    pthread_mutex_lock(&db->ckpt_wake_lock);
    db->ckpt_wanted = true;
    pthread_cond_signal(&db->ckpt_wake);
    pthread_mutex_unlock(&db->ckpt_wake_lock);
}

/*
 * The commit's versions are linked (invisible).  wal_commit_wait declares
 * the commit ready, waits until it is as durable as its mode promises and
 * every older commit is complete too, and says how far that holds: `done`
 * (>= ver).  Any committer may publish the whole completed prefix, so a
 * group made durable by one fdatasync becomes visible at once, in version
 * order, without each commit waiting for its predecessor's thread to run.
 */
cairn_status durable_finish_commit(cairn_txn *t, uint64_t ver, uint64_t lsn)
{
    cairn_db *db = t->db;
    cairn_durability mode = t->opts.durability ? t->opts.durability : db->opts.durability;
    uint64_t done = 0;
    cairn_status st = wal_commit_wait(db->log, ver, lsn, mode, &done);
    if (st != CAIRN_OK) {
        char msg[WAL_ERR_MAX];
        wal_errmsg(db->log, msg, sizeof msg);
        atomic_store(&db->poisoned, true);
        return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_IO,
                       "the commit could not be made durable (%s); the database refuses further writes", msg);
    }
    uint64_t cur = atomic_load_explicit(&db->visible, memory_order_relaxed);
    while (cur < done &&
           !atomic_compare_exchange_weak_explicit(&db->visible, &cur, done, memory_order_release,
                                                  memory_order_relaxed))
        ;
    if (atomic_fetch_add_explicit(&db->commits_since_check, 1, memory_order_relaxed) % CKPT_CHECK_EVERY == 0)
        wake_checkpointer(db);
    return CAIRN_OK;
}

/* ---- checkpoints ------------------------------------------------------ */

static cairn_status write_checkpoint(cairn_db *db, char *msg, size_t cap)
{
    cairn_txn *t;
    cairn_status st = txn_begin_internal(db, &t);
    if (st != CAIRN_OK)
        return err_fmt(msg, cap, st, "checkpoint: cannot take a snapshot");
    uint64_t snap = t->snap;
    wal_stats ws;
    wal_get_stats(db->log, &ws);
    uint64_t mark = ws.bytes_appended ? ws.bytes_appended : 1; /* what this checkpoint covers */
    wal_err err = {{0}};
    ckpt_writer *w = NULL;
    if (snap == db->ckpt_version)
        goto done; /* nothing new since the last checkpoint */
    st = ckpt_writer_open(db->fs, db->dir, snap, db->db_id, &w, &err);
    uint64_t bytes = 0; /* entry bytes, near enough the file's size */
    index_cursor cur;
    index_cursor_seek(&cur, &db->ix, NULL, 0);
    for (node *n; st == CAIRN_OK && (n = index_cursor_next(&cur, &db->ix)) != NULL;) {
        const version *v = node_version_at(n, snap);
        if (!version_live(v, t->now_us))
            continue;
        cairn_slice val = version_value(v);
        bytes += n->keylen + val.len + 24u;
        st = ckpt_writer_add(w, node_key(n), n->keylen, val.data, (uint32_t)val.len, version_expiry(v),
                             v->ver, &err);
    }
    if (st == CAIRN_OK) {
        st = ckpt_writer_finish(w, &err);
        w = NULL;
    }
    if (st != CAIRN_OK)
        goto done;
    /* Keep this checkpoint and the previous one, and the WAL after the
     * previous one: the newest can then be damaged without loss. */
    uint64_t keep = db->ckpt_version;
    db->ckpt_prev_version = db->ckpt_version;
    db->ckpt_version = snap;
    atomic_store(&db->ckpt_bytes, bytes);
    atomic_store(&db->ckpt_wal_mark, mark);
    atomic_store(&db->st_ckpt_version, snap);
    atomic_fetch_add(&db->st_checkpoints, 1);
    if (keep) {
        st = wal_remove_covered(db->log, keep, NULL);
        if (st == CAIRN_OK)
            st = ckpt_remove_older(db->fs, db->dir, keep, NULL, &err);
        else
            wal_errmsg(db->log, err.msg, sizeof err.msg);
    }
done:
    ckpt_writer_abort(w);
    cairn_txn_free(t);
    if (st != CAIRN_OK)
        return err_fmt(msg, cap, st, "checkpoint at version %llu failed: %s", (unsigned long long)snap,
                       err.msg);
    return CAIRN_OK;
}

cairn_status cairn_db_checkpoint(cairn_db *db)
{
    if (db == NULL)
        return CAIRN_INVALID_ARGUMENT;
    if (db->dir == NULL)
        return db_error(db, CAIRN_UNSUPPORTED, "cairn_db_checkpoint: an in-memory database has no files");
    if (db->opts.read_only)
        return db_error(db, CAIRN_READ_ONLY, "cairn_db_checkpoint: the database was opened read-only");
    if (atomic_load(&db->poisoned))
        return db_error(db, CAIRN_IO, "cairn_db_checkpoint: the database refuses writes after a WAL failure");
    char msg[ERRMSG_CAP];
    pthread_mutex_lock(&db->ckpt_lock);
    cairn_status st = write_checkpoint(db, msg, sizeof msg);
    pthread_mutex_unlock(&db->ckpt_lock);
    if (st != CAIRN_OK)
        db_error(db, st, "%s", msg);
    return st;
}

static void *checkpoint_thread(void *arg)
{
    cairn_db *db = arg;
#ifdef __linux__
    /* Background work: when it competes with committing threads for a
     * core, the commits go first (a nice value is per thread on Linux).
     * Only a hint; failing to lower the priority changes nothing else. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), CKPT_NICE);
#endif
    pthread_mutex_lock(&db->ckpt_wake_lock);
    for (;;) {
        while (!db->ckpt_wanted && !db->ckpt_stop)
            pthread_cond_wait(&db->ckpt_wake, &db->ckpt_wake_lock);
        if (db->ckpt_stop)
            break;
        db->ckpt_wanted = false;
        pthread_mutex_unlock(&db->ckpt_wake_lock);
        cairn_db_checkpoint(db); /* a failure is kept in the db's errmsg */
        pthread_mutex_lock(&db->ckpt_wake_lock);
    }
    pthread_mutex_unlock(&db->ckpt_wake_lock);
    return NULL;
}

cairn_status cairn_db_recovery_report(cairn_db *db, cairn_recovery_report *reportp)
{
    if (db == NULL || reportp == NULL)
        return CAIRN_INVALID_ARGUMENT;
    *reportp = db->recovery;
    return CAIRN_OK;
}
