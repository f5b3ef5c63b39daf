/*
 * EventLog: appends and reads in both forms, optimistic and idempotent
 * appends, streaming ranges and the by-type index, chain verification
 * (whole and from a trusted point) and the tampering it must catch, bad
 * input, run isolation, and the chain after reopen, checkpoints and kill -9.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cairn/eventlog.h"
#include "helpers.h"

static cairn_run_id run_a, run_b;

static void setup(void)
{
    run_a = test_run(0xE1, 1);
    run_b = test_run(0xE2, 2);
}

TestSuite(eventlog, .init = setup);

static void append(cairn_db *db, const cairn_run_id *run, const char *type, const char *payload,
                   uint64_t want_seq)
{
    uint64_t seq = 999;
    uint8_t h[CAIRN_EVENT_HASH_SIZE];
    ASSERT_OK(cairn_event_append(db, run, test_str(type), test_str(payload), &seq, h));
    cr_assert_eq(seq, want_seq);
}

static cairn_chain_report verify(cairn_db *db, const cairn_run_id *run)
{
    cairn_chain_report r;
    ASSERT_OK(cairn_event_verify(db, run, &r));
    return r;
}

/* The engine key of event `seq` of `run` (the layout in docs/FORMAT.md). */
static cairn_key event_key(const cairn_run_id *run, uint64_t seq)
{
    cairn_key k;
    ASSERT_OK(cairn_key_init(&k, run, CAIRN_TAG_EVENT));
    ASSERT_OK(cairn_key_append_u8(&k, 0x01));
    ASSERT_OK(cairn_key_append_u64(&k, seq));
    return k;
}

Test(eventlog, appends_number_from_zero_and_chain_their_hashes)
{
    fake_clock clock;
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(&clock, &opts);
    cairn_db *db = test_open(&opts);
    uint64_t len = 7;
    ASSERT_OK(cairn_event_len(db, &run_a, &len));
    cr_assert_eq(len, 0);
    cairn_event ev = {0};
    ASSERT_STATUS(cairn_event_head(db, &run_a, &ev), CAIRN_NOT_FOUND);
    ASSERT_STATUS(cairn_event_read(db, &run_a, 0, &ev), CAIRN_NOT_FOUND);

    uint8_t prev[CAIRN_EVENT_HASH_SIZE];
    cairn_event_genesis(&run_a, prev);
    for (uint64_t i = 0; i < 50; i++) {
        char payload[32];
        snprintf(payload, sizeof payload, "payload %" PRIu64, i);
        uint64_t seq;
        uint8_t h[CAIRN_EVENT_HASH_SIZE];
        ASSERT_OK(cairn_event_append(db, &run_a, test_str(i % 3 ? "tool_call" : "thought"), test_str(payload),
                                     &seq, h));
        cr_assert_eq(seq, i);
        ASSERT_OK(cairn_event_read(db, &run_a, i, &ev));
        cr_assert_eq(ev.seq, i);
        cr_assert(ev.payload.len == strlen(payload) && memcmp(ev.payload.data, payload, ev.payload.len) == 0);
        cr_assert_eq(ev.timestamp_us, FAKE_CLOCK_START_US + (int64_t)i);
        cr_assert(memcmp(ev.prev_hash, prev, sizeof prev) == 0, "event %" PRIu64 " does not chain", i);
        cr_assert(memcmp(ev.hash, h, sizeof h) == 0);
        memcpy(prev, h, sizeof prev);
        cairn_event_free(&ev);
        fake_clock_advance(&clock, 1);
    }
    ASSERT_OK(cairn_event_len(db, &run_a, &len));
    cr_assert_eq(len, 50);
    ASSERT_OK(cairn_event_head(db, &run_a, &ev));
    cr_assert_eq(ev.seq, 49);
    cr_assert(memcmp(ev.hash, prev, sizeof prev) == 0);
    cairn_event_free(&ev);
    cairn_event_free(&ev);
    cairn_chain_report r = verify(db, &run_a);
    cr_assert(r.ok, "%s", r.why);
    cr_assert_eq(r.checked, 50);
    cr_assert_eq(r.len, 50);
    cr_assert(memcmp(r.head_hash, prev, sizeof prev) == 0);
    test_close(db);
}

Test(eventlog, an_expected_length_append_refuses_a_log_that_moved_on)
{
    cairn_db *db = test_open(NULL);
    uint64_t seq = 0;
    ASSERT_OK(cairn_event_append_expect(db, &run_a, 0, test_str("t"), test_str("a"), &seq, NULL));
    cr_assert_eq(seq, 0);
    ASSERT_OK(cairn_event_append_expect(db, &run_a, 1, test_str("t"), test_str("b"), &seq, NULL));
    cr_assert_eq(seq, 1);
    ASSERT_STATUS(cairn_event_append_expect(db, &run_a, 1, test_str("t"), test_str("stale"), &seq, NULL),
                  CAIRN_VERSION_MISMATCH);
    cr_assert_eq(seq, 2, "the actual length comes back");
    char msg[256];
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, "2 events") != NULL, "%s", msg);
    uint64_t len;
    ASSERT_OK(cairn_event_len(db, &run_a, &len));
    cr_assert_eq(len, 2, "nothing was appended");

    /* inside a transaction: the view is the snapshot's */
    cairn_txn *t1 = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &t1));
    ASSERT_OK(cairn_event_append_expect_tx(t1, &run_a, 2, test_str("t"), test_str("c"), &seq, NULL));
    append(db, &run_a, "t", "someone else", 2);
    ASSERT_STATUS(cairn_txn_commit(t1), CAIRN_CONFLICT);
    cairn_txn_free(t1);
    cr_assert(verify(db, &run_a).ok);
    test_close(db);
}

Test(eventlog, a_retried_append_with_the_same_id_appends_nothing)
{
    cairn_db *db = test_open(NULL);
    append(db, &run_a, "x", "before", 0);
    uint64_t s1, s2;
    uint8_t h1[32], h2[32];
    bool appended = false;
    ASSERT_OK(cairn_event_append_once(db, &run_a, test_str("req-42"), test_str("tool_call"),
                                      test_str("first"), &s1, h1, &appended));
    cr_assert(appended);
    cr_assert_eq(s1, 1);
    append(db, &run_a, "x", "between", 2);
    ASSERT_OK(cairn_event_append_once(db, &run_a, test_str("req-42"), test_str("tool_call"),
                                      test_str("retry, other payload"), &s2, h2, &appended));
    cr_assert_not(appended);
    cr_assert_eq(s2, 1, "the retry returns the first number");
    cr_assert(memcmp(h1, h2, 32) == 0);
    uint64_t len;
    ASSERT_OK(cairn_event_len(db, &run_a, &len));
    cr_assert_eq(len, 3);
    ASSERT_OK(cairn_event_append_once(db, &run_a, test_str("req-43"), test_str("tool_call"), test_str("x"),
                                      &s2, NULL, &appended));
    cr_assert(appended);
    cr_assert_eq(s2, 3);
    /* ids are per run */
    ASSERT_OK(cairn_event_append_once(db, &run_b, test_str("req-42"), test_str("tool_call"), test_str("b"),
                                      &s2, NULL, &appended));
    cr_assert(appended);
    cr_assert_eq(s2, 0);
    ASSERT_STATUS(cairn_event_append_once(db, &run_a, cairn_slice_of(NULL, 0), test_str("t"), test_str("p"),
                                          &s2, NULL, &appended),
                  CAIRN_INVALID_ARGUMENT);
    static char longid[CAIRN_EVENT_ID_MAX + 1];
    memset(longid, 'i', sizeof longid);
    ASSERT_STATUS(cairn_event_append_once(db, &run_a, cairn_slice_of(longid, sizeof longid), test_str("t"),
                                          test_str("p"), &s2, NULL, &appended),
                  CAIRN_TOO_LARGE);
    cr_assert(verify(db, &run_a).ok);
    test_close(db);
}

static cairn_txn *begin_ro(cairn_db *db)
{
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, &to, &txn));
    return txn;
}

Test(eventlog, ranges_stream_in_order_and_the_type_index_finds_only_matches)
{
    cairn_db *db = test_open(NULL);
    const char *types[] = {"thought", "tool_call", "tool_result", "tool_call"};
    for (uint64_t i = 0; i < 200; i++)
        append(db, &run_a, types[i % 4], "p", i);
    append(db, &run_b, "other_run_type", "p", 0);
    cairn_txn *txn = begin_ro(db);
    cairn_event_iter *it = NULL;
    cairn_event_view ev;
    ASSERT_OK(cairn_event_iter_range(txn, &run_a, 10, 20, &it));
    uint64_t want = 10;
    cairn_status st;
    while ((st = cairn_event_iter_next(it, &ev)) == CAIRN_OK)
        cr_assert_eq(ev.seq, want++);
    ASSERT_STATUS(st, CAIRN_DONE);
    cr_assert_eq(want, 20);
    cairn_event_iter_free(it);

    ASSERT_OK(cairn_event_iter_range(txn, &run_a, 190, UINT64_MAX, &it));
    want = 190;
    while ((st = cairn_event_iter_next(it, &ev)) == CAIRN_OK)
        cr_assert_eq(ev.seq, want++);
    cr_assert_eq(want, 200);
    cairn_event_iter_free(it);
    ASSERT_OK(cairn_event_iter_range(txn, &run_a, 20, 10, &it));
    ASSERT_STATUS(cairn_event_iter_next(it, &ev), CAIRN_DONE);
    cairn_event_iter_free(it);

    ASSERT_OK(cairn_event_iter_type(txn, &run_a, test_str("tool_call"), 0, &it));
    uint64_t n = 0, last = 0;
    while ((st = cairn_event_iter_next(it, &ev)) == CAIRN_OK) {
        cr_assert(slice_eq_str(ev.type, "tool_call"));
        cr_assert(n == 0 || ev.seq > last);
        last = ev.seq;
        n++;
    }
    cr_assert_eq(n, 100);
    cairn_event_iter_free(it);
    ASSERT_OK(cairn_event_iter_type(txn, &run_a, test_str("thought"), 100, &it));
    n = 0;
    while ((st = cairn_event_iter_next(it, &ev)) == CAIRN_OK) {
        cr_assert_geq(ev.seq, 100);
        n++;
    }
    cr_assert_eq(n, 25);
    cairn_event_iter_free(it);
    ASSERT_OK(cairn_event_iter_type(txn, &run_a, test_str("no_such_type"), 0, &it));
    ASSERT_STATUS(cairn_event_iter_next(it, &ev), CAIRN_DONE);
    cairn_event_iter_free(it);
    ASSERT_STATUS(cairn_event_iter_type(txn, &run_a, cairn_slice_of(NULL, 0), 0, &it), CAIRN_INVALID_ARGUMENT);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    cairn_event_types ty;
    ASSERT_OK(cairn_event_list_types(db, &run_a, &ty));
    cr_assert_eq(ty.n, 3);
    cr_assert(slice_eq_str(ty.types[0], "thought"));
    cr_assert(slice_eq_str(ty.types[1], "tool_call"));
    cr_assert(slice_eq_str(ty.types[2], "tool_result"));
    cairn_event_types_free(&ty);
    ASSERT_OK(cairn_event_list_types(db, &run_b, &ty));
    cr_assert_eq(ty.n, 1);
    cairn_event_types_free(&ty);
    cairn_run_id empty = test_run(0xE3, 3);
    ASSERT_OK(cairn_event_list_types(db, &empty, &ty));
    cr_assert_eq(ty.n, 0);
    cairn_event_types_free(&ty);
    test_close(db);
}

/* Rewrites event `seq`'s stored bytes with byte `at` flipped (engine API). */
static void tamper(cairn_db *db, const cairn_run_id *run, uint64_t seq, size_t at)
{
    cairn_key k = event_key(run, seq);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_slice v;
    ASSERT_OK(cairn_txn_get(txn, &k, &v));
    uint8_t buf[512];
    cr_assert_lt(v.len, sizeof buf);
    memcpy(buf, v.data, v.len);
    cr_assert_lt(at, v.len);
    buf[at] ^= 0x01;
    ASSERT_OK(cairn_txn_put(txn, &k, cairn_slice_of(buf, v.len)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

Test(eventlog, verify_reports_exactly_the_tampered_event)
{
    /* offsets in the stored event (docs/FORMAT.md): timestamp 9..16, type
     * length 17, type from 18, payload after its 4-byte length, prev hash,
     * then the hash in the last 32 bytes */
    const char *type = "tool_call", *payload = "hello";
    size_t tlen = strlen(type), plen = strlen(payload);
    struct {
        const char *what;
        size_t at;
        cairn_chain_problem want;
    } cases[] = {
        {"timestamp", 12, CAIRN_CHAIN_WRONG_HASH},
        {"type", 18 + 2, CAIRN_CHAIN_WRONG_HASH},
        {"payload", 22 + tlen + 1, CAIRN_CHAIN_WRONG_HASH},
        {"hash", 22 + tlen + plen + 32 + 5, CAIRN_CHAIN_WRONG_HASH},
        {"previous hash", 22 + tlen + plen + 3, CAIRN_CHAIN_BROKEN_LINK},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (uint64_t victim = 0; victim < 12; victim += 5) { /* first, middle, last */
            cairn_db *db = test_open(NULL);
            for (uint64_t i = 0; i < 11; i++)
                append(db, &run_a, type, payload, i);
            uint64_t v = victim > 10 ? 10 : victim;
            tamper(db, &run_a, v, cases[c].at);
            cairn_chain_report r = verify(db, &run_a);
            cr_assert_not(r.ok, "%s of event %" PRIu64 " changed, yet the chain verifies", cases[c].what, v);
            cr_assert_eq(r.bad_seq, v, "%s of event %" PRIu64 ": reported event %" PRIu64, cases[c].what, v,
                         r.bad_seq);
            cr_assert_eq(r.problem, cases[c].want, "%s: problem %d (%s)", cases[c].what, (int)r.problem, r.why);
            cr_assert_eq(r.checked, v);
            cr_assert(r.why[0] != '\0');
            test_close(db);
        }
    }
}

Test(eventlog, verify_finds_a_missing_event_and_a_wrong_length)
{
    cairn_db *db = test_open(NULL);
    for (uint64_t i = 0; i < 10; i++)
        append(db, &run_a, "t", "p", i);
    cairn_key k = event_key(&run_a, 4);
    test_delete(db, &k);
    cairn_chain_report r = verify(db, &run_a);
    cr_assert_not(r.ok);
    cr_assert_eq(r.problem, CAIRN_CHAIN_GAP);
    cr_assert_eq(r.bad_seq, 4);
    test_close(db);

    db = test_open(NULL);
    for (uint64_t i = 0; i < 10; i++)
        append(db, &run_a, "t", "p", i);
    k = event_key(&run_a, 9); /* the last one: only the stored length knows */
    test_delete(db, &k);
    r = verify(db, &run_a);
    cr_assert_not(r.ok);
    cr_assert_eq(r.problem, CAIRN_CHAIN_LENGTH);
    cr_assert_eq(r.bad_seq, 9);
    test_close(db);
}

Test(eventlog, an_event_copied_into_another_run_fails_there)
{
    cairn_db *db = test_open(NULL);
    append(db, &run_a, "t", "secret", 0);
    append(db, &run_b, "t", "own", 0);
    cairn_key ka = event_key(&run_a, 0), kb = event_key(&run_b, 0);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_slice v;
    ASSERT_OK(cairn_txn_get(txn, &ka, &v));
    ASSERT_OK(cairn_txn_put(txn, &kb, v));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    cairn_chain_report r = verify(db, &run_b);
    cr_assert_not(r.ok);
    cr_assert_eq(r.bad_seq, 0);
    cr_assert_eq(r.problem, CAIRN_CHAIN_BROKEN_LINK, "%s", r.why);
    cr_assert(verify(db, &run_a).ok);
    test_close(db);
}

Test(eventlog, verification_can_start_from_a_trusted_point)
{
    cairn_db *db = test_open(NULL);
    uint8_t h5[32];
    for (uint64_t i = 0; i < 20; i++) {
        uint64_t s;
        uint8_t h[32];
        ASSERT_OK(cairn_event_append(db, &run_a, test_str("t"), test_str("p"), &s, h));
        if (i == 5)
            memcpy(h5, h, 32);
    }
    cairn_chain_report r;
    ASSERT_OK(cairn_event_verify_from(db, &run_a, 5, h5, &r));
    cr_assert(r.ok, "%s", r.why);
    cr_assert_eq(r.checked, 14);
    uint8_t wrong[32];
    memcpy(wrong, h5, 32);
    wrong[0] ^= 1;
    ASSERT_OK(cairn_event_verify_from(db, &run_a, 5, wrong, &r));
    cr_assert_not(r.ok);
    cr_assert_eq(r.problem, CAIRN_CHAIN_UNTRUSTED);
    ASSERT_OK(cairn_event_verify_from(db, &run_a, 50, h5, &r));
    cr_assert_eq(r.problem, CAIRN_CHAIN_UNTRUSTED);
    /* tampering before the trusted point is outside what it checks; after it is caught */
    tamper(db, &run_a, 12, 12);
    ASSERT_OK(cairn_event_verify_from(db, &run_a, 5, h5, &r));
    cr_assert_not(r.ok);
    cr_assert_eq(r.bad_seq, 12);
    test_close(db);
}

Test(eventlog, bad_input_gets_a_clear_status_and_appends_nothing)
{
    cairn_db *db = test_open(NULL);
    cairn_run_id zero = test_zero_run();
    uint64_t seq;
    ASSERT_STATUS(cairn_event_append(NULL, &run_a, test_str("t"), test_str("p"), &seq, NULL),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_append(db, NULL, test_str("t"), test_str("p"), &seq, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_append(db, &zero, test_str("t"), test_str("p"), &seq, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_append(db, &run_a, cairn_slice_of(NULL, 0), test_str("p"), &seq, NULL),
                  CAIRN_INVALID_ARGUMENT);
    static char longtype[CAIRN_EVENT_TYPE_MAX + 1];
    memset(longtype, 't', sizeof longtype);
    ASSERT_STATUS(cairn_event_append(db, &run_a, cairn_slice_of(longtype, sizeof longtype), test_str("p"), &seq,
                                     NULL),
                  CAIRN_TOO_LARGE);
    ASSERT_OK(cairn_event_append(db, &run_a, cairn_slice_of(longtype, CAIRN_EVENT_TYPE_MAX), test_str("p"), &seq,
                                 NULL));
    ASSERT_STATUS(cairn_event_append(db, &run_a, test_str("t"), cairn_slice_of(NULL, 4), &seq, NULL),
                  CAIRN_INVALID_ARGUMENT);
    cairn_options o;
    cairn_options_init(&o);
    cairn_db *small = NULL;
    o.max_value_size = 256;
    char err[128];
    ASSERT_OK(cairn_db_open(NULL, &o, &small, err, sizeof err));
    static char big[300];
    ASSERT_STATUS(cairn_event_append(small, &run_a, test_str("t"), cairn_slice_of(big, sizeof big), &seq, NULL),
                  CAIRN_TOO_LARGE);
    uint64_t len;
    ASSERT_OK(cairn_event_len(small, &run_a, &len));
    cr_assert_eq(len, 0);
    test_close(small);
    ASSERT_OK(cairn_event_len(db, &run_a, &len));
    cr_assert_eq(len, 1, "only the valid append landed");
    cairn_event ev;
    ASSERT_STATUS(cairn_event_read(db, &run_a, 0, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_len(db, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_verify(db, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_read(db, &zero, 0, &ev), CAIRN_INVALID_ARGUMENT);
    cairn_txn *ro = begin_ro(db);
    ASSERT_STATUS(cairn_event_append_tx(ro, &run_a, test_str("t"), test_str("p"), &seq, NULL), CAIRN_READ_ONLY);
    ASSERT_OK(cairn_txn_commit(ro));
    cairn_txn_free(ro);
    cr_assert(verify(db, &run_a).ok);
    test_close(db);
}

Test(eventlog, runs_keep_separate_logs)
{
    cairn_db *db = test_open(NULL);
    append(db, &run_a, "a", "1", 0);
    append(db, &run_a, "a", "2", 1);
    append(db, &run_b, "b", "1", 0);
    uint64_t la, lb;
    ASSERT_OK(cairn_event_len(db, &run_a, &la));
    ASSERT_OK(cairn_event_len(db, &run_b, &lb));
    cr_assert(la == 2 && lb == 1);
    cairn_event ev;
    ASSERT_STATUS(cairn_event_read(db, &run_b, 1, &ev), CAIRN_NOT_FOUND);
    cr_assert(verify(db, &run_a).ok && verify(db, &run_b).ok);
    test_close(db);
}

Test(eventlog, appends_commit_with_the_rest_of_a_transaction)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    uint64_t seq;
    ASSERT_OK(cairn_event_append_tx(txn, &run_a, test_str("t"), test_str("x"), &seq, NULL));
    ASSERT_OK(cairn_event_append_tx(txn, &run_a, test_str("t"), test_str("y"), &seq, NULL));
    cr_assert_eq(seq, 1, "a transaction sees its own appends");
    cairn_event_view v;
    ASSERT_OK(cairn_event_head_tx(txn, &run_a, &v));
    cr_assert(slice_eq_str(v.payload, "y"));
    ASSERT_OK(cairn_txn_abort(txn));
    uint64_t len;
    ASSERT_OK(cairn_event_len(db, &run_a, &len));
    cr_assert_eq(len, 0);
    ASSERT_OK(cairn_txn_restart(txn));
    ASSERT_OK(cairn_event_append_tx(txn, &run_a, test_str("t"), test_str("x"), &seq, NULL));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    ASSERT_OK(cairn_event_len(db, &run_a, &len));
    cr_assert_eq(len, 1);
    test_close(db);
}

Test(eventlog, the_chain_verifies_after_reopen_and_checkpoints)
{
    char base[64], path[96];
    snprintf(base, sizeof base, "/tmp/cairn-events-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(path, sizeof path, "%s/db", base);
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_ASYNC;
    cairn_db *db = NULL;
    char err[256];
    ASSERT_OK(cairn_db_open(path, &o, &db, err, sizeof err));
    for (uint64_t i = 0; i < 300; i++)
        append(db, &run_a, i % 2 ? "x" : "y", "payload", i);
    ASSERT_OK(cairn_db_checkpoint(db));
    for (uint64_t i = 300; i < 400; i++)
        append(db, &run_a, "z", "after the checkpoint", i);
    ASSERT_OK(cairn_db_close(db));
    ASSERT_OK(cairn_db_open(path, &o, &db, err, sizeof err));
    cairn_chain_report r = verify(db, &run_a);
    cr_assert(r.ok, "%s at %" PRIu64, r.why, r.bad_seq);
    cr_assert_eq(r.checked, 400);
    append(db, &run_a, "z", "continued", 400);
    ASSERT_OK(cairn_db_checkpoint(db));
    ASSERT_OK(cairn_db_close(db));
    ASSERT_OK(cairn_db_open(path, &o, &db, err, sizeof err));
    r = verify(db, &run_a);
    cr_assert(r.ok && r.checked == 401);
    ASSERT_OK(cairn_db_close(db));
    test_rm_tree(base);
}

/* kill -9 during appends: the chain verifies and nothing acknowledged is gone. */
Test(eventlog, the_chain_verifies_after_kill_9, .timeout = 600)
{
    char base[64], path[96];
    snprintf(base, sizeof base, "/tmp/cairn-events-kill-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(path, sizeof path, "%s/db", base);
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_SYNC;
    o.wal_segment_size = 1024 * 1024;
    o.checkpoint_wal_bytes = 128 * 1024;
    const char *env = getenv("CAIRN_CRASH_POINTS");
    unsigned kills = env ? (unsigned)strtoul(env, NULL, 10) : 60;
    uint64_t rng = 0xE7E7u;
    int64_t acked = -1;
    for (unsigned round = 0; round < (kills ? kills : 1); round++) {
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            cairn_db *cdb = NULL;
            char cerr[256];
            if (cairn_db_open(path, &o, &cdb, cerr, sizeof cerr) != CAIRN_OK)
                _exit(10);
            for (;;) {
                uint64_t seq;
                if (cairn_event_append(cdb, &run_a, test_str("step"), test_str("payload of a step"), &seq, NULL) !=
                    CAIRN_OK)
                    _exit(11);
                if (write(fds[1], &seq, sizeof seq) != (ssize_t)sizeof seq)
                    _exit(12);
            }
        }
        close(fds[1]);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned want = 1 + (unsigned)((rng >> 33) % 40);
        for (unsigned i = 0; i < want; i++) {
            uint64_t seq;
            if (read(fds[0], &seq, sizeof seq) != (ssize_t)sizeof seq)
                break;
            acked = (int64_t)seq;
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        close(fds[0]);
        cr_assert(WIFSIGNALED(status), "round %u: the child exited by itself (%d)", round, status);
        cairn_db *db = NULL;
        char err[256];
        ASSERT_OK(cairn_db_open(path, &o, &db, err, sizeof err));
        cairn_chain_report r = verify(db, &run_a);
        cr_assert(r.ok, "round %u: %s at %" PRIu64, round, r.why, r.bad_seq);
        cr_assert_gt((int64_t)r.len, acked, "round %u: event %" PRId64 " was acknowledged, the log has %" PRIu64,
                     round, acked, r.len);
        ASSERT_OK(cairn_db_close(db));
    }
    test_rm_tree(base);
}

/* ---- damaged records, limits and the _tx forms' own checks ------------------- */

/* Puts `value` under [run][0x02][rest] in one transaction. */
static void put_raw(cairn_db *db, const cairn_run_id *run, const uint8_t *rest, size_t len,
                    const void *value, size_t vlen)
{
    cairn_key k = test_key_bytes(run, CAIRN_TAG_EVENT, rest, len);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_txn_put(txn, &k, cairn_slice_of(value, vlen)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

Test(eventlog, free_functions_accept_null)
{
    cairn_event_free(NULL);
    cairn_event_iter_free(NULL);
    cairn_event_types_free(NULL);
    ASSERT_STATUS(cairn_event_iter_next(NULL, NULL), CAIRN_INVALID_ARGUMENT);
}

Test(eventlog, a_malformed_length_record_or_full_log_stops_appends)
{
    cairn_db *db = test_open(NULL);
    append(db, &run_a, "t", "p", 0);
    const uint8_t meta[] = {0x00};
    uint64_t seq, len;
    /* a length record of the wrong size */
    put_raw(db, &run_a, meta, sizeof meta, "short", 5);
    ASSERT_STATUS(cairn_event_append(db, &run_a, test_str("t"), test_str("p"), &seq, NULL), CAIRN_CORRUPT);
    char msg[256];
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, "length record is 5 bytes") != NULL, "%s", msg);
    ASSERT_STATUS(cairn_event_len(db, &run_a, &len), CAIRN_CORRUPT);
    /* a log at the largest length takes no further event */
    uint8_t full[40] = {0};
    memset(full, 0xFF, 8);
    put_raw(db, &run_a, meta, sizeof meta, full, sizeof full);
    ASSERT_STATUS(cairn_event_append(db, &run_a, test_str("t"), test_str("p"), &seq, NULL), CAIRN_LIMIT);
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, "full") != NULL, "%s", msg);
    test_close(db);
}

Test(eventlog, malformed_stored_events_are_corrupt_to_readers_and_iterators)
{
    cairn_db *db = test_open(NULL);
    append(db, &run_a, "t", "p", 0);
    append(db, &run_a, "t", "q", 1);
    cairn_key k0 = event_key(&run_a, 0);
    cairn_txn *txn = begin_ro(db);
    cairn_slice v;
    ASSERT_OK(cairn_txn_get(txn, &k0, &v));
    uint8_t good[128];
    cr_assert_lt(v.len, sizeof good);
    size_t n = v.len;
    memcpy(good, v.data, n);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    /* event 0's bytes with a type length past the end, then with a payload
     * length that disagrees with the size */
    uint8_t bad[128];
    memcpy(bad, good, n);
    bad[17] = 200;
    const uint8_t ev0[] = {0x01, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int round = 0; round < 2; round++) {
        put_raw(db, &run_a, ev0, sizeof ev0, bad, n);
        cairn_event ev;
        ASSERT_STATUS(cairn_event_read(db, &run_a, 0, &ev), CAIRN_CORRUPT);
        char msg[256];
        cairn_db_errmsg(db, msg, sizeof msg);
        cr_assert(strstr(msg, "stored event 0 is malformed") != NULL, "%s", msg);
        txn = begin_ro(db);
        cairn_event_iter *it = NULL;
        cairn_event_view view;
        ASSERT_OK(cairn_event_iter_range(txn, &run_a, 0, UINT64_MAX, &it));
        ASSERT_STATUS(cairn_event_iter_next(it, &view), CAIRN_CORRUPT);
        cr_assert(strstr(cairn_txn_errmsg(txn), "is malformed") != NULL);
        cairn_event_iter_free(it);
        ASSERT_OK(cairn_event_iter_type(txn, &run_a, test_str("t"), 0, &it));
        ASSERT_STATUS(cairn_event_iter_next(it, &view), CAIRN_CORRUPT);
        cairn_event_iter_free(it);
        ASSERT_OK(cairn_txn_commit(txn));
        cairn_txn_free(txn);
        cairn_chain_report r = verify(db, &run_a);
        cr_assert(!r.ok);
        cr_assert_eq(r.problem, CAIRN_CHAIN_MALFORMED);
        cr_assert_eq(r.bad_seq, 0);
        memcpy(bad, good, n);
        bad[18 + 1 + 3] ^= 0x10; /* the payload length of a 1-byte type */
    }
    put_raw(db, &run_a, ev0, sizeof ev0, good, n);
    cr_assert(verify(db, &run_a).ok);
    test_close(db);
}

Test(eventlog, a_malformed_type_index_key_or_id_record_is_corrupt)
{
    cairn_db *db = test_open(NULL);
    append(db, &run_a, "t", "p", 0);
    /* a by-type key whose type field is empty */
    const uint8_t no_type[] = {0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    put_raw(db, &run_a, no_type, sizeof no_type, NULL, 0);
    cairn_event_types types;
    ASSERT_STATUS(cairn_event_list_types(db, &run_a, &types), CAIRN_CORRUPT);
    char msg[256];
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, "malformed by-type index key") != NULL, "%s", msg);
    cr_assert_eq(types.n, 0);

    /* an idempotency record of the wrong size */
    const uint8_t id_rec[] = {0x04, 0, 2, 'i', 'd'};
    put_raw(db, &run_a, id_rec, sizeof id_rec, "x", 1);
    uint64_t seq;
    bool appended = true;
    ASSERT_STATUS(cairn_event_append_once(db, &run_a, test_str("id"), test_str("t"), test_str("p"), &seq,
                                          NULL, &appended),
                  CAIRN_CORRUPT);
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, "record of this event id is malformed") != NULL, "%s", msg);
    test_close(db);
}

Test(eventlog, appends_past_max_txn_ops_fail_whole)
{
    /* an append writes the event, the length record and the by-type entry;
     * an idempotent one the id record as well */
    for (uint32_t ops = 1; ops <= 4; ops++) {
        cairn_options o;
        cairn_options_init(&o);
        o.max_txn_ops = ops;
        cairn_db *db = test_open(&o);
        uint64_t seq, len;
        bool appended = false;
        cairn_status st = cairn_event_append(db, &run_a, test_str("t"), test_str("p"), &seq, NULL);
        cr_assert_eq(st, ops >= 3 ? CAIRN_OK : CAIRN_TOO_LARGE, "ops %u: %s", ops, cairn_status_name(st));
        st = cairn_event_append_once(db, &run_b, test_str("id"), test_str("t"), test_str("p"), &seq, NULL,
                                     &appended);
        cr_assert_eq(st, ops >= 4 ? CAIRN_OK : CAIRN_TOO_LARGE, "once, ops %u: %s", ops,
                     cairn_status_name(st));
        ASSERT_OK(cairn_event_len(db, &run_b, &len));
        cr_assert_eq(len, ops >= 4 ? 1u : 0u);
        cr_assert(verify(db, &run_a).ok);
        cr_assert(verify(db, &run_b).ok);
        test_close(db);
    }
}

Test(eventlog, a_large_event_round_trips)
{
    cairn_db *db = test_open(NULL);
    static char payload[2000];
    memset(payload, 'x', sizeof payload);
    uint64_t seq;
    ASSERT_OK(cairn_event_append(db, &run_a, test_str("big"), cairn_slice_of(payload, sizeof payload), &seq,
                                 NULL));
    cairn_event ev;
    ASSERT_OK(cairn_event_read(db, &run_a, 0, &ev));
    cr_assert_eq(ev.payload.len, sizeof payload);
    cr_assert(bytes_eq(ev.payload.data, payload, sizeof payload));
    cairn_event_free(&ev);
    cr_assert(verify(db, &run_a).ok);
    test_close(db);
}

Test(eventlog, tx_forms_check_their_own_arguments)
{
    cairn_db *db = test_open(NULL);
    append(db, &run_a, "t", "p", 0);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    uint64_t seq, len;
    bool appended;
    uint8_t h[CAIRN_EVENT_HASH_SIZE] = {0};
    cairn_event_view view;
    cairn_event_iter *it = NULL;
    cairn_event_types types;
    cairn_chain_report rep;
    ASSERT_STATUS(cairn_event_append_once_tx(txn, NULL, test_str("id"), test_str("t"), test_str("p"), &seq,
                                             NULL, &appended),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_append_once_tx(txn, &run_a, cairn_slice_of(NULL, 3), test_str("t"),
                                             test_str("p"), &seq, NULL, &appended),
                  CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "event_id data is NULL") != NULL);
    ASSERT_STATUS(cairn_event_append_once_tx(txn, &run_a, test_str("id"), cairn_slice_of(NULL, 0),
                                             test_str("p"), &seq, NULL, &appended),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_append_tx(txn, &run_a, cairn_slice_of(NULL, 2), test_str("p"), &seq, NULL),
                  CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "type data is NULL") != NULL);
    ASSERT_STATUS(cairn_event_read_tx(txn, &run_a, 0, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_len_tx(txn, NULL, &len), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_len_tx(txn, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_head_tx(txn, NULL, &view), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_head_tx(txn, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_iter_range(txn, NULL, 0, 1, &it), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_iter_range(txn, &run_a, 0, 1, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_iter_type(txn, &run_a, test_str("t"), 0, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_list_types_tx(txn, NULL, &types), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_list_types_tx(txn, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_verify_tx(txn, NULL, &rep), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_verify_tx(txn, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_verify_from_tx(txn, NULL, 0, h, &rep), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_verify_from_tx(txn, &run_a, 0, NULL, &rep), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "trusted_hash is NULL") != NULL);
    ASSERT_STATUS(cairn_event_verify_from_tx(txn, &run_a, 0, h, NULL), CAIRN_INVALID_ARGUMENT);
    /* a range that ends before it starts is empty */
    ASSERT_OK(cairn_event_iter_range(txn, &run_a, 1, 0, &it));
    ASSERT_STATUS(cairn_event_iter_next(it, &view), CAIRN_DONE);
    cairn_event_iter_free(it);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    ASSERT_STATUS(cairn_event_list_types(db, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    cairn_chain_report r;
    ASSERT_STATUS(cairn_event_verify_from(db, &run_a, 0, NULL, &r), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_event_verify_from(db, &run_a, 0, h, NULL), CAIRN_INVALID_ARGUMENT);
    test_close(db);
}
