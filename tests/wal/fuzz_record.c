/*
 * tests/wal/fuzz_record.c - libFuzzer target: arbitrary bytes through
 * wal_record_decode.  A record that decodes must re-encode to the same
 * bytes, and ops are only ever delivered for a record that validates.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wal/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct collected {
    wal_op ops[64];
    size_t n;
    uint64_t sum;
} collected;

static cairn_status visit(void *ctx, const wal_op *op)
{
    collected *c = ctx;

    /* Touch every byte so ASan catches an op pointing outside the input. */
    for (uint32_t i = 0; i < op->key_len; i++)
        c->sum += op->key[i];
    for (uint32_t i = 0; op->type != WAL_OP_DELETE && i < op->value_len; i++)
        c->sum += op->value[i];
    if (c->n < 64)
        c->ops[c->n] = *op;
    c->n++;
    return CAIRN_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    collected c;
    uint64_t version = 0;
    size_t len = 0;
    cairn_status st;

    memset(&c, 0, sizeof c);
    st = wal_record_decode(data, size, &version, &len, visit, &c);
    if (st != CAIRN_OK) {
        if (c.n != 0)
            abort(); /* ops delivered from a record that did not validate */
        return 0;
    }
    if (len > size || c.n != wal_get_u32(data + 28))
        abort();
    if (c.n <= 64) {
        uint8_t *again = malloc(len);
        if (again == NULL)
            return 0;
        if (wal_record_size(c.ops, c.n) != len || wal_record_encode(again, version, c.ops, c.n) != len)
            abort();
        wal_record_stamp_synced(again, wal_record_synced_version(data));
        if (memcmp(again, data, len) != 0)
            abort();
        free(again);
    }
    return 0;
}
