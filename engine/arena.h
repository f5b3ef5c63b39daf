/* arena.h - a chunked bump allocator for per-transaction memory.
 *
 * A transaction copies the keys it reads and writes into its arena; commit
 * or abort resets the arena in O(chunks) and keeps the first chunk, so a
 * transaction handle that is reused allocates nothing in the steady state. */
#ifndef CAIRN_ENGINE_ARENA_H
#define CAIRN_ENGINE_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk;

typedef struct arena {
    arena_chunk *head;  /* chunk being filled; older chunks follow it */
    size_t used;        /* bytes used in head */
    size_t cap;         /* bytes usable in head */
} arena;

/* An empty arena; allocates nothing until the first arena_alloc(). */
void arena_init(arena *a);

/* `size` bytes aligned to 16, valid until arena_reset()/arena_destroy().
 * NULL when memory runs out. */
void *arena_alloc(arena *a, size_t size);

/* Forgets every allocation; keeps the newest chunk for reuse. */
void arena_reset(arena *a);

/* Frees every chunk. */
void arena_destroy(arena *a);

#endif
