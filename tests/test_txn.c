/*
 * Transactions: snapshots, read-your-own-writes, serializable validation
 * (conflicts, write skew, phantoms), blind writes, read-only transactions,
 * expiry, scans, commit versions, the retry helper and version reclamation.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <unistd.h>

#include "helpers.h"

typedef struct model_entry {
    bool present;
    char value[12];
} model_entry;

static cairn_txn *begin_rw(cairn_db *db)
{
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cr_assert_not_null(txn);
    cr_assert(cairn_txn_is_active(txn));
    return txn;
}

static cairn_txn *begin_ro(cairn_db *db)
{
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, &to, &txn));
    cr_assert_not_null(txn);
    return txn;
}

/* Asserts that `txn` reads `key` as `want` (NULL: absent). */
static void expect_value(cairn_txn *txn, const char *name, const char *want)
{
    cairn_key key = test_key(name);
    cairn_slice v = {NULL, 0};
    cairn_status st = cairn_txn_get(txn, &key, &v);
    if (want == NULL) {
        cr_assert_eq(st, CAIRN_NOT_FOUND, "get(%s): got %s, expected CAIRN_NOT_FOUND", name,
                     cairn_status_name(st));
    } else {
        cr_assert_eq(st, CAIRN_OK, "get(%s): got %s, expected \"%s\"", name,
                     cairn_status_name(st), want);
        cr_assert(slice_eq_str(v, want), "get(%s): got \"%.*s\", expected \"%s\"", name,
                  (int)v.len, (const char *)v.data, want);
    }
}

/* Asserts what a fresh snapshot reads for `name`. */
static void expect_committed(cairn_db *db, const char *name, const char *want)
{
    cairn_txn *txn = begin_ro(db);
    expect_value(txn, name, want);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

static void put_name(cairn_txn *txn, const char *name, const char *value)
{
    cairn_key key = test_key(name);
    ASSERT_OK(cairn_txn_put(txn, &key, test_str(value)));
}

static void delete_name(cairn_txn *txn, const char *name)
{
    cairn_key key = test_key(name);
    ASSERT_OK(cairn_txn_delete(txn, &key));
}

static void commit_put(cairn_db *db, const char *name, const char *value)
{
    cairn_key key = test_key(name);
    test_put(db, &key, value);
}

/*
 * Scans `txn` over the default run's KV keys starting with `prefix` and
 * checks that it yields exactly `want` ("name=value" strings, in order).
 */
static void expect_scan(cairn_txn *txn, const char *prefix, size_t limit, const char *const *want,
                        size_t nwant)
{
    cairn_run_id run = test_run(0x11, 0x01); /* the run test_key() uses */
    cairn_key p = prefix[0] ? test_key(prefix) : test_prefix(&run, CAIRN_TAG_KV);
    cairn_iter *it = NULL;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &p, limit, &it));
    cairn_slice k, v;
    size_t i = 0;
    cairn_status st;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        cairn_slice rest;
        ASSERT_OK(cairn_key_decode(k, NULL, NULL, &rest));
        char got[128];
        snprintf(got, sizeof got, "%.*s=%.*s", (int)rest.len, (const char *)rest.data,
                 (int)v.len, (const char *)v.data);
        cr_assert_lt(i, nwant, "scan yields an extra pair %s", got);
        cr_assert_str_eq(got, want[i], "scan item %zu", i);
        i++;
    }
    ASSERT_STATUS(st, CAIRN_DONE);
    cr_assert_eq(i, nwant, "scan yields %zu pairs, expected %zu", i, nwant);
    cairn_iter_free(it);
}

/* ---- read-your-own-writes and isolation ----------------------------------- */

Test(txn, get_and_scan_see_the_transactions_own_puts_and_deletes)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "a", "1");
    commit_put(db, "b", "2");
    commit_put(db, "c", "3");

    cairn_txn *txn = begin_rw(db);
    put_name(txn, "b", "two");
    delete_name(txn, "c");
    put_name(txn, "d", "4");
    put_name(txn, "e", "5");
    delete_name(txn, "e");
    expect_value(txn, "a", "1");
    expect_value(txn, "b", "two");
    expect_value(txn, "c", NULL);
    expect_value(txn, "d", "4");
    expect_value(txn, "e", NULL);

    const char *want[] = {"a=1", "b=two", "d=4"};
    expect_scan(txn, "", 0, want, 3);

    /* a delete followed by a put brings the key back */
    put_name(txn, "c", "again");
    expect_value(txn, "c", "again");
    const char *want2[] = {"a=1", "b=two", "c=again", "d=4"};
    expect_scan(txn, "", 0, want2, 4);

    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    txn = begin_ro(db);
    expect_scan(txn, "", 0, want2, 4);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, an_open_scan_does_not_see_the_transactions_later_writes)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "a", "1");
    commit_put(db, "c", "3");

    cairn_txn *txn = begin_rw(db);
    put_name(txn, "b", "2");       /* written before the scan opens */
    put_name(txn, "d", "4");
    cairn_run_id run = test_run(0x11, 0x01);
    cairn_key p = test_prefix(&run, CAIRN_TAG_KV);
    cairn_iter *it = NULL;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &p, 0, &it));
    /* after the open: overwrite and delete keys written before it, and
     * change committed keys and a new one */
    put_name(txn, "b", "two");
    delete_name(txn, "d");
    put_name(txn, "a", "one");
    delete_name(txn, "c");
    put_name(txn, "e", "5");
    const char *want[] = {"a=1", "b=2", "c=3", "d=4"};
    size_t i = 0;
    cairn_slice k, v;
    cairn_status st;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        cairn_slice rest;
        ASSERT_OK(cairn_key_decode(k, NULL, NULL, &rest));
        char got[64];
        snprintf(got, sizeof got, "%.*s=%.*s", (int)rest.len, (const char *)rest.data, (int)v.len,
                 (const char *)v.data);
        cr_assert_lt(i, 4, "an extra pair %s", got);
        cr_assert_str_eq(got, want[i], "item %zu", i);
        i++;
    }
    ASSERT_STATUS(st, CAIRN_DONE);
    cr_assert_eq(i, 4);
    cairn_iter_free(it);
    /* a scan opened now sees them */
    const char *now[] = {"a=one", "b=two", "e=5"};
    expect_scan(txn, "", 0, now, 3);
    cairn_txn_free(txn);
    test_close(db);
}

/* Writes `n` distinct keys "w/NN" = "vNN" in `txn`. */
static void put_many(cairn_txn *txn, int n, const char *tag)
{
    for (int i = 0; i < n; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "w/%02d", i);
        snprintf(value, sizeof value, "%s%02d", tag, i);
        put_name(txn, name, value);
    }
}

static void expect_many(cairn_txn *txn, int n, const char *tag)
{
    for (int i = 0; i < n; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "w/%02d", i);
        snprintf(value, sizeof value, "%s%02d", tag, i);
        expect_value(txn, name, value);
    }
}

Test(txn, own_writes_stay_readable_past_a_handful_of_keys)
{
    /* the first transaction on fresh handles, then again on handles that
     * have been used before (freed to the pool, and restarted) */
    cairn_db *db = test_open(NULL);
    for (int round = 0; round < 3; round++) {
        char tag[4];
        snprintf(tag, sizeof tag, "r%d", round);
        for (int n = 1; n <= 40; n++) {
            cairn_txn *txn = begin_rw(db);
            put_many(txn, n, tag);
            expect_many(txn, n, tag);
            ASSERT_OK(cairn_txn_abort(txn));
            ASSERT_OK(cairn_txn_restart(txn));
            put_many(txn, n, tag);
            expect_many(txn, n, tag);
            cairn_txn_free(txn);
        }
    }
    test_close(db);
}

/* get_many agrees with get key by key: committed, own writes, deletes,
 * absent keys, duplicates, and batches longer than one internal batch. */
Test(txn, get_many_reads_like_get_key_by_key)
{
    cairn_db *db = test_open(NULL);
    char name[32], value[32];
    for (int i = 0; i < 100; i += 2) {
        snprintf(name, sizeof name, "m%03d", i);
        snprintf(value, sizeof value, "v%d", i);
        commit_put(db, name, value);
    }
    cairn_txn *txn = begin_rw(db);
    put_name(txn, "m004", "own");
    delete_name(txn, "m006");
    put_name(txn, "m007", "new");

    enum { N = 90 }; /* more than one internal batch */
    cairn_key keys[N];
    cairn_slice vals[N];
    cairn_status sts[N];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "m%03d", i == 89 ? 4 : i); /* a duplicate too */
        keys[i] = test_key(name);
    }
    ASSERT_OK(cairn_txn_get_many(txn, keys, N, vals, sts));
    for (int i = 0; i < N; i++) {
        cairn_slice one;
        cairn_status st = cairn_txn_get(txn, &keys[i], &one);
        cr_assert_eq(sts[i], st, "key %d: get_many %s, get %s", i, cairn_status_name(sts[i]),
                     cairn_status_name(st));
        if (st == CAIRN_OK)
            cr_assert(vals[i].len == one.len && memcmp(vals[i].data, one.data, one.len) == 0,
                      "key %d: values differ", i);
        else
            cr_assert_eq(vals[i].len, 0);
    }
    cr_assert_eq(sts[4], CAIRN_OK);
    cr_assert(slice_eq_str(vals[4], "own"));
    cr_assert_eq(sts[6], CAIRN_NOT_FOUND);
    cr_assert(slice_eq_str(vals[7], "new"));
    cr_assert_eq(sts[3], CAIRN_NOT_FOUND);
    cr_assert(slice_eq_str(vals[88], "v88"));
    ASSERT_OK(cairn_txn_get_many(txn, keys, 0, NULL, NULL));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, get_many_reads_count_for_conflicts)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "x", "1");
    cairn_txn *t1 = begin_rw(db);
    cairn_key keys[2] = {test_key("x"), test_key("absent")};
    cairn_slice vals[2];
    cairn_status sts[2];
    ASSERT_OK(cairn_txn_get_many(t1, keys, 2, vals, sts));
    cr_assert_eq(sts[0], CAIRN_OK);
    cr_assert_eq(sts[1], CAIRN_NOT_FOUND);
    commit_put(db, "absent", "now here"); /* a key t1 read as absent */
    put_name(t1, "y", "2");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    cairn_txn_free(t1);

    /* read-only: the snapshot holds */
    cairn_txn *ro = begin_ro(db);
    commit_put(db, "x", "changed");
    ASSERT_OK(cairn_txn_get_many(ro, keys, 2, vals, sts));
    cr_assert(slice_eq_str(vals[0], "1"));
    cr_assert_eq(sts[1], CAIRN_OK);
    ASSERT_OK(cairn_txn_commit(ro));
    cairn_txn_free(ro);
    test_close(db);
}

Test(txn, get_many_refuses_bad_arguments_whole)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cairn_key keys[2] = {test_key("a"), test_key("b")};
    cairn_slice vals[2];
    cairn_status sts[2];
    ASSERT_STATUS(cairn_txn_get_many(txn, NULL, 2, vals, sts), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_get_many(txn, keys, 2, NULL, sts), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_get_many(txn, keys, 2, vals, NULL), CAIRN_INVALID_ARGUMENT);
    keys[1].len = 3; /* shorter than a key's fixed prefix */
    ASSERT_STATUS(cairn_txn_get_many(txn, keys, 2, vals, sts), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "keys[1]") != NULL, "%s", cairn_txn_errmsg(txn));
    ASSERT_STATUS(cairn_txn_get_many(NULL, keys, 1, vals, sts), CAIRN_INVALID_ARGUMENT);
    ASSERT_OK(cairn_txn_abort(txn));
    ASSERT_STATUS(cairn_txn_get_many(txn, keys, 1, vals, sts), CAIRN_TXN_FINISHED);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, rewriting_a_key_many_writes_later_keeps_one_entry)
{
    cairn_db *db = test_open(NULL);
    /* warm a handle up so the next transaction reuses it */
    cairn_txn *txn = begin_rw(db);
    put_many(txn, 20, "warm");
    ASSERT_OK(cairn_txn_abort(txn));
    cairn_txn_free(txn);

    txn = begin_rw(db);
    put_many(txn, 12, "a");
    put_name(txn, "w/00", "rewritten");
    expect_value(txn, "w/00", "rewritten");

    cairn_key prefix = test_key("w/");
    cairn_iter *it;
    cairn_slice k, v;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    int n = 0;
    while (cairn_iter_next(it, &k, &v) == CAIRN_OK)
        n++;
    cr_assert_eq(n, 12, "the scan inside the transaction yields %d pairs for 12 keys", n);
    cairn_iter_free(it);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    cr_assert_eq(test_stats(db).keys, 12, "%llu keys in the index after writing 12",
                 (unsigned long long)test_stats(db).keys);
    txn = begin_ro(db);
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    n = 0;
    while (cairn_iter_next(it, &k, &v) == CAIRN_OK)
        n++;
    cr_assert_eq(n, 12, "a scan after commit yields %d pairs for 12 keys", n);
    expect_value(txn, "w/00", "rewritten");
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, the_last_write_of_a_key_in_a_transaction_wins)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    put_name(txn, "k", "first");
    put_name(txn, "k", "second");
    put_name(txn, "k", "third");
    expect_value(txn, "k", "third");
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    expect_committed(db, "k", "third");
    test_close(db);
}

Test(txn, uncommitted_writes_are_invisible_to_other_transactions)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *writer = begin_rw(db);
    put_name(writer, "x", "pending");

    cairn_txn *reader = begin_ro(db);
    expect_value(reader, "x", NULL);
    ASSERT_OK(cairn_txn_commit(writer));
    /* still invisible: the reader's snapshot predates the commit */
    expect_value(reader, "x", NULL);
    cairn_txn_free(reader);

    expect_committed(db, "x", "pending");
    cairn_txn_free(writer);
    test_close(db);
}

Test(txn, a_snapshot_ignores_later_commits)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "old");
    commit_put(db, "gone", "still here");

    cairn_txn *t1 = begin_ro(db);
    uint64_t snap = cairn_txn_snapshot_version(t1);

    cairn_txn *t2 = begin_rw(db);
    put_name(t2, "k", "new");
    put_name(t2, "inserted", "1");
    delete_name(t2, "gone");
    ASSERT_OK(cairn_txn_commit(t2));
    cr_assert_gt(cairn_txn_commit_version(t2), snap);

    expect_value(t1, "k", "old");
    expect_value(t1, "inserted", NULL);
    expect_value(t1, "gone", "still here");
    const char *want[] = {"gone=still here", "k=old"};
    expect_scan(t1, "", 0, want, 2);
    cr_assert_eq(cairn_txn_snapshot_version(t1), snap);

    cairn_txn_free(t1);
    cairn_txn_free(t2);

    cairn_txn *t3 = begin_ro(db);
    const char *want3[] = {"inserted=1", "k=new"};
    expect_scan(t3, "", 0, want3, 2);
    cairn_txn_free(t3);
    test_close(db);
}

/* ---- serializable validation ---------------------------------------------- */

Test(txn, a_read_write_conflict_aborts_the_later_commit)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "a");
    cairn_stats before = test_stats(db);

    cairn_txn *t1 = begin_rw(db);
    expect_value(t1, "k", "a");

    cairn_txn *t2 = begin_rw(db);
    put_name(t2, "k", "b");
    ASSERT_OK(cairn_txn_commit(t2));

    put_name(t1, "other", "x");
    put_name(t1, "k", "from t1");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    cr_assert_not(cairn_txn_is_active(t1));
    cr_assert_eq(cairn_txn_commit_version(t1), 0);

    expect_committed(db, "k", "b");
    expect_committed(db, "other", NULL);
    cairn_stats after = test_stats(db);
    cr_assert_eq(after.conflicts, before.conflicts + 1);

    cairn_txn_free(t1);
    cairn_txn_free(t2);
    test_close(db);
}

Test(txn, reading_an_absent_key_conflicts_with_its_insertion)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *t1 = begin_rw(db);
    expect_value(t1, "k", NULL);

    commit_put(db, "k", "inserted");

    put_name(t1, "k", "t1 thought it was absent");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    expect_committed(db, "k", "inserted");
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, reading_a_key_conflicts_with_its_deletion)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "v");
    cairn_txn *t1 = begin_rw(db);
    expect_value(t1, "k", "v");

    cairn_key k = test_key("k");
    test_delete(db, &k);

    put_name(t1, "copy", "v");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    expect_committed(db, "copy", NULL);
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, write_skew_is_prevented)
{
    /* Two doctors on call; each may go off call only if the other stays. */
    cairn_db *db = test_open(NULL);
    commit_put(db, "x", "on");
    commit_put(db, "y", "on");

    cairn_txn *t1 = begin_rw(db);
    cairn_txn *t2 = begin_rw(db);
    expect_value(t1, "x", "on");
    expect_value(t1, "y", "on");
    expect_value(t2, "x", "on");
    expect_value(t2, "y", "on");
    put_name(t1, "x", "off");
    put_name(t2, "y", "off");

    ASSERT_OK(cairn_txn_commit(t1));
    ASSERT_STATUS(cairn_txn_commit(t2), CAIRN_CONFLICT);

    expect_committed(db, "x", "off");
    expect_committed(db, "y", "on");
    cairn_txn_free(t1);
    cairn_txn_free(t2);
    test_close(db);
}

Test(txn, a_scan_conflicts_with_an_insert_into_the_scanned_range)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "r/a", "1");
    commit_put(db, "r/c", "3");

    cairn_txn *t1 = begin_rw(db);
    const char *want[] = {"r/a=1", "r/c=3"};
    expect_scan(t1, "r/", 0, want, 2);

    commit_put(db, "r/b", "2"); /* a phantom for t1 */

    put_name(t1, "count", "2");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    expect_committed(db, "count", NULL);
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, a_scan_conflicts_with_a_delete_in_the_scanned_range)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "r/a", "1");
    commit_put(db, "r/b", "2");

    cairn_txn *t1 = begin_rw(db);
    const char *want[] = {"r/a=1", "r/b=2"};
    expect_scan(t1, "r/", 0, want, 2);

    cairn_key b = test_key("r/b");
    test_delete(db, &b);

    put_name(t1, "count", "2");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, an_empty_scan_still_conflicts_with_a_later_insert)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "q", "outside");

    cairn_txn *t1 = begin_rw(db);
    expect_scan(t1, "r/", 0, NULL, 0);
    commit_put(db, "r/new", "1");
    put_name(t1, "empty", "yes");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, writes_outside_a_scanned_range_do_not_conflict)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "r/a", "1");
    commit_put(db, "s/a", "1");

    cairn_txn *t1 = begin_rw(db);
    const char *want[] = {"r/a=1"};
    expect_scan(t1, "r/", 0, want, 1);

    commit_put(db, "s/b", "2");
    commit_put(db, "q", "before the range");

    put_name(t1, "count", "1");
    ASSERT_OK(cairn_txn_commit(t1));
    expect_committed(db, "count", "1");
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, a_limited_scan_conflicts_only_within_the_part_it_covered)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "r/a", "1");
    commit_put(db, "r/b", "2");
    commit_put(db, "r/c", "3");
    commit_put(db, "r/d", "4");
    const char *want[] = {"r/a=1", "r/b=2"};

    /* an insert well past what the scan reached: no conflict */
    cairn_txn *t1 = begin_rw(db);
    expect_scan(t1, "r/", 2, want, 2);
    commit_put(db, "r/y", "25");
    put_name(t1, "first two", "seen");
    ASSERT_OK(cairn_txn_commit(t1));
    cairn_txn_free(t1);

    /* an insert between keys the scan returned: conflict */
    cairn_txn *t2 = begin_rw(db);
    expect_scan(t2, "r/", 2, want, 2);
    commit_put(db, "r/aa", "1.5");
    put_name(t2, "first two", "seen again");
    ASSERT_STATUS(cairn_txn_commit(t2), CAIRN_CONFLICT);
    cairn_txn_free(t2);

    expect_committed(db, "first two", "seen");
    test_close(db);
}

Test(txn, blind_writes_both_commit_and_the_later_commit_wins)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "initial");

    cairn_txn *t1 = begin_rw(db);
    cairn_txn *t2 = begin_rw(db);
    put_name(t1, "k", "from t1");
    put_name(t2, "k", "from t2");

    ASSERT_OK(cairn_txn_commit(t2));
    ASSERT_OK(cairn_txn_commit(t1));
    cr_assert_gt(cairn_txn_commit_version(t1), cairn_txn_commit_version(t2));
    expect_committed(db, "k", "from t1");

    cairn_txn_free(t1);
    cairn_txn_free(t2);
    test_close(db);
}

Test(txn, blind_deletes_do_not_conflict_with_concurrent_writes)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "initial");

    cairn_txn *t1 = begin_rw(db);
    delete_name(t1, "k");
    commit_put(db, "k", "rewritten");
    ASSERT_OK(cairn_txn_commit(t1));
    expect_committed(db, "k", NULL);
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, read_only_transactions_commit_even_when_their_reads_changed)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "a");
    commit_put(db, "r/a", "1");
    cairn_stats before = test_stats(db);

    cairn_txn *t1 = begin_ro(db);
    expect_value(t1, "k", "a");
    const char *want[] = {"r/a=1"};
    expect_scan(t1, "r/", 0, want, 1);

    commit_put(db, "k", "b");
    commit_put(db, "r/b", "2");

    ASSERT_OK(cairn_txn_commit(t1));
    cr_assert_eq(cairn_txn_commit_version(t1), 0);
    cairn_stats after = test_stats(db);
    cr_assert_eq(after.read_only_commits, before.read_only_commits + 1);
    cr_assert_eq(after.conflicts, before.conflicts);
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, writes_in_a_read_only_transaction_are_refused)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);
    commit_put(db, "k", "v");

    cairn_txn *txn = begin_ro(db);
    cairn_key k = test_key("k");
    cairn_key n = test_key("new");
    ASSERT_STATUS(cairn_txn_put(txn, &n, test_str("x")), CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_txn_put_expiring(txn, &n, test_str("x"), FAKE_CLOCK_START_US + 1000),
                  CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_txn_delete(txn, &k), CAIRN_READ_ONLY);
    cr_assert_neq(cairn_txn_errmsg(txn)[0], '\0');

    /* the transaction is still usable for reads */
    expect_value(txn, "k", "v");
    expect_value(txn, "new", NULL);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    expect_committed(db, "k", "v");
    expect_committed(db, "new", NULL);
    test_close(db);
}

Test(txn, abort_discards_every_write)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "keep", "1");
    commit_put(db, "change", "old");
    cairn_stats before = test_stats(db);

    cairn_txn *txn = begin_rw(db);
    put_name(txn, "new", "x");
    put_name(txn, "change", "new");
    delete_name(txn, "keep");
    ASSERT_OK(cairn_txn_abort(txn));
    cr_assert_not(cairn_txn_is_active(txn));
    cr_assert_eq(cairn_txn_commit_version(txn), 0);

    expect_committed(db, "new", NULL);
    expect_committed(db, "change", "old");
    expect_committed(db, "keep", "1");
    cairn_stats after = test_stats(db);
    cr_assert_eq(after.aborts, before.aborts + 1);
    cr_assert_eq(after.commits, before.commits);
    cr_assert_eq(after.visible_version, before.visible_version);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, freeing_an_active_transaction_aborts_it)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    put_name(txn, "k", "never");
    cairn_txn_free(txn);
    expect_committed(db, "k", NULL);
    cr_assert_eq(test_stats(db).open_txns, 0);
    test_close(db);
}

Test(txn, delete_then_get_is_not_found)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "v");
    cairn_key k = test_key("k");
    test_delete(db, &k);
    expect_committed(db, "k", NULL);

    char buf[8];
    ASSERT_STATUS(test_get(db, &k, buf, sizeof buf), CAIRN_NOT_FOUND);

    /* deleting a key that is not there is not an error */
    cairn_key never = test_key("never existed");
    test_delete(db, &never);
    expect_committed(db, "never existed", NULL);
    test_close(db);
}

/* ---- expiry ----------------------------------------------------------------- */

Test(txn, an_expired_entry_is_absent_from_gets_and_scans)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);
    const int64_t t0 = FAKE_CLOCK_START_US;

    cairn_txn *txn = begin_rw(db);
    cr_assert_eq(cairn_txn_now_us(txn), t0);
    put_name(txn, "a", "A");
    cairn_key ttl = test_key("ttl");
    ASSERT_OK(cairn_txn_put_expiring(txn, &ttl, test_str("short-lived"), t0 + 1000));
    put_name(txn, "z", "Z");
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    const char *live[] = {"a=A", "ttl=short-lived", "z=Z"};
    const char *expired[] = {"a=A", "z=Z"};

    txn = begin_ro(db);
    expect_value(txn, "ttl", "short-lived");
    expect_scan(txn, "", 0, live, 3);
    cairn_txn_free(txn);

    fake_clock_set(&clock, t0 + 999);
    txn = begin_ro(db);
    cr_assert_eq(cairn_txn_now_us(txn), t0 + 999);
    expect_value(txn, "ttl", "short-lived");
    expect_scan(txn, "", 0, live, 3);
    cairn_txn_free(txn);

    fake_clock_set(&clock, t0 + 1000);
    txn = begin_ro(db);
    expect_value(txn, "ttl", NULL);
    expect_scan(txn, "", 0, expired, 2);
    cairn_txn_free(txn);

    fake_clock_set(&clock, t0 + 3600 * INT64_C(1000000));
    txn = begin_ro(db);
    expect_value(txn, "ttl", NULL);
    expect_scan(txn, "", 0, expired, 2);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, expiry_is_judged_by_the_time_the_transaction_began)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);
    const int64_t t0 = FAKE_CLOCK_START_US;

    cairn_txn *txn = begin_rw(db);
    cairn_key ttl = test_key("ttl");
    ASSERT_OK(cairn_txn_put_expiring(txn, &ttl, test_str("v"), t0 + 1000));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    fake_clock_set(&clock, t0 + 500);
    cairn_txn *early = begin_ro(db);
    fake_clock_set(&clock, t0 + 2000);
    cairn_txn *late = begin_ro(db);

    cr_assert_eq(cairn_txn_now_us(early), t0 + 500);
    expect_value(early, "ttl", "v");
    expect_value(late, "ttl", NULL);
    cairn_txn_free(early);
    cairn_txn_free(late);
    cr_assert_eq(cairn_db_now_us(db), t0 + 2000);
    test_close(db);
}

Test(txn, a_plain_put_clears_an_earlier_expiry)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);
    const int64_t t0 = FAKE_CLOCK_START_US;

    cairn_txn *txn = begin_rw(db);
    cairn_key k = test_key("k");
    ASSERT_OK(cairn_txn_put_expiring(txn, &k, test_str("short"), t0 + 1000));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    commit_put(db, "k", "forever");

    fake_clock_set(&clock, t0 + 5000);
    expect_committed(db, "k", "forever");
    test_close(db);
}

Test(txn, an_entry_written_already_expired_is_absent)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);

    cairn_txn *txn = begin_rw(db);
    cairn_key k = test_key("k");
    ASSERT_OK(cairn_txn_put_expiring(txn, &k, test_str("stale"), FAKE_CLOCK_START_US - 1));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    expect_committed(db, "k", NULL);
    test_close(db);
}

/* ---- scans -------------------------------------------------------------------- */

static void put_ten(cairn_db *db)
{
    cairn_txn *txn = begin_rw(db);
    for (int i = 0; i < 10; i++) {
        char name[8], value[8];
        snprintf(name, sizeof name, "k%d", i);
        snprintf(value, sizeof value, "%d", i);
        put_name(txn, name, value);
    }
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

Test(txn, a_scan_stops_at_its_limit)
{
    cairn_db *db = test_open(NULL);
    put_ten(db);
    cairn_txn *txn = begin_ro(db);
    const char *want[] = {"k0=0", "k1=1", "k2=2"};
    expect_scan(txn, "k", 3, want, 3);
    const char *one[] = {"k0=0"};
    expect_scan(txn, "k", 1, one, 1);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, a_scan_stops_before_its_end_bound)
{
    cairn_db *db = test_open(NULL);
    put_ten(db);
    cairn_txn *txn = begin_ro(db);
    cairn_key start = test_key("k2");
    cairn_key end = test_key("k5");
    cairn_iter *it;
    cairn_slice k, v;

    ASSERT_OK(cairn_txn_scan(txn, &start, &end, 0, &it));
    for (int i = 2; i < 5; i++) {
        char name[8], want[8];
        snprintf(name, sizeof name, "k%d", i);
        snprintf(want, sizeof want, "%d", i);
        ASSERT_OK(cairn_iter_next(it, &k, &v));
        ASSERT_SLICE_STR(v, want);
        cairn_key expected = test_key(name);
        cr_assert(slice_eq(k, cairn_key_slice(&expected)));
    }
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);

    /* limit and end together: whichever comes first */
    ASSERT_OK(cairn_txn_scan(txn, &start, &end, 2, &it));
    ASSERT_OK(cairn_iter_next(it, &k, &v));
    ASSERT_SLICE_STR(v, "2");
    ASSERT_OK(cairn_iter_next(it, &k, &v));
    ASSERT_SLICE_STR(v, "3");
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, a_scan_without_an_end_bound_runs_to_the_last_key)
{
    cairn_db *db = test_open(NULL);
    put_ten(db);
    cairn_txn *txn = begin_ro(db);
    cairn_key start = test_key("k7");
    cairn_key empty_end;
    memset(&empty_end, 0, sizeof empty_end); /* length 0: no upper bound */
    cairn_slice k, v;

    cairn_iter *it;
    ASSERT_OK(cairn_txn_scan(txn, &start, NULL, 0, &it));
    const char *want[] = {"7", "8", "9"};
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(cairn_iter_next(it, &k, &v));
        ASSERT_SLICE_STR(v, want[i]);
    }
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);

    ASSERT_OK(cairn_txn_scan(txn, &start, &empty_end, 0, &it));
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(cairn_iter_next(it, &k, &v));
        ASSERT_SLICE_STR(v, want[i]);
    }
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, a_scan_with_an_empty_range_yields_nothing)
{
    cairn_db *db = test_open(NULL);
    put_ten(db);
    cairn_txn *txn = begin_ro(db);
    cairn_key k5 = test_key("k5");
    cairn_key k2 = test_key("k2");
    cairn_iter *it;
    cairn_slice k, v;

    ASSERT_OK(cairn_txn_scan(txn, &k5, &k2, 0, &it)); /* start after end */
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);
    ASSERT_OK(cairn_txn_scan(txn, &k5, &k5, 0, &it)); /* start == end */
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, an_exhausted_iterator_keeps_answering_done)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "only", "1");
    cairn_txn *txn = begin_ro(db);
    cairn_key p = test_key("only");
    cairn_iter *it;
    cairn_slice k, v;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &p, 0, &it));
    ASSERT_OK(cairn_iter_next(it, &k, &v));
    for (int i = 0; i < 3; i++)
        ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, an_iterator_left_open_is_freed_by_the_transaction)
{
    /* Under ASan/LSan a leak here fails the test. */
    cairn_db *db = test_open(NULL);
    put_ten(db);
    cairn_txn *txn = begin_ro(db);
    cairn_key p = test_key("k");
    cairn_iter *a, *b;
    cairn_slice k, v;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &p, 0, &a));
    ASSERT_OK(cairn_txn_scan_prefix(txn, &p, 0, &b));
    ASSERT_OK(cairn_iter_next(a, &k, &v));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, values_read_stay_valid_until_the_transaction_ends)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "original value");
    cairn_txn *reader = begin_ro(db);
    cairn_key k = test_key("k");
    cairn_slice v;
    ASSERT_OK(cairn_txn_get(reader, &k, &v));

    cairn_key p = test_key("k");
    cairn_iter *it;
    cairn_slice sk, sv;
    ASSERT_OK(cairn_txn_scan_prefix(reader, &p, 0, &it));
    ASSERT_OK(cairn_iter_next(it, &sk, &sv));
    cairn_iter_free(it);

    /* many overwrites, a delete, and the reclamation they trigger must not
     * touch what the reader holds */
    for (int i = 0; i < 50; i++)
        commit_put(db, "k", "overwritten again and again");
    test_delete(db, &k);
    for (int i = 0; i < 50; i++)
        commit_put(db, "other", "x");
    ASSERT_SLICE_STR(v, "original value");
    ASSERT_SLICE_STR(sv, "original value");
    cr_assert(slice_eq(sk, cairn_key_slice(&k)));
    cairn_txn_free(reader);
    test_close(db);
}

Test(txn, an_open_iterator_ignores_commits_made_after_its_snapshot)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "i/a", "1");
    commit_put(db, "i/c", "3");
    commit_put(db, "i/e", "5");

    cairn_txn *reader = begin_ro(db);
    cairn_key prefix = test_key("i/");
    cairn_iter *it;
    cairn_slice k, v;
    ASSERT_OK(cairn_txn_scan_prefix(reader, &prefix, 0, &it));
    ASSERT_OK(cairn_iter_next(it, &k, &v));
    ASSERT_SLICE_STR(v, "1");

    /* insert before, between and after; update and delete keys not yet reached */
    cairn_txn *w = begin_rw(db);
    put_name(w, "i/0", "new");
    put_name(w, "i/b", "new");
    put_name(w, "i/d", "new");
    put_name(w, "i/z", "new");
    put_name(w, "i/c", "changed");
    delete_name(w, "i/e");
    ASSERT_OK(cairn_txn_commit(w));
    cairn_txn_free(w);

    ASSERT_OK(cairn_iter_next(it, &k, &v));
    ASSERT_SLICE_STR(v, "3");
    ASSERT_OK(cairn_iter_next(it, &k, &v));
    ASSERT_SLICE_STR(v, "5");
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);
    cairn_txn_free(reader);
    test_close(db);
}

Test(txn, a_transaction_of_thousands_of_writes_commits_atomically)
{
    enum { MANY = 20000 };
    cairn_db *db = test_open(NULL);
    cairn_txn *before = begin_ro(db);

    cairn_txn *txn = begin_rw(db);
    for (int i = 0; i < MANY; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "big/%05d", i);
        snprintf(value, sizeof value, "%d", i * 7);
        put_name(txn, name, value);
    }
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    /* a snapshot from before sees none of it */
    cairn_key prefix = test_key("big/");
    cairn_iter *it;
    cairn_slice k, v;
    ASSERT_OK(cairn_txn_scan_prefix(before, &prefix, 0, &it));
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    expect_value(before, "big/12345", NULL);
    cairn_txn_free(before);

    /* a snapshot from after sees all of it, by key and in order */
    cairn_txn *after = begin_ro(db);
    for (int i = 0; i < MANY; i++) {
        char name[16], value[16];
        snprintf(name, sizeof name, "big/%05d", i);
        snprintf(value, sizeof value, "%d", i * 7);
        expect_value(after, name, value);
    }
    ASSERT_OK(cairn_txn_scan_prefix(after, &prefix, 0, &it));
    int n = 0;
    cairn_slice prev = {NULL, 0};
    while (cairn_iter_next(it, &k, &v) == CAIRN_OK) {
        if (n > 0)
            cr_assert_lt(slice_cmp(prev, k), 0, "scan out of order at %d", n);
        prev = k;
        n++;
    }
    cr_assert_eq(n, MANY);
    cairn_txn_free(after);
    cr_assert_eq(test_stats(db).keys, MANY);
    test_close(db);
}

Test(txn, a_value_read_from_an_own_write_stays_valid_after_rewriting_it)
{
    /* "a slice handed out by get or an iterator stays valid until the
     * transaction finishes": also when the transaction overwrites or deletes
     * the key it came from.  Under ASan a violation is a use-after-free. */
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cairn_key k = test_key("k");
    cairn_key j = test_key("j");
    ASSERT_OK(cairn_txn_put(txn, &k, test_str("first value of k")));
    ASSERT_OK(cairn_txn_put(txn, &j, test_str("first value of j")));
    cairn_slice from_get, from_scan, key_from_scan;
    ASSERT_OK(cairn_txn_get(txn, &k, &from_get));

    cairn_iter *it;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &j, 0, &it));
    ASSERT_OK(cairn_iter_next(it, &key_from_scan, &from_scan));
    cairn_iter_free(it);

    ASSERT_OK(cairn_txn_put(txn, &k, test_str("second value, longer than the first")));
    ASSERT_OK(cairn_txn_delete(txn, &j));
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "filler%d", i);
        put_name(txn, name, "0123456789abcdef"); /* reuse freed memory, if any */
    }
    ASSERT_SLICE_STR(from_get, "first value of k");
    ASSERT_SLICE_STR(from_scan, "first value of j");
    cr_assert(slice_eq(key_from_scan, cairn_key_slice(&j)));
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, a_limited_scan_conflicts_with_an_insert_before_its_first_key)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "r/b", "2");
    commit_put(db, "r/c", "3");
    cairn_txn *t1 = begin_rw(db);
    const char *want[] = {"r/b=2"};
    expect_scan(t1, "r/", 1, want, 1);
    commit_put(db, "r/a", "1"); /* between the scan's start and its first key */
    put_name(t1, "first", "r/b");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    cairn_txn_free(t1);
    test_close(db);
}

/* ---- commit versions and statistics ------------------------------------------- */

Test(txn, commit_versions_increase_and_become_visible)
{
    cairn_db *db = test_open(NULL);
    uint64_t prev = test_stats(db).visible_version;
    for (int i = 0; i < 20; i++) {
        cairn_txn *txn = begin_rw(db);
        cr_assert_eq(cairn_txn_snapshot_version(txn), prev);
        put_name(txn, "k", "v");
        ASSERT_OK(cairn_txn_commit(txn));
        uint64_t cv = cairn_txn_commit_version(txn);
        cr_assert_gt(cv, prev);
        cr_assert_eq(test_stats(db).visible_version, cv);
        cairn_txn_free(txn);
        prev = cv;
    }
    test_close(db);
}

Test(txn, a_commit_without_writes_has_no_commit_version)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "k", "v");
    uint64_t visible = test_stats(db).visible_version;

    cairn_txn *txn = begin_rw(db);
    expect_value(txn, "k", "v");
    ASSERT_OK(cairn_txn_commit(txn));
    cr_assert_eq(cairn_txn_commit_version(txn), 0);
    cr_assert_eq(test_stats(db).visible_version, visible);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, stats_count_commits_aborts_and_open_transactions)
{
    cairn_db *db = test_open(NULL);
    cairn_stats s0 = test_stats(db);
    cr_assert_eq(s0.open_txns, 0);

    cairn_txn *a = begin_rw(db);
    cairn_txn *b = begin_ro(db);
    cr_assert_eq(test_stats(db).open_txns, 2);
    put_name(a, "k", "v");
    ASSERT_OK(cairn_txn_commit(a));
    ASSERT_OK(cairn_txn_abort(b));
    cairn_stats s1 = test_stats(db);
    cr_assert_eq(s1.open_txns, 0);
    cr_assert_eq(s1.commits, s0.commits + 1);
    cr_assert_eq(s1.aborts, s0.aborts + 1);
    cr_assert_geq(s1.keys, 1);
    cr_assert_geq(s1.versions, 1);
    cr_assert_eq(s1.syncs, 0, "an in-memory database never syncs");
    cairn_txn_free(a);
    cairn_txn_free(b);
    test_close(db);
}

Test(txn, every_durability_override_commits_in_memory)
{
    cairn_db *db = test_open(NULL);
    const cairn_durability modes[] = {CAIRN_DURABILITY_DEFAULT, CAIRN_DURABILITY_NONE,
                                      CAIRN_DURABILITY_ASYNC, CAIRN_DURABILITY_SYNC};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        cairn_txn_options to;
        cairn_txn_options_init(&to);
        to.durability = modes[i];
        cairn_txn *txn = NULL;
        ASSERT_OK(cairn_txn_begin(db, &to, &txn));
        char value[8];
        snprintf(value, sizeof value, "%zu", i);
        put_name(txn, "k", value);
        ASSERT_OK(cairn_txn_commit(txn));
        cairn_txn_free(txn);
        expect_committed(db, "k", value);
    }
    cr_assert_eq(test_stats(db).syncs, 0, "an in-memory database never syncs");
    test_close(db);
}

Test(txn, restart_begins_a_fresh_transaction_on_the_same_handle)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    put_name(txn, "k", "1");
    ASSERT_OK(cairn_txn_commit(txn));
    uint64_t first = cairn_txn_commit_version(txn);

    commit_put(db, "other", "x");
    ASSERT_OK(cairn_txn_restart(txn));
    cr_assert(cairn_txn_is_active(txn));
    cr_assert_gt(cairn_txn_snapshot_version(txn), first);
    cr_assert_eq(cairn_txn_commit_version(txn), 0);
    expect_value(txn, "other", "x");
    put_name(txn, "k", "2");
    ASSERT_OK(cairn_txn_commit(txn));
    expect_committed(db, "k", "2");

    /* restart keeps the options: a read-only handle stays read-only */
    cairn_txn *ro = begin_ro(db);
    ASSERT_OK(cairn_txn_commit(ro));
    ASSERT_OK(cairn_txn_restart(ro));
    cairn_key k = test_key("k");
    ASSERT_STATUS(cairn_txn_put(ro, &k, test_str("3")), CAIRN_READ_ONLY);
    cairn_txn_free(ro);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, a_transaction_reports_its_database_and_clock)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);
    cr_assert_eq(cairn_db_now_us(db), FAKE_CLOCK_START_US);
    fake_clock_advance(&clock, 42);
    cairn_txn *txn = begin_rw(db);
    cr_assert_eq(cairn_txn_db(txn), db);
    cr_assert_eq(cairn_txn_now_us(txn), FAKE_CLOCK_START_US + 42);
    cr_assert_str_eq(cairn_txn_errmsg(txn), "");
    cairn_txn_free(txn);
    test_close(db);
}

/* ---- cairn_db_run ------------------------------------------------------------- */

typedef struct run_ctx {
    cairn_db *db;
    uint32_t calls;
    uint32_t interfere_calls; /* calls that make their own commit conflict */
    uint32_t conflict_returns; /* calls that return CAIRN_CONFLICT themselves */
    cairn_status body_status;  /* returned once the above are used up */
} run_ctx;

static cairn_status counter_body(cairn_txn *txn, void *p)
{
    run_ctx *ctx = p;
    ctx->calls++;
    cairn_key k = test_key("contended");
    cairn_slice v;
    cairn_status st = cairn_txn_get(txn, &k, &v);
    if (st != CAIRN_OK && st != CAIRN_NOT_FOUND)
        return st;

    if (ctx->calls <= ctx->interfere_calls) {
        /* another writer commits to what we just read */
        cairn_txn *other = NULL;
        char value[32];
        snprintf(value, sizeof value, "interference %u", ctx->calls);
        if ((st = cairn_txn_begin(ctx->db, NULL, &other)) != CAIRN_OK)
            return st;
        st = cairn_txn_put(other, &k, test_str(value));
        if (st == CAIRN_OK)
            st = cairn_txn_commit(other);
        cairn_txn_free(other);
        if (st != CAIRN_OK)
            return st;
    }
    cairn_key out = test_key("result");
    char value[32];
    snprintf(value, sizeof value, "attempt %u", ctx->calls);
    if ((st = cairn_txn_put(txn, &out, test_str(value))) != CAIRN_OK)
        return st;
    if (ctx->calls <= ctx->conflict_returns)
        return CAIRN_CONFLICT;
    return ctx->body_status;
}

static cairn_db *open_with_retries(uint32_t max_retries)
{
    cairn_options opts;
    cairn_options_init(&opts);
    opts.max_retries = max_retries;
    opts.retry_backoff_min_us = 1;
    opts.retry_backoff_max_us = 2;
    return test_open(&opts);
}

Test(db_run, commits_on_the_first_attempt_without_contention)
{
    cairn_db *db = open_with_retries(8);
    run_ctx ctx = {.db = db, .body_status = CAIRN_OK};
    uint32_t attempts = 0;
    ASSERT_OK(cairn_db_run(db, NULL, counter_body, &ctx, &attempts));
    cr_assert_eq(attempts, 1);
    cr_assert_eq(ctx.calls, 1);
    expect_committed(db, "result", "attempt 1");
    test_close(db);
}

Test(db_run, retries_a_conflicting_body_and_reports_the_attempts)
{
    cairn_db *db = open_with_retries(8);
    run_ctx ctx = {.db = db, .interfere_calls = 2, .body_status = CAIRN_OK};
    uint32_t attempts = 0;
    ASSERT_OK(cairn_db_run(db, NULL, counter_body, &ctx, &attempts));
    cr_assert_eq(attempts, 3);
    cr_assert_eq(ctx.calls, 3);
    expect_committed(db, "result", "attempt 3");
    expect_committed(db, "contended", "interference 2");
    cr_assert_eq(test_stats(db).open_txns, 0);
    test_close(db);
}

Test(db_run, retries_when_the_body_itself_answers_conflict)
{
    cairn_db *db = open_with_retries(8);
    run_ctx ctx = {.db = db, .conflict_returns = 1, .body_status = CAIRN_OK};
    uint32_t attempts = 0;
    ASSERT_OK(cairn_db_run(db, NULL, counter_body, &ctx, &attempts));
    cr_assert_eq(attempts, 2);
    expect_committed(db, "result", "attempt 2");
    test_close(db);
}

Test(db_run, gives_up_with_conflict_after_max_retries)
{
    cairn_db *db = open_with_retries(3);
    run_ctx ctx = {.db = db, .interfere_calls = 1000, .body_status = CAIRN_OK};
    uint32_t attempts = 0;
    ASSERT_STATUS(cairn_db_run(db, NULL, counter_body, &ctx, &attempts), CAIRN_CONFLICT);
    cr_assert_eq(attempts, 3);
    cr_assert_eq(ctx.calls, 3);
    expect_committed(db, "result", NULL);
    expect_committed(db, "contended", "interference 3");
    cr_assert_eq(test_stats(db).open_txns, 0);
    test_close(db);
}

Test(db_run, a_body_error_aborts_without_retrying)
{
    cairn_db *db = open_with_retries(8);
    run_ctx ctx = {.db = db, .body_status = CAIRN_EXISTS};
    uint32_t attempts = 0;
    ASSERT_STATUS(cairn_db_run(db, NULL, counter_body, &ctx, &attempts), CAIRN_EXISTS);
    cr_assert_eq(attempts, 1);
    cr_assert_eq(ctx.calls, 1);
    expect_committed(db, "result", NULL);
    cr_assert_eq(test_stats(db).open_txns, 0);
    test_close(db);
}

static cairn_status read_only_body(cairn_txn *txn, void *p)
{
    (void)p;
    cairn_key k = test_key("k");
    return cairn_txn_put(txn, &k, test_str("v"));
}

Test(db_run, honours_read_only_options)
{
    cairn_db *db = open_with_retries(8);
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    ASSERT_STATUS(cairn_db_run(db, &to, read_only_body, NULL, NULL), CAIRN_READ_ONLY);
    expect_committed(db, "k", NULL);
    test_close(db);
}

/* ---- reclamation of old versions ------------------------------------------------- */

enum { OVERWRITES = 200, DELETED_KEYS = 100, DRIVE_COMMITS = 64 };

Test(gc, old_versions_stay_for_an_open_snapshot_and_are_reclaimed_after)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "hot", "v0");
    cairn_stats s0 = test_stats(db);

    cairn_txn *reader = begin_ro(db);
    expect_value(reader, "hot", "v0");

    for (int i = 1; i <= OVERWRITES; i++) {
        char value[16];
        snprintf(value, sizeof value, "v%d", i);
        commit_put(db, "hot", value);
    }
    cairn_stats s1 = test_stats(db);
    cr_assert_gt(s1.versions, s0.versions, "the reader's version and the newest must both be held");
    expect_value(reader, "hot", "v0");
    const char *want[] = {"hot=v0"};
    expect_scan(reader, "hot", 0, want, 1);
    ASSERT_OK(cairn_txn_commit(reader));
    cairn_txn_free(reader);

    /* reclamation happens on the commit path: drive it with more commits */
    commit_put(db, "hot", "final");
    cairn_stats s2 = test_stats(db);
    for (int i = 0; i < DRIVE_COMMITS; i++) {
        if (s2.versions <= s2.keys + 1 &&
            s2.versions_reclaimed - s0.versions_reclaimed >= OVERWRITES)
            break;
        commit_put(db, "unrelated", "x");
        s2 = test_stats(db);
    }
    cr_assert_leq(s2.versions, s2.keys + 1, "%llu versions held for %llu keys",
                  (unsigned long long)s2.versions, (unsigned long long)s2.keys);
    cr_assert_geq(s2.versions_reclaimed - s0.versions_reclaimed, OVERWRITES,
                  "only %llu versions reclaimed",
                  (unsigned long long)(s2.versions_reclaimed - s0.versions_reclaimed));
    expect_committed(db, "hot", "final");
    test_close(db);
}

Test(gc, deleted_keys_stay_for_an_open_snapshot_and_are_reclaimed_after)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    for (int i = 0; i < DELETED_KEYS; i++) {
        char name[16];
        snprintf(name, sizeof name, "del/%03d", i);
        put_name(txn, name, name);
    }
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    commit_put(db, "unrelated", "x");
    cairn_stats s0 = test_stats(db);
    cr_assert_geq(s0.keys, DELETED_KEYS + 1);

    cairn_txn *reader = begin_ro(db);

    txn = begin_rw(db);
    for (int i = 0; i < DELETED_KEYS; i++) {
        char name[16];
        snprintf(name, sizeof name, "del/%03d", i);
        delete_name(txn, name);
    }
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    /* commits while the reader is open must not take its keys away */
    for (int i = 0; i < 16; i++)
        commit_put(db, "unrelated", "y");
    cr_assert_geq(test_stats(db).keys, DELETED_KEYS + 1);
    for (int i = 0; i < DELETED_KEYS; i++) {
        char name[16];
        snprintf(name, sizeof name, "del/%03d", i);
        expect_value(reader, name, name);
    }
    cairn_key p = test_key("del/");
    cairn_iter *it;
    cairn_slice k, v;
    ASSERT_OK(cairn_txn_scan_prefix(reader, &p, 0, &it));
    int seen = 0;
    while (cairn_iter_next(it, &k, &v) == CAIRN_OK)
        seen++;
    cr_assert_eq(seen, DELETED_KEYS);
    ASSERT_OK(cairn_txn_commit(reader));
    cairn_txn_free(reader);

    cairn_stats s1 = test_stats(db);
    for (int i = 0; i < DRIVE_COMMITS; i++) {
        if (s1.keys_reclaimed - s0.keys_reclaimed >= DELETED_KEYS)
            break;
        commit_put(db, "unrelated", "z");
        s1 = test_stats(db);
    }
    cr_assert_geq(s1.keys_reclaimed - s0.keys_reclaimed, DELETED_KEYS,
                  "only %llu deleted keys reclaimed",
                  (unsigned long long)(s1.keys_reclaimed - s0.keys_reclaimed));
    cr_assert_leq(s1.keys, s0.keys - DELETED_KEYS, "%llu keys left, expected at most %llu",
                  (unsigned long long)s1.keys, (unsigned long long)(s0.keys - DELETED_KEYS));
    cr_assert_gt(s1.versions_reclaimed, s0.versions_reclaimed);
    cr_assert_leq(s1.versions, s1.keys + 1);

    commit_put(db, "unrelated", "z");
    txn = begin_ro(db);
    expect_value(txn, "del/000", NULL);
    expect_scan(txn, "del/", 0, NULL, 0);
    expect_value(txn, "unrelated", "z");
    cairn_txn_free(txn);
    test_close(db);
}

Test(gc, a_key_deleted_and_written_again_reads_the_new_value)
{
    cairn_db *db = test_open(NULL);
    cairn_key k = test_key("phoenix");
    for (int round = 0; round < 20; round++) {
        char value[16];
        snprintf(value, sizeof value, "life %d", round);
        test_put(db, &k, value);
        expect_committed(db, "phoenix", value);
        test_delete(db, &k);
        for (int i = 0; i < 4; i++)
            commit_put(db, "unrelated", "x");
        expect_committed(db, "phoenix", NULL);
    }
    test_close(db);
}

/* ---- odd values and keys ---------------------------------------------------------- */

Test(txn, an_empty_value_is_present_not_absent)
{
    cairn_db *db = test_open(NULL);
    cairn_key k = test_key("empty");
    cairn_txn *txn = begin_rw(db);
    ASSERT_OK(cairn_txn_put(txn, &k, cairn_slice_of(NULL, 0)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    txn = begin_ro(db);
    cairn_slice v = {"junk", 4};
    ASSERT_OK(cairn_txn_get(txn, &k, &v));
    cr_assert_eq(v.len, 0);
    const char *want[] = {"empty="};
    expect_scan(txn, "", 0, want, 1);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, binary_values_and_largest_keys_round_trip)
{
    cairn_db *db = test_open(NULL);
    static uint8_t rest[CAIRN_KEY_REST_MAX];
    for (size_t i = 0; i < sizeof rest; i++)
        rest[i] = (uint8_t)(i * 31);
    cairn_run_id run = test_run(0x11, 0x01);
    cairn_key big = test_key_bytes(&run, CAIRN_TAG_KV, rest, sizeof rest);
    cr_assert_eq(big.len, CAIRN_KEY_MAX);
    uint8_t value[300];
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (uint8_t)(255 - i); /* includes NUL bytes */

    cairn_txn *txn = begin_rw(db);
    ASSERT_OK(cairn_txn_put(txn, &big, cairn_slice_of(value, sizeof value)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    txn = begin_ro(db);
    cairn_slice v;
    ASSERT_OK(cairn_txn_get(txn, &big, &v));
    cr_assert(slice_eq(v, cairn_slice_of(value, sizeof value)));
    cairn_key prefix = test_prefix(&run, CAIRN_TAG_KV);
    cairn_iter *it;
    cairn_slice k;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    ASSERT_OK(cairn_iter_next(it, &k, &v));
    cr_assert(slice_eq(k, cairn_key_slice(&big)));
    cr_assert(slice_eq(v, cairn_slice_of(value, sizeof value)));
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, a_scan_conflicts_with_an_update_of_a_key_it_returned)
{
    cairn_db *db = test_open(NULL);
    commit_put(db, "r/a", "1");
    commit_put(db, "r/b", "2");
    cairn_txn *t1 = begin_rw(db);
    const char *want[] = {"r/a=1", "r/b=2"};
    expect_scan(t1, "r/", 0, want, 2);
    commit_put(db, "r/a", "changed");
    put_name(t1, "sum", "3");
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    cairn_txn_free(t1);
    test_close(db);
}

Test(txn, a_scan_merges_many_own_writes_with_committed_keys_in_order)
{
    /* committed: even keys; the transaction overwrites some, deletes some and
     * inserts odd ones, in a shuffled order, many more than a handful */
    enum { N = 400 };
    static model_entry entries[N];
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    for (int i = 0; i < N; i += 2) {
        snprintf(entries[i].value, sizeof entries[i].value, "c%d", i);
        entries[i].present = true;
        char name[16];
        snprintf(name, sizeof name, "s/%04d", i);
        put_name(txn, name, entries[i].value);
    }
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    test_rng rng = test_rng_seeded(77);
    for (int i = N - 1; i > 0; i--) {
        int j = (int)test_rng_below(&rng, (uint64_t)i + 1);
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    txn = begin_rw(db);
    for (int n = 0; n < N; n++) {
        int i = order[n];
        char name[16];
        snprintf(name, sizeof name, "s/%04d", i);
        uint64_t what = test_rng_below(&rng, 3);
        if (what == 0) {
            continue;
        } else if (what == 1) {
            snprintf(entries[i].value, sizeof entries[i].value, "t%d", i);
            entries[i].present = true;
            put_name(txn, name, entries[i].value);
        } else {
            entries[i].present = false;
            delete_name(txn, name);
        }
    }

    cairn_key prefix = test_key("s/");
    cairn_iter *it;
    cairn_slice k, v;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    for (int i = 0; i < N; i++) {
        if (!entries[i].present)
            continue;
        char name[16];
        snprintf(name, sizeof name, "s/%04d", i);
        cairn_key want = test_key(name);
        ASSERT_OK(cairn_iter_next(it, &k, &v));
        cr_assert(slice_eq(k, cairn_key_slice(&want)), "expected %s next", name);
        ASSERT_SLICE_STR(v, entries[i].value);
    }
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}

Test(gc, an_iterator_standing_on_a_deleted_key_survives_its_reclamation)
{
    cairn_db *db = test_open(NULL);
    const char *names[] = {"g/a", "g/b", "g/c", "g/d", "g/e"};
    for (int i = 0; i < 5; i++)
        commit_put(db, names[i], names[i]);
    cairn_txn *txn = begin_rw(db);
    delete_name(txn, "g/b");
    delete_name(txn, "g/c");
    delete_name(txn, "g/d");
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    /* the reader's snapshot already sees the deletes, so nothing stops the
     * deleted keys from being reclaimed while its iterator sits before them */
    cairn_txn *reader = begin_ro(db);
    cairn_key prefix = test_key("g/");
    cairn_iter *it;
    cairn_slice k, v;
    ASSERT_OK(cairn_txn_scan_prefix(reader, &prefix, 0, &it));
    ASSERT_OK(cairn_iter_next(it, &k, &v));
    ASSERT_SLICE_STR(v, "g/a");

    cairn_stats s0 = test_stats(db);
    for (int i = 0; i < DRIVE_COMMITS; i++) {
        commit_put(db, "unrelated", "x");
        cairn_txn *other = begin_ro(db);
        ASSERT_OK(cairn_txn_commit(other));
        cairn_txn_free(other);
    }
    /* no live snapshot can see g/b..g/d any more: they are reclaimable now */
    cr_assert_geq(test_stats(db).keys_reclaimed - s0.keys_reclaimed, 3,
                  "the deleted keys were not reclaimed while the reader was open");

    ASSERT_OK(cairn_iter_next(it, &k, &v));
    ASSERT_SLICE_STR(v, "g/e");
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_DONE);
    cairn_iter_free(it);
    cairn_txn_free(reader);

    for (int i = 0; i < DRIVE_COMMITS; i++)
        commit_put(db, "unrelated", "y");
    cr_assert_geq(test_stats(db).keys_reclaimed - s0.keys_reclaimed, 3);
    test_close(db);
}

/* ---- randomized comparison with a model ------------------------------------------- */

/*
 * Random transactions of puts, deletes, gets and scans over a small key
 * space, some aborted, checked step by step against a plain array model.
 * Every so often a read-only snapshot is kept open together with a copy of
 * the model at that moment; much later it must still read exactly that copy,
 * however many versions were written and reclaimed in between.
 */
enum { MODEL_KEYS = 300, MODEL_TXNS = 1500, MODEL_READERS = 4, MODEL_VAL = 12 };

typedef struct model {
    bool present[MODEL_KEYS];
    char value[MODEL_KEYS][MODEL_VAL];
} model;

static cairn_key model_key(int i)
{
    char name[16];
    snprintf(name, sizeof name, "m/%03d", i);
    return test_key(name);
}

/* Compares a full scan of "m/" in `txn` with `m`. */
static void model_check_scan(cairn_txn *txn, const model *m, const char *when)
{
    cairn_key prefix = test_key("m/");
    cairn_iter *it;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    cairn_slice k, v;
    for (int i = 0; i < MODEL_KEYS; i++) {
        if (!m->present[i])
            continue;
        cairn_status st = cairn_iter_next(it, &k, &v);
        cr_assert_eq(st, CAIRN_OK, "%s: scan ended (%s) before key %d", when,
                     cairn_status_name(st), i);
        cairn_key want = model_key(i);
        cr_assert(slice_eq(k, cairn_key_slice(&want)), "%s: scan skipped or reordered key %d",
                  when, i);
        cr_assert(slice_eq_str(v, m->value[i]), "%s: key %d holds \"%.*s\", expected \"%s\"",
                  when, i, (int)v.len, (const char *)v.data, m->value[i]);
    }
    cr_assert_eq(cairn_iter_next(it, &k, &v), CAIRN_DONE, "%s: scan yields extra keys", when);
    cairn_iter_free(it);
}

/* Opens `path` (NULL: in memory) with small WAL segments and no automatic
 * checkpoints, so the test decides when they happen. */
static cairn_db *model_open(const char *path)
{
    cairn_options opts;
    cairn_options_init(&opts);
    opts.durability = CAIRN_DURABILITY_ASYNC;
    opts.wal_segment_size = 128 * 1024;
    opts.checkpoint_wal_bytes = 0;
    cairn_db *db = NULL;
    char err[256] = "";
    cairn_status st = cairn_db_open(path, &opts, &db, err, sizeof err);
    cr_assert_eq(st, CAIRN_OK, "open: %s (%s)", cairn_status_name(st), err);
    return db;
}

/*
 * The model run.  With a `path`, the database is durable: every so often
 * it is checkpointed, and every so often closed and reopened (old readers
 * are checked and released first), and what comes back must be the model.
 */
static void model_run(const char *path, uint64_t seed)
{
    static model committed, pending, saved[MODEL_READERS];
    cairn_txn *readers[MODEL_READERS] = {NULL};
    memset(&committed, 0, sizeof committed);
    test_rng rng = test_rng_seeded(seed);
    cairn_db *db = model_open(path);

    for (int t = 0; t < MODEL_TXNS; t++) {
        pending = committed;
        cairn_txn *txn = begin_rw(db);
        int ops = 1 + (int)test_rng_below(&rng, 40);
        for (int o = 0; o < ops; o++) {
            int i = (int)test_rng_below(&rng, MODEL_KEYS);
            cairn_key k = model_key(i);
            uint64_t what = test_rng_below(&rng, 10);
            if (what < 5) {
                snprintf(pending.value[i], MODEL_VAL, "%hu.%hu", (unsigned short)t,
                         (unsigned short)o);
                pending.present[i] = true;
                ASSERT_OK(cairn_txn_put(txn, &k, test_str(pending.value[i])));
            } else if (what < 7) {
                pending.present[i] = false;
                ASSERT_OK(cairn_txn_delete(txn, &k));
            } else if (what < 9) {
                cairn_slice v;
                cairn_status st = cairn_txn_get(txn, &k, &v);
                if (pending.present[i]) {
                    cr_assert_eq(st, CAIRN_OK, "txn %d: key %d missing", t, i);
                    cr_assert(slice_eq_str(v, pending.value[i]), "txn %d: key %d wrong", t, i);
                } else {
                    cr_assert_eq(st, CAIRN_NOT_FOUND, "txn %d: key %d should be absent", t, i);
                }
            } else {
                model_check_scan(txn, &pending, "inside a transaction");
            }
        }
        if (test_rng_below(&rng, 10) == 0) {
            ASSERT_OK(cairn_txn_abort(txn));
        } else {
            ASSERT_OK(cairn_txn_commit(txn));
            committed = pending;
        }
        cairn_txn_free(txn);

        /* now and then, retire an old reader and pin a new snapshot */
        if (t % 37 == 0) {
            int r = (int)test_rng_below(&rng, MODEL_READERS);
            if (readers[r]) {
                model_check_scan(readers[r], &saved[r], "an old snapshot");
                cairn_txn_free(readers[r]);
            }
            readers[r] = begin_ro(db);
            saved[r] = committed;
        }
        if (path && t % 251 == 250)
            ASSERT_OK(cairn_db_checkpoint(db));
        if (path && t % 400 == 399) {
            for (int r = 0; r < MODEL_READERS; r++) {
                if (readers[r]) {
                    model_check_scan(readers[r], &saved[r], "an old snapshot before reopen");
                    cairn_txn_free(readers[r]);
                    readers[r] = NULL;
                }
            }
            test_close(db);
            db = model_open(path);
            txn = begin_ro(db);
            model_check_scan(txn, &committed, "the state after a reopen");
            cairn_txn_free(txn);
        }
    }
    for (int r = 0; r < MODEL_READERS; r++) {
        if (readers[r]) {
            model_check_scan(readers[r], &saved[r], "an old snapshot at the end");
            cairn_txn_free(readers[r]);
        }
    }
    if (path) {
        test_close(db);
        db = model_open(path);
    }
    cairn_txn *txn = begin_ro(db);
    model_check_scan(txn, &committed, "the final state");
    for (int i = 0; i < MODEL_KEYS; i++) {
        cairn_key k = model_key(i);
        cairn_slice v;
        cr_assert_eq(cairn_txn_get(txn, &k, &v), committed.present[i] ? CAIRN_OK : CAIRN_NOT_FOUND);
    }
    cairn_txn_free(txn);
    test_close(db);
}

Test(txn, random_transactions_match_a_simple_model)
{
    model_run(NULL, 0x5EED);
}

Test(txn, random_transactions_on_a_durable_database_match_the_model_across_reopens)
{
    char base[] = "/tmp/cairn-model-XXXXXX";
    cr_assert_not_null(mkdtemp(base));
    char path[64];
    snprintf(path, sizeof path, "%s/db", base);
    model_run(path, 0xD15C);
    test_rm_tree(base);
}
