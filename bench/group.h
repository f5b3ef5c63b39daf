/*
 * group.h - running cells in their own processes.
 *
 * The cells of one (engine, durability) pair form a group.  The main
 * process forks one group process per group; the group process forks one
 * process per cell, so every cell starts from the same clean state, its
 * peak RSS is its own, and a crash or hang (killed after a timeout) costs
 * one cell.  Results travel back through pipes.
 *
 * Data sets: for an engine whose data survives a reopen, the group process
 * has a child load cfg->keys keys into DIR/<engine>-<durability>/data once,
 * and every read cell reopens that directory (loading may skip syncs,
 * see bench_open_args.loading).  For an in-memory engine the
 * group process loads the keys itself and forks the read cells from there
 * when it is still single-threaded (a fork copies the loaded database);
 * otherwise each cell loads its own.  Loading is never measured.
 */
#ifndef BENCH_GROUP_H
#define BENCH_GROUP_H

#include <stddef.h>

#include "workload.h"

typedef struct bench_plan_cell {
    const bench_workload *wl;
    unsigned threads;
} bench_plan_cell;

typedef struct bench_group {
    const bench_engine *eng;
    bench_durability durability;
    const bench_plan_cell *cells;
    size_t ncells;
} bench_group;

/* Called in the main process for each finished cell. */
typedef void (*bench_result_fn)(const bench_result *res, void *ctx);

/* Called in the main process for a progress note (data set loaded ...). */
typedef void (*bench_note_fn)(const char *note, void *ctx);

/* Runs the group under `basedir`; every cell produces exactly one result
 * (a synthesized failure when its process died).  0, or -1 when the group
 * process could not be started (then every cell was reported failed). */
int bench_run_group(const bench_config *cfg, const char *basedir, const bench_group *g,
                    bench_result_fn on_result, bench_note_fn on_note, void *ctx);

#endif /* BENCH_GROUP_H */
