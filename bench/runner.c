/*
 * runner.c - runs one cell inside the current process: open, preload,
 * threads, warm-up, the measured loop, and the result.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "workload.h"

uint64_t bench_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024u;
}

static uint64_t stream_of(const bench_cell *cell, unsigned idx)
{
    uint64_t h = 1469598103934665603ull;
    const char *parts[2] = {cell->wl ? cell->wl->name : "", cell->eng->name};
    for (int p = 0; p < 2; p++)
        for (const char *s = parts[p]; *s; s++)
            h = (h ^ (uint8_t)*s) * 1099511628211ull;
    h ^= (uint64_t)cell->durability << 40 ^ (uint64_t)cell->threads << 48;
    return bench_mix64(h + idx);
}

bench_rc bench_thread_setup(bench_cell *cell, unsigned idx, bench_thread *t)
{
    memset(t, 0, sizeof *t);
    t->cell = cell;
    t->eng = cell->eng;
    t->idx = idx;
    bench_rng_seed(&t->rng, cell->cfg->ks.seed, stream_of(cell, idx));
    t->key = calloc(1, BENCH_KEY_MAX);
    t->val = calloc(1, cell->cfg->ks.value_size + 1);
    if (!t->key || !t->val) {
        snprintf(t->err, sizeof t->err, "out of memory");
        return BENCH_ERROR;
    }
    bench_rc rc = cell->eng->thread_open(cell->db, idx, &t->et, t->err, sizeof t->err);
    if (rc != BENCH_OK) {
        t->et = NULL;
        return rc;
    }
    return BENCH_OK;
}

void bench_thread_teardown(bench_thread *t)
{
    if (t->et)
        t->eng->thread_close(t->et);
    t->et = NULL;
    free(t->key);
    free(t->val);
    t->key = t->val = NULL;
}

bench_rc bench_open_engine(bench_cell *cell, bench_result *res)
{
    const bench_config *cfg = cell->cfg;
    bench_open_args a = {
        .dir = cell->dir,
        .durability = cell->durability,
        .threads = cell->threads,
        .expected_keys = cfg->keys,
        .key_size = cfg->ks.key_size,
        .value_size = cfg->ks.value_size,
        .loading = cell->loading,
    };
    char err[sizeof res->msg];
    err[0] = '\0';
    bench_rc rc = cell->eng->open(&a, &cell->db, err, sizeof err);
    if (rc == BENCH_OK)
        return BENCH_OK;
    cell->db = NULL;
    res->status = rc == BENCH_UNSUPPORTED ? BENCH_RES_UNSUPPORTED : BENCH_RES_FAILED;
    snprintf(res->msg, sizeof res->msg, "%s", err[0] ? err : "open failed");
    return rc;
}

bench_rc bench_preload(bench_cell *cell, bench_result *res, double *secondsp)
{
    uint64_t t0 = bench_now_ns();
    bench_thread t;
    bench_rc rc = bench_thread_setup(cell, 0, &t);
    if (rc == BENCH_OK)
        rc = wl_load(&t, 0, cell->cfg->keys);
    if (rc != BENCH_OK) {
        res->status = rc == BENCH_UNSUPPORTED ? BENCH_RES_UNSUPPORTED : BENCH_RES_FAILED;
        snprintf(res->msg, sizeof res->msg, "preload: %.200s", t.err);
    } else {
        cell->loaded = cell->cfg->keys;
    }
    bench_thread_teardown(&t);
    if (secondsp)
        *secondsp = (double)(bench_now_ns() - t0) / 1e9;
    return rc;
}

typedef struct worker {
    bench_thread t;
    bench_hist hist;
    pthread_barrier_t *barrier;
    pthread_t tid;
    uint64_t start_ns, end_ns, ops;
    bench_rc rc;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    bench_cell *cell = w->t.cell;
    const bench_config *cfg = cell->cfg;
    const bench_workload *wl = cell->wl;
    bench_thread *t = &w->t;
    unsigned idx = t->idx;

    w->rc = bench_thread_setup(cell, idx, t);
    if (w->rc != BENCH_OK)
        atomic_store(&cell->stop, true);
    pthread_barrier_wait(w->barrier); /* every thread has its context */

    uint64_t now = bench_now_ns();
    uint64_t warm_end = now + (uint64_t)(cfg->warmup * 1e9);
    while (w->rc == BENCH_OK && now < warm_end &&
           !atomic_load_explicit(&cell->stop, memory_order_relaxed)) {
        w->rc = wl->op(t);
        t->seq++;
        now = bench_now_ns();
    }
    if (w->rc != BENCH_OK)
        atomic_store(&cell->stop, true);
    pthread_barrier_wait(w->barrier); /* the measured window starts together */

    uint64_t quota = 0;
    if (cfg->max_ops)
        quota = (cfg->max_ops + cell->threads - 1) / cell->threads;
    uint64_t last = bench_now_ns();
    w->start_ns = last;
    uint64_t end = last + (uint64_t)(cfg->seconds * 1e9);
    while (w->rc == BENCH_OK && !atomic_load_explicit(&cell->stop, memory_order_relaxed)) {
        w->rc = wl->op(t);
        t->seq++;
        now = bench_now_ns();
        if (w->rc != BENCH_OK)
            break;
        hist_add(&w->hist, now - last);
        last = now;
        w->ops++;
        if (now >= end || (quota && w->ops >= quota))
            break;
    }
    if (w->rc == BENCH_OK && wl->finish)
        w->rc = wl->finish(t);
    w->end_ns = bench_now_ns();
    if (w->rc != BENCH_OK)
        atomic_store(&cell->stop, true);
    bench_thread_teardown(t);
    return NULL;
}

static void fill_identity(const bench_cell *cell, bench_result *res)
{
    memset(res, 0, sizeof *res);
    snprintf(res->workload, sizeof res->workload, "%s", cell->wl->name);
    snprintf(res->engine, sizeof res->engine, "%s", cell->eng->name);
    res->durability = cell->durability;
    res->threads = cell->threads;
    res->status = BENCH_RES_OK;
}

static void run_threads(bench_cell *cell, bench_result *res)
{
    unsigned n = cell->threads ? cell->threads : 1;
    worker *ws = calloc(n, sizeof *ws);
    pthread_barrier_t barrier;
    if (!ws) {
        res->status = BENCH_RES_FAILED;
        snprintf(res->msg, sizeof res->msg, "out of memory");
        return;
    }
    pthread_barrier_init(&barrier, NULL, n);
    unsigned started = 0;
    for (unsigned i = 0; i < n; i++) {
        ws[i].t.cell = cell;
        ws[i].t.idx = i;
        ws[i].barrier = &barrier;
        hist_init(&ws[i].hist);
    }
    for (unsigned i = 0; i < n; i++) {
        int e = pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
        if (e != 0) {
            /* The barrier counts n threads: without all of them nobody
             * would pass it, so a failed start is fatal for the cell. */
            fprintf(stderr, "cairn-bench: pthread_create: %s\n", strerror(e));
            abort();
        }
        started++;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    pthread_barrier_destroy(&barrier);

    bench_hist *all = malloc(sizeof *all);
    if (!all) {
        res->status = BENCH_RES_FAILED;
        snprintf(res->msg, sizeof res->msg, "out of memory");
        free(ws);
        return;
    }
    hist_init(all);
    uint64_t start = UINT64_MAX, end = 0;
    for (unsigned i = 0; i < n; i++) {
        worker *w = &ws[i];
        if (w->rc != BENCH_OK && res->status == BENCH_RES_OK) {
            res->status = w->rc == BENCH_UNSUPPORTED ? BENCH_RES_UNSUPPORTED : BENCH_RES_FAILED;
            snprintf(res->msg, sizeof res->msg, "%s", w->t.err[0] ? w->t.err : "failed");
        }
        hist_merge(all, &w->hist);
        res->ops += w->ops * (cell->wl->items ? cell->wl->items : 1);
        res->conflicts += w->t.conflicts;
        res->misses += w->t.misses;
        if (w->start_ns && w->start_ns < start)
            start = w->start_ns;
        if (w->end_ns > end)
            end = w->end_ns;
    }
    res->rss_bytes = bench_peak_rss();
    if (res->status == BENCH_RES_OK) {
        res->seconds = end > start ? (double)(end - start) / 1e9 : 0.0;
        res->ops_per_sec = res->seconds > 0 ? (double)res->ops / res->seconds : 0.0;
        res->p50_us = hist_quantile(all, 0.50) / 1e3;
        res->p99_us = hist_quantile(all, 0.99) / 1e3;
        res->p999_us = hist_quantile(all, 0.999) / 1e3;
    }
    free(all);
    free(ws);
}

void bench_run_cell(bench_cell *cell, bench_result *res)
{
    fill_identity(cell, res);
    atomic_store(&cell->stop, false);
    if (cell->wl->run) {
        bench_rc rc = cell->wl->run(cell, res);
        if (rc == BENCH_UNSUPPORTED)
            res->status = BENCH_RES_UNSUPPORTED;
        else if (rc != BENCH_OK)
            res->status = BENCH_RES_FAILED;
        if (!res->rss_bytes)
            res->rss_bytes = bench_peak_rss();
        return;
    }
    bool opened_here = false;
    if (!cell->db) {
        if (bench_open_engine(cell, res) != BENCH_OK)
            return;
        opened_here = true;
    }
    if ((cell->wl->flags & WL_PRELOAD) && cell->loaded < cell->cfg->keys) {
        if (bench_preload(cell, res, NULL) != BENCH_OK)
            goto out;
    }
    atomic_store(&cell->next_insert, cell->loaded);
    atomic_store(&cell->acked, cell->loaded);
    for (size_t i = 0; i < BENCH_ACK_RING; i++)
        atomic_store_explicit(&cell->ack_ring[i], 0, memory_order_relaxed);
    run_threads(cell, res);
out:
    if (opened_here) {
        cell->eng->close(cell->db);
        cell->db = NULL;
    }
}
