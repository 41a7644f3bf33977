/* Error reporting shared by every module: set a status and a formatted message in the
 * caller's bb_error (which may be NULL), and return the status so callers can write
 * `return bb_fail(err, BB_ERR_FORMAT, "...")`. */
#ifndef BB_COMMON_ERROR_H
#define BB_COMMON_ERROR_H

#include "beanbag.h"

bb_status bb_fail(bb_error *err, bb_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void bb_error_clear(bb_error *err);

#endif
