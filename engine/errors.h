/* errors.h - helpers for filling a handle's error message. */
#ifndef CAIRN_ENGINE_ERRORS_H
#define CAIRN_ENGINE_ERRORS_H

#include <stddef.h>

#include "cairn/status.h"

/* Size of every handle's error message buffer. */
#define ERRMSG_CAP 256

/* Formats a message into buf (cap bytes, always NUL-terminated when cap > 0)
 * and returns `status`, so a failing path reads
 * `return err_fmt(t->errmsg, sizeof t->errmsg, CAIRN_TOO_LARGE, "...", ...);` */
cairn_status err_fmt(char *buf, size_t cap, cairn_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
