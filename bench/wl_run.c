/*
 * wl_run.c - run-lifecycle: the RunIndex.
 *
 * Each op takes one run through its life, one transaction per step, as an
 * agent runtime would: create (a name and the tag "agent"), 10 updates
 * (pause, add tag, resume, add tag, remove tag, pause, add tag, resume,
 * remove tag, add tag), complete, archive: 13 transactions, counted as 13
 * items.  cairn: cairn_run_create() and the named status and tag calls.
 * Peers: per step one transaction that reads the key cairn reads (the name
 * entry on create, the run's record after) and writes every key cairn
 * writes: the record (a value of the size cairn stores) and the run's index
 * entries in cairn's layout (docs/FORMAT.md, "RunIndex"); an entry cairn
 * deletes is written empty instead, the engine vocabulary having no delete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eng_cairn.h"
#include "workload.h"

enum { STEPS = 13, TAGS_MAX = 8, KEY_CAP = 96, ENTRIES_MAX = 4 + 2 * TAGS_MAX };

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* The steps after create: a status (1 active, 2 paused, 3 completed,
 * 6 archived), or a tag to add ('+') or remove ('-'). */
typedef struct step {
    char kind; /* 's', '+', '-' */
    int status;
    const char *tag;
} step;

static const step steps[STEPS - 1] = {
    {'s', CAIRN_RUN_PAUSED, NULL}, {'+', 0, "tool"},   {'s', CAIRN_RUN_ACTIVE, NULL},
    {'+', 0, "search"},            {'-', 0, "tool"},   {'s', CAIRN_RUN_PAUSED, NULL},
    {'+', 0, "retry"},             {'s', CAIRN_RUN_ACTIVE, NULL}, {'-', 0, "search"},
    {'+', 0, "done"},              {'s', CAIRN_RUN_COMPLETED, NULL}, {'s', CAIRN_RUN_ARCHIVED, NULL},
};

static bench_rc cairn_fail(bench_thread *t, const char *what, cairn_status st)
{
    char msg[200];
    cairn_db_errmsg(eng_cairn_db(t->et), msg, sizeof msg);
    snprintf(t->err, sizeof t->err, "%s: %s (%s)", what, cairn_status_name(st), msg);
    return BENCH_ERROR;
}

static bench_rc cairn_op(bench_thread *t, const char *name)
{
    cairn_db *db = eng_cairn_db(t->et);
    cairn_slice tag = cairn_slice_of("agent", 5);
    cairn_run_spec s;
    cairn_run_spec_init(&s);
    s.name = cairn_slice_of(name, strlen(name));
    s.tags = &tag;
    s.ntags = 1;
    cairn_run_id id;
    cairn_status st = cairn_run_create(db, &s, &id);
    if (st != CAIRN_OK)
        return cairn_fail(t, "cairn_run_create", st);
    for (int i = 0; i < STEPS - 1; i++) {
        const step *p = &steps[i];
        cairn_slice ts = cairn_slice_of(p->tag, p->tag ? strlen(p->tag) : 0);
        const char *what = p->kind == '+' ? "cairn_run_add_tag" : p->kind == '-' ? "cairn_run_remove_tag"
                                                                                 : "cairn_run_update_status";
        if (p->kind == '+')
            st = cairn_run_add_tag(db, &id, ts);
        else if (p->kind == '-')
            st = cairn_run_remove_tag(db, &id, ts);
        else
            st = cairn_run_update_status(db, &id, (cairn_run_status)p->status);
        if (st != CAIRN_OK)
            return cairn_fail(t, what, st);
    }
    return BENCH_OK;
}

/* ---- peers: cairn's keys, built by hand ------------------------------------------- */

typedef struct run_state {
    uint8_t id[16];
    uint64_t created;
    int status;
    const char *name;
    size_t ntags;
    const char *tags[TAGS_MAX];
} run_state;

typedef struct keyset {
    size_t n;
    size_t len[ENTRIES_MAX];
    uint8_t k[ENTRIES_MAX][KEY_CAP];
} keyset;

static size_t base(uint8_t *k, uint8_t sub)
{
    memset(k, 0, CAIRN_RUN_ID_SIZE);
    k[16] = CAIRN_TAG_RUN;
    k[17] = sub;
    return 18;
}

static size_t field(uint8_t *k, size_t n, const char *s)
{
    size_t len = strlen(s);
    k[n] = (uint8_t)(len >> 8);
    k[n + 1] = (uint8_t)len;
    memcpy(k + n + 2, s, len);
    return n + 2 + len;
}

static size_t tail(uint8_t *k, size_t n, const run_state *r)
{
    put_be64(k + n, r->created);
    memcpy(k + n + 8, r->id, 16);
    return n + 24;
}

static void entries(const run_state *r, keyset *ks)
{
    size_t i = 0, n;
    uint8_t *k;
    k = ks->k[i];
    n = base(k, 0x03);
    k[n++] = (uint8_t)r->status;
    ks->len[i++] = tail(k, n, r);
    k = ks->k[i];
    n = base(k, 0x06);
    memset(k + n, 0, 16);
    ks->len[i++] = tail(k, n + 16, r);
    k = ks->k[i];
    ks->len[i++] = tail(k, base(k, 0x07), r);
    for (size_t j = 0; j < r->ntags; j++) {
        k = ks->k[i];
        ks->len[i++] = tail(k, field(k, base(k, 0x04), r->tags[j]), r);
        k = ks->k[i];
        n = base(k, 0x05);
        k[n++] = (uint8_t)r->status;
        ks->len[i++] = tail(k, field(k, n, r->tags[j]), r);
    }
    k = ks->k[i];
    ks->len[i++] = field(k, base(k, 0x02), r->name);
    ks->n = i;
}

static bool has_key(const keyset *ks, const uint8_t *k, size_t len)
{
    for (size_t i = 0; i < ks->n; i++)
        if (ks->len[i] == len && memcmp(ks->k[i], k, len) == 0)
            return true;
    return false;
}

/* One step on a peer: read `rkey`, write the record and the entries. */
static bench_rc peer_step(bench_thread *t, const uint8_t *rkey, size_t rlen, const run_state *old,
                          const run_state *nr)
{
    keyset *was = malloc(sizeof *was), *now = malloc(sizeof *now);
    if (was == NULL || now == NULL) {
        free(was);
        free(now);
        snprintf(t->err, sizeof t->err, "out of memory");
        return BENCH_ERROR;
    }
    was->n = 0;
    if (old)
        entries(old, was);
    entries(nr, now);
    uint8_t rec[256], key[KEY_CAP];
    size_t size = 67 + strlen(nr->name);
    for (size_t i = 0; i < nr->ntags; i++)
        size += 1 + strlen(nr->tags[i]);
    memset(rec, 0x5A, size);
    size_t klen = base(key, 0x01);
    memcpy(key + klen, nr->id, 16);
    klen += 16;
    bench_bytes empty = bench_bytes_of("", 0), idv = bench_bytes_of(nr->id, 16);
    bench_rc rc;
    for (;;) {
        bench_bytes v;
        rc = t->eng->begin(t->et, 0);
        if (rc != BENCH_OK)
            break;
        rc = t->eng->get(t->et, bench_bytes_of(rkey, rlen), &v);
        if (rc == BENCH_NOT_FOUND)
            rc = BENCH_OK;
        if (rc == BENCH_OK)
            rc = t->eng->put(t->et, bench_bytes_of(key, klen), bench_bytes_of(rec, size));
        for (size_t i = 0; i < was->n && rc == BENCH_OK; i++)
            if (!has_key(now, was->k[i], was->len[i]))
                rc = t->eng->put(t->et, bench_bytes_of(was->k[i], was->len[i]), empty);
        for (size_t i = 0; i < now->n && rc == BENCH_OK; i++)
            rc = t->eng->put(t->et, bench_bytes_of(now->k[i], now->len[i]), i == now->n - 1 ? idv : empty);
        if (rc == BENCH_OK)
            rc = t->eng->commit(t->et);
        else
            t->eng->abort(t->et);
        if (rc != BENCH_CONFLICT)
            break;
        t->conflicts++;
    }
    free(was);
    free(now);
    return rc == BENCH_OK ? BENCH_OK : wl_fail(t, rc, "run step");
}

static bench_rc peer_op(bench_thread *t, const char *name)
{
    run_state r = {0}, old;
    r.created = bench_now_ns() / 1000;
    put_be64(r.id, r.created);
    put_be64(r.id + 8, (uint64_t)t->idx << 48 | t->seq);
    r.status = CAIRN_RUN_ACTIVE;
    r.name = name;
    r.tags[r.ntags++] = "agent";
    uint8_t nkey[KEY_CAP];
    size_t nlen = field(nkey, base(nkey, 0x02), name);
    bench_rc rc = peer_step(t, nkey, nlen, NULL, &r);
    uint8_t rkey[KEY_CAP];
    size_t rlen = base(rkey, 0x01);
    memcpy(rkey + rlen, r.id, 16);
    rlen += 16;
    for (int i = 0; i < STEPS - 1 && rc == BENCH_OK; i++) {
        const step *p = &steps[i];
        old = r;
        if (p->kind == 's') {
            r.status = p->status;
        } else if (p->kind == '+') {
            r.tags[r.ntags++] = p->tag;
        } else {
            size_t w = 0;
            for (size_t j = 0; j < r.ntags; j++)
                if (strcmp(r.tags[j], p->tag) != 0)
                    r.tags[w++] = r.tags[j];
            r.ntags = w;
        }
        rc = peer_step(t, rkey, rlen, &old, &r);
    }
    return rc;
}

static bench_rc lifecycle_op(bench_thread *t)
{
    char name[48];
    snprintf(name, sizeof name, "run-%u-%llu-%llx", t->idx, (unsigned long long)t->seq,
             (unsigned long long)(bench_now_ns() & 0xFFFFFFFF));
    if (strcmp(t->eng->name, "cairn") == 0)
        return cairn_op(t, name);
    return peer_op(t, name);
}

const bench_workload bench_wl_run_lifecycle = {
    .name = "run-lifecycle",
    .summary = "create a run, 10 status and tag updates, complete, archive: 13 transactions "
               "(peers: the same keys)",
    .flags = 0,
    .items = STEPS,
    .op = lifecycle_op,
};
