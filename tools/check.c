/*
 * check.c - the consistency checks `cairn verify` and `cairn demo` share:
 * every run's event chain, every run's trace index, and the run index.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CHECK_PAGE 1000u

void cli_json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

int cli_open(const char *cmd, const char *dir, bool read_only, cairn_durability durability,
             cairn_db **dbp)
{
    cairn_options opts;
    char errbuf[512] = "";
    cairn_status s;

    cairn_options_init(&opts);
    opts.read_only = read_only;
    if (durability != CAIRN_DURABILITY_DEFAULT)
        opts.durability = durability;
    s = cairn_db_open(dir, &opts, dbp, errbuf, sizeof errbuf);
    if (s != CAIRN_OK) {
        fprintf(stderr, "cairn %s: cannot open %s: %s%s%s\n", cmd,
                dir != NULL ? dir : "an in-memory database", cairn_strerror(s),
                errbuf[0] != '\0' ? ": " : "", errbuf);
        return CLI_EXIT_CANNOT_OPEN;
    }
    return CLI_EXIT_OK;
}

static void check_problem(cli_check *c, const char *run, const char *what, uint64_t seq,
                          const char *where, const char *why)
{
    c->problems++;
    if (c->json) {
        if (c->problems > 1)
            fputc(',', c->out);
        fprintf(c->out, "{\"run\":");
        cli_json_string(c->out, run);
        fprintf(c->out, ",\"check\":\"%s\",\"seq\":%" PRIu64 ",\"where\":", what, seq);
        cli_json_string(c->out, where);
        fprintf(c->out, ",\"why\":");
        cli_json_string(c->out, why);
        fputc('}', c->out);
    } else {
        fprintf(c->out, "problem: %s: run %s%s%s: %s\n", what, run[0] != '\0' ? run : "-",
                where[0] != '\0' ? " at " : "", where, why);
    }
}

static cairn_status check_one_run(cli_check *c, cairn_db *db, const cairn_run_id *run)
{
    char id[CAIRN_RUN_ID_TEXT_LEN + 1];
    char where[96];
    cairn_chain_report chain;
    cairn_trace_report traces;
    cairn_status s;

    cairn_run_id_format(run, id);
    s = cairn_event_verify(db, run, &chain);
    if (s != CAIRN_OK)
        return s;
    c->runs++;
    c->events += chain.len;
    if (!chain.ok) {
        snprintf(where, sizeof where, "event %" PRIu64, chain.bad_seq);
        check_problem(c, id, "events", chain.bad_seq, where, chain.why);
    }
    s = cairn_trace_check(db, run, &traces);
    if (s != CAIRN_OK)
        return s;
    c->traces += traces.traces;
    if (!traces.ok) {
        snprintf(where, sizeof where, "trace %.*s", (int)traces.bad_id.len,
                 (const char *)traces.bad_id.bytes);
        check_problem(c, id, "traces", 0, traces.bad_id.len > 0 ? where : "", traces.why);
    }
    return CAIRN_OK;
}

cairn_status cli_check_db(cli_check *c, cairn_db *db, const cairn_run_id *only)
{
    cairn_run_report runs;
    cairn_run_list list = {0};
    cairn_run_cursor after = {0};
    cairn_status s = CAIRN_OK;

    if (c->json)
        fprintf(c->out, "\"problems\":[");
    if (only != NULL) {
        s = check_one_run(c, db, only);
    } else {
        do {
            s = cairn_run_list_all(db, after.set ? &after : NULL, CHECK_PAGE, &list);
            for (size_t i = 0; s == CAIRN_OK && i < list.n; i++)
                s = check_one_run(c, db, &list.items[i].id);
            after = list.next;
            if (s != CAIRN_OK || !list.more)
                break;
            cairn_run_list_free(&list);
        } while (true);
        cairn_run_list_free(&list);
    }
    if (s == CAIRN_OK)
        s = cairn_run_check(db, &runs);
    if (s == CAIRN_OK && !runs.ok) {
        char id[CAIRN_RUN_ID_TEXT_LEN + 1] = "";

        if (runs.has_bad_id)
            cairn_run_id_format(&runs.bad_id, id);
        check_problem(c, id, "runindex", 0, "", runs.why);
    }
    if (c->json)
        fputc(']', c->out);
    return s;
}
