/*
 * eng_cairn.h - what workloads may reach of the cairn adapter beyond the
 * common vocabulary: the native handles, for primitive workloads that call
 * a primitive's `_tx` functions inside the transaction the adapter began.
 */
#ifndef BENCH_ENG_CAIRN_H
#define BENCH_ENG_CAIRN_H

#include <cairn/cairn.h>

#include "engine.h"

/* The database behind a cairn thread context (borrowed). */
cairn_db *eng_cairn_db(bench_thr *t);

/* The transaction begin() started on `t`, or NULL (borrowed). */
cairn_txn *eng_cairn_txn(bench_thr *t);

/* The run every benchmark key lives under. */
const cairn_run_id *eng_cairn_run(void);

#endif /* BENCH_ENG_CAIRN_H */
