/*
 * KVStore: every function in both forms, bad input, run isolation, TTL on
 * the fake clock, listing with prefixes, limits and cursors, the expiry
 * sweep, and atomicity with the caller's transaction.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "cairn/kv.h"
#include "helpers.h"

static cairn_run_id run_a, run_b;

static void setup(void)
{
    run_a = test_run(0xA1, 1);
    run_b = test_run(0xB2, 2);
}

TestSuite(kv, .init = setup);

static cairn_db *open_clocked(fake_clock *clock)
{
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(clock, &opts);
    return test_open(&opts);
}

static void expect_value(cairn_db *db, const cairn_run_id *run, const char *key, const char *want)
{
    cairn_bytes v = {0};
    cairn_status st = cairn_kv_get(db, run, test_str(key), &v);
    if (want == NULL) {
        ASSERT_STATUS(st, CAIRN_NOT_FOUND);
        cr_assert_null(v.data);
        cr_assert_eq(v.len, 0);
        return;
    }
    ASSERT_OK(st);
    cr_assert(v.len == strlen(want) && memcmp(v.data, want, v.len) == 0, "%s: got %.*s, want %s", key,
              (int)v.len, (const char *)v.data, want);
    cairn_bytes_free(&v);
    cr_assert_null(v.data);
}

Test(kv, put_get_overwrite_and_delete)
{
    cairn_db *db = test_open(NULL);
    expect_value(db, &run_a, "k", NULL);
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("k"), test_str("one")));
    expect_value(db, &run_a, "k", "one");
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("k"), test_str("two")));
    expect_value(db, &run_a, "k", "two");

    bool existed = false, exists = true;
    ASSERT_OK(cairn_kv_exists(db, &run_a, test_str("k"), &exists));
    cr_assert(exists);
    ASSERT_OK(cairn_kv_delete(db, &run_a, test_str("k"), &existed));
    cr_assert(existed);
    ASSERT_OK(cairn_kv_exists(db, &run_a, test_str("k"), &exists));
    cr_assert_not(exists);
    ASSERT_OK(cairn_kv_delete(db, &run_a, test_str("k"), &existed));
    cr_assert_not(existed, "deleting an absent key reports it did not exist");
    ASSERT_OK(cairn_kv_delete(db, &run_a, test_str("k"), NULL));
    expect_value(db, &run_a, "k", NULL);
    test_close(db);
}

Test(kv, empty_values_and_binary_keys_round_trip)
{
    cairn_db *db = test_open(NULL);
    const uint8_t key[] = {0, 1, 0xFF, 0, 7};
    const uint8_t val[] = {0, 0, 0};
    ASSERT_OK(cairn_kv_put(db, &run_a, cairn_slice_of(key, sizeof key), cairn_slice_of(val, sizeof val)));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("empty"), cairn_slice_of(NULL, 0)));
    cairn_bytes v = {0};
    ASSERT_OK(cairn_kv_get(db, &run_a, cairn_slice_of(key, sizeof key), &v));
    cr_assert(v.len == 3 && memcmp(v.data, val, 3) == 0);
    cairn_bytes_free(&v);
    ASSERT_OK(cairn_kv_get(db, &run_a, test_str("empty"), &v));
    cr_assert_eq(v.len, 0);
    cr_assert_not_null(v.data, "an empty value is still a value");
    cairn_bytes_free(&v);
    test_close(db);
}

Test(kv, the_largest_key_is_accepted_and_one_byte_more_refused)
{
    cairn_db *db = test_open(NULL);
    static uint8_t big[CAIRN_KV_KEY_MAX + 1];
    memset(big, 'x', sizeof big);
    ASSERT_OK(cairn_kv_put(db, &run_a, cairn_slice_of(big, CAIRN_KV_KEY_MAX), test_str("v")));
    ASSERT_STATUS(cairn_kv_put(db, &run_a, cairn_slice_of(big, CAIRN_KV_KEY_MAX + 1), test_str("v")),
                  CAIRN_TOO_LARGE);
    char msg[256];
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, "limit") != NULL, "message: %s", msg);
    cairn_bytes v = {0};
    ASSERT_OK(cairn_kv_get(db, &run_a, cairn_slice_of(big, CAIRN_KV_KEY_MAX), &v));
    cairn_bytes_free(&v);
    test_close(db);
}

Test(kv, bad_input_gets_a_clear_status_and_changes_nothing)
{
    cairn_db *db = test_open(NULL);
    cairn_run_id zero = test_zero_run();
    cairn_bytes v = {0};
    bool b;
    ASSERT_STATUS(cairn_kv_put(NULL, &run_a, test_str("k"), test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_put(db, NULL, test_str("k"), test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_put(db, &zero, test_str("k"), test_str("v")), CAIRN_INVALID_ARGUMENT);
    char msg[256];
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, "reserved") != NULL, "message: %s", msg);
    ASSERT_STATUS(cairn_kv_put(db, &run_a, cairn_slice_of(NULL, 0), test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_put(db, &run_a, cairn_slice_of(NULL, 3), test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_put(db, &run_a, test_str("k"), cairn_slice_of(NULL, 3)), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_put_ttl(db, &run_a, test_str("k"), test_str("v"), 0), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_put_ttl(db, &run_a, test_str("k"), test_str("v"), -5), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_put_ttl(db, &run_a, test_str("k"), test_str("v"), INT64_MAX),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_get(db, &run_a, test_str("k"), NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_get(db, &zero, test_str("k"), &v), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_exists(db, &run_a, test_str("k"), NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_delete(db, &run_a, cairn_slice_of(NULL, 0), &b), CAIRN_INVALID_ARGUMENT);
    cairn_kv_list l;
    ASSERT_STATUS(cairn_kv_list_keys(db, &run_a, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), 0, &l),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_list_keys(db, &run_a, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0),
                                     CAIRN_LIST_LIMIT_MAX + 1, &l),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_list_keys(db, &run_a, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), 5, NULL),
                  CAIRN_INVALID_ARGUMENT);
    /* nothing was written by any of it */
    ASSERT_OK(cairn_kv_list_keys(db, &run_a, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), 10, &l));
    cr_assert_eq(l.n, 0);
    cr_assert_not(l.more);
    cairn_kv_list_free(&l);
    cr_assert_eq(test_stats(db).keys, 0);

    /* _tx forms: the message lands on the transaction, which stays usable */
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_STATUS(cairn_kv_put_tx(txn, &zero, test_str("k"), test_str("v")), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "reserved") != NULL);
    ASSERT_STATUS(cairn_kv_put_tx(NULL, &run_a, test_str("k"), test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_OK(cairn_kv_put_tx(txn, &run_a, test_str("k"), test_str("v")));
    ASSERT_OK(cairn_txn_commit(txn));
    ASSERT_STATUS(cairn_kv_put_tx(txn, &run_a, test_str("k"), test_str("v")), CAIRN_TXN_FINISHED);
    cairn_txn_free(txn);
    expect_value(db, &run_a, "k", "v");
    test_close(db);
}

Test(kv, read_only_transactions_refuse_kv_writes)
{
    cairn_db *db = test_open(NULL);
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, &to, &txn));
    ASSERT_STATUS(cairn_kv_put_tx(txn, &run_a, test_str("k"), test_str("v")), CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_kv_delete_tx(txn, &run_a, test_str("k"), NULL), CAIRN_READ_ONLY);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}

Test(kv, runs_never_see_or_change_each_others_keys)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("shared-name"), test_str("a")));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("only-a"), test_str("a")));
    expect_value(db, &run_b, "shared-name", NULL);
    expect_value(db, &run_b, "only-a", NULL);
    bool existed = true;
    ASSERT_OK(cairn_kv_delete(db, &run_b, test_str("only-a"), &existed));
    cr_assert_not(existed);
    ASSERT_OK(cairn_kv_put(db, &run_b, test_str("shared-name"), test_str("b")));
    expect_value(db, &run_a, "shared-name", "a");
    expect_value(db, &run_b, "shared-name", "b");
    expect_value(db, &run_a, "only-a", "a");

    cairn_kv_list l;
    ASSERT_OK(cairn_kv_list_pairs(db, &run_b, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), 100, &l));
    cr_assert_eq(l.n, 1);
    cr_assert(slice_eq_str(l.items[0].key, "shared-name") && slice_eq_str(l.items[0].value, "b"));
    cairn_kv_list_free(&l);
    uint64_t removed = 9;
    ASSERT_OK(cairn_kv_sweep_expired(db, &run_b, &removed));
    cr_assert_eq(removed, 0);
    test_close(db);
}

Test(kv, a_ttl_key_vanishes_from_every_read_when_the_clock_passes_it)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    ASSERT_OK(cairn_kv_put_ttl(db, &run_a, test_str("session"), test_str("tok"), 1000));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("sticky"), test_str("s")));
    fake_clock_advance(&clock, 999);
    expect_value(db, &run_a, "session", "tok");
    fake_clock_advance(&clock, 1);
    expect_value(db, &run_a, "session", NULL);
    bool exists = true;
    ASSERT_OK(cairn_kv_exists(db, &run_a, test_str("session"), &exists));
    cr_assert_not(exists);
    cairn_slice keys[2] = {test_str("session"), test_str("sticky")};
    cairn_bytes vals[2];
    cairn_status sts[2];
    ASSERT_OK(cairn_kv_get_many(db, &run_a, keys, 2, vals, sts));
    cr_assert_eq(sts[0], CAIRN_NOT_FOUND);
    cr_assert_eq(sts[1], CAIRN_OK);
    cairn_bytes_free(&vals[0]);
    cairn_bytes_free(&vals[1]);
    cairn_kv_list l;
    ASSERT_OK(cairn_kv_list_keys(db, &run_a, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), 10, &l));
    cr_assert_eq(l.n, 1, "an expired key is not listed");
    cr_assert(slice_eq_str(l.items[0].key, "sticky"));
    cairn_kv_list_free(&l);
    bool existed = true;
    ASSERT_OK(cairn_kv_delete(db, &run_a, test_str("session"), &existed));
    cr_assert_not(existed, "an expired key did not exist");

    /* a plain put clears the TTL */
    ASSERT_OK(cairn_kv_put_ttl(db, &run_a, test_str("k"), test_str("v1"), 10));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("k"), test_str("v2")));
    fake_clock_advance(&clock, 1000000);
    expect_value(db, &run_a, "k", "v2");
    test_close(db);
}

Test(kv, the_sweep_removes_expired_keys_and_spares_the_rest)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    char name[32];
    for (int i = 0; i < 2500; i++) { /* more than one sweep batch */
        snprintf(name, sizeof name, "t%05d", i);
        ASSERT_OK(cairn_kv_put_ttl(db, &run_a, test_str(name), test_str("x"), 100));
    }
    ASSERT_OK(cairn_kv_put_ttl(db, &run_b, test_str("other-run"), test_str("x"), 100));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("keep"), test_str("k")));
    ASSERT_OK(cairn_kv_put_ttl(db, &run_a, test_str("later"), test_str("l"), 1000000));
    uint64_t removed = 99;
    ASSERT_OK(cairn_kv_sweep_expired(db, &run_a, &removed));
    cr_assert_eq(removed, 0, "nothing has expired yet");
    fake_clock_advance(&clock, 100);
    uint64_t keys_before = test_stats(db).keys;
    ASSERT_OK(cairn_kv_sweep_expired(db, &run_a, &removed));
    cr_assert_eq(removed, 2500);
    expect_value(db, &run_a, "keep", "k");
    expect_value(db, &run_a, "later", "l");
    /* run B's expired key was not in this sweep; a sweep of every run takes it */
    ASSERT_OK(cairn_kv_sweep_expired(db, NULL, &removed));
    cr_assert_eq(removed, 1);
    ASSERT_OK(cairn_kv_sweep_expired(db, NULL, &removed));
    cr_assert_eq(removed, 0);
    /* the deleted keys are reclaimed from memory once no snapshot needs them */
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("nudge"), test_str("n")));
    cairn_stats st = test_stats(db);
    cr_assert_lt(st.keys, keys_before, "keys %llu before, %llu after", (unsigned long long)keys_before,
                 (unsigned long long)st.keys);
    test_close(db);
}

Test(kv, the_sweep_leaves_a_key_written_again_after_it_expired)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    ASSERT_OK(cairn_kv_put_ttl(db, &run_a, test_str("k"), test_str("old"), 10));
    fake_clock_advance(&clock, 20);
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("k"), test_str("new")));
    uint64_t removed = 5;
    ASSERT_OK(cairn_kv_sweep_expired(db, &run_a, &removed));
    cr_assert_eq(removed, 0);
    expect_value(db, &run_a, "k", "new");
    test_close(db);
}

Test(kv, get_many_mixes_hits_misses_and_own_writes)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("a"), test_str("1")));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("b"), test_str("2")));
    cairn_slice keys[4] = {test_str("a"), test_str("missing"), test_str("b"), test_str("c")};
    cairn_bytes vals[4];
    cairn_status sts[4];
    ASSERT_OK(cairn_kv_get_many(db, &run_a, keys, 4, vals, sts));
    cr_assert(sts[0] == CAIRN_OK && bytes_eq(vals[0].data, "1", 1));
    cr_assert(sts[1] == CAIRN_NOT_FOUND && vals[1].data == NULL);
    cr_assert(sts[2] == CAIRN_OK && bytes_eq(vals[2].data, "2", 1));
    cr_assert_eq(sts[3], CAIRN_NOT_FOUND);
    for (int i = 0; i < 4; i++)
        cairn_bytes_free(&vals[i]);
    ASSERT_OK(cairn_kv_get_many(db, &run_a, keys, 0, NULL, NULL));

    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_kv_put_tx(txn, &run_a, test_str("c"), test_str("3")));
    ASSERT_OK(cairn_kv_delete_tx(txn, &run_a, test_str("a"), NULL));
    cairn_slice sv[4];
    ASSERT_OK(cairn_kv_get_many_tx(txn, &run_a, keys, 4, sv, sts));
    cr_assert_eq(sts[0], CAIRN_NOT_FOUND);
    cr_assert(sts[3] == CAIRN_OK && slice_eq_str(sv[3], "3"));
    /* a bad key fails the whole call, naming it */
    keys[2] = cairn_slice_of(NULL, 0);
    ASSERT_STATUS(cairn_kv_get_many_tx(txn, &run_a, keys, 4, sv, sts), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "keys[2]") != NULL, "%s", cairn_txn_errmsg(txn));
    ASSERT_STATUS(cairn_kv_get_many(db, &run_a, keys, 4, vals, sts), CAIRN_INVALID_ARGUMENT);
    ASSERT_OK(cairn_txn_abort(txn));
    cairn_txn_free(txn);
    test_close(db);
}

/* Pages through a listing; returns the keys joined with ','. */
static void list_all(cairn_db *db, const char *prefix, size_t page, bool values, char *out, size_t cap)
{
    out[0] = '\0';
    char cursor[64] = "";
    size_t clen = 0, pages = 0;
    for (;;) {
        cairn_kv_list l;
        cairn_slice after = cairn_slice_of(cursor, clen);
        if (values)
            ASSERT_OK(cairn_kv_list_pairs(db, &run_a, test_str(prefix), after, page, &l));
        else
            ASSERT_OK(cairn_kv_list_keys(db, &run_a, test_str(prefix), after, page, &l));
        cr_assert_leq(l.n, page);
        for (size_t i = 0; i < l.n; i++) {
            size_t o = strlen(out);
            snprintf(out + o, cap - o, "%s%.*s", o ? "," : "", (int)l.items[i].key.len,
                     (const char *)l.items[i].key.data);
            if (values) {
                o = strlen(out);
                snprintf(out + o, cap - o, "=%.*s", (int)l.items[i].value.len,
                         (const char *)l.items[i].value.data);
            } else {
                cr_assert_eq(l.items[i].value.len, 0);
            }
        }
        pages++;
        bool more = l.more;
        if (more) {
            cr_assert_eq(l.n, page);
            clen = l.cursor.len;
            memcpy(cursor, l.cursor.data, clen);
        }
        cairn_kv_list_free(&l);
        cairn_kv_list_free(&l); /* idempotent */
        if (!more)
            break;
        cr_assert_lt(pages, 100);
    }
}

Test(kv, lists_are_sorted_filtered_by_prefix_and_resume_from_a_cursor)
{
    cairn_db *db = test_open(NULL);
    const char *names[] = {"user/2", "user/10", "user/1", "tool/x", "user", "usera", "user/3/deep"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ASSERT_OK(cairn_kv_put(db, &run_a, test_str(names[i]), test_str(names[i] + 4)));
    ASSERT_OK(cairn_kv_put(db, &run_b, test_str("user/0"), test_str("other run")));
    char got[512];
    list_all(db, "user/", 100, false, got, sizeof got);
    cr_assert_str_eq(got, "user/1,user/10,user/2,user/3/deep");
    for (size_t page = 1; page <= 4; page++) {
        list_all(db, "user/", page, false, got, sizeof got);
        cr_assert_str_eq(got, "user/1,user/10,user/2,user/3/deep", "page size %zu", page);
    }
    list_all(db, "", 3, false, got, sizeof got);
    cr_assert_str_eq(got, "tool/x,user,user/1,user/10,user/2,user/3/deep,usera");
    list_all(db, "user/1", 1, true, got, sizeof got);
    cr_assert_str_eq(got, "user/1=/1,user/10=/10");
    list_all(db, "nothing", 5, false, got, sizeof got);
    cr_assert_str_eq(got, "");

    /* a cursor before the prefix starts at the prefix; one past it ends */
    cairn_kv_list l;
    ASSERT_OK(cairn_kv_list_keys(db, &run_a, test_str("user/"), test_str("a"), 10, &l));
    cr_assert_eq(l.n, 4);
    cairn_kv_list_free(&l);
    ASSERT_OK(cairn_kv_list_keys(db, &run_a, test_str("user/"), test_str("zzz"), 10, &l));
    cr_assert_eq(l.n, 0);
    cr_assert_not(l.more);
    cairn_kv_list_free(&l);
    test_close(db);
}

Test(kv, one_transaction_holds_kv_writes_with_other_work)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_kv_put_tx(txn, &run_a, test_str("x"), test_str("1")));
    ASSERT_OK(cairn_kv_put_ttl_tx(txn, &run_a, test_str("y"), test_str("2"), 1000000000));
    cairn_slice v;
    ASSERT_OK(cairn_kv_get_tx(txn, &run_a, test_str("x"), &v));
    cr_assert(slice_eq_str(v, "1"), "a transaction reads its own KV writes");
    bool e;
    ASSERT_OK(cairn_kv_exists_tx(txn, &run_a, test_str("y"), &e));
    cr_assert(e);
    expect_value(db, &run_a, "x", NULL); /* invisible to others until commit */
    ASSERT_OK(cairn_txn_abort(txn));
    expect_value(db, &run_a, "x", NULL);
    expect_value(db, &run_a, "y", NULL);

    ASSERT_OK(cairn_txn_restart(txn));
    ASSERT_OK(cairn_kv_put_tx(txn, &run_a, test_str("x"), test_str("1")));
    cairn_kv_list l;
    ASSERT_OK(cairn_kv_list_pairs_tx(txn, &run_a, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), 10, &l));
    cr_assert_eq(l.n, 1, "lists see the transaction's own writes");
    cairn_kv_list_free(&l);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    expect_value(db, &run_a, "x", "1");
    test_close(db);
}

Test(kv, a_read_then_write_conflicts_with_a_concurrent_write)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("n"), test_str("1")));
    cairn_txn *t1 = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &t1));
    cairn_slice v;
    ASSERT_OK(cairn_kv_get_tx(t1, &run_a, test_str("n"), &v));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("n"), test_str("2")));
    ASSERT_OK(cairn_kv_put_tx(t1, &run_a, test_str("n"), test_str("from t1")));
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    cairn_txn_free(t1);
    expect_value(db, &run_a, "n", "2");
    test_close(db);
}

/* ---- durability ---------------------------------------------------------- */

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

Test(kv, keys_and_ttls_survive_reopen_and_checkpoints_drop_expired_keys)
{
    char base[64], path[96];
    snprintf(base, sizeof base, "/tmp/cairn-kv-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(path, sizeof path, "%s/db", base);
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    opts.durability = CAIRN_DURABILITY_SYNC;
    fake_clock_install(&clock, &opts);
    cairn_db *db = NULL;
    char err[256];
    ASSERT_OK(cairn_db_open(path, &opts, &db, err, sizeof err));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("plain"), test_str("p")));
    ASSERT_OK(cairn_kv_put_ttl(db, &run_a, test_str("short"), test_str("s"), 1000));
    ASSERT_OK(cairn_kv_put_ttl(db, &run_a, test_str("long"), test_str("l"), 1000000000));
    ASSERT_OK(cairn_db_close(db));

    /* the TTL is kept by the log: before expiry all three come back */
    ASSERT_OK(cairn_db_open(path, &opts, &db, err, sizeof err));
    expect_value(db, &run_a, "short", "s");
    fake_clock_advance(&clock, 1000);
    expect_value(db, &run_a, "short", NULL);
    expect_value(db, &run_a, "long", "l");
    /* a checkpoint written now leaves the expired key out */
    ASSERT_OK(cairn_db_checkpoint(db));
    ASSERT_OK(cairn_db_close(db));

    ASSERT_OK(cairn_db_open(path, &opts, &db, err, sizeof err));
    cairn_recovery_report rep;
    ASSERT_OK(cairn_db_recovery_report(db, &rep));
    cr_assert_eq(rep.checkpoint_entries, 2, "checkpoint holds %llu keys",
                 (unsigned long long)rep.checkpoint_entries);
    expect_value(db, &run_a, "plain", "p");
    expect_value(db, &run_a, "long", "l");
    expect_value(db, &run_a, "short", NULL);
    ASSERT_OK(cairn_db_close(db));
    test_rm_tree(base);
}

Test(kv, tx_forms_check_their_own_arguments_and_refuse_finished_transactions)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("a"), test_str("1")));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("b"), test_str("22")));
    cairn_slice keys[2] = {test_str("a"), test_str("b")}, v;
    cairn_status sts[2];
    bool exists;
    cairn_kv_list l;
    cairn_slice none = cairn_slice_of(NULL, 0);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_STATUS(cairn_kv_get_tx(txn, &run_a, test_str("a"), NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "valuep is NULL") != NULL);
    ASSERT_STATUS(cairn_kv_exists_tx(txn, &run_a, test_str("a"), NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "existsp is NULL") != NULL);
    ASSERT_STATUS(cairn_kv_get_many_tx(txn, &run_a, keys, 2, NULL, sts), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "values is NULL") != NULL);
    ASSERT_STATUS(cairn_kv_put_ttl_tx(txn, &run_a, test_str("t"), test_str("v"), 0), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_put_ttl_tx(txn, &run_a, test_str("t"), test_str("v"), -1), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "ttl_us must be > 0") != NULL);
    ASSERT_STATUS(cairn_kv_list_pairs_tx(txn, &run_a, none, none, 5, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "listp is NULL") != NULL);
    /* keys only, from the _tx form: borrowed until the transaction ends */
    ASSERT_OK(cairn_kv_list_keys_tx(txn, &run_a, none, none, 5, &l));
    cr_assert_eq(l.n, 2);
    cr_assert(slice_eq_str(l.items[0].key, "a") && slice_eq_str(l.items[1].key, "b"));
    cairn_kv_list_free(&l);
    ASSERT_OK(cairn_txn_commit(txn));
    ASSERT_STATUS(cairn_kv_get_tx(txn, &run_a, test_str("a"), &v), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_kv_exists_tx(txn, &run_a, test_str("a"), &exists), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_kv_delete_tx(txn, &run_a, test_str("a"), NULL), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_kv_list_keys_tx(txn, &run_a, none, none, 5, &l), CAIRN_TXN_FINISHED);
    cairn_txn_free(txn);
    cairn_kv_list_free(NULL);

    cairn_bytes vals[2];
    cairn_run_id zero = test_zero_run();
    ASSERT_STATUS(cairn_kv_get_many(db, &run_a, keys, 2, NULL, sts), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_get_many(db, &run_a, NULL, 2, vals, sts), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_sweep_expired(NULL, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_kv_sweep_expired(db, &zero, NULL), CAIRN_INVALID_ARGUMENT);
    expect_value(db, &run_a, "a", "1");
    test_close(db);
}

Test(kv, listing_resumes_after_a_key_of_the_maximum_length)
{
    cairn_db *db = test_open(NULL);
    static uint8_t longest[CAIRN_KV_KEY_MAX], ffs[CAIRN_KV_KEY_MAX];
    memset(longest, 'K', sizeof longest);
    memset(ffs, 0xFF, sizeof ffs);
    ffs[0] = 'K';
    /* in order: "K", "K" x max, "K" then 0xFF x (max - 1), "L" */
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("K"), test_str("1")));
    ASSERT_OK(cairn_kv_put(db, &run_a, cairn_slice_of(longest, sizeof longest), test_str("2")));
    ASSERT_OK(cairn_kv_put(db, &run_a, cairn_slice_of(ffs, sizeof ffs), test_str("3")));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("L"), test_str("4")));
    const char *want = "1234";
    cairn_slice after = cairn_slice_of(NULL, 0);
    uint8_t cursor[CAIRN_KV_KEY_MAX];
    for (int page = 0; page < 4; page++) {
        cairn_kv_list l;
        ASSERT_OK(cairn_kv_list_pairs(db, &run_a, cairn_slice_of(NULL, 0), after, 1, &l));
        cr_assert_eq(l.n, 1, "page %d has %zu items", page, l.n);
        cr_assert_eq(((const char *)l.items[0].value.data)[0], want[page], "page %d", page);
        cr_assert_eq(l.more, page < 3, "page %d: more = %d", page, l.more);
        memcpy(cursor, l.cursor.data, l.cursor.len);
        after = cairn_slice_of(cursor, l.cursor.len);
        cairn_kv_list_free(&l);
    }
    /* and a prefix the cursor lies before still lists everything under it */
    cairn_kv_list l;
    ASSERT_OK(cairn_kv_list_keys(db, &run_a, test_str("L"), cairn_slice_of(ffs, sizeof ffs), 5, &l));
    cr_assert_eq(l.n, 1);
    cairn_kv_list_free(&l);
    test_close(db);
}
