/*
 * wl_checkpoint.c - checkpoint: commit latency while a checkpoint runs.
 *
 * The data set (cfg->keys keys) is loaded, then one thread commits
 * single-put transactions of new keys while another writes a checkpoint
 * with cairn_db_checkpoint(); the cell measures only the commits made
 * while the checkpoint ran, so its percentiles are the commit latency a
 * writer sees during a checkpoint.  ops/s is their rate and `seconds` the
 * checkpoint's duration.  cairn only: the peers have no operation that
 * does the same job (RocksDB flushes and compacts on its own schedule,
 * SQLite's wal_checkpoint and LMDB's copy are different work), so their
 * rows are marked unsupported.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "eng_cairn.h"
#include "hist.h"
#include "workload.h"

typedef struct ckpt_job {
    cairn_db *db;
    atomic_bool done;
    cairn_status st;
    uint64_t ns;
} ckpt_job;

static void *checkpointer(void *arg)
{
    ckpt_job *job = arg;
    uint64_t t0 = bench_now_ns();
    job->st = cairn_db_checkpoint(job->db);
    job->ns = bench_now_ns() - t0;
    atomic_store(&job->done, true);
    return NULL;
}

static bench_rc checkpoint_run(bench_cell *cell, bench_result *res)
{
    if (cell->eng != &bench_engine_cairn) {
        snprintf(res->msg, sizeof res->msg, "no peer operation matches a cairn checkpoint");
        return BENCH_UNSUPPORTED;
    }
    if (!cell->db && bench_open_engine(cell, res) != BENCH_OK)
        return res->status == BENCH_RES_UNSUPPORTED ? BENCH_UNSUPPORTED : BENCH_ERROR;
    bench_rc rc = BENCH_OK;
    if (cell->loaded < cell->cfg->keys)
        rc = bench_preload(cell, res, NULL);
    bench_thread t;
    memset(&t, 0, sizeof t);
    if (rc == BENCH_OK)
        rc = bench_thread_setup(cell, 0, &t);
    bench_hist *h = calloc(1, sizeof *h);
    if (rc == BENCH_OK && h == NULL) {
        snprintf(res->msg, sizeof res->msg, "out of memory");
        rc = BENCH_ERROR;
    }
    ckpt_job job = {.db = rc == BENCH_OK ? eng_cairn_db(t.et) : NULL};
    pthread_t thr;
    bool started = false;
    if (rc == BENCH_OK) {
        hist_init(h);
        atomic_init(&job.done, false);
        started = pthread_create(&thr, NULL, checkpointer, &job) == 0;
        if (!started) {
            snprintf(res->msg, sizeof res->msg, "cannot start the checkpoint thread");
            rc = BENCH_ERROR;
        }
    }
    uint64_t idx = cell->loaded, ops = 0;
    while (rc == BENCH_OK && !atomic_load(&job.done)) {
        uint64_t t0 = bench_now_ns();
        rc = wl_put1(&t, idx++);
        hist_add(h, bench_now_ns() - t0);
        ops++;
    }
    if (started)
        pthread_join(thr, NULL);
    if (rc != BENCH_OK && t.err[0])
        snprintf(res->msg, sizeof res->msg, "%s", t.err);
    if (rc == BENCH_OK && job.st != CAIRN_OK) {
        snprintf(res->msg, sizeof res->msg, "cairn_db_checkpoint: %s", cairn_strerror(job.st));
        rc = BENCH_ERROR;
    }
    if (rc == BENCH_OK) {
        res->ops = ops;
        res->seconds = (double)job.ns / 1e9;
        res->ops_per_sec = res->seconds > 0 ? (double)ops / res->seconds : 0.0;
        res->p50_us = hist_quantile(h, 0.50) / 1e3;
        res->p99_us = hist_quantile(h, 0.99) / 1e3;
        res->p999_us = hist_quantile(h, 0.999) / 1e3;
    }
    free(h);
    bench_thread_teardown(&t);
    res->rss_bytes = bench_peak_rss();
    cell->eng->close(cell->db);
    cell->db = NULL;
    return rc;
}

const bench_workload bench_wl_checkpoint = {
    .name = "checkpoint",
    .summary = "single-put commit latency while a checkpoint of the data set runs",
    .flags = WL_PRELOAD | WL_DURABLE_ONLY | WL_ONE_THREAD,
    .run = checkpoint_run,
};
