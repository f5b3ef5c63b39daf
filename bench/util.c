/* util.c - small helpers: clock, files, processes, the machine. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "util.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *bench_durability_name(bench_durability d)
{
    switch (d) {
    case BENCH_DUR_NONE:
        return "none";
    case BENCH_DUR_ASYNC:
        return "async";
    case BENCH_DUR_SYNC:
        return "sync";
    default:
        return "?";
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        return -1;
    return 0;
}

int bench_rmtree(const char *path)
{
    if (access(path, F_OK) != 0)
        return 0;
    return nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int bench_fs_name(const char *path, char *buf, size_t n, bool *is_memory)
{
    static const struct {
        unsigned long magic;
        const char *name;
        bool memory;
    } names[] = {
        {0xEF53, "ext4", false},        {0x58465342, "xfs", false},
        {0x9123683E, "btrfs", false},   {0x01021994, "tmpfs", true},
        {0x858458f6, "ramfs", true},    {0x794c7630, "overlayfs", false},
        {0x2fc12fc1, "zfs", false},     {0xF2F52010, "f2fs", false},
        {0x6969, "nfs", false},         {0x65735546, "fuse", false},
        {0x5346544e, "ntfs", false},    {0x4d44, "vfat", false},
        {0x01021997, "9p", false},      {0xca451a4e, "bcachefs", false},
    };
    struct statfs sf;
    *is_memory = false;
    if (statfs(path, &sf) != 0) {
        snprintf(buf, n, "unknown (%s)", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if ((unsigned long)sf.f_type == names[i].magic) {
            snprintf(buf, n, "%s", names[i].name);
            *is_memory = names[i].memory;
            return 0;
        }
    }
    snprintf(buf, n, "fs magic 0x%lx", (unsigned long)sf.f_type);
    return 0;
}

unsigned bench_task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

void bench_cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                p[strcspn(p, "\n")] = '\0';
                snprintf(buf, n, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

int bench_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int bench_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}
