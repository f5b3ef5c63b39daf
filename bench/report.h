/* report.h - the table, the JSON file, the plot, and the JSON check. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "workload.h"

/* Sorts results by workload (run order), durability, threads, engine. */
void bench_sort_results(bench_result *v, size_t n);

/* One progress line for a finished cell. */
void bench_report_line(FILE *out, const bench_result *r);

/* The side-by-side table, grouped by workload, durability and threads, with
 * the ratio cairn/engine on every row.  `v` must be sorted. */
void bench_report_table(FILE *out, const bench_result *v, size_t n);

/* Writes the measured cells (unsupported and failed ones are left out) as a
 * JSON array.  0, or -1 with a message in err. */
int bench_report_json(const char *path, const bench_result *v, size_t n, char *err,
                      size_t errlen);

/* Draws ops/s per engine and workload, one panel per durability and thread
 * count, with gnuplot.  0, or -1 with a message in err. */
int bench_report_plot(const char *path, const bench_result *v, size_t n, const char *title,
                      char *err, size_t errlen);

/* Parses `path` and checks it is what --json writes: a non-empty array of
 * objects, each with every field of the right type.  The number of records,
 * or -1 with a message in err. */
long bench_check_json(const char *path, char *err, size_t errlen);

#endif /* BENCH_REPORT_H */
