/*
 * tests/fuzz/fuzz_api.c - libFuzzer target: the input becomes a sequence of
 * public API calls, each checked against a reference model kept in plain C
 * structures.
 *
 * Every call goes to the library and to the model.  Both write what they
 * answer (the status, then the results the call documents) into a
 * transcript; any difference between the two transcripts is a divergence:
 * the target prints both and aborts, so libFuzzer reports it.  Invalid
 * arguments are part of the sequence (NULL pointers, empty and oversized
 * keys and values, the reserved and unknown run ids, finished
 * transactions, wrong CAS versions and log lengths, traces finished twice,
 * run transitions the table forbids, ...): the model knows the order in
 * which each call checks its arguments, so it predicts the exact status.
 *
 * What the model holds, per input:
 *   - run ids: three fixed ids never registered, a scratch id for raw
 *     engine keys, and the runs cairn_run_create() made (up to 12);
 *   - per run: KV pairs (with expiry), the event log (types, payloads,
 *     times, hashes computed here with SHA-256, idempotency ids), cells
 *     (value, version, time), traces (id, parent, type, status, times,
 *     name, tags, payload);
 *   - the RunIndex (status, parent, times, name, tags, metadata, error);
 *   - raw engine keys under the scratch run.
 *
 * Transactions: up to three handles at once (max_open_txns is 3, so a
 * fourth begin and every implicit call answer CAIRN_BUSY).  Each active
 * transaction reads a copy of the model taken at begin (its snapshot)
 * with its own writes applied; its calls are logged.  At commit the log is
 * replayed on the committed model and every answer must come out the same.
 * Whether a commit may conflict is decided from "domains" (one run's KV,
 * events, cells, traces or run record; the rest of the RunIndex; the raw
 * keys): when no commit since the transaction's begin wrote a domain it
 * read, the commit must succeed; otherwise CAIRN_CONFLICT is allowed too,
 * and a successful commit whose replay answers differently is a missed
 * conflict.
 *
 * The input is a sequence of operations, each [kind][length][arguments]
 * (missing argument bytes read as zeros, the ordinary choice).  Each
 * input opens an in-memory database with a fake clock, runs at most
 * MAX_OPS operations, finishes its transactions, compares every committed
 * run with the model through the implicit calls, and closes.
 *
 * Iterators: an iterator's items are what its transaction saw when it
 * opened, except in the case iter_written() describes.
 *
 * Build and run: see tests/fuzz/meson.build and tests/wal/run_fuzz.sh;
 * tests/fuzz/gen_corpus_api.c writes the seed corpus.  FUZZ_API_TRACE=1
 * in the environment prints every call and its status, =2 also what the
 * library answered (to read a reproducer).  -DFUZZ_API_STRICT holds
 * by-type event iterators to the letter too (see iter_written()).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <cairn/cairn.h>

#include "../helpers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- configuration -------------------------------------------------------- */

enum {
    MAX_VALUE = 4096,      /* max_value_size of the database */
    MAX_OPEN = 3,          /* max_open_txns */
    NSLOTS = 3,            /* transaction handles the input can hold */
    NITERS = 4,            /* iterators the input can hold */
    MAX_RUNS = 16,         /* run ids the model knows */
    NFIXED = 3,            /* fixed, never registered run ids: slots 0..2 */
    RUN_S = 3,             /* the scratch run of raw engine keys */
    FIRST_CREATED = 4,     /* runs made by cairn_run_create from here on */
    MAX_OPS = 200,         /* operations per input */
    MAX_TAGS = 64,
    HASH = CAIRN_EVENT_HASH_SIZE,
};

/* Run selectors besides slot numbers. */
enum { RUN_NULL = -1, RUN_ZERO = -2 };

/* ---- failing ---------------------------------------------------------------- */

static const char *g_opname = "setup";
static size_t g_opindex;
static int g_trace; /* FUZZ_API_TRACE=1: print every call and its status; 2: and its results */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "fuzz_api: divergence at op %zu (%s): ", g_opindex, g_opname);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* ---- the input ---------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t n, pos;
} reader;

static uint8_t rd_u8(reader *r)
{
    return r->pos < r->n ? r->p[r->pos++] : 0;
}

static uint16_t rd_u16(reader *r)
{
    uint16_t hi = rd_u8(r);
    return (uint16_t)(hi << 8 | rd_u8(r));
}

static uint32_t rd_u32(reader *r)
{
    uint32_t hi = rd_u16(r);
    return hi << 16 | rd_u16(r);
}

/* ---- memory that lives as long as one input -------------------------------------- */

typedef struct chunk {
    struct chunk *next;
    uint8_t data[];
} chunk;

static chunk *g_chunks;

static void *keep(const void *p, size_t n)
{
    chunk *c = malloc(sizeof *c + (n ? n : 1));
    if (c == NULL)
        abort();
    c->next = g_chunks;
    g_chunks = c;
    if (n)
        memcpy(c->data, p, n);
    return c->data;
}

static void keep_free_all(void)
{
    while (g_chunks) {
        chunk *c = g_chunks;
        g_chunks = c->next;
        free(c);
    }
}

/* ---- owned bytes ------------------------------------------------------------------- */

typedef struct mbuf {
    uint8_t *p;
    size_t n;
} mbuf;

static mbuf mb_of(const void *p, size_t n)
{
    mbuf b = {malloc(n ? n : 1), n};
    if (b.p == NULL)
        abort();
    if (n)
        memcpy(b.p, p, n);
    return b;
}

static mbuf mb_sl(cairn_slice s)
{
    return mb_of(s.data, s.len);
}

static mbuf mb_dup(mbuf b)
{
    return mb_of(b.p, b.n);
}

static void mb_free(mbuf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = 0;
}

static cairn_slice sl_mb(mbuf b)
{
    return cairn_slice_of(b.p, b.n);
}

/* Bytewise order, shorter first on a common prefix (the engine's key order). */
static int bcmp_(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    if (n && (a == NULL || b == NULL)) /* a NULL argument with a length (decoding only) */
        return a == b ? 0 : a == NULL ? -1 : 1;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return (an > bn) - (an < bn);
}

static bool beq(const void *a, size_t an, const void *b, size_t bn)
{
    if (an && (a == NULL || b == NULL))
        return an == bn && a == b;
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static bool mb_eq(mbuf b, cairn_slice s)
{
    return beq(b.p, b.n, s.data, s.len);
}

static bool starts_with(mbuf b, cairn_slice pfx)
{
    return b.n >= pfx.len && (pfx.len == 0 || memcmp(b.p, pfx.data, pfx.len) == 0);
}

/* ---- growing arrays ------------------------------------------------------------------ */

typedef struct vec {
    void *p;
    size_t n, cap;
} vec;

#define VAT(v, T, i) (&((T *)(v).p)[i])

static void *vec_insert(vec *v, size_t sz, size_t at)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void *p = realloc(v->p, cap * sz);
        if (p == NULL)
            abort();
        v->p = p;
        v->cap = cap;
    }
    uint8_t *base = v->p;
    memmove(base + (at + 1) * sz, base + at * sz, (v->n - at) * sz);
    memset(base + at * sz, 0, sz);
    v->n++;
    return base + at * sz;
}

static void *vec_push(vec *v, size_t sz)
{
    return vec_insert(v, sz, v->n);
}

static void vec_remove(vec *v, size_t sz, size_t at)
{
    uint8_t *base = v->p;
    memmove(base + at * sz, base + (at + 1) * sz, (v->n - at - 1) * sz);
    v->n--;
}

/* ---- transcripts ------------------------------------------------------------------------ */

typedef struct tfield {
    const char *label;
    bool bytes;
    uint64_t v;
    mbuf b;
} tfield;

typedef struct tscript {
    vec f; /* tfield */
} tscript;

static void ts_int(tscript *t, const char *label, uint64_t v)
{
    tfield *f = vec_push(&t->f, sizeof *f);
    f->label = label;
    f->v = v;
}

static void ts_bytes(tscript *t, const char *label, const void *p, size_t n)
{
    tfield *f = vec_push(&t->f, sizeof *f);
    f->label = label;
    f->bytes = true;
    f->b = mb_of(p, n);
}

static void ts_sl(tscript *t, const char *label, cairn_slice s)
{
    ts_bytes(t, label, s.data, s.len);
}

static void ts_status(tscript *t, cairn_status st)
{
    ts_int(t, "status", (uint64_t)st);
}

static void ts_free(tscript *t)
{
    for (size_t i = 0; i < t->f.n; i++)
        mb_free(&VAT(t->f, tfield, i)->b);
    free(t->f.p);
    memset(t, 0, sizeof *t);
}

static tscript ts_copy(const tscript *t)
{
    tscript c = {{0}};
    for (size_t i = 0; i < t->f.n; i++) {
        const tfield *f = VAT(t->f, tfield, i);
        if (f->bytes)
            ts_bytes(&c, f->label, f->b.p, f->b.n);
        else
            ts_int(&c, f->label, f->v);
    }
    return c;
}

static bool field_eq(const tfield *a, const tfield *b)
{
    if (a->bytes != b->bytes || strcmp(a->label, b->label) != 0)
        return false;
    return a->bytes ? beq(a->b.p, a->b.n, b->b.p, b->b.n) : a->v == b->v;
}

/* Index of the first field that differs, or -1. */
static long ts_diff(const tscript *a, const tscript *b)
{
    size_t n = a->f.n < b->f.n ? a->f.n : b->f.n;
    for (size_t i = 0; i < n; i++)
        if (!field_eq(VAT(a->f, tfield, i), VAT(b->f, tfield, i)))
            return (long)i;
    return a->f.n == b->f.n ? -1 : (long)n;
}

static void ts_dump(const char *who, const tscript *t, long mark)
{
    fprintf(stderr, "  %s:\n", who);
    for (size_t i = 0; i < t->f.n; i++) {
        const tfield *f = VAT(t->f, tfield, i);
        fprintf(stderr, "   %s[%zu] %s = ", (long)i == mark ? "=>" : "  ", i, f->label);
        if (!f->bytes) {
            if (strcmp(f->label, "status") == 0)
                fprintf(stderr, "%s\n", cairn_status_name((cairn_status)f->v));
            else
                fprintf(stderr, "%llu (%lld)\n", (unsigned long long)f->v, (long long)f->v);
            continue;
        }
        fprintf(stderr, "%zu bytes ", f->b.n);
        for (size_t j = 0; j < f->b.n && j < 40; j++)
            fprintf(stderr, "%02x", f->b.p[j]);
        fprintf(stderr, "%s\n", f->b.n > 40 ? "..." : "");
    }
}

/* Aborts with both transcripts when they differ. */
static void ts_expect(const tscript *model, const tscript *api, const char *what)
{
    long d = ts_diff(model, api);
    if (d < 0)
        return;
    fprintf(stderr, "fuzz_api: divergence at op %zu (%s): %s\n", g_opindex, g_opname, what);
    ts_dump("model", model, d);
    ts_dump("library", api, d);
    abort();
}

/* ---- domains: what a transaction read, what a commit wrote ----------------------------- */

enum { D_KV, D_EV, D_CELL, D_TR, D_REC, D_PER_RUN };
enum { DOM_RI = MAX_RUNS * D_PER_RUN, DOM_RAW, DOM_BITS };

typedef struct dom {
    uint64_t w[(DOM_BITS + 63) / 64];
} dom;

static void dom_set(dom *d, int bit)
{
    d->w[bit / 64] |= UINT64_C(1) << (bit % 64);
}

static void dom_run(dom *d, int run, int kind)
{
    if (run >= 0)
        dom_set(d, run * D_PER_RUN + kind);
}

static void dom_all_recs(dom *d)
{
    for (int r = 0; r < MAX_RUNS; r++)
        dom_run(d, r, D_REC);
}

static void dom_or(dom *a, dom b)
{
    for (size_t i = 0; i < sizeof a->w / sizeof a->w[0]; i++)
        a->w[i] |= b.w[i];
}

static bool dom_meet(dom a, dom b)
{
    for (size_t i = 0; i < sizeof a.w / sizeof a.w[0]; i++)
        if (a.w[i] & b.w[i])
            return true;
    return false;
}

/* ---- the model ---------------------------------------------------------------------------- */

/* A KV pair (also a raw engine key of the scratch run: then `key` is the
 * whole encoded key).  exp 0: no expiry. */
typedef struct kv_ent {
    mbuf key, val;
    int64_t exp;
} kv_ent;

typedef struct cell_ent {
    mbuf name, val;
    uint64_t ver;
    int64_t upd;
} cell_ent;

typedef struct ev_ent {
    mbuf type, payload;
    int64_t ts;
    uint8_t prev[HASH], hash[HASH];
} ev_ent;

typedef struct evid_ent {
    mbuf id;
    uint64_t seq;
} evid_ent;

typedef struct tr_ent {
    mbuf id, parent, name, payload;
    int type, status;
    int64_t start, end;
    size_t ntags;
    mbuf tags[MAX_TAGS];
} tr_ent;

typedef struct rundata {
    vec kv;     /* kv_ent, sorted by key */
    vec cells;  /* cell_ent, sorted by name */
    vec events; /* ev_ent, by seq */
    vec evids;  /* evid_ent */
    vec traces; /* tr_ent, in recording order */
} rundata;

typedef struct runrec {
    int slot;
    int status;
    int parent; /* slot, or -1 for a root */
    int64_t created, updated, finished;
    mbuf name, meta, error;
    size_t ntags;
    mbuf tags[MAX_TAGS];
} runrec;

typedef struct mstate {
    rundata run[MAX_RUNS];
    vec recs; /* runrec, in creation order */
    vec raw;  /* kv_ent with whole keys: the scratch run's keys of tags 2..4 */
} mstate;

static void kv_ent_free(kv_ent *e)
{
    mb_free(&e->key);
    mb_free(&e->val);
}

static void tr_ent_free(tr_ent *t)
{
    mb_free(&t->id);
    mb_free(&t->parent);
    mb_free(&t->name);
    mb_free(&t->payload);
    for (size_t i = 0; i < t->ntags; i++)
        mb_free(&t->tags[i]);
    t->ntags = 0;
}

static void rec_free(runrec *r)
{
    mb_free(&r->name);
    mb_free(&r->meta);
    mb_free(&r->error);
    for (size_t i = 0; i < r->ntags; i++)
        mb_free(&r->tags[i]);
    r->ntags = 0;
}

static void kvvec_free(vec *v)
{
    for (size_t i = 0; i < v->n; i++)
        kv_ent_free(VAT(*v, kv_ent, i));
    free(v->p);
    memset(v, 0, sizeof *v);
}

static void rundata_free(rundata *d)
{
    kvvec_free(&d->kv);
    for (size_t i = 0; i < d->cells.n; i++) {
        mb_free(&VAT(d->cells, cell_ent, i)->name);
        mb_free(&VAT(d->cells, cell_ent, i)->val);
    }
    for (size_t i = 0; i < d->events.n; i++) {
        mb_free(&VAT(d->events, ev_ent, i)->type);
        mb_free(&VAT(d->events, ev_ent, i)->payload);
    }
    for (size_t i = 0; i < d->evids.n; i++)
        mb_free(&VAT(d->evids, evid_ent, i)->id);
    for (size_t i = 0; i < d->traces.n; i++)
        tr_ent_free(VAT(d->traces, tr_ent, i));
    free(d->cells.p);
    free(d->events.p);
    free(d->evids.p);
    free(d->traces.p);
    memset(d, 0, sizeof *d);
}

static void mstate_free(mstate *s)
{
    for (int r = 0; r < MAX_RUNS; r++)
        rundata_free(&s->run[r]);
    for (size_t i = 0; i < s->recs.n; i++)
        rec_free(VAT(s->recs, runrec, i));
    free(s->recs.p);
    kvvec_free(&s->raw);
    memset(s, 0, sizeof *s);
}

static void kvvec_copy(vec *dst, const vec *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const kv_ent *e = VAT(*src, kv_ent, i);
        kv_ent *c = vec_push(dst, sizeof *c);
        c->key = mb_dup(e->key);
        c->val = mb_dup(e->val);
        c->exp = e->exp;
    }
}

static tr_ent tr_copy(const tr_ent *t)
{
    tr_ent c = *t;
    c.id = mb_dup(t->id);
    c.parent = mb_dup(t->parent);
    c.name = mb_dup(t->name);
    c.payload = mb_dup(t->payload);
    for (size_t i = 0; i < t->ntags; i++)
        c.tags[i] = mb_dup(t->tags[i]);
    return c;
}

static runrec rec_copy(const runrec *r)
{
    runrec c = *r;
    c.name = mb_dup(r->name);
    c.meta = mb_dup(r->meta);
    c.error = mb_dup(r->error);
    for (size_t i = 0; i < r->ntags; i++)
        c.tags[i] = mb_dup(r->tags[i]);
    return c;
}

static void mstate_copy(mstate *dst, const mstate *src)
{
    memset(dst, 0, sizeof *dst);
    for (int r = 0; r < MAX_RUNS; r++) {
        const rundata *s = &src->run[r];
        rundata *d = &dst->run[r];
        kvvec_copy(&d->kv, &s->kv);
        for (size_t i = 0; i < s->cells.n; i++) {
            const cell_ent *e = VAT(s->cells, cell_ent, i);
            cell_ent *c = vec_push(&d->cells, sizeof *c);
            *c = *e;
            c->name = mb_dup(e->name);
            c->val = mb_dup(e->val);
        }
        for (size_t i = 0; i < s->events.n; i++) {
            const ev_ent *e = VAT(s->events, ev_ent, i);
            ev_ent *c = vec_push(&d->events, sizeof *c);
            *c = *e;
            c->type = mb_dup(e->type);
            c->payload = mb_dup(e->payload);
        }
        for (size_t i = 0; i < s->evids.n; i++) {
            const evid_ent *e = VAT(s->evids, evid_ent, i);
            evid_ent *c = vec_push(&d->evids, sizeof *c);
            c->id = mb_dup(e->id);
            c->seq = e->seq;
        }
        for (size_t i = 0; i < s->traces.n; i++)
            *(tr_ent *)vec_push(&d->traces, sizeof(tr_ent)) = tr_copy(VAT(s->traces, tr_ent, i));
    }
    for (size_t i = 0; i < src->recs.n; i++)
        *(runrec *)vec_push(&dst->recs, sizeof(runrec)) = rec_copy(VAT(src->recs, runrec, i));
    kvvec_copy(&dst->raw, &src->raw);
}

/* ---- sorted KV vectors ------------------------------------------------------------------------ */

/* Index of `key` in a sorted kv_ent vector, or where it would go (*found false). */
static size_t kv_pos(const vec *v, const void *key, size_t n, bool *found)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const kv_ent *e = VAT(*v, kv_ent, mid);
        int c = bcmp_(e->key.p, e->key.n, key, n);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static bool live(int64_t exp, int64_t now)
{
    return exp == 0 || exp > now;
}

/* The live entry of `key`, or NULL. */
static kv_ent *kv_get(vec *v, const void *key, size_t n, int64_t now)
{
    bool found;
    size_t i = kv_pos(v, key, n, &found);
    if (!found)
        return NULL;
    kv_ent *e = VAT(*v, kv_ent, i);
    return live(e->exp, now) ? e : NULL;
}

static void kv_set(vec *v, const void *key, size_t n, cairn_slice val, int64_t exp)
{
    bool found;
    size_t i = kv_pos(v, key, n, &found);
    kv_ent *e;
    if (found) {
        e = VAT(*v, kv_ent, i);
        mb_free(&e->val);
    } else {
        e = vec_insert(v, sizeof *e, i);
        e->key = mb_of(key, n);
    }
    e->val = mb_sl(val);
    e->exp = exp;
}

static void kv_del(vec *v, const void *key, size_t n)
{
    bool found;
    size_t i = kv_pos(v, key, n, &found);
    if (found) {
        kv_ent_free(VAT(*v, kv_ent, i));
        vec_remove(v, sizeof(kv_ent), i);
    }
}

/* ---- byte arguments ---------------------------------------------------------------------------- */

static uint8_t g_fill[20000];  /* pseudo-random bytes for values */
static uint8_t g_big[5000];    /* 'm' bytes: names and keys at and past their limits */
static uint8_t g_bytes[256];   /* every byte value */

static const cairn_slice g_pool[8] = {
    {"a", 1}, {"b", 1}, {"ab", 2}, {"abc", 3}, {"a\0", 2}, {"\xff", 1}, {"\xff\xff", 2}, {"ba", 2},
};

/* Distinct tags t00..t69; a pair that repeats; a list holding an empty tag
 * or an oversized one. */
static char g_tag_text[70][4];
static cairn_slice g_tags_distinct[70];
static const cairn_slice g_tags_dup[2] = {{"red", 3}, {"red", 3}};
static const cairn_slice g_tags_empty[2] = {{"red", 3}, {"", 0}};
static cairn_slice g_tags_big[2];
static const cairn_slice g_tag_pool[5] = {{"red", 3}, {"blue", 4}, {"t", 1}, {"t00", 3}, {"\0", 1}};

static void init_static(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    g_trace = getenv("FUZZ_API_TRACE") ? atoi(getenv("FUZZ_API_TRACE")) : 0;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < sizeof g_fill; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        g_fill[i] = (uint8_t)x;
    }
    memset(g_big, 'm', sizeof g_big);
    for (int i = 0; i < 256; i++)
        g_bytes[i] = (uint8_t)i;
    for (int i = 0; i < 70; i++) {
        g_tag_text[i][0] = 't';
        g_tag_text[i][1] = (char)('0' + i / 10);
        g_tag_text[i][2] = (char)('0' + i % 10);
        g_tags_distinct[i] = cairn_slice_of(g_tag_text[i], 3);
    }
    g_tags_big[0] = cairn_slice_of("red", 3);
    g_tags_big[1] = cairn_slice_of(g_big, 256);
}

/*
 * A byte-string argument whose limit is `max`: pool strings, empty (NULL
 * or not), NULL with a length, exactly `max` and `max` + 1 bytes, random
 * lengths, bytes of the input, single bytes.
 */
static cairn_slice gen_bytes(reader *r, size_t max)
{
    uint8_t c = rd_u8(r);
    switch (c % 16) {
    case 8: return cairn_slice_of(g_fill, 0);
    case 9: return cairn_slice_of(NULL, 0);
    case 10: return cairn_slice_of(NULL, 1 + rd_u8(r) % 4);
    case 11: return cairn_slice_of(g_big, max);
    case 12: return cairn_slice_of(g_big, max + 1);
    case 13: {
        size_t lim = max < 48 ? max : 48;
        size_t n = 1 + rd_u8(r) % (lim ? lim : 1);
        return cairn_slice_of(g_fill + rd_u8(r) % 64, n);
    }
    case 14: {
        size_t n = rd_u8(r) % 9;
        if (n > r->n - r->pos)
            n = r->n - r->pos;
        cairn_slice s = cairn_slice_of(r->p + r->pos, n);
        r->pos += n;
        return n ? s : cairn_slice_of(g_fill, 0);
    }
    case 15: return cairn_slice_of(&g_bytes[rd_u8(r)], 1);
    default: return g_pool[c % 8];
    }
}

/* A value or payload: empty, NULL with a length, small, at the limit
 * `edge`, one past it, a medium one, input bytes. */
static cairn_slice gen_value(reader *r, size_t edge)
{
    uint8_t c = rd_u8(r);
    size_t off = rd_u8(r);
    switch (c % 10) {
    case 0: return cairn_slice_of(NULL, 0);
    case 1: return cairn_slice_of(g_fill, 0);
    case 2: return cairn_slice_of(NULL, 4);
    case 6: return cairn_slice_of(g_fill + off, edge);
    case 7: return cairn_slice_of(g_fill + off, edge + 1);
    case 8: {
        size_t n = rd_u8(r) % 17;
        if (n > r->n - r->pos)
            n = r->n - r->pos;
        cairn_slice s = cairn_slice_of(r->p + r->pos, n);
        r->pos += n;
        return s;
    }
    case 9: return cairn_slice_of(g_fill + off, 100 + (size_t)rd_u8(r) * 4);
    default: return cairn_slice_of(g_fill + off, 1 + rd_u8(r) % 32);
    }
}

/* A tag list: none, 1..3 pool tags, 64 or 65 distinct ones, a repeat, an
 * empty tag, an oversized tag, NULL with a count. */
static void gen_tags(reader *r, const cairn_slice **tagsp, size_t *np)
{
    uint8_t c = rd_u8(r);
    switch (c % 10) {
    case 0: case 1: case 2: *tagsp = NULL; *np = 0; return;
    case 3: *tagsp = g_tags_distinct; *np = MAX_TAGS; return;
    case 4: *tagsp = g_tags_distinct; *np = MAX_TAGS + 1; return;
    case 5: *tagsp = g_tags_dup; *np = 2; return;
    case 6: *tagsp = rd_u8(r) & 1 ? g_tags_empty : g_tags_big; *np = 2; return;
    case 7: *tagsp = NULL; *np = 1 + rd_u8(r) % 2; return;
    default: {
        size_t start = rd_u8(r) % 5, n = 1 + rd_u8(r) % 3;
        if (start + n > 5)
            n = 5 - start;
        *tagsp = g_tag_pool + start;
        *np = n;
        return;
    }
    }
}

/* ---- operations, transactions, the fuzzer's state ----------------------------------------------- */

/* A raw engine key: how to build it. */
enum {
    RK_VALID,     /* [run][tag][rest] */
    RK_NULL,      /* a NULL key pointer */
    RK_PREFIX,    /* [run][tag], an empty rest */
    RK_BAD_TAG,   /* a tag outside 1..5 */
    RK_ZERO_KV,   /* the all-zero run with the KV tag */
    RK_RUN_TAG,   /* a non-zero run with the RUN tag */
    RK_SHORT,     /* shorter than the prefix */
    RK_LONG,      /* a length past CAIRN_KEY_MAX */
};

typedef struct rawkey {
    int mode;
    int run;
    uint8_t tag;
    cairn_slice rest;
} rawkey;

enum { T_IMPLICIT, T_NULLDB, T_NULLTXN, T_SLOT };

/* NULL out-pointers and the like. */
enum { N_OUT = 1, N_OUT2 = 2, N_OUT3 = 4, N_SPEC = 8, N_FN = 16 };

typedef struct op {
    int kind;
    int target, slot, it;
    int run, run2, sub;
    cairn_slice s[4];
    int64_t i[4];
    unsigned nulls;
    const cairn_slice *tags;
    size_t ntags;
    rawkey k[4];
    int nk;
    int cmode;           /* query cursors: 0 none (NULL), 1 zeroed, 2 set, 3 malformed */
    int64_t cstart;
    cairn_slice cid;
    cairn_run_id gen; /* the id the library generated (auto trace ids, run ids) */
    bool have_gen;
} op;

typedef struct logent {
    op o;
    tscript ts;
} logent;

typedef struct txn_slot {
    bool present, active, ro;
    cairn_txn *h;
    uint64_t gen;          /* bumps when the transaction finishes */
    int64_t now;
    uint64_t snap, commit_ver;
    mstate view;           /* snapshot + own writes, while active */
    uint64_t begin_seq;
    dom rd, wr;
    bool wrote;
    vec log;               /* logent */
} txn_slot;

typedef struct iter_slot {
    bool used, event, by_type;
    int slot;
    uint64_t gen;
    void *h;
    vec items;             /* tscript: what each next yields */
    size_t pos;
    bool loose;            /* see iter_written() */
} iter_slot;

typedef struct commit_rec {
    uint64_t seq;
    dom wr;
} commit_rec;

static struct {
    cairn_db *db;
    fake_clock clock;
    mstate st;             /* committed */
    uint64_t version;      /* the visible commit version */
    txn_slot s[NSLOTS];
    iter_slot it[NITERS];
    vec commits;           /* commit_rec */
    uint64_t seq;
    int nactive;
    cairn_run_id ids[MAX_RUNS];
    int nruns;
    cairn_run_id last_gen; /* the newest id seen from the generator */
    void *pending_iter;    /* an iterator the library just opened */
    int64_t bulk_left;     /* keys the bulk operation may still touch */
} g;

static const cairn_run_id g_zero_id;

static int64_t clock_now(void)
{
    return fake_clock_read(&g.clock);
}

/* A run selector: NULL, the zero id, a fixed id, the scratch id (raw keys
 * and KV only), or a created run. */
static int rd_run(reader *r, bool allow_scratch)
{
    uint8_t b = rd_u8(r);
    switch (b % 16) {
    case 14: return RUN_NULL;
    case 15: return RUN_ZERO;
    case 0: case 1: return 0;
    case 2: return 1;
    case 3: return 2;
    case 4: return allow_scratch ? RUN_S : 0;
    default:
        if (g.nruns > FIRST_CREATED)
            return FIRST_CREATED + (b / 16) % (g.nruns - FIRST_CREATED);
        return b % 3;
    }
}

/* The id a selector names, in *tmp (NULL for RUN_NULL). */
static const cairn_run_id *run_ptr(int sel, cairn_run_id *tmp)
{
    if (sel == RUN_NULL)
        return NULL;
    *tmp = sel == RUN_ZERO ? g_zero_id : g.ids[sel];
    return tmp;
}

/* The slot of a run id, or -1. */
static int run_slot_of(const cairn_run_id *id)
{
    for (int i = 0; i < g.nruns; i++)
        if (memcmp(g.ids[i].bytes, id->bytes, CAIRN_RUN_ID_SIZE) == 0)
            return i;
    return -1;
}

/* Checks an id from the generator: UUIDv7 layout, newer than every one
 * seen before. */
static void check_generated(const cairn_run_id *id)
{
    if ((id->bytes[6] >> 4) != 7 || (id->bytes[8] >> 6) != 2)
        fail("a generated id has not the UUIDv7 version and variant bits");
    if (memcmp(id->bytes, g.last_gen.bytes, CAIRN_RUN_ID_SIZE) <= 0)
        fail("a generated id is not newer than the previous one");
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | id->bytes[i];
    if ((int64_t)ms < clock_now() / 1000)
        fail("a generated id carries %llu ms, before the clock's %lld", (unsigned long long)ms,
             (long long)(clock_now() / 1000));
    g.last_gen = *id;
}

/* ---- evaluating a call on the model -------------------------------------------------------------- */

typedef struct mctx {
    mstate *s;
    int64_t now;           /* the transaction's time */
    bool implicit;         /* the implicit form (its own transaction) */
    bool nulldb;           /* ... on a NULL database */
    bool busy;             /* ... while max_open_txns transactions are active */
    bool nulltxn;          /* the _tx form with a NULL transaction */
    bool finished;         /* the _tx form on a finished transaction */
    bool ro;               /* a read-only transaction */
    tscript *out;
    dom rd, wr;
    bool wrote;
    vec *items;            /* iterator opens: what each next will yield */
} mctx;

static bool emit(mctx *m, cairn_status st)
{
    ts_status(m->out, st);
    return true;
}

/* The start of every call: a NULL database or no free transaction slot
 * (implicit forms), a NULL or finished transaction (_tx forms). */
static bool m_gate(mctx *m)
{
    if (m->implicit)
        return m->nulldb ? emit(m, CAIRN_INVALID_ARGUMENT) : m->busy ? emit(m, CAIRN_BUSY) : false;
    if (m->nulltxn)
        return emit(m, CAIRN_INVALID_ARGUMENT);
    return m->finished ? emit(m, CAIRN_TXN_FINISHED) : false;
}

/* An implicit form's own check of its out-pointer, before any transaction. */
static bool m_null_out(mctx *m, bool null)
{
    return m->implicit && null ? emit(m, CAIRN_INVALID_ARGUMENT) : false;
}

static bool m_run(mctx *m, int run)
{
    return run < 0 ? emit(m, CAIRN_INVALID_ARGUMENT) : false;
}

/* prim_check_bytes(): NULL with a length, shorter than `min`, longer than `max`. */
static bool m_bytes(mctx *m, cairn_slice s, size_t min, size_t max)
{
    if (s.data == NULL && s.len)
        return emit(m, CAIRN_INVALID_ARGUMENT);
    if (s.len < min)
        return emit(m, CAIRN_INVALID_ARGUMENT);
    if (s.len > max)
        return emit(m, CAIRN_TOO_LARGE);
    return false;
}

/* The data of run `run` in the state a call runs on (`run` was checked). */
static rundata *run_data(mctx *m, int run)
{
    if (run < 0 || run >= MAX_RUNS)
        abort();
    return &m->s->run[run];
}

static runrec *find_rec(mstate *s, int slot)
{
    for (size_t i = 0; i < s->recs.n; i++)
        if (VAT(s->recs, runrec, i)->slot == slot)
            return VAT(s->recs, runrec, i);
    return NULL;
}

static bool status_final(int st)
{
    return st >= CAIRN_RUN_COMPLETED && st <= CAIRN_RUN_ARCHIVED;
}

/* prim_check_write() after the run check: a registered run that finished
 * takes no writes. */
static bool m_writable(mctx *m, int run)
{
    dom_run(&m->rd, run, D_REC);
    runrec *r = find_rec(m->s, run);
    return r && status_final(r->status) ? emit(m, CAIRN_READ_ONLY) : false;
}

/* The first buffered write of a call: refused in a read-only transaction
 * (before the engine looks at the value). */
static bool m_ro(mctx *m)
{
    return m->ro ? emit(m, CAIRN_READ_ONLY) : false;
}

/* ---- KVStore ---------------------------------------------------------------------------------------- */

typedef void (*api_fn)(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts);

/* How an operation is decoded, run on the model and on the library. */
enum { F_BOTH, F_TX, F_IMPL, F_DIRECT };
enum { IT_NONE, IT_RAW, IT_EVENT };

typedef struct opdef {
    const char *name;
    int form;   /* implicit and _tx forms, _tx only, implicit only, or a driver of its own */
    int sub;    /* the variant; -1: the decoder picks it */
    int iter;   /* opens an iterator */
    void (*decode)(reader *, op *, mstate *);
    void (*model)(mctx *, const op *);
    api_fn api;
    void (*direct)(reader *);
} opdef;

static const opdef *op_def(int kind);

static unsigned rd_nulls(reader *r, unsigned bits)
{
    uint8_t b = rd_u8(r);
    return b % 8 == 7 ? bits & (1u << (b / 8 % 3)) : 0;
}

/* kv_key(): the run, then the key (1..CAIRN_KV_KEY_MAX bytes). */
static bool m_kv_key(mctx *m, int run, cairn_slice key)
{
    return m_run(m, run) || m_bytes(m, key, 1, CAIRN_KV_KEY_MAX);
}

static void d_kv_key(reader *r, op *o, mstate *v)
{
    (void)v;
    o->run = rd_run(r, true);
    o->s[0] = gen_bytes(r, CAIRN_KV_KEY_MAX);
    o->nulls = rd_nulls(r, N_OUT);
}

static void m_kv_get(mctx *m, const op *o)
{
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m) || m_kv_key(m, o->run, o->s[0]))
        return;
    if (o->nulls & N_OUT) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_KV);
    kv_ent *e = kv_get(&run_data(m, o->run)->kv, o->s[0].data, o->s[0].len, m->now);
    if (e == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    emit(m, CAIRN_OK);
    ts_bytes(m->out, "value", e->val.p, e->val.n);
}

static void a_kv_get(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_status st;
    if (implicit) {
        cairn_bytes v = {NULL, 0};
        st = cairn_kv_get(db, run, o->s[0], o->nulls & N_OUT ? NULL : &v);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_bytes(ts, "value", v.data, v.len);
        cairn_bytes_free(&v);
    } else {
        cairn_slice v;
        st = cairn_kv_get_tx(t, run, o->s[0], o->nulls & N_OUT ? NULL : &v);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_sl(ts, "value", v);
    }
}

static void m_kv_exists(mctx *m, const op *o)
{
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m) || m_kv_key(m, o->run, o->s[0]))
        return;
    if (o->nulls & N_OUT) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_KV);
    emit(m, CAIRN_OK);
    ts_int(m->out, "exists", kv_get(&run_data(m, o->run)->kv, o->s[0].data, o->s[0].len, m->now) != NULL);
}

static void a_kv_exists(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    bool ex = false;
    bool *exp = o->nulls & N_OUT ? NULL : &ex;
    cairn_status st = implicit ? cairn_kv_exists(db, run, o->s[0], exp)
                               : cairn_kv_exists_tx(t, run, o->s[0], exp);
    ts_status(ts, st);
    if (st == CAIRN_OK)
        ts_int(ts, "exists", ex);
}

static void d_kv_get_many(reader *r, op *o, mstate *v)
{
    (void)v;
    o->run = rd_run(r, true);
    o->i[0] = rd_u8(r) % 5;
    for (int i = 0; i < o->i[0]; i++)
        o->s[i] = gen_bytes(r, CAIRN_KV_KEY_MAX);
    o->nulls = rd_nulls(r, N_OUT | N_OUT2 | N_OUT3);
}

static void m_kv_get_many(mctx *m, const op *o)
{
    size_t n = (size_t)o->i[0];
    if (m->implicit && n && (o->nulls & N_OUT2)) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if (m_gate(m) || m_run(m, o->run))
        return;
    if (n && (o->nulls & (N_OUT | N_OUT3 | (m->implicit ? 0 : N_OUT2)))) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (m_bytes(m, o->s[i], 1, CAIRN_KV_KEY_MAX))
            return;
    dom_run(&m->rd, o->run, D_KV);
    emit(m, CAIRN_OK);
    for (size_t i = 0; i < n; i++) {
        kv_ent *e = kv_get(&run_data(m, o->run)->kv, o->s[i].data, o->s[i].len, m->now);
        ts_int(m->out, "item status", e ? CAIRN_OK : CAIRN_NOT_FOUND);
        if (e)
            ts_bytes(m->out, "item value", e->val.p, e->val.n);
    }
}

static void a_kv_get_many(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    size_t n = (size_t)o->i[0];
    const cairn_slice *keys = o->nulls & N_OUT ? NULL : o->s;
    cairn_status sts[4];
    cairn_status *stp = o->nulls & N_OUT3 ? NULL : sts;
    cairn_status st;
    if (implicit) {
        cairn_bytes vals[4];
        memset(vals, 0, sizeof vals);
        st = cairn_kv_get_many(db, run, keys, n, o->nulls & N_OUT2 ? NULL : vals, stp);
        ts_status(ts, st);
        for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
            ts_int(ts, "item status", sts[i]);
            if (sts[i] == CAIRN_OK)
                ts_bytes(ts, "item value", vals[i].data, vals[i].len);
        }
        for (size_t i = 0; i < 4; i++)
            cairn_bytes_free(&vals[i]);
    } else {
        cairn_slice vals[4];
        st = cairn_kv_get_many_tx(t, run, keys, n, o->nulls & N_OUT2 ? NULL : vals, stp);
        ts_status(ts, st);
        for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
            ts_int(ts, "item status", sts[i]);
            if (sts[i] == CAIRN_OK)
                ts_sl(ts, "item value", vals[i]);
        }
    }
}

static void d_kv_put(reader *r, op *o, mstate *v)
{
    (void)v;
    o->run = rd_run(r, true);
    o->s[0] = gen_bytes(r, CAIRN_KV_KEY_MAX);
    o->s[1] = gen_value(r, MAX_VALUE);
    switch (rd_u8(r) % 8) {
    case 0: o->i[0] = 0; break;
    case 1: o->i[0] = -(int64_t)rd_u8(r) - 1; break;
    case 2: o->i[0] = INT64_MAX; break;
    case 3: o->i[0] = INT64_C(1000000000000); break;
    default: o->i[0] = 1 + (int64_t)rd_u16(r) * 16; break;
    }
}

/* The engine's put: a read-only transaction, then the value's pointer
 * and size. */
static bool m_engine_value(mctx *m, cairn_slice v, size_t max)
{
    if (m_ro(m))
        return true;
    if (v.data == NULL && v.len)
        return emit(m, CAIRN_INVALID_ARGUMENT);
    return v.len > max ? emit(m, CAIRN_TOO_LARGE) : false;
}

static void m_kv_put_common(mctx *m, const op *o, bool ttl)
{
    int64_t t = o->i[0];
    if (ttl && ((m->implicit && t <= 0) || (!m->implicit && !m->nulltxn && t == 0))) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if (m_gate(m) || m_kv_key(m, o->run, o->s[0]) || m_writable(m, o->run))
        return;
    int64_t exp = 0;
    if (ttl) {
        if (t < 0 || m->now > INT64_MAX - t) {
            emit(m, CAIRN_INVALID_ARGUMENT);
            return;
        }
        exp = m->now + t;
    }
    if (m_engine_value(m, o->s[1], MAX_VALUE))
        return;
    kv_set(&run_data(m, o->run)->kv, o->s[0].data, o->s[0].len, o->s[1], exp);
    dom_run(&m->wr, o->run, D_KV);
    m->wrote = true;
    emit(m, CAIRN_OK);
}

static void m_kv_put(mctx *m, const op *o)
{
    m_kv_put_common(m, o, false);
}

static void m_kv_put_ttl(mctx *m, const op *o)
{
    m_kv_put_common(m, o, true);
}

static void a_kv_put(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    ts_status(ts, implicit ? cairn_kv_put(db, run, o->s[0], o->s[1])
                           : cairn_kv_put_tx(t, run, o->s[0], o->s[1]));
}

static void a_kv_put_ttl(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    ts_status(ts, implicit ? cairn_kv_put_ttl(db, run, o->s[0], o->s[1], o->i[0])
                           : cairn_kv_put_ttl_tx(t, run, o->s[0], o->s[1], o->i[0]));
}

static void m_kv_delete(mctx *m, const op *o)
{
    if (m_gate(m) || m_kv_key(m, o->run, o->s[0]) || m_writable(m, o->run))
        return;
    vec *kv = &run_data(m, o->run)->kv;
    bool existed = false;
    if (!(o->nulls & N_OUT) || m->implicit) {
        dom_run(&m->rd, o->run, D_KV);
        existed = kv_get(kv, o->s[0].data, o->s[0].len, m->now) != NULL;
    }
    if (m_ro(m))
        return;
    kv_del(kv, o->s[0].data, o->s[0].len);
    dom_run(&m->wr, o->run, D_KV);
    m->wrote = true;
    emit(m, CAIRN_OK);
    if (!(o->nulls & N_OUT))
        ts_int(m->out, "existed", existed);
}

static void a_kv_delete(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    bool ex = false;
    bool *exp = o->nulls & N_OUT ? NULL : &ex;
    cairn_status st = implicit ? cairn_kv_delete(db, run, o->s[0], exp)
                               : cairn_kv_delete_tx(t, run, o->s[0], exp);
    ts_status(ts, st);
    if (st == CAIRN_OK && exp)
        ts_int(ts, "existed", ex);
}

static size_t gen_limit(reader *r, size_t max)
{
    switch (rd_u8(r) % 8) {
    case 0: return 0;
    case 1: return max;
    case 2: return max + 1;
    case 3: return 1;
    case 4: return 2;
    default: return 1 + rd_u8(r) % 6;
    }
}

static void d_kv_list(reader *r, op *o, mstate *v)
{
    (void)v;
    o->sub = rd_u8(r) & 1; /* pairs */
    o->run = rd_run(r, true);
    o->s[0] = rd_u8(r) % 3 ? cairn_slice_of(NULL, 0) : gen_bytes(r, CAIRN_KV_KEY_MAX);
    o->s[1] = rd_u8(r) % 3 ? cairn_slice_of(NULL, 0) : gen_bytes(r, CAIRN_KV_KEY_MAX);
    o->i[0] = (int64_t)gen_limit(r, CAIRN_LIST_LIMIT_MAX);
    o->nulls = rd_nulls(r, N_OUT);
}

/* The checks a list call makes before scanning: the run, listp, the
 * limit, the prefix and the cursor (at most `max` bytes each; a cursor of
 * `max` bytes, the last key of a page, is as good as any). */
static bool m_list_checks(mctx *m, const op *o, size_t max)
{
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m) || m_run(m, o->run))
        return true;
    if ((o->nulls & N_OUT) || o->i[0] == 0 || (size_t)o->i[0] > CAIRN_LIST_LIMIT_MAX)
        return emit(m, CAIRN_INVALID_ARGUMENT);
    return m_bytes(m, o->s[0], 0, max) || m_bytes(m, o->s[1], 0, max);
}

static void m_kv_list(mctx *m, const op *o)
{
    if (m_list_checks(m, o, CAIRN_KV_KEY_MAX))
        return;
    dom_run(&m->rd, o->run, D_KV);
    vec *kv = &run_data(m, o->run)->kv;
    size_t limit = (size_t)o->i[0], n = 0;
    bool more = false;
    const kv_ent *last = NULL;
    emit(m, CAIRN_OK);
    for (size_t i = 0; i < kv->n; i++) {
        const kv_ent *e = VAT(*kv, kv_ent, i);
        if (!live(e->exp, m->now) || !starts_with(e->key, o->s[0]) ||
            (o->s[1].len && bcmp_(e->key.p, e->key.n, o->s[1].data, o->s[1].len) <= 0))
            continue;
        if (n == limit) {
            more = true;
            break;
        }
        ts_bytes(m->out, "key", e->key.p, e->key.n);
        if (o->sub)
            ts_bytes(m->out, "value", e->val.p, e->val.n);
        last = e;
        n++;
    }
    ts_int(m->out, "n", n);
    ts_int(m->out, "more", more);
    ts_bytes(m->out, "cursor", last ? last->key.p : NULL, last ? last->key.n : 0);
}

static void a_kv_list(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_kv_list l;
    cairn_kv_list *lp = o->nulls & N_OUT ? NULL : &l;
    size_t limit = (size_t)o->i[0];
    cairn_status st;
    if (implicit)
        st = o->sub ? cairn_kv_list_pairs(db, run, o->s[0], o->s[1], limit, lp)
                    : cairn_kv_list_keys(db, run, o->s[0], o->s[1], limit, lp);
    else
        st = o->sub ? cairn_kv_list_pairs_tx(t, run, o->s[0], o->s[1], limit, lp)
                    : cairn_kv_list_keys_tx(t, run, o->s[0], o->s[1], limit, lp);
    ts_status(ts, st);
    if (st != CAIRN_OK)
        return;
    for (size_t i = 0; i < l.n; i++) {
        ts_sl(ts, "key", l.items[i].key);
        if (o->sub)
            ts_sl(ts, "value", l.items[i].value);
    }
    ts_int(ts, "n", l.n);
    ts_int(ts, "more", l.more);
    ts_sl(ts, "cursor", l.cursor);
    cairn_kv_list_free(&l);
    cairn_kv_list_free(&l); /* idempotent */
}

static void d_kv_sweep(reader *r, op *o, mstate *v)
{
    (void)v;
    uint8_t b = rd_u8(r);
    o->run = b % 4 == 0 ? RUN_NULL : rd_run(r, true);
    o->nulls = rd_nulls(r, N_OUT);
}

static void m_kv_sweep(mctx *m, const op *o)
{
    if (m->nulldb || o->run == RUN_ZERO) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if (m->busy) {
        emit(m, CAIRN_BUSY);
        if (!(o->nulls & N_OUT))
            ts_int(m->out, "removed", 0);
        return;
    }
    uint64_t removed = 0;
    for (int r = 0; r < MAX_RUNS; r++) {
        if (o->run != RUN_NULL && o->run != r)
            continue;
        vec *kv = &run_data(m, r)->kv;
        dom_run(&m->rd, r, D_KV);
        for (size_t i = kv->n; i-- > 0;) {
            kv_ent *e = VAT(*kv, kv_ent, i);
            if (e->exp && e->exp <= m->now) {
                kv_ent_free(e);
                vec_remove(kv, sizeof *e, i);
                removed++;
                dom_run(&m->wr, r, D_KV);
            }
        }
    }
    m->wrote = removed > 0;
    emit(m, CAIRN_OK);
    if (!(o->nulls & N_OUT))
        ts_int(m->out, "removed", removed);
}

static void a_kv_sweep(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    (void)implicit;
    (void)t;
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    uint64_t removed = 0;
    cairn_status st = cairn_kv_sweep_expired(db, run, o->nulls & N_OUT ? NULL : &removed);
    ts_status(ts, st);
    if ((st == CAIRN_OK || st == CAIRN_BUSY) && !(o->nulls & N_OUT))
        ts_int(ts, "removed", removed);
}

/* ---- EventLog ----------------------------------------------------------------------------------------- */

static void sha256(const void *p, size_t n, uint8_t out[HASH])
{
    unsigned int len = 0;
    if (!EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) || len != HASH)
        abort();
}

static void genesis(int run, uint8_t out[HASH])
{
    uint8_t buf[19 + CAIRN_RUN_ID_SIZE];
    memcpy(buf, "cairn.event.genesis", 19);
    memcpy(buf + 19, g.ids[run].bytes, CAIRN_RUN_ID_SIZE);
    sha256(buf, sizeof buf, out);
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* The hash of an event, from its canonical encoding (docs/FORMAT.md). */
static void event_hash(uint64_t seq, int64_t ts, cairn_slice type, cairn_slice payload,
                       const uint8_t prev[HASH], uint8_t out[HASH])
{
    size_t n = 1 + 8 + 8 + 1 + type.len + 4 + payload.len + HASH;
    uint8_t *b = malloc(n), *p = b;
    if (b == NULL)
        abort();
    *p++ = 1;
    put_be(p, seq, 8);
    put_be(p + 8, (uint64_t)ts, 8);
    p[16] = (uint8_t)type.len;
    memcpy(p + 17, type.data, type.len);
    p += 17 + type.len;
    put_be(p, payload.len, 4);
    if (payload.len)
        memcpy(p + 4, payload.data, payload.len);
    p += 4 + payload.len;
    memcpy(p, prev, HASH);
    sha256(b, n, out);
    free(b);
}

static void ts_event(tscript *t, uint64_t seq, int64_t ts, cairn_slice type, cairn_slice payload,
                     const uint8_t prev[HASH], const uint8_t hash[HASH])
{
    ts_int(t, "seq", seq);
    ts_int(t, "timestamp", (uint64_t)ts);
    ts_sl(t, "type", type);
    ts_sl(t, "payload", payload);
    ts_bytes(t, "prev_hash", prev, HASH);
    ts_bytes(t, "hash", hash, HASH);
}

static void ts_event_ent(tscript *t, const ev_ent *e, uint64_t seq)
{
    ts_event(t, seq, e->ts, sl_mb(e->type), sl_mb(e->payload), e->prev, e->hash);
}

static void ts_event_view(tscript *t, const cairn_event_view *v)
{
    ts_event(t, v->seq, v->timestamp_us, v->type, v->payload, v->prev_hash, v->hash);
}

static void ts_event_owned(tscript *t, const cairn_event *v)
{
    ts_event(t, v->seq, v->timestamp_us, cairn_bytes_slice(&v->type), cairn_bytes_slice(&v->payload),
             v->prev_hash, v->hash);
}

/* check_type(): 1..CAIRN_EVENT_TYPE_MAX bytes. */
static cairn_status type_status(cairn_slice type)
{
    if (type.data == NULL && type.len)
        return CAIRN_INVALID_ARGUMENT;
    if (type.len == 0)
        return CAIRN_INVALID_ARGUMENT;
    return type.len > CAIRN_EVENT_TYPE_MAX ? CAIRN_TOO_LARGE : CAIRN_OK;
}

/* append_common(): the statuses it can answer and, on success, the new
 * event (`*seqp` is also the length on CAIRN_VERSION_MISMATCH). */
static cairn_status m_append_core(mctx *m, int run, bool expect, uint64_t expected, cairn_slice type,
                                  cairn_slice payload, uint64_t *seqp, uint8_t hash[HASH])
{
    if (run < 0)
        return CAIRN_INVALID_ARGUMENT;
    dom_run(&m->rd, run, D_REC);
    runrec *rec = find_rec(m->s, run);
    if (rec && status_final(rec->status))
        return CAIRN_READ_ONLY;
    cairn_status st = type_status(type);
    if (st != CAIRN_OK)
        return st;
    if (payload.data == NULL && payload.len)
        return CAIRN_INVALID_ARGUMENT;
    if (86 + type.len + payload.len > MAX_VALUE)
        return CAIRN_TOO_LARGE;
    dom_run(&m->rd, run, D_EV);
    vec *evs = &run_data(m, run)->events;
    uint64_t len = evs->n;
    if (expect && len != expected) {
        *seqp = len;
        return CAIRN_VERSION_MISMATCH;
    }
    if (m->ro)
        return CAIRN_READ_ONLY;
    ev_ent *e = vec_push(evs, sizeof *e);
    e->type = mb_sl(type);
    e->payload = mb_sl(payload);
    e->ts = m->now;
    if (len)
        memcpy(e->prev, VAT(*evs, ev_ent, len - 1)->hash, HASH);
    else
        genesis(run, e->prev);
    event_hash(len, m->now, type, payload, e->prev, e->hash);
    memcpy(hash, e->hash, HASH);
    *seqp = len;
    dom_run(&m->wr, run, D_EV);
    m->wrote = true;
    return CAIRN_OK;
}

static uint64_t view_events(mstate *v, int run)
{
    return run >= 0 ? v->run[run].events.n : 0;
}

static void d_ev_append(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    o->s[0] = gen_bytes(r, CAIRN_EVENT_TYPE_MAX);
    size_t edge = o->s[0].len <= CAIRN_EVENT_TYPE_MAX ? MAX_VALUE - 86 - o->s[0].len : 10;
    o->s[1] = gen_value(r, edge);
    o->s[2] = gen_bytes(r, CAIRN_EVENT_ID_MAX); /* append_once: the id */
    uint64_t len = view_events(v, o->run);
    switch (rd_u8(r) % 6) {
    case 0: o->i[0] = (int64_t)(len + 1); break;
    case 1: o->i[0] = len ? (int64_t)(len - 1) : INT64_MAX; break;
    default: o->i[0] = (int64_t)len; break;
    }
    o->nulls = rd_nulls(r, N_OUT | N_OUT2 | N_OUT3);
}

/* sub 0: append, 1: append_expect, 2: append_once */
static void m_ev_append(mctx *m, const op *o)
{
    uint64_t seq = 0;
    uint8_t hash[HASH];
    bool appended = true;
    cairn_status st;
    if (o->sub == 2 && m->implicit && o->s[2].len == 0) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if (m_gate(m))
        return;
    if (o->sub == 2) {
        cairn_slice id = o->s[2];
        st = CAIRN_OK;
        if (o->run < 0)
            st = CAIRN_INVALID_ARGUMENT;
        else if (m_writable(m, o->run)) /* emitted READ_ONLY */
            return;
        if (st == CAIRN_OK && ((id.data == NULL && id.len) || id.len == 0))
            st = CAIRN_INVALID_ARGUMENT;
        else if (st == CAIRN_OK && id.len > CAIRN_EVENT_ID_MAX)
            st = CAIRN_TOO_LARGE;
        evid_ent *known = NULL;
        if (st == CAIRN_OK) {
            dom_run(&m->rd, o->run, D_EV);
            vec *ids = &run_data(m, o->run)->evids;
            for (size_t i = 0; i < ids->n; i++)
                if (mb_eq(VAT(*ids, evid_ent, i)->id, id))
                    known = VAT(*ids, evid_ent, i);
        }
        if (known) {
            seq = known->seq;
            memcpy(hash, VAT(run_data(m, o->run)->events, ev_ent, seq)->hash, HASH);
            appended = false;
        } else if (st == CAIRN_OK) {
            st = m_append_core(m, o->run, false, 0, o->s[0], o->s[1], &seq, hash);
            if (st == CAIRN_OK) {
                evid_ent *e = vec_push(&run_data(m, o->run)->evids, sizeof *e);
                e->id = mb_sl(id);
                e->seq = seq;
            }
        }
    } else {
        st = m_append_core(m, o->run, o->sub == 1, (uint64_t)o->i[0], o->s[0], o->s[1], &seq, hash);
    }
    emit(m, st);
    if ((st == CAIRN_OK || st == CAIRN_VERSION_MISMATCH) && !(o->nulls & N_OUT))
        ts_int(m->out, "seq", seq);
    if (st == CAIRN_OK && !(o->nulls & N_OUT2))
        ts_bytes(m->out, "hash", hash, HASH);
    if (st == CAIRN_OK && o->sub == 2 && !(o->nulls & N_OUT3))
        ts_int(m->out, "appended", appended);
}

static void a_ev_append(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    uint64_t seq = 0;
    uint8_t hash[HASH];
    bool appended = false;
    uint64_t *sp = o->nulls & N_OUT ? NULL : &seq;
    uint8_t *hp = o->nulls & N_OUT2 ? NULL : hash;
    bool *ap = o->nulls & N_OUT3 ? NULL : &appended;
    cairn_status st;
    if (o->sub == 0)
        st = implicit ? cairn_event_append(db, run, o->s[0], o->s[1], sp, hp)
                      : cairn_event_append_tx(t, run, o->s[0], o->s[1], sp, hp);
    else if (o->sub == 1)
        st = implicit ? cairn_event_append_expect(db, run, (uint64_t)o->i[0], o->s[0], o->s[1], sp, hp)
                      : cairn_event_append_expect_tx(t, run, (uint64_t)o->i[0], o->s[0], o->s[1], sp, hp);
    else
        st = implicit ? cairn_event_append_once(db, run, o->s[2], o->s[0], o->s[1], sp, hp, ap)
                      : cairn_event_append_once_tx(t, run, o->s[2], o->s[0], o->s[1], sp, hp, ap);
    ts_status(ts, st);
    if ((st == CAIRN_OK || st == CAIRN_VERSION_MISMATCH) && sp)
        ts_int(ts, "seq", seq);
    if (st == CAIRN_OK && hp)
        ts_bytes(ts, "hash", hash, HASH);
    if (st == CAIRN_OK && o->sub == 2 && ap)
        ts_int(ts, "appended", appended);
}

static void d_ev_read(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    uint64_t len = view_events(v, o->run);
    uint8_t b = rd_u8(r);
    o->i[0] = b == 255 ? INT64_MAX : (int64_t)(b % (len + 2));
    o->nulls = rd_nulls(r, N_OUT);
}

/* sub 0: read, 1: len, 2: head */
static void m_ev_read(mctx *m, const op *o)
{
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m) || m_run(m, o->run))
        return;
    if (o->sub != 2 && (o->nulls & N_OUT)) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_EV);
    vec *evs = &run_data(m, o->run)->events;
    if (o->sub == 1) {
        emit(m, CAIRN_OK);
        ts_int(m->out, "len", evs->n);
        return;
    }
    if (o->sub == 2 && (o->nulls & N_OUT)) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    uint64_t seq = o->sub == 2 ? evs->n - 1 : (uint64_t)o->i[0];
    if (evs->n == 0 || seq >= evs->n) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    emit(m, CAIRN_OK);
    ts_event_ent(m->out, VAT(*evs, ev_ent, seq), seq);
}

static void a_ev_read(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_status st;
    bool null = o->nulls & N_OUT;
    if (o->sub == 1) {
        uint64_t len = 0;
        st = implicit ? cairn_event_len(db, run, null ? NULL : &len)
                      : cairn_event_len_tx(t, run, null ? NULL : &len);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_int(ts, "len", len);
        return;
    }
    if (implicit) {
        cairn_event ev;
        memset(&ev, 0, sizeof ev);
        st = o->sub == 2 ? cairn_event_head(db, run, null ? NULL : &ev)
                         : cairn_event_read(db, run, (uint64_t)o->i[0], null ? NULL : &ev);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_event_owned(ts, &ev);
        cairn_event_free(&ev);
        cairn_event_free(&ev);
    } else {
        cairn_event_view ev;
        st = o->sub == 2 ? cairn_event_head_tx(t, run, null ? NULL : &ev)
                         : cairn_event_read_tx(t, run, (uint64_t)o->i[0], null ? NULL : &ev);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_event_view(ts, &ev);
    }
}

static void d_ev_iter(reader *r, op *o, mstate *v)
{
    o->it = rd_u8(r) % NITERS;
    o->run = rd_run(r, false);
    uint64_t len = view_events(v, o->run);
    uint8_t a = rd_u8(r), b = rd_u8(r);
    o->i[0] = a == 255 ? INT64_MAX : (int64_t)(a % (len + 2));
    o->i[1] = b % 4 == 0 ? -1 : (int64_t)(b / 4 % (len + 2)); /* -1: UINT64_MAX */
    o->s[0] = gen_bytes(r, CAIRN_EVENT_TYPE_MAX);
    if (o->run >= 0 && len && rd_u8(r) % 2)
        o->s[0] = cairn_slice_of(keep(VAT(v->run[o->run].events, ev_ent, (a % len))->type.p,
                                      VAT(v->run[o->run].events, ev_ent, (a % len))->type.n),
                                 VAT(v->run[o->run].events, ev_ent, (a % len))->type.n);
    o->nulls = rd_nulls(r, N_OUT);
}

/* sub 0: iter_range, 1: iter_type (tx only); the items go to m->items */
static void m_ev_iter(mctx *m, const op *o)
{
    if (m_gate(m) || m_run(m, o->run))
        return;
    if (o->sub == 1) {
        cairn_status st = type_status(o->s[0]);
        if (st != CAIRN_OK) {
            emit(m, st);
            return;
        }
    }
    if (o->nulls & N_OUT) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_EV);
    emit(m, CAIRN_OK);
    if (m->items == NULL)
        return;
    vec *evs = &run_data(m, o->run)->events;
    uint64_t start = (uint64_t)o->i[0], end = o->i[1] < 0 ? UINT64_MAX : (uint64_t)o->i[1];
    for (uint64_t s = start; s < evs->n; s++) {
        const ev_ent *e = VAT(*evs, ev_ent, s);
        if (o->sub == 0 && s >= end)
            break;
        if (o->sub == 1 && !mb_eq(e->type, o->s[0]))
            continue;
        tscript *item = vec_push(m->items, sizeof *item);
        ts_status(item, CAIRN_OK);
        ts_event_ent(item, e, s);
    }
}

static void a_ev_iter(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    (void)implicit;
    (void)db;
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_event_iter *it = NULL;
    cairn_event_iter **itp = o->nulls & N_OUT ? NULL : &it;
    uint64_t end = o->i[1] < 0 ? UINT64_MAX : (uint64_t)o->i[1];
    cairn_status st = o->sub == 0 ? cairn_event_iter_range(t, run, (uint64_t)o->i[0], end, itp)
                                  : cairn_event_iter_type(t, run, o->s[0], (uint64_t)o->i[0], itp);
    ts_status(ts, st);
    g.pending_iter = st == CAIRN_OK ? it : NULL;
}

static void d_ev_misc(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    uint64_t len = view_events(v, o->run);
    uint8_t b = rd_u8(r);
    o->i[0] = b == 255 ? INT64_MAX : (int64_t)(b % (len + 2));
    uint8_t *h = keep(g_fill + rd_u8(r), HASH);
    if (o->run >= 0 && (uint64_t)o->i[0] < len && rd_u8(r) % 4)
        memcpy(h, VAT(v->run[o->run].events, ev_ent, o->i[0])->hash, HASH);
    o->s[0] = cairn_slice_of(h, HASH);
    o->nulls = rd_nulls(r, N_OUT | N_OUT2);
}

/* sub 0: list_types, 1: verify, 2: verify_from */
static void m_ev_misc(mctx *m, const op *o)
{
    bool null_out = o->nulls & (o->sub == 2 ? (N_OUT | N_OUT2) : N_OUT);
    if (m_null_out(m, null_out) || m_gate(m) || m_run(m, o->run))
        return;
    if (null_out) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_EV);
    vec *evs = &run_data(m, o->run)->events;
    emit(m, CAIRN_OK);
    if (o->sub == 0) {
        /* distinct types in key order: shorter first, then bytewise */
        size_t n = 0;
        const mbuf *prev = NULL;
        for (;;) {
            const mbuf *best = NULL;
            for (size_t i = 0; i < evs->n; i++) {
                const mbuf *t = &VAT(*evs, ev_ent, i)->type;
                bool after = prev == NULL || t->n > prev->n ||
                             (t->n == prev->n && memcmp(t->p, prev->p, t->n) > 0);
                bool before = best == NULL || t->n < best->n ||
                              (t->n == best->n && memcmp(t->p, best->p, t->n) < 0);
                if (after && before)
                    best = t;
            }
            if (best == NULL)
                break;
            ts_bytes(m->out, "type", best->p, best->n);
            prev = best;
            n++;
        }
        ts_int(m->out, "n", n);
        return;
    }
    uint8_t head[HASH];
    uint64_t len = evs->n, checked = len;
    bool ok = true;
    if (o->sub == 1) {
        if (len)
            memcpy(head, VAT(*evs, ev_ent, len - 1)->hash, HASH);
        else
            genesis(o->run, head);
    } else {
        uint64_t ts_ = (uint64_t)o->i[0];
        if (ts_ < len && memcmp(VAT(*evs, ev_ent, ts_)->hash, o->s[0].data, HASH) == 0) {
            checked = len - ts_ - 1;
            memcpy(head, VAT(*evs, ev_ent, len - 1)->hash, HASH);
        } else {
            ok = false;
            checked = len = 0;
            memset(head, 0, HASH);
        }
    }
    ts_int(m->out, "ok", ok);
    ts_int(m->out, "problem", ok ? CAIRN_CHAIN_OK : CAIRN_CHAIN_UNTRUSTED);
    ts_int(m->out, "bad_seq", ok ? 0 : (uint64_t)o->i[0]);
    ts_int(m->out, "checked", checked);
    ts_int(m->out, "len", len);
    ts_bytes(m->out, "head_hash", head, HASH);
    ts_int(m->out, "why", !ok);
}

static void a_ev_misc(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_status st;
    if (o->sub == 0) {
        cairn_event_types ty;
        cairn_event_types *tp = o->nulls & N_OUT ? NULL : &ty;
        st = implicit ? cairn_event_list_types(db, run, tp) : cairn_event_list_types_tx(t, run, tp);
        ts_status(ts, st);
        if (st != CAIRN_OK)
            return;
        for (size_t i = 0; i < ty.n; i++)
            ts_sl(ts, "type", ty.types[i]);
        ts_int(ts, "n", ty.n);
        cairn_event_types_free(&ty);
        return;
    }
    cairn_chain_report rep;
    cairn_chain_report *rp = o->nulls & N_OUT ? NULL : &rep;
    const uint8_t *trusted = o->nulls & N_OUT2 ? NULL : o->s[0].data;
    if (o->sub == 1)
        st = implicit ? cairn_event_verify(db, run, rp) : cairn_event_verify_tx(t, run, rp);
    else
        st = implicit ? cairn_event_verify_from(db, run, (uint64_t)o->i[0], trusted, rp)
                      : cairn_event_verify_from_tx(t, run, (uint64_t)o->i[0], trusted, rp);
    ts_status(ts, st);
    if (st != CAIRN_OK)
        return;
    ts_int(ts, "ok", rep.ok);
    ts_int(ts, "problem", rep.problem);
    ts_int(ts, "bad_seq", rep.bad_seq);
    ts_int(ts, "checked", rep.checked);
    ts_int(ts, "len", rep.len);
    ts_bytes(ts, "head_hash", rep.head_hash, HASH);
    ts_int(ts, "why", rep.why[0] != '\0');
}

/* ---- StateCell ------------------------------------------------------------------------------------------- */

enum { CELL_MAX = MAX_VALUE - CAIRN_CELL_HEADER_SIZE };

static cell_ent *cell_find(vec *cells, cairn_slice name, size_t *posp)
{
    size_t lo = 0, hi = cells->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        cell_ent *c = VAT(*cells, cell_ent, mid);
        int d = bcmp_(c->name.p, c->name.n, name.data, name.len);
        if (d == 0)
            return c;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (posp)
        *posp = lo;
    return NULL;
}

/* Writes `value` as cell `name` at version `ver` (the call already checked). */
static void cell_write(mctx *m, int run, cairn_slice name, cairn_slice value, uint64_t ver)
{
    vec *cells = &run_data(m, run)->cells;
    size_t pos = 0;
    cell_ent *c = cell_find(cells, name, &pos);
    if (c == NULL) {
        c = vec_insert(cells, sizeof *c, pos);
        c->name = mb_sl(name);
    } else {
        mb_free(&c->val);
    }
    c->val = mb_sl(value);
    c->ver = ver;
    c->upd = m->now;
    dom_run(&m->wr, run, D_CELL);
    m->wrote = true;
}

static cairn_status cell_value_status(cairn_slice v)
{
    if (v.data == NULL && v.len)
        return CAIRN_INVALID_ARGUMENT;
    return v.len > CELL_MAX ? CAIRN_TOO_LARGE : CAIRN_OK;
}

static void d_cell(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    o->s[0] = gen_bytes(r, CAIRN_CELL_NAME_MAX);
    o->s[1] = gen_value(r, CELL_MAX);
    o->s[2] = gen_value(r, CELL_MAX); /* transition_or_init: initial */
    uint64_t ver = 0;
    if (o->run >= 0) {
        cell_ent *c = cell_find(&v->run[o->run].cells, o->s[0], NULL);
        ver = c ? c->ver : 0;
    }
    switch (rd_u8(r) % 6) {
    case 0: o->i[0] = 0; break;
    case 1: o->i[0] = (int64_t)ver + 1; break;
    case 2: o->i[0] = ver > 1 ? (int64_t)ver - 1 : 7; break;
    default: o->i[0] = ver ? (int64_t)ver : 1; break;
    }
    o->i[1] = rd_u8(r) % 6; /* what the transition function does */
    o->nulls = rd_nulls(r, N_OUT | N_OUT2 | N_FN);
}

/* cell_key(): the run, then the name (1..CAIRN_CELL_NAME_MAX bytes). */
static bool m_cell_key(mctx *m, const op *o)
{
    return m_run(m, o->run) || m_bytes(m, o->s[0], 1, CAIRN_CELL_NAME_MAX);
}

static void ts_cell(tscript *t, cairn_slice value, uint64_t ver, int64_t upd)
{
    ts_sl(t, "value", value);
    ts_int(t, "version", ver);
    ts_int(t, "updated_at", (uint64_t)upd);
}

/* sub 0: read, 1: exists */
static void m_cell_read(mctx *m, const op *o)
{
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m) || m_cell_key(m, o))
        return;
    if (o->nulls & N_OUT) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_CELL);
    cell_ent *c = cell_find(&run_data(m, o->run)->cells, o->s[0], NULL);
    if (o->sub == 1) {
        emit(m, CAIRN_OK);
        ts_int(m->out, "exists", c != NULL);
        return;
    }
    if (c == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        ts_cell(m->out, cairn_slice_of(NULL, 0), 0, 0);
        return;
    }
    emit(m, CAIRN_OK);
    ts_cell(m->out, sl_mb(c->val), c->ver, c->upd);
}

static void a_cell_read(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    bool null = o->nulls & N_OUT;
    cairn_status st;
    if (o->sub == 1) {
        bool ex = false;
        st = implicit ? cairn_cell_exists(db, run, o->s[0], null ? NULL : &ex)
                      : cairn_cell_exists_tx(t, run, o->s[0], null ? NULL : &ex);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_int(ts, "exists", ex);
        return;
    }
    if (implicit) {
        cairn_cell c;
        memset(&c, 0xA5, sizeof c);
        st = cairn_cell_read(db, run, o->s[0], null ? NULL : &c);
        ts_status(ts, st);
        if (st == CAIRN_OK || st == CAIRN_NOT_FOUND)
            ts_cell(ts, cairn_bytes_slice(&c.value), c.version, c.updated_at_us);
        if (st == CAIRN_OK || st == CAIRN_NOT_FOUND)
            cairn_bytes_free(&c.value);
    } else {
        cairn_cell_view c;
        memset(&c, 0xA5, sizeof c);
        st = cairn_cell_read_tx(t, run, o->s[0], null ? NULL : &c);
        ts_status(ts, st);
        if (st == CAIRN_OK || st == CAIRN_NOT_FOUND)
            ts_cell(ts, c.value, c.version, c.updated_at_us);
    }
}

/* sub 0: init, 1: cas, 2: set, 3: delete */
static void m_cell_write(mctx *m, const op *o)
{
    if (m_gate(m) || m_cell_key(m, o) || m_writable(m, o->run))
        return;
    vec *cells = &run_data(m, o->run)->cells;
    cairn_status st;
    if (o->sub == 3) {
        bool existed = false;
        if (!(o->nulls & N_OUT) || m->implicit) {
            dom_run(&m->rd, o->run, D_CELL);
            existed = cell_find(cells, o->s[0], NULL) != NULL;
        }
        if (m_ro(m))
            return;
        size_t pos;
        cell_ent *c = cell_find(cells, o->s[0], &pos);
        if (c) {
            mb_free(&c->name);
            mb_free(&c->val);
            vec_remove(cells, sizeof *c, (size_t)(c - VAT(*cells, cell_ent, 0)));
        }
        dom_run(&m->wr, o->run, D_CELL);
        m->wrote = true;
        emit(m, CAIRN_OK);
        if (!(o->nulls & N_OUT))
            ts_int(m->out, "existed", existed);
        return;
    }
    if ((st = cell_value_status(o->s[1])) != CAIRN_OK) {
        emit(m, st);
        return;
    }
    if (o->sub == 1 && o->i[0] == 0) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_CELL);
    cell_ent *c = cell_find(cells, o->s[0], NULL);
    uint64_t ver = 1;
    if (o->sub == 0 && c) {
        emit(m, CAIRN_EXISTS);
        return;
    }
    if (o->sub == 1) {
        if (c == NULL || c->ver != (uint64_t)o->i[0]) {
            emit(m, c ? CAIRN_VERSION_MISMATCH : CAIRN_NOT_FOUND);
            if (!(o->nulls & N_OUT))
                ts_int(m->out, "version", c ? c->ver : 0);
            return;
        }
    }
    if (c)
        ver = c->ver + 1;
    if (m_ro(m))
        return;
    cell_write(m, o->run, o->s[0], o->s[1], ver);
    emit(m, CAIRN_OK);
    if (o->sub != 0 && !(o->nulls & N_OUT))
        ts_int(m->out, "version", ver);
}

static void a_cell_write(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    uint64_t ver = 0xDEADBEEF;
    uint64_t *vp = o->nulls & N_OUT ? NULL : &ver;
    bool ex = false;
    cairn_status st;
    switch (o->sub) {
    case 0:
        st = implicit ? cairn_cell_init(db, run, o->s[0], o->s[1]) : cairn_cell_init_tx(t, run, o->s[0], o->s[1]);
        break;
    case 1:
        st = implicit ? cairn_cell_cas(db, run, o->s[0], (uint64_t)o->i[0], o->s[1], vp)
                      : cairn_cell_cas_tx(t, run, o->s[0], (uint64_t)o->i[0], o->s[1], vp);
        break;
    case 2:
        st = implicit ? cairn_cell_set(db, run, o->s[0], o->s[1], vp)
                      : cairn_cell_set_tx(t, run, o->s[0], o->s[1], vp);
        break;
    default:
        st = implicit ? cairn_cell_delete(db, run, o->s[0], o->nulls & N_OUT ? NULL : &ex)
                      : cairn_cell_delete_tx(t, run, o->s[0], o->nulls & N_OUT ? NULL : &ex);
        break;
    }
    ts_status(ts, st);
    if (o->sub == 3) {
        if (st == CAIRN_OK && !(o->nulls & N_OUT))
            ts_int(ts, "existed", ex);
        return;
    }
    bool out = o->sub == 1 ? st == CAIRN_OK || st == CAIRN_VERSION_MISMATCH || st == CAIRN_NOT_FOUND
                           : o->sub == 2 && st == CAIRN_OK;
    if (out && vp)
        ts_int(ts, "version", ver);
}

/*
 * The transition functions (ctx: what to do, a pointer to an int):
 * 0 append 'x', 1 an empty value, 2 CAIRN_DONE, 3 fail with
 * CAIRN_EXISTS, 4 a value past the cell limit, 5 answer CAIRN_CONFLICT.
 * Every answer but 1 allocates a new value, which the library frees.
 */
static cairn_status cell_fn(void *ctx, cairn_slice cur, cairn_bytes *nv)
{
    int what = *(const int *)ctx;
    if (nv->data != NULL || nv->len != 0)
        fail("a transition function got a non-empty new_value");
    if (what == 1)
        return CAIRN_OK;
    size_t len = what == 4 ? CELL_MAX + 1 : cur.len + 1;
    nv->data = malloc(len);
    if (nv->data == NULL)
        abort();
    if (what == 4)
        memset(nv->data, 'z', len);
    else {
        if (cur.len)
            memcpy(nv->data, cur.data, cur.len);
        nv->data[cur.len] = 'x';
    }
    nv->len = len;
    switch (what) {
    case 2: return CAIRN_DONE;
    case 3: return CAIRN_EXISTS;
    case 5: return CAIRN_CONFLICT;
    default: return CAIRN_OK;
    }
}

/* sub 0: transition, 1: transition_or_init */
static void m_cell_transition(mctx *m, const op *o)
{
    bool init = o->sub == 1;
    cairn_status fst = CAIRN_OK, st;
    uint64_t ver = 0;
    bool ver_out = false;
    if (m_gate(m) || m_cell_key(m, o) || m_writable(m, o->run))
        goto fn_status;
    if (o->nulls & N_FN) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        goto fn_status;
    }
    if (init && (st = cell_value_status(o->s[2])) != CAIRN_OK) {
        emit(m, st);
        goto fn_status;
    }
    dom_run(&m->rd, o->run, D_CELL);
    cell_ent *c = cell_find(&run_data(m, o->run)->cells, o->s[0], NULL);
    if (c == NULL && !init) {
        emit(m, CAIRN_NOT_FOUND);
        goto fn_status;
    }
    cairn_slice cur = c ? sl_mb(c->val) : o->s[2];
    uint64_t cur_ver = c ? c->ver : 0;
    int what = (int)o->i[1];
    fst = what == 2 ? CAIRN_DONE : what == 3 ? CAIRN_EXISTS : what == 5 ? CAIRN_CONFLICT : CAIRN_OK;
    if (fst == CAIRN_DONE) {
        emit(m, CAIRN_DONE);
        ver = cur_ver;
        ver_out = true;
        goto fn_status;
    }
    if (fst != CAIRN_OK) {
        emit(m, fst);
        goto fn_status;
    }
    size_t new_len = what == 4 ? (size_t)CELL_MAX + 1 : what == 1 ? 0 : cur.len + 1;
    if (new_len > CELL_MAX) {
        emit(m, CAIRN_TOO_LARGE);
        goto fn_status;
    }
    if (m_ro(m))
        goto fn_status;
    mbuf nv = {NULL, 0};
    if (what == 0) {
        nv.n = cur.len + 1;
        nv.p = malloc(nv.n);
        if (nv.p == NULL)
            abort();
        if (cur.len)
            memcpy(nv.p, cur.data, cur.len);
        nv.p[cur.len] = 'x';
    }
    cell_write(m, o->run, o->s[0], sl_mb(nv), cur_ver + 1);
    mb_free(&nv);
    emit(m, CAIRN_OK);
    ver = cur_ver + 1;
    ver_out = true;
fn_status:
    if (!(o->nulls & N_OUT2))
        ts_int(m->out, "fn_status", fst);
    if (ver_out && !(o->nulls & N_OUT))
        ts_int(m->out, "version", ver);
}

static void a_cell_transition(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    uint64_t ver = 0xDEADBEEF;
    cairn_status fst = (cairn_status)-1;
    uint64_t *vp = o->nulls & N_OUT ? NULL : &ver;
    cairn_status *fp = o->nulls & N_OUT2 ? NULL : &fst;
    cairn_cell_fn fn = o->nulls & N_FN ? NULL : cell_fn;
    int what = (int)o->i[1];
    cairn_status st;
    if (o->sub == 0)
        st = implicit ? cairn_cell_transition(db, run, o->s[0], fn, &what, vp, fp)
                      : cairn_cell_transition_tx(t, run, o->s[0], fn, &what, vp, fp);
    else
        st = implicit ? cairn_cell_transition_or_init(db, run, o->s[0], o->s[2], fn, &what, vp, fp)
                      : cairn_cell_transition_or_init_tx(t, run, o->s[0], o->s[2], fn, &what, vp, fp);
    ts_status(ts, st);
    if (fp) /* both forms always set it: CAIRN_OK until fn ran */
        ts_int(ts, "fn_status", fst);
    if ((st == CAIRN_OK || st == CAIRN_DONE) && vp)
        ts_int(ts, "version", ver);
}

/* ---- TraceStore ---------------------------------------------------------------------------------------- */

static void ts_trace(tscript *t, cairn_slice id, cairn_slice parent, int type, int status, cairn_slice name,
                     int64_t start, int64_t end, size_t ntags, const cairn_slice *tags, cairn_slice payload)
{
    ts_sl(t, "id", id);
    ts_sl(t, "parent_id", parent);
    ts_int(t, "type", (uint64_t)type);
    ts_int(t, "trace_status", (uint64_t)status);
    ts_sl(t, "name", name);
    ts_int(t, "start", (uint64_t)start);
    ts_int(t, "end", (uint64_t)end);
    ts_int(t, "ntags", ntags);
    for (size_t i = 0; i < ntags; i++)
        ts_sl(t, "tag", tags[i]);
    ts_sl(t, "payload", payload);
}

static void ts_trace_ent(tscript *t, const tr_ent *e)
{
    cairn_slice tags[MAX_TAGS];
    for (size_t i = 0; i < e->ntags; i++)
        tags[i] = sl_mb(e->tags[i]);
    ts_trace(t, sl_mb(e->id), sl_mb(e->parent), e->type, e->status, sl_mb(e->name), e->start, e->end,
             e->ntags, tags, sl_mb(e->payload));
}

static void ts_trace_view(tscript *t, const cairn_trace_view *v)
{
    ts_trace(t, v->id, v->parent_id, v->type, v->status, v->name, v->start_us, v->end_us, v->ntags,
             v->tags, v->payload);
}

static tr_ent *trace_find(vec *trs, cairn_slice id)
{
    for (size_t i = 0; i < trs->n; i++)
        if (mb_eq(VAT(*trs, tr_ent, i)->id, id))
            return VAT(*trs, tr_ent, i);
    return NULL;
}

/* Query order: start time, then id length, then id bytes. */
static int trace_order(int64_t sa, const void *a, size_t an, int64_t sb, const void *b, size_t bn)
{
    if (sa != sb)
        return (uint64_t)sa < (uint64_t)sb ? -1 : 1;
    if (an != bn)
        return an < bn ? -1 : 1;
    return an ? memcmp(a, b, an) : 0;
}

static cairn_status id_status(cairn_slice id)
{
    if (id.data == NULL && id.len)
        return CAIRN_INVALID_ARGUMENT;
    if (id.len == 0)
        return CAIRN_INVALID_ARGUMENT;
    return id.len > CAIRN_TRACE_ID_MAX ? CAIRN_TOO_LARGE : CAIRN_OK;
}

/* An id argument: generated bytes, or an id of a trace the view holds. */
static cairn_slice gen_trace_id(reader *r, mstate *v, int run)
{
    uint8_t b = rd_u8(r);
    if (run >= 0 && v->run[run].traces.n && b % 3) {
        const tr_ent *t = VAT(v->run[run].traces, tr_ent, (b / 3) % v->run[run].traces.n);
        return cairn_slice_of(keep(t->id.p, t->id.n), t->id.n);
    }
    return gen_bytes(r, CAIRN_TRACE_ID_MAX);
}

static void d_tr_record(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    o->s[0] = gen_trace_id(r, v, o->run);
    o->s[1] = rd_u8(r) % 4 == 0 ? cairn_slice_of(NULL, 0) : gen_trace_id(r, v, o->run);
    uint8_t t = rd_u8(r);
    o->i[0] = t % 16 == 0 ? 0 : t % 16 == 1 ? 7 : 1 + t % 6;
    o->s[2] = rd_u8(r) % 2 ? cairn_slice_of(NULL, 0) : gen_bytes(r, CAIRN_TRACE_NAME_MAX);
    switch (rd_u8(r) % 8) {
    case 0: o->i[1] = 1 + rd_u8(r); break;
    case 1: o->i[1] = -1; break;
    case 2: o->i[1] = clock_now() + (int64_t)rd_u8(r) * 1000 - 128000; break;
    default: o->i[1] = 0; break;
    }
    gen_tags(r, &o->tags, &o->ntags);
    size_t used = 27 + (o->s[0].len > 16 ? o->s[0].len : 16) + o->s[1].len + o->s[2].len;
    if (o->tags)
        for (size_t i = 0; i < o->ntags; i++)
            used += 1 + o->tags[i].len;
    o->s[3] = gen_value(r, used < MAX_VALUE ? MAX_VALUE - used : 8);
    o->nulls = rd_nulls(r, N_SPEC);
}

static cairn_status spec_status(const op *o)
{
    if (o->nulls & N_SPEC)
        return CAIRN_INVALID_ARGUMENT;
    if (o->i[0] < CAIRN_TRACE_TOOL_CALL || o->i[0] > CAIRN_TRACE_CUSTOM || o->i[1] < 0)
        return CAIRN_INVALID_ARGUMENT;
    cairn_slice name = o->s[2], payload = o->s[3];
    if (name.data == NULL && name.len)
        return CAIRN_INVALID_ARGUMENT;
    if (name.len > CAIRN_TRACE_NAME_MAX)
        return CAIRN_TOO_LARGE;
    if (payload.data == NULL && payload.len)
        return CAIRN_INVALID_ARGUMENT;
    if (o->ntags > MAX_TAGS)
        return CAIRN_TOO_LARGE;
    if (o->ntags && o->tags == NULL)
        return CAIRN_INVALID_ARGUMENT;
    for (size_t i = 0; i < o->ntags; i++) {
        cairn_slice t = o->tags[i];
        if ((t.data == NULL && t.len) || t.len == 0)
            return CAIRN_INVALID_ARGUMENT;
        if (t.len > CAIRN_TRACE_TAG_MAX)
            return CAIRN_TOO_LARGE;
        for (size_t j = 0; j < i; j++)
            if (beq(t.data, t.len, o->tags[j].data, o->tags[j].len))
                return CAIRN_INVALID_ARGUMENT;
    }
    return CAIRN_OK;
}

/* sub 0: record (a generated id), 1: record_child, 2: record_id */
static void m_tr_record(mctx *m, const op *o)
{
    cairn_slice id = o->sub == 2 ? o->s[0] : cairn_slice_of(o->gen.bytes, CAIRN_TRACE_AUTO_ID_SIZE);
    cairn_slice parent = o->sub == 0 ? cairn_slice_of(NULL, 0) : o->s[1];
    cairn_status st;
    if (m_gate(m))
        return;
    if ((o->sub == 1 && (st = id_status(parent)) != CAIRN_OK) ||
        (o->sub == 2 && (st = id_status(id)) != CAIRN_OK)) {
        emit(m, st);
        return;
    }
    if (m_run(m, o->run) || m_writable(m, o->run))
        return;
    if ((st = spec_status(o)) != CAIRN_OK ||
        (parent.len && (st = id_status(parent)) != CAIRN_OK)) {
        emit(m, st);
        return;
    }
    size_t size = 27 + id.len + parent.len + o->s[2].len + o->s[3].len;
    for (size_t i = 0; i < o->ntags; i++)
        size += 1 + o->tags[i].len;
    if (size > MAX_VALUE) {
        emit(m, CAIRN_TOO_LARGE);
        return;
    }
    dom_run(&m->rd, o->run, D_TR);
    vec *trs = &run_data(m, o->run)->traces;
    if (parent.len && trace_find(trs, parent) == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    if (trace_find(trs, id)) {
        emit(m, CAIRN_EXISTS);
        return;
    }
    if (m_ro(m))
        return;
    tr_ent *t = vec_push(trs, sizeof *t);
    t->id = mb_sl(id);
    t->parent = mb_sl(parent);
    t->name = mb_sl(o->s[2]);
    t->payload = mb_sl(o->s[3]);
    t->type = (int)o->i[0];
    t->status = CAIRN_TRACE_UNFINISHED;
    t->start = o->i[1] ? o->i[1] : m->now;
    t->end = 0;
    t->ntags = o->ntags;
    for (size_t i = 0; i < o->ntags; i++)
        t->tags[i] = mb_sl(o->tags[i]);
    dom_run(&m->wr, o->run, D_TR);
    m->wrote = true;
    emit(m, CAIRN_OK);
    if (o->sub != 2)
        ts_sl(m->out, "id", id);
}

static void a_tr_record(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_trace_spec spec;
    cairn_trace_spec_init(&spec);
    spec.type = (cairn_trace_type)o->i[0];
    spec.name = o->s[2];
    spec.start_us = o->i[1];
    spec.tags = o->tags;
    spec.ntags = o->ntags;
    spec.payload = o->s[3];
    const cairn_trace_spec *sp = o->nulls & N_SPEC ? NULL : &spec;
    cairn_trace_id id;
    memset(&id, 0, sizeof id);
    cairn_status st;
    switch (o->sub) {
    case 0:
        st = implicit ? cairn_trace_record(db, run, sp, &id) : cairn_trace_record_tx(t, run, sp, &id);
        break;
    case 1:
        st = implicit ? cairn_trace_record_child(db, run, o->s[1], sp, &id)
                      : cairn_trace_record_child_tx(t, run, o->s[1], sp, &id);
        break;
    default:
        st = implicit ? cairn_trace_record_id(db, run, o->s[0], o->s[1], sp)
                      : cairn_trace_record_id_tx(t, run, o->s[0], o->s[1], sp);
        break;
    }
    ts_status(ts, st);
    if (st == CAIRN_OK && o->sub != 2) {
        if (id.len != CAIRN_TRACE_AUTO_ID_SIZE)
            fail("a generated trace id is %u bytes", id.len);
        memcpy(o->gen.bytes, id.bytes, CAIRN_TRACE_AUTO_ID_SIZE);
        o->have_gen = true;
        check_generated(&o->gen);
        ts_bytes(ts, "id", id.bytes, id.len);
    }
}

static void d_tr_finish(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    o->s[0] = gen_trace_id(r, v, o->run);
    uint8_t b = rd_u8(r);
    o->i[0] = b % 8 == 0 ? b / 8 % 5 - 1 : 1 + b % 2;
    const tr_ent *t = o->run >= 0 ? trace_find(&v->run[o->run].traces, o->s[0]) : NULL;
    int64_t start = t ? t->start : clock_now();
    switch (rd_u8(r) % 8) {
    case 0: o->i[1] = start - 1; break;
    case 1: o->i[1] = start + rd_u8(r); break;
    case 2: o->i[1] = -5; break;
    case 3: o->i[1] = start; break;
    default: o->i[1] = 0; break;
    }
}

static void m_tr_finish(mctx *m, const op *o)
{
    cairn_status st;
    if (m_gate(m) || m_run(m, o->run) || m_writable(m, o->run))
        return;
    if ((st = id_status(o->s[0])) != CAIRN_OK) {
        emit(m, st);
        return;
    }
    if ((o->i[0] != CAIRN_TRACE_OK && o->i[0] != CAIRN_TRACE_FAILED) || o->i[1] < 0) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_TR);
    tr_ent *t = trace_find(&run_data(m, o->run)->traces, o->s[0]);
    if (t == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    if (t->status != CAIRN_TRACE_UNFINISHED) {
        emit(m, CAIRN_INVALID_TRANSITION);
        return;
    }
    int64_t end = o->i[1] ? o->i[1] : m->now;
    if (end < t->start) {
        if (o->i[1]) {
            emit(m, CAIRN_INVALID_ARGUMENT);
            return;
        }
        end = t->start;
    }
    if (m_ro(m))
        return;
    t->status = (int)o->i[0];
    t->end = end;
    dom_run(&m->wr, o->run, D_TR);
    m->wrote = true;
    emit(m, CAIRN_OK);
}

static void a_tr_finish(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_trace_status s = (cairn_trace_status)o->i[0];
    ts_status(ts, implicit ? cairn_trace_finish(db, run, o->s[0], s, o->i[1])
                           : cairn_trace_finish_tx(t, run, o->s[0], s, o->i[1]));
}

static void d_tr_get(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    o->s[0] = gen_trace_id(r, v, o->run);
    o->i[0] = rd_u8(r) % 5;          /* tree: max_depth */
    o->i[1] = rd_u8(r) % 7;          /* tree: max_nodes */
    if (o->i[1] == 6)
        o->i[1] = 1000;
    o->nulls = rd_nulls(r, N_OUT);
}

/* sub 0: get, 1: get_tree, 2: check */
static void m_tr_get(mctx *m, const op *o)
{
    cairn_status st;
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m) || m_run(m, o->run))
        return;
    if (o->sub == 0 && (st = id_status(o->s[0])) != CAIRN_OK) {
        emit(m, st);
        return;
    }
    if (o->nulls & N_OUT) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if (o->sub == 1 && (st = id_status(o->s[0])) != CAIRN_OK) {
        emit(m, st);
        return;
    }
    if (o->sub == 1 && o->i[1] == 0) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_TR);
    vec *trs = &run_data(m, o->run)->traces;
    if (o->sub == 2) {
        uint64_t entries = 0;
        for (size_t i = 0; i < trs->n; i++)
            entries += 3 + VAT(*trs, tr_ent, i)->ntags;
        emit(m, CAIRN_OK);
        ts_int(m->out, "ok", 1);
        ts_int(m->out, "traces", trs->n);
        ts_int(m->out, "entries", entries);
        ts_int(m->out, "bad_id", 0);
        ts_int(m->out, "why", 0);
        return;
    }
    tr_ent *root = trace_find(trs, o->s[0]);
    if (root == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    if (o->sub == 0) {
        emit(m, CAIRN_OK);
        ts_trace_ent(m->out, root);
        return;
    }
    /* breadth first, siblings in query order */
    size_t n = 1, cap = trs->n + 1;
    const tr_ent **nodes = malloc(cap * sizeof *nodes);
    size_t *parent = malloc(cap * sizeof *parent);
    uint32_t *depth = malloc(cap * sizeof *depth);
    if (nodes == NULL || parent == NULL || depth == NULL)
        abort();
    nodes[0] = root;
    parent[0] = SIZE_MAX;
    depth[0] = 0;
    bool limit = false;
    for (size_t i = 0; i < n && !limit; i++) {
        const tr_ent *prev = NULL;
        for (;;) {
            const tr_ent *best = NULL;
            for (size_t j = 0; j < trs->n; j++) {
                const tr_ent *c = VAT(*trs, tr_ent, j);
                if (!beq(c->parent.p, c->parent.n, nodes[i]->id.p, nodes[i]->id.n))
                    continue;
                if (prev && trace_order(c->start, c->id.p, c->id.n, prev->start, prev->id.p, prev->id.n) <= 0)
                    continue;
                if (best == NULL ||
                    trace_order(c->start, c->id.p, c->id.n, best->start, best->id.p, best->id.n) < 0)
                    best = c;
            }
            if (best == NULL)
                break;
            if (depth[i] + 1 > (uint64_t)o->i[0] || n >= (size_t)o->i[1] || n >= cap) {
                limit = true;
                break;
            }
            nodes[n] = best;
            parent[n] = i;
            depth[n] = depth[i] + 1;
            n++;
            prev = best;
        }
    }
    if (limit) {
        emit(m, CAIRN_LIMIT);
    } else {
        emit(m, CAIRN_OK);
        ts_int(m->out, "n", n);
        for (size_t i = 0; i < n; i++) {
            ts_trace_ent(m->out, nodes[i]);
            ts_int(m->out, "parent", parent[i]);
            ts_int(m->out, "depth", depth[i]);
        }
    }
    free(nodes);
    free(parent);
    free(depth);
}

static void a_tr_get(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    bool null = o->nulls & N_OUT;
    cairn_status st;
    if (o->sub == 0) {
        if (implicit) {
            cairn_trace tr;
            memset(&tr, 0, sizeof tr);
            st = cairn_trace_get(db, run, o->s[0], null ? NULL : &tr);
            ts_status(ts, st);
            if (st == CAIRN_OK)
                ts_trace_view(ts, &tr.v);
            cairn_trace_free(&tr);
        } else {
            cairn_trace_view v;
            st = cairn_trace_get_tx(t, run, o->s[0], null ? NULL : &v);
            ts_status(ts, st);
            if (st == CAIRN_OK)
                ts_trace_view(ts, &v);
        }
        return;
    }
    if (o->sub == 2) {
        cairn_trace_report rep;
        st = implicit ? cairn_trace_check(db, run, null ? NULL : &rep)
                      : cairn_trace_check_tx(t, run, null ? NULL : &rep);
        ts_status(ts, st);
        if (st == CAIRN_OK) {
            ts_int(ts, "ok", rep.ok);
            ts_int(ts, "traces", rep.traces);
            ts_int(ts, "entries", rep.entries);
            ts_int(ts, "bad_id", rep.bad_id.len);
            ts_int(ts, "why", rep.why[0] != '\0');
        }
        return;
    }
    cairn_trace_tree tree;
    memset(&tree, 0, sizeof tree);
    uint32_t depth = (uint32_t)o->i[0];
    size_t nodes = (size_t)o->i[1];
    st = implicit ? cairn_trace_get_tree(db, run, o->s[0], depth, nodes, null ? NULL : &tree)
                  : cairn_trace_get_tree_tx(t, run, o->s[0], depth, nodes, null ? NULL : &tree);
    ts_status(ts, st);
    if (st == CAIRN_OK) {
        ts_int(ts, "n", tree.n);
        for (size_t i = 0; i < tree.n; i++) {
            ts_trace_view(ts, &tree.nodes[i]);
            ts_int(ts, "parent", tree.parent[i]);
            ts_int(ts, "depth", tree.depth[i]);
        }
    }
    cairn_trace_tree_free(&tree);
}

static void d_cursor(reader *r, op *o, int64_t start, cairn_slice id, size_t idmax)
{
    uint8_t b = rd_u8(r);
    o->cmode = b % 8 < 4 ? 0 : b % 8 == 4 ? 1 : b % 8 == 7 ? 3 : 2;
    o->cstart = start;
    o->cid = id;
    if (o->cmode == 3) {
        switch (rd_u8(r) % 3) {
        case 0: o->cstart = -1; break;
        case 1: o->cid = cairn_slice_of(g_big, 0); break;
        default: o->cid = cairn_slice_of(g_big, idmax + 1); break;
        }
    }
}

static void d_tr_query(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    uint8_t t = rd_u8(r);
    o->i[0] = t % 16 == 0 ? 0 : t % 16 == 1 ? 7 : 1 + t % 6;
    o->s[0] = rd_u8(r) % 2 ? g_tag_pool[rd_u8(r) % 5] : gen_bytes(r, CAIRN_TRACE_TAG_MAX);
    int64_t now = clock_now();
    switch (rd_u8(r) % 4) {
    case 0: o->i[1] = 0; o->i[2] = INT64_MAX; break;
    case 1: o->i[1] = -1; o->i[2] = 5; break;
    case 2: o->i[1] = now - 1000000; o->i[2] = now - (int64_t)rd_u8(r) * 10000; break;
    default: o->i[1] = rd_u8(r); o->i[2] = rd_u8(r); break;
    }
    o->s[1] = gen_trace_id(r, v, o->run);
    /* a cursor at an existing trace, or somewhere made up */
    int64_t cs = 0;
    cairn_slice cid = o->s[1];
    if (o->run >= 0 && v->run[o->run].traces.n) {
        const tr_ent *c = VAT(v->run[o->run].traces, tr_ent, rd_u8(r) % v->run[o->run].traces.n);
        cs = c->start;
        cid = cairn_slice_of(keep(c->id.p, c->id.n), c->id.n);
    } else {
        cs = now;
    }
    if (cid.len > CAIRN_TRACE_ID_MAX || cid.data == NULL)
        cid = g_pool[0];
    d_cursor(r, o, cs, cid, CAIRN_TRACE_ID_MAX);
    o->i[3] = (int64_t)gen_limit(r, CAIRN_TRACE_LIMIT_MAX);
    o->nulls = rd_nulls(r, N_OUT);
}

static bool trace_matches(const op *o, const tr_ent *t)
{
    switch (o->sub) {
    case 0: return t->type == o->i[0];
    case 1:
        for (size_t i = 0; i < t->ntags; i++)
            if (mb_eq(t->tags[i], o->s[0]))
                return true;
        return false;
    case 2: return t->start >= o->i[1] && t->start < o->i[2];
    case 3: return mb_eq(t->parent, o->s[1]);
    default: return t->parent.n == 0;
    }
}

/* sub 0: by_type, 1: by_tag, 2: by_time, 3: children, 4: roots */
static void m_tr_query(mctx *m, const op *o)
{
    cairn_status st;
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m) || m_run(m, o->run))
        return;
    size_t limit = (size_t)o->i[3];
    if ((o->nulls & N_OUT) || limit == 0 || limit > CAIRN_TRACE_LIMIT_MAX ||
        (o->cmode >= 2 && (o->cid.len == 0 || o->cid.len > CAIRN_TRACE_ID_MAX || o->cstart < 0))) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if ((o->sub == 0 && (o->i[0] < 1 || o->i[0] > 6)) || (o->sub == 2 && (o->i[1] < 0 || o->i[2] < 0))) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if (o->sub == 1 && m_bytes(m, o->s[0], 1, CAIRN_TRACE_TAG_MAX))
        return;
    if (o->sub == 3 && (st = id_status(o->s[1])) != CAIRN_OK) {
        emit(m, st);
        return;
    }
    dom_run(&m->rd, o->run, D_TR);
    vec *trs = &run_data(m, o->run)->traces;
    if (o->sub == 3 && trace_find(trs, o->s[1]) == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    emit(m, CAIRN_OK);
    size_t n = 0;
    bool more = false;
    const tr_ent *prev = NULL;
    bool empty = o->sub == 2 && o->i[2] <= o->i[1];
    while (!empty) {
        const tr_ent *best = NULL;
        for (size_t j = 0; j < trs->n; j++) {
            const tr_ent *c = VAT(*trs, tr_ent, j);
            if (!trace_matches(o, c))
                continue;
            if (o->cmode == 2 &&
                trace_order(c->start, c->id.p, c->id.n, o->cstart, o->cid.data, o->cid.len) <= 0)
                continue;
            if (prev && trace_order(c->start, c->id.p, c->id.n, prev->start, prev->id.p, prev->id.n) <= 0)
                continue;
            if (best == NULL || trace_order(c->start, c->id.p, c->id.n, best->start, best->id.p, best->id.n) < 0)
                best = c;
        }
        if (best == NULL)
            break;
        if (n == limit) {
            more = true;
            break;
        }
        ts_trace_ent(m->out, best);
        prev = best;
        n++;
    }
    ts_int(m->out, "n", n);
    ts_int(m->out, "more", more);
    ts_int(m->out, "next.set", prev != NULL);
    ts_int(m->out, "next.start", prev ? (uint64_t)prev->start : 0);
    ts_bytes(m->out, "next.id", prev ? prev->id.p : NULL, prev ? prev->id.n : 0);
}

static void a_tr_query(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_trace_cursor cur;
    memset(&cur, 0, sizeof cur);
    if (o->cmode >= 2) {
        cur.set = true;
        cur.start_us = o->cstart;
        cur.id.len = (uint8_t)(o->cid.len > 255 ? 255 : o->cid.len);
        memcpy(cur.id.bytes, o->cid.data, o->cid.len < CAIRN_TRACE_ID_MAX ? o->cid.len : CAIRN_TRACE_ID_MAX);
    }
    const cairn_trace_cursor *cp = o->cmode == 0 ? NULL : &cur;
    cairn_trace_list l;
    cairn_trace_list *lp = o->nulls & N_OUT ? NULL : &l;
    size_t limit = (size_t)o->i[3];
    cairn_status st;
    switch (o->sub) {
    case 0:
        st = implicit ? cairn_trace_by_type(db, run, (cairn_trace_type)o->i[0], cp, limit, lp)
                      : cairn_trace_by_type_tx(t, run, (cairn_trace_type)o->i[0], cp, limit, lp);
        break;
    case 1:
        st = implicit ? cairn_trace_by_tag(db, run, o->s[0], cp, limit, lp)
                      : cairn_trace_by_tag_tx(t, run, o->s[0], cp, limit, lp);
        break;
    case 2:
        st = implicit ? cairn_trace_by_time(db, run, o->i[1], o->i[2], cp, limit, lp)
                      : cairn_trace_by_time_tx(t, run, o->i[1], o->i[2], cp, limit, lp);
        break;
    case 3:
        st = implicit ? cairn_trace_children(db, run, o->s[1], cp, limit, lp)
                      : cairn_trace_children_tx(t, run, o->s[1], cp, limit, lp);
        break;
    default:
        st = implicit ? cairn_trace_roots(db, run, cp, limit, lp) : cairn_trace_roots_tx(t, run, cp, limit, lp);
        break;
    }
    ts_status(ts, st);
    if (st != CAIRN_OK)
        return;
    for (size_t i = 0; i < l.n; i++)
        ts_trace_view(ts, &l.items[i]);
    ts_int(ts, "n", l.n);
    ts_int(ts, "more", l.more);
    ts_int(ts, "next.set", l.next.set);
    ts_int(ts, "next.start", (uint64_t)l.next.start_us);
    ts_bytes(ts, "next.id", l.next.id.bytes, l.next.set ? l.next.id.len : 0);
    cairn_trace_list_free(&l);
}

/* ---- RunIndex -------------------------------------------------------------------------------------------- */

static bool transition_ok(int from, int to)
{
    if (from < 1 || from > 6 || to < 1 || to > 6 || from == to)
        return false;
    switch (from) {
    case CAIRN_RUN_ACTIVE: return true;
    case CAIRN_RUN_PAUSED: return to == CAIRN_RUN_ACTIVE || to == CAIRN_RUN_CANCELLED || to == CAIRN_RUN_ARCHIVED;
    case CAIRN_RUN_ARCHIVED: return false;
    default: return to == CAIRN_RUN_ARCHIVED;
    }
}

static void ts_run(tscript *t, const cairn_run_id *id, int status, bool has_parent, const cairn_run_id *parent,
                   int64_t created, int64_t updated, int64_t finished, cairn_slice name, size_t ntags,
                   const cairn_slice *tags, cairn_slice meta, cairn_slice error)
{
    ts_bytes(t, "run id", id->bytes, CAIRN_RUN_ID_SIZE);
    ts_int(t, "run_status", (uint64_t)status);
    ts_int(t, "has_parent", has_parent);
    ts_bytes(t, "parent", parent->bytes, CAIRN_RUN_ID_SIZE);
    ts_int(t, "created", (uint64_t)created);
    ts_int(t, "updated", (uint64_t)updated);
    ts_int(t, "finished", (uint64_t)finished);
    ts_sl(t, "name", name);
    ts_int(t, "ntags", ntags);
    for (size_t i = 0; i < ntags; i++)
        ts_sl(t, "tag", tags[i]);
    ts_sl(t, "metadata", meta);
    ts_sl(t, "error", error);
}

static void ts_rec(tscript *t, const runrec *r)
{
    cairn_slice tags[MAX_TAGS];
    for (size_t i = 0; i < r->ntags; i++)
        tags[i] = sl_mb(r->tags[i]);
    ts_run(t, &g.ids[r->slot], r->status, r->parent >= 0, r->parent >= 0 ? &g.ids[r->parent] : &g_zero_id,
           r->created, r->updated, r->finished, sl_mb(r->name), r->ntags, tags, sl_mb(r->meta),
           sl_mb(r->error));
}

static void ts_run_view(tscript *t, const cairn_run_view *v)
{
    ts_run(t, &v->id, v->status, v->has_parent, &v->parent, v->created_us, v->updated_us, v->finished_us,
           v->name, v->ntags, v->tags, v->metadata, v->error);
}

/* The stored size of a run record (docs/FORMAT.md). */
static size_t rec_size(size_t name, size_t error, size_t meta, size_t ntags, const mbuf *tags,
                       const cairn_slice *stags)
{
    size_t n = 67 + name + error + meta;
    for (size_t i = 0; i < ntags; i++)
        n += 1 + (tags ? tags[i].n : stags[i].len);
    return n;
}

/* check_id(): a usable transaction (done), then a non-NULL, non-zero id. */
static bool m_run_id(mctx *m, int run)
{
    return run < 0 ? emit(m, CAIRN_INVALID_ARGUMENT) : false;
}

static cairn_slice gen_run_name(reader *r, mstate *v)
{
    uint8_t b = rd_u8(r);
    if (b % 4 == 0 && v->recs.n) {
        const runrec *rec = VAT(v->recs, runrec, (b / 4) % v->recs.n);
        if (rec->name.n)
            return cairn_slice_of(keep(rec->name.p, rec->name.n), rec->name.n);
    }
    if (b % 4 == 1)
        return cairn_slice_of(NULL, 0);
    return gen_bytes(r, CAIRN_RUN_NAME_MAX);
}

static void d_run_create(reader *r, op *o, mstate *v)
{
    if (g.nruns >= MAX_RUNS) {
        o->kind = -1; /* no room for another run id: skip */
        return;
    }
    o->s[0] = gen_run_name(r, v);
    o->run2 = rd_u8(r) % 3 ? RUN_NULL : rd_run(r, false);
    gen_tags(r, &o->tags, &o->ntags);
    size_t used = rec_size(o->s[0].len, 0, 0, o->tags ? o->ntags : 0, NULL, o->tags);
    o->s[1] = gen_value(r, used < MAX_VALUE ? MAX_VALUE - used : 8);
    o->nulls = rd_nulls(r, N_SPEC);
}

static bool name_taken(mstate *s, cairn_slice name)
{
    for (size_t i = 0; i < s->recs.n; i++)
        if (mb_eq(VAT(s->recs, runrec, i)->name, name))
            return true;
    return false;
}

static void m_run_create(mctx *m, const op *o)
{
    if (m_gate(m))
        return;
    bool def = o->nulls & N_SPEC;
    cairn_slice name = def ? cairn_slice_of(NULL, 0) : o->s[0];
    cairn_slice meta = def ? cairn_slice_of(NULL, 0) : o->s[1];
    int parent = def ? RUN_NULL : o->run2;
    size_t ntags = def ? 0 : o->ntags;
    const cairn_slice *tags = def ? NULL : o->tags;
    if (m_bytes(m, name, 0, CAIRN_RUN_NAME_MAX) || m_bytes(m, meta, 0, UINT32_MAX))
        return;
    if (parent == RUN_ZERO) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if (ntags > MAX_TAGS) {
        emit(m, CAIRN_TOO_LARGE);
        return;
    }
    if (ntags && tags == NULL) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    for (size_t i = 0; i < ntags; i++) {
        if (m_bytes(m, tags[i], 1, CAIRN_RUN_TAG_MAX))
            return;
        for (size_t j = 0; j < i; j++)
            if (beq(tags[i].data, tags[i].len, tags[j].data, tags[j].len)) {
                emit(m, CAIRN_INVALID_ARGUMENT);
                return;
            }
    }
    if (parent >= 0) {
        dom_run(&m->rd, parent, D_REC);
        if (find_rec(m->s, parent) == NULL) {
            emit(m, CAIRN_NOT_FOUND);
            return;
        }
    }
    dom_set(&m->rd, DOM_RI);
    if (name.len && name_taken(m->s, name)) {
        emit(m, CAIRN_EXISTS);
        return;
    }
    if (rec_size(name.len, 0, meta.len, ntags, NULL, tags) > MAX_VALUE) {
        emit(m, CAIRN_TOO_LARGE);
        return;
    }
    if (m_ro(m))
        return;
    int slot = o->have_gen ? run_slot_of(&o->gen) : -1;
    if (slot < 0)
        fail("a run the model expects was not created");
    runrec *rec = vec_push(&m->s->recs, sizeof *rec);
    rec->slot = slot;
    rec->status = CAIRN_RUN_ACTIVE;
    rec->parent = parent;
    rec->created = rec->updated = m->now;
    rec->name = mb_sl(name);
    rec->meta = mb_sl(meta);
    rec->error = mb_of(NULL, 0);
    rec->ntags = ntags;
    for (size_t i = 0; i < ntags; i++)
        rec->tags[i] = mb_sl(tags[i]);
    dom_run(&m->wr, slot, D_REC);
    dom_set(&m->wr, DOM_RI);
    m->wrote = true;
    emit(m, CAIRN_OK);
    ts_bytes(m->out, "run id", g.ids[slot].bytes, CAIRN_RUN_ID_SIZE);
}

static void a_run_create(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_spec spec;
    cairn_run_spec_init(&spec);
    cairn_run_id ptmp;
    spec.name = o->s[0];
    spec.parent = run_ptr(o->run2, &ptmp);
    spec.tags = o->tags;
    spec.ntags = o->ntags;
    spec.metadata = o->s[1];
    const cairn_run_spec *sp = o->nulls & N_SPEC ? NULL : &spec;
    cairn_run_id id;
    cairn_status st = implicit ? cairn_run_create(db, sp, &id) : cairn_run_create_tx(t, sp, &id);
    ts_status(ts, st);
    if (st != CAIRN_OK)
        return;
    check_generated(&id);
    o->gen = id;
    o->have_gen = true;
    if (run_slot_of(&id) < 0)
        g.ids[g.nruns++] = id; /* room was checked when decoding */
    ts_bytes(ts, "run id", id.bytes, CAIRN_RUN_ID_SIZE);
}

static void d_run_get(reader *r, op *o, mstate *v)
{
    o->run = rd_run(r, false);
    o->s[0] = gen_run_name(r, v);
    o->nulls = rd_nulls(r, N_OUT);
}

/* sub 0: get, 1: get_by_name */
static void m_run_get(mctx *m, const op *o)
{
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m))
        return;
    const runrec *rec = NULL;
    if (o->sub == 0) {
        if (m_run_id(m, o->run))
            return;
        if (o->nulls & N_OUT) {
            emit(m, CAIRN_INVALID_ARGUMENT);
            return;
        }
        dom_run(&m->rd, o->run, D_REC);
        rec = find_rec(m->s, o->run);
    } else {
        if (m_bytes(m, o->s[0], 1, CAIRN_RUN_NAME_MAX))
            return;
        dom_set(&m->rd, DOM_RI);
        dom_all_recs(&m->rd);
        for (size_t i = 0; i < m->s->recs.n; i++)
            if (mb_eq(VAT(m->s->recs, runrec, i)->name, o->s[0]))
                rec = VAT(m->s->recs, runrec, i);
        if (rec && (o->nulls & N_OUT)) {
            emit(m, CAIRN_INVALID_ARGUMENT);
            return;
        }
    }
    if (rec == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    emit(m, CAIRN_OK);
    ts_rec(m->out, rec);
}

static void a_run_get(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *id = run_ptr(o->run, &tmp);
    bool null = o->nulls & N_OUT;
    cairn_status st;
    if (implicit) {
        cairn_run r;
        memset(&r, 0, sizeof r);
        st = o->sub ? cairn_run_get_by_name(db, o->s[0], null ? NULL : &r)
                    : cairn_run_get(db, id, null ? NULL : &r);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_run_view(ts, &r.v);
        cairn_run_free(&r);
        cairn_run_free(&r);
    } else {
        cairn_run_view v;
        st = o->sub ? cairn_run_get_by_name_tx(t, o->s[0], null ? NULL : &v)
                    : cairn_run_get_tx(t, id, null ? NULL : &v);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_run_view(ts, &v);
    }
}

static void d_run_edit(reader *r, op *o, mstate *v)
{
    (void)v;
    o->run = rd_run(r, false);
    o->i[0] = rd_u8(r) % 8;   /* status: 0 and 7 are not statuses */
    o->i[1] = rd_u8(r) % 5;   /* named transition */
    o->i[2] = rd_u8(r) % 4;   /* delete flags */
    uint8_t b = rd_u8(r);
    o->s[0] = b % 3 == 0 ? gen_bytes(r, CAIRN_RUN_TAG_MAX) : g_tag_pool[b / 3 % 5];
    o->s[1] = gen_value(r, 64);
    if (rd_u8(r) % 8 == 0)
        o->s[1] = cairn_slice_of(g_fill, CAIRN_RUN_ERROR_MAX + (rd_u8(r) & 1));
}

static const int named_status[5] = {CAIRN_RUN_COMPLETED, CAIRN_RUN_PAUSED, CAIRN_RUN_ACTIVE,
                                    CAIRN_RUN_CANCELLED, CAIRN_RUN_ARCHIVED};

/* sub 0: update_status, 1: a named transition, 2: fail, 3: add_tag,
 * 4: remove_tag, 5: set_metadata */
static void m_run_edit(mctx *m, const op *o)
{
    if (m_gate(m) || m_run_id(m, o->run))
        return;
    int to = o->sub == 0 ? (int)o->i[0] : o->sub == 1 ? named_status[o->i[1]] : CAIRN_RUN_FAILED;
    cairn_slice msg = o->sub == 2 ? o->s[1] : cairn_slice_of(NULL, 0);
    if (o->sub <= 2) {
        if (to < 1 || to > 6) {
            emit(m, CAIRN_INVALID_ARGUMENT);
            return;
        }
        if (m_bytes(m, msg, 0, CAIRN_RUN_ERROR_MAX))
            return;
    }
    dom_run(&m->rd, o->run, D_REC);
    runrec *rec = find_rec(m->s, o->run);
    if (rec == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    size_t tag_at = SIZE_MAX;
    size_t err_len = rec->error.n, meta_len = rec->meta.n, tags_len = 0;
    for (size_t i = 0; i < rec->ntags; i++)
        tags_len += 1 + rec->tags[i].n;
    if (o->sub <= 2) {
        if (!transition_ok(rec->status, to)) {
            emit(m, CAIRN_INVALID_TRANSITION);
            return;
        }
        if (to == CAIRN_RUN_FAILED)
            err_len = msg.len;
    } else if (o->sub <= 4) {
        if (m_bytes(m, o->s[0], 1, CAIRN_RUN_TAG_MAX))
            return;
        for (size_t i = 0; i < rec->ntags; i++)
            if (mb_eq(rec->tags[i], o->s[0]))
                tag_at = i;
        if (o->sub == 3 && tag_at != SIZE_MAX) {
            emit(m, CAIRN_EXISTS);
            return;
        }
        if (o->sub == 3 && rec->ntags == MAX_TAGS) {
            emit(m, CAIRN_TOO_LARGE);
            return;
        }
        if (o->sub == 4 && tag_at == SIZE_MAX) {
            emit(m, CAIRN_NOT_FOUND);
            return;
        }
        tags_len += o->sub == 3 ? 1 + o->s[0].len : 0;
        tags_len -= o->sub == 4 ? 1 + o->s[0].len : 0;
    } else {
        if (m_bytes(m, o->s[1], 0, UINT32_MAX))
            return;
        meta_len = o->s[1].len;
    }
    if (67 + rec->name.n + err_len + meta_len + tags_len > MAX_VALUE) {
        emit(m, CAIRN_TOO_LARGE);
        return;
    }
    if (m_ro(m))
        return;
    rec->updated = m->now > rec->updated ? m->now : rec->updated;
    if (o->sub <= 2) {
        rec->status = to;
        if (status_final(to) && rec->finished == 0)
            rec->finished = rec->updated;
        if (to == CAIRN_RUN_FAILED) {
            mb_free(&rec->error);
            rec->error = mb_sl(msg);
        }
    } else if (o->sub == 3) {
        rec->tags[rec->ntags++] = mb_sl(o->s[0]);
    } else if (o->sub == 4) {
        mb_free(&rec->tags[tag_at]);
        memmove(&rec->tags[tag_at], &rec->tags[tag_at + 1], (rec->ntags - tag_at - 1) * sizeof(mbuf));
        rec->ntags--;
    } else {
        mb_free(&rec->meta);
        rec->meta = mb_sl(o->s[1]);
    }
    dom_run(&m->wr, o->run, D_REC);
    dom_set(&m->wr, DOM_RI);
    m->wrote = true;
    emit(m, CAIRN_OK);
}

static void a_run_edit(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *id = run_ptr(o->run, &tmp);
    cairn_status st;
    switch (o->sub) {
    case 0:
        st = implicit ? cairn_run_update_status(db, id, (cairn_run_status)o->i[0])
                      : cairn_run_update_status_tx(t, id, (cairn_run_status)o->i[0]);
        break;
    case 1:
        if (!implicit) {
            st = cairn_run_update_status_tx(t, id, (cairn_run_status)named_status[o->i[1]]);
            break;
        }
        switch (o->i[1]) {
        case 0: st = cairn_run_complete(db, id); break;
        case 1: st = cairn_run_pause(db, id); break;
        case 2: st = cairn_run_resume(db, id); break;
        case 3: st = cairn_run_cancel(db, id); break;
        default: st = cairn_run_archive(db, id); break;
        }
        break;
    case 2: st = implicit ? cairn_run_fail(db, id, o->s[1]) : cairn_run_fail_tx(t, id, o->s[1]); break;
    case 3: st = implicit ? cairn_run_add_tag(db, id, o->s[0]) : cairn_run_add_tag_tx(t, id, o->s[0]); break;
    case 4:
        st = implicit ? cairn_run_remove_tag(db, id, o->s[0]) : cairn_run_remove_tag_tx(t, id, o->s[0]);
        break;
    default:
        st = implicit ? cairn_run_set_metadata(db, id, o->s[1]) : cairn_run_set_metadata_tx(t, id, o->s[1]);
        break;
    }
    ts_status(ts, st);
}

/* Removes run `slot` and everything it owns from the model. */
static void purge_run(mctx *m, int slot)
{
    rundata_free(&m->s->run[slot]);
    for (size_t i = 0; i < m->s->recs.n; i++)
        if (VAT(m->s->recs, runrec, i)->slot == slot) {
            rec_free(VAT(m->s->recs, runrec, i));
            vec_remove(&m->s->recs, sizeof(runrec), i);
            break;
        }
    for (int k = 0; k < D_PER_RUN; k++)
        dom_run(&m->wr, slot, k);
}

static void m_run_delete(mctx *m, const op *o)
{
    if (m_gate(m) || m_run_id(m, o->run))
        return;
    unsigned flags = (unsigned)o->i[2];
    if (flags & ~CAIRN_RUN_DELETE_CHILDREN) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_run(&m->rd, o->run, D_REC);
    if (find_rec(m->s, o->run) == NULL) {
        emit(m, CAIRN_NOT_FOUND);
        return;
    }
    int ids[MAX_RUNS];
    size_t n = 1;
    ids[0] = o->run;
    dom_set(&m->rd, DOM_RI);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < m->s->recs.n; j++) {
            const runrec *c = VAT(m->s->recs, runrec, j);
            if (c->parent == ids[i] && n < MAX_RUNS)
                ids[n++] = c->slot;
        }
        if (n > 1 && !(flags & CAIRN_RUN_DELETE_CHILDREN)) {
            emit(m, CAIRN_EXISTS);
            return;
        }
    }
    if (m_ro(m))
        return;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < D_PER_RUN; k++)
            dom_run(&m->rd, ids[i], k);
        purge_run(m, ids[i]);
    }
    dom_set(&m->wr, DOM_RI);
    m->wrote = true;
    emit(m, CAIRN_OK);
}

static void a_run_delete(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *id = run_ptr(o->run, &tmp);
    unsigned flags = (unsigned)o->i[2];
    ts_status(ts, implicit ? cairn_run_delete(db, id, flags) : cairn_run_delete_tx(t, id, flags));
}

static void d_run_query(reader *r, op *o, mstate *v)
{
    o->i[0] = rd_u8(r) % 8; /* status */
    o->s[0] = rd_u8(r) % 3 ? g_tag_pool[rd_u8(r) % 5] : gen_bytes(r, CAIRN_RUN_TAG_MAX);
    o->run = rd_run(r, false); /* children: the parent */
    int64_t now = clock_now();
    switch (rd_u8(r) % 4) {
    case 0: o->i[1] = 0; o->i[2] = INT64_MAX; break;
    case 1: o->i[1] = -1; o->i[2] = 5; break;
    case 2: o->i[1] = now - 1000000; o->i[2] = now - (int64_t)rd_u8(r) * 1000; break;
    default: o->i[1] = rd_u8(r); o->i[2] = rd_u8(r); break;
    }
    int64_t cc = now;
    cairn_slice cid = cairn_slice_of(g.ids[0].bytes, CAIRN_RUN_ID_SIZE);
    if (v->recs.n) {
        const runrec *c = VAT(v->recs, runrec, rd_u8(r) % v->recs.n);
        cc = c->created;
        cid = cairn_slice_of(g.ids[c->slot].bytes, CAIRN_RUN_ID_SIZE);
    }
    d_cursor(r, o, cc, cid, CAIRN_RUN_ID_SIZE);
    if (o->cmode == 3)
        o->cstart = -1;
    o->i[3] = (int64_t)gen_limit(r, CAIRN_RUN_LIMIT_MAX);
    o->nulls = rd_nulls(r, N_OUT);
}

static bool run_matches(const op *o, const runrec *r)
{
    switch (o->sub) {
    case 1: return r->status == o->i[0];
    case 2:
    case 3:
        if (o->sub == 3 && r->status != o->i[0])
            return false;
        for (size_t i = 0; i < r->ntags; i++)
            if (mb_eq(r->tags[i], o->s[0]))
                return true;
        return false;
    case 4: return r->parent == o->run;
    case 5: return r->created >= o->i[1] && r->created < o->i[2];
    default: return true;
    }
}

static int run_order(int64_t ca, const uint8_t *a, int64_t cb, const uint8_t *b)
{
    if (ca != cb)
        return (uint64_t)ca < (uint64_t)cb ? -1 : 1;
    return memcmp(a, b, CAIRN_RUN_ID_SIZE);
}

/* sub 0: list_all, 1: by_status, 2: by_tag, 3: by_status_tag, 4: children, 5: by_time */
static void m_run_query(mctx *m, const op *o)
{
    if (m_null_out(m, o->nulls & N_OUT) || m_gate(m))
        return;
    size_t limit = (size_t)o->i[3];
    if ((o->nulls & N_OUT) || limit == 0 || limit > CAIRN_RUN_LIMIT_MAX || (o->cmode >= 2 && o->cstart < 0)) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if ((o->sub == 1 || o->sub == 3) && (o->i[0] < 1 || o->i[0] > 6)) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if ((o->sub == 2 || o->sub == 3) && m_bytes(m, o->s[0], 1, CAIRN_RUN_TAG_MAX))
        return;
    if (o->sub == 4) {
        if (m_run_id(m, o->run))
            return;
        dom_run(&m->rd, o->run, D_REC);
        if (find_rec(m->s, o->run) == NULL) {
            emit(m, CAIRN_NOT_FOUND);
            return;
        }
    }
    if (o->sub == 5 && (o->i[1] < 0 || o->i[2] < 0)) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_set(&m->rd, DOM_RI);
    dom_all_recs(&m->rd);
    emit(m, CAIRN_OK);
    size_t n = 0;
    bool more = false;
    const runrec *prev = NULL;
    bool empty = o->sub == 5 && o->i[2] <= o->i[1];
    while (!empty) {
        const runrec *best = NULL;
        for (size_t j = 0; j < m->s->recs.n; j++) {
            const runrec *c = VAT(m->s->recs, runrec, j);
            const uint8_t *cid = g.ids[c->slot].bytes;
            if (!run_matches(o, c))
                continue;
            if (o->cmode == 2 && run_order(c->created, cid, o->cstart, o->cid.data) <= 0)
                continue;
            if (prev && run_order(c->created, cid, prev->created, g.ids[prev->slot].bytes) <= 0)
                continue;
            if (best == NULL || run_order(c->created, cid, best->created, g.ids[best->slot].bytes) < 0)
                best = c;
        }
        if (best == NULL)
            break;
        if (n == limit) {
            more = true;
            break;
        }
        ts_rec(m->out, best);
        prev = best;
        n++;
    }
    ts_int(m->out, "n", n);
    ts_int(m->out, "more", more);
    ts_int(m->out, "next.set", prev != NULL);
    ts_int(m->out, "next.created", prev ? (uint64_t)prev->created : 0);
    ts_bytes(m->out, "next.id", prev ? g.ids[prev->slot].bytes : g_zero_id.bytes, CAIRN_RUN_ID_SIZE);
}

static void a_run_query(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_cursor cur;
    memset(&cur, 0, sizeof cur);
    if (o->cmode >= 2) {
        cur.set = true;
        cur.created_us = o->cstart;
        memcpy(cur.id.bytes, o->cid.data, CAIRN_RUN_ID_SIZE);
    }
    const cairn_run_cursor *cp = o->cmode == 0 ? NULL : &cur;
    cairn_run_list l;
    cairn_run_list *lp = o->nulls & N_OUT ? NULL : &l;
    size_t limit = (size_t)o->i[3];
    cairn_run_status s = (cairn_run_status)o->i[0];
    cairn_run_id tmp;
    const cairn_run_id *parent = run_ptr(o->run, &tmp);
    cairn_status st;
    switch (o->sub) {
    case 0: st = implicit ? cairn_run_list_all(db, cp, limit, lp) : cairn_run_list_all_tx(t, cp, limit, lp); break;
    case 1:
        st = implicit ? cairn_run_by_status(db, s, cp, limit, lp) : cairn_run_by_status_tx(t, s, cp, limit, lp);
        break;
    case 2:
        st = implicit ? cairn_run_by_tag(db, o->s[0], cp, limit, lp) : cairn_run_by_tag_tx(t, o->s[0], cp, limit, lp);
        break;
    case 3:
        st = implicit ? cairn_run_by_status_tag(db, s, o->s[0], cp, limit, lp)
                      : cairn_run_by_status_tag_tx(t, s, o->s[0], cp, limit, lp);
        break;
    case 4:
        st = implicit ? cairn_run_children(db, parent, cp, limit, lp)
                      : cairn_run_children_tx(t, parent, cp, limit, lp);
        break;
    default:
        st = implicit ? cairn_run_by_time(db, o->i[1], o->i[2], cp, limit, lp)
                      : cairn_run_by_time_tx(t, o->i[1], o->i[2], cp, limit, lp);
        break;
    }
    ts_status(ts, st);
    if (st != CAIRN_OK)
        return;
    for (size_t i = 0; i < l.n; i++)
        ts_run_view(ts, &l.items[i]);
    ts_int(ts, "n", l.n);
    ts_int(ts, "more", l.more);
    ts_int(ts, "next.set", l.next.set);
    ts_int(ts, "next.created", (uint64_t)l.next.created_us);
    ts_bytes(ts, "next.id", l.next.id.bytes, CAIRN_RUN_ID_SIZE);
    cairn_run_list_free(&l);
}

static void d_run_misc(reader *r, op *o, mstate *v)
{
    (void)v;
    o->run = rd_run(r, false);
    o->i[0] = rd_u8(r) % 8;
    o->nulls = rd_nulls(r, N_OUT);
}

/* sub 0: count, 1: check, 2: check_writable (_tx only) */
static void m_run_misc(mctx *m, const op *o)
{
    if (m_gate(m))
        return;
    if (o->sub == 2) {
        if (m_run_id(m, o->run))
            return;
        dom_run(&m->rd, o->run, D_REC);
        runrec *rec = find_rec(m->s, o->run);
        emit(m, rec && status_final(rec->status) ? CAIRN_READ_ONLY : CAIRN_OK);
        return;
    }
    if ((o->sub == 0 && (o->i[0] < 1 || o->i[0] > 6)) || (o->nulls & N_OUT)) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    dom_set(&m->rd, DOM_RI);
    dom_all_recs(&m->rd);
    uint64_t count = 0, entries = 0;
    for (size_t i = 0; i < m->s->recs.n; i++) {
        const runrec *rec = VAT(m->s->recs, runrec, i);
        count += rec->status == o->i[0];
        entries += 3 + 2 * rec->ntags + (rec->name.n ? 1 : 0);
    }
    emit(m, CAIRN_OK);
    if (o->sub == 0) {
        ts_int(m->out, "count", count);
        return;
    }
    ts_int(m->out, "ok", 1);
    ts_int(m->out, "runs", m->s->recs.n);
    ts_int(m->out, "entries", entries);
    ts_int(m->out, "has_bad_id", 0);
    ts_int(m->out, "why", 0);
}

static void a_run_misc(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_status st;
    if (o->sub == 2) {
        cairn_run_id tmp;
        ts_status(ts, cairn_run_check_writable_tx(t, run_ptr(o->run, &tmp)));
        return;
    }
    if (o->sub == 0) {
        uint64_t count = 0;
        uint64_t *cp = o->nulls & N_OUT ? NULL : &count;
        cairn_run_status s = (cairn_run_status)o->i[0];
        st = implicit ? cairn_run_count(db, s, cp) : cairn_run_count_tx(t, s, cp);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_int(ts, "count", count);
        return;
    }
    cairn_run_report rep;
    cairn_run_report *rp = o->nulls & N_OUT ? NULL : &rep;
    st = implicit ? cairn_run_check(db, rp) : cairn_run_check_tx(t, rp);
    ts_status(ts, st);
    if (st == CAIRN_OK) {
        ts_int(ts, "ok", rep.ok);
        ts_int(ts, "runs", rep.runs);
        ts_int(ts, "entries", rep.entries);
        ts_int(ts, "has_bad_id", rep.has_bad_id);
        ts_int(ts, "why", rep.why[0] != '\0');
    }
}

/* ---- cell listing ------------------------------------------------------------------------------------------ */

static void d_cell_list(reader *r, op *o, mstate *v)
{
    d_kv_list(r, o, v);
    if (o->run == RUN_S)
        o->run = 0;
}

static void m_cell_list(mctx *m, const op *o)
{
    if (m_list_checks(m, o, CAIRN_CELL_NAME_MAX))
        return;
    dom_run(&m->rd, o->run, D_CELL);
    vec *cells = &run_data(m, o->run)->cells;
    size_t limit = (size_t)o->i[0], n = 0;
    bool more = false;
    const cell_ent *last = NULL;
    emit(m, CAIRN_OK);
    for (size_t i = 0; i < cells->n; i++) {
        const cell_ent *c = VAT(*cells, cell_ent, i);
        if (!starts_with(c->name, o->s[0]) ||
            (o->s[1].len && bcmp_(c->name.p, c->name.n, o->s[1].data, o->s[1].len) <= 0))
            continue;
        if (n == limit) {
            more = true;
            break;
        }
        ts_bytes(m->out, "name", c->name.p, c->name.n);
        last = c;
        n++;
    }
    ts_int(m->out, "n", n);
    ts_int(m->out, "more", more);
    ts_bytes(m->out, "cursor", last ? last->name.p : NULL, last ? last->name.n : 0);
}

static void a_cell_list(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    cairn_run_id tmp;
    const cairn_run_id *run = run_ptr(o->run, &tmp);
    cairn_cell_list l;
    cairn_cell_list *lp = o->nulls & N_OUT ? NULL : &l;
    size_t limit = (size_t)o->i[0];
    cairn_status st = implicit ? cairn_cell_list_names(db, run, o->s[0], o->s[1], limit, lp)
                               : cairn_cell_list_names_tx(t, run, o->s[0], o->s[1], limit, lp);
    ts_status(ts, st);
    if (st != CAIRN_OK)
        return;
    for (size_t i = 0; i < l.n; i++)
        ts_sl(ts, "name", l.names[i]);
    ts_int(ts, "n", l.n);
    ts_int(ts, "more", l.more);
    ts_sl(ts, "cursor", l.cursor);
    cairn_cell_list_free(&l);
    cairn_cell_list_free(&l);
}

/* ---- raw engine keys ----------------------------------------------------------------------------------------- */

static void d_rawkey(reader *r, rawkey *k)
{
    static const uint8_t bad_tags[4] = {0, 6, 0x10, 0xff};
    uint8_t b = rd_u8(r);
    k->run = RUN_S;
    k->tag = (uint8_t)(1 + rd_u8(r) % 4);
    k->rest = gen_bytes(r, CAIRN_KEY_REST_MAX);
    if (k->rest.data == NULL)
        k->rest.data = g_fill; /* the key is built here: its bytes must exist */
    k->mode = RK_VALID;
    switch (b % 16) {
    case 0: k->mode = RK_NULL; break;
    case 1: k->mode = RK_PREFIX; break;
    case 2: k->mode = RK_BAD_TAG; k->tag = bad_tags[rd_u8(r) % 4]; break;
    case 3: k->mode = RK_ZERO_KV; break;
    case 4: k->mode = RK_RUN_TAG; break;
    case 5: k->mode = RK_SHORT; break;
    case 6: k->mode = RK_LONG; break;
    case 7:
    case 8: {
        int run = rd_run(r, true);
        k->run = run >= 0 ? run : 0;
        k->tag = CAIRN_TAG_KV;
        break;
    }
    default: break;
    }
}

/* The encoded key (what the library gets), and its length, which may be
 * past CAIRN_KEY_MAX (only the first CAIRN_KEY_MAX bytes exist then). */
static size_t rawkey_bytes(const rawkey *k, uint8_t *out)
{
    const cairn_run_id *id = k->mode == RK_ZERO_KV ? &g_zero_id : &g.ids[k->run];
    memcpy(out, id->bytes, CAIRN_RUN_ID_SIZE);
    out[CAIRN_RUN_ID_SIZE] = k->mode == RK_ZERO_KV ? CAIRN_TAG_KV : k->mode == RK_RUN_TAG ? CAIRN_TAG_RUN : k->tag;
    switch (k->mode) {
    case RK_PREFIX: return CAIRN_KEY_PREFIX_SIZE;
    case RK_SHORT: return 10;
    case RK_LONG: return CAIRN_KEY_MAX + 1;
    default: break;
    }
    size_t n = k->rest.len < CAIRN_KEY_REST_MAX ? k->rest.len : CAIRN_KEY_REST_MAX;
    if (n)
        memcpy(out + CAIRN_KEY_PREFIX_SIZE, k->rest.data, n);
    return CAIRN_KEY_PREFIX_SIZE + k->rest.len;
}

static const cairn_key *build_key(const rawkey *k, cairn_key *out)
{
    if (k->mode == RK_NULL)
        return NULL;
    out->len = (uint32_t)rawkey_bytes(k, out->bytes);
    return out;
}

/* What a key is to the model. */
enum { K_NULL, K_BADLEN, K_UNDECODABLE, K_PREFIX, K_KV, K_RAW };

typedef struct keyinfo {
    int cls;
    int run;
    cairn_slice rest;          /* K_KV */
    uint8_t full[CAIRN_KEY_MAX];
    size_t len;
} keyinfo;

static void key_info(const rawkey *k, keyinfo *ki)
{
    ki->len = 0;
    ki->run = k->run;
    ki->rest = k->rest;
    if (k->mode == RK_NULL) {
        ki->cls = K_NULL;
        return;
    }
    ki->len = rawkey_bytes(k, ki->full);
    if (ki->len > CAIRN_KEY_MAX || ki->len < CAIRN_KEY_PREFIX_SIZE)
        ki->cls = K_BADLEN;
    else if (k->mode == RK_BAD_TAG || k->mode == RK_ZERO_KV || k->mode == RK_RUN_TAG)
        ki->cls = K_UNDECODABLE;
    else if (ki->len == CAIRN_KEY_PREFIX_SIZE)
        ki->cls = K_PREFIX;
    else
        ki->cls = k->tag == CAIRN_TAG_KV ? K_KV : K_RAW;
}

/* The live value under a valid key, or NULL. */
static kv_ent *raw_lookup(mctx *m, const keyinfo *ki)
{
    if (ki->cls == K_KV) {
        dom_run(&m->rd, ki->run, D_KV);
        return kv_get(&run_data(m, ki->run)->kv, ki->rest.data, ki->rest.len, m->now);
    }
    if (ki->cls == K_RAW) {
        dom_set(&m->rd, DOM_RAW);
        return kv_get(&m->s->raw, ki->full, ki->len, m->now);
    }
    return NULL;
}

static void d_raw(reader *r, op *o, mstate *v)
{
    (void)v;
    o->nk = 1 + rd_u8(r) % 4;
    for (int i = 0; i < o->nk; i++)
        d_rawkey(r, &o->k[i]);
    o->s[0] = gen_value(r, MAX_VALUE);
    int64_t now = clock_now();
    switch (rd_u8(r) % 6) {
    case 0: o->i[0] = 0; break;
    case 1: o->i[0] = -5; break;
    case 2: o->i[0] = now - rd_u8(r); break;
    case 3: o->i[0] = INT64_MAX; break;
    default: o->i[0] = now + 1 + (int64_t)rd_u16(r) * 64; break;
    }
    o->i[1] = rd_u8(r) % 5;          /* get_many: n */
    o->nulls = rd_nulls(r, N_OUT | N_OUT2 | N_OUT3);
}

/* sub 0: get, 1: put, 2: put_expiring, 3: delete, 4: get_many */
static void m_raw(mctx *m, const op *o)
{
    keyinfo ki;
    if (m_gate(m))
        return;
    if (o->sub == 4) {
        size_t n = (size_t)o->i[1];
        if (n == 0) {
            emit(m, CAIRN_OK);
            return;
        }
        if (o->nulls & (N_OUT | N_OUT2 | N_OUT3)) {
            emit(m, CAIRN_INVALID_ARGUMENT);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            key_info(&o->k[i % (size_t)o->nk], &ki);
            if (ki.cls == K_BADLEN) {
                emit(m, CAIRN_INVALID_ARGUMENT);
                return;
            }
        }
        emit(m, CAIRN_OK);
        for (size_t i = 0; i < n; i++) {
            key_info(&o->k[i % (size_t)o->nk], &ki);
            kv_ent *e = raw_lookup(m, &ki);
            ts_int(m->out, "item status", e ? CAIRN_OK : CAIRN_NOT_FOUND);
            ts_bytes(m->out, "item value", e ? e->val.p : NULL, e ? e->val.n : 0);
        }
        return;
    }
    key_info(&o->k[0], &ki);
    if (o->sub == 0) {
        if (ki.cls == K_NULL || (o->nulls & N_OUT) || ki.cls == K_BADLEN) {
            emit(m, CAIRN_INVALID_ARGUMENT);
            return;
        }
        kv_ent *e = raw_lookup(m, &ki);
        if (e == NULL) {
            emit(m, CAIRN_NOT_FOUND);
            return;
        }
        emit(m, CAIRN_OK);
        ts_bytes(m->out, "value", e->val.p, e->val.n);
        return;
    }
    if (m_ro(m))
        return;
    if (ki.cls != K_KV && ki.cls != K_RAW) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    int64_t exp = o->sub == 2 ? o->i[0] : 0;
    if (o->sub != 3) {
        if (o->s[0].data == NULL && o->s[0].len) {
            emit(m, CAIRN_INVALID_ARGUMENT);
            return;
        }
        if (o->s[0].len > MAX_VALUE) {
            emit(m, CAIRN_TOO_LARGE);
            return;
        }
    }
    vec *v = ki.cls == K_KV ? &run_data(m, ki.run)->kv : &m->s->raw;
    const void *key = ki.cls == K_KV ? ki.rest.data : ki.full;
    size_t klen = ki.cls == K_KV ? ki.rest.len : ki.len;
    if (o->sub == 3)
        kv_del(v, key, klen);
    else
        kv_set(v, key, klen, o->s[0], exp);
    if (ki.cls == K_KV)
        dom_run(&m->wr, ki.run, D_KV);
    else
        dom_set(&m->wr, DOM_RAW);
    m->wrote = true;
    emit(m, CAIRN_OK);
}

static void m_raw_put_expiring(mctx *m, const op *o)
{
    if (!m->nulltxn && !m->finished && o->i[0] <= 0) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    m_raw(m, o);
}

static void a_raw(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    (void)implicit;
    (void)db;
    cairn_key key;
    cairn_status st;
    if (o->sub == 4) {
        size_t n = (size_t)o->i[1];
        cairn_key *keys = malloc(4 * sizeof *keys);
        if (keys == NULL)
            abort();
        for (size_t i = 0; i < n; i++) {
            const rawkey *k = &o->k[i % (size_t)o->nk];
            rawkey valid = *k;
            if (valid.mode == RK_NULL)
                valid.mode = RK_VALID;
            keys[i].len = (uint32_t)rawkey_bytes(&valid, keys[i].bytes);
        }
        cairn_slice vals[4];
        cairn_status sts[4];
        st = cairn_txn_get_many(t, o->nulls & N_OUT ? NULL : keys, n, o->nulls & N_OUT2 ? NULL : vals,
                                o->nulls & N_OUT3 ? NULL : sts);
        free(keys);
        ts_status(ts, st);
        for (size_t i = 0; st == CAIRN_OK && i < n; i++) {
            ts_int(ts, "item status", sts[i]);
            ts_sl(ts, "item value", vals[i]);
        }
        return;
    }
    const cairn_key *kp = build_key(&o->k[0], &key);
    switch (o->sub) {
    case 0: {
        cairn_slice v;
        st = cairn_txn_get(t, kp, o->nulls & N_OUT ? NULL : &v);
        ts_status(ts, st);
        if (st == CAIRN_OK)
            ts_sl(ts, "value", v);
        return;
    }
    case 1: st = cairn_txn_put(t, kp, o->s[0]); break;
    case 2: st = cairn_txn_put_expiring(t, kp, o->s[0], o->i[0]); break;
    default: st = cairn_txn_delete(t, kp); break;
    }
    ts_status(ts, st);
}

/* raw get_many: a NULL key in the array cannot exist; the model sees the
 * same substitution */
static void m_raw_get_many(mctx *m, const op *o)
{
    op c = *o;
    for (int i = 0; i < c.nk; i++)
        if (c.k[i].mode == RK_NULL)
            c.k[i].mode = RK_VALID;
    m_raw(m, &c);
}

/*
 * Bulk: up to ~2000 puts or deletes of the scratch run's keys
 * [scratch][2][p][counter:2] in one call, enough for the index to split
 * inner nodes, empty and remove leaves, and reclaim versions under the
 * snapshots of other open transactions.
 */
static void d_bulk(reader *r, op *o, mstate *v)
{
    (void)v;
    o->sub = rd_u8(r) % 3 == 2; /* 1: delete */
    uint16_t n = rd_u16(r);
    o->i[0] = 1 + (n % 8 == 7 ? n % 2048 : n % 256);
    if (o->i[0] > g.bulk_left) { /* keeps every input quick */
        o->kind = -1;
        return;
    }
    g.bulk_left -= o->i[0];
    o->i[1] = rd_u16(r);           /* first counter */
    o->i[2] = 1 + rd_u8(r) % 3;    /* step */
    o->i[3] = rd_u8(r) % 4;        /* p */
    o->s[0] = gen_value(r, 64);
}

static size_t bulk_key(const op *o, int64_t i, uint8_t *key)
{
    uint16_t c = (uint16_t)(o->i[1] + i * o->i[2]);
    memcpy(key, g.ids[RUN_S].bytes, CAIRN_RUN_ID_SIZE);
    key[CAIRN_RUN_ID_SIZE] = 2;
    key[CAIRN_KEY_PREFIX_SIZE] = (uint8_t)o->i[3];
    key[CAIRN_KEY_PREFIX_SIZE + 1] = (uint8_t)(c >> 8);
    key[CAIRN_KEY_PREFIX_SIZE + 2] = (uint8_t)c;
    return CAIRN_KEY_PREFIX_SIZE + 3;
}

static void m_bulk(mctx *m, const op *o)
{
    if (m_gate(m) || m_ro(m))
        return;
    if (o->sub == 0 && o->s[0].data == NULL && o->s[0].len) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    if (o->sub == 0 && o->s[0].len > MAX_VALUE) {
        emit(m, CAIRN_TOO_LARGE);
        return;
    }
    uint8_t key[CAIRN_KEY_PREFIX_SIZE + 3];
    for (int64_t i = 0; i < o->i[0]; i++) {
        size_t n = bulk_key(o, i, key);
        if (o->sub)
            kv_del(&m->s->raw, key, n);
        else
            kv_set(&m->s->raw, key, n, o->s[0], 0);
    }
    dom_set(&m->wr, DOM_RAW);
    m->wrote = true;
    emit(m, CAIRN_OK);
    ts_int(m->out, "calls", (uint64_t)o->i[0]);
}

static void a_bulk(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    (void)implicit;
    (void)db;
    cairn_key k;
    cairn_status st = CAIRN_OK;
    int64_t i;
    for (i = 0; i < o->i[0]; i++) {
        k.len = (uint32_t)bulk_key(o, i, k.bytes);
        st = o->sub ? cairn_txn_delete(t, &k) : cairn_txn_put(t, &k, o->s[0]);
        if (st != CAIRN_OK)
            break;
    }
    ts_status(ts, st);
    if (st == CAIRN_OK)
        ts_int(ts, "calls", (uint64_t)i);
}

static void d_scan(reader *r, op *o, mstate *v)
{
    (void)v;
    uint8_t sub = rd_u8(r) % 10;
    o->sub = sub > 6 ? 3 : sub;
    o->it = rd_u8(r) % NITERS;
    o->i[0] = rd_u8(r) % 5;          /* limit */
    o->i[1] = 1 + rd_u8(r) % 4;      /* tag of a prefix scan */
    o->run = rd_run(r, false);
    if (o->run < 0)
        o->run = 0;
    o->nk = 2;
    for (int i = 0; i < 2; i++) {
        d_rawkey(r, &o->k[i]);
        o->k[i].mode = RK_VALID;
        o->k[i].run = RUN_S;
        if (o->k[i].rest.len > CAIRN_KEY_REST_MAX)
            o->k[i].rest.len = CAIRN_KEY_REST_MAX;
    }
    o->i[2] = rd_u8(r) % 3;          /* range scan end: a key, NULL, empty */
}

/* sub 0: the whole scratch run, 1: scan_prefix [scratch][tag], 2:
 * scan_prefix [run][KV], 3: [k0, k1), 4: NULL start, 5: NULL iterp,
 * 6: a start past CAIRN_KEY_MAX */
static void scan_bounds(const op *o, uint8_t *start, size_t *slen, uint8_t *end, size_t *elen)
{
    const cairn_run_id *s = &g.ids[RUN_S];
    switch (o->sub) {
    case 0:
        memcpy(start, s->bytes, CAIRN_RUN_ID_SIZE);
        *slen = CAIRN_RUN_ID_SIZE;
        memset(end, 0xFF, CAIRN_RUN_ID_SIZE);
        *elen = CAIRN_RUN_ID_SIZE;
        return;
    case 1:
    case 2:
        memcpy(start, o->sub == 1 ? s->bytes : g.ids[o->run].bytes, CAIRN_RUN_ID_SIZE);
        start[CAIRN_RUN_ID_SIZE] = o->sub == 1 ? (uint8_t)o->i[1] : CAIRN_TAG_KV;
        *slen = CAIRN_KEY_PREFIX_SIZE;
        memcpy(end, start, CAIRN_KEY_PREFIX_SIZE);
        end[CAIRN_RUN_ID_SIZE]++;
        *elen = CAIRN_KEY_PREFIX_SIZE;
        return;
    default:
        *slen = rawkey_bytes(&o->k[0], start);
        *elen = o->i[2] == 0 ? rawkey_bytes(&o->k[1], end) : 0;
        return;
    }
}

static void m_scan(mctx *m, const op *o)
{
    if (m_gate(m))
        return;
    if (o->sub >= 4) {
        emit(m, CAIRN_INVALID_ARGUMENT);
        return;
    }
    uint8_t start[CAIRN_KEY_MAX], end[CAIRN_KEY_MAX];
    size_t slen, elen;
    scan_bounds(o, start, &slen, end, &elen);
    int run = o->sub == 2 ? o->run : RUN_S;
    dom_run(&m->rd, run, D_KV);
    if (run == RUN_S)
        dom_set(&m->rd, DOM_RAW);
    emit(m, CAIRN_OK);
    if (m->items == NULL)
        return;
    /* the run's KV keys (encoded) then, for the scratch run, its raw keys */
    size_t limit = (size_t)o->i[0], n = 0;
    vec *kv = &run_data(m, run)->kv;
    uint8_t key[CAIRN_KEY_MAX + 8];
    for (int part = 0; part < 2; part++) {
        vec *src = part == 0 ? kv : &m->s->raw;
        if (part == 1 && run != RUN_S)
            break;
        for (size_t i = 0; i < src->n && (limit == 0 || n < limit); i++) {
            const kv_ent *e = VAT(*src, kv_ent, i);
            size_t klen;
            if (part == 0) {
                memcpy(key, g.ids[run].bytes, CAIRN_RUN_ID_SIZE);
                key[CAIRN_RUN_ID_SIZE] = CAIRN_TAG_KV;
                memcpy(key + CAIRN_KEY_PREFIX_SIZE, e->key.p, e->key.n);
                klen = CAIRN_KEY_PREFIX_SIZE + e->key.n;
            } else {
                memcpy(key, e->key.p, e->key.n);
                klen = e->key.n;
            }
            if (!live(e->exp, m->now) || bcmp_(key, klen, start, slen) < 0 ||
                (elen && bcmp_(key, klen, end, elen) >= 0))
                continue;
            tscript *item = vec_push(m->items, sizeof *item);
            ts_status(item, CAIRN_OK);
            ts_bytes(item, "key", key, klen);
            ts_bytes(item, "value", e->val.p, e->val.n);
            n++;
        }
    }
}

static void a_scan(bool implicit, cairn_db *db, cairn_txn *t, op *o, tscript *ts)
{
    (void)implicit;
    (void)db;
    cairn_key start, end;
    size_t slen, elen;
    scan_bounds(o, start.bytes, &slen, end.bytes, &elen);
    start.len = (uint32_t)slen;
    end.len = (uint32_t)elen;
    cairn_iter *it = NULL;
    size_t limit = (size_t)o->i[0];
    cairn_status st;
    switch (o->sub) {
    case 1:
    case 2: st = cairn_txn_scan_prefix(t, &start, limit, &it); break;
    case 3: st = cairn_txn_scan(t, &start, o->i[2] == 1 ? NULL : &end, limit, &it); break;
    case 4: st = o->i[2] ? cairn_txn_scan_prefix(t, NULL, limit, &it) : cairn_txn_scan(t, NULL, &end, limit, &it); break;
    case 5: st = cairn_txn_scan(t, &start, &end, limit, NULL); break;
    case 6:
        start.len = CAIRN_KEY_MAX + 1;
        st = o->i[2] ? cairn_txn_scan_prefix(t, &start, limit, &it) : cairn_txn_scan(t, &start, &end, limit, &it);
        break;
    default: st = cairn_txn_scan(t, &start, &end, limit, &it); break;
    }
    ts_status(ts, st);
    g.pending_iter = st == CAIRN_OK ? it : NULL;
}

/* ---- transactions --------------------------------------------------------------------------------------------- */

static void expect_status(cairn_status got, cairn_status want, const char *what)
{
    if (got != want)
        fail("%s answered %s, the model expects %s", what, cairn_status_name(got), cairn_status_name(want));
}

static void iter_clear(iter_slot *it, bool call_free)
{
    if (!it->used)
        return;
    if (call_free) {
        if (it->event)
            cairn_event_iter_free(it->h);
        else
            cairn_iter_free(it->h);
    }
    for (size_t i = 0; i < it->items.n; i++)
        ts_free(VAT(it->items, tscript, i));
    free(it->items.p);
    memset(it, 0, sizeof *it);
}

/* Before a handle is freed or restarted: event iterators are the caller's
 * to free; the engine's own iterators go with the handle (when
 * `engine_frees`). */
static void drop_iters(int s, bool engine_frees)
{
    for (int i = 0; i < NITERS; i++) {
        iter_slot *it = &g.it[i];
        if (!it->used || it->slot != s)
            continue;
        if (it->event)
            iter_clear(it, true);
        else if (engine_frees)
            iter_clear(it, false);
    }
}

static void log_free(txn_slot *sl)
{
    for (size_t i = 0; i < sl->log.n; i++)
        ts_free(&VAT(sl->log, logent, i)->ts);
    free(sl->log.p);
    memset(&sl->log, 0, sizeof sl->log);
}

/* The model side of a transaction ending (commit, abort or free). */
static void txn_end(txn_slot *sl)
{
    if (!sl->active)
        return;
    mstate_free(&sl->view);
    log_free(sl);
    sl->active = false;
    sl->gen++;
    g.nactive--;
}

static void txn_start(txn_slot *sl)
{
    sl->active = true;
    sl->now = clock_now();
    sl->snap = g.version;
    sl->commit_ver = 0;
    mstate_copy(&sl->view, &g.st);
    sl->begin_seq = g.seq;
    memset(&sl->rd, 0, sizeof sl->rd);
    memset(&sl->wr, 0, sizeof sl->wr);
    sl->wrote = false;
    g.nactive++;
    if (cairn_txn_snapshot_version(sl->h) != sl->snap)
        fail("the snapshot is version %llu, the model's %llu",
             (unsigned long long)cairn_txn_snapshot_version(sl->h), (unsigned long long)sl->snap);
    if (cairn_txn_now_us(sl->h) != sl->now || !cairn_txn_is_active(sl->h) || cairn_txn_db(sl->h) != g.db ||
        cairn_txn_commit_version(sl->h) != 0)
        fail("a new transaction reports the wrong time, state, database or commit version");
}

static void slot_release(int s)
{
    txn_slot *sl = &g.s[s];
    if (!sl->present)
        return;
    drop_iters(s, true);
    cairn_txn_free(sl->h);
    txn_end(sl);
    sl->present = false;
    sl->h = NULL;
}

static void record_commit(dom wr)
{
    commit_rec *c = vec_push(&g.commits, sizeof *c);
    c->seq = ++g.seq;
    c->wr = wr;
}

static void op_begin(reader *r)
{
    int s = rd_u8(r) % NSLOTS;
    uint8_t mode = rd_u8(r), nb = rd_u8(r);
    slot_release(s);
    cairn_txn_options opts;
    cairn_txn_options_init(&opts);
    opts.mode = mode % 8 < 5 ? CAIRN_TXN_READ_WRITE : mode % 8 < 7 ? CAIRN_TXN_READ_ONLY : (cairn_txn_mode)5;
    opts.durability = (mode >> 3) % 8 < 4 ? (cairn_durability)((mode >> 3) % 8)
                      : (mode >> 3) % 8 == 4 ? (cairn_durability)7 : CAIRN_DURABILITY_DEFAULT;
    bool nullopts = nb % 8 == 1, nulltxnp = nb % 16 == 2, nulldb = nb % 32 == 3;
    cairn_txn *h = NULL;
    cairn_status st = cairn_txn_begin(nulldb ? NULL : g.db, nullopts ? NULL : &opts, nulltxnp ? NULL : &h);
    cairn_status want = CAIRN_OK;
    if (nulldb || nulltxnp || (!nullopts && ((unsigned)opts.mode > 1 || (unsigned)opts.durability > 3)))
        want = CAIRN_INVALID_ARGUMENT;
    else if (g.nactive >= MAX_OPEN)
        want = CAIRN_BUSY;
    expect_status(st, want, "cairn_txn_begin");
    if (st != CAIRN_OK)
        return;
    txn_slot *sl = &g.s[s];
    sl->present = true;
    sl->h = h;
    sl->ro = !nullopts && opts.mode == CAIRN_TXN_READ_ONLY;
    txn_start(sl);
}

static bool stale(const txn_slot *sl)
{
    for (size_t i = 0; i < g.commits.n; i++) {
        const commit_rec *c = VAT(g.commits, commit_rec, i);
        if (c->seq > sl->begin_seq && dom_meet(c->wr, sl->rd))
            return true;
    }
    return false;
}

/* Replays a committed transaction's calls on the committed model: every
 * answer must be the one the transaction got. */
static void replay(txn_slot *sl, bool was_stale)
{
    for (size_t i = 0; i < sl->log.n; i++) {
        logent *le = VAT(sl->log, logent, i);
        tscript again = {{0}};
        mctx m;
        memset(&m, 0, sizeof m);
        m.s = &g.st;
        m.now = sl->now;
        m.out = &again;
        g_opindex = i;
        op_def(le->o.kind)->model(&m, &le->o);
        ts_expect(&le->ts, &again,
                  was_stale ? "the commit succeeded although what the transaction read changed since its "
                              "snapshot (a missed conflict): its calls answer differently now"
                            : "replaying the committed transaction answers differently");
        ts_free(&again);
    }
}

static void op_commit(reader *r)
{
    int s = rd_u8(r) % NSLOTS;
    txn_slot *sl = &g.s[s];
    if (!sl->present) {
        expect_status(cairn_txn_commit(NULL), CAIRN_INVALID_ARGUMENT, "cairn_txn_commit(NULL)");
        return;
    }
    cairn_status st = cairn_txn_commit(sl->h);
    if (!sl->active) {
        expect_status(st, CAIRN_TXN_FINISHED, "cairn_txn_commit");
        return;
    }
    if (sl->ro || !sl->wrote) {
        expect_status(st, CAIRN_OK, "cairn_txn_commit");
    } else {
        bool was_stale = stale(sl);
        if (st == CAIRN_OK) {
            size_t saved = g_opindex;
            replay(sl, was_stale);
            g_opindex = saved;
            g.version++;
            sl->commit_ver = g.version;
            record_commit(sl->wr);
        } else if (!(st == CAIRN_CONFLICT && was_stale)) {
            fail("cairn_txn_commit answered %s; nothing the transaction read changed since its snapshot",
                 cairn_status_name(st));
        }
    }
    if (g_trace)
        fprintf(stderr, "        commit of slot %d -> %s\n", s, cairn_status_name(st));
    if (cairn_txn_commit_version(sl->h) != sl->commit_ver)
        fail("commit version %llu, the model's %llu", (unsigned long long)cairn_txn_commit_version(sl->h),
             (unsigned long long)sl->commit_ver);
    txn_end(sl);
    if (cairn_txn_is_active(sl->h))
        fail("a committed transaction is still active");
}

static void op_abort(reader *r)
{
    int s = rd_u8(r) % NSLOTS;
    txn_slot *sl = &g.s[s];
    if (!sl->present) {
        expect_status(cairn_txn_abort(NULL), CAIRN_INVALID_ARGUMENT, "cairn_txn_abort(NULL)");
        return;
    }
    expect_status(cairn_txn_abort(sl->h), sl->active ? CAIRN_OK : CAIRN_TXN_FINISHED, "cairn_txn_abort");
    txn_end(sl);
}

static void op_free(reader *r)
{
    int s = rd_u8(r) % NSLOTS;
    cairn_txn_free(NULL);
    slot_release(s);
}

static void op_restart(reader *r)
{
    int s = rd_u8(r) % NSLOTS;
    txn_slot *sl = &g.s[s];
    if (!sl->present) {
        expect_status(cairn_txn_restart(NULL), CAIRN_INVALID_ARGUMENT, "cairn_txn_restart(NULL)");
        return;
    }
    cairn_status want = sl->active || g.nactive >= MAX_OPEN ? CAIRN_BUSY : CAIRN_OK;
    if (want == CAIRN_OK)
        drop_iters(s, false); /* event iterators first */
    expect_status(cairn_txn_restart(sl->h), want, "cairn_txn_restart");
    if (want != CAIRN_OK)
        return;
    drop_iters(s, true);
    txn_start(sl);
}

static void op_txn_info(reader *r)
{
    int s = rd_u8(r) % NSLOTS;
    txn_slot *sl = &g.s[s];
    if (cairn_txn_is_active(NULL) || cairn_txn_snapshot_version(NULL) || cairn_txn_commit_version(NULL) ||
        cairn_txn_now_us(NULL) || cairn_txn_db(NULL) || cairn_txn_errmsg(NULL) == NULL)
        fail("an accessor misreads a NULL transaction");
    if (!sl->present)
        return;
    if (cairn_txn_is_active(sl->h) != sl->active || cairn_txn_now_us(sl->h) != sl->now ||
        cairn_txn_snapshot_version(sl->h) != sl->snap || cairn_txn_commit_version(sl->h) != sl->commit_ver ||
        cairn_txn_db(sl->h) != g.db || cairn_txn_errmsg(sl->h) == NULL)
        fail("a transaction's accessors disagree with the model (active %d/%d, snapshot %llu/%llu, commit %llu/%llu)",
             cairn_txn_is_active(sl->h), sl->active, (unsigned long long)cairn_txn_snapshot_version(sl->h),
             (unsigned long long)sl->snap, (unsigned long long)cairn_txn_commit_version(sl->h),
             (unsigned long long)sl->commit_ver);
}

/* ---- iterators ------------------------------------------------------------------------------------------------- */

/*
 * A write in the transaction of open iterators.  txn.h: "Writes made after
 * it opened are not part of it", for keys the transaction had written
 * before the open too.  An event iterator by type reads each event as it
 * reaches it (eventlog.h): an event the transaction deleted meanwhile (its
 * run deleted) answers CAIRN_NOT_FOUND, so such an iterator's answers are
 * only checked loosely; -DFUZZ_API_STRICT checks them to the letter.
 */
static void iter_written(int s)
{
#ifndef FUZZ_API_STRICT
    for (int i = 0; i < NITERS; i++) {
        iter_slot *it = &g.it[i];
        if (it->used && it->slot == s && it->gen == g.s[s].gen && it->by_type)
            it->loose = true;
    }
#else
    (void)s;
#endif
}

static void iter_step(int i, bool null)
{
    iter_slot *it = &g.it[i];
    if (!it->used)
        return;
    const txn_slot *sl = &g.s[it->slot];
    bool finished = !sl->present || sl->gen != it->gen || !sl->active;
    tscript want = {{0}}, got = {{0}};
    if (it->event && null)
        ts_status(&want, CAIRN_INVALID_ARGUMENT);
    else if (finished)
        ts_status(&want, CAIRN_TXN_FINISHED);
    else if (null)
        ts_status(&want, CAIRN_INVALID_ARGUMENT);
    else if (it->pos < it->items.n)
        want = ts_copy(VAT(it->items, tscript, it->pos++));
    else
        ts_status(&want, CAIRN_DONE);
    if (it->event) {
        cairn_event_view ev;
        cairn_status st = cairn_event_iter_next(it->h, null ? NULL : &ev);
        ts_status(&got, st);
        if (st == CAIRN_OK)
            ts_event_view(&got, &ev);
    } else {
        cairn_slice k, v;
        cairn_status st = cairn_iter_next(it->h, null ? NULL : &k, &v);
        ts_status(&got, st);
        if (st == CAIRN_OK) {
            ts_sl(&got, "key", k);
            ts_sl(&got, "value", v);
        }
    }
    cairn_status st = (cairn_status)VAT(got.f, tfield, 0)->v;
    if (it->loose && !finished && !null) {
        if (st != CAIRN_OK && st != CAIRN_DONE && !(it->by_type && st == CAIRN_NOT_FOUND))
            fail("an iterator after its transaction's writes answered %s", cairn_status_name(st));
    } else {
        ts_expect(&want, &got, it->event ? "cairn_event_iter_next" : "cairn_iter_next");
    }
    if (g_trace)
        fprintf(stderr, "        iterator %d -> %s\n", i, cairn_status_name((cairn_status)VAT(got.f, tfield, 0)->v));
    ts_free(&want);
    ts_free(&got);
}

static void op_iter_next(reader *r)
{
    int i = rd_u8(r) % NITERS;
    iter_step(i, rd_u8(r) % 8 == 7);
}

static void op_iter_free(reader *r)
{
    int i = rd_u8(r) % NITERS;
    cairn_iter_free(NULL);
    cairn_event_iter_free(NULL);
    cairn_event_view ev;
    cairn_slice k, v;
    if (cairn_event_iter_next(NULL, &ev) != CAIRN_INVALID_ARGUMENT ||
        cairn_iter_next(NULL, &k, &v) != CAIRN_INVALID_ARGUMENT)
        fail("an iterator call accepts a NULL iterator");
    iter_clear(&g.it[i], true);
}

/* ---- key encoding and other pure functions ---------------------------------------------------------------------- */

static cairn_tag pick_tag(uint8_t b)
{
    static const uint8_t tags[8] = {0, 1, 2, 3, 4, 5, 6, 0x10};
    return (cairn_tag)tags[b % 8];
}

static void check_key(const cairn_key *k, const uint8_t *want, size_t len, const char *what)
{
    if (k->len != len || memcmp(k->bytes, want, len) != 0)
        fail("%s built %u bytes, the model %zu (or other bytes)", what, k->len, len);
}

static void op_keys(reader *r)
{
    uint8_t sub = rd_u8(r) % 5;
    if (sub == 0) {
        /* init or make, then appends */
        int run = rd_run(r, true);
        cairn_tag tag = pick_tag(rd_u8(r));
        bool nullkey = rd_u8(r) % 16 == 0, make = rd_u8(r) & 1;
        cairn_slice first = gen_bytes(r, CAIRN_KEY_REST_MAX);
        cairn_run_id tmp;
        const cairn_run_id *id = run_ptr(run, &tmp);
        cairn_key key;
        uint8_t want[CAIRN_KEY_MAX + 16];
        size_t wlen = 0;
        cairn_status st = make ? cairn_key_make(nullkey ? NULL : &key, id, tag, first)
                               : cairn_key_init(nullkey ? NULL : &key, id, tag);
        cairn_status exp = CAIRN_OK;
        if (nullkey || id == NULL || tag < 1 || tag > 5 || ((run == RUN_ZERO) != (tag == CAIRN_TAG_RUN)))
            exp = CAIRN_INVALID_ARGUMENT;
        if (exp == CAIRN_OK) {
            memcpy(want, id->bytes, CAIRN_RUN_ID_SIZE);
            want[CAIRN_RUN_ID_SIZE] = (uint8_t)tag;
            wlen = CAIRN_KEY_PREFIX_SIZE;
            if (make) {
                if (first.data == NULL && first.len)
                    exp = CAIRN_INVALID_ARGUMENT;
                else if (first.len > CAIRN_KEY_REST_MAX)
                    exp = CAIRN_TOO_LARGE;
                else {
                    if (first.len)
                        memcpy(want + wlen, first.data, first.len);
                    wlen += first.len;
                }
            }
        }
        expect_status(st, exp, make ? "cairn_key_make" : "cairn_key_init");
        if (nullkey || (st != CAIRN_OK && !make) || (make && exp == CAIRN_INVALID_ARGUMENT && wlen == 0))
            return;
        check_key(&key, want, wlen, "cairn_key_init/make");
        for (int n = rd_u8(r) % 5; n > 0; n--) {
            uint8_t kind = rd_u8(r) % 5;
            cairn_slice b = gen_bytes(r, CAIRN_KEY_FIELD_MAX);
            uint8_t u8 = rd_u8(r);
            uint64_t u64 = (uint64_t)rd_u32(r) << 32 | rd_u32(r);
            size_t room = CAIRN_KEY_MAX - wlen;
            switch (kind) {
            case 0:
                exp = b.data == NULL && b.len ? CAIRN_INVALID_ARGUMENT : b.len > room ? CAIRN_TOO_LARGE : CAIRN_OK;
                st = cairn_key_append(&key, b);
                if (exp == CAIRN_OK) {
                    if (b.len)
                        memcpy(want + wlen, b.data, b.len);
                    wlen += b.len;
                }
                break;
            case 1:
                exp = b.data == NULL && b.len ? CAIRN_INVALID_ARGUMENT
                      : b.len > CAIRN_KEY_FIELD_MAX || b.len + 2 > room ? CAIRN_TOO_LARGE : CAIRN_OK;
                st = cairn_key_append_field(&key, b);
                if (exp == CAIRN_OK) {
                    want[wlen] = (uint8_t)(b.len >> 8);
                    want[wlen + 1] = (uint8_t)b.len;
                    if (b.len)
                        memcpy(want + wlen + 2, b.data, b.len);
                    wlen += 2 + b.len;
                }
                break;
            case 2:
                exp = room < 1 ? CAIRN_TOO_LARGE : CAIRN_OK;
                st = cairn_key_append_u8(&key, u8);
                if (exp == CAIRN_OK)
                    want[wlen++] = u8;
                break;
            case 3:
                exp = room < 8 ? CAIRN_TOO_LARGE : CAIRN_OK;
                st = cairn_key_append_u64(&key, u64);
                if (exp == CAIRN_OK) {
                    put_be(want + wlen, u64, 8);
                    wlen += 8;
                }
                break;
            default: {
                /* a hand-made length past CAIRN_KEY_MAX is refused */
                cairn_key bad = key;
                bad.len = CAIRN_KEY_MAX + 1;
                exp = CAIRN_INVALID_ARGUMENT;
                st = u8 & 1 ? cairn_key_append(&bad, g_pool[0]) : cairn_key_append_field(&bad, g_pool[0]);
                if (st == exp && cairn_key_append(NULL, g_pool[0]) != CAIRN_INVALID_ARGUMENT)
                    st = CAIRN_OK;
                break;
            }
            }
            expect_status(st, exp, "cairn_key_append*");
            check_key(&key, want, wlen, "cairn_key_append*");
        }
        /* decode and prefix_end of what was built */
        cairn_run_id drun;
        cairn_tag dtag;
        cairn_slice rest;
        expect_status(cairn_key_decode(cairn_key_slice(&key), &drun, &dtag, &rest), CAIRN_OK, "cairn_key_decode");
        if (memcmp(drun.bytes, want, CAIRN_RUN_ID_SIZE) != 0 || dtag != tag ||
            !beq(rest.data, rest.len, want + CAIRN_KEY_PREFIX_SIZE, wlen - CAIRN_KEY_PREFIX_SIZE))
            fail("cairn_key_decode splits a key wrongly");
        cairn_key end;
        bool alias = rd_u8(r) & 1;
        expect_status(cairn_key_prefix_end(&key, alias ? &key : &end), CAIRN_OK, "cairn_key_prefix_end");
        size_t n = wlen;
        while (n > 0 && want[n - 1] == 0xFF)
            n--;
        if (n > 0)
            want[n - 1]++;
        check_key(alias ? &key : &end, want, n, "cairn_key_prefix_end");
        return;
    }
    if (sub == 1) {
        /* decoding arbitrary slices */
        rawkey k;
        d_rawkey(r, &k);
        uint8_t buf[CAIRN_KEY_MAX + 16];
        memset(buf, 0, sizeof buf);
        size_t len = k.mode == RK_NULL ? 0 : rawkey_bytes(&k, buf);
        bool nulldata = k.mode == RK_NULL;
        cairn_slice s = cairn_slice_of(nulldata ? NULL : buf, nulldata ? 5 : len);
        cairn_status exp = CAIRN_OK;
        if (nulldata || len < CAIRN_KEY_PREFIX_SIZE || len > CAIRN_KEY_MAX)
            exp = CAIRN_INVALID_ARGUMENT;
        else {
            bool zero = memcmp(buf, g_zero_id.bytes, CAIRN_RUN_ID_SIZE) == 0;
            uint8_t tag = buf[CAIRN_RUN_ID_SIZE];
            if (tag < 1 || tag > 5 || zero != (tag == CAIRN_TAG_RUN))
                exp = CAIRN_INVALID_ARGUMENT;
        }
        cairn_run_id drun;
        cairn_tag dtag;
        cairn_slice rest;
        uint8_t nb = rd_u8(r);
        cairn_status st = cairn_key_decode(s, nb & 1 ? NULL : &drun, nb & 2 ? NULL : &dtag, nb & 4 ? NULL : &rest);
        expect_status(st, exp, "cairn_key_decode");
        if (st == CAIRN_OK && !(nb & 4) && (rest.len != len - CAIRN_KEY_PREFIX_SIZE || rest.data != buf + CAIRN_KEY_PREFIX_SIZE))
            fail("cairn_key_decode returns the wrong rest");
        if (st == CAIRN_OK && !(nb & 2) && dtag != buf[CAIRN_RUN_ID_SIZE])
            fail("cairn_key_decode returns the wrong tag");
        cairn_key pk;
        if (cairn_key_prefix_end(NULL, &pk) != CAIRN_INVALID_ARGUMENT || cairn_key_prefix_end(&pk, NULL) != CAIRN_INVALID_ARGUMENT)
            fail("cairn_key_prefix_end accepts NULL");
        /* prefix_end of all-0xFF bytes has no bound: length 0 */
        memset(pk.bytes, 0xFF, sizeof pk.bytes);
        pk.len = 1 + nb % 40;
        cairn_key pe;
        expect_status(cairn_key_prefix_end(&pk, &pe), CAIRN_OK, "cairn_key_prefix_end");
        if (pe.len != 0)
            fail("cairn_key_prefix_end of 0xFF bytes is not empty");
        pk.len = CAIRN_KEY_MAX + 1;
        expect_status(cairn_key_prefix_end(&pk, &pe), CAIRN_INVALID_ARGUMENT, "cairn_key_prefix_end");
        return;
    }
    if (sub == 2) {
        /* run id text */
        cairn_run_id id;
        for (int i = 0; i < CAIRN_RUN_ID_SIZE; i++)
            id.bytes[i] = rd_u8(r);
        char text[CAIRN_RUN_ID_TEXT_LEN + 8], want[CAIRN_RUN_ID_TEXT_LEN + 1];
        static const char hex[] = "0123456789abcdef";
        size_t p = 0;
        for (int i = 0; i < CAIRN_RUN_ID_SIZE; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10)
                want[p++] = '-';
            want[p++] = hex[id.bytes[i] >> 4];
            want[p++] = hex[id.bytes[i] & 15];
        }
        want[p] = '\0';
        memset(text, 'Z', sizeof text);
        expect_status(cairn_run_id_format(&id, text), CAIRN_OK, "cairn_run_id_format");
        if (strcmp(text, want) != 0)
            fail("cairn_run_id_format wrote %s, the model %s", text, want);
        if (cairn_run_id_format(NULL, text) != CAIRN_INVALID_ARGUMENT || cairn_run_id_format(&id, NULL) != CAIRN_INVALID_ARGUMENT)
            fail("cairn_run_id_format accepts NULL");
        uint8_t how = rd_u8(r), at = rd_u8(r) % CAIRN_RUN_ID_TEXT_LEN, ch = rd_u8(r);
        size_t len = CAIRN_RUN_ID_TEXT_LEN;
        bool valid = true;
        if (how % 4 == 1) {
            for (size_t i = 0; i < len; i++)
                if (text[i] >= 'a' && text[i] <= 'f')
                    text[i] = (char)(text[i] - 'a' + 'A');
        } else if (how % 4 == 2) {
            text[at] = (char)ch;
            bool dash = at == 8 || at == 13 || at == 18 || at == 23;
            bool hexch = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
            valid = dash ? ch == '-' : hexch;
            if (valid) { /* the id the text now names */
                cairn_run_id again;
                expect_status(cairn_run_id_parse(text, len, &again), CAIRN_OK, "cairn_run_id_parse");
                char t2[CAIRN_RUN_ID_TEXT_LEN + 1];
                cairn_run_id_format(&again, t2);
                for (size_t i = 0; i < len; i++)
                    if (t2[i] != (text[i] >= 'A' && text[i] <= 'F' ? text[i] - 'A' + 'a' : text[i]))
                        fail("cairn_run_id_parse misreads %.*s", (int)len, text);
                return;
            }
        } else if (how % 4 == 3) {
            len = how & 4 ? len - 1 : len + 1;
            valid = false;
        }
        cairn_run_id out;
        memset(&out, 0x5A, sizeof out);
        cairn_status st = cairn_run_id_parse(how % 16 == 15 ? NULL : text, len, &out);
        expect_status(st, valid && how % 16 != 15 ? CAIRN_OK : CAIRN_INVALID_ARGUMENT, "cairn_run_id_parse");
        if (st == CAIRN_OK && memcmp(out.bytes, id.bytes, CAIRN_RUN_ID_SIZE) != 0)
            fail("cairn_run_id_parse does not give back the formatted id");
        if (st != CAIRN_OK) {
            for (int i = 0; i < CAIRN_RUN_ID_SIZE; i++)
                if (out.bytes[i] != 0x5A)
                    fail("a failing cairn_run_id_parse changed the id");
        }
        if (cairn_run_id_parse(want, CAIRN_RUN_ID_TEXT_LEN, NULL) != CAIRN_INVALID_ARGUMENT)
            fail("cairn_run_id_parse accepts a NULL id");
        return;
    }
    if (sub == 3) {
        static const char *const names[CAIRN_STATUS_COUNT] = {
            "CAIRN_OK", "CAIRN_NOT_FOUND", "CAIRN_CONFLICT", "CAIRN_INVALID_ARGUMENT", "CAIRN_TOO_LARGE",
            "CAIRN_NO_MEMORY", "CAIRN_IO", "CAIRN_CORRUPT", "CAIRN_LOCKED", "CAIRN_UNSUPPORTED",
            "CAIRN_READ_ONLY", "CAIRN_TXN_FINISHED", "CAIRN_BUSY", "CAIRN_DONE", "CAIRN_EXISTS",
            "CAIRN_VERSION_MISMATCH", "CAIRN_INVALID_TRANSITION", "CAIRN_LIMIT",
        };
        int code = (int)(int8_t)rd_u8(r);
        const char *name = cairn_status_name((cairn_status)code), *msg = cairn_strerror((cairn_status)code);
        bool known = code >= 0 && code < CAIRN_STATUS_COUNT;
        if (name == NULL || msg == NULL || msg[0] == '\0' ||
            strcmp(name, known ? names[code] : "CAIRN_UNKNOWN") != 0 ||
            (!known && strcmp(msg, "unknown status") != 0))
            fail("status %d is named %s (%s)", code, name ? name : "NULL", msg ? msg : "NULL");
        return;
    }
    /* the run status table, names, the zero id */
    int from = rd_u8(r) % 8, to = rd_u8(r) % 8;
    if (cairn_run_transition_allowed((cairn_run_status)from, (cairn_run_status)to) != transition_ok(from, to))
        fail("cairn_run_transition_allowed(%d, %d) disagrees with the table", from, to);
    static const char *const run_names[8] = {"unknown", "active", "paused", "completed", "failed", "cancelled",
                                             "archived", "unknown"};
    if (strcmp(cairn_run_status_name((cairn_run_status)from), run_names[from]) != 0)
        fail("run status %d is named %s", from, cairn_run_status_name((cairn_run_status)from));
    if (cairn_trace_type_name((cairn_trace_type)from) == NULL || cairn_trace_status_name((cairn_trace_status)to) == NULL ||
        cairn_version() == NULL)
        fail("a name is NULL");
    cairn_run_id z;
    memset(&z, 0, sizeof z);
    if (cairn_run_id_is_zero(NULL) || !cairn_run_id_is_zero(&z) || cairn_run_id_is_zero(&g.ids[0]))
        fail("cairn_run_id_is_zero is wrong");
}

/* ---- the clock and the database ---------------------------------------------------------------------------------------- */

static void op_clock(reader *r)
{
    uint8_t b = rd_u8(r);
    int64_t d;
    switch (b % 8) {
    case 0: d = -(int64_t)rd_u8(r); break;                 /* a clock that steps back */
    case 1: d = INT64_C(3600000000); break;                /* an hour */
    case 2: d = (int64_t)rd_u16(r) * 1000; break;
    default: d = 1 + rd_u8(r); break;
    }
    fake_clock_advance(&g.clock, d);
}

typedef struct run_body_ctx {
    int run;
    cairn_slice key, value;
    cairn_status ret;
} run_body_ctx;

static cairn_status db_run_body(cairn_txn *txn, void *p)
{
    run_body_ctx *c = p;
    cairn_run_id tmp;
    cairn_status st = cairn_kv_put_tx(txn, run_ptr(c->run, &tmp), c->key, c->value);
    return st != CAIRN_OK ? st : c->ret;
}

static void op_db_run(reader *r)
{
    static const cairn_status rets[4] = {CAIRN_OK, CAIRN_OK, CAIRN_CONFLICT, CAIRN_EXISTS};
    run_body_ctx c;
    c.run = rd_run(r, true);
    c.key = gen_bytes(r, CAIRN_KV_KEY_MAX);
    c.value = gen_value(r, MAX_VALUE);
    c.ret = rets[rd_u8(r) % 4];
    uint8_t how = rd_u8(r);
    bool nulldb = how % 16 == 1, nullfn = how % 16 == 2, ro = how % 8 == 3, badmode = how % 16 == 4,
         noattempts = how & 16;
    cairn_txn_options opts;
    cairn_txn_options_init(&opts);
    if (ro)
        opts.mode = CAIRN_TXN_READ_ONLY;
    if (badmode)
        opts.mode = (cairn_txn_mode)9;
    uint32_t attempts = 777;
    cairn_status st = cairn_db_run(nulldb ? NULL : g.db, how & 32 ? NULL : &opts, nullfn ? NULL : db_run_body, &c,
                                   noattempts ? NULL : &attempts);
    cairn_status want;
    uint32_t want_attempts = 777;
    mstate tmp;
    bool commit = false;
    mctx m;
    memset(&m, 0, sizeof m);
    tscript put = {{0}};
    if (nulldb || nullfn) {
        want = CAIRN_INVALID_ARGUMENT;
    } else if (badmode && !(how & 32)) {
        want = CAIRN_INVALID_ARGUMENT;
        want_attempts = 1;
    } else if (g.nactive >= MAX_OPEN) {
        want = CAIRN_BUSY;
        want_attempts = 2;
    } else {
        mstate_copy(&tmp, &g.st);
        op o;
        memset(&o, 0, sizeof o);
        o.run = c.run;
        o.s[0] = c.key;
        o.s[1] = c.value;
        m.s = &tmp;
        m.now = clock_now();
        m.ro = ro && !(how & 32);
        m.out = &put;
        m_kv_put(&m, &o);
        want = (cairn_status)VAT(put.f, tfield, 0)->v;
        want_attempts = 1;
        if (want == CAIRN_OK) {
            want = c.ret;
            if (want == CAIRN_CONFLICT)
                want_attempts = 2;
            commit = want == CAIRN_OK;
        }
        if (commit) {
            mstate_free(&g.st);
            g.st = tmp;
            if (m.wrote) {
                g.version++;
                record_commit(m.wr);
            }
        } else {
            mstate_free(&tmp);
        }
    }
    ts_free(&put);
    expect_status(st, want, "cairn_db_run");
    if (!noattempts && attempts != want_attempts)
        fail("cairn_db_run reports %u attempts, the model %u", attempts, want_attempts);
}

static void op_db_misc(reader *r)
{
    uint8_t sub = rd_u8(r) % 7;
    switch (sub) {
    case 0: {
        cairn_stats s;
        expect_status(cairn_db_stats(g.db, &s), CAIRN_OK, "cairn_db_stats");
        if (s.visible_version != g.version || s.open_txns != (uint64_t)g.nactive)
            fail("stats: visible version %llu (model %llu), open transactions %llu (model %d)",
                 (unsigned long long)s.visible_version, (unsigned long long)g.version,
                 (unsigned long long)s.open_txns, g.nactive);
        if (cairn_db_stats(NULL, &s) != CAIRN_INVALID_ARGUMENT || cairn_db_stats(g.db, NULL) != CAIRN_INVALID_ARGUMENT)
            fail("cairn_db_stats accepts NULL");
        return;
    }
    case 1: {
        cairn_run_id id;
        expect_status(cairn_run_id_generate(g.db, &id), CAIRN_OK, "cairn_run_id_generate");
        check_generated(&id);
        if (cairn_run_id_generate(NULL, &id) != CAIRN_INVALID_ARGUMENT ||
            cairn_run_id_generate(g.db, NULL) != CAIRN_INVALID_ARGUMENT)
            fail("cairn_run_id_generate accepts NULL");
        return;
    }
    case 2:
        if (cairn_db_now_us(g.db) != clock_now() || cairn_db_now_us(NULL) != 0)
            fail("cairn_db_now_us is not the clock");
        return;
    case 3: {
        expect_status(cairn_db_checkpoint(g.db), CAIRN_UNSUPPORTED, "cairn_db_checkpoint");
        cairn_recovery_report rep;
        expect_status(cairn_db_recovery_report(g.db, &rep), CAIRN_OK, "cairn_db_recovery_report");
        if (rep.durable)
            fail("an in-memory database reports itself durable");
        return;
    }
    case 4: {
        char buf[16];
        size_t cap = rd_u8(r) % sizeof buf;
        memset(buf, 'X', sizeof buf);
        size_t n = cairn_db_errmsg(g.db, cap ? buf : NULL, cap);
        if (cap && (memchr(buf, '\0', cap) == NULL || strlen(buf) > n))
            fail("cairn_db_errmsg wrote no terminated prefix of its message");
        if (cairn_db_errmsg(NULL, buf, sizeof buf) != 0 || buf[0] != '\0')
            fail("cairn_db_errmsg(NULL) is not empty");
        return;
    }
    case 5: {
        cairn_options o;
        cairn_options_init(&o);
        switch (rd_u8(r) % 6) {
        case 0: o.max_value_size = 0; break;
        case 1: o.max_open_txns = 0; break;
        case 2: o.retry_backoff_min_us = 5; o.retry_backoff_max_us = 1; break;
        case 3: o.max_retries = 0; break;
        case 4: o.durability = (cairn_durability)9; break;
        default: o.max_txn_bytes = 0; break;
        }
        cairn_db *db = (cairn_db *)&o;
        char err[64];
        expect_status(cairn_db_open(NULL, &o, &db, err, sizeof err), CAIRN_INVALID_ARGUMENT, "cairn_db_open");
        if (db != NULL || err[0] == '\0')
            fail("a failing cairn_db_open leaves *dbp set or no message");
        expect_status(cairn_db_open(NULL, NULL, NULL, NULL, 0), CAIRN_INVALID_ARGUMENT, "cairn_db_open(dbp NULL)");
        expect_status(cairn_db_open("", NULL, &db, NULL, 0), CAIRN_INVALID_ARGUMENT, "cairn_db_open(\"\")");
        return;
    }
    default:
        expect_status(cairn_db_close(NULL), CAIRN_INVALID_ARGUMENT, "cairn_db_close(NULL)");
        if (g.nactive)
            expect_status(cairn_db_close(g.db), CAIRN_BUSY, "cairn_db_close with active transactions");
        return;
    }
}

/* ---- the operations ------------------------------------------------------------------------------------------------------- */

enum {
    K_KV_GET, K_KV_EXISTS, K_KV_GET_MANY, K_KV_PUT, K_KV_PUT_TTL, K_KV_DELETE, K_KV_LIST, K_KV_SWEEP,
    K_EV_APPEND, K_EV_APPEND_EXPECT, K_EV_APPEND_ONCE, K_EV_READ, K_EV_LEN, K_EV_HEAD, K_EV_ITER_RANGE,
    K_EV_ITER_TYPE, K_EV_TYPES, K_EV_VERIFY, K_EV_VERIFY_FROM,
    K_CELL_READ, K_CELL_EXISTS, K_CELL_INIT, K_CELL_CAS, K_CELL_SET, K_CELL_DELETE, K_CELL_TRANSITION,
    K_CELL_TRANSITION_INIT, K_CELL_LIST,
    K_TR_RECORD, K_TR_RECORD_CHILD, K_TR_RECORD_ID, K_TR_FINISH, K_TR_GET, K_TR_TREE, K_TR_CHECK,
    K_TR_BY_TYPE, K_TR_BY_TAG, K_TR_BY_TIME, K_TR_CHILDREN, K_TR_ROOTS,
    K_RUN_CREATE, K_RUN_GET, K_RUN_GET_BY_NAME, K_RUN_STATUS, K_RUN_NAMED, K_RUN_FAIL, K_RUN_ADD_TAG,
    K_RUN_REMOVE_TAG, K_RUN_METADATA, K_RUN_DELETE, K_RUN_LIST_ALL, K_RUN_BY_STATUS, K_RUN_BY_TAG,
    K_RUN_BY_STATUS_TAG, K_RUN_CHILDREN, K_RUN_BY_TIME, K_RUN_COUNT, K_RUN_CHECK, K_RUN_WRITABLE,
    K_TXN_GET, K_TXN_PUT, K_TXN_PUT_EXPIRING, K_TXN_DELETE, K_TXN_GET_MANY, K_TXN_SCAN, K_TXN_BULK,
    K_BEGIN, K_BEGIN2, K_COMMIT, K_COMMIT2, K_ABORT, K_FREE, K_RESTART, K_TXN_INFO, K_ITER_NEXT,
    K_ITER_NEXT2, K_ITER_FREE, K_KEYS, K_CLOCK, K_DB_RUN, K_DB_MISC,
    NOPS
};

static const opdef g_ops[NOPS] = {
    [K_KV_GET] = {"cairn_kv_get", F_BOTH, 0, IT_NONE, d_kv_key, m_kv_get, a_kv_get, NULL},
    [K_KV_EXISTS] = {"cairn_kv_exists", F_BOTH, 0, IT_NONE, d_kv_key, m_kv_exists, a_kv_exists, NULL},
    [K_KV_GET_MANY] = {"cairn_kv_get_many", F_BOTH, 0, IT_NONE, d_kv_get_many, m_kv_get_many, a_kv_get_many, NULL},
    [K_KV_PUT] = {"cairn_kv_put", F_BOTH, 0, IT_NONE, d_kv_put, m_kv_put, a_kv_put, NULL},
    [K_KV_PUT_TTL] = {"cairn_kv_put_ttl", F_BOTH, 0, IT_NONE, d_kv_put, m_kv_put_ttl, a_kv_put_ttl, NULL},
    [K_KV_DELETE] = {"cairn_kv_delete", F_BOTH, 0, IT_NONE, d_kv_key, m_kv_delete, a_kv_delete, NULL},
    [K_KV_LIST] = {"cairn_kv_list_keys/pairs", F_BOTH, 0, IT_NONE, d_kv_list, m_kv_list, a_kv_list, NULL},
    [K_KV_SWEEP] = {"cairn_kv_sweep_expired", F_IMPL, 0, IT_NONE, d_kv_sweep, m_kv_sweep, a_kv_sweep, NULL},
    [K_EV_APPEND] = {"cairn_event_append", F_BOTH, 0, IT_NONE, d_ev_append, m_ev_append, a_ev_append, NULL},
    [K_EV_APPEND_EXPECT] = {"cairn_event_append_expect", F_BOTH, 1, IT_NONE, d_ev_append, m_ev_append, a_ev_append, NULL},
    [K_EV_APPEND_ONCE] = {"cairn_event_append_once", F_BOTH, 2, IT_NONE, d_ev_append, m_ev_append, a_ev_append, NULL},
    [K_EV_READ] = {"cairn_event_read", F_BOTH, 0, IT_NONE, d_ev_read, m_ev_read, a_ev_read, NULL},
    [K_EV_LEN] = {"cairn_event_len", F_BOTH, 1, IT_NONE, d_ev_read, m_ev_read, a_ev_read, NULL},
    [K_EV_HEAD] = {"cairn_event_head", F_BOTH, 2, IT_NONE, d_ev_read, m_ev_read, a_ev_read, NULL},
    [K_EV_ITER_RANGE] = {"cairn_event_iter_range", F_TX, 0, IT_EVENT, d_ev_iter, m_ev_iter, a_ev_iter, NULL},
    [K_EV_ITER_TYPE] = {"cairn_event_iter_type", F_TX, 1, IT_EVENT, d_ev_iter, m_ev_iter, a_ev_iter, NULL},
    [K_EV_TYPES] = {"cairn_event_list_types", F_BOTH, 0, IT_NONE, d_ev_misc, m_ev_misc, a_ev_misc, NULL},
    [K_EV_VERIFY] = {"cairn_event_verify", F_BOTH, 1, IT_NONE, d_ev_misc, m_ev_misc, a_ev_misc, NULL},
    [K_EV_VERIFY_FROM] = {"cairn_event_verify_from", F_BOTH, 2, IT_NONE, d_ev_misc, m_ev_misc, a_ev_misc, NULL},
    [K_CELL_READ] = {"cairn_cell_read", F_BOTH, 0, IT_NONE, d_cell, m_cell_read, a_cell_read, NULL},
    [K_CELL_EXISTS] = {"cairn_cell_exists", F_BOTH, 1, IT_NONE, d_cell, m_cell_read, a_cell_read, NULL},
    [K_CELL_INIT] = {"cairn_cell_init", F_BOTH, 0, IT_NONE, d_cell, m_cell_write, a_cell_write, NULL},
    [K_CELL_CAS] = {"cairn_cell_cas", F_BOTH, 1, IT_NONE, d_cell, m_cell_write, a_cell_write, NULL},
    [K_CELL_SET] = {"cairn_cell_set", F_BOTH, 2, IT_NONE, d_cell, m_cell_write, a_cell_write, NULL},
    [K_CELL_DELETE] = {"cairn_cell_delete", F_BOTH, 3, IT_NONE, d_cell, m_cell_write, a_cell_write, NULL},
    [K_CELL_TRANSITION] = {"cairn_cell_transition", F_BOTH, 0, IT_NONE, d_cell, m_cell_transition, a_cell_transition, NULL},
    [K_CELL_TRANSITION_INIT] = {"cairn_cell_transition_or_init", F_BOTH, 1, IT_NONE, d_cell, m_cell_transition,
                                a_cell_transition, NULL},
    [K_CELL_LIST] = {"cairn_cell_list_names", F_BOTH, 0, IT_NONE, d_cell_list, m_cell_list, a_cell_list, NULL},
    [K_TR_RECORD] = {"cairn_trace_record", F_BOTH, 0, IT_NONE, d_tr_record, m_tr_record, a_tr_record, NULL},
    [K_TR_RECORD_CHILD] = {"cairn_trace_record_child", F_BOTH, 1, IT_NONE, d_tr_record, m_tr_record, a_tr_record, NULL},
    [K_TR_RECORD_ID] = {"cairn_trace_record_id", F_BOTH, 2, IT_NONE, d_tr_record, m_tr_record, a_tr_record, NULL},
    [K_TR_FINISH] = {"cairn_trace_finish", F_BOTH, 0, IT_NONE, d_tr_finish, m_tr_finish, a_tr_finish, NULL},
    [K_TR_GET] = {"cairn_trace_get", F_BOTH, 0, IT_NONE, d_tr_get, m_tr_get, a_tr_get, NULL},
    [K_TR_TREE] = {"cairn_trace_get_tree", F_BOTH, 1, IT_NONE, d_tr_get, m_tr_get, a_tr_get, NULL},
    [K_TR_CHECK] = {"cairn_trace_check", F_BOTH, 2, IT_NONE, d_tr_get, m_tr_get, a_tr_get, NULL},
    [K_TR_BY_TYPE] = {"cairn_trace_by_type", F_BOTH, 0, IT_NONE, d_tr_query, m_tr_query, a_tr_query, NULL},
    [K_TR_BY_TAG] = {"cairn_trace_by_tag", F_BOTH, 1, IT_NONE, d_tr_query, m_tr_query, a_tr_query, NULL},
    [K_TR_BY_TIME] = {"cairn_trace_by_time", F_BOTH, 2, IT_NONE, d_tr_query, m_tr_query, a_tr_query, NULL},
    [K_TR_CHILDREN] = {"cairn_trace_children", F_BOTH, 3, IT_NONE, d_tr_query, m_tr_query, a_tr_query, NULL},
    [K_TR_ROOTS] = {"cairn_trace_roots", F_BOTH, 4, IT_NONE, d_tr_query, m_tr_query, a_tr_query, NULL},
    [K_RUN_CREATE] = {"cairn_run_create", F_BOTH, 0, IT_NONE, d_run_create, m_run_create, a_run_create, NULL},
    [K_RUN_GET] = {"cairn_run_get", F_BOTH, 0, IT_NONE, d_run_get, m_run_get, a_run_get, NULL},
    [K_RUN_GET_BY_NAME] = {"cairn_run_get_by_name", F_BOTH, 1, IT_NONE, d_run_get, m_run_get, a_run_get, NULL},
    [K_RUN_STATUS] = {"cairn_run_update_status", F_BOTH, 0, IT_NONE, d_run_edit, m_run_edit, a_run_edit, NULL},
    [K_RUN_NAMED] = {"cairn_run_complete/pause/resume/cancel/archive", F_BOTH, 1, IT_NONE, d_run_edit, m_run_edit,
                     a_run_edit, NULL},
    [K_RUN_FAIL] = {"cairn_run_fail", F_BOTH, 2, IT_NONE, d_run_edit, m_run_edit, a_run_edit, NULL},
    [K_RUN_ADD_TAG] = {"cairn_run_add_tag", F_BOTH, 3, IT_NONE, d_run_edit, m_run_edit, a_run_edit, NULL},
    [K_RUN_REMOVE_TAG] = {"cairn_run_remove_tag", F_BOTH, 4, IT_NONE, d_run_edit, m_run_edit, a_run_edit, NULL},
    [K_RUN_METADATA] = {"cairn_run_set_metadata", F_BOTH, 5, IT_NONE, d_run_edit, m_run_edit, a_run_edit, NULL},
    [K_RUN_DELETE] = {"cairn_run_delete", F_BOTH, 0, IT_NONE, d_run_edit, m_run_delete, a_run_delete, NULL},
    [K_RUN_LIST_ALL] = {"cairn_run_list_all", F_BOTH, 0, IT_NONE, d_run_query, m_run_query, a_run_query, NULL},
    [K_RUN_BY_STATUS] = {"cairn_run_by_status", F_BOTH, 1, IT_NONE, d_run_query, m_run_query, a_run_query, NULL},
    [K_RUN_BY_TAG] = {"cairn_run_by_tag", F_BOTH, 2, IT_NONE, d_run_query, m_run_query, a_run_query, NULL},
    [K_RUN_BY_STATUS_TAG] = {"cairn_run_by_status_tag", F_BOTH, 3, IT_NONE, d_run_query, m_run_query, a_run_query, NULL},
    [K_RUN_CHILDREN] = {"cairn_run_children", F_BOTH, 4, IT_NONE, d_run_query, m_run_query, a_run_query, NULL},
    [K_RUN_BY_TIME] = {"cairn_run_by_time", F_BOTH, 5, IT_NONE, d_run_query, m_run_query, a_run_query, NULL},
    [K_RUN_COUNT] = {"cairn_run_count", F_BOTH, 0, IT_NONE, d_run_misc, m_run_misc, a_run_misc, NULL},
    [K_RUN_CHECK] = {"cairn_run_check", F_BOTH, 1, IT_NONE, d_run_misc, m_run_misc, a_run_misc, NULL},
    [K_RUN_WRITABLE] = {"cairn_run_check_writable_tx", F_TX, 2, IT_NONE, d_run_misc, m_run_misc, a_run_misc, NULL},
    [K_TXN_GET] = {"cairn_txn_get", F_TX, 0, IT_NONE, d_raw, m_raw, a_raw, NULL},
    [K_TXN_PUT] = {"cairn_txn_put", F_TX, 1, IT_NONE, d_raw, m_raw, a_raw, NULL},
    [K_TXN_PUT_EXPIRING] = {"cairn_txn_put_expiring", F_TX, 2, IT_NONE, d_raw, m_raw_put_expiring, a_raw, NULL},
    [K_TXN_DELETE] = {"cairn_txn_delete", F_TX, 3, IT_NONE, d_raw, m_raw, a_raw, NULL},
    [K_TXN_GET_MANY] = {"cairn_txn_get_many", F_TX, 4, IT_NONE, d_raw, m_raw_get_many, a_raw, NULL},
    [K_TXN_SCAN] = {"cairn_txn_scan/scan_prefix", F_TX, -1, IT_RAW, d_scan, m_scan, a_scan, NULL},
    [K_TXN_BULK] = {"cairn_txn_put/delete in bulk", F_TX, -1, IT_NONE, d_bulk, m_bulk, a_bulk, NULL},
    [K_BEGIN] = {"cairn_txn_begin", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_begin},
    [K_BEGIN2] = {"cairn_txn_begin", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_begin},
    [K_COMMIT] = {"cairn_txn_commit", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_commit},
    [K_COMMIT2] = {"cairn_txn_commit", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_commit},
    [K_ABORT] = {"cairn_txn_abort", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_abort},
    [K_FREE] = {"cairn_txn_free", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_free},
    [K_RESTART] = {"cairn_txn_restart", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_restart},
    [K_TXN_INFO] = {"transaction accessors", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_txn_info},
    [K_ITER_NEXT] = {"iterator next", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_iter_next},
    [K_ITER_NEXT2] = {"iterator next", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_iter_next},
    [K_ITER_FREE] = {"iterator free", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_iter_free},
    [K_KEYS] = {"keys, run ids, names", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_keys},
    [K_CLOCK] = {"clock", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_clock},
    [K_DB_RUN] = {"cairn_db_run", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_db_run},
    [K_DB_MISC] = {"database calls", F_DIRECT, 0, IT_NONE, NULL, NULL, NULL, op_db_misc},
};

static const opdef *op_def(int kind)
{
    return &g_ops[kind];
}

/* Runs one decoded operation on the library and on the model. */
static void exec_op(const opdef *d, op *o)
{
    mctx m;
    memset(&m, 0, sizeof m);
    tscript want = {{0}}, got = {{0}};
    vec items = {0};
    cairn_db *db = g.db;
    cairn_txn *t = NULL;
    txn_slot *sl = NULL;
    m.out = &want;
    m.s = &g.st;
    switch (o->target) {
    case T_NULLDB:
        db = NULL;
        m.nulldb = true;
        /* fall through */
    case T_IMPLICIT:
        m.implicit = true;
        m.busy = g.nactive >= MAX_OPEN;
        m.now = clock_now();
        break;
    case T_NULLTXN: m.nulltxn = true; break;
    default:
        sl = &g.s[o->slot];
        t = sl->h;
        if (sl->active) {
            m.s = &sl->view;
            m.now = sl->now;
            m.ro = sl->ro;
        } else {
            m.finished = true;
        }
        break;
    }
    if (d->iter)
        m.items = &items;
    g.pending_iter = NULL;
    d->api(m.implicit, db, t, o, &got);
    d->model(&m, o);
    ts_expect(&want, &got, d->name);
    if (g_trace) {
        static const char *const targets[] = {"implicit", "NULL db", "NULL txn", "txn"};
        fprintf(stderr, "op %3zu %-40s %-8s %d -> %s\n", g_opindex, d->name, targets[o->target], o->slot,
                cairn_status_name((cairn_status)VAT(got.f, tfield, 0)->v));
        if (g_trace > 1)
            ts_dump("library", &got, -1);
    }
    if (sl && sl->active && m.wrote)
        iter_written(o->slot);
    if (d->iter && g.pending_iter) {
        iter_slot *it = &g.it[o->it];
        iter_clear(it, true);
        it->used = true;
        it->event = d->iter == IT_EVENT;
        it->by_type = it->event && o->sub == 1;
        it->slot = o->slot;
        it->gen = sl->gen;
        it->h = g.pending_iter;
        it->items = items;
        memset(&items, 0, sizeof items);
    }
    for (size_t i = 0; i < items.n; i++)
        ts_free(VAT(items, tscript, i));
    free(items.p);
    if (sl && sl->active && !sl->ro) {
        logent *le = vec_push(&sl->log, sizeof *le);
        le->o = *o;
        le->ts = ts_copy(&want);
        dom_or(&sl->rd, m.rd);
        dom_or(&sl->wr, m.wr);
        sl->wrote |= m.wrote;
    }
    if (m.implicit && m.wrote) {
        g.version++;
        record_commit(m.wr);
    }
    ts_free(&want);
    ts_free(&got);
}

/* One operation: [kind][length][length bytes of arguments]; arguments
 * past the end read as zeros, the ordinary choice. */
static void step(reader *in)
{
    uint8_t code = rd_u8(in);
    size_t len = rd_u8(in);
    if (len > in->n - in->pos)
        len = in->n - in->pos;
    reader sub = {in->p + in->pos, len, 0}, *r = &sub;
    in->pos += len;
    int kind = code % NOPS;
    const opdef *d = &g_ops[kind];
    g_opname = d->name;
    if (d->form == F_DIRECT) {
        if (g_trace)
            fprintf(stderr, "op %3zu %s\n", g_opindex, d->name);
        d->direct(r);
        return;
    }
    op o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.sub = d->sub;
    int c = rd_u8(r) % 32;
    if (d->form == F_IMPL) {
        o.target = c == 11 ? T_NULLDB : T_IMPLICIT;
    } else if (c < 11 && d->form == F_BOTH) {
        o.target = T_IMPLICIT;
    } else if (c == 11 && d->form == F_BOTH) {
        o.target = T_NULLDB;
    } else if (c == 12) {
        o.target = T_NULLTXN;
    } else {
        o.slot = c % NSLOTS;
        o.target = g.s[o.slot].present ? T_SLOT : d->form == F_TX ? T_NULLTXN : T_IMPLICIT;
    }
    mstate *view = o.target == T_SLOT && g.s[o.slot].active ? &g.s[o.slot].view : &g.st;
    d->decode(r, &o, view);
    if (o.kind < 0)
        return;
    exec_op(d, &o);
}

/* ---- the end of an input: everything committed, compared through the library ------------------------------------------------ */

static void check_op(int kind, op *o)
{
    o->kind = kind;
    o->sub = g_ops[kind].sub;
    g_opname = g_ops[kind].name;
    exec_op(&g_ops[kind], o);
}

static void final_check(void)
{
    g_opname = "finishing";
    if (g.nactive)
        expect_status(cairn_db_close(g.db), CAIRN_BUSY, "cairn_db_close with active transactions");
    for (int s = 0; s < NSLOTS; s++) {
        txn_slot *sl = &g.s[s];
        if (!sl->present)
            continue;
        if (s == 0) { /* freed here; the others are left to cairn_db_close */
            slot_release(s);
            continue;
        }
        drop_iters(s, true);
        if (sl->active)
            expect_status(cairn_txn_abort(sl->h), CAIRN_OK, "cairn_txn_abort");
        txn_end(sl);
        sl->present = false;
    }
    for (int i = 0; i < NITERS; i++)
        iter_clear(&g.it[i], false);

    op o;
    for (int r = 0; r < g.nruns; r++) {
        memset(&o, 0, sizeof o);
        o.run = r;
        o.i[0] = CAIRN_LIST_LIMIT_MAX;
        check_op(K_KV_LIST, &o);
        o.sub = 1;
        g_opname = "final KV pairs";
        exec_op(&g_ops[K_KV_LIST], &o);
        if (r == RUN_S)
            continue;
        memset(&o, 0, sizeof o);
        o.run = r;
        check_op(K_EV_VERIFY, &o);
        check_op(K_EV_TYPES, &o);
        for (size_t seq = 0; seq < g.st.run[r].events.n; seq++) {
            o.i[0] = (int64_t)seq;
            check_op(K_EV_READ, &o);
        }
        memset(&o, 0, sizeof o);
        o.run = r;
        o.i[0] = CAIRN_LIST_LIMIT_MAX;
        check_op(K_CELL_LIST, &o);
        for (size_t i = 0; i < g.st.run[r].cells.n; i++) {
            memset(&o, 0, sizeof o);
            o.run = r;
            mbuf *name = &VAT(g.st.run[r].cells, cell_ent, i)->name;
            o.s[0] = cairn_slice_of(keep(name->p, name->n), name->n);
            check_op(K_CELL_READ, &o);
        }
        memset(&o, 0, sizeof o);
        o.run = r;
        check_op(K_TR_CHECK, &o);
        o.i[1] = 0;
        o.i[2] = INT64_MAX;
        o.i[3] = CAIRN_TRACE_LIMIT_MAX;
        check_op(K_TR_BY_TIME, &o);
    }
    memset(&o, 0, sizeof o);
    o.i[3] = CAIRN_RUN_LIMIT_MAX;
    check_op(K_RUN_LIST_ALL, &o);
    check_op(K_RUN_CHECK, &o);
    for (int s = CAIRN_RUN_ACTIVE; s <= CAIRN_RUN_ARCHIVED; s++) {
        o.i[0] = s;
        check_op(K_RUN_COUNT, &o);
    }

    /* the raw keys, through a read-only transaction */
    txn_slot *sl = &g.s[0];
    cairn_txn_options ro = {CAIRN_TXN_READ_ONLY, CAIRN_DURABILITY_DEFAULT};
    expect_status(cairn_txn_begin(g.db, &ro, &sl->h), CAIRN_OK, "cairn_txn_begin");
    sl->present = true;
    sl->ro = true;
    txn_start(sl);
    memset(&o, 0, sizeof o);
    o.target = T_SLOT;
    o.kind = K_TXN_SCAN;
    o.sub = 0;
    g_opname = "final raw scan";
    exec_op(&g_ops[K_TXN_SCAN], &o);
    for (size_t i = 0, n = g.it[0].items.n; i <= n; i++)
        iter_step(0, false);
    slot_release(0);
    iter_clear(&g.it[0], false);

    g_opname = "closing";
    expect_status(cairn_db_close(g.db), CAIRN_OK, "cairn_db_close");
    g.db = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_static();
    memset(&g, 0, sizeof g);
    memset(g.ids[0].bytes, 0x11, CAIRN_RUN_ID_SIZE);
    memset(g.ids[1].bytes, 0x22, CAIRN_RUN_ID_SIZE);
    g.ids[1].bytes[CAIRN_RUN_ID_SIZE - 1] = 1;
    memset(g.ids[2].bytes, 0xEE, CAIRN_RUN_ID_SIZE);
    memset(g.ids[RUN_S].bytes, 0xFF, CAIRN_RUN_ID_SIZE); /* the largest id in use: scans past its end meet nothing */
    g.ids[RUN_S].bytes[CAIRN_RUN_ID_SIZE - 1] = 0xFE;
    g.nruns = FIRST_CREATED;
    g.bulk_left = 12000;

    cairn_options opts;
    cairn_options_init(&opts);
    opts.max_value_size = MAX_VALUE;
    opts.max_open_txns = MAX_OPEN;
    opts.max_retries = 2;
    opts.retry_backoff_min_us = 0;
    opts.retry_backoff_max_us = 0;
    fake_clock_install(&g.clock, &opts);
    char err[256];
    g_opindex = 0;
    g_opname = "cairn_db_open";
    if (cairn_db_open(NULL, &opts, &g.db, err, sizeof err) != CAIRN_OK)
        fail("cairn_db_open: %s", err);

    reader r = {data, size, 0};
    for (g_opindex = 0; g_opindex < MAX_OPS && r.pos < r.n; g_opindex++)
        step(&r);
    final_check();

    mstate_free(&g.st);
    free(g.commits.p);
    keep_free_all();
    return 0;
}
