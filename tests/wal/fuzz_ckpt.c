/*
 * tests/wal/fuzz_ckpt.c - libFuzzer target: arbitrary bytes written to a
 * temporary file and loaded with ckpt_reader_load.  Any outcome but a
 * crash, a leak or an out-of-bounds access is fine; a successful load must
 * report as many entries as it delivered.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/ckpt_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cairn_status count(void *ctx, const ckpt_entry *e)
{
    uint64_t *n = ctx;
    volatile uint8_t sink = 0;

    for (uint32_t i = 0; i < e->key_len; i++)
        sink ^= e->key[i];
    for (uint32_t i = 0; i < e->value_len; i++)
        sink ^= e->value[i];
    (void)sink;
    (*n)++;
    return CAIRN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wal_fs *fs;
    static char path[64];
    uint64_t delivered = 0, entries = 0, version = 0;
    FILE *f;

    if (fs == NULL) {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/cairn-fuzz-ckpt-%ld", tmp != NULL ? tmp : "/tmp",
                 (long)getpid());
        if (wal_fs_new_posix(&fs) != CAIRN_OK)
            abort();
    }
    f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    if (ckpt_reader_load(fs, path, NULL, count, &delivered, &version, &entries, NULL) ==
            CAIRN_OK &&
        delivered != entries)
        abort();
    unlink(path);
    return 0;
}
