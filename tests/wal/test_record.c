/*
 * tests/wal/test_record.c - WAL record encoding, decoding and every
 * rejection.
 */
#include <criterion/criterion.h>
#include <xxhash.h>

#include "wal_test_util.h"

/* Copies every op it is shown (keys and values copied into `bytes`). */
typedef struct seen {
    wal_op ops[8];
    uint8_t bytes[8][2048];
    size_t n;
} seen;

static cairn_status remember(void *ctx, const wal_op *op)
{
    seen *s = ctx;
    if (s->n < 8) {
        s->ops[s->n] = *op;
        memcpy(s->bytes[s->n], op->key, op->key_len);
        s->n++;
    }
    return CAIRN_OK;
}

static const uint8_t key_a[] = "run-id-and-tag-key-a";
static const uint8_t key_b[] = "key-b";
static const uint8_t val_a[] = "value of a";

/* Three ops of all three types. */
static size_t make_three(wal_op *ops)
{
    memset(ops, 0, 3 * sizeof *ops);
    ops[0] = (wal_op){WAL_OP_PUT, key_a, sizeof key_a - 1, val_a, sizeof val_a - 1, 0};
    ops[1] = (wal_op){WAL_OP_PUT_EXPIRING, key_b, sizeof key_b - 1, val_a, 3, -1234567890123};
    ops[2] = (wal_op){WAL_OP_DELETE, key_b, sizeof key_b - 1, NULL, 0, 0};
    return 3;
}

/* Encodes the three ops for version 42 into a malloc'ed buffer. */
static uint8_t *encode_three(size_t *lenp)
{
    wal_op ops[3];
    size_t n = make_three(ops), len = wal_record_size(ops, n);
    uint8_t *buf = malloc(len);

    cr_assert(buf != NULL);
    cr_assert_eq(wal_record_encode(buf, 42, ops, n), len);
    *lenp = len;
    return buf;
}

/* Recomputes the checksum after a deliberate edit, so the structural
 * checks (not the checksum) must catch it. */
static void reseal(uint8_t *buf, size_t len)
{
    wal_put_u64(buf + 4, XXH3_64bits(buf + 12, len - 12));
}

Test(record, round_trip_preserves_every_field)
{
    size_t len = 0, rec_len = 0;
    uint8_t *buf = encode_three(&len);
    uint64_t version = 0;
    seen s = {0};

    cr_assert_eq(len, WAL_RECORD_HEADER_SIZE + (7 + 20 + 10) + (15 + 5 + 3) + (3 + 5));
    cr_assert_eq(wal_get_u32(buf), len, "length field is little-endian total length");
    cr_assert_eq(wal_record_decode(buf, len, &version, &rec_len, remember, &s), CAIRN_OK);
    cr_assert_eq(version, 42);
    cr_assert_eq(rec_len, len);
    cr_assert_eq(s.n, 3);
    cr_assert_eq(s.ops[0].type, WAL_OP_PUT);
    cr_assert_eq(s.ops[0].key_len, sizeof key_a - 1);
    cr_assert_eq(memcmp(s.bytes[0], key_a, sizeof key_a - 1), 0);
    cr_assert_eq(s.ops[0].value_len, sizeof val_a - 1);
    cr_assert_eq(s.ops[1].type, WAL_OP_PUT_EXPIRING);
    cr_assert_eq(s.ops[1].expires_at_us, -1234567890123);
    cr_assert_eq(s.ops[1].value_len, 3);
    cr_assert_eq(s.ops[2].type, WAL_OP_DELETE);
    cr_assert_eq(s.ops[2].value_len, 0);
    cr_assert_null(s.ops[2].value);
    free(buf);
}

Test(record, empty_transaction_round_trips)
{
    uint8_t buf[WAL_RECORD_HEADER_SIZE];
    uint64_t version = 0;

    cr_assert_eq(wal_record_size(NULL, 0), WAL_RECORD_HEADER_SIZE);
    cr_assert_eq(wal_record_encode(buf, 7, NULL, 0), WAL_RECORD_HEADER_SIZE);
    cr_assert_eq(wal_record_decode(buf, sizeof buf, &version, NULL, NULL, NULL), CAIRN_OK);
    cr_assert_eq(version, 7);
}

Test(record, decode_ignores_bytes_after_the_record)
{
    size_t len = 0, rec_len = 0;
    uint8_t *buf = encode_three(&len);
    uint8_t *big = calloc(1, len + 100);

    memcpy(big, buf, len);
    memset(big + len, 0x5a, 100);
    cr_assert_eq(wal_record_decode(big, len + 100, NULL, &rec_len, NULL, NULL), CAIRN_OK);
    cr_assert_eq(rec_len, len);
    free(buf);
    free(big);
}

Test(record, zero_length_field_is_end_of_log)
{
    uint8_t zeros[64] = {0};

    cr_assert_eq(wal_record_decode(zeros, sizeof zeros, NULL, NULL, NULL, NULL), CAIRN_DONE);
    cr_assert_eq(wal_record_decode(zeros, 2, NULL, NULL, NULL, NULL), CAIRN_DONE);
    cr_assert_eq(wal_record_decode(zeros, 0, NULL, NULL, NULL, NULL), CAIRN_DONE);
}

Test(record, short_nonzero_tail_is_corrupt)
{
    uint8_t b[3] = {0, 1, 0};
    cr_assert_eq(wal_record_decode(b, sizeof b, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
}

Test(record, every_flipped_byte_is_rejected_without_delivering_ops)
{
    size_t len = 0;
    uint8_t *buf = encode_three(&len);

    for (size_t i = 0; i < len; i++) {
        seen s = {0};
        cairn_status st;
        buf[i] ^= 0x01;
        st = wal_record_decode(buf, len, NULL, NULL, remember, &s);
        cr_assert(st == CAIRN_CORRUPT, "flip at %zu gave %d", i, st);
        cr_assert_eq(s.n, 0, "flip at %zu delivered ops", i);
        buf[i] ^= 0x01;
    }
    free(buf);
}

Test(record, length_shorter_than_header_or_past_buffer_is_corrupt)
{
    size_t len = 0;
    uint8_t *buf = encode_three(&len);

    cr_assert_eq(wal_record_decode(buf, len - 1, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    wal_put_u32(buf, 23);
    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    free(buf);
}

Test(record, op_count_mismatch_is_corrupt)
{
    size_t len = 0;
    uint8_t *buf = encode_three(&len);

    wal_put_u32(buf + 28, 2); /* fewer ops than bytes */
    reseal(buf, len);
    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    wal_put_u32(buf + 28, 4); /* more ops than bytes */
    reseal(buf, len);
    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    wal_put_u32(buf + 28, 0xffffffffu);
    reseal(buf, len);
    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    free(buf);
}

Test(record, unknown_op_type_is_corrupt)
{
    size_t len = 0;
    uint8_t *buf = encode_three(&len);

    buf[32] = 9;
    reseal(buf, len);
    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    buf[32] = 0;
    reseal(buf, len);
    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    free(buf);
}

Test(record, key_length_past_record_is_corrupt)
{
    size_t len = 0;
    uint8_t *buf = encode_three(&len);

    wal_put_u16(buf + 33, 1000); /* first op's key runs past the record */
    reseal(buf, len);
    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    free(buf);
}

Test(record, value_length_past_record_is_corrupt)
{
    size_t len = 0;
    uint8_t *buf = encode_three(&len);

    wal_put_u32(buf + 35, 11); /* one byte more than the value has */
    reseal(buf, len);
    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    free(buf);
}

/* A record with one op whose key is `key_len` bytes (not via the encoder,
 * which refuses such keys). */
static uint8_t *raw_put(uint32_t key_len, uint32_t claimed_value_len, size_t *lenp)
{
    size_t len = WAL_RECORD_HEADER_SIZE + 7 + key_len;
    uint8_t *buf = calloc(1, len);

    wal_put_u32(buf, (uint32_t)len);
    wal_put_u64(buf + 12, 1);
    wal_put_u32(buf + 28, 1);
    buf[32] = WAL_OP_PUT;
    wal_put_u16(buf + 33, (uint16_t)key_len);
    wal_put_u32(buf + 35, claimed_value_len);
    memset(buf + 39, 'k', key_len);
    reseal(buf, len);
    *lenp = len;
    return buf;
}

Test(record, key_longer_than_limit_is_corrupt)
{
    size_t len = 0;
    uint8_t *ok = raw_put(WAL_KEY_MAX, 0, &len);
    uint8_t *bad;

    cr_assert_eq(wal_record_decode(ok, len, NULL, NULL, NULL, NULL), CAIRN_OK);
    bad = raw_put(WAL_KEY_MAX + 1, 0, &len);
    cr_assert_eq(wal_record_decode(bad, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    free(ok);
    free(bad);
}

Test(record, empty_key_is_corrupt)
{
    size_t len = 0;
    uint8_t *bad = raw_put(0, 0, &len);

    cr_assert_eq(wal_record_decode(bad, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    free(bad);
}

Test(record, value_longer_than_limit_is_corrupt)
{
    size_t len = 0;
    uint8_t *bad = raw_put(4, WAL_VALUE_MAX + 1, &len);

    cr_assert_eq(wal_record_decode(bad, len, NULL, NULL, NULL, NULL), CAIRN_CORRUPT);
    free(bad);
}

Test(record, size_refuses_unencodable_ops)
{
    uint8_t key[WAL_KEY_MAX + 1];
    wal_op op = {WAL_OP_PUT, key, 1, key, 0, 0};

    memset(key, 'x', sizeof key);
    cr_assert_gt(wal_record_size(&op, 1), 0);
    op.key_len = 0;
    cr_assert_eq(wal_record_size(&op, 1), 0);
    op.key_len = WAL_KEY_MAX + 1;
    cr_assert_eq(wal_record_size(&op, 1), 0);
    op.key_len = 1;
    op.type = 4;
    cr_assert_eq(wal_record_size(&op, 1), 0);
    op.type = WAL_OP_PUT;
    op.value_len = WAL_VALUE_MAX + 1;
    cr_assert_eq(wal_record_size(&op, 1), 0);
}

static cairn_status refuse_second(void *ctx, const wal_op *op)
{
    int *calls = ctx;
    (void)op;
    return ++*calls == 2 ? CAIRN_NO_MEMORY : CAIRN_OK;
}

Test(record, visitor_status_stops_decode)
{
    size_t len = 0;
    uint8_t *buf = encode_three(&len);
    int calls = 0;

    cr_assert_eq(wal_record_decode(buf, len, NULL, NULL, refuse_second, &calls),
                 CAIRN_NO_MEMORY);
    cr_assert_eq(calls, 2);
    free(buf);
}
