/*
 * StateCell: every function in both forms, versions and updated_at on the
 * fake clock, CAS mismatches, transitions (written, left alone, aborted,
 * retried after a conflict), transition_or_init, lists with prefixes and
 * cursors, bad input, run isolation, the stored bytes, atomicity with other
 * work in one transaction, and versions surviving reopen.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static cairn_run_id run_a, run_b;

static void setup(void)
{
    run_a = test_run(0xA1, 1);
    run_b = test_run(0xB2, 2);
}

TestSuite(statecell, .init = setup);

#define NOSLICE cairn_slice_of(NULL, 0)

static cairn_db *open_clocked(fake_clock *clock)
{
    cairn_options opts;
    cairn_options_init(&opts);
    fake_clock_install(clock, &opts);
    return test_open(&opts);
}

/* Asserts cell `name` of `run` holds `want` at `version` (want NULL: absent). */
static void expect_cell(cairn_db *db, const cairn_run_id *run, const char *name, const char *want,
                        uint64_t version)
{
    cairn_cell c;
    memset(&c, 0xEE, sizeof c);
    cairn_status st = cairn_cell_read(db, run, test_str(name), &c);
    if (want == NULL) {
        ASSERT_STATUS(st, CAIRN_NOT_FOUND);
        cr_assert_null(c.value.data);
        cr_assert_eq(c.version, 0);
        return;
    }
    ASSERT_OK(st);
    cr_assert(c.value.len == strlen(want) && bytes_eq(c.value.data, want, c.value.len),
              "%s: got \"%.*s\", want \"%s\"", name, (int)c.value.len, (const char *)c.value.data, want);
    cr_assert_eq(c.version, version, "%s: version %llu, want %llu", name,
                 (unsigned long long)c.version, (unsigned long long)version);
    cairn_bytes_free(&c.value);
    cr_assert_null(c.value.data);
}

static int64_t updated_at(cairn_db *db, const cairn_run_id *run, const char *name)
{
    cairn_cell c;
    ASSERT_OK(cairn_cell_read(db, run, test_str(name), &c));
    cairn_bytes_free(&c.value);
    return c.updated_at_us;
}

static void errmsg_has(cairn_db *db, const char *needle)
{
    char msg[512];
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, needle) != NULL, "message \"%s\" lacks \"%s\"", msg, needle);
}

/* ---- transition functions --------------------------------------------- */

/* Parses a decimal counter ("" is 0). */
static uint64_t counter_of(cairn_slice s)
{
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++)
        v = v * 10 + (uint64_t)(((const uint8_t *)s.data)[i] - '0');
    return v;
}

static cairn_status give_text(cairn_bytes *out, const char *text)
{
    size_t n = strlen(text);
    out->data = malloc(n ? n : 1);
    if (out->data == NULL)
        return CAIRN_NO_MEMORY;
    memcpy(out->data, text, n);
    out->len = n;
    return CAIRN_OK;
}

/* Adds one to a decimal counter. */
static cairn_status increment(void *ctx, cairn_slice current, cairn_bytes *nv)
{
    (void)ctx;
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)(counter_of(current) + 1));
    return give_text(nv, buf);
}

/* What a scripted transition does, and what it saw. */
typedef struct script {
    cairn_status answer;     /* what to answer */
    const char *write;       /* the new value when answering CAIRN_OK */
    bool allocate_anyway;    /* set new_value even when not answering OK */
    int runs;                /* how many times it ran */
    char seen[64];           /* the current value of its last run */
    cairn_db *interfere;     /* on the first run, set the cell through this */
} script;

static cairn_status scripted(void *ctx, cairn_slice current, cairn_bytes *nv)
{
    script *s = ctx;
    s->runs++;
    cr_assert_null(nv->data, "new_value starts empty");
    cr_assert_eq(nv->len, 0);
    snprintf(s->seen, sizeof s->seen, "%.*s", (int)current.len, (const char *)current.data);
    if (s->interfere && s->runs == 1) {
        /* deliberately impure: a concurrent write that makes this attempt
         * conflict (the same thread; the transition's transaction is open) */
        ASSERT_OK(cairn_cell_set(s->interfere, &run_a, test_str("c"), test_str("41"), NULL));
    }
    if (s->answer == CAIRN_OK)
        return s->write ? give_text(nv, s->write) : increment(NULL, current, nv);
    if (s->allocate_anyway)
        give_text(nv, "never stored");
    return s->answer;
}

/* ---- basic functions ---------------------------------------------------- */

Test(statecell, init_creates_version_one_and_refuses_an_existing_cell)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    expect_cell(db, &run_a, "c", NULL, 0);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("hello")));
    expect_cell(db, &run_a, "c", "hello", 1);
    cr_assert_eq(updated_at(db, &run_a, "c"), FAKE_CLOCK_START_US);

    fake_clock_advance(&clock, 5);
    ASSERT_STATUS(cairn_cell_init(db, &run_a, test_str("c"), test_str("again")), CAIRN_EXISTS);
    errmsg_has(db, "already exists");
    expect_cell(db, &run_a, "c", "hello", 1);
    cr_assert_eq(updated_at(db, &run_a, "c"), FAKE_CLOCK_START_US, "a refused init writes nothing");
    test_close(db);
}

Test(statecell, empty_values_and_binary_names_round_trip)
{
    cairn_db *db = test_open(NULL);
    const uint8_t name[] = {0, 0xFF, 3, 0};
    const uint8_t val[] = {0, 1, 0};
    ASSERT_OK(cairn_cell_init(db, &run_a, cairn_slice_of(name, sizeof name), cairn_slice_of(val, sizeof val)));
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("empty"), NOSLICE));
    cairn_cell c;
    ASSERT_OK(cairn_cell_read(db, &run_a, cairn_slice_of(name, sizeof name), &c));
    cr_assert(c.value.len == 3 && bytes_eq(c.value.data, val, 3));
    cairn_bytes_free(&c.value);
    ASSERT_OK(cairn_cell_read(db, &run_a, test_str("empty"), &c));
    cr_assert_eq(c.value.len, 0);
    cr_assert_not_null(c.value.data, "an empty value is still a value");
    cr_assert_eq(c.version, 1);
    cairn_bytes_free(&c.value);
    test_close(db);
}

Test(statecell, set_creates_at_version_one_then_bumps_and_stamps_the_clock)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    uint64_t v = 0;
    ASSERT_OK(cairn_cell_set(db, &run_a, test_str("c"), test_str("a"), &v));
    cr_assert_eq(v, 1);
    for (uint64_t want = 2; want <= 5; want++) {
        fake_clock_advance(&clock, 1000);
        ASSERT_OK(cairn_cell_set(db, &run_a, test_str("c"), test_str("b"), &v));
        cr_assert_eq(v, want);
        cr_assert_eq(updated_at(db, &run_a, "c"), FAKE_CLOCK_START_US + (int64_t)(want - 1) * 1000);
    }
    ASSERT_OK(cairn_cell_set(db, &run_a, test_str("c"), test_str("last"), NULL));
    expect_cell(db, &run_a, "c", "last", 6);
    test_close(db);
}

Test(statecell, cas_writes_only_at_the_expected_version_and_reports_the_actual_one)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    uint64_t v = 99;
    ASSERT_STATUS(cairn_cell_cas(db, &run_a, test_str("c"), 1, test_str("x"), &v), CAIRN_NOT_FOUND);
    cr_assert_eq(v, 0, "an absent cell reports version 0");
    expect_cell(db, &run_a, "c", NULL, 0);

    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("one")));
    fake_clock_advance(&clock, 7);
    ASSERT_OK(cairn_cell_cas(db, &run_a, test_str("c"), 1, test_str("two"), &v));
    cr_assert_eq(v, 2);
    cr_assert_eq(updated_at(db, &run_a, "c"), FAKE_CLOCK_START_US + 7);

    v = 0;
    ASSERT_STATUS(cairn_cell_cas(db, &run_a, test_str("c"), 1, test_str("stale"), &v),
                  CAIRN_VERSION_MISMATCH);
    cr_assert_eq(v, 2, "the mismatch reports the version the cell is at");
    errmsg_has(db, "expected version 1, the cell is at version 2");
    ASSERT_STATUS(cairn_cell_cas(db, &run_a, test_str("c"), 3, test_str("future"), NULL),
                  CAIRN_VERSION_MISMATCH);
    expect_cell(db, &run_a, "c", "two", 2);

    ASSERT_STATUS(cairn_cell_cas(db, &run_a, test_str("c"), 0, test_str("zero"), &v),
                  CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "versions start at 1");
    ASSERT_OK(cairn_cell_cas(db, &run_a, test_str("c"), 2, test_str("three"), NULL));
    expect_cell(db, &run_a, "c", "three", 3);
    test_close(db);
}

Test(statecell, delete_and_exists_report_presence_and_a_new_cell_restarts_at_one)
{
    cairn_db *db = test_open(NULL);
    bool exists = true, existed = true;
    ASSERT_OK(cairn_cell_exists(db, &run_a, test_str("c"), &exists));
    cr_assert_not(exists);
    ASSERT_OK(cairn_cell_delete(db, &run_a, test_str("c"), &existed));
    cr_assert_not(existed, "deleting an absent cell reports it did not exist");

    ASSERT_OK(cairn_cell_set(db, &run_a, test_str("c"), test_str("v"), NULL));
    ASSERT_OK(cairn_cell_set(db, &run_a, test_str("c"), test_str("v"), NULL));
    ASSERT_OK(cairn_cell_exists(db, &run_a, test_str("c"), &exists));
    cr_assert(exists);
    ASSERT_OK(cairn_cell_delete(db, &run_a, test_str("c"), &existed));
    cr_assert(existed);
    ASSERT_OK(cairn_cell_exists(db, &run_a, test_str("c"), &exists));
    cr_assert_not(exists);
    expect_cell(db, &run_a, "c", NULL, 0);
    ASSERT_OK(cairn_cell_delete(db, &run_a, test_str("c"), NULL));

    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("new")));
    expect_cell(db, &run_a, "c", "new", 1);
    test_close(db);
}

/* ---- transitions ---------------------------------------------------------- */

Test(statecell, transition_writes_the_functions_value_at_the_next_version)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("7")));
    fake_clock_advance(&clock, 250);
    uint64_t v = 0;
    cairn_status fst = CAIRN_CORRUPT;
    ASSERT_OK(cairn_cell_transition(db, &run_a, test_str("c"), increment, NULL, &v, &fst));
    cr_assert_eq(v, 2);
    ASSERT_STATUS(fst, CAIRN_OK);
    expect_cell(db, &run_a, "c", "8", 2);
    cr_assert_eq(updated_at(db, &run_a, "c"), FAKE_CLOCK_START_US + 250);

    script s = {.answer = CAIRN_OK, .write = ""};
    ASSERT_OK(cairn_cell_transition(db, &run_a, test_str("c"), scripted, &s, &v, NULL));
    cr_assert_eq(s.runs, 1);
    cr_assert_str_eq(s.seen, "8");
    expect_cell(db, &run_a, "c", "", 3);
    test_close(db);
}

Test(statecell, transition_answering_done_leaves_the_cell_and_its_time_alone)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("same")));
    fake_clock_advance(&clock, 99);
    script s = {.answer = CAIRN_DONE, .allocate_anyway = true};
    uint64_t v = 0;
    cairn_status fst = CAIRN_OK;
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, test_str("c"), scripted, &s, &v, &fst), CAIRN_DONE);
    ASSERT_STATUS(fst, CAIRN_DONE);
    cr_assert_eq(v, 1, "DONE reports the unchanged version");
    cr_assert_eq(s.runs, 1);
    expect_cell(db, &run_a, "c", "same", 1);
    cr_assert_eq(updated_at(db, &run_a, "c"), FAKE_CLOCK_START_US);
    test_close(db);
}

Test(statecell, transition_failing_in_the_function_returns_its_status_and_writes_nothing)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("keep")));
    script s = {.answer = CAIRN_INVALID_TRANSITION, .allocate_anyway = true};
    uint64_t v = 1234;
    cairn_status fst = CAIRN_OK;
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, test_str("c"), scripted, &s, &v, &fst),
                  CAIRN_INVALID_TRANSITION);
    ASSERT_STATUS(fst, CAIRN_INVALID_TRANSITION);
    cr_assert_eq(v, 1234, "a failure leaves *versionp alone");
    errmsg_has(db, "the transition function answered CAIRN_INVALID_TRANSITION");
    expect_cell(db, &run_a, "c", "keep", 1);

    /* a function answering CAIRN_CONFLICT is not mistaken for a conflict */
    script c = {.answer = CAIRN_CONFLICT};
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, test_str("c"), scripted, &c, &v, &fst),
                  CAIRN_CONFLICT);
    ASSERT_STATUS(fst, CAIRN_CONFLICT);
    cr_assert_eq(c.runs, 1, "ran %d times", c.runs);
    cr_assert_eq(test_stats(db).conflicts, 0);
    expect_cell(db, &run_a, "c", "keep", 1);
    test_close(db);
}

Test(statecell, transition_of_an_absent_cell_is_not_found_without_running_the_function)
{
    cairn_db *db = test_open(NULL);
    script s = {.answer = CAIRN_OK};
    cairn_status fst = CAIRN_CORRUPT;
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, test_str("c"), scripted, &s, NULL, &fst),
                  CAIRN_NOT_FOUND);
    ASSERT_STATUS(fst, CAIRN_OK);
    cr_assert_eq(s.runs, 0);
    expect_cell(db, &run_a, "c", NULL, 0);
    test_close(db);
}

Test(statecell, transition_runs_the_function_again_after_a_conflict)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("1")));
    script s = {.answer = CAIRN_OK, .interfere = db};
    uint64_t v = 0;
    ASSERT_OK(cairn_cell_transition(db, &run_a, test_str("c"), scripted, &s, &v, NULL));
    cr_assert_eq(s.runs, 2, "ran %d times", s.runs);
    cr_assert_str_eq(s.seen, "41", "the second run saw the concurrent write");
    cr_assert_eq(v, 3);
    expect_cell(db, &run_a, "c", "42", 3);
    cr_assert_eq(test_stats(db).conflicts, 1);
    test_close(db);
}

Test(statecell, transition_or_init_creates_an_absent_cell_from_the_initial_value)
{
    cairn_db *db = test_open(NULL);
    uint64_t v = 0;
    cairn_status fst = CAIRN_CORRUPT;
    ASSERT_OK(cairn_cell_transition_or_init(db, &run_a, test_str("n"), test_str("0"), increment, NULL,
                                            &v, &fst));
    cr_assert_eq(v, 1);
    ASSERT_STATUS(fst, CAIRN_OK);
    expect_cell(db, &run_a, "n", "1", 1);
    ASSERT_OK(cairn_cell_transition_or_init(db, &run_a, test_str("n"), test_str("100"), increment, NULL,
                                            &v, NULL));
    cr_assert_eq(v, 2);
    expect_cell(db, &run_a, "n", "2", 2);

    script s = {.answer = CAIRN_DONE};
    v = 77;
    ASSERT_STATUS(cairn_cell_transition_or_init(db, &run_a, test_str("m"), test_str("init"), scripted,
                                                &s, &v, &fst),
                  CAIRN_DONE);
    cr_assert_str_eq(s.seen, "init");
    cr_assert_eq(v, 0, "DONE on an absent cell leaves it absent");
    expect_cell(db, &run_a, "m", NULL, 0);

    script e = {.answer = CAIRN_IO, .allocate_anyway = true};
    ASSERT_STATUS(cairn_cell_transition_or_init(db, &run_a, test_str("m"), test_str("init"), scripted,
                                                &e, &v, &fst),
                  CAIRN_IO);
    expect_cell(db, &run_a, "m", NULL, 0);
    test_close(db);
}

static cairn_status null_with_length(void *ctx, cairn_slice current, cairn_bytes *nv)
{
    (void)ctx;
    (void)current;
    nv->len = 4;
    return CAIRN_OK;
}

static cairn_status too_big(void *ctx, cairn_slice current, cairn_bytes *nv)
{
    (void)current;
    size_t n = *(size_t *)ctx;
    nv->data = calloc(1, n);
    nv->len = nv->data ? n : 0;
    return CAIRN_OK;
}

Test(statecell, a_bad_value_from_the_function_is_refused_and_writes_nothing)
{
    cairn_options opts;
    cairn_options_init(&opts);
    opts.max_value_size = 64;
    cairn_db *db = test_open(&opts);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("v")));
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, test_str("c"), null_with_length, NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "NULL");
    size_t n = 64 - CAIRN_CELL_HEADER_SIZE + 1;
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, test_str("c"), too_big, &n, NULL, NULL),
                  CAIRN_TOO_LARGE);
    errmsg_has(db, "cell limit of 48");
    expect_cell(db, &run_a, "c", "v", 1);
    n--;
    ASSERT_OK(cairn_cell_transition(db, &run_a, test_str("c"), too_big, &n, NULL, NULL));
    test_close(db);
}

/* ---- listing -------------------------------------------------------------- */

Test(statecell, lists_are_sorted_filtered_by_prefix_and_resume_from_a_cursor)
{
    cairn_db *db = test_open(NULL);
    const char *names[] = {"task/3", "task/1", "plan", "task/2", "tas", "z"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ASSERT_OK(cairn_cell_set(db, &run_a, test_str(names[i]), test_str("v"), NULL));
    ASSERT_OK(cairn_kv_put(db, &run_a, test_str("task/kv"), test_str("not a cell")));

    cairn_cell_list l;
    ASSERT_OK(cairn_cell_list_names(db, &run_a, NOSLICE, NOSLICE, 100, &l));
    const char *all[] = {"plan", "tas", "task/1", "task/2", "task/3", "z"};
    cr_assert_eq(l.n, 6);
    cr_assert_not(l.more);
    for (size_t i = 0; i < l.n; i++)
        ASSERT_SLICE_STR(l.names[i], all[i]);
    ASSERT_SLICE_STR(l.cursor, "z");
    cairn_cell_list_free(&l);
    cr_assert_null(l.names);
    cairn_cell_list_free(&l);

    /* pages of two under a prefix */
    const char *want[] = {"task/1", "task/2", "task/3"};
    size_t got = 0;
    cairn_bytes cursor = {0};
    for (int page = 0; page < 3; page++) {
        ASSERT_OK(cairn_cell_list_names(db, &run_a, test_str("task/"), cairn_bytes_slice(&cursor), 2, &l));
        for (size_t i = 0; i < l.n; i++)
            ASSERT_SLICE_STR(l.names[i], want[got++]);
        bool more = l.more;
        cairn_bytes_free(&cursor);
        if (l.n) {
            cursor.data = malloc(l.cursor.len);
            memcpy(cursor.data, l.cursor.data, l.cursor.len);
            cursor.len = l.cursor.len;
        }
        cr_assert_eq(more, page == 0, "page %d: more=%d", page, more);
        cairn_cell_list_free(&l);
        if (!more)
            break;
    }
    cairn_bytes_free(&cursor);
    cr_assert_eq(got, 3);

    ASSERT_OK(cairn_cell_list_names(db, &run_a, test_str("nothing"), NOSLICE, 5, &l));
    cr_assert_eq(l.n, 0);
    cr_assert_not(l.more);
    cr_assert_eq(l.cursor.len, 0);
    cairn_cell_list_free(&l);
    test_close(db);
}

/* ---- the _tx forms -------------------------------------------------------- */

Test(statecell, tx_forms_see_their_own_writes_and_commit_or_abort_with_other_work)
{
    cairn_db *db = test_open(NULL);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_cell_init_tx(txn, &run_a, test_str("c"), test_str("1")));
    ASSERT_STATUS(cairn_cell_init_tx(txn, &run_a, test_str("c"), test_str("1")), CAIRN_EXISTS);
    cr_assert(strstr(cairn_txn_errmsg(txn), "already exists") != NULL);
    uint64_t v = 0;
    ASSERT_OK(cairn_cell_cas_tx(txn, &run_a, test_str("c"), 1, test_str("2"), &v));
    cr_assert_eq(v, 2);
    ASSERT_OK(cairn_cell_set_tx(txn, &run_a, test_str("c"), test_str("3"), &v));
    cr_assert_eq(v, 3);
    script s = {.answer = CAIRN_OK};
    cairn_status fst = CAIRN_CORRUPT;
    ASSERT_OK(cairn_cell_transition_tx(txn, &run_a, test_str("c"), scripted, &s, &v, &fst));
    cr_assert_eq(v, 4);
    ASSERT_STATUS(fst, CAIRN_OK);
    cr_assert_eq(s.runs, 1);
    ASSERT_OK(cairn_cell_transition_or_init_tx(txn, &run_a, test_str("d"), test_str("9"), increment,
                                               NULL, &v, NULL));
    cr_assert_eq(v, 1);
    ASSERT_OK(cairn_kv_put_tx(txn, &run_a, test_str("k"), test_str("kv")));

    cairn_cell_view cv;
    ASSERT_OK(cairn_cell_read_tx(txn, &run_a, test_str("c"), &cv));
    cr_assert(slice_eq_str(cv.value, "4") && cv.version == 4);
    ASSERT_OK(cairn_cell_read_tx(txn, &run_a, test_str("d"), &cv));
    cr_assert(slice_eq_str(cv.value, "10") && cv.version == 1);
    bool e = false;
    ASSERT_OK(cairn_cell_exists_tx(txn, &run_a, test_str("d"), &e));
    cr_assert(e);
    cairn_cell_list l;
    ASSERT_OK(cairn_cell_list_names_tx(txn, &run_a, NOSLICE, NOSLICE, 10, &l));
    cr_assert_eq(l.n, 2, "lists see the transaction's own writes");
    cairn_cell_list_free(&l);

    expect_cell(db, &run_a, "c", NULL, 0); /* invisible to others until commit */
    ASSERT_OK(cairn_txn_abort(txn));
    expect_cell(db, &run_a, "c", NULL, 0);
    expect_cell(db, &run_a, "d", NULL, 0);
    cairn_bytes kv = {0};
    ASSERT_STATUS(cairn_kv_get(db, &run_a, test_str("k"), &kv), CAIRN_NOT_FOUND);

    /* the same again, committed: all of it lands */
    ASSERT_OK(cairn_txn_restart(txn));
    ASSERT_OK(cairn_cell_init_tx(txn, &run_a, test_str("c"), test_str("1")));
    ASSERT_OK(cairn_cell_cas_tx(txn, &run_a, test_str("c"), 1, test_str("2"), &v));
    ASSERT_OK(cairn_kv_put_tx(txn, &run_a, test_str("k"), test_str("kv")));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    expect_cell(db, &run_a, "c", "2", 2);
    ASSERT_OK(cairn_kv_get(db, &run_a, test_str("k"), &kv));
    cairn_bytes_free(&kv);

    /* delete_tx */
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    bool existed = false;
    ASSERT_OK(cairn_cell_delete_tx(txn, &run_a, test_str("c"), &existed));
    cr_assert(existed);
    ASSERT_STATUS(cairn_cell_read_tx(txn, &run_a, test_str("c"), &cv), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    expect_cell(db, &run_a, "c", NULL, 0);
    test_close(db);
}

Test(statecell, a_transition_in_a_caller_transaction_fails_and_leaves_it_usable)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("1")));
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    script s = {.answer = CAIRN_LIMIT, .allocate_anyway = true};
    cairn_status fst = CAIRN_OK;
    ASSERT_STATUS(cairn_cell_transition_tx(txn, &run_a, test_str("c"), scripted, &s, NULL, &fst),
                  CAIRN_LIMIT);
    ASSERT_STATUS(fst, CAIRN_LIMIT);
    cr_assert(cairn_txn_is_active(txn));
    script d = {.answer = CAIRN_DONE};
    uint64_t v = 0;
    ASSERT_STATUS(cairn_cell_transition_tx(txn, &run_a, test_str("c"), scripted, &d, &v, NULL),
                  CAIRN_DONE);
    cr_assert_eq(v, 1);
    ASSERT_STATUS(cairn_cell_transition_tx(txn, &run_a, test_str("absent"), increment, NULL, &v, &fst),
                  CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_cell_transition_tx(txn, &run_a, test_str("c"), increment, NULL, &v, NULL));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    expect_cell(db, &run_a, "c", "2", 2);
    test_close(db);
}

Test(statecell, a_cas_racing_a_concurrent_write_conflicts_at_commit)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("1")));
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    uint64_t v = 0;
    ASSERT_OK(cairn_cell_cas_tx(txn, &run_a, test_str("c"), 1, test_str("mine"), &v));
    ASSERT_OK(cairn_cell_set(db, &run_a, test_str("c"), test_str("theirs"), NULL));
    ASSERT_STATUS(cairn_txn_commit(txn), CAIRN_CONFLICT);
    cairn_txn_free(txn);
    expect_cell(db, &run_a, "c", "theirs", 2);

    /* two inits of one name: the second to commit conflicts */
    cairn_txn *t1 = NULL, *t2 = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &t1));
    ASSERT_OK(cairn_txn_begin(db, NULL, &t2));
    ASSERT_OK(cairn_cell_init_tx(t1, &run_a, test_str("new"), test_str("t1")));
    ASSERT_OK(cairn_cell_init_tx(t2, &run_a, test_str("new"), test_str("t2")));
    ASSERT_OK(cairn_txn_commit(t1));
    ASSERT_STATUS(cairn_txn_commit(t2), CAIRN_CONFLICT);
    cairn_txn_free(t1);
    cairn_txn_free(t2);
    expect_cell(db, &run_a, "new", "t1", 1);
    test_close(db);
}

Test(statecell, read_only_transactions_read_cells_and_refuse_writes)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("1")));
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, &to, &txn));
    cairn_cell_view cv;
    ASSERT_OK(cairn_cell_read_tx(txn, &run_a, test_str("c"), &cv));
    ASSERT_STATUS(cairn_cell_set_tx(txn, &run_a, test_str("c"), test_str("2"), NULL), CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_cell_init_tx(txn, &run_a, test_str("d"), test_str("2")), CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_cell_cas_tx(txn, &run_a, test_str("c"), 1, test_str("2"), NULL), CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_cell_transition_tx(txn, &run_a, test_str("c"), increment, NULL, NULL, NULL),
                  CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_cell_delete_tx(txn, &run_a, test_str("c"), NULL), CAIRN_READ_ONLY);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    expect_cell(db, &run_a, "c", "1", 1);
    test_close(db);
}

/* ---- bad input -------------------------------------------------------------- */

Test(statecell, bad_input_gets_a_clear_status_and_changes_nothing)
{
    cairn_options opts;
    cairn_options_init(&opts);
    opts.max_value_size = 64;
    cairn_db *db = test_open(&opts);
    cairn_run_id zero = test_zero_run();
    cairn_slice nm = test_str("c"), val = test_str("v");
    cairn_cell c;
    bool b;
    uint64_t v;
    cairn_cell_list l;

    ASSERT_STATUS(cairn_cell_init(NULL, &run_a, nm, val), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_init(db, NULL, nm, val), CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "run is NULL");
    ASSERT_STATUS(cairn_cell_set(db, &zero, nm, val, NULL), CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "reserved");
    ASSERT_STATUS(cairn_cell_set(db, &run_a, NOSLICE, val, NULL), CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "name is empty");
    ASSERT_STATUS(cairn_cell_set(db, &run_a, cairn_slice_of(NULL, 3), val, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_set(db, &run_a, nm, cairn_slice_of(NULL, 2), NULL), CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "value data is NULL");

    static uint8_t big[CAIRN_CELL_NAME_MAX + 1];
    memset(big, 'n', sizeof big);
    ASSERT_STATUS(cairn_cell_set(db, &run_a, cairn_slice_of(big, sizeof big), val, NULL), CAIRN_TOO_LARGE);
    errmsg_has(db, "past the limit");
    ASSERT_STATUS(cairn_cell_init(db, &run_a, nm, cairn_slice_of(big, 64 - CAIRN_CELL_HEADER_SIZE + 1)),
                  CAIRN_TOO_LARGE);
    errmsg_has(db, "cell limit of 48");
    ASSERT_STATUS(cairn_cell_cas(db, &run_a, nm, 1, cairn_slice_of(big, 100), &v), CAIRN_TOO_LARGE);

    ASSERT_STATUS(cairn_cell_read(db, &run_a, nm, NULL), CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "cellp is NULL");
    ASSERT_STATUS(cairn_cell_read(NULL, &run_a, nm, &c), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_read(db, &zero, nm, &c), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_exists(db, &run_a, nm, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_exists(db, &run_a, NOSLICE, &b), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_delete(db, &zero, nm, &b), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, nm, NULL, NULL, NULL, NULL), CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "fn is NULL");
    ASSERT_STATUS(cairn_cell_transition(NULL, &run_a, nm, increment, NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_transition_or_init(db, &run_a, nm, cairn_slice_of(NULL, 1), increment,
                                                NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
    errmsg_has(db, "initial data is NULL");
    ASSERT_STATUS(cairn_cell_transition_or_init(db, &run_a, nm, cairn_slice_of(big, 49), increment,
                                                NULL, NULL, NULL),
                  CAIRN_TOO_LARGE);
    ASSERT_STATUS(cairn_cell_list_names(db, &run_a, NOSLICE, NOSLICE, 0, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_list_names(db, &run_a, NOSLICE, NOSLICE, CAIRN_LIST_LIMIT_MAX + 1, &l),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_list_names(db, &run_a, NOSLICE, NOSLICE, 5, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_list_names(db, &zero, NOSLICE, NOSLICE, 5, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_list_names(db, &run_a, cairn_slice_of(NULL, 2), NOSLICE, 5, &l),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_list_names(db, &run_a, NOSLICE, cairn_slice_of(big, sizeof big), 5, &l),
                  CAIRN_TOO_LARGE);

    /* nothing was written by any of it */
    cr_assert_eq(test_stats(db).keys, 0);
    cr_assert_eq(test_stats(db).commits, 0);

    /* the largest name and value are accepted */
    ASSERT_OK(cairn_cell_init(db, &run_a, cairn_slice_of(big, CAIRN_CELL_NAME_MAX),
                              cairn_slice_of(big, 64 - CAIRN_CELL_HEADER_SIZE)));
    ASSERT_OK(cairn_cell_list_names(db, &run_a, NOSLICE, NOSLICE, 5, &l));
    cr_assert_eq(l.n, 1);
    cr_assert_eq(l.names[0].len, CAIRN_CELL_NAME_MAX);
    cairn_cell_list_free(&l);

    /* _tx forms: the message lands on the transaction, which stays usable */
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_STATUS(cairn_cell_set_tx(txn, &zero, nm, val, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "reserved") != NULL);
    ASSERT_STATUS(cairn_cell_set_tx(NULL, &run_a, nm, val, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_read_tx(txn, &run_a, nm, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_cas_tx(txn, &run_a, nm, 0, val, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_transition_tx(txn, &run_a, nm, NULL, NULL, NULL, NULL),
                  CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_cell_list_names_tx(txn, &run_a, NOSLICE, NOSLICE, 0, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_OK(cairn_cell_set_tx(txn, &run_a, nm, val, &v));
    ASSERT_OK(cairn_txn_commit(txn));
    ASSERT_STATUS(cairn_cell_set_tx(txn, &run_a, nm, val, NULL), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_cell_read_tx(txn, &run_a, nm, &(cairn_cell_view){0}), CAIRN_TXN_FINISHED);
    cairn_txn_free(txn);
    expect_cell(db, &run_a, "c", "v", 1);
    test_close(db);
}

/* Writes raw bytes under cell `name` of run_a, bypassing the facade. */
static void put_raw(cairn_db *db, const char *name, const void *bytes, size_t len)
{
    cairn_key key = test_key_bytes(&run_a, CAIRN_TAG_STATE, name, strlen(name));
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_txn_put(txn, &key, cairn_slice_of(bytes, len)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

Test(statecell, a_stored_cell_that_does_not_decode_is_reported_corrupt)
{
    cairn_db *db = test_open(NULL);
    put_raw(db, "short", "abc", 3);
    uint8_t zero_version[20] = {0};
    put_raw(db, "zero", zero_version, sizeof zero_version);
    cairn_cell c;
    ASSERT_STATUS(cairn_cell_read(db, &run_a, test_str("short"), &c), CAIRN_CORRUPT);
    errmsg_has(db, "shorter than its 16-byte header");
    ASSERT_STATUS(cairn_cell_set(db, &run_a, test_str("short"), test_str("v"), NULL), CAIRN_CORRUPT);
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, test_str("zero"), increment, NULL, NULL, NULL),
                  CAIRN_CORRUPT);
    errmsg_has(db, "version 0");
    /* a damaged cell can still be deleted, then used again */
    ASSERT_OK(cairn_cell_delete(db, &run_a, test_str("zero"), NULL));
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("zero"), test_str("ok")));
    expect_cell(db, &run_a, "zero", "ok", 1);
    test_close(db);
}

Test(statecell, a_cell_at_the_largest_version_refuses_further_writes)
{
    cairn_db *db = test_open(NULL);
    uint8_t raw[17];
    u64_to_be(UINT64_MAX, raw);
    u64_to_be(0, raw + 8);
    raw[16] = 'x';
    put_raw(db, "full", raw, sizeof raw);
    expect_cell(db, &run_a, "full", "x", UINT64_MAX);
    ASSERT_STATUS(cairn_cell_set(db, &run_a, test_str("full"), test_str("y"), NULL), CAIRN_LIMIT);
    ASSERT_STATUS(cairn_cell_cas(db, &run_a, test_str("full"), UINT64_MAX, test_str("y"), NULL),
                  CAIRN_LIMIT);
    ASSERT_STATUS(cairn_cell_transition(db, &run_a, test_str("full"), increment, NULL, NULL, NULL),
                  CAIRN_LIMIT);
    expect_cell(db, &run_a, "full", "x", UINT64_MAX);
    test_close(db);
}

Test(statecell, the_stored_bytes_are_version_time_and_value)
{
    fake_clock clock;
    cairn_db *db = open_clocked(&clock);
    ASSERT_OK(cairn_cell_set(db, &run_a, test_str("c"), test_str("v1"), NULL));
    fake_clock_advance(&clock, 0x0102);
    ASSERT_OK(cairn_cell_set(db, &run_a, test_str("c"), test_str("val"), NULL));
    cairn_key key = test_key_bytes(&run_a, CAIRN_TAG_STATE, "c", 1);
    char raw[64];
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_slice s;
    ASSERT_OK(cairn_txn_get(txn, &key, &s));
    cr_assert_eq(s.len, 16 + 3);
    memcpy(raw, s.data, s.len);
    cairn_txn_free(txn);
    uint64_t ver, at;
    cr_assert(u64_from_slice(cairn_slice_of(raw, 8), &ver));
    cr_assert(u64_from_slice(cairn_slice_of(raw + 8, 8), &at));
    cr_assert_eq(ver, 2);
    cr_assert_eq((int64_t)at, FAKE_CLOCK_START_US + 0x0102);
    cr_assert(bytes_eq(raw + 16, "val", 3));
    test_close(db);
}

/* ---- runs ------------------------------------------------------------------ */

Test(statecell, runs_never_see_or_change_each_others_cells)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("shared"), test_str("a")));
    ASSERT_OK(cairn_cell_set(db, &run_a, test_str("shared"), test_str("a2"), NULL));
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("only-a"), test_str("a")));

    expect_cell(db, &run_b, "shared", NULL, 0);
    expect_cell(db, &run_b, "only-a", NULL, 0);
    bool b = true;
    ASSERT_OK(cairn_cell_exists(db, &run_b, test_str("only-a"), &b));
    cr_assert_not(b);
    uint64_t v = 9;
    ASSERT_STATUS(cairn_cell_cas(db, &run_b, test_str("only-a"), 1, test_str("b"), &v), CAIRN_NOT_FOUND);
    cr_assert_eq(v, 0);
    ASSERT_STATUS(cairn_cell_transition(db, &run_b, test_str("only-a"), increment, NULL, NULL, NULL),
                  CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_cell_delete(db, &run_b, test_str("only-a"), &b));
    cr_assert_not(b);
    /* run B's own cell of the same name starts at its own version 1 */
    ASSERT_OK(cairn_cell_init(db, &run_b, test_str("shared"), test_str("b")));
    ASSERT_OK(cairn_cell_transition_or_init(db, &run_b, test_str("only-a"), test_str("0"), increment,
                                            NULL, &v, NULL));
    cr_assert_eq(v, 1);

    expect_cell(db, &run_a, "shared", "a2", 2);
    expect_cell(db, &run_a, "only-a", "a", 1);
    expect_cell(db, &run_b, "shared", "b", 1);
    expect_cell(db, &run_b, "only-a", "1", 1);

    cairn_cell_list l;
    ASSERT_OK(cairn_cell_list_names(db, &run_b, NOSLICE, NOSLICE, 100, &l));
    cr_assert_eq(l.n, 2);
    ASSERT_SLICE_STR(l.names[0], "only-a");
    ASSERT_SLICE_STR(l.names[1], "shared");
    cairn_cell_list_free(&l);
    test_close(db);
}

/* ---- durability ------------------------------------------------------------ */

Test(statecell, versions_and_times_survive_reopen_and_checkpoints)
{
    char base[64], path[96];
    snprintf(base, sizeof base, "/tmp/cairn-cell-XXXXXX");
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
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("n"), test_str("0")));
    for (int i = 0; i < 5; i++)
        ASSERT_OK(cairn_cell_transition(db, &run_a, test_str("n"), increment, NULL, NULL, NULL));
    fake_clock_advance(&clock, 3);
    ASSERT_OK(cairn_cell_set(db, &run_b, test_str("other"), test_str("b"), NULL));
    ASSERT_OK(cairn_db_close(db));

    /* from the log */
    fake_clock_advance(&clock, 1000);
    ASSERT_OK(cairn_db_open(path, &opts, &db, err, sizeof err));
    expect_cell(db, &run_a, "n", "5", 6);
    expect_cell(db, &run_b, "other", "b", 1);
    cr_assert_eq(updated_at(db, &run_a, "n"), FAKE_CLOCK_START_US);
    cr_assert_eq(updated_at(db, &run_b, "other"), FAKE_CLOCK_START_US + 3);
    uint64_t v = 0;
    ASSERT_OK(cairn_cell_cas(db, &run_a, test_str("n"), 6, test_str("6"), &v));
    cr_assert_eq(v, 7, "versions carry on after reopen");
    ASSERT_OK(cairn_db_checkpoint(db));
    ASSERT_OK(cairn_db_close(db));

    /* from the checkpoint */
    ASSERT_OK(cairn_db_open(path, &opts, &db, err, sizeof err));
    expect_cell(db, &run_a, "n", "6", 7);
    cr_assert_eq(updated_at(db, &run_a, "n"), FAKE_CLOCK_START_US + 1003);
    ASSERT_STATUS(cairn_cell_cas(db, &run_a, test_str("n"), 6, test_str("x"), &v), CAIRN_VERSION_MISMATCH);
    cr_assert_eq(v, 7);
    ASSERT_OK(cairn_cell_transition(db, &run_a, test_str("n"), increment, NULL, &v, NULL));
    cr_assert_eq(v, 8);
    ASSERT_OK(cairn_db_close(db));
    test_rm_tree(base);
}

Test(statecell, tx_forms_check_their_own_arguments_and_refuse_finished_transactions)
{
    cairn_db *db = test_open(NULL);
    ASSERT_OK(cairn_cell_init(db, &run_a, test_str("c"), test_str("v")));
    cairn_slice none = cairn_slice_of(NULL, 0);
    cairn_cell_list l;
    bool exists;
    uint64_t version;
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_STATUS(cairn_cell_exists_tx(txn, &run_a, test_str("c"), NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "existsp is NULL") != NULL);
    ASSERT_STATUS(cairn_cell_list_names_tx(txn, &run_a, none, none, 5, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "listp is NULL") != NULL);
    ASSERT_OK(cairn_txn_commit(txn));
    ASSERT_STATUS(cairn_cell_exists_tx(txn, &run_a, test_str("c"), &exists), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_cell_init_tx(txn, &run_a, test_str("d"), test_str("v")), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_cell_cas_tx(txn, &run_a, test_str("c"), 1, test_str("w"), &version),
                  CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_cell_delete_tx(txn, &run_a, test_str("c"), NULL), CAIRN_TXN_FINISHED);
    ASSERT_STATUS(cairn_cell_list_names_tx(txn, &run_a, none, none, 5, &l), CAIRN_TXN_FINISHED);
    cairn_txn_free(txn);
    cairn_cell_list_free(NULL);
    ASSERT_OK(cairn_cell_exists(db, &run_a, test_str("c"), &exists));
    cr_assert(exists);
    test_close(db);
}
