/*
 * Bad input: NULL pointers, unwritable keys, limits, finished handles,
 * busy resources, invalid options, and the status and message strings
 * that explain all of them.  Every case must answer a status, never crash.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static cairn_txn *begin_rw(cairn_db *db)
{
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    return txn;
}

static cairn_db *open_with(void (*tweak)(cairn_options *))
{
    cairn_options opts;
    cairn_options_init(&opts);
    tweak(&opts);
    return test_open(&opts);
}

/* ---- NULL pointers -------------------------------------------------------- */

Test(bad_input, null_pointers_to_database_calls_are_invalid_arguments)
{
    cairn_db *db = NULL;
    ASSERT_STATUS(cairn_db_open(NULL, NULL, NULL, NULL, 0), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_db_close(NULL), CAIRN_INVALID_ARGUMENT);

    db = test_open(NULL);
    cairn_stats stats;
    cairn_run_id id;
    cairn_txn *txn = NULL;
    ASSERT_STATUS(cairn_db_stats(NULL, &stats), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_db_stats(db, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_id_generate(NULL, &id), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_id_generate(db, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_begin(NULL, NULL, &txn), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_begin(db, NULL, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_null(txn);
    ASSERT_STATUS(cairn_db_run(NULL, NULL, NULL, NULL, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_db_run(db, NULL, NULL, NULL, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(test_stats(db).open_txns, 0);
    test_close(db);
}

Test(bad_input, null_pointers_to_transaction_calls_are_invalid_arguments)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cairn_key k = test_key("k");
    cairn_slice v;
    cairn_iter *it = NULL;

    ASSERT_STATUS(cairn_txn_restart(NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_get(NULL, &k, &v), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_get(txn, NULL, &v), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_get(txn, &k, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_put(NULL, &k, test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_put(txn, NULL, test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_put(txn, &k, cairn_slice_of(NULL, 5)), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_put_expiring(NULL, &k, test_str("v"), 1), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_put_expiring(txn, NULL, test_str("v"), 1), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_put_expiring(txn, &k, cairn_slice_of(NULL, 5), 1),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_delete(NULL, &k), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_delete(txn, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_scan(NULL, &k, NULL, 0, &it), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_scan(txn, NULL, NULL, 0, &it), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_scan(txn, &k, NULL, 0, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_scan_prefix(NULL, &k, 0, &it), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_scan_prefix(txn, NULL, 0, &it), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_scan_prefix(txn, &k, 0, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_null(it);
    ASSERT_STATUS(cairn_iter_next(NULL, NULL, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_commit(NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_abort(NULL), CAIRN_INVALID_ARGUMENT);
    cairn_iter_free(NULL);
    cairn_txn_free(NULL);

    /* none of the refused writes happened, and the transaction still works */
    cr_assert(cairn_txn_is_active(txn));
    ASSERT_STATUS(cairn_txn_get(txn, &k, &v), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_txn_put(txn, &k, test_str("v")));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, null_out_pointers_to_an_iterator_are_invalid_arguments)
{
    cairn_db *db = test_open(NULL);
    cairn_key k = test_key("k");
    test_put(db, &k, "v");
    cairn_txn *txn = begin_rw(db);
    cairn_iter *it;
    cairn_slice key, value;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &k, 0, &it));
    ASSERT_STATUS(cairn_iter_next(it, NULL, &value), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_iter_next(it, &key, NULL), CAIRN_INVALID_ARGUMENT);
    /* the refused calls did not move the iterator */
    ASSERT_OK(cairn_iter_next(it, &key, &value));
    ASSERT_SLICE_STR(value, "v");
    cairn_iter_free(it);
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, durable_only_calls_on_an_in_memory_database)
{
    ASSERT_STATUS(cairn_db_checkpoint(NULL), CAIRN_INVALID_ARGUMENT);
    cairn_recovery_report report;
    ASSERT_STATUS(cairn_db_recovery_report(NULL, &report), CAIRN_INVALID_ARGUMENT);

    cairn_db *db = test_open(NULL);
    ASSERT_STATUS(cairn_db_recovery_report(db, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_db_checkpoint(db), CAIRN_UNSUPPORTED);
    memset(&report, 0xA5, sizeof report);
    ASSERT_OK(cairn_db_recovery_report(db, &report));
    cr_assert_not(report.durable);
    cr_assert_eq(report.records_replayed, 0);
    cr_assert_not(report.torn);

    cairn_key k = test_key("k");
    test_put(db, &k, "v");
    cairn_stats st = test_stats(db);
    cr_assert_eq(st.syncs, 0);
    cr_assert_eq(st.wal_records, 0);
    cr_assert_eq(st.wal_bytes, 0);
    cr_assert_eq(st.checkpoints, 0);
    test_close(db);
}

/* ---- unwritable keys ------------------------------------------------------ */

Test(bad_input, keys_with_an_empty_rest_cannot_be_written)
{
    cairn_db *db = test_open(NULL);
    cairn_run_id run = test_run(0x11, 0x01);
    cairn_key prefix = test_prefix(&run, CAIRN_TAG_KV);
    cairn_txn *txn = begin_rw(db);
    ASSERT_STATUS(cairn_txn_put(txn, &prefix, test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_put_expiring(txn, &prefix, test_str("v"), INT64_MAX),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_delete(txn, &prefix), CAIRN_INVALID_ARGUMENT);
    cr_assert_neq(cairn_txn_errmsg(txn)[0], '\0');

    /* reading one is merely absent */
    cairn_slice v;
    ASSERT_STATUS(cairn_txn_get(txn, &prefix, &v), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, hand_made_keys_that_break_the_encoding_are_refused)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cairn_slice v;
    cairn_key key;

    /* a length past the key buffer must not be read */
    key = test_key("k");
    key.len = CAIRN_KEY_MAX + 1;
    ASSERT_STATUS(cairn_txn_put(txn, &key, test_str("v")), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_get(txn, &key, &v), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_delete(txn, &key), CAIRN_INVALID_ARGUMENT);
    key.len = UINT32_MAX;
    ASSERT_STATUS(cairn_txn_put(txn, &key, test_str("v")), CAIRN_INVALID_ARGUMENT);

    /* shorter than run id + tag */
    key = test_key("k");
    key.len = CAIRN_RUN_ID_SIZE;
    ASSERT_STATUS(cairn_txn_put(txn, &key, test_str("v")), CAIRN_INVALID_ARGUMENT);

    /* a reserved tag, and a primitive tag under the zero run */
    key = test_key("k");
    key.bytes[CAIRN_RUN_ID_SIZE] = 0x06;
    ASSERT_STATUS(cairn_txn_put(txn, &key, test_str("v")), CAIRN_INVALID_ARGUMENT);
    key = test_key("k");
    memset(key.bytes, 0, CAIRN_RUN_ID_SIZE);
    ASSERT_STATUS(cairn_txn_put(txn, &key, test_str("v")), CAIRN_INVALID_ARGUMENT);

    ASSERT_OK(cairn_txn_commit(txn));
    cr_assert_eq(test_stats(db).keys, 0);
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, malformed_bounds_and_keys_are_refused_by_reads_and_scans)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cairn_slice v;
    cairn_iter *it = NULL;
    cairn_key good = test_key("k");
    cairn_key bad = good;
    bad.len = CAIRN_KEY_MAX + 1;
    ASSERT_STATUS(cairn_txn_scan(txn, &bad, NULL, 0, &it), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_scan(txn, &good, &bad, 0, &it), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_scan_prefix(txn, &bad, 0, &it), CAIRN_INVALID_ARGUMENT);
    cr_assert_null(it);
    cairn_key end;
    ASSERT_STATUS(cairn_key_prefix_end(&bad, &end), CAIRN_INVALID_ARGUMENT);

    cairn_key short_key = good;
    short_key.len = CAIRN_RUN_ID_SIZE;
    ASSERT_STATUS(cairn_txn_get(txn, &short_key, &v), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_delete(txn, &short_key), CAIRN_INVALID_ARGUMENT);
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, unknown_transaction_options_are_invalid_arguments)
{
    cairn_db *db = test_open(NULL);
    cairn_txn_options to;
    cairn_txn *txn = NULL;

    cairn_txn_options_init(&to);
    to.mode = (cairn_txn_mode)7;
    ASSERT_STATUS(cairn_txn_begin(db, &to, &txn), CAIRN_INVALID_ARGUMENT);
    cr_assert_null(txn);

    cairn_txn_options_init(&to);
    to.durability = (cairn_durability)9;
    ASSERT_STATUS(cairn_txn_begin(db, &to, &txn), CAIRN_INVALID_ARGUMENT);
    cr_assert_null(txn);
    cr_assert_eq(test_stats(db).open_txns, 0);
    test_close(db);
}

static void read_only_db(cairn_options *o)
{
    o->read_only = true;
}

Test(bad_input, a_read_only_database_refuses_writes)
{
    cairn_db *db = open_with(read_only_db);
    cairn_txn *txn = NULL;
    cairn_status st = cairn_txn_begin(db, NULL, &txn);
    if (st == CAIRN_OK) {
        cairn_key k = test_key("k");
        ASSERT_STATUS(cairn_txn_put(txn, &k, test_str("v")), CAIRN_READ_ONLY);
        cairn_txn_free(txn);
    } else {
        cr_assert_eq(st, CAIRN_READ_ONLY, "read-write begin on a read-only database gave %s",
                     cairn_status_name(st));
    }

    /* reading still works */
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    ASSERT_OK(cairn_txn_begin(db, &to, &txn));
    cairn_key k = test_key("k");
    cairn_slice v;
    ASSERT_STATUS(cairn_txn_get(txn, &k, &v), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, expiry_times_must_be_positive)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cairn_key k = test_key("k");
    ASSERT_STATUS(cairn_txn_put_expiring(txn, &k, test_str("v"), 0), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_txn_put_expiring(txn, &k, test_str("v"), -5), CAIRN_INVALID_ARGUMENT);
    cairn_slice v;
    ASSERT_STATUS(cairn_txn_get(txn, &k, &v), CAIRN_NOT_FOUND);
    cairn_txn_free(txn);
    test_close(db);
}

/* ---- size limits ------------------------------------------------------------ */

static void small_values(cairn_options *o)
{
    o->max_value_size = 64;
}

Test(bad_input, a_value_over_max_value_size_is_too_large_and_not_written)
{
    cairn_db *db = open_with(small_values);
    uint8_t big[65];
    memset(big, 'v', sizeof big);
    cairn_key k = test_key("k");
    cairn_key ok = test_key("ok");
    cairn_slice v;

    cairn_txn *txn = begin_rw(db);
    ASSERT_STATUS(cairn_txn_put(txn, &k, cairn_slice_of(big, 65)), CAIRN_TOO_LARGE);
    cr_assert_neq(cairn_txn_errmsg(txn)[0], '\0', "the message should name the limit");
    ASSERT_STATUS(cairn_txn_put_expiring(txn, &k, cairn_slice_of(big, 65), INT64_MAX),
                  CAIRN_TOO_LARGE);
    ASSERT_STATUS(cairn_txn_get(txn, &k, &v), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_txn_put(txn, &ok, cairn_slice_of(big, 64)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    txn = begin_rw(db);
    ASSERT_STATUS(cairn_txn_get(txn, &k, &v), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_txn_get(txn, &ok, &v));
    cr_assert_eq(v.len, 64);
    cairn_txn_free(txn);
    test_close(db);
}

static void small_txn_bytes(cairn_options *o)
{
    o->max_txn_bytes = 200;
}

Test(bad_input, a_transaction_over_max_txn_bytes_is_too_large)
{
    /* each put is a 19-byte key and a 40-byte value: 59 bytes.  Three puts
     * (177 bytes) fit in 200; a fourth (236) does not. */
    cairn_db *db = open_with(small_txn_bytes);
    uint8_t value[40];
    memset(value, 'v', sizeof value);
    cairn_txn *txn = begin_rw(db);
    const char *names[] = {"k1", "k2", "k3", "k4"};
    for (int i = 0; i < 3; i++) {
        cairn_key k = test_key(names[i]);
        cr_assert_eq(k.len, 19);
        ASSERT_OK(cairn_txn_put(txn, &k, cairn_slice_of(value, sizeof value)));
    }
    cairn_key k4 = test_key(names[3]);
    ASSERT_STATUS(cairn_txn_put(txn, &k4, cairn_slice_of(value, sizeof value)), CAIRN_TOO_LARGE);
    cr_assert_neq(cairn_txn_errmsg(txn)[0], '\0');
    cairn_slice v;
    ASSERT_STATUS(cairn_txn_get(txn, &k4, &v), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    char buf[64];
    cairn_key k3 = test_key("k3");
    ASSERT_OK(test_get(db, &k3, buf, sizeof buf));
    ASSERT_STATUS(test_get(db, &k4, buf, sizeof buf), CAIRN_NOT_FOUND);
    test_close(db);
}

static void one_put_of_bytes(cairn_options *o)
{
    o->max_txn_bytes = 59; /* exactly one 19-byte key and one 40-byte value */
}

Test(bad_input, an_expiring_put_counts_only_key_and_value_bytes)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    one_put_of_bytes(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);
    uint8_t value[40];
    memset(value, 'v', sizeof value);
    cairn_key k = test_key("k1");
    cr_assert_eq(k.len, 19);

    cairn_txn *txn = begin_rw(db);
    ASSERT_OK(cairn_txn_put(txn, &k, cairn_slice_of(value, sizeof value)));
    ASSERT_OK(cairn_txn_abort(txn));
    cairn_txn_free(txn);

    txn = begin_rw(db);
    ASSERT_OK(cairn_txn_put_expiring(txn, &k, cairn_slice_of(value, sizeof value),
                                     FAKE_CLOCK_START_US + 1000));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    test_close(db);
}

static void few_txn_ops(cairn_options *o)
{
    o->max_txn_ops = 5;
}

Test(bad_input, a_transaction_over_max_txn_ops_is_too_large)
{
    cairn_db *db = open_with(few_txn_ops);
    cairn_txn *txn = begin_rw(db);
    for (int i = 0; i < 5; i++) {
        char name[8];
        snprintf(name, sizeof name, "k%d", i);
        cairn_key k = test_key(name);
        if (i % 2)
            ASSERT_OK(cairn_txn_delete(txn, &k));
        else
            ASSERT_OK(cairn_txn_put(txn, &k, test_str("v")));
    }
    cairn_key k5 = test_key("k5");
    ASSERT_STATUS(cairn_txn_put(txn, &k5, test_str("v")), CAIRN_TOO_LARGE);
    ASSERT_STATUS(cairn_txn_delete(txn, &k5), CAIRN_TOO_LARGE);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    char buf[8];
    cairn_key k4 = test_key("k4");
    ASSERT_OK(test_get(db, &k4, buf, sizeof buf));
    ASSERT_STATUS(test_get(db, &k5, buf, sizeof buf), CAIRN_NOT_FOUND);
    test_close(db);
}

/* ---- finished transactions ---------------------------------------------------- */

static void assert_everything_finished(cairn_txn *txn)
{
    cairn_key k = test_key("k");
    cairn_slice v;
    cairn_iter *it = NULL;
    cr_assert_not(cairn_txn_is_active(txn));
    ASSERT_STATUS(cairn_txn_get(txn, &k, &v), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_txn_put(txn, &k, test_str("v")), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_txn_put_expiring(txn, &k, test_str("v"), INT64_MAX),
                  CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_txn_delete(txn, &k), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_txn_scan(txn, &k, NULL, 0, &it), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_txn_scan_prefix(txn, &k, 0, &it), CAIRN_TXN_FINISHED);
    cr_assert_null(it);
    ASSERT_STATUS(cairn_txn_commit(txn), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_txn_abort(txn), CAIRN_TXN_FINISHED);
    cr_assert_neq(cairn_txn_errmsg(txn)[0], '\0');
}

Test(bad_input, a_committed_transaction_answers_txn_finished)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cairn_key k = test_key("k");
    ASSERT_OK(cairn_txn_put(txn, &k, test_str("committed")));
    ASSERT_OK(cairn_txn_commit(txn));
    uint64_t cv = cairn_txn_commit_version(txn);
    assert_everything_finished(txn);
    cr_assert_eq(cairn_txn_commit_version(txn), cv, "a refused call changed the result");
    cairn_txn_free(txn);

    char buf[16];
    ASSERT_OK(test_get(db, &k, buf, sizeof buf));
    cr_assert_str_eq(buf, "committed");
    test_close(db);
}

Test(bad_input, an_aborted_transaction_answers_txn_finished)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cairn_key k = test_key("k");
    ASSERT_OK(cairn_txn_put(txn, &k, test_str("aborted")));
    ASSERT_OK(cairn_txn_abort(txn));
    assert_everything_finished(txn);
    cairn_txn_free(txn);
    char buf[16];
    ASSERT_STATUS(test_get(db, &k, buf, sizeof buf), CAIRN_NOT_FOUND);
    test_close(db);
}

Test(bad_input, a_transaction_refused_with_conflict_answers_txn_finished)
{
    cairn_db *db = test_open(NULL);
    cairn_key k = test_key("k");
    cairn_txn *txn = begin_rw(db);
    cairn_slice v;
    ASSERT_STATUS(cairn_txn_get(txn, &k, &v), CAIRN_NOT_FOUND);
    test_put(db, &k, "other");
    ASSERT_OK(cairn_txn_put(txn, &k, test_str("mine")));
    ASSERT_STATUS(cairn_txn_commit(txn), CAIRN_CONFLICT);
    cr_assert_neq(cairn_txn_errmsg(txn)[0], '\0', "a conflict should say what conflicted");
    assert_everything_finished(txn);
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, restarting_an_active_transaction_is_busy)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    ASSERT_STATUS(cairn_txn_restart(txn), CAIRN_BUSY);
    cr_assert(cairn_txn_is_active(txn));
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, an_iterator_used_after_its_transaction_finished_answers_txn_finished)
{
    cairn_db *db = test_open(NULL);
    cairn_key a = test_key("a"), b = test_key("b");
    test_put(db, &a, "1");
    test_put(db, &b, "2");
    cairn_run_id run = test_run(0x11, 0x01);
    cairn_key prefix = test_prefix(&run, CAIRN_TAG_KV);
    cairn_slice k, v;

    /* after commit */
    cairn_txn *txn = begin_rw(db);
    cairn_iter *it;
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    ASSERT_OK(cairn_iter_next(it, &k, &v));
    ASSERT_OK(cairn_txn_commit(txn));
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_TXN_FINISHED);
    cairn_iter_free(it);
    cairn_txn_free(txn);

    /* after abort, without freeing the iterator first */
    txn = begin_rw(db);
    ASSERT_OK(cairn_txn_scan_prefix(txn, &prefix, 0, &it));
    ASSERT_OK(cairn_txn_abort(txn));
    ASSERT_STATUS(cairn_iter_next(it, &k, &v), CAIRN_TXN_FINISHED);
    cairn_txn_free(txn);
    test_close(db);
}

/* ---- busy resources ------------------------------------------------------------- */

Test(bad_input, closing_with_an_active_transaction_is_busy_and_changes_nothing)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *active = begin_rw(db);
    cairn_key k = test_key("k");
    ASSERT_OK(cairn_txn_put(active, &k, test_str("pending")));

    ASSERT_STATUS(cairn_db_close(db), CAIRN_BUSY);
    char msg[256];
    cr_assert_gt(cairn_db_errmsg(db, msg, sizeof msg), 0);
    cr_assert_neq(msg[0], '\0');

    /* the database and the transaction both still work */
    cairn_key other = test_key("other");
    test_put(db, &other, "after busy close");
    char buf[32];
    ASSERT_OK(test_get(db, &other, buf, sizeof buf));
    cr_assert(cairn_txn_is_active(active));
    ASSERT_OK(cairn_txn_commit(active));
    ASSERT_OK(test_get(db, &k, buf, sizeof buf));
    cr_assert_str_eq(buf, "pending");

    /* a finished but unfreed handle does not block close; close frees it */
    ASSERT_OK(cairn_db_close(db));
}

Test(bad_input, close_succeeds_once_the_active_transaction_is_aborted)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *active = begin_rw(db);
    ASSERT_STATUS(cairn_db_close(db), CAIRN_BUSY);
    ASSERT_OK(cairn_txn_abort(active));
    cairn_txn_free(active);
    ASSERT_OK(cairn_db_close(db));
}

static void three_txns(cairn_options *o)
{
    o->max_open_txns = 3;
}

Test(bad_input, beginning_past_max_open_txns_is_busy)
{
    cairn_db *db = open_with(three_txns);
    cairn_txn *t[4] = {NULL, NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        t[i] = begin_rw(db);
    ASSERT_STATUS(cairn_txn_begin(db, NULL, &t[3]), CAIRN_BUSY);
    cr_assert_null(t[3]);
    char msg[256];
    cr_assert_gt(cairn_db_errmsg(db, msg, sizeof msg), 0);

    /* a freed transaction gives its slot back */
    cairn_txn_free(t[0]);
    ASSERT_OK(cairn_txn_begin(db, NULL, &t[3]));
    for (int i = 1; i < 4; i++)
        cairn_txn_free(t[i]);
    cr_assert_eq(test_stats(db).open_txns, 0);
    test_close(db);
}

Test(bad_input, a_finished_transaction_frees_its_slot_before_its_handle_is_freed)
{
    /* max_open_txns counts transactions "begun, not yet committed or
     * aborted": a finished handle kept for restart does not hold a slot. */
    cairn_db *db = open_with(three_txns);
    cairn_txn *t[5] = {NULL, NULL, NULL, NULL, NULL};
    for (int i = 0; i < 3; i++)
        t[i] = begin_rw(db);
    ASSERT_OK(cairn_txn_commit(t[0]));
    ASSERT_OK(cairn_txn_abort(t[1]));
    cr_assert_eq(test_stats(db).open_txns, 1);
    ASSERT_OK(cairn_txn_begin(db, NULL, &t[3]));
    ASSERT_OK(cairn_txn_begin(db, NULL, &t[4]));

    /* restarting a finished handle takes a slot like a begin */
    ASSERT_STATUS(cairn_txn_restart(t[0]), CAIRN_BUSY);
    cr_assert_not(cairn_txn_is_active(t[0]));
    ASSERT_OK(cairn_txn_commit(t[2]));
    ASSERT_OK(cairn_txn_restart(t[0]));
    cr_assert_eq(test_stats(db).open_txns, 3);
    for (int i = 0; i < 5; i++)
        cairn_txn_free(t[i]);
    cr_assert_eq(test_stats(db).open_txns, 0);
    test_close(db);
}

/* ---- opening ---------------------------------------------------------------------- */

static bool dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return false;
    bool empty = true;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            empty = false;
    }
    closedir(d);
    return empty;
}

Test(bad_input, a_path_that_is_a_regular_file_is_refused_with_a_message)
{
    char dir[] = "/tmp/cairn-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char file[64];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fputs("not a database", f);
    fclose(f);
    cairn_db *db = (cairn_db *)(uintptr_t)1;
    char err[256];
    memset(err, 0, sizeof err);
    cairn_status st = cairn_db_open(file, NULL, &db, err, sizeof err);
    cr_assert_neq(st, CAIRN_OK);
    cr_assert_null(db);
    cr_assert_neq(err[0], '\0', "errbuf should explain");
    cr_assert_not_null(strstr(err, "plain-file"), "the message names the path: %s", err);
    unlink(file);
    rmdir(dir);
}

Test(bad_input, a_read_only_open_of_a_missing_database_creates_nothing)
{
    char dir[] = "/tmp/cairn-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char missing[64];
    snprintf(missing, sizeof missing, "%s/missing", dir);
    cairn_options o;
    cairn_options_init(&o);
    o.read_only = true;
    cairn_db *db = (cairn_db *)(uintptr_t)1;
    ASSERT_STATUS(cairn_db_open(missing, &o, &db, NULL, 0), CAIRN_NOT_FOUND);
    cr_assert_null(db);
    struct stat sb;
    cr_assert_eq(stat(missing, &sb), -1);
    cr_assert_eq(errno, ENOENT);
    /* an empty directory holds no database either, and stays empty */
    ASSERT_STATUS(cairn_db_open(dir, &o, &db, NULL, 0), CAIRN_NOT_FOUND);
    cr_assert(dir_is_empty(dir), "a read-only open wrote into the directory");
    rmdir(dir);
}

Test(bad_input, a_short_errbuf_gets_a_truncated_terminated_message)
{
    char err[16];
    memset(err, '#', sizeof err);
    cairn_db *db = NULL;
    cairn_options o;
    cairn_options_init(&o);
    o.max_open_txns = 0;
    ASSERT_STATUS(cairn_db_open(NULL, &o, &db, err, 5), CAIRN_INVALID_ARGUMENT);
    cr_assert_leq(strlen(err), 4);
    for (size_t i = 5; i < sizeof err; i++)
        cr_assert_eq(err[i], '#', "byte %zu past errbuf_len was written", i);
}

typedef struct bad_option {
    const char *what;
    void (*set)(cairn_options *);
} bad_option;

static void value_zero(cairn_options *o) { o->max_value_size = 0; }
static void value_over(cairn_options *o) { o->max_value_size = CAIRN_VALUE_MAX_LIMIT + 1; }
static void txns_zero(cairn_options *o) { o->max_open_txns = 0; }
static void txns_over(cairn_options *o) { o->max_open_txns = CAIRN_OPEN_TXNS_MAX_LIMIT + 1; }
static void txn_bytes_over(cairn_options *o) { o->max_txn_bytes = CAIRN_TXN_BYTES_MAX_LIMIT + 1; }
static void durability_bad(cairn_options *o) { o->durability = (cairn_durability)17; }

Test(bad_input, options_outside_their_ranges_are_invalid_arguments)
{
    const bad_option bad[] = {
        {"max_value_size 0", value_zero},
        {"max_value_size over the limit", value_over},
        {"max_open_txns 0", txns_zero},
        {"max_open_txns over the limit", txns_over},
        {"max_txn_bytes over the limit", txn_bytes_over},
        {"unknown durability", durability_bad},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cairn_options opts;
        cairn_options_init(&opts);
        bad[i].set(&opts);
        cairn_db *db = (cairn_db *)(uintptr_t)1;
        char err[256] = "";
        cairn_status st = cairn_db_open(NULL, &opts, &db, err, sizeof err);
        cr_assert_eq(st, CAIRN_INVALID_ARGUMENT, "%s: got %s", bad[i].what,
                     cairn_status_name(st));
        cr_assert_null(db, "%s: *dbp not reset", bad[i].what);
        cr_assert_neq(err[0], '\0', "%s: no message", bad[i].what);
    }
}

static void value_at_limit(cairn_options *o)
{
    o->max_value_size = CAIRN_VALUE_MAX_LIMIT;
    o->max_open_txns = CAIRN_OPEN_TXNS_MAX_LIMIT;
    o->max_txn_bytes = CAIRN_TXN_BYTES_MAX_LIMIT;
}

Test(bad_input, options_at_their_limits_are_accepted)
{
    cairn_db *db = open_with(value_at_limit);
    test_close(db);
}

Test(bad_input, default_options_are_what_the_header_documents)
{
    cairn_options o;
    memset(&o, 0xA5, sizeof o);
    cairn_options_init(&o);
    cr_assert_eq(o.durability, CAIRN_DURABILITY_SYNC);
    cr_assert_eq(o.sync_interval_ms, 10);
    cr_assert_null(o.clock);
    cr_assert_eq(o.max_value_size, 16u * 1024 * 1024);
    cr_assert_eq(o.max_txn_bytes, 64ull * 1024 * 1024);
    cr_assert_eq(o.max_txn_ops, 1000000);
    cr_assert_eq(o.max_open_txns, 1024);
    cr_assert_eq(o.max_retries, 64);
    cr_assert_eq(o.retry_backoff_min_us, 1);
    cr_assert_eq(o.retry_backoff_max_us, 1000);
    cr_assert_eq(o.wal_segment_size, 64ull * 1024 * 1024);
    cr_assert_eq(o.checkpoint_wal_bytes, 64ull * 1024 * 1024);
    cr_assert_not(o.read_only);

    cairn_txn_options t;
    memset(&t, 0xA5, sizeof t);
    cairn_txn_options_init(&t);
    cr_assert_eq(t.mode, CAIRN_TXN_READ_WRITE);
    cr_assert_eq(t.durability, CAIRN_DURABILITY_DEFAULT);
}

/* ---- status strings and messages -------------------------------------------------- */

Test(bad_input, every_status_has_a_distinct_description_and_name)
{
    static const char *const names[CAIRN_STATUS_COUNT] = {
        "CAIRN_OK",           "CAIRN_NOT_FOUND",        "CAIRN_CONFLICT",
        "CAIRN_INVALID_ARGUMENT", "CAIRN_TOO_LARGE",    "CAIRN_NO_MEMORY",
        "CAIRN_IO",           "CAIRN_CORRUPT",          "CAIRN_LOCKED",
        "CAIRN_UNSUPPORTED",  "CAIRN_READ_ONLY",        "CAIRN_TXN_FINISHED",
        "CAIRN_BUSY",         "CAIRN_DONE",             "CAIRN_EXISTS",
        "CAIRN_VERSION_MISMATCH", "CAIRN_INVALID_TRANSITION", "CAIRN_LIMIT",
    };
    for (int i = 0; i < CAIRN_STATUS_COUNT; i++) {
        const char *desc = cairn_strerror((cairn_status)i);
        const char *name = cairn_status_name((cairn_status)i);
        cr_assert_not_null(desc);
        cr_assert_not_null(name);
        cr_assert_neq(desc[0], '\0', "status %d has an empty description", i);
        cr_assert_str_eq(name, names[i]);
        cr_assert_str_neq(desc, "unknown status", "status %d is described as unknown", i);
        for (int j = 0; j < i; j++) {
            cr_assert_str_neq(desc, cairn_strerror((cairn_status)j),
                              "statuses %d and %d share a description", i, j);
            cr_assert_str_neq(name, cairn_status_name((cairn_status)j));
        }
    }
    cr_assert_str_eq(cairn_strerror(CAIRN_CONFLICT), "conflict");
    cr_assert_str_eq(cairn_strerror(CAIRN_INVALID_ARGUMENT), "invalid argument");
}

Test(bad_input, unknown_statuses_get_a_fallback)
{
    const int unknown[] = {CAIRN_STATUS_COUNT, CAIRN_STATUS_COUNT + 1, 1000, -1, INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        cr_assert_str_eq(cairn_strerror((cairn_status)unknown[i]), "unknown status");
        cr_assert_str_eq(cairn_status_name((cairn_status)unknown[i]), "CAIRN_UNKNOWN");
    }
}

Test(bad_input, the_version_string_matches_the_version_macros)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", CAIRN_VERSION_MAJOR, CAIRN_VERSION_MINOR,
             CAIRN_VERSION_PATCH);
    cr_assert_str_eq(cairn_version(), want);
}

Test(bad_input, the_transaction_message_explains_the_last_failure)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = begin_rw(db);
    cr_assert_str_eq(cairn_txn_errmsg(txn), "");
    ASSERT_STATUS(cairn_txn_put(txn, NULL, test_str("v")), CAIRN_INVALID_ARGUMENT);
    cr_assert_neq(cairn_txn_errmsg(txn)[0], '\0');
    cairn_txn_free(txn);
    test_close(db);
}

Test(bad_input, the_database_message_is_empty_until_something_fails)
{
    cairn_db *db = open_with(three_txns);
    char msg[8];
    memset(msg, '#', sizeof msg);
    cr_assert_eq(cairn_db_errmsg(db, msg, sizeof msg), 0);
    cr_assert_str_eq(msg, "");

    cairn_txn *t[4];
    for (int i = 0; i < 3; i++)
        t[i] = begin_rw(db);
    ASSERT_STATUS(cairn_txn_begin(db, NULL, &t[3]), CAIRN_BUSY);

    /* a short buffer gets a truncated, terminated copy and the full length */
    char small[8];
    size_t full = cairn_db_errmsg(db, small, sizeof small);
    cr_assert_gt(full, 0);
    cr_assert_eq(strlen(small), full < sizeof small ? full : sizeof small - 1);
    char big[512];
    cr_assert_eq(cairn_db_errmsg(db, big, sizeof big), full);
    if (full < sizeof big)
        cr_assert_eq(strlen(big), full);

    for (int i = 0; i < 3; i++)
        cairn_txn_free(t[i]);
    test_close(db);
}
