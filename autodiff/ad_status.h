/* ad_status.h - reporting errors off the tape: every library function that is
 * not a tape op returns an int status (AD_OK or a negative AD_ERR_* code from
 * ad_config.h) and writes one readable line into a caller-supplied buffer. */
#ifndef LIBBG_AUTODIFF_AD_STATUS_H
#define LIBBG_AUTODIFF_AD_STATUS_H

#include <stddef.h>

#include "ad_config.h"

/* Format the message into msg (when msg is not NULL and msg_len > 0, always
 * NUL-terminated, truncated if needed) and return `code`. */
int ad_status_fail(char *msg, size_t msg_len, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A short name for a status code ("ok", "shape", "out of memory", ...). */
const char *ad_status_name(int code);

#endif
