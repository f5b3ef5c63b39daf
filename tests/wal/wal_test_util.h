/*
 * tests/wal/wal_test_util.h - temporary directories, file bytes and record
 * builders shared by the WAL and checkpoint tests.
 *
 * Nothing here depends on Criterion (the concurrency scenarios also build
 * as a plain program for ThreadSanitizer).  A helper that cannot do its job
 * prints why and aborts: that is a test failure.
 */
#ifndef CAIRN_TESTS_WAL_TEST_UTIL_H
#define CAIRN_TESTS_WAL_TEST_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wal/file.h"
#include "wal/record.h"
#include "wal/wal.h"

#define WT_CHECK(expr)                                                                  \
    do {                                                                                \
        if (!(expr)) {                                                                  \
            fprintf(stderr, "%s:%d: helper check failed: %s\n", __FILE__, __LINE__,     \
                    #expr);                                                             \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* A fresh directory under $TMPDIR (or /tmp); caller frees the string and
 * removes the tree with wt_rmtree. */
static inline char *wt_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    WT_CHECK(asprintf(&path, "%s/cairn-wal-XXXXXX", base) > 0);
    WT_CHECK(mkdtemp(path) != NULL);
    return path;
}

static inline int wt_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes the tree at `path` and frees the string. */
static inline void wt_rmtree(char *path)
{
    if (path != NULL)
        nftw(path, wt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(path);
}

/* "dir/name" (caller frees). */
static inline char *wt_path(const char *dir, const char *name)
{
    char *p = wal_path_join(dir, name);
    WT_CHECK(p != NULL);
    return p;
}

/* The whole content of `path` (caller frees); size in *lenp.  NULL when the
 * file does not exist. */
static inline uint8_t *wt_read_file(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (f == NULL)
        return NULL;
    WT_CHECK(fseek(f, 0, SEEK_END) == 0);
    n = ftell(f);
    WT_CHECK(n >= 0);
    WT_CHECK(fseek(f, 0, SEEK_SET) == 0);
    buf = malloc((size_t)n + 1);
    WT_CHECK(buf != NULL);
    WT_CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *lenp = (size_t)n;
    return buf;
}

/* Overwrites `len` bytes at `off` of an existing file, outside any wal_fs. */
static inline void wt_patch_file(const char *path, uint64_t off, const void *buf, size_t len)
{
    FILE *f = fopen(path, "r+b");
    WT_CHECK(f != NULL);
    WT_CHECK(fseek(f, (long)off, SEEK_SET) == 0);
    WT_CHECK(fwrite(buf, 1, len, f) == len);
    fclose(f);
}

/* XORs one byte of a file with 0xff. */
static inline void wt_flip_byte(const char *path, uint64_t off)
{
    size_t len = 0;
    uint8_t *buf = wt_read_file(path, &len);
    uint8_t b;

    WT_CHECK(buf != NULL && off < len);
    b = (uint8_t)(buf[off] ^ 0xff);
    free(buf);
    wt_patch_file(path, off, &b, 1);
}

static inline bool wt_file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/*
 * Encodes a one-op put record for `version` whose key and value are derived
 * from the version (so a replay can be checked): key "k<version>", value of
 * `value_len` bytes.  Caller frees; length in *lenp.
 */
static inline uint8_t *wt_make_record(uint64_t version, uint32_t value_len, size_t *lenp)
{
    char key[32];
    uint8_t *value = malloc(value_len + 1u);
    wal_op op;
    uint8_t *buf;
    size_t n;

    WT_CHECK(value != NULL);
    snprintf(key, sizeof key, "k%llu", (unsigned long long)version);
    for (uint32_t i = 0; i < value_len; i++)
        value[i] = (uint8_t)(version * 31u + i);
    memset(&op, 0, sizeof op);
    op.type = WAL_OP_PUT;
    op.key = (const uint8_t *)key;
    op.key_len = (uint32_t)strlen(key);
    op.value = value;
    op.value_len = value_len;
    n = wal_record_size(&op, 1);
    WT_CHECK(n > 0);
    buf = malloc(n);
    WT_CHECK(buf != NULL);
    WT_CHECK(wal_record_encode(buf, version, &op, 1) == n);
    free(value);
    *lenp = n;
    return buf;
}

/* Appends the record of wt_make_record(version, value_len) to `w`. */
static inline cairn_status wt_append(wal *w, uint64_t version, uint32_t value_len,
                                     uint64_t *lsnp)
{
    size_t n = 0;
    uint8_t *rec = wt_make_record(version, value_len, &n);
    cairn_status st = wal_append(w, rec, n, lsnp);
    free(rec);
    return st;
}

/* Collects replayed versions and checks each record's content. */
typedef struct wt_replayed {
    uint64_t versions[4096];
    size_t n;
    bool content_ok;
} wt_replayed;

static inline cairn_status wt_collect(void *ctx, uint64_t version, const wal_op *ops, size_t n)
{
    wt_replayed *r = ctx;
    char key[32];

    snprintf(key, sizeof key, "k%llu", (unsigned long long)version);
    if (n != 1 || ops[0].type != WAL_OP_PUT || ops[0].key_len != strlen(key) ||
        memcmp(ops[0].key, key, ops[0].key_len) != 0)
        r->content_ok = false;
    for (uint32_t i = 0; n == 1 && i < ops[0].value_len; i++)
        if (ops[0].value[i] != (uint8_t)(version * 31u + i))
            r->content_ok = false;
    if (r->n < sizeof r->versions / sizeof r->versions[0])
        r->versions[r->n++] = version;
    return CAIRN_OK;
}

/* A default config with a small segment size and no flusher. */
static inline wal_config wt_config(uint64_t segment_size)
{
    wal_config cfg;
    wal_config_init(&cfg);
    cfg.segment_size = segment_size;
    cfg.sync_interval_ms = 0;
    for (int i = 0; i < 16; i++)
        cfg.db_id[i] = (uint8_t)(0xa0 + i);
    return cfg;
}

#endif /* CAIRN_TESTS_WAL_TEST_UTIL_H */
