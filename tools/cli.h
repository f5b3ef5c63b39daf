/*
 * cli.h - what the cairn CLI's subcommands share: exit codes, the command
 * table entry, and argument parsing helpers.
 */
#ifndef CAIRN_TOOLS_CLI_H
#define CAIRN_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cairn/cairn.h>

/* Exit codes of every subcommand. */
enum {
    CLI_EXIT_OK = 0,          /* done, nothing wrong */
    CLI_EXIT_PROBLEM = 1,     /* ran, and found a problem (failed verification, engine error) */
    CLI_EXIT_USAGE = 2,       /* bad command line */
    CLI_EXIT_CANNOT_OPEN = 3, /* the database could not be opened */
};

typedef struct cli_command {
    const char *name;
    const char *summary;
    /* argv[0] is the subcommand's name; the options follow. */
    int (*run)(int argc, char **argv);
    void (*usage)(FILE *out);
} cli_command;

/* Subcommands that live in their own files. */
int cmd_demo(int argc, char **argv);
void cmd_demo_usage(FILE *out);

int cmd_verify(int argc, char **argv);
void cmd_verify_usage(FILE *out);
int cmd_stats(int argc, char **argv);
void cmd_stats_usage(FILE *out);
int cmd_runs(int argc, char **argv);
void cmd_runs_usage(FILE *out);
int cmd_dump(int argc, char **argv);
void cmd_dump_usage(FILE *out);
int cmd_recover(int argc, char **argv);
void cmd_recover_usage(FILE *out);
int cmd_checkpoint(int argc, char **argv);
void cmd_checkpoint_usage(FILE *out);

/*
 * Opens the database in `dir` (NULL: in memory), read-only when asked;
 * `durability` CAIRN_DURABILITY_DEFAULT keeps the default.  On failure
 * prints why and returns CLI_EXIT_CANNOT_OPEN.
 */
int cli_open(const char *cmd, const char *dir, bool read_only, cairn_durability durability,
             cairn_db **dbp);

/*
 * For commands that open read-write but must not create a database: prints
 * why and returns CLI_EXIT_CANNOT_OPEN unless DIR already holds one.
 */
int cli_require_db(const char *cmd, const char *dir);

/*
 * Reports engine failure `s` of command `cmd` (with the database's last
 * message) on stderr, closes `db` and returns CLI_EXIT_PROBLEM.
 */
int cli_engine_error(const char *cmd, cairn_db *db, cairn_status s);

/* Adds the sizes and the number of DIR's files whose names end in `suffix`
 * to *bytesp and *filesp (nothing when DIR cannot be read). */
void cli_dir_files(const char *dir, const char *suffix, uint64_t *bytesp, uint64_t *filesp);

/* Writes `s` as a JSON string (quoted and escaped). */
void cli_json_string(FILE *out, const char *s);

/* Writes the bytes of `b` as a JSON string; they must be valid UTF-8. */
void cli_json_slice(FILE *out, cairn_slice b);

/* Whether `b` is valid UTF-8 (and holds no NUL byte). */
bool cli_utf8_valid(cairn_slice b);

/* Writes `b` in base64 (RFC 4648, padded). */
void cli_base64(FILE *out, cairn_slice b);

/*
 * Writes a payload as the JSON members "NAME":...,"NAME_encoding":...:
 * its text when it is valid UTF-8 ("utf8"), else its base64 ("base64").
 */
void cli_json_payload(FILE *out, const char *name, cairn_slice b);

/*
 * Writes a payload for a person: its text when it is valid UTF-8 (control
 * characters escaped as in C), else "base64:" and its base64.
 */
void cli_text_payload(FILE *out, cairn_slice b);

/* Formats a time in microseconds since the epoch as UTC ISO 8601 into
 * `buf` (at least 32 bytes); "-" for 0. */
const char *cli_time(int64_t us, char *buf, size_t cap);

/* The checks `verify` and `demo` run, and what they found. */
typedef struct cli_check {
    FILE *out;          /* where problems are reported */
    bool json;          /* report problems as a JSON array member "problems" */
    uint64_t runs;      /* runs whose event chain and traces were checked */
    uint64_t events;
    uint64_t traces;
    unsigned problems;
} cli_check;

/*
 * Verifies every registered run (or only `only`): its event chain
 * (cairn_event_verify) and trace index (cairn_trace_check); then the run
 * index (cairn_run_check).  Each problem is reported to c->out with its
 * location and counted.  Returns an engine failure, CAIRN_OK otherwise.
 */
cairn_status cli_check_db(cli_check *c, cairn_db *db, const cairn_run_id *only);

/* True for "--help" and "-h". */
bool cli_is_help(const char *arg);

/*
 * Matches the option `name` (such as "--threads") at argv[*ip], in either
 * the form "--threads N" or "--threads=N".  On a match stores the value in
 * `*valuep`, moves *ip to the last argument consumed and returns 1.  Returns
 * 0 when argv[*ip] is another argument, and -1 (after printing a usage
 * error for `cmd`) when the option has no value.
 */
int cli_take_value(int argc, char **argv, int *ip, const char *cmd, const char *name,
                   const char **valuep);

/*
 * Parses `text` as a decimal integer in [min, max] into `*outp`.  On
 * failure prints "cairn CMD: OPT: ..." to stderr and returns false.
 */
bool cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t min,
                   uint64_t max, uint64_t *outp);

/* Prints "cairn CMD: MESSAGE" and a pointer to --help on stderr; returns
 * CLI_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* CAIRN_TOOLS_CLI_H */
