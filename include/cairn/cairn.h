/*
 * cairn.h - the whole public surface of libcairn.
 *
 * cairn is an embedded, transactional storage engine for AI-agent runtimes.
 * Include this header and link libcairn (pkg-config: cairn).  Everything
 * else in the source tree is internal and may change freely.
 *
 *   status.h  status codes, cairn_strerror()
 *   types.h   byte slices, run ids, key encoding
 *   db.h      options, open and close, statistics
 *   txn.h     transactions, scans, the retry helper
 */
#ifndef CAIRN_H
#define CAIRN_H

#include "status.h"
#include "types.h"
#include "db.h"
#include "txn.h"
#include "kv.h"
#include "statecell.h"
#include "eventlog.h"
#include "tracestore.h"
#include "runindex.h"

/* Library version. */
#define CAIRN_VERSION_MAJOR 0
#define CAIRN_VERSION_MINOR 1
#define CAIRN_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version as "MAJOR.MINOR.PATCH" (static storage). */
const char *cairn_version(void);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_H */
