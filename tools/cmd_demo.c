/*
 * cmd_demo.c - `cairn demo`: simulates an agent runtime on the five
 * primitives, then runs the same checks as `cairn verify`.
 *
 * Each agent is a thread that owns one run at a time and loops over steps:
 *
 *   TraceStore  a "thought" root trace and a "tool_call" child, both finished
 *   EventLog    tool_call_started, then tool_call_finished
 *   KV          memory/topic-N, overwritten
 *   StateCell   "progress", advanced by a transition (read-modify-write)
 *   RunIndex    after a random number of steps the run completes, fails, or
 *               pauses and resumes; a finished run is followed by a new run,
 *               forked from it (a parent link) every other time
 *
 * With --ack-file every acknowledged event append (its commit returned) is
 * written as a line "<run_id> <seq>", so a crash test can check that nothing
 * acknowledged was lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define DEMO_AGENTS_DEFAULT 4u
#define DEMO_AGENTS_MAX 64u
#define DEMO_STEPS_DEFAULT 500u
#define DEMO_STEPS_MAX 100000000u
#define DEMO_SEED_DEFAULT 1u
#define DEMO_TOPICS 8u
#define DEMO_RUN_STEPS_MIN 10u  /* a run lasts 10..59 steps */
#define DEMO_RUN_STEPS_SPAN 50u
#define DEMO_PAYLOAD_MAX 160u

static const char demo_progress_cell[] = "progress";

typedef struct demo_config {
    const char *dir;
    uint32_t agents;
    uint64_t steps;
    uint64_t seed;
    cairn_durability durability;
    bool forever;
    const char *ack_file;
} demo_config;

/* What the agents share. */
typedef struct demo_shared {
    cairn_db *db;
    const demo_config *cfg;
    int ack_fd;
    atomic_bool stop;
    atomic_uint_fast64_t steps;
    atomic_uint_fast64_t events;
    atomic_uint_fast64_t traces;
} demo_shared;

typedef struct demo_agent {
    pthread_t thread;
    demo_shared *sh;
    uint32_t index;
    uint64_t rng;
    uint64_t runs_created;
    cairn_status status;  /* first failure, CAIRN_OK if none */
    char err[600];
} demo_agent;

static volatile sig_atomic_t demo_signalled;

static void demo_on_signal(int sig)
{
    (void)sig;
    demo_signalled = 1;
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

static bool demo_stopping(demo_shared *sh)
{
    return demo_signalled || atomic_load_explicit(&sh->stop, memory_order_relaxed);
}

/* The progress cell holds a decimal step count; this adds one. */
static cairn_status demo_progress_next(void *ctx, cairn_slice current, cairn_bytes *new_value)
{
    char buf[24];
    uint64_t n = 0;
    int len;

    (void)ctx;
    for (size_t i = 0; i < current.len; i++) {
        char ch = ((const char *)current.data)[i];
        if (ch < '0' || ch > '9')
            return CAIRN_CORRUPT;
        n = n * 10 + (uint64_t)(ch - '0');
    }
    len = snprintf(buf, sizeof buf, "%" PRIu64, n + 1);
    new_value->data = malloc((size_t)len);
    if (new_value->data == NULL)
        return CAIRN_NO_MEMORY;
    memcpy(new_value->data, buf, (size_t)len);
    new_value->len = (size_t)len;
    return CAIRN_OK;
}

#define AGENT_TRY(what, call)                                                                \
    do {                                                                                     \
        s = (call);                                                                          \
        if (s != CAIRN_OK) {                                                                 \
            failed = (what);                                                                 \
            goto fail;                                                                       \
        }                                                                                    \
    } while (0)

static cairn_status demo_ack(demo_agent *a, const cairn_run_id *run, uint64_t seq)
{
    char line[CAIRN_RUN_ID_TEXT_LEN + 32];
    int len;

    if (a->sh->ack_fd < 0)
        return CAIRN_OK;
    cairn_run_id_format(run, line);
    len = snprintf(line + CAIRN_RUN_ID_TEXT_LEN, sizeof line - CAIRN_RUN_ID_TEXT_LEN,
                   " %" PRIu64 "\n", seq);
    len += CAIRN_RUN_ID_TEXT_LEN;
    if (write(a->sh->ack_fd, line, (size_t)len) != (ssize_t)len) {
        snprintf(a->err, sizeof a->err, "cannot write the ack file: %s", strerror(errno));
        return CAIRN_IO;
    }
    return CAIRN_OK;
}

/* One step of an agent in `run`. */
static cairn_status demo_step(demo_agent *a, const cairn_run_id *run, uint64_t step)
{
    cairn_db *db = a->sh->db;
    const char *failed = "";
    cairn_trace_spec spec;
    cairn_trace_id thought, call;
    char payload[DEMO_PAYLOAD_MAX + 1];
    char key[32];
    uint32_t payload_len = 16 + demo_rand_below(&a->rng, DEMO_PAYLOAD_MAX - 16);
    bool tool_fails = demo_rand_below(&a->rng, 10) == 0;
    uint64_t seq = 0;
    cairn_status s;

    for (uint32_t i = 0; i < payload_len; i++)
        payload[i] = (char)('a' + demo_rand_below(&a->rng, 26));
    payload[payload_len] = '\0';

    cairn_trace_spec_init(&spec);
    spec.type = CAIRN_TRACE_THOUGHT;
    spec.name = cstr_slice("plan");
    spec.payload = cairn_slice_of(payload, payload_len);
    AGENT_TRY("record thought", cairn_trace_record(db, run, &spec, &thought));
    spec.type = CAIRN_TRACE_TOOL_CALL;
    spec.name = cstr_slice(step % 2 == 0 ? "search" : "read_file");
    spec.payload = cairn_slice_of(payload, payload_len / 2);
    AGENT_TRY("record tool call", cairn_trace_record_child(db, run, cairn_trace_id_slice(&thought),
                                                           &spec, &call));
    atomic_fetch_add(&a->sh->traces, 2);

    AGENT_TRY("append tool_call_started",
              cairn_event_append(db, run, cstr_slice("tool_call_started"),
                                 cairn_slice_of(payload, payload_len / 2), &seq, NULL));
    atomic_fetch_add(&a->sh->events, 1);
    AGENT_TRY("ack", demo_ack(a, run, seq));

    AGENT_TRY("finish tool call",
              cairn_trace_finish(db, run, cairn_trace_id_slice(&call),
                                 tool_fails ? CAIRN_TRACE_FAILED : CAIRN_TRACE_OK, 0));
    AGENT_TRY("finish thought",
              cairn_trace_finish(db, run, cairn_trace_id_slice(&thought), CAIRN_TRACE_OK, 0));

    AGENT_TRY("append tool_call_finished",
              cairn_event_append(db, run, cstr_slice("tool_call_finished"),
                                 cstr_slice(tool_fails ? "error" : "ok"), &seq, NULL));
    atomic_fetch_add(&a->sh->events, 1);
    AGENT_TRY("ack", demo_ack(a, run, seq));

    snprintf(key, sizeof key, "memory/topic-%" PRIu32, demo_rand_below(&a->rng, DEMO_TOPICS));
    AGENT_TRY("update memory",
              cairn_kv_put(db, run, cstr_slice(key), cairn_slice_of(payload, payload_len)));

    AGENT_TRY("advance progress",
              cairn_cell_transition_or_init(db, run, cstr_slice(demo_progress_cell),
                                            cstr_slice("0"), demo_progress_next, NULL, NULL,
                                            NULL));
    return CAIRN_OK;

fail:
    if (a->err[0] == '\0') {
        char errbuf[512] = "";
        cairn_db_errmsg(db, errbuf, sizeof errbuf);
        snprintf(a->err, sizeof a->err, "%s: %s%s%s", failed, cairn_status_name(s),
                 errbuf[0] != '\0' ? ": " : "", errbuf);
    }
    return s;
}

/* Ends a run's stretch of steps: complete, fail, or pause and resume.
 * Sets *finishedp when the run is over. */
static cairn_status demo_end_stretch(demo_agent *a, const cairn_run_id *run, bool *finishedp)
{
    cairn_db *db = a->sh->db;
    const char *failed = "";
    uint32_t dice = demo_rand_below(&a->rng, 4);
    cairn_status s;

    *finishedp = dice < 3;
    if (dice < 2)
        AGENT_TRY("complete run", cairn_run_complete(db, run));
    else if (dice == 2)
        AGENT_TRY("fail run", cairn_run_fail(db, run, cstr_slice("the tool kept failing")));
    else {
        AGENT_TRY("pause run", cairn_run_pause(db, run));
        AGENT_TRY("resume run", cairn_run_resume(db, run));
    }
    return CAIRN_OK;

fail:
    snprintf(a->err, sizeof a->err, "%s: %s", failed, cairn_status_name(s));
    return s;
}

static cairn_status demo_new_run(demo_agent *a, const cairn_run_id *parent, cairn_run_id *runp)
{
    cairn_run_spec spec;
    cairn_slice tags[1];
    char tag[32];
    cairn_status s;

    cairn_run_spec_init(&spec);
    snprintf(tag, sizeof tag, "agent-%" PRIu32, a->index);
    tags[0] = cstr_slice(tag);
    spec.tags = tags;
    spec.ntags = 1;
    spec.parent = parent;
    s = cairn_run_create(a->sh->db, &spec, runp);
    if (s != CAIRN_OK) {
        snprintf(a->err, sizeof a->err, "create run: %s", cairn_status_name(s));
        return s;
    }
    a->runs_created++;
    return CAIRN_OK;
}

#undef AGENT_TRY

static void *demo_agent_main(void *arg)
{
    demo_agent *a = arg;
    demo_shared *sh = a->sh;
    cairn_run_id run, next;
    uint64_t stretch = 0, in_stretch = 0;
    cairn_status s;

    s = demo_new_run(a, NULL, &run);
    for (uint64_t i = 0; s == CAIRN_OK && (sh->cfg->forever || i < sh->cfg->steps); i++) {
        bool finished = false;

        if (demo_stopping(sh))
            break;
        if (in_stretch == 0)
            stretch = DEMO_RUN_STEPS_MIN + demo_rand_below(&a->rng, DEMO_RUN_STEPS_SPAN);
        s = demo_step(a, &run, i);
        if (s != CAIRN_OK)
            break;
        atomic_fetch_add(&sh->steps, 1);
        if (++in_stretch < stretch)
            continue;
        in_stretch = 0;
        s = demo_end_stretch(a, &run, &finished);
        if (s == CAIRN_OK && finished) {
            bool fork = demo_rand_below(&a->rng, 2) == 0;

            s = demo_new_run(a, fork ? &run : NULL, &next);
            run = next;
        }
    }
    if (s != CAIRN_OK) {
        a->status = s;
        atomic_store(&sh->stop, true);
    }
    return NULL;
}

/* ---- The subcommand ----------------------------------------------------- */

void cmd_demo_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn demo [DIR] [--agents N] [--steps N] [--durability none|async|sync]\n"
            "                  [--seed S] [--forever] [--ack-file FILE]\n"
            "\n"
            "Simulates an agent runtime.  Each agent (a thread) creates a run and loops:\n"
            "it records a thought trace and a tool_call child trace, appends\n"
            "tool_call_started and tool_call_finished events, updates its KV memory and\n"
            "advances a progress cell; now and then the run completes, fails, or pauses\n"
            "and resumes, and a new run follows (every other one forked from the last).\n"
            "A progress line goes to stderr while it runs, then a summary and the checks\n"
            "of 'cairn verify' (event chains, trace and run indexes).\n"
            "\n"
            "DIR is the database directory (created when absent); without it the demo\n"
            "runs on an in-memory database.\n"
            "\n"
            "options:\n"
            "  --agents N        agent threads (default %u, at most %u)\n"
            "  --steps N         steps per agent (default %u)\n"
            "  --durability M    none, async or sync (default sync; needs DIR)\n"
            "  --seed S          seed of the workload's random choices (default %u)\n"
            "  --forever         run until interrupted (SIGINT/SIGTERM stop, then verify)\n"
            "  --ack-file FILE   append '<run_id> <seq>' to FILE for every acknowledged\n"
            "                    event append (one write per line)\n"
            "  -h, --help        show this help\n"
            "\n"
            "exit status: 0 verified, 1 verification failed or the engine reported an error,\n"
            "             2 usage error, 3 the database could not be opened\n",
            DEMO_AGENTS_DEFAULT, DEMO_AGENTS_MAX, DEMO_STEPS_DEFAULT, DEMO_SEED_DEFAULT);
}

static int demo_parse_args(int argc, char **argv, demo_config *cfg)
{
    cfg->agents = DEMO_AGENTS_DEFAULT;
    cfg->steps = DEMO_STEPS_DEFAULT;
    cfg->seed = DEMO_SEED_DEFAULT;
    cfg->durability = CAIRN_DURABILITY_DEFAULT;

    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        uint64_t n;
        int r;

        if (cli_is_help(argv[i])) {
            cmd_demo_usage(stdout);
            return -1;
        }
        if ((r = cli_take_value(argc, argv, &i, "demo", "--agents", &value)) != 0) {
            if (r < 0 || !cli_parse_u64("demo", "--agents", value, 1, DEMO_AGENTS_MAX, &n))
                return CLI_EXIT_USAGE;
            cfg->agents = (uint32_t)n;
        } else if ((r = cli_take_value(argc, argv, &i, "demo", "--steps", &value)) != 0) {
            if (r < 0 || !cli_parse_u64("demo", "--steps", value, 1, DEMO_STEPS_MAX, &n))
                return CLI_EXIT_USAGE;
            cfg->steps = n;
        } else if ((r = cli_take_value(argc, argv, &i, "demo", "--seed", &value)) != 0) {
            if (r < 0 || !cli_parse_u64("demo", "--seed", value, 0, UINT64_MAX, &n))
                return CLI_EXIT_USAGE;
            cfg->seed = n;
        } else if ((r = cli_take_value(argc, argv, &i, "demo", "--durability", &value)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            if (strcmp(value, "none") == 0)
                cfg->durability = CAIRN_DURABILITY_NONE;
            else if (strcmp(value, "async") == 0)
                cfg->durability = CAIRN_DURABILITY_ASYNC;
            else if (strcmp(value, "sync") == 0)
                cfg->durability = CAIRN_DURABILITY_SYNC;
            else
                return cli_usage_error("demo", "--durability: '%s' is not none, async or sync",
                                       value);
        } else if ((r = cli_take_value(argc, argv, &i, "demo", "--ack-file", &value)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
            cfg->ack_file = value;
        } else if (strcmp(argv[i], "--forever") == 0) {
            cfg->forever = true;
        } else if (argv[i][0] == '-' || cfg->dir != NULL) {
            return cli_usage_error("demo", "unexpected argument '%s'", argv[i]);
        } else {
            cfg->dir = argv[i];
        }
    }
    if (cfg->dir == NULL && cfg->durability != CAIRN_DURABILITY_DEFAULT &&
        cfg->durability != CAIRN_DURABILITY_NONE)
        return cli_usage_error("demo", "--durability needs a database directory");
    return CLI_EXIT_OK;
}

static void demo_progress(demo_shared *sh, double t0, double *lastp, uint64_t *last_stepsp)
{
    double now = monotonic_seconds();
    uint64_t steps = atomic_load(&sh->steps);
    double rate = now > *lastp ? (double)(steps - *last_stepsp) / (now - *lastp) : 0.0;

    fprintf(stderr, "\r%8.1f s  %10" PRIu64 " steps  %9.0f steps/s  %10" PRIu64 " events ",
            now - t0, steps, rate, (uint64_t)atomic_load(&sh->events));
    *lastp = now;
    *last_stepsp = steps;
}

static cairn_status demo_summary(cairn_db *db, const cairn_stats *before, double elapsed,
                                 uint64_t steps)
{
    cairn_stats stats;
    cairn_status s;

    s = cairn_db_stats(db, &stats);
    if (s != CAIRN_OK)
        return s;
    printf("steps:           %" PRIu64 "\n", steps);
    printf("runs by status: ");
    for (int st = 1; st <= CAIRN_RUN_STATUS_COUNT; st++) {
        uint64_t n = 0;

        s = cairn_run_count(db, (cairn_run_status)st, &n);
        if (s != CAIRN_OK)
            return s;
        printf(" %s %" PRIu64, cairn_run_status_name((cairn_run_status)st), n);
    }
    printf("\n");
    printf("commits:         %" PRIu64 "\n", stats.commits - before->commits);
    printf("conflicts:       %" PRIu64 "\n", stats.conflicts - before->conflicts);
    printf("elapsed:         %.3f s\n", elapsed);
    printf("commits/s:       %.0f\n",
           elapsed > 0 ? (double)(stats.commits - before->commits) / elapsed : 0.0);
    printf("steps/s:         %.0f\n", elapsed > 0 ? (double)steps / elapsed : 0.0);
    return CAIRN_OK;
}

int cmd_demo(int argc, char **argv)
{
    demo_config cfg = {0};
    demo_shared sh = {0};
    demo_agent *agents = NULL;
    cairn_stats before;
    cli_check check = {0};
    cairn_db *db = NULL;
    cairn_status s;
    uint32_t started = 0;
    uint64_t last_steps = 0;
    double t0, last, elapsed;
    struct sigaction sa;
    int rc;

    rc = demo_parse_args(argc, argv, &cfg);
    if (rc < 0)
        return CLI_EXIT_OK; /* --help */
    if (rc != CLI_EXIT_OK)
        return rc;

    rc = cli_open("demo", cfg.dir, false, cfg.dir != NULL ? cfg.durability : CAIRN_DURABILITY_DEFAULT,
                  &db);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = CLI_EXIT_PROBLEM;
    sh.db = db;
    sh.cfg = &cfg;
    sh.ack_fd = -1;
    if (cfg.ack_file != NULL) {
        sh.ack_fd = open(cfg.ack_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (sh.ack_fd < 0) {
            fprintf(stderr, "cairn demo: cannot open %s: %s\n", cfg.ack_file, strerror(errno));
            goto out;
        }
    }
    agents = calloc(cfg.agents, sizeof *agents);
    if (agents == NULL) {
        fprintf(stderr, "cairn demo: out of memory\n");
        goto out;
    }
    if (cairn_db_stats(db, &before) != CAIRN_OK)
        goto out;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = demo_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("cairn demo: %s, %" PRIu32 " agents, ", cfg.dir != NULL ? cfg.dir : "in-memory database",
           cfg.agents);
    if (cfg.forever)
        printf("until interrupted");
    else
        printf("%" PRIu64 " steps each", cfg.steps);
    printf(", seed %" PRIu64 "\n", cfg.seed);
    fflush(stdout);

    t0 = monotonic_seconds();
    last = t0;
    for (uint32_t i = 0; i < cfg.agents; i++) {
        demo_agent *a = &agents[i];

        a->sh = &sh;
        a->index = i;
        a->rng = cfg.seed ^ (0x9e3779b97f4a7c15ull * (i + 1));
        if (pthread_create(&a->thread, NULL, demo_agent_main, a) != 0) {
            fprintf(stderr, "cairn demo: cannot start agent %" PRIu32 "\n", i);
            atomic_store(&sh.stop, true);
            break;
        }
        started++;
    }
    /* The progress line, every half second until every agent is done. */
    for (;;) {
        struct timespec half = {0, 100 * 1000 * 1000};
        uint64_t want = cfg.forever ? UINT64_MAX : cfg.steps * started;

        for (int tick = 0; tick < 5; tick++) {
            if (atomic_load(&sh.stop) || atomic_load(&sh.steps) >= want || demo_signalled)
                break;
            nanosleep(&half, NULL);
        }
        demo_progress(&sh, t0, &last, &last_steps);
        if (atomic_load(&sh.stop) || atomic_load(&sh.steps) >= want || demo_signalled)
            break;
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(agents[i].thread, NULL);
    elapsed = monotonic_seconds() - t0;
    fprintf(stderr, "\n");
    if (started < cfg.agents)
        goto out;
    for (uint32_t i = 0; i < cfg.agents; i++) {
        if (agents[i].status != CAIRN_OK) {
            fprintf(stderr, "cairn demo: agent %" PRIu32 " stopped: %s\n", i, agents[i].err);
            goto out;
        }
    }

    s = demo_summary(db, &before, elapsed, (uint64_t)atomic_load(&sh.steps));
    if (s == CAIRN_OK) {
        check.out = stdout;
        s = cli_check_db(&check, db, NULL);
    }
    if (s != CAIRN_OK) {
        fprintf(stderr, "cairn demo: verification could not run: %s\n", cairn_strerror(s));
        goto out;
    }
    printf("checked %" PRIu64 " runs, %" PRIu64 " events, %" PRIu64 " traces\n", check.runs,
           check.events, check.traces);
    if (check.problems == 0) {
        printf("verify: ok\n");
        rc = CLI_EXIT_OK;
    } else {
        printf("verify: FAILED (%u problem%s)\n", check.problems,
               check.problems == 1 ? "" : "s");
    }

out:
    free(agents);
    if (sh.ack_fd >= 0)
        close(sh.ack_fd);
    if (cairn_db_close(db) != CAIRN_OK) {
        fprintf(stderr, "cairn demo: close failed\n");
        rc = CLI_EXIT_PROBLEM;
    }
    return rc;
}
