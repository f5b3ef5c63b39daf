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
#include <time.h>

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

void cli_json_slice(FILE *out, cairn_slice b)
{
    const unsigned char *p = b.data;

    fputc('"', out);
    for (size_t i = 0; i < b.len; i++) {
        unsigned char c = p[i];

        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

bool cli_utf8_valid(cairn_slice b)
{
    const unsigned char *p = b.data;
    size_t i = 0;

    while (i < b.len) {
        unsigned char c = p[i];
        size_t n;
        uint32_t cp;

        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (b.len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3fu);
        }
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

void cli_base64(FILE *out, cairn_slice b)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = b.data;
    size_t i = 0;

    for (; i + 3 <= b.len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        fputc(alphabet[v >> 18], out);
        fputc(alphabet[(v >> 12) & 63], out);
        fputc(alphabet[(v >> 6) & 63], out);
        fputc(alphabet[v & 63], out);
    }
    if (b.len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;

        fprintf(out, "%c%c==", alphabet[v >> 18], alphabet[(v >> 12) & 63]);
    } else if (b.len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;

        fprintf(out, "%c%c%c=", alphabet[v >> 18], alphabet[(v >> 12) & 63],
                alphabet[(v >> 6) & 63]);
    }
}

void cli_json_payload(FILE *out, const char *name, cairn_slice b)
{
    bool text = cli_utf8_valid(b);

    fprintf(out, "\"%s\":", name);
    if (text) {
        cli_json_slice(out, b);
    } else {
        fputc('"', out);
        cli_base64(out, b);
        fputc('"', out);
    }
    fprintf(out, ",\"%s_encoding\":\"%s\"", name, text ? "utf8" : "base64");
}

void cli_text_payload(FILE *out, cairn_slice b)
{
    const unsigned char *p = b.data;

    if (!cli_utf8_valid(b)) {
        fputs("base64:", out);
        cli_base64(out, b);
        return;
    }
    for (size_t i = 0; i < b.len; i++) {
        unsigned char c = p[i];

        if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\\')
            fputs("\\\\", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

const char *cli_time(int64_t us, char *buf, size_t cap)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;

    if (us == 0 || gmtime_r(&secs, &tm) == NULL) {
        snprintf(buf, cap, "-");
        return buf;
    }
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(us % 1000000));
    return buf;
}
