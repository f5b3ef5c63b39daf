/*
 * wal/record.h - framing of one WAL record (one committed transaction).
 *
 * Nothing outside wal/ knows this layout; docs/FORMAT.md describes every
 * byte.  All integers are little-endian.
 *
 *   record: [len u32][checksum u64][commit_version u64][op_count u32][ops]
 *     len       total record length in bytes, these 4 included
 *     checksum  XXH3_64bits over bytes [12, len): everything after itself
 *   op:     [type u8][key_len u16][value_len u32]?[expires_at_us i64]?[key][value]
 *     value_len       present for put and put_expiring, absent for delete
 *     expires_at_us   present for put_expiring only
 *
 * A length field of 0 is not a record: it is the zero-filled, preallocated
 * tail of a segment, i.e. the end of the log.
 */
#ifndef CAIRN_WAL_RECORD_H
#define CAIRN_WAL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/status.h"

/* Operation types. */
#define WAL_OP_PUT 1u
#define WAL_OP_PUT_EXPIRING 2u
#define WAL_OP_DELETE 3u

/* Bytes before the first op: len, checksum, commit_version,
 * synced_version, op_count. */
#define WAL_RECORD_HEADER_SIZE 32u
/* Longest key a record may carry (1024 user bytes + 17-byte run/tag prefix). */
#define WAL_KEY_MAX 1041u
/* Longest value a record may carry (CAIRN_VALUE_MAX_LIMIT). */
#define WAL_VALUE_MAX (256u * 1024u * 1024u)
/* Longest record: the length field is a u32. */
#define WAL_RECORD_MAX 0xffffffffu

/*
 * One operation.  For encoding the pointers are borrowed from the caller;
 * in a decode visitor they point into the decoded buffer and are valid
 * only during the call.  `value`/`value_len` are ignored for deletes and
 * `expires_at_us` is used only by put_expiring (decoded as 0 otherwise).
 */
typedef struct wal_op {
    uint8_t type;
    const uint8_t *key;
    uint32_t key_len;
    const uint8_t *value;
    uint32_t value_len;
    int64_t expires_at_us;
} wal_op;

/*
 * Called once per op, in record order, only after the whole record has
 * been validated.  A status other than CAIRN_OK stops the decode, which
 * returns that status.
 */
typedef cairn_status (*wal_op_visitor)(void *ctx, const wal_op *op);

/*
 * The encoded size in bytes of a record holding `ops[0..n)`, or 0 when
 * they cannot be encoded: an unknown type, a key of 0 or more than
 * WAL_KEY_MAX bytes, a value over WAL_VALUE_MAX, or a total over
 * WAL_RECORD_MAX.  `ops` may be NULL when `n` is 0.
 */
size_t wal_record_size(const wal_op *ops, size_t n);

/*
 * Encodes the record for commit `version` into `buf`, which must hold
 * wal_record_size(ops, n) bytes, and returns that size (0, writing
 * nothing, when wal_record_size() is 0).
 */
size_t wal_record_encode(uint8_t *buf, uint64_t version, const wal_op *ops, size_t n);

/*
 * The same with the synced_version field set to `synced_version` (the
 * checksum is computed once, over the final bytes): what the log writes
 * when it encodes a commit straight into the segment.
 */
size_t wal_record_encode_synced(uint8_t *buf, uint64_t version, uint64_t synced_version,
                                const wal_op *ops, size_t n);

/* The commit version of an encoded record at `buf` (no validation). */
uint64_t wal_record_version(const uint8_t *buf);

/* The synced_version field of a valid record: the newest commit version
 * that was known fdatasynced when the record was appended.  Recovery uses
 * it to tell an unsynced torn tail from damage to synced data. */
uint64_t wal_record_synced_version(const uint8_t *buf);

/* Sets the synced_version field of the encoded record `buf` and
 * recomputes its checksum. */
void wal_record_stamp_synced(uint8_t *buf, uint64_t synced_version);

/*
 * Decodes the record at the start of `buf[0..avail)`.
 *
 * CAIRN_OK: the record is valid; `*versionp` and `*record_lenp` are set
 * (either may be NULL) and `fn` (may be NULL) was called for every op.
 * CAIRN_DONE: the length field is 0 (or fewer than 4 bytes remain and all
 * are zero): the end of the log; nothing else is set.
 * CAIRN_CORRUPT: anything inconsistent: a length below the header size or
 * past `avail`, a checksum mismatch, an op running past the record, an
 * unknown op type, a key of 0 or more than WAL_KEY_MAX bytes, a value over
 * WAL_VALUE_MAX, fewer or more ops than op_count says.  `fn` is never
 * called for a record that does not validate completely.
 * Any other status is what `fn` returned.
 */
cairn_status wal_record_decode(const uint8_t *buf, size_t avail, uint64_t *versionp,
                               size_t *record_lenp, wal_op_visitor fn, void *ctx);

/* Little-endian helpers shared by the WAL and checkpoint codecs. */
static inline void wal_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void wal_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wal_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t wal_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t wal_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint64_t wal_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#endif /* CAIRN_WAL_RECORD_H */
