/*
 * cmd_stats.c - `cairn stats DIR`: engine counters, what each primitive
 * holds, runs per status, file sizes and the last recovery report.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define STATS_PAGE 1000u

typedef struct stats_counts {
    uint64_t runs;
    uint64_t by_status[CAIRN_RUN_STATUS_COUNT + 1];
    uint64_t events;
    uint64_t traces;
    uint64_t kv_keys;
    uint64_t cells;
    uint64_t wal_bytes, wal_files;
    uint64_t ckpt_bytes, ckpt_files;
} stats_counts;

void cmd_stats_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn stats DIR [--json]\n"
            "\n"
            "Opens the database in DIR read-only and prints the engine's counters, the\n"
            "number of runs per status, events, traces, KV keys and state cells, the sizes\n"
            "of the WAL and checkpoint files, and the report of the recovery this open ran.\n"
            "\n"
            "options:\n"
            "  --json        print one JSON object instead of text\n"
            "  -h, --help    show this help\n"
            "\n"
            "exit status: 0 done, 1 the engine reported an error, 2 usage error,\n"
            "             3 the database could not be opened\n");
}

static cairn_status stats_run(cairn_db *db, const cairn_run_view *run, stats_counts *c)
{
    cairn_kv_list keys = {0};
    cairn_cell_list cells = {0};
    cairn_trace_report traces;
    uint64_t len = 0;
    cairn_status s;

    c->runs++;
    if (run->status >= 1 && run->status <= CAIRN_RUN_STATUS_COUNT)
        c->by_status[run->status]++;
    s = cairn_event_len(db, &run->id, &len);
    if (s != CAIRN_OK)
        return s;
    c->events += len;
    s = cairn_trace_check(db, &run->id, &traces);
    if (s != CAIRN_OK)
        return s;
    c->traces += traces.traces;
    do {
        cairn_slice after = keys.cursor;
        cairn_kv_list page = {0};

        s = cairn_kv_list_keys(db, &run->id, cairn_slice_of(NULL, 0), after, STATS_PAGE, &page);
        cairn_kv_list_free(&keys);
        keys = page;
        if (s != CAIRN_OK)
            break;
        c->kv_keys += keys.n;
    } while (keys.more);
    cairn_kv_list_free(&keys);
    if (s != CAIRN_OK)
        return s;
    do {
        cairn_slice after = cells.cursor;
        cairn_cell_list page = {0};

        s = cairn_cell_list_names(db, &run->id, cairn_slice_of(NULL, 0), after, STATS_PAGE,
                                  &page);
        cairn_cell_list_free(&cells);
        cells = page;
        if (s != CAIRN_OK)
            break;
        c->cells += cells.n;
    } while (cells.more);
    cairn_cell_list_free(&cells);
    return s;
}

static cairn_status stats_count(cairn_db *db, stats_counts *c)
{
    cairn_run_list list = {0};
    cairn_run_cursor after = {0};
    cairn_status s;

    for (;;) {
        s = cairn_run_list_all(db, after.set ? &after : NULL, STATS_PAGE, &list);
        for (size_t i = 0; s == CAIRN_OK && i < list.n; i++)
            s = stats_run(db, &list.items[i], c);
        after = list.next;
        if (s != CAIRN_OK || !list.more)
            break;
        cairn_run_list_free(&list);
    }
    cairn_run_list_free(&list);
    return s;
}

static void stats_print_text(const cairn_stats *st, const stats_counts *c,
                             const cairn_recovery_report *r)
{
    printf("cairn %s\n\n", cairn_version());
    printf("runs:                %" PRIu64 "\n", c->runs);
    for (int i = 1; i <= CAIRN_RUN_STATUS_COUNT; i++)
        printf("  %-18s %" PRIu64 "\n", cairn_run_status_name((cairn_run_status)i),
               c->by_status[i]);
    printf("events:              %" PRIu64 "\n", c->events);
    printf("traces:              %" PRIu64 "\n", c->traces);
    printf("kv keys:             %" PRIu64 "\n", c->kv_keys);
    printf("state cells:         %" PRIu64 "\n", c->cells);
    printf("\nengine\n");
    printf("  visible version    %" PRIu64 "\n", st->visible_version);
    printf("  keys               %" PRIu64 "\n", st->keys);
    printf("  versions           %" PRIu64 "\n", st->versions);
    printf("  checkpoint version %" PRIu64 "\n", st->checkpoint_version);
    printf("\nfiles\n");
    printf("  wal                %" PRIu64 " bytes in %" PRIu64 " segments\n", c->wal_bytes,
           c->wal_files);
    printf("  checkpoints        %" PRIu64 " bytes in %" PRIu64 " files\n", c->ckpt_bytes,
           c->ckpt_files);
    printf("\nrecovery\n");
    printf("  checkpoint         %s (version %" PRIu64 ", %" PRIu64 " keys, %" PRIu32
           " skipped as damaged)\n",
           r->checkpoint_path[0] != '\0' ? r->checkpoint_path : "none", r->checkpoint_version,
           r->checkpoint_entries, r->checkpoints_skipped);
    printf("  wal                %" PRIu64 " segments read, %" PRIu64 " records replayed\n",
           r->segments_read, r->records_replayed);
    printf("  opened at version  %" PRIu64 "\n", r->last_version);
    if (r->torn)
        printf("  torn tail          %" PRIu64 " bytes at %s offset %" PRIu64 "%s\n",
               r->bytes_truncated, r->torn_path, r->torn_offset,
               r->repaired ? "" : " (left in place)");
    else
        printf("  torn tail          none\n");
    printf("  took               %" PRIu64 " us\n", r->duration_us);
}

static void stats_print_json(const cairn_stats *st, const stats_counts *c,
                             const cairn_recovery_report *r)
{
    printf("{\"version\":");
    cli_json_string(stdout, cairn_version());
    printf(",\"runs\":%" PRIu64 ",\"runs_by_status\":{", c->runs);
    for (int i = 1; i <= CAIRN_RUN_STATUS_COUNT; i++)
        printf("%s\"%s\":%" PRIu64, i > 1 ? "," : "",
               cairn_run_status_name((cairn_run_status)i), c->by_status[i]);
    printf("},\"events\":%" PRIu64 ",\"traces\":%" PRIu64 ",\"kv_keys\":%" PRIu64
           ",\"cells\":%" PRIu64,
           c->events, c->traces, c->kv_keys, c->cells);
    printf(",\"engine\":{\"visible_version\":%" PRIu64 ",\"keys\":%" PRIu64
           ",\"versions\":%" PRIu64 ",\"checkpoint_version\":%" PRIu64 "}",
           st->visible_version, st->keys, st->versions, st->checkpoint_version);
    printf(",\"files\":{\"wal_bytes\":%" PRIu64 ",\"wal_segments\":%" PRIu64
           ",\"checkpoint_bytes\":%" PRIu64 ",\"checkpoints\":%" PRIu64 "}",
           c->wal_bytes, c->wal_files, c->ckpt_bytes, c->ckpt_files);
    printf(",\"recovery\":{\"checkpoint\":");
    cli_json_string(stdout, r->checkpoint_path);
    printf(",\"checkpoint_version\":%" PRIu64 ",\"checkpoints_skipped\":%" PRIu32
           ",\"segments_read\":%" PRIu64 ",\"records_replayed\":%" PRIu64
           ",\"last_version\":%" PRIu64 ",\"torn\":%s,\"bytes_truncated\":%" PRIu64
           ",\"torn_file\":",
           r->checkpoint_version, r->checkpoints_skipped, r->segments_read,
           r->records_replayed, r->last_version, r->torn ? "true" : "false",
           r->bytes_truncated);
    cli_json_string(stdout, r->torn_path);
    printf(",\"torn_offset\":%" PRIu64 ",\"duration_us\":%" PRIu64 "}}\n", r->torn_offset,
           r->duration_us);
}

int cmd_stats(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    stats_counts counts = {0};
    cairn_stats st;
    cairn_recovery_report rec;
    cairn_db *db = NULL;
    char wal_dir[4096];
    cairn_status s;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            cmd_stats_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' || dir != NULL)
            return cli_usage_error("stats", "unexpected argument '%s'", argv[i]);
        else
            dir = argv[i];
    }
    if (dir == NULL)
        return cli_usage_error("stats", "expected a database directory");

    rc = cli_open("stats", dir, true, CAIRN_DURABILITY_DEFAULT, &db);
    if (rc != CLI_EXIT_OK)
        return rc;
    s = cairn_db_stats(db, &st);
    if (s == CAIRN_OK)
        s = cairn_db_recovery_report(db, &rec);
    if (s == CAIRN_OK)
        s = stats_count(db, &counts);
    if (s != CAIRN_OK) {
        char errbuf[512] = "";

        cairn_db_errmsg(db, errbuf, sizeof errbuf);
        fprintf(stderr, "cairn stats: %s%s%s\n", cairn_strerror(s),
                errbuf[0] != '\0' ? ": " : "", errbuf);
        cairn_db_close(db);
        return CLI_EXIT_PROBLEM;
    }
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", dir);
    cli_dir_files(wal_dir, ".wal", &counts.wal_bytes, &counts.wal_files);
    cli_dir_files(dir, ".ckpt", &counts.ckpt_bytes, &counts.ckpt_files);
    if (json)
        stats_print_json(&st, &counts, &rec);
    else
        stats_print_text(&st, &counts, &rec);
    return cairn_db_close(db) == CAIRN_OK ? CLI_EXIT_OK : CLI_EXIT_PROBLEM;
}
