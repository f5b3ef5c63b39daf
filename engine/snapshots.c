/* snapshots.c - snapshot slots and deferred frees (see snapshots.h). */
#include "engine/snapshots.h"

#include <stdlib.h>
#include <string.h>

int snapreg_init(snapreg *r, uint32_t cap)
{
    r->slots = malloc(sizeof(r->slots[0]) * cap);
    if (r->slots == NULL)
        return -1;
    for (uint32_t i = 0; i < cap; i++)
        atomic_init(&r->slots[i], SNAP_FREE);
    r->cap = cap;
    atomic_init(&r->used, 0);
    return 0;
}

void snapreg_destroy(snapreg *r)
{
    free(r->slots);
    r->slots = NULL;
}

uint64_t snapreg_enter(snapreg *r, uint32_t slot, const _Atomic uint64_t *visible)
{
    uint64_t s = atomic_load_explicit(visible, memory_order_acquire);
    for (;;) {
        atomic_store_explicit(&r->slots[slot], s, memory_order_seq_cst);
        uint64_t again = atomic_load_explicit(visible, memory_order_seq_cst);
        if (again == s)
            return s;
        s = again;
    }
}

void snapreg_leave(snapreg *r, uint32_t slot)
{
    atomic_store_explicit(&r->slots[slot], SNAP_FREE, memory_order_release);
}

uint64_t snapreg_oldest(const snapreg *r)
{
    uint64_t m = SNAP_FREE;
    uint32_t used = atomic_load_explicit(&((snapreg *)r)->used, memory_order_acquire);
    atomic_thread_fence(memory_order_seq_cst);
    for (uint32_t i = 0; i < used; i++) {
        uint64_t s = atomic_load_explicit(&r->slots[i], memory_order_seq_cst);
        if (s < m)
            m = s;
    }
    return m;
}

uint64_t snapreg_min(const snapreg *r, uint64_t visible)
{
    uint64_t m = snapreg_oldest(r);
    return m < visible ? m : visible;
}

int retire_reserve(retirelist *l, size_t extra)
{
    if (l->cap - l->n >= extra)
        return 0;
    size_t cap = l->cap ? l->cap * 2 : 64;
    while (cap - l->n < extra)
        cap *= 2;
    retired *items = realloc(l->items, cap * sizeof *items);
    if (items == NULL)
        return -1;
    l->items = items;
    l->cap = cap;
    return 0;
}

void retire_add(retirelist *l, void *ptr, void (*free_fn)(void *), uint64_t stamp)
{
    l->items[l->n++] = (retired){ptr, free_fn, stamp};
}

void retire_collect(retirelist *l, const snapreg *r)
{
    if (l->n == 0)
        return;
    uint64_t oldest = snapreg_oldest(r);
    size_t done = 0;
    while (done < l->n && (oldest == SNAP_FREE || l->items[done].stamp < oldest)) {
        l->items[done].free_fn(l->items[done].ptr);
        done++;
    }
    if (done) {
        memmove(l->items, l->items + done, (l->n - done) * sizeof *l->items);
        l->n -= done;
    }
}

void retire_destroy(retirelist *l)
{
    for (size_t i = 0; i < l->n; i++)
        l->items[i].free_fn(l->items[i].ptr);
    free(l->items);
    memset(l, 0, sizeof *l);
}
