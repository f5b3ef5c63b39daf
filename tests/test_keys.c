/*
 * Key encoding: [run_id:16][tag:1][rest], run-id text form and generation,
 * the refusals that keep runs and primitives apart, and prefix scans.
 */
#include <criterion/criterion.h>

#include "helpers.h"

/* ---- layout and round trips ---------------------------------------------- */

Test(keys, make_lays_out_run_then_tag_then_rest)
{
    cairn_run_id run = test_run(0xAB, 0x07);
    cairn_key key;
    ASSERT_OK(cairn_key_make(&key, &run, CAIRN_TAG_STATE, test_str("cell")));

    cairn_slice s = cairn_key_slice(&key);
    cr_assert_eq(s.len, CAIRN_KEY_PREFIX_SIZE + 4);
    const uint8_t *b = s.data;
    cr_assert_eq(memcmp(b, run.bytes, CAIRN_RUN_ID_SIZE), 0);
    cr_assert_eq(b[CAIRN_RUN_ID_SIZE], CAIRN_TAG_STATE);
    cr_assert_eq(memcmp(b + CAIRN_KEY_PREFIX_SIZE, "cell", 4), 0);
}

Test(keys, make_then_decode_gives_back_run_tag_and_rest)
{
    const cairn_tag tags[] = {CAIRN_TAG_KV, CAIRN_TAG_EVENT, CAIRN_TAG_STATE, CAIRN_TAG_TRACE};
    const char *rests[] = {"a", "hello world", "\xff\x00\x01", "with/slash"};
    size_t rest_lens[] = {1, 11, 3, 10};

    for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
        for (size_t r = 0; r < sizeof rests / sizeof rests[0]; r++) {
            cairn_run_id run = test_run((uint8_t)(0x20 + t), (uint8_t)r);
            cairn_key key;
            ASSERT_OK(cairn_key_make(&key, &run, tags[t], cairn_slice_of(rests[r], rest_lens[r])));

            cairn_run_id got_run;
            cairn_tag got_tag;
            cairn_slice got_rest;
            ASSERT_OK(cairn_key_decode(cairn_key_slice(&key), &got_run, &got_tag, &got_rest));
            cr_assert_eq(memcmp(&got_run, &run, sizeof run), 0);
            cr_assert_eq(got_tag, tags[t]);
            cr_assert(slice_eq(got_rest, cairn_slice_of(rests[r], rest_lens[r])));
        }
    }
}

Test(keys, run_index_keys_live_under_the_zero_run)
{
    cairn_run_id zero = test_zero_run();
    cairn_key key;
    ASSERT_OK(cairn_key_make(&key, &zero, CAIRN_TAG_RUN, test_str("record")));

    cairn_run_id got_run;
    cairn_tag got_tag;
    cairn_slice got_rest;
    ASSERT_OK(cairn_key_decode(cairn_key_slice(&key), &got_run, &got_tag, &got_rest));
    cr_assert(cairn_run_id_is_zero(&got_run));
    cr_assert_eq(got_tag, CAIRN_TAG_RUN);
    ASSERT_SLICE_STR(got_rest, "record");
}

Test(keys, composite_parts_are_encoded_as_documented)
{
    cairn_run_id run = test_run(0x33, 0x01);
    cairn_key key;
    ASSERT_OK(cairn_key_init(&key, &run, CAIRN_TAG_TRACE));
    cr_assert_eq(key.len, CAIRN_KEY_PREFIX_SIZE);
    ASSERT_OK(cairn_key_append_u8(&key, 0x02));
    ASSERT_OK(cairn_key_append_field(&key, test_str("abc")));
    ASSERT_OK(cairn_key_append_u64(&key, UINT64_C(0x0102030405060708)));
    ASSERT_OK(cairn_key_append(&key, test_str("tail")));

    const uint8_t want[] = {0x02, 0x00, 0x03, 'a', 'b', 'c', 0x01, 0x02, 0x03, 0x04,
                            0x05, 0x06, 0x07, 0x08, 't', 'a', 'i', 'l'};
    cr_assert_eq(key.len, CAIRN_KEY_PREFIX_SIZE + sizeof want);
    cr_assert_eq(memcmp(key.bytes + CAIRN_KEY_PREFIX_SIZE, want, sizeof want), 0);

    cairn_slice rest;
    ASSERT_OK(cairn_key_decode(cairn_key_slice(&key), NULL, NULL, &rest));
    cr_assert(slice_eq(rest, cairn_slice_of(want, sizeof want)));
}

Test(keys, decode_accepts_null_out_pointers)
{
    cairn_key key = test_key("x");
    ASSERT_OK(cairn_key_decode(cairn_key_slice(&key), NULL, NULL, NULL));
}

Test(keys, decode_of_a_bare_prefix_gives_an_empty_rest)
{
    cairn_run_id run = test_run(0x44, 0x02);
    cairn_key key = test_prefix(&run, CAIRN_TAG_EVENT);
    cairn_slice rest = {"junk", 4};
    cairn_tag tag;
    ASSERT_OK(cairn_key_decode(cairn_key_slice(&key), NULL, &tag, &rest));
    cr_assert_eq(tag, CAIRN_TAG_EVENT);
    cr_assert_eq(rest.len, 0);
}

Test(keys, decode_refuses_malformed_encodings)
{
    uint8_t buf[CAIRN_KEY_MAX + 8];
    memset(buf, 0x11, sizeof buf);
    buf[CAIRN_RUN_ID_SIZE] = CAIRN_TAG_KV;

    /* shorter than run id + tag */
    ASSERT_STATUS(cairn_key_decode(cairn_slice_of(buf, CAIRN_KEY_PREFIX_SIZE - 1), NULL, NULL,
                                   NULL),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_decode(cairn_slice_of(buf, 0), NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
    /* longer than the largest key */
    ASSERT_STATUS(cairn_key_decode(cairn_slice_of(buf, CAIRN_KEY_MAX + 1), NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_OK(cairn_key_decode(cairn_slice_of(buf, CAIRN_KEY_MAX), NULL, NULL, NULL));

    /* reserved and unknown tags */
    const uint8_t bad_tags[] = {0x00, 0x06, 0x0A, 0x0F, 0x10, 0x7F, 0xFF};
    for (size_t i = 0; i < sizeof bad_tags; i++) {
        buf[CAIRN_RUN_ID_SIZE] = bad_tags[i];
        ASSERT_STATUS(cairn_key_decode(cairn_slice_of(buf, 20), NULL, NULL, NULL),
                      CAIRN_INVALID_ARGUMENT);
    }

    /* a run tag under a real run, a primitive tag under the zero run */
    buf[CAIRN_RUN_ID_SIZE] = CAIRN_TAG_RUN;
    ASSERT_STATUS(cairn_key_decode(cairn_slice_of(buf, 20), NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
    memset(buf, 0, CAIRN_RUN_ID_SIZE);
    buf[CAIRN_RUN_ID_SIZE] = CAIRN_TAG_KV;
    ASSERT_STATUS(cairn_key_decode(cairn_slice_of(buf, 20), NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
}

Test(keys, decode_leaves_out_params_alone_on_failure)
{
    uint8_t buf[4] = {1, 2, 3, 4};
    cairn_run_id run;
    memset(&run, 0xA5, sizeof run);
    cairn_tag tag = CAIRN_TAG_TRACE;
    cairn_slice rest = {"keep", 4};
    ASSERT_STATUS(cairn_key_decode(cairn_slice_of(buf, sizeof buf), &run, &tag, &rest),
                  CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(run.bytes[0], 0xA5);
    cr_assert_eq(run.bytes[15], 0xA5);
    cr_assert_eq(tag, CAIRN_TAG_TRACE);
    ASSERT_SLICE_STR(rest, "keep");
}

/* ---- refusals ------------------------------------------------------------- */

Test(keys, init_refuses_the_zero_run_for_every_primitive_but_the_run_index)
{
    cairn_run_id zero = test_zero_run();
    const cairn_tag tags[] = {CAIRN_TAG_KV, CAIRN_TAG_EVENT, CAIRN_TAG_STATE, CAIRN_TAG_TRACE};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
        cairn_key key;
        ASSERT_STATUS(cairn_key_init(&key, &zero, tags[i]), CAIRN_INVALID_ARGUMENT);
        ASSERT_STATUS(cairn_key_make(&key, &zero, tags[i], test_str("k")),
                      CAIRN_INVALID_ARGUMENT);
    }
    cairn_key key;
    ASSERT_OK(cairn_key_init(&key, &zero, CAIRN_TAG_RUN));
}

Test(keys, init_refuses_the_run_index_tag_under_a_real_run)
{
    cairn_run_id run = test_run(0x00, 0x01);
    cairn_key key;
    ASSERT_STATUS(cairn_key_init(&key, &run, CAIRN_TAG_RUN), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_make(&key, &run, CAIRN_TAG_RUN, test_str("k")),
                  CAIRN_INVALID_ARGUMENT);
}

Test(keys, init_refuses_tags_outside_the_public_range)
{
    cairn_run_id run = test_run(0x55, 0x01);
    cairn_run_id zero = test_zero_run();
    const int bad[] = {0x00, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D,
                       0x0E, 0x0F, 0x10, 0x11, 0x40, 0x80, 0xFF, 0x100, -1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_key key;
        cr_assert_eq(cairn_key_init(&key, &run, (cairn_tag)bad[i]), CAIRN_INVALID_ARGUMENT,
                     "tag 0x%x accepted under a real run", bad[i]);
        cr_assert_eq(cairn_key_init(&key, &zero, (cairn_tag)bad[i]), CAIRN_INVALID_ARGUMENT,
                     "tag 0x%x accepted under the zero run", bad[i]);
        cr_assert_eq(cairn_key_make(&key, &run, (cairn_tag)bad[i], test_str("k")),
                     CAIRN_INVALID_ARGUMENT, "tag 0x%x accepted by make", bad[i]);
    }
}

Test(keys, init_and_make_refuse_null_pointers)
{
    cairn_run_id run = test_run(0x55, 0x02);
    cairn_key key;
    ASSERT_STATUS(cairn_key_init(NULL, &run, CAIRN_TAG_KV), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_init(&key, NULL, CAIRN_TAG_KV), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_make(NULL, &run, CAIRN_TAG_KV, test_str("k")),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_make(&key, NULL, CAIRN_TAG_KV, test_str("k")),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_make(&key, &run, CAIRN_TAG_KV, cairn_slice_of(NULL, 3)),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_append(NULL, test_str("k")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_append_field(NULL, test_str("k")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_append_u8(NULL, 1), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_append_u64(NULL, 1), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_decode(cairn_slice_of(NULL, 20), NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
}

Test(keys, appending_an_empty_slice_changes_nothing)
{
    cairn_key key = test_key("abc");
    cairn_key before = key;
    ASSERT_OK(cairn_key_append(&key, cairn_slice_of(NULL, 0)));
    cr_assert_eq(key.len, before.len);
    cr_assert_eq(memcmp(key.bytes, before.bytes, key.len), 0);
}

/* ---- size limits ---------------------------------------------------------- */

static bool key_equal(const cairn_key *a, const cairn_key *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

Test(keys, rest_of_exactly_the_limit_is_accepted)
{
    static uint8_t rest[CAIRN_KEY_REST_MAX];
    memset(rest, 'r', sizeof rest);
    cairn_run_id run = test_run(0x66, 0x01);
    cairn_key key;
    ASSERT_OK(cairn_key_make(&key, &run, CAIRN_TAG_KV, cairn_slice_of(rest, sizeof rest)));
    cr_assert_eq(key.len, CAIRN_KEY_MAX);
}

Test(keys, rest_over_the_limit_is_too_large)
{
    static uint8_t rest[CAIRN_KEY_REST_MAX + 1];
    memset(rest, 'r', sizeof rest);
    cairn_run_id run = test_run(0x66, 0x02);
    cairn_key key;
    ASSERT_STATUS(cairn_key_make(&key, &run, CAIRN_TAG_KV, cairn_slice_of(rest, sizeof rest)),
                  CAIRN_TOO_LARGE);
}

Test(keys, append_past_the_limit_is_too_large_and_leaves_the_key_unchanged)
{
    static uint8_t rest[CAIRN_KEY_REST_MAX];
    memset(rest, 'r', sizeof rest);
    cairn_run_id run = test_run(0x66, 0x03);

    /* a full key refuses every kind of append */
    cairn_key key;
    ASSERT_OK(cairn_key_make(&key, &run, CAIRN_TAG_KV, cairn_slice_of(rest, sizeof rest)));
    cairn_key before = key;
    ASSERT_STATUS(cairn_key_append(&key, test_str("x")), CAIRN_TOO_LARGE);
    cr_assert(key_equal(&key, &before));
    ASSERT_STATUS(cairn_key_append_u8(&key, 1), CAIRN_TOO_LARGE);
    cr_assert(key_equal(&key, &before));
    ASSERT_STATUS(cairn_key_append_u64(&key, 1), CAIRN_TOO_LARGE);
    cr_assert(key_equal(&key, &before));
    ASSERT_STATUS(cairn_key_append_field(&key, cairn_slice_of(NULL, 0)), CAIRN_TOO_LARGE);
    cr_assert(key_equal(&key, &before));

    /* 7 bytes left: a u64 does not fit, nothing of it is written */
    ASSERT_OK(cairn_key_make(&key, &run, CAIRN_TAG_KV,
                             cairn_slice_of(rest, CAIRN_KEY_REST_MAX - 7)));
    before = key;
    ASSERT_STATUS(cairn_key_append_u64(&key, UINT64_MAX), CAIRN_TOO_LARGE);
    cr_assert(key_equal(&key, &before));
    ASSERT_STATUS(cairn_key_append(&key, cairn_slice_of(rest, 8)), CAIRN_TOO_LARGE);
    cr_assert(key_equal(&key, &before));
    ASSERT_OK(cairn_key_append(&key, cairn_slice_of(rest, 7)));
    cr_assert_eq(key.len, CAIRN_KEY_MAX);

    /* 8 bytes left: a u64 just fits */
    ASSERT_OK(cairn_key_make(&key, &run, CAIRN_TAG_KV,
                             cairn_slice_of(rest, CAIRN_KEY_REST_MAX - 8)));
    ASSERT_OK(cairn_key_append_u64(&key, 42));
    cr_assert_eq(key.len, CAIRN_KEY_MAX);
}

Test(keys, field_limit_counts_the_length_prefix)
{
    static uint8_t field[CAIRN_KEY_FIELD_MAX + 1];
    memset(field, 'f', sizeof field);
    cairn_run_id run = test_run(0x66, 0x04);

    cairn_key key;
    ASSERT_OK(cairn_key_init(&key, &run, CAIRN_TAG_EVENT));
    cairn_key before = key;
    ASSERT_STATUS(cairn_key_append_field(&key, cairn_slice_of(field, CAIRN_KEY_FIELD_MAX + 1)),
                  CAIRN_TOO_LARGE);
    cr_assert(key_equal(&key, &before));

    ASSERT_OK(cairn_key_append_field(&key, cairn_slice_of(field, CAIRN_KEY_FIELD_MAX)));
    cr_assert_eq(key.len, CAIRN_KEY_MAX);

    /* a field that fits the field limit but not the room left */
    ASSERT_OK(cairn_key_init(&key, &run, CAIRN_TAG_EVENT));
    ASSERT_OK(cairn_key_append_u8(&key, 1));
    before = key;
    ASSERT_STATUS(cairn_key_append_field(&key, cairn_slice_of(field, CAIRN_KEY_FIELD_MAX)),
                  CAIRN_TOO_LARGE);
    cr_assert(key_equal(&key, &before));
}

/* ---- ordering ------------------------------------------------------------- */

Test(keys, u64_parts_sort_numerically)
{
    test_rng rng = test_rng_seeded(7);
    cairn_run_id run = test_run(0x77, 0x01);
    for (int i = 0; i < 5000; i++) {
        uint64_t a = test_rng_next(&rng) >> test_rng_below(&rng, 64);
        uint64_t b = test_rng_next(&rng) >> test_rng_below(&rng, 64);
        cairn_key ka, kb;
        ASSERT_OK(cairn_key_init(&ka, &run, CAIRN_TAG_EVENT));
        ASSERT_OK(cairn_key_append_u8(&ka, 1));
        ASSERT_OK(cairn_key_append_u64(&ka, a));
        ASSERT_OK(cairn_key_init(&kb, &run, CAIRN_TAG_EVENT));
        ASSERT_OK(cairn_key_append_u8(&kb, 1));
        ASSERT_OK(cairn_key_append_u64(&kb, b));
        int c = slice_cmp(cairn_key_slice(&ka), cairn_key_slice(&kb));
        int want = (a > b) - (a < b);
        cr_assert_eq((c > 0) - (c < 0), want, "%llu vs %llu", (unsigned long long)a,
                     (unsigned long long)b);
    }
}

Test(keys, a_field_is_never_a_prefix_of_a_longer_field)
{
    /* "ab" as a field must not be a prefix of "abc" as a field, or a prefix
     * scan for one index name would return another name's entries. */
    cairn_run_id run = test_run(0x77, 0x02);
    cairn_key shorter, longer;
    ASSERT_OK(cairn_key_init(&shorter, &run, CAIRN_TAG_TRACE));
    ASSERT_OK(cairn_key_append_field(&shorter, test_str("ab")));
    ASSERT_OK(cairn_key_init(&longer, &run, CAIRN_TAG_TRACE));
    ASSERT_OK(cairn_key_append_field(&longer, test_str("abc")));
    cr_assert(shorter.len < longer.len);
    cr_assert_neq(memcmp(shorter.bytes, longer.bytes, shorter.len), 0);
}

/* ---- randomized injectivity ----------------------------------------------- */

/*
 * Composite keys follow schemas, as the primitives use them: a sub-kind
 * byte first, then fields and integers.  Raw rests (KV keys, cell names)
 * are the only part under their tag.  Two different tuples must never
 * encode to the same key; equal tuples must always encode the same.
 */
enum { INJ_COUNT = 20000, INJ_ENC_MAX = 96, INJ_CANON_MAX = 160 };

typedef struct inj_entry {
    uint8_t enc[INJ_ENC_MAX];
    size_t enc_len;
    uint8_t canon[INJ_CANON_MAX];
    size_t canon_len;
} inj_entry;

typedef struct canon_buf {
    uint8_t *p;
    size_t len;
} canon_buf;

static void canon_put(canon_buf *c, uint8_t kind, const void *bytes, size_t len)
{
    c->p[c->len++] = kind;
    c->p[c->len++] = (uint8_t)len;
    memcpy(c->p + c->len, bytes, len);
    c->len += len;
}

static size_t random_field(test_rng *rng, uint8_t *out)
{
    /* a tiny alphabet that includes the length-prefix bytes, so accidental
     * collisions are likely if the encoding were ambiguous */
    static const uint8_t alphabet[] = {0x00, 0x01, 0x02, 0xFF, 'a'};
    size_t n = (size_t)test_rng_below(rng, 5);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[test_rng_below(rng, sizeof alphabet)];
    return n;
}

static uint64_t random_u64(test_rng *rng)
{
    static const uint64_t choices[] = {0, 1, 2, 0xFF, 0x100, 0x0200, UINT64_C(1) << 32,
                                       UINT64_MAX};
    return choices[test_rng_below(rng, sizeof choices / sizeof choices[0])];
}

static void random_entry(test_rng *rng, inj_entry *e)
{
    const cairn_run_id runs[] = {test_run(0x01, 0x01), test_run(0x01, 0x02),
                                 test_run(0x02, 0x01)};
    canon_buf c = {e->canon, 0};
    cairn_key key;
    uint8_t buf[8];
    size_t n;

    cairn_tag tag = (cairn_tag)(1 + test_rng_below(rng, 5));
    cairn_run_id run = tag == CAIRN_TAG_RUN ? test_zero_run() : runs[test_rng_below(rng, 3)];
    cr_assert_eq(cairn_key_init(&key, &run, tag), CAIRN_OK);
    canon_put(&c, 'R', run.bytes, sizeof run.bytes);
    uint8_t tag_byte = (uint8_t)tag;
    canon_put(&c, 'T', &tag_byte, 1);

    if (tag == CAIRN_TAG_KV || tag == CAIRN_TAG_STATE) {
        uint8_t raw[8];
        n = random_field(rng, raw);
        if (n == 0)
            raw[n++] = 'k'; /* rests written to the store are never empty */
        cr_assert_eq(cairn_key_append(&key, cairn_slice_of(raw, n)), CAIRN_OK);
        canon_put(&c, 'r', raw, n);
    } else {
        uint8_t schema = (uint8_t)(1 + test_rng_below(rng, 4));
        cr_assert_eq(cairn_key_append_u8(&key, schema), CAIRN_OK);
        canon_put(&c, 's', &schema, 1);
        uint64_t v;
        switch (schema) {
        case 1: /* sub-kind, u64 */
            v = random_u64(rng);
            cr_assert_eq(cairn_key_append_u64(&key, v), CAIRN_OK);
            u64_to_be(v, buf);
            canon_put(&c, 'u', buf, 8);
            break;
        case 2: /* sub-kind, field, u64 */
            n = random_field(rng, buf);
            cr_assert_eq(cairn_key_append_field(&key, cairn_slice_of(buf, n)), CAIRN_OK);
            canon_put(&c, 'f', buf, n);
            v = random_u64(rng);
            cr_assert_eq(cairn_key_append_u64(&key, v), CAIRN_OK);
            u64_to_be(v, buf);
            canon_put(&c, 'u', buf, 8);
            break;
        case 3: /* sub-kind, field, field, u8 */
            n = random_field(rng, buf);
            cr_assert_eq(cairn_key_append_field(&key, cairn_slice_of(buf, n)), CAIRN_OK);
            canon_put(&c, 'f', buf, n);
            n = random_field(rng, buf);
            cr_assert_eq(cairn_key_append_field(&key, cairn_slice_of(buf, n)), CAIRN_OK);
            canon_put(&c, 'f', buf, n);
            buf[0] = (uint8_t)test_rng_below(rng, 3);
            cr_assert_eq(cairn_key_append_u8(&key, buf[0]), CAIRN_OK);
            canon_put(&c, 'b', buf, 1);
            break;
        default: /* sub-kind, u64, field, raw tail */
            v = random_u64(rng);
            cr_assert_eq(cairn_key_append_u64(&key, v), CAIRN_OK);
            u64_to_be(v, buf);
            canon_put(&c, 'u', buf, 8);
            n = random_field(rng, buf);
            cr_assert_eq(cairn_key_append_field(&key, cairn_slice_of(buf, n)), CAIRN_OK);
            canon_put(&c, 'f', buf, n);
            n = random_field(rng, buf);
            cr_assert_eq(cairn_key_append(&key, cairn_slice_of(buf, n)), CAIRN_OK);
            canon_put(&c, 'r', buf, n);
            break;
        }
    }
    cr_assert_leq(key.len, INJ_ENC_MAX);
    memcpy(e->enc, key.bytes, key.len);
    e->enc_len = key.len;
    e->canon_len = c.len;
}

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return slice_cmp(cairn_slice_of(a, alen), cairn_slice_of(b, blen));
}

static int by_encoding(const void *pa, const void *pb)
{
    const inj_entry *a = pa, *b = pb;
    int c = cmp_bytes(a->enc, a->enc_len, b->enc, b->enc_len);
    return c ? c : cmp_bytes(a->canon, a->canon_len, b->canon, b->canon_len);
}

static int by_tuple(const void *pa, const void *pb)
{
    const inj_entry *a = pa, *b = pb;
    int c = cmp_bytes(a->canon, a->canon_len, b->canon, b->canon_len);
    return c ? c : cmp_bytes(a->enc, a->enc_len, b->enc, b->enc_len);
}

Test(keys, distinct_tuples_never_encode_to_the_same_key)
{
    inj_entry *entries = calloc(INJ_COUNT, sizeof *entries);
    cr_assert_not_null(entries);
    test_rng rng = test_rng_seeded(0xC0FFEE);
    for (size_t i = 0; i < INJ_COUNT; i++)
        random_entry(&rng, &entries[i]);

    /* equal encodings come from equal tuples (injective) */
    qsort(entries, INJ_COUNT, sizeof *entries, by_encoding);
    size_t distinct = 1;
    for (size_t i = 1; i < INJ_COUNT; i++) {
        const inj_entry *a = &entries[i - 1], *b = &entries[i];
        if (cmp_bytes(a->enc, a->enc_len, b->enc, b->enc_len) == 0)
            cr_assert_eq(cmp_bytes(a->canon, a->canon_len, b->canon, b->canon_len), 0,
                         "two different tuples encoded to the same %zu-byte key", a->enc_len);
        else
            distinct++;
    }
    /* the alphabet is small on purpose, but not so small that every tuple repeats */
    cr_assert_gt(distinct, INJ_COUNT / 4);

    /* equal tuples give equal encodings (deterministic) */
    qsort(entries, INJ_COUNT, sizeof *entries, by_tuple);
    for (size_t i = 1; i < INJ_COUNT; i++) {
        const inj_entry *a = &entries[i - 1], *b = &entries[i];
        if (cmp_bytes(a->canon, a->canon_len, b->canon, b->canon_len) == 0)
            cr_assert_eq(cmp_bytes(a->enc, a->enc_len, b->enc, b->enc_len), 0,
                         "one tuple encoded two different ways");
    }

    /* every encoding decodes back to its run and tag */
    for (size_t i = 0; i < INJ_COUNT; i++) {
        cairn_run_id run;
        cairn_tag tag;
        cr_assert_eq(cairn_key_decode(cairn_slice_of(entries[i].enc, entries[i].enc_len), &run,
                                      &tag, NULL),
                     CAIRN_OK);
        cr_assert_eq(memcmp(run.bytes, entries[i].canon + 2, CAIRN_RUN_ID_SIZE), 0);
        cr_assert_eq((uint8_t)tag, entries[i].canon[2 + CAIRN_RUN_ID_SIZE + 2]);
    }
    free(entries);
}

/* ---- prefix end ------------------------------------------------------------ */

static void assert_prefix_end_is(const cairn_key *prefix, const uint8_t *want, size_t want_len)
{
    cairn_key end;
    ASSERT_OK(cairn_key_prefix_end(prefix, &end));
    cr_assert_eq(end.len, want_len, "end has %u bytes, expected %zu", (unsigned)end.len,
                 want_len);
    cr_assert_eq(memcmp(end.bytes, want, want_len), 0);
}

Test(keys, prefix_end_increments_the_last_byte)
{
    cairn_run_id run = test_run(0x12, 0x34);
    cairn_key p = test_kv(&run, "ab");
    cairn_key want = test_kv(&run, "ac");
    assert_prefix_end_is(&p, want.bytes, want.len);
}

Test(keys, prefix_end_drops_trailing_ff_bytes_before_incrementing)
{
    cairn_run_id run = test_run(0x12, 0x35);
    cairn_key p = test_key_bytes(&run, CAIRN_TAG_KV, "a\xff\xff", 3);
    cairn_key want = test_kv(&run, "b");
    assert_prefix_end_is(&p, want.bytes, want.len);
}

Test(keys, prefix_end_of_a_bare_prefix_is_the_next_tag)
{
    cairn_run_id run = test_run(0x12, 0x36);
    cairn_key p = test_prefix(&run, CAIRN_TAG_KV);
    cairn_key want = test_prefix(&run, CAIRN_TAG_EVENT);
    assert_prefix_end_is(&p, want.bytes, want.len);

    /* the run index prefix ends just after the run tag */
    cairn_run_id zero = test_zero_run();
    cairn_key runs = test_prefix(&zero, CAIRN_TAG_RUN);
    uint8_t want_bytes[CAIRN_KEY_PREFIX_SIZE] = {0};
    want_bytes[CAIRN_RUN_ID_SIZE] = CAIRN_TAG_RUN + 1;
    assert_prefix_end_is(&runs, want_bytes, sizeof want_bytes);
}

Test(keys, prefix_end_carries_into_the_tag_for_an_all_ff_rest)
{
    cairn_run_id run;
    memset(run.bytes, 0xFF, sizeof run.bytes);
    cairn_key p = test_key_bytes(&run, CAIRN_TAG_KV, "\xff\xff", 2);
    uint8_t want[CAIRN_KEY_PREFIX_SIZE];
    memset(want, 0xFF, CAIRN_RUN_ID_SIZE);
    want[CAIRN_RUN_ID_SIZE] = CAIRN_TAG_KV + 1;
    assert_prefix_end_is(&p, want, sizeof want);
}

Test(keys, prefix_end_bounds_exactly_the_keys_with_that_prefix)
{
    test_rng rng = test_rng_seeded(99);
    cairn_run_id run = test_run(0xFE, 0xFF);
    static const uint8_t alphabet[] = {0x00, 0x01, 0x7F, 0xFE, 0xFF};
    for (int i = 0; i < 4000; i++) {
        uint8_t pb[4], kb[6];
        size_t pn = (size_t)test_rng_below(&rng, 4);
        size_t kn = 1 + (size_t)test_rng_below(&rng, 6);
        for (size_t j = 0; j < pn; j++)
            pb[j] = alphabet[test_rng_below(&rng, sizeof alphabet)];
        for (size_t j = 0; j < kn; j++)
            kb[j] = alphabet[test_rng_below(&rng, sizeof alphabet)];
        cairn_key prefix = test_key_bytes(&run, CAIRN_TAG_KV, pb, pn);
        cairn_key key = test_key_bytes(&run, CAIRN_TAG_KV, kb, kn);
        cairn_key end;
        ASSERT_OK(cairn_key_prefix_end(&prefix, &end));

        bool has_prefix = key.len >= prefix.len && memcmp(key.bytes, prefix.bytes, prefix.len) == 0;
        bool in_range = slice_cmp(cairn_key_slice(&key), cairn_key_slice(&prefix)) >= 0 &&
                        (end.len == 0 || slice_cmp(cairn_key_slice(&key), cairn_key_slice(&end)) < 0);
        cr_assert_eq(has_prefix, in_range, "iteration %d: prefix %zu bytes, key %zu bytes", i, pn,
                     kn);
    }
}

Test(keys, prefix_end_refuses_null_pointers)
{
    cairn_key p = test_key("a");
    cairn_key end;
    ASSERT_STATUS(cairn_key_prefix_end(NULL, &end), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_key_prefix_end(&p, NULL), CAIRN_INVALID_ARGUMENT);
}

/* ---- run ids: text form ---------------------------------------------------- */

Test(run_id, formats_as_lowercase_hex_with_dashes)
{
    const cairn_run_id id = {{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba,
                              0x98, 0x76, 0x54, 0x32, 0x10}};
    char text[CAIRN_RUN_ID_TEXT_LEN + 1];
    memset(text, '#', sizeof text);
    ASSERT_OK(cairn_run_id_format(&id, text));
    cr_assert_str_eq(text, "01234567-89ab-cdef-fedc-ba9876543210");
    cr_assert_eq(strlen(text), CAIRN_RUN_ID_TEXT_LEN);
}

Test(run_id, parse_then_format_round_trips)
{
    test_rng rng = test_rng_seeded(1234);
    for (int i = 0; i < 2000; i++) {
        cairn_run_id id, back;
        for (int j = 0; j < CAIRN_RUN_ID_SIZE; j++)
            id.bytes[j] = (uint8_t)test_rng_next(&rng);
        char text[CAIRN_RUN_ID_TEXT_LEN + 1];
        ASSERT_OK(cairn_run_id_format(&id, text));
        ASSERT_OK(cairn_run_id_parse(text, CAIRN_RUN_ID_TEXT_LEN, &back));
        cr_assert_eq(memcmp(&id, &back, sizeof id), 0, "round trip of %s", text);
    }
}

Test(run_id, parse_accepts_uppercase_hex)
{
    cairn_run_id id;
    const char *text = "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9";
    ASSERT_OK(cairn_run_id_parse(text, strlen(text), &id));
    char back[CAIRN_RUN_ID_TEXT_LEN + 1];
    ASSERT_OK(cairn_run_id_format(&id, back));
    cr_assert_str_eq(back, "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");
}

Test(run_id, parse_reads_only_len_bytes)
{
    const char *text = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9-and-more";
    cairn_run_id id;
    ASSERT_OK(cairn_run_id_parse(text, CAIRN_RUN_ID_TEXT_LEN, &id));
    cr_assert_eq(id.bytes[0], 0x0a);
    cr_assert_eq(id.bytes[15], 0xf9);
}

Test(run_id, parse_rejects_malformed_text_and_leaves_the_id_unchanged)
{
    const char *good = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9";
    const struct {
        const char *text;
        size_t len;
        const char *why;
    } bad[] = {
        {good, 35, "one character short"},
        {"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f90", 37, "one character long"},
        {"", 0, "empty"},
        {"0a1b2c3d4e5f60718293a4b5c6d7e8f9", 32, "no dashes"},
        {"0a1b2c3g-4e5f-6071-8293-a4b5c6d7e8f9", 36, "bad hex 'g'"},
        {"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f ", 36, "trailing space"},
        {"0x1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", 36, "0x"},
        {"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8\xc3\xa9", 36, "non-ascii"},
        {"0a1b2c3-d4e5f-6071-8293-a4b5c6d7e8f9", 36, "first dash one early"},
        {"0a1b2c3d4-e5f-6071-8293-a4b5c6d7e8f9", 36, "first dash one late"},
        {"0a1b2c3d-4e5f6-071-8293-a4b5c6d7e8f9", 36, "second dash misplaced"},
        {"0a1b2c3d-4e5f-60718-293-a4b5c6d7e8f9", 36, "third dash misplaced"},
        {"0a1b2c3d-4e5f-6071-8293a-4b5c6d7e8f9", 36, "fourth dash misplaced"},
        {"0a1b2c3d+4e5f+6071+8293+a4b5c6d7e8f9", 36, "plus instead of dash"},
        {"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8-9", 36, "dash in the last group"},
        {"-0a1b2c3d4e5f-6071-8293-a4b5c6d7e8f9", 36, "leading dash"},
        {"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f\0", 36, "embedded NUL"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_run_id id;
        memset(&id, 0x5A, sizeof id);
        cr_assert_eq(cairn_run_id_parse(bad[i].text, bad[i].len, &id), CAIRN_INVALID_ARGUMENT,
                     "accepted: %s", bad[i].why);
        for (int j = 0; j < CAIRN_RUN_ID_SIZE; j++)
            cr_assert_eq(id.bytes[j], 0x5A, "%s: id changed on failure", bad[i].why);
    }
}

Test(run_id, format_and_parse_refuse_null_pointers)
{
    cairn_run_id id = test_run(1, 1);
    char text[CAIRN_RUN_ID_TEXT_LEN + 1];
    ASSERT_STATUS(cairn_run_id_format(NULL, text), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_id_format(&id, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_id_parse(NULL, CAIRN_RUN_ID_TEXT_LEN, &id), CAIRN_INVALID_ARGUMENT);
    ASSERT_OK(cairn_run_id_format(&id, text));
    ASSERT_STATUS(cairn_run_id_parse(text, CAIRN_RUN_ID_TEXT_LEN, NULL), CAIRN_INVALID_ARGUMENT);
}

Test(run_id, is_zero_only_for_the_all_zero_id)
{
    cairn_run_id id = test_zero_run();
    cr_assert(cairn_run_id_is_zero(&id));
    for (int i = 0; i < CAIRN_RUN_ID_SIZE; i++) {
        cairn_run_id one = test_zero_run();
        one.bytes[i] = 1;
        cr_assert_not(cairn_run_id_is_zero(&one), "byte %d set", i);
    }
}

/* ---- run ids: generation ----------------------------------------------------- */

static uint64_t id_millis(const cairn_run_id *id)
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = (ms << 8) | id->bytes[i];
    return ms;
}

static int id_cmp(const cairn_run_id *a, const cairn_run_id *b)
{
    return memcmp(a->bytes, b->bytes, CAIRN_RUN_ID_SIZE);
}

Test(run_id, generated_ids_carry_the_clock_time_and_uuidv7_bits)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);

    cairn_run_id id;
    ASSERT_OK(cairn_run_id_generate(db, &id));
    cr_assert_eq(id_millis(&id), (uint64_t)(FAKE_CLOCK_START_US / 1000));
    cr_assert_eq(id.bytes[6] >> 4, 7, "version nibble");
    cr_assert_eq(id.bytes[8] >> 6, 2, "variant bits");
    cr_assert_not(cairn_run_id_is_zero(&id));

    fake_clock_advance(&clock, 5 * 1000 * 1000);
    ASSERT_OK(cairn_run_id_generate(db, &id));
    cr_assert_eq(id_millis(&id), (uint64_t)(FAKE_CLOCK_START_US / 1000 + 5000));
    test_close(db);
}

Test(run_id, generated_ids_strictly_increase_within_one_millisecond)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);

    cairn_run_id prev;
    ASSERT_OK(cairn_run_id_generate(db, &prev));
    for (int i = 0; i < 1000; i++) {
        cairn_run_id id;
        ASSERT_OK(cairn_run_id_generate(db, &id));
        cr_assert_gt(id_cmp(&id, &prev), 0, "id %d is not greater than the one before", i);
        prev = id;
    }
    test_close(db);
}

Test(run_id, generated_ids_keep_increasing_past_the_per_millisecond_counter)
{
    /* 12 counter bits give 4096 ids per millisecond; a frozen clock must not
     * make the generator repeat or go backwards after that. */
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);

    cairn_run_id prev;
    ASSERT_OK(cairn_run_id_generate(db, &prev));
    for (int i = 0; i < 10000; i++) {
        cairn_run_id id;
        ASSERT_OK(cairn_run_id_generate(db, &id));
        cr_assert_gt(id_cmp(&id, &prev), 0, "id %d is not greater than the one before", i);
        prev = id;
    }
    test_close(db);
}

Test(run_id, generated_ids_sort_by_clock_time)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);

    cairn_run_id prev;
    ASSERT_OK(cairn_run_id_generate(db, &prev));
    for (int i = 0; i < 200; i++) {
        fake_clock_advance(&clock, 1000 * (1 + i % 7)); /* whole milliseconds */
        cairn_run_id id;
        ASSERT_OK(cairn_run_id_generate(db, &id));
        cr_assert_gt(id_millis(&id), id_millis(&prev));
        cr_assert_gt(id_cmp(&id, &prev), 0);
        cr_assert_eq(id_millis(&id), (uint64_t)(fake_clock_read(&clock) / 1000));
        prev = id;
    }
    test_close(db);
}

Test(run_id, generated_ids_keep_increasing_when_the_clock_steps_back)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);

    cairn_run_id prev;
    ASSERT_OK(cairn_run_id_generate(db, &prev));
    fake_clock_advance(&clock, -60 * 1000 * 1000);
    for (int i = 0; i < 100; i++) {
        cairn_run_id id;
        ASSERT_OK(cairn_run_id_generate(db, &id));
        cr_assert_gt(id_cmp(&id, &prev), 0, "id %d after the clock stepped back", i);
        prev = id;
    }
    test_close(db);
}

Test(run_id, generate_refuses_null_pointers)
{
    cairn_db *db = test_open(NULL);
    cairn_run_id id;
    ASSERT_STATUS(cairn_run_id_generate(NULL, &id), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_id_generate(db, NULL), CAIRN_INVALID_ARGUMENT);
    test_close(db);
}

/* ---- prefix scans over a live database -------------------------------------- */

typedef struct stored_key {
    cairn_key key;
    char value[32];
} stored_key;

static int stored_key_cmp(const void *pa, const void *pb)
{
    const stored_key *a = pa, *b = pb;
    return slice_cmp(cairn_key_slice(&a->key), cairn_key_slice(&b->key));
}

Test(keys, prefix_scan_yields_exactly_one_run_and_tag_in_order)
{
    enum { RUNS = 4, TAGS = 4, PER = 25 };
    cairn_run_id runs[RUNS] = {test_run(0x10, 0x00), test_run(0x10, 0x01), test_run(0x10, 0xFF),
                               test_run(0xFF, 0xFF)};
    const cairn_tag tags[TAGS] = {CAIRN_TAG_KV, CAIRN_TAG_EVENT, CAIRN_TAG_STATE,
                                  CAIRN_TAG_TRACE};
    static stored_key all[RUNS * TAGS * PER + PER];
    size_t n = 0;
    test_rng rng = test_rng_seeded(2024);

    cairn_db *db = test_open(NULL);
    cairn_txn *txn;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    for (int r = 0; r < RUNS; r++) {
        for (int t = 0; t < TAGS; t++) {
            for (int i = 0; i < PER; i++) {
                stored_key *s = &all[n++];
                uint8_t rest[6];
                size_t len = 1 + (size_t)test_rng_below(&rng, sizeof rest);
                for (size_t j = 0; j < len; j++)
                    rest[j] = (uint8_t)test_rng_next(&rng); /* includes 0x00 and 0xFF */
                rest[0] = (uint8_t)i; /* distinct within one (run, tag) */
                ASSERT_OK(cairn_key_make(&s->key, &runs[r], tags[t], cairn_slice_of(rest, len)));
                snprintf(s->value, sizeof s->value, "r%d t%d i%d", r, t, i);
                ASSERT_OK(cairn_txn_put(txn, &s->key, test_str(s->value)));
            }
        }
    }
    /* run index entries under the zero run */
    cairn_run_id zero = test_zero_run();
    for (int i = 0; i < PER; i++) {
        stored_key *s = &all[n++];
        ASSERT_OK(cairn_key_init(&s->key, &zero, CAIRN_TAG_RUN));
        ASSERT_OK(cairn_key_append_u8(&s->key, 1));
        ASSERT_OK(cairn_key_append_u64(&s->key, (uint64_t)(PER - i)));
        snprintf(s->value, sizeof s->value, "run %d", i);
        ASSERT_OK(cairn_txn_put(txn, &s->key, test_str(s->value)));
    }
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    /* every (run, tag) prefix, plus the run index prefix */
    for (int r = 0; r <= RUNS; r++) {
        for (int t = 0; t < TAGS; t++) {
            if (r == RUNS && t > 0)
                break;
            const cairn_run_id *run = r < RUNS ? &runs[r] : &zero;
            cairn_tag tag = r < RUNS ? tags[t] : CAIRN_TAG_RUN;
            cairn_key prefix = test_prefix(run, tag);

            /* what the scan should give: our keys with that run and tag, sorted */
            stored_key want[PER];
            size_t nwant = 0;
            for (size_t i = 0; i < n; i++) {
                cairn_run_id krun;
                cairn_tag ktag;
                ASSERT_OK(cairn_key_decode(cairn_key_slice(&all[i].key), &krun, &ktag, NULL));
                if (memcmp(&krun, run, sizeof krun) == 0 && ktag == tag)
                    want[nwant++] = all[i];
            }
            cr_assert_eq(nwant, PER);
            qsort(want, nwant, sizeof want[0], stored_key_cmp);

            cairn_txn_options ro;
            cairn_txn_options_init(&ro);
            ro.mode = CAIRN_TXN_READ_ONLY;
            ASSERT_OK(cairn_txn_begin(db, &ro, &txn));
            cairn_iter *it;
            ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
            cairn_slice k, v;
            size_t got = 0;
            cairn_status st;
            while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
                cr_assert_lt(got, nwant, "scan of run %d tag %d yields too many keys", r, t);
                cairn_run_id krun;
                cairn_tag ktag;
                cairn_slice rest;
                ASSERT_OK(cairn_key_decode(k, &krun, &ktag, &rest));
                cr_assert_eq(memcmp(&krun, run, sizeof krun), 0, "a key of another run");
                cr_assert_eq(ktag, tag, "a key of another tag");
                cr_assert(slice_eq(k, cairn_key_slice(&want[got].key)),
                          "run %d tag %d: key %zu out of order or unexpected", r, t, got);
                ASSERT_SLICE_STR(v, want[got].value);
                got++;
            }
            ASSERT_STATUS(st, CAIRN_DONE);
            cr_assert_eq(got, nwant, "run %d tag %d: %zu keys, expected %zu", r, t, got, nwant);
            cairn_iter_free(it);
            ASSERT_OK(cairn_txn_commit(txn));
            cairn_txn_free(txn);
        }
    }
    test_close(db);
}

Test(keys, prefix_scan_over_a_key_prefix_matches_only_longer_keys)
{
    cairn_run_id run = test_run(0x21, 0x01);
    cairn_db *db = test_open(NULL);
    const char *names[] = {"a", "ab", "ab\xff", "abc", "abd", "ac", "b"};
    cairn_txn *txn;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cairn_key k = test_kv(&run, names[i]);
        ASSERT_OK(cairn_txn_put(txn, &k, test_str(names[i])));
    }
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_key prefix = test_kv(&run, "ab");
    cairn_iter *it;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    const char *want[] = {"ab", "abc", "abd", "ab\xff"}; /* bytewise: 0xFF sorts last */
    cairn_slice k, v;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ASSERT_OK(cairn_iter_next(it, &k, &v));
        ASSERT_SLICE_STR(v, want[i]);
    }
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}
