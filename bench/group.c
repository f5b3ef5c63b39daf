/* group.c - the group and cell processes (see group.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "group.h"
#include "util.h"

/* What a group process sends to the main process. */
typedef struct group_msg {
    int kind; /* MSG_RESULT or MSG_NOTE */
    size_t cell;
    bench_result res;
} group_msg;

enum { MSG_RESULT = 0, MSG_NOTE = 1 };

static void identity(bench_result *res, const bench_group *g, const bench_plan_cell *pc)
{
    memset(res, 0, sizeof *res);
    snprintf(res->workload, sizeof res->workload, "%s", pc->wl->name);
    snprintf(res->engine, sizeof res->engine, "%s", g->eng->name);
    res->durability = g->durability;
    res->threads = pc->threads;
}

static void child_signals(void)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
}

/*
 * Forks a process that runs `fn(arg, &res)` and sends res back; waits at
 * most `timeout_s`.  Returns false (with a message in res) when the process
 * died or hung.
 */
typedef void (*child_fn)(void *arg, bench_result *res);

static bool in_child(child_fn fn, void *arg, double timeout_s, bench_result *res)
{
    int fds[2];
    if (pipe(fds) != 0) {
        res->status = BENCH_RES_FAILED;
        snprintf(res->msg, sizeof res->msg, "pipe: %s", strerror(errno));
        return false;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        res->status = BENCH_RES_FAILED;
        snprintf(res->msg, sizeof res->msg, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        child_signals();
        close(fds[0]);
        fn(arg, res);
        bench_write_all(fds[1], res, sizeof *res);
        _exit(0);
    }
    close(fds[1]);
    bench_result got;
    bool ok = false, timed_out = false;
    uint64_t deadline = bench_now_ns() + (uint64_t)(timeout_s * 1e9);
    for (;;) {
        uint64_t now = bench_now_ns();
        if (now >= deadline) {
            timed_out = true;
            break;
        }
        struct pollfd p = {fds[0], POLLIN, 0};
        uint64_t left_ms = (deadline - now) / 1000000u + 1;
        int r = poll(&p, 1, left_ms > 60000 ? 60000 : (int)left_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0) {
            ok = bench_read_all(fds[0], &got, sizeof got) == 0;
            break;
        }
    }
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int wst = 0;
    while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
        ;
    if (ok) {
        *res = got;
        return true;
    }
    res->status = BENCH_RES_FAILED;
    if (timed_out)
        snprintf(res->msg, sizeof res->msg, "timed out after %.0f s (killed)", timeout_s);
    else if (WIFSIGNALED(wst))
        snprintf(res->msg, sizeof res->msg, "crashed: %s", strsignal(WTERMSIG(wst)));
    else
        snprintf(res->msg, sizeof res->msg, "exited with status %d and no result",
                 WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    return false;
}

/* ---- The group process ----------------------------------------------- */

typedef struct group_state {
    const bench_config *cfg;
    const bench_group *g;
    int out;
    char gdir[4096];
    char datadir[4200];
    /* persistent engines: the data set's state */
    bool data_tried;
    bench_result data_res;
    /* in-memory engines: the database loaded here, forked into cells */
    bool mem_tried;
    bench_db *mem_db;
    uint64_t mem_loaded;
} group_state;

static void send_msg(group_state *s, int kind, size_t cell, const bench_result *res)
{
    group_msg m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.cell = cell;
    m.res = *res;
    bench_write_all(s->out, &m, sizeof m);
}

static void note(group_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(group_state *s, const char *fmt, ...)
{
    bench_result r;
    memset(&r, 0, sizeof r);
    int n = snprintf(r.msg, sizeof r.msg, "%s/%s: ", s->g->eng->name,
                     bench_durability_name(s->g->durability));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.msg + n, sizeof r.msg - (size_t)n, fmt, ap);
    va_end(ap);
    send_msg(s, MSG_NOTE, 0, &r);
}

typedef struct prep_arg {
    group_state *s;
} prep_arg;

static void prepare_child(void *arg, bench_result *res)
{
    group_state *s = ((prep_arg *)arg)->s;
    bench_cell cell;
    memset(&cell, 0, sizeof cell);
    cell.cfg = s->cfg;
    cell.eng = s->g->eng;
    cell.durability = s->g->durability;
    cell.loading = true;
    cell.threads = 1;
    cell.dir = s->datadir;
    memset(res, 0, sizeof *res);
    if (bench_open_engine(&cell, res) != BENCH_OK)
        return;
    double secs = 0;
    if (bench_preload(&cell, res, &secs) == BENCH_OK) {
        res->status = BENCH_RES_OK;
        res->seconds = secs;
        if (cell.eng->settle)
            cell.eng->settle(cell.db);
    }
    cell.eng->close(cell.db);
}

static double load_timeout(const bench_config *cfg)
{
    return 120.0 + (double)cfg->keys / 2000.0;
}

static void ensure_dataset(group_state *s)
{
    if (s->data_tried)
        return;
    s->data_tried = true;
    mkdir(s->datadir, 0755);
    prep_arg a = {s};
    memset(&s->data_res, 0, sizeof s->data_res);
    in_child(prepare_child, &a, load_timeout(s->cfg), &s->data_res);
    if (s->data_res.status == BENCH_RES_OK)
        note(s, "loaded %llu keys into %s in %.1f s", (unsigned long long)s->cfg->keys,
             s->datadir, s->data_res.seconds);
}

static void ensure_memory_preload(group_state *s)
{
    if (s->mem_tried)
        return;
    s->mem_tried = true;
    bench_cell cell;
    memset(&cell, 0, sizeof cell);
    cell.cfg = s->cfg;
    cell.eng = s->g->eng;
    cell.durability = s->g->durability;
    cell.threads = 1;
    cell.dir = s->gdir;
    bench_result r;
    memset(&r, 0, sizeof r);
    if (bench_open_engine(&cell, &r) != BENCH_OK)
        return; /* each cell will report the same failure itself */
    double secs = 0;
    if (bench_preload(&cell, &r, &secs) != BENCH_OK) {
        cell.eng->close(cell.db);
        return;
    }
    unsigned tasks = bench_task_count();
    if (tasks != 1) {
        /* Forking a process with more threads would leave the children
         * with locks nobody can release: each cell loads its own copy. */
        cell.eng->close(cell.db);
        note(s, "the engine runs %u threads after loading; every cell loads its own keys",
             tasks);
        return;
    }
    s->mem_db = cell.db;
    s->mem_loaded = cell.loaded;
    note(s, "loaded %llu keys in memory in %.1f s; cells fork from here",
         (unsigned long long)cell.loaded, secs);
}

typedef struct cell_arg {
    group_state *s;
    const bench_plan_cell *pc;
    const char *dir;
    bench_db *db;
    uint64_t loaded;
} cell_arg;

static void cell_child(void *arg, bench_result *res)
{
    cell_arg *a = arg;
    bench_cell cell;
    memset(&cell, 0, sizeof cell);
    cell.cfg = a->s->cfg;
    cell.eng = a->s->g->eng;
    cell.wl = a->pc->wl;
    cell.durability = a->s->g->durability;
    cell.threads = a->pc->threads;
    cell.dir = a->dir;
    cell.db = a->db;
    cell.loaded = a->loaded;
    bench_run_cell(&cell, res);
}

static double cell_timeout(const bench_config *cfg, const bench_plan_cell *pc)
{
    double t = 60.0 + 4.0 * (cfg->warmup + cfg->seconds);
    if (pc->wl->flags & WL_PRELOAD)
        t += load_timeout(cfg);
    if (pc->wl->run)
        t += 4.0 * cfg->recovery_seconds + 60.0;
    return t;
}

static void run_cell(group_state *s, size_t i)
{
    const bench_plan_cell *pc = &s->g->cells[i];
    bench_result res;
    identity(&res, s->g, pc);
    bool preload = pc->wl->flags & WL_PRELOAD;
    bool persistent = s->g->eng->persistent(s->g->durability);
    cell_arg a = {s, pc, NULL, NULL, 0};
    char fresh[4300] = "";
    if (preload && persistent) {
        ensure_dataset(s);
        if (s->data_res.status != BENCH_RES_OK) {
            res.status = s->data_res.status;
            snprintf(res.msg, sizeof res.msg, "%s", s->data_res.msg);
            send_msg(s, MSG_RESULT, i, &res);
            return;
        }
        a.dir = s->datadir;
        a.loaded = s->cfg->keys;
    } else {
        snprintf(fresh, sizeof fresh, "%s/cell-%zu", s->gdir, i);
        mkdir(fresh, 0755);
        a.dir = fresh;
        if (preload) {
            ensure_memory_preload(s);
            a.db = s->mem_db;
            a.loaded = s->mem_db ? s->mem_loaded : 0;
        }
    }
    in_child(cell_child, &a, cell_timeout(s->cfg, pc), &res);
    send_msg(s, MSG_RESULT, i, &res);
    if (fresh[0])
        bench_rmtree(fresh);
}

static void group_main(const bench_config *cfg, const char *basedir, const bench_group *g,
                       int out)
{
    group_state s;
    memset(&s, 0, sizeof s);
    s.cfg = cfg;
    s.g = g;
    s.out = out;
    snprintf(s.gdir, sizeof s.gdir, "%s/%s-%s", basedir, g->eng->name,
             bench_durability_name(g->durability));
    snprintf(s.datadir, sizeof s.datadir, "%s/data", s.gdir);
    mkdir(s.gdir, 0755);
    /* Cells on fresh directories first, so none of them inherits memory
     * from a data set loaded into this process. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < g->ncells; i++)
            if (((g->cells[i].wl->flags & WL_PRELOAD) != 0) == (pass == 1))
                run_cell(&s, i);
    bench_rmtree(s.gdir);
}

/* ---- The main process's side ----------------------------------------- */

int bench_run_group(const bench_config *cfg, const char *basedir, const bench_group *g,
                    bench_result_fn on_result, bench_note_fn on_note, void *ctx)
{
    bool *done = calloc(g->ncells ? g->ncells : 1, sizeof *done);
    int fds[2] = {-1, -1};
    pid_t pid = -1;
    if (done && pipe(fds) == 0) {
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
            child_signals();
            close(fds[0]);
            group_main(cfg, basedir, g, fds[1]);
            _exit(0);
        }
        close(fds[1]);
    }
    if (pid > 0) {
        group_msg m;
        while (bench_read_all(fds[0], &m, sizeof m) == 0) {
            if (m.kind == MSG_NOTE) {
                if (on_note)
                    on_note(m.res.msg, ctx);
            } else if (m.cell < g->ncells && !done[m.cell]) {
                done[m.cell] = true;
                on_result(&m.res, ctx);
            }
        }
        close(fds[0]);
        int wst;
        while (waitpid(pid, &wst, 0) < 0 && errno == EINTR)
            ;
    } else if (fds[0] >= 0) {
        close(fds[0]);
    }
    for (size_t i = 0; i < g->ncells; i++) {
        if (done && done[i])
            continue;
        bench_result res;
        identity(&res, g, &g->cells[i]);
        res.status = BENCH_RES_FAILED;
        snprintf(res.msg, sizeof res.msg, "%s",
                 pid > 0 ? "the group process died before this cell" : "could not fork");
        on_result(&res, ctx);
    }
    free(done);
    return pid > 0 ? 0 : -1;
}
