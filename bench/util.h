/* util.h - small helpers: files, processes, the machine. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Removes `path` and everything under it.  0 on success. */
int bench_rmtree(const char *path);

/* The name of the filesystem holding `path` ("ext4", "tmpfs", ...) into
 * buf; *is_tmpfs tells whether it lives in memory.  0 on success. */
int bench_fs_name(const char *path, char *buf, size_t n, bool *is_memory);

/* Threads in the calling process. */
unsigned bench_task_count(void);

/* The CPU model from /proc/cpuinfo, or "unknown". */
void bench_cpu_model(char *buf, size_t n);

/* Writes / reads exactly len bytes, retrying on EINTR.  0 on success. */
int bench_write_all(int fd, const void *buf, size_t len);
int bench_read_all(int fd, void *buf, size_t len);

#endif /* BENCH_UTIL_H */
