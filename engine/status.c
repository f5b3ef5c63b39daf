/* status.c - names and descriptions of status codes; handle error text. */
#include "engine/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cairn/cairn.h"

static const char *const descriptions[CAIRN_STATUS_COUNT] = {
    [CAIRN_OK] = "ok",
    [CAIRN_NOT_FOUND] = "not found",
    [CAIRN_CONFLICT] = "conflict",
    [CAIRN_INVALID_ARGUMENT] = "invalid argument",
    [CAIRN_TOO_LARGE] = "too large",
    [CAIRN_NO_MEMORY] = "out of memory",
    [CAIRN_IO] = "I/O error",
    [CAIRN_CORRUPT] = "corrupt data",
    [CAIRN_LOCKED] = "database locked by another opener",
    [CAIRN_UNSUPPORTED] = "not supported",
    [CAIRN_READ_ONLY] = "read-only",
    [CAIRN_TXN_FINISHED] = "transaction already finished",
    [CAIRN_BUSY] = "busy",
    [CAIRN_DONE] = "no more items",
    [CAIRN_EXISTS] = "already exists",
    [CAIRN_VERSION_MISMATCH] = "version mismatch",
    [CAIRN_INVALID_TRANSITION] = "invalid status transition",
    [CAIRN_LIMIT] = "limit reached",
};

static const char *const names[CAIRN_STATUS_COUNT] = {
    [CAIRN_OK] = "CAIRN_OK",
    [CAIRN_NOT_FOUND] = "CAIRN_NOT_FOUND",
    [CAIRN_CONFLICT] = "CAIRN_CONFLICT",
    [CAIRN_INVALID_ARGUMENT] = "CAIRN_INVALID_ARGUMENT",
    [CAIRN_TOO_LARGE] = "CAIRN_TOO_LARGE",
    [CAIRN_NO_MEMORY] = "CAIRN_NO_MEMORY",
    [CAIRN_IO] = "CAIRN_IO",
    [CAIRN_CORRUPT] = "CAIRN_CORRUPT",
    [CAIRN_LOCKED] = "CAIRN_LOCKED",
    [CAIRN_UNSUPPORTED] = "CAIRN_UNSUPPORTED",
    [CAIRN_READ_ONLY] = "CAIRN_READ_ONLY",
    [CAIRN_TXN_FINISHED] = "CAIRN_TXN_FINISHED",
    [CAIRN_BUSY] = "CAIRN_BUSY",
    [CAIRN_DONE] = "CAIRN_DONE",
    [CAIRN_EXISTS] = "CAIRN_EXISTS",
    [CAIRN_VERSION_MISMATCH] = "CAIRN_VERSION_MISMATCH",
    [CAIRN_INVALID_TRANSITION] = "CAIRN_INVALID_TRANSITION",
    [CAIRN_LIMIT] = "CAIRN_LIMIT",
};

const char *cairn_strerror(cairn_status status)
{
    if ((unsigned)status >= CAIRN_STATUS_COUNT)
        return "unknown status";
    return descriptions[status];
}

const char *cairn_status_name(cairn_status status)
{
    if ((unsigned)status >= CAIRN_STATUS_COUNT)
        return "CAIRN_UNKNOWN";
    return names[status];
}

const char *cairn_version(void)
{
    return "0.1.0";
}

cairn_status err_fmt(char *buf, size_t cap, cairn_status status, const char *fmt, ...)
{
    if (buf && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, cap, fmt, ap);
        va_end(ap);
    }
    return status;
}
