/*
 * cmd_checkpoint.c - `cairn checkpoint DIR`: writes a checkpoint now, which
 * also removes the WAL segments it makes unnecessary.
 */
#include <inttypes.h>
#include <string.h>

#include "cli.h"

void cmd_checkpoint_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn checkpoint DIR [--json]\n"
            "\n"
            "Opens the database in DIR read-write and writes a checkpoint now: every live\n"
            "key at the current snapshot.  WAL segments and checkpoints no longer needed\n"
            "are then removed (the previous checkpoint and the WAL after it are kept).\n"
            "Prints the checkpoint's version and the WAL size before and after.\n"
            "\n"
            "options:\n"
            "  --json        print one JSON object instead of text\n"
            "  -h, --help    show this help\n"
            "\n"
            "exit status: 0 done, 1 the checkpoint failed, 2 usage error,\n"
            "             3 the database could not be opened\n");
}

int cmd_checkpoint(int argc, char **argv)
{
    const char *dir = NULL;
    bool json = false;
    cairn_stats before, after;
    uint64_t wal_before = 0, segs_before = 0, wal_after = 0, segs_after = 0;
    char wal_dir[4096];
    cairn_db *db = NULL;
    cairn_status s;
    int rc;

    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            cmd_checkpoint_usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' || dir != NULL)
            return cli_usage_error("checkpoint", "unexpected argument '%s'", argv[i]);
        else
            dir = argv[i];
    }
    if (dir == NULL)
        return cli_usage_error("checkpoint", "expected a database directory");

    rc = cli_require_db("checkpoint", dir);
    if (rc == CLI_EXIT_OK)
        rc = cli_open("checkpoint", dir, false, CAIRN_DURABILITY_DEFAULT, &db);
    if (rc != CLI_EXIT_OK)
        return rc;
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", dir);
    s = cairn_db_stats(db, &before);
    cli_dir_files(wal_dir, ".wal", &wal_before, &segs_before);
    if (s == CAIRN_OK)
        s = cairn_db_checkpoint(db);
    if (s == CAIRN_OK)
        s = cairn_db_stats(db, &after);
    if (s != CAIRN_OK)
        return cli_engine_error("checkpoint", db, s);
    cli_dir_files(wal_dir, ".wal", &wal_after, &segs_after);
    if (json) {
        printf("{\"dir\":");
        cli_json_string(stdout, dir);
        printf(",\"checkpoint_version\":%" PRIu64 ",\"previous_checkpoint_version\":%" PRIu64
               ",\"wal_bytes_before\":%" PRIu64 ",\"wal_bytes_after\":%" PRIu64
               ",\"wal_segments_before\":%" PRIu64 ",\"wal_segments_after\":%" PRIu64
               ",\"wal_file_bytes_before\":%" PRIu64 ",\"wal_file_bytes_after\":%" PRIu64 "}\n",
               after.checkpoint_version, before.checkpoint_version, before.wal_bytes,
               after.wal_bytes, segs_before, segs_after, wal_before, wal_after);
    } else {
        printf("checkpoint of %s\n", dir);
        printf("  checkpoint version %" PRIu64 " (previous %" PRIu64 ")\n",
               after.checkpoint_version, before.checkpoint_version);
        printf("  wal before         %" PRIu64 " bytes (%" PRIu64 " segment files, %" PRIu64
               " bytes on disk)\n",
               before.wal_bytes, segs_before, wal_before);
        printf("  wal after          %" PRIu64 " bytes (%" PRIu64 " segment files, %" PRIu64
               " bytes on disk)\n",
               after.wal_bytes, segs_after, wal_after);
    }
    return cairn_db_close(db) == CAIRN_OK ? CLI_EXIT_OK : CLI_EXIT_PROBLEM;
}
