/*
 * tests/wal/gen_corpus.c - writes the seed corpus for the fuzz targets:
 * valid records of every op type and valid checkpoint files.
 *
 *   wal_gen_corpus OUTDIR     (writes files into OUTDIR/record and OUTDIR/ckpt)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ckpt_file.h"
#include "wal/record.h"

static void write_file(const char *dir, const char *sub, const char *name, const void *buf,
                       size_t len)
{
    char *subdir = wal_path_join(dir, sub);
    char *path = subdir != NULL ? wal_path_join(subdir, name) : NULL;
    FILE *f = path != NULL ? fopen(path, "wb") : NULL;

    if (f == NULL || fwrite(buf, 1, len, f) != len) {
        perror(path != NULL ? path : name);
        exit(1);
    }
    fclose(f);
    free(path);
    free(subdir);
}

static void record_seed(const char *out, const char *name, uint64_t version, const wal_op *ops,
                        size_t n)
{
    size_t len = wal_record_size(ops, n);
    uint8_t *buf = malloc(len);

    if (buf == NULL || wal_record_encode(buf, version, ops, n) != len)
        exit(1);
    write_file(out, "record", name, buf, len);
    free(buf);
}

static void ckpt_seed(const char *out, const char *name, uint64_t version, unsigned entries,
                      uint32_t value_len)
{
    static const uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    char final_name[32];
    uint8_t value[512];
    ckpt_writer *w = NULL;
    wal_fs *fs = NULL;
    char *dir = wal_path_join(out, "ckpt");
    char *src, *dst;

    memset(value, 'v', sizeof value);
    if (dir == NULL || wal_fs_new_posix(&fs) != CAIRN_OK ||
        ckpt_writer_open(fs, dir, version, id, &w, NULL) != CAIRN_OK)
        exit(1);
    for (unsigned i = 0; i < entries; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%u", i);
        if (ckpt_writer_add(w, (const uint8_t *)key, (uint32_t)strlen(key), value,
                            value_len % (i + 1), i % 3 ? 0 : 1700000000000000 + i, i % (version + 1),
                            NULL) != CAIRN_OK)
            exit(1);
    }
    if (ckpt_writer_finish(w, NULL) != CAIRN_OK)
        exit(1);
    ckpt_file_name(final_name, version, false);
    src = wal_path_join(dir, final_name);
    dst = wal_path_join(dir, name);
    if (src == NULL || dst == NULL || rename(src, dst) != 0)
        exit(1);
    free(src);
    free(dst);
    free(dir);
    wal_fs_free(fs);
}

int main(int argc, char **argv)
{
    const uint8_t *k = (const uint8_t *)"0123456789abcdef\x01user-key";
    const uint8_t *v = (const uint8_t *)"some value bytes";
    wal_op ops[3] = {
        {WAL_OP_PUT, k, 26, v, 16, 0},
        {WAL_OP_PUT_EXPIRING, k, 20, v, 5, 1700000000000000},
        {WAL_OP_DELETE, k, 17, NULL, 0, 0},
    };

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    record_seed(argv[1], "empty", 1, NULL, 0);
    record_seed(argv[1], "put", 2, ops, 1);
    record_seed(argv[1], "put_expiring", 3, ops + 1, 1);
    record_seed(argv[1], "delete", 4, ops + 2, 1);
    record_seed(argv[1], "mixed", 5, ops, 3);
    ckpt_seed(argv[1], "empty", 1, 0, 0);
    ckpt_seed(argv[1], "small", 7, 5, 40);
    ckpt_seed(argv[1], "many_entries", 100, 300, 300);
    return 0;
}
