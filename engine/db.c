/* db.c - options, database lifecycle, statistics, run-id generation. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/db_internal.h"

void cairn_options_init(cairn_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->durability = CAIRN_DURABILITY_SYNC;
    opts->sync_interval_ms = 10;
    opts->clock = NULL;
    opts->clock_ctx = NULL;
    opts->max_value_size = 16u * 1024u * 1024u;
    opts->max_txn_bytes = 64ull * 1024u * 1024u;
    opts->max_txn_ops = 1000000;
    opts->max_open_txns = 1024;
    opts->max_retries = 64;
    opts->retry_backoff_min_us = 1;
    opts->retry_backoff_max_us = 1000;
    opts->wal_segment_size = 64ull * 1024u * 1024u;
    opts->checkpoint_wal_bytes = 64ull * 1024u * 1024u;
    opts->read_only = false;
    opts->wal_mmap = true;
}

static cairn_status check_options(const cairn_options *o, char *err, size_t cap)
{
    if (o->durability < CAIRN_DURABILITY_NONE || o->durability > CAIRN_DURABILITY_SYNC)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT, "options.durability %d is not a database mode",
                       (int)o->durability);
    if (o->max_value_size == 0 || o->max_value_size > CAIRN_VALUE_MAX_LIMIT)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT, "options.max_value_size %u is outside [1, %u]",
                       o->max_value_size, (unsigned)CAIRN_VALUE_MAX_LIMIT);
    if (o->max_txn_bytes == 0 || o->max_txn_bytes > CAIRN_TXN_BYTES_MAX_LIMIT)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT, "options.max_txn_bytes %llu is outside [1, %llu]",
                       (unsigned long long)o->max_txn_bytes, (unsigned long long)CAIRN_TXN_BYTES_MAX_LIMIT);
    if (o->max_txn_ops == 0)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT, "options.max_txn_ops must be > 0");
    if (o->max_open_txns == 0 || o->max_open_txns > CAIRN_OPEN_TXNS_MAX_LIMIT)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT, "options.max_open_txns %u is outside [1, %u]",
                       o->max_open_txns, (unsigned)CAIRN_OPEN_TXNS_MAX_LIMIT);
    if (o->max_retries == 0)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT, "options.max_retries must be > 0");
    if (o->retry_backoff_min_us > o->retry_backoff_max_us)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT,
                       "options.retry_backoff_min_us (%u) is above retry_backoff_max_us (%u)",
                       o->retry_backoff_min_us, o->retry_backoff_max_us);
    if (o->sync_interval_ms == 0)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT, "options.sync_interval_ms must be > 0");
    if (o->wal_segment_size < 64 * 1024)
        return err_fmt(err, cap, CAIRN_INVALID_ARGUMENT, "options.wal_segment_size must be >= 64 KiB");
    return CAIRN_OK;
}

static void db_free(cairn_db *db)
{
    free(db->dir);
    pthread_mutex_destroy(&db->ckpt_lock);
    pthread_mutex_destroy(&db->ckpt_wake_lock);
    pthread_cond_destroy(&db->ckpt_wake);
    txn_destroy_all(db);
    gc_destroy(db);
    index_destroy(&db->ix);
    snapreg_destroy(&db->snaps);
    free(db->free_slots);
    pthread_mutex_destroy(&db->commit_lock);
    pthread_mutex_destroy(&db->pool_lock);
    pthread_mutex_destroy(&db->id_lock);
    pthread_mutex_destroy(&db->err_lock);
    free(db);
}

cairn_status cairn_db_open(const char *path, const cairn_options *opts, cairn_db **dbp,
                           char *errbuf, size_t errbuf_len)
{
    return db_open_fs(path, opts, NULL, dbp, errbuf, errbuf_len);
}

cairn_status db_open_fs(const char *path, const cairn_options *opts, wal_fs *fs, cairn_db **dbp,
                        char *errbuf, size_t errbuf_len)
{
    if (errbuf && errbuf_len)
        errbuf[0] = '\0';
    if (dbp == NULL)
        return err_fmt(errbuf, errbuf_len, CAIRN_INVALID_ARGUMENT, "cairn_db_open: dbp is NULL");
    *dbp = NULL;
    cairn_options o;
    cairn_options_init(&o);
    if (opts)
        o = *opts;
    cairn_status st = check_options(&o, errbuf, errbuf_len);
    if (st != CAIRN_OK)
        return st;
    if (path == NULL)
        o.durability = CAIRN_DURABILITY_NONE;
    else if (path[0] == '\0')
        return err_fmt(errbuf, errbuf_len, CAIRN_INVALID_ARGUMENT, "cairn_db_open: path is empty");

    cairn_db *db = calloc(1, sizeof *db);
    if (db == NULL)
        return err_fmt(errbuf, errbuf_len, CAIRN_NO_MEMORY, "cairn_db_open: out of memory");
    db->opts = o;
    pthread_mutex_init(&db->commit_lock, NULL);
    pthread_mutex_init(&db->pool_lock, NULL);
    pthread_mutex_init(&db->id_lock, NULL);
    pthread_mutex_init(&db->err_lock, NULL);
    pthread_mutex_init(&db->ckpt_lock, NULL);
    pthread_mutex_init(&db->ckpt_wake_lock, NULL);
    pthread_cond_init(&db->ckpt_wake, NULL);
    db->free_slots = calloc(o.max_open_txns, sizeof *db->free_slots);
    if (db->free_slots == NULL || snapreg_init(&db->snaps, o.max_open_txns) != 0 ||
        index_init(&db->ix, gc_retire, db) != 0) {
        db_free(db);
        return err_fmt(errbuf, errbuf_len, CAIRN_NO_MEMORY, "cairn_db_open: out of memory");
    }
    if (getrandom(&db->id_rng, sizeof db->id_rng, 0) != (ssize_t)sizeof db->id_rng)
        db->id_rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)db;
    db->id_last_ms = -1;
    if (path) {
        st = durable_open(db, path, fs, errbuf, errbuf_len);
        if (st != CAIRN_OK) {
            db_free(db);
            return st;
        }
    }
    *dbp = db;
    return CAIRN_OK;
}

cairn_status cairn_db_close(cairn_db *db)
{
    if (db == NULL)
        return CAIRN_INVALID_ARGUMENT;
    uint32_t active = atomic_load(&db->active);
    if (active)
        return db_error(db, CAIRN_BUSY, "cairn_db_close: %u transaction(s) still active", active);
    cairn_status st = db->dir ? durable_close(db) : CAIRN_OK;
    db_free(db);
    return st;
}

cairn_status db_error(cairn_db *db, cairn_status status, const char *fmt, ...)
{
    pthread_mutex_lock(&db->err_lock);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->errmsg, sizeof db->errmsg, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&db->err_lock);
    return status;
}

size_t cairn_db_errmsg(cairn_db *db, char *buf, size_t cap)
{
    if (db == NULL) {
        if (buf && cap)
            buf[0] = '\0';
        return 0;
    }
    pthread_mutex_lock(&db->err_lock);
    size_t len = strlen(db->errmsg);
    if (buf && cap) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(buf, db->errmsg, n);
        buf[n] = '\0';
    }
    pthread_mutex_unlock(&db->err_lock);
    return len;
}

int64_t db_clock_now(const cairn_db *db)
{
    if (db->opts.clock)
        return db->opts.clock(db->opts.clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cairn_db_now_us(cairn_db *db)
{
    return db ? db_clock_now(db) : 0;
}

cairn_status cairn_db_stats(cairn_db *db, cairn_stats *statsp)
{
    if (db == NULL || statsp == NULL)
        return CAIRN_INVALID_ARGUMENT;
    cairn_stats s;
    memset(&s, 0, sizeof s);
    s.visible_version = atomic_load(&db->visible);
    s.commits = atomic_load(&db->st_commits);
    s.read_only_commits = atomic_load(&db->st_ro_commits);
    s.conflicts = atomic_load(&db->st_conflicts);
    s.aborts = atomic_load(&db->st_aborts);
    s.keys = atomic_load(&db->st_keys);
    s.versions = atomic_load(&db->st_versions);
    s.versions_reclaimed = atomic_load(&db->st_versions_reclaimed);
    s.keys_reclaimed = atomic_load(&db->st_keys_reclaimed);
    s.open_txns = atomic_load(&db->active);
    if (db->log) {
        wal_stats ws;
        wal_get_stats(db->log, &ws);
        s.syncs = ws.syncs;
        s.wal_records = ws.records;
        s.wal_bytes = ws.total_bytes;
    }
    s.checkpoints = atomic_load(&db->st_checkpoints);
    s.checkpoint_version = atomic_load(&db->st_ckpt_version);
    *statsp = s;
    return CAIRN_OK;
}

cairn_status cairn_run_id_generate(cairn_db *db, cairn_run_id *idp)
{
    if (db == NULL || idp == NULL)
        return CAIRN_INVALID_ARGUMENT;
    int64_t now_ms = db_clock_now(db) / 1000;
    if (now_ms < 0)
        now_ms = 0;
    pthread_mutex_lock(&db->id_lock);
    /* (ms, counter) strictly increases: a burst past 4096 ids in one
     * millisecond, or a clock that steps back, borrows the next ms. */
    if (now_ms > db->id_last_ms) {
        db->id_last_ms = now_ms;
        db->id_counter = 0;
    } else if (++db->id_counter > 0xFFF) {
        db->id_last_ms++;
        db->id_counter = 0;
    }
    uint64_t ms = (uint64_t)db->id_last_ms;
    uint32_t counter = db->id_counter;
    uint64_t r = splitmix64(&db->id_rng);
    pthread_mutex_unlock(&db->id_lock);

    uint8_t *b = idp->bytes;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i));
    b[6] = (uint8_t)(0x70 | (counter >> 8));
    b[7] = (uint8_t)counter;
    b[8] = (uint8_t)(0x80 | (r & 0x3F));
    for (int i = 9; i < 16; i++)
        b[i] = (uint8_t)(r >> (8 * (i - 8)));
    return CAIRN_OK;
}
