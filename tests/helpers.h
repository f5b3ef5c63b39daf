/*
 * tests/helpers.h - small helpers shared by the engine test files.
 *
 * Nothing here depends on Criterion, so the concurrency scenarios can also
 * be built as a plain program (see test_concurrency.c).  A helper that
 * cannot do its job (a key that should be valid is refused, an open that
 * should succeed fails) prints why and aborts: that is a test failure, and
 * a crash with a message is the clearest way to report it from a helper.
 * The Criterion-specific assertion macros at the bottom are only defined
 * when criterion.h was included first.
 */
#ifndef CAIRN_TESTS_HELPERS_H
#define CAIRN_TESTS_HELPERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <unistd.h>

#include <cairn/cairn.h>

/* ---- failing from a helper -------------------------------------------- */

#define HELPER_CHECK(expr)                                                           \
    do {                                                                             \
        cairn_status helper_st_ = (expr);                                            \
        if (helper_st_ != CAIRN_OK) {                                                \
            fprintf(stderr, "%s:%d: %s returned %s\n", __FILE__, __LINE__, #expr,    \
                    cairn_status_name(helper_st_));                                  \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* ---- temporary directories ---------------------------------------------------- */

/* Removes `path` and everything below it (a test's temporary directory). */
static inline void test_rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        unlink(path);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[1024];
        int n = snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        if (n > 0 && (size_t)n < sizeof child)
            test_rm_tree(child);
    }
    closedir(d);
    rmdir(path);
}

/* ---- fake clock --------------------------------------------------------- */

/* A clock the test moves by hand.  Safe to read from any thread. */
typedef struct fake_clock {
    _Atomic int64_t now_us;
} fake_clock;

/* 2026-01-01T00:00:00Z: a realistic starting time, well clear of zero. */
#define FAKE_CLOCK_START_US INT64_C(1767225600000000)

static inline int64_t fake_clock_read(void *ctx)
{
    return atomic_load(&((fake_clock *)ctx)->now_us);
}

static inline void fake_clock_set(fake_clock *clock, int64_t now_us)
{
    atomic_store(&clock->now_us, now_us);
}

static inline void fake_clock_advance(fake_clock *clock, int64_t delta_us)
{
    atomic_fetch_add(&clock->now_us, delta_us);
}

/* Points `opts` at `clock`, started at FAKE_CLOCK_START_US. */
static inline void fake_clock_install(fake_clock *clock, cairn_options *opts)
{
    fake_clock_set(clock, FAKE_CLOCK_START_US);
    opts->clock = fake_clock_read;
    opts->clock_ctx = clock;
}

/* ---- deterministic PRNG (xorshift64*) ------------------------------------ */

typedef struct test_rng {
    uint64_t state;
} test_rng;

static inline test_rng test_rng_seeded(uint64_t seed)
{
    test_rng r = {seed ? seed : UINT64_C(0x9E3779B97F4A7C15)};
    return r;
}

static inline uint64_t test_rng_next(test_rng *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Uniform-enough integer in [0, bound). */
static inline uint64_t test_rng_below(test_rng *r, uint64_t bound)
{
    return test_rng_next(r) % bound;
}

/* ---- run ids and keys ---------------------------------------------------- */

/* A non-zero run id whose bytes are all `b` except the last, which is `n`.
 * Different (b, n) pairs give different ids; (0, 0) is never asked for. */
static inline cairn_run_id test_run(uint8_t b, uint8_t n)
{
    cairn_run_id id;
    memset(id.bytes, b, sizeof id.bytes);
    id.bytes[CAIRN_RUN_ID_SIZE - 1] = n;
    if (cairn_run_id_is_zero(&id)) {
        fprintf(stderr, "test_run(0, 0) would be the reserved zero run id\n");
        abort();
    }
    return id;
}

static inline cairn_run_id test_zero_run(void)
{
    cairn_run_id id;
    memset(&id, 0, sizeof id);
    return id;
}

/* Key of primitive `tag` in `run` with the raw bytes `rest`/`len`. */
static inline cairn_key test_key_bytes(const cairn_run_id *run, cairn_tag tag, const void *rest,
                                       size_t len)
{
    cairn_key key;
    HELPER_CHECK(cairn_key_make(&key, run, tag, cairn_slice_of(rest, len)));
    return key;
}

/* KV key `name` (a C string) of run `run`. */
static inline cairn_key test_kv(const cairn_run_id *run, const char *name)
{
    return test_key_bytes(run, CAIRN_TAG_KV, name, strlen(name));
}

/* KV key `name` of the default test run. */
static inline cairn_key test_key(const char *name)
{
    cairn_run_id run = test_run(0x11, 0x01);
    return test_kv(&run, name);
}

/* The (run, tag) prefix, empty rest. */
static inline cairn_key test_prefix(const cairn_run_id *run, cairn_tag tag)
{
    cairn_key key;
    HELPER_CHECK(cairn_key_init(&key, run, tag));
    return key;
}

static inline cairn_slice test_str(const char *s)
{
    return cairn_slice_of(s, strlen(s));
}

/* Compares byte by byte through volatile loads, so AddressSanitizer checks
 * every byte read from a borrowed slice (an inlined memcmp can escape it). */
static inline bool bytes_eq(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    bool eq = true;
    for (size_t i = 0; i < n; i++)
        eq &= x[i] == y[i];
    return eq;
}

static inline bool slice_eq_str(cairn_slice s, const char *str)
{
    size_t n = strlen(str);
    return s.len == n && bytes_eq(s.data, str, n);
}

static inline bool slice_eq(cairn_slice a, cairn_slice b)
{
    return a.len == b.len && bytes_eq(a.data, b.data, a.len);
}

/* Bytewise comparison, shorter-is-smaller on a common prefix. */
static inline int slice_cmp(cairn_slice a, cairn_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.data, b.data, n) : 0;
    if (c != 0)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

/* ---- 8-byte big-endian integers as values -------------------------------- */

static inline void u64_to_be(uint64_t v, uint8_t out[8])
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xFF);
        v >>= 8;
    }
}

/* Decodes an 8-byte big-endian value; false when `s` is not 8 bytes. */
static inline bool u64_from_slice(cairn_slice s, uint64_t *vp)
{
    if (s.len != 8)
        return false;
    const uint8_t *p = s.data;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    *vp = v;
    return true;
}

/* ---- databases ---------------------------------------------------------- */

/* Opens an in-memory database with `opts` (NULL: defaults). */
static inline cairn_db *test_open(const cairn_options *opts)
{
    cairn_db *db = NULL;
    char err[256] = "";
    cairn_status st = cairn_db_open(NULL, opts, &db, err, sizeof err);
    if (st != CAIRN_OK || db == NULL) {
        fprintf(stderr, "cairn_db_open(NULL) failed: %s (%s)\n", cairn_status_name(st), err);
        abort();
    }
    return db;
}

static inline void test_close(cairn_db *db)
{
    HELPER_CHECK(cairn_db_close(db));
}

/* Commits one transaction that puts `value` (a C string) under `key`. */
static inline void test_put(cairn_db *db, const cairn_key *key, const char *value)
{
    cairn_txn *txn = NULL;
    HELPER_CHECK(cairn_txn_begin(db, NULL, &txn));
    HELPER_CHECK(cairn_txn_put(txn, key, test_str(value)));
    HELPER_CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

/* Commits one transaction that deletes `key`. */
static inline void test_delete(cairn_db *db, const cairn_key *key)
{
    cairn_txn *txn = NULL;
    HELPER_CHECK(cairn_txn_begin(db, NULL, &txn));
    HELPER_CHECK(cairn_txn_delete(txn, key));
    HELPER_CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
}

/*
 * Reads `key` in a fresh read-only transaction.  Returns the status; on
 * CAIRN_OK copies the value, NUL-terminated, into `buf` (truncated to `cap`).
 */
static inline cairn_status test_get(cairn_db *db, const cairn_key *key, char *buf, size_t cap)
{
    cairn_txn_options to;
    cairn_txn_options_init(&to);
    to.mode = CAIRN_TXN_READ_ONLY;
    cairn_txn *txn = NULL;
    HELPER_CHECK(cairn_txn_begin(db, &to, &txn));
    cairn_slice v = {NULL, 0};
    cairn_status st = cairn_txn_get(txn, key, &v);
    if (st == CAIRN_OK && buf && cap) {
        size_t n = v.len < cap - 1 ? v.len : cap - 1;
        if (n)
            memcpy(buf, v.data, n);
        buf[n] = '\0';
    }
    HELPER_CHECK(cairn_txn_commit(txn));
    cairn_txn_free(txn);
    return st;
}

static inline cairn_stats test_stats(cairn_db *db)
{
    cairn_stats s;
    memset(&s, 0, sizeof s);
    HELPER_CHECK(cairn_db_stats(db, &s));
    return s;
}

/* ---- Criterion assertions on statuses ------------------------------------ */

#ifdef CRITERION_H_

/* Asserts that `expr` returns the status `want`, naming both when not. */
#define ASSERT_STATUS(expr, want)                                                    \
    do {                                                                             \
        cairn_status got_st_ = (expr);                                               \
        cairn_status want_st_ = (want);                                              \
        cr_assert_eq(got_st_, want_st_, "%s: got %s, expected %s", #expr,            \
                     cairn_status_name(got_st_), cairn_status_name(want_st_));       \
    } while (0)

#define ASSERT_OK(expr) ASSERT_STATUS(expr, CAIRN_OK)

/* Asserts that `slice` holds exactly the C string `str`. */
#define ASSERT_SLICE_STR(slice, str)                                                 \
    do {                                                                             \
        cairn_slice got_sl_ = (slice);                                               \
        const char *want_str_ = (str);                                               \
        cr_assert(slice_eq_str(got_sl_, want_str_), "%s: got \"%.*s\", expected \"%s\"", \
                  #slice, (int)got_sl_.len, (const char *)got_sl_.data, want_str_);  \
    } while (0)

#endif /* CRITERION_H_ */

#endif /* CAIRN_TESTS_HELPERS_H */
