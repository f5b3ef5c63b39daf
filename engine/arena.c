/* arena.c - chunked bump allocator (see arena.h). */
#include "engine/arena.h"

#include <stdint.h>
#include <stdlib.h>

#define ARENA_CHUNK_MIN (16u * 1024u)

struct arena_chunk {
    arena_chunk *next;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

void arena_init(arena *a)
{
    a->head = NULL;
    a->used = 0;
    a->cap = 0;
}

void *arena_alloc(arena *a, size_t size)
{
    size = (size + 15u) & ~(size_t)15u;
    if (a->head == NULL || a->cap - a->used < size) {
        size_t cap = size > ARENA_CHUNK_MIN ? size : ARENA_CHUNK_MIN;
        if (a->head && a->head->cap * 2 > cap && a->head->cap < (1u << 24))
            cap = a->head->cap * 2;
        if (cap > SIZE_MAX - sizeof(arena_chunk))
            return NULL;
        arena_chunk *c = malloc(sizeof(arena_chunk) + cap);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->cap = cap;
        a->head = c;
        a->used = 0;
        a->cap = cap;
    }
    void *p = a->head->data + a->used;
    a->used += size;
    return p;
}

void arena_reset(arena *a)
{
    if (a->head == NULL)
        return;
    arena_chunk *keep = a->head;
    arena_chunk *c = keep->next;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    keep->next = NULL;
    a->used = 0;
    a->cap = keep->cap;
}

void arena_destroy(arena *a)
{
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    arena_init(a);
}
