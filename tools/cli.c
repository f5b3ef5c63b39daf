/*
 * cli.c - argument parsing, error reporting and file helpers shared by the
 * cairn CLI's subcommands.
 */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

int cli_engine_error(const char *cmd, cairn_db *db, cairn_status s)
{
    char errbuf[512] = "";

    cairn_db_errmsg(db, errbuf, sizeof errbuf);
    fprintf(stderr, "cairn %s: %s%s%s\n", cmd, cairn_strerror(s), errbuf[0] != '\0' ? ": " : "",
            errbuf);
    cairn_db_close(db);
    return CLI_EXIT_PROBLEM;
}

void cli_dir_files(const char *dir, const char *suffix, uint64_t *bytesp, uint64_t *filesp)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t slen = strlen(suffix);

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[4096];
        struct stat st;

        if (len < slen || strcmp(e->d_name + len - slen, suffix) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0) {
            *bytesp += (uint64_t)st.st_size;
            *filesp += 1;
        }
    }
    closedir(d);
}

int cli_require_db(const char *cmd, const char *dir)
{
    char path[4096];
    struct stat st;

    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "cairn %s: cannot open %s: no such directory\n", cmd, dir);
        return CLI_EXIT_CANNOT_OPEN;
    }
    snprintf(path, sizeof path, "%s/CAIRN", dir);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "cairn %s: cannot open %s: it holds no cairn database\n", cmd, dir);
        return CLI_EXIT_CANNOT_OPEN;
    }
    return CLI_EXIT_OK;
}
