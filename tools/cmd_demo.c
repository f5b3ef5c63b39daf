/*
 * cmd_demo.c - `cairn demo`: an agent-like workload on an in-memory
 * database, followed by a check that everything it committed adds up.
 *
 * Each transaction is one step of an agent run, written at the engine level
 * with the key layout of each primitive:
 *
 *   State  "progress"            step counter, read-modify-written: the
 *                                  step's sequence number is counter + 1
 *   Event  [0x01][seq:be64]      one record per step, seq contiguous from 1
 *   KV     "topic/N"             working memory, overwritten
 *   KV     "note/"[seq:be64]     one note per step; when a note leaves the
 *                                  recent window, every third one is deleted
 *   KV     "cache/tool_output"   the last cached tool output, expiring
 *
 * The counter read makes concurrent steps of one run conflict, and
 * cairn_db_run() retries them, so per run the steps serialize and the
 * verification below can predict every key exactly.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define DEMO_THREADS_DEFAULT 2u
#define DEMO_THREADS_MAX 64u
#define DEMO_TXNS_DEFAULT 20000u
#define DEMO_TXNS_MAX 100000000u
#define DEMO_SEED_DEFAULT 1u
#define DEMO_RUNS_MIN 4u

#define DEMO_TOPICS 8u              /* working-memory keys per run */
#define DEMO_NOTE_WINDOW 8u         /* the most recent notes are always kept */
#define DEMO_NOTE_FORGET_EVERY 3u   /* older notes with seq % 3 == 0 are deleted */
#define DEMO_CACHE_ONE_IN 4u        /* one step in four caches a tool output */
#define DEMO_CACHE_TTL_US (10LL * 60 * 1000 * 1000)
#define DEMO_PAYLOAD_MAX 192u

/* Sub-kind byte of an event record key (the EventLog's layout). */
#define DEMO_EVENT_RECORD 0x01u
/* Event value: seq (be64), timestamp (be64), then the type name. */
#define DEMO_EVENT_HEADER 16u

#define DEMO_MAX_REPORTED_PROBLEMS 10

static const char *const demo_event_types[] = {"thought", "tool_call", "tool_result",
                                               "decision"};
#define DEMO_EVENT_TYPES (sizeof demo_event_types / sizeof demo_event_types[0])

static const char demo_progress_cell[] = "progress";
static const char demo_cache_key[] = "cache/tool_output";
static const char demo_note_prefix[] = "note/";

typedef struct demo_config {
    uint32_t threads;
    uint64_t txns;
    uint64_t seed;
    uint32_t runs;
} demo_config;

/* One step, drawn before its transaction so every retry replays it exactly. */
typedef struct demo_step {
    const cairn_run_id *run;
    uint32_t topic;
    uint32_t event_type;
    bool cache;
    uint32_t payload_len;
    char payload[DEMO_PAYLOAD_MAX];
    /* Set by the transaction body (the last attempt's values win). */
    uint64_t seq;
    char err[512];
} demo_step;

typedef struct demo_worker {
    pthread_t thread;
    cairn_db *db;
    const cairn_run_id *runs;
    uint32_t nruns;
    uint64_t txns;
    uint64_t rng;
    atomic_bool *stop;
    /* Results. */
    uint64_t *steps;      /* committed steps per run */
    uint64_t *cache_seq;  /* newest step per run that cached a tool output */
    uint64_t committed;
    uint64_t abandoned;   /* steps that still conflicted after max_retries */
    cairn_status status;  /* first unexpected failure, CAIRN_OK if none */
    char err[600];
} demo_worker;

/* ---- Small helpers ---------------------------------------------------- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* splitmix64: a tiny, well-mixed generator; one state per thread. */
static uint64_t demo_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t demo_rand_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)(demo_rand(state) % n);
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static cairn_slice cstr_slice(const char *s)
{
    return cairn_slice_of(s, strlen(s));
}

/* True when note `seq` is still stored after `steps` steps of its run. */
static bool demo_note_kept(uint64_t seq, uint64_t steps)
{
    return seq + DEMO_NOTE_WINDOW > steps || seq % DEMO_NOTE_FORGET_EVERY != 0;
}

static cairn_status demo_note_key(cairn_key *key, const cairn_run_id *run, uint64_t seq)
{
    cairn_status s = cairn_key_make(key, run, CAIRN_TAG_KV, cstr_slice(demo_note_prefix));
    if (s == CAIRN_OK)
        s = cairn_key_append_u64(key, seq);
    return s;
}

static cairn_status demo_event_key(cairn_key *key, const cairn_run_id *run, uint64_t seq)
{
    cairn_status s = cairn_key_init(key, run, CAIRN_TAG_EVENT);
    if (s == CAIRN_OK)
        s = cairn_key_append_u8(key, DEMO_EVENT_RECORD);
    if (s == CAIRN_OK)
        s = cairn_key_append_u64(key, seq);
    return s;
}

/* ---- One step: the transaction body ------------------------------------ */

#define STEP_TRY(what, call)                                                                 \
    do {                                                                                     \
        s = (call);                                                                          \
        if (s != CAIRN_OK) {                                                                 \
            failed = (what);                                                                 \
            goto fail;                                                                       \
        }                                                                                    \
    } while (0)

static cairn_status demo_step_txn(cairn_txn *txn, void *ctx)
{
    demo_step *st = ctx;
    const char *failed = "";
    cairn_status s;
    cairn_key key;
    cairn_slice value;
    uint64_t done = 0;
    uint64_t seq;
    int64_t now = cairn_txn_now_us(txn);
    uint8_t counter[8];
    uint8_t event[DEMO_EVENT_HEADER + 32];
    size_t type_len;
    char name[32];
    int name_len;

    st->err[0] = '\0';

    /* The progress counter: read, then write counter + 1. */
    STEP_TRY("progress key", cairn_key_make(&key, st->run, CAIRN_TAG_STATE,
                                            cstr_slice(demo_progress_cell)));
    s = cairn_txn_get(txn, &key, &value);
    if (s == CAIRN_OK) {
        if (value.len != sizeof counter) {
            snprintf(st->err, sizeof st->err, "progress cell holds %zu bytes, expected 8",
                     value.len);
            return CAIRN_CORRUPT;
        }
        done = get_be64(value.data);
    } else if (s != CAIRN_NOT_FOUND) {
        failed = "read progress";
        goto fail;
    }
    seq = done + 1;
    st->seq = seq;
    put_be64(counter, seq);
    STEP_TRY("write progress", cairn_txn_put(txn, &key, cairn_slice_of(counter, sizeof counter)));

    /* The step's event record. */
    type_len = strlen(demo_event_types[st->event_type]);
    put_be64(event, seq);
    put_be64(event + 8, (uint64_t)now);
    memcpy(event + DEMO_EVENT_HEADER, demo_event_types[st->event_type], type_len);
    STEP_TRY("event key", demo_event_key(&key, st->run, seq));
    STEP_TRY("append event",
             cairn_txn_put(txn, &key, cairn_slice_of(event, DEMO_EVENT_HEADER + type_len)));

    /* Working memory: overwrite one topic. */
    name_len = snprintf(name, sizeof name, "topic/%" PRIu32, st->topic);
    STEP_TRY("topic key", cairn_key_make(&key, st->run, CAIRN_TAG_KV,
                                         cairn_slice_of(name, (size_t)name_len)));
    STEP_TRY("write topic",
             cairn_txn_put(txn, &key, cairn_slice_of(st->payload, st->payload_len)));

    /* A note for this step; forget one that left the recent window. */
    STEP_TRY("note key", demo_note_key(&key, st->run, seq));
    STEP_TRY("write note",
             cairn_txn_put(txn, &key, cairn_slice_of(st->payload, st->payload_len / 2)));
    if (seq > DEMO_NOTE_WINDOW && !demo_note_kept(seq - DEMO_NOTE_WINDOW, seq)) {
        STEP_TRY("old note key", demo_note_key(&key, st->run, seq - DEMO_NOTE_WINDOW));
        STEP_TRY("delete old note", cairn_txn_delete(txn, &key));
    }

    /* Sometimes cache a tool output for a while. */
    if (st->cache) {
        STEP_TRY("cache key", cairn_key_make(&key, st->run, CAIRN_TAG_KV,
                                             cstr_slice(demo_cache_key)));
        STEP_TRY("write cache", cairn_txn_put_expiring(txn, &key,
                                                       cairn_slice_of(counter, sizeof counter),
                                                       now + DEMO_CACHE_TTL_US));
    }
    return CAIRN_OK;

fail:
    if (s != CAIRN_CONFLICT) {
        snprintf(st->err, sizeof st->err, "%s: %s: %s", failed, cairn_status_name(s),
                 cairn_txn_errmsg(txn));
    }
    return s;
}

#undef STEP_TRY

/* ---- Workers ------------------------------------------------------------ */

static void demo_plan_step(demo_worker *w, demo_step *st)
{
    uint32_t run = demo_rand_below(&w->rng, w->nruns);

    st->run = &w->runs[run];
    st->topic = demo_rand_below(&w->rng, DEMO_TOPICS);
    st->event_type = demo_rand_below(&w->rng, (uint32_t)DEMO_EVENT_TYPES);
    st->cache = demo_rand_below(&w->rng, DEMO_CACHE_ONE_IN) == 0;
    st->payload_len = 32 + demo_rand_below(&w->rng, DEMO_PAYLOAD_MAX - 32 + 1);
    for (uint32_t i = 0; i < st->payload_len; i++)
        st->payload[i] = (char)('a' + demo_rand_below(&w->rng, 26));
    st->seq = 0;
}

static void *demo_worker_main(void *arg)
{
    demo_worker *w = arg;
    demo_step st;

    for (uint64_t i = 0; i < w->txns; i++) {
        cairn_status s;
        size_t run;

        if (atomic_load_explicit(w->stop, memory_order_relaxed))
            break;
        demo_plan_step(w, &st);
        run = (size_t)(st.run - w->runs);
        s = cairn_db_run(w->db, NULL, demo_step_txn, &st, NULL);
        if (s == CAIRN_OK) {
            w->committed++;
            w->steps[run]++;
            if (st.cache && st.seq > w->cache_seq[run])
                w->cache_seq[run] = st.seq;
        } else if (s == CAIRN_CONFLICT) {
            w->abandoned++;
        } else {
            w->status = s;
            snprintf(w->err, sizeof w->err, "%s",
                     st.err[0] != '\0' ? st.err : cairn_status_name(s));
            atomic_store(w->stop, true);
            break;
        }
    }
    return NULL;
}

/* ---- Verification ------------------------------------------------------- */

typedef struct demo_verify {
    cairn_txn *txn;
    unsigned problems;
    /* Per run, for the report. */
    uint64_t events;
    uint64_t notes;
} demo_verify;

static void demo_problem(demo_verify *v, const cairn_run_id *run, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void demo_problem(demo_verify *v, const cairn_run_id *run, const char *fmt, ...)
{
    char id[CAIRN_RUN_ID_TEXT_LEN + 1];
    va_list ap;

    if (v->problems++ >= DEMO_MAX_REPORTED_PROBLEMS)
        return;
    cairn_run_id_format(run, id);
    printf("verify: run %s: ", id);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* The counter must equal the steps committed. */
static cairn_status demo_verify_counter(demo_verify *v, const cairn_run_id *run, uint64_t steps)
{
    cairn_key key;
    cairn_slice value;
    cairn_status s;

    s = cairn_key_make(&key, run, CAIRN_TAG_STATE, cstr_slice(demo_progress_cell));
    if (s != CAIRN_OK)
        return s;
    s = cairn_txn_get(v->txn, &key, &value);
    if (s == CAIRN_NOT_FOUND) {
        if (steps != 0)
            demo_problem(v, run, "progress counter missing, expected %" PRIu64, steps);
        return CAIRN_OK;
    }
    if (s != CAIRN_OK)
        return s;
    if (value.len != 8)
        demo_problem(v, run, "progress counter holds %zu bytes, expected 8", value.len);
    else if (get_be64(value.data) != steps)
        demo_problem(v, run, "progress counter is %" PRIu64 ", expected %" PRIu64,
                     get_be64(value.data), steps);
    return CAIRN_OK;
}

/* Event records must run 1, 2, ..., steps with nothing missing or extra. */
static cairn_status demo_verify_events(demo_verify *v, const cairn_run_id *run, uint64_t steps)
{
    cairn_key prefix;
    cairn_iter *it = NULL;
    cairn_slice k, val, rest;
    cairn_status s;
    uint64_t expected = 1;

    v->events = 0;
    s = cairn_key_init(&prefix, run, CAIRN_TAG_EVENT);
    if (s == CAIRN_OK)
        s = cairn_key_append_u8(&prefix, DEMO_EVENT_RECORD);
    if (s == CAIRN_OK)
        s = cairn_txn_scan_prefix(v->txn, &prefix, 0, &it);
    if (s != CAIRN_OK)
        return s;
    while ((s = cairn_iter_next(it, &k, &val)) == CAIRN_OK) {
        uint64_t seq;

        s = cairn_key_decode(k, NULL, NULL, &rest);
        if (s != CAIRN_OK)
            break;
        v->events++;
        if (rest.len != 9) {
            demo_problem(v, run, "event key with a %zu-byte rest", rest.len);
            continue;
        }
        seq = get_be64((const uint8_t *)rest.data + 1);
        if (seq != expected) {
            demo_problem(v, run, "event sequence jumps from %" PRIu64 " to %" PRIu64,
                         expected - 1, seq);
            expected = seq;
        }
        if (val.len < DEMO_EVENT_HEADER || get_be64(val.data) != seq)
            demo_problem(v, run, "event %" PRIu64 " holds the wrong record", seq);
        expected++;
    }
    cairn_iter_free(it);
    if (s != CAIRN_DONE)
        return s;
    if (v->events != steps)
        demo_problem(v, run, "%" PRIu64 " events, expected %" PRIu64, v->events, steps);
    return CAIRN_OK;
}

/* Exactly the notes demo_note_kept() says must survive. */
static cairn_status demo_verify_notes(demo_verify *v, const cairn_run_id *run, uint64_t steps)
{
    cairn_key prefix;
    cairn_iter *it = NULL;
    cairn_slice k, val, rest;
    cairn_status s;
    uint64_t expected = 0;
    const size_t prefix_len = sizeof demo_note_prefix - 1;

    /* The next note expected after `expected`. */
#define NEXT_KEPT(from)                                                                      \
    do {                                                                                     \
        expected = (from) + 1;                                                               \
        while (expected <= steps && !demo_note_kept(expected, steps))                        \
            expected++;                                                                      \
    } while (0)

    v->notes = 0;
    s = cairn_key_make(&prefix, run, CAIRN_TAG_KV, cstr_slice(demo_note_prefix));
    if (s == CAIRN_OK)
        s = cairn_txn_scan_prefix(v->txn, &prefix, 0, &it);
    if (s != CAIRN_OK)
        return s;
    NEXT_KEPT(0);
    while ((s = cairn_iter_next(it, &k, &val)) == CAIRN_OK) {
        uint64_t seq;

        s = cairn_key_decode(k, NULL, NULL, &rest);
        if (s != CAIRN_OK)
            break;
        v->notes++;
        if (rest.len != prefix_len + 8) {
            demo_problem(v, run, "note key with a %zu-byte rest", rest.len);
            continue;
        }
        seq = get_be64((const uint8_t *)rest.data + prefix_len);
        if (seq != expected) {
            demo_problem(v, run, "note %" PRIu64 " found where note %" PRIu64 " was expected",
                         seq, expected);
        }
        NEXT_KEPT(seq);
    }
    cairn_iter_free(it);
    if (s != CAIRN_DONE)
        return s;
    if (expected <= steps)
        demo_problem(v, run, "note %" PRIu64 " is missing", expected);
#undef NEXT_KEPT
    return CAIRN_OK;
}

/* The cache holds the newest step that cached, and has not expired. */
static cairn_status demo_verify_cache(demo_verify *v, const cairn_run_id *run, uint64_t cache_seq)
{
    cairn_key key;
    cairn_slice value;
    cairn_status s;

    s = cairn_key_make(&key, run, CAIRN_TAG_KV, cstr_slice(demo_cache_key));
    if (s != CAIRN_OK)
        return s;
    s = cairn_txn_get(v->txn, &key, &value);
    if (s == CAIRN_NOT_FOUND) {
        if (cache_seq != 0)
            demo_problem(v, run, "cached tool output of step %" PRIu64 " is missing", cache_seq);
        return CAIRN_OK;
    }
    if (s != CAIRN_OK)
        return s;
    if (cache_seq == 0)
        demo_problem(v, run, "a cached tool output exists, but no step wrote one");
    else if (value.len != 8 || get_be64(value.data) != cache_seq)
        demo_problem(v, run, "cached tool output is not the one of step %" PRIu64, cache_seq);
    return CAIRN_OK;
}

/* ---- The subcommand ----------------------------------------------------- */

void cmd_demo_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn demo [--threads N] [--txns N] [--seed S]\n"
            "\n"
            "Opens an in-memory database, creates a few agent runs (twice the threads, at\n"
            "least 4) and runs an agent-like workload on them from several threads: each\n"
            "transaction is one step of a run that bumps the run's progress counter\n"
            "(retried on conflict), appends an event, writes working-memory keys, deletes\n"
            "old notes and caches an expiring value.  Then one read-only transaction\n"
            "checks that every run's counter, event sequence, notes and cache match the\n"
            "steps that committed.\n"
            "\n"
            "options:\n"
            "  --threads N   worker threads (default %u, at most %u)\n"
            "  --txns N      transactions in total, across all threads (default %u)\n"
            "  --seed S      seed of the workload's random choices (default %u)\n"
            "  -h, --help    show this help\n"
            "\n"
            "exit status: 0 verified, 1 verification failed or the engine reported an error,\n"
            "             2 usage error, 3 the database could not be opened\n",
            DEMO_THREADS_DEFAULT, DEMO_THREADS_MAX, DEMO_TXNS_DEFAULT, DEMO_SEED_DEFAULT);
}

static int demo_parse_args(int argc, char **argv, demo_config *cfg)
{
    cfg->threads = DEMO_THREADS_DEFAULT;
    cfg->txns = DEMO_TXNS_DEFAULT;
    cfg->seed = DEMO_SEED_DEFAULT;

    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        uint64_t n;
        int r;

        if (cli_is_help(argv[i])) {
            cmd_demo_usage(stdout);
            return -1;
        }
        if ((r = cli_take_value(argc, argv, &i, "demo", "--threads", &value)) != 0) {
            if (r < 0 || !cli_parse_u64("demo", "--threads", value, 1, DEMO_THREADS_MAX, &n))
                return CLI_EXIT_USAGE;
            cfg->threads = (uint32_t)n;
        } else if ((r = cli_take_value(argc, argv, &i, "demo", "--txns", &value)) != 0) {
            if (r < 0 || !cli_parse_u64("demo", "--txns", value, 1, DEMO_TXNS_MAX, &n))
                return CLI_EXIT_USAGE;
            cfg->txns = n;
        } else if ((r = cli_take_value(argc, argv, &i, "demo", "--seed", &value)) != 0) {
            if (r < 0 || !cli_parse_u64("demo", "--seed", value, 0, UINT64_MAX, &n))
                return CLI_EXIT_USAGE;
            cfg->seed = n;
        } else {
            return cli_usage_error("demo", "unknown argument '%s'", argv[i]);
        }
    }
    /* Enough runs that threads mostly work on different ones, as agents do. */
    cfg->runs = cfg->threads * 2 > DEMO_RUNS_MIN ? cfg->threads * 2 : DEMO_RUNS_MIN;
    return CLI_EXIT_OK;
}

/* Checks every run in one read-only transaction and prints a line per run.
 * Returns the number of problems found, or sets *statusp on an engine error. */
static unsigned demo_verify_all(cairn_db *db, const cairn_run_id *runs, uint32_t nruns,
                                const uint64_t *steps, const uint64_t *cache_seq,
                                cairn_status *statusp)
{
    cairn_txn_options topts;
    demo_verify v = {0};
    cairn_status s;

    cairn_txn_options_init(&topts);
    topts.mode = CAIRN_TXN_READ_ONLY;
    s = cairn_txn_begin(db, &topts, &v.txn);
    if (s != CAIRN_OK) {
        *statusp = s;
        return 0;
    }

    printf("  %-36s %8s %8s %8s\n", "run", "steps", "events", "notes");
    for (uint32_t r = 0; r < nruns && s == CAIRN_OK; r++) {
        char id[CAIRN_RUN_ID_TEXT_LEN + 1];

        s = demo_verify_counter(&v, &runs[r], steps[r]);
        if (s == CAIRN_OK)
            s = demo_verify_events(&v, &runs[r], steps[r]);
        if (s == CAIRN_OK)
            s = demo_verify_notes(&v, &runs[r], steps[r]);
        if (s == CAIRN_OK)
            s = demo_verify_cache(&v, &runs[r], cache_seq[r]);
        if (s != CAIRN_OK)
            break;
        cairn_run_id_format(&runs[r], id);
        printf("  %-36s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", id, steps[r], v.events,
               v.notes);
    }
    if (s != CAIRN_OK) {
        fprintf(stderr, "cairn demo: verification read failed: %s: %s\n",
                cairn_status_name(s), cairn_txn_errmsg(v.txn));
        *statusp = s;
    } else {
        s = cairn_txn_commit(v.txn);
        if (s != CAIRN_OK) {
            fprintf(stderr, "cairn demo: read-only commit failed: %s: %s\n",
                    cairn_status_name(s), cairn_txn_errmsg(v.txn));
            *statusp = s;
        }
    }
    cairn_txn_free(v.txn);
    return v.problems;
}

int cmd_demo(int argc, char **argv)
{
    demo_config cfg = {0};
    cairn_options opts;
    cairn_db *db = NULL;
    cairn_run_id *runs = NULL;
    demo_worker *workers = NULL;
    uint64_t *steps = NULL, *cache_seq = NULL;
    atomic_bool stop = false;
    cairn_stats stats;
    cairn_status s, verify_status = CAIRN_OK;
    char errbuf[512] = "";
    uint64_t committed = 0, abandoned = 0;
    uint32_t started = 0;
    unsigned problems = 0;
    double t0, elapsed;
    int rc;

    rc = demo_parse_args(argc, argv, &cfg);
    if (rc < 0)
        return CLI_EXIT_OK; /* --help */
    if (rc != CLI_EXIT_OK)
        return rc;

    cairn_options_init(&opts);
    s = cairn_db_open(NULL, &opts, &db, errbuf, sizeof errbuf);
    if (s != CAIRN_OK) {
        fprintf(stderr, "cairn demo: cannot open an in-memory database: %s%s%s\n",
                cairn_strerror(s), errbuf[0] != '\0' ? ": " : "", errbuf);
        return CLI_EXIT_CANNOT_OPEN;
    }

    rc = CLI_EXIT_PROBLEM;
    runs = calloc(cfg.runs, sizeof *runs);
    steps = calloc(cfg.runs, sizeof *steps);
    cache_seq = calloc(cfg.runs, sizeof *cache_seq);
    workers = calloc(cfg.threads, sizeof *workers);
    if (runs == NULL || steps == NULL || cache_seq == NULL || workers == NULL) {
        fprintf(stderr, "cairn demo: out of memory\n");
        goto out;
    }
    for (uint32_t r = 0; r < cfg.runs; r++) {
        s = cairn_run_id_generate(db, &runs[r]);
        if (s != CAIRN_OK) {
            cairn_db_errmsg(db, errbuf, sizeof errbuf);
            fprintf(stderr, "cairn demo: cannot generate a run id: %s: %s\n",
                    cairn_status_name(s), errbuf);
            goto out;
        }
    }

    printf("cairn demo: in-memory database, %" PRIu32 " runs, %" PRIu32 " threads, %" PRIu64
           " transactions, seed %" PRIu64 "\n\n",
           cfg.runs, cfg.threads, cfg.txns, cfg.seed);
    fflush(stdout);

    t0 = monotonic_seconds();
    for (uint32_t t = 0; t < cfg.threads; t++) {
        demo_worker *w = &workers[t];

        w->db = db;
        w->runs = runs;
        w->nruns = cfg.runs;
        w->txns = cfg.txns / cfg.threads + (t < cfg.txns % cfg.threads ? 1 : 0);
        w->rng = cfg.seed ^ (0x9e3779b97f4a7c15ull * (t + 1));
        w->stop = &stop;
        w->steps = calloc(cfg.runs, sizeof *w->steps);
        w->cache_seq = calloc(cfg.runs, sizeof *w->cache_seq);
        if (w->steps == NULL || w->cache_seq == NULL) {
            fprintf(stderr, "cairn demo: out of memory\n");
            atomic_store(&stop, true);
            break;
        }
        if (pthread_create(&w->thread, NULL, demo_worker_main, w) != 0) {
            fprintf(stderr, "cairn demo: cannot start thread %" PRIu32 "\n", t);
            atomic_store(&stop, true);
            break;
        }
        started++;
    }
    for (uint32_t t = 0; t < started; t++)
        pthread_join(workers[t].thread, NULL);
    elapsed = monotonic_seconds() - t0;
    if (started < cfg.threads)
        goto out;

    for (uint32_t t = 0; t < cfg.threads; t++) {
        const demo_worker *w = &workers[t];

        if (w->status != CAIRN_OK) {
            fprintf(stderr, "cairn demo: thread %" PRIu32 " stopped: %s\n", t, w->err);
            goto out;
        }
        committed += w->committed;
        abandoned += w->abandoned;
        for (uint32_t r = 0; r < cfg.runs; r++) {
            steps[r] += w->steps[r];
            if (w->cache_seq[r] > cache_seq[r])
                cache_seq[r] = w->cache_seq[r];
        }
    }

    s = cairn_db_stats(db, &stats);
    if (s != CAIRN_OK) {
        fprintf(stderr, "cairn demo: cannot read statistics: %s\n", cairn_status_name(s));
        goto out;
    }

    problems = demo_verify_all(db, runs, cfg.runs, steps, cache_seq, &verify_status);
    if (verify_status != CAIRN_OK)
        goto out;
    if (stats.commits != committed) {
        printf("verify: the engine counted %" PRIu64 " commits, the workers %" PRIu64 "\n",
               stats.commits, committed);
        problems++;
    }

    printf("\n");
    printf("runs:                    %" PRIu32 "\n", cfg.runs);
    printf("transactions committed:  %" PRIu64 "\n", committed);
    printf("conflicts retried:       %" PRIu64 "\n", stats.conflicts);
    if (abandoned > 0)
        printf("steps given up:          %" PRIu64 " (still conflicting after %" PRIu32
               " attempts)\n",
               abandoned, opts.max_retries);
    printf("elapsed:                 %.3f s\n", elapsed);
    printf("commits/s:               %.0f\n", elapsed > 0 ? (double)committed / elapsed : 0.0);
    if (problems == 0) {
        printf("verify: ok\n");
        rc = CLI_EXIT_OK;
    } else {
        printf("verify: FAILED (%u problem%s)\n", problems, problems == 1 ? "" : "s");
    }

out:
    if (workers != NULL) {
        for (uint32_t t = 0; t < cfg.threads; t++) {
            free(workers[t].steps);
            free(workers[t].cache_seq);
        }
    }
    free(workers);
    free(cache_seq);
    free(steps);
    free(runs);
    s = cairn_db_close(db);
    if (s != CAIRN_OK) {
        cairn_db_errmsg(db, errbuf, sizeof errbuf);
        fprintf(stderr, "cairn demo: close failed: %s: %s\n", cairn_status_name(s), errbuf);
        rc = CLI_EXIT_PROBLEM;
    }
    return rc;
}
