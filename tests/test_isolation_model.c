/*
 * Randomized isolation of runs, checked against a reference model.
 *
 * Fifty runs share one durable database: thirty registered in the RunIndex
 * before the first step, ten registered while the sequence runs, and ten
 * never registered (eight with generated ids that sort between the
 * registered ones, one right after the RunIndex's all-zero id and one at
 * all 0xFF).  A seeded sequence of steps, each on one random run, goes
 * through every primitive: KV puts (some with a TTL on the fake clock),
 * deletes and expiry sweeps; event appends (plain, expected-length and
 * idempotent); cell init, CAS (failing ones too), set, delete and
 * transitions; trace records, children, caller-chosen ids and finishes; run
 * registration, status changes (refused ones too), tags, metadata and
 * cascading deletes.  Some steps are transactions of several primitives on
 * one run (now and then on two), committed, or aborted (which must change
 * nothing); before they end they must see their own writes, in their own
 * runs only.  A write into
 * a run that is completed, failed, cancelled or archived must answer
 * CAIRN_READ_ONLY.  KV keys, cell names, trace ids, event types and tags
 * come from pools every run shares, so anything that leaks from one run
 * into another shows up as a value, an item or a count that is not the
 * model's.
 *
 * The model is plain arrays per run.  After every step the touched runs and
 * one other run are read back whole through the public reads, lists and
 * queries (half the time inside one read-only transaction through the _tx
 * forms, half through the implicit forms) and compared with the model.
 * Every CHECK_EVERY steps, and after each close and reopen, all fifty are,
 * together with every RunIndex query, the checkers (cairn_event_verify,
 * cairn_trace_check, cairn_run_check) and a census of every key in the
 * database by run and primitive.  Checkpoints happen now and then; one
 * leaves out the keys already expired, which the model follows to predict
 * what an expiry sweep still finds after a reopen.
 *
 * Each test is one seed; a failure names the seed, the step, the operation
 * and the run, and keeps the database directory.  CAIRN_ISO_STEPS sets the
 * steps per seed (the default is scaled by CAIRN_TEST_SCALE) and
 * CAIRN_ISO_SEED replaces every test's seed; CAIRN_ISO_VERBOSE=1 prints a
 * summary per seed.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

/* ---- failure context ------------------------------------------------------ */

/* Seed, step, operation and run of what is being checked: every failure
 * message starts with it. */
static char where_[320];

#define CHECK(cond, fmt, ...)                                                        \
    do {                                                                             \
        if (!(cond))                                                                 \
            cr_assert_fail("[%s] " fmt, where_, ##__VA_ARGS__);                      \
    } while (0)

#define EXPECT(expr, want)                                                           \
    do {                                                                             \
        cairn_status got_ = (expr);                                                  \
        cairn_status want_ = (want);                                                 \
        if (got_ != want_)                                                           \
            cr_assert_fail("[%s] %s: got %s, expected %s", where_, #expr,            \
                           cairn_status_name(got_), cairn_status_name(want_));       \
    } while (0)

/* ---- pools every run draws from ------------------------------------------- */

#define LIT(s) {(const void *)(s), sizeof(s) - 1}
#define BIG(a) {(a), sizeof(a)}

/* The longest key, name, id or tag each primitive accepts (listings must
 * also resume after a KV key or cell name of the full length). */
static uint8_t big_kv_key[CAIRN_KV_KEY_MAX], big_cell[CAIRN_CELL_NAME_MAX],
    big_type[CAIRN_EVENT_TYPE_MAX], big_once[CAIRN_EVENT_ID_MAX], big_tr_id[CAIRN_TRACE_ID_MAX],
    big_tr_tag[CAIRN_TRACE_TAG_MAX], big_tr_name[CAIRN_TRACE_NAME_MAX],
    big_run_name[CAIRN_RUN_NAME_MAX], big_run_tag[CAIRN_RUN_TAG_MAX];

static const cairn_slice kv_keys[] = {
    LIT("k0"),   LIT("k1"),   LIT("k2"),    LIT("k3"),       LIT("k10"),
    LIT("k11"),  LIT("k19"),  LIT("k2\0"),  LIT("a"),        LIT("a\0"),
    LIT("a\0" "b"), LIT("ab"), LIT("\0"),   LIT("\0\0"),     LIT("\xff"),
    LIT("\xff\xff"), LIT("\xff\0"), LIT("zz"), LIT("key with spaces"), BIG(big_kv_key),
};
static const cairn_slice kv_prefixes[] = {
    LIT(""), LIT("k"), LIT("k1"), LIT("k2"), LIT("a"), LIT("a\0"), LIT("\xff"),
    LIT("\0"), LIT("z"), {big_kv_key, 8}, LIT("q"),
};
static const cairn_slice cell_names[] = {
    LIT("c"),    LIT("c0"),  LIT("c1"),  LIT("c10"),      LIT("c1\0"), LIT("state"),
    LIT("\0"),   LIT("\xff"), LIT("\xff\xff"), LIT("plan"), LIT("x y"), BIG(big_cell),
};
static const cairn_slice cell_prefixes[] = {
    LIT(""), LIT("c"), LIT("c1"), LIT("\xff"), LIT("s"), {big_cell, 5}, LIT("none"),
};
static const cairn_slice ev_types[] = {
    LIT("a"), LIT("ab"), LIT("tool"), LIT("\xff" "x"), BIG(big_type),
};
static const cairn_slice once_ids[] = {
    LIT("op0"), LIT("op1"), LIT("op2"), LIT("\0"), BIG(big_once),
};
static const cairn_slice tr_ids[] = {
    LIT("t0"), LIT("t1"), LIT("t2"), LIT("t3"), LIT("t10"), LIT("\0"), LIT("\xff"), BIG(big_tr_id),
};
static const cairn_slice tr_tags[] = {
    LIT("llm"), LIT("tool"), LIT("retry"), LIT("\xff"), BIG(big_tr_tag),
};
static const cairn_slice tr_names[] = {
    LIT(""), LIT("search"), LIT("plan"), BIG(big_tr_name),
};
static const cairn_slice run_names[] = {
    LIT("run-0"), LIT("run-1"), LIT("run-2"), LIT("run-3"), LIT("run-4"),
    LIT("run-5"), LIT("run-6"), LIT("run-7"), LIT("\xff"),  BIG(big_run_name),
};
static const cairn_slice run_tags[] = {
    LIT("prod"), LIT("eval"), LIT("batch"), LIT("\x01"), BIG(big_run_tag),
};
/* An id no step ever gives a trace. */
static const cairn_slice no_trace = LIT("no-such-trace");

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define NKV COUNT(kv_keys)
#define NCELL COUNT(cell_names)
#define NEVT COUNT(ev_types)
#define NONCE COUNT(once_ids)
#define NTID COUNT(tr_ids)
#define NTTAG COUNT(tr_tags)
#define NTNAME COUNT(tr_names)
#define NRNAME COUNT(run_names)
#define NRTAG COUNT(run_tags)

/* Pool indices in ascending byte order (the order every listing uses). */
static int kv_order[NKV], cell_order[NCELL];

static void sort_pool(const cairn_slice *pool, int *order, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int v = (int)i;
        size_t j = i;
        for (; j > 0 && slice_cmp(pool[order[j - 1]], pool[v]) > 0; j--)
            order[j] = order[j - 1];
        order[j] = v;
    }
}

static void pools_init(void)
{
    memset(big_kv_key, 'K', sizeof big_kv_key);
    memset(big_cell, 'C', sizeof big_cell);
    memset(big_type, 'T', sizeof big_type);
    memset(big_once, 'O', sizeof big_once);
    memset(big_tr_id, 'I', sizeof big_tr_id);
    memset(big_tr_tag, 'G', sizeof big_tr_tag);
    memset(big_tr_name, 'N', sizeof big_tr_name);
    memset(big_run_name, 'R', sizeof big_run_name);
    memset(big_run_tag, 'A', sizeof big_run_tag);
    sort_pool(kv_keys, kv_order, NKV);
    sort_pool(cell_names, cell_order, NCELL);
}

static bool has_prefix(cairn_slice s, cairn_slice prefix)
{
    return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.data, prefix.data, prefix.len) == 0);
}

/* ---- the model ------------------------------------------------------------ */

enum {
    NSLOTS = 50,
    NREG0 = 30,      /* slots [0, 30): registered before the first step */
    NPEND = 10,      /* slots [30, 40): registered during the sequence */
    VAL_MAX = 300,   /* KV values */
    PAY_MAX = 64,    /* event and trace payloads */
    CELL_VAL_MAX = 48,
    META_MAX = 64,
    ERR_MAX = 64,
    TR_TAGS = 3,     /* most tags a step puts on one trace */
    RUN_TAGS = 5,    /* a run holds at most every pool tag */
    CHECK_EVERY = 250,
};

_Static_assert(RUN_TAGS >= NRTAG, "a run model must hold every pool tag");

typedef struct kv_ent {
    bool stored;        /* a value is in the database, expired or not */
    bool orphan;        /* expired when its run was deleted (see op_run_delete) */
    bool ckpt_dropped;  /* expired when the newest checkpoint was written */
    int64_t expires;    /* 0: never */
    uint16_t vlen;
    uint8_t val[VAL_MAX];
} kv_ent;

typedef struct ev_ent {
    uint8_t type;
    int64_t ts;
    uint16_t plen;
    uint8_t pay[PAY_MAX];
    uint8_t hash[CAIRN_EVENT_HASH_SIZE];
} ev_ent;

typedef struct cell_ent {
    bool present;
    uint64_t version;
    int64_t updated;
    uint16_t vlen;
    uint8_t val[CELL_VAL_MAX];
} cell_ent;

typedef struct tr_ent {
    uint8_t idlen;
    uint8_t id[CAIRN_TRACE_ID_MAX];
    int parent;         /* index in the run's traces, -1 for a root */
    uint8_t type, status, name;
    int64_t start, end;
    uint8_t ntags;
    uint8_t tags[TR_TAGS];
    uint16_t plen;
    uint8_t pay[PAY_MAX];
} tr_ent;

typedef struct reg_ent {
    bool registered;
    uint8_t status;
    int parent;         /* slot, -1 for a root run */
    int64_t created, updated, finished;
    int name;           /* index in run_names, -1: none */
    uint8_t ntags;
    uint8_t tags[RUN_TAGS];
    uint16_t mlen, elen;
    uint8_t meta[META_MAX];
    uint8_t err[ERR_MAX];
} reg_ent;

typedef struct mrun {
    bool has_id;        /* a pending slot gets its id when it is registered */
    cairn_run_id id;
    uint8_t genesis[CAIRN_EVENT_HASH_SIZE];
    reg_ent reg;
    kv_ent kv[NKV];
    ev_ent *ev;
    size_t nev, evcap;
    int64_t once[NONCE]; /* the event an idempotency id names; -1: none */
    cell_ent cell[NCELL];
    tr_ent *tr;
    size_t ntr, trcap;
} mrun;

/* What a step does (op_names and op_weights below). */
enum {
    OP_KV_PUT, OP_KV_DELETE, OP_KV_SWEEP, OP_EV_APPEND, OP_EV_EXPECT, OP_EV_ONCE, OP_CELL_INIT,
    OP_CELL_CAS, OP_CELL_SET, OP_CELL_DELETE, OP_CELL_TRANSITION, OP_TR_RECORD, OP_TR_CHILD,
    OP_TR_OWN_ID, OP_TR_FINISH, OP_RUN_REGISTER, OP_RUN_STATUS, OP_RUN_EDIT, OP_RUN_DELETE, OP_TXN,
    OP_READ, OP_COUNT
};

typedef struct world {
    uint64_t seed;
    long step, steps;
    test_rng rng;
    fake_clock clock;
    cairn_options opts;
    char dir[64];
    cairn_db *db;
    cairn_run_id last_id;  /* the last id this open database generated */
    mrun runs[NSLOTS];
    int tx_slot[2];     /* the runs an open transaction writes (-1: none) ... */
    mrun *tx_model[2];  /* ... and their models as the transaction sees them */
    long commits, aborts, reopens, checkpoints, swept, full_checks;
    long ops[OP_COUNT];                 /* steps per operation */
    long outcomes[CAIRN_STATUS_COUNT];  /* what the writes answered */
} world;

/* The model of `slot`, as the open transaction (if any) sees it. */
static mrun *M(world *w, int slot)
{
    for (int i = 0; i < 2; i++)
        if (slot == w->tx_slot[i])
            return w->tx_model[i];
    return &w->runs[slot];
}

static void set_where(world *w, const char *op, int slot)
{
    snprintf(where_, sizeof where_, "seed %#" PRIx64 " step %ld/%ld %s run %d, db %s", w->seed,
             w->step, w->steps, op, slot, w->dir);
}

static uint64_t rnd(world *w, uint64_t n)
{
    return test_rng_below(&w->rng, n);
}

static bool chance(world *w, unsigned pct)
{
    return rnd(w, 100) < pct;
}

static void rnd_fill(world *w, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)test_rng_next(&w->rng);
}

/* Mostly short, sometimes empty, sometimes the longest. */
static size_t rnd_len(world *w, size_t max)
{
    uint64_t c = rnd(w, 10);
    if (c == 0)
        return 0;
    if (c == 1)
        return max;
    return (size_t)rnd(w, (max < 24 ? max : 24) + 1);
}

/* A page size for a listing: small ones exercise the cursors. */
static size_t rnd_limit(world *w)
{
    return chance(w, 60) ? 1 + (size_t)rnd(w, 6) : 1000;
}

static int64_t now_us(world *w)
{
    return fake_clock_read(&w->clock);
}

static bool kv_live(const kv_ent *e, int64_t now)
{
    return e->stored && (e->expires == 0 || e->expires > now);
}

static bool status_final(int s)
{
    return s == CAIRN_RUN_COMPLETED || s == CAIRN_RUN_FAILED || s == CAIRN_RUN_CANCELLED ||
           s == CAIRN_RUN_ARCHIVED;
}

/* The write policy: unregistered, active and paused runs take writes. */
static bool writable(const mrun *m)
{
    return !m->reg.registered || !status_final(m->reg.status);
}

/* The status table of cairn/runindex.h, written out independently. */
static bool transition_ok(int from, int to)
{
    if (from == to)
        return false;
    switch (from) {
    case CAIRN_RUN_ACTIVE: return true;
    case CAIRN_RUN_PAUSED:
        return to == CAIRN_RUN_ACTIVE || to == CAIRN_RUN_CANCELLED || to == CAIRN_RUN_ARCHIVED;
    case CAIRN_RUN_COMPLETED:
    case CAIRN_RUN_FAILED:
    case CAIRN_RUN_CANCELLED: return to == CAIRN_RUN_ARCHIVED;
    default: return false;
    }
}

static void model_init_run(mrun *m)
{
    memset(m, 0, sizeof *m);
    m->reg.parent = -1;
    m->reg.name = -1;
    for (size_t i = 0; i < NONCE; i++)
        m->once[i] = -1;
}

static void model_set_id(mrun *m, const cairn_run_id *id)
{
    m->has_id = true;
    m->id = *id;
    cairn_event_genesis(id, m->genesis);
}

/* Everything a run owns is gone (cairn_run_delete), its registration too. */
static void model_clear_run(mrun *m)
{
    for (size_t i = 0; i < NKV; i++)
        m->kv[i].stored = false;
    m->nev = 0;
    for (size_t i = 0; i < NONCE; i++)
        m->once[i] = -1;
    for (size_t i = 0; i < NCELL; i++)
        m->cell[i].present = false;
    m->ntr = 0;
    memset(&m->reg, 0, sizeof m->reg);
    m->reg.parent = -1;
    m->reg.name = -1;
}

static void model_free_run(mrun *m)
{
    free(m->ev);
    free(m->tr);
    m->ev = NULL;
    m->tr = NULL;
    m->nev = m->evcap = m->ntr = m->trcap = 0;
}

static void model_clone_run(mrun *dst, const mrun *src)
{
    *dst = *src;
    dst->ev = malloc((src->evcap ? src->evcap : 1) * sizeof *dst->ev);
    dst->tr = malloc((src->trcap ? src->trcap : 1) * sizeof *dst->tr);
    cr_assert(dst->ev != NULL && dst->tr != NULL, "out of memory copying the model");
    if (src->nev)
        memcpy(dst->ev, src->ev, src->nev * sizeof *dst->ev);
    if (src->ntr)
        memcpy(dst->tr, src->tr, src->ntr * sizeof *dst->tr);
}

static ev_ent *model_push_event(mrun *m)
{
    if (m->nev == m->evcap) {
        m->evcap = m->evcap ? m->evcap * 2 : 16;
        m->ev = realloc(m->ev, m->evcap * sizeof *m->ev);
        cr_assert(m->ev != NULL, "out of memory growing the model");
    }
    return &m->ev[m->nev++];
}

static tr_ent *model_push_trace(mrun *m)
{
    if (m->ntr == m->trcap) {
        m->trcap = m->trcap ? m->trcap * 2 : 16;
        m->tr = realloc(m->tr, m->trcap * sizeof *m->tr);
        cr_assert(m->tr != NULL, "out of memory growing the model");
    }
    tr_ent *e = &m->tr[m->ntr++];
    memset(e, 0, sizeof *e);
    return e;
}

static cairn_slice tr_id_of(const mrun *m, int ti)
{
    return cairn_slice_of(m->tr[ti].id, m->tr[ti].idlen);
}

static int tr_find(const mrun *m, cairn_slice id)
{
    for (size_t i = 0; i < m->ntr; i++)
        if (slice_eq(tr_id_of(m, (int)i), id))
            return (int)i;
    return -1;
}

/* A trace id the run does not have (a pool id other runs may well have). */
static cairn_slice missing_tr_id(world *w, const mrun *m)
{
    size_t start = (size_t)rnd(w, NTID);
    for (size_t i = 0; i < NTID; i++) {
        cairn_slice id = tr_ids[(start + i) % NTID];
        if (tr_find(m, id) < 0)
            return id;
    }
    return no_trace;
}

/* Query order: start time, then shorter ids, then bytewise. */
static int tr_cmp(const tr_ent *a, const tr_ent *b)
{
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->idlen != b->idlen)
        return a->idlen < b->idlen ? -1 : 1;
    return memcmp(a->id, b->id, a->idlen);
}

static void sort_traces(const mrun *m, int *idx, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int v = idx[i];
        size_t j = i;
        for (; j > 0 && tr_cmp(&m->tr[idx[j - 1]], &m->tr[v]) > 0; j--)
            idx[j] = idx[j - 1];
        idx[j] = v;
    }
}

/* RunIndex order: creation time, then id. */
static int run_cmp(world *w, int a, int b)
{
    const mrun *x = M(w, a), *y = M(w, b);
    if (x->reg.created != y->reg.created)
        return x->reg.created < y->reg.created ? -1 : 1;
    return memcmp(x->id.bytes, y->id.bytes, CAIRN_RUN_ID_SIZE);
}

static void sort_slots(world *w, int *idx, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int v = idx[i];
        size_t j = i;
        for (; j > 0 && run_cmp(w, idx[j - 1], v) > 0; j--)
            idx[j] = idx[j - 1];
        idx[j] = v;
    }
}

static bool registered(world *w, int slot)
{
    return M(w, slot)->reg.registered;
}

static int find_slot(world *w, const cairn_run_id *id)
{
    for (int i = 0; i < NSLOTS; i++)
        if (M(w, i)->has_id && memcmp(M(w, i)->id.bytes, id->bytes, CAIRN_RUN_ID_SIZE) == 0)
            return i;
    return -1;
}

/* A random slot satisfying `want` (other than `not`), or -1. */
static int pick_slot(world *w, int not, bool (*want)(world *, int))
{
    int cand[NSLOTS], n = 0;
    for (int i = 0; i < NSLOTS; i++)
        if (i != not && want(w, i))
            cand[n++] = i;
    return n ? cand[rnd(w, (uint64_t)n)] : -1;
}

static bool slot_has_id(world *w, int slot)
{
    return M(w, slot)->has_id;
}

static bool slot_pending(world *w, int slot)
{
    return !M(w, slot)->has_id;
}

static bool slot_unregistered_id(world *w, int slot)
{
    return M(w, slot)->has_id && !M(w, slot)->reg.registered;
}

/* Checks an id cairn generated just now (run or trace): its layout, its
 * time, and that it follows every id generated since the database opened. */
static void check_generated_id(world *w, const uint8_t *b, const char *what)
{
    CHECK(memcmp(b, w->last_id.bytes, CAIRN_RUN_ID_SIZE) > 0,
          "%s is not greater than the id generated before it", what);
    memcpy(w->last_id.bytes, b, CAIRN_RUN_ID_SIZE);
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | b[i];
    CHECK(ms == (uint64_t)(now_us(w) / 1000), "%s carries %" PRIu64 " ms, the clock says %" PRId64,
          what, ms, now_us(w) / 1000);
    CHECK(b[6] >> 4 == 7 && (b[8] & 0xC0) == 0x80, "%s is not laid out as a version 7 id", what);
}

/* ---- reading back: one reader, _tx forms or implicit ones ------------------ */

typedef struct rd {
    cairn_db *db;
    cairn_txn *txn; /* not NULL: read inside this transaction */
} rd;

/* ---- KV ---- */

static void check_kv_listing(world *w, rd r, int slot, cairn_slice prefix, cairn_slice after0,
                             bool pairs, size_t limit)
{
    const mrun *m = M(w, slot);
    int64_t now = now_us(w);
    int exp[NKV];
    size_t nexp = 0;
    for (size_t i = 0; i < NKV; i++) {
        int k = kv_order[i];
        if (kv_live(&m->kv[k], now) && has_prefix(kv_keys[k], prefix) &&
            (after0.len == 0 || slice_cmp(kv_keys[k], after0) > 0))
            exp[nexp++] = k;
    }
    static uint8_t after[CAIRN_KV_KEY_MAX];
    size_t alen = after0.len;
    if (alen)
        memcpy(after, after0.data, alen);
    size_t pos = 0;
    for (;;) {
        cairn_kv_list l;
        cairn_slice a = cairn_slice_of(after, alen);
        cairn_status st;
        if (r.txn)
            st = pairs ? cairn_kv_list_pairs_tx(r.txn, &m->id, prefix, a, limit, &l)
                       : cairn_kv_list_keys_tx(r.txn, &m->id, prefix, a, limit, &l);
        else
            st = pairs ? cairn_kv_list_pairs(r.db, &m->id, prefix, a, limit, &l)
                       : cairn_kv_list_keys(r.db, &m->id, prefix, a, limit, &l);
        EXPECT(st, CAIRN_OK);
        size_t left = nexp - pos;
        CHECK(l.n == (left < limit ? left : limit), "a KV list page holds %zu keys, expected %zu",
              l.n, left < limit ? left : limit);
        CHECK(l.more == (left > limit), "a KV list page says more=%d with %zu keys left", l.more,
              left - l.n);
        for (size_t i = 0; i < l.n; i++, pos++) {
            const kv_ent *e = &m->kv[exp[pos]];
            CHECK(slice_eq(l.items[i].key, kv_keys[exp[pos]]),
                  "KV list item %zu is a %zu-byte key, expected pool key %d", pos,
                  l.items[i].key.len, exp[pos]);
            if (pairs)
                CHECK(slice_eq(l.items[i].value, cairn_slice_of(e->val, e->vlen)),
                      "KV list item %zu (pool key %d) has another value", pos, exp[pos]);
            else
                CHECK(l.items[i].value.len == 0, "a key listing carries a value");
        }
        if (l.n) {
            CHECK(slice_eq(l.cursor, l.items[l.n - 1].key), "the KV cursor is not the last key");
            memcpy(after, l.cursor.data, l.cursor.len);
            alen = l.cursor.len;
        }
        bool more = l.more;
        cairn_kv_list_free(&l);
        if (!more)
            break;
    }
    CHECK(pos == nexp, "the KV listing gave %zu keys, expected %zu", pos, nexp);
}

static void check_kv(world *w, rd r, int slot)
{
    const mrun *m = M(w, slot);
    int64_t now = now_us(w);
    cairn_status sts[NKV];
    cairn_slice vals[NKV];
    cairn_bytes owned[NKV];
    if (r.txn) {
        EXPECT(cairn_kv_get_many_tx(r.txn, &m->id, kv_keys, NKV, vals, sts), CAIRN_OK);
    } else {
        EXPECT(cairn_kv_get_many(r.db, &m->id, kv_keys, NKV, owned, sts), CAIRN_OK);
        for (size_t i = 0; i < NKV; i++)
            vals[i] = cairn_bytes_slice(&owned[i]);
    }
    for (size_t i = 0; i < NKV; i++) {
        const kv_ent *e = &m->kv[i];
        if (kv_live(e, now)) {
            CHECK(sts[i] == CAIRN_OK, "KV key %zu reads %s, expected a %u-byte value", i,
                  cairn_status_name(sts[i]), e->vlen);
            CHECK(slice_eq(vals[i], cairn_slice_of(e->val, e->vlen)),
                  "KV key %zu holds another value (%zu bytes, expected %u)", i, vals[i].len, e->vlen);
        } else {
            CHECK(sts[i] == CAIRN_NOT_FOUND, "KV key %zu reads %s, expected absent%s", i,
                  cairn_status_name(sts[i]), e->stored ? " (expired)" : "");
        }
    }
    if (!r.txn)
        for (size_t i = 0; i < NKV; i++)
            cairn_bytes_free(&owned[i]);

    /* one key through get and exists */
    size_t k = (size_t)rnd(w, NKV);
    bool live = kv_live(&m->kv[k], now), exists = !live;
    if (r.txn) {
        cairn_slice v;
        EXPECT(cairn_kv_get_tx(r.txn, &m->id, kv_keys[k], &v), live ? CAIRN_OK : CAIRN_NOT_FOUND);
        EXPECT(cairn_kv_exists_tx(r.txn, &m->id, kv_keys[k], &exists), CAIRN_OK);
    } else {
        cairn_bytes v;
        EXPECT(cairn_kv_get(r.db, &m->id, kv_keys[k], &v), live ? CAIRN_OK : CAIRN_NOT_FOUND);
        if (live)
            CHECK(slice_eq(cairn_bytes_slice(&v), cairn_slice_of(m->kv[k].val, m->kv[k].vlen)),
                  "cairn_kv_get of key %zu gives another value", k);
        cairn_bytes_free(&v);
        EXPECT(cairn_kv_exists(r.db, &m->id, kv_keys[k], &exists), CAIRN_OK);
    }
    CHECK(exists == live, "cairn_kv_exists of key %zu says %d", k, exists);

    check_kv_listing(w, r, slot, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), true, rnd_limit(w));
    check_kv_listing(w, r, slot, kv_prefixes[rnd(w, COUNT(kv_prefixes))], cairn_slice_of(NULL, 0),
                     chance(w, 50), rnd_limit(w));
    /* resuming after any key, listed or not */
    check_kv_listing(w, r, slot, kv_prefixes[rnd(w, COUNT(kv_prefixes))], kv_keys[rnd(w, NKV)],
                     chance(w, 50), rnd_limit(w));
}

/* ---- EventLog ---- */

static void check_event_view(const mrun *m, uint64_t seq, const cairn_event_view *v,
                             const char *how)
{
    CHECK(seq < m->nev, "%s: event %" PRIu64 " is past the model's %zu", how, seq, m->nev);
    const ev_ent *e = &m->ev[seq];
    CHECK(v->seq == seq, "%s: event %" PRIu64 " says it is number %" PRIu64, how, seq, v->seq);
    CHECK(v->timestamp_us == e->ts, "%s: event %" PRIu64 " stamped %" PRId64 ", expected %" PRId64,
          how, seq, v->timestamp_us, e->ts);
    CHECK(slice_eq(v->type, ev_types[e->type]), "%s: event %" PRIu64 " has another type", how, seq);
    CHECK(slice_eq(v->payload, cairn_slice_of(e->pay, e->plen)),
          "%s: event %" PRIu64 " has another payload", how, seq);
    const uint8_t *prev = seq ? m->ev[seq - 1].hash : m->genesis;
    CHECK(memcmp(v->prev_hash, prev, CAIRN_EVENT_HASH_SIZE) == 0,
          "%s: event %" PRIu64 " does not link to %s", how, seq,
          seq ? "the event before it" : "the run's genesis hash");
    CHECK(memcmp(v->hash, e->hash, CAIRN_EVENT_HASH_SIZE) == 0,
          "%s: event %" PRIu64 " carries another hash than its append returned", how, seq);
}

static cairn_event_view event_view_of(const cairn_event *ev)
{
    cairn_event_view v;
    v.seq = ev->seq;
    v.timestamp_us = ev->timestamp_us;
    v.type = cairn_bytes_slice(&ev->type);
    v.payload = cairn_bytes_slice(&ev->payload);
    memcpy(v.prev_hash, ev->prev_hash, sizeof v.prev_hash);
    memcpy(v.hash, ev->hash, sizeof v.hash);
    return v;
}

/* Reads event `seq` (or the head when `head`) and checks it against the model. */
static void check_event_read(rd r, const mrun *m, uint64_t seq, bool head)
{
    bool present = head ? m->nev > 0 : seq < m->nev;
    if (head)
        seq = m->nev ? m->nev - 1 : 0;
    cairn_status want = present ? CAIRN_OK : CAIRN_NOT_FOUND;
    if (r.txn) {
        cairn_event_view v;
        cairn_status st = head ? cairn_event_head_tx(r.txn, &m->id, &v)
                               : cairn_event_read_tx(r.txn, &m->id, seq, &v);
        EXPECT(st, want);
        if (present)
            check_event_view(m, seq, &v, head ? "cairn_event_head_tx" : "cairn_event_read_tx");
    } else {
        cairn_event ev;
        memset(&ev, 0, sizeof ev);
        cairn_status st = head ? cairn_event_head(r.db, &m->id, &ev)
                               : cairn_event_read(r.db, &m->id, seq, &ev);
        EXPECT(st, want);
        if (present) {
            cairn_event_view v = event_view_of(&ev);
            check_event_view(m, seq, &v, head ? "cairn_event_head" : "cairn_event_read");
        }
        cairn_event_free(&ev);
    }
}

/* Walks an event iterator against the expected numbers. */
static void check_event_iter(const mrun *m, cairn_event_iter *it, const uint64_t *seqs,
                             size_t n, const char *how)
{
    cairn_event_view v;
    size_t i = 0;
    cairn_status st;
    while ((st = cairn_event_iter_next(it, &v)) == CAIRN_OK) {
        CHECK(i < n, "%s: more events than the %zu expected", how, n);
        CHECK(v.seq == seqs[i], "%s: item %zu is event %" PRIu64 ", expected %" PRIu64, how, i,
              v.seq, seqs[i]);
        check_event_view(m, v.seq, &v, how);
        i++;
    }
    EXPECT(st, CAIRN_DONE);
    CHECK(i == n, "%s: %zu events, expected %zu", how, i, n);
    cairn_event_iter_free(it);
}

static void check_chain_report(const mrun *m, const cairn_chain_report *rep,
                               uint64_t checked, const char *how)
{
    CHECK(rep->ok, "%s: the chain fails: %s (event %" PRIu64 ")", how, rep->why, rep->bad_seq);
    CHECK(rep->checked == checked && rep->len == m->nev,
          "%s: checked %" PRIu64 " of %" PRIu64 ", expected %" PRIu64 " of %zu", how, rep->checked,
          rep->len, checked, m->nev);
    const uint8_t *head = m->nev ? m->ev[m->nev - 1].hash : m->genesis;
    CHECK(memcmp(rep->head_hash, head, CAIRN_EVENT_HASH_SIZE) == 0, "%s: another head hash", how);
}

static void check_events(world *w, rd r, int slot)
{
    const mrun *m = M(w, slot);
    uint64_t len = UINT64_MAX;
    EXPECT(r.txn ? cairn_event_len_tx(r.txn, &m->id, &len) : cairn_event_len(r.db, &m->id, &len),
           CAIRN_OK);
    CHECK(len == m->nev, "the log holds %" PRIu64 " events, expected %zu", len, m->nev);
    check_event_read(r, m, 0, true);
    check_event_read(r, m, m->nev + rnd(w, 3), false); /* past the end */

    uint64_t *seqs = malloc((m->nev ? m->nev : 1) * sizeof *seqs);
    cr_assert(seqs != NULL);
    if (r.txn) {
        cairn_event_iter *it = NULL;
        for (size_t i = 0; i < m->nev; i++)
            seqs[i] = i;
        EXPECT(cairn_event_iter_range(r.txn, &m->id, 0, UINT64_MAX, &it), CAIRN_OK);
        check_event_iter(m, it, seqs, m->nev, "cairn_event_iter_range (all)");
        uint64_t a = rnd(w, m->nev + 2), b = rnd(w, m->nev + 3);
        size_t n = 0;
        for (uint64_t s = a; s < b && s < m->nev; s++)
            seqs[n++] = s;
        EXPECT(cairn_event_iter_range(r.txn, &m->id, a, b, &it), CAIRN_OK);
        check_event_iter(m, it, seqs, n, "cairn_event_iter_range");
        for (size_t t = 0; t < NEVT; t++) {
            uint64_t from = rnd(w, 4) ? 0 : rnd(w, m->nev + 1);
            n = 0;
            for (uint64_t s = from; s < m->nev; s++)
                if (m->ev[s].type == t)
                    seqs[n++] = s;
            EXPECT(cairn_event_iter_type(r.txn, &m->id, ev_types[t], from, &it), CAIRN_OK);
            check_event_iter(m, it, seqs, n, "cairn_event_iter_type");
        }
    } else {
        for (uint64_t s = 0; s < m->nev; s++)
            check_event_read(r, m, s, false);
    }
    free(seqs);

    /* the distinct types, each once (their order is the by-type index's:
     * shorter types first, then bytewise) */
    bool used[NEVT] = {false}, seen[NEVT] = {false};
    size_t n = 0;
    for (size_t s = 0; s < m->nev; s++) {
        n += !used[m->ev[s].type];
        used[m->ev[s].type] = true;
    }
    cairn_event_types types;
    EXPECT(r.txn ? cairn_event_list_types_tx(r.txn, &m->id, &types)
                 : cairn_event_list_types(r.db, &m->id, &types),
           CAIRN_OK);
    CHECK(types.n == n, "%zu event types listed, expected %zu", types.n, n);
    for (size_t i = 0; i < types.n; i++) {
        size_t t = 0;
        while (t < NEVT && !slice_eq(types.types[i], ev_types[t]))
            t++;
        CHECK(t < NEVT && used[t] && !seen[t], "event type %zu listed is not one of the run's, or repeats", i);
        seen[t] = true;
        if (i > 0)
            CHECK(types.types[i - 1].len < types.types[i].len ||
                      (types.types[i - 1].len == types.types[i].len &&
                       slice_cmp(types.types[i - 1], types.types[i]) < 0),
                  "event types %zu and %zu are out of order", i - 1, i);
    }
    cairn_event_types_free(&types);

    /* the whole chain, and from a trusted point */
    cairn_chain_report rep;
    EXPECT(r.txn ? cairn_event_verify_tx(r.txn, &m->id, &rep) : cairn_event_verify(r.db, &m->id, &rep),
           CAIRN_OK);
    check_chain_report(m, &rep, m->nev, "cairn_event_verify");
    if (m->nev) {
        uint64_t t = rnd(w, m->nev);
        EXPECT(r.txn ? cairn_event_verify_from_tx(r.txn, &m->id, t, m->ev[t].hash, &rep)
                     : cairn_event_verify_from(r.db, &m->id, t, m->ev[t].hash, &rep),
               CAIRN_OK);
        check_chain_report(m, &rep, m->nev - t - 1, "cairn_event_verify_from");
        /* another run's event at the same number is no trusted point here */
        for (int i = 0; i < NSLOTS; i++) {
            const mrun *o = M(w, i);
            if (o == m || o->nev <= t)
                continue;
            EXPECT(r.txn ? cairn_event_verify_from_tx(r.txn, &m->id, t, o->ev[t].hash, &rep)
                         : cairn_event_verify_from(r.db, &m->id, t, o->ev[t].hash, &rep),
                   CAIRN_OK);
            CHECK(!rep.ok && rep.problem == CAIRN_CHAIN_UNTRUSTED,
                  "run %d's event %" PRIu64 " hash verifies as a trusted point here", i, t);
            break;
        }
    }
}

/* ---- StateCell ---- */

static void check_cell_listing(world *w, rd r, int slot, cairn_slice prefix, size_t limit)
{
    const mrun *m = M(w, slot);
    int exp[NCELL];
    size_t nexp = 0;
    for (size_t i = 0; i < NCELL; i++) {
        int c = cell_order[i];
        if (m->cell[c].present && has_prefix(cell_names[c], prefix))
            exp[nexp++] = c;
    }
    static uint8_t after[CAIRN_CELL_NAME_MAX];
    size_t alen = 0, pos = 0;
    for (;;) {
        cairn_cell_list l;
        cairn_slice a = cairn_slice_of(after, alen);
        EXPECT(r.txn ? cairn_cell_list_names_tx(r.txn, &m->id, prefix, a, limit, &l)
                     : cairn_cell_list_names(r.db, &m->id, prefix, a, limit, &l),
               CAIRN_OK);
        size_t left = nexp - pos;
        CHECK(l.n == (left < limit ? left : limit), "a cell list page holds %zu names, expected %zu",
              l.n, left < limit ? left : limit);
        CHECK(l.more == (left > limit), "a cell list page says more=%d", l.more);
        for (size_t i = 0; i < l.n; i++, pos++)
            CHECK(slice_eq(l.names[i], cell_names[exp[pos]]),
                  "cell list item %zu is not pool cell %d", pos, exp[pos]);
        if (l.n) {
            memcpy(after, l.cursor.data, l.cursor.len);
            alen = l.cursor.len;
        }
        bool more = l.more;
        cairn_cell_list_free(&l);
        if (!more)
            break;
    }
    CHECK(pos == nexp, "the cell listing gave %zu names, expected %zu", pos, nexp);
}

static void check_cells(world *w, rd r, int slot)
{
    const mrun *m = M(w, slot);
    for (size_t i = 0; i < NCELL; i++) {
        const cell_ent *c = &m->cell[i];
        cairn_status want = c->present ? CAIRN_OK : CAIRN_NOT_FOUND;
        cairn_cell_view v;
        cairn_cell own;
        memset(&own, 0, sizeof own);
        if (r.txn) {
            EXPECT(cairn_cell_read_tx(r.txn, &m->id, cell_names[i], &v), want);
        } else {
            EXPECT(cairn_cell_read(r.db, &m->id, cell_names[i], &own), want);
            v.value = cairn_bytes_slice(&own.value);
            v.version = own.version;
            v.updated_at_us = own.updated_at_us;
        }
        if (c->present) {
            CHECK(v.version == c->version, "cell %zu is at version %" PRIu64 ", expected %" PRIu64, i,
                  v.version, c->version);
            CHECK(v.updated_at_us == c->updated, "cell %zu updated at %" PRId64 ", expected %" PRId64,
                  i, v.updated_at_us, c->updated);
            CHECK(slice_eq(v.value, cairn_slice_of(c->val, c->vlen)), "cell %zu holds another value", i);
        } else if (!r.txn) {
            CHECK(own.version == 0 && own.value.data == NULL, "a missing cell is not zeroed");
        }
        cairn_bytes_free(&own.value);
    }
    size_t i = (size_t)rnd(w, NCELL);
    bool exists = !m->cell[i].present;
    EXPECT(r.txn ? cairn_cell_exists_tx(r.txn, &m->id, cell_names[i], &exists)
                 : cairn_cell_exists(r.db, &m->id, cell_names[i], &exists),
           CAIRN_OK);
    CHECK(exists == m->cell[i].present, "cairn_cell_exists of cell %zu says %d", i, exists);
    check_cell_listing(w, r, slot, cairn_slice_of(NULL, 0), rnd_limit(w));
    check_cell_listing(w, r, slot, cell_prefixes[rnd(w, COUNT(cell_prefixes))], rnd_limit(w));
}

/* ---- TraceStore ---- */

static void check_trace_view(const mrun *m, int ti, const cairn_trace_view *v, const char *how)
{
    const tr_ent *e = &m->tr[ti];
    CHECK(slice_eq(v->id, tr_id_of(m, ti)), "%s: another trace than model trace %d", how, ti);
    cairn_slice pid = e->parent >= 0 ? tr_id_of(m, e->parent) : cairn_slice_of(NULL, 0);
    CHECK(slice_eq(v->parent_id, pid), "%s: trace %d has another parent", how, ti);
    CHECK(v->type == (cairn_trace_type)e->type && v->status == (cairn_trace_status)e->status,
          "%s: trace %d is %s/%s, expected %s/%s", how, ti, cairn_trace_type_name(v->type),
          cairn_trace_status_name(v->status), cairn_trace_type_name((cairn_trace_type)e->type),
          cairn_trace_status_name((cairn_trace_status)e->status));
    CHECK(v->start_us == e->start && v->end_us == e->end,
          "%s: trace %d spans %" PRId64 "..%" PRId64 ", expected %" PRId64 "..%" PRId64, how, ti,
          v->start_us, v->end_us, e->start, e->end);
    CHECK(slice_eq(v->name, tr_names[e->name]), "%s: trace %d has another name", how, ti);
    CHECK(v->ntags == e->ntags, "%s: trace %d has %zu tags, expected %u", how, ti, v->ntags, e->ntags);
    for (size_t i = 0; i < e->ntags; i++)
        CHECK(slice_eq(v->tags[i], tr_tags[e->tags[i]]), "%s: trace %d tag %zu differs", how, ti, i);
    CHECK(slice_eq(v->payload, cairn_slice_of(e->pay, e->plen)), "%s: trace %d has another payload",
          how, ti);
}

enum { Q_ROOTS, Q_TYPE, Q_TAG, Q_TIME, Q_CHILDREN };
static const char *const q_names[] = {"roots", "by_type", "by_tag", "by_time", "children"};

static bool tr_matches(const mrun *m, size_t ti, int kind, int arg, int64_t from, int64_t to)
{
    const tr_ent *e = &m->tr[ti];
    switch (kind) {
    case Q_ROOTS: return e->parent < 0;
    case Q_TYPE: return e->type == arg;
    case Q_TAG:
        for (size_t i = 0; i < e->ntags; i++)
            if (e->tags[i] == arg)
                return true;
        return false;
    case Q_TIME: return e->start >= from && e->start < to;
    default: return e->parent == arg;
    }
}

static cairn_status tr_query(rd r, const cairn_run_id *run, int kind, int arg, cairn_slice parent,
                             int64_t from, int64_t to, const cairn_trace_cursor *after, size_t limit,
                             cairn_trace_list *l)
{
    switch (kind) {
    case Q_ROOTS:
        return r.txn ? cairn_trace_roots_tx(r.txn, run, after, limit, l)
                     : cairn_trace_roots(r.db, run, after, limit, l);
    case Q_TYPE:
        return r.txn ? cairn_trace_by_type_tx(r.txn, run, (cairn_trace_type)arg, after, limit, l)
                     : cairn_trace_by_type(r.db, run, (cairn_trace_type)arg, after, limit, l);
    case Q_TAG:
        return r.txn ? cairn_trace_by_tag_tx(r.txn, run, tr_tags[arg], after, limit, l)
                     : cairn_trace_by_tag(r.db, run, tr_tags[arg], after, limit, l);
    case Q_TIME:
        return r.txn ? cairn_trace_by_time_tx(r.txn, run, from, to, after, limit, l)
                     : cairn_trace_by_time(r.db, run, from, to, after, limit, l);
    default:
        return r.txn ? cairn_trace_children_tx(r.txn, run, parent, after, limit, l)
                     : cairn_trace_children(r.db, run, parent, after, limit, l);
    }
}

/* Runs one trace query page by page and compares it with the model.  For
 * Q_CHILDREN, `arg` < 0 asks for the children of a trace the run lacks. */
static void check_trace_query(world *w, rd r, int slot, int kind, int arg, int64_t from, int64_t to)
{
    const mrun *m = M(w, slot);
    int *exp = malloc((m->ntr ? m->ntr : 1) * sizeof *exp);
    cr_assert(exp != NULL);
    size_t nexp = 0;
    for (size_t i = 0; i < m->ntr; i++)
        if (tr_matches(m, i, kind, arg, from, to))
            exp[nexp++] = (int)i;
    sort_traces(m, exp, nexp);
    cairn_slice parent = cairn_slice_of(NULL, 0);
    if (kind == Q_CHILDREN)
        parent = arg >= 0 ? tr_id_of(m, arg) : missing_tr_id(w, m);
    size_t limit = rnd_limit(w), pos = 0;
    cairn_trace_cursor cur;
    memset(&cur, 0, sizeof cur);
    bool first = true;
    char how[64];
    snprintf(how, sizeof how, "trace query %s(%d)", q_names[kind], arg);
    for (;;) {
        cairn_trace_list l;
        const cairn_trace_cursor *after = first && chance(w, 50) ? NULL : &cur;
        cairn_status st = tr_query(r, &m->id, kind, arg, parent, from, to, after, limit, &l);
        if (kind == Q_CHILDREN && arg < 0) {
            EXPECT(st, CAIRN_NOT_FOUND);
            break;
        }
        EXPECT(st, CAIRN_OK);
        size_t left = nexp - pos;
        CHECK(l.n == (left < limit ? left : limit), "%s: a page of %zu traces, expected %zu", how,
              l.n, left < limit ? left : limit);
        CHECK(l.more == (left > limit), "%s: a page says more=%d", how, l.more);
        for (size_t i = 0; i < l.n; i++, pos++)
            check_trace_view(m, exp[pos], &l.items[i], how);
        if (l.n) {
            CHECK(l.next.set, "%s: a page without a cursor", how);
            cur = l.next;
        }
        bool more = l.more;
        cairn_trace_list_free(&l);
        if (!more)
            break;
        first = false;
    }
    if (!(kind == Q_CHILDREN && arg < 0))
        CHECK(pos == nexp, "%s: %zu traces, expected %zu", how, pos, nexp);
    free(exp);
}

/* The tree under model trace `root`, with limits that fit it or miss by one. */
static void check_tree(world *w, rd r, int slot, int root)
{
    const mrun *m = M(w, slot);
    size_t cap = m->ntr ? m->ntr : 1;
    int *order = malloc(cap * sizeof *order);
    size_t *par = malloc(cap * sizeof *par);
    uint32_t *dep = malloc(cap * sizeof *dep);
    int *kids = malloc(cap * sizeof *kids);
    cr_assert(order && par && dep && kids);
    size_t n = 0;
    uint32_t maxdep = 0;
    if (root >= 0) {
        order[0] = root;
        par[0] = SIZE_MAX;
        dep[0] = 0;
        n = 1;
        for (size_t i = 0; i < n; i++) {
            size_t nk = 0;
            for (size_t j = 0; j < m->ntr; j++)
                if (m->tr[j].parent == order[i])
                    kids[nk++] = (int)j;
            sort_traces(m, kids, nk);
            for (size_t j = 0; j < nk; j++) {
                order[n] = kids[j];
                par[n] = i;
                dep[n] = dep[i] + 1;
                if (dep[n] > maxdep)
                    maxdep = dep[n];
                n++;
            }
        }
    }
    uint32_t max_depth = 1000;
    size_t max_nodes = 10000;
    cairn_status want = root >= 0 ? CAIRN_OK : CAIRN_NOT_FOUND;
    switch (rnd(w, 4)) {
    case 1:
        max_depth = maxdep;
        max_nodes = n ? n : 1;
        break;
    case 2:
        if (n > 1) {
            max_nodes = n - 1;
            want = CAIRN_LIMIT;
        }
        break;
    case 3:
        if (maxdep > 0) {
            max_depth = maxdep - 1;
            want = CAIRN_LIMIT;
        }
        break;
    default: break;
    }
    cairn_slice id = root >= 0 ? tr_id_of(m, root) : missing_tr_id(w, m);
    cairn_trace_tree t;
    EXPECT(r.txn ? cairn_trace_get_tree_tx(r.txn, &m->id, id, max_depth, max_nodes, &t)
                 : cairn_trace_get_tree(r.db, &m->id, id, max_depth, max_nodes, &t),
           want);
    if (want == CAIRN_OK) {
        CHECK(t.n == n, "the tree under trace %d has %zu nodes, expected %zu", root, t.n, n);
        for (size_t i = 0; i < n; i++) {
            check_trace_view(m, order[i], &t.nodes[i], "cairn_trace_get_tree");
            CHECK(t.parent[i] == par[i] && t.depth[i] == dep[i],
                  "tree node %zu has parent %zu depth %u, expected %zu and %u", i, t.parent[i],
                  t.depth[i], par[i], dep[i]);
        }
    } else {
        CHECK(t.n == 0 && t.nodes == NULL, "a refused tree is not empty");
    }
    cairn_trace_tree_free(&t);
    free(order);
    free(par);
    free(dep);
    free(kids);
}

static void check_traces(world *w, rd r, int slot)
{
    const mrun *m = M(w, slot);
    for (size_t i = 0; i < m->ntr; i++) {
        if (r.txn) {
            cairn_trace_view v;
            EXPECT(cairn_trace_get_tx(r.txn, &m->id, tr_id_of(m, (int)i), &v), CAIRN_OK);
            check_trace_view(m, (int)i, &v, "cairn_trace_get_tx");
        } else {
            cairn_trace t;
            EXPECT(cairn_trace_get(r.db, &m->id, tr_id_of(m, (int)i), &t), CAIRN_OK);
            check_trace_view(m, (int)i, &t.v, "cairn_trace_get");
            cairn_trace_free(&t);
        }
    }
    /* the pool ids this run lacks (other runs have them) */
    for (size_t i = 0; i < NTID; i++) {
        if (tr_find(m, tr_ids[i]) >= 0)
            continue;
        if (r.txn) {
            cairn_trace_view v;
            EXPECT(cairn_trace_get_tx(r.txn, &m->id, tr_ids[i], &v), CAIRN_NOT_FOUND);
        } else {
            cairn_trace t;
            EXPECT(cairn_trace_get(r.db, &m->id, tr_ids[i], &t), CAIRN_NOT_FOUND);
        }
    }
    check_trace_query(w, r, slot, Q_ROOTS, 0, 0, 0);
    for (int t = CAIRN_TRACE_TOOL_CALL; t <= CAIRN_TRACE_CUSTOM; t++)
        check_trace_query(w, r, slot, Q_TYPE, t, 0, 0);
    for (size_t t = 0; t < NTTAG; t++)
        check_trace_query(w, r, slot, Q_TAG, (int)t, 0, 0);
    int64_t from = m->ntr ? m->tr[rnd(w, m->ntr)].start - (int64_t)rnd(w, 3) : (int64_t)rnd(w, 10);
    if (from < 0)
        from = 0;
    int64_t to = from + (chance(w, 10) ? -(int64_t)rnd(w, 2) : (int64_t)rnd(w, 20000));
    if (to < 0)
        to = 0;
    check_trace_query(w, r, slot, Q_TIME, 0, from, to);
    for (size_t i = 0; i < m->ntr; i++)
        check_trace_query(w, r, slot, Q_CHILDREN, (int)i, 0, 0);
    check_trace_query(w, r, slot, Q_CHILDREN, -1, 0, 0);
    int root = -1;
    if (m->ntr && chance(w, 90)) {
        root = (int)rnd(w, m->ntr);
        while (m->tr[root].parent >= 0 && chance(w, 70))
            root = m->tr[root].parent;
    }
    check_tree(w, r, slot, root);

    uint64_t entries = 0;
    for (size_t i = 0; i < m->ntr; i++)
        entries += 3u + m->tr[i].ntags;
    cairn_trace_report rep;
    EXPECT(r.txn ? cairn_trace_check_tx(r.txn, &m->id, &rep) : cairn_trace_check(r.db, &m->id, &rep),
           CAIRN_OK);
    CHECK(rep.ok, "cairn_trace_check: %s", rep.why);
    CHECK(rep.traces == m->ntr && rep.entries == entries,
          "cairn_trace_check counted %" PRIu64 " traces and %" PRIu64 " entries, expected %zu and %" PRIu64,
          rep.traces, rep.entries, m->ntr, entries);
}

/* ---- RunIndex ---- */

static void check_run_view(world *w, int slot, const cairn_run_view *v, const char *how)
{
    const mrun *m = M(w, slot);
    const reg_ent *g = &m->reg;
    CHECK(memcmp(v->id.bytes, m->id.bytes, CAIRN_RUN_ID_SIZE) == 0, "%s: another run than slot %d",
          how, slot);
    CHECK(v->status == (cairn_run_status)g->status, "%s: run %d is %s, expected %s", how, slot,
          cairn_run_status_name(v->status), cairn_run_status_name((cairn_run_status)g->status));
    CHECK(v->has_parent == (g->parent >= 0), "%s: run %d has_parent %d", how, slot, v->has_parent);
    cairn_run_id zero;
    memset(&zero, 0, sizeof zero);
    const cairn_run_id *pid = g->parent >= 0 ? &M(w, g->parent)->id : &zero;
    CHECK(memcmp(v->parent.bytes, pid->bytes, CAIRN_RUN_ID_SIZE) == 0, "%s: run %d has another parent",
          how, slot);
    CHECK(v->created_us == g->created && v->updated_us == g->updated && v->finished_us == g->finished,
          "%s: run %d times %" PRId64 "/%" PRId64 "/%" PRId64 ", expected %" PRId64 "/%" PRId64
          "/%" PRId64,
          how, slot, v->created_us, v->updated_us, v->finished_us, g->created, g->updated, g->finished);
    CHECK(slice_eq(v->name, g->name >= 0 ? run_names[g->name] : cairn_slice_of(NULL, 0)),
          "%s: run %d has another name", how, slot);
    CHECK(v->ntags == g->ntags, "%s: run %d has %zu tags, expected %u", how, slot, v->ntags, g->ntags);
    for (size_t i = 0; i < g->ntags; i++)
        CHECK(slice_eq(v->tags[i], run_tags[g->tags[i]]), "%s: run %d tag %zu differs", how, slot, i);
    CHECK(slice_eq(v->metadata, cairn_slice_of(g->meta, g->mlen)), "%s: run %d has other metadata",
          how, slot);
    CHECK(slice_eq(v->error, cairn_slice_of(g->err, g->elen)), "%s: run %d has another error", how,
          slot);
}

enum { RQ_ALL, RQ_STATUS, RQ_TAG, RQ_STATUS_TAG, RQ_CHILDREN, RQ_TIME };
static const char *const rq_names[] = {"all", "by_status", "by_tag", "by_status_tag", "children",
                                       "by_time"};

static bool run_has_tag(const reg_ent *g, int tag)
{
    for (size_t i = 0; i < g->ntags; i++)
        if (g->tags[i] == tag)
            return true;
    return false;
}

static bool run_matches(world *w, int slot, int kind, int a, int b, int64_t from, int64_t to)
{
    const reg_ent *g = &M(w, slot)->reg;
    if (!g->registered)
        return false;
    switch (kind) {
    case RQ_ALL: return true;
    case RQ_STATUS: return g->status == a;
    case RQ_TAG: return run_has_tag(g, a);
    case RQ_STATUS_TAG: return g->status == a && run_has_tag(g, b);
    case RQ_CHILDREN: return g->parent == a;
    default: return g->created >= from && g->created < to;
    }
}

static cairn_status run_query(world *w, rd r, int kind, int a, int b, int64_t from, int64_t to,
                              const cairn_run_cursor *after, size_t limit, cairn_run_list *l)
{
    switch (kind) {
    case RQ_ALL:
        return r.txn ? cairn_run_list_all_tx(r.txn, after, limit, l)
                     : cairn_run_list_all(r.db, after, limit, l);
    case RQ_STATUS:
        return r.txn ? cairn_run_by_status_tx(r.txn, (cairn_run_status)a, after, limit, l)
                     : cairn_run_by_status(r.db, (cairn_run_status)a, after, limit, l);
    case RQ_TAG:
        return r.txn ? cairn_run_by_tag_tx(r.txn, run_tags[a], after, limit, l)
                     : cairn_run_by_tag(r.db, run_tags[a], after, limit, l);
    case RQ_STATUS_TAG:
        return r.txn ? cairn_run_by_status_tag_tx(r.txn, (cairn_run_status)a, run_tags[b], after, limit, l)
                     : cairn_run_by_status_tag(r.db, (cairn_run_status)a, run_tags[b], after, limit, l);
    case RQ_CHILDREN:
        return r.txn ? cairn_run_children_tx(r.txn, &M(w, a)->id, after, limit, l)
                     : cairn_run_children(r.db, &M(w, a)->id, after, limit, l);
    default:
        return r.txn ? cairn_run_by_time_tx(r.txn, from, to, after, limit, l)
                     : cairn_run_by_time(r.db, from, to, after, limit, l);
    }
}

/* Runs one RunIndex query page by page and compares it with the model.
 * For RQ_CHILDREN, `a` is the parent slot (unregistered: CAIRN_NOT_FOUND). */
static void check_run_query(world *w, rd r, int kind, int a, int b, int64_t from, int64_t to)
{
    int exp[NSLOTS];
    size_t nexp = 0;
    for (int i = 0; i < NSLOTS; i++)
        if (run_matches(w, i, kind, a, b, from, to))
            exp[nexp++] = i;
    sort_slots(w, exp, nexp);
    bool missing = kind == RQ_CHILDREN && !registered(w, a);
    size_t limit = rnd_limit(w), pos = 0;
    cairn_run_cursor cur;
    memset(&cur, 0, sizeof cur);
    bool first = true;
    char how[64];
    snprintf(how, sizeof how, "run query %s(%d, %d)", rq_names[kind], a, b);
    for (;;) {
        cairn_run_list l;
        const cairn_run_cursor *after = first && chance(w, 50) ? NULL : &cur;
        cairn_status st = run_query(w, r, kind, a, b, from, to, after, limit, &l);
        if (missing) {
            EXPECT(st, CAIRN_NOT_FOUND);
            return;
        }
        EXPECT(st, CAIRN_OK);
        size_t left = nexp - pos;
        CHECK(l.n == (left < limit ? left : limit), "%s: a page of %zu runs, expected %zu", how, l.n,
              left < limit ? left : limit);
        CHECK(l.more == (left > limit), "%s: a page says more=%d", how, l.more);
        for (size_t i = 0; i < l.n; i++, pos++)
            check_run_view(w, exp[pos], &l.items[i], how);
        if (l.n) {
            CHECK(l.next.set, "%s: a page without a cursor", how);
            cur = l.next;
        }
        bool more = l.more;
        cairn_run_list_free(&l);
        if (!more)
            break;
        first = false;
    }
    CHECK(pos == nexp, "%s: %zu runs, expected %zu", how, pos, nexp);
}

/* The RunIndex side of one run: its record, its children, its write policy. */
static void check_run_record(world *w, rd r, int slot)
{
    const mrun *m = M(w, slot);
    cairn_status want = m->reg.registered ? CAIRN_OK : CAIRN_NOT_FOUND;
    if (r.txn) {
        cairn_run_view v;
        EXPECT(cairn_run_get_tx(r.txn, &m->id, &v), want);
        if (want == CAIRN_OK)
            check_run_view(w, slot, &v, "cairn_run_get_tx");
        EXPECT(cairn_run_check_writable_tx(r.txn, &m->id), writable(m) ? CAIRN_OK : CAIRN_READ_ONLY);
    } else {
        cairn_run run;
        EXPECT(cairn_run_get(r.db, &m->id, &run), want);
        if (want == CAIRN_OK)
            check_run_view(w, slot, &run.v, "cairn_run_get");
        cairn_run_free(&run);
    }
    check_run_query(w, r, RQ_CHILDREN, slot, 0, 0, 0);
}

/* Every RunIndex query over the whole registry, and its checker. */
static void check_registry(world *w, rd r)
{
    check_run_query(w, r, RQ_ALL, 0, 0, 0, 0);
    for (int s = CAIRN_RUN_ACTIVE; s <= CAIRN_RUN_ARCHIVED; s++) {
        check_run_query(w, r, RQ_STATUS, s, 0, 0, 0);
        uint64_t count = UINT64_MAX, want = 0;
        for (int i = 0; i < NSLOTS; i++)
            want += run_matches(w, i, RQ_STATUS, s, 0, 0, 0);
        EXPECT(r.txn ? cairn_run_count_tx(r.txn, (cairn_run_status)s, &count)
                     : cairn_run_count(r.db, (cairn_run_status)s, &count),
               CAIRN_OK);
        CHECK(count == want, "cairn_run_count(%s) = %" PRIu64 ", expected %" PRIu64,
              cairn_run_status_name((cairn_run_status)s), count, want);
        for (size_t t = 0; t < NRTAG; t++)
            check_run_query(w, r, RQ_STATUS_TAG, s, (int)t, 0, 0);
    }
    for (size_t t = 0; t < NRTAG; t++)
        check_run_query(w, r, RQ_TAG, (int)t, 0, 0, 0);
    int some = pick_slot(w, -1, registered);
    int64_t from = some >= 0 ? M(w, some)->reg.created - (int64_t)rnd(w, 2) : 0;
    check_run_query(w, r, RQ_TIME, 0, 0, from, from + (int64_t)rnd(w, 200000));
    for (size_t n = 0; n < NRNAME; n++) {
        int owner = -1;
        for (int i = 0; i < NSLOTS; i++)
            if (registered(w, i) && M(w, i)->reg.name == (int)n)
                owner = i;
        cairn_status want = owner >= 0 ? CAIRN_OK : CAIRN_NOT_FOUND;
        if (r.txn) {
            cairn_run_view v;
            EXPECT(cairn_run_get_by_name_tx(r.txn, run_names[n], &v), want);
            if (owner >= 0)
                check_run_view(w, owner, &v, "cairn_run_get_by_name_tx");
        } else {
            cairn_run run;
            EXPECT(cairn_run_get_by_name(r.db, run_names[n], &run), want);
            if (owner >= 0)
                check_run_view(w, owner, &run.v, "cairn_run_get_by_name");
            cairn_run_free(&run);
        }
    }
    uint64_t runs = 0, entries = 0;
    for (int i = 0; i < NSLOTS; i++) {
        const reg_ent *g = &M(w, i)->reg;
        if (!g->registered)
            continue;
        runs++;
        entries += 3u + 2u * g->ntags + (g->name >= 0);
    }
    cairn_run_report rep;
    EXPECT(r.txn ? cairn_run_check_tx(r.txn, &rep) : cairn_run_check(r.db, &rep), CAIRN_OK);
    CHECK(rep.ok, "cairn_run_check: %s", rep.why);
    CHECK(rep.runs == runs && rep.entries == entries,
          "cairn_run_check counted %" PRIu64 " runs and %" PRIu64 " entries, expected %" PRIu64
          " and %" PRIu64,
          rep.runs, rep.entries, runs, entries);
}

/* Everything one run holds, compared with the model. */
static void compare_run(world *w, rd r, int slot)
{
    if (!M(w, slot)->has_id)
        return;
    check_run_record(w, r, slot);
    check_kv(w, r, slot);
    check_events(w, r, slot);
    check_cells(w, r, slot);
    check_traces(w, r, slot);
}

/*
 * Every key in the database, counted by run and primitive: each must belong
 * to one of the fifty runs (or be the RunIndex's), and each run must hold
 * exactly the keys its model implies (docs/FORMAT.md): a KV key per live
 * pair; per event the event and its by-type entry, plus the log's length
 * record and the idempotency records; a key per cell; per trace the trace
 * and its 3 + tags index entries; per registered run its record and
 * 3 + 2 x tags (+ 1 with a name) index entries.
 */
static void census(world *w, cairn_txn *txn)
{
    uint64_t have[NSLOTS][5];
    uint64_t registry = 0;
    memset(have, 0, sizeof have);
    cairn_key start;
    start.len = 0;
    cairn_iter *it = NULL;
    EXPECT(cairn_txn_scan(txn, &start, NULL, 0, &it), CAIRN_OK);
    cairn_slice k, v;
    cairn_status st;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        cairn_run_id run;
        cairn_tag tag;
        EXPECT(cairn_key_decode(k, &run, &tag, NULL), CAIRN_OK);
        if (cairn_run_id_is_zero(&run)) {
            CHECK(tag == CAIRN_TAG_RUN, "the all-zero run holds a key of tag %d", (int)tag);
            registry++;
            continue;
        }
        int slot = find_slot(w, &run);
        char text[CAIRN_RUN_ID_TEXT_LEN + 1];
        cairn_run_id_format(&run, text);
        CHECK(slot >= 0, "the database holds a key of run %s, none of the fifty", text);
        CHECK(tag >= CAIRN_TAG_KV && tag <= CAIRN_TAG_TRACE, "run %d holds a key of tag %d", slot,
              (int)tag);
        have[slot][tag]++;
    }
    EXPECT(st, CAIRN_DONE);
    cairn_iter_free(it);

    int64_t now = now_us(w);
    uint64_t want_registry = 0;
    for (int i = 0; i < NSLOTS; i++) {
        const mrun *m = M(w, i);
        uint64_t want[5] = {0};
        for (size_t j = 0; j < NKV; j++)
            want[CAIRN_TAG_KV] += kv_live(&m->kv[j], now);
        want[CAIRN_TAG_EVENT] = (m->nev ? 1u : 0u) + 2u * m->nev;
        for (size_t j = 0; j < NONCE; j++)
            want[CAIRN_TAG_EVENT] += m->once[j] >= 0;
        for (size_t j = 0; j < NCELL; j++)
            want[CAIRN_TAG_STATE] += m->cell[j].present;
        for (size_t j = 0; j < m->ntr; j++)
            want[CAIRN_TAG_TRACE] += 4u + m->tr[j].ntags;
        if (m->reg.registered)
            want_registry += 4u + 2u * m->reg.ntags + (m->reg.name >= 0);
        static const char *const what[5] = {"", "KV", "event", "cell", "trace"};
        for (int t = CAIRN_TAG_KV; t <= CAIRN_TAG_TRACE; t++)
            CHECK(have[i][t] == want[t], "run %d holds %" PRIu64 " %s keys, expected %" PRIu64, i,
                  have[i][t], what[t], want[t]);
    }
    CHECK(registry == want_registry, "the RunIndex holds %" PRIu64 " keys, expected %" PRIu64,
          registry, want_registry);
}

/* Reads runs `a`, `b` and `c` back (-1: none), half the time in one
 * read-only transaction. */
static void compare_runs(world *w, int a, int b, int c, bool registry)
{
    rd r = {w->db, NULL};
    if (chance(w, 50)) {
        cairn_txn_options o;
        cairn_txn_options_init(&o);
        o.mode = CAIRN_TXN_READ_ONLY;
        EXPECT(cairn_txn_begin(w->db, &o, &r.txn), CAIRN_OK);
    }
    int slots[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (slots[i] >= 0)
            compare_run(w, r, slots[i]);
    if (registry)
        check_registry(w, r);
    if (r.txn) {
        EXPECT(cairn_txn_commit(r.txn), CAIRN_OK);
        cairn_txn_free(r.txn);
    }
}

/* All fifty runs, the registry and the census in one snapshot; with
 * `checkers`, the implicit checkers of every run too. */
static void full_check(world *w, bool checkers)
{
    set_where(w, "full check", -1);
    cairn_txn_options o;
    cairn_txn_options_init(&o);
    o.mode = CAIRN_TXN_READ_ONLY;
    rd r = {w->db, NULL};
    EXPECT(cairn_txn_begin(w->db, &o, &r.txn), CAIRN_OK);
    for (int i = 0; i < NSLOTS; i++) {
        set_where(w, "full check", i);
        compare_run(w, r, i);
    }
    set_where(w, "full check: registry and census", -1);
    check_registry(w, r);
    census(w, r.txn);
    EXPECT(cairn_txn_commit(r.txn), CAIRN_OK);
    cairn_txn_free(r.txn);
    w->full_checks++;
    if (!checkers)
        return;
    for (int i = 0; i < NSLOTS; i++) {
        const mrun *m = M(w, i);
        if (!m->has_id)
            continue;
        set_where(w, "checkers", i);
        cairn_chain_report cr;
        EXPECT(cairn_event_verify(w->db, &m->id, &cr), CAIRN_OK);
        check_chain_report(m, &cr, m->nev, "cairn_event_verify");
        cairn_trace_report tr;
        EXPECT(cairn_trace_check(w->db, &m->id, &tr), CAIRN_OK);
        CHECK(tr.ok && tr.traces == m->ntr, "cairn_trace_check: %s (%" PRIu64 " traces, expected %zu)",
              tr.why, tr.traces, m->ntr);
    }
    set_where(w, "checkers: registry", -1);
    cairn_run_report rr;
    EXPECT(cairn_run_check(w->db, &rr), CAIRN_OK);
    CHECK(rr.ok, "cairn_run_check: %s", rr.why);
}

/* ---- operations: txn NULL runs the implicit form, else the _tx form -------- */

static void note(world *w, cairn_status st)
{
    if ((unsigned)st < CAIRN_STATUS_COUNT)
        w->outcomes[st]++;
}

static void op_kv_put(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    size_t k = (size_t)rnd(w, NKV);
    uint8_t val[VAL_MAX];
    size_t vlen = rnd_len(w, VAL_MAX);
    rnd_fill(w, val, vlen);
    cairn_slice v = cairn_slice_of(val, vlen);
    int64_t ttl = chance(w, 20) ? 1 + (int64_t)rnd(w, 30000) : 0;
    cairn_status st;
    if (ttl)
        st = txn ? cairn_kv_put_ttl_tx(txn, &m->id, kv_keys[k], v, ttl)
                 : cairn_kv_put_ttl(w->db, &m->id, kv_keys[k], v, ttl);
    else
        st = txn ? cairn_kv_put_tx(txn, &m->id, kv_keys[k], v) : cairn_kv_put(w->db, &m->id, kv_keys[k], v);
    note(w, st);
    EXPECT(st, writable(m) ? CAIRN_OK : CAIRN_READ_ONLY);
    if (st != CAIRN_OK)
        return;
    kv_ent *e = &m->kv[k];
    e->stored = true;
    e->orphan = false;
    e->ckpt_dropped = false;
    e->expires = ttl ? now_us(w) + ttl : 0;
    e->vlen = (uint16_t)vlen;
    memcpy(e->val, val, vlen);
}

static void op_kv_delete(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    size_t k = (size_t)rnd(w, NKV);
    bool live = kv_live(&m->kv[k], now_us(w)), existed = !live;
    cairn_status st = txn ? cairn_kv_delete_tx(txn, &m->id, kv_keys[k], &existed)
                          : cairn_kv_delete(w->db, &m->id, kv_keys[k], &existed);
    note(w, st);
    EXPECT(st, writable(m) ? CAIRN_OK : CAIRN_READ_ONLY);
    if (st != CAIRN_OK)
        return;
    CHECK(existed == live, "cairn_kv_delete of key %zu says existed=%d", k, existed);
    m->kv[k].stored = false;
}

/* Expired keys still stored in `m`, those of a deleted run counted apart. */
static uint64_t expired_stored(const mrun *m, int64_t now, bool orphans)
{
    uint64_t n = 0;
    for (size_t i = 0; i < NKV; i++)
        n += m->kv[i].stored && !kv_live(&m->kv[i], now) && m->kv[i].orphan == orphans;
    return n;
}

static void forget_expired(mrun *m, int64_t now)
{
    for (size_t i = 0; i < NKV; i++)
        if (m->kv[i].stored && !kv_live(&m->kv[i], now))
            m->kv[i].stored = false;
}

/* A sweep removes every expired key of the run (of every run); the expired
 * keys a run had when it was deleted may or may not be among them. */
static void op_kv_sweep(world *w, int slot)
{
    int64_t now = now_us(w);
    bool all = chance(w, 20);
    uint64_t want = 0, orphans = 0, removed = UINT64_MAX;
    for (int i = 0; i < NSLOTS; i++)
        if (all || i == slot) {
            want += expired_stored(M(w, i), now, false);
            orphans += expired_stored(M(w, i), now, true);
        }
    cairn_status st = cairn_kv_sweep_expired(w->db, all ? NULL : &M(w, slot)->id, &removed);
    note(w, st);
    EXPECT(st, CAIRN_OK);
    CHECK(removed >= want && removed <= want + orphans,
          "the %s sweep removed %" PRIu64 " keys, expected %" PRIu64 " (+ up to %" PRIu64
          " of deleted runs)",
          all ? "global" : "run's", removed, want, orphans);
    for (int i = 0; i < NSLOTS; i++)
        if (all || i == slot)
            forget_expired(M(w, i), now);
    w->swept += (long)removed;
}

enum { EV_PLAIN, EV_EXPECT, EV_ONCE };

static void op_ev_append(world *w, cairn_txn *txn, int slot, int how)
{
    mrun *m = M(w, slot);
    size_t t = (size_t)rnd(w, NEVT);
    uint8_t pay[PAY_MAX];
    size_t plen = rnd_len(w, PAY_MAX);
    rnd_fill(w, pay, plen);
    cairn_slice p = cairn_slice_of(pay, plen);
    uint64_t seq = UINT64_MAX;
    uint8_t hash[CAIRN_EVENT_HASH_SIZE];
    cairn_status st, want = writable(m) ? CAIRN_OK : CAIRN_READ_ONLY;
    bool appended = true;
    if (how == EV_PLAIN) {
        st = txn ? cairn_event_append_tx(txn, &m->id, ev_types[t], p, &seq, hash)
                 : cairn_event_append(w->db, &m->id, ev_types[t], p, &seq, hash);
    } else if (how == EV_EXPECT) {
        uint64_t expect = m->nev;
        if (chance(w, 35))
            expect = m->nev && chance(w, 50) ? rnd(w, m->nev) : m->nev + 1 + rnd(w, 3);
        if (want == CAIRN_OK && expect != m->nev)
            want = CAIRN_VERSION_MISMATCH;
        st = txn ? cairn_event_append_expect_tx(txn, &m->id, expect, ev_types[t], p, &seq, hash)
                 : cairn_event_append_expect(w->db, &m->id, expect, ev_types[t], p, &seq, hash);
        if (st == CAIRN_VERSION_MISMATCH)
            CHECK(seq == m->nev, "a refused expected-length append reports length %" PRIu64
                  ", the log holds %zu", seq, m->nev);
    } else {
        size_t id = (size_t)rnd(w, NONCE);
        appended = m->once[id] >= 0; /* the opposite of the expected answer */
        st = txn ? cairn_event_append_once_tx(txn, &m->id, once_ids[id], ev_types[t], p, &seq, hash,
                                              &appended)
                 : cairn_event_append_once(w->db, &m->id, once_ids[id], ev_types[t], p, &seq, hash,
                                           &appended);
        if (st == CAIRN_OK && m->once[id] >= 0) {
            CHECK(!appended && seq == (uint64_t)m->once[id] &&
                      memcmp(hash, m->ev[seq].hash, CAIRN_EVENT_HASH_SIZE) == 0,
                  "a repeated idempotent append (id %zu) gives appended=%d seq %" PRIu64
                  ", expected event %" PRId64,
                  id, appended, seq, m->once[id]);
            EXPECT(st, want);
            return;
        }
        if (st == CAIRN_OK) {
            CHECK(appended, "a first idempotent append says appended=false");
            m->once[id] = (int64_t)m->nev;
        }
    }
    note(w, st);
    EXPECT(st, want);
    if (st != CAIRN_OK)
        return;
    CHECK(seq == m->nev, "an append got number %" PRIu64 ", the log held %zu", seq, m->nev);
    ev_ent *e = model_push_event(m);
    e->type = (uint8_t)t;
    e->ts = now_us(w);
    e->plen = (uint16_t)plen;
    memcpy(e->pay, pay, plen);
    memcpy(e->hash, hash, sizeof hash);
}

static void op_cell_init(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    size_t c = (size_t)rnd(w, NCELL);
    uint8_t val[CELL_VAL_MAX];
    size_t vlen = rnd_len(w, CELL_VAL_MAX);
    rnd_fill(w, val, vlen);
    cairn_slice v = cairn_slice_of(val, vlen);
    cairn_status st = txn ? cairn_cell_init_tx(txn, &m->id, cell_names[c], v)
                          : cairn_cell_init(w->db, &m->id, cell_names[c], v);
    note(w, st);
    EXPECT(st, !writable(m) ? CAIRN_READ_ONLY : m->cell[c].present ? CAIRN_EXISTS : CAIRN_OK);
    if (st != CAIRN_OK)
        return;
    cell_ent *e = &m->cell[c];
    e->present = true;
    e->version = 1;
    e->updated = now_us(w);
    e->vlen = (uint16_t)vlen;
    memcpy(e->val, val, vlen);
}

static void op_cell_write(world *w, cairn_txn *txn, int slot, bool cas)
{
    mrun *m = M(w, slot);
    size_t c = (size_t)rnd(w, NCELL);
    cell_ent *e = &m->cell[c];
    uint8_t val[CELL_VAL_MAX];
    size_t vlen = rnd_len(w, CELL_VAL_MAX);
    rnd_fill(w, val, vlen);
    cairn_slice v = cairn_slice_of(val, vlen);
    uint64_t ver = 777, expect = 0, next = e->present ? e->version + 1 : 1;
    cairn_status st, want = writable(m) ? CAIRN_OK : CAIRN_READ_ONLY;
    if (cas) {
        expect = e->present && chance(w, 60) ? e->version : 1 + rnd(w, e->present ? e->version + 3 : 3);
        if (want == CAIRN_OK && !e->present)
            want = CAIRN_NOT_FOUND;
        else if (want == CAIRN_OK && expect != e->version)
            want = CAIRN_VERSION_MISMATCH;
        st = txn ? cairn_cell_cas_tx(txn, &m->id, cell_names[c], expect, v, &ver)
                 : cairn_cell_cas(w->db, &m->id, cell_names[c], expect, v, &ver);
        if (st == CAIRN_NOT_FOUND)
            CHECK(ver == 0, "a CAS of a missing cell reports version %" PRIu64, ver);
        if (st == CAIRN_VERSION_MISMATCH)
            CHECK(ver == e->version, "a refused CAS (expected %" PRIu64 ") reports version %" PRIu64
                  ", the cell is at %" PRIu64, expect, ver, e->version);
    } else {
        st = txn ? cairn_cell_set_tx(txn, &m->id, cell_names[c], v, &ver)
                 : cairn_cell_set(w->db, &m->id, cell_names[c], v, &ver);
    }
    note(w, st);
    EXPECT(st, want);
    if (st != CAIRN_OK)
        return;
    CHECK(ver == next, "the cell moved to version %" PRIu64 ", expected %" PRIu64, ver, next);
    e->present = true;
    e->version = next;
    e->updated = now_us(w);
    e->vlen = (uint16_t)vlen;
    memcpy(e->val, val, vlen);
}

static void op_cell_delete(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    size_t c = (size_t)rnd(w, NCELL);
    bool existed = !m->cell[c].present;
    cairn_status st = txn ? cairn_cell_delete_tx(txn, &m->id, cell_names[c], &existed)
                          : cairn_cell_delete(w->db, &m->id, cell_names[c], &existed);
    note(w, st);
    EXPECT(st, writable(m) ? CAIRN_OK : CAIRN_READ_ONLY);
    if (st != CAIRN_OK)
        return;
    CHECK(existed == m->cell[c].present, "cairn_cell_delete says existed=%d", existed);
    m->cell[c].present = false;
}

enum { TF_APPEND, TF_DONE, TF_FAIL };
typedef struct tfn {
    int mode;
    uint8_t byte;
} tfn;

/* Pure: appends a byte (starting over when the value is full), or answers
 * DONE, or fails with CAIRN_EXISTS after setting a value the library must
 * free. */
static cairn_status transition_fn(void *ctx, cairn_slice cur, cairn_bytes *nv)
{
    const tfn *t = ctx;
    if (t->mode == TF_DONE)
        return CAIRN_DONE;
    size_t keep = cur.len < CELL_VAL_MAX ? cur.len : 0;
    uint8_t *p = malloc(keep + 1);
    if (p == NULL)
        return CAIRN_NO_MEMORY;
    if (keep)
        memcpy(p, cur.data, keep);
    p[keep] = t->byte;
    nv->data = p;
    nv->len = keep + 1;
    return t->mode == TF_FAIL ? CAIRN_EXISTS : CAIRN_OK;
}

static void op_cell_transition(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    size_t c = (size_t)rnd(w, NCELL);
    cell_ent *e = &m->cell[c];
    bool or_init = chance(w, 40);
    uint64_t mode = rnd(w, 10);
    tfn f = {mode < 6 ? TF_APPEND : mode < 8 ? TF_DONE : TF_FAIL, (uint8_t)rnd(w, 256)};
    uint8_t init[CELL_VAL_MAX];
    size_t ilen = rnd_len(w, CELL_VAL_MAX);
    rnd_fill(w, init, ilen);
    cairn_slice initial = cairn_slice_of(init, ilen);
    uint64_t ver = 777;
    cairn_status fst = CAIRN_CORRUPT, st;
    if (or_init)
        st = txn ? cairn_cell_transition_or_init_tx(txn, &m->id, cell_names[c], initial, transition_fn,
                                                    &f, &ver, &fst)
                 : cairn_cell_transition_or_init(w->db, &m->id, cell_names[c], initial, transition_fn,
                                                 &f, &ver, &fst);
    else
        st = txn ? cairn_cell_transition_tx(txn, &m->id, cell_names[c], transition_fn, &f, &ver, &fst)
                 : cairn_cell_transition(w->db, &m->id, cell_names[c], transition_fn, &f, &ver, &fst);
    note(w, st);
    bool runs = writable(m) && (e->present || or_init);
    cairn_status want = !writable(m) ? CAIRN_READ_ONLY
                        : !runs       ? CAIRN_NOT_FOUND
                        : f.mode == TF_APPEND ? CAIRN_OK
                        : f.mode == TF_DONE   ? CAIRN_DONE
                                              : CAIRN_EXISTS;
    EXPECT(st, want);
    cairn_status want_fst = !runs ? CAIRN_OK : f.mode == TF_APPEND ? CAIRN_OK
                                             : f.mode == TF_DONE   ? CAIRN_DONE
                                                                   : CAIRN_EXISTS;
    CHECK(fst == want_fst, "the transition reports fn answered %s, expected %s",
          cairn_status_name(fst), cairn_status_name(want_fst));
    if (st == CAIRN_DONE)
        CHECK(ver == (e->present ? e->version : 0), "a DONE transition reports version %" PRIu64, ver);
    if (st != CAIRN_OK)
        return;
    uint8_t cur[CELL_VAL_MAX];
    size_t clen = e->present ? e->vlen : ilen;
    memcpy(cur, e->present ? e->val : init, clen);
    size_t keep = clen < CELL_VAL_MAX ? clen : 0;
    e->version = e->present ? e->version + 1 : 1;
    CHECK(ver == e->version, "the transition wrote version %" PRIu64 ", expected %" PRIu64, ver,
          e->version);
    memcpy(e->val, cur, keep);
    e->val[keep] = f.byte;
    e->vlen = (uint16_t)(keep + 1);
    e->present = true;
    e->updated = now_us(w);
}

/* A random trace spec; `e` gets what the model will hold. */
static void rnd_trace_spec(world *w, cairn_trace_spec *spec, cairn_slice *tags, tr_ent *e)
{
    cairn_trace_spec_init(spec);
    e->type = (uint8_t)(CAIRN_TRACE_TOOL_CALL + rnd(w, 6));
    spec->type = (cairn_trace_type)e->type;
    e->name = (uint8_t)rnd(w, NTNAME);
    spec->name = tr_names[e->name];
    int64_t now = now_us(w);
    switch (chance(w, 65) ? 0 : 1 + rnd(w, 4)) {
    case 0: e->start = now; break; /* spec start 0: the transaction's time */
    case 1: e->start = now - (int64_t)rnd(w, 3000); break;
    case 2: e->start = now + (int64_t)rnd(w, 3000); break;
    case 3: e->start = FAKE_CLOCK_START_US + 777; break; /* a tie every run shares */
    default: e->start = 1 + (int64_t)rnd(w, 3); break;
    }
    spec->start_us = e->start == now && chance(w, 80) ? 0 : e->start;
    e->ntags = (uint8_t)rnd(w, TR_TAGS + 1);
    for (size_t i = 0; i < e->ntags; i++) {
        uint8_t t;
        bool dup;
        do {
            t = (uint8_t)rnd(w, NTTAG);
            dup = false;
            for (size_t j = 0; j < i; j++)
                dup |= e->tags[j] == t;
        } while (dup);
        e->tags[i] = t;
        tags[i] = tr_tags[t];
    }
    spec->tags = tags;
    spec->ntags = e->ntags;
    e->plen = (uint16_t)rnd_len(w, PAY_MAX);
    rnd_fill(w, e->pay, e->plen);
    spec->payload = cairn_slice_of(e->pay, e->plen);
    e->status = CAIRN_TRACE_UNFINISHED;
    e->end = 0;
}

enum { TR_AUTO, TR_CHILD, TR_OWN_ID };

static void op_tr_record(world *w, cairn_txn *txn, int slot, int how)
{
    mrun *m = M(w, slot);
    tr_ent e;
    memset(&e, 0, sizeof e);
    cairn_trace_spec spec;
    cairn_slice tags[TR_TAGS];
    rnd_trace_spec(w, &spec, tags, &e);
    cairn_status want = writable(m) ? CAIRN_OK : CAIRN_READ_ONLY;
    int parent = -1;
    cairn_slice pid = cairn_slice_of(NULL, 0), own = cairn_slice_of(NULL, 0);
    if (how == TR_CHILD || (how == TR_OWN_ID && chance(w, 50))) {
        if (m->ntr && chance(w, 85)) {
            parent = (int)rnd(w, m->ntr);
            pid = tr_id_of(m, parent);
        } else {
            pid = missing_tr_id(w, m);
            if (want == CAIRN_OK)
                want = CAIRN_NOT_FOUND;
        }
    }
    if (how == TR_OWN_ID) {
        own = tr_ids[rnd(w, NTID)];
        if (want == CAIRN_OK && tr_find(m, own) >= 0)
            want = CAIRN_EXISTS;
    }
    cairn_trace_id id;
    memset(&id, 0, sizeof id);
    cairn_status st;
    if (how == TR_AUTO)
        st = txn ? cairn_trace_record_tx(txn, &m->id, &spec, &id)
                 : cairn_trace_record(w->db, &m->id, &spec, &id);
    else if (how == TR_CHILD)
        st = txn ? cairn_trace_record_child_tx(txn, &m->id, pid, &spec, &id)
                 : cairn_trace_record_child(w->db, &m->id, pid, &spec, &id);
    else
        st = txn ? cairn_trace_record_id_tx(txn, &m->id, own, pid, &spec)
                 : cairn_trace_record_id(w->db, &m->id, own, pid, &spec);
    note(w, st);
    EXPECT(st, want);
    if (st != CAIRN_OK)
        return;
    if (how == TR_OWN_ID) {
        e.idlen = (uint8_t)own.len;
        memcpy(e.id, own.data, own.len);
    } else {
        CHECK(id.len == CAIRN_TRACE_AUTO_ID_SIZE, "a generated trace id of %u bytes", id.len);
        check_generated_id(w, id.bytes, "a generated trace id");
        CHECK(tr_find(m, cairn_trace_id_slice(&id)) < 0, "a generated trace id repeats one of the run's");
        e.idlen = id.len;
        memcpy(e.id, id.bytes, id.len);
    }
    e.parent = parent;
    *model_push_trace(m) = e;
}

static void op_tr_finish(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    int ti = m->ntr && chance(w, 85) ? (int)rnd(w, m->ntr) : -1;
    cairn_slice id = ti >= 0 ? tr_id_of(m, ti) : missing_tr_id(w, m);
    cairn_trace_status status = chance(w, 70) ? CAIRN_TRACE_OK : CAIRN_TRACE_FAILED;
    int64_t now = now_us(w), start = ti >= 0 ? m->tr[ti].start : 0, end_us = 0;
    uint64_t c = rnd(w, 10);
    if (ti >= 0 && c >= 6 && c < 9)
        end_us = start + (int64_t)rnd(w, 5000);
    else if (ti >= 0 && c == 9 && start > 101)
        end_us = start - 1 - (int64_t)rnd(w, 100);
    cairn_status want = !writable(m)                                 ? CAIRN_READ_ONLY
                        : ti < 0                                     ? CAIRN_NOT_FOUND
                        : m->tr[ti].status != CAIRN_TRACE_UNFINISHED ? CAIRN_INVALID_TRANSITION
                        : end_us && end_us < start                   ? CAIRN_INVALID_ARGUMENT
                                                                     : CAIRN_OK;
    cairn_status st = txn ? cairn_trace_finish_tx(txn, &m->id, id, status, end_us)
                          : cairn_trace_finish(w->db, &m->id, id, status, end_us);
    note(w, st);
    EXPECT(st, want);
    if (st != CAIRN_OK)
        return;
    m->tr[ti].status = (uint8_t)status;
    m->tr[ti].end = end_us ? end_us : now < start ? start : now;
}

static void rnd_bytes_into(world *w, uint8_t *p, uint16_t *lenp, size_t max)
{
    size_t n = rnd_len(w, max);
    rnd_fill(w, p, n);
    *lenp = (uint16_t)n;
}

/* Registers pending `slot`: a random name, parent, tags and metadata. */
static void op_register(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    reg_ent g;
    memset(&g, 0, sizeof g);
    g.registered = true;
    g.status = CAIRN_RUN_ACTIVE;
    g.name = chance(w, 50) ? (int)rnd(w, NRNAME) : -1;
    g.parent = -1;
    cairn_status want = CAIRN_OK;
    int missing = -1;
    uint64_t p = rnd(w, 10);
    if (p < 5)
        g.parent = pick_slot(w, slot, registered);
    else if (p < 6 && (missing = pick_slot(w, slot, slot_unregistered_id)) >= 0)
        want = CAIRN_NOT_FOUND;
    if (want == CAIRN_OK && g.name >= 0)
        for (int i = 0; i < NSLOTS; i++)
            if (i != slot && registered(w, i) && M(w, i)->reg.name == g.name)
                want = CAIRN_EXISTS;
    g.ntags = (uint8_t)rnd(w, 4);
    cairn_slice tags[RUN_TAGS];
    for (size_t i = 0; i < g.ntags; i++) {
        uint8_t t;
        bool dup;
        do {
            t = (uint8_t)rnd(w, NRTAG);
            dup = false;
            for (size_t j = 0; j < i; j++)
                dup |= g.tags[j] == t;
        } while (dup);
        g.tags[i] = t;
        tags[i] = run_tags[t];
    }
    rnd_bytes_into(w, g.meta, &g.mlen, META_MAX);
    cairn_run_spec spec;
    cairn_run_spec_init(&spec);
    spec.name = g.name >= 0 ? run_names[g.name] : cairn_slice_of(NULL, 0);
    spec.parent = g.parent >= 0 ? &M(w, g.parent)->id : missing >= 0 ? &M(w, missing)->id : NULL;
    spec.tags = tags;
    spec.ntags = g.ntags;
    spec.metadata = cairn_slice_of(g.meta, g.mlen);
    cairn_run_id id;
    cairn_status st = txn ? cairn_run_create_tx(txn, &spec, &id) : cairn_run_create(w->db, &spec, &id);
    note(w, st);
    EXPECT(st, want);
    if (st != CAIRN_OK)
        return;
    check_generated_id(w, id.bytes, "a generated run id");
    CHECK(find_slot(w, &id) < 0, "a generated run id repeats another run's");
    g.created = g.updated = now_us(w);
    model_set_id(m, &id);
    m->reg = g;
}

static const cairn_run_status statuses[] = {CAIRN_RUN_ACTIVE, CAIRN_RUN_PAUSED, CAIRN_RUN_COMPLETED,
                                            CAIRN_RUN_FAILED, CAIRN_RUN_CANCELLED, CAIRN_RUN_ARCHIVED};

static void op_run_status(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    reg_ent *g = &m->reg;
    uint64_t c = rnd(w, 100);
    int to = c < 35 ? CAIRN_RUN_PAUSED : c < 70 ? CAIRN_RUN_ACTIVE : (int)statuses[rnd(w, 6)];
    bool ok = transition_ok(g->status, to);
    CHECK(cairn_run_transition_allowed((cairn_run_status)g->status, (cairn_run_status)to) == ok,
          "cairn_run_transition_allowed(%d, %d) disagrees with the documented table", g->status, to);
    uint8_t msg[ERR_MAX];
    uint16_t mlen = 0;
    bool with_msg = to == CAIRN_RUN_FAILED && chance(w, 60);
    if (with_msg)
        rnd_bytes_into(w, msg, &mlen, ERR_MAX);
    cairn_slice ms = cairn_slice_of(msg, mlen);
    cairn_run_id *id = &m->id;
    cairn_status st;
    if (txn) {
        st = with_msg ? cairn_run_fail_tx(txn, id, ms) : cairn_run_update_status_tx(txn, id, (cairn_run_status)to);
    } else if (with_msg) {
        st = cairn_run_fail(w->db, id, ms);
    } else if (chance(w, 50)) {
        st = cairn_run_update_status(w->db, id, (cairn_run_status)to);
    } else {
        switch (to) {
        case CAIRN_RUN_ACTIVE: st = cairn_run_resume(w->db, id); break;
        case CAIRN_RUN_PAUSED: st = cairn_run_pause(w->db, id); break;
        case CAIRN_RUN_COMPLETED: st = cairn_run_complete(w->db, id); break;
        case CAIRN_RUN_CANCELLED: st = cairn_run_cancel(w->db, id); break;
        case CAIRN_RUN_ARCHIVED: st = cairn_run_archive(w->db, id); break;
        default: st = cairn_run_fail(w->db, id, cairn_slice_of(NULL, 0)); break;
        }
    }
    note(w, st);
    EXPECT(st, ok ? CAIRN_OK : CAIRN_INVALID_TRANSITION);
    if (st != CAIRN_OK)
        return;
    int64_t now = now_us(w);
    g->updated = now > g->updated ? now : g->updated;
    if (status_final(to) && g->finished == 0)
        g->finished = g->updated;
    if (to == CAIRN_RUN_FAILED) {
        g->elen = mlen;
        memcpy(g->err, msg, mlen);
    }
    g->status = (uint8_t)to;
}

static void op_run_edit(world *w, cairn_txn *txn, int slot)
{
    mrun *m = M(w, slot);
    reg_ent *g = &m->reg;
    uint64_t c = rnd(w, 3);
    cairn_status st, want = CAIRN_OK;
    uint8_t meta[META_MAX];
    uint16_t mlen = 0;
    int tag = (int)rnd(w, NRTAG);
    if (c == 0) {
        rnd_bytes_into(w, meta, &mlen, META_MAX);
        st = txn ? cairn_run_set_metadata_tx(txn, &m->id, cairn_slice_of(meta, mlen))
                 : cairn_run_set_metadata(w->db, &m->id, cairn_slice_of(meta, mlen));
    } else if (c == 1) {
        want = run_has_tag(g, tag) ? CAIRN_EXISTS : CAIRN_OK;
        st = txn ? cairn_run_add_tag_tx(txn, &m->id, run_tags[tag])
                 : cairn_run_add_tag(w->db, &m->id, run_tags[tag]);
    } else {
        want = run_has_tag(g, tag) ? CAIRN_OK : CAIRN_NOT_FOUND;
        st = txn ? cairn_run_remove_tag_tx(txn, &m->id, run_tags[tag])
                 : cairn_run_remove_tag(w->db, &m->id, run_tags[tag]);
    }
    note(w, st);
    EXPECT(st, want);
    if (st != CAIRN_OK)
        return;
    int64_t now = now_us(w);
    g->updated = now > g->updated ? now : g->updated;
    if (c == 0) {
        g->mlen = mlen;
        memcpy(g->meta, meta, mlen);
    } else if (c == 1) {
        g->tags[g->ntags++] = (uint8_t)tag;
    } else {
        size_t at = 0;
        while (g->tags[at] != tag)
            at++;
        for (; at + 1 < g->ntags; at++)
            g->tags[at] = g->tags[at + 1];
        g->ntags--;
    }
}

/* Deletes a registered run (with its descendants, or refused because of
 * them).  The slot keeps its id as an unregistered, empty run. */
static void op_run_delete(world *w, int slot)
{
    int del[NSLOTS], n = 1;
    del[0] = slot;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < NSLOTS; j++)
            if (registered(w, j) && M(w, j)->reg.parent == del[i])
                del[n++] = j;
    unsigned flags = chance(w, 35) ? CAIRN_RUN_DELETE_CHILDREN : 0;
    cairn_status want = n > 1 && !flags ? CAIRN_EXISTS : CAIRN_OK;
    cairn_status st = cairn_run_delete(w->db, &M(w, slot)->id, flags);
    note(w, st);
    EXPECT(st, want);
    if (want != CAIRN_OK)
        return;
    int64_t now = now_us(w);
    for (int i = 0; i < n; i++) {
        mrun *m = M(w, del[i]);
        /* Expired KV keys read as absent everywhere; whether the deletion
         * removed them only a sweep can tell, so they stay as orphans. */
        bool keep[NKV];
        for (size_t k = 0; k < NKV; k++)
            keep[k] = m->kv[k].stored && !kv_live(&m->kv[k], now);
        model_clear_run(m);
        for (size_t k = 0; k < NKV; k++)
            m->kv[k].stored = m->kv[k].orphan = keep[k];
    }
}

static void do_checkpoint(world *w)
{
    set_where(w, "checkpoint", -1);
    cairn_stats before = test_stats(w->db);
    EXPECT(cairn_db_checkpoint(w->db), CAIRN_OK);
    cairn_stats after = test_stats(w->db);
    if (after.checkpoint_version == before.checkpoint_version)
        return; /* nothing committed since the last one: none written */
    CHECK(after.checkpoint_version == after.visible_version,
          "the checkpoint is at version %" PRIu64 ", the database at %" PRIu64,
          after.checkpoint_version, after.visible_version);
    w->checkpoints++;
    int64_t now = now_us(w);
    for (int i = 0; i < NSLOTS; i++)
        for (size_t k = 0; k < NKV; k++) {
            kv_ent *e = &w->runs[i].kv[k];
            e->ckpt_dropped = e->stored && !kv_live(e, now);
        }
}

static void open_db(world *w, bool fresh)
{
    char err[256] = "";
    cairn_status st = cairn_db_open(w->dir, &w->opts, &w->db, err, sizeof err);
    memset(&w->last_id, 0, sizeof w->last_id);
    CHECK(st == CAIRN_OK, "cairn_db_open(%s): %s (%s)", w->dir, cairn_status_name(st), err);
    cairn_recovery_report rep;
    EXPECT(cairn_db_recovery_report(w->db, &rep), CAIRN_OK);
    CHECK(rep.durable && rep.new_database == fresh && !rep.torn,
          "recovery: durable=%d new=%d torn=%d", rep.durable, rep.new_database, rep.torn);
}

static void reopen(world *w)
{
    set_where(w, "close and reopen", -1);
    EXPECT(cairn_db_close(w->db), CAIRN_OK);
    w->db = NULL;
    open_db(w, false);
    /* keys the newest checkpoint left out as expired are gone now */
    for (int i = 0; i < NSLOTS; i++)
        for (size_t k = 0; k < NKV; k++)
            if (w->runs[i].kv[k].ckpt_dropped) {
                w->runs[i].kv[k].stored = false;
                w->runs[i].kv[k].ckpt_dropped = false;
            }
    w->reopens++;
    full_check(w, true);
}

/* ---- steps ----------------------------------------------------------------- */

static const char *const op_names[OP_COUNT] = {
    "kv put", "kv delete", "kv sweep", "event append", "event append_expect", "event append_once",
    "cell init", "cell cas", "cell set", "cell delete", "cell transition", "trace record",
    "trace record_child", "trace record_id", "trace finish", "run register", "run status",
    "run tags/metadata", "run delete", "transaction", "read",
};
static const unsigned op_weights[OP_COUNT] = {
    90, 35, 6, 60, 25, 25, 25, 45, 25, 15, 35, 35, 40, 25, 40, 8, 25, 20, 2, 90, 40,
};

/* One write of a multi-primitive transaction (the run may have been
 * registered by the transaction itself). */
static void txn_sub_op(world *w, cairn_txn *txn, int slot)
{
    bool reg = M(w, slot)->reg.registered;
    switch (rnd(w, reg ? 17 : 15)) {
    case 0: op_kv_put(w, txn, slot); break;
    case 1: op_kv_delete(w, txn, slot); break;
    case 2: op_ev_append(w, txn, slot, EV_PLAIN); break;
    case 3: op_ev_append(w, txn, slot, EV_EXPECT); break;
    case 4: op_ev_append(w, txn, slot, EV_ONCE); break;
    case 5: op_cell_init(w, txn, slot); break;
    case 6: op_cell_write(w, txn, slot, true); break;
    case 7: op_cell_write(w, txn, slot, false); break;
    case 8: op_cell_delete(w, txn, slot); break;
    case 9: op_cell_transition(w, txn, slot); break;
    case 10: op_tr_record(w, txn, slot, TR_AUTO); break;
    case 11: op_tr_record(w, txn, slot, TR_CHILD); break;
    case 12: op_tr_record(w, txn, slot, TR_OWN_ID); break;
    case 13: op_tr_finish(w, txn, slot); break;
    case 14: op_kv_put(w, txn, slot); break;
    case 15: op_run_status(w, txn, slot); break;
    default: op_run_edit(w, txn, slot); break;
    }
}

/* Several writes in one transaction on one run (a pending run may be
 * registered by it first), or on two (`second` >= 0), then commit, or
 * abort: nothing may change.  Before it ends, the transaction must see its
 * own writes in each run, and none of them in `other`. */
static void op_txn(world *w, int slot, int second, int other)
{
    cairn_txn *txn = NULL;
    EXPECT(cairn_txn_begin(w->db, NULL, &txn), CAIRN_OK);
    int slots[2] = {slot, second};
    mrun copy[2];
    int ncopy = second >= 0 ? 2 : 1;
    for (int i = 0; i < ncopy; i++) {
        model_clone_run(&copy[i], &w->runs[slots[i]]);
        w->tx_slot[i] = slots[i];
        w->tx_model[i] = &copy[i];
    }
    if (!copy[0].has_id)
        op_register(w, txn, slot);
    int n = copy[0].has_id ? 2 + (int)rnd(w, (uint64_t)(5 + 3 * (ncopy - 1))) : 0;
    for (int i = 0; i < n; i++)
        txn_sub_op(w, txn, slots[rnd(w, (uint64_t)ncopy)]);
    if (copy[0].has_id && chance(w, 40)) {
        rd r = {w->db, txn};
        for (int i = 0; i < ncopy; i++)
            compare_run(w, r, slots[i]);
        if (other >= 0)
            compare_run(w, r, other);
    }
    bool abort = chance(w, 20);
    if (abort) {
        if (chance(w, 50))
            EXPECT(cairn_txn_abort(txn), CAIRN_OK);
        cairn_txn_free(txn); /* aborts a transaction still active */
        w->aborts++;
    } else {
        EXPECT(cairn_txn_commit(txn), CAIRN_OK);
        cairn_txn_free(txn);
        w->commits++;
    }
    for (int i = 0; i < ncopy; i++) {
        if (abort) {
            model_free_run(&copy[i]);
        } else {
            model_free_run(&w->runs[slots[i]]);
            w->runs[slots[i]] = copy[i];
        }
        w->tx_slot[i] = -1;
        w->tx_model[i] = NULL;
    }
}

static int pick_op(world *w)
{
    unsigned total = 0;
    for (int i = 0; i < OP_COUNT; i++)
        total += op_weights[i];
    unsigned x = (unsigned)rnd(w, total);
    for (int i = 0; i < OP_COUNT; i++) {
        if (x < op_weights[i])
            return i;
        x -= op_weights[i];
    }
    return OP_READ;
}

static void do_step(world *w)
{
    /* time moves: often not at all (ties), now and then past TTLs */
    uint64_t c = rnd(w, 10);
    fake_clock_advance(&w->clock, c < 4 ? 0 : c < 8 ? (int64_t)rnd(w, 1000) : (int64_t)rnd(w, 20000));

    int op = pick_op(w);
    int slot = pick_slot(w, -1, slot_has_id);
    if (op == OP_RUN_REGISTER || (op == OP_TXN && chance(w, 10))) {
        int p = pick_slot(w, -1, slot_pending);
        if (p >= 0)
            slot = p;
        else if (op == OP_RUN_REGISTER)
            op = OP_RUN_EDIT;
    }
    if (op == OP_RUN_STATUS || op == OP_RUN_EDIT || op == OP_RUN_DELETE) {
        slot = pick_slot(w, -1, registered);
        if (slot < 0) {
            op = OP_READ;
            slot = pick_slot(w, -1, slot_has_id);
        }
    }
    int other = pick_slot(w, slot, slot_has_id), second = -1;
    if (op == OP_TXN && M(w, slot)->has_id && chance(w, 30))
        while ((second = pick_slot(w, slot, slot_has_id)) == other)
            ;
    set_where(w, op_names[op], slot);
    w->ops[op]++;
    switch (op) {
    case OP_KV_PUT: op_kv_put(w, NULL, slot); break;
    case OP_KV_DELETE: op_kv_delete(w, NULL, slot); break;
    case OP_KV_SWEEP: op_kv_sweep(w, slot); break;
    case OP_EV_APPEND: op_ev_append(w, NULL, slot, EV_PLAIN); break;
    case OP_EV_EXPECT: op_ev_append(w, NULL, slot, EV_EXPECT); break;
    case OP_EV_ONCE: op_ev_append(w, NULL, slot, EV_ONCE); break;
    case OP_CELL_INIT: op_cell_init(w, NULL, slot); break;
    case OP_CELL_CAS: op_cell_write(w, NULL, slot, true); break;
    case OP_CELL_SET: op_cell_write(w, NULL, slot, false); break;
    case OP_CELL_DELETE: op_cell_delete(w, NULL, slot); break;
    case OP_CELL_TRANSITION: op_cell_transition(w, NULL, slot); break;
    case OP_TR_RECORD: op_tr_record(w, NULL, slot, TR_AUTO); break;
    case OP_TR_CHILD: op_tr_record(w, NULL, slot, TR_CHILD); break;
    case OP_TR_OWN_ID: op_tr_record(w, NULL, slot, TR_OWN_ID); break;
    case OP_TR_FINISH: op_tr_finish(w, NULL, slot); break;
    case OP_RUN_REGISTER: op_register(w, NULL, slot); break;
    case OP_RUN_STATUS: op_run_status(w, NULL, slot); break;
    case OP_RUN_EDIT: op_run_edit(w, NULL, slot); break;
    case OP_RUN_DELETE: op_run_delete(w, slot); break;
    case OP_TXN: op_txn(w, slot, second, other); break;
    default: break; /* the reads below are the step */
    }
    if (!M(w, slot)->has_id) /* a registration that was refused */
        slot = other;
    set_where(w, "compare after", slot);
    bool run_op = op == OP_RUN_REGISTER || op == OP_RUN_STATUS || op == OP_RUN_EDIT ||
                  op == OP_RUN_DELETE || op == OP_TXN;
    compare_runs(w, slot, second, other, run_op || op == OP_READ);
}

/* ---- the test -------------------------------------------------------------- */

static long env_long(const char *name, long dflt)
{
    const char *s = getenv(name);
    return s && *s ? strtol(s, NULL, 0) : dflt;
}

static void setup(world *w, uint64_t seed, long steps)
{
    pools_init();
    w->seed = seed;
    w->steps = steps;
    w->rng = test_rng_seeded(seed);
    w->tx_slot[0] = w->tx_slot[1] = -1;
    for (int i = 0; i < NSLOTS; i++)
        model_init_run(&w->runs[i]);
    cairn_options_init(&w->opts);
    fake_clock_install(&w->clock, &w->opts);
    w->opts.durability = CAIRN_DURABILITY_ASYNC;
    w->opts.checkpoint_wal_bytes = 0; /* checkpoints only when the test asks */
    w->opts.wal_segment_size = 256 * 1024;
    snprintf(w->dir, sizeof w->dir, "/tmp/cairn-iso-XXXXXX");
    cr_assert(mkdtemp(w->dir) != NULL, "mkdtemp failed");
    set_where(w, "setup", -1);
    open_db(w, true);

    /* slots 0..29 registered, each as a root or a child of an earlier one */
    for (int i = 0; i < NREG0; i++) {
        set_where(w, "setup: register", i);
        while (!w->runs[i].has_id)
            op_register(w, NULL, i);
        fake_clock_advance(&w->clock, (int64_t)rnd(w, 2));
    }
    /* slots 40..49 never registered */
    for (int i = NREG0 + NPEND; i < NSLOTS - 2; i++) {
        cairn_run_id id;
        EXPECT(cairn_run_id_generate(w->db, &id), CAIRN_OK);
        check_generated_id(w, id.bytes, "a generated run id");
        model_set_id(&w->runs[i], &id);
    }
    cairn_run_id lo = test_run(0x00, 0x01), hi = test_run(0xFF, 0xFF);
    model_set_id(&w->runs[NSLOTS - 2], &lo);
    model_set_id(&w->runs[NSLOTS - 1], &hi);
}

static void run_seed(uint64_t seed)
{
    double scale = 1.0;
    const char *sc = getenv("CAIRN_TEST_SCALE");
    if (sc && *sc)
        scale = strtod(sc, NULL);
    long steps = env_long("CAIRN_ISO_STEPS", (long)(6000 * scale));
    if (steps < 1)
        steps = 1;
    const char *fixed = getenv("CAIRN_ISO_SEED");
    if (fixed && *fixed)
        seed = strtoull(fixed, NULL, 0);
    world *w = calloc(1, sizeof *w);
    cr_assert(w != NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    setup(w, seed, steps);
    full_check(w, true);

    /* three reopens spread over the sequence, more at random */
    long reopen_at[3] = {steps / 4, steps / 2, 3 * steps / 4};
    for (w->step = 1; w->step <= steps; w->step++) {
        do_step(w);
        if (rnd(w, 300) == 0)
            do_checkpoint(w);
        bool again = rnd(w, 1000) == 0;
        for (int i = 0; i < 3; i++)
            again |= w->step == reopen_at[i];
        if (again) {
            if (chance(w, 50))
                do_checkpoint(w);
            reopen(w);
        } else if (w->step % CHECK_EVERY == 0) {
            full_check(w, false);
        }
    }
    w->step = steps;
    do_checkpoint(w);
    reopen(w);

    set_where(w, "close", -1);
    EXPECT(cairn_db_close(w->db), CAIRN_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (env_long("CAIRN_ISO_VERBOSE", 0)) {
        fprintf(stderr,
                "isolation_model seed %#" PRIx64 ": %ld steps in %.2f s; %ld transactions committed, "
                "%ld aborted; %ld keys swept; %ld checkpoints; %ld reopens; %ld full checks\n  steps:",
                seed, steps, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                w->commits, w->aborts, w->swept, w->checkpoints, w->reopens, w->full_checks);
        for (int i = 0; i < OP_COUNT; i++)
            fprintf(stderr, " %s %ld,", op_names[i], w->ops[i]);
        fprintf(stderr, "\n  writes answered:");
        for (int i = 0; i < CAIRN_STATUS_COUNT; i++)
            if (w->outcomes[i])
                fprintf(stderr, " %s %ld,", cairn_status_name((cairn_status)i), w->outcomes[i]);
        fprintf(stderr, "\n");
    }
    for (int i = 0; i < NSLOTS; i++)
        model_free_run(&w->runs[i]);
    test_rm_tree(w->dir);
    free(w);
}

Test(isolation_model, runs_stay_apart_under_seed_1)
{
    run_seed(UINT64_C(0x15011A7E0001));
}

Test(isolation_model, runs_stay_apart_under_seed_2)
{
    run_seed(UINT64_C(0x15011A7E0002));
}

Test(isolation_model, runs_stay_apart_under_seed_3)
{
    run_seed(UINT64_C(0x15011A7E0003));
}

Test(isolation_model, runs_stay_apart_under_seed_4)
{
    run_seed(UINT64_C(0x15011A7E0004));
}

Test(isolation_model, runs_stay_apart_under_seed_5)
{
    run_seed(UINT64_C(0x15011A7E0005));
}
