/*
 * cairn/types.h - byte slices, run ids and encoded keys.
 *
 * Every key cairn stores is `[run_id:16][type_tag:1][rest]`, compared
 * bytewise.  Keys are built only through the functions below, which refuse
 * combinations that would let one run or primitive reach another's data:
 * the all-zero run id belongs to the RunIndex alone, and tags outside the
 * public range are refused.  Variable-length parts of a composite key are
 * appended with cairn_key_append_field(), which length-prefixes them, so no
 * user-supplied bytes can ever produce another run's, another primitive's or
 * another index's key.
 */
#ifndef CAIRN_TYPES_H
#define CAIRN_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed run of bytes: `len` bytes at `data`.  `data` may be NULL only
 * when `len` is 0.  cairn never assumes NUL termination. */
typedef struct cairn_slice {
    const void *data;
    size_t len;
} cairn_slice;

/* A slice over `len` bytes at `p`. */
static inline cairn_slice cairn_slice_of(const void *p, size_t len)
{
    cairn_slice s = {p, len};
    return s;
}

/* Bytes the caller owns (results of implicit-transaction primitive calls):
 * free with cairn_bytes_free(). */
typedef struct cairn_bytes {
    uint8_t *data;
    size_t len;
} cairn_bytes;

/* Frees b->data and empties `*b` (NULL-safe, idempotent). */
void cairn_bytes_free(cairn_bytes *b);

/* A borrowed view of owned bytes. */
static inline cairn_slice cairn_bytes_slice(const cairn_bytes *b)
{
    cairn_slice s = {b->data, b->len};
    return s;
}

/* ---- Run ids ---------------------------------------------------------- */

#define CAIRN_RUN_ID_SIZE 16
/* Length of the canonical text form, without the terminating NUL. */
#define CAIRN_RUN_ID_TEXT_LEN 36

/* A 16-byte run id.  Generated ids are time-ordered (UUIDv7 layout: 48-bit
 * Unix milliseconds, version 7, a 12-bit counter that keeps ids from one
 * open database strictly increasing within a millisecond, variant, 62
 * random bits), so sorting ids sorts runs by creation time. */
typedef struct cairn_run_id {
    uint8_t bytes[CAIRN_RUN_ID_SIZE];
} cairn_run_id;

/* True when every byte of `id` is zero (the id reserved for the RunIndex). */
bool cairn_run_id_is_zero(const cairn_run_id *id);

/*
 * Writes the canonical text form of `id` (36 lowercase hex characters with
 * dashes, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") and a terminating NUL into
 * `out`, which must hold CAIRN_RUN_ID_TEXT_LEN + 1 bytes.
 * Returns CAIRN_INVALID_ARGUMENT when `id` or `out` is NULL.
 */
cairn_status cairn_run_id_format(const cairn_run_id *id, char *out);

/*
 * Parses the canonical text form (exactly 36 characters; hex digits in
 * either case, dashes at offsets 8, 13, 18 and 23) from `text`/`len` into
 * `*idp`.  Returns CAIRN_INVALID_ARGUMENT for NULL pointers or any other
 * input; `*idp` is then unchanged.
 */
cairn_status cairn_run_id_parse(const char *text, size_t len, cairn_run_id *idp);

/* ---- Type tags -------------------------------------------------------- */

/* The primitive a key belongs to (the byte after the run id). */
typedef enum cairn_tag {
    CAIRN_TAG_KV = 0x01,     /* KVStore: rest is the user's key */
    CAIRN_TAG_EVENT = 0x02,  /* EventLog */
    CAIRN_TAG_STATE = 0x03,  /* StateCell: rest is the cell name */
    CAIRN_TAG_TRACE = 0x04,  /* TraceStore */
    CAIRN_TAG_RUN = 0x05,    /* RunIndex: only under the all-zero run id */
} cairn_tag;

/* ---- Encoded keys ----------------------------------------------------- */

/* Size of the fixed key prefix: run id plus tag. */
#define CAIRN_KEY_PREFIX_SIZE (CAIRN_RUN_ID_SIZE + 1)
/* Largest `rest` (everything after the tag), in bytes. */
#define CAIRN_KEY_REST_MAX 1024
/* Largest encoded key, in bytes. */
#define CAIRN_KEY_MAX (CAIRN_KEY_PREFIX_SIZE + CAIRN_KEY_REST_MAX)
/* Largest single field appended with cairn_key_append_field(). */
#define CAIRN_KEY_FIELD_MAX (CAIRN_KEY_REST_MAX - 2)

/*
 * An encoded key.  Treat it as opaque: build it with cairn_key_init() /
 * cairn_key_make() and the append functions, read it with cairn_key_slice()
 * and cairn_key_decode().  It lives wherever the caller puts it (usually the
 * stack) and owns no heap memory.
 */
typedef struct cairn_key {
    uint32_t len;
    uint8_t bytes[CAIRN_KEY_MAX];
} cairn_key;

/*
 * Starts `*key` as the prefix of run `run` and primitive `tag`, with an
 * empty rest.  Refuses (CAIRN_INVALID_ARGUMENT) NULL pointers, a tag outside
 * cairn_tag, the all-zero run id with any tag but CAIRN_TAG_RUN, and any
 * other run id with CAIRN_TAG_RUN.  A key with an empty rest is a valid
 * prefix for scans but cannot be written.
 */
cairn_status cairn_key_init(cairn_key *key, const cairn_run_id *run, cairn_tag tag);

/*
 * cairn_key_init() followed by cairn_key_append(key, rest): the key of a
 * primitive whose rest is one opaque byte string (a KV key, a cell name).
 */
cairn_status cairn_key_make(cairn_key *key, const cairn_run_id *run, cairn_tag tag,
                            cairn_slice rest);

/*
 * Appends raw bytes.  Only safe as the LAST component of a key: raw bytes
 * are not length-prefixed.  CAIRN_TOO_LARGE when the rest would pass
 * CAIRN_KEY_REST_MAX (the key is then unchanged).
 */
cairn_status cairn_key_append(cairn_key *key, cairn_slice bytes);

/*
 * Appends a length-prefixed field (2-byte big-endian length, then the
 * bytes), keeping a composite key injective whatever the field holds.
 * CAIRN_TOO_LARGE past CAIRN_KEY_FIELD_MAX or CAIRN_KEY_REST_MAX.
 */
cairn_status cairn_key_append_field(cairn_key *key, cairn_slice bytes);

/* Appends one byte (a sub-kind marker).  CAIRN_TOO_LARGE when full. */
cairn_status cairn_key_append_u8(cairn_key *key, uint8_t v);

/* Appends a big-endian 64-bit integer (so keys sort numerically).
 * CAIRN_TOO_LARGE when full. */
cairn_status cairn_key_append_u64(cairn_key *key, uint64_t v);

/* The encoded bytes of `key` (borrowed from `key`). */
static inline cairn_slice cairn_key_slice(const cairn_key *key)
{
    return cairn_slice_of(key->bytes, key->len);
}

/*
 * Splits an encoded key into its run id, tag and rest.  `rest` borrows from
 * `encoded`.  Any out-pointer may be NULL.  CAIRN_INVALID_ARGUMENT when
 * `encoded` is shorter than the prefix, longer than CAIRN_KEY_MAX, or breaks
 * the run-id/tag rules of cairn_key_init().
 */
cairn_status cairn_key_decode(cairn_slice encoded, cairn_run_id *runp, cairn_tag *tagp,
                              cairn_slice *restp);

/*
 * Sets `*end` to the smallest key greater than every key that starts with
 * `prefix` (the exclusive upper bound of a prefix scan).  When no such key
 * exists (the prefix is all 0xFF) `*end` gets length 0, which cairn_txn_scan
 * reads as "no upper bound".
 */
cairn_status cairn_key_prefix_end(const cairn_key *prefix, cairn_key *end);

#ifdef __cplusplus
}
#endif

#endif /* CAIRN_TYPES_H */
