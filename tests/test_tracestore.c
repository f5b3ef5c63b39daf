/*
 * TraceStore: recording in all three ways, finishing once, every query with
 * its ordering and cursors, trees (10,000 traces, depth 50) and their
 * limits, bad input, run isolation, the `_tx` forms inside one transaction,
 * and the index checker after random workloads, tampering and reopen.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"

static cairn_run_id run_a, run_b;
static fake_clock clk;

static void setup(void)
{
    run_a = test_run(0x7A, 1);
    run_b = test_run(0x7B, 2);
}

TestSuite(tracestore, .init = setup);

static cairn_db *open_mem(void)
{
    cairn_options o;
    cairn_options_init(&o);
    fake_clock_install(&clk, &o);
    cairn_db *db = NULL;
    HELPER_CHECK(cairn_db_open(NULL, &o, &db, NULL, 0));
    return db;
}

static cairn_trace_spec spec_of(cairn_trace_type type, const char *name, int64_t start,
                                const cairn_slice *tags, size_t ntags, const char *payload)
{
    cairn_trace_spec s;
    cairn_trace_spec_init(&s);
    s.type = type;
    s.name = test_str(name);
    s.start_us = start;
    s.tags = tags;
    s.ntags = ntags;
    s.payload = test_str(payload);
    return s;
}

static void record_id(cairn_db *db, const cairn_run_id *run, const char *id, const char *parent,
                      cairn_trace_type type, int64_t start, const char *tag)
{
    cairn_slice tags[1] = {test_str(tag ? tag : "x")};
    cairn_trace_spec s = spec_of(type, "n", start, tags, tag ? 1 : 0, "");
    ASSERT_OK(cairn_trace_record_id(db, run, test_str(id),
                                    parent ? test_str(parent) : cairn_slice_of(NULL, 0), &s));
}

static void assert_ids(const cairn_trace_list *l, const char *const *ids, size_t n)
{
    cr_assert_eq(l->n, n, "got %zu traces, want %zu", l->n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(slice_eq_str(l->items[i].id, ids[i]), "item %zu is not %s", i, ids[i]);
}

static void check_ok(cairn_db *db, const cairn_run_id *run)
{
    cairn_trace_report r;
    ASSERT_OK(cairn_trace_check(db, run, &r));
    cr_assert(r.ok, "check: %s", r.why);
}

static char *db_msg(cairn_db *db)
{
    static char buf[512];
    cairn_db_errmsg(db, buf, sizeof buf);
    return buf;
}

/* ---- recording and reading ------------------------------------------------ */

Test(tracestore, record_then_get_returns_every_field)
{
    cairn_db *db = open_mem();
    cairn_slice tags[3] = {test_str("a"), test_str("bb"), test_str("ccc")};
    cairn_trace_spec s = spec_of(CAIRN_TRACE_TOOL_CALL, "search", 0, tags, 3, "{\"q\":1}");
    cairn_trace_id id;
    ASSERT_OK(cairn_trace_record(db, &run_a, &s, &id));
    cr_assert_eq(id.len, CAIRN_TRACE_AUTO_ID_SIZE);
    cairn_trace t;
    ASSERT_OK(cairn_trace_get(db, &run_a, cairn_trace_id_slice(&id), &t));
    cr_assert(slice_eq(t.v.id, cairn_trace_id_slice(&id)));
    cr_assert_eq(t.v.parent_id.len, 0);
    cr_assert_eq(t.v.type, CAIRN_TRACE_TOOL_CALL);
    cr_assert_eq(t.v.status, CAIRN_TRACE_UNFINISHED);
    cr_assert(slice_eq_str(t.v.name, "search"));
    cr_assert_eq(t.v.start_us, FAKE_CLOCK_START_US);
    cr_assert_eq(t.v.end_us, 0);
    cr_assert_eq(t.v.ntags, 3);
    cr_assert(slice_eq_str(t.v.tags[2], "ccc"));
    cr_assert(slice_eq_str(t.v.payload, "{\"q\":1}"));
    cairn_trace_free(&t);
    cairn_trace_free(&t);
    check_ok(db, &run_a);
    cairn_db_close(db);
}

Test(tracestore, auto_ids_are_unique_and_increase_with_time)
{
    cairn_db *db = open_mem();
    cairn_trace_spec s = spec_of(CAIRN_TRACE_THOUGHT, "", 0, NULL, 0, "");
    cairn_trace_id prev = {0};
    for (int i = 0; i < 2000; i++) {
        cairn_trace_id id;
        ASSERT_OK(cairn_trace_record(db, &run_a, &s, &id));
        if (i)
            cr_assert(memcmp(prev.bytes, id.bytes, CAIRN_TRACE_AUTO_ID_SIZE) < 0);
        prev = id;
        if (i % 100 == 0)
            fake_clock_advance(&clk, 1500);
    }
    check_ok(db, &run_a);
    cairn_db_close(db);
}

Test(tracestore, record_child_needs_a_parent_in_the_same_run)
{
    cairn_db *db = open_mem();
    cairn_trace_spec s = spec_of(CAIRN_TRACE_QUERY, "q", 0, NULL, 0, "");
    cairn_trace_id root, child;
    ASSERT_OK(cairn_trace_record(db, &run_a, &s, &root));
    ASSERT_OK(cairn_trace_record_child(db, &run_a, cairn_trace_id_slice(&root), &s, &child));
    cairn_trace t;
    ASSERT_OK(cairn_trace_get(db, &run_a, cairn_trace_id_slice(&child), &t));
    cr_assert(slice_eq(t.v.parent_id, cairn_trace_id_slice(&root)));
    cairn_trace_free(&t);
    /* missing parent, and a parent of another run */
    cr_assert_eq(cairn_trace_record_child(db, &run_a, test_str("nope"), &s, &child), CAIRN_NOT_FOUND);
    cr_assert_eq(cairn_trace_record_child(db, &run_b, cairn_trace_id_slice(&root), &s, &child),
                 CAIRN_NOT_FOUND);
    cr_assert(strstr(db_msg(db), "no trace") != NULL, "%s", db_msg(db));
    cr_assert_eq(cairn_trace_record_id(db, &run_a, test_str("c"), test_str("nope"), &s), CAIRN_NOT_FOUND);
    cairn_trace_list l;
    ASSERT_OK(cairn_trace_by_time(db, &run_b, 0, INT64_MAX, NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_time(db, &run_a, 0, INT64_MAX, NULL, 10, &l));
    cr_assert_eq(l.n, 2);
    cairn_trace_list_free(&l);
    check_ok(db, &run_a);
    check_ok(db, &run_b);
    cairn_db_close(db);
}

Test(tracestore, a_reused_caller_id_is_refused)
{
    cairn_db *db = open_mem();
    record_id(db, &run_a, "step-1", NULL, CAIRN_TRACE_DECISION, 0, NULL);
    cairn_trace_spec s = spec_of(CAIRN_TRACE_ERROR, "x", 0, NULL, 0, "other");
    cr_assert_eq(cairn_trace_record_id(db, &run_a, test_str("step-1"), cairn_slice_of(NULL, 0), &s),
                 CAIRN_EXISTS);
    cr_assert(strstr(db_msg(db), "already has") != NULL);
    /* the same id in another run is another trace */
    ASSERT_OK(cairn_trace_record_id(db, &run_b, test_str("step-1"), cairn_slice_of(NULL, 0), &s));
    cairn_trace t;
    ASSERT_OK(cairn_trace_get(db, &run_a, test_str("step-1"), &t));
    cr_assert_eq(t.v.type, CAIRN_TRACE_DECISION);
    cairn_trace_free(&t);
    check_ok(db, &run_a);
    check_ok(db, &run_b);
    cairn_db_close(db);
}

Test(tracestore, a_trace_finishes_once)
{
    cairn_db *db = open_mem();
    record_id(db, &run_a, "t", NULL, CAIRN_TRACE_TOOL_CALL, 0, "tag");
    fake_clock_advance(&clk, 250);
    cr_assert_eq(cairn_trace_finish(db, &run_a, test_str("t"), CAIRN_TRACE_UNFINISHED, 0),
                 CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_finish(db, &run_a, test_str("t"), CAIRN_TRACE_OK, 5), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(db_msg(db), "before the trace's start") != NULL, "%s", db_msg(db));
    cr_assert_eq(cairn_trace_finish(db, &run_a, test_str("t"), CAIRN_TRACE_OK, -1), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_finish(db, &run_a, test_str("u"), CAIRN_TRACE_OK, 0), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_trace_finish(db, &run_a, test_str("t"), CAIRN_TRACE_FAILED, 0));
    cr_assert_eq(cairn_trace_finish(db, &run_a, test_str("t"), CAIRN_TRACE_OK, 0),
                 CAIRN_INVALID_TRANSITION);
    cr_assert(strstr(db_msg(db), "already finished") != NULL, "%s", db_msg(db));
    cairn_trace t;
    ASSERT_OK(cairn_trace_get(db, &run_a, test_str("t"), &t));
    cr_assert_eq(t.v.status, CAIRN_TRACE_FAILED);
    cr_assert_eq(t.v.end_us, FAKE_CLOCK_START_US + 250);
    cr_assert(slice_eq_str(t.v.tags[0], "tag"));
    cairn_trace_free(&t);
    /* an explicit end time */
    record_id(db, &run_a, "v", NULL, CAIRN_TRACE_TOOL_CALL, 1000, NULL);
    ASSERT_OK(cairn_trace_finish(db, &run_a, test_str("v"), CAIRN_TRACE_OK, 1500));
    ASSERT_OK(cairn_trace_get(db, &run_a, test_str("v"), &t));
    cr_assert_eq(t.v.status, CAIRN_TRACE_OK);
    cr_assert_eq(t.v.start_us, 1000);
    cr_assert_eq(t.v.end_us, 1500);
    cairn_trace_free(&t);
    check_ok(db, &run_a);
    cairn_db_close(db);
}

/* ---- bad input --------------------------------------------------------------- */

Test(tracestore, bad_input_is_refused_with_a_clear_status)
{
    cairn_db *db = open_mem();
    cairn_run_id zero = test_zero_run();
    cairn_trace_spec s = spec_of(CAIRN_TRACE_THOUGHT, "n", 0, NULL, 0, "");
    cairn_trace_id id;
    cairn_trace t;
    cairn_trace_list l;
    cairn_trace_tree tree;
    cairn_trace_report rep;
    cr_assert_eq(cairn_trace_record(NULL, &run_a, &s, &id), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_record(db, NULL, &s, &id), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_record(db, &zero, &s, &id), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(db_msg(db), "all-zero") != NULL);
    cr_assert_eq(cairn_trace_record(db, &run_a, NULL, &id), CAIRN_INVALID_ARGUMENT);
    cairn_trace_spec bad = s;
    bad.type = (cairn_trace_type)0;
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_INVALID_ARGUMENT);
    bad.type = (cairn_trace_type)7;
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_INVALID_ARGUMENT);
    bad = s;
    bad.start_us = -5;
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_INVALID_ARGUMENT);

    /* tags: too many, too long, empty, repeated, NULL */
    cairn_slice tags[CAIRN_TRACE_TAGS_MAX + 1];
    char names[CAIRN_TRACE_TAGS_MAX + 1][8];
    for (unsigned i = 0; i <= CAIRN_TRACE_TAGS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "t%u", i);
        tags[i] = test_str(names[i]);
    }
    bad = s;
    bad.tags = tags;
    bad.ntags = CAIRN_TRACE_TAGS_MAX + 1;
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_TOO_LARGE);
    cr_assert(strstr(db_msg(db), "tags") != NULL);
    bad.ntags = CAIRN_TRACE_TAGS_MAX;
    ASSERT_OK(cairn_trace_record(db, &run_a, &bad, &id)); /* exactly the limit */
    char longtag[CAIRN_TRACE_TAG_MAX + 1];
    memset(longtag, 'g', sizeof longtag);
    cairn_slice one[2] = {cairn_slice_of(longtag, sizeof longtag), test_str("a")};
    bad.tags = one;
    bad.ntags = 1;
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_TOO_LARGE);
    one[0] = cairn_slice_of(longtag, CAIRN_TRACE_TAG_MAX);
    ASSERT_OK(cairn_trace_record(db, &run_a, &bad, &id));
    one[0] = cairn_slice_of("", 0);
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_INVALID_ARGUMENT);
    one[0] = cairn_slice_of(NULL, 3);
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_INVALID_ARGUMENT);
    one[0] = test_str("a");
    bad.ntags = 2;
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(db_msg(db), "repeats") != NULL);
    bad.tags = NULL;
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_INVALID_ARGUMENT);

    /* name, payload, ids */
    char longname[CAIRN_TRACE_NAME_MAX + 1];
    memset(longname, 'n', sizeof longname);
    bad = s;
    bad.name = cairn_slice_of(longname, sizeof longname);
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_TOO_LARGE);
    bad = s;
    bad.payload = cairn_slice_of(NULL, 4);
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_INVALID_ARGUMENT);
    char longid[CAIRN_TRACE_ID_MAX + 1];
    memset(longid, 'i', sizeof longid);
    cr_assert_eq(cairn_trace_record_id(db, &run_a, cairn_slice_of(longid, sizeof longid),
                                       cairn_slice_of(NULL, 0), &s),
                 CAIRN_TOO_LARGE);
    ASSERT_OK(cairn_trace_record_id(db, &run_a, cairn_slice_of(longid, CAIRN_TRACE_ID_MAX),
                                    cairn_slice_of(NULL, 0), &s));
    cr_assert_eq(cairn_trace_record_id(db, &run_a, cairn_slice_of(NULL, 0), cairn_slice_of(NULL, 0), &s),
                 CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_record_child(db, &run_a, cairn_slice_of(NULL, 0), &s, &id),
                 CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_record_child(db, &run_a, cairn_slice_of(longid, sizeof longid), &s, &id),
                 CAIRN_TOO_LARGE);
    cr_assert_eq(cairn_trace_get(db, &run_a, cairn_slice_of(NULL, 0), &t), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_get(db, &run_a, test_str("x"), NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_get(db, &zero, test_str("x"), &t), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_get(db, &run_a, test_str("x"), &t), CAIRN_NOT_FOUND);
    cr_assert_eq(cairn_trace_finish(db, &zero, test_str("x"), CAIRN_TRACE_OK, 0), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_finish(NULL, &run_a, test_str("x"), CAIRN_TRACE_OK, 0), CAIRN_INVALID_ARGUMENT);

    /* queries */
    cr_assert_eq(cairn_trace_by_type(db, &run_a, CAIRN_TRACE_THOUGHT, NULL, 0, &l), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_by_type(db, &run_a, CAIRN_TRACE_THOUGHT, NULL, CAIRN_TRACE_LIMIT_MAX + 1, &l),
                 CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_by_type(db, &run_a, (cairn_trace_type)9, NULL, 5, &l), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_by_type(db, &run_a, CAIRN_TRACE_THOUGHT, NULL, 5, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_by_type(db, &zero, CAIRN_TRACE_THOUGHT, NULL, 5, &l), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_by_tag(db, &run_a, cairn_slice_of(NULL, 0), NULL, 5, &l), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_by_tag(db, &run_a, cairn_slice_of(longtag, sizeof longtag), NULL, 5, &l),
                 CAIRN_TOO_LARGE);
    cr_assert_eq(cairn_trace_by_time(db, &run_a, -1, 5, NULL, 5, &l), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_children(db, &run_a, test_str("missing"), NULL, 5, &l), CAIRN_NOT_FOUND);
    cr_assert_eq(cairn_trace_children(db, &run_a, cairn_slice_of(NULL, 0), NULL, 5, &l),
                 CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_roots(NULL, &run_a, NULL, 5, &l), CAIRN_INVALID_ARGUMENT);
    cairn_trace_cursor cur = {.set = true, .start_us = 1};
    cr_assert_eq(cairn_trace_roots(db, &run_a, &cur, 5, &l), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(db_msg(db), "cursor") != NULL);
    cr_assert_eq(cairn_trace_get_tree(db, &run_a, test_str("missing"), 5, 5, &tree), CAIRN_NOT_FOUND);
    cr_assert_eq(cairn_trace_get_tree(db, &run_a, test_str("x"), 5, 0, &tree), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_get_tree(db, &run_a, test_str("x"), 5, 5, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_check(db, &zero, &rep), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_check(db, &run_a, NULL), CAIRN_INVALID_ARGUMENT);

    /* a trace past max_value_size */
    cairn_db_close(db);
    cairn_options o;
    cairn_options_init(&o);
    o.max_value_size = 4096;
    HELPER_CHECK(cairn_db_open(NULL, &o, &db, NULL, 0));
    static char big[5000];
    bad = s;
    bad.payload = cairn_slice_of(big, sizeof big);
    cr_assert_eq(cairn_trace_record(db, &run_a, &bad, &id), CAIRN_TOO_LARGE);
    cr_assert(strstr(db_msg(db), "max_value_size") != NULL);
    bad.payload = cairn_slice_of(big, 3000);
    ASSERT_OK(cairn_trace_record(db, &run_a, &bad, &id));
    ASSERT_OK(cairn_trace_get(db, &run_a, cairn_trace_id_slice(&id), &t));
    cr_assert_eq(t.v.payload.len, 3000);
    cairn_trace_free(&t);
    check_ok(db, &run_a);
    cairn_db_close(db);
}

/* ---- queries ------------------------------------------------------------------ */

/* A small forest in run_a:  r1 (t=100) > c1 (t=110), c2 (t=105) > g1 (t=120); r2 (t=200). */
static cairn_db *forest(void)
{
    cairn_db *db = open_mem();
    record_id(db, &run_a, "r1", NULL, CAIRN_TRACE_DECISION, 100, "plan");
    record_id(db, &run_a, "c1", "r1", CAIRN_TRACE_TOOL_CALL, 110, "web");
    record_id(db, &run_a, "c2", "r1", CAIRN_TRACE_TOOL_CALL, 105, "db");
    record_id(db, &run_a, "g1", "c2", CAIRN_TRACE_ERROR, 120, "db");
    record_id(db, &run_a, "r2", NULL, CAIRN_TRACE_THOUGHT, 200, "plan");
    record_id(db, &run_b, "r1", NULL, CAIRN_TRACE_TOOL_CALL, 100, "web"); /* another run */
    return db;
}

Test(tracestore, every_query_lists_its_traces_in_time_order)
{
    cairn_db *db = forest();
    cairn_trace_list l;
    ASSERT_OK(cairn_trace_by_type(db, &run_a, CAIRN_TRACE_TOOL_CALL, NULL, 10, &l));
    assert_ids(&l, (const char *[]){"c2", "c1"}, 2);
    cr_assert(!l.more);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_type(db, &run_a, CAIRN_TRACE_QUERY, NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cr_assert(!l.next.set);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_tag(db, &run_a, test_str("db"), NULL, 10, &l));
    assert_ids(&l, (const char *[]){"c2", "g1"}, 2);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_tag(db, &run_a, test_str("plan"), NULL, 10, &l));
    assert_ids(&l, (const char *[]){"r1", "r2"}, 2);
    cr_assert_eq(l.items[1].type, CAIRN_TRACE_THOUGHT);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_tag(db, &run_a, test_str("none"), NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_time(db, &run_a, 105, 120, NULL, 10, &l)); /* [105, 120) */
    assert_ids(&l, (const char *[]){"c2", "c1"}, 2);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_time(db, &run_a, 0, INT64_MAX, NULL, 10, &l));
    assert_ids(&l, (const char *[]){"r1", "c2", "c1", "g1", "r2"}, 5);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_time(db, &run_a, 120, 120, NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_children(db, &run_a, test_str("r1"), NULL, 10, &l));
    assert_ids(&l, (const char *[]){"c2", "c1"}, 2);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_children(db, &run_a, test_str("g1"), NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_roots(db, &run_a, NULL, 10, &l));
    assert_ids(&l, (const char *[]){"r1", "r2"}, 2);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_roots(db, &run_b, NULL, 10, &l));
    assert_ids(&l, (const char *[]){"r1"}, 1);
    cr_assert_eq(l.items[0].type, CAIRN_TRACE_TOOL_CALL);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_trace_by_tag(db, &run_b, test_str("db"), NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cairn_trace_list_free(&l);
    cairn_trace_list_free(&l);
    check_ok(db, &run_a);
    check_ok(db, &run_b);
    cairn_db_close(db);
}

Test(tracestore, ties_in_time_are_ordered_by_id)
{
    cairn_db *db = open_mem();
    const char *ids[] = {"b", "a", "ab", "c", "aa"};
    for (int i = 0; i < 5; i++)
        record_id(db, &run_a, ids[i], NULL, CAIRN_TRACE_QUERY, 42, "t");
    cairn_trace_list l;
    ASSERT_OK(cairn_trace_by_tag(db, &run_a, test_str("t"), NULL, 10, &l));
    assert_ids(&l, (const char *[]){"a", "b", "c", "aa", "ab"}, 5); /* shorter ids first */
    cairn_trace_list_free(&l);
    cairn_db_close(db);
}

/* Pages through `q` (0 type, 1 tag, 2 time, 3 children, 4 roots) by `page`
 * and checks the concatenation equals one big query. */
static void pages_match(cairn_db *db, int q, size_t page, size_t want)
{
    cairn_trace_list all, l;
    cairn_trace_cursor cur = {0};
    size_t got = 0;
    cairn_status st;
#define RUNQ(after, lim, out)                                                                     \
    (q == 0   ? cairn_trace_by_type(db, &run_a, CAIRN_TRACE_TOOL_CALL, after, lim, out)            \
     : q == 1 ? cairn_trace_by_tag(db, &run_a, test_str("even"), after, lim, out)                  \
     : q == 2 ? cairn_trace_by_time(db, &run_a, 1000, 1000000, after, lim, out)                    \
     : q == 3 ? cairn_trace_children(db, &run_a, test_str("root"), after, lim, out)                \
              : cairn_trace_roots(db, &run_a, after, lim, out))
    ASSERT_OK(RUNQ(NULL, 10000, &all));
    cr_assert_eq(all.n, want, "query %d: %zu traces, want %zu", q, all.n, want);
    for (;;) {
        st = RUNQ(got ? &cur : NULL, page, &l);
        ASSERT_OK(st);
        for (size_t i = 0; i < l.n; i++) {
            cr_assert(got + i < all.n);
            cr_assert(slice_eq(l.items[i].id, all.items[got + i].id), "query %d item %zu", q, got + i);
        }
        got += l.n;
        bool more = l.more;
        cur = l.next;
        cairn_trace_list_free(&l);
        if (!more)
            break;
    }
#undef RUNQ
    cr_assert_eq(got, want);
    for (size_t i = 1; i < all.n; i++)
        cr_assert(all.items[i - 1].start_us <= all.items[i].start_us);
    cairn_trace_list_free(&all);
}

Test(tracestore, cursors_resume_every_query_across_pages)
{
    cairn_db *db = open_mem();
    record_id(db, &run_a, "root", NULL, CAIRN_TRACE_DECISION, 500, NULL);
    test_rng rng = test_rng_seeded(7);
    size_t tool = 0, even = 0, in_time = 0;
    for (int i = 0; i < 300; i++) {
        char id[16];
        snprintf(id, sizeof id, "n%03d", i);
        int64_t start = 600 + (int64_t)test_rng_below(&rng, 2000); /* many ties */
        cairn_trace_type type = i % 3 ? CAIRN_TRACE_TOOL_CALL : CAIRN_TRACE_THOUGHT;
        record_id(db, &run_a, id, "root", type, start, i % 2 ? "odd" : "even");
        tool += type == CAIRN_TRACE_TOOL_CALL;
        even += i % 2 == 0;
        in_time += start >= 1000;
    }
    size_t pages[] = {1, 7, 64, 299, 300, 301};
    for (size_t p = 0; p < sizeof pages / sizeof pages[0]; p++) {
        pages_match(db, 0, pages[p], tool);
        pages_match(db, 1, pages[p], even);
        pages_match(db, 2, pages[p], in_time);
        pages_match(db, 3, pages[p], 300);
        pages_match(db, 4, pages[p], 1);
    }
    check_ok(db, &run_a);
    cairn_db_close(db);
}

/* ---- transactions --------------------------------------------------------------- */

Test(tracestore, tx_forms_commit_or_abort_with_the_rest_of_the_transaction)
{
    cairn_db *db = open_mem();
    cairn_trace_spec s = spec_of(CAIRN_TRACE_TOOL_CALL, "fetch", 0, (cairn_slice[]){test_str("x")}, 1, "p");
    cairn_txn *txn;
    cairn_trace_id id, child;
    cairn_trace_view v;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_trace_record_tx(txn, &run_a, &s, &id));
    ASSERT_OK(cairn_trace_record_child_tx(txn, &run_a, cairn_trace_id_slice(&id), &s, &child));
    ASSERT_OK(cairn_trace_finish_tx(txn, &run_a, cairn_trace_id_slice(&child), CAIRN_TRACE_OK, 0));
    cr_assert_eq(cairn_trace_finish_tx(txn, &run_a, cairn_trace_id_slice(&child), CAIRN_TRACE_OK, 0),
                 CAIRN_INVALID_TRANSITION);
    cr_assert(strstr(cairn_txn_errmsg(txn), "already finished") != NULL);
    ASSERT_OK(cairn_trace_get_tx(txn, &run_a, cairn_trace_id_slice(&child), &v));
    cr_assert_eq(v.status, CAIRN_TRACE_OK);
    ASSERT_OK(cairn_kv_put_tx(txn, &run_a, test_str("k"), test_str("v")));
    ASSERT_OK(cairn_txn_abort(txn));
    cairn_txn_free(txn);
    cairn_trace t;
    cr_assert_eq(cairn_trace_get(db, &run_a, cairn_trace_id_slice(&id), &t), CAIRN_NOT_FOUND);
    cairn_trace_list l;
    ASSERT_OK(cairn_trace_by_tag(db, &run_a, test_str("x"), NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cairn_trace_list_free(&l);

    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_trace_record_tx(txn, &run_a, &s, &id));
    ASSERT_OK(cairn_kv_put_tx(txn, &run_a, test_str("k"), test_str("v")));
    ASSERT_OK(cairn_trace_by_tag_tx(txn, &run_a, test_str("x"), NULL, 10, &l)); /* own writes */
    cr_assert_eq(l.n, 1);
    cairn_trace_list_free(&l);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    ASSERT_OK(cairn_trace_get(db, &run_a, cairn_trace_id_slice(&id), &t));
    cairn_trace_free(&t);
    cairn_bytes b;
    ASSERT_OK(cairn_kv_get(db, &run_a, test_str("k"), &b));
    cairn_bytes_free(&b);
    check_ok(db, &run_a);
    cairn_db_close(db);
}

/* ---- trees ------------------------------------------------------------------------ */

enum { TREE_N = 10000, TREE_DEPTH = 50 };

Test(tracestore, a_tree_of_10000_traces_and_depth_50_is_rebuilt_exactly)
{
    cairn_db *db = open_mem();
    static int parent_of[TREE_N], depth_of[TREE_N];
    test_rng rng = test_rng_seeded(2026);
    cairn_txn *txn;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    for (int i = 0; i < TREE_N; i++) {
        if (i == 0)
            parent_of[i] = -1, depth_of[i] = 0;
        else if (i < TREE_DEPTH)
            parent_of[i] = i - 1, depth_of[i] = i; /* a chain reaching depth 49 */
        else {
            int p;
            do
                p = (int)test_rng_below(&rng, (uint64_t)i);
            while (depth_of[p] >= TREE_DEPTH - 1);
            parent_of[i] = p;
            depth_of[i] = depth_of[p] + 1;
        }
        char id[16], pid[16];
        snprintf(id, sizeof id, "n%05d", i);
        snprintf(pid, sizeof pid, "n%05d", parent_of[i]);
        cairn_trace_spec s = spec_of(CAIRN_TRACE_THOUGHT, "", (int64_t)test_rng_below(&rng, 1000000) + 1,
                                     NULL, 0, id);
        ASSERT_OK(cairn_trace_record_id_tx(txn, &run_a, test_str(id),
                                           i ? test_str(pid) : cairn_slice_of(NULL, 0), &s));
        if (i % 1000 == 999) {
            ASSERT_OK(cairn_txn_commit(txn));
            ASSERT_OK(cairn_txn_restart(txn));
        }
    }
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);

    cairn_trace_tree tree;
    ASSERT_OK(cairn_trace_get_tree(db, &run_a, test_str("n00000"), TREE_DEPTH - 1, TREE_N, &tree));
    cr_assert_eq(tree.n, TREE_N);
    static bool seen[TREE_N];
    for (size_t i = 0; i < tree.n; i++) {
        int n = atoi((const char *)tree.nodes[i].payload.data + 1); /* payload is the id */
        cr_assert(n >= 0 && n < TREE_N && !seen[n]);
        seen[n] = true;
        cr_assert_eq((int)tree.depth[i], depth_of[n]);
        if (i == 0) {
            cr_assert_eq(tree.parent[i], SIZE_MAX);
            continue;
        }
        size_t p = tree.parent[i];
        cr_assert(p < i);
        char pid[16];
        snprintf(pid, sizeof pid, "n%05d", parent_of[n]);
        cr_assert(slice_eq_str(tree.nodes[p].id, pid));
        cr_assert(slice_eq(tree.nodes[i].parent_id, tree.nodes[p].id));
        /* siblings in time order */
        if (tree.parent[i - 1] == p)
            cr_assert(tree.nodes[i - 1].start_us <= tree.nodes[i].start_us);
    }
    cairn_trace_tree_free(&tree);
    cairn_trace_tree_free(&tree);

    cr_assert_eq(cairn_trace_get_tree(db, &run_a, test_str("n00000"), TREE_DEPTH - 2, TREE_N, &tree),
                 CAIRN_LIMIT);
    cr_assert(strstr(db_msg(db), "max_depth") != NULL, "%s", db_msg(db));
    cr_assert_eq(tree.n, 0);
    cr_assert_eq(cairn_trace_get_tree(db, &run_a, test_str("n00000"), TREE_DEPTH, TREE_N - 1, &tree),
                 CAIRN_LIMIT);
    cr_assert(strstr(db_msg(db), "max_nodes") != NULL, "%s", db_msg(db));
    /* a subtree, and a leaf */
    ASSERT_OK(cairn_trace_get_tree(db, &run_a, test_str("n00048"), 1, 100, &tree));
    cr_assert_geq(tree.n, 2);
    cairn_trace_tree_free(&tree);
    ASSERT_OK(cairn_trace_get_tree(db, &run_a, test_str("n00049"), 0, 1, &tree));
    cr_assert_eq(tree.n, 1);
    cairn_trace_tree_free(&tree);
    check_ok(db, &run_a);
    cairn_db_close(db);
}

/* ---- the checker ---------------------------------------------------------------------- */

/* A seeded random mix of records (roots, children, caller ids), finishes
 * (some twice) and reads over two runs. */
static void random_workload(cairn_db *db, uint64_t seed, int ops)
{
    test_rng rng = test_rng_seeded(seed);
    static const char *tagpool[] = {"web", "db", "plan", "retry", "llm", "slow"};
    cairn_trace_id ids[2][512];
    size_t n[2] = {0, 0};
    for (int i = 0; i < ops; i++) {
        int r = (int)test_rng_below(&rng, 2);
        const cairn_run_id *run = r ? &run_b : &run_a;
        cairn_slice tags[4];
        size_t nt = test_rng_below(&rng, 5);
        size_t first = test_rng_below(&rng, 6);
        for (size_t t = 0; t < nt; t++)
            tags[t] = test_str(tagpool[(first + t) % 6]);
        cairn_trace_spec s = spec_of((cairn_trace_type)(1 + test_rng_below(&rng, 6)), "op",
                                     test_rng_below(&rng, 3) ? 0 : (int64_t)test_rng_below(&rng, 5000),
                                     tags, nt > 4 ? 4 : nt, "payload");
        int what = (int)test_rng_below(&rng, 10);
        fake_clock_advance(&clk, (int64_t)test_rng_below(&rng, 3));
        if (what < 3 || n[r] == 0) {
            if (n[r] < 512)
                ASSERT_OK(cairn_trace_record(db, run, &s, &ids[r][n[r]++]));
        } else if (what < 6) {
            cairn_trace_id *p = &ids[r][test_rng_below(&rng, n[r])];
            if (n[r] < 512)
                ASSERT_OK(cairn_trace_record_child(db, run, cairn_trace_id_slice(p), &s, &ids[r][n[r]++]));
        } else if (what < 7) {
            char cid[24];
            snprintf(cid, sizeof cid, "c%llu", (unsigned long long)test_rng_below(&rng, 200));
            cairn_status st = cairn_trace_record_id(db, run, test_str(cid), cairn_slice_of(NULL, 0), &s);
            cr_assert(st == CAIRN_OK || st == CAIRN_EXISTS);
        } else {
            cairn_trace_id *p = &ids[r][test_rng_below(&rng, n[r])];
            cairn_status st = cairn_trace_finish(db, run, cairn_trace_id_slice(p),
                                                 what % 2 ? CAIRN_TRACE_OK : CAIRN_TRACE_FAILED, 0);
            cr_assert(st == CAIRN_OK || st == CAIRN_INVALID_TRANSITION || st == CAIRN_INVALID_ARGUMENT,
                      "%s", cairn_status_name(st));
        }
    }
}

Test(tracestore, the_checker_passes_after_random_workloads)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        cairn_db *db = open_mem();
        random_workload(db, seed, 600);
        cairn_trace_report r;
        ASSERT_OK(cairn_trace_check(db, &run_a, &r));
        cr_assert(r.ok, "seed %llu: %s", (unsigned long long)seed, r.why);
        cr_assert_gt(r.traces, 0);
        cr_assert_geq(r.entries, 3 * r.traces);
        check_ok(db, &run_b);
        cairn_db_close(db);
    }
}

/* Applies one raw write to the trace keys of run_a. */
static void tamper(cairn_db *db, const uint8_t *rest, size_t len, bool del)
{
    cairn_key k = test_key_bytes(&run_a, CAIRN_TAG_TRACE, rest, len);
    cairn_txn *txn;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    if (del)
        ASSERT_OK(cairn_txn_delete(txn, &k));
    else
        ASSERT_OK(cairn_txn_put(txn, &k, cairn_slice_of(NULL, 0)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

static const char *first_problem(cairn_db *db)
{
    static cairn_trace_report r;
    ASSERT_OK(cairn_trace_check(db, &run_a, &r));
    cr_assert(!r.ok, "the checker missed a problem");
    return r.why;
}

Test(tracestore, the_checker_reports_the_first_missing_or_dangling_entry)
{
    /* the by-tag entry of "t" at time 7: [0x04][tag field "db"][7][id field "t"] */
    const uint8_t tag_entry[] = {0x04, 0, 2, 'd', 'b', 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 't'};
    cairn_db *db = open_mem();
    record_id(db, &run_a, "t", NULL, CAIRN_TRACE_QUERY, 7, "db");
    check_ok(db, &run_a);
    tamper(db, tag_entry, sizeof tag_entry, true);
    const char *why = first_problem(db);
    cr_assert(strstr(why, "by-tag") != NULL, "%s", why);
    tamper(db, tag_entry, sizeof tag_entry, false);
    check_ok(db, &run_a);
    /* an entry pointing at no trace */
    const uint8_t dangling[] = {0x02, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 'z'};
    tamper(db, dangling, sizeof dangling, false);
    why = first_problem(db);
    cr_assert(strstr(why, "points at no trace") != NULL, "%s", why);
    tamper(db, dangling, sizeof dangling, true);
    /* an entry whose attribute is not the trace's */
    const uint8_t wrongtype[] = {0x03, CAIRN_TRACE_ERROR, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 't'};
    tamper(db, wrongtype, sizeof wrongtype, false);
    why = first_problem(db);
    cr_assert(strstr(why, "disagrees") != NULL, "%s", why);
    tamper(db, wrongtype, sizeof wrongtype, true);
    /* a key of no known kind, and a trace without its record */
    const uint8_t odd[] = {0x09, 1};
    tamper(db, odd, sizeof odd, false);
    why = first_problem(db);
    cr_assert(strstr(why, "unknown sub-kind") != NULL, "%s", why);
    tamper(db, odd, sizeof odd, true);
    const uint8_t rec[] = {0x01, 0, 1, 't'};
    tamper(db, rec, sizeof rec, true);
    why = first_problem(db);
    cr_assert(strstr(why, "points at no trace") != NULL, "%s", why);
    cairn_db_close(db);
}

Test(tracestore, traces_and_indices_survive_close_and_reopen)
{
    char dir[] = "/tmp/cairn-trace-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_ASYNC;
    fake_clock_install(&clk, &o);
    cairn_db *db = NULL;
    ASSERT_OK(cairn_db_open(dir, &o, &db, NULL, 0));
    random_workload(db, 99, 400);
    cairn_trace_list before;
    ASSERT_OK(cairn_trace_by_time(db, &run_a, 0, INT64_MAX, NULL, 10000, &before));
    ASSERT_OK(cairn_db_checkpoint(db));
    random_workload(db, 100, 200); /* some after the checkpoint, replayed from the WAL */
    cairn_trace_list_free(&before);
    ASSERT_OK(cairn_trace_by_time(db, &run_a, 0, INT64_MAX, NULL, 10000, &before));
    ASSERT_OK(cairn_db_close(db));

    ASSERT_OK(cairn_db_open(dir, &o, &db, NULL, 0));
    check_ok(db, &run_a);
    check_ok(db, &run_b);
    cairn_trace_list after;
    ASSERT_OK(cairn_trace_by_time(db, &run_a, 0, INT64_MAX, NULL, 10000, &after));
    cr_assert_eq(after.n, before.n);
    for (size_t i = 0; i < after.n; i++) {
        cr_assert(slice_eq(after.items[i].id, before.items[i].id));
        cr_assert_eq(after.items[i].status, before.items[i].status);
        cr_assert_eq(after.items[i].end_us, before.items[i].end_us);
    }
    cairn_trace_list_free(&before);
    cairn_trace_list_free(&after);
    ASSERT_OK(cairn_db_close(db));
    test_rm_tree(dir);
}

/* ---- names, damaged records and rare paths ------------------------------------------ */

Test(tracestore, type_and_status_names_are_the_words_of_the_format)
{
    static const struct {
        cairn_trace_type type;
        const char *name;
    } types[] = {
        {CAIRN_TRACE_TOOL_CALL, "tool_call"}, {CAIRN_TRACE_DECISION, "decision"},
        {CAIRN_TRACE_QUERY, "query"},         {CAIRN_TRACE_THOUGHT, "thought"},
        {CAIRN_TRACE_ERROR, "error"},         {CAIRN_TRACE_CUSTOM, "custom"},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        cr_assert_str_eq(cairn_trace_type_name(types[i].type), types[i].name);
    cr_assert_str_eq(cairn_trace_type_name((cairn_trace_type)0), "unknown");
    cr_assert_str_eq(cairn_trace_type_name((cairn_trace_type)7), "unknown");
    cr_assert_str_eq(cairn_trace_status_name(CAIRN_TRACE_UNFINISHED), "unfinished");
    cr_assert_str_eq(cairn_trace_status_name(CAIRN_TRACE_OK), "ok");
    cr_assert_str_eq(cairn_trace_status_name(CAIRN_TRACE_FAILED), "error");
    cr_assert_str_eq(cairn_trace_status_name((cairn_trace_status)9), "unknown");
}

Test(tracestore, free_functions_and_spec_init_accept_null)
{
    cairn_trace_free(NULL);
    cairn_trace_list_free(NULL);
    cairn_trace_tree_free(NULL);
    cairn_trace_spec_init(NULL);
}

/* Puts `value` under the trace key [run_a][0x04][rest] (an index entry
 * with a value, or a stored trace of the test's making). */
static void tamper_value(cairn_db *db, const uint8_t *rest, size_t len, const void *value,
                         size_t vlen)
{
    cairn_key k = test_key_bytes(&run_a, CAIRN_TAG_TRACE, rest, len);
    cairn_txn *txn;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_txn_put(txn, &k, cairn_slice_of(value, vlen)));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

/* Stored trace "t": query type, unfinished, no tags, start 7, no parent or
 * name, empty payload (docs/FORMAT.md, "Stored trace"). */
static const uint8_t stored_t[] = {1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0,
                                   0, 0, 0, 0, 1, 't', 0, 0, 0, 0, 0, 0};
static const uint8_t record_key_t[] = {0x01, 0, 1, 't'};

Test(tracestore, a_malformed_stored_trace_is_corrupt_to_every_reader)
{
    cairn_db *db = open_mem();
    record_id(db, &run_a, "t", NULL, CAIRN_TRACE_QUERY, 7, "db");
    cairn_trace t;
    cairn_trace_list l;
    cairn_trace_tree tree;
    cairn_trace_id id;

    /* the hand-made encoding of the same trace reads back as it */
    tamper_value(db, record_key_t, sizeof record_key_t, stored_t, sizeof stored_t);
    ASSERT_OK(cairn_trace_get(db, &run_a, test_str("t"), &t));
    cr_assert_eq(t.v.type, CAIRN_TRACE_QUERY);
    cr_assert_eq(t.v.start_us, 7);
    cairn_trace_free(&t);

    const uint8_t one_byte[] = {1};
    tamper_value(db, record_key_t, sizeof record_key_t, one_byte, sizeof one_byte);
    cr_assert_eq(cairn_trace_get(db, &run_a, test_str("t"), &t), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "malformed") != NULL, "%s", db_msg(db));
    cr_assert_eq(cairn_trace_by_time(db, &run_a, 0, 100, NULL, 5, &l), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "stored trace is malformed") != NULL, "%s", db_msg(db));
    cr_assert_eq(l.n, 0);
    cr_assert_eq(cairn_trace_by_tag(db, &run_a, test_str("db"), NULL, 5, &l), CAIRN_CORRUPT);
    cr_assert_eq(cairn_trace_get_tree(db, &run_a, test_str("t"), 5, 5, &tree), CAIRN_CORRUPT);
    cr_assert_eq(cairn_trace_finish(db, &run_a, test_str("t"), CAIRN_TRACE_OK, 0), CAIRN_CORRUPT);
    cairn_trace_spec s = spec_of(CAIRN_TRACE_THOUGHT, "n", 9, NULL, 0, "");
    cr_assert_eq(cairn_trace_record_child(db, &run_a, test_str("t"), &s, &id), CAIRN_CORRUPT);
    cr_assert_str_eq(first_problem(db), "the stored trace cannot be decoded");

    /* each way the bytes can fail to be a trace */
    uint8_t v[64];
    struct {
        size_t at;    /* byte of stored_t to change */
        uint8_t byte; /* to this */
        const char *what;
    } edits[] = {
        {0, 2, "an unknown format"},
        {1, 0, "type 0"},
        {2, 3, "an unknown status"},
        {3, 65, "too many tags"},
        {20, 9, "an id running past the end"},
        {27, 5, "a payload length past the end"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(v, stored_t, sizeof stored_t);
        v[edits[i].at] = edits[i].byte;
        tamper_value(db, record_key_t, sizeof record_key_t, v, sizeof stored_t);
        cr_assert_eq(cairn_trace_get(db, &run_a, test_str("t"), &t), CAIRN_CORRUPT, "%s",
                     edits[i].what);
    }
    /* an empty id: [20] 0, then empty parent and name and the payload length */
    memset(v, 0, sizeof v);
    memcpy(v, stored_t, 20);
    tamper_value(db, record_key_t, sizeof record_key_t, v, 27);
    cr_assert_eq(cairn_trace_get(db, &run_a, test_str("t"), &t), CAIRN_CORRUPT);
    /* one tag announced: empty, or running past the end */
    memcpy(v, stored_t, 24);
    v[3] = 1;
    v[24] = 0; /* tag length 0 */
    memset(v + 25, 0, 4);
    tamper_value(db, record_key_t, sizeof record_key_t, v, 29);
    cr_assert_eq(cairn_trace_get(db, &run_a, test_str("t"), &t), CAIRN_CORRUPT);
    v[24] = 9;
    tamper_value(db, record_key_t, sizeof record_key_t, v, 29);
    cr_assert_eq(cairn_trace_get(db, &run_a, test_str("t"), &t), CAIRN_CORRUPT);
    /* a name of 3 bytes and then no room for the payload length */
    memcpy(v, stored_t, 23);
    v[23] = 3;
    memcpy(v + 24, "abc", 3);
    tamper_value(db, record_key_t, sizeof record_key_t, v, 27);
    cr_assert_eq(cairn_trace_get(db, &run_a, test_str("t"), &t), CAIRN_CORRUPT);
    cairn_db_close(db);
}

Test(tracestore, queries_and_trees_report_damaged_index_entries_as_corrupt)
{
    cairn_db *db = open_mem();
    record_id(db, &run_a, "r", NULL, CAIRN_TRACE_DECISION, 100, NULL);
    record_id(db, &run_a, "c", "r", CAIRN_TRACE_THOUGHT, 110, NULL);
    cairn_trace_list l;
    cairn_trace_tree tree;

    /* a by-time entry whose id field is empty */
    const uint8_t no_id[] = {0x02, 0, 0, 0, 0, 0, 0, 0, 50, 0, 0};
    tamper(db, no_id, sizeof no_id, false);
    cr_assert_eq(cairn_trace_by_time(db, &run_a, 0, 1000, NULL, 5, &l), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "malformed index key") != NULL, "%s", db_msg(db));
    tamper(db, no_id, sizeof no_id, true);
    /* a by-time entry naming no trace */
    const uint8_t dangling[] = {0x02, 0, 0, 0, 0, 0, 0, 0, 60, 0, 1, 'z'};
    tamper(db, dangling, sizeof dangling, false);
    cr_assert_eq(cairn_trace_by_time(db, &run_a, 0, 1000, NULL, 5, &l), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "points at no trace") != NULL, "%s", db_msg(db));
    tamper(db, dangling, sizeof dangling, true);
    ASSERT_OK(cairn_trace_by_time(db, &run_a, 0, 1000, NULL, 5, &l));
    cr_assert_eq(l.n, 2);
    cairn_trace_list_free(&l);

    /* under "r" in the by-parent index: an entry without an id, then one
     * naming no trace */
    const uint8_t child_no_id[] = {0x05, 0, 1, 'r', 0, 0, 0, 0, 0, 0, 0, 120, 0, 0};
    tamper(db, child_no_id, sizeof child_no_id, false);
    cr_assert_eq(cairn_trace_get_tree(db, &run_a, test_str("r"), 5, 5, &tree), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "malformed index key") != NULL, "%s", db_msg(db));
    tamper(db, child_no_id, sizeof child_no_id, true);
    const uint8_t child_dangling[] = {0x05, 0, 1, 'r', 0, 0, 0, 0, 0, 0, 0, 120, 0, 1, 'z'};
    tamper(db, child_dangling, sizeof child_dangling, false);
    cr_assert_eq(cairn_trace_get_tree(db, &run_a, test_str("r"), 5, 5, &tree), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "points at no trace") != NULL, "%s", db_msg(db));
    tamper(db, child_dangling, sizeof child_dangling, true);
    ASSERT_OK(cairn_trace_get_tree(db, &run_a, test_str("r"), 5, 5, &tree));
    cr_assert_eq(tree.n, 2);
    cairn_trace_tree_free(&tree);
    check_ok(db, &run_a);
    cairn_db_close(db);
}

Test(tracestore, the_checker_reports_malformed_keys_foreign_records_and_stray_values)
{
    cairn_db *db = open_mem();
    record_id(db, &run_a, "t", NULL, CAIRN_TRACE_QUERY, 7, NULL);
    check_ok(db, &run_a);
    static const struct {
        uint8_t rest[8];
        size_t len;
    } malformed[] = {
        {{0x03}, 1},                /* by-type without the type */
        {{0x04, 0}, 2},             /* by-tag with half a field length */
        {{0x04, 0, 9, 'a'}, 4},     /* by-tag field past the key's end */
        {{0x02, 1, 2, 3}, 4},       /* by-time without a whole tail */
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        tamper(db, malformed[i].rest, malformed[i].len, false);
        cr_assert_str_eq(first_problem(db), "a malformed index key", "entry %zu", i);
        tamper(db, malformed[i].rest, malformed[i].len, true);
    }
    /* a trace key whose id field disagrees with its length */
    const uint8_t bad_record_key[] = {0x01, 0, 5, 'a'};
    tamper(db, bad_record_key, sizeof bad_record_key, false);
    cr_assert_str_eq(first_problem(db), "a malformed trace key");
    tamper(db, bad_record_key, sizeof bad_record_key, true);
    /* trace "t" stored again under id "u" */
    const uint8_t record_key_u[] = {0x01, 0, 1, 'u'};
    tamper_value(db, record_key_u, sizeof record_key_u, stored_t, sizeof stored_t);
    cr_assert_str_eq(first_problem(db), "the stored trace carries another id than its key");
    tamper(db, record_key_u, sizeof record_key_u, true);
    /* an index entry with a value */
    const uint8_t time_entry[] = {0x02, 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 't'};
    tamper_value(db, time_entry, sizeof time_entry, "x", 1);
    cr_assert_str_eq(first_problem(db), "its by-time index entry has a value");
    tamper(db, time_entry, sizeof time_entry, false);
    check_ok(db, &run_a);
    /* a trace naming one tag twice needs one entry more than the index has */
    uint8_t twice[sizeof stored_t + 4];
    memcpy(twice, stored_t, 24);
    twice[3] = 2;
    memcpy(twice + 24, (const uint8_t[]){1, 'a', 1, 'a'}, 4);
    memset(twice + 28, 0, 4);
    tamper_value(db, record_key_t, sizeof record_key_t, twice, sizeof twice);
    const uint8_t tag_entry[] = {0x04, 0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 7, 0, 1, 't'};
    tamper(db, tag_entry, sizeof tag_entry, false);
    cr_assert_str_eq(first_problem(db), "the index holds 4, not 5 entries");
    /* a child whose parent's record is gone */
    tamper_value(db, record_key_t, sizeof record_key_t, stored_t, sizeof stored_t);
    tamper(db, tag_entry, sizeof tag_entry, true);
    record_id(db, &run_a, "k", "t", CAIRN_TRACE_THOUGHT, 8, NULL);
    check_ok(db, &run_a);
    tamper(db, record_key_t, sizeof record_key_t, true);
    cr_assert_str_eq(first_problem(db), "its parent is not a trace of the run");
    cairn_db_close(db);
}

Test(tracestore, a_record_past_max_txn_ops_fails_whole_at_every_write)
{
    /* a trace with one tag is five writes: the trace, by-time, by-type,
     * by-parent and by-tag */
    for (uint32_t ops = 1; ops <= 5; ops++) {
        cairn_options o;
        cairn_options_init(&o);
        o.max_txn_ops = ops;
        cairn_db *db = test_open(&o);
        cairn_slice tags[1] = {test_str("db")};
        cairn_trace_spec s = spec_of(CAIRN_TRACE_QUERY, "n", 7, tags, 1, "");
        cairn_status st = cairn_trace_record_id(db, &run_a, test_str("t"), cairn_slice_of(NULL, 0), &s);
        cairn_trace t;
        if (ops < 5) {
            cr_assert_eq(st, CAIRN_TOO_LARGE, "max_txn_ops %u: %s", ops, cairn_status_name(st));
            cr_assert_eq(cairn_trace_get(db, &run_a, test_str("t"), &t), CAIRN_NOT_FOUND);
        } else {
            ASSERT_OK(st);
            ASSERT_OK(cairn_trace_get(db, &run_a, test_str("t"), &t));
            cairn_trace_free(&t);
            check_ok(db, &run_a);
        }
        cairn_db_close(db);
    }
}

Test(tracestore, times_stay_in_order_when_the_clock_is_behind)
{
    cairn_db *db = open_mem();
    cairn_trace t;
    /* a clock before the epoch: a trace without a start begins at 0 */
    fake_clock_set(&clk, -5);
    cairn_trace_spec s = spec_of(CAIRN_TRACE_THOUGHT, "n", 0, NULL, 0, "");
    ASSERT_OK(cairn_trace_record_id(db, &run_a, test_str("early"), cairn_slice_of(NULL, 0), &s));
    ASSERT_OK(cairn_trace_get(db, &run_a, test_str("early"), &t));
    cr_assert_eq(t.v.start_us, 0);
    cairn_trace_free(&t);
    /* finishing on the clock before a caller-given start ends at the start */
    fake_clock_set(&clk, 500);
    s.start_us = 1000;
    ASSERT_OK(cairn_trace_record_id(db, &run_a, test_str("late"), cairn_slice_of(NULL, 0), &s));
    ASSERT_OK(cairn_trace_finish(db, &run_a, test_str("late"), CAIRN_TRACE_OK, 0));
    ASSERT_OK(cairn_trace_get(db, &run_a, test_str("late"), &t));
    cr_assert_eq(t.v.end_us, 1000);
    cr_assert_eq(t.v.status, CAIRN_TRACE_OK);
    cairn_trace_free(&t);
    check_ok(db, &run_a);
    cairn_db_close(db);
}

Test(tracestore, tx_forms_refuse_null_outputs_and_answer_empty_ranges)
{
    cairn_db *db = open_mem();
    record_id(db, &run_a, "t", NULL, CAIRN_TRACE_QUERY, 7, NULL);
    cairn_txn *txn;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_trace_list l;
    cairn_trace_tree tree;
    cairn_trace_report rep;
    cr_assert_eq(cairn_trace_get_tx(txn, &run_a, test_str("t"), NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "trp is NULL") != NULL);
    cr_assert_eq(cairn_trace_by_time_tx(txn, &run_a, 0, 10, NULL, 5, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "listp is NULL") != NULL);
    cr_assert_eq(cairn_trace_by_time_tx(txn, NULL, 0, 10, NULL, 5, &l), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_get_tree_tx(txn, NULL, test_str("t"), 5, 5, &tree), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_get_tree_tx(txn, &run_a, test_str("t"), 5, 5, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "treep is NULL") != NULL);
    cr_assert_eq(cairn_trace_get_tree_tx(txn, &run_a, cairn_slice_of(NULL, 0), 5, 5, &tree),
                 CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_trace_check_tx(txn, &run_a, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "reportp is NULL") != NULL);
    cr_assert_eq(cairn_trace_check_tx(txn, NULL, &rep), CAIRN_INVALID_ARGUMENT);
    /* a cursor at or past the end of a time range leaves nothing to list */
    cairn_trace_cursor cur = {.set = true, .start_us = 200, .id = {.len = 1, .bytes = {'z'}}};
    ASSERT_OK(cairn_trace_by_time_tx(txn, &run_a, 0, 100, &cur, 5, &l));
    cr_assert_eq(l.n, 0);
    cr_assert(!l.more);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    cairn_db_close(db);
}

Test(tracestore, an_empty_parent_id_records_a_root_whatever_its_pointer)
{
    cairn_db *db = open_mem();
    cairn_trace_spec s = spec_of(CAIRN_TRACE_THOUGHT, "n", 0, NULL, 0, "");
    ASSERT_OK(cairn_trace_record_id(db, &run_a, test_str("r1"), cairn_slice_of(NULL, 0), &s));
    ASSERT_OK(cairn_trace_record_id(db, &run_a, test_str("r2"), cairn_slice_of("", 0), &s));
    cairn_trace_list l;
    ASSERT_OK(cairn_trace_roots(db, &run_a, NULL, 10, &l));
    const char *ids[] = {"r1", "r2"};
    assert_ids(&l, ids, 2);
    cairn_trace_list_free(&l);
    /* a child still needs a real parent */
    ASSERT_STATUS(cairn_trace_record_child(db, &run_a, cairn_slice_of("", 0), &s, NULL),
                  CAIRN_INVALID_ARGUMENT);
    check_ok(db, &run_a);
    test_close(db);
}
