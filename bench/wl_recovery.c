/*
 * wl_recovery.c - recovery: the time to reopen a database after a crash.
 *
 * A child process opens a fresh database, commits single-put transactions
 * (cfg->recovery_txns of them, or as many as fit in cfg->recovery_seconds)
 * and exits without closing anything, as a crashed process would.  The cell
 * then times opening the directory again up to the first successful read of
 * the last acknowledged key.  ops is the number of transactions recovered,
 * seconds the reopen time; the three percentiles all report that one
 * sample.  Only durable modes take part: in `none` there is nothing to
 * recover.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "workload.h"

typedef struct writer_report {
    bench_rc rc;
    uint64_t txns;
    char msg[256];
} writer_report;

/* Runs in the child: writes, then "crashes". */
static void writer(bench_cell *cell, int fd)
{
    writer_report rep = {BENCH_OK, 0, ""};
    bench_result res;
    memset(&res, 0, sizeof res);
    if (bench_open_engine(cell, &res) != BENCH_OK) {
        rep.rc = res.status == BENCH_RES_UNSUPPORTED ? BENCH_UNSUPPORTED : BENCH_ERROR;
        snprintf(rep.msg, sizeof rep.msg, "%s", res.msg);
        bench_write_all(fd, &rep, sizeof rep);
        _exit(0);
    }
    bench_thread t;
    bench_rc rc = bench_thread_setup(cell, 0, &t);
    const bench_config *cfg = cell->cfg;
    uint64_t deadline = bench_now_ns() + (uint64_t)(cfg->recovery_seconds * 1e9);
    while (rc == BENCH_OK && rep.txns < cfg->recovery_txns) {
        rc = wl_put1(&t, rep.txns);
        if (rc != BENCH_OK)
            break;
        rep.txns++;
        if ((rep.txns & 63) == 0 && bench_now_ns() >= deadline)
            break;
    }
    rep.rc = rc;
    if (rc != BENCH_OK)
        snprintf(rep.msg, sizeof rep.msg, "%s", t.err);
    bench_write_all(fd, &rep, sizeof rep);
    _exit(0); /* no close: the point is to leave the files as a crash would */
}

static bench_rc recovery_run(bench_cell *cell, bench_result *res)
{
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(res->msg, sizeof res->msg, "pipe: %s", strerror(errno));
        return BENCH_ERROR;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(res->msg, sizeof res->msg, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return BENCH_ERROR;
    }
    if (pid == 0) {
        close(fds[0]);
        writer(cell, fds[1]);
    }
    close(fds[1]);
    writer_report rep;
    memset(&rep, 0, sizeof rep);
    bool got = bench_read_all(fds[0], &rep, sizeof rep) == 0;
    close(fds[0]);
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    if (!got) {
        snprintf(res->msg, sizeof res->msg, "writer process died (status %d)", wst);
        return BENCH_ERROR;
    }
    if (rep.rc != BENCH_OK) {
        snprintf(res->msg, sizeof res->msg, "%s", rep.msg);
        return rep.rc;
    }
    if (rep.txns == 0) {
        snprintf(res->msg, sizeof res->msg, "writer committed nothing");
        return BENCH_ERROR;
    }

    uint64_t t0 = bench_now_ns();
    if (bench_open_engine(cell, res) != BENCH_OK)
        return res->status == BENCH_RES_UNSUPPORTED ? BENCH_UNSUPPORTED : BENCH_ERROR;
    bench_thread t;
    bench_rc rc = bench_thread_setup(cell, 0, &t);
    if (rc == BENCH_OK)
        rc = wl_read1(&t, rep.txns - 1);
    uint64_t t1 = bench_now_ns();
    if (rc == BENCH_OK && t.misses)
        snprintf(res->msg, sizeof res->msg,
                 "the last acknowledged transaction (%llu) was lost in the crash",
                 (unsigned long long)(rep.txns - 1));
    else if (rc != BENCH_OK)
        snprintf(res->msg, sizeof res->msg, "%s", t.err);
    bool lost = rc == BENCH_OK && t.misses;
    bench_thread_teardown(&t);
    res->rss_bytes = bench_peak_rss();
    cell->eng->close(cell->db);
    cell->db = NULL;
    if (rc != BENCH_OK || lost)
        return BENCH_ERROR;

    double secs = (double)(t1 - t0) / 1e9;
    res->ops = rep.txns;
    res->seconds = secs;
    res->ops_per_sec = secs > 0 ? (double)rep.txns / secs : 0.0;
    res->p50_us = res->p99_us = res->p999_us = secs * 1e6;
    return BENCH_OK;
}

const bench_workload bench_wl_recovery = {
    .name = "recovery",
    .summary = "reopen after a crash that follows N single-put transactions",
    .flags = WL_DURABLE_ONLY | WL_ONE_THREAD,
    .run = recovery_run,
};
