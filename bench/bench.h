/*
 * bench.h - types shared by every part of cairn-bench.
 *
 * cairn-bench runs the same operations against cairn and its peers (RocksDB,
 * SQLite, LMDB, and a raw fdatasync probe) on the same machine and
 * filesystem, one forked process per measured cell, and reports throughput,
 * latency percentiles and peak RSS side by side.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What an engine operation or a workload step answers. */
typedef enum bench_rc {
    BENCH_OK = 0,
    BENCH_NOT_FOUND = 1,   /* a get of an absent key (not an error) */
    BENCH_CONFLICT = 2,    /* the commit was refused; the caller retries */
    BENCH_UNSUPPORTED = 3, /* this engine cannot serve the request in this build */
    BENCH_ERROR = 4,       /* anything else; the engine's errmsg says what */
} bench_rc;

/* The durability axis.  Each engine maps it to its own settings (see
 * docs/BENCHMARKS.md for the exact mapping). */
typedef enum bench_durability {
    BENCH_DUR_NONE = 0,
    BENCH_DUR_ASYNC = 1,
    BENCH_DUR_SYNC = 2,
    BENCH_DUR_COUNT = 3,
} bench_durability;

/* "none", "async", "sync". */
const char *bench_durability_name(bench_durability d);

/* A borrowed run of bytes. */
typedef struct bench_bytes {
    const uint8_t *data;
    size_t len;
} bench_bytes;

static inline bench_bytes bench_bytes_of(const void *p, size_t len)
{
    bench_bytes b = {(const uint8_t *)p, len};
    return b;
}

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

/* Largest key and value sizes the harness accepts. */
#define BENCH_KEY_MIN 8
#define BENCH_KEY_MAX 512
#define BENCH_VALUE_MAX (1u << 20)

#endif /* BENCH_H */
