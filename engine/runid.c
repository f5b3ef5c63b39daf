/* runid.c - run id text form (canonical 8-4-4-4-12 hex). */
#include <string.h>

#include "cairn/types.h"

static const char hexdigits[] = "0123456789abcdef";

cairn_status cairn_run_id_format(const cairn_run_id *id, char *out)
{
    if (id == NULL || out == NULL)
        return CAIRN_INVALID_ARGUMENT;
    char *p = out;
    for (int i = 0; i < CAIRN_RUN_ID_SIZE; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hexdigits[id->bytes[i] >> 4];
        *p++ = hexdigits[id->bytes[i] & 15];
    }
    *p = '\0';
    return CAIRN_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

cairn_status cairn_run_id_parse(const char *text, size_t len, cairn_run_id *idp)
{
    if (text == NULL || idp == NULL || len != CAIRN_RUN_ID_TEXT_LEN)
        return CAIRN_INVALID_ARGUMENT;
    cairn_run_id id;
    size_t pos = 0;
    for (int i = 0; i < CAIRN_RUN_ID_SIZE; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            if (text[pos] != '-')
                return CAIRN_INVALID_ARGUMENT;
            pos++;
        }
        int hi = hexval(text[pos]), lo = hexval(text[pos + 1]);
        if (hi < 0 || lo < 0)
            return CAIRN_INVALID_ARGUMENT;
        id.bytes[i] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    *idp = id;
    return CAIRN_OK;
}
