/*
 * RunIndex: creating and reading runs, every pair of statuses against the
 * transition table, the named transitions, tags and metadata, every query
 * with its ordering and cursors, bad input, the `_tx` forms inside one
 * transaction, the cascading delete (checked by a full scan of the store,
 * and all or nothing when the process is killed with SIGKILL), and the
 * index checker after random workloads, tampering and reopen.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static fake_clock clk;

TestSuite(runindex);

static cairn_db *open_mem(void)
{
    cairn_options o;
    cairn_options_init(&o);
    fake_clock_install(&clk, &o);
    cairn_db *db = NULL;
    HELPER_CHECK(cairn_db_open(NULL, &o, &db, NULL, 0));
    return db;
}

static char *db_msg(cairn_db *db)
{
    static char buf[512];
    cairn_db_errmsg(db, buf, sizeof buf);
    return buf;
}

static void check_ok(cairn_db *db)
{
    cairn_run_report r;
    ASSERT_OK(cairn_run_check(db, &r));
    cr_assert(r.ok, "check: %s", r.why);
}

static cairn_run_id create(cairn_db *db, const char *name, const cairn_run_id *parent, const char *tag)
{
    cairn_run_spec s;
    cairn_run_spec_init(&s);
    cairn_slice tags[1] = {test_str(tag ? tag : "x")};
    if (name)
        s.name = test_str(name);
    s.parent = parent;
    s.tags = tags;
    s.ntags = tag ? 1 : 0;
    cairn_run_id id;
    ASSERT_OK(cairn_run_create(db, &s, &id));
    return id;
}

static cairn_run_status status_of(cairn_db *db, const cairn_run_id *id)
{
    cairn_run r;
    ASSERT_OK(cairn_run_get(db, id, &r));
    cairn_run_status s = r.v.status;
    cairn_run_free(&r);
    return s;
}

static bool same_id(const cairn_run_id *a, const cairn_run_id *b)
{
    return memcmp(a->bytes, b->bytes, CAIRN_RUN_ID_SIZE) == 0;
}

static void assert_ids(const cairn_run_list *l, const cairn_run_id *ids, size_t n)
{
    cr_assert_eq(l->n, n, "got %zu runs, want %zu", l->n, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(same_id(&l->items[i].id, &ids[i]), "item %zu is another run", i);
}

/* ---- create and read --------------------------------------------------------- */

Test(runindex, create_stores_every_field_and_get_reads_it_back)
{
    cairn_db *db = open_mem();
    cairn_run_id parent = create(db, "parent", NULL, NULL);
    fake_clock_advance(&clk, 5);
    cairn_slice tags[2] = {test_str("prod"), test_str("eval")};
    cairn_run_spec s;
    cairn_run_spec_init(&s);
    s.name = test_str("child");
    s.parent = &parent;
    s.tags = tags;
    s.ntags = 2;
    s.metadata = test_str("{\"model\":\"x\"}");
    cairn_run_id id;
    ASSERT_OK(cairn_run_create(db, &s, &id));
    cr_assert(!cairn_run_id_is_zero(&id));

    cairn_run r;
    ASSERT_OK(cairn_run_get(db, &id, &r));
    cr_assert(same_id(&r.v.id, &id));
    cr_assert_eq(r.v.status, CAIRN_RUN_ACTIVE);
    cr_assert(r.v.has_parent);
    cr_assert(same_id(&r.v.parent, &parent));
    cr_assert_eq(r.v.created_us, FAKE_CLOCK_START_US + 5);
    cr_assert_eq(r.v.updated_us, FAKE_CLOCK_START_US + 5);
    cr_assert_eq(r.v.finished_us, 0);
    ASSERT_SLICE_STR(r.v.name, "child");
    cr_assert_eq(r.v.ntags, 2);
    ASSERT_SLICE_STR(r.v.tags[0], "prod");
    ASSERT_SLICE_STR(r.v.tags[1], "eval");
    ASSERT_SLICE_STR(r.v.metadata, "{\"model\":\"x\"}");
    cr_assert_eq(r.v.error.len, 0);
    cairn_run_free(&r);
    cairn_run_free(&r); /* idempotent */

    cairn_run byname;
    ASSERT_OK(cairn_run_get_by_name(db, test_str("child"), &byname));
    cr_assert(same_id(&byname.v.id, &id));
    cairn_run_free(&byname);

    ASSERT_OK(cairn_run_get(db, &parent, &r));
    cr_assert(!r.v.has_parent);
    cr_assert(cairn_run_id_is_zero(&r.v.parent));
    cairn_run_free(&r);

    cairn_run_id plain;
    ASSERT_OK(cairn_run_create(db, NULL, &plain));
    ASSERT_OK(cairn_run_get(db, &plain, &r));
    cr_assert_eq(r.v.name.len, 0);
    cr_assert_eq(r.v.ntags, 0);
    cr_assert_eq(r.v.metadata.len, 0);
    cairn_run_free(&r);
    check_ok(db);
    test_close(db);
}

Test(runindex, names_are_unique_and_parents_must_exist)
{
    cairn_db *db = open_mem();
    create(db, "a", NULL, NULL);
    cairn_run_spec s;
    cairn_run_spec_init(&s);
    s.name = test_str("a");
    ASSERT_STATUS(cairn_run_create(db, &s, NULL), CAIRN_EXISTS);
    cr_assert(strstr(db_msg(db), "name") != NULL, "%s", db_msg(db));

    cairn_run_id ghost = test_run(0x42, 1);
    cairn_run_spec_init(&s);
    s.parent = &ghost;
    ASSERT_STATUS(cairn_run_create(db, &s, NULL), CAIRN_NOT_FOUND);
    ASSERT_STATUS(cairn_run_get(db, &ghost, &(cairn_run){0}), CAIRN_NOT_FOUND);
    ASSERT_STATUS(cairn_run_get_by_name(db, test_str("nobody"), &(cairn_run){0}), CAIRN_NOT_FOUND);

    /* a deleted run frees its name */
    cairn_run r;
    ASSERT_OK(cairn_run_get_by_name(db, test_str("a"), &r));
    ASSERT_OK(cairn_run_delete(db, &r.v.id, 0));
    cairn_run_free(&r);
    create(db, "a", NULL, NULL);
    check_ok(db);
    test_close(db);
}

/* ---- statuses ------------------------------------------------------------------ */

/* The table in DESIGN.md, written out independently of the code. */
static const bool table[7][7] = {
    [CAIRN_RUN_ACTIVE] = {[CAIRN_RUN_PAUSED] = 1, [CAIRN_RUN_COMPLETED] = 1, [CAIRN_RUN_FAILED] = 1,
                          [CAIRN_RUN_CANCELLED] = 1, [CAIRN_RUN_ARCHIVED] = 1},
    [CAIRN_RUN_PAUSED] = {[CAIRN_RUN_ACTIVE] = 1, [CAIRN_RUN_CANCELLED] = 1, [CAIRN_RUN_ARCHIVED] = 1},
    [CAIRN_RUN_COMPLETED] = {[CAIRN_RUN_ARCHIVED] = 1},
    [CAIRN_RUN_FAILED] = {[CAIRN_RUN_ARCHIVED] = 1},
    [CAIRN_RUN_CANCELLED] = {[CAIRN_RUN_ARCHIVED] = 1},
};

/* A fresh run brought to `s` by allowed steps. */
static cairn_run_id run_in(cairn_db *db, cairn_run_status s)
{
    cairn_run_id id = create(db, NULL, NULL, "t");
    if (s == CAIRN_RUN_ACTIVE)
        return id;
    ASSERT_OK(cairn_run_update_status(db, &id, s));
    cr_assert_eq(status_of(db, &id), s);
    return id;
}

Test(runindex, every_pair_of_statuses_follows_the_transition_table)
{
    cairn_db *db = open_mem();
    int allowed = 0;
    for (int from = CAIRN_RUN_ACTIVE; from <= CAIRN_RUN_ARCHIVED; from++) {
        for (int to = CAIRN_RUN_ACTIVE; to <= CAIRN_RUN_ARCHIVED; to++) {
            cairn_run_id id = run_in(db, (cairn_run_status)from);
            cairn_run before;
            ASSERT_OK(cairn_run_get(db, &id, &before));
            fake_clock_advance(&clk, 10);
            cairn_status st = cairn_run_update_status(db, &id, (cairn_run_status)to);
            cr_assert_eq(cairn_run_transition_allowed((cairn_run_status)from, (cairn_run_status)to),
                         table[from][to]);
            if (table[from][to]) {
                allowed++;
                cr_assert_eq(st, CAIRN_OK, "%d -> %d: %s", from, to, cairn_status_name(st));
                cr_assert_eq((int)status_of(db, &id), to);
            } else {
                cr_assert_eq(st, CAIRN_INVALID_TRANSITION, "%d -> %d: %s", from, to,
                             cairn_status_name(st));
                char want[128];
                snprintf(want, sizeof want, "from %s to %s", cairn_run_status_name((cairn_run_status)from),
                         cairn_run_status_name((cairn_run_status)to));
                cr_assert(strstr(db_msg(db), want) != NULL, "%s", db_msg(db));
                cairn_run after;
                ASSERT_OK(cairn_run_get(db, &id, &after));
                cr_assert_eq((int)after.v.status, from);
                cr_assert_eq(after.v.updated_us, before.v.updated_us);
                cairn_run_free(&after);
            }
            cairn_run_free(&before);
        }
    }
    cr_assert_eq(allowed, 5 + 3 + 3);
    check_ok(db);
    test_close(db);
}

Test(runindex, named_transitions_set_status_times_and_the_error)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, NULL, NULL, NULL);
    fake_clock_advance(&clk, 100);
    ASSERT_OK(cairn_run_pause(db, &a));
    cr_assert_eq(status_of(db, &a), CAIRN_RUN_PAUSED);
    ASSERT_OK(cairn_run_resume(db, &a));
    cr_assert_eq(status_of(db, &a), CAIRN_RUN_ACTIVE);
    ASSERT_STATUS(cairn_run_resume(db, &a), CAIRN_INVALID_TRANSITION);
    fake_clock_advance(&clk, 100);
    ASSERT_OK(cairn_run_complete(db, &a));
    cairn_run r;
    ASSERT_OK(cairn_run_get(db, &a, &r));
    cr_assert_eq(r.v.status, CAIRN_RUN_COMPLETED);
    cr_assert_eq(r.v.finished_us, FAKE_CLOCK_START_US + 200);
    cr_assert_eq(r.v.updated_us, FAKE_CLOCK_START_US + 200);
    cairn_run_free(&r);
    fake_clock_advance(&clk, 100);
    ASSERT_OK(cairn_run_archive(db, &a));
    ASSERT_OK(cairn_run_get(db, &a, &r));
    cr_assert_eq(r.v.status, CAIRN_RUN_ARCHIVED);
    cr_assert_eq(r.v.finished_us, FAKE_CLOCK_START_US + 200, "archiving keeps the finish time");
    cr_assert_eq(r.v.updated_us, FAKE_CLOCK_START_US + 300);
    cairn_run_free(&r);
    ASSERT_STATUS(cairn_run_archive(db, &a), CAIRN_INVALID_TRANSITION);

    cairn_run_id b = create(db, NULL, NULL, NULL);
    ASSERT_OK(cairn_run_fail(db, &b, test_str("tool timed out")));
    ASSERT_OK(cairn_run_get(db, &b, &r));
    cr_assert_eq(r.v.status, CAIRN_RUN_FAILED);
    ASSERT_SLICE_STR(r.v.error, "tool timed out");
    cr_assert_eq(r.v.finished_us, FAKE_CLOCK_START_US + 300);
    cairn_run_free(&r);
    ASSERT_STATUS(cairn_run_fail(db, &b, test_str("again")), CAIRN_INVALID_TRANSITION);
    ASSERT_OK(cairn_run_archive(db, &b));
    ASSERT_OK(cairn_run_get(db, &b, &r));
    ASSERT_SLICE_STR(r.v.error, "tool timed out");
    cairn_run_free(&r);

    cairn_run_id c = create(db, NULL, NULL, NULL);
    ASSERT_OK(cairn_run_pause(db, &c));
    ASSERT_STATUS(cairn_run_complete(db, &c), CAIRN_INVALID_TRANSITION);
    ASSERT_OK(cairn_run_cancel(db, &c));
    cr_assert_eq(status_of(db, &c), CAIRN_RUN_CANCELLED);
    ASSERT_STATUS(cairn_run_pause(db, &c), CAIRN_INVALID_TRANSITION);

    char big[CAIRN_RUN_ERROR_MAX + 1];
    memset(big, 'e', sizeof big);
    cairn_run_id d = create(db, NULL, NULL, NULL);
    ASSERT_STATUS(cairn_run_fail(db, &d, cairn_slice_of(big, sizeof big)), CAIRN_TOO_LARGE);
    ASSERT_OK(cairn_run_fail(db, &d, cairn_slice_of(big, CAIRN_RUN_ERROR_MAX)));
    cairn_run_id ghost = test_run(0x55, 5);
    ASSERT_STATUS(cairn_run_complete(db, &ghost), CAIRN_NOT_FOUND);
    check_ok(db);
    test_close(db);
}

/* ---- tags and metadata ------------------------------------------------------------ */

Test(runindex, tags_are_added_and_removed_with_their_index_entries)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, NULL, NULL, "one");
    ASSERT_OK(cairn_run_add_tag(db, &a, test_str("two")));
    ASSERT_STATUS(cairn_run_add_tag(db, &a, test_str("two")), CAIRN_EXISTS);
    ASSERT_STATUS(cairn_run_remove_tag(db, &a, test_str("three")), CAIRN_NOT_FOUND);
    cairn_run_list l;
    ASSERT_OK(cairn_run_by_tag(db, test_str("two"), NULL, 10, &l));
    assert_ids(&l, &a, 1);
    cairn_run_list_free(&l);
    ASSERT_OK(cairn_run_by_status_tag(db, CAIRN_RUN_ACTIVE, test_str("two"), NULL, 10, &l));
    assert_ids(&l, &a, 1);
    cairn_run_list_free(&l);

    ASSERT_OK(cairn_run_remove_tag(db, &a, test_str("one")));
    ASSERT_OK(cairn_run_by_tag(db, test_str("one"), NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cairn_run_list_free(&l);
    cairn_run r;
    ASSERT_OK(cairn_run_get(db, &a, &r));
    cr_assert_eq(r.v.ntags, 1);
    ASSERT_SLICE_STR(r.v.tags[0], "two");
    cairn_run_free(&r);

    /* tags and metadata change in every status, archived too */
    ASSERT_OK(cairn_run_archive(db, &a));
    ASSERT_OK(cairn_run_add_tag(db, &a, test_str("old")));
    ASSERT_OK(cairn_run_by_status_tag(db, CAIRN_RUN_ARCHIVED, test_str("two"), NULL, 10, &l));
    assert_ids(&l, &a, 1);
    cairn_run_list_free(&l);
    ASSERT_OK(cairn_run_by_status_tag(db, CAIRN_RUN_ACTIVE, test_str("two"), NULL, 10, &l));
    cr_assert_eq(l.n, 0);
    cairn_run_list_free(&l);

    cairn_run_id b = create(db, NULL, NULL, NULL);
    for (unsigned i = 0; i < CAIRN_RUN_TAGS_MAX; i++) {
        char t[16];
        snprintf(t, sizeof t, "t%u", i);
        ASSERT_OK(cairn_run_add_tag(db, &b, test_str(t)));
    }
    ASSERT_STATUS(cairn_run_add_tag(db, &b, test_str("one-more")), CAIRN_TOO_LARGE);
    ASSERT_STATUS(cairn_run_add_tag(db, &b, cairn_slice_of(NULL, 0)), CAIRN_INVALID_ARGUMENT);
    char big[CAIRN_RUN_TAG_MAX + 1];
    memset(big, 'g', sizeof big);
    ASSERT_STATUS(cairn_run_add_tag(db, &a, cairn_slice_of(big, sizeof big)), CAIRN_TOO_LARGE);
    check_ok(db);
    test_close(db);
}

Test(runindex, metadata_is_replaced_whole)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, "m", NULL, "x");
    fake_clock_advance(&clk, 7);
    ASSERT_OK(cairn_run_set_metadata(db, &a, test_str("first")));
    ASSERT_OK(cairn_run_set_metadata(db, &a, test_str("2nd")));
    cairn_run r;
    ASSERT_OK(cairn_run_get(db, &a, &r));
    ASSERT_SLICE_STR(r.v.metadata, "2nd");
    ASSERT_SLICE_STR(r.v.name, "m");
    cr_assert_eq(r.v.updated_us, FAKE_CLOCK_START_US + 7);
    cairn_run_free(&r);
    ASSERT_OK(cairn_run_set_metadata(db, &a, cairn_slice_of(NULL, 0)));
    ASSERT_OK(cairn_run_get(db, &a, &r));
    cr_assert_eq(r.v.metadata.len, 0);
    cairn_run_free(&r);
    check_ok(db);
    test_close(db);
}

/* ---- queries ------------------------------------------------------------------------ */

/* Pages through a query `limit` at a time; returns the number of runs. */
typedef cairn_status (*query_fn)(cairn_db *db, const cairn_run_cursor *after, size_t limit,
                                 cairn_run_list *listp, void *ctx);

static size_t page_all(cairn_db *db, query_fn q, void *ctx, size_t limit, cairn_run_id *out, size_t cap)
{
    cairn_run_cursor cur = {0};
    size_t n = 0;
    for (;;) {
        cairn_run_list l;
        ASSERT_OK(q(db, &cur, limit, &l, ctx));
        cr_assert(l.n <= limit);
        for (size_t i = 0; i < l.n; i++) {
            cr_assert(n < cap);
            if (n)
                cr_assert(memcmp(out[n - 1].bytes, l.items[i].id.bytes, CAIRN_RUN_ID_SIZE) < 0,
                          "runs come in creation order");
            out[n++] = l.items[i].id;
        }
        bool more = l.more;
        cur = l.next;
        cairn_run_list_free(&l);
        if (!more)
            return n;
    }
}

static cairn_status q_all(cairn_db *db, const cairn_run_cursor *a, size_t lim, cairn_run_list *l, void *c)
{
    (void)c;
    return cairn_run_list_all(db, a, lim, l);
}

static cairn_status q_status(cairn_db *db, const cairn_run_cursor *a, size_t lim, cairn_run_list *l, void *c)
{
    return cairn_run_by_status(db, *(cairn_run_status *)c, a, lim, l);
}

static cairn_status q_tag(cairn_db *db, const cairn_run_cursor *a, size_t lim, cairn_run_list *l, void *c)
{
    return cairn_run_by_tag(db, test_str(c), a, lim, l);
}

static cairn_status q_status_tag(cairn_db *db, const cairn_run_cursor *a, size_t lim, cairn_run_list *l,
                                 void *c)
{
    (void)c;
    return cairn_run_by_status_tag(db, CAIRN_RUN_COMPLETED, test_str("even"), a, lim, l);
}

static cairn_status q_children(cairn_db *db, const cairn_run_cursor *a, size_t lim, cairn_run_list *l,
                               void *c)
{
    return cairn_run_children(db, c, a, lim, l);
}

static cairn_status q_time(cairn_db *db, const cairn_run_cursor *a, size_t lim, cairn_run_list *l, void *c)
{
    const int64_t *r = c;
    return cairn_run_by_time(db, r[0], r[1], a, lim, l);
}

Test(runindex, every_query_pages_in_creation_order)
{
    cairn_db *db = open_mem();
    enum { N = 60 };
    cairn_run_id ids[N], got[N + 1], want[N];
    cairn_run_id root = create(db, "root", NULL, NULL);
    for (int i = 0; i < N; i++) {
        fake_clock_advance(&clk, (i % 3) ? 0 : 10); /* ties in time are broken by id */
        ids[i] = create(db, NULL, i % 2 ? &root : NULL, i % 2 ? "odd" : "even");
        if (i % 4 == 0)
            ASSERT_OK(cairn_run_complete(db, &ids[i]));
    }
    for (size_t limit = 1; limit <= 64; limit = limit * 3 + 1) {
        size_t n = page_all(db, q_all, NULL, limit, got, N + 1);
        cr_assert_eq(n, N + 1);
        cr_assert(same_id(&got[0], &root));
        for (int i = 0; i < N; i++)
            cr_assert(same_id(&got[i + 1], &ids[i]));

        cairn_run_status st = CAIRN_RUN_COMPLETED;
        size_t w = 0;
        for (int i = 0; i < N; i += 4)
            want[w++] = ids[i];
        cr_assert_eq(page_all(db, q_status, &st, limit, got, N), w);
        for (size_t i = 0; i < w; i++)
            cr_assert(same_id(&got[i], &want[i]));
        cr_assert_eq(page_all(db, q_status_tag, NULL, limit, got, N), w);
        for (size_t i = 0; i < w; i++)
            cr_assert(same_id(&got[i], &want[i]));

        w = 0;
        for (int i = 1; i < N; i += 2)
            want[w++] = ids[i];
        cr_assert_eq(page_all(db, q_tag, "odd", limit, got, N), w);
        for (size_t i = 0; i < w; i++)
            cr_assert(same_id(&got[i], &want[i]));
        cr_assert_eq(page_all(db, q_children, &root, limit, got, N), w);
        for (size_t i = 0; i < w; i++)
            cr_assert(same_id(&got[i], &want[i]));
    }
    /* created in [start + 20, start + 50): runs 3..14 (created at +20, +30, +40) */
    int64_t range[2] = {FAKE_CLOCK_START_US + 20, FAKE_CLOCK_START_US + 50};
    size_t n = page_all(db, q_time, range, 5, got, N);
    cr_assert_eq(n, 9);
    for (size_t i = 0; i < n; i++)
        cr_assert(same_id(&got[i], &ids[3 + i]));
    cairn_run_list l;
    ASSERT_OK(cairn_run_by_time(db, 50, 50, NULL, 5, &l));
    cr_assert_eq(l.n, 0);
    cr_assert(!l.more);
    cairn_run_list_free(&l);

    uint64_t c;
    ASSERT_OK(cairn_run_count(db, CAIRN_RUN_COMPLETED, &c));
    cr_assert_eq(c, 15);
    ASSERT_OK(cairn_run_count(db, CAIRN_RUN_ACTIVE, &c));
    cr_assert_eq(c, N + 1 - 15);
    ASSERT_OK(cairn_run_count(db, CAIRN_RUN_ARCHIVED, &c));
    cr_assert_eq(c, 0);
    ASSERT_OK(cairn_run_archive(db, &ids[0]));
    ASSERT_OK(cairn_run_count(db, CAIRN_RUN_COMPLETED, &c));
    cr_assert_eq(c, 14);
    ASSERT_OK(cairn_run_count(db, CAIRN_RUN_ARCHIVED, &c));
    cr_assert_eq(c, 1);

    cairn_run_id ghost = test_run(0x66, 6);
    ASSERT_STATUS(cairn_run_children(db, &ghost, NULL, 5, &l), CAIRN_NOT_FOUND);
    check_ok(db);
    test_close(db);
}

/* Two threads race to create the same 40 names: each name is created once. */
typedef struct racer {
    cairn_db *db;
    int created, refused;
} racer;

static void *race_names(void *p)
{
    racer *r = p;
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        cairn_run_spec s;
        cairn_run_spec_init(&s);
        s.name = test_str(name);
        cairn_status st = cairn_run_create(r->db, &s, NULL);
        if (st == CAIRN_OK)
            r->created++;
        else if (st == CAIRN_EXISTS)
            r->refused++;
    }
    return NULL;
}

Test(runindex, concurrent_creates_of_one_name_register_it_once)
{
    cairn_db *db = open_mem();
    racer r[2] = {{db, 0, 0}, {db, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, race_names, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(r[0].created + r[1].created, 40);
    cr_assert_eq(r[0].refused + r[1].refused, 40);
    uint64_t c;
    ASSERT_OK(cairn_run_count(db, CAIRN_RUN_ACTIVE, &c));
    cr_assert_eq(c, 40);
    check_ok(db);
    test_close(db);
}

/* ---- bad input ------------------------------------------------------------------------ */

Test(runindex, bad_input_is_refused_with_a_message)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, NULL, NULL, NULL);
    cairn_run_id zero = test_zero_run();
    cairn_run r;
    cairn_run_list l;
    uint64_t c;
    ASSERT_STATUS(cairn_run_get(db, NULL, &r), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_get(db, &zero, &r), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(db_msg(db), "reserved") != NULL, "%s", db_msg(db));
    ASSERT_STATUS(cairn_run_get(db, &a, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_get(NULL, &a, &r), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_get_by_name(db, cairn_slice_of(NULL, 0), &r), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_get_by_name(db, cairn_slice_of(NULL, 3), &r), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_update_status(db, &a, (cairn_run_status)0), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_update_status(db, &a, (cairn_run_status)7), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_delete(db, &a, 0x80), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_delete(db, &zero, 0), CAIRN_INVALID_ARGUMENT);

    cairn_run_spec s;
    cairn_run_spec_init(&s);
    char big[CAIRN_RUN_NAME_MAX + 1];
    memset(big, 'n', sizeof big);
    s.name = cairn_slice_of(big, sizeof big);
    ASSERT_STATUS(cairn_run_create(db, &s, NULL), CAIRN_TOO_LARGE);
    s.name = cairn_slice_of(big, CAIRN_RUN_NAME_MAX);
    ASSERT_OK(cairn_run_create(db, &s, NULL));
    cairn_run_spec_init(&s);
    cairn_slice dup[2] = {test_str("t"), test_str("t")};
    s.tags = dup;
    s.ntags = 2;
    ASSERT_STATUS(cairn_run_create(db, &s, NULL), CAIRN_INVALID_ARGUMENT);
    s.tags = NULL;
    ASSERT_STATUS(cairn_run_create(db, &s, NULL), CAIRN_INVALID_ARGUMENT);
    s.ntags = CAIRN_RUN_TAGS_MAX + 1;
    ASSERT_STATUS(cairn_run_create(db, &s, NULL), CAIRN_TOO_LARGE);
    cairn_run_spec_init(&s);
    s.parent = &zero;
    ASSERT_STATUS(cairn_run_create(db, &s, NULL), CAIRN_INVALID_ARGUMENT);

    ASSERT_STATUS(cairn_run_list_all(db, NULL, 0, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_list_all(db, NULL, CAIRN_RUN_LIMIT_MAX + 1, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_list_all(db, NULL, 1, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_by_status(db, (cairn_run_status)9, NULL, 1, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_by_tag(db, cairn_slice_of(NULL, 0), NULL, 1, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_by_time(db, -1, 5, NULL, 1, &l), CAIRN_INVALID_ARGUMENT);
    cairn_run_cursor badc = {.set = true, .created_us = -4};
    ASSERT_STATUS(cairn_run_list_all(db, &badc, 1, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_children(db, &zero, NULL, 1, &l), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_count(db, CAIRN_RUN_ACTIVE, NULL), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_count(db, (cairn_run_status)0, &c), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_check(db, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_str_eq(cairn_run_status_name((cairn_run_status)42), "unknown");
    cr_assert_str_eq(cairn_run_status_name(CAIRN_RUN_CANCELLED), "cancelled");

    /* the reserved run id cannot be reached through the other primitives */
    ASSERT_STATUS(cairn_kv_put(db, &zero, test_str("k"), test_str("v")), CAIRN_INVALID_ARGUMENT);
    check_ok(db);
    test_close(db);
}

/* ---- transactions ---------------------------------------------------------------------- */

Test(runindex, tx_forms_commit_or_abort_with_the_callers_writes)
{
    cairn_db *db = open_mem();
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_run_spec s;
    cairn_run_spec_init(&s);
    s.name = test_str("job");
    cairn_run_id id;
    ASSERT_OK(cairn_run_create_tx(txn, &s, &id));
    ASSERT_OK(cairn_kv_put_tx(txn, &id, test_str("k"), test_str("v")));
    cairn_run_view v;
    ASSERT_OK(cairn_run_get_tx(txn, &id, &v));
    ASSERT_SLICE_STR(v.name, "job");
    ASSERT_OK(cairn_run_update_status_tx(txn, &id, CAIRN_RUN_PAUSED));
    ASSERT_STATUS(cairn_run_update_status_tx(txn, &id, CAIRN_RUN_COMPLETED), CAIRN_INVALID_TRANSITION);
    cr_assert(strstr(cairn_txn_errmsg(txn), "from paused to completed") != NULL, "%s",
              cairn_txn_errmsg(txn));
    ASSERT_OK(cairn_run_get_by_name_tx(txn, test_str("job"), &v));
    cr_assert_eq(v.status, CAIRN_RUN_PAUSED);
    ASSERT_OK(cairn_txn_abort(txn));
    cairn_txn_free(txn);
    cairn_run r;
    ASSERT_STATUS(cairn_run_get(db, &id, &r), CAIRN_NOT_FOUND);
    ASSERT_STATUS(cairn_run_get_by_name(db, test_str("job"), &r), CAIRN_NOT_FOUND);

    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_run_create_tx(txn, &s, &id));
    ASSERT_OK(cairn_kv_put_tx(txn, &id, test_str("k"), test_str("v")));
    ASSERT_OK(cairn_run_fail_tx(txn, &id, test_str("boom")));
    ASSERT_OK(cairn_run_add_tag_tx(txn, &id, test_str("t")));
    ASSERT_OK(cairn_run_set_metadata_tx(txn, &id, test_str("md")));
    cairn_run_list l;
    ASSERT_OK(cairn_run_by_status_tag_tx(txn, CAIRN_RUN_FAILED, test_str("t"), NULL, 5, &l));
    cr_assert_eq(l.n, 1);
    cairn_run_list_free(&l);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    ASSERT_OK(cairn_run_get(db, &id, &r));
    cr_assert_eq(r.v.status, CAIRN_RUN_FAILED);
    ASSERT_SLICE_STR(r.v.error, "boom");
    ASSERT_SLICE_STR(r.v.metadata, "md");
    cairn_run_free(&r);
    check_ok(db);
    test_close(db);
}

Test(runindex, check_writable_refuses_finished_runs_and_allows_unregistered_ones)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, NULL, NULL, NULL);
    cairn_run_id never = test_run(0x31, 3);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_run_check_writable_tx(txn, &never));
    ASSERT_OK(cairn_run_check_writable_tx(txn, &a));
    ASSERT_OK(cairn_run_update_status_tx(txn, &a, CAIRN_RUN_PAUSED));
    ASSERT_OK(cairn_run_check_writable_tx(txn, &a));
    ASSERT_OK(cairn_run_update_status_tx(txn, &a, CAIRN_RUN_CANCELLED));
    ASSERT_STATUS(cairn_run_check_writable_tx(txn, &a), CAIRN_READ_ONLY);
    cr_assert(strstr(cairn_txn_errmsg(txn), "cancelled") != NULL, "%s", cairn_txn_errmsg(txn));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    for (int s = CAIRN_RUN_COMPLETED; s <= CAIRN_RUN_ARCHIVED; s++) {
        cairn_run_id id = run_in(db, (cairn_run_status)s);
        ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
        ASSERT_STATUS(cairn_run_check_writable_tx(txn, &id), CAIRN_READ_ONLY);
        cairn_txn_free(txn);
    }
    /* a run finished while a writer holds its check makes the writer conflict */
    cairn_run_id b = create(db, NULL, NULL, NULL);
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_run_check_writable_tx(txn, &b));
    ASSERT_OK(cairn_kv_put_tx(txn, &b, test_str("k"), test_str("v")));
    ASSERT_OK(cairn_run_complete(db, &b));
    ASSERT_STATUS(cairn_txn_commit(txn), CAIRN_CONFLICT);
    cairn_txn_free(txn);

    cairn_run_id zero = test_zero_run();
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_STATUS(cairn_run_check_writable_tx(txn, &zero), CAIRN_INVALID_ARGUMENT);
    ASSERT_STATUS(cairn_run_check_writable_tx(txn, NULL), CAIRN_INVALID_ARGUMENT);
    cairn_txn_free(txn);
    test_close(db);
}

/* ---- delete -------------------------------------------------------------------------- */

/* Gives run `id` KV keys, events, cells and traces. */
static void fill_run(cairn_db *db, const cairn_run_id *id)
{
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%d", i);
        ASSERT_OK(cairn_kv_put(db, id, test_str(k), test_str("value")));
        ASSERT_OK(cairn_event_append(db, id, test_str("step"), test_str(k), NULL, NULL));
    }
    ASSERT_OK(cairn_cell_init(db, id, test_str("counter"), test_str("0")));
    ASSERT_OK(cairn_cell_set(db, id, test_str("plan"), test_str("p"), NULL));
    cairn_slice tags[1] = {test_str("tt")};
    cairn_trace_spec s;
    cairn_trace_spec_init(&s);
    s.tags = tags;
    s.ntags = 1;
    cairn_trace_id root;
    ASSERT_OK(cairn_trace_record(db, id, &s, &root));
    ASSERT_OK(cairn_trace_record_child(db, id, cairn_trace_id_slice(&root), &s, NULL));
}

/* Counts, over one unbounded scan of the whole store, the keys stored
 * under `id` and the RunIndex keys that mention it. */
static void scan_for(cairn_db *db, const cairn_run_id *id, size_t *ownp, size_t *indexp)
{
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_key start = {0};
    cairn_iter *it = NULL;
    ASSERT_OK(cairn_txn_scan(txn, &start, NULL, 0, &it));
    cairn_slice k, v;
    cairn_status st;
    *ownp = *indexp = 0;
    while ((st = cairn_iter_next(it, &k, &v)) == CAIRN_OK) {
        const uint8_t *p = k.data;
        if (k.len >= CAIRN_RUN_ID_SIZE && memcmp(p, id->bytes, CAIRN_RUN_ID_SIZE) == 0)
            (*ownp)++;
        cairn_run_id first;
        memcpy(first.bytes, p, CAIRN_RUN_ID_SIZE);
        if (cairn_run_id_is_zero(&first)) {
            bool hit = false;
            for (size_t i = 0; i + CAIRN_RUN_ID_SIZE <= k.len; i++)
                hit |= memcmp(p + i, id->bytes, CAIRN_RUN_ID_SIZE) == 0;
            hit |= v.len == CAIRN_RUN_ID_SIZE && memcmp(v.data, id->bytes, CAIRN_RUN_ID_SIZE) == 0;
            *indexp += hit;
        }
    }
    ASSERT_STATUS(st, CAIRN_DONE);
    cairn_iter_free(it);
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

Test(runindex, delete_removes_every_key_of_the_run_and_nothing_else)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, "victim", NULL, "shared");
    cairn_run_id b = create(db, "bystander", NULL, "shared");
    ASSERT_OK(cairn_run_add_tag(db, &a, test_str("mine")));
    ASSERT_OK(cairn_run_set_metadata(db, &a, test_str("md")));
    fill_run(db, &a);
    fill_run(db, &b);
    size_t own_a, idx_a, own_b, idx_b;
    scan_for(db, &a, &own_a, &idx_a);
    scan_for(db, &b, &own_b, &idx_b);
    cr_assert_gt(own_a, 40);
    cr_assert_eq(idx_a, 1 + 1 + 3 + 2 * 2, "record, name, status/parent/created, 2 tags x 2");
    cr_assert_eq(own_b, own_a);

    ASSERT_OK(cairn_run_delete(db, &a, 0));
    size_t own, idx;
    scan_for(db, &a, &own, &idx);
    cr_assert_eq(own, 0, "%zu keys of the deleted run remain", own);
    cr_assert_eq(idx, 0, "%zu index keys still mention the deleted run", idx);
    scan_for(db, &b, &own, &idx);
    cr_assert_eq(own, own_b);
    cr_assert_eq(idx, idx_b);
    cairn_run_list l;
    ASSERT_OK(cairn_run_by_tag(db, test_str("shared"), NULL, 10, &l));
    assert_ids(&l, &b, 1);
    cairn_run_list_free(&l);
    cairn_trace_report tr;
    ASSERT_OK(cairn_trace_check(db, &b, &tr));
    cr_assert(tr.ok, "%s", tr.why);
    ASSERT_STATUS(cairn_run_delete(db, &a, 0), CAIRN_NOT_FOUND);
    check_ok(db);
    test_close(db);
}

Test(runindex, delete_removes_expired_kv_values_a_scan_cannot_see)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, "expiring", NULL, NULL);
    cairn_run_id b = create(db, "keeps", NULL, NULL);
    ASSERT_OK(cairn_kv_put_ttl(db, &a, test_str("gone"), test_str("v"), 1000));
    ASSERT_OK(cairn_kv_put(db, &a, test_str("live"), test_str("v")));
    ASSERT_OK(cairn_kv_put_ttl(db, &b, test_str("gone"), test_str("v"), 1000));
    fake_clock_advance(&clk, 2000);

    ASSERT_OK(cairn_run_delete(db, &a, 0));
    /* nothing of run a is left for a sweep to find: the expired key went
     * with the run; b's expired key is untouched */
    uint64_t removed = 99;
    ASSERT_OK(cairn_kv_sweep_expired(db, &a, &removed));
    cr_assert_eq(removed, 0, "the delete left %" PRIu64 " expired key(s) of the run stored", removed);
    ASSERT_OK(cairn_kv_sweep_expired(db, &b, &removed));
    cr_assert_eq(removed, 1);
    test_close(db);
}

Test(runindex, a_run_with_children_is_deleted_only_with_the_cascade_flag)
{
    cairn_db *db = open_mem();
    cairn_run_id root = create(db, "root", NULL, NULL);
    cairn_run_id kid = create(db, "kid", &root, "t");
    cairn_run_id grandkid = create(db, NULL, &kid, "t");
    cairn_run_id other = create(db, NULL, NULL, "t");
    fill_run(db, &root);
    fill_run(db, &grandkid);
    fill_run(db, &other);

    ASSERT_STATUS(cairn_run_delete(db, &root, 0), CAIRN_EXISTS);
    cr_assert(strstr(db_msg(db), "CAIRN_RUN_DELETE_CHILDREN") != NULL, "%s", db_msg(db));
    ASSERT_STATUS(cairn_run_delete(db, &kid, 0), CAIRN_EXISTS);
    size_t own, idx;
    scan_for(db, &root, &own, &idx);
    cr_assert_gt(own, 0, "a refused delete changes nothing");

    ASSERT_OK(cairn_run_delete(db, &root, CAIRN_RUN_DELETE_CHILDREN));
    const cairn_run_id *gone[3] = {&root, &kid, &grandkid};
    for (int i = 0; i < 3; i++) {
        scan_for(db, gone[i], &own, &idx);
        cr_assert_eq(own + idx, 0, "run %d left %zu keys, %zu index keys", i, own, idx);
    }
    cairn_run_list l;
    ASSERT_OK(cairn_run_list_all(db, NULL, 10, &l));
    assert_ids(&l, &other, 1);
    cairn_run_list_free(&l);
    scan_for(db, &other, &own, &idx);
    cr_assert_gt(own, 40);
    check_ok(db);
    test_close(db);
}

Test(runindex, delete_tx_commits_with_the_callers_transaction)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, NULL, NULL, NULL);
    fill_run(db, &a);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_kv_put_tx(txn, &a, test_str("late"), test_str("x")));
    ASSERT_OK(cairn_run_delete_tx(txn, &a, 0));
    cairn_run_view v;
    ASSERT_STATUS(cairn_run_get_tx(txn, &a, &v), CAIRN_NOT_FOUND);
    ASSERT_OK(cairn_txn_abort(txn));
    cairn_txn_free(txn);
    size_t own, idx;
    scan_for(db, &a, &own, &idx);
    cr_assert_gt(own, 0, "an aborted delete changes nothing");
    cr_assert_gt(idx, 0);
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    ASSERT_OK(cairn_kv_put_tx(txn, &a, test_str("late"), test_str("x")));
    ASSERT_OK(cairn_run_delete_tx(txn, &a, 0));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    scan_for(db, &a, &own, &idx);
    cr_assert_eq(own + idx, 0);
    check_ok(db);
    test_close(db);
}

/* ---- the checker ------------------------------------------------------------------------ */

/* A seeded mix of every write the RunIndex offers. */
static void random_workload(cairn_db *db, uint64_t seed, int steps)
{
    test_rng rng = test_rng_seeded(seed);
    cairn_run_id ids[64];
    size_t n = 0;
    static const char *const tags[] = {"a", "b", "c", "d"};
    for (int i = 0; i < steps; i++) {
        fake_clock_advance(&clk, (int64_t)test_rng_below(&rng, 3));
        uint64_t op = test_rng_below(&rng, 10);
        if (n < 2 || (op < 3 && n < 64)) {
            char name[32];
            snprintf(name, sizeof name, "r%llu-%d", (unsigned long long)seed, i);
            const cairn_run_id *parent = n && test_rng_below(&rng, 3) == 0 ? &ids[test_rng_below(&rng, n)] : NULL;
            ids[n++] = create(db, test_rng_below(&rng, 2) ? name : NULL, parent,
                              tags[test_rng_below(&rng, 4)]);
            continue;
        }
        size_t at = (size_t)test_rng_below(&rng, n);
        cairn_run_id *id = &ids[at];
        cairn_status st;
        switch (op) {
        case 3:
        case 4:
            st = cairn_run_update_status(db, id, (cairn_run_status)(1 + test_rng_below(&rng, 6)));
            cr_assert(st == CAIRN_OK || st == CAIRN_INVALID_TRANSITION, "%s", cairn_status_name(st));
            break;
        case 5:
            st = cairn_run_add_tag(db, id, test_str(tags[test_rng_below(&rng, 4)]));
            cr_assert(st == CAIRN_OK || st == CAIRN_EXISTS);
            break;
        case 6:
            st = cairn_run_remove_tag(db, id, test_str(tags[test_rng_below(&rng, 4)]));
            cr_assert(st == CAIRN_OK || st == CAIRN_NOT_FOUND);
            break;
        case 7:
            ASSERT_OK(cairn_run_set_metadata(db, id, test_str(test_rng_below(&rng, 2) ? "m" : "")));
            break;
        case 8:
            st = cairn_run_fail(db, id, test_str("err"));
            cr_assert(st == CAIRN_OK || st == CAIRN_INVALID_TRANSITION);
            break;
        default: {
            st = cairn_kv_put(db, id, test_str("k"), test_str("v"));
            {
                /* refused exactly when the run is in a final status */
                cairn_run r;
                ASSERT_OK(cairn_run_get(db, id, &r));
                bool final = r.v.status != CAIRN_RUN_ACTIVE && r.v.status != CAIRN_RUN_PAUSED;
                cairn_run_free(&r);
                ASSERT_STATUS(st, final ? CAIRN_READ_ONLY : CAIRN_OK);
            }
            st = cairn_run_delete(db, id, test_rng_below(&rng, 2) ? CAIRN_RUN_DELETE_CHILDREN : 0);
            cr_assert(st == CAIRN_OK || st == CAIRN_EXISTS, "%s", cairn_status_name(st));
            if (st == CAIRN_OK) {
                /* forget every id that is no longer registered */
                size_t w = 0;
                for (size_t j = 0; j < n; j++) {
                    cairn_run r;
                    if (cairn_run_get(db, &ids[j], &r) == CAIRN_OK) {
                        ids[w++] = ids[j];
                        cairn_run_free(&r);
                    }
                }
                n = w;
            }
            break;
        }
        }
    }
}

Test(runindex, the_checker_passes_after_random_workloads)
{
    for (uint64_t seed = 1; seed <= 4; seed++) {
        cairn_db *db = open_mem();
        random_workload(db, seed, 400);
        cairn_run_report r;
        ASSERT_OK(cairn_run_check(db, &r));
        cr_assert(r.ok, "seed %llu: %s", (unsigned long long)seed, r.why);
        cr_assert_gt(r.runs, 0);
        cr_assert_gt(r.entries, r.runs * 3 - 1);
        test_close(db);
    }
}

/* Writes or deletes one raw RunIndex key, bypassing the facade. */
static void tamper(cairn_db *db, const uint8_t *rest, size_t len, const void *val, size_t vlen, bool del)
{
    cairn_run_id zero = test_zero_run();
    cairn_key k;
    HELPER_CHECK(cairn_key_make(&k, &zero, CAIRN_TAG_RUN, cairn_slice_of(rest, len)));
    if (del)
        test_delete(db, &k);
    else {
        cairn_txn *txn = NULL;
        HELPER_CHECK(cairn_txn_begin(db, NULL, &txn));
        HELPER_CHECK(cairn_txn_put(txn, &k, cairn_slice_of(val, vlen)));
        HELPER_CHECK(cairn_txn_commit(txn));
        cairn_txn_free(txn);
    }
}

static const char *first_problem(cairn_db *db)
{
    static cairn_run_report r;
    ASSERT_OK(cairn_run_check(db, &r));
    cr_assert(!r.ok, "the checker found nothing wrong");
    return r.why;
}

Test(runindex, the_checker_finds_missing_and_dangling_entries)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, "n", NULL, NULL);
    cairn_run r;
    ASSERT_OK(cairn_run_get(db, &a, &r));
    int64_t created = r.v.created_us;
    cairn_run_free(&r);
    check_ok(db);

    /* the by-created entry: [0x07][created u64][id] */
    uint8_t e[1 + 8 + CAIRN_RUN_ID_SIZE];
    e[0] = 0x07;
    u64_to_be((uint64_t)created, e + 1);
    memcpy(e + 9, a.bytes, CAIRN_RUN_ID_SIZE);
    tamper(db, e, sizeof e, NULL, 0, true);
    const char *why = first_problem(db);
    cr_assert(strstr(why, "by-created") != NULL, "%s", why);
    tamper(db, e, sizeof e, "", 0, false);
    check_ok(db);

    /* an entry for a run that does not exist */
    cairn_run_id ghost = test_run(0x77, 7);
    memcpy(e + 9, ghost.bytes, CAIRN_RUN_ID_SIZE);
    tamper(db, e, sizeof e, "", 0, false);
    why = first_problem(db);
    cr_assert(strstr(why, "points at no run") != NULL, "%s", why);
    tamper(db, e, sizeof e, NULL, 0, true);
    check_ok(db);

    /* a status entry that disagrees with the record */
    uint8_t s[2 + 8 + CAIRN_RUN_ID_SIZE];
    s[0] = 0x03;
    s[1] = CAIRN_RUN_PAUSED;
    u64_to_be((uint64_t)created, s + 2);
    memcpy(s + 10, a.bytes, CAIRN_RUN_ID_SIZE);
    tamper(db, s, sizeof s, "", 0, false);
    why = first_problem(db);
    cr_assert(strstr(why, "disagrees") != NULL, "%s", why);
    test_close(db);
}

Test(runindex, runs_and_indices_survive_close_and_reopen)
{
    char dir[] = "/tmp/cairn-run-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_ASYNC;
    fake_clock_install(&clk, &o);
    cairn_db *db = NULL;
    ASSERT_OK(cairn_db_open(dir, &o, &db, NULL, 0));
    random_workload(db, 41, 300);
    ASSERT_OK(cairn_db_checkpoint(db));
    random_workload(db, 42, 200); /* some after the checkpoint, replayed from the WAL */
    cairn_run_list before;
    ASSERT_OK(cairn_run_list_all(db, NULL, CAIRN_RUN_LIMIT_MAX, &before));
    ASSERT_OK(cairn_db_close(db));

    ASSERT_OK(cairn_db_open(dir, &o, &db, NULL, 0));
    check_ok(db);
    cairn_run_list after;
    ASSERT_OK(cairn_run_list_all(db, NULL, CAIRN_RUN_LIMIT_MAX, &after));
    cr_assert_eq(after.n, before.n);
    for (size_t i = 0; i < after.n; i++) {
        cr_assert(same_id(&after.items[i].id, &before.items[i].id));
        cr_assert_eq(after.items[i].status, before.items[i].status);
        cr_assert_eq(after.items[i].updated_us, before.items[i].updated_us);
        cr_assert(slice_eq(after.items[i].name, before.items[i].name));
        cr_assert_eq(after.items[i].ntags, before.items[i].ntags);
    }
    cairn_run_list_free(&before);
    cairn_run_list_free(&after);
    ASSERT_OK(cairn_db_close(db));
    test_rm_tree(dir);
}

/* ---- kill -9 during deletes ------------------------------------------------------------ */

/* Gives run `id`, inside `txn`, KV keys, events, a cell and two traces. */
static cairn_status fill_tx(cairn_txn *txn, const cairn_run_id *id)
{
    cairn_status st = CAIRN_OK;
    for (int i = 0; i < 40 && st == CAIRN_OK; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%d", i);
        st = cairn_kv_put_tx(txn, id, test_str(k), test_str("some value bytes"));
    }
    for (int i = 0; i < 8 && st == CAIRN_OK; i++)
        st = cairn_event_append_tx(txn, id, test_str("step"), test_str("payload"), NULL, NULL);
    if (st == CAIRN_OK)
        st = cairn_cell_init_tx(txn, id, test_str("cell"), test_str("0"));
    cairn_trace_spec ts;
    cairn_trace_spec_init(&ts);
    cairn_trace_id root;
    if (st == CAIRN_OK)
        st = cairn_trace_record_tx(txn, id, &ts, &root);
    if (st == CAIRN_OK)
        st = cairn_trace_record_child_tx(txn, id, cairn_trace_id_slice(&root), &ts, NULL);
    return st;
}

/* A run and a child run, each with its keys, in one transaction. */
static cairn_status make_pair(cairn_txn *txn, cairn_run_id *parentp)
{
    cairn_slice tags[1] = {test_str("crash")};
    cairn_run_spec s;
    cairn_run_spec_init(&s);
    s.tags = tags;
    s.ntags = 1;
    cairn_run_id kid;
    cairn_status st = cairn_run_create_tx(txn, &s, parentp);
    if (st == CAIRN_OK)
        st = fill_tx(txn, parentp);
    s.parent = parentp;
    if (st == CAIRN_OK)
        st = cairn_run_create_tx(txn, &s, &kid);
    if (st == CAIRN_OK)
        st = fill_tx(txn, &kid);
    return st;
}

/* Keys under a non-zero run id, over one unbounded scan of the store. */
static size_t run_keys(cairn_db *db)
{
    cairn_txn *txn = NULL;
    HELPER_CHECK(cairn_txn_begin(db, NULL, &txn));
    cairn_key start = {0};
    cairn_iter *it = NULL;
    HELPER_CHECK(cairn_txn_scan(txn, &start, NULL, 0, &it));
    cairn_slice k, v;
    size_t n = 0;
    while (cairn_iter_next(it, &k, &v) == CAIRN_OK) {
        cairn_run_id r;
        memcpy(r.bytes, k.data, CAIRN_RUN_ID_SIZE);
        n += !cairn_run_id_is_zero(&r);
    }
    cairn_iter_free(it);
    HELPER_CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    return n;
}

typedef struct ack {
    uint8_t phase; /* 0 created, 1 deleted, 2 created and kept */
    cairn_run_id id;
} ack;

static cairn_options crash_opts(void)
{
    cairn_options o;
    cairn_options_init(&o);
    o.durability = CAIRN_DURABILITY_SYNC;
    o.wal_segment_size = 1024 * 1024;
    o.checkpoint_wal_bytes = 256 * 1024; /* kills land in checkpoints too */
    return o;
}

static void crash_child(const char *path, int fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    cairn_options o = crash_opts();
    cairn_db *db = NULL;
    if (cairn_db_open(path, &o, &db, NULL, 0) != CAIRN_OK)
        _exit(10);
    cairn_txn *txn = NULL;
    for (unsigned i = (unsigned)getpid();; i++) {
        ack a = {0};
        cairn_status st = txn ? cairn_txn_restart(txn) : cairn_txn_begin(db, NULL, &txn);
        if (st == CAIRN_OK)
            st = make_pair(txn, &a.id);
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        if (st != CAIRN_OK)
            _exit(11);
        a.phase = i % 4 == 0 ? 2 : 0;
        if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(12);
        if (a.phase == 2)
            continue;
        st = cairn_txn_restart(txn);
        if (st == CAIRN_OK)
            st = cairn_run_delete_tx(txn, &a.id, CAIRN_RUN_DELETE_CHILDREN);
        if (st == CAIRN_OK)
            st = cairn_txn_commit(txn);
        if (st != CAIRN_OK)
            _exit(13);
        a.phase = 1;
        if (write(fd, &a, sizeof a) != (ssize_t)sizeof a)
            _exit(12);
    }
}

Test(runindex, a_delete_killed_with_sigkill_is_all_or_nothing, .timeout = 600)
{
    /* the keys one pair owns */
    cairn_db *mem = test_open(NULL);
    cairn_txn *txn = NULL;
    cairn_run_id pid0;
    ASSERT_OK(cairn_txn_begin(mem, NULL, &txn));
    ASSERT_OK(make_pair(txn, &pid0));
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    size_t per_run = run_keys(mem) / 2;
    test_close(mem);
    cr_assert_gt(per_run, 60);

    char base[64], path[96];
    snprintf(base, sizeof base, "/tmp/cairn-rundel-XXXXXX");
    cr_assert_not_null(mkdtemp(base));
    snprintf(path, sizeof path, "%s/db", base);
    const char *env = getenv("CAIRN_CRASH_POINTS");
    unsigned kills = env ? (unsigned)strtoul(env, NULL, 10) : 30;
    if (kills < 1)
        kills = 1;
    size_t dcap = 4096, ndel = 0, nkept = 0;
    cairn_run_id *deleted = malloc(dcap * sizeof *deleted), *kept = malloc(dcap * sizeof *kept);
    cr_assert(deleted && kept);
    uint64_t rng = 0xDE1E7Eull;
    for (unsigned round = 0; round <= kills; round++) {
        cairn_options o = crash_opts();
        cairn_db *db = NULL;
        if (round > 0) {
            ASSERT_OK(cairn_db_open(path, &o, &db, NULL, 0));
            check_ok(db);
            cairn_run_list l;
            ASSERT_OK(cairn_run_list_all(db, NULL, CAIRN_RUN_LIMIT_MAX, &l));
            cr_assert_eq(l.n % 2, 0, "round %u: %zu runs, pairs are created and deleted whole", round, l.n);
            cr_assert_eq(run_keys(db), l.n * per_run,
                         "round %u: %zu keys under run ids for %zu runs of %zu keys", round, run_keys(db),
                         l.n, per_run);
            cairn_run_list_free(&l);
            for (size_t i = 0; i < ndel; i++) {
                cairn_run r;
                ASSERT_STATUS(cairn_run_get(db, &deleted[i], &r), CAIRN_NOT_FOUND);
            }
            for (size_t i = 0; i < nkept; i++) {
                cairn_run r;
                ASSERT_OK(cairn_run_get(db, &kept[i], &r));
                cairn_run_free(&r);
            }
            ASSERT_OK(cairn_db_close(db));
        }
        if (round == kills)
            break;
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(path, fds[1]);
        }
        close(fds[1]);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned want = 1 + (unsigned)((rng >> 33) % 12);
        for (unsigned i = 0; i < want; i++) {
            ack a;
            if (read(fds[0], &a, sizeof a) != (ssize_t)sizeof a)
                break;
            if (a.phase == 1 && ndel < dcap)
                deleted[ndel++] = a.id;
            if (a.phase == 2 && nkept < dcap)
                kept[nkept++] = a.id;
        }
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        close(fds[0]);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %u: the child exited by itself (status %d)", round, status);
    }
    cr_assert_gt(ndel, 0);
    free(deleted);
    free(kept);
    test_rm_tree(base);
}

/* The write policy: registered runs in a final status take no primitive
 * writes; active and paused runs and never-registered run ids do. */
Test(runindex, primitives_refuse_writes_into_finished_runs)
{
    cairn_db *db = test_open(NULL);
    cairn_run_id free_run = test_run(0x77, 7); /* never registered */
    ASSERT_OK(cairn_kv_put(db, &free_run, test_str("k"), test_str("v")));

    cairn_run_spec spec;
    cairn_run_spec_init(&spec);
    cairn_run_id id;
    ASSERT_OK(cairn_run_create(db, &spec, &id));
    ASSERT_OK(cairn_kv_put(db, &id, test_str("k"), test_str("v")));
    ASSERT_OK(cairn_cell_set(db, &id, test_str("c"), test_str("1"), NULL));
    ASSERT_OK(cairn_event_append(db, &id, test_str("t"), test_str("p"), NULL, NULL));
    ASSERT_OK(cairn_run_pause(db, &id));
    ASSERT_OK(cairn_kv_put(db, &id, test_str("paused"), test_str("still writable")));
    ASSERT_OK(cairn_run_resume(db, &id));
    ASSERT_OK(cairn_run_complete(db, &id));

    ASSERT_STATUS(cairn_kv_put(db, &id, test_str("k"), test_str("late")), CAIRN_READ_ONLY);
    char msg[256];
    cairn_db_errmsg(db, msg, sizeof msg);
    cr_assert(strstr(msg, "completed") != NULL, "%s", msg);
    ASSERT_STATUS(cairn_kv_delete(db, &id, test_str("k"), NULL), CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_cell_set(db, &id, test_str("c"), test_str("2"), NULL), CAIRN_READ_ONLY);
    ASSERT_STATUS(cairn_event_append(db, &id, test_str("t"), test_str("late"), NULL, NULL), CAIRN_READ_ONLY);
    cairn_trace_spec ts;
    cairn_trace_spec_init(&ts);
    ts.type = CAIRN_TRACE_THOUGHT;
    cairn_trace_id tid;
    ASSERT_STATUS(cairn_trace_record(db, &id, &ts, &tid), CAIRN_READ_ONLY);
    /* reads still work, and nothing changed */
    cairn_bytes v = {0};
    ASSERT_OK(cairn_kv_get(db, &id, test_str("k"), &v));
    cr_assert(v.len == 1 && ((const char *)v.data)[0] == 'v');
    cairn_bytes_free(&v);
    uint64_t len;
    ASSERT_OK(cairn_event_len(db, &id, &len));
    cr_assert_eq(len, 1);
    /* archived too; unregistered runs are untouched by all this */
    ASSERT_OK(cairn_run_archive(db, &id));
    ASSERT_STATUS(cairn_kv_put(db, &id, test_str("k"), test_str("later")), CAIRN_READ_ONLY);
    ASSERT_OK(cairn_kv_put(db, &free_run, test_str("k2"), test_str("v")));
    /* the run can still be deleted, with everything it owns */
    ASSERT_OK(cairn_run_delete(db, &id, 0));
    ASSERT_STATUS(cairn_kv_get(db, &id, test_str("k"), &v), CAIRN_NOT_FOUND);
    test_close(db);
}

/* ---- damaged records and entries, limits, the _tx forms' own checks ------------ */

Test(runindex, unknown_statuses_allow_no_transition_and_free_accepts_null)
{
    cr_assert(!cairn_run_transition_allowed((cairn_run_status)0, CAIRN_RUN_ACTIVE));
    cr_assert(!cairn_run_transition_allowed((cairn_run_status)7, CAIRN_RUN_ARCHIVED));
    cairn_run_free(NULL);
    cairn_run_list_free(NULL);
}

/* [0x01][id]: the key of run `id`'s stored record. */
static size_t record_rest(const cairn_run_id *id, uint8_t out[1 + CAIRN_RUN_ID_SIZE])
{
    out[0] = 0x01;
    memcpy(out + 1, id->bytes, CAIRN_RUN_ID_SIZE);
    return 1 + CAIRN_RUN_ID_SIZE;
}

/* The stored bytes of run `id`, copied into `buf`; returns their length. */
static size_t raw_run(cairn_db *db, const cairn_run_id *id, uint8_t *buf, size_t cap)
{
    uint8_t rest[1 + CAIRN_RUN_ID_SIZE];
    cairn_run_id zero = test_zero_run();
    cairn_key k;
    HELPER_CHECK(cairn_key_make(&k, &zero, CAIRN_TAG_RUN, cairn_slice_of(rest, record_rest(id, rest))));
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_slice v;
    ASSERT_OK(cairn_txn_get(txn, &k, &v));
    cr_assert_leq(v.len, cap);
    memcpy(buf, v.data, v.len);
    size_t n = v.len;
    ASSERT_OK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    return n;
}

/* [sub][created u64][id]: an index entry's key rest with the common tail. */
static size_t entry_rest(uint8_t sub, const void *mid, size_t midlen, int64_t created,
                         const cairn_run_id *id, uint8_t *out)
{
    out[0] = sub;
    memcpy(out + 1, mid, midlen);
    u64_to_be((uint64_t)created, out + 1 + midlen);
    memcpy(out + 9 + midlen, id->bytes, CAIRN_RUN_ID_SIZE);
    return 9 + midlen + CAIRN_RUN_ID_SIZE;
}

Test(runindex, a_malformed_stored_run_is_corrupt_to_every_reader)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, NULL, NULL, NULL);
    uint8_t good[256], v[256], rest[1 + CAIRN_RUN_ID_SIZE];
    size_t n = raw_run(db, &a, good, sizeof good);
    cr_assert_eq(n, 67, "a run without name, tags, error or metadata is 67 bytes");
    size_t rl = record_rest(&a, rest);
    static const struct {
        size_t at; /* the byte to change */
        uint8_t byte;
        const char *what;
    } edits[] = {
        {0, 2, "an unknown format"},
        {1, 0, "status 0"},
        {2, 1, "the parent flag with an all-zero parent"},
        {60, 200, "a name past the end"},
        {3, 1, "a tag of length 0"},
        {60, 5, "a name that leaves no room for the error length"},
        {61, 0x20, "an error longer than the limit"},
        {60, 2, "a name that leaves no room for the metadata length"},
        {66, 5, "metadata past the end"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        memcpy(v, good, n);
        v[edits[i].at] = edits[i].byte;
        tamper(db, rest, rl, v, n, false);
        cairn_run r;
        cr_assert_eq(cairn_run_get(db, &a, &r), CAIRN_CORRUPT, "%s", edits[i].what);
    }
    /* one tag announced whose length runs past the end */
    memcpy(v, good, n);
    v[3] = 1;
    v[61] = 9;
    tamper(db, rest, rl, v, n, false);
    cairn_run r;
    cairn_run_list l;
    cr_assert_eq(cairn_run_get(db, &a, &r), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "stored run is malformed") != NULL, "%s", db_msg(db));
    cr_assert_eq(cairn_run_by_status(db, CAIRN_RUN_ACTIVE, NULL, 10, &l), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "stored run is malformed") != NULL, "%s", db_msg(db));
    cr_assert_eq(cairn_run_pause(db, &a), CAIRN_CORRUPT);
    cr_assert_eq(cairn_run_delete(db, &a, 0), CAIRN_CORRUPT);
    cr_assert_str_eq(first_problem(db), "the stored run cannot be decoded");

    /* run a's bytes under another run's key */
    cairn_run_id b = create(db, NULL, NULL, NULL);
    tamper(db, rest, rl, good, n, false);
    check_ok(db);
    uint8_t rest_b[1 + CAIRN_RUN_ID_SIZE];
    tamper(db, rest_b, record_rest(&b, rest_b), good, n, false);
    cr_assert_eq(cairn_run_get(db, &b, &r), CAIRN_CORRUPT);
    cr_assert_str_eq(first_problem(db), "the stored run carries another id than its key");
    test_close(db);
}

Test(runindex, damaged_entries_are_corrupt_to_names_queries_and_deletes)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, "n", NULL, NULL);
    cairn_run_id ghost = test_run(0x77, 7);
    cairn_run r;
    cairn_run_list l;
    /* the name entry: [0x02][field "n"] -> id */
    const uint8_t name_rest[] = {0x02, 0, 1, 'n'};
    tamper(db, name_rest, sizeof name_rest, "short", 5, false);
    cr_assert_eq(cairn_run_get_by_name(db, test_str("n"), &r), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "malformed name entry") != NULL, "%s", db_msg(db));
    tamper(db, name_rest, sizeof name_rest, ghost.bytes, CAIRN_RUN_ID_SIZE, false);
    cr_assert_eq(cairn_run_get_by_name(db, test_str("n"), &r), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "points at no run") != NULL, "%s", db_msg(db));
    cr_assert_str_eq(first_problem(db), "its by-name index entry has a wrong value");
    tamper(db, name_rest, sizeof name_rest, a.bytes, CAIRN_RUN_ID_SIZE, false);
    check_ok(db);

    /* by-status entries of active runs: one cut short, one naming no run */
    uint8_t e[64];
    const uint8_t active = CAIRN_RUN_ACTIVE;
    size_t el = entry_rest(0x03, &active, 1, 5, &ghost, e);
    tamper(db, e, el - 3, "", 0, false);
    cr_assert_eq(cairn_run_by_status(db, CAIRN_RUN_ACTIVE, NULL, 10, &l), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "malformed index key") != NULL, "%s", db_msg(db));
    tamper(db, e, el - 3, NULL, 0, true);
    tamper(db, e, el, "", 0, false);
    cr_assert_eq(cairn_run_by_status(db, CAIRN_RUN_ACTIVE, NULL, 10, &l), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "points at no run") != NULL, "%s", db_msg(db));
    tamper(db, e, el, NULL, 0, true);
    ASSERT_OK(cairn_run_by_status(db, CAIRN_RUN_ACTIVE, NULL, 10, &l));
    cr_assert_eq(l.n, 1);
    cairn_run_list_free(&l);

    /* by-parent entries under a: one cut short, one naming no run */
    el = entry_rest(0x06, a.bytes, CAIRN_RUN_ID_SIZE, 5, &ghost, e);
    tamper(db, e, el - 3, "", 0, false);
    cr_assert_eq(cairn_run_delete(db, &a, CAIRN_RUN_DELETE_CHILDREN), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "malformed index key") != NULL, "%s", db_msg(db));
    tamper(db, e, el - 3, NULL, 0, true);
    tamper(db, e, el, "", 0, false);
    cr_assert_eq(cairn_run_delete(db, &a, CAIRN_RUN_DELETE_CHILDREN), CAIRN_CORRUPT);
    cr_assert(strstr(db_msg(db), "by-parent entry points at no run") != NULL, "%s", db_msg(db));
    tamper(db, e, el, NULL, 0, true);
    ASSERT_OK(cairn_run_get(db, &a, &r));
    cairn_run_free(&r);
    check_ok(db);
    test_close(db);
}

Test(runindex, the_checker_reports_malformed_keys_and_entries)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, NULL, NULL, "t");
    check_ok(db);
    cairn_run_id ghost = test_run(0x77, 7);
    uint8_t e[64];
    size_t tail = entry_rest(0x07, "", 0, 5, &ghost, e) - 1;
    static const struct {
        uint8_t rest[8];
        size_t len;
        bool tail; /* followed by a whole [created][id] tail */
        const char *why;
    } keys[] = {
        {{0x01, 1, 2, 3}, 4, false, "a malformed run key"},
        {{0x09}, 1, false, "a run index key of unknown sub-kind 0x09"},
        {{0x03}, 1, false, "a malformed index entry"},          /* no status */
        {{0x04, 0}, 2, false, "a malformed index entry"},       /* half a field length */
        {{0x04, 0, 9, 'a'}, 4, false, "a malformed index entry"}, /* field past the end */
        {{0x04, 0, 0}, 3, true, "a malformed index entry"},     /* an empty tag */
        {{0x06, 1, 2, 3}, 4, false, "a malformed index entry"}, /* half a parent id */
        {{0x07, 1, 2, 3}, 4, false, "a malformed index entry"}, /* half a tail */
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        uint8_t rest[64];
        size_t len = keys[i].len;
        memcpy(rest, keys[i].rest, len);
        if (keys[i].tail) {
            memcpy(rest + len, e + 1, tail);
            len += tail;
        }
        tamper(db, rest, len, "", 0, false);
        cr_assert_str_eq(first_problem(db), keys[i].why, "key %zu", i);
        tamper(db, rest, len, NULL, 0, true);
    }
    /* a name entry whose value is not an id */
    const uint8_t name_rest[] = {0x02, 0, 1, 'z'};
    tamper(db, name_rest, sizeof name_rest, "abc", 3, false);
    cr_assert_str_eq(first_problem(db), "a malformed index entry");
    tamper(db, name_rest, sizeof name_rest, NULL, 0, true);
    check_ok(db);

    /* a stored run naming its one tag twice needs two entries more than
     * the index holds: [3] ntags, then after the empty name at [60] the tag */
    uint8_t v[256], rest[1 + CAIRN_RUN_ID_SIZE];
    size_t n = raw_run(db, &a, v, sizeof v);
    cr_assert_eq(n, 69);
    memmove(v + 63, v + 61, n - 61);
    v[3] = 2;
    n += 2;
    tamper(db, rest, record_rest(&a, rest), v, n, false);
    cr_assert_str_eq(first_problem(db), "the index holds 5, not 7 entries");
    test_close(db);

    /* a child whose parent's record is gone */
    db = open_mem();
    cairn_run_id p = create(db, NULL, NULL, NULL);
    create(db, NULL, &p, NULL);
    check_ok(db);
    tamper(db, rest, record_rest(&p, rest), NULL, 0, true);
    cr_assert_str_eq(first_problem(db), "its parent is not a registered run");
    test_close(db);
}

Test(runindex, changes_past_the_transaction_limits_fail_whole)
{
    /* a run with one tag is six writes: the run, by-status, by-parent,
     * by-created, by-tag and by-status-tag */
    for (uint32_t ops = 1; ops <= 6; ops++) {
        cairn_options o;
        cairn_options_init(&o);
        o.max_txn_ops = ops;
        cairn_db *db = test_open(&o);
        cairn_run_spec s;
        cairn_run_spec_init(&s);
        cairn_slice tags[1] = {test_str("t")};
        s.tags = tags;
        s.ntags = 1;
        cairn_run_id id;
        cairn_status st = cairn_run_create(db, &s, &id);
        uint64_t count = 9;
        ASSERT_OK(cairn_run_count(db, CAIRN_RUN_ACTIVE, &count));
        if (ops < 6) {
            cr_assert_eq(st, CAIRN_TOO_LARGE, "max_txn_ops %u: %s", ops, cairn_status_name(st));
            cr_assert_eq(count, 0);
        } else {
            ASSERT_OK(st);
            cr_assert_eq(count, 1);
            /* a pause after four writes of the caller's runs out while
             * deleting the old entries, and leaves the run active */
            cairn_txn *txn = NULL;
            ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
            cairn_run_id other = test_run(0x55, 1);
            for (int i = 0; i < 3; i++) {
                cairn_key k = test_kv(&other, i == 0 ? "a" : i == 1 ? "b" : "c");
                ASSERT_OK(cairn_txn_put(txn, &k, test_str("v")));
            }
            cr_assert_eq(cairn_run_update_status_tx(txn, &id, CAIRN_RUN_PAUSED), CAIRN_TOO_LARGE);
            cairn_txn_abort(txn);
            cairn_txn_free(txn);
            cr_assert_eq(status_of(db, &id), CAIRN_RUN_ACTIVE);
            /* and a delete of the run and its KV keys past the limit */
            for (int i = 0; i < 6; i++) {
                char key[8];
                snprintf(key, sizeof key, "k%d", i);
                ASSERT_OK(cairn_kv_put(db, &id, test_str(key), test_str("v")));
            }
            cr_assert_eq(cairn_run_delete(db, &id, 0), CAIRN_TOO_LARGE);
            cr_assert_eq(status_of(db, &id), CAIRN_RUN_ACTIVE);
            check_ok(db);
        }
        test_close(db);
    }
    /* a run larger than max_value_size */
    cairn_options o;
    cairn_options_init(&o);
    o.max_value_size = 256;
    cairn_db *db = test_open(&o);
    static char meta[300];
    cairn_run_spec s;
    cairn_run_spec_init(&s);
    s.metadata = cairn_slice_of(meta, sizeof meta);
    cr_assert_eq(cairn_run_create(db, &s, NULL), CAIRN_TOO_LARGE);
    cr_assert(strstr(db_msg(db), "max_value_size") != NULL, "%s", db_msg(db));
    test_close(db);
}

Test(runindex, a_cascade_deletes_more_children_than_fit_one_batch)
{
    cairn_db *db = open_mem();
    cairn_run_id root = create(db, NULL, NULL, NULL);
    for (int i = 0; i < 40; i++) {
        cairn_run_id c = create(db, NULL, &root, NULL);
        if (i % 10 == 0)
            create(db, NULL, &c, NULL);
    }
    uint64_t count;
    ASSERT_OK(cairn_run_count(db, CAIRN_RUN_ACTIVE, &count));
    cr_assert_eq(count, 45);
    ASSERT_OK(cairn_run_delete(db, &root, CAIRN_RUN_DELETE_CHILDREN));
    ASSERT_OK(cairn_run_count(db, CAIRN_RUN_ACTIVE, &count));
    cr_assert_eq(count, 0);
    check_ok(db);
    test_close(db);
}

Test(runindex, tx_forms_check_their_own_arguments)
{
    cairn_db *db = open_mem();
    cairn_run_id a = create(db, "n", NULL, NULL);
    cairn_txn *txn = NULL;
    ASSERT_OK(cairn_txn_begin(db, NULL, &txn));
    cairn_run_list l;
    cairn_run_report rep;
    uint64_t count;
    cr_assert_eq(cairn_run_get_tx(txn, &a, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "runp is NULL") != NULL);
    cr_assert_eq(cairn_run_get_by_name_tx(txn, test_str("n"), NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_run_list_all_tx(txn, NULL, 5, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "listp is NULL") != NULL);
    cr_assert_eq(cairn_run_by_time_tx(txn, 0, 10, NULL, 0, &l), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_run_by_status_tag_tx(txn, (cairn_run_status)9, test_str("t"), NULL, 5, &l),
                 CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_run_count_tx(txn, (cairn_run_status)0, &count), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_run_check_tx(txn, NULL), CAIRN_INVALID_ARGUMENT);
    cr_assert(strstr(cairn_txn_errmsg(txn), "reportp is NULL") != NULL);
    cr_assert_eq(cairn_run_set_metadata_tx(txn, &a, cairn_slice_of(NULL, 2)), CAIRN_INVALID_ARGUMENT);
    cr_assert_eq(cairn_run_remove_tag_tx(txn, NULL, test_str("t")), CAIRN_INVALID_ARGUMENT);
    /* a cursor at or past the end of a time range leaves nothing to list */
    cairn_run_cursor cur = {.set = true, .created_us = INT64_MAX / 2, .id = a};
    ASSERT_OK(cairn_run_by_time_tx(txn, 0, 1000, &cur, 5, &l));
    cr_assert_eq(l.n, 0);
    ASSERT_OK(cairn_txn_commit(txn));
    /* every _tx form answers CAIRN_TXN_FINISHED once the transaction is done */
    cairn_run_view v;
    cr_assert_eq(cairn_run_create_tx(txn, NULL, NULL), CAIRN_TXN_FINISHED);
    cr_assert_eq(cairn_run_get_tx(txn, &a, &v), CAIRN_TXN_FINISHED);
    cr_assert_eq(cairn_run_check_tx(txn, &rep), CAIRN_TXN_FINISHED);
    cr_assert_eq(cairn_run_count_tx(txn, CAIRN_RUN_ACTIVE, &count), CAIRN_TXN_FINISHED);
    cairn_txn_free(txn);
    test_close(db);
}
