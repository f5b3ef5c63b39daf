/*
 * cmd_verify.c - `cairn verify DIR`: opens a database read-only (which
 * checks the WAL and checkpoint checksums) and verifies every run's event
 * chain, trace index and the run index.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

void cmd_verify_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn verify DIR [--run ID] [--json]\n"
            "\n"
            "Opens the database in DIR read-only (recovery checks every WAL record and\n"
            "checkpoint checksum; damage other than a torn tail fails the open), then\n"
            "verifies every run's event hash chain, every run's trace index, and the run\n"
            "index.  Each problem is reported with the run and the event or trace it\n"
            "concerns.  A torn record at the end of the log (left by a crash) is reported\n"
            "but is not a problem.\n"
            "\n"
            "options:\n"
            "  --run ID      check only this run's events and traces (plus the run index)\n"
            "  --json        print one JSON object instead of text\n"
            "  -h, --help    show this help\n"
            "\n"
            "exit status: 0 verified, 1 a problem was found, 2 usage error,\n"
            "             3 the database could not be opened\n");
}

int cmd_verify(int argc, char **argv)
{
    const char *dir = NULL, *run_text = NULL;
    bool json = false;
    cairn_run_id run;
    cairn_recovery_report rec;
    cli_check c = {0};
    cairn_db *db = NULL;
    cairn_status s;
    int rc;

    for (int i = 1; i < argc; i++) {
        int r;

        if (cli_is_help(argv[i])) {
            cmd_verify_usage(stdout);
            return CLI_EXIT_OK;
        }
        if ((r = cli_take_value(argc, argv, &i, "verify", "--run", &run_text)) != 0) {
            if (r < 0)
                return CLI_EXIT_USAGE;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' || dir != NULL) {
            return cli_usage_error("verify", "unexpected argument '%s'", argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL)
        return cli_usage_error("verify", "expected a database directory");
    if (run_text != NULL && cairn_run_id_parse(run_text, strlen(run_text), &run) != CAIRN_OK)
        return cli_usage_error("verify", "--run: '%s' is not a run id", run_text);

    rc = cli_open("verify", dir, true, CAIRN_DURABILITY_DEFAULT, &db);
    if (rc != CLI_EXIT_OK)
        return rc;

    c.out = stdout;
    c.json = json;
    if (json)
        printf("{\"dir\":");
    if (json) {
        cli_json_string(stdout, dir);
        printf(",");
    }
    s = cairn_db_recovery_report(db, &rec);
    if (s == CAIRN_OK && rec.torn) {
        if (json) {
            printf("\"torn_tail\":{\"file\":");
            cli_json_string(stdout, rec.torn_path);
            printf(",\"offset\":%" PRIu64 ",\"bytes\":%" PRIu64 "},", rec.torn_offset,
                   rec.bytes_truncated);
        } else {
            printf("recovery: a torn record ends the log: %" PRIu64 " bytes at %s offset %" PRIu64
                   " (left in place: read-only open)\n",
                   rec.bytes_truncated, rec.torn_path, rec.torn_offset);
        }
    }
    if (s == CAIRN_OK)
        s = cli_check_db(&c, db, run_text != NULL ? &run : NULL);
    if (s != CAIRN_OK) {
        char errbuf[512] = "";

        cairn_db_errmsg(db, errbuf, sizeof errbuf);
        if (json)
            printf("}\n");
        fprintf(stderr, "cairn verify: %s%s%s\n", cairn_strerror(s),
                errbuf[0] != '\0' ? ": " : "", errbuf);
        cairn_db_close(db);
        return CLI_EXIT_PROBLEM;
    }
    if (json) {
        printf(",\"runs\":%" PRIu64 ",\"events\":%" PRIu64 ",\"traces\":%" PRIu64
               ",\"ok\":%s}\n",
               c.runs, c.events, c.traces, c.problems == 0 ? "true" : "false");
    } else {
        printf("checked %" PRIu64 " runs, %" PRIu64 " events, %" PRIu64 " traces\n", c.runs,
               c.events, c.traces);
        if (c.problems == 0)
            printf("verify: ok\n");
        else
            printf("verify: FAILED (%u problem%s)\n", c.problems, c.problems == 1 ? "" : "s");
    }
    if (cairn_db_close(db) != CAIRN_OK)
        return CLI_EXIT_PROBLEM;
    return c.problems == 0 ? CLI_EXIT_OK : CLI_EXIT_PROBLEM;
}
