/*
 * wl_put.c - put: single-put transactions of new keys in random key order.
 *
 * Thread i of n writes key numbers i, i + n, i + 2n, ...; bench_key()
 * scatters consecutive numbers over the key space, so the inserts land in
 * random key order, the same order for every engine.
 */
#include "workload.h"

static bench_rc put_op(bench_thread *t)
{
    return wl_put1(t, t->idx + t->seq * t->cell->threads);
}

const bench_workload bench_wl_put = {
    .name = "put",
    .summary = "single-put transactions of new keys, random key order",
    .flags = WL_QUICK,
    .op = put_op,
};
