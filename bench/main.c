/*
 * main.c - cairn-bench: options, the run plan, and the report.
 *
 * See docs/BENCHMARKS.md for what every workload does and how every peer is
 * configured.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cairn/cairn.h>

#include "group.h"
#include "report.h"
#include "util.h"
#include "workload.h"

#define MAX_LIST 32

typedef struct options {
    bool quick, keep, list;
    const char *json, *plot, *check_json, *dir;
    const bench_workload *wls[MAX_LIST];
    size_t nwls;
    const bench_engine *engs[MAX_LIST];
    size_t nengs;
    bool durs[BENCH_DUR_COUNT];
    bool user_wls, user_durs, user_threads; /* axes given on the command line */
    unsigned threads[MAX_LIST];
    size_t nthreads;
    /* -1 = not given */
    double keys, key_size, value_size, seconds, warmup, max_ops, read_batch, scan_len,
        recovery_txns, recovery_seconds, seed;
} options;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cairn-bench [options]\n"
            "\n"
            "Runs the same operations against cairn and its peers (RocksDB, SQLite, LMDB,\n"
            "and a raw fdatasync probe) on one machine and filesystem, each cell in its own\n"
            "process, and prints ops/s, p50/p99/p99.9 latency, peak RSS and cairn/peer.\n"
            "\n"
            "  --quick              a run of under a minute: put, get, scan, ycsb-a and\n"
            "                       ycsb-c at durability none with 1 and 2 threads, and put\n"
            "                       at sync with 1, 2 and 8 threads; small key counts\n"
            "  --workload LIST      comma-separated workloads (default: all; see --list)\n"
            "  --engine LIST        comma-separated engines (default: every one built)\n"
            "  --durability LIST    from none,async,sync (default: all)\n"
            "  --threads LIST       thread counts (default: 1,2,4,8)\n"
            "  --keys N             keys loaded for read workloads (default 1000000;\n"
            "                       --quick 20000)\n"
            "  --key-size N         key bytes (default 16)\n"
            "  --value-size N       value bytes (default 100)\n"
            "  --seconds S          measured seconds per cell (default 1; --quick 0.2)\n"
            "  --warmup S           unmeasured seconds before them (default 0.2;\n"
            "                       --quick 0.05)\n"
            "  --max-ops N          cap on measured operations per cell (default 10000000)\n"
            "  --read-batch N       reads per read-only transaction in get (default 1000)\n"
            "  --scan-len N         pairs per scan (default 100)\n"
            "  --recovery-txns N    transactions before the recovery reopen (default\n"
            "                       100000), written in at most --recovery-seconds S\n"
            "                       (default 10)\n"
            "  --seed N             key order and choices (default 1)\n"
            "  --dir DIR            where to make the scratch directory (default /var/tmp,\n"
            "                       or the current directory if /var/tmp is in memory)\n"
            "  --keep               keep the scratch directory\n"
            "  --json FILE          write the measured cells as a JSON array\n"
            "  --plot FILE.png      draw ops/s per engine and workload with gnuplot\n"
            "  --check-json FILE    check a file written by --json and exit\n"
            "  --list               list workloads and engine settings and exit\n"
            "  -v, --verbose        print every cell as it finishes\n"
            "  -h, --help           this text\n");
}

static bool parse_num(const char *opt, const char *s, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "cairn-bench: %s wants a number in [%g, %g], not '%s'\n", opt, min, max,
                s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_list(const char *opt, const char *arg, options *o)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", arg);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(opt, "--workload") == 0) {
            const bench_workload *w = bench_workload_find(tok);
            if (!w) {
                fprintf(stderr, "cairn-bench: unknown workload '%s' (see --list)\n", tok);
                return false;
            }
            if (o->nwls < MAX_LIST)
                o->wls[o->nwls++] = w;
            o->user_wls = true;
        } else if (strcmp(opt, "--engine") == 0) {
            const bench_engine *e = bench_engine_find(tok);
            if (!e) {
                bool missing = false;
                for (size_t i = 0; bench_engines_missing[i]; i++)
                    missing |= strcmp(bench_engines_missing[i], tok) == 0;
                fprintf(stderr, "cairn-bench: %s '%s'\n",
                        missing ? "this build has no engine" : "unknown engine", tok);
                return false;
            }
            if (o->nengs < MAX_LIST)
                o->engs[o->nengs++] = e;
        } else if (strcmp(opt, "--durability") == 0) {
            int d = -1;
            for (int i = 0; i < BENCH_DUR_COUNT; i++)
                if (strcmp(tok, bench_durability_name((bench_durability)i)) == 0)
                    d = i;
            if (d < 0) {
                fprintf(stderr, "cairn-bench: durability is none, async or sync, not '%s'\n",
                        tok);
                return false;
            }
            o->durs[d] = true;
            o->user_durs = true;
        } else {
            double v;
            if (!parse_num(opt, tok, 1, 1024, &v))
                return false;
            if (o->nthreads < MAX_LIST)
                o->threads[o->nthreads++] = (unsigned)v;
            o->user_threads = true;
        }
    }
    return true;
}

/* 0 = go on, 1 = exit 0, 2 = usage error. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    double *nums[] = {&o->keys, &o->key_size, &o->value_size, &o->seconds, &o->warmup,
                      &o->max_ops, &o->read_batch, &o->scan_len, &o->recovery_txns,
                      &o->recovery_seconds, &o->seed};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        *nums[i] = -1;
    static const struct {
        const char *name;
        size_t idx;
        double min, max;
    } numopts[] = {
        {"--keys", 0, 1, 1e9},
        {"--key-size", 1, BENCH_KEY_MIN, BENCH_KEY_MAX},
        {"--value-size", 2, 1, BENCH_VALUE_MAX},
        {"--seconds", 3, 0.01, 3600},
        {"--warmup", 4, 0, 3600},
        {"--max-ops", 5, 0, 1e12},
        {"--read-batch", 6, 1, 1e6},
        {"--scan-len", 7, 1, 1e5},
        {"--recovery-txns", 8, 1, 1e9},
        {"--recovery-seconds", 9, 0.01, 3600},
        {"--seed", 10, 0, 1e15},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--quick")) {
            o->quick = true;
            continue;
        }
        if (!strcmp(a, "--keep")) {
            o->keep = true;
            continue;
        }
        if (!strcmp(a, "--list")) {
            o->list = true;
            continue;
        }
        if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            continue; /* progress is always printed; kept for scripts */
        }
        bool handled = false;
        for (size_t k = 0; k < sizeof numopts / sizeof numopts[0]; k++) {
            if (strcmp(a, numopts[k].name) != 0)
                continue;
            if (!next) {
                fprintf(stderr, "cairn-bench: %s needs a value\n", a);
                return 2;
            }
            if (!parse_num(a, next, numopts[k].min, numopts[k].max, nums[numopts[k].idx]))
                return 2;
            i++;
            handled = true;
        }
        if (handled)
            continue;
        if (!strcmp(a, "--workload") || !strcmp(a, "--engine") || !strcmp(a, "--durability") ||
            !strcmp(a, "--threads")) {
            if (!next) {
                fprintf(stderr, "cairn-bench: %s needs a value\n", a);
                return 2;
            }
            if (!parse_list(a, next, o))
                return 2;
            i++;
            continue;
        }
        const char **strs[] = {&o->json, &o->plot, &o->check_json, &o->dir};
        const char *strnames[] = {"--json", "--plot", "--check-json", "--dir"};
        for (size_t k = 0; k < 4; k++) {
            if (strcmp(a, strnames[k]) != 0)
                continue;
            if (!next) {
                fprintf(stderr, "cairn-bench: %s needs a value\n", a);
                return 2;
            }
            *strs[k] = next;
            i++;
            handled = true;
        }
        if (handled)
            continue;
        fprintf(stderr, "cairn-bench: unknown option '%s' (try --help)\n", a);
        return 2;
    }
    return 0;
}

static double pick(double given, double quick, double full, bool is_quick)
{
    return given >= 0 ? given : (is_quick ? quick : full);
}

/* The --quick selection, on the axes the user did not choose. */
static bool quick_cell(const options *o, const bench_workload *wl, bench_durability d,
                       unsigned t)
{
    bool user_wl = o->user_wls, user_d = o->user_durs, user_t = o->user_threads;
    bool wl_ok = user_wl || (wl->flags & WL_QUICK);
    bool none_row = (user_d || d == BENCH_DUR_NONE) && (user_t || t == 1 || t == 2);
    bool sync_row = (user_d || d == BENCH_DUR_SYNC) && (user_wl || !strcmp(wl->name, "put")) &&
                    (user_t || t == 1 || t == 2 || t == 8);
    return wl_ok && (none_row || sync_row);
}

static void list_all(void)
{
    printf("workloads:\n");
    for (size_t i = 0; bench_workloads[i]; i++)
        printf("  %-10s %s%s\n", bench_workloads[i]->name, bench_workloads[i]->summary,
               (bench_workloads[i]->flags & WL_QUICK) ? "  [quick]" : "");
    printf("\nengines:\n");
    for (size_t i = 0; bench_engines[i]; i++) {
        const bench_engine *e = bench_engines[i];
        printf("  %s %s\n", e->name, e->version());
        for (int d = 0; d < BENCH_DUR_COUNT; d++)
            printf("    %-5s  %s\n", bench_durability_name((bench_durability)d), e->settings[d]);
    }
    for (size_t i = 0; bench_engines_missing[i]; i++)
        printf("  %s: not built (install its -dev package and reconfigure)\n",
               bench_engines_missing[i]);
}

typedef struct collector {
    bench_result *v;
    size_t n, cap, total;
    size_t failed;
} collector;

static void on_result(const bench_result *res, void *ctx)
{
    collector *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        bench_result *nv = realloc(c->v, cap * sizeof *nv);
        if (!nv) {
            fprintf(stderr, "cairn-bench: out of memory\n");
            exit(1);
        }
        c->v = nv;
        c->cap = cap;
    }
    c->v[c->n++] = *res;
    if (res->status == BENCH_RES_FAILED)
        c->failed++;
    fprintf(stderr, "[%3zu/%zu]", c->n, c->total);
    bench_report_line(stderr, res);
}

static void on_note(const char *note, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "        %s\n", note);
}

static void print_header(FILE *out, const bench_config *cfg, const char *dir, const char *fs,
                         size_t cells, size_t groups)
{
    char cpu[256];
    bench_cpu_model(cpu, sizeof cpu);
    struct utsname u;
    if (uname(&u) != 0)
        snprintf(u.release, sizeof u.release, "?");
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGE_SIZE);
    double ram = pages > 0 && psize > 0 ? (double)pages * (double)psize / (1u << 30) : 0;
    fprintf(out, "cairn-bench: cairn %s\n", cairn_version());
    fprintf(out, "machine:     %ld CPUs, %s, Linux %s, %.1f GiB RAM\n", sysconf(_SC_NPROCESSORS_ONLN),
            cpu, u.release, ram);
    fprintf(out, "directory:   %s (%s)\n", dir, fs);
    char load[128] = "?";
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fgets(load, sizeof load, lf))
            load[strcspn(load, "\n")] = '\0';
        fclose(lf);
    }
    fprintf(out, "load:        %s (/proc/loadavg at start)\n", load);
    fprintf(out,
            "run:         %llu keys of %zu bytes, values of %zu bytes; %.2f s measured per cell "
            "after %.2f s warm-up; seed %llu%s\n",
            (unsigned long long)cfg->keys, cfg->ks.key_size, cfg->ks.value_size, cfg->seconds,
            cfg->warmup, (unsigned long long)cfg->ks.seed, cfg->quick ? "; --quick" : "");
    fprintf(out, "engines:    ");
    for (size_t i = 0; bench_engines[i]; i++)
        fprintf(out, " %s %s%s", bench_engines[i]->name, bench_engines[i]->version(),
                bench_engines[i + 1] ? "," : "");
    for (size_t i = 0; bench_engines_missing[i]; i++)
        fprintf(out, "%s %s (not built)", i == 0 ? ";" : ",", bench_engines_missing[i]);
    fprintf(out, "\ncells:       %zu in %zu engine/durability groups\n\n", cells, groups);
}

static void print_limit(FILE *out, const bench_result *v, size_t n, const char *fs)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i].engine, "fdatasync") != 0 || v[i].status != BENCH_RES_OK)
            continue;
        if (!any)
            fprintf(out, "\nphysical limit (write 128 B + fdatasync, %s):", fs);
        fprintf(out, "%s %u thread%s %.0f/s (p50 %.0f us)", any ? "," : "", v[i].threads,
                v[i].threads == 1 ? "" : "s", v[i].ops_per_sec, v[i].p50_us);
        any = true;
    }
    if (any)
        fputc('\n', out);
}

int main(int argc, char **argv)
{
    options o;
    int pr = parse_args(argc, argv, &o);
    if (pr)
        return pr == 1 ? 0 : 2;
    if (o.list) {
        list_all();
        return 0;
    }
    if (o.check_json) {
        char err[512];
        long n = bench_check_json(o.check_json, err, sizeof err);
        if (n < 0) {
            fprintf(stderr, "cairn-bench: %s: invalid: %s\n", o.check_json, err);
            return 1;
        }
        printf("%s: valid, %ld records\n", o.check_json, n);
        return 0;
    }

    bench_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.quick = o.quick;
    cfg.keys = (uint64_t)pick(o.keys, 20000, 1000000, o.quick);
    cfg.seconds = pick(o.seconds, 0.2, 1.0, o.quick);
    cfg.warmup = pick(o.warmup, 0.05, 0.2, o.quick);
    cfg.max_ops = (uint64_t)pick(o.max_ops, 10000000, 10000000, o.quick);
    cfg.read_batch = (unsigned)pick(o.read_batch, 1000, 1000, o.quick);
    cfg.scan_len = (unsigned)pick(o.scan_len, 100, 100, o.quick);
    cfg.load_batch = 1000;
    cfg.recovery_txns = (uint64_t)pick(o.recovery_txns, 5000, 100000, o.quick);
    cfg.recovery_seconds = pick(o.recovery_seconds, 1, 10, o.quick);
    if (bench_keyspace_init(&cfg.ks, (size_t)pick(o.key_size, 16, 16, false),
                            (size_t)pick(o.value_size, 100, 100, false),
                            (uint64_t)pick(o.seed, 1, 1, false)) != 0) {
        fprintf(stderr, "cairn-bench: bad key or value size\n");
        return 2;
    }
    bench_zipf_init(&cfg.zipf, cfg.keys, 0.99);

    /* Axes. */
    if (o.nwls == 0)
        for (size_t i = 0; bench_workloads[i] && o.nwls < MAX_LIST; i++)
            o.wls[o.nwls++] = bench_workloads[i];
    if (o.nengs == 0)
        for (size_t i = 0; bench_engines[i] && o.nengs < MAX_LIST; i++)
            o.engs[o.nengs++] = bench_engines[i];
    if (!o.user_durs)
        for (int d = 0; d < BENCH_DUR_COUNT; d++)
            o.durs[d] = true;
    unsigned default_threads[] = {1, 2, 4, 8};
    if (o.nthreads == 0)
        for (size_t i = 0; i < 4; i++)
            o.threads[o.nthreads++] = default_threads[i];

    /* The plan: groups of cells per (engine, durability). */
    size_t maxcells = o.nengs * BENCH_DUR_COUNT * o.nwls * o.nthreads + 1;
    bench_plan_cell *cells = calloc(maxcells, sizeof *cells);
    bench_group *groups = calloc(o.nengs * BENCH_DUR_COUNT + 1, sizeof *groups);
    if (!cells || !groups) {
        fprintf(stderr, "cairn-bench: out of memory\n");
        return 1;
    }
    size_t ncells = 0, ngroups = 0;
    for (size_t e = 0; e < o.nengs; e++) {
        const bench_engine *eng = o.engs[e];
        for (int d = 0; d < BENCH_DUR_COUNT; d++) {
            if (!o.durs[d])
                continue;
            bench_group *g = &groups[ngroups];
            g->eng = eng;
            g->durability = (bench_durability)d;
            g->cells = &cells[ncells];
            for (size_t w = 0; w < o.nwls; w++) {
                const bench_workload *wl = o.wls[w];
                for (size_t t = 0; t < o.nthreads; t++) {
                    unsigned thr = o.threads[t];
                    if ((wl->flags & WL_DURABLE_ONLY) && d == BENCH_DUR_NONE)
                        continue;
                    if ((wl->flags & WL_ONE_THREAD) && thr != 1)
                        continue;
                    if (eng->supports && !eng->supports(wl->name, (bench_durability)d))
                        continue;
                    if (o.quick && !quick_cell(&o, wl, (bench_durability)d, thr))
                        continue;
                    cells[ncells].wl = wl;
                    cells[ncells].threads = thr;
                    ncells++;
                    g->ncells++;
                }
            }
            if (g->ncells)
                ngroups++;
        }
    }
    if (ncells == 0) {
        fprintf(stderr, "cairn-bench: the filters leave nothing to run\n");
        return 2;
    }

    /* The scratch directory, on a real disk. */
    const char *parent = o.dir;
    char fs[64];
    bool memory = false;
    if (!parent) {
        parent = "/var/tmp";
        if (access(parent, W_OK) != 0 || bench_fs_name(parent, fs, sizeof fs, &memory) != 0 ||
            memory)
            parent = ".";
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/cairn-bench.XXXXXX", parent);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "cairn-bench: mkdtemp %s: %s\n", dir, strerror(errno));
        return 1;
    }
    bench_fs_name(dir, fs, sizeof fs, &memory);
    print_header(stdout, &cfg, dir, fs, ncells, ngroups);
    if (memory)
        fprintf(stdout, "warning: %s is in memory (%s): async and sync numbers say nothing "
                        "about a disk; use --dir\n\n", dir, fs);
    fflush(stdout);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    collector col = {NULL, 0, 0, ncells, 0};
    uint64_t t0 = bench_now_ns();
    for (size_t g = 0; g < ngroups && !interrupted; g++)
        bench_run_group(&cfg, dir, &groups[g], on_result, on_note, &col);
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;

    if (!o.keep)
        bench_rmtree(dir);
    else
        fprintf(stderr, "kept %s\n", dir);

    bench_sort_results(col.v, col.n);
    fputc('\n', stdout);
    bench_report_table(stdout, col.v, col.n);
    print_limit(stdout, col.v, col.n, fs);
    fprintf(stdout,
            "\ncairn/x: cairn's ops/s divided by the row's (above 1: cairn is faster).  "
            "%zu cells in %.1f s.\n",
            col.n, elapsed);

    int rc = col.failed ? 1 : 0;
    char err[512];
    if (o.json) {
        if (bench_report_json(o.json, col.v, col.n, err, sizeof err) != 0) {
            fprintf(stderr, "cairn-bench: --json: %s\n", err);
            rc = 1;
        } else {
            fprintf(stdout, "wrote %s\n", o.json);
        }
    }
    if (o.plot) {
        char title[256];
        snprintf(title, sizeof title, "cairn-bench, %llu keys, %s", (unsigned long long)cfg.keys,
                 fs);
        if (bench_report_plot(o.plot, col.v, col.n, title, err, sizeof err) != 0) {
            fprintf(stderr, "cairn-bench: --plot: %s\n", err);
            rc = 1;
        } else {
            fprintf(stdout, "wrote %s\n", o.plot);
        }
    }
    if (col.failed)
        fprintf(stderr, "cairn-bench: %zu cell(s) failed\n", col.failed);
    free(col.v);
    free(cells);
    free(groups);
    bench_keyspace_free(&cfg.ks);
    if (interrupted)
        return 130;
    return rc;
}
