/*
 * cli.c - argument parsing helpers shared by the cairn CLI's subcommands.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int cli_take_value(int argc, char **argv, int *ip, const char *cmd, const char *name,
                   const char **valuep)
{
    const char *arg = argv[*ip];
    size_t name_len = strlen(name);

    if (strncmp(arg, name, name_len) != 0)
        return 0;
    if (arg[name_len] == '=') {
        *valuep = arg + name_len + 1;
        return 1;
    }
    if (arg[name_len] != '\0')
        return 0;
    if (*ip + 1 >= argc) {
        cli_usage_error(cmd, "%s needs a value", name);
        return -1;
    }
    *ip += 1;
    *valuep = argv[*ip];
    return 1;
}

bool cli_parse_u64(const char *cmd, const char *opt, const char *text, uint64_t min,
                   uint64_t max, uint64_t *outp)
{
    char *end = NULL;
    unsigned long long v;

    /* strtoull would accept leading blanks and a sign (even '-'); refuse them. */
    if (!isdigit((unsigned char)text[0])) {
        cli_usage_error(cmd, "%s: '%s' is not a number", opt, text);
        return false;
    }
    errno = 0;
    v = strtoull(text, &end, 10);
    if (*end != '\0') {
        cli_usage_error(cmd, "%s: '%s' is not a number", opt, text);
        return false;
    }
    if (errno == ERANGE || v < min || v > max) {
        cli_usage_error(cmd, "%s: %s is out of range (%" PRIu64 "..%" PRIu64 ")", opt, text,
                        min, max);
        return false;
    }
    *outp = (uint64_t)v;
    return true;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "cairn %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'cairn %s --help' for usage.\n", cmd);
    return CLI_EXIT_USAGE;
}
