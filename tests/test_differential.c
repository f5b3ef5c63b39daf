/*
 * Differential test against RocksDB: one seeded random sequence of
 * transactions (puts, deletes, point gets, range scans with limits, commits
 * and aborts; single-threaded) is applied to an in-memory cairn database and
 * to a RocksDB OptimisticTransactionDB in a temporary directory, with the
 * same encoded key bytes.  Every read must agree, and after the sequence a
 * full scan of each must give identical contents.  A plain in-memory model
 * is kept alongside, so a divergence also says which side departs from it.
 *
 * Keys come from a small space (KEY_SPACE) so that overwrites, deletes of
 * absent keys and scans over deleted ranges are common.  Their rests are
 * the decimal numbers, unpadded, so some keys are prefixes of others and
 * byte order differs from numeric order.
 */
#include <criterion/criterion.h>

#include <stdarg.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <rocksdb/c.h>
#pragma GCC diagnostic pop

#include "helpers.h"

#define KEY_SPACE 2000u
#define OPS_PER_SEED 20000u
#define VALUE_MAX 200u
#define TXN_OPS_MAX 20u
#define ABORT_PERCENT 10u
#define SCAN_LIMIT_MAX 40u

static const uint64_t seeds[] = {1, 2, 3, 0xC0FFEEu, 0x5EED5EEDu};

/* ---- the model ----------------------------------------------------------- */

typedef struct mval {
    bool present;
    uint16_t len;
    uint8_t bytes[VALUE_MAX];
} mval;

typedef struct diff_ctx {
    uint64_t seed;
    uint64_t step;
    cairn_run_id run;
    cairn_key keys[KEY_SPACE];
    uint32_t order[KEY_SPACE];  /* key indices in ascending encoded-byte order */
    mval committed[KEY_SPACE];
    mval pending[KEY_SPACE];    /* the open transaction's view */
    bool touched[KEY_SPACE];

    cairn_db *cdb;
    cairn_txn *ctxn;

    char dir[256];
    rocksdb_options_t *ropts;
    rocksdb_optimistictransactiondb_t *odb;
    rocksdb_writeoptions_t *wopts;
    rocksdb_readoptions_t *readopts;
    rocksdb_optimistictransaction_options_t *otxopts;
    rocksdb_transaction_t *rtxn;
} diff_ctx;

static int key_cmp(const cairn_key *a, const cairn_key *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->bytes, b->bytes, n);
    if (c != 0)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

static diff_ctx *sort_ctx;

static int order_cmp(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return key_cmp(&sort_ctx->keys[a], &sort_ctx->keys[b]);
}

/* ---- failure reporting --------------------------------------------------- */

static void key_text(const diff_ctx *d, cairn_slice k, char *out, size_t cap)
{
    if (k.len >= CAIRN_KEY_PREFIX_SIZE &&
        memcmp(k.data, d->run.bytes, CAIRN_RUN_ID_SIZE) == 0) {
        snprintf(out, cap, "\"%.*s\"", (int)(k.len - CAIRN_KEY_PREFIX_SIZE),
                 (const char *)k.data + CAIRN_KEY_PREFIX_SIZE);
    } else {
        snprintf(out, cap, "<%zu foreign bytes>", k.len);
    }
}

#define DIVERGE(d, ...) diverge((d), __FILE__, __LINE__, __VA_ARGS__)

static void diverge(const diff_ctx *d, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

static void diverge(const diff_ctx *d, const char *file, int line, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cr_assert_fail("%s:%d: divergence at seed %llu, step %llu: %s", file, line,
                   (unsigned long long)d->seed, (unsigned long long)d->step, msg);
    abort();
}

/* Which side agrees with the model, for messages. */
static const char *who(bool cairn_ok, bool rocks_ok)
{
    if (cairn_ok && !rocks_ok)
        return "cairn matches the model, RocksDB does not";
    if (!cairn_ok && rocks_ok)
        return "RocksDB matches the model, cairn does not";
    if (!cairn_ok && !rocks_ok)
        return "neither matches the model";
    return "both match the model";
}

static bool mval_eq(const mval *m, bool present, cairn_slice v)
{
    if (m->present != present)
        return false;
    return !present || (m->len == v.len && (v.len == 0 || bytes_eq(m->bytes, v.data, v.len)));
}

/* ---- setup and teardown --------------------------------------------------- */

static void rocks_check(diff_ctx *d, char *err, const char *what)
{
    if (err != NULL) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", err);
        rocksdb_free(err);
        DIVERGE(d, "RocksDB %s failed: %s", what, msg);
    }
}

static void diff_open(diff_ctx *d, uint64_t seed)
{
    memset(d, 0, sizeof *d);
    d->seed = seed;
    d->run = test_run(0x5D, 0x01);
    for (uint32_t i = 0; i < KEY_SPACE; i++) {
        char rest[16];
        int n = snprintf(rest, sizeof rest, "%u", i);
        d->keys[i] = test_key_bytes(&d->run, CAIRN_TAG_KV, rest, (size_t)n);
        d->order[i] = i;
    }
    sort_ctx = d;
    qsort(d->order, KEY_SPACE, sizeof d->order[0], order_cmp);

    char errbuf[256] = "";
    cairn_status st = cairn_db_open(NULL, NULL, &d->cdb, errbuf, sizeof errbuf);
    cr_assert_eq(st, CAIRN_OK, "cairn_db_open(NULL): %s: %s", cairn_status_name(st), errbuf);

    const char *tmp = getenv("TMPDIR");
    snprintf(d->dir, sizeof d->dir, "%s/cairn-diff-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    cr_assert_not_null(mkdtemp(d->dir), "mkdtemp(%s) failed", d->dir);

    d->ropts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(d->ropts, 1);
    rocksdb_options_set_compression(d->ropts, rocksdb_no_compression);
    /* Small memtables, so the sequence also reads through flushed tables. */
    rocksdb_options_set_write_buffer_size(d->ropts, 256u << 10);
    char *err = NULL;
    d->odb = rocksdb_optimistictransactiondb_open(d->ropts, d->dir, &err);
    rocks_check(d, err, "open");
    d->wopts = rocksdb_writeoptions_create();
    rocksdb_writeoptions_disable_WAL(d->wopts, 1);
    d->readopts = rocksdb_readoptions_create();
    d->otxopts = rocksdb_optimistictransaction_options_create();
    rocksdb_optimistictransaction_options_set_set_snapshot(d->otxopts, 1);
}

static void diff_close(diff_ctx *d)
{
    if (d->ctxn)
        cairn_txn_free(d->ctxn);
    if (d->cdb)
        cr_assert_eq(cairn_db_close(d->cdb), CAIRN_OK);
    if (d->rtxn)
        rocksdb_transaction_destroy(d->rtxn);
    rocksdb_optimistictransaction_options_destroy(d->otxopts);
    rocksdb_readoptions_destroy(d->readopts);
    rocksdb_writeoptions_destroy(d->wopts);
    rocksdb_optimistictransactiondb_close(d->odb);
    rocksdb_options_destroy(d->ropts);
    test_rm_tree(d->dir);
}

/* ---- one operation of each kind ----------------------------------------- */

static void txn_begin(diff_ctx *d)
{
    if (d->ctxn == NULL) {
        cairn_status st = cairn_txn_begin(d->cdb, NULL, &d->ctxn);
        if (st != CAIRN_OK)
            DIVERGE(d, "cairn_txn_begin: %s", cairn_status_name(st));
    } else {
        cairn_status st = cairn_txn_restart(d->ctxn);
        if (st != CAIRN_OK)
            DIVERGE(d, "cairn_txn_restart: %s", cairn_status_name(st));
    }
    d->rtxn = rocksdb_optimistictransaction_begin(d->odb, d->wopts, d->otxopts, d->rtxn);
    memcpy(d->pending, d->committed, sizeof d->pending);
}

static void txn_end(diff_ctx *d, bool commit)
{
    char *err = NULL;
    if (commit) {
        cairn_status st = cairn_txn_commit(d->ctxn);
        if (st != CAIRN_OK)
            DIVERGE(d, "cairn_txn_commit: %s (%s); RocksDB not yet committed",
                    cairn_status_name(st), cairn_txn_errmsg(d->ctxn));
        rocksdb_transaction_commit(d->rtxn, &err);
        rocks_check(d, err, "commit (cairn committed)");
        memcpy(d->committed, d->pending, sizeof d->committed);
    } else {
        cairn_status st = cairn_txn_abort(d->ctxn);
        if (st != CAIRN_OK)
            DIVERGE(d, "cairn_txn_abort: %s", cairn_status_name(st));
        rocksdb_transaction_rollback(d->rtxn, &err);
        rocks_check(d, err, "rollback");
    }
}

static void op_put(diff_ctx *d, uint32_t k, const uint8_t *val, size_t len)
{
    const cairn_key *key = &d->keys[k];
    cairn_status st = cairn_txn_put(d->ctxn, key, cairn_slice_of(val, len));
    if (st != CAIRN_OK)
        DIVERGE(d, "cairn_txn_put(%u, %zu bytes): %s (%s)", k, len, cairn_status_name(st),
                cairn_txn_errmsg(d->ctxn));
    char *err = NULL;
    rocksdb_transaction_put(d->rtxn, (const char *)key->bytes, key->len, (const char *)val, len,
                            &err);
    rocks_check(d, err, "put");
    d->pending[k].present = true;
    d->pending[k].len = (uint16_t)len;
    if (len)
        memcpy(d->pending[k].bytes, val, len);
}

static void op_delete(diff_ctx *d, uint32_t k)
{
    const cairn_key *key = &d->keys[k];
    cairn_status st = cairn_txn_delete(d->ctxn, key);
    if (st != CAIRN_OK)
        DIVERGE(d, "cairn_txn_delete(key \"%u\", %s): %s (%s)", k,
                d->pending[k].present ? "present" : "absent", cairn_status_name(st),
                cairn_txn_errmsg(d->ctxn));
    char *err = NULL;
    rocksdb_transaction_delete(d->rtxn, (const char *)key->bytes, key->len, &err);
    rocks_check(d, err, "delete");
    d->pending[k].present = false;
}

static void op_get(diff_ctx *d, uint32_t k)
{
    const cairn_key *key = &d->keys[k];
    cairn_slice cv = {NULL, 0};
    cairn_status st = cairn_txn_get(d->ctxn, key, &cv);
    if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
        DIVERGE(d, "cairn_txn_get(key \"%u\"): %s (%s)", k, cairn_status_name(st),
                cairn_txn_errmsg(d->ctxn));
    bool cfound = st == CAIRN_OK;

    char *err = NULL;
    rocksdb_pinnableslice_t *ps = rocksdb_transaction_get_pinned(
        d->rtxn, d->readopts, (const char *)key->bytes, key->len, &err);
    rocks_check(d, err, "get");
    bool rfound = ps != NULL;
    cairn_slice rv = {NULL, 0};
    if (ps) {
        size_t n = 0;
        const char *p = rocksdb_pinnableslice_value(ps, &n);
        rv = cairn_slice_of(p, n);
    }

    bool same = cfound == rfound && (!cfound || slice_eq(cv, rv));
    const mval *m = &d->pending[k];
    bool cm = mval_eq(m, cfound, cv), rm = mval_eq(m, rfound, rv);
    if (!same || !cm || !rm) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "get of key \"%u\": cairn %s (%zu bytes), RocksDB %s (%zu bytes), model %s "
                 "(%u bytes): %s",
                 k, cfound ? "found" : "not found", cv.len, rfound ? "found" : "not found",
                 rv.len, m->present ? "present" : "absent", m->present ? m->len : 0u,
                 who(cm, rm));
        if (ps)
            rocksdb_pinnableslice_destroy(ps);
        DIVERGE(d, "%s", msg);
    }
    if (ps)
        rocksdb_pinnableslice_destroy(ps);
}

/*
 * Scans [start, end) (end NULL: no upper bound) yielding at most `limit`
 * pairs (0: no limit) in both engines and the model, and compares the three
 * sequences pair by pair.  `where` names the scan in messages.
 */
static void compare_scan(diff_ctx *d, cairn_txn *ctxn, rocksdb_iterator_t *it,
                         const cairn_key *start, const cairn_key *end, size_t limit,
                         const mval *model, const char *where)
{
    cairn_iter *ci = NULL;
    cairn_status st = cairn_txn_scan(ctxn, start, end, limit, &ci);
    if (st != CAIRN_OK)
        DIVERGE(d, "%s: cairn_txn_scan: %s (%s)", where, cairn_status_name(st),
                cairn_txn_errmsg(ctxn));
    rocksdb_iter_seek(it, (const char *)start->bytes, start->len);

    /* The model's first key: the first in byte order not below start. */
    size_t mi = 0;
    while (mi < KEY_SPACE && key_cmp(&d->keys[d->order[mi]], start) < 0)
        mi++;

    char sbuf[64], ebuf[64];
    key_text(d, cairn_key_slice(start), sbuf, sizeof sbuf);
    if (end)
        key_text(d, cairn_key_slice(end), ebuf, sizeof ebuf);
    else
        snprintf(ebuf, sizeof ebuf, "(none)");

    for (size_t n = 0;; n++) {
        cairn_slice ck = {NULL, 0}, cv = {NULL, 0};
        bool chave = false;
        st = cairn_iter_next(ci, &ck, &cv);
        if (st == CAIRN_OK)
            chave = true;
        else if (st != CAIRN_DONE)
            DIVERGE(d, "%s: cairn_iter_next at pair %zu: %s", where, n, cairn_status_name(st));

        bool rhave = false;
        cairn_slice rk = {NULL, 0}, rv = {NULL, 0};
        if ((limit == 0 || n < limit) && rocksdb_iter_valid(it)) {
            size_t kl = 0, vl = 0;
            const char *kp = rocksdb_iter_key(it, &kl);
            rk = cairn_slice_of(kp, kl);
            if (end == NULL || slice_cmp(rk, cairn_key_slice(end)) < 0) {
                const char *vp = rocksdb_iter_value(it, &vl);
                rv = cairn_slice_of(vp, vl);
                rhave = true;
            }
        }

        bool mhave = false;
        const cairn_key *mk = NULL;
        const mval *mv = NULL;
        if (limit == 0 || n < limit) {
            while (mi < KEY_SPACE && !model[d->order[mi]].present)
                mi++;
            if (mi < KEY_SPACE && (end == NULL || key_cmp(&d->keys[d->order[mi]], end) < 0)) {
                mk = &d->keys[d->order[mi]];
                mv = &model[d->order[mi]];
                mhave = true;
            }
        }

        bool same = chave == rhave &&
                    (!chave || (slice_eq(ck, rk) && slice_eq(cv, rv)));
        bool cm = chave == mhave &&
                  (!chave || (slice_eq(ck, cairn_key_slice(mk)) && mval_eq(mv, true, cv)));
        bool rm = rhave == mhave &&
                  (!rhave || (slice_eq(rk, cairn_key_slice(mk)) && mval_eq(mv, true, rv)));
        if (!same || !cm || !rm) {
            char cbuf[64] = "(end)", rbuf[64] = "(end)", mbuf[64] = "(end)";
            if (chave)
                key_text(d, ck, cbuf, sizeof cbuf);
            if (rhave)
                key_text(d, rk, rbuf, sizeof rbuf);
            if (mhave)
                key_text(d, cairn_key_slice(mk), mbuf, sizeof mbuf);
            char msg[768];
            snprintf(msg, sizeof msg,
                     "%s [%s, %s) limit %zu, pair %zu: cairn %s (%zu-byte value), RocksDB %s "
                     "(%zu-byte value), model %s (%u-byte value): %s",
                     where, sbuf, ebuf, limit, n, cbuf, cv.len, rbuf, rv.len, mbuf,
                     mhave ? mv->len : 0u, who(cm, rm));
            cairn_iter_free(ci);
            DIVERGE(d, "%s", msg);
        }
        if (!chave) {
            char *err = NULL;
            rocksdb_iter_get_error(it, &err);
            rocks_check(d, err, "iterator");
            break;
        }
        rocksdb_iter_next(it);
        mi++;
    }
    cairn_iter_free(ci);
}

static void op_scan(diff_ctx *d, test_rng *rng)
{
    cairn_key start, end;
    const cairn_key *endp = &end;
    /* start: a key of the space (present or not) or the bare run prefix. */
    if (test_rng_below(rng, 8) == 0)
        HELPER_CHECK(cairn_key_init(&start, &d->run, CAIRN_TAG_KV));
    else
        start = d->keys[test_rng_below(rng, KEY_SPACE)];
    /* end: another key of the space, or no upper bound. */
    if (test_rng_below(rng, 6) == 0) {
        endp = NULL;
    } else {
        end = d->keys[test_rng_below(rng, KEY_SPACE)];
        if (key_cmp(&end, &start) < 0) {
            cairn_key t = start;
            start = end;
            end = t;
        }
    }
    size_t limit = test_rng_below(rng, 4) == 0 ? 0 : 1 + test_rng_below(rng, SCAN_LIMIT_MAX);

    rocksdb_iterator_t *it = rocksdb_transaction_create_iterator(d->rtxn, d->readopts);
    compare_scan(d, d->ctxn, it, &start, endp, limit, d->pending, "scan");
    rocksdb_iter_destroy(it);
}

/* After the sequence: a full scan of each, in fresh transactions. */
static void compare_all(diff_ctx *d)
{
    txn_begin(d);
    cairn_key prefix;
    HELPER_CHECK(cairn_key_init(&prefix, &d->run, CAIRN_TAG_KV));
    rocksdb_iterator_t *it = rocksdb_transaction_create_iterator(d->rtxn, d->readopts);
    compare_scan(d, d->ctxn, it, &prefix, NULL, 0, d->committed, "final full scan");
    rocksdb_iter_destroy(it);
    txn_end(d, true);

    /* And RocksDB's base database, outside any transaction. */
    rocksdb_t *base = rocksdb_optimistictransactiondb_get_base_db(d->odb);
    it = rocksdb_create_iterator(base, d->readopts);
    cairn_txn *ro = NULL;
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    HELPER_CHECK(cairn_txn_begin(d->cdb, &to, &ro));
    compare_scan(d, ro, it, &prefix, NULL, 0, d->committed, "final full scan (base db)");
    HELPER_CHECK(cairn_txn_commit(ro));
    cairn_txn_free(ro);
    rocksdb_iter_destroy(it);
    rocksdb_optimistictransactiondb_close_base_db(base);
}

/* ---- the sequence --------------------------------------------------------- */

static void run_seed(uint64_t seed)
{
    diff_ctx *d = calloc(1, sizeof *d);
    cr_assert_not_null(d);
    diff_open(d, seed);
    test_rng rng = test_rng_seeded(seed * UINT64_C(0x9E3779B97F4A7C15) + 1);
    uint8_t val[VALUE_MAX];

    uint64_t step = 0;
    uint64_t commits = 0, aborts = 0;
    while (step < OPS_PER_SEED) {
        txn_begin(d);
        uint32_t nops = 1 + (uint32_t)test_rng_below(&rng, TXN_OPS_MAX);
        for (uint32_t i = 0; i < nops && step < OPS_PER_SEED; i++, step++) {
            d->step = step;
            uint64_t r = test_rng_below(&rng, 100);
            uint32_t k = (uint32_t)test_rng_below(&rng, KEY_SPACE);
            if (r < 40) {
                size_t len = test_rng_below(&rng, 8) == 0 ? 0
                                                          : (size_t)test_rng_below(&rng, VALUE_MAX + 1);
                for (size_t j = 0; j < len; j++)
                    val[j] = (uint8_t)test_rng_next(&rng);
                op_put(d, k, val, len);
            } else if (r < 60) {
                op_delete(d, k);
            } else if (r < 90) {
                op_get(d, k);
            } else {
                op_scan(d, &rng);
            }
        }
        d->step = step;
        bool abort_it = test_rng_below(&rng, 100) < ABORT_PERCENT;
        txn_end(d, !abort_it);
        if (abort_it)
            aborts++;
        else
            commits++;
    }
    d->step = step;
    compare_all(d);

    size_t live = 0;
    for (uint32_t i = 0; i < KEY_SPACE; i++)
        live += d->committed[i].present;
    cr_log_info("seed %llu: %llu ops, %llu commits, %llu aborts, %zu live keys at the end",
                (unsigned long long)seed, (unsigned long long)step,
                (unsigned long long)commits, (unsigned long long)aborts, live);
    diff_close(d);
    free(d);
}

Test(differential, rocksdb_same_reads_and_contents, .timeout = 600)
{
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        run_seed(seeds[i]);
}
