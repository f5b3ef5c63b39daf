/*
 * cairn.c - the cairn command-line tool: finds the subcommand and runs it.
 *
 *   cairn <command> [options]
 *
 * Each subcommand parses its own options, answers --help, and returns one
 * of the CLI_EXIT_* codes in cli.h.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_help(int argc, char **argv);
static void cmd_help_usage(FILE *out);
static int cmd_version(int argc, char **argv);
static void cmd_version_usage(FILE *out);

static const cli_command commands[] = {
    {"checkpoint", "write a checkpoint now and drop the WAL it makes unnecessary",
     cmd_checkpoint, cmd_checkpoint_usage},
    {"demo", "simulate an agent runtime on a database (or in memory) and verify it", cmd_demo,
     cmd_demo_usage},
    {"dump", "print what one run holds: KV pairs, events, cells, traces", cmd_dump,
     cmd_dump_usage},
    {"help", "show this help, or a command's help", cmd_help, cmd_help_usage},
    {"recover", "run recovery on a database and print its report", cmd_recover,
     cmd_recover_usage},
    {"runs", "list a database's runs, by status and/or tag", cmd_runs, cmd_runs_usage},
    {"stats", "print a database's counters, contents and last recovery", cmd_stats,
     cmd_stats_usage},
    {"verify", "check every event chain, the trace indexes and the run index", cmd_verify,
     cmd_verify_usage},
    {"version", "print the library version", cmd_version, cmd_version_usage},
};

#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cairn <command> [options]\n"
            "\n"
            "cairn is an embedded transactional storage engine for AI-agent runtimes.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "\n"
            "Run 'cairn <command> --help' for a command's options.\n"
            "\n"
            "exit status: 0 done, 1 a problem was found, 2 usage error,\n"
            "             3 the database could not be opened\n");
}

static void cmd_help_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn help [command]\n"
            "\n"
            "Shows the list of commands, or the options of one command.\n");
}

static int cmd_help(int argc, char **argv)
{
    const cli_command *cmd;

    if (argc > 1 && cli_is_help(argv[1])) {
        cmd_help_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 2)
        return cli_usage_error("help", "expected at most one command name");
    if (argc == 1) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    cmd = find_command(argv[1]);
    if (cmd == NULL)
        return cli_usage_error("help", "unknown command '%s'", argv[1]);
    cmd->usage(stdout);
    return CLI_EXIT_OK;
}

static void cmd_version_usage(FILE *out)
{
    fprintf(out,
            "usage: cairn version\n"
            "\n"
            "Prints the version of the cairn library this tool is built with.\n");
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        cmd_version_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("cairn %s\n", cairn_version());
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    const cli_command *cmd;

    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);

    cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "cairn: unknown command '%s'\nRun 'cairn --help' for the list.\n",
                argv[1]);
        return CLI_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
