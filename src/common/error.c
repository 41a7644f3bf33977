#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

bb_status bb_fail(bb_error *err, bb_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void bb_error_clear(bb_error *err) {
    if (err) {
        err->code = BB_OK;
        err->message[0] = '\0';
    }
}

const char *bb_status_name(bb_status status) {
    switch (status) {
    case BB_OK:
        return "ok";
    case BB_ERR_INVALID_ARGUMENT:
        return "invalid argument";
    case BB_ERR_IO:
        return "I/O error";
    case BB_ERR_FORMAT:
        return "format error";
    case BB_ERR_UNSUPPORTED:
        return "unsupported";
    case BB_ERR_OUT_OF_MEMORY:
        return "out of memory";
    case BB_ERR_NO_SPACE:
        return "no space in KV cache";
    case BB_ERR_TEMPLATE:
        return "template error";
    case BB_ERR_CANCELLED:
        return "cancelled";
    case BB_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown status";
}

void bb_free(void *ptr) {
    free(ptr);
}
