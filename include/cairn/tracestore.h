/*
 * cairn/tracestore.h - TraceStore: a run's structured reasoning traces.
 *
 * A trace is one step of an agent: a tool call, a decision, a query, a
 * thought, an error or a custom step, with a name, a start time, an end
 * time and status once finished, up to CAIRN_TRACE_TAGS_MAX tags and a
 * payload the caller encodes (JSON inputs and outputs, say).  Traces form
 * trees through their optional parent, which must be a trace of the same
 * run.  Each trace is written together with its index entries (by time,
 * type, tag and parent) in one transaction, so every query below reads an
 * index range and costs what it returns, however many other traces the run
 * holds.
 *
 * Ids are 1..CAIRN_TRACE_ID_MAX bytes.  An id cairn chooses is 16 bytes in
 * the layout of a generated run id (cairn_run_id_generate(): 48-bit Unix
 * milliseconds, a counter, random bits), so it is time-ordered, strictly
 * increasing within a database and unique.  A caller may choose its own id
 * instead; reusing one in the same run is CAIRN_EXISTS.
 *
 * Ordering: every query lists traces by start time, ties broken by id
 * (shorter ids first, then bytewise), and takes a limit and a resume
 * cursor.  Times are microseconds since the Unix epoch, never negative.
 *
 * As elsewhere, cairn_trace_NAME(db, ...) runs its own transaction and
 * returns owned results; cairn_trace_NAME_tx(txn, ...) works inside the
 * caller's transaction (so a trace commits with the state it explains) and
 * returns slices borrowed until the transaction finishes.  Lists and trees
 * are owned by the caller in both forms.  Errors: cairn_db_errmsg() or
 * cairn_txn_errmsg().
 */
#ifndef CAIRN_TRACESTORE_H
#define CAIRN_TRACESTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "txn.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest trace id, in bytes (ids are never empty). */
#define CAIRN_TRACE_ID_MAX 64u
/* Size of an id cairn generates. */
#define CAIRN_TRACE_AUTO_ID_SIZE 16u
/* Longest name (a tool or custom step name; may be empty). */
#define CAIRN_TRACE_NAME_MAX 255u
/* Most tags on one trace, and the longest tag (tags are never empty). */
#define CAIRN_TRACE_TAGS_MAX 64u
#define CAIRN_TRACE_TAG_MAX 255u
/* Most traces one query returns (its limit is 1..this). */
#define CAIRN_TRACE_LIMIT_MAX 10000u

typedef enum cairn_trace_type {
    CAIRN_TRACE_TOOL_CALL = 1,
    CAIRN_TRACE_DECISION = 2,
    CAIRN_TRACE_QUERY = 3,
    CAIRN_TRACE_THOUGHT = 4,
    CAIRN_TRACE_ERROR = 5,
    CAIRN_TRACE_CUSTOM = 6,
} cairn_trace_type;

typedef enum cairn_trace_status {
    CAIRN_TRACE_UNFINISHED = 0, /* recorded, not finished yet */
    CAIRN_TRACE_OK = 1,
    CAIRN_TRACE_FAILED = 2,     /* finished with an error */
} cairn_trace_status;

/* A trace id as a value (no memory of its own). */
typedef struct cairn_trace_id {
    uint8_t len;
    uint8_t bytes[CAIRN_TRACE_ID_MAX];
} cairn_trace_id;

/* A borrowed view of an id. */
static inline cairn_slice cairn_trace_id_slice(const cairn_trace_id *id)
{
    return cairn_slice_of(id->bytes, id->len);
}

/* What to record.  Start from cairn_trace_spec_init(). */
typedef struct cairn_trace_spec {
    cairn_trace_type type;   /* default CAIRN_TRACE_CUSTOM */
    cairn_slice name;        /* 0..CAIRN_TRACE_NAME_MAX bytes; default empty */
    int64_t start_us;        /* >= 0; default 0: the transaction's time on the db clock */
    const cairn_slice *tags; /* ntags distinct tags of 1..CAIRN_TRACE_TAG_MAX bytes */
    size_t ntags;            /* 0..CAIRN_TRACE_TAGS_MAX; default 0 */
    cairn_slice payload;     /* default empty; the stored trace must fit max_value_size */
} cairn_trace_spec;

/* Sets every field of `*spec` to its default. */
void cairn_trace_spec_init(cairn_trace_spec *spec);

/*
 * A trace.  From a `_tx` call every slice is borrowed until the transaction
 * finishes; in an owned cairn_trace or list they point into its memory.
 * The struct holds its tag slices inline, so it may be copied freely.
 */
typedef struct cairn_trace_view {
    cairn_slice id;
    cairn_slice parent_id;       /* empty for a root */
    cairn_trace_type type;
    cairn_trace_status status;
    cairn_slice name;
    int64_t start_us;
    int64_t end_us;              /* 0 while unfinished */
    size_t ntags;
    cairn_slice tags[CAIRN_TRACE_TAGS_MAX];
    cairn_slice payload;
} cairn_trace_view;

/* A trace read by an implicit call: free it with cairn_trace_free(). */
typedef struct cairn_trace {
    cairn_trace_view v;
    void *mem;                   /* internal: the bytes v points into */
} cairn_trace;

/* Frees a trace and empties it (NULL-safe, idempotent). */
void cairn_trace_free(cairn_trace *tr);

/* ---- recording ------------------------------------------------------------- */

/* Records a root trace under a fresh id, which goes to `*idp` (may be NULL). */
cairn_status cairn_trace_record(cairn_db *db, const cairn_run_id *run, const cairn_trace_spec *spec,
                                cairn_trace_id *idp);
cairn_status cairn_trace_record_tx(cairn_txn *txn, const cairn_run_id *run,
                                   const cairn_trace_spec *spec, cairn_trace_id *idp);

/*
 * Records a child of `parent_id` under a fresh id.  CAIRN_NOT_FOUND when
 * the run has no trace `parent_id` (nothing is recorded).
 */
cairn_status cairn_trace_record_child(cairn_db *db, const cairn_run_id *run, cairn_slice parent_id,
                                      const cairn_trace_spec *spec, cairn_trace_id *idp);
cairn_status cairn_trace_record_child_tx(cairn_txn *txn, const cairn_run_id *run,
                                         cairn_slice parent_id, const cairn_trace_spec *spec,
                                         cairn_trace_id *idp);

/*
 * Records a trace under the caller's `id`, as a child of `parent_id`
 * (empty: a root).  CAIRN_EXISTS when the run already has a trace `id`;
 * CAIRN_NOT_FOUND when the parent is missing.
 */
cairn_status cairn_trace_record_id(cairn_db *db, const cairn_run_id *run, cairn_slice id,
                                   cairn_slice parent_id, const cairn_trace_spec *spec);
cairn_status cairn_trace_record_id_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice id,
                                      cairn_slice parent_id, const cairn_trace_spec *spec);

/*
 * Finishes trace `id`: sets its status (CAIRN_TRACE_OK or
 * CAIRN_TRACE_FAILED) and end time (`end_us` 0: the transaction's time;
 * never before the start).  A trace is finished once: finishing it again
 * is CAIRN_INVALID_TRANSITION and changes nothing.  CAIRN_NOT_FOUND when
 * the run has no trace `id`.
 */
cairn_status cairn_trace_finish(cairn_db *db, const cairn_run_id *run, cairn_slice id,
                                cairn_trace_status status, int64_t end_us);
cairn_status cairn_trace_finish_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice id,
                                   cairn_trace_status status, int64_t end_us);

/* ---- reading ---------------------------------------------------------------- */

/* Trace `id` of `run`; CAIRN_NOT_FOUND when absent. */
cairn_status cairn_trace_get(cairn_db *db, const cairn_run_id *run, cairn_slice id, cairn_trace *trp);
cairn_status cairn_trace_get_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice id,
                                cairn_trace_view *trp);

/* ---- queries ------------------------------------------------------------------ */

/*
 * Where a query resumes: after the trace (start_us, id).  A zeroed cursor
 * (or a NULL pointer) starts from the beginning.
 */
typedef struct cairn_trace_cursor {
    bool set;
    int64_t start_us;
    cairn_trace_id id;
} cairn_trace_cursor;

/*
 * A page of traces, owned by the caller: free it with cairn_trace_list_free()
 * (every slice points into it).  When `more` is true, pass `&next` as the
 * cursor of the same query to get the next page.
 */
typedef struct cairn_trace_list {
    cairn_trace_view *items;
    size_t n;
    bool more;
    cairn_trace_cursor next;     /* after the last item (unset when n == 0) */
    void *mem;                   /* internal */
} cairn_trace_list;

/* Frees a list and empties it (NULL-safe, idempotent). */
void cairn_trace_list_free(cairn_trace_list *listp);

/*
 * The queries.  Each lists the matching traces of `run` in time order,
 * after `after` (NULL: from the start), at most `limit`
 * (1..CAIRN_TRACE_LIMIT_MAX).
 */

/* Traces of one type. */
cairn_status cairn_trace_by_type(cairn_db *db, const cairn_run_id *run, cairn_trace_type type,
                                 const cairn_trace_cursor *after, size_t limit,
                                 cairn_trace_list *listp);
cairn_status cairn_trace_by_type_tx(cairn_txn *txn, const cairn_run_id *run, cairn_trace_type type,
                                    const cairn_trace_cursor *after, size_t limit,
                                    cairn_trace_list *listp);

/* Traces carrying `tag`. */
cairn_status cairn_trace_by_tag(cairn_db *db, const cairn_run_id *run, cairn_slice tag,
                                const cairn_trace_cursor *after, size_t limit,
                                cairn_trace_list *listp);
cairn_status cairn_trace_by_tag_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice tag,
                                   const cairn_trace_cursor *after, size_t limit,
                                   cairn_trace_list *listp);

/* Traces that started in [from_us, to_us). */
cairn_status cairn_trace_by_time(cairn_db *db, const cairn_run_id *run, int64_t from_us,
                                 int64_t to_us, const cairn_trace_cursor *after, size_t limit,
                                 cairn_trace_list *listp);
cairn_status cairn_trace_by_time_tx(cairn_txn *txn, const cairn_run_id *run, int64_t from_us,
                                    int64_t to_us, const cairn_trace_cursor *after, size_t limit,
                                    cairn_trace_list *listp);

/* The children of `parent_id`; CAIRN_NOT_FOUND when there is no such trace. */
cairn_status cairn_trace_children(cairn_db *db, const cairn_run_id *run, cairn_slice parent_id,
                                  const cairn_trace_cursor *after, size_t limit,
                                  cairn_trace_list *listp);
cairn_status cairn_trace_children_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice parent_id,
                                     const cairn_trace_cursor *after, size_t limit,
                                     cairn_trace_list *listp);

/* The traces without a parent. */
cairn_status cairn_trace_roots(cairn_db *db, const cairn_run_id *run,
                               const cairn_trace_cursor *after, size_t limit,
                               cairn_trace_list *listp);
cairn_status cairn_trace_roots_tx(cairn_txn *txn, const cairn_run_id *run,
                                  const cairn_trace_cursor *after, size_t limit,
                                  cairn_trace_list *listp);

/* ---- trees ---------------------------------------------------------------------- */

/*
 * A trace and its descendants, owned by the caller: free it with
 * cairn_trace_tree_free().  nodes[0] is the root; the rest follow level by
 * level (breadth first), siblings in time order.  parent[i] is the index
 * of node i's parent (SIZE_MAX for the root), depth[i] its distance from
 * the root.
 */
typedef struct cairn_trace_tree {
    cairn_trace_view *nodes;
    size_t *parent;
    uint32_t *depth;
    size_t n;
    void *mem;                   /* internal */
} cairn_trace_tree;

/* Frees a tree and empties it (NULL-safe, idempotent). */
void cairn_trace_tree_free(cairn_trace_tree *treep);

/*
 * Reads the tree under `root_id`, without recursion.  CAIRN_LIMIT (and no
 * tree) when a node lies deeper than `max_depth` (the root is at depth 0)
 * or the tree has more than `max_nodes` nodes (>= 1); the message says
 * which.  CAIRN_NOT_FOUND when there is no trace `root_id`.
 */
cairn_status cairn_trace_get_tree(cairn_db *db, const cairn_run_id *run, cairn_slice root_id,
                                  uint32_t max_depth, size_t max_nodes, cairn_trace_tree *treep);
cairn_status cairn_trace_get_tree_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice root_id,
                                     uint32_t max_depth, size_t max_nodes, cairn_trace_tree *treep);

/* ---- consistency ------------------------------------------------------------------ */

typedef struct cairn_trace_report {
    bool ok;
    uint64_t traces;             /* traces checked */
    uint64_t entries;            /* index entries checked */
    cairn_trace_id bad_id;       /* the trace the first problem concerns (len 0: none) */
    char why[256];               /* a sentence about the first problem ("" when ok) */
} cairn_trace_report;

/*
 * Checks the TraceStore of `run`: every stored trace decodes, its parent
 * exists, it has exactly its index entries (time, type, parent or root,
 * one per tag), and every index entry points at a trace that matches it.
 * CAIRN_OK means the check ran; the outcome is in `*reportp` (ok, or the
 * first problem).
 */
cairn_status cairn_trace_check(cairn_db *db, const cairn_run_id *run, cairn_trace_report *reportp);
cairn_status cairn_trace_check_tx(cairn_txn *txn, const cairn_run_id *run,
                                  cairn_trace_report *reportp);

/* The name of a type ("tool_call", ...) or status ("ok", ...); static. */
const char *cairn_trace_type_name(cairn_trace_type type);
const char *cairn_trace_status_name(cairn_trace_status status);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_TRACESTORE_H */
