/*
 * workloads.c - every workload cairn-bench knows, in run order.
 *
 * The order follows YCSB's recommendation (load, A, B, C, F, D, E) because
 * reopened data sets are shared by the cells of one engine and durability:
 * D and E insert keys, so they come last.
 */
#include <string.h>

#include "workload.h"

extern const bench_workload bench_wl_put;
extern const bench_workload bench_wl_get;
extern const bench_workload bench_wl_multiget;
extern const bench_workload bench_wl_scan;
extern const bench_workload bench_wl_ycsb_a;
extern const bench_workload bench_wl_ycsb_b;
extern const bench_workload bench_wl_ycsb_c;
extern const bench_workload bench_wl_ycsb_d;
extern const bench_workload bench_wl_ycsb_e;
extern const bench_workload bench_wl_ycsb_f;
extern const bench_workload bench_wl_recovery;
extern const bench_workload bench_wl_checkpoint;
extern const bench_workload bench_wl_kv;
extern const bench_workload bench_wl_cell_cas;
extern const bench_workload bench_wl_cell_cas_shared;
extern const bench_workload bench_wl_trace_record;
extern const bench_workload bench_wl_trace_query;
extern const bench_workload bench_wl_trace_query_x10;
extern const bench_workload bench_wl_event_append;
extern const bench_workload bench_wl_event_append_runs;
extern const bench_workload bench_wl_event_read_range;
extern const bench_workload bench_wl_event_read_type;
extern const bench_workload bench_wl_event_verify;
extern const bench_workload bench_wl_run_lifecycle;
extern const bench_workload bench_wl_cross;

/* Workloads for the cairn primitives (kv, event-append, event-read,
 * cell-cas, trace-record, trace-query, run-lifecycle, cross) join this list
 * as the primitives land, one wl_<name>.c each. */
const bench_workload *const bench_workloads[] = {
    &bench_wl_put,
    &bench_wl_get,
    &bench_wl_multiget,
    &bench_wl_scan,
    &bench_wl_ycsb_a,
    &bench_wl_ycsb_b,
    &bench_wl_ycsb_c,
    &bench_wl_ycsb_f,
    &bench_wl_ycsb_d,
    &bench_wl_ycsb_e,
    &bench_wl_recovery,
    &bench_wl_checkpoint,
    &bench_wl_kv,
    &bench_wl_cell_cas,
    &bench_wl_cell_cas_shared,
    &bench_wl_event_append,
    &bench_wl_event_append_runs,
    &bench_wl_event_read_range,
    &bench_wl_event_read_type,
    &bench_wl_event_verify,
    &bench_wl_trace_record,
    &bench_wl_trace_query,
    &bench_wl_trace_query_x10,
    &bench_wl_run_lifecycle,
    &bench_wl_cross,
    NULL,
};

const bench_workload *bench_workload_find(const char *name)
{
    for (size_t i = 0; bench_workloads[i]; i++)
        if (strcmp(bench_workloads[i]->name, name) == 0)
            return bench_workloads[i];
    return NULL;
}
