/*
 * wal/file.h - the file layer every WAL and checkpoint I/O goes through.
 *
 * A wal_fs is either the plain POSIX layer (wal_fs_new_posix) or the same
 * layer instrumented for tests (wal_fs_new_test).  The instrumented layer can
 *
 *   - fail the Nth operation of one kind (open, write, sync, rename, ...)
 *     with an errno of the test's choosing, and
 *   - simulate power loss: it remembers what changed since the last
 *     successful sync of each file and since the last fsync of each
 *     directory, and wal_fs_crash() rolls the files on disk back to what a
 *     machine would find after losing power (optionally tearing the last
 *     unsynced write of each file at a 512-byte sector boundary).
 *
 * Errors: every fallible call returns CAIRN_IO (or the status named in its
 * comment) and, when `err` is not NULL, writes a message naming the
 * operation, the file, the offset where it matters, and strerror(errno).
 *
 * Paths are used as given; the power-loss model compares them as strings,
 * so callers must spell a file's directory the same way when they sync it
 * (no trailing slash, no "./" detours).  wal_path_join() builds them.
 *
 * Thread safety: the POSIX layer keeps no shared state; the instrumented
 * layer serialises its operations under one mutex (slow, correct, and only
 * used by tests).  A wal_file may be used from several threads as long as
 * their writes do not overlap.
 */
#ifndef CAIRN_WAL_FILE_H
#define CAIRN_WAL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"

/* Room for one error message: operation, path, offset and errno text. */
#define WAL_ERR_MAX 512

/* An error message filled by a failing call; msg is always NUL-terminated. */
typedef struct wal_err {
    char msg[WAL_ERR_MAX];
} wal_err;

/*
 * Formats a message into `err` (a no-op when `err` is NULL) and returns
 * `status`, so a caller can write `return wal_err_set(err, CAIRN_IO, ...)`.
 */
cairn_status wal_err_set(wal_err *err, cairn_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Joins `dir` and `name` with one '/' into a new malloc'ed string owned by
 * the caller (free()).  NULL when out of memory.
 */
char *wal_path_join(const char *dir, const char *name);

typedef struct wal_fs wal_fs;
typedef struct wal_file wal_file;
typedef struct wal_lock wal_lock;

/* Kinds of operation the fault injector counts separately. */
typedef enum wal_fs_op {
    WAL_FS_OP_OPEN = 0,     /* wal_file_open, wal_fs_mkdir */
    WAL_FS_OP_WRITE = 1,    /* wal_file_pwrite, wal_file_append */
    WAL_FS_OP_SYNC = 2,     /* wal_file_datasync, wal_file_sync, wal_fs_sync_dir */
    WAL_FS_OP_RENAME = 3,   /* wal_fs_rename */
    WAL_FS_OP_ALLOCATE = 4, /* wal_file_allocate */
    WAL_FS_OP_TRUNCATE = 5, /* wal_file_truncate */
    WAL_FS_OP_UNLINK = 6,   /* wal_fs_unlink */
    WAL_FS_OP_COUNT = 7
} wal_fs_op;

/* Creates the plain POSIX file layer in `*fsp`.  CAIRN_NO_MEMORY on failure. */
cairn_status wal_fs_new_posix(wal_fs **fsp);

/*
 * Creates an instrumented file layer in `*fsp`: POSIX underneath, with the
 * fault injector and the power-loss tracker (both idle until used).  Files
 * that exist before they are first opened through this layer count as
 * synced; files it creates count as empty and absent from their directory
 * until synced.
 */
cairn_status wal_fs_new_test(wal_fs **fsp);

/* Frees `fs` (NULL is a no-op).  Every file and lock must be closed first. */
void wal_fs_free(wal_fs *fs);

/*
 * Test layer only: the `nth` next operation of kind `op` (1 = the very next
 * one) fails with `errno_value` (EIO, ENOSPC, ...) without touching the
 * disk; with `sticky` every later one fails too.  `nth` 0 disarms.  Arming
 * resets the count for that kind.  A no-op on the POSIX layer.
 */
void wal_fs_fail_nth(wal_fs *fs, wal_fs_op op, uint64_t nth, int errno_value, bool sticky);

/* Test layer only: operations of kind `op` attempted since creation. */
uint64_t wal_fs_op_count(wal_fs *fs, wal_fs_op op);

/*
 * Test layer only: simulates power loss.  Every file rolls back to its last
 * synced content and size, and every create, rename and unlink made since
 * the last fsync of its directory is undone.  With `keep_sectors` > 0 the
 * last unsynced write of each file survives in part: its bytes up to the
 * `keep_sectors`-th 512-byte sector boundary after its start offset (a torn
 * write).  Afterwards the layer is "off": every operation but close fails
 * with EIO, so code still holding handles cannot change what the crash left.
 * wal_fs_restart() turns it back on.
 *
 * Model limits: sectors of one write never persist out of order (only a
 * prefix survives); a file replaced by rename or unlinked is restored with
 * its synced content but not its other attributes; a directory created
 * since its parent's last fsync is removed only if it is empty after the
 * rollback; files the layer never saw opened are left alone.
 *
 * CAIRN_IO if the rollback itself could not be applied (see `err`).
 */
cairn_status wal_fs_crash(wal_fs *fs, uint32_t keep_sectors, wal_err *err);

/*
 * Test layer only: powers the layer back on after wal_fs_crash(): clears
 * the "off" state, every armed fault, and the tracker (everything on disk
 * now counts as synced).  Handles opened before the crash must be closed.
 */
void wal_fs_restart(wal_fs *fs);

/* ---- Files ------------------------------------------------------------ */

/* Flags for wal_file_open. */
#define WAL_OPEN_READ 0u      /* read only */
#define WAL_OPEN_WRITE 1u     /* read and write */
#define WAL_OPEN_CREATE 2u    /* create when missing (implies WAL_OPEN_WRITE) */
#define WAL_OPEN_EXCL 4u      /* with CREATE: CAIRN_EXISTS when the file exists */

/*
 * Opens `path` and stores a handle the caller owns in `*fp` (close with
 * wal_file_close).  New files get mode 0600.  A missing file without
 * WAL_OPEN_CREATE gives CAIRN_NOT_FOUND; an existing one with
 * WAL_OPEN_CREATE|WAL_OPEN_EXCL gives CAIRN_EXISTS; other failures CAIRN_IO.
 */
cairn_status wal_file_open(wal_fs *fs, const char *path, unsigned flags, wal_file **fp,
                           wal_err *err);

/* Closes `f` (NULL is a no-op).  Unsynced data stays in the OS cache. */
void wal_file_close(wal_file *f);

/* The path `f` was opened with; valid while `f` is open. */
const char *wal_file_path(const wal_file *f);

/* Writes all `len` bytes of `buf` at offset `off` (retrying short writes). */
cairn_status wal_file_pwrite(wal_file *f, const void *buf, size_t len, uint64_t off,
                             wal_err *err);

/*
 * Writes all `len` bytes at the handle's append position, which starts at
 * the file size when opened and advances by what this handle appends.
 */
cairn_status wal_file_append(wal_file *f, const void *buf, size_t len, wal_err *err);

/*
 * Reads up to `len` bytes at `off` into `buf`; `*gotp` receives the number
 * read, less than `len` only at end of file.
 */
cairn_status wal_file_pread(wal_file *f, void *buf, size_t len, uint64_t off, size_t *gotp,
                            wal_err *err);

/* fdatasync: data and the metadata needed to read it back (the size). */
cairn_status wal_file_datasync(wal_file *f, wal_err *err);

/* fsync: data and all metadata. */
cairn_status wal_file_sync(wal_file *f, wal_err *err);

/* Sets the file size to `size` (ftruncate). */
cairn_status wal_file_truncate(wal_file *f, uint64_t size, wal_err *err);

/*
 * Reserves space for [off, off + len) with posix_fallocate; the file grows
 * to at least off + len and new bytes read as zero.  ENOSPC is CAIRN_IO.
 */
cairn_status wal_file_allocate(wal_file *f, uint64_t off, uint64_t len, wal_err *err);

/* The current size of the file in `*sizep`. */
cairn_status wal_file_size(wal_file *f, uint64_t *sizep, wal_err *err);

/* ---- Shared mappings (the WAL's write path on the POSIX layer) ------- */

/*
 * True when files of `fs` may be written through a shared memory mapping:
 * the POSIX layer on Linux.  The instrumented test layer answers false, so
 * that every byte it is asked to write goes through wal_file_pwrite, where
 * it can fail the write or remember it for a simulated power loss.
 */
bool wal_fs_can_map(const wal_fs *fs);

/*
 * Maps bytes [0, len) of `f` (opened for writing) shared, readable and
 * writable, and stores the address in `*mapp` (release with
 * wal_map_release).  Stores to the mapping land in the OS page cache, the
 * same place a pwrite puts them: they survive the process being killed,
 * and wal_file_datasync() writes them to the device (on Linux fdatasync
 * writes back every dirty page of the file, whether a write() or a store
 * through a shared mapping dirtied it).
 *
 * The caller must only store into bytes the file already has on disk
 * blocks for (preallocated with wal_file_allocate): a store the OS cannot
 * back, past the end of the file or into a hole on a full disk, raises
 * SIGBUS instead of returning an error.  CAIRN_UNSUPPORTED when the layer
 * cannot map (wal_fs_can_map), CAIRN_IO when mmap fails.
 */
cairn_status wal_file_map(wal_file *f, uint64_t len, uint8_t **mapp, wal_err *err);

/*
 * Drops the process's page-table entries for [addr, addr + len) of a
 * mapping (madvise MADV_DONTNEED): the pages stay in the page cache, dirty
 * ones stay dirty, and a later access faults them back in.  Keeps the
 * resident size of a long-lived mapping bounded.  `addr` and `len` must be
 * page-aligned.
 */
void wal_map_drop(uint8_t *addr, uint64_t len);

/*
 * Asks the OS to bring [addr, addr + len) of a mapping into the page cache
 * now (madvise MADV_WILLNEED), so a later first store into those pages
 * does not wait for it.  `addr` must be page-aligned.  Only a hint.
 */
void wal_map_prefetch(uint8_t *addr, uint64_t len);

/* Unmaps a mapping from wal_file_map (NULL is a no-op). */
void wal_map_release(uint8_t *map, uint64_t len);

/* ---- Directories and names -------------------------------------------- */

/* rename(from, to); replaces `to` if it exists. */
cairn_status wal_fs_rename(wal_fs *fs, const char *from, const char *to, wal_err *err);

/* unlink(path); a missing file gives CAIRN_NOT_FOUND. */
cairn_status wal_fs_unlink(wal_fs *fs, const char *path, wal_err *err);

/* Opens directory `path` and fsyncs it, making creates, renames and
 * unlinks inside it durable. */
cairn_status wal_fs_sync_dir(wal_fs *fs, const char *path, wal_err *err);

/* mkdir(path, 0700).  CAIRN_OK when a directory of that name exists. */
cairn_status wal_fs_mkdir(wal_fs *fs, const char *path, wal_err *err);

/*
 * Lists the names in directory `path` ("." and ".." left out), sorted
 * bytewise, into a malloc'ed array of malloc'ed strings stored in `*namesp`
 * (free with wal_fs_list_free) and its length in `*countp`.  A missing
 * directory gives CAIRN_NOT_FOUND.
 */
cairn_status wal_fs_list(wal_fs *fs, const char *path, char ***namesp, size_t *countp,
                         wal_err *err);

/* Frees a list from wal_fs_list (NULL is a no-op). */
void wal_fs_list_free(char **names, size_t count);

/*
 * Takes the exclusive lock file `dir`/LOCK (created if missing, mode 0600)
 * with flock(LOCK_EX | LOCK_NB) and stores the lock the caller owns in
 * `*lockp`.  CAIRN_LOCKED when another open file description holds it: a
 * second opener in another process or in this one (flock locks belong to
 * open file descriptions, not processes).
 */
cairn_status wal_fs_lock(wal_fs *fs, const char *dir, wal_lock **lockp, wal_err *err);

/* Releases and frees `lock` (NULL is a no-op).  The LOCK file stays. */
void wal_fs_unlock(wal_lock *lock);

#endif /* CAIRN_WAL_FILE_H */
