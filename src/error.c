#include "ballast/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_v(bal_error *err, int code, const char *path, size_t line,
                 size_t column, const char *fmt, va_list ap)
    BAL_PRINTF(6, 0);

static int set_v(bal_error *err, int code, const char *path, size_t line,
                 size_t column, const char *fmt, va_list ap)
{
    if (!err)
        return code;
    err->code = code;
    err->path[0] = '\0';
    if (path)
        snprintf(err->path, sizeof(err->path), "%s", path);
    err->line = line;
    err->column = column;
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    return code;
}

int bal_error_set(bal_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = set_v(err, code, NULL, 0, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int bal_error_set_at(bal_error *err, int code, const char *path, size_t line,
                     size_t column, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = set_v(err, code, path, line, column, fmt, ap);
    va_end(ap);
    return rc;
}

const char *bal_error_format(const bal_error *err, char *buf, size_t len)
{
    if (!err->path[0])
        snprintf(buf, len, "%s", err->msg);
    else if (err->line && err->column)
        snprintf(buf, len, "%s:%zu:%zu: %s", err->path, err->line,
                 err->column, err->msg);
    else if (err->line)
        snprintf(buf, len, "%s:%zu: %s", err->path, err->line, err->msg);
    else
        snprintf(buf, len, "%s: %s", err->path, err->msg);
    return buf;
}

void bal__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "ballast: BUG: %s:%d: assertion '%s' failed\n", file,
            line, expr);
    abort();
}
