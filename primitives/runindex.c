/*
 * runindex.c - RunIndex: run records with indices written in the same
 * transaction, the status table, and the cascading delete (see
 * cairn/runindex.h; bytes in docs/FORMAT.md, "RunIndex (tag 0x05)").
 *
 * Keys, all [zero run][0x05][sub-kind]...:
 *   0x01 [id 16]                                   the run
 *   0x02 [name field]                              by-name entry, value: the id
 *   0x03 [status u8][created u64][id 16]           by-status entry
 *   0x04 [tag field][created u64][id 16]           by-tag entry
 *   0x05 [status u8][tag field][created u64][id]   by-status-and-tag entry
 *   0x06 [parent 16][created u64][id 16]           by-parent entry (all-zero parent: a root)
 *   0x07 [created u64][id 16]                      by-created entry
 * Index entries but the name's have empty values and end with the same
 * fixed 24-byte tail, so a query is one range scan in result order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/runindex.h"
#include "primitives/prim.h"

enum {
    SUB_RECORD = 0x01,
    SUB_NAME = 0x02,
    SUB_STATUS = 0x03,
    SUB_TAG = 0x04,
    SUB_STATUS_TAG = 0x05,
    SUB_PARENT = 0x06,
    SUB_CREATED = 0x07,
};

/* Stored run: [format u8][status u8][flags u8][ntags u8][created u64]
 * [updated u64][finished u64][id 16][parent 16][name_len u8][name]
 * ntags x ([tag_len u8][tag]) [error_len u16][error][meta_len u32][meta],
 * integers big-endian; flags bit 0: has a parent. */
enum { RUN_FORMAT = 1, FLAG_PARENT = 1 };
enum { OFF_CREATED = 4, OFF_UPDATED = 12, OFF_FINISHED = 20, OFF_ID = 28, OFF_PARENT = 44,
       OFF_VAR = 60, FIXED = OFF_VAR + 1 + 2 + 4 };
enum { TAIL = 8 + CAIRN_RUN_ID_SIZE, GET_BATCH = 16 };

static const cairn_run_id zero_id;

/* ---- helpers --------------------------------------------------------------- */

static bool slice_same(cairn_slice a, cairn_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

static bool id_same(const cairn_run_id *a, const cairn_run_id *b)
{
    return memcmp(a->bytes, b->bytes, CAIRN_RUN_ID_SIZE) == 0;
}

static bool status_valid(int s)
{
    return s >= CAIRN_RUN_ACTIVE && s <= CAIRN_RUN_ARCHIVED;
}

static bool status_final(cairn_run_status s)
{
    return s == CAIRN_RUN_COMPLETED || s == CAIRN_RUN_FAILED || s == CAIRN_RUN_CANCELLED ||
           s == CAIRN_RUN_ARCHIVED;
}

const char *cairn_run_status_name(cairn_run_status status)
{
    switch (status) {
    case CAIRN_RUN_ACTIVE: return "active";
    case CAIRN_RUN_PAUSED: return "paused";
    case CAIRN_RUN_COMPLETED: return "completed";
    case CAIRN_RUN_FAILED: return "failed";
    case CAIRN_RUN_CANCELLED: return "cancelled";
    case CAIRN_RUN_ARCHIVED: return "archived";
    }
    return "unknown";
}

bool cairn_run_transition_allowed(cairn_run_status from, cairn_run_status to)
{
    if (!status_valid((int)from) || !status_valid((int)to) || from == to)
        return false;
    switch (from) {
    case CAIRN_RUN_ACTIVE: return true;
    case CAIRN_RUN_PAUSED:
        return to == CAIRN_RUN_ACTIVE || to == CAIRN_RUN_CANCELLED || to == CAIRN_RUN_ARCHIVED;
    case CAIRN_RUN_COMPLETED:
    case CAIRN_RUN_FAILED:
    case CAIRN_RUN_CANCELLED: return to == CAIRN_RUN_ARCHIVED;
    case CAIRN_RUN_ARCHIVED: return false;
    }
    return false;
}

void cairn_run_spec_init(cairn_run_spec *spec)
{
    if (spec)
        memset(spec, 0, sizeof *spec);
}

void cairn_run_free(cairn_run *run)
{
    if (run == NULL)
        return;
    free(run->mem);
    memset(run, 0, sizeof *run);
}

void cairn_run_list_free(cairn_run_list *listp)
{
    if (listp == NULL)
        return;
    free(listp->items);
    free(listp->mem);
    memset(listp, 0, sizeof *listp);
}

/* ---- keys ------------------------------------------------------------------ */

static void key_base(cairn_key *k, uint8_t sub)
{
    cairn_key_init(k, &zero_id, CAIRN_TAG_RUN);
    cairn_key_append_u8(k, sub);
}

static void key_copy(cairn_key *k, const cairn_key *base)
{
    memcpy(k->bytes, base->bytes, base->len);
    k->len = base->len;
}

static void key_id(cairn_key *k, const cairn_run_id *id)
{
    cairn_key_append(k, cairn_slice_of(id->bytes, CAIRN_RUN_ID_SIZE));
}

static void key_record(cairn_key *k, const cairn_run_id *id)
{
    key_base(k, SUB_RECORD);
    key_id(k, id);
}

static void key_tail(cairn_key *k, int64_t created_us, const cairn_run_id *id)
{
    cairn_key_append_u64(k, (uint64_t)created_us);
    key_id(k, id);
}

/* The index entries of a run, numbered 0..entry_count()-1: status,
 * parent, created, then per tag the by-tag and by-status-tag entries, then
 * the name when there is one (the only entry with a value). */
static size_t entry_count(const cairn_run_view *r)
{
    return 3 + 2 * r->ntags + (r->name.len ? 1 : 0);
}

static void entry_key(cairn_key *k, const cairn_run_view *r, size_t i)
{
    if (i == 0) {
        key_base(k, SUB_STATUS);
        cairn_key_append_u8(k, (uint8_t)r->status);
    } else if (i == 1) {
        key_base(k, SUB_PARENT);
        key_id(k, r->has_parent ? &r->parent : &zero_id);
    } else if (i == 2) {
        key_base(k, SUB_CREATED);
    } else if (i < 3 + 2 * r->ntags) {
        size_t t = (i - 3) / 2;
        if ((i - 3) % 2 == 0) {
            key_base(k, SUB_TAG);
        } else {
            key_base(k, SUB_STATUS_TAG);
            cairn_key_append_u8(k, (uint8_t)r->status);
        }
        cairn_key_append_field(k, r->tags[t]);
    } else {
        key_base(k, SUB_NAME);
        cairn_key_append_field(k, r->name);
        return;
    }
    key_tail(k, r->created_us, &r->id);
}

static const char *entry_what(const cairn_run_view *r, size_t i)
{
    if (i == 0) return "by-status";
    if (i == 1) return "by-parent";
    if (i == 2) return "by-created";
    if (i < 3 + 2 * r->ntags) return (i - 3) % 2 == 0 ? "by-tag" : "by-status-tag";
    return "by-name";
}

/* ---- encoding ----------------------------------------------------------------- */

static size_t encoded_size(const cairn_run_view *r)
{
    size_t n = FIXED + r->name.len + r->error.len + r->metadata.len;
    for (size_t i = 0; i < r->ntags; i++)
        n += 1 + r->tags[i].len;
    return n;
}

static void encode(uint8_t *p, const cairn_run_view *r)
{
    p[0] = RUN_FORMAT;
    p[1] = (uint8_t)r->status;
    p[2] = r->has_parent ? FLAG_PARENT : 0;
    p[3] = (uint8_t)r->ntags;
    prim_put_be64(p + OFF_CREATED, (uint64_t)r->created_us);
    prim_put_be64(p + OFF_UPDATED, (uint64_t)r->updated_us);
    prim_put_be64(p + OFF_FINISHED, (uint64_t)r->finished_us);
    memcpy(p + OFF_ID, r->id.bytes, CAIRN_RUN_ID_SIZE);
    memcpy(p + OFF_PARENT, r->has_parent ? r->parent.bytes : zero_id.bytes, CAIRN_RUN_ID_SIZE);
    p += OFF_VAR;
    *p++ = (uint8_t)r->name.len;
    if (r->name.len)
        memcpy(p, r->name.data, r->name.len);
    p += r->name.len;
    for (size_t i = 0; i < r->ntags; i++) {
        *p++ = (uint8_t)r->tags[i].len;
        memcpy(p, r->tags[i].data, r->tags[i].len);
        p += r->tags[i].len;
    }
    *p++ = (uint8_t)(r->error.len >> 8);
    *p++ = (uint8_t)r->error.len;
    if (r->error.len)
        memcpy(p, r->error.data, r->error.len);
    p += r->error.len;
    uint32_t ml = (uint32_t)r->metadata.len;
    p[0] = (uint8_t)(ml >> 24);
    p[1] = (uint8_t)(ml >> 16);
    p[2] = (uint8_t)(ml >> 8);
    p[3] = (uint8_t)ml;
    if (ml)
        memcpy(p + 4, r->metadata.data, ml);
}

/* Decodes a stored run; false when the bytes are not one. */
static bool decode(cairn_slice v, cairn_run_view *r)
{
    const uint8_t *p = v.data, *end = p + v.len;
    if (v.len < FIXED || p[0] != RUN_FORMAT || !status_valid(p[1]) || (p[2] & ~FLAG_PARENT) ||
        p[3] > CAIRN_RUN_TAGS_MAX)
        return false;
    r->status = (cairn_run_status)p[1];
    r->has_parent = p[2] & FLAG_PARENT;
    r->ntags = p[3];
    r->created_us = (int64_t)prim_get_be64(p + OFF_CREATED);
    r->updated_us = (int64_t)prim_get_be64(p + OFF_UPDATED);
    r->finished_us = (int64_t)prim_get_be64(p + OFF_FINISHED);
    memcpy(r->id.bytes, p + OFF_ID, CAIRN_RUN_ID_SIZE);
    memcpy(r->parent.bytes, p + OFF_PARENT, CAIRN_RUN_ID_SIZE);
    if (r->has_parent == cairn_run_id_is_zero(&r->parent) || cairn_run_id_is_zero(&r->id))
        return false;
    const uint8_t *q = p + OFF_VAR;
    if ((size_t)(end - q) < 1u + q[0])
        return false;
    r->name = cairn_slice_of(q[0] ? q + 1 : NULL, q[0]);
    q += 1 + q[0];
    for (size_t i = 0; i < r->ntags; i++) {
        if (end - q < 1 || q[0] == 0 || (size_t)(end - q) < 1u + q[0])
            return false;
        r->tags[i] = cairn_slice_of(q + 1, q[0]);
        q += 1 + q[0];
    }
    if (end - q < 2)
        return false;
    size_t el = (size_t)q[0] << 8 | q[1];
    if ((size_t)(end - q) < 2 + el || el > CAIRN_RUN_ERROR_MAX)
        return false;
    r->error = cairn_slice_of(el ? q + 2 : NULL, el);
    q += 2 + el;
    if (end - q < 4)
        return false;
    uint32_t ml = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
    if ((size_t)(end - q) != 4u + ml)
        return false;
    r->metadata = cairn_slice_of(ml ? q + 4 : NULL, ml);
    return true;
}

/* ---- argument checks ------------------------------------------------------------ */

static cairn_status check_tag(cairn_txn *txn, cairn_slice tag, const char *fn)
{
    return prim_check_bytes(txn, tag, 1, CAIRN_RUN_TAG_MAX, fn, "tag");
}

static cairn_status check_id(cairn_txn *txn, const cairn_run_id *id, const char *fn, const char *what)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    if (id == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: %s is NULL", fn, what);
    if (cairn_run_id_is_zero(id))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: the all-zero %s is reserved", fn, what);
    return CAIRN_OK;
}

static cairn_status check_spec(cairn_txn *txn, const cairn_run_spec *s, const char *fn)
{
    cairn_status st = prim_check_bytes(txn, s->name, 0, CAIRN_RUN_NAME_MAX, fn, "name");
    if (st != CAIRN_OK ||
        (st = prim_check_bytes(txn, s->metadata, 0, UINT32_MAX, fn, "metadata")) != CAIRN_OK)
        return st;
    if (s->parent && cairn_run_id_is_zero(s->parent))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: the parent is the all-zero run id", fn);
    if (s->ntags > CAIRN_RUN_TAGS_MAX)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: %zu tags, past the limit of %u", fn, s->ntags,
                            CAIRN_RUN_TAGS_MAX);
    if (s->ntags && s->tags == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: tags is NULL with ntags %zu", fn, s->ntags);
    for (size_t i = 0; i < s->ntags; i++) {
        if ((st = check_tag(txn, s->tags[i], fn)) != CAIRN_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (slice_same(s->tags[i], s->tags[j]))
                return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: tag %zu repeats tag %zu", fn, i, j);
    }
    return CAIRN_OK;
}

/* ---- reading and writing records ------------------------------------------------- */

/* Reads and decodes run `id`; CAIRN_NOT_FOUND (with a message) when absent. */
static cairn_status load(cairn_txn *txn, const cairn_run_id *id, cairn_slice *rawp, cairn_run_view *r,
                         const char *fn, const char *what)
{
    cairn_key k;
    key_record(&k, id);
    cairn_slice v;
    cairn_status st = cairn_txn_get(txn, &k, &v);
    if (st == CAIRN_NOT_FOUND)
        return prim_txn_err(txn, st, "%s: the %s is not a registered run", fn, what);
    if (st != CAIRN_OK)
        return st;
    if (!decode(v, r) || !id_same(&r->id, id))
        return prim_txn_err(txn, CAIRN_CORRUPT, "%s: the stored run is malformed", fn);
    if (rawp)
        *rawp = v;
    return CAIRN_OK;
}

static cairn_status put_entries(cairn_txn *txn, const cairn_run_view *r)
{
    cairn_key k;
    for (size_t i = 0; i < entry_count(r); i++) {
        entry_key(&k, r, i);
        bool name = i == entry_count(r) - 1 && r->name.len;
        cairn_slice v = name ? cairn_slice_of(r->id.bytes, CAIRN_RUN_ID_SIZE) : cairn_slice_of(NULL, 0);
        cairn_status st = cairn_txn_put(txn, &k, v);
        if (st != CAIRN_OK)
            return st;
    }
    return CAIRN_OK;
}

static cairn_status delete_entries(cairn_txn *txn, const cairn_run_view *r)
{
    cairn_key k;
    for (size_t i = 0; i < entry_count(r); i++) {
        entry_key(&k, r, i);
        cairn_status st = cairn_txn_delete(txn, &k);
        if (st != CAIRN_OK)
            return st;
    }
    return CAIRN_OK;
}

/* Writes run `nr` (replacing `old` and its entries when not NULL). */
static cairn_status store(cairn_txn *txn, const cairn_run_view *old, const cairn_run_view *nr,
                          const char *fn)
{
    size_t size = encoded_size(nr);
    if (size > txn->db->opts.max_value_size)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: the run is %zu bytes, past max_value_size (%u)",
                            fn, size, txn->db->opts.max_value_size);
    uint8_t small[1024];
    uint8_t *buf = size <= sizeof small ? small : malloc(size);
    if (buf == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    encode(buf, nr);
    cairn_key k;
    key_record(&k, &nr->id);
    cairn_status st = cairn_txn_put(txn, &k, cairn_slice_of(buf, size));
    if (buf != small)
        free(buf);
    if (st == CAIRN_OK && old)
        st = delete_entries(txn, old);
    if (st == CAIRN_OK)
        st = put_entries(txn, nr);
    return st;
}

/* ---- lifecycle ------------------------------------------------------------------ */

cairn_status cairn_run_create_tx(cairn_txn *txn, const cairn_run_spec *spec, cairn_run_id *idp)
{
    const char *fn = "cairn_run_create";
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    prim_runs_registered(txn->db); /* writes into runs check their status from now on */
    cairn_run_spec defaults;
    if (spec == NULL) {
        cairn_run_spec_init(&defaults);
        spec = &defaults;
    }
    if ((st = check_spec(txn, spec, fn)) != CAIRN_OK)
        return st;
    cairn_run_view r;
    memset(&r, 0, sizeof r);
    cairn_key k;
    cairn_slice v;
    if (spec->parent) {
        cairn_run_view pv;
        if ((st = load(txn, spec->parent, NULL, &pv, fn, "parent")) != CAIRN_OK)
            return st;
        r.has_parent = true;
        r.parent = *spec->parent;
    }
    if (spec->name.len) {
        key_base(&k, SUB_NAME);
        cairn_key_append_field(&k, spec->name);
        st = cairn_txn_get(txn, &k, &v);
        if (st == CAIRN_OK)
            return prim_txn_err(txn, CAIRN_EXISTS, "%s: another run has the name \"%.*s\"", fn,
                                (int)spec->name.len, (const char *)spec->name.data);
        if (st != CAIRN_NOT_FOUND)
            return st;
    }
    if ((st = cairn_run_id_generate(txn->db, &r.id)) != CAIRN_OK)
        return prim_txn_err(txn, st, "%s: cannot generate a run id", fn);
    r.status = CAIRN_RUN_ACTIVE;
    r.created_us = r.updated_us = txn->now_us < 0 ? 0 : txn->now_us;
    r.name = spec->name;
    r.ntags = spec->ntags;
    for (size_t i = 0; i < spec->ntags; i++)
        r.tags[i] = spec->tags[i];
    r.metadata = spec->metadata;
    if ((st = store(txn, NULL, &r, fn)) != CAIRN_OK)
        return st;
    if (idp)
        *idp = r.id;
    return CAIRN_OK;
}

cairn_status cairn_run_get_tx(cairn_txn *txn, const cairn_run_id *id, cairn_run_view *runp)
{
    const char *fn = "cairn_run_get";
    cairn_status st = check_id(txn, id, fn, "run id");
    if (st != CAIRN_OK)
        return st;
    if (runp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: runp is NULL", fn);
    return load(txn, id, NULL, runp, fn, "run id");
}

/* The id the name index gives `name`. */
static cairn_status lookup_name(cairn_txn *txn, cairn_slice name, cairn_run_id *idp, const char *fn)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK || (st = prim_check_bytes(txn, name, 1, CAIRN_RUN_NAME_MAX, fn, "name")) != CAIRN_OK)
        return st;
    cairn_key k;
    key_base(&k, SUB_NAME);
    cairn_key_append_field(&k, name);
    cairn_slice v;
    st = cairn_txn_get(txn, &k, &v);
    if (st == CAIRN_NOT_FOUND)
        return prim_txn_err(txn, st, "%s: no run has this name", fn);
    if (st != CAIRN_OK)
        return st;
    if (v.len != CAIRN_RUN_ID_SIZE)
        return prim_txn_err(txn, CAIRN_CORRUPT, "%s: a malformed name entry", fn);
    memcpy(idp->bytes, v.data, CAIRN_RUN_ID_SIZE);
    return CAIRN_OK;
}

cairn_status cairn_run_get_by_name_tx(cairn_txn *txn, cairn_slice name, cairn_run_view *runp)
{
    const char *fn = "cairn_run_get_by_name";
    cairn_run_id id;
    cairn_status st = lookup_name(txn, name, &id, fn);
    if (st != CAIRN_OK)
        return st;
    if (runp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: runp is NULL", fn);
    if ((st = load(txn, &id, NULL, runp, fn, "named run")) == CAIRN_NOT_FOUND)
        return prim_txn_err(txn, CAIRN_CORRUPT, "%s: the name entry points at no run", fn);
    return st;
}

static cairn_status set_status(cairn_txn *txn, const cairn_run_id *id, cairn_run_status to,
                               cairn_slice message, const char *fn)
{
    cairn_status st = check_id(txn, id, fn, "run id");
    if (st != CAIRN_OK)
        return st;
    if (!status_valid((int)to))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: run status %d is not one of 1..6", fn,
                            (int)to);
    if ((st = prim_check_bytes(txn, message, 0, CAIRN_RUN_ERROR_MAX, fn, "error message")) != CAIRN_OK)
        return st;
    cairn_run_view old, nr;
    if ((st = load(txn, id, NULL, &old, fn, "run id")) != CAIRN_OK)
        return st;
    if (!cairn_run_transition_allowed(old.status, to))
        return prim_txn_err(txn, CAIRN_INVALID_TRANSITION, "%s: a run cannot move from %s to %s", fn,
                            cairn_run_status_name(old.status), cairn_run_status_name(to));
    nr = old;
    nr.status = to;
    nr.updated_us = txn->now_us > old.updated_us ? txn->now_us : old.updated_us;
    if (status_final(to) && nr.finished_us == 0)
        nr.finished_us = nr.updated_us;
    if (to == CAIRN_RUN_FAILED)
        nr.error = message;
    return store(txn, &old, &nr, fn);
}

cairn_status cairn_run_update_status_tx(cairn_txn *txn, const cairn_run_id *id, cairn_run_status to)
{
    return set_status(txn, id, to, cairn_slice_of(NULL, 0), "cairn_run_update_status");
}

cairn_status cairn_run_fail_tx(cairn_txn *txn, const cairn_run_id *id, cairn_slice message)
{
    return set_status(txn, id, CAIRN_RUN_FAILED, message, "cairn_run_fail");
}

/* Loads run `id` for a change of tags or metadata. */
static cairn_status load_for_edit(cairn_txn *txn, const cairn_run_id *id, cairn_run_view *old,
                                  cairn_run_view *nr, const char *fn)
{
    cairn_status st = check_id(txn, id, fn, "run id");
    if (st != CAIRN_OK || (st = load(txn, id, NULL, old, fn, "run id")) != CAIRN_OK)
        return st;
    *nr = *old;
    nr->updated_us = txn->now_us > old->updated_us ? txn->now_us : old->updated_us;
    return CAIRN_OK;
}

static size_t find_tag(const cairn_run_view *r, cairn_slice tag)
{
    for (size_t i = 0; i < r->ntags; i++)
        if (slice_same(r->tags[i], tag))
            return i;
    return SIZE_MAX;
}

cairn_status cairn_run_add_tag_tx(cairn_txn *txn, const cairn_run_id *id, cairn_slice tag)
{
    const char *fn = "cairn_run_add_tag";
    cairn_run_view old, nr;
    cairn_status st = load_for_edit(txn, id, &old, &nr, fn);
    if (st != CAIRN_OK || (st = check_tag(txn, tag, fn)) != CAIRN_OK)
        return st;
    if (find_tag(&old, tag) != SIZE_MAX)
        return prim_txn_err(txn, CAIRN_EXISTS, "%s: the run already has this tag", fn);
    if (old.ntags == CAIRN_RUN_TAGS_MAX)
        return prim_txn_err(txn, CAIRN_TOO_LARGE, "%s: the run has %u tags already, the limit", fn,
                            CAIRN_RUN_TAGS_MAX);
    nr.tags[nr.ntags++] = tag;
    return store(txn, &old, &nr, fn);
}

cairn_status cairn_run_remove_tag_tx(cairn_txn *txn, const cairn_run_id *id, cairn_slice tag)
{
    const char *fn = "cairn_run_remove_tag";
    cairn_run_view old, nr;
    cairn_status st = load_for_edit(txn, id, &old, &nr, fn);
    if (st != CAIRN_OK || (st = check_tag(txn, tag, fn)) != CAIRN_OK)
        return st;
    size_t at = find_tag(&old, tag);
    if (at == SIZE_MAX)
        return prim_txn_err(txn, CAIRN_NOT_FOUND, "%s: the run does not have this tag", fn);
    for (size_t i = at; i + 1 < nr.ntags; i++)
        nr.tags[i] = nr.tags[i + 1];
    nr.ntags--;
    return store(txn, &old, &nr, fn);
}

cairn_status cairn_run_set_metadata_tx(cairn_txn *txn, const cairn_run_id *id, cairn_slice metadata)
{
    const char *fn = "cairn_run_set_metadata";
    cairn_run_view old, nr;
    cairn_status st = load_for_edit(txn, id, &old, &nr, fn);
    if (st != CAIRN_OK || (st = prim_check_bytes(txn, metadata, 0, UINT32_MAX, fn, "metadata")) != CAIRN_OK)
        return st;
    nr.metadata = metadata;
    return store(txn, &old, &nr, fn);
}

cairn_status cairn_run_check_writable_tx(cairn_txn *txn, const cairn_run_id *id)
{
    const char *fn = "cairn_run_check_writable";
    cairn_status st = check_id(txn, id, fn, "run id");
    if (st != CAIRN_OK)
        return st;
    cairn_run_view r;
    if ((st = load(txn, id, NULL, &r, fn, "run id")) == CAIRN_NOT_FOUND)
        return CAIRN_OK; /* never registered: writes stay allowed */
    if (st != CAIRN_OK)
        return st;
    if (status_final(r.status))
        return prim_txn_err(txn, CAIRN_READ_ONLY, "%s: the run is %s and takes no more writes", fn,
                            cairn_run_status_name(r.status));
    return CAIRN_OK;
}

/* ---- delete ---------------------------------------------------------------------- */

/* Deletes every key stored under run id `id`, whatever its tag. */
static cairn_status purge_run_keys(cairn_txn *txn, const cairn_run_id *id)
{
    cairn_key start, end, k;
    memcpy(start.bytes, id->bytes, CAIRN_RUN_ID_SIZE);
    start.len = CAIRN_RUN_ID_SIZE;
    cairn_key_prefix_end(&start, &end);
    cairn_iter *it = NULL;
    cairn_status st = cairn_txn_scan(txn, &start, &end, 0, &it);
    if (st != CAIRN_OK)
        return st;
    cairn_slice ik, iv;
    while ((st = cairn_iter_next(it, &ik, &iv)) == CAIRN_OK) {
        memcpy(k.bytes, ik.data, ik.len);
        k.len = (uint32_t)ik.len;
        if ((st = cairn_txn_delete(txn, &k)) != CAIRN_OK)
            break;
    }
    cairn_iter_free(it);
    if (st != CAIRN_DONE)
        return st;
    /* expired KV values are invisible to the scan but still stored */
    return kv_delete_expired_tx(txn, id);
}

/* Appends the children of `id` to the growing array `*ids`. */
static cairn_status add_children(cairn_txn *txn, const cairn_run_id *id, cairn_run_id **ids, size_t *n,
                                 size_t *cap, const char *fn)
{
    cairn_key p, e;
    key_base(&p, SUB_PARENT);
    key_id(&p, id);
    cairn_key_prefix_end(&p, &e);
    cairn_iter *it = NULL;
    cairn_status st = cairn_txn_scan(txn, &p, &e, 0, &it);
    if (st != CAIRN_OK)
        return st;
    cairn_slice ik, iv;
    while ((st = cairn_iter_next(it, &ik, &iv)) == CAIRN_OK) {
        if (ik.len != p.len + TAIL) {
            st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: a malformed index key", fn);
            break;
        }
        if (*n == *cap) {
            size_t nc = *cap * 2;
            cairn_run_id *m = realloc(*ids, nc * sizeof *m);
            if (m == NULL) {
                st = prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
                break;
            }
            *ids = m;
            *cap = nc;
        }
        memcpy((*ids)[(*n)++].bytes, (const uint8_t *)ik.data + p.len + 8, CAIRN_RUN_ID_SIZE);
    }
    cairn_iter_free(it);
    return st == CAIRN_DONE ? CAIRN_OK : st;
}

cairn_status cairn_run_delete_tx(cairn_txn *txn, const cairn_run_id *id, unsigned flags)
{
    const char *fn = "cairn_run_delete";
    cairn_status st = check_id(txn, id, fn, "run id");
    if (st != CAIRN_OK)
        return st;
    if (flags & ~CAIRN_RUN_DELETE_CHILDREN)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: unknown flags 0x%x", fn, flags);
    cairn_run_view r;
    if ((st = load(txn, id, NULL, &r, fn, "run id")) != CAIRN_OK)
        return st;
    size_t n = 1, cap = 16;
    cairn_run_id *ids = malloc(cap * sizeof *ids);
    if (ids == NULL)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    ids[0] = *id;
    /* every descendant, breadth first, without recursion */
    for (size_t i = 0; i < n; i++) {
        if ((st = add_children(txn, &ids[i], &ids, &n, &cap, fn)) != CAIRN_OK)
            goto out;
        if (n > 1 && !(flags & CAIRN_RUN_DELETE_CHILDREN)) {
            st = prim_txn_err(txn, CAIRN_EXISTS,
                              "%s: the run has child runs; pass CAIRN_RUN_DELETE_CHILDREN to delete "
                              "them too",
                              fn);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((st = load(txn, &ids[i], NULL, &r, fn, "child run")) != CAIRN_OK) {
            if (st == CAIRN_NOT_FOUND)
                st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: a by-parent entry points at no run", fn);
            goto out;
        }
        if ((st = delete_entries(txn, &r)) != CAIRN_OK)
            goto out;
        cairn_key k;
        key_record(&k, &ids[i]);
        if ((st = cairn_txn_delete(txn, &k)) != CAIRN_OK || (st = purge_run_keys(txn, &ids[i])) != CAIRN_OK)
            goto out;
    }
out:
    free(ids);
    return st;
}

/* ---- queries ----------------------------------------------------------------------- */

static int run_key_cmp(const cairn_key *a, const cairn_key *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static cairn_status check_query(cairn_txn *txn, const cairn_run_cursor *after, size_t limit,
                                cairn_run_list *listp, const char *fn)
{
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    if (listp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: listp is NULL", fn);
    memset(listp, 0, sizeof *listp);
    if (limit == 0 || limit > CAIRN_RUN_LIMIT_MAX)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: limit %zu is outside 1..%u", fn, limit,
                            CAIRN_RUN_LIMIT_MAX);
    if (after && after->set && after->created_us < 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: the cursor is malformed", fn);
    return CAIRN_OK;
}

/* Lists the runs of the index range under `prefix` created in [from, to)
 * (to < 0: no bound), after the cursor, at most `limit`. */
static cairn_status query(cairn_txn *txn, const cairn_key *prefix, int64_t from, int64_t to,
                          const cairn_run_cursor *after, size_t limit, cairn_run_list *listp,
                          const char *fn)
{
    cairn_key start, end, k;
    key_copy(&start, prefix);
    cairn_key_append_u64(&start, (uint64_t)from);
    if (after && after->set) {
        key_copy(&k, prefix);
        key_tail(&k, after->created_us, &after->id);
        k.bytes[k.len++] = 0; /* the smallest key after the cursor's entry */
        if (run_key_cmp(&k, &start) > 0)
            key_copy(&start, &k);
    }
    if (to >= 0) {
        key_copy(&end, prefix);
        cairn_key_append_u64(&end, (uint64_t)to);
        if (run_key_cmp(&start, &end) >= 0)
            return CAIRN_OK;
    } else {
        cairn_key_prefix_end(prefix, &end);
    }
    cairn_iter *it = NULL;
    cairn_status st = cairn_txn_scan(txn, &start, &end, limit + 1, &it);
    if (st != CAIRN_OK)
        return st;
    cairn_run_id *ids = malloc((limit < 64 ? limit : 64) * sizeof *ids);
    size_t nids = 0, cap = limit < 64 ? limit : 64;
    prim_pieces raw = {0}; /* the stored runs, one piece each */
    cairn_slice ik, iv;
    if (ids == NULL)
        goto oom;
    while ((st = cairn_iter_next(it, &ik, &iv)) == CAIRN_OK) {
        if (nids == limit) {
            listp->more = true;
            break;
        }
        if (ik.len != prefix->len + TAIL) {
            st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: a malformed index key", fn);
            goto fail;
        }
        if (nids == cap) {
            cairn_run_id *m = realloc(ids, cap * 2 * sizeof *m);
            if (m == NULL)
                goto oom;
            ids = m;
            cap *= 2;
        }
        memcpy(ids[nids++].bytes, (const uint8_t *)ik.data + prefix->len + 8, CAIRN_RUN_ID_SIZE);
    }
    if (st != CAIRN_OK && st != CAIRN_DONE)
        goto fail;
    cairn_iter_free(it);
    it = NULL;
    for (size_t i = 0; i < nids; i += GET_BATCH) {
        size_t m = nids - i < GET_BATCH ? nids - i : GET_BATCH;
        cairn_key keys[GET_BATCH];
        cairn_slice vals[GET_BATCH];
        cairn_status sts[GET_BATCH];
        for (size_t j = 0; j < m; j++)
            key_record(&keys[j], &ids[i + j]);
        if ((st = cairn_txn_get_many(txn, keys, m, vals, sts)) != CAIRN_OK)
            goto fail;
        for (size_t j = 0; j < m; j++) {
            cairn_run_view r;
            if (sts[j] != CAIRN_OK) {
                st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: an index entry points at no run", fn);
                goto fail;
            }
            if (!decode(vals[j], &r) || !id_same(&r.id, &ids[i + j])) {
                st = prim_txn_err(txn, CAIRN_CORRUPT, "%s: the stored run is malformed", fn);
                goto fail;
            }
            if (prim_pieces_add(&raw, vals[j].data, vals[j].len) != 0)
                goto oom;
        }
    }
    if ((listp->items = malloc((nids ? nids : 1) * sizeof *listp->items)) == NULL)
        goto oom;
    for (size_t i = 0; i < nids; i++)
        decode(prim_piece(&raw, i), &listp->items[i]);
    listp->n = nids;
    listp->mem = raw.mem;
    if (nids) {
        listp->next.set = true;
        listp->next.created_us = listp->items[nids - 1].created_us;
        listp->next.id = listp->items[nids - 1].id;
    }
    free(ids);
    free(raw.at);
    return CAIRN_OK;
oom:
    st = prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
fail:
    cairn_iter_free(it);
    free(ids);
    prim_pieces_free(&raw);
    free(listp->items);
    memset(listp, 0, sizeof *listp);
    return st;
}

cairn_status cairn_run_list_all_tx(cairn_txn *txn, const cairn_run_cursor *after, size_t limit,
                                   cairn_run_list *listp)
{
    const char *fn = "cairn_run_list_all";
    cairn_status st = check_query(txn, after, limit, listp, fn);
    if (st != CAIRN_OK)
        return st;
    cairn_key p;
    key_base(&p, SUB_CREATED);
    return query(txn, &p, 0, -1, after, limit, listp, fn);
}

static cairn_status check_status_arg(cairn_txn *txn, cairn_run_status status, const char *fn)
{
    if (!status_valid((int)status))
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: run status %d is not one of 1..6", fn,
                            (int)status);
    return CAIRN_OK;
}

cairn_status cairn_run_by_status_tx(cairn_txn *txn, cairn_run_status status,
                                    const cairn_run_cursor *after, size_t limit,
                                    cairn_run_list *listp)
{
    const char *fn = "cairn_run_by_status";
    cairn_status st = check_query(txn, after, limit, listp, fn);
    if (st != CAIRN_OK || (st = check_status_arg(txn, status, fn)) != CAIRN_OK)
        return st;
    cairn_key p;
    key_base(&p, SUB_STATUS);
    cairn_key_append_u8(&p, (uint8_t)status);
    return query(txn, &p, 0, -1, after, limit, listp, fn);
}

cairn_status cairn_run_by_tag_tx(cairn_txn *txn, cairn_slice tag, const cairn_run_cursor *after,
                                 size_t limit, cairn_run_list *listp)
{
    const char *fn = "cairn_run_by_tag";
    cairn_status st = check_query(txn, after, limit, listp, fn);
    if (st != CAIRN_OK || (st = check_tag(txn, tag, fn)) != CAIRN_OK)
        return st;
    cairn_key p;
    key_base(&p, SUB_TAG);
    cairn_key_append_field(&p, tag);
    return query(txn, &p, 0, -1, after, limit, listp, fn);
}

cairn_status cairn_run_by_status_tag_tx(cairn_txn *txn, cairn_run_status status, cairn_slice tag,
                                        const cairn_run_cursor *after, size_t limit,
                                        cairn_run_list *listp)
{
    const char *fn = "cairn_run_by_status_tag";
    cairn_status st = check_query(txn, after, limit, listp, fn);
    if (st != CAIRN_OK || (st = check_status_arg(txn, status, fn)) != CAIRN_OK ||
        (st = check_tag(txn, tag, fn)) != CAIRN_OK)
        return st;
    cairn_key p;
    key_base(&p, SUB_STATUS_TAG);
    cairn_key_append_u8(&p, (uint8_t)status);
    cairn_key_append_field(&p, tag);
    return query(txn, &p, 0, -1, after, limit, listp, fn);
}

cairn_status cairn_run_children_tx(cairn_txn *txn, const cairn_run_id *parent,
                                   const cairn_run_cursor *after, size_t limit,
                                   cairn_run_list *listp)
{
    const char *fn = "cairn_run_children";
    cairn_status st = check_query(txn, after, limit, listp, fn);
    if (st != CAIRN_OK || (st = check_id(txn, parent, fn, "parent")) != CAIRN_OK)
        return st;
    cairn_run_view pv;
    if ((st = load(txn, parent, NULL, &pv, fn, "parent")) != CAIRN_OK)
        return st;
    cairn_key p;
    key_base(&p, SUB_PARENT);
    key_id(&p, parent);
    return query(txn, &p, 0, -1, after, limit, listp, fn);
}

cairn_status cairn_run_by_time_tx(cairn_txn *txn, int64_t from_us, int64_t to_us,
                                  const cairn_run_cursor *after, size_t limit,
                                  cairn_run_list *listp)
{
    const char *fn = "cairn_run_by_time";
    cairn_status st = check_query(txn, after, limit, listp, fn);
    if (st != CAIRN_OK)
        return st;
    if (from_us < 0 || to_us < 0)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: a negative time bound", fn);
    if (to_us <= from_us)
        return CAIRN_OK;
    cairn_key p;
    key_base(&p, SUB_CREATED);
    return query(txn, &p, from_us, to_us, after, limit, listp, fn);
}

cairn_status cairn_run_count_tx(cairn_txn *txn, cairn_run_status status, uint64_t *countp)
{
    const char *fn = "cairn_run_count";
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK || (st = check_status_arg(txn, status, fn)) != CAIRN_OK)
        return st;
    if (countp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: countp is NULL", fn);
    cairn_key p, e;
    key_base(&p, SUB_STATUS);
    cairn_key_append_u8(&p, (uint8_t)status);
    cairn_key_prefix_end(&p, &e);
    cairn_iter *it = NULL;
    if ((st = cairn_txn_scan(txn, &p, &e, 0, &it)) != CAIRN_OK)
        return st;
    uint64_t n = 0;
    cairn_slice ik, iv;
    while ((st = cairn_iter_next(it, &ik, &iv)) == CAIRN_OK)
        n++;
    cairn_iter_free(it);
    if (st != CAIRN_DONE)
        return st;
    *countp = n;
    return CAIRN_OK;
}

/* ---- consistency -------------------------------------------------------------------- */

static void bad(cairn_run_report *r, const cairn_run_id *id, const char *fmt, const char *detail)
{
    r->ok = false;
    r->has_bad_id = id != NULL;
    if (id)
        r->bad_id = *id;
    snprintf(r->why, sizeof r->why, fmt, detail);
}

/* Checks that run `r` has its parent and every index entry it needs. */
static cairn_status check_record(cairn_txn *txn, const cairn_run_view *r, cairn_run_report *rep,
                                 uint64_t *expectedp)
{
    cairn_key k;
    cairn_slice v;
    cairn_status st;
    if (r->has_parent) {
        key_record(&k, &r->parent);
        if ((st = cairn_txn_get(txn, &k, &v)) == CAIRN_NOT_FOUND) {
            bad(rep, &r->id, "%s", "its parent is not a registered run");
            return CAIRN_OK;
        }
        if (st != CAIRN_OK)
            return st;
    }
    size_t n = entry_count(r);
    for (size_t i = 0; i < n; i++) {
        entry_key(&k, r, i);
        if ((st = cairn_txn_get(txn, &k, &v)) == CAIRN_NOT_FOUND) {
            bad(rep, &r->id, "the run has no %s index entry", entry_what(r, i));
            return CAIRN_OK;
        }
        if (st != CAIRN_OK)
            return st;
        bool name = r->name.len && i == n - 1;
        if (name ? !(v.len == CAIRN_RUN_ID_SIZE && memcmp(v.data, r->id.bytes, CAIRN_RUN_ID_SIZE) == 0)
                 : v.len != 0) {
            bad(rep, &r->id, "its %s index entry has a wrong value", entry_what(r, i));
            return CAIRN_OK;
        }
    }
    *expectedp += n;
    return CAIRN_OK;
}

/* Reads a length-prefixed field at `*off` of `key`; false when malformed. */
static bool take_field(cairn_slice key, size_t *off, cairn_slice *fp)
{
    const uint8_t *p = key.data;
    if (key.len < *off + 2)
        return false;
    size_t n = (size_t)p[*off] << 8 | p[*off + 1];
    if (key.len < *off + 2 + n)
        return false;
    *fp = cairn_slice_of(p + *off + 2, n);
    *off += 2 + n;
    return true;
}

/* Checks one index entry (sub-kind `sub`) against the run it names. */
static cairn_status check_entry(cairn_txn *txn, cairn_slice key, cairn_slice val, size_t base_len,
                                uint8_t sub, cairn_run_report *rep)
{
    const uint8_t *p = key.data;
    size_t off = base_len;
    cairn_slice tag = cairn_slice_of(NULL, 0), name = tag;
    int status = 0;
    cairn_run_id parent = zero_id, id;
    int64_t created = 0;
    if (sub == SUB_STATUS || sub == SUB_STATUS_TAG) {
        if (key.len < off + 1)
            goto malformed;
        status = p[off++];
    }
    if (sub == SUB_TAG || sub == SUB_STATUS_TAG) {
        if (!take_field(key, &off, &tag) || tag.len == 0)
            goto malformed;
    }
    if (sub == SUB_PARENT) {
        if (key.len < off + CAIRN_RUN_ID_SIZE)
            goto malformed;
        memcpy(parent.bytes, p + off, CAIRN_RUN_ID_SIZE);
        off += CAIRN_RUN_ID_SIZE;
    }
    if (sub == SUB_NAME) {
        if (!take_field(key, &off, &name) || name.len == 0 || key.len != off ||
            val.len != CAIRN_RUN_ID_SIZE)
            goto malformed;
        memcpy(id.bytes, val.data, CAIRN_RUN_ID_SIZE);
    } else {
        if (key.len != off + TAIL || val.len != 0)
            goto malformed;
        created = (int64_t)prim_get_be64(p + off);
        memcpy(id.bytes, p + off + 8, CAIRN_RUN_ID_SIZE);
    }
    cairn_key k;
    key_record(&k, &id);
    cairn_slice v;
    cairn_status st = cairn_txn_get(txn, &k, &v);
    if (st == CAIRN_NOT_FOUND) {
        bad(rep, &id, "%s", "an index entry points at no run");
        return CAIRN_OK;
    }
    if (st != CAIRN_OK)
        return st;
    cairn_run_view r;
    if (!decode(v, &r)) {
        bad(rep, &id, "%s", "the stored run cannot be decoded");
        return CAIRN_OK;
    }
    bool match = sub == SUB_NAME ? slice_same(name, r.name) : r.created_us == created;
    if (status)
        match = match && status == (int)r.status;
    if (tag.len)
        match = match && find_tag(&r, tag) != SIZE_MAX;
    if (sub == SUB_PARENT)
        match = match && id_same(&parent, r.has_parent ? &r.parent : &zero_id);
    if (!match)
        bad(rep, &id, "%s", "an index entry disagrees with the run it points at");
    return CAIRN_OK;
malformed:
    bad(rep, NULL, "%s", "a malformed index entry");
    return CAIRN_OK;
}

cairn_status cairn_run_check_tx(cairn_txn *txn, cairn_run_report *reportp)
{
    const char *fn = "cairn_run_check";
    cairn_status st = txn_usable(txn);
    if (st != CAIRN_OK)
        return st;
    if (reportp == NULL)
        return prim_txn_err(txn, CAIRN_INVALID_ARGUMENT, "%s: reportp is NULL", fn);
    memset(reportp, 0, sizeof *reportp);
    reportp->ok = true;
    cairn_key pre, end;
    cairn_key_init(&pre, &zero_id, CAIRN_TAG_RUN);
    cairn_key_prefix_end(&pre, &end);
    cairn_iter *it = NULL;
    if ((st = cairn_txn_scan(txn, &pre, &end, 0, &it)) != CAIRN_OK)
        return st;
    uint64_t expected = 0;
    size_t base_len = pre.len + 1;
    cairn_slice k, v;
    while (reportp->ok && (st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        uint8_t sub = k.len > pre.len ? ((const uint8_t *)k.data)[pre.len] : 0;
        if (sub == SUB_RECORD) {
            cairn_run_id id;
            cairn_run_view r;
            if (k.len != base_len + CAIRN_RUN_ID_SIZE) {
                bad(reportp, NULL, "%s", "a malformed run key");
            } else {
                memcpy(id.bytes, (const uint8_t *)k.data + base_len, CAIRN_RUN_ID_SIZE);
                if (!decode(v, &r))
                    bad(reportp, &id, "%s", "the stored run cannot be decoded");
                else if (!id_same(&r.id, &id))
                    bad(reportp, &id, "%s", "the stored run carries another id than its key");
                else if ((st = check_record(txn, &r, reportp, &expected)) != CAIRN_OK)
                    break;
            }
            reportp->runs++;
        } else if (sub >= SUB_NAME && sub <= SUB_CREATED) {
            if ((st = check_entry(txn, k, v, base_len, sub, reportp)) != CAIRN_OK)
                break;
            reportp->entries++;
        } else {
            char d[8];
            snprintf(d, sizeof d, "0x%02x", sub);
            bad(reportp, NULL, "a run index key of unknown sub-kind %s", d);
        }
    }
    cairn_iter_free(it);
    if (st != CAIRN_OK && st != CAIRN_DONE)
        return st;
    if (reportp->ok && expected != reportp->entries) {
        char d[64];
        snprintf(d, sizeof d, "%llu, not %llu", (unsigned long long)reportp->entries,
                 (unsigned long long)expected);
        bad(reportp, NULL, "the index holds %s entries", d);
    }
    return CAIRN_OK;
}

/* ---- implicit calls ------------------------------------------------------------------- */

typedef struct ri_call {
    const cairn_run_spec *spec;
    const cairn_run_id *id;
    cairn_run_id out_id;
    cairn_slice s;
    cairn_run_status status;
    unsigned flags;
    int which;
    int64_t a, b;
    const cairn_run_cursor *after;
    size_t limit;
    cairn_run *run;
    cairn_run_list *list;
    uint64_t *count;
    cairn_run_report *report;
} ri_call;

static cairn_status create_body(cairn_txn *txn, void *p)
{
    ri_call *c = p;
    return cairn_run_create_tx(txn, c->spec, &c->out_id);
}

cairn_status cairn_run_create(cairn_db *db, const cairn_run_spec *spec, cairn_run_id *idp)
{
    ri_call c = {.spec = spec};
    cairn_status st = prim_run(db, false, create_body, &c);
    if (st == CAIRN_OK && idp)
        *idp = c.out_id;
    return st;
}

/* Copies the stored run the view came from into c->run. */
static cairn_status own_run(cairn_txn *txn, ri_call *c, const cairn_run_id *id, const char *fn)
{
    cairn_key k;
    key_record(&k, id);
    cairn_slice raw;
    cairn_status st = cairn_txn_get(txn, &k, &raw);
    if (st != CAIRN_OK)
        return st;
    cairn_run_free(c->run);
    cairn_bytes b;
    if (prim_copy(raw, &b) != CAIRN_OK)
        return prim_txn_err(txn, CAIRN_NO_MEMORY, "%s: out of memory", fn);
    decode(cairn_bytes_slice(&b), &c->run->v);
    c->run->mem = b.data;
    return CAIRN_OK;
}

static cairn_status get_body(cairn_txn *txn, void *p)
{
    ri_call *c = p;
    cairn_run_view v;
    cairn_status st = c->which ? cairn_run_get_by_name_tx(txn, c->s, &v) : cairn_run_get_tx(txn, c->id, &v);
    if (st != CAIRN_OK)
        return st;
    return own_run(txn, c, &v.id, c->which ? "cairn_run_get_by_name" : "cairn_run_get");
}

static cairn_status get_implicit(cairn_db *db, ri_call *c, cairn_run *runp, const char *fn)
{
    if (runp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "%s: runp is NULL", fn) : CAIRN_INVALID_ARGUMENT;
    memset(runp, 0, sizeof *runp);
    c->run = runp;
    cairn_status st = prim_run(db, true, get_body, c);
    if (st != CAIRN_OK)
        cairn_run_free(runp);
    return st;
}

cairn_status cairn_run_get(cairn_db *db, const cairn_run_id *id, cairn_run *runp)
{
    ri_call c = {.id = id};
    return get_implicit(db, &c, runp, "cairn_run_get");
}

cairn_status cairn_run_get_by_name(cairn_db *db, cairn_slice name, cairn_run *runp)
{
    ri_call c = {.s = name, .which = 1};
    return get_implicit(db, &c, runp, "cairn_run_get_by_name");
}

enum { E_STATUS, E_FAIL, E_ADD_TAG, E_REMOVE_TAG, E_METADATA, E_DELETE };

static cairn_status edit_body(cairn_txn *txn, void *p)
{
    ri_call *c = p;
    switch (c->which) {
    case E_STATUS: return cairn_run_update_status_tx(txn, c->id, c->status);
    case E_FAIL: return cairn_run_fail_tx(txn, c->id, c->s);
    case E_ADD_TAG: return cairn_run_add_tag_tx(txn, c->id, c->s);
    case E_REMOVE_TAG: return cairn_run_remove_tag_tx(txn, c->id, c->s);
    case E_METADATA: return cairn_run_set_metadata_tx(txn, c->id, c->s);
    default: return cairn_run_delete_tx(txn, c->id, c->flags);
    }
}

static cairn_status edit(cairn_db *db, const cairn_run_id *id, int which, cairn_run_status status,
                         cairn_slice s, unsigned flags)
{
    ri_call c = {.id = id, .which = which, .status = status, .s = s, .flags = flags};
    return prim_run(db, false, edit_body, &c);
}

static const cairn_slice no_bytes;

cairn_status cairn_run_update_status(cairn_db *db, const cairn_run_id *id, cairn_run_status to)
{
    return edit(db, id, E_STATUS, to, no_bytes, 0);
}

cairn_status cairn_run_complete(cairn_db *db, const cairn_run_id *id)
{
    return edit(db, id, E_STATUS, CAIRN_RUN_COMPLETED, no_bytes, 0);
}

cairn_status cairn_run_pause(cairn_db *db, const cairn_run_id *id)
{
    return edit(db, id, E_STATUS, CAIRN_RUN_PAUSED, no_bytes, 0);
}

cairn_status cairn_run_resume(cairn_db *db, const cairn_run_id *id)
{
    return edit(db, id, E_STATUS, CAIRN_RUN_ACTIVE, no_bytes, 0);
}

cairn_status cairn_run_cancel(cairn_db *db, const cairn_run_id *id)
{
    return edit(db, id, E_STATUS, CAIRN_RUN_CANCELLED, no_bytes, 0);
}

cairn_status cairn_run_archive(cairn_db *db, const cairn_run_id *id)
{
    return edit(db, id, E_STATUS, CAIRN_RUN_ARCHIVED, no_bytes, 0);
}

cairn_status cairn_run_fail(cairn_db *db, const cairn_run_id *id, cairn_slice message)
{
    return edit(db, id, E_FAIL, CAIRN_RUN_FAILED, message, 0);
}

cairn_status cairn_run_add_tag(cairn_db *db, const cairn_run_id *id, cairn_slice tag)
{
    return edit(db, id, E_ADD_TAG, CAIRN_RUN_ACTIVE, tag, 0);
}

cairn_status cairn_run_remove_tag(cairn_db *db, const cairn_run_id *id, cairn_slice tag)
{
    return edit(db, id, E_REMOVE_TAG, CAIRN_RUN_ACTIVE, tag, 0);
}

cairn_status cairn_run_set_metadata(cairn_db *db, const cairn_run_id *id, cairn_slice metadata)
{
    return edit(db, id, E_METADATA, CAIRN_RUN_ACTIVE, metadata, 0);
}

cairn_status cairn_run_delete(cairn_db *db, const cairn_run_id *id, unsigned flags)
{
    return edit(db, id, E_DELETE, CAIRN_RUN_ACTIVE, no_bytes, flags);
}

enum { Q_ALL, Q_STATUS, Q_TAG, Q_STATUS_TAG, Q_CHILDREN, Q_TIME };

static cairn_status query_body(cairn_txn *txn, void *p)
{
    ri_call *c = p;
    cairn_run_list_free(c->list);
    switch (c->which) {
    case Q_ALL: return cairn_run_list_all_tx(txn, c->after, c->limit, c->list);
    case Q_STATUS: return cairn_run_by_status_tx(txn, c->status, c->after, c->limit, c->list);
    case Q_TAG: return cairn_run_by_tag_tx(txn, c->s, c->after, c->limit, c->list);
    case Q_STATUS_TAG:
        return cairn_run_by_status_tag_tx(txn, c->status, c->s, c->after, c->limit, c->list);
    case Q_CHILDREN: return cairn_run_children_tx(txn, c->id, c->after, c->limit, c->list);
    default: return cairn_run_by_time_tx(txn, c->a, c->b, c->after, c->limit, c->list);
    }
}

static cairn_status query_implicit(cairn_db *db, ri_call *c, cairn_run_list *listp)
{
    if (listp == NULL)
        return db ? db_error(db, CAIRN_INVALID_ARGUMENT, "cairn_run: listp is NULL")
                  : CAIRN_INVALID_ARGUMENT;
    memset(listp, 0, sizeof *listp);
    c->list = listp;
    cairn_status st = prim_run(db, true, query_body, c);
    if (st != CAIRN_OK)
        cairn_run_list_free(listp);
    return st;
}

cairn_status cairn_run_list_all(cairn_db *db, const cairn_run_cursor *after, size_t limit,
                                cairn_run_list *listp)
{
    ri_call c = {.which = Q_ALL, .after = after, .limit = limit};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_run_by_status(cairn_db *db, cairn_run_status status,
                                 const cairn_run_cursor *after, size_t limit,
                                 cairn_run_list *listp)
{
    ri_call c = {.which = Q_STATUS, .status = status, .after = after, .limit = limit};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_run_by_tag(cairn_db *db, cairn_slice tag, const cairn_run_cursor *after,
                              size_t limit, cairn_run_list *listp)
{
    ri_call c = {.which = Q_TAG, .s = tag, .after = after, .limit = limit};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_run_by_status_tag(cairn_db *db, cairn_run_status status, cairn_slice tag,
                                     const cairn_run_cursor *after, size_t limit,
                                     cairn_run_list *listp)
{
    ri_call c = {.which = Q_STATUS_TAG, .status = status, .s = tag, .after = after, .limit = limit};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_run_children(cairn_db *db, const cairn_run_id *parent,
                                const cairn_run_cursor *after, size_t limit,
                                cairn_run_list *listp)
{
    ri_call c = {.which = Q_CHILDREN, .id = parent, .after = after, .limit = limit};
    return query_implicit(db, &c, listp);
}

cairn_status cairn_run_by_time(cairn_db *db, int64_t from_us, int64_t to_us,
                               const cairn_run_cursor *after, size_t limit,
                               cairn_run_list *listp)
{
    ri_call c = {.which = Q_TIME, .a = from_us, .b = to_us, .after = after, .limit = limit};
    return query_implicit(db, &c, listp);
}

static cairn_status count_body(cairn_txn *txn, void *p)
{
    ri_call *c = p;
    return cairn_run_count_tx(txn, c->status, c->count);
}

cairn_status cairn_run_count(cairn_db *db, cairn_run_status status, uint64_t *countp)
{
    ri_call c = {.status = status, .count = countp};
    return prim_run(db, true, count_body, &c);
}

static cairn_status check_body(cairn_txn *txn, void *p)
{
    ri_call *c = p;
    return cairn_run_check_tx(txn, c->report);
}

cairn_status cairn_run_check(cairn_db *db, cairn_run_report *reportp)
{
    ri_call c = {.report = reportp};
    return prim_run(db, true, check_body, &c);
}
