/*
 * wal/segment.h - WAL segment files: names, the 64-byte header, creation.
 *
 * A segment is DIR/wal/NNNNNN.wal (the segment number in decimal, at least
 * six digits).  Layout (little-endian; docs/FORMAT.md has every byte):
 *
 *   [0, 64)        header: magic "CAIRNWAL", format version, header size,
 *                  segment number, database id, prev_version, checksum
 *   [64, size)     records, back to back, then zero bytes to the end
 *
 * Segments are created under a temporary name (NNNNNN.wal.tmp),
 * preallocated with posix_fallocate, given their header, fdatasynced,
 * renamed into place and the directory fsynced: a segment either exists
 * with a valid header or not at all.
 */
#ifndef CAIRN_WAL_SEGMENT_H
#define CAIRN_WAL_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"
#include "wal/file.h"

#define WAL_SEGMENT_MAGIC "CAIRNWAL"
#define WAL_FORMAT_VERSION 1u
#define WAL_SEGMENT_HEADER_SIZE 64u
#define WAL_DB_ID_SIZE 16u
/* Default and smallest nominal segment sizes. */
#define WAL_SEGMENT_DEFAULT_SIZE (64ull * 1024 * 1024)
#define WAL_SEGMENT_MIN_SIZE 4096ull
/* Room for a segment file name ("NNNNNN.wal.tmp" with up to 20 digits). */
#define WAL_SEGMENT_NAME_MAX 32

/* The decoded fields of a segment header. */
typedef struct wal_segment_header {
    uint64_t segment_no;
    uint8_t db_id[WAL_DB_ID_SIZE];
    /* Every record in the segment has a commit version above this: the
     * newest version appended before the segment was created. */
    uint64_t prev_version;
} wal_segment_header;

/* Encodes `h` into the 64 bytes at `out` (magic, version and checksum
 * included). */
void wal_segment_header_encode(uint8_t *out, const wal_segment_header *h);

/*
 * Decodes and checks the 64 bytes at `in`: magic, format version, header
 * size and checksum.  CAIRN_CORRUPT (with the reason in `err`, which names
 * no file: the caller adds it) when any of them is wrong.
 */
cairn_status wal_segment_header_decode(const uint8_t *in, wal_segment_header *h, wal_err *err);

/* Writes "NNNNNN.wal" for segment `no` into `out` (WAL_SEGMENT_NAME_MAX). */
void wal_segment_name(char *out, uint64_t no);

/* True when `name` is a segment name; its number goes to `*nop`. */
bool wal_segment_parse_name(const char *name, uint64_t *nop);

/*
 * Lists the segment numbers in directory `waldir`, ascending, into a
 * malloc'ed array in `*nosp` (caller frees; NULL when empty) and its
 * length in `*countp`.  A missing directory lists nothing.  Other names
 * are ignored.
 */
cairn_status wal_segment_list(wal_fs *fs, const char *waldir, uint64_t **nosp, size_t *countp,
                              wal_err *err);

/*
 * Creates segment `h->segment_no` in `waldir` with `size` bytes
 * preallocated (header included) as described above, and stores an open
 * read-write handle the caller owns in `*fp`.  CAIRN_EXISTS when the
 * segment already exists.
 */
cairn_status wal_segment_create(wal_fs *fs, const char *waldir, const wal_segment_header *h,
                                uint64_t size, wal_file **fp, wal_err *err);

/*
 * Opens existing segment `no` in `waldir` (read-write when `writable`),
 * reads and checks its header, and checks the segment number it names.
 * When `db_id` is not NULL the header's database id must match.  Stores
 * the handle in `*fp`, the header in `*hp` and the file size in `*sizep`.
 * CAIRN_CORRUPT (naming the file) for a bad header.
 */
cairn_status wal_segment_open(wal_fs *fs, const char *waldir, uint64_t no, bool writable,
                              const uint8_t *db_id, wal_file **fp, wal_segment_header *hp,
                              uint64_t *sizep, wal_err *err);

#endif /* CAIRN_WAL_SEGMENT_H */
