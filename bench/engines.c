/* engines.c - the engines compiled into this cairn-bench. */
#include <string.h>

#include "engine.h"

const bench_engine *const bench_engines[] = {
    &bench_engine_cairn,
#ifdef CAIRN_BENCH_HAVE_ROCKSDB
    &bench_engine_rocksdb,
#endif
#ifdef CAIRN_BENCH_HAVE_SQLITE
    &bench_engine_sqlite,
#endif
#ifdef CAIRN_BENCH_HAVE_LMDB
    &bench_engine_lmdb,
#endif
    &bench_engine_fdatasync,
    NULL,
};

const char *const bench_engines_missing[] = {
#ifndef CAIRN_BENCH_HAVE_ROCKSDB
    "rocksdb",
#endif
#ifndef CAIRN_BENCH_HAVE_SQLITE
    "sqlite",
#endif
#ifndef CAIRN_BENCH_HAVE_LMDB
    "lmdb",
#endif
    NULL,
};

const bench_engine *bench_engine_find(const char *name)
{
    for (size_t i = 0; bench_engines[i]; i++)
        if (strcmp(bench_engines[i]->name, name) == 0)
            return bench_engines[i];
    return NULL;
}
