/*
 * cmd_recover.c - `cairn recover DIR [--dry-run]`: runs recovery on a
 * database and prints its report.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

void cmd_recover_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn recover DIR [--dry-run] [--json]\n"
            "\n"
            "Opens the database in DIR read-write, which runs recovery: the newest sound\n"
            "checkpoint is loaded, the WAL after it is replayed, and a torn record at the\n"
            "end of the log (left by a crash) is cut off.  Then prints the report: the\n"
            "checkpoint used, the records replayed, the torn bytes truncated and the time\n"
            "recovery took.\n"
            "\n"
            "options:\n"
            "  --dry-run     open read-only: report what recovery finds, change nothing\n"
            "  --json        print one JSON object instead of text\n"
            "  -h, --help    show this help\n"
            "\n"
            "exit status: 0 done, 1 the engine reported an error, 2 usage error,\n"
            "             3 the database could not be opened (recovery failed)\n");
}

static void recover_print_text(const char *dir, bool dry_run, const cairn_recovery_report *r)
{
    printf("recovery of %s%s\n", dir, dry_run ? " (dry run: nothing changed)" : "");
    if (r->new_database)
        printf("  database           new (the directory held none)\n");
    if (r->checkpoint_path[0] != '\0')
        printf("  checkpoint         %s (version %" PRIu64 ", %" PRIu64 " keys)\n",
               r->checkpoint_path, r->checkpoint_version, r->checkpoint_entries);
    else
        printf("  checkpoint         none\n");
    printf("  damaged skipped    %" PRIu32 "\n", r->checkpoints_skipped);
    printf("  wal segments read  %" PRIu64 "\n", r->segments_read);
    printf("  records replayed   %" PRIu64 "\n", r->records_replayed);
    printf("  opened at version  %" PRIu64 "\n", r->last_version);
    if (r->torn)
        printf("  torn tail          %" PRIu64 " bytes at %s offset %" PRIu64 " (%s)\n",
               r->bytes_truncated, r->torn_path, r->torn_offset,
               r->repaired ? "truncated" : "left in place");
    else
        printf("  torn tail          none\n");
    printf("  bytes truncated    %" PRIu64 "\n", r->repaired ? r->bytes_truncated : 0);
    printf("  took               %" PRIu64 " us\n", r->duration_us);
}

static void recover_print_json(const char *dir, bool dry_run, const cairn_recovery_report *r)
{
    printf("{\"dir\":");
    cli_json_string(stdout, dir);
    printf(",\"dry_run\":%s,\"new_database\":%s,\"checkpoint\":", dry_run ? "true" : "false",
           r->new_database ? "true" : "false");
    cli_json_string(stdout, r->checkpoint_path);
    printf(",\"checkpoint_version\":%" PRIu64 ",\"checkpoint_entries\":%" PRIu64
           ",\"checkpoints_skipped\":%" PRIu32 ",\"segments_read\":%" PRIu64
           ",\"records_replayed\":%" PRIu64 ",\"last_version\":%" PRIu64
           ",\"torn\":%s,\"torn_bytes\":%" PRIu64 ",\"torn_file\":",
           r->checkpoint_version, r->checkpoint_entries, r->checkpoints_skipped,
           r->segments_read, r->records_replayed, r->last_version, r->torn ? "true" : "false",
           r->bytes_truncated);
    cli_json_string(stdout, r->torn_path);
    printf(",\"torn_offset\":%" PRIu64 ",\"bytes_truncated\":%" PRIu64
           ",\"duration_us\":%" PRIu64 "}\n",
           r->torn_offset, r->repaired ? r->bytes_truncated : 0, r->duration_us);
}

int cmd_recover(int argc, char **argv)
{
    const char *dir = NULL;
    bool dry_run = false, json = false;
    cairn_recovery_report rec;
    cairn_db *db = NULL;
    cairn_status s;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            cmd_recover_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--dry-run") == 0)
            dry_run = true;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' || dir != NULL)
            return cli_usage_error("recover", "unexpected argument '%s'", argv[i]);
        else
            dir = argv[i];
    }
    if (dir == NULL)
        return cli_usage_error("recover", "expected a database directory");

    rc = cli_require_db("recover", dir);
    if (rc == CLI_EXIT_OK)
        rc = cli_open("recover", dir, dry_run, CAIRN_DURABILITY_DEFAULT, &db);
    if (rc != CLI_EXIT_OK)
        return rc;
    s = cairn_db_recovery_report(db, &rec);
    if (s != CAIRN_OK)
        return cli_engine_error("recover", db, s);
    if (json)
        recover_print_json(dir, dry_run, &rec);
    else
        recover_print_text(dir, dry_run, &rec);
    return cairn_db_close(db) == CAIRN_OK ? CLI_EXIT_OK : CLI_EXIT_PROBLEM;
}
