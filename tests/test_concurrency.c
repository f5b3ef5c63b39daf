/*
 * Concurrency: serializable transactions under real threads.
 *
 *  - bank transfers between 100 accounts from 4 threads, while a 5th thread
 *    audits consistent snapshots: every snapshot and the end state hold the
 *    same total;
 *  - blind writers on disjoint keys never conflict and all land;
 *  - blind writers on one key never conflict, and the value left is the one
 *    with the highest commit version;
 *  - increments of one counter through cairn_db_run lose no update, while
 *    an observer sees the counter and snapshot versions only move forward;
 *  - groups of keys inserted and deleted whole, over and over, are never
 *    seen half-done, while their deleted keys are being reclaimed;
 *  - run ids generated from several threads are distinct, and increasing
 *    within each thread;
 *  - more threads than max_open_txns share the slots: BUSY, never a crash
 *    or a lost commit, and cairn_db_run's retries are not cut short by
 *    another thread taking the slot between two attempts;
 *  - the bank, on a durable database in async mode, with checkpoints taken
 *    while the transfers run: every snapshot balances, and a reopen brings
 *    back exactly the balances and version of the close;
 *  - increments from several threads in sync mode (group commit): none is
 *    lost, fewer syncs than commits may serve them, and all survive reopen;
 *  - 4 threads x 10,000 increments of one StateCell counter through
 *    cairn_cell_transition: the counter ends at exactly 40,000 and the cell
 *    at version 40,001, every version was handed out once, and every
 *    snapshot an observer takes holds value == version - 1.
 *
 * Each scenario is a plain function that reports the first violation as a
 * message; worker threads never call Criterion's assertions (they may only
 * be used from the test's own thread).  The Criterion tests at the bottom
 * assert on the scenarios' results.
 *
 * Built with -DCAIRN_TEST_STANDALONE the file instead gets a small main()
 * that runs the same scenarios without Criterion.  That is the ThreadSanitizer
 * build: Criterion 2.4 cannot start under TSan (its sandbox maps a shared
 * arena at fixed addresses TSan reserves; "Could not initialize inheritable
 * arena", Criterion issue #274).
 *
 * CAIRN_TEST_SCALE (a positive number, default 1) scales the iteration
 * counts, e.g. 0.1 for a quick run under a slow sanitizer.
 */
#ifndef CAIRN_TEST_STANDALONE
#include <criterion/criterion.h>
#endif

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <unistd.h>

#include "helpers.h"

/* ---- shared plumbing -------------------------------------------------------- */

/* The first failure any thread saw. */
typedef struct failure {
    pthread_mutex_t mu;
    _Atomic bool failed;
    char msg[512];
} failure;

static void failure_init(failure *f)
{
    pthread_mutex_init(&f->mu, NULL);
    atomic_store(&f->failed, false);
    f->msg[0] = '\0';
}

__attribute__((format(printf, 2, 3))) static void failf(failure *f, const char *fmt, ...)
{
    pthread_mutex_lock(&f->mu);
    if (!atomic_load(&f->failed)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->msg, sizeof f->msg, fmt, ap);
        va_end(ap);
        atomic_store(&f->failed, true);
    }
    pthread_mutex_unlock(&f->mu);
}

static bool failed(failure *f)
{
    return atomic_load(&f->failed);
}

/* Copies the outcome into err; true when nothing failed. */
static bool failure_report(failure *f, char *err, size_t cap)
{
    pthread_mutex_lock(&f->mu);
    bool ok = !atomic_load(&f->failed);
    snprintf(err, cap, "%s", f->msg);
    pthread_mutex_unlock(&f->mu);
    pthread_mutex_destroy(&f->mu);
    return ok;
}

static double test_scale(void)
{
    const char *s = getenv("CAIRN_TEST_SCALE");
    if (s == NULL || *s == '\0')
        return 1.0;
    double v = strtod(s, NULL);
    return v > 0 ? v : 1.0;
}

/* `n` scaled by CAIRN_TEST_SCALE, at least `min`. */
static uint64_t scaled(uint64_t n, uint64_t min)
{
    double v = (double)n * test_scale();
    uint64_t r = v < 1 ? 0 : (uint64_t)v;
    return r < min ? min : r;
}

static cairn_run_id conc_run(void)
{
    return test_run(0xC0, 0x01);
}

static cairn_key name_key(const char *fmt, int a, int b)
{
    char name[64];
    snprintf(name, sizeof name, fmt, a, b);
    cairn_run_id run = conc_run();
    return test_kv(&run, name);
}

static cairn_db *open_for_contention(uint32_t max_retries)
{
    cairn_options opts;
    cairn_options_init(&opts);
    opts.max_retries = max_retries;
    cairn_db *db = NULL;
    char err[256] = "";
    cairn_status st = cairn_db_open(NULL, &opts, &db, err, sizeof err);
    if (st != CAIRN_OK) {
        fprintf(stderr, "open failed: %s (%s)\n", cairn_status_name(st), err);
        abort();
    }
    return db;
}

/* ---- durable databases in temporary directories ----------------------------- */

typedef struct store {
    const char *path;          /* NULL: in memory */
    cairn_durability mode;
    uint32_t max_retries;
} store;

/* Opens `st` (small WAL segments and checkpoint threshold for a durable
 * one, so segments roll and checkpoints happen during the run). */
static cairn_status store_open(const store *st, cairn_db **dbp, char *err, size_t cap)
{
    cairn_options opts;
    cairn_options_init(&opts);
    opts.max_retries = st->max_retries;
    if (st->path) {
        opts.durability = st->mode;
        opts.wal_segment_size = 256 * 1024;
        opts.checkpoint_wal_bytes = 1024 * 1024;
    }
    return cairn_db_open(st->path, &opts, dbp, err, cap);
}

static cairn_db *store_open_or_die(const store *st)
{
    cairn_db *db = NULL;
    char err[256] = "";
    cairn_status rc = store_open(st, &db, err, sizeof err);
    if (rc != CAIRN_OK) {
        fprintf(stderr, "open of %s failed: %s (%s)\n", st->path ? st->path : "memory",
                cairn_status_name(rc), err);
        abort();
    }
    return db;
}

static cairn_status begin_read_only(cairn_db *db, cairn_txn **txnp)
{
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    return cairn_txn_begin(db, &to, txnp);
}

/* ---- bank transfers ---------------------------------------------------------- */

enum { ACCOUNTS = 100, INITIAL_BALANCE = 1000, BANK_WRITERS = 4, MAX_AMOUNT = 100 };
#define BANK_TOTAL ((uint64_t)ACCOUNTS * INITIAL_BALANCE)

typedef struct bank {
    cairn_db *db;
    cairn_key accounts[ACCOUNTS];
    cairn_key prefix;
    uint64_t transfers_per_writer;
    _Atomic bool writers_done;
    _Atomic uint64_t moved;
    _Atomic uint64_t attempts;
    _Atomic uint64_t audits;
    bool checkpoints;          /* the auditor also writes checkpoints */
    uint64_t checkpoints_done;
    failure fail;
} bank;

typedef struct transfer {
    const bank *b;
    int from, to;
    uint64_t amount;
    bool moved;
} transfer;

static cairn_status read_balance(cairn_txn *txn, const cairn_key *key, uint64_t *balp)
{
    cairn_slice v;
    cairn_status st = cairn_txn_get(txn, key, &v);
    if (st != CAIRN_OK)
        return st;
    return u64_from_slice(v, balp) ? CAIRN_OK : CAIRN_CORRUPT;
}

static cairn_status write_balance(cairn_txn *txn, const cairn_key *key, uint64_t bal)
{
    uint8_t buf[8];
    u64_to_be(bal, buf);
    return cairn_txn_put(txn, key, cairn_slice_of(buf, sizeof buf));
}

static cairn_status transfer_body(cairn_txn *txn, void *p)
{
    transfer *t = p;
    uint64_t from, to;
    cairn_status st;
    t->moved = false;
    if ((st = read_balance(txn, &t->b->accounts[t->from], &from)) != CAIRN_OK)
        return st;
    if ((st = read_balance(txn, &t->b->accounts[t->to], &to)) != CAIRN_OK)
        return st;
    if (from < t->amount)
        return CAIRN_OK; /* insufficient funds: a transfer that moves nothing */
    if ((st = write_balance(txn, &t->b->accounts[t->from], from - t->amount)) != CAIRN_OK)
        return st;
    if ((st = write_balance(txn, &t->b->accounts[t->to], to + t->amount)) != CAIRN_OK)
        return st;
    t->moved = true;
    return CAIRN_OK;
}

typedef struct writer_arg {
    bank *b;
    int index;
} writer_arg;

static void *bank_writer(void *p)
{
    writer_arg *w = p;
    bank *b = w->b;
    test_rng rng = test_rng_seeded(0xBA4C + (uint64_t)w->index * 7919);
    for (uint64_t i = 0; i < b->transfers_per_writer && !failed(&b->fail); i++) {
        transfer t = {.b = b};
        t.from = (int)test_rng_below(&rng, ACCOUNTS);
        t.to = (int)test_rng_below(&rng, ACCOUNTS - 1);
        if (t.to >= t.from)
            t.to++;
        t.amount = 1 + test_rng_below(&rng, MAX_AMOUNT);
        uint32_t attempts = 0;
        cairn_status st = cairn_db_run(b->db, NULL, transfer_body, &t, &attempts);
        if (st != CAIRN_OK) {
            failf(&b->fail, "writer %d transfer %llu: cairn_db_run gave %s after %u attempts",
                  w->index, (unsigned long long)i, cairn_status_name(st), attempts);
            break;
        }
        atomic_fetch_add(&b->attempts, attempts);
        if (t.moved)
            atomic_fetch_add(&b->moved, 1);
    }
    return NULL;
}

/* One audit: the sum by point reads and by a scan, in one snapshot. */
static void audit_once(bank *b, uint64_t *last_snapshot)
{
    cairn_txn *txn = NULL;
    cairn_status st = begin_read_only(b->db, &txn);
    if (st != CAIRN_OK) {
        failf(&b->fail, "auditor: begin gave %s", cairn_status_name(st));
        return;
    }
    uint64_t snap = cairn_txn_snapshot_version(txn);
    if (snap < *last_snapshot)
        failf(&b->fail, "auditor: snapshot version went back from %llu to %llu",
              (unsigned long long)*last_snapshot, (unsigned long long)snap);
    *last_snapshot = snap;

    uint64_t by_get = 0;
    for (int i = 0; i < ACCOUNTS; i++) {
        uint64_t bal;
        if ((st = read_balance(txn, &b->accounts[i], &bal)) != CAIRN_OK) {
            failf(&b->fail, "auditor: get of account %d gave %s", i, cairn_status_name(st));
            goto out;
        }
        by_get += bal;
    }
    if (by_get != BANK_TOTAL)
        failf(&b->fail, "auditor: snapshot %llu sums to %llu by point reads, expected %llu",
              (unsigned long long)snap, (unsigned long long)by_get,
              (unsigned long long)BANK_TOTAL);

    cairn_iter *it = NULL;
    if ((st = cairn_txn_scan_prefix(txn, &b->prefix, 0, &it)) != CAIRN_OK) {
        failf(&b->fail, "auditor: scan gave %s", cairn_status_name(st));
        goto out;
    }
    uint64_t by_scan = 0;
    int count = 0;
    cairn_slice k, v;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        uint64_t bal;
        if (!u64_from_slice(v, &bal)) {
            failf(&b->fail, "auditor: a balance of %zu bytes", v.len);
            break;
        }
        by_scan += bal;
        count++;
    }
    if (st != CAIRN_DONE && st != CAIRN_OK)
        failf(&b->fail, "auditor: iterator gave %s", cairn_status_name(st));
    cairn_iter_free(it);
    if (count != ACCOUNTS || by_scan != BANK_TOTAL)
        failf(&b->fail, "auditor: snapshot %llu scans %d accounts summing to %llu",
              (unsigned long long)snap, count, (unsigned long long)by_scan);

out:
    st = cairn_txn_commit(txn);
    if (st != CAIRN_OK)
        failf(&b->fail, "auditor: read-only commit gave %s", cairn_status_name(st));
    cairn_txn_free(txn);
    atomic_fetch_add(&b->audits, 1);
}

static void *bank_auditor(void *p)
{
    bank *b = p;
    uint64_t last_snapshot = 0;
    uint64_t n = 0;
    do {
        audit_once(b, &last_snapshot);
        /* a few checkpoints while the writers go on */
        if (b->checkpoints && ++n % 64 == 0 && b->checkpoints_done < 4) {
            cairn_status st = cairn_db_checkpoint(b->db);
            if (st != CAIRN_OK)
                failf(&b->fail, "auditor: checkpoint gave %s", cairn_status_name(st));
            b->checkpoints_done++;
        }
    } while (!atomic_load(&b->writers_done) && !failed(&b->fail));
    return NULL;
}

/* Reads every balance in one snapshot; false (and a failure) on error. */
static bool read_balances(bank *b, uint64_t *out)
{
    cairn_txn *txn = NULL;
    cairn_status st = begin_read_only(b->db, &txn);
    for (int i = 0; i < ACCOUNTS && st == CAIRN_OK; i++)
        st = read_balance(txn, &b->accounts[i], &out[i]);
    cairn_txn_free(txn);
    if (st != CAIRN_OK)
        failf(&b->fail, "reading the balances gave %s", cairn_status_name(st));
    return st == CAIRN_OK;
}

static bool bank_run(const store *where, uint64_t total_transfers, char *err, size_t cap)
{
    static bank b; /* ~100 keys of 1 KiB each: keep it off the stack */
    memset(&b, 0, sizeof b);
    failure_init(&b.fail);
    b.db = store_open_or_die(where);
    b.checkpoints = where->path != NULL;
    cairn_run_id run = conc_run();
    b.prefix = test_kv(&run, "acct/");
    b.transfers_per_writer = total_transfers / BANK_WRITERS;

    cairn_txn *txn = NULL;
    HELPER_CHECK(cairn_txn_begin(b.db, NULL, &txn));
    for (int i = 0; i < ACCOUNTS; i++) {
        b.accounts[i] = name_key("acct/%03d", i, 0);
        HELPER_CHECK(write_balance(txn, &b.accounts[i], INITIAL_BALANCE));
    }
    HELPER_CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    cairn_stats before = test_stats(b.db);

    pthread_t writers[BANK_WRITERS], auditor;
    writer_arg args[BANK_WRITERS];
    pthread_create(&auditor, NULL, bank_auditor, &b);
    for (int i = 0; i < BANK_WRITERS; i++) {
        args[i] = (writer_arg){&b, i};
        pthread_create(&writers[i], NULL, bank_writer, &args[i]);
    }
    for (int i = 0; i < BANK_WRITERS; i++)
        pthread_join(writers[i], NULL);
    atomic_store(&b.writers_done, true);
    pthread_join(auditor, NULL);

    if (!failed(&b.fail)) {
        uint64_t last = 0;
        audit_once(&b, &last); /* the end state */
        cairn_stats after = test_stats(b.db);
        uint64_t done = b.transfers_per_writer * BANK_WRITERS;
        uint64_t attempts = atomic_load(&b.attempts);
        if (atomic_load(&b.moved) == 0)
            failf(&b.fail, "no transfer moved any money");
        /* a transfer refused for lack of funds writes nothing, so whether it
         * counts as a commit is the engine's business: only bound it */
        uint64_t commits = after.commits - before.commits;
        if (commits < atomic_load(&b.moved) || commits > done)
            failf(&b.fail, "%llu commits for %llu transfers of which %llu moved money",
                  (unsigned long long)commits, (unsigned long long)done,
                  (unsigned long long)atomic_load(&b.moved));
        if (attempts < done || after.conflicts - before.conflicts != attempts - done)
            failf(&b.fail, "%llu attempts for %llu transfers but %llu conflicts counted",
                  (unsigned long long)attempts, (unsigned long long)done,
                  (unsigned long long)(after.conflicts - before.conflicts));
        if (after.open_txns != 0)
            failf(&b.fail, "%llu transactions still open", (unsigned long long)after.open_txns);
        if (atomic_load(&b.audits) < 2)
            failf(&b.fail, "the auditor never ran during the transfers");
    }

    if (!failed(&b.fail) && where->path) {
        /* what was committed comes back after a clean close and reopen */
        static uint64_t before_close[ACCOUNTS], after_open[ACCOUNTS];
        uint64_t visible = test_stats(b.db).visible_version;
        if (read_balances(&b, before_close)) {
            cairn_status st = cairn_db_close(b.db);
            b.db = NULL;
            if (st != CAIRN_OK)
                failf(&b.fail, "close gave %s", cairn_status_name(st));
            else
                b.db = store_open_or_die(where);
        }
        if (b.db && !failed(&b.fail) && read_balances(&b, after_open)) {
            for (int i = 0; i < ACCOUNTS; i++) {
                if (before_close[i] != after_open[i]) {
                    failf(&b.fail, "account %d: %llu before close, %llu after reopen", i,
                          (unsigned long long)before_close[i],
                          (unsigned long long)after_open[i]);
                    break;
                }
            }
            uint64_t last = 0;
            audit_once(&b, &last);
            if (test_stats(b.db).visible_version != visible)
                failf(&b.fail, "reopened at version %llu, closed at %llu",
                      (unsigned long long)test_stats(b.db).visible_version,
                      (unsigned long long)visible);
        }
    }
    if (b.db)
        test_close(b.db);
    return failure_report(&b.fail, err, cap);
}

static bool scenario_bank(char *err, size_t cap)
{
    store mem = {.path = NULL, .max_retries = 1000};
    return bank_run(&mem, scaled(100000, 400), err, cap);
}

static bool scenario_bank_durable(char *err, size_t cap)
{
    char base[] = "/tmp/cairn-conc-XXXXXX";
    if (mkdtemp(base) == NULL) {
        snprintf(err, cap, "mkdtemp failed");
        return false;
    }
    char path[64];
    snprintf(path, sizeof path, "%s/db", base);
    store disk = {.path = path, .mode = CAIRN_DURABILITY_ASYNC, .max_retries = 1000};
    bool ok = bank_run(&disk, scaled(20000, 400), err, cap);
    test_rm_tree(base);
    return ok;
}

/* ---- blind writers on disjoint keys ------------------------------------------------ */

enum { BLIND_WRITERS = 4 };

typedef struct blind {
    cairn_db *db;
    uint64_t per_writer;
    bool shared_key; /* all writers write one key instead of their own */
    uint64_t *versions[BLIND_WRITERS]; /* commit version of each write */
    failure fail;
} blind;

typedef struct blind_arg {
    blind *b;
    int index;
} blind_arg;

static void *blind_writer(void *p)
{
    blind_arg *a = p;
    blind *b = a->b;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < b->per_writer && !failed(&b->fail); i++) {
        cairn_key key = b->shared_key ? name_key("shared", 0, 0)
                                      : name_key("w%d/%06d", a->index, (int)i);
        char value[32];
        snprintf(value, sizeof value, "%d:%llu", a->index, (unsigned long long)i);
        cairn_txn *txn = NULL;
        cairn_status st = cairn_txn_begin(b->db, NULL, &txn);
        if (st == CAIRN_OK)
            st = cairn_txn_put(txn, &key, test_str(value));
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        if (st != CAIRN_OK) {
            failf(&b->fail, "writer %d write %llu: %s (%s)", a->index, (unsigned long long)i,
                  cairn_status_name(st), txn ? cairn_txn_errmsg(txn) : "");
            cairn_txn_free(txn);
            break;
        }
        uint64_t cv = cairn_txn_commit_version(txn);
        if (cv <= prev)
            failf(&b->fail, "writer %d: commit version %llu after %llu", a->index,
                  (unsigned long long)cv, (unsigned long long)prev);
        prev = cv;
        b->versions[a->index][i] = cv;
        cairn_txn_free(txn);
    }
    return NULL;
}

static int u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

static void run_blind_writers(blind *b)
{
    pthread_t threads[BLIND_WRITERS];
    blind_arg args[BLIND_WRITERS];
    for (int i = 0; i < BLIND_WRITERS; i++) {
        b->versions[i] = calloc(b->per_writer, sizeof(uint64_t));
        if (b->versions[i] == NULL)
            abort();
    }
    for (int i = 0; i < BLIND_WRITERS; i++) {
        args[i] = (blind_arg){b, i};
        pthread_create(&threads[i], NULL, blind_writer, &args[i]);
    }
    for (int i = 0; i < BLIND_WRITERS; i++)
        pthread_join(threads[i], NULL);
}

/* Every commit version is distinct: one global commit order. */
static void check_versions_distinct(blind *b)
{
    size_t n = (size_t)b->per_writer * BLIND_WRITERS;
    uint64_t *all = malloc(n * sizeof *all);
    if (all == NULL)
        abort();
    for (int i = 0; i < BLIND_WRITERS; i++)
        memcpy(all + (size_t)i * b->per_writer, b->versions[i], b->per_writer * sizeof *all);
    qsort(all, n, sizeof *all, u64_cmp);
    for (size_t i = 1; i < n; i++) {
        if (all[i] == all[i - 1]) {
            failf(&b->fail, "two commits share version %llu", (unsigned long long)all[i]);
            break;
        }
    }
    free(all);
}

static void blind_free(blind *b)
{
    for (int i = 0; i < BLIND_WRITERS; i++)
        free(b->versions[i]);
}

static bool scenario_blind_disjoint(char *err, size_t cap)
{
    blind b = {.per_writer = scaled(2000, 50), .shared_key = false};
    failure_init(&b.fail);
    b.db = open_for_contention(64);
    cairn_stats before = test_stats(b.db);
    run_blind_writers(&b);

    if (!failed(&b.fail)) {
        check_versions_distinct(&b);
        cairn_stats after = test_stats(b.db);
        if (after.conflicts != before.conflicts)
            failf(&b.fail, "%llu conflicts among blind writers of disjoint keys",
                  (unsigned long long)(after.conflicts - before.conflicts));
        if (after.commits - before.commits != b.per_writer * BLIND_WRITERS)
            failf(&b.fail, "%llu commits, expected %llu",
                  (unsigned long long)(after.commits - before.commits),
                  (unsigned long long)(b.per_writer * BLIND_WRITERS));

        /* every write landed, under its own key, in order */
        cairn_txn *txn = NULL;
        HELPER_CHECK(begin_read_only(b.db, &txn));
        for (int w = 0; w < BLIND_WRITERS && !failed(&b.fail); w++) {
            cairn_key prefix = name_key("w%d/", w, 0);
            cairn_iter *it = NULL;
            HELPER_CHECK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
            cairn_slice k, v;
            uint64_t i = 0;
            cairn_status st;
            while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
                char want[32];
                snprintf(want, sizeof want, "%d:%llu", w, (unsigned long long)i);
                if (!slice_eq_str(v, want)) {
                    failf(&b.fail, "writer %d key %llu holds \"%.*s\"", w,
                          (unsigned long long)i, (int)v.len, (const char *)v.data);
                    break;
                }
                i++;
            }
            if (i != b.per_writer)
                failf(&b.fail, "writer %d: %llu keys found, expected %llu (%s)", w,
                      (unsigned long long)i, (unsigned long long)b.per_writer,
                      cairn_status_name(st));
            cairn_iter_free(it);
        }
        cairn_txn_free(txn);
    }
    blind_free(&b);
    test_close(b.db);
    return failure_report(&b.fail, err, cap);
}

static bool scenario_blind_shared(char *err, size_t cap)
{
    blind b = {.per_writer = scaled(2000, 50), .shared_key = true};
    failure_init(&b.fail);
    b.db = open_for_contention(64);
    cairn_stats before = test_stats(b.db);
    run_blind_writers(&b);

    if (!failed(&b.fail)) {
        check_versions_distinct(&b);
        cairn_stats after = test_stats(b.db);
        if (after.conflicts != before.conflicts)
            failf(&b.fail, "%llu conflicts among blind writers of one key",
                  (unsigned long long)(after.conflicts - before.conflicts));

        /* the surviving value is the write with the highest commit version */
        int best_writer = -1;
        uint64_t best_index = 0, best_cv = 0;
        for (int w = 0; w < BLIND_WRITERS; w++) {
            for (uint64_t i = 0; i < b.per_writer; i++) {
                if (b.versions[w][i] > best_cv) {
                    best_cv = b.versions[w][i];
                    best_writer = w;
                    best_index = i;
                }
            }
        }
        char want[32], got[32] = "";
        snprintf(want, sizeof want, "%d:%llu", best_writer, (unsigned long long)best_index);
        cairn_key key = name_key("shared", 0, 0);
        cairn_status st = test_get(b.db, &key, got, sizeof got);
        if (st != CAIRN_OK || strcmp(got, want) != 0)
            failf(&b.fail, "the key holds \"%s\" (%s); the last commit (version %llu) wrote \"%s\"",
                  got, cairn_status_name(st), (unsigned long long)best_cv, want);
        if (test_stats(b.db).visible_version != best_cv)
            failf(&b.fail, "visible version %llu, last commit %llu",
                  (unsigned long long)test_stats(b.db).visible_version,
                  (unsigned long long)best_cv);
    }
    blind_free(&b);
    test_close(b.db);
    return failure_report(&b.fail, err, cap);
}

/* ---- counter increments through cairn_db_run ---------------------------------------- */

enum { COUNTER_THREADS = 4 };

typedef struct counter {
    cairn_db *db;
    cairn_key key;
    uint64_t per_thread;
    _Atomic uint64_t attempts;
    _Atomic bool done;
    _Atomic uint64_t observations;
    failure fail;
} counter;

static cairn_status increment_body(cairn_txn *txn, void *p)
{
    counter *c = p;
    uint64_t v = 0;
    cairn_slice s;
    cairn_status st = cairn_txn_get(txn, &c->key, &s);
    if (st == CAIRN_OK) {
        if (!u64_from_slice(s, &v))
            return CAIRN_CORRUPT;
    } else if (st != CAIRN_NOT_FOUND) {
        return st;
    }
    return write_balance(txn, &c->key, v + 1);
}

typedef struct counter_arg {
    counter *c;
    int index;
} counter_arg;

static void *counter_worker(void *p)
{
    counter_arg *a = p;
    counter *c = a->c;
    for (uint64_t i = 0; i < c->per_thread && !failed(&c->fail); i++) {
        uint32_t attempts = 0;
        cairn_status st = cairn_db_run(c->db, NULL, increment_body, c, &attempts);
        if (st != CAIRN_OK) {
            failf(&c->fail, "thread %d increment %llu: %s after %u attempts", a->index,
                  (unsigned long long)i, cairn_status_name(st), attempts);
            break;
        }
        atomic_fetch_add(&c->attempts, attempts);
    }
    return NULL;
}

/* Reads the counter again and again: it must never go backwards. */
static void *counter_observer(void *p)
{
    counter *c = p;
    uint64_t last_value = 0, last_snap = 0;
    do {
        cairn_txn *txn = NULL;
        cairn_status st = begin_read_only(c->db, &txn);
        if (st != CAIRN_OK) {
            failf(&c->fail, "observer: begin gave %s", cairn_status_name(st));
            break;
        }
        uint64_t snap = cairn_txn_snapshot_version(txn);
        uint64_t v = 0;
        cairn_slice s;
        st = cairn_txn_get(txn, &c->key, &s);
        if (st == CAIRN_OK && !u64_from_slice(s, &v))
            failf(&c->fail, "observer: a counter of %zu bytes", s.len);
        else if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
            failf(&c->fail, "observer: get gave %s", cairn_status_name(st));
        if (v < last_value || snap < last_snap)
            failf(&c->fail, "observer: counter %llu at snapshot %llu after %llu at %llu",
                  (unsigned long long)v, (unsigned long long)snap,
                  (unsigned long long)last_value, (unsigned long long)last_snap);
        last_value = v;
        last_snap = snap;
        cairn_txn_free(txn);
        atomic_fetch_add(&c->observations, 1);
    } while (!atomic_load(&c->done) && !failed(&c->fail));
    return NULL;
}

static bool counter_run(const store *where, uint64_t per_thread, char *err, size_t cap)
{
    static counter c;
    memset(&c, 0, sizeof c);
    failure_init(&c.fail);
    c.db = store_open_or_die(where);
    c.key = name_key("counter", 0, 0);
    c.per_thread = per_thread;
    cairn_stats before = test_stats(c.db);

    pthread_t threads[COUNTER_THREADS], observer;
    counter_arg args[COUNTER_THREADS];
    pthread_create(&observer, NULL, counter_observer, &c);
    for (int i = 0; i < COUNTER_THREADS; i++) {
        args[i] = (counter_arg){&c, i};
        pthread_create(&threads[i], NULL, counter_worker, &args[i]);
    }
    for (int i = 0; i < COUNTER_THREADS; i++)
        pthread_join(threads[i], NULL);
    atomic_store(&c.done, true);
    pthread_join(observer, NULL);

    uint64_t want = c.per_thread * COUNTER_THREADS;
    if (!failed(&c.fail)) {
        cairn_txn *txn = NULL;
        HELPER_CHECK(begin_read_only(c.db, &txn));
        cairn_slice s;
        uint64_t v = 0;
        cairn_status st = cairn_txn_get(txn, &c.key, &s);
        if (st != CAIRN_OK || !u64_from_slice(s, &v) || v != want)
            failf(&c.fail, "counter is %llu (%s), expected %llu", (unsigned long long)v,
                  cairn_status_name(st), (unsigned long long)want);
        cairn_txn_free(txn);

        cairn_stats after = test_stats(c.db);
        uint64_t attempts = atomic_load(&c.attempts);
        if (after.commits - before.commits != want)
            failf(&c.fail, "%llu commits for %llu increments",
                  (unsigned long long)(after.commits - before.commits),
                  (unsigned long long)want);
        if (after.conflicts - before.conflicts != attempts - want)
            failf(&c.fail, "%llu conflicts counted, but %llu attempts were retried",
                  (unsigned long long)(after.conflicts - before.conflicts),
                  (unsigned long long)(attempts - want));
        if (atomic_load(&c.observations) == 0)
            failf(&c.fail, "the observer never ran");
        if (where->path && where->mode == CAIRN_DURABILITY_SYNC &&
            (after.syncs == before.syncs || after.syncs - before.syncs > want))
            failf(&c.fail, "%llu syncs for %llu synchronous commits",
                  (unsigned long long)(after.syncs - before.syncs), (unsigned long long)want);
    }
    if (!failed(&c.fail) && where->path) {
        /* every acknowledged increment is there after a reopen */
        cairn_status st = cairn_db_close(c.db);
        c.db = NULL;
        if (st != CAIRN_OK) {
            failf(&c.fail, "close gave %s", cairn_status_name(st));
        } else {
            c.db = store_open_or_die(where);
            cairn_txn *txn = NULL;
            HELPER_CHECK(begin_read_only(c.db, &txn));
            cairn_slice s;
            uint64_t v = 0;
            st = cairn_txn_get(txn, &c.key, &s);
            if (st != CAIRN_OK || !u64_from_slice(s, &v) || v != want)
                failf(&c.fail, "after reopen the counter is %llu (%s), expected %llu",
                      (unsigned long long)v, cairn_status_name(st), (unsigned long long)want);
            cairn_txn_free(txn);
        }
    }
    if (c.db)
        test_close(c.db);
    return failure_report(&c.fail, err, cap);
}

static bool scenario_counter(char *err, size_t cap)
{
    store mem = {.path = NULL, .max_retries = 100000};
    return counter_run(&mem, scaled(2500, 50), err, cap);
}

static bool scenario_counter_sync(char *err, size_t cap)
{
    char base[] = "/tmp/cairn-conc-XXXXXX";
    if (mkdtemp(base) == NULL) {
        snprintf(err, cap, "mkdtemp failed");
        return false;
    }
    char path[64];
    snprintf(path, sizeof path, "%s/db", base);
    store disk = {.path = path, .mode = CAIRN_DURABILITY_SYNC, .max_retries = 100000};
    bool ok = counter_run(&disk, scaled(100, 20), err, cap);
    test_rm_tree(base);
    return ok;
}

/* ---- inserts and deletes of whole groups, read concurrently ----------------------- */

/*
 * Each writer repeatedly inserts a group of keys in one transaction and
 * deletes the whole group in the next, so deleted keys are reclaimed all the
 * time while readers scan and read them.  A commit is atomic: every snapshot
 * shows each group either complete, with one value throughout, or absent.
 */
enum { CHURN_WRITERS = 2, CHURN_READERS = 2, CHURN_GROUP = 10 };

typedef struct churn {
    cairn_db *db;
    uint64_t rounds;
    _Atomic int writers_left;
    _Atomic uint64_t snapshots;
    failure fail;
} churn;

typedef struct churn_arg {
    churn *c;
    int index;
} churn_arg;

static void *churn_writer(void *p)
{
    churn_arg *a = p;
    churn *c = a->c;
    for (uint64_t r = 0; r < c->rounds && !failed(&c->fail); r++) {
        cairn_txn *txn = NULL;
        cairn_status st = cairn_txn_begin(c->db, NULL, &txn);
        char value[32];
        snprintf(value, sizeof value, "round %llu", (unsigned long long)r);
        for (int i = 0; i < CHURN_GROUP && st == CAIRN_OK; i++) {
            cairn_key k = name_key("c%d/%02d", a->index, i);
            st = r % 2 == 0 ? cairn_txn_put(txn, &k, test_str(value)) : cairn_txn_delete(txn, &k);
        }
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        if (st != CAIRN_OK)
            failf(&c->fail, "writer %d round %llu: %s (%s)", a->index, (unsigned long long)r,
                  cairn_status_name(st), txn ? cairn_txn_errmsg(txn) : "");
        cairn_txn_free(txn);
    }
    atomic_fetch_sub(&c->writers_left, 1);
    return NULL;
}

/* Checks one snapshot of writer w's group, by scan and by point reads. */
static void churn_check_group(churn *c, cairn_txn *txn, int w)
{
    cairn_key prefix = name_key("c%d/", w, 0);
    cairn_iter *it = NULL;
    cairn_status st = cairn_txn_scan_prefix(txn, &prefix, 0, &it);
    if (st != CAIRN_OK) {
        failf(&c->fail, "reader: scan gave %s", cairn_status_name(st));
        return;
    }
    char first[32] = "";
    int count = 0;
    cairn_slice k, v;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        char value[32];
        snprintf(value, sizeof value, "%.*s", (int)v.len, (const char *)v.data);
        if (count == 0)
            snprintf(first, sizeof first, "%s", value);
        else if (strcmp(first, value) != 0)
            failf(&c->fail, "group %d mixes \"%s\" and \"%s\" in one snapshot", w, first, value);
        count++;
    }
    cairn_iter_free(it);
    if (st != CAIRN_DONE)
        failf(&c->fail, "reader: iterator gave %s", cairn_status_name(st));
    if (count != 0 && count != CHURN_GROUP)
        failf(&c->fail, "group %d has %d of %d keys in one snapshot", w, count, CHURN_GROUP);

    for (int i = 0; i < CHURN_GROUP; i++) {
        cairn_key key = name_key("c%d/%02d", w, i);
        st = cairn_txn_get(txn, &key, &v);
        if (count == 0 ? st != CAIRN_NOT_FOUND : (st != CAIRN_OK || !slice_eq_str(v, first))) {
            failf(&c->fail, "group %d key %d: get gave %s, the scan saw %d keys", w, i,
                  cairn_status_name(st), count);
            break;
        }
    }
}

static void *churn_reader(void *p)
{
    churn *c = p;
    do {
        cairn_txn *txn = NULL;
        cairn_status st = begin_read_only(c->db, &txn);
        if (st != CAIRN_OK) {
            failf(&c->fail, "reader: begin gave %s", cairn_status_name(st));
            break;
        }
        for (int w = 0; w < CHURN_WRITERS; w++)
            churn_check_group(c, txn, w);
        if ((st = cairn_txn_commit(txn)) != CAIRN_OK)
            failf(&c->fail, "reader: commit gave %s", cairn_status_name(st));
        cairn_txn_free(txn);
        atomic_fetch_add(&c->snapshots, 1);
    } while (atomic_load(&c->writers_left) > 0 && !failed(&c->fail));
    return NULL;
}

static bool scenario_churn(char *err, size_t cap)
{
    static churn c;
    memset(&c, 0, sizeof c);
    failure_init(&c.fail);
    c.db = open_for_contention(64);
    c.rounds = scaled(4000, 100);
    atomic_store(&c.writers_left, CHURN_WRITERS);

    pthread_t writers[CHURN_WRITERS], readers[CHURN_READERS];
    churn_arg args[CHURN_WRITERS];
    for (int i = 0; i < CHURN_READERS; i++)
        pthread_create(&readers[i], NULL, churn_reader, &c);
    for (int i = 0; i < CHURN_WRITERS; i++) {
        args[i] = (churn_arg){&c, i};
        pthread_create(&writers[i], NULL, churn_writer, &args[i]);
    }
    for (int i = 0; i < CHURN_WRITERS; i++)
        pthread_join(writers[i], NULL);
    for (int i = 0; i < CHURN_READERS; i++)
        pthread_join(readers[i], NULL);

    if (!failed(&c.fail)) {
        /* the last round of each writer was a delete when rounds is even.
         * Readers may have pinned every delete while the writers ran; with
         * no snapshot left, finishing a transaction lets pending
         * reclamation run (a bounded number of tries, no waiting). */
        cairn_stats st = test_stats(c.db);
        for (int i = 0; i < 64 && st.keys_reclaimed == 0; i++) {
            cairn_txn *idle = NULL;
            HELPER_CHECK(begin_read_only(c.db, &idle));
            HELPER_CHECK(cairn_txn_commit(idle));
            cairn_txn_free(idle);
            st = test_stats(c.db);
        }
        if (st.keys_reclaimed == 0)
            failf(&c.fail, "no deleted key was ever reclaimed");
        if (atomic_load(&c.snapshots) < CHURN_READERS)
            failf(&c.fail, "the readers never ran");
        cairn_txn *txn = NULL;
        HELPER_CHECK(begin_read_only(c.db, &txn));
        for (int w = 0; w < CHURN_WRITERS; w++)
            churn_check_group(&c, txn, w);
        cairn_txn_free(txn);
    }
    test_close(c.db);
    return failure_report(&c.fail, err, cap);
}

/* ---- the ordered index reshaped under readers ---------------------------------------- */

/*
 * A fixed background of keys b00000, b00007, ... fills the low half of the
 * numbers; each round a writer inserts, in one transaction, every number
 * n = w + 1 (mod 7) of a window that moves through the whole range, and
 * deletes the same group in the next round.  In the empty high half this
 * builds and removes whole leaves and inner nodes of the index; in the low
 * half it splits leaves between background keys.  Readers scan from random
 * points: keys come in ascending order, the background is complete, and
 * each writer's group is all there or all gone.
 */
enum { TREE_WRITERS = 2, TREE_READERS = 2, TREE_SPAN = 21000, TREE_WINDOW = 420 };

typedef struct treechurn {
    cairn_db *db;
    uint64_t rounds;
    _Atomic int writers_left;
    _Atomic uint64_t scans;
    failure fail;
} treechurn;

typedef struct tree_arg {
    treechurn *c;
    int index;
} tree_arg;

static cairn_key tree_key(int n)
{
    return name_key("b%05d", n, 0);
}

static void *tree_writer(void *p)
{
    tree_arg *a = p;
    treechurn *c = a->c;
    uint64_t rng = 0x5EED0000u + (uint64_t)a->index;
    int start = 0;
    for (uint64_t r = 0; r < c->rounds && !failed(&c->fail); r++) {
        if (r % 2 == 0) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            start = (int)((rng >> 33) % (TREE_SPAN - TREE_WINDOW));
        }
        cairn_txn *txn = NULL;
        cairn_status st = cairn_txn_begin(c->db, NULL, &txn);
        for (int n = start; n < start + TREE_WINDOW && st == CAIRN_OK; n++) {
            if (n % 7 != a->index + 1)
                continue;
            cairn_key k = tree_key(n);
            st = r % 2 == 0 ? cairn_txn_put(txn, &k, test_str("g")) : cairn_txn_delete(txn, &k);
        }
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        if (st != CAIRN_OK)
            failf(&c->fail, "tree writer %d round %llu: %s (%s)", a->index, (unsigned long long)r,
                  cairn_status_name(st), txn ? cairn_txn_errmsg(txn) : "");
        cairn_txn_free(txn);
    }
    atomic_fetch_sub(&c->writers_left, 1);
    return NULL;
}

/* One scan from key number `from` to the end, checked. */
static void tree_scan(treechurn *c, cairn_txn *txn, int from)
{
    cairn_key start = tree_key(from), end = tree_key(TREE_SPAN);
    cairn_iter *it = NULL;
    cairn_status st = cairn_txn_scan(txn, &start, &end, 0, &it);
    if (st != CAIRN_OK) {
        failf(&c->fail, "tree reader: scan gave %s", cairn_status_name(st));
        return;
    }
    int last = -1, background = 0, group[TREE_WRITERS] = {0};
    int gmin[TREE_WRITERS], gmax[TREE_WRITERS];
    for (int w = 0; w < TREE_WRITERS; w++)
        gmin[w] = INT32_MAX, gmax[w] = -1;
    cairn_slice k, v;
    size_t prefix = tree_key(0).len - 5;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        int n = 0;
        for (size_t i = prefix; i < k.len; i++)
            n = n * 10 + (((const uint8_t *)k.data)[i] - '0');
        if (n <= last || n < from) {
            failf(&c->fail, "scan from %d: key %d after %d", from, n, last);
            break;
        }
        last = n;
        if (n % 7 == 0) {
            background++;
        } else if (n % 7 <= TREE_WRITERS) {
            int w = n % 7 - 1;
            group[w]++;
            gmin[w] = n < gmin[w] ? n : gmin[w];
            gmax[w] = n;
        } else {
            failf(&c->fail, "scan from %d: stray key %d", from, n);
            break;
        }
    }
    cairn_iter_free(it);
    if (st != CAIRN_DONE && !failed(&c->fail))
        failf(&c->fail, "tree reader: iterator gave %s", cairn_status_name(st));
    int want_bg = 0; /* multiples of 7 in [from, TREE_SPAN / 2) */
    for (int n = from; n < TREE_SPAN / 2; n++)
        want_bg += n % 7 == 0;
    if (background != want_bg)
        failf(&c->fail, "scan from %d saw %d background keys, not %d", from, background, want_bg);
    for (int w = 0; w < TREE_WRITERS; w++) {
        /* a group is one window: no gaps between its first and last key */
        if (group[w] && group[w] != (gmax[w] - gmin[w]) / 7 + 1)
            failf(&c->fail, "scan from %d: writer %d's group has holes (%d keys in %d..%d)", from, w,
                  group[w], gmin[w], gmax[w]);
    }
}

static void *tree_reader(void *p)
{
    treechurn *c = p;
    uint64_t rng = 0xBEEF;
    do {
        cairn_txn *txn = NULL;
        cairn_status st = begin_read_only(c->db, &txn);
        if (st != CAIRN_OK) {
            failf(&c->fail, "tree reader: begin gave %s", cairn_status_name(st));
            break;
        }
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        tree_scan(c, txn, (int)((rng >> 33) % TREE_SPAN));
        if ((st = cairn_txn_commit(txn)) != CAIRN_OK)
            failf(&c->fail, "tree reader: commit gave %s", cairn_status_name(st));
        cairn_txn_free(txn);
        atomic_fetch_add(&c->scans, 1);
    } while (atomic_load(&c->writers_left) > 0 && !failed(&c->fail));
    return NULL;
}

static bool scenario_tree_churn(char *err, size_t cap)
{
    static treechurn c;
    memset(&c, 0, sizeof c);
    failure_init(&c.fail);
    c.db = open_for_contention(64);
    c.rounds = scaled(3000, 100);
    cairn_txn *txn = NULL;
    HELPER_CHECK(cairn_txn_begin(c.db, NULL, &txn));
    for (int n = 0; n < TREE_SPAN / 2; n += 7) {
        cairn_key k = tree_key(n);
        HELPER_CHECK(cairn_txn_put(txn, &k, test_str("bg")));
    }
    HELPER_CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    atomic_store(&c.writers_left, TREE_WRITERS);

    pthread_t writers[TREE_WRITERS], readers[TREE_READERS];
    tree_arg args[TREE_WRITERS];
    for (int i = 0; i < TREE_READERS; i++)
        pthread_create(&readers[i], NULL, tree_reader, &c);
    for (int i = 0; i < TREE_WRITERS; i++) {
        args[i] = (tree_arg){&c, i};
        pthread_create(&writers[i], NULL, tree_writer, &args[i]);
    }
    for (int i = 0; i < TREE_WRITERS; i++)
        pthread_join(writers[i], NULL);
    for (int i = 0; i < TREE_READERS; i++)
        pthread_join(readers[i], NULL);
    if (!failed(&c.fail)) {
        if (test_stats(c.db).keys_reclaimed == 0)
            failf(&c.fail, "no deleted key was ever reclaimed");
        if (atomic_load(&c.scans) < TREE_READERS)
            failf(&c.fail, "the readers never ran");
        HELPER_CHECK(begin_read_only(c.db, &txn));
        tree_scan(&c, txn, 0);
        cairn_txn_free(txn);
    }
    test_close(c.db);
    return failure_report(&c.fail, err, cap);
}

/* ---- run ids from many threads ------------------------------------------------------- */

enum { ID_THREADS = 4 };

typedef struct ids {
    cairn_db *db;
    uint64_t per_thread;
    cairn_run_id *out[ID_THREADS];
    failure fail;
} ids;

typedef struct ids_arg {
    ids *s;
    int index;
} ids_arg;

static void *id_generator(void *p)
{
    ids_arg *a = p;
    ids *s = a->s;
    for (uint64_t i = 0; i < s->per_thread; i++) {
        cairn_status st = cairn_run_id_generate(s->db, &s->out[a->index][i]);
        if (st != CAIRN_OK) {
            failf(&s->fail, "thread %d: cairn_run_id_generate gave %s", a->index,
                  cairn_status_name(st));
            break;
        }
        if (i > 0 && memcmp(&s->out[a->index][i], &s->out[a->index][i - 1], sizeof(cairn_run_id)) <= 0) {
            failf(&s->fail, "thread %d: id %llu is not greater than the one before", a->index,
                  (unsigned long long)i);
            break;
        }
    }
    return NULL;
}

static int run_id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(cairn_run_id));
}

static bool scenario_run_ids(char *err, size_t cap)
{
    ids s = {.per_thread = scaled(5000, 100)};
    failure_init(&s.fail);
    s.db = open_for_contention(64);
    size_t total = (size_t)s.per_thread * ID_THREADS;
    cairn_run_id *all = calloc(total, sizeof *all);
    if (all == NULL)
        abort();
    pthread_t threads[ID_THREADS];
    ids_arg args[ID_THREADS];
    for (int i = 0; i < ID_THREADS; i++) {
        s.out[i] = all + (size_t)i * s.per_thread;
        args[i] = (ids_arg){&s, i};
        pthread_create(&threads[i], NULL, id_generator, &args[i]);
    }
    for (int i = 0; i < ID_THREADS; i++)
        pthread_join(threads[i], NULL);
    if (!failed(&s.fail)) {
        qsort(all, total, sizeof *all, run_id_cmp);
        for (size_t i = 1; i < total; i++) {
            if (memcmp(&all[i], &all[i - 1], sizeof *all) == 0) {
                failf(&s.fail, "two threads got the same run id");
                break;
            }
        }
    }
    free(all);
    test_close(s.db);
    return failure_report(&s.fail, err, cap);
}

/* ---- more threads than transaction slots ------------------------------------------------ */

enum { SLOT_THREADS = 4, SLOTS = 2 };

typedef struct slots {
    cairn_db *db;
    uint64_t per_thread;
    _Atomic uint64_t committed;
    _Atomic uint64_t busy;
    failure fail;
} slots;

typedef struct slots_arg {
    slots *s;
    int index;
} slots_arg;

static void *slot_user(void *p)
{
    slots_arg *a = p;
    slots *s = a->s;
    uint64_t done = 0;
    while (done < s->per_thread && !failed(&s->fail)) {
        cairn_txn *txn = NULL;
        cairn_status st = cairn_txn_begin(s->db, NULL, &txn);
        if (st == CAIRN_BUSY) {
            atomic_fetch_add(&s->busy, 1);
            continue; /* every slot is taken: try again */
        }
        cairn_key k = name_key("slot%d/%06d", a->index, (int)done);
        if (st == CAIRN_OK)
            st = cairn_txn_put(txn, &k, test_str("x"));
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        cairn_txn_free(txn);
        if (st != CAIRN_OK) {
            failf(&s->fail, "thread %d: %s", a->index, cairn_status_name(st));
            break;
        }
        done++;
        atomic_fetch_add(&s->committed, 1);
    }
    return NULL;
}

static bool scenario_slots(char *err, size_t cap)
{
    slots s = {.per_thread = scaled(3000, 100)};
    failure_init(&s.fail);
    cairn_options opts;
    cairn_options_init(&opts);
    opts.max_open_txns = SLOTS;
    s.db = test_open(&opts);

    pthread_t threads[SLOT_THREADS];
    slots_arg args[SLOT_THREADS];
    for (int i = 0; i < SLOT_THREADS; i++) {
        args[i] = (slots_arg){&s, i};
        pthread_create(&threads[i], NULL, slot_user, &args[i]);
    }
    for (int i = 0; i < SLOT_THREADS; i++)
        pthread_join(threads[i], NULL);

    if (!failed(&s.fail)) {
        cairn_stats st = test_stats(s.db);
        uint64_t want = s.per_thread * SLOT_THREADS;
        if (st.open_txns != 0)
            failf(&s.fail, "%llu transactions still open", (unsigned long long)st.open_txns);
        if (st.keys != want || atomic_load(&s.committed) != want)
            failf(&s.fail, "%llu keys and %llu commits, expected %llu", (unsigned long long)st.keys,
                  (unsigned long long)atomic_load(&s.committed), (unsigned long long)want);
    }
    test_close(s.db);
    return failure_report(&s.fail, err, cap);
}

/* ---- cairn_db_run when transaction slots are scarce ------------------------------------- */

/*
 * More threads than max_open_txns increment one counter through cairn_db_run.
 * A call may answer CAIRN_BUSY (no free slot: the caller tries again), but
 * CAIRN_CONFLICT means max_retries attempts all conflicted, which with a
 * generous max_retries must not happen, and no increment may be lost.
 */
enum { SCARCE_THREADS = 4, SCARCE_SLOTS = 2, SCARCE_RETRIES = 1000 };

/* An increment that also reads a few hundred other keys, so that
 * transactions stay open long enough to overlap and conflict. */
static cairn_status long_increment_body(cairn_txn *txn, void *p)
{
    for (int i = 0; i < 300; i++) {
        cairn_key k = name_key("padding/%03d", i, 0);
        cairn_slice s;
        cairn_status st = cairn_txn_get(txn, &k, &s);
        if (st != CAIRN_NOT_FOUND)
            return st == CAIRN_OK ? CAIRN_CORRUPT : st;
    }
    return increment_body(txn, p);
}

static void *scarce_worker(void *p)
{
    counter_arg *a = p;
    counter *c = a->c;
    for (uint64_t i = 0; i < c->per_thread && !failed(&c->fail);) {
        uint32_t attempts = 0;
        cairn_status st = cairn_db_run(c->db, NULL, long_increment_body, c, &attempts);
        if (st == CAIRN_BUSY) {
            sched_yield();
            continue;
        }
        if (st != CAIRN_OK) {
            failf(&c->fail, "thread %d increment %llu: %s after %u of %u attempts", a->index,
                  (unsigned long long)i, cairn_status_name(st), attempts, SCARCE_RETRIES);
            break;
        }
        i++;
    }
    return NULL;
}

static bool scenario_scarce_slots(char *err, size_t cap)
{
    static counter c;
    memset(&c, 0, sizeof c);
    failure_init(&c.fail);
    cairn_options opts;
    cairn_options_init(&opts);
    opts.max_open_txns = SCARCE_SLOTS;
    opts.max_retries = SCARCE_RETRIES;
    c.db = test_open(&opts);
    c.key = name_key("scarce counter", 0, 0);
    c.per_thread = scaled(2000, 50);

    pthread_t threads[SCARCE_THREADS];
    counter_arg args[SCARCE_THREADS];
    for (int i = 0; i < SCARCE_THREADS; i++) {
        args[i] = (counter_arg){&c, i};
        pthread_create(&threads[i], NULL, scarce_worker, &args[i]);
    }
    for (int i = 0; i < SCARCE_THREADS; i++)
        pthread_join(threads[i], NULL);

    if (!failed(&c.fail)) {
        uint64_t want = c.per_thread * SCARCE_THREADS;
        cairn_txn *txn = NULL;
        HELPER_CHECK(begin_read_only(c.db, &txn));
        cairn_slice s;
        uint64_t v = 0;
        cairn_status st = cairn_txn_get(txn, &c.key, &s);
        if (st != CAIRN_OK || !u64_from_slice(s, &v) || v != want)
            failf(&c.fail, "counter is %llu (%s), expected %llu", (unsigned long long)v,
                  cairn_status_name(st), (unsigned long long)want);
        cairn_txn_free(txn);
        if (test_stats(c.db).open_txns != 0)
            failf(&c.fail, "transactions still open");
    }
    test_close(c.db);
    return failure_report(&c.fail, err, cap);
}

/* ---- one StateCell counter, incremented through cairn_cell_transition ---------------- */

/*
 * CELL_THREADS threads each make CELL_INCREMENTS increments of one counter
 * cell (an 8-byte big-endian value) with the implicit transition, which
 * retries on conflict inside cairn_db_run().  The counter starts at 0,
 * version 1, so it must end at exactly CELL_THREADS * CELL_INCREMENTS with
 * version one more.  Every call's new version is kept: together they must
 * be exactly 2..final, each once.  An observer checks that every snapshot
 * holds value == version - 1 and that neither moves backwards.
 *
 * Four threads on one key conflict constantly (more so on fewer cores, when
 * a thread is scheduled out between its read and its commit), so the
 * database gets CELL_RETRIES attempts per call instead of the default 64:
 * with the jittered backoff capped at 1 ms a call never needs anywhere near
 * as many, and a slow, busy machine cannot turn bad luck into a failure.
 * The count is not scaled by CAIRN_TEST_SCALE: 40,000 is what it shows.
 */
enum { CELL_THREADS = 4, CELL_INCREMENTS = 10000, CELL_RETRIES = 100000 };

typedef struct cellcount {
    cairn_db *db;
    cairn_run_id run;
    uint64_t *versions[CELL_THREADS]; /* new version of each call */
    _Atomic bool done;
    _Atomic uint64_t observations;
    failure fail;
} cellcount;

typedef struct cell_arg {
    cellcount *c;
    int index;
    uint64_t runs; /* times the transition function ran (this test's own count) */
} cell_arg;

static const char cell_name[] = "counter";

static cairn_status cell_increment(void *ctx, cairn_slice current, cairn_bytes *new_value)
{
    cell_arg *a = ctx;
    a->runs++; /* bookkeeping of the test only: the result does not depend on it */
    uint64_t v;
    if (!u64_from_slice(current, &v))
        return CAIRN_CORRUPT;
    new_value->data = malloc(8);
    if (new_value->data == NULL)
        return CAIRN_NO_MEMORY;
    u64_to_be(v + 1, new_value->data);
    new_value->len = 8;
    return CAIRN_OK;
}

static void *cell_worker(void *p)
{
    cell_arg *a = p;
    cellcount *c = a->c;
    uint64_t last = 0;
    for (int i = 0; i < CELL_INCREMENTS && !failed(&c->fail); i++) {
        uint64_t version = 0;
        cairn_status fst = CAIRN_CORRUPT;
        cairn_status st = cairn_cell_transition(c->db, &c->run, test_str(cell_name), cell_increment,
                                                a, &version, &fst);
        if (st != CAIRN_OK || fst != CAIRN_OK) {
            char msg[256];
            cairn_db_errmsg(c->db, msg, sizeof msg);
            failf(&c->fail, "thread %d increment %d: %s (function: %s): %s", a->index, i,
                  cairn_status_name(st), cairn_status_name(fst), msg);
            break;
        }
        if (version <= last)
            failf(&c->fail, "thread %d: version %llu after %llu", a->index,
                  (unsigned long long)version, (unsigned long long)last);
        last = version;
        c->versions[a->index][i] = version;
    }
    return NULL;
}

static void *cell_observer(void *p)
{
    cellcount *c = p;
    uint64_t last_value = 0, last_version = 1;
    do {
        cairn_txn *txn = NULL;
        cairn_status st = begin_read_only(c->db, &txn);
        if (st != CAIRN_OK) {
            failf(&c->fail, "observer: begin gave %s", cairn_status_name(st));
            break;
        }
        cairn_cell_view cell;
        uint64_t v = 0;
        st = cairn_cell_read_tx(txn, &c->run, test_str(cell_name), &cell);
        if (st != CAIRN_OK)
            failf(&c->fail, "observer: read gave %s", cairn_status_name(st));
        else if (!u64_from_slice(cell.value, &v))
            failf(&c->fail, "observer: a counter of %zu bytes", cell.value.len);
        else if (v != cell.version - 1 || v < last_value || cell.version < last_version)
            failf(&c->fail, "observer: counter %llu at version %llu after %llu at %llu",
                  (unsigned long long)v, (unsigned long long)cell.version,
                  (unsigned long long)last_value, (unsigned long long)last_version);
        else {
            last_value = v;
            last_version = cell.version;
        }
        cairn_txn_free(txn);
        atomic_fetch_add(&c->observations, 1);
    } while (!atomic_load(&c->done) && !failed(&c->fail));
    return NULL;
}

static bool scenario_cell_counter(char *err, size_t cap)
{
    static cellcount c;
    memset(&c, 0, sizeof c);
    failure_init(&c.fail);
    c.db = open_for_contention(CELL_RETRIES);
    c.run = conc_run();
    uint8_t zero[8];
    u64_to_be(0, zero);
    HELPER_CHECK(cairn_cell_init(c.db, &c.run, test_str(cell_name), cairn_slice_of(zero, 8)));
    cairn_stats before = test_stats(c.db);

    pthread_t threads[CELL_THREADS], observer;
    cell_arg args[CELL_THREADS];
    for (int i = 0; i < CELL_THREADS; i++) {
        c.versions[i] = calloc(CELL_INCREMENTS, sizeof(uint64_t));
        if (c.versions[i] == NULL)
            abort();
    }
    pthread_create(&observer, NULL, cell_observer, &c);
    for (int i = 0; i < CELL_THREADS; i++) {
        args[i] = (cell_arg){&c, i, 0};
        pthread_create(&threads[i], NULL, cell_worker, &args[i]);
    }
    for (int i = 0; i < CELL_THREADS; i++)
        pthread_join(threads[i], NULL);
    atomic_store(&c.done, true);
    pthread_join(observer, NULL);

    const uint64_t total = (uint64_t)CELL_THREADS * CELL_INCREMENTS;
    if (!failed(&c.fail)) {
        cairn_cell cell;
        uint64_t v = 0;
        cairn_status st = cairn_cell_read(c.db, &c.run, test_str(cell_name), &cell);
        if (st != CAIRN_OK || !u64_from_slice(cairn_bytes_slice(&cell.value), &v) || v != total ||
            cell.version != total + 1)
            failf(&c.fail, "the cell holds %llu at version %llu (%s), expected %llu at %llu",
                  (unsigned long long)v, (unsigned long long)cell.version, cairn_status_name(st),
                  (unsigned long long)total, (unsigned long long)(total + 1));
        cairn_bytes_free(&cell.value);
    }
    if (!failed(&c.fail)) {
        /* every version 2..total+1 was handed out exactly once */
        uint64_t *all = malloc(total * sizeof *all);
        if (all == NULL)
            abort();
        for (int i = 0; i < CELL_THREADS; i++)
            memcpy(all + (size_t)i * CELL_INCREMENTS, c.versions[i], CELL_INCREMENTS * sizeof *all);
        qsort(all, total, sizeof *all, u64_cmp);
        for (uint64_t i = 0; i < total; i++) {
            if (all[i] != i + 2) {
                failf(&c.fail, "the %llu-th smallest version returned is %llu, not %llu",
                      (unsigned long long)i, (unsigned long long)all[i], (unsigned long long)(i + 2));
                break;
            }
        }
        free(all);
        /* the function ran once per commit plus once per conflict */
        uint64_t runs = 0;
        for (int i = 0; i < CELL_THREADS; i++)
            runs += args[i].runs;
        cairn_stats after = test_stats(c.db);
        if (after.commits - before.commits != total ||
            runs - total != after.conflicts - before.conflicts)
            failf(&c.fail, "%llu commits and %llu conflicts for %llu increments and %llu runs",
                  (unsigned long long)(after.commits - before.commits),
                  (unsigned long long)(after.conflicts - before.conflicts),
                  (unsigned long long)total, (unsigned long long)runs);
        if (atomic_load(&c.observations) < 1)
            failf(&c.fail, "the observer never ran");
    }
    for (int i = 0; i < CELL_THREADS; i++)
        free(c.versions[i]);
    test_close(c.db);
    return failure_report(&c.fail, err, cap);
}

/* ---- runners ------------------------------------------------------------------------- */

/* ---- one event log, four appenders ------------------------------------------------- */

/*
 * Four threads append 10,000 events each to one run's log through the
 * implicit append (retried on conflict).  The log must end with exactly
 * 40,000 events numbered 0..39,999, each thread's returned numbers
 * distinct, and the chain must verify; a retried idempotent append returns
 * the number of the first.  Not scaled: 40,000 is what it shows.
 */
enum { EV_THREADS = 4, EV_APPENDS = 10000 };

typedef struct evlog {
    cairn_db *db;
    cairn_run_id run;
    uint64_t *seqs[EV_THREADS];
    failure fail;
} evlog;

typedef struct ev_arg {
    evlog *e;
    int index;
} ev_arg;

static void *ev_appender(void *p)
{
    ev_arg *a = p;
    evlog *e = a->e;
    char payload[48];
    for (int i = 0; i < EV_APPENDS && !failed(&e->fail); i++) {
        snprintf(payload, sizeof payload, "thread %d event %d", a->index, i);
        uint64_t seq;
        cairn_status st = cairn_event_append(e->db, &e->run, test_str(i % 2 ? "tool_call" : "thought"),
                                             test_str(payload), &seq, NULL);
        if (st != CAIRN_OK) {
            char msg[256];
            cairn_db_errmsg(e->db, msg, sizeof msg);
            failf(&e->fail, "thread %d append %d: %s (%s)", a->index, i, cairn_status_name(st), msg);
            break;
        }
        e->seqs[a->index][i] = seq;
    }
    return NULL;
}

static bool scenario_event_appends(char *err, size_t cap)
{
    static evlog e;
    memset(&e, 0, sizeof e);
    failure_init(&e.fail);
    e.db = open_for_contention(CELL_RETRIES);
    e.run = test_run(0xE4, 4);
    pthread_t threads[EV_THREADS];
    ev_arg args[EV_THREADS];
    for (int i = 0; i < EV_THREADS; i++) {
        e.seqs[i] = calloc(EV_APPENDS, sizeof(uint64_t));
        if (e.seqs[i] == NULL)
            abort();
        args[i] = (ev_arg){&e, i};
    }
    for (int i = 0; i < EV_THREADS; i++)
        pthread_create(&threads[i], NULL, ev_appender, &args[i]);
    for (int i = 0; i < EV_THREADS; i++)
        pthread_join(threads[i], NULL);
    const uint64_t total = (uint64_t)EV_THREADS * EV_APPENDS;
    if (!failed(&e.fail)) {
        uint64_t len = 0;
        cairn_status st = cairn_event_len(e.db, &e.run, &len);
        if (st != CAIRN_OK || len != total)
            failf(&e.fail, "the log holds %llu events (%s), expected %llu", (unsigned long long)len,
                  cairn_status_name(st), (unsigned long long)total);
    }
    if (!failed(&e.fail)) {
        uint64_t *all = malloc(total * sizeof *all);
        if (all == NULL)
            abort();
        for (int i = 0; i < EV_THREADS; i++)
            memcpy(all + (size_t)i * EV_APPENDS, e.seqs[i], EV_APPENDS * sizeof *all);
        qsort(all, total, sizeof *all, u64_cmp);
        for (uint64_t i = 0; i < total; i++) {
            if (all[i] != i) {
                failf(&e.fail, "the %llu-th smallest number returned is %llu", (unsigned long long)i,
                      (unsigned long long)all[i]);
                break;
            }
        }
        free(all);
    }
    if (!failed(&e.fail)) {
        cairn_chain_report r;
        cairn_status st = cairn_event_verify(e.db, &e.run, &r);
        if (st != CAIRN_OK || !r.ok || r.checked != total)
            failf(&e.fail, "the chain does not verify: %s at %llu (%llu checked)", r.why,
                  (unsigned long long)r.bad_seq, (unsigned long long)r.checked);
    }
    if (!failed(&e.fail)) {
        uint64_t s1 = 0, s2 = 0;
        bool a1 = false, a2 = true;
        cairn_status st = cairn_event_append_once(e.db, &e.run, test_str("retry-me"), test_str("t"),
                                                  test_str("p"), &s1, NULL, &a1);
        if (st == CAIRN_OK)
            st = cairn_event_append_once(e.db, &e.run, test_str("retry-me"), test_str("t"), test_str("p"),
                                         &s2, NULL, &a2);
        if (st != CAIRN_OK || !a1 || a2 || s1 != total || s2 != s1)
            failf(&e.fail, "idempotent retry: %s, first %llu (appended %d), retry %llu (appended %d)",
                  cairn_status_name(st), (unsigned long long)s1, a1, (unsigned long long)s2, a2);
    }
    for (int i = 0; i < EV_THREADS; i++)
        free(e.seqs[i]);
    test_close(e.db);
    return failure_report(&e.fail, err, cap);
}

#ifdef CAIRN_TEST_STANDALONE

int main(void)
{
    static const struct {
        const char *name;
        bool (*fn)(char *, size_t);
    } scenarios[] = {
        {"bank_transfers_conserve_the_total_in_every_snapshot", scenario_bank},
        {"blind_writers_on_disjoint_keys_all_commit", scenario_blind_disjoint},
        {"blind_writers_on_one_key_all_commit_and_the_last_commit_wins",
         scenario_blind_shared},
        {"concurrent_increments_through_db_run_lose_no_update", scenario_counter},
        {"groups_inserted_and_deleted_atomically_never_show_half_done", scenario_churn},
        {"index_reshaped_under_readers_keeps_every_scan_ordered_and_whole",
         scenario_tree_churn},
        {"run_ids_from_many_threads_are_distinct_and_increasing", scenario_run_ids},
        {"more_threads_than_transaction_slots_share_them_safely", scenario_slots},
        {"db_run_keeps_retrying_when_transaction_slots_are_scarce", scenario_scarce_slots},
        {"bank_transfers_on_a_durable_database_survive_checkpoints_and_reopen",
         scenario_bank_durable},
        {"synchronous_increments_from_many_threads_survive_reopen", scenario_counter_sync},
        {"cell_transitions_from_four_threads_lose_no_increment", scenario_cell_counter},
        {"four_appenders_to_one_event_log_leave_no_gap_or_duplicate", scenario_event_appends},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        char err[512] = "";
        bool ok = scenarios[i].fn(err, sizeof err);
        printf("%s concurrency::%s%s%s\n", ok ? "PASS" : "FAIL", scenarios[i].name,
               ok ? "" : ": ", ok ? "" : err);
        fflush(stdout);
        failures += !ok;
    }
    return failures ? 1 : 0;
}

#else

Test(concurrency, bank_transfers_conserve_the_total_in_every_snapshot)
{
    char err[512] = "";
    cr_assert(scenario_bank(err, sizeof err), "%s", err);
}

Test(concurrency, blind_writers_on_disjoint_keys_all_commit)
{
    char err[512] = "";
    cr_assert(scenario_blind_disjoint(err, sizeof err), "%s", err);
}

Test(concurrency, blind_writers_on_one_key_all_commit_and_the_last_commit_wins)
{
    char err[512] = "";
    cr_assert(scenario_blind_shared(err, sizeof err), "%s", err);
}

Test(concurrency, concurrent_increments_through_db_run_lose_no_update)
{
    char err[512] = "";
    cr_assert(scenario_counter(err, sizeof err), "%s", err);
}

Test(concurrency, index_reshaped_under_readers_keeps_every_scan_ordered_and_whole)
{
    char err[512] = "";
    cr_assert(scenario_tree_churn(err, sizeof err), "%s", err);
}

Test(concurrency, groups_inserted_and_deleted_atomically_never_show_half_done)
{
    char err[512] = "";
    cr_assert(scenario_churn(err, sizeof err), "%s", err);
}

Test(concurrency, run_ids_from_many_threads_are_distinct_and_increasing)
{
    char err[512] = "";
    cr_assert(scenario_run_ids(err, sizeof err), "%s", err);
}

Test(concurrency, more_threads_than_transaction_slots_share_them_safely)
{
    char err[512] = "";
    cr_assert(scenario_slots(err, sizeof err), "%s", err);
}

Test(concurrency, db_run_keeps_retrying_when_transaction_slots_are_scarce)
{
    char err[512] = "";
    cr_assert(scenario_scarce_slots(err, sizeof err), "%s", err);
}

Test(concurrency, bank_transfers_on_a_durable_database_survive_checkpoints_and_reopen)
{
    char err[512] = "";
    cr_assert(scenario_bank_durable(err, sizeof err), "%s", err);
}

Test(concurrency, synchronous_increments_from_many_threads_survive_reopen)
{
    char err[512] = "";
    cr_assert(scenario_counter_sync(err, sizeof err), "%s", err);
}

Test(concurrency, cell_transitions_from_four_threads_lose_no_increment)
{
    char err[512] = "";
    cr_assert(scenario_cell_counter(err, sizeof err), "%s", err);
}

Test(concurrency, four_appenders_to_one_event_log_leave_no_gap_or_duplicate)
{
    char err[512] = "";
    cr_assert(scenario_event_appends(err, sizeof err), "%s", err);
}

#endif
