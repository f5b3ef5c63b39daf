/* report.c - the table, the JSON file and the plot. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

static int workload_rank(const char *name)
{
    for (int i = 0; bench_workloads[i]; i++)
        if (strcmp(bench_workloads[i]->name, name) == 0)
            return i;
    return 1000;
}

static int engine_rank(const char *name)
{
    static const char *const order[] = {"cairn", "rocksdb", "sqlite", "lmdb", "fdatasync"};
    for (int i = 0; i < 5; i++)
        if (strcmp(order[i], name) == 0)
            return i;
    return 100;
}

static int cmp_result(const void *pa, const void *pb)
{
    const bench_result *a = pa, *b = pb;
    int d = workload_rank(a->workload) - workload_rank(b->workload);
    if (d == 0)
        d = (int)a->durability - (int)b->durability;
    if (d == 0)
        d = (int)a->threads - (int)b->threads;
    if (d == 0)
        d = engine_rank(a->engine) - engine_rank(b->engine);
    return d;
}

void bench_sort_results(bench_result *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_result);
}

static bool same_cell(const bench_result *a, const bench_result *b)
{
    return strcmp(a->workload, b->workload) == 0 && a->durability == b->durability &&
           a->threads == b->threads;
}

/* 1234567.8 -> "1,234,568" */
static const char *thousands(double v, char *buf, size_t n)
{
    char raw[64];
    snprintf(raw, sizeof raw, "%.0f", v);
    size_t len = strlen(raw), o = 0;
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        buf[o++] = raw[i];
        size_t left = len - i - 1;
        if (left && left % 3 == 0 && raw[i] != '-')
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

static const char *latency(double us, char *buf, size_t n)
{
    if (us < 10)
        snprintf(buf, n, "%.2f", us);
    else if (us < 1000)
        snprintf(buf, n, "%.1f", us);
    else
        snprintf(buf, n, "%.0f", us);
    return buf;
}

static const char *mib(uint64_t bytes, char *buf, size_t n)
{
    snprintf(buf, n, "%.0f MiB", (double)bytes / (1024.0 * 1024.0));
    return buf;
}

static const char *status_word(bench_status s)
{
    return s == BENCH_RES_UNSUPPORTED ? "unsupported" : "FAILED";
}

void bench_report_line(FILE *out, const bench_result *r)
{
    fprintf(out, "  %-9s %-5s %2u  %-9s ", r->workload, bench_durability_name(r->durability),
            r->threads, r->engine);
    if (r->status != BENCH_RES_OK) {
        fprintf(out, "%s: %s\n", status_word(r->status), r->msg);
        return;
    }
    char a[32], b[32], c[32], d[32], e[32];
    fprintf(out, "%13s ops/s  p50 %s  p99 %s  p99.9 %s us  rss %s",
            thousands(r->ops_per_sec, a, sizeof a), latency(r->p50_us, b, sizeof b),
            latency(r->p99_us, c, sizeof c), latency(r->p999_us, d, sizeof d),
            mib(r->rss_bytes, e, sizeof e));
    if (r->conflicts)
        fprintf(out, "  (%llu retries)", (unsigned long long)r->conflicts);
    if (r->misses)
        fprintf(out, "  (%llu misses)", (unsigned long long)r->misses);
    fputc('\n', out);
}

/* The distinct messages of unsupported and failed rows, numbered. */
typedef struct notes {
    const char *msg[64];
    size_t n;
} notes;

static size_t note_of(notes *ns, const char *msg)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->msg[i], msg) == 0)
            return i + 1;
    if (ns->n == 64)
        return 0;
    ns->msg[ns->n++] = msg;
    return ns->n;
}

void bench_report_table(FILE *out, const bench_result *v, size_t n)
{
    notes ns = {{0}, 0};
    fprintf(out, "%-9s %-5s %3s  %-9s %13s %9s %9s %9s %9s %8s\n", "workload", "dur", "thr",
            "engine", "ops/s", "p50 us", "p99 us", "p99.9 us", "peak RSS", "cairn/x");
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && same_cell(&v[i], &v[j]))
            j++;
        const bench_result *cairn = NULL;
        for (size_t k = i; k < j; k++)
            if (strcmp(v[k].engine, "cairn") == 0 && v[k].status == BENCH_RES_OK)
                cairn = &v[k];
        if (i > 0)
            fputc('\n', out);
        for (size_t k = i; k < j; k++) {
            const bench_result *r = &v[k];
            fprintf(out, "%-9s %-5s %3u  %-9s ", r->workload,
                    bench_durability_name(r->durability), r->threads, r->engine);
            if (r->status != BENCH_RES_OK) {
                size_t k2 = note_of(&ns, r->msg);
                if (k2)
                    fprintf(out, "%13s  [%zu]\n", status_word(r->status), k2);
                else
                    fprintf(out, "%13s  %s\n", status_word(r->status), r->msg);
                continue;
            }
            char a[32], b[32], c[32], d[32], e[32], ratio[32];
            if (cairn && r->ops_per_sec > 0)
                snprintf(ratio, sizeof ratio, "%.2f", cairn->ops_per_sec / r->ops_per_sec);
            else
                snprintf(ratio, sizeof ratio, "-");
            fprintf(out, "%13s %9s %9s %9s %9s %8s", thousands(r->ops_per_sec, a, sizeof a),
                    latency(r->p50_us, b, sizeof b), latency(r->p99_us, c, sizeof c),
                    latency(r->p999_us, d, sizeof d), mib(r->rss_bytes, e, sizeof e), ratio);
            if (r->conflicts)
                fprintf(out, "  %llu retries", (unsigned long long)r->conflicts);
            if (r->misses)
                fprintf(out, "  %llu misses", (unsigned long long)r->misses);
            fputc('\n', out);
        }
        i = j;
    }
    if (ns.n)
        fputc('\n', out);
    for (size_t k = 0; k < ns.n; k++)
        fprintf(out, "[%zu] %s\n", k + 1, ns.msg[k]);
}

/* ---- JSON -------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static double finite_or_zero(double x)
{
    return x == x && x < 1e300 && x > -1e300 ? x : 0.0;
}

int bench_report_json(const char *path, const bench_result *v, size_t n, char *err,
                      size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    fputs("[", f);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const bench_result *r = &v[i];
        if (r->status != BENCH_RES_OK)
            continue;
        fputs(first ? "\n  {" : ",\n  {", f);
        first = false;
        fputs("\"workload\": ", f);
        json_string(f, r->workload);
        fputs(", \"engine\": ", f);
        json_string(f, r->engine);
        fputs(", \"durability\": ", f);
        json_string(f, bench_durability_name(r->durability));
        fprintf(f,
                ", \"threads\": %u, \"ops\": %llu, \"seconds\": %.6f, \"ops_per_sec\": %.1f, "
                "\"p50_us\": %.3f, \"p99_us\": %.3f, \"p999_us\": %.3f, \"rss_bytes\": %llu}",
                r->threads, (unsigned long long)r->ops, finite_or_zero(r->seconds),
                finite_or_zero(r->ops_per_sec), finite_or_zero(r->p50_us),
                finite_or_zero(r->p99_us), finite_or_zero(r->p999_us),
                (unsigned long long)r->rss_bytes);
    }
    fputs(first ? "]\n" : "\n]\n", f);
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        snprintf(err, errlen, "%s: write failed", tmp);
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "rename %s -> %s: %s", tmp, path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* ---- Plot -------------------------------------------------------------- */

#define MAXV 32

typedef struct axis {
    const char *v[MAXV];
    size_t n;
} axis;

static void axis_add(axis *a, const char *s)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], s) == 0)
            return;
    if (a->n < MAXV)
        a->v[a->n++] = s;
}

static const char *engine_color(const char *e)
{
    if (strcmp(e, "cairn") == 0)
        return "#1b9e77";
    if (strcmp(e, "rocksdb") == 0)
        return "#d95f02";
    if (strcmp(e, "sqlite") == 0)
        return "#7570b3";
    if (strcmp(e, "lmdb") == 0)
        return "#e7298a";
    return "#666666";
}

static const bench_result *find(const bench_result *v, size_t n, const char *wl,
                                bench_durability d, unsigned thr, const char *eng)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].status == BENCH_RES_OK && v[i].durability == d && v[i].threads == thr &&
            strcmp(v[i].workload, wl) == 0 && strcmp(v[i].engine, eng) == 0)
            return &v[i];
    return NULL;
}

int bench_report_plot(const char *path, const bench_result *v, size_t n, const char *title,
                      char *err, size_t errlen)
{
    axis wls = {{0}, 0}, engs = {{0}, 0};
    unsigned thr[MAXV];
    size_t nthr = 0;
    bool dur[BENCH_DUR_COUNT] = {false, false, false};
    double lo = 0, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].status != BENCH_RES_OK || v[i].ops_per_sec <= 0)
            continue;
        const bench_workload *wl = bench_workload_find(v[i].workload);
        if (wl && wl->run)
            continue; /* recovery measures a reopen, not throughput */
        if (lo == 0 || v[i].ops_per_sec < lo)
            lo = v[i].ops_per_sec;
        if (v[i].ops_per_sec > hi)
            hi = v[i].ops_per_sec;
        axis_add(&wls, v[i].workload);
        axis_add(&engs, v[i].engine);
        dur[v[i].durability] = true;
        bool seen = false;
        for (size_t k = 0; k < nthr; k++)
            seen |= thr[k] == v[i].threads;
        if (!seen && nthr < MAXV)
            thr[nthr++] = v[i].threads;
    }
    for (size_t a = 0; a < nthr; a++) /* ascending thread counts */
        for (size_t b = a + 1; b < nthr; b++)
            if (thr[b] < thr[a]) {
                unsigned x = thr[a];
                thr[a] = thr[b];
                thr[b] = x;
            }
    if (wls.n == 0) {
        snprintf(err, errlen, "nothing was measured; no plot");
        return -1;
    }
    if (strchr(path, '\'') || strchr(title, '\'')) {
        snprintf(err, errlen, "the plot path must not contain a single quote");
        return -1;
    }

    char dat[4200];
    snprintf(dat, sizeof dat, "%s.dat", path);
    FILE *f = fopen(dat, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", dat, strerror(errno));
        return -1;
    }
    /* One data block per non-empty (durability, threads) panel. */
    char plots[64][2048];
    size_t panels = 0;
    for (int d = 0; d < BENCH_DUR_COUNT; d++) {
        if (!dur[d])
            continue;
        for (size_t ti = 0; ti < nthr && panels < 64; ti++) {
            bool any = false;
            bool eng_has[MAXV] = {false};
            bool wl_has[MAXV] = {false};
            for (size_t w = 0; w < wls.n; w++)
                for (size_t e = 0; e < engs.n; e++)
                    if (find(v, n, wls.v[w], (bench_durability)d, thr[ti], engs.v[e])) {
                        any = eng_has[e] = wl_has[w] = true;
                    }
            if (!any)
                continue;
            size_t nwl = 0;
            for (size_t w = 0; w < wls.n; w++)
                nwl += wl_has[w];
            /* Columns: workload, then one per engine in engs order. */
            for (size_t w = 0; w < wls.n; w++) {
                if (!wl_has[w])
                    continue;
                fprintf(f, "%s", wls.v[w]);
                for (size_t e = 0; e < engs.n; e++) {
                    const bench_result *r =
                        find(v, n, wls.v[w], (bench_durability)d, thr[ti], engs.v[e]);
                    if (r && r->ops_per_sec > 0)
                        fprintf(f, " %.1f", r->ops_per_sec);
                    else
                        fprintf(f, " -");
                }
                fputc('\n', f);
            }
            fputs("\n\n", f);
            int o = snprintf(plots[panels], sizeof plots[panels],
                             "set title 'durability %s, %u thread%s'\n"
                             "set xrange [-0.6:%zu.6]\nplot ",
                             bench_durability_name((bench_durability)d), thr[ti],
                             thr[ti] == 1 ? "" : "s", nwl - 1);
            bool first = true;
            for (size_t e = 0; e < engs.n; e++) {
                if (!eng_has[e])
                    continue;
                o += snprintf(plots[panels] + o, sizeof plots[panels] - (size_t)o,
                              "%s'%s' index %zu using %zu:xtic(1) title '%s' lc rgb '%s'",
                              first ? "" : ", ", dat, panels, e + 2, engs.v[e],
                              engine_color(engs.v[e]));
                first = false;
            }
            panels++;
        }
    }
    fclose(f);

    size_t cols = nthr < panels ? nthr : panels;
    if (cols == 0)
        cols = 1;
    size_t rows = (panels + cols - 1) / cols;
    char script[4300];
    snprintf(script, sizeof script, "%s.gp", path);
    FILE *g = fopen(script, "w");
    if (!g) {
        snprintf(err, errlen, "%s: %s", script, strerror(errno));
        remove(dat);
        return -1;
    }
    fprintf(g, "set terminal pngcairo size %zu,%zu font ',9'\n", 520 * cols, 380 * rows + 60);
    fprintf(g, "set output '%s'\n", path);
    fprintf(g, "set datafile missing '-'\n");
    fprintf(g, "set style data histograms\nset style histogram clustered gap 1\n");
    fprintf(g, "set style fill solid 0.9 border -1\nset boxwidth 0.9\n");
    fprintf(g, "set logscale y\nset yrange [%g:%g]\nset format y '10^{%%L}'\n",
            pow(10.0, floor(log10(lo))), pow(10.0, ceil(log10(hi * 1.5))));
    fprintf(g, "set ylabel 'ops/s (log)'\nset grid ytics\nset key top right font ',8'\n");
    fprintf(g, "set xtics rotate by -30 nomirror\n");
    fprintf(g, "set multiplot layout %zu,%zu title '%s'\n", rows, cols, title);
    for (size_t p = 0; p < panels; p++)
        fprintf(g, "%s\n", plots[p]);
    fprintf(g, "unset multiplot\n");
    fclose(g);

    char cmd[8800];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", script);
    FILE *p = popen(cmd, "r");
    int rc = -1;
    char out[512] = "";
    if (p) {
        size_t got = fread(out, 1, sizeof out - 1, p);
        out[got] = '\0';
        int st = pclose(p);
        rc = (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0) ? 0 : -1;
    }
    if (rc != 0)
        snprintf(err, errlen, "gnuplot failed (is gnuplot installed?): %s", out);
    remove(dat);
    remove(script);
    return rc;
}
