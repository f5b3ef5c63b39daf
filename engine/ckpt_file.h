/*
 * engine/ckpt_file.h - the checkpoint file codec.
 *
 * A checkpoint is a full snapshot of the store at one commit version,
 * written as DIR/ckpt-<version, 20 digits>.ckpt.  The engine decides when
 * to checkpoint and from which snapshot; this file writes and reads the
 * bytes (docs/FORMAT.md has every one):
 *
 *   [header 64][block]...[block][footer 64]
 *   block: [checksum u64][payload_len u32][entry_count u32][entries]
 *   entry: [key_len u16][value_len u32][expires_at_us i64][commit_version u64][key][value]
 *
 * Blocks hold about 64 KiB of entries each (an entry larger than that gets
 * a block of its own) and are checksummed separately, so damage is found
 * and located; the footer repeats the counts and carries a hash of the
 * whole file before it.  Little-endian throughout.
 *
 * Writing is crash-safe: the file is written under DIR/ckpt-<version>.tmp,
 * fsynced, renamed to its final name and the directory fsynced, so a
 * checkpoint file is either complete or absent.  Temporary files are never
 * listed as checkpoints.
 */
#ifndef CAIRN_ENGINE_CKPT_FILE_H
#define CAIRN_ENGINE_CKPT_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"
#include "wal/file.h"

#define CKPT_MAGIC "CAIRNCKP"
#define CKPT_FOOTER_MAGIC "CKPTFOOT"
#define CKPT_FORMAT_VERSION 1u
#define CKPT_HEADER_SIZE 64u
#define CKPT_FOOTER_SIZE 64u
#define CKPT_BLOCK_HEADER_SIZE 16u
#define CKPT_ENTRY_HEADER_SIZE 22u
/* Target payload size of a block. */
#define CKPT_BLOCK_TARGET (64u * 1024u)
#define CKPT_DB_ID_SIZE 16u
/* Entry limits (the same as the WAL's). */
#define CKPT_KEY_MAX 1041u
#define CKPT_VALUE_MAX (256u * 1024u * 1024u)

typedef struct ckpt_writer ckpt_writer;

/* One entry delivered by ckpt_reader_load; pointers are valid only during
 * the callback. */
typedef struct ckpt_entry {
    const uint8_t *key;
    uint32_t key_len;
    const uint8_t *value;
    uint32_t value_len;
    int64_t expires_at_us;
    uint64_t commit_version;
} ckpt_entry;

/*
 * Called for each entry, in file order, only after the block holding it
 * validated.  A status other than CAIRN_OK stops the load, which returns
 * it.
 */
typedef cairn_status (*ckpt_entry_fn)(void *ctx, const ckpt_entry *e);

/*
 * Starts checkpoint `version` of database `db_id` (16 bytes) in directory
 * `dir`: creates (or replaces) DIR/ckpt-<version>.tmp and writes the
 * header.  Stores the writer the caller owns in `*wp`; it must end with
 * ckpt_writer_finish or ckpt_writer_abort.
 */
cairn_status ckpt_writer_open(wal_fs *fs, const char *dir, uint64_t version,
                              const uint8_t *db_id, ckpt_writer **wp, wal_err *err);

/*
 * Adds one live entry.  `key_len` must be 1..CKPT_KEY_MAX and `value_len`
 * at most CAIRN_VALUE_MAX (else CAIRN_INVALID_ARGUMENT / CAIRN_TOO_LARGE),
 * `commit_version` at most the checkpoint's version.  `expires_at_us` is
 * stored as given (the engine's convention, e.g. 0 for "never").  Bytes
 * are copied.  Entries come back in the order added.  After a failure the
 * writer only accepts ckpt_writer_abort.
 */
cairn_status ckpt_writer_add(ckpt_writer *w, const uint8_t *key, uint32_t key_len,
                             const uint8_t *value, uint32_t value_len, int64_t expires_at_us,
                             uint64_t commit_version, wal_err *err);

/*
 * Writes the last block and the footer, fsyncs the file, renames it to
 * DIR/ckpt-<version>.ckpt and fsyncs the directory.  Frees `w` in every
 * case; on failure the temporary file is removed (best effort) and no
 * checkpoint appears.
 */
cairn_status ckpt_writer_finish(ckpt_writer *w, wal_err *err);

/* Abandons the checkpoint: closes and unlinks the temporary file and frees
 * `w` (NULL is a no-op). */
void ckpt_writer_abort(ckpt_writer *w);

/*
 * Reads the checkpoint file `path`: checks header and footer first, then
 * each block's checksum and structure before delivering its entries to
 * `fn(ctx, ...)` (may be NULL to only verify), then the entry and block
 * counts and the whole-file hash.  With `db_id` not NULL the header's
 * database id must match.  On success stores the checkpoint version in
 * `*versionp` and the number of entries in `*entriesp` (either may be
 * NULL).
 *
 * CAIRN_CORRUPT (with the file and offset in `err`) means this checkpoint
 * is unusable: entries delivered before the damage was found must be
 * discarded and recovery must fall back to an older checkpoint.  CAIRN_IO
 * for read failures, CAIRN_NOT_FOUND for a missing file.
 */
cairn_status ckpt_reader_load(wal_fs *fs, const char *path, const uint8_t *db_id,
                              ckpt_entry_fn fn, void *ctx, uint64_t *versionp,
                              uint64_t *entriesp, wal_err *err);

/* One checkpoint found by ckpt_list. */
typedef struct ckpt_info {
    uint64_t version;
    uint8_t db_id[CKPT_DB_ID_SIZE]; /* from the header */
    char *path;                     /* owned by the list */
} ckpt_info;

/*
 * Lists the checkpoint files in `dir` that look valid (final name, a
 * header that checks out and names the same version, room for a footer),
 * newest first, into a malloc'ed array in `*listp` (free with
 * ckpt_list_free; NULL when none) and its length in `*countp`.  Temporary
 * files are never listed.  "Looks valid" is not "is valid": recovery
 * loads the first one and falls back to the next when ckpt_reader_load
 * fails.
 */
cairn_status ckpt_list(wal_fs *fs, const char *dir, ckpt_info **listp, size_t *countp,
                       wal_err *err);

/* Frees a list from ckpt_list (NULL is a no-op). */
void ckpt_list_free(ckpt_info *list, size_t count);

/*
 * Unlinks every checkpoint file older than `keep_version` and every
 * temporary checkpoint file of a version at or below it (a newer temporary
 * file may be a checkpoint being written), then fsyncs `dir`.
 * `*removedp` (may be NULL) receives the number of files removed.
 */
cairn_status ckpt_remove_older(wal_fs *fs, const char *dir, uint64_t keep_version,
                               uint64_t *removedp, wal_err *err);

/*
 * Unlinks every temporary checkpoint file in `dir` (left by a crash in the
 * middle of a checkpoint) and fsyncs `dir`.  Only when no writer is active,
 * e.g. at open.  `*removedp` may be NULL.
 */
cairn_status ckpt_remove_tmp(wal_fs *fs, const char *dir, uint64_t *removedp, wal_err *err);

/* Writes "ckpt-<version, 20 digits>.ckpt" (tmp false) or ".tmp" into `out`
 * (at least 32 bytes). */
void ckpt_file_name(char *out, uint64_t version, bool tmp);

#endif /* CAIRN_ENGINE_CKPT_FILE_H */
