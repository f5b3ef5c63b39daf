/* keys.c - the key encoding: [run_id:16][tag:1][rest]. */
#include <string.h>

#include "cairn/types.h"

bool cairn_run_id_is_zero(const cairn_run_id *id)
{
    static const cairn_run_id zero;
    return id != NULL && memcmp(id->bytes, zero.bytes, CAIRN_RUN_ID_SIZE) == 0;
}

/* Whether `tag` is public and agrees with `run` (zero run <=> RunIndex). */
static bool tag_fits_run(const cairn_run_id *run, unsigned tag)
{
    if (tag < CAIRN_TAG_KV || tag > CAIRN_TAG_RUN)
        return false;
    return cairn_run_id_is_zero(run) == (tag == CAIRN_TAG_RUN);
}

cairn_status cairn_key_init(cairn_key *key, const cairn_run_id *run, cairn_tag tag)
{
    if (key == NULL || run == NULL || !tag_fits_run(run, (unsigned)tag))
        return CAIRN_INVALID_ARGUMENT;
    memcpy(key->bytes, run->bytes, CAIRN_RUN_ID_SIZE);
    key->bytes[CAIRN_RUN_ID_SIZE] = (uint8_t)tag;
    key->len = CAIRN_KEY_PREFIX_SIZE;
    return CAIRN_OK;
}

cairn_status cairn_key_append(cairn_key *key, cairn_slice bytes)
{
    if (key == NULL || (bytes.data == NULL && bytes.len > 0) || key->len > CAIRN_KEY_MAX)
        return CAIRN_INVALID_ARGUMENT;
    if (bytes.len > (size_t)(CAIRN_KEY_MAX - key->len))
        return CAIRN_TOO_LARGE;
    if (bytes.len)
        memcpy(key->bytes + key->len, bytes.data, bytes.len);
    key->len += (uint32_t)bytes.len;
    return CAIRN_OK;
}

cairn_status cairn_key_make(cairn_key *key, const cairn_run_id *run, cairn_tag tag,
                            cairn_slice rest)
{
    cairn_status st = cairn_key_init(key, run, tag);
    if (st == CAIRN_OK)
        st = cairn_key_append(key, rest);
    return st;
}

cairn_status cairn_key_append_field(cairn_key *key, cairn_slice bytes)
{
    if (key == NULL || (bytes.data == NULL && bytes.len > 0) || key->len > CAIRN_KEY_MAX)
        return CAIRN_INVALID_ARGUMENT;
    if (bytes.len > CAIRN_KEY_FIELD_MAX || bytes.len + 2 > (size_t)(CAIRN_KEY_MAX - key->len))
        return CAIRN_TOO_LARGE;
    key->bytes[key->len] = (uint8_t)(bytes.len >> 8);
    key->bytes[key->len + 1] = (uint8_t)bytes.len;
    if (bytes.len)
        memcpy(key->bytes + key->len + 2, bytes.data, bytes.len);
    key->len += (uint32_t)bytes.len + 2;
    return CAIRN_OK;
}

cairn_status cairn_key_append_u8(cairn_key *key, uint8_t v)
{
    return cairn_key_append(key, cairn_slice_of(&v, 1));
}

cairn_status cairn_key_append_u64(cairn_key *key, uint64_t v)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(v >> (56 - 8 * i));
    return cairn_key_append(key, cairn_slice_of(be, sizeof be));
}

cairn_status cairn_key_decode(cairn_slice encoded, cairn_run_id *runp, cairn_tag *tagp,
                              cairn_slice *restp)
{
    if (encoded.data == NULL || encoded.len < CAIRN_KEY_PREFIX_SIZE || encoded.len > CAIRN_KEY_MAX)
        return CAIRN_INVALID_ARGUMENT;
    const uint8_t *p = encoded.data;
    cairn_run_id run;
    memcpy(run.bytes, p, CAIRN_RUN_ID_SIZE);
    unsigned tag = p[CAIRN_RUN_ID_SIZE];
    if (!tag_fits_run(&run, tag))
        return CAIRN_INVALID_ARGUMENT;
    if (runp)
        *runp = run;
    if (tagp)
        *tagp = (cairn_tag)tag;
    if (restp)
        *restp = cairn_slice_of(p + CAIRN_KEY_PREFIX_SIZE, encoded.len - CAIRN_KEY_PREFIX_SIZE);
    return CAIRN_OK;
}

cairn_status cairn_key_prefix_end(const cairn_key *prefix, cairn_key *end)
{
    if (prefix == NULL || end == NULL || prefix->len > CAIRN_KEY_MAX)
        return CAIRN_INVALID_ARGUMENT;
    uint32_t n = prefix->len;
    if (end != prefix)
        memcpy(end->bytes, prefix->bytes, n);
    while (n > 0 && end->bytes[n - 1] == 0xFF)
        n--;
    if (n > 0)
        end->bytes[n - 1]++;
    end->len = n;
    return CAIRN_OK;
}
