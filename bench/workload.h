/*
 * workload.h - workloads, cells and results.
 *
 * A cell is one measurement: (workload, engine, durability, threads).  The
 * runner executes each cell in a forked process: it opens the engine, makes
 * sure the data set the workload needs is there, starts the threads, lets
 * them warm up, then calls the workload's op() in a loop on every thread
 * until the time budget runs out, timing each call into a histogram.
 *
 * Adding a workload (for instance one per cairn primitive: kv,
 * event-append, event-read, cell-cas, trace-record, trace-query,
 * run-lifecycle, cross) is one new file wl_<name>.c defining a
 * bench_workload, plus its line in workloads.c and bench/meson.build.  Its
 * op() uses the engine vocabulary (engine.h) so the peers run the same
 * mapped operations; the cairn side of a primitive workload may reach the
 * primitive's `_tx` functions through eng_cairn_txn() (eng_cairn.h), and
 * supports() / the engines' supports() decide which engines take part.
 */
#ifndef BENCH_WORKLOAD_H
#define BENCH_WORKLOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "engine.h"
#include "hist.h"
#include "keys.h"

/* Everything a run is configured with; fixed before the first fork. */
typedef struct bench_config {
    bench_keyspace ks;
    uint64_t keys;             /* preloaded keys for read workloads */
    double seconds;            /* measured time per cell */
    double warmup;             /* unmeasured time per cell before it */
    uint64_t max_ops;          /* per-cell cap on measured operations (0 = none) */
    unsigned read_batch;       /* point reads per read-only transaction (get) */
    unsigned scan_len;         /* pairs per scan (scan) */
    unsigned load_batch;       /* puts per transaction while preloading */
    uint64_t recovery_txns;    /* transactions before the recovery reopen */
    double recovery_seconds;   /* cap on the time spent writing them */
    bench_zipf zipf;           /* over `keys` items */
    bool quick;
    bool verbose;
} bench_config;

/* Inserts that may be in flight at once, at most (>= threads). */
#define BENCH_ACK_RING 4096

/* The shared state of one running cell. */
typedef struct bench_cell {
    const bench_config *cfg;
    const bench_engine *eng;
    const struct bench_workload *wl;
    bench_db *db;
    bench_durability durability;
    unsigned threads;
    const char *dir;           /* the engine's directory for this cell */
    bool loading;              /* opening to load a data set (see engine.h) */
    uint64_t loaded;           /* keys [0, loaded) exist when the cell starts */
    _Atomic uint64_t next_insert; /* next new key index for inserting workloads */
    /* Inserts [0, acked) have all committed (YCSB's acknowledged counter):
     * read-latest picks from below it, so it never asks for a key whose
     * insert is still in flight.  ack_ring marks commits above it. */
    _Atomic uint64_t acked;
    _Atomic uint64_t ack_ring[BENCH_ACK_RING];
    atomic_bool stop;          /* set when a thread fails */
} bench_cell;

/* Per-thread state handed to op(). */
typedef struct bench_thread {
    bench_cell *cell;
    const bench_engine *eng;
    bench_thr *et;             /* the engine's thread context */
    unsigned idx;
    bench_rng rng;
    uint64_t seq;              /* op() calls so far on this thread */
    uint64_t conflicts;        /* commits retried */
    uint64_t misses;           /* gets of keys that were not there */
    uint64_t sink;             /* bytes read, so reads cannot be optimized away */
    unsigned batch_left;       /* reads left in the open read-only batch */
    bool batch_open;
    uint8_t *key;              /* BENCH_KEY_MAX bytes of scratch */
    uint8_t *val;              /* value_size bytes of scratch */
    char err[256];
} bench_thread;

enum {
    WL_PRELOAD = 1u << 0,      /* needs cfg->keys keys loaded before it runs */
    WL_DURABLE_ONLY = 1u << 1, /* meaningless without durability: skip `none` */
    WL_ONE_THREAD = 1u << 2,   /* only runs with one thread */
    WL_QUICK = 1u << 3,        /* part of --quick */
};

/* The outcome of a cell, passed back from its process through a pipe. */
typedef enum bench_status {
    BENCH_RES_OK = 0,
    BENCH_RES_UNSUPPORTED = 1,
    BENCH_RES_FAILED = 2,
} bench_status;

typedef struct bench_result {
    char workload[32];
    char engine[16];
    bench_durability durability;
    unsigned threads;
    bench_status status;
    uint64_t ops;
    double seconds;
    double ops_per_sec;
    double p50_us, p99_us, p999_us;
    uint64_t rss_bytes;
    uint64_t conflicts;
    uint64_t misses;
    char msg[256];
} bench_result;

typedef struct bench_workload {
    const char *name;
    const char *summary;
    unsigned flags;
    /* Reads or writes one op() makes, when more than one (0 = 1): ops/s
     * counts them, the latency columns stay per op() call. */
    unsigned items;
    /* One measured operation (usually one transaction). */
    bench_rc (*op)(bench_thread *t);
    /* Optional: called once per thread after the last op(). */
    bench_rc (*finish)(bench_thread *t);
    /* Optional: replaces the threaded op() loop entirely (recovery).  Fills
     * ops, seconds and the percentiles of `res`. */
    bench_rc (*run)(bench_cell *cell, bench_result *res);
} bench_workload;

/* Every workload, in run order; NULL-terminated. */
extern const bench_workload *const bench_workloads[];
const bench_workload *bench_workload_find(const char *name);

/* ---- Helpers for op() implementations (wl_common.c) ------------------ */

/* Records the engine's message for a failed call in t->err; returns rc. */
bench_rc wl_fail(bench_thread *t, bench_rc rc, const char *what);

/* One transaction that writes key `idx` (a blind write), retried on
 * conflict. */
bench_rc wl_put1(bench_thread *t, uint64_t idx);

/* One read-only transaction reading key `idx`; a miss counts in t->misses. */
bench_rc wl_read1(bench_thread *t, uint64_t idx);

/* One read-only transaction scanning `n` pairs from key `idx`. */
bench_rc wl_scan1(bench_thread *t, uint64_t idx, size_t n);

/* One transaction that reads key `idx`, changes its value and writes it
 * back, retried on conflict. */
bench_rc wl_rmw1(bench_thread *t, uint64_t idx);

/* Inserts the next new key (indices from cell->next_insert). */
bench_rc wl_insert1(bench_thread *t);

/* A zipfian-chosen existing key index. */
uint64_t wl_zipf_key(bench_thread *t);

/* Loads keys [from, to) in transactions of cfg->load_batch puts on the
 * given thread context (the runner's preload). */
bench_rc wl_load(bench_thread *t, uint64_t from, uint64_t to);

/* ---- Runner (runner.c) ------------------------------------------------ */

/* Runs `cell` in the current process (opening the engine unless cell->db is
 * already set, preloading if needed) and fills `res`. */
void bench_run_cell(bench_cell *cell, bench_result *res);

/* Peak resident set size of the calling process, in bytes. */
uint64_t bench_peak_rss(void);

/* Prepares `t` as thread `idx` of `cell`: scratch buffers, its random
 * stream, and the engine's thread context on cell->db.  On failure the
 * message is in t->err.  bench_thread_teardown() undoes it (always call it). */
bench_rc bench_thread_setup(bench_cell *cell, unsigned idx, bench_thread *t);
void bench_thread_teardown(bench_thread *t);

/* Opens cell->eng on cell->dir into cell->db; a message in res on error. */
bench_rc bench_open_engine(bench_cell *cell, bench_result *res);

/* Preloads cell->cfg->keys keys into the open cell->db on one thread.  The
 * elapsed seconds go to *secondsp. */
bench_rc bench_preload(bench_cell *cell, bench_result *res, double *secondsp);

#endif /* BENCH_WORKLOAD_H */
