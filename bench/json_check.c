/*
 * json_check.c - reads back a --json file and checks its shape, so the
 * smoke test needs nothing but cairn-bench itself.
 *
 * A small recursive-descent parser over the whole JSON grammar (RFC 8259):
 * any syntax error fails.  On top of that the top level must be a non-empty
 * array of objects, each holding every field --json writes, with the right
 * type, a known engine and durability, and non-negative numbers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

typedef struct parser {
    const char *start, *p, *end;
    char *err;
    size_t errlen;
    int depth;
} parser;

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

/* What a record field must look like. */
static const struct {
    const char *name;
    enum jtype type;
} fields[] = {
    {"workload", J_STR}, {"engine", J_STR},       {"durability", J_STR}, {"threads", J_NUM},
    {"ops", J_NUM},      {"seconds", J_NUM},      {"ops_per_sec", J_NUM}, {"p50_us", J_NUM},
    {"p99_us", J_NUM},   {"p999_us", J_NUM},      {"rss_bytes", J_NUM},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static bool fail(parser *ps, const char *what)
{
    if (ps->err[0] == '\0')
        snprintf(ps->err, ps->errlen, "%s at byte %ld", what, (long)(ps->p - ps->start));
    return false;
}

static void ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Parses a string; copies up to cap-1 bytes of it (escapes kept raw) to out. */
static bool string(parser *ps, char *out, size_t cap)
{
    size_t o = 0;
    if (ps->p >= ps->end || *ps->p != '"')
        return fail(ps, "expected a string");
    ps->p++;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20)
            return fail(ps, "control character in a string");
        if (c == '\\') {
            ps->p++;
            if (ps->p >= ps->end)
                break;
            char e = *ps->p;
            if (e == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (ps->p + i >= ps->end || !isxdigit((unsigned char)ps->p[i]))
                        return fail(ps, "bad \\u escape");
                ps->p += 4;
            } else if (!strchr("\"\\/bfnrt", e)) {
                return fail(ps, "bad escape");
            }
        }
        if (out && o + 1 < cap)
            out[o++] = (char)c;
        ps->p++;
    }
    if (ps->p >= ps->end)
        return fail(ps, "unterminated string");
    ps->p++;
    if (out)
        out[o] = '\0';
    return true;
}

static bool number(parser *ps, double *vp)
{
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end || !isdigit((unsigned char)*ps->p))
        return fail(ps, "bad number");
    if (*ps->p == '0')
        ps->p++;
    else
        while (ps->p < ps->end && isdigit((unsigned char)*ps->p))
            ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || !isdigit((unsigned char)*ps->p))
            return fail(ps, "bad fraction");
        while (ps->p < ps->end && isdigit((unsigned char)*ps->p))
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || !isdigit((unsigned char)*ps->p))
            return fail(ps, "bad exponent");
        while (ps->p < ps->end && isdigit((unsigned char)*ps->p))
            ps->p++;
    }
    char buf[64];
    size_t n = (size_t)(ps->p - s);
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (vp)
        *vp = strtod(buf, NULL);
    return true;
}

static bool literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "unexpected character");
    ps->p += n;
    return true;
}

/* One record's view while parsing it. */
typedef struct record {
    bool seen[NFIELDS];
    char str[NFIELDS][32];
    double num[NFIELDS];
} record;

static bool value(parser *ps, enum jtype *typep, record *rec, size_t field);

static bool array(parser *ps, long *countp, bool top)
{
    ps->p++; /* [ */
    ws(ps);
    long count = 0;
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        *countp = 0;
        return true;
    }
    for (;;) {
        enum jtype t;
        record rec;
        memset(&rec, 0, sizeof rec);
        ws(ps);
        const char *start = ps->p;
        if (!value(ps, &t, top ? &rec : NULL, NFIELDS))
            return false;
        if (top) {
            if (t != J_OBJ) {
                ps->p = start;
                return fail(ps, "array element is not an object");
            }
            for (size_t i = 0; i < NFIELDS; i++) {
                if (!rec.seen[i]) {
                    snprintf(ps->err, ps->errlen, "record %ld has no valid \"%s\"", count,
                             fields[i].name);
                    return false;
                }
                if (fields[i].type == J_NUM && rec.num[i] < 0) {
                    snprintf(ps->err, ps->errlen, "record %ld: \"%s\" is negative", count,
                             fields[i].name);
                    return false;
                }
            }
            const char *eng = rec.str[1], *dur = rec.str[2];
            if (strcmp(eng, "cairn") && strcmp(eng, "rocksdb") && strcmp(eng, "sqlite") &&
                strcmp(eng, "lmdb") && strcmp(eng, "fdatasync")) {
                snprintf(ps->err, ps->errlen, "record %ld: unknown engine \"%s\"", count, eng);
                return false;
            }
            if (strcmp(dur, "none") && strcmp(dur, "async") && strcmp(dur, "sync")) {
                snprintf(ps->err, ps->errlen, "record %ld: unknown durability \"%s\"", count,
                         dur);
                return false;
            }
            if (rec.num[3] < 1) {
                snprintf(ps->err, ps->errlen, "record %ld: threads < 1", count);
                return false;
            }
        }
        count++;
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            break;
        }
        return fail(ps, "expected , or ] in an array");
    }
    *countp = count;
    return true;
}

static bool object(parser *ps, record *rec)
{
    ps->p++; /* { */
    ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return true;
    }
    for (;;) {
        char key[64];
        ws(ps);
        if (!string(ps, key, sizeof key))
            return false;
        ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            return fail(ps, "expected :");
        ps->p++;
        ws(ps);
        size_t field = NFIELDS;
        if (rec)
            for (size_t i = 0; i < NFIELDS; i++)
                if (strcmp(key, fields[i].name) == 0)
                    field = i;
        enum jtype t;
        if (!value(ps, &t, field < NFIELDS ? rec : NULL, field))
            return false;
        if (rec && field < NFIELDS)
            rec->seen[field] = t == fields[field].type;
        ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return true;
        }
        return fail(ps, "expected , or } in an object");
    }
}

/* Parses any value.  When rec is set and field < NFIELDS, the value is a
 * field of a record and its content is kept there; when rec is set and
 * field == NFIELDS, the value is a record itself. */
static bool value(parser *ps, enum jtype *typep, record *rec, size_t field)
{
    ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of input");
    if (++ps->depth > 64)
        return fail(ps, "nested too deeply");
    bool ok;
    long dummy;
    switch (*ps->p) {
    case '{':
        *typep = J_OBJ;
        ok = object(ps, rec && field == NFIELDS ? rec : NULL);
        break;
    case '[':
        *typep = J_ARR;
        ok = array(ps, &dummy, false);
        break;
    case '"':
        *typep = J_STR;
        ok = string(ps, rec && field < NFIELDS ? rec->str[field] : NULL, 32);
        break;
    case 't':
        *typep = J_BOOL;
        ok = literal(ps, "true");
        break;
    case 'f':
        *typep = J_BOOL;
        ok = literal(ps, "false");
        break;
    case 'n':
        *typep = J_NULL;
        ok = literal(ps, "null");
        break;
    default:
        *typep = J_NUM;
        ok = number(ps, rec && field < NFIELDS ? &rec->num[field] : NULL);
        break;
    }
    ps->depth--;
    return ok;
}

long bench_check_json(const char *path, char *err, size_t errlen)
{
    err[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap)
            break;
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    parser ps = {buf, buf, buf + len, err, errlen, 0};
    long count = -1;
    ws(&ps);
    if (ps.p >= ps.end || *ps.p != '[') {
        fail(&ps, "the top level is not an array");
    } else if (array(&ps, &count, true)) {
        ws(&ps);
        if (ps.p != ps.end) {
            fail(&ps, "trailing data after the array");
            count = -1;
        } else if (count == 0) {
            snprintf(err, errlen, "the array is empty: nothing was measured");
            count = -1;
        }
    } else {
        count = -1;
    }
    free(buf);
    return count;
}
