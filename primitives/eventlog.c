/*
 * eventlog.c - EventLog: a run's hash-chained, append-only events (see
 * cairn/eventlog.h; the bytes are in docs/FORMAT.md, "EventLog").
 *
 * Keys, all [run][0x02][sub-kind]...:
 *   0x00                        meta: [len u64 BE][head hash 32]
 *   0x01 [seq u64 BE]           event: canonical encoding ‖ hash
 *   0x02 [type field][seq u64]  by-type index entry (empty value)
 *   0x04 [id field]             idempotency record: [seq u64 BE][hash 32]
 * Every append reads the meta key and writes it, so appenders to one run
 * conflict and retry (no gaps, no duplicates) while runs stay independent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <pthread.h>

#include "cairn/eventlog.h"
#include "primitives/prim.h"

enum { SUB_META = 0x00, SUB_EVENT = 0x01, SUB_TYPE = 0x02, SUB_ID = 0x04 };
enum { EVENT_FORMAT = 1, META_SIZE = 8 + CAIRN_EVENT_HASH_SIZE };

/* Canonical encoding: [format u8][seq u64][ts i64][type_len u8][type]
 * [payload_len u32][payload][prev_hash 32]; the stored value appends the
 * hash of those bytes. */
#define CANON_FIXED (1u + 8u + 8u + 1u + 4u + CAIRN_EVENT_HASH_SIZE)

/* SHA-256 through an algorithm fetched once: OpenSSL 3's one-shot SHA256
 * function looks the algorithm up again on every call, which cost more
 * than the hashing itself for an event-sized input. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static void sha256(const void *data, size_t len, uint8_t out[CAIRN_EVENT_HASH_SIZE])
{
    pthread_once(&sha256_once, sha256_init);
    unsigned int n = 0;
    if (sha256_md == NULL || !EVP_Digest(data, len, out, &n, sha256_md, NULL) ||
        n != CAIRN_EVENT_HASH_SIZE)
        abort(); /* the library cannot work without SHA-256 */
}

void cairn_event_genesis(const cairn_run_id *run, uint8_t hash[CAIRN_EVENT_HASH_SIZE])
{
    static const char tag[] = "cairn.event.genesis";
    uint8_t buf[sizeof tag - 1 + CAIRN_RUN_ID_SIZE];
    memcpy(buf, tag, sizeof tag - 1);
    memcpy(buf + sizeof tag - 1, run->bytes, CAIRN_RUN_ID_SIZE);
    sha256(buf, sizeof buf, hash);
}

void cairn_event_free(cairn_event *ev)
{
    if (ev == NULL)
        return;
    cairn_bytes_free(&ev->type);
    cairn_bytes_free(&ev->payload);
    memset(ev, 0, sizeof *ev);
}

/* ---- keys ------------------------------------------------------------------ */

static void key_base(cairn_key *k, const cairn_run_id *run, uint8_t sub)
{
    cairn_key_init(k, run, CAIRN_TAG_EVENT); /* run checked by the caller */
    cairn_key_append_u8(k, sub);
}

static void key_event(cairn_key *k, const cairn_run_id *run, uint64_t seq)
{
    key_base(k, run, SUB_EVENT);
    cairn_key_append_u64(k, seq);
}

/* Checks a run and a type name for `fn`. */
static cairn_status check_type(cairn_txn *txn, cairn_slice type, const char *fn)
{
    if (type.data == NULL && type.len)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: type data is NULL with length %zu", fn,
                            type.len);
    if (type.len == 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: the event type is empty", fn);
    if (type.len > CAIRN_EVENT_TYPE_MAX)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: the event type is %zu bytes, past the limit of %u",
                            fn, type.len, CAIRN_EVENT_TYPE_MAX);
    return CAIRN_OK;
}

/* ---- decoding ---------------------------------------------------------------- */

/* Decodes a stored event; false when the bytes are not one. */
static bool decode(cairn_slice v, cairn_event_view *ev)
{
    const uint8_t *p = v.data;
    if (v.len < CANON_FIXED + CAIRN_EVENT_HASH_SIZE || p[0] != EVENT_FORMAT)
        return false;
    size_t tlen = p[17];
    if (v.len < CANON_FIXED + CAIRN_EVENT_HASH_SIZE + tlen)
        return false;
    uint32_t plen = prim_get_be32(p + 18 + tlen);
    if (v.len != CANON_FIXED + CAIRN_EVENT_HASH_SIZE + tlen + plen)
        return false;
    ev->seq = prim_get_be64(p + 1);
    ev->timestamp_us = (int64_t)prim_get_be64(p + 9);
    ev->type = cairn_slice_of(p + 18, tlen);
    ev->payload = cairn_slice_of(p + 22 + tlen, plen);
    memcpy(ev->prev_hash, p + 22 + tlen + plen, CAIRN_EVENT_HASH_SIZE);
    memcpy(ev->hash, p + v.len - CAIRN_EVENT_HASH_SIZE, CAIRN_EVENT_HASH_SIZE);
    return true;
}

/* The hash a stored event should carry. */
static void hash_of(cairn_slice v, uint8_t out[CAIRN_EVENT_HASH_SIZE])
{
    sha256(v.data, v.len - CAIRN_EVENT_HASH_SIZE, out);
}

/* Reads the meta key: the length and the head hash (genesis when empty). */
static cairn_status read_meta(cairn_txn *txn, const cairn_run_id *run, uint64_t *lenp,
                              uint8_t head[CAIRN_EVENT_HASH_SIZE])
{
    cairn_key k;
    key_base(&k, run, SUB_META);
    cairn_slice v;
    cairn_status st = cairn_txn_get(txn, &k, &v);
    if (st == CAIRN_NOT_FOUND) {
        *lenp = 0;
        if (head)
            cairn_event_genesis(run, head);
        return CAIRN_OK;
    }
    if (st != CAIRN_OK)
        return st;
    if (v.len != META_SIZE)
        return prim_txn_err(txn, CAIRN_CORRUPT, "the event log's length record is %zu bytes, not %u", v.len,
                            (unsigned)META_SIZE);
    *lenp = prim_get_be64(v.data);
    if (head)
        memcpy(head, (const uint8_t *)v.data + 8, CAIRN_EVENT_HASH_SIZE);
    return CAIRN_OK;
}

/* ---- appending ------------------------------------------------------------------ */

static cairn_status append_common(cairn_txn *txn, const cairn_run_id *run, bool expect,
                                  uint64_t expected_len, cairn_slice type, cairn_slice payload,
                                  uint64_t *seqp, uint8_t hash[CAIRN_EVENT_HASH_SIZE], const char *fn)
{
    cairn_status st = prim_check_write(txn, run, fn);
    if (st != CAIRN_OK || (st = check_type(txn, type, fn)) != CAIRN_OK)
        return st;
    if (payload.data == NULL && payload.len)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: payload data is NULL with length %zu", fn,
                            payload.len);
    size_t size = CANON_FIXED + CAIRN_EVENT_HASH_SIZE + type.len + payload.len;
    if (payload.len > UINT32_MAX || size > txn->db->opts.max_value_size)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: a %zu-byte payload makes an event past max_value_size (%u)",
                            fn, payload.len, txn->db->opts.max_value_size);
    uint64_t len;
    uint8_t prev[CAIRN_EVENT_HASH_SIZE];
    if ((st = read_meta(txn, run, &len, prev)) != CAIRN_OK)
        return st;
    if (expect && len != expected_len) {
        if (seqp)
            *seqp = len;
        return prim_txn_err(txn, CAIRN_VERSION_MISMATCH, "%s: the log holds %llu events, not the expected %llu",
                            fn, (unsigned long long)len, (unsigned long long)expected_len);
    }
    if (len == UINT64_MAX)
        return prim_txn_err(txn, CAIRN_LIMIT, "%s: the event log is full", fn);
    uint8_t small[512];
    uint8_t *buf = size <= sizeof small ? small : malloc(size);
    if (buf == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    uint8_t *p = buf;
    *p++ = EVENT_FORMAT;
    prim_put_be64(p, len);
    prim_put_be64(p + 8, (uint64_t)txn->now_us);
    p[16] = (uint8_t)type.len;
    memcpy(p + 17, type.data, type.len);
    p += 17 + type.len;
    prim_put_be32(p, (uint32_t)payload.len);
    if (payload.len)
        memcpy(p + 4, payload.data, payload.len);
    p += 4 + payload.len;
    memcpy(p, prev, CAIRN_EVENT_HASH_SIZE);
    p += CAIRN_EVENT_HASH_SIZE;
    sha256(buf, (size_t)(p - buf), p); /* the hash goes right after */

    cairn_key k;
    key_event(&k, run, len);
    st = cairn_txn_put(txn, &k, cairn_slice_of(buf, size));
    uint8_t h[CAIRN_EVENT_HASH_SIZE];
    memcpy(h, p, sizeof h);
    if (buf != small)
        free(buf);
    if (st != CAIRN_OK)
        return st;
    uint8_t meta[META_SIZE];
    prim_put_be64(meta, len + 1);
    memcpy(meta + 8, h, sizeof h);
    key_base(&k, run, SUB_META);
    if ((st = cairn_txn_put(txn, &k, cairn_slice_of(meta, sizeof meta))) != CAIRN_OK)
        return st;
    key_base(&k, run, SUB_TYPE);
    cairn_key_append_field(&k, type);
    cairn_key_append_u64(&k, len);
    if ((st = cairn_txn_put(txn, &k, cairn_slice_of(NULL, 0))) != CAIRN_OK)
        return st;
    if (seqp)
        *seqp = len;
    if (hash)
        memcpy(hash, h, sizeof h);
    return CAIRN_OK;
}

cairn_status cairn_event_append_tx(cairn_txn *txn, const cairn_run_id *run, cairn_slice type,
                                   cairn_slice payload, uint64_t *seqp,
                                   uint8_t hash[CAIRN_EVENT_HASH_SIZE])
{
    return append_common(txn, run, false, 0, type, payload, seqp, hash, "cairn_event_append");
}

cairn_status cairn_event_append_expect_tx(cairn_txn *txn, const cairn_run_id *run,
                                          uint64_t expected_len, cairn_slice type,
                                          cairn_slice payload, uint64_t *seqp,
                                          uint8_t hash[CAIRN_EVENT_HASH_SIZE])
{
    return append_common(txn, run, true, expected_len, type, payload, seqp, hash,
                         "cairn_event_append_expect");
}

cairn_status cairn_event_append_once_tx(cairn_txn *txn, const cairn_run_id *run,
                                        cairn_slice event_id, cairn_slice type, cairn_slice payload,
                                        uint64_t *seqp, uint8_t hash[CAIRN_EVENT_HASH_SIZE],
                                        bool *appendedp)
{
    const char *fn = "cairn_event_append_once";
    cairn_status st = prim_check_write(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (event_id.data == NULL && event_id.len)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: event_id data is NULL with length %zu", fn,
                            event_id.len);
    if (event_id.len == 0 || event_id.len > CAIRN_EVENT_ID_MAX)
        return prim_txn_err(txn, event_id.len ? CAIRN_TOO_LARGE : CAIRN_INVALID_ARGUMENT,
                            "%s: the event id is %zu bytes, outside 1..%u", fn, event_id.len,
                            CAIRN_EVENT_ID_MAX);
    cairn_key k;
    key_base(&k, run, SUB_ID);
    cairn_key_append_field(&k, event_id);
    cairn_slice v;
    st = cairn_txn_get(txn, &k, &v);
    if (st == CAIRN_OK) {
        if (v.len != 8 + CAIRN_EVENT_HASH_SIZE)
            return prim_txn_err(txn, CAIRN_CORRUPT, "%s: the record of this event id is malformed", fn);
        if (seqp)
            *seqp = prim_get_be64(v.data);
        if (hash)
            memcpy(hash, (const uint8_t *)v.data + 8, CAIRN_EVENT_HASH_SIZE);
        if (appendedp)
            *appendedp = false;
        return CAIRN_OK;
    }
    if (st != CAIRN_NOT_FOUND)
        return st;
    uint64_t seq;
    uint8_t h[CAIRN_EVENT_HASH_SIZE];
    if ((st = append_common(txn, run, false, 0, type, payload, &seq, h, fn)) != CAIRN_OK)
        return st;
    uint8_t rec[8 + CAIRN_EVENT_HASH_SIZE];
    prim_put_be64(rec, seq);
    memcpy(rec + 8, h, sizeof h);
    if ((st = cairn_txn_put(txn, &k, cairn_slice_of(rec, sizeof rec))) != CAIRN_OK)
        return st;
    if (seqp)
        *seqp = seq;
    if (hash)
        memcpy(hash, h, sizeof h);
    if (appendedp)
        *appendedp = true;
    return CAIRN_OK;
}

/* ---- reading --------------------------------------------------------------------- */

static cairn_status read_event(cairn_txn *txn, const cairn_run_id *run, uint64_t seq,
                               cairn_event_view *evp, const char *fn)
{
    cairn_key k;
    key_event(&k, run, seq);
    cairn_slice v;
    cairn_status st = cairn_txn_get(txn, &k, &v);
    if (st == CAIRN_NOT_FOUND)
        return prim_txn_err(txn, CAIRN_NOT_FOUND, "%s: the log has no event %llu", fn,
                            (unsigned long long)seq);
    if (st != CAIRN_OK)
        return st;
    if (!decode(v, evp) || evp->seq != seq)
        return prim_txn_err(txn, CAIRN_CORRUPT, "%s: stored event %llu is malformed", fn,
                            (unsigned long long)seq);
    return CAIRN_OK;
}

cairn_status cairn_event_read_tx(cairn_txn *txn, const cairn_run_id *run, uint64_t seq,
                                 cairn_event_view *evp)
{
    cairn_status st = prim_check_run(txn, run, "cairn_event_read");
    if (st != CAIRN_OK)
        return st;
    if (evp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "cairn_event_read: evp is NULL");
    return read_event(txn, run, seq, evp, "cairn_event_read");
}

cairn_status cairn_event_len_tx(cairn_txn *txn, const cairn_run_id *run, uint64_t *lenp)
{
    cairn_status st = prim_check_run(txn, run, "cairn_event_len");
    if (st != CAIRN_OK)
        return st;
    if (lenp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "cairn_event_len: lenp is NULL");
    return read_meta(txn, run, lenp, NULL);
}

cairn_status cairn_event_head_tx(cairn_txn *txn, const cairn_run_id *run, cairn_event_view *evp)
{
    uint64_t len;
    cairn_status st = cairn_event_len_tx(txn, run, &len);
    if (st != CAIRN_OK)
        return st;
    if (evp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "cairn_event_head: evp is NULL");
    if (len == 0)
        return prim_txn_err(txn, CAIRN_NOT_FOUND, "cairn_event_head: the log is empty");
    return read_event(txn, run, len - 1, evp, "cairn_event_head");
}

/* ---- iterators ------------------------------------------------------------------- */

struct cairn_event_iter {
    cairn_txn *txn;
    cairn_iter *it;
    const cairn_run_id *run;
    cairn_run_id run_copy;
    bool by_type;
};

static cairn_status iter_open(cairn_txn *txn, const cairn_run_id *run, const cairn_key *start,
                              const cairn_key *end, bool by_type, cairn_event_iter **iterp,
                              const char *fn)
{
    cairn_event_iter *e = calloc(1, sizeof *e);
    if (e == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    cairn_status st = cairn_txn_scan(txn, start, end, 0, &e->it);
    if (st != CAIRN_OK) {
        free(e);
        return st;
    }
    e->txn = txn;
    e->run_copy = *run;
    e->run = &e->run_copy;
    e->by_type = by_type;
    *iterp = e;
    return CAIRN_OK;
}

cairn_status cairn_event_iter_range(cairn_txn *txn, const cairn_run_id *run, uint64_t start,
                                    uint64_t end, cairn_event_iter **iterp)
{
    const char *fn = "cairn_event_iter_range";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (iterp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: iterp is NULL", fn);
    *iterp = NULL;
    cairn_key s, e;
    key_event(&s, run, start);
    if (end == UINT64_MAX) {
        cairn_key p;
        key_base(&p, run, SUB_EVENT);
        cairn_key_prefix_end(&p, &e);
    } else {
        key_event(&e, run, end < start ? start : end);
    }
    return iter_open(txn, run, &s, &e, false, iterp, fn);
}

cairn_status cairn_event_iter_type(cairn_txn *txn, const cairn_run_id *run, cairn_slice type,
                                   uint64_t start, cairn_event_iter **iterp)
{
    const char *fn = "cairn_event_iter_type";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK || (st = check_type(txn, type, fn)) != CAIRN_OK)
        return st;
    if (iterp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: iterp is NULL", fn);
    *iterp = NULL;
    cairn_key p, s, e;
    key_base(&p, run, SUB_TYPE);
    cairn_key_append_field(&p, type);
    s = p;
    cairn_key_append_u64(&s, start);
    cairn_key_prefix_end(&p, &e);
    return iter_open(txn, run, &s, &e, true, iterp, fn);
}

cairn_status cairn_event_iter_next(cairn_event_iter *it, cairn_event_view *evp)
{
    if (it == NULL || evp == NULL)
        return CAIRN_INVALID_ARGUMENT;
    cairn_slice k, v;
    cairn_status st = cairn_iter_next(it->it, &k, &v);
    if (st != CAIRN_OK)
        return st;
    uint64_t seq = prim_get_be64((const uint8_t *)k.data + k.len - 8);
    if (it->by_type)
        return read_event(it->txn, it->run, seq, evp, "cairn_event_iter_next");
    if (!decode(v, evp) || evp->seq != seq)
        return prim_txn_err(it->txn, CAIRN_CORRUPT, "cairn_event_iter_next: stored event %llu is malformed",
                            (unsigned long long)seq);
    return CAIRN_OK;
}

void cairn_event_iter_free(cairn_event_iter *it)
{
    if (it == NULL)
        return;
    cairn_iter_free(it->it);
    free(it);
}

/* ---- types -------------------------------------------------------------------------- */

void cairn_event_types_free(cairn_event_types *typesp)
{
    if (typesp == NULL)
        return;
    free(typesp->types);
    free(typesp->mem);
    memset(typesp, 0, sizeof *typesp);
}

cairn_status cairn_event_list_types_tx(cairn_txn *txn, const cairn_run_id *run,
                                       cairn_event_types *typesp)
{
    const char *fn = "cairn_event_list_types";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (typesp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: typesp is NULL", fn);
    memset(typesp, 0, sizeof *typesp);
    /* one seek per distinct type: from the first index entry of a type,
     * jump past every entry of it */
    cairn_key base, start, end;
    key_base(&base, run, SUB_TYPE);
    cairn_key_prefix_end(&base, &end);
    start = base;
    prim_pieces names = {0};
    for (;;) {
        cairn_iter *it = NULL;
        if ((st = cairn_txn_scan(txn, &start, &end, 1, &it)) != CAIRN_OK)
            goto fail;
        cairn_slice k, v;
        st = cairn_iter_next(it, &k, &v);
        if (st == CAIRN_DONE) {
            cairn_iter_free(it);
            break;
        }
        if (st != CAIRN_OK) {
            cairn_iter_free(it);
            goto fail;
        }
        const uint8_t *kp = k.data;
        size_t off = base.len;
        size_t tlen = k.len >= off + 2 ? ((size_t)kp[off] << 8 | kp[off + 1]) : 0;
        if (tlen == 0 || k.len != off + 2 + tlen + 8) {
            cairn_iter_free(it);
            st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: a malformed by-type index key", fn);
            goto fail;
        }
        if (prim_pieces_add(&names, kp + off + 2, tlen) != 0) {
            cairn_iter_free(it);
            goto oom;
        }
        /* the next type starts after every key with this type's field */
        cairn_key field;
        memcpy(field.bytes, kp, off + 2 + tlen);
        field.len = (uint32_t)(off + 2 + tlen);
        cairn_iter_free(it);
        if (cairn_key_prefix_end(&field, &start) != CAIRN_OK)
            break;
    }
    typesp->types = malloc((names.n ? names.n : 1) * sizeof *typesp->types);
    if (typesp->types == NULL)
        goto oom;
    for (size_t i = 0; i < names.n; i++)
        typesp->types[i] = prim_piece(&names, i);
    typesp->n = names.n;
    typesp->mem = names.mem;
    free(names.at);
    return CAIRN_OK;
oom:
    st = prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
fail:
    prim_pieces_free(&names);
    memset(typesp, 0, sizeof *typesp);
    return st;
}

/* ---- verification ------------------------------------------------------------------- */

static void report_bad(cairn_chain_report *r, cairn_chain_problem p, uint64_t seq, const char *why)
{
    r->ok = false;
    r->problem = p;
    r->bad_seq = seq;
    snprintf(r->why, sizeof r->why, "%s", why);
}

/* Walks the events from `from`, chaining from `prev`. */
static cairn_status verify_walk(cairn_txn *txn, const cairn_run_id *run, uint64_t from,
                                const uint8_t prev_in[CAIRN_EVENT_HASH_SIZE], cairn_chain_report *r)
{
    uint64_t len;
    uint8_t head[CAIRN_EVENT_HASH_SIZE];
    cairn_status st = read_meta(txn, run, &len, head);
    if (st != CAIRN_OK)
        return st;
    r->len = len;
    uint8_t prev[CAIRN_EVENT_HASH_SIZE];
    memcpy(prev, prev_in, sizeof prev);
    cairn_key s, e, p;
    key_event(&s, run, from);
    key_base(&p, run, SUB_EVENT);
    cairn_key_prefix_end(&p, &e);
    cairn_iter *it = NULL;
    if ((st = cairn_txn_scan(txn, &s, &e, 0, &it)) != CAIRN_OK)
        return st;
    uint64_t expect = from;
    cairn_slice k, v;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        uint64_t seq = k.len == p.len + 8 ? prim_get_be64((const uint8_t *)k.data + p.len) : UINT64_MAX;
        if (seq != expect) {
            report_bad(r, CAIRN_CHAIN_GAP, expect, "an event number is missing from the log");
            break;
        }
        cairn_event_view ev;
        if (!decode(v, &ev) || ev.seq != seq) {
            report_bad(r, CAIRN_CHAIN_MALFORMED, seq, "the stored event cannot be decoded");
            break;
        }
        if (memcmp(ev.prev_hash, prev, sizeof prev) != 0) {
            report_bad(r, CAIRN_CHAIN_BROKEN_LINK, seq, "its previous hash is not the hash of the event before it");
            break;
        }
        uint8_t h[CAIRN_EVENT_HASH_SIZE];
        hash_of(v, h);
        if (memcmp(h, ev.hash, sizeof h) != 0) {
            report_bad(r, CAIRN_CHAIN_WRONG_HASH, seq, "its stored hash is not the hash of its contents");
            break;
        }
        memcpy(prev, h, sizeof prev);
        memcpy(r->head_hash, h, sizeof h);
        r->checked++;
        expect++;
    }
    cairn_iter_free(it);
    if (st != CAIRN_OK && st != CAIRN_DONE)
        return st;
    if (r->ok && (expect != len || memcmp(prev, head, sizeof prev) != 0))
        report_bad(r, CAIRN_CHAIN_LENGTH, expect < len ? expect : len,
                   expect != len ? "the stored length disagrees with the events"
                                 : "the stored head hash disagrees with the last event");
    return CAIRN_OK;
}

cairn_status cairn_event_verify_tx(cairn_txn *txn, const cairn_run_id *run, cairn_chain_report *reportp)
{
    cairn_status st = prim_check_run(txn, run, "cairn_event_verify");
    if (st != CAIRN_OK)
        return st;
    if (reportp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "cairn_event_verify: reportp is NULL");
    memset(reportp, 0, sizeof *reportp);
    reportp->ok = true;
    uint8_t g[CAIRN_EVENT_HASH_SIZE];
    cairn_event_genesis(run, g);
    memcpy(reportp->head_hash, g, sizeof g);
    return verify_walk(txn, run, 0, g, reportp);
}

cairn_status cairn_event_verify_from_tx(cairn_txn *txn, const cairn_run_id *run,
                                        uint64_t trusted_seq,
                                        const uint8_t trusted_hash[CAIRN_EVENT_HASH_SIZE],
                                        cairn_chain_report *reportp)
{
    const char *fn = "cairn_event_verify_from";
    cairn_status st = prim_check_run(txn, run, fn);
    if (st != CAIRN_OK)
        return st;
    if (reportp == NULL || trusted_hash == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                            reportp ? "trusted_hash" : "reportp");
    memset(reportp, 0, sizeof *reportp);
    reportp->ok = true;
    cairn_key k;
    key_event(&k, run, trusted_seq);
    cairn_slice v;
    st = cairn_txn_get(txn, &k, &v);
    if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
        return st;
    cairn_event_view ev;
    if (st == CAIRN_NOT_FOUND || !decode(v, &ev) ||
        memcmp(ev.hash, trusted_hash, CAIRN_EVENT_HASH_SIZE) != 0) {
        report_bad(reportp, CAIRN_CHAIN_UNTRUSTED, trusted_seq,
                   "the log's event at the trusted number does not carry the trusted hash");
        return CAIRN_OK;
    }
    memcpy(reportp->head_hash, trusted_hash, CAIRN_EVENT_HASH_SIZE);
    return verify_walk(txn, run, trusted_seq + 1, trusted_hash, reportp);
}

/* ---- implicit forms ------------------------------------------------------------------ */

typedef struct ev_call {
    const cairn_run_id *run;
    cairn_slice type, payload, id;
    uint64_t n;                  /* expected length, seq, trusted seq */
    bool expect;
    uint64_t seq;
    uint8_t hash[CAIRN_EVENT_HASH_SIZE];
    const uint8_t *trusted;
    bool appended;
    cairn_event *out;
    cairn_event_types *types;
    cairn_chain_report *report;
    int which;                   /* for reads: 0 read, 1 head */
} ev_call;

static cairn_status append_body(cairn_txn *txn, void *p)
{
    ev_call *c = p;
    if (c->id.len || c->id.data)
        return cairn_event_append_once_tx(txn, c->run, c->id, c->type, c->payload, &c->seq, c->hash,
                                          &c->appended);
    if (c->expect)
        return cairn_event_append_expect_tx(txn, c->run, c->n, c->type, c->payload, &c->seq, c->hash);
    return cairn_event_append_tx(txn, c->run, c->type, c->payload, &c->seq, c->hash);
}

static cairn_status append_implicit(cairn_db *db, ev_call *c, uint64_t *seqp,
                                    uint8_t hash[CAIRN_EVENT_HASH_SIZE])
{
    cairn_status st = prim_run(db, false, append_body, c);
    if ((st == CAIRN_OK || st == CAIRN_VERSION_MISMATCH) && seqp)
        *seqp = c->seq;
    if (st == CAIRN_OK && hash)
        memcpy(hash, c->hash, CAIRN_EVENT_HASH_SIZE);
    return st;
}

cairn_status cairn_event_append(cairn_db *db, const cairn_run_id *run, cairn_slice type,
                                cairn_slice payload, uint64_t *seqp,
                                uint8_t hash[CAIRN_EVENT_HASH_SIZE])
{
    ev_call c = {.run = run, .type = type, .payload = payload};
    return append_implicit(db, &c, seqp, hash);
}

cairn_status cairn_event_append_expect(cairn_db *db, const cairn_run_id *run, uint64_t expected_len,
                                       cairn_slice type, cairn_slice payload, uint64_t *seqp,
                                       uint8_t hash[CAIRN_EVENT_HASH_SIZE])
{
    ev_call c = {.run = run, .type = type, .payload = payload, .n = expected_len, .expect = true};
    return append_implicit(db, &c, seqp, hash);
}

cairn_status cairn_event_append_once(cairn_db *db, const cairn_run_id *run, cairn_slice event_id,
                                     cairn_slice type, cairn_slice payload, uint64_t *seqp,
                                     uint8_t hash[CAIRN_EVENT_HASH_SIZE], bool *appendedp)
{
    if (event_id.len == 0)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_event_append_once: the event id is empty")
                  : CAIRN_INVALID_ARGUMENT;
    ev_call c = {.run = run, .type = type, .payload = payload, .id = event_id};
    cairn_status st = append_implicit(db, &c, seqp, hash);
    if (st == CAIRN_OK && appendedp)
        *appendedp = c.appended;
    return st;
}

static cairn_status copy_event(cairn_txn *txn, const cairn_event_view *v, cairn_event *out)
{
    cairn_event_free(out);
    if (prim_copy(v->type, &out->type) != CAIRN_OK || prim_copy(v->payload, &out->payload) != CAIRN_OK) {
        cairn_event_free(out);
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "out of memory copying an event");
    }
    out->seq = v->seq;
    out->timestamp_us = v->timestamp_us;
    memcpy(out->prev_hash, v->prev_hash, CAIRN_EVENT_HASH_SIZE);
    memcpy(out->hash, v->hash, CAIRN_EVENT_HASH_SIZE);
    return CAIRN_OK;
}

static cairn_status read_body(cairn_txn *txn, void *p)
{
    ev_call *c = p;
    cairn_event_view v;
    cairn_status st = c->which ? cairn_event_head_tx(txn, c->run, &v)
                               : cairn_event_read_tx(txn, c->run, c->n, &v);
    return st == CAIRN_OK ? copy_event(txn, &v, c->out) : st;
}

static cairn_status read_implicit(cairn_db *db, const cairn_run_id *run, uint64_t seq, int which,
                                  cairn_event *evp)
{
    if (evp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_event_read: evp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    memset(evp, 0, sizeof *evp);
    ev_call c = {.run = run, .n = seq, .which = which, .out = evp};
    cairn_status st = prim_run(db, true, read_body, &c);
    if (st != CAIRN_OK)
        cairn_event_free(evp);
    return st;
}

cairn_status cairn_event_read(cairn_db *db, const cairn_run_id *run, uint64_t seq, cairn_event *evp)
{
    return read_implicit(db, run, seq, 0, evp);
}

cairn_status cairn_event_head(cairn_db *db, const cairn_run_id *run, cairn_event *evp)
{
    return read_implicit(db, run, 0, 1, evp);
}

static cairn_status len_body(cairn_txn *txn, void *p)
{
    ev_call *c = p;
    return cairn_event_len_tx(txn, c->run, &c->seq);
}

cairn_status cairn_event_len(cairn_db *db, const cairn_run_id *run, uint64_t *lenp)
{
    if (lenp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_event_len: lenp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    ev_call c = {.run = run};
    cairn_status st = prim_run(db, true, len_body, &c);
    if (st == CAIRN_OK)
        *lenp = c.seq;
    return st;
}

static cairn_status types_body(cairn_txn *txn, void *p)
{
    ev_call *c = p;
    cairn_event_types_free(c->types);
    return cairn_event_list_types_tx(txn, c->run, c->types);
}

cairn_status cairn_event_list_types(cairn_db *db, const cairn_run_id *run, cairn_event_types *typesp)
{
    if (typesp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_event_list_types: typesp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    memset(typesp, 0, sizeof *typesp);
    ev_call c = {.run = run, .types = typesp};
    return prim_run(db, true, types_body, &c);
}

static cairn_status verify_body(cairn_txn *txn, void *p)
{
    ev_call *c = p;
    if (c->trusted)
        return cairn_event_verify_from_tx(txn, c->run, c->n, c->trusted, c->report);
    return cairn_event_verify_tx(txn, c->run, c->report);
}

cairn_status cairn_event_verify(cairn_db *db, const cairn_run_id *run, cairn_chain_report *reportp)
{
    ev_call c = {.run = run, .report = reportp};
    if (reportp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_event_verify: reportp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    return prim_run(db, true, verify_body, &c);
}

cairn_status cairn_event_verify_from(cairn_db *db, const cairn_run_id *run, uint64_t trusted_seq,
                                     const uint8_t trusted_hash[CAIRN_EVENT_HASH_SIZE],
                                     cairn_chain_report *reportp)
{
    if (reportp == NULL || trusted_hash == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_event_verify_from: %s is NULL",
                             reportp ? "trusted_hash" : "reportp")
                  : CAIRN_INVALID_ARGUMENT;
    ev_call c = {.run = run, .n = trusted_seq, .trusted = trusted_hash, .report = reportp};
    return prim_run(db, true, verify_body, &c);
}
