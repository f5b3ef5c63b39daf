/*
 * wal/record.c - encoding and validating WAL records.
 */
#include "wal/record.h"

#include <stdbool.h>
#include <string.h>
#include <xxhash.h>

/* Fixed bytes of an op before its key: type, key_len, and the optional
 * value_len and expires_at_us. */
static size_t op_fixed_size(uint8_t type)
{
    switch (type) {
    case WAL_OP_PUT:
        return 1 + 2 + 4;
    case WAL_OP_PUT_EXPIRING:
        return 1 + 2 + 4 + 8;
    case WAL_OP_DELETE:
        return 1 + 2;
    default:
        return 0;
    }
}

size_t wal_record_size(const wal_op *ops, size_t n)
{
    uint64_t total = WAL_RECORD_HEADER_SIZE;

    if (n > UINT32_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        size_t fixed = op_fixed_size(ops[i].type);
        if (fixed == 0 || ops[i].key_len == 0 || ops[i].key_len > WAL_KEY_MAX)
            return 0;
        total += fixed + ops[i].key_len;
        if (ops[i].type != WAL_OP_DELETE) {
            if (ops[i].value_len > WAL_VALUE_MAX)
                return 0;
            total += ops[i].value_len;
        }
        if (total > WAL_RECORD_MAX)
            return 0;
    }
    return (size_t)total;
}

size_t wal_record_encode(uint8_t *buf, uint64_t version, const wal_op *ops, size_t n)
{
    return wal_record_encode_synced(buf, version, 0, ops, n);
}

size_t wal_record_encode_synced(uint8_t *buf, uint64_t version, uint64_t synced_version,
                                const wal_op *ops, size_t n)
{
    size_t len = wal_record_size(ops, n);
    uint8_t *p;

    if (len == 0)
        return 0;
    wal_put_u32(buf, (uint32_t)len);
    wal_put_u64(buf + 12, version);
    wal_put_u64(buf + 20, synced_version);
    wal_put_u32(buf + 28, (uint32_t)n);
    p = buf + WAL_RECORD_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        const wal_op *op = &ops[i];
        *p++ = op->type;
        wal_put_u16(p, (uint16_t)op->key_len);
        p += 2;
        if (op->type != WAL_OP_DELETE) {
            wal_put_u32(p, op->value_len);
            p += 4;
        }
        if (op->type == WAL_OP_PUT_EXPIRING) {
            wal_put_u64(p, (uint64_t)op->expires_at_us);
            p += 8;
        }
        memcpy(p, op->key, op->key_len);
        p += op->key_len;
        if (op->type != WAL_OP_DELETE && op->value_len > 0) {
            memcpy(p, op->value, op->value_len);
            p += op->value_len;
        }
    }
    wal_put_u64(buf + 4, XXH3_64bits(buf + 12, len - 12));
    return len;
}

uint64_t wal_record_version(const uint8_t *buf)
{
    return wal_get_u64(buf + 12);
}

uint64_t wal_record_synced_version(const uint8_t *buf)
{
    return wal_get_u64(buf + 20);
}

void wal_record_stamp_synced(uint8_t *buf, uint64_t synced_version)
{
    uint32_t len = wal_get_u32(buf);
    wal_put_u64(buf + 20, synced_version);
    wal_put_u64(buf + 4, XXH3_64bits(buf + 12, len - 12));
}

/*
 * Parses the op at `*posp` within `rec[0..len)` into `*op`, advancing
 * `*posp`.  False when it is malformed or runs past the record.
 */
static bool parse_op(const uint8_t *rec, size_t len, size_t *posp, wal_op *op)
{
    size_t pos = *posp, fixed;

    if (pos >= len)
        return false;
    memset(op, 0, sizeof *op);
    op->type = rec[pos];
    fixed = op_fixed_size(op->type);
    if (fixed == 0 || len - pos < fixed)
        return false;
    op->key_len = wal_get_u16(rec + pos + 1);
    if (op->type != WAL_OP_DELETE)
        op->value_len = wal_get_u32(rec + pos + 3);
    if (op->type == WAL_OP_PUT_EXPIRING)
        op->expires_at_us = (int64_t)wal_get_u64(rec + pos + 7);
    pos += fixed;
    if (op->key_len == 0 || op->key_len > WAL_KEY_MAX || op->value_len > WAL_VALUE_MAX)
        return false;
    if (len - pos < op->key_len)
        return false;
    op->key = rec + pos;
    pos += op->key_len;
    if (len - pos < op->value_len)
        return false;
    op->value = op->type != WAL_OP_DELETE ? rec + pos : NULL;
    pos += op->value_len;
    *posp = pos;
    return true;
}

cairn_status wal_record_decode(const uint8_t *buf, size_t avail, uint64_t *versionp,
                               size_t *record_lenp, wal_op_visitor fn, void *ctx)
{
    uint32_t len, count;
    size_t pos;
    wal_op op;

    if (avail < 4) {
        for (size_t i = 0; i < avail; i++)
            if (buf[i] != 0)
                return CAIRN_CORRUPT;
        return CAIRN_DONE;
    }
    len = wal_get_u32(buf);
    if (len == 0)
        return CAIRN_DONE;
    if (len < WAL_RECORD_HEADER_SIZE || len > avail)
        return CAIRN_CORRUPT;
    if (wal_get_u64(buf + 4) != XXH3_64bits(buf + 12, len - 12))
        return CAIRN_CORRUPT;
    count = wal_get_u32(buf + 28);

    /* Pass 1: the whole record must be well formed before anyone sees it. */
    pos = WAL_RECORD_HEADER_SIZE;
    for (uint32_t i = 0; i < count; i++)
        if (!parse_op(buf, len, &pos, &op))
            return CAIRN_CORRUPT;
    if (pos != len)
        return CAIRN_CORRUPT;

    /* Pass 2: deliver. */
    if (fn != NULL) {
        pos = WAL_RECORD_HEADER_SIZE;
        for (uint32_t i = 0; i < count; i++) {
            cairn_status st;
            parse_op(buf, len, &pos, &op);
            st = fn(ctx, &op);
            if (st != CAIRN_OK)
                return st;
        }
    }
    if (versionp != NULL)
        *versionp = wal_get_u64(buf + 12);
    if (record_lenp != NULL)
        *record_lenp = len;
    return CAIRN_OK;
}
