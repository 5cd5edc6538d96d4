/* ad_status.c - off-tape error messages. */
#include "ad_status.h"

#include <stdarg.h>
#include <stdio.h>

int ad_status_fail(char *msg, size_t msg_len, int code, const char *fmt, ...)
{
    if (msg && msg_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msg_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *ad_status_name(int code)
{
    switch (code) {
    case AD_OK: return "ok";
    case AD_ERR_SHAPE: return "shape";
    case AD_ERR_NOMEM: return "out of memory";
    case AD_ERR_ARG: return "bad argument";
    case AD_ERR_IO: return "input/output";
    case AD_ERR_FORMAT: return "bad format";
    case AD_ERR_NUMERIC: return "non-finite number";
    case AD_ERR_STATE: return "tape holds an error";
    default: return "unknown error";
    }
}
