/*
 * cairn/status.h - status codes returned by every fallible cairn call.
 *
 * Every function that can fail returns a cairn_status; CAIRN_OK (0) means
 * success.  Results come back through out-parameters, which a failing call
 * leaves untouched unless its documentation says otherwise.  A short name
 * for each code comes from cairn_strerror(); the exact reason for the last
 * failure (which argument, which limit, which file and offset) comes from
 * the handle it happened on: cairn_txn_errmsg() or cairn_db_errmsg().
 */
#ifndef CAIRN_STATUS_H
#define CAIRN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cairn_status {
    CAIRN_OK = 0,                 /* success */
    CAIRN_NOT_FOUND = 1,          /* the key, run or object does not exist */
    CAIRN_CONFLICT = 2,           /* serializable validation failed; retry the transaction */
    CAIRN_INVALID_ARGUMENT = 3,   /* a NULL pointer, empty key, bad tag, bad option, ... */
    CAIRN_TOO_LARGE = 4,          /* a documented size limit was exceeded (nothing was truncated) */
    CAIRN_NO_MEMORY = 5,          /* an allocation failed; nothing was changed */
    CAIRN_IO = 6,                 /* a file operation failed; see the errmsg for file and errno */
    CAIRN_CORRUPT = 7,            /* stored data failed a checksum or structural check */
    CAIRN_LOCKED = 8,             /* the database directory is held by another opener */
    CAIRN_UNSUPPORTED = 9,        /* the request is valid but this build cannot serve it */
    CAIRN_READ_ONLY = 10,         /* a write through a read-only transaction or database */
    CAIRN_TXN_FINISHED = 11,      /* the transaction was already committed or aborted */
    CAIRN_BUSY = 12,              /* a resource is in use (open transactions at close, no free slot) */
    CAIRN_DONE = 13,              /* an iterator has no more items (not an error) */
    CAIRN_EXISTS = 14,            /* the object already exists */
    CAIRN_VERSION_MISMATCH = 15,  /* a compare-and-swap saw a different version */
    CAIRN_INVALID_TRANSITION = 16,/* a run status change the transition table forbids */
    CAIRN_LIMIT = 17,             /* a caller-given depth, node or attempt limit was reached */
} cairn_status;

/* The number of distinct status codes (one past the largest). */
#define CAIRN_STATUS_COUNT 18

/*
 * A short, static, human-readable description of a status code, such as
 * "conflict" or "invalid argument".  Unknown codes give "unknown status".
 * The returned string is never NULL and must not be freed.
 */
const char *cairn_strerror(cairn_status status);

/*
 * The symbolic name of a status code, such as "CAIRN_CONFLICT".  Unknown
 * codes give "CAIRN_UNKNOWN".  Static storage; never NULL.
 */
const char *cairn_status_name(cairn_status status);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_STATUS_H */
